# SPDX-License-Identifier: LGPL-2.1-or-later
"""Edges and counters of the MCTP-over-TCP framing.

The trimming of padded MCTP control messages (DSP0236 section 11: each
command's request and response layout), ``max_message`` at its edge, the
reassembler's ``packets`` / ``messages`` / ``errors`` counters and its
``buffered`` / ``in_message`` state, and ``FramingError.dropped`` for every
kind of malformed stream.  Packets are built here byte by byte from the
DSP0236 transport header layout, not with the library's packer.
"""

import pytest

from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings.errors import ProtocolError

PKT = 68
SRC, DST = 0x10, 0x08


def pkt(payload, som=True, eom=True, seq=0, tag=1, owner=1, src=SRC, dst=DST, version=1):
    """One 68-byte packet: the 4-byte transport header, then 64 bytes (zero padded)."""
    flags = (0x80 if som else 0) | (0x40 if eom else 0) | (seq & 3) << 4 \
        | (0x08 if owner else 0) | (tag & 7)
    assert len(payload) <= 64
    return bytes((version, dst, src, flags)) + bytes(payload) + bytes(64 - len(payload))


def stream(body, seq=0, tag=1, owner=1, src=SRC, dst=DST):
    """``body`` (type byte + message) cut into 64-byte packets."""
    chunks = [body[i:i + 64] for i in range(0, max(len(body), 1), 64)]
    return [pkt(c, i == 0, i == len(chunks) - 1, (seq + i) & 3, tag, owner, src, dst)
            for i, c in enumerate(chunks)]


def cci_message(payload_len, tag=0, category=1):
    """A CCI message (12-byte header written by hand + payload)."""
    payload = bytes((i * 7) & 0xFF for i in range(payload_len))
    return (bytes((category, tag, 0, 0x01, 0x00)) + payload_len.to_bytes(3, "little")
            + bytes(4) + payload)


def only(events):
    assert len(events) == 1, events
    return events[0]


# ------------------------------------------------------------ control message lengths

@pytest.mark.parametrize("command,extra", [
    (mf.CTRL_SET_ENDPOINT_ID, 2),
    (mf.CTRL_GET_ENDPOINT_ID, 0),
    (mf.CTRL_GET_ENDPOINT_UUID, 0),
    (mf.CTRL_GET_VERSION_SUPPORT, 1),
    (mf.CTRL_GET_MESSAGE_TYPE_SUPPORT, 0),
    (mf.CTRL_GET_VENDOR_MESSAGE_SUPPORT, 1),
    (mf.CTRL_RESOLVE_ENDPOINT_ID, 1),
])
@pytest.mark.parametrize("flags", [0x80, 0x80 | 0x1F, 0x80 | 0x40 | 0x05])
def test_control_requests_are_their_command_layouts_length(command, extra, flags):
    padded = bytes((flags, command)) + bytes(range(1, 62))
    assert mf.control_message_length(padded) == 2 + extra
    assert mf.control_message_length(padded[:2]) == 2 + extra


def test_a_control_request_of_an_unknown_command_is_kept_whole():
    assert mf.control_message_length(bytes((0x80, 0x0A)) + bytes(10)) is None
    assert mf.control_message_length(bytes((0x80, 0x00))) is None


@pytest.mark.parametrize("message", [b"", b"\x80", b"\x00", b"\x00\x02"])
def test_too_short_control_messages_have_no_known_length(message):
    assert mf.control_message_length(message) is None


@pytest.mark.parametrize("command,body,length", [
    # Set / Get Endpoint ID: cc, then 3 bytes (status or EID, EID type, medium data)
    (mf.CTRL_SET_ENDPOINT_ID, b"\x00\x00\x09\x00", 6),
    (mf.CTRL_GET_ENDPOINT_ID, b"\x00\x09\x00\x00", 6),
    # Get Endpoint UUID: cc, then the 16-byte UUID
    (mf.CTRL_GET_ENDPOINT_UUID, b"\x00" + bytes(range(1, 17)), 19),
    # Get Version Support: cc, count, then 4 bytes per version
    (mf.CTRL_GET_VERSION_SUPPORT, b"\x00\x00", 4),
    (mf.CTRL_GET_VERSION_SUPPORT, b"\x00\x01\xf1\xf3\xf1\x00", 8),
    (mf.CTRL_GET_VERSION_SUPPORT, b"\x00\x03" + bytes(12), 16),
    # Get Message Type Support: cc, count, then one byte per type
    (mf.CTRL_GET_MESSAGE_TYPE_SUPPORT, b"\x00\x00", 4),
    (mf.CTRL_GET_MESSAGE_TYPE_SUPPORT, b"\x00\x02\x07\x08", 6),
    (mf.CTRL_GET_MESSAGE_TYPE_SUPPORT, b"\x00\x05" + bytes(5), 9),
])
@pytest.mark.parametrize("instance", [0x00, 0x1F])
def test_successful_control_responses_are_their_layouts_length(command, body, length, instance):
    message = bytes((instance, command)) + body
    assert len(message) == length
    assert mf.control_message_length(message + bytes(64)) == length
    assert mf.control_message_length(message + b"\xff" * 3) == length


