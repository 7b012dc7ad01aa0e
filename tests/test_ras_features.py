# SPDX-License-Identifier: LGPL-2.1-or-later
"""The RAS Features (patrol scrub, DDR5 ECS, sPPR, hPPR, memory sparing) decoded both
ways, end to end.

The layouts are checked against sizes and bytes written here from the CXL r3.2
tables (as the kernel's drivers/cxl/core/edac.c and QEMU lay them out); the CLI's
`memdev features list|get|set` runs against a Type 3 device served over MCTP over
TCP whose every received request is recorded, so "nothing was sent" is what the
device saw, not what the CLI says.
"""

import ctypes
import json
import struct

import pytest

from cxlmi_bindings import Context, cci, features as F, uuids
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.server import Server
from cxlmi_bindings.emulator.t3_features import Feature
from cxlmi_bindings.errors import DeviceError, UsageError
from cxlmi_bindings.types import features as layouts
from cli_helpers import both, clean_cli, invoke  # noqa: F401  (clean_cli: a fixture)

# Feature UUIDs as the kernel's include/cxl/features.h and QEMU write them
UUIDS = {
    "patrol-scrub": "96dad7d6-fde8-482b-a733-75774e06db8a",
    "ecs": "e5b13f22-2328-4a14-b8ba-b9691e893386",
    "sppr": "892ba475-fad8-474e-9d3e-692c917568bb",
    "hppr": "80ea4521-786f-4127-afb1-ec7459fb0e24",
    "cacheline-sparing": "96c33386-91dd-44c7-9ecb-fdaf6503bac4",
    "row-sparing": "450ebf67-b135-4f97-a498-c2d57f279bed",
    "bank-sparing": "78b79636-90ac-4b64-a4ef-faac5d18a863",
    "rank-sparing": "34dbaff5-0552-4281-8f76-da0b5e7a76a7",
}
SET_FEATURE = 0x0502


class Recorder:
    """Wraps a device's handle(): the opcodes of every request it received."""

    def __init__(self, device):
        self.opcodes = []
        self._handle = device.handle
        device.handle = self

    def __call__(self, message, msg_type=None):
        self.opcodes.append(cci.decode_header(message).opcode)
        return self._handle(message, msg_type)


@pytest.fixture
def served():
    device = profiles.build("type3")
    seen = Recorder(device)
    with Server(device, port=0) as srv:
        yield device, "tcp:%s:%d" % srv.address, seen


def feature(device, name):
    wire = uuids.wire(UUIDS[name])
    return [f for f in device.features if f.uuid == wire][0]


def run(args):
    return invoke(["memdev", "features"] + args)


# -- the layouts ---------------------------------------------------------------------

@pytest.mark.parametrize("name, read, write", [
    ("patrol-scrub", 4, 2), ("sppr", 20, 3), ("hppr", 20, 3), ("row-sparing", 19, 2)])
def test_layout_sizes_are_the_specs(name, read, write):
    f = layouts.FEATURES[name]
    assert (ctypes.sizeof(f.read_cls), ctypes.sizeof(f.write_cls)) == (read, write)


def test_ecs_is_a_log_capability_then_four_readable_or_two_writable_bytes_per_fru():
    f = layouts.FEATURES["ecs"]
    assert f.read_cls.fixed_size() == 1 and f.write_cls.fixed_size() == 1
    assert ctypes.sizeof(f.read_cls.sized(3)) == 13 and ctypes.sizeof(f.write_cls.sized(3)) == 7


def test_every_feature_has_the_uuid_the_kernel_and_qemu_use():
    assert {n: uuids.FEATURE[n] for n in layouts.FEATURES} == UUIDS


def test_patrol_scrub_decodes_capabilities_cycle_and_flags():
    got = layouts.decode(layouts.FEATURES["patrol-scrub"], b"\x01\x06\x02\x01")
    assert got.to_dict(decoded=True) == {
        "scrub_cycle_cap": 1, "scrub_cycle_cap_decoded": ["cycle-changeable"],
        "scrub_cycle": 0x0206,
        "scrub_cycle_decoded": {"scrub_cycle_hours": 6, "min_scrub_cycle_hours": 2},
        "scrub_flags": 1, "scrub_flags_decoded": ["enabled"]}


