# SPDX-License-Identifier: LGPL-2.1-or-later
"""Renderers chosen once: each output format is an object that builds only its form.

A command hands ``inv.out.show`` every form of its answer as a function; the
format calls the one it writes.  So -o raw never builds a table (nor imports
rich) and never sends what only the other forms show (identify's Memory Device
Identify), and a command without a raw form refuses -o raw before it sends.
"""

import json
import subprocess
import sys

import pytest

from cxlmi_cli import render

from cli_helpers import both, clean_cli, invoke  # noqa: F401  (clean_cli: a fixture)
from test_cli import ROOT


class FakeInv:
    command_name, target, where = "thing", "emu:type3", "emu:type3"

    def tunnel_json(self):
        return None


def forms(calls):
    def make(name, value):
        def form():
            calls.append(name)
            return value
        return form
    return make("json", {"k": 1}), make("table", []), make("raw", b"\x01")


@pytest.mark.parametrize("name", ["table", "json", "raw"])
def test_each_format_builds_only_its_own_form(name, capsys):
    calls = []
    json_form, table_form, raw_form = forms(calls)
    render.output(FakeInv(), name).show(json_form, table_form, raw_form)
    assert calls == [name]


def test_raw_without_a_raw_form_is_a_usage_error_and_only_raw_refuses_early():
    import click
    with pytest.raises(click.UsageError, match="thing has no raw output"):
        render.output(FakeInv(), "raw").show(lambda: {}, lambda: [], None)
    with pytest.raises(click.UsageError, match="no raw here"):
        render.output(FakeInv(), "raw").needs_no_raw("no raw here")
    for name in ("table", "json"):
        render.output(FakeInv(), name).needs_no_raw("no raw here")        # nothing


def test_identify_raw_sends_one_command_and_table_json_send_two(clean_cli, monkeypatch):
    from cxlmi_cli.options import Invocation
    real, sent = Invocation.call, []

    def call(self, entry, *args, **kw):
        sent.append(entry.name)
        return real(self, entry, *args, **kw)
    monkeypatch.setattr(Invocation, "call", call)
    for output in ("raw", "json", "table"):
        del sent[:]
        res = invoke(["identify", "emu:type3", "-o", output])
        assert res.exit_code == 0, both(res)
        assert sent == (["identify"] if output == "raw" else ["identify", "memdev_identify"])


def test_list_refuses_raw_before_looking_for_anything(clean_cli, monkeypatch):
    from cxlmi_cli.commands import list as list_cmd

    def no_scan(*a, **k):
        raise AssertionError("scanned")
    monkeypatch.setattr(list_cmd, "_detect", no_scan)
    res = invoke(["list", "-o", "raw"])
    assert res.exit_code == 2 and "'raw' is not one of 'table', 'json'" in both(res)
    # and its help does not offer what it refuses
    help_text = " ".join(invoke(["list", "--help"]).stdout.split())
    assert "-o, --output [table|json]" in help_text and "table|json|raw" not in help_text


def test_raw_output_does_not_import_rich():
    code = ("import sys; from cxlmi_cli.main import main\n"
            "try:\n    main(['identify', 'emu:type3', '-o', 'raw'])\n"
            "except SystemExit:\n    pass\n"
            "sys.stderr.write(str(any(m == 'rich' or m.startswith('rich.') "
            "for m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         env=dict(__import__("os").environ, PYTHONPATH=ROOT))
    assert out.stderr.decode().endswith("False"), out.stderr


def test_a_json_error_object_is_written_by_the_json_format_only(capsys):
    render.output(FakeInv(), "table").problem({"error": 1})
    render.output(FakeInv(), "raw").problem({"error": 1})
    assert capsys.readouterr().out == ""
    render.output(FakeInv(), "json").problem({"error": 1})
    assert json.loads(capsys.readouterr().out) == {"error": 1}


def test_json_is_one_indented_document_ending_in_a_newline(capsys):
    render.output(FakeInv(), "json").show(lambda: {"k": 1, "s": "µ"}, lambda: [])
    assert capsys.readouterr().out == '{\n  "k": 1,\n  "s": "µ"\n}\n'


def test_raw_of_a_hand_written_answer_without_bytes_is_nothing(capsysbinary):
    render.output(FakeInv(), "raw").data({"k": 1})
    render.output(FakeInv(), "raw").data({"k": 1}, raw=b"\x05\x06")
    assert capsysbinary.readouterr().out == b"\x05\x06"


def test_a_lazy_logger_says_nothing_is_enabled_without_importing_logging():
    # the CLI asks before building a debug line it would throw away (one per
    # firmware part); asking must not import logging
    code = ("import sys; from cxlmi_bindings import _log\n"
            "l = _log.get('t'); print(l.isEnabledFor(10), 'logging' in sys.modules)\n"
            "import logging; logging.basicConfig(level=10); print(l.isEnabledFor(10))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, env=dict(__import__("os").environ, PYTHONPATH=ROOT))
    assert out.stdout.split() == ["False", "False", "True"], out.stderr
