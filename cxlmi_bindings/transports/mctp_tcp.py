# SPDX-License-Identifier: LGPL-2.1-or-later
"""MCTP over TCP: the ``tcp:HOST[:PORT]`` target.

Talks to anything that frames MCTP the way the open-source CXL emulators do
(68-byte packets on a TCP stream, see :mod:`cxlmi_bindings.mctp_framing` and
``docs/mctp-over-tcp.md``): ``cxl-mi emulate --listen``, or a CXL switch
emulator in the wild.

On each new connection the transport asks the peer, with the binding's Set
Transmission Unit (:mod:`cxlmi_bindings.mctp_sized`), for packets as large as
a whole CCI message; a peer that agrees (``cxl-mi emulate``) gets every message
as one sized packet, any other keeps the 68-byte packets, and a peer profile
other than the spec is never asked.  ``transmission_unit=64`` keeps the
baseline.

One request is in flight at a time per transport.  Each request gets the next
MCTP message tag (mod 8) with the tag owner bit set; the reply is the first
message back with that tag and tag owner clear.  Anything else that arrives
meanwhile (a stale reply, a message the peer originated) is dropped.  After a
timeout or a malformed reply the connection is closed, so a late answer can
never be taken for the reply to a later request; the next request connects
again.
"""

import errno as _errno
import select
import socket
import struct
import threading
import time

from .. import _log
from .. import mctp_framing as mf
from .. import mctp_sized as ms
from ..errors import (CommandTimeout, DeviceNotFound, ProtocolError, TransportError,
                      from_oserror)
from ..targets import DEFAULT_TCP_PORT
from .base import Transport
from .mctp_control import MctpControl

log = _log.get("cxlmi.transport.tcp")

DEFAULT_TIMEOUT = 10.0
DEFAULT_CONNECT_TIMEOUT = 5.0
#: MCTP over TCP carries a message of any size the peer reassembles: what bounds a
#: command's payload is the component's own limit (Identify's max message size),
#: up to the 1 MiB a CCI mailbox can have
DEFAULT_MAX_PAYLOAD = 1 << 20
#: the EID this end uses as its source unless told otherwise
DEFAULT_OWN_EID = 0x10
#: seconds a peer gets to answer Set Transmission Unit (one that stays silent
#: keeps the baseline framing; a peer that follows DSP0236 answers at once)
NEGOTIATE_TIMEOUT = 1.0
_TIMEVAL = struct.Struct("@ll")
#: what one recv may take: a whole 64 KiB sized message in one go when it is all
#: there (a smaller buffer costs a second read and a copy)
RECV_SIZE = 1 << 18
_per_thread = threading.local()


def _receive_buffer():
    """This thread's receive buffer: one per thread, not one
    per transport (a fleet monitor holds many), since a thread waits for one
    reply at a time and the reassembler copies out what it keeps."""
    view = getattr(_per_thread, "view", None)
    if view is None:
        view = _per_thread.view = memoryview(bytearray(RECV_SIZE))
    return view


def _timeval(seconds):
    """SO_RCVTIMEO's value for ``seconds`` (None: wait for ever); never the all-zero
    timeval, which also means for ever."""
    if seconds is None:
        return _TIMEVAL.pack(0, 0)
    sec = int(seconds)
    return _TIMEVAL.pack(sec, max(1, int((seconds - sec) * 1e6)) if sec == 0 else
                         int((seconds - sec) * 1e6))


