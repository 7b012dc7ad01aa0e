# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 memory device model (single logical device), with real state.

What a host or fabric manager sees at an ``emu:type3`` endpoint: one CXL
memory expander with volatile and persistent capacity, a label storage area,
health and alert thresholds, a poison list, media scans, sanitize and secure
erase, persistent-memory passphrase security, five event logs, firmware
slots, logs (CEL, vendor debug, component state dump), a real Feature
(device patrol scrub control), SLD QoS telemetry and media operations.

Behaviour follows the CXL specification (r3.1 / r3.2 section 8.2.10) and,
where the specification leaves a choice, QEMU's emulation
(hw/cxl/cxl-mailbox-utils.c, hw/cxl/cxl-events.c) or the Linux kernel's
mock device (tools/testing/cxl/test/mem.c).  docs/emulator-type3.md lists
every command, every choice and the default profile.

Other models build on this one (the MLD's LDs, the switch's SLD, the MHD's
LDs, the DCD): the public methods -- :meth:`Type3.reset`,
:meth:`Type3.lock`, :meth:`Type3.add_event`, :meth:`Type3.add_media_error`,
:meth:`Type3.set_health`, :meth:`Type3.read_media` /
:meth:`Type3.write_media` and :meth:`Type3.media_size` -- are the contract.

The model is split by command set.  This module holds the class: its state
(the constructor), reset, the public methods above that are not a command
set's, the framework hooks, Identify and the partition and LSA commands
(40xxh, 41xxh).  The command sets are mixins, each in its own module:

    t3_events    EventLog, add_event, Events (01xxh)
    t3_firmware  Firmware Update (02xxh)
    t3_logs      Logs (04xxh): CEL, vendor debug log, component state dump
    t3_features  Feature, the RAS Features (scrub, ECS, PPR, sparing), Features (05xxh)
    t3_health    set_health, Health Info and Alerts, shutdown state (42xxh)
    t3_poison    add_media_error, the poison list, Scan Media (43xxh)
    t3_media     read_media / write_media, the media checks, Sanitize,
                 Secure Erase, Media Operations (44xxh)
    t3_security  Persistent Memory Data-at-rest Security (45xxh)
    t3_sld_qos   SLD QoS telemetry (47xxh)
    t3_constants the constants several of them share

