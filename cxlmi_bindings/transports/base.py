# SPDX-License-Identifier: LGPL-2.1-or-later
"""The transport contract.

A transport carries one complete CCI message (12-byte header + payload, as
built by :mod:`cxlmi_bindings.cci`) to a component and returns the complete
response message as bytes.  It does not interpret the CCI header beyond what
its medium needs (the ioctl path must, because the kernel takes the opcode and
payload separately); framing, tunnels and decoding live above it.

``msg_type`` is the MCTP message type the message belongs to: 7 for FM-API
commands and anything tunnelled, 8 for the rest.  Transports that are not MCTP
ignore it.

A backend implements :meth:`Transport.send` (abstract) and, for what it holds,
:meth:`Transport._release`; closing, whatever asks for it (``close()``, a
``with`` block, the garbage collector), is the base class's.  Its class method
:meth:`Transport.detect` says which of its targets this machine has (``cxl-mi
list`` asks every backend), and :meth:`Transport.from_target` opens one from
the text after ``NAME:`` in a target string -- what a backend installed
through the ``cxl_mi.transports`` entry-point group needs to be reachable as
``NAME:...`` (see :mod:`cxlmi_bindings.transports`).
"""

import abc
import os

MCTP_TYPE_CONTROL = 0x00
MCTP_TYPE_FMAPI = 0x07
MCTP_TYPE_CCI = 0x08


def open_node(path, not_found, hint, nodes):
    """``os.open`` a kernel device node read-write; the errors a user can meet come back
    as the library's: ``not_found`` (with ``hint``) for ENOENT, PermissionDenied
    (``nodes``, e.g. "the CXL device nodes", are root-only), DeviceNotFound for a device
    going away, TransportError for the rest."""
    import errno
    from ..errors import DeviceNotFound, PermissionDenied, TransportError
    try:
        return os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise DeviceNotFound("no %s: %s" % (path, not_found), exc.errno, hint=hint)
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise PermissionDenied("%s: permission denied" % path, exc.errno,
                                   hint="run as root (%s are root-only)" % nodes)
        if exc.errno in (errno.ENXIO, errno.ENODEV):
            raise DeviceNotFound("%s: %s (the device is going away or unbound)"
                                 % (path, exc.strerror), exc.errno)
        raise TransportError("%s: %s" % (path, exc.strerror), exc.errno)


def node_error(path, exc, what):
    """The library's error for an OSError of an ioctl on a kernel device node."""
    import errno
    from ..errors import CommandTimeout, DeviceNotFound, PermissionDenied, TransportError
    code = exc.errno
    if code in (errno.EACCES, errno.EPERM):
        return PermissionDenied("%s: %s: %s" % (path, what, exc.strerror), code,
                                hint="run as root")
    if code == errno.ETIMEDOUT:
        return CommandTimeout("%s: %s: the mailbox timed out" % (path, what))
    if code in (errno.ENXIO, errno.ENODEV):
        return DeviceNotFound("%s: %s: %s (the device is going away or unbound)"
                              % (path, what, exc.strerror), code)
    return TransportError("%s: %s: %s" % (path, what, exc.strerror or exc), code)


def node_request(transport, message):
    """``(header, payload)`` of the request a kernel-node transport (ioctl, fwctl) is
    asked to send; refused when the node is closed or the message is not a request."""
    from .. import cci
    from ..errors import TransportError, UsageError
    if transport.fd is None:
        raise TransportError("%s: transport is closed" % transport.path)
    hdr = cci.decode_header(message)
    if hdr.category != cci.CATEGORY_REQUEST:
        raise UsageError("%s transport: message category %d is not a request"
                         % (transport.name, hdr.category))
    return hdr, bytes(message[cci.HEADER_SIZE:])


class Found(list):
    """What :meth:`Transport.detect` found, with a ``note`` on how (or None)."""

    def __init__(self, items=(), note=None):
        super().__init__(items)
        self.note = note


class Transport(abc.ABC):
    #: short backend name, as in the registry below (``"mock"``, ``"ioctl"``…)
    name = "base"
    #: largest request/response payload this path can carry, in bytes
    max_payload = 2048
    #: whether FM-API (MCTP type 7) commands can be sent at all
    fmapi_capable = True
    #: whether the device behind it can receive Tunnel Management (5300h)
    tunnels = True
    #: a time (``time.monotonic()``) no wait may outlast, whatever its own timeout:
    #: one deadline shared by several exchanges (the CLI's ``--timeout`` covers the
    #: probe and the command together).  Transports that wait honour it.
    deadline = None

    def wait_until(self, timeout):
        """The monotonic time a wait of ``timeout`` seconds ends: the sooner of
        that and :attr:`deadline` (None: no end)."""
        import time
        end = None if timeout is None else time.monotonic() + timeout
        if self.deadline is not None:
            end = self.deadline if end is None else min(end, self.deadline)
        return end

    @abc.abstractmethod
    def send(self, message, msg_type, timeout):
        """Send ``message`` (bytes) and return the response message (bytes).

        ``timeout`` is in seconds (``None`` waits forever).  Raise
        :class:`~cxlmi_bindings.errors.TransportError` or a subclass on
        failure; never return a partial message without saying so.
        """
        raise NotImplementedError

    #: a file descriptor the backend holds (ioctl, fwctl, AF_MCTP), closed by _release
    fd = None

    def close(self):
        """Let go of what the transport holds (again: nothing more to let go of)."""
        self._release()

    def _release(self):
        """What closing means for this backend: by default, close :attr:`fd`.
        Must be safe to call again (a transport may reconnect after it)."""
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                self._close_fd(fd)
            except OSError:
                pass

    def _close_fd(self, fd):
        os.close(fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:       # at interpreter exit modules may be half gone
            pass

    @classmethod
    def detect(cls, **options):
        """The targets of this backend this machine has: a list of dicts, each with
        ``target`` (what :meth:`Context.open` takes) and what else is known of it
        (a :class:`Found` may add a note on how they were found).  Raises what
        keeps it from looking (``cxl-mi list`` shows that as a note); ``[]`` for
        backends whose targets cannot be found without being told."""
        return []

    @classmethod
    def from_target(cls, spec, **options):
        """A transport for the target string ``NAME:spec`` (plugin backends);
        ``options`` are those given to :meth:`Context.open`."""
        from ..errors import UsageError
        raise UsageError("the %s transport takes no target string" % cls.name)

    def describe(self):
        """One line that names what this transport talks to."""
        return self.name

    # Optional facts a backend may know about its device (sysfs, mctpd…).
    def info(self):
        return {}