@pytest.mark.parametrize("command", [mf.CTRL_GET_VERSION_SUPPORT,
                                     mf.CTRL_GET_MESSAGE_TYPE_SUPPORT])
def test_a_counted_success_response_without_its_count_has_no_known_length(command):
    assert mf.control_message_length(bytes((0, command, 0))) is None


@pytest.mark.parametrize("command", [mf.CTRL_GET_VERSION_SUPPORT,
                                     mf.CTRL_GET_MESSAGE_TYPE_SUPPORT])
def test_a_counted_success_response_ending_at_a_zero_count_is_4_bytes(command):
    assert mf.control_message_length(bytes((0, command, 0, 0))) == 4


@pytest.mark.parametrize("command", [mf.CTRL_GET_VENDOR_MESSAGE_SUPPORT,
                                     mf.CTRL_RESOLVE_ENDPOINT_ID, 0x0B, 0x7F])
def test_successful_responses_of_other_commands_are_kept_whole(command):
    assert mf.control_message_length(bytes((0, command, 0, 1, 2, 3, 4))) is None


@pytest.mark.parametrize("command", [mf.CTRL_SET_ENDPOINT_ID, mf.CTRL_GET_ENDPOINT_ID,
                                     mf.CTRL_GET_ENDPOINT_UUID, mf.CTRL_GET_MESSAGE_TYPE_SUPPORT,
                                     0x0B])
@pytest.mark.parametrize("cc", [mf.CC_ERROR, mf.CC_INVALID_DATA, mf.CC_UNSUPPORTED_CMD, 0x80])
def test_an_error_response_ends_at_its_completion_code(command, cc):
    assert mf.control_message_length(bytes((0, command, cc))) == 3
    assert mf.control_message_length(bytes((0, command, cc)) + bytes(20)) == 3
    assert mf.control_message_length(bytes((0, command, cc, 4, 4, 4))) == 3


def test_version_support_refusing_a_type_may_carry_a_zero_count():
    unsupported = bytes((0, mf.CTRL_GET_VERSION_SUPPORT, mf.CC_VERSION_TYPE_UNSUPPORTED))
    assert mf.control_message_length(unsupported) == 3
    assert mf.control_message_length(unsupported + b"\x00") == 4
    assert mf.control_message_length(unsupported + b"\x00" + bytes(30)) == 4
    # a non-zero byte after the completion code is not a count of an error reply
    assert mf.control_message_length(unsupported + b"\x02" + bytes(8)) == 3


def _control_through_reassembler(message, owner=0):
    body = bytes((mf.TYPE_CONTROL,)) + message
    return only(mf.Reassembler().feed(b"".join(stream(body, owner=owner))))


def test_a_padded_get_endpoint_uuid_reply_comes_out_as_its_19_bytes():
    uuid = bytes.fromhex("6f1b2e3c4d5e4f60a1b2c3d4e5f60718")
    reply = bytes((0x03, mf.CTRL_GET_ENDPOINT_UUID, mf.CC_SUCCESS)) + uuid
    ev = _control_through_reassembler(reply)
    assert isinstance(ev, mf.Message)
    assert ev.msg_type == mf.TYPE_CONTROL
    assert ev.body == reply and len(ev.body) == 19


@pytest.mark.parametrize("message", [
    bytes((0x80 | 0x02, mf.CTRL_GET_ENDPOINT_UUID)),
    bytes((0x80, mf.CTRL_SET_ENDPOINT_ID, 0x00, 0x09)),
    bytes((0x01, mf.CTRL_GET_MESSAGE_TYPE_SUPPORT, 0, 2, 7, 8)),
    bytes((0x01, mf.CTRL_GET_VERSION_SUPPORT, 0, 1, 0xF1, 0xF3, 0xF1, 0x00)),
    bytes((0x01, mf.CTRL_GET_ENDPOINT_ID, mf.CC_UNSUPPORTED_CMD)),
])
def test_padded_control_messages_come_out_without_their_padding(message):
    assert _control_through_reassembler(message).body == message


