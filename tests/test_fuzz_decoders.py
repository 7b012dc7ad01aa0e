# SPDX-License-Identifier: LGPL-2.1-or-later
"""Random bytes into every decoder: only the library's own errors come out,
and nothing is read past the bytes received.

Decoders fed: ``codec.decode_response`` for every registry entry,
``cci.decode_header``, ``cci.check_response``, ``tunnel.unwrap`` at depth 1
and 2, ``tunnel.split_request``, and the whole receive path of an endpoint
(both APIs) behind a transport that answers garbage.
"""

import ctypes
import struct

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import cxlmi_bindings as cxlmi
from cxlmi_bindings import cci, codec, registry, tunnel, types
from cxlmi_bindings.errors import CxlmiError
from cxlmi_bindings.transports.base import Transport
from cxlmi_bindings.tunnel import Tunnel

from test_layouts import LAYOUTS, SCALAR_SIZE, elem_size, flex_of, unpack

ENTRIES = registry.COMMANDS
IDS = [e.name for e in ENTRIES]
FUZZ = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
DC_CONFIG = {"memdev_get_dc_config": (8, "struct_cxlmi_memdev_dc_region_config"),
             "fmapi_get_dc_reg_config": (4, "struct_cxlmi_fmapi_dc_region_config")}


def S(short):
    return "struct_cxlmi_" + short


def span(entry):
    """A payload size range that covers short, exact and long replies."""
    if entry.rsp is None:
        return 100          # more than the 64 bytes the garbage test gives a raw reply
    size = LAYOUTS[S(entry.rsp)][0]
    flex = flex_of(S(entry.rsp))
    extra = 4 * elem_size(flex[1]) if flex else 8
    return min(size + extra + 8, 2100)


def payloads(entry):
    """Random bytes, plus near-valid ones: a plausible head with a random count."""
    top = span(entry)
    plain = st.binary(max_size=top)
    if entry.rsp is None or entry.rsp_count is None:
        return plain
    name = S(entry.rsp)
    off, size = LAYOUTS[name][1][entry.rsp_count][:2]

    def with_count(raw, count):
        raw = bytearray(raw)
        if len(raw) >= off + size:
            raw[off:off + size] = count.to_bytes(size, "little")
        return bytes(raw)
    return st.one_of(plain, st.builds(with_count, st.binary(min_size=LAYOUTS[name][0],
                                                            max_size=top),
                                      st.integers(0, (1 << (8 * size)) - 1)))


def ref_to_dict(name, values):
    """What ``types.to_dict`` should show for reference values."""
    out = {}
    for fname, spec in LAYOUTS[name][1].items():
        value = values[fname]
        if len(spec) == 3:
            value = ref_to_dict(spec[2], value)
        elif len(spec) == 4:
            if spec[2] == "char":
                value = value.split(b"\0", 1)[0].decode("ascii", "replace")
            elif spec[2] in LAYOUTS:
                value = [ref_to_dict(spec[2], v) for v in value]
        out[fname] = value
    return out


