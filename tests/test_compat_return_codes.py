# SPDX-License-Identifier: LGPL-2.1-or-later
"""cxlmi_cmd_* return what libcxlmi returns where the two could differ.

libcxlmi checks a reply's return code before anything else: any non-zero code
-- 1 for "background operation started" included -- is the function's result,
whether or not a payload came with it.  Its Security Receive knows one
protocol's reply size (protocol 0, 264 bytes) and refuses others unsent; its
vendor-specific function wants a reply of exactly ``ret_size`` bytes.  Where a
Python caller hands over a buffer too small for the reply, the result is -1
(libcxlmi's error), not a silently shortened copy.
"""

import ctypes

import pytest

import cxlmi_bindings as cxlmi
from cxlmi_bindings import registry

WITH_OUTPUT = [e for e in registry.COMMANDS if e.call in ("rsp", "req_rsp", "req_buf")]


@pytest.fixture
def ep():
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    yield cxlmi.cxlmi_open_mock(ctx)
    cxlmi.cxlmi_free_ctx(ctx)


def call(ep, entry):
    """The compat function with zeroed arguments; returns (rc, the output object)."""
    f = getattr(cxlmi, "cxlmi_cmd_" + entry.name)
    out = ctypes.create_string_buffer(8192)
    req = getattr(cxlmi, "struct_cxlmi_" + entry.req)() if entry.req else None
    if entry.call == "rsp":
        return f(ep, None, out), out
    if entry.name == "memdev_security_receive":
        req.security_protocol = 0
    return f(ep, None, req, out), out


@pytest.mark.parametrize("entry", WITH_OUTPUT, ids=lambda e: e.name)
@pytest.mark.parametrize("rc", [1, 2, 0x16])
def test_a_non_zero_return_code_is_the_result_before_any_decoding(ep, entry, rc):
    # no payload at all: decoding would fail, and must not be reached
    assert cxlmi.cxlmi_mock_set_response(ep, entry.opcode >> 8, entry.opcode & 0xFF, rc,
                                         None) == 0
    got, out = call(ep, entry)
    assert got == rc
    assert out.raw == bytes(8192)                  # nothing written


def test_security_receive_refuses_protocols_libcxlmi_does_not_size_and_sends_nothing(ep):
    req = cxlmi.struct_cxlmi_cmd_memdev_security_receive_req(security_protocol=0xEA)
    out = ctypes.create_string_buffer(264)
    assert cxlmi.cxlmi_cmd_memdev_security_receive(ep, None, req, out) == -1
    assert ep.transport.commands_sent == 0
    assert "security protocol 234 is not one libcxlmi supports" in str(ep.last_error)


@pytest.mark.parametrize("reply,room,want", [
    (264, 264, 0),          # the size libcxlmi expects, a buffer that holds it
    (264, 16, -1),          # a buffer too small: refused, not cut short
    (200, 264, -1),         # a reply of another size
    (300, 400, -1),
])
def test_security_receive_takes_exactly_the_protocol_0_reply(ep, reply, room, want):
    data = bytes((i * 3 + 1) & 0xFF for i in range(reply))
    cxlmi.cxlmi_mock_set_response(ep, 0x46, 0x01, 0, data, len(data))
    req = cxlmi.struct_cxlmi_cmd_memdev_security_receive_req(security_protocol=0)
    out = ctypes.create_string_buffer(room)
    assert cxlmi.cxlmi_cmd_memdev_security_receive(ep, None, req, out) == want
    assert out.raw == (data if want == 0 else bytes(room))
