# SPDX-License-Identifier: LGPL-2.1-or-later
"""Registry entry -> click command.

:func:`make_command` is the one place a command line is made from a
registry entry: the request structure's fields become typed options (see
:mod:`cxlmi_cli.reqspec`), the shared target / tunnel / output / safety
options are added (:mod:`cxlmi_cli.options`), and the callback builds the
request, asks for confirmation when the command is destructive, runs it and
renders the reply.

The pieces are public so that hand-written commands (workflows, plugins)
can be built from the same parts:

* :func:`request_options` -- the options for an entry's request fields, and
  a :class:`RequestBuilder` that turns parsed values (plus ``--input``) into
  the request dict :func:`cxlmi_bindings.codec.build` takes;
* :func:`make_command` -- the whole generated command;  ``callback=`` swaps in
  another body that receives ``(inv, request, kwargs)``, ``extra_params=``
  adds options.
"""

import ctypes

import click

from . import params as P
from .spec import uuid_bytes
from .options import common_params, Invocation, guard

# Options every device command has: request fields must not take these names.
TAKEN = {"port", "ld", "mhd", "mctp", "tcp", "output", "json", "yes", "input", "timeout",
         "passphrase-file", "new-passphrase-file", "passphrase", "new-passphrase",
         "current-passphrase", "help", "verbose", "dry-run"}

def short_struct_name(cls):
    name = (getattr(cls, "_base_", None) or cls).__name__
    return name[len("struct_cxlmi_"):] if name.startswith("struct_cxlmi_") else name


def _int_bits(ctype):
    return ctypes.sizeof(ctype) * 8


def _fields(cls):
    """(name, ctype) of a structure in wire order, the flexible tail included."""
    base = getattr(cls, "_base_", None) or cls
    return list(base._fields_)


class FieldOpt:
    """One request field (or one part of a packed field) and its option(s)."""

    def __init__(self, path, spec, params, kind, ctype=None):
        self.path = path            # "offset", "discovery_osa.num_ops"
        self.spec = spec
        self.params = params        # click.Option objects (names unique per command)
        self.kind = kind
        self.ctype = ctype

    @property
    def opt(self):
        return self.params[0].opts[0] if self.params else None


def _help(spec, kind, extra=""):
    text = spec.get("help") or ""
    if extra:
        text = (text + "; " if text else "") + extra
    default = spec.get("default")
    if default is not None and kind not in ("fixed", "bool"):
        text += " [default: %s]" % (hex(default) if isinstance(default, int) and default > 255
                                    else default)
    if spec.get("required"):
        text += " [required]"
    return text


def _merge(*specs):
    out = {}
    for s in specs:
        if s:
            out.update(s)
    return out


def _param_type(kind, spec, ctype, path):
    bits = _int_bits(ctype) if ctype is not None and not issubclass(ctype, ctypes.Array) \
        else 64
    table = spec.get("table")
    if kind == "int":
        return P.Int(bits)
    if kind == "size":
        return P.Size(bits, 1, spec.get("align", 1))
    if kind == "units":
        return P.Size(bits, spec["unit"], spec.get("align", 1))
    if kind == "enum":
        return P.Enum(table, bits)
    if kind == "flags":
        return P.Flags(table, bits)
    if kind == "uuid":
        return P.Uuid(uuid_bytes(table) if table else None)
    if kind == "hex":
        return P.Hex(ctypes.sizeof(ctype) if ctype is not None else None)
    if kind == "le-int":
        return P.LittleEndianInt(ctypes.sizeof(ctype))
    if kind == "celsius":
        return P.Celsius()
    if kind == "log2size":
        return P.Log2Size(spec.get("lo", 0), spec.get("hi", 31))
    if kind == "timestamp":
        return P.Timestamp()
    if kind == "setting":
        return P.Setting()
    if kind == "str":
        return click.STRING
    raise ValueError("%s: no option type for kind %r" % (path, kind))


