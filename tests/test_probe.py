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


def test_probe_returns_what_stopped_it(serve):
    from cxlmi_bindings.errors import CommandTimeout
    target, server = serve(profiles.build("type3"))
    with Context() as ctx:
        ctx.probe_enabled = False
        ep = ctx.open(target)
        assert ep.probe() is None and ep.component_type == 0x03
    silent = __import__("socket").socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)        # room for the transport's reconnections (it never accepts)
    try:
        with Context() as ctx:
            ctx.probe_enabled = False
            ep = ctx.open("tcp:127.0.0.1:%d" % silent.getsockname()[1])
            ep.timeout_ms = 200
            failed = ep.probe()
            assert isinstance(failed, CommandTimeout) and "within 0.2s" in str(failed)
            assert ep.component_type is None and ep.has_fmapi      # left usable
    finally:
        silent.close()


# -- the CLI probes too (after --timeout is set) -------------------------------------------

def _cli(*args):
    from cli_helpers import runner
    from cxlmi_cli.main import cli
    res = runner().invoke(cli, list(args), catch_exceptions=False)
    return res.exit_code, res.stdout, res.stderr


def test_the_cli_refuses_fm_api_to_a_component_that_is_not_a_switch_or_type3(serve,
                                                                          monkeypatch):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    target, server = serve(OtherComponent())
    code, out, err = _cli("fmapi", "identify-sw-device", target, "--timeout", "2")
    assert code == 3, err
    assert "FM-API commands are not enabled on this endpoint" in err
    # Get Message Type Support, the probe, nothing after it
    assert (server.stats["control"], server.stats["messages"]) == (1, 2)


def test_the_cli_offers_fm_api_to_a_switch_it_probed(serve, monkeypatch):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    target, server = serve(profiles.build("switch"))
    code, out, err = _cli("fmapi", "identify-sw-device", target, "--json", "--timeout", "2")
    assert code == 0, err
    # Get Message Type Support, the probe, then the command
    assert (server.stats["control"], server.stats["messages"]) == (1, 3)
