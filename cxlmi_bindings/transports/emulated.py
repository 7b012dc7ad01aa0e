# SPDX-License-Identifier: LGPL-2.1-or-later
"""In-process transport to an emulated component (``emu:PROFILE``).

The device lives as long as the endpoint: state changes persist across
commands sent through the same endpoint.  For state that outlives a process,
serve a profile with ``cxl-mi emulate`` and use ``tcp:HOST[:PORT]``.
"""

from ..errors import ProtocolError
from .base import Transport


class EmulatedTransport(Transport):
    name = "emu"

    def __init__(self, profile="type3", device=None, **options):
        if device is None:
            from ..emulator import profiles
            device = profiles.build(profile, **options)
        self.profile = profile
        self.device = device

    def describe(self):
        return "emulated %s" % self.profile

    @classmethod
    def detect(cls, **options):
        """Every emulator profile, and whether this installation has its model."""
        import importlib.util
        from ..emulator.profiles import PROFILES
        out = []
        for name, (path, description) in PROFILES.items():
            module = path.partition(":")[0]
            try:
                available = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                available = False
            out.append({"target": "emu:%s" % name, "profile": name,
                        "description": description, "available": available})
        return out

    def send(self, message, msg_type, timeout):
        response = self.device.handle(bytes(message), msg_type)
        if response is None:
            raise ProtocolError("the emulated %s dropped the message" % self.profile)
        return response
