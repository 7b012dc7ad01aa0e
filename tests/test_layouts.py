# SPDX-License-Identifier: LGPL-2.1-or-later
"""Every payload structure has libcxlmi's size, field names, order and offsets.

``LAYOUTS`` below is an independent table: it was computed once, outside this
repository, by compiling libcxlmi's ``src/cxlmi/api-types.h`` (plus the two
tunnel structures of ``src/cxlmi/cxlmi.c`` and ``struct cxlmi_tunnel_info`` of
``src/libcxlmi.h``) with gcc and printing ``sizeof`` / ``offsetof`` for every
member, and is committed here as data.  It is *not* derived from the library,
so a layout slip there fails these tests.  ``EXTENSION_LAYOUTS`` adds the
structures of the registry's extensions (commands libcxlmi has no function
for), written down from the CXL specification's tables instead.

Each entry: ``"struct_cxlmi_<name>": (sizeof, {field: spec, ...})`` with the
fields in declaration order, where ``spec`` is

* ``(offset, size)``                   a scalar (u8/u16/u32/u64, int, bool)
* ``(offset, size, "struct_cxlmi_x")`` a nested structure
* ``(offset, size, elem, count)``      an array of ``elem`` (a scalar name or a
  structure); ``count == 0`` and ``size == 0`` is the flexible array member.

Anonymous structures nested in api-types.h (the feature entry, DC region
configs and extents, the tag info, the media-operations OSA) appear under the
``struct_cxlmi_*`` names this library gives them.  The tunnel structures'
trailing message is declared as ``struct cxlmi_cci_msg message[]`` in C; it is
carried as opaque bytes here, so the table says ``u8``.

The module also holds ``pack`` / ``unpack``: a little-endian packing of field
values driven by this table alone (``struct`` module), used by the wire tests
as the independent reference.
"""

import ctypes
import struct

import pytest

import cxlmi_bindings
from cxlmi_bindings import types

