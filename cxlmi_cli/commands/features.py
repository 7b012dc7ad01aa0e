# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi memdev features list|get|set`: the RAS Features by name, decoded.

``list [TARGET]``
    every Feature the device reports (Get Supported Features, all pages), with
    the name cxl-mi knows it by.
``get [TARGET] NAME [--selection current|default|saved]``
    a Feature's data (Get Feature) decoded with its layout.
``set [TARGET] NAME --FIELD VALUE ... [--fru N] [--save]``
    read, change, write (Set Feature), then read back.  A name the Feature does
    not have, a read-only attribute or a value out of range is refused (exit 2)
    before anything is sent; a Feature the device marks not changeable, a
    version cxl-mi has no layout for, or a value below the device's minimum is
    refused (exit 2) before Set Feature is sent.

Cheap to import: click only; the bindings load when a command runs.
"""

import click

SELECTIONS = ("current", "default", "saved")
#: for help texts (written out: building the help loads no layouts); a test checks it
NAMES = ("patrol-scrub, ecs, sppr, hppr, cacheline-sparing, row-sparing, bank-sparing, "
         "rank-sparing")
HELP = ("RAS Features by name (patrol scrub, DDR5 ECS, soft/hard PPR, memory sparing): "
        "list, read decoded, change (Get Supported Features / Get Feature / Set Feature).")


def _names():
    from cxlmi_bindings.features import feature_names
    return feature_names()


def _complete_name(ctx, param, incomplete):
    from click.shell_completion import CompletionItem
    return [CompletionItem(n) for n in _names() if n.startswith(incomplete)]


def _swap(values):
    """`get NAME` with the target from CXLMI_TARGET: the one positional is NAME."""
    if values.get("name") is None and values.get("target") is not None \
            and values["target"].strip().lower().replace("_", "-") in _names():
        values["name"], values["target"] = values["target"], None
    return values


def _command(name, callback, own, short, text, allow_extra=False):
    from ..options import common_params
    common = common_params(destructive=False)
    settings = {"help_option_names": ["-h", "--help"]}
    if allow_extra:
        settings.update(ignore_unknown_options=True, allow_extra_args=True)
    return click.Command(name, callback=callback, params=common[:1] + own + common[1:],
                         short_help=short, help=text, context_settings=settings)


def _name_argument():
    return click.Argument(["name"], required=False, metavar="NAME",
                          shell_complete=_complete_name)


def _caller(inv):
    from cxlmi_bindings import registry
    return lambda command, request: inv.call(registry.get(command), request)


def _need_name(name):
    from cxlmi_bindings.errors import UsageError
    if name is None:
        raise UsageError("name a Feature: %s" % ", ".join(_names()))
    return name


# ----------------------------------------------------------------------- list

def _list_body(inv):
    from cxlmi_bindings import features as F
    from cxlmi_cli.render import decode as D
    entries = F.supported(_caller(inv))
    rows, out = [], []
    for e in entries:
        doc = D.to_json(e)
        known = doc["feature_id_decoded"]["name"]
        doc["name"] = known
        doc["decoded_by_cxl_mi"] = known in F.layouts.FEATURES
        out.append(doc)
        flags = doc["attribute_flags_decoded"]
        rows.append([str(e.feature_index), known or doc["feature_id_decoded"]["uuid"],
                     "yes" if flags["changeable"] else "no",
                     "%d/%d" % (e.get_feature_version, e.set_feature_version),
                     "%d/%d" % (e.get_feature_size, e.set_feature_size),
                     ", ".join(doc["set_feature_effects_decoded"]) or "none"])
    from ..render.views import Rows
    inv.emit_data({"features": out}, raw=inv.last_payload, command="features_list",
                  table=[Rows("Features (%d)" % len(entries),
                              ["index", "feature", "changeable", "version get/set",
                               "bytes get/set", "set effects"], rows)])


def list_command():
    @click.pass_context
    def run(ctx, **values):
        from ..options import Invocation, guard
        inv = Invocation.from_values(ctx, values, None)
        with guard(inv):
            inv.resolve()
            _list_body(inv)
    return _command("list", run, [], "Every Feature the device supports, by name",
                    "List the Features the device supports (Get Supported Features, every "
                    "page): index, name (or UUID), whether it can be changed, its Get/Set "
                    "versions and sizes, and what setting it affects.")


# ----------------------------------------------------------------------- get

def _emit_feature(inv, name, entry, data, decoded, selection, command, written=None):
    from ..render import decode as D
    from ..render.views import KV, generic
    result = {"feature": name, "uuid": D.to_json(entry)["feature_id_decoded"]["uuid"],
              "selection": selection, "get_feature_version": entry.get_feature_version,
              "set_feature_version": entry.set_feature_version, "data": data.hex(),
              "attributes": D.to_json(decoded)}
    if written is not None:
        result["written"] = written.hex()
    head = [("feature", name), ("selection", selection),
            ("version get/set", "%d/%d" % (entry.get_feature_version,
                                           entry.set_feature_version))]
    if written is not None:
        head.append(("written", written.hex()))
    inv.emit_data(result, raw=data, command=command,
                  table=[KV(name, head)] + generic(decoded))


def _get_body(inv, name, selection):
    from cxlmi_bindings import features as F
    feature = F.layout(_need_name(name))
    entry, data, decoded = F.read(_caller(inv), feature.name, selection)
    if entry.get_feature_version != feature.version:
        click.echo("cxl-mi: warning: the device's %s Feature is version %d, decoded with the "
                   "version %d layout" % (feature.name, entry.get_feature_version,
                                          feature.version), err=True)
    _emit_feature(inv, feature.name, entry, data, decoded, selection, "features_get")


def get_command():
    @click.pass_context
    def run(ctx, name=None, selection="current", **values):
        from ..options import Invocation, guard
        values["name"] = name
        _swap(values)
        name = values.pop("name")
        inv = Invocation.from_values(ctx, values, None)
        with guard(inv):
            inv.resolve()
            _get_body(inv, name, selection)
    own = [_name_argument(),
           click.Option(["--selection"], type=click.Choice(SELECTIONS), default="current",
                        show_default=True, help="which value: current, default or saved")]
    return _command("get", run, own, "Read a Feature, decoded",
                    "Read Feature NAME (%s) with Get Feature and decode its attributes."
                    % NAMES)


# ----------------------------------------------------------------------- set

def _fields_from(args):
    """`--name value` / `--name=value` pairs left over by click, in order."""
    from cxlmi_bindings.errors import UsageError
    fields, i = {}, 0
    while i < len(args):
        word = args[i]
        if not word.startswith("--") or word == "--":
            raise UsageError("unexpected %r: give attributes as --FIELD VALUE; nothing was "
                             "sent" % word)
        key, eq, value = word[2:].partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise UsageError("--%s needs a value; nothing was sent" % key)
            value = args[i + 1]
            i += 1
        fields[key] = value
        i += 1
    return fields


def _set_body(inv, name, fields, fru, save):
    from cxlmi_bindings import features as F
    feature = F.layout(_need_name(name))
    changes = F.check_changes(feature.name, fields, fru)     # nothing sent before this
    call = _caller(inv)
    entry = F.find(call, feature.name)
    written = F.write(call, feature.name, changes, fru, save, entry=entry)
    _, data, decoded = F.read(call, feature.name, entry=entry)
    _emit_feature(inv, feature.name, entry, data, decoded, "current", "features_set",
                  written=written)


def _split_words(target, words):
    """(target, NAME, the --FIELD VALUE words): what click left in order.  Unknown
    options stay among the positionals, so NAME and the fields are taken apart here;
    one positional that names a Feature is NAME (the target comes from an option or
    CXLMI_TARGET)."""
    from cxlmi_bindings.errors import UsageError
    words = list(words)
    positional = [] if target is None else [target]
    while words and not words[0].startswith("--"):
        positional.append(words.pop(0))
    if len(positional) > 2:
        raise UsageError("unexpected %r after TARGET and NAME; nothing was sent"
                         % positional[2])
    if len(positional) == 2:
        return positional[0], positional[1], words
    if positional and positional[0].strip().lower().replace("_", "-") in _names():
        return None, positional[0], words
    return (positional[0] if positional else None), None, words


def set_command():
    @click.pass_context
    def run(ctx, words=(), fru=None, save=False, **values):
        from ..options import Invocation, guard
        target = values.pop("target", None)
        try:
            values["target"], name, rest = _split_words(target, list(words) + list(ctx.args))
            problem = None
        except Exception as exc:            # said inside guard(), in the output mode asked
            values["target"], name, rest, problem = target, None, [], exc
        inv = Invocation.from_values(ctx, values, None)
        with guard(inv):
            if problem is not None:
                raise problem
            inv.resolve()
            fields = _fields_from(rest)
            _set_body(inv, name, fields, fru, save)
    own = [click.Argument(["words"], nargs=-1, type=click.UNPROCESSED,
                          metavar="NAME --FIELD VALUE...", shell_complete=_complete_name),
           click.Option(["--fru"], type=click.IntRange(0, 0xFFFF), default=None, metavar="N",
                        help="ecs: change media FRU N only (default: every FRU)"),
           click.Option(["--save"], is_flag=True, default=False,
                        help="keep the new value across a reset (the saved value)")]
    return _command(
        "set", run, own, "Change a Feature's attributes (--FIELD VALUE)",
        "Change attributes of Feature NAME: --FIELD VALUE for each (yes/no for a flag, a "
        "name for an enumeration, a number otherwise); the others keep their current "
        "values.  The device's value is read first, written back with the changes "
        "(Set Feature, full transfer) and read again.\n\n"
        "What each Feature sets: patrol-scrub: --scrub-cycle-hours, --enabled; ecs: "
        "--log-entry-type, --threshold (256, 1024, 4096), --count-mode (rows, codewords), "
        "--reset-counter, with --fru N for one FRU; sppr, hppr: --device-initiated, "
        "--sparing-event-record, --device-initiated-at-boot; *-sparing: "
        "--device-initiated.\n\n"
        "Refused with exit 2 before anything is sent: an attribute the Feature does not "
        "have, a read-only one, a value out of range.  Refused with exit 2 before Set "
        "Feature is sent: a Feature the device reports as not changeable, a Set Feature "
        "version other than the one cxl-mi's layout is, a value below the device's "
        "minimum (patrol scrub cycle).", allow_extra=True)


class _Group(click.Group):
    """`features`: its commands built when asked for (listing the memdev group, or this
    one, loads no option machinery)."""

    MAKERS = {"list": list_command, "get": get_command, "set": set_command}
    SHORT = {"list": "Every Feature the device supports, by name",
             "get": "Read a Feature, decoded",
             "set": "Change a Feature's attributes (--FIELD VALUE)"}

    def list_commands(self, ctx):
        return list(self.MAKERS)

    def get_command(self, ctx, name):
        if name not in self.commands and name in self.MAKERS:
            self.add_command(self.MAKERS[name](), name)
        return self.commands.get(name)

    def format_commands(self, ctx, formatter):
        with formatter.section("Commands"):
            formatter.write_dl([(n, self.SHORT[n]) for n in self.MAKERS])


def group():
    return _Group("features", help=HELP, short_help="RAS Features: list, get, set (decoded)",
                  context_settings={"help_option_names": ["-h", "--help"]})
