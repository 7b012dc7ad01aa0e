# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the cxl_mi and cxl_mi_facts modules share: finding a command in cxl-mi's registry,
turning module options into a ``cxl-mi ... --json`` command line, running it with the
managed host's Python and reading its JSON answer (or its JSON error).

Why the command line and not the library: ``cxl-mi --json`` is cxl-mi's documented,
versioned interface for scripts (``schema_version``, docs/json-schema.md).  It already turns
options into a request (sizes such as ``1G``, ``now``, flag names, ``--input`` JSON),
classifies every error into an exit code and a JSON error object naming the CXL return
code, and renders results with their decoded fields.  Running it keeps the module small and
its results exactly what a person sees with ``--json``.  The registry (imported from the
same installation) says what a command is: its group, CLI name, opcode and whether it has
effects, which decides ``changed`` and what check mode holds back.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import difflib
import json
import sys

#: Options the module sets itself (target, tunnel, output, confirmation): not in ``args``.
RESERVED = frozenset(("target", "mctp", "tcp", "port", "ld", "mhd", "timeout", "output", "o",
                      "json", "input", "yes", "y", "help", "h"))

#: Commands the Command Effects Log lists no effect for but which change the component, or
#: whose effect depends on the request (a CXL.io write, a vendor command): always a change.
MAY_CHANGE = frozenset((
    "request_bg_op_abort", "memdev_security_send", "fmapi_send_ppb_cxlio_config_request",
    "fmapi_send_ld_cxlio_config_request", "fmapi_send_ld_cxlio_mem_request",
    "vendor_specific"))

#: Reads that share their opcode with a command that changes things: the CEL lists effects
#: per opcode, so Media Operations discovery carries those of Media Operations sanitize.
READS = frozenset(("memdev_media_operations_discovery",))

#: Options that turn a read into a change (``get-event-records --clear`` clears what it read).
CHANGING_OPTIONS = {"get_event_records": ("clear",)}

IMPORT_ERROR = None
try:
    from cxlmi_bindings import registry
except ImportError as exc:        # reported by require(), with the fix
    registry = None
    IMPORT_ERROR = exc


def require(module):
    """Fail the task unless cxl-mi is importable by the managed host's Python."""
    if registry is None:
        from ansible.module_utils.basic import missing_required_lib
        # the standard message names the host's Python and ansible_python_interpreter
        module.fail_json(msg="%s (install it there: pip install cxl-mi): %s"
                             % (missing_required_lib("cxl-mi"), IMPORT_ERROR))


def resolve(name):
    """The registry entry a ``command`` option names; ValueError saying why not.

    Accepted: the registry name (``memdev_get_health_info``, dashes or underscores, with or
    without ``cxlmi_cmd_``), ``GROUP CLI-NAME`` (``memdev get-health-info``), or the CLI name
    alone (``get-health-info``) where only one group has it.
    """
    text = " ".join(str(name).split())
    words = text.split(" ")
    if len(words) == 2:
        group, cli_name = words[0], words[1].replace("_", "-")
        for entry in registry.COMMANDS:
            if entry.group == group and entry.cli_name == cli_name:
                return entry
    elif len(words) == 1 and text:
        key = text.replace("-", "_")
        if key.startswith("cxlmi_cmd_"):
            key = key[len("cxlmi_cmd_"):]
        entry = registry.BY_NAME.get(key)
        if entry is not None:
            return entry
        found = [e for e in registry.COMMANDS if e.cli_name == text.replace("_", "-")]
        if len(found) == 1:
            return found[0]
        if found:
            raise ValueError("command %r is in several groups: say which, one of %s"
                             % (text, ", ".join("'%s %s'" % (e.group, e.cli_name)
                                                for e in found)))
    known = [e.name for e in registry.COMMANDS] + ["%s %s" % (e.group, e.cli_name)
                                                   for e in registry.COMMANDS]
    near = difflib.get_close_matches(text.replace("-", "_"), known, n=3) or \
        difflib.get_close_matches(text, known, n=3)
    raise ValueError("no CXL command %r in cxl-mi's registry%s; give a registry name "
                     "(memdev_get_health_info) or GROUP COMMAND (memdev get-health-info)"
                     % (text, " (did you mean %s?)" % ", ".join(near) if near else ""))


def changes(entry, args=None):
    """Whether running ``entry`` (with these ``args``) may change the component."""
    if entry.name in READS:
        return False
    if entry.effects or entry.destructive or entry.name in MAY_CHANGE:
        return True
    return any((args or {}).get(opt) for opt in CHANGING_OPTIONS.get(entry.name, ()))


def positionals(command):
    """The names of a command's positional arguments after TARGET (``transfer-fw``'s
    ``file``, ``get-log``'s ``log``): ``args`` gives them by name."""
    import click
    return [p.name for p in command.params
            if isinstance(p, click.Argument) and p.name != "target"]


