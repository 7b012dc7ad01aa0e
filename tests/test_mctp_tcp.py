# SPDX-License-Identifier: LGPL-2.1-or-later
"""MCTP over TCP: the framing, the client transport and the emulator's server,
over real loopback sockets."""

import logging
import os
import socket
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cxlmi_bindings import cci
from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings.emulator.server import Server
from cxlmi_bindings.errors import (CommandTimeout, DeviceError, DeviceNotFound, ProtocolError,
                                   TransportError)
from cxlmi_bindings.targets import parse
from cxlmi_bindings.transports import open_transport
from cxlmi_bindings.transports.mctp_tcp import MctpTcpTransport

PKT = mf.PACKET_SIZE


def cci_request(opcode, payload=b"", tag=0):
    return cci.encode(opcode, payload, tag=tag)


def reply_payload(message, tag, opcode):
    """The checked reply's payload bytes (check_response returns it last)."""
    return bytes(cci.check_response(message, tag, opcode)[-1])


def feed_all(rx, data, chunk=None):
    events = []
    if chunk is None:
        events += rx.feed(data)
    else:
        for i in range(0, len(data), chunk):
            events += rx.feed(data[i:i + chunk])
    return events


# --- framing: packets -------------------------------------------------------------

def test_a_small_message_is_one_packet_with_every_header_field_in_place():
    msg = cci_request(0x0001, tag=3)
    packets, nxt = mf.packetize(8, msg, dst=0x08, src=0x10, tag=5, tag_owner=1, seq=2)
    assert len(packets) == 1 and nxt == 3
    pkt = packets[0]
    assert len(pkt) == 68
    assert pkt[0] == 0x01 and pkt[1] == 0x08 and pkt[2] == 0x10
    assert pkt[3] == 0x80 | 0x40 | (2 << 4) | 0x08 | 5
    assert pkt[4] == 8 and pkt[5:5 + len(msg)] == msg
    assert pkt[5 + len(msg):] == bytes(63 - len(msg))


def test_a_long_message_spans_packets_with_som_first_eom_last_and_sequence_mod_4():
    msg = cci_request(0x0002, bytes(range(200)))          # 1 + 212 bytes -> 4 packets
    packets, nxt = mf.packetize(7, msg, 9, 8, 1, 0, seq=3)
    assert len(packets) == 4 and nxt == 3
    flags = [p[3] for p in packets]
    assert [bool(f & 0x80) for f in flags] == [True, False, False, False]
    assert [bool(f & 0x40) for f in flags] == [False, False, False, True]
    assert [(f >> 4) & 3 for f in flags] == [3, 0, 1, 2]
    assert all(f & 0x08 == 0 and f & 7 == 1 for f in flags)
    body = b"".join(p[4:] for p in packets)
    assert body[0] == 7 and body[1:1 + len(msg)] == msg
    assert body[1 + len(msg):] == bytes(len(body) - 1 - len(msg))


def test_reassembly_trims_the_padding_by_the_cci_length():
    msg = cci_request(0x0002, b"\xAA" * 100, tag=9)
    packets, _ = mf.packetize(8, msg, 8, 0x10, 4, 1)
    events = feed_all(mf.Reassembler(), b"".join(packets), chunk=7)
    assert events == [mf.Message(8, msg, 0x10, 8, 4, 1)]


def test_a_response_category_in_the_high_nibble_passes_through_untouched():
    rsp = bytearray(cci.encode(0x0001, bytes(18), tag=2, category=1))
    rsp[0] = 0x10                                          # as a peer in the wild writes it
    packets, _ = mf.packetize(8, bytes(rsp), 0x10, 8, 0, 0)
    (ev,) = mf.Reassembler().feed(b"".join(packets))
    assert ev.body == bytes(rsp)
    assert cci.decode_header(ev.body).category == 1
    assert len(reply_payload(ev.body, 2, 0x0001)) == 18


def test_control_messages_are_trimmed_only_where_the_layout_is_known():
    get_eid_rsp = bytes((0x05, mf.CTRL_GET_ENDPOINT_ID, 0, 8, 0, 0))
    unknown = bytes((0x80 | 3, 0x42, 1, 2, 3))
    for body, want in ((get_eid_rsp, get_eid_rsp), (unknown, unknown + bytes(63 - 5))):
        packets, _ = mf.packetize(0, body, 8, 9, 0, 1)
        (ev,) = mf.Reassembler().feed(packets[0])
        assert ev.msg_type == 0 and ev.body == want


def test_sequence_numbers_may_carry_on_across_messages():
    stream, seq = b"", 0
    msgs = [cci_request(i, bytes(i * 30)) for i in range(1, 5)]
    for i, m in enumerate(msgs):
        packets, seq = mf.packetize(8, m, 8, 9, i, 1, seq)
        stream += b"".join(packets)
    assert [e.body for e in mf.Reassembler().feed(stream)] == msgs


# --- framing: what is reported ------------------------------------------------------

def packets_of(opcode=1, size=150, tag=1, seq=0, msg_type=8):
    packets, _ = mf.packetize(msg_type, cci_request(opcode, bytes(size)), 8, 9, tag, 1, seq)
    return [bytearray(p) for p in packets]


def kinds(events):
    return ["msg" if isinstance(e, mf.Message) else "err" for e in events]


