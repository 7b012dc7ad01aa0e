# SPDX-License-Identifier: LGPL-2.1-or-later
"""THE command table: one declaration per libcxlmi ``cxlmi_cmd_*`` function,
plus the few commands libcxlmi lacks, each marked as an extension.

Everything else is derived from it: the ``cxlmi_cmd_*`` compatibility
functions, the Pythonic ``Endpoint`` methods, the CLI subcommands and their
groups, the emulator's dispatch and its Command Effects Log, the ioctl
named-command map, man pages and completions.

Columns of each declaration:

``name``      the libcxlmi function name without ``cxlmi_cmd_``
``opcode``    command set << 8 | command
``req/rsp``   payload structure (short name, ``struct_cxlmi_`` + it), or None
``call``      the C argument shape after (ep, ti):
              ``rsp`` (ret) · ``req`` (in) · ``req_rsp`` (in, ret) · ``none`` ·
              ``req_data`` (in, data_sz: the request's flexible tail is data_sz
              bytes) · ``req_buf`` (in, void *ret: the reply is raw bytes,
              ``in.length`` of them) · ``vendor`` (opcode, in, in_size, ret, ret_size)
``req_count`` request field counting the request's flexible tail
``rsp_count`` response field counting the response's flexible tail
``size``      ``fixed`` (reply is exactly sizeof rsp), ``min`` (at least the
              fixed part, or ``min_size`` for structures that grew between
              spec revisions; the tail is sized from the bytes received), ``raw``
``tail_optional`` the request's tail may be absent though its count is not
              zero (an LD memory read names a length but carries no data)
``req_min``   shortest request a device accepts, where the request grew
              between spec revisions (older senders omit the tail fields)
``flags``     ``bg`` may run in the background · ``destructive`` loses data
              or changes what hosts see · ``passphrase`` carries a passphrase
``linux``     CXL_MEM_COMMAND_ID_* of include/uapi/linux/cxl_mem.h, or None
``summary``   one line for help texts
``extension`` not a libcxlmi function: a spec command libcxlmi has no
              ``cxlmi_cmd_*`` for.  The compat API still offers
              ``cxlmi_cmd_<name>`` with libcxlmi's conventions (argument shape
              from ``call``, return codes, structures named
              ``struct_cxlmi_<req>``), marked as an extension (the function's
              ``extension`` attribute and its docstring; the CLI's help says
              so too).  Every other entry is one of libcxlmi's functions.
"""

# Command sets (CXL r3.1 tables 8-37, 8-126, 8-215).
COMMAND_SETS = {
    0x00: "information and status", 0x01: "events", 0x02: "firmware update",
    0x03: "timestamp", 0x04: "logs", 0x05: "features",
    0x40: "identify memory device", 0x41: "capacity configuration and label storage",
    0x42: "health info and alerts", 0x43: "media and poison management",
    0x44: "sanitize and media operations", 0x45: "persistent memory data-at-rest security",
    0x46: "security passthrough", 0x47: "SLD QoS telemetry", 0x48: "dynamic capacity",
    0x51: "physical switch", 0x52: "virtual switch", 0x53: "MLD port",
    0x54: "MLD components", 0x55: "multi-headed device", 0x56: "DCD management",
}
FMAPI_SETS = frozenset((0x51, 0x52, 0x53, 0x54, 0x55, 0x56))
VENDOR_SETS = range(0xC0, 0x100)

# Linux CXL_MEM_COMMAND_ID_* values (cxl_mem.h): the named commands.  Ids the
# header marks deprecated (poison, scan media) are listed too: the ioctl
# transport uses an id only when the running kernel's command table has it.
LINUX_ID_RAW = 2


def group_of(opcode):
    """The CLI group a command set belongs to."""
    cmd_set = opcode >> 8
    if cmd_set in FMAPI_SETS:
        return "fmapi"
    if cmd_set >= 0xC0:
        return "vendor"
    if cmd_set >= 0x40:
        return "memdev"
    return "generic"


