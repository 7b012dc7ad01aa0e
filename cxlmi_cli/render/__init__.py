# SPDX-License-Identifier: LGPL-2.1-or-later
"""Output: ``table`` (rich, imported only to draw), ``json`` (for scripts), ``raw`` (bytes).

One :class:`Output` per format, picked once when the options are parsed
(``inv.out``).  A command hands it every form of its answer as a zero-argument
function -- ``json`` (the document), ``table`` (sections to draw, or ``None``
when it drew itself), ``raw`` (the bytes; ``None`` when there are none) -- and
the format calls the one it needs, so a command never branches on the format
and builds (and imports) only what is shown.  On top of :meth:`Output.show`:
:meth:`Output.result` for a registry reply, :meth:`Output.data` for what a
hand-written command made itself.
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


def data_document(inv, data, command=None):
    """The JSON object a hand-written command's ``data`` is the result of."""
    return {"schema_version": SCHEMA_VERSION, "command": command or inv.command_name,
            "target": inv.target, "tunnel": inv.tunnel_json(), "result": data}


class Output:
    """How one invocation's answer is written out (subclasses: one per format)."""

    name = None

    def __init__(self, inv):
        self.inv = inv

    def show(self, json, table, raw=None, title=None):
        """Write the form of this format (``title``: the table's heading, "" for
        none; the command and target by default)."""
        raise NotImplementedError

    def problem(self, doc):
        """A JSON error object for stdout: written by the JSON format only."""

    def needs_no_raw(self, why):
        """Before anything is sent: a command whose answer is not one reply's payload
        says so here, and -o raw is refused with ``why``."""

    def replaced_by(self, option):
        """Before anything is sent: ``option`` is an output of its own (``--dot``),
        so no -o / --json may come with it."""
        import click
        raise click.UsageError("%s and --%s ask for different outputs: give one"
                               % (option, self.name))

    def result(self, entry, result, request=None, extra=None, notes=(), raw=None):
        """A registry command's reply: its document (plus ``extra`` keys), its
        sections (plus ``notes``; a workflow's ``result`` may be None: then the
        notes alone), the reply payload (or ``raw()``)."""
        inv = self.inv

        def doc():
            out = document(inv, entry, result, request)
            out.update(extra or {})
            return out

        def sections():
            from . import views
            if result is None and notes:
                shown = []
            else:
                shown = views.sections(entry, result, request, inv)
            return shown + [views.Note(n) for n in notes]

        self.show(doc, sections, raw or (lambda: inv.last_payload))

    def data(self, data, raw=None, table=None, title=None, command=None):
        """A hand-written command's answer: ``data`` (a JSON-able dict) as the result,
        ``raw`` bytes, ``table`` as sections or (key, value) pairs (the dict's items
        when not given)."""
        def sections():
            from .views import Pairs, Section
            pairs = table
            if pairs is None:
                pairs = sorted(data.items()) if isinstance(data, dict) else []
            if pairs and isinstance(pairs, list) and isinstance(pairs[0], Section):
                return pairs
            return [Pairs(title, [(str(k), str(v)) for k, v in pairs])]

        self.show(lambda: data_document(self.inv, data, command), sections,
                  lambda: raw if raw is not None else b"", title=title)


class Table(Output):
    name = "table"

    def replaced_by(self, option):
        pass                                # the default: nothing asked for instead

    def show(self, json, table, raw=None, title=None):
        sections = table()
        if sections is not None:            # None: the command drew its own picture
            from . import table as _table
            _table.write(sections, self.inv, title=title)


class Json(Output):
    name = "json"

    def show(self, json, table, raw=None, title=None):
        from . import json as _json
        _json.write(json())

    def problem(self, doc):
        from . import json as _json
        _json.write(doc)


class Raw(Output):
    name = "raw"

    def needs_no_raw(self, why):
        import click
        raise click.UsageError(why)

    def show(self, json, table, raw=None, title=None):
        if raw is None:                     # not one reply's payload
            import click
            raise click.UsageError("%s has no raw output: use -o table or -o json"
                                   % self.inv.command_name)
        from . import raw as _raw
        _raw.write(raw())


FORMATS = {cls.name: cls for cls in (Table, Json, Raw)}


def output(inv, name):
    """The :class:`Output` of format ``name`` for ``inv``."""
    return FORMATS[name](inv)
