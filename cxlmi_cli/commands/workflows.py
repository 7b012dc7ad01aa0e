# SPDX-License-Identifier: LGPL-2.1-or-later
"""Workflows: the commands that take more than one CCI message.

The core (:mod:`cxlmi_cli.commands`) builds every registry command; the
hooks here (``HOOKS[registry name]``) rebuild a few of them with a body that
sends a whole sequence, keeping every generated option, the shared target /
tunnel / output options, the safety rules and the exit codes:

``generic transfer-fw [TARGET] FILE [--slot N] [--activate online|reset]``
    the whole package in parts as large as the endpoint allows (initiate /
    continue / end, or full for one part), progress on a terminal, Ctrl-C
    sends the abort action; ``--action`` etc. still send one part by hand.
``memdev sanitize|secure-erase|scan-media … --wait`` (and the other
background commands: media-operations-sanitize, activate-fw, populate-log)
    follow Background Operation Status to the end; Ctrl-C sends Request
    Abort Background Operation.
``generic get-event-records --all [--clear]``
    drain every event log (or ``--log NAME``), clearing what was read.
``generic get-log [TARGET] [LOG]``, ``generic get-log-cel``
    without ``--length``: the whole log, its size from Get Supported Logs,
    read in windows as large as a reply may be; the CEL decoded.
``memdev get-poison-list``
    every page of the list (the more-records flag), over the whole device
    unless ``--address``/``--length`` narrow it.

Cheap to import: click and the standard library only at module level.
"""

import itertools
import os
import time

import click

from .. import streams

HOOKS = {}
EXTRA = {}

#: seconds between two Background Operation Status polls
POLL_SECONDS = 0.25
#: Transfer FW: request header bytes before the data, and the offset unit
FW_HEADER = 128
FW_UNIT = 128
#: per tunnel level: the 4-byte Tunnel Management header + the inner 12-byte CCI header
TUNNEL_OVERHEAD = 16
#: event logs in Get Event Records order
EVENT_LOGS = ("info", "warn", "fail", "fatal", "dcd")
#: the more-records flags
EVENTS_MORE = 1 << 1
POISON_MORE = 1 << 0
POISON_RESTART = 1 << 0          # bit 0 of the request address: start over
SCAN_MORE = 1 << 0
#: a safety net against a device that never clears the more-records flag
MAX_PAGES = 100000


def _sleep(seconds):
    """Wait between polls (tests replace it to drive a fake device clock)."""
    time.sleep(seconds)


def hook(*names, short_help=None):
    """Register ``func(entry, command)`` for registry ``names``; ``short_help`` (a
    string or a function of the entry) is its line in the group listing, which the
    core shows without building the command."""
    def register(func):
        def build(entry, command):
            cmd = func(entry, command)
            cmd.short_help = _short(build.short_help, entry)
            return cmd
        build.__name__ = build.__qualname__ = func.__name__
        build.__doc__ = func.__doc__
        build.short_help = short_help if short_help is not None else (lambda e: e.summary)
        for name in names:
            HOOKS[name] = build
        return build
    return register


def _short(short, entry):
    return short(entry) if callable(short) else short


# ----------------------------------------------------------------------- shared parts

def _entry(name):
    from cxlmi_bindings import registry
    return registry.get(name)


def _usage(message, hint=None):
    from cxlmi_bindings.errors import UsageError
    return UsageError(message, hint=hint)


def _rebuild(entry, body, extra_params=(), more_help=None, optional=(), lead=None):
    """The generated command of ``entry`` with another body (and more options).

    ``optional`` names request fields (JSON paths) the generated command
    requires that the workflow can do without.
    """
    from ..build import describe_entry, make_command
    text = describe_entry(entry)
    if lead:
        text = lead + "\n\n" + text
    if more_help:
        text += "\n\n" + more_help
    cmd = make_command(entry, callback=body, extra_params=list(extra_params), help=text)
    for f in cmd.builder.fields:
        if f.path in optional:
            f.spec = dict(f.spec, required=False)
            for p in f.params:
                if p.help:
                    p.help = p.help.replace(" [required]", "")
    return cmd


def _option(cmd, path):
    for f in cmd.builder.fields:
        if f.path == path and f.params:
            return f.params[0]
    return None


def _yes_option():
    return click.Option(["-y", "--yes"], is_flag=True, default=False,
                        help="do it without asking (required when stdin is not a terminal)")


def _stderr_tty():
    from ..errors import stderr_isatty
    return stderr_isatty()