class Entry:
    __slots__ = ("name", "opcode", "req", "rsp", "call", "req_count", "rsp_count",
                 "size", "min_size", "req_min", "tail_optional", "bg", "destructive", "passphrase", "linux_id", "summary",
                 "extension", "fmapi", "group", "cli_name", "_req_cls", "_rsp_cls")

    def __init__(self, name, opcode, req, rsp, call, summary, req_count=None,
                 rsp_count=None, size="fixed", min_size=None, req_min=None, tail_optional=False, bg=False, destructive=False,
                 passphrase=False, linux=None, extension=False):
        self.name = name
        self.opcode = opcode
        self.req = req
        self.rsp = rsp
        self.call = call
        self.summary = summary
        self.req_count = req_count
        self.rsp_count = rsp_count
        self.size = size
        self.min_size = min_size
        self.req_min = req_min
        self.tail_optional = tail_optional
        self.bg = bg
        self.destructive = destructive
        self.passphrase = passphrase
        self.linux_id = linux
        self.extension = extension
        self.fmapi = (opcode >> 8) in FMAPI_SETS
        self.group = group_of(opcode)
        short = name
        for prefix in ("memdev_", "fmapi_"):
            if short.startswith(prefix):
                short = short[len(prefix):]
        self.cli_name = short.replace("_", "-")
        self._req_cls = self._rsp_cls = None

    @property
    def command_set(self):
        return self.opcode >> 8

    @property
    def command(self):
        return self.opcode & 0xFF

    @property
    def msg_type(self):
        """MCTP message type when sent untunnelled: 7 FM-API, 8 CCI."""
        return 7 if self.fmapi else 8

    @property
    def req_cls(self):
        if self._req_cls is None and self.req:
            from . import types
            self._req_cls = types.get(self.req)
        return self._req_cls

    @property
    def rsp_cls(self):
        if self._rsp_cls is None and self.rsp:
            from . import types
            self._rsp_cls = types.get(self.rsp)
        return self._rsp_cls

    def __repr__(self):
        return "<Entry %s %04Xh>" % (self.name, self.opcode)