def test_ecs_decodes_each_fru():
    data = b"\x00" + b"\x01\x0c\x00\x00" + b"\x00\x05\x00\x00"
    got = layouts.decode(layouts.FEATURES["ecs"], data).to_dict(decoded=True)
    assert got["ecs_log_cap_decoded"] == {"log_entry_type": "per-dram"}
    assert [f["ecs_config_decoded"] for f in got["fru_attrs"]] == [
        {"threshold": "1024", "count_mode": "codewords", "reset_counter": False},
        {"threshold": "4096", "count_mode": "rows", "reset_counter": False}]
    assert [f["ecs_cap_decoded"] for f in got["fru_attrs"]] == [["realtime-report"], []]
    assert "ecs_flags" not in got["fru_attrs"][0]                 # reserved


def test_ppr_decodes_header_flags_restrictions_and_mode():
    data = struct.pack("<BHHBB9sBHB", 0x25, 1, 1, 1, 1, bytes(9), 0x03, 0x05, 0x01)
    got = layouts.decode(layouts.FEATURES["hppr"], data).to_dict(decoded=True)
    assert got["op_caps_decoded"] == ["device-initiated"]
    assert got["op_mode_decoded"] == ["device-initiated"]
    assert got["maint_op_class_decoded"] == "ppr" and got["maint_op_subclass"] == 1
    assert got["ppr_flags_decoded"] == ["dpa", "nibble-mask"]
    assert got["restriction_flags_decoded"] == ["media-inaccessible-during-repair",
                                                "data-lost-during-repair"]
    assert got["ppr_op_mode_decoded"] == ["sparing-event-record"]
    assert got["max_maint_latency"] == 0x25 and "rsvd" not in got


def test_sparing_decodes_its_restrictions():
    data = struct.pack("<BHHBB10sH", 0, 0, 0, 2, 3, bytes(10), 0x07)
    got = layouts.decode(layouts.FEATURES["rank-sparing"], data).to_dict(decoded=True)
    assert got["maint_op_class_decoded"] == "memory-sparing" and got["maint_op_subclass"] == 3
    assert got["restriction_flags_decoded"] == ["unsafe-when-in-use", "hard-sparing",
                                                "soft-sparing"]


def test_what_is_written_keeps_the_current_values_and_changes_only_what_is_asked():
    scrub = layouts.FEATURES["patrol-scrub"]
    assert layouts.write_data(scrub, b"\x03\x0c\x01\x01", {"scrub_cycle_hours": 24}) \
        == b"\x18\x01"
    assert layouts.write_data(scrub, b"\x03\x0c\x01\x01", {"enabled": 0}) == b"\x0c\x00"
    ecs = layouts.FEATURES["ecs"]
    current = b"\x01" + b"\x01\x03\x00\x00" * 3
    assert layouts.write_data(ecs, current, {"threshold": 5}, fru=1) == \
        b"\x01" + b"\x03\x00" + b"\x05\x00" + b"\x03\x00"
    assert layouts.write_data(ecs, current, {"count_mode": 1}) == b"\x01" + b"\x0b\x00" * 3
    ppr = layouts.FEATURES["sppr"]
    current = struct.pack("<BHHBB9sBHB", 5, 1, 1, 1, 0, bytes(9), 7, 0, 2)
    assert layouts.write_data(ppr, current, {"sparing_event_record": 1}) == b"\x01\x00\x03"


