# SPDX-License-Identifier: LGPL-2.1-or-later
"""``--timeout`` is the time a command takes, whatever the peer does.

The connection, the Identify probe a ``tcp:`` endpoint gets on open and the
command itself share one deadline: a peer that answers every request a little
inside the timeout, or one that floods wrong-tag replies, still ends the
command within the timeout (plus start-up), with exit status 5 -- through the
real ``cxl-mi`` process against real sockets on 127.0.0.1.
"""

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings.emulator import profiles

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Peer:
    """A type 3 device on 127.0.0.1 that misbehaves in time: ``delay`` seconds before
    each reply, or (``spam``) wrong-tag replies every 20 ms instead of the reply."""

    def __init__(self, delay=0.0, spam=False):
        self.delay, self.spam = delay, spam
        self.held = []
        self.device = profiles.build("type3")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            threading.Thread(target=self.client, args=(conn,), daemon=True).start()

    def client(self, conn):
        rx, seq = mf.Reassembler(), 0
        opened = time.monotonic()
        conn.settimeout(0.05)
        try:
            while not self.stopping.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    # how long cxl-mi kept the connection: its waiting, without the
                    # interpreter's start-up
                    self.held.append(time.monotonic() - opened)
                    return
                for msg in rx.feed(data):
                    if not isinstance(msg, mf.Message):
                        continue
                    if msg.msg_type == mf.TYPE_CONTROL:
                        # Get Message Type Support, answered at once (an MCTP layer's job)
                        reply = bytes((msg.body[0] & 0x1F, msg.body[1], 0, 2, 7, 8))
                        out, seq = mf.frame(0, reply, msg.src, 8, msg.tag, 0, seq)
                        conn.sendall(out)
                        continue
                    reply = self.device.handle(msg.body, msg.msg_type)
                    if self.spam:
                        while not self.stopping.is_set():
                            wrong = (msg.tag + 1) & mf.TAG_MASK
                            out, seq = mf.frame(msg.msg_type, reply, msg.src, 8, wrong, 0, seq)
                            try:
                                conn.sendall(out)
                            except OSError:             # cxl-mi gave up and left
                                self.held.append(time.monotonic() - opened)
                                return
                            time.sleep(0.02)
                    if not self.pause(conn, opened):
                        return
                    out, seq = mf.frame(msg.msg_type, reply, msg.src, 8, msg.tag, 0, seq)
                    conn.sendall(out)
        except OSError:
            pass
        finally:
            conn.close()

    def pause(self, conn, opened):
        """Wait ``delay`` before answering, watching for cxl-mi leaving meanwhile
        (then note when, and say False)."""
        end = time.monotonic() + self.delay
        while time.monotonic() < end:
            try:
                if conn.recv(1, socket.MSG_PEEK) == b"":
                    self.held.append(time.monotonic() - opened)
                    return False
            except socket.timeout:
                pass
            time.sleep(0.01)
        return True

    def close(self):
        self.stopping.set()
        self.thread.join(2)
        self.listener.close()


@pytest.fixture
def peer():
    made = []

    def make(**kw):
        made.append(Peer(**kw))
        return made[-1]
    yield make
    for p in made:
        p.close()


def cxl_mi(*args):
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "cxlmi_cli"] + list(args), cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True,
                         timeout=30)
    return out.returncode, out.stderr, time.monotonic() - start


def wait_for(cond, within=3.0):
    end = time.monotonic() + within
    while not cond() and time.monotonic() < end:
        time.sleep(0.02)
    return cond()


def test_a_peer_answering_inside_the_timeout_each_time_still_ends_the_command_in_it(peer):
    # the probe is answered after 0.9 s and the command would be too: each inside 1 s,
    # both together not (with a timeout per exchange this would succeed after 1.8 s)
    slow = peer(delay=0.9)
    code, err, took = cxl_mi("identify", "tcp:127.0.0.1:%d" % slow.port, "--timeout", "1")
    assert code == 5, err
    assert "no reply within 1s" in err
    assert wait_for(lambda: slow.held)
    assert slow.held[0] <= 1.0 + 0.3            # connected to gone, as the peer saw it


def test_a_peer_flooding_wrong_tag_replies_cannot_stretch_the_timeout(peer):
    spammer = peer(spam=True)
    code, err, took = cxl_mi("identify", "tcp:127.0.0.1:%d" % spammer.port, "--timeout", "1")
    assert code == 5, err
    assert wait_for(lambda: spammer.held)
    assert spammer.held[0] <= 1.0 + 0.3         # a reply every 20 ms never resets the wait


def test_a_peer_answering_in_time_is_served_and_later_commands_get_their_own_timeout(
        peer, tmp_path):
    slow = peer(delay=0.3)
    target = "tcp:127.0.0.1:%d" % slow.port
    code, err, took = cxl_mi("identify", target, "--timeout", "1")   # 0.3 + 0.3 s
    assert code == 0, err
    fw = tmp_path / "fw.bin"
    fw.write_bytes(b"REV-9".ljust(16, b"\0") + bytes(3 * 128 - 16))
    # probe, Get FW Info, three parts, Get FW Info again: about 2 s in all, each
    # command well inside its 1 s
    code, err, took = cxl_mi("generic", "transfer-fw", target, str(fw), "--chunk-size", "128",
                             "--slot", "2", "--timeout", "1", "--json")
    assert code == 0, err
    assert took > 1.5
