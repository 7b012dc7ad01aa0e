# SPDX-License-Identifier: LGPL-2.1-or-later
"""Edges of the CCI header and the Tunnel Management Command.

The 21-bit payload length at and across 64 KiB (where its top byte first
becomes non-zero) and at its largest value, 2^21 - 1; tunnel ids 0 and 255 at
every hop; the hop a failed or malformed tunnel reply names; the vendor
specific status a failed reply carries; and the exact texts of the errors a
user reads.  Reference bytes come from ``test_cci_tunnel``'s hand-written
builders (the spec's layouts), never from the library.
"""

import struct

import pytest

import cxlmi_bindings as cxlmi
from cxlmi_bindings import cci, tunnel
from cxlmi_bindings.errors import DeviceError, ProtocolError, UsageError
from cxlmi_bindings.tunnel import Tunnel

from test_cci_tunnel import (IDENT, IDENTIFY, TUNNEL, ref_header, ref_message,
                             ref_tunnel_request, ref_tunnel_response, scripted_ep, split_levels)


# ------------------------------------------------------------ 21-bit length

LENGTHS = [0xFFFF, 0x10000, 0x10001, 0x1FFFF, 0x12345, cci.MAX_PAYLOAD]


@pytest.mark.parametrize("length", LENGTHS)
def test_payload_lengths_of_64_kib_and_more_use_the_third_length_byte(length):
    payload = bytes(range(256)) * (length // 256) + bytes(length % 256)
    msg = cci.encode(0x4100, payload, 3)
    assert msg[:12] == ref_header(0x4100, 3, length)
    assert msg[5:8] == bytes((length & 0xFF, (length >> 8) & 0xFF, length >> 16))
    assert cci.decode_header(msg).payload_length == length


@pytest.mark.parametrize("length", LENGTHS)
def test_replies_of_64_kib_and_more_are_returned_whole(length):
    payload = bytes([0xA5]) * length
    reply = ref_message(0x4100, 9, payload, category=1)
    rc, vs, body = cci.check_response(reply, 9, 0x4100)
    assert (rc, vs) == (0, 0)
    assert len(body) == length and bytes(body[-1:]) == (b"\xA5" if length else b"")


def test_a_reply_whose_top_length_byte_disagrees_is_caught():
    # 0x10005 announced, 5 bytes sent: only the third length byte differs
    reply = ref_header(IDENTIFY, 1, 0x10005, 1) + b"12345"
    with pytest.raises(ProtocolError) as info:
        cci.check_response(reply, 1, IDENTIFY)
    assert str(info.value) == "reply announces 65541 payload bytes but 5 arrived"


def test_the_largest_21_bit_length_is_accepted_and_one_more_is_refused():
    msg = cci.encode(1, bytes(cci.MAX_PAYLOAD), background=True)
    assert msg[5:8] == b"\xff\xff\x9f"          # 2^21 - 1 plus bit 23
    hdr = cci.decode_header(msg)
    assert hdr.payload_length == (1 << 21) - 1 and hdr.background
    with pytest.raises(ValueError) as info:
        cci.encode(1, bytes(cci.MAX_PAYLOAD + 1))
    assert str(info.value) == \
        "CCI payload of 2097152 bytes exceeds the 21-bit length field"


def test_background_bit_does_not_leak_into_a_large_length():
    msg = cci.encode(0x4400, bytes(0x10000), background=True)
    assert msg[5:8] == b"\x00\x00\x81"
    hdr = cci.decode_header(msg)
    assert (hdr.payload_length, hdr.background) == (0x10000, True)
    plain = cci.decode_header(cci.encode(0x4400, bytes(0x10000)))
    assert (plain.payload_length, plain.background) == (0x10000, False)


@pytest.mark.parametrize("tag,on_wire", [(0, 0), (255, 255), (256, 0), (0x1FE, 0xFE)])
def test_tags_are_one_byte_on_the_wire_and_compared_as_one_byte(tag, on_wire):
    msg = cci.encode(IDENTIFY, b"", tag)
    assert msg[1] == on_wire
    reply = ref_message(IDENTIFY, on_wire, IDENT, category=1)
    assert bytes(cci.check_response(reply, tag, IDENTIFY)[2]) == IDENT


def test_header_fields_decode_to_their_own_attributes():
    msg = ref_header(0x4301, 0x7E, 0x10203, category=1, rc=0x15, vs=0xBEEF, background=True)
    hdr = cci.decode_header(msg)
    assert (hdr.category, hdr.tag, hdr.opcode, hdr.payload_length, hdr.background,
            hdr.return_code, hdr.vendor_status) == (1, 0x7E, 0x4301, 0x10203, True, 0x15, 0xBEEF)
    assert repr(hdr) == ("Header(category=1, tag=126, opcode=0x4301, payload_length=66051, "
                         "background=True, return_code=21, vendor_status=0xbeef)")


@pytest.mark.parametrize("byte0,category", [(0x00, 0), (0x01, 1), (0x10, 1), (0x21, 1),
                                            (0x20, 2), (0xF0, 15)])
def test_the_category_comes_from_the_low_nibble_else_the_high_one(byte0, category):
    msg = bytes([byte0]) + ref_header(IDENTIFY, 0, 0)[1:]
    assert cci.decode_header(msg).category == category


def test_encode_defaults_to_an_empty_request_with_tag_0():
    assert cci.encode(0x0001) == b"\x00\x00\x00\x01\x00" + bytes(7)


def test_encode_puts_every_argument_in_its_own_field():
    msg = cci.encode(0x5301, b"xy", tag=0x42, category=1, return_code=0x0203,
                     vendor_status=0x0405)
    assert msg == (b"\x01\x42\x00\x01\x53\x02\x00\x00\x03\x02\x05\x04" + b"xy")


# ------------------------------------------------------------ check_response texts

def test_check_response_names_what_does_not_match():
    def err(reply, tag=7, opcode=IDENTIFY, command=None):
        with pytest.raises(ProtocolError) as info:
            cci.check_response(reply, tag, opcode, command)
        return str(info.value)

    assert err(ref_message(IDENTIFY, 7, IDENT, 0)) == \
        "reply to 0x0001 is not a response (category 0)"
    assert err(ref_message(IDENTIFY, 7, IDENT, 0), command="identify") == \
        "reply to identify is not a response (category 0)"
    assert err(ref_message(IDENTIFY, 8, IDENT, 1)) == "reply carries tag 8, the request had tag 7"
    assert err(ref_message(0x0002, 7, IDENT, 1)) == \
        "reply is for opcode 0x0002, the request was 0x0001"
    assert err(ref_header(IDENTIFY, 7, 19, 1) + IDENT) == \
        "reply announces 19 payload bytes but 18 arrived"
    assert err(ref_header(IDENTIFY, 7, 0, 1)[:11]) == \
        "CCI message of 11 bytes is shorter than its 12-byte header"
    with pytest.raises(ProtocolError) as info:
        cci.decode_header(b"\x01" * 5)
    assert str(info.value) == "CCI message of 5 bytes is shorter than its 12-byte header"


def test_a_high_nibble_response_category_is_accepted_and_another_category_is_not():
    reply = bytearray(ref_message(IDENTIFY, 7, IDENT, 1))
    reply[0] = 0x10
    assert bytes(cci.check_response(bytes(reply), 7, IDENTIFY)[2]) == IDENT
    reply[0] = 0x20
    with pytest.raises(ProtocolError) as info:
        cci.check_response(bytes(reply), 7, IDENTIFY)
    assert "(category 2)" in str(info.value)


# ------------------------------------------------------------ vendor specific status

def test_a_successful_reply_returns_its_vendor_status():
    reply = ref_header(IDENTIFY, 2, len(IDENT), 1, 0, 0x1234) + IDENT
    assert cci.check_response(reply, 2, IDENTIFY)[:2] == (0, 0x1234)
    reply = ref_header(IDENTIFY, 2, 0, 1, 1, 0x4321)
    assert cci.check_response(reply, 2, IDENTIFY)[:2] == (1, 0x4321)


def test_a_failed_reply_keeps_its_vendor_status():
    reply = ref_header(IDENTIFY, 2, 0, 1, 4, 0xCAFE)
    with pytest.raises(DeviceError) as info:
        cci.check_response(reply, 2, IDENTIFY, "identify")
    exc = info.value
    assert (exc.return_code, exc.vendor_status, exc.command) == (4, 0xCAFE, "identify")
    assert str(exc) == "identify: CXL return code 4 (INTERNAL): internal device error"


def test_an_endpoint_reports_the_vendor_status_of_a_failed_command():
    def reply(msg):
        return ref_header(IDENTIFY, msg[1], 0, 1, 4, 0xCAFE)
    ctx, ep = scripted_ep(reply)
    with pytest.raises(DeviceError) as info:
        ep.identify()
    assert (info.value.return_code, info.value.vendor_status) == (4, 0xCAFE)
    ctx.close()


@pytest.mark.parametrize("failing", ["inner", "level 1", "level 2"])
def test_a_tunnelled_failure_keeps_the_vendor_status_of_the_level_that_failed(failing):
    def reply(msg):
        tags, inner = split_levels(msg, 2)
        answer = ref_header(IDENTIFY, inner[1], 0, 1, 3, 0x0111) if failing == "inner" \
            else ref_message(IDENTIFY, inner[1], IDENT, 1)
        for level in (2, 1):
            if failing == "level %d" % level:
                answer = ref_header(TUNNEL, tags[level - 1], 0, 1, 5, 0x0200 + level)
            else:
                answer = ref_tunnel_response(tags[level - 1], answer)
        return answer
    ctx, ep = scripted_ep(reply)
    with pytest.raises(DeviceError) as info:
        ep.identify(tunnel=Tunnel.switch_mld(0, 255))
    exc = info.value
    if failing == "inner":
        assert (exc.return_code, exc.vendor_status, exc.level) == (3, 0x0111, None)
    else:
        level = int(failing[-1])
        where = "tunnel level %d (%s)" % (level, ("switch port 0", "LD 255")[level - 1])
        assert (exc.return_code, exc.vendor_status, exc.level) == (5, 0x0200 + level, where)
        assert str(exc) == "%s: tunnel: CXL return code 5 (RETRY): temporary error, retry once" \
            % where
    ctx.close()


# ------------------------------------------------------------ tunnel ids 0 and 255

HOP_IDS = [0, 1, 254, 255]


@pytest.mark.parametrize("ident", HOP_IDS)
@pytest.mark.parametrize("at", [0, 1, 2])
def test_ids_0_to_255_are_accepted_at_every_hop(ident, at):
    hops = [(0, 7), (0, 8), (0, 9)]
    hops[at] = (0, ident)
    tun = Tunnel(hops)
    assert tun.hops == tuple(hops) and tun.depth == 3


@pytest.mark.parametrize("ident", [-1, 256, 1000])
@pytest.mark.parametrize("at", [0, 1, 2])
def test_ids_outside_0_to_255_are_refused_at_every_hop(ident, at):
    hops = [(0, 7), (0, 8), (0, 9)]
    hops[at] = (0, ident)
    with pytest.raises(UsageError) as info:
        Tunnel(hops)
    assert str(info.value) == "tunnel id %d is out of range (0..255)" % ident


@pytest.mark.parametrize("target_type", [-1, 2, "0"])
def test_target_types_other_than_0_and_1_are_refused(target_type):
    with pytest.raises(UsageError) as info:
        Tunnel([(0, 1), (target_type, 0)])
    assert str(info.value) == ("tunnel target type %r is not 0 (port/LD) or 1 (LD pool)"
                               % (target_type,))


@pytest.mark.parametrize("first,second", [(0, 0), (0, 255), (255, 0), (255, 255)])
def test_ids_0_and_255_go_on_the_wire_at_every_hop(first, second):
    inner = ref_message(IDENTIFY, 1, b"")
    tags = iter([20, 21, 22])
    tun = Tunnel([(0, first), (0, second), (1, 0)])
    outer, used = tunnel.wrap(inner, tun, lambda: next(tags))
    assert used == [22, 21, 20]
    assert outer == ref_tunnel_request(
        22, first, 0, ref_tunnel_request(21, second, 0, ref_tunnel_request(20, 0, 1, inner)))
    # and the device side reads each hop back
    target_type, ident, rest = tunnel.split_request(outer[12:])
    assert (target_type, ident) == (0, first)
    target_type, ident, rest = tunnel.split_request(rest[12:])
    assert (target_type, ident) == (0, second)
    assert tunnel.split_request(rest[12:]) == (1, 0, inner)


@pytest.mark.parametrize("port,ld", [(0, 0), (0, 255), (255, 0), (255, 255)])
def test_libcxlmi_tunnel_infos_with_ids_0_and_255_become_those_hops(port, ld):
    info = cxlmi.struct_cxlmi_tunnel_info
    assert tunnel.from_info(info(port=port, ld=-1, level=1)).hops == ((0, port),)
    assert tunnel.from_info(info(port=-1, ld=ld, level=1)).hops == ((0, ld),)
    assert tunnel.from_info(info(port=port, ld=ld, level=2)).hops == ((0, port), (0, ld))
    assert tunnel.from_info(cxlmi.cxlmi_tunnel_switch_mld(port, ld)).hops == ((0, port), (0, ld))


@pytest.mark.parametrize("port,ld,level,mhd,text", [
    (-1, -1, 1, False, "a level-1 tunnel names a switch port or an LD, not neither"),
    (-1, 0, 2, False, "a level-2 tunnel needs both a switch port and an LD"),
    (0, -1, 2, False, "a level-2 tunnel needs both a switch port and an LD"),
    (0, 0, 3, False, "tunnel level 3 is not supported (0, 1 or 2)"),
    (0, 0, -1, False, "tunnel level -1 is not supported (0, 1 or 2)"),
    (-1, -1, 2, True, "an MHD tunnel has exactly one level, not 2"),
])
def test_impossible_tunnel_infos_say_what_is_wrong(port, ld, level, mhd, text):
    ti = cxlmi.struct_cxlmi_tunnel_info(port=port, ld=ld, level=level, mhd=mhd)
    with pytest.raises(UsageError) as info:
        tunnel.from_info(ti)
    assert str(info.value) == text


def test_a_level_1_tunnel_info_naming_both_a_port_and_an_ld_goes_to_the_ld():
    # as libcxlmi's one-level tunnel takes ld == -1 ? port : ld; it was refused here
    ti = cxlmi.struct_cxlmi_tunnel_info(port=3, ld=1, level=1)
    assert tunnel.from_info(ti).hops == ((0, 1),)
    assert tunnel.from_info(ti).describe() == "LD 1"


def test_tunnel_infos_with_no_level_or_none_send_directly_and_a_tunnel_passes_through():
    assert tunnel.from_info(None) is None
    assert tunnel.from_info(cxlmi.struct_cxlmi_tunnel_info(port=3, ld=4, level=0)) is None
    assert tunnel.from_info(cxlmi.struct_cxlmi_tunnel_info(port=-1, ld=-1, level=0,
                                                           mhd=True)) is None
    tun = Tunnel.switch(5)
    assert tunnel.from_info(tun) is tun
    mhd = tunnel.from_info(cxlmi.struct_cxlmi_tunnel_info(port=9, ld=9, level=1, mhd=True))
    assert mhd.hops == ((1, 0),)


# ------------------------------------------------------------ naming the hop

def test_describe_names_every_hop_in_order():
    assert Tunnel().describe() == "direct"
    # the helpers know what an id of target type 0 names; a bare hop list does not
    assert Tunnel.switch(0).describe() == "switch port 0"
    assert Tunnel.mld(4).describe() == "LD 4"
    assert Tunnel.switch_mld(255, 0).describe() == "switch port 255 -> LD 0"
    assert Tunnel.mhd().describe() == "LD pool CCI"
    assert Tunnel([(0, 3), (1, 0), (0, 255)]).describe() == \
        "port/LD 3 -> LD pool CCI -> port/LD 255"


def test_a_tunnel_is_a_value():
    assert not Tunnel() and Tunnel().depth == 0
    assert Tunnel.switch(0) and Tunnel.switch(0).depth == 1
    assert Tunnel.switch_mld(0, 255) == Tunnel([(0, 0), (0, 255)])
    assert Tunnel.switch(0) != Tunnel.switch(1)
    assert Tunnel.switch(0) != ((0, 0),)
    assert hash(Tunnel.switch_mld(1, 2)) == hash(Tunnel([(0, 1), (0, 2)]))
    assert hash(Tunnel.switch(1)) != hash(Tunnel.switch(2))      # hashed by its hops
    assert len({Tunnel.switch(1), Tunnel.mld(1), Tunnel.mhd()}) == 2
    assert repr(Tunnel.switch_mld(1, 255)) == "Tunnel([(0, 1), (0, 255)])"
    assert Tunnel.mhd().hops == ((1, 0),) and Tunnel.mld(0).hops == ((0, 0),)


def three():
    """Three hops with ids 0 and 255 and an LD pool CCI (built per test, so a
    refused id fails the tests rather than their collection)."""
    return Tunnel([(0, 0), (0, 255), (1, 0)])
WHERE = ["tunnel level 1 (port/LD 0)", "tunnel level 2 (port/LD 255)",
         "tunnel level 3 (LD pool CCI)"]
ANSWER = ref_message(IDENTIFY, 4, IDENT, 1)


def _reply(bad_level=None, rc=0, tunnel_len_delta=0, short=False):
    answer = ANSWER
    for level in (3, 2, 1):
        tag = 30 + level
        if level == bad_level and rc:
            answer = ref_header(TUNNEL, tag, 0, 1, rc)
        elif level == bad_level and short:
            answer = ref_message(TUNNEL, tag, b"\x00\x00\x00", 1)
        elif level == bad_level:
            answer = ref_tunnel_response(tag, answer, length=len(answer) + tunnel_len_delta)
        else:
            answer = ref_tunnel_response(tag, answer)
    return answer


def test_a_three_level_reply_unwraps_to_the_inner_answer():
    assert tunnel.unwrap(_reply(), three(), [31, 32, 33]) == ANSWER


@pytest.mark.parametrize("level", [1, 2, 3])
def test_a_failed_hop_is_named_in_the_device_error(level):
    with pytest.raises(DeviceError) as info:
        tunnel.unwrap(_reply(level, rc=6), three(), [31, 32, 33])
    exc = info.value
    assert exc.level == WHERE[level - 1]
    assert exc.return_code == 6 and exc.command == "tunnel"
    assert str(exc) == ("%s: tunnel: CXL return code 6 (BUSY): a background operation is in "
                        "progress" % WHERE[level - 1])


@pytest.mark.parametrize("level", [1, 2, 3])
@pytest.mark.parametrize("delta", [-1, 1])
def test_a_wrong_tunnel_length_names_its_hop(level, delta):
    with pytest.raises(ProtocolError) as info:
        tunnel.unwrap(_reply(level, tunnel_len_delta=delta), three(), [31, 32, 33])
    inner = len(ANSWER) + 4 * (3 - level) + 12 * (3 - level)
    assert str(info.value) == "%s: tunnel says %d bytes follow, %d did" % (
        WHERE[level - 1], inner + delta, inner)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_a_hop_without_a_tunnel_header_names_its_hop(level):
    with pytest.raises(ProtocolError) as info:
        tunnel.unwrap(_reply(level, short=True), three(), [31, 32, 33])
    assert str(info.value) == ("%s: response payload of 3 bytes has no tunnel header"
                               % WHERE[level - 1])


def test_a_tunnel_header_of_exactly_four_bytes_and_nothing_inside_unwraps_to_nothing():
    reply = ref_message(TUNNEL, 1, struct.pack("<HH", 0, 0), 1)
    assert tunnel.unwrap(reply, Tunnel.switch(0), [1]) == b""


@pytest.mark.parametrize("level", [1, 2, 3])
def test_a_wrong_tag_at_any_hop_is_a_protocol_error(level):
    tags = [31, 32, 33]
    tags[level - 1] += 100
    with pytest.raises(ProtocolError) as info:
        tunnel.unwrap(_reply(), three(), tags)
    assert "tag %d" % (30 + level) in str(info.value)


def test_split_request_texts():
    with pytest.raises(ProtocolError) as info:
        tunnel.split_request(b"\x00\x00\x05")
    assert str(info.value) == "tunnel request of 3 bytes has no header"
    with pytest.raises(ProtocolError) as info:
        tunnel.split_request(b"\xff\x00\x05\x00abc")
    assert str(info.value) == "tunnel request says 5 bytes follow, 3 did"
    assert tunnel.split_request(b"\xff\x01\x00\x00") == (1, 255, b"")


def test_build_response_announces_the_inner_length_and_a_zero_reserved_field():
    assert tunnel.build_response(b"ab") == b"\x02\x00\x00\x00ab"
    assert tunnel.build_response(b"") == b"\x00\x00\x00\x00"
