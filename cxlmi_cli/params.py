# SPDX-License-Identifier: LGPL-2.1-or-later
"""click parameter types for request fields.

Every type accepts hex (``0x...``) wherever it accepts a number, refuses
values that do not fit the wire field, and names the option and the allowed
range in its message.  The same parsers serve ``--input`` JSON (``parse_*``
functions), so a value means the same from argv and from a file.
"""

import re

import click

from cxlmi_bindings.types.meaning import human_size, int_range, int_text

_SIZE_RE = re.compile(r"^\s*(0[xX][0-9a-fA-F_]+|\d[\d_]*(?:\.\d+)?)\s*([kKmMgGtTpP]?)(i?[bB])?\s*$")
_SHIFT = {"": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50}
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


class ValueProblem(ValueError):
    """A value that does not parse or does not fit; the message says why."""


#: No size needs this many digits, so a longer one can only be refused; held to it,
#: sizes stay numbers Python will convert (not past 4300 decimal digits) and a float
#: can hold (human_size).
_MAX_DIGITS = 40


def parse_int(text, bits=64, signed=False, what="value"):
    """An integer (decimal, ``0x`` hex, ``0b``, ``0o``, underscores) that fits ``bits``."""
    if isinstance(text, bool):
        text = int(text)
    if isinstance(text, int):
        value = text
    else:
        try:
            value = int(str(text).strip().replace("_", ""), 0)
        except ValueError:
            raise ValueProblem("%r is not an integer (decimal or 0x hex)" % (text,))
    lo, hi = int_range(bits, signed)
    if not lo <= value <= hi:
        raise ValueProblem("%s is out of range for %s (%d..%d)" % (int_text(value), what, lo, hi))
    return value


