# SPDX-License-Identifier: LGPL-2.1-or-later
"""Workflows: the jobs that take more than one CCI message, as Endpoint methods.

    from cxlmi_bindings import Context
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        done = ep.transfer_firmware("fw.bin", progress=print)     # every part, then Get FW Info
        for batch in ep.drain_events(clear=True):                 # cleared once taken
            store(batch.records)
        cel = ep.read_log("cel")                                  # the whole log, in windows
        bad = ep.poison_list()                                    # every page

Each method is also a function of this module taking the endpoint first
(``transfer_firmware(ep, ...)``); ``tunnel=`` sends every message of the
workflow through a :class:`~cxlmi_bindings.tunnel.Tunnel`.

Progress: ``progress(step)`` is called with a :class:`Step` at every step
(after each firmware part, at each Background Operation Status poll, after each
log window or list page).  An exception it raises ends the workflow there (a
firmware transfer left open is aborted first); a KeyboardInterrupt it raises
counts as Ctrl-C.

Cancellation: ``cancel`` is a :class:`threading.Event` (or any callable that
returns true once the caller wants to stop), looked at between messages.  The
device is left consistent first -- a firmware transfer in flight gets the
Transfer FW abort action, a background operation Request Abort Background
Operation (0005h) -- then :class:`~cxlmi_bindings.errors.Cancelled` is raised;
its ``outcome``, ``status`` and ``error`` say what the device did (a read --
logs, lists -- has nothing to undo: it just stops; a drain ends quietly after
clearing what the caller took).  Ctrl-C (a ``KeyboardInterrupt``) at any
moment of a transfer or a wait gets the same clean-up and ends in
:class:`~cxlmi_bindings.errors.Interrupted`, which is still a
KeyboardInterrupt.

The seam: a workflow reaches its endpoint only through ``ep.call(entry,
request, tunnel)``, ``ep.last_payload``, ``ep.last_return_code``,
``ep.transport`` (its ``max_payload``) and ``ep.target``, so the command line
hands in its own view of the endpoint (each message logged, ``--timeout``
applied) and draws the progress.

Cheap to import: the standard library only at module level.
"""

import collections
import os
import time

#: seconds between two Background Operation Status polls
POLL_SECONDS = 0.25
#: Transfer FW: request header bytes before the data, and the offset unit
FW_HEADER = 128
FW_UNIT = 128
#: per tunnel level: the 4-byte Tunnel Management header + the inner 12-byte CCI header
TUNNEL_OVERHEAD = 16
#: event logs in Get Event Records order (the names the command line uses)
EVENT_LOGS = ("info", "warn", "fail", "fatal", "dcd")
_EVENT_LOG_ALIASES = {"warning": 1, "failure": 2, "dynamic-capacity": 4, "dynamic_capacity": 4}
#: Get Event Records flags
EVENTS_OVERFLOW = 1 << 0
EVENTS_MORE = 1 << 1
#: Clear Event Records takes at most this many handles
CLEAR_MAX_HANDLES = 255
#: Get Poison List / Get Scan Media Results more-records flags, and the restart bit
#: (bit 0 of the request address: start the list over)
POISON_MORE = 1 << 0
POISON_RESTART = 1 << 0
SCAN_MORE = 1 << 0
#: the smallest mailbox a component may declare (Identify: 2^8 bytes): a message this
#: small fits any endpoint without asking its limits
SMALLEST_MESSAGE = 256
#: Set LSA: the offset and reserved bytes before the data
LSA_HEADER = 8
#: a safety net against a device that never clears a more-records flag
MAX_PAGES = 100000
#: the return code of a command the device goes on with in the background
BACKGROUND_STARTED = 1

Step = collections.namedtuple("Step", "stage done total detail")
Step.__doc__ = """One step of a workflow, handed to its ``progress`` callback.

``stage`` says what is going on: ``"ready"`` (a firmware transfer is about to
send its first part: nothing sent yet), ``"transfer"`` (a part went: ``done``
bytes of ``total``, None for a stream of unknown length), ``"verify"`` (the
component checks the package in the background), ``"activate"`` (activation
in the background), ``"background"`` (:func:`wait`), ``"log"`` (``done`` bytes
of a log read), ``"page"`` (``done`` pages of a list read), ``"lsa"`` (``done``
bytes of a label storage area read or write).  In the background stages
``done`` is the percent complete and ``total`` 100.  ``detail`` is a
dict: ``slot``, ``chunk_size``, ``sent`` for a transfer, ``status`` (see
:func:`status_dict`) for a poll.
"""

FirmwareTransfer = collections.namedtuple(
    "FirmwareTransfer", "name bytes slot parts chunk_size activated fw_info")
FirmwareTransfer.__doc__ = """What :func:`transfer_firmware` did: the package's ``name``,
its size in ``bytes``, the ``slot`` written, how many ``parts`` of at most ``chunk_size``
bytes, ``activated`` (None, "online" or "reset") and the Get FW Info reply read
afterwards (``fw_info``, None when the component does not answer it)."""

Waited = collections.namedtuple("Waited", "started result status seconds")
Waited.__doc__ = """What :func:`call_and_wait` did: ``started`` (the device ran the
command in the background), ``result`` (its decoded reply when it did not), the final
``status`` (:func:`status_dict`) and the ``seconds`` spent waiting."""

LogRead = collections.namedtuple("LogRead", "uuid name size offset data entries")
LogRead.__doc__ = """What :func:`read_log` read: the log's 16-byte ``uuid``, its
``name`` (None for a log the spec does not name), its ``size`` as Get Supported Logs
gives it, the ``offset`` read from, the ``data`` bytes and, read with ``get_log_cel``,
the Command Effects Log ``entries``."""


