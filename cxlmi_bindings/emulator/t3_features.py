# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 Features (05xxh): the Feature model, the RAS Features (Device Patrol
Scrub Control, DDR5 ECS, soft and hard Post Package Repair, memory sparing at
four granularities) and Get Supported Features / Get Feature / Set Feature.

A :class:`Feature` has current, default and saved values; Set Feature writes
it whole or in parts (initiate / continue / finish, one transfer at a time).
Each RAS Feature takes its sizes and version from its layouts
(``types.features``) and refuses what the spec makes invalid (reserved bits,
reserved codes, a mode its capabilities lack) with Invalid Input.  Perform
Maintenance (0600h) consults the sPPR / hPPR Features (:meth:`FeaturesMixin.
ppr_feature`): a repair needs the Feature of its subclass, a nibble mask needs
its nibble-mask flag, and with the sparing-event-record mode set a finished
repair posts a Memory Sparing event record.

Uses from the class it is mixed into: ``features``, ``_feat_xfer`` (set up by
``Type3.__init__``; ``Type3.reset`` restores the saved values) and
``payload_max()``.
"""

import ctypes
import struct

from .device import (Reply, reply, INPUT, UNSUPPORTED, FEATUREVERSION, FEATURESELVALUE,
                     FEATURETRANSFERIP, FEATURETRANSFEROOO)
from .. import uuids as _uuids
from .t3_constants import uuid_bytes
from .. import types
from ..types.generic import (CEL_EFFECTS, FEATURE_ACTION, FEATURE_ATTRIBUTES, FEATURE_SELECTION,
                             RESET_PERSISTENCE, SET_FEATURE_FLAGS)
from ..types import features as _layouts


def _low_bit(parts, part):
    """Where a packed sub-field starts, as the layouts declare it."""
    for name, low, _, _ in parts:
        if name == part:
            return low
    raise KeyError(part)


# Features (CXL r3.1 8.2.9.9.11.1).
PATROL_SCRUB_UUID = uuid_bytes(_uuids.FEATURE["patrol-scrub"])

# Feature attributes, selections, Set Feature actions and flags.
FEAT_CHANGEABLE, FEAT_DEFAULT_SELECTION, FEAT_SAVED_SELECTION = (
    1 << _low_bit(FEATURE_ATTRIBUTES, name)
    for name in ("changeable", "default_selection", "saved_selection"))
FEAT_PERSIST_COLD_RESET = RESET_PERSISTENCE["cold-reset"] << _low_bit(
    FEATURE_ATTRIBUTES, "deepest_reset_persistence")
FEAT_SEL_CURRENT, FEAT_SEL_DEFAULT, FEAT_SEL_SAVED = (
    FEATURE_SELECTION[name] for name in ("current", "default", "saved"))
FEAT_FULL, FEAT_INITIATE, FEAT_CONTINUE, FEAT_FINISH, FEAT_ABORT = (
    FEATURE_ACTION[name] for name in ("full", "initiate", "continue", "finish", "abort"))
FEAT_SAVED_ACROSS_RESET = 1 << _low_bit(SET_FEATURE_FLAGS, "saved")
FEAT_CURRENT_TRANSFER = b"\xff" * 16      # "the feature being transferred"


class Feature:
    """A Feature with current / default / saved values and a write layout."""

    uuid = b""
    get_version = set_version = 1
    attributes = 0
    set_effects = 0
    read_size = write_size = 0

    def __init__(self):
        self.default = self.initial()
        self.saved = bytes(self.default)
        self.current = bytes(self.default)

    def initial(self):
        raise NotImplementedError

    def apply(self, value, data):
        """New readable value from the written ``data``; raise Reply to refuse."""
        raise NotImplementedError


class RasFeature(Feature):
    """A Feature whose data the layouts of ``types.features`` describe: its UUID,
    sizes and version come from them; changeable, with default and saved values
    that persist across a cold reset."""

    name = None
    attributes = FEAT_CHANGEABLE | FEAT_PERSIST_COLD_RESET | FEAT_DEFAULT_SELECTION \
        | FEAT_SAVED_SELECTION
    # Set Feature's effects, as the CEL names them: an immediate configuration change
    # (and bits 11:10 valid, none of them set)
    set_effects = (1 << CEL_EFFECTS["immediate-config-change"]) \
        | (1 << CEL_EFFECTS["effects-11-10-valid"])

    def __init__(self):
        layout = _layouts.FEATURES[self.name]
        self.uuid = uuid_bytes(_uuids.FEATURE[self.name])
        self.get_version = self.set_version = layout.version
        self.read_size = ctypes.sizeof(layout.read_cls)
        self.write_size = ctypes.sizeof(layout.write_cls)
        super().__init__()


class PatrolScrub(RasFeature):
    """Device Patrol Scrub Control (CXL r3.1 8.2.9.9.11.1).

    Readable: capabilities (bit 0 scrub cycle changeable, bit 1 real-time
    report), scrub cycle (bits 7:0 current hours, 15:8 minimum hours),
    flags (bit 0 enabled).  Writable: scrub cycle hours, flags.
    """

    name = "patrol-scrub"
    min_cycle_hours = 1

    def initial(self):
        return struct.pack("<BHB", 0x03, 12 | (self.min_cycle_hours << 8), 0)

    def apply(self, value, data):
        cycle, flags = data[0], data[1]
        if cycle < self.min_cycle_hours:
            raise Reply(INPUT, "scrub cycle %d h is below the minimum of %d h"
                        % (cycle, self.min_cycle_hours))
        if flags & ~1:
            raise Reply(INPUT, "reserved patrol scrub flags %#x" % flags)
        caps, _, _ = struct.unpack("<BHB", value)
        return struct.pack("<BHB", caps, cycle | (self.min_cycle_hours << 8), flags & 1)


class Ecs(RasFeature):
    """DDR5 Error Check Scrub control (CXL r3.2 8.2.10.9.11.2), for ``frus`` media
    FRUs (three, as QEMU has).

    Readable: the ECS log capability (bits 1:0 log entry type), then per FRU its
    capabilities (bit 0 real-time report), its configuration (bits 2:0 the
    threshold code 3/4/5 = 256/1024/4096 errors, bit 3 counting codewords
    instead of rows, bit 4 reset the counter) and a reserved byte.  Writable:
    the log capability, then each FRU's configuration.  Resetting a FRU's
    counter zeroes ``error_counts[fru]``; the bit never reads back as set.
    """

    name = "ecs"
    frus = 3

    def __init__(self):
        self.error_counts = [0] * self.frus
        super().__init__()
        self.read_size = 1 + 4 * self.frus
        self.write_size = 1 + 2 * self.frus

    def initial(self):
        per_memory_media_fru = 1
        threshold_256 = 3
        return bytes([per_memory_media_fru]) + struct.pack("<BHB", 1, threshold_256, 0) \
            * self.frus

    def apply(self, value, data):
        log_cap = data[0]
        if log_cap & ~0x3 or log_cap & 0x3 > 1:
            raise Reply(INPUT, "ECS log entry type %#x (0 per DRAM, 1 per media FRU)" % log_cap)
        out = bytearray(value)
        out[0] = log_cap
        for fru in range(self.frus):
            config = struct.unpack_from("<H", data, 1 + 2 * fru)[0]
            if config & ~0x1F:
                raise Reply(INPUT, "reserved ECS configuration bits %#x (FRU %d)"
                            % (config, fru))
            if config & 0x7 not in (3, 4, 5):
                raise Reply(INPUT, "ECS threshold code %d (FRU %d): 3, 4 or 5"
                            % (config & 0x7, fru))
            if config & 0x10:
                self.error_counts[fru] = 0
            struct.pack_into("<H", out, 1 + 4 * fru + 1, config & 0xF)
        return bytes(out)


class Maintenance(RasFeature):
    """A maintenance Feature (CXL r3.2 8.2.10.7.2): the readable header
    (maximum latency, operation capabilities and mode -- bit 0 device-initiated --,
    the maintenance class and subclass it configures) and the operation mode
    it writes; a mode bit its capabilities lack is Invalid Input."""

    op_class = op_subclass = 0
    op_caps = 0x1                   # device-initiated operation supported
    max_latency = 0x05

    def header(self):
        return struct.pack("<BHHBB", self.max_latency, self.op_caps, 0, self.op_class,
                           self.op_subclass) + bytes(9)

    def _op_mode(self, data):
        op_mode = struct.unpack_from("<H", data)[0]
        if op_mode & ~self.op_caps:
            raise Reply(INPUT, "operation mode %#x: the capabilities are %#x"
                        % (op_mode, self.op_caps))
        return op_mode


class Ppr(Maintenance):
    """Soft or hard Post Package Repair (CXL r3.2 8.2.10.7.2.1-2): after the header,
    the PPR flags (DPA, nibble mask and sparing-event-record supported; not
    device-initiated at boot), restriction flags (none: media accessible and data
    kept during a repair) and the PPR operation mode (bit 0 sparing event record,
    bit 1 device-initiated at boot), which is written after the operation mode."""

    op_class = 1
    ppr_flags = 0x07

    def initial(self):
        return self.header() + struct.pack("<BHB", self.ppr_flags, 0, 0)

    def apply(self, value, data):
        op_mode = self._op_mode(data)
        ppr_op_mode = data[2]
        supported = ((self.ppr_flags >> 2) & 1) | ((self.ppr_flags >> 3) & 1) << 1
        if ppr_op_mode & ~supported:
            raise Reply(INPUT, "PPR operation mode %#x: the device supports %#x"
                        % (ppr_op_mode, supported))
        out = bytearray(value)
        struct.pack_into("<H", out, 3, op_mode)
        out[19] = ppr_op_mode
        return bytes(out)

    @property
    def sparing_event_record(self):
        return bool(self.current[19] & 1)

    @property
    def nibble_mask_supported(self):
        return bool(self.current[16] & 0x2)


class SoftPpr(Ppr):
    name = "sppr"
    op_subclass = 0


class HardPpr(Ppr):
    name = "hppr"
    op_subclass = 1


class Sparing(Maintenance):
    """Memory sparing at one granularity (CXL r3.2 8.2.10.7.2.3): after the header,
    a reserved byte and the restriction flags (hard and soft sparing supported,
    safe while in use)."""

    op_class = 2
    restrictions = 0x6

    def initial(self):
        return self.header() + b"\0" + struct.pack("<H", self.restrictions)

    def apply(self, value, data):
        out = bytearray(value)
        struct.pack_into("<H", out, 3, self._op_mode(data))
        return bytes(out)


def _sparing(granularity, subclass):
    return type("%sSparing" % granularity.capitalize(), (Sparing,),
                {"name": "%s-sparing" % granularity, "op_subclass": subclass,
                 "__doc__": "Memory sparing, %s granularity." % granularity})


CachelineSparing, RowSparing, BankSparing, RankSparing = (
    _sparing(g, n) for n, g in enumerate(("cacheline", "row", "bank", "rank")))


def ras_features():
    """One of each RAS Feature, patrol scrub first (as a Type 3 device lists them)."""
    return [PatrolScrub(), Ecs(), SoftPpr(), HardPpr(), CachelineSparing(), RowSparing(),
            BankSparing(), RankSparing()]


class FeaturesMixin:
    """The Features command set (05xxh)."""

    def _feature(self, uuid):
        for feature in self.features:
            if feature.uuid == bytes(uuid):
                return feature
        return None

    def ppr_feature(self, subclass, nibble_mask):
        """The sPPR (0) / hPPR (1) Feature a post package repair follows; Reply
        UNSUPPORTED without it, INPUT for a nibble mask it does not take."""
        name = {0: "sppr", 1: "hppr"}.get(subclass)
        feature = self._feature(uuid_bytes(_uuids.FEATURE[name])) if name else None
        if feature is None:
            raise Reply(UNSUPPORTED, "no %s Feature for post package repair subclass %d"
                        % (name or "PPR", subclass))
        if nibble_mask and not feature.nibble_mask_supported:
            raise Reply(INPUT, "the %s Feature takes no nibble mask" % name)
        return feature

    def ppr_done(self, feature, dpa, nibble_mask):
        """After a repair: a Memory Sparing event record when the Feature's operation
        mode asks for one (maintenance class and subclass in the header; the
        record's own class, subclass, flags, result, validity -- bit 2, nibble
        mask valid -- and nibble mask)."""
        if not feature.sparing_event_record:
            return
        from .t3_constants import EVENT_LOG_INFO
        body = struct.pack("<BBBBH6sHBB", feature.op_class, feature.op_subclass, 0, 0,
                           0x4 if nibble_mask else 0, bytes(6), 0, 0, 0) \
            + nibble_mask.to_bytes(3, "little")
        self.add_event(EVENT_LOG_INFO, uuid_bytes(_uuids.EVENT_RECORD["memory-sparing"]),
                       body, maint_class=feature.op_class, maint_subclass=feature.op_subclass)

    def cmd_get_supported_features(self, req):
        total = len(self.features)
        if req.count < 8 or req.starting_feature_index >= total:
            raise Reply(INPUT, "count %d, start index %d of %d features"
                        % (req.count, req.starting_feature_index, total))
        cls = types.get("cmd_get_supported_features_rsp")
        entry_size = ctypes.sizeof(types.get("supported_feature_entry"))
        room = (min(req.count, self.payload_max()) - cls.fixed_size()) // entry_size
        chosen = list(enumerate(self.features))[req.starting_feature_index:][:max(0, room)]
        return reply("get_supported_features", device_supported_features=total,
                     supported_feature_entries=[{
                         "feature_id": feature.uuid,
                         "feature_index": index,
                         "get_feature_size": feature.read_size,
                         "set_feature_size": feature.write_size,
                         "attribute_flags": feature.attributes,
                         "get_feature_version": feature.get_version,
                         "set_feature_version": feature.set_version,
                         "set_feature_effects": feature.set_effects,
                     } for index, feature in chosen])

    def cmd_get_feature(self, req):
        feature = self._feature(req.feature_id)
        if feature is None:
            raise Reply(UNSUPPORTED, "no such feature")
        if req.selection == FEAT_SEL_CURRENT:
            value = feature.current
        elif req.selection == FEAT_SEL_DEFAULT and feature.attributes & FEAT_DEFAULT_SELECTION:
            value = feature.default
        elif req.selection == FEAT_SEL_SAVED and feature.attributes & FEAT_SAVED_SELECTION:
            value = feature.saved
        else:
            raise Reply(FEATURESELVALUE, "selection %d not supported" % req.selection)
        if req.offset >= len(value):
            raise Reply(INPUT, "offset %d is beyond the %d-byte feature"
                        % (req.offset, len(value)))
        return value[req.offset:req.offset + min(req.count, self.payload_max())]

    def cmd_set_feature(self, req):
        data = bytes(req.feature_data)
        action = req.set_feature_flags & 0x7
        xfer = self._feat_xfer
        uuid = bytes(req.feature_id)
        if uuid == FEAT_CURRENT_TRANSFER and xfer is not None:
            uuid = xfer["uuid"]
        feature = self._feature(uuid)
        if feature is None:
            raise Reply(UNSUPPORTED, "no such feature")
        if not feature.attributes & FEAT_CHANGEABLE:
            raise Reply(UNSUPPORTED, "this feature cannot be changed")
        if action > FEAT_ABORT:
            raise Reply(INPUT, "reserved set feature action %d" % action)
        if action == FEAT_ABORT:
            if xfer is None or xfer["uuid"] != uuid:
                raise Reply(INPUT, "no transfer of this feature to abort")
            self._feat_xfer = None
            return None
        if req.version != feature.set_version:
            raise Reply(FEATUREVERSION, "version %d, the feature takes version %d"
                        % (req.version, feature.set_version))
        if action in (FEAT_FULL, FEAT_INITIATE):
            if xfer is not None:
                raise Reply(FEATURETRANSFERIP, "another feature transfer is in progress")
            offset = 0 if action == FEAT_FULL else req.offset
            if offset or len(data) > feature.write_size:
                raise Reply(INPUT, "%d bytes at offset %d do not fit the %d-byte feature"
                            % (len(data), offset, feature.write_size))
            if action == FEAT_FULL:
                return self._feature_apply(feature, data, req.set_feature_flags)
            self._feat_xfer = {"uuid": uuid, "data": bytearray(data), "last": (0, len(data)),
                               "flags": req.set_feature_flags}
            return None
        # continue / finish
        if xfer is None:
            raise Reply(FEATURETRANSFEROOO, "no transfer was initiated")
        if xfer["uuid"] != uuid:
            raise Reply(FEATURETRANSFERIP, "another feature transfer is in progress")
        if req.offset + len(data) > feature.write_size:
            raise Reply(INPUT, "data runs past the %d-byte feature" % feature.write_size)
        if (req.offset, len(data)) != xfer["last"] and req.offset != len(xfer["data"]):
            raise Reply(FEATURETRANSFEROOO, "part at offset %d, expected %d"
                        % (req.offset, len(xfer["data"])))
        xfer["data"][req.offset:req.offset + len(data)] = data
        xfer["last"] = (req.offset, len(data))
        if action == FEAT_FINISH:
            self._feat_xfer = None
            return self._feature_apply(feature, bytes(xfer["data"]), xfer["flags"])
        return None

    def _feature_apply(self, feature, data, flags):
        if len(data) < feature.write_size:
            raise Reply(INPUT, "%d of the %d bytes of feature data"
                        % (len(data), feature.write_size))
        feature.current = feature.apply(feature.current, data)
        if flags & FEAT_SAVED_ACROSS_RESET and feature.attributes & FEAT_SAVED_SELECTION:
            feature.saved = feature.current
        return None