Each mixin's docstring says what it uses from the others.  Every name those
modules define that used to live here is re-exported (``type3.EventLog``,
``type3.SEC_LOCKED``...), so imports and state files pickled by ``cxl-mi
emulate --state`` keep working.
"""

import time

from .device import Device, Reply, INPUT, UNSUPPORTED, MEDIADISABLED, INTERRUPTED
from .. import _log, registry, types
from ..types.generic import MAINTENANCE_CLASS
from .t3_constants import (  # noqa: F401 (re-exported)
    MiB, GiB, CAPACITY_UNIT, CACHELINE, GENERAL_MEDIA_EVENT_UUID, DRAM_EVENT_UUID,
    MEMORY_MODULE_EVENT_UUID, DC_EVENT_UUID, EVENT_LOG_INFO, EVENT_LOG_WARNING, EVENT_LOG_FAILURE,
    EVENT_LOG_FATAL, EVENT_LOG_DC, EVENT_LOG_NAMES, EVENT_FLAG_PERMANENT, EVENT_FLAG_MAINT_NEEDED,
    EVENT_FLAG_PERF_DEGRADED, EVENT_FLAG_HW_REPLACE)
from .t3_events import (  # noqa: F401 (re-exported)
    EVENTS_OVERFLOW, EVENTS_MORE, EventLog, EventsMixin)
from .t3_firmware import (  # noqa: F401 (re-exported)
    FW_XFER_UNIT, FW_FULL, FW_INITIATE, FW_CONTINUE, FW_END, FW_ABORT, FW_ACTIVATE_ONLINE,
    FW_ACTIVATE_ON_RESET, FW_CAP_ONLINE_ACTIVATION, FW_MAX_PACKAGE, FirmwareMixin)
from .t3_logs import (  # noqa: F401 (re-exported)
    CEL_UUID, VENDOR_DEBUG_LOG_UUID, COMPONENT_STATE_DUMP_UUID, LOGCAP_CLEAR, LOGCAP_POPULATE,
    LOGCAP_AUTO_POPULATE, LOGCAP_PERSISTENT, LogsMixin)
from .t3_features import (  # noqa: F401 (re-exported)
    FEATUREVERSION, FEATURESELVALUE, FEATURETRANSFERIP, FEATURETRANSFEROOO, PATROL_SCRUB_UUID,
    FEAT_CHANGEABLE, FEAT_PERSIST_COLD_RESET, FEAT_DEFAULT_SELECTION, FEAT_SAVED_SELECTION,
    FEAT_SEL_CURRENT, FEAT_SEL_DEFAULT, FEAT_SEL_SAVED, FEAT_FULL, FEAT_INITIATE, FEAT_CONTINUE,
    FEAT_FINISH, FEAT_ABORT, FEAT_SAVED_ACROSS_RESET, FEAT_CURRENT_TRANSFER, Feature, PatrolScrub,
    FeaturesMixin, ras_features)
from .t3_health import (  # noqa: F401 (re-exported)
    MMER_HEALTH_CHANGE, MMER_MEDIA_CHANGE, MMER_LIFE_USED_CHANGE, MMER_TEMP_CHANGE,
    ALERT_LIFE_USED, ALERT_OVER_TEMP, ALERT_UNDER_TEMP, ALERT_COR_VMEM, ALERT_COR_PMEM, ALERTS_ALL,
    HEALTH_MAINT_NEEDED, HEALTH_PERF_DEGRADED, HEALTH_HW_REPLACE, MEDIA_NORMAL, MEDIA_NOT_READY,
    MEDIA_WRITE_PERSISTENCY_LOST, MEDIA_ALL_DATA_LOST, HealthMixin)
from .t3_poison import (  # noqa: F401 (re-exported)
    GMER_DESC_UNCORRECTABLE, GMER_DESC_THRESHOLD, GMER_DESC_POISON_LIST_OVERFLOW, GMER_TYPE_ECC,
    GMER_TRANS_UNKNOWN, GMER_TRANS_HOST_READ, GMER_TRANS_HOST_WRITE, GMER_TRANS_SCAN_MEDIA,
    GMER_TRANS_INJECT_POISON, GMER_TRANS_MEDIA_SCRUB, SOURCE_UNKNOWN, SOURCE_EXTERNAL,
    SOURCE_INTERNAL, SOURCE_INJECTED, SOURCE_VENDOR, POISON_MORE, POISON_OVERFLOW,
    POISON_SCAN_RUNNING, POISON_RESTART_ACK, POISON_CAP_PERSISTENT_INJECTION, POISON_CAP_SCANS,
    SCAN_NO_EVENT_LOG, SCAN_RESULTS_MORE, SCAN_RESULTS_STOPPED, scan_ms_for, PoisonMixin)
from .t3_media import (  # noqa: F401 (re-exported)
    MEDIA_OP_GENERAL, MEDIA_OP_SANITIZE, MEDIA_OP_DISCOVERY, MEDIA_OP_SUB_SANITIZE,
    MEDIA_OP_SUB_ZERO, MEDIA_OPS, sanitize_seconds_for, MediaMixin)
from .t3_security import (  # noqa: F401 (re-exported)
    SEC_USER_PASS_SET, SEC_MASTER_PASS_SET, SEC_LOCKED, SEC_FROZEN, SEC_USER_PLIMIT,
    SEC_MASTER_PLIMIT, PASS_MASTER, PASS_USER, SecurityMixin)
from .t3_sld_qos import (  # noqa: F401 (re-exported)
    QOS_EGRESS_PORT_CONGESTION, QOS_TEMP_THROUGHPUT_REDUCTION, SldQosMixin)

log = _log.get("cxlmi.emulator.type3")

class Type3(EventsMixin, FirmwareMixin, LogsMixin, FeaturesMixin, HealthMixin, PoisonMixin,
            MediaMixin, SecurityMixin, SldQosMixin, Device):
    """A CXL Type 3 memory device (one logical device).

    The command sets are the mixins' (see the module docstring); this class
    holds the state they share, reset and the capacity, partition and LSA
    commands.
    """

    component_type = 0x03

    def __init__(self, serial=0x1122334455667788, volatile_bytes=1 * GiB,
                 persistent_bytes=1 * GiB, lsa_size=64 * 1024, *, clock=time.monotonic,
                 partition_align_bytes=CAPACITY_UNIT, volatile_only_bytes=0,
                 persistent_only_bytes=0, poison_list_max=256, inject_poison_limit=128,
                 event_log_sizes=(32, 16, 16, 8, 8), fw_slots=3, fw_revision="EMU FW 1.0.0",
                 passphrase_limit=3, sanitize_seconds=None, secure_erase_seconds=1.0,
                 fw_transfer_seconds=0.0, populate_seconds=0.5, **kwargs):
        super().__init__(clock=clock, **kwargs)
        for name, value in (("volatile_bytes", volatile_bytes),
                            ("persistent_bytes", persistent_bytes),
                            ("partition_align_bytes", partition_align_bytes),
                            ("volatile_only_bytes", volatile_only_bytes),
                            ("persistent_only_bytes", persistent_only_bytes)):
            if value < 0 or value % CAPACITY_UNIT:
                raise ValueError("%s must be a multiple of 256 MiB, not %d" % (name, value))
        if partition_align_bytes == 0:
            volatile_only_bytes, persistent_only_bytes = volatile_bytes, persistent_bytes
        if volatile_only_bytes > volatile_bytes or persistent_only_bytes > persistent_bytes:
            raise ValueError("the volatile-only / persistent-only capacity exceeds the "
                             "active volatile / persistent capacity")
        if not 1 <= fw_slots <= 4:
            raise ValueError("a device has 1 to 4 firmware slots, not %d" % fw_slots)
        if len(event_log_sizes) != 5:
            raise ValueError("event_log_sizes gives the size of the 5 event logs")
        self.serial = serial
        self.total_bytes = volatile_bytes + persistent_bytes
        self.volatile_bytes = volatile_bytes            # active partition
        self.persistent_bytes = persistent_bytes
        self.volatile_only_bytes = volatile_only_bytes
        self.persistent_only_bytes = persistent_only_bytes
        self.partition_align_bytes = partition_align_bytes
        self.next_partition = None                      # (volatile, persistent) at reset
        self.lsa = bytearray(lsa_size)
        self.media = {}                                 # cacheline DPA -> 64 bytes
        self.media_disabled = False
        # poison
        self.poison_list_max = poison_list_max
        self.inject_poison_limit = inject_poison_limit
        self.poison = []                                # [dpa, length, source], sorted
        self.untracked_errors = []                      # errors the full list could not hold
        self.ppr_repairs = []                           # (dpa, "soft"/"hard", nibble mask)
        self.sparing_repairs = []                       # {granularity, kind, where it acted}
        self.poison_overflow_ts = None
        self._poison_cursor = None
        # scan media
        self.scan_results = None                        # None: no scan since reset
        self.scan_restart = (0, 0)
        self.scan_flags = 0
        self._scan = None
        # health, alerts, shutdown state
        self.health_status = 0
        self.media_status = MEDIA_NORMAL
        self.life_used = 3
        self.temperature = 35
        self.dirty_shutdown_count = 0
        self.corrected_volatile_errors = 0
        self.corrected_persistent_errors = 0
        self.shutdown_dirty = False
        self.life_used_critical = 90
        self.over_temp_critical = 85
        self.under_temp_critical = -10
        self._reset_alerts()
        # security
        self.passphrase_limit = passphrase_limit
        self.user_passphrase = None
        self.master_passphrase = None
        self.locked = False
        self.frozen = False
        self.user_attempts = 0
        self.master_attempts = 0
        # events
        self.event_logs = [EventLog(n) for n in event_log_sizes]
        self.mctp_event_interrupts = 0
        self.notifications = []
        # firmware
        self.fw_slots = [None] * fw_slots
        self.fw_slots[0] = fw_revision
        self.fw_active = 1
        self.fw_staged = 0
        self._fw_xfer = None
        self.fw_transfer_seconds = fw_transfer_seconds
        # logs
        self.debug_log = bytearray()
        self.debug_log_max = 4096
        self.state_dump = b""
        self.populate_seconds = populate_seconds
        # features
        self.features = ras_features()                  # patrol scrub, ECS, PPR, sparing
        self._feat_xfer = None
        # QoS
        self.qos_control = QOS_EGRESS_PORT_CONGESTION
        self.egress_moderate = 10
        self.egress_severe = 25
        self.backpressure_interval = 8
        self.backpressure = 0            # what Get SLD QoS Status reports when enabled
        # background durations
        self.sanitize_seconds = sanitize_seconds
        self.secure_erase_seconds = secure_erase_seconds
        self.debug("power on: %d MiB volatile, %d MiB persistent"
                   % (volatile_bytes >> 20, persistent_bytes >> 20))

    # ================================================================ public model API
    def media_size(self):
        """Bytes of device physical address space that poison and scans may name."""
        return self.total_bytes

    def is_persistent(self, dpa, length=1):
        """True when [dpa, dpa+length) touches the persistent partition."""
        return dpa + length > self.volatile_bytes and dpa < self.total_bytes

    def now_ns(self):
        """The device timestamp (ns since the epoch; 0 until Set Timestamp)."""
        if self.timestamp_base is None:
            return 0
        host_ns, at = self.timestamp_base
        return host_ns + int((self.clock() - at) * 1e9)

    def debug(self, text):
        """Append a line to the Vendor Debug Log."""
        line = ("[%d] %s\n" % (self.now_ns(), text)).encode()
        self.debug_log += line
        if len(self.debug_log) > self.debug_log_max:
            cut = self.debug_log.index(b"\n", len(self.debug_log) - self.debug_log_max) + 1
            del self.debug_log[:cut]

    def reset(self, kind="cold"):
        """A Conventional (cold) reset: what the device does before its next command.

        Background operations stop (an interrupted sanitize leaves the media
        disabled); the next partition and the staged firmware become active;
        a set user passphrase locks the device; freeze and passphrase retry
        counts clear; a dirty shutdown state counts a dirty shutdown; Features
        take their saved values; transfers in progress are abandoned; alert
        thresholds return to their defaults; volatile contents and volatile
        poison are lost; the timestamp must be set again.
        """
        op = self.bg
        if op is not None and not op.done and self.bg_busy():
            op.done = True
            op.return_code = INTERRUPTED
            if op.on_abort is not None:
                op.on_abort()
        self.bg = None
        if self.next_partition is not None:
            self._apply_partition(*self.next_partition)
        if self.fw_staged:
            self.fw_active, self.fw_staged = self.fw_staged, 0
        self._fw_xfer = None
        self._feat_xfer = None
        for feature in self.features:
            feature.current = bytes(feature.saved)
        # soft repairs and soft sparing last until a reset
        self.ppr_repairs = [r for r in self.ppr_repairs if r[1] != "soft"]
        self.sparing_repairs = [r for r in self.sparing_repairs
                                if r["kind"] != "soft"]
        if self.user_passphrase is not None:
            self.locked = True
        self.frozen = False
        self.user_attempts = self.master_attempts = 0
        if self.shutdown_dirty:
            self.dirty_shutdown_count = (self.dirty_shutdown_count + 1) & 0xFFFFFFFF
            self.shutdown_dirty = False
        self._reset_alerts()
        for dpa in [d for d in self.media if d < self.volatile_bytes]:
            del self.media[dpa]
        # volatile poison is lost; a record straddling the partitions keeps its persistent part
        vb = self.volatile_bytes
        self.poison, self.untracked_errors = (
            [[max(d, vb), d + n - max(d, vb), s] for d, n, s in records if d + n > vb]
            for records in (self.poison, self.untracked_errors))
        self._poison_cursor = None
        self.scan_results = None
        self.scan_flags = 0
        self.scan_restart = (0, 0)
        self.response_msg_limit = self.max_msg_size
        self.timestamp_base = None
        self.debug("%s reset" % kind)

    def lock(self):
        """Lock the persistent memory, as a reset does when a user passphrase is set."""
        if self.user_passphrase is None:
            return False
        self.locked = True
        return True

    # ================================================================ framework hooks
    def _entry_for(self, opcode, payload):
        # 4402h carries two request layouts: class 0 is discovery, the others
        # the range-list form (sanitize / zero).
        if opcode == 0x4402 and payload and payload[0] != MEDIA_OP_GENERAL:
            return registry.BY_NAME["memdev_media_operations_sanitize"]
        # 0600h too: the memory sparing class has a request layout of its own
        if opcode == 0x0600 and payload and payload[0] == MAINTENANCE_CLASS["memory-sparing"]:
            return registry.BY_NAME["perform_maintenance_sparing"]
        return super()._entry_for(opcode, payload)

    # ================================================================ helpers
    # (payload_max serves every command set; _check_media and _check_unlocked,
    # which the partition and LSA commands use too, live in t3_media.py)
    def payload_max(self):
        return 1 << min(self.response_msg_limit, self.max_msg_size)

    def _apply_partition(self, volatile, persistent):
        self.volatile_bytes, self.persistent_bytes = volatile, persistent
        self.next_partition = None
        self._wipe_media()        # changing the partitioning loses the data stored
        self.debug("partition now %d MiB volatile, %d MiB persistent"
                   % (volatile >> 20, persistent >> 20))

    # ================================================================ identify (40xxh)
    def cmd_memdev_identify(self):
        rsp = types.get("cmd_memdev_identify_rsp")()
        rsp.fw_revision = (self.fw_slots[self.fw_active - 1] or "").encode()[:16]
        rsp.total_capacity = self.total_bytes // CAPACITY_UNIT
        rsp.volatile_capacity = self.volatile_only_bytes // CAPACITY_UNIT
        rsp.persistent_capacity = self.persistent_only_bytes // CAPACITY_UNIT
        rsp.partition_align = self.partition_align_bytes // CAPACITY_UNIT
        (rsp.info_event_log_size, rsp.warning_event_log_size, rsp.failure_event_log_size,
         rsp.fatal_event_log_size) = [e.size for e in self.event_logs[:4]]
        rsp.dc_event_log_size = self.event_logs[EVENT_LOG_DC].size
        rsp.lsa_size = len(self.lsa)
        rsp.poison_list_max_mer = self.poison_list_max.to_bytes(3, "little")
        rsp.inject_poison_limit = self.inject_poison_limit
        rsp.poison_caps = POISON_CAP_PERSISTENT_INJECTION | POISON_CAP_SCANS
        rsp.qos_telemetry_caps = QOS_EGRESS_PORT_CONGESTION | QOS_TEMP_THROUGHPUT_REDUCTION
        return rsp

    # ================================================================ partitions and LSA (41xxh)
    def cmd_memdev_get_partition_info(self):
        rsp = types.get("cmd_memdev_get_partition_info_rsp")()
        rsp.active_vmem = self.volatile_bytes // CAPACITY_UNIT
        rsp.active_pmem = self.persistent_bytes // CAPACITY_UNIT
        if self.next_partition is not None:
            rsp.next_vmem = self.next_partition[0] // CAPACITY_UNIT
            rsp.next_pmem = self.next_partition[1] // CAPACITY_UNIT
        return rsp

    def cmd_memdev_set_partition_info(self, req):
        if self.partition_align_bytes == 0:
            raise Reply(UNSUPPORTED, "the device has no partitionable capacity")
        self._check_media("set partition info")
        immediate = req.flags & 1
        if immediate:
            self._check_unlocked(what="set partition info")
        partitionable = self.total_bytes - self.volatile_only_bytes - self.persistent_only_bytes
        share = req.volatile_capacity * CAPACITY_UNIT
        if share > partitionable or share % self.partition_align_bytes:
            raise Reply(INPUT, "volatile share of %d x 256 MiB is not a multiple of the "
                        "%d-unit alignment within the %d partitionable units"
                        % (req.volatile_capacity, self.partition_align_bytes // CAPACITY_UNIT,
                           partitionable // CAPACITY_UNIT))
        volatile = self.volatile_only_bytes + share
        persistent = self.total_bytes - volatile
        if immediate:
            self._apply_partition(volatile, persistent)
        elif (volatile, persistent) == (self.volatile_bytes, self.persistent_bytes):
            self.next_partition = None
        else:
            self.next_partition = (volatile, persistent)
        return None

    def cmd_memdev_get_lsa(self, req):
        self._check_media("get lsa")
        if self.locked:
            raise Reply(MEDIADISABLED, "get lsa: the persistent memory is locked")
        if req.length > self.payload_max():
            raise Reply(INPUT, "length %d exceeds the %d-byte response limit"
                        % (req.length, self.payload_max()))
        if req.offset + req.length > len(self.lsa):
            raise Reply(INPUT, "offset %d + length %d runs past the %d-byte LSA"
                        % (req.offset, req.length, len(self.lsa)))
        return bytes(self.lsa[req.offset:req.offset + req.length])

    def cmd_memdev_set_lsa(self, req):
        self._check_media("set lsa")
        self._check_unlocked(what="set lsa")
        data = bytes(req.data)
        if req.offset + len(data) > len(self.lsa):
            raise Reply(INPUT, "offset %d + %d bytes runs past the %d-byte LSA"
                        % (req.offset, len(data), len(self.lsa)))
        self.lsa[req.offset:req.offset + len(data)] = data
        return None


def build(**options):
    """The ``emu:type3`` profile: a 2 GiB (1 GiB volatile + 1 GiB persistent,
    all partitionable) memory expander with a 64 KiB LSA."""
    return Type3(**options)
