# SPDX-License-Identifier: LGPL-2.1-or-later
"""Kernel MCTP sockets (``AF_MCTP``, address family 45).

A request is one ``sendto()`` of the whole CCI message on a ``SOCK_DGRAM``
``AF_MCTP`` socket to ``struct sockaddr_mctp``::

    u16 family (45)  u16 pad  u32 network  u8 EID  u8 message type  u8 tag  u8 pad

(12 bytes, host byte order).  The kernel prepends the MCTP message type byte
on send and strips it on receive, so the data is the CCI message itself.  The
tag field carries ``MCTP_TAG_OWNER`` on requests: the kernel then allocates an
MCTP tag and routes the response for it back to this socket.  One socket
serves both message types (8 for CCI, 7 for FM-API and every tunnelled
command), since the type travels in each ``sendto()``'s address.

Waiting is ``poll()`` against a deadline.  What arrives meanwhile is checked:
a datagram from another EID or network, of another message type, with the tag
owner bit set (a request, not our response), or whose CCI header does not
echo our tag and opcode, is dropped and the wait goes on.  A response whose
return code is RETRY (5) or BUSY (6) is sent again ``retries`` times, after
``retry_delay`` seconds each.

Python's socket module can create an ``AF_MCTP`` socket but not address one,
so the calls go through libc via ctypes.  The seam for tests is
:class:`Syscalls` (``socket``, ``sendto``, ``recvfrom``, ``poll``, ``close``);
pass another object with the same methods as ``syscalls=``.
"""

import errno
import os
import struct
import time

from .. import cci
from ..errors import (CommandTimeout, NotSupported, PermissionDenied, TransportError,
                      UsageError)
from .base import Transport, MCTP_TYPE_CCI, MCTP_TYPE_FMAPI
from .mctp_control import MctpControl

MCTP_TYPE_CONTROL = 0
CTRL_RQ = 0x80
CTRL_INSTANCE_MASK = 0x1F

AF_MCTP = 45
SOCK_DGRAM = 2
MCTP_TAG_OWNER = 0x08
MCTP_TAG_MASK = 0x07
MCTP_NET_ANY = 0
SOCKADDR_MCTP = struct.Struct("=HHIBBBB")
assert SOCKADDR_MCTP.size == 12

RC_RETRY = 5
RC_BUSY = 6

_NO_AF_MCTP = (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.ESOCKTNOSUPPORT)


def pack_sockaddr(net, eid, msg_type, tag):
    return SOCKADDR_MCTP.pack(AF_MCTP, 0, net, eid, msg_type, tag, 0)


def unpack_sockaddr(data):
    """``(family, net, eid, msg_type, tag)`` from a ``struct sockaddr_mctp``."""
    if len(data) < SOCKADDR_MCTP.size:
        raise ValueError("sockaddr_mctp of %d bytes" % len(data))
    family, _, net, eid, msg_type, tag, _ = SOCKADDR_MCTP.unpack_from(data)
    return family, net, eid, msg_type, tag


class Syscalls:
    """libc's socket calls, through ctypes.  Errors raise ``OSError``."""

    MSG_PEEK = 0x02
    MSG_TRUNC = 0x20

    def __init__(self):
        import ctypes
        import ctypes.util
        self._ctypes = ctypes
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        self._socket = libc.socket
        self._socket.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        self._socket.restype = ctypes.c_int
        self._sendto = libc.sendto
        self._sendto.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                 ctypes.c_void_p, ctypes.c_uint32)
        self._sendto.restype = ctypes.c_ssize_t
        self._recvfrom = libc.recvfrom
        self._recvfrom.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        self._recvfrom.restype = ctypes.c_ssize_t

    def _fail(self, what):
        code = self._ctypes.get_errno()
        raise OSError(code, "%s: %s" % (what, os.strerror(code)))

    def socket(self, family, type_, proto=0):
        fd = self._socket(family, type_, proto)
        if fd < 0:
            self._fail("socket")
        return fd

    def sendto(self, fd, data, addr):
        c = self._ctypes
        buf = c.create_string_buffer(bytes(data), len(data))
        sa = c.create_string_buffer(bytes(addr), len(addr))
        n = self._sendto(fd, buf, len(data), 0, sa, len(addr))
        if n < 0:
            self._fail("sendto")
        return n

    def recvfrom(self, fd):
        """Receive one datagram whole: ``(data, sockaddr bytes)``."""
        c = self._ctypes
        # Learn the datagram's size first, so nothing is cut off.
        size = self._recvfrom(fd, None, 0, self.MSG_PEEK | self.MSG_TRUNC, None, None)
        if size < 0:
            self._fail("recvfrom")
        buf = c.create_string_buffer(max(size, 1))
        sa = c.create_string_buffer(64)
        salen = c.c_uint32(64)
        n = self._recvfrom(fd, buf, max(size, 1), 0, sa, c.byref(salen))
        if n < 0:
            self._fail("recvfrom")
        return buf.raw[:n], sa.raw[:min(salen.value, 64)]

    def poll(self, fd, timeout):
        """Wait until ``fd`` is readable; ``timeout`` in seconds or None."""
        import select
        p = select.poll()
        p.register(fd, select.POLLIN)
        ms = -1 if timeout is None else max(0, int(timeout * 1000 + 0.999))
        return bool(p.poll(ms))

    def close(self, fd):
        os.close(fd)