def test_a_control_message_announcing_more_than_arrived_is_kept_as_it_came():
    # 20 versions would be 84 bytes; one packet holds 63 after the type byte
    message = bytes((0x01, mf.CTRL_GET_VERSION_SUPPORT, 0, 20)) + bytes(range(59))
    ev = _control_through_reassembler(message)
    assert ev.body == message and len(ev.body) == 63


def test_a_control_message_exactly_filling_its_packets_is_kept_whole():
    message = bytes((0x01, mf.CTRL_GET_VERSION_SUPPORT, 0, 15)) + bytes(range(60))
    assert mf.control_message_length(message) == 64
    body = bytes((mf.TYPE_CONTROL,)) + message                       # 65 bytes: 2 packets
    ev = only(mf.Reassembler().feed(b"".join(stream(body))))
    assert ev.body == message


# ------------------------------------------------------------ max_message

@pytest.mark.parametrize("payload_len,accepted", [(100, True), (101, False)])
def test_a_cci_message_of_exactly_max_message_is_accepted_and_one_byte_more_is_not(
        payload_len, accepted):
    rx = mf.Reassembler(max_message=1 + 12 + 100)
    msg = cci_message(payload_len)
    events = rx.feed(b"".join(stream(bytes((mf.TYPE_CCI,)) + msg)))
    ev = only(events)
    if accepted:
        assert isinstance(ev, mf.Message) and ev.body == msg
        assert (rx.messages, rx.errors) == (1, 0)
    else:
        assert isinstance(ev, mf.FramingError)
        assert str(ev) == "message announces 114 bytes, more than the 113 accepted; dropped"
        assert ev.dropped == PKT
        assert (rx.messages, rx.errors, rx.in_message) == (0, 1, False)
    assert rx.packets == 2


@pytest.mark.parametrize("max_message,accepted", [(128, True), (127, False)])
def test_a_message_of_unknown_length_may_grow_to_exactly_max_message(max_message, accepted):
    body = bytes((0x7E,)) + bytes(range(1, 128))                      # two full packets
    rx = mf.Reassembler(max_message=max_message)
    ev = only(rx.feed(b"".join(stream(body))))
    if accepted:
        assert ev == mf.Message(0x7E, body[1:], SRC, DST, 1, 1)
    else:
        assert str(ev) == "message exceeds the 127 bytes accepted; dropped"
        assert ev.dropped == 2 * PKT
    assert not rx.in_message


@pytest.mark.parametrize("payload_len,accepted", [(9, True), (10, False)])
def test_a_one_packet_cci_message_of_exactly_max_message_is_accepted_and_one_byte_more_is_not(
        payload_len, accepted):
    # a single whole packet alone in one feed: the reassembler's quick path
    rx = mf.Reassembler(max_message=1 + 12 + 9)
    msg = cci_message(payload_len)
    ev = only(rx.feed(pkt(b"\x08" + msg)))
    if accepted:
        assert isinstance(ev, mf.Message) and ev.body == msg
    else:
        assert isinstance(ev, mf.FramingError)
        assert str(ev) == "message announces 23 bytes, more than the 22 accepted; dropped"
        assert (rx.messages, rx.errors) == (0, 1)


def test_the_default_limit_is_a_1_mib_cci_payload():
    assert mf.DEFAULT_MAX_MESSAGE == 1 + 12 + (1 << 20)
    assert mf.MAX_CXL_MESSAGE == 1 + 12 + (1 << 21) - 1
    rx = mf.Reassembler()
    first = bytes((mf.TYPE_CCI,)) + cci_message(1 << 20)[:63]
    assert rx.feed(pkt(first, eom=False)) == []
    assert rx.in_message
    rx = mf.Reassembler()
    first = bytes((mf.TYPE_CCI,)) + cci_message((1 << 20) + 1)[:63]
    ev = only(rx.feed(pkt(first, eom=False)))
    assert str(ev) == ("message announces 1048590 bytes, more than the 1048589 accepted; "
                       "dropped")


def test_an_oversize_single_packet_message_leaves_no_message_in_progress():
    rx = mf.Reassembler(max_message=20)
    ev = only(rx.feed(pkt(b"\x08" + cci_message(30))))
    assert isinstance(ev, mf.FramingError) and ev.dropped == PKT
    assert not rx.in_message
    msg = cci_message(2)
    assert only(rx.feed(pkt(b"\x08" + msg, seq=1))).body == msg


def test_an_oversize_messages_later_packets_are_swallowed_quietly():
    rx = mf.Reassembler(max_message=100)
    packets = stream(bytes((mf.TYPE_CCI,)) + cci_message(300))         # 5 packets
    events = rx.feed(b"".join(packets))
    assert len(events) == 1 and events[0].dropped == PKT
    assert (rx.packets, rx.messages, rx.errors, rx.in_message) == (5, 0, 1, False)
    good = cci_message(10)
    assert only(rx.feed(b"".join(stream(bytes((8,)) + good)))).body == good


