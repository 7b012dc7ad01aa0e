# SPDX-License-Identifier: LGPL-2.1-or-later
"""What follows from the registry's declarations instead of hand lists: --wait for
every background-capable command, the emulator's Command Effects Log from each
command's declared effects, the return codes as one enum, the tail counts from
the layouts."""

import pytest

from cxlmi_bindings import registry, types
from cxlmi_bindings.errors import RETURN_CODES
from cxlmi_bindings.types.generic import CEL_EFFECTS
from cli_helpers import invoke

BACKGROUND = [e for e in registry.COMMANDS if e.bg]


def test_the_background_capable_commands_are_the_ones_the_spec_runs_in_the_background():
    assert {e.name for e in BACKGROUND} == {
        "transfer_fw", "activate_fw", "populate_log", "memdev_scan_media", "memdev_sanitize",
        "memdev_secure_erase", "memdev_media_operations_sanitize", "fmapi_bind_vppb",
        "fmapi_unbind_vppb"}


@pytest.mark.parametrize("entry", [e for e in BACKGROUND if e.name != "transfer_fw"],
                         ids=lambda e: e.name)
def test_every_background_capable_command_offers_wait(entry):
    res = invoke([entry.group, entry.cli_name, "--help"])
    assert res.exit_code == 0
    assert "--wait" in res.output


def test_bind_vppb_waits_for_its_background_operation_on_the_emulated_switch():
    import json
    res = invoke(["fmapi", "bind-vppb", "emu:switch", "--vcs-id", "0", "--vppb-id", "3",
                  "--port-id", "4", "--wait", "--json", "--yes"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["background_operation"]["opcode_decoded"] == "fmapi_bind_vppb"
    assert doc["background_operation"]["running"] is False


def test_every_declared_effect_is_a_command_effects_log_bit():
    for entry in registry.COMMANDS:
        assert set(entry.effects) <= set(CEL_EFFECTS), entry.name
        assert entry.effect_bits == sum(1 << CEL_EFFECTS[n] for n in entry.effects)


def _cel(profile):
    from cxlmi_bindings.emulator import profiles
    return dict(profiles.build(profile).command_effects())


@pytest.mark.parametrize("profile", ["type3", "switch", "mld", "dcd", "mhd"])
def test_the_emulators_command_effects_log_is_the_registrys_declared_effects(profile):
    for opcode, effects in _cel(profile).items():
        declared = 0
        for entry in registry.COMMANDS:
            if entry.opcode == opcode:
                declared |= entry.effect_bits
        assert effects == declared, (profile, hex(opcode))


def test_effects_the_spec_gives_some_commands():
    cel = _cel("type3")
    names = {n: 1 << b for n, b in CEL_EFFECTS.items()}
    assert cel[0x4400] & names["background-operation"]            # Sanitize
    assert cel[0x4400] & names["immediate-data-change"]
    assert cel[0x0301] == names["immediate-policy-change"]       # Set Timestamp
    assert cel[0x0101] == names["immediate-log-change"]          # Clear Event Records
    assert cel[0x4200] == 0                                       # Get Health Info
    # one declaration per command, whichever model implements it
    assert _cel("switch")[0x0301] == cel[0x0301]


def test_return_codes_are_one_int_enum_the_emulator_answers_with():
    from cxlmi_bindings import errors
    from cxlmi_bindings.emulator import device
    import cxlmi_bindings
    assert [(m.name, m.value) for m in errors.ReturnCode] == \
        [(name, code) for code, (name, _) in enumerate(RETURN_CODES)]
    assert errors.ReturnCode.BUSY == 6 == cxlmi_bindings.CXLMI_RET_BUSY
    # the models' names are the enum's, and what they raise carries the enum member
    for member in errors.ReturnCode:
        assert getattr(device, member.name) == member
    assert device.Reply(device.PASSPHRASE).return_code is errors.ReturnCode.PASSPHRASE


def test_a_refused_command_answers_the_enums_return_code():
    from cxlmi_bindings import Context
    from cxlmi_bindings.errors import DeviceError, ReturnCode
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        with pytest.raises(DeviceError) as info:
            ep.call("memdev_get_lsa", offset=1 << 30, length=16)
    assert info.value.return_code == ReturnCode.INPUT


def test_tail_counts_come_from_the_layouts():
    entry = registry.get("get_event_records")
    assert entry.rsp_count == "record_count"
    assert types.get(entry.rsp).counted_by("records") == "record_count"
    assert registry.get("transfer_fw").req_count is None      # data_sz sizes it instead
    assert registry.get("fmapi_get_vcs_info").req_count == "num_vcs"


def test_a_command_effects_log_names_the_opcodes_no_single_function_owns():
    """A switch's CEL lists Tunnel Management (5300h), which has no function of its
    own; shared opcodes get the name of what they all are, vendor ones their number."""
    import struct
    from cxlmi_bindings import Context
    from cxlmi_bindings.uuids import LOG, wire
    with Context() as ctx:
        ep = ctx.open_mock()
        ep.transport.set_response(0x0401, 0, struct.pack(
            "<8H", 0x5300, 0, 0x0401, 0, 0x4402, 4, 0xC001, 0))
        cel = ep.get_log_cel(uuid=wire(LOG["cel"]), offset=0, length=16)
    assert [e["opcode_decoded"] for e in types.to_dict(cel, decoded=True)] == [
        "tunnel_management", "get_log", "memdev_media_operations", "vendor_c001"]
