# SPDX-License-Identifier: LGPL-2.1-or-later
"""How each request field becomes a command-line option.

Without an entry here a field still becomes an option: the kind its declared
meaning implies (cxlmi_bindings.types: an enum or flags field takes the
spec's names, a UUID a name or UUID, a unit-counted field a size, a timestamp
a date), else an integer sized from its C type (``--field-name``), a byte array
as hex, a flexible tail of bytes as ``--NAME FILE`` / ``--NAME-hex HEX``, a
flexible tail of integers as a comma list.  Reserved fields never become
options.  This table adds what the layouts do not say: friendlier option
names, defaults, help, and a kind where the option reads the field otherwise
(a flags field set by one ``--flag``, an address aligned to 64 bytes).

Field spec keys:

``kind``      int · size (bytes) · units (bytes converted to ``unit``-byte units) ·
              enum · flags · uuid · hex · bool (option without value: sets ``bit``
              or 1) · packed (``parts``: several options share one field) · log2size ·
              timestamp · setting (event interrupt) · list (integers) · blob (bytes
              from ``--NAME FILE`` or ``--NAME-hex HEX``) · items (repeatable
              ``A:B`` structure elements) · passphrase · count (filled in from the
              tail; hidden) · fixed (hidden, ``default`` always sent)
``opt``       option name without ``--`` (default: the field name with dashes)
``table``     names for enum / flags / uuid (default: the names the field's layout
              declares, cxlmi_bindings.types; a packed part takes the declared
              sub-field of its option's name)
``unit``      bytes per unit (units; default: the unit the layout declares) ·
              ``align``: multiple of this many units
``required``  the command cannot run without it (from an option or ``--input``)
``default``   used when neither an option nor ``--input`` gives the field
``help``      the option's help text
``refuse``    {value: text}: a value the command refuses before sending (the text names
              the value and says why)

``NEEDS_ONE_OF`` (by request structure) names groups of fields of which each command
needs at least one: set commands whose request with no option given would change
nothing or reset a setting.
"""

from .spec import cel_uuid

_ADDR64 = dict(align=64)

# Fields named alike mean alike across structures.
BY_FIELD = {
    "event_log": dict(help="event log"),
    "uuid": dict(required=True,
                 help="log UUID, or a log name (cel, vendor-debug, component-state-dump)"),
    "slot": dict(help="firmware slot (1-4)"),
    "ld_id": dict(kind="int", help="logical device id"),
    "start_ld_id": dict(help="first LD id"),
    "host_id": dict(help="host id (DCD host port)"),
    "vcs_id": dict(help="virtual CXL switch id"),
    "vppb_id": dict(help="vPPB index within the VCS"),
    "ppb_id": dict(help="physical port (PPB) id", required=True),
    "port_id": dict(help="physical port id"),
    "region_id": dict(help="dynamic capacity region (0-7)"),
    "start_region_id": dict(help="first region to return"),
    "region_cnt": dict(default=8, help="regions to return"),
    "tag": dict(help="allocation tag (UUID, or 32 hex digits)"),
    "qos_telemetry_control": dict(help="features to enable"),
    "egress_moderate_percentage": dict(help="egress port congestion: moderate level (%)"),
    "egress_severe_percentage": dict(help="egress port congestion: severe level (%)"),
    "backpressure_sample_interval": dict(help="backpressure sample interval (ns, 0 disables)"),
    "recmpbasis": dict(help="ReqCmpBasis: completions per interval that mean full load"),
    "completion_collection_interval": dict(help="completion collection interval (units of "
                                                "16 ns)"),
}

_CONFIG_PARTS = [
    dict(opt="register", lo=0, hi=7,
         help="configuration space offset, bits 7:0 (dword aligned: bits 1:0 are ignored)"),
    dict(opt="ext-register", lo=8, hi=11, help="configuration space offset, bits 11:8"),
    dict(opt="byte-enable", lo=12, hi=15, default=0xF, help="first dword byte enables (0-15)"),
    dict(opt="write", lo=23, hi=23, kind="bool", help="write (the default is a read)"),
]
# libcxlmi's 2-byte field_1 of 5302h holds the spec's bits 23:8 (codec moves it onto the
# wire): first dword byte enable in bits 7:4, last in bits 11:8, write in bit 15.
_MEM_PARTS = [
    dict(opt="first-byte-enable", lo=4, hi=7, default=0xF, help="first dword byte enables"),
    dict(opt="last-byte-enable", lo=8, hi=11, default=0xF, help="last dword byte enables"),
    dict(opt="write", lo=15, hi=15, kind="bool", help="write (the default is a read)"),
]
_EXTENT = dict(kind="items", opt="extent", metavar="START:LEN[:TAG[:SHARED_SEQ]]",
               parts=[("start_dpa", "size", True), ("len", "size", True),
                      ("tag", "uuid", False), ("shared_seq", "int", False)],
               help="an extent: start DPA and length (sizes), optional tag and shared "
                    "sequence; repeat for several")
