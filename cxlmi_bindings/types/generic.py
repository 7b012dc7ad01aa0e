# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generic component command payloads (CXL r3.1 8.2.9.1-8.2.9.6): information and
status, events, firmware update, timestamp, logs, features; plus the CCI
message header itself.

Each entry is ``name:`` then one field per line in wire order: ``field type``
(``type[N]`` a fixed array, ``type[]`` the flexible tail), then, when the spec
gives the value a meaning, the meaning (:mod:`.meaning`), whose tables are the
upper-case names of this module.  The class built from it is
``struct_cxlmi_<name>``, laid out exactly as libcxlmi's api-types.h.
"""

from .. import uuids as _uuids

# -- information and status (8.2.9.1) -------------------------------------------------
COMPONENT_TYPE = {"switch": 0, "type3": 3}
BG_OP_STATUS = [("in_progress", 0, 0, "bool"), ("percent_complete", 1, 7, None)]

# -- events (8.2.9.2) -----------------------------------------------------------------
EVENT_LOG = {"info": 0, "informational": 0, "warn": 1, "warning": 1, "fail": 2,
             "failure": 2, "fatal": 3, "dcd": 4, "dynamic-capacity": 4}
EVENT_LOG_BITS = {"info": 0, "warn": 1, "fail": 2, "fatal": 3, "dcd": 4}
EVENT_SEVERITY = {"informational": 0, "warning": 1, "failure": 2, "fatal": 3}
# Common event record flags (table 8-43) above the two severity bits: bit 0 here is
# bit 2 of the record's flags.
EVENT_CONDITIONS = {"permanent-condition": 0, "maintenance-needed": 1,
                    "performance-degraded": 2, "hardware-replacement-needed": 3,
                    "maint-op-subclass-valid": 4, "ld-id-valid": 5, "head-id-valid": 6}
EVENT_RECORD_FLAGS = [("severity", 0, 1, "enum EVENT_SEVERITY"),
                      ("flags", 2, 23, "flags EVENT_CONDITIONS")]
EVENT_GET_FLAGS = {"overflow": 0, "more-records": 1}
EVENT_CLEAR_FLAGS = {"clear-all": 0}
INTERRUPT_MODE = {"none": 0, "msi": 1, "fw": 2, "reserved": 3}
INTERRUPT_SETTING = [("mode", 0, 1, "enum INTERRUPT_MODE"), ("vector", 4, 7, None)]
EVENT_RECORD_UUIDS = _uuids.EVENT_RECORD
# What some event records carry in their 80 data bytes (the event record's UUID says
# which): General Media (r3.1 table 8-45) and Dynamic Capacity (table 8-50).
GMER_DESCRIPTOR = {"uncorrectable": 0, "threshold": 1, "poison-list-overflow": 2}
GMER_TYPE = {"ecc-error": 0, "invalid-address": 1, "data-path-error": 2}
GMER_TRANSACTION = {"unknown": 0, "host-read": 1, "host-write": 2, "host-scan-media": 3,
                    "host-inject-poison": 4, "internal-media-scrub": 5,
                    "internal-media-management": 6}
GMER_VALID = {"channel": 0, "rank": 1, "device": 2, "component-id": 3}
# bit 0: the DPA is volatile; bits 63:6: the DPA of the cache line (in 64-byte units,
# decoded as the DPA)
GMER_DPA_UNIT = 64
GMER_ADDRESS = [("volatile", 0, 0, "bool"), ("dpa", 6, 63, "units GMER_DPA_UNIT")]
DC_EVENT_TYPE = {"add-capacity": 0, "release-capacity": 1, "forced-capacity-release": 2,
                 "region-configuration-updated": 3, "add-capacity-response": 4,
                 "capacity-released": 5}
DC_EVENT_VALID = {"host-id": 0}
DC_EVENT_FLAGS = {"more": 0}

# -- maintenance (06xxh) ----------------------------------------------------------------
# Perform Maintenance (0600h): the operation class, then for post package repair
# (class 1) its subclass (soft or hard PPR), flags, the DPA and a 24-bit nibble mask --
# the layout QEMU's emulator and the kernel's EDAC driver send.
MAINTENANCE_CLASS = {"none": 0, "ppr": 1, "memory-sparing": 2}
PPR_SUBCLASS = {"soft": 0, "hard": 1}
MAINTENANCE_FLAGS = {"query-resources": 0}
SPARING_SUBCLASS = {"cacheline": 0, "row": 1, "bank": 2, "rank": 3}
SPARING_FLAGS = {"query-resources": 0, "hard-sparing": 1, "sub-channel-valid": 2,
                 "nibble-mask-valid": 3}

# -- firmware update (8.2.9.3) --------------------------------------------------------
FW_TRANSFER_ACTION = {"full": 0, "initiate": 1, "continue": 2, "end": 3, "abort": 4}
FW_ACTIVATE_ACTION = {"online": 0, "reset": 1, "offline": 1, "on-reset": 1}
FW_CAPS = {"online-activation": 0}
FW_SLOT_INFO = [("active_slot", 0, 2, None), ("staged_slot", 3, 5, None)]
FW_TRANSFER_UNIT = 128            # Transfer FW offsets count 128-byte units

# -- logs (8.2.9.5) -------------------------------------------------------------------
LOG_UUIDS = _uuids.LOG
LOG_CAPABILITIES = {"clear": 0, "populate": 1, "auto-populate": 2,
                    "persistent-across-cold-reset": 3}
# Command Effects Log entry effects (table 8-75).
CEL_EFFECTS = {
    "config-change-after-cold-reset": 0, "immediate-config-change": 1,
    "immediate-data-change": 2, "immediate-policy-change": 3, "immediate-log-change": 4,
    "security-state-change": 5, "background-operation": 6, "secondary-mailbox": 7,
    "request-abort-background": 8, "effects-11-10-valid": 9,
    "config-change-after-conventional-reset": 10, "config-change-after-cxl-reset": 11,
}

# -- features (8.2.9.6) ---------------------------------------------------------------
FEATURE_UUIDS = _uuids.FEATURE
FEATURE_SELECTION = {"current": 0, "default": 1, "saved": 2}
FEATURE_ACTION = {"full": 0, "initiate": 1, "continue": 2, "finish": 3, "abort": 4}
SET_FEATURE_FLAGS = [("action", 0, 2, "enum FEATURE_ACTION"), ("saved", 3, 3, "bool")]
RESET_PERSISTENCE = {"none": 0, "cxl-reset": 1, "hot-reset": 2, "warm-reset": 3,
                     "cold-reset": 4}
FEATURE_ATTRIBUTES = [("changeable", 0, 0, "bool"),
                      ("deepest_reset_persistence", 1, 3, "enum RESET_PERSISTENCE"),
                      ("persist_across_firmware_update", 4, 4, "bool"),
                      ("default_selection", 5, 5, "bool"), ("saved_selection", 6, 6, "bool")]

LAYOUTS = """
cci_msg:
    category u8
    tag u8
    rsv1 u8                                          reserved
    command u8
    command_set u8
    pl_length u8[3]
    return_code u16
    vendor_ext_status u16
    payload u8[]
