# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi emulate` as a real server process, used by other cxl-mi processes.

One client process changes the emulated device, a second one sees the
change; with ``--state FILE`` the change also outlives the server (stopped
cleanly, or killed after the periodic save), and a background operation in
flight (one pickle cannot hold) comes back as aborted.  Every server is
killed in teardown, whatever happened.
"""

import contextlib
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

    def start(*args, env=None):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cxlmi_cli", "emulate", "--listen", "127.0.0.1:0"]
            + list(args), cwd=ROOT, env=dict(ENV, **(env or {})), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        started.append(proc)
        line = _readline(proc, 20)
        m = re.search(r"listening on tcp:127\.0\.0\.1:(\d+)", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        return proc, "tcp:127.0.0.1:%s" % m.group(1)

    yield start
    for proc in started:
        _reap(proc)


def _reap(proc):
    """Kill ``proc`` if it still runs, wait for it, close its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for stream in (proc.stdout, proc.stderr):
        stream.close()


@contextlib.contextmanager
def emulating(*args):
    """``python -m cxlmi_cli emulate ARGS`` as it starts (no output read yet); reaped
    on the way out, however the test ends."""
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate"] + list(args),
                            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        yield proc
    finally:
        _reap(proc)


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
    state.write_bytes(b"not a state file at all")
    out = cxl_mi("emulate", "--profile", "type3", "--listen", "127.0.0.1:0", "--state",
                 str(state))
    assert out.returncode == 2 and out.stderr.decode() == (
        "cxl-mi: error: --state %s is not a whole JSON document (cut short or damaged: "
        "Expecting value: line 1 column 1 (char 0))\n" % state)


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



def test_without_a_profile_or_an_eid_it_emulates_a_switch_at_eid_8():
    with emulating("--listen", "127.0.0.1:0") as proc:
        line = _readline(proc, 20)
        m = re.fullmatch(r"listening on tcp:127\.0\.0\.1:(\d+) \(emu:switch, EID 8\); "
                         r"Ctrl-C stops\n", line)
        assert m, line
        target = "tcp:127.0.0.1:%s" % m.group(1)
        out = cxl_mi("mctp", "get-eid", target, "--json")
        assert json.loads(out.stdout)["result"]["eid"] == 8
        out = cxl_mi("identify", target, "--json")
        assert json.loads(out.stdout)["result"]["component_type_decoded"] == "switch"
        code, err = stop(proc)
    assert code == 0



def test_port_0_picks_a_free_port_for_each_server(servers):
    _, first = servers("--profile", "type3")
    _, second = servers("--profile", "switch")         # both at once
    assert first != second
    assert json.loads(cxl_mi("identify", first, "--json").stdout)["result"][
        "component_type_decoded"] == "type3"

