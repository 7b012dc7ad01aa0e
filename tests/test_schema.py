# SPDX-License-Identifier: LGPL-2.1-or-later
"""The field meanings declared beside the layouts (cxlmi_bindings.types).

Every meaning is attached to a real field, names a table that exists, and fits
the field it describes; every place the CLI asks for a meaning by name asks for
a real one; the registry's count fields agree with the layouts'.
"""

import ctypes
import os
import re

import pytest

from cxlmi_bindings import registry, types
from cxlmi_bindings.types import meaning

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRUCTS = types.structs()          # builds every class: parses every declared meaning


def _field_types(cls):
    out = {}
    for klass in reversed(cls.__mro__):
        for name, ctype in klass.__dict__.get("_fields_", ()):
            out[name] = ctype
    return out


def _bits(ctype):
    """Width in bits of a scalar field or a byte array read as one number."""
    return ctypes.sizeof(ctype) * 8


def _declared():
    for name, cls in STRUCTS.items():
        for field, what in getattr(cls, "_meanings_", {}).items():
            yield name, cls, field, what


def test_every_meaning_is_attached_to_a_field_of_its_structure():
    for name, cls, field, what in _declared():
        assert field in _field_types(cls), (name, field)


def test_every_count_of_names_an_array_of_the_same_structure():
    for name, cls, field, what in _declared():
        if isinstance(what, meaning.CountOf):
            target = _field_types(cls).get(what.field)
            assert target is not None, (name, field, what.field)
            assert issubclass(target, ctypes.Array), (name, what.field)


def test_enum_and_flag_tables_fit_the_field_they_describe():
    def check(where, what, width):
        if isinstance(what, meaning.Enum):
            assert all(0 <= v < 1 << width for v in what.table.values()), where
        elif isinstance(what, meaning.Flags):
            assert all(0 <= bit < width for bit in what.table.values()), where
        elif isinstance(what, meaning.Packed):
            covered = 0
            for part, low, high, sub in what.parts:
                assert 0 <= low <= high < width, (where, part)
                mask = ((1 << (high - low + 1)) - 1) << low
                assert covered & mask == 0, (where, part, "overlaps another part")
                covered |= mask
                if sub is not None:
                    check((where, part), sub, high - low + 1)

    for name, cls, field, what in _declared():
        check((name, field), what, _bits(_field_types(cls)[field]))


def test_a_meaning_that_names_no_table_or_no_kind_is_refused_with_its_field():
    from cxlmi_bindings.types import memdev
    with pytest.raises(ValueError, match="x.media_status.*MEDIA_STATUSES"):
        meaning.parse("enum MEDIA_STATUSES", memdev, "x.media_status")
    with pytest.raises(ValueError, match="no meaning called 'colour'"):
        meaning.parse("colour", memdev, "x.y")
    with pytest.raises(ValueError, match="takes 1 argument"):
        meaning.parse("enum", memdev, "x.y")


def test_asking_for_the_meaning_of_a_field_that_does_not_exist_fails_loudly():
    cls = types.get("cmd_memdev_get_health_info_rsp")
    assert cls.meaning("media_status").decode(0) == "normal"
    assert cls.meaning("dirty_shutdown_count") is None
    with pytest.raises(KeyError):
        cls.meaning("media_state")


# Calls in cxlmi_cli that name a structure and a field as strings.
_NAMED = re.compile(r"""(?:_meaning|field_meaning)\(\s*"(\w+)",\s*"(\w+)"\s*\)""")


def test_every_meaning_the_cli_asks_for_by_name_is_declared():
    asked = []
    for folder, _, files in os.walk(os.path.join(ROOT, "cxlmi_cli")):
        for f in files:
            if f.endswith(".py"):
                asked += _NAMED.findall(open(os.path.join(folder, f)).read())
    assert len(asked) >= 5
    for struct, field in asked:
        assert types.get(struct).meaning(field) is not None, (struct, field)


def test_every_flexible_tail_a_command_carries_is_counted_by_a_field():
    # The registry takes its req_count / rsp_count from these count-of declarations;
    # only a request whose tail the caller sizes (req_data: data_sz bytes) has none.
    for entry in registry.COMMANDS:
        for cls, count, sized_by_caller in ((entry.req_cls, entry.req_count,
                                             entry.call == "req_data"),
                                            (entry.rsp_cls, entry.rsp_count, False)):
            if cls is None or cls._flex_ is None:
                continue
            if sized_by_caller:
                assert count is None, entry.name
            else:
                assert count is not None, (entry.name, cls.__name__)
                assert cls.meaning(count).field == cls._flex_[0]


