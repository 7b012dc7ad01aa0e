# SPDX-License-Identifier: LGPL-2.1-or-later
"""Metrics of CXL components, collected for monitoring (``cxl-mi exporter``).

This module has no dependency on ``prometheus_client``: it sends the
commands, converts what comes back to base units and returns plain samples
``(metric name, {label: value}, number)``; ``cxlmi_cli.commands.exporter``
turns them into Prometheus' exposition format.  The names follow Prometheus'
conventions (``cxl_<what>_<unit>``, base units, ``_total`` for counters,
``_info`` for identity carried in labels); :data:`METRICS` lists every metric
this module can emit, and ``docs/metrics.md`` documents each.

    collector = Collector(["emu:type3", "tcp:127.0.0.1:2508"], interval=15, timeout=5)
    for name, labels, value in collector.samples():
        ...

Collection is gentle on devices: :meth:`Collector.samples` collects at most
once per ``interval`` seconds and serves the cached values in between (the
mailbox is shared with the kernel driver and other tools).  Every target is
collected in a thread of its own with a deadline of ``timeout`` seconds, so a
dead device shows as ``cxl_up 0`` without stalling the others; a target whose
previous collection is still stuck is not sent anything more until it returns.
Commands a component answers UNSUPPORTED are remembered and not sent again
while its endpoint stays open.
"""

import threading
import time

from .errors import CxlmiError, DeviceError, NotSupported, TransportError

CAPACITY_UNIT = 256 * 1024 * 1024     # capacities and partitions count 256 MiB units
MEDIA_RECORD_UNIT = 64                # poison record lengths count 64-byte units

# --- what the CXL specification's codes mean (r3.1 8.2.9) ---------------------------------
COMPONENT_TYPES = {0x00: "switch", 0x03: "type3"}
HEALTH_STATUS = (("maintenance_needed", 0), ("performance_degraded", 1),
                 ("hardware_replacement_needed", 2))
MEDIA_STATUS = ("normal", "not_ready", "write_persistency_lost", "all_data_lost",
                "write_persistency_loss_on_power_loss", "write_persistency_loss_on_shutdown",
                "write_persistency_loss_imminent", "all_data_loss_on_power_loss",
                "all_data_loss_on_shutdown", "all_data_loss_imminent")
# additional status: (indicator, low bit, bit count); values 0 normal, 1 warning, 2 critical
ADDITIONAL_STATUS = (("life_used", 0, 2), ("temperature", 2, 2),
                     ("corrected_volatile_errors", 4, 1), ("corrected_persistent_errors", 5, 1))
EVENT_LOGS = (("info", 0), ("warning", 1), ("failure", 2), ("fatal", 3), ("dynamic_capacity", 4))
EVENT_LOG_SIZE_FIELDS = {"info": "info_event_log_size", "warning": "warning_event_log_size",
                         "failure": "failure_event_log_size", "fatal": "fatal_event_log_size",
                         "dynamic_capacity": "dc_event_log_size"}
EVENT_FLAG_OVERFLOW, EVENT_FLAG_MORE = 0x01, 0x02
POISON_FLAG_MORE, POISON_FLAG_OVERFLOW = 0x01, 0x02
POISON_MAX_REPLIES = 64               # a poison list is read in at most this many replies
# Get Physical Port State: Current / Max Link Speed codes -> transfers per second
LINK_SPEED_TPS = {1: 2.5e9, 2: 5e9, 3: 8e9, 4: 16e9, 5: 32e9, 6: 64e9}
LTSSM_L0 = 4
LINK_STATE_PRESENT = 1 << 2
PORT_CONFIG_STATE = {0: "disabled", 1: "bind_in_progress", 2: "unbind_in_progress",
                     3: "dsp", 4: "usp", 5: "fabric_port", 0xF: "invalid_port_id"}
CONN_DEV_TYPE = {0: "none", 1: "pcie", 2: "cxl_type1", 3: "cxl_type2", 4: "cxl_type3_sld",
                 5: "cxl_type3_mld", 6: "cxl_type3_mhd_or_gfd"}
CONN_DEV_MLD = 5
LTSSM_STATE = {0: "detect", 1: "polling", 2: "configuration", 3: "recovery", 4: "l0",
               5: "l0s", 6: "l1", 7: "l2", 8: "disabled", 9: "loopback", 10: "hot_reset"}