def parse_size(text, what="size"):
    """Bytes from ``4096``, ``0x1000``, ``4K``, ``256M``, ``4G``, ``1.5GiB`` (binary units)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueProblem("%s cannot be negative" % what)
        return text
    m = _SIZE_RE.match(str(text))
    if not m:
        raise ValueProblem("%r is not a size (e.g. 4096, 0x1000, 256M, 4G)" % (text,))
    number, unit = m.group(1).replace("_", ""), m.group(2).lower()
    if len(number) > _MAX_DIGITS:
        raise ValueProblem("%s: %s... has too many digits for a size" % (what, number[:20]))
    if number.lower().startswith("0x"):
        value = int(number, 16) << _SHIFT[unit]
    elif "." in number:
        scaled = float(number) * (1 << _SHIFT[unit])
        if scaled != int(scaled):
            raise ValueProblem("%r is not a whole number of bytes" % (text,))
        value = int(scaled)
    else:
        value = int(number) << _SHIFT[unit]
    return value


def _exact_size(nbytes):
    """``nbytes`` for a message: in binary units when that is exact, else in bytes
    (4.00 KiB for 0x1001 would hide why it is not a multiple of 64)."""
    text = human_size(nbytes)
    return text if "." not in text else "%d bytes (0x%x)" % (nbytes, nbytes)


def to_units(nbytes, unit, bits, what, align=1):
    """Bytes -> field value in ``unit``-byte units, checking alignment and width."""
    if nbytes % (unit * align):
        raise ValueProblem("%s %s is not a multiple of %s"
                           % (what, _exact_size(nbytes), human_size(unit * align)))
    value = nbytes // unit
    if value >= 1 << bits:
        raise ValueProblem("%s %s is too large for a %d-bit field in %s units"
                           % (what, human_size(nbytes), bits, human_size(unit)))
    return value


def parse_hex(text, max_len=None, what="value"):
    """Bytes from hex: ``deadbeef``, ``0xdeadbeef``, ``de:ad:be:ef``, ``de ad be ef``."""
    if isinstance(text, (bytes, bytearray)):
        data = bytes(text)
    else:
        s = str(text).strip()
        if s[:2].lower() == "0x":
            s = s[2:]
        s = re.sub(r"[\s:_-]", "", s)
        if len(s) % 2:
            raise ValueProblem("%r is not hex bytes: odd number of digits" % (text,))
        try:
            data = bytes.fromhex(s)
        except ValueError:
            raise ValueProblem("%r is not hex bytes (e.g. 0xdeadbeef or de:ad:be:ef)" % (text,))
    if max_len is not None and len(data) > max_len:
        raise ValueProblem("%s holds at most %d bytes, got %d" % (what, max_len, len(data)))
    return data


def parse_uuid(text, names=None, what="UUID"):
    """16 wire bytes from a UUID string, 32 hex digits, or a known name."""
    if isinstance(text, (bytes, bytearray)) and len(text) == 16:
        return bytes(text)
    s = str(text).strip()
    key = s.lower().replace("_", "-")
    if names and key in names:
        return names[key]
    import uuid
    try:
        return uuid.UUID(s).bytes
    except ValueError:
        known = (" or one of: %s" % ", ".join(sorted(names))) if names else ""
        raise ValueProblem("%r is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)%s"
                           % (text, known))


def _name_key(s):
    return str(s).strip().lower().replace("_", "-")


def parse_enum(text, names, bits=8, what="value"):
    """A name from ``names`` (name -> value) or a number that fits ``bits``."""
    if isinstance(text, int) and not isinstance(text, bool):
        return parse_int(text, bits, what=what)
    key = _name_key(text)
    if key in names:
        return names[key]
    try:
        return parse_int(text, bits, what=what)
    except ValueProblem:
        raise ValueProblem("%r is not one of: %s (or a number)"
                           % (text, ", ".join(_canonical(names))))


def parse_flags(text, names, bits=8, what="value"):
    """Comma-separated flag names (name -> bit), ``none``, or a number."""
    if isinstance(text, int) and not isinstance(text, bool):
        return parse_int(text, bits, what=what)
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        s = str(text).strip()
        if s.lower() in ("", "none", "0"):
            return 0
        try:
            return parse_int(s, bits, what=what)
        except ValueProblem:
            pass
        parts = [p for p in re.split(r"[,\s]+", s) if p]
    value = 0
    for part in parts:
        key = _name_key(part)
        if key not in names:
            raise ValueProblem("%r is not one of: %s (comma-separated, or a number)"
                               % (part, ", ".join(_canonical(names))))
        value |= 1 << names[key]
    return value


def parse_int_list(text, bits=8, what="value"):
    """``1,2,3``, ``0-3``, ``[1, 2]`` (JSON) -> list of ints."""
    if isinstance(text, (list, tuple)):
        return [parse_int(v, bits, what=what) for v in text]
    out = []
    for part in re.split(r"[,\s]+", str(text).strip()):
        if not part:
            continue
        if "-" in part[1:]:
            lo, _, hi = part.partition("-")
            lo, hi = parse_int(lo, bits, what=what), parse_int(hi, bits, what=what)
            if hi < lo:
                raise ValueProblem("range %s runs backwards" % part)
            out.extend(range(lo, hi + 1))
        else:
            out.append(parse_int(part, bits, what=what))
    return out


def _canonical(names):
    """Names for help: one per value (the first declared), in value order."""
    seen, out = set(), []
    for name, value in names.items():
        if value not in seen:
            seen.add(value)
            out.append(name)
    return out


# ----------------------------------------------------------------- click types

class _Type(click.ParamType):
    """Turn a ValueProblem into click's BadParameter (exit 2, names the option)."""

    def convert(self, value, param, ctx):
        if value is None:
            return None
        try:
            return self.parse(value, param)
        except ValueProblem as exc:
            self.fail(str(exc), param, ctx)

    @staticmethod
    def _what(param):
        if param is None:
            return "value"
        return "/".join(getattr(param, "opts", None) or [param.name])


class Int(_Type):
    name = "integer"

    def __init__(self, bits, signed=False):
        self.bits, self.signed = bits, signed

    def parse(self, value, param):
        return parse_int(value, self.bits, self.signed, self._what(param))

    def get_metavar(self, param, ctx=None):
        return "N"


