# SPDX-License-Identifier: LGPL-2.1-or-later
"""THE command table: one declaration per libcxlmi ``cxlmi_cmd_*`` function,
plus the few commands libcxlmi lacks, each marked as an extension.

Everything else is derived from it: the ``cxlmi_cmd_*`` compatibility
functions, the Pythonic ``Endpoint`` methods, the CLI subcommands and their
groups, the emulator's dispatch and its Command Effects Log, the ioctl
named-command map, man pages and completions.

Keywords of each declaration:

``name``      the libcxlmi function name without ``cxlmi_cmd_``
``opcode``    command set << 8 | command
``req/rsp``   payload structure (short name, ``struct_cxlmi_`` + it), or None
``call``      the C argument shape after (ep, ti):
              ``rsp`` (ret) · ``req`` (in) · ``req_rsp`` (in, ret) · ``none`` ·
              ``req_data`` (in, data_sz: the request's flexible tail is data_sz
              bytes) · ``req_buf`` (in, void *ret: the reply is raw bytes,
              ``in.length`` of them) · ``vendor`` (opcode, in, in_size, ret, ret_size)
``req_count``, ``rsp_count`` (derived, not declared) the field counting the
              request's / response's flexible tail: its ``count-of`` in the layout
``size``      ``fixed`` (reply is exactly sizeof rsp), ``min`` (at least the
              fixed part, or ``min_size`` for structures that grew between
              spec revisions; the tail is sized from the bytes received), ``raw``
``tail_optional`` the request's tail may be absent though its count is not
              zero (an LD memory read names a length but carries no data)
``req_min``   shortest request a device accepts, where the request grew
              between spec revisions (older senders omit the tail fields)
``flags``     ``bg`` may run in the background (the CLI offers ``--wait``) ·
              ``destructive`` loses data or changes what hosts see (the CLI asks
              for confirmation) · ``passphrase`` carries a passphrase
``effects``   the command's Command Effects Log bits (CXL r3.1 table 8-75), by
              their names in ``types.generic.CEL_EFFECTS``; the emulator's CEL
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
    __slots__ = ("name", "opcode", "req", "rsp", "call", "size", "min_size", "req_min",
                 "tail_optional", "bg", "destructive", "passphrase", "effects", "linux_id",
                 "summary", "extension", "fmapi", "group", "cli_name", "_req_cls", "_rsp_cls")

    def __init__(self, *, name, opcode, call, summary, req=None, rsp=None, size="fixed",
                 min_size=None, req_min=None, tail_optional=False, bg=False, destructive=False,
                 passphrase=False, effects=(), linux=None, extension=False):
        self.name = name
        self.opcode = opcode
        self.req = req
        self.rsp = rsp
        self.call = call
        self.summary = summary
        self.size = size
        self.min_size = min_size
        self.req_min = req_min
        self.tail_optional = tail_optional
        self.bg = bg
        self.destructive = destructive
        self.passphrase = passphrase
        self.effects = tuple(effects)
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

    @property
    def req_count(self):
        """The request field that counts its flexible tail (the layout's count-of)."""
        return _tail_count(self.req_cls)

    @property
    def rsp_count(self):
        """The response field that counts its flexible tail (the layout's count-of)."""
        return _tail_count(self.rsp_cls)

    @property
    def effect_bits(self):
        """The Command Effects Log bits ``effects`` names."""
        from .types.generic import CEL_EFFECTS
        bits = 0
        for name in self.effects:
            bits |= 1 << CEL_EFFECTS[name]
        return bits

    def __repr__(self):
        return "<Entry %s %04Xh>" % (self.name, self.opcode)


def _tail_count(cls):
    if cls is None or cls._flex_ is None:
        return None
    return cls.counted_by(cls._flex_[0])


COMMANDS = (
    # --- Information and status (00xxh) ---
    Entry(name="identify", opcode=0x0001, rsp="cmd_identify_rsp", call="rsp",
          min_size=17,      # CXL 2.0's reply ends before the component type (3.0)
          summary="Identify the component: vendor, device, serial, component type"),
    Entry(name="bg_op_status", opcode=0x0002, rsp="cmd_bg_op_status_rsp", call="rsp",
          summary="Status of the background operation: percent complete, opcode, return code"),
    Entry(name="get_response_msg_limit", opcode=0x0003, rsp="cmd_get_response_msg_limit_rsp",
          call="rsp", summary="Largest response message the component will send (2^n bytes)"),
    Entry(name="set_response_msg_limit", opcode=0x0004, req="cmd_set_response_msg_limit_req",
          rsp="cmd_set_response_msg_limit_rsp", call="req_rsp",
          effects=("immediate-config-change",),
          summary="Set the largest response message size (2^n bytes)"),
    Entry(name="request_bg_op_abort", opcode=0x0005, call="none",
          summary="Ask the component to abort its background operation"),
    # --- Events (01xxh) ---
    Entry(name="get_event_records", opcode=0x0100, req="cmd_get_event_records_req",
          rsp="cmd_get_event_records_rsp", call="req_rsp", size="min",
          summary="Read records from an event log"),
    Entry(name="clear_event_records", opcode=0x0101, req="cmd_clear_event_records_req", call="req",
          effects=("immediate-log-change",),
          summary="Clear event records by handle, or the whole log"),
    Entry(name="get_event_interrupt_policy", opcode=0x0102,
          rsp="cmd_get_event_interrupt_policy_rsp", call="rsp", size="min", min_size=4,
          summary="Interrupt settings of each event log"),
    Entry(name="set_event_interrupt_policy", opcode=0x0103,
          req="cmd_set_event_interrupt_policy_req", call="req", req_min=4,
          effects=("immediate-config-change",),
          summary="Set the interrupt settings of each event log"),
    Entry(name="get_mctp_event_interrupt_policy", opcode=0x0104,
          rsp="cmd_get_mctp_event_interrupt_policy_rsp", call="rsp",
          summary="Which event logs notify over MCTP"),
    Entry(name="set_mctp_event_interrupt_policy", opcode=0x0105,
          req="cmd_set_mctp_event_interrupt_policy_req", call="req",
          effects=("immediate-config-change",),
          summary="Choose which event logs notify over MCTP"),
    Entry(name="event_notification", opcode=0x0106, req="cmd_event_notification_req", call="req",
          effects=("immediate-config-change",), summary="Send an event notification"),
    # --- Firmware update (02xxh) ---
    Entry(name="get_fw_info", opcode=0x0200, rsp="cmd_get_fw_info_rsp", call="rsp", linux=4,
          summary="Firmware slots, the active and staged slot, revisions"),
    Entry(name="transfer_fw", opcode=0x0201, req="cmd_transfer_fw_req", call="req_data", bg=True,
          effects=("config-change-after-cold-reset", "background-operation",
                   "request-abort-background"),
          summary="Transfer one part of a firmware package"),
    Entry(name="activate_fw", opcode=0x0202, req="cmd_activate_fw_req", call="req", bg=True,
          destructive=True, effects=("config-change-after-cold-reset", "immediate-config-change"),
          summary="Activate the firmware in a slot, online or on the next reset"),
    # --- Timestamp (03xxh) ---
    Entry(name="get_timestamp", opcode=0x0300, rsp="cmd_get_timestamp_rsp", call="rsp",
          summary="Read the component's timestamp (ns since the epoch)"),
    Entry(name="set_timestamp", opcode=0x0301, req="cmd_set_timestamp_req", call="req",
          effects=("immediate-policy-change",),
          summary="Set the component's timestamp (ns since the epoch)"),
    # --- Logs (04xxh) ---
    Entry(name="get_supported_logs", opcode=0x0400, rsp="cmd_get_supported_logs_rsp", call="rsp",
          size="min", linux=3, summary="Logs the component keeps, by UUID, with their sizes"),
    Entry(name="get_log", opcode=0x0401, req="cmd_get_log_req", call="req_buf", size="raw",
          linux=8, summary="Read part of a log by UUID (raw bytes)"),
    Entry(name="get_log_cel", opcode=0x0401, req="cmd_get_log_req", rsp="cmd_get_log_cel_rsp",
          call="req_rsp", size="raw", linux=8,
          summary="Read the Command Effects Log: opcodes and their effects"),
    Entry(name="get_log_capabilities", opcode=0x0402, req="cmd_get_log_capabilities_req",
          rsp="cmd_get_log_capabilities_rsp", call="req_rsp",
          summary="What can be done to a log (clear, populate…)"),
    Entry(name="clear_log", opcode=0x0403, req="cmd_clear_log_req", call="req",
          effects=("immediate-log-change",), summary="Clear a log by UUID"),
    Entry(name="populate_log", opcode=0x0404, req="cmd_populate_log_req", call="req", bg=True,
          effects=("immediate-log-change", "background-operation", "request-abort-background"),
          summary="Have the component populate a log by UUID"),
    Entry(name="get_supported_logs_sublist", opcode=0x0405,
          req="cmd_get_supported_logs_sublist_req", rsp="cmd_get_supported_logs_sublist_rsp",
          call="req_rsp", size="min", summary="A window of the supported logs list"),
    # Extension: Perform Maintenance (0600h), which QEMU implements and libcxlmi has
    # no function for.  A hard post package repair is permanent: confirmed.
    Entry(name="perform_maintenance", opcode=0x0600, req="cmd_perform_maintenance_req",
          call="req", destructive=True, extension=True,
          effects=("immediate-data-change",),
          summary="Perform a maintenance operation: post package repair (soft or hard) of a DPA"),
    # The same opcode, memory sparing class: its own request layout (where to spare).
    Entry(name="perform_maintenance_sparing", opcode=0x0600,
          req="cmd_perform_maintenance_sparing_req", call="req", destructive=True,
          extension=True, effects=("immediate-data-change",),
          summary="Memory sparing (soft or hard) of a cache line, row, bank or rank"),
    # --- Features (05xxh) ---
    Entry(name="get_supported_features", opcode=0x0500, req="cmd_get_supported_features_req",
          rsp="cmd_get_supported_features_rsp", call="req_rsp", size="min",
          summary="Features the component supports"),
    Entry(name="get_feature", opcode=0x0501, req="cmd_get_feature_req", rsp="cmd_get_feature_rsp",
          call="req_rsp", size="raw", summary="Read a feature's data (raw bytes)"),
    Entry(name="set_feature", opcode=0x0502, req="cmd_set_feature_req", call="req_data",
          effects=("config-change-after-cold-reset", "immediate-config-change"),
          summary="Write a feature's data"),
    # --- Memory device: identify (40xxh) ---
    Entry(name="memdev_identify", opcode=0x4000, rsp="cmd_memdev_identify_rsp", call="rsp",
          size="min", min_size=67, linux=1,
          summary="Identify the memory device: capacities, LSA size, event log and poison limits"),
    # --- Capacity configuration and label storage (41xxh) ---
    Entry(name="memdev_get_partition_info", opcode=0x4100, rsp="cmd_memdev_get_partition_info_rsp",
          call="rsp", linux=5,
          summary="Volatile / persistent split, active and next (256 MiB units)"),
    Entry(name="memdev_set_partition_info", opcode=0x4101, req="cmd_memdev_set_partition_info_req",
          call="req", destructive=True, linux=9,
          effects=("config-change-after-cold-reset", "immediate-config-change",
                   "immediate-data-change"),
          summary="Set the volatile capacity (256 MiB units), now or at the next reset"),
    Entry(name="memdev_get_lsa", opcode=0x4102, req="cmd_memdev_get_lsa_req", call="req_buf",
          size="raw", linux=6, summary="Read the label storage area"),
    Entry(name="memdev_set_lsa", opcode=0x4103, req="cmd_memdev_set_lsa_req", call="req_data",
          destructive=True, linux=10, effects=("immediate-config-change", "immediate-data-change"),
          summary="Write the label storage area"),
    # --- Health info and alerts (42xxh) ---
    Entry(name="memdev_get_health_info", opcode=0x4200, rsp="cmd_memdev_get_health_info_rsp",
          call="rsp", linux=7,
          summary="Health, media status, life used, temperature, error counters"),
    Entry(name="memdev_get_alert_config", opcode=0x4201, rsp="cmd_memdev_get_alert_config_rsp",
          call="rsp", linux=11, summary="Alert thresholds: critical and programmable warning"),
    Entry(name="memdev_set_alert_config", opcode=0x4202, req="cmd_memdev_set_alert_config_req",
          call="req", linux=12, effects=("immediate-policy-change",),
          summary="Set programmable warning thresholds"),
    Entry(name="memdev_get_shutdown_state", opcode=0x4203, rsp="cmd_memdev_get_shutdown_state_rsp",
          call="rsp", linux=13, summary="Whether the device is marked dirty (shutdown state)"),
    Entry(name="memdev_set_shutdown_state", opcode=0x4204, req="cmd_memdev_set_shutdown_state_req",
          call="req", linux=14, effects=("immediate-policy-change",),
          summary="Mark the device clean or dirty"),
    # --- Media and poison management (43xxh) ---
    Entry(name="get_poison_list", opcode=0x4300, req="cmd_memdev_get_poison_list_req",
          rsp="cmd_memdev_get_poison_list_rsp", call="req_rsp", size="min", linux=15,
          summary="Poisoned address ranges in a DPA range"),
    Entry(name="memdev_inject_poison", opcode=0x4301, req="cmd_memdev_inject_poison_req",
          call="req", destructive=True, linux=16, effects=("immediate-data-change",),
          summary="Inject poison at a device physical address"),
    Entry(name="memdev_clear_poison", opcode=0x4302, req="cmd_memdev_clear_poison_req", call="req",
          destructive=True, linux=17, effects=("immediate-data-change",),
          summary="Clear poison at a device physical address, writing 64 bytes"),
    Entry(name="memdev_get_scan_media_capabilities", opcode=0x4303,
          req="cmd_memdev_get_scan_media_capabilities_req",
          rsp="cmd_memdev_get_scan_media_capabilities_rsp", call="req_rsp", linux=18,
          summary="Estimated time to scan a DPA range"),
    Entry(name="memdev_scan_media", opcode=0x4304, req="cmd_memdev_scan_media_req", call="req",
          bg=True, linux=19, effects=("background-operation", "request-abort-background"),
          summary="Scan a DPA range for media errors (background)"),
    Entry(name="memdev_get_scan_media_results", opcode=0x4305,
          rsp="cmd_memdev_get_scan_media_results_rsp", call="rsp", size="min", linux=20,
          summary="Media errors the last scan found"),
    # --- Sanitize and media operations (44xxh) ---
    Entry(name="memdev_sanitize", opcode=0x4400, call="none", bg=True, destructive=True,
          effects=("immediate-data-change", "security-state-change",
                   "background-operation", "request-abort-background"),
          summary="Sanitize: erase all user data (background)"),
    Entry(name="memdev_secure_erase", opcode=0x4401, call="none", bg=True, destructive=True,
          effects=("immediate-data-change", "security-state-change", "background-operation"),
          summary="Secure erase: change the media encryption keys"),
    Entry(name="memdev_media_operations_discovery", opcode=0x4402,
          req="cmd_memdev_media_operations_discovery_req",
          rsp="cmd_memdev_media_operations_discovery_rsp", call="req_rsp", size="min",
          effects=("immediate-data-change", "background-operation"),
          summary="Media operations the device supports"),
    Entry(name="memdev_media_operations_sanitize", opcode=0x4402,
          req="cmd_memdev_media_operations_sanitize_req", call="req", bg=True, destructive=True,
          effects=("immediate-data-change", "background-operation"),
          summary="Sanitize or zero listed DPA ranges (background)"),
    # --- Persistent memory data-at-rest security (45xxh) ---
    Entry(name="memdev_get_security_state", opcode=0x4500, rsp="cmd_memdev_get_security_state_rsp",
          call="rsp", summary="Security state: passphrase set, locked, frozen, retry limits"),
    Entry(name="memdev_set_passphrase", opcode=0x4501, req="cmd_memdev_set_passphrase_req",
          call="req", destructive=True, passphrase=True, effects=("security-state-change",),
          summary="Set or change the user or master passphrase"),
    Entry(name="memdev_disable_passphrase", opcode=0x4502, req="cmd_memdev_disable_passphrase_req",
          call="req", destructive=True, passphrase=True, effects=("security-state-change",),
          summary="Remove the user or master passphrase"),
    Entry(name="memdev_unlock", opcode=0x4503, req="cmd_memdev_unlock_req", call="req",
          destructive=True, passphrase=True, effects=("security-state-change",),
          summary="Unlock the device with the user passphrase"),
    Entry(name="memdev_freeze_security_state", opcode=0x4504, call="none", destructive=True,
          effects=("security-state-change",),
          summary="Freeze the security state until the next reset"),
    Entry(name="memdev_passphrase_secure_erase", opcode=0x4505,
          req="cmd_memdev_passphrase_secure_erase_req", call="req", destructive=True,
          passphrase=True, effects=("immediate-data-change", "security-state-change"),
          summary="Erase user data and the passphrase, given a passphrase"),
    # --- Security passthrough (46xxh) ---
    Entry(name="memdev_security_send", opcode=0x4600, req="cmd_memdev_security_send_req",
          call="req_data", summary="Send a security protocol payload"),
    Entry(name="memdev_security_receive", opcode=0x4601, req="cmd_memdev_security_receive_req",
          call="req_buf", size="raw", summary="Receive a security protocol payload (raw bytes)"),
    # --- SLD QoS telemetry (47xxh) ---
    Entry(name="memdev_get_sld_qos_control", opcode=0x4700,
          rsp="cmd_memdev_get_sld_qos_control_rsp", call="rsp",
          summary="SLD QoS telemetry control"),
    Entry(name="memdev_set_sld_qos_control", opcode=0x4701,
          req="cmd_memdev_set_sld_qos_control_req", call="req",
          effects=("immediate-config-change",), summary="Set SLD QoS telemetry control"),
    Entry(name="memdev_get_sld_qos_status", opcode=0x4702, rsp="cmd_memdev_get_sld_qos_status_rsp",
          call="rsp", summary="SLD QoS status: average backpressure"),
    # --- Dynamic capacity (48xxh) ---
    Entry(name="memdev_get_dc_config", opcode=0x4800, req="cmd_memdev_get_dc_config_req",
          rsp="cmd_memdev_get_dc_config_rsp", call="req_rsp", size="min",
          summary="Dynamic capacity regions and extent limits"),
    Entry(name="memdev_get_dc_extent_list", opcode=0x4801, req="cmd_memdev_get_dc_extent_list_req",
          rsp="cmd_memdev_get_dc_extent_list_rsp", call="req_rsp", size="min",
          summary="Dynamic capacity extents the host holds"),
    Entry(name="memdev_add_dc_response", opcode=0x4802, req="cmd_memdev_add_dc_response_req",
          call="req", effects=("immediate-config-change",),
          summary="Accept offered dynamic capacity extents"),
    Entry(name="memdev_release_dc", opcode=0x4803, req="cmd_memdev_release_dc_req", call="req",
          destructive=True, effects=("immediate-data-change",),
          summary="Release dynamic capacity extents"),
    # --- FM-API: physical switch (51xxh) ---
    Entry(name="fmapi_identify_sw_device", opcode=0x5100, rsp="cmd_fmapi_identify_sw_device_rsp",
          call="rsp", summary="Identify the switch: ports, VCSs, vPPBs"),
    Entry(name="fmapi_get_phys_port_state", opcode=0x5101, req="cmd_fmapi_get_phys_port_state_req",
          rsp="cmd_fmapi_get_phys_port_state_rsp", call="req_rsp", size="min",
          summary="State of physical ports: type, link width and speed, LTSSM"),
    Entry(name="fmapi_phys_port_control", opcode=0x5102, req="cmd_fmapi_phys_port_control_req",
          call="req", destructive=True, effects=("immediate-data-change",),
          summary="Reset a port, or assert / deassert PERST"),
    Entry(name="fmapi_send_ppb_cxlio_config_request", opcode=0x5103,
          req="cmd_fmapi_send_ppb_cxlio_config_request_req",
          rsp="cmd_fmapi_send_ppb_cxlio_config_request_rsp", call="req_rsp",
          summary="CXL.io configuration read or write to a PPB"),
    Entry(name="fmapi_get_domain_validation_sv_state", opcode=0x5104,
          rsp="cmd_fmapi_get_domain_validation_sv_state_rsp", call="rsp",
          summary="Whether a domain validation secret value is set"),
    Entry(name="fmapi_set_domain_validation_sv", opcode=0x5105,
          req="cmd_fmapi_set_domain_validation_sv_req", call="req",
          effects=("immediate-config-change",), summary="Set the domain validation secret value"),
    Entry(name="fmapi_get_vcs_domain_validation_sv_state", opcode=0x5106,
          req="cmd_fmapi_get_vcs_domain_validation_sv_state_req",
          rsp="cmd_fmapi_get_vcs_domain_validation_sv_state_rsp", call="req_rsp",
          summary="Whether a VCS's domain validation secret value is set"),
    Entry(name="fmapi_get_domain_validation_sv", opcode=0x5107,
          req="cmd_fmapi_get_domain_validation_sv_req",
          rsp="cmd_fmapi_get_domain_validation_sv_rsp", call="req_rsp",
          summary="Read a VCS's domain validation secret value"),
    # --- FM-API: virtual switch (52xxh) ---
    Entry(name="fmapi_get_vcs_info", opcode=0x5200, req="cmd_fmapi_get_vcs_info_req",
          rsp="cmd_fmapi_get_vcs_info_rsp", call="req_rsp", size="min",
          summary="Virtual CXL switches and their vPPB bindings"),
    Entry(name="fmapi_bind_vppb", opcode=0x5201, req="cmd_fmapi_bind_vppb_req", call="req",
          bg=True, destructive=True, effects=("immediate-config-change", "background-operation"),
          summary="Bind a vPPB to a physical port or LD"),
    Entry(name="fmapi_unbind_vppb", opcode=0x5202, req="cmd_fmapi_unbind_vppb_req", call="req",
          bg=True, destructive=True, effects=("immediate-data-change", "background-operation"),
          summary="Unbind a vPPB"),
    # Extension: libcxlmi has no cxlmi_cmd_* for Generate AER Event.  It puts an
    # error into a host's view of its hierarchy, hence confirmed as destructive; the
    # spec lists no command effects for it (docs/emulator-fabric.md).
    Entry(name="fmapi_generate_aer_event", opcode=0x5203, req="cmd_fmapi_generate_aer_event_req",
          call="req", destructive=True, extension=True,
          summary="Generate an AER event on a vPPB of a VCS: an error status bit and TLP header"),
    # --- FM-API: MLD port (53xxh; 5300h is the tunnel itself) ---
    Entry(name="fmapi_send_ld_cxlio_config_request", opcode=0x5301,
          req="cmd_fmapi_send_ld_cxlio_config_request_req",
          rsp="cmd_fmapi_send_ld_cxlio_config_request_rsp", call="req_rsp",
          summary="CXL.io configuration read or write to an LD"),
    Entry(name="fmapi_send_ld_cxlio_mem_request", opcode=0x5302,
          req="cmd_fmapi_send_ld_cxlio_mem_request_req",
          rsp="cmd_fmapi_send_ld_cxlio_mem_request_rsp", call="req_rsp", size="min",
          tail_optional=True, summary="CXL.io memory read or write to an LD"),
    # --- FM-API: MLD components (54xxh) ---
    Entry(name="fmapi_get_ld_info", opcode=0x5400, rsp="cmd_fmapi_get_ld_info_rsp", call="rsp",
          summary="Memory size and number of LDs of an MLD"),
    Entry(name="fmapi_get_ld_allocations", opcode=0x5401, req="cmd_fmapi_get_ld_allocations_req",
          rsp="cmd_fmapi_get_ld_allocations_rsp", call="req_rsp", size="min",
          summary="Memory allocated to each LD"),
    Entry(name="fmapi_set_ld_allocations", opcode=0x5402, req="cmd_fmapi_set_ld_allocations_req",
          rsp="cmd_fmapi_set_ld_allocations_rsp", call="req_rsp", size="min", destructive=True,
          effects=("immediate-data-change",), summary="Change the memory allocated to LDs"),
    Entry(name="fmapi_get_qos_control", opcode=0x5403, rsp="cmd_fmapi_get_qos_control_rsp",
          call="rsp", summary="MLD QoS telemetry control"),
    Entry(name="fmapi_set_qos_control", opcode=0x5404, req="cmd_fmapi_set_qos_control_req",
          rsp="cmd_fmapi_set_qos_control_rsp", call="req_rsp",
          effects=("immediate-config-change",), summary="Set MLD QoS telemetry control"),
    Entry(name="fmapi_get_qos_status", opcode=0x5405, rsp="cmd_fmapi_get_qos_status_rsp",
          call="rsp", summary="MLD QoS status: average backpressure"),
    Entry(name="fmapi_get_qos_allocated_bw", opcode=0x5406,
          req="cmd_fmapi_get_qos_allocated_bw_req", rsp="cmd_fmapi_get_qos_allocated_bw_rsp",
          call="req_rsp", size="min", summary="Bandwidth fraction allocated per LD"),
    Entry(name="fmapi_set_qos_allocated_bw", opcode=0x5407,
          req="cmd_fmapi_set_qos_allocated_bw_req", rsp="cmd_fmapi_set_qos_allocated_bw_rsp",
          call="req_rsp", size="min", effects=("immediate-config-change",),
          summary="Set the bandwidth fraction per LD"),
    Entry(name="fmapi_get_qos_bw_limit", opcode=0x5408, req="cmd_fmapi_get_qos_bw_limit_req",
          rsp="cmd_fmapi_get_qos_bw_limit_rsp", call="req_rsp", size="min",
          summary="Bandwidth limit fraction per LD"),
    Entry(name="fmapi_set_qos_bw_limit", opcode=0x5409, req="cmd_fmapi_set_qos_bw_limit_req",
          rsp="cmd_fmapi_set_qos_bw_limit_rsp", call="req_rsp", size="min",
          effects=("immediate-config-change",), summary="Set the bandwidth limit fraction per LD"),
    # --- FM-API: multi-headed device (55xxh) ---
    Entry(name="fmapi_get_multiheaded_info", opcode=0x5500,
          req="cmd_fmapi_get_multiheaded_info_req", rsp="cmd_fmapi_get_multiheaded_info_rsp",
          call="req_rsp", size="min", summary="Heads, LDs and the LD-to-head map"),
    Entry(name="fmapi_get_head_info", opcode=0x5501, req="cmd_fmapi_get_head_info_req",
          rsp="cmd_fmapi_get_head_info_rsp", call="req_rsp", size="min",
          summary="Link state of each head"),
    # --- FM-API: DCD management (56xxh) ---
    Entry(name="fmapi_get_dcd_info", opcode=0x5600, rsp="cmd_fmapi_get_dcd_info_rsp", call="rsp",
          summary="Hosts, regions and total dynamic capacity of a DCD"),
    Entry(name="fmapi_get_dc_reg_config", opcode=0x5601,
          req="cmd_fmapi_get_host_dc_region_config_req",
          rsp="cmd_fmapi_get_host_dc_region_config_rsp", call="req_rsp", size="min",
          summary="A host's dynamic capacity region configuration"),
    Entry(name="fmapi_set_dc_region_config", opcode=0x5602,
          req="cmd_fmapi_set_dc_region_config_req", call="req",
          effects=("immediate-config-change",),
          summary="Set a region's block size and sanitize-on-release"),
    Entry(name="fmapi_get_dc_region_ext_list", opcode=0x5603,
          req="cmd_fmapi_get_dc_region_ext_list_req", rsp="cmd_fmapi_get_dc_region_ext_list_rsp",
          call="req_rsp", size="min", summary="Extents allocated to a host"),
    Entry(name="fmapi_initiate_dc_add", opcode=0x5604, req="cmd_fmapi_initiate_dc_add_req",
          call="req", effects=("immediate-config-change",),
          summary="Offer dynamic capacity to a host"),
    Entry(name="fmapi_initiate_dc_release", opcode=0x5605, req="cmd_fmapi_initiate_dc_release_req",
          call="req", destructive=True, effects=("immediate-data-change",),
          summary="Ask a host to release dynamic capacity"),
    Entry(name="fmapi_dc_add_reference", opcode=0x5606, req="cmd_fmapi_dc_add_ref_req", call="req",
          effects=("immediate-config-change",), summary="Add a reference to a tagged allocation"),
    Entry(name="fmapi_dc_remove_reference", opcode=0x5607, req="cmd_fmapi_dc_remove_ref_req",
          call="req", effects=("immediate-config-change",),
          summary="Remove a reference from a tagged allocation"),
    Entry(name="fmapi_dc_list_tags", opcode=0x5608, req="cmd_fmapi_dc_list_tags_req",
          rsp="cmd_fmapi_dc_list_tags_rsp", call="req_rsp", size="min",
          summary="Tags of dynamic capacity allocations"),
    # --- Vendor specific (C000h-FFFFh) ---
    Entry(name="vendor_specific", opcode=0xC000, call="vendor", size="raw",
          summary="Send a vendor-specific command (any opcode) with a raw payload"),
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
    """Entry by libcxlmi name (with or without ``cxlmi_cmd_``) or CLI name; an unknown
    name raises :class:`UnknownCommand` (a UsageError, and a KeyError as before)."""
    if not isinstance(name, str):
        raise UnknownCommand("a command is named by a string (e.g. 'identify'), not %r"
                             % (name,))
    if name.startswith("cxlmi_cmd_"):
        name = name[len("cxlmi_cmd_"):]
    entry = BY_NAME.get(name) or BY_NAME.get(name.replace("-", "_").lower())
    if entry is None:
        import difflib
        near = difflib.get_close_matches(name.replace("-", "_").lower(), BY_NAME, 3)
        raise UnknownCommand("no command named %r%s" % (
            name, " (did you mean %s?)" % ", ".join(near) if near else ""))
    return entry


def _unknown_command():
    from .errors import UsageError

    class UnknownCommand(UsageError, KeyError):
        """No registry command has that name."""

        def __str__(self):          # KeyError would quote the message
            return UsageError.__str__(self)
    return UnknownCommand


UnknownCommand = _unknown_command()


def by_opcode(opcode):
    return BY_OPCODE[opcode]


# Opcodes that several functions share, named for what they all are.
SHARED_OPCODE_NAMES = {0x0401: "get_log", 0x4402: "memdev_media_operations",
                       0x0600: "perform_maintenance",
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
