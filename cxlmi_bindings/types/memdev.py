# SPDX-License-Identifier: LGPL-2.1-or-later
"""Memory device command payloads (CXL r3.1 8.2.9.9): identify, capacity
configuration and label storage, health and alerts, media and poison,
sanitize, persistent memory security, SLD QoS, dynamic capacity.

Each entry is ``name:`` then its fields in wire order (``field type``,
``type[N]`` a fixed array, ``type[]`` the flexible tail).  The class built from
it is ``struct_cxlmi_<name>``, laid out exactly as libcxlmi's api-types.h.
"""

LAYOUTS = """
cmd_memdev_identify_rsp:
    fw_revision char[16], total_capacity u64, volatile_capacity u64, persistent_capacity
    u64, partition_align u64, info_event_log_size u16, warning_event_log_size u16,
    failure_event_log_size u16, fatal_event_log_size u16, lsa_size u32,
    poison_list_max_mer u8[3], inject_poison_limit u16, poison_caps u8,
    qos_telemetry_caps u8, dc_event_log_size u16
cmd_memdev_get_partition_info_rsp:
    active_vmem u64, active_pmem u64, next_vmem u64, next_pmem u64
cmd_memdev_set_partition_info_req:
    volatile_capacity u64, flags u8
cmd_memdev_get_lsa_req:
    offset u32, length u32
cmd_memdev_set_lsa_req:
    offset u32, rsvd u32, data u8[]
cmd_memdev_get_health_info_rsp:
    health_status u8, media_status u8, additional_status u8, life_used u8,
    device_temperature u16, dirty_shutdown_count u32, corrected_volatile_error_count
    u32, corrected_persistent_error_count u32
cmd_memdev_get_alert_config_rsp:
    valid_alerts u8, programmable_alerts u8, life_used_critical_alert_threshold u8,
    life_used_programmable_warning_threshold u8,
    device_over_temperature_critical_alert_threshold u16,
    device_under_temperature_critical_alert_threshold u16,
    device_over_temperature_programmable_warning_threshold u16,
    device_under_temperature_programmable_warning_threshold u16,
    corrected_volatile_mem_error_programmable_warning_threshold u16,
    corrected_persistent_mem_error_programmable_warning_threshold u16
cmd_memdev_set_alert_config_req:
    valid_alert_actions u8, enable_alert_actions u8,
    life_used_programmable_warning_threshold u8, rsvd1 u8,
    device_over_temperature_programmable_warning_threshold u16,
    device_under_temperature_programmable_warning_threshold u16,
    corrected_volatile_mem_error_programmable_warning_threshold u16,
    corrected_persistent_mem_error_programmable_warning_threshold u16
cmd_memdev_get_shutdown_state_rsp:
    state u8
cmd_memdev_set_shutdown_state_req:
    state u8
cmd_memdev_get_poison_list_req:
    get_poison_list_phy_addr u64, get_poison_list_phy_addr_len u64
memdev_media_err_record:
    media_err_addr u64, media_err_len u32, rsvd1 u8[4]
cmd_memdev_get_poison_list_rsp:
    poison_list_flags u8, rsv1 u8, overflow_timestamp u64, more_err_media_record_cnt
    u16, rsv2 u8[20], records memdev_media_err_record[]
cmd_memdev_inject_poison_req:
    inject_poison_phy_addr u64
cmd_memdev_clear_poison_req:
    clear_poison_phy_addr u64, clear_poison_write_data u8[64]
cmd_memdev_get_scan_media_capabilities_req:
    get_scan_media_capabilities_start_physaddr u64,
    get_scan_media_capabilities_physaddr_length u64
cmd_memdev_get_scan_media_capabilities_rsp:
    estimated_scan_media_time u32
cmd_memdev_scan_media_req:
    scan_media_physaddr u64, scan_media_physaddr_length u64, scan_media_flags u8
media_error_record:
    media_error_address u64, media_error_length u32, rsvd u8[4]
cmd_memdev_get_scan_media_results_rsp:
    scan_media_restart_physaddr u64, scan_media_restart_physaddr_length u64,
    scan_media_flags u8, rsvd1 u8, media_error_count u16, rsvd2 u8[12], record
    media_error_record[]
media_ops_discovery_osa:
    start_index u16, num_ops u16
cmd_memdev_media_operations_discovery_req:
    media_operation_class u8, media_operation_subclass u8, rsvd u8[2], dpa_range_count
    u32, discovery_osa media_ops_discovery_osa
cmd_memdev_media_ops_supported_list_entry:
    media_op_class u8, media_op_subclass u8
cmd_memdev_media_operations_discovery_rsp:
    dpa_range_granularity u64, total_supported_ops u16, num_supported_ops u16, entry
    cmd_memdev_media_ops_supported_list_entry[]
cmd_memdev_media_ops_dpa_range_list_entry:
    starting_dpa u64, length u64
cmd_memdev_media_operations_sanitize_req:
    media_operation_class u8, media_operation_subclass u8, rsvd u8[2], dpa_range_count
    u32, dpa_range_list cmd_memdev_media_ops_dpa_range_list_entry[]
cmd_memdev_get_security_state_rsp:
    security_state u32
cmd_memdev_set_passphrase_req:
    passphrase_type u8, rsvd u8[31], current_passphrase u8[32], new_passphrase u8[32]
cmd_memdev_disable_passphrase_req:
    passphrase_type u8, rsvd u8[31], passphrase u8[32]
cmd_memdev_unlock_req:
    current_passphrase u8[32]
cmd_memdev_passphrase_secure_erase_req:
    passphrase_type u8, rsvd u8[31], passphrase u8[32]
cmd_memdev_security_send_req:
    security_protocol u8, sp_specific u16, rsvd u8[5], data u8[]
cmd_memdev_security_receive_req:
    security_protocol u8, sp_specific u16, rsvd u8[5]
cmd_memdev_get_sld_qos_control_rsp:
    qos_telemetry_control u8, egress_moderate_percentage u8, egress_severe_percentage
    u8, backpressure_sample_interval u8
cmd_memdev_set_sld_qos_control_req:
    qos_telemetry_control u8, egress_moderate_percentage u8, egress_severe_percentage
    u8, backpressure_sample_interval u8
cmd_memdev_get_sld_qos_status_rsp:
    backpressure_avg_percentage u8
cmd_memdev_get_dc_config_req:
    region_cnt u8, start_region_id u8
memdev_dc_region_config:
    base u64, decode_len u64, region_len u64, block_size u64, dsmadhandle u32, flags u8,
    rsvd2 u8[3]
cmd_memdev_get_dc_config_rsp:
    num_regions u8, regions_returned u8, rsvd1 u8[6], region_configs
    memdev_dc_region_config[8], num_extents_supported u32, num_extents_available u32,
    num_tags_supported u32, num_tags_available u32
cmd_memdev_get_dc_extent_list_req:
    extent_cnt u32, start_extent_idx u32
dc_extent:
    start_dpa u64, len u64, tag u8[16], shared_seq u16, rsvd u8[6]
cmd_memdev_get_dc_extent_list_rsp:
    num_extents_returned u32, total_num_extents u32, generation_num u32, rsvd u8[4],
    extents dc_extent[]
dc_extent_update:
    start_dpa u64, len u64, rsvd u8[8]
cmd_memdev_add_dc_response_req:
    updated_extent_list_size u32, flags u8, rsvd1 u8[3], extents dc_extent_update[]
cmd_memdev_release_dc_req:
    updated_extent_list_size u32, flags u8, rsvd1 u8[3], extents dc_extent_update[]
"""
