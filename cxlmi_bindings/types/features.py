# SPDX-License-Identifier: LGPL-2.1-or-later
"""The data of the RAS Features (Get Feature / Set Feature, 0501h-0502h): what a
device reports (the readable attributes) and what a host writes (the writable
attributes) for the Features with public layouts (CXL r3.2 8.2.10.7.2,
8.2.10.9.11): Device Patrol Scrub Control, DDR5 Error Check Scrub (ECS), soft
and hard Post Package Repair (sPPR, hPPR) and memory sparing at cache-line,
row, bank and rank granularity -- the layouts the kernel's EDAC driver
(drivers/cxl/core/edac.c) and QEMU's emulated Type 3 device use.

Each entry is ``name:`` then one field per line in wire order, exactly as in
:mod:`.generic` (a field, its type, then what the value means, :mod:`.meaning`).
:data:`FEATURES` names, per Feature, its UUID (``uuids.FEATURE``), its
readable and writable layouts and the Set Feature version those layouts are.

What a host may set follows from the writable layout alone: a plain field
(``scrub_cycle_hours``), each sub-field of a packed field (``threshold``) and
each named bit of a flags field (``enabled``).  The value written for a field
the host leaves alone is the one read from the readable field, or packed
sub-field, of the same name (read, modify, write, as the kernel does); every
other name the readable layout decodes is read-only.
"""

from .generic import MAINTENANCE_CLASS  # noqa: F401  (a table the layouts name)

# -- patrol scrub (r3.2 8.2.10.9.11.1) -------------------------------------------------
PATROL_SCRUB_CAPS = {"cycle-changeable": 0, "realtime-report": 1}
PATROL_SCRUB_CYCLE = [("scrub_cycle_hours", 0, 7, None), ("min_scrub_cycle_hours", 8, 15, None)]
PATROL_SCRUB_FLAGS = {"enabled": 0}

# -- DDR5 ECS (r3.2 8.2.10.9.11.2) -------------------------------------------------------
ECS_LOG_ENTRY_TYPE = {"per-dram": 0, "per-memory-media-fru": 1}
ECS_LOG_CAP = [("log_entry_type", 0, 1, "enum ECS_LOG_ENTRY_TYPE")]
ECS_CAPS = {"realtime-report": 0}
# the error count that sets a threshold; codes 0-2 and 6-7 are reserved
ECS_THRESHOLD = {"256": 3, "1024": 4, "4096": 5}
ECS_COUNT_MODE = {"rows": 0, "codewords": 1}
ECS_CONFIG = [("threshold", 0, 2, "enum ECS_THRESHOLD"),
              ("count_mode", 3, 3, "enum ECS_COUNT_MODE"),
              ("reset_counter", 4, 4, "bool")]

# -- maintenance Features: sPPR, hPPR, memory sparing (r3.2 8.2.10.7.2) ---------------
MAINT_OP_CAPS = {"device-initiated": 0}
MAINT_OP_MODE = {"device-initiated": 0}
PPR_FLAGS = {"dpa": 0, "nibble-mask": 1, "sparing-event-record": 2,
             "device-initiated-at-boot": 3}
# a bit set says the repair has that restriction
PPR_RESTRICTIONS = {"media-inaccessible-during-repair": 0, "data-lost-during-repair": 2}
PPR_OP_MODE = {"sparing-event-record": 0, "device-initiated-at-boot": 1}
SPARING_RESTRICTIONS = {"unsafe-when-in-use": 0, "hard-sparing": 1, "soft-sparing": 2}

# -- the Memory Sparing Event Record a maintenance operation posts (r3.2 8.2.10.2.1.4) --
MSER_FLAGS = {"query-resources": 0, "hard-sparing": 1, "device-initiated": 2}
MSER_VALID = {"channel": 0, "rank": 1, "nibble-mask": 2, "bank-group": 3, "bank": 4, "row": 5,
              "column": 6, "component-id": 7, "component-id-format": 8, "sub-channel": 9}

