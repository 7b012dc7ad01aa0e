# SPDX-License-Identifier: LGPL-2.1-or-later
"""Output: ``table`` (rich, imported only to draw), ``json`` (for scripts), ``raw`` (bytes).

:func:`emit` renders a registry command's reply; :func:`emit_data` renders
what a hand-written command (``list``, ``vendor raw``, plugins) made itself.
"""

SCHEMA_VERSION = 1


def document(inv, entry, result, request=None):
    """The JSON object for one result (docs/json-schema.md)."""
    from . import views
    return {
        "schema_version": SCHEMA_VERSION,
        "command": entry.name,
        "opcode": entry.opcode,
        "target": inv.target,
        "tunnel": inv.tunnel_json(),
        "background": bool(inv.background),
        "result": views.result_json(entry, result, request),
    }


def emit(inv, entry, result, request=None):
    if inv.output == "raw":
        from . import raw
        raw.write(inv.last_payload)
    elif inv.output == "json":
        from . import json
        json.write(document(inv, entry, result, request))
    else:
        from . import table, views
        table.write(views.sections(entry, result, request, inv), inv)


def emit_data(inv, data, raw=None, table=None, title=None, command=None):
    if inv.output == "raw":
        from . import raw as _raw
        _raw.write(raw if raw is not None else b"")
    elif inv.output == "json":
        from . import json
        doc = {"schema_version": SCHEMA_VERSION, "command": command or inv.command_name,
               "target": inv.target, "tunnel": inv.tunnel_json(), "result": data}
        json.write(doc)
    else:
        from . import table as _table
        from .views import KV, Section
        if table is None:
            table = sorted(data.items()) if isinstance(data, dict) else []
        if table and isinstance(table, list) and isinstance(table[0], Section):
            sections = table
        else:
            sections = [KV(title, [(str(k), str(v)) for k, v in table])]
        _table.write(sections, inv, title=title)