class Celsius(Int):
    """Degrees Celsius in a 16-bit field: -32768..32767, written as two's complement
    (-5 is FFFBh); 32768..65535 are taken as the field's raw value, as cxl-mi's own
    JSON shows it, so a reply or a dry run can be sent back."""

    def __init__(self):
        super().__init__(16)

    def parse(self, value, param):
        what = self._what(param)
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip().replace("_", ""), 0)
            except ValueError:
                raise ValueProblem("%r is not a temperature in °C (e.g. -5, 85)" % (value,))
        if not -0x8000 <= value <= 0xFFFF:
            raise ValueProblem("%s °C is out of range for %s (-32768..32767)"
                               % (int_text(value), what))
        return value & 0xFFFF

    def get_metavar(self, param, ctx=None):
        return "CELSIUS"


class LittleEndianInt(Int):
    """A number carried in a byte array, least significant byte first (a 24-bit row)."""

    def __init__(self, nbytes):
        super().__init__(8 * nbytes)
        self.nbytes = nbytes

    def parse(self, value, param):
        return super().parse(value, param).to_bytes(self.nbytes, "little")


class Size(_Type):
    """A byte size or address with units; ``unit`` > 1 converts to field units."""
    name = "size"

    def __init__(self, bits=64, unit=1, align=1):
        self.bits, self.unit, self.align = bits, unit, align

    def parse(self, value, param):
        nbytes = parse_size(value, self._what(param))
        return to_units(nbytes, self.unit, self.bits, self._what(param), self.align)

    def get_metavar(self, param, ctx=None):
        return "SIZE"


class Log2Size(_Type):
    """``N`` meaning 2^N bytes, or a power-of-two size (``2K``)."""
    name = "log2size"

    def __init__(self, lo=0, hi=31):
        self.lo, self.hi = lo, hi

    def parse(self, value, param):
        s = str(value).strip()
        # an exponent (a number too long to be one is a size, refused as one)
        if re.match(r"^\d+$", s) and len(s) <= _MAX_DIGITS and int(s) <= 63:
            n = int(s)
        else:
            size = parse_size(s, self._what(param))
            if size <= 0 or size & (size - 1):
                raise ValueProblem("%s is not a power of two" % human_size(size))
            n = size.bit_length() - 1
        if not self.lo <= n <= self.hi:
            raise ValueProblem("2^%d is out of range for %s (2^%d..2^%d)"
                               % (n, self._what(param), self.lo, self.hi))
        return n

    def get_metavar(self, param, ctx=None):
        return "N|SIZE"


class Enum(_Type):
    name = "enum"

    def __init__(self, names, bits=8):
        self.names, self.bits = names, bits

    def parse(self, value, param):
        return parse_enum(value, self.names, self.bits, self._what(param))

    def get_metavar(self, param, ctx=None):
        return "[%s]" % "|".join(_canonical(self.names))

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem
        return [CompletionItem(n) for n in _canonical(self.names) if n.startswith(incomplete)]


class Flags(_Type):
    name = "flags"

    def __init__(self, names, bits=8):
        self.names, self.bits = names, bits

    def parse(self, value, param):
        return parse_flags(value, self.names, self.bits, self._what(param))

    def get_metavar(self, param, ctx=None):
        return "FLAG[,FLAG…]"

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem
        head, _, last = incomplete.rpartition(",")
        prefix = head + "," if head else ""
        return [CompletionItem(prefix + n) for n in _canonical(self.names) if n.startswith(last)]


class Uuid(_Type):
    name = "uuid"

    def __init__(self, names=None):
        self.names = names or {}

    def parse(self, value, param):
        return parse_uuid(value, self.names, self._what(param))

    def get_metavar(self, param, ctx=None):
        return "UUID|NAME" if self.names else "UUID"

    def shell_complete(self, ctx, param, incomplete):
        from click.shell_completion import CompletionItem
        return [CompletionItem(n) for n in sorted(self.names) if n.startswith(incomplete)]


class Hex(_Type):
    name = "hex"

    def __init__(self, max_len=None):
        self.max_len = max_len

    def parse(self, value, param):
        return parse_hex(value, self.max_len, self._what(param))

    def get_metavar(self, param, ctx=None):
        return "HEX"


class IntList(_Type):
    name = "list"

    def __init__(self, bits=8):
        self.bits = bits

    def parse(self, value, param):
        return parse_int_list(value, self.bits, self._what(param))

    def get_metavar(self, param, ctx=None):
        return "N[,N…]"


