# SPDX-License-Identifier: LGPL-2.1-or-later
"""Context and Endpoint: open a target, send commands, get results back.

    with Context() as ctx:
        ep = ctx.open("emu:switch")
        info = ep.fmapi_get_ld_info(tunnel=Tunnel.switch(2))
        print(info.ld_count)

``Endpoint.call`` is the one path every command takes, the libcxlmi-compatible
``cxlmi_cmd_*`` functions included: encode the request, wrap it once per
tunnel hop, hand it to the transport with the right MCTP message type, unwrap
and check the reply, decode the payload.
"""

import os
import _thread

from . import cci, codec, peers, registry, targets, tunnel as _tunnel
from ._log import log
from .errors import CxlmiError, UsageError, NotSupported
from .transports import (BACKENDS as BUILTIN_BACKENDS, backend_class, open_transport,
                         MCTP_TYPE_CCI, MCTP_TYPE_FMAPI)
from . import workflows as _workflows


DEFAULT_TIMEOUT_MS = 5000
MAX_TIMEOUT_MS = 3600 * 1000

# Identify (0001h) component types that can take FM-API commands.
COMPONENT_TYPES = {0x00: "switch", 0x03: "type3"}


#: environment variables that turn the probe on open off (or on): ours first, then libcxlmi's
PROBE_ENV = ("CXLMI_PROBE", "LIBCXLMI_PROBE_ENABLED")
_OFF = ("0", "false", "no", "off")
_ON = ("1", "true", "yes", "on")


def probe_from_env(environ=None):
    """``CXLMI_PROBE`` / ``LIBCXLMI_PROBE_ENABLED``: False when one says 0/false/no/off,
    True otherwise (the default, and for any value it cannot read)."""
    environ = os.environ if environ is None else environ
    for name in PROBE_ENV:
        value = environ.get(name, "").strip().lower()
        if value in _OFF:
            return False
        if value in _ON:
            return True
        if value:
            log.warning("%s=%r is neither 0/false/no/off nor 1/true/yes/on; probing stays on",
                        name, value)
    return True


class Context:
    """Holds the endpoints opened under it; closing it closes them all.

    ``probe``: Identify every MCTP-reached endpoint on open (True), or not
    (False); None takes it from ``CXLMI_PROBE`` / ``LIBCXLMI_PROBE_ENABLED``
    (default on).
    """

    def __init__(self, fp=None, log_level=None, probe=None):
        self.fp = fp
        self.log_level = log_level
        self.endpoints = []
        self.probe_enabled = probe_from_env() if probe is None else bool(probe)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for ep in list(self.endpoints):
            ep.close()

    def _add(self, transport, target, probe=True, peer=None, mctp_type=None):
        ep = Endpoint(self, transport, target, peer=peer, mctp_type=mctp_type)
        self.endpoints.append(ep)
        if probe and self.probe_enabled:
            ep.probe()
        return ep

    def open(self, target, peer=None, mctp_type=None, **options):
        """Open an endpoint from a target string (see :mod:`targets`).

        ``peer``: a peer profile name (:mod:`peers`, e.g. ``"jrl"``); ``mctp_type``:
        7 or 8 to send every non-FM-API command as that MCTP message type instead of
        asking the endpoint (Get Message Type Support); the other options go to the
        transport.
        """
        backend, kwargs = targets.parse(target)
        peer = peers.get(peer)
        mctp_type = check_mctp_type(mctp_type)
        kwargs.update(options)
        if backend == "tcp" and not peer.is_spec:
            kwargs["peer"] = peer
        if backend == "mctp":
            for ep in self.endpoints:
                if ep.target_key == ("mctp", kwargs["net"], kwargs["eid"]):
                    raise UsageError("MCTP endpoint %d:%d is already open in this context"
                                     % (kwargs["net"], kwargs["eid"]))
        if backend in BUILTIN_BACKENDS:
            transport = open_transport(backend, **kwargs)
        else:                           # a plugin: it reads its own target text
            spec = kwargs.pop("spec")
            transport = backend_class(backend).from_target(spec, **kwargs)
        return self._add(transport, target, peer=peer, mctp_type=mctp_type)

    def open_mctp(self, net, eid, **options):
        return self.open("mctp:%d,%d" % (net, eid), **options)

    def open_mock(self):
        return self._add(open_transport("mock"), "mock", probe=False)

    def open_transport(self, transport, target=None, probe=True):
        """Wrap an already constructed transport (custom backends, tests)."""
        return self._add(transport, target or transport.describe(), probe)

    def scan(self):
        """Open every /dev/cxl endpoint; returns how many are open after it."""
        from . import discovery
        for dev in discovery.scan_devices():
            if any(ep.target == dev["devname"] for ep in self.endpoints):
                continue
            try:
                self.open(dev["devname"])
            except CxlmiError as exc:
                log.warning("%s: %s", dev["devname"], exc)
        return len(self.endpoints)

    def scan_mctp(self):
        """Open every MCTP endpoint mctpd reports as speaking CXL."""
        from . import discovery
        for found in discovery.scan_mctp():
            key = ("mctp", found["net"], found["eid"])
            if any(ep.target_key == key for ep in self.endpoints):
                continue
            try:
                self.open_mctp(found["net"], found["eid"])
            except CxlmiError as exc:
                log.warning("mctp %s,%s: %s", found["net"], found["eid"], exc)
        return len(self.endpoints)