class MctpTcpTransport(MctpControl, Transport):
    name = "tcp"
    fmapi_capable = True
    tunnels = True

    def __init__(self, host="127.0.0.1", port=DEFAULT_TCP_PORT, timeout=DEFAULT_TIMEOUT,
                 eid=8, own_eid=DEFAULT_OWN_EID, connect_timeout=DEFAULT_CONNECT_TIMEOUT,
                 max_payload=DEFAULT_MAX_PAYLOAD, lazy=False, max_message=mf.MAX_CXL_MESSAGE,
                 control_eid=mf.EID_NULL, peer=None, transmission_unit=None):
        from .. import peers
        self.peer = peers.get(peer)
        #: the packet payload size asked of the peer on each connection (64, the
        #: baseline, asks nothing); peer profiles other than the spec keep 64
        if transmission_unit is None:
            transmission_unit = ms.DEFAULT_UNIT if self.peer.is_spec else mf.BTU
        self.transmission_unit = max(mf.BTU, int(transmission_unit))
        #: the unit of the current connection (64 until a peer agrees to more)
        self.unit = mf.BTU
        #: the current connection uses sized packets (a peer may grant 64 itself)
        self.sized = False
        self._unit_refused = False
        #: where MCTP control requests go: the null EID by default (DSP0236's
        #: physical addressing, answered by an endpoint whatever EID it has or
        #: lacks: one whose EID was never assigned drops requests to any other)
        self.control_eid = control_eid & 0xFF
        self._message_types = None
        self.host = host
        self.port = int(port)
        self.timeout = timeout
        self.eid = eid & 0xFF
        self.own_eid = own_eid & 0xFF
        self.connect_timeout = connect_timeout
        self.max_payload = max_payload
        self.max_message = max_message
        self._sock = None
        self._rx = None
        self._poll = None
        self._seq = 0
        self._tag = 0
        self._instance = 0
        self.reconnects = 0
        if not lazy:
            self._connect()

    # -- connection ------------------------------------------------------------
    def describe(self):
        return "MCTP over TCP %s, EID %d" % (self._where(), self.eid)

    def _where(self):
        host = "[%s]" % self.host if ":" in self.host else self.host
        return "%s:%d" % (host, self.port)

    @property
    def connected(self):
        return self._sock is not None

    def _connect(self, timeout=None, again=False):
        """Connect; ``timeout`` also bounds the Set Transmission Unit exchange
        and, when connecting ``again`` after it, the connection itself."""
        where = self._where()
        hint = "is `cxl-mi emulate --listen %s` running?" % where
        connect_timeout = self.connect_timeout
        if again and timeout:
            connect_timeout = min(connect_timeout, timeout)
        try:
            sock = socket.create_connection((self.host, self.port), timeout=connect_timeout)
        except ConnectionRefusedError:
            raise DeviceNotFound("%s: connection refused" % where, _errno.ECONNREFUSED, hint)
        except socket.gaierror as exc:
            raise DeviceNotFound("%s: cannot resolve host: %s" % (where, exc.strerror),
                                 hint="check the host name in tcp:HOST[:PORT]")
        except socket.timeout:
            raise CommandTimeout("%s: no answer to the connection request within %gs"
                                 % (where, connect_timeout), hint)
        except OSError as exc:
            err = from_oserror(exc, where)
            if err.hint is None:
                err.hint = hint
            raise err
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        # Blocking from here on, the waits bounded by the kernel (SO_RCVTIMEO per
        # reply, SO_SNDTIMEO once): a Python-level timeout costs a poll() before
        # every send and recv.
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _timeval(self.timeout))
        self._rcvtimeo = None
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self._sock = sock
        self._rx = mf.Reassembler(self.max_message, self.peer.lost_last_byte)
        self._seq = 0
        self.unit = mf.BTU
        self.sized = False
        log.debug("connected to %s", where)
        if not self._unit_refused:
            self._negotiate(timeout)

    def _negotiate(self, timeout=None):
        """Ask for sized packets of ``transmission_unit`` bytes (Set Transmission
        Unit); a refusal or silence keeps the baseline, and is not asked again."""
        want = min(self.transmission_unit, self.max_message)
        if want <= mf.BTU:
            return          # 64 gains nothing (transmission_unit=64, a 64-byte message cap)
        inst = self._instance
        self._instance = (self._instance + 1) & mf.CTRL_INSTANCE_MASK
        request = bytes((mf.CTRL_RQ | inst, mf.CTRL_SET_TRANSMISSION_UNIT)) + ms.unit_request(want)
        tag = self._tag
        self._tag = (self._tag + 1) & mf.TAG_MASK
        data, self._seq = mf.frame(mf.TYPE_CONTROL, request, self.control_eid, self.own_eid,
                                   tag, 1, self._seq)
        # bounded like the connection itself (the CLI's --timeout sets connect_timeout)
        wait = min(NEGOTIATE_TIMEOUT, timeout or self.timeout or NEGOTIATE_TIMEOUT,
                   self.connect_timeout or NEGOTIATE_TIMEOUT)
        try:
            self._sock.sendall(data)
            reply = self._receive(tag, mf.TYPE_CONTROL, wait)
        except (TransportError, OSError) as exc:
            # silence, a hang-up or a garbled answer: a peer that does not know the
            # command; a new connection carries on in the baseline framing
            self._unit_refused = True
            log.info("%s did not take Set Transmission Unit (%s); using 64-byte packets",
                     self._where(), exc)
            self._drop()                # a late answer must not meet the next request
            self._connect(wait, again=True)
            return
        agreed = None
        if (len(reply) >= 3 and reply[1] == mf.CTRL_SET_TRANSMISSION_UNIT
                and reply[0] & mf.CTRL_INSTANCE_MASK == inst and reply[2] == mf.CC_SUCCESS):
            agreed = ms.parse_unit(reply[3:])
        if agreed is None or agreed[0] != ms.FRAMING_SIZED or not mf.BTU <= agreed[1] <= want:
            self._unit_refused = True
            log.debug("%s keeps 64-byte packets (Set Transmission Unit answered %s)",
                      self._where(), bytes(reply).hex())
            return
        self.unit = agreed[1]
        self.sized = True
        self._rx = ms.SizedReassembler(self.unit, self.max_message)
        log.debug("%s: sized packets of up to %d bytes", self._where(), self.unit)

    def _drop(self):
        sock, self._sock = self._sock, None
        self._rx = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    def _release(self):
        self._drop()

    def _peer_gone(self):
        """Between requests: has the peer closed the connection?  Reads (and
        drops) whatever stale bytes are waiting on the way."""
        sock = self._sock
        while True:
            try:
                if not self._poll.poll(0):
                    return False
            except (OSError, ValueError):
                return True
            try:
                data = sock.recv(65536, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return False
            except OSError:
                return True
            if not data:
                return True
            for ev in self._rx.feed(data):
                log.debug("dropping %r that arrived between requests", ev)

    # -- requests --------------------------------------------------------------
    def send(self, message, msg_type=mf.TYPE_CCI, timeout=None):
        """Send one message and return the reply's message bytes (for CXL
        types the whole CCI message; for control the control message)."""
        return self._send(message, msg_type, timeout, self.eid)

    def _send(self, message, msg_type, timeout, dst):
        if timeout is None:
            timeout = self.timeout
        tag = self._tag
        self._tag = (self._tag + 1) & mf.TAG_MASK

        retried = False
        while True:
            if self._sock is None:
                self._connect(timeout)
                fresh = True
            else:
                fresh = False
                if self._peer_gone():
                    log.info("%s closed the connection since the last request; reconnecting",
                             self._where())
                    self._drop()
                    self.reconnects += 1
                    self._connect(timeout)
                    fresh = True
            # all packets in one write: one syscall and one TCP segment train
            try:
                if self.sized:
                    parts, next_seq = ms.frame(msg_type, message, dst, self.own_eid, tag, 1,
                                               self._seq, self.unit)
                    ms.send_parts(self._sock, parts)
                else:
                    data, next_seq = mf.frame(msg_type, message, dst, self.own_eid, tag, 1,
                                              self._seq)
                    self._sock.sendall(data)
            except BlockingIOError:
                self._drop()
                raise CommandTimeout("%s: the peer took no bytes for %gs" % (self._where(),
                                                                              self.timeout),
                                     "the component may be busy or stuck; a `cxl-mi emulate` "
                                     "peer logs why")
            except OSError as exc:
                self._drop()
                if not fresh and not retried and exc.errno in (
                        _errno.EPIPE, _errno.ECONNRESET, _errno.ECONNABORTED, _errno.ENOTCONN):
                    retried = True
                    self.reconnects += 1
                    continue
                raise self._os_error(exc, "sending")
            self._seq = next_seq
            break
        return self._receive(tag, msg_type, timeout)

    def _os_error(self, exc, doing):
        err = from_oserror(exc, "%s: %s" % (self._where(), doing))
        if exc.errno == _errno.ECONNRESET and err.hint is None:
            # what a server at its client limit does to a newcomer
            err.hint = ("the peer reset the connection: a `cxl-mi emulate` does that to a "
                        "client past its --max-clients; its log says why")
        return err

    def _receive(self, tag, msg_type, timeout):
        sock = self._sock
        rx = self._rx
        deadline = self.wait_until(timeout)
        if timeout is None and deadline is not None:
            timeout = max(0.0, deadline - time.monotonic())     # what the message names
        while True:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._drop()
                    raise CommandTimeout(
                        "%s: no reply within %gs" % (self._where(), timeout),
                        "the component may be busy: raise the timeout; a `cxl-mi emulate` peer "
                        "logs why")
                # set again only when the last value would wait past the deadline by
                # more than a few percent (a setsockopt per reply is a syscall)
                last = self._rcvtimeo
                if last is None or not 0.95 * last <= left <= last:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(left))
                    self._rcvtimeo = left
            elif self._rcvtimeo is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _timeval(None))
                self._rcvtimeo = None
            view = rx.want()                 # a large sized packet, read in place
            try:
                if view is not None:
                    count = sock.recv_into(view)
                else:
                    buf = _receive_buffer()
                    count = sock.recv_into(buf)
                    data = buf[:count]
            except BlockingIOError:         # SO_RCVTIMEO ran out: the deadline decides
                continue
            except OSError as exc:
                self._drop()
                raise self._os_error(exc, "receiving")
            if not count:
                self._drop()
                raise TransportError("%s closed the connection before replying" % self._where(),
                                     hint="a `cxl-mi emulate` peer logs why (it closes a "
                                          "client past its --max-clients at once); the "
                                          "next request reconnects")
            for ev in (rx.filled(count) if view is not None else rx.feed(data)):
                if isinstance(ev, mf.FramingError):
                    self._drop()
                    raise ProtocolError("%s: malformed reply: %s" % (self._where(), ev),
                                        hint="the peer does not frame MCTP over TCP as "
                                             "expected (see docs/mctp-over-tcp.md)")
                if ev.tag != tag or ev.tag_owner:
                    if not (msg_type == mf.TYPE_CONTROL == ev.msg_type
                            and self.peer.control_any_tag):
                        log.debug("dropping %r while waiting for tag %d", ev, tag)
                        continue
                    # the peer answers control with a stale tag: the control
                    # header (Rq clear, command, instance) is checked instead
                    if not ev.body or ev.body[0] & mf.CTRL_RQ:
                        continue
                if ev.msg_type != msg_type:
                    self._drop()
                    raise ProtocolError("%s: reply to an MCTP type %d message came back as "
                                        "type %d" % (self._where(), msg_type, ev.msg_type))
                return ev.body

    # -- MCTP control ----------------------------------------------------------
    def control(self, command, data=b"", timeout=None):
        """Send an MCTP control request; returns ``(completion_code, data)``
        where data follows the completion code."""
        inst = self._instance
        self._instance = (self._instance + 1) & mf.CTRL_INSTANCE_MASK
        request = bytes((mf.CTRL_RQ | inst, command & 0xFF)) + bytes(data)
        reply = self._send(request, mf.TYPE_CONTROL, timeout, self.control_eid)
        if len(reply) < 3:
            raise ProtocolError("%s: MCTP control reply of %d bytes is too short"
                                % (self._where(), len(reply)))
        if reply[0] & mf.CTRL_RQ or reply[1] != command & 0xFF:
            raise ProtocolError("%s: MCTP control reply does not answer command 0x%02x"
                                % (self._where(), command))
        if reply[0] & mf.CTRL_INSTANCE_MASK != inst:
            raise ProtocolError("%s: MCTP control reply carries instance %d, the request %d"
                                % (self._where(), reply[0] & mf.CTRL_INSTANCE_MASK, inst))
        return reply[2], bytes(reply[3:])

    def info(self):
        return {"host": self.host, "port": self.port, "eid": self.eid, "own_eid": self.own_eid}