_EXTENT_UPDATE = dict(kind="items", opt="extent", metavar="START:LEN",
                      parts=[("start_dpa", "size", True), ("len", "size", True)],
                      help="an extent: start DPA and length (sizes); repeat for several")

# Request structure -> field -> spec.
BY_STRUCT = {
    "cmd_set_response_msg_limit_req": {
        "limit": dict(kind="log2size", lo=8, hi=20, required=True,
                      help="largest response message: N for 2^N bytes (8-20), or a size "
                           "(256, 2K, 1M)")},
    "cmd_clear_event_records_req": {
        "event_log": dict(required=True, help="event log"),
        "clear_flags": dict(kind="bool", opt="all", help="clear every record of the log"),
        "handles": dict(kind="list", help="handles of the records to clear (1,2,3)"),
    },
    "cmd_set_event_interrupt_policy_req": {
        f: dict(kind="setting", opt=f.replace("_settings", ""),
                help="%s log interrupts: none, msi[:VECTOR] or fw[:VECTOR]"
                     % f.replace("_settings", ""))
        for f in ("informational_settings", "warning_settings", "failure_settings",
                  "fatal_settings", "dcd_settings")},
    "cmd_set_mctp_event_interrupt_policy_req": {
        "event_interrupt_settings": dict(opt="logs",
                                         help="logs that notify over MCTP (info,warn,fail,"
                                              "fatal,dcd)")},
    "cmd_event_notification_req": {
        "event": dict(required=True, help="event notification value (16 bits)")},
    "cmd_transfer_fw_req": {
        "action": dict(required=True, help="transfer action"),
        "slot": dict(help="slot the package goes to (full and end actions)"),
        "offset": dict(help="byte offset of this part in the package (a multiple of 128; "
                            "sent in 128-byte units)"),
        "data": dict(kind="blob", help="this part of the firmware package"),
    },
    "cmd_activate_fw_req": {
        "action": dict(default="online", help="online now, or on the next reset"),
        "slot": dict(required=True, help="slot to activate (1-4)"),
    },
    "cmd_set_timestamp_req": {
        "timestamp": dict(required=True,
                          help="ns since 1970-01-01 UTC, 'now', or an ISO 8601 date (UTC when it names "
                               "no zone, whatever TZ says)")},
    "cmd_get_log_req": {
        "offset": dict(kind="size", help="offset into the log (bytes)"),
        "length": dict(kind="size", required=True, help="bytes to read"),
    },
    "cmd_get_supported_logs_sublist_req": {
        "max_supported_log_entries": dict(opt="max-entries", default=16, help="entries to return"),
        "start_log_entry_index": dict(opt="start-index", help="first entry to return"),
    },
    "cmd_get_supported_features_req": {
        "count": dict(kind="size", default=1024, help="largest reply to accept (bytes)"),
        "starting_feature_index": dict(opt="start-index", help="first feature to return"),
    },
    "cmd_get_feature_req": {
        "feature_id": dict(required=True, help="feature UUID, or a name (patrol-scrub)"),
        "offset": dict(kind="size", help="offset into the feature data (bytes)"),
        "count": dict(kind="size", required=True, help="bytes of feature data to read"),
        "selection": dict(help="which value"),
    },
    "cmd_set_feature_req": {
        "feature_id": dict(required=True, help="feature UUID, or a name (patrol-scrub)"),
        "set_feature_flags": dict(kind="packed", parts=[
            dict(opt="action", lo=0, hi=2, help="data transfer action"),
            dict(opt="saved", lo=3, hi=3, help="save the value across resets")]),
        "offset": dict(kind="size", help="offset of this part (bytes)"),
        "version": dict(help="feature data version"),
        "feature_data": dict(kind="blob", opt="data", help="feature data"),
    },
    "cmd_memdev_set_partition_info_req": {
        "volatile_capacity": dict(required=True,
                                  help="volatile capacity (a size, multiple of 256M; sent in "
                                       "256 MiB units); the rest is persistent"),
        "flags": dict(kind="bool", opt="immediate",
                      help="take effect now instead of at the next reset"),
    },
    "cmd_memdev_get_lsa_req": {
        "offset": dict(kind="size", help="offset into the label storage area"),
        "length": dict(kind="size", required=True, help="bytes to read"),
    },
    "cmd_memdev_set_lsa_req": {
        "offset": dict(kind="size", help="offset into the label storage area"),
        "data": dict(kind="blob", required=True, help="bytes to write"),
    },
    "cmd_memdev_set_alert_config_req": {
        "valid_alert_actions": dict(opt="valid", help="thresholds this command sets"),
        "enable_alert_actions": dict(opt="enable", help="warnings to enable"),
        "life_used_programmable_warning_threshold": dict(
            opt="life-used", help="life used warning threshold (%)"),
        "device_over_temperature_programmable_warning_threshold": dict(
            opt="over-temperature", help="over-temperature warning threshold (°C, signed)"),
        "device_under_temperature_programmable_warning_threshold": dict(
            opt="under-temperature", help="under-temperature warning threshold (°C, signed: -5 is five below zero)"),
        "corrected_volatile_mem_error_programmable_warning_threshold": dict(
            opt="corrected-volatile-errors", help="corrected volatile errors warning threshold"),
        "corrected_persistent_mem_error_programmable_warning_threshold": dict(
            opt="corrected-persistent-errors",
            help="corrected persistent errors warning threshold"),
    },
    "cmd_memdev_set_shutdown_state_req": {
        "state": dict(required=True, help="clean or dirty")},
    "cmd_memdev_get_poison_list_req": {
        "get_poison_list_phy_addr": dict(_ADDR64, opt="address",
                                         help="start DPA (a multiple of 64)"),
        "get_poison_list_phy_addr_len": dict(opt="length", required=True,
                                             help="bytes to cover (a multiple of 64)"),
    },
    "cmd_memdev_inject_poison_req": {
        "inject_poison_phy_addr": dict(_ADDR64, opt="address", required=True,
                                       help="DPA to poison (a multiple of 64)")},
    "cmd_memdev_clear_poison_req": {
        "clear_poison_phy_addr": dict(_ADDR64, opt="address", required=True,
                                      help="DPA to clear (a multiple of 64)"),
        "clear_poison_write_data": dict(kind="hex", opt="write-data",
                                        help="64 bytes written in place of the poison "
                                             "(hex; zeros by default)"),
    },
    "cmd_memdev_get_scan_media_capabilities_req": {
        "get_scan_media_capabilities_start_physaddr": dict(_ADDR64, opt="address",
                                                           help="start DPA"),
        "get_scan_media_capabilities_physaddr_length": dict(opt="length", required=True,
                                                            help="bytes to scan"),
    },
    "cmd_memdev_scan_media_req": {
        "scan_media_physaddr": dict(_ADDR64, opt="address", help="start DPA"),
        "scan_media_physaddr_length": dict(opt="length", required=True,
                                           help="bytes to scan (a multiple of 64)"),
        "scan_media_flags": dict(kind="bool", opt="no-event-log",
                                 help="do not log an event for each error found"),
    },
    "cmd_memdev_media_operations_discovery_req": {
        "media_operation_class": dict(kind="fixed", default=0),
        "media_operation_subclass": dict(kind="fixed", default=0),
        "dpa_range_count": dict(kind="fixed", default=0),
        "discovery_osa.start_index": dict(opt="start-index", help="first operation to list"),
        "discovery_osa.num_ops": dict(opt="num-ops", default=16, help="operations to list"),
    },
    "cmd_memdev_media_operations_sanitize_req": {
        "media_operation_class": dict(kind="fixed", default=1),
        "media_operation_subclass": dict(opt="operation", default="sanitize",
                                         help="sanitize (erase) or zero the ranges"),
        "dpa_range_list": dict(kind="items", opt="range", metavar="START:LENGTH",
                               parts=[("starting_dpa", "size", True), ("length", "size", True)],
                               required=True, help="a DPA range (sizes); repeat for several"),
    },
    "cmd_perform_maintenance_req": {
        "op_class": dict(required=True,
                         help="maintenance operation class: ppr (post package repair), or none; "
                              "memory sparing is `generic perform-maintenance-sparing`",
                         refuse={2: "memory-sparing: memory sparing has its own request "
                                    "layout; use `cxl-mi generic "
                                    "perform-maintenance-sparing`"}),
        "op_subclass": dict(help="post package repair: soft (until the next reset) or hard "
                                 "(permanent)"),
        "flags": dict(help="query-resources: only ask whether the repair's resources are "
                           "there, repair nothing"),
        "dpa": dict(help="device physical address (DPA) whose row is repaired"),
        "nibble_mask": dict(help="nibble mask: 3 bytes in hex, least significant first"),
    },
    "cmd_perform_maintenance_sparing_req": {
        "op_class": dict(kind="fixed", default=2),          # memory sparing
        "op_subclass": dict(opt="granularity", required=True,
                            help="what one spare replaces: cacheline, row, bank or rank"),
        "flags": dict(help="query-resources (only ask how many spares are left), "
                           "hard-sparing (permanent; soft, until the next reset, otherwise), "
                           "sub-channel-valid (--sub-channel is meant), nibble-mask-valid "
                           "(--nibble-mask is meant)"),
        "channel": dict(help="channel of the memory to spare (every granularity)"),
        "rank": dict(help="rank (every granularity)"),
        "bank_group": dict(help="bank group (cacheline, row and bank granularity)"),
        "bank": dict(help="bank (cacheline, row and bank granularity)"),
        "row": dict(help="row (cacheline and row granularity)"),
        "column": dict(help="column (cacheline granularity)"),
        "sub_channel": dict(help="sub-channel (with --flags sub-channel-valid)"),
        "nibble_mask": dict(help="nibble mask, 24 bits (with --flags nibble-mask-valid)"),
    },
    "cmd_memdev_set_passphrase_req": {
        "passphrase_type": dict(opt="type", required=True, help="which passphrase"),
        "current_passphrase": dict(kind="passphrase", role="current"),
        "new_passphrase": dict(kind="passphrase", role="new"),
    },
    "cmd_memdev_disable_passphrase_req": {
        "passphrase_type": dict(opt="type", required=True, help="which passphrase"),
        "passphrase": dict(kind="passphrase", role="current"),
    },
    "cmd_memdev_unlock_req": {
        "current_passphrase": dict(kind="passphrase", role="current")},
    "cmd_memdev_passphrase_secure_erase_req": {
        "passphrase_type": dict(opt="type", required=True, help="which passphrase"),
        "passphrase": dict(kind="passphrase", role="current"),
    },
    "cmd_memdev_security_send_req": {
        "security_protocol": dict(required=True, help="security protocol"),
        "sp_specific": dict(help="protocol-specific value"),
        "data": dict(kind="blob", help="payload to send"),
    },
    "cmd_memdev_security_receive_req": {
        "security_protocol": dict(required=True, help="security protocol"),
        "sp_specific": dict(help="protocol-specific value"),
    },
    "cmd_memdev_get_dc_extent_list_req": {
        "extent_cnt": dict(opt="count", default=32, help="extents to return"),
        "start_extent_idx": dict(opt="start-index", help="first extent to return"),
    },
    "cmd_memdev_add_dc_response_req": {
        "flags": dict(kind="bool", opt="more", help="more responses follow"),
        "extents": _EXTENT_UPDATE,
    },
    "cmd_memdev_release_dc_req": {
        "flags": dict(kind="bool", opt="more", help="more releases follow"),
        "extents": dict(_EXTENT_UPDATE, required=True),
    },
    "cmd_fmapi_get_phys_port_state_req": {
        "ports": dict(kind="list", required=True, help="physical port ids (0,1,2 or 0-7)")},
    "cmd_fmapi_phys_port_control_req": {
        "port_opcode": dict(opt="operation", required=True, help="what to do to the port")},
    "cmd_fmapi_send_ppb_cxlio_config_request_req": {
        "field_1": dict(kind="packed", parts=_CONFIG_PARTS),
        "transaction_data": dict(opt="data", help="dword to write"),
    },
    "cmd_fmapi_set_domain_validation_sv_req": {
        "secret_value_uuid": dict(opt="secret", required=True,
                                  help="domain validation secret value (a UUID)")},
    "cmd_fmapi_get_vcs_info_req": {
        "start_vppb": dict(help="first vPPB to report"),
        "vppb_list_limit": dict(opt="limit", default=255, help="vPPBs to report per VCS"),
        "vcs_id_list": dict(kind="list", opt="vcs", default="0", help="VCS ids (0,1 or 0-3)"),
    },
    # which vPPB is bound or unbound is never a default: 0 would rebind what is there
    "cmd_fmapi_bind_vppb_req": {
        "vcs_id": dict(required=True),
        "vppb_id": dict(required=True),
        "port_id": dict(required=True, help="physical port to bind"),
        "ld_id": dict(kind="int", default=0xFFFF,
                      help="LD of an MLD on that port (default 0xFFFF: the port itself)"),
    },
    "cmd_fmapi_unbind_vppb_req": {
        "vcs_id": dict(required=True),
        "vppb_id": dict(required=True),
        "option": dict(help="how to unbind"),
    },
    "cmd_fmapi_generate_aer_event_req": {
        "vppb_instance": dict(required=True,
                              help="vPPB: 0 the upstream vPPB, N the downstream vPPB that "
                                   "bind-vppb and get-vcs-info number N-1"),
        "aer_error": dict(kind="packed", parts=[
            dict(opt="severity", lo=31, hi=31, required=True, help="which AER status register"),
            dict(opt="status-bit", lo=0, hi=4, required=True,
                 help="bit position of the error in that register (0-31)")]),
        "aer_header": dict(kind="hex", opt="header-hex",
                           help="the TLP header to log, up to 32 bytes (zeros by default)"),
    },
    "cmd_fmapi_send_ld_cxlio_config_request_req": {
        "field_1": dict(kind="packed", parts=_CONFIG_PARTS),
        "transaction_data": dict(opt="data", help="dword to write"),
    },
    "cmd_fmapi_send_ld_cxlio_mem_request_req": {
        "field_1": dict(kind="packed", parts=_MEM_PARTS),
        "port_id": dict(required=True, help="physical port of the MLD"),
        "transaction_len": dict(kind="size", opt="length",
                                help="bytes to read or write (default: the data's length)"),
        "transaction_addr": dict(kind="size", opt="address", help="address within the LD"),
        "transaction_data": dict(kind="blob", opt="data", help="bytes to write"),
    },
    "cmd_fmapi_get_ld_allocations_req": {
        "ld_allocation_list_limit": dict(opt="limit", default=255, help="LDs to report")},
    "cmd_fmapi_set_ld_allocations_req": {
        "ld_allocation_list": dict(kind="items", opt="allocation", metavar="RANGE1:RANGE2",
                                   parts=[("range_1_allocation_mult", "int", True),
                                          ("range_2_allocation_mult", "int", False)],
                                   required=True,
                                   help="an LD's allocation in granularity multiples, "
                                        "for LDs from --start-ld-id on; repeat per LD"),
    },
    "cmd_fmapi_get_qos_allocated_bw_req": {
        "number_ld": dict(required=True, help="LDs to report")},
    "cmd_fmapi_get_qos_bw_limit_req": {
        "number_ld": dict(required=True, help="LDs to report")},
    "cmd_fmapi_set_qos_allocated_bw_req": {
        "qos_allocation_fraction": dict(kind="list", opt="fractions", required=True,
                                        help="bandwidth fraction per LD, in 1/256 "
                                             "(128 = half)")},
    "cmd_fmapi_set_qos_bw_limit_req": {
        "qos_limit_fraction": dict(kind="list", opt="fractions", required=True,
                                   help="bandwidth limit per LD, in 1/256 (128 = half)")},
    "cmd_fmapi_get_multiheaded_info_req": {
        "ld_map_list_limit": dict(opt="limit", default=255, help="LD map entries to return")},
    "cmd_fmapi_get_head_info_req": {
        "start_head": dict(help="first head"),
        "num_heads": dict(required=True, help="heads to report"),
    },
    "cmd_fmapi_set_dc_region_config_req": {
        "region_id": dict(required=True, help="region (0-7)"),
        "block_sz": dict(opt="block-size", required=True,
                         help="block size (a power of two the DCD supports)"),
        "sanitize_on_release": dict(help="sanitize capacity when released"),
    },
    "cmd_fmapi_get_dc_region_ext_list_req": {
        "extent_count": dict(opt="count", default=32, help="extents to return"),
        "start_ext_index": dict(opt="start-index", help="first extent to return"),
    },
    "cmd_fmapi_initiate_dc_add_req": {
        "selection_policy": dict(opt="policy", default="free",
                                 help="how the DCD picks the capacity (prescriptive: the "
                                      "--extent ranges; enable-shared-access: the retained "
                                      "capacity of --tag)"),
        "region_num": dict(opt="region", help="region to allocate from"),
        "length": dict(required=True, help="capacity to add"),
        "extents": _EXTENT,
    },
    "cmd_fmapi_initiate_dc_release_req": {
        "flags": dict(kind="packed", parts=[
            dict(opt="policy", lo=0, hi=3, default="tag-based",
                 help="which capacity to release: tag-based (the capacity of --tag) or "
                      "prescriptive (the --extent ranges)"),
            dict(opt="forced", lo=4, hi=4, help="release without waiting for the host"),
            dict(opt="sanitize-on-release", lo=5, hi=5, help="sanitize the released capacity")]),
        "length": dict(required=True, help="capacity to release"),
        "extents": _EXTENT,
    },
    "cmd_fmapi_dc_add_ref_req": {"tag": dict(required=True, help="tag")},
    "cmd_fmapi_dc_remove_ref_req": {"tag": dict(required=True, help="tag")},
    "cmd_fmapi_dc_list_tags_req": {
        "start_idx": dict(opt="start-index", help="first tag"),
        "tags_count": dict(opt="count", default=16, help="tags to return"),
    },
    "cmd_memdev_get_dc_config_req": {},
    "cmd_fmapi_get_host_dc_region_config_req": {},
}

