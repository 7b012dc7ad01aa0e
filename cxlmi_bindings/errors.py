# SPDX-License-Identifier: LGPL-2.1-or-later
"""One exception family for the whole library.

``CxlmiError`` is the root.  A component that answers with a CXL return code
raises ``DeviceError``; anything between us and the component (a socket, an
ioctl, a malformed or foreign reply) raises ``TransportError`` or one of its
children.  Each class carries the CLI exit code documented in DESIGN.md, so the
command line never has to guess.
"""

import errno as _errno

# CXL return codes (CXL r3.1 table 8-34) in order: name, what it means.
RETURN_CODES = (
    ("SUCCESS", "success"),
    ("BACKGROUND", "background operation started"),
    ("INPUT", "one or more command inputs are invalid"),
    ("UNSUPPORTED", "the command is not supported"),
    ("INTERNAL", "internal device error"),
    ("RETRY", "temporary error, retry once"),
    ("BUSY", "a background operation is in progress"),
    ("MEDIADISABLED", "media access is disabled"),
    ("FWINPROGRESS", "a firmware transfer is already in progress"),
    ("FWOOO", "firmware package transferred out of order"),
    ("FWAUTH", "firmware package verification failed"),
    ("FWSLOT", "firmware slot not supported for this operation"),
    ("FWROLLBACK", "new firmware failed to activate, rolled back"),
    ("FWRESET", "new firmware failed to activate, cold reset required"),
    ("HANDLE", "invalid or out-of-order event record handle"),
    ("PADDR", "invalid physical address"),
    ("POISONLMT", "poison injection limit reached"),
    ("MEDIAFAILURE", "permanent media failure"),
    ("ABORT", "background operation aborted"),
    ("SECURITY", "not valid in the current security state"),
    ("PASSPHRASE", "passphrase does not match"),
    ("MBUNSUPPORTED", "not supported on this mailbox or CCI"),
    ("PAYLOADLEN", "invalid payload length"),
    ("LOG", "log page not supported or not valid"),
    ("INTERRUPTED", "interrupted by an asynchronous event"),
    ("FEATUREVERSION", "feature version not supported"),
    ("FEATURESELVALUE", "feature selection value not supported"),
    ("FEATURETRANSFERIP", "a feature data transfer is already in progress"),
    ("FEATURETRANSFEROOO", "feature data transferred out of order"),
    ("RESOURCEEXHAUSTED", "resources exhausted"),
    ("EXTLIST", "invalid dynamic capacity extent list"),
    ("TRANSFEROOO", "input data transferred out of order"),
    ("NO_BGABORT", "the background operation cannot be aborted"),
)

EXIT_OK = 0
EXIT_DEVICE = 1
EXIT_USAGE = 2
EXIT_TRANSPORT = 3
EXIT_PERMISSION = 4
EXIT_TIMEOUT = 5
EXIT_INTERRUPTED = 130


def retcode_name(code):
    """``CXLMI_RET_*`` suffix for ``code``, or ``None`` when undefined."""
    if 0 <= code < len(RETURN_CODES):
        return RETURN_CODES[code][0]
    return None


def retcode_message(code):
    if 0 <= code < len(RETURN_CODES):
        return RETURN_CODES[code][1]
    return None


class CxlmiError(Exception):
    """Root of every error the library raises."""

    exit_code = EXIT_TRANSPORT
    hint = None

    def __init__(self, message, hint=None):
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self):
        return str(self)

    def __reduce__(self):
        # as it is, whatever its __init__ takes: a worker process's error reaches the
        # parent of a process pool (DeviceError(2, ...) could not be rebuilt from its
        # message alone, and the pool broke)
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(cls, args, state):
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class DeviceError(CxlmiError):
    """The component completed the command with a non-zero CXL return code."""

    exit_code = EXIT_DEVICE

    def __init__(self, return_code, command=None, vendor_status=0, level=None):
        self.return_code = return_code
        self.name = retcode_name(return_code) or "0x%04x" % return_code
        self.description = retcode_message(return_code) or "undefined return code"
        self.command = command
        self.vendor_status = vendor_status
        self.level = level
        where = ""
        if command:
            where = "%s: " % command
        if level:
            where += "%s: " % level
        super().__init__("%sCXL return code %d (%s): %s"
                         % (where, return_code, self.name, self.description))


