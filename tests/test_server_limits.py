# SPDX-License-Identifier: LGPL-2.1-or-later
"""The MCTP-over-TCP server cannot be starved or made to hoard.

One thread serves every client; these tests hold it to its limits with real
sockets on 127.0.0.1: bounded connections (refusals logged once per burst),
a deadline for a whole message (a client trickling bytes is cut off), an idle
timeout (clients reconnect transparently), a cap on unread replies, and a
thousand slow connections against a real ``cxl-mi emulate`` process, which
keeps answering a normal client with little memory growth.
"""

import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from cxlmi_bindings import cci
from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings.emulator.server import Server
from cxlmi_bindings.transports.mctp_tcp import MctpTcpTransport

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def echo(msg_type, message):
    hdr = cci.decode_header(message)
    return cci.encode(hdr.opcode, message[cci.HEADER_SIZE:], tag=hdr.tag,
                      category=cci.CATEGORY_RESPONSE)


def identify_ok(address, timeout=3):
    """A Generic Identify answered with success (the echo handler echoes it)."""
    with MctpTcpTransport(*address, timeout=timeout) as t:
        reply = t.send(cci.encode(0x0001, b"", tag=7), 8, timeout)
    return cci.check_response(reply, 7, 0x0001) is not None


def closed_by_peer(sock, within=3.0):
    """Does the peer close ``sock`` within ``within`` seconds?"""
    sock.settimeout(within)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


def next_reply(sock):
    """The next message on a raw 68-byte-packet connection (3 s at most)."""
    sock.settimeout(3)
    rx = mf.Reassembler()
    while True:
        chunk = sock.recv(4096)
        assert chunk, "the server closed the connection"
        events = rx.feed(chunk)
        if events:
            return events[0]


def wait_for(cond, within=3.0):
    end = time.monotonic() + within
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def test_connections_beyond_max_clients_are_closed_and_logged_once_per_burst(caplog, monkeypatch):
    from cxlmi_bindings.emulator import server as server_module
    monkeypatch.setattr(server_module, "EVICT_SILENT", 60.0)   # however slow this machine is
    caplog.set_level(logging.INFO, logger="cxlmi.emulator")
    with Server(echo, port=0, max_clients=2) as srv:
        held = [socket.create_connection(srv.address) for _ in range(2)]
        assert wait_for(lambda: srv.clients == 2)
        extra = [socket.create_connection(srv.address) for _ in range(3)]
        assert all(closed_by_peer(s) for s in extra)
        assert srv.stats["refused"] == 3
        refusals = [r for r in caplog.records if "the most allowed" in r.getMessage()]
        assert len(refusals) == 1
        held[0].close()
        assert wait_for(lambda: srv.clients == 1)
        assert identify_ok(srv.address)            # a slot is free again
        assert any("accepting connections again" in r.getMessage() for r in caplog.records)
        for s in held + extra:
            s.close()


def test_a_library_client_refused_for_the_limit_is_told_what_a_reset_means(monkeypatch):
    # "receiving: Connection reset by peer" alone left the operator guessing
    from cxlmi_bindings.emulator import server as server_module
    from cxlmi_bindings.errors import TransportError
    from cxlmi_bindings.transports.mctp_tcp import MctpTcpTransport
    monkeypatch.setattr(server_module, "EVICT_SILENT", 60.0)
    with Server(echo, port=0, max_clients=1) as srv:
        held = socket.create_connection(srv.address)
        assert wait_for(lambda: srv.clients == 1)
        with pytest.raises(TransportError) as info:
            MctpTcpTransport(*srv.address, timeout=5, transmission_unit=64).send(
                cci.encode(0x0001, b""), 8)
        # a reset or a plain close, as the race between the close and the request goes
        assert "Connection reset by peer" in str(info.value) or \
            "closed the connection before replying" in str(info.value)
        assert "past its --max-clients" in info.value.hint
        held.close()


