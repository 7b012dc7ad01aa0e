# SPDX-License-Identifier: LGPL-2.1-or-later
"""An emulated MCTP endpoint on a serial line (DSP0253), beside the TCP server.

    endpoint = tcp_server.endpoint                     # the same device, EID and lock
    serial = SerialServer(endpoint, "/tmp/mctp.sock", listen=True)
    serial.start()          # a Unix socket QEMU's ``-chardev socket,path=...`` connects to
    ...
    serial.stop()

The line is one of:

* ``listen=True``: a Unix stream socket created at ``path``; one peer at a time (a serial line
  has two ends), the next one accepted when it goes;
* ``listen=False``: ``path`` is an existing Unix socket to connect to (QEMU's
  ``server=on``), or a tty / pty to open (set to raw mode).

Bytes from the line go through :class:`~cxlmi_bindings.mctp_serial.FrameDecoder` (damaged frames
are dropped and counted in ``stats["frame_errors"]``, by kind in ``stats["frame_error_kinds"]``)
and :class:`~cxlmi_bindings.mctp_serial.PacketReassembler`; whole messages for this endpoint's
EID (or the null or broadcast EID) go to :meth:`MctpEndpoint.dispatch`; each reply goes back as
frames of at most 64 payload bytes, with the request's tag and the tag owner bit clear.
Messages for another EID are ignored (``stats["not_for_us"]``): a device on a shared bus answers
only what is addressed to it.
"""

import errno
import os
import selectors
import socket
import stat
import threading
import time

from .. import _log
from .. import mctp_framing as mf
from .. import mctp_serial as ms

log = _log.get("cxlmi.emulator")

READ_SIZE = 4096


class SerialLineError(OSError):
    """The serial line cannot be opened; the message says which path and why."""


