# SPDX-License-Identifier: LGPL-2.1-or-later
"""One emulated MCTP endpoint: what a binding hands a whole message to.

A binding (MCTP over TCP in :mod:`.server`, the serial binding, or a test)
reassembles packets into an :class:`~cxlmi_bindings.mctp_framing.Message` and
calls :meth:`MctpEndpoint.dispatch`; it gets back the reply body to frame and
send to the requester (same message type, tag, tag owner clear), or ``None``
when nothing is to be sent.  The endpoint answers MCTP control (message type 0)
itself and passes CCI messages (7: FM-API and tunnels, 8: CXL CCI) to the
handler, so every binding behaves the same for the same bytes.

``handler`` is ``handler(msg_type, message) -> reply`` or a device model with
``handle(message, msg_type)``.  Handler calls and EID changes are serialized by
``lock``; ``on_change`` runs under it after each request that may have changed
the device, before the reply exists (so a reply means the change is saved).
"""

import functools
import threading
import uuid as _uuid

from .. import _log, cci, errors
from .. import mctp_framing as mf

log = _log.get("cxlmi.emulator")

# Versions in the BCD form of DSP0236 (0xF in the high nibble: one digit).
VERSIONS = {
    0xFF: (b"\xf1\xf3\xf1\x00",),           # MCTP base specification 1.3.1
    mf.TYPE_CONTROL: (b"\xf1\xf3\xf1\x00",),  # control protocol: as the base spec
    mf.TYPE_FMAPI: (b"\xf1\xf0\xf0\x00",),  # DSP0234 (CXL FM API over MCTP) 1.0.0
    mf.TYPE_CCI: (b"\xf1\xf0\xf0\x00",),    # DSP0281 (CXL type 3 CCI over MCTP) 1.0.0
}

#: the namespace of the endpoint UUIDs derived from a device's identity
_UUID_NAMESPACE = _uuid.UUID("5c1e3a52-8f0c-4d5e-9a67-3c2f7b0d8e41")

#: Tunnel Management Command: what it carries may change anything
TUNNEL_OPCODE = 0x5300


def endpoint_uuid(device):
    """A UUID that stays the same for the same emulated component across runs:
    derived from its class and serial number (``None`` without a device)."""
    if device is None:
        return None
    serial = getattr(device, "serial", None)
    name = "%s/%s" % (type(device).__name__, "%016x" % serial if serial is not None
                      else id(device))
    return _uuid.uuid5(_UUID_NAMESPACE, name)


