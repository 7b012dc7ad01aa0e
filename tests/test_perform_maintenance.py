# SPDX-License-Identifier: LGPL-2.1-or-later
"""Perform Maintenance (0600h): post package repair, end to end.

A command libcxlmi lacks and QEMU implements, added as the schema intends: its
layout with the meaning of each field (types/generic.py), one registry entry, one
emulator handler.  It is driven here through the CLI to a served device, through
the Pythonic and the libcxlmi-style APIs, and refused where the device refuses it.
"""

import ctypes
import json

import pytest

import cxlmi_bindings as cxlmi
from cxlmi_bindings import Context, Tunnel
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.server import Server
from cxlmi_bindings.errors import DeviceError
from cli_helpers import both, clean_cli, invoke  # noqa: F401  (clean_cli: a fixture)


@pytest.fixture
def served():
    device = profiles.build("type3")
    with Server(device, port=0) as srv:
        yield device, "tcp:%s:%d" % srv.address


def test_a_hard_repair_through_the_cli_reaches_the_served_device(served, clean_cli):
    device, target = served
    res = invoke(["generic", "perform-maintenance", target, "--op-class", "ppr",
                  "--op-subclass", "hard", "--dpa", "0x2040", "--nibble-mask", "0f00a0",
                  "--yes", "--json"])
    assert res.exit_code == 0, both(res)
    doc = json.loads(res.stdout)
    assert doc["command"] == "perform_maintenance" and doc["opcode"] == 0x0600
    assert device.ppr_repairs == [(0x2040, "hard", 0xA0000F)]


def test_without_yes_nothing_is_sent(served, clean_cli):
    device, target = served
    res = invoke(["generic", "perform-maintenance", target, "--op-class", "ppr",
                  "--dpa", "0x40"])
    assert res.exit_code == 2 and "refusing without --yes" in res.stderr
    assert device.ppr_repairs == []


@pytest.mark.parametrize("fields, code", [
    ({"op_class": 1, "op_subclass": 2}, "INPUT"),              # no such PPR subclass
    ({"op_class": 2}, "PAYLOADLEN"),     # memory sparing: not in the PPR-shaped layout
    ({"op_class": 7}, "INPUT"),
    ({"op_class": 1, "flags": 2}, "INPUT"),                    # reserved flag bit
    ({"op_class": 1, "dpa": 1 << 40}, "PADDR"),                # beyond the device
])
def test_the_device_refuses_what_it_cannot_do(fields, code):
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        with pytest.raises(DeviceError) as info:
            ep.perform_maintenance(**fields)
        assert info.value.name == code


def test_a_query_or_the_no_op_class_repairs_nothing_and_a_soft_repair_is_kept():
    device = profiles.build("type3")
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    with Context() as ctx:
        ep = ctx.open_transport(EmulatedTransport("t", device=device), "emu:type3")
        ep.perform_maintenance(op_class=0)
        ep.perform_maintenance(op_class=1, flags=1, dpa=0x1000)      # query resources
        assert device.ppr_repairs == []
        ep.perform_maintenance(op_class=1, op_subclass=0, dpa=0x1000)
        assert device.ppr_repairs == [(0x1000, "soft", 0)]


def test_a_soft_repair_lasts_until_a_reset_and_a_hard_one_for_good():
    device = profiles.build("type3")
    ctx, ep = emulated(device)
    with ctx:
        ep.perform_maintenance(op_class=1, op_subclass=0, dpa=0x1000)
        ep.perform_maintenance(op_class=1, op_subclass=1, dpa=0x2000)
    device.reset()
    assert device.ppr_repairs == [(0x2000, "hard", 0)]


def test_through_a_switch_port_and_the_libcxlmi_style_function():
    with Context() as ctx:
        sw = ctx.open("emu:switch")
        sw.perform_maintenance(op_class=1, dpa=0x80, tunnel=Tunnel.switch(1))
    ctx = cxlmi.cxlmi_new_ctx()
    ep = cxlmi.cxlmi_open(ctx, "emu:type3")
    req = cxlmi.struct_cxlmi_cmd_perform_maintenance_req(op_class=1, op_subclass=1, dpa=0x40)
    assert ctypes.sizeof(req) == 14
    assert cxlmi.cxlmi_cmd_perform_maintenance(ep, None, req) == 0
    req.op_class = 2
    assert cxlmi.cxlmi_cmd_perform_maintenance(ep, None, req) == cxlmi.CXLMI_RET_PAYLOADLEN
    cxlmi.cxlmi_free_ctx(ctx)


# ---------------------------------------------------------------- memory sparing

def sparing_events(ep):
    from cxlmi_bindings import types
    cls = types.get("mem_sparing_event_data")
    rsp = ep.get_event_records(event_log=0)
    return [cls.from_buffer_copy(bytes(r.data)).to_dict(decoded=True) for r in rsp.records]


def emulated(device):
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    ctx = Context()
    return ctx, ctx.open_transport(EmulatedTransport("t", device=device), "emu:type3")


