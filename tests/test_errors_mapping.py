# SPDX-License-Identifier: LGPL-2.1-or-later
"""The exception family: every class's attributes and exit code, the texts a
user reads, and ``from_oserror``'s errno mapping (what the TCP transport
raises when a socket call fails).

Expected values are written down here from DESIGN.md (exit codes) and the CXL
r3.1 return code table, never read back from the module under test.
"""

import errno
import os

import pytest

from cxlmi_bindings import errors
from cxlmi_bindings.errors import (CommandTimeout, CxlmiError, DeviceError, DeviceNotFound,
                                   NotSupported, PermissionDenied, ProtocolError,
                                   TransportError, UsageError, from_oserror)


# ------------------------------------------------------------ return codes

@pytest.mark.parametrize("code,name,text", [
    (0x00, "SUCCESS", "success"),
    (0x01, "BACKGROUND", "background operation started"),
    (0x03, "UNSUPPORTED", "the command is not supported"),
    (0x15, "MBUNSUPPORTED", "not supported on this mailbox or CCI"),
    (0x16, "PAYLOADLEN", "invalid payload length"),
    (0x20, "NO_BGABORT", "the background operation cannot be aborted"),   # the last one
])
def test_defined_return_codes_have_their_name_and_message(code, name, text):
    assert errors.retcode_name(code) == name
    assert errors.retcode_message(code) == text


@pytest.mark.parametrize("code", [-1, 0x21, 0x22, 0xFFFF])
def test_return_codes_outside_the_table_have_no_name_and_no_message(code):
    assert errors.retcode_name(code) is None
    assert errors.retcode_message(code) is None


# ------------------------------------------------------------ exit codes

def test_exit_code_constants_are_the_documented_ones():
    assert (errors.EXIT_OK, errors.EXIT_DEVICE, errors.EXIT_USAGE, errors.EXIT_TRANSPORT,
            errors.EXIT_PERMISSION, errors.EXIT_TIMEOUT, errors.EXIT_INTERRUPTED) == \
        (0, 1, 2, 3, 4, 5, 130)


@pytest.mark.parametrize("exc,exit_code,parents", [
    (CxlmiError("m"), 3, (Exception,)),
    (DeviceError(3), 1, (CxlmiError,)),
    (UsageError("m"), 2, (CxlmiError,)),
    (TransportError("m"), 3, (CxlmiError,)),
    (DeviceNotFound("m"), 3, (TransportError,)),
    (ProtocolError("m"), 3, (TransportError,)),
    (CommandTimeout("m"), 5, (TransportError,)),
    (PermissionDenied("m"), 4, (TransportError,)),
    (NotSupported("m"), 3, (TransportError,)),
])
def test_every_error_class_carries_its_documented_exit_code(exc, exit_code, parents):
    assert exc.exit_code == exit_code
    assert isinstance(exc, parents)
    assert isinstance(exc, CxlmiError)


# ------------------------------------------------------------ attributes

def test_a_plain_error_has_its_message_and_no_hint():
    exc = CxlmiError("the thing failed")
    assert str(exc) == exc.message == "the thing failed"
    assert exc.args == ("the thing failed",)
    assert exc.hint is None
    assert "hint" not in vars(exc)


def test_a_hint_given_is_kept_on_the_instance_only():
    exc = UsageError("bad option", hint="try --port")
    assert exc.hint == "try --port" and str(exc) == "bad option"
    assert UsageError("other").hint is None


def test_transport_error_keeps_its_errno_and_hint():
    exc = TransportError("link down", errno.EPIPE, "reconnect")
    assert (str(exc), exc.errno, exc.hint) == ("link down", errno.EPIPE, "reconnect")
    plain = TransportError("link down")
    assert plain.errno is None and plain.hint is None
    assert ProtocolError("short reply").errno is None
    assert DeviceNotFound("gone", errno.ENOENT).errno == errno.ENOENT
    assert PermissionDenied("no", errno.EACCES, "run as root").hint == "run as root"


