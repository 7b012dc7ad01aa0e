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
LDs, the DCD): the public methods below -- :meth:`Type3.reset`,
:meth:`Type3.lock`, :meth:`Type3.add_event`, :meth:`Type3.add_media_error`,
:meth:`Type3.set_health`, :meth:`Type3.read_media` /
:meth:`Type3.write_media` and :meth:`Type3.media_size` -- are the contract.
"""

import ctypes
import json
import logging
import struct
import time
import uuid as _uuid

from .device import (Device, Background, Reply, INPUT, UNSUPPORTED, BUSY,
                     MEDIADISABLED, FWINPROGRESS, FWOOO, FWAUTH, FWSLOT, HANDLE, PADDR,
                     POISONLMT, SECURITY, PASSPHRASE, LOG, INTERRUPTED,
                     CEL_CONFIG_CHANGE_COLD_RESET, CEL_CONFIG_CHANGE_IMMEDIATE,
                     CEL_DATA_CHANGE_IMMEDIATE, CEL_POLICY_CHANGE_IMMEDIATE,
                     CEL_LOG_CHANGE_IMMEDIATE, CEL_SECURITY_CHANGE, CEL_BACKGROUND)
from .. import registry, types

log = logging.getLogger("cxlmi.emulator.type3")

MiB = 1 << 20
GiB = 1 << 30
CAPACITY_UNIT = 256 << 20     # partition and capacity fields count 256 MiB units
CACHELINE = 64                # poison, scan and media-operation granularity
FW_XFER_UNIT = 128            # Transfer FW offsets count 128-byte units

# Return codes device.py does not name (CXL r3.1 table 8-34).
FEATUREVERSION, FEATURESELVALUE, FEATURETRANSFERIP, FEATURETRANSFEROOO = 25, 26, 27, 28

# CEL effect bits beyond device.py's (CXL r3.1 table 8-87).
CEL_ABORT_SUPPORTED = 1 << 8


def _uuid_bytes(text):
    """Wire bytes of a UUID: the RFC 4122 byte order, as QEMU and Linux send them."""
    return _uuid.UUID(text).bytes


# Log identifiers (CXL r3.2 table 8-83).
CEL_UUID = _uuid_bytes("0da9c0b5-bf41-4b78-8f79-96b1623b3f17")
VENDOR_DEBUG_LOG_UUID = _uuid_bytes("5e1819d9-11a9-400c-811f-d60719403d86")
COMPONENT_STATE_DUMP_UUID = _uuid_bytes("b3fab4cf-01b6-4332-943e-5e9962f23567")

# Event record identifiers (CXL r3.1 8.2.9.2.1).
GENERAL_MEDIA_EVENT_UUID = _uuid_bytes("fbcd0a77-c260-417f-85a9-088b1621eba6")
DRAM_EVENT_UUID = _uuid_bytes("601dcbb3-9c06-4eab-b8af-4e9bfb5c9624")
MEMORY_MODULE_EVENT_UUID = _uuid_bytes("fe927475-dd59-4339-a586-79bab113b774")
DC_EVENT_UUID = _uuid_bytes("ca95afa7-f183-4018-8c2f-95268e101a2a")

# Features (CXL r3.1 8.2.9.9.11.1).
PATROL_SCRUB_UUID = _uuid_bytes("96dad7d6-fde8-482b-a733-75774e06db8a")

# Event logs (Get Event Records "Event Log" field).
EVENT_LOG_INFO, EVENT_LOG_WARNING, EVENT_LOG_FAILURE, EVENT_LOG_FATAL, EVENT_LOG_DC = range(5)
EVENT_LOG_NAMES = ("informational", "warning", "failure", "fatal", "dynamic capacity")

# Common event record flags, byte 0 (bits 1:0 severity).
EVENT_FLAG_PERMANENT = 1 << 2
EVENT_FLAG_MAINT_NEEDED = 1 << 3
EVENT_FLAG_PERF_DEGRADED = 1 << 4
EVENT_FLAG_HW_REPLACE = 1 << 5

# Get Event Records flags.
EVENTS_OVERFLOW = 1 << 0
EVENTS_MORE = 1 << 1

# General media event record: descriptor, type, transaction type.
GMER_DESC_UNCORRECTABLE = 1 << 0
GMER_DESC_THRESHOLD = 1 << 1
GMER_DESC_POISON_LIST_OVERFLOW = 1 << 2
GMER_TYPE_ECC = 0x00
GMER_TRANS_UNKNOWN, GMER_TRANS_HOST_READ, GMER_TRANS_HOST_WRITE = 0, 1, 2
GMER_TRANS_SCAN_MEDIA, GMER_TRANS_INJECT_POISON, GMER_TRANS_MEDIA_SCRUB = 3, 4, 5

# Memory module event types.
MMER_HEALTH_CHANGE, MMER_MEDIA_CHANGE, MMER_LIFE_USED_CHANGE, MMER_TEMP_CHANGE = 0, 1, 2, 3

# Poison: media error record sources (address bits 2:0).
SOURCE_UNKNOWN, SOURCE_EXTERNAL, SOURCE_INTERNAL, SOURCE_INJECTED = 0, 1, 2, 3
SOURCE_VENDOR = 7
POISON_MORE, POISON_OVERFLOW, POISON_SCAN_RUNNING, POISON_RESTART_ACK = 1, 2, 4, 8
POISON_CAP_PERSISTENT_INJECTION = 1 << 0
POISON_CAP_SCANS = 1 << 1

# Scan media.
SCAN_NO_EVENT_LOG = 1 << 0
SCAN_RESULTS_MORE = 1 << 0
SCAN_RESULTS_STOPPED = 1 << 1

# Security state bits (Get Security State) and passphrase types.
SEC_USER_PASS_SET = 1 << 0
SEC_MASTER_PASS_SET = 1 << 1
SEC_LOCKED = 1 << 2
SEC_FROZEN = 1 << 3
SEC_USER_PLIMIT = 1 << 4
SEC_MASTER_PLIMIT = 1 << 5
PASS_MASTER, PASS_USER = 0, 1

# Alerts (valid / enable / programmable bits).
ALERT_LIFE_USED = 1 << 0
ALERT_OVER_TEMP = 1 << 1
ALERT_UNDER_TEMP = 1 << 2
ALERT_COR_VMEM = 1 << 3
ALERT_COR_PMEM = 1 << 4
ALERTS_ALL = 0x1F

# Health.
HEALTH_MAINT_NEEDED = 1 << 0
HEALTH_PERF_DEGRADED = 1 << 1
HEALTH_HW_REPLACE = 1 << 2
MEDIA_NORMAL, MEDIA_NOT_READY, MEDIA_WRITE_PERSISTENCY_LOST, MEDIA_ALL_DATA_LOST = 0, 1, 2, 3

# Firmware transfer actions and activation.
FW_FULL, FW_INITIATE, FW_CONTINUE, FW_END, FW_ABORT = range(5)
FW_ACTIVATE_ONLINE, FW_ACTIVATE_ON_RESET = 0, 1
FW_CAP_ONLINE_ACTIVATION = 1 << 0
FW_MAX_PACKAGE = 32 * MiB

# Features.
FEAT_CHANGEABLE = 1 << 0
FEAT_PERSIST_COLD_RESET = 4 << 1
FEAT_DEFAULT_SELECTION = 1 << 5
FEAT_SAVED_SELECTION = 1 << 6
FEAT_SEL_CURRENT, FEAT_SEL_DEFAULT, FEAT_SEL_SAVED = 0, 1, 2
FEAT_FULL, FEAT_INITIATE, FEAT_CONTINUE, FEAT_FINISH, FEAT_ABORT = range(5)
FEAT_SAVED_ACROSS_RESET = 1 << 3
FEAT_CURRENT_TRANSFER = b"\xff" * 16      # "the feature being transferred"

# Get Log Capabilities parameter flags.
LOGCAP_CLEAR = 1 << 0
LOGCAP_POPULATE = 1 << 1
LOGCAP_AUTO_POPULATE = 1 << 2
LOGCAP_PERSISTENT = 1 << 3

# SLD QoS telemetry.
QOS_EGRESS_PORT_CONGESTION = 1 << 0
QOS_TEMP_THROUGHPUT_REDUCTION = 1 << 1

# Media operations: (class, subclass) pairs the device supports besides discovery.
MEDIA_OP_GENERAL, MEDIA_OP_SANITIZE = 0, 1
MEDIA_OP_DISCOVERY = 0
MEDIA_OP_SUB_SANITIZE, MEDIA_OP_SUB_ZERO = 0, 1
MEDIA_OPS = ((MEDIA_OP_SANITIZE, MEDIA_OP_SUB_SANITIZE), (MEDIA_OP_SANITIZE, MEDIA_OP_SUB_ZERO))

_GET_EVENTS_HEAD = 32
_EVENT_RECORD = 128
_POISON_HEAD = 32
_MEDIA_ERROR_RECORD = 16

# Per-command effects for the Command Effects Log where the specification says
# more than the framework can infer from the registry flags.
EFFECTS = {
    "clear_event_records": CEL_LOG_CHANGE_IMMEDIATE,
    "set_event_interrupt_policy": CEL_CONFIG_CHANGE_IMMEDIATE,
    "set_mctp_event_interrupt_policy": CEL_CONFIG_CHANGE_IMMEDIATE,
    "transfer_fw": CEL_CONFIG_CHANGE_COLD_RESET | CEL_BACKGROUND | CEL_ABORT_SUPPORTED,
    "activate_fw": CEL_CONFIG_CHANGE_COLD_RESET | CEL_CONFIG_CHANGE_IMMEDIATE,
    "set_timestamp": CEL_POLICY_CHANGE_IMMEDIATE,
    "clear_log": CEL_LOG_CHANGE_IMMEDIATE,
    "populate_log": CEL_LOG_CHANGE_IMMEDIATE | CEL_BACKGROUND | CEL_ABORT_SUPPORTED,
    "set_feature": CEL_CONFIG_CHANGE_COLD_RESET | CEL_CONFIG_CHANGE_IMMEDIATE,
    "memdev_set_partition_info": (CEL_CONFIG_CHANGE_COLD_RESET | CEL_CONFIG_CHANGE_IMMEDIATE
                                  | CEL_DATA_CHANGE_IMMEDIATE),
    "memdev_set_lsa": CEL_CONFIG_CHANGE_IMMEDIATE | CEL_DATA_CHANGE_IMMEDIATE,
    "memdev_set_alert_config": CEL_POLICY_CHANGE_IMMEDIATE,
    "memdev_set_shutdown_state": CEL_POLICY_CHANGE_IMMEDIATE,
    "memdev_inject_poison": CEL_DATA_CHANGE_IMMEDIATE,
    "memdev_clear_poison": CEL_DATA_CHANGE_IMMEDIATE,
    "memdev_scan_media": CEL_BACKGROUND | CEL_ABORT_SUPPORTED,
    "memdev_sanitize": (CEL_DATA_CHANGE_IMMEDIATE | CEL_SECURITY_CHANGE | CEL_BACKGROUND
                        | CEL_ABORT_SUPPORTED),
    "memdev_secure_erase": CEL_DATA_CHANGE_IMMEDIATE | CEL_SECURITY_CHANGE | CEL_BACKGROUND,
    "memdev_media_operations_discovery": CEL_DATA_CHANGE_IMMEDIATE | CEL_BACKGROUND,
    "memdev_set_passphrase": CEL_SECURITY_CHANGE,
    "memdev_disable_passphrase": CEL_SECURITY_CHANGE,
    "memdev_unlock": CEL_SECURITY_CHANGE,
    "memdev_freeze_security_state": CEL_SECURITY_CHANGE,
    "memdev_passphrase_secure_erase": CEL_DATA_CHANGE_IMMEDIATE | CEL_SECURITY_CHANGE,
    "memdev_set_sld_qos_control": CEL_CONFIG_CHANGE_IMMEDIATE,
}


def _s16(value):
    """A 16-bit two's complement field as a Python int."""
    value &= 0xFFFF
    return value - 0x10000 if value & 0x8000 else value


