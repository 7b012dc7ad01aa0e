# SPDX-License-Identifier: LGPL-2.1-or-later
"""Payload structures as ctypes classes, built from declarative layouts.

Every ``struct_cxlmi_*`` class is packed and little endian on every host, with
libcxlmi's field names, sizes and offsets; a flexible array member is a
zero-length array at the end, exactly as C lays it out.  On top of what
ctypes gives, each class:

* accepts Python ``bytes`` shorter than a ``uint8_t[N]`` field (zero padded),
  so ``req.new_passphrase = b"secret"`` works;
* knows its flexible tail (``_flex_``: field name, element type, and the field
  that counts it, when the registry says so) and can make a *sized* subclass
  (``sized(n)``) whose tail is a real ``n``-element array;
* knows what its fields mean (``meaning(field)``: reserved, an enumeration,
  flags, a unit, the count of another field ..., as the layout declares it);
* turns itself into plain Python data (``obj.to_dict()``, :func:`to_dict`), raw or
  with the meanings decoded (``to_dict(decoded=True)``, what ``cxl-mi --json`` shows).

Each class is built the first time it is asked for (with the structures it
nests), so a command pays only for its own layouts.
"""

import ctypes

from . import generic, memdev, fmapi, features, meaning

_SCALARS = {
    "u8": ctypes.c_uint8,
    "u16": ctypes.c_uint16,
    "u32": ctypes.c_uint32,
    "u64": ctypes.c_uint64,
    "char": ctypes.c_char,
}
_BYTE_TYPES = (ctypes.c_uint8,)


class Struct(ctypes.LittleEndianStructure):
    """Base of every payload structure."""

    _pack_ = 1
    _flex_ = None          # (field, element ctype) of the flexible tail
    _bytefields_ = {}      # uint8_t[N] fields: name -> array ctype
    _sized_ = None         # cache: n -> sized subclass
    _meanings_ = {}        # field -> meaning.Meaning, as the layout declares it

    @classmethod
    def sized(cls, n):
        """A subclass whose flexible tail holds exactly ``n`` elements."""
        if cls._flex_ is None:
            raise TypeError("%s has no flexible array member" % cls.__name__)
        base = cls._base_ or cls
        cache = base.__dict__.get("_sized_")
        if cache is None:
            cache = {}
            base._sized_ = cache
        sub = cache.get(n)
        if sub is None:
            field, elem = base._flex_
            sub = type(base.__name__, (base,), {
                "_pack_": 1,
                "_fields_": [(field, elem * n)],
                "_base_": base,
                "__module__": base.__module__,
                "__qualname__": "%s.sized(%d)" % (base.__name__, n),
            })
            cache[n] = sub
        return sub

    _base_ = None

    @classmethod
    def flex_count(cls):
        """Elements in the tail of this (sized) class; 0 for the base class."""
        if cls._flex_ is None or cls._base_ is None:
            return 0
        field = cls._flex_[0]
        return getattr(cls, field).size // ctypes.sizeof(cls._flex_[1])

    @classmethod
    def meaning(cls, field):
        """What the layout says ``field``'s value means (a :mod:`.meaning` object), or
        None when it declares nothing; KeyError when the structure has no such field
        (so a misspelt name fails loudly instead of dropping a decoding)."""
        what = cls._meanings_.get(field)
        if what is None and not hasattr(cls, field):
            raise KeyError("%s has no field %r" % (cls.__name__, field))
        return what

    @classmethod
    def is_reserved(cls, field):
        return isinstance(cls._meanings_.get(field), meaning.Reserved)

    @classmethod
    def counted_by(cls, field):
        """The field that counts ``field``'s valid elements, or None."""
        for name, what in cls._meanings_.items():
            if isinstance(what, meaning.CountOf) and what.field == field:
                return name
        return None

    @classmethod
    def fixed_size(cls):
        """Bytes before the flexible tail (``sizeof`` of the C struct)."""
        return ctypes.sizeof(cls._base_ or cls)

    def __setattr__(self, name, value):
        if name in self._bytefields_ and isinstance(value, (bytes, bytearray, memoryview, str)):
            value = _pad(type(self), name, value)
        super().__setattr__(name, value)

    def to_dict(self, decoded=False):
        """Plain Python data (:func:`to_dict`); ``decoded=True`` gives the names
        ``cxl-mi --json`` shows: reserved fields left out, ``<field>_decoded`` and
        ``<field>_bytes`` beside the fields the spec gives a meaning."""
        return to_dict(self, decoded)

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (k, v) for k, v in to_dict(self).items()))