# ------------------------------------------------------------ counters and state

def test_counters_count_packets_messages_and_errors():
    rx = mf.Reassembler()
    assert (rx.packets, rx.messages, rx.errors, rx.buffered, rx.in_message) == (0, 0, 0, 0, False)
    three = b"".join(stream(bytes((8,)) + cci_message(150)))           # 3 packets
    assert len(three) == 3 * PKT
    rx.feed(three)
    assert (rx.packets, rx.messages, rx.errors) == (3, 1, 0)
    rx.feed(pkt(b"\x08" + cci_message(0), som=False, eom=True))       # outside a message
    assert (rx.packets, rx.messages, rx.errors) == (4, 1, 1)
    rx.feed(three + three)
    assert (rx.packets, rx.messages, rx.errors) == (10, 3, 1)
    rx.feed(pkt(b"x", som=False) + pkt(b"y", version=0))
    assert (rx.packets, rx.messages, rx.errors) == (12, 3, 3)


def test_a_packet_counts_only_once_all_68_bytes_are_there():
    rx = mf.Reassembler()
    one = pkt(b"\x08" + cci_message(4))
    assert rx.feed(one[:67]) == []
    assert (rx.buffered, rx.packets) == (67, 0)
    ev = only(rx.feed(one[67:]))
    assert isinstance(ev, mf.Message)
    assert (rx.buffered, rx.packets, rx.messages) == (0, 1, 1)
    assert rx.feed(one + one[:10]) != [] and rx.buffered == 10
    assert rx.feed(b"") == [] and rx.buffered == 10 and rx.packets == 2


def test_in_message_is_true_between_the_first_and_the_last_packet():
    rx = mf.Reassembler()
    packets = stream(bytes((8,)) + cci_message(150))
    rx.feed(packets[0])
    assert rx.in_message
    rx.feed(packets[1])
    assert rx.in_message
    rx.feed(packets[2])
    assert not rx.in_message


def test_pending_is_true_between_the_packets_of_a_message_even_with_no_bytes_buffered():
    rx = mf.Reassembler()
    assert not rx.pending()
    packets = stream(bytes((8,)) + cci_message(150))
    rx.feed(packets[0])
    assert rx.buffered == 0 and rx.pending()
    rx.feed(packets[1][:5])
    assert rx.pending()
    rx.feed(packets[1][5:] + packets[2])
    assert rx.buffered == 0 and not rx.pending()


def test_a_whole_packet_behind_a_partial_one_is_read_in_stream_order():
    # 10 bytes of one packet wait; the next 68 bytes, though a well-formed packet of
    # their own, are that packet's rest and the start of the next one
    first, second = pkt(b"\x08" + cci_message(3, tag=1)), pkt(b"\x08" + cci_message(5, tag=2),
                                                              seq=1)
    chunked, whole = mf.Reassembler(), mf.Reassembler()
    assert chunked.feed(first[:10]) == []
    events = chunked.feed(second)
    expected = whole.feed(first[:10] + second)
    assert [str(e) for e in events] == [str(e) for e in expected]
    assert not any(isinstance(e, mf.Message) and e.tag == 2 for e in events)
    assert chunked.buffered == whole.buffered == 10


def test_reset_forgets_the_partial_packet_and_message_but_not_the_counters():
    rx = mf.Reassembler()
    packets = stream(bytes((8,)) + cci_message(150))
    rx.feed(packets[0] + packets[1][:30])
    assert rx.in_message and rx.buffered == 30
    rx.reset()
    assert not rx.in_message and rx.buffered == 0 and rx.packets == 1
    msg = cci_message(5)
    assert only(rx.feed(b"".join(stream(bytes((8,)) + msg)))).body == msg


def test_discard_partial_with_nothing_buffered_reports_nothing():
    rx = mf.Reassembler()
    assert rx.discard_partial() is None
    rx.feed(stream(bytes((8,)) + cci_message(150))[0])
    assert rx.discard_partial() is None
    assert rx.errors == 0 and rx.in_message


