# SPDX-License-Identifier: LGPL-2.1-or-later
"""Multi-logical device (MLD) model: the FM-owned LD and the LDs behind it.

What answers at an ``emu:mld`` endpoint is the **FM-owned LD** (LD-ID FFFFh):
Identify, the MLD Component command set (54xxh: LD info, LD allocations, QoS
control / status / allocated bandwidth / bandwidth limit) and the Tunnel
Management Command, whose target type 0 with an LD-ID reaches one of the
**LDs** -- each a full Type 3 device model with its own state (LSA, partitions,
health, poison...).

Each LD also carries what a switch reaches with Send LD CXL.io Configuration /
Memory Request (5301h / 5302h): a 4 KiB PCIe configuration space (type 0
header, PCIe capability, CXL DVSEC header, a 64-bit memory BAR) and a small
memory space.  Those two commands belong to the *switch* (CXL r3.1 table 7-36
marks them prohibited on MLDs), so the MLD answers them UNSUPPORTED and
:class:`~cxlmi_bindings.emulator.switch.Switch` calls :meth:`MLD.ld_config`
and :meth:`MLD.ld_memory` for an MLD on one of its ports.

See docs/emulator-fabric.md for the defaults and every choice made here.
"""

import time

from .. import _log
from .device import Device, Reply, reply, INPUT, RESOURCEEXHAUSTED

log = _log.get("cxlmi.emulator.mld")

MiB = 1 << 20
GiB = 1 << 30

#: Get LD Allocations memory granularity encodings (CXL r3.1 table 7-46)
GRANULARITY_BYTES = {0: 256 * MiB, 1: 512 * MiB, 2: 1 * GiB}

#: Get LD Info QoS telemetry capability bits (table 7-44)
QOS_EGRESS_PORT_CONGESTION = 1 << 0
QOS_TEMP_THROUGHPUT_REDUCTION = 1 << 1

#: Largest Send LD CXL.io Memory Request transaction (table 7-41: 4 KB)
MAX_MEM_TRANSACTION = 0x1000

#: PCI-SIG vendor ID the CXL consortium uses for its DVSECs
CXL_DVSEC_VENDOR = 0x1E98


def _types(name):
    from .. import types
    return types.get(name)


# ------------------------------------------------------------------ config space

class ConfigSpace:
    """A 4 KiB PCIe configuration space with per-bit write masks.

    Bytes read back what was last written where the write mask lets a write
    through; everything else is read only (IDs, class code, capability
    headers) or reads as zero (unimplemented registers), as on hardware.
    Bits in the write-1-to-clear mask (status registers) clear when written
    with 1.  ``refresh`` is called before every read so live fields (link
    status) can be brought up to date.
    """

    SIZE = 4096

    def __init__(self, refresh=None):
        self.data = bytearray(self.SIZE)
        self.wmask = bytearray(self.SIZE)
        self.w1cmask = bytearray(self.SIZE)
        self.refresh = refresh

    def put(self, offset, size, value, wmask=0, w1c=0):
        self.data[offset:offset + size] = int(value).to_bytes(size, "little")
        self.wmask[offset:offset + size] = int(wmask).to_bytes(size, "little")
        if getattr(self, "w1cmask", None) is None:      # a space pickled before it had one
            self.w1cmask = bytearray(self.SIZE)
        self.w1cmask[offset:offset + size] = int(w1c).to_bytes(size, "little")

    def get(self, offset, size):
        return int.from_bytes(self.data[offset:offset + size], "little")

    def read(self, offset, byte_enable):
        """The dword at ``offset`` with the disabled bytes read as zero."""
        if self.refresh is not None:
            self.refresh(self)
        value = 0
        for i in range(4):
            if byte_enable & (1 << i):
                value |= self.data[offset + i] << (8 * i)
        return value

    def write(self, offset, byte_enable, value):
        w1c = getattr(self, "w1cmask", None)
        for i in range(4):
            if byte_enable & (1 << i):
                mask = self.wmask[offset + i]
                new = (value >> (8 * i)) & 0xFF
                byte = (self.data[offset + i] & ~mask & 0xFF) | (new & mask)
                if w1c is not None:
                    byte &= ~(new & w1c[offset + i]) & 0xFF
                self.data[offset + i] = byte


def decode_config_field(field):
    """Split the 3-byte request field of 5103h / 5301h (table 7-21).

    Bits[7:0] register number, bits[11:8] extended register number,
    bits[15:12] first dword byte enable, bit[23] transaction type (1 = write).
    Returns ``(byte offset, byte enable, is_write)``; the offset is dword
    aligned (bits 1:0 of the register number are ignored).
    """
    value = int.from_bytes(bytes(field), "little")
    register = value & 0xFF
    extended = (value >> 8) & 0xF
    byte_enable = (value >> 12) & 0xF
    is_write = bool(value >> 23 & 1)
    return (extended << 8) | (register & 0xFC), byte_enable, is_write