def test_a_bad_header_version_drops_the_packet_and_the_next_message_still_arrives():
    garbage = bytes([0xEE]) + bytes(range(67))
    good = b"".join(packets_of())
    rx = mf.Reassembler()
    events = rx.feed(garbage + good)
    assert kinds(events) == ["err", "msg"]
    assert "header version" in str(events[0]) and isinstance(events[0], ProtocolError)


def test_a_middle_packet_without_som_is_reported():
    p = packets_of()
    events = mf.Reassembler().feed(bytes(p[1]))
    assert kinds(events) == ["err"] and "without start of message" in str(events[0])


def test_a_new_som_mid_message_drops_the_old_message_and_keeps_the_new_one():
    a, b = packets_of(tag=1), packets_of(opcode=2, size=10, tag=2, seq=2)
    events = mf.Reassembler().feed(bytes(a[0] + a[1]) + b"".join(bytes(x) for x in b))
    assert kinds(events) == ["err", "msg"]
    assert "before the end" in str(events[0]) and events[1].tag == 2


def test_a_bad_sequence_number_drops_the_message_once_and_quietly_swallows_its_rest():
    p = packets_of(size=250)                               # 5 packets
    p[2][3] ^= 0x10                                        # corrupt packet 3's sequence
    events = mf.Reassembler().feed(b"".join(bytes(x) for x in p) + b"".join(
        bytes(x) for x in packets_of(tag=3)))
    assert kinds(events) == ["err", "msg"]
    assert "sequence number" in str(events[0]) and events[1].tag == 3


def test_an_oversize_message_is_refused_from_its_header():
    p = packets_of(size=2000)
    rx = mf.Reassembler(max_message=1000)
    events = rx.feed(b"".join(bytes(x) for x in p) + b"".join(bytes(x) for x in packets_of()))
    assert kinds(events) == ["err", "msg"] and "more than the 1000" in str(events[0])


def test_an_oversize_message_of_unknown_length_is_refused_as_it_grows():
    packets, _ = mf.packetize(0x7E, bytes(5000), 8, 9, 0, 1)
    events = mf.Reassembler(max_message=1000).feed(b"".join(packets))
    assert kinds(events) == ["err"] and "exceeds" in str(events[0])


def test_a_message_that_ends_before_its_announced_length_is_reported():
    p = packets_of(size=200)
    last = bytearray(p[1])
    last[3] |= 0x40                                        # EOM on packet 2 of 4
    events = mf.Reassembler().feed(bytes(p[0]) + bytes(last))
    assert kinds(events) == ["err"] and "announces" in str(events[0])


def test_a_message_that_runs_past_its_announced_length_is_reported():
    p = packets_of(size=10)                                # one packet is enough
    first = bytearray(p[0])
    first[3] &= ~0x40
    extra = mf.pack_header(8, 9, False, True, 1, True, 1) + bytes(64)
    events = mf.Reassembler().feed(bytes(first) + extra)
    assert kinds(events) == ["err"] and "runs on past" in str(events[0])


def test_a_packet_of_another_tag_inside_a_message_is_reported():
    p = packets_of(size=200)
    p[1][3] = (p[1][3] & ~7) | 6
    events = mf.Reassembler().feed(b"".join(bytes(x) for x in p))
    assert kinds(events)[0] == "err" and "another message" in str(events[0])


def test_a_truncated_packet_can_be_discarded_so_the_stream_realigns():
    rx = mf.Reassembler()
    assert rx.feed(bytes(packets_of()[0][:30])) == []
    assert rx.buffered == 30
    err = rx.discard_partial()
    assert isinstance(err, mf.FramingError) and "truncated" in str(err)
    assert rx.discard_partial() is None
    assert kinds(rx.feed(b"".join(bytes(x) for x in packets_of(size=5)))) == ["msg"]


# --- framing: properties ------------------------------------------------------------

def chunked(data, cuts):
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points + [len(data)]:
        out.append(data[last:p])
        last = p
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msgs=st.lists(st.tuples(st.sampled_from([7, 8]), st.integers(0, 0xFFFF),
                               st.binary(max_size=700), st.integers(0, 7), st.integers(0, 1)),
                     min_size=1, max_size=4),
       seq=st.integers(0, 3), src=st.integers(0, 255), dst=st.integers(0, 255),
       cuts=st.lists(st.integers(0, 10 ** 6), max_size=20))
def test_packetize_then_reassemble_round_trips_at_any_chunking(msgs, seq, src, dst, cuts):
    stream, want = b"", []
    for msg_type, opcode, payload, tag, owner in msgs:
        message = cci.encode(opcode, payload, tag=tag, category=owner ^ 1)
        packets, seq = mf.packetize(msg_type, message, dst, src, tag, owner, seq)
        assert all(len(p) == PKT for p in packets)
        stream += b"".join(packets)
        want.append(mf.Message(msg_type, message, src, dst, tag, owner))
    rx = mf.Reassembler()
    got = []
    for piece in chunked(stream, cuts):
        got += rx.feed(piece)
    assert got == want
    assert rx.buffered == 0 and not rx.in_message


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=3000), cuts=st.lists(st.integers(0, 10 ** 6), max_size=10))
def test_random_bytes_never_escape_as_anything_but_the_librarys_error(data, cuts):
    rx = mf.Reassembler(max_message=2000)
    for piece in chunked(data, cuts):
        for ev in rx.feed(piece):
            assert isinstance(ev, (mf.Message, mf.FramingError))
            if isinstance(ev, mf.FramingError):
                assert isinstance(ev, ProtocolError)
    rx.discard_partial()


