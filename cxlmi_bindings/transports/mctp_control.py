# SPDX-License-Identifier: LGPL-2.1-or-later
"""MCTP control commands (DSP0236 section 12) for any transport with ``control()``.

A transport provides ``control(command, data, timeout) -> (completion_code,
data after it)``; this mixin turns the replies of the commands cxl-mi uses
into values, and keeps the endpoint's message types once asked.
"""

from .. import mctp_framing as mf
from ..errors import ProtocolError


class MctpControl:
    _message_types = None

    def get_endpoint_id(self, timeout=None):
        """Get Endpoint ID: ``(eid, eid_type_byte, medium_specific)``."""
        cc, data = self.control(mf.CTRL_GET_ENDPOINT_ID, b"", timeout)
        check_cc(cc, "Get Endpoint ID", data, 3)
        return data[0], data[1], data[2]

    def get_endpoint_uuid(self, timeout=None):
        """Get Endpoint UUID: the 16 UUID bytes as sent."""
        cc, data = self.control(mf.CTRL_GET_ENDPOINT_UUID, b"", timeout)
        check_cc(cc, "Get Endpoint UUID", data, 16)
        return bytes(data[:16])

    def get_message_types(self, timeout=None):
        """Get Message Type Support: the list of message types."""
        cc, data = self.control(mf.CTRL_GET_MESSAGE_TYPE_SUPPORT, b"", timeout)
        check_cc(cc, "Get Message Type Support", data, 1)
        count = data[0]
        if len(data) < 1 + count:
            raise ProtocolError("Get Message Type Support: %d types announced, %d arrived"
                                % (count, len(data) - 1))
        return list(data[1:1 + count])

    def message_types(self, timeout=None):
        """:meth:`get_message_types`, asked once per transport (one endpoint)."""
        if self._message_types is None:
            self._message_types = self.get_message_types(timeout)
        return self._message_types

    def get_version_support(self, msg_type=0xFF, timeout=None):
        """Get MCTP Version Support for ``msg_type`` (0xFF: the base specification):
        the 4-byte version entries; ``[]`` when the type is not supported."""
        cc, data = self.control(mf.CTRL_GET_VERSION_SUPPORT, bytes((msg_type & 0xFF,)), timeout)
        if cc == mf.CC_VERSION_TYPE_UNSUPPORTED:
            return []
        check_cc(cc, "Get Version Support", data, 1)
        count = data[0]
        if len(data) < 1 + 4 * count:
            raise ProtocolError("Get Version Support: %d entries announced, %d bytes arrived"
                                % (count, len(data) - 1))
        return [bytes(data[1 + 4 * i:5 + 4 * i]) for i in range(count)]


def check_cc(cc, what, data, need):
    if cc != mf.CC_SUCCESS:
        raise ProtocolError("MCTP %s failed with completion code 0x%02x" % (what, cc))
    if len(data) < need:
        raise ProtocolError("MCTP %s reply is %d bytes short" % (what, need - len(data)))


def version_text(entry):
    """A DSP0236 BCD version entry as text: ``F1 F3 F1 00`` -> ``1.3.1``."""
    parts = []
    for byte in entry[:3]:
        if byte == 0xFF and parts:
            break                           # the field is absent
        hi, lo = byte >> 4, byte & 0x0F
        parts.append("%d" % lo if hi == 0xF else "%d%d" % (hi, lo))
    alpha = entry[3] if len(entry) > 3 else 0
    return ".".join(parts) + (chr(alpha) if 0x20 < alpha < 0x7F else "")
