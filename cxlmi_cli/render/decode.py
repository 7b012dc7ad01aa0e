# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reply structures -> plain data, with the spec's meaning added.

The JSON convention (docs/json-schema.md):

* every non-reserved field keeps its structure name and raw value: numbers
  as numbers, ``uint8_t`` arrays as lowercase hex strings, ``char`` arrays as
  strings, nested structures as objects, arrays as lists;
* a field whose value the spec gives a meaning ALSO gets ``<field>_decoded``:
  a string for an enumeration (``null`` when the value has no name), a list
  of strings for a bitmask, an object for packed sub-fields, an object
  ``{"uuid", "name"}`` for a UUID, a number for a scaled or signed quantity
  (°C, percent; ``null`` when the device says "not implemented");
* a capacity counted in units gets ``<field>_bytes`` as well.

Tables use the same decoders through :func:`text`.
"""

import ctypes

from .. import spec as S
from ..params import human_size

PREFIX = "struct_cxlmi_"
RESERVED_PREFIXES = ("rsv", "rsvd", "reserved", "resv")


def short_name(cls):
    name = cls.__name__
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def fields(obj):
    """(name, value) of a structure's non-reserved fields, sized tails included.

    ``char`` arrays come back as ``str`` (ctypes hands them over as bytes).
    """
    seen = {}
    for klass in reversed(type(obj).__mro__):
        for f in klass.__dict__.get("_fields_", ()):
            seen[f[0]] = f[1]
    out = []
    for n, ctype in seen.items():
        if n.startswith(RESERVED_PREFIXES):
            continue
        value = getattr(obj, n)
        if isinstance(value, bytes) and issubclass(ctype, ctypes.Array) and \
                ctype._type_ is ctypes.c_char:
            value = value.decode("ascii", "replace")
        out.append((n, value))
    return out


# ------------------------------------------------------------------------ decoders

class Dec:
    """Base: ``decode`` gives the JSON ``_decoded`` value, ``text`` the table words."""
    suffix = "_decoded"

    def decode(self, value):
        raise NotImplementedError

    def text(self, value):
        d = self.decode(value)
        return "-" if d is None else str(d)

    def add(self, out, name, value):
        out[name + self.suffix] = self.decode(value)


class Enum(Dec):
    def __init__(self, table):
        self.names = S.canonical(table)

    def decode(self, value):
        return self.names.get(value)

    def text(self, value):
        name = self.names.get(value)
        return name if name is not None else "0x%x (unknown)" % value


class Flags(Dec):
    def __init__(self, table):
        self.bits = sorted((bit, name) for name, bit in table.items())

    def decode(self, value):
        value = _int(value)
        out, known = [], 0
        for bit, name in self.bits:
            known |= 1 << bit
            if value & (1 << bit):
                out.append(name)
        rest = value & ~known
        bit = 0
        while rest:
            if rest & 1:
                out.append("bit%d" % bit)
            rest >>= 1
            bit += 1
        return out

    def text(self, value):
        names = self.decode(value)
        return ", ".join(names) if names else "none"


class Packed(Dec):
    """Sub-fields of one value: [(name, lo, hi, Dec or None)]."""

    def __init__(self, parts):
        self.parts = parts

    def decode(self, value):
        value = _int(value)
        out = {}
        for name, lo, hi, dec in self.parts:
            v = (value >> lo) & ((1 << (hi - lo + 1)) - 1)
            if dec is bool:
                out[name] = bool(v)
            elif dec is not None:
                out[name] = dec.decode(v)
            else:
                out[name] = v
        return out

    def text(self, value):
        d = self.decode(value)
        return ", ".join("%s %s" % (k.replace("_", " "), _word(v)) for k, v in d.items())


class Units(Dec):
    """A count of ``unit``-byte units: adds ``<field>_bytes``."""
    suffix = "_bytes"

    def __init__(self, unit, gib=False):
        self.unit, self.gib = unit, gib

    def decode(self, value):
        return value * self.unit

    def text(self, value):
        n = value * self.unit
        if self.gib:
            return "%.2f GiB" % (n / float(1 << 30))
        return human_size(n)


class Size(Dec):
    """Already bytes: no extra JSON key, a human size in tables."""

    def add(self, out, name, value):
        pass

    def text(self, value):
        return human_size(value) if value else "0"


class HexText(Dec):
    """A number people read in hex (PCI ids, serial numbers): table only."""

    def __init__(self, digits=4):
        self.digits = digits

    def add(self, out, name, value):
        pass

    def text(self, value):
        return "0x%0*x" % (self.digits, value)


class Pow2(Dec):
    """2^N bytes: adds ``<field>_bytes``."""
    suffix = "_bytes"

    def decode(self, value):
        return 1 << value if value < 64 else None

    def text(self, value):
        return "2^%d = %s" % (value, human_size(1 << value)) if value < 64 else str(value)


class Temperature(Dec):
    """Signed 16-bit °C; FFFFh means not implemented."""

    def decode(self, value):
        if value == 0xFFFF:
            return None
        return value - 0x10000 if value & 0x8000 else value

    def text(self, value):
        d = self.decode(value)
        return "not implemented" if d is None else "%d °C" % d


class Percent(Dec):
    def __init__(self, na=0xFF):
        self.na = na

    def decode(self, value):
        return None if value == self.na else value

    def text(self, value):
        d = self.decode(value)
        return "not implemented" if d is None else "%d %%" % d


class Uuid(Dec):
    def __init__(self, table=None):
        self.names = S.uuid_names(table) if table else {}

    def decode(self, value):
        import uuid
        b = bytes(value)
        return {"uuid": str(uuid.UUID(bytes=b)), "name": self.names.get(b)}

    def text(self, value):
        d = self.decode(value)
        return "%s (%s)" % (d["name"], d["uuid"]) if d["name"] else d["uuid"]


class Opcode(Dec):
    def decode(self, value):
        from cxlmi_bindings import registry
        return registry.opcode_name(value)

    def text(self, value):
        return "%04Xh %s" % (value, self.decode(value))


class ReturnCode(Dec):
    def decode(self, value):
        from cxlmi_bindings.errors import retcode_name
        return retcode_name(value)

    def text(self, value):
        return "%d %s" % (value, self.decode(value) or "")


class Bitmap(Dec):
    """A byte array used as a bitmask of ids: the ids whose bits are set."""

    def decode(self, value):
        if isinstance(value, int):      # a u8/u16 mask: bytes(3) would be three zero bytes
            value = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "little")
        b = bytes(value)
        return [i * 8 + bit for i, byte in enumerate(b) for bit in range(8) if byte >> bit & 1]

    def text(self, value):
        return _ranges(self.decode(value)) or "none"


class Timestamp(Dec):
    def decode(self, value):
        if not value:
            return None
        import datetime
        when = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + \
            datetime.timedelta(microseconds=value // 1000)
        return when.isoformat().replace("+00:00", "Z")

    def text(self, value):
        return self.decode(value) or "not set"


class BlockSizes(Dec):
    """Bit N set: blocks of 2^N bytes supported."""

    def decode(self, value):
        return [1 << n for n in range(64) if value >> n & 1]

    def text(self, value):
        return ", ".join(human_size(v) for v in self.decode(value)) or "none"


class Int24(Dec):
    """A little-endian integer stored as a byte array."""

    def decode(self, value):
        return int.from_bytes(bytes(value), "little")

    def text(self, value):
        return str(self.decode(value))


def _int(value):
    if isinstance(value, (bytes, bytearray, ctypes.Array)):
        return int.from_bytes(bytes(value), "little")
    return value


def _word(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) or "none"
    return "-" if v is None else str(v)


def _ranges(ids):
    out, start, prev = [], None, None
    for i in ids:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            out.append(str(start) if start == prev else "%d-%d" % (start, prev))
            start = prev = i
    if start is not None:
        out.append(str(start) if start == prev else "%d-%d" % (start, prev))
    return ",".join(out)


CAP = Units(S.CAPACITY_UNIT)
CAP_GIB = Units(S.CAPACITY_UNIT, gib=True)
SIZE = Size()
INTERRUPT = Packed([("mode", 0, 1, Enum(S.INTERRUPT_MODE)), ("vector", 4, 7, None)])
MEDIA_ADDR = Packed([("source", 0, 2, Enum(S.MEDIA_ERROR_SOURCE)), ("address", 6, 63, None)])
LEVEL = Enum(S.LEVEL)

# "struct.field" -> decoder; "*.field" applies to every structure with that field.
DECODERS = {
    "cmd_identify_rsp.vendor_id": HexText(),
    "cmd_identify_rsp.device_id": HexText(),
    "cmd_identify_rsp.subsys_vendor_id": HexText(),
    "cmd_identify_rsp.subsys_id": HexText(),
    "cmd_identify_rsp.serial_num": HexText(16),
    "cmd_identify_rsp.component_type": Enum(S.COMPONENT_TYPE),
    "cmd_identify_rsp.max_msg_size": Pow2(),
    "cmd_bg_op_status_rsp.status": Packed([("in_progress", 0, 0, bool),
                                           ("percent_complete", 1, 7, None)]),
    "cmd_bg_op_status_rsp.opcode": Opcode(),
    "cmd_bg_op_status_rsp.returncode": ReturnCode(),
    "cmd_get_response_msg_limit_rsp.limit": Pow2(),
    "cmd_set_response_msg_limit_rsp.limit": Pow2(),
    "cmd_get_event_records_rsp.flags": Flags(S.EVENT_GET_FLAGS),
    "cmd_get_event_records_rsp.first_overflow_timestamp": Timestamp(),
    "cmd_get_event_records_rsp.last_overflow_timestamp": Timestamp(),
    "event_record.uuid": Uuid(S.EVENT_RECORD_UUIDS),
    "event_record.flags": Packed([("severity", 0, 1, Enum(S.EVENT_SEVERITY)),
                                  ("flags", 2, 23, Flags({n: b - 2 for n, b in
                                                          S.EVENT_RECORD_FLAGS.items()}))]),
    "event_record.timestamp": Timestamp(),
    "*.informational_settings": INTERRUPT,
    "*.warning_settings": INTERRUPT,
    "*.failure_settings": INTERRUPT,
    "*.fatal_settings": INTERRUPT,
    "*.dcd_settings": INTERRUPT,
    "cmd_get_mctp_event_interrupt_policy_rsp.event_interrupt_settings": Flags(S.EVENT_LOG_BITS),
    "cmd_get_fw_info_rsp.slot_info": Packed([("active_slot", 0, 2, None),
                                             ("staged_slot", 3, 5, None)]),
    "cmd_get_fw_info_rsp.caps": Flags(S.FW_CAPS),
    "cmd_get_timestamp_rsp.timestamp": Timestamp(),
    "supported_log_entry.uuid": Uuid(S.LOG_UUIDS),
    "supported_log_entry.log_size": SIZE,
    "cmd_get_log_cel_rsp.opcode": Opcode(),
    "cmd_get_log_cel_rsp.command_effect": Flags(S.CEL_EFFECTS),
    "cmd_get_log_capabilities_rsp.parameter_flags": Flags(S.LOG_CAPABILITIES),
    "supported_feature_entry.feature_id": Uuid(S.FEATURE_UUIDS),
    "supported_feature_entry.attribute_flags": Packed([
        ("changeable", 0, 0, bool),
        ("deepest_reset_persistence", 1, 3, Enum({"none": 0, "cxl-reset": 1, "hot-reset": 2,
                                                  "warm-reset": 3, "cold-reset": 4})),
        ("persist_across_firmware_update", 4, 4, bool), ("default_selection", 5, 5, bool),
        ("saved_selection", 6, 6, bool)]),
    "supported_feature_entry.set_feature_effects": Flags(S.CEL_EFFECTS),
    "cmd_memdev_identify_rsp.total_capacity": CAP,
    "cmd_memdev_identify_rsp.volatile_capacity": CAP,
    "cmd_memdev_identify_rsp.persistent_capacity": CAP,
    "cmd_memdev_identify_rsp.partition_align": CAP,
    "cmd_memdev_identify_rsp.lsa_size": SIZE,
    "cmd_memdev_identify_rsp.poison_list_max_mer": Int24(),
    "cmd_memdev_identify_rsp.poison_caps": Flags(S.POISON_CAPS),
    "cmd_memdev_identify_rsp.qos_telemetry_caps": Flags(S.QOS_TELEMETRY_CAPS),
    "cmd_memdev_get_partition_info_rsp.active_vmem": CAP_GIB,
    "cmd_memdev_get_partition_info_rsp.active_pmem": CAP_GIB,
    "cmd_memdev_get_partition_info_rsp.next_vmem": CAP_GIB,
    "cmd_memdev_get_partition_info_rsp.next_pmem": CAP_GIB,
    "cmd_memdev_get_health_info_rsp.health_status": Flags(S.HEALTH_STATUS),
    "cmd_memdev_get_health_info_rsp.media_status": Enum(S.MEDIA_STATUS),
    "cmd_memdev_get_health_info_rsp.additional_status": Packed([
        ("life_used", 0, 1, LEVEL), ("device_temperature", 2, 3, LEVEL),
        ("corrected_volatile_errors", 4, 4, Enum({"normal": 0, "warning": 1})),
        ("corrected_persistent_errors", 5, 5, Enum({"normal": 0, "warning": 1}))]),
    "cmd_memdev_get_health_info_rsp.life_used": Percent(),
    "cmd_memdev_get_health_info_rsp.device_temperature": Temperature(),
    "cmd_memdev_get_alert_config_rsp.valid_alerts": Flags(S.ALERTS),
    "cmd_memdev_get_alert_config_rsp.programmable_alerts": Flags(S.ALERTS),
    "cmd_memdev_get_alert_config_rsp.life_used_critical_alert_threshold": Percent(None),
    "cmd_memdev_get_alert_config_rsp.life_used_programmable_warning_threshold": Percent(None),
    "cmd_memdev_get_alert_config_rsp.device_over_temperature_critical_alert_threshold":
        Temperature(),
    "cmd_memdev_get_alert_config_rsp.device_under_temperature_critical_alert_threshold":
        Temperature(),
    "cmd_memdev_get_alert_config_rsp.device_over_temperature_programmable_warning_threshold":
        Temperature(),
    "cmd_memdev_get_alert_config_rsp.device_under_temperature_programmable_warning_threshold":
        Temperature(),
    "cmd_memdev_get_shutdown_state_rsp.state": Enum(S.SHUTDOWN_STATE),
    "cmd_memdev_get_poison_list_rsp.poison_list_flags": Flags(S.POISON_LIST_FLAGS),
    "cmd_memdev_get_poison_list_rsp.overflow_timestamp": Timestamp(),
    "memdev_media_err_record.media_err_addr": MEDIA_ADDR,
    "memdev_media_err_record.media_err_len": Units(S.MEDIA_RECORD_UNIT),
    "media_error_record.media_error_address": MEDIA_ADDR,
    "media_error_record.media_error_length": Units(S.MEDIA_RECORD_UNIT),
    "cmd_memdev_get_scan_media_results_rsp.scan_media_restart_physaddr": SIZE,
    "cmd_memdev_get_scan_media_results_rsp.scan_media_restart_physaddr_length":
        Units(S.MEDIA_RECORD_UNIT),
    "cmd_memdev_get_scan_media_results_rsp.scan_media_flags": Flags(S.SCAN_MEDIA_RESULT_FLAGS),
    "cmd_memdev_media_operations_discovery_rsp.dpa_range_granularity": SIZE,
    "cmd_memdev_media_ops_supported_list_entry.media_op_class": Enum(S.MEDIA_OP_CLASS),
    "cmd_memdev_get_security_state_rsp.security_state": Flags(S.SECURITY_STATE),
    "cmd_memdev_get_sld_qos_control_rsp.qos_telemetry_control": Flags(S.QOS_TELEMETRY_CONTROL),
    "memdev_dc_region_config.base": SIZE,
    "memdev_dc_region_config.decode_len": CAP,
    "memdev_dc_region_config.region_len": SIZE,
    "memdev_dc_region_config.block_size": SIZE,
    "fmapi_dc_region_config.base": SIZE,
    "fmapi_dc_region_config.decode_len": CAP,
    "fmapi_dc_region_config.region_len": SIZE,
    "fmapi_dc_region_config.block_size": SIZE,
    "dc_extent.start_dpa": SIZE,
    "dc_extent.len": SIZE,
    "dc_extent.tag": Uuid(),
    "cmd_fmapi_identify_sw_device_rsp.active_port_bitmask": Bitmap(),
    "cmd_fmapi_identify_sw_device_rsp.active_vcs_bitmask": Bitmap(),
    "cmd_fmapi_port_state_info_block.config_state": Enum(S.PORT_CONFIG_STATE),
    "cmd_fmapi_port_state_info_block.conn_dev_cxl_ver": Enum(S.CONN_DEV_CXL_VERSION),
    "cmd_fmapi_port_state_info_block.conn_dev_type": Enum(S.CONN_DEV_TYPE),
    "cmd_fmapi_port_state_info_block.port_cxl_ver_bitmask": Flags(S.PORT_CXL_VERSIONS),
    "cmd_fmapi_port_state_info_block.supported_link_speeds_vector": Flags(S.LINK_SPEEDS),
    "cmd_fmapi_port_state_info_block.max_link_speed": Enum(S.LINK_SPEED),
    "cmd_fmapi_port_state_info_block.current_link_speed": Enum(S.LINK_SPEED),
    "cmd_fmapi_port_state_info_block.ltssm_state": Enum(S.LTSSM_STATE),
    "cmd_fmapi_port_state_info_block.link_state": Flags(S.LINK_STATE_FLAGS),
    "*.secret_value_state": Enum(S.SV_STATE),
    "*.secret_value_uuid": Uuid(),
    "cmd_fmapi_vcs_info_block.vcs_state": Enum(S.VCS_STATE),
    "cmd_fmapi_vppb_info.binding_status": Enum(S.BINDING_STATUS),
    "cmd_fmapi_get_ld_info_rsp.memory_size": SIZE,
    "cmd_fmapi_get_ld_info_rsp.qos_telemetry_capability": Flags(S.QOS_TELEMETRY_CAPS),
    "cmd_fmapi_get_ld_allocations_rsp.memory_granularity": Enum(S.LD_GRANULARITY),
    "*.qos_telemetry_control": Flags(S.QOS_TELEMETRY_CONTROL),
    "cmd_fmapi_get_head_info_blkfmt.ltssm_state": Enum(S.LTSSM_STATE),
    "cmd_fmapi_get_dcd_info_rsp.capacity_selection_policies": Flags(S.DC_SELECTION_POLICIES),
    "cmd_fmapi_get_dcd_info_rsp.capacity_removal_policies": Flags(S.DC_REMOVAL_POLICIES),
    "cmd_fmapi_get_dcd_info_rsp.sanitize_on_release_config_mask": Bitmap(),
    "cmd_fmapi_get_dcd_info_rsp.total_dynamic_capacity": CAP,
    "dc_tag_info.tag": Uuid(),
    "dc_tag_info.ref_bitmap": Bitmap(),
    "dc_tag_info.pending_ref_bitmap": Bitmap(),
}
for _n in range(8):
    DECODERS["cmd_fmapi_get_dcd_info_rsp.region_%d_supported_blk_sz_mask" % _n] = BlockSizes()
del _n

# Fixed arrays only partly filled: (struct, field) -> the field that counts the valid ones.
TRIM = {
    ("cmd_memdev_get_dc_config_rsp", "region_configs"): "regions_returned",
    ("cmd_fmapi_get_host_dc_region_config_rsp", "region_configs"): "regions_returned",
}


def decoder(sname, field):
    return DECODERS.get(sname + "." + field) or DECODERS.get("*." + field)


def hexstr(b):
    return bytes(b).hex()


def to_json(obj):
    """Plain JSON-able data for a reply (structure, array, composite, bytes, None)."""
    if obj is None:
        return None
    if isinstance(obj, ctypes.Structure):
        return struct_json(obj)
    if isinstance(obj, ctypes.Array):
        if obj._type_ is ctypes.c_char:
            return obj.value.decode("ascii", "replace")
        if obj._type_ is ctypes.c_uint8:
            return hexstr(obj)
        return [to_json(x) for x in obj]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return hexstr(obj)
    if isinstance(obj, (list, tuple)):
        return [to_json(x) for x in obj]
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return {k: to_json(v) for k, v in vars(obj).items() if not k.startswith("_")}
    return obj


def struct_json(obj):
    sname = short_name(type(obj))
    out = {}
    for name, value in fields(obj):
        count_field = TRIM.get((sname, name))
        if count_field is not None:
            value = list(value)[:getattr(obj, count_field)]
        out[name] = to_json(value)
        dec = decoder(sname, name)
        if dec is not None:
            dec.add(out, name, bytes(value) if isinstance(value, ctypes.Array) else value)
    return out


def text(sname, field, value):
    """Table words for one field's raw value."""
    dec = decoder(sname, field)
    raw = bytes(value) if isinstance(value, ctypes.Array) and value._type_ is ctypes.c_uint8 \
        else value
    if dec is not None:
        return dec.text(raw)
    if isinstance(value, ctypes.Array):
        if value._type_ is ctypes.c_char:
            return value.value.decode("ascii", "replace")
        if value._type_ is ctypes.c_uint8:
            b = bytes(value)
            if not any(b):
                return "0 × %d" % len(b) if len(b) > 8 else b.hex()
            return b.hex() if len(b) <= 32 else "%s… (%d bytes)" % (b[:32].hex(), len(b))
        return ", ".join(str(x) for x in value)
    if isinstance(value, int):
        return str(value)
    return str(value)
