# SPDX-License-Identifier: LGPL-2.1-or-later
"""The CCI message header and the Tunnel Management Command (5300h).

Reference bytes are built here by hand (``ref_header``, ``ref_tunnel_request``,
``ref_tunnel_response``) from the spec's layouts (CXL r3.1 figure 7-19 and
table 7-? Tunnel Management), never through the library.
"""

import ctypes
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import cxlmi_bindings as cxlmi
from cxlmi_bindings import cci, tunnel
from cxlmi_bindings.errors import CxlmiError, DeviceError, ProtocolError, UsageError
from cxlmi_bindings.transports.base import Transport
from cxlmi_bindings.tunnel import Tunnel

FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

IDENTIFY = 0x0001
LD_INFO = 0x5400
TUNNEL = 0x5300


def ref_header(opcode, tag, length, category=0, rc=0, vs=0, background=False):
    value = length | ((1 << 23) if background else 0)
    return (bytes([category, tag, 0, opcode & 0xFF, opcode >> 8])
            + value.to_bytes(3, "little") + struct.pack("<HH", rc, vs))


def ref_message(opcode, tag, payload, category=0, rc=0):
    return ref_header(opcode, tag, len(payload), category, rc) + payload


def ref_tunnel_request(tag, ident, target_type, inner):
    return ref_message(TUNNEL, tag, struct.pack("<BBH", ident, target_type, len(inner)) + inner)


def ref_tunnel_response(tag, inner, rc=0, length=None):
    length = len(inner) if length is None else length
    return ref_message(TUNNEL, tag, struct.pack("<HH", length, 0) + inner, 1, rc)


IDENT = struct.pack("<HHHHQBB", 0x1DE5, 0xC0DE, 0x1AB4, 0x0042, 0x0123456789ABCDEF, 11, 3)


# ------------------------------------------------------------ header

@FAST
@given(opcode=st.integers(0, 0xFFFF), tag=st.integers(0, 255), payload=st.binary(max_size=64),
       category=st.integers(0, 1), rc=st.integers(0, 0xFFFF), vs=st.integers(0, 0xFFFF),
       background=st.booleans())
def test_header_encodes_to_the_spec_layout_and_decodes_back(opcode, tag, payload, category, rc,
                                                           vs, background):
    msg = cci.encode(opcode, payload, tag, category, rc, vs, background)
    assert msg == ref_header(opcode, tag, len(payload), category, rc, vs, background) + payload
    hdr = cci.decode_header(msg)
    assert (hdr.category, hdr.tag, hdr.opcode, hdr.payload_length, hdr.background,
            hdr.return_code, hdr.vendor_status) == (category, tag, opcode, len(payload),
                                                    background, rc, vs)


def test_background_is_bit_23_and_the_length_has_21_bits():
    msg = cci.encode(0x4400, b"", 0, background=True)
    assert msg[5:8] == b"\x00\x00\x80"
    hdr = cci.decode_header(ref_header(1, 0, cci.MAX_PAYLOAD, background=True))
    assert hdr.payload_length == (1 << 21) - 1 and hdr.background
    # bits 21 and 22 are not part of the length
    raw = bytearray(ref_header(1, 0, 5))
    raw[7] |= 0x60
    hdr = cci.decode_header(bytes(raw))
    assert hdr.payload_length == 5 and not hdr.background
    with pytest.raises(ValueError):
        cci.encode(1, bytes(cci.MAX_PAYLOAD + 1))


def test_category_in_the_high_nibble_is_accepted():
    raw = bytearray(ref_message(IDENTIFY, 9, IDENT, category=1))
    raw[0] = 0x10
    hdr = cci.decode_header(bytes(raw))
    assert hdr.category == 1
    assert bytes(cci.check_response(bytes(raw), 9, IDENTIFY)[-1]) == IDENT


@pytest.mark.parametrize("size", range(0, 12))
def test_a_message_shorter_than_the_header_is_a_protocol_error(size):
    with pytest.raises(ProtocolError):
        cci.decode_header(bytes(size))


