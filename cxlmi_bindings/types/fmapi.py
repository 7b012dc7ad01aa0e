# SPDX-License-Identifier: LGPL-2.1-or-later
"""FM-API command payloads (CXL r3.1 7.6.7): physical and virtual switch,
MLD ports and components, multi-headed devices, DCD management, plus the
Tunnel Management Command wrapper.

Each entry is ``name:`` then one field per line in wire order: ``field type``
(``type[N]`` a fixed array, ``type[]`` the flexible tail), then, when the spec
gives the value a meaning, the meaning (:mod:`.meaning`), whose tables are the
upper-case names of this module.  The class built from it is
``struct_cxlmi_<name>``, laid out exactly as libcxlmi's api-types.h.

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

from .memdev import CAPACITY_UNIT, QOS_TELEMETRY_CAPS  # noqa: F401  (tables the layouts name)

PORT_CONFIG_STATE = {"disabled": 0, "bind-in-progress": 1, "unbind-in-progress": 2,
                     "dsp": 3, "usp": 4, "fabric-port": 5, "invalid-port-id": 15}
CONN_DEV_CXL_VERSION = {"not-cxl": 0, "rcd": 1, "cxl-68b-flit-vh": 2, "cxl-256b-flit": 3,
                        "cxl-latency-optimized-256b-flit": 4, "pbr": 5}
CONN_DEV_TYPE = {"none": 0, "pcie": 1, "cxl-type1": 2, "cxl-type2": 3, "cxl-type3-sld": 4,
                 "cxl-type3-mld": 5, "pbr-component": 6}
PORT_CXL_VERSIONS = {"rcd": 0, "cxl-68b-flit-vh": 1, "cxl-256b-flit": 2,
                     "cxl-latency-optimized-256b-flit": 3, "pbr": 4}
LINK_SPEEDS = {"2.5GT/s": 0, "5GT/s": 1, "8GT/s": 2, "16GT/s": 3, "32GT/s": 4, "64GT/s": 5}
LINK_SPEED = {"2.5GT/s": 1, "5GT/s": 2, "8GT/s": 3, "16GT/s": 4, "32GT/s": 5, "64GT/s": 6}
LTSSM_STATE = {"detect": 0, "polling": 1, "configuration": 2, "recovery": 3, "l0": 4,
               "l0s": 5, "l1": 6, "l2": 7, "disabled": 8, "loopback": 9, "hot-reset": 10}
LINK_STATE_FLAGS = {"lane-reversal": 0, "perst-asserted": 1, "prsnt": 2, "power-off": 3}
# Get Head Info's block keeps libcxlmi's field_1..field_5 names; each is one whole value,
# the one the Physical Port State block names (max link width ... current link speed)
HEAD_MAX_LINK_WIDTH = [("max_link_width", 0, 7, None)]
HEAD_NEGOTIATED_LINK_WIDTH = [("negotiated_link_width", 0, 7, None)]
HEAD_LINK_SPEEDS = [("supported_link_speeds_vector", 0, 7, "flags LINK_SPEEDS")]
HEAD_MAX_LINK_SPEED = [("max_link_speed", 0, 7, "enum LINK_SPEED")]
HEAD_CURRENT_LINK_SPEED = [("current_link_speed", 0, 7, "enum LINK_SPEED")]
PORT_OPCODE = {"assert-perst": 0, "deassert-perst": 1, "reset-ppb": 2, "reset": 2}
SV_STATE = {"not-set": 0, "set": 1}
VCS_STATE = {"disabled": 0, "enabled": 1, "invalid-vcs-id": 0xFF}
BINDING_STATUS = {"unbound": 0, "bind-or-unbind-in-progress": 1, "bound-port": 2,
                  "bound-ld": 3}
UNBIND_OPTION = {"wait": 0, "managed-hot-remove": 1, "surprise-hot-remove": 2}
AER_SEVERITY = {"correctable": 0, "uncorrectable": 1}
AER_ERROR = [("status_bit", 0, 4, None), ("severity", 31, 31, "enum AER_SEVERITY")]
LD_GRANULARITY = {"256M": 0, "512M": 1, "1G": 2}
LD_GRANULARITY_BYTES = {0: 256 << 20, 1: 512 << 20, 2: 1 << 30}
DC_SELECTION_POLICY = {"free": 0, "contiguous": 1, "prescriptive": 2,
                       "enable-shared-access": 3}
DC_REMOVAL_POLICY = {"tag-based": 0, "prescriptive": 1}
DC_RELEASE_FLAGS = [("policy", 0, 3, "enum DC_REMOVAL_POLICY"), ("forced", 4, 4, "bool"),
                    ("sanitize_on_release", 5, 5, "bool")]

LAYOUTS = """
cmd_fmapi_identify_sw_device_rsp:
    ingress_port_id u8
    rsv1 u8                                          reserved
    num_physical_ports u8
    num_vcs u8
    active_port_bitmask u8[32]                       id-bitmap
    active_vcs_bitmask u8[32]                        id-bitmap
    num_total_vppb u16
    num_active_vppb u16
    num_hdm_decoder_per_usp u8