_E = Entry
COMMANDS = (
    # --- Information and status (00xxh) ---
    _E("identify", 0x0001, None, "cmd_identify_rsp", "rsp",
       "Identify the component: vendor, device, serial, component type"),
    _E("bg_op_status", 0x0002, None, "cmd_bg_op_status_rsp", "rsp",
       "Status of the background operation: percent complete, opcode, return code"),
    _E("get_response_msg_limit", 0x0003, None, "cmd_get_response_msg_limit_rsp", "rsp",
       "Largest response message the component will send (2^n bytes)"),
    _E("set_response_msg_limit", 0x0004, "cmd_set_response_msg_limit_req",
       "cmd_set_response_msg_limit_rsp", "req_rsp",
       "Set the largest response message size (2^n bytes)"),
    _E("request_bg_op_abort", 0x0005, None, None, "none",
       "Ask the component to abort its background operation"),
    # --- Events (01xxh) ---
    _E("get_event_records", 0x0100, "cmd_get_event_records_req", "cmd_get_event_records_rsp",
       "req_rsp", "Read records from an event log", rsp_count="record_count", size="min"),
    _E("clear_event_records", 0x0101, "cmd_clear_event_records_req", None, "req",
       "Clear event records by handle, or the whole log", req_count="nr_recs"),
    _E("get_event_interrupt_policy", 0x0102, None, "cmd_get_event_interrupt_policy_rsp", "rsp",
       "Interrupt settings of each event log", size="min", min_size=4),
    _E("set_event_interrupt_policy", 0x0103, "cmd_set_event_interrupt_policy_req", None, "req",
       "Set the interrupt settings of each event log", req_min=4),
    _E("get_mctp_event_interrupt_policy", 0x0104, None,
       "cmd_get_mctp_event_interrupt_policy_rsp", "rsp",
       "Which event logs notify over MCTP"),
    _E("set_mctp_event_interrupt_policy", 0x0105, "cmd_set_mctp_event_interrupt_policy_req",
       None, "req", "Choose which event logs notify over MCTP"),
    _E("event_notification", 0x0106, "cmd_event_notification_req", None, "req",
       "Send an event notification"),
    # --- Firmware update (02xxh) ---
    _E("get_fw_info", 0x0200, None, "cmd_get_fw_info_rsp", "rsp",
       "Firmware slots, the active and staged slot, revisions", linux=4),
    _E("transfer_fw", 0x0201, "cmd_transfer_fw_req", None, "req_data",
       "Transfer one part of a firmware package", bg=True),
    _E("activate_fw", 0x0202, "cmd_activate_fw_req", None, "req",
       "Activate the firmware in a slot, online or on the next reset", bg=True,
       destructive=True),
    # --- Timestamp (03xxh) ---
    _E("get_timestamp", 0x0300, None, "cmd_get_timestamp_rsp", "rsp",
       "Read the component's timestamp (ns since the epoch)"),
    _E("set_timestamp", 0x0301, "cmd_set_timestamp_req", None, "req",
       "Set the component's timestamp (ns since the epoch)"),
    # --- Logs (04xxh) ---
    _E("get_supported_logs", 0x0400, None, "cmd_get_supported_logs_rsp", "rsp",
       "Logs the component keeps, by UUID, with their sizes",
       rsp_count="num_supported_log_entries", size="min", linux=3),
    _E("get_log", 0x0401, "cmd_get_log_req", None, "req_buf",
       "Read part of a log by UUID (raw bytes)", size="raw", linux=8),
    _E("get_log_cel", 0x0401, "cmd_get_log_req", "cmd_get_log_cel_rsp", "req_rsp",
       "Read the Command Effects Log: opcodes and their effects", size="raw", linux=8),
    _E("get_log_capabilities", 0x0402, "cmd_get_log_capabilities_req",
       "cmd_get_log_capabilities_rsp", "req_rsp", "What can be done to a log (clear, populate…)"),
    _E("clear_log", 0x0403, "cmd_clear_log_req", None, "req", "Clear a log by UUID"),
    _E("populate_log", 0x0404, "cmd_populate_log_req", None, "req",
       "Have the component populate a log by UUID", bg=True),
    _E("get_supported_logs_sublist", 0x0405, "cmd_get_supported_logs_sublist_req",
       "cmd_get_supported_logs_sublist_rsp", "req_rsp",
       "A window of the supported logs list", rsp_count="num_supported_log_entries", size="min"),
    # --- Features (05xxh) ---
    _E("get_supported_features", 0x0500, "cmd_get_supported_features_req",
       "cmd_get_supported_features_rsp", "req_rsp", "Features the component supports",
       rsp_count="num_supported_feature_entries", size="min"),
    _E("get_feature", 0x0501, "cmd_get_feature_req", "cmd_get_feature_rsp", "req_rsp",
       "Read a feature's data (raw bytes)", size="raw"),
    _E("set_feature", 0x0502, "cmd_set_feature_req", None, "req_data",
       "Write a feature's data"),
    # --- Memory device: identify (40xxh) ---
    _E("memdev_identify", 0x4000, None, "cmd_memdev_identify_rsp", "rsp",
       "Identify the memory device: capacities, LSA size, event log and poison limits",
       size="min", min_size=67, linux=1),
    # --- Capacity configuration and label storage (41xxh) ---
    _E("memdev_get_partition_info", 0x4100, None, "cmd_memdev_get_partition_info_rsp", "rsp",
       "Volatile / persistent split, active and next (256 MiB units)", linux=5),
    _E("memdev_set_partition_info", 0x4101, "cmd_memdev_set_partition_info_req", None, "req",
       "Set the volatile capacity (256 MiB units), now or at the next reset",
       destructive=True, linux=9),
    _E("memdev_get_lsa", 0x4102, "cmd_memdev_get_lsa_req", None, "req_buf",
       "Read the label storage area", size="raw", linux=6),
    _E("memdev_set_lsa", 0x4103, "cmd_memdev_set_lsa_req", None, "req_data",
       "Write the label storage area", destructive=True, linux=10),
    # --- Health info and alerts (42xxh) ---
    _E("memdev_get_health_info", 0x4200, None, "cmd_memdev_get_health_info_rsp", "rsp",
       "Health, media status, life used, temperature, error counters", linux=7),
    _E("memdev_get_alert_config", 0x4201, None, "cmd_memdev_get_alert_config_rsp", "rsp",
       "Alert thresholds: critical and programmable warning", linux=11),
    _E("memdev_set_alert_config", 0x4202, "cmd_memdev_set_alert_config_req", None, "req",
       "Set programmable warning thresholds", linux=12),
    _E("memdev_get_shutdown_state", 0x4203, None, "cmd_memdev_get_shutdown_state_rsp", "rsp",
       "Whether the device is marked dirty (shutdown state)", linux=13),
    _E("memdev_set_shutdown_state", 0x4204, "cmd_memdev_set_shutdown_state_req", None, "req",
       "Mark the device clean or dirty", linux=14),
    # --- Media and poison management (43xxh) ---
    _E("get_poison_list", 0x4300, "cmd_memdev_get_poison_list_req",
       "cmd_memdev_get_poison_list_rsp", "req_rsp", "Poisoned address ranges in a DPA range",
       rsp_count="more_err_media_record_cnt", size="min", linux=15),
    _E("memdev_inject_poison", 0x4301, "cmd_memdev_inject_poison_req", None, "req",
       "Inject poison at a device physical address", destructive=True, linux=16),
    _E("memdev_clear_poison", 0x4302, "cmd_memdev_clear_poison_req", None, "req",
       "Clear poison at a device physical address, writing 64 bytes", destructive=True,
       linux=17),
    _E("memdev_get_scan_media_capabilities", 0x4303,
       "cmd_memdev_get_scan_media_capabilities_req",
       "cmd_memdev_get_scan_media_capabilities_rsp", "req_rsp",
       "Estimated time to scan a DPA range", linux=18),
    _E("memdev_scan_media", 0x4304, "cmd_memdev_scan_media_req", None, "req",
       "Scan a DPA range for media errors (background)", bg=True, linux=19),
    _E("memdev_get_scan_media_results", 0x4305, None,
       "cmd_memdev_get_scan_media_results_rsp", "rsp", "Media errors the last scan found",
       rsp_count="media_error_count", size="min", linux=20),
    # --- Sanitize and media operations (44xxh) ---
    _E("memdev_sanitize", 0x4400, None, None, "none",
       "Sanitize: erase all user data (background)", bg=True, destructive=True),
    _E("memdev_secure_erase", 0x4401, None, None, "none",
       "Secure erase: change the media encryption keys", bg=True, destructive=True),
    _E("memdev_media_operations_discovery", 0x4402,
       "cmd_memdev_media_operations_discovery_req",
       "cmd_memdev_media_operations_discovery_rsp", "req_rsp",
       "Media operations the device supports", rsp_count="num_supported_ops", size="min"),
    _E("memdev_media_operations_sanitize", 0x4402,
       "cmd_memdev_media_operations_sanitize_req", None, "req",
       "Sanitize or zero listed DPA ranges (background)", req_count="dpa_range_count",
       bg=True, destructive=True),
    # --- Persistent memory data-at-rest security (45xxh) ---
    _E("memdev_get_security_state", 0x4500, None, "cmd_memdev_get_security_state_rsp", "rsp",
       "Security state: passphrase set, locked, frozen, retry limits"),
    _E("memdev_set_passphrase", 0x4501, "cmd_memdev_set_passphrase_req", None, "req",
       "Set or change the user or master passphrase", passphrase=True),
    _E("memdev_disable_passphrase", 0x4502, "cmd_memdev_disable_passphrase_req", None, "req",
       "Remove the user or master passphrase", passphrase=True),
    _E("memdev_unlock", 0x4503, "cmd_memdev_unlock_req", None, "req",
       "Unlock the device with the user passphrase", passphrase=True),
    _E("memdev_freeze_security_state", 0x4504, None, None, "none",
       "Freeze the security state until the next reset", destructive=True),
    _E("memdev_passphrase_secure_erase", 0x4505, "cmd_memdev_passphrase_secure_erase_req",
       None, "req", "Erase user data and the passphrase, given a passphrase",
       destructive=True, passphrase=True),
    # --- Security passthrough (46xxh) ---
    _E("memdev_security_send", 0x4600, "cmd_memdev_security_send_req", None, "req_data",
       "Send a security protocol payload"),
    _E("memdev_security_receive", 0x4601, "cmd_memdev_security_receive_req", None, "req_buf",
       "Receive a security protocol payload (raw bytes)", size="raw"),
    # --- SLD QoS telemetry (47xxh) ---
    _E("memdev_get_sld_qos_control", 0x4700, None, "cmd_memdev_get_sld_qos_control_rsp", "rsp",
       "SLD QoS telemetry control"),
    _E("memdev_set_sld_qos_control", 0x4701, "cmd_memdev_set_sld_qos_control_req", None, "req",
       "Set SLD QoS telemetry control"),
    _E("memdev_get_sld_qos_status", 0x4702, None, "cmd_memdev_get_sld_qos_status_rsp", "rsp",
       "SLD QoS status: average backpressure"),
    # --- Dynamic capacity (48xxh) ---
    _E("memdev_get_dc_config", 0x4800, "cmd_memdev_get_dc_config_req",
       "cmd_memdev_get_dc_config_rsp", "req_rsp", "Dynamic capacity regions and extent limits",
       size="min"),
    _E("memdev_get_dc_extent_list", 0x4801, "cmd_memdev_get_dc_extent_list_req",
       "cmd_memdev_get_dc_extent_list_rsp", "req_rsp", "Dynamic capacity extents the host holds",
       rsp_count="num_extents_returned", size="min"),
    _E("memdev_add_dc_response", 0x4802, "cmd_memdev_add_dc_response_req", None, "req",
       "Accept offered dynamic capacity extents", req_count="updated_extent_list_size"),
    _E("memdev_release_dc", 0x4803, "cmd_memdev_release_dc_req", None, "req",
       "Release dynamic capacity extents", req_count="updated_extent_list_size",
       destructive=True),
    # --- FM-API: physical switch (51xxh) ---
    _E("fmapi_identify_sw_device", 0x5100, None, "cmd_fmapi_identify_sw_device_rsp", "rsp",
       "Identify the switch: ports, VCSs, vPPBs"),
    _E("fmapi_get_phys_port_state", 0x5101, "cmd_fmapi_get_phys_port_state_req",
       "cmd_fmapi_get_phys_port_state_rsp", "req_rsp",
       "State of physical ports: type, link width and speed, LTSSM",
       req_count="num_ports", rsp_count="num_ports", size="min"),
    _E("fmapi_phys_port_control", 0x5102, "cmd_fmapi_phys_port_control_req", None, "req",
       "Reset a port, or assert / deassert PERST", destructive=True),
    _E("fmapi_send_ppb_cxlio_config_request", 0x5103,
       "cmd_fmapi_send_ppb_cxlio_config_request_req",
       "cmd_fmapi_send_ppb_cxlio_config_request_rsp", "req_rsp",
       "CXL.io configuration read or write to a PPB"),
    _E("fmapi_get_domain_validation_sv_state", 0x5104, None,
       "cmd_fmapi_get_domain_validation_sv_state_rsp", "rsp",
       "Whether a domain validation secret value is set"),
    _E("fmapi_set_domain_validation_sv", 0x5105, "cmd_fmapi_set_domain_validation_sv_req",
       None, "req", "Set the domain validation secret value"),
    _E("fmapi_get_vcs_domain_validation_sv_state", 0x5106,
       "cmd_fmapi_get_vcs_domain_validation_sv_state_req",
       "cmd_fmapi_get_vcs_domain_validation_sv_state_rsp", "req_rsp",
       "Whether a VCS's domain validation secret value is set"),
    _E("fmapi_get_domain_validation_sv", 0x5107, "cmd_fmapi_get_domain_validation_sv_req",
       "cmd_fmapi_get_domain_validation_sv_rsp", "req_rsp",
       "Read a VCS's domain validation secret value"),
    # --- FM-API: virtual switch (52xxh) ---
    _E("fmapi_get_vcs_info", 0x5200, "cmd_fmapi_get_vcs_info_req", "cmd_fmapi_get_vcs_info_rsp",
       "req_rsp", "Virtual CXL switches and their vPPB bindings", req_count="num_vcs",
       rsp_count="num_vcs", size="min"),
    _E("fmapi_bind_vppb", 0x5201, "cmd_fmapi_bind_vppb_req", None, "req",
       "Bind a vPPB to a physical port or LD", bg=True),
    _E("fmapi_unbind_vppb", 0x5202, "cmd_fmapi_unbind_vppb_req", None, "req",
       "Unbind a vPPB", bg=True, destructive=True),
    # Extension: libcxlmi has no cxlmi_cmd_* for Generate AER Event.  It puts an
    # error into a host's view of its hierarchy, hence confirmed as destructive.
    _E("fmapi_generate_aer_event", 0x5203, "cmd_fmapi_generate_aer_event_req", None, "req",
       "Generate an AER event on a vPPB of a VCS: an error status bit and TLP header",
       destructive=True, extension=True),
    # --- FM-API: MLD port (53xxh; 5300h is the tunnel itself) ---
    _E("fmapi_send_ld_cxlio_config_request", 0x5301,
       "cmd_fmapi_send_ld_cxlio_config_request_req",
       "cmd_fmapi_send_ld_cxlio_config_request_rsp", "req_rsp",
       "CXL.io configuration read or write to an LD"),
    _E("fmapi_send_ld_cxlio_mem_request", 0x5302, "cmd_fmapi_send_ld_cxlio_mem_request_req",
       "cmd_fmapi_send_ld_cxlio_mem_request_rsp", "req_rsp",
       "CXL.io memory read or write to an LD", req_count="transaction_len",
       tail_optional=True, rsp_count="return_size", size="min"),
    # --- FM-API: MLD components (54xxh) ---
    _E("fmapi_get_ld_info", 0x5400, None, "cmd_fmapi_get_ld_info_rsp", "rsp",
       "Memory size and number of LDs of an MLD"),
    _E("fmapi_get_ld_allocations", 0x5401, "cmd_fmapi_get_ld_allocations_req",
       "cmd_fmapi_get_ld_allocations_rsp", "req_rsp", "Memory allocated to each LD",
       rsp_count="ld_allocation_list_len", size="min"),
    _E("fmapi_set_ld_allocations", 0x5402, "cmd_fmapi_set_ld_allocations_req",
       "cmd_fmapi_set_ld_allocations_rsp", "req_rsp", "Change the memory allocated to LDs",
       req_count="number_ld", rsp_count="number_ld", size="min", destructive=True),
    _E("fmapi_get_qos_control", 0x5403, None, "cmd_fmapi_get_qos_control_rsp", "rsp",
       "MLD QoS telemetry control"),
    _E("fmapi_set_qos_control", 0x5404, "cmd_fmapi_set_qos_control_req",
       "cmd_fmapi_set_qos_control_rsp", "req_rsp", "Set MLD QoS telemetry control"),
    _E("fmapi_get_qos_status", 0x5405, None, "cmd_fmapi_get_qos_status_rsp", "rsp",
       "MLD QoS status: average backpressure"),
    _E("fmapi_get_qos_allocated_bw", 0x5406, "cmd_fmapi_get_qos_allocated_bw_req",
       "cmd_fmapi_get_qos_allocated_bw_rsp", "req_rsp", "Bandwidth fraction allocated per LD",
       rsp_count="number_ld", size="min"),
    _E("fmapi_set_qos_allocated_bw", 0x5407, "cmd_fmapi_set_qos_allocated_bw_req",
       "cmd_fmapi_set_qos_allocated_bw_rsp", "req_rsp", "Set the bandwidth fraction per LD",
       req_count="number_ld", rsp_count="number_ld", size="min"),
    _E("fmapi_get_qos_bw_limit", 0x5408, "cmd_fmapi_get_qos_bw_limit_req",
       "cmd_fmapi_get_qos_bw_limit_rsp", "req_rsp", "Bandwidth limit fraction per LD",
       rsp_count="number_ld", size="min"),
    _E("fmapi_set_qos_bw_limit", 0x5409, "cmd_fmapi_set_qos_bw_limit_req",
       "cmd_fmapi_set_qos_bw_limit_rsp", "req_rsp", "Set the bandwidth limit fraction per LD",
       req_count="number_ld", rsp_count="number_ld", size="min"),
    # --- FM-API: multi-headed device (55xxh) ---
    _E("fmapi_get_multiheaded_info", 0x5500, "cmd_fmapi_get_multiheaded_info_req",
       "cmd_fmapi_get_multiheaded_info_rsp", "req_rsp", "Heads, LDs and the LD-to-head map",
       rsp_count="ld_map_len", size="min"),
    _E("fmapi_get_head_info", 0x5501, "cmd_fmapi_get_head_info_req",
       "cmd_fmapi_get_head_info_rsp", "req_rsp", "Link state of each head",
       rsp_count="num_heads", size="min"),
    # --- FM-API: DCD management (56xxh) ---
    _E("fmapi_get_dcd_info", 0x5600, None, "cmd_fmapi_get_dcd_info_rsp", "rsp",
       "Hosts, regions and total dynamic capacity of a DCD"),
    _E("fmapi_get_dc_reg_config", 0x5601, "cmd_fmapi_get_host_dc_region_config_req",
       "cmd_fmapi_get_host_dc_region_config_rsp", "req_rsp",
       "A host's dynamic capacity region configuration", size="min"),
    _E("fmapi_set_dc_region_config", 0x5602, "cmd_fmapi_set_dc_region_config_req", None, "req",
       "Set a region's block size and sanitize-on-release"),
    _E("fmapi_get_dc_region_ext_list", 0x5603, "cmd_fmapi_get_dc_region_ext_list_req",
       "cmd_fmapi_get_dc_region_ext_list_rsp", "req_rsp", "Extents allocated to a host",
       rsp_count="extents_returned", size="min"),
    _E("fmapi_initiate_dc_add", 0x5604, "cmd_fmapi_initiate_dc_add_req", None, "req",
       "Offer dynamic capacity to a host", req_count="ext_count"),
    _E("fmapi_initiate_dc_release", 0x5605, "cmd_fmapi_initiate_dc_release_req", None, "req",
       "Ask a host to release dynamic capacity", req_count="ext_count", destructive=True),
    _E("fmapi_dc_add_reference", 0x5606, "cmd_fmapi_dc_add_ref_req", None, "req",
       "Add a reference to a tagged allocation"),
    _E("fmapi_dc_remove_reference", 0x5607, "cmd_fmapi_dc_remove_ref_req", None, "req",
       "Remove a reference from a tagged allocation"),
    _E("fmapi_dc_list_tags", 0x5608, "cmd_fmapi_dc_list_tags_req", "cmd_fmapi_dc_list_tags_rsp",
       "req_rsp", "Tags of dynamic capacity allocations", rsp_count="num_tags_returned",
       size="min"),
    # --- Vendor specific (C000h-FFFFh) ---
    _E("vendor_specific", 0xC000, None, None, "vendor",
       "Send a vendor-specific command (any opcode) with a raw payload", size="raw"),
)