# ------------------------------------------------------------ response checks

def rc_of(result):
    """The return code from check_response's result (a header or the code first)."""
    first = result[0]
    return getattr(first, "return_code", first)


def test_check_response_returns_exactly_the_announced_payload():
    res = cci.check_response(ref_message(IDENTIFY, 7, IDENT, 1), 7, IDENTIFY)
    assert bytes(res[-1]) == IDENT and rc_of(res) == 0


@pytest.mark.parametrize("bad,why", [
    (ref_message(IDENTIFY, 8, IDENT, 1), "tag"),
    (ref_message(0x0002, 7, IDENT, 1), "opcode"),
    (ref_message(IDENTIFY, 7, IDENT, 0), "category"),
    (ref_header(IDENTIFY, 7, len(IDENT) + 1, 1) + IDENT, "length: more announced"),
    (ref_header(IDENTIFY, 7, len(IDENT) - 1, 1) + IDENT, "length: fewer announced"),
    (ref_header(IDENTIFY, 7, 0, 1)[:11], "truncated header"),
])
def test_foreign_or_malformed_replies_are_protocol_errors(bad, why):
    with pytest.raises(ProtocolError):
        cci.check_response(bad, 7, IDENTIFY)


@pytest.mark.parametrize("rc", [2, 3, 6, 32, 0x1234])
def test_a_return_code_raises_device_error_and_background_does_not(rc):
    with pytest.raises(DeviceError) as info:
        cci.check_response(ref_message(IDENTIFY, 1, b"", 1, rc), 1, IDENTIFY, "identify")
    assert info.value.return_code == rc and "identify" in str(info.value)
    res = cci.check_response(ref_message(IDENTIFY, 1, b"", 1, 1), 1, IDENTIFY)
    assert rc_of(res) == 1


# ------------------------------------------------------------ tunnels through the mock

def _compat_info(port, ld, level, mhd):
    return cxlmi.struct_cxlmi_tunnel_info(port=port, ld=ld, level=level, mhd=mhd)


def kinds(port, ld):
    """(label, compat tunnel info or None, Pythonic Tunnel, expected hops)."""
    return [
        ("switch", cxlmi.cxlmi_tunnel_switch(port), Tunnel.switch(port), [(0, port)]),
        ("mld", cxlmi.cxlmi_tunnel_mld(ld), Tunnel.mld(ld), [(0, ld)]),
        ("mhd", cxlmi.cxlmi_tunnel_mhd(), Tunnel.mhd(), [(1, 0)]),
        ("switch_mld", cxlmi.cxlmi_tunnel_switch_mld(port, ld), Tunnel.switch_mld(port, ld),
         [(0, port), (0, ld)]),
        ("struct level 1 port", _compat_info(port, -1, 1, False), Tunnel.switch(port),
         [(0, port)]),
        ("struct level 1 ld", _compat_info(-1, ld, 1, False), Tunnel.mld(ld), [(0, ld)]),
        ("struct level 1 mhd", _compat_info(-1, -1, 1, True), Tunnel.mhd(), [(1, 0)]),
        ("struct level 2", _compat_info(port, ld, 2, False), Tunnel.switch_mld(port, ld),
         [(0, port), (0, ld)]),
        ("switch then MHD (any depth)", None, Tunnel([(0, port), (1, 0)]), [(0, port), (1, 0)]),
    ]


def split_levels(msg, depth):
    """Read back the tags of each level of an outgoing tunnelled message."""
    tags, inner = [], msg
    for _ in range(depth):
        tags.append(inner[1])
        inner = inner[16:]
    return tags, inner


def expected_outer(hops, tags, inner):
    msg = inner
    for (target_type, ident), tag in reversed(list(zip(hops, tags))):
        msg = ref_tunnel_request(tag, ident, target_type, msg)
    return msg


@FAST
@given(port=st.integers(0, 255), ld=st.integers(0, 255), kind=st.integers(0, 8),
       fmapi=st.booleans())
