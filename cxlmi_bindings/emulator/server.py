# SPDX-License-Identifier: LGPL-2.1-or-later
"""Serve an emulated CXL component over MCTP over TCP.

The device side of the ``tcp:HOST[:PORT]`` target.  Plug a handler in::

    def handler(msg_type, message):      # one CCI request message (bytes)
        return response_message          # one CCI response message (bytes)

    server = Server(handler, host="127.0.0.1", port=2508)
    server.serve_forever()               # or: host, port = server.start(); ...; server.stop()

``msg_type`` is 7 (FM-API, and anything tunnelled) or 8 (CXL CCI).  The
handler may return ``None`` to send nothing.  A device model (anything with
``handle(message, msg_type)``, such as an emulator ``Device``) can be passed
instead of a function: ``Server(profiles.build("switch"))``.  Handler calls are serialized
with one lock, whatever the number of clients, so device models need not be
thread-safe; their state lives in the handler and so outlives connections.

Whole messages go to an :class:`~.mctp_endpoint.MctpEndpoint`, which answers
MCTP control itself (Set/Get Endpoint ID, Get Endpoint UUID, Get MCTP Version
Support, Get Message Type Support) and is shared with the other bindings.  It logs to the
``cxlmi.emulator`` logger and survives whatever a client sends: a malformed
packet costs the message it belongs to, a truncated packet is dropped when the
client goes quiet (so the stream realigns), a disconnect mid-message costs
only that message.

A client may ask, with the binding's Set Transmission Unit, for sized packets
(:mod:`cxlmi_bindings.mctp_sized`): its connection then carries each message as
one packet up to ``max_message`` bytes instead of 68-byte pieces.

One thread serves every client (a selector, non-blocking sockets), so a slow
or hostile client cannot starve the others or cost a thread: connections are
bounded (``max_clients``: when full, a newcomer takes the slot of the client
whose unfinished message began first, or of one silent for a second or more;
else it is closed at once, logged once per burst), a
message must arrive whole within ``message_timeout`` of its first byte (a
client trickling bytes is disconnected), a connection silent for
``idle_timeout`` is closed (clients reconnect), and a client that does not
read its replies gets none of its requests read meanwhile (so one batch of
replies at most waits for it; more than ``max_output`` bytes of them
disconnect it) and is closed when ``idle_timeout`` passes without progress.

``on_change``, when given, is called (under the handler lock) after every
request that may have changed the device and before its reply is queued:
``cxl-mi emulate --state`` saves the state there, so a reply means the change
is on disk.  If it raises, the request is answered INTERNAL.
"""

import selectors
import socket
import threading
import time

from .. import _log
from .. import mctp_framing as mf
from .. import mctp_sized as ms
from .. import targets
from .mctp_endpoint import MctpEndpoint

log = _log.get("cxlmi.emulator")

DEFAULT_PORT = 2508
DEFAULT_MAX_CLIENTS = 64
#: seconds from a message's first byte to its last
DEFAULT_MESSAGE_TIMEOUT = 30.0
#: seconds of silence after which a connection is closed
DEFAULT_IDLE_TIMEOUT = 300.0
#: a connection with no unfinished message is closed for a newcomer when the
#: server is full only after this many seconds of silence
EVICT_SILENT = 1.0
#: reply bytes that may wait for a client that is not reading
DEFAULT_MAX_OUTPUT = 4 << 20
#: bytes one recv may take (into the server's one buffer): a whole 64 KiB message
#: in one go when it is all there
RECV_SIZE = 1 << 18
#: replies shorter than this wait for the end of their select round (see _reply)
HOLD_BELOW = 1 << 14

