# SPDX-License-Identifier: LGPL-2.1-or-later
"""Dynamic Capacity Device (DCD) model: a Type 3 device with DC regions.

Both sides of dynamic capacity are modelled against one state:

* the **host** (memory device command set 48xxh): Get DC Config, Get DC
  Extent List, Add DC Response, Release DC, and the dynamic capacity event
  log (event log 4) read with Get / Clear Event Records;
* the **fabric manager** (DCD management, 56xxh): Get DCD Info, Get / Set
  DC region configuration, Get DC Region Extent Lists, Initiate DC Add /
  Release, Add / Remove Reference and List Tags.

The life of an extent: Initiate DC Add (FM) makes it *pending* and posts an
"add capacity" record in the DC event log; the host reads the record and
answers Add DC Response, which turns the offered ranges it accepts into
*host extents* (visible in both extent lists, generation number bumped) and
returns the rest of the offer.  Initiate DC Release (FM) posts "release
capacity" records; Release DC (host) gives the ranges back.  A forced release
drops them at once.  Capacity under a tag that the FM holds a reference to
(5606h) is *retained* when the host lets go of it, until the last reference
is removed (5607h).

Units on the wire follow the CXL spec, not libcxlmi's in-place rescaling:
region base, region length, block size and extent addresses are bytes;
``decode_len`` (both region configuration replies) and the DCD info
``total_dynamic_capacity`` count 256 MiB units.  The region configuration
replies are laid out as the spec says: header, the *returned* regions, then
the 16-byte extent / tag trailer.

Return codes follow QEMU's emulation (hw/cxl/cxl-mailbox-utils.c) where it
has the command: a range outside every DC region is PADDR, a misaligned,
empty or self-overlapping extent list is EXTLIST, a range the host does not
hold (release) or was not offered (add response) is PADDR, running out of
extent tracking or capacity is RESOURCEEXHAUSTED, anything else malformed is
INPUT.  See docs/emulator-dcd-mhd.md.
"""

import ctypes

from .device import Reply, reply, INPUT, UNSUPPORTED, PADDR, RESOURCEEXHAUSTED, EXTLIST
from .type3 import Type3
from .t3_constants import CAPACITY_UNIT, EVENT_LOG_DC
from .. import types, uuids as _uuids
from ..types.fmapi import DC_REMOVAL_POLICY, DC_SELECTION_POLICY
from ..types.generic import DC_EVENT_TYPE

MiB = 1 << 20
GiB = 1 << 30

DC_EVENT_LOG = EVENT_LOG_DC
#: Dynamic Capacity Event Record UUID (CXL r3.1 table 8-50)
DC_EVENT_UUID = _uuids.wire(_uuids.EVENT_RECORD["dynamic-capacity"])

# Dynamic capacity event types (CXL r3.1 table 8-50; the record's data layout is
# types' dc_event_data)
EVENT_ADD_CAPACITY, EVENT_RELEASE_CAPACITY, EVENT_FORCED_RELEASE, \
    EVENT_REGION_CONFIG_UPDATED = (
        DC_EVENT_TYPE[name] for name in ("add-capacity", "release-capacity",
                                         "forced-capacity-release",
                                         "region-configuration-updated"))

# Initiate DC Add selection policies (5604h)
POLICY_FREE, POLICY_CONTIGUOUS, POLICY_PRESCRIPTIVE, POLICY_SHARED = (
    DC_SELECTION_POLICY[name]
    for name in ("free", "contiguous", "prescriptive", "enable-shared-access"))
# Initiate DC Release removal policies (5605h flags bits 3:0) and forced removal (bit 4)
REMOVAL_TAG_BASED, REMOVAL_PRESCRIPTIVE = (
    DC_REMOVAL_POLICY[name] for name in ("tag-based", "prescriptive"))
REMOVAL_POLICY_MASK = 0x0F
FORCED_REMOVAL = 1 << 4

# CDAT DSMAS flags reported in the FM region configuration
DSMAS_NONVOLATILE = 1 << 2
DSMAS_SHARABLE = 1 << 3
DSMAS_HW_COHERENCY = 1 << 4
DSMAS_IC_SPECIFIC = 1 << 5
DSMAS_READ_ONLY = 1 << 6

# Add DC Response flags
RESPONSE_MORE = 1 << 0
# DC event record flags

