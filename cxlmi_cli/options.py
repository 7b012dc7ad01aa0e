# SPDX-License-Identifier: LGPL-2.1-or-later
"""What every device command shares: target, tunnel, output, safety, errors.

For a hand-written command (a workflow, a vendor plugin)::

    import click
    from cxlmi_cli.options import device_command

    @click.command("temperature")
    @device_command()
    def temperature(inv):
        data = inv.endpoint().vendor_specific(0xC001, b"", inv.tunnel)
        inv.emit_data({"celsius": data[0]}, raw=data,
                      table=[("temperature", "%d °C" % data[0])])

``device_command`` adds TARGET, ``--mctp``, ``--tcp``, ``--port``, ``--ld``,
``--mhd``, ``--timeout``, ``-o/--output``, ``--json`` (and ``--yes`` with
``destructive=True``), resolves them into an :class:`Invocation` passed as
the first argument, and turns every error into the documented exit code --
with a JSON error object in JSON mode.
"""

import contextlib
import functools
import sys

import click

from cxlmi_bindings import _log as _lazy_log

from . import target as _target
from . import params as P

_CLI_LOG = _lazy_log.get("cxlmi.cli")   # imports logging only when -v turns logging on

OUTPUTS = ("table", "json", "raw")
COMMON_NAMES = ("target", "mctp", "tcp", "port", "ld", "mhd", "timeout", "output", "as_json",
                "yes", "input_file", "passphrase_file", "new_passphrase_file", "dry_run",
                "no_probe", "mctp_type", "peer")

#: where the root's ``cxl-mi --dry-run`` leaves its word for the command below it
DRY_RUN_META = "cxlmi.dry_run"


class DryRunStop(BaseException):
    """A ``--dry-run`` command built its first request (:mod:`cxlmi_cli.dry_run`);
    ``report`` says what it is.  A BaseException, so that a workflow's ``except
    Exception`` does not take it for a failure."""

    def __init__(self, report):
        super().__init__("dry run")
        self.report = report


def _stdin_is_tty():
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False


class JsonInput(click.ParamType):
    """``--input FILE|-``: a JSON object read from a file or standard input."""
    name = "json"

    def convert(self, value, param, ctx):
        if isinstance(value, dict):
            return value
        try:
            with click.open_file(value, "rb") as f:
                text = f.read()
        except OSError as exc:
            self.fail("cannot read %s: %s" % (value, exc.strerror or exc), param, ctx)
        import json
        try:
            data = json.loads(text)     # bytes: a file that is no text is "not JSON" too
        except ValueError as exc:
            self.fail("%s is not JSON: %s" % (value, exc), param, ctx)
        except RecursionError:      # json's decoder recurses once per level of nesting
            self.fail("%s is not JSON this reads: nested too deeply" % value, param, ctx)
        if not isinstance(data, dict):
            self.fail("%s must hold a JSON object of request fields" % value, param, ctx)
        return data

    def get_metavar(self, param, ctx=None):
        return "FILE|-"

    def shell_complete(self, ctx, param, incomplete):
        from .params import complete_files
        return complete_files(incomplete)


def _refuse_argv_passphrase(ctx, param, value):
    if value is not None:
        raise click.BadParameter(
            "passphrases are never taken from the command line (they would end up in shell "
            "history and in `ps`): use --passphrase-file FILE / --new-passphrase-file FILE, "
            "or leave them out to be prompted without echo", ctx=ctx, param=param)
    return value


def endpoint_params():
    """How the endpoint is spoken to: the probe, the MCTP message type, a peer profile."""
    return [
        click.Option(["--no-probe"], is_flag=True, default=False,
                     help="do not Identify an MCTP endpoint on open (also CXLMI_PROBE=0 or "
                          "LIBCXLMI_PROBE_ENABLED=0): FM-API reach is what the target says"),
        click.Option(["--mctp-type"], type=click.Choice(("7", "8")), default=None,
                     help="send commands outside the FM-API sets as this MCTP message type "
                          "(default: 8 where the endpoint lists it, else 7)"),
        click.Option(["--peer"], type=click.Choice(("spec", "jrl"), case_sensitive=False),
                     default=None,
                     help="speak to a peer family with its documented deviations (jrl: "
                          "Jackrabbit Labs' cse; see docs/mctp-over-tcp.md)"),
    ]


