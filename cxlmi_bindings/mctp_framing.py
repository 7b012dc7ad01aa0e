# SPDX-License-Identifier: LGPL-2.1-or-later
"""MCTP packets as the CXL emulators carry them over a TCP stream.

The stream is a sequence of fixed 68-byte packets: a 4-byte MCTP transport
header (DSP0236) followed by 64 bytes of payload, the baseline transmission
unit (until both ends agree on sized packets: :mod:`.mctp_sized`).

    byte 0   bits 3:0 header version (1); bits 7:4 reserved
    byte 1   destination EID
    byte 2   source EID
    byte 3   bit 7 SOM, bit 6 EOM, bits 5:4 packet sequence (mod 4),
             bit 3 tag owner, bits 2:0 message tag

A message is the MCTP message type byte followed by the message itself (for
types 7 and 8 a whole CCI message, header + payload), cut into 64-byte packet
payloads; the last packet is zero padded.  The receiver learns the true
length of a CXL message from the CCI header (12 + its 21-bit payload length),
and of an MCTP control message from the control command's layout.

:func:`packetize` turns a message into packets; :class:`Reassembler` turns an
arbitrarily chunked byte stream back into :class:`Message` objects and reports
anything malformed as :class:`FramingError` *events* (instances of
:class:`~cxlmi_bindings.errors.ProtocolError`, returned rather than raised, so
one bad packet never stops the stream: the caller decides whether to log it or
raise it).

Sequence numbers: a sender here keeps one counter per direction of a stream
and carries on counting across messages (that is what the open-source CXL
switch emulator expects); a receiver accepts any sequence number on a
start-of-message packet and checks every following packet of the message.
"""

import functools
import struct

from . import cci
from .errors import ProtocolError

HEADER_VERSION = 0x01
TRANSPORT_HEADER_SIZE = 4
BTU = 64
PACKET_SIZE = TRANSPORT_HEADER_SIZE + BTU

SOM = 0x80
EOM = 0x40
SEQ_SHIFT = 4
SEQ_MASK = 0x03
TAG_OWNER = 0x08
TAG_MASK = 0x07

TYPE_CONTROL = 0x00
TYPE_FMAPI = 0x07
TYPE_CCI = 0x08
CXL_TYPES = (TYPE_FMAPI, TYPE_CCI)

EID_NULL = 0x00
EID_BROADCAST = 0xFF

#: largest message body (type byte + message) a reassembler accepts by
#: default: a CCI message with a 1 MiB payload
DEFAULT_MAX_MESSAGE = 1 + cci.HEADER_SIZE + (1 << 20)
#: the largest body the CCI length field can describe
MAX_CXL_MESSAGE = 1 + cci.HEADER_SIZE + cci.MAX_PAYLOAD

# --- MCTP control messages (DSP0236 section 11) -------------------------------
# After the message type byte: byte 0 = Rq (bit 7), D (bit 6), instance ID
# (bits 4:0); byte 1 = command code; responses then carry a completion code.

CTRL_RQ = 0x80
CTRL_DATAGRAM = 0x40
CTRL_INSTANCE_MASK = 0x1F

CTRL_SET_ENDPOINT_ID = 0x01
CTRL_GET_ENDPOINT_ID = 0x02
CTRL_GET_ENDPOINT_UUID = 0x03
CTRL_GET_VERSION_SUPPORT = 0x04
CTRL_GET_MESSAGE_TYPE_SUPPORT = 0x05
CTRL_GET_VENDOR_MESSAGE_SUPPORT = 0x06
CTRL_RESOLVE_ENDPOINT_ID = 0x07
#: transport specific (DSP0236 leaves F0h-FFh to each binding): this binding's
#: Set Transmission Unit, see :mod:`.mctp_sized`
CTRL_SET_TRANSMISSION_UNIT = 0xF0

CC_SUCCESS = 0x00
CC_ERROR = 0x01
CC_INVALID_DATA = 0x02
CC_INVALID_LENGTH = 0x03
CC_NOT_READY = 0x04
CC_UNSUPPORTED_CMD = 0x05
CC_VERSION_TYPE_UNSUPPORTED = 0x80   # Get MCTP Version Support only

# bytes after the 2-byte control header, request side
_CTRL_REQUEST_DATA = {
    CTRL_SET_ENDPOINT_ID: 2,          # operation, EID
    CTRL_GET_ENDPOINT_ID: 0,
    CTRL_GET_ENDPOINT_UUID: 0,
    CTRL_GET_VERSION_SUPPORT: 1,      # message type number (0xFF = base spec)
    CTRL_GET_MESSAGE_TYPE_SUPPORT: 0,
    CTRL_GET_VENDOR_MESSAGE_SUPPORT: 1,
    CTRL_RESOLVE_ENDPOINT_ID: 1,
    CTRL_SET_TRANSMISSION_UNIT: 5,    # framing, unit (u32)
}