def _pad(cls, name, value):
    if isinstance(value, str):
        value = value.encode()
    ctype = cls._bytefields_[name]
    size = ctypes.sizeof(ctype)
    value = bytes(value)
    if len(value) > size:
        raise ValueError("%s.%s holds %d bytes, got %d" % (cls.__name__, name, size, len(value)))
    return ctype.from_buffer_copy(value.ljust(size, b"\0"))


def _all_fields(cls):
    """(name, ctype) over a class and its bases, in wire order (a sized tail replaces
    the zero-length one in place)."""
    seen = {}
    for klass in reversed(cls.__mro__):
        for field in klass.__dict__.get("_fields_", ()):
            seen[field[0]] = field[1]
    return seen.items()


def fields(obj):
    """(name, value) of a structure's fields as people read them.

    Reserved fields are left out, ``char`` arrays come back as ``str``, and an
    array the reply fills only in part is cut (to a list) at the field that
    counts it -- a flexible tail is already sized from the bytes received.
    """
    cls = type(obj)
    declared = hasattr(cls, "_meanings_")
    flex = getattr(cls, "_flex_", None)
    out = []
    for name, ctype in _all_fields(cls):
        if declared and cls.is_reserved(name):
            continue
        value = getattr(obj, name)
        if isinstance(value, bytes) and issubclass(ctype, ctypes.Array) and \
                ctype._type_ is ctypes.c_char:
            value = value.decode("ascii", "replace")
        elif declared and (flex is None or flex[0] != name):
            count_field = cls.counted_by(name)
            if count_field is not None:
                value = list(value)[:getattr(obj, count_field)]
        out.append((name, value))
    return out


def to_dict(obj, decoded=False, bytes_as=None):
    """Plain Python data for a reply: a structure, an array, a composite reply
    (its parts), bytes or a scalar.

    ``decoded=False``: every field, raw.  ``decoded=True``: what ``cxl-mi --json``
    shows -- the fields of :func:`fields`, and beside each one whose meaning the
    layout declares, ``<field>_decoded`` (names, a number in a base unit) or
    ``<field>_bytes`` (a size counted in units).  ``bytes_as`` turns byte strings
    into something else (the CLI passes ``bytes.hex``); they stay ``bytes`` by default.
    """
    if isinstance(obj, ctypes.Structure):
        if not decoded:
            return {name: to_dict(getattr(obj, name), bytes_as=bytes_as)
                    for name, _ in _all_fields(type(obj))}
        cls = type(obj)
        out = {}
        for name, value in fields(obj):
            out[name] = to_dict(value, True, bytes_as)
            what = cls.meaning(name) if hasattr(cls, "_meanings_") else None
            if getattr(what, "in_record", False):       # decoded with the rest of obj
                out[name + what.suffix] = what.decode_in(obj, bytes_as)
            elif what is not None and what.suffix is not None:
                out[name + what.suffix] = what.decode(
                    bytes(value) if isinstance(value, ctypes.Array) else value)
        return out
    if isinstance(obj, ctypes.Array):
        if obj._type_ is ctypes.c_char:
            return obj.value.decode("ascii", "replace")
        if obj._type_ is ctypes.c_uint8:
            return to_dict(bytes(obj), bytes_as=bytes_as)
        return [to_dict(x, decoded, bytes_as) for x in obj]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes_as(bytes(obj)) if bytes_as is not None else obj
    if isinstance(obj, (list, tuple)):
        return [to_dict(x, decoded, bytes_as) for x in obj]
    if hasattr(obj, "__dict__") and not isinstance(obj, type):     # a composite reply
        return {k: to_dict(v, decoded, bytes_as) for k, v in vars(obj).items()
                if not k.startswith("_")}
    return obj