LAYOUTS = """
feat_patrol_scrub_rsp:
    scrub_cycle_cap u8                               flags PATROL_SCRUB_CAPS
    scrub_cycle u16                                  packed PATROL_SCRUB_CYCLE
    scrub_flags u8                                   flags PATROL_SCRUB_FLAGS
feat_patrol_scrub_req:
    scrub_cycle_hours u8
    scrub_flags u8                                   flags PATROL_SCRUB_FLAGS
feat_ecs_fru_rsp:
    ecs_cap u8                                       flags ECS_CAPS
    ecs_config u16                                   packed ECS_CONFIG
    ecs_flags u8                                     reserved
feat_ecs_rsp:
    ecs_log_cap u8                                   packed ECS_LOG_CAP
    fru_attrs feat_ecs_fru_rsp[]
feat_ecs_fru_req:
    ecs_config u16                                   packed ECS_CONFIG
feat_ecs_req:
    ecs_log_cap u8                                   packed ECS_LOG_CAP
    fru_attrs feat_ecs_fru_req[]
feat_ppr_rsp:
    max_maint_latency u8
    op_caps u16                                      flags MAINT_OP_CAPS
    op_mode u16                                      flags MAINT_OP_MODE
    maint_op_class u8                                enum MAINTENANCE_CLASS
    maint_op_subclass u8
    rsvd u8[9]                                       reserved
    ppr_flags u8                                     flags PPR_FLAGS
    restriction_flags u16                            flags PPR_RESTRICTIONS
    ppr_op_mode u8                                   flags PPR_OP_MODE
feat_ppr_req:
    op_mode u16                                      flags MAINT_OP_MODE
    ppr_op_mode u8                                   flags PPR_OP_MODE
feat_sparing_rsp:
    max_maint_latency u8
    op_caps u16                                      flags MAINT_OP_CAPS
    op_mode u16                                      flags MAINT_OP_MODE
    maint_op_class u8                                enum MAINTENANCE_CLASS
    maint_op_subclass u8
    rsvd u8[10]                                      reserved
    restriction_flags u16                            flags SPARING_RESTRICTIONS
feat_sparing_req:
    op_mode u16                                      flags MAINT_OP_MODE
mem_sparing_event_data:
    maint_op_class u8                                enum MAINTENANCE_CLASS
    maint_op_subclass u8
    flags u8                                         flags MSER_FLAGS
    result u8
    validity_flags u16                               flags MSER_VALID
    rsvd1 u8[6]                                      reserved
    res_avail u16
    channel u8
    rank u8
    nibble_mask u8[3]                                le-int
    bank_group u8
    bank u8
    row u8[3]                                        le-int
    column u16
    component_id u8[16]
    sub_channel u8
    rsvd2 u8[37]                                     reserved
"""


class FeatureLayout:
    """One Feature's data: UUID name, readable and writable layouts, the Set
    Feature version they are, and the readable field a written one may not go below."""

    def __init__(self, name, read, write, version, summary, minimum=None, per_fru=False):
        self.name = name
        self.read = read
        self.write = write
        self.version = version
        self.summary = summary
        self.minimum = dict(minimum or {})      # written field -> readable lower bound
        self.per_fru = per_fru                  # the data repeats per media FRU

    @property
    def read_cls(self):
        from . import get
        return get(self.read)

    @property
    def write_cls(self):
        from . import get
        return get(self.write)


def _sparing(granularity):
    return FeatureLayout("%s-sparing" % granularity, "feat_sparing_rsp", "feat_sparing_req", 1,
                         "Memory sparing, %s granularity (r3.2 8.2.10.7.2.3)" % granularity)


