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
        hdr = cci.decode_header(message)
        payload = message[cci.HEADER_SIZE:cci.HEADER_SIZE + hdr.payload_length]
        if hdr.opcode == tunnel.OPCODE and not self.queues.get(tunnel.OPCODE):
            target_type, ident, inner = tunnel.split_request(payload)
            hops.append((target_type, ident))
            inner_rsp = self._answer(inner, hops)
            return cci.encode(tunnel.OPCODE, tunnel.build_response(inner_rsp), hdr.tag,
                              cci.CATEGORY_RESPONSE)
        self.last_command = (hdr.opcode >> 8, hdr.opcode & 0xFF, bytes(payload))
        queue = self.queues.get(hdr.opcode)
        if not queue:
            return cci.encode(hdr.opcode, b"", hdr.tag, cci.CATEGORY_RESPONSE,
                              return_code=RET_UNSUPPORTED)
        return_code, data = queue.popleft()
        self.responses_returned += 1
        return cci.encode(hdr.opcode, data, hdr.tag, cci.CATEGORY_RESPONSE,
                          return_code=return_code)
