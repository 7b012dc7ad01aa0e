# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sized packets over MCTP over TCP: the framing, Set Transmission Unit between
the client transport and the emulator's server, and the fallbacks to 68-byte
packets for peers that do not take it."""

import hashlib
import os
import socket
import threading
import time

import pytest

from cxlmi_bindings import Context, cci
from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings import mctp_sized as ms
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.server import Server, _Client
from cxlmi_bindings.errors import CommandTimeout, TransportError, UsageError
from cxlmi_bindings.transports.mctp_tcp import MctpTcpTransport

from test_mctp_tcp import FakePeer, messages


def echo(msg_type, message):
    hdr = cci.decode_header(message)
    return cci.encode(hdr.opcode, memoryview(message)[cci.HEADER_SIZE:], tag=hdr.tag,
                      category=cci.CATEGORY_RESPONSE)


def wire(parts):
    return b"".join(bytes(p) for p in parts)


def reassemble(rx, data, chunk):
    """Feed ``data`` as a socket would deliver it ``chunk`` bytes at a time, reading a
    large packet in place when the reassembler asks for that."""
    events, at = [], 0
    while at < len(data):
        view = rx.want()
        if view is not None:
            n = min(len(view), chunk, len(data) - at)
            view[:n] = data[at:at + n]
            events += rx.filled(n)
        else:
            n = min(chunk, len(data) - at)
            events += rx.feed(data[at:at + n])
        at += n
    return events


# --- framing ------------------------------------------------------------------------

def test_a_sized_packet_is_its_size_the_transport_header_the_type_and_the_message():
    msg = cci.encode(0x0001, b"", tag=3)
    parts, nxt = ms.frame(8, msg, 0x08, 0x10, 5, 1, 2, unit=4096)
    data = wire(parts)
    assert nxt == 3
    assert data[:4] == (4 + 1 + len(msg)).to_bytes(4, "little")
    assert data[4:8] == bytes((0x01, 0x08, 0x10, 0x80 | 0x40 | (2 << 4) | 0x08 | 5))
    assert data[8] == 8 and data[9:] == msg            # no padding


def test_a_message_longer_than_the_unit_is_cut_into_full_packets_and_a_short_last():
    msg = cci.encode(0x0002, bytes(range(256)) * 2)    # 1 + 524 bytes, unit 200
    data = wire(ms.frame(8, msg, 8, 16, 1, 1, 3, unit=200)[0])
    sizes, flags, at = [], [], 0
    while at < len(data):
        size = int.from_bytes(data[at:at + 4], "little")
        sizes.append(size - 4)
        flags.append(data[at + 7])
        at += 4 + size
    assert sizes == [200, 200, 125]
    assert [f & 0xC0 for f in flags] == [0x80, 0x00, 0x40]
    assert [(f >> 4) & 3 for f in flags] == [3, 0, 1]


@pytest.mark.parametrize("unit", [64, 200, 4096, ms.DEFAULT_UNIT])
@pytest.mark.parametrize("size", [0, 50, 63, 64, 5000, 70000, 1 << 20])
def test_every_message_comes_back_whole_however_the_stream_is_cut(unit, size):
    msg = cci.encode(0x0001, os.urandom(size), tag=9)
    data = wire(ms.frame(7, msg, 8, 16, 6, 0, 1, unit)[0])
    for chunk, in_place in ((7, True), (65536, True), (len(data), True), (7000, False)):
        rx = ms.SizedReassembler(unit, max_message=mf.MAX_CXL_MESSAGE)
        if in_place:
            (ev,) = reassemble(rx, data, chunk)
        else:                                        # feed() alone works as well
            (ev,) = [e for i in range(0, len(data), chunk) for e in rx.feed(data[i:i + chunk])]
        assert isinstance(ev, mf.Message)
        assert bytes(ev.body) == msg
        assert (ev.msg_type, ev.src, ev.dst, ev.tag, ev.tag_owner) == (7, 16, 8, 6, 0)
        assert not rx.in_message and not rx.buffered


def test_a_size_outside_the_unit_breaks_the_stream_for_good():
    rx = ms.SizedReassembler(4096)
    bad = (4096 + 5).to_bytes(4, "little") + bytes((1, 8, 16, 0xC8)) + b"\x08"
    (err,) = rx.feed(bad)
    assert isinstance(err, mf.FramingError) and "cannot be followed" in str(err)
    assert rx.broken
    good = wire(ms.frame(8, cci.encode(1, b""), 8, 16, 1, 1, 0, 4096)[0])
    assert rx.feed(good) == []                         # nothing more is believed


def test_a_sequence_gap_costs_its_message_and_the_next_one_arrives():
    msg = cci.encode(0x0002, bytes(600))
    parts, _ = ms.frame(8, msg, 8, 16, 1, 1, 0, unit=200)
    data = wire(parts[:2] + parts[4:])                 # the second packet lost
    nxt = wire(ms.frame(8, cci.encode(1, b"", tag=2), 8, 16, 2, 1, 0, 200)[0])
    rx = ms.SizedReassembler(200)
    events = rx.feed(data + nxt)
    assert [type(e) for e in events] == [mf.FramingError, mf.Message]
    assert "sequence number" in str(events[0]) and events[1].tag == 2


def test_a_message_larger_than_accepted_is_dropped_and_the_stream_goes_on():
    big = wire(ms.frame(8, cci.encode(1, bytes(5000)), 8, 16, 1, 1, 0, 1000)[0])
    small = wire(ms.frame(8, cci.encode(1, b"ok"), 8, 16, 2, 1, 1, 1000)[0])
    rx = ms.SizedReassembler(1000, max_message=2000)
    events = rx.feed(big + small)
    assert [type(e) for e in events] == [mf.FramingError, mf.Message]
    assert "more than the 2000 accepted" in str(events[0])
    assert events[1].body.endswith(b"ok")


def test_a_one_packet_message_is_held_to_the_length_its_cci_header_announces():
    msg = bytearray(cci.encode(0x0001, bytes(range(40)), tag=1))
    rx = ms.SizedReassembler(1000)
    msg[5] = 50                                      # announces 50 payload bytes, carries 40
    (err,) = rx.feed(wire(ms.frame(8, bytes(msg), 8, 16, 1, 1, 0, 1000)[0]))
    assert isinstance(err, mf.FramingError) and "announces 62" in str(err)
    msg[5] = 30                                      # announces 30: the rest is not its
    (ev,) = rx.feed(wire(ms.frame(8, bytes(msg), 8, 16, 1, 1, 1, 1000)[0]))
    assert ev.body == bytes(msg[:cci.HEADER_SIZE + 30])


def test_a_cxl_message_shorter_than_its_cci_header_is_dropped():
    rx = ms.SizedReassembler(1000)
    (err,) = rx.feed(wire(ms.frame(8, b"\x00\x01", 8, 16, 1, 1, 0, 1000)[0]))
    assert "shorter than its CCI header" in str(err)


# --- Set Transmission Unit against the emulator's server ------------------------------

@pytest.fixture
def server():
    srv = Server(echo, port=0)
    srv.start()
    yield srv
    srv.stop()


def test_the_client_and_the_emulator_agree_on_sized_packets_and_carry_1_mib(server):
    with MctpTcpTransport(*server.address, timeout=10) as t:
        assert t.unit == server.max_message            # as big as the server takes
        assert server.stats["unit_requests"] == 1
        for size in (0, 4096, 1 << 20):
            payload = os.urandom(size)
            reply = t.send(cci.encode(0x0001, payload, tag=4), 8)
            assert bytes(cci.check_response(reply, 4, 0x0001)[-1]) == payload
        assert server.stats["framing_errors"] == 0


def test_transmission_unit_64_keeps_the_baseline_framing(server):
    with MctpTcpTransport(*server.address, transmission_unit=64) as t:
        assert t.unit == mf.BTU
        reply = t.send(cci.encode(0x0001, bytes(5000), tag=1), 8)
        assert len(cci.check_response(reply, 1, 0x0001)[-1]) == 5000
    assert server.stats["unit_requests"] == 0           # nothing was asked


def test_a_peer_profile_is_never_asked(server):
    with MctpTcpTransport(*server.address, peer="jrl") as t:
        assert t.unit == mf.BTU and t.transmission_unit == mf.BTU


def test_a_full_emulated_device_works_through_sized_packets():
    srv = Server(profiles.build("type3"), port=0)
    srv.start()
    try:
        with Context() as ctx:
            ep = ctx.open("tcp:%s:%d" % srv.address)
            assert ep.transport.unit > mf.BTU
            assert ep.identify().serial_num == srv.device.serial
            data = os.urandom(1024)
            ep.memdev_set_lsa(offset=0, data=data)
            assert bytes(ep.memdev_get_lsa(offset=0, length=1024)) == data
    finally:
        srv.stop()


class Peer(FakePeer):
    """A hand-written MCTP-over-TCP peer (baseline framing only) that answers CCI
    echoes, other control commands with *unsupported*, and Set Transmission Unit
    as ``on_unit(msg)`` says (``"hang up"``, None for silence, or the answer)."""

    def __init__(self, on_unit):
        self.on_unit = on_unit
        self.connections = 0
        self.asked = 0
        super().__init__(self._serve)

    def _serve(self, conn):
        self.connections += 1
        seq = 0
        for msg in messages(conn):
            if msg.msg_type != mf.TYPE_CONTROL:
                answer = echo(msg.msg_type, msg.body)
            elif msg.body[1] == mf.CTRL_SET_TRANSMISSION_UNIT:
                self.asked += 1
                answer = self.on_unit(msg)
                if answer == "hang up":
                    return
            else:
                answer = unsupported(msg)
            if answer is not None:
                out, seq = mf.frame(msg.msg_type, answer, msg.src, 8, msg.tag, 0, seq)
                conn.sendall(out)


def unsupported(msg):
    return bytes((msg.body[0] & 0x1F, msg.body[1], mf.CC_UNSUPPORTED_CMD))


@pytest.mark.parametrize("behaviour", ["unsupported", "silent", "hang up"])
def test_a_peer_that_does_not_take_the_command_keeps_68_byte_packets(behaviour):
    answer = {"unsupported": unsupported, "silent": lambda msg: None,
              "hang up": lambda msg: "hang up"}[behaviour]
    peer = Peer(answer)
    try:
        start = time.monotonic()
        t = MctpTcpTransport(*peer.address, timeout=5)
        took = time.monotonic() - start
        reply = t.send(cci.encode(0x0001, bytes(3000), tag=2), 8)
        assert len(cci.check_response(reply, 2, 0x0001)[-1]) == 3000
        assert t.unit == mf.BTU and peer.asked == 1
        # silence costs the short negotiation wait once, not the command timeout
        assert took < 3
        t._drop()                                   # a new connection: not asked again
        t.send(cci.encode(0x0001, b"", tag=3), 8)
        assert peer.asked == 1
        assert peer.connections == (1 if behaviour == "unsupported" else 2) + 1
        t.close()
    finally:
        peer.close()


@pytest.mark.parametrize("cut", [None, 20], ids=["a whole packet", "part of a packet"])
def test_the_server_refuses_the_switch_while_more_bytes_follow_the_request(server, cut):
    sock = socket.create_connection(server.address, timeout=10)    # a fault fails, not hangs
    try:
        request = bytes((mf.CTRL_RQ | 1, mf.CTRL_SET_TRANSMISSION_UNIT)) + ms.unit_request(4096)
        first, seq = mf.frame(0, request, 0, 0x10, 1, 1, 0)
        second, seq = mf.frame(8, cci.encode(1, b"", tag=5), 8, 0x10, 2, 1, seq)
        sock.sendall(first + second[:cut])           # did not wait for the answer
        (control,) = mf.Reassembler().feed(sock.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
        assert control.body[1:3] == bytes((mf.CTRL_SET_TRANSMISSION_UNIT, mf.CC_NOT_READY))
        if cut is not None:
            sock.sendall(second[cut:])
        (answer,) = mf.Reassembler().feed(sock.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
        assert answer.tag == 2 and answer.msg_type == 8    # still 68-byte packets both ways
    finally:
        sock.close()


def test_the_server_answers_a_bad_request_and_keeps_the_baseline(server):
    sock = socket.create_connection(server.address, timeout=10)
    try:
        # (a request cut short reads as zeros: the baseline pads its one packet)
        for data in (b"", bytes((2, 0, 16, 0, 0)), ms.unit_request(32)):
            request = bytes((mf.CTRL_RQ | 1, mf.CTRL_SET_TRANSMISSION_UNIT)) + data
            sock.sendall(mf.frame(0, request, 0, 0x10, 1, 1, 0)[0])
            (reply,) = mf.Reassembler().feed(sock.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
            assert reply.body[2] == mf.CC_INVALID_DATA
        sock.sendall(mf.frame(8, cci.encode(1, b"", tag=7), 8, 0x10, 2, 1, 0)[0])
        (reply,) = mf.Reassembler().feed(sock.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
        assert reply.tag == 2                        # still 68-byte packets
    finally:
        sock.close()


def test_set_transmission_unit_sent_as_a_datagram_gets_no_answer_and_no_switch(server):
    sock = socket.create_connection(server.address, timeout=10)    # a fault fails, not hangs
    try:
        request = bytes((mf.CTRL_RQ | mf.CTRL_DATAGRAM | 1, mf.CTRL_SET_TRANSMISSION_UNIT)) \
            + ms.unit_request(4096)
        sock.sendall(mf.frame(0, request, 0, 0x10, 1, 1, 0)[0])
        deadline = time.monotonic() + 10
        while server.stats["unit_requests"] < 1 and time.monotonic() < deadline:
            time.sleep(0.01)                         # read alone, as a settled request
        assert server.stats["unit_requests"] == 1
        sock.sendall(mf.frame(8, cci.encode(1, b"", tag=7), 8, 0x10, 2, 1, 1)[0])
        # the first thing back answers the CCI request, in a 68-byte packet
        (reply,) = mf.Reassembler().feed(sock.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
        assert reply.msg_type == 8 and reply.tag == 2
        assert server.stats["framing_errors"] == 0
    finally:
        sock.close()


def test_firmware_goes_through_sized_packets_and_arrives_intact():
    device = profiles.build("type3")
    received = hashlib.sha256()

    def handler(msg_type, message):
        # Transfer FW (0201h): its data starts 128 bytes into the request payload
        if cci.decode_header(message).opcode == 0x0201:
            received.update(bytes(message[cci.HEADER_SIZE + 128:]))
        return device.handle(message, msg_type)

    srv = Server(handler, port=0)
    srv.start()
    try:
        image = b"SIZED-1.0".ljust(16, b"\0") + os.urandom((3 << 20) + 112)
        with Context() as ctx:
            ep = ctx.open("tcp:%s:%d" % srv.address)
            assert ep.transport.unit > mf.BTU
            ep.transfer_firmware(image, slot=2)
        assert received.digest() == hashlib.sha256(image).digest()
        assert device.fw_slots[1].startswith("SIZED-1.0")
        assert srv.stats["framing_errors"] == 0
    finally:
        srv.stop()


# --- the copies a large message costs ---------------------------------------------------

def test_a_large_byte_tail_encodes_to_the_bytes_the_structure_gives():
    from cxlmi_bindings import codec, registry
    for name, fields in (("transfer_fw", {"action": 1, "slot": 0, "offset": 0}),
                         ("memdev_set_lsa", {"offset": 64})):
        entry = registry.get(name)
        data = os.urandom(8192)
        fast = codec.encode_request(entry, dict(fields, data=data))
        through = bytes(codec.build(entry.req_cls, dict(fields, data=data), entry.req_count))
        assert fast == through
        assert fast.endswith(data) and len(fast) == entry.req_cls.fixed_size() + 8192


def test_a_large_byte_tail_fills_in_its_count_field_as_the_structure_does():
    from cxlmi_bindings import codec, registry
    entry = registry.get("fmapi_send_ld_cxlio_mem_request")
    fields = {"port_id": 2, "ld_id": 3, "field_1": bytes((0xF0, 0x8F)),
              "transaction_addr": 0x1000}
    data = os.urandom(4096)
    fast = codec.encode_request(entry, dict(fields, transaction_data=data))
    through = codec.request_to_wire(entry, bytes(codec.build(
        entry.req_cls, dict(fields, transaction_data=data), entry.req_count)))
    assert fast == through and fast.endswith(data)
    assert int.from_bytes(fast[6:8], "little") == 4096


def test_a_large_byte_tail_refuses_a_count_that_does_not_describe_it():
    from cxlmi_bindings import codec, registry
    entry = registry.get("fmapi_get_phys_port_state")
    for size in (4095, 4096):            # the structure's path, then the large-tail one
        with pytest.raises(UsageError, match="num_ports=2 but ports has %d entries" % size):
            codec.encode_request(entry, {"num_ports": 2, "ports": bytes(size)})


def test_the_programs_keep_freed_memory_on_glibc():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", "from cxlmi_bindings import _memory; "
                          "print(_memory.keep_freed_memory())"],
                         capture_output=True, text=True, check=True).stdout
    import platform
    assert out.strip() == ("True" if platform.libc_ver()[0] == "glibc" else "False")


def switching_peer(on_request):
    """A peer script that grants sized packets of 4096 bytes to Set Transmission
    Unit, then hands every other message to ``on_request(conn, msg, seq)``, which
    answers it (or not) and returns the next sequence number."""
    def serve(conn):
        rx, seq, sized = mf.Reassembler(), 0, None
        while True:
            data = conn.recv(65536)
            if not data:
                return
            for msg in (sized or rx).feed(data):
                if msg.msg_type == mf.TYPE_CONTROL:
                    answer = bytes((msg.body[0] & 0x1F, msg.body[1], 0)) + ms.unit_request(4096)
                    out, seq = mf.frame(0, answer, msg.src, 8, msg.tag, 0, seq)
                    conn.sendall(out)
                    sized = ms.SizedReassembler(4096)
                else:
                    seq = on_request(conn, msg, seq)
    return serve


def test_a_broken_sized_reply_is_a_protocol_error_and_the_next_request_reconnects():
    state = {"connections": 0}

    def answer(conn, msg, seq):
        if state["connections"] == 1:                # the first connection gets garbage
            conn.sendall((1 << 30).to_bytes(4, "little") + bytes(20))
            return seq
        parts, seq = ms.frame(8, echo(8, msg.body), msg.src, 8, msg.tag, 0, seq, 4096)
        conn.sendall(wire(parts))
        return seq

    def serve(conn):
        state["connections"] += 1
        switching_peer(answer)(conn)

    peer = FakePeer(serve)
    try:
        from cxlmi_bindings.errors import ProtocolError
        t = MctpTcpTransport(*peer.address, timeout=3)
        assert t.unit == 4096
        with pytest.raises(ProtocolError, match="cannot be followed"):
            t.send(cci.encode(0x0001, b"", tag=1), 8)
        assert not t.connected
        reply = t.send(cci.encode(0x0001, b"again", tag=2), 8)
        assert bytes(cci.check_response(reply, 2, 0x0001)[-1]) == b"again"
        assert t.unit == 4096 and state["connections"] == 2
        t.close()
    finally:
        peer.close()


def test_the_cli_timeout_bounds_the_wait_for_a_silent_peer():
    from cxlmi_cli.target import open_endpoint
    peer = Peer(lambda msg: None)                    # never answers Set Transmission Unit
    try:
        start = time.monotonic()
        ep = open_endpoint("tcp:%s:%d" % peer.address, timeout=0.3, probe=False)
        took = time.monotonic() - start
        assert ep.transport.unit == mf.BTU and peer.asked == 1
        assert took < 0.8, took                      # the 0.3 s, not a second
        ep.close()
    finally:
        peer.close()


def test_replies_to_a_client_that_reads_late_are_queued_and_arrive_whole(server):
    # the server writes what the socket takes and queues the rest of each sized
    # reply; a client that reads late must still get every byte, in order.  A small
    # receive buffer here makes the server's writes stop part way through replies.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)                                            # a fault fails, not hangs
    sock.connect(server.address)
    try:
        request = bytes((mf.CTRL_RQ | 1, mf.CTRL_SET_TRANSMISSION_UNIT)) + ms.unit_request(1 << 20)
        data, seq = mf.frame(0, request, 0, 0x10, 0, 1, 0)
        sock.sendall(data)
        (reply,) = mf.Reassembler().feed(sock.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
        assert reply.body[2] == mf.CC_SUCCESS
        unit = ms.parse_unit(reply.body[3:])[1]
        payloads = [os.urandom(1 << 20) for _ in range(8)]    # more than the socket buffers

        def send_all():
            s = seq
            for i, payload in enumerate(payloads):
                parts, s = ms.frame(8, cci.encode(0x0001, payload, tag=i), 8, 0x10, i & 7, 1,
                                    s, unit)
                sock.sendall(wire(parts))
        sender = threading.Thread(target=send_all)
        sender.start()
        time.sleep(0.3)                              # replies pile up meanwhile
        rx, got = ms.SizedReassembler(unit, mf.MAX_CXL_MESSAGE), []
        while len(got) < len(payloads):
            chunk = sock.recv(1 << 16)
            assert chunk, "the server closed the connection"
            got += rx.feed(chunk)
        sender.join(10)
        assert [bytes(cci.check_response(m.body, i, 0x0001)[-1]) for i, m in enumerate(got)] \
            == payloads
        assert server.stats["framing_errors"] == 0
    finally:
        sock.close()


def test_a_small_unit_cuts_a_large_message_into_more_buffers_than_one_sendmsg_takes(server):
    # unit 100: a 1 MiB message is 10,486 packets, two buffers each, both ways
    with MctpTcpTransport(*server.address, timeout=10, transmission_unit=100) as t:
        assert t.unit == 100
        payload = os.urandom(1 << 20)
        reply = t.send(cci.encode(0x0001, payload, tag=3), 8)
        assert bytes(cci.check_response(reply, 3, 0x0001)[-1]) == payload
    assert server.stats["framing_errors"] == 0


# --- what the mutation run found untested ----------------------------------------------

def sized_packet(payload, flags, seq=0, tag=1, src=16, dst=8, size=None):
    """One hand-made sized packet (``size`` overrides the size field)."""
    size = 4 + len(payload) if size is None else size
    return size.to_bytes(4, "little") + bytes((1, dst, src, flags | (seq & 3) << 4 | 0x08 | tag)) \
        + bytes(payload)


def test_a_one_packet_message_moves_the_sequence_number_on_by_one_at_any_size():
    # below JOIN_BELOW the packet is one joined buffer, above it a header and the message
    for size in (0, 100, ms.JOIN_BELOW - 2, ms.JOIN_BELOW - 1, 70000):
        parts, nxt = ms.frame(8, bytes(size), 8, 16, 1, 1, 3, unit=1 << 20)
        assert nxt == 0, size
        data = wire(parts)
        assert int.from_bytes(data[:4], "little") == len(data) - 4 == 4 + 1 + size


def test_the_one_packet_shortcut_applies_every_check_of_the_general_path():
    msg = cci.encode(0x0001, b"whole", tag=1)
    # a first packet that already holds the whole CCI message still waits for its EOM
    rx = ms.SizedReassembler(1000)
    assert rx.feed(sized_packet(b"\x08" + msg, mf.SOM, seq=0)) == []
    (ev,) = rx.feed(sized_packet(b"pad", mf.EOM, seq=1))
    assert isinstance(ev, mf.Message) and ev.body == msg
    # a bad header version costs the packet
    rx = ms.SizedReassembler(1000)
    bad = bytearray(sized_packet(b"\x08" + msg, mf.SOM | mf.EOM))
    bad[4] = 0x02
    (err,) = rx.feed(bytes(bad))
    assert isinstance(err, mf.FramingError) and "header version 2" in str(err)
    # a packet larger than the unit loses the boundaries even when it is one message
    rx = ms.SizedReassembler(64)
    (err,) = rx.feed(wire(ms.frame(8, cci.encode(1, bytes(100)), 8, 16, 1, 1, 0, 4096)[0]))
    assert isinstance(err, mf.FramingError) and "outside 5..68" in str(err) and rx.broken


def test_a_size_field_of_4_announces_no_payload_and_breaks_the_stream():
    rx = ms.SizedReassembler(4096)
    good = wire(ms.frame(8, cci.encode(1, b""), 8, 16, 1, 1, 0, 4096)[0])
    (err,) = rx.feed(sized_packet(b"", mf.SOM | mf.EOM, size=4) + good)
    assert isinstance(err, mf.FramingError) and "announces 4 bytes" in str(err)
    assert rx.broken


@pytest.mark.parametrize("cut", [8, 9, 10])
def test_a_large_packet_cut_right_after_its_header_or_type_byte_arrives_whole(cut):
    msg = cci.encode(0x0001, os.urandom(40000), tag=4)
    data = wire(ms.frame(8, msg, 8, 16, 2, 1, 0, 1 << 20)[0])
    rx = ms.SizedReassembler(1 << 20, mf.MAX_CXL_MESSAGE)
    assert rx.feed(data[:cut]) == []
    (ev,) = reassemble(rx, data[cut:], 65536)
    assert bytes(ev.body) == msg and not rx.pending()


def test_a_new_message_before_the_end_of_one_in_progress_costs_only_the_old_one():
    old = ms.frame(8, cci.encode(2, bytes(600)), 8, 16, 1, 1, 0, 200)[0]
    new = cci.encode(1, b"new", tag=2)
    rx = ms.SizedReassembler(200)
    events = rx.feed(wire(old[:4]) + wire(ms.frame(8, new, 8, 16, 2, 1, 2, 200)[0]))
    assert [type(e) for e in events] == [mf.FramingError, mf.Message]
    assert "start of a new message (tag 2)" in str(events[0])
    assert events[1].body == new and rx.errors == 1


def test_a_cxl_first_packet_shorter_than_a_cci_header_costs_its_message_quietly():
    rx = ms.SizedReassembler(1000)
    good = cci.encode(1, b"next", tag=2)
    events = rx.feed(sized_packet(b"\x08\x00\x01\x02\x03", mf.SOM, seq=0)
                     + sized_packet(bytes(40), 0, seq=1) + sized_packet(bytes(3), mf.EOM, seq=2)
                     + wire(ms.frame(8, good, 8, 16, 2, 1, 0, 1000)[0]))
    assert [type(e) for e in events] == [mf.FramingError, mf.Message]
    assert "shorter than its CCI header" in str(events[0]) and events[1].body == good


def test_a_packet_from_another_source_inside_a_message_costs_the_message():
    parts, _ = ms.frame(8, cci.encode(2, bytes(300)), 8, 16, 1, 1, 0, 200)
    second = bytearray(wire(parts[2:]))
    second[6] = 17                                     # same tag and owner, source 17
    rx = ms.SizedReassembler(200)
    events = rx.feed(wire(parts[:2]) + bytes(second))
    assert [type(e) for e in events] == [mf.FramingError]
    assert "packet of another message (src 0x11 tag 1)" in str(events[0])


def test_a_cxl_message_at_the_accepted_size_may_carry_bytes_past_its_cci_length():
    # the CCI header bounds the message; bytes after it are dropped, not counted
    msg = cci.encode(2, bytes(300), tag=1)
    rx = ms.SizedReassembler(200, max_message=1 + len(msg))
    (ev,) = rx.feed(wire(ms.frame(8, msg + b"xx", 8, 16, 1, 1, 0, 200)[0]))
    assert isinstance(ev, mf.Message) and ev.body == msg


def test_a_control_message_of_known_layout_is_held_to_it_in_sized_packets_too():
    get_eid = bytes((0x05, mf.CTRL_GET_ENDPOINT_ID, 0, 8, 0, 0))
    rx = ms.SizedReassembler(1000)
    (ev,) = rx.feed(wire(ms.frame(0, get_eid + b"trailing", 0x10, 8, 1, 0, 0, 1000)[0]))
    assert ev.msg_type == 0 and ev.body == get_eid


# the server side, on a hand-driven connection

def sized_client(address, unit=1 << 20, rcvbuf=None):
    """A raw client connection switched to sized packets; returns it and the unit."""
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)                                            # a fault fails, not hangs
    sock.connect(address)
    request = bytes((mf.CTRL_RQ | 1, mf.CTRL_SET_TRANSMISSION_UNIT)) + ms.unit_request(unit)
    sock.sendall(mf.frame(0, request, 0, 0x10, 0, 1, 0)[0])
    (reply,) = mf.Reassembler().feed(sock.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
    assert reply.body[2] == mf.CC_SUCCESS
    return sock, ms.parse_unit(reply.body[3:])[1]


def read_sized(sock, unit):
    rx = ms.SizedReassembler(unit, mf.MAX_CXL_MESSAGE)
    while True:
        data = sock.recv(1 << 16)
        assert data, "the server closed the connection"
        for ev in rx.feed(data):
            assert isinstance(ev, mf.Message), ev
            return ev


def test_the_server_closes_a_connection_whose_sized_packets_cannot_be_followed(server):
    sock, unit = sized_client(server.address)
    try:
        sock.sendall((unit + 5).to_bytes(4, "little") + bytes((1, 8, 0x10, 0xC8)))
        sock.settimeout(3)
        assert sock.recv(4096) == b""                 # closed, not left hanging
        assert server.stats["framing_errors"] == 1
    finally:
        sock.close()


def test_the_server_answers_sized_from_its_own_eid_to_the_requester(server):
    sock, unit = sized_client(server.address)
    try:
        parts, _ = ms.frame(8, cci.encode(1, b"eid", tag=6), 8, 0x10, 3, 1, 1, unit)
        sock.sendall(wire(parts))
        ev = read_sized(sock, unit)
        assert (ev.src, ev.dst, ev.tag, ev.tag_owner) == (8, 0x10, 3, 0)
        assert bytes(cci.check_response(ev.body, 6, 0x0001)[-1]) == b"eid"
    finally:
        sock.close()


def test_the_server_grants_a_unit_of_exactly_64_and_then_reads_sized_packets_of_64(server):
    sock, unit = sized_client(server.address, unit=mf.BTU)
    try:
        assert unit == mf.BTU
        payload = bytes(range(200))
        sock.sendall(wire(ms.frame(8, cci.encode(1, payload, tag=2), 8, 0x10, 1, 1, 1, unit)[0]))
        ev = read_sized(sock, unit)
        assert bytes(cci.check_response(ev.body, 2, 0x0001)[-1]) == payload
        assert server.stats["framing_errors"] == 0
    finally:
        sock.close()


@pytest.mark.parametrize("cut", [9, 100])
def test_a_second_switch_is_refused_while_a_large_sized_packet_is_being_read(server, cut):
    # 9 bytes: the packet's size, header and type byte, and none of its payload yet
    sock, unit = sized_client(server.address)
    try:
        request = bytes((mf.CTRL_RQ | 2, mf.CTRL_SET_TRANSMISSION_UNIT)) + ms.unit_request(4096)
        again = wire(ms.frame(0, request, 0, 0x10, 1, 1, 1, unit)[0])
        big = wire(ms.frame(8, cci.encode(1, bytes(40000), tag=3), 8, 0x10, 3, 1, 0, unit)[0])
        sock.sendall(again + big[:cut])              # the large packet is read in place
        ev = read_sized(sock, unit)
        assert ev.body[1:3] == bytes((mf.CTRL_SET_TRANSMISSION_UNIT, mf.CC_NOT_READY))
        sock.sendall(big[cut:])
        ev = read_sized(sock, unit)                  # the old unit still holds
        assert len(cci.check_response(ev.body, 3, 0x0001)[-1]) == 40000
    finally:
        sock.close()


def test_a_client_trickling_a_large_sized_packet_meets_the_message_timeout():
    # partial_timeout passes between its bytes, but a sized packet is never dropped
    # part way: the message deadline must still run from the packet's first byte
    with Server(echo, port=0, partial_timeout=0.05, message_timeout=0.5) as srv:
        sock, unit = sized_client(srv.address)
        try:
            big = wire(ms.frame(8, cci.encode(1, bytes(40000), tag=3), 8, 0x10, 3, 1, 1, unit)[0])
            start = time.monotonic()
            sock.sendall(big[:100])
            closed = False
            for b in big[100:130]:                     # a byte every 0.1 s, for 3 s at most
                time.sleep(0.1)
                try:
                    sock.sendall(bytes((b,)))
                except OSError:
                    closed = True
                    break
                if srv.stats["timeouts"]:
                    break
            assert srv.stats["timeouts"] == 1 or closed
            assert time.monotonic() - start < 2.0
            sock.settimeout(3)
            try:
                assert sock.recv(4096) == b""
            except ConnectionResetError:
                pass
        finally:
            sock.close()


def test_a_slow_reader_taking_a_large_reply_is_not_closed_as_idle():
    # the server's writes, not only its reads, count as the connection's activity
    with Server(echo, port=0, idle_timeout=0.3) as srv:
        sock, unit = sized_client(srv.address, rcvbuf=4096)
        try:
            # small buffers on both ends: the reply waits in the server's queue and
            # leaves it only as fast as this client reads
            (client,) = srv._clients.values()
            client.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            payload = os.urandom(1 << 20)
            sock.sendall(wire(ms.frame(8, cci.encode(1, payload, tag=1), 8, 0x10, 1, 1, 1,
                                       unit)[0]))
            rx, events, start = ms.SizedReassembler(unit, mf.MAX_CXL_MESSAGE), [], time.monotonic()
            while not events:
                data = sock.recv(8192)
                assert data, "closed after %.1fs" % (time.monotonic() - start)
                events += rx.feed(data)
                time.sleep(0.004)                    # slowly: most of a second in all
            assert bytes(cci.check_response(events[0].body, 1, 0x0001)[-1]) == payload
            assert time.monotonic() - start > srv.idle_timeout
        finally:
            sock.close()


# the client side, against hand-written peers

class UnitPeer(Peer):
    """A Peer that also remembers the unit each Set Transmission Unit asked for."""

    def __init__(self, on_unit):
        self.units = []

        def note(msg):
            self.units.append(ms.parse_unit(msg.body[2:])[1])
            return on_unit(msg)
        super().__init__(note)


def grant(body_after_cc, cc=mf.CC_SUCCESS, command=mf.CTRL_SET_TRANSMISSION_UNIT, shift=0):
    return lambda msg: bytes(((msg.body[0] + shift) & 0x1F, command, cc)) + body_after_cc


def test_the_client_asks_for_no_more_than_its_largest_message():
    peer = UnitPeer(unsupported)
    try:
        with MctpTcpTransport(*peer.address, timeout=5, transmission_unit=1 << 20,
                              max_message=5000) as t:
            assert t.unit == mf.BTU
        assert peer.units == [5000]
    finally:
        peer.close()


@pytest.mark.parametrize("answer", [
    grant(ms.unit_request(4096), command=0x42),                     # another command
    grant(ms.unit_request(4096), shift=1),                          # another instance
    grant(ms.unit_request(4096), cc=0x01),                          # an error, with data
    grant(bytes((2,)) + (4096).to_bytes(4, "little")),              # another framing
    grant(ms.unit_request(8192)),                                   # more than asked
], ids=["command", "instance", "completion-code", "framing", "larger-unit"])
def test_a_grant_that_does_not_answer_the_request_keeps_68_byte_packets(answer):
    peer = UnitPeer(answer)
    try:
        with MctpTcpTransport(*peer.address, timeout=5, transmission_unit=4096) as t:
            assert t.unit == mf.BTU and t.connected
            reply = t.send(cci.encode(0x0001, bytes(300), tag=2), 8)
            assert len(cci.check_response(reply, 2, 0x0001)[-1]) == 300
        assert peer.units == [4096] and peer.connections == 1
    finally:
        peer.close()


def test_after_a_peer_hangs_up_on_the_command_the_transport_is_connected_again():
    peer = Peer(lambda msg: "hang up")
    try:
        t = MctpTcpTransport(*peer.address, timeout=5)
        assert t.connected and t.unit == mf.BTU     # connected, as a non-lazy transport is
        t.close()
    finally:
        peer.close()


def test_a_message_begun_between_requests_is_completed_and_dropped_with_the_next_reply():
    unasked = wire(ms.frame(8, cci.encode(0x0001, b"unasked", tag=0), 0x10, 8, 5, 1, 0, 4096)[0])
    state = {"requests": 0}

    def answer(conn, msg, seq):
        state["requests"] += 1
        parts, seq = ms.frame(8, echo(8, msg.body), msg.src, 8, msg.tag, 0, seq, 4096)
        if state["requests"] == 1:
            conn.sendall(wire(parts))
            time.sleep(0.05)
            conn.sendall(unasked[:10])               # a message begun, not ended
        else:
            conn.sendall(unasked[10:] + wire(parts))
        return seq

    peer = FakePeer(switching_peer(answer))
    try:
        with MctpTcpTransport(*peer.address, timeout=3) as t:
            assert t.unit == 4096
            t.send(cci.encode(0x0001, b"first", tag=1), 8)
            time.sleep(0.2)                          # the ten bytes are waiting now
            reply = t.send(cci.encode(0x0001, b"second", tag=2), 8)
            assert bytes(cci.check_response(reply, 2, 0x0001)[-1]) == b"second"
            assert t.reconnects == 0
    finally:
        peer.close()


def test_a_shorter_timeout_after_a_longer_one_is_kept():
    def first_only(conn):
        for n, msg in enumerate(messages(conn)):
            if n == 0:
                out, _ = mf.frame(8, echo(8, msg.body), msg.src, 8, msg.tag, 0, 0)
                conn.sendall(out)

    peer = FakePeer(first_only)
    try:
        with MctpTcpTransport(*peer.address, timeout=10, transmission_unit=64) as t:
            t.send(cci.encode(0x0001, b"", tag=1), 8)            # waits up to 10 s
            start = time.monotonic()
            with pytest.raises(CommandTimeout):
                t.send(cci.encode(0x0001, b"", tag=2), 8, 0.3)
            assert time.monotonic() - start < 2.0
    finally:
        peer.close()


def test_a_peer_that_hangs_up_before_replying_leaves_the_transport_disconnected():
    def hang_up(conn):
        conn.recv(65536)

    peer = FakePeer(hang_up)
    try:
        t = MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64)
        for tag in (1, 2):
            with pytest.raises(TransportError, match="closed the connection"):
                t.send(cci.encode(0x0001, b"", tag=tag), 8)
            assert not t.connected
        assert t.reconnects == 0                     # each request connected afresh
        t.close()
    finally:
        peer.close()


def test_a_message_the_peer_originates_with_the_request_tag_is_not_the_reply():
    def ask_back(conn):
        seq = 0
        for msg in messages(conn):
            hdr = cci.decode_header(msg.body)
            own = cci.encode(0x0001, b"a request of the peer's", tag=hdr.tag)
            out, seq = mf.frame(8, own, msg.src, 8, msg.tag, 1, seq)     # tag owner set
            reply, seq = mf.frame(8, echo(8, msg.body), msg.src, 8, msg.tag, 0, seq)
            conn.sendall(out + reply)

    peer = FakePeer(ask_back)
    try:
        with MctpTcpTransport(*peer.address, timeout=3, transmission_unit=64) as t:
            reply = t.send(cci.encode(0x0001, b"mine", tag=4), 8)
            assert bytes(cci.check_response(reply, 4, 0x0001)[-1]) == b"mine"
    finally:
        peer.close()


def test_a_peer_that_grants_exactly_64_gets_sized_packets_of_64():
    # a grant of the smallest unit is still a switch to sized packets
    srv = Server(echo, port=0, max_message=mf.BTU)   # grants min(asked, 64)
    srv.start()
    try:
        with MctpTcpTransport(*srv.address, timeout=5, transmission_unit=4096) as t:
            assert (t.unit, t.sized) == (mf.BTU, True)
            for tag in (1, 2):
                reply = t.send(cci.encode(0x0001, b"small", tag=tag), 8)
                assert bytes(cci.check_response(reply, tag, 0x0001)[-1]) == b"small"
            assert t.reconnects == 0
        assert srv.stats["unit_requests"] == 1 and srv.stats["framing_errors"] == 0
    finally:
        srv.stop()


def test_a_client_whose_largest_message_is_64_bytes_does_not_ask(server):
    with MctpTcpTransport(*server.address, timeout=5, max_message=mf.BTU) as t:
        reply = t.send(cci.encode(0x0001, b"hi", tag=1), 8)
        assert bytes(cci.check_response(reply, 1, 0x0001)[-1]) == b"hi"
        assert (t.unit, t.sized) == (mf.BTU, False)
    assert server.stats["unit_requests"] == 0 and server.stats["framing_errors"] == 0


def test_a_view_of_wide_items_is_framed_by_its_bytes():
    message = cci.encode(0x0001, bytes(range(200)) * 2, tag=1)     # 412 bytes
    wide = memoryview(message).cast("I")                           # 103 items
    for unit in (64, 4096):
        data = wire(ms.frame(8, wide, 8, 16, 1, 1, 0, unit)[0])
        assert data == wire(ms.frame(8, message, 8, 16, 1, 1, 0, unit)[0])


class RefusingSocket:
    """A socket whose buffer is full: every write would block."""

    def send(self, data):
        raise BlockingIOError(11, "Resource temporarily unavailable")

    sendmsg = send


@pytest.mark.parametrize("unit,size", [(0, 10), (4096, 10), (1 << 20, 20000)])
def test_a_reply_the_socket_takes_none_of_is_queued_whole(unit, size):
    # nothing went, nothing lost: the whole framed reply waits for the socket
    srv = Server(echo, port=0)
    client = _Client(RefusingSocket(), ("127.0.0.1", 1), mf.Reassembler(), 0.0)
    client.unit = unit
    reply = cci.encode(0x0001, os.urandom(size), tag=1, category=cci.CATEGORY_RESPONSE)
    srv._reply(client, mf.Message(8, b"", 0x10, 8, 2, 1), reply)
    framed = (wire(ms.frame(8, reply, 0x10, srv.eid, 2, 0, 0, unit)[0]) if unit
              else mf.frame(8, reply, 0x10, srv.eid, 2, 0, 0)[0])
    assert bytes(client.out) == framed