class Pages(collections.namedtuple("Pages", "reply pages raw address length")):
    """Every page of a list read with its more-records flag: ``reply`` is one reply
    structure holding every page's records (its header from the last page, the flag
    cleared), ``pages`` how many replies, ``raw`` their payloads in order; ``address``
    and ``length`` (bytes) the range asked for (None where the command has none)."""

    __slots__ = ()

    @property
    def records(self):
        tail = type(self.reply)._flex_[0]
        return list(getattr(self.reply, tail))


class EventBatch:
    """One Get Event Records reply of :func:`drain_events`.

    ``log`` (0-4) and ``name`` (from ``EVENT_LOGS``); ``records`` (the records of the
    reply, as many as it counts); ``more`` (the device has more); ``overflow``
    (``(count, first_timestamp, last_timestamp)`` when the log overflowed, else
    None); ``reply`` and ``payload`` (the decoded reply and its bytes).
    ``cleared`` turns true once the generator cleared the batch (when it was
    resumed after handing it over).  ``repeated``: the device sent again the
    records just cleared (clearing did not take): the log is left there.
    ``error``: the log could not be read (``action`` "read") or cleared
    ("clear"); the generator goes on with the next log.
    """

    __slots__ = ("log", "name", "records", "more", "overflow", "reply", "payload",
                 "cleared", "repeated", "error", "action")

    def __init__(self, log, reply=None, payload=b"", error=None, action="read"):
        self.log = log
        self.name = EVENT_LOGS[log] if log < len(EVENT_LOGS) else str(log)
        self.reply, self.payload, self.error, self.action = reply, payload, error, action
        self.cleared = self.repeated = False
        if reply is None:
            self.records, self.more, self.overflow = [], False, None
            return
        self.records = list(reply.records)[:reply.record_count]
        self.more = bool(reply.flags & EVENTS_MORE)
        self.overflow = ((reply.overflow_err_count, reply.first_overflow_timestamp,
                          reply.last_overflow_timestamp)
                         if reply.flags & EVENTS_OVERFLOW else None)

    def __repr__(self):
        return "<EventBatch %s: %d records%s%s>" % (
            self.name, len(self.records), ", more" if self.more else "",
            ", error: %s" % self.error if self.error else "")


class _CancelRequested(Exception):
    """``cancel`` was set: unwinds to the clean-up of the workflow."""


# ----------------------------------------------------------------------- shared parts

def _entry(name):
    from . import registry
    return name if isinstance(name, registry.Entry) else registry.get(name)


def _usage(message, hint=None):
    from .errors import UsageError
    return UsageError(message, hint=hint)


class _Run:
    """One workflow on one endpoint: its tunnel, callbacks and clock."""

    def __init__(self, ep, tunnel=None, progress=None, cancel=None, interval=POLL_SECONDS,
                 sleep=None):
        self.ep, self.tunnel = ep, tunnel
        self.progress, self.cancel = progress, cancel
        self.interval, self.sleep = interval, sleep

    def call(self, name, request=None):
        return self.ep.call(_entry(name), request, self.tunnel)

    @property
    def payload(self):
        return bytes(getattr(self.ep, "last_payload", b"") or b"")

    @property
    def started(self):
        """The last command went on in the background (return code 1)."""
        return getattr(self.ep, "last_return_code", 0) == BACKGROUND_STARTED

    def step(self, stage, done, total=None, **detail):
        if self.progress is not None:
            self.progress(Step(stage, done, total, detail))

    def cancelled(self):
        cancel = self.cancel
        if cancel is None:
            return False
        is_set = getattr(cancel, "is_set", None)
        return bool(is_set() if is_set is not None else cancel())

    def check(self):
        if self.cancelled():
            raise _CancelRequested()

    def pause(self):
        if self.sleep is not None:
            self.sleep(self.interval)
        elif hasattr(self.cancel, "wait"):
            self.cancel.wait(self.interval)       # a cancel ends the pause at once
        else:
            time.sleep(self.interval)

    @property
    def where(self):
        ep = self.ep
        where = getattr(ep, "where", None)
        if where:
            return where
        target = str(getattr(ep, "target", None) or ep)
        return "%s (%s)" % (target, self.tunnel.describe()) if self.tunnel else target


def _stopped(why, stage, outcome, what, status=None, error=None, slot=None):
    """The exception that ends a cancelled (Cancelled) or interrupted (Interrupted)
    workflow, once the device was left consistent."""
    from .errors import Cancelled, Interrupted
    cls = Interrupted if isinstance(why, KeyboardInterrupt) else Cancelled
    return cls(stage=stage, outcome=outcome, what=what, status=status, error=error, slot=slot)


def status_dict(st):
    """A Background Operation Status reply as a dict: ``opcode`` (and its registry
    name, ``opcode_decoded``), ``running``, ``percent_complete``, ``return_code`` (and
    ``return_code_name``), ``vendor_ext_status``."""
    from . import registry
    from .errors import retcode_name
    return {"opcode": st.opcode, "opcode_decoded": registry.opcode_name(st.opcode),
            "running": bool(st.status & 1), "percent_complete": st.status >> 1,
            "return_code": st.returncode, "return_code_name": retcode_name(st.returncode),
            "vendor_ext_status": st.vendor_ext_status}


def payload_limits(ep, tunnel=None):
    """(request, response) payload bytes one message may carry to/from the endpoint.

    The least of the transport's limit, the component's Identify maximum
    message size (2^n), its response message limit (0003h) when it answers
    that, less the tunnel headers each level adds.
    """
    from .errors import CxlmiError
    run = _Run(ep, tunnel)
    cap = int(getattr(ep.transport, "max_payload", 0) or 2048)
    hops = len(tunnel.hops) if tunnel else 0
    request = response = cap - TUNNEL_OVERHEAD * hops
    try:
        ident = run.call("identify")
        if 8 <= ident.max_msg_size <= 20:
            request = min(request, 1 << ident.max_msg_size)
            response = min(response, 1 << ident.max_msg_size)
    except CxlmiError:
        pass
    try:
        limit = run.call("get_response_msg_limit").limit
        if 8 <= limit <= 20:
            response = min(response, 1 << limit)
    except CxlmiError:
        pass
    return request, response