def test_discard_partial_drops_the_bytes_and_the_message_in_progress():
    rx = mf.Reassembler()
    packets = stream(bytes((8,)) + cci_message(200))                 # 4 packets
    rx.feed(packets[0] + packets[1] + packets[2][:25])
    err = rx.discard_partial()
    assert isinstance(err, mf.FramingError) and isinstance(err, ProtocolError)
    assert str(err) == "truncated packet: 25 of 68 bytes arrived, then nothing; dropped"
    assert err.dropped == 25 + 2 * PKT
    assert (rx.errors, rx.buffered, rx.in_message) == (1, 0, False)
    rx2 = mf.Reassembler()
    rx2.feed(b"\x01\x02\x03")
    err = rx2.discard_partial()
    assert err.dropped == 3 and "3 of 68 bytes" in str(err)


# ------------------------------------------------------------ FramingError.dropped

def test_framing_error_is_a_protocol_error_dropping_nothing_unless_told():
    assert mf.FramingError("x").dropped == 0
    assert mf.FramingError("x", 136).dropped == 136
    assert isinstance(mf.FramingError("x"), ProtocolError)
    assert str(mf.FramingError("bad packet", 68)) == "bad packet"


@pytest.mark.parametrize("before", [0, 1, 2])
def test_a_bad_version_drops_the_packet_and_any_message_in_progress(before):
    rx = mf.Reassembler()
    packets = stream(bytes((8,)) + cci_message(300))
    bad = pkt(b"junk", version=2)
    events = rx.feed(b"".join(packets[:before]) + bad)
    ev = only(events)
    assert ev.dropped == PKT * (1 + before)
    assert str(ev) == "bad MCTP header version 2 (byte 0x02); packet dropped"
    assert not rx.in_message and rx.errors == 1


def test_a_lone_whole_cci_packet_with_a_bad_version_is_dropped_too():
    rx = mf.Reassembler()
    ev = only(rx.feed(pkt(b"\x08" + cci_message(3), version=2)))
    assert isinstance(ev, mf.FramingError)
    assert str(ev) == "bad MCTP header version 2 (byte 0x02); packet dropped"
    assert (rx.messages, rx.errors, rx.packets) == (0, 1, 1)


def test_a_reserved_bit_in_the_version_byte_is_not_a_bad_version():
    msg = cci_message(3)
    raw = bytearray(pkt(b"\x08" + msg))
    raw[0] = 0xF1
    assert only(mf.Reassembler().feed(bytes(raw))).body == msg


def test_a_new_message_mid_message_drops_the_old_ones_packets():
    rx = mf.Reassembler()
    old = stream(bytes((8,)) + cci_message(200), tag=2)               # 4 packets
    new_msg = cci_message(20)
    events = rx.feed(old[0] + old[1] + old[2] + b"".join(stream(bytes((8,)) + new_msg, tag=3)))
    assert len(events) == 2
    err, msg = events
    assert err.dropped == 3 * PKT
    assert str(err) == ("start of a new message (tag 3) before the end of the one in progress "
                        "(tag 2, 3 packets); partial message dropped")
    assert msg.body == new_msg and msg.tag == 3
    assert (rx.errors, rx.messages) == (1, 1)


def test_a_new_message_after_a_refused_one_is_not_an_error():
    rx = mf.Reassembler(max_message=100)
    big = stream(bytes((8,)) + cci_message(300))
    small = cci_message(5)
    events = rx.feed(big[0] + big[1] + b"".join(stream(bytes((8,)) + small)))
    assert [type(e) for e in events] == [mf.FramingError, mf.Message]
    assert rx.errors == 1


def test_a_packet_outside_a_message_drops_one_packet():
    ev = only(mf.Reassembler().feed(pkt(b"abc", som=False, eom=False, seq=2, tag=5)))
    assert ev.dropped == PKT
    assert str(ev) == "packet without start of message (tag 5, seq 2) outside a message; dropped"


@pytest.mark.parametrize("src,tag,owner", [(0x11, 1, 1), (SRC, 2, 1), (SRC, 1, 0)])
def test_a_packet_of_another_stream_drops_the_message_and_that_packet(src, tag, owner):
    rx = mf.Reassembler()
    packets = stream(bytes((8,)) + cci_message(200))
    foreign = pkt(b"x", som=False, eom=False, seq=2, tag=tag, owner=owner, src=src)
    ev = only(rx.feed(packets[0] + packets[1] + foreign))
    assert ev.dropped == 3 * PKT
    assert str(ev) == ("packet of another message (src 0x%02x tag %d to %d) inside the message "
                       "from 0x10 tag 1; message dropped" % (src, tag, owner))
    assert not rx.in_message


def test_a_lost_packet_drops_the_message_once_and_swallows_the_rest():
    rx = mf.Reassembler()
    packets = stream(bytes((8,)) + cci_message(250))                  # 5 packets, seq 0..3,0
    events = rx.feed(packets[0] + packets[2] + packets[3] + packets[4])
    ev = only(events)
    assert ev.dropped == 2 * PKT
    assert str(ev) == ("packet sequence number 2, expected 1 (a packet was lost or repeated); "
                       "message dropped")
    assert (rx.packets, rx.messages, rx.errors, rx.in_message) == (4, 0, 1, False)


