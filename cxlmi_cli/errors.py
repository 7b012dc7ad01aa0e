# SPDX-License-Identifier: LGPL-2.1-or-later
"""Errors -> one line on stderr (+ a JSON object on stdout in JSON mode) -> exit code.

Exit codes (documented in ``cxl-mi --help``): 0 success; 1 the component
returned a CXL error; 2 usage error; 3 target unreachable or transport
failure; 4 permission denied; 5 timeout; 130 interrupted.
"""

import sys

import click


EXIT_OK, EXIT_DEVICE, EXIT_USAGE, EXIT_TRANSPORT = 0, 1, 2, 3
EXIT_PERMISSION, EXIT_TIMEOUT, EXIT_INTERRUPTED = 4, 5, 130
SCHEMA_VERSION = 1

EPILOG = """\b
Exit status:
  0    success
  1    the component returned a CXL error (the message names the return code)
  2    usage error (bad option, value or target; a destructive command without --yes)
  3    target unreachable or transport failure
  4    permission denied
  5    timeout
  130  interrupted"""

_DEVICE_HINTS = {
    "UNSUPPORTED": "the component does not implement this command; `cxl-mi generic "
                   "get-log-cel TARGET` lists the ones it does",
    "MBUNSUPPORTED": "try the command through another CCI (an MCTP target, or a tunnel)",
    "BUSY": "a background operation is running: `cxl-mi generic bg-op-status TARGET`",
    "PASSPHRASE": "the passphrase did not match",
    "SECURITY": "`cxl-mi memdev get-security-state TARGET` shows the security state",
    "INPUT": "check the request fields (`--help` lists them)",
    "PAYLOADLEN": "the request's length did not match what the component expects",
}


def _device_hint(exc):
    """What to do about a CXL return code, for the command that got it."""
    if exc.name == "UNSUPPORTED" and exc.level is None:
        # a memory-device command sent to a switch, an MLD's FM-owned LD or an MHD's
        # head: one of them behind it may take it
        tunnel = "; on a switch, MLD or MHD try it through a tunnel (--port N, --ld N, --mhd)"
        if exc.command and "log" in exc.command:
            # the CEL is itself a log: do not send the user to the command that failed
            return "the component does not implement this command" + tunnel
        return _DEVICE_HINTS["UNSUPPORTED"] + tunnel
    return _DEVICE_HINTS.get(exc.name)


class Problem:
    """A classified error: what to print and which exit code."""

    def __init__(self, kind, message, exit_code, hint=None, return_code=None,
                 return_code_name=None):
        self.kind = kind
        self.message = message
        self.exit_code = exit_code
        self.hint = hint
        self.return_code = return_code
        self.return_code_name = return_code_name

    def as_json(self):
        return {"type": self.kind, "message": self.message, "hint": self.hint,
                "return_code": self.return_code, "return_code_name": self.return_code_name,
                "exit_code": self.exit_code}


#: optional dependencies, by top-level module: the extra that installs each
OPTIONAL_MODULES = {"jeepney": "dbus", "prometheus_client": "exporter"}


def missing_extra(exc):
    """The extra to install for an ImportError of an optional dependency, else None."""
    name = getattr(exc, "name", None) or ""
    return OPTIONAL_MODULES.get(name.partition(".")[0])


def classify(exc):
    """A :class:`Problem` for an exception a user can cause, or None for a bug."""
    from cxlmi_bindings.errors import CxlmiError, DeviceError
    from .params import ValueProblem
    if isinstance(exc, DeviceError):
        return Problem("DeviceError", str(exc), exc.exit_code,
                       exc.hint or _device_hint(exc), exc.return_code, exc.name)
    if isinstance(exc, CxlmiError):
        return Problem(type(exc).__name__, str(exc), exc.exit_code, exc.hint)
    if isinstance(exc, ValueProblem):
        return Problem("UsageError", str(exc), EXIT_USAGE)
    if isinstance(exc, click.ClickException):
        return Problem("UsageError", exc.format_message(), exc.exit_code)
    if isinstance(exc, ImportError):
        extra = missing_extra(exc)
        if extra is None:
            return None         # a module cxl-mi itself needs: a broken install, not a user error
        return Problem("TransportError", "this target needs %s, which is not installed"
                       % exc.name, EXIT_TRANSPORT, "pip install 'cxl-mi[%s]'" % extra)
    if isinstance(exc, PermissionError):
        return Problem("PermissionDenied", _os_text(exc), EXIT_PERMISSION)
    if isinstance(exc, TimeoutError):
        return Problem("CommandTimeout", str(exc) or "timed out", EXIT_TIMEOUT)
    if isinstance(exc, OSError):
        return Problem("TransportError", _os_text(exc), EXIT_TRANSPORT)
    return None


def _os_text(exc):
    """An OSError in words, without Python's '[Errno N]' but with the file it names."""
    if not exc.strerror:
        return str(exc)
    return "%s: %s" % (exc.strerror, exc.filename) if exc.filename else exc.strerror


class ReaderGone(Exception):
    """stdout's reader went away (``cxl-mi ... | head``).  Not an OSError, so click's
    own handler of a broken pipe (exit status 1) never sees it.  ``exit_code`` is what
    the command had come to: 0, or the code of the error it was reporting."""

    def __init__(self, exit_code=0):
        super().__init__(exit_code)
        self.exit_code = exit_code


def line(problem):
    text = "cxl-mi: error: %s" % problem.message
    if problem.hint:
        text += " (hint: %s)" % problem.hint
    return text


def json_error(problem, inv=None, command=None, target=None):
    doc = {"schema_version": SCHEMA_VERSION}
    if inv is not None:
        doc["command"] = inv.entry.name if inv.entry is not None else inv.command_name
        doc["target"] = inv.target
    else:
        doc["command"] = command
        doc["target"] = target
    doc["error"] = problem.as_json()
    return doc


def report(exc, inv=None, command=None, target=None):
    """Print ``exc`` for the user; return its exit code (None: not ours to handle)."""
    problem = classify(exc)
    if problem is None:
        return None
    click.echo(line(problem), err=True)
    if inv is not None:
        inv.out.problem(json_error(problem, inv))      # on stdout in JSON mode only
    elif command is not None:                          # argv asked for JSON
        from .render import json as rjson
        rjson.write(json_error(problem, None, command, target))
    return problem.exit_code


def wants_json(args):
    """Did argv ask for JSON output?  (For errors found while parsing it.)"""
    args = list(args or ())
    for i, a in enumerate(args):
        if a == "--":
            break
        if a == "--json" or a in ("-ojson", "--output=json"):
            return True
        if a in ("-o", "--output") and i + 1 < len(args) and args[i + 1] == "json":
            return True
    return False


def stderr_isatty():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
