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

from .device import (Reply, reply, INPUT, UNSUPPORTED, FEATUREVERSION, FEATURESELVALUE,
                     FEATURETRANSFERIP, FEATURETRANSFEROOO)
from .. import uuids as _uuids
from .t3_constants import uuid_bytes
from .. import codec, types
from ..types.generic import (CEL_EFFECTS, FEATURE_ACTION, FEATURE_ATTRIBUTES, FEATURE_SELECTION,
                             MAINTENANCE_CLASS, PPR_SUBCLASS, RESET_PERSISTENCE,
                             SET_FEATURE_FLAGS, SPARING_SUBCLASS)
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
    sizes and version come from them, and its values are built and read through
    them (``rsp`` / ``req``: the readable and writable structures); changeable,
    with default and saved values that persist across a cold reset."""

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
        self.read_size = ctypes.sizeof(self.rsp)
        self.write_size = ctypes.sizeof(self.req)
        super().__init__()

    # The structures are looked up, not kept: a state file holds data, not classes.
    @property
    def rsp(self):
        return _layouts.FEATURES[self.name].read_cls

    @property
    def req(self):
        return _layouts.FEATURES[self.name].write_cls

    def readable(self, value=None):
        """The readable attributes (``current`` unless ``value``) as their structure."""
        return self.rsp.from_buffer_copy(self.current if value is None else value)

    def meaning(self, field):
        return self.rsp.meaning(field)

    def _no_reserved_bits(self, req, field, what):
        bits = getattr(req, field)
        extra = bits & ~self.req.meaning(field).known()
        if extra:
            raise Reply(INPUT, "reserved %s bits %#x" % (what, extra))
        return bits


class PatrolScrub(RasFeature):
    """Device Patrol Scrub Control (CXL r3.1 8.2.9.9.11.1): the scrub cycle (hours,
    not below the device's minimum) and whether scrubbing is enabled."""

    name = "patrol-scrub"
    min_cycle_hours = 1

    def initial(self):
        cycle = self.meaning("scrub_cycle").encode(scrub_cycle_hours=12,
                                                   min_scrub_cycle_hours=self.min_cycle_hours)
        return bytes(self.rsp(scrub_cycle_cap=self.meaning("scrub_cycle_cap").known(),
                              scrub_cycle=cycle, scrub_flags=0))

    def apply(self, value, data):
        req = self.req.from_buffer_copy(data)
        if req.scrub_cycle_hours < self.min_cycle_hours:
            raise Reply(INPUT, "scrub cycle %d h is below the minimum of %d h"
                        % (req.scrub_cycle_hours, self.min_cycle_hours))
        flags = self._no_reserved_bits(req, "scrub_flags", "patrol scrub flags")
        cur = self.readable(value)
        cur.scrub_cycle = self.meaning("scrub_cycle").encode(
            cur.scrub_cycle, scrub_cycle_hours=req.scrub_cycle_hours)
        cur.scrub_flags = flags
        return bytes(cur)


class Ecs(RasFeature):
    """DDR5 Error Check Scrub control (CXL r3.2 8.2.10.9.11.2), for ``frus`` media
    FRUs (three, as QEMU has): the log entry type, then per FRU its threshold
    (256, 1024 or 4096 errors), whether it counts codewords or rows, and a
    reset-counter bit that zeroes ``error_counts[fru]`` and never reads back set."""

    name = "ecs"
    frus = 3

    def __init__(self):
        self.error_counts = [0] * self.frus
        super().__init__()

    @property
    def rsp(self):
        return _layouts.FEATURES[self.name].read_cls.sized(self.frus)

    @property
    def req(self):
        return _layouts.FEATURES[self.name].write_cls.sized(self.frus)

    @staticmethod
    def _config():
        return types.get("feat_ecs_fru_rsp").meaning("ecs_config")

    def initial(self):
        log_cap = self.meaning("ecs_log_cap").encode(
            log_entry_type=_layouts.ECS_LOG_ENTRY_TYPE["per-memory-media-fru"])
        config = self._config().encode(threshold=_layouts.ECS_THRESHOLD["256"])
        realtime = types.get("feat_ecs_fru_rsp").meaning("ecs_cap").mask("realtime-report")
        return bytes(codec.build(self.rsp, {"ecs_log_cap": log_cap, "fru_attrs": [
            {"ecs_cap": realtime, "ecs_config": config}] * self.frus}))

    def apply(self, value, data):
        req = self.req.from_buffer_copy(data)
        log_cap = self.meaning("ecs_log_cap")
        entry_type = log_cap.get(req.ecs_log_cap, "log_entry_type")
        if req.ecs_log_cap != log_cap.encode(log_entry_type=entry_type) or \
                entry_type not in _layouts.ECS_LOG_ENTRY_TYPE.values():
            raise Reply(INPUT, "ECS log entry type %#x (0 per DRAM, 1 per media FRU)"
                        % req.ecs_log_cap)
        cur = self.readable(value)
        cur.ecs_log_cap = req.ecs_log_cap
        config = self._config()
        known = config.encode(threshold=7, count_mode=1, reset_counter=1)
        for fru in range(self.frus):
            written = req.fru_attrs[fru].ecs_config
            if written & ~known:
                raise Reply(INPUT, "reserved ECS configuration bits %#x (FRU %d)"
                            % (written, fru))
            if config.get(written, "threshold") not in _layouts.ECS_THRESHOLD.values():
                raise Reply(INPUT, "ECS threshold code %d (FRU %d): 3, 4 or 5"
                            % (config.get(written, "threshold"), fru))
            if config.get(written, "reset_counter"):
                self.error_counts[fru] = 0
            cur.fru_attrs[fru].ecs_config = config.encode(written, reset_counter=0)
        return bytes(cur)


class Maintenance(RasFeature):
    """A maintenance Feature (CXL r3.2 8.2.10.7.2): the readable header (maximum
    latency, operation capabilities and mode -- device-initiated --, the
    maintenance class and subclass it configures) and the operation mode it
    writes; a mode bit its capabilities lack is Invalid Input."""

    op_class = op_subclass = 0
    op_caps = ("device-initiated",)
    max_latency = 0x05

    def header(self):
        return {"max_maint_latency": self.max_latency,
                "op_caps": self.meaning("op_caps").mask(*self.op_caps), "op_mode": 0,
                "maint_op_class": self.op_class, "maint_op_subclass": self.op_subclass}

    def _op_mode(self, req, cur):
        if req.op_mode & ~cur.op_caps:
            raise Reply(INPUT, "operation mode %#x: the capabilities are %#x"
                        % (req.op_mode, cur.op_caps))
        cur.op_mode = req.op_mode


class Ppr(Maintenance):
    """Soft or hard Post Package Repair (CXL r3.2 8.2.10.7.2.1-2): the PPR flags
    (DPA, nibble mask and sparing-event-record supported; not device-initiated
    at boot), no restrictions (media accessible and data kept during a repair)
    and the PPR operation mode, written after the operation mode."""

    op_class = MAINTENANCE_CLASS["ppr"]
    ppr_flags = ("dpa", "nibble-mask", "sparing-event-record")

    def initial(self):
        return bytes(self.rsp(ppr_flags=self.meaning("ppr_flags").mask(*self.ppr_flags),
                              restriction_flags=0, ppr_op_mode=0, **self.header()))

    def apply(self, value, data):
        req, cur = self.req.from_buffer_copy(data), self.readable(value)
        self._op_mode(req, cur)
        # an operation mode bit needs the PPR flag of the same name
        flags = self.meaning("ppr_flags").decode(cur.ppr_flags)
        supported = self.meaning("ppr_op_mode").mask(
            *(name for name in _layouts.PPR_OP_MODE if name in flags))
        if req.ppr_op_mode & ~supported:
            raise Reply(INPUT, "PPR operation mode %#x: the device supports %#x"
                        % (req.ppr_op_mode, supported))
        cur.ppr_op_mode = req.ppr_op_mode
        return bytes(cur)

    @property
    def sparing_event_record(self):
        return "sparing-event-record" in self.meaning("ppr_op_mode").decode(
            self.readable().ppr_op_mode)

    @property
    def nibble_mask_supported(self):
        return "nibble-mask" in self.meaning("ppr_flags").decode(self.readable().ppr_flags)


class SoftPpr(Ppr):
    name = "sppr"
    op_subclass = PPR_SUBCLASS["soft"]


class HardPpr(Ppr):
    name = "hppr"
    op_subclass = PPR_SUBCLASS["hard"]


class Sparing(Maintenance):
    """Memory sparing at one granularity (CXL r3.2 8.2.10.7.2.3): after the header,
    the restriction flags (hard and soft sparing supported, safe while in use)."""

    op_class = MAINTENANCE_CLASS["memory-sparing"]
    restrictions = ("hard-sparing", "soft-sparing")

    def initial(self):
        return bytes(self.rsp(restriction_flags=self.meaning("restriction_flags").mask(
            *self.restrictions), **self.header()))

    def apply(self, value, data):
        req, cur = self.req.from_buffer_copy(data), self.readable(value)
        self._op_mode(req, cur)
        return bytes(cur)

    def allows(self, restriction):
        return restriction in self.meaning("restriction_flags").decode(
            self.readable().restriction_flags)


def _sparing(granularity):
    return type("%sSparing" % granularity.capitalize(), (Sparing,),
                {"name": "%s-sparing" % granularity,
                 "op_subclass": SPARING_SUBCLASS[granularity],
                 "__doc__": "Memory sparing, %s granularity." % granularity})


CachelineSparing, RowSparing, BankSparing, RankSparing = (
    _sparing(g) for g in ("cacheline", "row", "bank", "rank"))


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

    def sparing_feature(self, subclass):
        """The memory sparing Feature of granularity ``subclass``; Reply UNSUPPORTED
        without it."""
        for feature in self.features:
            if isinstance(feature, Sparing) and feature.op_subclass == subclass:
                return feature
        raise Reply(UNSUPPORTED, "no memory sparing Feature for subclass %d" % subclass)

    def ppr_done(self, feature, dpa, nibble_mask):
        """After a repair: a Memory Sparing event record when the Feature's operation
        mode asks for one (its nibble mask, when one was given)."""
        if feature.sparing_event_record:
            self.maintenance_event(feature, nibble_mask=nibble_mask if nibble_mask else None)

    def maintenance_event(self, feature, flags=(), res_avail=0, **where):
        """Post a Memory Sparing Event Record for a maintenance operation of
        ``feature``'s class and subclass: ``flags`` (names of MSER_FLAGS), the
        resources still available, and where it acted (``channel``, ``rank``,
        ``nibble_mask``, ``bank_group``, ``bank``, ``row``, ``column``,
        ``sub_channel``: each one given is marked valid)."""
        from .t3_constants import EVENT_LOG_INFO
        cls = types.get("mem_sparing_event_data")
        given = {k: v for k, v in where.items() if v is not None}
        data = cls(maint_op_class=feature.op_class, maint_op_subclass=feature.op_subclass,
                   flags=cls.meaning("flags").mask(*flags), result=0, res_avail=res_avail,
                   validity_flags=cls.meaning("validity_flags").mask(
                       *(k.replace("_", "-") for k in given)))
        for name, value in given.items():
            if name in ("nibble_mask", "row"):
                value = value.to_bytes(3, "little")
            setattr(data, name, value)
        self.add_event(EVENT_LOG_INFO, uuid_bytes(_uuids.EVENT_RECORD["memory-sparing"]),
                       bytes(data), maint_class=feature.op_class,
                       maint_subclass=feature.op_subclass)

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