cmd_identify_rsp:
    vendor_id u16                                    hex 4
    device_id u16                                    hex 4
    subsys_vendor_id u16                             hex 4
    subsys_id u16                                    hex 4
    serial_num u64                                   hex 16
    max_msg_size u8                                  log2-bytes
    component_type u8                                enum COMPONENT_TYPE
cmd_bg_op_status_rsp:
    status u8                                        packed BG_OP_STATUS
    rsvd u8                                          reserved
    opcode u16                                       opcode
    returncode u16                                   return-code
    vendor_ext_status u16
cmd_get_response_msg_limit_rsp:
    limit u8                                         log2-bytes
cmd_set_response_msg_limit_req:
    limit u8
cmd_set_response_msg_limit_rsp:
    limit u8                                         log2-bytes
event_record:
    uuid u8[16]                                      uuid EVENT_RECORD_UUIDS
    length u8
    flags u8[3]                                      packed EVENT_RECORD_FLAGS
    handle u16
    related_handle u16
    timestamp u64                                    timestamp
    maint_op_class u8
    maint_op_subclass u8
    ld_id u16
    head_id u8
    reserved u8[11]                                  reserved
    data u8[80]                                      event-data
gen_media_event_data:
    phys_addr u64                                    packed GMER_ADDRESS
    descriptor u8                                    flags GMER_DESCRIPTOR
    type u8                                          enum GMER_TYPE
    transaction_type u8                              enum GMER_TRANSACTION
    validity_flags u16                               flags GMER_VALID
    channel u8
    rank u8
    device u8[3]                                     le-int
    component_id u8[16]
    rsvd u8[46]                                      reserved
dc_event_data:
    event_type u8                                    enum DC_EVENT_TYPE
    validity_flags u8                                flags DC_EVENT_VALID
    host_id u16
    region_index u8
    flags u8                                         flags DC_EVENT_FLAGS
    rsvd1 u8[2]                                      reserved
    extent dc_extent
    rsvd2 u8[24]                                     reserved
    extents_available u32
    tags_available u32
cmd_get_event_records_req:
    event_log u8                                     enum EVENT_LOG
cmd_get_event_records_rsp:
    flags u8                                         flags EVENT_GET_FLAGS
    reserved1 u8                                     reserved
    overflow_err_count u16
    first_overflow_timestamp u64                     timestamp
    last_overflow_timestamp u64                      timestamp
    record_count u16                                 count-of records
    reserved2 u8[10]                                 reserved
    records event_record[]
cmd_clear_event_records_req:
    event_log u8                                     enum EVENT_LOG
    clear_flags u8                                   flags EVENT_CLEAR_FLAGS
    nr_recs u8                                       count-of handles
    reserved u8[3]                                   reserved
    handles u16[]
cmd_get_event_interrupt_policy_rsp:
    informational_settings u8                        packed INTERRUPT_SETTING
    warning_settings u8                              packed INTERRUPT_SETTING
    failure_settings u8                              packed INTERRUPT_SETTING
    fatal_settings u8                                packed INTERRUPT_SETTING
    dcd_settings u8                                  packed INTERRUPT_SETTING
