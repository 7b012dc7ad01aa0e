# SPDX-License-Identifier: LGPL-2.1-or-later
"""Reply structures -> JSON data and table words, with the spec's meaning added.

The JSON convention (docs/json-schema.md) is the library's
``to_dict(decoded=True)`` with byte strings as lowercase hex:

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
:mod:`cxlmi_bindings.types`; tables use the same meanings through :func:`text`.
"""

import ctypes

from cxlmi_bindings.types import fields, to_dict  # noqa: F401  (fields: for the views)

PREFIX = "struct_cxlmi_"


def short_name(cls):
    name = cls.__name__
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def to_json(obj):
    """Plain JSON-able data for a reply (structure, array, composite, bytes, None)."""
    return to_dict(obj, decoded=True, bytes_as=bytes.hex)


def text(cls, field, value):
    """Table words for one field's raw value."""
    what = cls.meaning(field) if hasattr(cls, "_meanings_") else None
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
