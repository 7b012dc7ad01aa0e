# SPDX-License-Identifier: LGPL-2.1-or-later
"""The MCTP serial binding (DSP0253) byte for byte: escaping, FCS, frame limits, the stream
decoder's recovery from damage, and packetization at the 64-byte baseline MTU.

The FCS is checked against two oracles that share no code with the module: the CRC catalogue's
check value of CRC-16/MCRF4XX (reflected 0x1021, init 0xFFFF, no final XOR), which is what
Linux's mctp-serial computes, and the standard library's ``binascii.crc_hqx`` (the unreflected
CRC-CCITT) applied to bit-reversed input.  The integration test against a real kernel
(tests/integration/test_qemu_mctp.py) is the third.
"""

import binascii
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxlmi_bindings import cci
from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings import mctp_serial as ms


def _rev8(b):
    return int("{:08b}".format(b)[::-1], 2)


def _rev16(v):
    return int("{:016b}".format(v)[::-1], 2)


def oracle_fcs(data):
    """Reflected CRC-CCITT, init 0xFFFF, no final XOR, by way of the unreflected stdlib one."""
    return _rev16(binascii.crc_hqx(bytes(_rev8(b) for b in data), 0xFFFF))


def oracle_frame(packet):
    """A frame built straight from DSP0253's layout, with the oracle's FCS."""
    stuffed = bytearray()
    for b in packet:
        stuffed += bytes((0x7D, b ^ 0x20)) if b in (0x7D, 0x7E) else bytes((b,))
    fcs = oracle_fcs(bytes((0x01, len(packet))) + bytes(packet))
    return bytes((0x7E, 0x01, len(packet))) + bytes(stuffed) + fcs.to_bytes(2, "big") + b"\x7e"


# --- FCS ------------------------------------------------------------------------------------


def test_fcs_check_value_of_the_crc_catalogue():
    assert ms.fcs16(b"123456789") == 0x6F91          # CRC-16/MCRF4XX check value


def test_fcs_matches_the_stdlib_oracle():
    rng = random.Random(7)
    for n in (0, 1, 2, 5, 68, 70):
        data = bytes(rng.randrange(256) for _ in range(n))
        assert ms.fcs16(data) == oracle_fcs(data)


def test_fcs_continues_across_calls():
    assert ms.fcs16(b"6789", ms.fcs16(b"12345")) == ms.fcs16(b"123456789")


# --- escaping and frames ----------------------------------------------------------------------


@pytest.mark.parametrize("raw, stuffed", [
    (b"\x7e", b"\x7d\x5e"),
    (b"\x7d", b"\x7d\x5d"),
    (b"\x7d\x7e", b"\x7d\x5d\x7d\x5e"),
    (b"\x7e\x7d", b"\x7d\x5e\x7d\x5d"),
    (b"\x5d\x5e\x20\x00\xff", b"\x5d\x5e\x20\x00\xff"),
    (b"", b""),
])
def test_escape(raw, stuffed):
    assert ms.escape(raw) == stuffed


def test_frame_byte_for_byte():
    # Get Endpoint ID request, EID 9 -> 8, SOM|EOM, tag owner, tag 0
    packet = bytes.fromhex("01 08 09 c8 00 80 02")
    frame = ms.encode_frame(packet)
    fcs = oracle_fcs(bytes.fromhex("01 07") + packet)
    assert frame == bytes.fromhex("7e 01 07 01 08 09 c8 00 80 02") + fcs.to_bytes(2, "big") \
        + b"\x7e"
    assert frame == oracle_frame(packet)


def test_frame_escapes_the_packet_and_checks_the_unescaped_bytes():
    packet = bytes.fromhex("01 7e 7d c8 7e 80 7d")
    frame = ms.encode_frame(packet)
    assert frame[:3] == b"\x7e\x01\x07"                 # count of the unescaped packet
    assert frame[3:14] == bytes.fromhex("01 7d5e 7d5d c8 7d5e 80 7d5d")
    fcs = oracle_fcs(b"\x01\x07" + packet)             # over unescaped bytes, MSB first
    assert frame[14:16] == fcs.to_bytes(2, "big")
    assert frame[16:] == b"\x7e"
    assert frame == oracle_frame(packet)