LAYOUTS = {
    "struct_cxlmi_cci_msg": (12, {
        "category": (0, 1), "tag": (1, 1), "rsv1": (2, 1), "command": (3, 1),
        "command_set": (4, 1), "pl_length": (5, 3, "u8", 3), "return_code": (8, 2),
        "vendor_ext_status": (10, 2), "payload": (12, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_identify_rsp": (18, {
        "vendor_id": (0, 2), "device_id": (2, 2), "subsys_vendor_id": (4, 2), "subsys_id": (6, 2),
        "serial_num": (8, 8), "max_msg_size": (16, 1), "component_type": (17, 1),
    }),
    "struct_cxlmi_cmd_bg_op_status_rsp": (8, {
        "status": (0, 1), "rsvd": (1, 1), "opcode": (2, 2), "returncode": (4, 2),
        "vendor_ext_status": (6, 2),
    }),
    "struct_cxlmi_cmd_get_response_msg_limit_rsp": (1, {
        "limit": (0, 1),
    }),
    "struct_cxlmi_cmd_set_response_msg_limit_req": (1, {
        "limit": (0, 1),
    }),
    "struct_cxlmi_cmd_set_response_msg_limit_rsp": (1, {
        "limit": (0, 1),
    }),
    "struct_cxlmi_event_record": (128, {
        "uuid": (0, 16, "u8", 16), "length": (16, 1), "flags": (17, 3, "u8", 3), "handle": (20, 2),
        "related_handle": (22, 2), "timestamp": (24, 8), "maint_op_class": (32, 1),
        "maint_op_subclass": (33, 1), "ld_id": (34, 2), "head_id": (36, 1),
        "reserved": (37, 11, "u8", 11), "data": (48, 80, "u8", 80),
    }),
    "struct_cxlmi_cmd_get_event_records_req": (1, {
        "event_log": (0, 1),
    }),
    "struct_cxlmi_cmd_get_event_records_rsp": (32, {
        "flags": (0, 1), "reserved1": (1, 1), "overflow_err_count": (2, 2),
        "first_overflow_timestamp": (4, 8), "last_overflow_timestamp": (12, 8),
        "record_count": (20, 2), "reserved2": (22, 10, "u8", 10),
        "records": (32, 0, "struct_cxlmi_event_record", 0),
    }),
    "struct_cxlmi_cmd_clear_event_records_req": (6, {
        "event_log": (0, 1), "clear_flags": (1, 1), "nr_recs": (2, 1), "reserved": (3, 3, "u8", 3),
        "handles": (6, 0, "u16", 0),
    }),
    "struct_cxlmi_cmd_get_event_interrupt_policy_rsp": (5, {
        "informational_settings": (0, 1), "warning_settings": (1, 1), "failure_settings": (2, 1),
        "fatal_settings": (3, 1), "dcd_settings": (4, 1),
    }),
    "struct_cxlmi_cmd_set_event_interrupt_policy_req": (5, {
        "informational_settings": (0, 1), "warning_settings": (1, 1), "failure_settings": (2, 1),
        "fatal_settings": (3, 1), "dcd_settings": (4, 1),
    }),
    "struct_cxlmi_cmd_get_mctp_event_interrupt_policy_rsp": (2, {
        "event_interrupt_settings": (0, 2),
    }),
    "struct_cxlmi_cmd_set_mctp_event_interrupt_policy_req": (2, {
        "event_interrupt_settings": (0, 2),
    }),
    "struct_cxlmi_cmd_event_notification_req": (2, {
        "event": (0, 2),
    }),
    "struct_cxlmi_cmd_get_fw_info_rsp": (80, {
        "slots_supported": (0, 1), "slot_info": (1, 1), "caps": (2, 1), "rsvd": (3, 13, "u8", 13),
        "fw_rev1": (16, 16, "char", 16), "fw_rev2": (32, 16, "char", 16),
        "fw_rev3": (48, 16, "char", 16), "fw_rev4": (64, 16, "char", 16),
    }),
    "struct_cxlmi_cmd_transfer_fw_req": (128, {
        "action": (0, 1), "slot": (1, 1), "rsvd1": (2, 2, "u8", 2), "offset": (4, 4),
        "rsvd2": (8, 120, "u8", 120), "data": (128, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_activate_fw_req": (2, {
        "action": (0, 1), "slot": (1, 1),
    }),
    "struct_cxlmi_cmd_get_timestamp_rsp": (8, {
        "timestamp": (0, 8),
    }),
    "struct_cxlmi_cmd_set_timestamp_req": (8, {
        "timestamp": (0, 8),
    }),
    "struct_cxlmi_supported_log_entry": (20, {
        "uuid": (0, 16, "u8", 16), "log_size": (16, 4),
    }),
    "struct_cxlmi_cmd_get_supported_logs_rsp": (8, {
        "num_supported_log_entries": (0, 2), "reserved": (2, 6, "u8", 6),
        "entries": (8, 0, "struct_cxlmi_supported_log_entry", 0),
    }),
    "struct_cxlmi_cmd_get_log_req": (24, {
        "uuid": (0, 16, "u8", 16), "offset": (16, 4), "length": (20, 4),
    }),
    "struct_cxlmi_cmd_get_log_rsp": (4, {
        "opcode": (0, 2), "command_effect": (2, 2),
    }),
    "struct_cxlmi_cmd_get_log_cel_rsp": (4, {
        "opcode": (0, 2), "command_effect": (2, 2),
    }),
    "struct_cxlmi_cmd_get_log_capabilities_req": (16, {
        "uuid": (0, 16, "u8", 16),
    }),
    "struct_cxlmi_cmd_get_log_capabilities_rsp": (4, {
        "parameter_flags": (0, 4),
    }),
    "struct_cxlmi_cmd_clear_log_req": (16, {
        "uuid": (0, 16, "u8", 16),
    }),
    "struct_cxlmi_cmd_populate_log_req": (16, {
        "uuid": (0, 16, "u8", 16),
    }),
    "struct_cxlmi_cmd_get_supported_logs_sublist_req": (2, {
        "max_supported_log_entries": (0, 1), "start_log_entry_index": (1, 1),
    }),
    "struct_cxlmi_cmd_get_supported_logs_sublist_rsp": (8, {
        "num_supported_log_entries": (0, 1), "rsvd1": (1, 1),
        "total_num_supported_log_entries": (2, 2), "start_log_entry_index": (4, 1),
        "rsvd2": (5, 3, "u8", 3), "entries": (8, 0, "struct_cxlmi_supported_log_entry", 0),
    }),
    "struct_cxlmi_cmd_get_supported_features_req": (8, {
        "count": (0, 4), "starting_feature_index": (4, 2), "rsvd": (6, 2, "u8", 2),
    }),
    "struct_cxlmi_supported_feature_entry": (48, {
        "feature_id": (0, 16, "u8", 16), "feature_index": (16, 2), "get_feature_size": (18, 2),
        "set_feature_size": (20, 2), "attribute_flags": (22, 4), "get_feature_version": (26, 1),
        "set_feature_version": (27, 1), "set_feature_effects": (28, 2), "rsvd": (30, 18, "u8", 18),
    }),
    "struct_cxlmi_cmd_get_supported_features_rsp": (8, {
        "num_supported_feature_entries": (0, 2), "device_supported_features": (2, 2),
        "rsvd": (4, 4, "u8", 4),
        "supported_feature_entries": (8, 0, "struct_cxlmi_supported_feature_entry", 0),
    }),
    "struct_cxlmi_cmd_get_feature_req": (21, {
        "feature_id": (0, 16, "u8", 16), "offset": (16, 2), "count": (18, 2), "selection": (20, 1),
    }),
    "struct_cxlmi_cmd_get_feature_rsp": (2048, {
        "feature_data": (0, 2048, "u8", 2048),
    }),
    "struct_cxlmi_cmd_set_feature_req": (32, {
        "feature_id": (0, 16, "u8", 16), "set_feature_flags": (16, 4), "offset": (20, 2),
        "version": (22, 1), "rsvd": (23, 9, "u8", 9), "feature_data": (32, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_memdev_identify_rsp": (69, {
        "fw_revision": (0, 16, "char", 16), "total_capacity": (16, 8),
        "volatile_capacity": (24, 8), "persistent_capacity": (32, 8), "partition_align": (40, 8),
        "info_event_log_size": (48, 2), "warning_event_log_size": (50, 2),
        "failure_event_log_size": (52, 2), "fatal_event_log_size": (54, 2), "lsa_size": (56, 4),
        "poison_list_max_mer": (60, 3, "u8", 3), "inject_poison_limit": (63, 2),
        "poison_caps": (65, 1), "qos_telemetry_caps": (66, 1), "dc_event_log_size": (67, 2),
    }),
    "struct_cxlmi_cmd_memdev_get_partition_info_rsp": (32, {
        "active_vmem": (0, 8), "active_pmem": (8, 8), "next_vmem": (16, 8), "next_pmem": (24, 8),
    }),
    "struct_cxlmi_cmd_memdev_set_partition_info_req": (9, {
        "volatile_capacity": (0, 8), "flags": (8, 1),
    }),
    "struct_cxlmi_cmd_memdev_get_lsa_req": (8, {
        "offset": (0, 4), "length": (4, 4),
    }),
    "struct_cxlmi_cmd_memdev_set_lsa_req": (8, {
        "offset": (0, 4), "rsvd": (4, 4), "data": (8, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_memdev_get_health_info_rsp": (18, {
        "health_status": (0, 1), "media_status": (1, 1), "additional_status": (2, 1),
        "life_used": (3, 1), "device_temperature": (4, 2), "dirty_shutdown_count": (6, 4),
        "corrected_volatile_error_count": (10, 4), "corrected_persistent_error_count": (14, 4),
    }),
    "struct_cxlmi_cmd_memdev_get_alert_config_rsp": (16, {
        "valid_alerts": (0, 1), "programmable_alerts": (1, 1),
        "life_used_critical_alert_threshold": (2, 1),
        "life_used_programmable_warning_threshold": (3, 1),
        "device_over_temperature_critical_alert_threshold": (4, 2),
        "device_under_temperature_critical_alert_threshold": (6, 2),
        "device_over_temperature_programmable_warning_threshold": (8, 2),
        "device_under_temperature_programmable_warning_threshold": (10, 2),
        "corrected_volatile_mem_error_programmable_warning_threshold": (12, 2),
        "corrected_persistent_mem_error_programmable_warning_threshold": (14, 2),
    }),
    "struct_cxlmi_cmd_memdev_set_alert_config_req": (12, {
        "valid_alert_actions": (0, 1), "enable_alert_actions": (1, 1),
        "life_used_programmable_warning_threshold": (2, 1), "rsvd1": (3, 1),
        "device_over_temperature_programmable_warning_threshold": (4, 2),
        "device_under_temperature_programmable_warning_threshold": (6, 2),
        "corrected_volatile_mem_error_programmable_warning_threshold": (8, 2),
        "corrected_persistent_mem_error_programmable_warning_threshold": (10, 2),
    }),
    "struct_cxlmi_cmd_memdev_get_shutdown_state_rsp": (1, {
        "state": (0, 1),
    }),
    "struct_cxlmi_cmd_memdev_set_shutdown_state_req": (1, {
        "state": (0, 1),
    }),
    "struct_cxlmi_cmd_memdev_get_poison_list_req": (16, {
        "get_poison_list_phy_addr": (0, 8), "get_poison_list_phy_addr_len": (8, 8),
    }),
    "struct_cxlmi_memdev_media_err_record": (16, {
        "media_err_addr": (0, 8), "media_err_len": (8, 4), "rsvd1": (12, 4, "u8", 4),
    }),
    "struct_cxlmi_cmd_memdev_get_poison_list_rsp": (32, {
        "poison_list_flags": (0, 1), "rsv1": (1, 1), "overflow_timestamp": (2, 8),
        "more_err_media_record_cnt": (10, 2), "rsv2": (12, 20, "u8", 20),
        "records": (32, 0, "struct_cxlmi_memdev_media_err_record", 0),
    }),
    "struct_cxlmi_cmd_memdev_inject_poison_req": (8, {
        "inject_poison_phy_addr": (0, 8),
    }),
    "struct_cxlmi_cmd_memdev_clear_poison_req": (72, {
        "clear_poison_phy_addr": (0, 8), "clear_poison_write_data": (8, 64, "u8", 64),
    }),
    "struct_cxlmi_cmd_memdev_get_scan_media_capabilities_req": (16, {
        "get_scan_media_capabilities_start_physaddr": (0, 8),
        "get_scan_media_capabilities_physaddr_length": (8, 8),
    }),
    "struct_cxlmi_cmd_memdev_get_scan_media_capabilities_rsp": (4, {
        "estimated_scan_media_time": (0, 4),
    }),
    "struct_cxlmi_cmd_memdev_scan_media_req": (17, {
        "scan_media_physaddr": (0, 8), "scan_media_physaddr_length": (8, 8),
        "scan_media_flags": (16, 1),
    }),
    "struct_cxlmi_media_error_record": (16, {
        "media_error_address": (0, 8), "media_error_length": (8, 4), "rsvd": (12, 4, "u8", 4),
    }),
    "struct_cxlmi_cmd_memdev_get_scan_media_results_rsp": (32, {
        "scan_media_restart_physaddr": (0, 8), "scan_media_restart_physaddr_length": (8, 8),
        "scan_media_flags": (16, 1), "rsvd1": (17, 1), "media_error_count": (18, 2),
        "rsvd2": (20, 12, "u8", 12), "record": (32, 0, "struct_cxlmi_media_error_record", 0),
    }),
    "struct_cxlmi_media_ops_discovery_osa": (4, {
        "start_index": (0, 2), "num_ops": (2, 2),
    }),
    "struct_cxlmi_cmd_memdev_media_operations_discovery_req": (12, {
        "media_operation_class": (0, 1), "media_operation_subclass": (1, 1),
        "rsvd": (2, 2, "u8", 2), "dpa_range_count": (4, 4),
        "discovery_osa": (8, 4, "struct_cxlmi_media_ops_discovery_osa"),
    }),
    "struct_cxlmi_cmd_memdev_media_ops_supported_list_entry": (2, {
        "media_op_class": (0, 1), "media_op_subclass": (1, 1),
    }),
    "struct_cxlmi_cmd_memdev_media_operations_discovery_rsp": (12, {
        "dpa_range_granularity": (0, 8), "total_supported_ops": (8, 2),
        "num_supported_ops": (10, 2),
        "entry": (12, 0, "struct_cxlmi_cmd_memdev_media_ops_supported_list_entry", 0),
    }),
    "struct_cxlmi_cmd_memdev_media_ops_dpa_range_list_entry": (16, {
        "starting_dpa": (0, 8), "length": (8, 8),
    }),
    "struct_cxlmi_cmd_memdev_media_operations_sanitize_req": (8, {
        "media_operation_class": (0, 1), "media_operation_subclass": (1, 1),
        "rsvd": (2, 2, "u8", 2), "dpa_range_count": (4, 4),
        "dpa_range_list": (8, 0, "struct_cxlmi_cmd_memdev_media_ops_dpa_range_list_entry", 0),
    }),
    "struct_cxlmi_cmd_memdev_get_security_state_rsp": (4, {
        "security_state": (0, 4),
    }),
    "struct_cxlmi_cmd_memdev_set_passphrase_req": (96, {
        "passphrase_type": (0, 1), "rsvd": (1, 31, "u8", 31),
        "current_passphrase": (32, 32, "u8", 32), "new_passphrase": (64, 32, "u8", 32),
    }),
    "struct_cxlmi_cmd_memdev_disable_passphrase_req": (64, {
        "passphrase_type": (0, 1), "rsvd": (1, 31, "u8", 31), "passphrase": (32, 32, "u8", 32),
    }),
    "struct_cxlmi_cmd_memdev_unlock_req": (32, {
        "current_passphrase": (0, 32, "u8", 32),
    }),
    "struct_cxlmi_cmd_memdev_passphrase_secure_erase_req": (64, {
        "passphrase_type": (0, 1), "rsvd": (1, 31, "u8", 31), "passphrase": (32, 32, "u8", 32),
    }),
    "struct_cxlmi_cmd_memdev_security_send_req": (8, {
        "security_protocol": (0, 1), "sp_specific": (1, 2), "rsvd": (3, 5, "u8", 5),
        "data": (8, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_memdev_security_receive_req": (8, {
        "security_protocol": (0, 1), "sp_specific": (1, 2), "rsvd": (3, 5, "u8", 5),
    }),
    "struct_cxlmi_cmd_memdev_get_sld_qos_control_rsp": (4, {
        "qos_telemetry_control": (0, 1), "egress_moderate_percentage": (1, 1),
        "egress_severe_percentage": (2, 1), "backpressure_sample_interval": (3, 1),
    }),
    "struct_cxlmi_cmd_memdev_set_sld_qos_control_req": (4, {
        "qos_telemetry_control": (0, 1), "egress_moderate_percentage": (1, 1),
        "egress_severe_percentage": (2, 1), "backpressure_sample_interval": (3, 1),
    }),
    "struct_cxlmi_cmd_memdev_get_sld_qos_status_rsp": (1, {
        "backpressure_avg_percentage": (0, 1),
    }),
    "struct_cxlmi_cmd_memdev_get_dc_config_req": (2, {
        "region_cnt": (0, 1), "start_region_id": (1, 1),
    }),
    "struct_cxlmi_memdev_dc_region_config": (40, {
        "base": (0, 8), "decode_len": (8, 8), "region_len": (16, 8), "block_size": (24, 8),
        "dsmadhandle": (32, 4), "flags": (36, 1), "rsvd2": (37, 3, "u8", 3),
    }),
    "struct_cxlmi_cmd_memdev_get_dc_config_rsp": (344, {
        "num_regions": (0, 1), "regions_returned": (1, 1), "rsvd1": (2, 6, "u8", 6),
        "region_configs": (8, 320, "struct_cxlmi_memdev_dc_region_config", 8),
        "num_extents_supported": (328, 4), "num_extents_available": (332, 4),
        "num_tags_supported": (336, 4), "num_tags_available": (340, 4),
    }),
    "struct_cxlmi_cmd_memdev_get_dc_extent_list_req": (8, {
        "extent_cnt": (0, 4), "start_extent_idx": (4, 4),
    }),
    "struct_cxlmi_dc_extent": (40, {
        "start_dpa": (0, 8), "len": (8, 8), "tag": (16, 16, "u8", 16), "shared_seq": (32, 2),
        "rsvd": (34, 6, "u8", 6),
    }),
    "struct_cxlmi_cmd_memdev_get_dc_extent_list_rsp": (16, {
        "num_extents_returned": (0, 4), "total_num_extents": (4, 4), "generation_num": (8, 4),
        "rsvd": (12, 4, "u8", 4), "extents": (16, 0, "struct_cxlmi_dc_extent", 0),
    }),
    "struct_cxlmi_dc_extent_update": (24, {
        "start_dpa": (0, 8), "len": (8, 8), "rsvd": (16, 8, "u8", 8),
    }),
    "struct_cxlmi_cmd_memdev_add_dc_response_req": (8, {
        "updated_extent_list_size": (0, 4), "flags": (4, 1), "rsvd1": (5, 3, "u8", 3),
        "extents": (8, 0, "struct_cxlmi_dc_extent_update", 0),
    }),
    "struct_cxlmi_cmd_memdev_release_dc_req": (8, {
        "updated_extent_list_size": (0, 4), "flags": (4, 1), "rsvd1": (5, 3, "u8", 3),
        "extents": (8, 0, "struct_cxlmi_dc_extent_update", 0),
    }),
    "struct_cxlmi_cmd_fmapi_identify_sw_device_rsp": (73, {
        "ingress_port_id": (0, 1), "rsv1": (1, 1), "num_physical_ports": (2, 1), "num_vcs": (3, 1),
        "active_port_bitmask": (4, 32, "u8", 32), "active_vcs_bitmask": (36, 32, "u8", 32),
        "num_total_vppb": (68, 2), "num_active_vppb": (70, 2), "num_hdm_decoder_per_usp": (72, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_phys_port_state_req": (1, {
        "num_ports": (0, 1), "ports": (1, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_port_state_info_block": (16, {
        "port_id": (0, 1), "config_state": (1, 1), "conn_dev_cxl_ver": (2, 1), "rsv1": (3, 1),
        "conn_dev_type": (4, 1), "port_cxl_ver_bitmask": (5, 1), "max_link_width": (6, 1),
        "negotiated_link_width": (7, 1), "supported_link_speeds_vector": (8, 1),
        "max_link_speed": (9, 1), "current_link_speed": (10, 1), "ltssm_state": (11, 1),
        "first_lane_num": (12, 1), "link_state": (13, 2), "supported_ld_count": (15, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_phys_port_state_rsp": (4, {
        "num_ports": (0, 1), "rsv1": (1, 3, "u8", 3),
        "ports": (4, 0, "struct_cxlmi_cmd_fmapi_port_state_info_block", 0),
    }),
    "struct_cxlmi_cmd_fmapi_phys_port_control_req": (2, {
        "ppb_id": (0, 1), "port_opcode": (1, 1),
    }),
    "struct_cxlmi_cmd_fmapi_send_ppb_cxlio_config_request_req": (8, {
        "ppb_id": (0, 1), "field_1": (1, 3, "u8", 3), "transaction_data": (4, 4),
    }),
    "struct_cxlmi_cmd_fmapi_send_ppb_cxlio_config_request_rsp": (4, {
        "return_data": (0, 4),
    }),
    "struct_cxlmi_cmd_fmapi_get_domain_validation_sv_state_rsp": (1, {
        "secret_value_state": (0, 1),
    }),
    "struct_cxlmi_cmd_fmapi_set_domain_validation_sv_req": (16, {
        "secret_value_uuid": (0, 16, "u8", 16),
    }),
    "struct_cxlmi_cmd_fmapi_get_vcs_domain_validation_sv_state_req": (1, {
        "vcs_id": (0, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_vcs_domain_validation_sv_state_rsp": (1, {
        "secret_value_state": (0, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_domain_validation_sv_req": (1, {
        "vcs_id": (0, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_domain_validation_sv_rsp": (16, {
        "secret_value_uuid": (0, 16, "u8", 16),
    }),
    "struct_cxlmi_cmd_fmapi_get_vcs_info_req": (3, {
        "start_vppb": (0, 1), "vppb_list_limit": (1, 1), "num_vcs": (2, 1),
        "vcs_id_list": (3, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_vppb_info": (4, {
        "binding_status": (0, 1), "bound_port_id": (1, 1), "bound_ld_id": (2, 1), "rsv1": (3, 1),
    }),
    "struct_cxlmi_cmd_fmapi_vcs_info_block": (4, {
        "vcs_id": (0, 1), "vcs_state": (1, 1), "usp_id": (2, 1), "num_vppbs": (3, 1),
        "vppbs": (4, 0, "struct_cxlmi_cmd_fmapi_vppb_info", 0),
    }),
    "struct_cxlmi_cmd_fmapi_get_vcs_info_rsp": (4, {
        "num_vcs": (0, 1), "rsv1": (1, 3, "u8", 3),
        "vcs_info_list": (4, 0, "struct_cxlmi_cmd_fmapi_vcs_info_block", 0),
    }),
    "struct_cxlmi_cmd_fmapi_bind_vppb_req": (6, {
        "vcs_id": (0, 1), "vppb_id": (1, 1), "port_id": (2, 1), "rsv1": (3, 1), "ld_id": (4, 2),
    }),
    "struct_cxlmi_cmd_fmapi_unbind_vppb_req": (3, {
        "vcs_id": (0, 1), "vppb_id": (1, 1), "option": (2, 1),
    }),
    "struct_cxlmi_cmd_fmapi_send_ld_cxlio_config_request_req": (12, {
        "ppb_id": (0, 1), "field_1": (1, 3, "u8", 3), "ld_id": (4, 2), "rsvd": (6, 2, "u8", 2),
        "transaction_data": (8, 4),
    }),
    "struct_cxlmi_cmd_fmapi_send_ld_cxlio_config_request_rsp": (4, {
        "return_data": (0, 4),
    }),
    "struct_cxlmi_cmd_fmapi_send_ld_cxlio_mem_request_req": (15, {
        "port_id": (0, 1), "field_1": (1, 2, "u8", 2), "ld_id": (3, 2), "transaction_len": (5, 2),
        "transaction_addr": (7, 8), "transaction_data": (15, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_send_ld_cxlio_mem_request_rsp": (4, {
        "return_size": (0, 2), "rsvd": (2, 2, "u8", 2), "return_data": (4, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_get_ld_info_rsp": (11, {
        "memory_size": (0, 8), "ld_count": (8, 2), "qos_telemetry_capability": (10, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_ld_allocations_req": (2, {
        "start_ld_id": (0, 1), "ld_allocation_list_limit": (1, 1),
    }),
    "struct_cxlmi_cmd_fmapi_ld_allocations_list": (16, {
        "range_1_allocation_mult": (0, 8), "range_2_allocation_mult": (8, 8),
    }),
    "struct_cxlmi_cmd_fmapi_get_ld_allocations_rsp": (4, {
        "number_ld": (0, 1), "memory_granularity": (1, 1), "start_ld_id": (2, 1),
        "ld_allocation_list_len": (3, 1),
        "ld_allocation_list": (4, 0, "struct_cxlmi_cmd_fmapi_ld_allocations_list", 0),
    }),
    "struct_cxlmi_cmd_fmapi_set_ld_allocations_req": (4, {
        "number_ld": (0, 1), "start_ld_id": (1, 1), "rsvd": (2, 2, "u8", 2),
        "ld_allocation_list": (4, 0, "struct_cxlmi_cmd_fmapi_ld_allocations_list", 0),
    }),
    "struct_cxlmi_cmd_fmapi_set_ld_allocations_rsp": (4, {
        "number_ld": (0, 1), "start_ld_id": (1, 1), "rsvd": (2, 2, "u8", 2),
        "ld_allocation_list": (4, 0, "struct_cxlmi_cmd_fmapi_ld_allocations_list", 0),
    }),
    "struct_cxlmi_cmd_fmapi_get_qos_control_rsp": (7, {
        "qos_telemetry_control": (0, 1), "egress_moderate_percentage": (1, 1),
        "egress_severe_percentage": (2, 1), "backpressure_sample_interval": (3, 1),
        "recmpbasis": (4, 2), "completion_collection_interval": (6, 1),
    }),
    "struct_cxlmi_cmd_fmapi_set_qos_control_req": (7, {
        "qos_telemetry_control": (0, 1), "egress_moderate_percentage": (1, 1),
        "egress_severe_percentage": (2, 1), "backpressure_sample_interval": (3, 1),
        "recmpbasis": (4, 2), "completion_collection_interval": (6, 1),
    }),
    "struct_cxlmi_cmd_fmapi_set_qos_control_rsp": (7, {
        "qos_telemetry_control": (0, 1), "egress_moderate_percentage": (1, 1),
        "egress_severe_percentage": (2, 1), "backpressure_sample_interval": (3, 1),
        "recmpbasis": (4, 2), "completion_collection_interval": (6, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_qos_status_rsp": (1, {
        "backpressure_avg_percentage": (0, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_qos_allocated_bw_req": (2, {
        "number_ld": (0, 1), "start_ld_id": (1, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_qos_allocated_bw_rsp": (2, {
        "number_ld": (0, 1), "start_ld_id": (1, 1), "qos_allocation_fraction": (2, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_set_qos_allocated_bw_req": (2, {
        "number_ld": (0, 1), "start_ld_id": (1, 1), "qos_allocation_fraction": (2, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_set_qos_allocated_bw_rsp": (2, {
        "number_ld": (0, 1), "start_ld_id": (1, 1), "qos_allocation_fraction": (2, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_get_qos_bw_limit_req": (2, {
        "number_ld": (0, 1), "start_ld_id": (1, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_qos_bw_limit_rsp": (2, {
        "number_ld": (0, 1), "start_ld_id": (1, 1), "qos_limit_fraction": (2, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_set_qos_bw_limit_req": (2, {
        "number_ld": (0, 1), "start_ld_id": (1, 1), "qos_limit_fraction": (2, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_set_qos_bw_limit_rsp": (2, {
        "number_ld": (0, 1), "start_ld_id": (1, 1), "qos_limit_fraction": (2, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_get_multiheaded_info_req": (2, {
        "start_ld_id": (0, 1), "ld_map_list_limit": (1, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_multiheaded_info_rsp": (8, {
        "num_lds": (0, 1), "num_heads": (1, 1), "rsvd1": (2, 2, "u8", 2), "start_ld_id": (4, 1),
        "ld_map_len": (5, 1), "rsvd2": (6, 2, "u8", 2), "ld_map": (8, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_get_head_info_req": (2, {
        "start_head": (0, 1), "num_heads": (1, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_head_info_blkfmt": (9, {
        "port_num": (0, 1), "field_1": (1, 1), "field_2": (2, 1), "field_3": (3, 1),
        "field_4": (4, 1), "field_5": (5, 1), "ltssm_state": (6, 1),
        "first_negotiated_lane_num": (7, 1), "link_state_flags": (8, 1),
    }),
    "struct_cxlmi_cmd_fmapi_get_head_info_rsp": (4, {
        "num_heads": (0, 1), "rsvd": (1, 3, "u8", 3),
        "head_info_list": (4, 0, "struct_cxlmi_cmd_fmapi_get_head_info_blkfmt", 0),
    }),
    "struct_cxlmi_cmd_fmapi_get_dcd_info_rsp": (84, {
        "num_hosts": (0, 1), "num_supported_dc_regions": (1, 1), "rsvd1": (2, 2, "u8", 2),
        "capacity_selection_policies": (4, 2), "rsvd2": (6, 2, "u8", 2),
        "capacity_removal_policies": (8, 2), "sanitize_on_release_config_mask": (10, 1),
        "rsvd3": (11, 1), "total_dynamic_capacity": (12, 8),
        "region_0_supported_blk_sz_mask": (20, 8), "region_1_supported_blk_sz_mask": (28, 8),
        "region_2_supported_blk_sz_mask": (36, 8), "region_3_supported_blk_sz_mask": (44, 8),
        "region_4_supported_blk_sz_mask": (52, 8), "region_5_supported_blk_sz_mask": (60, 8),
        "region_6_supported_blk_sz_mask": (68, 8), "region_7_supported_blk_sz_mask": (76, 8),
    }),
    "struct_cxlmi_cmd_fmapi_get_host_dc_region_config_req": (4, {
        "host_id": (0, 2), "region_cnt": (2, 1), "start_region_id": (3, 1),
    }),
    "struct_cxlmi_fmapi_dc_region_config": (40, {
        "base": (0, 8), "decode_len": (8, 8), "region_len": (16, 8), "block_size": (24, 8),
        "flags": (32, 1), "rsvd": (33, 3, "u8", 3), "sanitize_on_release": (36, 1),
        "rsvd2": (37, 3, "u8", 3),
    }),
    "struct_cxlmi_cmd_fmapi_get_host_dc_region_config_rsp": (340, {
        "host_id": (0, 2), "num_regions": (2, 1), "regions_returned": (3, 1),
        "region_configs": (4, 320, "struct_cxlmi_fmapi_dc_region_config", 8),
        "num_extents_supported": (324, 4), "num_extents_available": (328, 4),
        "num_tags_supported": (332, 4), "num_tags_available": (336, 4),
    }),
    "struct_cxlmi_cmd_fmapi_set_dc_region_config_req": (16, {
        "region_id": (0, 1), "rsvd": (1, 3, "u8", 3), "block_sz": (4, 8),
        "sanitize_on_release": (12, 1), "rsvd2": (13, 3, "u8", 3),
    }),
    "struct_cxlmi_cmd_fmapi_get_dc_region_ext_list_req": (12, {
        "host_id": (0, 2), "rsvd": (2, 2, "u8", 2), "extent_count": (4, 4),
        "start_ext_index": (8, 4),
    }),
    "struct_cxlmi_cmd_fmapi_get_dc_region_ext_list_rsp": (24, {
        "host_id": (0, 2), "rsvd1": (2, 2, "u8", 2), "start_ext_index": (4, 4),
        "extents_returned": (8, 4), "total_extents": (12, 4), "list_generation_num": (16, 4),
        "rsvd2": (20, 4, "u8", 4), "extents": (24, 0, "struct_cxlmi_dc_extent", 0),
    }),
    "struct_cxlmi_cmd_fmapi_initiate_dc_add_req": (32, {
        "host_id": (0, 2), "selection_policy": (2, 1), "region_num": (3, 1), "length": (4, 8),
        "tag": (12, 16, "u8", 16), "ext_count": (28, 4),
        "extents": (32, 0, "struct_cxlmi_dc_extent", 0),
    }),
    "struct_cxlmi_cmd_fmapi_initiate_dc_release_req": (32, {
        "host_id": (0, 2), "flags": (2, 1), "rsvd": (3, 1), "length": (4, 8),
        "tag": (12, 16, "u8", 16), "ext_count": (28, 4),
        "extents": (32, 0, "struct_cxlmi_dc_extent", 0),
    }),
    "struct_cxlmi_cmd_fmapi_dc_add_ref_req": (16, {
        "tag": (0, 16, "u8", 16),
    }),
    "struct_cxlmi_cmd_fmapi_dc_remove_ref_req": (16, {
        "tag": (0, 16, "u8", 16),
    }),
    "struct_cxlmi_cmd_fmapi_dc_list_tags_req": (8, {
        "start_idx": (0, 4), "tags_count": (4, 4),
    }),
    "struct_cxlmi_dc_tag_info": (84, {
        "tag": (0, 16, "u8", 16), "flags": (16, 1), "rsvd": (17, 3, "u8", 3),
        "ref_bitmap": (20, 32, "u8", 32), "pending_ref_bitmap": (52, 32, "u8", 32),
    }),
    "struct_cxlmi_cmd_fmapi_dc_list_tags_rsp": (16, {
        "generation_num": (0, 4), "total_num_tags": (4, 4), "num_tags_returned": (8, 4),
        "validity_bitmap": (12, 1), "rsvd": (13, 3, "u8", 3),
        "tags_list": (16, 0, "struct_cxlmi_dc_tag_info", 0),
    }),
    "struct_cxlmi_cmd_fmapi_tunnel_command_req": (4, {
        "id": (0, 1), "target_type": (1, 1), "command_size": (2, 2), "message": (4, 0, "u8", 0),
    }),
    "struct_cxlmi_cmd_fmapi_tunnel_command_rsp": (4, {
        "length": (0, 2), "resv": (2, 2), "message": (4, 0, "u8", 0),
    }),
    "struct_cxlmi_tunnel_info": (16, {
        "port": (0, 4), "ld": (4, 4), "level": (8, 4), "mhd": (12, 1),
    }),
}

# Extensions: structures of commands libcxlmi has no function for, so not from
# api-types.h.  Written down from the CXL specification's table (offsets and
# lengths as the table gives them), in libcxlmi's naming style.
EXTENSION_LAYOUTS = {
    # CXL r3.1 table 7-35, Generate AER Event Request Payload (5203h): 00h VCS
    # ID, 01h vPPB Instance, 02h 2 reserved, 04h AER Error (4), 08h AER Header
    # (20h).
    "struct_cxlmi_cmd_fmapi_generate_aer_event_req": (40, {
        "vcs_id": (0, 1), "vppb_instance": (1, 1), "rsvd": (2, 2, "u8", 2),
        "aer_error": (4, 4), "aer_header": (8, 32, "u8", 32),
    }),
    # Perform Maintenance (0600h) for post package repair, as QEMU's emulator and the
    # kernel's EDAC driver send it: 00h class, 01h subclass, then the sPPR/hPPR input
    # (CXL r3.2 tables 8-118/8-119): 02h flags, 03h DPA (8), 0Bh nibble mask (3).
    "struct_cxlmi_cmd_perform_maintenance_req": (14, {
        "op_class": (0, 1), "op_subclass": (1, 1), "flags": (2, 1), "dpa": (3, 8),
        "nibble_mask": (11, 3, "u8", 3),
    }),
    # The RAS Features' data (Get Feature / Set Feature), CXL r3.2: patrol scrub
    # readable 00h capabilities, 01h cycle (2), 03h flags; writable 00h cycle hours,
    # 01h flags (tables 8-222/8-223).
    "struct_cxlmi_feat_patrol_scrub_rsp": (4, {
        "scrub_cycle_cap": (0, 1), "scrub_cycle": (1, 2), "scrub_flags": (3, 1),
    }),
    "struct_cxlmi_feat_patrol_scrub_req": (2, {
        "scrub_cycle_hours": (0, 1), "scrub_flags": (1, 1),
    }),
    # DDR5 ECS (tables 8-225/8-226): 00h log capability, then per media FRU 4 bytes
    # (capabilities, configuration (2), flags) readable, 2 (configuration) writable.
    "struct_cxlmi_feat_ecs_fru_rsp": (4, {
        "ecs_cap": (0, 1), "ecs_config": (1, 2), "ecs_flags": (3, 1),
    }),
    "struct_cxlmi_feat_ecs_rsp": (1, {
        "ecs_log_cap": (0, 1), "fru_attrs": (1, 0, "struct_cxlmi_feat_ecs_fru_rsp", 0),
    }),
    "struct_cxlmi_feat_ecs_fru_req": (2, {"ecs_config": (0, 2)}),
    "struct_cxlmi_feat_ecs_req": (1, {
        "ecs_log_cap": (0, 1), "fru_attrs": (1, 0, "struct_cxlmi_feat_ecs_fru_req", 0),
    }),
    # sPPR / hPPR (tables 8-128/8-129, 8-131/8-132): 00h maximum latency, 01h operation
    # capabilities (2), 03h operation mode (2), 05h class, 06h subclass, 07h 9 reserved,
    # 10h PPR flags, 11h restriction flags (2), 13h PPR operation mode; writable 00h
    # operation mode (2), 02h PPR operation mode.
    "struct_cxlmi_feat_ppr_rsp": (20, {
        "max_maint_latency": (0, 1), "op_caps": (1, 2), "op_mode": (3, 2),
        "maint_op_class": (5, 1), "maint_op_subclass": (6, 1), "rsvd": (7, 9, "u8", 9),
        "ppr_flags": (16, 1), "restriction_flags": (17, 2), "ppr_op_mode": (19, 1),
    }),
    "struct_cxlmi_feat_ppr_req": (3, {"op_mode": (0, 2), "ppr_op_mode": (2, 1)}),
    # Memory sparing (tables 8-134/8-135): the same header, 10h reserved, 11h
    # restriction flags (2); writable 00h operation mode (2).
    "struct_cxlmi_feat_sparing_rsp": (19, {
        "max_maint_latency": (0, 1), "op_caps": (1, 2), "op_mode": (3, 2),
        "maint_op_class": (5, 1), "maint_op_subclass": (6, 1), "rsvd": (7, 10, "u8", 10),
        "restriction_flags": (17, 2),
    }),
    "struct_cxlmi_feat_sparing_req": (2, {"op_mode": (0, 2)}),
    # Perform Maintenance, memory sparing class, as the kernel's EDAC driver sends it
    # (CXL r3.2 table 8-120): 00h class, 01h subclass, 02h flags, 03h channel, 04h rank,
    # 05h nibble mask (3), 08h bank group, 09h bank, 0Ah row (3), 0Dh column (2),
    # 0Fh sub-channel.
    "struct_cxlmi_cmd_perform_maintenance_sparing_req": (16, {
        "op_class": (0, 1), "op_subclass": (1, 1), "flags": (2, 1), "channel": (3, 1),
        "rank": (4, 1), "nibble_mask": (5, 3, "u8", 3), "bank_group": (8, 1), "bank": (9, 1),
        "row": (10, 3, "u8", 3), "column": (13, 2), "sub_channel": (15, 1),
    }),
    # The Memory Sparing Event Record's data (table 8-60), after the common header:
    # 00h class, 01h subclass, 02h flags, 03h result, 04h validity (2), 06h 6 reserved,
    # 0Ch resources available (2), 0Eh channel, 0Fh rank, 10h nibble mask (3), 13h bank
    # group, 14h bank, 15h row (3), 18h column (2), 1Ah component ID (16), 2Ah
    # sub-channel, 2Bh 37 reserved: 80 bytes.
    # Event record data the emulator posts (after the common header): General Media
    # (r3.1 table 8-45) 00h physical address (8; bit 0 volatile, bits 63:6 the address),
    # 08h descriptor, 09h type, 0Ah transaction type, 0Bh validity (2), 0Dh channel,
    # 0Eh rank, 0Fh device (3), 12h component ID (16), 22h 46 reserved.
    "struct_cxlmi_gen_media_event_data": (80, {
        "phys_addr": (0, 8), "descriptor": (8, 1), "type": (9, 1), "transaction_type": (10, 1),
        "validity_flags": (11, 2), "channel": (13, 1), "rank": (14, 1),
        "device": (15, 3, "u8", 3), "component_id": (18, 16, "u8", 16),
        "rsvd": (34, 46, "u8", 46),
    }),
    # Dynamic Capacity (table 8-50): 00h event type, 01h validity, 02h host ID (2), 04h
    # region index, 05h flags, 06h 2 reserved, 08h the extent (40), 30h 24 reserved, 48h
    # extents available (4), 4Ch tags available (4).
    "struct_cxlmi_dc_event_data": (80, {
        "event_type": (0, 1), "validity_flags": (1, 1), "host_id": (2, 2),
        "region_index": (4, 1), "flags": (5, 1), "rsvd1": (6, 2, "u8", 2),
        "extent": (8, 40, "struct_cxlmi_dc_extent"), "rsvd2": (48, 24, "u8", 24),
        "extents_available": (72, 4), "tags_available": (76, 4),
    }),
    "struct_cxlmi_mem_sparing_event_data": (80, {
        "maint_op_class": (0, 1), "maint_op_subclass": (1, 1), "flags": (2, 1),
        "result": (3, 1), "validity_flags": (4, 2), "rsvd1": (6, 6, "u8", 6),
        "res_avail": (12, 2), "channel": (14, 1), "rank": (15, 1),
        "nibble_mask": (16, 3, "u8", 3), "bank_group": (19, 1), "bank": (20, 1),
        "row": (21, 3, "u8", 3), "column": (24, 2), "component_id": (26, 16, "u8", 16),
        "sub_channel": (42, 1), "rsvd2": (43, 37, "u8", 37),
    }),
}
LAYOUTS.update(EXTENSION_LAYOUTS)

SCALAR_SIZE = {"u8": 1, "u16": 2, "u32": 4, "u64": 8, "char": 1, "int": 4, "bool": 1}
_FMT = {1: "B", 2: "H", 4: "I", 8: "Q"}


# ------------------------------------------------------------ the reference packer

def elem_size(elem):
    return SCALAR_SIZE[elem] if elem in SCALAR_SIZE else LAYOUTS[elem][0]


def flex_of(name):
    """``(field, elem)`` of the flexible array member of ``name``, or None."""
    for fname, spec in LAYOUTS[name][1].items():
        if len(spec) == 4 and spec[3] == 0:
            return fname, spec[2]
    return None


def _pack_elem(elem, value):
    if elem in SCALAR_SIZE:
        return struct.pack("<" + _FMT[SCALAR_SIZE[elem]], value)
    return pack(elem, value)


def pack(name, values):
    """Little-endian bytes of ``values`` (a dict by field) laid out as ``name``.

    u8/char arrays are bytes, other arrays lists, nested structures dicts; the
    flexible tail is as long as the value given for it.
    """
    out = bytearray()
    for fname, spec in LAYOUTS[name][1].items():
        assert len(out) == spec[0], (name, fname)
        value = values[fname]
        if len(spec) == 2:
            out += struct.pack("<" + _FMT[spec[1]], value)
        elif len(spec) == 3:
            out += pack(spec[2], value)
        else:
            elem, count = spec[2], spec[3]
            if elem in ("u8", "char"):
                data = bytes(value)
                assert count == 0 or len(data) == count, (name, fname)
                out += data
            else:
                assert count == 0 or len(value) == count, (name, fname)
                for item in value:
                    out += _pack_elem(elem, item)
    return bytes(out)


def unpack(name, data, tail=None):
    """Field values of ``name`` from ``data``; the flexible tail holds ``tail``
    elements (default: as many whole elements as ``data`` has)."""
    values = {}
    for fname, spec in LAYOUTS[name][1].items():
        off = spec[0]
        if len(spec) == 2:
            values[fname] = struct.unpack_from("<" + _FMT[spec[1]], data, off)[0]
        elif len(spec) == 3:
            values[fname] = unpack(spec[2], data[off:off + spec[1]])
        else:
            elem, count = spec[2], spec[3]
            size = elem_size(elem)
            if count == 0:
                count = (len(data) - off) // size if tail is None else tail
            if elem in ("u8", "char"):
                values[fname] = bytes(data[off:off + count])
            else:
                values[fname] = [unpack(elem, data[off + i * size:off + (i + 1) * size])
                                 if elem not in SCALAR_SIZE else
                                 struct.unpack_from("<" + _FMT[size], data, off + i * size)[0]
                                 for i in range(count)]
    return values


def extract(obj, name):
    """Field values read from a library object through its attributes, in the
    shape :func:`pack` takes (the flexible tail: whatever the object holds)."""
    values = {}
    for fname, spec in LAYOUTS[name][1].items():
        value = getattr(obj, fname)
        if len(spec) == 2:
            values[fname] = value
        elif len(spec) == 3:
            values[fname] = extract(value, spec[2])
        else:
            elem = spec[2]
            if elem == "char":
                values[fname] = value          # ctypes gives bytes up to the first NUL
            elif elem == "u8":
                values[fname] = bytes(value)
            elif elem in SCALAR_SIZE:
                values[fname] = list(value)
            else:
                values[fname] = [extract(x, elem) for x in value]
    return values


def char_view(values, name):
    """``values`` with char arrays cut at the first NUL (how ctypes shows them)."""
    out = {}
    for fname, spec in LAYOUTS[name][1].items():
        value = values[fname]
        if len(spec) == 4 and spec[2] == "char":
            value = bytes(value).split(b"\0", 1)[0]
        elif len(spec) == 3:
            value = char_view(value, spec[2])
        elif len(spec) == 4 and spec[2] in LAYOUTS:
            value = [char_view(v, spec[2]) for v in value]
        out[fname] = value
    return out


# ------------------------------------------------------------ the tests

STRUCTS = types.structs()
PAYLOAD_NAMES = sorted(n for n in LAYOUTS if n != "struct_cxlmi_tunnel_info")


def test_the_library_has_exactly_the_structures_of_the_table():
    assert sorted(STRUCTS) == sorted(LAYOUTS)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_structure_is_exported_under_its_libcxlmi_name(name):
    assert getattr(cxlmi_bindings, name) is STRUCTS[name]
    assert name in dir(cxlmi_bindings)


def _ctype_matches(ctype, elem):
    if elem in LAYOUTS:
        return ctype is STRUCTS[elem]
    if elem == "char":
        return ctype is ctypes.c_char
    if elem == "bool":
        return ctype is ctypes.c_bool
    if elem == "int":
        return ctype is ctypes.c_int
    return issubclass(ctype, ctypes._SimpleCData) and ctypes.sizeof(ctype) == SCALAR_SIZE[elem] \
        and ctype._type_ in "BHIQLbhiql"


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_size_field_names_order_and_offsets_match_libcxlmi(name):
    size, fields = LAYOUTS[name]
    cls = STRUCTS[name]
    assert ctypes.sizeof(cls) == size
    assert [f[0] for f in cls._fields_] == list(fields)
    for fname, spec in fields.items():
        descr = getattr(cls, fname)
        assert (descr.offset, descr.size) == spec[:2], fname
        ctype = dict(cls._fields_)[fname]
        if len(spec) == 2:
            assert ctypes.sizeof(ctype) == spec[1], fname
            if name != "struct_cxlmi_tunnel_info":
                assert _ctype_matches(ctype, {1: "u8", 2: "u16", 4: "u32", 8: "u64"}[spec[1]])
        elif len(spec) == 3:
            assert ctype is STRUCTS[spec[2]], fname
        else:
            assert issubclass(ctype, ctypes.Array), fname
            assert ctype._length_ == spec[3], fname
            assert _ctype_matches(ctype._type_, spec[2]), (fname, ctype._type_)


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_payload_structures_are_packed_little_endian(name):
    cls = STRUCTS[name]
    assert cls._pack_ == 1
    assert issubclass(cls, ctypes.LittleEndianStructure)
    assert ctypes.alignment(cls) == 1


def test_tunnel_info_is_the_one_unpacked_structure_16_bytes():
    cls = STRUCTS["struct_cxlmi_tunnel_info"]
    assert ctypes.sizeof(cls) == 16
    assert ctypes.alignment(cls) == 4
    assert [t for _, t in cls._fields_] == [ctypes.c_int] * 3 + [ctypes.c_bool]
    ti = cls(port=-1, ld=7, level=1, mhd=True)
    assert (ti.port, ti.ld, ti.level, ti.mhd) == (-1, 7, 1, True)
    assert bytes(ti)[:12] == struct.pack("=iii", -1, 7, 1)
    assert bytes(ti)[12] == 1


@pytest.mark.parametrize("name,field,value,fmt", [
    ("struct_cxlmi_cmd_identify_rsp", "vendor_id", 0x1234, "<H"),
    ("struct_cxlmi_cmd_identify_rsp", "serial_num", 0x0102030405060708, "<Q"),
    ("struct_cxlmi_cmd_memdev_get_health_info_rsp", "dirty_shutdown_count", 0xA1B2C3D4, "<I"),
    ("struct_cxlmi_cmd_memdev_identify_rsp", "total_capacity", 0x1122334455667788, "<Q"),
    ("struct_cxlmi_cmd_fmapi_get_ld_info_rsp", "ld_count", 0xBEEF, "<H"),
])
def test_multibyte_fields_are_little_endian_on_every_host(name, field, value, fmt):
    cls = STRUCTS[name]
    obj = cls()
    setattr(obj, field, value)
    off = getattr(cls, field).offset
    raw = bytes(obj)
    assert raw[off:off + struct.calcsize(fmt)] == struct.pack(fmt, value)
    # and reading goes the same way
    back = cls.from_buffer_copy(raw)
    assert getattr(back, field) == value


FLEX_NAMES = sorted(n for n in PAYLOAD_NAMES if flex_of(n))


@pytest.mark.parametrize("name", FLEX_NAMES)
def test_flexible_array_members_are_zero_length_at_the_end(name):
    cls = STRUCTS[name]
    size, fields = LAYOUTS[name]
    fname, elem = flex_of(name)
    assert list(fields)[-1] == fname
    assert getattr(cls, fname).offset == size == ctypes.sizeof(cls)
    assert getattr(cls, fname).size == 0
    assert len(getattr(cls(), fname)) == 0
    # a sized view grows by whole elements and keeps the head where it was
    sized = cls.sized(3)
    assert ctypes.sizeof(sized) == size + 3 * elem_size(elem)
    assert len(getattr(sized(), fname)) == 3
    assert sized.fixed_size() == size
    assert sized.flex_count() == 3


@pytest.mark.parametrize("name", FLEX_NAMES)
def test_flexible_tail_read_through_from_buffer_as_in_libcxlmi_bindings(name):
    """The generated-bindings way: one buffer, the head and a typed tail view."""
    cls = STRUCTS[name]
    fname, elem = flex_of(name)
    esize = elem_size(elem)
    buf = ctypes.create_string_buffer(ctypes.sizeof(cls) + 4 * esize)
    head = cls.from_buffer(buf)
    etype = STRUCTS[elem] if elem in LAYOUTS else dict(
        u8=ctypes.c_uint8, u16=ctypes.c_uint16)[elem]
    tail = (etype * 4).from_buffer(buf, ctypes.sizeof(cls))
    assert ctypes.addressof(tail) == ctypes.addressof(head) + LAYOUTS[name][0]
    raw = bytes(range(256)) * 3
    ctypes.memmove(buf, raw, len(buf))
    got = unpack(name, buf.raw, tail=4)
    assert got[fname] == (raw[LAYOUTS[name][0]:LAYOUTS[name][0] + 4 * esize] if elem == "u8"
                          else [extract(x, elem) for x in tail] if elem in LAYOUTS
                          else list(tail))


def test_nested_structures_and_fixed_arrays_sit_where_c_puts_them():
    rsp = STRUCTS["struct_cxlmi_cmd_memdev_get_dc_config_rsp"]()
    rsp.region_configs[3].base = 0x1122334455667788
    rsp.region_configs[7].flags = 0x5A
    rsp.num_tags_available = 0xCAFEF00D
    raw = bytes(rsp)
    assert raw[8 + 3 * 40:8 + 3 * 40 + 8] == struct.pack("<Q", 0x1122334455667788)
    assert raw[8 + 7 * 40 + 36] == 0x5A
    assert raw[340:344] == struct.pack("<I", 0xCAFEF00D)

    req = STRUCTS["struct_cxlmi_cmd_memdev_media_operations_discovery_req"]()
    req.discovery_osa.start_index = 0x0102
    req.discovery_osa.num_ops = 0x0304
    assert bytes(req)[8:12] == b"\x02\x01\x04\x03"

    sw = STRUCTS["struct_cxlmi_cmd_fmapi_identify_sw_device_rsp"]()
    sw.active_port_bitmask[31] = 0x80
    sw.num_total_vppb = 0x0A0B
    assert bytes(sw)[4 + 31] == 0x80
    assert bytes(sw)[68:70] == b"\x0b\x0a"


BYTE_FIELDS = sorted(
    (name, fname, spec[3])
    for name in PAYLOAD_NAMES
    for fname, spec in LAYOUTS[name][1].items()
    if len(spec) == 4 and spec[2] == "u8" and spec[3] > 0)


@pytest.mark.parametrize("name,field,count", BYTE_FIELDS)
def test_byte_array_fields_accept_shorter_bytes_zero_padded(name, field, count):
    cls = STRUCTS[name]
    off = LAYOUTS[name][1][field][0]
    short = bytes(1 + i % 255 for i in range(max(1, count // 2)))
    obj = cls()
    ctypes.memset(ctypes.addressof(obj), 0xEE, ctypes.sizeof(obj))
    setattr(obj, field, short)
    raw = bytes(obj)
    assert raw[off:off + count] == short + b"\0" * (count - len(short))
    # neighbours untouched
    assert raw[:off] == b"\xEE" * off
    assert raw[off + count:] == b"\xEE" * (ctypes.sizeof(obj) - off - count)
    # the whole length, and the constructor, work too
    setattr(obj, field, b"\x7f" * count)
    assert bytes(obj)[off:off + count] == b"\x7f" * count
    assert bytes(cls(**{field: short}))[off:off + count] == short.ljust(count, b"\0")
    with pytest.raises(ValueError):
        setattr(obj, field, b"\x01" * (count + 1))


def test_passphrases_take_short_python_bytes():
    req = cxlmi_bindings.struct_cxlmi_cmd_memdev_set_passphrase_req()
    req.passphrase_type = 1
    req.current_passphrase = b"old"
    req.new_passphrase = b"new-secret"
    raw = bytes(req)
    assert len(raw) == 96
    assert raw[32:64] == b"old".ljust(32, b"\0")
    assert raw[64:96] == b"new-secret".ljust(32, b"\0")
    assert bytes(req.new_passphrase) == b"new-secret".ljust(32, b"\0")


def _pattern(size):
    """``size`` bytes, none of them zero (char arrays then read back whole)."""
    return bytes(1 + (i * 37 + 11) % 255 for i in range(size))


@pytest.mark.parametrize("name", PAYLOAD_NAMES)
def test_every_field_reads_the_bytes_the_table_puts_there(name):
    """Distinct bytes in every position: each field read through the library
    is what the independent table unpacks from there, and packing those values
    back gives the same bytes (offsets, sizes, signedness, byte order)."""
    size = LAYOUTS[name][0]
    raw = _pattern(size)
    obj = STRUCTS[name].from_buffer_copy(raw)
    got = extract(obj, name)
    assert got == char_view(unpack(name, raw, tail=0), name)
    assert pack(name, got) == raw