cmd_set_event_interrupt_policy_req:
    informational_settings u8                        packed INTERRUPT_SETTING
    warning_settings u8                              packed INTERRUPT_SETTING
    failure_settings u8                              packed INTERRUPT_SETTING
    fatal_settings u8                                packed INTERRUPT_SETTING
    dcd_settings u8                                  packed INTERRUPT_SETTING
cmd_get_mctp_event_interrupt_policy_rsp:
    event_interrupt_settings u16                     flags EVENT_LOG_BITS
cmd_set_mctp_event_interrupt_policy_req:
    event_interrupt_settings u16                     flags EVENT_LOG_BITS
cmd_event_notification_req:
    event u16
cmd_get_fw_info_rsp:
    slots_supported u8
    slot_info u8                                     packed FW_SLOT_INFO
    caps u8                                          flags FW_CAPS
    rsvd u8[13]                                      reserved
    fw_rev1 char[16]
    fw_rev2 char[16]
    fw_rev3 char[16]
    fw_rev4 char[16]
cmd_transfer_fw_req:
    action u8                                        enum FW_TRANSFER_ACTION
    slot u8
    rsvd1 u8[2]                                      reserved
    offset u32                                       units FW_TRANSFER_UNIT
    rsvd2 u8[120]                                    reserved
    data u8[]
cmd_activate_fw_req:
    action u8                                        enum FW_ACTIVATE_ACTION
    slot u8
cmd_perform_maintenance_req:
    op_class u8                                      enum MAINTENANCE_CLASS
    op_subclass u8                                   enum PPR_SUBCLASS
    flags u8                                         flags MAINTENANCE_FLAGS
    dpa u64                                          bytes
    nibble_mask u8[3]
cmd_perform_maintenance_sparing_req:
    op_class u8                                      enum MAINTENANCE_CLASS
    op_subclass u8                                   enum SPARING_SUBCLASS
    flags u8                                         flags SPARING_FLAGS
    channel u8
    rank u8
    nibble_mask u8[3]                                le-int
    bank_group u8
    bank u8
    row u8[3]                                        le-int
    column u16
    sub_channel u8
cmd_get_timestamp_rsp:
    timestamp u64                                    timestamp
cmd_set_timestamp_req:
    timestamp u64                                    timestamp
supported_log_entry:
    uuid u8[16]                                      uuid LOG_UUIDS
    log_size u32                                     bytes
cmd_get_supported_logs_rsp:
    num_supported_log_entries u16                    count-of entries
    reserved u8[6]                                   reserved
    entries supported_log_entry[]
cmd_get_log_req:
    uuid u8[16]                                      uuid LOG_UUIDS
    offset u32
    length u32
cmd_get_log_rsp:
    opcode u16
    command_effect u16
cmd_get_log_cel_rsp:
    opcode u16                                       opcode
    command_effect u16                               flags CEL_EFFECTS
cmd_get_log_capabilities_req:
    uuid u8[16]                                      uuid LOG_UUIDS
cmd_get_log_capabilities_rsp:
    parameter_flags u32                              flags LOG_CAPABILITIES
cmd_clear_log_req:
    uuid u8[16]                                      uuid LOG_UUIDS
cmd_populate_log_req:
    uuid u8[16]                                      uuid LOG_UUIDS
cmd_get_supported_logs_sublist_req:
    max_supported_log_entries u8
    start_log_entry_index u8
cmd_get_supported_logs_sublist_rsp:
    num_supported_log_entries u8                     count-of entries
    rsvd1 u8                                         reserved
    total_num_supported_log_entries u16
    start_log_entry_index u8
    rsvd2 u8[3]                                      reserved
    entries supported_log_entry[]
cmd_get_supported_features_req:
    count u32
    starting_feature_index u16
    rsvd u8[2]                                       reserved
supported_feature_entry:
    feature_id u8[16]                                uuid FEATURE_UUIDS
    feature_index u16
    get_feature_size u16
    set_feature_size u16
    attribute_flags u32                              packed FEATURE_ATTRIBUTES
    get_feature_version u8
    set_feature_version u8
    set_feature_effects u16                          flags CEL_EFFECTS
    rsvd u8[18]                                      reserved
cmd_get_supported_features_rsp:
    num_supported_feature_entries u16                count-of supported_feature_entries
    device_supported_features u16
    rsvd u8[4]                                       reserved
    supported_feature_entries supported_feature_entry[]
cmd_get_feature_req:
    feature_id u8[16]                                uuid FEATURE_UUIDS
    offset u16
    count u16
    selection u8                                     enum FEATURE_SELECTION
cmd_get_feature_rsp:
    feature_data u8[2048]
cmd_set_feature_req:
    feature_id u8[16]                                uuid FEATURE_UUIDS
    set_feature_flags u32                            packed SET_FEATURE_FLAGS
    offset u16
    version u8
    rsvd u8[9]                                       reserved
    feature_data u8[]
"""
