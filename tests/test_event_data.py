# SPDX-License-Identifier: LGPL-2.1-or-later
"""An event record's 80 data bytes, decoded by the layout its UUID names.

The emulator builds the records from the same declarations (types/generic.py,
types/features.py); the byte positions are checked independently in
tests/test_layouts.py and by the struct-based readers of test_emulator_dcd_mhd.
"""

import uuid

import pytest

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


# Event record UUIDs as the spec (r3.1 8.2.9.2.1) and the kernel's trace events write them
RECORD_UUIDS = {
    "general-media": "fbcd0a77-c260-417f-85a9-088b1621eba6",
    "dram": "601dcbb3-9c06-4eab-b8af-4e9bfb5c9624",
    "memory-module": "fe927475-dd59-4339-a586-79bab113b774",
    "memory-sparing": "e71f3a40-2d29-4092-8a39-4d1c966c7c65",
    "physical-switch": "77cf9271-9c02-470b-9fe4-bc7b75f2da97",
    "virtual-switch": "40d26425-3396-4c4d-a5da-3d47263af425",
    "mld-port": "8dc44363-0c96-4710-b7bf-04bb99534c3f",
    "dynamic-capacity": "ca95afa7-f183-4018-8c2f-95268e101a2a",
}


@pytest.mark.parametrize("name", RECORD_UUIDS)
def test_a_record_is_named_by_its_uuid(name):
    record = types.get("event_record")()
    record.uuid = uuid.UUID(RECORD_UUIDS[name]).bytes
    assert types.to_dict(record, decoded=True)["uuid_decoded"] == {
        "uuid": RECORD_UUIDS[name], "name": name}