def _shown(value):
    """A request value for the -vv log: bytes as hex (a Python repr is no one's format)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return data.hex() if len(data) <= 32 else "%s... (%d bytes)" % (data[:32].hex(),
                                                                         len(data))
    return value


def common_params(entry=None, request=False, passphrase_roles=(), destructive=None,
                  output=True):
    """The shared parameters; TARGET first, the rest as options."""
    if destructive is None:
        destructive = bool(entry is not None and entry.destructive)
    ps = [
        click.Argument(["target"], required=False, metavar="[TARGET]",
                       shell_complete=_target.complete),
        click.Option(["--mctp"], metavar="NET:EID",
                     help="target an MCTP endpoint (AF_MCTP), e.g. --mctp 1:8"),
        click.Option(["--tcp"], metavar="HOST[:PORT]",
                     help="target MCTP over TCP (port 2508 by default)"),
        click.Option(["--port"], type=P.Int(8), metavar="N",
                     help="tunnel through switch port N"),
        click.Option(["--ld"], type=P.Int(8), metavar="N",
                     help="tunnel to LD N of an MLD (with --port: switch -> MLD -> LD)"),
        click.Option(["--mhd"], is_flag=True, default=False,
                     help="tunnel to a multi-headed device's LD pool CCI"),
        click.Option(["--timeout"], type=click.FloatRange(0.001, 3600), metavar="SECONDS",
                     help="give up after SECONDS (default 5): the connection, the probe and "
                          "the command share them; each later command of a workflow gets its "
                          "own"),
        click.Option(["--dry-run"], is_flag=True, default=False,
                     help="print the request this command would send (registry name, opcode, "
                          "fields, the CCI message and each tunnel level in hex) and send "
                          "nothing; the target is not opened"),
    ] + endpoint_params()
    if output:
        ps += [
            click.Option(["-o", "--output"], type=click.Choice(OUTPUTS), default=None,
                         help="table for people (default), json for scripts, raw for the "
                              "reply payload bytes"),
            click.Option(["--json", "as_json"], is_flag=True, default=False,
                         help="the same as -o json"),
        ]
    if request:
        ps.append(click.Option(["--input", "input_file"], type=JsonInput(), default=None,
                               help="the whole request as a JSON object from FILE ('-' for "
                                    "stdin); options override its fields"))
    if destructive:
        ps.append(click.Option(["-y", "--yes"], is_flag=True, default=False,
                               help="do it without asking (required when stdin is not a "
                                    "terminal)"))
    roles = set(passphrase_roles)
    if roles:
        ps.append(click.Option(["--passphrase-file"], type=click.Path(dir_okay=False),
                               metavar="FILE",
                               help="read the (current) passphrase from FILE ('-' for stdin)"))
        if "new" in roles:
            ps.append(click.Option(["--new-passphrase-file"], type=click.Path(dir_okay=False),
                                   metavar="FILE", help="read the new passphrase from FILE"))
        for name in ("--passphrase", "--new-passphrase", "--current-passphrase"):
            ps.append(click.Option([name, "_argv_" + name.strip("-").replace("-", "_")],
                                   hidden=True, expose_value=False, is_eager=True,
                                   callback=_refuse_argv_passphrase))
    return ps


class Invocation:
    """One run of a device command: where it goes, how it answers, and its endpoint."""

    def __init__(self, ctx, command_name, entry=None, target=None, mctp=None, tcp=None,
                 port=None, ld=None, mhd=False, timeout=None, output=None, as_json=False,
                 yes=False, passphrase_file=None, new_passphrase_file=None, dry_run=False,
                 no_probe=False, mctp_type=None, peer=None, **_):
        self.ctx = ctx
        self.command_name = command_name
        self.entry = entry
        self._raw_target = (target, mctp, tcp)
        self.port, self.ld, self.mhd = port, ld, bool(mhd)
        self.timeout = timeout
        self._output = (output, as_json)
        self.output = "json" if as_json else (output or "table")
        self.yes = bool(yes)
        self.passphrase_files = {"current": passphrase_file, "new": new_passphrase_file}
        # only what was given: the default open stays open_endpoint(target, timeout)
        self.endpoint_options = {k: v for k, v in (
            ("probe", False if no_probe else None),
            ("mctp_type", int(mctp_type) if mctp_type else None),
            ("peer", peer)) if v is not None}
        self.target = None
        self.tunnel = None
        self.background = False
        self._ep = None
        self.dry_run = bool(dry_run) or bool(ctx is not None and ctx.meta.get(DRY_RUN_META))
        self.dry_run_passphrases = False    # a dry run left passphrase fields empty

    @classmethod
    def from_values(cls, ctx, values, entry=None):
        """Take the common parameters out of ``values`` (the callback's kwargs)."""
        common = {n: values.pop(n) for n in COMMON_NAMES if n in values}
        return cls(ctx, ctx.command_path.replace(ctx.find_root().info_name + " ", "", 1)
                   if ctx.parent else ctx.info_name, entry, **common)

    @property
    def json(self):
        return self.output == "json"

    def resolve(self):
        """Validate target, tunnel and output choices (UsageError, exit 2)."""
        output, as_json = self._output
        if as_json and output not in (None, "json"):
            raise _usage("--json and -o %s ask for different outputs: give one" % output)
        self.target = _target.resolve(*self._raw_target)
        self.tunnel = _target.tunnel(self.port, self.ld, self.mhd)
        return self

    @property
    def where(self):
        """``emu:switch`` or ``emu:switch (switch port 2)``: for messages."""
        via = _target.describe_tunnel(self.port, self.ld, self.mhd)
        t = self.target or "?"
        return "%s (%s)" % (t, via) if via else t

    def tunnel_json(self):
        if not (self.mhd or self.port is not None or self.ld is not None):
            return None
        return {"port": self.port, "ld": self.ld, "mhd": self.mhd}

    # -- the endpoint -------------------------------------------------------------------
    def endpoint(self):
        if self._ep is None:
            if self.target is None:
                self.resolve()
            if self.dry_run:            # nothing opened, nothing probed
                from .dry_run import DryRunEndpoint
                self._ep = DryRunEndpoint(self.target, **self.endpoint_options)
                return self._ep
            self._ep = _target.open_endpoint(self.target, self.timeout,
                                             **self.endpoint_options)
            self.ctx.call_on_close(self.close)
        return self._ep

    def close(self):
        ep, self._ep = self._ep, None
        if ep is not None:
            try:
                ep.close()
            except Exception:   # closing must never hide the real outcome
                pass

    def call(self, entry, request=None):
        """Run a registry command through the tunnel; returns the decoded reply."""
        ep = self.endpoint()
        log = _CLI_LOG
        log.info("%s (%04Xh) -> %s", entry.name, entry.opcode, self.where)
        if request and log.isEnabledFor(10):    # DEBUG: the join costs, per firmware part too
            log.debug("request: %s", ", ".join(
                "%s=%s" % (k, "***" if "passphrase" in k else _shown(v))
                for k, v in request.items()))
        try:
            result = ep.call(entry, request, self.tunnel)
            from cxlmi_bindings.endpoint import BackgroundStarted   # loaded with ep already
            if isinstance(result, BackgroundStarted):
                result = None           # said by self.background (and the notes) instead
        finally:
            # --timeout bounded the opening and this first command together; a
            # workflow's later commands each get the timeout of their own
            if getattr(ep, "transport", None) is not None:
                ep.transport.deadline = None
        log.info("%s: %d reply payload bytes%s", entry.name, len(self.last_payload_of(ep)),
                 " (background operation started)" if ep.last_return_code == 1 else "")
        extra = getattr(result, "_extra", b"")
        if extra:
            log.info("%s: the reply has %d bytes past the structure cxl-mi knows (fields of a "
                     "newer spec revision?), kept in the raw output: %s", entry.name,
                     len(extra), extra.hex())
        self.background = getattr(ep, "last_return_code", 0) == 1
        return result

    @staticmethod
    def last_payload_of(ep):
        return bytes(getattr(ep, "last_payload", b"") or b"")

    @property
    def last_payload(self):
        return bytes(getattr(self._ep, "last_payload", b"") or b"") if self._ep else b""

    # -- safety -------------------------------------------------------------------------
    #: set once the user agreed (or gave --yes) to this invocation's destructive step
    confirmed = False

    def refuse_without_consent(self, what):
        """Refuse at once -- before anything is sent -- when a confirmation asked for
        later could not be given: no --yes, and stdin not a terminal to ask on."""
        if self.dry_run:                # sends nothing: nothing to consent to
            return
        if not self.yes and not _stdin_is_tty():
            raise _usage("%s -- refusing without --yes (stdin is not a terminal to ask on); "
                         "nothing was sent" % what, hint="add --yes to do it")

    def confirm(self, entry, request=None, action=None):
        """Say what a destructive command will do; ask on a TTY, else require --yes."""
        what = action or describe_action(self.command_name, entry, request, self.where)
        self.confirmed = True      # from here on, or the invocation ends below
        if self.dry_run:           # sends nothing: nothing to confirm
            return
        if self.yes:
            click.echo("cxl-mi: %s" % what, err=True)
            return
        if not _stdin_is_tty():
            raise _usage("%s -- refusing without --yes (stdin is not a terminal to ask on); "
                         "nothing was sent" % what, hint="add --yes to do it")
        click.echo("cxl-mi: %s" % what, err=True)
        if not click.confirm("Continue?", default=False, err=True):
            raise _usage("not confirmed; nothing was sent to %s" % self.where)

    def passphrase(self, role):
        """A passphrase from its file, or a hidden prompt on a TTY (bytes, <= 32)."""
        path = self.passphrase_files.get(role)
        opt = "--new-passphrase-file" if role == "new" else "--passphrase-file"
        if self.dry_run:                # shown in the request: never read one
            self.dry_run_passphrases = True
            return b""
        if path:
            try:
                with click.open_file(path, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise _usage("%s: cannot read the passphrase file: %s"
                             % (opt, exc.strerror or exc))
            if data.endswith(b"\r\n"):
                data = data[:-2]
            elif data.endswith(b"\n"):
                data = data[:-1]
        elif _stdin_is_tty():
            label = "New passphrase" if role == "new" else "Passphrase"
            text = click.prompt(label, hide_input=True, confirmation_prompt=(role == "new"),
                                default="", show_default=False, err=True)
            data = text.encode()
        elif role == "current" and self.passphrase_files.get("new"):
            # setting one: the current passphrase goes in the request too (ignored while
            # none is set), and nothing said which one was missing
            raise _usage("%s needs the current passphrase as well as the new one: give %s "
                         "FILE, an empty file (%s /dev/null) while none is set (stdin is "
                         "not a terminal to prompt on)" % (self.command_name, opt, opt))
        else:
            raise _usage("%s needs a%s passphrase: give %s FILE (stdin is not a terminal to "
                         "prompt on)" % (self.command_name, " new" if role == "new" else "",
                                         opt))
        if len(data) > 32:
            source = "%s: the file" % opt if path else "the passphrase typed"
            raise _usage("%s has %d bytes; a passphrase holds at most 32 (nothing was sent)"
                         % (source, len(data)))
        return data

    # -- output -------------------------------------------------------------------------
    @property
    def out(self):
        """The output format's writer (:mod:`.render`), made once -- after the
        options were resolved -- and used by every command instead of testing
        ``output`` itself."""
        if getattr(self, "_out", None) is None or self._out.name != self.output:
            from . import render
            self._out = render.output(self, self.output)
        return self._out

    def emit(self, entry, result, request=None):
        self.out.result(entry, result, request)

    def emit_data(self, data, raw=None, table=None, title=None, command=None):
        """Output for hand-written commands: ``data`` (JSON-able dict) as the result,
        ``raw`` bytes for -o raw, ``table`` as (key, value) pairs or rows for -o table."""
        self.out.data(data, raw=raw, table=table, title=title, command=command)


def describe_action(command_name, entry, request, where):
    """'memdev sanitize on emu:type3: Sanitize: erase all user data (background)'."""
    text = "%s on %s: %s" % (command_name, where, entry.summary if entry else "")
    if request:
        shown = []
        cls = entry.req_cls if entry else None
        for key, value in request.items():
            if key.endswith("passphrase"):       # the secrets (passphrase_type is shown)
                continue
            if isinstance(value, int) and hasattr(cls, key):
                from .render.decode import text as said
                value = said(cls, key, value)    # as tables say it: passphrase_type=user
            elif isinstance(value, (bytes, bytearray)):
                value = "%d bytes" % len(value) if len(value) > 16 else value.hex()
            elif isinstance(value, list):
                value = "%d entries" % len(value)
            elif isinstance(value, dict):
                continue
            shown.append("%s=%s" % (key, value))
        if shown:
            text += " (%s)" % ", ".join(shown)
    return text


def _usage(message, hint=None):
    from cxlmi_bindings.errors import UsageError
    return UsageError(message, hint=hint)


@contextlib.contextmanager
def guard(inv):
    """Turn errors into a message (and a JSON object in JSON mode) and an exit code;
    once the command is over, a Ctrl-C is only noted (:func:`main.command_over`)."""
    from . import errors
    try:
        yield inv
    except DryRunStop as stop:
        from .dry_run import stopped
        stopped(inv, stop)
    except (click.exceptions.Exit, click.exceptions.Abort, KeyboardInterrupt,
            BrokenPipeError):  # stdout's reader gone (| head) is no error of the command
        raise
    except click.ClickException as exc:
        if not inv.json:
            raise
        _report(errors, exc, inv)
        raise click.exceptions.Exit(exc.exit_code)
    except Exception as exc:
        code = _report(errors, exc, inv)
        if code is None:
            raise               # a bug: let it show its traceback
        raise click.exceptions.Exit(code)
    finally:
        from .main import command_over
        command_over()


def _report(errors, exc, inv):
    try:
        return errors.report(exc, inv)
    except BrokenPipeError:     # the JSON error object found no reader: keep its exit code
        problem = errors.classify(exc)
        raise errors.ReaderGone(problem.exit_code if problem else 0) from exc


def device_command(destructive=False, output=True, command=None):
    """Decorator: add the shared options and pass an :class:`Invocation` first.

    Apply it under ``@click.command``/``@group.command``.  The wrapped function
    gets ``inv`` (target, tunnel and output resolved) and its own options.
    """
    def decorate(f):
        @functools.wraps(f)
        @click.pass_context
        def wrapper(ctx, **values):
            inv = Invocation.from_values(ctx, values, None)
            with guard(inv):
                inv.resolve()
                return f(inv, **values)
        # click.command() reverses the collected parameters: add ours reversed so
        # TARGET comes first, before the function's own options.
        wrapper.__click_params__ = list(getattr(f, "__click_params__", [])) + list(
            reversed(common_params(destructive=destructive, output=output)))
        return wrapper
    return decorate