def test_the_fcs_itself_is_not_escaped():
    # a packet whose FCS has a 0x7E byte: Linux sends it raw, and so do we
    rng = random.Random(1)
    while True:
        packet = bytes((1, 8, 9, 0xC8)) + bytes((rng.randrange(256),))
        fcs = oracle_fcs(b"\x01\x05" + packet)
        if 0x7E in fcs.to_bytes(2, "big") and 0x7E not in packet and 0x7D not in packet:
            break
    frame = ms.encode_frame(packet)
    assert frame == b"\x7e\x01\x05" + packet + fcs.to_bytes(2, "big") + b"\x7e"
    assert ms.FrameDecoder().feed(frame) == [packet]


@pytest.mark.parametrize("size", [5, 68])
def test_smallest_and_largest_frames(size):
    packet = bytes((1, 8, 9, 0xC8)) + bytes(range(size - 4))
    frame = ms.encode_frame(packet)
    assert frame == oracle_frame(packet)
    assert ms.FrameDecoder().feed(frame) == [packet]


@pytest.mark.parametrize("size", [0, 4, 69, 255])
def test_packets_outside_the_limits_are_refused(size):
    with pytest.raises(ValueError, match="5 to 68 bytes"):
        ms.encode_frame(bytes(size))


# --- the stream decoder ------------------------------------------------------------------------


def _pkt(n, fill=0x11):
    return bytes((1, 8, 9, 0xC8)) + bytes((fill,)) * (n - 4)


def test_decoder_takes_the_stream_in_any_chunks():
    pkts = [_pkt(5), bytes.fromhex("01 7e 7d c8 7e 80 7d"), _pkt(68, 0x7E)]
    stream = b"".join(ms.encode_frame(p) for p in pkts)
    for step in (1, 2, 3, 7, len(stream)):
        dec = ms.FrameDecoder()
        got = []
        for i in range(0, len(stream), step):
            got += dec.feed(stream[i:i + step])
        assert got == pkts
        assert dec.frames == 3 and sum(dec.errors.values()) == 0 and dec.noise == 0


def test_shared_flags_idle_fill_and_noise():
    a, b = _pkt(6, 1), _pkt(7, 2)
    fa, fb = ms.encode_frame(a), ms.encode_frame(b)
    dec = ms.FrameDecoder()
    # noise before, idle flags, then two frames sharing one flag
    assert dec.feed(b"\x00\x13" + b"\x7e\x7e\x7e" + fa + fb[1:]) == [a, b]
    assert dec.noise == 2


def _errors(events):
    return [e for e in events if isinstance(e, ms.SerialFrameError)]


def test_bad_fcs_is_dropped_counted_and_the_next_frame_still_arrives():
    a, b = _pkt(9, 3), _pkt(9, 4)
    bad = bytearray(ms.encode_frame(a))
    bad[-2] ^= 0x01
    dec = ms.FrameDecoder()
    events = dec.feed(bytes(bad) + ms.encode_frame(b))
    assert [e.kind for e in _errors(events)] == ["fcs"]
    assert [e for e in events if isinstance(e, bytes)] == [b]
    assert dec.errors["fcs"] == 1 and dec.frames == 1


def test_a_flipped_packet_bit_fails_the_fcs():
    frame = bytearray(ms.encode_frame(_pkt(9, 3)))
    frame[5] ^= 0x40
    dec = ms.FrameDecoder()
    assert [e.kind for e in _errors(dec.feed(bytes(frame)))] == ["fcs"]


@pytest.mark.parametrize("escaped", [0x00, 0x7D, 0x5F, 0x7F])
def test_bad_escape_is_dropped(escaped):
    head = b"\x7e\x01\x06\x01\x08\x09\xc8\x7d" + bytes((escaped,))
    dec = ms.FrameDecoder()
    events = dec.feed(head + b"\x55\x00\x00\x7e" + ms.encode_frame(_pkt(6)))
    assert [e.kind for e in _errors(events)] == ["escape"]
    assert [e for e in events if isinstance(e, bytes)] == [_pkt(6)]


def test_escape_then_flag_drops_the_frame_and_opens_the_next():
    dec = ms.FrameDecoder()
    events = dec.feed(b"\x7e\x01\x06\x01\x7d" + ms.encode_frame(_pkt(6)))
    assert [e.kind for e in _errors(events)] == ["escape"]
    assert events[-1] == _pkt(6)