def test_read_only_out_of_range_and_unknown_attributes_are_refused_by_name():
    with pytest.raises(UsageError) as info:
        F.check_changes("patrol-scrub", {"min-scrub-cycle-hours": "2"})
    assert "min_scrub_cycle_hours is read-only" in str(info.value)
    with pytest.raises(UsageError) as info:
        F.check_changes("patrol-scrub", {"scrub-cycle-hours": "256"})
    assert "scrub_cycle_hours 256 is out of range: it takes 0..255" in str(info.value)
    with pytest.raises(UsageError) as info:
        F.check_changes("ecs", {"threshold": "512"})
    assert "threshold takes 256, 1024, 4096, not '512'" in str(info.value)
    with pytest.raises(UsageError) as info:
        F.check_changes("sppr", {"enabled": "yes"})
    assert "sppr has no attribute enabled" in str(info.value)
    assert F.check_changes("ecs", {"threshold": "4096", "count-mode": "codewords",
                                   "reset_counter": "yes"}) == \
        {"threshold": 5, "count_mode": 1, "reset_counter": 1}


# -- the CLI, end to end ---------------------------------------------------------------

def test_list_names_all_eight_features_the_device_supports(served, clean_cli):
    _, target, _ = served
    res = run(["list", target, "--json"])
    assert res.exit_code == 0, both(res)
    got = json.loads(res.stdout)["result"]["features"]
    assert [f["name"] for f in got] == list(UUIDS)
    assert all(f["decoded_by_cxl_mi"] for f in got)
    assert [(f["get_feature_size"], f["set_feature_size"]) for f in got] == [
        (4, 2), (13, 7), (20, 3), (20, 3), (19, 2), (19, 2), (19, 2), (19, 2)]
    assert [f["set_feature_version"] for f in got] == [1, 1, 3, 3, 1, 1, 1, 1]


class VendorFeature(Feature):
    """A Feature cxl-mi has no layout for, read-only."""
    uuid = bytes(range(16))
    read_size = write_size = 2

    def initial(self):
        return b"\x00\x00"


def test_list_says_which_features_can_change_and_which_cxl_mi_decodes(served, clean_cli):
    device, target, _ = served
    feature(device, "row-sparing").attributes &= ~1
    device.features.append(VendorFeature())
    res = run(["list", target, "--json"])
    assert res.exit_code == 0, both(res)
    listed = json.loads(res.stdout)["result"]["features"]
    got = {f["feature_id_decoded"]["uuid"]: f for f in listed}
    vendor = got["00010203-0405-0607-0809-0a0b0c0d0e0f"]
    assert vendor["name"] is None and vendor["decoded_by_cxl_mi"] is False
    assert got[UUIDS["patrol-scrub"]]["decoded_by_cxl_mi"] is True
    table = run(["list", target]).stdout
    rows = {}
    for block in table.split("Features (9) [")[1:]:
        fields = dict(ln.strip().split(": ", 1) for ln in block.splitlines()[1:] if ": " in ln)
        rows[fields["feature"]] = fields
    assert rows["patrol-scrub"]["changeable"] == "yes"
    assert rows["row-sparing"]["changeable"] == "no"
    assert rows["00010203-0405-0607-0809-0a0b0c0d0e0f"]["changeable"] == "no"


def test_get_decodes_what_the_device_holds(served, clean_cli):
    device, target, _ = served
    feature(device, "patrol-scrub").current = b"\x03\x30\x02\x01"
    res = run(["get", target, "patrol-scrub", "--json"])
    assert res.exit_code == 0, both(res)
    got = json.loads(res.stdout)["result"]
    assert got["feature"] == "patrol-scrub" and got["data"] == "03300201"
    assert got["attributes"]["scrub_cycle_decoded"] == {"scrub_cycle_hours": 0x30,
                                                        "min_scrub_cycle_hours": 2}
    assert got["attributes"]["scrub_flags_decoded"] == ["enabled"]
    table = run(["get", target, "patrol-scrub"])
    assert "scrub cycle hours 48, min scrub cycle hours 2" in table.stdout