def test_every_tunnel_kind_round_trips_through_the_mock_with_the_right_bytes(port, ld, kind,
                                                                             fmapi):
    label, ti, tun, hops = kinds(port, ld)[kind]
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    mock = ep.transport
    opcode, reply = (LD_INFO, struct.pack("<QHB", 1 << 40, 16, 1)) if fmapi else (IDENTIFY, IDENT)
    name = "fmapi_get_ld_info" if fmapi else "identify"

    def check_sent():
        msg = mock.last_message
        assert mock.last_msg_type == 7
        assert mock.last_hops == tuple(hops)
        tags, inner = split_levels(msg, len(hops))
        assert inner[3:5] == struct.pack("<H", opcode)
        assert inner == ref_message(opcode, inner[1], b"")
        assert msg == expected_outer(hops, tags, inner), label
        # every level's own tag differs from the one inside it
        assert len(set(tags + [inner[1]])) == len(hops) + 1
        for level in range(len(hops)):
            at = 16 * level
            assert msg[at + 3:at + 5] == b"\x00\x53"                   # opcode 5300h
            assert msg[at + 12] == hops[level][1]                      # port / LD id
            assert msg[at + 13] == hops[level][0]                      # target type
            size = struct.unpack_from("<H", msg, at + 14)[0]           # command size
            assert size == len(msg) - at - 16
            assert int.from_bytes(msg[at + 5:at + 8], "little") == len(msg) - at - 12

    # Pythonic
    mock.set_response(opcode, 0, reply)
    got = ep.call(name, tunnel=tun)
    assert bytes(got) == reply
    check_sent()
    # compat
    if ti is not None:
        out = getattr(cxlmi, "struct_cxlmi_cmd_%s_rsp" % name)()
        assert cxlmi.cxlmi_mock_set_response(ep, opcode >> 8, opcode & 0xFF, 0, reply,
                                             len(reply)) == 0
        rc = getattr(cxlmi, "cxlmi_cmd_" + name)(ep, ti, out)
        assert rc == 0, ep.last_error
        assert bytes(out) == reply
        check_sent()
        # byref / pointer to the tunnel info work as in C
        for wrapped in (ctypes.byref(ti), ctypes.pointer(ti)):
            mock.set_response(opcode, 0, reply)
            assert getattr(cxlmi, "cxlmi_cmd_" + name)(ep, wrapped, out) == 0
            check_sent()
    cxlmi.cxlmi_free_ctx(ctx)


def test_mhd_hop_uses_target_type_1():
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    ep.transport.set_response(IDENTIFY, 0, IDENT)
    assert cxlmi.cxlmi_cmd_identify(ep, cxlmi.cxlmi_tunnel_mhd(),
                                    cxlmi.struct_cxlmi_cmd_identify_rsp()) == 0
    msg = ep.transport.last_message
    assert msg[3:5] == b"\x00\x53" and msg[13] == 1
    cxlmi.cxlmi_free_ctx(ctx)


@pytest.mark.parametrize("port,ld,level,mhd", [
    (1, 2, 3, False),          # no third level
    (-1, -1, 1, False),        # level 1 names neither (both: the LD, as libcxlmi)
    (-1, 2, 2, False),         # level 2 needs both
    (1, -1, 2, True),          # an MHD tunnel has one level
])
def test_impossible_tunnel_infos_fail_with_minus_one_and_usage_error(port, ld, level, mhd):
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    ti = _compat_info(port, ld, level, mhd)
    assert cxlmi.cxlmi_cmd_identify(ep, ti, cxlmi.struct_cxlmi_cmd_identify_rsp()) == -1
    assert isinstance(ep.last_error, UsageError)
    assert ep.transport.commands_sent == 0
    cxlmi.cxlmi_free_ctx(ctx)


