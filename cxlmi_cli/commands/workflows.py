# SPDX-License-Identifier: LGPL-2.1-or-later
"""Workflows: the commands that take more than one CCI message.

The core (:mod:`cxlmi_cli.commands`) builds every registry command; the
hooks here (``HOOKS[registry name]``) rebuild a few of them with a body that
runs a whole sequence, keeping every generated option, the shared target /
tunnel / output options, the safety rules and the exit codes.  The sequences
themselves are the library's (:mod:`cxlmi_bindings.workflows`, also
``Endpoint`` methods): the bodies here check the options, ask for
confirmation, draw the progress, say what a Ctrl-C left behind and render.

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
``memdev get-lsa`` / ``memdev set-lsa``
    a range longer than one message carries goes in several requests.
``memdev get-poison-list``
    every page of the list (the more-records flag), over the whole device
    unless ``--address``/``--length`` narrow it.

Cheap to import: click and the standard library only at module level.
"""

import contextlib
import os
import time

import click

from .. import streams

HOOKS = {}
EXTRA = {}

#: Transfer FW: the unit of a part's size and offset
FW_UNIT = 128


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
    inv.out.problem(json_error(Problem("Interrupted", message, EXIT_INTERRUPTED), inv))
    raise click.exceptions.Exit(EXIT_INTERRUPTED)


class _Via:
    """The invocation's endpoint as :mod:`cxlmi_bindings.workflows` reaches it (the
    seam that module documents): every message goes through :meth:`Invocation.call`
    -- its ``-v`` lines, ``--timeout`` bounding the opening and the first command --
    and messages name ``inv.where``.  The endpoint is opened on the first message."""

    def __init__(self, inv):
        self._inv = inv

    def call(self, entry, request=None, tunnel=None):
        return self._inv.call(entry, request)       # through inv.tunnel, as ``tunnel``

    @property
    def target(self):
        return self._inv.target

    @property
    def where(self):
        return self._inv.where

    @property
    def transport(self):
        return self._inv.endpoint().transport

    @property
    def last_payload(self):
        return self._inv.last_payload

    @property
    def last_return_code(self):
        return 1 if self._inv.background else 0


#: the library names its arguments, the command line its options
_OPTION_WORDS = (("slot ", "--slot "), ("chunk size ", "--chunk-size "),
                 ("offset ", "--offset "), ("address ", "--address "))


@contextlib.contextmanager
def _in_option_terms(inv):
    """A refusal the library words with its argument ("slot 9: ...") said with the
    option the user typed ("--slot 9: ...")."""
    from cxlmi_bindings.errors import UsageError
    try:
        yield
    except UsageError as exc:
        text, hint = str(exc), exc.hint
        for word, option in _OPTION_WORDS:
            if text.startswith(word):
                text = option + text[len(word):]
                break
        if text.endswith((": name the slot", ": name the slot to overwrite")):
            text += " with --slot N"
        if text.startswith("no empty firmware slot"):
            hint = "`cxl-mi generic get-fw-info %s`" % inv.target
        if "is the active slot" in text:
            hint = "`cxl-mi generic get-fw-info %s`" % inv.target
        if (text, hint) == (str(exc), exc.hint):
            raise
        raise UsageError(text, hint=hint) from None


def _pause(seconds):
    _sleep(seconds)             # looked up at each call: the tests replace _sleep


def _follow(inv):
    return "`cxl-mi generic bg-op-status %s`" % inv.target


class _Bar:
    """A :class:`Progress` opened at its first update (a workflow may never need it)."""

    def __init__(self, description, total, kind="percent"):
        self.args = (description, total, kind)
        self.bar = None

    def update(self, completed, description=None):
        if self.bar is None:
            self.bar = Progress(*self.args).__enter__()
        self.bar.update(completed, description)

    def __call__(self, step):
        self.update(step.done)

    def close(self):
        bar, self.bar = self.bar, None
        if bar is not None:
            bar.__exit__(None, None, None)


