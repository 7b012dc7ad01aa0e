# SPDX-License-Identifier: LGPL-2.1-or-later
"""The mock transport, with libcxlmi's semantics.

Responses are queued per opcode and handed out first in, first out; a
command with nothing queued is answered UNSUPPORTED.  Unlike libcxlmi's mock,
this one sits where a real transport sits: it sees the bytes that would go on
the wire.  A Tunnel Management request (5300h) with no response queued for
5300h itself is unwrapped, the innermost command answered from its queue, and
the answer wrapped back one level per hop, so tunnels are exercised for real.
"""

import collections

from .. import cci, tunnel
from ..errors import ProtocolError
from .base import Transport

RET_UNSUPPORTED = 3


class MockTransport(Transport):
    name = "mock"

    def __init__(self):
        self.queues = collections.defaultdict(collections.deque)
        self.commands_sent = 0
        self.responses_returned = 0
        self.last_command = None      # (command_set, command, payload bytes)
        self.last_message = None      # the whole outermost request message
        self.last_msg_type = None
        self.last_hops = ()           # tunnel hops the last request crossed

    def describe(self):
        return "mock endpoint"

    def set_response(self, opcode, return_code=0, payload=b""):
        self.queues[opcode].append((return_code, bytes(payload)))

    def clear(self):
        self.queues.clear()

    def send(self, message, msg_type, timeout):
        self.commands_sent += 1
        self.last_message = bytes(message)
        self.last_msg_type = msg_type
        hops = []
        response = self._answer(self.last_message, hops)
        self.last_hops = tuple(hops)
        return response

    def _answer(self, message, hops):
        if len(message) < cci.HEADER_SIZE:
            raise ProtocolError("mock: message of %d bytes has no CCI header" % len(message))
        _, tag, _, opcode, len_lo, len_hi, _, _ = cci.HEADER.unpack_from(message)
        payload = message[cci.HEADER_SIZE:cci.HEADER_SIZE + ((len_lo | len_hi << 16) & cci.MAX_PAYLOAD)]
        if opcode == tunnel.OPCODE and not self.queues.get(tunnel.OPCODE):
            target_type, ident, inner = tunnel.split_request(payload)
            hops.append((target_type, ident))
            inner_rsp = self._answer(inner, hops)
            return cci.encode(tunnel.OPCODE, tunnel.build_response(inner_rsp), tag,
                              cci.CATEGORY_RESPONSE)
        self.last_command = (opcode >> 8, opcode & 0xFF, payload)
        queue = self.queues.get(opcode)
        if not queue:
            return cci.encode(opcode, b"", tag, cci.CATEGORY_RESPONSE,
                              return_code=RET_UNSUPPORTED)
        return_code, data = queue.popleft()
        self.responses_returned += 1
        return cci.encode(opcode, data, tag, cci.CATEGORY_RESPONSE, return_code=return_code)
