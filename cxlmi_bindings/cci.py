# SPDX-License-Identifier: LGPL-2.1-or-later
"""CCI message header: encode requests, decode and check responses.

Layout (CXL r3.1 figure 7-19), 12 bytes, little endian:

    0  message category (bits 3:0; 0 request, 1 response)
    1  message tag
    2  reserved
    3  command          } together the 16-bit opcode, low byte first,
    4  command set      } so one little-endian u16 at offset 3
    5  payload length bits 20:0, bit 23 = background operation
    8  return code (u16)
   10  vendor specific extended status (u16)
"""

import struct

from .errors import DeviceError, ProtocolError

HEADER_SIZE = 12
CATEGORY_REQUEST = 0
CATEGORY_RESPONSE = 1
MAX_PAYLOAD = (1 << 21) - 1
BACKGROUND_BIT = 1 << 23

HEADER = _HDR = struct.Struct("<BBBHHBHH")


def encode(opcode, payload=b"", tag=0, category=CATEGORY_REQUEST,
           return_code=0, vendor_status=0, background=False):
    """Build a whole CCI message: header + payload."""
    length = len(payload)
    if length > MAX_PAYLOAD:
        raise ValueError("CCI payload of %d bytes exceeds the 21-bit length field" % length)
    if background:
        length |= BACKGROUND_BIT
    # bytes + any buffer is one copy (bytes(payload) first would be two)
    return _HDR.pack(category, tag & 0xFF, 0, opcode, length & 0xFFFF,
                     length >> 16, return_code, vendor_status) + (
        payload if isinstance(payload, (bytes, bytearray, memoryview)) else bytes(payload))


class Header:
    """A decoded header; ``payload_length`` is the 21-bit field."""

    __slots__ = ("category", "tag", "opcode", "payload_length", "background",
                 "return_code", "vendor_status")

    def __init__(self, category, tag, opcode, payload_length, background,
                 return_code, vendor_status):
        self.category = category
        self.tag = tag
        self.opcode = opcode
        self.payload_length = payload_length
        self.background = background
        self.return_code = return_code
        self.vendor_status = vendor_status

    def __repr__(self):
        return ("Header(category=%d, tag=%d, opcode=0x%04x, payload_length=%d, "
                "background=%s, return_code=%d, vendor_status=0x%04x)"
                % (self.category, self.tag, self.opcode, self.payload_length,
                   self.background, self.return_code, self.vendor_status))


def payload_length(message, at=0):
    """The 21-bit payload length of the CCI header at ``message[at:]``, unchecked
    (for reassembly, which needs the length before it has the whole message)."""
    return int.from_bytes(message[at + 5:at + 8], "little") & MAX_PAYLOAD


def decode_header(message):
    if len(message) < HEADER_SIZE:
        raise ProtocolError("CCI message of %d bytes is shorter than its %d-byte header"
                            % (len(message), HEADER_SIZE))
    cat, tag, _, opcode, len_lo, len_hi, rc, vs = _HDR.unpack_from(message)
    length = len_lo | (len_hi << 16)
    category = cat & 0x0F
    if category == 0 and cat >> 4:
        # Some peers put the category in the high nibble; take it from there.
        category = cat >> 4
    return Header(category, tag, opcode, length & MAX_PAYLOAD,
                  bool(length & BACKGROUND_BIT), rc, vs)


def check_response(message, tag, opcode, command=None):
    """Validate a response to request (``tag``, ``opcode``).

    Returns ``(return_code, vendor_status, payload)`` where payload is a
    memoryview of exactly the bytes the header announces.  A non-zero return
    code other than BACKGROUND raises :class:`DeviceError`; anything malformed
    raises :class:`ProtocolError`.  (Hot path: no Header object is built.)
    """
    if len(message) < HEADER_SIZE:
        raise ProtocolError("CCI message of %d bytes is shorter than its %d-byte header"
                            % (len(message), HEADER_SIZE))
    cat, rtag, _, ropcode, len_lo, len_hi, rc, vs = _HDR.unpack_from(message)
    category = (cat & 0x0F) or (cat >> 4)
    if category != CATEGORY_RESPONSE:
        raise ProtocolError("reply to %s is not a response (category %d)"
                            % (command or "0x%04x" % opcode, category))
    if rtag != tag & 0xFF:
        raise ProtocolError("reply carries tag %d, the request had tag %d" % (rtag, tag & 0xFF))
    if ropcode != opcode:
        raise ProtocolError("reply is for opcode 0x%04x, the request was 0x%04x"
                            % (ropcode, opcode))
    if rc > 1:
        raise DeviceError(rc, command, vs)
    received = len(message) - HEADER_SIZE
    length = (len_lo | (len_hi << 16)) & MAX_PAYLOAD
    if length != received:
        raise ProtocolError("reply announces %d payload bytes but %d arrived"
                            % (length, received))
    return rc, vs, memoryview(message)[HEADER_SIZE:]