class Progress:
    """Progress on standard error: a rich bar on a terminal, nothing otherwise.

    ``update(completed)`` is called at every step whatever the terminal (the
    tests interrupt a workflow there).
    """

    def __init__(self, description, total, kind="percent"):
        self.description = description
        self.total = total
        self.kind = kind
        self.completed = 0
        self.enabled = _stderr_tty()
        self._bar = None
        self._task = None

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            from rich import progress as rp
            columns = [rp.TextColumn("{task.description}"), rp.BarColumn()]
            if self.kind == "bytes":
                columns += [rp.DownloadColumn(binary_units=True), rp.TransferSpeedColumn()]
            else:
                columns += [rp.TextColumn("{task.percentage:>3.0f} %")]
            columns += [rp.TimeElapsedColumn()]
            console = Console(file=streams.text("stderr"))
            self._bar = rp.Progress(*columns, console=console)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total)
        return self

    def update(self, completed, description=None):
        self.completed = completed
        if self._bar is not None:
            kwargs = {"completed": completed}
            if description:
                kwargs["description"] = description
            self._bar.update(self._task, **kwargs)

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.stop()
        return False


def _interrupted(inv, message):
    """Ctrl-C: say what it left behind; exit 130 (+ a JSON error object in JSON mode)."""
    from ..errors import EXIT_INTERRUPTED, Problem, json_error
    click.echo("cxl-mi: interrupted: %s" % message, err=True)
    if inv.json:
        from ..render import json as rjson
        rjson.write(json_error(Problem("Interrupted", message, EXIT_INTERRUPTED), inv))
    raise click.exceptions.Exit(EXIT_INTERRUPTED)


def payload_limits(inv):
    """(request, response) payload bytes one message may carry to/from the endpoint.

    The least of the transport's limit, the component's Identify maximum
    message size (2^n), its response message limit (0003h) when it answers
    that, less the tunnel headers each level adds.
    """
    from cxlmi_bindings.errors import CxlmiError
    ep = inv.endpoint()
    cap = int(getattr(ep.transport, "max_payload", 0) or 2048)
    hops = len(inv.tunnel.hops) if inv.tunnel else 0
    request = response = cap - TUNNEL_OVERHEAD * hops
    try:
        ident = inv.call(_entry("identify"))
        if 8 <= ident.max_msg_size <= 20:
            request = min(request, 1 << ident.max_msg_size)
            response = min(response, 1 << ident.max_msg_size)
    except CxlmiError:
        pass
    try:
        limit = inv.call(_entry("get_response_msg_limit")).limit
        if 8 <= limit <= 20:
            response = min(response, 1 << limit)
    except CxlmiError:
        pass
    return request, response


def _status(st):
    from cxlmi_bindings.errors import retcode_name
    return {"opcode": st.opcode, "opcode_decoded": _opname(st.opcode),
            "running": bool(st.status & 1), "percent_complete": st.status >> 1,
            "return_code": st.returncode, "return_code_name": retcode_name(st.returncode),
            "vendor_ext_status": st.vendor_ext_status}


def _opname(opcode):
    from cxlmi_bindings import registry
    return registry.opcode_name(opcode)


def wait_background(inv, opcode, progress):
    """Poll Background Operation Status until the operation ``opcode`` ends."""
    entry = _entry("bg_op_status")
    while True:
        status = _status(inv.call(entry))
        progress.update(status["percent_complete"])
        if not status["running"]:
            return status
        _sleep(POLL_SECONDS)


def abort_background(inv):
    """Request Abort Background Operation; then what Background Operation Status says.

    Returns ``(status or None, error or None)``.
    """
    from cxlmi_bindings.errors import CxlmiError
    try:
        inv.call(_entry("request_bg_op_abort"))
    except CxlmiError as exc:
        error = exc
    else:
        error = None
    try:
        status = _status(inv.call(_entry("bg_op_status")))
    except CxlmiError:
        status = None
    return status, error


def _interrupted_while_sending(inv, entry):
    """Ctrl-C while ``entry`` was on its way: what the device did with it."""
    from cxlmi_bindings.errors import CxlmiError
    try:
        status = _status(inv.call(_entry("bg_op_status")))
    except CxlmiError as exc:
        return ("%s: interrupted while it was being sent; the device's state is unknown "
                "(Background Operation Status: %s): check with `cxl-mi generic bg-op-status "
                "%s`" % (entry.cli_name, exc, inv.target))
    if status["opcode"] != entry.opcode:
        return "%s: interrupted before the device started it; nothing to abort" % \
            entry.cli_name
    if status["running"]:
        st, error = abort_background(inv)
        return _abort_message(inv, entry.cli_name, st, error)
    return _finished_message(entry.cli_name, status)


def _finished_message(what, status):
    return ("%s: it had already finished (%s, %d %%): nothing to abort"
            % (what, status["return_code_name"], status["percent_complete"]))


