# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi emulate` as a real server process, used by other cxl-mi processes.

One client process changes the emulated device, a second one sees the
change; with ``--state FILE`` the change also outlives the server (stopped
cleanly, or killed after the periodic save), and a background operation in
flight (one pickle cannot hold) comes back as aborted.  Every server is
killed in teardown, whatever happened.
"""

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT)
ENV.pop("CXLMI_TARGET", None)


@pytest.fixture
def servers():
    """Start `python -m cxlmi_cli emulate ...`; every one is killed at teardown."""
    started = []

    def start(*args):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cxlmi_cli", "emulate", "--listen", "127.0.0.1:0"]
            + list(args), cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        started.append(proc)
        line = _readline(proc, 20)
        m = re.search(r"listening on tcp:127\.0\.0\.1:(\d+)", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        return proc, "tcp:127.0.0.1:%s" % m.group(1)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def _readline(proc, timeout):
    """The server's first line of output, without hanging when it never comes."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            return ""
        return proc.stdout.readline()
    finally:
        sel.close()


def cxl_mi(*args):
    """One cxl-mi run in its own process."""
    out = subprocess.run([sys.executable, "-m", "cxlmi_cli"] + list(args), cwd=ROOT, env=ENV,
                         capture_output=True, timeout=60)
    assert b"Traceback" not in out.stderr, out.stderr.decode()
    return out


def stop(proc, sig=signal.SIGTERM):
    proc.send_signal(sig)
    code = proc.wait(20)
    return code, proc.stderr.read()


def lsa(target, *tunnel, length=4):
    out = cxl_mi("memdev", "get-lsa", target, "--offset", "0x40", "--length", str(length),
                 "--json", *tunnel)
    assert out.returncode == 0, out.stderr.decode()
    return bytes.fromhex(json.loads(out.stdout)["result"]["data"])


def set_lsa(target, data, *tunnel):
    out = cxl_mi("memdev", "set-lsa", target, "--offset", "0x40", "--data-hex", data.hex(),
                 "--yes", *tunnel)
    assert out.returncode == 0, out.stderr.decode()


def test_a_second_process_sees_what_the_first_one_changed(servers):
    proc, target = servers("--profile", "type3")
    set_lsa(target, b"\xc0\xff\xee\x01")
    assert lsa(target) == b"\xc0\xff\xee\x01"
    code, err = stop(proc)
    assert code == 0 and "Traceback" not in err


def test_the_state_file_carries_a_fabric_across_a_restart(servers, tmp_path):
    state = str(tmp_path / "fabric.state")
    proc, target = servers("--profile", "switch", "--state", state)
    set_lsa(target, b"PORT", "--port", "1")             # the type 3 device behind port 1
    assert lsa(target, "--port", "1") == b"PORT"
    code, err = stop(proc)
    assert code == 0 and "stopped" in err and os.path.exists(state)
    proc, target = servers("--profile", "switch", "--state", state)
    assert lsa(target, "--port", "1") == b"PORT"
    assert lsa(target, "--port", "2", "--ld", "0") == b"\0\0\0\0"    # the MLD's LD untouched
    assert stop(proc)[0] == 0


def test_the_state_is_saved_while_serving_not_only_at_exit(servers, tmp_path):
    state = str(tmp_path / "t3.state")
    proc, target = servers("--profile", "type3", "--state", state)
    set_lsa(target, b"SAVE")
    deadline = time.monotonic() + 10
    while not os.path.exists(state) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)                     # past the next periodic save as well
    proc.kill()                         # no chance to save at exit
    proc.wait(10)
    proc, target = servers("--profile", "type3", "--state", state)
    assert lsa(target) == b"SAVE"
    assert stop(proc)[0] == 0


def test_a_state_file_that_is_not_one_is_refused_cleanly(tmp_path):
    state = tmp_path / "garbage.state"
    state.write_bytes(b"not a pickle at all")
    out = cxl_mi("emulate", "--profile", "type3", "--listen", "127.0.0.1:0", "--state",
                 str(state))
    assert out.returncode == 2 and b"cannot load the state" in out.stderr


def test_a_running_background_operation_does_not_stop_the_saving(servers, tmp_path):
    state = str(tmp_path / "busy.state")
    proc, target = servers("--profile", "type3", "--state", state)
    # 4 s of background work whose completion pickle cannot hold (a closure)
    out = cxl_mi("memdev", "media-operations-sanitize", target, "--range", "0:256M", "--yes")
    assert out.returncode == 0, out.stderr.decode()
    set_lsa(target, b"BUSY")
    code, err = stop(proc)
    assert code == 0 and "Traceback" not in err and "could not be saved" not in err
    proc, target = servers("--profile", "type3", "--state", state)
    assert lsa(target) == b"BUSY"
    out = cxl_mi("generic", "bg-op-status", target, "--json")
    status = json.loads(out.stdout)["result"]
    assert status["returncode"] == 18 and status["status_decoded"]["in_progress"] is False
    assert stop(proc)[0] == 0