class Server:
    def __init__(self, handler, host="127.0.0.1", port=DEFAULT_PORT, eid=8,
                 message_types=(mf.TYPE_FMAPI, mf.TYPE_CCI), partial_timeout=0.5,
                 max_message=mf.DEFAULT_MAX_MESSAGE, logger=None,
                 max_clients=DEFAULT_MAX_CLIENTS, message_timeout=DEFAULT_MESSAGE_TIMEOUT,
                 idle_timeout=DEFAULT_IDLE_TIMEOUT, max_output=DEFAULT_MAX_OUTPUT,
                 on_change=None, uuid=None, listener=None, shared=None, peer=None):
        self.host = host
        self.port = int(port)
        self.partial_timeout = partial_timeout
        self.max_message = max_message
        self.log = logger or log
        self.max_clients = max_clients
        self.message_timeout = message_timeout
        self.idle_timeout = idle_timeout
        self.max_output = max_output
        self.stats = {"connections": 0, "framing_errors": 0, "refused": 0, "timeouts": 0,
                      "evicted": 0, "unit_requests": 0}
        #: answers every whole message; its counters land in ``stats`` too
        self.endpoint = MctpEndpoint(handler, eid=eid, message_types=message_types,
                                     uuid=uuid, on_change=on_change, logger=self.log,
                                     stats=self.stats, shared=shared, peer=peer)
        #: a peer profile's senders may drop the last byte of a 64-multiple message
        self._lost_last_byte = bool(self.endpoint.peer and self.endpoint.peer.lost_last_byte)
        #: a socket already listening (worker processes share their parent's)
        self._adopted = listener
        self._listener = None
        self._address = None
        self._stopping = threading.Event()
        self._serving = threading.Event()
        self._thread = None
        self._clients = {}                 # socket -> _Client, touched by the serving thread
        self._clients_lock = threading.Lock()
        self._wake = None                  # written to by stop() to end a select() at once
        self._refusing = False
        self._rbuf = bytearray(RECV_SIZE)  # every recv lands here (one buffer, not one per read)
        self._rview = memoryview(self._rbuf)
        self._held = None                  # in a round of several events: clients with replies

    # The endpoint's attributes, as they were before it was split out.
    device = property(lambda self: self.endpoint.device)
    handler = property(lambda self: self.endpoint.handler)
    lock = property(lambda self: self.endpoint.lock)
    message_types = property(lambda self: self.endpoint.message_types)
    on_change = property(lambda self: self.endpoint.on_change)
    bus_owner = property(lambda self: self.endpoint.bus_owner)
    eid = property(lambda self: self.endpoint.eid)
    uuid = property(lambda self: self.endpoint.uuid)

    # -- life cycle --------------------------------------------------------------
    @property
    def address(self):
        """``(host, port)`` actually bound, or ``None`` before :meth:`bind`."""
        return self._address

    def bind(self):
        """Open the listening socket; returns the bound ``(host, port)``."""
        if self._listener is not None:
            return self._address
        if self._adopted is not None:
            self._listener, self._address = self._adopted, self._adopted.getsockname()[:2]
            self._stopping.clear()
            return self._address
        sock = listen(self.host, self.port)
        sock.settimeout(0.1)
        self._listener = sock
        self._address = sock.getsockname()[:2]
        self._stopping.clear()
        if not targets.is_loopback(self._address[0]):
            self.log.warning("listening on %s:%d, which is not a loopback address: anyone who "
                             "can reach it can manage the emulated devices",
                             *self._address)
        self.log.info("MCTP over TCP on %s:%d, EID %d", self._address[0], self._address[1],
                      self.eid)
        return self._address

    def serve_forever(self):
        """Accept and serve clients until :meth:`stop` is called (or the
        calling thread is interrupted); every client connection is closed on
        the way out."""
        if self._listener is None:
            if self._stopping.is_set():
                return                   # stop() came first (it closed the listener)
            self.bind()
        listener = self._listener
        listener.setblocking(False)
        selector = selectors.DefaultSelector()
        wake_r, self._wake = socket.socketpair()
        wake_r.setblocking(False)
        self._wake.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, "accept")
        selector.register(wake_r, selectors.EVENT_READ, "wake")
        for sock, callback in self._readers():
            selector.register(sock, selectors.EVENT_READ, callback)
        self._serving.set()
        # the deadlines are looked at a few times per partial_timeout, not per event
        period = min(0.1, self.partial_timeout / 4) if self.partial_timeout else 0.1
        due = 0.0
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                if now >= due:
                    self._housekeeping(selector, now)
                    due = now + period
                events = selector.select(max(due - now, 0.0))
                self._held = [] if len(events) > 1 else None
                for key, mask in events:
                    if type(key.data) is _Client:     # the common case first
                        self._ready(selector, key.data, mask)
                    elif key.data == "accept":
                        self._accept(selector, listener)
                    elif key.data == "wake":
                        _drain(wake_r)
                    else:
                        key.data(selector)
                held, self._held = self._held, None
                for client in held or ():
                    if client.sock is not None:
                        self._flush(selector, client)
        finally:
            self._held = None
            self._stopping.set()
            self._serving.clear()
            for client in list(self._clients.values()):
                self._close(selector, client, None)
            self._close_listener()
            selector.close()
            wake, self._wake = self._wake, None
            for sock in (wake_r, wake):
                sock.close()

    def start(self):
        """Serve in a background thread; returns the bound ``(host, port)``."""
        address = self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="cxlmi-mctp-tcp",
                                        daemon=True)
        self._thread.start()
        self._serving.wait(5)
        return address

    def stop(self, timeout=2.0):
        """Stop accepting, close every client connection, wait for the serving thread."""
        self._stopping.set()
        self._wake_up()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if not self._serving.is_set():
            self._close_listener()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def clients(self):
        """How many clients are connected now."""
        return len(self._clients)

    def _wake_up(self):
        wake = self._wake
        if wake is not None:
            try:
                wake.send(b"\0")
            except OSError:
                pass

    def _shutdown_clients(self):
        """Cut every client connection (as a restarted emulator would); the
        serving thread notices and forgets them."""
        with self._clients_lock:
            socks = list(self._clients)
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._wake_up()

    def _close_listener(self):
        sock, self._listener = self._listener, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- connections -------------------------------------------------------------
    def _accept(self, selector, listener):
        for _ in range(64):             # a burst at a time: the clients get a turn too
            try:
                conn, peer = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:      # e.g. out of file descriptors: try again later
                self.log.warning("accept failed: %s", exc.strerror or exc)
                return
            if not self._hand_off(conn, peer):
                self._admit(selector, conn, peer)

    # Hooks for a server that is one of several (see .workers).
    def _readers(self):
        """More ``(socket, callback(selector))`` pairs to watch for reading."""
        return ()

    def _hand_off(self, conn, peer):
        """True when ``conn`` was passed on to be served elsewhere."""
        return False

    def _admit(self, selector, conn, peer):
        """Serve a new connection here (or close it when full)."""
        if len(self._clients) >= self.max_clients and not self._evict(selector):
            self.stats["refused"] += 1
            if not self._refusing:
                self._refusing = True
                self.log.warning("%d client%s connected, the most allowed: closing new "
                                 "connections until one leaves", self.max_clients,
                                 "" if self.max_clients == 1 else "s")
            conn.close()
            return
        if self._refusing:
            self._refusing = False
            self.log.info("accepting connections again (%d refused so far)",
                          self.stats["refused"])
        conn.setblocking(False)
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        client = _Client(conn, peer, mf.Reassembler(self.max_message, self._lost_last_byte),
                         time.monotonic())
        self.stats["connections"] += 1
        with self._clients_lock:
            self._clients[conn] = client
        selector.register(conn, selectors.EVENT_READ, client)
        self.log.info("client %s connected", client.who)

    def _evict(self, selector):
        """Make room for a new client at the expense of one that is holding a
        slot without using it: the one whose unfinished message began first,
        else the one silent longest (at least ``EVICT_SILENT`` seconds).  So
        clients that trickle bytes or park connections cannot lock others out."""
        now = time.monotonic()
        clients = list(self._clients.values())
        stalled = [c for c in clients if c.started is not None and not c.out]
        if stalled:
            victim = min(stalled, key=lambda c: c.started)
            why = "message unfinished after %.1fs" % (now - victim.started)
        else:
            victim = min(clients, key=lambda c: c.last_io, default=None)
            if victim is None or now - victim.last_io < EVICT_SILENT:
                return False
            why = "silent for %.1fs" % (now - victim.last_io)
        self.stats["evicted"] += 1
        self._close(selector, victim, "%s, and a new client needs the slot; disconnected" % why)
        return True

    def _close(self, selector, client, why, level="info"):
        if client.sock is None:
            return
        sock, client.sock = client.sock, None
        with self._clients_lock:
            self._clients.pop(sock, None)
        try:
            selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        try:
            sock.close()
        except OSError:
            pass
        if why:
            getattr(self.log, level)("client %s: %s", client.who, why)
        self.log.info("client %s disconnected", client.who)

    def _housekeeping(self, selector, now):
        """Apply the per-connection deadlines."""
        for client in list(self._clients.values()):
            rx = client.rx
            if client.started is not None and self.message_timeout and \
                    now - client.started >= self.message_timeout:
                self.stats["timeouts"] += 1
                self._close(selector, client, "a message was not complete %gs after its first "
                            "byte; disconnected" % self.message_timeout, "warning")
            elif self.idle_timeout and now - client.last_io >= self.idle_timeout:
                self._close(selector, client, "silent for %gs; disconnected" % self.idle_timeout)
            elif rx.buffered and self.partial_timeout and \
                    now - client.last_io >= self.partial_timeout:
                self._framing_error(client.who, rx.discard_partial())
                if not rx.in_message:
                    client.started = None

    def _ready(self, selector, client, mask):
        if client.sock is None:
            # closed earlier in this batch of events (evicted for a newcomer)
            return
        if mask & selectors.EVENT_WRITE:
            self._flush(selector, client)
            if client.sock is None:
                return
        if mask & selectors.EVENT_READ:
            self._read(selector, client)

    def _read(self, selector, client):
        rx = client.rx
        view = rx.want()                    # a large sized packet, read in place
        try:
            count = client.sock.recv_into(self._rview if view is None else view)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._close(selector, client, exc.strerror or str(exc))
            return
        if not count:
            why = None
            if rx.buffered or rx.in_message:
                why = ("disconnected in the middle of a message (%d bytes of a packet "
                       "pending); message dropped" % rx.buffered)
            self._close(selector, client, why, "warning")
            return
        now = time.monotonic()
        client.last_io = now
        try:
            events = rx.filled(count) if view is not None else rx.feed(self._rview[:count])
            for i, ev in enumerate(events):
                if type(ev) is not mf.Message:
                    self._framing_error(client.who, ev)
                    if rx.broken:
                        self._close(selector, client, "the stream cannot be followed any "
                                    "more; disconnected", "warning")
                        return
                    continue
                if (ev.msg_type == mf.TYPE_CONTROL and len(ev.body) >= 2 and ev.tag_owner
                        and ev.body[0] & mf.CTRL_RQ
                        and ev.body[1] == mf.CTRL_SET_TRANSMISSION_UNIT):
                    # the binding's own command: it changes this connection's framing
                    self._set_unit(client, ev, settled=i == len(events) - 1 and not rx.pending())
                    continue
                reply = self.endpoint.dispatch(client.who, ev)
                if reply is not None:
                    self._reply(client, ev, reply)
        except Exception:  # a bug here must not take the other clients down
            self.log.exception("client %s: unexpected error; closing its connection",
                               client.who)
            self._close(selector, client, None)
            return
        if rx.pending():
            if client.started is None:
                client.started = now
        else:
            client.started = None
        if client.out:
            if self._held is None:
                self._flush(selector, client)
            else:                           # a round reads each client once
                self._held.append(client)

    def _reply(self, client, ev, reply):
        """Frame ``reply`` for the client; written at once when nothing is queued
        before it (the rest, if the socket takes only part, is queued).

        When one select round brings several clients' requests, their small
        replies are queued and written together at the end of the round
        instead: each reply written wakes its client, which on a busy machine
        takes the core from the server before it has read the other requests
        already waiting (bench_tcp.py's 32-client row: about 10% more commands/s)."""
        if client.unit:
            parts, client.seq = ms.frame(ev.msg_type, reply, ev.src, self.eid, ev.tag, 0,
                                         client.seq, client.unit)
        else:
            data, client.seq = mf.frame(ev.msg_type, reply, ev.src, self.eid, ev.tag, 0,
                                        client.seq)
            parts = [data]
        if not client.out:
            if self._held is not None and len(parts) == 1 and len(parts[0]) < HOLD_BELOW:
                client.out += parts[0]
                return
            try:
                parts = ms.write(client.sock, parts)
            except OSError:
                pass                        # all queued; _flush meets a real error and closes
            if not parts:
                return                      # the usual case: all of it went
        for part in parts:
            client.out += part

    def _set_unit(self, client, ev, settled):
        """Set Transmission Unit: answer, then switch both directions of this
        connection to sized packets of the agreed unit."""
        body = ev.body
        inst = body[0] & mf.CTRL_INSTANCE_MASK
        asked = ms.parse_unit(body[2:])
        if asked is None:
            cc, data = mf.CC_INVALID_LENGTH, b""
        elif asked[0] != ms.FRAMING_SIZED or asked[1] < mf.BTU:
            cc, data = mf.CC_INVALID_DATA, b""
        elif not settled:
            # bytes after the request would be read in the wrong framing: the
            # requester is to wait for the answer before it sends more
            cc, data = mf.CC_NOT_READY, b""
        else:
            unit = min(asked[1], max(mf.BTU, self.max_message))
            cc, data = mf.CC_SUCCESS, ms.unit_request(unit)
        self.stats["unit_requests"] += 1
        if ev.body[0] & mf.CTRL_DATAGRAM:
            return
        self._reply(client, ev, bytes((inst, mf.CTRL_SET_TRANSMISSION_UNIT, cc)) + data)
        if cc == mf.CC_SUCCESS:
            client.unit = unit
            client.rx = ms.SizedReassembler(unit, self.max_message)
            self.log.info("client %s: sized packets of up to %d bytes", client.who, unit)
        else:
            self.log.info("client %s: Set Transmission Unit refused (completion code 0x%02x)",
                          client.who, cc)

    def _flush(self, selector, client):
        out = client.out
        while out:
            try:
                sent = client.sock.send(out)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._close(selector, client, exc.strerror or str(exc))
                return
            del out[:sent]
            client.last_io = time.monotonic()
        if len(out) > self.max_output:
            self._close(selector, client, "%d bytes of replies unread; disconnected" % len(out),
                        "warning")
            return
        # While replies wait, read nothing more from this client: it must take
        # its answers before it sends more work.
        want = selectors.EVENT_WRITE if out else selectors.EVENT_READ
        if want != client.events:
            client.events = want
            selector.modify(client.sock, want, client)

    def _framing_error(self, who, err):
        if err is None:
            return
        self.stats["framing_errors"] += 1
        self.log.warning("client %s: %s", who, err)

def listen(host, port, backlog=128):
    """A TCP socket listening on ``host``:``port`` (0: any free port)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, socktype, proto, _, addr = infos[0]
    sock = socket.socket(family, socktype, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class _Client:
    """One connection's state in the serving thread."""
    __slots__ = ("sock", "who", "rx", "seq", "out", "last_io", "started", "events", "unit")

    def __init__(self, sock, peer, rx, now):
        self.sock = sock
        self.who = "%s:%d" % (peer[0], peer[1]) if len(peer) >= 2 else str(peer)
        self.rx = rx
        self.seq = 0                   # the sequence number of our next packet to it
        self.out = bytearray()         # reply bytes not yet taken by the socket
        self.last_io = now             # the last byte read from it or taken by its socket
        self.started = None            # when the message in progress began to arrive
        self.events = selectors.EVENT_READ
        self.unit = 0                  # sized packets of this unit once agreed (0: 68-byte)


def _drain(sock):
    try:
        while sock.recv(4096):
            pass
    except OSError:
        pass