@pytest.mark.parametrize("count", [0, 1, 4, 69, 0x7D, 0xFF])
def test_counts_outside_5_to_68_are_dropped(count):
    dec = ms.FrameDecoder()
    events = dec.feed(bytes((0x7E, 0x01, count)) + bytes(count) + b"\x00\x00\x7e"
                      + ms.encode_frame(_pkt(5)))
    assert [e.kind for e in _errors(events)][:1] == ["length"]
    assert events[-1] == _pkt(5)
    assert dec.errors["length"] == 1


def test_a_frame_cut_short_by_a_flag_is_dropped_and_the_flag_opens_the_next():
    frame = ms.encode_frame(_pkt(20))
    dec = ms.FrameDecoder()
    events = dec.feed(frame[:10] + ms.encode_frame(_pkt(6)))
    assert [e.kind for e in _errors(events)] == ["truncated"]
    assert events[-1] == _pkt(6)


def test_wrong_revision_and_missing_closing_flag():
    dec = ms.FrameDecoder()
    frame = ms.encode_frame(_pkt(6))
    events = dec.feed(b"\x7e\x02" + frame[2:])
    assert [e.kind for e in _errors(events)] == ["revision"]
    events = dec.feed(frame[:-1] + b"\x00" + frame)
    assert [e.kind for e in _errors(events)] == ["unterminated"]
    assert events[-1] == _pkt(6)
    assert dec.errors == {"fcs": 0, "escape": 0, "length": 0, "revision": 1, "truncated": 0,
                          "unterminated": 1}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=10))
def test_garbage_never_raises_and_a_frame_after_it_gets_through(garbage, cuts):
    dec = ms.FrameDecoder()
    stream = garbage + b"\x7e\x7e" + ms.encode_frame(_pkt(12, 0x7D))
    at, events = 0, []
    for cut in cuts:
        events += dec.feed(stream[at:at + cut])
        at += cut
    events += dec.feed(stream[at:])
    assert all(isinstance(e, (bytes, ms.SerialFrameError)) for e in events)
    assert events[-1] == _pkt(12, 0x7D)


# --- packets and messages ------------------------------------------------------------------------


def test_packets_at_the_baseline_mtu_last_one_unpadded():
    message = bytes(range(200))          # 201 bytes with the type byte: 64 + 64 + 64 + 9
    pkts, seq = ms.packets(mf.TYPE_CCI, message, dst=9, src=8, tag=5, tag_owner=0, seq=2)
    assert [len(p) for p in pkts] == [68, 68, 68, 13]
    assert [p[3] for p in pkts] == [0x80 | 0x20 | 5, 0x30 | 5, 0x00 | 5, 0x40 | 0x10 | 5]
    assert all(p[:3] == b"\x01\x09\x08" for p in pkts)
    assert seq == (2 + 4) % 4
    assert b"".join(p[4:] for p in pkts) == bytes((mf.TYPE_CCI,)) + message


def test_one_packet_message():
    pkts, seq = ms.packets(0, b"\x80\x02", dst=8, src=9, tag=1, tag_owner=1)
    assert pkts == [bytes.fromhex("01 08 09 c9 00 80 02")] and seq == 1


def test_a_multi_packet_cci_message_round_trips():
    request = cci.encode(0x0401, bytes(range(256)) * 2, tag=3)      # Get Log, 524 bytes
    data, _ = ms.encode_message(mf.TYPE_CCI, request, dst=8, src=9, tag=6, tag_owner=1)
    dec, reasm = ms.FrameDecoder(), ms.PacketReassembler()
    messages = []
    for i in range(0, len(data), 13):
        for packet in dec.feed(data[i:i + 13]):
            messages += reasm.feed(packet)
    assert messages == [mf.Message(mf.TYPE_CCI, request, 9, 8, 6, 1)]


def test_control_messages_lose_no_bytes_and_gain_none():
    pkts, _ = ms.packets(0, b"\x80\x05", dst=8, src=9, tag=0, tag_owner=1)
    (msg,) = ms.PacketReassembler().feed(pkts[0])
    assert msg.msg_type == 0 and msg.body == b"\x80\x05"