def check_within(entry, payload, result):
    """Everything in ``result`` came from ``payload`` (or is a documented zero)."""
    name = entry.name
    if entry.size == "raw" or entry.rsp is None:
        if name == "get_log_cel":
            n = len(result)
            assert n == len(payload) // 4
            assert bytes(result) == payload[:4 * n]
        elif entry.rsp is None and entry.size != "raw":
            assert result is None
        else:
            assert result == payload
        return
    if name in DC_CONFIG:
        head, region = DC_CONFIG[name]
        n = result.regions_returned
        assert n <= 8 and head + n * 40 + 16 <= len(payload)
        raw = bytes(result)
        at = LAYOUTS[S(entry.rsp)][1]["regions_returned"][0]
        assert n <= payload[at]                                    # never more than claimed
        assert raw[:head] == payload[:at] + bytes([n]) + payload[at + 1:head]
        for i in range(n):
            assert bytes(result.region_configs[i]) == payload[head + 40 * i:head + 40 * (i + 1)]
        for i in range(n, 8):
            assert bytes(result.region_configs[i]) == bytes(40)
        assert raw[-16:] == payload[head + 40 * n:head + 40 * n + 16]
        return
    if name == "fmapi_get_vcs_info":
        offset = 4
        assert len(result.vcs_info_list) <= payload[0]
        for block in result.vcs_info_list:
            size = ctypes.sizeof(block)
            assert offset + size <= len(payload)
            assert bytes(block) == payload[offset:offset + size]
            offset += size
        return
    rsp = S(entry.rsp)
    fixed = LAYOUTS[rsp][0]
    flex = flex_of(rsp)
    raw = bytes(result)
    if flex is None:
        # structures that grew between revisions: missing fields read as zero
        have = min(len(payload), fixed)
        assert raw[:have] == payload[:have]
        assert raw[have:] == bytes(fixed - have)
        assert types.to_dict(result) == ref_to_dict(rsp, unpack(rsp, raw))
        return
    fname, elem = flex
    n = len(getattr(result, fname))
    assert fixed + n * elem_size(elem) <= len(payload)           # nothing past the bytes
    assert ctypes.sizeof(result) == fixed + n * elem_size(elem)
    assert raw == payload[:len(raw)]
    if entry.rsp_count:
        claimed = getattr(result, entry.rsp_count)
        assert n == min(claimed, (len(payload) - fixed) // elem_size(elem))
    assert types.to_dict(result) == ref_to_dict(rsp, unpack(rsp, payload[:len(raw)], tail=n))


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@FUZZ
@given(data=st.data())
def test_decode_response_raises_only_library_errors_and_stays_in_bounds(entry, data):
    payload = data.draw(payloads(entry), label="payload")
    request = data.draw(st.binary(max_size=6), label="request")
    try:
        if entry.name == "fmapi_get_vcs_info":
            result = codec.decode_response(entry, payload, request)
        else:
            result = codec.decode_response(entry, payload)
    except CxlmiError:
        return
    check_within(entry, payload, result)


# ------------------------------------------------------------ message layer

@FUZZ
@given(message=st.binary(max_size=40))
def test_decode_header_raises_only_library_errors(message):
    try:
        hdr = cci.decode_header(message)
    except CxlmiError:
        assert len(message) < 12
        return
    assert len(message) >= 12
    assert hdr.tag == message[1]
    assert hdr.opcode == message[3] | message[4] << 8
    assert hdr.payload_length == int.from_bytes(message[5:8], "little") & 0x1FFFFF
    assert hdr.background == bool(message[7] & 0x80)
    assert (hdr.return_code, hdr.vendor_status) == struct.unpack_from("<HH", message, 8)


def near_response(draw_tag=st.integers(0, 255)):
    """Mostly-valid response messages with random damage."""
    @st.composite
    def build(draw):
        payload = draw(st.binary(max_size=24))
        length = draw(st.one_of(st.just(len(payload)), st.integers(0, (1 << 21) - 1)))
        head = bytes([draw(st.sampled_from([0, 1, 0x10, 2])), draw(draw_tag), 0, 1, 0]) \
            + (length | (draw(st.booleans()) << 23)).to_bytes(3, "little") \
            + struct.pack("<HH", draw(st.sampled_from([0, 1, 2, 3, 0xFFFF])), 0)
        return head + payload
    return build()


@FUZZ
@given(message=st.one_of(st.binary(max_size=40), near_response()), tag=st.integers(0, 255))
def test_check_response_raises_only_library_errors_and_returns_exactly_the_announced_bytes(
        message, tag):
    try:
        result = cci.check_response(message, tag, 0x0001, "identify")
    except CxlmiError:
        return
    payload = bytes(result[-1])
    assert payload == message[12:]
    assert len(payload) == int.from_bytes(message[5:8], "little") & 0x1FFFFF
    assert message[1] == tag


def ref_tunnel_response(tag, inner, length=None, rc=0):
    body = struct.pack("<HH", len(inner) if length is None else length, 0) + inner
    return bytes([1, tag, 0, 0x00, 0x53]) + len(body).to_bytes(3, "little") \
        + struct.pack("<HH", rc, 0) + body


@st.composite
def wrapped(draw, depth):
    """A reply for a depth-``depth`` tunnel, valid or damaged at random."""
    inner = draw(st.binary(max_size=30))
    tags = [draw(st.integers(0, 255)) for _ in range(depth)]
    msg = inner
    for level in range(depth - 1, -1, -1):
        length = draw(st.one_of(st.none(), st.integers(0, 0xFFFF)))
        rc = draw(st.sampled_from([0, 0, 0, 3]))
        msg = ref_tunnel_response(tags[level], msg, length, rc)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(msg)))
        msg = msg[:cut]
    if draw(st.booleans()) and msg:
        i = draw(st.integers(0, len(msg) - 1))
        msg = msg[:i] + bytes([draw(st.integers(0, 255))]) + msg[i + 1:]
    return msg, tags


