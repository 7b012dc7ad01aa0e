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

from . import cci, codec, registry, targets, tunnel as _tunnel
from ._log import log
from .errors import CxlmiError, UsageError, NotSupported
from .transports import open_transport, MCTP_TYPE_CCI, MCTP_TYPE_FMAPI
from . import workflows as _workflows


DEFAULT_TIMEOUT_MS = 5000
MAX_TIMEOUT_MS = 3600 * 1000

# Identify (0001h) component types that can take FM-API commands.
COMPONENT_TYPES = {0x00: "switch", 0x03: "type3"}


class Context:
    """Holds the endpoints opened under it; closing it closes them all."""

    def __init__(self, fp=None, log_level=None):
        self.fp = fp
        self.log_level = log_level
        self.endpoints = []
        self.probe_enabled = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for ep in list(self.endpoints):
            ep.close()

    def _add(self, transport, target, probe=True):
        ep = Endpoint(self, transport, target)
        self.endpoints.append(ep)
        if probe and self.probe_enabled:
            ep.probe()
        return ep

    def open(self, target, **options):
        """Open an endpoint from a target string (see :mod:`targets`)."""
        backend, kwargs = targets.parse(target)
        kwargs.update(options)
        if backend == "mctp":
            for ep in self.endpoints:
                if ep.target_key == ("mctp", kwargs["net"], kwargs["eid"]):
                    raise UsageError("MCTP endpoint %d:%d is already open in this context"
                                     % (kwargs["net"], kwargs["eid"]))
        transport = open_transport(backend, **kwargs)
        return self._add(transport, target)

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


class Endpoint(_workflows.WorkflowsMixin):   # transfer_firmware, wait, drain_events...
    def __init__(self, ctx, transport, target):
        self.ctx = ctx
        self.transport = transport
        self.target = target
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
            log.debug("%s: probe failed: %s", self.target, exc)
            return exc
        self.component_type = ident.component_type
        self.has_fmapi = ident.component_type in COMPONENT_TYPES
        return None

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
        """
        if self._closed:
            raise UsageError("endpoint %s is closed" % self.target)
        if (fmapi or tunnel) and not self.has_fmapi:
            # Tunnel Management (5300h) is itself an FM-API command.
            raise NotSupported("%s: FM-API commands%s are not enabled on this endpoint"
                               % (command or "0x%04x" % opcode,
                                  " (tunnels among them)" if tunnel else ""),
                               hint="cxlmi_endpoint_enable_fmapi() / a switch or MLD target")
        tag = self._tag = (self._tag + 1) & 0xFF
        message = cci.encode(opcode, payload, tag)
        timeout = self.timeout_ms / 1000.0 if self.timeout_ms else None
        if tunnel:
            if not getattr(self.transport, "tunnels", True):
                raise NotSupported("%s cannot carry tunnelled commands" % self.transport.describe())
            outer, tags = _tunnel.wrap(message, tunnel, self.next_tag)
            reply = self.transport.send(outer, MCTP_TYPE_FMAPI, timeout)
            reply = _tunnel.unwrap(reply, tunnel, tags)
        else:
            reply = self.transport.send(message, MCTP_TYPE_FMAPI if fmapi else MCTP_TYPE_CCI,
                                        timeout)
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