def sanitize_seconds_for(nbytes):
    """Duration of an overwrite of ``nbytes``: QEMU's size table (4 s for 512 MiB
    up to 4 h for more than 1 TiB)."""
    mib = nbytes >> 20
    for limit, secs in ((512, 4), (1024, 8), (2048, 15), (4096, 30), (8192, 60),
                        (16384, 120), (32768, 240), (65536, 480), (131072, 900),
                        (262144, 1800), (524288, 3600), (1048576, 7200)):
        if mib <= limit:
            return secs
    return 14400


def scan_ms_for(nbytes):
    """Estimated scan time: about 0.5 us per 64 bytes (QEMU), at least 1 ms."""
    return max(1, int(nbytes * 0.0005 / CACHELINE))


class EventLog:
    """One event log: records with handles, a size limit and overflow accounting."""

    def __init__(self, size):
        self.size = size
        self.records = []            # (handle, 128-byte record), oldest first
        self.next_handle = 1
        self.overflow_count = 0
        self.first_overflow = 0
        self.last_overflow = 0
        self.interrupt = 0           # Get/Set Event Interrupt Policy settings byte

    def add(self, record, now):
        if len(self.records) >= self.size:
            if not self.overflow_count:
                self.first_overflow = now
            self.overflow_count = min(self.overflow_count + 1, 0xFFFF)
            self.last_overflow = now
            return None
        handle = self.next_handle
        self.next_handle = (self.next_handle + 1) & 0xFFFF or 1   # 0 is never a handle
        record = bytearray(record)
        struct.pack_into("<H", record, 20, handle)
        self.records.append((handle, bytes(record)))
        return handle

    def discard(self, count=None):
        """Drop the ``count`` oldest records (all when None); ends an overflow."""
        if count is None:
            self.records = []
        else:
            del self.records[:count]
        self.overflow_count = 0
        self.first_overflow = self.last_overflow = 0


class Feature:
    """A Feature with current / default / saved values and a write layout."""

    uuid = b""
    get_version = set_version = 1
    attributes = 0
    set_effects = 0
    read_size = write_size = 0

    def __init__(self):
        self.default = self.initial()
        self.saved = bytes(self.default)
        self.current = bytes(self.default)

    def initial(self):
        raise NotImplementedError

    def apply(self, value, data):
        """New readable value from the written ``data``; raise Reply to refuse."""
        raise NotImplementedError


class PatrolScrub(Feature):
    """Device Patrol Scrub Control (CXL r3.1 8.2.9.9.11.1).

    Readable: capabilities (bit 0 scrub cycle changeable, bit 1 real-time
    report), scrub cycle (bits 7:0 current hours, 15:8 minimum hours),
    flags (bit 0 enabled).  Writable: scrub cycle hours, flags.
    """

    uuid = PATROL_SCRUB_UUID
    get_version = set_version = 1
    attributes = FEAT_CHANGEABLE | FEAT_PERSIST_COLD_RESET | FEAT_DEFAULT_SELECTION \
        | FEAT_SAVED_SELECTION
    set_effects = CEL_CONFIG_CHANGE_IMMEDIATE | (1 << 9)
    read_size = 4
    write_size = 2
    min_cycle_hours = 1

    def initial(self):
        return struct.pack("<BHB", 0x03, 12 | (self.min_cycle_hours << 8), 0)

    def apply(self, value, data):
        cycle, flags = data[0], data[1]
        if cycle < self.min_cycle_hours:
            raise Reply(INPUT, "scrub cycle %d h is below the minimum of %d h"
                        % (cycle, self.min_cycle_hours))
        if flags & ~1:
            raise Reply(INPUT, "reserved patrol scrub flags %#x" % flags)
        caps, _, _ = struct.unpack("<BHB", value)
        return struct.pack("<BHB", caps, cycle | (self.min_cycle_hours << 8), flags & 1)