def config_access(space, field, data):
    """Run one CXL.io configuration request against ``space``; the read data."""
    offset, byte_enable, is_write = decode_config_field(field)
    if is_write:
        space.write(offset, byte_enable, data)
        return 0
    return space.read(offset, byte_enable)


class EndpointConfigSpace(ConfigSpace):
    """Type 0 header of an LD: a CXL memory device (class 05h/02h/10h)."""

    PCIE_CAP = 0x40
    DVSEC = 0x100

    def __init__(self, vendor_id, device_id, subsys_vendor_id, subsys_id, bar_size):
        super().__init__()
        self.bar_size = bar_size
        self.put(0x00, 2, vendor_id)
        self.put(0x02, 2, device_id)
        self.put(0x04, 2, 0, wmask=0x0547)          # command
        self.put(0x06, 2, 0x0010)                   # status: capabilities list
        self.put(0x08, 1, 0x01)                     # revision
        self.put(0x09, 3, 0x050210)                 # class: memory, CXL, CXL memory device
        self.put(0x0C, 1, 0, wmask=0xFF)            # cache line size
        self.put(0x0E, 1, 0x00)                     # header type 0
        self.put(0x10, 4, 0x4, wmask=~(bar_size - 1) & 0xFFFFFFF0)   # BAR0: 64-bit memory
        self.put(0x14, 4, 0, wmask=0xFFFFFFFF)      # BAR0 upper half
        self.put(0x2C, 2, subsys_vendor_id)
        self.put(0x2E, 2, subsys_id)
        self.put(0x34, 1, self.PCIE_CAP)            # capabilities pointer
        self.put(0x3C, 1, 0, wmask=0xFF)            # interrupt line
        self.put(0x3D, 1, 0x01)                     # interrupt pin INTA
        cap = self.PCIE_CAP
        self.put(cap, 2, 0x0010)                    # PCI Express capability, last in list
        self.put(cap + 0x02, 2, 0x0002)             # version 2, endpoint
        self.put(cap + 0x08, 2, 0x2810, wmask=0xFFFF)   # device control
        # PCIe extended capability: DVSEC (0023h) version 1, last one.
        self.put(self.DVSEC, 4, 0x0023 | (1 << 16))
        self.put(self.DVSEC + 4, 4, CXL_DVSEC_VENDOR | (1 << 16) | (0x3C << 20))
        self.put(self.DVSEC + 8, 2, 0x0000)         # DVSEC ID 0: PCIe DVSEC for CXL devices

    @property
    def bar0(self):
        return (self.get(0x10, 4) | self.get(0x14, 4) << 32) & ~0xF


# ------------------------------------------------------------------ the LDs

class LogicalDevice:
    """One LD: its Type 3 state plus what CXL.io requests reach."""

    def __init__(self, ld_id, device, config, memory):
        self.ld_id = ld_id
        self.device = device        # a Type3 Device: what tunnels reach
        self.config = config        # EndpointConfigSpace
        self.memory = memory        # bytearray: the LD's memory space (BAR0)


def _type3(**kwargs):
    from .type3 import Type3
    return Type3(**kwargs)


