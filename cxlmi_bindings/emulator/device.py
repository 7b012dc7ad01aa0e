# SPDX-License-Identifier: LGPL-2.1-or-later
"""The device side of a CCI: a component model answering whole messages.

A model subclasses :class:`Device` and defines one method per command it
implements, named after the registry entry: ``cmd_identify``,
``cmd_memdev_get_health_info``, ``cmd_fmapi_bind_vppb``…  The framework

* decodes the request into the registry's request structure (its flexible
  tail sized from the bytes received) and refuses short payloads -- and any
  payload larger than the mailbox, 2^max_msg_size bytes -- with PAYLOADLEN
  before the handler runs;
* turns the handler's return value (a structure, bytes, ``None``,
  :class:`Background`) into the response message, and :class:`Reply`
  exceptions into error responses with their CXL return code;
* builds a response with a flexible tail from field values (:func:`reply`),
  its count field filled from the tail so the two always agree;
* routes Tunnel Management (5300h) to the device :meth:`Device.tunnel_target`
  names, and wraps the inner answer;
* runs background operations with time-based progress (Background Operation
  Status, Request Abort, BUSY for a second one);
* answers UNSUPPORTED for every registry command the model leaves out, and
  builds the Command Effects Log from what it implements.

Every command the registry knows is therefore either implemented with state
by a model or unsupported on purpose (see docs/emulator.md).
"""

import ctypes
import time

from .. import _log, cci, codec, registry, tunnel, types
from .. import errors
from ..errors import CxlmiError

log = _log.get("cxlmi.emulator")

# Every CXL return code by its CXLMI_RET_* name (INPUT, BUSY, PASSPHRASE ...), so
# models write Reply(INPUT): the numbers are written down once, in
# errors.RETURN_CODES, and a Reply carries its code as an errors.ReturnCode member.
# (Plain numbers here: making the enum costs start-up time an error-free run skips.)
globals().update({name: code for code, (name, _) in enumerate(errors.RETURN_CODES)})


def reply(command, **fields):
    """The response structure of registry command ``command``, built from field values.

    A flexible tail is given as a list (of dicts for structure elements, of
    values or bytes for a byte tail); its count field (the registry's
    ``rsp_count``) is filled from the tail's length unless given, and a given
    count that disagrees with a non-empty tail is refused (:func:`codec.build`).
    """
    entry = registry.get(command)
    return codec.build(entry.rsp_cls, fields, entry.rsp_count)


class Reply(Exception):
    """Raise from a handler to answer with a CXL return code."""

    def __init__(self, return_code, why=""):
        super().__init__(why or "return code %d" % return_code)
        self.return_code = errors.ReturnCode(return_code)


class Background:
    """Return from a handler to start a background operation.

    ``duration`` seconds of simulated work; ``finish()`` runs when it
    completes (not when aborted) and may raise Reply to fail the operation;
    ``abortable`` says whether Request Abort may stop it.
    """

    def __init__(self, duration, finish=None, abortable=True, on_abort=None):
        self.duration = max(0.0, float(duration))
        self.finish = finish
        self.abortable = abortable
        self.on_abort = on_abort
        self.opcode = 0
        self.started = 0.0
        self.return_code = SUCCESS
        self.done = False
        self.percent_at_end = 100   # less when aborted part way


_METHODS = {}


def _method(name):
    """The model's method for registry command ``name`` (the string made once)."""
    method = _METHODS.get(name)
    if method is None:
        method = _METHODS[name] = "cmd_" + name
    return method