def test_a_command_timeout_says_etimedout_and_keeps_its_hint():
    exc = CommandTimeout("identify: no reply within 2 s", hint="raise --timeout")
    assert exc.errno == errno.ETIMEDOUT
    assert exc.hint == "raise --timeout"
    assert str(exc) == "identify: no reply within 2 s"
    assert CommandTimeout("late").hint is None


def test_device_error_names_the_code_command_and_level_in_its_message():
    exc = DeviceError(3, "identify", 0xBEEF, "tunnel level 1 (port/LD 4)")
    assert exc.return_code == 3
    assert exc.name == "UNSUPPORTED"
    assert exc.description == "the command is not supported"
    assert exc.command == "identify"
    assert exc.vendor_status == 0xBEEF
    assert exc.level == "tunnel level 1 (port/LD 4)"
    assert exc.hint is None
    assert str(exc) == ("identify: tunnel level 1 (port/LD 4): CXL return code 3 "
                        "(UNSUPPORTED): the command is not supported")


def test_device_error_without_command_or_level_is_just_the_code():
    exc = DeviceError(0x16)
    assert exc.command is None and exc.level is None and exc.vendor_status == 0
    assert str(exc) == "CXL return code 22 (PAYLOADLEN): invalid payload length"
    assert str(DeviceError(6, level="tunnel level 2 (LD pool CCI)")) == (
        "tunnel level 2 (LD pool CCI): CXL return code 6 (BUSY): "
        "a background operation is in progress")
    assert str(DeviceError(6, "sanitize")) == (
        "sanitize: CXL return code 6 (BUSY): a background operation is in progress")


def test_device_error_with_an_undefined_code_names_it_in_hex():
    exc = DeviceError(0x1234, "vendor")
    assert exc.name == "0x1234"
    assert exc.description == "undefined return code"
    assert str(exc) == "vendor: CXL return code 4660 (0x1234): undefined return code"


# ------------------------------------------------------------ from_oserror

def _oserror(code):
    return OSError(code, os.strerror(code))


@pytest.mark.parametrize("code,cls,exit_code", [
    (errno.EACCES, PermissionDenied, 4),
    (errno.EPERM, PermissionDenied, 4),
    (errno.ENOENT, DeviceNotFound, 3),
    (errno.ENODEV, DeviceNotFound, 3),
    (errno.ENXIO, DeviceNotFound, 3),
])
def test_from_oserror_maps_permission_and_not_found_errnos(code, cls, exit_code):
    err = from_oserror(_oserror(code), "tcp:host:2508")
    assert type(err) is cls
    assert err.exit_code == exit_code
    assert err.errno == code
    assert str(err) == "tcp:host:2508: %s" % os.strerror(code)
    assert err.hint is None


def test_from_oserror_maps_etimedout_to_a_command_timeout():
    err = from_oserror(_oserror(errno.ETIMEDOUT), "tcp:host:2508: connect")
    assert type(err) is CommandTimeout
    assert err.exit_code == 5 and err.errno == errno.ETIMEDOUT
    assert str(err) == "tcp:host:2508: connect: timed out"


@pytest.mark.parametrize("code", [errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE,
                                  errno.EHOSTUNREACH, errno.EBUSY])
def test_from_oserror_maps_any_other_errno_to_a_transport_error(code):
    err = from_oserror(_oserror(code), "tcp:host:2508: send")
    assert type(err) is TransportError
    assert err.exit_code == 3 and err.errno == code
    assert str(err) == "tcp:host:2508: send: %s" % os.strerror(code)


def test_from_oserror_without_strerror_uses_the_exceptions_text():
    exc = OSError("socket closed by peer")
    assert exc.errno is None and exc.strerror is None
    err = from_oserror(exc, "tcp:host:2508")
    assert type(err) is TransportError and err.errno is None
    assert str(err) == "tcp:host:2508: socket closed by peer"