@pytest.mark.parametrize("depth", [1, 2])
@FUZZ
@given(data=st.data())
def test_unwrap_raises_only_library_errors_and_returns_only_received_bytes(depth, data):
    msg, tags = data.draw(st.one_of(
        wrapped(depth),
        st.tuples(st.binary(max_size=50), st.just([1] * depth))), label="reply")
    tun = Tunnel.switch(1) if depth == 1 else Tunnel.switch_mld(1, 2)
    try:
        inner = tunnel.unwrap(msg, tun, tags)
    except CxlmiError:
        return
    assert inner == msg[16 * depth:]
    # every level's lengths agreed with the bytes
    for level in range(depth):
        at = 16 * level
        assert int.from_bytes(msg[at + 5:at + 8], "little") & 0x1FFFFF == len(msg) - at - 12
        assert struct.unpack_from("<H", msg, at + 12)[0] == len(msg) - at - 16


@FUZZ
@given(payload=st.one_of(
    st.binary(max_size=40),
    st.builds(lambda i, t, inner, d: struct.pack("<BBH", i, t, max(0, len(inner) + d)) + inner,
              st.integers(0, 255), st.integers(0, 3), st.binary(max_size=30),
              st.sampled_from([0, 0, -1, 1]))))
def test_split_request_raises_only_library_errors(payload):
    try:
        target_type, ident, inner = tunnel.split_request(payload)
    except CxlmiError:
        return
    assert (ident, target_type) == (payload[0], payload[1])
    assert inner == payload[4:]
    assert struct.unpack_from("<H", payload, 2)[0] == len(inner)


# ------------------------------------------------------------ the whole receive path

class Garbage(Transport):
    """Answers each request with a valid header around random payload bytes,
    or with raw random bytes."""
    name = "garbage"

    def __init__(self):
        self.replies = []

    def send(self, message, msg_type, timeout):
        kind, data = self.replies.pop(0)
        if kind == "raw":
            return data
        return bytes([1, message[1], 0, message[3], message[4]]) + \
            len(data).to_bytes(3, "little") + b"\0\0\0\0" + data


def compat_args(entry, out):
    req = None
    if entry.req is not None:
        req = getattr(cxlmi, S(entry.req))()
    kind = entry.call
    if kind == "rsp":
        return (out,)
    if kind == "req":
        return (req,)
    if kind in ("req_rsp", "req_buf"):
        return (req, out)
    if kind == "none":
        return ()
    if kind == "req_data":
        return (req, 0)
    return (0xC000, None, 0, out, 64)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@FUZZ
@given(data=st.data())
def test_an_endpoint_fed_garbage_fails_cleanly_and_writes_only_within_the_callers_buffer(
        entry, data):
    reply = data.draw(st.tuples(st.sampled_from(["framed", "framed", "raw"]),
                                payloads(entry)), label="reply")
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    transport = Garbage()
    ep = ctx.open_transport(transport, "garbage", probe=False)

    # Pythonic: a result or a CxlmiError, nothing else
    transport.replies.append(reply)
    try:
        if entry.call == "vendor":
            ep.vendor_specific(0xC000)
        else:
            ep.call(entry.name)
    except CxlmiError:
        pass

    # compat: an int, and the caller's memory past its buffer untouched
    room = 64
    if entry.rsp is not None:
        room = ctypes.sizeof(getattr(cxlmi, S(entry.rsp))) + 16
    arena = ctypes.create_string_buffer(room + 32)
    ctypes.memset(arena, 0xC3, room + 32)
    # a view of a room-byte view: the library counts a view's whole underlying
    # buffer as the caller's, so the object sits on exactly room bytes
    window = (ctypes.c_char * room).from_buffer(arena)
    view = (ctypes.c_char * room).from_buffer(window)
    out = None
    if entry.call == "vendor" or entry.call == "req_buf":
        out = view
    elif entry.rsp is not None:
        out = getattr(cxlmi, S(entry.rsp)).from_buffer(view)
    transport.replies.append(reply)
    rc = getattr(cxlmi, "cxlmi_cmd_" + entry.name)(ep, None, *compat_args(entry, out))
    assert isinstance(rc, int)
    assert arena.raw[room:] == b"\xC3" * 32
    ctx.close()