def _abort_message(inv, what, status, error):
    if status is not None and not status["running"] and (
            error is not None or status["return_code_name"] != "ABORT"):
        return _finished_message(what, status)      # it ended before the abort could
    if error is not None:
        name = getattr(error, "name", None) or type(error).__name__
        return ("%s: the device did not abort its background operation (%s): it goes on; "
                "follow it with `cxl-mi generic bg-op-status %s`" % (what, name, inv.target))
    if status is not None and status["running"]:
        return ("%s: asked the device to abort its background operation (Request Abort "
                "Background Operation, 0005h); it is still running at %d %%: follow it "
                "with `cxl-mi generic bg-op-status %s`"
                % (what, status["percent_complete"], inv.target))
    at = " at %d %%" % status["percent_complete"] if status is not None else ""
    return ("%s: asked the device to abort its background operation (Request Abort "
            "Background Operation, 0005h); it stopped%s" % (what, at))


def _merge_pages(entry, pages, count_field):
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


def _emit(inv, entry, result, request, raw, extra=None, notes=()):
    """Render a workflow's result like a registry reply: ``raw`` bytes for -o raw,
    the JSON document with ``extra`` keys, the reply's table sections + notes."""
    if inv.output == "raw":
        from ..render import raw as rraw
        rraw.write(raw)
        return
    from ..render import document, views
    if inv.json:
        from ..render import json as rjson
        doc = document(inv, entry, result, request)
        doc.update(extra or {})
        rjson.write(doc)
        return
    from ..render import table
    sections = views.sections(entry, result, request, inv) if result is not None else []
    sections += [views.Note(n) for n in notes]
    table.write(sections, inv)


# ----------------------------------------------------------------------- transfer-fw

@hook("transfer_fw", short_help="Transfer a firmware package: the whole FILE in parts "
                                 "(or one part by hand)")
def transfer_fw(entry, command):
    file_arg = click.Argument(["file"], required=False, metavar="[FILE]",
                              type=click.Path(dir_okay=False, allow_dash=True))
    params = [
        file_arg,
        click.Option(["--activate"], type=click.Choice(("online", "reset")), default=None,
                     help="after the transfer, activate the slot: online now, or at the "
                          "next reset (DESTRUCTIVE: confirmation or --yes)"),
        click.Option(["--chunk-size"], metavar="SIZE", default=None,
                     help="bytes of the package per Transfer FW message (a multiple of 128; "
                          "default: the largest the endpoint allows)"),
        _yes_option(),
    ]
    cmd = _rebuild(entry, _transfer_body, params, optional=("action",), lead=(
        "Transfer a firmware package to a slot: with FILE the whole package, in parts "
        "(see below); without FILE one part, by hand:"), more_help=(
        "With FILE, the whole firmware package: it is sent in parts as large as the "
        "endpoint allows (the request header is 128 bytes; a part is a multiple of 128 "
        "bytes of the least of the transport's payload limit and Identify's maximum "
        "message size), with the initiate / continue / end actions (or full when one part "
        "holds it), progress on a terminal, and waits when the component finishes in the "
        "background.  --slot defaults to an empty slot that is not the active one.  "
        "Ctrl-C sends the abort action: the slot is not changed (exit 130).  --activate "
        "online|reset activates the slot afterwards (destructive: confirmation or --yes).  "
        "FILE alone (no TARGET) works with --mctp, --tcp or CXLMI_TARGET.\n\n"
        "Without FILE, --action, --offset and --data send one part by hand."))
    _swap_trailing_positional(cmd, "file", lambda value: value == "-" or os.path.isfile(value))
    return cmd


def _swap_trailing_positional(cmd, name, looks_like):
    """``cmd X`` where X is the second positional (not a target): move it over."""
    inner = cmd.callback

    def callback(**values):
        target = values.get("target")
        if values.get(name) is None and target is not None and looks_like(target):
            values[name], values["target"] = target, None
        return inner(**values)
    cmd.callback = callback


def _parse_chunk(text):
    from ..params import ValueProblem, parse_size
    if text is None:
        return None
    try:
        size = parse_size(text, "--chunk-size")
    except ValueProblem as exc:
        raise _usage(str(exc))
    if size < FW_UNIT or size % FW_UNIT:
        raise _usage("--chunk-size %s: a part is a non-zero multiple of 128 bytes" % text)
    return size


def _fw_slot(inv, slot):
    """The slot to write (the given one, or an empty non-active one) and Get FW Info."""
    from cxlmi_bindings.errors import CxlmiError
    try:
        info = inv.call(_entry("get_fw_info"))
    except CxlmiError:
        info = None
    if info is None:
        if slot is None:
            raise _usage("the component does not answer Get FW Info: name the slot with "
                         "--slot N")
        return slot, None
    active = info.slot_info & 0x7
    slots = info.slots_supported or 1
    if slot is not None:
        if not 1 <= slot <= slots:
            raise _usage("--slot %d: the component has slots 1-%d" % (slot, slots))
        if slot == active:
            raise _usage("--slot %d is the active slot: choose another (1-%d)"
                         % (slot, slots), hint="`cxl-mi generic get-fw-info %s`" % inv.target)
        return slot, info
    candidates = [n for n in range(1, min(slots, 4) + 1) if n != active]
    if not candidates:
        raise _usage("the component has no slot besides the active one (%d)" % active)

    def revision(n):
        rev = getattr(info, "fw_rev%d" % n)
        return bytes(rev).rstrip(b"\0") if not isinstance(rev, bytes) else rev.rstrip(b"\0")
    empty = [n for n in candidates if not revision(n)]
    return (empty or candidates)[0], info