PORTS_PER_QUERY = 64                  # Get Physical Port State asks for this many at once
LINUX_RAW = 2                         # the kernel's RAW command id
# return codes meaning "this component has no such thing": not an error, just absent
ABSENT = frozenset(("UNSUPPORTED",))

# --- the catalogue ---------------------------------------------------------------------------
IDENTITY = ("target", "serial", "type")


class Metric:
    """One metric this module can emit: name, type, labels and what it means."""
    __slots__ = ("name", "kind", "labels", "help", "source")

    def __init__(self, name, kind, labels, help, source):
        self.name, self.kind, self.labels, self.help, self.source = \
            name, kind, tuple(labels), help, source

    def __repr__(self):
        return "<Metric %s %s>" % (self.kind, self.name)


_CATALOGUE = (
    # the exporter's own view of each target
    ("cxl_up", "gauge", ("target",),
     "1 when the last collection reached the target, 0 when it failed or timed out", "-"),
    ("cxl_scrape_duration_seconds", "gauge", ("target",),
     "how long the last collection of the target took", "-"),
    ("cxl_scrape_errors_total", "counter", ("target",),
     "failed collections of the target (unreachable, timed out) plus commands it answered "
     "with an error other than UNSUPPORTED", "-"),
    ("cxl_last_scrape_timestamp_seconds", "gauge", ("target",),
     "when the values served were collected (Unix time)", "-"),
    # identity
    ("cxl_device_info", "info", IDENTITY + ("model", "subsystem", "firmware"),
     "identity of the component: model (PCI vendor:device ID), subsystem (vendor:ID) and the "
     "revision of the running firmware", "identify, get_fw_info / memdev_identify"),
    # health (memory devices)
    ("cxl_health_status", "gauge", IDENTITY + ("status",),
     "1 when the health status bit named by status is set: maintenance_needed, "
     "performance_degraded, hardware_replacement_needed", "memdev_get_health_info"),
    ("cxl_media_status", "gauge", IDENTITY + ("status",),
     "1 for the current media status (normal, not_ready, write_persistency_lost, "
     "all_data_lost, ...), 0 for the others", "memdev_get_health_info"),
    ("cxl_alert_level", "gauge", IDENTITY + ("indicator",),
     "additional status: 0 normal, 1 warning, 2 critical for life_used, temperature, "
     "corrected_volatile_errors, corrected_persistent_errors", "memdev_get_health_info"),
    ("cxl_life_used_ratio", "gauge", IDENTITY,
     "life used, 0 to 1 (absent when the device does not implement it)",
     "memdev_get_health_info"),
    ("cxl_temperature_celsius", "gauge", IDENTITY,
     "device temperature (absent when the device does not implement it)",
     "memdev_get_health_info"),
    ("cxl_dirty_shutdowns_total", "counter", IDENTITY,
     "dirty shutdowns the device has counted", "memdev_get_health_info"),
    ("cxl_corrected_errors_total", "counter", IDENTITY + ("memory",),
     "corrected memory errors, memory=volatile or persistent", "memdev_get_health_info"),
    ("cxl_shutdown_state_dirty", "gauge", IDENTITY,
     "1 when the shutdown state is dirty (the next reset counts a dirty shutdown)",
     "memdev_get_shutdown_state"),
    # capacity and partitions
    ("cxl_capacity_bytes", "gauge", IDENTITY,
     "total memory capacity", "memdev_identify"),
    ("cxl_volatile_only_capacity_bytes", "gauge", IDENTITY,
     "capacity that is volatile only", "memdev_identify"),
    ("cxl_persistent_only_capacity_bytes", "gauge", IDENTITY,
     "capacity that is persistent only", "memdev_identify"),
    ("cxl_partition_alignment_bytes", "gauge", IDENTITY,
     "partition alignment (0: the capacity cannot be partitioned)", "memdev_identify"),
    ("cxl_partition_active_bytes", "gauge", IDENTITY + ("partition",),
     "active partition of the partitionable capacity, partition=volatile or persistent",
     "memdev_get_partition_info"),
    ("cxl_partition_next_bytes", "gauge", IDENTITY + ("partition",),
     "partition that becomes active at the next reset (0 when none is pending)",
     "memdev_get_partition_info"),
    ("cxl_label_storage_area_bytes", "gauge", IDENTITY,
     "size of the label storage area", "memdev_identify"),
    # events and poison
    ("cxl_event_log_records", "gauge", IDENTITY + ("log",),
     "records waiting in the event log (those one Get Event Records reply holds: "
     "a lower bound when cxl_event_log_more_records is 1)", "get_event_records"),
    ("cxl_event_log_more_records", "gauge", IDENTITY + ("log",),
     "1 when the log holds more records than cxl_event_log_records counts",
     "get_event_records"),
    ("cxl_event_log_overflow_records", "gauge", IDENTITY + ("log",),
     "records lost since the log overflowed (0: no overflow)", "get_event_records"),
    ("cxl_event_log_capacity_records", "gauge", IDENTITY + ("log",),
     "how many records the event log can hold", "memdev_identify"),
    ("cxl_poison_list_records", "gauge", IDENTITY,
     "media error records in the poison list", "get_poison_list"),
    ("cxl_poison_list_bytes", "gauge", IDENTITY,
     "memory the poison list records cover", "get_poison_list"),
    ("cxl_poison_list_overflow", "gauge", IDENTITY,
     "1 when the poison list overflowed (it no longer holds every error)", "get_poison_list"),
    ("cxl_poison_list_max_records", "gauge", IDENTITY,
     "how many records the poison list can hold", "memdev_identify"),
    # firmware
    ("cxl_firmware_slots", "gauge", IDENTITY,
     "firmware slots the component has", "get_fw_info"),
    ("cxl_firmware_active_slot", "gauge", IDENTITY,
     "the slot whose firmware runs", "get_fw_info"),
    ("cxl_firmware_staged_slot", "gauge", IDENTITY,
     "the slot activated at the next reset (0: none)", "get_fw_info"),
    ("cxl_firmware_slot_info", "info", IDENTITY + ("slot", "revision", "active", "staged"),
     "one per firmware slot holding firmware: its revision, whether it is active or staged "
     "(true / false)", "get_fw_info"),
    # logical devices
    ("cxl_logical_devices", "gauge", IDENTITY,
     "LDs of a multi-logical device (its FM-owned CCI) or of a multi-headed device's pool",
     "fmapi_get_ld_info, fmapi_get_multiheaded_info"),
    ("cxl_ld_memory_bytes", "gauge", IDENTITY,
     "memory of a multi-logical device shared among its LDs", "fmapi_get_ld_info"),
    ("cxl_heads", "gauge", IDENTITY,
     "heads of a multi-headed device", "fmapi_get_multiheaded_info (tunnelled to the pool)"),
    ("cxl_dynamic_capacity_bytes", "gauge", IDENTITY,
     "total dynamic capacity of a dynamic capacity device", "fmapi_get_dcd_info"),
    ("cxl_dynamic_capacity_regions", "gauge", IDENTITY,
     "dynamic capacity regions the device supports", "fmapi_get_dcd_info"),
    # switches
    ("cxl_switch_physical_ports", "gauge", IDENTITY,
     "physical ports of the switch", "fmapi_identify_sw_device"),
    ("cxl_switch_vcss", "gauge", IDENTITY,
     "virtual CXL switches (VCSs)", "fmapi_identify_sw_device"),
    ("cxl_switch_vppbs", "gauge", IDENTITY + ("state",),
     "virtual PCI-to-PCI bridges, state=total or active", "fmapi_identify_sw_device"),
    ("cxl_port_info", "info", IDENTITY + ("port", "config_state", "connected_device",
                                          "ltssm_state"),
     "one per physical port: its configuration state, what is connected and the LTSSM state",
     "fmapi_get_phys_port_state"),
    ("cxl_port_link_up", "gauge", IDENTITY + ("port",),
     "1 when the port's link is up (LTSSM in L0)", "fmapi_get_phys_port_state"),
    ("cxl_port_present", "gauge", IDENTITY + ("port",),
     "1 when presence is detected on the port", "fmapi_get_phys_port_state"),
    ("cxl_port_current_link_width", "gauge", IDENTITY + ("port",),
     "negotiated link width in lanes (0 when the link is down)", "fmapi_get_phys_port_state"),
    ("cxl_port_max_link_width", "gauge", IDENTITY + ("port",),
     "maximum link width in lanes", "fmapi_get_phys_port_state"),
    ("cxl_port_current_link_transfers_per_second", "gauge", IDENTITY + ("port",),
     "current link speed (0 when the link is down)", "fmapi_get_phys_port_state"),
    ("cxl_port_max_link_transfers_per_second", "gauge", IDENTITY + ("port",),
     "maximum link speed", "fmapi_get_phys_port_state"),
    ("cxl_port_supported_logical_devices", "gauge", IDENTITY + ("port",),
     "LDs the port supports", "fmapi_get_phys_port_state"),
    ("cxl_port_logical_devices", "gauge", IDENTITY + ("port",),
     "LDs of the multi-logical device connected to the port",
     "fmapi_get_ld_info (tunnelled through the port)"),
)

