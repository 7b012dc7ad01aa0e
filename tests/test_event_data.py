# SPDX-License-Identifier: LGPL-2.1-or-later
"""An event record's 80 data bytes, decoded by the layout its UUID names.

The emulator builds the records from the same declarations (types/generic.py,
types/features.py); the byte positions are checked independently in
tests/test_layouts.py and by the struct-based readers of test_emulator_dcd_mhd.
"""

from cxlmi_bindings import Context, types
from cli_helpers import clean_cli  # noqa: F401  (a fixture)


def test_an_injected_poison_is_a_general_media_record_with_its_dpa():
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        ep.memdev_inject_poison(inject_poison_phy_addr=0x12340)
        (record,) = ep.get_event_records(event_log=0).records
    data = types.event_data(record).to_dict(decoded=True)
    assert data["phys_addr_decoded"]["dpa"] == 0x12340 and data["phys_addr_decoded"]["volatile"]
    assert data["descriptor_decoded"] == ["uncorrectable"]
    assert data["transaction_type_decoded"] == "host-inject-poison"


def test_an_offered_extent_is_a_dynamic_capacity_record():
    with Context() as ctx:
        ep = ctx.open("emu:dcd")
        region0 = 2 << 30          # emu:dcd's region 0 follows its 2 GiB of static capacity
        ep.fmapi_initiate_dc_add(host_id=0, selection_policy=2, region_num=0, length=0,
                                 tag=b"", extents=[{"start_dpa": region0,
                                                    "len": 4 << 20}])
        (record,) = ep.get_event_records(event_log=4).records
    data = types.event_data(record).to_dict(decoded=True)
    assert data["event_type_decoded"] == "add-capacity" and data["flags_decoded"] == []
    assert data["extent"]["start_dpa"] == region0 and data["extent"]["len"] == 4 << 20
    assert data["validity_flags_decoded"] == ["host-id"] and data["host_id"] == 0


def test_a_record_of_a_kind_without_a_layout_has_no_decoded_data():
    record = types.get("event_record")()
    record.uuid = bytes(range(16))
    assert types.event_data(record) is None


def test_the_json_of_event_records_carries_the_decoded_data(clean_cli):
    import json
    from cxlmi_bindings.emulator import profiles
    from cxlmi_bindings.emulator.server import Server
    from cli_helpers import both, invoke
    with Server(profiles.build("type3"), port=0) as srv:
        target = "tcp:%s:%d" % srv.address
        res = invoke(["memdev", "inject-poison", target, "--address", "0x2000", "--yes"])
        assert res.exit_code == 0, both(res)
        res = invoke(["generic", "get-event-records", target, "--event-log", "info", "--json"])
        assert res.exit_code == 0, both(res)
    (record,) = json.loads(res.stdout)["result"]["records"]
    assert record["data_decoded"]["phys_addr_decoded"]["dpa"] == 0x2000
    assert record["data_decoded"]["transaction_type_decoded"] == "host-inject-poison"


def test_a_record_without_a_layout_decodes_its_data_to_null():
    record = types.get("event_record")()
    record.uuid = bytes(range(16))
    assert types.to_dict(record, decoded=True)["data_decoded"] is None