def _parse(text):
    """Layout text -> [(structure name, [field line words])]."""
    entries = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            entries.append((line.rstrip().rstrip(":"), []))
        else:
            entries[-1][1].append(line.split())
    return entries


_LAYOUTS = None     # full name -> (layout module, field lines), from every layout module
_BUILT = {}         # full name -> class, filled on demand


def _layouts():
    global _LAYOUTS
    if _LAYOUTS is None:
        table = {}
        for module in (generic, memdev, fmapi, features):
            for name, lines in _parse(module.LAYOUTS):
                table["struct_cxlmi_" + name] = (module, lines)
        _LAYOUTS = table
    return _LAYOUTS


def _ctype(spec):
    if spec in _SCALARS:
        return _SCALARS[spec]
    return _build("struct_cxlmi_" + spec)


def _build(cls_name):
    """Build one structure class (and the ones it nests) the first time it is asked for."""
    cls = _BUILT.get(cls_name)
    if cls is not None:
        return cls
    if cls_name == "struct_cxlmi_tunnel_info":
        cls = type(cls_name, (ctypes.Structure,), {
            # The one unpacked structure: C's natural layout, 16 bytes.
            "_fields_": [("port", ctypes.c_int), ("ld", ctypes.c_int),
                         ("level", ctypes.c_int), ("mhd", ctypes.c_bool)],
            "__module__": "cxlmi_bindings",
        })
    else:
        module, lines = _layouts()[cls_name]
        fields, bytefields, flex, meanings = [], {}, None, {}
        for words in lines:
            fname, ftype = words[0], words[1]
            if len(words) > 2:
                meanings[fname] = meaning.parse(words[2:], module,
                                                "%s.%s" % (cls_name, fname))
            count = None
            if "[" in ftype:
                ftype, _, count = ftype.partition("[")
                count = count.rstrip("]")
            ctype = _ctype(ftype)
            if count is None:
                fields.append((fname, ctype))
            elif count == "":
                flex = (fname, ctype)
                fields.append((fname, ctype * 0))
            else:
                fields.append((fname, ctype * int(count)))
                if ctype in _BYTE_TYPES:
                    bytefields[fname] = ctype * int(count)
        namespace = {
            "_pack_": 1,
            "_fields_": fields,
            "_flex_": flex,
            "_bytefields_": bytefields,
            "_meanings_": meanings,
            "__module__": "cxlmi_bindings",
        }
        if not bytefields:
            # nothing to pad: ctypes' own setattr, not a Python call per field
            namespace["__setattr__"] = ctypes.LittleEndianStructure.__setattr__
        cls = type(cls_name, (Struct,), namespace)
    _BUILT[cls_name] = cls
    return cls


def names():
    """Every structure name, without building any."""
    return list(_layouts()) + ["struct_cxlmi_tunnel_info"]


def structs():
    """All structure classes by name (builds the ones not built yet)."""
    return {name: _build(name) for name in names()}


def get(name):
    """``struct_cxlmi_<name>`` by short or full name, built on first use."""
    if not name.startswith("struct_cxlmi_"):
        name = "struct_cxlmi_" + name
    cls = _BUILT.get(name)
    if cls is not None:
        return cls
    if name not in _layouts() and name != "struct_cxlmi_tunnel_info":
        raise KeyError(name)
    return _build(name)


#: event record UUID name (``uuids.EVENT_RECORD``) -> the layout of its 80 data bytes
EVENT_DATA = {"general-media": "gen_media_event_data", "dynamic-capacity": "dc_event_data",
              "memory-sparing": "mem_sparing_event_data"}


def event_data(record):
    """An event record's data as the structure its UUID names (``to_dict(decoded=True)``
    gives the names), or None for a record whose data layout this library lacks."""
    from .. import uuids
    kind = meaning.Uuid(uuids.EVENT_RECORD).decode(bytes(record.uuid))
    name = EVENT_DATA.get(kind.get("name") if isinstance(kind, dict) else kind)
    return get(name).from_buffer_copy(bytes(record.data)) if name else None
