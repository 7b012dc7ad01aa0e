# SPDX-License-Identifier: LGPL-2.1-or-later
"""Constants more than one part of the Type 3 model uses.

The Type 3 model (:mod:`.type3`) is split by command set into mixins
(``t3_events``, ``t3_firmware``, ``t3_logs``, ``t3_features``, ``t3_health``,
``t3_poison``, ``t3_media``, ``t3_security``, ``t3_sld_qos``).  A constant only
one of them uses lives in that module; the ones here are shared: units, the
event logs and the fields of the event records that several command sets post.
:mod:`.type3` re-exports all of them.
"""

import uuid as _uuid

MiB = 1 << 20
GiB = 1 << 30
CAPACITY_UNIT = 256 << 20     # partition and capacity fields count 256 MiB units
CACHELINE = 64                # poison, scan and media-operation granularity


def uuid_bytes(text):
    """Wire bytes of a UUID: the RFC 4122 byte order, as QEMU and Linux send them."""
    return _uuid.UUID(text).bytes


# Event record identifiers (CXL r3.1 8.2.9.2.1).
GENERAL_MEDIA_EVENT_UUID = uuid_bytes("fbcd0a77-c260-417f-85a9-088b1621eba6")
DRAM_EVENT_UUID = uuid_bytes("601dcbb3-9c06-4eab-b8af-4e9bfb5c9624")
MEMORY_MODULE_EVENT_UUID = uuid_bytes("fe927475-dd59-4339-a586-79bab113b774")
DC_EVENT_UUID = uuid_bytes("ca95afa7-f183-4018-8c2f-95268e101a2a")

# Event logs (Get Event Records "Event Log" field).
EVENT_LOG_INFO, EVENT_LOG_WARNING, EVENT_LOG_FAILURE, EVENT_LOG_FATAL, EVENT_LOG_DC = range(5)
EVENT_LOG_NAMES = ("informational", "warning", "failure", "fatal", "dynamic capacity")

# Common event record flags, byte 0 (bits 1:0 severity).
EVENT_FLAG_PERMANENT = 1 << 2
EVENT_FLAG_MAINT_NEEDED = 1 << 3
EVENT_FLAG_PERF_DEGRADED = 1 << 4
EVENT_FLAG_HW_REPLACE = 1 << 5
