# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sized packets: the negotiated framing of MCTP over TCP.

The baseline framing (:mod:`.mctp_framing`) cuts every message into 68-byte
packets.  That is what every MCTP-over-TCP peer understands, but a 1 MiB
message is then 16,384 packets, each with a header to add on one side and take
off on the other.  Two ends that both know this module agree instead, with the
transport-specific MCTP control command Set Transmission Unit (F0h; DSP0236
leaves F0h-FFh to the binding), on a larger transmission unit and on packets
that carry their own size:

    bytes 0-3   size: the bytes that follow (u32, little endian): 4 + payload
    bytes 4-7   the MCTP transport header, as in the baseline framing
    bytes 8-    payload: 1 to ``unit`` bytes; every packet of a message but its
                last carries exactly ``unit``; nothing is padded

Set Transmission Unit, request data (after the control header):

    byte 0      framing: 01h (sized packets as above)
    bytes 1-4   the largest payload the requester will send and accept (u32 LE)

Response data (after the completion code): the framing byte and the unit both
ends use from then on (no larger than the requester's).  The requester sends
nothing between the request and the response; each direction switches right
after that exchange's message (the request upstream, the response
downstream).  A responder that answers anything but success, or nothing,
keeps the baseline, and so does the requester.  See docs/mctp-over-tcp.md.
"""

import struct

from . import cci
from . import mctp_framing as mf

CTRL_SET_TRANSMISSION_UNIT = mf.CTRL_SET_TRANSMISSION_UNIT
FRAMING_SIZED = 0x01
SIZE_FIELD = 4
#: the size field and the transport header, packed at once
_HEAD = struct.Struct("<IBBBB")
_HEAD_TYPE = struct.Struct("<IBBBBB")
_UNIT = struct.Struct("<BI")
#: the unit a requester proposes: a CCI message of the largest payload in one packet
DEFAULT_UNIT = mf.MAX_CXL_MESSAGE
#: a packet payload at least this big is read straight into its own buffer
#: instead of through the stream buffer
DIRECT = 1 << 14
#: buffers handed to one sendmsg (the kernel takes at most IOV_MAX, 1024 on Linux;
#: a small agreed unit makes a large message many packets, two buffers each)
IOV_LIMIT = 512
#: below this many bytes a message is joined into one buffer for one send (a
#: copy that costs less than handing the kernel two buffers)
JOIN_BELOW = 16384
_SOM_EOM = mf.SOM | mf.EOM
#: size field, transport header, type byte and a CCI header
_SMALLEST_CCI = SIZE_FIELD + 4 + 1 + cci.HEADER_SIZE
#: the same, as far as one-packet reassembly looks: size, header version, EIDs,
#: flags, message type, and the CCI payload length (bits 15:0, then 23:16)
_ONE = struct.Struct("<IBBBBB5xHB")


def unit_request(unit):
    """Set Transmission Unit's request data for ``unit`` payload bytes."""
    return _UNIT.pack(FRAMING_SIZED, unit)


def parse_unit(data):
    """``(framing, unit)`` from Set Transmission Unit's request or response data
    (``None`` when too short)."""
    if len(data) < _UNIT.size:
        return None
    return _UNIT.unpack_from(data)


