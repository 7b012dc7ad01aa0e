# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi emulate`: serve an emulated profile over MCTP over TCP (and serial).

    cxl-mi emulate --profile switch --listen 127.0.0.1:2508 [--state FILE]
                   [--serial PATH | --serial-listen PATH]

then, from anywhere that can reach it: ``cxl-mi identify tcp:127.0.0.1:2508``.  With a serial
line (DSP0253: a Unix socket QEMU's pci-serial is wired to, or a tty) the same endpoint also
answers there: a guest whose kernel has MCTP reaches it as ``mctp:NET,EID``.
The state lives as long as the server (every client sees every change);
with ``--state FILE`` it also survives restarts and crashes: a change is on
disk before its reply is sent (see :mod:`cxlmi_bindings.emulator.state`).  Ctrl-C (or SIGTERM) stops
the server cleanly, saving the state, with exit status 0.
"""

import os
import sys
import time

import click

DEFAULT_LISTEN = "127.0.0.1:2508"


def _profiles():
    from cxlmi_bindings.targets import EMULATOR_PROFILES
    return EMULATOR_PROFILES


def _parse_listen(text):
    from cxlmi_bindings import targets
    from cxlmi_bindings.errors import UsageError
    text = text.strip()
    if text.startswith("tcp:"):
        # the form the listening line prints and the error's example gives: take it too
        text = text[len("tcp:"):]
    try:
        # worded as an option's value (click names --listen), not as a target
        return targets.parse_tcp(text, where="", lowest=0, example=(
            "127.0.0.1:2508, [::1]:2508, tcp:127.0.0.1:2508; port 0 picks a free one"))
    except UsageError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen")


def check_writable(path):
    """Raise the OSError that writing the state to ``path`` would meet."""
    from cxlmi_bindings.emulator.state import StateFile
    StateFile(path).check_writable()


@click.command("emulate", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", type=click.Choice(_profiles()),
              default="switch", show_default=True, help="what to emulate")
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, metavar="HOST[:PORT]",
              help="address to serve MCTP over TCP on (port 0 picks a free one); loopback "
                   "unless you say otherwise")
@click.option("--eid", type=click.IntRange(1, 254), default=8, show_default=True,
              help="the endpoint's MCTP EID")
@click.option("--state", "state_file", type=click.Path(dir_okay=False), default=None,
              metavar="FILE", help="load the device state from FILE (JSON) at start; save "
                                   "each change there before acknowledging it, and at exit")
@click.option("--max-clients", type=click.IntRange(1, 100000), default=64, show_default=True,
              help="connections served at once; when full, a newcomer takes the slot of a "
                   "client stalled in the middle of a message or silent for a second, else "
                   "it is closed")
@click.option("--idle-timeout", type=click.FloatRange(0.1), default=300.0, show_default=True,
              metavar="SECONDS", help="close a connection silent this long (clients reconnect)")
@click.option("--message-timeout", type=click.FloatRange(0.1), default=30.0,
              show_default=True, metavar="SECONDS",
              help="close a connection whose message is not whole this long after its first "
                   "byte")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="server processes sharing the device (one core each): readers run in "
                   "parallel, changes one at a time and seen by all (Linux)")
@click.option("--peer", type=click.Choice(("spec", "jrl"), case_sensitive=False), default="spec",
              show_default=True,
              help="serve clients of this peer family in their own form (jrl: Jackrabbit "
                   "Labs' jack; see docs/mctp-over-tcp.md)")
@click.option("--serial", "serial_path", type=click.Path(dir_okay=False), default=None,
              metavar="PATH", help="also serve MCTP over serial (DSP0253) on PATH: an existing "
                                   "Unix socket (QEMU's -chardev socket,server=on) or a tty")
@click.option("--serial-listen", "serial_listen", type=click.Path(dir_okay=False), default=None,
              metavar="PATH", help="also serve MCTP over serial on a Unix socket created at PATH "
                                   "(for QEMU's -chardev socket,path=PATH on a pci-serial)")
def command(profile, listen, eid, state_file, max_clients, idle_timeout, message_timeout,
            workers, peer, serial_path, serial_listen):
    """Serve an emulated CXL component over MCTP over TCP (and serial) until Ctrl-C."""
    from cxlmi_bindings.errors import CxlmiError
    from ..errors import report
    from ..main import refuse_dry_run
    refuse_dry_run("emulate", "it serves a device, it sends no request",
                   "drop --dry-run, or preview a command against it: "
                   "`cxl-mi --dry-run COMMAND tcp:HOST:PORT`")
    host, port = _parse_listen(listen)
    if serial_path and serial_listen:
        raise click.UsageError("--serial and --serial-listen each name the one serial line; "
                               "give one of them")
    if (serial_path or serial_listen) and workers > 1:
        raise click.UsageError("a serial line is served by one process: --serial and "
                               "--serial-listen need --workers 1")
    try:
        from cxlmi_bindings.emulator import profiles
        from cxlmi_bindings.emulator.server import Server
        from cxlmi_bindings.emulator.state import StateError, StateFile
        device = profiles.build(profile)
    except (ImportError, CxlmiError, OSError) as exc:
        raise click.exceptions.Exit(report(exc) or 3)
    state = StateFile(state_file) if state_file else None
    try:
        if state is not None:
            device = state.load(device)
    except StateError as exc:
        click.echo("cxl-mi: error: --state %s" % exc, err=True)
        raise click.exceptions.Exit(2)
    except OSError as exc:
        click.echo("cxl-mi: error: --state %s: cannot read it: %s"
                   % (state_file, exc.strerror or exc), err=True)
        from ..errors import EXIT_USAGE, classify
        raise click.exceptions.Exit(classify(exc).exit_code
                                    if isinstance(exc, PermissionError) else EXIT_USAGE)
    if state_file:
        try:
            check_writable(state_file)
        except OSError as exc:
            from ..errors import EXIT_USAGE, classify
            click.echo("cxl-mi: error: --state %s: cannot write the state there: %s"
                       % (state_file, exc.strerror or exc), err=True)
            # permission denied is exit 4, as everywhere; anything else: a bad --state
            raise click.exceptions.Exit(classify(exc).exit_code
                                        if isinstance(exc, PermissionError) else EXIT_USAGE)
        try:
            state.claim()                   # held until this process (and its workers) end
        except StateError as exc:
            click.echo("cxl-mi: error: --state %s" % exc, err=True)
            raise click.exceptions.Exit(2)
    handler = _warnings_to_stderr()
    from cxlmi_bindings import _memory
    _memory.keep_freed_memory()               # messages up to 1 MiB, one after another
    if workers > 1:
        try:
            _serve_workers(device, workers, host, port, profile, eid, state_file,
                           dict(eid=eid, max_clients=max_clients, idle_timeout=idle_timeout,
                                message_timeout=message_timeout, peer=peer))
        finally:
            if handler is not None:
                import logging
                logging.getLogger("cxlmi.emulator").removeHandler(handler)
        return
    try:
        # with --state, a change is on disk before its reply goes out (one that
        # cannot be saved is undone, and the requester told INTERNAL)
        durable = (lambda: state.save_or_undo(device)) if state is not None else None
        server = Server(device, host=host, port=port, eid=eid, max_clients=max_clients,
                        idle_timeout=idle_timeout, message_timeout=message_timeout,
                        on_change=durable, peer=peer)
        serial = _serial_server(server, serial_path or serial_listen, bool(serial_listen))
        _serve(server, device, profile, eid, state, serial)
    finally:
        if handler is not None:
            import logging
            logging.getLogger("cxlmi.emulator").removeHandler(handler)


def _warnings_to_stderr():
    """Show the emulator's warnings (listening beyond loopback, a client gone in the
    middle of a message, a state that cannot be saved) as ``cxl-mi: warning: ...``
    lines, once each.  With -v logging is set up already and shows them itself.
    Returns the handler added, or None."""
    import logging
    if logging.getLogger().handlers:
        return None

    class Handler(logging.Handler):
        def emit(self, record):
            try:
                click.echo("cxl-mi: warning: %s" % record.getMessage(), err=True)
            except Exception:
                self.handleError(record)

    handler = Handler(logging.WARNING)
    logging.getLogger("cxlmi.emulator").addHandler(handler)
    return handler


def _serve_workers(device, workers, host, port, profile, eid, state_file, options):
    if not hasattr(os, "fork"):
        click.echo("cxl-mi: error: --workers needs fork(), which this system lacks", err=True)
        raise click.exceptions.Exit(2)
    from cxlmi_bindings.emulator.workers import WorkerPool
    pool = WorkerPool(device, workers, host=host, port=port, state_file=state_file, **options)
    try:
        bound = pool.start()
    except OSError as exc:
        click.echo("cxl-mi: error: cannot listen on %s:%d: %s"
                   % (host, port, exc.strerror or exc), err=True)
        raise click.exceptions.Exit(3)
    from ..stopping import until_stopped
    with until_stopped():
        try:
            shown = "[%s]" % bound[0] if ":" in bound[0] else bound[0]
            click.echo("listening on tcp:%s:%d (emu:%s, EID %d, %d workers); Ctrl-C stops"
                       % (shown, bound[1], profile, eid, workers))
            sys.stdout.flush()
            while True:
                time.sleep(0.5)
                pool.check()            # a worker that died is replaced
        finally:
            pool.stop()
    click.echo("stopped", err=True)


def _serial_server(server, path, listen):
    """The serial binding on ``path``, answering for the TCP server's endpoint (the same
    device, EID and lock), opened but not started; None without a path."""
    if not path:
        return None
    from cxlmi_bindings.emulator.serial_server import SerialServer
    serial = SerialServer(server.endpoint, path, listen=listen)
    try:
        serial.open()
    except OSError as exc:
        import errno
        from ..errors import EXIT_USAGE
        option = "--serial-listen" if listen else "--serial"
        click.echo("cxl-mi: error: %s %s" % (option, exc.strerror or exc), err=True)
        code = {errno.EACCES: 4, errno.EPERM: 4, errno.EADDRINUSE: 3}.get(exc.errno, EXIT_USAGE)
        raise click.exceptions.Exit(code)
    return serial


def _serve(server, device, profile, eid, state, serial=None):
    host, port = server.host, server.port
    try:
        bound = server.start()
    except OSError as exc:
        if serial is not None:
            serial.stop()
        click.echo("cxl-mi: error: cannot listen on %s:%d: %s"
                   % (host, port, exc.strerror or exc), err=True)
        raise click.exceptions.Exit(3)
    if serial is not None:
        serial.start()
    saved = server.stats["messages"]
    pending = False         # a change that could not be saved yet: try again
    from ..stopping import until_stopped
    with until_stopped():
        try:
            if serial is not None:
                # before the "listening" line: whoever waits for that one may use the line
                click.echo("serving MCTP over serial on %s (%s)"
                           % (serial.path, "a Unix socket, waiting for a peer" if serial.listen
                              else "connected"))
            shown = "[%s]" % bound[0] if ":" in bound[0] else bound[0]
            click.echo("listening on tcp:%s:%d (emu:%s, EID %d); Ctrl-C stops"
                       % (shown, bound[1], profile, eid))
            sys.stdout.flush()
            while True:
                # changes made by requests are saved before their replies (on_change);
                # this catches what time changes: background operations ending
                time.sleep(1.0)
                if state is not None and (pending or server.stats["messages"] != saved):
                    saved = server.stats["messages"]
                    pending = not state.try_save(device, server.lock)
        finally:
            if serial is not None:
                serial.stop()
            server.stop()
            if state is not None and not state.try_save(device, server.lock):
                click.echo("cxl-mi: error: the state at exit could not be saved; %s"
                           % ("%s keeps the last state saved" % state.path if state.ever_saved
                              else "nothing was saved to %s" % state.path), err=True)
                unsaved = True
            else:
                unsaved = False
    click.echo("stopped", err=True)
    if unsaved:
        # a unit or script must not take this for a clean stop: the last changes are lost
        raise click.exceptions.Exit(3)