def _emit(inv, entry, result, request, raw, extra=None, notes=()):
    """Render a workflow's result like a registry reply: ``raw`` bytes for -o raw,
    the JSON document with ``extra`` keys, the reply's table sections + notes."""
    inv.out.result(entry, result, request, extra=extra, notes=notes, raw=lambda: raw)


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
        "background.  --slot defaults to an empty slot that is neither the active nor the "
        "staged one; when none is empty nothing is sent: name the slot to overwrite.  "
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
    from cxlmi_bindings import _memory, workflows
    from cxlmi_bindings.errors import Interrupted
    _memory.keep_freed_memory()               # the parts are MiB-sized, one after another
    with source:
        if size == 0:
            raise _usage("%s is empty" % file)
        progress = _FirmwareProgress(inv, name, size, activate)
        try:
            with _in_option_terms(inv):
                done = workflows.transfer_firmware(
                    _Via(inv), source, slot=(request or {}).get("slot"), activate=activate,
                    chunk_size=chunk, progress=progress, name=name, tunnel=inv.tunnel,
                    sleep=_pause)
        except Interrupted as stop:
            progress.close()
            what = "activate-fw" if stop.stage == "activate" else "firmware transfer"
            _interrupted(inv, stop.describe(what, _follow(inv)))
        finally:
            progress.close()
    _fw_report(inv, entry, done)


class _FirmwareProgress:
    """The progress of a transfer: confirmation of --activate once the slot is known
    (before the first part goes), then a bar for the parts, one for the activation."""

    def __init__(self, inv, name, size, activate):
        self.inv, self.name, self.size, self.activate = inv, name, size, activate
        self.slot = None
        self.bar = None
        self.activating = False

    def __call__(self, step):
        if step.stage == "ready":
            self.slot = slot = step.detail["slot"]
            if self.activate:
                self.inv.confirm(_entry("activate_fw"), action=(
                    "transfer-fw on %s: write %s (%s) to firmware slot %d, then activate it %s"
                    % (self.inv.where, self.name, "%d bytes" % self.size
                       if self.size is not None else "all of it", slot,
                       "online now" if self.activate == "online" else "at the next reset")))
            self.bar = Progress("firmware → slot %d" % slot, self.size, "bytes").__enter__()
        elif step.stage == "verify":
            self.bar.update(step.detail["sent"], "firmware → slot %d: the component checks "
                                                 "it (%d %%)" % (self.slot, step.done))
        elif step.stage == "transfer":
            self.bar.update(step.done)
        elif step.stage == "activate":
            if not self.activating:
                self.close()
                self.activating = True
                self.bar = Progress("activating slot %d" % self.slot, 100).__enter__()
            self.bar.update(step.done)

    def close(self):
        bar, self.bar = self.bar, None
        if bar is not None:
            bar.__exit__(None, None, None)


def _regular_size(f):
    """The size of a regular file, else ``None`` (a pipe, a terminal)."""
    from cxlmi_bindings import workflows
    return workflows.regular_size(f)


def _package_parts(f, chunk, file):
    """The parts of the package, read one ahead (:func:`cxlmi_bindings.workflows.
    package_parts`): memory holds two parts, not the package."""
    from cxlmi_bindings import workflows
    return workflows.package_parts(f, chunk, file)


def _fw_report(inv, entry, done):
    from ..render import views
    info_entry = _entry("get_fw_info")
    name, size, slot, chunk, parts, activated, info = (
        done.name, done.bytes, done.slot, done.chunk_size, done.parts, done.activated,
        done.fw_info)
    data = {"file": name, "bytes": size, "slot": slot, "parts": parts,
            "chunk_size": chunk, "activated": activated,
            "fw_info": views.result_json(info_entry, info) if info is not None else None}
    def sections():
        pairs = [("file", name), ("bytes", "%d" % size), ("slot", str(slot)),
                 ("parts", "%d of up to %d bytes" % (parts, chunk)),
                 ("activated", {"online": "online", "reset": "at the next reset"}.get(
                     activated, "no"))]
        shown = [views.Pairs("firmware transfer", pairs)]
        if info is not None:
            shown += views.sections(info_entry, info, None, inv)
        return shown

    from ..render import data_document
    inv.out.show(lambda: data_document(inv, data, entry.name), sections, lambda: b"")


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
    from cxlmi_bindings import workflows
    from cxlmi_bindings.errors import Interrupted
    bar = _Bar(entry.cli_name, 100)
    done = None
    try:
        try:
            done = workflows.call_and_wait(_Via(inv), entry, request, progress=bar,
                                           tunnel=inv.tunnel, sleep=_pause)
        finally:
            bar.close()
        status = dict(done.status)
        status["seconds"] = done.seconds
        _report_waited(inv, entry, request, done.started, status)
    except Interrupted as stop:
        _interrupted(inv, stop.describe(entry.cli_name, _follow(inv)))
    except KeyboardInterrupt:
        # once the operation has ended (closing the bar, writing the result) a Ctrl-C
        # still says how it ended
        if done is None:
            raise
        _interrupted(inv, workflows.finished_message(entry.cli_name, done.status))