packet_header = st.builds(lambda flags, dst, src: bytes((1, dst, src, flags)),
                          st.integers(0, 255), st.integers(0, 255), st.integers(0, 255))


@settings(max_examples=300, deadline=None)
@given(junk=st.lists(st.tuples(packet_header, st.binary(min_size=64, max_size=64)), max_size=8),
       payload=st.binary(max_size=300))
def test_whatever_well_versioned_junk_comes_first_a_good_message_still_comes_out_last(junk,
                                                                                  payload):
    rx = mf.Reassembler(max_message=4000)
    stream = b"".join(h + p for h, p in junk)
    message = cci.encode(0x4200, payload, tag=1)
    packets, _ = mf.packetize(8, message, 8, 9, 2, 1, seq=1)
    events = rx.feed(stream + b"".join(packets))
    assert all(isinstance(e, (mf.Message, mf.FramingError)) for e in events)
    assert events and events[-1] == mf.Message(8, message, 9, 8, 2, 1)


# --- server and client over loopback ------------------------------------------------

class FakeDevice:
    """A tiny handler: 0x0001 answers 18 bytes, 0x0002 echoes, 0x0003 raises,
    0x0004 counts calls (state that outlives connections)."""

    def __init__(self):
        self.count = 0
        self.calls = 0

    def __call__(self, msg_type, message):
        self.calls += 1
        hdr = cci.decode_header(message)
        if hdr.opcode == 0x0001:
            payload = bytes(range(18))
        elif hdr.opcode == 0x0002:
            payload = message[cci.HEADER_SIZE:]
        elif hdr.opcode == 0x0003:
            raise RuntimeError("device model bug")
        elif hdr.opcode == 0x0004:
            self.count += 1
            payload = self.count.to_bytes(4, "little")
        else:
            return cci.encode(hdr.opcode, b"", tag=hdr.tag, category=1, return_code=3)
        return cci.encode(hdr.opcode, payload, tag=hdr.tag, category=1)


@pytest.fixture
def device():
    return FakeDevice()


@pytest.fixture
def server(device):
    srv = Server(device, host="127.0.0.1", port=0, partial_timeout=0.1)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def client(server):
    host, port = server.address
    t = MctpTcpTransport(host, port, timeout=3)
    yield t
    t.close()


def call(transport, opcode, payload=b"", msg_type=8, tag=0x21):
    rsp = transport.send(cci_request(opcode, payload, tag), msg_type, 3)
    return reply_payload(rsp, tag, opcode)


class Raw:
    """A hand-driven client: exact bytes on the wire, replies reassembled."""

    def __init__(self, address):
        self.sock = socket.create_connection(address, timeout=3)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rx = mf.Reassembler()
        self.seq = 0

    def packets(self, message, msg_type=8, tag=1):
        packets, self.seq = mf.packetize(msg_type, message, 8, 0x20, tag, 1, self.seq)
        return packets

    def write(self, *chunks):
        for c in chunks:
            self.sock.sendall(bytes(c))

    def read(self, timeout=3):
        self.sock.settimeout(timeout)
        while True:
            data = self.sock.recv(65536)
            assert data, "server closed the connection"
            for ev in self.rx.feed(data):
                assert isinstance(ev, mf.Message), ev
                return ev

    def request(self, opcode, payload=b"", msg_type=8, tag=1):
        self.write(*self.packets(cci_request(opcode, payload, tag=0x33), msg_type, tag))
        ev = self.read()
        assert ev.tag == tag and ev.tag_owner == 0 and ev.msg_type == msg_type
        return reply_payload(ev.body, 0x33, opcode)

    def close(self):
        self.sock.close()


@pytest.fixture
def raw(server):
    r = Raw(server.address)
    yield r
    r.close()


def test_a_single_packet_request_gets_its_answer(client):
    assert call(client, 0x0001) == bytes(range(18))


@pytest.mark.parametrize("msg_type", [7, 8])
def test_multi_packet_request_and_response_both_ways(client, msg_type):
    payload = bytes((i * 7) & 0xFF for i in range(5000))
    assert call(client, 0x0002, payload, msg_type) == payload
    assert call(client, 0x0001) == bytes(range(18))


def test_the_tcp_target_string_opens_this_transport(server):
    backend, kwargs = parse("tcp:127.0.0.1:%d" % server.address[1])
    with open_transport(backend, **kwargs) as t:
        assert isinstance(t, MctpTcpTransport) and call(t, 0x0001) == bytes(range(18))
        assert "127.0.0.1" in t.describe()


def test_two_concurrent_clients_each_get_their_own_answers(server):
    results, errors = {}, []

    def worker(n):
        try:
            with MctpTcpTransport(*server.address, timeout=5) as t:
                for i in range(40):
                    payload = bytes([n, i]) * (1 + (i * 37) % 90)
                    assert call(t, 0x0002, payload, tag=i & 0xFF) == payload
                results[n] = True
        except Exception as exc:       # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in (1, 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(20)
    assert not errors and results == {1: True, 2: True}


def test_device_state_outlives_connections(server):
    with MctpTcpTransport(*server.address) as a:
        assert call(a, 0x0004) == (1).to_bytes(4, "little")
    with MctpTcpTransport(*server.address) as b:
        assert call(b, 0x0004) == (2).to_bytes(4, "little")