def args_argv(command, args):
    """(option words, positional words) of ``args``; ValueError when unusable.

    A key naming a positional argument gives that argument; any other key is an option:
    True is a flag, False and None leave it out, a list repeats it (for options given
    several times), anything else is its text (``--name=value``).
    """
    args = dict(args or {})
    words = []
    for name in positionals(command):
        value = args.pop(name, None)
        if value is not None:
            if isinstance(value, (dict, list, tuple, bool)):
                raise ValueError("args.%s: %r is not a value for the %s argument"
                                 % (name, value, name.upper()))
            words.append(str(value))
    return option_argv(args), words


def option_argv(args):
    """``args`` (option name -> value) as ``--name=value`` words; ValueError when unusable."""
    argv = []
    for key in sorted(args or {}):
        value = args[key]
        name = str(key).strip().lstrip("-").replace("_", "-")
        if name in RESERVED:
            raise ValueError("args.%s: give it as the module's own option (target, port, ld, "
                             "mhd, timeout), or leave it out (output, input and yes are set "
                             "by the module)" % key)
        if value is None or value is False:
            continue
        if value is True:
            argv.append("--" + name)
            continue
        if isinstance(value, dict):
            raise ValueError("args.%s: a mapping is not an option value; give structured "
                             "request fields in the request option instead" % key)
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, (dict, list, tuple)):
                raise ValueError("args.%s: %r is not an option value" % (key, item))
            argv.append("--%s=%s" % (name, item))
    return argv


def target_argv(target, port=None, ld=None, mhd=False, timeout=None):
    """The target, tunnel and timeout words of a device command."""
    argv = [target]
    if port is not None:
        argv += ["--port", str(port)]
    if ld is not None:
        argv += ["--ld", str(ld)]
    if mhd:
        argv.append("--mhd")
    if timeout is not None:
        argv += ["--timeout", str(timeout)]
    return argv


def cli_command(entry):
    """The click command ``cxl-mi GROUP CLI-NAME`` is (its options, whether it takes --yes)."""
    import click
    from cxlmi_cli.main import cli
    root = click.Context(cli, info_name="cxl-mi")
    group = cli.get_command(root, entry.group)
    command = group.get_command(click.Context(group, info_name=entry.group, parent=root),
                                entry.cli_name)
    if command is None:
        raise ValueError("cxl-mi has no command %s %s" % (entry.group, entry.cli_name))
    return command


def takes(command, option):
    return any(option in getattr(p, "opts", ()) for p in command.params)


def check_argv(entry, command, argv):
    """Parse ``argv`` the way the command will, sending nothing; ValueError saying what is
    wrong (an unknown option, a value that does not parse or fit)."""
    import click
    try:
        command.make_context("cxl-mi %s %s" % (entry.group, entry.cli_name), list(argv))
    except click.ClickException as exc:
        raise ValueError("cxl-mi %s %s: %s" % (entry.group, entry.cli_name,
                                               exc.format_message()))
    except ValueError as exc:
        raise ValueError("cxl-mi %s %s: %s" % (entry.group, entry.cli_name, exc))


def cli():
    """How to run cxl-mi: with this very Python, so the module and the command agree."""
    return [sys.executable, "-m", "cxlmi_cli"]


def run(module, argv, stdin=None):
    """Run ``cxl-mi ARGV`` (with --json among them); (exit code, its JSON object, stderr).

    Output that is not a JSON object (a crash) fails the task with what was printed.
    """
    cmd = cli() + list(argv)
    # expand_user_and_vars off: option values are passed as written, "$" and "~" included
    rc, out, err = module.run_command(cmd, data=stdin, expand_user_and_vars=False,
                                      environ_update={"NO_COLOR": "1", "LC_ALL": "C.UTF-8"})
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        module.fail_json(msg="cxl-mi printed no JSON (exit code %d): %s"
                         % (rc, (err or out).strip()[-2000:]), rc=rc, cmd=cmd,
                         stdout=out, stderr=err)
    return rc, doc, err


def error_details(doc, rc, stderr=""):
    """(message, details) of a cxl-mi JSON error: the message names the CXL return code.
    A command that failed after its result was written (``get-event-records --clear``
    whose clear was refused) has no JSON error: its stderr line is the message, and
    the result goes with the details."""
    error = doc.get("error") or {}
    said = [line for line in (stderr or "").splitlines() if line.startswith("cxl-mi: error: ")]
    message = error.get("message") or (said[-1][len("cxl-mi: error: "):] if said else
                                       "cxl-mi failed with exit code %d" % rc)
    if error.get("hint"):
        message += " (hint: %s)" % error["hint"]
    details = {"error": error, "rc": rc,
               "exit_code": error.get("exit_code", rc),
               "return_code": error.get("return_code"),
               "return_code_name": error.get("return_code_name")}
    if "result" in doc:
        details["result"] = doc["result"]
    return message, details
