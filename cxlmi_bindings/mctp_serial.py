# SPDX-License-Identifier: LGPL-2.1-or-later
"""The MCTP serial transport binding (DMTF DSP0253): MCTP packets as byte-stuffed frames.

One frame carries one MCTP packet (DSP0236 transport header + payload):

    0x7E  revision 0x01  byte count N  packet (N bytes, escaped)  FCS high  FCS low  0x7E

* inside the packet, 0x7E is sent as 0x7D 0x5E and 0x7D as 0x7D 0x5D (the byte XOR 0x20 after
  the escape); the byte count is of the unescaped packet;
* the FCS is CRC-16 with the reflected CCITT polynomial (0x8408 LSB first), initial value 0xFFFF
  and no final complement, over the unescaped revision, count and packet; it goes most
  significant byte first and is not escaped.  That is what Linux's ``mctp-serial`` driver and
  CodeConstruct's mctp-rs put on the wire, so it is what a peer must match;
* the binding's MTU is the MCTP baseline: 64 payload bytes, packets of 5 to 68 bytes (a header
  and at least one payload byte).  Every packet of a message but the last is full; the last is
  not padded.

:func:`encode_frame` and :func:`packets` are the sending side; :class:`FrameDecoder` takes an
arbitrarily chunked byte stream and returns packets and :class:`SerialFrameError` events (bad
FCS, bad escape, bad length, ...) counted in ``errors`` by kind; a damaged frame costs that frame
only, never the stream.  :class:`PacketReassembler` turns packets into
:class:`~cxlmi_bindings.mctp_framing.Message` objects with the checks of
:class:`~cxlmi_bindings.mctp_framing.Reassembler` (SOM/EOM, sequence numbers, tags).
"""

from . import mctp_framing as mf
from .errors import ProtocolError

FLAG = 0x7E
ESCAPE = 0x7D
ESCAPE_XOR = 0x20
REVISION = 0x01
FCS_INIT = 0xFFFF

#: baseline transmission unit: payload bytes of a full packet
MTU = mf.BTU
MIN_PACKET = mf.TRANSPORT_HEADER_SIZE + 1
MAX_PACKET = mf.TRANSPORT_HEADER_SIZE + MTU


def _fcs_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_FCS_TABLE = _fcs_table()


def fcs16(data, fcs=FCS_INIT):
    """The frame check sequence of ``data``, continuing from ``fcs``."""
    table = _FCS_TABLE
    for byte in data:
        fcs = (fcs >> 8) ^ table[(fcs ^ byte) & 0xFF]
    return fcs


_ESCAPES = {FLAG: bytes((ESCAPE, FLAG ^ ESCAPE_XOR)), ESCAPE: bytes((ESCAPE, ESCAPE ^ ESCAPE_XOR))}


def escape(data):
    """``data`` with 0x7E and 0x7D byte-stuffed."""
    data = bytes(data)
    if FLAG not in data and ESCAPE not in data:
        return data
    return data.replace(b"\x7d", _ESCAPES[ESCAPE]).replace(b"\x7e", _ESCAPES[FLAG])


def encode_frame(packet):
    """One MCTP packet (header + payload, 5 to 68 bytes) as a serial frame."""
    packet = bytes(packet)
    if not MIN_PACKET <= len(packet) <= MAX_PACKET:
        raise ValueError("an MCTP packet over serial is %d to %d bytes, not %d"
                         % (MIN_PACKET, MAX_PACKET, len(packet)))
    head = bytes((REVISION, len(packet)))
    fcs = fcs16(packet, fcs16(head))
    return (bytes((FLAG,)) + head + escape(packet)
            + bytes((fcs >> 8, fcs & 0xFF, FLAG)))