# ----------------------------------------------------------------------- background work

def _poll(run, stage, opcode=None, timeout=None, **detail):
    """Poll Background Operation Status until the operation ends; its last status."""
    began = time.monotonic()
    while True:
        status = status_dict(run.call("bg_op_status"))
        if opcode is not None and status["opcode"] != opcode:
            from . import registry
            raise _usage("the background operation is %04Xh (%s), not %04Xh (%s)" % (
                status["opcode"], status["opcode_decoded"], opcode,
                registry.opcode_name(opcode)))
        run.step(stage, status["percent_complete"], 100, status=status, **detail)
        if not status["running"]:
            return status
        run.check()
        if timeout is not None and time.monotonic() - began >= timeout:
            from .errors import CommandTimeout
            raise CommandTimeout("%s: the background operation %04Xh is still running after "
                                 "%gs (%d %%); it goes on" % (run.where, status["opcode"],
                                                              timeout,
                                                              status["percent_complete"]))
        run.pause()


def abort_background(ep, tunnel=None):
    """Request Abort Background Operation, then what Background Operation Status says.

    Returns ``(status or None, error or None)``: the error the abort request
    got (NO_BGABORT: the operation cannot be aborted), the status read after it.
    """
    from .errors import CxlmiError
    run = ep if isinstance(ep, _Run) else _Run(ep, tunnel)
    try:
        run.call("request_bg_op_abort")
    except CxlmiError as exc:
        error = exc
    else:
        error = None
    try:
        status = status_dict(run.call("bg_op_status"))
    except CxlmiError:
        status = None
    return status, error


def wait(ep, opcode=None, timeout=None, progress=None, cancel=None, abort=True,
         interval=POLL_SECONDS, tunnel=None, sleep=None):
    """Follow the background operation to its end; its final :func:`status_dict`.

    Polls Background Operation Status (0002h) every ``interval`` seconds,
    ``progress`` gets a ``"background"`` :class:`Step` per poll.  ``opcode``:
    the operation expected (UsageError when another one is reported).
    ``timeout`` (seconds): CommandTimeout when it still runs then (it goes
    on).  A cancel or Ctrl-C sends Request Abort Background Operation
    (``abort=False``: leaves it running) and raises Cancelled / Interrupted.
    An operation that ended with an error return code raises DeviceError.
    """
    run = _Run(ep, tunnel, progress, cancel, interval, sleep)
    status = _wait(run, "background", opcode, timeout, abort, None)
    _check_status(status, None)
    return status


def _wait(run, stage, opcode, timeout, abort, what, **detail):
    try:
        return _poll(run, stage, opcode, timeout, **detail)
    except (KeyboardInterrupt, _CancelRequested) as why:
        if not abort:
            raise _stopped(why, stage, "left-running", what) from None
        status, error = abort_background(run)
        raise _stopped(why, stage, "abort-requested", what, status, error,
                       detail.get("slot")) from None


def _check_status(status, command):
    if status["return_code"]:
        from .errors import DeviceError
        raise DeviceError(status["return_code"], command=command or status["opcode_decoded"])


def _done_status(opcode):
    from . import registry
    from .errors import retcode_name
    return {"opcode": opcode, "opcode_decoded": registry.opcode_name(opcode),
            "running": False, "percent_complete": 100, "return_code": 0,
            "return_code_name": retcode_name(0), "vendor_ext_status": 0}


def call_and_wait(ep, command, request=None, timeout=None, progress=None, cancel=None,
                  interval=POLL_SECONDS, tunnel=None, sleep=None):
    """Send a background-capable ``command`` and, when the device goes on with it in
    the background, :func:`wait` for its end; a :data:`Waited`.

    Ctrl-C while the command is on its way: Background Operation Status says
    whether it started; when it runs, Request Abort Background Operation is
    sent; Interrupted says which (``outcome`` "not-started", "finished",
    "abort-requested" or "unknown").  A failed operation raises DeviceError.
    """
    entry = _entry(command)
    run = _Run(ep, tunnel, progress, cancel, interval, sleep)
    if run.cancelled():
        raise _stopped(_CancelRequested(), "sending", "nothing-sent", entry.name)
    try:
        result = run.call(entry, request)
    except KeyboardInterrupt as why:
        # the request may have reached the device: find out, and abort what started
        raise _interrupted_while_sending(run, entry, why) from None
    began = time.monotonic()
    status = started = None
    try:
        started = run.started
        if started:
            result = None
            status = _poll(run, "background", None, timeout)
        else:
            status = _done_status(entry.opcode)
        # up to the return, so a Ctrl-C in these last steps is also told as "finished"
        seconds = round(time.monotonic() - began, 3)
        _check_status(status, entry.name)
        return Waited(started, result, status, seconds)
    except (KeyboardInterrupt, _CancelRequested) as why:
        if started is None:                             # nothing sent since the command
            started = run.started
        if status is not None or not started:           # it had ended: nothing to abort
            raise _stopped(why, "background", "finished", entry.name,
                           status or _done_status(entry.opcode)) from None
        st, error = abort_background(run)
        raise _stopped(why, "background", "abort-requested", entry.name, st, error) from None


def _interrupted_while_sending(run, entry, why):
    from .errors import CxlmiError
    try:
        status = status_dict(run.call("bg_op_status"))
    except CxlmiError as exc:
        return _stopped(why, "sending", "unknown", entry.name, error=exc)
    if status["opcode"] != entry.opcode:
        return _stopped(why, "sending", "not-started", entry.name, status)
    if status["running"]:
        st, error = abort_background(run)
        return _stopped(why, "sending", "abort-requested", entry.name, st, error)
    return _stopped(why, "sending", "finished", entry.name, status)


