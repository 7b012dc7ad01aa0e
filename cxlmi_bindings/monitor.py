# SPDX-License-Identifier: LGPL-2.1-or-later
"""Watching CXL components: what changed and which events they logged (``cxl-mi monitor``).

:class:`Monitor` polls targets and yields one plain dict per thing worth saying
(the line schema of ``docs/cli.md``, section "monitor"): every dict has
``time`` (UTC, RFC 3339), ``target`` and ``kind``.

    monitor = Monitor(["emu:type3", "tcp:10.0.0.5"], timeout=5)
    while True:
        for line in monitor.poll():
            print(json.dumps(line), flush=True)     # written first ...
        time.sleep(5)                               # ... cleared when poll() resumes

Event records are cleared on the device only after the consumer has taken
them: :meth:`Monitor.poll` clears a batch when the generator is resumed past
its last record, so a consumer that writes each line before asking for the
next one never loses a record (one that stops half way sees the uncleared
records again next time: at least once, never lost).  With ``clear=False``
nothing is cleared; records already reported are recognised by handle and
timestamp and not reported again (only the first batch of each log is seen,
as the device keeps returning its oldest records until someone clears them).

Every target is gathered in a thread of its own within ``timeout`` seconds
(as :class:`cxlmi_bindings.metrics.Collector` does), so one dead target does
not stall the others.  A target that cannot be reached yields one ``gone``
line and is retried with a doubling delay (up to ``max_backoff``); when it
answers again it yields ``back``.  Commands a component answers UNSUPPORTED
are not sent again while its endpoint stays open.
"""

import threading
import time

from .errors import CxlmiError, TransportError
from .metrics import _Gather, _kernel_identity, open_target

#: every kind of line, each documented in docs/cli.md ("Monitor")
KINDS = ("up", "gone", "back", "health", "alert_config", "background", "port", "event",
         "event_overflow", "error")
#: event logs in Get Event Records order (id -> name)
EVENT_LOGS = ("info", "warning", "failure", "fatal", "dynamic_capacity")
EVENT_FLAG_OVERFLOW, EVENT_FLAG_MORE = 0x01, 0x02
#: the fields of Get Event Records an event_overflow line carries (each with its _decoded)
OVERFLOW_FIELDS = ("overflow_err_count", "first_overflow_timestamp", "last_overflow_timestamp")
CLEAR_MAX_HANDLES = 255            # Clear Event Records takes at most this many handles
MAX_BATCHES = 64                   # a poll reads at most this many batches of one log
PORTS_PER_QUERY = 64
STOP_CHECK = 0.05                  # how often a wait on a target asks should_stop()
COMPONENT_TYPES = {0x00: "switch", 0x03: "type3"}
BG_RUNNING = 0x01


def timestamp(now=None):
    """``now`` (Unix time) as RFC 3339 UTC with milliseconds."""
    now = time.time() if now is None else now
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)


def _plain(obj):
    from .types import to_dict
    return to_dict(obj, decoded=True, bytes_as=bytes.hex)


def changes(old, new):
    """``{field: {"from": x, "to": y}}`` for the fields of two decoded dicts that differ,
    with the decoded value where the spec gives one."""
    out = {}
    for key, value in new.items():
        if key.endswith("_decoded") or key.endswith("_bytes") or old.get(key) == value:
            continue
        shown = key + "_decoded" if key + "_decoded" in new else key
        out[key] = {"from": old.get(shown), "to": new.get(shown)}
    return out


class _Target:
    def __init__(self, target):
        self.target = target
        self.ep = None
        self.unsupported = set()
        self.worker = None
        self.state = "new"            # new -> up -> gone -> up ...
        self.was_up = False
        self.failures = 0
        self.retry_at = 0.0           # monotonic time of the next attempt while gone
        self.gone_since = None
        self.identity = None
        self.health = self.alerts = self.bg = None
        self.ports = {}
        self.seen = {}                # log id -> keys of its records (clear=False)
        self.errors = None
        self.no_clear = set()         # logs whose records the device refused to clear
        self.overflow = {}            # log id -> the overflow last reported
        self.stale = False            # its endpoint timed out mid-command: reopen it


