# SPDX-License-Identifier: LGPL-2.1-or-later
"""Random ``--input`` JSON and random option values into every generated command.

Each registry command with a request structure is run as
``cxl-mi GROUP COMMAND emu:PROFILE --input - --dry-run --json`` with a request
of random shape on stdin: its fields given values of any JSON type (numbers out
of range, floats, huge and negative ints, hex and not-hex strings, mixed lists,
nested objects, null, booleans), unknown keys, and its structures and flexible
tails of the wrong shape; and with random text for the command's own options.
The property: exit 0 with a JSON document, or exit 2 with one ``cxl-mi: error:``
(or click usage) line on stderr; never a traceback.  Bounded and derandomized.
"""

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cli_helpers import clean_cli, runner  # noqa: F401  (fixture)
from cxlmi_bindings import registry
from cxlmi_cli.build import _fields
from cxlmi_cli.main import cli

ENTRIES = [e for e in registry.COMMANDS if e.req_cls is not None]
IDS = [e.name for e in ENTRIES]
FUZZ = settings(max_examples=20, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


NUMBERS = st.one_of(st.integers(-2, 300), st.integers(-(1 << 70), 1 << 70),
                    st.sampled_from([0, 1, 255, 256, 65535, 65536, 1 << 32, 1 << 64, -1,
                                     1 << 13000]),     # ~3900 digits: JSON still reads it
                    st.floats(allow_nan=False, allow_infinity=False))
TEXT = st.one_of(st.sampled_from(["", "0x", "0x10", "zz", "deadbeef", "de:ad", "abc",
                                  "4K", "1.5G", "-1", "none", "all", "1,2", "0x" + "f" * 40,
                                  "00112233-4455-6677-8899-aabbccddeeff", "true", "null",
                                  "0x" + "f" * 4000, "9" * 5000, "1" * 400 + ".5K"]),
                 st.text(max_size=8))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=8)


def _argv(entry):
    target = "emu:switch" if entry.fmapi else "emu:type3"
    return [entry.group, entry.cli_name, target] + (["--yes"] if entry.destructive else [])


def _leaves(cls, prefix=""):
    """(path, a plausible value) for every leaf field of a structure, nested ones too:
    a request that passes the required-field checks, for the fuzz to spoil."""
    import ctypes
    out = []
    tail = cls._flex_[0] if getattr(cls, "_flex_", None) else None
    for name, ctype in _fields(cls):
        if name == tail:
            out.append((prefix + name, []))
        elif issubclass(ctype, ctypes.Structure):
            out.extend(_leaves(ctype, prefix + name + "."))
        elif issubclass(ctype, ctypes.Array):
            out.append((prefix + name, "00" if ctype._type_ is ctypes.c_uint8 else [0]))
        else:
            out.append((prefix + name, 0))
    return out


def _set(d, path, value):
    parts = path.split(".")
    for p in parts[:-1]:
        nxt = d.get(p)
        if not isinstance(nxt, dict):
            nxt = d[p] = {}
        d = nxt
    d[parts[-1]] = value


@st.composite
def requests(draw, entry):
    leaves = _leaves(entry.req_cls)
    req = {}
    if draw(st.booleans()):
        for path, value in leaves:
            _set(req, path, value)
    keys = [p for p, _ in leaves]
    for path in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        _set(req, path, draw(VALUES))
    if draw(st.integers(0, 5)) == 0:
        req[draw(st.sampled_from(["bogus", "x_decoded", "offset_bytes"]))] = draw(VALUES)
    if draw(st.integers(0, 9)) == 0:
        return draw(VALUES)                     # not an object at all
    if draw(st.integers(0, 5)) == 0:            # a --dry-run --json document around it
        shown = {"name": draw(st.sampled_from([entry.name, "get_lsa", None, 5])),
                 "fields": req if draw(st.booleans()) else draw(VALUES)}
        if draw(st.booleans()):
            shown["levels"] = draw(VALUES)
        return {"dry_run": True, "request": shown}
    return req


#: JSON nested deeper than a decoder that recurses per level can follow
DEEP = "[" * 100000 + "]" * 100000


def stdin_texts(entry):
    return st.one_of(requests(entry).map(json.dumps), st.just(DEEP))


def _options(entry):
    """(option, is_flag) for every request option of the generated command."""
    cmd = cli.get_command(None, entry.group).get_command(None, entry.cli_name)
    return [(q.opts[0], q.is_flag) for f in cmd.builder.fields for q in f.params]


OPT_VALUES = st.one_of(TEXT, NUMBERS.map(str))
#: the commands whose request fields have options of their own (not --input alone)
WITH_OPTIONS = [e for e in ENTRIES if _options(e)]


def check(res):
    assert res.exit_code in (0, 2), (res.exit_code, res.stderr, res.exception)
    assert "Traceback" not in res.stdout + res.stderr
    if res.exit_code == 0:
        json.loads(res.stdout)
    else:
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("cxl-mi: error:")
                  or ln.startswith("Error:")]
        assert len(errors) == 1, res.stderr


def run(argv, stdin):
    return runner().invoke(cli, argv, input=stdin, catch_exceptions=True)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_random_input_json_is_used_or_refused(clean_cli, entry):
    argv = _argv(entry) + ["--input", "-", "--dry-run", "--json"]

    @FUZZ
    @given(stdin_texts(entry))
    def prop(text):
        check(run(argv, text))
    prop()


@pytest.mark.parametrize("entry", WITH_OPTIONS, ids=[e.name for e in WITH_OPTIONS])
def test_random_option_values_are_used_or_refused(clean_cli, entry):
    opts = _options(entry)
    argv = _argv(entry)

    @FUZZ
    @given(st.lists(st.tuples(st.sampled_from(opts), OPT_VALUES), min_size=1, max_size=4))
    def prop(pairs):
        args = [a for (o, flag), v in pairs for a in ((o,) if flag else (o, v))]
        check(run(argv + args + ["--dry-run", "--json", "--yes"], None))
    prop()


@pytest.mark.parametrize("entry", WITH_OPTIONS, ids=[e.name for e in WITH_OPTIONS])
def test_random_options_over_random_input_json_are_used_or_refused(clean_cli, entry):
    opts = _options(entry)
    argv = _argv(entry)

    @FUZZ
    @given(stdin_texts(entry),
           st.lists(st.tuples(st.sampled_from(opts), OPT_VALUES), min_size=1, max_size=3))
    def prop(text, pairs):
        args = [a for (o, flag), v in pairs for a in ((o,) if flag else (o, v))]
        check(run(argv + args + ["--input", "-", "--dry-run", "--json"], text))
    prop()
