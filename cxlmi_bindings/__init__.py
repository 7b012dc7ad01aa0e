# SPDX-License-Identifier: LGPL-2.1-or-later
"""cxlmi_bindings — the libcxlmi API in pure Python, plus a Pythonic layer.

Code written for libcxlmi's generated bindings runs unchanged::

    import cxlmi_bindings as cxlmi
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open(ctx, "mem0")          # or "mctp:1,8", "emu:type3"
    ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
    rc = cxlmi.cxlmi_cmd_identify(ep, None, ident)

and the Pythonic way::

    from cxlmi_bindings import Context, Tunnel
    with Context() as ctx:
        ep = ctx.open("emu:switch")
        print(ep.fmapi_get_ld_info(tunnel=Tunnel.switch(2)).ld_count)

Everything is imported on first use: ``import cxlmi_bindings`` costs almost
nothing, and the structures are built the first time one is asked for.
"""

__version__ = "0.1.0"

# libcxlmi's public #defines (C macros never reach its generated bindings).
CXLMI_MAX_SUPPORTED_EVENT_RECORDS = 20
CXLMI_MAX_SUPPORTED_LOGS = 7
CXL_MAILBOX_MAX_PAYLOAD_SIZE = 1 << 11
CXL_CAPACITY_MULTIPLIER = 256 * 1024 * 1024
CXLMI_NO_TUNNEL = None

# Event logs (Get/Clear Event Records "event log" field).
CXLMI_EVENT_LOG_INFO = 0
CXLMI_EVENT_LOG_WARN = 1
CXLMI_EVENT_LOG_FAIL = 2
CXLMI_EVENT_LOG_FATAL = 3
CXLMI_EVENT_LOG_DCD = 4

# Log UUIDs (Get Supported Logs / Get Log), as the 16 bytes on the wire.
from . import uuids as _uuids  # noqa: E402  (tiny, no dependencies)
CXLMI_LOG_UUID_CEL = _uuids.wire(_uuids.LOG["cel"])
CXLMI_LOG_UUID_VENDOR_DEBUG = _uuids.wire(_uuids.LOG["vendor-debug"])
CXLMI_LOG_UUID_COMPONENT_STATE_DUMP = _uuids.wire(_uuids.LOG["component-state-dump"])

# Return codes: CXLMI_RET_SUCCESS = 0 ... CXLMI_RET_NO_BGABORT = 32.
from .errors import RETURN_CODES as _RC  # noqa: E402  (tiny, no dependencies)
for _i, (_name, _) in enumerate(_RC):
    globals()["CXLMI_RET_" + _name] = _i
del _i, _name, _RC

_PYTHONIC = {
    "Context": "endpoint", "Endpoint": "endpoint", "BackgroundStarted": "endpoint",
    "Tunnel": "tunnel",
    "CxlmiError": "errors", "DeviceError": "errors", "TransportError": "errors",
    "UsageError": "errors", "ProtocolError": "errors", "CommandTimeout": "errors",
    "PermissionDenied": "errors", "DeviceNotFound": "errors", "NotSupported": "errors",
    "Cancelled": "errors", "Interrupted": "errors",
    "registry": None, "types": None, "codec": None, "targets": None, "cci": None,
    "tunnel": None, "errors": None, "uuids": None, "endpoint": None, "transports": None,
    "compat": None, "discovery": None, "emulator": None,
    "workflows": None,
}

_COMPAT_NAMES = (
    "cxlmi_new_ctx", "cxlmi_free_ctx", "cxlmi_set_probe_enabled", "cxlmi_open",
    "cxlmi_open_mctp", "cxlmi_open_mock", "cxlmi_scan", "cxlmi_scan_mctp", "cxlmi_close",
    "cxlmi_endpoint_get_timeout", "cxlmi_endpoint_set_timeout", "cxlmi_endpoint_has_fmapi",
    "cxlmi_endpoint_enable_fmapi", "cxlmi_endpoint_disable_fmapi", "cxlmi_first_endpoint",
    "cxlmi_next_endpoint", "endpoints", "cxlmi_cmd_retcode_tostr", "cxlmi_tunnel_mld",
    "cxlmi_tunnel_switch", "cxlmi_tunnel_switch_mld", "cxlmi_tunnel_mhd", "cxlmi_tunnel_free",
    "cxlmi_mock_set_response", "cxlmi_mock_clear_responses", "cxlmi_mock_get_stats",
    "cxlmi_mock_get_last_command",
)


def __getattr__(name):
    import importlib
    if name.startswith("struct_cxlmi_"):
        from . import types
        try:
            value = types.get(name)
        except KeyError:
            raise AttributeError("module %r has no structure %r" % (__name__, name)) from None
    elif name.startswith("cxlmi_cmd_") and name != "cxlmi_cmd_retcode_tostr":
        from . import compat
        try:
            value = compat.COMMAND_FUNCTIONS[name]
        except KeyError:
            raise AttributeError("module %r has no command %r" % (__name__, name)) from None
    elif name in _COMPAT_NAMES:
        from . import compat
        value = getattr(compat, name)
    elif name in _PYTHONIC:
        module = importlib.import_module("." + (_PYTHONIC[name] or name), __name__)
        value = module if _PYTHONIC[name] is None else getattr(module, name)
    else:
        raise AttributeError("module %r has no attribute %r" % (__name__, name))
    globals()[name] = value
    return value


def _all_names():
    from . import types, registry
    # libcxlmi's names (endpoints() for its cxlmi_for_each_endpoint macro) and the
    # Pythonic layer's classes; not __version__, which `import *` would lay over the
    # importer's own
    names = [n for n in globals() if n.startswith("CXL")]
    names += types.names()
    names += ["cxlmi_cmd_" + e.name for e in registry.COMMANDS]
    names += list(_COMPAT_NAMES)
    names += [n for n, mod in _PYTHONIC.items() if mod is not None]
    return names


def __dir__():
    return sorted(set(globals()) | set(_all_names()))


class _All(list):
    """``__all__`` computed on first use, so ``import *`` works and stays lazy."""

    def _fill(self):
        if not list.__len__(self):
            self.extend(_all_names())

    def __iter__(self):
        self._fill()
        return list.__iter__(self)

    def __len__(self):
        self._fill()
        return list.__len__(self)

    def __getitem__(self, i):
        self._fill()
        return list.__getitem__(self, i)

    def __contains__(self, name):
        self._fill()
        return list.__contains__(self, name)

    def __repr__(self):
        self._fill()
        return list.__repr__(self)

    def __eq__(self, other):
        self._fill()
        return list.__eq__(self, other)

    __hash__ = None

    def __reversed__(self):
        self._fill()
        return list.__reversed__(self)

    def index(self, *args):
        self._fill()
        return list.index(self, *args)

    def count(self, name):
        self._fill()
        return list.count(self, name)


__all__ = _All()
