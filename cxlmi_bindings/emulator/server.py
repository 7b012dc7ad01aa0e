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

The server itself answers MCTP control messages (Set/Get Endpoint ID, Get
MCTP Version Support, Get Message Type Support), one thread per client.  It
logs to the ``cxlmi.emulator`` logger and survives whatever a client sends:
a malformed packet costs the message it belongs to, a truncated packet is
dropped when the client goes quiet (so the stream realigns), a disconnect
mid-message costs only that message.
"""

import ipaddress
import socket
import threading
import time

from .. import _log, cci
from .. import mctp_framing as mf
from .. import errors

log = _log.get("cxlmi.emulator")

DEFAULT_PORT = 2508

# Versions in the BCD form of DSP0236 (0xF in the high nibble: one digit).
_VERSIONS = {
    0xFF: (b"\xf1\xf3\xf1\x00",),           # MCTP base specification 1.3.1
    mf.TYPE_CONTROL: (b"\xf1\xf3\xf1\x00",),  # control protocol: as the base spec
    mf.TYPE_FMAPI: (b"\xf1\xf0\xf0\x00",),  # DSP0234 (CXL FM API over MCTP) 1.0.0
    mf.TYPE_CCI: (b"\xf1\xf0\xf0\x00",),    # DSP0281 (CXL type 3 CCI over MCTP) 1.0.0
}


class Server:
    def __init__(self, handler, host="127.0.0.1", port=DEFAULT_PORT, eid=8,
                 message_types=(mf.TYPE_FMAPI, mf.TYPE_CCI), partial_timeout=0.5,
                 max_message=mf.DEFAULT_MAX_MESSAGE, logger=None):
        if not callable(handler) and callable(getattr(handler, "handle", None)):
            device = handler
            handler = lambda msg_type, message: device.handle(message, msg_type)  # noqa: E731
            self.device = device
        else:
            self.device = None
        self.handler = handler
        self.host = host
        self.port = int(port)
        self.eid = eid & 0xFF
        self.message_types = tuple(message_types)
        self.partial_timeout = partial_timeout
        self.max_message = max_message
        self.log = logger or log
        self.lock = threading.RLock()      # serializes the handler and the EID
        self.bus_owner = None
        self.stats = {"connections": 0, "messages": 0, "framing_errors": 0,
                      "control": 0, "handler_errors": 0}
        self._listener = None
        self._address = None
        self._stopping = threading.Event()
        self._serving = threading.Event()
        self._thread = None
        self._clients = {}                 # socket -> thread
        self._clients_lock = threading.Lock()

    # -- life cycle --------------------------------------------------------------
    @property
    def address(self):
        """``(host, port)`` actually bound, or ``None`` before :meth:`bind`."""
        return self._address

    def bind(self):
        """Open the listening socket; returns the bound ``(host, port)``."""
        if self._listener is not None:
            return self._address
        infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
        family, socktype, proto, _, addr = infos[0]
        sock = socket.socket(family, socktype, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)
            sock.listen(16)
        except OSError:
            sock.close()
            raise
        sock.settimeout(0.1)
        self._listener = sock
        self._address = sock.getsockname()[:2]
        self._stopping.clear()
        if not _is_loopback(self._address[0]):
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
            self.bind()
        listener = self._listener
        self._serving.set()
        try:
            while not self._stopping.is_set():
                try:
                    conn, peer = listener.accept()
                except socket.timeout:
                    continue
                except OSError as exc:
                    if self._stopping.is_set():
                        break
                    self.log.warning("accept failed: %s", exc)
                    time.sleep(0.05)
                    continue
                self._spawn(conn, peer)
        finally:
            self._stopping.set()
            self._serving.clear()
            self._close_listener()
            self._shutdown_clients()

    def start(self):
        """Serve in a background thread; returns the bound ``(host, port)``."""
        address = self.bind()
        self._thread = threading.Thread(target=self.serve_forever, name="cxlmi-mctp-tcp",
                                        daemon=True)
        self._thread.start()
        return address

    def stop(self, timeout=2.0):
        """Stop accepting, close every client connection, wait for the threads."""
        self._stopping.set()
        clients = self._shutdown_clients()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        if not self._serving.is_set():
            self._close_listener()
        for thread in clients:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _shutdown_clients(self):
        with self._clients_lock:
            clients = list(self._clients.items())
        for conn, _ in clients:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return [thread for _, thread in clients]

    def _close_listener(self):
        sock, self._listener = self._listener, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- one client --------------------------------------------------------------
    def _spawn(self, conn, peer):
        self.stats["connections"] += 1
        thread = threading.Thread(target=self._serve_client, args=(conn, peer),
                                  name="cxlmi-mctp-client-%s" % (peer[1] if len(peer) > 1 else "?"),
                                  daemon=True)
        with self._clients_lock:
            self._clients[conn] = thread
        thread.start()

    def _serve_client(self, conn, peer):
        who = "%s:%d" % (peer[0], peer[1]) if len(peer) >= 2 else str(peer)
        self.log.info("client %s connected", who)
        rx = mf.Reassembler(self.max_message)
        state = {"seq": 0}
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        poll = self.partial_timeout if self.partial_timeout else 0.5
        conn.settimeout(poll)
        last_rx = time.monotonic()
        try:
            while not self._stopping.is_set():
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    if (rx.buffered and self.partial_timeout
                            and time.monotonic() - last_rx >= self.partial_timeout):
                        err = rx.discard_partial()
                        self._framing_error(who, err)
                    continue
                except OSError as exc:
                    if not self._stopping.is_set():
                        self.log.info("client %s: %s", who, exc.strerror or exc)
                    break
                if not data:
                    if rx.buffered or rx.in_message:
                        self.log.warning("client %s disconnected in the middle of a message "
                                         "(%d bytes of a packet pending); message dropped",
                                         who, rx.buffered)
                    break
                last_rx = time.monotonic()
                for ev in rx.feed(data):
                    if isinstance(ev, mf.FramingError):
                        self._framing_error(who, ev)
                        continue
                    self.stats["messages"] += 1
                    reply = self._dispatch(who, ev)
                    if reply is None:
                        continue
                    packets, state["seq"] = mf.packetize(ev.msg_type, reply, ev.src, self.eid,
                                                         ev.tag, 0, state["seq"])
                    for pkt in packets:
                        conn.sendall(pkt)
        except OSError as exc:
            if not self._stopping.is_set():
                self.log.info("client %s: %s", who, exc.strerror or exc)
        except Exception:  # a bug here must not take the other clients down
            self.log.exception("client %s: unexpected error; closing its connection", who)
        finally:
            with self._clients_lock:
                self._clients.pop(conn, None)
            try:
                conn.close()
            except OSError:
                pass
            self.log.info("client %s disconnected", who)

    def _framing_error(self, who, err):
        if err is None:
            return
        self.stats["framing_errors"] += 1
        self.log.warning("client %s: %s", who, err)

    # -- messages -------------------------------------------------------------------
    def _dispatch(self, who, msg):
        if msg.tag_owner != 1:
            self.log.info("client %s: ignoring %r: not a request (tag owner clear)", who, msg)
            return None
        if msg.msg_type == mf.TYPE_CONTROL:
            self.stats["control"] += 1
            with self.lock:
                return self._control(who, msg)
        if msg.msg_type not in self.message_types:
            self.log.warning("client %s: ignoring MCTP message type 0x%02x (served: %s)", who,
                             msg.msg_type, ", ".join("0x%02x" % t for t in self.message_types))
            return None
        self.log.debug("client %s: %r", who, msg)
        with self.lock:
            try:
                reply = self.handler(msg.msg_type, msg.body)
            except Exception:
                self.stats["handler_errors"] += 1
                self.log.exception("client %s: handler failed on %r; answering INTERNAL",
                                   who, msg)
                return _internal_error(msg.body)
        if reply is None:
            return None
        reply = bytes(reply)
        if len(reply) < cci.HEADER_SIZE:
            self.log.error("client %s: handler answered %d bytes, less than a CCI header; "
                           "answering INTERNAL", who, len(reply))
            return _internal_error(msg.body)
        return reply

    def _control(self, who, msg):
        body = msg.body
        if len(body) < 2:
            self.log.warning("client %s: MCTP control message of %d bytes ignored", who, len(body))
            return None
        flags, command = body[0], body[1]
        if not flags & mf.CTRL_RQ:
            self.log.info("client %s: ignoring MCTP control response 0x%02x", who, command)
            return None
        data = body[2:]
        cc, out = self._control_command(who, msg, command, data)
        if flags & mf.CTRL_DATAGRAM:
            return None           # datagrams get no response
        return bytes((flags & mf.CTRL_INSTANCE_MASK, command, cc)) + out

    def _control_command(self, who, msg, command, data):
        if command == mf.CTRL_GET_ENDPOINT_ID:
            # EID; endpoint type (bits 5:4) simple endpoint, EID type (bits 1:0)
            # dynamic; no medium-specific information
            return mf.CC_SUCCESS, bytes((self.eid, 0x00, 0x00))
        if command == mf.CTRL_SET_ENDPOINT_ID:
            if len(data) < 2:
                return mf.CC_INVALID_LENGTH, b""
            operation, eid = data[0] & 0x03, data[1]
            if operation in (0, 1):         # set, force
                if eid in (mf.EID_NULL, mf.EID_BROADCAST):
                    return mf.CC_INVALID_DATA, b""
                self.log.info("client %s: endpoint ID %d -> %d (bus owner %d)", who, self.eid,
                              eid, msg.src)
                self.eid = eid
                self.bus_owner = msg.src
                # status: assignment accepted (bits 5:4 = 0), no EID pool
                return mf.CC_SUCCESS, bytes((0x00, self.eid, 0))
            # reset (no static EID here) and set-discovered-flag (PCIe only);
            # an error response carries only its completion code
            return mf.CC_INVALID_DATA, b""
        if command == mf.CTRL_GET_VERSION_SUPPORT:
            if len(data) < 1:
                return mf.CC_INVALID_LENGTH, b""
            versions = _VERSIONS.get(data[0])
            if versions is None or (data[0] not in (0xFF, mf.TYPE_CONTROL)
                                    and data[0] not in self.message_types):
                return mf.CC_VERSION_TYPE_UNSUPPORTED, b"\x00"
            return mf.CC_SUCCESS, bytes((len(versions),)) + b"".join(versions)
        if command == mf.CTRL_GET_MESSAGE_TYPE_SUPPORT:
            # the list excludes the control type itself
            return mf.CC_SUCCESS, bytes((len(self.message_types),)) + bytes(self.message_types)
        self.log.info("client %s: MCTP control command 0x%02x unsupported", who, command)
        return mf.CC_UNSUPPORTED_CMD, b""


def _internal_error(request):
    try:
        hdr = cci.decode_header(request)
    except Exception:
        return None
    return cci.encode(hdr.opcode, b"", tag=hdr.tag, category=cci.CATEGORY_RESPONSE,
                      return_code=errors.ReturnCode.INTERNAL)    # the handler raised


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"
