# SPDX-License-Identifier: LGPL-2.1-or-later
"""The libcxlmi API, call for call, for code written against its bindings.

Every ``cxlmi_cmd_*`` is generated from the registry with libcxlmi's argument
order and returns an int: 0 on success (1 when a background operation
started), the CXL return code on a device error, -1 on anything else.  Output
structures are filled in place.  Where a C caller would have to trust the
device, we do not: a reply is written into the caller's object only as far as
that object's memory reaches (a ``from_buffer`` view of a larger buffer, or a
``ctypes.resize``-d structure, counts in full).

A few functions are extensions, for spec commands libcxlmi has no function for
(``registry.EXTENSIONS``, e.g. ``cxlmi_cmd_fmapi_generate_aer_event``): same
conventions, and ``extension`` set to True on the function.
"""

import ctypes
import sys

from . import codec, registry, tunnel as _tunnel, types
from .endpoint import Context, log
from .errors import CxlmiError, DeviceError, ProtocolError, UsageError, retcode_message

# ------------------------------------------------------------ memory helpers


class _Address:
    """A ``void *`` given as an address (``c_void_p``, an int): its size is the one
    the call names (a log's length, ``ret_size``), trusted as C trusts it."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


def _deref(obj):
    """Accept a ctypes object, ``pointer(obj)`` or ``byref(obj)``, or an address
    (``c_void_p``, an int; NULL is None)."""
    if obj is None:
        return None
    if isinstance(obj, ctypes.c_void_p) or (isinstance(obj, int)
                                            and not isinstance(obj, bool)):
        value = obj.value if isinstance(obj, ctypes.c_void_p) else obj
        return _Address(value) if value else None
    if isinstance(obj, ctypes._Pointer):
        return obj.contents
    inner = getattr(obj, "_obj", None)     # byref() → CArgObject
    if inner is not None and type(obj).__name__ == "CArgObject":
        return inner
    return obj


def _buffer_start(view):
    try:
        return ctypes.addressof(ctypes.c_char.from_buffer(view))
    except (TypeError, ValueError):
        return None


def capacity(obj):
    """Bytes writable at ``addressof(obj)``.

    A structure may own more than its sizeof: the rest of the buffer it is a
    ``from_buffer`` view of (the libcxlmi bindings' idiom for flexible arrays
    and for the CEL's array of entries), or what ``ctypes.resize`` gave it.
    An array owns exactly its length, whatever buffer it happens to sit in; an
    address reaches as far as the call says.
    """
    if isinstance(obj, _Address):
        return sys.maxsize
    size = ctypes.sizeof(obj)
    if isinstance(obj, ctypes.Array):
        return size
    base = obj._b_base_
    if base is not None:
        return max(size, capacity(base) - (ctypes.addressof(obj) - ctypes.addressof(base)))
    objs = obj._objects
    if isinstance(objs, dict):
        view = objs.get("ffffffff")
        if isinstance(view, memoryview):
            start = _buffer_start(view)
            if start is not None:
                return max(size, view.nbytes - (ctypes.addressof(obj) - start))
    return size


def _write(out, data):
    """Copy ``data`` into ``out`` no further than its memory reaches."""
    out = _deref(out)
    if out is None:
        return
    if isinstance(out, _Address):
        ctypes.memmove(out.value, bytes(data), len(data))
        return
    if isinstance(out, bytearray):
        n = min(len(out), len(data))
        out[:n] = data[:n]
        return
    n = min(capacity(out), len(data))
    ctypes.memmove(ctypes.addressof(out), bytes(data[:n]), n)


def _read(obj, size):
    """``size`` bytes starting at a ctypes object (bounded by its memory)."""
    obj = _deref(obj)
    if isinstance(obj, _Address):
        return ctypes.string_at(obj.value, size)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        if len(data) < size:
            raise UsageError("request holds %d bytes, %d needed" % (len(data), size))
        return data[:size]
    if size > capacity(obj):
        raise UsageError("request says it carries %d bytes but its buffer holds %d"
                         % (size, capacity(obj)))
    return ctypes.string_at(ctypes.addressof(obj), size)


# Replies whose count field is not a count of tail elements (5302h's
# return_size says how many bytes a read returned or a write took).
_COUNT_NOT_CLAMPED = frozenset(("fmapi_send_ld_cxlio_mem_request",))


def _fit(entry, reply, out):
    """A decoded reply's bytes for a C-style caller: the tail cut to what
    ``out`` can hold, and the count field saying how many elements the caller
    really got (libcxlmi callers size their loops and views from it; the
    Pythonic API leaves the device's count alone and sizes the tail instead)."""
    cls = type(reply)
    flex = getattr(cls, "_flex_", None)
    if flex is None or out is None or isinstance(out, bytearray):
        return bytes(reply)
    fixed = cls.fixed_size()
    elem = ctypes.sizeof(flex[1])
    room = max(0, (capacity(out) - fixed) // elem) if elem else 0
    n = min(cls.flex_count(), room)
    data = bytearray(bytes(reply)[:fixed + n * elem])
    if entry.rsp_count and entry.name not in _COUNT_NOT_CLAMPED:
        head = (cls._base_ or cls).from_buffer(data)
        if getattr(head, entry.rsp_count) > n:
            setattr(head, entry.rsp_count, n)
        del head
    return bytes(data)


def _check_struct(entry, obj, cls, what):
    """Refuse another command's structure (a C compiler would): its bytes would go out
    or come back read as this command's.  Byte buffers and arrays are not checked."""
    if cls is not None and isinstance(obj, ctypes.Structure) and not isinstance(obj, cls):
        raise UsageError("%s: the %s is a %s, not a %s" % (
            entry.name, what, type(obj).__name__, cls.__name__))


def _request_bytes(entry, req, data_sz=None):
    req = _deref(req)
    if req is None:
        if entry.req is None:
            return b""
        raise UsageError("%s needs a request structure" % entry.name)
    if isinstance(req, (bytes, bytearray, memoryview)) and data_sz is None and not entry.req_count:
        return codec.request_to_wire(entry, bytes(req))
    cls = entry.req_cls
    _check_struct(entry, req, cls, "request")
    fixed = ctypes.sizeof(cls)
    tail = 0
    if data_sz is not None:
        tail = int(data_sz)
        if tail < 0:
            raise UsageError("%s: data_sz %d is negative" % (entry.name, tail))
    elif entry.req_count:
        head = cls.from_buffer_copy(_read(req, fixed))
        tail = getattr(head, entry.req_count) * ctypes.sizeof(cls._flex_[1])
    return codec.request_to_wire(entry, _read(req, fixed + tail))


# ------------------------------------------------------------ command runner

#: Security Receive reply sizes libcxlmi knows, by security protocol: protocol 0
#: (security protocol information) is 6 reserved bytes, a 2-byte length and room
#: for 256 protocol ids
SECURITY_PROTOCOL_SIZES = {0x00: 6 + 2 + 256}

def _room(out):
    """Bytes the caller's output object can take (None: no object)."""
    out = _deref(out)
    if out is None:
        return None
    return len(out) if isinstance(out, bytearray) else capacity(out)


def _run(ep, entry, ti, payload, out=None, raw_limit=None, exact=None):
    """``exact``: the reply payload must be exactly this long and the caller's
    buffer must hold it (libcxlmi's fixed-size raw replies)."""
    if ep is None:
        return -1                   # NULL: libcxlmi would not get this far
    ep.last_error = None
    try:
        tunnel = None if ti is None else _tunnel.from_info(_deref(ti))
        rc, body = ep.exchange(entry.opcode, payload, tunnel, entry.fmapi, entry.name)
        if rc:
            # as libcxlmi: a non-zero return code (1: a background operation
            # started) is the result, whatever the reply carries
            return rc
        if exact is not None:
            if len(body) != exact:
                raise ProtocolError("%s: reply payload is %d bytes, expected exactly %d"
                                    % (entry.name, len(body), exact))
            if out is not None and _room(out) < exact:
                raise UsageError("%s: the output buffer holds %d bytes, the reply %d"
                                 % (entry.name, _room(out), exact))
        if out is not None:
            if entry.rsp is not None and type(out) is not entry.rsp_cls:
                _check_struct(entry, _deref(out), entry.rsp_cls, "reply structure")
            if entry.size == "fixed" and entry.rsp is not None:
                # Hot path: a fixed-size reply goes straight into the caller's
                # structure once its size is checked.
                fixed = ctypes.sizeof(entry.rsp_cls)
                if len(body) != fixed:
                    # as libcxlmi: a fixed-size reply is exactly its structure
                    raise ProtocolError("%s: reply is %d bytes, expected exactly %d"
                                        % (entry.name, len(body), fixed))
                if type(out) is entry.rsp_cls:
                    memoryview(out).cast("B")[:fixed] = body
                else:
                    _write(out, body)
            else:
                if entry.size == "raw" or entry.rsp is None:
                    data = bytes(body)
                    if raw_limit is not None:
                        data = data[:raw_limit]
                else:
                    reply = codec.decode_response(entry, body, payload)   # validates it
                    if isinstance(reply, codec.Composite):
                        data = bytes(body)   # C callers parse nested variable parts themselves
                    else:
                        data = _fit(entry, reply, _deref(out))
                _write(out, data)
        return rc
    except DeviceError as exc:
        ep.last_error = exc
        return exc.return_code
    except CxlmiError as exc:
        return _failed(ep, entry.name, exc)


def _failed(ep, name, exc):
    """-1 for a failure that is not the component's answer: kept as ``ep.last_error``
    and told where the context's ``fp`` and log level say, as libcxlmi tells it."""
    ep.last_error = exc
    log.debug("%s: %s", name, exc)
    _say(ep.ctx, "%s: %s" % (name, exc))
    return -1


#: syslog's LOG_ERR: libcxlmi prints its errors at this level
LOG_ERR = 3


def _say(ctx, text):
    """An error for a context made by cxlmi_new_ctx(fp, log_level): to ``fp`` (standard
    error when None) if its level takes errors; a Pythonic Context says nothing."""
    level = getattr(ctx, "log_level", None)
    if level is None or level < LOG_ERR:
        return
    fp = ctx.fp if ctx.fp is not None else sys.stderr
    try:
        fp.write("libcxlmi: %s\n" % text)
        fp.flush()
    except (AttributeError, OSError, ValueError):
        pass                        # not a file one can write to: say nothing


def _run_request(ep, entry, ti, req, out=None, data_sz=None, raw_limit=None, exact=None):
    """Encode the caller's request structure, then run the command."""
    if ep is None:
        return -1
    try:
        payload = _request_bytes(entry, req, data_sz)
    except CxlmiError as exc:
        return _failed(ep, entry.name, exc)
    return _run(ep, entry, ti, payload, out, raw_limit, exact)


def _make(entry):
    kind = entry.call
    if kind == "rsp":
        def f(ep, ti, ret):
            return _run(ep, entry, ti, b"", ret)
    elif kind == "none":
        def f(ep, ti):
            return _run(ep, entry, ti, b"")
    elif kind == "req":
        def f(ep, ti, req):
            return _run_request(ep, entry, ti, req)
    elif kind == "req_rsp":
        def f(ep, ti, req, ret):
            return _run_request(ep, entry, ti, req, ret)
    elif kind == "req_data":
        def f(ep, ti, req, data_sz):
            return _run_request(ep, entry, ti, req, data_sz=data_sz)
    elif kind == "req_buf" and entry.name == "memdev_security_receive":
        def f(ep, ti, req, ret):
            # libcxlmi knows one protocol's reply size (0: security protocol
            # information) and refuses the others without sending anything
            size = SECURITY_PROTOCOL_SIZES.get(getattr(_deref(req), "security_protocol", None))
            if size is None:
                ep.last_error = UsageError("%s: security protocol %r is not one libcxlmi "
                                           "supports (%s)" % (entry.name, getattr(
                                               _deref(req), "security_protocol", None),
                                               sorted(SECURITY_PROTOCOL_SIZES)))
                return -1
            return _run_request(ep, entry, ti, req, ret, exact=size)
    elif kind == "req_buf":
        def f(ep, ti, req, ret):
            return _run_request(ep, entry, ti, req, ret,
                                raw_limit=getattr(_deref(req), "length", None))
    elif kind == "vendor":
        def f(ep, ti, opcode, in_buf, in_size, ret, ret_size):
            # libcxlmi's checks: a vendor opcode, buffers and sizes given together,
            # and a reply payload of exactly ret_size bytes (none without ret)
            try:
                if not 0xC000 <= opcode <= 0xFFFF:
                    raise UsageError("opcode 0x%04x is not vendor-specific (C000h-FFFFh)"
                                     % opcode)
                if (in_buf is None) != (not in_size) or (ret is None) != (not ret_size):
                    raise UsageError("a buffer and its size go together (in %s/%d, ret %s/%d)"
                                     % (in_buf is not None, in_size or 0, ret is not None,
                                        ret_size or 0))
                if ret is not None and _room(ret) < ret_size:
                    raise UsageError("ret holds %d bytes, ret_size says %d"
                                     % (_room(ret), ret_size))
                payload = _read(in_buf, in_size) if in_buf is not None else b""
                tunnel = _tunnel.from_info(_deref(ti))
                rc, body = ep.exchange(opcode, payload, tunnel,
                                       (opcode >> 8) in registry.FMAPI_SETS,
                                       registry.opcode_name(opcode))
                if rc:
                    return rc
                if len(body) != (ret_size or 0):
                    raise ProtocolError("vendor command %04Xh: reply payload is %d bytes, "
                                        "ret_size %d" % (opcode, len(body), ret_size or 0))
            except DeviceError as exc:
                ep.last_error = exc
                return exc.return_code
            except CxlmiError as exc:
                return _failed(ep, entry.name, exc)
            if ret is not None:
                _write(ret, bytes(body))
            return rc
    else:  # pragma: no cover - registry is checked by tests
        raise ValueError(kind)
    f.__name__ = f.__qualname__ = "cxlmi_cmd_" + entry.name
    f.__doc__ = "%s (opcode %04Xh)." % (entry.summary, entry.opcode)
    f.extension = entry.extension
    if entry.extension:
        f.__doc__ = ("Extension: not a libcxlmi function (libcxlmi has no cxlmi_cmd_* for this "
                     "command); libcxlmi's conventions all the same.  " + f.__doc__)
    return f


COMMAND_FUNCTIONS = {"cxlmi_cmd_" + e.name: _make(e) for e in registry.COMMANDS}

# ------------------------------------------------------------ context API


def cxlmi_new_ctx(fp=None, log_level=6):
    """A context: errors that end in -1 or NULL are told to ``fp`` (standard error
    when None) at syslog levels up to ``log_level`` (3, LOG_ERR, and above print them)."""
    return Context(fp, log_level)


def cxlmi_free_ctx(ctx):
    """Close every endpoint of ``ctx``."""
    if ctx is not None:
        ctx.close()


def cxlmi_set_probe_enabled(ctx, enabled):
    """Identify MCTP-reached endpoints when they are opened (the default), or not."""
    if ctx is not None:
        ctx.probe_enabled = bool(enabled)


def _open(ctx, fn, *args):
    if ctx is None:
        return None
    try:
        return fn(*args)
    except CxlmiError as exc:
        log.debug("%s", exc)
        _say(ctx, str(exc))
        return None


def cxlmi_open(ctx, devname):
    """Open ``/dev/cxl/<devname>`` — or any target string cxl-mi knows; None (and
    the reason to the context's ``fp``) when it cannot."""
    if isinstance(devname, bytes):
        devname = devname.decode()
    return _open(ctx, lambda: ctx.open(devname))


def cxlmi_open_mctp(ctx, net, eid):
    """Open the AF_MCTP endpoint ``eid`` on network ``net``; None when it cannot."""
    return _open(ctx, lambda: ctx.open_mctp(int(net), int(eid)))


def cxlmi_open_mock(ctx):
    """Open an endpoint answered by :func:`cxlmi_mock_set_response` (libcxlmi's tests)."""
    if ctx is None:
        return None
    return ctx.open_mock()


def cxlmi_scan(ctx):
    """Open every /dev/cxl memory device and switch; how many are open, -1 on failure."""
    if ctx is None:
        return -1
    try:
        return ctx.scan()
    except CxlmiError as exc:
        _say(ctx, str(exc))
        return -1


def cxlmi_scan_mctp(ctx):
    """Open every MCTP endpoint mctpd reports as speaking CXL; how many are open, -1
    on failure."""
    if ctx is None:
        return -1
    try:
        return ctx.scan_mctp()
    except CxlmiError as exc:
        log.debug("%s", exc)
        _say(ctx, str(exc))
        return -1


def cxlmi_close(ep):
    """Close ``ep`` (its socket or device node); closing twice is harmless."""
    if ep is not None:
        ep.close()


# A NULL endpoint gets what libcxlmi gives it (0, -1, false), not an AttributeError.

def cxlmi_endpoint_get_timeout(ep):
    """The endpoint's command timeout in milliseconds (0 for NULL)."""
    return 0 if ep is None else ep.timeout_ms


def cxlmi_endpoint_set_timeout(ep, timeout_ms):
    """Set the command timeout in milliseconds; -1 for a NULL endpoint or a value out
    of range."""
    from .endpoint import MAX_TIMEOUT_MS
    if ep is None or not isinstance(timeout_ms, int) or isinstance(timeout_ms, bool) \
            or timeout_ms < 0 or timeout_ms > MAX_TIMEOUT_MS:
        return -1
    ep.timeout_ms = int(timeout_ms)
    return 0


def cxlmi_endpoint_has_fmapi(ep):
    """Whether FM-API commands (and tunnels) are sent to ``ep``."""
    return ep is not None and bool(ep.has_fmapi)


def cxlmi_endpoint_enable_fmapi(ep):
    """Send FM-API commands to ``ep`` if its transport can carry them; whether it now does."""
    if ep is None:
        return False
    if getattr(ep.transport, "fmapi_capable", True):
        ep.has_fmapi = True
    return ep.has_fmapi


def cxlmi_endpoint_disable_fmapi(ep):
    """Stop sending FM-API commands to ``ep``."""
    if ep is None:
        return False
    ep.has_fmapi = False
    return True


def cxlmi_first_endpoint(ctx):
    """The first endpoint of ``ctx``, or None."""
    if ctx is None or not ctx.endpoints:
        return None
    return ctx.endpoints[0]


def cxlmi_next_endpoint(ctx, ep):
    """The endpoint after ``ep`` in ``ctx``, or None."""
    if ctx is None or ep is None or ep not in ctx.endpoints:
        return None
    i = ctx.endpoints.index(ep) + 1
    return ctx.endpoints[i] if i < len(ctx.endpoints) else None


def endpoints(ctx):
    """Iterate a context's endpoints; closing the current one is safe."""
    for ep in list(ctx.endpoints):
        if ep in ctx.endpoints:
            yield ep


def cxlmi_cmd_retcode_tostr(code):
    """The CXL return code ``code`` in words."""
    return retcode_message(int(code))


# ------------------------------------------------------------ tunnels


def _tunnel_info(port, ld, level, mhd):
    return types.get("tunnel_info")(port=port, ld=ld, level=level, mhd=mhd)


def cxlmi_tunnel_mld(ld):
    """Tunnel info for LD ``ld`` of an MLD (one level)."""
    return _tunnel_info(-1, ld, 1, False)


def cxlmi_tunnel_switch(port):
    """Tunnel info for switch downstream port ``port`` (one level)."""
    return _tunnel_info(port, -1, 1, False)


def cxlmi_tunnel_switch_mld(port, ld):
    """Tunnel info for LD ``ld`` of the MLD on switch port ``port`` (two levels)."""
    return _tunnel_info(port, ld, 2, False)


def cxlmi_tunnel_mhd():
    """Tunnel info for a multi-headed device's LD pool CCI."""
    return _tunnel_info(-1, -1, 1, True)


def cxlmi_tunnel_free(ti):
    """Nothing to free in Python; kept so C-shaped code runs."""


# ------------------------------------------------------------ mock API

def _mock(ep):
    transport = getattr(ep, "transport", None)
    if transport is None or transport.name != "mock":
        return None
    return transport


def cxlmi_mock_set_response(ep, command_set, command, return_code, payload=None,
                            payload_size=None):
    """Queue the reply a mock endpoint gives the next command (opcode, return code,
    payload); 0, or -1 when ``ep`` is no mock."""
    mock = _mock(ep)
    if mock is None:
        return -1
    if payload is None:
        data = b""
    else:
        size = payload_size if payload_size is not None else (
            len(payload) if isinstance(payload, (bytes, bytearray)) else ctypes.sizeof(_deref(payload)))
        try:
            data = _read(payload, size)
        except CxlmiError:
            return -1
    mock.set_response((command_set << 8) | command, return_code, data)
    return 0


def cxlmi_mock_clear_responses(ep):
    """Drop the replies queued on a mock endpoint."""
    mock = _mock(ep)
    if mock is not None:
        mock.clear()


def _store(out, value):
    out = _deref(out)
    if out is None:
        return
    if hasattr(out, "value"):
        out.value = value
    else:
        raise TypeError("expected a ctypes scalar, pointer or byref(), got %r" % (out,))


def cxlmi_mock_get_stats(ep, commands_sent=None, responses_returned=None):
    """Store how many commands a mock endpoint took and answered; 0, or -1."""
    mock = _mock(ep)
    if mock is None:
        return -1
    _store(commands_sent, mock.commands_sent)
    _store(responses_returned, mock.responses_returned)
    return 0


def cxlmi_mock_get_last_command(ep, command_set=None, command=None, payload=None,
                                payload_size=None):
    """Store the opcode and payload of the last command a mock endpoint took; 0, or -1
    when there was none."""
    mock = _mock(ep)
    if mock is None or mock.last_command is None:
        return -1
    cmd_set, cmd, data = mock.last_command
    _store(command_set, cmd_set)
    _store(command, cmd)
    size_obj = _deref(payload_size)
    if size_obj is not None:
        room = size_obj.value
        if payload is not None and data:
            _write(payload, data[:room])
        size_obj.value = len(data)
    return 0