def test_set_changes_the_device_and_shows_the_value_read_back(served, clean_cli):
    device, target, seen = served
    res = run(["set", target, "patrol-scrub", "--scrub-cycle-hours", "24", "--enabled=yes",
               "--json"])
    assert res.exit_code == 0, both(res)
    assert feature(device, "patrol-scrub").current == b"\x03\x18\x01\x01"
    got = json.loads(res.stdout)["result"]
    assert got["written"] == "1801"
    assert got["attributes"]["scrub_cycle_decoded"]["scrub_cycle_hours"] == 24
    assert seen.opcodes.count(SET_FEATURE) == 1
    device.reset()                                    # not saved: the old value is back
    assert feature(device, "patrol-scrub").current == b"\x03\x0c\x01\x00"


@pytest.mark.parametrize("words,flags", [(("off", "on"), 1), (("on", "no"), 0),
                                         (("false", "true"), 1), (("1", "0"), 0)])
def test_a_flag_takes_on_off_true_false_and_1_0(served, clean_cli, words, flags):
    device, target, _ = served
    for word in words:
        res = run(["set", target, "patrol-scrub", "--enabled=%s" % word])
        assert res.exit_code == 0, both(res)
    assert feature(device, "patrol-scrub").current[3] == flags


def test_save_keeps_the_value_across_a_reset(served, clean_cli):
    device, target, _ = served
    res = run(["set", target, "patrol-scrub", "--scrub-cycle-hours", "6", "--save"])
    assert res.exit_code == 0, both(res)
    device.reset()
    assert feature(device, "patrol-scrub").current[1] == 6


def test_ecs_per_fru_change(served, clean_cli):
    device, target, _ = served
    res = run(["set", target, "ecs", "--threshold", "4096", "--count-mode", "codewords",
               "--fru", "2", "--json"])
    assert res.exit_code == 0, both(res)
    frus = json.loads(res.stdout)["result"]["attributes"]["fru_attrs"]
    assert [f["ecs_config_decoded"]["threshold"] for f in frus] == ["256", "256", "4096"]
    assert feature(device, "ecs").current[9:13] == b"\x01\x0d\x00\x00"


def test_an_ecs_fru_past_the_last_is_refused_before_set_feature(served, clean_cli):
    device, target, seen = served
    before = bytes(feature(device, "ecs").current)
    res = run(["set", target, "ecs", "--threshold", "4096", "--fru", "3"])
    assert res.exit_code == 2, both(res)
    assert "ecs: FRU 3, the device has 3 (0..2); nothing was changed" in res.stderr
    assert SET_FEATURE not in seen.opcodes and seen.opcodes      # it read, it did not write
    assert feature(device, "ecs").current == before

def test_resetting_an_ecs_counter_zeroes_it_and_does_not_stick(served, clean_cli):
    device, target, _ = served
    ecs = feature(device, "ecs")
    ecs.error_counts = [7, 8, 9]
    res = run(["set", target, "ecs", "--reset-counter", "yes", "--fru", "1"])
    assert res.exit_code == 0, both(res)
    assert ecs.error_counts == [7, 0, 9]
    assert ecs.current[6] & 0x10 == 0


REFUSED_BEFORE_SENDING = [
    (["patrol-scrub", "--min-scrub-cycle-hours", "2"], "min_scrub_cycle_hours is read-only"),
    (["patrol-scrub", "--scrub-cycle-cap", "0"], "scrub_cycle_cap is read-only"),
    (["patrol-scrub", "--scrub-cycle-hours", "256"], "is out of range: it takes 0..255"),
    (["ecs", "--threshold", "512"], "threshold takes 256, 1024, 4096"),
    (["sppr", "--sparing-event-record", "maybe"], "takes yes or no"),
    (["hppr", "--bogus", "1"], "hppr has no attribute bogus"),
    (["ecs", "--threshold"], "--threshold needs a value; nothing was sent"),
    (["sppr", "--rsvd", "0"], "sppr has no attribute rsvd"),     # reserved: not even read-only
    (["patrol-scrub", "--enabled", "yes", "--fru", "1"], "--fru is for ecs"),
    (["patrol-scrub", "--enabled", "yes", "--fru", "0"], "--fru is for ecs"),
    (["patrol-scrub"], "nothing to set"),
    (["flux-capacitor", "--x", "1"], "no Feature called 'flux-capacitor'"),
]