cmd_fmapi_get_phys_port_state_req:
    num_ports u8                                     count-of ports
    ports u8[]
cmd_fmapi_port_state_info_block:
    port_id u8
    config_state u8                                  enum PORT_CONFIG_STATE
    conn_dev_cxl_ver u8                              enum CONN_DEV_CXL_VERSION
    rsv1 u8                                          reserved
    conn_dev_type u8                                 enum CONN_DEV_TYPE
    port_cxl_ver_bitmask u8                          flags PORT_CXL_VERSIONS
    max_link_width u8
    negotiated_link_width u8
    supported_link_speeds_vector u8                  flags LINK_SPEEDS
    max_link_speed u8                                enum LINK_SPEED
    current_link_speed u8                            enum LINK_SPEED
    ltssm_state u8                                   enum LTSSM_STATE
    first_lane_num u8
    link_state u16                                   flags LINK_STATE_FLAGS
    supported_ld_count u8
cmd_fmapi_get_phys_port_state_rsp:
    num_ports u8                                     count-of ports
    rsv1 u8[3]                                       reserved
    ports cmd_fmapi_port_state_info_block[]
cmd_fmapi_phys_port_control_req:
    ppb_id u8
    port_opcode u8                                   enum PORT_OPCODE
cmd_fmapi_send_ppb_cxlio_config_request_req:
    ppb_id u8
    field_1 u8[3]
    transaction_data u32
cmd_fmapi_send_ppb_cxlio_config_request_rsp:
    return_data u32
cmd_fmapi_get_domain_validation_sv_state_rsp:
    secret_value_state u8                            enum SV_STATE
cmd_fmapi_set_domain_validation_sv_req:
    secret_value_uuid u8[16]                         uuid
cmd_fmapi_get_vcs_domain_validation_sv_state_req:
    vcs_id u8
cmd_fmapi_get_vcs_domain_validation_sv_state_rsp:
    secret_value_state u8                            enum SV_STATE
cmd_fmapi_get_domain_validation_sv_req:
    vcs_id u8
cmd_fmapi_get_domain_validation_sv_rsp:
    secret_value_uuid u8[16]                         uuid
cmd_fmapi_get_vcs_info_req:
    start_vppb u8
    vppb_list_limit u8
    num_vcs u8                                       count-of vcs_id_list
    vcs_id_list u8[]
cmd_fmapi_vppb_info:
    binding_status u8                                enum BINDING_STATUS
    bound_port_id u8
    bound_ld_id u8
    rsv1 u8                                          reserved
cmd_fmapi_vcs_info_block:
    vcs_id u8
    vcs_state u8                                     enum VCS_STATE
    usp_id u8
    num_vppbs u8                                     count-of vppbs
    vppbs cmd_fmapi_vppb_info[]
cmd_fmapi_get_vcs_info_rsp:
    num_vcs u8                                       count-of vcs_info_list
    rsv1 u8[3]                                       reserved
    vcs_info_list cmd_fmapi_vcs_info_block[]
cmd_fmapi_bind_vppb_req:
    vcs_id u8
    vppb_id u8
    port_id u8
    rsv1 u8                                          reserved
    ld_id u16
cmd_fmapi_unbind_vppb_req:
    vcs_id u8
    vppb_id u8
    option u8                                        enum UNBIND_OPTION
cmd_fmapi_generate_aer_event_req:
    vcs_id u8
    vppb_instance u8
    rsvd u8[2]                                       reserved
    aer_error u32                                    packed AER_ERROR
    aer_header u8[32]
cmd_fmapi_send_ld_cxlio_config_request_req:
    ppb_id u8
    field_1 u8[3]
    ld_id u16
    rsvd u8[2]                                       reserved
    transaction_data u32
cmd_fmapi_send_ld_cxlio_config_request_rsp:
    return_data u32
cmd_fmapi_send_ld_cxlio_mem_request_req:
    port_id u8
    field_1 u8[2]
    ld_id u16
    transaction_len u16                              count-of transaction_data
    transaction_addr u64
    transaction_data u8[]
