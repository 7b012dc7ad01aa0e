# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a user meets, driven through a real ``cxl-mi`` process.

Each test starts ``python -m cxlmi_cli`` and gives it the real condition: a
pipe whose reader has gone, a peer on 127.0.0.1 that accepts and never
answers (or resets the connection, or never accepts), a SIGINT while it
waits, a terminal that sends end-of-file at a confirmation prompt, a host
name that cannot resolve.  Exit status and what stderr says are checked as
the user sees them.  Every peer listens on 127.0.0.1 only; every wait is
bounded.
"""

import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = [sys.executable, "-m", "cxlmi_cli"]


def environment():
    """The test session's environment (tests/conftest.py pins the terminal), no target."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("CXLMI_TARGET", None)
    return env


def cxl_mi(*args, timeout=30, **kw):
    """One cxl-mi run: (exit status, stdout bytes, stderr text, seconds it took)."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("stdout", subprocess.PIPE)
    start = time.monotonic()
    out = subprocess.run(CLI + list(args), cwd=ROOT, env=environment(), stderr=subprocess.PIPE,
                         timeout=timeout, **kw)
    return out.returncode, out.stdout, out.stderr.decode(), time.monotonic() - start


# ------------------------------------------------------------------- peers on 127.0.0.1

class Peer:
    """A TCP listener on 127.0.0.1.  ``silent``: accepts, reads, never answers.
    ``reset``: reads the first packet of each request, then resets the connection."""

    def __init__(self, mode="silent"):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.target = "tcp:127.0.0.1:%d" % self.port
        self.received = threading.Event()      # some request bytes arrived
        self.resets = 0
        self.conns = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.conns.append(conn)
            conn.settimeout(5)
            try:
                data = conn.recv(68)
            except OSError:
                continue
            if data:
                self.received.set()
            if self.mode == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                self.resets += 1

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def peer():
    peers = []

    def make(mode="silent"):
        p = Peer(mode)
        peers.append(p)
        return p
    yield make
    for p in peers:
        p.close()


# ------------------------------------------------------------------- broken pipe

@pytest.mark.parametrize("args", [
    ("identify", "emu:type3"),                                  # table (rich)
    ("identify", "emu:type3", "--json"),
    ("memdev", "get-lsa", "emu:type3", "--length", "16", "-o", "raw"),
    ("--help",),
    ("--version",),
], ids=["table", "json", "raw", "help", "version"])
def test_output_into_a_pipe_whose_reader_has_gone_exits_0_and_says_nothing(args):
    read_end, write_end = os.pipe()
    os.close(read_end)              # `| head` that has already exited
    try:
        code, _, err, _ = cxl_mi(*args, stdout=write_end)
    finally:
        os.close(write_end)
    assert (code, err) == (0, "")


@pytest.mark.parametrize("args, code, said", [
    (("memdev", "get-health-info", "emu:switch", "--json"), 1,
     "cxl-mi: error: memdev_get_health_info: CXL return code 3 (UNSUPPORTED)"),
    # click words it "No such option: --bogus" up to 8.1 and "No such option '--bogus'" after
    (("identify", "--bogus", "--json"), 2, "cxl-mi: error: No such option"),
    (("identify", "tcp:127.0.0.1:1", "--json"), 3,
     "cxl-mi: error: 127.0.0.1:1: connection refused"),
], ids=["device error", "usage error", "transport error"])
def test_an_error_whose_json_finds_no_reader_keeps_its_exit_code(args, code, said):
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        status, _, err, _ = cxl_mi(*args, stdout=write_end)
    finally:
        os.close(write_end)
    assert status == code
    assert len(err.splitlines()) == 1 and err.startswith(said), err
    if code == 2:
        assert "--bogus" in err


# ------------------------------------------------------------------- -v / -vv

def test_verbose_logs_each_command_and_very_verbose_also_the_request():
    args = ("memdev", "get-lsa", "emu:type3", "--offset", "0x40", "--length", "4")
    quiet = cxl_mi(*args)
    info = cxl_mi("-v", *args)
    debug = cxl_mi("-vv", *args)
    assert [r[0] for r in (quiet, info, debug)] == [0, 0, 0]
    sent = "cxl-mi: cxlmi.cli: memdev_get_lsa (4102h) -> emu:type3"
    got = "cxl-mi: cxlmi.cli: memdev_get_lsa: 4 reply payload bytes"
    request = "cxl-mi: cxlmi.cli: request: offset=64, length=4"
    message = ("cxl-mi: cxlmi: memdev_get_lsa (4102h): sent 00 01 00 02 41 08 00 00 00 00 00 00 "
               "40 00 00 00 04 00 00 00")
    reply = ("cxl-mi: cxlmi: memdev_get_lsa (4102h): received 01 01 00 02 41 04 00 00 00 00 00 "
             "00 00 00 00 00")
    assert quiet[2] == ""
    assert info[2].splitlines() == [sent, got]
    assert debug[2].splitlines() == [sent, request, message, reply, got]
    assert quiet[1] == info[1] == debug[1]          # logging never reaches stdout


# ------------------------------------------------------------------- --timeout

def test_timeout_against_a_peer_that_never_answers_exits_5_after_about_that_long(peer):
    silent = peer("silent")
    code, out, err, took = cxl_mi("identify", silent.target, "--timeout", "1")
    assert silent.received.is_set()
    assert code == 5 and out == b""
    assert err.startswith("cxl-mi: error: 127.0.0.1:%d: no reply within 1s" % silent.port)
    # the default is 5 s: one second plus start-up, never the default
    assert 1.0 <= took < 4.0


def test_timeout_also_bounds_a_connection_nobody_accepts():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(3):          # fill the accept queue: later SYNs are dropped
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        time.sleep(0.1)
        code, _, err, took = cxl_mi("identify", "tcp:127.0.0.1:%d" % port, "--timeout", "1")
    finally:
        for s in fillers:
            s.close()
        listener.close()
    assert code == 5
    assert "no answer to the connection request within 1s" in err
    assert took < 4.0


# ------------------------------------------------------------------- SIGINT

def test_sigint_while_waiting_for_a_reply_exits_130_with_one_short_line(peer):
    silent = peer("silent")
    proc = subprocess.Popen(CLI + ["identify", silent.target, "--timeout", "30"], cwd=ROOT,
                            env=environment(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert silent.received.wait(20), "cxl-mi never sent its request"
        time.sleep(0.2)             # inside the wait for the reply
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert time.monotonic() - sent < 5
    assert out == "" and err.strip() == "cxl-mi: interrupted"


# ------------------------------------------------------------------- confirmation

def test_end_of_input_at_the_confirmation_prompt_is_aborted_exit_2():
    master, slave = pty.openpty()
    proc = subprocess.Popen(CLI + ["memdev", "set-lsa", "emu:type3", "--data-hex", "00"],
                            cwd=ROOT, env=environment(), stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    os.close(slave)
    err = b""
    try:
        deadline = time.monotonic() + 20
        while b"Continue?" not in err and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.2)
            if ready:
                chunk = os.read(proc.stderr.fileno(), 4096)
                if not chunk:
                    break
                err += chunk
        assert b"Continue? [y/N]" in err, err
        os.write(master, b"\x04")           # Ctrl-D: end of input on the terminal
        out, rest = proc.communicate(timeout=10)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = (err + rest).decode()
    assert proc.returncode == 2 and out == b""
    assert err.splitlines()[-1].endswith("cxl-mi: aborted (no input)")
    assert "Traceback" not in err


@pytest.mark.parametrize("stdin", ["devnull", "empty pipe"])
def test_a_destructive_command_without_a_terminal_refuses_without_yes(stdin):
    if stdin == "devnull":
        source = subprocess.DEVNULL
    else:
        r, w = os.pipe()
        os.close(w)
        source = r
    try:
        code, out, err, _ = cxl_mi("memdev", "set-lsa", "emu:type3", "--data-hex", "00",
                                   stdin=source)
    finally:
        if stdin != "devnull":
            os.close(source)
    assert code == 2 and out == b""
    assert err == ("cxl-mi: error: memdev set-lsa on emu:type3: Write the label storage "
                   "area (data=00) -- refusing without --yes (stdin is not a terminal to "
                   "ask on); nothing was sent (hint: add --yes to do it)\n")


# ------------------------------------------------------------------- TCP failures

def test_a_host_name_that_cannot_resolve_is_exit_3_naming_the_host():
    code, out, err, _ = cxl_mi("identify", "tcp:no-such-host.invalid")
    assert code == 3 and out == b""
    assert err.startswith("cxl-mi: error: no-such-host.invalid:2508: cannot resolve host: ")
    assert "check the host name in tcp:HOST[:PORT]" in err


def test_a_port_nobody_listens_on_is_refused_exit_3():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))       # bound, never listening: connections are refused
    port = closed.getsockname()[1]
    try:
        code, _, err, _ = cxl_mi("identify", "--tcp", "127.0.0.1:%d" % port)
    finally:
        closed.close()
    assert code == 3
    assert err == ("cxl-mi: error: 127.0.0.1:%d: connection refused (hint: is `cxl-mi "
                   "emulate --listen 127.0.0.1:%d` running?)\n" % (port, port))


def test_a_peer_resetting_the_connection_while_we_wait_is_exit_3(peer):
    resetting = peer("reset")
    code, out, err, _ = cxl_mi("identify", resetting.target, "--timeout", "5")
    assert resetting.resets >= 1
    assert code == 3 and out == b""
    assert re.match(r"cxl-mi: error: 127\.0\.0\.1:%d: receiving: Connection reset by peer "
                    r"\(hint: the peer reset the connection: .*--max-clients.*\)$"
                    % resetting.port, err.strip()), err


def test_json_mode_reports_a_transport_failure_as_a_json_object_too(peer):
    silent = peer("silent")
    import json
    code, out, err, _ = cxl_mi("identify", silent.target, "--timeout", "0.5", "--json")
    assert code == 5
    doc = json.loads(out)
    assert doc["error"]["type"] == "CommandTimeout" and doc["error"]["exit_code"] == 5
    assert "no reply within 0.5s" in doc["error"]["message"]


def test_sigint_during_wait_aborts_the_background_operation_and_exits_130():
    import json
    server = subprocess.Popen(CLI + ["emulate", "--profile", "type3", "--listen",
                                     "127.0.0.1:0"], cwd=ROOT, env=environment(),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    waiting = None
    try:
        ready, _, _ = select.select([server.stdout], [], [], 20)
        m = ready and re.search(r"listening on tcp:127\.0\.0\.1:(\d+)", server.stdout.readline())
        assert m, "the emulator did not start"
        target = "tcp:127.0.0.1:%s" % m.group(1)
        waiting = subprocess.Popen(CLI + ["memdev", "sanitize", target, "--yes", "--wait"],
                                   cwd=ROOT, env=environment(), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ready, _, _ = select.select([waiting.stderr], [], [], 20)
        said = waiting.stderr.readline() if ready else ""
        assert said.startswith("cxl-mi: memdev sanitize on %s" % target), said
        time.sleep(0.7)                       # sanitize started; cxl-mi polls its status
        waiting.send_signal(signal.SIGINT)
        out, err = waiting.communicate(timeout=10)
        assert waiting.returncode == 130 and out == ""
        assert re.fullmatch(r"cxl-mi: interrupted: sanitize: asked the device to abort its "
                            r"background operation \(Request Abort Background Operation, "
                            r"0005h\); it stopped at \d+ %\n", err), err
        code, status, _, _ = cxl_mi("generic", "bg-op-status", target, "--json")
        status = json.loads(status)["result"]
        assert code == 0
        assert status["opcode_decoded"] == "memdev_sanitize"
        assert status["returncode_decoded"] == "ABORT"
        assert status["status_decoded"]["in_progress"] is False
    finally:
        for proc in (waiting, server):
            if proc is not None and proc.poll() is None:
                proc.kill()
            if proc is not None:
                proc.communicate()
