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
    ({"op_class": 2}, "UNSUPPORTED"),                          # memory sparing
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
    assert cxlmi.cxlmi_cmd_perform_maintenance(ep, None, req) == cxlmi.CXLMI_RET_UNSUPPORTED
    cxlmi.cxlmi_free_ctx(ctx)