#: Feature name (a key of uuids.FEATURE) -> its layouts, in the order devices list them
FEATURES = {f.name: f for f in (
    FeatureLayout("patrol-scrub", "feat_patrol_scrub_rsp", "feat_patrol_scrub_req", 1,
                  "Device Patrol Scrub Control (r3.2 8.2.10.9.11.1)",
                  minimum={"scrub_cycle_hours": "min_scrub_cycle_hours"}),
    FeatureLayout("ecs", "feat_ecs_rsp", "feat_ecs_req", 1,
                  "DDR5 Error Check Scrub control, per media FRU (r3.2 8.2.10.9.11.2)",
                  per_fru=True),
    FeatureLayout("sppr", "feat_ppr_rsp", "feat_ppr_req", 3,
                  "Soft Post Package Repair (r3.2 8.2.10.7.2.1)"),
    FeatureLayout("hppr", "feat_ppr_rsp", "feat_ppr_req", 3,
                  "Hard Post Package Repair (r3.2 8.2.10.7.2.2)"),
    _sparing("cacheline"), _sparing("row"), _sparing("bank"), _sparing("rank"),
)}


# -- what may be set, and the data Set Feature writes ---------------------------------

class Setting:
    """One value a host may set: a plain field, a packed sub-field or a flag bit of
    the writable layout (``per_fru``: inside each media FRU's element)."""

    def __init__(self, name, field, width, low=0, what=None, per_fru=False, flag=False):
        self.name = name
        self.field = field          # the writable layout's field it lives in
        self.width = width          # bits it takes
        self.low = low              # its lowest bit within the field
        self.what = what            # its meaning (an enumeration, a boolean) or None
        self.per_fru = per_fru
        self.flag = flag

    def choices(self):
        """What a value may be, in words (for messages)."""
        from .meaning import Boolean, Enum
        if self.flag or isinstance(self.what, Boolean):
            return "yes or no"
        if isinstance(self.what, Enum):
            return ", ".join(self.what.names.values())
        return "0..%d" % ((1 << self.width) - 1)

    def value(self, given):
        """``given`` (text, number or bool) as the number written; ValueError naming
        the values it may take when it is out of range."""
        from .meaning import Boolean, Enum
        if self.flag or isinstance(self.what, Boolean):
            if isinstance(given, bool):
                return int(given)
            words = {"yes": 1, "true": 1, "on": 1, "1": 1, "no": 0, "false": 0, "off": 0,
                     "0": 0}
            if isinstance(given, int) and given in (0, 1):
                return given
            if isinstance(given, str) and given.strip().lower() in words:
                return words[given.strip().lower()]
            raise ValueError("%s takes yes or no, not %r" % (self.name, given))
        if isinstance(self.what, Enum):
            text = str(given).strip()
            if text in self.what.table:
                return self.what.table[text]
            raise ValueError("%s takes %s, not %r" % (self.name, self.choices(), given))
        try:
            number = given if isinstance(given, int) else int(str(given).strip(), 0)
        except ValueError:
            raise ValueError("%s takes a number (%s), not %r" % (self.name, self.choices(),
                                                                 given))
        if not 0 <= number < 1 << self.width:
            raise ValueError("%s %d is out of range: it takes %s" % (self.name, number,
                                                                     self.choices()))
        return number

    def put(self, old, number):
        """The field's value ``old`` with this setting's bits replaced by ``number``."""
        mask = ((1 << self.width) - 1) << self.low
        return (old & ~mask) | (number << self.low)


def _ctype_bits(ctype):
    import ctypes
    return 8 * ctypes.sizeof(ctype)


def _element(cls):
    """(flexible tail field, its element class) or (None, None)."""
    flex = cls._flex_
    if flex is None:
        return None, None
    return flex