class SerialServer:
    def __init__(self, endpoint, path, listen=False, logger=None):
        self.endpoint = endpoint
        self.path = path
        self.listen = listen
        self.log = logger or log
        self.stats = {"connections": 0, "frames": 0, "frame_errors": 0,
                      "frame_error_kinds": dict.fromkeys(ms.ERROR_KINDS, 0),
                      "framing_errors": 0, "not_for_us": 0, "replies": 0, "noise_bytes": 0}
        self._listener = None
        self._line = None               # (fd, owner object to close, description)
        self._stopping = threading.Event()
        self._thread = None
        self._wake_r, self._wake_w = None, None
        self._seq = 0

    # -- life cycle ------------------------------------------------------------------------
    def open(self):
        """Create the listening socket or open the line; raises SerialLineError."""
        if self.listen:
            self._listener = _listen_unix(self.path)
            self.log.info("MCTP over serial: waiting on the Unix socket %s, EID %d",
                          self.path, self.endpoint.eid)
        else:
            self._line = _open_line(self.path)
            self.stats["connections"] += 1
            self.log.info("MCTP over serial on %s, EID %d", self._line[2], self.endpoint.eid)

    def start(self):
        if self._listener is None and self._line is None:
            self.open()
        self._wake_r, self._wake_w = os.pipe()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="cxlmi-mctp-serial",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=2.0):
        self._stopping.set()
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"x")
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._close_line()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            try:
                os.unlink(self.path)
            except OSError:
                pass
        for fd in (self._wake_r, self._wake_w):
            if fd is not None:
                os.close(fd)
        self._wake_r = self._wake_w = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def connected(self):
        return self._line is not None

    # -- the serving thread -----------------------------------------------------------------
    def _serve(self):
        try:
            while not self._stopping.is_set():
                if self._line is None:
                    if self._listener is None or not self._accept():
                        return
                self._run_line()
        except Exception:   # a bug here must show, not kill the emulator silently
            self.log.exception("MCTP over serial: unexpected error; the serial line stops")

    def _wait(self, fd, events):
        """Wait until fd is ready or stop() is called; False on stop."""
        with selectors.DefaultSelector() as sel:
            sel.register(fd, events)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                for key, _ in sel.select(1.0):
                    if key.fd == fd:
                        return True
        return False

    def _accept(self):
        if not self._wait(self._listener.fileno(), selectors.EVENT_READ):
            return False
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return True
        sock.setblocking(False)
        self._line = (sock.fileno(), sock, "%s (a peer connected)" % self.path)
        self.stats["connections"] += 1
        self.log.info("MCTP over serial: a peer connected on %s", self.path)
        return True

    def _run_line(self):
        fd, _, name = self._line
        decoder, reassembler = ms.FrameDecoder(), ms.PacketReassembler()
        while not self._stopping.is_set():
            if not self._wait(fd, selectors.EVENT_READ):
                return
            try:
                data = os.read(fd, READ_SIZE)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                if exc.errno != errno.EIO:      # EIO: a pty whose other end closed
                    self.log.warning("MCTP over serial: reading %s: %s", name, exc.strerror)
                data = b""
            if not data:
                self.log.info("MCTP over serial: %s closed", name)
                self._close_line()
                if not self.listen:
                    self._stopping.set()
                return
            for packet in self._frames(decoder, data):
                for ev in reassembler.feed(packet):
                    if isinstance(ev, mf.Message):
                        self._message(fd, name, ev)
                    else:
                        self.stats["framing_errors"] += 1
                        self.log.warning("MCTP over serial: %s", ev)

    def _frames(self, decoder, data):
        noise = decoder.noise
        for item in decoder.feed(data):
            if isinstance(item, ms.SerialFrameError):
                self.stats["frame_errors"] += 1
                self.stats["frame_error_kinds"][item.kind] += 1
                self.log.warning("MCTP over serial: %s", item)
            else:
                self.stats["frames"] += 1
                yield item
        self.stats["noise_bytes"] += decoder.noise - noise

    def _message(self, fd, name, msg):
        if msg.dst not in (self.endpoint.eid, mf.EID_NULL, mf.EID_BROADCAST):
            self.stats["not_for_us"] += 1
            self.log.debug("MCTP over serial: %r is for EID %d, not this endpoint", msg, msg.dst)
            return
        reply = self.endpoint.dispatch("serial", msg)
        if reply is None:
            return
        data, self._seq = ms.encode_message(msg.msg_type, reply, msg.src, self.endpoint.eid,
                                            msg.tag, 0, self._seq)
        self.stats["replies"] += 1
        self._write(fd, name, data)

    def _write(self, fd, name, data):
        view = memoryview(data)
        deadline = time.monotonic() + 10.0
        while view:
            try:
                view = view[os.write(fd, view):]
            except (BlockingIOError, InterruptedError):
                if time.monotonic() > deadline or not self._wait(fd, selectors.EVENT_WRITE):
                    self.log.warning("MCTP over serial: %s takes no more bytes; reply dropped",
                                     name)
                    return
            except OSError as exc:
                self.log.warning("MCTP over serial: writing %s: %s", name, exc.strerror)
                return

    def _close_line(self):
        line, self._line = self._line, None
        if line is None:
            return
        fd, owner, _ = line
        try:
            if owner is not None:
                owner.close()
            else:
                os.close(fd)
        except OSError:
            pass


def _listen_unix(path):
    """A listening Unix socket at path; a stale socket file left by a dead server is replaced."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None:
        if not stat.S_ISSOCK(st.st_mode):
            raise SerialLineError(errno.EEXIST, "%s exists and is not a socket; remove it or "
                                  "choose another path" % path)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)         # nobody listens there: a leftover
        else:
            raise SerialLineError(errno.EADDRINUSE, "%s is in use: another process listens "
                                  "there" % path)
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(1)
    except OSError as exc:
        sock.close()
        raise SerialLineError(exc.errno, "cannot listen on %s: %s"
                              % (path, exc.strerror or exc)) from None
    sock.setblocking(False)
    return sock


def _open_line(path):
    """(fd, owner, description) of an existing Unix socket or a tty at path."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SerialLineError(exc.errno, "%s: %s (a Unix socket or a tty is expected; "
                              "--serial-listen creates a socket)"
                              % (path, exc.strerror or exc)) from None
    if stat.S_ISSOCK(st.st_mode):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
        except OSError as exc:
            sock.close()
            raise SerialLineError(exc.errno, "cannot connect to the Unix socket %s: %s"
                                  % (path, exc.strerror or exc)) from None
        sock.setblocking(False)
        return sock.fileno(), sock, path
    if not stat.S_ISCHR(st.st_mode):
        raise SerialLineError(errno.EINVAL, "%s is neither a Unix socket nor a tty" % path)
    try:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        raise SerialLineError(exc.errno, "cannot open %s: %s"
                              % (path, exc.strerror or exc)) from None
    if os.isatty(fd):
        import tty
        tty.setraw(fd)              # every byte as it comes: no echo, no line editing
    return fd, None, path
