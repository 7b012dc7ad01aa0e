# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi monitor` as a real process watching `cxl-mi emulate` servers over TCP.

Other cxl-mi processes change the served devices (inject poison, program an
alert threshold, start a media scan, hold a switch port in PERST#) while the
monitor runs, and its JSON lines must say so; a server killed and started
again on the same port shows as one "gone" and one "back" line; SIGTERM stops
the monitor with exit 0, and every event record injected is either in its
output or still on the device (none lost).  Every process is killed in
teardown, whatever happened.
"""

import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT)
ENV.pop("CXLMI_TARGET", None)


class Procs:
    def __init__(self):
        self.started = []

    def spawn(self, *args):
        proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli"] + list(args), cwd=ROOT,
                                env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.started.append(proc)
        return proc

    def server(self, profile, port=0):
        proc = self.spawn("emulate", "--profile", profile, "--listen", "127.0.0.1:%d" % port)
        line = Reader(proc).line(20) or b""     # "listening on ..." is its only line
        m = re.search(rb"listening on tcp:127\.0\.0\.1:(\d+)", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        return proc, int(m.group(1))

    def close(self):
        for proc in self.started:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            for stream in (proc.stdout, proc.stderr):
                stream.close()


class Reader:
    """Lines of a process's stdout, each within a time limit (read from the pipe itself:
    a buffered reader would hide lines from select()).  ``seen``: every JSON line so far."""

    def __init__(self, proc):
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.buf = b""
        self.seen = []

    def line(self, timeout):
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        return raw + b"\n"

    def rest(self):
        """Every JSON line up to the end of the output (the process has ended)."""
        while True:
            raw = self.line(10)
            if not raw:
                return self.seen
            self.seen.append(json.loads(raw))

    def until(self, pred, timeout=20):
        """JSON lines up to and including the first for which ``pred`` is true."""
        got = []
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            raw = self.line(max(0.0, end - time.monotonic()))
            if not raw:
                break
            got.append(json.loads(raw))
            self.seen.append(got[-1])
            if pred(got[-1]):
                return got
        raise AssertionError("no such line within %ss; got %r" % (timeout, got))


@pytest.fixture
def procs():
    p = Procs()
    yield p
    p.close()


def cxl_mi(*args):
    out = subprocess.run([sys.executable, "-m", "cxlmi_cli"] + list(args), cwd=ROOT, env=ENV,
                         capture_output=True, timeout=60)
    assert out.returncode == 0 and b"Traceback" not in out.stderr, out
    return out


def remaining_handles(target):
    """Handles of the records still in every event log of ``target``: every one, so they
    are read and cleared (without clearing only the first batch of each log is seen)."""
    out = json.loads(cxl_mi("generic", "get-event-records", target, "--clear", "--yes",
                            "--json").stdout)
    return {(item["event_log"], r["handle"]) for item in out["result"]["logs"]
            for r in item["records"]}


def monitor(procs, *args):
    proc = procs.spawn("monitor", "--interval", "0.2", "--timeout", "2", *args)
    return proc, Reader(proc)


def test_events_health_and_a_media_scan_show_up_and_sigterm_stops_cleanly(procs):
    _, port = procs.server("type3")
    target = "tcp:127.0.0.1:%d" % port
    mon, out = monitor(procs, target)        # stdout is a pipe: JSON lines by default
    first = out.until(lambda line: line["kind"] == "alert_config")
    assert [line["kind"] for line in first] == ["up", "health", "alert_config"]
    assert first[0]["component_type"] == "type3" and first[0]["transport"] == "tcp"

    cxl_mi("memdev", "inject-poison", target, "--address", "0x1000", "--yes")
    got = out.until(lambda line: line["kind"] == "event")
    event = got[-1]
    assert event["target"] == target and event["log"] == "info"
    assert event["record"]["uuid_decoded"]["name"] == "general-media"

    cxl_mi("memdev", "set-alert-config", target, "--valid", "over-temperature",
           "--enable", "over-temperature", "--over-temperature", "30")
    got = out.until(lambda line: line["kind"] == "event")
    health = [line for line in got if line["kind"] == "health"][0]
    assert health["changes"]["additional_status"]["to"]["device_temperature"] == "warning"
    assert got[-1]["log"] == "warning"
    assert got[-1]["record"]["uuid_decoded"]["name"] == "memory-module"

    cxl_mi("memdev", "scan-media", target, "--address", "0", "--length", "512M")
    got = out.until(lambda line: line["kind"] == "background" and line["state"] == "completed")
    states = [line["state"] for line in got if line["kind"] == "background"]
    assert states == ["running", "completed"]
    assert got[-1]["command"] == "memdev_scan_media"
    assert remaining_handles(target) == set()     # every record written was cleared

    mon.send_signal(signal.SIGTERM)
    assert mon.wait(20) == 0
    assert b"monitor stopped" in mon.stderr.read()


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15])
def test_sigterm_while_events_are_drained_loses_none(procs, delay):
    """30 records arrive at once (fewer than the info log holds, 32: none overflows) and
    SIGTERM follows ``delay`` seconds later, before, while or after the monitor drains
    them: every record is either in its output or still on the device, never both."""
    from cxlmi_bindings.endpoint import Context
    _, port = procs.server("type3")
    target = "tcp:127.0.0.1:%d" % port
    mon, out = monitor(procs, target)
    out.until(lambda line: line["kind"] == "alert_config")
    injected = 30
    with Context() as ctx:                  # a client of the server, as fast as it goes
        ep = ctx.open(target)
        for n in range(injected):
            ep.memdev_inject_poison(inject_poison_phy_addr=0x1000 + 64 * n)
    time.sleep(delay)
    mon.send_signal(signal.SIGTERM)
    assert mon.wait(20) == 0
    reported = [(line["event_log"], line["handle"]) for line in out.rest()
                if line["kind"] == "event"]
    assert len(reported) == len(set(reported))         # none twice
    left = remaining_handles(target)
    assert not set(reported) & left                    # a record written out is cleared
    assert len(set(reported) | left) == injected       # and none is lost


def test_a_server_that_goes_away_and_comes_back_is_one_gone_and_one_back(procs):
    server, port = procs.server("type3")
    target = "tcp:127.0.0.1:%d" % port
    mon, out = monitor(procs, target, "emu:type3")
    out.until(lambda line: line["kind"] == "alert_config" and line["target"] == target)
    server.kill()
    server.wait(10)
    gone = out.until(lambda line: line["kind"] == "gone")[-1]
    assert gone["target"] == target and gone["retry_in"] > 0
    time.sleep(1.5)                     # several retries fail meanwhile, silently
    procs.server("type3", port)
    got = out.until(lambda line: line["kind"] == "back")
    assert [line["kind"] for line in got] == ["back"]      # said once, nothing between
    assert got[0]["target"] == target and got[0]["down_seconds"] > 0
    mon.send_signal(signal.SIGINT)                         # Ctrl-C: the same clean stop
    assert mon.wait(20) == 0


def test_switch_port_state_changes_are_lines(procs):
    _, port = procs.server("switch")
    target = "tcp:127.0.0.1:%d" % port
    mon, out = monitor(procs, target)
    ports = out.until(lambda line: line["kind"] == "port" and line["port"] == 7)
    assert {line["port"] for line in ports if line["kind"] == "port"} == set(range(8))
    cxl_mi("fmapi", "phys-port-control", target, "--ppb-id", "3", "--operation",
           "assert-perst", "--yes")
    change = out.until(lambda line: line["kind"] == "port")[-1]
    assert change["port"] == 3
    assert change["changes"]["ltssm_state"] == {"from": "l0", "to": "detect"}
    mon.send_signal(signal.SIGTERM)
    assert mon.wait(20) == 0


def test_once_reads_clears_and_exits(procs):
    _, port = procs.server("type3")
    target = "tcp:127.0.0.1:%d" % port
    cxl_mi("memdev", "inject-poison", target, "--address", "0x2000", "--yes")
    done = subprocess.run([sys.executable, "-m", "cxlmi_cli", "monitor", target, "--once"],
                          cwd=ROOT, env=ENV, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    kinds = [json.loads(raw)["kind"] for raw in done.stdout.splitlines()]
    assert kinds == ["up", "health", "alert_config", "event"]
    assert remaining_handles(target) == set()


def test_a_reader_that_goes_away_ends_the_monitor_quietly(procs):
    """`cxl-mi monitor ... | head -1`: the monitor ends when its reader does, exit 0."""
    mon = procs.spawn("monitor", "emu:switch", "--interval", "0.2")
    first = Reader(mon).line(30)
    assert json.loads(first)["kind"] == "up"
    mon.stdout.close()                  # the reader is gone; the next lines have nowhere to go
    assert mon.wait(30) == 0
    err = mon.stderr.read()
    assert b"Traceback" not in err, err



def test_sigterm_stops_a_monitor_waiting_out_a_long_interval_at_once(procs):
    mon, out = monitor(procs, "emu:type3", "--interval", "600")
    out.until(lambda line: line["kind"] == "alert_config")     # its first round's last line
    time.sleep(1.0)                          # the round is over: it waits out the interval
    mon.send_signal(signal.SIGTERM)
    assert mon.wait(5) == 0                  # not when the 600 s are over
    assert b"monitor stopped" in mon.stderr.read()


@pytest.mark.parametrize("once", [False, True])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_ends_a_round_waiting_on_a_silent_target_at_once(procs, sig, once):
    """SIGTERM (systemd), SIGHUP (a terminal closed) or Ctrl-C while a poll waits on a
    target that accepts and never answers: a clean stop now, not when --timeout is over,
    and no gone line for the target it stopped waiting for."""
    import socket
    with socket.socket() as silent:             # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        silent.settimeout(30)
        target = "tcp:127.0.0.1:%d" % silent.getsockname()[1]
        mon = procs.spawn("monitor", target, "--interval", "1", "--timeout", "20",
                          *(["--once"] if once else []))
        conn, _ = silent.accept()                # the monitor is in its round
        time.sleep(0.5)                          # waiting for the answer
        start = time.monotonic()
        mon.send_signal(sig)
        rc = mon.wait(15)
        took = time.monotonic() - start
        conn.close()
    out, err = mon.stdout.read(), mon.stderr.read()
    assert rc == 0, err
    assert took < 3, took                        # not the 20 s of --timeout
    assert b"monitor stopped" in err and b"Traceback" not in err, err
    assert out == b""                            # no gone (nor retry) line after the stop