NO_TAG = bytes(16)
HOST_ID = 0          # this model serves one host



class Extent:
    """A DPA range with its tag and shared sequence number."""

    __slots__ = ("start", "length", "tag", "shared_seq")

    def __init__(self, start, length, tag=NO_TAG, shared_seq=0):
        self.start = start
        self.length = length
        self.tag = bytes(tag)
        self.shared_seq = shared_seq

    @property
    def end(self):
        return self.start + self.length

    def overlaps(self, start, length):
        return start < self.end and self.start < start + length

    def contains(self, start, length):
        return self.start <= start and start + length <= self.end

    def piece(self, start, end):
        return Extent(start, end - start, self.tag, self.shared_seq)

    def __repr__(self):
        return "Extent(%#x, %#x)" % (self.start, self.length)


class Region:
    """One dynamic capacity region."""

    def __init__(self, index, base, length, block_size, supported_block_sizes,
                 flags=0, sanitize_on_release=False):
        self.index = index
        self.base = base
        self.length = length
        self.block_size = block_size
        #: bit n set when a block size of 2^n bytes is supported
        self.supported_mask = supported_block_sizes
        self.dsmas_flags = flags
        self.sanitize_on_release = sanitize_on_release

    @property
    def end(self):
        return self.base + self.length

    @property
    def decode_len(self):
        """Decode length in 256 MiB units (the spec's unit)."""
        return (self.length + CAPACITY_UNIT - 1) // CAPACITY_UNIT


class Offer:
    """The extents of one Initiate DC Add, waiting for Add DC Response."""

    def __init__(self, extents, retained_from=None):
        self.extents = extents
        #: tag whose retained capacity this offer re-offers (shared access)
        self.retained_from = retained_from


class TagState:
    """A tagged allocation: references held by the FM, retained capacity."""

    def __init__(self):
        self.fm_refs = 0
        self.retained = []       # capacity kept for the tag while no host holds it


def _subtract(extents, start, length):
    """``extents`` minus ``[start, start + length)``: (kept, removed)."""
    kept, removed = [], []
    end = start + length
    for ext in extents:
        if not ext.overlaps(start, length):
            kept.append(ext)
            continue
        if ext.start < start:
            kept.append(ext.piece(ext.start, start))
        if ext.end > end:
            kept.append(ext.piece(end, ext.end))
        removed.append(ext.piece(max(ext.start, start), min(ext.end, end)))
    return kept, removed


def _covered(extents, start, length):
    """True when the union of ``extents`` covers the whole range."""
    pos, end = start, start + length
    for ext in sorted(extents, key=lambda e: e.start):
        if ext.end <= pos:
            continue
        if ext.start > pos:
            return False
        pos = ext.end
        if pos >= end:
            return True
    return pos >= end