class Monitor:
    """Polls ``targets``; :meth:`poll` yields the lines of one round.

    ``opener(target, timeout)`` returns an open endpoint (default
    :func:`cxlmi_bindings.metrics.open_target`); ``clock`` decides when a gone
    target is tried again; ``wall`` stamps the lines.
    """

    def __init__(self, targets, timeout=5.0, clear=True, max_backoff=60.0, min_backoff=None,
                 opener=None, clock=time.monotonic, wall=time.time):
        if not targets:
            raise ValueError("no targets to monitor")
        self.timeout = float(timeout)
        self.clear = clear
        self.max_backoff = float(max_backoff)
        self.min_backoff = float(min_backoff if min_backoff is not None else min(1.0, timeout))
        self.opener = opener or open_target
        self.clock = clock
        self.wall = wall
        self.targets = [_Target(t) for t in dict.fromkeys(targets)]
        self.rounds = 0

    def close(self):
        for t in self.targets:
            self._drop(t)

    # ------------------------------------------------------------------ lines
    def _line(self, t, kind, **fields):
        assert kind in KINDS, kind
        line = {"time": timestamp(self.wall()), "target": t.target, "kind": kind}
        line.update(fields)
        return line

    # ------------------------------------------------------------------ one round
    def poll(self, should_stop=None):
        """Yield the lines of one round over every target that is due.

        ``should_stop()`` is asked between event batches and while waiting for a
        target: when it turns true the batch being reported is finished (written,
        then cleared) and the round ends, without waiting for a target that has not
        answered yet and without a ``gone`` line for it.
        """
        should_stop = should_stop or (lambda: False)
        self.rounds += 1
        now = self.clock()
        deadline = time.monotonic() + self.timeout      # real time, whatever self.clock is
        runs = []
        for t in self.targets:
            if t.state == "gone" and now < t.retry_at:
                continue
            if t.worker is not None and t.worker.is_alive():
                runs.append((t, None))          # still stuck in an earlier round
                continue
            if t.stale:
                self._drop(t)
                t.stale = False
            result = {}
            t.worker = threading.Thread(target=self._gather, args=(t, result),
                                        name="cxl-mi monitor %s" % t.target, daemon=True)
            t.worker.start()
            runs.append((t, result))
        for t, result in runs:
            if result is not None:
                # in short slices: a stop asked meanwhile ends the wait (and the round) at
                # once; the worker is a daemon thread, left to its deadline
                while t.worker.is_alive() and not should_stop():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    t.worker.join(min(left, STOP_CHECK))
            if result is None or t.worker.is_alive():
                if should_stop():
                    return              # no gone line for it once a stop was asked
                for line in self._gone(t, "no answer within %gs" % self.timeout, stuck=True):
                    yield line
                continue
            if "error" in result:
                if should_stop():
                    return
                for line in self._gone(t, result["error"]):
                    yield line
                continue
            try:
                for line in self._report(t, result, should_stop):
                    yield line
            except TransportError as exc:       # lost while draining its events
                for line in self._gone(t, str(exc)):
                    yield line
            if should_stop():
                return

    def _drop(self, t):
        ep, t.ep = t.ep, None
        if ep is not None:
            try:
                ep.close()
            except Exception:
                pass

    def _gone(self, t, message, stuck=False):
        if stuck:
            t.stale = True              # the stuck thread still uses it: closed when it is done
        else:
            self._drop(t)
        t.failures += 1
        delay = min(self.max_backoff, self.min_backoff * 2 ** (t.failures - 1))
        t.retry_at = self.clock() + delay
        if t.state != "gone":
            t.state = "gone"
            t.gone_since = self.clock()
            yield self._line(t, "gone", error=message, retry_in=round(delay, 3))

    # ------------------------------------------------------------------ in the worker
    def _gather(self, t, result):
        """Open the target if needed and read what is compared; no device state is
        changed here (events are cleared by the reporting side)."""
        try:
            if t.ep is None:
                t.ep = self.opener(t.target, self.timeout)
                t.unsupported = set()
                t.identity = None
            g = _Gather(t.ep, t.target, t.unsupported)
            ident = None
            if t.identity is None:
                ident = g.call("identify")
                result["identity"] = _identity(g, ident)
            ctype = (t.identity or result["identity"]).get("component_type")
            if ctype != "switch":
                result["health"] = g.call("memdev_get_health_info")
                result["alerts"] = g.call("memdev_get_alert_config")
            result["bg"] = g.call("bg_op_status")
            if ctype == "switch":
                result["ports"] = _ports(g)
            result["events"] = {}
            failed = {}                 # error -> the logs it was met for
            for log_id in range(len(EVENT_LOGS)):
                said = len(g.errors)
                rsp = g.call("get_event_records", event_log=log_id)
                if rsp is not None:
                    result["events"][log_id] = rsp
                for error in g.errors[said:]:
                    failed.setdefault(error, []).append(EVENT_LOGS[log_id])
                del g.errors[said:]
            # one sentence per error, naming the logs (a sanitize disables every one)
            g.errors.extend("%s (%s log%s)" % (error, ", ".join(logs),
                                                     "s" if len(logs) > 1 else "")
                            for error, logs in failed.items())
            result["errors"] = list(g.errors)      # each names its command once
            result["gather"] = g
        except Exception as exc:       # unreachable, timed out, a bug: the target is gone
            result["error"] = str(exc) or exc.__class__.__name__

    # ------------------------------------------------------------------ in the caller
    def _report(self, t, result, should_stop):
        if t.state in ("new", "gone"):
            if "identity" in result:
                t.identity = result["identity"]
            fields = dict(t.identity or {})
            kind = "back" if t.was_up else "up"     # never reached before: that is "up"
            if kind == "back":
                fields["down_seconds"] = round(self.clock() - t.gone_since, 3)
            t.state, t.failures, t.was_up = "up", 0, True
            yield self._line(t, kind, **fields)
        errors = "; ".join(result.get("errors") or ()) or None
        if errors != t.errors:
            t.errors = errors
            if errors:
                yield self._line(t, "error", error=errors)
        for key, kind in (("health", "health"), ("alerts", "alert_config")):
            rsp = result.get(key)
            if rsp is None:
                continue
            new, old = _plain(rsp), getattr(t, key)
            setattr(t, key, new)
            if old is None:
                yield self._line(t, kind, **{kind: new, "changes": None})
            elif new != old:
                yield self._line(t, kind, **{kind: new, "changes": changes(old, new)})
        if result.get("bg") is not None:
            line = self._background(t, _plain(result["bg"]))
            if line is not None:
                yield line
        for port_id, state in sorted((result.get("ports") or {}).items()):
            old = t.ports.get(port_id)
            t.ports[port_id] = state
            if old is None or old != state:
                yield self._line(t, "port", port=port_id, state=state,
                                 changes=None if old is None else changes(old, state))
        g = result["gather"]
        for log_id, rsp in sorted(result["events"].items()):
            for line in self._drain(t, g, log_id, rsp, should_stop):
                yield line
            if should_stop():
                return

    def _background(self, t, status):
        old, t.bg = t.bg, status
        running = bool(status["status"] & BG_RUNNING)
        was = old is not None and bool(old["status"] & BG_RUNNING)
        fields = {"opcode": status["opcode"], "command": _opname(status["opcode"]),
                  "percent_complete": status["status_decoded"]["percent_complete"],
                  "status": status}
        if running and (not was or old["opcode"] != status["opcode"]):
            return self._line(t, "background", state="running", **fields)
        finished = not running and status["opcode"] and old is not None and \
            (was or old["opcode"] != status["opcode"])
        if finished:
            return self._line(t, "background", state="completed",
                              return_code=status["returncode_decoded"], **fields)
        return None

    def _drain(self, t, g, log_id, rsp, should_stop):
        """Report the records of one log, clearing each batch after it was taken."""
        log = EVENT_LOGS[log_id]
        # (never through the Linux driver: it reads and clears the logs of its devices itself)
        clear = self.clear and not g.kernel and log_id not in t.no_clear
        previous = None
        for _ in range(MAX_BATCHES):
            records = list(rsp.records)[:rsp.record_count]
            overflow = (rsp.overflow_err_count, rsp.first_overflow_timestamp,
                        rsp.last_overflow_timestamp) if rsp.flags & EVENT_FLAG_OVERFLOW else None
            if overflow != t.overflow.get(log_id) and overflow is not None:
                # the fields as get-event-records --json gives them (with *_decoded)
                yield self._line(t, "event_overflow", log=log, event_log=log_id,
                                 **{k: v for k, v in _plain(rsp).items()
                                    if k.startswith(OVERFLOW_FIELDS)})
            t.overflow[log_id] = overflow
            batch = [(r.handle, r.timestamp) for r in records]
            if clear and batch and batch == previous:
                yield self._line(t, "error", error="%s event log: the records cleared came "
                                 "back; not clearing it again this round" % log)
                return
            if not clear:
                seen, t.seen[log_id] = t.seen.get(log_id, set()), set(batch)
                records = [r for r in records if (r.handle, r.timestamp) not in seen]
            for r in records:
                yield self._line(t, "event", log=log, event_log=log_id, handle=r.handle,
                                 record=_plain(r))
            # the consumer has taken every line of the batch: now it may go
            if not clear or not batch:
                return
            handles = [h for h, _ in batch]
            try:
                for start in range(0, len(handles), CLEAR_MAX_HANDLES):
                    t.ep.clear_event_records(event_log=log_id, clear_flags=0,
                                             handles=handles[start:start + CLEAR_MAX_HANDLES])
            except TransportError:
                raise
            except CxlmiError as exc:
                # refused: from now on this log is only read (its records recognised)
                t.no_clear.add(log_id)
                t.seen[log_id] = set(batch)
                yield self._line(t, "error", error="%s event log: not cleared (%s); it is only "
                                 "read from now on" % (log, exc))
                return
            if not rsp.flags & EVENT_FLAG_MORE or should_stop():
                return
            previous = batch
            said = len(g.errors)
            rsp = g.call("get_event_records", event_log=log_id)
            if rsp is None:
                # the round's error line went out before this batch: say this one here
                for error in g.errors[said:]:
                    yield self._line(t, "error", error="%s event log: %s"
                                     % (log, error))
                return


