# SPDX-License-Identifier: LGPL-2.1-or-later
"""Opening an MCTP-reached endpoint probes it: Identify decides FM-API reach.

Switches (component type 00h) and type 3 devices (03h) take FM-API commands;
anything else is CCI only, and FM-API calls (tunnels among them) are refused
before anything is sent.  Kernel, emulated and mock endpoints are not probed.
"""

import pytest

from cxlmi_bindings import Context, NotSupported, Tunnel
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.device import Device
from cxlmi_bindings.emulator.server import Server


class OtherComponent(Device):
    component_type = 0x01       # neither a switch nor a type 3 device


@pytest.fixture
def serve():
    servers = []

    def start(device):
        server = Server(device, host="127.0.0.1", port=0)
        host, port = server.start()
        servers.append(server)
        return "tcp:%s:%d" % (host, port), server

    yield start
    for server in servers:
        server.stop()


def test_a_switch_reached_over_tcp_is_probed_and_takes_fm_api(serve):
    target, _ = serve(profiles.build("switch"))
    with Context() as ctx:
        ep = ctx.open(target)
        assert ep.component_type == 0x00
        assert ep.has_fmapi
        assert ep.fmapi_get_ld_info(tunnel=Tunnel.switch(2)).ld_count == 4


def test_a_component_of_another_type_is_cci_only(serve):
    target, server = serve(OtherComponent())
    with Context() as ctx:
        ep = ctx.open(target)
        assert ep.component_type == 0x01
        assert not ep.has_fmapi
        sent = server.stats["messages"]
        with pytest.raises(NotSupported):
            ep.fmapi_identify_sw_device()
        with pytest.raises(NotSupported):
            ep.identify(tunnel=Tunnel.switch(1))
        assert server.stats["messages"] == sent          # nothing went out
        assert ep.identify().component_type == 0x01      # CCI commands still work


def test_with_probing_off_nothing_is_sent_on_open(serve):
    target, server = serve(profiles.build("type3"))
    with Context() as ctx:
        ctx.probe_enabled = False
        sent = server.stats["messages"]
        ep = ctx.open(target)
        assert ep.component_type is None
        assert server.stats["messages"] == sent
        ep.identify()
        assert server.stats["messages"] > sent           # the counter does count


def test_emulated_endpoints_are_not_probed():
    with Context() as ctx:
        ep = ctx.open("emu:switch")
        assert ep.component_type is None and ep.has_fmapi
