# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi monitor`: watch CXL components, one JSON object per line.

    cxl-mi monitor mem0 tcp:10.0.0.5 emu:switch --interval 10 >> /var/log/cxl.jsonl
    cxl-mi monitor mem0 --once --json          # from cron

As ndctl's ``cxl monitor`` does, every line is one JSON object (``--json``, the
default when stdout is not a terminal) for a log pipeline; on a terminal a live
view shows the same.  The watching itself is :mod:`cxlmi_bindings.monitor`;
this module writes its lines and stops cleanly: SIGTERM, SIGHUP or Ctrl-C end
the round at the next event batch (what was read is written, then cleared),
without waiting for a target that has not answered, and exit 0; a second
Ctrl-C stops at once.
"""

import json
import signal
import sys
import threading
import time

import click

from .. import target as _target

LIVE_LINES = 12         # recent lines the live view shows under its table


def _targets(given):
    from ..target import several
    return several(given)


#: the signals that stop the monitor cleanly: SIGHUP too (a terminal closed, a unit's
#: ``ExecReload=kill -HUP``), rather than killing it between a write and its clear
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP")
                     if hasattr(signal, name))


class _Stop:
    """SIGTERM, SIGHUP and the first Ctrl-C ask the monitor to stop after what it is
    writing; a second Ctrl-C interrupts at once.  Only the main thread can take signals."""

    def __init__(self):
        self.event = threading.Event()
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.event.set()

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def __call__(self):
        return self.event.is_set()

    def sleep(self, seconds):
        end = time.monotonic() + seconds
        while not self.event.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))


class JsonLines:
    """Each line written and flushed before the monitor is asked for the next one
    (which is when it may clear the event record the line carried)."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def write(self, line):
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()

    def check(self):
        """A pipe whose reader has gone (``| head``) ends the monitor even when there is
        nothing to write (which is when a write would say so)."""
        import select
        try:
            poller = select.poll()
            poller.register(self.stream.fileno(), 0)        # errors and hang-ups only
            gone = any(ev & select.POLLERR for _, ev in poller.poll(0))
        except (AttributeError, OSError, ValueError):       # no fd (tests), no poll()
            return
        if gone:
            raise BrokenPipeError("the reader of standard output has gone")


class LiveView:
    """On a terminal: a table of the targets and the latest lines, redrawn as they come."""

    def __init__(self, targets, interval, console=None):
        if console is None:
            from rich.console import Console
            console = Console()
        self.console = console
        self.interval = interval
        self.rows = {t: {"state": "…", "type": "", "temperature": "", "health": "",
                         "media": "", "events": 0, "background": ""} for t in targets}
        self.recent = []
        self.live = None

    def __enter__(self):
        from rich.live import Live
        self.live = Live(self.render(), console=self.console, auto_refresh=False,
                         transient=False)
        self.live.__enter__()
        return self

    def __exit__(self, *exc):
        self.live.__exit__(*exc)

    def check(self):
        pass

    def write(self, line):
        row = self.rows[line["target"]]
        kind = line["kind"]
        if kind in ("up", "back"):
            row["state"], row["type"] = "up", line.get("component_type") or ""
        elif kind == "gone":
            row["state"] = "gone"
        elif kind == "health":
            h = line["health"]
            row["temperature"] = _text(h.get("device_temperature_decoded"), " °C")
            row["health"] = ", ".join(h.get("health_status_decoded") or []) or "ok"
            row["media"] = h.get("media_status_decoded") or ""
        elif kind == "event":
            row["events"] += 1
        elif kind == "background":
            row["background"] = "%s %s" % (line.get("command"), line["state"])
        self.recent = (self.recent + [_summary(line)])[-LIVE_LINES:]
        self.live.update(self.render(), refresh=True)

    def render(self):
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text
        table = Table(title="cxl-mi monitor (every %gs; Ctrl-C stops)" % self.interval,
                      title_justify="left")
        for col in ("target", "state", "type", "temperature", "health", "media", "events",
                    "background"):
            table.add_column(col, justify="right" if col == "events" else "left")
        for target, row in self.rows.items():
            state = Text(row["state"], style={"up": "green", "gone": "red"}.get(row["state"]))
            table.add_row(target, state, row["type"], row["temperature"], row["health"],
                          row["media"], str(row["events"]), row["background"])
        return Group(table, *[Text(s) for s in self.recent])


