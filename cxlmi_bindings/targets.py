# SPDX-License-Identifier: LGPL-2.1-or-later
"""Target strings: one spelling for an endpoint everywhere.

    mem0, /dev/cxl/mem0, switch0   Linux CXL ioctl
    fwctl:N, /dev/fwctl/fwctlN     Linux fwctl (Features only, Linux 6.15+)
    mctp:NET,EID  or  mctp:NET:EID kernel AF_MCTP socket
    tcp:HOST[:PORT]                MCTP over TCP (port 2508 by default)
    emu:PROFILE                    in-process emulated component
    mock                           the mock transport (tests)
"""

import re

from .emulator.profiles import PROFILES
from .errors import UsageError

DEFAULT_TCP_PORT = 2508
#: the emulator's profile names (its profile table is the one list of them)
EMULATOR_PROFILES = tuple(PROFILES)

_DEVNAME = re.compile(r"^(?:/dev/cxl/)?([A-Za-z_][\w.-]*\d+)$")
_FWCTL = re.compile(r"^(?:/dev/fwctl/fwctl|fwctl:(?:fwctl)?|fwctl)(\d+)$")

FORMS = ("mem0 | /dev/cxl/mem0 | switch0 | fwctl:N | mctp:NET,EID | tcp:HOST[:PORT] "
         "| emu:{%s}" % ",".join(EMULATOR_PROFILES))


def _said(where, text):
    """``text`` for a user: after ``where`` (what the value was given as) when there is one."""
    return "%s: %s" % (where, text) if where else text


def _int(text, what, lo, hi, where):
    try:
        # plain digits are decimal even with a leading zero (int(x, 0) refuses '08')
        value = int(text, 10) if text.strip().isdigit() else int(text, 0)
    except ValueError:
        raise UsageError(_said(where, "%s %r is not a number" % (what, text)))
    if not lo <= value <= hi:
        raise UsageError(_said(where, "%s %d is out of range (%d..%d)" % (what, value, lo, hi)))
    return value


def parse_mctp(spec, target=None, where=None):
    """``NET,EID`` or ``NET:EID`` → (net, eid); a refusal is worded as
    :func:`parse_tcp`'s."""
    if where is None:
        where = "target %r" % (target or spec)
    parts = re.split(r"[,:]", spec)
    if len(parts) != 2 or not all(parts):
        raise UsageError(_said(where, "expected NET,EID (e.g. mctp:1,8)"))
    return (_int(parts[0], "network", 0, 0xFFFFFFFF, where),
            _int(parts[1], "EID", 0, 0xFF, where))


def parse_tcp(spec, target=None, where=None, default_port=DEFAULT_TCP_PORT, lowest=1,
              example="tcp:127.0.0.1:2508"):
    """``HOST[:PORT]`` (``[v6addr]:PORT`` too) → (host, port): the one reading of a
    host and port, for targets and for listen addresses alike.

    A refusal names the target (``target`` when it is more than ``spec``), or
    starts with ``where`` instead: what the value was given as ("" for nothing, as
    an option's value, which click names; the value is quoted at the end then).
    ``default_port`` None makes the port required; ``lowest`` 0 lets port 0
    through (a listener's "any free port"); ``example`` is the form the message
    shows."""
    if where is None:
        where = "target %r" % (target or spec)
    m = re.match(r"^\[([^\]]+)\](?::(\w+))?$", spec) or re.match(r"^([^:]+)(?::(\w+))?$", spec)
    if not m or not m.group(1) or (m.group(2) is None and default_port is None):
        shape = "expected HOST%s (e.g. %s)" % (":PORT" if default_port is None else "[:PORT]",
                                               example)
        raise UsageError(_said(where, shape) if where else "%s, not %r" % (shape, spec))
    if m.group(2) is None:
        return m.group(1), default_port
    return m.group(1), _int(m.group(2), "port", lowest, 65535, where)


def is_loopback(host):
    """Is ``host`` (an address as bound, or "localhost") a loopback address?"""
    import ipaddress
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def parse(target):
    """Return ``(backend, kwargs)`` for a target string, or raise UsageError."""
    if isinstance(target, bytes):
        target = target.decode("utf-8", "replace")
    if not isinstance(target, str) or not target.strip():
        raise UsageError("no target given: name one of %s" % FORMS)
    target = target.strip()
    m = _FWCTL.match(target)
    if m:
        return "fwctl", {"devname": "fwctl%d" % int(m.group(1))}
    scheme, sep, rest = target.partition(":")
    if scheme == "fwctl":
        raise UsageError("target %r: expected fwctl:N (e.g. fwctl:0, /dev/fwctl/fwctl0)"
                         % target)
    if sep and scheme in ("mctp", "tcp", "emu"):
        if scheme == "mctp":
            net, eid = parse_mctp(rest, target)
            return "mctp", {"net": net, "eid": eid}
        if scheme == "tcp":
            host, port = parse_tcp(rest, target)
            return "tcp", {"host": host, "port": port}
        if rest not in EMULATOR_PROFILES:
            raise UsageError("target %r: unknown emulator profile %r (choose from %s)"
                             % (target, rest, ", ".join(EMULATOR_PROFILES)))
        return "emu", {"profile": rest}
    if target == "mock":
        return "mock", {}
    m = _DEVNAME.match(target)
    if m and not sep:
        return "ioctl", {"devname": m.group(1)}
    if sep:                             # NAME:SPEC of an installed transport plugin
        from .transports import plugins
        if scheme in plugins():
            return scheme, {"spec": rest}
    raise UsageError("target %r is not a form cxl-mi knows: use %s" % (target, FORMS))
