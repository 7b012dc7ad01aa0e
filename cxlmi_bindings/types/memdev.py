# SPDX-License-Identifier: LGPL-2.1-or-later
"""Memory device command payloads (CXL r3.1 8.2.9.9): identify, capacity
configuration and label storage, health and alerts, media and poison,
sanitize, persistent memory security, SLD QoS, dynamic capacity.

Each entry is ``name:`` then one field per line in wire order: ``field type``
(``type[N]`` a fixed array, ``type[]`` the flexible tail), then, when the spec
gives the value a meaning, the meaning (:mod:`.meaning`), whose tables are the
upper-case names of this module.  The class built from it is
``struct_cxlmi_<name>``, laid out exactly as libcxlmi's api-types.h.
"""

from .. import CXL_CAPACITY_MULTIPLIER

CAPACITY_UNIT = CXL_CAPACITY_MULTIPLIER   # capacities and partitions count 256 MiB units
POISON_CAPS = {"inject-persistent-poison": 0, "scan-for-poison": 1}
QOS_TELEMETRY_CAPS = {"egress-port-congestion": 0, "temporary-throughput-reduction": 1}
PARTITION_FLAGS = {"immediate": 0}
HEALTH_STATUS = {"maintenance-needed": 0, "performance-degraded": 1,
                 "hardware-replacement-needed": 2}
MEDIA_STATUS = {
    "normal": 0, "not-ready": 1, "write-persistency-lost": 2, "all-data-lost": 3,
    "write-persistency-loss-on-power-loss": 4, "write-persistency-loss-on-shutdown": 5,
    "write-persistency-loss-imminent": 6, "all-data-loss-on-power-loss": 7,
    "all-data-loss-on-shutdown": 8, "all-data-loss-imminent": 9,
}
LEVEL = {"normal": 0, "warning": 1, "critical": 2}
NORMAL_OR_WARNING = {"normal": 0, "warning": 1}
ADDITIONAL_STATUS = [("life_used", 0, 1, "enum LEVEL"), ("device_temperature", 2, 3, "enum LEVEL"),
                     ("corrected_volatile_errors", 4, 4, "enum NORMAL_OR_WARNING"),
                     ("corrected_persistent_errors", 5, 5, "enum NORMAL_OR_WARNING")]
ALERTS = {"life-used": 0, "over-temperature": 1, "under-temperature": 2,
          "corrected-volatile-errors": 3, "corrected-persistent-errors": 4}
SHUTDOWN_STATE = {"clean": 0, "dirty": 1}
POISON_LIST_FLAGS = {"more-records": 0, "overflow": 1, "scan-in-progress": 2, "restart-ack": 3}
SCAN_MEDIA_RESULT_FLAGS = {"more-records": 0, "overflow": 1}
SCAN_MEDIA_FLAGS = {"no-event-log": 0}
MEDIA_ERROR_SOURCE = {"unknown": 0, "external": 1, "internal": 2, "injected": 3,
                      "vendor-specific": 7}
# A media error record's address: the source in bits 2:0, the DPA's bits 63:6 in place.
MEDIA_RECORD_UNIT = 64            # poison / scan media lengths count 64-byte units
# the DPA's bits 63:6 sit in place: decoded, the address is bytes (as the length is)
MEDIA_ERROR_ADDRESS = [("source", 0, 2, "enum MEDIA_ERROR_SOURCE"),
                       ("address", 6, 63, "units MEDIA_RECORD_UNIT")]
MEDIA_OP_CLASS = {"general": 0, "sanitize": 1}
MEDIA_OP_SANITIZE = {"sanitize": 0, "zero": 1}
SECURITY_STATE = {"user-passphrase-set": 0, "master-passphrase-set": 1, "locked": 2,
                  "frozen": 3, "user-passphrase-attempts-reached": 4,
                  "master-passphrase-attempts-reached": 5}
PASSPHRASE_TYPE = {"master": 0, "user": 1}
DC_RESPONSE_FLAGS = {"more": 0}