def _text(value, unit=""):
    return "" if value is None else "%s%s" % (value, unit)


def _summary(line):
    """One human line for the live view."""
    kind, bits = line["kind"], []
    if kind == "event":
        rec = line["record"]
        bits = [line["log"], "handle %d" % line["handle"],
                (rec.get("uuid_decoded") or {}).get("name") or rec.get("uuid", "")]
    elif kind in ("health", "alert_config", "port"):
        if kind == "port":
            kind = "port %d" % line["port"]
        ch = line.get("changes")
        bits += ["%s %s -> %s" % (k, v["from"], v["to"]) for k, v in (ch or {}).items()] \
            if ch else ["(first reading)" if ch is None else ""]
    elif kind == "background":
        bits = [str(line.get("command")), line["state"], "%s%%" % line["percent_complete"]]
    elif kind in ("gone", "error"):
        bits = [line.get("error", "")]
    elif kind == "event_overflow":
        bits = [line["log"], "%d records lost" % line["overflow_err_count"]]
    return "%s %s %s %s" % (line["time"][11:19], line["target"], kind, " ".join(bits))


@click.command("monitor", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("targets", nargs=-1, metavar="TARGET...", shell_complete=_target.complete)
@click.option("--interval", type=click.FloatRange(0.1, 86400), default=10.0, show_default=True,
              metavar="SECONDS", help="poll every target this often")
@click.option("--timeout", type=click.FloatRange(0.01, 3600), default=5.0, show_default=True,
              metavar="SECONDS",
              help="give each target this long per poll; one that takes longer is gone")
@click.option("--once", is_flag=True, default=False,
              help="poll once, write what there is and exit (for cron); exit 3 when a "
                   "target could not be reached")
@click.option("--no-clear", "no_clear", is_flag=True, default=False,
              help="read the event logs without clearing them (records already reported "
                   "are recognised; only each log's first batch is seen)")
@click.option("--json", "as_json", is_flag=True, default=None,
              help="one JSON object per line (the default when stdout is not a terminal)")
def command(targets, interval, timeout, once, no_clear, as_json):
    """Watch CXL components: events, health, background operations, switch ports.

    Polls every TARGET each --interval and writes one line per change: the new
    records of every event log (each cleared on the device only after its line
    is written; --no-clear leaves them), health and alert configuration
    changes, background operations running and completed, switch port state
    changes, and a target that is gone (retried with a growing delay) or back.
    Each line is a JSON object with time, target and kind (docs/cli.md,
    "monitor", lists every kind); on a terminal without --json a live view shows
    them.  SIGTERM or Ctrl-C stop it cleanly (exit 0) after writing what was
    read.  The CXLMI_TARGET variable is the target when none is given.
    """
    from ..main import refuse_dry_run
    refuse_dry_run("monitor", "it reads the devices and clears their event records",
                   "--no-clear reads without clearing; `cxl-mi --dry-run generic "
                   "get-event-records TARGET` shows a request")
    from cxlmi_bindings.monitor import Monitor
    targets = _targets(targets)
    if as_json is None:
        as_json = not sys.stdout.isatty()
    monitor = Monitor(targets, timeout=timeout, clear=not no_clear,
                      min_backoff=min(interval, 5.0), max_backoff=max(60.0, interval))
    gone = set()
    try:
        with _Stop() as stop:
            out = JsonLines() if as_json else LiveView(targets, interval)
            if not once and as_json and sys.stderr.isatty():
                click.echo("cxl-mi: monitoring %d target%s every %gs; Ctrl-C stops"
                           % (len(targets), "" if len(targets) == 1 else "s", interval),
                           err=True)
            with out:
                while True:
                    start = time.monotonic()
                    for line in monitor.poll(should_stop=stop):
                        if once:            # nothing will retry
                            line.pop("retry_in", None)
                        out.write(line)
                        if line["kind"] == "gone":
                            gone.add(line["target"])
                        elif line["kind"] in ("up", "back"):
                            gone.discard(line["target"])
                    if once or stop():
                        break
                    out.check()
                    stop.sleep(interval - (time.monotonic() - start))
        stopped = stop()
    finally:
        monitor.close()
    if once and not stopped:
        if gone:
            raise click.exceptions.Exit(3)
        return
    click.echo("cxl-mi: monitor stopped", err=True)