#: The option kind a field's declared meaning implies when reqspec names none.
KIND_OF_MEANING = {"enum": "enum", "flags": "flags", "uuid": "uuid", "units": "units",
                   "timestamp": "timestamp", "bytes": "size", "bool": "bool",
                   "le-int": "le-int", "celsius": "celsius"}


def _with_declared(spec, klass, name, path):
    """Fill in what the field's layout declares: the option kind its meaning
    implies, the names an enum, flags or UUID option accepts (a packed part: the
    declared sub-field of its option's name), the unit of a ``units`` option."""
    declared = klass.meaning(name) if hasattr(klass, "meaning") else None
    kind = spec.get("kind")
    extra = {}
    if kind is None and declared is not None and declared.kind in KIND_OF_MEANING:
        kind = extra["kind"] = KIND_OF_MEANING[declared.kind]
    if kind in ("enum", "flags", "uuid") and "table" not in spec:
        extra["table"] = getattr(declared, "table", None)
        if extra["table"] is None and kind != "uuid":
            raise ValueError("%s: the layout declares no names for this %s" % (path, kind))
    elif kind == "units" and "unit" not in spec:
        extra["unit"] = getattr(declared, "unit", None)
        if extra["unit"] is None:
            raise ValueError("%s: the layout declares no unit" % path)
    elif kind == "packed":
        parts = []
        for part in spec["parts"]:
            if declared is not None:
                _, _, _, sub = declared.part(part["opt"].replace("-", "_"))
                if "kind" not in part and sub is not None:
                    part = dict(part, kind=KIND_OF_MEANING[sub.kind])
                if part.get("kind") == "enum" and "table" not in part:
                    part = dict(part, table=sub.table)
            parts.append(part)
        extra["parts"] = parts
    return dict(spec, **extra) if extra else spec


def _default_kind(ctype, is_tail):
    if is_tail:
        if ctype is ctypes.c_uint8:
            return "blob"
        if issubclass(ctype, ctypes.Structure):
            return "items"
        return "list"
    if issubclass(ctype, ctypes.Array):
        if ctype._type_ is ctypes.c_uint8:
            return "hex"
        if ctype._type_ is ctypes.c_char:
            return "str"
        return "list"
    if issubclass(ctype, ctypes.Structure):
        return "struct"
    return "int"


def _item_parser(kind, ctype):
    if kind == "size":
        return lambda text: P.parse_size(text)
    if kind == "uuid":
        return lambda text: P.parse_uuid(text)
    if kind == "hex":
        return lambda text: P.parse_hex(text)
    bits = _int_bits(ctype) if ctype is not None else 64
    return lambda text: P.parse_int(text, bits)