class MctpTransport(MctpControl, Transport):
    name = "mctp"
    fmapi_capable = True
    tunnels = True

    def __init__(self, net, eid, retries=0, retry_delay=0.05, syscalls=None):
        if not 0 <= eid <= 0xFF:
            raise UsageError("MCTP EID %r is out of range (0..255)" % (eid,))
        self.net = net
        self.eid = eid
        self.retries = max(0, int(retries))
        self.retry_delay = retry_delay
        self.sys = syscalls if syscalls is not None else Syscalls()
        self.fd = None
        self.fd = self._open_socket()
        self.stats = {"sent": 0, "received": 0, "discarded": 0, "retried": 0}

    def _open_socket(self):
        try:
            return self.sys.socket(AF_MCTP, SOCK_DGRAM, 0)
        except OSError as exc:
            if exc.errno in _NO_AF_MCTP:
                raise NotSupported(
                    "this kernel has no AF_MCTP socket support (built without CONFIG_MCTP, "
                    "or the mctp module is not loaded)", exc.errno,
                    hint="use an MCTP-capable kernel (CONFIG_MCTP, `modprobe mctp`) with "
                         "mctpd, or reach the component over MCTP-over-TCP with "
                         "tcp:HOST[:PORT]")
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise PermissionDenied("AF_MCTP socket: %s" % os.strerror(exc.errno),
                                       exc.errno, hint="run as root")
            raise TransportError("AF_MCTP socket: %s" % os.strerror(exc.errno), exc.errno)

    def describe(self):
        return "AF_MCTP net %d EID %d" % (self.net, self.eid)

    @classmethod
    def detect(cls, **options):
        """The MCTP endpoints mctpd knows (D-Bus); without mctpd, those the kernel
        has routes to that answer MCTP control (a guest, a small BMC image)."""
        from .. import discovery
        from .base import Found
        try:
            return Found(discovery.scan_mctp(**options))
        except Exception as exc:
            try:
                # the same choice of endpoints as asked of mctpd (the timeouts differ:
                # mctpd's is one D-Bus call, the kernel scan's one per endpoint)
                kernel = discovery.scan_mctp_kernel(cxl_only=options.get("cxl_only", True))
            except Exception:
                kernel = []
            if not kernel:
                raise
            hint = getattr(exc, "hint", None)
            return Found(kernel, "%s%s; the MCTP endpoints listed are the kernel's routes "
                                 "that answered" % (exc, " (%s)" % hint if hint else ""))

    def info(self):
        return {"transport": "mctp", "net": self.net, "eid": self.eid}

    # -- sending -----------------------------------------------------------

    def send(self, message, msg_type=MCTP_TYPE_CCI, timeout=None):
        if self.fd is None:
            raise TransportError("%s: transport is closed" % self.describe())
        if msg_type not in (MCTP_TYPE_CCI, MCTP_TYPE_FMAPI):
            raise UsageError("MCTP message type %r is not a CXL type (7 or 8)" % (msg_type,))
        req = cci.decode_header(message)
        attempt = 0
        while True:
            response = self._exchange(bytes(message), msg_type, req, timeout)
            rc = cci.decode_header(response).return_code
            if rc in (RC_RETRY, RC_BUSY) and attempt < self.retries:
                attempt += 1
                self.stats["retried"] += 1
                if self.retry_delay:
                    time.sleep(self.retry_delay)
                continue
            return response

    def _exchange(self, message, msg_type, req, timeout):
        addr = pack_sockaddr(self.net, self.eid, msg_type, MCTP_TAG_OWNER)
        try:
            self.sys.sendto(self.fd, message, addr)
        except OSError as exc:
            raise self._error(exc, "sendto")
        self.stats["sent"] += 1
        deadline = self.wait_until(timeout)
        if timeout is None and deadline is not None:
            timeout = max(0.0, deadline - time.monotonic())     # what the message names
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise self._timeout(req, timeout)
            try:
                ready = self.sys.poll(self.fd, remaining)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise self._error(exc, "poll")
            if not ready:
                if deadline is None:
                    continue
                raise self._timeout(req, timeout)
            try:
                data, src = self.sys.recvfrom(self.fd)
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.EAGAIN):
                    continue
                raise self._error(exc, "recvfrom")
            self.stats["received"] += 1
            if self._is_our_response(data, src, msg_type, req):
                return data
            self.stats["discarded"] += 1

    def _is_our_response(self, data, src, msg_type, req):
        try:
            family, net, eid, rtype, tag = unpack_sockaddr(src)
        except ValueError:
            return False
        if family != AF_MCTP or eid != self.eid or rtype != msg_type:
            return False
        if self.net != MCTP_NET_ANY and net != self.net:
            return False
        if tag & MCTP_TAG_OWNER:
            return False  # a request from the peer, not a response
        try:
            hdr = cci.decode_header(data)
        except TransportError:
            return False
        return (hdr.category == cci.CATEGORY_RESPONSE and hdr.tag == req.tag
                and hdr.opcode == req.opcode)

    # -- MCTP control ------------------------------------------------------

    _instance = 0

    def control(self, command, data=b"", timeout=None):
        """Send an MCTP control request (message type 0) to the endpoint; returns
        ``(completion_code, data)`` where data follows the completion code."""
        if self.fd is None:
            raise TransportError("%s: transport is closed" % self.describe())
        inst = self._instance
        self._instance = (inst + 1) & CTRL_INSTANCE_MASK
        command &= 0xFF
        addr = pack_sockaddr(self.net, self.eid, MCTP_TYPE_CONTROL, MCTP_TAG_OWNER)
        try:
            self.sys.sendto(self.fd, bytes((CTRL_RQ | inst, command)) + bytes(data), addr)
        except OSError as exc:
            raise self._error(exc, "sendto")
        self.stats["sent"] += 1
        deadline = self.wait_until(timeout)
        if timeout is None and deadline is not None:
            timeout = max(0.0, deadline - time.monotonic())
        late = CommandTimeout("%s: no answer to MCTP control command 0x%02x within %.3g s"
                              % (self.describe(), command, timeout or 0))
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise late
            try:
                if not self.sys.poll(self.fd, remaining):
                    if deadline is None:
                        continue
                    raise late
                reply, src = self.sys.recvfrom(self.fd)
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.EAGAIN):
                    continue
                raise self._error(exc, "control")
            self.stats["received"] += 1
            try:
                family, net, eid, rtype, tag = unpack_sockaddr(src)
            except ValueError:
                continue
            # the same checks as _is_our_response: EIDs are per network
            if (family == AF_MCTP and eid == self.eid and rtype == MCTP_TYPE_CONTROL
                    and (self.net == MCTP_NET_ANY or net == self.net)
                    and not tag & MCTP_TAG_OWNER and len(reply) >= 3
                    and not reply[0] & CTRL_RQ and reply[1] == command
                    and reply[0] & CTRL_INSTANCE_MASK == inst):
                return reply[2], bytes(reply[3:])
            self.stats["discarded"] += 1

    def _timeout(self, req, timeout):
        return CommandTimeout(
            "%s: no response to opcode %04xh (tag %d) within %.3g s"
            % (self.describe(), req.opcode, req.tag, timeout),
            hint="check the endpoint with `mctp route` / `busctl tree au.com.codeconstruct.MCTP1`,"
                 " or allow more time")

    def _error(self, exc, what):
        code = exc.errno
        where = "%s: %s" % (self.describe(), what)
        if code in (errno.EACCES, errno.EPERM):
            return PermissionDenied("%s: %s" % (where, os.strerror(code)), code,
                                    hint="run as root")
        if code in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL):
            return TransportError(
                "%s: no route to EID %d on network %d" % (where, self.eid, self.net), code,
                hint="`mctp route` and `mctp addr` show what the kernel can reach; mctpd "
                     "sets up routes for the endpoints it enumerates")
        if code == errno.ETIMEDOUT:
            return CommandTimeout("%s: timed out" % where)
        return TransportError("%s: %s" % (where, os.strerror(code) if code else exc), code)

    def _close_fd(self, fd):
        self.sys.close(fd)
