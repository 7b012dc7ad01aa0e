# SPDX-License-Identifier: LGPL-2.1-or-later
"""FM-API command payloads (CXL r3.1 7.6.7): physical and virtual switch,
MLD ports and components, multi-headed devices, DCD management, plus the
Tunnel Management Command wrapper.

Each entry is ``name:`` then its fields in wire order (``field type``,
``type[N]`` a fixed array, ``type[]`` the flexible tail).  The class built from
it is ``struct_cxlmi_<name>``, laid out exactly as libcxlmi's api-types.h.

One structure is an extension that api-types.h does not have, because libcxlmi
has no function for its command: ``cmd_fmapi_generate_aer_event_req``, the
Generate AER Event request (5203h), laid out as CXL r3.1 table 7-35 and named
in libcxlmi's style -- 00h VCS ID, 01h vPPB instance (0 the upstream vPPB,
1 and up the downstream vPPBs in Device / Function number order, section
7.1.4), 02h two reserved bytes, 04h AER Error (bits 4:0 the bit position in
the AER Correctable or Uncorrectable Error Status register, bit 31 the
severity: 1 uncorrectable), 08h the 32-byte AER Header (the TLP header to
place in the AER registers); 40 bytes in all.
"""

LAYOUTS = """
cmd_fmapi_identify_sw_device_rsp:
    ingress_port_id u8, rsv1 u8, num_physical_ports u8, num_vcs u8, active_port_bitmask
    u8[32], active_vcs_bitmask u8[32], num_total_vppb u16, num_active_vppb u16,
    num_hdm_decoder_per_usp u8
cmd_fmapi_get_phys_port_state_req:
    num_ports u8, ports u8[]
cmd_fmapi_port_state_info_block:
    port_id u8, config_state u8, conn_dev_cxl_ver u8, rsv1 u8, conn_dev_type u8,
    port_cxl_ver_bitmask u8, max_link_width u8, negotiated_link_width u8,
    supported_link_speeds_vector u8, max_link_speed u8, current_link_speed u8,
    ltssm_state u8, first_lane_num u8, link_state u16, supported_ld_count u8
cmd_fmapi_get_phys_port_state_rsp:
    num_ports u8, rsv1 u8[3], ports cmd_fmapi_port_state_info_block[]
cmd_fmapi_phys_port_control_req:
    ppb_id u8, port_opcode u8
cmd_fmapi_send_ppb_cxlio_config_request_req:
    ppb_id u8, field_1 u8[3], transaction_data u32
cmd_fmapi_send_ppb_cxlio_config_request_rsp:
    return_data u32
cmd_fmapi_get_domain_validation_sv_state_rsp:
    secret_value_state u8
cmd_fmapi_set_domain_validation_sv_req:
    secret_value_uuid u8[16]
cmd_fmapi_get_vcs_domain_validation_sv_state_req:
    vcs_id u8
cmd_fmapi_get_vcs_domain_validation_sv_state_rsp:
    secret_value_state u8
cmd_fmapi_get_domain_validation_sv_req:
    vcs_id u8
cmd_fmapi_get_domain_validation_sv_rsp:
    secret_value_uuid u8[16]
cmd_fmapi_get_vcs_info_req:
    start_vppb u8, vppb_list_limit u8, num_vcs u8, vcs_id_list u8[]
cmd_fmapi_vppb_info:
    binding_status u8, bound_port_id u8, bound_ld_id u8, rsv1 u8
cmd_fmapi_vcs_info_block:
    vcs_id u8, vcs_state u8, usp_id u8, num_vppbs u8, vppbs cmd_fmapi_vppb_info[]
cmd_fmapi_get_vcs_info_rsp:
    num_vcs u8, rsv1 u8[3], vcs_info_list cmd_fmapi_vcs_info_block[]
cmd_fmapi_bind_vppb_req:
    vcs_id u8, vppb_id u8, port_id u8, rsv1 u8, ld_id u16
cmd_fmapi_unbind_vppb_req:
    vcs_id u8, vppb_id u8, option u8
cmd_fmapi_generate_aer_event_req:
    vcs_id u8, vppb_instance u8, rsvd u8[2], aer_error u32, aer_header u8[32]
cmd_fmapi_send_ld_cxlio_config_request_req:
    ppb_id u8, field_1 u8[3], ld_id u16, rsvd u8[2], transaction_data u32
cmd_fmapi_send_ld_cxlio_config_request_rsp:
    return_data u32
cmd_fmapi_send_ld_cxlio_mem_request_req:
    port_id u8, field_1 u8[2], ld_id u16, transaction_len u16, transaction_addr u64,
    transaction_data u8[]
cmd_fmapi_send_ld_cxlio_mem_request_rsp:
    return_size u16, rsvd u8[2], return_data u8[]
cmd_fmapi_get_ld_info_rsp:
    memory_size u64, ld_count u16, qos_telemetry_capability u8
cmd_fmapi_get_ld_allocations_req:
    start_ld_id u8, ld_allocation_list_limit u8
cmd_fmapi_ld_allocations_list:
    range_1_allocation_mult u64, range_2_allocation_mult u64
cmd_fmapi_get_ld_allocations_rsp:
    number_ld u8, memory_granularity u8, start_ld_id u8, ld_allocation_list_len u8,
    ld_allocation_list cmd_fmapi_ld_allocations_list[]
cmd_fmapi_set_ld_allocations_req:
    number_ld u8, start_ld_id u8, rsvd u8[2], ld_allocation_list
    cmd_fmapi_ld_allocations_list[]
cmd_fmapi_set_ld_allocations_rsp:
    number_ld u8, start_ld_id u8, rsvd u8[2], ld_allocation_list
    cmd_fmapi_ld_allocations_list[]
cmd_fmapi_get_qos_control_rsp:
    qos_telemetry_control u8, egress_moderate_percentage u8, egress_severe_percentage
    u8, backpressure_sample_interval u8, recmpbasis u16, completion_collection_interval
    u8
cmd_fmapi_set_qos_control_req:
    qos_telemetry_control u8, egress_moderate_percentage u8, egress_severe_percentage
    u8, backpressure_sample_interval u8, recmpbasis u16, completion_collection_interval
    u8
cmd_fmapi_set_qos_control_rsp:
    qos_telemetry_control u8, egress_moderate_percentage u8, egress_severe_percentage
    u8, backpressure_sample_interval u8, recmpbasis u16, completion_collection_interval
    u8
cmd_fmapi_get_qos_status_rsp:
    backpressure_avg_percentage u8
cmd_fmapi_get_qos_allocated_bw_req:
    number_ld u8, start_ld_id u8
cmd_fmapi_get_qos_allocated_bw_rsp:
    number_ld u8, start_ld_id u8, qos_allocation_fraction u8[]
cmd_fmapi_set_qos_allocated_bw_req:
    number_ld u8, start_ld_id u8, qos_allocation_fraction u8[]
cmd_fmapi_set_qos_allocated_bw_rsp:
    number_ld u8, start_ld_id u8, qos_allocation_fraction u8[]
cmd_fmapi_get_qos_bw_limit_req:
    number_ld u8, start_ld_id u8
cmd_fmapi_get_qos_bw_limit_rsp:
    number_ld u8, start_ld_id u8, qos_limit_fraction u8[]
cmd_fmapi_set_qos_bw_limit_req:
    number_ld u8, start_ld_id u8, qos_limit_fraction u8[]
cmd_fmapi_set_qos_bw_limit_rsp:
    number_ld u8, start_ld_id u8, qos_limit_fraction u8[]
cmd_fmapi_get_multiheaded_info_req:
    start_ld_id u8, ld_map_list_limit u8
cmd_fmapi_get_multiheaded_info_rsp:
    num_lds u8, num_heads u8, rsvd1 u8[2], start_ld_id u8, ld_map_len u8, rsvd2 u8[2],
    ld_map u8[]
cmd_fmapi_get_head_info_req:
    start_head u8, num_heads u8
cmd_fmapi_get_head_info_blkfmt:
    port_num u8, field_1 u8, field_2 u8, field_3 u8, field_4 u8, field_5 u8, ltssm_state
    u8, first_negotiated_lane_num u8, link_state_flags u8
cmd_fmapi_get_head_info_rsp:
    num_heads u8, rsvd u8[3], head_info_list cmd_fmapi_get_head_info_blkfmt[]
cmd_fmapi_get_dcd_info_rsp:
    num_hosts u8, num_supported_dc_regions u8, rsvd1 u8[2], capacity_selection_policies
    u16, rsvd2 u8[2], capacity_removal_policies u16, sanitize_on_release_config_mask u8,
    rsvd3 u8, total_dynamic_capacity u64, region_0_supported_blk_sz_mask u64,
    region_1_supported_blk_sz_mask u64, region_2_supported_blk_sz_mask u64,
    region_3_supported_blk_sz_mask u64, region_4_supported_blk_sz_mask u64,
    region_5_supported_blk_sz_mask u64, region_6_supported_blk_sz_mask u64,
    region_7_supported_blk_sz_mask u64
cmd_fmapi_get_host_dc_region_config_req:
    host_id u16, region_cnt u8, start_region_id u8
fmapi_dc_region_config:
    base u64, decode_len u64, region_len u64, block_size u64, flags u8, rsvd u8[3],
    sanitize_on_release u8, rsvd2 u8[3]
cmd_fmapi_get_host_dc_region_config_rsp:
    host_id u16, num_regions u8, regions_returned u8, region_configs
    fmapi_dc_region_config[8], num_extents_supported u32, num_extents_available u32,
    num_tags_supported u32, num_tags_available u32
cmd_fmapi_set_dc_region_config_req:
    region_id u8, rsvd u8[3], block_sz u64, sanitize_on_release u8, rsvd2 u8[3]
cmd_fmapi_get_dc_region_ext_list_req:
    host_id u16, rsvd u8[2], extent_count u32, start_ext_index u32
cmd_fmapi_get_dc_region_ext_list_rsp:
    host_id u16, rsvd1 u8[2], start_ext_index u32, extents_returned u32, total_extents
    u32, list_generation_num u32, rsvd2 u8[4], extents dc_extent[]
cmd_fmapi_initiate_dc_add_req:
    host_id u16, selection_policy u8, region_num u8, length u64, tag u8[16], ext_count
    u32, extents dc_extent[]
cmd_fmapi_initiate_dc_release_req:
    host_id u16, flags u8, rsvd u8, length u64, tag u8[16], ext_count u32, extents
    dc_extent[]
cmd_fmapi_dc_add_ref_req:
    tag u8[16]
cmd_fmapi_dc_remove_ref_req:
    tag u8[16]
cmd_fmapi_dc_list_tags_req:
    start_idx u32, tags_count u32
dc_tag_info:
    tag u8[16], flags u8, rsvd u8[3], ref_bitmap u8[32], pending_ref_bitmap u8[32]
cmd_fmapi_dc_list_tags_rsp:
    generation_num u32, total_num_tags u32, num_tags_returned u32, validity_bitmap u8,
    rsvd u8[3], tags_list dc_tag_info[]
cmd_fmapi_tunnel_command_req:
    id u8, target_type u8, command_size u16, message u8[]
cmd_fmapi_tunnel_command_rsp:
    length u16, resv u16, message u8[]
"""
