# SPDX-License-Identifier: LGPL-2.1-or-later
"""Probe control (--no-probe, CXLMI_PROBE, LIBCXLMI_PROBE_ENABLED, Context(probe=)),
MCTP message-type negotiation (Get Message Type Support, --mctp-type), the
`cxl-mi mctp` commands, and `cxl-mi emulate --peer jrl` end to end."""

import json
import os
import re
import subprocess
import sys

import pytest

from cli_helpers import runner
from cxlmi_bindings import Context, Tunnel
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.server import Server
from cxlmi_bindings.endpoint import probe_from_env
from cxlmi_bindings.errors import UsageError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def serve():
    servers = []

    def start(profile="switch", **kw):
        server = Server(profiles.build(profile), host="127.0.0.1", port=0, **kw)
        host, port = server.start()
        servers.append(server)
        return "tcp:%s:%d" % (host, port), server

    yield start
    for server in servers:
        server.stop()


def cli(*args, env=None):
    from cxlmi_cli.main import cli as root
    res = runner().invoke(root, list(args), catch_exceptions=False, env=env)
    return res.exit_code, res.stdout, res.stderr


# ------------------------------------------------------------------ the probe switch

@pytest.mark.parametrize("environ,expected", [
    ({}, True),
    ({"CXLMI_PROBE": "0"}, False),
    ({"CXLMI_PROBE": "off"}, False),
    ({"LIBCXLMI_PROBE_ENABLED": "0"}, False),
    ({"LIBCXLMI_PROBE_ENABLED": "false"}, False),
    ({"CXLMI_PROBE": "1", "LIBCXLMI_PROBE_ENABLED": "0"}, True),     # ours first
    ({"CXLMI_PROBE": "maybe"}, True),
])
def test_the_environment_turns_the_probe_off(environ, expected):
    assert probe_from_env(environ) is expected


def test_context_probe_argument_wins_over_the_environment(serve, monkeypatch):
    target, server = serve("type3")
    monkeypatch.setenv("CXLMI_PROBE", "0")
    with Context() as ctx:
        assert ctx.open(target).component_type is None        # not probed
    with Context(probe=True) as ctx:
        assert ctx.open(target).component_type == 0x03


def test_no_probe_on_the_cli_sends_no_identify(serve, monkeypatch):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    target, server = serve("switch")
    code, out, err = cli("fmapi", "identify-sw-device", target, "--no-probe", "--json")
    assert code == 0, err
    # the command alone: no Identify, and an FM-API command needs no negotiation
    assert (server.stats["control"], server.stats["messages"]) == (0, 1)
    code, out, err = cli("fmapi", "identify-sw-device", target, "--json",
                         env={"LIBCXLMI_PROBE_ENABLED": "0"})
    assert code == 0, err
    assert (server.stats["control"], server.stats["messages"]) == (0, 2)


def test_a_failed_probe_does_not_break_the_command(serve, monkeypatch):
    """A component that answers no Identify: the command still runs."""
    from cxlmi_bindings.emulator.device import Device

    class NoIdentify(Device):
        component_type = 0x00

        def handle(self, message, msg_type=8):
            from cxlmi_bindings import cci
            if cci.decode_header(message).opcode == 0x0001:
                return None                 # silence
            return super().handle(message, msg_type)

    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    server = Server(NoIdentify(), host="127.0.0.1", port=0)
    host, port = server.start()
    try:
        with Context() as ctx:
            ep = ctx.open("tcp:%s:%d" % (host, port))
            ep.timeout_ms = 300
            assert ep.probe() is not None               # it failed ...
            assert ep.has_fmapi                         # ... and the target decides
    finally:
        server.stop()


# ------------------------------------------------------------------ negotiation

def test_generic_commands_go_as_type_8_where_the_endpoint_lists_it(serve):
    target, server = serve("switch")
    with Context(probe=False) as ctx:
        ep = ctx.open(target)
        assert ep.mctp_type is None
        ep.identify()
        ep.identify()
        assert ep.mctp_type == 8
        assert server.stats["control"] == 1            # asked once per endpoint


def test_generic_commands_go_as_type_7_where_the_endpoint_lists_only_7(serve):
    target, server = serve("switch", message_types=(7,))
    with Context(probe=False) as ctx:
        ep = ctx.open(target)
        assert ep.identify().component_type == 0x00     # answered: it went as type 7
        assert ep.mctp_type == 7
    assert server.stats["unserved"] == 0


def test_mctp_type_override_asks_nothing(serve):
    target, server = serve("switch", message_types=(7,))
    with Context(probe=False) as ctx:
        ep = ctx.open(target, mctp_type=7)
        ep.identify()
    assert server.stats["control"] == 0
    with pytest.raises(UsageError):
        Context().open(target, mctp_type=6)


