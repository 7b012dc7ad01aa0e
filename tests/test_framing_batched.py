# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fast paths of MCTP-over-TCP framing change no byte and no verdict.

``mctp_framing.frame`` writes a whole message in one buffer and the
reassembler takes the packets that continue a CXL message in one step.  Both
are checked against the packet-at-a-time reference (``packetize``, and
``Reassembler._packet`` called once per packet): the same bytes on the wire,
and for any stream -- well formed, corrupted, cut anywhere -- the same
messages, the same errors with the same texts and drop counts, the same
counters.
"""

from hypothesis import HealthCheck, given, settings, strategies as st

from cxlmi_bindings import cci
from cxlmi_bindings import mctp_framing as mf


class PacketAtATime(mf.Reassembler):
    """The reference: every packet through ``_packet``, nothing batched."""

    def feed(self, data):
        events = []
        self._buf += data
        while len(self._buf) >= mf.PACKET_SIZE:
            raw = bytes(self._buf[:mf.PACKET_SIZE])
            del self._buf[:mf.PACKET_SIZE]
            self._packet(raw, events)
        return events


def cci_message(payload_len, opcode=0x0001, tag=3):
    return cci.encode(opcode, bytes((i * 7 + 1) & 0xFF for i in range(payload_len)), tag=tag)


def verdicts(events):
    out = []
    for ev in events:
        if isinstance(ev, mf.FramingError):
            out.append(("error", str(ev), ev.dropped))
        elif ev is None:
            out.append(None)
        else:
            out.append(("message", ev.msg_type, ev.body, ev.src, ev.dst, ev.tag, ev.tag_owner))
    return out


def run(rx, stream, cuts):
    events = []
    at = 0
    for cut in sorted(set(cuts)) + [len(stream)]:
        if cut > at:
            events += rx.feed(stream[at:cut])
            at = cut
    return verdicts(events), (rx.packets, rx.messages, rx.errors, rx.buffered, rx.in_message)


def test_frame_writes_the_bytes_packetize_writes_at_every_size_around_the_strided_switch():
    edge = mf.BLOCK_PACKETS * mf.BTU
    sizes = sorted({0, 1, 50, 51, 52, 63, 64, 115, 116, 4096, edge - 13, edge - 12, edge - 11,
                    edge + 51, edge + 52, 65536, 1 << 20})
    for size in sizes:
        for seq in range(4):
            msg = cci_message(size)
            for owner, tag in ((1, 0), (0, 7), (1, 5)):
                data, nxt = mf.frame(8, msg, 0x08, 0x10, tag, owner, seq)
                packets, ref_next = mf.packetize(8, msg, 0x08, 0x10, tag, owner, seq)
                assert data == b"".join(packets), (size, seq, owner, tag)
                assert nxt == ref_next


@given(st.binary(max_size=9000), st.integers(0, 3), st.integers(0, 255), st.integers(0, 255),
       st.integers(0, 7), st.booleans(), st.sampled_from([0, 7, 8, 0x7E]))
@settings(max_examples=150, deadline=None)
def test_frame_equals_packetize_for_any_message(body, seq, dst, src, tag, owner, msg_type):
    data, nxt = mf.frame(msg_type, body, dst, src, tag, owner, seq)
    packets, ref = mf.packetize(msg_type, body, dst, src, tag, owner, seq)
    assert (data, nxt) == (b"".join(packets), ref)


def test_a_large_message_is_reassembled_in_one_step_with_honest_counters():
    msg = cci_message(200_000)
    data, _ = mf.frame(8, msg, 8, 9, 2, 1, 1)
    for chunk in (len(data), 65536, 68 * 100 + 5, 4096):
        fast, ref = mf.Reassembler(mf.MAX_CXL_MESSAGE), PacketAtATime(mf.MAX_CXL_MESSAGE)
        cuts = list(range(chunk, len(data), chunk))
        got, want = run(fast, data, cuts), run(ref, data, cuts)
        assert got == want
        assert got[0] == [("message", 8, msg, 9, 8, 2, 1)]
        assert got[1] == (len(data) // 68, 1, 0, 0, False)


@st.composite
def streams(draw):
    """Several messages back to back, then maybe damaged."""
    stream = b""
    seq = draw(st.integers(0, 3))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cxl", "cxl", "control", "other"]))
        if kind == "cxl":
            body = cci_message(draw(st.integers(0, 4000)), tag=draw(st.integers(0, 255)))
            msg_type = draw(st.sampled_from([7, 8]))
        elif kind == "control":
            body, msg_type = bytes((0x80, 0x02)), 0
        else:
            body, msg_type = draw(st.binary(max_size=300)), 0x7E
        data, seq = mf.frame(msg_type, body, 8, draw(st.sampled_from([9, 9, 10])),
                             draw(st.integers(0, 7)), draw(st.booleans()), seq)
        stream += data
    stream = bytearray(stream)
    for _ in range(draw(st.integers(0, 3))):
        damage = draw(st.sampled_from(["flip", "drop", "repeat", "header"]))
        if not stream:
            break
        at = draw(st.integers(0, len(stream) - 1))
        packet = at - at % 68
        if damage == "flip":
            stream[at] ^= draw(st.integers(1, 255))
        elif damage == "header":
            stream[packet + draw(st.integers(0, 3))] ^= draw(st.integers(1, 255))
        elif damage == "drop":
            del stream[packet:packet + 68]
        else:
            stream[packet:packet] = stream[packet:packet + 68]
    cuts = draw(st.lists(st.integers(0, max(len(stream), 1)), max_size=6))
    return bytes(stream), cuts


@given(streams(), st.sampled_from([mf.DEFAULT_MAX_MESSAGE, 2000, 300]))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_batched_reassembly_reaches_the_verdicts_of_packet_at_a_time(case, max_message):
    stream, cuts = case
    assert run(mf.Reassembler(max_message), stream, cuts) == \
        run(PacketAtATime(max_message), stream, cuts)


def test_a_well_formed_message_costs_one_packet_by_packet_step(monkeypatch):
    """Only the start-of-message packet goes through ``_packet``; the rest of a
    well-formed CXL message is taken in one step, whatever the chunking."""
    msg = cci_message(20_000)
    data, _ = mf.frame(8, msg, 8, 9, 2, 1, 1)
    calls = []
    real = mf.Reassembler._packet
    monkeypatch.setattr(mf.Reassembler, "_packet",
                        lambda self, raw, out: (calls.append(raw[3]), real(self, raw, out)))
    rx = mf.Reassembler()
    events = rx.feed(data[:1000]) + rx.feed(data[1000:])
    assert [e.body for e in events] == [msg]
    assert len(calls) == 1 and calls[0] & mf.SOM


def test_a_middle_packet_from_another_source_is_refused_as_packet_at_a_time_refuses_it():
    msg = cci_message(1000)
    data = bytearray(mf.frame(8, msg, 8, 9, 2, 1, 0)[0])
    data[5 * 68 + 2] = 0x33                      # packet 5 claims another source EID
    got = run(mf.Reassembler(), bytes(data), [])
    assert got == run(PacketAtATime(), bytes(data), [])
    assert got[0][0][0] == "error" and "another message (src 0x33" in got[0][0][1]