class RequestBuilder:
    """Parsed option values (+ ``--input`` JSON) -> request dict for codec.build."""

    def __init__(self, entry, fields, passphrases):
        self.entry = entry
        self.fields = fields                # [FieldOpt]
        self.passphrases = passphrases      # {field path: role}

    # -- JSON input --------------------------------------------------------------------
    def from_json(self, data):
        """Normalise a JSON request (hex strings, names, sizes) against the structure."""
        cls = self.entry.req_cls
        if not isinstance(data, dict):
            raise P.ValueProblem("--input must hold a JSON object of request fields")
        if data.get("dry_run") is True and isinstance(data.get("request"), dict):
            data = self._dry_run_fields(data["request"])
        elif "schema_version" in data and "command" in data:
            data = self._reply_fields(data)
        return _normalise(cls, data, self)

    @staticmethod
    def _reply_fields(doc):
        """The fields of a reply as cxl-mi's ``--json`` prints it (a Get's reply, edited,
        for the Set of the same settings)."""
        if isinstance(doc.get("result"), dict):
            return doc["result"]
        if "error" in doc:
            raise P.ValueProblem("--input holds the error report of %s, not request fields"
                                 % doc.get("command"))
        raise P.ValueProblem("--input holds the output of %s without an object of fields "
                             "in its result" % doc.get("command"))

    def _dry_run_fields(self, shown):
        """The request fields of a ``--dry-run --json`` document: what was previewed is
        what goes (only for the command it previewed)."""
        if shown.get("name") != self.entry.name:
            raise P.ValueProblem("--input holds a dry run of %s, not of %s" % (
                shown.get("name") or "another command", self.entry.name))
        if shown.get("levels"):
            raise P.ValueProblem("--input holds a dry run of a tunnelled request: give the "
                                 "tunnel options again with its fields alone")
        fields = shown.get("fields")
        if not isinstance(fields, dict):
            raise P.ValueProblem("--input holds a dry run without its request fields")
        return fields

    # -- options -----------------------------------------------------------------------
    def build(self, ctx, values, json_request=None):
        req = dict(json_request or {})
        self._missing_parts = []
        for f in self.fields:
            given = [p for p in f.params
                     if ctx.get_parameter_source(p.name) not in (None, _DEFAULT_SOURCES)]
            self._apply(f, req, values, given, json_request or {})
            for value, why in f.spec.get("refuse", {}).items():     # reqspec: refused
                if _has_path(req, f.path) and _get_path(req, f.path) == value:
                    raise P.ValueProblem("%s %s" % (f.opt or f.path, why))
        return req

    def _apply(self, f, req, values, given, json_request):
        spec, kind = f.spec, f.kind
        present = _has_path(json_request, f.path)
        if kind == "count":
            return
        if kind == "fixed":
            _set_path(req, f.path, _user_default(f, spec["default"]))
            return
        if kind == "packed":
            current = _get_path(req, f.path) if present else None
            value = _packed_to_int(current) if current is not None else 0
            for part, p in zip(spec["parts"], f.params):
                lo, hi = part["lo"], part["hi"]
                mask = ((1 << (hi - lo + 1)) - 1) << lo
                if p in given:
                    v = values[p.name]
                    v = 1 if v is True else int(v)
                elif not present and part.get("default") is not None:
                    v = part["default"]
                    if part.get("kind") == "enum" and isinstance(v, str):
                        v = part["table"][v]
                else:
                    if part.get("required") and not present:
                        self._missing_parts.append(p.opts[0])
                    continue
                if v > (mask >> lo):
                    raise P.ValueProblem("--%s %d does not fit in %d bits"
                                         % (part["opt"], v, hi - lo + 1))
                value = (value & ~mask) | (v << lo)
            if f.ctype is not None and issubclass(f.ctype, ctypes.Array):
                value = value.to_bytes(ctypes.sizeof(f.ctype), "little")
            _set_path(req, f.path, value)
            return
        if kind == "blob":
            p_file, p_hex = f.params
            if p_file in given and p_hex in given:
                raise P.ValueProblem("give %s or %s, not both" % (p_file.opts[0], p_hex.opts[0]))
            if p_file in given:
                _set_path(req, f.path, values[p_file.name])
            elif p_hex in given:
                _set_path(req, f.path, values[p_hex.name])
            return
        if kind == "bool":
            p = f.params[0]
            if p in given and values[p.name]:
                bit = spec.get("bit")
                cur = _get_path(req, f.path) if present else 0
                _set_path(req, f.path, (cur or 0) | (1 << bit) if bit is not None else 1)
            return
        if kind in ("list", "items"):
            p = f.params[0]
            if p in given and values[p.name]:
                if kind == "list":
                    out = []
                    for chunk in values[p.name]:
                        out.extend(chunk)
                else:
                    out = list(values[p.name])
                _set_path(req, f.path, out)
            elif not present and spec.get("default") is not None:
                _set_path(req, f.path, P.parse_int_list(spec["default"]) if kind == "list"
                          else spec["default"])
            return
        p = f.params[0]
        if p in given:
            _set_path(req, f.path, values[p.name])
        elif not present and spec.get("default") is not None:
            _set_path(req, f.path, _user_default(f, spec["default"]))

    def missing(self, req):
        """Options a command needs that neither argv nor --input gave."""
        out = []
        for f in self.fields:
            if f.spec.get("required") and f.kind not in ("count", "fixed", "packed") and \
                    not _has_path(req, f.path):
                out.append(f.opt or f.path)
        from .reqspec import NEEDS_ONE_OF, NEEDS_WHEN   # at least one field of each group
        for group in NEEDS_ONE_OF.get(self.entry.req, ()):
            if not any(_has_path(req, path) for path in group):
                opts = [f.opt or f.path for f in self.fields if f.path in group]
                out.append(opts[0] if len(opts) == 1 else "one of " + ", ".join(opts))
        for path, mask, value, what, group in NEEDS_WHEN.get(self.entry.req, ()):
            have = _get_path(req, path) if _has_path(req, path) else None
            if isinstance(have, int) and (have if mask is None else have & mask) == value \
                    and not any(_has_path(req, p) for p in group):
                opts = [f.opt or f.path for f in self.fields if f.path in group]
                out.append("%s (for %s)" % (" or ".join(opts), what))
        return out + list(getattr(self, "_missing_parts", ()))