def check_mctp_type(mctp_type):
    if mctp_type is None:
        return None
    try:
        value = int(mctp_type)
    except (TypeError, ValueError):
        value = None
    if value not in (MCTP_TYPE_FMAPI, MCTP_TYPE_CCI):
        raise UsageError("MCTP message type %r is not 7 (FM-API) or 8 (CCI)" % (mctp_type,))
    return value


#: the return code of a command the device goes on with in the background
RC_BACKGROUND_STARTED = 1


class BackgroundStarted:
    """What :meth:`Endpoint.call` returns when the device took the command and runs
    it in the background (return code 1, no reply payload): follow it with
    ``ep.bg_op_status()``, stop it with ``ep.request_bg_op_abort()``."""

    __slots__ = ("command", "opcode")

    def __init__(self, command, opcode):
        self.command, self.opcode = command, opcode

    def __repr__(self):
        return "BackgroundStarted(%s, %04Xh)" % (self.command, self.opcode)

    def __eq__(self, other):
        return isinstance(other, BackgroundStarted) and (other.command, other.opcode) == (
            self.command, self.opcode)

    def to_dict(self, decoded=False):
        return {"background_started": True, "command": self.command, "opcode": self.opcode}


def _hex(data, limit=64):
    data = bytes(data)
    if len(data) <= limit:
        return data.hex(" ")
    return "%s ... (%d bytes)" % (data[:limit].hex(" "), len(data))


def _log_exchange(opcode, command, message, reply):
    """The CCI messages of one command for -vv; a command that carries a passphrase
    shows its headers only (a log must not hold one)."""
    entry = registry.BY_NAME.get(command) if command else None
    secret = entry is not None and entry.passphrase
    header = cci.HEADER_SIZE
    shown = message[:header] if secret else message
    log.debug("%s (%04Xh): sent %s%s", command or "command", opcode, _hex(shown),
              " (payload not shown: a passphrase)" if secret else "")
    log.debug("%s (%04Xh): received %s", command or "command", opcode, _hex(reply))