METRICS = {name: Metric(name, kind, labels, help_, source)
           for name, kind, labels, help_, source in _CATALOGUE}


# --- collecting one endpoint ----------------------------------------------------------------

def _text(value):
    return bytes(value).split(b"\0", 1)[0].decode("ascii", "replace").strip()


def _s16(value):
    return value - 0x10000 if value & 0x8000 else value


class _Gather:
    """The samples of one collection of one endpoint, and the errors met."""

    def __init__(self, ep, target, unsupported):
        self.ep = ep
        # Through the Linux driver only commands it has a name for are sent: anything else
        # goes RAW, which distribution kernels refuse and which taints the others.
        self.kernel = getattr(ep.transport, "name", None) == "ioctl"
        self.target = target
        self.unsupported = unsupported      # commands (with tunnel) answered UNSUPPORTED
        self.samples = []
        self.errors = []
        self.labels = {"target": target, "serial": "", "type": ""}

    def add(self, name, value, **labels):
        if value is None:
            return
        assert name in METRICS, name
        out = dict(self.labels)
        out.update(labels)
        self.samples.append((name, out, float(value)))

    def call(self, command, tunnel=None, absent=ABSENT, **fields):
        """The decoded reply, or None when the component has no such command (remembered)
        or answered an error (counted).  A transport failure propagates: the target is
        down."""
        key = (command, repr(tunnel))
        if key in self.unsupported:
            return None
        if self.kernel:
            from . import registry
            linux_id = registry.get(command).linux_id
            if tunnel or not linux_id or linux_id == LINUX_RAW:
                self.unsupported.add(key)
                return None
        try:
            return getattr(self.ep, command)(tunnel=tunnel, **fields)
        except DeviceError as exc:
            if exc.name in absent:
                self.unsupported.add(key)
            else:
                self.errors.append(_named(command, exc))
            return None
        except NotSupported:
            self.unsupported.add(key)
            return None
        except TransportError:
            raise
        except CxlmiError as exc:       # a reply that does not decode, a usage error
            self.errors.append(_named(command, exc))
            return None