def test_a_garbage_packet_is_logged_and_the_next_request_is_answered(server, raw, caplog):
    caplog.set_level(logging.WARNING, logger="cxlmi.emulator")
    raw.write(bytes([0xEE]) * PKT)
    assert raw.request(0x0001) == bytes(range(18))
    assert any("header version" in r.getMessage() for r in caplog.records)
    assert server.stats["framing_errors"] >= 1


def test_a_truncated_packet_is_dropped_when_the_client_goes_quiet(server, raw):
    raw.write(raw.packets(cci_request(0x0001))[0][:30])
    time.sleep(0.35)
    assert raw.request(0x0001) == bytes(range(18))
    assert server.stats["framing_errors"] >= 1


def test_a_bad_sequence_number_costs_only_that_message(server, raw):
    bad = [bytearray(p) for p in raw.packets(cci_request(0x0002, bytes(300)), tag=4)]
    bad[2][3] ^= 0x20
    raw.write(*bad)
    assert raw.request(0x0002, b"ok", tag=5) == b"ok"
    assert server.stats["framing_errors"] >= 1


def test_a_new_message_mid_message_is_answered(server, raw):
    partial = raw.packets(cci_request(0x0002, bytes(300)), tag=6)[:2]
    raw.write(*partial)
    assert raw.request(0x0001, tag=7) == bytes(range(18))


def test_a_disconnect_mid_message_leaves_the_server_serving(server, client, device):
    r = Raw(server.address)
    r.write(*r.packets(cci_request(0x0002, bytes(400)))[:3])
    r.close()
    r = Raw(server.address)
    r.write(r.packets(cci_request(0x0001))[0][:41])
    r.close()
    assert call(client, 0x0001) == bytes(range(18))
    assert device.calls == 1


def test_a_handler_that_raises_answers_internal_and_keeps_serving(client):
    with pytest.raises(DeviceError) as info:
        call(client, 0x0003)
    assert info.value.name == "INTERNAL"
    assert call(client, 0x0001) == bytes(range(18))


def test_an_unserved_message_type_gets_no_answer_and_the_next_one_does(raw):
    raw.write(*raw.packets(cci_request(0x0001), msg_type=0x05, tag=2))
    assert raw.request(0x0001, tag=3) == bytes(range(18))


# --- MCTP control ------------------------------------------------------------------------

def test_get_endpoint_id_is_answered(client):
    assert client.get_endpoint_id() == (8, 0, 0)


def test_get_message_type_support_lists_fm_api_and_cci(client):
    assert client.get_message_types() == [7, 8]


def test_get_version_support_answers_bcd_versions_and_refuses_unknown_types(client):
    cc, data = client.control(mf.CTRL_GET_VERSION_SUPPORT, b"\xff")
    assert cc == 0 and data == b"\x01\xf1\xf3\xf1\x00"
    cc, data = client.control(mf.CTRL_GET_VERSION_SUPPORT, b"\x08")
    assert cc == 0 and data[0] == 1 and data[1] == 0xF1
    cc, _ = client.control(mf.CTRL_GET_VERSION_SUPPORT, b"\x05")
    assert cc == mf.CC_VERSION_TYPE_UNSUPPORTED


def test_set_endpoint_id_sticks_for_every_later_connection(server, client):
    cc, data = client.control(mf.CTRL_SET_ENDPOINT_ID, b"\x00\x2a")
    assert cc == 0 and data == b"\x00\x2a\x00"
    assert client.control(mf.CTRL_SET_ENDPOINT_ID, b"\x00\xff") == (mf.CC_INVALID_DATA, b"")
    assert client.control(mf.CTRL_SET_ENDPOINT_ID, b"\x02\x09") == (mf.CC_INVALID_DATA, b"")
    with MctpTcpTransport(*server.address, eid=0x2A) as other:
        assert other.get_endpoint_id()[0] == 0x2A
        assert call(other, 0x0001) == bytes(range(18))


def test_an_unknown_control_command_gets_unsupported(client):
    assert client.control(0x0E) == (mf.CC_UNSUPPORTED_CMD, b"")


def test_a_control_datagram_gets_no_answer(raw):
    raw.write(*raw.packets(bytes((0x80 | 0x40 | 1, mf.CTRL_GET_ENDPOINT_ID)), 0, tag=1))
    assert raw.request(0x0001, tag=2) == bytes(range(18))


# --- client failures ----------------------------------------------------------------------

class FakePeer:
    """A listening socket whose behaviour per connection is ``script(conn)``."""

    def __init__(self, script):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.address = self.sock.getsockname()
        self.script = script
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self.script(conn)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def messages(conn):
    """The messages arriving on a fake peer's connection in 68-byte packets, until EOF."""
    rx = mf.Reassembler()
    while True:
        data = conn.recv(65536)
        if not data:
            return
        yield from rx.feed(data)


def read_message(conn):
    rx = mf.Reassembler()
    while True:
        data = conn.recv(4096)
        if not data:
            return None
        for ev in rx.feed(data):
            return ev


def answer_one(conn, msg_type=8):
    """Read one request and answer it with the one payload byte 01h, in MCTP
    message type ``msg_type``."""
    req = read_message(conn)
    hdr = cci.decode_header(req.body)
    answer = cci.encode(hdr.opcode, b"\x01", tag=hdr.tag, category=1)
    conn.sendall(b"".join(mf.packetize(msg_type, answer, req.src, 8, req.tag, 0)[0]))