class Endpoint(_workflows.WorkflowsMixin):   # transfer_firmware, wait, drain_events...
    def __init__(self, ctx, transport, target, peer=None, mctp_type=None):
        self.ctx = ctx
        self.transport = transport
        self.target = target
        self._lock = _thread.allocate_lock()     # (_thread: built in, nothing to import)
        self.peer = peers.get(peer)
        #: the MCTP message type of non-FM-API commands: 7 or 8 when fixed (an
        #: override, a peer profile, or learnt from the endpoint), None until asked
        self.mctp_type = check_mctp_type(mctp_type) or self.peer.generic_type
        self.timeout_ms = DEFAULT_TIMEOUT_MS
        self.has_fmapi = bool(getattr(transport, "fmapi_capable", True))
        self.component_type = None
        self.last_return_code = 0
        self.last_payload = b""     # the last reply's payload (for raw output)
        self.last_error = None
        self._tag = 0
        self._closed = False

    # -- identity -------------------------------------------------------
    @property
    def target_key(self):
        t = self.transport
        if t.name == "mctp":
            return ("mctp", t.net, t.eid)
        return (t.name, self.target)

    def __repr__(self):
        return "<Endpoint %s>" % self.target

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self._closed:
            return
        self._closed = True
        try:
            self.transport.close()
        finally:
            if self in self.ctx.endpoints:
                self.ctx.endpoints.remove(self)

    # Transports whose FM-API reach depends on what answers at the far end.
    PROBED = ("mctp", "tcp")

    def probe(self):
        """Identify an MCTP component; FM-API is offered to switches and type 3s.

        Kernel, emulated and mock endpoints are not probed (libcxlmi does not
        probe ioctl endpoints either: Identify 0001h has no named kernel
        command, and sending it RAW would taint the kernel on every open).

        A failed probe leaves the endpoint usable; the error is returned
        (None when the probe succeeded or was not needed).
        """
        if self.transport.name not in self.PROBED:
            return None
        try:
            ident = self.call("identify")
        except CxlmiError as exc:
            # never fatal: FM-API reach stays what the target string says
            log.debug("%s: probe failed: %s", self.target, exc)
            return exc
        if len(self.last_payload) < 18:
            # a CXL 2.0 reply has no component type: nothing learnt
            log.debug("%s: probe: Identify has no component type", self.target)
            return None
        self.component_type = ident.component_type
        self.has_fmapi = ident.component_type in COMPONENT_TYPES
        return None

    # -- the MCTP message type ------------------------------------------
    def cci_type(self):
        """The MCTP message type for commands outside the FM-API sets: 8 where the
        endpoint lists it in Get Message Type Support (asked once), else 7; an
        override (``mctp_type``) or a peer profile decides without asking."""
        if self.mctp_type is None:
            self.mctp_type = self._negotiate()
        return self.mctp_type

    def _negotiate(self):
        ask = getattr(self.transport, "message_types", None)
        if ask is None:
            return MCTP_TYPE_CCI        # not MCTP: the type only labels the command
        timeout = self.timeout_ms / 1000.0 if self.timeout_ms else None
        try:
            listed = ask(timeout)
        except CxlmiError as exc:
            log.debug("%s: Get Message Type Support failed (%s); sending CCI commands "
                      "as type 8", self.target, exc)
            return MCTP_TYPE_CCI
        if MCTP_TYPE_CCI not in listed and MCTP_TYPE_FMAPI in listed:
            log.debug("%s: the endpoint lists MCTP types %s: CCI commands go as type 7",
                      self.target, listed)
            return MCTP_TYPE_FMAPI
        return MCTP_TYPE_CCI

    # -- the one path --------------------------------------------------
    def next_tag(self):
        self._tag = (self._tag + 1) & 0xFF
        return self._tag

    def exchange(self, opcode, payload=b"", tunnel=None, fmapi=False, command=None):
        """Send one command; return ``(return_code, payload)`` of its reply.

        ``return_code`` is 0, or 1 when a background operation started;
        ``payload`` is a memoryview of exactly the reply's payload bytes.

        Raises DeviceError for a CXL error return code at any level,
        TransportError (or a child) for anything between.

        One exchange at a time per endpoint: threads sharing one take turns (a
        transport carries one request at a time, and the tag is the endpoint's).
        """
        with self._lock:
            return self._exchange(opcode, payload, tunnel, fmapi, command)

    def _exchange(self, opcode, payload, tunnel, fmapi, command):
        if self._closed:
            raise UsageError("endpoint %s is closed" % self.target)
        if tunnel is not None and type(tunnel) is not _tunnel.Tunnel:
            tunnel = _tunnel.coerce(tunnel)
        if (fmapi or tunnel) and not self.has_fmapi:
            # Tunnel Management (5300h) is itself an FM-API command.
            raise NotSupported("%s: FM-API commands%s are not enabled on this endpoint"
                               % (command or "0x%04x" % opcode,
                                  " (tunnels among them)" if tunnel else ""),
                               hint="cxlmi_endpoint_enable_fmapi() / a switch or MLD target")
        tag = self._tag = (self._tag + 1) & 0xFF
        message = cci.encode(opcode, payload, tag)
        timeout = self.timeout_ms / 1000.0 if self.timeout_ms else None
        peer = self.peer
        if tunnel:
            if not getattr(self.transport, "tunnels", True):
                raise NotSupported("%s cannot carry tunnelled commands" % self.transport.describe())
            outer, tags = _tunnel.wrap(message, tunnel, self.next_tag, peer.tunnel_type_byte)
            reply = self.transport.send(outer, MCTP_TYPE_FMAPI, timeout)
            if log.isEnabledFor(10):        # DEBUG (-vv): every message, as sent and received
                _log_exchange(opcode, command, outer, reply)
            if peer.category_high_nibble:
                reply = peers.from_high_nibble(reply)
            reply = _tunnel.unwrap(reply, tunnel, tags, peer.tunnel_type_byte,
                                   peers.from_high_nibble if peer.category_high_nibble
                                   else None)
        else:
            reply = self.transport.send(
                message, MCTP_TYPE_FMAPI if fmapi else (self.mctp_type or self.cci_type()),
                timeout)
            if log.isEnabledFor(10):
                _log_exchange(opcode, command, message, reply)
            if peer.category_high_nibble:
                reply = peers.from_high_nibble(reply)
        rc, _, body = cci.check_response(reply, tag, opcode, command)
        self.last_return_code = rc
        self.last_payload = body
        return rc, body

    def call(self, command, request=None, tunnel=None, **fields):
        """Run a registry command; return its decoded reply.

        ``command`` is a registry name (``"memdev_get_health_info"``) or an
        entry; ``request`` a structure, dict or bytes; keyword arguments are
        request fields (``ep.call("memdev_get_lsa", offset=0, length=64)``).
        """
        entry = command if isinstance(command, registry.Entry) else registry.get(command)
        if fields:
            if request is not None:
                raise UsageError("give request fields either as a request or as keywords")
            request = fields
        payload = codec.encode_request(entry, request)
        rc, body = self.exchange(entry.opcode, payload, tunnel, entry.fmapi, entry.name)
        if rc == RC_BACKGROUND_STARTED and not len(body):
            return BackgroundStarted(entry.name, entry.opcode)
        return codec.decode_response(entry, body, payload)

    def vendor_specific(self, opcode, payload=b"", tunnel=None):
        """Any opcode with a raw payload; returns the raw reply payload."""
        if not 0 <= opcode <= 0xFFFF:
            raise UsageError("opcode 0x%x is not a 16-bit value" % opcode)
        _, body = self.exchange(opcode, bytes(payload), tunnel,
                                (opcode >> 8) in registry.FMAPI_SETS,
                                registry.opcode_name(opcode))
        return bytes(body)

    def __getattr__(self, name):
        # ep.identify(), ep.memdev_get_health_info(tunnel=...), ... from the registry
        entry = registry.BY_NAME.get(name)
        if entry is None or name.startswith("_") or entry.call == "vendor":
            raise AttributeError("%s has no attribute or command %r"
                                 % (type(self).__name__, name))

        def command(request=None, tunnel=None, **fields):
            return self.call(entry, request, tunnel, **fields)
        command.__name__ = name
        command.__doc__ = entry.summary
        self.__dict__[name] = command       # later lookups skip __getattr__
        return command

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(registry.BY_NAME))
