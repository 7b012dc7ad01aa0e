# SPDX-License-Identifier: LGPL-2.1-or-later
"""Transport backends, registered by name and imported only when used.

Each entry maps a backend name to ``module:Class``; :func:`open_transport`
imports the module the first time that backend is asked for, so a call that
uses the emulator never pays for sockets or ioctls and the reverse.
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


def backend_class(name):
    try:
        path = BACKENDS[name]
    except KeyError:
        raise ValueError("unknown transport backend %r (known: %s)"
                         % (name, ", ".join(sorted(BACKENDS))))
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


__all__ = ["Transport", "BACKENDS", "backend_class", "open_transport",
           "MCTP_TYPE_CCI", "MCTP_TYPE_FMAPI", "MCTP_TYPE_CONTROL"]