def test_a_wrong_sequence_number_on_the_last_packet_ends_the_message():
    rx = mf.Reassembler()
    packets = stream(bytes((8,)) + cci_message(100))                  # 2 packets
    last = bytearray(packets[1])
    last[3] = (last[3] & ~0x30) | (3 << 4)
    ev = only(rx.feed(packets[0] + bytes(last)))
    assert ev.dropped == 2 * PKT and "sequence number 3, expected 1" in str(ev)
    assert not rx.in_message


def test_sequence_numbers_wrap_from_3_to_0():
    msg = cci_message(250)
    events = mf.Reassembler().feed(b"".join(stream(bytes((8,)) + msg, seq=2)))
    assert only(events).body == msg


def test_a_message_running_past_its_announced_length_is_dropped_with_its_packets():
    msg = cci_message(40)                                            # fits one packet
    first = pkt(b"\x08" + msg, eom=False)
    extra = pkt(b"more", som=False, eom=True, seq=1)
    rx = mf.Reassembler()
    ev = only(rx.feed(first + extra))
    assert ev.dropped == 2 * PKT
    assert str(ev) == "message runs on past the 52 bytes its CCI header announces; dropped"
    assert (rx.messages, rx.in_message) == (0, False)


def test_a_packet_after_a_message_that_exactly_filled_its_packets_is_running_on():
    msg = cci_message(115)                      # 1 + 127 bytes: exactly two packets
    packets = stream(bytes((8,)) + msg)
    assert len(packets) == 2
    last = bytearray(packets[1])
    last[3] &= ~0x40                            # no EOM: a third packet follows
    rx = mf.Reassembler()
    ev = only(rx.feed(packets[0] + bytes(last) + pkt(b"", som=False, eom=True, seq=2)))
    assert str(ev) == "message runs on past the 127 bytes its CCI header announces; dropped"
    assert ev.dropped == 3 * PKT
    assert rx.messages == 0 and not rx.in_message


def test_a_message_ending_before_its_announced_length_is_dropped_with_its_packets():
    body = bytes((8,)) + cci_message(200)                            # 4 packets' worth
    packets = stream(body)[:3]
    packets[2] = packets[2][:3] + bytes((packets[2][3] | 0x40,)) + packets[2][4:]   # EOM early
    rx = mf.Reassembler()
    ev = only(rx.feed(b"".join(packets)))
    assert ev.dropped == 3 * PKT
    assert str(ev) == "message ends after 191 bytes but its CCI header announces 212; dropped"
    assert (rx.messages, rx.errors, rx.in_message) == (0, 1, False)


def test_a_message_is_exactly_its_announced_length_however_it_is_padded():
    for n in (51, 52, 115, 116):             # the header fits, a packet ends, one byte past
        msg = cci_message(n)
        ev = only(mf.Reassembler().feed(b"".join(stream(bytes((7,)) + msg))))
        assert ev.body == msg and ev.msg_type == 7


# ------------------------------------------------------------ packets and messages

def test_packetize_starts_at_sequence_0_by_default():
    packets, nxt = mf.packetize(8, bytes(100), DST, SRC, 1, 1)
    assert [(p[3] >> 4) & 3 for p in packets] == [0, 1] and nxt == 2


@pytest.mark.parametrize("size,count", [(0, 1), (63, 1), (64, 2), (127, 2), (128, 3)])
def test_packetize_uses_as_few_packets_as_the_body_needs(size, count):
    body = b"\x7e" + bytes(range(1, 1 + size))
    packets, nxt = mf.packetize(0x7E, body[1:], DST, SRC, 2, 1, seq=3)
    assert len(packets) == count and nxt == (3 + count) & 3
    assert packets == stream(body, seq=3, tag=2, owner=1)


def test_packet_header_fields_decode_and_print():
    hdr = mf.PacketHeader(bytes((0xF1, 0x08, 0x10, 0x80 | 0x40 | 0x30 | 0x08 | 0x05)))
    assert (hdr.version, hdr.dst, hdr.src, hdr.som, hdr.eom, hdr.seq, hdr.tag_owner,
            hdr.tag) == (1, 8, 0x10, True, True, 3, 1, 5)
    assert repr(hdr) == "PacketHeader(v=1 dst=0x08 src=0x10 SOM EOM seq=3 to=1 tag=5)"
    mid = mf.PacketHeader(bytes((1, 0, 0xFF, 0x10)))
    assert (mid.som, mid.eom, mid.seq, mid.tag_owner, mid.tag) == (False, False, 1, 0, 0)
    assert repr(mid) == "PacketHeader(v=1 dst=0x00 src=0xff seq=1 to=0 tag=0)"