def _report_waited(inv, entry, request, started, status):
    """Render the outcome of a command --wait followed to its end."""
    inv.background = started
    extra = {"background_operation": status}
    notes = ["%s on %s: done (%s, %d %%%s)" % (
        entry.cli_name, inv.where, status["return_code_name"], status["percent_complete"],
        ", in the background for %.1f s" % status["seconds"] if started else "")]
    raw = inv.last_payload if not started else b""
    if entry.name == "memdev_scan_media":
        from cxlmi_bindings import workflows
        res_entry = _entry("memdev_get_scan_media_results")
        found = workflows.scan_media_results(_Via(inv), tunnel=inv.tunnel)
        merged, raw = found.reply, found.raw
        from ..render import document, views
        extra["scan_media_results"] = views.result_json(res_entry, merged)

        def doc():
            out = document(inv, entry, None, request)
            out.update(extra)
            return out

        # the outcome first, then the errors the scan found
        inv.out.show(doc, lambda: [views.Note(n) for n in notes]
                     + views.sections(res_entry, merged, None, inv), lambda: raw)
        return
    _emit(inv, entry, None, request, raw, extra, notes)


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
        "reads on until the log is empty (a clear the component refuses is exit status 1, "
        "after the records read are shown).  Table: the records as rows; JSON: result.logs, "
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
    from cxlmi_bindings import workflows
    from ..spec import field_meaning
    names = field_meaning("cmd_get_event_records_req", "event_log").names
    if request and "event_log" in request:
        logs = [request["event_log"]]
    else:
        logs = list(range(len(workflows.EVENT_LOGS)))
    if clear:
        inv.confirm(_entry("clear_event_records"), action=(
            "get-event-records on %s: read and clear every record of the %s event log%s"
            % (inv.where, ", ".join(names.get(n, str(n)) for n in logs),
               "s" if len(logs) > 1 else "")))
    items, batches, raw, errors, not_cleared = {}, [], b"", [], {}
    for log in logs:
        items[log] = {"log": names.get(log, str(log)), "event_log": log, "records": [],
                      "overflow_err_count": 0, "first_overflow_timestamp": 0,
                      "last_overflow_timestamp": 0, "more_records": False, "cleared": 0,
                      "error": None}
    for batch in workflows.drain_events(_Via(inv), logs, clear=clear, tunnel=inv.tunnel):
        item = items[batch.log]
        if batch.error is not None:
            from ..errors import classify
            problem = classify(batch.error)
            item["error"] = (problem.as_json() if problem is not None
                             else {"message": str(batch.error)})
            errors.append(batch.error)
            if batch.action == "clear":          # read (its records are kept), not cleared
                not_cleared.setdefault(batch.log, batch.error)
            continue
        raw += batch.payload
        if batch.overflow:
            (item["overflow_err_count"], item["first_overflow_timestamp"],
             item["last_overflow_timestamp"]) = batch.overflow
        if batch.repeated:
            item["more_records"] = True         # clearing did not take: it stopped there
            continue
        batches.append(batch)
        item["records"].extend(batch.records)
        if not clear or not batch.records:
            item["more_records"] = batch.more
    for batch in batches:                       # cleared once the next one was asked for
        if batch.cleared:
            items[batch.log]["cleared"] += len(batch.records)
    out = [items[log] for log in logs]
    if errors and len(errors) == len(logs) and not any(i["records"] for i in out):
        raise errors[0]
    _events_report(inv, entry, out, raw, not_cleared)
    if not_cleared:
        _refused_clear(inv, [names.get(n, str(n)) for n in logs if n in not_cleared],
                       next(iter(not_cleared.values())))


