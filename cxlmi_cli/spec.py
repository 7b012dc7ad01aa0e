# SPDX-License-Identifier: LGPL-2.1-or-later
"""Names the CXL specification (r3.1) gives to field values.

Plain data, shared by the request options (enums by name) and the output
decoders (``*_decoded`` in JSON, words in tables).  Enum tables map a
name to a value, several names may share a value (aliases: the first one is
canonical and is what output shows).  Flag tables map a name to a bit number.
UUIDs and the capacity unit come from the library (one source for both sides).
"""

from cxlmi_bindings import CXL_CAPACITY_MULTIPLIER, uuids as _uuids

# -- events (8.2.9.2) ---------------------------------------------------------------
EVENT_LOG = {"info": 0, "informational": 0, "warn": 1, "warning": 1, "fail": 2,
             "failure": 2, "fatal": 3, "dcd": 4, "dynamic-capacity": 4}
EVENT_LOG_BITS = {"info": 0, "warn": 1, "fail": 2, "fatal": 3, "dcd": 4}
EVENT_SEVERITY = {"informational": 0, "warning": 1, "failure": 2, "fatal": 3}
# Common event record flags (table 8-43); bits 1:0 are the severity.
EVENT_RECORD_FLAGS = {"permanent-condition": 2, "maintenance-needed": 3,
                      "performance-degraded": 4, "hardware-replacement-needed": 5,
                      "maint-op-subclass-valid": 6, "ld-id-valid": 7, "head-id-valid": 8}
EVENT_GET_FLAGS = {"overflow": 0, "more-records": 1}
EVENT_CLEAR_FLAGS = {"clear-all": 0}
INTERRUPT_MODE = {"none": 0, "msi": 1, "fw": 2, "reserved": 3}
EVENT_RECORD_UUIDS = _uuids.EVENT_RECORD

# -- firmware (8.2.9.3) -------------------------------------------------------------
FW_TRANSFER_ACTION = {"full": 0, "initiate": 1, "continue": 2, "end": 3, "abort": 4}
FW_ACTIVATE_ACTION = {"online": 0, "reset": 1, "offline": 1, "on-reset": 1}
FW_CAPS = {"online-activation": 0}
FW_TRANSFER_UNIT = 128            # Transfer FW offsets count 128-byte units

# -- logs (8.2.9.5) -----------------------------------------------------------------
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

# -- features (8.2.9.6) -------------------------------------------------------------
FEATURE_UUIDS = _uuids.FEATURE
FEATURE_SELECTION = {"current": 0, "default": 1, "saved": 2}
FEATURE_ACTION = {"full": 0, "initiate": 1, "continue": 2, "finish": 3, "abort": 4}
FEATURE_ATTRIBUTES = {"changeable": 0, "persist-across-firmware-update": 4,
                      "default-selection": 5, "saved-selection": 6}

# -- memory device (8.2.9.9) --------------------------------------------------------
CAPACITY_UNIT = CXL_CAPACITY_MULTIPLIER   # capacities and partitions count 256 MiB units
POISON_CAPS = {"inject-persistent-poison": 0, "scan-for-poison": 1}
QOS_TELEMETRY_CAPS = {"egress-port-congestion": 0, "temporary-throughput-reduction": 1}
QOS_TELEMETRY_CONTROL = QOS_TELEMETRY_CAPS
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
ALERTS = {"life-used": 0, "over-temperature": 1, "under-temperature": 2,
          "corrected-volatile-errors": 3, "corrected-persistent-errors": 4}
SHUTDOWN_STATE = {"clean": 0, "dirty": 1}
POISON_LIST_FLAGS = {"more-records": 0, "overflow": 1, "scan-in-progress": 2, "restart-ack": 3}
SCAN_MEDIA_RESULT_FLAGS = {"more-records": 0, "overflow": 1}
SCAN_MEDIA_FLAGS = {"no-event-log": 0}
MEDIA_ERROR_SOURCE = {"unknown": 0, "external": 1, "internal": 2, "injected": 3,
                      "vendor-specific": 7}
MEDIA_RECORD_UNIT = 64            # poison / scan media lengths count 64-byte units
MEDIA_OP_CLASS = {"general": 0, "sanitize": 1}
MEDIA_OP_SANITIZE = {"sanitize": 0, "zero": 1}
SECURITY_STATE = {"user-passphrase-set": 0, "master-passphrase-set": 1, "locked": 2,
                  "frozen": 3, "user-passphrase-attempts-reached": 4,
                  "master-passphrase-attempts-reached": 5}
PASSPHRASE_TYPE = {"master": 0, "user": 1}
DC_RESPONSE_FLAGS = {"more": 0}

# -- FM-API (7.6.7) -----------------------------------------------------------------
COMPONENT_TYPE = {"switch": 0, "type3": 3}
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
PORT_OPCODE = {"assert-perst": 0, "deassert-perst": 1, "reset-ppb": 2, "reset": 2}
SV_STATE = {"not-set": 0, "set": 1}
VCS_STATE = {"disabled": 0, "enabled": 1, "invalid-vcs-id": 0xFF}
BINDING_STATUS = {"unbound": 0, "bind-or-unbind-in-progress": 1, "bound-port": 2,
                  "bound-ld": 3}
UNBIND_OPTION = {"wait": 0, "managed-hot-remove": 1, "surprise-hot-remove": 2}
AER_SEVERITY = {"correctable": 0, "uncorrectable": 1}      # Generate AER Event bit 31
LD_GRANULARITY = {"256M": 0, "512M": 1, "1G": 2}
LD_GRANULARITY_BYTES = {0: 256 << 20, 1: 512 << 20, 2: 1 << 30}
DC_SELECTION_POLICY = {"free": 0, "contiguous": 1, "prescriptive": 2,
                       "enable-shared-access": 3}
DC_SELECTION_POLICIES = DC_SELECTION_POLICY          # the DCD info bitmask uses the same bits
DC_REMOVAL_POLICY = {"tag-based": 0, "prescriptive": 1}
DC_REMOVAL_POLICIES = DC_REMOVAL_POLICY
CONFIG_TRANSACTION = {"read": 0, "write": 1}


def uuid_bytes(table):
    """name -> 16 wire bytes (RFC 4122 order, as the CXL spec writes UUIDs)."""
    return {name: _uuids.wire(text) for name, text in table.items()}


def uuid_names(table):
    """16 wire bytes -> name."""
    return {b: name for name, b in uuid_bytes(table).items()}


def canonical(table):
    """value -> first (canonical) name."""
    out = {}
    for name, value in table.items():
        out.setdefault(value, name)
    return out