class DCD(Type3):
    """A Type 3 memory device with dynamic capacity regions."""

    device_id = 0x0D0D

    def __init__(self, regions=2, region_size=1 * GiB, block_size=2 * MiB,
                 supported_block_sizes=None, region_flags=None, max_extents=512,
                 max_tags=16, dc_event_log_size=64, **kwargs):
        if "event_log_sizes" not in kwargs:
            # one DC event record per extent: a roomier log 4 than a plain Type 3's
            kwargs["event_log_sizes"] = (32, 16, 16, 8, dc_event_log_size)
        super().__init__(**kwargs)
        if not 1 <= regions <= 8:
            raise ValueError("a DCD has 1 to 8 DC regions, not %d" % regions)
        if block_size & (block_size - 1) or block_size < 64:
            raise ValueError("block size %d is not a power of two >= 64" % block_size)
        if region_size % block_size or region_size % CAPACITY_UNIT:
            raise ValueError("region size must be a multiple of the block size and 256 MiB")
        if supported_block_sizes is None:
            supported_block_sizes = block_size | (block_size << 5) | CAPACITY_UNIT
        if not supported_block_sizes & block_size:
            raise ValueError("the block size must be one of the supported block sizes")
        flags = list(region_flags or [])
        # DC regions follow the static (volatile + persistent) capacity
        base = -(-self.total_bytes // CAPACITY_UNIT) * CAPACITY_UNIT
        self.regions = []
        for i in range(regions):
            self.regions.append(Region(i, base + i * region_size, region_size, block_size,
                                       supported_block_sizes,
                                       flags[i] if i < len(flags) else 0))
        self.max_extents = max_extents
        self.max_tags = max_tags
        self.host_extents = []       # accepted by the host, in acceptance order
        self.offers = []             # pending adds, oldest first
        self.tags = {}               # tag bytes -> TagState
        self.generation = 0          # extent list generation number
        self.tag_generation = 0

    # ---------------------------------------------------------------- helpers
    @property
    def total_dynamic_capacity(self):
        return sum(r.length for r in self.regions)

    def _pending_extents(self):
        return [ext for offer in self.offers for ext in offer.extents]

    def _retained_extents(self):
        return [ext for state in self.tags.values() for ext in state.retained]

    def _allocated(self):
        """Everything that is not free: held, offered or retained."""
        return self.host_extents + self._pending_extents() + self._retained_extents()

    def _extents_in_use(self):
        """Extents the device tracks against its limit (held + offered, as QEMU)."""
        return len(self.host_extents) + len(self._pending_extents())

    def extents_available(self):
        return max(0, self.max_extents - self._extents_in_use())

    def tags_available(self):
        return max(0, self.max_tags - len(self.tags))

    def _region_of(self, start, length):
        for region in self.regions:
            if region.base <= start and start + length <= region.end:
                return region
        return None

    @staticmethod
    def _check_host(host_id):
        if host_id != HOST_ID:
            raise Reply(INPUT, "host %d: this DCD serves host 0 only" % host_id)

    def _check_list(self, ranges):
        """Validate (start, length) ranges as QEMU does: regions, alignment, overlap."""
        seen = []
        for start, length in ranges:
            region = self._region_of(start, length) if length else None
            if length and region is None:
                raise Reply(PADDR, "extent %#x+%#x is not inside one DC region" % (start, length))
            if length == 0 or (start - region.base) % region.block_size \
                    or length % region.block_size:
                raise Reply(EXTLIST, "extent %#x+%#x is not aligned to its region's block size"
                            % (start, length))
            if any(s < start + length and start < s + n for s, n in seen):
                raise Reply(EXTLIST, "extents in the list overlap")
            seen.append((start, length))

    def _changed(self):
        self.generation = (self.generation + 1) & 0xFFFFFFFF

    def _tags_changed(self):
        self.tag_generation = (self.tag_generation + 1) & 0xFFFFFFFF

    def _tag_state(self, tag):
        """State of a known tag, or INPUT."""
        state = self.tags.get(bytes(tag))
        if bytes(tag) == NO_TAG or state is None:
            raise Reply(INPUT, "no allocation with tag %s" % bytes(tag).hex())
        return state

    def _tag_in_use(self, tag):
        return any(e.tag == tag for e in self.host_extents + self._pending_extents())

    def _gc_tags(self):
        for tag in list(self.tags):
            state = self.tags[tag]
            if state.fm_refs == 0:
                state.retained = []
            if state.fm_refs == 0 and not self._tag_in_use(tag):
                del self.tags[tag]
                self._tags_changed()

    def _give_back(self, pieces):
        """Capacity the host no longer holds: retained for referenced tags, else freed."""
        for piece in pieces:
            state = self.tags.get(piece.tag)
            if piece.tag != NO_TAG and state is not None and state.fm_refs:
                state.retained.append(piece)
        self._gc_tags()

    # ---------------------------------------------------------------- DC event log
    def _post_dc_event(self, event_type, extent=None, region_id=0, more=False):
        """Post a Dynamic Capacity Event Record to the Type 3 model's event log 4."""
        cls = types.get("dc_event_data")
        data = cls(event_type=event_type,
                   validity_flags=cls.meaning("validity_flags").mask("host-id"),
                   host_id=HOST_ID, region_index=region_id,
                   flags=cls.meaning("flags").mask("more") if more else 0,
                   extents_available=self.extents_available(),
                   tags_available=self.tags_available())
        if extent is not None:
            data.extent.start_dpa, data.extent.len = extent.start, extent.length
            data.extent.tag, data.extent.shared_seq = extent.tag, extent.shared_seq
        # severity informational: add_event leaves the flags of log 4 at 0
        return self.add_event(DC_EVENT_LOG, DC_EVENT_UUID, bytes(data))

    def _post_extent_events(self, event_type, extents):
        for i, ext in enumerate(extents):
            self._post_dc_event(event_type, ext, more=i < len(extents) - 1)

    # ---------------------------------------------------------------- host side (48xxh)
    def cmd_memdev_get_dc_config(self, req):
        if req.start_region_id >= len(self.regions):
            raise Reply(INPUT, "start region %d of %d" % (req.start_region_id, len(self.regions)))
        chosen = self.regions[req.start_region_id:req.start_region_id + req.region_cnt]
        cfg_cls = types.get("memdev_dc_region_config")
        return self._config_reply(
            "cmd_memdev_get_dc_config_rsp",
            [cfg_cls(base=region.base, decode_len=region.decode_len, region_len=region.length,
                     block_size=region.block_size, dsmadhandle=region.index,
                     flags=1 if region.sanitize_on_release else 0) for region in chosen])

    def _config_reply(self, rsp_name, configs, **fields):
        """A DC region configuration reply as the spec lays it on the wire: the
        declared structure with the returned regions, cut right after the last
        of them (the structure keeps room for all 8) so the trailer follows it."""
        cls = types.get(rsp_name)
        rsp = cls(num_regions=len(self.regions), regions_returned=len(configs),
                  num_extents_supported=self.max_extents,
                  num_extents_available=self.extents_available(),
                  num_tags_supported=self.max_tags, num_tags_available=self.tags_available(),
                  **fields)
        for i, config in enumerate(configs):
            rsp.region_configs[i] = config
        data = bytes(rsp)
        end = cls.region_configs.offset + len(configs) * ctypes.sizeof(rsp.region_configs._type_)
        return data[:end] + data[cls.num_extents_supported.offset:]

    def _extent_list(self, start, count):
        total = len(self.host_extents)
        if start > total:
            raise Reply(INPUT, "start extent %d of %d" % (start, total))
        elem = 40
        room = ((1 << self.response_msg_limit) - 16 - 24) // elem
        chosen = self.host_extents[start:start + min(count, max(room, 0))]
        return chosen, total

    @staticmethod
    def _extent_entries(chosen):
        return [{"start_dpa": ext.start, "len": ext.length, "tag": ext.tag,
                 "shared_seq": ext.shared_seq} for ext in chosen]

    def cmd_memdev_get_dc_extent_list(self, req):
        chosen, total = self._extent_list(req.start_extent_idx, req.extent_cnt)
        return reply("memdev_get_dc_extent_list", total_num_extents=total,
                     generation_num=self.generation, extents=self._extent_entries(chosen))

    def cmd_memdev_add_dc_response(self, req):
        if not self.offers:
            raise Reply(INPUT, "no dynamic capacity add is pending")
        offer = self.offers[0]
        ranges = [(e.start_dpa, e.len) for e in req.extents]
        if not ranges:                              # the host declines the whole offer
            self._close_offer(offer)
            return None
        self._check_list(ranges)
        accepted = []
        for start, length in ranges:
            source = next((e for e in offer.extents if e.contains(start, length)), None)
            if source is None:
                raise Reply(PADDR, "%#x+%#x was not offered in the pending add" % (start, length))
            if any(e.overlaps(start, length) for e in self.host_extents):
                raise Reply(PADDR, "%#x+%#x is already held by the host" % (start, length))
            accepted.append(source.piece(start, start + length))
        more = bool(req.flags & RESPONSE_MORE)
        rest = list(offer.extents)
        if more:
            for ext in accepted:
                rest, _ = _subtract(rest, ext.start, ext.length)
        after = (len(self.host_extents) + len(accepted) + len(self._pending_extents())
                 - len(offer.extents) + (len(rest) if more else 0))
        if after > self.max_extents:
            raise Reply(RESOURCEEXHAUSTED, "accepting would exceed the device's extent limit")
        self.host_extents.extend(accepted)
        self._changed()
        if more and rest:
            # more responses follow: the accepted ranges leave the offer
            offer.extents = rest
            self._tags_changed()
            return None
        self._close_offer(offer, accepted)
        return None

    def _close_offer(self, offer, accepted=()):
        """Drop the oldest offer; ranges the host did not take go back."""
        self.offers.remove(offer)
        leftover = list(offer.extents)
        for ext in accepted:
            leftover, _ = _subtract(leftover, ext.start, ext.length)
        if offer.retained_from is not None:
            state = self.tags.get(offer.retained_from)
            if state is not None:
                state.retained.extend(leftover)
        self._gc_tags()
        self._tags_changed()

    def cmd_memdev_release_dc(self, req):
        ranges = [(e.start_dpa, e.len) for e in req.extents]
        if not ranges:
            raise Reply(INPUT, "release of an empty extent list")
        self._check_list(ranges)
        held = list(self.host_extents)
        removed = []
        for start, length in ranges:
            if not _covered(held, start, length):
                raise Reply(PADDR, "%#x+%#x is not held by the host" % (start, length))
            held, gone = _subtract(held, start, length)
            removed.extend(gone)
        if len(held) + len(self._pending_extents()) > self.max_extents:
            raise Reply(RESOURCEEXHAUSTED, "splitting extents would exceed the extent limit")
        # keep acceptance order for the survivors
        self.host_extents = held
        self._changed()
        self._give_back(removed)
        self._tags_changed()
        return None

    # ---------------------------------------------------------------- FM side (56xxh)
    def cmd_fmapi_get_dcd_info(self):
        rsp = types.get("cmd_fmapi_get_dcd_info_rsp")(
            num_hosts=1, num_supported_dc_regions=len(self.regions),
            capacity_selection_policies=(1 << POLICY_FREE) | (1 << POLICY_CONTIGUOUS)
            | (1 << POLICY_PRESCRIPTIVE) | (1 << POLICY_SHARED),
            capacity_removal_policies=(1 << REMOVAL_TAG_BASED) | (1 << REMOVAL_PRESCRIPTIVE),
            sanitize_on_release_config_mask=(1 << len(self.regions)) - 1,
            total_dynamic_capacity=self.total_dynamic_capacity // CAPACITY_UNIT)
        for region in self.regions:
            setattr(rsp, "region_%d_supported_blk_sz_mask" % region.index, region.supported_mask)
        return rsp

    def cmd_fmapi_get_dc_reg_config(self, req):
        self._check_host(req.host_id)
        if req.start_region_id >= len(self.regions):
            raise Reply(INPUT, "start region %d of %d" % (req.start_region_id, len(self.regions)))
        chosen = self.regions[req.start_region_id:req.start_region_id + req.region_cnt]
        cfg_cls = types.get("fmapi_dc_region_config")
        return self._config_reply(
            "cmd_fmapi_get_host_dc_region_config_rsp",
            [cfg_cls(base=region.base, decode_len=region.decode_len, region_len=region.length,
                     block_size=region.block_size, flags=region.dsmas_flags,
                     sanitize_on_release=1 if region.sanitize_on_release else 0)
             for region in chosen], host_id=req.host_id)

    def cmd_fmapi_set_dc_region_config(self, req):
        if req.region_id >= len(self.regions):
            raise Reply(INPUT, "no DC region %d" % req.region_id)
        region = self.regions[req.region_id]
        size = req.block_sz
        if size == 0 or size & (size - 1) or not size & region.supported_mask:
            raise Reply(INPUT, "block size %#x is not supported by region %d"
                        % (size, region.index))
        sanitize = bool(req.sanitize_on_release & 1)
        if size == region.block_size and sanitize == region.sanitize_on_release:
            return None
        if any(e.overlaps(region.base, region.length) for e in self._allocated()):
            raise Reply(UNSUPPORTED, "region %d has capacity allocated" % region.index)
        region.block_size = size
        region.sanitize_on_release = sanitize
        self._post_dc_event(EVENT_REGION_CONFIG_UPDATED, region_id=region.index)
        return None

    def cmd_fmapi_get_dc_region_ext_list(self, req):
        self._check_host(req.host_id)
        chosen, total = self._extent_list(req.start_ext_index, req.extent_count)
        return reply("fmapi_get_dc_region_ext_list", host_id=req.host_id,
                     start_ext_index=req.start_ext_index, total_extents=total,
                     list_generation_num=self.generation,
                     extents=self._extent_entries(chosen))

    def _free_runs(self, region):
        """Free (start, length) runs of a region, lowest DPA first, block aligned."""
        taken = sorted((e for e in self._allocated() if e.overlaps(region.base, region.length)),
                       key=lambda e: e.start)
        runs, pos = [], region.base
        for ext in taken:
            if ext.start > pos:
                runs.append((pos, ext.start - pos))
            pos = max(pos, ext.end)
        if pos < region.end:
            runs.append((pos, region.end - pos))
        out = []
        bs = region.block_size
        for start, length in runs:
            aligned = region.base + -(-(start - region.base) // bs) * bs
            usable = (start + length - aligned) // bs * bs
            if usable > 0:
                out.append((aligned, usable))
        return out

    def cmd_fmapi_initiate_dc_add(self, req):
        self._check_host(req.host_id)
        policy = req.selection_policy
        tag = bytes(req.tag)
        if policy == POLICY_SHARED:
            return self._add_shared(tag)
        if policy not in (POLICY_FREE, POLICY_CONTIGUOUS, POLICY_PRESCRIPTIVE):
            raise Reply(INPUT, "selection policy %d is not supported" % policy)
        if policy == POLICY_PRESCRIPTIVE:
            extents = [Extent(e.start_dpa, e.len, tag if tag != NO_TAG else bytes(e.tag),
                              e.shared_seq) for e in req.extents]
        if policy == POLICY_PRESCRIPTIVE:
            for t in {e.tag for e in extents} | {tag}:
                if t != NO_TAG and t in self.tags:
                    raise Reply(INPUT, "tag %s already names an allocation" % t.hex())
            if not extents:
                raise Reply(INPUT, "a prescriptive add needs an extent list")
            if self._extents_in_use() + len(extents) > self.max_extents:
                raise Reply(RESOURCEEXHAUSTED, "the device cannot track %d more extents"
                            % len(extents))
            self._check_list([(e.start, e.length) for e in extents])
            allocated = self._allocated()
            for ext in extents:
                if any(a.overlaps(ext.start, ext.length) for a in allocated):
                    raise Reply(EXTLIST, "%#x+%#x is already allocated or offered"
                                % (ext.start, ext.length))
        else:
            if tag != NO_TAG and tag in self.tags:
                raise Reply(INPUT, "tag %s already names an allocation" % tag.hex())
            extents = self._select(req.region_num, req.length, policy, tag)
        new_tags = {e.tag for e in extents if e.tag != NO_TAG and e.tag not in self.tags}
        if len(new_tags) > self.tags_available():
            raise Reply(RESOURCEEXHAUSTED, "no tag left for a new tagged allocation")
        for t in new_tags:
            self.tags[t] = TagState()
        if new_tags:
            self._tags_changed()
        self.offers.append(Offer(extents))
        self._post_extent_events(EVENT_ADD_CAPACITY, extents)
        return None

    def _select(self, region_num, length, policy, tag):
        if region_num >= len(self.regions):
            raise Reply(INPUT, "no DC region %d" % region_num)
        region = self.regions[region_num]
        if length == 0 or length % region.block_size:
            raise Reply(INPUT, "length %#x is not a non-zero multiple of the block size %#x"
                        % (length, region.block_size))
        runs = self._free_runs(region)
        if policy == POLICY_CONTIGUOUS:
            run = next(((s, n) for s, n in runs if n >= length), None)
            if run is None:
                raise Reply(RESOURCEEXHAUSTED, "no %#x bytes of contiguous free capacity in "
                            "region %d" % (length, region_num))
            chosen = [Extent(run[0], length, tag)]
        else:
            if sum(n for _, n in runs) < length:
                raise Reply(RESOURCEEXHAUSTED, "region %d has less than %#x bytes free"
                            % (region_num, length))
            chosen, need = [], length
            for start, n in runs:
                take = min(n, need)
                chosen.append(Extent(start, take, tag))
                need -= take
                if not need:
                    break
        if self._extents_in_use() + len(chosen) > self.max_extents:
            raise Reply(RESOURCEEXHAUSTED, "the device cannot track %d more extents" % len(chosen))
        return chosen

    def _add_shared(self, tag):
        """Enable shared access: offer a tag's retained capacity to the host again."""
        state = self._tag_state(tag)
        if not state.retained:
            raise Reply(INPUT, "tag %s has no capacity the host does not already hold"
                        % tag.hex())
        extents = state.retained
        if self._extents_in_use() + len(extents) > self.max_extents:
            raise Reply(RESOURCEEXHAUSTED, "the device cannot track %d more extents"
                        % len(extents))
        state.retained = []
        self.offers.append(Offer(extents, retained_from=tag))
        self._tags_changed()
        self._post_extent_events(EVENT_ADD_CAPACITY, extents)
        return None

    def cmd_fmapi_initiate_dc_release(self, req):
        self._check_host(req.host_id)
        policy = req.flags & REMOVAL_POLICY_MASK
        forced = bool(req.flags & FORCED_REMOVAL)
        if policy == REMOVAL_TAG_BASED:
            tag = bytes(req.tag)
            self._tag_state(tag)
            targets = [e for e in self.host_extents if e.tag == tag]
            if forced:
                targets += [e for e in self._pending_extents() if e.tag == tag]
            if not targets:
                raise Reply(INPUT, "the host holds no capacity with tag %s" % tag.hex())
        elif policy == REMOVAL_PRESCRIPTIVE:
            ranges = [(e.start_dpa, e.len) for e in req.extents]
            if not ranges:
                raise Reply(INPUT, "a prescriptive release needs an extent list")
            self._check_list(ranges)
            pending = self._pending_extents()
            if not forced and any(p.overlaps(s, n) for s, n in ranges for p in pending):
                raise Reply(PADDR, "part of the range is still pending an add response")
            holders = self.host_extents + (pending if forced else [])
            for start, length in ranges:
                if not _covered(holders, start, length):
                    raise Reply(PADDR, "%#x+%#x is not allocated to the host" % (start, length))
            targets = []
            for start, length in ranges:
                for ext in holders:
                    if ext.overlaps(start, length):
                        targets.append(ext.piece(max(ext.start, start),
                                                 min(ext.end, start + length)))
        else:
            raise Reply(INPUT, "removal policy %d is not supported" % policy)
        if not forced:
            self._post_extent_events(EVENT_RELEASE_CAPACITY, targets)
            return None
        # forced removal: the capacity is gone now, no host response is awaited
        removed = []
        for ext in targets:
            self.host_extents, gone = _subtract(self.host_extents, ext.start, ext.length)
            removed.extend(gone)
            for offer in list(self.offers):
                offer.extents, _ = _subtract(offer.extents, ext.start, ext.length)
                if not offer.extents:
                    self.offers.remove(offer)
        self._changed()
        self._post_extent_events(EVENT_FORCED_RELEASE, targets)
        self._give_back(removed)
        self._tags_changed()
        return None

    def cmd_fmapi_dc_add_reference(self, req):
        state = self._tag_state(req.tag)
        if state.fm_refs >= 0xFFFF:
            raise Reply(RESOURCEEXHAUSTED, "too many references")
        state.fm_refs += 1
        self._tags_changed()
        return None

    def cmd_fmapi_dc_remove_reference(self, req):
        state = self._tag_state(req.tag)
        if state.fm_refs == 0:
            raise Reply(INPUT, "the FM holds no reference to tag %s" % bytes(req.tag).hex())
        state.fm_refs -= 1
        self._tags_changed()
        self._gc_tags()
        return None

    def cmd_fmapi_dc_list_tags(self, req):
        tags = sorted(self.tags)
        total = len(tags)
        if req.start_idx > total:
            raise Reply(INPUT, "start index %d of %d tags" % (req.start_idx, total))
        room = ((1 << self.response_msg_limit) - 16 - 16) // 84
        chosen = tags[req.start_idx:req.start_idx + min(req.tags_count, max(room, 0))]
        held = {e.tag for e in self.host_extents}
        offered = {e.tag for e in self._pending_extents()}
        host = bytearray(HOST_ID // 8 + 1)      # a reference bitmap naming the one host
        host[HOST_ID // 8] = 1 << (HOST_ID % 8)
        return reply("fmapi_dc_list_tags", generation_num=self.tag_generation,
                     total_num_tags=total,
                     validity_bitmap=0x3,           # both reference bitmaps are valid
                     tags_list=[{"tag": tag,
                                 "flags": 1 if self.tags[tag].fm_refs else 0,
                                 "ref_bitmap": host if tag in held else b"",
                                 "pending_ref_bitmap": host if tag in offered else b""}
                                for tag in chosen])


def build(**options):
    """The ``emu:dcd`` profile: a DCD with two 1 GiB DC regions of 2 MiB blocks."""
    return DCD(**options)