@pytest.mark.parametrize("args, words", REFUSED_BEFORE_SENDING)
def test_refused_with_exit_2_and_nothing_sent(served, clean_cli, args, words):
    device, target, seen = served
    before = [bytes(f.current) for f in device.features]
    res = run(["set", target] + args)
    assert res.exit_code == 2, both(res)
    assert words in res.stderr and "Traceback" not in both(res)
    assert seen.opcodes == []
    assert [bytes(f.current) for f in device.features] == before


def test_another_set_feature_version_is_refused_before_set_feature(served, clean_cli):
    device, target, seen = served
    feature(device, "sppr").set_version = 2
    res = run(["set", target, "sppr", "--sparing-event-record", "yes"])
    assert res.exit_code == 2, both(res)
    assert "Set Feature version 2, cxl-mi writes version 3" in res.stderr
    assert SET_FEATURE not in seen.opcodes and seen.opcodes     # it asked, it did not write
    assert feature(device, "sppr").current[19] == 0
    feature(device, "sppr").set_version = 4                   # a newer one: the same
    res = run(["set", target, "sppr", "--sparing-event-record", "yes"])
    assert res.exit_code == 2, both(res)
    assert "Set Feature version 4, cxl-mi writes version 3" in res.stderr
    assert SET_FEATURE not in seen.opcodes


def test_a_feature_the_device_marks_not_changeable_is_not_written(served, clean_cli):
    device, target, seen = served
    feature(device, "row-sparing").attributes &= ~1
    res = run(["set", target, "row-sparing", "--device-initiated", "yes"])
    assert res.exit_code == 2, both(res)
    assert "reports the row-sparing Feature as not changeable" in res.stderr
    assert SET_FEATURE not in seen.opcodes


def test_a_scrub_cycle_below_the_devices_minimum_is_not_written(served, clean_cli):
    device, target, seen = served
    res = run(["set", target, "patrol-scrub", "--scrub-cycle-hours", "0"])
    assert res.exit_code == 2, both(res)
    assert "below the device's min_scrub_cycle_hours of 1" in res.stderr
    assert SET_FEATURE not in seen.opcodes


def test_a_mode_the_device_cannot_do_is_its_refusal_exit_1(served, clean_cli):
    device, target, seen = served
    res = run(["set", target, "hppr", "--device-initiated-at-boot", "yes"])
    assert res.exit_code == 1, both(res)
    assert "INPUT" in res.stderr and seen.opcodes.count(SET_FEATURE) == 1


def test_feature_data_shorter_than_its_layout_is_a_malformed_reply_not_a_crash(served,
                                                                              clean_cli):
    device, target, seen = served
    scrub = feature(device, "patrol-scrub")
    scrub.current, scrub.read_size = b"\x03\x30\x02", 3      # 3 of the layout's 4 bytes
    for args in (["get", target, "patrol-scrub"],
                 ["set", target, "patrol-scrub", "--scrub-cycle-hours", "24"]):
        res = run(args)
        assert res.exit_code == 3, both(res)
        assert "patrol-scrub: 3 bytes of feature data, its readable attributes take at " \
               "least 4" in res.stderr and "Traceback" not in res.stderr
    assert SET_FEATURE not in seen.opcodes


def test_get_takes_the_name_alone_with_the_target_from_the_environment(served, monkeypatch):
    _, target, _ = served
    from cxlmi_cli import commands as cli_commands
    cli_commands.reset()
    monkeypatch.setenv("CXLMI_TARGET", target)
    res = run(["get", "bank-sparing", "--selection", "default", "--json"])
    assert res.exit_code == 0, both(res)
    got = json.loads(res.stdout)["result"]
    assert got["selection"] == "default"
    assert got["attributes"]["maint_op_subclass"] == 2