# ----------------------------------------------------------------------- what a stop says

FOLLOW = "Background Operation Status (0002h)"


def finished_message(what, status):
    return ("%s: it had already finished (%s, %d %%): nothing to abort"
            % (what, status["return_code_name"], status["percent_complete"]))


def abort_message(what, status, error, follow=FOLLOW):
    """What Request Abort Background Operation did, from the status read after it."""
    if status is not None and not status["running"] and (
            error is not None or status["return_code_name"] != "ABORT"):
        return finished_message(what, status)      # it ended before the abort could
    if error is not None:
        name = getattr(error, "name", None) or type(error).__name__
        return ("%s: the device did not abort its background operation (%s): it goes on; "
                "follow it with %s" % (what, name, follow))
    if status is not None and status["running"]:
        return ("%s: asked the device to abort its background operation (Request Abort "
                "Background Operation, 0005h); it is still running at %d %%: follow it "
                "with %s" % (what, status["percent_complete"], follow))
    if status is None:          # the abort was taken, but what followed is not known
        return ("%s: asked the device to abort its background operation (Request Abort "
                "Background Operation, 0005h); the device took the request, but its status "
                "could not be read back: check with %s" % (what, follow))
    return ("%s: asked the device to abort its background operation (Request Abort "
            "Background Operation, 0005h); it stopped at %d %%"
            % (what, status["percent_complete"]))


def describe_stop(stop, what=None, follow=FOLLOW):
    """One sentence on what a Cancelled / Interrupted workflow left behind.
    ``what`` names the job, ``follow`` how to follow an operation that goes on."""
    what = what or stop.what or "workflow"
    outcome, status, error, slot = stop.outcome, stop.status, stop.error, stop.slot
    if outcome == "nothing-sent":
        return "%s: stopped before anything was sent" % what
    if outcome == "not-started":
        return "%s: interrupted before the device started it; nothing to abort" % what
    if outcome == "unknown":
        return ("%s: interrupted while it was being sent; the device's state is unknown "
                "(Background Operation Status: %s): check with %s" % (what, error, follow))
    if outcome == "finished":
        return finished_message(what, status)
    if outcome == "left-running":
        return "%s: stopped waiting; the operation goes on: follow it with %s" % (what, follow)
    if outcome == "transfer-aborted":
        return ("%s aborted (Transfer FW abort action sent); slot %d was not changed"
                % (what, slot))
    if outcome == "abort-failed":
        return ("%s: the abort action failed (%s); the component drops the partial "
                "transfer at the next initiate" % (what, error))
    if outcome == "not-activated":
        return ("%s: stopped before activation: slot %d holds the new package, not "
                "activated" % (what, slot))
    if outcome == "stopped":
        return "%s: stopped part way; nothing on the device to undo" % what
    text = abort_message(what, status, error, follow)
    if stop.stage == "verify" and error is None:
        text += "; slot %d was not changed" % slot
    return text


# ----------------------------------------------------------------------- firmware

def choose_fw_slot(ep, slot=None, tunnel=None):
    """The slot to write -- ``slot`` checked, or an empty slot that is neither the
    active nor the staged one -- and the Get FW Info reply (None when not answered).
    With no such empty slot a UsageError names what each slot holds: a package
    is overwritten only in a slot named by the caller."""
    from .errors import CxlmiError
    run = ep if isinstance(ep, _Run) else _Run(ep, tunnel)
    try:
        info = run.call("get_fw_info")
    except CxlmiError:
        info = None
    if info is None:
        if slot is None:
            raise _usage("the component does not answer Get FW Info: name the slot")
        return slot, None
    active = info.slot_info & 0x7
    slots = info.slots_supported or 1
    if slot is not None:
        if not 1 <= slot <= slots:
            raise _usage("slot %d: the component has slots 1-%d" % (slot, slots))
        if slot == active:
            raise _usage("slot %d is the active slot: choose another (1-%d)" % (slot, slots),
                         hint="Get FW Info (0200h) shows the slots and their revisions")
        return slot, info
    staged = (info.slot_info >> 3) & 0x7
    candidates = [n for n in range(1, min(slots, 4) + 1) if n != active]
    if not candidates:
        raise _usage("the component has no slot besides the active one (%d)" % active)

    def revision(n):
        rev = getattr(info, "fw_rev%d" % n)
        return bytes(rev).rstrip(b"\0") if not isinstance(rev, bytes) else rev.rstrip(b"\0")
    empty = [n for n in candidates if n != staged and not revision(n)]
    if empty:
        return empty[0], info
    # never overwrite a package by default: the slot to give up is the user's choice
    held = []
    for n in candidates:
        text = revision(n).decode("ascii", "replace")
        held.append("slot %d %s%r%s" % (n, "holds " if not held else "", text,
                                         " (staged)" if n == staged else ""))
    raise _usage("no empty firmware slot: %s: name the slot to overwrite" % ", ".join(held),
                 hint="Get FW Info (0200h) shows the slots and their revisions")


