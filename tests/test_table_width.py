# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tables at any terminal width: nothing the user needs is cut.

``COLUMNS`` is whatever the user's shell exports.  At every width each word a
wide terminal shows must still be there, whole when it fits on a line and
folded (never replaced by an ellipsis) when it does not: tables that cannot
fit their longest words become one record per row.
"""

import re

import pytest

from cli_helpers import clean_cli, invoke  # noqa: F401  (clean_cli is a fixture)

WIDTHS = (20, 40, 80, 200)
COMMANDS = [
    ["identify", "emu:type3"],
    ["fmapi", "get-phys-port-state", "emu:switch", "--ports", "0-3"],
    ["generic", "get-log", "emu:type3", "cel"],
    ["generic", "get-supported-logs", "emu:type3"],
    ["memdev", "get-health-info", "emu:type3"],
]


def words(text):
    """The words a person reads: no table rules, a record's ``key:`` as ``key``."""
    out = []
    for w in text.split():
        if set(w) <= set("─━-│|"):
            continue
        out.append(w[:-1] if w.endswith(":") else w)
    return out


def assert_nothing_lost(wide, narrow, width):
    assert "…" not in narrow and "..." not in narrow.replace("...", "", wide.count("...")), narrow
    have = set(words(narrow))
    squeezed = re.sub(r"\s+", "", narrow)
    for w in words(wide):
        if len(w) < width - 4:
            assert w in have, (w, width, narrow)     # short words stay whole
        else:
            assert w in squeezed, (w, width, narrow)  # long ones fold, in order


def render(args, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    res = invoke(args)
    assert res.exit_code == 0, res.stdout + res.stderr
    return res.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_word_of_a_wide_table_survives_a_narrow_terminal(args, monkeypatch, clean_cli):
    wide = render(args, monkeypatch, 400)
    for width in WIDTHS:
        assert_nothing_lost(wide, render(args, monkeypatch, width), width)


def test_a_table_too_narrow_for_its_words_becomes_records(monkeypatch, clean_cli):
    narrow = render(COMMANDS[1], monkeypatch, 40)
    assert "ports [1]" in narrow
    assert "  device: cxl-type3-sld" in narrow.splitlines()
    wide = render(COMMANDS[1], monkeypatch, 200)
    header = [ln for ln in wide.splitlines() if "device" in ln][0]
    assert header.split() == ["port", "state", "device", "cxl", "width", "speed", "ltssm",
                              "lds", "link"]


def test_values_longer_than_the_terminal_fold_whole(monkeypatch):
    import click
    from click.testing import CliRunner
    from cxlmi_cli.render import table
    from cxlmi_cli.render.views import Pairs, Rows
    uuid = "0da9c0b5-bf41-4b78-8f79-96b1623b3f17"

    @click.command()
    def show():
        table.write([Pairs("log", [("uuid", uuid), ("name", "command effects log")]),
                     Rows("entries", ["uuid", "size"], [[uuid, "4096"]])], title="t")

    for width in (12, 20, 40):
        monkeypatch.setenv("COLUMNS", str(width))
        out = CliRunner().invoke(show, []).output
        assert "…" not in out
        assert out.count(uuid) == 0 or width >= 40
        assert re.sub(r"\s+", "", out).count(uuid) == 2, out
        assert max(len(ln.rstrip()) for ln in out.splitlines()) <= width