def test_get_takes_the_name_alone_in_any_spelling_with_the_target_from_the_environment(
        served, monkeypatch):
    _, target, _ = served
    from cxlmi_cli import commands as cli_commands
    cli_commands.reset()
    monkeypatch.setenv("CXLMI_TARGET", target)
    res = run(["get", "Bank_Sparing", "--json"])
    assert res.exit_code == 0, both(res)
    assert json.loads(res.stdout)["result"]["feature"] == "bank-sparing"


def test_get_warns_when_the_device_has_another_version_than_the_layout(served, clean_cli):
    device, target, _ = served
    feature(device, "patrol-scrub").get_version = 2         # newer than cxl-mi knows
    res = run(["get", target, "patrol-scrub", "--json"])
    assert res.exit_code == 0, both(res)
    assert ("the device's patrol-scrub Feature is version 2, decoded with the version 1 "
            "layout") in res.stderr
    assert json.loads(res.stdout)["result"]["get_feature_version"] == 2


# -- the sPPR / hPPR Features and Perform Maintenance -----------------------------------

def _sparing_records(ep):
    wire = uuids.wire(uuids.EVENT_RECORD["memory-sparing"])
    recs = ep.get_event_records(event_log=0)
    return [r for r in recs.records[:recs.record_count] if bytes(r.uuid) == wire]


def test_a_repair_posts_a_sparing_event_record_only_when_the_feature_asks(served, clean_cli):
    device, target, _ = served
    with Context() as ctx:
        ep = ctx.open(target)
        ep.perform_maintenance(op_class=1, op_subclass=1, dpa=0x1000)
        assert _sparing_records(ep) == []
        res = run(["set", target, "hppr", "--sparing-event-record", "yes"])
        assert res.exit_code == 0, both(res)
        ep.perform_maintenance(op_class=1, op_subclass=1, dpa=0x2000, nibble_mask=b"\x0f\x00\x00")
        recs = _sparing_records(ep)
        assert len(recs) == 1
        assert (recs[0].maint_op_class, recs[0].maint_op_subclass) == (1, 1)
        assert bytes(recs[0].data)[16:19] == b"\x0f\x00\x00"
        ep.perform_maintenance(op_class=1, op_subclass=0, dpa=0x3000)   # sPPR: not asked
        assert len(_sparing_records(ep)) == 1
    assert [r[:2] for r in device.ppr_repairs] == [(0x1000, "hard"), (0x2000, "hard"),
                                                   (0x3000, "soft")]


def test_a_repair_needs_its_ppr_feature_and_its_nibble_mask_support():
    device = profiles.build("type3")
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    with Context() as ctx:
        ep = ctx.open_transport(EmulatedTransport("t", device=device), "emu:type3")
        feature(device, "sppr").current = feature(device, "sppr").current[:16] + b"\x01" \
            + feature(device, "sppr").current[17:]                  # DPA only, no nibble mask
        with pytest.raises(DeviceError) as info:
            ep.perform_maintenance(op_class=1, op_subclass=0, dpa=0x40,
                                   nibble_mask=b"\x01\x00\x00")
        assert info.value.name == "INPUT"
        device.features.remove(feature(device, "hppr"))
        with pytest.raises(DeviceError) as info:
            ep.perform_maintenance(op_class=1, op_subclass=1, dpa=0x40)
        assert info.value.name == "UNSUPPORTED"
        assert device.ppr_repairs == []


@pytest.mark.parametrize("name, data", [
    ("ecs", b"\x01" + b"\x06\x00" + b"\x03\x00" * 2),        # threshold code 6 is reserved
    ("ecs", b"\x01" + b"\x23\x00" + b"\x03\x00" * 2),        # reserved configuration bit 5
    ("ecs", b"\x02" + b"\x03\x00" * 3),                      # log entry type 2
    ("sppr", b"\x02\x00\x00"),                               # operation mode bit 1
    ("rank-sparing", b"\x00\x80"),
])
def test_the_emulated_device_refuses_invalid_data_with_invalid_input(name, data):
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        version = layouts.FEATURES[name].version
        with pytest.raises(DeviceError) as info:
            ep.set_feature(feature_id=uuids.wire(UUIDS[name]), version=version,
                           feature_data=data)
        assert info.value.name == "INPUT"
        with pytest.raises(DeviceError) as info:
            ep.set_feature(feature_id=uuids.wire(UUIDS[name]), version=version + 1,
                           feature_data=data)
        assert info.value.name == "FEATUREVERSION"