cmd_fmapi_send_ld_cxlio_mem_request_rsp:
    return_size u16                                  count-of return_data
    rsvd u8[2]                                       reserved
    return_data u8[]
cmd_fmapi_get_ld_info_rsp:
    memory_size u64                                  bytes
    ld_count u16
    qos_telemetry_capability u8                      flags QOS_TELEMETRY_CAPS
cmd_fmapi_get_ld_allocations_req:
    start_ld_id u8
    ld_allocation_list_limit u8
cmd_fmapi_ld_allocations_list:
    range_1_allocation_mult u64
    range_2_allocation_mult u64
cmd_fmapi_get_ld_allocations_rsp:
    number_ld u8
    memory_granularity u8                            enum LD_GRANULARITY
    start_ld_id u8
    ld_allocation_list_len u8                        count-of ld_allocation_list
    ld_allocation_list cmd_fmapi_ld_allocations_list[]
cmd_fmapi_set_ld_allocations_req:
    number_ld u8                                     count-of ld_allocation_list
    start_ld_id u8
    rsvd u8[2]                                       reserved
    ld_allocation_list cmd_fmapi_ld_allocations_list[]
cmd_fmapi_set_ld_allocations_rsp:
    number_ld u8                                     count-of ld_allocation_list
    start_ld_id u8
    rsvd u8[2]                                       reserved
    ld_allocation_list cmd_fmapi_ld_allocations_list[]
cmd_fmapi_get_qos_control_rsp:
    qos_telemetry_control u8                         flags QOS_TELEMETRY_CAPS
    egress_moderate_percentage u8
    egress_severe_percentage u8
    backpressure_sample_interval u8
    recmpbasis u16
    completion_collection_interval u8
cmd_fmapi_set_qos_control_req:
    qos_telemetry_control u8                         flags QOS_TELEMETRY_CAPS
    egress_moderate_percentage u8
    egress_severe_percentage u8
    backpressure_sample_interval u8
    recmpbasis u16
    completion_collection_interval u8
cmd_fmapi_set_qos_control_rsp:
    qos_telemetry_control u8                         flags QOS_TELEMETRY_CAPS
    egress_moderate_percentage u8
    egress_severe_percentage u8
    backpressure_sample_interval u8
    recmpbasis u16
    completion_collection_interval u8
cmd_fmapi_get_qos_status_rsp:
    backpressure_avg_percentage u8
cmd_fmapi_get_qos_allocated_bw_req:
    number_ld u8
    start_ld_id u8
cmd_fmapi_get_qos_allocated_bw_rsp:
    number_ld u8                                     count-of qos_allocation_fraction
    start_ld_id u8
    qos_allocation_fraction u8[]
cmd_fmapi_set_qos_allocated_bw_req:
    number_ld u8                                     count-of qos_allocation_fraction
    start_ld_id u8
    qos_allocation_fraction u8[]
cmd_fmapi_set_qos_allocated_bw_rsp:
    number_ld u8                                     count-of qos_allocation_fraction
    start_ld_id u8
    qos_allocation_fraction u8[]
cmd_fmapi_get_qos_bw_limit_req:
    number_ld u8
    start_ld_id u8
cmd_fmapi_get_qos_bw_limit_rsp:
    number_ld u8                                     count-of qos_limit_fraction
    start_ld_id u8
    qos_limit_fraction u8[]
cmd_fmapi_set_qos_bw_limit_req:
    number_ld u8                                     count-of qos_limit_fraction
    start_ld_id u8
    qos_limit_fraction u8[]
cmd_fmapi_set_qos_bw_limit_rsp:
    number_ld u8                                     count-of qos_limit_fraction
    start_ld_id u8
    qos_limit_fraction u8[]
cmd_fmapi_get_multiheaded_info_req:
    start_ld_id u8
    ld_map_list_limit u8
cmd_fmapi_get_multiheaded_info_rsp:
    num_lds u8
    num_heads u8
    rsvd1 u8[2]                                      reserved
    start_ld_id u8
    ld_map_len u8                                    count-of ld_map
    rsvd2 u8[2]                                      reserved
    ld_map u8[]
cmd_fmapi_get_head_info_req:
    start_head u8
    num_heads u8
cmd_fmapi_get_head_info_blkfmt:
    port_num u8
    field_1 u8                                       packed HEAD_MAX_LINK_WIDTH
    field_2 u8                                       packed HEAD_NEGOTIATED_LINK_WIDTH
    field_3 u8                                       packed HEAD_LINK_SPEEDS
    field_4 u8                                       packed HEAD_MAX_LINK_SPEED
    field_5 u8                                       packed HEAD_CURRENT_LINK_SPEED
    ltssm_state u8                                   enum LTSSM_STATE
    first_negotiated_lane_num u8
    link_state_flags u8                              flags LINK_STATE_FLAGS
