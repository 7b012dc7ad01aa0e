# SPDX-License-Identifier: LGPL-2.1-or-later
"""Transports behind one contract.

An abstract ``Transport`` (``send`` must be written; closing, context management
and ``detect()`` come with the base class), backends registered by name, and
other packages' backends installed through the ``cxl_mi.transports``
entry-point group: a real distribution on ``sys.path`` here, found by
importlib.metadata, reachable as ``NAME:SPEC`` and listed by ``cxl-mi list``.
"""

import json
import os
import subprocess
import sys

import pytest

from cxlmi_bindings import transports
from cxlmi_bindings.transports.base import Transport
from test_cli import ROOT


def test_a_backend_must_say_how_it_sends():
    class Half(Transport):
        name = "half"
    with pytest.raises(TypeError, match="send"):
        Half()


def test_closing_is_the_base_classs_and_may_be_asked_twice(tmp_path):
    closed = []

    class Holder(Transport):
        name = "holder"

        def __init__(self):
            self.fd = os.open(str(tmp_path / "f"), os.O_CREAT | os.O_RDWR)

        def send(self, message, msg_type, timeout):
            return message

        def _close_fd(self, fd):
            closed.append(fd)
            os.close(fd)

    with Holder() as t:
        fd = t.fd
    assert closed == [fd] and t.fd is None
    t.close()
    assert closed == [fd]                       # nothing more to let go of
    with pytest.raises(OSError):
        os.fstat(fd)


def test_every_builtin_backend_answers_detect_with_a_list():
    emulated = transports.backend_class("emu").detect()
    assert [e["target"] for e in emulated] == ["emu:type3", "emu:mld", "emu:switch",
                                               "emu:mhd", "emu:dcd"]
    assert transports.backend_class("tcp").detect() == []       # found only when told
    assert transports.backend_class("mock").detect() == []


def test_the_emulator_profiles_say_whether_this_installation_has_their_model(monkeypatch):
    from cxlmi_bindings.emulator import profiles
    monkeypatch.setitem(profiles.PROFILES, "ghost",
                        ("cxlmi_bindings.emulator.no_such_model:build", "not installed"))
    found = {e["profile"]: e for e in transports.backend_class("emu").detect()}
    assert found["ghost"] == {"target": "emu:ghost", "profile": "ghost",
                              "description": "not installed", "available": False}
    assert found["type3"]["available"] is True


def test_a_message_the_emulated_device_drops_is_a_protocol_error():
    from cxlmi_bindings import cci
    from cxlmi_bindings.errors import ProtocolError
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    t = EmulatedTransport("type3")
    with pytest.raises(ProtocolError, match="the emulated type3 dropped the message"):
        t.send(cci.encode(0x0001, b"", category=cci.CATEGORY_RESPONSE), 8, None)


def test_options_given_to_open_reach_the_emulated_device():
    from cxlmi_bindings import Context
    with Context(probe=False) as ctx:
        ep = ctx.open("emu:type3", serial=0x1234)
        assert ep.identify().serial_num == 0x1234


def test_a_backend_that_carries_no_tunnels_is_refused_one_before_sending():
    from cxlmi_bindings import Context, NotSupported, Tunnel
    from cxlmi_bindings.transports.emulated import EmulatedTransport

    class Direct(EmulatedTransport):
        name = "direct"
        tunnels = False
        sent = 0

        def send(self, message, msg_type, timeout):
            self.sent += 1
            return super().send(message, msg_type, timeout)

    with Context() as ctx:
        ep = ctx.open_transport(Direct("switch"), "direct:switch")
        with pytest.raises(NotSupported) as err:
            ep.fmapi_get_ld_info(tunnel=Tunnel.switch(2))
        assert str(err.value) == "emulated switch cannot carry tunnelled commands"
        assert ep.transport.sent == 0
        assert ep.fmapi_identify_sw_device().num_physical_ports > 0    # direct FM-API goes
        assert ep.transport.sent == 1


def test_the_endpoints_timeout_reaches_the_backend_in_seconds():
    from cxlmi_bindings import Context
    from cxlmi_bindings.transports.emulated import EmulatedTransport

    class Timed(EmulatedTransport):
        name = "timed"

        def send(self, message, msg_type, timeout):
            self.timeouts = getattr(self, "timeouts", []) + [timeout]
            return super().send(message, msg_type, timeout)

    with Context() as ctx:
        ep = ctx.open_transport(Timed("type3"), "timed:type3")
        ep.identify()
        ep.timeout_ms = 1500
        ep.identify()
        ep.timeout_ms = 0                   # no timeout: wait as long as it takes
        ep.identify()
        assert ep.transport.timeouts == [5.0, 1.5, None]


PLUGIN = '''
from cxlmi_bindings.transports.emulated import EmulatedTransport


class Acme(EmulatedTransport):
    """A vendor's transport: here an emulated Type 3 under another name."""
    name = "acme"

    @classmethod
    def detect(cls, **options):
        return [{"target": "acme:one"}, {"target": "acme:two"}]

    @classmethod
    def from_target(cls, spec, **options):
        if spec not in ("one", "two"):
            from cxlmi_bindings.errors import UsageError
            raise UsageError("acme has no device %r" % spec)
        return cls("type3")
'''

ENTRY_POINTS = "[cxl_mi.transports]\nacme = acme_transport:Acme\ntcp = acme_transport:Acme\n"


@pytest.fixture
def plugin_env(tmp_path):
    (tmp_path / "acme_transport.py").write_text(PLUGIN)
    dist = tmp_path / "acme_transport-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-transport\n"
                                   "Version: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), ROOT]))
    env.pop("CXLMI_TARGET", None)
    return env


def cxl_mi(env, *args):
    return subprocess.run([sys.executable, "-m", "cxlmi_cli"] + list(args), cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_an_installed_transport_plugin_is_a_target_and_is_listed(plugin_env):
    res = cxl_mi(plugin_env, "identify", "acme:one", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["result"]["component_type"] == 3
    res = cxl_mi(plugin_env, "list", "--json", "--no-mctp", "--no-devices")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["plugins"] == {
        "acme": [{"target": "acme:one"}, {"target": "acme:two"}]}
    res = cxl_mi(plugin_env, "list", "--no-mctp", "--no-devices")
    assert "acme targets" in res.stdout and "acme:two" in res.stdout


def test_a_plugin_cannot_take_a_builtin_name_and_reports_its_own_bad_target(plugin_env):
    res = cxl_mi(plugin_env, "identify", "acme:three")
    assert res.returncode == 2 and "acme has no device 'three'" in res.stderr
    res = cxl_mi(plugin_env, "list", "--json", "--no-mctp", "--no-devices")
    assert "tcp" not in json.loads(res.stdout)["plugins"]        # tcp: stays MCTP over TCP


def test_an_unknown_backend_name_is_told_with_the_plugins_too(plugin_env):
    code = ("from cxlmi_bindings import transports\n"
            "try:\n    transports.backend_class('nope')\n"
            "except ValueError as exc:\n    print(exc)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=plugin_env,
                         capture_output=True, text=True, timeout=60)
    assert res.stdout.strip() == ("unknown transport backend 'nope' (known: acme, emu, fwctl, "
                                  "ioctl, mctp, mock, tcp)"), res.stderr


def test_without_the_plugin_the_name_is_not_a_target():
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("CXLMI_TARGET", None)
    res = cxl_mi(env, "identify", "acme:one")
    assert res.returncode == 2 and "is not a form cxl-mi knows" in res.stderr
