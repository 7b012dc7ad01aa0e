# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generic component command payloads (CXL r3.1 8.2.9.1-8.2.9.6): information and
status, events, firmware update, timestamp, logs, features; plus the CCI
message header itself.

Each entry is ``name:`` then its fields in wire order (``field type``,
``type[N]`` a fixed array, ``type[]`` the flexible tail).  The class built from
it is ``struct_cxlmi_<name>``, laid out exactly as libcxlmi's api-types.h.
"""

LAYOUTS = """
cci_msg:
    category u8, tag u8, rsv1 u8, command u8, command_set u8, pl_length u8[3],
    return_code u16, vendor_ext_status u16, payload u8[]
cmd_identify_rsp:
    vendor_id u16, device_id u16, subsys_vendor_id u16, subsys_id u16, serial_num u64,
    max_msg_size u8, component_type u8
cmd_bg_op_status_rsp:
    status u8, rsvd u8, opcode u16, returncode u16, vendor_ext_status u16
cmd_get_response_msg_limit_rsp:
    limit u8
cmd_set_response_msg_limit_req:
    limit u8
cmd_set_response_msg_limit_rsp:
    limit u8
event_record:
    uuid u8[16], length u8, flags u8[3], handle u16, related_handle u16, timestamp u64,
    maint_op_class u8, maint_op_subclass u8, ld_id u16, head_id u8, reserved u8[11],
    data u8[80]
cmd_get_event_records_req:
    event_log u8
cmd_get_event_records_rsp:
    flags u8, reserved1 u8, overflow_err_count u16, first_overflow_timestamp u64,
    last_overflow_timestamp u64, record_count u16, reserved2 u8[10], records
    event_record[]
cmd_clear_event_records_req:
    event_log u8, clear_flags u8, nr_recs u8, reserved u8[3], handles u16[]
cmd_get_event_interrupt_policy_rsp:
    informational_settings u8, warning_settings u8, failure_settings u8, fatal_settings
    u8, dcd_settings u8
cmd_set_event_interrupt_policy_req:
    informational_settings u8, warning_settings u8, failure_settings u8, fatal_settings
    u8, dcd_settings u8
cmd_get_mctp_event_interrupt_policy_rsp:
    event_interrupt_settings u16
cmd_set_mctp_event_interrupt_policy_req:
    event_interrupt_settings u16
cmd_event_notification_req:
    event u16
cmd_get_fw_info_rsp:
    slots_supported u8, slot_info u8, caps u8, rsvd u8[13], fw_rev1 char[16], fw_rev2
    char[16], fw_rev3 char[16], fw_rev4 char[16]
cmd_transfer_fw_req:
    action u8, slot u8, rsvd1 u8[2], offset u32, rsvd2 u8[120], data u8[]
cmd_activate_fw_req:
    action u8, slot u8
cmd_get_timestamp_rsp:
    timestamp u64
cmd_set_timestamp_req:
    timestamp u64
supported_log_entry:
    uuid u8[16], log_size u32
cmd_get_supported_logs_rsp:
    num_supported_log_entries u16, reserved u8[6], entries supported_log_entry[]
cmd_get_log_req:
    uuid u8[16], offset u32, length u32
cmd_get_log_rsp:
    opcode u16, command_effect u16
cmd_get_log_cel_rsp:
    opcode u16, command_effect u16
cmd_get_log_capabilities_req:
    uuid u8[16]
cmd_get_log_capabilities_rsp:
    parameter_flags u32
cmd_clear_log_req:
    uuid u8[16]
cmd_populate_log_req:
    uuid u8[16]
cmd_get_supported_logs_sublist_req:
    max_supported_log_entries u8, start_log_entry_index u8
cmd_get_supported_logs_sublist_rsp:
    num_supported_log_entries u8, rsvd1 u8, total_num_supported_log_entries u16,
    start_log_entry_index u8, rsvd2 u8[3], entries supported_log_entry[]
cmd_get_supported_features_req:
    count u32, starting_feature_index u16, rsvd u8[2]
supported_feature_entry:
    feature_id u8[16], feature_index u16, get_feature_size u16, set_feature_size u16,
    attribute_flags u32, get_feature_version u8, set_feature_version u8,
    set_feature_effects u16, rsvd u8[18]
cmd_get_supported_features_rsp:
    num_supported_feature_entries u16, device_supported_features u16, rsvd u8[4],
    supported_feature_entries supported_feature_entry[]
cmd_get_feature_req:
    feature_id u8[16], offset u16, count u16, selection u8
cmd_get_feature_rsp:
    feature_data u8[2048]
cmd_set_feature_req:
    feature_id u8[16], set_feature_flags u32, offset u16, version u8, rsvd u8[9],
    feature_data u8[]
"""
