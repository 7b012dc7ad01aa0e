# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi monitor` and :mod:`cxlmi_bindings.monitor` against in-process emulators.

The test reaches into the emulated devices while the monitor polls them
(posts events, changes the temperature, starts a media scan, holds a switch
port in PERST#) and checks the lines that come out, and what is left in the
device's event logs: a record is cleared only after its line was taken.
The same through real processes and sockets: tests/test_monitor_processes.py.
"""

import io
import json
import threading
import time

import pytest

from cxlmi_bindings.errors import TransportError
from cxlmi_bindings.monitor import Monitor, changes, timestamp

from cli_helpers import both, invoke  # noqa: E402

GENERAL_MEDIA = "general-media"


from test_exporter import Devices  # noqa: E402  (the exporter's tests' in-process opener)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def devices():
    d = Devices()
    yield d
    d.close()


def lines(monitor, **kw):
    return list(monitor.poll(**kw))


def kinds(out, kind):
    return [line for line in out if line["kind"] == kind]


def test_the_first_round_says_who_is_up_and_how_they_are(devices):
    m = Monitor(["emu:type3", "emu:switch"], opener=devices)
    out = lines(m)
    for line in out:
        assert list(line)[:3] == ["time", "target", "kind"]
        json.dumps(line)                                    # plain JSON data
    up = {line["target"]: line for line in kinds(out, "up")}
    assert up["emu:type3"]["component_type"] == "type3"
    assert up["emu:type3"]["serial"] == "0x%016x" % devices.device("emu:type3").serial
    assert up["emu:switch"]["component_type"] == "switch"
    health = kinds(out, "health")
    assert len(health) == 1 and health[0]["target"] == "emu:type3"
    assert health[0]["health"]["device_temperature_decoded"] == 35
    assert health[0]["changes"] is None
    assert kinds(out, "alert_config")[0]["alert_config"]["programmable_alerts"] == 31
    ports = kinds(out, "port")
    sw = devices.device("emu:switch")
    assert [p["port"] for p in ports] == sorted(sw.ports)
    assert all(p["target"] == "emu:switch" and p["changes"] is None for p in ports)
    assert not kinds(out, "event")
    # nothing changed: the next round says nothing
    assert lines(m) == []


def test_events_are_reported_and_cleared_only_after_they_were_taken(devices):
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    devices.eps["emu:type3"].memdev_inject_poison(inject_poison_phy_addr=0x1000)
    assert len(dev.event_logs[0].records) == 1
    rounds = m.poll()
    first = next(rounds)
    assert first["kind"] == "event" and first["log"] == "info" and first["event_log"] == 0
    assert first["record"]["uuid_decoded"]["name"] == GENERAL_MEDIA
    assert first["handle"] == first["record"]["handle"]
    # the line is out but the consumer has not come back: still on the device
    assert len(dev.event_logs[0].records) == 1
    rounds.close()                    # a consumer that stops here (the write failed)
    assert len(dev.event_logs[0].records) == 1
    again = lines(m)                  # so it comes again, and now it is cleared
    assert [line["handle"] for line in kinds(again, "event")] == [first["handle"]]
    assert dev.event_logs[0].records == []
    assert lines(m) == []


def test_a_log_longer_than_one_reply_is_drained_in_order_once(devices):
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    size = dev.event_logs[0].size                   # more than two replies hold
    handles = [dev.add_event(0, b"\x11" * 16, data=bytes([n])) for n in range(size)]
    out = lines(m)
    events = kinds(out, "event")
    assert [e["handle"] for e in events] == handles
    assert {e["log"] for e in events} == {"info"}
    assert [bytes.fromhex(e["record"]["data"])[0] for e in events] == list(range(size))
    assert dev.event_logs[0].records == []
    assert lines(m) == []


def test_stop_finishes_the_batch_it_reports_and_clears_only_that(devices):
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    total = dev.event_logs[0].size
    for n in range(total):
        dev.add_event(0, b"\x11" * 16, data=bytes([n]))
    stop = []
    got = []
    for line in m.poll(should_stop=lambda: bool(stop)):
        got.append(line)
        stop.append(True)               # asked to stop after the first line
    left = len(dev.event_logs[0].records)
    assert 0 < len(got) < total and left == total - len(got)
    rest = kinds(lines(m), "event")     # the next run takes the others, none twice
    assert [e["handle"] for e in got + rest] == sorted({e["handle"] for e in got + rest})
    assert len(got) + len(rest) == total


def test_without_clearing_records_are_reported_once_and_left_on_the_device(devices):
    m = Monitor(["emu:type3"], opener=devices, clear=False)
    lines(m)
    dev = devices.device("emu:type3")
    dev.add_event(1, b"\x22" * 16)
    assert len(kinds(lines(m), "event")) == 1
    assert lines(m) == []
    dev.add_event(1, b"\x22" * 16)
    out = kinds(lines(m), "event")
    assert len(out) == 1 and out[0]["handle"] == 2
    assert len(dev.event_logs[1].records) == 2


def test_a_device_that_refuses_to_clear_is_only_read_from_then_on(devices):
    from cxlmi_bindings.emulator.device import INTERNAL, Reply
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")

    def refuse(req):
        raise Reply(INTERNAL, "the log is locked")
    dev.cmd_clear_event_records = refuse
    dev.add_event(0, b"\x33" * 16)
    out = lines(m)
    assert len(kinds(out, "event")) == 1
    assert "not cleared" in kinds(out, "error")[0]["error"]
    assert lines(m) == []               # not the same record again


def test_health_changes_say_what_changed_and_the_alert_event_follows(devices):
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    ep, dev = devices.eps["emu:type3"], devices.device("emu:type3")
    ep.memdev_set_alert_config(valid_alert_actions=0x2, enable_alert_actions=0x2,
                               device_over_temperature_programmable_warning_threshold=60)
    dev.set_health(temperature=70)
    out = lines(m)
    health = kinds(out, "health")[0]
    assert health["changes"]["device_temperature"] == {"from": 35, "to": 70}
    assert health["changes"]["additional_status"]["to"]["device_temperature"] == "warning"
    alert = kinds(out, "alert_config")[0]
    assert alert["changes"]["valid_alerts"]["to"] == ["over-temperature"]
    events = kinds(out, "event")
    assert [e["log"] for e in events] == ["warning"]
    assert events[0]["record"]["uuid_decoded"]["name"] == "memory-module"


def _scan_started(devices):
    """A monitor that has had its first round, and a media scan started after it on
    a device whose clock the test moves; returns (monitor, endpoint, clock)."""
    clock = Clock()
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    ep = devices.eps["emu:type3"]
    devices.device("emu:type3").clock = clock
    ep.memdev_scan_media(scan_media_physaddr=0, scan_media_physaddr_length=(1 << 28) // 64,
                         scan_media_flags=1)
    return m, ep, clock


def test_background_operations_are_seen_running_and_completed(devices):
    m, ep, clock = _scan_started(devices)
    running = kinds(lines(m), "background")
    assert len(running) == 1 and running[0]["state"] == "running"
    assert running[0]["command"] == "memdev_scan_media" and running[0]["opcode"] == 0x4304
    assert lines(m) == []               # still running: nothing new
    clock.now += 60
    done = kinds(lines(m), "background")
    assert [d["state"] for d in done] == ["completed"]
    assert done[0]["return_code"] == "SUCCESS" and done[0]["percent_complete"] == 100
    assert lines(m) == []


def test_an_operation_that_ends_between_two_polls_is_seen_completed(devices):
    clock = Clock()
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    ep, dev = devices.eps["emu:type3"], devices.device("emu:type3")
    dev.clock = clock
    ep.memdev_scan_media(scan_media_physaddr=0, scan_media_physaddr_length=1 << 16,
                         scan_media_flags=1)
    clock.now += 60
    done = kinds(lines(m), "background")
    assert [(d["state"], d["command"]) for d in done] == [("completed", "memdev_scan_media")]


def test_switch_port_changes_are_reported_per_port(devices):
    m = Monitor(["emu:switch"], opener=devices)
    lines(m)
    ep = devices.eps["emu:switch"]
    ep.fmapi_phys_port_control(ppb_id=1, port_opcode=0)          # assert PERST#
    out = lines(m)
    assert [line["port"] for line in out] == [1]
    ch = out[0]["changes"]
    assert ch["ltssm_state"] == {"from": "l0", "to": "detect"}
    assert "perst" in " ".join(ch["link_state"]["to"])
    assert out[0]["state"]["ltssm_state_decoded"] == "detect"


def test_a_target_that_goes_away_says_so_once_and_comes_back(devices):
    clock = Clock()
    state = {"up": True}

    def opener(target, timeout):
        if not state["up"]:
            raise OSError("connection refused")
        return devices("emu:type3", timeout)

    m = Monitor(["tcp:127.0.0.1:7"], opener=opener, clock=clock, min_backoff=1,
                max_backoff=8)
    assert kinds(lines(m), "up")
    state["up"] = False

    def broken(*args, **kwargs):
        raise TransportError("connection reset by peer")
    m.targets[0].ep.transport.send = broken     # the connection breaks
    out = lines(m)
    assert [line["kind"] for line in out] == ["gone"]
    assert out[0]["retry_in"] == 1
    tried = []
    for step in (1, 2, 4, 8, 8):        # the delay doubles up to max_backoff
        assert lines(m) == []           # not due yet: not even tried
        clock.now += step
        tried.append(lines(m))
    assert tried == [[]] * 5            # tried, failed, silently
    state["up"] = True
    clock.now += 8
    out = lines(m)
    assert out[0]["kind"] == "back" and out[0]["down_seconds"] == 31
    assert out[0]["component_type"] == "type3"
    assert kinds(out, "health") == []   # the same health as before it went


def test_a_target_unreachable_from_the_start_is_gone_then_up(devices):
    clock = Clock()
    state = {"up": False}

    def opener(target, timeout):
        if not state["up"]:
            raise OSError("connection refused")
        return devices("emu:type3", timeout)

    m = Monitor(["tcp:127.0.0.1:7"], opener=opener, clock=clock, min_backoff=1)
    assert [line["kind"] for line in lines(m)] == ["gone"]
    state["up"] = True
    clock.now += 1
    out = lines(m)
    assert [line["kind"] for line in out] == ["up", "health", "alert_config"]
    assert "down_seconds" not in out[0]


def test_a_stuck_target_does_not_stall_the_others(devices):
    release = threading.Event()

    def opener(target, timeout):
        if target == "tcp:127.0.0.1:9":
            release.wait(30)            # a transport that ignores its timeout
            raise OSError("gone")
        return devices(target, timeout)

    m = Monitor(["tcp:127.0.0.1:9", "emu:type3"], opener=opener, timeout=0.3)
    try:
        start = time.monotonic()
        out = lines(m)
        assert time.monotonic() - start < 0.3 + 0.5
        gone = kinds(out, "gone")
        assert gone[0]["target"] == "tcp:127.0.0.1:9"
        assert gone[0]["error"] == "no answer within 0.3s"
        assert kinds(out, "up")[0]["target"] == "emu:type3"
    finally:
        release.set()


def test_a_stop_asked_while_waiting_on_a_stuck_target_ends_the_round_at_once(devices):
    release = threading.Event()

    def opener(target, timeout):
        release.wait(30)                # a transport that ignores its timeout
        raise OSError("gone")

    m = Monitor(["tcp:127.0.0.1:9"], opener=opener, timeout=20)
    asked = time.monotonic() + 0.3
    try:
        start = time.monotonic()
        out = lines(m, should_stop=lambda: time.monotonic() > asked)
        assert time.monotonic() - start < 0.3 + 1      # not the 20 s of its timeout
        assert out == []                               # and no gone line after the stop
    finally:
        release.set()


def test_a_second_ctrl_c_interrupts_at_once():
    import signal
    from cxlmi_cli.commands.monitor import _Stop
    stop = _Stop()
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        stop.event.clear()
        stop._handle(sig, None)
        assert stop()                   # the first: stop after what is being written
    with pytest.raises(KeyboardInterrupt):
        stop._handle(signal.SIGINT, None)     # a second Ctrl-C: at once


def test_an_overflowed_log_is_reported_once(devices):
    m = Monitor(["emu:type3"], opener=devices, clear=False)
    lines(m)
    dev = devices.device("emu:type3")
    devices.eps["emu:type3"].set_timestamp(timestamp=1_765_000_000 * 10 ** 9)
    size = dev.event_logs[3].size
    for _ in range(size + 2):
        dev.add_event(3, b"\x44" * 16)
    out = lines(m)
    over = kinds(out, "event_overflow")
    assert len(over) == 1 and over[0]["log"] == "fatal" and over[0]["overflow_err_count"] == 2
    assert kinds(lines(m), "event_overflow") == []
    # the timestamps as get-event-records --json gives them: raw ns and decoded
    from cxlmi_cli.render import decode
    rsp = decode.to_json(devices.eps["emu:type3"].get_event_records(event_log=3))
    for key in ("first_overflow_timestamp", "last_overflow_timestamp"):
        assert over[0][key] == rsp[key] and over[0][key] > 0
        assert over[0][key + "_decoded"] == rsp[key + "_decoded"]
        assert isinstance(rsp[key + "_decoded"], str) and rsp[key + "_decoded"][:2] == "20"


def test_changes_and_timestamps():
    assert changes({"a": 1, "a_decoded": "x", "b": 2}, {"a": 3, "a_decoded": "y", "b": 2}) == \
        {"a": {"from": "x", "to": "y"}}
    assert timestamp(86400.5) == "1970-01-02T00:00:00.500Z"


# ------------------------------------------------------------------ the command

def test_once_writes_json_lines_and_exits_0():
    r = invoke(["monitor", "emu:type3", "emu:switch", "--once"])
    assert r.exit_code == 0, r.output
    out = [json.loads(s) for s in r.stdout.splitlines()]
    assert {(line["target"], line["kind"]) for line in out} >= {
        ("emu:type3", "up"), ("emu:type3", "health"), ("emu:switch", "up"),
        ("emu:switch", "port")}


def test_once_with_an_unreachable_target_exits_3_and_says_which():
    r = invoke(["monitor", "emu:type3", "tcp:127.0.0.1:1", "--once", "--timeout", "1"])
    assert r.exit_code == 3, r.output
    out = [json.loads(s) for s in r.stdout.splitlines()]
    gone = kinds(out, "gone")
    assert gone[0]["target"] == "tcp:127.0.0.1:1" and "refused" in gone[0]["error"]
    assert kinds(out, "up")[0]["target"] == "emu:type3"


@pytest.mark.parametrize("args, words", [
    ([], "give at least one TARGET"),
    (["nonsense:x"], "TARGET"),
    (["emu:type3", "--interval", "0"], "--interval"),
])
def test_bad_input_is_a_usage_error(monkeypatch, args, words):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    r = invoke(["monitor"] + args + ["--once"])
    assert r.exit_code == 2, r.output
    assert words in both(r) and "Traceback" not in both(r)


def test_the_live_view_shows_each_target_and_the_latest_lines():
    from rich.console import Console
    from cxlmi_cli.commands.monitor import LiveView
    buf = io.StringIO()
    view = LiveView(["emu:type3", "tcp:127.0.0.1:1"], 5,
                    console=Console(file=buf, width=160, force_terminal=False))
    m = Monitor(["emu:type3", "tcp:127.0.0.1:1"], timeout=1)
    try:
        with view:
            for line in m.poll():
                view.write(line)
    finally:
        m.close()
    text = buf.getvalue()
    assert "35 °C" in text and "normal" in text
    assert "gone" in text and "refused" in text



def test_once_says_nothing_on_stderr_when_every_target_answers():
    # from cron: a line on stderr is a mail
    r = invoke(["monitor", "emu:type3", "--once"])
    assert r.exit_code == 0 and r.stdout and r.stderr == ""


@pytest.mark.parametrize("interval, retry", [(60, 5), (2, 2)])
def test_a_target_gone_is_retried_within_5_seconds_however_long_the_interval(interval, retry,
                                                                            monkeypatch):
    import cxlmi_bindings.monitor as monitor_mod
    made = []

    class Recording(monitor_mod.Monitor):
        def __init__(self, *a, **k):
            made.append(self)
            super().__init__(*a, **k)
    monkeypatch.setattr(monitor_mod, "Monitor", Recording)
    r = invoke(["monitor", "tcp:127.0.0.1:1", "--once", "--interval", str(interval)])
    assert r.exit_code == 3
    (gone,) = [json.loads(s) for s in r.stdout.splitlines()]
    assert gone["kind"] == "gone" and made[0].min_backoff == retry


def test_once_says_no_retry_of_a_target_gone():
    """With --once nothing retries: the gone line has no retry_in."""
    r = invoke(["monitor", "tcp:127.0.0.1:1", "--once", "--json"])
    assert r.exit_code == 3, both(r)
    (gone,) = [json.loads(s) for s in r.stdout.splitlines()]
    assert gone["kind"] == "gone" and "retry_in" not in gone
    assert gone["error"] == "127.0.0.1:1: connection refused"


@pytest.mark.parametrize("args, seconds", [(["--timeout", "0.3"], 0.3), ([], 5)])
def test_a_silent_target_is_gone_after_the_timeout(args, seconds):
    # 5 s unless told otherwise (docs/cli.md)
    import socket
    with socket.socket() as silent:             # accepts, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        target = "tcp:127.0.0.1:%d" % silent.getsockname()[1]
        start = time.monotonic()
        r = invoke(["monitor", target, "--once"] + args)
        took = time.monotonic() - start
    assert r.exit_code == 3
    (gone,) = [json.loads(s) for s in r.stdout.splitlines()]
    assert gone["kind"] == "gone", gone
    assert seconds <= took < seconds + 2.5, took


def test_a_monitor_run_in_process_puts_the_signal_handlers_back():
    import signal
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    r = invoke(["monitor", "emu:type3", "--once"])
    assert r.exit_code == 0
    assert {sig: signal.getsignal(sig) for sig in before} == before


def _live(targets, lines_in, width=200):
    """The live view's table and recent lines (as text) after ``lines_in``."""
    from rich.console import Console
    from cxlmi_cli.commands.monitor import LiveView
    view = LiveView(targets, 5, console=Console(file=io.StringIO(), width=width))
    view.live = type("Quiet", (), {"update": lambda self, *a, **k: None})()
    for line in lines_in:
        view.write(line)
    out = io.StringIO()
    Console(file=out, width=width).print(view.render())
    return out.getvalue()


def _row(text, target):
    (row,) = [r for r in text.splitlines() if r.startswith("│ %s " % target)]
    return [cell.strip() for cell in row.strip("│").split("│")]


def _line(target, kind, **fields):
    return dict(time="2026-01-02T03:04:05.678Z", target=target, kind=kind, **fields)


def test_the_live_view_table_says_which_target_is_gone_and_which_came_back():
    text = _live(["emu:a", "emu:b"], [
        _line("emu:a", "up", component_type="type3"),
        _line("emu:b", "up", component_type="switch"),
        _line("emu:a", "gone", error="connection reset", retry_in=1),
        _line("emu:b", "gone", error="connection reset", retry_in=1),
        _line("emu:b", "back", component_type="switch", down_seconds=2.0)])
    assert _row(text, "emu:a")[1:3] == ["gone", "type3"]
    assert _row(text, "emu:b")[1:3] == ["up", "switch"]


def test_the_live_view_table_says_ok_for_a_healthy_device_and_counts_its_events():
    health = {"device_temperature_decoded": 35, "health_status_decoded": [],
              "media_status_decoded": "normal"}
    event = {"uuid_decoded": {"name": "general-media"}}
    text = _live(["emu:a"], [
        _line("emu:a", "up", component_type="type3"),
        _line("emu:a", "health", health=health, changes=None),
        _line("emu:a", "event", log="info", handle=1, record=event),
        _line("emu:a", "event", log="info", handle=2, record=event),
        _line("emu:a", "background", command="memdev_scan_media", state="running",
              percent_complete=50)])
    assert _row(text, "emu:a") == ["emu:a", "up", "type3", "35 °C", "ok", "normal", "2",
                                   "memdev_scan_media running"]


def test_the_live_view_shows_the_latest_lines_and_what_changed_which_way():
    lines_in = [_line("emu:a", "gone", error="attempt %d" % i, retry_in=1)
                for i in range(20)]
    lines_in.append(_line("emu:a", "port", port=3, changes={
        "ltssm_state": {"from": "l0", "to": "detect"}}))
    text = _live(["emu:a"], lines_in)
    recent = text.splitlines()[-12:]
    assert recent[0] == "03:04:05 emu:a gone attempt 9"
    assert recent[-1] == "03:04:05 emu:a port 3 ltssm_state l0 -> detect"
    assert "attempt 8" not in text


def test_the_live_view_is_redrawn_at_each_line_not_only_at_the_end(monkeypatch):
    from rich.console import Console
    from cxlmi_cli.commands.monitor import LiveView
    monkeypatch.setenv("TERM", "xterm")         # not a dumb terminal, whatever runs the tests
    buf = io.StringIO()
    view = LiveView(["emu:a"], 5, console=Console(file=buf, width=120, force_terminal=True))
    with view:
        view.write(_line("emu:a", "up", component_type="type3"))
        assert "emu:a up" in buf.getvalue()

def test_the_doc_lists_every_kind_of_line():
    import os
    import re
    from cxlmi_bindings.monitor import KINDS
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "docs", "cli.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Monitor\n", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
    assert documented == list(KINDS)


# ------------------------------------------------------------------ more of the library

def _same_device_opener(devices, target="emu:type3"):
    """An opener that reopens the device it first opened (as a TCP server's device outlives
    the connections to it), through a fresh endpoint each time."""
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    state = {"up": True, "device": None, "opened": 0}

    def opener(t, timeout):
        if not state["up"]:
            raise OSError("connection refused")
        state["opened"] += 1
        if state["device"] is None:
            ep = devices(target, timeout)
            state["device"] = ep.transport.device
            return ep
        ep = devices.ctx.open_transport(EmulatedTransport("type3", device=state["device"]),
                                        t, probe=False)
        ep.timeout_ms = int(timeout * 1000)
        return ep
    return opener, state


def _break(monitor, n=0):
    def broken(*args, **kwargs):
        raise TransportError("connection reset by peer")
    monitor.targets[n].ep.transport.send = broken


def test_a_target_that_comes_back_starts_its_backoff_from_the_shortest_delay(devices):
    clock = Clock()
    opener, state = _same_device_opener(devices)
    m = Monitor(["tcp:127.0.0.1:7"], opener=opener, clock=clock, min_backoff=1,
                max_backoff=60)
    lines(m)
    state["up"] = False
    _break(m)
    assert [(x["kind"], x["retry_in"]) for x in lines(m)] == [("gone", 1)]
    for step in (1, 2, 4):              # three more failures: the delay is 8 s now
        clock.now += step
        assert lines(m) == []
    state["up"] = True
    clock.now += 8
    assert [x["kind"] for x in lines(m)] == ["back"]
    _break(m)                           # a new outage: the first retry is 1 s away again
    assert [(x["kind"], x["retry_in"]) for x in lines(m)] == [("gone", 1)]


def test_the_default_shortest_retry_is_the_timeout_when_that_is_under_a_second():
    def refused(target, timeout):
        raise OSError("connection refused")
    for timeout, retry in ((0.3, 0.3), (5, 1)):
        m = Monitor(["tcp:127.0.0.1:7"], opener=refused, timeout=timeout)
        (gone,) = lines(m)
        assert (gone["kind"], gone["retry_in"]) == ("gone", retry)


def test_a_target_named_twice_is_watched_once(devices):
    m = Monitor(["emu:type3", "emu:type3"], opener=devices)
    out = lines(m)
    assert [x["kind"] for x in out] == ["up", "health", "alert_config"]
    assert devices.opened == ["emu:type3"]


def test_an_error_that_persists_is_one_error_line(devices):
    from cxlmi_bindings.emulator.device import INTERNAL, Reply
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")

    def broken(*args):
        raise Reply(INTERNAL, "the sensor hub is down")
    dev.cmd_memdev_get_health_info = broken
    errors = kinds(lines(m), "error")
    assert len(errors) == 1 and "memdev_get_health_info" in errors[0]["error"]
    assert lines(m) == []               # the same error: nothing new to say
    del dev.cmd_memdev_get_health_info
    assert lines(m) == []               # cleared silently, health the same as before
    dev.cmd_memdev_get_health_info = broken
    assert len(kinds(lines(m), "error")) == 1      # and when it comes again, it is said again


def test_event_logs_refused_during_a_sanitize_are_one_sentence_naming_the_logs(devices):
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    devices.eps["emu:type3"].memdev_sanitize()     # the media is disabled while it runs
    (error,) = kinds(lines(m), "error")
    assert error["error"] == (
        "get_event_records: CXL return code 7 (MEDIADISABLED): media access is disabled "
        "(info, warning, failure, fatal, dynamic_capacity logs)")


def test_an_event_log_error_met_for_one_log_names_that_log(devices):
    from cxlmi_bindings.emulator.device import INTERNAL, Reply
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    real = dev.cmd_get_event_records

    def broken(req):
        if req.event_log == 2:          # the failure log
            raise Reply(INTERNAL, "the log is corrupt")
        return real(req)
    dev.cmd_get_event_records = broken
    (error,) = kinds(lines(m), "error")
    assert error["error"].startswith("get_event_records: ")
    assert error["error"].count("get_event_records") == 1
    assert error["error"].endswith(" (failure log)")


def test_the_serial_and_ids_of_the_up_line_are_zero_padded(devices):
    def opener(target, timeout):
        ep = devices(target, timeout)
        ep.transport.device.serial = 0x42
        return ep
    m = Monitor(["emu:type3"], opener=opener)
    (up,) = kinds(lines(m), "up")
    ident = devices.eps["emu:type3"].identify()
    assert up["serial"] == "0x0000000000000042"
    assert up["vendor_id"] == "%04x" % ident.vendor_id and len(up["vendor_id"]) == 4


def test_a_device_replaced_while_away_comes_back_with_its_new_identity(devices):
    clock = Clock()
    serials = iter([0x1111, 0x2222])
    state = {"up": True}

    def opener(target, timeout):
        if not state["up"]:
            raise OSError("connection refused")
        ep = devices.ctx.open("emu:type3")
        ep.transport.device.serial = next(serials)
        devices.eps[target] = ep
        return ep
    m = Monitor(["tcp:127.0.0.1:7"], opener=opener, clock=clock, min_backoff=1)
    assert kinds(lines(m), "up")[0]["serial"] == "0x%016x" % 0x1111
    state["up"] = False
    _break(m)
    assert [x["kind"] for x in lines(m)] == ["gone"]
    state["up"] = True
    clock.now += 1
    (back,) = kinds(lines(m), "back")
    assert back["serial"] == "0x%016x" % 0x2222


def test_a_new_operation_replacing_a_running_one_is_seen_running(devices):
    m, ep, clock = _scan_started(devices)
    assert [b["state"] for b in kinds(lines(m), "background")] == ["running"]
    clock.now += 600                    # the scan ends, and a sanitize starts before the poll
    ep.memdev_sanitize()
    assert ep.bg_op_status().status & 1
    out = kinds(lines(m), "background")
    assert [(b["state"], b["command"]) for b in out] == [("running", "memdev_sanitize")]


def test_records_a_device_does_not_clear_are_reported_once_and_the_drain_stops(devices):
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    dev.cmd_clear_event_records = lambda req: None       # says SUCCESS, clears nothing
    for n in range(dev.event_logs[0].size):             # more than one reply holds
        dev.add_event(0, b"\x11" * 16, data=bytes([n]))
    out = lines(m)
    handles = [e["handle"] for e in kinds(out, "event")]
    assert handles and len(handles) == len(set(handles))
    assert len(handles) < dev.event_logs[0].size         # the first reply's, once
    (error,) = kinds(out, "error")
    assert "info event log" in error["error"] and "came back" in error["error"]


def test_a_later_batch_the_device_refuses_is_an_error_line_and_its_records_come_next(devices):
    from cxlmi_bindings.emulator.device import Reply
    from cxlmi_bindings.errors import ReturnCode
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    for n in range(dev.event_logs[0].size):             # more than one reply holds
        dev.add_event(0, b"\x11" * 16, data=bytes([n]))
    real, calls = dev.cmd_get_event_records, []

    def second_refused(req):
        calls.append(req.event_log)
        if calls.count(0) == 2:                           # the drain's second batch
            raise Reply(ReturnCode.INTERNAL, "the log could not be read")
        return real(req)
    dev.cmd_get_event_records = second_refused
    out = lines(m)
    first = kinds(out, "event")
    (error,) = kinds(out, "error")
    assert error["error"].startswith("info event log: ") and "get_event_records" in error["error"]
    assert 0 < len(first) < dev.event_logs[0].size
    dev.cmd_get_event_records = real
    rest = kinds(lines(m), "event")                    # the rest, at the next round
    assert len(first) + len(rest) == dev.event_logs[0].size
    assert {e["handle"] for e in first}.isdisjoint(e["handle"] for e in rest)


def test_a_batch_is_cleared_in_as_many_requests_as_clear_event_records_needs(devices,
                                                                            monkeypatch):
    import cxlmi_bindings.monitor as monitor
    monkeypatch.setattr(monitor, "CLEAR_MAX_HANDLES", 2)
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    for n in range(5):
        dev.add_event(0, b"\x11" * 16, data=bytes([n]))
    assert len(kinds(lines(m), "event")) == 5
    assert dev.event_logs[0].records == []
    assert lines(m) == []


def test_a_connection_lost_while_clearing_is_gone_and_the_records_come_again(devices):
    clock = Clock()
    opener, state = _same_device_opener(devices)
    m = Monitor(["tcp:127.0.0.1:7"], opener=opener, clock=clock, min_backoff=1)
    lines(m)
    ep = m.targets[0].ep
    dev = ep.transport.device
    dev.add_event(0, b"\x11" * 16)

    def lost(**kwargs):
        raise TransportError("connection reset by peer")
    ep.clear_event_records = lost
    out = lines(m)
    assert [x["kind"] for x in out] == ["event", "gone"]
    assert len(dev.event_logs[0].records) == 1          # not cleared: it comes again
    clock.now += 1
    again = lines(m)
    assert [x["kind"] for x in again] == ["back", "event"]
    assert again[1]["handle"] == out[0]["handle"]
    assert dev.event_logs[0].records == []              # cleared, as ever: it was no refusal
    assert lines(m) == []


def test_stop_ends_the_round_before_the_next_target(devices):
    eps = {}

    def opener(target, timeout):
        eps[target] = devices.ctx.open("emu:type3")
        return eps[target]
    m = Monitor(["tcp:127.0.0.1:7", "tcp:127.0.0.1:8"], opener=opener)
    lines(m)
    for ep in eps.values():
        ep.transport.device.add_event(0, b"\x11" * 16)
    stop = []
    got = []
    for line in m.poll(should_stop=lambda: bool(stop)):
        got.append(line)
        stop.append(True)
    assert [(x["target"], x["kind"]) for x in got] == [("tcp:127.0.0.1:7", "event")]
    assert len(eps["tcp:127.0.0.1:8"].transport.device.event_logs[0].records) == 1
    rest = lines(m)
    assert [(x["target"], x["kind"]) for x in rest] == [("tcp:127.0.0.1:8", "event")]


def test_stop_ends_the_round_before_the_next_log(devices):
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    dev.add_event(0, b"\x11" * 16)
    dev.add_event(1, b"\x22" * 16)
    stop = []
    got = []
    for line in m.poll(should_stop=lambda: bool(stop)):
        got.append(line)
        stop.append(True)
    assert [(x["kind"], x["log"]) for x in got] == [("event", "info")]
    assert len(dev.event_logs[1].records) == 1
    assert [x["log"] for x in kinds(lines(m), "event")] == ["warning"]


def test_dynamic_capacity_event_records_are_reported(devices):
    m = Monitor(["emu:type3"], opener=devices)
    lines(m)
    dev = devices.device("emu:type3")
    handle = dev.add_event(4, b"\x55" * 16)
    (event,) = kinds(lines(m), "event")
    assert (event["log"], event["event_log"], event["handle"]) == \
        ("dynamic_capacity", 4, handle)
    assert dev.event_logs[4].records == []


def test_every_switch_port_is_asked_when_it_takes_several_requests(devices, monkeypatch):
    import cxlmi_bindings.monitor as monitor
    monkeypatch.setattr(monitor, "PORTS_PER_QUERY", 3)
    m = Monitor(["emu:switch"], opener=devices)
    ports = kinds(lines(m), "port")
    assert [p["port"] for p in ports] == sorted(devices.device("emu:switch").ports)


def test_the_global_dry_run_is_refused_and_the_event_records_stay(devices, monkeypatch):
    """`cxl-mi --dry-run monitor` has no request to show: it is refused (exit 2) before a
    target is opened -- ignored, it read and cleared the event records."""
    import cxlmi_bindings.monitor as monitor_mod
    ep = devices("emu:type3", 5)
    ep.memdev_inject_poison(inject_poison_phy_addr=0x1000)
    dev = devices.device("emu:type3")
    opened = []

    def same_device(target, timeout):
        opened.append(target)
        return ep
    monkeypatch.setattr(monitor_mod, "open_target", same_device)
    assert len(dev.event_logs[0].records) == 1
    r = invoke(["--dry-run", "monitor", "emu:type3", "--once"])
    assert r.exit_code == 2, both(r)
    assert r.stderr.startswith("cxl-mi: error: monitor has no dry run") and "--no-clear" in r.stderr
    assert r.stdout == "" and opened == []                    # nothing opened
    assert len(dev.event_logs[0].records) == 1                # the record is still there
    r = invoke(["monitor", "emu:type3", "--once"])             # a real run reads it
    assert r.exit_code == 0, both(r)
    assert opened == ["emu:type3"] and '"kind": "event"' in r.stdout
