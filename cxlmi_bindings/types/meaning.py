# SPDX-License-Identifier: LGPL-2.1-or-later
"""What a field's value means: the vocabulary of the layout declarations.

A field line in ``types/generic.py``, ``memdev.py`` or ``fmapi.py`` may end
in a meaning, words after its type::

    media_status u8              enum MEDIA_STATUS
    health_status u8             flags HEALTH_STATUS
    device_temperature u16       celsius
    regions_returned u8          count-of region_configs
    rsvd u8[3]                   reserved

Upper-case words name a table in the layout's own module (an enumeration is
``name -> value``, several names may share a value and the first one is what
output shows; flags are ``name -> bit``; packed sub-fields are a list of
``(name, low bit, high bit, meaning words or None)``; UUIDs are
``name -> UUID text``).  :func:`parse` turns the words into one of the
classes below; each knows

* ``decode(value)`` -- the value as data (a name, names, a number in a base
  unit, ``None`` when the spec says "not implemented"), what the JSON output
  puts beside the raw value;
* ``suffix`` -- the key that data goes under: ``<field>_decoded``,
  ``<field>_bytes``, or nothing (``None``: a meaning only tables show);
* ``text(value)`` -- the words a table shows.

Parsing happens when a structure class is first built, so a command pays
only for the meanings of its own structures.
"""

import ctypes


