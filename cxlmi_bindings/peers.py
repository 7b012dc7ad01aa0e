# SPDX-License-Identifier: LGPL-2.1-or-later
"""Peer profiles: the documented deviations of a family of peers, opt-in by name.

The spec's behaviour is the default (profile ``spec``).  A profile is asked
for by name (``--peer jrl``, ``Context.open(..., peer="jrl")``,
``cxl-mi emulate --peer jrl``) and switches on exactly the deviations it
lists; each is described, with the bytes on the wire, in
``docs/mctp-over-tcp.md``.

``jrl``: the MCTP-over-TCP switch emulator and fabric-manager CLI of
Jackrabbit Labs (``cse`` and ``jack``):

- ``tunnel_type_byte``: Tunnel Management (5300h) carries an MCTP message
  type byte (08h) in front of the inner CCI message, counted in the size
  field, in requests and responses alike;
- ``category_high_nibble``: the CCI message category is read from and
  written to bits 7:4 of the first header byte (spec: bits 3:0), and the
  background-operation flag sits in bit 0 of byte 7 (spec: bit 7);
- ``lost_last_byte``: a message whose length (without the type byte) is a
  multiple of 64 arrives one byte short; the missing byte is taken as zero;
- ``generic_type``: every CCI command, the generic ones (0001h-0005h,
  Background Operation Status) included, goes as MCTP type 7, whatever
  Get Message Type Support lists (the peer lists 8 but serves only 7);
- ``control_any_tag``: MCTP control replies carry a stale message tag and
  tag owner bit; the reply is matched by its control header alone;
- ``answer_unknown_types``: a server answers a message of a type it does not
  serve (the peer's vendor type 70h) with an error instead of silence.
"""

import struct

from .errors import ProtocolError, UsageError

#: the vendor message type of the jrl emulator API (``jack show devices`` &c.)
JRL_VENDOR_TYPE = 0x70
#: the jrl emulator API's return code for "unsupported"
JRL_EMAPI_UNSUPPORTED = 0x03


class Peer:
    """A set of deviations from the spec; the default instance is the spec."""

    __slots__ = ("name", "summary", "tunnel_type_byte", "category_high_nibble",
                 "lost_last_byte", "generic_type", "control_any_tag",
                 "answer_unknown_types")

    def __init__(self, name, summary, tunnel_type_byte=None, category_high_nibble=False,
                 lost_last_byte=False, generic_type=None, control_any_tag=False,
                 answer_unknown_types=False):
        self.name = name
        self.summary = summary
        self.tunnel_type_byte = tunnel_type_byte
        self.category_high_nibble = category_high_nibble
        self.lost_last_byte = lost_last_byte
        self.generic_type = generic_type
        self.control_any_tag = control_any_tag
        self.answer_unknown_types = answer_unknown_types

    @property
    def is_spec(self):
        return self.name == "spec"

    def __repr__(self):
        return "<Peer %s>" % self.name


SPEC = Peer("spec", "the CXL and DMTF specifications (the default)")
JRL = Peer("jrl", "Jackrabbit Labs' switch emulator cse and FM CLI jack",
           tunnel_type_byte=0x08, category_high_nibble=True, lost_last_byte=True,
           generic_type=0x07, control_any_tag=True, answer_unknown_types=True)

PEERS = {p.name: p for p in (SPEC, JRL)}


def get(peer):
    """A :class:`Peer` from a name, a Peer, or None (the spec)."""
    if peer is None:
        return SPEC
    if isinstance(peer, Peer):
        return peer
    found = PEERS.get(str(peer).strip().lower())
    if found is None:
        raise UsageError("unknown peer profile %r (choose from %s)"
                         % (peer, ", ".join(sorted(PEERS))))
    return found


# --- the category nibble (server side: what a jrl client reads) -------------------------

def to_high_nibble(message):
    """A CCI message with its category moved to bits 7:4 of byte 0 and the
    background-operation flag from bit 7 to bit 0 of byte 7, as a jrl peer
    reads them.  Any tunnelled reply inside is left to the caller."""
    if len(message) < 12:
        return bytes(message)
    out = bytearray(message)
    out[0] = (out[0] & 0x0F) << 4
    if out[7] & 0x80:
        out[7] = (out[7] & 0x7F) | 0x01
    return bytes(out)


