# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generate AER Event (5203h), the registry's extension, end to end.

The request on the wire is CXL r3.1 table 7-35; the emulated switch puts the
event into the AER registers of the vPPB it names, which the fabric manager
reads back with Send PPB CXL.io Configuration Request (5103h) where the spec
lets it; misuse gets Invalid Input; the CLI asks before sending it.
"""

import json
import struct

import pytest

import cxlmi_bindings as cxlmi
from cxlmi_bindings import registry
from cxlmi_bindings.emulator import aer
from cxlmi_bindings.emulator.profiles import build
from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.errors import DeviceError
from cxlmi_bindings.transports.emulated import EmulatedTransport

import cxlmi_cli.target as cli_target
from cxlmi_cli import commands as cli_commands
from cli_helpers import invoke

INPUT, RETRY = 2, 5
UNCORRECTABLE = 1 << 31
SURPRISE_DOWN, RECEIVER_OVERFLOW, MALFORMED_TLP = 5, 17, 18     # uncorrectable bits
BAD_TLP = 6                                                     # correctable bit
UNC_INTERNAL = 22       # masked by default
HEADER = bytes(range(0x40, 0x60))                               # 32 bytes

UE_STATUS, UE_MASK, CE_STATUS = 0x104, 0x108, 0x110
CAP_CONTROL, HEADER_LOG, PREFIX_LOG = 0x118, 0x11C, 0x138
DEVICE_STATUS = 0x48                    # dword of device control (40h + 08h) / status (+0Ah)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def switch(clock):
    """The emu:switch fabric on a fake clock, opened through the library."""
    dev = build("switch", clock=clock)
    ctx = Context()
    ep = ctx.open_transport(EmulatedTransport("switch", device=dev), "emu:switch")
    ep.device = dev
    yield ep
    ctx.close()


def config_field(offset, write=False):
    """The 3-byte field of 5103h: register, extended register, all bytes enabled."""
    value = (offset & 0xFC) | (offset >> 8) << 8 | 0xF << 12 | int(write) << 23
    return value.to_bytes(3, "little")


def read(ep, port, offset):
    return ep.fmapi_send_ppb_cxlio_config_request(
        ppb_id=port, field_1=config_field(offset)).return_data


def write(ep, port, offset, value):
    ep.fmapi_send_ppb_cxlio_config_request(ppb_id=port, field_1=config_field(offset, True),
                                           transaction_data=value)


def generate(ep, instance, error, header=HEADER, vcs=0):
    ep.fmapi_generate_aer_event(vcs_id=vcs, vppb_instance=instance, aer_error=error,
                                aer_header=header)


def rc_of(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except DeviceError as exc:
        return exc.return_code
    return 0


def finish_background(ep, clock):
    clock.now += 1.0
    assert ep.bg_op_status().status & 1 == 0


# ------------------------------------------------------------------ the registry entry

def test_the_entry_is_a_marked_extension_confirmed_like_a_destructive_command():
    entry = registry.get("fmapi_generate_aer_event")
    assert entry.extension and entry in registry.EXTENSIONS
    assert entry not in registry.LIBCXLMI_COMMANDS
    assert (entry.opcode, entry.call, entry.rsp, entry.fmapi) == (0x5203, "req", None, True)
    assert entry.destructive and not entry.bg
    assert (entry.group, entry.cli_name) == ("fmapi", "generate-aer-event")


# ------------------------------------------------------------------ wire bytes

def spec_payload(vcs, instance, error, header):
    """Table 7-35 packed by hand: 00h VCS, 01h instance, 02h 2 reserved, 04h AER
    Error, 08h 32-byte AER Header."""
    return struct.pack("<BB2xI32s", vcs, instance, error, header)


def test_the_request_is_table_7_35_on_the_wire_through_both_apis():
    expected = spec_payload(3, 4, UNCORRECTABLE | SURPRISE_DOWN, HEADER)
    assert len(expected) == 40
    with Context() as ctx:
        ep = ctx.open_mock()
        ep.transport.set_response(0x5203, 0, b"")
        generate(ep, 4, UNCORRECTABLE | SURPRISE_DOWN, vcs=3)
        assert ep.transport.last_command == (0x52, 0x03, expected)
        assert ep.transport.last_msg_type == 7                  # FM-API

    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    req = cxlmi.struct_cxlmi_cmd_fmapi_generate_aer_event_req()
    req.vcs_id, req.vppb_instance = 3, 4
    req.aer_error = UNCORRECTABLE | SURPRISE_DOWN
    req.aer_header = HEADER
    assert cxlmi.cxlmi_mock_set_response(ep, 0x52, 0x03, 0, b"", 0) == 0
    assert cxlmi.cxlmi_cmd_fmapi_generate_aer_event(ep, None, req) == 0
    assert ep.transport.last_command == (0x52, 0x03, expected)
    cxlmi.cxlmi_free_ctx(ctx)


def test_a_short_header_is_zero_padded_to_32_bytes():
    with Context() as ctx:
        ep = ctx.open_mock()
        ep.transport.set_response(0x5203, 0, b"")
        generate(ep, 0, BAD_TLP, header=b"\x01\x02")
        assert ep.transport.last_command[2] == spec_payload(0, 0, BAD_TLP,
                                                            b"\x01\x02" + bytes(30))


# ------------------------------------------------------------------ the switch model

def test_an_uncorrectable_event_on_the_upstream_vppb_reads_back_through_5103(switch):
    assert read(switch, 0, 0x100) == 0x00020001         # AER capability, version 2, last
    assert read(switch, 0, UE_STATUS) == 0
    generate(switch, 0, UNCORRECTABLE | SURPRISE_DOWN)
    assert read(switch, 0, UE_STATUS) == 1 << SURPRISE_DOWN
    assert read(switch, 0, CE_STATUS) == 0
    control = read(switch, 0, CAP_CONTROL)
    assert control & 0x1F == SURPRISE_DOWN              # First Error Pointer
    assert control & aer.TLP_PREFIX_LOG_PRESENT
    log = b"".join(read(switch, 0, HEADER_LOG + 4 * i).to_bytes(4, "little") for i in range(4))
    prefix = b"".join(read(switch, 0, PREFIX_LOG + 4 * i).to_bytes(4, "little")
                      for i in range(4))
    assert log + prefix == HEADER
    # Surprise Down is fatal by default severity: Device Status bit 2
    assert read(switch, 0, DEVICE_STATUS) >> 16 & 0x7 == aer.DEVSTA_FATAL
    dev = switch.device
    assert dev.aer_events == 1
    assert dev.last_aer_event == {
        "vcs_id": 0, "vppb_instance": 0, "severity": "uncorrectable",
        "status_bit": SURPRISE_DOWN, "header": HEADER, "masked": False, "fatal": True,
        "logged": True, "registers": "PPB of upstream port 0"}


def test_a_correctable_event_sets_the_correctable_status_and_logs_no_header(switch):
    generate(switch, 0, BAD_TLP)
    assert read(switch, 0, CE_STATUS) == 1 << BAD_TLP
    assert read(switch, 0, UE_STATUS) == 0
    assert read(switch, 0, HEADER_LOG) == 0
    assert read(switch, 0, DEVICE_STATUS) >> 16 & 0x7 == aer.DEVSTA_CORRECTABLE
    assert switch.device.last_aer_event["logged"] is False


def test_status_bits_are_write_1_to_clear_and_the_header_log_holds_until_then(switch):
    generate(switch, 0, UNCORRECTABLE | MALFORMED_TLP)
    generate(switch, 0, UNCORRECTABLE | RECEIVER_OVERFLOW, header=bytes(32))
    assert read(switch, 0, UE_STATUS) == 1 << MALFORMED_TLP | 1 << RECEIVER_OVERFLOW
    assert read(switch, 0, CAP_CONTROL) & 0x1F == MALFORMED_TLP     # the first error's
    assert read(switch, 0, HEADER_LOG) == int.from_bytes(HEADER[:4], "little")
    assert switch.device.last_aer_event["logged"] is False
    write(switch, 0, UE_STATUS, 1 << MALFORMED_TLP)                  # clear the first
    assert read(switch, 0, UE_STATUS) == 1 << RECEIVER_OVERFLOW
    generate(switch, 0, UNCORRECTABLE | RECEIVER_OVERFLOW, header=b"\xAA" * 32)
    assert read(switch, 0, CAP_CONTROL) & 0x1F == RECEIVER_OVERFLOW
    assert read(switch, 0, HEADER_LOG) == 0xAAAAAAAA
    write(switch, 0, UE_STATUS, 0xFFFFFFFF)
    assert read(switch, 0, UE_STATUS) == 0


def test_a_header_without_a_tlp_prefix_leaves_prefix_log_present_clear(switch):
    generate(switch, 0, UNCORRECTABLE | MALFORMED_TLP, header=HEADER[:16])
    control = read(switch, 0, CAP_CONTROL)
    assert control & 0x1F == MALFORMED_TLP
    assert not control & aer.TLP_PREFIX_LOG_PRESENT
    assert read(switch, 0, HEADER_LOG) == int.from_bytes(HEADER[:4], "little")


def test_a_correctable_error_is_masked_by_the_correctable_mask(switch):
    ADVISORY_NON_FATAL = 13                                          # in COR_MASK_DEFAULT
    generate(switch, 0, ADVISORY_NON_FATAL)
    assert read(switch, 0, CE_STATUS) == 1 << ADVISORY_NON_FATAL
    assert switch.device.last_aer_event["masked"] is True
    generate(switch, 0, BAD_TLP)
    assert switch.device.last_aer_event["masked"] is False


def test_the_hosts_mask_is_respected_status_set_but_nothing_logged_or_reported(switch):
    assert read(switch, 0, UE_MASK) == aer.UNCOR_MASK_DEFAULT
    generate(switch, 0, UNCORRECTABLE | UNC_INTERNAL)                # masked by default
    assert read(switch, 0, UE_STATUS) == 1 << UNC_INTERNAL
    assert read(switch, 0, HEADER_LOG) == 0
    assert switch.device.last_aer_event["masked"] is True
    write(switch, 0, UE_MASK, 1 << MALFORMED_TLP)                    # the host masks another
    assert read(switch, 0, UE_MASK) == 1 << MALFORMED_TLP
    generate(switch, 0, UNCORRECTABLE | MALFORMED_TLP)
    assert switch.device.last_aer_event["masked"] is True
    assert read(switch, 0, HEADER_LOG) == 0


def test_a_vppb_bound_to_a_port_is_that_ppb_which_5103_reads_once_unbound(switch, clock):
    generate(switch, 1, UNCORRECTABLE | SURPRISE_DOWN)               # vPPB 0: port 1 (SLD)
    assert switch.device.last_aer_event["registers"] == "PPB of port 1"
    assert rc_of(read, switch, 1, UE_STATUS) == INPUT               # bound: the host's
    switch.fmapi_unbind_vppb(vcs_id=0, vppb_id=0, option=0)
    finish_background(switch, clock)
    assert read(switch, 1, UE_STATUS) == 1 << SURPRISE_DOWN          # sticky across unbind
    assert read(switch, 0, UE_STATUS) == 0                           # the USP untouched


def test_a_vppb_bound_to_an_ld_keeps_its_own_registers_apart_from_the_fm_owned_ppb(
        switch, clock):
    switch.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=0)
    assert rc_of(generate, switch, 2, BAD_TLP) == RETRY              # bind in progress
    finish_background(switch, clock)
    generate(switch, 2, BAD_TLP)
    own = switch.device.vcss[0].vppbs[1].aer
    assert own.get(aer.AER_CAP + aer.COR_STATUS, 4) == 1 << BAD_TLP
    assert read(switch, 2, CE_STATUS) == 0                           # FM-owned PPB of port 2
    assert "bound to LD 0 on port 2" in switch.device.last_aer_event["registers"]


def test_an_unbound_vppb_takes_the_event_in_its_own_registers(switch):
    generate(switch, 8, UNCORRECTABLE | SURPRISE_DOWN)               # vPPB 7, unbound
    own = switch.device.vcss[0].vppbs[7].aer
    assert own.get(aer.AER_CAP + aer.UNCOR_STATUS, 4) == 1 << SURPRISE_DOWN
    assert all(read(switch, p, UE_STATUS) == 0 for p in (0, 2, 3, 4, 5, 6, 7))


@pytest.mark.parametrize("vcs, instance, error", [
    (1, 0, BAD_TLP),                            # no VCS 1
    (0xFF, 1, BAD_TLP),
    (0, 9, BAD_TLP),                            # 8 downstream vPPBs: instances 0-8
    (0, 0xFF, UNCORRECTABLE | SURPRISE_DOWN),
    (0, 0, 1),                                  # correctable bit 1: reserved
    (0, 0, UNCORRECTABLE | 0),                  # uncorrectable bit 0: not an error type
    (0, 0, UNCORRECTABLE | 30),                 # beyond what the model implements
])
def test_bad_vcs_vppb_or_error_bit_is_invalid_input_and_changes_nothing(switch, vcs, instance,
                                                                        error):
    assert rc_of(generate, switch, instance, error, vcs=vcs) == INPUT
    assert switch.device.aer_events == 0
    assert read(switch, 0, UE_STATUS) == 0 and read(switch, 0, CE_STATUS) == 0


def test_reserved_aer_error_bits_are_ignored(switch):
    generate(switch, 0, 0x7FFFFFE0 | BAD_TLP)
    assert read(switch, 0, CE_STATUS) == 1 << BAD_TLP


def test_the_compat_api_reaches_the_emulated_switch():
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open(ctx, "emu:switch")
    req = cxlmi.struct_cxlmi_cmd_fmapi_generate_aer_event_req(
        vcs_id=0, vppb_instance=0, aer_error=UNCORRECTABLE | SURPRISE_DOWN)
    assert cxlmi.cxlmi_cmd_fmapi_generate_aer_event(ep, None, req) == 0
    req.vppb_instance = 42
    assert cxlmi.cxlmi_cmd_fmapi_generate_aer_event(ep, None, req) == INPUT
    cxlmi.cxlmi_free_ctx(ctx)


def test_other_models_answer_unsupported():
    with Context() as ctx:
        for profile in ("type3", "mld", "mhd", "dcd"):
            ep = ctx.open("emu:" + profile)
            assert rc_of(generate, ep, 0, BAD_TLP) == 3


# ------------------------------------------------------------------ the CLI

@pytest.fixture
def cli_switch(monkeypatch, clock):
    """Every cxl-mi invocation of the test reaches one emulated switch."""
    cli_commands.reset()
    dev = build("switch", clock=clock)

    def opener(target, timeout=None):
        return Context().open_transport(EmulatedTransport("switch", device=dev), target)
    monkeypatch.setattr(cli_target, "open_endpoint", opener)
    yield dev
    cli_commands.reset()


AER_ARGS = ["fmapi", "generate-aer-event", "emu:switch", "--vppb-instance", "0",
            "--severity", "uncorrectable", "--status-bit", str(SURPRISE_DOWN),
            "--header-hex", HEADER.hex()]


def test_the_cli_generates_the_event_and_5103_reads_the_status_bit(cli_switch):
    res = invoke(AER_ARGS + ["--yes", "--json"])
    assert res.exit_code == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["command"] == "fmapi_generate_aer_event"
    assert cli_switch.last_aer_event["header"] == HEADER
    res = invoke(["fmapi", "send-ppb-cxlio-config-request", "emu:switch", "--ppb-id", "0",
                  "--register", "0x04", "--ext-register", "1", "--json"])
    assert res.exit_code == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["result"]["return_data"] == 1 << SURPRISE_DOWN


def test_the_dry_run_names_the_severity_and_status_bit_the_wire_carries(cli_switch):
    res = invoke(AER_ARGS + ["--dry-run", "--json"])
    assert res.exit_code == 0, res.stdout + res.stderr
    request = json.loads(res.stdout)["request"]
    payload = bytes.fromhex(request["payload"])
    assert struct.unpack_from("<I", payload, 4)[0] == UNCORRECTABLE | SURPRISE_DOWN
    assert request["fields"]["aer_error_decoded"] == {"status_bit": SURPRISE_DOWN,
                                                      "severity": "uncorrectable"}
    assert cli_switch.aer_events == 0


def test_the_cli_refuses_without_yes_when_stdin_is_not_a_terminal(cli_switch):
    res = invoke(AER_ARGS)
    assert res.exit_code == 2
    assert "refusing without --yes" in res.stderr and "nothing was sent" in res.stderr
    assert cli_switch.aer_events == 0


def test_the_cli_needs_the_severity_and_the_status_bit(cli_switch):
    res = invoke(["fmapi", "generate-aer-event", "emu:switch", "--vppb-instance", "0", "--yes"])
    assert res.exit_code == 2
    assert "--severity" in res.stderr and "--status-bit" in res.stderr
    assert cli_switch.aer_events == 0


def test_the_cli_names_invalid_input_for_a_vppb_the_vcs_lacks(cli_switch):
    res = invoke(["fmapi", "generate-aer-event", "emu:switch", "--vppb-instance", "9",
                  "--severity", "correctable", "--status-bit", str(BAD_TLP), "--yes"])
    assert res.exit_code == 1
    assert "INPUT" in res.stderr


def test_the_cli_request_is_table_7_35_on_the_mock(monkeypatch):
    cli_commands.reset()
    opened = []

    def opener(target, timeout=None):
        ep = Context().open_mock()
        ep.transport.set_response(0x5203, 0, b"")
        opened.append(ep)
        return ep
    monkeypatch.setattr(cli_target, "open_endpoint", opener)
    res = invoke(["fmapi", "generate-aer-event", "emu:switch", "--vcs-id", "2",
                  "--vppb-instance", "3", "--severity", "correctable", "--status-bit", "12",
                  "--header-hex", "0102", "--yes"])
    cli_commands.reset()
    assert res.exit_code == 0, res.stdout + res.stderr
    assert opened[-1].transport.last_command == (
        0x52, 0x03, spec_payload(2, 3, 12, b"\x01\x02" + bytes(30)))