def _refused_clear(inv, logs, error):
    """The records are shown, but the clear asked for did not happen: the
    command fails with that error's exit code (a runbook must not take the logs
    for drained), one line on stderr; the JSON document already holds the error."""
    from .. import errors as cli_errors
    problem = cli_errors.classify(error)          # a CxlmiError: drain_events keeps no other
    click.echo(cli_errors.line(cli_errors.Problem(
        problem.kind, "the records were read but not cleared (%s event log%s): %s"
        % (", ".join(logs), "s" if len(logs) > 1 else "", problem.message),
        problem.exit_code, problem.hint)), err=True)
    raise click.exceptions.Exit(problem.exit_code)


def _events_report(inv, entry, logs, raw, not_cleared=()):
    from ..render import SCHEMA_VERSION, views

    def doc():
        from ..render import decode
        result = []
        for item in logs:
            one = dict(item)
            one["records"] = [decode.to_json(r) for r in item["records"]]
            result.append(one)
        return {"schema_version": SCHEMA_VERSION, "command": entry.name,
                "opcode": entry.opcode, "target": inv.target, "tunnel": inv.tunnel_json(),
                "background": False, "result": {"logs": result}}

    def sections():
        rows, columns = [], ["log"]
        for item in logs:
            for r in item["records"]:
                row = views.ROWS["event_record"](r)
                if len(columns) == 1:
                    columns += list(row)
                rows.append([item["log"]] + [row[c] for c in columns[1:]])
        shown = [views.Rows("event records", columns, rows)]
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
                # a log whose records were read keeps saying so: what failed was clearing
                # them, or reading the rest
                said = "%s: %s" % ("not cleared" if item["event_log"] in not_cleared
                                   else "the rest not read" if item["records"]
                                   else "not read", item["error"].get("message"))
                bits = bits + [said] if item["records"] else [said]
            shown.append(views.Note("%-5s %s" % (item["log"], ", ".join(bits))))
        return shown

    inv.out.show(doc, sections, lambda: raw)


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
    from ..spec import cel_uuid
    request = dict(request or {})
    cel = entry.name == "get_log_cel"
    uuid = cel_uuid() if cel else _log_uuid(inv, request, log)
    request["uuid"] = uuid
    if "length" in request:                     # one window, by hand
        if cel or uuid == cel_uuid():
            from cxlmi_bindings.workflows import check_cel_offset
            with _in_option_terms(inv):
                check_cel_offset(request.get("offset") or 0)
        result = inv.call(entry, request)
        inv.emit(entry, result, request)
        return
    from cxlmi_bindings import workflows
    with _in_option_terms(inv):
        got = workflows.read_log(_Via(inv), uuid, offset=request.get("offset", 0) or 0,
                                 command=entry, tunnel=inv.tunnel)
    data = got.data
    request.update(offset=got.offset, length=len(data))
    extra = {"log": {"name": got.name, "uuid": str(_uuid.UUID(bytes=uuid)),
                     "size": got.size, "offset": got.offset, "bytes_read": len(data)}}
    _emit(inv, entry, got.entries if cel else data, request, data, extra)


# ----------------------------------------------------------------------- label storage area

@hook("memdev_get_lsa")
def get_lsa(entry, command):
    return _rebuild(entry, _get_lsa_body, [], more_help=(
        "A --length longer than one reply carries (the least of the transport's payload "
        "limit, Identify's maximum message size and the response message limit) is read "
        "in several Get LSA requests, one window after the other, as get-log reads a log; "
        "the range is first checked against the LSA's size (Memory Device Identify)."))