class MctpEndpoint:
    def __init__(self, handler, eid=8, message_types=(mf.TYPE_FMAPI, mf.TYPE_CCI),
                 uuid=None, on_change=None, logger=None, stats=None, shared=None,
                 peer=None):
        #: a :class:`~.shared_state.SharedDevice` when worker processes share the device
        self.shared = shared
        if shared is not None:
            handler = shared.handler
        if not callable(handler) and callable(getattr(handler, "handle", None)):
            device = handler
            handler = lambda msg_type, message: device.handle(message, msg_type)  # noqa: E731
            self.device = device
        else:
            self.device = None
        self.handler = handler
        self.eid = eid & 0xFF
        self.message_types = tuple(message_types)
        self.uuid = uuid if uuid is not None else (endpoint_uuid(self.device) or _uuid.uuid4())
        self.on_change = on_change
        #: a peer profile (:mod:`cxlmi_bindings.peers`) whose clients are served in
        #: their own form; the spec (None) leaves every byte as it is
        self.peer = None
        if peer is not None:
            from .. import peers
            self.peer = None if peers.get(peer).is_spec else peers.get(peer)
        self.log = logger or log
        self.lock = threading.RLock()
        self.bus_owner = None
        #: shared with the binding when it passes its own dict
        self.stats = stats if stats is not None else {}
        for key in ("messages", "control", "handler_errors", "unserved"):
            self.stats.setdefault(key, 0)

    def dispatch(self, who, msg):
        """The reply body to ``msg`` (an MCTP message from ``who``), or ``None``."""
        self.stats["messages"] += 1
        if msg.tag_owner != 1:
            self.log.info("client %s: ignoring %r: not a request (tag owner clear)", who, msg)
            return None
        if msg.msg_type == mf.TYPE_CONTROL:
            self.stats["control"] += 1
            with self.lock:
                return self._control(who, msg)
        if msg.msg_type not in self.message_types:
            # The CXL types share the CCI message format, so a CCI request of the type
            # not served here (type 8 at an FM-API-only endpoint, say) is answered
            # UNSUPPORTED; other types have no error reply (DSP0236 defines one only for
            # control), so the requester learns from Get Message Type Support.
            self.stats["unserved"] += 1
            if self.peer is not None:
                from .. import peers
                answer = peers.unserved_reply(self.peer, msg.msg_type, msg.body)
                if answer is not None:
                    self.log.info("client %s: MCTP message type 0x%02x is not served; "
                                  "answering it with an error (peer %s)", who, msg.msg_type,
                                  self.peer.name)
                    return answer
            answer = unsupported_cci(msg)
            if answer is not None:
                self.log.info("client %s: MCTP message type 0x%02x is not served here; "
                              "answering its CCI request UNSUPPORTED", who, msg.msg_type)
                return answer
            self.log.warning("client %s: ignoring MCTP message type 0x%02x (served: %s)", who,
                             msg.msg_type, ", ".join("0x%02x" % t for t in self.message_types))
            return None
        if self.log.isEnabledFor(10):       # DEBUG, without importing logging here
            self.log.debug("client %s: %r", who, msg)
        if self.peer is not None:
            return self._dispatch_peer(who, msg)
        return self._handle(who, msg)

    def _dispatch_peer(self, who, msg):
        """A peer profile's client: its request in the spec's form for the
        device, the device's reply in the peer's form."""
        from .. import peers
        try:
            body = peers.request_to_spec(self.peer, msg.body)
        except errors.ProtocolError as exc:
            self.log.warning("client %s: %s; answering INVALID_INPUT", who, exc)
            hdr = cci.decode_header(msg.body)
            reply = cci.encode(hdr.opcode, b"", tag=hdr.tag, category=cci.CATEGORY_RESPONSE,
                               return_code=errors.ReturnCode.INVALID_INPUT)
        else:
            reply = self._handle(who, mf.Message(msg.msg_type, body, msg.src, msg.dst,
                                                 msg.tag, msg.tag_owner))
        if reply is None:
            return None
        return peers.reply_to_peer(self.peer, body, reply)

    def _handle(self, who, msg):
        with self.lock:
            if self.shared is None:
                return self._checked(who, msg, self._run(who, msg, self.on_change))
            change = may_change_state(msg.body)
            self.shared.acquire(change)
            try:
                reply = self._run(who, msg, self.shared.commit if change else None)
            finally:
                self.shared.release()
        return self._checked(who, msg, reply)

    def _run(self, who, msg, on_change):
        """The handler's reply; ``on_change`` (when given) must succeed before it counts."""
        try:
            reply = self.handler(msg.msg_type, msg.body)
        except Exception:
            self.stats["handler_errors"] += 1
            self.log.exception("client %s: handler failed on %r; answering INTERNAL", who, msg)
            if self.shared is not None:
                self.shared.forget()       # this copy may be half changed: load it again
            return internal_error(msg.body)
        if on_change is not None and (self.shared is not None or may_change_state(msg.body)):
            try:
                on_change()
            except Exception as exc:
                # not durable: the client must not take the change as done
                self.stats["handler_errors"] += 1
                self.log.error("client %s: the change could not be saved (%s); "
                               "answering INTERNAL", who, exc)
                if self.shared is not None:
                    self.shared.forget()
                return internal_error(msg.body)
        return reply

    def _checked(self, who, msg, reply):
        if reply is None:
            return None
        reply = bytes(reply)
        if len(reply) < cci.HEADER_SIZE:
            self.log.error("client %s: handler answered %d bytes, less than a CCI header; "
                           "answering INTERNAL", who, len(reply))
            return internal_error(msg.body)
        return reply

    # -- MCTP control (DSP0236) ----------------------------------------------------
    def _control(self, who, msg):
        body = msg.body
        if len(body) < 2:
            self.log.warning("client %s: MCTP control message of %d bytes ignored", who, len(body))
            return None
        flags, command = body[0], body[1]
        if not flags & mf.CTRL_RQ:
            self.log.info("client %s: ignoring MCTP control response 0x%02x", who, command)
            return None
        cc, out = self._control_command(who, msg, command, body[2:])
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
        if command == mf.CTRL_GET_ENDPOINT_UUID:
            # the 16 bytes in RFC 4122 (network) order
            return mf.CC_SUCCESS, self.uuid.bytes
        if command == mf.CTRL_GET_VERSION_SUPPORT:
            if len(data) < 1:
                return mf.CC_INVALID_LENGTH, b""
            versions = VERSIONS.get(data[0])
            if versions is None or (data[0] not in (0xFF, mf.TYPE_CONTROL)
                                    and data[0] not in self.message_types):
                return mf.CC_VERSION_TYPE_UNSUPPORTED, b"\x00"
            return mf.CC_SUCCESS, bytes((len(versions),)) + b"".join(versions)
        if command == mf.CTRL_GET_MESSAGE_TYPE_SUPPORT:
            # the list excludes the control type itself
            return mf.CC_SUCCESS, bytes((len(self.message_types),)) + bytes(self.message_types)
        self.log.info("client %s: MCTP control command 0x%02x unsupported", who, command)
        return mf.CC_UNSUPPORTED_CMD, b""


def may_change_state(request):
    """Can this CCI request have changed the device?  Every command the registry
    declares effects for, tunnels (whatever they carry) and unknown opcodes."""
    if len(request) < cci.HEADER_SIZE:
        return False
    return _opcode_may_change(int.from_bytes(request[3:5], "little"))    # bytes 3-4: the opcode


@functools.lru_cache(maxsize=None)
def _opcode_may_change(opcode):
    from .. import registry
    try:
        entry = registry.by_opcode(opcode)
    except KeyError:
        return True
    return bool(entry.effects) or opcode == TUNNEL_OPCODE


def unsupported_cci(msg):
    """The UNSUPPORTED CCI reply to a CCI request of an unserved CXL message type, or
    None when the message is not that."""
    if msg.msg_type not in mf.CXL_TYPES:
        return None
    try:
        hdr = cci.decode_header(msg.body)
    except Exception:
        return None
    if hdr.category != cci.CATEGORY_REQUEST:
        return None
    return cci.encode(hdr.opcode, b"", tag=hdr.tag, category=cci.CATEGORY_RESPONSE,
                      return_code=errors.ReturnCode.UNSUPPORTED)


def internal_error(request):
    """The INTERNAL reply to ``request`` (``None`` if it is not a CCI message)."""
    try:
        hdr = cci.decode_header(request)
    except Exception:
        return None
    return cci.encode(hdr.opcode, b"", tag=hdr.tag, category=cci.CATEGORY_RESPONSE,
                      return_code=errors.ReturnCode.INTERNAL)