def test_mctp_type_8_to_a_type_7_endpoint_is_answered_unsupported(serve, monkeypatch):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    target, server = serve("switch", message_types=(7,))
    code, out, err = cli("generic", "identify", target, "--mctp-type", "8", "--no-probe",
                         "--timeout", "2")
    assert code == 1 and "UNSUPPORTED" in err, err      # the override is obeyed, and refused
    assert server.stats["unserved"] == 1
    code, out, err = cli("generic", "identify", target, "--json")
    assert code == 0, err                               # negotiated: type 7


# ------------------------------------------------------------------ cxl-mi mctp

def test_the_mctp_commands_show_the_control_answers(serve, monkeypatch):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    target, server = serve("switch", eid=9)
    code, out, err = cli("mctp", "get-eid", target, "--json")
    assert code == 0, err
    assert json.loads(out)["result"]["eid"] == 9
    code, out, err = cli("mctp", "get-uuid", target, "--json")
    assert json.loads(out)["result"]["uuid"] == str(server.uuid)
    code, out, err = cli("mctp", "get-message-types", target, "--json")
    assert [t["type"] for t in json.loads(out)["result"]["message_types"]] == [7, 8]
    code, out, err = cli("mctp", "get-version", target, "--type", "8", "--json")
    assert json.loads(out)["result"]["versions"] == [{"version": "1.0.0", "bcd": "f1f0f000"}]
    code, out, err = cli("mctp", "get-version", target, "--type", "5", "--json")
    assert json.loads(out)["result"] == {"message_type": 5, "supported": False,
                                         "versions": []}
    code, out, err = cli("mctp", "get-message-types", target, "-o", "raw")
    assert out == "\x07\x08"
    assert server.stats["messages"] == server.stats["control"]      # no probe, no CCI


def test_get_eid_decodes_the_endpoint_type_and_the_eid_type(serve, monkeypatch):
    from cxlmi_bindings import mctp_framing as mf
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    target, server = serve("switch", eid=9)
    answer = server.endpoint._control_command

    def static_bridge(who, msg, command, data):
        if command == mf.CTRL_GET_ENDPOINT_ID:      # bus owner / bridge, static EID in use
            return mf.CC_SUCCESS, bytes((9, 0x12, 0x05))
        return answer(who, msg, command, data)
    server.endpoint._control_command = static_bridge
    code, out, err = cli("mctp", "get-eid", target, "--json")
    assert code == 0, err
    assert json.loads(out)["result"] == {
        "eid": 9, "endpoint_type": 1, "endpoint_type_decoded": "bus owner / bridge",
        "eid_type": 2, "eid_type_decoded": "static (current)", "medium_specific": 5}


def test_the_mctp_commands_take_an_af_mctp_target(serve, monkeypatch):
    import cxlmi_cli.target as cli_target
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    tcp, server = serve("switch", eid=9)
    real, opened = cli_target.open_endpoint, []

    def af_mctp_over_tcp(target, *args, **kwargs):     # no AF_MCTP here: the same endpoint
        opened.append(target)
        return real(tcp, *args, **kwargs)
    monkeypatch.setattr(cli_target, "open_endpoint", af_mctp_over_tcp)
    code, out, err = cli("mctp", "get-eid", "mctp:1,9", "--json")
    assert code == 0, err
    assert opened == ["mctp:1,9"] and json.loads(out)["result"]["eid"] == 9


def test_the_mctp_commands_refuse_targets_that_are_not_mctp(monkeypatch):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    code, out, err = cli("mctp", "get-eid", "emu:switch")
    assert code == 2
    assert "emu:switch is not reached over MCTP" in err
    code, out, err = cli("mctp", "get-eid", "tcp:127.0.0.1:1", "--port", "1")
    assert code == 2 and "drop --port/--ld/--mhd" in err


# ------------------------------------------------------------------ -v and extra bytes

def test_verbose_says_when_a_reply_is_longer_than_its_structure(serve, monkeypatch, caplog):
    import logging
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    from cxlmi_bindings.emulator.switch import Switch
    target, server = serve("switch")
    device = server.device
    original = device.handle

    def longer(message, msg_type=8):
        from cxlmi_bindings import cci
        reply = original(message, msg_type)
        hdr = cci.decode_header(message)
        if hdr.opcode != 0x5100:
            return reply
        payload = reply[12:] + b"\xab" * 20             # a newer revision's 20 bytes
        return cci.encode(0x5100, payload, hdr.tag, category=cci.CATEGORY_RESPONSE)
    device.handle = longer
    assert isinstance(device, Switch)
    with caplog.at_level(logging.INFO, logger="cxlmi.cli"):    # what -v shows
        code, out, err = cli("-v", "fmapi", "identify-sw-device", target)
    assert code == 0, err
    assert "20 bytes past the structure" in caplog.text and "abab" in caplog.text
    from cxlmi_cli.main import cli as root
    res = runner().invoke(root, ["fmapi", "identify-sw-device", target, "-o", "raw"])
    assert res.stdout_bytes.endswith(b"\xab" * 20) and len(res.stdout_bytes) == 93


# ------------------------------------------------------------------ emulate --peer jrl

ENV = dict(os.environ, PYTHONPATH=ROOT)
ENV.pop("CXLMI_TARGET", None)