LAYOUTS = """
cmd_memdev_identify_rsp:
    fw_revision char[16]
    total_capacity u64                               units CAPACITY_UNIT
    volatile_capacity u64                            units CAPACITY_UNIT
    persistent_capacity u64                          units CAPACITY_UNIT
    partition_align u64                              units CAPACITY_UNIT
    info_event_log_size u16
    warning_event_log_size u16
    failure_event_log_size u16
    fatal_event_log_size u16
    lsa_size u32                                     bytes
    poison_list_max_mer u8[3]                        le-int
    inject_poison_limit u16
    poison_caps u8                                   flags POISON_CAPS
    qos_telemetry_caps u8                            flags QOS_TELEMETRY_CAPS
    dc_event_log_size u16
cmd_memdev_get_partition_info_rsp:
    active_vmem u64                                  units CAPACITY_UNIT gib=yes
    active_pmem u64                                  units CAPACITY_UNIT gib=yes
    next_vmem u64                                    units CAPACITY_UNIT gib=yes
    next_pmem u64                                    units CAPACITY_UNIT gib=yes
cmd_memdev_set_partition_info_req:
    volatile_capacity u64                            units CAPACITY_UNIT
    flags u8                                         flags PARTITION_FLAGS
cmd_memdev_get_lsa_req:
    offset u32
    length u32
cmd_memdev_set_lsa_req:
    offset u32
    rsvd u32                                         reserved
    data u8[]
cmd_memdev_get_health_info_rsp:
    health_status u8                                 flags HEALTH_STATUS
    media_status u8                                  enum MEDIA_STATUS
    additional_status u8                             packed ADDITIONAL_STATUS
    life_used u8                                     percent unimplemented=0xff
    device_temperature u16                           celsius
    dirty_shutdown_count u32
    corrected_volatile_error_count u32
    corrected_persistent_error_count u32
cmd_memdev_get_alert_config_rsp:
    valid_alerts u8                                  flags ALERTS
    programmable_alerts u8                           flags ALERTS
    life_used_critical_alert_threshold u8            percent
    life_used_programmable_warning_threshold u8      percent
    device_over_temperature_critical_alert_threshold u16 celsius
    device_under_temperature_critical_alert_threshold u16 celsius
    device_over_temperature_programmable_warning_threshold u16 celsius
    device_under_temperature_programmable_warning_threshold u16 celsius
    corrected_volatile_mem_error_programmable_warning_threshold u16
    corrected_persistent_mem_error_programmable_warning_threshold u16
cmd_memdev_set_alert_config_req:
    valid_alert_actions u8                           flags ALERTS
    enable_alert_actions u8                          flags ALERTS
    life_used_programmable_warning_threshold u8
    rsvd1 u8                                         reserved
    device_over_temperature_programmable_warning_threshold u16 celsius
    device_under_temperature_programmable_warning_threshold u16 celsius
    corrected_volatile_mem_error_programmable_warning_threshold u16
    corrected_persistent_mem_error_programmable_warning_threshold u16
cmd_memdev_get_shutdown_state_rsp:
    state u8                                         enum SHUTDOWN_STATE
cmd_memdev_set_shutdown_state_req:
    state u8                                         enum SHUTDOWN_STATE
cmd_memdev_get_poison_list_req:
    get_poison_list_phy_addr u64                     bytes
    get_poison_list_phy_addr_len u64                 units MEDIA_RECORD_UNIT
memdev_media_err_record:
    media_err_addr u64                               packed MEDIA_ERROR_ADDRESS
    media_err_len u32                                units MEDIA_RECORD_UNIT
    rsvd1 u8[4]                                      reserved
cmd_memdev_get_poison_list_rsp:
    poison_list_flags u8                             flags POISON_LIST_FLAGS
    rsv1 u8                                          reserved
    overflow_timestamp u64                           timestamp
    more_err_media_record_cnt u16                    count-of records
    rsv2 u8[20]                                      reserved
    records memdev_media_err_record[]
cmd_memdev_inject_poison_req:
    inject_poison_phy_addr u64                       bytes
cmd_memdev_clear_poison_req:
    clear_poison_phy_addr u64                        bytes
    clear_poison_write_data u8[64]
cmd_memdev_get_scan_media_capabilities_req:
    get_scan_media_capabilities_start_physaddr u64   bytes
    get_scan_media_capabilities_physaddr_length u64  units MEDIA_RECORD_UNIT
cmd_memdev_get_scan_media_capabilities_rsp:
    estimated_scan_media_time u32                    milliseconds
cmd_memdev_scan_media_req:
    scan_media_physaddr u64                          bytes
    scan_media_physaddr_length u64                   units MEDIA_RECORD_UNIT
    scan_media_flags u8                              flags SCAN_MEDIA_FLAGS
media_error_record:
    media_error_address u64                          packed MEDIA_ERROR_ADDRESS
    media_error_length u32                           units MEDIA_RECORD_UNIT
    rsvd u8[4]                                       reserved
cmd_memdev_get_scan_media_results_rsp:
    scan_media_restart_physaddr u64                  bytes
    scan_media_restart_physaddr_length u64           units MEDIA_RECORD_UNIT
    scan_media_flags u8                              flags SCAN_MEDIA_RESULT_FLAGS
    rsvd1 u8                                         reserved
    media_error_count u16                            count-of record
    rsvd2 u8[12]                                     reserved
    record media_error_record[]
media_ops_discovery_osa:
    start_index u16
    num_ops u16
cmd_memdev_media_operations_discovery_req:
    media_operation_class u8                         enum MEDIA_OP_CLASS
    media_operation_subclass u8
    rsvd u8[2]                                       reserved
    dpa_range_count u32
    discovery_osa media_ops_discovery_osa
cmd_memdev_media_ops_supported_list_entry:
    media_op_class u8                                enum MEDIA_OP_CLASS
    media_op_subclass u8
cmd_memdev_media_operations_discovery_rsp:
    dpa_range_granularity u64                        bytes
    total_supported_ops u16
    num_supported_ops u16                            count-of entry
    entry cmd_memdev_media_ops_supported_list_entry[]
cmd_memdev_media_ops_dpa_range_list_entry:
    starting_dpa u64
    length u64
cmd_memdev_media_operations_sanitize_req:
    media_operation_class u8                         enum MEDIA_OP_CLASS
    media_operation_subclass u8                      enum MEDIA_OP_SANITIZE
    rsvd u8[2]                                       reserved
    dpa_range_count u32                              count-of dpa_range_list
    dpa_range_list cmd_memdev_media_ops_dpa_range_list_entry[]
cmd_memdev_get_security_state_rsp:
    security_state u32                               flags SECURITY_STATE
cmd_memdev_set_passphrase_req:
    passphrase_type u8                               enum PASSPHRASE_TYPE
    rsvd u8[31]                                      reserved
    current_passphrase u8[32]
    new_passphrase u8[32]
cmd_memdev_disable_passphrase_req:
    passphrase_type u8                               enum PASSPHRASE_TYPE
    rsvd u8[31]                                      reserved
    passphrase u8[32]
cmd_memdev_unlock_req:
    current_passphrase u8[32]
cmd_memdev_passphrase_secure_erase_req:
    passphrase_type u8                               enum PASSPHRASE_TYPE
    rsvd u8[31]                                      reserved
    passphrase u8[32]
cmd_memdev_security_send_req:
    security_protocol u8
    sp_specific u16
    rsvd u8[5]                                       reserved
    data u8[]
cmd_memdev_security_receive_req:
    security_protocol u8
    sp_specific u16
    rsvd u8[5]                                       reserved
cmd_memdev_get_sld_qos_control_rsp:
    qos_telemetry_control u8                         flags QOS_TELEMETRY_CAPS
    egress_moderate_percentage u8
    egress_severe_percentage u8
    backpressure_sample_interval u8
cmd_memdev_set_sld_qos_control_req:
    qos_telemetry_control u8                         flags QOS_TELEMETRY_CAPS
    egress_moderate_percentage u8
    egress_severe_percentage u8
    backpressure_sample_interval u8
cmd_memdev_get_sld_qos_status_rsp:
    backpressure_avg_percentage u8
cmd_memdev_get_dc_config_req:
    region_cnt u8
    start_region_id u8
memdev_dc_region_config:
    base u64                                         bytes
    decode_len u64                                   units CAPACITY_UNIT
    region_len u64                                   bytes
    block_size u64                                   bytes
    dsmadhandle u32
    flags u8
    rsvd2 u8[3]                                      reserved
cmd_memdev_get_dc_config_rsp:
    num_regions u8
    regions_returned u8                              count-of region_configs
    rsvd1 u8[6]                                      reserved
    region_configs memdev_dc_region_config[8]
    num_extents_supported u32
    num_extents_available u32
    num_tags_supported u32
    num_tags_available u32
cmd_memdev_get_dc_extent_list_req:
    extent_cnt u32
    start_extent_idx u32
dc_extent:
    start_dpa u64                                    bytes
    len u64                                          bytes
    tag u8[16]                                       uuid
    shared_seq u16
    rsvd u8[6]                                       reserved
cmd_memdev_get_dc_extent_list_rsp:
    num_extents_returned u32                         count-of extents
    total_num_extents u32
    generation_num u32
    rsvd u8[4]                                       reserved
    extents dc_extent[]
dc_extent_update:
    start_dpa u64
    len u64
    rsvd u8[8]                                       reserved
cmd_memdev_add_dc_response_req:
    updated_extent_list_size u32                     count-of extents
    flags u8                                         flags DC_RESPONSE_FLAGS
    rsvd1 u8[3]                                      reserved
    extents dc_extent_update[]
cmd_memdev_release_dc_req:
    updated_extent_list_size u32                     count-of extents
    flags u8                                         flags DC_RESPONSE_FLAGS
    rsvd1 u8[3]                                      reserved
    extents dc_extent_update[]
"""