from click.core import ParameterSource  # noqa: E402  (click >= 8.0)
_DEFAULT_SOURCES = ParameterSource.DEFAULT


def _user_default(f, default):
    """A default written as the user would type it, parsed by the option's type."""
    if not f.params or not isinstance(default, str):
        return default
    t = f.params[0].type
    if isinstance(t, P._Type):
        return t.parse(default, f.params[0])
    return default


def _packed_to_int(value):
    if isinstance(value, (bytes, bytearray)):
        return int.from_bytes(value, "little")
    return int(value)


def _has_path(d, path):
    for part in path.split("."):
        if not isinstance(d, dict) or part not in d:
            return False
        d = d[part]
    return True


def _get_path(d, path):
    for part in path.split("."):
        d = d[part]
    return d


def _set_path(d, path, value):
    parts = path.split(".")
    for part in parts[:-1]:
        d = d.setdefault(part, {})
    d[parts[-1]] = value


class _InputProblem(P.ValueProblem):
    """A --input value refused, the message already naming its field's whole path."""


def _json_type(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "true or false",
            type(None): "null"}.get(type(value), "a number")


def _byte_values(value, size, what):
    """Bytes given as hex text or a list of byte values (nothing else: bytes(5) would
    be five zero bytes)."""
    if isinstance(value, str):
        return P.parse_hex(value, size, what)
    if isinstance(value, list):
        return bytes(P.parse_int(v, 8, what=what) for v in value)
    raise P.ValueProblem("expected hex or a list of byte values, got %s" % _json_type(value))


def _uuid_values(value, what):
    """A UUID given as byte values: all 16 of them (a shorter list would be padded with
    zeros into another UUID)."""
    data = _byte_values(value, 16, what)
    if len(data) != 16:
        raise P.ValueProblem("a UUID is 16 bytes, got %d; give it as text "
                             "(0da9c0b5-bf41-4b78-8f79-96b1623b3f17) or 16 byte values"
                             % len(data))
    return data


def _packed_value(value, ctype, what):
    """A field several options share, given whole: a number over all its bits (never
    parsed by its first part's option type: "uncorrectable" is not the whole field),
    or, for a byte array, hex or byte values too."""
    if not issubclass(ctype, ctypes.Array):
        return P.parse_int(value, _int_bits(ctype), what=what)
    size = ctypes.sizeof(ctype)
    if isinstance(value, (str, list)):
        return _byte_values(value, size, what)
    return P.parse_int(value, 8 * size, what=what).to_bytes(size, "little")