def settings(feature):
    """The values a host may set for ``feature`` (a :class:`FeatureLayout`), by name."""
    from .meaning import Flags, Packed
    out = {}

    def walk(cls, per_fru):
        tail, elem = _element(cls)
        for name, ctype in cls._fields_:
            if name == tail:
                walk(elem, True)
                continue
            what = cls.meaning(name)
            if isinstance(what, Packed):
                for part, low, high, sub in what.parts:
                    out[part] = Setting(part, name, high - low + 1, low, sub, per_fru)
            elif isinstance(what, Flags):
                for bit, flag in what.bits:
                    key = flag.replace("-", "_")
                    out[key] = Setting(key, name, 1, bit, None, per_fru, flag=True)
            else:
                out[name] = Setting(name, name, _ctype_bits(ctype), 0, what, per_fru)
    walk(feature.write_cls, False)
    return out


def readable_names(feature):
    """Every name the readable layout decodes: fields, packed sub-fields, flag bits."""
    from .meaning import Flags, Packed
    names = set()

    def walk(cls):
        tail, elem = _element(cls)
        for name, _ in cls._fields_:
            if name == tail:
                walk(elem)
                continue
            if cls.is_reserved(name):
                continue
            names.add(name)
            what = cls.meaning(name)
            if isinstance(what, Packed):
                names.update(part[0] for part in what.parts)
            elif isinstance(what, Flags):
                names.update(flag.replace("-", "_") for _, flag in what.bits)
    walk(feature.read_cls)
    return names


def decode(feature, data):
    """The readable attributes in ``data`` as a structure (the per-FRU tail sized
    from the bytes)."""
    import ctypes
    cls = feature.read_cls
    data = bytes(data)
    fixed = cls.fixed_size()
    if len(data) < fixed:
        raise ValueError("%s: %d bytes of feature data, its readable attributes take at "
                         "least %d" % (feature.name, len(data), fixed))
    tail, elem = _element(cls)
    if tail is not None:
        cls = cls.sized((len(data) - fixed) // ctypes.sizeof(elem))
    return cls.from_buffer_copy(data[:ctypes.sizeof(cls)].ljust(ctypes.sizeof(cls), b"\0"))


def current_value(read, name):
    """The readable value of writable field ``name``: the field of that name, or the
    packed sub-field of that name."""
    from .meaning import Packed, as_int
    from . import _all_fields
    fields = dict(_all_fields(type(read)))
    if name in fields:
        return as_int(getattr(read, name))
    for field in fields:
        what = type(read).meaning(field)
        if isinstance(what, Packed):
            for part, low, high, _ in what.parts:
                if part == name:
                    return (as_int(getattr(read, field)) >> low) & ((1 << (high - low + 1)) - 1)
    raise KeyError(name)


def write_data(feature, read_data, changes, fru=None):
    """The bytes Set Feature writes: the current readable attributes ``read_data``
    carried over, with ``changes`` (setting name -> number, see
    :meth:`Setting.value`) applied -- to every media FRU, or only to ``fru``."""
    import ctypes
    from . import _all_fields
    read = decode(feature, read_data)
    cls = feature.write_cls
    tail, elem = _element(cls)
    frus = []
    if tail is not None:
        frus = list(getattr(read, _element(type(read))[0]))
        cls = cls.sized(len(frus))
    out = cls()
    for name, _ in _all_fields(cls):
        if name != tail and not cls.is_reserved(name):
            setattr(out, name, current_value(read, name))
    for i, fru_read in enumerate(frus):
        target = getattr(out, tail)[i]
        for name, _ in elem._fields_:
            if not elem.is_reserved(name):
                setattr(target, name, current_value(fru_read, name))
    every = settings(feature)
    for name, number in changes.items():
        setting = every[name]
        if setting.per_fru:
            for i in range(len(frus)):
                if fru is None or fru == i:
                    target = getattr(out, tail)[i]
                    setattr(target, setting.field,
                            setting.put(getattr(target, setting.field), number))
        else:
            setattr(out, setting.field, setting.put(getattr(out, setting.field), number))
    return bytes(out)[:ctypes.sizeof(cls)]