def test_when_full_a_newcomer_takes_the_slot_of_an_unfinished_message_or_a_silent_client():
    with Server(echo, port=0, max_clients=3, partial_timeout=5) as srv:
        busy = MctpTcpTransport(*srv.address, timeout=3)
        busy.send(cci.encode(0x0001, b"", tag=1), 8)             # finished its work
        stalled, later = socket.create_connection(srv.address), socket.create_connection(
            srv.address)
        part = mf.frame(8, cci.encode(0x0001, bytes(500)), 8, 0x20, 1, 1)[0][:100]
        stalled.sendall(part)
        assert wait_for(lambda: sum(c.started is not None
                                    for c in list(srv._clients.values())) == 1)
        later.sendall(part)
        assert wait_for(lambda: sum(c.started is not None
                                    for c in list(srv._clients.values())) == 2)
        assert identify_ok(srv.address)            # took the first stalled client's slot
        assert closed_by_peer(stalled) and srv.stats["evicted"] == 1
        assert not closed_by_peer(later, 0.2)
        later.close()
        assert wait_for(lambda: srv.clients == 1)
        reply = busy.send(cci.encode(0x0001, b"", tag=2), 8)      # still connected
        assert cci.check_response(reply, 2, 0x0001) is not None and busy.reconnects == 0
        time.sleep(1.1)                            # now busy is silent for over a second
        other = socket.create_connection(srv.address)   # full again, other silent for less
        third = socket.create_connection(srv.address)
        assert wait_for(lambda: srv.clients == 3)
        assert identify_ok(srv.address)            # took busy's slot
        assert srv.stats["evicted"] == 2 and srv.stats["refused"] == 0
        reply = busy.send(cci.encode(0x0001, b"", tag=3), 8)
        assert cci.check_response(reply, 3, 0x0001) is not None and busy.reconnects == 1
        for s in (busy, stalled, other, third):
            s.close()


def test_a_client_trickling_a_message_is_cut_off_while_others_are_served():
    with Server(echo, port=0, message_timeout=0.6, partial_timeout=5) as srv:
        slow = socket.create_connection(srv.address)
        data, _ = mf.frame(8, cci.encode(0x0001, bytes(200)), 8, 0x20, 1, 1)
        started = time.monotonic()
        served = False
        for b in data:                         # a byte every 50 ms: never idle, never done
            try:
                slow.send(bytes((b,)))
            except OSError:
                break
            time.sleep(0.05)
            if srv.stats["timeouts"]:
                break
            if not served and time.monotonic() - started > 0.2:
                served = identify_ok(srv.address)      # others are served meanwhile
        assert served and srv.stats["timeouts"] == 1
        assert 0.5 <= time.monotonic() - started < 2.0
        assert closed_by_peer(slow)
        slow.close()


def test_a_silent_connection_is_closed_after_idle_timeout_and_the_client_reconnects():
    with Server(echo, port=0, idle_timeout=0.3) as srv:
        with MctpTcpTransport(*srv.address, timeout=3) as t:
            t.send(cci.encode(0x0001, b"a", tag=1), 8)
            assert srv.clients == 1
            assert wait_for(lambda: srv.clients == 0, 2)
            reply = t.send(cci.encode(0x0001, b"b", tag=2), 8)
            assert cci.check_response(reply, 2, 0x0001)[-1] == b"b"
            assert t.reconnects == 1


def test_a_client_that_never_reads_its_replies_holds_one_batch_then_is_closed_when_idle():
    with Server(echo, port=0, idle_timeout=1.0) as srv:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(srv.address)
        request, seq = b"", 0
        for tag in range(8):
            data, seq = mf.frame(8, cci.encode(0x0001, bytes(4096), tag=tag), 8, 0x20, tag, 1,
                                 seq)
            request += data
        sock.settimeout(0.3)
        sent = 0
        try:
            for _ in range(2000):                  # 70 MiB of requests, at most
                sock.sendall(request)
                sent += 1
        except (socket.timeout, OSError):
            pass
        assert sent < 2000                         # the server stopped reading: sends block
        answered = srv.stats["messages"]
        assert identify_ok(srv.address)            # the others are served
        assert wait_for(lambda: srv.clients == 1)
        (stuck,) = srv._clients.values()
        assert 0 < len(stuck.out) <= srv.max_output
        assert srv.stats["messages"] == answered + 1   # none of its requests read meanwhile
        assert wait_for(lambda: srv.clients == 0, 3)
        sock.close()