# Request structure -> groups of fields: the command needs at least one field of each
# group (from an option or --input), else it is refused before anything is sent.  For
# commands whose fields are all optional but whose request with none given would do
# nothing while saying "done" (clear no record, set no alert) or reset a setting to zeros
# (every interrupt policy to none, QoS control to 0).
_EVENT_SETTINGS = ("informational_settings", "warning_settings", "failure_settings",
                   "fatal_settings", "dcd_settings")
_QOS_CONTROL = ("qos_telemetry_control", "egress_moderate_percentage",
                "egress_severe_percentage", "backpressure_sample_interval")
NEEDS_ONE_OF = {
    "cmd_clear_event_records_req": [("clear_flags", "handles")],
    "cmd_set_event_interrupt_policy_req": [_EVENT_SETTINGS],
    "cmd_set_mctp_event_interrupt_policy_req": [("event_interrupt_settings",)],
    "cmd_memdev_set_alert_config_req": [("valid_alert_actions",)],
    "cmd_memdev_set_sld_qos_control_req": [_QOS_CONTROL],
    "cmd_fmapi_set_qos_control_req": [_QOS_CONTROL + ("recmpbasis",
                                                      "completion_collection_interval")],
}

# Request structure -> what a field's value needs besides: (field, mask or None, value,
# what the value is called, fields of which one is needed).  The dynamic capacity
# policies name what they act on: a tag-based release the capacity of a tag, a
# prescriptive add or release the extents listed.  Without it the device can only
# answer INPUT; the command is refused (exit 2) before sending instead.
NEEDS_WHEN = {
    "cmd_fmapi_initiate_dc_release_req": [
        ("flags", 0xF, 0, "--policy tag-based", ("tag",)),
        ("flags", 0xF, 1, "--policy prescriptive", ("extents",)),
    ],
    "cmd_fmapi_initiate_dc_add_req": [
        ("selection_policy", None, 2, "--policy prescriptive", ("extents",)),
        ("selection_policy", None, 3, "--policy enable-shared-access", ("tag",)),
    ],
}

# Registry name -> field -> spec changes for one command only.
BY_COMMAND = {
    "get_log_cel": {"uuid": dict(kind="fixed", default=cel_uuid())},
    "get_log": {"uuid": dict(required=True, help="log UUID, or a name (cel, vendor-debug, "
                                                 "component-state-dump)")},
}

# Passphrase roles: the option that reads each from a file.
PASSPHRASE_OPTS = {"current": "passphrase-file", "new": "new-passphrase-file"}