def test_hard_row_sparing_through_the_cli_is_kept_and_logged(served, clean_cli):
    device, target = served
    res = invoke(["generic", "perform-maintenance-sparing", target, "--granularity", "row",
                  "--flags", "hard-sparing", "--channel", "1", "--rank", "2", "--bank-group",
                  "3", "--bank", "4", "--row", "0x1234", "--yes", "--json"])
    assert res.exit_code == 0, both(res)
    assert json.loads(res.stdout)["command"] == "perform_maintenance_sparing"
    assert device.sparing_repairs == [{"granularity": "row", "kind": "hard", "channel": 1,
                                       "rank": 2, "bank_group": 3, "bank": 4, "row": 0x1234}]
    ctx, ep = emulated(device)
    with ctx:
        (event,) = sparing_events(ep)
    assert event["maint_op_class_decoded"] == "memory-sparing" and event["maint_op_subclass"] == 1
    assert event["flags_decoded"] == ["hard-sparing"] and event["res_avail"] == 3
    assert event["validity_flags_decoded"] == ["channel", "rank", "bank-group", "bank", "row"]
    assert event["row_decoded"] == 0x1234 and event["bank"] == 4


def test_a_query_spends_nothing_and_says_what_is_left():
    device = profiles.build("type3")
    ctx, ep = emulated(device)
    with ctx:
        ep.perform_maintenance_sparing(op_class=2, op_subclass=3, flags=1, channel=0, rank=1)
        assert device.sparing_repairs == []
        (event,) = sparing_events(ep)
    assert event["flags_decoded"] == ["query-resources"] and event["res_avail"] == 4
    assert event["validity_flags_decoded"] == ["channel", "rank"]


def test_spares_run_out_and_soft_sparing_ends_with_a_reset():
    device = profiles.build("type3")
    ctx, ep = emulated(device)
    with ctx:
        for i in range(4):
            ep.perform_maintenance_sparing(op_class=2, op_subclass=2, channel=i)   # soft, bank
        with pytest.raises(DeviceError) as info:
            ep.perform_maintenance_sparing(op_class=2, op_subclass=2, channel=9)
        assert info.value.name == "RESOURCEEXHAUSTED"
        ep.perform_maintenance_sparing(op_class=2, op_subclass=1, flags=2)          # hard, row
    device.reset()
    assert [r["kind"] for r in device.sparing_repairs] == ["hard"]
    ctx, ep = emulated(device)
    with ctx:
        ep.perform_maintenance_sparing(op_class=2, op_subclass=2, channel=1)        # spares back


@pytest.mark.parametrize("fields, code", [
    ({"op_subclass": 4}, "INPUT"),                 # no such granularity
    ({"op_subclass": 0, "flags": 0x10}, "INPUT"),  # reserved flag bit
])
def test_the_device_refuses_bad_sparing_requests(fields, code):
    device = profiles.build("type3")
    ctx, ep = emulated(device)
    with ctx:
        with pytest.raises(DeviceError) as info:
            ep.perform_maintenance_sparing(op_class=2, **fields)
    assert info.value.name == code and device.sparing_repairs == []


def test_sparing_the_feature_does_not_allow_is_unsupported():
    device = profiles.build("type3")
    feature = device.sparing_feature(0)
    cur = feature.readable()
    cur.restriction_flags = cur.meaning("restriction_flags").mask("soft-sparing")
    feature.current = bytes(cur)                   # this device spares cache lines softly only
    ctx, ep = emulated(device)
    with ctx:
        with pytest.raises(DeviceError) as info:
            ep.perform_maintenance_sparing(op_class=2, op_subclass=0, flags=2)
        assert info.value.name == "UNSUPPORTED"
        ep.perform_maintenance_sparing(op_class=2, op_subclass=0)
    assert [r["kind"] for r in device.sparing_repairs] == ["soft"]


@pytest.mark.parametrize("args, words", [
    ([], "needs --op-class"),                 # class none, said done: a forgotten option
    (["--op-class", "memory-sparing", "--dpa", "0x40"],
     "--op-class memory-sparing: memory sparing has its own request layout; use "
     "`cxl-mi generic perform-maintenance-sparing`"),
])
def test_perform_maintenance_refuses_what_it_cannot_mean_before_sending(served, clean_cli,
                                                                        args, words):
    device, target = served
    sent = []
    handle = device.handle
    device.handle = lambda message, msg_type: sent.append(message) or handle(message, msg_type)
    res = invoke(["generic", "perform-maintenance", target, "--yes"] + args)
    assert res.exit_code == 2, both(res)
    (line,) = res.stderr.splitlines()
    assert line.startswith("cxl-mi: error: ") and words in line
    assert sent == [] and device.ppr_repairs == [] and device.sparing_repairs == []


@pytest.mark.parametrize("command", ["perform-maintenance", "perform-maintenance-sparing"])
def test_every_option_of_the_maintenance_commands_says_what_it_is(clean_cli, command):
    from cxlmi_cli.main import cli
    import click
    cmd = cli.get_command(click.Context(cli), "generic").get_command(None, command)
    own = [p for p in cmd.params if isinstance(p, click.Option) and p.name not in (
        "mctp", "tcp", "port", "ld", "mhd", "timeout", "dry_run", "no_probe", "mctp_type",
        "peer", "output", "as_json", "input_file", "yes")]
    assert len(own) >= 5
    assert [p.opts[0] for p in own if not p.help] == []
