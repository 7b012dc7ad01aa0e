# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 poison and media scans (43xxh): the poison list and Scan Media.

The poison list holds media errors as [dpa, length, source] records, sorted;
errors it has no room for are kept aside (``untracked_errors``) and the list
is marked overflowed until a scan brings them back.  Media errors the device
finds, injected poison and scan results post General Media event records.

Uses from the class it is mixed into: the poison and scan attributes and
``volatile_bytes`` (set up by ``Type3.__init__``; ``Type3.reset`` drops
volatile poison), ``bg`` and ``clock`` (the framework), ``add_event()``
(:mod:`.t3_events`), ``write_media()``, ``_check_media()`` and
``_check_unlocked()`` (:mod:`.t3_media`), ``media_size()``, ``payload_max()``,
``now_ns()`` and ``debug()``.
"""


from .device import (Background, Reply, reply, INPUT, UNSUPPORTED, BUSY, PADDR, POISONLMT,
                     RESOURCEEXHAUSTED)
from .t3_constants import (CACHELINE, EVENT_LOG_INFO, EVENT_LOG_WARNING, EVENT_LOG_FAILURE,
                           EVENT_FLAG_PERMANENT, GENERAL_MEDIA_EVENT_UUID)
from .. import types
from ..types.generic import (GMER_DESCRIPTOR, GMER_TRANSACTION, GMER_TYPE, MAINTENANCE_CLASS,
                             MAINTENANCE_FLAGS, PPR_SUBCLASS, SPARING_SUBCLASS)
from ..types.memdev import (MEDIA_ERROR_SOURCE, POISON_CAPS, POISON_LIST_FLAGS, SCAN_MEDIA_FLAGS,
                            SCAN_MEDIA_RESULT_FLAGS)

# General media event record (its data layout: types gen_media_event_data): descriptor,
# type, transaction type.
GMER_DESC_UNCORRECTABLE, GMER_DESC_THRESHOLD, GMER_DESC_POISON_LIST_OVERFLOW = (
    1 << GMER_DESCRIPTOR[name] for name in ("uncorrectable", "threshold",
                                            "poison-list-overflow"))
GMER_TYPE_ECC = GMER_TYPE["ecc-error"]
(GMER_TRANS_UNKNOWN, GMER_TRANS_HOST_READ, GMER_TRANS_HOST_WRITE, GMER_TRANS_SCAN_MEDIA,
 GMER_TRANS_INJECT_POISON, GMER_TRANS_MEDIA_SCRUB) = (
    GMER_TRANSACTION[name] for name in ("unknown", "host-read", "host-write",
                                        "host-scan-media", "host-inject-poison",
                                        "internal-media-scrub"))

# Poison: media error record sources (address bits 2:0).
SOURCE_UNKNOWN, SOURCE_EXTERNAL, SOURCE_INTERNAL, SOURCE_INJECTED, SOURCE_VENDOR = (
    MEDIA_ERROR_SOURCE[name]
    for name in ("unknown", "external", "internal", "injected", "vendor-specific"))
POISON_MORE, POISON_OVERFLOW, POISON_SCAN_RUNNING, POISON_RESTART_ACK = (
    1 << POISON_LIST_FLAGS[name]
    for name in ("more-records", "overflow", "scan-in-progress", "restart-ack"))
POISON_CAP_PERSISTENT_INJECTION, POISON_CAP_SCANS = (
    1 << POISON_CAPS[name] for name in ("inject-persistent-poison", "scan-for-poison"))

# Scan media.
SCAN_NO_EVENT_LOG = 1 << SCAN_MEDIA_FLAGS["no-event-log"]
SCAN_RESULTS_MORE, SCAN_RESULTS_STOPPED = (
    1 << SCAN_MEDIA_RESULT_FLAGS[name] for name in ("more-records", "overflow"))

_POISON_HEAD = 32
_MEDIA_ERROR_RECORD = 16


def scan_ms_for(nbytes):
    """Estimated scan time: about 0.5 us per 64 bytes (QEMU), at least 1 ms."""
    return max(1, int(nbytes * 0.0005 / CACHELINE))


class PoisonMixin:
    """The poison list and media scans (43xxh)."""

    def add_media_error(self, dpa, length=CACHELINE, source=SOURCE_INTERNAL, event=True):
        """The device found a media error: add it to the poison list (or, when the
        list is full, remember it and mark the list overflowed)."""
        end = dpa + max(length, 1)
        dpa &= ~(CACHELINE - 1)                     # every cacheline [dpa, end) touches
        length = -(-(end - dpa) // CACHELINE) * CACHELINE
        if self._poison_covers(dpa, length):
            return
        if len(self.poison) >= self.poison_list_max:
            self.untracked_errors.append([dpa, length, source])
            self._poison_overflowed()
        else:
            self._poison_insert(dpa, length, source)
        if event:
            self._media_event(EVENT_LOG_FAILURE, dpa, GMER_DESC_UNCORRECTABLE,
                              GMER_TRANS_MEDIA_SCRUB, EVENT_FLAG_PERMANENT)

    def _scan_running(self):
        op = self.bg
        return op is not None and not op.done and op.opcode == 0x4304

    def _media_event(self, log_id, dpa, descriptor, transaction, flags=0):
        cls = types.get("gen_media_event_data")
        address = cls.meaning("phys_addr").encode(dpa=dpa >> 6,
                                                  volatile=int(dpa < self.volatile_bytes))
        data = cls(phys_addr=address, descriptor=descriptor, type=GMER_TYPE_ECC,
                   transaction_type=transaction)
        return self.add_event(log_id, GENERAL_MEDIA_EVENT_UUID, bytes(data), flags)

    # ---------------------------------------------------------------- poison list
    def _poison_covers(self, dpa, length):
        return any(p[0] <= dpa and dpa + length <= p[0] + p[1]
                   for p in self.poison + self.untracked_errors)

    def _poison_insert(self, dpa, length, source):
        self.poison.append([dpa, length, source])
        self.poison.sort(key=lambda p: p[0])
        self._poison_cursor = None

    def _poison_overflowed(self):
        if self.poison_overflow_ts is None:
            self.poison_overflow_ts = self.now_ns()
            self._media_event(EVENT_LOG_WARNING, 0, GMER_DESC_POISON_LIST_OVERFLOW,
                              GMER_TRANS_UNKNOWN)
            self.debug("poison list overflowed")

    def _poison_clear_range(self, start, length):
        """Remove poison inside [start, start+length), splitting records."""
        end = start + length
        for name in ("poison", "untracked_errors"):
            kept = []
            for dpa, n, source in getattr(self, name):
                if dpa + n <= start or dpa >= end:
                    kept.append([dpa, n, source])
                    continue
                if dpa < start:
                    kept.append([dpa, start - dpa, source])
                if dpa + n > end:
                    kept.append([end, dpa + n - end, source])
            setattr(self, name, sorted(kept, key=lambda p: p[0]))
        while len(self.poison) > self.poison_list_max:
            self.untracked_errors.append(self.poison.pop())
            self._poison_overflowed()
        self._poison_cursor = None

    def _poison_all_clear(self):
        self.poison = []
        self.untracked_errors = []
        self.poison_overflow_ts = None
        self._poison_cursor = None

    # ---------------------------------------------------------------- commands
    def _check_range(self, dpa, length, what, misaligned=INPUT):
        if dpa & (CACHELINE - 1):
            raise Reply(misaligned, "%s: address %#x is not 64-byte aligned" % (what, dpa))
        if dpa + length > self.media_size():
            raise Reply(PADDR, "%s: %#x+%#x is beyond the %#x-byte device"
                        % (what, dpa, length, self.media_size()))

    def cmd_get_poison_list(self, req):
        raw = req.get_poison_list_phy_addr
        flags, dpa = raw & 0x3F, raw & ~0x3F
        if flags & ~1:
            raise Reply(INPUT, "reserved bits set in the poison list address")
        length = req.get_poison_list_phy_addr_len * CACHELINE
        self._check_range(dpa, length, "get poison list")
        self._check_media("get poison list")
        end = dpa + length
        records = []
        for start, n, source in self.poison:
            if start + n <= dpa or start >= end:
                continue
            lo, hi = max(start, dpa), min(start + n, end)
            records.append((lo | source, (hi - lo) // CACHELINE))
        key = (dpa, length)
        first = 0
        out_flags = 0
        if flags & 1:
            out_flags |= POISON_RESTART_ACK
        elif self._poison_cursor is not None and self._poison_cursor[0] == key:
            first = self._poison_cursor[1]
        room = max(1, (self.payload_max() - _POISON_HEAD) // _MEDIA_ERROR_RECORD)
        chosen = records[first:first + room]
        if first + len(chosen) < len(records):
            out_flags |= POISON_MORE
            self._poison_cursor = (key, first + len(chosen))
        else:
            self._poison_cursor = None
        if self.poison_overflow_ts is not None:
            out_flags |= POISON_OVERFLOW
        if self._scan_running():
            out_flags |= POISON_SCAN_RUNNING
        return reply("get_poison_list", poison_list_flags=out_flags,
                     overflow_timestamp=self.poison_overflow_ts or 0,
                     records=[{"media_err_addr": addr, "media_err_len": n}
                              for addr, n in chosen])

    def cmd_memdev_inject_poison(self, req):
        dpa = req.inject_poison_phy_addr
        self._check_range(dpa, CACHELINE, "inject poison", misaligned=PADDR)
        self._check_media("inject poison")
        self._check_unlocked(dpa, CACHELINE, "inject poison")
        if self._poison_covers(dpa, CACHELINE):
            return None          # injecting poison twice is not an error
        injected = sum(1 for p in self.poison + self.untracked_errors
                       if p[2] == SOURCE_INJECTED)
        limit = self.inject_poison_limit or self.poison_list_max
        if injected >= limit or len(self.poison) >= self.poison_list_max:
            raise Reply(POISONLMT, "%d poison records injected, the limit is %d"
                        % (injected, limit))
        self._poison_insert(dpa, CACHELINE, SOURCE_INJECTED)
        self._media_event(EVENT_LOG_INFO, dpa, GMER_DESC_UNCORRECTABLE, GMER_TRANS_INJECT_POISON)
        return None

    def cmd_perform_maintenance(self, req):
        """Perform Maintenance (0600h): post package repair of the row holding a DPA,
        soft (until the next reset) or hard (permanent), kept in ``ppr_repairs``; a
        query of resources only answers.  (Memory sparing, the other class, has its
        own request layout: :meth:`cmd_perform_maintenance_sparing`.)"""
        op_class = req.op_class
        if op_class == MAINTENANCE_CLASS["none"]:
            return None
        if op_class != MAINTENANCE_CLASS["ppr"]:
            raise Reply(INPUT, "maintenance operation class %d" % op_class)
        kinds = {v: k for k, v in PPR_SUBCLASS.items()}
        if req.op_subclass not in kinds:
            raise Reply(INPUT, "post package repair subclass %d" % req.op_subclass)
        if req.flags & ~(1 << MAINTENANCE_FLAGS["query-resources"]):
            raise Reply(INPUT, "reserved maintenance flag bits set: %#x" % req.flags)
        nibble_mask = int.from_bytes(bytes(req.nibble_mask), "little")
        feature = self.ppr_feature(req.op_subclass, nibble_mask)     # the sPPR / hPPR Feature
        if req.flags & (1 << MAINTENANCE_FLAGS["query-resources"]):
            return None                  # resources are there: nothing to do yet
        if req.dpa >= self.media_size():
            raise Reply(PADDR, "post package repair: %#x is beyond the %#x-byte device"
                        % (req.dpa, self.media_size()))
        self._check_media("post package repair")
        self.ppr_repairs.append((req.dpa, kinds[req.op_subclass], nibble_mask))
        self.ppr_done(feature, req.dpa, nibble_mask)
        return None

    #: what each sparing granularity must be told of where it acts
    SPARING_LOCATION = {
        "cacheline": ("channel", "rank", "bank_group", "bank", "row", "column"),
        "row": ("channel", "rank", "bank_group", "bank", "row"),
        "bank": ("channel", "rank", "bank_group", "bank"),
        "rank": ("channel", "rank"),
    }
    #: spare resources per granularity (a hard sparing uses one for good, a soft
    #: one until the next reset)
    SPARES = 4

    def cmd_perform_maintenance_sparing(self, req):
        """Perform Maintenance, memory sparing class (CXL r3.2 8.2.10.7.1.4): replace
        a cache line, row, bank or rank by a spare, soft (until the next reset) or
        hard (permanent), as the Feature of that granularity allows; kept in
        ``sparing_repairs``; each operation and each query of resources posts a
        Memory Sparing event record saying what is left."""
        kinds = {v: k for k, v in SPARING_SUBCLASS.items()}
        granularity = kinds.get(req.op_subclass)
        if granularity is None:
            raise Reply(INPUT, "memory sparing subclass %d" % req.op_subclass)
        flag_names = types.get("cmd_perform_maintenance_sparing_req").meaning("flags")
        if req.flags & ~flag_names.known():
            raise Reply(INPUT, "reserved memory sparing flag bits set: %#x" % req.flags)
        flags = flag_names.decode(req.flags)
        feature = self.sparing_feature(req.op_subclass)
        hard = "hard-sparing" in flags
        if not feature.allows("hard-sparing" if hard else "soft-sparing"):
            raise Reply(UNSUPPORTED, "%s %s sparing is not supported"
                        % ("hard" if hard else "soft", granularity))
        where = {name: getattr(req, name) for name in self.SPARING_LOCATION[granularity]}
        for name in ("nibble_mask", "row"):
            if name in where:
                where[name] = int.from_bytes(bytes(where[name]), "little")
        if "nibble-mask-valid" in flags:
            where["nibble_mask"] = int.from_bytes(bytes(req.nibble_mask), "little")
        if "sub-channel-valid" in flags:
            where["sub_channel"] = req.sub_channel
        repairs = self.sparing_repairs
        left = self.SPARES - sum(1 for r in repairs if r["granularity"] == granularity)
        if "query-resources" in flags:
            self.maintenance_event(feature, ("query-resources",), res_avail=left, **where)
            return None
        if left <= 0:
            raise Reply(RESOURCEEXHAUSTED, "no %s spare left" % granularity)
        self._check_media("memory sparing")
        repairs.append(dict(where, granularity=granularity, kind="hard" if hard else "soft"))
        self.maintenance_event(feature, ("hard-sparing",) if hard else (), res_avail=left - 1,
                               **where)
        return None

    def cmd_memdev_clear_poison(self, req):
        dpa = req.clear_poison_phy_addr
        self._check_range(dpa, CACHELINE, "clear poison")
        self._check_media("clear poison")
        self._check_unlocked(dpa, CACHELINE, "clear poison")
        self.write_media(dpa, bytes(req.clear_poison_write_data))
        self._poison_clear_range(dpa, CACHELINE)
        return None

    def cmd_memdev_get_scan_media_capabilities(self, req):
        dpa = req.get_scan_media_capabilities_start_physaddr
        length = req.get_scan_media_capabilities_physaddr_length * CACHELINE
        self._check_range(dpa, length, "get scan media capabilities")
        self._check_media("get scan media capabilities")
        return types.get("cmd_memdev_get_scan_media_capabilities_rsp")(
            estimated_scan_media_time=scan_ms_for(length))

    def cmd_memdev_scan_media(self, req):
        dpa = req.scan_media_physaddr
        length = req.scan_media_physaddr_length * CACHELINE
        self._check_range(dpa, length, "scan media")
        if length == 0:
            raise Reply(INPUT, "scan media of an empty range")
        self._check_media("scan media")
        self._check_unlocked(dpa, length, "scan media")
        self.scan_results = []          # previous results are discarded
        self.scan_flags = 0
        self.scan_restart = (0, 0)
        self._scan = {"start": dpa, "length": length, "flags": req.scan_media_flags}
        return Background(scan_ms_for(length) / 1000.0, finish=self._scan_finish,
                          on_abort=self._scan_abort)

    def _scan_errors(self, start, end):
        found = [p for p in self.poison + self.untracked_errors
                 if p[0] < end and p[0] + p[1] > start]
        return sorted(found, key=lambda p: p[0])

    def _scan_collect(self, start, end, stopped_at=None):
        scan = self._scan
        errors = self._scan_errors(start, end)
        cap = self.poison_list_max
        if len(errors) > cap:
            stopped_at = errors[cap][0]
            errors = errors[:cap]
        self.scan_results = [(max(p[0], start), min(p[0] + p[1], end) - max(p[0], start))
                             for p in errors]
        if stopped_at is not None and stopped_at < scan["start"] + scan["length"]:
            self.scan_flags = SCAN_RESULTS_STOPPED
            rest = scan["start"] + scan["length"] - stopped_at
            self.scan_restart = (stopped_at, rest // CACHELINE)
        # errors the overflowed list could not hold move back into it when room allows
        for p in [p for p in self.untracked_errors if start <= p[0] < end]:
            if len(self.poison) < self.poison_list_max:
                self.untracked_errors.remove(p)
                self._poison_insert(*p)
        if not self.untracked_errors:
            self.poison_overflow_ts = None   # the list is complete again
        if not scan["flags"] & SCAN_NO_EVENT_LOG:
            for addr, _ in self.scan_results:
                self._media_event(EVENT_LOG_FAILURE, addr, GMER_DESC_UNCORRECTABLE,
                                  GMER_TRANS_SCAN_MEDIA)
        self.debug("scan media %#x+%#x: %d errors" % (scan["start"], scan["length"],
                                                      len(self.scan_results)))

    def _scan_finish(self):
        scan = self._scan
        self._scan_collect(scan["start"], scan["start"] + scan["length"])

    def _scan_abort(self):
        scan, op = self._scan, self.bg
        done = 0.0
        if op is not None and op.duration:
            done = min(1.0, (self.clock() - op.started) / op.duration)
        reached = scan["start"] + int(scan["length"] * done) // CACHELINE * CACHELINE
        self._scan_collect(scan["start"], reached, stopped_at=reached)

    def cmd_memdev_get_scan_media_results(self):
        if self.scan_results is None:
            raise Reply(UNSUPPORTED, "no scan media since the last reset")
        if self._scan_running():
            raise Reply(BUSY, "the scan is still running")
        self._check_media("get scan media results")
        cls = types.get("cmd_memdev_get_scan_media_results_rsp")
        room = max(1, (self.payload_max() - cls.fixed_size()) // _MEDIA_ERROR_RECORD)
        chosen, self.scan_results = self.scan_results[:room], self.scan_results[room:]
        restart, restart_length = self.scan_restart
        flags = self.scan_flags | (SCAN_RESULTS_MORE if self.scan_results else 0)
        return reply("memdev_get_scan_media_results",
                     scan_media_restart_physaddr=restart,
                     scan_media_restart_physaddr_length=restart_length,
                     scan_media_flags=flags,
                     record=[{"media_error_address": addr, "media_error_length": n // CACHELINE}
                             for addr, n in chosen])