def test_from_oserror_of_the_socket_timeout_class_is_a_timeout():
    # socket.timeout (TimeoutError) raised by the kernel carries ETIMEDOUT
    err = from_oserror(TimeoutError(errno.ETIMEDOUT, "Connection timed out"), "tcp:h")
    assert type(err) is CommandTimeout and str(err) == "tcp:h: timed out"


# ------------------------------------------------------------ ReturnCode

def _fresh_return_code(monkeypatch):
    """errors.ReturnCode as its first use makes it (the class is cached in the
    module once made; the cached one comes back when the test ends)."""
    monkeypatch.delitem(vars(errors), "ReturnCode", raising=False)
    return errors.ReturnCode


def test_return_code_enum_names_each_code_of_the_table(monkeypatch):
    rc = _fresh_return_code(monkeypatch)
    assert rc.__name__ == "ReturnCode" and rc.__module__ == "cxlmi_bindings.errors"
    assert issubclass(rc, int)
    assert (rc.SUCCESS, rc.BACKGROUND, rc.INPUT, rc.BUSY, rc.MBUNSUPPORTED,
            rc.NO_BGABORT) == (0, 1, 2, 6, 0x15, 0x20)
    assert len(rc) == 0x21
    assert rc(0x16).name == "PAYLOADLEN"
    assert isinstance(rc.BUSY, int)


def test_return_code_enum_is_made_once_then_kept(monkeypatch):
    rc = _fresh_return_code(monkeypatch)
    assert vars(errors)["ReturnCode"] is rc
    assert errors.ReturnCode is rc
    from cxlmi_bindings.errors import ReturnCode
    assert ReturnCode is rc


def test_other_module_attributes_are_attribute_errors(monkeypatch):
    _fresh_return_code(monkeypatch)
    monkeypatch.delitem(vars(errors), "ReturnCode")
    with pytest.raises(AttributeError) as info:
        errors.ReturnCodes
    assert str(info.value) == "module 'cxlmi_bindings.errors' has no attribute 'ReturnCodes'"
    assert not hasattr(errors, "returncode")
    assert not hasattr(errors, "RETURNCODE")
    assert "ReturnCode" not in vars(errors)


@pytest.mark.parametrize("exc,kind,message", [
    (PermissionError(errno.EACCES, "Permission denied", "/dev/cxl/mem0"), "PermissionDenied",
     "Permission denied: /dev/cxl/mem0"),
    (OSError(errno.ENOENT, "No such file or directory", "/dev/cxl/mem9"), "TransportError",
     "No such file or directory: /dev/cxl/mem9"),
    (OSError(errno.EIO, "Input/output error"), "TransportError", "Input/output error"),
])
def test_a_system_error_reads_as_words_and_the_file_it_names(exc, kind, message):
    from cxlmi_cli import errors as cli_errors
    problem = cli_errors.classify(exc)
    assert (problem.kind, problem.message) == (kind, message)


def _identify_through_port_4():
    from cxlmi_bindings import Context
    from cxlmi_bindings.tunnel import Tunnel
    with Context() as ctx:
        ctx.open("emu:switch").identify(tunnel=Tunnel.switch(4))      # nothing on port 4


def test_an_error_crosses_a_process_pool_whole():
    # DeviceError could not be rebuilt from its message: a worker's device error
    # broke the pool (BrokenProcessPool) instead of reaching the caller
    import concurrent.futures
    import multiprocessing
    import pickle
    from cxlmi_bindings.errors import Cancelled, DeviceError
    with concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("fork")) as pool:
        with pytest.raises(DeviceError) as info:
            pool.submit(_identify_through_port_4).result(timeout=60)
    exc = info.value
    assert (exc.return_code, exc.name, exc.level) == (2, "INPUT", "tunnel level 1 (switch port 4)")
    assert "switch port 4" in exc.hint and str(exc).startswith("tunnel level 1 (switch port 4)")
    stopped = pickle.loads(pickle.dumps(Cancelled("transfer", "transfer-aborted", slot=3)))
    assert (type(stopped), stopped.outcome, stopped.slot) == (Cancelled, "transfer-aborted", 3)