def from_high_nibble(message):
    """The inverse of :func:`to_high_nibble` (client side: a jrl reply read the
    spec's way).  Requests carry category 0 either way."""
    if len(message) < 12:
        return bytes(message)
    out = bytearray(message)
    if not out[0] & 0x0F and out[0] >> 4:
        out[0] >>= 4
    if out[7] & 0x01 and not out[7] & 0x80:
        out[7] = (out[7] & 0xFE) | 0x80
    return bytes(out)


# --- the tunnel form ---------------------------------------------------------------------
# spec request payload: id, target type, size (u16) = len(inner), inner
# jrl  request payload: id, target type, size (u16) = 1 + len(inner), type byte, inner
# spec response payload: length (u16) = len(inner), reserved (u16), inner
# jrl  response payload: length (u16) = 1 + len(inner), reserved (u16), type byte, inner

_U16 = struct.Struct("<H")


def tunnel_request_to_spec(payload, type_byte):
    """A jrl-form 5300h request payload in the spec form."""
    payload = bytes(payload)
    if len(payload) < 5:
        raise ProtocolError("tunnel request of %d bytes is too short for the type-byte form"
                            % len(payload))
    size = _U16.unpack_from(payload, 2)[0]
    if payload[4] != type_byte or size != len(payload) - 4:
        raise ProtocolError("tunnel request is not in the type-byte form (size %d, %d bytes "
                            "follow, type 0x%02x)" % (size, len(payload) - 4, payload[4]))
    # byte 1 is reserved in the peer's layout (its sender does not write it):
    # the target is always a port or LD (type 0)
    return payload[:1] + b"\0" + _U16.pack(size - 1) + payload[5:]


def tunnel_response_to_peer(payload, type_byte):
    """A spec-form 5300h response payload in the jrl form."""
    payload = bytes(payload)
    if len(payload) < 4:
        return payload
    inner = payload[4:]
    return _U16.pack(len(inner) + 1) + payload[2:4] + bytes((type_byte,)) + inner


# --- the server side: a spec device behind a peer-profile endpoint ----------------------

TUNNEL_OPCODE = 0x5300


def _rewrite_payload(message, payload):
    """``message`` (a CCI message) with ``payload`` and the header length to match."""
    from . import cci
    out = bytearray(message[:cci.HEADER_SIZE]) + payload
    n = len(payload)
    out[5], out[6] = n & 0xFF, (n >> 8) & 0xFF
    out[7] = (out[7] & 0xE0) | ((n >> 16) & 0x1F)
    return bytes(out)


def request_to_spec(peer, message):
    """A CCI request as a ``peer`` client sent it, in the spec's form (what the
    device models take).  A malformed tunnel form raises ProtocolError."""
    from . import cci
    if peer.tunnel_type_byte is None or len(message) < cci.HEADER_SIZE:
        return message
    if cci.decode_header(message).opcode != TUNNEL_OPCODE:
        return message
    payload = tunnel_request_to_spec(message[cci.HEADER_SIZE:], peer.tunnel_type_byte)
    return _rewrite_payload(message, payload)


def reply_to_peer(peer, request, reply):
    """A device's spec reply to ``request`` in the form a ``peer`` client reads."""
    from . import cci
    if len(reply) < cci.HEADER_SIZE:
        return reply
    hdr = cci.decode_header(reply)
    if (peer.tunnel_type_byte is not None and hdr.opcode == TUNNEL_OPCODE
            and hdr.return_code == 0 and hdr.payload_length >= 4):
        payload = reply[cci.HEADER_SIZE:]
        inner = payload[4:]
        if peer.category_high_nibble:
            inner = to_high_nibble(inner)
        reply = _rewrite_payload(reply, tunnel_response_to_peer(payload[:4] + inner,
                                                                peer.tunnel_type_byte))
    if peer.category_high_nibble:
        reply = to_high_nibble(reply)
    return reply


def unserved_reply(peer, msg_type, body):
    """The error a ``peer`` client gets for a message type the server does not
    serve, or None (silence, the spec's way).  The jrl vendor type 70h has a
    12-byte header: byte 0 version (7:4) and type (3:0: 0 request, 1 response),
    1 tag, 2 return code, 3 opcode, 4 immediate A, 6-7 payload length, 8-11
    immediate B; the answer echoes tag and opcode with return code 3
    (unsupported) and no payload."""
    if not peer.answer_unknown_types or msg_type != JRL_VENDOR_TYPE or len(body) < 12:
        return None
    if body[0] & 0x0F != 0:
        return None                         # not a request: nothing to answer
    return bytes((body[0] & 0xF0 | 0x01, body[1], JRL_EMAPI_UNSUPPORTED, body[3])) + bytes(8)
