# SPDX-License-Identifier: LGPL-2.1-or-later
"""The emulator's serial MCTP binding over real Unix sockets and a real pty.

A test plays the host's side of the line with its own frames (built by ``mctp_serial``, whose
bytes tests/test_mctp_serial.py checks against DSP0253) and reads the replies back through a
fresh decoder.  The kernel's side is tests/integration/test_qemu_mctp.py.
"""

import errno
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from cxlmi_bindings import cci
from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings import mctp_serial as ms
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.mctp_endpoint import MctpEndpoint
from cxlmi_bindings.emulator.serial_server import SerialLineError, SerialServer

IDENTIFY = 0x0001
GET_SUPPORTED_LOGS = 0x0400
GET_LOG = 0x0401
CEL_UUID = uuid.UUID("0da9c0b5-bf41-4b78-8f79-96b1623b3f17")
HOST_EID = 9


class Line:
    """The host's end of the serial line: send messages, read whole replies."""

    def __init__(self, sock):
        self.sock = sock
        self.sock.settimeout(5)
        self.decoder = ms.FrameDecoder()
        self.reassembler = ms.PacketReassembler()
        self.packets = []
        self.seq = 0

    def send(self, msg_type, body, dst=8, tag=1):
        data, self.seq = ms.encode_message(msg_type, body, dst, HOST_EID, tag, 1, self.seq)
        self.sock.sendall(data)

    def receive(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(4096)
            assert data, "the emulator closed the line"
            for packet in self.decoder.feed(data):
                assert not isinstance(packet, ms.SerialFrameError), packet
                self.packets.append(packet)
                for ev in self.reassembler.feed(packet):
                    assert isinstance(ev, mf.Message), ev
                    return ev

    def silent(self, seconds=0.3):
        self.sock.settimeout(seconds)
        try:
            return self.sock.recv(4096) == b""
        except socket.timeout:
            return True


@pytest.fixture
def served(tmp_path):
    device = profiles.build("type3")
    endpoint = MctpEndpoint(device, eid=8)
    path = str(tmp_path / "mctp.sock")
    server = SerialServer(endpoint, path, listen=True).start()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    try:
        yield server, Line(sock)
    finally:
        sock.close()
        server.stop()


def test_get_endpoint_id_and_uuid_over_the_line(served):
    server, line = served
    line.send(mf.TYPE_CONTROL, b"\x80\x02", tag=2)
    reply = line.receive()
    assert (reply.msg_type, reply.body) == (0, bytes((0x00, 0x02, 0x00, 8, 0x00, 0x00)))
    assert (reply.src, reply.dst, reply.tag, reply.tag_owner) == (8, HOST_EID, 2, 0)
    line.send(mf.TYPE_CONTROL, b"\x83\x03", tag=3)
    reply = line.receive()
    assert reply.body == bytes((0x03, 0x03, 0x00)) + server.endpoint.uuid.bytes
    line.send(mf.TYPE_CONTROL, b"\x80\x05")
    assert line.receive().body == bytes((0, 5, 0, 2, mf.TYPE_FMAPI, mf.TYPE_CCI))


def test_identify_as_cci_message_type_8(served):
    server, line = served
    line.send(mf.TYPE_CCI, cci.encode(IDENTIFY, b"", tag=7), tag=4)
    reply = line.receive()
    hdr = cci.decode_header(reply.body)
    assert (reply.msg_type, hdr.opcode, hdr.tag, hdr.return_code) == (mf.TYPE_CCI, IDENTIFY, 7, 0)
    assert reply.tag == 4 and reply.tag_owner == 0
    assert server.stats["replies"] == 1 and server.stats["frames"] == 1


def test_a_reply_larger_than_a_packet_goes_as_full_packets_and_an_unpadded_last(served):
    _, line = served
    line.send(mf.TYPE_CCI, cci.encode(GET_SUPPORTED_LOGS, b""))
    logs = line.receive().body[cci.HEADER_SIZE:]
    sizes = {uuid.UUID(bytes=logs[8 + 20 * i:24 + 20 * i]):
             int.from_bytes(logs[24 + 20 * i:28 + 20 * i], "little")
             for i in range(int.from_bytes(logs[:2], "little"))}
    line.packets.clear()
    line.send(mf.TYPE_CCI, cci.encode(GET_LOG, CEL_UUID.bytes + (0).to_bytes(4, "little")
                                      + sizes[CEL_UUID].to_bytes(4, "little")))
    reply = line.receive()
    hdr = cci.decode_header(reply.body)
    assert hdr.return_code == 0 and hdr.payload_length > 64
    sizes = [len(p) for p in line.packets]
    assert len(sizes) > 2 and set(sizes[:-1]) == {68}
    assert sizes[-1] == 4 + (1 + len(reply.body)) - 64 * (len(sizes) - 1)
    seqs = [p[3] >> 4 & 3 for p in line.packets]     # counting on across messages
    assert seqs == [(seqs[0] + i) % 4 for i in range(len(sizes))]


def test_a_request_larger_than_a_packet(served):
    # Set LSA-sized request: a CCI message of 300 bytes arrives in 5 packets
    server, line = served
    request = cci.encode(0xFF00, bytes(288), tag=9)         # an opcode nobody implements
    line.send(mf.TYPE_CCI, request)
    hdr = cci.decode_header(line.receive().body)
    assert hdr.tag == 9 and hdr.return_code == 3               # UNSUPPORTED
    assert server.stats["frames"] == 5


def test_damaged_frames_are_counted_and_the_line_carries_on(served):
    server, line = served
    frame = bytearray(ms.encode_frame(ms.packets(0, b"\x80\x02", 8, HOST_EID, 1, 1)[0][0]))
    frame[-2] ^= 0xFF
    line.sock.sendall(b"noise" + bytes(frame) + b"\x7e\x01\x06\x7d\x00\x00\x00\x00\x7e")
    assert line.silent()
    line.send(mf.TYPE_CONTROL, b"\x80\x02")
    assert line.receive().body[3] == 8
    assert server.stats["frame_error_kinds"]["fcs"] == 1
    assert server.stats["frame_error_kinds"]["escape"] == 1
    assert server.stats["frame_errors"] == 2
    assert server.stats["noise_bytes"] >= 5


def test_messages_for_another_eid_are_not_answered(served):
    server, line = served
    line.send(mf.TYPE_CCI, cci.encode(IDENTIFY, b""), dst=20)
    assert line.silent()
    assert server.stats["not_for_us"] == 1
    line.send(mf.TYPE_CONTROL, b"\x80\x02", dst=0)          # the null EID is answered
    assert line.receive().body[3] == 8


def test_a_new_peer_after_the_first_one_leaves(served, tmp_path):
    server, line = served
    line.sock.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + 5
    while True:
        try:
            sock.connect(server.path)
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    again = Line(sock)
    again.send(mf.TYPE_CONTROL, b"\x80\x02")
    assert again.receive().body[3] == 8
    sock.close()


def test_serial_over_a_pty():
    master, slave = os.openpty()
    name = os.ttyname(slave)
    endpoint = MctpEndpoint(profiles.build("switch"), eid=8)
    server = SerialServer(endpoint, name).start()
    try:
        data, _ = ms.encode_message(mf.TYPE_FMAPI, cci.encode(IDENTIFY, b"", tag=3), 8,
                                    HOST_EID, 5, 1)
        os.write(master, data)
        decoder, reasm = ms.FrameDecoder(), ms.PacketReassembler()
        deadline = time.monotonic() + 5
        reply = None
        while reply is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                for packet in decoder.feed(os.read(master, 4096)):
                    for ev in reasm.feed(packet):
                        reply = ev
        assert reply is not None
        assert reply.msg_type == mf.TYPE_FMAPI and cci.decode_header(reply.body).return_code == 0
    finally:
        server.stop()
        os.close(master)
        os.close(slave)


def test_bad_paths_are_named(tmp_path):
    endpoint = MctpEndpoint(profiles.build("type3"))
    with pytest.raises(SerialLineError, match="No such file"):
        SerialServer(endpoint, str(tmp_path / "nothing")).open()
    regular = tmp_path / "file"
    regular.write_text("x")
    with pytest.raises(SerialLineError, match="neither a Unix socket nor a tty"):
        SerialServer(endpoint, str(regular)).open()
    with pytest.raises(SerialLineError, match="exists and is not a socket"):
        SerialServer(endpoint, str(regular), listen=True).open()


def test_a_live_socket_is_not_taken_over_but_a_stale_one_is(tmp_path):
    endpoint = MctpEndpoint(profiles.build("type3"))
    path = str(tmp_path / "s")
    first = SerialServer(endpoint, path, listen=True).start()
    try:
        with pytest.raises(SerialLineError, match="in use"):
            SerialServer(endpoint, path, listen=True).open()
    finally:
        first.stop()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()                       # the file stays, nobody listens
    SerialServer(endpoint, path, listen=True).start().stop()
    assert not os.path.exists(path)


# --- `cxl-mi emulate --serial-listen / --serial`, as processes --------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT)


def _emulate(*args):
    return subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                             "127.0.0.1:0"] + list(args), cwd=ROOT, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_emulate_serves_the_same_endpoint_on_tcp_and_serial(tmp_path):
    path = str(tmp_path / "line")
    proc = _emulate("--profile", "switch", "--eid", "12", "--serial-listen", path)
    try:
        first = proc.stdout.readline()
        assert first == "serving MCTP over serial on %s (a Unix socket, waiting for a peer)\n" \
            % path
        port = int(re.search(r"listening on tcp:127\.0\.0\.1:(\d+)", proc.stdout.readline())
                   .group(1))
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        line = Line(sock)
        line.send(mf.TYPE_CONTROL, b"\x80\x02", dst=12)
        assert line.receive().body[3] == 12
        # an EID set over serial is the EID TCP clients see: one endpoint
        line.send(mf.TYPE_CONTROL, b"\x80\x01\x00\x21", dst=12)
        assert line.receive().body[:4] == b"\x00\x01\x00\x00"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as tcp:
            tcp.sendall(mf.frame(mf.TYPE_CONTROL, b"\x80\x02", 0x21, HOST_EID, 1, 1)[0])
            reply = b""
            while len(reply) < mf.PACKET_SIZE:
                reply += tcp.recv(mf.PACKET_SIZE - len(reply))
        (msg,) = mf.Reassembler().feed(reply)
        assert msg.body[:4] == b"\x00\x02\x00\x21"
        line.send(mf.TYPE_FMAPI, cci.encode(IDENTIFY, b""), dst=0x21)
        assert cci.decode_header(line.receive().body).return_code == 0
        sock.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert not os.path.exists(path)


