# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tunnel Management Command (opcode 5300h) at any depth.

Request payload:  port-or-LD id (u8), target type (u8), command size (u16),
                  then the whole inner CCI message.
Response payload: response length (u16), reserved (u16), then the whole inner
                  CCI response message.

Target type 0 addresses a switch downstream port or an LD of an MLD; type 1
addresses the LD pool CCI of a multi-headed device (the id is ignored).  The
spec is followed for every transport: libcxlmi sends the MHD hop as type 0
over ioctl, we do not.
"""

import struct

from . import cci
from .errors import ProtocolError, UsageError, DeviceError

OPCODE = 0x5300
TARGET_PORT_OR_LD = 0
TARGET_LD_POOL_CCI = 1

_REQ = struct.Struct("<BBH")
_RSP = struct.Struct("<HH")


class Tunnel:
    """Where a command goes beyond the endpoint: outermost hop first.

    Each hop is ``(target_type, id)``.  Build one with the helpers:
    ``Tunnel.switch(3)``, ``Tunnel.mld(2)``, ``Tunnel.switch_mld(1, 2)``,
    ``Tunnel.mhd()``, or ``Tunnel([(0, 1), (0, 2), ...])`` for deeper paths.
    """

    __slots__ = ("hops", "labels")

    def __init__(self, hops=(), labels=None):
        checked = []
        for hop in hops:
            try:
                target_type, ident = hop
            except (TypeError, ValueError):
                raise UsageError("a tunnel hop is (target type, id), not %r" % (hop,)) from None
            if not isinstance(ident, int) or isinstance(ident, bool):
                raise UsageError("tunnel id %r is not a number (0..255)" % (ident,))
            if target_type not in (TARGET_PORT_OR_LD, TARGET_LD_POOL_CCI):
                raise UsageError("tunnel target type %r is not 0 (port/LD) or 1 (LD pool)"
                                 % (target_type,))
            if not 0 <= ident <= 0xFF:
                raise UsageError("tunnel id %r is out of range (0..255)" % (ident,))
            checked.append((target_type, ident))
        self.hops = tuple(checked)
        #: what each hop's id names, for messages ("switch port", "LD"): target type
        #: 0 is a port or an LD by what the receiver is, which the helpers know
        self.labels = tuple(labels) if labels else None

    @classmethod
    def switch(cls, port):
        return cls([(TARGET_PORT_OR_LD, port)], ("switch port",))

    @classmethod
    def mld(cls, ld):
        return cls([(TARGET_PORT_OR_LD, ld)], ("LD",))

    @classmethod
    def switch_mld(cls, port, ld):
        return cls([(TARGET_PORT_OR_LD, port), (TARGET_PORT_OR_LD, ld)],
                   ("switch port", "LD"))

    @classmethod
    def mhd(cls):
        return cls([(TARGET_LD_POOL_CCI, 0)])

    @property
    def depth(self):
        return len(self.hops)

    def __bool__(self):
        return bool(self.hops)

    def __eq__(self, other):
        return isinstance(other, Tunnel) and other.hops == self.hops

    def __hash__(self):
        return hash(self.hops)

    def __repr__(self):
        return "Tunnel(%r)" % (list(self.hops),)

    def hop_name(self, index):
        """What hop ``index`` (0: the outermost) reaches, in words."""
        target_type, ident = self.hops[index]
        if target_type == TARGET_LD_POOL_CCI:
            return "LD pool CCI"
        label = self.labels[index] if self.labels else "port/LD"
        return "%s %d" % (label, ident)

    def describe(self):
        return " -> ".join(self.hop_name(i) for i in range(len(self.hops))) or "direct"


def coerce(value):
    """A Tunnel from what a caller may pass as ``tunnel=``: a Tunnel, libcxlmi's
    ``struct_cxlmi_tunnel_info`` (``cxlmi_tunnel_switch(2)``), or None."""
    if value is None or isinstance(value, Tunnel):
        return value
    if all(hasattr(value, f) for f in ("level", "port", "ld", "mhd")):
        return from_info(value)
    raise UsageError("tunnel: expected a Tunnel (Tunnel.switch(2), Tunnel.mld(1), "
                     "Tunnel.switch_mld(2, 1), Tunnel.mhd()) or a struct_cxlmi_tunnel_info, "
                     "not %r" % (value,))


def from_info(ti):
    """Turn a libcxlmi ``struct cxlmi_tunnel_info`` (or None) into a Tunnel."""
    if ti is None:
        return None
    if isinstance(ti, Tunnel):
        return ti
    level, port, ld, mhd = ti.level, ti.port, ti.ld, bool(ti.mhd)
    if level == 0:
        return None
    if mhd:
        if level != 1:
            raise UsageError("an MHD tunnel has exactly one level, not %d" % level)
        return Tunnel.mhd()
    if level == 1:
        if port < 0 and ld < 0:
            raise UsageError("a level-1 tunnel names a switch port or an LD, not neither")
        # as libcxlmi: the LD when one is named, else the port
        return Tunnel.mld(ld) if ld >= 0 else Tunnel.switch(port)
    if level == 2:
        if port < 0 or ld < 0:
            raise UsageError("a level-2 tunnel needs both a switch port and an LD")
        return Tunnel.switch_mld(port, ld)
    raise UsageError("tunnel level %d is not supported (0, 1 or 2)" % level)


def wrap(message, tunnel, next_tag, type_byte=None):
    """Wrap ``message`` once per hop, innermost hop first.

    ``next_tag()`` supplies a tag for each new outer message.  Returns the
    outermost message and the tags used, outermost first.  ``type_byte`` (a
    peer profile's deviation, see :mod:`peers`) puts that MCTP message type
    byte in front of each inner message, counted in the command size.
    """
    tags = []
    for target_type, ident in reversed(tunnel.hops):
        tag = next_tag()
        if type_byte is not None:
            message = bytes((type_byte,)) + message
        payload = _REQ.pack(ident, target_type, len(message)) + message
        message = cci.encode(OPCODE, payload, tag)
        tags.append(tag)
    tags.reverse()
    return message, tags


#: what to check when a hop will not carry a command on
_HOP_ADVICE = {
    "switch port": "is the target a switch, and is a component attached to that port? "
                   "(`cxl-mi fmapi topology TARGET` shows its ports)",
    "LD": "is the component before it an MLD with that LD? (`cxl-mi fmapi get-ld-info` "
          "there lists its LDs)",
    "LD pool CCI": "only a multi-headed device has one",
    "port/LD": "check that the component before it can tunnel and has that port or LD",
}


def unwrap(response, tunnel, tags, type_byte=None, fix_header=None):
    """Peel one Tunnel Management response per hop, checking every length.

    Returns the innermost response message (bytes).  A hop that failed raises
    DeviceError naming the hop; a malformed hop raises ProtocolError.
    ``type_byte`` expects the peer's type byte in front of each inner message;
    ``fix_header`` (message -> message) is applied to each inner message.
    """
    for level, tag in enumerate(tags, 1):
        hop = tunnel.hop_name(level - 1)
        where = "tunnel level %d (%s)" % (level, hop)
        try:
            _, _, payload = cci.check_response(response, tag, OPCODE, "tunnel")
        except DeviceError as exc:
            exc.level = where
            exc.args = ("%s: %s" % (where, exc.args[0]),)
            if exc.name in ("INPUT", "UNSUPPORTED"):
                # the hop refused to carry the command, whatever the command's fields
                kind = hop if hop in _HOP_ADVICE else hop.rpartition(" ")[0]
                exc.hint = "the command did not get through to %s: %s" % (
                    hop, _HOP_ADVICE.get(kind, _HOP_ADVICE["port/LD"]))
            raise
        if len(payload) < _RSP.size:
            raise ProtocolError("%s: response payload of %d bytes has no tunnel header"
                                % (where, len(payload)))
        length, _ = _RSP.unpack_from(payload)
        if length != len(payload) - _RSP.size:
            raise ProtocolError("%s: tunnel says %d bytes follow, %d did"
                                % (where, length, len(payload) - _RSP.size))
        response = bytes(payload[_RSP.size:])
        if type_byte is not None:
            if not response or response[0] != type_byte:
                raise ProtocolError("%s: the inner reply does not start with MCTP type 0x%02x"
                                    % (where, type_byte))
            response = response[1:]
        if fix_header is not None:
            response = fix_header(response)
    return response


def split_request(payload):
    """Device side: parse a 5300h request payload → (target_type, id, inner)."""
    if len(payload) < _REQ.size:
        raise ProtocolError("tunnel request of %d bytes has no header" % len(payload))
    ident, target_type, size = _REQ.unpack_from(payload)
    inner = bytes(payload[_REQ.size:])
    if size != len(inner):
        raise ProtocolError("tunnel request says %d bytes follow, %d did" % (size, len(inner)))
    return target_type, ident, inner


def build_response(inner_response):
    """Device side: the 5300h response payload around ``inner_response``."""
    return _RSP.pack(len(inner_response), 0) + inner_response