def regular_size(f):
    """The size of a regular file, else ``None`` (a pipe, a terminal)."""
    import stat
    try:
        st = os.fstat(f.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def package_parts(f, chunk, name):
    """``(offset, data, first, last)`` for each part of the package, read one
    part ahead (to know which is the last) so that memory holds two parts, not
    the package: a 1 GiB image costs what two parts cost."""
    def read():
        try:
            data = f.read(chunk)
            # an unbuffered stream (a pipe) may return less before its end, and a
            # part short of the others would move every later offset
            while data and len(data) < chunk:
                more = f.read(chunk - len(data))
                if not more:
                    break
                data += more
            return data
        except OSError as exc:
            raise _usage("cannot read %s: %s" % (name, exc.strerror or exc))
    data, off = read(), 0
    if not data:
        raise _usage("%s is empty" % name)
    while data:
        following = read()
        yield off, data, off == 0, not following
        off += len(data)
        data = following


def _open_package(package, name):
    """(binary file, size or None, name, whether we opened it)."""
    import io
    if isinstance(package, (bytes, bytearray, memoryview)):
        data = bytes(package)
        return io.BytesIO(data), len(data), name or "package", False
    if isinstance(package, (str, os.PathLike)):
        path = os.fspath(package)
        try:
            f = open(path, "rb")
        except OSError as exc:
            raise _usage("cannot read %s: %s" % (path, exc.strerror or exc))
        return f, regular_size(f), name or os.path.basename(path), True
    if not hasattr(package, "read"):
        raise _usage("a firmware package is bytes, a path or a binary file, not %s"
                     % type(package).__name__)
    label = name or os.path.basename(str(getattr(package, "name", "") or "")) or "package"
    return package, regular_size(package), label, False


def transfer_firmware(ep, package, slot=None, activate=None, chunk_size=None, progress=None,
                      cancel=None, name=None, interval=POLL_SECONDS, tunnel=None, sleep=None):
    """Send a whole firmware package to a slot; a :data:`FirmwareTransfer`.

    ``package``: bytes, a path or a binary file (a pipe works: it is streamed,
    two parts in memory at a time).  ``slot``: default an empty slot that is
    neither the active nor the staged one (none empty: a UsageError, nothing
    sent -- a package is overwritten only in a slot named).  ``chunk_size``: bytes per Transfer FW part, a multiple
    of 128 (default: the largest the endpoint takes -- its payload limit less
    the 128-byte header).  The parts go with the initiate / continue / end
    actions (full for one part); a part the component checks in the background
    is followed to its end.  ``activate``: "online" or "reset" activates the
    slot afterwards (Activate FW).  ``progress`` gets "ready" (before the first
    part: raising there stops with nothing sent), "transfer", "verify" and
    "activate" steps.

    Cancel / Ctrl-C: the Transfer FW abort action is sent (or Request Abort
    Background Operation while the component checks the package), so the slot
    is not changed; then Cancelled / Interrupted.  A refusal from the device is
    a DeviceError (the transfer aborted when it was left open).
    """
    if activate not in (None, "online", "reset"):
        raise _usage("activate is 'online' or 'reset', not %r" % (activate,))
    if chunk_size is not None and (chunk_size < FW_UNIT or chunk_size % FW_UNIT):
        raise _usage("chunk size %s: a part is a non-zero multiple of 128 bytes" % chunk_size)
    run = _Run(ep, tunnel, progress, cancel, interval, sleep)
    source, size, label, owned = _open_package(package, name)
    try:
        if size == 0:
            raise _usage("%s is empty" % label)
        slot, _ = choose_fw_slot(run, slot)
        limit, _ = payload_limits(ep, tunnel)
        largest = (limit - FW_HEADER) // FW_UNIT * FW_UNIT
        if largest < FW_UNIT:
            raise _usage("%s carries at most %d payload bytes: too few for a Transfer FW part"
                         % (run.where, limit))
        chunk = chunk_size or largest
        if chunk > largest:
            raise _usage("chunk size %d: %s takes at most %d bytes per part"
                         % (chunk, run.where, largest))
        parts = package_parts(source, chunk, label)
        opening = next(parts)                 # an empty pipe is refused before anything
        run.step("ready", 0, size, slot=slot, chunk_size=chunk, name=label)
        import itertools
        sent, count = _send_package(run, itertools.chain([opening], parts), slot, size)
    finally:
        if owned:
            source.close()
    activated = None
    if activate:
        _activate(run, slot, activate)
        activated = activate
    from .errors import CxlmiError
    try:
        info = run.call("get_fw_info")
    except CxlmiError:
        info = None
    return FirmwareTransfer(label, sent, slot, count, chunk, activated, info)


def _send_abort_action(run):
    from .errors import CxlmiError
    try:
        run.call("transfer_fw", {"action": 4, "slot": 0, "offset": 0, "data": b""})
        return None
    except CxlmiError as exc:
        return exc


def _send_package(run, parts, slot, size):
    state = {"open": False, "background": False, "sent": False}
    sent = count = 0
    try:
        for off, data, first, last in parts:
            run.check()
            action = (0 if last else 1) if first else (3 if last else 2)
            request = {"action": action, "slot": slot if action in (0, 3) else 0,
                       "offset": off // FW_UNIT, "data": data}
            state["sent"] = True
            run.call("transfer_fw", request)
            state["open"] = action in (1, 2)
            sent, count = off + len(data), count + 1
            if run.started:
                state["background"] = True
                status = _poll(run, "verify", sent=sent, slot=slot)
                state["background"] = False
                _check_status(status, "transfer_fw")
            run.step("transfer", sent, size, slot=slot, sent=sent)
    except (KeyboardInterrupt, _CancelRequested) as why:
        what = "firmware transfer"
        if not state["sent"] and isinstance(why, _CancelRequested):
            raise _stopped(why, "transfer", "nothing-sent", what, slot=slot) from None
        if state["background"]:
            status, error = abort_background(run)
            raise _stopped(why, "verify", "abort-requested", what, status, error,
                           slot) from None
        error = _send_abort_action(run)
        raise _stopped(why, "transfer", "abort-failed" if error else "transfer-aborted",
                       what, error=error, slot=slot) from None
    except Exception:
        if state["open"]:
            _send_abort_action(run)
        raise
    return sent, count


def _activate(run, slot, how):
    if run.cancelled():
        raise _stopped(_CancelRequested(), "activate", "not-activated", "firmware transfer",
                       slot=slot)
    run.call("activate_fw", {"action": 0 if how == "online" else 1, "slot": slot})
    if run.started:
        status = _wait(run, "activate", None, None, True, "firmware activation", slot=slot)
        _check_status(status, "activate_fw")


# ----------------------------------------------------------------------- event records

def _event_logs(log):
    if log is None:
        return list(range(len(EVENT_LOGS)))
    if isinstance(log, (list, tuple)):
        out = []
        for one in log:
            out.extend(_event_logs(one))
        return out
    if isinstance(log, str):
        key = log.strip().lower()
        if key in EVENT_LOGS:
            return [EVENT_LOGS.index(key)]
        if key in _EVENT_LOG_ALIASES:
            return [_EVENT_LOG_ALIASES[key]]
        raise _usage("event log %r: one of %s" % (log, ", ".join(EVENT_LOGS)))
    if isinstance(log, int) and 0 <= log <= 0xFF:
        return [log]                            # a log this library does not name yet
    raise _usage("event log %r: 0-255 or one of %s" % (log, ", ".join(EVENT_LOGS)))


def drain_events(ep, log=None, clear=False, cancel=None, tunnel=None):
    """Yield the event records of ``log`` (a name, 0-4 or a list; default every log
    in turn) as :class:`EventBatch` es, one per Get Event Records reply.

    Without ``clear`` each log gives its first batch (a component keeps
    returning its oldest records until they are cleared; ``batch.more`` says
    whether more wait).  With ``clear`` a batch is cleared by its handles
    (Clear Event Records) only when the generator is resumed after handing it
    over -- a consumer that stores each batch before asking for the next never
    loses a record; one that stops (breaks, closes the generator) leaves the
    last batch on the device -- and the log is read on until it is empty.
    ``cancel`` is looked at before each log and after each clear: once set, the
    generator ends.
    A log that fails yields a batch with ``error`` set and the next log is read.
    """
    from .errors import CxlmiError
    logs = _event_logs(log)
    run = _Run(ep, tunnel, cancel=cancel)
    for log_id in logs:
        if run.cancelled():
            return
        previous = None
        for _ in range(MAX_PAGES):
            try:
                reply = run.call("get_event_records", {"event_log": log_id})
            except CxlmiError as exc:
                yield EventBatch(log_id, error=exc)
                break
            batch = EventBatch(log_id, reply, run.payload)
            keys = [(r.handle, r.timestamp) for r in batch.records]
            if clear and keys and keys == previous:
                batch.repeated = True           # clearing did not take: stop here
                yield batch
                break
            yield batch                         # resumed: the consumer has taken it
            if not clear or not batch.records:
                break
            handles = [r.handle for r in batch.records]
            try:
                for start in range(0, len(handles), CLEAR_MAX_HANDLES):
                    run.call("clear_event_records", {
                        "event_log": log_id, "clear_flags": 0,
                        "handles": handles[start:start + CLEAR_MAX_HANDLES]})
            except CxlmiError as exc:
                yield EventBatch(log_id, error=exc, action="clear")
                break
            batch.cleared = True
            previous = keys
            if run.cancelled():
                return
            if not batch.more:
                break


# ----------------------------------------------------------------------- logs

def _log_uuid(log):
    from . import uuids
    import uuid as _uuid
    if isinstance(log, _uuid.UUID):
        return log.bytes
    if isinstance(log, (bytes, bytearray)) and len(log) == 16:
        return bytes(log)
    key = str(log).strip().lower().replace("_", "-")
    if key in uuids.LOG:
        return uuids.wire(uuids.LOG[key])
    try:
        return _uuid.UUID(key).bytes
    except ValueError:
        raise _usage("%r is not a log: a UUID or one of %s" % (log, ", ".join(sorted(uuids.LOG))))


def check_cel_offset(offset):
    """Refuse an offset inside a Command Effects Log entry: every entry read from
    there would be decoded misaligned (UsageError)."""
    if offset % 4:
        raise _usage("offset %d: the Command Effects Log is read in whole 4-byte entries "
                     "(an offset that is a multiple of 4)" % offset)


def _log_name(uuid):
    from . import uuids
    for name, text in uuids.LOG.items():
        if uuids.wire(text) == uuid:
            return name
    return None


def _label(uuid):
    import uuid as _uuid
    return _log_name(uuid) or str(_uuid.UUID(bytes=uuid))


def read_log(ep, log, offset=0, length=None, command=None, progress=None, cancel=None,
             tunnel=None):
    """Read a whole log (or ``length`` bytes from ``offset``); a :data:`LogRead`.

    ``log``: "cel", "vendor-debug", "component-state-dump", a UUID (text, 16
    bytes or ``uuid.UUID``).  Its size comes from Get Supported Logs (0400h); it
    is read in windows as large as one reply may be (:func:`payload_limits`;
    whole 4-byte entries for the CEL).  ``command``: the registry command that
    reads (``get_log``; ``get_log_cel`` also decodes the CEL ``entries``).
    ``progress`` gets a "log" step per window; a cancel raises Cancelled.
    """
    entry = _entry(command or "get_log")
    uuid = _log_uuid(log)
    run = _Run(ep, tunnel, progress, cancel)
    logs = run.call("get_supported_logs")
    sizes = {bytes(e.uuid): e.log_size
             for e in list(logs.entries)[:logs.num_supported_log_entries]}
    if uuid not in sizes:
        listed = ", ".join(_label(u) for u in sizes) or "none"
        raise _usage("%s does not keep the %s log (Get Supported Logs lists: %s)"
                     % (run.where, _label(uuid), listed))
    size = sizes[uuid]
    start = offset or 0
    if start > size:
        raise _usage("offset %d is past the end of the %d-byte %s log"
                     % (start, size, _label(uuid)))
    end = size if length is None else min(size, start + length)
    cel = entry.name == "get_log_cel"
    whole_entries = cel or _log_name(uuid) == "cel"
    if whole_entries:
        check_cel_offset(start)
    _, window = payload_limits(ep, tunnel)
    if whole_entries:
        window -= window % 4                    # whole CEL entries in every window
    data, items, at = bytearray(), [], start
    try:
        while at < end:
            run.check()
            part = run.call(entry, {"uuid": uuid, "offset": at, "length": min(window, end - at)})
            got = run.payload
            data += got
            if cel:
                items.extend(part)
            if not got:
                break
            at += len(got)
            run.step("log", len(data), end - start)
    except _CancelRequested as why:
        raise _stopped(why, "log", "stopped", "get-log") from None
    return LogRead(uuid, _log_name(uuid), size, start, bytes(data), items if cel else None)


# ----------------------------------------------------------------------- label storage area

def _lsa_floor(tunnel):
    """Bytes of payload any endpoint carries, without asking it (the smallest mailbox
    Identify may declare, less the tunnel headers)."""
    hops = len(tunnel.hops) if tunnel else 0
    return SMALLEST_MESSAGE - TUNNEL_OVERHEAD * hops


def _lsa_check_range(run, offset, length, what):
    """Refuse, before anything is sent, a range past the end of the LSA (its size
    from Memory Device Identify; not checked when the component does not answer)."""
    from .errors import CxlmiError
    try:
        size = run.call("memdev_identify").lsa_size
    except CxlmiError:
        return
    if offset + length > size:
        raise _usage("offset %d + %d bytes runs past the end of the %d-byte label storage "
                     "area: nothing was %s" % (offset, length, size, what))


def read_lsa(ep, offset=0, length=None, progress=None, cancel=None, tunnel=None):
    """Read ``length`` bytes of the label storage area from ``offset``; bytes.

    Get LSA (4102h) carries at most one reply: a longer read goes in windows
    as large as one reply may be (:func:`payload_limits`), checked first against
    the LSA's size (Memory Device Identify).  A read that fits the smallest
    mailbox (256 bytes) is one request, without asking the limits.
    ``progress`` gets an "lsa" step per window; a cancel raises Cancelled.
    """
    if length is None or length < 0:
        raise _usage("length: say how many bytes to read")
    run = _Run(ep, tunnel, progress, cancel)
    if length <= _lsa_floor(tunnel):
        return bytes(run.call("memdev_get_lsa", {"offset": offset, "length": length}))
    _lsa_check_range(run, offset, length, "read")
    _, window = payload_limits(ep, tunnel)
    data, at, end = bytearray(), offset, offset + length
    try:
        while at < end:
            run.check()
            got = bytes(run.call("memdev_get_lsa",
                                 {"offset": at, "length": min(window, end - at)}))
            if not got:
                break
            data += got
            at += len(got)
            run.step("lsa", len(data), length, window=window)
    except _CancelRequested as why:
        raise _stopped(why, "lsa", "stopped", "get-lsa") from None
    return bytes(data)


LsaWrite = collections.namedtuple("LsaWrite", "offset bytes requests part_size")
LsaWrite.__doc__ = """What :func:`write_lsa` did: ``bytes`` written from ``offset`` in
``requests`` Set LSA requests of at most ``part_size`` bytes of data each."""


def write_lsa(ep, offset, data, progress=None, tunnel=None):
    """Write ``data`` to the label storage area at ``offset``; a :data:`LsaWrite`.

    Set LSA (4103h) carries what one request may (:func:`payload_limits`, less
    its 8-byte header): longer data goes in several requests, one after the
    other, checked first against the LSA's size (Memory Device Identify).  Data
    that fits the smallest mailbox is one request, without asking the limits.
    Empty data is refused (UsageError): nothing to write.  When a later
    request fails, the error raised says how many bytes were written before
    it (``exc.written``).
    ``progress`` gets an "lsa" step after each request (``done``: bytes written).
    """
    from .errors import CxlmiError
    data = bytes(data)
    if not data:
        raise _usage("the data is empty: nothing to write")
    run = _Run(ep, tunnel, progress)
    if LSA_HEADER + len(data) <= _lsa_floor(tunnel):
        run.call("memdev_set_lsa", {"offset": offset, "data": data})
        run.step("lsa", len(data), len(data), offset=offset)
        return LsaWrite(offset, len(data), 1, len(data))
    _lsa_check_range(run, offset, len(data), "written")
    limit, _ = payload_limits(ep, tunnel)
    part = limit - LSA_HEADER
    written = count = 0
    while written < len(data):
        chunk = data[written:written + part]
        try:
            run.call("memdev_set_lsa", {"offset": offset + written, "data": chunk})
        except CxlmiError as exc:
            if written:
                exc.args = ("%s; %d of %d bytes were written (offset %d to %d) before this "
                            "request, the rest not" % (exc, written, len(data), offset,
                                                       offset + written - 1),)
            exc.written = written
            raise
        written += len(chunk)
        count += 1
        run.step("lsa", written, len(data), offset=offset)
    return LsaWrite(offset, written, count, part)


# ----------------------------------------------------------------------- lists in pages

def merge_pages(entry, pages, count_field):
    """One reply structure holding the tail elements of every page (header: the last)."""
    import ctypes
    cls = entry.rsp_cls
    base = cls._base_ or cls
    tail, elem = base._flex_
    size = ctypes.sizeof(elem)
    counts = [min(getattr(p, count_field), len(getattr(p, tail))) for p in pages]
    merged = base.sized(sum(counts))()
    fixed = base.fixed_size()
    ctypes.memmove(ctypes.addressof(merged), ctypes.addressof(pages[-1]), fixed)
    widest = (1 << (8 * getattr(base, count_field).size)) - 1
    setattr(merged, count_field, min(sum(counts), widest))
    at = 0
    for page, n in zip(pages, counts):
        ctypes.memmove(ctypes.addressof(merged) + fixed + at * size,
                       ctypes.addressof(page) + fixed, n * size)
        at += n
    return merged


def read_pages(ep, command, request, count_field, flags_field, more_bit, first=None,
               progress=None, cancel=None, tunnel=None):
    """Send ``command`` until its more-records flag clears; a :class:`Pages`.

    ``first`` is the request of the first page when it differs (a restart
    flag); a component that refuses it (INPUT) is asked with ``request``.
    """
    from .errors import DeviceError
    entry = _entry(command)
    run = ep if isinstance(ep, _Run) else _Run(ep, tunnel, progress, cancel)
    pages, raw = [], []
    try:
        for _ in range(MAX_PAGES):
            if pages:
                run.check()
            if not pages and first is not None:
                try:
                    page = run.call(entry, first)
                except DeviceError as exc:
                    if exc.name != "INPUT":
                        raise
                    page = run.call(entry, request)
            else:
                page = run.call(entry, request)
            pages.append(page)
            raw.append(run.payload)
            run.step("page", len(pages), None)
            got = min(getattr(page, count_field), len(getattr(page, entry.rsp_cls._flex_[0])))
            if not getattr(page, flags_field) & more_bit or got == 0:
                break
    except _CancelRequested as why:
        raise _stopped(why, "page", "stopped", entry.name) from None
    merged = merge_pages(entry, pages, count_field)
    setattr(merged, flags_field, getattr(merged, flags_field) & ~more_bit)
    return Pages(merged, len(pages), b"".join(raw), None, None)


def poison_list(ep, address=0, length=None, progress=None, cancel=None, tunnel=None):
    """Every poisoned range in ``[address, address + length)`` (bytes; 64-byte
    units on the wire), following the more-records flag; a :class:`Pages`
    (``.records``: the Media Error Records of every page).

    ``length`` defaults to the rest of the device (its capacity from Memory
    Device Identify).  The first request asks the component to start the list
    over (bit 0 of the address), so a walk someone else left half way does not
    hide the first records; a component that refuses that bit is asked without.
    """
    from .errors import DeviceError
    run = _Run(ep, tunnel, progress, cancel)
    address = address or 0
    if address < 0 or address % 64:
        raise _usage("address 0x%x: a poison list starts on a 64-byte boundary" % address)
    if length is None:
        try:
            ident = run.call("memdev_identify")
        except DeviceError as exc:
            exc.hint = ("without a length the range is the whole device, from Memory "
                        "Device Identify (4000h), which this component does not answer: "
                        "give the length")
            raise
        total = ident.total_capacity * (256 << 20)
        if address >= total:
            raise _usage("address 0x%x is past the end of the %d-byte device"
                         % (address, total))
        length = total - address
    elif length < 0 or length % 64:
        raise _usage("length %d: a poison list range is a multiple of 64 bytes" % length)
    request = {"get_poison_list_phy_addr": address, "get_poison_list_phy_addr_len": length // 64}
    first = dict(request, get_poison_list_phy_addr=address | POISON_RESTART)
    got = read_pages(run, "get_poison_list", request, "more_err_media_record_cnt",
                     "poison_list_flags", POISON_MORE, first=first)
    return got._replace(address=address, length=length)


def scan_media_results(ep, progress=None, cancel=None, tunnel=None):
    """Every page of Get Scan Media Results (4305h) after a Scan Media; a :class:`Pages`."""
    return read_pages(ep, "memdev_get_scan_media_results", None, "media_error_count",
                      "scan_media_flags", SCAN_MORE, progress=progress, cancel=cancel,
                      tunnel=tunnel)


# ----------------------------------------------------------------------- as methods

class WorkflowsMixin:
    """The workflows as :class:`~cxlmi_bindings.endpoint.Endpoint` methods (see the
    functions of :mod:`cxlmi_bindings.workflows` of the same names)."""

    def transfer_firmware(self, package, slot=None, activate=None, chunk_size=None,
                          progress=None, cancel=None, name=None, tunnel=None):
        return transfer_firmware(self, package, slot=slot, activate=activate,
                                 chunk_size=chunk_size, progress=progress, cancel=cancel,
                                 name=name, tunnel=tunnel)

    def wait(self, opcode=None, timeout=None, progress=None, cancel=None, abort=True,
             interval=POLL_SECONDS, tunnel=None):
        return wait(self, opcode=opcode, timeout=timeout, progress=progress, cancel=cancel,
                    abort=abort, interval=interval, tunnel=tunnel)

    def call_and_wait(self, command, request=None, timeout=None, progress=None, cancel=None,
                      interval=POLL_SECONDS, tunnel=None):
        return call_and_wait(self, command, request, timeout=timeout, progress=progress,
                             cancel=cancel, interval=interval, tunnel=tunnel)

    def drain_events(self, log=None, clear=False, cancel=None, tunnel=None):
        return drain_events(self, log=log, clear=clear, cancel=cancel, tunnel=tunnel)

    def read_log(self, log, offset=0, length=None, command=None, progress=None, cancel=None,
                 tunnel=None):
        return read_log(self, log, offset=offset, length=length, command=command,
                        progress=progress, cancel=cancel, tunnel=tunnel)

    def poison_list(self, address=0, length=None, progress=None, cancel=None, tunnel=None):
        return poison_list(self, address=address, length=length, progress=progress,
                           cancel=cancel, tunnel=tunnel)

    def scan_media_results(self, progress=None, cancel=None, tunnel=None):
        return scan_media_results(self, progress=progress, cancel=cancel, tunnel=tunnel)

    def read_lsa(self, offset=0, length=None, progress=None, cancel=None, tunnel=None):
        return read_lsa(self, offset=offset, length=length, progress=progress,
                        cancel=cancel, tunnel=tunnel)

    def write_lsa(self, offset, data, progress=None, tunnel=None):
        return write_lsa(self, offset, data, progress=progress, tunnel=tunnel)

    def payload_limits(self, tunnel=None):
        return payload_limits(self, tunnel)


for _name in ("transfer_firmware", "wait", "call_and_wait", "drain_events", "read_log",
              "poison_list", "scan_media_results", "read_lsa", "write_lsa",
              "payload_limits"):
    getattr(WorkflowsMixin, _name).__doc__ = globals()[_name].__doc__
del _name