def _get_lsa_body(inv, entry, request):
    from cxlmi_bindings import workflows
    request = dict(request or {})
    offset, length = request.get("offset") or 0, request.get("length") or 0
    if _lsa_dry_run(inv, entry, request, length <= workflows._lsa_floor(inv.tunnel)):
        return
    windows = []
    with _in_option_terms(inv):
        data = workflows.read_lsa(_Via(inv), offset, length, tunnel=inv.tunnel,
                                  progress=lambda step: windows.append(step.detail["window"]))
    notes = []
    if len(windows) > 1:
        notes = ["read in %d Get LSA requests of at most %d bytes (what one reply carries)"
                 % (len(windows), windows[0])]
    _emit(inv, entry, data, request, data, notes=notes)


def _lsa_dry_run(inv, entry, request, fits):
    """A dry run shows the request as given -- its fields are the plan that --input
    takes back -- and, when it does not fit the smallest mailbox, says the real run
    sends it in parts."""
    if not inv.dry_run:
        return False
    inv.single_request = True
    if not fits:
        what = "Get LSA" if entry.name == "memdev_get_lsa" else "Set LSA"
        inv.dry_run_notes = [
            "A real run first reads the endpoint's message limits (Identify, Get Response "
            "Message Limit) and the LSA size (Memory Device Identify), then sends this range "
            "in several %s requests as large as one message carries; the message above is "
            "the range as one request." % what]
    inv.call(entry, request)                # a dry run stops here, showing it
    return True


@hook("memdev_set_lsa")
def set_lsa(entry, command):
    return _rebuild(entry, _set_lsa_body, [], more_help=(
        "Data longer than one request carries (the least of the transport's payload limit "
        "and Identify's maximum message size, less the 8-byte offset header) is written in "
        "several Set LSA requests, one after the other, once the range is checked against "
        "the LSA's size (Memory Device Identify).  Should a later request fail, the error "
        "says how many bytes were written before it.  Empty data is refused: nothing is "
        "sent."))


def _set_lsa_body(inv, entry, request):
    from cxlmi_bindings import workflows
    request = dict(request or {})
    offset, data = request.get("offset") or 0, bytes(request.get("data") or b"")
    if not data:            # as transfer-fw refuses an empty file
        raise _usage("--data is empty: nothing to write; nothing was sent",
                     hint="give the bytes with --data FILE or --data-hex HEX")
    if not inv.confirmed:
        inv.confirm(entry, request)
    if _lsa_dry_run(inv, entry, request,
                    workflows.LSA_HEADER + len(data) <= workflows._lsa_floor(inv.tunnel)):
        return
    written = []
    try:
        with _in_option_terms(inv):
            done = workflows.write_lsa(_Via(inv), offset, data, tunnel=inv.tunnel,
                                       progress=lambda step: written.append(step.done))
    except KeyboardInterrupt:
        at = written[-1] if written else 0
        _interrupted(inv, "set-lsa: %d of %d bytes were written from offset %d; the request "
                          "being sent may or may not have been taken: read the LSA back with "
                          "`cxl-mi memdev get-lsa %s`" % (at, len(data), offset, inv.target))
    notes = []
    if done.requests > 1:
        notes = ["set-lsa: %d bytes written from offset %d in %d Set LSA requests of at "
                 "most %d bytes" % (done.bytes, offset, done.requests, done.part_size)]
    _emit(inv, entry, None, request, b"", notes=notes)


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
    from cxlmi_bindings import workflows
    request = dict(request or {})
    address = request.get("get_poison_list_phy_addr", 0) or 0
    length = request.get("get_poison_list_phy_addr_len")
    # every page; the first asks the component to start over (see poison_list)
    from cxlmi_bindings.errors import DeviceError
    try:
        with _in_option_terms(inv):
            got = workflows.poison_list(_Via(inv), address,
                                        None if length is None else length * 64,
                                        tunnel=inv.tunnel)
    except DeviceError as exc:
        if exc.command == "memdev_identify":
            exc.hint = ("without --length the range is the whole device, from Memory Device "
                        "Identify (4000h), which this component does not answer: give "
                        "--length")
        raise
    request["get_poison_list_phy_addr_len"] = got.length // 64
    request["get_poison_list_phy_addr"] = address
    pages = got.pages
    notes = ["%d page%s read" % (pages, "s" if pages != 1 else "")] if pages > 1 else []
    _emit(inv, entry, got.reply, request, got.raw, {"pages": pages}, notes)