def test_a_silent_peer_times_out_and_the_connection_is_dropped():
    def silent(conn):
        while conn.recv(4096):
            pass

    peer = FakePeer(silent)
    try:
        t = MctpTcpTransport(*peer.address)
        start = time.monotonic()
        with pytest.raises(CommandTimeout) as info:
            t.send(cci_request(1), 8, 0.3)
        assert 0.25 < time.monotonic() - start < 2
        assert info.value.exit_code == 5 and not t.connected
        t.close()
    finally:
        peer.close()


def test_a_peer_that_stops_reading_times_out_the_send_and_the_connection_is_dropped(
        monkeypatch):
    # The peer accepts and then reads nothing.  With small socket buffers on both
    # ends a 1 MiB request cannot all be written; SO_SNDTIMEO (the transport's
    # timeout) ends the write instead of leaving the caller blocked for ever.
    stop = threading.Event()
    peer = FakePeer(lambda conn: stop.wait(10))
    connect = socket.create_connection

    def small_buffers(*args, **kwargs):
        sock = connect(*args, **kwargs)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        return sock
    monkeypatch.setattr(socket, "create_connection", small_buffers)
    peer.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # accepted ones inherit
    outcome = {}

    def request():
        t = MctpTcpTransport(*peer.address, timeout=0.5, transmission_unit=64)
        start = time.monotonic()
        try:
            t.send(cci.encode(0x0001, bytes(1 << 20), tag=1), 8)
        except Exception as exc:             # noqa: BLE001 (examined below)
            outcome["error"] = exc
        outcome["took"] = time.monotonic() - start
        outcome["connected"] = t.connected
        t.close()

    worker = threading.Thread(target=request, daemon=True)
    try:
        worker.start()
        worker.join(10)
        assert not worker.is_alive(), "the write blocked past the transport's timeout"
    finally:
        stop.set()
        peer.close()
    err = outcome["error"]
    assert isinstance(err, CommandTimeout), repr(err)
    assert "the peer took no bytes for 0.5s" in str(err)
    assert err.exit_code == 5
    assert 0.4 < outcome["took"] < 5 and not outcome["connected"]


def test_connection_refused_names_the_emulator_command():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(DeviceNotFound) as info:
        MctpTcpTransport("127.0.0.1", port)
    assert "cxl-mi emulate --listen 127.0.0.1:%d" % port in info.value.hint


def test_a_peer_that_hangs_up_instead_of_answering_is_a_transport_error():
    peer = FakePeer(lambda conn: read_message(conn))
    try:
        t = MctpTcpTransport(*peer.address)
        with pytest.raises(TransportError, match="closed the connection"):
            t.send(cci_request(1), 8, 2)
    finally:
        peer.close()


def test_the_client_reconnects_once_when_the_connection_dropped_between_requests(server,
                                                                                 client):
    assert call(client, 0x0001) == bytes(range(18))
    server._shutdown_clients()               # as if the emulator had restarted
    time.sleep(0.1)
    assert call(client, 0x0001) == bytes(range(18))
    assert client.reconnects == 1


def test_stale_and_foreign_messages_are_dropped_while_waiting_for_the_reply():
    def chatty(conn):
        seq = 0
        for req in messages(conn):
            hdr = cci.decode_header(req.body)
            out = []
            # another tag, then the request's tag with the owner bit (a message the
            # peer originates), then the reply: each with its own payload
            for tag, owner, payload in (((req.tag + 3) & 7, 0, b"\x0b"), (req.tag, 1, b"\x0c"),
                                        (req.tag, 0, b"\x01\x02")):
                answer = cci.encode(hdr.opcode, payload, tag=hdr.tag, category=1)
                packets, seq = mf.packetize(8, answer, req.src, 8, tag, owner, seq)
                out += packets
            for p in out:
                conn.sendall(p)

    peer = FakePeer(chatty)
    try:
        with MctpTcpTransport(*peer.address, transmission_unit=64) as t:
            for _ in range(3):
                assert call(t, 0x0001) == b"\x01\x02"
    finally:
        peer.close()


def test_a_malformed_reply_is_a_protocol_error_and_the_next_request_reconnects():
    state = {"n": 0}

    def sloppy(conn):
        while True:
            req = read_message(conn)
            if req is None:
                return
            state["n"] += 1
            if state["n"] == 1:
                conn.sendall(bytes([0x07]) * PKT)
                continue
            hdr = cci.decode_header(req.body)
            rsp = bytearray(cci.encode(hdr.opcode, b"\x09", tag=hdr.tag, category=1))
            rsp[0] = 0x10                            # category in the high nibble
            for p in mf.packetize(8, bytes(rsp), req.src, 8, req.tag, 0)[0]:
                conn.sendall(p)

    peer = FakePeer(sloppy)
    try:
        with MctpTcpTransport(*peer.address, transmission_unit=64) as t:
            with pytest.raises(ProtocolError, match="malformed"):
                call(t, 0x0001)
            assert not t.connected
            assert call(t, 0x0001) == b"\x09"
    finally:
        peer.close()


def test_an_emulated_device_answers_through_the_library_over_tcp():
    from cxlmi_bindings import Context
    from cxlmi_bindings.emulator import profiles

    device = profiles.build("type3")
    with Server(device, port=0) as srv:
        assert srv.device is device
        with Context() as ctx:
            ep = ctx.open("tcp:127.0.0.1:%d" % srv.address[1])
            assert ep.identify().component_type == 0x03