def _normalise(cls, data, builder, prefix="", kinds=None):
    """JSON values -> what codec.build takes: hex strings to bytes, names to numbers.
    ``kinds`` ({field: kind}) are a flexible tail entry's parts as its option takes
    them, so the entry's text values read the same ("256M" for a size)."""
    if not isinstance(data, dict):          # a structure inside the request
        raise _InputProblem("--input: %s: expected an object of %s fields, got %s" % (
            prefix.rstrip("."), short_struct_name(cls), _json_type(data)))
    out = {}
    specs = {f.path: f for f in builder.fields} if builder else {}
    known = {}
    for name, ctype in _fields(cls):
        known[name] = ctype
    tail = cls._flex_[0] if getattr(cls, "_flex_", None) else None
    for key, value in data.items():
        if key.endswith(("_decoded", "_bytes")) and key not in known:
            continue                                # our own output's extra keys
        if value is None:
            raise _InputProblem("--input: %s: null is not a value (leave the field out to "
                                "use its default)" % (prefix + key))
        if key not in known:
            raise _InputProblem("--input: %s has no field %r (its fields: %s)" % (
                short_struct_name(cls), prefix + key,
                ", ".join(n for n in known if not cls.is_reserved(n))))
        ctype = known[key]
        path = prefix + key
        f = specs.get(path)
        what = key
        try:
            if key == tail:
                elem = cls._flex_[1]
                if elem is ctypes.c_uint8:
                    out[key] = _byte_values(value, None, what)
                elif issubclass(elem, ctypes.Structure):
                    if not isinstance(value, list):
                        raise P.ValueProblem("expected a list of %s entries, got %s" % (
                            short_struct_name(elem), _json_type(value)))
                    parts = f.spec.get("parts") if f is not None else None
                    entry_kinds = {n: k for n, k, _ in parts or ()}
                    out[key] = [_normalise(elem, v, None, "%s[%d]." % (path, i), entry_kinds)
                                for i, v in enumerate(value)]
                else:
                    out[key] = P.parse_int_list(value, _int_bits(elem), what)
            elif kinds and kinds.get(key) == "uuid":
                out[key] = (P.parse_uuid(value, what=what) if isinstance(value, str)
                            else _uuid_values(value, what))
            elif kinds and kinds.get(key) in ("size", "int") and isinstance(value, str):
                out[key] = _item_parser(kinds[key], ctype)(value)
            elif issubclass(ctype, ctypes.Structure):
                out[key] = _normalise(ctype, value, builder, path + ".")
            elif f is not None and f.kind == "packed":
                out[key] = _packed_value(value, ctype, what)
            elif issubclass(ctype, ctypes.Array) and ctype._type_ is ctypes.c_uint8:
                if f is not None and f.kind == "uuid" and isinstance(value, str):
                    out[key] = f.params[0].type.parse(value, f.params[0])
                elif f is not None and f.kind == "uuid":
                    out[key] = _uuid_values(value, what)
                elif f is not None and f.kind == "le-int" and isinstance(value, int):
                    # a number, as its option takes it (text is the wire's hex, as
                    # cxl-mi's own JSON shows it)
                    out[key] = f.params[0].type.parse(value, f.params[0])
                else:
                    out[key] = _byte_values(value, ctypes.sizeof(ctype), what)
            elif issubclass(ctype, ctypes.Array):
                out[key] = value
            elif f is not None and f.params and isinstance(f.params[0].type, P._Type) \
                    and (isinstance(value, str) or f.kind == "celsius"):
                out[key] = f.params[0].type.parse(value, f.params[0])
            elif isinstance(value, bool) and (f is None or f.kind != "bool"):
                # true is not the number 1 here: only a flag's field takes it
                raise P.ValueProblem("expected a number, got true or false")
            else:
                out[key] = P.parse_int(value, _int_bits(ctype), what=what)
        except _InputProblem:
            raise                   # a structure inside said it, naming the whole path
        except P.ValueProblem as exc:
            raise _InputProblem("--input: %s: %s" % (path, exc))
    return out


