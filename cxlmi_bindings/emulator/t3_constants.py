# SPDX-License-Identifier: LGPL-2.1-or-later
"""Constants more than one part of the Type 3 model uses.

The Type 3 model (:mod:`.type3`) is split by command set into mixins
(``t3_events``, ``t3_firmware``, ``t3_logs``, ``t3_features``, ``t3_health``,
``t3_poison``, ``t3_media``, ``t3_security``, ``t3_sld_qos``).  A constant only
one of them uses lives in that module; the ones here are shared: units, the
event logs and the fields of the event records that several command sets post.
:mod:`.type3` re-exports all of them.
"""

from .. import uuids as _uuids
from ..types.generic import EVENT_CONDITIONS, EVENT_LOG
from ..types.memdev import CAPACITY_UNIT  # noqa: F401  (capacity fields count 256 MiB units)

MiB = 1 << 20
GiB = 1 << 30
CACHELINE = 64                # poison, scan and media-operation granularity

uuid_bytes = _uuids.wire      # wire bytes of a UUID written as text

# Event record identifiers (CXL r3.1 8.2.9.2.1).
GENERAL_MEDIA_EVENT_UUID = uuid_bytes(_uuids.EVENT_RECORD["general-media"])
DRAM_EVENT_UUID = uuid_bytes(_uuids.EVENT_RECORD["dram"])
MEMORY_MODULE_EVENT_UUID = uuid_bytes(_uuids.EVENT_RECORD["memory-module"])
DC_EVENT_UUID = uuid_bytes(_uuids.EVENT_RECORD["dynamic-capacity"])

# Event logs (Get Event Records "Event Log" field).
EVENT_LOG_INFO, EVENT_LOG_WARNING, EVENT_LOG_FAILURE, EVENT_LOG_FATAL, EVENT_LOG_DC = (
    EVENT_LOG[name] for name in ("info", "warn", "fail", "fatal", "dcd"))
EVENT_LOG_NAMES = ("informational", "warning", "failure", "fatal", "dynamic capacity")

# Common event record flags, byte 0: the conditions start at bit 2, above the severity.
EVENT_FLAG_PERMANENT, EVENT_FLAG_MAINT_NEEDED, EVENT_FLAG_PERF_DEGRADED, EVENT_FLAG_HW_REPLACE = (
    1 << (2 + EVENT_CONDITIONS[name]) for name in (
        "permanent-condition", "maintenance-needed", "performance-degraded",
        "hardware-replacement-needed"))