def frame(msg_type, message, dst, src, tag, tag_owner, seq, unit):
    """One message as sized packets.  Returns ``(parts, next_seq)``: buffers to be
    written in order (one ``sendmsg``); the message's bytes are not copied
    unless it is small."""
    flags = (mf.TAG_OWNER if tag_owner else 0) | (tag & mf.TAG_MASK)
    if not isinstance(message, (bytes, bytearray)):
        message = memoryview(message).cast("B")      # so len() counts bytes
    size = len(message) + 1                         # the type byte and the message
    if size <= unit:
        head = _HEAD_TYPE.pack(4 + size, mf.HEADER_VERSION, dst & 0xFF, src & 0xFF,
                               mf.SOM | mf.EOM | (seq & mf.SEQ_MASK) << mf.SEQ_SHIFT | flags,
                               msg_type & 0xFF)
        if size < JOIN_BELOW:
            return [head + message], (seq + 1) & mf.SEQ_MASK
        return [head, message], (seq + 1) & mf.SEQ_MASK
    view = memoryview(message).cast("B")
    parts = []
    at, first = 0, True
    while True:
        take = unit - 1 if first else unit
        chunk = view[at:at + take]
        at += len(chunk)
        last = at >= len(view)
        bits = ((mf.SOM if first else 0) | (mf.EOM if last else 0)
                | (seq & mf.SEQ_MASK) << mf.SEQ_SHIFT | flags)
        if first:
            parts.append(_HEAD_TYPE.pack(4 + 1 + len(chunk), mf.HEADER_VERSION, dst & 0xFF,
                                         src & 0xFF, bits, msg_type & 0xFF))
        else:
            parts.append(_HEAD.pack(4 + len(chunk), mf.HEADER_VERSION, dst & 0xFF,
                                    src & 0xFF, bits))
        parts.append(chunk)
        seq = (seq + 1) & mf.SEQ_MASK
        first = False
        if last:
            return parts, seq


def write(sock, parts):
    """One write of ``parts`` (a ``sendmsg`` of at most :data:`IOV_LIMIT` buffers);
    returns what the socket did not take, as byte views (empty when it took all,
    the usual case)."""
    sent = sock.send(parts[0]) if len(parts) == 1 else sock.sendmsg(parts[:IOV_LIMIT])
    if sent == sum(map(len, parts)):
        return []
    return trim([memoryview(p).cast("B") for p in parts], sent)


def send_parts(sock, parts):
    """Write every buffer of ``parts`` on a blocking socket."""
    if len(parts) == 1:
        sock.sendall(parts[0])
        return
    while parts:
        parts = write(sock, parts)


def trim(views, sent):
    """``views`` without their first ``sent`` bytes."""
    i = 0
    while i < len(views) and sent >= len(views[i]):
        sent -= len(views[i])
        i += 1
    views = views[i:]
    if sent:
        views[0] = views[0][sent:]
    return views


class _Message:
    __slots__ = ("msg_type", "src", "dst", "tag", "tag_owner", "seq", "parts", "size", "total")