def test_threads_sharing_one_endpoint_take_turns():
    # four threads on one tcp: endpoint interleaved their requests on the one
    # connection: timeouts, another request's tag, a raw OSError or AttributeError
    from cxlmi_bindings import Context
    from cxlmi_bindings.emulator import profiles

    results = []
    with Server(profiles.build("type3"), port=0) as srv, Context() as ctx:
        ep = ctx.open("tcp:127.0.0.1:%d" % srv.address[1])

        def work():
            for i in range(50):
                try:
                    if i % 2:
                        results.append(("type", ep.identify().component_type))
                    else:
                        results.append(("health", ep.call("memdev_get_health_info")
                                        .media_status))
                except Exception as exc:        # noqa: BLE001 -- every failure is counted
                    results.append(exc)
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert [r for r in results if isinstance(r, Exception)] == []
    assert sorted(set(results)) == [("health", 0), ("type", 0x03)] and len(results) == 200


def test_stop_closes_clients_and_frees_the_port(device):
    srv = Server(device, port=0)
    host, port = srv.start()
    t = MctpTcpTransport(host, port, timeout=2)
    assert call(t, 0x0001) == bytes(range(18))
    srv.stop()
    with pytest.raises(TransportError):
        call(t, 0x0001)
    t.close()
    again = Server(device, port=port)
    assert again.start() == (host, port)
    again.stop()


# --- the peer resets the connection: while we wait, while we send --------------------------

def test_a_peer_resetting_the_connection_after_the_request_is_exit_3_econnreset():
    import errno
    import struct

    def reset(conn):
        read_message(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    peer = FakePeer(reset)
    try:
        t = MctpTcpTransport(*peer.address, transmission_unit=64)
        with pytest.raises(TransportError) as info:
            t.send(cci_request(1), 8, 3)
        err = info.value
        assert type(err) is TransportError and err.exit_code == 3
        assert err.errno == errno.ECONNRESET
        assert str(err) == "127.0.0.1:%d: receiving: %s" % (peer.address[1],
                                                           os.strerror(errno.ECONNRESET))
        assert not t.connected
    finally:
        peer.close()


class FailingSends:
    """The transport's socket, whose ``sendall`` fails with ``code`` after ``good``
    packets went out (the peer reset the connection in the middle of a message),
    however the packets are grouped into writes."""

    def __init__(self, sock, code, good=0):
        self._sock, self._code, self._good = sock, code, good
        self.sent = 0                       # packets that went out

    def sendall(self, data):
        room = max(self._good - self.sent, 0) * mf.PACKET_SIZE
        if room:
            self._sock.sendall(data[:room])
            self.sent += len(data[:room]) // mf.PACKET_SIZE
        if len(data) > room:
            raise OSError(self._code, os.strerror(self._code))

    def __getattr__(self, name):
        return getattr(self._sock, name)


def test_a_reset_in_the_middle_of_sending_on_a_fresh_connection_is_exit_3(server, device,
                                                                        monkeypatch):
    import errno
    host, port = server.address
    # (the failures are injected per 68-byte packet: the baseline framing)
    t = MctpTcpTransport(host, port, timeout=3, lazy=True, transmission_unit=64)
    real_connect = t._connect

    def connect_to_a_failing_socket(*args, **kwargs):
        real_connect(*args, **kwargs)
        t._sock = FailingSends(t._sock, errno.ECONNRESET, good=1)
    monkeypatch.setattr(t, "_connect", connect_to_a_failing_socket)
    try:
        with pytest.raises(TransportError) as info:
            call(t, 0x0002, bytes(200))          # 4 packets; the second one fails
    finally:
        t.close()
    err = info.value
    assert type(err) is TransportError and err.exit_code == 3
    assert err.errno == errno.ECONNRESET
    assert str(err) == "127.0.0.1:%d: sending: %s" % (port, os.strerror(errno.ECONNRESET))
    assert t.reconnects == 0 and not t.connected       # a fresh connection is not retried
    assert device.calls == 0                           # half a message is never answered


def test_a_broken_pipe_on_a_reused_connection_is_retried_once_on_a_new_one(server, device):
    import errno
    host, port = server.address
    t = MctpTcpTransport(host, port, timeout=3, transmission_unit=64)
    try:
        assert call(t, 0x0004) == (1).to_bytes(4, "little")
        t._sock = FailingSends(t._sock, errno.EPIPE)
        assert call(t, 0x0004) == (2).to_bytes(4, "little")
        assert t.reconnects == 1 and device.calls == 2   # sent once more, answered once
        t._sock = FailingSends(t._sock, errno.EPIPE)
        t._tag = 0
        assert call(t, 0x0004) == (3).to_bytes(4, "little")
        assert t.reconnects == 2
    finally:
        t.close()


def test_a_send_failing_again_on_the_new_connection_is_not_retried_twice(server, monkeypatch):
    import errno
    host, port = server.address
    t = MctpTcpTransport(host, port, timeout=3, transmission_unit=64)
    real_connect = t._connect

    def connect_to_a_failing_socket(*args, **kwargs):
        real_connect(*args, **kwargs)
        t._sock = FailingSends(t._sock, errno.EPIPE)
    try:
        assert call(t, 0x0001) == bytes(range(18))
        t._sock = FailingSends(t._sock, errno.EPIPE)
        monkeypatch.setattr(t, "_connect", connect_to_a_failing_socket)
        with pytest.raises(TransportError) as info:
            call(t, 0x0001)
    finally:
        t.close()
    assert info.value.errno == errno.EPIPE and "sending" in str(info.value)
    assert t.reconnects == 1


def test_a_host_that_cannot_resolve_is_device_not_found_with_a_hint():
    with pytest.raises(DeviceNotFound) as info:
        MctpTcpTransport("no-such-host.invalid", 2508)
    assert str(info.value).startswith("no-such-host.invalid:2508: cannot resolve host: ")
    assert info.value.exit_code == 3
    assert info.value.hint == "check the host name in tcp:HOST[:PORT]"


def test_a_connection_nobody_accepts_times_out_after_the_connect_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    address = listener.getsockname()
    fillers = []
    try:
        for _ in range(3):                  # a full accept queue drops further SYNs
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(address)
            fillers.append(s)
        time.sleep(0.1)
        start = time.monotonic()
        with pytest.raises(CommandTimeout) as info:
            MctpTcpTransport(*address, connect_timeout=0.3)
        assert 0.25 < time.monotonic() - start < 2
    finally:
        for s in fillers:
            s.close()
        listener.close()
    assert info.value.exit_code == 5
    assert "no answer to the connection request within 0.3s" in str(info.value)


def test_stop_ends_every_client_connection_at_once(device):
    srv = Server(device, port=0)
    r = Raw(srv.start())
    try:
        assert r.request(0x0001) == bytes(range(18))
        srv.stop()
        assert srv.clients == 0
        r.sock.settimeout(1.0)
        try:
            assert r.sock.recv(4096) == b""             # the end of the stream, not silence
        except ConnectionResetError:
            pass
    finally:
        r.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors in /proc")
def test_listening_on_a_port_in_use_fails_and_leaves_no_socket_open():
    from cxlmi_bindings.emulator.server import listen
    busy = listen("127.0.0.1", 0)
    try:
        before = len(os.listdir("/proc/self/fd"))
        with pytest.raises(OSError) as failed:
            listen("127.0.0.1", busy.getsockname()[1])
        # the traceback keeps listen()'s frame, and the socket in it, alive: only an
        # explicit close() has given its descriptor back by now
        assert len(os.listdir("/proc/self/fd")) == before
        del failed
    finally:
        busy.close()


# --- the client transport: receive checks, control replies, timeouts -------------------------

def test_a_reply_of_another_message_type_is_a_protocol_error_and_drops_the_connection():
    def wrong_type(conn):
        answer_one(conn, msg_type=7)
        read_message(conn)

    peer = FakePeer(wrong_type)
    try:
        t = MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64)
        with pytest.raises(ProtocolError, match="MCTP type 8 message came back as type 7"):
            call(t, 0x0001)
        assert not t.connected
        t.close()
    finally:
        peer.close()