def test_level_0_tunnel_info_sends_directly():
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    ep.transport.set_response(IDENTIFY, 0, IDENT)
    assert cxlmi.cxlmi_cmd_identify(ep, _compat_info(-1, -1, 0, False),
                                    cxlmi.struct_cxlmi_cmd_identify_rsp()) == 0
    assert ep.transport.last_hops == () and ep.transport.last_msg_type == 8
    cxlmi.cxlmi_free_ctx(ctx)


@pytest.mark.parametrize("hops", [[(2, 0)], [(0, 256)], [(0, -1)]])
def test_tunnel_hops_are_checked(hops):
    with pytest.raises(UsageError):
        Tunnel(hops)


# ------------------------------------------------------------ unwrap, level by level

class Scripted(Transport):
    """Answers with whatever ``reply(request message)`` returns."""
    name = "scripted"

    def __init__(self, reply):
        self.reply = reply

    def send(self, message, msg_type, timeout):
        self.sent = message
        return self.reply(message)


def scripted_ep(reply):
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    return ctx, ctx.open_transport(Scripted(reply), "scripted", probe=False)


def respond(depth, inner_payload=IDENT, inner_rc=0, level_rc=None, bad_len=None, lie_len=None):
    """A reply function for a depth-``depth`` tunnelled identify.

    ``level_rc`` = (level, rc): that tunnel level fails.  ``bad_len`` = (level,
    delta): that level's tunnel length field is off by delta.  ``lie_len`` =
    (level, delta): that level's CCI header length is off by delta.
    """
    def reply(msg):
        tags, inner = split_levels(msg, depth)
        answer = ref_message(IDENTIFY, inner[1], inner_payload if not inner_rc else b"", 1,
                             inner_rc)
        for level in range(depth, 0, -1):
            rc = level_rc[1] if level_rc and level_rc[0] == level else 0
            delta = bad_len[1] if bad_len and bad_len[0] == level else 0
            body = b"" if rc else answer
            answer = ref_tunnel_response(tags[level - 1], body, rc, len(body) + delta)
            if lie_len and lie_len[0] == level:
                answer = answer[:5] + (len(answer) - 12 + lie_len[1]).to_bytes(3, "little") \
                    + answer[8:]
        return answer
    return reply


TUNNELS = {1: Tunnel.switch(4), 2: Tunnel.switch_mld(4, 1)}


@pytest.mark.parametrize("depth", [1, 2])
def test_a_well_formed_reply_unwraps_at_every_depth(depth):
    ctx, ep = scripted_ep(respond(depth))
    assert bytes(ep.identify(tunnel=TUNNELS[depth])) == IDENT
    ctx.close()


@pytest.mark.parametrize("depth,level", [(1, 1), (2, 1), (2, 2)])
@pytest.mark.parametrize("delta", [-1, 1, 100])
def test_a_wrong_tunnel_length_at_any_level_is_a_protocol_error(depth, level, delta):
    ctx, ep = scripted_ep(respond(depth, bad_len=(level, delta)))
    with pytest.raises(ProtocolError) as info:
        ep.identify(tunnel=TUNNELS[depth])
    assert "level %d" % level in str(info.value)
    rsp = cxlmi.struct_cxlmi_cmd_identify_rsp()
    ti = cxlmi.cxlmi_tunnel_switch(4) if depth == 1 else cxlmi.cxlmi_tunnel_switch_mld(4, 1)
    assert cxlmi.cxlmi_cmd_identify(ep, ti, rsp) == -1
    assert bytes(rsp) == bytes(18)
    ctx.close()


@pytest.mark.parametrize("depth,level", [(1, 1), (2, 1), (2, 2)])
@pytest.mark.parametrize("delta", [-1, 1])
def test_a_wrong_cci_length_at_any_level_is_a_protocol_error(depth, level, delta):
    ctx, ep = scripted_ep(respond(depth, lie_len=(level, delta)))
    with pytest.raises(ProtocolError):
        ep.identify(tunnel=TUNNELS[depth])
    ctx.close()