def control_message_length(message):
    """Length of the MCTP control message at the start of ``message``.

    ``message`` excludes the MCTP type byte.  Returns ``None`` when the layout
    is not known here (the caller keeps every byte), so only padding this
    module can prove to be padding is ever trimmed.
    """
    if len(message) < 2:
        return None
    flags, command = message[0], message[1]
    if flags & CTRL_RQ:
        extra = _CTRL_REQUEST_DATA.get(command)
        return None if extra is None else 2 + extra
    if len(message) < 3:
        return None
    if message[2] != CC_SUCCESS:
        # An error response is meaningful only up to its completion code, but
        # Get Version Support's "unsupported type" answer may carry a count.
        if command == CTRL_GET_VERSION_SUPPORT and len(message) >= 4 and message[3] == 0:
            return 4
        return 3
    if command in (CTRL_SET_ENDPOINT_ID, CTRL_GET_ENDPOINT_ID):
        return 2 + 4
    if command == CTRL_GET_ENDPOINT_UUID:
        return 2 + 17
    if command == CTRL_SET_TRANSMISSION_UNIT:
        return 2 + 1 + 5
    if command == CTRL_GET_VERSION_SUPPORT and len(message) >= 4:
        return 2 + 2 + 4 * message[3]
    if command == CTRL_GET_MESSAGE_TYPE_SUPPORT and len(message) >= 4:
        return 2 + 2 + message[3]
    return None


# --- packets -----------------------------------------------------------------

def pack_header(dst, src, som, eom, seq, tag_owner, tag):
    flags = ((SOM if som else 0) | (EOM if eom else 0) | ((seq & SEQ_MASK) << SEQ_SHIFT)
             | (TAG_OWNER if tag_owner else 0) | (tag & TAG_MASK))
    return bytes((HEADER_VERSION, dst & 0xFF, src & 0xFF, flags))