def _cxl_mi(*args):
    out = subprocess.run([sys.executable, "-m", "cxlmi_cli"] + list(args), cwd=ROOT, env=ENV,
                         capture_output=True, timeout=60, text=True)
    assert "Traceback" not in out.stderr, out.stderr
    return out


@pytest.fixture
def emulate():
    procs = []

    def start(*args):
        proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                                 "127.0.0.1:0"] + list(args), cwd=ROOT, env=ENV,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(proc)
        line = proc.stdout.readline()
        m = re.search(r"listening on (tcp:127\.0\.0\.1:\d+)", line)
        assert m, line
        return m.group(1)

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


COMMANDS = [
    ("generic", "identify"),
    ("generic", "bg-op-status"),
    ("generic", "get-response-msg-limit"),
    ("fmapi", "identify-sw-device"),
    ("fmapi", "get-phys-port-state", "--ports", "0,1,2"),
    ("fmapi", "get-vcs-info", "--vcs", "0"),
    ("fmapi", "get-ld-info", "--port", "2"),
    ("fmapi", "get-ld-allocations", "--port", "2"),
    ("fmapi", "get-qos-control", "--port", "2"),
    ("fmapi", "get-qos-status", "--port", "2"),
    ("fmapi", "get-qos-allocated-bw", "--port", "2", "--number-ld", "4"),
    ("fmapi", "get-qos-bw-limit", "--port", "2", "--number-ld", "4"),
]


def test_emulate_peer_jrl_answers_a_jrl_client_as_a_spec_server_answers_a_spec_one(emulate):
    jrl = emulate("--peer", "jrl")
    spec = emulate()
    for command in COMMANDS:
        group, name = command[:2]
        a = _cxl_mi(group, name, jrl, "--peer", "jrl", "--json", *command[2:])
        b = _cxl_mi(group, name, spec, "--json", *command[2:])
        assert a.returncode == 0 == b.returncode, (command, a.stderr, b.stderr)
        ra, rb = json.loads(a.stdout), json.loads(b.stdout)
        assert ra["result"] == rb["result"], command
    # a spec client cannot read the jrl server's tunnel form: the deviation is real
    c = _cxl_mi("fmapi", "get-ld-info", jrl, "--port", "2", "--json", "--timeout", "3")
    assert c.returncode != 0



@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork()")
def test_emulate_peer_jrl_with_workers_answers_a_jrl_client(emulate):
    jrl = emulate("--peer", "jrl", "--workers", "2")
    for _ in range(2):                      # each connection may land on either worker
        out = _cxl_mi("fmapi", "get-ld-info", jrl, "--port", "2", "--peer", "jrl", "--json",
                      "--timeout", "3")
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["result"]["ld_count"] == 4

def test_the_cli_goes_on_with_the_command_when_the_probe_times_out(monkeypatch):
    """Without --timeout a probe that gets no answer costs its wait, not the command."""
    from cxlmi_bindings import cci, endpoint
    from cxlmi_bindings.emulator.device import Device

    class SilentOnIdentify(Device):
        component_type = 0x00

        def handle(self, message, msg_type=8):
            if cci.decode_header(message).opcode == 0x0001:
                return None
            return cci.encode(0x5100, bytes(73), cci.decode_header(message).tag,
                              category=cci.CATEGORY_RESPONSE)

    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    monkeypatch.setattr(endpoint, "DEFAULT_TIMEOUT_MS", 300)
    server = Server(SilentOnIdentify(), host="127.0.0.1", port=0)
    host, port = server.start()
    try:
        code, out, err = cli("fmapi", "identify-sw-device", "tcp:%s:%d" % (host, port),
                             "--json")
        assert code == 0, err
        assert json.loads(out)["result"]["num_physical_ports"] == 0
    finally:
        server.stop()


def test_the_peer_choices_are_the_profiles():
    from cxlmi_bindings import peers
    from cxlmi_cli.options import endpoint_params
    from cxlmi_cli.commands.emulate import command
    cli_peer = [p for p in endpoint_params() if p.name == "peer"][0]
    emulate_peer = [p for p in command.params if p.name == "peer"][0]
    assert set(cli_peer.type.choices) == set(emulate_peer.type.choices) == set(peers.PEERS)


def test_a_dry_run_shows_the_peer_profiles_bytes(monkeypatch):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    code, out, err = cli("fmapi", "get-ld-info", "tcp:127.0.0.1:1", "--port", "1", "--peer",
                         "jrl", "--no-probe", "--dry-run", "--json")
    assert code == 0, err
    request = json.loads(out)["request"]
    # the outer 5300h message (tag 2) carries port 1, size 13 and the type byte 08h
    assert request["wire"] == ("000200005311000000000000" "01000d0008"
                               "000100005400000000000000")
    assert (request["message"], request["tag"]) == ("000100005400000000000000", 1)
    code, out, err = cli("generic", "identify", "tcp:127.0.0.1:1", "--peer", "jrl",
                         "--dry-run", "--json")
    assert json.loads(out)["request"]["mctp_message_type"] == 7