def _transfer_body(inv, entry, request, file=None, activate=None, chunk_size=None, yes=None):
    if file is None:
        if request is None or "action" not in request:
            raise _usage("transfer-fw needs FILE (the whole package) or --action with --data "
                         "for one part", hint="cxl-mi generic transfer-fw TARGET FILE")
        if activate:
            raise _usage("--activate goes with FILE (the whole package)")
        result = inv.call(entry, request)
        inv.emit(entry, result, request)
        return
    given = [k for k in ("action", "offset", "data") if k in (request or {})]
    if given:
        raise _usage("FILE sends the whole package: leave out %s"
                     % ", ".join("--" + k for k in given))
    chunk = _parse_chunk(chunk_size)
    if activate:
        inv.refuse_without_consent("transfer-fw on %s: write %s, then activate it %s"
                                   % (inv.where, file, "online now" if activate == "online"
                                      else "at the next reset"))
    name = os.path.basename(file) if file != "-" else "standard input"
    try:
        source = click.open_file(file, "rb")
        size = _regular_size(source)          # None for a pipe: read until it ends
    except OSError as exc:
        raise _usage("cannot read %s: %s" % (file, exc.strerror or exc))
    with source:
        if size == 0:
            raise _usage("%s is empty" % file)
        slot, _ = _fw_slot(inv, (request or {}).get("slot"))
        limit, _ = payload_limits(inv)
        largest = (limit - FW_HEADER) // FW_UNIT * FW_UNIT
        if largest < FW_UNIT:
            raise _usage("%s carries at most %d payload bytes: too few for a Transfer FW part"
                         % (inv.where, limit))
        if chunk is None:
            chunk = largest
        elif chunk > largest:
            raise _usage("--chunk-size %d: %s takes at most %d bytes per part"
                         % (chunk, inv.where, largest))
        package = _package_parts(source, chunk, file)
        opening = next(package)               # an empty pipe is refused before anything
        if activate:
            inv.confirm(_entry("activate_fw"), action=(
                "transfer-fw on %s: write %s (%s) to firmware slot %d, then activate it %s"
                % (inv.where, name, "%d bytes" % size if size is not None else "all of it",
                   slot, "online now" if activate == "online" else "at the next reset")))
        state = {"open": False, "background": False}
        sent = parts = 0
        with Progress("firmware → slot %d" % slot, size, "bytes") as progress:
            try:
                for off, data, first, last in itertools.chain([opening], package):
                    action = (0 if last else 1) if first else (3 if last else 2)
                    part = {"action": action, "slot": slot if action in (0, 3) else 0,
                            "offset": off // FW_UNIT, "data": data}
                    inv.call(entry, part)
                    state["open"] = action in (1, 2)
                    sent, parts = off + len(data), parts + 1
                    if inv.background:
                        state["background"] = True
                        bg_status = wait_background(inv, entry.opcode, _Checking(
                            progress, sent, slot))
                        state["background"] = False
                        if bg_status["return_code"]:
                            from cxlmi_bindings.errors import DeviceError
                            raise DeviceError(bg_status["return_code"], command=entry.name)
                    progress.update(sent)
            except KeyboardInterrupt:
                _interrupted(inv, _fw_abort(inv, entry, state, slot))
            except Exception:
                if state["open"]:
                    _fw_send_abort(inv, entry)
                raise
    activated = None
    if activate:
        from cxlmi_bindings.errors import DeviceError
        act = _entry("activate_fw")
        inv.call(act, {"action": 0 if activate == "online" else 1, "slot": slot})
        if inv.background:
            with Progress("activating slot %d" % slot, 100) as progress:
                try:
                    st = wait_background(inv, act.opcode, progress)
                except KeyboardInterrupt:
                    status, error = abort_background(inv)
                    _interrupted(inv, _abort_message(inv, "activate-fw", status, error))
            if st["return_code"]:
                raise DeviceError(st["return_code"], command=act.name)
        activated = activate
    _fw_report(inv, entry, name, sent, slot, chunk, parts, activated)


def _regular_size(f):
    """The size of a regular file, else ``None`` (a pipe, a terminal)."""
    import stat
    try:
        st = os.fstat(f.fileno())
    except (AttributeError, OSError, ValueError):
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _package_parts(f, chunk, file):
    """``(offset, data, first, last)`` for each part of the package, read one
    part ahead (to know which is the last) so that memory holds two parts, not
    the package: a 1 GiB image costs what two parts cost."""
    def read():
        try:
            return f.read(chunk)
        except OSError as exc:
            raise _usage("cannot read %s: %s" % (file, exc.strerror or exc))
    data, off = read(), 0
    if not data:
        raise _usage("%s is empty" % file)
    while data:
        following = read()
        yield off, data, off == 0, not following
        off += len(data)
        data = following


class _Checking:
    """Background Operation Status while the component takes the package in."""

    def __init__(self, progress, sent, slot):
        self.progress, self.sent, self.slot = progress, sent, slot

    def update(self, percent, description=None):
        self.progress.update(self.sent, "firmware → slot %d: the component checks it "
                                        "(%d %%)" % (self.slot, percent))


def _fw_send_abort(inv, entry):
    from cxlmi_bindings.errors import CxlmiError
    try:
        inv.call(entry, {"action": 4, "slot": 0, "offset": 0, "data": b""})
        return None
    except CxlmiError as exc:
        return exc


def _fw_abort(inv, entry, state, slot):
    if state["background"]:
        status, error = abort_background(inv)
        return _abort_message(inv, "firmware transfer", status, error) + \
            ("; slot %d was not changed" % slot if error is None else "")
    error = _fw_send_abort(inv, entry)
    if error is not None:
        return ("firmware transfer: the abort action failed (%s); the component drops the "
                "partial transfer at the next initiate" % error)
    return "firmware transfer aborted (Transfer FW abort action sent); slot %d was not " \
           "changed" % slot


def _fw_report(inv, entry, name, size, slot, chunk, parts, activated):
    from cxlmi_bindings.errors import CxlmiError
    from ..render import views
    info_entry = _entry("get_fw_info")
    try:
        info = inv.call(info_entry)
    except CxlmiError:
        info = None
    data = {"file": name, "bytes": size, "slot": slot, "parts": parts,
            "chunk_size": chunk, "activated": activated,
            "fw_info": views.result_json(info_entry, info) if info is not None else None}
    if inv.output == "raw":
        from ..render import raw as rraw
        rraw.write(b"")
        return
    if inv.json:
        inv.emit_data(data, command=entry.name)
        return
    pairs = [("file", name), ("bytes", "%d" % size), ("slot", str(slot)),
             ("parts", "%d of up to %d bytes" % (parts, chunk)),
             ("activated", {"online": "online", "reset": "at the next reset"}.get(
                 activated, "no"))]
    sections = [views.KV("firmware transfer", pairs)]
    if info is not None:
        sections += views.sections(info_entry, info, None, inv)
    inv.emit_data(data, table=sections)


# ----------------------------------------------------------------------- --wait

def _background_commands():
    """The registry's background-capable commands (``bg``) that no workflow above
    has taken (transfer-fw has its own): the generic --wait hook serves them."""
    from cxlmi_bindings import registry
    return [e.name for e in registry.COMMANDS if e.bg and e.name not in HOOKS]


@hook(*_background_commands(), short_help=lambda e: e.summary + " [--wait]")
def waitable(entry, command):
    wait = click.Option(["--wait"], is_flag=True, default=False,
                        help="stay until the background operation ends, with progress on a "
                             "terminal; Ctrl-C asks the component to abort it")
    return _rebuild(entry, _wait_body, [wait], more_help=(
        "With --wait, cxl-mi follows the operation itself: it polls Background Operation "
        "Status (0002h) until the operation ends, shows its progress on a terminal and "
        "reports the final return code (exit 1 when it failed); "
        + ("the media errors the scan found are read and shown (Get Scan Media Results). "
           if entry.name == "memdev_scan_media" else "")
        + "Ctrl-C sends Request Abort Background Operation (0005h) and exits with status "
          "130."))


def _wait_body(inv, entry, request, wait=False):
    if entry.destructive and not inv.confirmed:
        inv.confirm(entry, request)
    if not wait:
        result = inv.call(entry, request)
        inv.emit(entry, result, request)
        return
    try:
        inv.call(entry, request)
    except KeyboardInterrupt:
        # the request may have reached the device: find out, and abort what started
        _interrupted(inv, _interrupted_while_sending(inv, entry))
    started = inv.background
    began = time.monotonic()
    if started:
        with Progress(entry.cli_name, 100) as progress:
            try:
                status = wait_background(inv, entry.opcode, progress)
            except KeyboardInterrupt:
                st, error = abort_background(inv)
                _interrupted(inv, _abort_message(inv, entry.cli_name, st, error))
    else:
        from cxlmi_bindings.errors import retcode_name
        status = {"opcode": entry.opcode, "opcode_decoded": _opname(entry.opcode),
                  "running": False, "percent_complete": 100, "return_code": 0,
                  "return_code_name": retcode_name(0), "vendor_ext_status": 0}
    status["seconds"] = round(time.monotonic() - began, 3)
    try:
        _report_waited(inv, entry, request, started, status)
    except KeyboardInterrupt:
        _interrupted(inv, _finished_message(entry.cli_name, status))


def _report_waited(inv, entry, request, started, status):
    """Render the outcome of a command --wait followed to its end."""
    if status["return_code"]:
        from cxlmi_bindings.errors import DeviceError
        raise DeviceError(status["return_code"], command=entry.name)
    inv.background = started
    extra = {"background_operation": status}
    notes = ["%s on %s: done (%s, %d %%%s)" % (
        entry.cli_name, inv.where, status["return_code_name"], status["percent_complete"],
        ", in the background for %.1f s" % status["seconds"] if started else "")]
    raw = inv.last_payload if not started else b""
    if entry.name == "memdev_scan_media":
        res_entry = _entry("memdev_get_scan_media_results")
        merged, raw, _ = _read_pages(inv, res_entry, None, "media_error_count",
                                     "scan_media_flags", SCAN_MORE)
        from ..render import views
        extra["scan_media_results"] = views.result_json(res_entry, merged)
        if inv.output == "table":
            from ..render import table
            sections = [views.Note(n) for n in notes]
            sections += views.sections(res_entry, merged, None, inv)
            table.write(sections, inv)
            return
    _emit(inv, entry, None, request, raw, extra, notes)


def _read_pages(inv, entry, request, count_field, flags_field, more_bit, first=None):
    """Send ``entry`` until its more-records flag clears.

    ``first`` is the request of the first page when it differs (a restart
    flag); a component that refuses it (INPUT) is asked with ``request``.
    Returns (one reply with every page's records, the raw payloads, pages).
    """
    from cxlmi_bindings.errors import DeviceError
    pages, raw = [], b""
    for _ in range(MAX_PAGES):
        if not pages and first is not None:
            try:
                page = inv.call(entry, first)
            except DeviceError as exc:
                if exc.name != "INPUT":
                    raise
                page = inv.call(entry, request)
        else:
            page = inv.call(entry, request)
        pages.append(page)
        raw += inv.last_payload
        got = min(getattr(page, count_field), len(getattr(page, entry.rsp_cls._flex_[0])))
        if not getattr(page, flags_field) & more_bit or got == 0:
            break
    merged = _merge_pages(entry, pages, count_field)
    setattr(merged, flags_field, getattr(merged, flags_field) & ~more_bit)
    return merged, raw, len(pages)


# ----------------------------------------------------------------------- event records

@hook("get_event_records", short_help="Read event records; --all drains every log, "
                                       "--clear clears them")
def get_event_records(entry, command):
    params = [
        click.Option(["--all", "drain"], is_flag=True, default=False,
                     help="read every record of every event log (or of the one --event-log "
                          "names), following the more-records flag"),
        click.Option(["--clear"], is_flag=True, default=False,
                     help="clear the records read, by handle (implies --all; needs "
                          "confirmation or --yes)"),
        _yes_option(),
    ]
    cmd = _rebuild(entry, _events_body, params, more_help=(
        "--all drains the event logs: info, warn, fail, fatal and dcd in turn (or the one "
        "--event-log/--log names).  A component keeps returning its oldest records until "
        "they are cleared, so without --clear each log shows its first batch and says "
        "whether more wait; --clear clears each batch by its handles after reading it and "
        "reads on until the log is empty.  Table: the records as rows; JSON: result.logs, "
        "one object per log; raw: every reply payload in order."))
    opt = _option(cmd, "event_log")
    if opt is not None and "--log" not in opt.opts:
        opt.opts.append("--log")
    return cmd


def _events_body(inv, entry, request, drain=False, clear=False, yes=None):
    if not (drain or clear):
        result = inv.call(entry, request)
        inv.emit(entry, result, request)
        return
    from cxlmi_bindings.errors import CxlmiError
    from ..spec import field_meaning
    names = field_meaning("cmd_get_event_records_req", "event_log").names
    if request and "event_log" in request:
        logs = [request["event_log"]]
    else:
        logs = list(range(len(EVENT_LOGS)))
    if clear:
        inv.confirm(_entry("clear_event_records"), action=(
            "get-event-records on %s: read and clear every record of the %s event log%s"
            % (inv.where, ", ".join(names.get(n, str(n)) for n in logs),
               "s" if len(logs) > 1 else "")))
    clear_entry = _entry("clear_event_records")
    out, raw, errors = [], b"", []
    for log in logs:
        item = {"log": names.get(log, str(log)), "event_log": log, "records": [],
                "overflow_err_count": 0, "first_overflow_timestamp": 0,
                "last_overflow_timestamp": 0, "more_records": False, "cleared": 0,
                "error": None}
        previous = None
        try:
            for _ in range(MAX_PAGES):
                rsp = inv.call(entry, {"event_log": log})
                raw += inv.last_payload
                records = list(rsp.records)[:rsp.record_count]
                if rsp.flags & 1:
                    item["overflow_err_count"] = rsp.overflow_err_count
                    item["first_overflow_timestamp"] = rsp.first_overflow_timestamp
                    item["last_overflow_timestamp"] = rsp.last_overflow_timestamp
                batch = [(r.handle, r.timestamp) for r in records]
                more = bool(rsp.flags & EVENTS_MORE)
                if clear and batch and batch == previous:
                    item["more_records"] = True     # clearing did not take: stop here
                    break
                item["records"].extend(records)
                if not clear or not records:
                    item["more_records"] = more
                    break
                handles = [r.handle for r in records]
                for start in range(0, len(handles), 255):
                    inv.call(clear_entry, {"event_log": log, "clear_flags": 0,
                                           "handles": handles[start:start + 255]})
                previous = batch
                item["cleared"] += len(handles)
                if not more:
                    break
        except CxlmiError as exc:
            from ..errors import classify
            problem = classify(exc)
            item["error"] = problem.as_json() if problem is not None else {"message": str(exc)}
            errors.append(exc)
        out.append(item)
    if errors and len(errors) == len(logs) and not any(i["records"] for i in out):
        raise errors[0]
    _events_report(inv, entry, out, raw)


def _events_report(inv, entry, logs, raw):
    from ..render import SCHEMA_VERSION
    from ..render import decode as D
    if inv.output == "raw":
        from ..render import raw as rraw
        rraw.write(raw)
        return
    if inv.json:
        from ..render import json as rjson
        result = []
        for item in logs:
            doc = dict(item)
            doc["records"] = [D.to_json(r) for r in item["records"]]
            result.append(doc)
        rjson.write({"schema_version": SCHEMA_VERSION, "command": entry.name,
                     "opcode": entry.opcode, "target": inv.target,
                     "tunnel": inv.tunnel_json(), "background": False,
                     "result": {"logs": result}})
        return
    from ..render import table, views
    rows, columns = [], ["log"]
    for item in logs:
        for r in item["records"]:
            row = views.ROWS["event_record"](r)
            if len(columns) == 1:
                columns += list(row)
            rows.append([item["log"]] + [row[c] for c in columns[1:]])
    sections = [views.Rows("event records", columns, rows)]
    for item in logs:
        bits = ["%d record%s" % (len(item["records"]), "" if len(item["records"]) == 1
                                 else "s")]
        if item["cleared"]:
            bits.append("%d cleared" % item["cleared"])
        if item["more_records"]:
            bits.append("more wait (--clear reads on)" if not item["cleared"]
                        else "more wait")
        if item["overflow_err_count"]:
            bits.append("overflowed: %d records lost" % item["overflow_err_count"])
        if item["error"]:
            bits = ["not read: %s" % item["error"].get("message")]
        sections.append(views.Note("%-5s %s" % (item["log"], ", ".join(bits))))
    table.write(sections, inv)


# ----------------------------------------------------------------------- logs

_LOG_HELP = (
    "Without --length the whole log is read: its size comes from Get Supported Logs "
    "(0400h) and it is read in windows as large as one reply may be (the least of the "
    "transport's limit, Identify's maximum message size and the response message "
    "limit).  --offset starts later; --length reads one window by hand.")


def _looks_like_log(value):
    from ..spec import log_uuids
    import re
    return value in log_uuids() or bool(re.match(
        r"^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
        r"[0-9a-fA-F]{12})$", value))


def _complete_log(ctx, param, incomplete):
    from click.shell_completion import CompletionItem
    from ..spec import log_uuids
    return [CompletionItem(n) for n in log_uuids() if n.startswith(incomplete)]


@hook("get_log", short_help="Read a log by name or UUID: all of it, the CEL decoded")
def get_log(entry, command):
    log_arg = click.Argument(["log"], required=False, metavar="[LOG]",
                             shell_complete=_complete_log)
    cmd = _rebuild(entry, _log_body, [log_arg], optional=("uuid", "length"), more_help=(
        "LOG (or --uuid) names the log: cel, vendor-debug, component-state-dump or a UUID.  "
        + _LOG_HELP + "  The Command Effects Log is decoded: opcodes with their command "
        "names and effects (JSON: result.entries); other logs are a hex dump (JSON: "
        "result.data in hex).  LOG alone (no TARGET) works with --mctp, --tcp or "
        "CXLMI_TARGET."))
    _swap_trailing_positional(cmd, "log", _looks_like_log)
    return cmd


@hook("get_log_cel", short_help="Read the Command Effects Log: opcodes, command names, "
                                 "effects")
def get_log_cel(entry, command):
    return _rebuild(entry, _log_body, [], optional=("length",), more_help=_LOG_HELP)


def _log_uuid(inv, request, log):
    from ..params import ValueProblem, parse_uuid
    from ..spec import log_uuids, uuid_bytes
    given = (request or {}).get("uuid")
    if log is not None:
        try:
            uuid = parse_uuid(log, uuid_bytes(log_uuids()), "LOG")
        except ValueProblem as exc:
            raise _usage(str(exc))
        if given is not None and bytes(given) != uuid:
            raise _usage("LOG %s and --uuid name different logs: give one" % log)
        return uuid
    if given is None:
        raise _usage("get-log needs the log: LOG or --uuid (cel, vendor-debug, "
                     "component-state-dump or a UUID)")
    return bytes(given)


def _log_body(inv, entry, request, log=None):
    import uuid as _uuid
    from ..spec import cel_uuid, log_uuids, uuid_names
    request = dict(request or {})
    cel = entry.name == "get_log_cel"
    uuid = cel_uuid() if cel else _log_uuid(inv, request, log)
    request["uuid"] = uuid
    if "length" in request:                     # one window, by hand
        result = inv.call(entry, request)
        inv.emit(entry, result, request)
        return
    logs = inv.call(_entry("get_supported_logs"))
    sizes = {bytes(e.uuid): e.log_size
             for e in list(logs.entries)[:logs.num_supported_log_entries]}
    names = uuid_names(log_uuids())
    label = names.get(uuid) or str(_uuid.UUID(bytes=uuid))
    if uuid not in sizes:
        listed = ", ".join(names.get(u) or str(_uuid.UUID(bytes=u)) for u in sizes) or "none"
        raise _usage("%s does not keep the %s log (Get Supported Logs lists: %s)"
                     % (inv.where, label, listed))
    start = request.get("offset", 0) or 0
    size = sizes[uuid]
    if start > size:
        raise _usage("--offset %d is past the end of the %d-byte %s log" % (start, size, label))
    _, window = payload_limits(inv)
    if cel or uuid == cel_uuid():
        window -= window % 4                    # whole CEL entries in every window
    data, items, at = b"", [], start
    while at < size:
        n = min(window, size - at)
        part = inv.call(entry, {"uuid": uuid, "offset": at, "length": n})
        got = inv.last_payload
        data += got
        if cel:
            items.extend(part)
        if not got:
            break
        at += len(got)
    request.update(offset=start, length=len(data))
    extra = {"log": {"name": names.get(uuid), "uuid": str(_uuid.UUID(bytes=uuid)),
                     "size": size, "offset": start, "bytes_read": len(data)}}
    _emit(inv, entry, items if cel else data, request, data, extra)


# ----------------------------------------------------------------------- poison list

@hook("get_poison_list", short_help="Poisoned address ranges: every page, the whole device "
                                     "by default")
def get_poison_list(entry, command):
    return _rebuild(entry, _poison_body, [], optional=("get_poison_list_phy_addr_len",),
                    more_help=(
        "The whole list: the request is repeated while the component sets the more-records "
        "flag (the first one asks it to start over), and the pages are shown as one list.  "
        "Without --length the range runs from --address (0) to the end of the device "
        "(its capacity from Memory Device Identify).  JSON: the reply structure with every "
        "record, plus `pages`; raw: every reply payload in order."))


def _poison_body(inv, entry, request):
    request = dict(request or {})
    address = request.get("get_poison_list_phy_addr", 0) or 0
    if "get_poison_list_phy_addr_len" not in request:
        from cxlmi_bindings.errors import DeviceError
        try:
            ident = inv.call(_entry("memdev_identify"))
        except DeviceError as exc:
            exc.hint = ("without --length the range is the whole device, from Memory Device "
                        "Identify (4000h), which this component does not answer: give "
                        "--length")
            raise
        total = ident.total_capacity * (256 << 20)
        if address >= total:
            raise _usage("--address 0x%x is past the end of the %d-byte device"
                         % (address, total))
        request["get_poison_list_phy_addr_len"] = (total - address) // 64
    request["get_poison_list_phy_addr"] = address

    # the first request asks the component to start over (bit 0 of the address), so a
    # walk someone else left half way does not hide the first records
    first = dict(request, get_poison_list_phy_addr=address | POISON_RESTART)
    merged, raw, pages = _read_pages(inv, entry, request, "more_err_media_record_cnt",
                                     "poison_list_flags", POISON_MORE, first=first)
    notes = ["%d page%s read" % (pages, "s" if pages != 1 else "")] if pages > 1 else []
    _emit(inv, entry, merged, request, raw, {"pages": pages}, notes)
