# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 events (01xxh): the event logs and the commands that read and clear them.

:class:`EventLog` holds one log's records; :class:`EventsMixin` gives
:class:`~.type3.Type3` :meth:`~EventsMixin.add_event` (how every other part of
the model posts a record) and the Events command set: Get / Clear Event
Records, Get / Set Event Interrupt Policy, Get / Set MCTP Event Interrupt
Policy, Event Notification.

Uses from the class it is mixed into: ``event_logs``, ``mctp_event_interrupts``,
``notifications`` (set up by ``Type3.__init__``), ``now_ns()``, ``debug()``,
``payload_max()`` and ``_check_media()``.
"""

import ctypes

from .device import Reply, reply, INPUT, HANDLE
from .t3_constants import EVENT_LOG_FATAL
from .. import types

# Get Event Records flags.
EVENTS_OVERFLOW = 1 << 0
EVENTS_MORE = 1 << 1



class EventLog:
    """One event log: records with handles, a size limit and overflow accounting."""

    def __init__(self, size):
        self.size = size
        self.records = []            # (handle, 128-byte record), oldest first
        self.next_handle = 1
        self.overflow_count = 0
        self.first_overflow = 0
        self.last_overflow = 0
        self.interrupt = 0           # Get/Set Event Interrupt Policy settings byte

    def add(self, record, now):
        if len(self.records) >= self.size:
            if not self.overflow_count:
                self.first_overflow = now
            self.overflow_count = min(self.overflow_count + 1, 0xFFFF)
            self.last_overflow = now
            return None
        handle = self.next_handle
        self.next_handle = (self.next_handle + 1) & 0xFFFF or 1   # 0 is never a handle
        record = types.get("event_record").from_buffer_copy(record)
        record.handle = handle
        self.records.append((handle, bytes(record)))
        return handle

    def discard(self, count=None):
        """Drop the ``count`` oldest records (all when None); ends an overflow."""
        if count is None:
            self.records = []
        else:
            del self.records[:count]
        self.overflow_count = 0
        self.first_overflow = self.last_overflow = 0


class EventsMixin:
    """Posting event records and the Events command set (01xxh)."""

    def add_event(self, log_id, uuid, data=b"", flags=0, related_handle=0,
                  maint_class=0, maint_subclass=0, ld_id=0, head_id=0):
        """Post a 128-byte event record to event log ``log_id``; its handle, or
        None when the log is full (the overflow count and timestamps advance)."""
        now = self.now_ns()
        if log_id <= EVENT_LOG_FATAL:
            flags |= log_id                            # severity bits follow the log
        record_cls = types.get("event_record")
        record = record_cls(
            uuid=bytes(uuid)[:16], length=ctypes.sizeof(record_cls),
            flags=(flags & 0xFFFFFF).to_bytes(3, "little"), related_handle=related_handle,
            timestamp=now, maint_op_class=maint_class, maint_op_subclass=maint_subclass,
            ld_id=ld_id, head_id=head_id, data=bytes(data)[:80])
        return self.event_logs[log_id].add(bytes(record), now)

    def cmd_get_event_records(self, req):
        if req.event_log >= len(self.event_logs):
            raise Reply(INPUT, "no event log %d" % req.event_log)
        self._check_media("get event records")
        elog = self.event_logs[req.event_log]
        rsp_cls, record_cls = types.get("cmd_get_event_records_rsp"), types.get("event_record")
        fit = max(1, (self.payload_max() - ctypes.sizeof(rsp_cls)) // ctypes.sizeof(record_cls))
        chosen = elog.records[:fit]
        flags, overflow = 0, {}
        if len(elog.records) > len(chosen):
            flags |= EVENTS_MORE
        if elog.overflow_count:
            flags |= EVENTS_OVERFLOW
            overflow = dict(overflow_err_count=elog.overflow_count,
                            first_overflow_timestamp=elog.first_overflow,
                            last_overflow_timestamp=elog.last_overflow)
        return reply("get_event_records", flags=flags,
                     records=[record_cls.from_buffer_copy(raw) for _, raw in chosen], **overflow)

    def cmd_clear_event_records(self, req):
        if req.event_log >= len(self.event_logs):
            raise Reply(INPUT, "no event log %d" % req.event_log)
        elog = self.event_logs[req.event_log]
        if req.clear_flags & 1:
            if req.nr_recs:
                raise Reply(INPUT, "clear all takes no handles")
            elog.discard()
            return None
        handles = list(req.handles)
        if not handles:
            return None              # nothing to clear (QEMU accepts this too)
        # The handles must be the oldest records, in temporal order: clearing a
        # newer record while an older one stays is refused, nothing is cleared.
        oldest = [h for h, _ in elog.records[:len(handles)]]
        if handles != oldest:
            raise Reply(HANDLE, "handles %s are not the oldest records %s" % (handles, oldest))
        elog.discard(len(handles))
        return None

    def cmd_get_event_interrupt_policy(self):
        rsp = types.get("cmd_get_event_interrupt_policy_rsp")()
        (rsp.informational_settings, rsp.warning_settings, rsp.failure_settings,
         rsp.fatal_settings, rsp.dcd_settings) = [e.interrupt for e in self.event_logs]
        return rsp

    def cmd_set_event_interrupt_policy(self, req):
        values = (req.informational_settings, req.warning_settings, req.failure_settings,
                  req.fatal_settings, req.dcd_settings)
        for value in values:
            if value & 0x3 == 0x3 or value & 0x0C:
                raise Reply(INPUT, "reserved interrupt setting %#x" % value)
        for elog, value in zip(self.event_logs, values):
            elog.interrupt = value

    def cmd_get_mctp_event_interrupt_policy(self):
        return types.get("cmd_get_mctp_event_interrupt_policy_rsp")(
            event_interrupt_settings=self.mctp_event_interrupts)

    def cmd_set_mctp_event_interrupt_policy(self, req):
        if req.event_interrupt_settings & ~0x1F:
            raise Reply(INPUT, "reserved MCTP event interrupt bits %#x"
                        % req.event_interrupt_settings)
        self.mctp_event_interrupts = req.event_interrupt_settings

    def cmd_event_notification(self, req):
        self.notifications.append(req.event)
        self.debug("event notification %#06x received" % req.event)