def packetize(msg_type, message, dst, src, tag, tag_owner, seq=0):
    """Cut one message into 68-byte packets.

    Returns ``(packets, next_seq)``: the list of packets (each to be written
    with one send) and the sequence number the sender's next packet carries.
    """
    body = bytes((msg_type & 0xFF,)) + bytes(message)
    count = max(1, -(-len(body) // BTU))
    packets = []
    for i in range(count):
        chunk = body[i * BTU:(i + 1) * BTU]
        if len(chunk) < BTU:
            chunk += bytes(BTU - len(chunk))
        packets.append(pack_header(dst, src, i == 0, i == count - 1, seq, tag_owner, tag) + chunk)
        seq = (seq + 1) & SEQ_MASK
    return packets, seq


_ZEROS = bytes(BTU)
_SOM_EOM = SOM | EOM

#: packets laid out or taken apart by one ``struct`` call (larger messages take
#: several); the work per packet is then C, not Python
BLOCK_PACKETS = 512


@functools.lru_cache(maxsize=64)
def _chunks(count):
    """Cuts ``count`` consecutive 64-byte payloads out of a message body."""
    return struct.Struct(("%ds" % BTU) * count)


@functools.lru_cache(maxsize=64)
def _packets(count):
    """``count`` packets: a 4-byte header gap (zero when packed), then the payload."""
    return struct.Struct(("%dx%ds" % (TRANSPORT_HEADER_SIZE, BTU)) * count)


def frame(msg_type, message, dst, src, tag, tag_owner, seq=0):
    """One message as the bytes of all its packets, for a single ``send``.

    The same bytes as joining :func:`packetize`'s packets, made without a
    Python object per packet header.  Returns ``(data, next_seq)``.
    """
    flags = (TAG_OWNER if tag_owner else 0) | (tag & TAG_MASK)
    if len(message) < BTU:
        # one packet (most commands): its bytes in one go
        data = (bytes((HEADER_VERSION, dst & 0xFF, src & 0xFF,
                       SOM | EOM | (seq & SEQ_MASK) << SEQ_SHIFT | flags, msg_type & 0xFF))
                + message + _ZEROS[:BTU - 1 - len(message)])
        return data, (seq + 1) & SEQ_MASK
    body = bytes((msg_type & 0xFF,)) + bytes(message)
    count = max(1, -(-len(body) // BTU))
    padded = body.ljust(count * BTU, b"\0")            # the last packet's padding
    out = bytearray(count * PACKET_SIZE)
    for first in range(0, count, BLOCK_PACKETS):
        n = min(BLOCK_PACKETS, count - first)
        _packets(n).pack_into(out, first * PACKET_SIZE,
                              *_chunks(n).unpack_from(padded, first * BTU))
    # the headers, one byte position at a time; the flags byte of packet i is
    # the pattern's (i mod 4)th byte, plus SOM on the first and EOM on the last
    pattern = bytes(((seq + i) & SEQ_MASK) << SEQ_SHIFT | flags for i in range(4))
    flags = bytearray((pattern * (count // 4 + 1))[:count])
    flags[0] |= SOM
    flags[-1] |= EOM
    out[0::PACKET_SIZE] = bytes((HEADER_VERSION,)) * count
    out[1::PACKET_SIZE] = bytes((dst & 0xFF,)) * count
    out[2::PACKET_SIZE] = bytes((src & 0xFF,)) * count
    out[3::PACKET_SIZE] = flags
    return bytes(out), (seq + count) & SEQ_MASK


def _payloads(buf, at, count):
    """The payloads of the ``count`` whole packets at ``buf[at:]``, joined."""
    parts = []
    for first in range(0, count, BLOCK_PACKETS):
        n = min(BLOCK_PACKETS, count - first)
        parts.extend(_packets(n).unpack_from(buf, at + first * PACKET_SIZE))
    return b"".join(parts)


class PacketHeader:
    __slots__ = ("version", "dst", "src", "som", "eom", "seq", "tag_owner", "tag")

    def __init__(self, raw):
        self.version = raw[0] & 0x0F
        self.dst = raw[1]
        self.src = raw[2]
        flags = raw[3]
        self.som = bool(flags & SOM)
        self.eom = bool(flags & EOM)
        self.seq = (flags >> SEQ_SHIFT) & SEQ_MASK
        self.tag_owner = 1 if flags & TAG_OWNER else 0
        self.tag = flags & TAG_MASK

    def __repr__(self):
        flags = "".join(" " + name for name, on in (("SOM", self.som), ("EOM", self.eom)) if on)
        return ("PacketHeader(v=%d dst=0x%02x src=0x%02x%s seq=%d to=%d tag=%d)"
                % (self.version, self.dst, self.src, flags, self.seq, self.tag_owner, self.tag))


class Message:
    """One reassembled MCTP message.

    ``body`` is the message without its type byte: for types 7 and 8 exactly
    the CCI message (header + payload) the CCI header announces.
    """

    __slots__ = ("msg_type", "body", "src", "dst", "tag", "tag_owner")

    def __init__(self, msg_type, body, src, dst, tag, tag_owner):
        self.msg_type = msg_type
        self.body = body
        self.src = src
        self.dst = dst
        self.tag = tag
        self.tag_owner = tag_owner

    def __repr__(self):
        return ("Message(type=0x%02x, %d bytes, src=0x%02x, dst=0x%02x, tag=%d, to=%d)"
                % (self.msg_type, len(self.body), self.src, self.dst, self.tag, self.tag_owner))

    def __eq__(self, other):
        if not isinstance(other, Message):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)


class FramingError(ProtocolError):
    """Something on the stream that is not a well-formed MCTP message.

    ``dropped`` counts the stream bytes thrown away because of it (the bad
    packet and any partial message it ended).
    """

    def __init__(self, message, dropped=0):
        super().__init__(message)
        self.dropped = dropped


class _Partial:
    __slots__ = ("msg_type", "src", "dst", "tag", "tag_owner", "data", "expected_seq",
                 "total", "packets", "discard")

    def __init__(self, hdr, payload):
        self.msg_type = payload[0]
        self.src = hdr.src
        self.dst = hdr.dst
        self.tag = hdr.tag
        self.tag_owner = hdr.tag_owner
        self.data = bytearray(payload[1:])
        self.expected_seq = (hdr.seq + 1) & SEQ_MASK
        self.total = None
        self.packets = 1
        self.discard = False

    def same_stream(self, hdr):
        return (hdr.src, hdr.tag, hdr.tag_owner) == (self.src, self.tag, self.tag_owner)


class Reassembler:
    """Turn a TCP byte stream back into MCTP messages.

    Feed it whatever ``recv`` returned; :meth:`feed` returns the events that
    bytes completed, in stream order: :class:`Message` objects and
    :class:`FramingError` objects.  A malformed packet costs the message it
    belongs to, never the stream: reassembly carries on with the next
    start-of-message packet.
    """

    def __init__(self, max_message=DEFAULT_MAX_MESSAGE, lost_last_byte=False):
        self.max_message = max_message
        #: a peer profile's deviation: a CXL message whose length is a multiple of
        #: 64 may end one byte short (its sender drops the last byte); the
        #: missing byte is taken as zero
        self.lost_last_byte = lost_last_byte
        #: how many messages were completed that way
        self.padded = 0
        self._buf = bytearray()
        self._cur = None
        self.packets = 0
        self.messages = 0
        self.errors = 0

    # -- state the caller may look at -------------------------------------
    @property
    def buffered(self):
        """Bytes of an incomplete packet waiting for the rest of it."""
        return len(self._buf)

    @property
    def in_message(self):
        """True between a start-of-message packet and its end."""
        return self._cur is not None

    def pending(self):
        """Bytes of a packet or a message are waiting for the rest."""
        return bool(self._buf) or self._cur is not None

    #: never: a bad packet costs its message, the stream goes on (see
    #: :class:`~.mctp_sized.SizedReassembler`, which shares this interface)
    broken = False

    def want(self):
        """Always ``None``: 68-byte packets are never read in place (the
        interface of :meth:`.mctp_sized.SizedReassembler.want`)."""
        return None

    def discard_partial(self):
        """Drop the bytes of an incomplete packet (a peer that wrote part of a
        packet and went quiet) so the next packet starts on a boundary.

        Returns the :class:`FramingError` describing what was dropped, or
        ``None`` when nothing was buffered.
        """
        if not self._buf:
            return None
        n = len(self._buf)
        self._buf.clear()
        dropped = n + self._drop_message()
        return self._error("truncated packet: %d of %d bytes arrived, then nothing; dropped"
                           % (n, PACKET_SIZE), dropped)

    def reset(self):
        self._buf.clear()
        self._cur = None

    # -- the work ------------------------------------------------------------
    def feed(self, data):
        if (len(data) == PACKET_SIZE and self._cur is None and not self._buf
                and data[3] & _SOM_EOM == _SOM_EOM and data[0] & 0x0F == HEADER_VERSION
                and data[4] in CXL_TYPES):
            # the common case, a whole one-packet CCI message and nothing else, taken
            # without the general machinery (the checks are the same)
            total = cci.HEADER_SIZE + cci.payload_length(data, 5)
            if total < BTU and total < self.max_message:
                self.packets += 1
                self.messages += 1
                flags = data[3]
                return [Message(data[4], bytes(data[5:5 + total]), data[2], data[1],
                                flags & TAG_MASK, 1 if flags & TAG_OWNER else 0)]
        events = []
        if data:
            self._buf += data
        buf = self._buf
        off = 0
        end = len(buf) - PACKET_SIZE
        while off <= end:
            cur = self._cur
            if cur is not None and cur.total is not None and not cur.discard:
                off += self._run(buf, off, (end - off) // PACKET_SIZE + 1, events)
                continue
            self._packet(bytes(buf[off:off + PACKET_SIZE]), events)
            off += PACKET_SIZE
        if off:
            del buf[:off]
        return events

    def _run(self, buf, at, available, out):
        """Take the whole packets at ``buf[at:]`` that continue the CXL message in
        progress, checking all their headers at once; returns the bytes taken.

        Packets that are exactly what the message needs next (header version,
        source, tag, sequence numbers, EOM on its last packet only) are taken
        in one step.  Anything else goes through :meth:`_packet`, one packet at
        a time, so every error is found and reported as it always is.
        """
        cur = self._cur
        left = -(-(cur.total - len(cur.data)) // BTU)    # packets the message still needs
        count = min(available, left)
        if count <= 0:
            self._packet(bytes(buf[at:at + PACKET_SIZE]), out)
            return PACKET_SIZE
        stop = at + count * PACKET_SIZE
        owner_tag = (TAG_OWNER if cur.tag_owner else 0) | cur.tag
        pattern = bytes(((cur.expected_seq + i) & SEQ_MASK) << SEQ_SHIFT | owner_tag
                        for i in range(4))
        flags = bytearray((pattern * (count // 4 + 1))[:count])
        if count == left:
            flags[-1] |= EOM
        if (buf[at + 3:stop:PACKET_SIZE] != flags
                or buf[at:stop:PACKET_SIZE] != bytes((HEADER_VERSION,)) * count
                or buf[at + 2:stop:PACKET_SIZE] != bytes((cur.src,)) * count):
            for i in range(count):          # the slow path finds and names the fault
                self._packet(bytes(buf[at + i * PACKET_SIZE:at + (i + 1) * PACKET_SIZE]), out)
            return count * PACKET_SIZE
        cur.data += _payloads(buf, at, count)
        cur.packets += count
        self.packets += count
        cur.expected_seq = (cur.expected_seq + count) & SEQ_MASK
        if count == left:
            out.append(self._finish())
        return count * PACKET_SIZE

    def _error(self, text, dropped):
        self.errors += 1
        return FramingError(text, dropped)

    def _drop_message(self):
        """Abandon the message in progress; returns the bytes it had."""
        cur = self._cur
        self._cur = None
        if cur is None or cur.discard:
            return 0
        return cur.packets * PACKET_SIZE

    def _discard(self, cur, eom):
        # keep swallowing this message's packets quietly until its end
        cur.discard = True
        if eom:
            self._cur = None

    def _packet(self, raw, out):
        self.packets += 1
        hdr = PacketHeader(raw)
        payload = raw[TRANSPORT_HEADER_SIZE:]
        if hdr.version != HEADER_VERSION:
            dropped = PACKET_SIZE + self._drop_message()
            out.append(self._error("bad MCTP header version %d (byte 0x%02x); packet dropped"
                                   % (hdr.version, raw[0]), dropped))
            return

        cur = self._cur
        if hdr.som:
            if cur is not None and not cur.discard:
                dropped = self._drop_message()
                out.append(self._error(
                    "start of a new message (tag %d) before the end of the one in progress "
                    "(tag %d, %d packets); partial message dropped"
                    % (hdr.tag, cur.tag, cur.packets), dropped))
            self._cur = cur = _Partial(hdr, payload)
            if cur.msg_type in CXL_TYPES:
                cur.total = cci.HEADER_SIZE + cci.decode_header(cur.data).payload_length
                if 1 + cur.total > self.max_message:
                    self._discard(cur, hdr.eom)
                    out.append(self._error(
                        "message announces %d bytes, more than the %d accepted; dropped"
                        % (1 + cur.total, self.max_message), PACKET_SIZE))
                    return
            if hdr.eom:
                out.append(self._finish())
            return

        # a middle or last packet
        if cur is None:
            out.append(self._error("packet without start of message (tag %d, seq %d) outside "
                                   "a message; dropped" % (hdr.tag, hdr.seq), PACKET_SIZE))
            return
        cur.packets += 1
        if cur.discard:
            if hdr.eom:
                self._cur = None
            return
        if not cur.same_stream(hdr):
            dropped = self._drop_message()
            out.append(self._error(
                "packet of another message (src 0x%02x tag %d to %d) inside the message from "
                "0x%02x tag %d; message dropped"
                % (hdr.src, hdr.tag, hdr.tag_owner, cur.src, cur.tag), dropped))
            return
        if hdr.seq != cur.expected_seq:
            self._discard(cur, hdr.eom)
            out.append(self._error("packet sequence number %d, expected %d (a packet was lost "
                                   "or repeated); message dropped"
                                   % (hdr.seq, cur.expected_seq), cur.packets * PACKET_SIZE))
            return
        if cur.total is not None and len(cur.data) >= cur.total:
            self._discard(cur, hdr.eom)
            out.append(self._error("message runs on past the %d bytes its CCI header announces; "
                                   "dropped" % cur.total, cur.packets * PACKET_SIZE))
            return
        cur.expected_seq = (hdr.seq + 1) & SEQ_MASK
        cur.data += payload
        # A CXL message's size was checked against its header at the start (the
        # bytes here include the last packet's padding); others are checked as
        # they grow.
        if cur.total is None and len(cur.data) + 1 > self.max_message:
            self._discard(cur, hdr.eom)
            out.append(self._error("message exceeds the %d bytes accepted; dropped"
                                   % self.max_message, cur.packets * PACKET_SIZE))
            return
        if hdr.eom:
            out.append(self._finish())

    def _finish(self):
        cur = self._cur
        self._cur = None
        if cur.discard:
            return None
        data = cur.data
        if cur.total is not None:
            if (self.lost_last_byte and len(data) == cur.total - 1
                    and cur.total % BTU == 0):
                self.padded += 1
                data = data + b"\0"
            if len(data) < cur.total:
                return self._error("message ends after %d bytes but its CCI header announces %d; "
                                   "dropped" % (len(data), cur.total), cur.packets * PACKET_SIZE)
            body = bytes(data[:cur.total])
        elif cur.msg_type == TYPE_CONTROL:
            # unknown layouts (None) keep every byte; so does a slice past the end
            body = bytes(data[:control_message_length(data)])
        else:
            body = bytes(data)
        self.messages += 1
        return Message(cur.msg_type, body, cur.src, cur.dst, cur.tag, cur.tag_owner)