def human_size(n):
    """``268435456`` -> ``256 MiB``; exact where it can be, else 2 decimals."""
    if n is None:
        return "-"
    for shift, unit in ((50, "PiB"), (40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")):
        if n >= 1 << shift:
            value = n / float(1 << shift)
            if n % (1 << shift) == 0:
                return "%d %s" % (n >> shift, unit)
            return "%.2f %s" % (value, unit)
    return "%d B" % n


def canonical(table):
    """value -> first (canonical) name of an enumeration table."""
    out = {}
    for name, value in table.items():
        out.setdefault(value, name)
    return out


def uuid_bytes(table):
    """name -> 16 wire bytes (RFC 4122 order, as the CXL spec writes UUIDs)."""
    from ..uuids import wire
    return {name: wire(text) for name, text in table.items()}


def uuid_names(table):
    """16 wire bytes -> name."""
    return {b: name for name, b in uuid_bytes(table).items()}


def int_range(bits, signed=False):
    """(lowest, highest) integer a field of ``bits`` bits holds."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def int_text(value):
    """An integer for a message; its width when it is too long to be worth printing
    (or, past 4300 digits, for Python to print at all)."""
    if value.bit_length() > 128:
        return "a %d-bit number" % value.bit_length()
    return "%d" % value


def as_int(value):
    """An integer from a number or a little-endian byte array."""
    if isinstance(value, (bytes, bytearray, ctypes.Array)):
        return int.from_bytes(bytes(value), "little")
    return value


class Meaning:
    """Base: a plain number that needs no words."""
    kind = None
    suffix = "_decoded"

    def decode(self, value):
        return value

    def text(self, value):
        decoded = self.decode(value)
        return "-" if decoded is None else str(decoded)

    def describe(self):
        """What the JSON key beside the field holds (docs/json-schema.md)."""
        return "number"


class Reserved(Meaning):
    """Reserved by the spec: zero on the wire, never shown."""
    kind = "reserved"
    suffix = None


class CountOf(Meaning):
    """Counts the valid elements of another field (a flexible tail, or a
    fixed array the reply fills only in part)."""
    kind = "count-of"
    suffix = None

    def __init__(self, field):
        self.field = field


class Enum(Meaning):
    kind = "enum"

    def describe(self):
        return "string: %s" % ", ".join(self.names.values())

    def __init__(self, table):
        self.table = table                  # name -> value, aliases allowed
        self.names = canonical(table)

    def decode(self, value):
        return self.names.get(value)

    def text(self, value):
        name = self.names.get(value)
        return name if name is not None else "0x%x (unknown)" % value


class Flags(Meaning):
    """A bitmask: the names of the bits set (unknown bits as ``bitN``)."""
    kind = "flags"

    def describe(self):
        return "list: %s" % ", ".join(name for _, name in self.bits)

    def __init__(self, table):
        self.table = table                  # name -> bit number
        self.bits = sorted((bit, name) for name, bit in table.items())

    def mask(self, *names):
        """The value with the named bits set."""
        return sum(1 << self.table[n] for n in names)

    def known(self):
        """Every bit the table names (the others are reserved)."""
        return sum(1 << bit for bit, _ in self.bits)

    def decode(self, value):
        value = as_int(value)
        out, known = [], 0
        for bit, name in self.bits:
            known |= 1 << bit
            if value & (1 << bit):
                out.append(name)
        rest = value & ~known
        bit = 0
        while rest:
            if rest & 1:
                out.append("bit%d" % bit)
            rest >>= 1
            bit += 1
        return out

    def text(self, value):
        names = self.decode(value)
        return ", ".join(names) if names else "none"


class Boolean(Meaning):
    """A one-bit sub-field: yes or no."""
    kind = "bool"

    def describe(self):
        return "true or false"

    def decode(self, value):
        return bool(value)


class Packed(Meaning):
    """Sub-fields of one value: ``parts`` is [(name, low bit, high bit, Meaning or None)]."""
    kind = "packed"

    def describe(self):
        return "object: %s" % ", ".join(part[0] for part in self.parts)

    def __init__(self, parts):
        self.parts = parts

    def part(self, name):
        for part in self.parts:
            if part[0] == name:
                return part
        raise KeyError(name)

    def get(self, value, name):
        """Sub-field ``name`` of ``value``, as a number."""
        _, low, high, _ = self.part(name)
        return (as_int(value) >> low) & ((1 << (high - low + 1)) - 1)

    def encode(self, value=0, **parts):
        """``value`` with the named sub-fields replaced (numbers; too wide is ValueError)."""
        value = as_int(value)
        for name, part in parts.items():
            _, low, high, _ = self.part(name)
            width = (1 << (high - low + 1)) - 1
            if not 0 <= part <= width:
                raise ValueError("%s %d does not fit bits %d-%d" % (name, part, low, high))
            value = (value & ~(width << low)) | (part << low)
        return value

    def decode(self, value):
        value = as_int(value)
        out = {}
        for name, low, high, meaning in self.parts:
            part = (value >> low) & ((1 << (high - low + 1)) - 1)
            out[name] = meaning.decode(part) if meaning is not None else part
        return out

    def text(self, value):
        return ", ".join("%s %s" % (name.replace("_", " "), _word(v))
                         for name, v in self.decode(value).items())


class Units(Meaning):
    """A count of ``unit``-byte units: the data is the same quantity in bytes."""
    kind = "units"
    suffix = "_bytes"

    def describe(self):
        return "number: value × %s" % ("%d bytes" % self.unit if self.unit < 1024
                                       else human_size(self.unit))

    def __init__(self, unit, gib=False):
        self.unit, self.gib = unit, gib

    def decode(self, value):
        return value * self.unit

    def text(self, value):
        n = value * self.unit
        if self.gib:
            return "%.2f GiB" % (n / float(1 << 30))
        return human_size(n)


class Bytes(Meaning):
    """Already a number of bytes (or a byte address): tables show a size."""
    kind = "bytes"
    suffix = None

    def text(self, value):
        return human_size(value) if value else "0"


class Hex(Meaning):
    """A number people read in hex (PCI ids, serial numbers)."""
    kind = "hex"
    suffix = None

    def __init__(self, digits=4):
        self.digits = digits

    def text(self, value):
        return "0x%0*x" % (self.digits, value)


class Log2Bytes(Meaning):
    """N meaning 2^N bytes."""
    kind = "log2-bytes"
    suffix = "_bytes"

    def describe(self):
        return "number: 2^value"

    def decode(self, value):
        return 1 << value if value < 64 else None

    def text(self, value):
        return "2^%d = %s" % (value, human_size(1 << value)) if value < 64 else str(value)


class Celsius(Meaning):
    """Signed 16-bit degrees Celsius; FFFFh means not implemented."""
    kind = "celsius"

    def describe(self):
        return "number: signed °C, null when FFFFh (not implemented)"

    def decode(self, value):
        if value == 0xFFFF:
            return None
        return value - 0x10000 if value & 0x8000 else value

    def text(self, value):
        decoded = self.decode(value)
        return "not implemented" if decoded is None else "%d °C" % decoded


class Percent(Meaning):
    """A percentage; ``unimplemented`` is the value meaning "not implemented"."""
    kind = "percent"

    def describe(self):
        if self.unimplemented is None:
            return "number: percent"
        return "number: percent, null when %02Xh (not implemented)" % self.unimplemented

    def __init__(self, unimplemented=None):
        self.unimplemented = unimplemented

    def decode(self, value):
        return None if value == self.unimplemented else value

    def text(self, value):
        decoded = self.decode(value)
        return "not implemented" if decoded is None else "%d %%" % decoded


class Milliseconds(Meaning):
    """A duration in milliseconds: its unit in tables (JSON keeps the number)."""
    kind = "milliseconds"
    suffix = None

    def text(self, value):
        value = as_int(value)
        return "%d ms" % value if value < 1000 else "%d ms (%.1f s)" % (value, value / 1000.0)


class Uuid(Meaning):
    """16 bytes of a UUID, named when ``table`` (name -> UUID text) knows it."""
    kind = "uuid"

    def describe(self):
        known = ", ".join(self.table) if self.table else None
        return "object: uuid, name" + (" (%s)" % known if known else "")

    def __init__(self, table=None):
        self.table = table
        self.names = uuid_names(table) if table else {}

    def decode(self, value):
        import uuid
        data = bytes(value)
        return {"uuid": str(uuid.UUID(bytes=data)), "name": self.names.get(data)}

    def text(self, value):
        decoded = self.decode(value)
        return "%s (%s)" % (decoded["name"], decoded["uuid"]) if decoded["name"] \
            else decoded["uuid"]


class Opcode(Meaning):
    """A command opcode: the registry's name for it."""
    kind = "opcode"

    def describe(self):
        return "string: registry command name"

    def decode(self, value):
        from .. import registry
        return registry.opcode_name(value)

    def text(self, value):
        return "%04Xh %s" % (value, self.decode(value))


class ReturnCode(Meaning):
    """A CXL return code: its ``CXLMI_RET_*`` name."""
    kind = "return-code"

    def describe(self):
        return "string: return code name"

    def decode(self, value):
        from ..errors import retcode_name
        return retcode_name(value)

    def text(self, value):
        return "%d %s" % (value, self.decode(value) or "")


class IdBitmap(Meaning):
    """A byte array used as a bitmask of ids (ports, VCSs, hosts): the ids set."""
    kind = "id-bitmap"

    def describe(self):
        return "list: numbers of the bits set (port, VCS, host or region ids)"

    def decode(self, value):
        if isinstance(value, int):      # a u8/u16 mask: bytes(3) would be three zero bytes
            value = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "little")
        data = bytes(value)
        return [i * 8 + bit for i, byte in enumerate(data) for bit in range(8)
                if byte >> bit & 1]

    def text(self, value):
        return _ranges(self.decode(value)) or "none"


class Timestamp(Meaning):
    """Nanoseconds since 1970-01-01 UTC; 0 means not set."""
    kind = "timestamp"

    def describe(self):
        return "string: ISO 8601 UTC, null when 0"

    def decode(self, value):
        if not value:
            return None
        import datetime
        when = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + \
            datetime.timedelta(microseconds=value // 1000)
        return when.isoformat().replace("+00:00", "Z")

    def text(self, value):
        return self.decode(value) or "not set"


class BlockSizes(Meaning):
    """Bit N set: blocks of 2^N bytes supported."""
    kind = "block-sizes"

    def describe(self):
        return "list: supported block sizes in bytes"

    def decode(self, value):
        return [1 << n for n in range(64) if value >> n & 1]

    def text(self, value):
        return ", ".join(human_size(v) for v in self.decode(value)) or "none"


class EventData(Meaning):
    """An event record's data: decoded by the layout its record's UUID names
    (``types.EVENT_DATA``), so it needs the record, not only the bytes."""
    kind = "event-data"
    in_record = True

    def describe(self):
        return ("object: the data decoded by the record's UUID (general media, dynamic "
                "capacity, memory sparing; their fields are listed below), null for others")

    def decode(self, value):
        return None                     # without its record the layout is unknown

    def decode_in(self, record, bytes_as=None):
        from . import event_data, to_dict
        data = event_data(record)
        return None if data is None else to_dict(data, True, bytes_as)

    def text(self, value):
        return "%d bytes" % len(bytes(value))


class LittleEndianInt(Meaning):
    """An integer stored as a byte array (a 24-bit count, say)."""
    kind = "le-int"

    def describe(self):
        return "number: the little-endian value of the bytes"

    def decode(self, value):
        return int.from_bytes(bytes(value), "little")


def _word(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(x) for x in value) or "none"
    return "-" if value is None else str(value)


def _ranges(ids):
    out, start, prev = [], None, None
    for i in ids:
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            out.append(str(start) if start == prev else "%d-%d" % (start, prev))
            start = prev = i
    if start is not None:
        out.append(str(start) if start == prev else "%d-%d" % (start, prev))
    return ",".join(out)


# The words a declaration may use, and how many arguments each takes.
_KINDS = {
    "reserved": (Reserved, 0), "count-of": (CountOf, 1), "enum": (Enum, 1),
    "flags": (Flags, 1), "bool": (Boolean, 0), "packed": (Packed, 1), "units": (Units, 1),
    "bytes": (Bytes, 0), "hex": (Hex, 1), "log2-bytes": (Log2Bytes, 0),
    "celsius": (Celsius, 0), "percent": (Percent, 0), "uuid": (Uuid, 0),
    "opcode": (Opcode, 0), "return-code": (ReturnCode, 0), "id-bitmap": (IdBitmap, 0),
    "timestamp": (Timestamp, 0), "block-sizes": (BlockSizes, 0), "le-int": (LittleEndianInt, 0),
    "event-data": (EventData, 0), "milliseconds": (Milliseconds, 0),
}


def parse(words, namespace, where=""):
    """Meaning words (``["enum", "MEDIA_STATUS"]``) -> a Meaning, tables looked
    up in ``namespace`` (the layout module).  ``key=value`` words are options
    (``percent unimplemented=0xff``, ``units CAPACITY_UNIT gib=yes``)."""
    if isinstance(words, str):
        words = words.split()
    kind, args, options = words[0], [], {}
    if kind not in _KINDS:
        raise ValueError("%s: no meaning called %r" % (where, kind))
    cls, nargs = _KINDS[kind]
    for word in words[1:]:
        if "=" in word:
            key, _, value = word.partition("=")
            options[key] = _value(value, namespace, where)
        else:
            args.append(word)
    if kind == "uuid":
        nargs = len(args)               # the name table is optional
    if len(args) != nargs:
        raise ValueError("%s: %r takes %d argument(s)" % (where, kind, nargs))
    if kind == "count-of":
        return CountOf(args[0])
    values = [_value(a, namespace, where) for a in args]
    if kind == "packed":
        values = [[(name, low, high, parse(text, namespace, where) if text else None)
                   for name, low, high, text in values[0]]]
    return cls(*values, **options)


def _value(word, namespace, where):
    if word in ("yes", "no"):
        return word == "yes"
    if word[0].isdigit():
        return int(word, 0)
    try:
        return getattr(namespace, word)
    except AttributeError:
        raise ValueError("%s: %s names no table of %s" % (where, word, namespace.__name__))