BY_NAME = {e.name: e for e in COMMANDS}

# The entries that are libcxlmi's functions, and the extensions beside them.
LIBCXLMI_COMMANDS = tuple(e for e in COMMANDS if not e.extension)
EXTENSIONS = tuple(e for e in COMMANDS if e.extension)

# Several functions share an opcode (get_log / get_log_cel, the two media
# operations); the first declared is the canonical one for that opcode.
BY_OPCODE = {}
for _entry in COMMANDS:
    BY_OPCODE.setdefault(_entry.opcode, _entry)
del _entry


def get(name):
    """Entry by libcxlmi name (with or without ``cxlmi_cmd_``) or CLI name."""
    if name.startswith("cxlmi_cmd_"):
        name = name[len("cxlmi_cmd_"):]
    entry = BY_NAME.get(name) or BY_NAME.get(name.replace("-", "_"))
    if entry is None:
        raise KeyError("no command named %r" % name)
    return entry


def by_opcode(opcode):
    return BY_OPCODE[opcode]


# Opcodes that several functions share, named for what they all are.
SHARED_OPCODE_NAMES = {0x0401: "get_log", 0x4402: "memdev_media_operations",
                       0x5300: "tunnel_management"}


def opcode_name(opcode):
    """A readable name for any opcode, known or not."""
    if opcode in SHARED_OPCODE_NAMES:
        return SHARED_OPCODE_NAMES[opcode]
    entry = BY_OPCODE.get(opcode)
    if entry is not None:
        return entry.name
    if opcode >> 8 >= 0xC0:
        return "vendor_%04x" % opcode
    return "opcode_%04x" % opcode