def control_peer(answer):
    """A peer that answers each MCTP control request with ``answer(request body)``."""
    def script(conn):
        seq = 0
        while True:
            req = read_message(conn)
            if req is None:
                return
            packets, seq = mf.packetize(0, answer(req.body), req.src, 8, req.tag, 0, seq)
            conn.sendall(b"".join(packets))
    return FakePeer(script)


# (a vendor command 0x42, whose layout is unknown: the padding stays, the reply is 63 bytes)
@pytest.mark.parametrize("fault, match", [
    (lambda body: bytes((0x80 | body[0] & 0x1F, body[1], 0, 1)), "does not answer command 0x42"),
    (lambda body: bytes((body[0] & 0x1F, 0x43, 0, 1)), "does not answer command 0x42"),
    (lambda body: bytes(((body[0] + 1) & 0x1F, body[1], 0, 1)),
     "carries instance 1, the request 0"),
])
def test_a_control_reply_with_rq_set_another_command_or_instance_is_a_protocol_error(fault, match):
    peer = control_peer(fault)
    try:
        with MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64) as t:
            with pytest.raises(ProtocolError, match=match):
                t.control(0x42)
    finally:
        peer.close()


def test_a_control_reply_shorter_than_its_completion_code_is_a_protocol_error(monkeypatch):
    t = MctpTcpTransport("127.0.0.1", 1, lazy=True, transmission_unit=64)
    # (a 68-byte packet always carries 63 message bytes; a sized packet can carry 2)
    monkeypatch.setattr(t, "_send", lambda *args: b"\x00\x02")
    with pytest.raises(ProtocolError, match="control reply of 2 bytes is too short"):
        t.control(mf.CTRL_GET_ENDPOINT_ID)


def test_with_control_any_tag_a_stale_tag_request_from_the_peer_is_still_not_the_reply():
    def requests_first(conn):
        seq = 0
        for req in messages(conn):
            own = bytes((0x80 | 7, mf.CTRL_GET_ENDPOINT_ID))        # the peer asks us
            reply = bytes((req.body[0] & 0x1F, req.body[1], 0, 8, 0, 0))
            out = []
            for body in (own, reply):
                packets, seq = mf.packetize(0, body, req.src, 8, (req.tag + 2) & 7, 0, seq)
                out += packets
            conn.sendall(b"".join(out))

    peer = FakePeer(requests_first)
    try:
        with MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64, peer="jrl") as t:
            assert t.control(mf.CTRL_GET_ENDPOINT_ID) == (0, b"\x08\x00\x00")
    finally:
        peer.close()