class MLD(Device):
    """The FM-owned LD of a multi-logical device, with its LDs.

    ``lds`` LDs share ``capacity`` bytes, allocated evenly at start in units
    of the memory ``granularity`` (0 = 256 MB, 1 = 512 MB, 2 = 1 GB).  Each LD
    is a Type 3 device whose volatile and persistent capacities split its
    allocation in half (rounded to 256 MiB).
    """

    component_type = 0x03       # QEMU: the FM-owned LD's CCI sits on a type 3 device
    device_id = 0x0D93
    serial = 0x4D4C440000000000

    def __init__(self, lds=4, capacity=4 * GiB, granularity=0, serial=None,
                 lsa_size=64 * 1024, mmio_size=64 * 1024, clock=time.monotonic,
                 qos_telemetry_capability=(QOS_EGRESS_PORT_CONGESTION
                                           | QOS_TEMP_THROUGHPUT_REDUCTION)):
        super().__init__(clock=clock)
        if not 1 <= lds <= 16:
            raise ValueError("an MLD has 1 to 16 LDs, not %d" % lds)
        if granularity not in GRANULARITY_BYTES:
            raise ValueError("memory granularity %r is not 0, 1 or 2" % (granularity,))
        if serial is not None:
            self.serial = serial
        self.capacity = capacity
        self.granularity = granularity
        self.qos_telemetry_capability = qos_telemetry_capability
        unit = GRANULARITY_BYTES[granularity]
        per_ld = (capacity // lds) // unit
        if per_ld < 1:
            raise ValueError("%d bytes cannot give %d LDs one %d-byte unit each"
                             % (capacity, lds, unit))
        #: [range 1 multiplier, range 2 multiplier] per LD
        self.allocations = [[per_ld, 0] for _ in range(lds)]
        # QoS control (table 7-50 defaults)
        self.qos_telemetry_control = 0
        self.egress_moderate_percentage = 10
        self.egress_severe_percentage = 25
        self.backpressure_sample_interval = 8
        self.recmpbasis = 0
        self.completion_collection_interval = 64
        #: what Get QoS Status reports while Egress Port Congestion is enabled
        self.backpressure_avg_percentage = 0
        self.qos_allocated_bw = [0] * lds
        self.qos_bw_limit = [0] * lds
        self.lds = []
        for ld_id in range(lds):
            ld_bytes = per_ld * unit
            volatile = (ld_bytes // 2) // (256 * MiB) * (256 * MiB)
            device = _type3(serial=self.serial + 1 + ld_id, volatile_bytes=volatile,
                            persistent_bytes=ld_bytes - volatile, lsa_size=lsa_size,
                            clock=clock)
            config = EndpointConfigSpace(self.vendor_id, self.device_id,
                                         self.subsys_vendor_id, self.subsys_id, mmio_size)
            self.lds.append(LogicalDevice(ld_id, device, config, bytearray(mmio_size)))

    # ---------------------------------------------------------------- helpers
    @property
    def ld_count(self):
        return len(self.lds)

    @property
    def unit(self):
        return GRANULARITY_BYTES[self.granularity]

    def allocated_bytes(self, ld_id):
        r1, r2 = self.allocations[ld_id]
        return (r1 + r2) * self.unit

    def _ld_range(self, start, count, what):
        if count < 1 or start + count > self.ld_count:
            raise Reply(INPUT, "%s: LDs %d..%d do not exist (the MLD has %d)"
                        % (what, start, start + count - 1, self.ld_count))

    def ld(self, ld_id):
        """The LD with ``ld_id``, or INVALID INPUT."""
        if not 0 <= ld_id < self.ld_count:
            raise Reply(INPUT, "no LD %d (the MLD has %d)" % (ld_id, self.ld_count))
        return self.lds[ld_id]

    def reset(self):
        """Conventional reset of the whole MLD (its port was reset / PERST)."""
        self.bg = None
        for ld in self.lds:
            reset = getattr(ld.device, "reset", None)
            if callable(reset):
                reset()
            ld.config.put(0x04, 2, 0, wmask=0x0547)

    # ---------------------------------------------------------------- tunnels
    def tunnel_target(self, target_type, ident):
        if target_type == 0 and 0 <= ident < self.ld_count:
            return self.lds[ident].device
        return None

    # ---------------------------------------------------------------- CXL.io (for the switch)
    def ld_config(self, ld_id, field, data):
        """Send LD CXL.io Configuration Request against LD ``ld_id``."""
        return config_access(self.ld(ld_id).config, field, data)

    def ld_memory(self, ld_id, address, length, data=None):
        """Send LD CXL.io Memory Request: read ``length`` bytes or write ``data``.

        ``address`` is an address in the LD's BAR0 once BAR0 is programmed,
        otherwise an offset into the LD's memory space.
        """
        ld = self.ld(ld_id)
        if length > MAX_MEM_TRANSACTION:
            raise Reply(INPUT, "memory transaction of %d bytes exceeds 4 KB" % length)
        base = ld.config.bar0
        offset = address - base if base and address >= base else address
        if offset < 0 or offset + length > len(ld.memory):
            raise Reply(INPUT, "memory request 0x%x+%d is outside LD %d's %d-byte space"
                        % (address, length, ld_id, len(ld.memory)))
        if data is None:
            return bytes(ld.memory[offset:offset + length])
        ld.memory[offset:offset + length] = bytes(data[:length])
        return b""

    # ---------------------------------------------------------------- 54xxh: MLD components
    def cmd_fmapi_get_ld_info(self):
        return _types("cmd_fmapi_get_ld_info_rsp")(
            memory_size=self.capacity, ld_count=self.ld_count,
            qos_telemetry_capability=self.qos_telemetry_capability)

    def _allocation_list(self, start, count):
        return [{"range_1_allocation_mult": r1, "range_2_allocation_mult": r2}
                for r1, r2 in self.allocations[start:start + count]]

    def cmd_fmapi_get_ld_allocations(self, req):
        start = req.start_ld_id
        count = max(0, min(req.ld_allocation_list_limit, self.ld_count - start))
        return reply("fmapi_get_ld_allocations", number_ld=self.ld_count,
                     memory_granularity=self.granularity, start_ld_id=start,
                     ld_allocation_list=self._allocation_list(start, count))

    def cmd_fmapi_set_ld_allocations(self, req):
        start, count = req.start_ld_id, req.number_ld
        self._ld_range(start, count, "set LD allocations")
        new = [list(a) for a in self.allocations]
        for i in range(count):
            entry = req.ld_allocation_list[i]
            new[start + i] = [entry.range_1_allocation_mult, entry.range_2_allocation_mult]
        total = sum((r1 + r2) for r1, r2 in new) * self.unit
        if total > self.capacity:
            raise Reply(RESOURCEEXHAUSTED, "allocations of %d bytes exceed the %d-byte capacity"
                        % (total, self.capacity))
        self.allocations = new
        return reply("fmapi_set_ld_allocations", start_ld_id=start,
                     ld_allocation_list=self._allocation_list(start, count))

    _QOS_FIELDS = ("qos_telemetry_control", "egress_moderate_percentage",
                   "egress_severe_percentage", "backpressure_sample_interval", "recmpbasis",
                   "completion_collection_interval")

    def _qos_control(self, name):
        cls = _types(name)
        return cls(**{f: getattr(self, f) for f in self._QOS_FIELDS})

    def cmd_fmapi_get_qos_control(self):
        return self._qos_control("cmd_fmapi_get_qos_control_rsp")

    def cmd_fmapi_set_qos_control(self, req):
        if req.qos_telemetry_control & ~0x03:
            raise Reply(INPUT, "QoS telemetry control bits 7:2 are reserved")
        if req.qos_telemetry_control & ~self.qos_telemetry_capability:
            raise Reply(INPUT, "QoS telemetry control enables a feature the MLD lacks")
        for name in ("egress_moderate_percentage", "egress_severe_percentage"):
            if not 1 <= getattr(req, name) <= 100:
                raise Reply(INPUT, "%s must be 1..100" % name)
        if req.backpressure_sample_interval > 15:
            raise Reply(INPUT, "backpressure sample interval must be 0..15")
        for name in self._QOS_FIELDS:
            setattr(self, name, getattr(req, name))
        return self._qos_control("cmd_fmapi_set_qos_control_rsp")

    def cmd_fmapi_get_qos_status(self):
        enabled = self.qos_telemetry_control & QOS_EGRESS_PORT_CONGESTION
        return _types("cmd_fmapi_get_qos_status_rsp")(
            backpressure_avg_percentage=self.backpressure_avg_percentage if enabled else 0)

    def _fractions(self, command, field, values, start, count):
        return reply(command, start_ld_id=start, **{field: values[start:start + count]})

    def _set_fractions(self, req, field, values):
        start, count = req.start_ld_id, req.number_ld
        self._ld_range(start, count, field)
        array = getattr(req, field)
        for i in range(count):
            values[start + i] = array[i]
        return start, count

    def cmd_fmapi_get_qos_allocated_bw(self, req):
        self._ld_range(req.start_ld_id, req.number_ld, "QoS allocated bandwidth")
        return self._fractions("fmapi_get_qos_allocated_bw", "qos_allocation_fraction",
                               self.qos_allocated_bw, req.start_ld_id, req.number_ld)

    def cmd_fmapi_set_qos_allocated_bw(self, req):
        start, count = self._set_fractions(req, "qos_allocation_fraction", self.qos_allocated_bw)
        return self._fractions("fmapi_set_qos_allocated_bw", "qos_allocation_fraction",
                               self.qos_allocated_bw, start, count)

    def cmd_fmapi_get_qos_bw_limit(self, req):
        self._ld_range(req.start_ld_id, req.number_ld, "QoS bandwidth limit")
        return self._fractions("fmapi_get_qos_bw_limit", "qos_limit_fraction",
                               self.qos_bw_limit, req.start_ld_id, req.number_ld)

    def cmd_fmapi_set_qos_bw_limit(self, req):
        start, count = self._set_fractions(req, "qos_limit_fraction", self.qos_bw_limit)
        return self._fractions("fmapi_set_qos_bw_limit", "qos_limit_fraction",
                               self.qos_bw_limit, start, count)


def build(**options):
    """The ``emu:mld`` profile: a 4-LD, 4 GiB MLD (options go to :class:`MLD`)."""
    return MLD(**options)