def _opname(opcode):
    from . import registry
    return registry.opcode_name(opcode) if opcode else None


def _identity(g, ident):
    out = {"transport": getattr(g.ep.transport, "name", None)}
    if ident is not None:
        out.update(component_type=COMPONENT_TYPES.get(ident.component_type,
                                                      "0x%02x" % ident.component_type),
                   serial="0x%016x" % ident.serial_num,
                   vendor_id="%04x" % ident.vendor_id, device_id="%04x" % ident.device_id)
    elif g.kernel:              # Identify has no kernel command: what sysfs says
        _kernel_identity(g)
        out.update(component_type=g.labels["type"] or None, serial=g.labels["serial"] or None)
    else:
        out["component_type"] = None
    return out


def _ports(g):
    sw = g.call("fmapi_identify_sw_device")
    if sw is None:
        return {}
    mask = bytes(sw.active_port_bitmask)
    ports = [p for p in range(min(len(mask) * 8, 256)) if mask[p // 8] >> (p % 8) & 1]
    out = {}
    for start in range(0, len(ports), PORTS_PER_QUERY):
        reply = g.call("fmapi_get_phys_port_state", ports=ports[start:start + PORTS_PER_QUERY])
        if reply is not None:
            for p in reply.ports:
                out[p.port_id] = _plain(p)
    return out