class UsageError(CxlmiError):
    """The caller asked for something that cannot be encoded or sent."""

    exit_code = EXIT_USAGE


class TransportError(CxlmiError):
    """The message could not be carried to the component or back."""

    exit_code = EXIT_TRANSPORT

    def __init__(self, message, errno=None, hint=None):
        super().__init__(message, hint)
        self.errno = errno


class DeviceNotFound(TransportError):
    """The target names nothing that exists on this machine."""


class ProtocolError(TransportError):
    """A reply arrived but is malformed, foreign or shorter than it claims."""


class CommandTimeout(TransportError):
    exit_code = EXIT_TIMEOUT

    def __init__(self, message, hint=None):
        super().__init__(message, _errno.ETIMEDOUT, hint)


class PermissionDenied(TransportError):
    exit_code = EXIT_PERMISSION


class NotSupported(TransportError):
    """This transport or kernel cannot carry the command (the device may)."""


class _Stop:
    """What a stopped workflow left behind (:mod:`cxlmi_bindings.workflows`).

    ``stage``: where it stopped ("transfer", "verify", "activate", "background",
    "sending", "log", "page"); ``outcome``: what the clean-up did
    ("nothing-sent", "transfer-aborted", "abort-failed", "abort-requested",
    "left-running", "not-started", "finished", "unknown", "not-activated",
    "stopped"); ``status``: Background Operation Status read after it (a dict,
    or None); ``error``: what the clean-up itself got (or None); ``slot``: the
    firmware slot of a transfer.
    """

    def __init__(self, stage, outcome, what=None, status=None, error=None, slot=None):
        self.stage, self.outcome, self.what = stage, outcome, what
        self.status, self.error, self.slot = status, error, slot
        self.args = (self.describe(),)

    def describe(self, what=None, follow=None):
        """The sentence saying what was left behind; ``what`` names the job,
        ``follow`` how to follow an operation that goes on."""
        from .workflows import FOLLOW, describe_stop
        return describe_stop(self, what, follow or FOLLOW)

    def __str__(self):
        return self.args[0]


class Cancelled(_Stop, CxlmiError):
    """A workflow stopped because its ``cancel`` was set, after leaving the device
    consistent (a transfer aborted, a background operation asked to abort)."""

    exit_code = EXIT_INTERRUPTED


class Interrupted(_Stop, KeyboardInterrupt):
    """Ctrl-C inside a workflow, after the same clean-up as :class:`Cancelled`: still
    a KeyboardInterrupt (``except Exception`` does not take it), saying what it did."""


def from_oserror(exc, what):
    """Map an ``OSError`` raised while talking to ``what`` onto the family."""
    code = exc.errno
    if code in (_errno.EACCES, _errno.EPERM):
        return PermissionDenied("%s: %s" % (what, exc.strerror), code)
    if code == _errno.ETIMEDOUT:
        return CommandTimeout("%s: timed out" % what)
    if code in (_errno.ENOENT, _errno.ENODEV, _errno.ENXIO):
        return DeviceNotFound("%s: %s" % (what, exc.strerror), code)
    return TransportError("%s: %s" % (what, exc.strerror or exc), code)


def __getattr__(name):
    # ReturnCode is made on first use: an enum class costs more start-up time than
    # the rest of this module, and most commands never need it.
    if name == "ReturnCode":
        import enum
        cls = enum.IntEnum("ReturnCode", [(n, code) for code, (n, _) in enumerate(RETURN_CODES)],
                           module=__name__)
        cls.__doc__ = ("The CXL return codes (CXL r3.1 table 8-34) as one IntEnum, named as "
                       "libcxlmi's CXLMI_RET_*: ``ReturnCode.BUSY == 6``.")
        globals()["ReturnCode"] = cls
        return cls
    raise AttributeError("module %r has no attribute %r" % (__name__, name))
