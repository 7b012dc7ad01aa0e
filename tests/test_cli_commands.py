# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every one of the registry's commands through `cxl-mi`.

Two sweeps over the whole registry, each comparing values, not just shapes:

* against the mock transport, with a well-formed reply queued for each
  command: the JSON carries the documented envelope and every field of the
  reply with the value its bytes hold (read at the C structure's offsets, no
  decoder involved), the table shows those values, and ``-o raw`` is exactly
  the payload the component sent;
* against the emulated profiles (the profile, and tunnel, that implements
  each command), each device first put into a state of the command's own:
  the command either succeeds -- its JSON equals, field by field, what the
  device model holds (EXPECT), or the state it leaves is the one asked for
  (EFFECT); the table shows the same values; the raw bytes decode to the JSON
  -- or it fails with the one return code it is specified to give in that
  state (FAILS).  The last tests prove the sweep goes red when any command's
  answer changes.
"""

import ctypes
import json
import re
import struct
import uuid

import pytest

from cxlmi_bindings import codec, registry
from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.emulator import device as emu
from cxlmi_bindings.emulator import t3_firmware, t3_logs, t3_media, t3_poison, t3_security

import cxlmi_cli.target as cli_target
from cxlmi_cli import commands as cli_commands
from cxlmi_cli.render import views
from cli_helpers import both, invoke

MiB = 1 << 20
GiB = 1 << 30
CAP = 256 * MiB                    # capacity fields count 256 MiB units
RESERVED = ("rsv", "rsvd", "reserved", "resv")
FW_PACKAGE = b"REV-2.0.0".ljust(256, b"\0")
TAG = "11111111-2222-3333-4444-555555555555"


@pytest.fixture(autouse=True)
def _fresh_commands():
    cli_commands.reset()
    yield
    cli_commands.reset()


@pytest.fixture
def passfile(tmp_path):
    p = tmp_path / "pass"
    p.write_bytes(b"secret\n")
    return str(p)


@pytest.fixture
def fwfile(tmp_path):
    p = tmp_path / "fw.bin"
    p.write_bytes(FW_PACKAGE)
    return str(p)


def command_args(entry, passfile, fwfile):
    """The options each command needs to be sent at all (beyond TARGET)."""
    table = {
        "set_response_msg_limit": ["--limit", "2K"],
        "clear_event_records": ["--event-log", "info", "--all"],
        "set_event_interrupt_policy": ["--informational", "msi:1", "--fatal", "none"],
        "set_mctp_event_interrupt_policy": ["--logs", "fail,fatal"],
        "event_notification": ["--event", "1"],
        "transfer_fw": ["--action", "full", "--slot", "2", "--data", fwfile],
        "activate_fw": ["--slot", "2", "--action", "reset"],
        "set_timestamp": ["--timestamp", "2024-05-01T12:00:00Z"],
        "get_log": ["--uuid", "cel", "--length", "64"],
        "get_log_cel": ["--length", "64"],
        "get_log_capabilities": ["--uuid", "cel"],
        "clear_log": ["--uuid", "vendor-debug"],
        "populate_log": ["--uuid", "component-state-dump"],
        "get_feature": ["--feature-id", "patrol-scrub", "--count", "4"],
        "set_feature": ["--feature-id", "patrol-scrub", "--version", "1", "--data-hex", "0c01"],
        "memdev_set_partition_info": ["--volatile-capacity", "512M"],
        "memdev_get_lsa": ["--length", "64"],
        "memdev_set_lsa": ["--offset", "0x40", "--data-hex", "deadbeef"],
        "memdev_set_alert_config": ["--valid", "life-used", "--enable", "life-used",
                                    "--life-used", "50"],
        "memdev_set_shutdown_state": ["--state", "dirty"],
        "get_poison_list": ["--length", "1G"],
        "memdev_inject_poison": ["--address", "0x1000"],
        "perform_maintenance_sparing": ["--granularity", "rank"],
        "memdev_clear_poison": ["--address", "0x1000"],
        "memdev_get_scan_media_capabilities": ["--length", "256M"],
        "memdev_scan_media": ["--length", "256M"],
        "memdev_media_operations_sanitize": ["--range", "0:256M"],
        "memdev_set_passphrase": ["--type", "user", "--passphrase-file", passfile,
                                  "--new-passphrase-file", passfile],
        "memdev_disable_passphrase": ["--type", "user", "--passphrase-file", passfile],
        "memdev_unlock": ["--passphrase-file", passfile],
        "memdev_passphrase_secure_erase": ["--type", "user", "--passphrase-file", passfile],
        "memdev_security_send": ["--security-protocol", "1", "--data-hex", "00"],
        "memdev_security_receive": ["--security-protocol", "1"],
        "memdev_set_sld_qos_control": ["--egress-moderate-percentage", "10",
                                       "--egress-severe-percentage", "20",
                                       "--backpressure-sample-interval", "8"],
        "memdev_add_dc_response": ["--extent", "2G:256M"],      # region 0 of emu:dcd
        "memdev_release_dc": ["--extent", "2G:256M"],
        "fmapi_get_phys_port_state": ["--ports", "0-3"],
        "fmapi_phys_port_control": ["--ppb-id", "4", "--operation", "reset-ppb"],
        "fmapi_send_ppb_cxlio_config_request": ["--ppb-id", "4", "--register", "0"],
        "fmapi_set_domain_validation_sv": ["--secret", TAG],
        "fmapi_bind_vppb": ["--vcs-id", "0", "--vppb-id", "3", "--port-id", "4"],
        "fmapi_unbind_vppb": ["--vcs-id", "0", "--vppb-id", "0"],
        "fmapi_generate_aer_event": ["--vppb-instance", "0", "--severity", "correctable",
                                     "--status-bit", "6"],
        "perform_maintenance": ["--op-class", "ppr", "--op-subclass", "hard", "--dpa", "0x40",
                                "--nibble-mask", "010203"],
        "fmapi_send_ld_cxlio_config_request": ["--ppb-id", "2", "--ld-id", "0"],
        "fmapi_send_ld_cxlio_mem_request": ["--port-id", "2", "--ld-id", "0", "--write",
                                            "--data-hex", "0011223344556677"],
        "fmapi_set_ld_allocations": ["--allocation", "1:0", "--allocation", "1:0"],
        "fmapi_set_qos_control": ["--egress-moderate-percentage", "10",
                                  "--egress-severe-percentage", "20",
                                  "--backpressure-sample-interval", "8"],
        "fmapi_get_qos_allocated_bw": ["--number-ld", "4"],
        "fmapi_set_qos_allocated_bw": ["--fractions", "64,64,64,64"],
        "fmapi_get_qos_bw_limit": ["--number-ld", "4"],
        "fmapi_set_qos_bw_limit": ["--fractions", "255,255,255,255"],
        "fmapi_get_head_info": ["--num-heads", "2"],
        "fmapi_set_dc_region_config": ["--region-id", "0", "--block-size", "2M"],
        "fmapi_initiate_dc_add": ["--length", "256M"],
        "fmapi_initiate_dc_release": ["--length", "256M", "--tag", TAG],
        "fmapi_dc_add_reference": ["--tag", TAG],
        "fmapi_dc_remove_reference": ["--tag", TAG],
        "vendor_specific": ["--opcode", "0xC000", "--payload-hex", "0102"],
    }
    args = list(table.get(entry.name, []))
    if entry.destructive:
        args.append("--yes")
    return args


# Where each command is implemented (profile and tunnel); the default is the
# profile of the command's group.
_MLD_FM = ["--port", "2"]             # the switch's MLD, FM-owned LD CCI (54xxh)
PLACES = {
    "memdev_get_dc_config": ("emu:dcd", []),
    "memdev_get_dc_extent_list": ("emu:dcd", []),
    "memdev_add_dc_response": ("emu:dcd", []),
    "memdev_release_dc": ("emu:dcd", []),
    "fmapi_get_ld_info": ("emu:switch", _MLD_FM),
    "fmapi_get_ld_allocations": ("emu:switch", _MLD_FM),
    "fmapi_set_ld_allocations": ("emu:switch", _MLD_FM),
    "fmapi_get_qos_control": ("emu:switch", _MLD_FM),
    "fmapi_set_qos_control": ("emu:switch", _MLD_FM),
    "fmapi_get_qos_status": ("emu:switch", _MLD_FM),
    "fmapi_get_qos_allocated_bw": ("emu:switch", _MLD_FM),
    "fmapi_set_qos_allocated_bw": ("emu:switch", _MLD_FM),
    "fmapi_get_qos_bw_limit": ("emu:switch", _MLD_FM),
    "fmapi_set_qos_bw_limit": ("emu:switch", _MLD_FM),
    "fmapi_get_multiheaded_info": ("emu:mhd", ["--mhd"]),
    "fmapi_get_head_info": ("emu:mhd", ["--mhd"]),
    "fmapi_get_dcd_info": ("emu:dcd", []),
    "fmapi_get_dc_reg_config": ("emu:dcd", []),
    "fmapi_set_dc_region_config": ("emu:dcd", []),
    "fmapi_get_dc_region_ext_list": ("emu:dcd", []),
    "fmapi_initiate_dc_add": ("emu:dcd", []),
    "fmapi_initiate_dc_release": ("emu:dcd", []),
    "fmapi_dc_add_reference": ("emu:dcd", []),
    "fmapi_dc_remove_reference": ("emu:dcd", []),
    "fmapi_dc_list_tags": ("emu:dcd", []),
}
GROUP_PLACE = {"generic": ("emu:type3", []), "memdev": ("emu:type3", []),
               "fmapi": ("emu:switch", []), "vendor": ("emu:type3", [])}


def place(entry):
    return PLACES.get(entry.name) or GROUP_PLACE[entry.group]


def _reply_fields(entry):
    """Non-reserved fields of the reply structure (what the JSON result must carry)."""
    cls = entry.rsp_cls
    names = []
    for klass in reversed(cls.__mro__):
        for f in klass.__dict__.get("_fields_", ()):
            if not f[0].startswith(RESERVED) and f[0] not in names:
                names.append(f[0])
    return names


# ------------------------------------------------------------------------ the mock

def mock_payload(entry):
    """A well-formed reply payload for ``entry``: every field non-zero, tails of 2."""
    if entry.name == "get_log_cel":
        return struct.pack("<HHHH", 0x0001, 0x0000, 0x4400, 0x0044)
    if entry.size == "raw" or entry.call == "vendor":
        return bytes(range(1, 65))
    if entry.rsp is None:
        return b""
    if entry.name == "fmapi_get_vcs_info":
        return bytes([1, 0, 0, 0, 0, 1, 0, 2, 2, 1, 0, 0, 3, 2, 1, 0])
    if entry.name in ("memdev_get_dc_config", "fmapi_get_dc_reg_config"):
        head = bytearray(8 if entry.name == "memdev_get_dc_config" else 4)
        head[-8 if len(head) == 8 else -2] = 2          # regions available
        head[-7 if len(head) == 8 else -1] = 2          # regions returned
        return bytes(head) + bytes(range(1, 81)) + struct.pack("<IIII", 8, 7, 4, 3)
    cls = entry.rsp_cls
    fixed = ctypes.sizeof(cls)
    n = 2 if cls._flex_ is not None else 0
    text = [(f[0], ctypes.sizeof(f[1])) for f in cls._fields_
            if issubclass(f[1], ctypes.Array) and f[1]._type_ is ctypes.c_char]
    size = fixed + (n * ctypes.sizeof(cls._flex_[1]) if n else 0)
    data = bytearray((i * 7 + 1) & 0xFF for i in range(size))
    if entry.rsp_count:
        obj = cls.from_buffer(data)
        setattr(obj, entry.rsp_count, n)
        if entry.name == "get_poison_list":     # one page: the workflow asks again on "more"
            obj.poison_list_flags &= ~1
        del obj
    for name, size in text:                     # device strings are printable
        at = getattr(cls, name).offset
        data[at:at + size] = ("MOCK %s" % name.upper()).encode()[:size].ljust(size, b"\0")
    return bytes(data)


def _field_values(ctype, data):
    """What JSON shows for a field of C type ``ctype`` held in ``data``, read
    straight from the bytes: numbers little-endian, char arrays as text, byte
    arrays as hex, structures and arrays of them member by member."""
    if isinstance(ctype, type) and issubclass(ctype, ctypes.Structure):
        return _struct_values(ctype, data)
    if issubclass(ctype, ctypes.Array):
        elem = ctype._type_
        if elem is ctypes.c_char:
            return data.split(b"\0")[0].decode("ascii", "replace")
        if elem is ctypes.c_uint8:
            return data.hex()
        size = ctypes.sizeof(elem)
        return [_field_values(elem, data[i * size:(i + 1) * size]) for i in range(ctype._length_)]
    return int.from_bytes(data, "little")


def _struct_values(cls, data, tail=0):
    out = {}
    for klass in reversed(cls.__mro__):
        for name, ctype in klass.__dict__.get("_fields_", ()):
            if name.startswith(RESERVED) or name in out:
                continue
            offset = getattr(cls, name).offset
            if cls._flex_ is not None and name == cls._flex_[0]:
                elem = cls._flex_[1]
                size = ctypes.sizeof(elem)
                out[name] = [_field_values(elem, data[offset + i * size:offset + (i + 1) * size])
                             for i in range(tail)]
                if elem is ctypes.c_uint8:
                    out[name] = data[offset:offset + tail].hex()
                continue
            out[name] = _field_values(ctype, data[offset:offset + ctypes.sizeof(ctype)])
    return out


def mock_values(entry, payload):
    """The reply's fields as the mock's bytes hold them (the layout from the C
    structure's offsets, the values from the bytes; no decoder involved)."""
    cls = entry.rsp_cls
    if entry.name == "fmapi_get_vcs_info":        # variable-size blocks, as mock_payload
        return {"num_vcs": 1, "vcs_info_list": [{
            "vcs_id": 0, "vcs_state": 1, "usp_id": 0, "num_vppbs": 2, "vppbs": [
                {"binding_status": 2, "bound_port_id": 1, "bound_ld_id": 0},
                {"binding_status": 3, "bound_port_id": 2, "bound_ld_id": 1}]}]}
    if entry.name in ("memdev_get_dc_config", "fmapi_get_dc_reg_config"):
        # the wire's head, the region configurations, then the four counts
        head = 8 if entry.name == "memdev_get_dc_config" else 4
        elem = dict(cls._fields_)["region_configs"]._type_
        size = ctypes.sizeof(elem)
        out = {"num_regions": 2, "regions_returned": 2,
               "region_configs": [_struct_values(elem, payload[head + i * size:])
                                  for i in range(2)],
               "num_extents_supported": 8, "num_extents_available": 7,
               "num_tags_supported": 4, "num_tags_available": 3}
        if head == 4:
            out["host_id"] = 0
        return out
    tail = 0
    if cls._flex_ is not None:
        tail = (len(payload) - ctypes.sizeof(cls)) // ctypes.sizeof(cls._flex_[1])
    return _struct_values(cls, payload, tail)


def _comparable(result, expected):
    """``result`` cut to the members ``expected`` names (derived ``*_decoded`` /
    ``*_bytes`` members are the renderer's)."""
    if isinstance(expected, dict) and isinstance(result, dict):
        return {k: _comparable(result.get(k), v) for k, v in expected.items()}
    if isinstance(expected, list) and isinstance(result, list):
        return [_comparable(r, e) for r, e in zip(result, expected)] + result[len(expected):]
    return result


class MockFabric:
    """Opens every target as a mock endpoint with one reply queued per command."""

    def __init__(self, monkeypatch):
        self.endpoints = []
        self.replies = {}
        monkeypatch.setattr(cli_target, "open_endpoint", self.open)

    def open(self, target, timeout=None):
        ep = Context().open_mock()
        for opcode, (rc, payload) in self.replies.items():
            ep.transport.set_response(opcode, rc, payload)
        self.endpoints.append(ep)
        return ep

    @property
    def transport(self):
        return self.endpoints[-1].transport


@pytest.fixture
def mock(monkeypatch):
    return MockFabric(monkeypatch)


ENTRIES = list(registry.COMMANDS)


def test_the_registry_has_libcxlmis_97_commands_and_its_extensions_each_a_cli_command():
    assert len([e for e in ENTRIES if not e.extension]) == 97
    seen = set()
    for entry in ENTRIES:
        res = invoke([entry.group, entry.cli_name, "--help"])
        assert res.exit_code == 0, (entry.name, both(res))
        text = " ".join(both(res).split())
        assert entry.summary.split(":")[0] in text
        assert ("Extension: libcxlmi has no cxlmi_cmd_*" in text) == entry.extension
        seen.add((entry.group, entry.cli_name))
    assert len(seen) == len(ENTRIES)    # no two commands share a group and name


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_command_renders_table_json_and_raw_from_a_mock_reply(
        entry, mock, passfile, fwfile):
    payload = mock_payload(entry)
    opcode = entry.opcode if entry.call != "vendor" else 0xC000
    mock.replies = {opcode: (0, payload)}
    base = [entry.group, entry.cli_name, "emu:type3"] + command_args(entry, passfile, fwfile)

    res = invoke(base + ["--json"])
    assert res.exit_code == 0, both(res)
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1
    assert doc["target"] == "emu:type3"
    assert doc["tunnel"] is None
    result = doc["result"]
    if entry.call == "vendor":
        assert doc["command"] == "vendor_specific"
        assert result["data"] == payload.hex() and result["length"] == len(payload)
    else:
        assert doc["command"] == entry.name and doc["opcode"] == entry.opcode
        if entry.name == "get_log_cel":
            assert [e["opcode"] for e in result["entries"]] == [0x0001, 0x4400]
            assert result["entries"][1]["opcode_decoded"] == "memdev_sanitize"
            assert "background-operation" in result["entries"][1]["command_effect_decoded"]
        elif entry.size == "raw":
            assert result == {"length": len(payload), "data": payload.hex(),
                              **({"entries": result["entries"]} if "entries" in result
                                 else {})}
        elif entry.rsp is None:
            assert result is None
        else:
            for field in _reply_fields(entry):
                assert field in result, (entry.name, field)
            expected = mock_values(entry, payload)
            assert _comparable(result, expected) == expected
            table = invoke(base)
            assert table.exit_code == 0, both(table)
            assert "Traceback" not in both(table)
            shown = check_table_values(table.stdout, expected, result)
            if entry.name == "fmapi_get_vcs_info":
                shown = check_vcs_rows(table.stdout, expected)
            assert shown, table.stdout

    if entry.rsp is None or entry.size == "raw" or entry.call == "vendor":
        table = invoke(base)
        assert table.exit_code == 0, both(table)
        assert "Traceback" not in both(table)
        if entry.rsp is None and entry.size != "raw":
            assert "done on" in table.stdout or "background" in table.stdout
        elif entry.name not in ("get_log", "get_log_cel"):
            assert _hexdump(table.stdout) == payload, table.stdout
        else:
            sections = (_records(table.stdout)[1] if _is_records(table.stdout)
                        else _row_sections(table.stdout))
            [(cols, rows)] = [s for s in sections if "opcode" in s[0]]
            assert [r["opcode"] for r in rows] == [
                "%04Xh" % int.from_bytes(payload[i:i + 2], "little")
                for i in range(0, len(payload), 4)]

    res = invoke(base + ["-o", "raw"])
    assert res.exit_code == 0
    assert res.stdout_bytes == payload


# ------------------------------------------------------------------------ the emulator
#
# Each command is sent to a fresh emulated device (a new one per invocation)
# that SETUP has first put into a state of its own -- non-default values where
# the command reads state, so a reply that ignores the state cannot match.
# Then exactly one of:
#
# * EXPECT[name](dev)  -> the JSON result, field by field, read from the device
#   model's attributes (never by decoding the reply with the code under test);
#   ``*_decoded`` members are the renderer's and are left out of the comparison;
# * EFFECT[name](dev)  -> for commands without a reply payload: asserts on the
#   state the command changed in the device;
# * FAILS[name]        -> the one CXL return code the command is specified to
#   give in the state the sweep sends it in.

T_NOW = 1000.0                     # every device's clock in the sweep stands still here
HOST_NS = 1_700_000_000_123_456_789
PASS = b"secret".ljust(32, b"\0")   # what --passphrase-file (b"secret\n") puts on the wire
TAG_BYTES = uuid.UUID(TAG).bytes

# The return code each refused command is specified to give in the state the
# sweep meets it in (CXL r3.1 8.2.9 / 7.6.7; QEMU's cxl-mailbox-utils.c).
FAILS = {
    "memdev_security_send": ("UNSUPPORTED", "an optional command the model does not implement"),
    "memdev_security_receive": ("UNSUPPORTED", "an optional command the model does not "
                                "implement"),
    "vendor_specific": ("UNSUPPORTED", "the model has no vendor-specific opcode C000h"),
}


def _reached(root, tunnel):
    """The device model a command sent with ``tunnel`` flags lands on."""
    if tunnel == _MLD_FM:
        return root.ports[2].device
    if tunnel == ["--mhd"]:
        return root.mhd
    return root


def _start_bg(dev, seconds, opcode, elapsed, **kw):
    """A background operation ``elapsed`` seconds into ``seconds`` (clock frozen)."""
    dev.clock = lambda: T_NOW - elapsed
    dev._start(emu.Background(seconds, **kw), opcode)
    dev.clock = lambda: T_NOW


def _set_mld_qos(dev):
    dev.qos_telemetry_control = 1
    (dev.egress_moderate_percentage, dev.egress_severe_percentage,
     dev.backpressure_sample_interval, dev.recmpbasis,
     dev.completion_collection_interval) = (15, 35, 5, 3, 96)
    dev.backpressure_avg_percentage = 37


def _add_host_extent(dev):
    from cxlmi_bindings.emulator import dcd
    dev.host_extents.append(dcd.Extent(dev.regions[1].base + 4 * MiB, 6 * MiB, TAG_BYTES, 3))
    dev.generation = 7


def _offer(dev, accepted=False):
    """256 MiB at the start of DC region 0, offered to the host or already held."""
    from cxlmi_bindings.emulator import dcd
    extent = dcd.Extent(2 * GiB, 256 * MiB)
    if accepted:
        dev.host_extents.append(extent)
    else:
        dev.offers.append(dcd.Offer([extent]))


def _add_tag(dev, refs=0):
    from cxlmi_bindings.emulator import dcd
    dev.tags[TAG_BYTES] = dcd.TagState()
    dev.tags[TAG_BYTES].fm_refs = refs
    dev.tag_generation = 5


SETUP = {
    "bg_op_status": lambda d: _start_bg(d, 8.0, 0x4304, 2.0),
    "request_bg_op_abort": lambda d: _start_bg(d, 8.0, 0x4304, 2.0),
    "get_response_msg_limit": lambda d: setattr(d, "response_msg_limit", 9),
    "set_response_msg_limit": lambda d: setattr(d, "response_msg_limit", 9),
    "get_event_records": lambda d: [d.add_event(0, bytes(range(16)), b"\x11\x22\x33", 0x10)
                                    for _ in range(2)],
    "clear_event_records": lambda d: [d.add_event(0, bytes(16)) for _ in range(3)],
    "get_event_interrupt_policy": lambda d: [setattr(e, "interrupt", v) for e, v in
                                             zip(d.event_logs, (0x11, 0x02, 0x21, 0x00, 0x31))],
    "get_mctp_event_interrupt_policy": lambda d: setattr(d, "mctp_event_interrupts", 0x0A),
    "get_fw_info": lambda d: (d.fw_slots.__setitem__(1, "EMU FW 2.0.0"),
                              setattr(d, "fw_staged", 2)),
    "activate_fw": lambda d: d.fw_slots.__setitem__(1, "EMU FW 2.0.0"),
    "get_timestamp": lambda d: setattr(d, "timestamp_base", (HOST_NS, T_NOW - 2.5)),
    "get_feature": lambda d: setattr(d.features[0], "current", b"\x03\x09\x01\x01"),
    "memdev_get_partition_info": lambda d: setattr(d, "next_partition", (512 * MiB, 1536 * MiB)),
    "memdev_get_lsa": lambda d: d.lsa.__setitem__(slice(0, 8), b"LSA-DATA"),
    "memdev_get_health_info": lambda d: d.__dict__.update(
        health_status=1, temperature=41, life_used=7, dirty_shutdown_count=2,
        corrected_volatile_errors=5, corrected_persistent_errors=6),
    "memdev_get_alert_config": lambda d: d.__dict__.update(
        alerts_enabled=0x05, life_used_warning=60, over_temp_warning=70, under_temp_warning=-5,
        cor_vmem_warning=40, cor_pmem_warning=50),
    "memdev_get_shutdown_state": lambda d: setattr(d, "shutdown_dirty", True),
    "get_poison_list": lambda d: (d.add_media_error(0x2000, 128, event=False),
                                  d.add_media_error(0x10000, event=False)),
    "memdev_clear_poison": lambda d: d.add_media_error(0x1000, event=False),
    "memdev_get_scan_media_results": lambda d: setattr(d, "scan_results",
                                                       [(0x4000, 64), (0x8000, 256)]),
    "memdev_get_security_state": lambda d: d.__dict__.update(user_passphrase=PASS, locked=True),
    "memdev_disable_passphrase": lambda d: setattr(d, "user_passphrase", PASS),
    "memdev_unlock": lambda d: d.__dict__.update(user_passphrase=PASS, locked=True),
    "memdev_passphrase_secure_erase": lambda d: d.write_media(0x40, b"data"),
    "memdev_get_sld_qos_control": lambda d: d.__dict__.update(
        qos_control=3, egress_moderate=12, egress_severe=30, backpressure_interval=4),
    "memdev_get_sld_qos_status": lambda d: setattr(d, "backpressure", 42),
    "memdev_get_dc_extent_list": _add_host_extent,
    "fmapi_get_dc_region_ext_list": _add_host_extent,
    "fmapi_set_dc_region_config": lambda d: setattr(d.regions[0], "block_size", 256 * MiB),
    "fmapi_dc_add_reference": _add_tag,
    "memdev_add_dc_response": _offer,
    "memdev_release_dc": lambda d: _offer(d, accepted=True),
    "fmapi_initiate_dc_release": lambda d: (_add_tag(d), _add_host_extent(d)),
    "fmapi_dc_remove_reference": lambda d: _add_tag(d, refs=1),
    "fmapi_dc_list_tags": lambda d: (_add_tag(d, refs=1), _add_host_extent(d)),
    "fmapi_get_domain_validation_sv_state": lambda d: setattr(d.vcss[0], "secret", TAG_BYTES),
    "fmapi_get_vcs_domain_validation_sv_state": lambda d: setattr(d.vcss[0], "secret",
                                                                  TAG_BYTES),
    "fmapi_get_domain_validation_sv": lambda d: setattr(d.vcss[0], "secret", TAG_BYTES),
    "fmapi_get_vcs_info": lambda d: d.bind_initial(0, 5, 2, 3),
    "fmapi_identify_sw_device": lambda d: d.bind_initial(0, 5, 2, 3),
    "fmapi_get_ld_allocations": lambda d: setattr(d, "allocations", [[4, 0], [3, 1], [2, 0],
                                                                     [1, 2]]),
    "fmapi_get_qos_control": _set_mld_qos,
    "fmapi_get_qos_status": _set_mld_qos,
    "fmapi_get_qos_allocated_bw": lambda d: setattr(d, "qos_allocated_bw", [10, 20, 30, 40]),
    "fmapi_get_qos_bw_limit": lambda d: setattr(d, "qos_bw_limit", [50, 60, 70, 80]),
}


def _no_decoded(obj):
    if isinstance(obj, dict):
        return {k: _no_decoded(v) for k, v in obj.items() if not k.endswith("_decoded")}
    if isinstance(obj, list):
        return [_no_decoded(v) for v in obj]
    return obj


def _u16(v):
    return v & 0xFFFF


def _logs(d):
    """(uuid, bytes, capability flags) of the model's logs, in its list order."""
    return [(t3_logs.CEL_UUID, d.cel_bytes(), 0),
            (t3_logs.VENDOR_DEBUG_LOG_UUID, bytes(d.debug_log), t3_logs.LOGCAP_CLEAR),
            (t3_logs.COMPONENT_STATE_DUMP_UUID, d.state_dump,
             t3_logs.LOGCAP_CLEAR | t3_logs.LOGCAP_POPULATE)]


def _log_entries(d):
    return [{"uuid": bytes(u).hex(), "log_size": len(data)} for u, data, _ in _logs(d)]


def _cel(data):
    return [{"opcode": data[i] | data[i + 1] << 8, "command_effect": data[i + 2] | data[i + 3] << 8}
            for i in range(0, len(data) - 3, 4)]


def _event_record_json(raw):
    """An event record as the model stored it (128 bytes), field by field."""
    le = lambda a, b: int.from_bytes(raw[a:b], "little")     # noqa: E731
    return {"uuid": raw[0:16].hex(), "length": raw[16], "flags": raw[17:20].hex(),
            "handle": le(20, 22), "related_handle": le(22, 24), "timestamp": le(24, 32),
            "maint_op_class": raw[32], "maint_op_subclass": raw[33], "ld_id": le(34, 36),
            "head_id": raw[36], "data": raw[48:128].hex()}


def _region(r, fm):
    out = {"base": r.base, "decode_len": r.length // CAP, "decode_len_bytes": r.length,
           "region_len": r.length, "block_size": r.block_size}
    if fm:
        out.update(flags=r.dsmas_flags, sanitize_on_release=int(r.sanitize_on_release))
    else:
        out.update(dsmadhandle=r.index, flags=int(r.sanitize_on_release))
    return out


def _dc_trailer(d):
    return {"num_extents_supported": d.max_extents,
            "num_extents_available": d.max_extents - len(d.host_extents)
            - sum(len(o.extents) for o in d.offers),                # held and offered count
            "num_tags_supported": d.max_tags, "num_tags_available": d.max_tags - len(d.tags)}


def _extents(d):
    return [{"start_dpa": e.start, "len": e.length, "tag": e.tag.hex(),
             "shared_seq": e.shared_seq} for e in d.host_extents]


def _port_block(sw, pid):
    p = sw.ports[pid]
    up = not p.perst and (p.is_usp or p.device is not None)
    return {"port_id": pid, "config_state": 4 if p.is_usp else 3,
            "conn_dev_cxl_ver": 0 if p.device is None else p.device_mode,
            "conn_dev_type": 0 if p.device is None else (5 if p.is_mld else 4),
            "port_cxl_ver_bitmask": p.supported_modes, "max_link_width": p.max_width,
            "negotiated_link_width": p.max_width if up else 0,
            "supported_link_speeds_vector": p.speeds, "max_link_speed": p.max_speed,
            "current_link_speed": p.max_speed if up else 0, "ltssm_state": 4 if up else 0,
            "first_lane_num": 0, "link_state": 4 if up else 0,
            "supported_ld_count": p.supported_ld_count}


def _vppb_json(v):
    bound = v.status in (2, 3)
    return {"binding_status": v.status, "bound_port_id": v.port if bound else 0xFF,
            "bound_ld_id": v.ld if v.status == 3 else 0xFF}


def _bitmask(ids):
    out = bytearray(32)
    for i in ids:
        out[i // 8] |= 1 << (i % 8)
    return out.hex()


def _allocs(rows):
    return [{"range_1_allocation_mult": a, "range_2_allocation_mult": b} for a, b in rows]


def _mld_qos(d):
    return {"qos_telemetry_control": d.qos_telemetry_control,
            "egress_moderate_percentage": d.egress_moderate_percentage,
            "egress_severe_percentage": d.egress_severe_percentage,
            "backpressure_sample_interval": d.backpressure_sample_interval,
            "recmpbasis": d.recmpbasis,
            "completion_collection_interval": d.completion_collection_interval}


def _config_dword(space, offset):
    return int.from_bytes(bytes(space.data[offset:offset + 4]), "little")


EXPECT = {
    "identify": lambda d: {
        "vendor_id": d.vendor_id, "device_id": d.device_id,
        "subsys_vendor_id": d.subsys_vendor_id, "subsys_id": d.subsys_id,
        "serial_num": d.serial, "max_msg_size": d.max_msg_size,
        "max_msg_size_bytes": 1 << d.max_msg_size, "component_type": d.component_type},
    # 2 s into an 8 s Scan Media (4304h): running, 25 %
    "bg_op_status": lambda d: {"status": 1 | 25 << 1, "opcode": 0x4304, "returncode": 0,
                               "vendor_ext_status": 0},
    "get_response_msg_limit": lambda d: {"limit": 9, "limit_bytes": 512},
    "set_response_msg_limit": lambda d: {"limit": d.response_msg_limit,
                                         "limit_bytes": 1 << d.response_msg_limit},
    "get_event_records": lambda d: {
        "flags": 0, "overflow_err_count": 0, "first_overflow_timestamp": 0,
        "last_overflow_timestamp": 0, "record_count": len(d.event_logs[0].records),
        "records": [_event_record_json(raw) for _, raw in d.event_logs[0].records]},
    "get_event_interrupt_policy": lambda d: dict(zip(
        ("informational_settings", "warning_settings", "failure_settings", "fatal_settings",
         "dcd_settings"), [e.interrupt for e in d.event_logs])),
    "get_mctp_event_interrupt_policy": lambda d: {
        "event_interrupt_settings": d.mctp_event_interrupts},
    "get_fw_info": lambda d: {
        "slots_supported": len(d.fw_slots), "slot_info": d.fw_active | d.fw_staged << 3,
        "caps": t3_firmware.FW_CAP_ONLINE_ACTIVATION,
        **{"fw_rev%d" % (i + 1): (d.fw_slots + [None] * 4)[i] or "" for i in range(4)}},
    "get_timestamp": lambda d: {"timestamp": HOST_NS + 2_500_000_000},
    "get_supported_logs": lambda d: {"num_supported_log_entries": 3,
                                     "entries": _log_entries(d)},
    "get_log": lambda d: {"length": 64, "data": d.cel_bytes()[:64].hex(),
                          "entries": _cel(d.cel_bytes()[:64])},
    "get_log_cel": lambda d: {"entries": _cel(d.cel_bytes()[:64])},
    "get_log_capabilities": lambda d: {"parameter_flags": _logs(d)[0][2]},
    "get_supported_logs_sublist": lambda d: {
        "num_supported_log_entries": 3, "total_num_supported_log_entries": 3,
        "start_log_entry_index": 0, "entries": _log_entries(d)},
    "get_supported_features": lambda d: {
        "num_supported_feature_entries": len(d.features),
        "device_supported_features": len(d.features),
        "supported_feature_entries": [{
            "feature_id": f.uuid.hex(), "feature_index": i, "get_feature_size": f.read_size,
            "set_feature_size": f.write_size, "attribute_flags": f.attributes,
            "get_feature_version": f.get_version, "set_feature_version": f.set_version,
            "set_feature_effects": f.set_effects} for i, f in enumerate(d.features)]},
    "get_feature": lambda d: {"length": 4, "data": d.features[0].current[:4].hex()},
    "memdev_identify": lambda d: {
        "fw_revision": d.fw_slots[d.fw_active - 1], "total_capacity": d.total_bytes // CAP,
        "total_capacity_bytes": d.total_bytes,
        "volatile_capacity": d.volatile_only_bytes // CAP,
        "volatile_capacity_bytes": d.volatile_only_bytes,
        "persistent_capacity": d.persistent_only_bytes // CAP,
        "persistent_capacity_bytes": d.persistent_only_bytes,
        "partition_align": d.partition_align_bytes // CAP,
        "partition_align_bytes": d.partition_align_bytes,
        "info_event_log_size": d.event_logs[0].size,
        "warning_event_log_size": d.event_logs[1].size,
        "failure_event_log_size": d.event_logs[2].size,
        "fatal_event_log_size": d.event_logs[3].size, "lsa_size": len(d.lsa),
        "poison_list_max_mer": d.poison_list_max.to_bytes(3, "little").hex(),
        "inject_poison_limit": d.inject_poison_limit, "poison_caps": 0x3,
        "qos_telemetry_caps": 0x3, "dc_event_log_size": d.event_logs[4].size},
    "memdev_get_partition_info": lambda d: {
        "active_vmem": d.volatile_bytes // CAP, "active_vmem_bytes": d.volatile_bytes,
        "active_pmem": d.persistent_bytes // CAP, "active_pmem_bytes": d.persistent_bytes,
        "next_vmem": d.next_partition[0] // CAP, "next_vmem_bytes": d.next_partition[0],
        "next_pmem": d.next_partition[1] // CAP, "next_pmem_bytes": d.next_partition[1]},
    "memdev_get_lsa": lambda d: {"length": 64, "data": bytes(d.lsa[:64]).hex()},
    "memdev_get_health_info": lambda d: {
        "health_status": d.health_status, "media_status": d.media_status,
        "additional_status": 0, "life_used": d.life_used, "device_temperature": d.temperature,
        "dirty_shutdown_count": d.dirty_shutdown_count,
        "corrected_volatile_error_count": d.corrected_volatile_errors,
        "corrected_persistent_error_count": d.corrected_persistent_errors},
    "memdev_get_alert_config": lambda d: {
        "valid_alerts": d.alerts_enabled, "programmable_alerts": 0x1F,
        "life_used_critical_alert_threshold": d.life_used_critical,
        "life_used_programmable_warning_threshold": d.life_used_warning,
        "device_over_temperature_critical_alert_threshold": _u16(d.over_temp_critical),
        "device_under_temperature_critical_alert_threshold": _u16(d.under_temp_critical),
        "device_over_temperature_programmable_warning_threshold": _u16(d.over_temp_warning),
        "device_under_temperature_programmable_warning_threshold": _u16(d.under_temp_warning),
        "corrected_volatile_mem_error_programmable_warning_threshold": d.cor_vmem_warning,
        "corrected_persistent_mem_error_programmable_warning_threshold": d.cor_pmem_warning},
    "memdev_get_shutdown_state": lambda d: {"state": int(d.shutdown_dirty)},
    # the CLI asks with "restart" set (bit 0), so the reply acknowledges it
    "get_poison_list": lambda d: {
        "poison_list_flags": t3_poison.POISON_RESTART_ACK, "overflow_timestamp": 0,
        "more_err_media_record_cnt": len(d.poison),
        "records": [{"media_err_addr": dpa | source, "media_err_len": n // 64,
                     "media_err_len_bytes": n} for dpa, n, source in d.poison]},
    "memdev_get_scan_media_capabilities": lambda d: {
        "estimated_scan_media_time": t3_poison.scan_ms_for(256 * MiB)},
    "memdev_get_scan_media_results": lambda d: {
        "scan_media_restart_physaddr": 0, "scan_media_restart_physaddr_length": 0,
        "scan_media_restart_physaddr_length_bytes": 0, "scan_media_flags": 0,
        "media_error_count": 2,
        "record": [{"media_error_address": 0x4000, "media_error_length": 1,
                    "media_error_length_bytes": 64},
                   {"media_error_address": 0x8000, "media_error_length": 4,
                    "media_error_length_bytes": 256}]},
    "memdev_media_operations_discovery": lambda d: {
        "dpa_range_granularity": 64, "total_supported_ops": len(t3_media.MEDIA_OPS),
        "num_supported_ops": len(t3_media.MEDIA_OPS),
        "entry": [{"media_op_class": c, "media_op_subclass": s} for c, s in t3_media.MEDIA_OPS]},
    "memdev_get_security_state": lambda d: {
        "security_state": t3_security.SEC_USER_PASS_SET | t3_security.SEC_LOCKED},
    "memdev_get_sld_qos_control": lambda d: {
        "qos_telemetry_control": d.qos_control,
        "egress_moderate_percentage": d.egress_moderate,
        "egress_severe_percentage": d.egress_severe,
        "backpressure_sample_interval": d.backpressure_interval},
    "memdev_get_sld_qos_status": lambda d: {"backpressure_avg_percentage": d.backpressure},
    "memdev_get_dc_config": lambda d: {
        "num_regions": len(d.regions), "regions_returned": len(d.regions),
        "region_configs": [_region(r, False) for r in d.regions], **_dc_trailer(d)},
    "memdev_get_dc_extent_list": lambda d: {
        "num_extents_returned": len(d.host_extents), "total_num_extents": len(d.host_extents),
        "generation_num": d.generation, "extents": _extents(d)},
    "fmapi_identify_sw_device": lambda d: {
        "ingress_port_id": d.usp, "num_physical_ports": len(d.ports), "num_vcs": len(d.vcss),
        "active_port_bitmask": _bitmask(d.ports), "active_vcs_bitmask": _bitmask([0]),
        "num_total_vppb": len(d.vcss[0].vppbs),
        "num_active_vppb": sum(v.status in (2, 3) for v in d.vcss[0].vppbs),
        "num_hdm_decoder_per_usp": d.hdm_decoders},
    "fmapi_get_phys_port_state": lambda d: {
        "num_ports": 4, "ports": [_port_block(d, p) for p in range(4)]},
    "fmapi_get_domain_validation_sv_state": lambda d: {
        "secret_value_state": int(d.vcss[0].secret is not None)},
    "fmapi_get_vcs_domain_validation_sv_state": lambda d: {
        "secret_value_state": int(d.vcss[0].secret is not None)},
    "fmapi_get_domain_validation_sv": lambda d: {"secret_value_uuid": d.vcss[0].secret.hex()},
    "fmapi_get_vcs_info": lambda d: {"num_vcs": 1, "vcs_info_list": [{
        "vcs_id": 0, "vcs_state": d.vcss[0].state, "usp_id": d.vcss[0].usp,
        "num_vppbs": len(d.vcss[0].vppbs), "vppbs": [_vppb_json(v) for v in d.vcss[0].vppbs]}]},
    "fmapi_send_ppb_cxlio_config_request": lambda d: {
        "return_data": _config_dword(d.ports[4].config, 0)},
    "fmapi_send_ld_cxlio_config_request": lambda d: {
        "return_data": _config_dword(d.ports[2].device.lds[0].config, 0)},
    "fmapi_send_ld_cxlio_mem_request": lambda d: {"return_size": 8, "return_data": ""},
    "fmapi_get_ld_info": lambda d: {"memory_size": d.capacity, "ld_count": len(d.lds),
                                    "qos_telemetry_capability": d.qos_telemetry_capability},
    "fmapi_get_ld_allocations": lambda d: {
        "number_ld": len(d.lds), "memory_granularity": d.granularity, "start_ld_id": 0,
        "ld_allocation_list_len": len(d.lds), "ld_allocation_list": _allocs(d.allocations)},
    "fmapi_set_ld_allocations": lambda d: {"number_ld": 2, "start_ld_id": 0,
                                           "ld_allocation_list": _allocs(d.allocations[:2])},
    "fmapi_get_qos_control": _mld_qos,
    "fmapi_set_qos_control": _mld_qos,
    "fmapi_get_qos_status": lambda d: {"backpressure_avg_percentage":
                                       d.backpressure_avg_percentage},
    "fmapi_get_qos_allocated_bw": lambda d: {"number_ld": 4, "start_ld_id": 0,
                                             "qos_allocation_fraction":
                                             bytes(d.qos_allocated_bw).hex()},
    "fmapi_set_qos_allocated_bw": lambda d: {"number_ld": 4, "start_ld_id": 0,
                                             "qos_allocation_fraction":
                                             bytes(d.qos_allocated_bw).hex()},
    "fmapi_get_qos_bw_limit": lambda d: {"number_ld": 4, "start_ld_id": 0,
                                         "qos_limit_fraction": bytes(d.qos_bw_limit).hex()},
    "fmapi_set_qos_bw_limit": lambda d: {"number_ld": 4, "start_ld_id": 0,
                                         "qos_limit_fraction": bytes(d.qos_bw_limit).hex()},
    "fmapi_get_multiheaded_info": lambda d: {
        "num_lds": len(d.lds), "num_heads": len(d.heads), "start_ld_id": 0,
        "ld_map_len": len(d.ld_map), "ld_map": bytes(d.ld_map).hex()},
    "fmapi_get_head_info": lambda d: {"num_heads": len(d.heads), "head_info_list": [{
        "port_num": h.port_num, "field_1": h.max_link_width, "field_2": h.negotiated_link_width,
        "field_3": h.supported_link_speeds, "field_4": h.max_link_speed,
        "field_5": h.current_link_speed, "ltssm_state": h.ltssm_state,
        "first_negotiated_lane_num": h.first_lane, "link_state_flags": h.link_state_flags}
        for h in d.heads]},
    "fmapi_get_dcd_info": lambda d: {
        "num_hosts": 1, "num_supported_dc_regions": len(d.regions),
        "capacity_selection_policies": 0b1111, "capacity_removal_policies": 0b11,
        "sanitize_on_release_config_mask": (1 << len(d.regions)) - 1,
        "total_dynamic_capacity": sum(r.length for r in d.regions) // CAP,
        "total_dynamic_capacity_bytes": sum(r.length for r in d.regions),
        **{"region_%d_supported_blk_sz_mask" % i:
           (d.regions[i].supported_mask if i < len(d.regions) else 0) for i in range(8)}},
    "fmapi_get_dc_reg_config": lambda d: {
        "host_id": 0, "num_regions": len(d.regions), "regions_returned": len(d.regions),
        "region_configs": [_region(r, True) for r in d.regions], **_dc_trailer(d)},
    "fmapi_get_dc_region_ext_list": lambda d: {
        "host_id": 0, "start_ext_index": 0, "extents_returned": len(d.host_extents),
        "total_extents": len(d.host_extents), "list_generation_num": d.generation,
        "extents": _extents(d)},
    "fmapi_dc_list_tags": lambda d: {
        "generation_num": d.tag_generation, "total_num_tags": len(d.tags),
        "num_tags_returned": len(d.tags), "validity_bitmap": 3,
        "tags_list": [{"tag": t.hex(), "flags": int(s.fm_refs > 0),
                       "ref_bitmap": "01" + "00" * 31, "pending_ref_bitmap": "00" * 32}
                      for t, s in sorted(d.tags.items())]},
}


def _effect(check):
    def run(d):
        assert check(d), "the command did not leave the device in the state it asks for"
    return run


EFFECT = {
    "request_bg_op_abort": _effect(lambda d: d.bg.done and d.bg.return_code == emu.ABORT),
    "clear_event_records": _effect(lambda d: d.event_logs[0].records == []),
    "set_event_interrupt_policy": _effect(
        lambda d: (d.event_logs[0].interrupt, d.event_logs[3].interrupt) == (0x11, 0x00)),
    "set_mctp_event_interrupt_policy": _effect(lambda d: d.mctp_event_interrupts == 0b01100),
    "event_notification": _effect(lambda d: d.notifications == [1]),
    "transfer_fw": _effect(lambda d: d.fw_slots[1] == "REV-2.0.0"),
    "activate_fw": _effect(lambda d: (d.fw_active, d.fw_staged) == (1, 2)),
    "set_timestamp": _effect(lambda d: d.timestamp_base == (1714564800 * 10 ** 9, T_NOW)),
    "clear_log": _effect(lambda d: d.debug_log == b""),
    "populate_log": _effect(lambda d: d.bg.opcode == 0x0404 and not d.bg.done),
    "memdev_add_dc_response": _effect(lambda d: d.offers == [] and [
        (e.start, e.length) for e in d.host_extents] == [(2 * GiB, 256 * MiB)]),
    "memdev_release_dc": _effect(lambda d: d.host_extents == []),
    "fmapi_initiate_dc_release": _effect(   # the host is asked: one Release Capacity event
        lambda d: [raw[48] for _, raw in d.event_logs[4].records] == [1]),
    "set_feature": _effect(lambda d: d.features[0].current[1:] == b"\x0c\x01\x01"),
    "memdev_set_partition_info": _effect(
        lambda d: d.next_partition == (512 * MiB, d.total_bytes - 512 * MiB)),
    "memdev_set_lsa": _effect(lambda d: d.lsa[0x40:0x44] == b"\xde\xad\xbe\xef"),
    "memdev_set_alert_config": _effect(
        lambda d: (d.life_used_warning, d.alerts_enabled) == (50, 0x01)),
    "memdev_set_shutdown_state": _effect(lambda d: d.shutdown_dirty is True),
    "memdev_inject_poison": _effect(lambda d: d.poison == [[0x1000, 64,
                                                             t3_poison.SOURCE_INJECTED]]),
    "memdev_clear_poison": _effect(lambda d: d.poison == []),
    "memdev_scan_media": _effect(lambda d: d.bg.opcode == 0x4304
                                 and d._scan["length"] == 256 * MiB),
    "memdev_sanitize": _effect(lambda d: d.bg.opcode == 0x4400 and d.media_disabled),
    "memdev_secure_erase": _effect(lambda d: d.bg.opcode == 0x4401 and d.media_disabled),
    "memdev_media_operations_sanitize": _effect(lambda d: d.bg.opcode == 0x4402),
    "memdev_set_passphrase": _effect(lambda d: d.user_passphrase == PASS),
    "memdev_disable_passphrase": _effect(lambda d: d.user_passphrase is None),
    "memdev_unlock": _effect(lambda d: d.locked is False),
    "memdev_freeze_security_state": _effect(lambda d: d.frozen is True),
    "memdev_passphrase_secure_erase": _effect(lambda d: d.media == {}),
    "memdev_set_sld_qos_control": _effect(
        lambda d: (d.egress_moderate, d.egress_severe, d.backpressure_interval) == (10, 20, 8)),
    "fmapi_phys_port_control": _effect(lambda d: d.ports[4].training is not None),
    "fmapi_set_domain_validation_sv": _effect(lambda d: d.vcss[0].secret == TAG_BYTES),
    "fmapi_bind_vppb": _effect(lambda d: d.vcss[0].vppbs[3].pending == (4, None)),
    "fmapi_unbind_vppb": _effect(lambda d: d.vcss[0].vppbs[0].status == 1),   # in progress
    "perform_maintenance": _effect(lambda d: d.ppr_repairs == [(0x40, "hard", 0x030201)]),
    "perform_maintenance_sparing": _effect(lambda d: d.sparing_repairs == [
        {"granularity": "rank", "kind": "soft", "channel": 0, "rank": 0}]),
    "fmapi_generate_aer_event": _effect(lambda d: (d.aer_events, d.last_aer_event["status_bit"],
                                                   d.last_aer_event["severity"])
                                        == (1, 6, "correctable")),
    "fmapi_set_dc_region_config": _effect(lambda d: d.regions[0].block_size == 2 * MiB),
    "fmapi_initiate_dc_add": _effect(lambda d: [sum(e.length for e in o.extents)
                                                for o in d.offers] == [256 * MiB]),
    "fmapi_dc_add_reference": _effect(lambda d: d.tags[TAG_BYTES].fm_refs == 1),
    "fmapi_dc_remove_reference": _effect(lambda d: TAG_BYTES not in d.tags),
}
# commands whose reply has a payload AND a state change worth checking
ALSO_EFFECT = {
    "set_response_msg_limit": _effect(lambda d: d.response_msg_limit == 11),
    "fmapi_send_ld_cxlio_mem_request": _effect(
        lambda d: bytes(d.ports[2].device.lds[0].memory[:8]) == bytes.fromhex(
            "0011223344556677")),
    "fmapi_set_ld_allocations": _effect(lambda d: d.allocations[:2] == [[1, 0], [1, 0]]),
    "fmapi_set_qos_control": _effect(lambda d: d.egress_severe_percentage == 20),
    "fmapi_set_qos_allocated_bw": _effect(lambda d: d.qos_allocated_bw == [64] * 4),
    "fmapi_set_qos_bw_limit": _effect(lambda d: d.qos_bw_limit == [255] * 4),
}


class Emulated:
    """Opens each target as the CLI would, then puts the device the command
    reaches into the command's SETUP state with its clock stopped."""

    def __init__(self, monkeypatch, entry, setup=None):
        self.entry = entry
        self.setup = setup or SETUP.get(entry.name, lambda d: None)
        self.devices = []
        self._open = cli_target.open_endpoint
        monkeypatch.setattr(cli_target, "open_endpoint", self.open)

    def open(self, target, timeout=None):
        ep = self._open(target, timeout)
        dev = _reached(ep.transport.device, place(self.entry)[1])
        dev.clock = lambda: T_NOW
        self.setup(dev)
        self.devices.append(dev)
        return ep

    @property
    def device(self):
        return self.devices[-1]


def _table_cells(text):
    """{label: value text} of the key/value lines of a table (columns 2+ spaces
    apart; a value wrapped onto the next lines is joined back)."""
    out, last, indent = {}, None, 0
    for line in text.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        lead = len(line) - len(line.lstrip())
        if len(cells) == 2:
            last, indent = cells[0], line.index(cells[1], lead + len(cells[0]))
            out.setdefault(last, cells[1])
        elif len(cells) == 1 and cells[0] and last is not None and lead == indent:
            out[last] += " " + cells[0]
        else:
            last = None
    return out


def _ids(cell):
    """The ids a cell lists as ranges: "0-3, 5" -> {0, 1, 2, 3, 5}."""
    out = set()
    for part in re.findall(r"\d+(?:-\d+)?", cell):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


_SIZE = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
         "PiB": 1 << 50, "EiB": 1 << 60}


def _numbers(cell):
    """Every number a table cell shows: decimal, hex, sizes with units, 2^n."""
    found = set()
    found.update(int(h, 16) for h in re.findall(r"\b([0-9a-fA-F]+)h\b", cell))
    for m in re.finditer(r"(-?0x[0-9a-fA-F]+|-?\d+(?:\.\d+)?)(?:\s*([KMGTPE]?i?B)\b)?", cell):
        num, unit = m.group(1), m.group(2)
        value = int(num, 16) if "0x" in num else float(num)
        found.add(value)
        if unit in _SIZE:
            found.add(value * _SIZE[unit])
            if "." in num:                       # rounded to what the digits show
                step = 10 ** -len(num.split(".")[1]) * _SIZE[unit]
                found.add(("~", value * _SIZE[unit], step))
    return found


def _near(value, found):
    """``value`` is among the numbers ``found``, exactly or as rounded for display."""
    return value in found or any(isinstance(f, tuple) and abs(f[1] - value) <= f[2] / 2 + 1
                                 for f in found)


def _said(value):
    """How a table writes one decoded value."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    return str(value).replace("-", " ") if isinstance(value, str) else str(value)


def _shows(cell, key, value, doc):
    """The table cell ``cell`` shows field ``key`` = ``value``: as a number (any
    base or size unit), as the text, or as what the JSON decodes it to."""
    if isinstance(value, int) and (_near(value, _numbers(cell))
                                   or _near(doc.get(key + "_bytes", -1), _numbers(cell))):
        return True
    if isinstance(value, str) and value and value in cell:
        return True
    if value == "" and ("empty" in cell or cell in ("-", "")):
        return True
    decoded = doc.get(key + "_decoded")
    if decoded is None:
        return value == 0 and cell.lower() in ("none", "not set", "no", "-")
    return _decoded_shown(cell, decoded, value)


def _squash(text):
    """Text without spaces and hyphens: a wrapped cell may break a word anywhere."""
    return re.sub(r"[\s_-]", "", str(text))


def _decoded_shown(cell, decoded, value):
    flat = _squash(cell)
    if isinstance(decoded, dict) and "uuid" in decoded:
        return decoded["uuid"] in cell.replace(" ", "")
    if isinstance(decoded, bool) or isinstance(decoded, str):
        return _squash(_said(decoded)) in flat
    if isinstance(decoded, int):
        return decoded in _numbers(cell)
    if isinstance(decoded, list):
        if not decoded:
            zero = value == 0 or (isinstance(value, str) and set(value) <= {"0"})
            return zero and cell.lower() in ("none", "-", "")
        if all(isinstance(x, int) for x in decoded):
            return _ids(cell.replace(" ", "")) == set(decoded) or set(decoded) <= _numbers(cell)
        return all(_squash(_said(x)) in flat for x in decoded)
    if isinstance(decoded, dict):
        if all(_squash("%s %s" % (k, _said(v))) in flat
               for k, v in decoded.items() if not isinstance(v, (list, dict))):
            return True
        listed = [x for v in decoded.values() if isinstance(v, list) for x in v]
        return bool(listed) and all(_squash(_said(x)) in flat for x in listed)
    return False


def _row_sections(text):
    """[(column labels, [{label: cell}])] of the tables with a header rule."""
    lines = text.splitlines()
    out = []
    for i in range(1, len(lines)):
        if not lines[i].strip().startswith("\u2500") or not lines[i - 1].strip():
            continue
        header = lines[i - 1]
        starts = [m.start() for m in re.finditer(r"(?<!\S)\S+(?: \S+)*", header)]
        labels = [header[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        rows = []
        for line in lines[i + 1:]:
            if not line.strip():
                break
            row = {lab: line[a:b].strip() if b else line[a:].strip()
                   for lab, a, b in zip(labels, starts, starts[1:] + [None])}
            filled = sum(1 for cell in row.values() if cell)
            if rows and (not row[labels[0]] or filled <= len(labels) // 2):   # wrapped
                for lab, cell in row.items():
                    if cell:
                        rows[-1][lab] = (rows[-1][lab] + " " + cell).strip()
            else:
                rows.append(row)
        out.append((labels, rows))
    return out


def _hexdump(text):
    """The bytes a hexdump section shows."""
    data = b""
    for line in text.splitlines():
        parts = re.split(r"\s{2,}", line.strip())
        if len(parts) >= 3 and re.fullmatch(r"[0-9a-f]{8}", parts[0]):
            data += bytes.fromhex(" ".join(parts[1:-1]))
    return data


def check_table_rows(sections, expected, doc):
    """Each list of structures in the reply: row i of the table whose columns
    name its fields shows element i's values.  Returns the cells compared."""
    checked = 0
    for key, items in expected.items():
        if not (isinstance(items, list) and items and isinstance(items[0], dict)):
            continue
        labels = {k.replace("_", " "): k for k in items[0]}
        best = max(sections, key=lambda s: len(set(s[0]) & set(labels)), default=None)
        if best is None or not set(best[0]) & set(labels):
            continue
        cols, rows = best
        assert len(rows) == len(items), (key, len(rows), len(items))
        for item, item_doc, row in zip(items, doc[key], rows):
            for label in set(cols) & set(labels):
                field = labels[label]
                assert _shows(row[label], field, item[field], item_doc), (
                    key, field, item[field], row[label])
                checked += 1
    return checked


def check_vcs_rows(text, expected):
    """Get VCS Info's view: one row per vPPB (vcs, state, usp, vppb, binding, port, ld)."""
    sections = _records(text)[1] if _is_records(text) else _row_sections(text)
    [(cols, rows)] = [s for s in sections if "binding" in s[0]]
    vcs = expected["vcs_info_list"][0]
    assert len(rows) == len(vcs["vppbs"])
    for i, (row, v) in enumerate(zip(rows, vcs["vppbs"])):
        bound = {0x0: "unbound", 0x1: "in-progress", 0x2: "bound-port", 0x3: "bound-ld"}
        shown = lambda n, ok: str(n) if ok and n != 0xFF else "-"        # noqa: E731
        assert (row["vcs"], row["usp"], row["vppb"]) == (
            str(vcs["vcs_id"]), str(vcs["usp_id"]), str(i)), row
        status = v["binding_status"]
        assert (row["binding"], row["port"], row["ld"]) == (
            bound[status], shown(v["bound_port_id"], status in (2, 3)),
            shown(v["bound_ld_id"], status == 3)), row
    return len(rows)


def _is_records(text):
    """Too wide for a table, the reply is drawn as records ("  label: value" lines,
    "title [i]" headings for the elements of a list)."""
    return any(re.match(r"^  [^:\s][^:]*: ", line) for line in text.splitlines())


def _records(text):
    """({label: value} of the top level, [(labels, [{label: value}])] per list)."""
    top, lists = {}, {}
    target, last = top, None
    for line in text.splitlines()[1:]:              # the first line is the title
        heading = re.match(r"^(\S.*) \[(\d+)\]$", line)
        pair = re.match(r"^  ([^:\s][^:]*): ?(.*)$", line)
        if heading:
            target = {}
            lists.setdefault(heading.group(1), []).append(target)
            last = None
        elif pair:
            target[pair.group(1)] = pair.group(2).strip()
            last = pair.group(1)
        elif line.strip() and last is not None:     # a long value goes on, cut anywhere
            target[last] += line.strip()
    return top, [(list(rows[0]), rows) for rows in lists.values()]


def check_table_values(text, expected, doc):
    """Every scalar field the table shows on a row of its own shows the expected
    value, every list its rows, a byte reply its hexdump.  Returns the cells compared."""
    top, listed = _records(text)
    cells, sections = dict(_table_cells(text), **top), _row_sections(text) + listed
    checked = check_table_rows(sections, expected, doc)
    if isinstance(expected.get("data"), str) and "entries" not in expected:
        assert _hexdump(text).hex() == expected["data"], text
        checked += 1
    for key, value in expected.items():
        if isinstance(value, (list, dict)) or key.endswith("_bytes"):
            continue
        cell = cells.get(key.replace("_", " "))
        if cell is None:
            continue
        assert _shows(cell, key, value, doc), (key, value, cell)
        checked += 1
    return checked


# Replies whose table is a view of its own (rows, not one key/value per field).
TABLE_VIEWS = {"get_log", "get_log_cel", "fmapi_send_ld_cxlio_mem_request"}


def _send(entry, passfile, fwfile, extra=()):
    target, tunnel = place(entry)
    base = [entry.group, entry.cli_name, target] + tunnel + command_args(entry, passfile, fwfile)
    return invoke(base + list(extra))


def test_every_command_has_one_expectation_in_the_emulator_sweep():
    names = {e.name for e in ENTRIES}
    with_payload = {e.name for e in ENTRIES
                    if e.call != "vendor" and (e.rsp is not None or e.size == "raw")}
    assert set(FAILS).isdisjoint(EXPECT) and set(FAILS).isdisjoint(EFFECT)
    assert set(EXPECT).isdisjoint(EFFECT)
    assert set(FAILS) | set(EXPECT) | set(EFFECT) == names
    assert set(EXPECT) <= with_payload and not set(EFFECT) & with_payload
    assert set(SETUP) <= names and set(ALSO_EFFECT) <= set(EXPECT)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_command_against_the_emulator_gives_the_device_state_or_its_specified_error(
        entry, monkeypatch, passfile, fwfile):
    emulated = Emulated(monkeypatch, entry)
    res = _send(entry, passfile, fwfile, ["--json"])
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1
    if entry.name in FAILS:
        name, why = FAILS[entry.name]
        code = getattr(emu, name)
        assert res.exit_code == 1, (why, both(res))
        err = doc["error"]
        assert (err["type"], err["exit_code"]) == ("DeviceError", 1)
        assert (err["return_code"], err["return_code_name"]) == (code, name), (why, err)
        assert "CXL return code %d (%s)" % (code, name) in res.stderr
        plain = _send(entry, passfile, fwfile)
        assert plain.exit_code == 1 and "(%s)" % name in plain.stderr
        assert "Traceback" not in both(plain)
        return
    assert res.exit_code == 0, both(res)
    dev = emulated.device
    if entry.name in EFFECT:
        assert doc["result"] is None
        EFFECT[entry.name](dev)
    else:
        expected = EXPECT[entry.name](dev)
        assert _no_decoded(doc["result"]) == expected
        if entry.name in ALSO_EFFECT:
            ALSO_EFFECT[entry.name](dev)

    table = _send(entry, passfile, fwfile)
    assert table.exit_code == 0 and "Traceback" not in both(table)
    assert entry.cli_name in table.stdout
    if entry.name in EXPECT:
        shown = check_table_values(table.stdout, expected, doc["result"])
        if entry.name == "fmapi_get_vcs_info":
            shown = check_vcs_rows(table.stdout, expected)
        scalars = [k for k, v in expected.items() if not isinstance(v, (list, dict))]
        if expected and entry.name not in TABLE_VIEWS:
            assert shown, table.stdout            # the table shows the values, not just labels
    else:
        assert "done on" in table.stdout or "background" in table.stdout

    raw = _send(entry, passfile, fwfile, ["-o", "raw"])
    assert raw.exit_code == 0
    if entry.name in EXPECT:
        # -o raw is the reply payload: it decodes to what --json showed
        decoded = codec.decode_response(entry, raw.stdout_bytes)
        request = None
        if entry.name == "get_log":
            request = {"uuid": t3_logs.CEL_UUID}
        assert views.result_json(entry, decoded, request) == doc["result"]
    else:
        assert raw.stdout_bytes == b""


# ------------------------------------------------------------------------ refused in a state

def _sanitizing(d):
    _start_bg(d, 8.0, 0x4400, 2.0)
    d.media_disabled = True


# (command, device state, options, the return code CXL r3.1 names for that state)
REFUSED = [
    ("memdev_unlock", lambda d: None, None, "SECURITY"),                # not locked: no passphrase
    ("memdev_unlock", lambda d: d.__dict__.update(user_passphrase=b"other".ljust(32, b"\0"),
                                                  locked=True), None, "PASSPHRASE"),
    ("memdev_set_passphrase", lambda d: setattr(d, "frozen", True), None, "SECURITY"),
    ("transfer_fw", lambda d: None, ["--action", "full", "--slot", "1"], "FWSLOT"),  # active slot
    ("memdev_scan_media", _sanitizing, None, "BUSY"),                  # one background op at a time
    ("get_event_records", _sanitizing, None, "MEDIADISABLED"),
    ("memdev_inject_poison", lambda d: None, ["--address", "0x80000000"], "PADDR"),  # past 2 GiB
]


@pytest.mark.parametrize("name,setup,options,code", REFUSED,
                         ids=["%s-%s" % (r[0], r[3]) for r in REFUSED])
def test_a_command_refused_in_a_state_gives_the_return_code_specified_for_it(
        name, setup, options, code, monkeypatch, passfile, fwfile):
    entry = registry.get(name)
    Emulated(monkeypatch, entry, setup)
    target, tunnel = place(entry)
    args = command_args(entry, passfile, fwfile)
    if options:
        args = [a for a in args if a == "--yes"] + options
        if name == "transfer_fw":
            args += ["--data", fwfile]
    res = invoke([entry.group, entry.cli_name, target] + tunnel + args + ["--json"])
    assert res.exit_code == 1, both(res)
    err = json.loads(res.stdout)["error"]
    assert (err["return_code"], err["return_code_name"]) == (getattr(emu, code), code), err
    assert "(%s)" % code in res.stderr


# ------------------------------------------------------------------------ tunnels

@pytest.mark.parametrize("args,hops", [
    (["--port", "3"], ((0, 3),)),
    (["--ld", "2"], ((0, 2),)),
    (["--port", "1", "--ld", "2"], ((0, 1), (0, 2))),
    (["--mhd"], ((1, 0),)),
])
def test_tunnel_flags_reach_the_wire_as_tunnel_hops(mock, args, hops):
    entry = registry.get("memdev_get_health_info")
    mock.replies = {entry.opcode: (0, mock_payload(entry))}
    res = invoke(["memdev", "get-health-info", "emu:type3"] + args + ["--json"])
    assert res.exit_code == 0, both(res)
    assert mock.transport.last_hops == hops
    doc = json.loads(res.stdout)
    assert doc["tunnel"] == {"port": int(args[1]) if args[0] == "--port" else None,
                             "ld": (int(args[-1]) if "--ld" in args else None),
                             "mhd": "--mhd" in args}


# ------------------------------------------------------------------------ the sweep itself

# The field flipped in a reply to prove the sweep reads it: the first named one,
# except where that makes the CLI's paging ask again and again (the "more" flag).
FLIP_FIELD = {"get_poison_list": "overflow_timestamp"}


def _flip_offset(entry):
    cls = entry.rsp_cls
    if cls is None or entry.size == "raw":
        return 0
    names = [f[0] for k in reversed(cls.__mro__) for f in k.__dict__.get("_fields_", ())
             if not f[0].startswith(RESERVED)]
    return getattr(cls, FLIP_FIELD.get(entry.name, names[0])).offset


def _sweep_misses(change, passfile, fwfile):
    """Commands whose sweep test stays green while the emulator answers them
    through ``change(entry, rc, data) -> (rc, data)``."""
    real = emu.Device._dispatch
    sweep = test_every_command_against_the_emulator_gives_the_device_state_or_its_specified_error
    missed = []
    for entry in ENTRIES:
        opcode = entry.opcode if entry.call != "vendor" else 0xC000

        def planted(self, op, payload, entry=entry, opcode=opcode):
            try:
                rc, data = real(self, op, payload)
            except emu.Reply as exc:
                rc, data = exc.return_code, b""
            return change(entry, rc, data) if op == opcode else (rc, data)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(emu.Device, "_dispatch", planted)
            cli_commands.reset()
            try:
                sweep(entry, mp, passfile, fwfile)
            except Exception:       # red, whichever way
                continue
            missed.append(entry.name)
    return missed


def test_the_emulator_sweep_goes_red_when_any_command_answers_internal_error(
        passfile, fwfile):
    assert _sweep_misses(lambda entry, rc, data: (emu.INTERNAL, b""), passfile, fwfile) == []


def test_the_emulator_sweep_goes_red_when_any_refused_command_gives_another_code(
        passfile, fwfile):
    def other(entry, rc, data):
        return (rc, data) if rc == emu.SUCCESS else (emu.INPUT if rc != emu.INPUT
                                                     else emu.UNSUPPORTED, b"")
    missed = _sweep_misses(other, passfile, fwfile)
    assert not set(FAILS) & set(missed)


def test_the_emulator_sweep_goes_red_when_one_value_in_any_reply_changes(
        passfile, fwfile):
    def flipped(entry, rc, data):
        at = _flip_offset(entry)
        if rc != emu.SUCCESS or len(data) <= at:
            return rc, data
        data = bytearray(data)
        data[at] ^= 0x01
        return rc, bytes(data)
    missed = _sweep_misses(flipped, passfile, fwfile)
    assert set(missed) <= set(FAILS) | set(EFFECT), missed   # no reply payload to change there


# ------------------------------------------------------------------------ defaults, required

def test_activate_fw_goes_online_unless_told_otherwise():
    res = invoke(["generic", "activate-fw", "emu:type3", "--slot", "2", "--dry-run", "--json"])
    assert res.exit_code == 0, both(res)
    assert json.loads(res.stdout)["request"]["fields"]["action_decoded"] == "online"


def test_a_ppb_command_needs_its_ppb_id():
    res = invoke(["fmapi", "send-ppb-cxlio-config-request", "emu:switch", "--register", "0"])
    assert res.exit_code == 2 and "needs --ppb-id" in res.stderr


def test_bind_vppb_binds_the_port_itself_unless_an_ld_is_named():
    res = invoke(["fmapi", "bind-vppb", "emu:switch", "--vcs-id", "0", "--vppb-id", "3",
                  "--port-id", "4", "--dry-run", "--json"])
    assert res.exit_code == 0, both(res)
    assert json.loads(res.stdout)["request"]["fields"]["ld_id"] == 0xFFFF


def test_an_aer_status_bit_takes_the_whole_0_to_31():
    args = ["fmapi", "generate-aer-event", "emu:switch", "--vppb-instance", "1",
            "--severity", "uncorrectable", "--status-bit"]
    res = invoke(args + ["31", "--dry-run", "--json"])
    assert res.exit_code == 0, both(res)
    fields = json.loads(res.stdout)["request"]["fields"]
    assert fields["aer_error"] == 0x8000001F and fields["aer_error_decoded"]["status_bit"] == 31
    assert invoke(args + ["32", "--dry-run"]).exit_code == 2


def test_a_poison_list_address_must_be_a_multiple_of_64():
    res = invoke(["memdev", "get-poison-list", "emu:type3", "--address", "0x41",
                  "--length", "64"])
    assert res.exit_code == 2 and "--address 65 B is not a multiple of 64 B" in res.stderr
