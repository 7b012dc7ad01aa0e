# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi`: the root command group.

Subcommand modules load lazily: ``cxl-mi --help`` and shell completion of
the top level import click and nothing else of ours beyond this file; a
device command imports the registry, its structures and the transport it
uses, and only table output imports rich.
"""

import importlib
import os
import sys

import click

from .errors import EPILOG, EXIT_INTERRUPTED, EXIT_USAGE, ReaderGone, report, wants_json

# name -> (module, attribute, short help) -- listed in this order.
LAZY = {
    "identify": ("cxlmi_cli.commands", "top_identify",
                 "Identify the component (+ capacities of a memory device)"),
    "list": ("cxlmi_cli.commands.list", "command",
             "List targets: kernel devices, MCTP endpoints, emulated profiles"),
    "emulate": ("cxlmi_cli.commands.emulate", "command",
                "Serve an emulated component over MCTP over TCP"),
    "exporter": ("cxlmi_cli.commands.exporter", "command",
                 "Export metrics of CXL components for Prometheus"),
    "monitor": ("cxlmi_cli.commands.monitor", "command",
                "Watch components: events, health, background operations, switch ports"),
    "generic": ("cxlmi_cli.commands.generic", "group",
                "Generic commands: identify, events, firmware, logs, features…"),
    "memdev": ("cxlmi_cli.commands.memdev", "group",
               "Memory device commands: health, partitions, poison, security…"),
    "fmapi": ("cxlmi_cli.commands.fmapi", "group",
              "Fabric management: switch ports, VCS binding, MLD, MHD, DCD"),
    "vendor": ("cxlmi_cli.commands.vendor", "group",
               "Vendor-specific commands: raw commands and plugins"),
    "mctp": ("cxlmi_cli.commands.mctp", "group",
             "MCTP control: endpoint ID, UUID, message types, versions"),
}


def _version():
    from cxlmi_bindings import __version__
    return __version__


class CxlMiGroup(click.Group):
    """The root: lazy subcommands, and exit codes cxl-mi documents (not click's)."""

    def make_context(self, *args, **kwargs):
        try:        # --help and --version print while the context is made
            return super().make_context(*args, **kwargs)
        except BrokenPipeError as exc:
            raise ReaderGone() from exc

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise ReaderGone() from exc
        except SystemExit as exc:
            # rich's Console turns a broken pipe into SystemExit(1) (on_broken_pipe)
            if isinstance(exc.__context__, BrokenPipeError):
                raise ReaderGone() from exc
            raise

    def list_commands(self, ctx):
        return list(LAZY) + [n for n in self.commands if n not in LAZY]

    def get_command(self, ctx, name):
        if name in self.commands:
            return self.commands[name]
        spec = LAZY.get(name)
        if spec is None:
            return None
        module, attr, _ = spec
        obj = getattr(importlib.import_module(module), attr)
        if callable(obj) and not isinstance(obj, click.Command):
            return obj()            # a factory: built per use, so hooks apply
        return obj

    def format_commands(self, ctx, formatter):
        rows = [(name, LAZY[name][2]) for name in LAZY]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def shell_complete(self, ctx, incomplete):
        from click.shell_completion import CompletionItem
        items = [CompletionItem(n, help=LAZY[n][2]) for n in LAZY if n.startswith(incomplete)]
        items.extend(click.Command.shell_complete(self, ctx, incomplete))
        return items

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        if args is None:
            args = sys.argv[1:]
        args = list(args)
        sigint = _SigintGuard()
        _GUARDS.append(sigint)
        try:
            try:
                rv = super().main(args, prog_name or "cxl-mi", complete_var,
                                  standalone_mode=False, **extra)
            finally:
                sigint.disarm()     # from here to the exit, Ctrl-C is noted, not raised
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except click.exceptions.Exit as exc:
            code = exc.exit_code
        except click.exceptions.Abort as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, KeyboardInterrupt) or cause is None:
                click.echo("cxl-mi: interrupted", err=True)
                code = EXIT_INTERRUPTED
            else:
                click.echo("cxl-mi: aborted (no input)", err=True)
                code = EXIT_USAGE
        except KeyboardInterrupt:
            click.echo("cxl-mi: interrupted", err=True)
            code = EXIT_INTERRUPTED
        except click.ClickException as exc:
            code = exc.exit_code
            try:
                if wants_json(args):
                    command, target = _command_from(args)
                    report(exc, None, command=command, target=target)
                else:
                    exc.show()
            except BrokenPipeError:
                _discard_stdout()
        except (ReaderGone, BrokenPipeError) as exc:
            # the reader went away (| head): nothing more to say; success, unless the
            # command had failed already
            _discard_stdout()
            code = exc.exit_code if isinstance(exc, ReaderGone) else 0
        except BaseException:
            # a bug's traceback goes to the caller, with the caller's SIGINT handler back
            sigint.finish(exiting=False)
            _GUARDS.remove(sigint)
            raise
        try:
            _flush_stdout()     # a reader gone shows here, not at interpreter exit
        except BrokenPipeError:
            _discard_stdout()
        sigint.finish(exiting=standalone_mode and _PROCESS["entry"])
        _GUARDS.remove(sigint)
        if sigint.noted and code != EXIT_INTERRUPTED:
            # the work was done (its result is above); the user still asked to stop
            click.echo("cxl-mi: interrupted after the command had finished; its result is "
                       "above", err=True)
            code = EXIT_INTERRUPTED
        if standalone_mode:
            sys.exit(code)
        return code


