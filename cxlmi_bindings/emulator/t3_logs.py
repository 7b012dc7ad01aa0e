# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 logs (04xxh): the Command Effects Log, the vendor debug log and the
component state dump.

Get Supported Logs (and its sublist form), Get Log, Get Log Capabilities,
Clear Log and Populate Log.  Populate Log writes the component state dump: a
JSON summary of the device's state.

Uses from the class it is mixed into: ``cel_bytes()`` (the framework),
``debug_log``, ``state_dump``, ``populate_seconds``, ``payload_max()``,
``now_ns()``, ``_security_state()`` (:mod:`.t3_security`) and, for the state
dump, the partition, poison, event log, firmware and health attributes.
"""

import json
import uuid as _uuid

from .device import Background, Reply, reply, INPUT, LOG
from .. import uuids as _uuids
from .t3_constants import uuid_bytes
from .. import types

# Log identifiers (CXL r3.2 table 8-83).
CEL_UUID = uuid_bytes(_uuids.LOG["cel"])
VENDOR_DEBUG_LOG_UUID = uuid_bytes(_uuids.LOG["vendor-debug"])
COMPONENT_STATE_DUMP_UUID = uuid_bytes(_uuids.LOG["component-state-dump"])

# Get Log Capabilities parameter flags.
LOGCAP_CLEAR = 1 << 0
LOGCAP_POPULATE = 1 << 1
LOGCAP_AUTO_POPULATE = 1 << 2
LOGCAP_PERSISTENT = 1 << 3


class LogsMixin:
    """The Logs command set (04xxh)."""

    def _logs(self):
        """(uuid, current bytes, capability flags) of every log, in list order."""
        return ((CEL_UUID, self.cel_bytes(), 0),
                (VENDOR_DEBUG_LOG_UUID, bytes(self.debug_log), LOGCAP_CLEAR),
                (COMPONENT_STATE_DUMP_UUID, self.state_dump, LOGCAP_CLEAR | LOGCAP_POPULATE))

    def _log(self, uuid):
        for entry in self._logs():
            if entry[0] == bytes(uuid):
                return entry
        raise Reply(LOG, "no log %s" % _uuid.UUID(bytes=bytes(uuid)))

    def cmd_get_supported_logs(self):
        return reply("get_supported_logs",
                     entries=[{"uuid": u, "log_size": len(data)} for u, data, _ in self._logs()])

    def cmd_get_supported_logs_sublist(self, req):
        logs = self._logs()
        chosen = logs[req.start_log_entry_index:][:req.max_supported_log_entries]
        return reply("get_supported_logs_sublist",
                     total_num_supported_log_entries=len(logs),
                     start_log_entry_index=req.start_log_entry_index,
                     entries=[{"uuid": u, "log_size": len(data)} for u, data, _ in chosen])

    def cmd_get_log(self, req):
        _, data, _ = self._log(req.uuid)
        if req.length > self.payload_max():
            raise Reply(INPUT, "length %d exceeds the %d-byte response limit"
                        % (req.length, self.payload_max()))
        if req.offset + req.length > len(data):
            raise Reply(INPUT, "offset %d + length %d runs past the %d-byte log"
                        % (req.offset, req.length, len(data)))
        return data[req.offset:req.offset + req.length]

    def cmd_get_log_capabilities(self, req):
        _, _, caps = self._log(req.uuid)
        return types.get("cmd_get_log_capabilities_rsp")(parameter_flags=caps)

    def cmd_clear_log(self, req):
        uuid, _, caps = self._log(req.uuid)
        if not caps & LOGCAP_CLEAR:
            raise Reply(INPUT, "this log cannot be cleared")
        if uuid == VENDOR_DEBUG_LOG_UUID:
            self.debug_log = bytearray()
        elif uuid == COMPONENT_STATE_DUMP_UUID:
            self.state_dump = b""

    def cmd_populate_log(self, req):
        uuid, _, caps = self._log(req.uuid)
        if not caps & LOGCAP_POPULATE:
            raise Reply(INPUT, "this log cannot be populated")
        return Background(self.populate_seconds, finish=self._dump_state)

    def _dump_state(self):
        state = {
            "serial": "%016x" % self.serial,
            "timestamp_ns": self.now_ns(),
            "partition": {"volatile": self.volatile_bytes, "persistent": self.persistent_bytes,
                          "next": self.next_partition},
            "media_disabled": self.media_disabled,
            "security_state": self._security_state(),
            "poison_records": len(self.poison),
            "poison_overflowed": self.poison_overflow_ts is not None,
            "event_records": [len(e.records) for e in self.event_logs],
            "firmware": {"active": self.fw_active, "staged": self.fw_staged,
                         "slots": self.fw_slots},
            "health": {"temperature": self.temperature, "life_used": self.life_used,
                       "dirty_shutdowns": self.dirty_shutdown_count},
        }
        self.state_dump = json.dumps(state, sort_keys=True).encode()
