# SPDX-License-Identifier: LGPL-2.1-or-later
"""Test fixtures for mctpd discovery: a private ``dbus-daemon`` and a fake
mctpd, written with jeepney, that serves either of mctpd's D-Bus layouts.

The fake answers only what a client of mctpd's object tree asks for
(``GetManagedObjects`` on the ObjectManager root, ``Properties.Get[All]``)
and records every method call it receives, so tests can check the messages
on the wire as well as what the scan made of the replies.
"""

import os
import shutil
import subprocess
import tempfile
import threading

OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"
EP = "xyz.openbmc_project.MCTP.Endpoint"
UUID = "xyz.openbmc_project.Common.UUID"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def ensure_dbus_daemon():
    """Path of dbus-daemon, installing Debian's ``dbus`` package on CI.

    Returns None when it is missing and this is not CI (the caller skips).
    """
    path = shutil.which("dbus-daemon")
    if path or os.environ.get("CI") != "true":
        return path
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "dbus"]
    if subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdin=subprocess.DEVNULL)
        subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, check=True)
    return shutil.which("dbus-daemon")


class PrivateBus:
    """A dbus-daemon of our own on a socket in a temporary directory."""

    def __init__(self, daemon):
        self.dir = tempfile.mkdtemp(prefix="cxlmi-dbus-")
        self.socket = os.path.join(self.dir, "bus")
        conf = os.path.join(self.dir, "bus.conf")
        with open(conf, "w") as f:
            f.write(_CONFIG.format(socket=self.socket))
        self.proc = subprocess.Popen(
            [daemon, "--config-file=%s" % conf, "--nofork", "--nopidfile", "--print-address=1"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().strip()
        if not line:
            err = self.proc.stderr.read().decode(errors="replace")
            self.stop()
            raise RuntimeError("dbus-daemon did not start: %s" % err)
        self.address = line

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# -- the two object layouts ------------------------------------------------------

def _ep_v1(net, eid, types, uuid=None, net_sig="i"):
    ifaces = {
        EP: {"NetworkId": (net_sig, net), "EID": ("y", eid),
             "SupportedMessageTypes": ("ay", bytes(types))},
        "au.com.CodeConstruct.MCTP.Endpoint": {},
    }
    if uuid:
        ifaces[UUID] = {"UUID": ("s", uuid)}
    return "/xyz/openbmc_project/mctp/%d/%d" % (net, eid), ifaces


def _ep_v2(net, eid, types, uuid=None):
    ifaces = {
        EP: {"NetworkId": ("u", net), "EID": ("y", eid),
             "SupportedMessageTypes": ("ay", bytes(types)),
             "VendorDefinedMessageTypes": ("a(yvq)", [])},
        "au.com.codeconstruct.MCTP.Endpoint1": {"Connectivity": ("s", "Available")},
    }
    if uuid:
        ifaces[UUID] = {"UUID": ("s", uuid)}
    return "/au/com/codeconstruct/mctp1/networks/%d/endpoints/%d" % (net, eid), ifaces


UUID_A = "f7b1f4d2-6c1e-4c8a-9a55-0c0ffee0cafe"
UUID_B = "0d9e37b4-2b1d-4a7c-8f00-b16b00b5face"


def layout_v1(net_sig="i"):
    """mctpd 1.x: xyz.openbmc_project.MCTP, /xyz/openbmc_project/mctp/<net>/<eid>."""
    objects = dict([
        _ep_v1(1, 8, [0, 7, 8], UUID_A, net_sig),     # CXL switch: FM-API and CCI
        _ep_v1(1, 9, [0, 1], None, net_sig),          # PLDM only
        _ep_v1(1, 10, [0, 8], UUID_B, net_sig),       # CXL type 3 device: CCI
        _ep_v1(2, 30, [0, 7], None, net_sig),         # FM-API only, second network
    ])
    objects["/xyz/openbmc_project/mctp/1"] = {"org.freedesktop.DBus.Peer": {}}
    return ("xyz.openbmc_project.MCTP", "/xyz/openbmc_project/mctp", objects)


def layout_v2():
    """mctpd 2.x: au.com.codeconstruct.MCTP1, /au/com/codeconstruct/mctp1/…"""
    root = "/au/com/codeconstruct/mctp1"
    objects = dict([
        _ep_v2(1, 8, [0, 8]),                # our own EID (a local type registration)
        _ep_v2(1, 10, [0, 8], UUID_B),
        _ep_v2(1, 11, [0, 7, 8], UUID_A),
        _ep_v2(1, 12, [0, 5]),               # SPDM only
        _ep_v2(2, 20, [0, 7]),
    ])
    objects[root + "/interfaces/mctpi2c1"] = {
        "au.com.codeconstruct.MCTP.Interface1": {"NetworkId": ("u", 1),
                                                 "Role": ("s", "BusOwner")},
        "au.com.codeconstruct.MCTP.BusOwner1": {},
    }
    objects[root + "/networks/1"] = {
        "au.com.codeconstruct.MCTP.Network1": {"LocalEIDs": ("ay", bytes([8]))}}
    objects[root + "/networks/2"] = {
        "au.com.codeconstruct.MCTP.Network1": {"LocalEIDs": ("ay", bytes([1]))}}
    return ("au.com.codeconstruct.MCTP1", root, objects)


class FakeMctpd:
    """Owns ``service`` on the bus at ``address`` and serves ``objects``."""

    def __init__(self, address, layout, fail_with=None):
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.service, self.root, self.objects = layout
        self.fail_with = fail_with
        self.received = []
        self.conn = open_dbus_connection(bus=address)
        reply = self.conn.send_and_get_reply(message_bus.RequestName(self.service))
        if reply.body[0] != 1:
            raise RuntimeError("could not own %s (%r)" % (self.service, reply.body))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-mctpd", daemon=True)
        self._thread.start()

    def _serve(self):
        from jeepney import MessageType

        while not self._stop.is_set():
            try:
                msg = self.conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except Exception:
                return
            if msg.header.message_type != MessageType.method_call:
                continue
            self.received.append(self._describe(msg))
            self.conn.send(self._answer(msg))

    @staticmethod
    def _describe(msg):
        from jeepney import HeaderFields
        f = msg.header.fields
        return {"path": f.get(HeaderFields.path), "interface": f.get(HeaderFields.interface),
                "member": f.get(HeaderFields.member),
                "destination": f.get(HeaderFields.destination),
                "signature": f.get(HeaderFields.signature, "")}

    def _answer(self, msg):
        from jeepney import new_error, new_method_return
        d = self._describe(msg)
        if self.fail_with:
            return new_error(msg, self.fail_with, "s", ("fake mctpd was told to fail",))
        if d["interface"] == OBJECT_MANAGER and d["member"] == "GetManagedObjects":
            if d["path"] != self.root:
                return new_error(msg, "org.freedesktop.DBus.Error.UnknownObject", "s",
                                 ("no object manager at %s" % d["path"],))
            return new_method_return(msg, "a{oa{sa{sv}}}", (self.objects,))
        if d["interface"] == PROPERTIES and d["member"] in ("Get", "GetAll"):
            ifaces = self.objects.get(d["path"])
            if ifaces is None or msg.body[0] not in ifaces:
                return new_error(msg, "org.freedesktop.DBus.Error.UnknownInterface", "s",
                                 ("no such interface",))
            props = ifaces[msg.body[0]]
            if d["member"] == "GetAll":
                return new_method_return(msg, "a{sv}", (props,))
            if msg.body[1] not in props:
                return new_error(msg, "org.freedesktop.DBus.Error.UnknownProperty", "s",
                                 ("no such property",))
            return new_method_return(msg, "v", (props[msg.body[1]],))
        return new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod", "s",
                         ("%s.%s is not served by the fake" % (d["interface"], d["member"]),))

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        try:
            self.conn.close()
        except Exception:
            pass