def test_the_library_reads_and_writes_by_name():
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        call = lambda name, request: ep.call(name, request)  # noqa: E731
        F.write(call, "cacheline-sparing", F.check_changes("cacheline-sparing",
                                                           {"device_initiated": True}))
        _, data, decoded = F.read(call, "cacheline-sparing")
        assert decoded.to_dict(decoded=True)["op_mode_decoded"] == ["device-initiated"]
        assert data[3:5] == b"\x01\x00"


def test_the_help_names_every_feature_the_layouts_declare():
    from cxlmi_cli.commands import features as cli_features
    assert cli_features.NAMES.split(", ") == list(layouts.FEATURES)


def test_the_set_help_names_every_attribute_each_feature_sets():
    from cxlmi_cli.commands import features as cli_features
    text = " ".join(cli_features.set_command().help.split())
    for name, feature in layouts.FEATURES.items():
        for setting in layouts.settings(feature):
            assert "--" + setting.replace("_", "-") in text, (name, setting)


def test_features_reach_a_type3_behind_a_switch_port(clean_cli):
    res = run(["set", "emu:switch", "--port", "1", "patrol-scrub", "--enabled", "yes",
               "--json"])
    assert res.exit_code == 0, both(res)
    got = json.loads(res.stdout)
    assert got["tunnel"] == {"port": 1, "ld": None, "mhd": False}
    assert got["result"]["attributes"]["scrub_flags_decoded"] == ["enabled"]


def test_set_takes_the_name_alone_with_the_target_from_the_environment(served, monkeypatch):
    device, target, _ = served
    from cxlmi_cli import commands as cli_commands
    cli_commands.reset()
    monkeypatch.setenv("CXLMI_TARGET", target)
    res = run(["set", "patrol-scrub", "--enabled", "yes", "--scrub-cycle-hours=5", "--json"])
    assert res.exit_code == 0, both(res)
    assert feature(device, "patrol-scrub").current == b"\x03\x05\x01\x01"
    res = run(["set", target, "patrol-scrub", "stray", "--enabled", "no"])
    assert res.exit_code == 2 and "unexpected 'stray' after TARGET and NAME" in res.stderr
    assert feature(device, "patrol-scrub").current == b"\x03\x05\x01\x01"


def test_the_library_reads_the_selection_asked_for_window_by_window(monkeypatch):
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        scrub = feature(ep.transport.device, "patrol-scrub")
        asked = []

        def call(name, request):
            asked.append((name, dict(request)))
            return ep.call(name, request)
        F.write(call, "patrol-scrub", F.check_changes("patrol-scrub", {"scrub_cycle_hours": 7}))
        entry = F.find(call, "patrol-scrub")
        del asked[:]
        monkeypatch.setattr(F, "WINDOW", 3)     # the 4-byte Feature in two windows
        _, current, _ = F.read(call, "patrol-scrub", entry=entry)
        _, default, _ = F.read(call, "patrol-scrub", selection="default", entry=entry)
    assert current == scrub.current and current[1] == 7
    assert default == scrub.default and default != current
    assert [(r["offset"], r["count"], r["selection"]) for _, r in asked] == [
        (0, 3, 0), (3, 1, 0), (0, 3, 1), (3, 1, 1)]


def test_a_feature_read_stops_at_an_empty_reply():
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        asked = []

        def call(name, request):                # a device that answers with no data
            asked.append(name)
            assert len(asked) < 5, "read_raw kept asking"
            return ep.call(name, request)[:0]
        assert F.read_raw(call, "patrol-scrub", 4) == b""
    assert asked == ["get_feature"]