class SizedReassembler:
    """Messages from a stream of sized packets; the interface of
    :class:`~.mctp_framing.Reassembler` (``feed``, ``buffered``,
    ``in_message``, ``discard_partial``, the counters), plus a way to read a
    large packet straight into its buffer: :meth:`want` and :meth:`filled`.

    A size field outside 5..4+unit loses the packet boundaries for good: the
    error event says so and :attr:`broken` is set (the connection must go).
    Other faults cost their message, as in the baseline framing.
    """

    def __init__(self, unit, max_message=mf.DEFAULT_MAX_MESSAGE):
        self.unit = unit
        self.max_message = max_message
        self._buf = bytearray()
        self._cur = None
        self._direct = None        # [buffer, bytes filled, transport header, msg_type or None]
        self.broken = False
        self.packets = 0
        self.messages = 0
        self.errors = 0

    @property
    def buffered(self):
        return len(self._buf) + (self._direct[1] if self._direct else 0)

    @property
    def in_message(self):
        return self._cur is not None or self._direct is not None

    def pending(self):
        """Bytes of a packet or a message are waiting for the rest."""
        return bool(self._buf) or self._cur is not None or self._direct is not None

    def discard_partial(self):
        # A sized packet may take a while to arrive whole; a client that stops in
        # the middle of one meets the message and idle timeouts instead, since
        # dropping its bytes would lose the packet boundaries.
        return None

    def reset(self):
        self._buf.clear()
        self._cur = None
        self._direct = None

    # -- reading ---------------------------------------------------------------
    def want(self):
        """A writable view to ``recv_into`` when a large packet is being read in
        place, else ``None`` (read into a new buffer and :meth:`feed` it)."""
        direct = self._direct
        if direct is None:
            return None
        return memoryview(direct[0])[direct[1]:]

    def filled(self, count):
        """``count`` bytes arrived in :meth:`want`'s view; returns the events."""
        direct = self._direct
        direct[1] += count
        if direct[1] < len(direct[0]):
            return []
        self._direct = None
        events = []
        self._packet(direct[2], direct[3], direct[0], events)
        return events

    def feed(self, data):
        """Take ``data`` (any bytes-like, which may be reused once this returns);
        returns the events it completed."""
        if self._direct is not None:
            # a large packet is being read in place: these bytes go there first
            view = memoryview(data).cast("B")
            room = self.want()
            take = min(len(room), len(view))
            room[:take] = view[:take]
            events = self.filled(take)
            if take < len(view):
                events += self.feed(view[take:])
            return events
        if len(data) >= _SMALLEST_CCI and not self._buf and self._cur is None:
            # the common case, one whole packet holding a whole CCI message and
            # nothing else, taken without the general machinery (same checks)
            size, version, dst, src, flags, msg_type, len_lo, len_hi = _ONE.unpack_from(data)
            total = cci.HEADER_SIZE + ((len_lo | len_hi << 16) & cci.MAX_PAYLOAD)
            if (size + SIZE_FIELD == len(data) == 9 + total and flags & _SOM_EOM == _SOM_EOM
                    and version & 0x0F == mf.HEADER_VERSION and msg_type in mf.CXL_TYPES
                    and size <= 4 + self.unit and 1 + total <= self.max_message
                    and not self.broken):
                self.packets += 1
                self.messages += 1
                return [mf.Message(msg_type, bytes(data[9:]), src, dst, flags & mf.TAG_MASK,
                                   1 if flags & mf.TAG_OWNER else 0)]
        events = []
        if self.broken or not data:
            return events
        if self._buf:
            self._buf += data
            data = bytes(self._buf)
            self._buf.clear()
        view = memoryview(data).cast("B")
        off, end = 0, len(view)
        while end - off >= SIZE_FIELD + 4:
            size = int.from_bytes(view[off:off + SIZE_FIELD], "little")
            if not 5 <= size <= 4 + self.unit:
                self.broken = True
                self._cur = None
                events.append(self._error("sized packet announces %d bytes, outside 5..%d; "
                                          "the stream cannot be followed" % (size, 4 + self.unit),
                                          end - off))
                return events
            header = bytes(view[off + SIZE_FIELD:off + SIZE_FIELD + 4])
            start = off + SIZE_FIELD + 4
            stop = off + SIZE_FIELD + size
            if stop <= end:
                if header[3] & mf.SOM:
                    self._packet(header, view[start], bytes(view[start + 1:stop]), events)
                else:
                    self._packet(header, None, bytes(view[start:stop]), events)
                off = stop
                continue
            # an incomplete packet: a large one is read in place from here on
            som = header[3] & mf.SOM
            if size - 4 >= DIRECT and (not som or end > start):
                if som:
                    msg_type, start = view[start], start + 1
                else:
                    msg_type = None
                target = bytearray(stop - start)
                have = end - start
                target[:have] = view[start:end]
                self._direct = [target, have, header, msg_type]
                off = end
            break
        if off < end:
            self._buf += view[off:end]             # the start of a packet: kept for later
        return events

    # -- packets ---------------------------------------------------------------
    def _error(self, text, dropped):
        self.errors += 1
        return mf.FramingError(text, dropped)

    def _packet(self, header, msg_type, payload, out):
        """One whole packet: ``msg_type`` is the first payload byte of a
        start-of-message packet (``None`` otherwise), ``payload`` the rest."""
        self.packets += 1
        flags = header[3]
        if header[0] & 0x0F != mf.HEADER_VERSION:
            self._cur = None
            out.append(self._error("bad MCTP header version %d; packet dropped"
                                   % (header[0] & 0x0F), SIZE_FIELD + 4 + len(payload)))
            return
        cur = self._cur
        tag, owner, seq = flags & mf.TAG_MASK, 1 if flags & mf.TAG_OWNER else 0, \
            (flags >> mf.SEQ_SHIFT) & mf.SEQ_MASK
        if flags & mf.SOM:
            if cur is not None:
                self._cur = None
                out.append(self._error("start of a new message (tag %d) before the end of the "
                                       "one in progress (tag %d); partial message dropped"
                                       % (tag, cur.tag), cur.size))
            total = None
            if msg_type in mf.CXL_TYPES and len(payload) < cci.HEADER_SIZE:
                self._cur = None if flags & mf.EOM else self._swallow(header, tag, owner, seq)
                out.append(self._error("CXL message of %d bytes is shorter than its CCI header; "
                                       "dropped" % len(payload), SIZE_FIELD + 4 + 1 + len(payload)))
                return
            if msg_type in mf.CXL_TYPES:
                total = cci.HEADER_SIZE + cci.payload_length(payload)
                if 1 + total > self.max_message:
                    self._cur = None if flags & mf.EOM else self._swallow(header, tag, owner, seq)
                    out.append(self._error("message announces %d bytes, more than the %d "
                                           "accepted; dropped" % (1 + total, self.max_message),
                                           SIZE_FIELD + 4 + 1 + len(payload)))
                    return
            if flags & mf.EOM:
                self._finish(msg_type, payload, header, tag, owner, total, out)
                return
            self._cur = cur = _Message()
            cur.msg_type, cur.src, cur.dst, cur.tag, cur.tag_owner = \
                msg_type, header[2], header[1], tag, owner
            cur.seq = (seq + 1) & mf.SEQ_MASK
            cur.parts = [payload]
            cur.size = len(payload)
            cur.total = total
            return
        if cur is None:
            out.append(self._error("packet without start of message (tag %d, seq %d) outside "
                                   "a message; dropped" % (tag, seq), SIZE_FIELD + 4 + len(payload)))
            return
        if (header[2], tag, owner) != (cur.src, cur.tag, cur.tag_owner):
            self._cur = None
            if cur.parts is not None:
                out.append(self._error("packet of another message (src 0x%02x tag %d) inside "
                                       "the message from 0x%02x tag %d; message dropped"
                                       % (header[2], tag, cur.src, cur.tag), cur.size))
            return
        if seq != cur.seq:
            # a packet lost or repeated: the rest of this message goes quietly
            self._cur = None if flags & mf.EOM else self._swallow(header, tag, owner, seq)
            if cur.parts is not None:
                out.append(self._error("packet sequence number %d, expected %d (a packet was "
                                       "lost or repeated); message dropped" % (seq, cur.seq),
                                       cur.size))
            return
        cur.seq = (seq + 1) & mf.SEQ_MASK
        if cur.parts is None:                       # an oversized message's tail
            if flags & mf.EOM:
                self._cur = None
            return
        cur.parts.append(payload)
        cur.size += len(payload)
        if cur.total is None and cur.size + 1 > self.max_message:
            cur.parts = None
            out.append(self._error("message exceeds the %d bytes accepted; dropped"
                                   % self.max_message, cur.size))
            if flags & mf.EOM:
                self._cur = None
            return
        if flags & mf.EOM:
            self._cur = None
            self._finish(cur.msg_type, b"".join(cur.parts), header, cur.tag, cur.tag_owner,
                         cur.total, out, src=cur.src, dst=cur.dst)

    @staticmethod
    def _swallow(header, tag, owner, seq):
        """A message in progress whose packets are dropped quietly until its end."""
        cur = _Message()
        cur.parts = None
        cur.tag, cur.src, cur.tag_owner, cur.size = tag, header[2], owner, 0
        cur.seq = (seq + 1) & mf.SEQ_MASK
        return cur

    def _finish(self, msg_type, body, header, tag, owner, total, out, src=None, dst=None):
        if total is not None:
            if len(body) < total:
                out.append(self._error("message ends after %d bytes but its CCI header "
                                       "announces %d; dropped" % (len(body), total), len(body)))
                return
            if len(body) > total:
                body = body[:total]
        elif msg_type == mf.TYPE_CONTROL:
            body = body[:mf.control_message_length(body)]
        if not isinstance(body, (bytes, bytearray)):
            body = bytes(body)
        self.messages += 1
        out.append(mf.Message(msg_type, body, header[2] if src is None else src,
                              header[1] if dst is None else dst, tag, owner))