def test_a_short_timeout_after_a_long_one_on_the_same_connection_is_kept():
    def once(conn):
        answer_one(conn)
        while conn.recv(4096):
            pass

    peer = FakePeer(once)
    try:
        t = MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64)
        assert reply_payload(t.send(cci_request(1, tag=1), 8, 5.0), 1, 1) == b"\x01"
        start = time.monotonic()
        with pytest.raises(CommandTimeout):
            t.send(cci_request(1, tag=2), 8, 0.3)
        assert time.monotonic() - start < 2
        t.close()
    finally:
        peer.close()


def test_the_reply_timeout_ends_close_to_the_deadline_not_after_it():
    def silent(conn):
        while conn.recv(4096):
            pass

    peer = FakePeer(silent)
    try:
        t = MctpTcpTransport(*peer.address, transmission_unit=64)
        start = time.monotonic()
        with pytest.raises(CommandTimeout, match="no reply within 0.2s"):
            t.send(cci_request(1), 8, 0.2)
        assert 0.15 < time.monotonic() - start < 0.55
        t.close()
    finally:
        peer.close()


def test_another_connect_error_keeps_its_errno_and_gets_the_emulator_hint(monkeypatch):
    import errno

    def unreachable(*args, **kwargs):
        raise OSError(errno.EHOSTUNREACH, os.strerror(errno.EHOSTUNREACH))
    monkeypatch.setattr(socket, "create_connection", unreachable)
    with pytest.raises(TransportError) as info:
        MctpTcpTransport("127.0.0.1", 4321)
    assert info.value.errno == errno.EHOSTUNREACH
    assert str(info.value) == "127.0.0.1:4321: %s" % os.strerror(errno.EHOSTUNREACH)
    assert info.value.hint == "is `cxl-mi emulate --listen 127.0.0.1:4321` running?"


def test_a_first_connection_waits_the_connect_timeout_not_the_request_timeout(server,
                                                                              monkeypatch):
    waits = []
    connect = socket.create_connection

    def recording(address, timeout=None, *args, **kwargs):
        waits.append(timeout)
        return connect(address, timeout, *args, **kwargs)
    monkeypatch.setattr(socket, "create_connection", recording)
    t = MctpTcpTransport(*server.address, lazy=True, connect_timeout=4.0, transmission_unit=64)
    try:
        assert call(t, 0x0001) == bytes(range(18))
    finally:
        t.close()
    assert waits == [4.0]


def test_so_rcvtimeo_values_never_mean_wait_for_ever_unless_asked():
    from cxlmi_bindings.transports.mctp_tcp import _TIMEVAL, _timeval
    assert _timeval(None) == _TIMEVAL.pack(0, 0)
    assert _timeval(1e-9) == _TIMEVAL.pack(0, 1)
    assert _timeval(0.25) == _TIMEVAL.pack(0, 250000)
    assert _timeval(2.5) == _TIMEVAL.pack(2, 500000)


def test_each_control_request_carries_the_next_instance_id():
    instances = []

    def answer(body):
        instances.append(body[0] & 0x1F)
        return bytes((body[0] & 0x1F, body[1], 0, 8, 0, 0))
    peer = control_peer(answer)
    try:
        with MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64) as t:
            for _ in range(3):
                assert t.control(mf.CTRL_GET_ENDPOINT_ID) == (0, b"\x08\x00\x00")
    finally:
        peer.close()
    assert instances == [0, 1, 2]


def test_a_peer_that_hangs_up_leaves_the_transport_disconnected_until_the_next_request():
    state = {"connections": 0}

    def hang_up_once(conn):
        state["connections"] += 1
        while True:
            req = read_message(conn)
            if req is None or state["connections"] == 1:
                return
            hdr = cci.decode_header(req.body)
            answer = cci.encode(hdr.opcode, b"\x05", tag=hdr.tag, category=1)
            conn.sendall(b"".join(mf.packetize(8, answer, req.src, 8, req.tag, 0)[0]))

    peer = FakePeer(hang_up_once)
    try:
        with MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64) as t:
            with pytest.raises(TransportError, match="closed the connection before replying"):
                call(t, 0x0001)
            assert not t.connected
            assert call(t, 0x0001) == b"\x05"
            assert t.reconnects == 0 and state["connections"] == 2
    finally:
        peer.close()


def test_the_start_of_a_message_that_arrived_between_requests_is_kept_for_its_rest():
    # the peer's own (tag owner) message is split: its first packet comes after a
    # reply, the rest ahead of the next reply; neither is a malformed reply
    def split_message(conn):
        seq = 0
        notice = cci.encode(0x0102, bytes(150), tag=9)      # 3 packets
        pieces, _ = mf.packetize(8, notice, 0x10, 8, 6, 1, 0)
        for n in range(2):
            req = read_message(conn)
            if req is None:
                return
            hdr = cci.decode_header(req.body)
            answer = cci.encode(hdr.opcode, bytes((n,)), tag=hdr.tag, category=1)
            packets, seq = mf.packetize(8, answer, req.src, 8, req.tag, 0, seq)
            conn.sendall(b"".join(pieces[1:] + packets if n else packets))
            if not n:
                time.sleep(0.05)
                conn.sendall(pieces[0])
        read_message(conn)

    peer = FakePeer(split_message)
    try:
        with MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64) as t:
            assert call(t, 0x0001) == b"\x00"
            time.sleep(0.2)                  # the stray packet is read between requests
            assert call(t, 0x0001) == b"\x01"
            assert t.reconnects == 0
    finally:
        peer.close()