cmd_fmapi_get_head_info_rsp:
    num_heads u8                                     count-of head_info_list
    rsvd u8[3]                                       reserved
    head_info_list cmd_fmapi_get_head_info_blkfmt[]
cmd_fmapi_get_dcd_info_rsp:
    num_hosts u8
    num_supported_dc_regions u8
    rsvd1 u8[2]                                      reserved
    capacity_selection_policies u16                  flags DC_SELECTION_POLICY
    rsvd2 u8[2]                                      reserved
    capacity_removal_policies u16                    flags DC_REMOVAL_POLICY
    sanitize_on_release_config_mask u8               id-bitmap
    rsvd3 u8                                         reserved
    total_dynamic_capacity u64                       units CAPACITY_UNIT
    region_0_supported_blk_sz_mask u64               block-sizes
    region_1_supported_blk_sz_mask u64               block-sizes
    region_2_supported_blk_sz_mask u64               block-sizes
    region_3_supported_blk_sz_mask u64               block-sizes
    region_4_supported_blk_sz_mask u64               block-sizes
    region_5_supported_blk_sz_mask u64               block-sizes
    region_6_supported_blk_sz_mask u64               block-sizes
    region_7_supported_blk_sz_mask u64               block-sizes
cmd_fmapi_get_host_dc_region_config_req:
    host_id u16
    region_cnt u8
    start_region_id u8
fmapi_dc_region_config:
    base u64                                         bytes
    decode_len u64                                   units CAPACITY_UNIT
    region_len u64                                   bytes
    block_size u64                                   bytes
    flags u8
    rsvd u8[3]                                       reserved
    sanitize_on_release u8
    rsvd2 u8[3]                                      reserved
cmd_fmapi_get_host_dc_region_config_rsp:
    host_id u16
    num_regions u8
    regions_returned u8                              count-of region_configs
    region_configs fmapi_dc_region_config[8]
    num_extents_supported u32
    num_extents_available u32
    num_tags_supported u32
    num_tags_available u32
cmd_fmapi_set_dc_region_config_req:
    region_id u8
    rsvd u8[3]                                       reserved
    block_sz u64                                     bytes
    sanitize_on_release u8                           bool
    rsvd2 u8[3]                                      reserved
cmd_fmapi_get_dc_region_ext_list_req:
    host_id u16
    rsvd u8[2]                                       reserved
    extent_count u32
    start_ext_index u32
cmd_fmapi_get_dc_region_ext_list_rsp:
    host_id u16
    rsvd1 u8[2]                                      reserved
    start_ext_index u32
    extents_returned u32                             count-of extents
    total_extents u32
    list_generation_num u32
    rsvd2 u8[4]                                      reserved
    extents dc_extent[]
cmd_fmapi_initiate_dc_add_req:
    host_id u16
    selection_policy u8                              enum DC_SELECTION_POLICY
    region_num u8
    length u64                                       bytes
    tag u8[16]                                       uuid
    ext_count u32                                    count-of extents
    extents dc_extent[]
cmd_fmapi_initiate_dc_release_req:
    host_id u16
    flags u8                                         packed DC_RELEASE_FLAGS
    rsvd u8                                          reserved
    length u64                                       bytes
    tag u8[16]                                       uuid
    ext_count u32                                    count-of extents
    extents dc_extent[]
cmd_fmapi_dc_add_ref_req:
    tag u8[16]                                       uuid
cmd_fmapi_dc_remove_ref_req:
    tag u8[16]                                       uuid
cmd_fmapi_dc_list_tags_req:
    start_idx u32
    tags_count u32
dc_tag_info:
    tag u8[16]                                       uuid
    flags u8
    rsvd u8[3]                                       reserved
    ref_bitmap u8[32]                                id-bitmap
    pending_ref_bitmap u8[32]                        id-bitmap
cmd_fmapi_dc_list_tags_rsp:
    generation_num u32
    total_num_tags u32
    num_tags_returned u32                            count-of tags_list
    validity_bitmap u8
    rsvd u8[3]                                       reserved
    tags_list dc_tag_info[]
cmd_fmapi_tunnel_command_req:
    id u8
    target_type u8
    command_size u16
    message u8[]
cmd_fmapi_tunnel_command_rsp:
    length u16
    resv u16                                         reserved
    message u8[]
"""
