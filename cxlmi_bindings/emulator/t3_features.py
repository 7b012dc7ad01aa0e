# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 Features (05xxh): the Feature model, Device Patrol Scrub Control,
and Get Supported Features / Get Feature / Set Feature.

A :class:`Feature` has current, default and saved values; Set Feature writes
it whole or in parts (initiate / continue / finish, one transfer at a time).

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


class PatrolScrub(Feature):
    """Device Patrol Scrub Control (CXL r3.1 8.2.9.9.11.1).

    Readable: capabilities (bit 0 scrub cycle changeable, bit 1 real-time
    report), scrub cycle (bits 7:0 current hours, 15:8 minimum hours),
    flags (bit 0 enabled).  Writable: scrub cycle hours, flags.
    """

    uuid = PATROL_SCRUB_UUID
    get_version = set_version = 1
    attributes = FEAT_CHANGEABLE | FEAT_PERSIST_COLD_RESET | FEAT_DEFAULT_SELECTION \
        | FEAT_SAVED_SELECTION
    # Set Feature's effects, as the CEL names them: an immediate configuration change
    # (and bits 11:10 valid, none of them set)
    set_effects = (1 << CEL_EFFECTS["immediate-config-change"]) \
        | (1 << CEL_EFFECTS["effects-11-10-valid"])
    read_size = 4
    write_size = 2
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


class FeaturesMixin:
    """The Features command set (05xxh)."""

    def _feature(self, uuid):
        for feature in self.features:
            if feature.uuid == bytes(uuid):
                return feature
        return None

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
