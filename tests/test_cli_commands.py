# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every one of the registry's commands through `cxl-mi`.

Two sweeps over the whole registry:

* against the mock transport, with a well-formed reply queued for each
  command: the table renders, the JSON parses and carries every field of the
  reply structure (with the documented envelope), and ``-o raw`` is exactly
  the payload the component sent;
* against the emulated profiles (the profile, and tunnel, that implements
  each command): the command either succeeds -- then each output mode is
  checked, and the raw bytes decode to the JSON result -- or the model
  answers a CXL error, which must be exit status 1 with the return code
  named, never a traceback.  Models are still growing, so the sweep asserts
  behaviour, not numbers.
"""

import ctypes
import json
import re
import struct

import pytest

from cxlmi_bindings import codec, registry
from cxlmi_bindings.endpoint import Context

import cxlmi_cli.target as cli_target
from cxlmi_cli import commands as cli_commands
from cxlmi_cli.render import views
from cli_helpers import both, invoke

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
        "populate_log": ["--uuid", "vendor-debug"],
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
        "memdev_add_dc_response": ["--extent", "0:256M"],
        "memdev_release_dc": ["--extent", "0:256M"],
        "fmapi_get_phys_port_state": ["--ports", "0-3"],
        "fmapi_phys_port_control": ["--ppb-id", "4", "--operation", "reset-ppb"],
        "fmapi_send_ppb_cxlio_config_request": ["--ppb-id", "1", "--register", "0"],
        "fmapi_set_domain_validation_sv": ["--secret", TAG],
        "fmapi_bind_vppb": ["--vcs-id", "0", "--vppb-id", "3", "--port-id", "4"],
        "fmapi_unbind_vppb": ["--vcs-id", "0", "--vppb-id", "0"],
        "fmapi_generate_aer_event": ["--vppb-instance", "0", "--severity", "correctable",
                                     "--status-bit", "6"],
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
        "fmapi_initiate_dc_release": ["--length", "256M"],
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
    size = fixed + (n * ctypes.sizeof(cls._flex_[1]) if n else 0)
    data = bytearray((i * 7 + 1) & 0xFF for i in range(size))
    if entry.rsp_count:
        obj = cls.from_buffer(data)
        setattr(obj, entry.rsp_count, n)
        if entry.name == "get_poison_list":     # one page: the workflow asks again on "more"
            obj.poison_list_flags &= ~1
        del obj
    return bytes(data)


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

    res = invoke(base)
    assert res.exit_code == 0, both(res)
    assert "Traceback" not in both(res)

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

    res = invoke(base + ["-o", "raw"])
    assert res.exit_code == 0
    assert res.stdout_bytes == payload


# ------------------------------------------------------------------------ the emulator

RC_NAMED = re.compile(r"CXL return code \d+ \([A-Z_]+\)")


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_every_command_against_the_emulator_succeeds_or_names_the_return_code(
        entry, passfile, fwfile):
    target, tunnel = place(entry)
    base = [entry.group, entry.cli_name, target] + tunnel + command_args(entry, passfile,
                                                                         fwfile)
    res = invoke(base + ["--json"])
    assert res.exit_code in (0, 1), both(res)
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1
    if res.exit_code == 1:
        err = doc["error"]
        assert err["type"] == "DeviceError" and err["exit_code"] == 1
        assert err["return_code_name"], err
        assert RC_NAMED.search(res.stderr), res.stderr
        plain = invoke(base)
        assert plain.exit_code == 1 and RC_NAMED.search(plain.stderr)
        assert "Traceback" not in both(plain)
        return

    table = invoke(base)
    assert table.exit_code == 0 and "Traceback" not in both(table)
    assert entry.cli_name in table.stdout
    raw = invoke(base + ["-o", "raw"])
    assert raw.exit_code == 0
    if entry.call == "vendor" or entry.rsp is None and entry.size != "raw":
        return
    # -o raw is the reply payload: it decodes to what --json showed
    decoded = codec.decode_response(entry, raw.stdout_bytes)
    request = None
    if entry.name == "get_log":
        from cxlmi_cli import spec
        request = {"uuid": spec.uuid_bytes(spec.LOG_UUIDS)["cel"]}
    if entry.name not in ("get_timestamp", "bg_op_status"):
        assert views.result_json(entry, decoded, request) == doc["result"]


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