#: a time of day's seconds and their fraction (ISO 8601 allows a comma too)
_FRACTION_RE = re.compile(r"^(.*\d\d:\d\d:\d\d)[.,](\d+)(.*)$")


class Timestamp(_Type):
    """Nanoseconds since the epoch, ``now``, or an ISO 8601 date/time (UTC if naive)."""
    name = "timestamp"

    def parse(self, value, param):
        s = str(value).strip()
        if s.lower() == "now":
            import time
            return time.time_ns()
        try:
            return parse_int(s, 64, what=self._what(param))
        except ValueProblem:
            pass
        import datetime
        # the fraction of a second is taken apart: fromisoformat before Python 3.11
        # takes only 3 or 6 digits, and the field holds nanoseconds (9)
        m = _FRACTION_RE.match(s)
        whole, fraction = (m.group(1) + m.group(3), m.group(2)) if m else (s, "")
        try:
            when = datetime.datetime.fromisoformat(whole.replace("Z", "+00:00"))
        except ValueError:
            raise ValueProblem("%r is not a timestamp: nanoseconds since 1970, 'now', or an "
                               "ISO 8601 date such as 2024-05-01T12:00:00Z" % (value,))
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        delta = when - epoch
        ns = (delta.days * 86400 + delta.seconds) * 10 ** 9 + int(fraction[:9].ljust(9, "0"))
        if not 0 <= ns < 1 << 64:       # the field would keep only the low 64 bits
            raise ValueProblem("%r cannot be sent: the timestamp holds 1970-01-01 to "
                               "2554-07-21 (nanoseconds since 1970 in 64 bits)" % (value,))
        return ns

    def get_metavar(self, param, ctx=None):
        return "NS|now|ISO8601"


class Setting(_Type):
    """Event interrupt setting: ``none``, ``msi[:VECTOR]``, ``fw[:VECTOR]`` or a number.

    Bits 1:0 the interrupt mode (0 none, 1 MSI/MSI-X, 2 firmware interrupt),
    bits 7:4 the interrupt message number.
    """
    name = "setting"
    MODES = {"none": 0, "off": 0, "msi": 1, "msi-x": 1, "msix": 1, "fw": 2, "firmware": 2}

    def parse(self, value, param):
        s = _name_key(value)
        mode, _, vector = s.partition(":")
        if mode in self.MODES:
            v = parse_int(vector, 4, what="interrupt vector") if vector else 0
            return self.MODES[mode] | (v << 4)
        return parse_int(value, 8, what=self._what(param))

    def get_metavar(self, param, ctx=None):
        return "none|msi[:VEC]|fw[:VEC]"


class Item(_Type):
    """One element of a structure list, ``A:B[:C…]`` in the element's field order."""
    name = "item"

    def __init__(self, parsers, metavar):
        self.parsers = parsers            # [(field name, parse(text) -> value, required)]
        self.metavar = metavar

    def parse(self, value, param):
        if isinstance(value, dict):
            return value
        parts = str(value).split(":")
        if len(parts) > len(self.parsers):
            raise ValueProblem("%r has %d parts, %s takes at most %d (%s)"
                               % (value, len(parts), self._what(param), len(self.parsers),
                                  self.metavar))
        out = {}
        for (field, parse, required), text in zip(self.parsers, parts):
            if text == "":
                continue
            out[field] = parse(text)
        missing = [f for f, _, req in self.parsers if req and f not in out]
        if missing:
            raise ValueProblem("%r lacks %s (expected %s)" % (value, ", ".join(missing),
                                                              self.metavar))
        return out

    def get_metavar(self, param, ctx=None):
        return self.metavar


def complete_files(incomplete):
    """Completion by the shell's own file names (what click.Path offers)."""
    from click.shell_completion import CompletionItem
    return [CompletionItem(incomplete, type="file")]


class FileBytes(_Type):
    """Bytes read from a file, ``-`` for standard input."""
    name = "file"

    def parse(self, value, param):
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        try:
            with click.open_file(value, "rb") as f:
                return f.read()
        except OSError as exc:
            raise ValueProblem("cannot read %s: %s" % (value, exc.strerror or exc))

    def get_metavar(self, param, ctx=None):
        return "FILE"

    def shell_complete(self, ctx, param, incomplete):
        return complete_files(incomplete)
