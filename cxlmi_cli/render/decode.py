# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reply structures -> plain data, with the spec's meaning added.

The JSON convention (docs/json-schema.md):

* every non-reserved field keeps its structure name and raw value: numbers
  as numbers, ``uint8_t`` arrays as lowercase hex strings, ``char`` arrays as
  strings, nested structures as objects, arrays as lists;
* a field whose value the spec gives a meaning ALSO gets ``<field>_decoded``:
  a string for an enumeration (``null`` when the value has no name), a list
  of strings for a bitmask, an object for packed sub-fields, an object
  ``{"uuid", "name"}`` for a UUID, a number for a scaled or signed quantity
  (°C, percent; ``null`` when the device says "not implemented");
* a capacity counted in units gets ``<field>_bytes`` as well.

What each field means is declared once, beside its layout, in
:mod:`cxlmi_bindings.types` (``Struct.meaning(field)``); this module only
walks the structures.  Tables use the same meanings through :func:`text`.
"""

import ctypes

PREFIX = "struct_cxlmi_"


def short_name(cls):
    name = cls.__name__
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def meaning(cls, field):
    """The declared meaning of ``cls.field`` (None for structures without meanings)."""
    lookup = getattr(cls, "meaning", None)
    return lookup(field) if lookup is not None else None


def fields(obj):
    """(name, value) of a structure's non-reserved fields, sized tails included.

    ``char`` arrays come back as ``str`` (ctypes hands them over as bytes).
    """
    cls = type(obj)
    reserved = getattr(cls, "is_reserved", None)
    seen = {}
    for klass in reversed(cls.__mro__):
        for f in klass.__dict__.get("_fields_", ()):
            seen[f[0]] = f[1]
    out = []
    for n, ctype in seen.items():
        if reserved is not None and reserved(n):
            continue
        value = getattr(obj, n)
        if isinstance(value, bytes) and issubclass(ctype, ctypes.Array) and \
                ctype._type_ is ctypes.c_char:
            value = value.decode("ascii", "replace")
        out.append((n, value))
    return out


def counted(obj, name, value):
    """A fixed array the reply fills only in part, cut to the field that counts it.

    (A flexible tail is already sized from the bytes received.)
    """
    cls = type(obj)
    flex = getattr(cls, "_flex_", None)
    if flex is not None and flex[0] == name:
        return value
    counted_by = getattr(cls, "counted_by", None)
    count_field = counted_by(name) if counted_by is not None else None
    if count_field is None:
        return value
    return list(value)[:getattr(obj, count_field)]


def hexstr(b):
    return bytes(b).hex()


def to_json(obj):
    """Plain JSON-able data for a reply (structure, array, composite, bytes, None)."""
    if obj is None:
        return None
    if isinstance(obj, ctypes.Structure):
        return struct_json(obj)
    if isinstance(obj, ctypes.Array):
        if obj._type_ is ctypes.c_char:
            return obj.value.decode("ascii", "replace")
        if obj._type_ is ctypes.c_uint8:
            return hexstr(obj)
        return [to_json(x) for x in obj]
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return hexstr(obj)
    if isinstance(obj, (list, tuple)):
        return [to_json(x) for x in obj]
    if hasattr(obj, "__dict__") and not isinstance(obj, type):
        return {k: to_json(v) for k, v in vars(obj).items() if not k.startswith("_")}
    return obj


def struct_json(obj):
    cls = type(obj)
    out = {}
    for name, value in fields(obj):
        value = counted(obj, name, value)
        out[name] = to_json(value)
        what = meaning(cls, name)
        if what is not None and what.suffix is not None:
            out[name + what.suffix] = what.decode(
                bytes(value) if isinstance(value, ctypes.Array) else value)
    return out


def text(cls, field, value):
    """Table words for one field's raw value."""
    what = meaning(cls, field)
    raw = bytes(value) if isinstance(value, ctypes.Array) and value._type_ is ctypes.c_uint8 \
        else value
    if what is not None and what.kind not in ("reserved", "count-of"):
        return what.text(raw)
    if isinstance(value, ctypes.Array):
        if value._type_ is ctypes.c_char:
            return value.value.decode("ascii", "replace")
        if value._type_ is ctypes.c_uint8:
            b = bytes(value)
            if not any(b):
                return "0 × %d" % len(b) if len(b) > 8 else b.hex()
            return b.hex() if len(b) <= 32 else "%s… (%d bytes)" % (b[:32].hex(), len(b))
        return ", ".join(str(x) for x in value)
    return str(value)