def _named(command, exc):
    """``command: message``, the command said once (a device error names it already)."""
    text = str(exc)
    return text if text.startswith(command + ":") else "%s: %s" % (command, text)


def collect_endpoint(ep, target, unsupported=None):
    """Collect every metric of one open endpoint: (samples, error messages).

    Raises TransportError when the endpoint cannot be reached (the target is down).
    """
    g = _Gather(ep, target, set() if unsupported is None else unsupported)
    ident = g.call("identify")
    ctype = None
    if ident is not None:
        ctype = ident.component_type
        g.labels["serial"] = "0x%016x" % ident.serial_num
        g.labels["type"] = COMPONENT_TYPES.get(ctype, "0x%02x" % ctype)
    elif g.kernel:
        ctype = _kernel_identity(g)
    if ctype == 0x00:
        _switch(g)
    else:
        _memdev(g)
    fw = _firmware(g)
    if ident is not None:
        g.add("cxl_device_info", 1, model="%04x:%04x" % (ident.vendor_id, ident.device_id),
              subsystem="%04x:%04x" % (ident.subsys_vendor_id, ident.subsys_id),
              firmware=fw or getattr(g, "memdev_fw", ""))
    elif g.kernel:
        g.add("cxl_device_info", 1, model="", subsystem="",
              firmware=fw or getattr(g, "memdev_fw", ""))
    return g.samples, g.errors


def _kernel_identity(g):
    """Serial and type of a kernel device from sysfs (Identify has no kernel command)."""
    from . import discovery
    devname = getattr(g.ep.transport, "devname", "") or ""
    serial = discovery.sysfs_facts(devname).get("serial")
    if serial is not None:
        g.labels["serial"] = "0x%016x" % serial
    kind = discovery.device_kind(devname)
    g.labels["type"] = {"memdev": "type3", "switch": "switch"}.get(kind, "")
    return 0x00 if kind == "switch" else 0x03


