# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 memory device model (single logical device).  Being filled in."""

from .device import Device

GiB = 1 << 30
CAPACITY_UNIT = 256 << 20     # partition and capacity fields count 256 MiB units


class Type3(Device):
    component_type = 0x03

    def __init__(self, serial=0x1122334455667788, volatile_bytes=1 * GiB,
                 persistent_bytes=1 * GiB, lsa_size=64 * 1024, **kwargs):
        super().__init__(**kwargs)
        self.serial = serial
        self.volatile_bytes = volatile_bytes
        self.persistent_bytes = persistent_bytes
        self.lsa = bytearray(lsa_size)


def build(**options):
    return Type3(**options)