def request_options(entry, used=None):
    """Options for ``entry``'s request fields -> (params, RequestBuilder)."""
    cls = entry.req_cls
    used = set(TAKEN) if used is None else used
    fields, params, passphrases = [], [], {}
    if cls is None:
        return params, RequestBuilder(entry, fields, passphrases)
    from . import reqspec
    by_struct = reqspec.BY_STRUCT.get(entry.req, {})
    by_command = reqspec.BY_COMMAND.get(entry.name, {})
    tail = cls._flex_[0] if cls._flex_ else None
    counter = [0]

    def pname():
        # The keyword each option's value arrives under: unique per command and never
        # an option name (those are free to be anything a field is called).
        counter[0] += 1
        return "request_field_%d" % counter[0]

    def optname(wanted, path):
        for candidate in (wanted, path.replace(".", "-").replace("_", "-")):
            if candidate not in used:
                used.add(candidate)
                return "--" + candidate
        raise ValueError("%s: option --%s is taken twice" % (entry.name, wanted))

    def walk(klass, prefix):
        for name, ctype in _fields(klass):
            path = prefix + name
            if klass.is_reserved(name):
                continue
            is_tail = klass is cls and name == tail
            elem = cls._flex_[1] if is_tail else None
            spec = _merge(reqspec.BY_FIELD.get(name), by_struct.get(path),
                          by_command.get(path))
            spec = _with_declared(spec, klass, name, entry.name + ": " + path)
            kind = spec.get("kind")
            if kind is None and klass is cls and name == entry.req_count:
                kind = "count"
            if kind is None:
                kind = _default_kind(elem if is_tail else ctype, is_tail)
            if kind == "struct":
                walk(ctype, path + ".")
                continue
            field_ctype = elem if is_tail else ctype
            wanted = spec.get("opt") or name.replace("_", "-")
            note = "" if wanted == name.replace("_", "-") else "JSON field %s" % path
            if kind in ("count",):
                fields.append(FieldOpt(path, spec, [], kind, ctype))
                continue
            if kind == "fixed":
                fields.append(FieldOpt(path, spec, [], kind, ctype))
                continue
            if kind == "passphrase":
                passphrases[path] = spec.get("role", "current")
                continue
            if kind == "packed":
                ps = []
                for part in spec["parts"]:
                    pkind = part.get("kind", "int")
                    name_ = optname(part["opt"], path + "." + part["opt"])
                    if pkind == "bool":
                        p = click.Option([name_, pname()], is_flag=True, default=None,
                                         help=_help(part, "bool"))
                    else:
                        width = part["hi"] - part["lo"] + 1
                        t = P.Enum(part["table"], width) if pkind == "enum" else P.Int(width)
                        p = click.Option([name_, pname()], type=t, default=None,
                                         help=_help(part, pkind))
                    ps.append(p)
                fields.append(FieldOpt(path, spec, ps, kind, ctype))
                params.extend(ps)
                continue
            if kind == "blob":
                name_ = optname(wanted, path)
                maxlen = None if is_tail else ctypes.sizeof(ctype)
                p_file = click.Option([name_, pname()], type=P.FileBytes(), default=None,
                                      help=_help(spec, kind, "read from FILE ('-' is stdin)"
                                                 + ("; " + note if note else "")))
                p_hex = click.Option([optname(wanted + "-hex", path + "-hex"), pname()],
                                     type=P.Hex(maxlen), default=None,
                                     help="the same as hex bytes (0xdeadbeef, de:ad:be:ef)")
                fields.append(FieldOpt(path, spec, [p_file, p_hex], kind, ctype))
                params.extend([p_file, p_hex])
                continue
            if kind == "bool":
                p = click.Option([optname(wanted, path), pname()], is_flag=True, default=None,
                                 help=_help(spec, kind, note))
            elif kind == "list":
                bits = _int_bits(field_ctype if is_tail else ctype._type_)
                p = click.Option([optname(wanted, path), pname()], type=P.IntList(bits),
                                 multiple=True, help=_help(spec, kind, note))
            elif kind == "items":
                parts = spec.get("parts")
                if parts is None:
                    parts = [(n, "int", True) for n, _ in _fields(elem)
                             if not elem.is_reserved(n)]
                ctypes_of = dict(_fields(elem))
                parsers = [(n, _item_parser(k, ctypes_of.get(n)), req) for n, k, req in parts]
                metavar = spec.get("metavar") or ":".join(n.upper() for n, _, _ in parts)
                p = click.Option([optname(wanted, path), pname()], multiple=True,
                                 type=P.Item(parsers, metavar),
                                 help=_help(spec, kind, note))
            else:
                t = _param_type(kind, spec, ctype, path)
                p = click.Option([optname(wanted, path), pname()], type=t, default=None,
                                 help=_help(spec, kind, note))
            fields.append(FieldOpt(path, spec, [p], kind, ctype))
            params.append(p)

    walk(cls, "")
    return params, RequestBuilder(entry, fields, passphrases)