def _rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


@pytest.fixture
def descriptors_for_a_thousand_sockets():
    """Many machines start processes with 1024 descriptors at most (soft limit), which
    a thousand client sockets and the test session's own would exhaust: raise it
    within the hard limit for this test."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if want < 1200:
        pytest.skip("this machine allows %d open files; the test needs about 1200" % hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
def test_a_thousand_slow_connections_neither_starve_a_real_emulator_nor_grow_it(
        descriptors_for_a_thousand_sockets):
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                             "127.0.0.1:0", "--profile", "type3"], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    conns = []
    try:
        m = re.search(r"tcp:127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert m, proc.stderr.read()
        address = ("127.0.0.1", int(m.group(1)))
        assert identify_ok(address)
        before = _rss_kib(proc.pid)
        first = mf.frame(8, cci.encode(0x0001, bytes(512)), 8, 0x20, 1, 1)[0]
        for i in range(1000):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(address)
            conns.append(s)
        for i, s in enumerate(conns):              # each starts a message it never ends
            try:
                s.send(first[:40 + i % 200])
            except OSError:
                pass
        t0 = time.monotonic()
        assert identify_ok(address, timeout=3)
        assert time.monotonic() - t0 < 3
        growth = _rss_kib(proc.pid) - before
        assert growth < 20 * 1024, "RSS grew by %d KiB" % growth
        assert proc.poll() is None
    finally:
        for s in conns:
            s.close()
        proc.terminate()
        proc.wait(10)


def test_a_server_stopped_before_it_serves_does_not_serve():
    # serve_forever() after stop() (a signal that came first) returns at once; it
    # used to bind a new port and serve on it
    srv = Server(lambda msg_type, message: None, port=0)
    address = srv.bind()
    srv.stop()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert srv._listener is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()


def test_cxl_mi_emulate_takes_the_limits_from_its_options():
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                             "127.0.0.1:0", "--profile", "type3", "--max-clients", "1",
                             "--idle-timeout", "0.5", "--message-timeout", "5"], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        m = re.search(r"tcp:127\.0\.0\.1:(\d+)", proc.stdout.readline())
        assert m, proc.stderr.read()
        address = ("127.0.0.1", int(m.group(1)))
        held = socket.create_connection(address)
        time.sleep(0.1)
        refused = socket.create_connection(address)          # one client at most
        assert closed_by_peer(refused, 1.0)
        t0 = time.monotonic()
        assert closed_by_peer(held, 3.0)                      # idle for 0.5 s
        assert time.monotonic() - t0 < 1.5
        assert identify_ok(address)
        held.close()
        refused.close()
    finally:
        proc.terminate()
        proc.wait(10)



def _cxl_mi_emulate(*args):
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                             "127.0.0.1:0", "--profile", "type3"] + list(args), cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    m = re.search(r"tcp:127\.0\.0\.1:(\d+)", proc.stdout.readline())
    if not m:
        proc.kill()
        proc.wait(10)
    assert m, proc.stderr.read()
    return proc, ("127.0.0.1", int(m.group(1)))


@pytest.mark.parametrize("workers", ["1", "2"])
def test_cxl_mi_emulate_cuts_off_a_message_unfinished_past_its_message_timeout(workers):
    proc, address = _cxl_mi_emulate("--message-timeout", "0.5", "--workers", workers)
    try:
        sock = socket.create_connection(address)
        data, _ = mf.frame(8, cci.encode(0x0001, bytes(512), tag=1), 8, 0x20, 1, 1)
        assert len(data) > mf.PACKET_SIZE
        sock.sendall(data[:mf.PACKET_SIZE])               # the first packet of several
        assert closed_by_peer(sock, 3.0)                  # not after the default 30 s
        sock.close()
        assert identify_ok(address)
    finally:
        proc.terminate()
        proc.wait(10)


def test_cxl_mi_emulate_workers_each_take_max_clients():
    proc, address = _cxl_mi_emulate("--max-clients", "1", "--workers", "2")
    conns = []
    try:
        for _ in range(2):                                # one on each worker
            conns.append(socket.create_connection(address))
            time.sleep(0.1)
        extra = socket.create_connection(address)
        conns.append(extra)
        assert closed_by_peer(extra, 0.8)                 # both are full
    finally:
        for s in conns:
            s.close()
        proc.terminate()
        proc.wait(10)

def test_every_burst_of_refusals_is_logged_once_and_each_recovery_once(caplog, monkeypatch):
    from cxlmi_bindings.emulator import server as server_module
    monkeypatch.setattr(server_module, "EVICT_SILENT", 60.0)
    caplog.set_level(logging.INFO, logger="cxlmi.emulator")
    with Server(echo, port=0, max_clients=1) as srv:
        for burst in (1, 2):
            held = socket.create_connection(srv.address)
            assert wait_for(lambda: srv.clients == 1)
            extra = socket.create_connection(srv.address)
            assert closed_by_peer(extra)
            held.close()
            extra.close()
            assert wait_for(lambda: srv.clients == 0)
            assert identify_ok(srv.address)
            messages = [r.getMessage() for r in caplog.records]
            assert sum("the most allowed" in m for m in messages) == burst
            assert sum("accepting connections again" in m for m in messages) == burst
        assert srv.stats["refused"] == 2


def test_a_dropped_partial_packet_does_not_leave_the_message_deadline_running():
    # 10 bytes, then quiet: they are dropped after partial_timeout; the client, now
    # between messages, must not be cut off when message_timeout passes
    with Server(echo, port=0, partial_timeout=0.2, message_timeout=0.8) as srv:
        sock = socket.create_connection(srv.address)
        sock.sendall(mf.frame(8, cci.encode(0x0001, b"", tag=1), 8, 0x20, 1, 1)[0][:10])
        assert wait_for(lambda: srv.stats["framing_errors"] == 1, 2)
        time.sleep(1.0)
        assert srv.stats["timeouts"] == 0 and srv.clients == 1
        data, _ = mf.frame(8, cci.encode(0x0001, b"x", tag=2), 8, 0x20, 2, 1)
        sock.sendall(data)
        assert cci.check_response(next_reply(sock).body, 2, 0x0001)[-1] == b"x"
        sock.close()


def test_a_partial_timeout_of_0_never_drops_a_packet_that_arrives_slowly():
    with Server(echo, port=0, partial_timeout=0) as srv:
        sock = socket.create_connection(srv.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data, _ = mf.frame(8, cci.encode(0x0001, b"slow", tag=3), 8, 0x20, 3, 1)
        sock.sendall(data[:30])
        time.sleep(0.4)
        sock.sendall(data[30:])
        assert cci.check_response(next_reply(sock).body, 3, 0x0001)[-1] == b"slow"
        assert srv.stats["framing_errors"] == 0
        sock.close()


def test_replies_beyond_max_output_disconnect_a_client_that_does_not_read(caplog):
    caplog.set_level(logging.WARNING, logger="cxlmi.emulator")
    with Server(echo, port=0, max_output=16384) as srv:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(srv.address)
        assert wait_for(lambda: srv.clients == 1)
        request, seq = b"", 0
        for tag in range(12):                      # 3.6 MB of replies, more than the
            data, seq = mf.frame(8, cci.encode(0x0001, bytes(300000), tag=tag), 8, 0x20,
                                 tag, 1, seq)      # kernel's buffers hold
            request += data
        sock.settimeout(0.5)
        try:
            sock.sendall(request)
        except (socket.timeout, OSError):
            pass
        assert wait_for(lambda: srv.clients == 0, 3)   # long before idle_timeout
        assert any("bytes of replies unread; disconnected" in r.getMessage()
                   for r in caplog.records)
        sock.close()


def test_a_client_slowly_reading_a_long_reply_is_not_idle():
    # the request arrives at once; then only the reply moves, for longer than
    # idle_timeout, and that progress keeps the connection.  Small kernel buffers
    # (accepted sockets take the listener's) keep most of the reply in the server.
    from cxlmi_bindings.emulator.server import listen
    listener = listen("127.0.0.1", 0)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    with Server(echo, listener=listener, idle_timeout=0.3) as srv:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(srv.address)
        data, _ = mf.frame(8, cci.encode(0x0001, bytes(400000), tag=4), 8, 0x20, 4, 1)
        sock.settimeout(3)
        sock.sendall(data)
        rx = mf.Reassembler()
        events, started = [], time.monotonic()
        while not events:
            chunk = sock.recv(4096)
            assert chunk, "closed after %.1fs" % (time.monotonic() - started)
            events = rx.feed(chunk)
            time.sleep(0.005)
        assert time.monotonic() - started > 0.4     # the reading outlasted idle_timeout
        assert len(cci.check_response(events[0].body, 4, 0x0001)[-1]) == 400000
        sock.close()
    listener.close()


def test_a_client_waiting_for_its_replies_to_be_read_is_not_taken_for_a_stalled_one(
        monkeypatch):
    # its next message is unfinished only because the server stopped reading it while
    # its replies wait: when full, a newcomer is refused rather than given its slot
    from cxlmi_bindings.emulator import server as server_module
    from cxlmi_bindings.emulator.server import listen
    monkeypatch.setattr(server_module, "EVICT_SILENT", 60.0)
    listener = listen("127.0.0.1", 0)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
    with Server(echo, listener=listener, max_clients=1, partial_timeout=5) as srv:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(srv.address)
        data, seq = mf.frame(8, cci.encode(0x0001, bytes(200000), tag=1), 8, 0x20, 1, 1)
        sock.sendall(data + mf.frame(8, cci.encode(0x0001, b""), 8, 0x20, 2, 1, seq)[0][:10])
        assert wait_for(lambda: [(c.started is not None, len(c.out) > 0)
                                 for c in list(srv._clients.values())] == [(True, True)])
        newcomer = socket.create_connection(srv.address)
        assert closed_by_peer(newcomer)
        assert (srv.stats["refused"], srv.stats["evicted"], srv.clients) == (1, 0, 1)
        newcomer.close()
        sock.close()
    listener.close()


def test_a_client_evicted_while_its_own_bytes_wait_in_the_same_batch_does_not_stop_the_server():
    # The server is busy in a slow handler while a newcomer connects and then the
    # stalled client sends more: both events come back from one select(), the
    # listener's first.  Admitting the newcomer evicts the stalled client; its
    # waiting event must then be passed over, not read from a closed client.
    def slow_echo(msg_type, message):
        time.sleep(0.3)
        hdr = cci.decode_header(message)
        return cci.encode(hdr.opcode, b"", tag=hdr.tag, category=cci.CATEGORY_RESPONSE)

    srv = Server(slow_echo, port=0, max_clients=2, partial_timeout=5)
    address = srv.start()
    socks = []
    try:
        def connect():
            socks.append(socket.create_connection(address, timeout=10))
            return socks[-1]
        stalled = connect()
        stalled.sendall(mf.frame(8, cci.encode(0x0001, bytes(500)), 8, 0x20, 1, 1)[0][:100])
        time.sleep(0.2)
        busy = connect()
        busy.sendall(mf.frame(8, cci.encode(0x0001, b"", tag=2), 8, 0x20, 2, 1)[0])
        time.sleep(0.1)                                  # the server is in slow_echo now
        connect()                                        # the listener is ready first,
        time.sleep(0.05)
        stalled.sendall(bytes(10))                       # then the stalled client
        (reply,) = mf.Reassembler().feed(busy.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
        assert reply.tag == 2
        deadline = time.monotonic() + 5
        while not srv.stats["evicted"] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert srv.stats["evicted"] == 1
        assert srv._thread.is_alive() and srv._serving.is_set()
        busy.sendall(mf.frame(8, cci.encode(0x0001, b"", tag=3), 8, 0x20, 3, 1)[0])
        (reply,) = mf.Reassembler().feed(busy.recv(mf.PACKET_SIZE, socket.MSG_WAITALL))
        assert reply.tag == 3                            # still serving
    finally:
        for sock in socks:
            sock.close()
        srv.stop()


def test_replies_to_a_round_of_several_clients_are_written_after_all_of_them_are_read():
    # Requests from four clients wait before the server first looks: its first
    # round admits them, its second reads all four.  The small replies are
    # written only once every request of that round has been read; the 48 KiB
    # one (over HOLD_BELOW) is written at once, and what its small socket
    # buffer will not take is queued and flows when its client reads.
    from cxlmi_bindings.emulator import server as server_module
    steps = []

    class Recording(Server):
        def _admit(self, selector, conn, peer):
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            super()._admit(selector, conn, peer)

        def _read(self, selector, client):
            steps.append("read")
            super()._read(selector, client)

        def _flush(self, selector, client):
            if client.out:
                steps.append("queued %d" % len(client.out))
            super()._flush(selector, client)

    srv = Recording(echo, port=0)
    address = srv.bind()
    socks = [socket.create_connection(address, timeout=5) for _ in range(3)]
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # takes the big reply slowly
    slow.connect(address)
    socks.append(slow)
    sizes = [0, 100, 2000, 48 << 10]
    real_write = server_module.ms.write

    def recording_write(sock, parts):
        steps.append("at once %d" % sum(len(p) for p in parts))
        return real_write(sock, parts)

    server_module.ms.write = recording_write
    try:
        for tag, (sock, size) in enumerate(zip(socks, sizes)):
            sock.sendall(mf.frame(8, cci.encode(0x0001, bytes([tag]) * size, tag=tag), 8,
                                  0x20, tag, 1)[0])
        time.sleep(0.2)                       # all four requests are in the server's buffers
        srv.start()
        for tag, (sock, size) in enumerate(zip(socks, sizes)):
            sock.settimeout(5)
            rx, events = mf.Reassembler(), []
            while not events:
                chunk = sock.recv(1 << 16)
                assert chunk, "the server closed the connection"
                events = rx.feed(chunk)
            (reply,) = events
            assert reply.tag == tag
            assert reply.body[cci.HEADER_SIZE:] == bytes([tag]) * size
    finally:
        server_module.ms.write = real_write
        for sock in socks:
            sock.close()
        srv.stop()
    big = len(mf.frame(8, cci.encode(0x0001, bytes(48 << 10)), 8, 0x20, 0, 0)[0])
    small = sorted(len(mf.frame(8, cci.encode(0x0001, bytes(n)), 8, 0x20, 0, 0)[0])
                   for n in sizes[:3])
    first_queued = next(i for i, step in enumerate(steps) if step.startswith("queued"))
    assert steps[:first_queued].count("read") == 4, steps      # the whole round read first,
    assert steps[:first_queued].count("at once %d" % big) == 1, steps   # the big one at once
    queued = sorted(int(step.split()[1]) for step in steps[first_queued:first_queued + 4])
    assert queued[:3] == small, steps                   # then the three small ones
    assert 0 < queued[3] < big, steps                   # and what the big one left