#: the SIGINT guards of the main() calls under way (the innermost last)
_GUARDS = []


def command_over():
    """The command's own work is over (its result or error written): a Ctrl-C from
    here is noted, not raised -- raised on the way back out of click it would say
    only "interrupted" of a command that had finished."""
    if _GUARDS:
        _GUARDS[-1].disarm()


class _SigintGuard:
    """Ctrl-C raises KeyboardInterrupt while a command runs (the workflows turn it
    into an abort and exit 130) and is only noted once it has finished: a SIGINT
    during the error report, the last flush or the interpreter's exit must not
    kill the process by the signal (status -2) or print a traceback."""

    def __init__(self):
        self.armed, self.noted, self._installed = True, False, False
        import signal
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                signal.signal(signal.SIGINT, self._handle)
                self._installed = True
        except ValueError:          # not the main thread: leave signals alone
            pass

    def _handle(self, signum, frame):
        if not self.armed:
            self.noted = True
            return
        if _importing(frame):
            # Raised in the middle of an import, the interrupt would leave a module
            # half made, be "ignored" with a traceback printed (a module lock's
            # weakref callback) or turn into a RuntimeError (a class body's
            # __set_name__, in rich's table module); ask again in 10 ms, when the
            # import is done (a timer signal: no import, no thread).
            import signal
            signal.signal(signal.SIGALRM, self._handle)
            signal.setitimer(signal.ITIMER_REAL, 0.01)
            return
        raise KeyboardInterrupt

    def disarm(self):
        self.armed = False

    def finish(self, exiting):
        """Before the process exits, Ctrl-C is ignored outright: the interpreter puts
        back the default handler of a signal with a Python handler when it shuts
        down, and a SIGINT then would kill it.  (Called in-process -- tests, other
        programs -- the handler found at the start is put back instead: an ignored
        SIGINT would be inherited by every process they start.)"""
        import signal
        try:
            if exiting:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
            elif self._installed:
                signal.signal(signal.SIGINT, signal.default_int_handler)
        except ValueError:          # not the main thread
            pass


def _importing(frame):
    """Is ``frame``, or a frame that called it, the import machinery at work?"""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = getattr(frame, "f_back", None)
    return False


def _flush_stdout():
    stream = sys.stdout
    if stream is not None:
        stream.flush()