def _firmware(g):
    info = g.call("get_fw_info")
    if info is None:
        return None
    active = info.slot_info & 0x7
    staged = (info.slot_info >> 3) & 0x7
    g.add("cxl_firmware_slots", info.slots_supported)
    g.add("cxl_firmware_active_slot", active)
    g.add("cxl_firmware_staged_slot", staged)
    running = None
    for slot in range(1, min(info.slots_supported, 4) + 1):
        revision = _text(getattr(info, "fw_rev%d" % slot))
        if slot == active:
            running = revision
        if revision:
            g.add("cxl_firmware_slot_info", 1, slot=str(slot), revision=revision,
                  active="true" if slot == active else "false",
                  staged="true" if slot == staged else "false")
    return running


def _memdev(g):
    ident = g.call("memdev_identify")
    total = None
    if ident is not None:
        g.memdev_fw = _text(ident.fw_revision)
        total = ident.total_capacity * CAPACITY_UNIT
        g.add("cxl_capacity_bytes", total)
        g.add("cxl_volatile_only_capacity_bytes", ident.volatile_capacity * CAPACITY_UNIT)
        g.add("cxl_persistent_only_capacity_bytes", ident.persistent_capacity * CAPACITY_UNIT)
        g.add("cxl_partition_alignment_bytes", ident.partition_align * CAPACITY_UNIT)
        g.add("cxl_label_storage_area_bytes", ident.lsa_size)
        g.add("cxl_poison_list_max_records",
              int.from_bytes(bytes(ident.poison_list_max_mer), "little"))
        for log, _ in EVENT_LOGS:
            g.add("cxl_event_log_capacity_records", getattr(ident, EVENT_LOG_SIZE_FIELDS[log]),
                  log=log)
    health = g.call("memdev_get_health_info")
    if health is not None:
        for status, bit in HEALTH_STATUS:
            g.add("cxl_health_status", (health.health_status >> bit) & 1, status=status)
        for code, status in enumerate(MEDIA_STATUS):
            g.add("cxl_media_status", int(health.media_status == code), status=status)
        for indicator, low, width in ADDITIONAL_STATUS:
            g.add("cxl_alert_level", (health.additional_status >> low) & ((1 << width) - 1),
                  indicator=indicator)
        if health.life_used != 0xFF:
            g.add("cxl_life_used_ratio", health.life_used / 100.0)
        if health.device_temperature != 0xFFFF:
            g.add("cxl_temperature_celsius", _s16(health.device_temperature))
        g.add("cxl_dirty_shutdowns_total", health.dirty_shutdown_count)
        g.add("cxl_corrected_errors_total", health.corrected_volatile_error_count,
              memory="volatile")
        g.add("cxl_corrected_errors_total", health.corrected_persistent_error_count,
              memory="persistent")
    state = g.call("memdev_get_shutdown_state")
    if state is not None:
        g.add("cxl_shutdown_state_dirty", state.state & 1)
    if ident is not None and ident.partition_align:
        part = g.call("memdev_get_partition_info")
        if part is not None:
            for kind in ("vmem", "pmem"):
                name = "volatile" if kind == "vmem" else "persistent"
                g.add("cxl_partition_active_bytes",
                      getattr(part, "active_" + kind) * CAPACITY_UNIT, partition=name)
                g.add("cxl_partition_next_bytes",
                      getattr(part, "next_" + kind) * CAPACITY_UNIT, partition=name)
    if total:
        _poison(g, total)
    if ident is not None:
        for log, log_id in EVENT_LOGS:
            if log == "dynamic_capacity" and not ident.dc_event_log_size:
                continue
            events = g.call("get_event_records", event_log=log_id)
            if events is None:
                continue
            g.add("cxl_event_log_records", events.record_count, log=log)
            g.add("cxl_event_log_more_records", int(bool(events.flags & EVENT_FLAG_MORE)),
                  log=log)
            g.add("cxl_event_log_overflow_records",
                  events.overflow_err_count if events.flags & EVENT_FLAG_OVERFLOW else 0,
                  log=log)
    if g.ep.has_fmapi:
        _pooled(g)


