# SPDX-License-Identifier: LGPL-2.1-or-later
"""Named emulator profiles: ``emu:type3``, ``emu:mld``, ``emu:switch``…

Each maps to ``module:function`` returning the root Device of that profile;
the module is imported only when the profile is built.
"""

import importlib

PROFILES = {
    "type3": ("cxlmi_bindings.emulator.type3:build", "Type 3 memory expander (single LD)"),
    "mld": ("cxlmi_bindings.emulator.mld:build", "Multi-logical device: 4 LDs, FM-owned LD CCI"),
    "switch": ("cxlmi_bindings.emulator.switch:build",
               "Switch: USP 0, type3 on 1, 4-LD MLD on 2, DCD on 3, 4-7 empty"),
    "mhd": ("cxlmi_bindings.emulator.mhd:build", "Multi-headed device with an LD pool CCI"),
    "dcd": ("cxlmi_bindings.emulator.dcd:build", "Dynamic capacity device"),
}


def build(profile, **options):
    try:
        path = PROFILES[profile][0]
    except KeyError:
        raise ValueError("unknown emulator profile %r (choose from %s)"
                         % (profile, ", ".join(PROFILES)))
    module, _, func = path.partition(":")
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        from ..errors import TransportError
        raise TransportError("the emulator profile %r is not part of this installation (%s is "
                             "missing)" % (profile, module)) from exc
    return getattr(found, func)(**options)
