# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers for the spec's names of field values.

The names themselves -- enumerations, flags, packed sub-fields, UUIDs, units --
are declared once, beside the field they describe, in
:mod:`cxlmi_bindings.types` (see :mod:`cxlmi_bindings.types.meaning`); the
request options and the output both read them from there.
"""

from cxlmi_bindings.types.meaning import canonical, uuid_bytes, uuid_names  # noqa: F401


def field_meaning(struct, field):
    """The declared meaning of ``struct_cxlmi_<struct>.<field>``."""
    from cxlmi_bindings import types
    return types.get(struct).meaning(field)


def log_uuids():
    """Log name -> UUID text: the names ``--uuid`` and ``get-log LOG`` accept."""
    return field_meaning("cmd_get_log_req", "uuid").table


def cel_uuid():
    """The 16 wire bytes of the Command Effects Log's UUID."""
    return uuid_bytes(log_uuids())["cel"]