def test_the_names_each_kind_of_meaning_gives():
    assert meaning.parse("celsius", None).decode(0xFFF6) == -10
    assert meaning.parse("celsius", None).decode(0xFFFF) is None
    assert meaning.parse("percent unimplemented=0xff", None).decode(0xFF) is None
    assert meaning.parse("percent", None).decode(0xFF) == 255
    assert meaning.parse("id-bitmap", None).decode(0b101) == [0, 2]
    assert meaning.parse("id-bitmap", None).decode(b"\x00\x01") == [8]
    assert meaning.parse("log2-bytes", None).decode(11) == 2048
    assert meaning.parse("le-int", None).decode(b"\x01\x02\x00") == 0x201
    from cxlmi_bindings.types import memdev
    assert meaning.parse("units CAPACITY_UNIT", memdev).decode(4) == 1 << 30
    flags = meaning.parse("flags HEALTH_STATUS", memdev)
    assert flags.decode(0b1001) == ["maintenance-needed", "bit3"]
    packed = types.get("event_record").meaning("flags")
    assert packed.decode(bytes([0b0110, 0, 0])) == {"severity": "failure",
                                                     "flags": ["permanent-condition"]}


# ------------------------------------------------------------------------ to_dict

def _cli_result(args):
    import json
    from cli_helpers import invoke
    res = invoke(args + ["--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["result"]


def _hex_bytes(data):
    if isinstance(data, dict):
        return {k: _hex_bytes(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_hex_bytes(v) for v in data]
    return data.hex() if isinstance(data, bytes) else data


@pytest.mark.parametrize("call,args", [
    ("memdev_get_health_info", ["memdev", "get-health-info", "emu:type3"]),
    ("get_supported_logs", ["generic", "get-supported-logs", "emu:type3"]),
    ("memdev_identify", ["memdev", "identify", "emu:type3"]),
    ("get_event_interrupt_policy", ["generic", "get-event-interrupt-policy", "emu:type3"]),
])
def test_a_library_result_decoded_has_the_names_and_values_the_cli_json_shows(call, args):
    from cxlmi_bindings import Context
    with Context() as ctx:
        got = getattr(ctx.open("emu:type3"), call)().to_dict(decoded=True)
    assert _hex_bytes(got) == _cli_result(args)


def test_to_dict_raw_keeps_every_field_and_decoded_leaves_out_reserved_and_cuts_to_count():
    cls = types.get("cmd_memdev_get_dc_config_rsp")
    rsp = cls()
    rsp.num_regions, rsp.regions_returned = 3, 2
    raw = rsp.to_dict()
    assert "rsvd1" in raw and len(raw["region_configs"]) == 8
    assert isinstance(raw["rsvd1"], bytes)
    decoded = rsp.to_dict(decoded=True)
    assert "rsvd1" not in decoded and len(decoded["region_configs"]) == 2
    assert decoded["region_configs"][0]["decode_len_bytes"] == 0
    assert "rsvd2" not in decoded["region_configs"][0]


def test_a_composite_reply_decodes_its_parts():
    from cxlmi_bindings import codec
    block = types.get("cmd_fmapi_vcs_info_block").sized(1)()
    block.vppbs[0].binding_status = 2
    comp = codec.Composite(num_vcs=1, vcs_info_list=[block])
    decoded = comp.to_dict(decoded=True)
    assert decoded["vcs_info_list"][0]["vppbs"][0]["binding_status_decoded"] == "bound-port"
    assert "rsv1" not in decoded["vcs_info_list"][0]["vppbs"][0]
    assert "rsv1" in comp.to_dict()["vcs_info_list"][0]["vppbs"][0]


# ------------------------------------------------------------------------ docs

def test_the_json_schema_docs_decoded_field_table_is_generated_from_the_layouts():
    import subprocess
    import sys
    res = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_json_schema_doc.py"),
                          "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_every_meaning_describes_what_its_json_key_holds():
    for name, cls, field, what in _declared():
        if what.suffix is not None:
            assert what.describe().split(":")[0] in (
                "string", "list", "object", "number", "true or false"), (name, field)


# ------------------------------------------------------------------------ request options

def _request_specs():
    from cxlmi_cli import reqspec
    for entry in registry.COMMANDS:
        cls = entry.req_cls
        if cls is None:
            continue
        short = entry.req
        for field in cls._meanings_:
            for where, table in (("BY_FIELD", reqspec.BY_FIELD),
                                 ("BY_STRUCT " + short, reqspec.BY_STRUCT.get(short, {})),
                                 ("BY_COMMAND " + entry.name,
                                  reqspec.BY_COMMAND.get(entry.name, {}))):
                if field in table:
                    yield where, cls, field, table[field]


def test_request_options_take_their_kind_names_and_unit_from_the_declared_meaning():
    from cxlmi_cli import build, params
    opts = {p.opts[0]: p for p in build.request_options(registry.get(
        "memdev_set_shutdown_state"))[0]}
    assert isinstance(opts["--state"].type, params.Enum)
    assert opts["--state"].type.convert("dirty", None, None) == 1
    opts = {p.opts[0]: p for p in build.request_options(registry.get("get_poison_list"))[0]}
    assert opts["--length"].type.convert("1K", None, None) == 1024 // 64   # 64-byte units


def test_no_request_option_restates_what_the_layout_declares():
    from cxlmi_cli.build import KIND_OF_MEANING
    for where, cls, field, spec in _request_specs():
        what = cls.meaning(field)
        implied = KIND_OF_MEANING.get(what.kind)
        assert spec.get("kind") is None or spec["kind"] != implied, (where, field)
        assert "table" not in spec and "unit" not in spec, (where, field)