def test_messages_compare_by_every_field():
    a = mf.Message(8, b"abc", 0x10, 0x08, 3, 1)
    assert a == mf.Message(8, b"abc", 0x10, 0x08, 3, 1)
    for i, other in enumerate([(7, b"abc", 0x10, 8, 3, 1), (8, b"abd", 0x10, 8, 3, 1),
                               (8, b"abc", 0x11, 8, 3, 1), (8, b"abc", 0x10, 9, 3, 1),
                               (8, b"abc", 0x10, 8, 4, 1), (8, b"abc", 0x10, 8, 3, 0)]):
        assert a != mf.Message(*other), i
    assert a != (8, b"abc", 0x10, 0x08, 3, 1)
    assert a.__eq__("x") is NotImplemented
    assert repr(a) == "Message(type=0x08, 3 bytes, src=0x10, dst=0x08, tag=3, to=1)"


def test_a_reassembled_message_carries_its_packets_addresses_and_tag():
    msg = cci_message(70)
    body = bytes((7,)) + msg
    ev = only(mf.Reassembler().feed(b"".join(stream(body, tag=6, owner=0, src=0x33))))
    assert ev == mf.Message(7, msg, 0x33, DST, 6, 0)


# ------------------------------------------------------------ frame(): one buffer per message

@pytest.mark.parametrize("size", [0, 63, 64, 200, 512 * 64 - 1, 512 * 64, 514 * 64 + 10])
@pytest.mark.parametrize("seq", [0, 3])
def test_frame_writes_every_packet_of_a_message_into_one_buffer(size, seq):
    message = bytes((i * 13 + 7) & 0xFF for i in range(size))
    body = b"\x08" + message
    data, nxt = mf.frame(8, message, 0x0A, 0x0B, 6, 1, seq)
    want = stream(body, seq=seq, tag=6, owner=1, src=0x0B, dst=0x0A)
    assert data == b"".join(want)
    assert nxt == (seq + len(want)) & 3


@pytest.mark.parametrize("dst,src,tag,owner", [(0, 0xFF, 0, 0), (0xFF, 0, 7, 1),
                                               (0x1FF, 0x123, 0xF, 1)])
def test_frame_puts_addresses_tag_and_owner_in_every_header(dst, src, tag, owner):
    data, nxt = mf.frame(7, bytes(150), dst, src, tag, owner)
    assert nxt == 3                                   # three packets from sequence 0
    assert data == b"".join(stream(b"\x07" + bytes(150), 0, tag & 7, owner, src & 0xFF,
                                   dst & 0xFF))
    assert data[-10:] == bytes(10)                    # the padding is zero bytes


def test_frame_pads_the_last_packet_with_zero_bytes():
    data, _ = mf.frame(0x7E, b"\xff" * 10, 1, 2, 0, 0)
    assert data[4:15] == b"\x7e" + b"\xff" * 10 and data[15:] == bytes(53)


# ------------------------------------------------------------ the reassembler's fast path

def _feed_each(rx, packets, group):
    events = []
    for i in range(0, len(packets), group):
        events += rx.feed(b"".join(packets[i:i + group]))
    return events


@pytest.mark.parametrize("group", [1, 2, 3, 5])
@pytest.mark.parametrize("seq", [0, 1, 3])
def test_a_message_fed_a_few_packets_at_a_time_comes_out_whole(group, seq):
    msg = cci_message(600)                               # 10 packets
    packets = stream(bytes((8,)) + msg, seq=seq)
    rx = mf.Reassembler()
    events = _feed_each(rx, packets, group)
    assert only(events).body == msg
    assert (rx.packets, rx.messages, rx.errors, rx.in_message) == (10, 1, 0, False)


def test_a_message_of_more_than_512_packets_fed_at_once_comes_out_whole():
    msg = cci_message(600 * 64)                          # 601 packets
    packets = stream(bytes((8,)) + msg, seq=2)
    rx = mf.Reassembler()
    assert only(rx.feed(b"".join(packets))).body == msg
    rx = mf.Reassembler()
    assert only(rx.feed(packets[0]) + rx.feed(b"".join(packets[1:]))).body == msg
    assert rx.packets == len(packets)


