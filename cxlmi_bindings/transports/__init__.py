# SPDX-License-Identifier: LGPL-2.1-or-later
"""Transport backends, registered by name and imported only when used.

Each entry maps a backend name to ``module:Class``; :func:`open_transport`
imports the module the first time that backend is asked for, so a call that
uses the emulator never pays for sockets or ioctls and the reverse.

Other packages add backends through the ``cxl_mi.transports`` entry-point
group (``NAME = "package.module:Class"``, a :class:`Transport` subclass):
``NAME:SPEC`` then works as a target everywhere (``Class.from_target(SPEC)``
opens it) and ``cxl-mi list`` shows what ``Class.detect()`` finds.  A built-in
name cannot be taken over.
"""

import importlib

from .base import Transport, MCTP_TYPE_CCI, MCTP_TYPE_FMAPI, MCTP_TYPE_CONTROL

BACKENDS = {
    "mock": "cxlmi_bindings.transports.mock:MockTransport",
    "ioctl": "cxlmi_bindings.transports.ioctl:IoctlTransport",
    "fwctl": "cxlmi_bindings.transports.fwctl:FwctlTransport",
    "mctp": "cxlmi_bindings.transports.mctp:MctpTransport",
    "tcp": "cxlmi_bindings.transports.mctp_tcp:MctpTcpTransport",
    "emu": "cxlmi_bindings.transports.emulated:EmulatedTransport",
}


#: the entry-point group of transport plugins
PLUGIN_GROUP = "cxl_mi.transports"


def plugins():
    """name -> ``module:Class`` of the installed transport plugins (built-in names win)."""
    from .._plugins import entry_points
    return {name: ep.value for name, ep in entry_points(PLUGIN_GROUP).items()
            if name not in BACKENDS}


def backends():
    """Every backend name -> ``module:Class``: the built-in ones, then the plugins."""
    found = dict(BACKENDS)
    found.update(plugins())
    return found


def backend_class(name):
    try:
        path = BACKENDS[name]
    except KeyError:
        path = plugins().get(name)
        if path is None:
            raise ValueError("unknown transport backend %r (known: %s)"
                             % (name, ", ".join(sorted(backends()))))
    module, _, cls = path.partition(":")
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise                   # something the backend imports: not ours to explain
        from ..errors import TransportError
        raise TransportError("the %s transport is not part of this installation (%s is missing)"
                             % (name, module), hint="`cxl-mi list` shows the targets that work "
                                                    "here") from exc
    return getattr(found, cls)


def open_transport(name, **kwargs):
    return backend_class(name)(**kwargs)


__all__ = ["Transport", "BACKENDS", "PLUGIN_GROUP", "backends", "plugins", "backend_class",
           "open_transport",
           "MCTP_TYPE_CCI", "MCTP_TYPE_FMAPI", "MCTP_TYPE_CONTROL"]