def test_a_short_packet_inside_a_message_costs_the_message():
    request = cci.encode(0x0401, bytes(300), tag=3)
    pkts, _ = ms.packets(mf.TYPE_CCI, request, dst=8, src=9, tag=6, tag_owner=1)
    reasm = ms.PacketReassembler()
    assert reasm.feed(pkts[0]) == []
    events = reasm.feed(pkts[1][:40])
    assert len(events) == 1 and "before the end of its message" in str(events[0])
    # the rest of that message is not taken as a message
    got = [ev for p in pkts[2:] for ev in reasm.feed(p)]
    assert not any(isinstance(ev, mf.Message) for ev in got)
    # the next one is
    (msg,) = [ev for p in ms.packets(mf.TYPE_CCI, request, 8, 9, 7, 1)[0]
              for ev in reasm.feed(p)]
    assert msg.body == request and msg.tag == 7


def test_a_lost_packet_is_caught_by_the_sequence_number():
    request = cci.encode(0x0401, bytes(300), tag=3)
    pkts, _ = ms.packets(mf.TYPE_CCI, request, dst=8, src=9, tag=6, tag_owner=1)
    reasm = ms.PacketReassembler()
    events = [ev for p in pkts[:1] + pkts[2:] for ev in reasm.feed(p)]
    assert not any(isinstance(ev, mf.Message) for ev in events)
    assert any("sequence" in str(ev) for ev in events)


def test_interleaved_messages_of_two_requesters_are_kept_apart():
    # two processes behind one kernel: same source EID, different tags, packets interleaved
    a = cci.encode(0x0401, bytes([0xAA]) * 150, tag=1)
    b = cci.encode(0x0401, bytes([0xBB]) * 150, tag=2)
    pa, _ = ms.packets(mf.TYPE_CCI, a, dst=8, src=9, tag=1, tag_owner=1)
    pb, _ = ms.packets(mf.TYPE_CCI, b, dst=8, src=9, tag=2, tag_owner=1, seq=3)
    reasm = ms.PacketReassembler()
    events = []
    for x, y in zip(pa, pb):
        events += reasm.feed(x) + reasm.feed(y)
    assert events == [mf.Message(mf.TYPE_CCI, a, 9, 8, 1, 1),
                      mf.Message(mf.TYPE_CCI, b, 9, 8, 2, 1)]
    assert reasm.errors == 0 and reasm.messages == 2


def test_a_middle_packet_without_its_start_is_dropped():
    pkts, _ = ms.packets(mf.TYPE_CCI, cci.encode(0x0401, bytes(150)), 8, 9, 1, 1)
    reasm = ms.PacketReassembler()
    (err,) = reasm.feed(pkts[1])
    assert "without start of message" in str(err) and reasm.errors == 1


def test_the_oldest_message_in_progress_goes_first_when_too_many_are_open():
    request = cci.encode(0x0401, bytes(150))
    reasm = ms.PacketReassembler()
    firsts = [ms.packets(mf.TYPE_CCI, request, 8, src, 1, 1)[0] for src in range(1, 66)]
    for pkts in firsts[:64]:
        assert reasm.feed(pkts[0]) == []
    (err,) = reasm.feed(firsts[64][0])                 # the 65th: src 0x01 makes room
    assert "from src 0x01 tag 1 dropped" in str(err)
    # the newest is still being reassembled, the oldest is not
    (msg,) = [ev for p in firsts[64][1:] for ev in reasm.feed(p)]
    assert msg.src == 65 and msg.body == request
    assert "without start of message" in str(reasm.feed(firsts[0][1])[0])


def test_an_escape_followed_by_0x20_is_not_taken_for_a_zero_byte():
    frame = ms.encode_frame(_pkt(6, fill=0x00))
    stuffed = frame[:5] + b"\x7d\x20" + frame[6:]        # one packet byte 0x00 as 7d 20
    assert [e.kind for e in _errors(ms.FrameDecoder().feed(stuffed))] == ["escape"]


def test_a_dropped_frame_counts_every_stream_byte_it_cost():
    frame = bytearray(ms.encode_frame(_pkt(6)))
    frame[-2] ^= 0xFF
    dec = ms.FrameDecoder()
    (err,) = dec.feed(bytes(frame))
    assert err.kind == "fcs" and err.dropped == len(frame)