def test_without_listen_it_serves_loopback_port_2508_with_the_documented_limits(monkeypatch):
    # the server is built as the options say, then handed to _serve (stubbed: 2508 may be
    # taken on this machine); beyond loopback only when asked
    from cli_helpers import runner
    from cxlmi_cli.commands import emulate
    from cxlmi_cli.main import cli
    served = []
    monkeypatch.setattr(emulate, "_serve", lambda server, *a: served.append(server))
    res = runner().invoke(cli, ["emulate"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    (server,) = served
    assert (server.host, server.port) == ("127.0.0.1", 2508)
    assert (server.max_clients, server.idle_timeout, server.message_timeout) == (64, 300, 30)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_listening_line_of_an_ipv6_address_has_brackets(workers):
    with emulating("--listen", "[::1]:0", "--profile", "type3", "--workers", workers) as proc:
        line = _readline(proc, 20)
        m = re.match(r"listening on (tcp:\[::1\]:\d+) \(emu:type3, EID 8", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        out = cxl_mi("identify", m.group(1), "--json")     # the address as shown works
        assert out.returncode == 0 and json.loads(out.stdout)["result"]["component_type"] == 3
        code, err = stop(proc)
    assert code == 0

# -- what `cxl-mi emulate` refuses, and what it warns about --------------------------------

@contextlib.contextmanager
def port_in_use():
    """A loopback port another socket is listening on."""
    import socket
    taken = socket.socket()
    try:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        yield taken.getsockname()[1]
    finally:
        taken.close()


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_a_port_already_in_use_cannot_be_listened_on_exit_3(workers):
    with port_in_use() as port:
        out = cxl_mi("emulate", "--profile", "type3", "--listen", "127.0.0.1:%d" % port,
                     *workers)
    assert out.returncode == 3 and out.stdout == b""
    assert out.stderr.decode() == ("cxl-mi: error: cannot listen on 127.0.0.1:%d: Address "
                                   "already in use\n" % port)


def test_a_port_in_use_leaves_no_serial_socket_behind(tmp_path):
    line = str(tmp_path / "line")
    with port_in_use() as port:
        out = cxl_mi("emulate", "--profile", "type3", "--listen", "127.0.0.1:%d" % port,
                     "--serial-listen", line)
    assert out.returncode == 3 and b"cannot listen on" in out.stderr
    assert os.listdir(str(tmp_path)) == []


def test_listening_beyond_loopback_warns_and_a_loopback_listener_does_not(servers):
    with emulating("--profile", "type3", "--listen", "0.0.0.0:0") as proc:
        line = _readline(proc, 20)
        m = re.search(r"listening on tcp:0\.0\.0\.0:(\d+)", line)
        assert m, line
        # the only traffic: from this machine to its loopback address
        out = cxl_mi("identify", "tcp:127.0.0.1:%s" % m.group(1), "--json")
        assert out.returncode == 0 and json.loads(out.stdout)["result"]["component_type"] == 3
        code, err = stop(proc)
    assert code == 0
    warned = [l for l in err.splitlines() if "loopback" in l]
    assert warned == ["cxl-mi: warning: listening on 0.0.0.0:%s, which is not a loopback "
                      "address: anyone who can reach it can manage the emulated devices"
                      % m.group(1)]                  # once, not twice
    loopback, _ = servers("--profile", "type3")
    code, err = stop(loopback)
    assert code == 0 and "warning" not in err and "loopback" not in err


def test_a_state_file_from_another_profile_is_refused_and_left_as_it_is(servers, tmp_path):
    state = str(tmp_path / "type3.state")
    proc, target = servers("--profile", "type3", "--state", state)
    set_lsa(target, b"T3T3")
    assert stop(proc)[0] == 0
    with open(state, "rb") as f:
        saved = f.read()
    out = cxl_mi("emulate", "--profile", "switch", "--listen", "127.0.0.1:0", "--state", state)
    assert out.returncode == 2 and out.stdout == b""
    assert out.stderr.decode() == ("cxl-mi: error: --state %s holds the state of a Type3, "
                                   "not of the Switch this profile builds\n" % state)
    with open(state, "rb") as f:
        assert f.read() == saved


def _unwritable_dir(tmp_path):
    """A directory where creating a file fails with EACCES/EPERM for this process, for
    real: a read-only directory (for anyone but root), or sysfs (even for root)."""
    import errno
    ro = tmp_path / "read-only"
    ro.mkdir()
    os.chmod(str(ro), 0o555)
    for where in (str(ro), "/sys/kernel"):
        probe = os.path.join(where, "cxlmi-probe.%d" % os.getpid())
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                return where
            continue
        os.close(fd)
        os.unlink(probe)
    pytest.skip("no directory here refuses this process a new file with EACCES/EPERM")


def test_a_state_file_that_cannot_be_written_is_refused_at_start_with_exit_4(tmp_path):
    state = os.path.join(_unwritable_dir(tmp_path), "cxlmi.state")
    out = cxl_mi("emulate", "--profile", "type3", "--listen", "127.0.0.1:0", "--state", state)
    assert out.returncode == 4 and out.stdout == b""
    assert out.stderr.decode() == ("cxl-mi: error: --state %s: cannot write the state there: "
                                   "Permission denied\n" % state)


def test_a_state_file_in_a_directory_that_does_not_exist_is_a_usage_error(tmp_path):
    state = str(tmp_path / "no-such-dir" / "cxlmi.state")
    out = cxl_mi("emulate", "--profile", "type3", "--listen", "127.0.0.1:0", "--state", state)
    assert out.returncode == 2
    assert out.stderr.decode() == ("cxl-mi: error: --state %s: cannot write the state there: "
                                   "No such file or directory\n" % state)


def _state_directory_removed(servers, tmp_path):
    """A type 3 emulator saving its state in a directory, then the directory removed and a
    change sent: (process, target, the directory, the state file, cxl-mi's result)."""
    import shutil
    where = tmp_path / "state-dir"
    where.mkdir()
    state = str(where / "t3.state")
    proc, target = servers("--profile", "type3", "--state", state)
    shutil.rmtree(str(where))
    out = cxl_mi("memdev", "set-lsa", target, "--offset", "64", "--data-hex",
                 b"GONE".hex(), "--yes")
    return proc, target, where, state, out


def test_a_state_directory_removed_while_serving_refuses_changes_and_undoes_them(servers,
                                                                                tmp_path):
    proc, target, _, state, out = _state_directory_removed(servers, tmp_path)
    # a change that cannot be made durable is not acknowledged, and not kept either:
    # the requester was told it failed
    assert out.returncode == 1 and b"INTERNAL" in out.stderr
    assert proc.poll() is None              # still serving
    read = cxl_mi("memdev", "get-lsa", target, "--offset", "64", "--length", "4", "-o", "raw")
    assert read.returncode == 0 and read.stdout != b"GONE"
    code, err = stop(proc)                  # nothing changed since the last save: a clean stop
    assert code == 0 and "Traceback" not in err, err


def test_sigterm_right_after_the_listening_line_stops_the_server_cleanly(servers):
    for _ in range(3):
        proc, _ = servers("--profile", "type3")
        code, err = stop(proc)              # no pause: the handler is in place already
        assert code == 0 and err.strip().splitlines()[-1] == "stopped"


def test_permission_denied_on_the_state_file_maps_to_exit_4_at_the_seam(tmp_path,
                                                                        monkeypatch):
    # the same mapping where no directory refuses this process (the test above skips)
    import errno
    from cli_helpers import runner
    from cxlmi_cli.commands import emulate
    from cxlmi_cli.main import cli
    state = str(tmp_path / "cxlmi.state")

    def refused(path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path + ".tmp")
    monkeypatch.setattr(emulate, "check_writable", refused)
    res = runner().invoke(cli, ["emulate", "--profile", "type3", "--listen", "127.0.0.1:0",
                                "--state", state], catch_exceptions=False)
    assert res.exit_code == 4
    assert res.stderr == ("cxl-mi: error: --state %s: cannot write the state there: "
                          "Permission denied\n" % state)
    assert not os.path.exists(state)



def test_permission_denied_reading_the_state_file_is_exit_4(tmp_path, monkeypatch):
    # as writing it (above): where no file refuses this process, at the seam
    import errno
    from cli_helpers import runner
    from cxlmi_bindings.emulator.state import StateFile
    from cxlmi_cli.main import cli
    state = str(tmp_path / "cxlmi.state")

    def refused(self, device):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), self.path)
    monkeypatch.setattr(StateFile, "load", refused)
    res = runner().invoke(cli, ["emulate", "--profile", "type3", "--listen", "127.0.0.1:0",
                                "--state", state], catch_exceptions=False)
    assert res.exit_code == 4
    assert res.stderr == ("cxl-mi: error: --state %s: cannot read it: Permission denied\n"
                          % state)


def test_a_state_file_that_cannot_be_read_for_another_reason_is_a_usage_error(tmp_path):
    state = str(tmp_path / "loop.state")
    os.symlink(state, state)                    # a link to itself: ELOOP on open
    out = cxl_mi("emulate", "--profile", "type3", "--listen", "127.0.0.1:0", "--state", state)
    assert out.returncode == 2 and out.stdout == b""
    assert out.stderr.decode() == ("cxl-mi: error: --state %s: cannot read it: Too many "
                                   "levels of symbolic links\n" % state)


def test_a_change_refused_for_want_of_its_save_is_never_saved_later(servers, tmp_path):
    # it was: told INTERNAL, the change stayed in the device and the next periodic save
    # made it durable once the directory was back
    proc, target, where, state, out = _state_directory_removed(servers, tmp_path)
    assert out.returncode == 1                  # refused: it could not be made durable
    where.mkdir()                               # the directory is back
    time.sleep(2.5)                             # the periodic save had its chance
    code, err = stop(proc)
    assert code == 0 and "Traceback" not in err
    again, target = servers("--profile", "type3", "--state", state)
    read = cxl_mi("memdev", "get-lsa", target, "--offset", "64", "--length", "4", "-o", "raw")
    assert read.returncode == 0 and read.stdout != b"GONE"
    assert stop(again)[0] == 0


def test_a_second_server_on_the_same_state_file_is_refused(servers, tmp_path):
    # both served, each its own copy; the last to save dropped the other's acknowledged
    # changes.  A symbolic link to the file is the same file.
    state = str(tmp_path / "t3.state")
    first, _ = servers("--profile", "type3", "--state", state)
    os.symlink(state, str(tmp_path / "link.state"))
    for path in (state, str(tmp_path / "link.state")):
        out = cxl_mi("emulate", "--profile", "type3", "--listen", "127.0.0.1:0",
                     "--state", path)
        assert out.returncode == 2, out.stderr
        assert b"is in use by another cxl-mi emulate (pid %d)" % first.pid in out.stderr
    assert stop(first)[0] == 0
    second, _ = servers("--profile", "type3", "--state", state)     # free again
    assert stop(second)[0] == 0


def test_a_state_file_behind_a_symbolic_link_is_written_through_it(servers, tmp_path):
    # the link was replaced by a regular file, and the volume it pointed to kept a stale one
    volume = tmp_path / "volume"
    volume.mkdir()
    real = volume / "t3.state"
    link = tmp_path / "t3.state"
    os.symlink(str(real), str(link))
    proc, target = servers("--profile", "type3", "--state", str(link))
    assert cxl_mi("memdev", "set-lsa", target, "--offset", "64", "--data-hex",
                  b"KEPT".hex(), "--yes").returncode == 0
    assert stop(proc)[0] == 0
    assert os.path.islink(str(link)) and real.stat().st_size > 0
    again, target = servers("--profile", "type3", "--state", str(real))
    read = cxl_mi("memdev", "get-lsa", target, "--offset", "64", "--length", "4", "-o", "raw")
    assert read.stdout == b"KEPT"
    assert stop(again)[0] == 0


def test_emulate_run_in_process_again_shows_each_warning_once(monkeypatch):
    # the warnings' handler goes with the run that added it
    import logging
    from cli_helpers import runner
    from cxlmi_cli.commands import emulate
    from cxlmi_cli.main import cli
    monkeypatch.setattr(logging.getLogger(), "handlers", [])     # no logging set up (no -v)
    monkeypatch.setattr(emulate, "_serve", lambda *a: logging.getLogger(
        "cxlmi.emulator").warning("a client left in the middle of a message"))
    for _ in range(2):
        res = runner().invoke(cli, ["emulate", "--profile", "type3", "--listen",
                                    "127.0.0.1:0"], catch_exceptions=False)
        assert res.exit_code == 0
        assert res.stderr == "cxl-mi: warning: a client left in the middle of a message\n"

@pytest.mark.parametrize("workers", [1, 2])
def test_emulate_keeps_freed_memory_before_it_serves(monkeypatch, workers):
    # its messages are up to 1 MiB, one after another: glibc is asked to keep the
    # freed blocks (the serving itself is stubbed; what is checked is the order)
    from cli_helpers import runner
    from cxlmi_bindings import _memory
    from cxlmi_cli.commands import emulate
    from cxlmi_cli.main import cli
    calls = []
    monkeypatch.setattr(_memory, "keep_freed_memory", lambda: calls.append("keep"))
    monkeypatch.setattr(emulate, "_serve", lambda *a: calls.append("serve"))
    monkeypatch.setattr(emulate, "_serve_workers", lambda *a: calls.append("serve"))
    res = runner().invoke(cli, ["emulate", "--profile", "type3", "--listen", "127.0.0.1:0",
                                "--workers", str(workers)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert calls == ["keep", "serve"]


def test_sigterm_inside_until_stopped_ends_it_quietly_and_the_old_handler_comes_back():
    # emulate and exporter run in a test's or a program's own process too: after them
    # a SIGTERM must do what it did before, not raise KeyboardInterrupt somewhere else
    from cxlmi_cli.stopping import until_stopped
    seen = []
    before = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with until_stopped():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)                   # the handler raises here, ending the block
            pytest.fail("SIGTERM did not stop the block")
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
        except KeyboardInterrupt:
            pytest.fail("after until_stopped a SIGTERM still raises KeyboardInterrupt")
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, before)


def test_requests_that_change_nothing_write_no_state(servers, tmp_path):
    # an exporter or monitor polling the emulator rewrote and fsync'ed the whole file
    # every second
    state = str(tmp_path / "t3.state")
    proc, target = servers("--profile", "type3", "--state", state)
    assert cxl_mi("memdev", "set-lsa", target, "--offset", "0", "--data-hex", "aa",
                  "--yes").returncode == 0
    written = os.stat(state).st_ino
    for _ in range(3):
        assert cxl_mi("memdev", "get-health-info", target).returncode == 0
    time.sleep(1.5)                             # the periodic save had its turn
    assert os.stat(state).st_ino == written
    assert stop(proc)[0] == 0
    assert os.stat(state).st_ino == written     # nor at exit


def test_sighup_stops_the_server_as_sigterm_does(servers, tmp_path):
    # SIGHUP ended it with 129, no "stopped" and no clean-up
    state = str(tmp_path / "t3.state")
    proc, target = servers("--profile", "type3", "--state", state)
    assert cxl_mi("memdev", "set-lsa", target, "--offset", "0", "--data-hex", "aa",
                  "--yes").returncode == 0
    code, err = stop(proc, signal.SIGHUP)
    assert code == 0 and err.strip().splitlines()[-1] == "stopped", err