def _poison(g, total):
    records = covered = 0
    overflow = False
    for _ in range(POISON_MAX_REPLIES):
        reply = g.call("get_poison_list", get_poison_list_phy_addr=0,
                       get_poison_list_phy_addr_len=total // MEDIA_RECORD_UNIT)
        if reply is None:
            return
        records += len(reply.records)
        covered += sum(r.media_err_len for r in reply.records) * MEDIA_RECORD_UNIT
        overflow = overflow or bool(reply.poison_list_flags & POISON_FLAG_OVERFLOW)
        if not reply.poison_list_flags & POISON_FLAG_MORE:
            break
    g.add("cxl_poison_list_records", records)
    g.add("cxl_poison_list_bytes", covered)
    g.add("cxl_poison_list_overflow", int(overflow))


def _pooled(g):
    """LDs of an MLD (its FM-owned CCI), an MHD's pool, a DCD's dynamic capacity."""
    from .tunnel import Tunnel
    ld = g.call("fmapi_get_ld_info")
    if ld is not None:
        g.add("cxl_logical_devices", ld.ld_count)
        g.add("cxl_ld_memory_bytes", ld.memory_size)
    else:
        # a single-LD device has no tunnel targets: INPUT means "no MHD pool here"
        mhd = g.call("fmapi_get_multiheaded_info", tunnel=Tunnel.mhd(),
                     absent=ABSENT | {"INPUT"}, start_ld_id=0, ld_map_list_limit=0)
        if mhd is not None:
            g.add("cxl_logical_devices", mhd.num_lds)
            g.add("cxl_heads", mhd.num_heads)
    dcd = g.call("fmapi_get_dcd_info")
    if dcd is not None:
        g.add("cxl_dynamic_capacity_bytes", dcd.total_dynamic_capacity * CAPACITY_UNIT)
        g.add("cxl_dynamic_capacity_regions", dcd.num_supported_dc_regions)


def _switch(g):
    from .tunnel import Tunnel
    sw = g.call("fmapi_identify_sw_device")
    if sw is None:
        return
    g.add("cxl_switch_physical_ports", sw.num_physical_ports)
    g.add("cxl_switch_vcss", sw.num_vcs)
    g.add("cxl_switch_vppbs", sw.num_total_vppb, state="total")
    g.add("cxl_switch_vppbs", sw.num_active_vppb, state="active")
    mask = bytes(sw.active_port_bitmask)
    ports = [p for p in range(min(len(mask) * 8, 256)) if mask[p // 8] >> (p % 8) & 1]
    for start in range(0, len(ports), PORTS_PER_QUERY):
        chunk = ports[start:start + PORTS_PER_QUERY]
        reply = g.call("fmapi_get_phys_port_state", ports=chunk)
        if reply is None:
            continue
        for p in reply.ports:
            port = str(p.port_id)
            g.add("cxl_port_info", 1, port=port,
                  config_state=PORT_CONFIG_STATE.get(p.config_state, str(p.config_state)),
                  connected_device=CONN_DEV_TYPE.get(p.conn_dev_type, str(p.conn_dev_type)),
                  ltssm_state=LTSSM_STATE.get(p.ltssm_state, str(p.ltssm_state)))
            g.add("cxl_port_link_up", int(p.ltssm_state == LTSSM_L0), port=port)
            g.add("cxl_port_present", int(bool(p.link_state & LINK_STATE_PRESENT)), port=port)
            g.add("cxl_port_current_link_width", p.negotiated_link_width, port=port)
            g.add("cxl_port_max_link_width", p.max_link_width, port=port)
            g.add("cxl_port_current_link_transfers_per_second",
                  LINK_SPEED_TPS.get(p.current_link_speed, 0), port=port)
            g.add("cxl_port_max_link_transfers_per_second",
                  LINK_SPEED_TPS.get(p.max_link_speed, 0), port=port)
            g.add("cxl_port_supported_logical_devices", p.supported_ld_count, port=port)
            if p.conn_dev_type == CONN_DEV_MLD:
                ld = g.call("fmapi_get_ld_info", tunnel=Tunnel.switch(p.port_id))
                if ld is not None:
                    g.add("cxl_port_logical_devices", ld.ld_count, port=port)


# --- many targets, cached, each bounded by a deadline ----------------------------------------

def open_target(target, timeout):
    """Open ``target`` with every wait bounded by ``timeout`` seconds (connect, probe,
    each reply); raises CxlmiError when it cannot be reached."""
    from . import targets
    from .endpoint import Context
    ctx = Context()
    ctx.probe_enabled = False
    options = {}
    if targets.parse(target)[0] == "tcp":
        options["connect_timeout"] = timeout
    ep = ctx.open(target, **options)
    ep.timeout_ms = max(1, int(timeout * 1000))
    failed = ep.probe()
    if isinstance(failed, TransportError):
        ep.close()
        raise failed
    return ep


class _Target:
    def __init__(self, target):
        self.target = target
        self.ep = None
        self.unsupported = set()
        self.errors_total = 0
        self.worker = None
        self.up = False
        self.samples = []
        self.duration = 0.0
        self.collected_at = None      # wall-clock time of the last collection
        self.last_error = None


class Collector:
    """Collects many targets, at most once per ``interval`` seconds, each within
    ``timeout`` seconds.

    ``opener(target, timeout)`` returns an open endpoint (default: :func:`open_target`);
    ``clock`` is the monotonic clock deciding when values are stale.
    """

    def __init__(self, targets, interval=15.0, timeout=5.0, opener=None, clock=time.monotonic):
        if not targets:
            raise ValueError("no targets to collect")
        self.interval = float(interval)
        self.timeout = float(timeout)
        self.opener = opener or open_target
        self.clock = clock
        self.targets = [_Target(t) for t in dict.fromkeys(targets)]
        self.collections = 0          # how many times the targets were collected
        self._lock = threading.Lock()
        self._fresh_until = None

    # one target, in its own thread
    def _work(self, t, result):
        start = time.monotonic()
        try:
            if t.ep is None:
                t.ep = self.opener(t.target, self.timeout)
                t.unsupported = set()
            samples, errors = collect_endpoint(t.ep, t.target, t.unsupported)
            result.update(up=True, samples=samples, errors=errors)
        except Exception as exc:        # unreachable, timed out, a bug: the target is down
            result.update(up=False, samples=[], errors=["%s" % exc])
            ep, t.ep = t.ep, None
            if ep is not None:
                try:
                    ep.close()
                except Exception:
                    pass
        result["duration"] = time.monotonic() - start

    def refresh(self):
        """Collect every target now (concurrently); returns when all are done or the
        timeout has passed."""
        started = time.monotonic()
        deadline = started + self.timeout
        runs = []
        for t in self.targets:
            if t.worker is not None and t.worker.is_alive():
                runs.append((t, None))          # still stuck in the last collection
                continue
            result = {}
            t.worker = threading.Thread(target=self._work, args=(t, result),
                                        name="cxl-mi collect %s" % t.target, daemon=True)
            t.worker.start()
            runs.append((t, result))
        now_wall = time.time()
        for t, result in runs:
            if result is not None:
                t.worker.join(max(0.0, deadline - time.monotonic()))
            if result is None or t.worker.is_alive():
                t.up, t.samples = False, []
                t.duration = time.monotonic() - started
                t.last_error = "no answer within %gs" % self.timeout
                t.errors_total += 1
            else:
                t.up, t.samples, t.duration = result["up"], result["samples"], result["duration"]
                t.errors_total += len(result["errors"])
                t.last_error = "; ".join(result["errors"]) or None
            t.collected_at = now_wall
        self.collections += 1

    def samples(self):
        """Every sample: collected now when the cached ones are older than the interval."""
        with self._lock:
            now = self.clock()
            if self._fresh_until is None or now >= self._fresh_until:
                self.refresh()
                self._fresh_until = self.clock() + self.interval
            out = []
            for t in self.targets:
                label = {"target": t.target}
                out.append(("cxl_up", label, 1.0 if t.up else 0.0))
                out.append(("cxl_scrape_duration_seconds", label, t.duration))
                out.append(("cxl_scrape_errors_total", label, float(t.errors_total)))
                out.append(("cxl_last_scrape_timestamp_seconds", label, t.collected_at))
                out.extend(t.samples)
            return out

    def errors(self):
        """{target: the last collection's error message} for targets that had one."""
        return {t.target: t.last_error for t in self.targets if t.last_error}

    def close(self):
        for t in self.targets:
            if t.ep is not None and not (t.worker is not None and t.worker.is_alive()):
                try:
                    t.ep.close()
                except Exception:
                    pass
                t.ep = None