def packets(msg_type, message, dst, src, tag, tag_owner, seq=0, mtu=MTU):
    """One message cut into packets of ``mtu`` payload bytes (the last one unpadded).

    Returns ``(packets, next_seq)``, as :func:`mctp_framing.packetize` does.
    """
    body = bytes((msg_type & 0xFF,)) + bytes(message)
    count = max(1, -(-len(body) // mtu))
    out = []
    for i in range(count):
        out.append(mf.pack_header(dst, src, i == 0, i == count - 1, seq, tag_owner, tag)
                   + body[i * mtu:(i + 1) * mtu])
        seq = (seq + 1) & mf.SEQ_MASK
    return out, seq


def encode_message(msg_type, message, dst, src, tag, tag_owner, seq=0):
    """All the frames of one message, joined for one write; returns ``(data, next_seq)``."""
    pkts, seq = packets(msg_type, message, dst, src, tag, tag_owner, seq)
    return b"".join(encode_frame(p) for p in pkts), seq


class SerialFrameError(ProtocolError):
    """A frame that was dropped; ``kind`` names the fault (a key of ``FrameDecoder.errors``)
    and ``dropped`` counts the stream bytes it cost."""

    def __init__(self, kind, message, dropped=0):
        super().__init__(message)
        self.kind = kind
        self.dropped = dropped


# decoder states
_HUNT, _REVISION, _COUNT, _DATA, _ESCAPED, _FCS_HIGH, _FCS_LOW, _END = range(8)

#: the kinds of SerialFrameError, in FrameDecoder.errors
ERROR_KINDS = ("fcs", "escape", "length", "revision", "truncated", "unterminated")


class FrameDecoder:
    """Serial frames from a byte stream.

    :meth:`feed` takes whatever ``read`` returned and gives back, in stream order, each whole
    packet (``bytes``) and a :class:`SerialFrameError` for each frame dropped.  Bytes between
    frames (line noise) are skipped and counted in ``noise``; repeated flags are idle fill.
    The closing flag of one frame may also open the next.
    """

    def __init__(self, max_packet=MAX_PACKET):
        self.max_packet = max_packet
        self.frames = 0
        self.noise = 0
        self.errors = dict.fromkeys(ERROR_KINDS, 0)
        self._state = _HUNT
        self._packet = bytearray()
        self._count = 0
        self._fcs_rcvd = 0
        self._raw = 0           # stream bytes of the frame in progress

    @property
    def in_frame(self):
        """True between an opening flag's revision byte and the end of its frame."""
        return self._state not in (_HUNT, _REVISION)

    def _drop(self, out, kind, text):
        self.errors[kind] += 1
        out.append(SerialFrameError(kind, text, self._raw))
        self._packet = bytearray()

    def feed(self, data):
        out = []
        for byte in bytes(data):
            self._raw += 1
            state = self._state
            if state == _DATA:
                if byte == ESCAPE:
                    self._state = _ESCAPED
                elif byte == FLAG:
                    self._drop(out, "truncated", "frame ends after %d of the %d bytes its count "
                               "announces; dropped" % (len(self._packet), self._count))
                    self._restart()
                else:
                    self._take(byte)
            elif state == _ESCAPED:
                if byte in (FLAG ^ ESCAPE_XOR, ESCAPE ^ ESCAPE_XOR):
                    self._take(byte ^ ESCAPE_XOR)
                else:
                    self._drop(out, "escape", "escape 0x7d followed by 0x%02x (only 0x5e and "
                               "0x5d are defined); frame dropped" % byte)
                    self._resync(byte)
            elif state == _HUNT:
                if byte == FLAG:
                    self._restart()
                else:
                    self.noise += 1
            elif state == _REVISION:
                if byte == FLAG:            # idle fill, or a shared flag: still waiting
                    self._restart()
                elif byte == REVISION:
                    self._state = _COUNT
                else:
                    self._drop(out, "revision", "serial revision 0x%02x, not 0x%02x; frame "
                               "dropped" % (byte, REVISION))
                    self._hunt()
            elif state == _COUNT:
                if MIN_PACKET <= byte <= self.max_packet:
                    self._count = byte
                    self._state = _DATA
                else:
                    self._drop(out, "length", "byte count %d outside %d..%d; frame dropped"
                               % (byte, MIN_PACKET, self.max_packet))
                    self._resync(byte)
            elif state == _FCS_HIGH:
                self._fcs_rcvd = byte << 8
                self._state = _FCS_LOW
            elif state == _FCS_LOW:
                self._fcs_rcvd |= byte
                self._state = _END
            else:                           # _END: the closing flag
                if byte != FLAG:
                    self._drop(out, "unterminated", "0x%02x where the closing flag 0x7e "
                               "belongs; frame dropped" % byte)
                    self._hunt()
                    continue
                packet = bytes(self._packet)
                fcs = fcs16(packet, fcs16((REVISION, len(packet))))
                if fcs != self._fcs_rcvd:
                    self._drop(out, "fcs", "FCS 0x%04x, computed 0x%04x; frame dropped"
                               % (self._fcs_rcvd, fcs))
                else:
                    self.frames += 1
                    out.append(packet)
                self._restart()             # this flag may open the next frame
        return out

    def _take(self, byte):
        self._packet.append(byte)
        self._state = _FCS_HIGH if len(self._packet) == self._count else _DATA

    def _restart(self):
        """A flag was seen: the next byte is a revision (or another flag)."""
        self._state = _REVISION
        self._packet = bytearray()
        self._raw = 1

    def _resync(self, byte):
        """After a fault: a flag may open the next frame at once; anything else is skipped up
        to the next flag."""
        if byte == FLAG:
            self._restart()
        else:
            self._hunt()

    def _hunt(self):
        self._state = _HUNT
        self._packet = bytearray()
        self._raw = 0


class PacketReassembler:
    """Messages from variable-length packets, with :class:`mctp_framing.Reassembler`'s checks.

    A serial line is shared: the packets of messages from different requesters (or different
    tags of one requester, such as two processes behind one kernel) may interleave, so each
    (source EID, tag, tag owner) gets a reassembly context of its own, as DSP0236 has it.  Each
    packet is padded to the 68-byte packet the TCP framing uses and handed to that context's
    ``Reassembler``, which checks SOM/EOM and sequence numbers and trims a CXL message to its
    CCI header's length.  A packet that is not the last of its message must be full (DSP0236);
    one that is not is dropped with its message.
    """

    #: contexts kept at once; the oldest goes first (a requester that vanished mid-message)
    MAX_CONTEXTS = 64

    def __init__(self, max_message=mf.DEFAULT_MAX_MESSAGE):
        self.max_message = max_message
        self._contexts = {}         # (src, tag, tag owner) -> Reassembler, oldest first
        self.messages = 0
        self.errors = 0

    def _error(self, text, dropped):
        self.errors += 1
        return mf.FramingError(text, dropped)

    def feed(self, packet):
        """Events (``Message`` or ``FramingError``) that this packet completes."""
        packet = bytes(packet)
        if not MIN_PACKET <= len(packet) <= MAX_PACKET:
            return [self._error("MCTP packet of %d bytes over serial (%d..%d); dropped"
                                % (len(packet), MIN_PACKET, MAX_PACKET), len(packet))]
        hdr = mf.PacketHeader(packet)
        key = (hdr.src, hdr.tag, hdr.tag_owner)
        rx = self._contexts.pop(key, None)      # re-inserted below: the newest last
        if rx is None:
            if not hdr.som:
                return [self._error("packet without start of message (src 0x%02x tag %d, seq "
                                    "%d) outside a message; dropped"
                                    % (hdr.src, hdr.tag, hdr.seq), len(packet))]
            rx = mf.Reassembler(max_message=self.max_message)
        if not hdr.eom and len(packet) != MAX_PACKET:
            return [self._error(
                "packet of %d payload bytes before the end of its message (all but the last "
                "carry %d); message dropped" % (len(packet) - mf.TRANSPORT_HEADER_SIZE, MTU),
                len(packet))]
        events = []
        for ev in rx.feed(packet.ljust(MAX_PACKET, b"\0")):
            if isinstance(ev, mf.Message):
                self.messages += 1
                events.append(ev)
            elif ev is not None:
                self.errors += 1
                events.append(ev)
        if rx.in_message:
            self._contexts[key] = rx
            while len(self._contexts) > self.MAX_CONTEXTS:
                old = next(iter(self._contexts))
                del self._contexts[old]
                events.append(self._error("too many messages in progress at once; the one "
                                          "from src 0x%02x tag %d dropped" % old[:2], 0))
        return events