def _discard_stdout():
    """Point stdout at /dev/null: what is still buffered (and the interpreter's
    flush at exit) goes nowhere instead of failing again."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, fd)
        finally:
            os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass


def _command_from(args):
    """The command ``args`` name, for the JSON error of a mistake found while parsing
    them (docs/json-schema.md): its registry name, as its other documents give it, or
    the words naming it (``fmapi topology``); and the TARGET given to it, if any."""
    cmd, path, rest = cli, [], []
    ctx = click.Context(cli, resilient_parsing=True)
    words = list(args)
    for i, word in enumerate(words):
        if word.startswith("-"):
            continue
        try:
            sub = cmd.get_command(ctx, word)
        except Exception:          # a command that cannot be built: the words so far
            sub = None
        if sub is None:
            if path:
                break
            continue                # before the first command: a global option's value
        cmd, path = sub, path + [word]
        if not isinstance(cmd, click.Group):
            rest = words[i + 1:]    # its options and arguments
            break
    entry = getattr(cmd, "entry", None)
    name = entry.name if entry is not None else " ".join(path) or "cxl-mi"
    return name, _first_argument(cmd, rest)


def _first_argument(cmd, words):
    """The first word of ``words`` that is not an option of ``cmd`` nor its value."""
    if isinstance(cmd, click.Group):
        return None
    takes_value = {o for p in cmd.params if isinstance(p, click.Option)
                   and not p.is_flag and not p.count for o in p.opts}
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word == "--":
            continue
        elif word.startswith("-"):
            skip = word in takes_value
        else:
            return word
    return None


def _show_version(ctx, value):
    if not value or ctx.resilient_parsing:
        return
    click.echo("cxl-mi %s" % _version())
    ctx.exit()


def _verbose(ctx, param, value):
    if value:
        import logging
        level = logging.INFO if value == 1 else logging.DEBUG
        logging.basicConfig(level=level, format="cxl-mi: %(name)s: %(message)s",
                            stream=sys.stderr)
    return value


def refuse_dry_run(command, why, instead):
    """For a command with no dry run (monitor, exporter, list): ``cxl-mi --dry-run``
    before it is refused with exit 2 before any device is touched -- ignored, it
    would read (monitor: and clear) what the user meant only to preview."""
    ctx = click.get_current_context(silent=True)
    if ctx is None or not ctx.meta.get("cxlmi.dry_run"):
        return
    click.echo("cxl-mi: error: %s has no dry run (%s): %s; nothing was done"
               % (command, why, instead), err=True)
    raise click.exceptions.Exit(EXIT_USAGE)


def _dry_run(ctx, param, value):
    if value:
        ctx.meta["cxlmi.dry_run"] = True     # read by cxlmi_cli.options.Invocation
    return value


@click.group("cxl-mi", cls=CxlMiGroup, epilog=EPILOG,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-V", "--version", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, p, v: _show_version(ctx, v),
              help="Show the version and exit.")
@click.option("-v", "--verbose", count=True, callback=_verbose, expose_value=False,
              is_eager=True, help="log what happens (-vv: also every message)")
@click.option("--dry-run", is_flag=True, expose_value=False, callback=_dry_run,
              help="every device command below prints the request it would send and "
                   "sends nothing (the same as its own --dry-run); emulate, monitor, "
                   "exporter and list have none and refuse it")
def cli():
    """Manage CXL components: memory devices, switches, MLDs, MHDs and DCDs.

    \b
    Targets (the TARGET of every device command):
      mem0, /dev/cxl/mem0, switch0   the Linux CXL driver (ioctl)
      mctp:NET,EID, --mctp NET:EID   MCTP (AF_MCTP socket)
      tcp:HOST[:PORT], --tcp ...     MCTP over TCP (`cxl-mi emulate` serves one)
      emu:PROFILE                    in-process emulator: type3, mld, switch, mhd, dcd
      (nothing)                      $CXLMI_TARGET
    Tunnels: --port N (switch port), --ld N (LD of an MLD), both (switch -> MLD -> LD),
    --mhd (a multi-headed device's LD pool CCI).
    Output: -o table|json|raw, --json.

    Examples: cxl-mi identify emu:type3;  cxl-mi fmapi get-ld-info emu:switch --port 2 --json
    """


#: True while the process itself is cxl-mi (the console script, ``python -m
#: cxlmi_cli``), not a program or test calling ``cli.main()``: only then may the end
#: of a command leave SIGINT ignored for the process's exit
_PROCESS = {"entry": False}


def main(argv=None):
    """Run ``cxl-mi`` with ``argv``; ends with SystemExit (its code the exit status),
    as a click command does.  For programs that run it in their own process."""
    return cli.main(args=argv, prog_name="cxl-mi")


def console(argv=None):
    """The ``cxl-mi`` process itself (the console script, ``python -m cxlmi_cli``).

    After the command, the output is flushed and the process ends with ``os._exit``:
    CPython ends a process by SIGINT ("killed by the signal", status -2) when it
    believes a KeyboardInterrupt went unhandled, and a Ctrl-C handled in the last
    moments of a command (reported, exit 130) could still leave it believing so.
    """
    _PROCESS["entry"] = True
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    if "logging" in sys.modules:
        sys.modules["logging"].shutdown()
    os._exit(code)


if __name__ == "__main__":
    console()
