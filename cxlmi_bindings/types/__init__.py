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
* turns itself into plain Python data (:func:`to_dict`).

Each class is built the first time it is asked for (with the structures it
nests), so a command pays only for its own layouts.
"""

import ctypes

from . import generic, memdev, fmapi, meaning

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


def to_dict(obj):
    """Plain Python data for a structure, array or scalar (for JSON, repr)."""
    if isinstance(obj, ctypes.Structure):
        out = {}
        for klass in reversed(type(obj).__mro__):
            for field in klass.__dict__.get("_fields_", ()):
                out[field[0]] = to_dict(getattr(obj, field[0]))
        return out
    if isinstance(obj, ctypes.Array):
        if obj._type_ is ctypes.c_char:
            return obj.value.decode("ascii", "replace")
        if obj._type_ is ctypes.c_uint8:
            return bytes(obj)
        return [to_dict(x) for x in obj]
    if isinstance(obj, bytes):
        return obj
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
        for module in (generic, memdev, fmapi):
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
        cls = type(cls_name, (Struct,), {
            "_pack_": 1,
            "_fields_": fields,
            "_flex_": flex,
            "_bytefields_": bytefields,
            "_meanings_": meanings,
            "__module__": "cxlmi_bindings",
        })
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