class Device:
    """Base of every emulated component."""

    #: Identify (0001h) component type: 0x00 switch, 0x03 type 3 device
    component_type = 0x03
    vendor_id = 0x1DE5        # a fixed made-up vendor; models may override
    device_id = 0x0001
    subsys_vendor_id = 0x1DE5
    subsys_id = 0x0001
    serial = 0x1122334455667788
    #: log2 of the largest message this CCI accepts (2^n bytes)
    max_msg_size = 11

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.bg = None            # the running or last Background
        self.response_msg_limit = self.max_msg_size
        self.timestamp_base = None   # (host ns, clock at set)

    # ---------------------------------------------------------------- dispatch
    @classmethod
    def implemented(cls):
        """Registry entries this model answers (canonical entry per opcode)."""
        seen, out = set(), []
        for entry in registry.COMMANDS:
            if entry.opcode in seen or entry.call == "vendor":
                continue
            if callable(getattr(cls, "cmd_" + entry.name, None)):
                seen.add(entry.opcode)
                out.append(entry)
        return out

    def handle(self, message, msg_type=None):
        """Answer one request message with one response message."""
        try:
            hdr = cci.decode_header(message)
        except CxlmiError:
            log.warning("dropping a message too short for a CCI header (%d bytes)", len(message))
            return None
        if hdr.category != cci.CATEGORY_REQUEST:
            log.warning("dropping a non-request message (category %d)", hdr.category)
            return None
        payload = bytes(memoryview(message)[cci.HEADER_SIZE:])      # one copy, whatever the type
        if hdr.payload_length != len(payload):
            return self._respond(hdr, PAYLOADLEN)
        if len(payload) > 1 << self.max_msg_size:
            # a mailbox takes no more than its size (Identify's max message size,
            # 2^n bytes), whatever the command: a bigger request is refused unread
            log.info("refusing opcode %04xh: a %d-byte payload, the mailbox takes %d",
                     hdr.opcode, len(payload), 1 << self.max_msg_size)
            return self._respond(hdr, PAYLOADLEN)
        if self.bg is not None and not self.bg.done:
            self._progress()        # work that is due takes effect before any command
        try:
            rc, data = self._dispatch(hdr.opcode, payload)
        except Reply as exc:
            rc, data = exc.return_code, b""
        except Exception:       # a model bug must not kill the server
            log.exception("internal error answering opcode %04xh", hdr.opcode)
            rc, data = INTERNAL, b""
        return self._respond(hdr, rc, data)

    def _respond(self, hdr, rc, data=b""):
        return cci.encode(hdr.opcode, data if rc in (SUCCESS, BACKGROUND) else b"", hdr.tag,
                          cci.CATEGORY_RESPONSE, return_code=rc,
                          background=(rc == BACKGROUND))

    def _dispatch(self, opcode, payload):
        if opcode == tunnel.OPCODE:
            return SUCCESS, self._tunnel(payload)
        if opcode >> 8 >= 0xC0:
            return SUCCESS, bytes(self.vendor_command(opcode, payload))
        entry = self._entry_for(opcode, payload)
        if entry is None:
            return UNSUPPORTED, b""
        handler = getattr(self, _method(entry.name))
        if self.bg is not None and not self.bg.done and entry.bg and opcode != 0x0002:
            self._progress()
            if not self.bg.done:
                raise Reply(BUSY, "a background operation is running")
        request = self._decode_request(entry, payload)
        result = handler(request) if entry.req_cls is not None or entry.call in (
            "req_buf", "req_data") else handler()
        if isinstance(result, Background):
            self._start(result, opcode)
            return BACKGROUND, b""
        if result is None:
            return SUCCESS, b""
        return SUCCESS, bytes(result)

    def _entry_for(self, opcode, payload):
        entry = registry.BY_OPCODE.get(opcode)
        if entry is None or not callable(getattr(self, _method(entry.name), None)):
            return None
        return entry

    @staticmethod
    def _decode_request(entry, payload):
        payload = codec.request_from_wire(entry, payload)
        cls = entry.req_cls
        if cls is None:
            return payload
        fixed = cls.fixed_size()
        if entry.req_min is not None and entry.req_min <= len(payload) < fixed:
            # A request that grew between spec revisions: the missing
            # trailing fields read as zero.
            payload = payload.ljust(fixed, b"\0")
        if len(payload) < fixed:
            raise Reply(PAYLOADLEN, "%s request of %d bytes, %d needed"
                        % (entry.name, len(payload), fixed))
        if cls._flex_ is None:
            if len(payload) != fixed:
                raise Reply(PAYLOADLEN, "%s request of %d bytes, %d expected"
                            % (entry.name, len(payload), fixed))
            return cls.from_buffer_copy(payload[:fixed])
        if entry.req_count:
            head = cls.from_buffer_copy(payload[:fixed])
            claimed = getattr(head, entry.req_count)
            elem = ctypes.sizeof(cls._flex_[1])
            absent = entry.tail_optional and len(payload) == fixed
            if fixed + claimed * elem != len(payload) and not absent:
                raise Reply(PAYLOADLEN, "%s: %s=%d does not match %d payload bytes"
                            % (entry.name, entry.req_count, claimed, len(payload)))
        return codec.size_tail(cls, payload, None)

    def vendor_command(self, opcode, payload):
        """Vendor-specific opcodes (C000h and up): none by default."""
        raise Reply(UNSUPPORTED, "no vendor command %04xh" % opcode)

    # ---------------------------------------------------------------- tunnels
    def tunnel_target(self, target_type, ident):
        """The device a Tunnel Management hop reaches, or None."""
        return None

    def _tunnel(self, payload):
        try:
            target_type, ident, inner = tunnel.split_request(payload)
        except CxlmiError:
            raise Reply(PAYLOADLEN, "malformed tunnel request")
        target = self.tunnel_target(target_type, ident)
        if target is None:
            raise Reply(INPUT, "no tunnel target type %d id %d" % (target_type, ident))
        inner_rsp = target.handle(inner)
        if inner_rsp is None:
            raise Reply(INPUT, "tunnelled message was not a request")
        return tunnel.build_response(inner_rsp)

    # ---------------------------------------------------------------- background
    def _start(self, op, opcode):
        op.opcode = opcode
        op.started = self.clock()
        op.done = False
        self.bg = op
        if op.duration == 0:
            self._progress()

    def _progress(self):
        """Percent complete of the current operation; completes it when due."""
        op = self.bg
        if op is None:
            return 0
        if op.done:
            return op.percent_at_end
        elapsed = self.clock() - op.started
        if elapsed >= op.duration:
            op.done = True
            try:
                if op.finish is not None:
                    op.finish()
            except Reply as exc:
                op.return_code = exc.return_code
            return 100
        return min(99, int(100 * elapsed / op.duration))

    def bg_busy(self):
        """True while a background operation is still running."""
        if self.bg is None:
            return False
        self._progress()
        return not self.bg.done

    def cmd_bg_op_status(self):
        rsp = types.get("cmd_bg_op_status_rsp")()
        if self.bg is not None:
            percent = self._progress()
            running = 0 if self.bg.done else 1
            rsp.status = running | (percent << 1)
            rsp.opcode = self.bg.opcode
            rsp.returncode = self.bg.return_code if self.bg.done else 0
        return rsp

    def cmd_request_bg_op_abort(self):
        op = self.bg
        if op is None or op.done or not self.bg_busy():
            return None
        if not op.abortable:
            raise Reply(NO_BGABORT, "this background operation cannot be aborted")
        op.percent_at_end = self._progress()
        op.done = True
        op.return_code = ABORT
        if op.on_abort is not None:
            op.on_abort()
        return None

    # ---------------------------------------------------------------- common commands
    def cmd_identify(self):
        return types.get("cmd_identify_rsp")(
            vendor_id=self.vendor_id, device_id=self.device_id,
            subsys_vendor_id=self.subsys_vendor_id, subsys_id=self.subsys_id,
            serial_num=self.serial, max_msg_size=self.max_msg_size,
            component_type=self.component_type)

    def cmd_get_response_msg_limit(self):
        return types.get("cmd_get_response_msg_limit_rsp")(limit=self.response_msg_limit)

    def cmd_set_response_msg_limit(self, req):
        if not 8 <= req.limit <= 20:
            raise Reply(INPUT, "response message limit must be 2^8..2^20")
        self.response_msg_limit = min(req.limit, self.max_msg_size)
        return types.get("cmd_set_response_msg_limit_rsp")(limit=self.response_msg_limit)

    def cmd_get_timestamp(self):
        now = 0
        if self.timestamp_base is not None:
            host_ns, at = self.timestamp_base
            now = host_ns + int((self.clock() - at) * 1e9)
        return types.get("cmd_get_timestamp_rsp")(timestamp=now)

    def cmd_set_timestamp(self, req):
        self.timestamp_base = (req.timestamp, self.clock())

    # ---------------------------------------------------------------- logs
    def command_effects(self):
        """(opcode, effects) for every command this model implements: the effects
        the registry declares for the commands that share the opcode."""
        out = []
        for canonical in self.implemented():
            effects = 0
            for entry in registry.COMMANDS:
                if entry.opcode == canonical.opcode:
                    effects |= entry.effect_bits
            out.append((canonical.opcode, effects))
        return out

    def cel_bytes(self):
        """The Command Effects Log: Get Log (CEL) reply entries, one per opcode."""
        entry = types.get("cmd_get_log_cel_rsp")
        return b"".join(bytes(entry(opcode=op, command_effect=eff))
                        for op, eff in self.command_effects())
