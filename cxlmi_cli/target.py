# SPDX-License-Identifier: LGPL-2.1-or-later
"""TARGET / --mctp / --tcp / CXLMI_TARGET -> target string -> Endpoint; tunnel flags -> Tunnel.

The target string forms are the library's (:mod:`cxlmi_bindings.targets`);
this module only decides which of the ways to give one wins, refuses
ambiguity, and turns missing backends into a clean transport error.
"""

import os

ENV_TARGET = "CXLMI_TARGET"


def _usage(message, hint=None):
    from cxlmi_bindings.errors import UsageError
    return UsageError(message, hint=hint)


def resolve(positional=None, mctp=None, tcp=None, environ=None):
    """The one target string the user meant, validated; UsageError otherwise."""
    from cxlmi_bindings import targets
    from cxlmi_bindings.errors import UsageError
    given = [(kind, value) for kind, value in
             (("TARGET", positional), ("--mctp", mctp), ("--tcp", tcp)) if value]
    if len(given) > 1:
        raise _usage("more than one target given (%s): name exactly one"
                     % ", ".join("%s %s" % g for g in given))
    if given:
        kind, value = given[0]
        # the option's value may also be written as the target it stands for
        # (--tcp tcp:HOST:PORT, the form the emulator's listening line prints)
        if kind == "--mctp":
            net, eid = targets.parse_mctp(_unprefixed(value, "mctp:"),
                                          where="--mctp %r" % value)
            target = "mctp:%d,%d" % (net, eid)
        elif kind == "--tcp":
            host, port = targets.parse_tcp(_unprefixed(value, "tcp:"), where="--tcp %r" % value)
            target = "tcp:%s:%d" % ("[%s]" % host if ":" in host else host, port)
        else:
            target = value
    else:
        environ = os.environ if environ is None else environ
        target = environ.get(ENV_TARGET, "").strip()
        if not target:
            raise _usage("no target: name one as TARGET (%s), with --mctp NET:EID or "
                         "--tcp HOST[:PORT], or set %s" % (targets.FORMS, ENV_TARGET),
                         hint="`cxl-mi list` shows the targets this machine has")
    try:
        targets.parse(target)       # UsageError for a form it does not know
    except UsageError as exc:
        if not given:               # say where the value came from: nothing on argv
            exc.args = ("%s (from %s)" % (exc.args[0], ENV_TARGET),) + exc.args[1:]
        raise
    return target


def _unprefixed(value, scheme):
    value = value.strip()
    return value[len(scheme):] if value.lower().startswith(scheme) else value


def tunnel(port=None, ld=None, mhd=False):
    """--port / --ld / --mhd -> Tunnel or None; UsageError for combinations that mean nothing."""
    from cxlmi_bindings.tunnel import Tunnel
    if mhd and (port is not None or ld is not None):
        raise _usage("--mhd reaches a multi-headed device's LD pool CCI and cannot be "
                     "combined with %s" % " and ".join(
                         o for o, v in (("--port", port), ("--ld", ld)) if v is not None),
                     hint="use --mhd alone, or --port N [--ld N] for a switch and an MLD")
    if mhd:
        return Tunnel.mhd()
    if port is not None and ld is not None:
        return Tunnel.switch_mld(port, ld)
    if port is not None:
        return Tunnel.switch(port)
    if ld is not None:
        return Tunnel.mld(ld)
    return None


def describe_tunnel(port=None, ld=None, mhd=False):
    if mhd:
        return "the MHD's LD pool CCI"
    if port is not None and ld is not None:
        return "switch port %d, LD %d" % (port, ld)
    if port is not None:
        return "switch port %d" % port
    if ld is not None:
        return "LD %d" % ld
    return None


def open_endpoint(target, timeout=None, probe=None, mctp_type=None, peer=None):
    """Open ``target``; a missing optional dependency is a TransportError naming the extra.

    ``timeout`` (seconds) bounds every wait: the connection, the probe an
    MCTP-reached endpoint gets on open and the first command share one deadline
    (the transport's ``deadline``); each later command of a workflow gets the
    timeout of its own.  A probe that times out ends it there.
    """
    from cxlmi_bindings import targets
    from cxlmi_bindings.endpoint import Context
    from cxlmi_bindings.errors import CommandTimeout, TransportError
    import time
    started = time.monotonic()
    ctx = Context(probe=probe)
    probing = ctx.probe_enabled         # --no-probe, CXLMI_PROBE, LIBCXLMI_PROBE_ENABLED
    ctx.probe_enabled = False           # probed below, once the timeout is set
    options = {"peer": peer, "mctp_type": mctp_type}
    if timeout and targets.parse(target)[0] == "tcp":
        options["connect_timeout"] = timeout
    try:
        ep = ctx.open(target, **options)
    except ImportError as exc:
        from .errors import missing_extra
        extra = missing_extra(exc)
        if extra is None:
            raise               # one of cxl-mi's own modules: a broken install, shown as such
        raise TransportError("%s: this target needs %s, which is not installed" % (target, exc.name),
                             hint="pip install 'cxl-mi[%s]'; `cxl-mi list` shows the targets "
                                  "that work here" % extra)
    except ValueError as exc:
        raise _usage("%s: %s" % (target, exc))
    if timeout:
        ep.timeout_ms = max(1, int(timeout * 1000))
        # one deadline for what the user waits on: the connection, the probe and the
        # first command together (Invocation.call lifts it after that command)
        ep.transport.deadline = started + timeout
    if probing:
        failed = ep.probe()
        if isinstance(failed, CommandTimeout) and ep.transport.deadline is not None:
            # the probe used up the --timeout the command shares with it
            ep.close()
            raise failed
        # any other failure is not the command's: FM-API reach stays what the
        # target string says, and the command goes ahead
    return ep


def complete(ctx, param, incomplete):
    """Shell completion for TARGET: /dev/cxl nodes, emu: profiles, scheme prefixes."""
    from click.shell_completion import CompletionItem
    from cxlmi_bindings.targets import EMULATOR_PROFILES
    items = []
    try:
        for name in sorted(os.listdir("/dev/cxl")):
            items.append("/dev/cxl/" + name if incomplete.startswith("/") else name)
    except OSError:
        pass
    items += ["emu:%s" % p for p in EMULATOR_PROFILES]
    items += ["mctp:", "tcp:"]
    return [CompletionItem(i) for i in items if i.startswith(incomplete)]


def several(given):
    """The TARGET arguments of a command that takes several (``exporter``, ``monitor``),
    or CXLMI_TARGET's; each must parse (click usage errors, exit 2, otherwise)."""
    import os
    import click
    from cxlmi_bindings import targets as _targets
    from cxlmi_bindings.errors import UsageError
    env = os.environ.get("CXLMI_TARGET", "").strip()     # as resolve() takes it
    chosen = list(given) or ([env] if env else [])
    if not chosen:
        raise click.UsageError("give at least one TARGET (or set CXLMI_TARGET)")
    for t in chosen:
        try:
            _targets.parse(t)
        except (UsageError, ValueError) as exc:
            raise click.BadParameter(str(exc), param_hint="TARGET")
    return chosen