def test_packets_past_the_announced_end_are_refused_even_when_they_continue_cleanly():
    msg = cci_message(100)                               # needs 2 packets
    body = bytes((8,)) + msg
    clean = stream(body + bytes(100))                    # 4 packets, EOM on the 4th only
    assert len(clean) == 4
    ev = only(mf.Reassembler().feed(b"".join(clean)))
    assert str(ev) == "message runs on past the 112 bytes its CCI header announces; dropped"


def _fault(packet, fault, expected_src, first_seq):
    raw = bytearray(packet)
    if fault == "version":
        raw[0] = 2
    elif fault == "src":
        raw[2] = (expected_src + 1) & 0xFF
    elif fault == "tag":
        raw[3] ^= 0x01
    elif fault == "owner":
        raw[3] ^= 0x08
    elif fault == "seq":
        raw[3] = (raw[3] & ~0x30) | first_seq << 4      # the message's first number again
    elif fault == "eom":
        raw[3] ^= 0x40
    return bytes(raw)


FAULT_TEXT = {
    "version": "bad MCTP header version 2",
    "src": "packet of another message",
    "tag": "packet of another message",
    "owner": "packet of another message",
    "seq": "packet sequence number",
    "eom": None,                 # no end of message: it is still in progress
}

# (tag, owner, first sequence number, source): the last two carry few header bits,
# and the third one's source equals the flags byte of its second packet
MESSAGES = [(5, 1, 0, SRC), (0, 0, 0, 0x60), (0, 0, 3, 0x40)]


@pytest.mark.parametrize("fault", sorted(FAULT_TEXT))
@pytest.mark.parametrize("tag,owner,seq,src", MESSAGES)
@pytest.mark.parametrize("batch", [False, True])
def test_a_continuation_packet_with_one_wrong_header_field_is_refused(fault, tag, owner, seq,
                                                                      src, batch):
    """Whatever its payload holds: here the header it should have had, at the
    offsets a misplaced check would read."""
    msg = cci_message(115 + (64 if batch else 0))        # exactly 2 (or 3) packets
    packets = stream(bytes((8,)) + msg, seq=seq, tag=tag, owner=owner, src=src)
    last = bytearray(packets[-1])
    good = bytes(last[:4])                    # version, destination, source, flags
    last[4] = last[65] = good[3]
    last[66] = good[2]
    packets[-1] = _fault(bytes(last), fault, src, seq)
    rx = mf.Reassembler()
    assert rx.feed(packets[0]) == []
    events = rx.feed(b"".join(packets[1:]))
    assert rx.messages == 0
    if FAULT_TEXT[fault] is None:
        assert events == [] and rx.in_message
        return
    assert len(events) == 1 and isinstance(events[0], mf.FramingError), events
    assert str(events[0]).startswith(FAULT_TEXT[fault])


def test_a_packet_of_tag_0_from_another_requester_inside_a_message_is_refused():
    packets = stream(bytes((8,)) + cci_message(115), tag=5, owner=1)
    foreign = bytearray(packets[1])
    foreign[3] &= ~0x0F                                  # tag 0, tag owner 0
    rx = mf.Reassembler()
    events = rx.feed(packets[0]) + rx.feed(bytes(foreign))
    assert str(only(events)).startswith("packet of another message (src 0x10 tag 0 to 0)")


@pytest.mark.parametrize("position", range(7))
@pytest.mark.parametrize("delta", [1, 2, 3])
def test_a_wrong_sequence_number_anywhere_in_a_long_run_of_packets_is_caught(position, delta):
    packets = stream(bytes((8,)) + cci_message(450))     # 8 packets
    assert len(packets) == 8
    bad = bytearray(packets[1 + position])
    seq = (bad[3] >> 4) & 3
    bad[3] = (bad[3] & ~0x30) | ((seq + delta) & 3) << 4
    packets[1 + position] = bytes(bad)
    rx = mf.Reassembler()
    events = rx.feed(packets[0]) + rx.feed(b"".join(packets[1:]))
    assert str(only(events)).startswith(
        "packet sequence number %d, expected %d" % ((seq + delta) & 3, seq))
    assert rx.messages == 0 and not rx.in_message


def test_a_repeated_packet_in_a_long_run_is_caught_even_when_the_run_then_ends():
    packets = stream(bytes((8,)) + cci_message(450))     # p0 .. p7, sequence 0,1,2,3,0,1,2,3
    early_end = bytearray(packets[6])
    early_end[3] |= 0x40                                 # p6 carries the end of message
    run = packets[1:6] + [packets[5], bytes(early_end)]  # p5 twice, then p6
    rx = mf.Reassembler()
    events = rx.feed(packets[0]) + rx.feed(b"".join(run))
    assert str(only(events)).startswith("packet sequence number 1, expected 2")
    assert rx.messages == 0 and not rx.in_message