class Type3(Device):
    """A CXL Type 3 memory device (one logical device)."""

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
        self.features = [PatrolScrub()]
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
        self.poison = [p for p in self.poison if p[0] >= self.volatile_bytes]
        self.untracked_errors = [p for p in self.untracked_errors if p[0] >= self.volatile_bytes]
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

    def add_event(self, log_id, uuid, data=b"", flags=0, related_handle=0,
                  maint_class=0, maint_subclass=0, ld_id=0, head_id=0):
        """Post a 128-byte event record to event log ``log_id``; its handle, or
        None when the log is full (the overflow count and timestamps advance)."""
        now = self.now_ns()
        if log_id <= EVENT_LOG_FATAL:
            flags |= log_id                            # severity bits follow the log
        record = bytearray(_EVENT_RECORD)
        record[0:16] = bytes(uuid).ljust(16, b"\0")[:16]
        record[16] = _EVENT_RECORD
        record[17:20] = (flags & 0xFFFFFF).to_bytes(3, "little")
        struct.pack_into("<HQBBHB", record, 22, related_handle, now, maint_class,
                         maint_subclass, ld_id, head_id)
        data = bytes(data)[:80]
        record[48:48 + len(data)] = data
        return self.event_logs[log_id].add(record, now)

    def add_media_error(self, dpa, length=CACHELINE, source=SOURCE_INTERNAL, event=True):
        """The device found a media error: add it to the poison list (or, when the
        list is full, remember it and mark the list overflowed)."""
        dpa &= ~(CACHELINE - 1)
        length = max(CACHELINE, -(-length // CACHELINE) * CACHELINE)
        if self._poison_covers(dpa, length):
            return
        if len(self.poison) >= self.poison_list_max:
            self.untracked_errors.append([dpa, length, source])
            self._poison_overflowed()
        else:
            self._poison_insert(dpa, length, source)
        if event:
            self._media_event(EVENT_LOG_FAILURE, dpa, GMER_DESC_UNCORRECTABLE,
                              GMER_TRANS_MEDIA_SCRUB, EVENT_FLAG_PERMANENT)

    def set_health(self, temperature=None, life_used=None, corrected_volatile_errors=None,
                   corrected_persistent_errors=None, health_status=None, media_status=None):
        """Change what the device measures; crossing an enabled warning threshold
        posts a Memory Module event record to the warning log."""
        if temperature is not None:
            self.temperature = int(temperature)
        if life_used is not None:
            self.life_used = int(life_used)
        if corrected_volatile_errors is not None:
            self.corrected_volatile_errors = int(corrected_volatile_errors)
        if corrected_persistent_errors is not None:
            self.corrected_persistent_errors = int(corrected_persistent_errors)
        changed_status = False
        if health_status is not None and health_status != self.health_status:
            self.health_status = int(health_status)
            changed_status = True
        if media_status is not None and media_status != self.media_status:
            self.media_status = int(media_status)
            self._module_event(MMER_MEDIA_CHANGE, EVENT_LOG_WARNING)
        if changed_status:
            self._module_event(MMER_HEALTH_CHANGE, EVENT_LOG_WARNING)
        self._check_alerts()

    def read_media(self, dpa, length):
        """Bytes of media content (zero where nothing was written)."""
        out = bytearray()
        pos = dpa
        while pos < dpa + length:
            line = pos & ~(CACHELINE - 1)
            chunk = self.media.get(line, bytes(CACHELINE))
            take = min(CACHELINE - (pos - line), dpa + length - pos)
            out += chunk[pos - line:pos - line + take]
            pos += take
        return bytes(out)

    def write_media(self, dpa, data):
        """Store bytes into the media (no poison or security checks)."""
        data = bytes(data)
        pos = 0
        while pos < len(data):
            addr = dpa + pos
            line = addr & ~(CACHELINE - 1)
            chunk = bytearray(self.media.get(line, bytes(CACHELINE)))
            take = min(CACHELINE - (addr - line), len(data) - pos)
            chunk[addr - line:addr - line + take] = data[pos:pos + take]
            if any(chunk):
                self.media[line] = bytes(chunk)
            else:
                self.media.pop(line, None)
            pos += take

    # ================================================================ framework hooks
    def _entry_for(self, opcode, payload):
        # 4402h carries two request layouts: class 0 is discovery, the others
        # the range-list form (sanitize / zero).
        if opcode == 0x4402 and payload and payload[0] != MEDIA_OP_GENERAL:
            return registry.BY_NAME["memdev_media_operations_sanitize"]
        return super()._entry_for(opcode, payload)

    def command_effects(self):
        out = []
        for opcode, effects in super().command_effects():
            name = registry.BY_OPCODE[opcode].name
            out.append((opcode, EFFECTS.get(name, effects)))
        return out

    # ================================================================ helpers
    def payload_max(self):
        return 1 << min(self.response_msg_limit, self.max_msg_size)

    def _check_media(self, what="media"):
        if self.media_disabled:
            raise Reply(MEDIADISABLED, "%s: the media is disabled (sanitize)" % what)

    def _check_unlocked(self, dpa=None, length=1, what="media"):
        if self.locked and (dpa is None or self.is_persistent(dpa, length)):
            raise Reply(SECURITY, "%s: the persistent memory is locked" % what)

    def _scan_running(self):
        op = self.bg
        return op is not None and not op.done and op.opcode == 0x4304

    def _reset_alerts(self):
        self.alerts_enabled = 0
        self.life_used_warning = 75
        self.over_temp_warning = 75
        self.under_temp_warning = 0
        self.cor_vmem_warning = 100
        self.cor_pmem_warning = 100
        self._alerts_active = 0

    def _alert_conditions(self):
        active = 0
        if self.life_used >= self.life_used_warning:
            active |= ALERT_LIFE_USED
        if self.temperature >= self.over_temp_warning:
            active |= ALERT_OVER_TEMP
        if self.temperature <= self.under_temp_warning:
            active |= ALERT_UNDER_TEMP
        if self.corrected_volatile_errors >= self.cor_vmem_warning:
            active |= ALERT_COR_VMEM
        if self.corrected_persistent_errors >= self.cor_pmem_warning:
            active |= ALERT_COR_PMEM
        return active & self.alerts_enabled

    def _check_alerts(self):
        """Post one warning event per enabled threshold newly reached."""
        active = self._alert_conditions()
        new = active & ~self._alerts_active
        self._alerts_active = active
        for bit, kind in ((ALERT_LIFE_USED, MMER_LIFE_USED_CHANGE),
                          (ALERT_OVER_TEMP, MMER_TEMP_CHANGE),
                          (ALERT_UNDER_TEMP, MMER_TEMP_CHANGE),
                          (ALERT_COR_VMEM, MMER_HEALTH_CHANGE),
                          (ALERT_COR_PMEM, MMER_HEALTH_CHANGE)):
            if new & bit:
                self._module_event(kind, EVENT_LOG_WARNING)
                self.debug("warning threshold reached (alert bit %#x)" % bit)

    def _additional_status(self):
        status = 0
        if self.life_used >= self.life_used_critical:
            status |= 2
        elif self.alerts_enabled & ALERT_LIFE_USED and self.life_used >= self.life_used_warning:
            status |= 1
        if self.temperature >= self.over_temp_critical or \
                self.temperature <= self.under_temp_critical:
            status |= 2 << 2
        elif (self.alerts_enabled & ALERT_OVER_TEMP and self.temperature >= self.over_temp_warning) \
                or (self.alerts_enabled & ALERT_UNDER_TEMP
                    and self.temperature <= self.under_temp_warning):
            status |= 1 << 2
        if self.alerts_enabled & ALERT_COR_VMEM and \
                self.corrected_volatile_errors >= self.cor_vmem_warning:
            status |= 1 << 4
        if self.alerts_enabled & ALERT_COR_PMEM and \
                self.corrected_persistent_errors >= self.cor_pmem_warning:
            status |= 1 << 5
        return status

    def _health_bytes(self):
        return struct.pack("<BBBBhIII", self.health_status, self.media_status,
                           self._additional_status(), self.life_used & 0xFF,
                           self.temperature, self.dirty_shutdown_count & 0xFFFFFFFF,
                           self.corrected_volatile_errors & 0xFFFFFFFF,
                           self.corrected_persistent_errors & 0xFFFFFFFF)

    def _module_event(self, kind, log_id):
        flags = 0
        if self.health_status & HEALTH_MAINT_NEEDED:
            flags |= EVENT_FLAG_MAINT_NEEDED
        if self.health_status & HEALTH_PERF_DEGRADED:
            flags |= EVENT_FLAG_PERF_DEGRADED
        if self.health_status & HEALTH_HW_REPLACE:
            flags |= EVENT_FLAG_HW_REPLACE
        return self.add_event(log_id, MEMORY_MODULE_EVENT_UUID,
                              bytes([kind]) + self._health_bytes(), flags)

    def _media_event(self, log_id, dpa, descriptor, transaction, flags=0):
        volatile = 1 if dpa < self.volatile_bytes else 0
        data = struct.pack("<QBBBH", (dpa & ~0x3F) | volatile, descriptor, GMER_TYPE_ECC,
                           transaction, 0)
        return self.add_event(log_id, GENERAL_MEDIA_EVENT_UUID, data, flags)

    # ---------------------------------------------------------------- poison list
    def _poison_covers(self, dpa, length):
        return any(p[0] <= dpa and dpa + length <= p[0] + p[1]
                   for p in self.poison + self.untracked_errors)

    def _poison_insert(self, dpa, length, source):
        self.poison.append([dpa, length, source])
        self.poison.sort(key=lambda p: p[0])
        self._poison_cursor = None

    def _poison_overflowed(self):
        if self.poison_overflow_ts is None:
            self.poison_overflow_ts = self.now_ns()
            self._media_event(EVENT_LOG_WARNING, 0, GMER_DESC_POISON_LIST_OVERFLOW,
                              GMER_TRANS_UNKNOWN)
            self.debug("poison list overflowed")

    def _poison_clear_range(self, start, length):
        """Remove poison inside [start, start+length), splitting records."""
        end = start + length
        for name in ("poison", "untracked_errors"):
            kept = []
            for dpa, n, source in getattr(self, name):
                if dpa + n <= start or dpa >= end:
                    kept.append([dpa, n, source])
                    continue
                if dpa < start:
                    kept.append([dpa, start - dpa, source])
                if dpa + n > end:
                    kept.append([end, dpa + n - end, source])
            setattr(self, name, sorted(kept, key=lambda p: p[0]))
        while len(self.poison) > self.poison_list_max:
            self.untracked_errors.append(self.poison.pop())
            self._poison_overflowed()
        self._poison_cursor = None

    def _poison_all_clear(self):
        self.poison = []
        self.untracked_errors = []
        self.poison_overflow_ts = None
        self._poison_cursor = None

    def _wipe_media(self, start=0, length=None):
        end = self.media_size() if length is None else start + length
        for line in [d for d in self.media if start <= d < end]:
            del self.media[line]

    def _apply_partition(self, volatile, persistent):
        self.volatile_bytes, self.persistent_bytes = volatile, persistent
        self.next_partition = None
        self._wipe_media()        # changing the partitioning loses the data stored
        self.debug("partition now %d MiB volatile, %d MiB persistent"
                   % (volatile >> 20, persistent >> 20))

    # ================================================================ events (01xxh)
    def cmd_get_event_records(self, req):
        if req.event_log >= len(self.event_logs):
            raise Reply(INPUT, "no event log %d" % req.event_log)
        self._check_media("get event records")
        elog = self.event_logs[req.event_log]
        fit = max(1, (self.payload_max() - _GET_EVENTS_HEAD) // _EVENT_RECORD)
        chosen = elog.records[:fit]
        rsp = types.get("cmd_get_event_records_rsp").sized(len(chosen))()
        rsp.record_count = len(chosen)
        flags = 0
        if len(elog.records) > len(chosen):
            flags |= EVENTS_MORE
        if elog.overflow_count:
            flags |= EVENTS_OVERFLOW
            rsp.overflow_err_count = elog.overflow_count
            rsp.first_overflow_timestamp = elog.first_overflow
            rsp.last_overflow_timestamp = elog.last_overflow
        rsp.flags = flags
        base = ctypes.addressof(rsp.records)
        for i, (_, raw) in enumerate(chosen):
            ctypes.memmove(base + i * _EVENT_RECORD, raw, _EVENT_RECORD)
        return rsp

    def cmd_clear_event_records(self, req):
        if req.event_log >= len(self.event_logs):
            raise Reply(INPUT, "no event log %d" % req.event_log)
        elog = self.event_logs[req.event_log]
        if req.clear_flags & 1:
            if req.nr_recs:
                raise Reply(INPUT, "clear all takes no handles")
            elog.discard()
            return None
        handles = list(req.handles)
        if not handles:
            return None              # nothing to clear (QEMU accepts this too)
        # The handles must be the oldest records, in temporal order: clearing a
        # newer record while an older one stays is refused, nothing is cleared.
        oldest = [h for h, _ in elog.records[:len(handles)]]
        if handles != oldest:
            raise Reply(HANDLE, "handles %s are not the oldest records %s" % (handles, oldest))
        elog.discard(len(handles))
        return None

    def cmd_get_event_interrupt_policy(self):
        rsp = types.get("cmd_get_event_interrupt_policy_rsp")()
        (rsp.informational_settings, rsp.warning_settings, rsp.failure_settings,
         rsp.fatal_settings, rsp.dcd_settings) = [e.interrupt for e in self.event_logs]
        return rsp

    def cmd_set_event_interrupt_policy(self, req):
        values = (req.informational_settings, req.warning_settings, req.failure_settings,
                  req.fatal_settings, req.dcd_settings)
        for value in values:
            if value & 0x3 == 0x3 or value & 0x0C:
                raise Reply(INPUT, "reserved interrupt setting %#x" % value)
        for elog, value in zip(self.event_logs, values):
            elog.interrupt = value

    def cmd_get_mctp_event_interrupt_policy(self):
        return types.get("cmd_get_mctp_event_interrupt_policy_rsp")(
            event_interrupt_settings=self.mctp_event_interrupts)

    def cmd_set_mctp_event_interrupt_policy(self, req):
        if req.event_interrupt_settings & ~0x1F:
            raise Reply(INPUT, "reserved MCTP event interrupt bits %#x"
                        % req.event_interrupt_settings)
        self.mctp_event_interrupts = req.event_interrupt_settings

    def cmd_event_notification(self, req):
        self.notifications.append(req.event)
        self.debug("event notification %#06x received" % req.event)

    # ================================================================ firmware (02xxh)
    def cmd_get_fw_info(self):
        rsp = types.get("cmd_get_fw_info_rsp")()
        rsp.slots_supported = len(self.fw_slots)
        rsp.slot_info = (self.fw_active & 0x7) | ((self.fw_staged & 0x7) << 3)
        rsp.caps = FW_CAP_ONLINE_ACTIVATION
        for i, rev in enumerate(self.fw_slots[:4]):
            if rev:
                setattr(rsp, "fw_rev%d" % (i + 1), rev.encode()[:16])
        return rsp

    def _fw_slot_ok(self, slot):
        if not 1 <= slot <= len(self.fw_slots) or slot == self.fw_active:
            raise Reply(FWSLOT, "slot %d cannot take a package (active slot %d, %d slots)"
                        % (slot, self.fw_active, len(self.fw_slots)))

    @staticmethod
    def _fw_verify(package):
        """The package's first 16 bytes are its revision string: printable ASCII."""
        rev = bytes(package[:16]).rstrip(b"\0")
        if not rev or any(c < 0x20 or c > 0x7E for c in rev):
            raise Reply(FWAUTH, "package does not start with a printable revision")
        return rev.decode()

    def _fw_store(self, slot, package):
        rev = self._fw_verify(package)
        self.fw_slots[slot - 1] = rev
        if self.fw_staged == slot:
            self.fw_staged = 0
        self.debug("firmware %r written to slot %d" % (rev, slot))

    def cmd_transfer_fw(self, req):
        data = bytes(req.data)
        action = req.action
        if action == FW_ABORT:
            self._fw_xfer = None
            return None
        if action not in (FW_FULL, FW_INITIATE, FW_CONTINUE, FW_END):
            raise Reply(INPUT, "transfer action %d" % action)
        offset = req.offset * FW_XFER_UNIT
        if offset + len(data) > FW_MAX_PACKAGE:
            raise Reply(INPUT, "package larger than %d bytes" % FW_MAX_PACKAGE)
        xfer = self._fw_xfer
        if action in (FW_FULL, FW_INITIATE) and xfer is not None:
            raise Reply(FWINPROGRESS, "a partial transfer is open")
        if action in (FW_CONTINUE, FW_END):
            if xfer is None:
                raise Reply(FWOOO, "no transfer was initiated")
            retransmit = (offset, len(data)) == xfer["last"]
            if not retransmit and offset != len(xfer["data"]):
                raise Reply(FWOOO, "part at offset %d, expected %d"
                            % (offset, len(xfer["data"])))
        if action in (FW_INITIATE, FW_CONTINUE) and (not data or len(data) % FW_XFER_UNIT):
            raise Reply(INPUT, "a part must be a non-empty multiple of 128 bytes")
        if action == FW_FULL:
            self._fw_slot_ok(req.slot)
            return self._fw_finish(req.slot, data)
        if action == FW_INITIATE:
            if offset:
                raise Reply(INPUT, "an initiate part starts at offset 0")
            self._fw_xfer = {"data": bytearray(data), "last": (0, len(data))}
            return None
        if offset == len(xfer["data"]):
            xfer["data"] += data
        xfer["last"] = (offset, len(data))
        if action == FW_CONTINUE:
            return None
        self._fw_slot_ok(req.slot)
        self._fw_xfer = None
        return self._fw_finish(req.slot, bytes(xfer["data"]))

    def _fw_finish(self, slot, package):
        if not package:
            raise Reply(INPUT, "empty firmware package")
        if self.fw_transfer_seconds > 0:
            self._fw_verify(package)
            return Background(self.fw_transfer_seconds,
                              finish=lambda: self._fw_store(slot, package))
        self._fw_store(slot, package)
        return None

    def cmd_activate_fw(self, req):
        if req.action not in (FW_ACTIVATE_ONLINE, FW_ACTIVATE_ON_RESET):
            raise Reply(INPUT, "activation action %d" % req.action)
        self._fw_slot_ok(req.slot)
        if not self.fw_slots[req.slot - 1]:
            raise Reply(FWSLOT, "slot %d holds no firmware" % req.slot)
        if req.action == FW_ACTIVATE_ONLINE:
            self.fw_active = req.slot
            self.fw_staged = 0
            self.debug("firmware slot %d activated online" % req.slot)
        else:
            self.fw_staged = req.slot
            self.debug("firmware slot %d staged for the next reset" % req.slot)

    # ================================================================ logs (04xxh)
    def _logs(self):
        """(uuid, current bytes, capability flags) of every log, in list order."""
        return ((CEL_UUID, self.cel_bytes(), 0),
                (VENDOR_DEBUG_LOG_UUID, bytes(self.debug_log), LOGCAP_CLEAR),
                (COMPONENT_STATE_DUMP_UUID, self.state_dump, LOGCAP_CLEAR | LOGCAP_POPULATE))

    def _log(self, uuid):
        for entry in self._logs():
            if entry[0] == bytes(uuid):
                return entry
        raise Reply(LOG, "no log %s" % _uuid.UUID(bytes=bytes(uuid)))

    def _log_entries(self, logs):
        return [{"uuid": list(u), "log_size": len(data)} for u, data, _ in logs]

    def cmd_get_supported_logs(self):
        logs = self._logs()
        rsp = types.get("cmd_get_supported_logs_rsp").sized(len(logs))()
        rsp.num_supported_log_entries = len(logs)
        for i, (u, data, _) in enumerate(logs):
            rsp.entries[i].uuid = u
            rsp.entries[i].log_size = len(data)
        return rsp

    def cmd_get_supported_logs_sublist(self, req):
        logs = self._logs()
        chosen = logs[req.start_log_entry_index:][:req.max_supported_log_entries]
        rsp = types.get("cmd_get_supported_logs_sublist_rsp").sized(len(chosen))()
        rsp.num_supported_log_entries = len(chosen)
        rsp.total_num_supported_log_entries = len(logs)
        rsp.start_log_entry_index = req.start_log_entry_index
        for i, (u, data, _) in enumerate(chosen):
            rsp.entries[i].uuid = u
            rsp.entries[i].log_size = len(data)
        return rsp

    def cmd_get_log(self, req):
        _, data, _ = self._log(req.uuid)
        if req.length > self.payload_max():
            raise Reply(INPUT, "length %d exceeds the %d-byte response limit"
                        % (req.length, self.payload_max()))
        if req.offset + req.length > len(data):
            raise Reply(INPUT, "offset %d + length %d runs past the %d-byte log"
                        % (req.offset, req.length, len(data)))
        return data[req.offset:req.offset + req.length]

    def cmd_get_log_capabilities(self, req):
        _, _, caps = self._log(req.uuid)
        return types.get("cmd_get_log_capabilities_rsp")(parameter_flags=caps)

    def cmd_clear_log(self, req):
        uuid, _, caps = self._log(req.uuid)
        if not caps & LOGCAP_CLEAR:
            raise Reply(INPUT, "this log cannot be cleared")
        if uuid == VENDOR_DEBUG_LOG_UUID:
            self.debug_log = bytearray()
        elif uuid == COMPONENT_STATE_DUMP_UUID:
            self.state_dump = b""

    def cmd_populate_log(self, req):
        uuid, _, caps = self._log(req.uuid)
        if not caps & LOGCAP_POPULATE:
            raise Reply(INPUT, "this log cannot be populated")
        return Background(self.populate_seconds, finish=self._dump_state)

    def _dump_state(self):
        state = {
            "serial": "%016x" % self.serial,
            "timestamp_ns": self.now_ns(),
            "partition": {"volatile": self.volatile_bytes, "persistent": self.persistent_bytes,
                          "next": self.next_partition},
            "media_disabled": self.media_disabled,
            "security_state": self._security_state(),
            "poison_records": len(self.poison),
            "poison_overflowed": self.poison_overflow_ts is not None,
            "event_records": [len(e.records) for e in self.event_logs],
            "firmware": {"active": self.fw_active, "staged": self.fw_staged,
                         "slots": self.fw_slots},
            "health": {"temperature": self.temperature, "life_used": self.life_used,
                       "dirty_shutdowns": self.dirty_shutdown_count},
        }
        self.state_dump = json.dumps(state, sort_keys=True).encode()

    # ================================================================ features (05xxh)
    def _feature(self, uuid):
        for feature in self.features:
            if feature.uuid == bytes(uuid):
                return feature
        return None

    def cmd_get_supported_features(self, req):
        total = len(self.features)
        if req.count < 8 or req.starting_feature_index >= total:
            raise Reply(INPUT, "count %d, start index %d of %d features"
                        % (req.count, req.starting_feature_index, total))
        cls = types.get("cmd_get_supported_features_rsp")
        entry_size = ctypes.sizeof(types.get("supported_feature_entry"))
        room = (min(req.count, self.payload_max()) - cls.fixed_size()) // entry_size
        chosen = list(enumerate(self.features))[req.starting_feature_index:][:max(0, room)]
        rsp = cls.sized(len(chosen))()
        rsp.num_supported_feature_entries = len(chosen)
        rsp.device_supported_features = total
        for i, (index, feature) in enumerate(chosen):
            entry = rsp.supported_feature_entries[i]
            entry.feature_id = feature.uuid
            entry.feature_index = index
            entry.get_feature_size = feature.read_size
            entry.set_feature_size = feature.write_size
            entry.attribute_flags = feature.attributes
            entry.get_feature_version = feature.get_version
            entry.set_feature_version = feature.set_version
            entry.set_feature_effects = feature.set_effects
        return rsp

    def cmd_get_feature(self, req):
        feature = self._feature(req.feature_id)
        if feature is None:
            raise Reply(UNSUPPORTED, "no such feature")
        if req.selection == FEAT_SEL_CURRENT:
            value = feature.current
        elif req.selection == FEAT_SEL_DEFAULT and feature.attributes & FEAT_DEFAULT_SELECTION:
            value = feature.default
        elif req.selection == FEAT_SEL_SAVED and feature.attributes & FEAT_SAVED_SELECTION:
            value = feature.saved
        else:
            raise Reply(FEATURESELVALUE, "selection %d not supported" % req.selection)
        if req.offset >= len(value):
            raise Reply(INPUT, "offset %d is beyond the %d-byte feature"
                        % (req.offset, len(value)))
        return value[req.offset:req.offset + min(req.count, self.payload_max())]

    def cmd_set_feature(self, req):
        data = bytes(req.feature_data)
        action = req.set_feature_flags & 0x7
        xfer = self._feat_xfer
        uuid = bytes(req.feature_id)
        if uuid == FEAT_CURRENT_TRANSFER and xfer is not None:
            uuid = xfer["uuid"]
        feature = self._feature(uuid)
        if feature is None:
            raise Reply(UNSUPPORTED, "no such feature")
        if not feature.attributes & FEAT_CHANGEABLE:
            raise Reply(UNSUPPORTED, "this feature cannot be changed")
        if action > FEAT_ABORT:
            raise Reply(INPUT, "reserved set feature action %d" % action)
        if action == FEAT_ABORT:
            if xfer is None or xfer["uuid"] != uuid:
                raise Reply(INPUT, "no transfer of this feature to abort")
            self._feat_xfer = None
            return None
        if req.version != feature.set_version:
            raise Reply(FEATUREVERSION, "version %d, the feature takes version %d"
                        % (req.version, feature.set_version))
        if action in (FEAT_FULL, FEAT_INITIATE):
            if xfer is not None:
                raise Reply(FEATURETRANSFERIP, "another feature transfer is in progress")
            offset = 0 if action == FEAT_FULL else req.offset
            if offset or len(data) > feature.write_size:
                raise Reply(INPUT, "%d bytes at offset %d do not fit the %d-byte feature"
                            % (len(data), offset, feature.write_size))
            if action == FEAT_FULL:
                return self._feature_apply(feature, data, req.set_feature_flags)
            self._feat_xfer = {"uuid": uuid, "data": bytearray(data), "last": (0, len(data)),
                               "flags": req.set_feature_flags}
            return None
        # continue / finish
        if xfer is None:
            raise Reply(FEATURETRANSFEROOO, "no transfer was initiated")
        if xfer["uuid"] != uuid:
            raise Reply(FEATURETRANSFERIP, "another feature transfer is in progress")
        if req.offset + len(data) > feature.write_size:
            raise Reply(INPUT, "data runs past the %d-byte feature" % feature.write_size)
        if (req.offset, len(data)) != xfer["last"] and req.offset != len(xfer["data"]):
            raise Reply(FEATURETRANSFEROOO, "part at offset %d, expected %d"
                        % (req.offset, len(xfer["data"])))
        xfer["data"][req.offset:req.offset + len(data)] = data
        xfer["last"] = (req.offset, len(data))
        if action == FEAT_FINISH:
            self._feat_xfer = None
            return self._feature_apply(feature, bytes(xfer["data"]), xfer["flags"])
        return None

    def _feature_apply(self, feature, data, flags):
        if len(data) < feature.write_size:
            raise Reply(INPUT, "%d of the %d bytes of feature data"
                        % (len(data), feature.write_size))
        feature.current = feature.apply(feature.current, data)
        if flags & FEAT_SAVED_ACROSS_RESET and feature.attributes & FEAT_SAVED_SELECTION:
            feature.saved = feature.current
        return None

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

    # ================================================================ health (42xxh)
    def cmd_memdev_get_health_info(self):
        return types.get("cmd_memdev_get_health_info_rsp").from_buffer_copy(self._health_bytes())

    def cmd_memdev_get_alert_config(self):
        rsp = types.get("cmd_memdev_get_alert_config_rsp")()
        rsp.valid_alerts = self.alerts_enabled
        rsp.programmable_alerts = ALERTS_ALL
        rsp.life_used_critical_alert_threshold = self.life_used_critical
        rsp.life_used_programmable_warning_threshold = self.life_used_warning
        rsp.device_over_temperature_critical_alert_threshold = self.over_temp_critical & 0xFFFF
        rsp.device_under_temperature_critical_alert_threshold = self.under_temp_critical & 0xFFFF
        rsp.device_over_temperature_programmable_warning_threshold = self.over_temp_warning & 0xFFFF
        rsp.device_under_temperature_programmable_warning_threshold = \
            self.under_temp_warning & 0xFFFF
        rsp.corrected_volatile_mem_error_programmable_warning_threshold = self.cor_vmem_warning
        rsp.corrected_persistent_mem_error_programmable_warning_threshold = self.cor_pmem_warning
        return rsp

    def cmd_memdev_set_alert_config(self, req):
        valid = req.valid_alert_actions
        if valid & ~ALERTS_ALL or req.enable_alert_actions & ~ALERTS_ALL:
            raise Reply(INPUT, "reserved alert bits")
        over = _s16(req.device_over_temperature_programmable_warning_threshold)
        under = _s16(req.device_under_temperature_programmable_warning_threshold)
        # The warning thresholds must lie inside the critical ones (CXL r3.2 table 8-149).
        if valid & ALERT_LIFE_USED and \
                req.life_used_programmable_warning_threshold >= self.life_used_critical:
            raise Reply(INPUT, "life used warning must be below the critical threshold")
        if valid & ALERT_OVER_TEMP and over >= self.over_temp_critical:
            raise Reply(INPUT, "over-temperature warning must be below the critical threshold")
        if valid & ALERT_UNDER_TEMP and under <= self.under_temp_critical:
            raise Reply(INPUT, "under-temperature warning must be above the critical threshold")
        if valid & ALERT_LIFE_USED:
            self.life_used_warning = req.life_used_programmable_warning_threshold
        if valid & ALERT_OVER_TEMP:
            self.over_temp_warning = over
        if valid & ALERT_UNDER_TEMP:
            self.under_temp_warning = under
        if valid & ALERT_COR_VMEM:
            self.cor_vmem_warning = req.corrected_volatile_mem_error_programmable_warning_threshold
        if valid & ALERT_COR_PMEM:
            self.cor_pmem_warning = \
                req.corrected_persistent_mem_error_programmable_warning_threshold
        self.alerts_enabled = (self.alerts_enabled & ~valid) | (req.enable_alert_actions & valid)
        # A newly programmed threshold that is already met alerts at once.
        self._alerts_active &= ~valid
        self._check_alerts()

    def cmd_memdev_get_shutdown_state(self):
        self._check_media("get shutdown state")
        return types.get("cmd_memdev_get_shutdown_state_rsp")(state=int(self.shutdown_dirty))

    def cmd_memdev_set_shutdown_state(self, req):
        self._check_media("set shutdown state")
        if req.state & ~1:
            raise Reply(INPUT, "reserved shutdown state bits %#x" % req.state)
        self.shutdown_dirty = bool(req.state & 1)

    # ================================================================ poison and scan (43xxh)
    def _check_range(self, dpa, length, what, misaligned=INPUT):
        if dpa & (CACHELINE - 1):
            raise Reply(misaligned, "%s: address %#x is not 64-byte aligned" % (what, dpa))
        if dpa + length > self.media_size():
            raise Reply(PADDR, "%s: %#x+%#x is beyond the %#x-byte device"
                        % (what, dpa, length, self.media_size()))

    def cmd_get_poison_list(self, req):
        raw = req.get_poison_list_phy_addr
        flags, dpa = raw & 0x3F, raw & ~0x3F
        if flags & ~1:
            raise Reply(INPUT, "reserved bits set in the poison list address")
        length = req.get_poison_list_phy_addr_len * CACHELINE
        self._check_range(dpa, length, "get poison list")
        self._check_media("get poison list")
        end = dpa + length
        records = []
        for start, n, source in self.poison:
            if start + n <= dpa or start >= end:
                continue
            lo, hi = max(start, dpa), min(start + n, end)
            records.append((lo | source, (hi - lo) // CACHELINE))
        key = (dpa, length)
        first = 0
        out_flags = 0
        if flags & 1:
            out_flags |= POISON_RESTART_ACK
        elif self._poison_cursor is not None and self._poison_cursor[0] == key:
            first = self._poison_cursor[1]
        room = max(1, (self.payload_max() - _POISON_HEAD) // _MEDIA_ERROR_RECORD)
        chosen = records[first:first + room]
        if first + len(chosen) < len(records):
            out_flags |= POISON_MORE
            self._poison_cursor = (key, first + len(chosen))
        else:
            self._poison_cursor = None
        if self.poison_overflow_ts is not None:
            out_flags |= POISON_OVERFLOW
        if self._scan_running():
            out_flags |= POISON_SCAN_RUNNING
        rsp = types.get("cmd_memdev_get_poison_list_rsp").sized(len(chosen))()
        rsp.poison_list_flags = out_flags
        rsp.overflow_timestamp = self.poison_overflow_ts or 0
        rsp.more_err_media_record_cnt = len(chosen)
        for i, (addr, n) in enumerate(chosen):
            rsp.records[i].media_err_addr = addr
            rsp.records[i].media_err_len = n
        return rsp

    def cmd_memdev_inject_poison(self, req):
        dpa = req.inject_poison_phy_addr
        self._check_range(dpa, CACHELINE, "inject poison", misaligned=PADDR)
        self._check_media("inject poison")
        self._check_unlocked(dpa, CACHELINE, "inject poison")
        if self._poison_covers(dpa, CACHELINE):
            return None          # injecting poison twice is not an error
        injected = sum(1 for p in self.poison + self.untracked_errors
                       if p[2] == SOURCE_INJECTED)
        limit = self.inject_poison_limit or self.poison_list_max
        if injected >= limit or len(self.poison) >= self.poison_list_max:
            raise Reply(POISONLMT, "%d poison records injected, the limit is %d"
                        % (injected, limit))
        self._poison_insert(dpa, CACHELINE, SOURCE_INJECTED)
        self._media_event(EVENT_LOG_INFO, dpa, GMER_DESC_UNCORRECTABLE, GMER_TRANS_INJECT_POISON)
        return None

    def cmd_memdev_clear_poison(self, req):
        dpa = req.clear_poison_phy_addr
        self._check_range(dpa, CACHELINE, "clear poison")
        self._check_media("clear poison")
        self._check_unlocked(dpa, CACHELINE, "clear poison")
        self.write_media(dpa, bytes(req.clear_poison_write_data))
        self._poison_clear_range(dpa, CACHELINE)
        return None

    def cmd_memdev_get_scan_media_capabilities(self, req):
        dpa = req.get_scan_media_capabilities_start_physaddr
        length = req.get_scan_media_capabilities_physaddr_length * CACHELINE
        self._check_range(dpa, length, "get scan media capabilities")
        self._check_media("get scan media capabilities")
        return types.get("cmd_memdev_get_scan_media_capabilities_rsp")(
            estimated_scan_media_time=scan_ms_for(length))

    def cmd_memdev_scan_media(self, req):
        dpa = req.scan_media_physaddr
        length = req.scan_media_physaddr_length * CACHELINE
        self._check_range(dpa, length, "scan media")
        if length == 0:
            raise Reply(INPUT, "scan media of an empty range")
        self._check_media("scan media")
        self._check_unlocked(dpa, length, "scan media")
        self.scan_results = []          # previous results are discarded
        self.scan_flags = 0
        self.scan_restart = (0, 0)
        self._scan = {"start": dpa, "length": length, "flags": req.scan_media_flags}
        return Background(scan_ms_for(length) / 1000.0, finish=self._scan_finish,
                          on_abort=self._scan_abort)

    def _scan_errors(self, start, end):
        found = [p for p in self.poison + self.untracked_errors
                 if p[0] < end and p[0] + p[1] > start]
        return sorted(found, key=lambda p: p[0])

    def _scan_collect(self, start, end, stopped_at=None):
        scan = self._scan
        errors = self._scan_errors(start, end)
        cap = self.poison_list_max
        if len(errors) > cap:
            stopped_at = errors[cap][0]
            errors = errors[:cap]
        self.scan_results = [(max(p[0], start), min(p[0] + p[1], end) - max(p[0], start))
                             for p in errors]
        if stopped_at is not None and stopped_at < scan["start"] + scan["length"]:
            self.scan_flags = SCAN_RESULTS_STOPPED
            rest = scan["start"] + scan["length"] - stopped_at
            self.scan_restart = (stopped_at, rest // CACHELINE)
        # errors the overflowed list could not hold move back into it when room allows
        for p in [p for p in self.untracked_errors if start <= p[0] < end]:
            if len(self.poison) < self.poison_list_max:
                self.untracked_errors.remove(p)
                self._poison_insert(*p)
        if not self.untracked_errors:
            self.poison_overflow_ts = None   # the list is complete again
        if not scan["flags"] & SCAN_NO_EVENT_LOG:
            for addr, _ in self.scan_results:
                self._media_event(EVENT_LOG_FAILURE, addr, GMER_DESC_UNCORRECTABLE,
                                  GMER_TRANS_SCAN_MEDIA)
        self.debug("scan media %#x+%#x: %d errors" % (scan["start"], scan["length"],
                                                      len(self.scan_results)))

    def _scan_finish(self):
        scan = self._scan
        self._scan_collect(scan["start"], scan["start"] + scan["length"])

    def _scan_abort(self):
        scan, op = self._scan, self.bg
        done = 0.0
        if op is not None and op.duration:
            done = min(1.0, (self.clock() - op.started) / op.duration)
        reached = scan["start"] + int(scan["length"] * done) // CACHELINE * CACHELINE
        self._scan_collect(scan["start"], reached, stopped_at=reached)

    def cmd_memdev_get_scan_media_results(self):
        if self.scan_results is None:
            raise Reply(UNSUPPORTED, "no scan media since the last reset")
        if self._scan_running():
            raise Reply(BUSY, "the scan is still running")
        self._check_media("get scan media results")
        cls = types.get("cmd_memdev_get_scan_media_results_rsp")
        room = max(1, (self.payload_max() - cls.fixed_size()) // _MEDIA_ERROR_RECORD)
        chosen, self.scan_results = self.scan_results[:room], self.scan_results[room:]
        rsp = cls.sized(len(chosen))()
        rsp.scan_media_restart_physaddr, rsp.scan_media_restart_physaddr_length = \
            self.scan_restart
        rsp.scan_media_flags = self.scan_flags | (SCAN_RESULTS_MORE if self.scan_results else 0)
        rsp.media_error_count = len(chosen)
        for i, (addr, n) in enumerate(chosen):
            rsp.record[i].media_error_address = addr
            rsp.record[i].media_error_length = n // CACHELINE
        return rsp

    # ================================================================ sanitize (44xxh)
    def _check_erase_allowed(self, what):
        if self.locked or self.user_passphrase is not None:
            raise Reply(SECURITY, "%s: not allowed while a user passphrase is set or locked"
                        % what)

    def cmd_memdev_sanitize(self):
        self._check_erase_allowed("sanitize")
        seconds = self.sanitize_seconds
        if seconds is None:
            seconds = sanitize_seconds_for(self.total_bytes)
        self.media_disabled = True
        self.debug("sanitize started (%g s)" % seconds)
        return Background(seconds, finish=self._sanitize_done, on_abort=self._erase_aborted)

    def _sanitize_done(self):
        self._wipe_media()
        self.lsa[:] = bytes(len(self.lsa))
        self._poison_all_clear()
        for elog in self.event_logs:
            elog.discard()
        self.media_disabled = False
        self.debug("sanitize complete")

    def _erase_aborted(self):
        # media stays disabled until a sanitize completes (CXL r3.1 8.2.9.9.5.1)
        self.debug("erase aborted: media remains disabled until a sanitize completes")

    def cmd_memdev_secure_erase(self):
        self._check_erase_allowed("secure erase")
        self.media_disabled = True
        self.debug("secure erase started")
        return Background(self.secure_erase_seconds, finish=self._secure_erase_done,
                          abortable=False)

    def _secure_erase_done(self):
        self._wipe_media()
        self.media_disabled = False
        self.debug("secure erase complete: media encryption keys changed")

    def cmd_memdev_media_operations_discovery(self, req):
        if req.media_operation_class != MEDIA_OP_GENERAL or \
                req.media_operation_subclass != MEDIA_OP_DISCOVERY:
            raise Reply(UNSUPPORTED, "media operation %d.%d" % (req.media_operation_class,
                                                                req.media_operation_subclass))
        start = req.discovery_osa.start_index
        if req.dpa_range_count or start >= len(MEDIA_OPS):
            raise Reply(INPUT, "discovery takes no ranges and a start index below %d"
                        % len(MEDIA_OPS))
        chosen = MEDIA_OPS[start:start + req.discovery_osa.num_ops]
        rsp = types.get("cmd_memdev_media_operations_discovery_rsp").sized(len(chosen))()
        rsp.dpa_range_granularity = CACHELINE
        rsp.total_supported_ops = len(MEDIA_OPS)
        rsp.num_supported_ops = len(chosen)
        for i, (cls, sub) in enumerate(chosen):
            rsp.entry[i].media_op_class = cls
            rsp.entry[i].media_op_subclass = sub
        return rsp

    def cmd_memdev_media_operations_sanitize(self, req):
        op = (req.media_operation_class, req.media_operation_subclass)
        if op not in MEDIA_OPS:
            raise Reply(UNSUPPORTED, "media operation %d.%d" % op)
        ranges = [(r.starting_dpa, r.length) for r in req.dpa_range_list]
        if not ranges:
            return None
        for start, length in ranges:
            if start % CACHELINE or length % CACHELINE or not length \
                    or start + length > self.media_size():
                raise Reply(INPUT, "range %#x+%#x is not 64-byte granular inside the device"
                            % (start, length))
        self._check_media("media operations")
        for start, length in ranges:
            self._check_unlocked(start, length, "media operations")
        seconds = sanitize_seconds_for(sum(n for _, n in ranges))

        def finish():
            for start, length in ranges:
                self._wipe_media(start, length)
                self._poison_clear_range(start, length)
            self.debug("media operation %d.%d on %d ranges complete" % (op + (len(ranges),)))
        return Background(seconds, finish=finish, abortable=False)

    # ================================================================ security (45xxh)
    def _security_state(self):
        state = 0
        if self.user_passphrase is not None:
            state |= SEC_USER_PASS_SET
        if self.master_passphrase is not None:
            state |= SEC_MASTER_PASS_SET
        if self.locked:
            state |= SEC_LOCKED
        if self.frozen:
            state |= SEC_FROZEN
        if self.user_attempts >= self.passphrase_limit:
            state |= SEC_USER_PLIMIT
        if self.master_attempts >= self.passphrase_limit:
            state |= SEC_MASTER_PLIMIT
        return state

    def _check_pass_type(self, kind):
        if kind not in (PASS_MASTER, PASS_USER):
            raise Reply(INPUT, "passphrase type %d" % kind)
        if kind == PASS_USER and self.user_attempts >= self.passphrase_limit:
            raise Reply(SECURITY, "user passphrase attempt limit reached")
        if kind == PASS_MASTER and self.master_attempts >= self.passphrase_limit:
            raise Reply(SECURITY, "master passphrase attempt limit reached")

    def _match(self, kind, given):
        stored = self.user_passphrase if kind == PASS_USER else self.master_passphrase
        if bytes(given) == stored:
            if kind == PASS_USER:
                self.user_attempts = 0
            else:
                self.master_attempts = 0
            return
        if kind == PASS_USER:
            self.user_attempts = min(self.user_attempts + 1, self.passphrase_limit)
        else:
            self.master_attempts = min(self.master_attempts + 1, self.passphrase_limit)
        raise Reply(PASSPHRASE, "the %s passphrase does not match"
                    % ("user" if kind == PASS_USER else "master"))

    def cmd_memdev_get_security_state(self):
        return types.get("cmd_memdev_get_security_state_rsp")(
            security_state=self._security_state())

    def cmd_memdev_set_passphrase(self, req):
        if self.frozen:
            raise Reply(SECURITY, "the security state is frozen")
        kind = req.passphrase_type
        self._check_pass_type(kind)
        if kind == PASS_MASTER:
            # the master passphrase is set only while no user passphrase is
            if self.user_passphrase is not None:
                raise Reply(SECURITY, "set the master passphrase before the user passphrase")
            if self.master_passphrase is not None:
                self._match(PASS_MASTER, req.current_passphrase)
            self.master_passphrase = bytes(req.new_passphrase)
        else:
            if self.locked:
                raise Reply(SECURITY, "unlock the device first")
            if self.user_passphrase is not None:
                self._match(PASS_USER, req.current_passphrase)
            self.user_passphrase = bytes(req.new_passphrase)
        self.debug("%s passphrase set" % ("user" if kind == PASS_USER else "master"))

    def cmd_memdev_disable_passphrase(self, req):
        if self.frozen:
            raise Reply(SECURITY, "the security state is frozen")
        kind = req.passphrase_type
        self._check_pass_type(kind)
        if kind == PASS_MASTER:
            if self.master_passphrase is None:
                raise Reply(SECURITY, "no master passphrase is set")
            self._match(PASS_MASTER, req.passphrase)
            self.master_passphrase = None
        else:
            if self.user_passphrase is None:
                raise Reply(SECURITY, "no user passphrase is set")
            self._match(PASS_USER, req.passphrase)
            self.user_passphrase = None
            self.locked = False
        self.debug("%s passphrase disabled" % ("user" if kind == PASS_USER else "master"))

    def cmd_memdev_unlock(self, req):
        if self.frozen:
            raise Reply(SECURITY, "the security state is frozen")
        if self.user_passphrase is None:
            raise Reply(SECURITY, "no user passphrase is set")
        self._check_pass_type(PASS_USER)
        if not self.locked:
            raise Reply(SECURITY, "the device is not locked")
        self._match(PASS_USER, req.current_passphrase)
        self.locked = False
        self.debug("unlocked")

    def cmd_memdev_freeze_security_state(self):
        self.frozen = True

    def cmd_memdev_passphrase_secure_erase(self, req):
        if self.frozen:
            raise Reply(SECURITY, "the security state is frozen")
        kind = req.passphrase_type
        self._check_pass_type(kind)
        if kind == PASS_MASTER:
            if self.master_passphrase is None:
                raise Reply(INPUT, "no master passphrase is set")
            self._match(PASS_MASTER, req.passphrase)
        elif self.user_passphrase is not None:
            self._match(PASS_USER, req.passphrase)
        if self.bg_busy():
            raise Reply(BUSY, "a background operation is running")
        self.user_passphrase = None
        self.user_attempts = 0
        self.locked = False
        self._wipe_media()
        self.debug("passphrase secure erase (%s passphrase)"
                   % ("user" if kind == PASS_USER else "master"))

    # ================================================================ SLD QoS (47xxh)
    def cmd_memdev_get_sld_qos_control(self):
        return types.get("cmd_memdev_get_sld_qos_control_rsp")(
            qos_telemetry_control=self.qos_control,
            egress_moderate_percentage=self.egress_moderate,
            egress_severe_percentage=self.egress_severe,
            backpressure_sample_interval=self.backpressure_interval)

    def cmd_memdev_set_sld_qos_control(self, req):
        if req.qos_telemetry_control & ~(QOS_EGRESS_PORT_CONGESTION
                                         | QOS_TEMP_THROUGHPUT_REDUCTION):
            raise Reply(INPUT, "reserved QoS telemetry control bits")
        if not 1 <= req.egress_moderate_percentage <= 100 or \
                not 1 <= req.egress_severe_percentage <= 100 or \
                req.egress_moderate_percentage > req.egress_severe_percentage:
            raise Reply(INPUT, "egress percentages must be 1-100, moderate <= severe")
        if req.backpressure_sample_interval > 15:
            raise Reply(INPUT, "backpressure sample interval must be 0-15")
        self.qos_control = req.qos_telemetry_control
        self.egress_moderate = req.egress_moderate_percentage
        self.egress_severe = req.egress_severe_percentage
        self.backpressure_interval = req.backpressure_sample_interval

    def cmd_memdev_get_sld_qos_status(self):
        value = self.backpressure if self.qos_control & QOS_EGRESS_PORT_CONGESTION else 0
        return types.get("cmd_memdev_get_sld_qos_status_rsp")(
            backpressure_avg_percentage=max(0, min(100, value)))


def build(**options):
    """The ``emu:type3`` profile: a 2 GiB (1 GiB volatile + 1 GiB persistent,
    all partitionable) memory expander with a 64 KiB LSA."""
    return Type3(**options)