@pytest.mark.parametrize("depth,level", [(1, 1), (2, 1), (2, 2)])
def test_a_tunnel_level_error_is_a_device_error_naming_the_level(depth, level):
    ctx, ep = scripted_ep(respond(depth, level_rc=(level, 3)))
    with pytest.raises(DeviceError) as info:
        ep.identify(tunnel=TUNNELS[depth])
    assert info.value.return_code == 3
    assert "tunnel level %d" % level in str(info.value)
    assert "tunnel level %d" % level in info.value.level
    ti = cxlmi.cxlmi_tunnel_switch(4) if depth == 1 else cxlmi.cxlmi_tunnel_switch_mld(4, 1)
    assert cxlmi.cxlmi_cmd_identify(ep, ti, cxlmi.struct_cxlmi_cmd_identify_rsp()) == 3
    ctx.close()


@pytest.mark.parametrize("depth", [1, 2])
def test_the_inner_commands_error_is_the_commands_not_the_tunnels(depth):
    ctx, ep = scripted_ep(respond(depth, inner_rc=0x15))
    with pytest.raises(DeviceError) as info:
        ep.identify(tunnel=TUNNELS[depth])
    assert info.value.return_code == 0x15 and info.value.level is None
    ctx.close()


def test_a_5300h_error_queued_in_the_mock_fails_at_level_1():
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    assert cxlmi.cxlmi_mock_set_response(ep, 0x53, 0x00, 6, None, 0) == 0
    with pytest.raises(DeviceError) as info:
        ep.identify(tunnel=Tunnel.switch(1))
    assert info.value.return_code == 6 and "tunnel level 1" in str(info.value)
    cxlmi.cxlmi_free_ctx(ctx)


@pytest.mark.parametrize("depth", [1, 2])
def test_inner_tag_or_opcode_mismatch_is_a_protocol_error(depth):
    def reply(msg):
        good = respond(depth)(msg)
        # corrupt the innermost reply's tag
        at = 16 * depth
        return good[:at + 1] + bytes([(good[at + 1] + 1) & 0xFF]) + good[at + 2:]
    ctx, ep = scripted_ep(reply)
    with pytest.raises(ProtocolError):
        ep.identify(tunnel=TUNNELS[depth])
    ctx.close()


def test_tunnel_unwrap_and_wrap_directly():
    inner = ref_message(IDENTIFY, 5, b"")
    tags = iter([9, 10])
    outer, used = tunnel.wrap(inner, Tunnel.switch_mld(3, 2), lambda: next(tags))
    # innermost hop is wrapped first, so it took the first tag
    assert used == [10, 9]
    assert outer == ref_tunnel_request(10, 3, 0, ref_tunnel_request(9, 2, 0, inner))
    answer = ref_message(IDENTIFY, 5, IDENT, 1)
    reply = ref_tunnel_response(10, ref_tunnel_response(9, answer))
    assert tunnel.unwrap(reply, Tunnel.switch_mld(3, 2), used) == answer
    assert tunnel.split_request(outer[12:]) == (0, 3, outer[16:])
    assert tunnel.build_response(answer) == struct.pack("<HH", len(answer), 0) + answer


@pytest.mark.parametrize("payload", [b"", b"\x01", b"\x01\x00\x05", b"\x01\x00\x05\x00ab"])
def test_split_request_checks_its_length(payload):
    with pytest.raises(ProtocolError):
        tunnel.split_request(payload)


def test_unwrap_of_a_reply_with_no_tunnel_header_is_a_protocol_error():
    reply = ref_message(TUNNEL, 1, b"\x00\x00", 1)
    with pytest.raises(ProtocolError):
        tunnel.unwrap(reply, Tunnel.switch(0), [1])
    with pytest.raises(CxlmiError):
        tunnel.unwrap(b"", Tunnel.switch(0), [1])


def test_the_reassembly_length_leaves_out_the_background_bit():
    msg = cci.encode(IDENTIFY, b"\x01\x02\x03", category=1, background=True)
    assert cci.payload_length(msg) == 3
    assert cci.payload_length(bytes(5) + msg, at=5) == 3