# ------------------------------------------------------------------------ commands

def describe_entry(entry):
    """Help text for a generated command."""
    parts = [entry.summary + ".",
             "Opcode %04Xh (%s), registry name %s." % (
                 entry.opcode, "FM-API, MCTP type 7" if entry.fmapi else "CCI", entry.name)]
    if entry.extension:
        parts.append("Extension: libcxlmi has no cxlmi_cmd_* for this command; cxl-mi and "
                     "cxlmi_bindings add cxlmi_cmd_%s." % entry.name)
    if entry.destructive:
        parts.append("DESTRUCTIVE: asks for confirmation on a terminal and needs --yes "
                     "otherwise.")
    if entry.passphrase:
        parts.append("Passphrases come from a hidden prompt or --passphrase-file / "
                     "--new-passphrase-file, never from the command line.")
    if entry.bg:
        parts.append("May run in the background: follow it with `cxl-mi generic "
                     "bg-op-status`.")
    if entry.req_cls is not None:
        parts.append("--input FILE|- gives the whole request as JSON (field names as in the "
                     "structure, or this command's --dry-run --json output); options "
                     "override its fields.")
    return "\n\n".join(parts)


def default_callback(inv, entry, request):
    """Run one registry command and render its reply."""
    if entry.destructive and not inv.confirmed:
        inv.confirm(entry, request)
    result = inv.call(entry, request)
    inv.emit(entry, result, request)


def make_command(entry, name=None, callback=None, extra_params=(), help=None):
    """The click command for a registry entry.

    ``callback(inv, entry, request, **extra)`` replaces the default body
    (which confirms destructive commands, calls and renders); ``extra``
    holds the values of ``extra_params``.
    """
    extra_params = list(extra_params)
    used = set(TAKEN) | {o.lstrip("-") for p in extra_params for o in p.opts}
    req_params, builder = request_options(entry, used)
    common = common_params(entry=entry, request=entry.req_cls is not None,
                           passphrase_roles=sorted(set(builder.passphrases.values())))
    extra_names = [p.name for p in extra_params]
    body = callback or default_callback

    @click.pass_context
    def run(ctx, **values):
        input_data = values.get("input_file")
        inv = Invocation.from_values(ctx, values, entry)
        with guard(inv):
            inv.resolve()
            json_request = None
            if input_data is not None:
                json_request = builder.from_json(input_data)
            request = builder.build(ctx, values, json_request)
            # every option is checked, and a destructive command confirmed, before
            # anyone is asked for a passphrase
            missing = [m for m in builder.missing(request)
                       if m not in builder.passphrases]
            if missing:
                raise P.ValueProblem("%s needs %s (as an option or in --input)"
                                     % (inv.command_name, ", ".join(missing)))
            if builder.passphrases:
                if entry.destructive and body is default_callback:
                    inv.confirm(entry, request)
                for path, role in builder.passphrases.items():
                    if not _has_path(request, path):
                        _set_path(request, path, inv.passphrase(role))
            # one registry command, one request: a dry run shows all there is
            inv.single_request = body is default_callback
            extra = {n: values.get(n) for n in extra_names}
            if entry.req_cls is None:
                request = None
            body(inv, entry, request, **extra)

    cmd = click.Command(name or entry.cli_name, callback=run,
                        params=common[:1] + req_params + extra_params + common[1:],
                        help=help or describe_entry(entry),
                        short_help=entry.summary,
                        context_settings={"help_option_names": ["-h", "--help"]})
    cmd.entry = entry
    cmd.builder = builder
    return cmd