@pytest.mark.parametrize("args, code, message", [
    (["--serial", "/nonexistent/x", "--serial-listen", "/tmp/y"], 2, "give one of them"),
    (["--serial-listen", "/tmp/y", "--workers", "2"], 2, "need --workers 1"),
    (["--serial", "/nonexistent/line", "--workers", "2"], 2, "need --workers 1"),
    (["--serial", "/nonexistent/line"], 2, "--serial /nonexistent/line: No such file"),
    (["--serial-listen", "/nonexistent/dir/line"], 2, "cannot listen on /nonexistent/dir/line"),
])
def test_emulate_serial_mistakes(args, code, message):
    proc = subprocess.run([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                           "127.0.0.1:0"] + args, cwd=ROOT, env=ENV, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert "listening" not in proc.stdout



def test_emulate_on_a_socket_another_process_listens_on_is_exit_3(tmp_path):
    path = str(tmp_path / "line")
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(path)
    other.listen(1)
    try:
        proc = subprocess.run([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                               "127.0.0.1:0", "--serial-listen", path], cwd=ROOT, env=ENV,
                              capture_output=True, text=True, timeout=60)
    finally:
        other.close()
    assert proc.returncode == 3, proc.stderr             # in use, as a TCP port would be
    assert proc.stderr == ("cxl-mi: error: --serial-listen %s is in use: another process "
                           "listens there\n" % path)


@pytest.mark.parametrize("code", [errno.EACCES, errno.EPERM])
def test_emulate_refused_the_serial_line_is_exit_4(tmp_path, monkeypatch, code):
    # permission denied is exit 4, as everywhere (at the seam: root is refused nothing)
    from cli_helpers import runner
    from cxlmi_bindings.emulator import serial_server
    from cxlmi_cli.main import cli
    path = str(tmp_path / "line")

    def refused(where):
        raise SerialLineError(code, "cannot listen on %s: %s" % (where, os.strerror(code)))
    monkeypatch.setattr(serial_server, "_listen_unix", refused)
    res = runner().invoke(cli, ["emulate", "--listen", "127.0.0.1:0", "--serial-listen", path],
                          catch_exceptions=False)
    assert res.exit_code == 4
    assert res.stderr == "cxl-mi: error: --serial-listen cannot listen on %s: %s\n" % (
        path, os.strerror(code))

def test_emulate_refuses_a_regular_file_as_listening_socket(tmp_path):
    regular = tmp_path / "f"
    regular.write_text("keep me")
    proc = subprocess.run([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                           "127.0.0.1:0", "--serial-listen", str(regular)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "exists and is not a socket" in proc.stderr
    assert regular.read_text() == "keep me"


def test_a_message_to_the_broadcast_eid_is_answered(served):
    server, line = served
    line.send(mf.TYPE_CONTROL, b"\x80\x02", dst=0xFF)
    assert line.receive().body[3] == 8
    assert server.stats["not_for_us"] == 0


class ShortWrites:
    """``os`` for the serial server, but a write takes at most 16 bytes (a busy line)."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def write(fd, data):
        return os.write(fd, bytes(data[:16]))


def test_a_line_taking_a_few_bytes_per_write_still_gets_every_byte_of_the_reply(served,
                                                                                 monkeypatch):
    from cxlmi_bindings.emulator import serial_server
    server, line = served
    monkeypatch.setattr(serial_server, "os", ShortWrites())
    line.send(mf.TYPE_CCI, cci.encode(IDENTIFY, b"", tag=7), tag=4)
    hdr = cci.decode_header(line.receive().body)
    assert (hdr.opcode, hdr.tag, hdr.return_code) == (IDENTIFY, 7, 0)
    assert line.decoder.errors == dict.fromkeys(ms.ERROR_KINDS, 0)


def test_noise_bytes_are_counted_once_each(served):
    server, line = served
    for noise in (b"noise", b"more"):          # two reads of line noise before any frame
        line.sock.sendall(noise)
        time.sleep(0.1)
    line.send(mf.TYPE_CONTROL, b"\x80\x02")
    assert line.receive().body[3] == 8
    assert server.stats["noise_bytes"] == 9


class StuckOnce(ShortWrites):
    """``os`` for the serial server: the first write finds the line full."""

    def __init__(self):
        self.stuck = True

    def write(self, fd, data):
        if self.stuck:
            self.stuck = False
            raise BlockingIOError(11, "line full")
        return os.write(fd, data)


class LeapingClock:
    """``time`` for the serial server: each reading is 11 seconds after the last."""

    def __init__(self):
        self.now = time.monotonic()

    def monotonic(self):
        self.now += 11.0
        return self.now


def test_a_reply_the_line_takes_nothing_of_for_ten_seconds_is_dropped(served, monkeypatch):
    from cxlmi_bindings.emulator import serial_server
    server, line = served
    monkeypatch.setattr(serial_server, "os", StuckOnce())
    monkeypatch.setattr(serial_server, "time", LeapingClock())
    line.send(mf.TYPE_CONTROL, b"\x80\x02", tag=2)
    assert line.silent()
    line.send(mf.TYPE_CONTROL, b"\x80\x02", tag=3)
    reply = line.receive()
    assert reply.tag == 3 and server.stats["replies"] == 2
