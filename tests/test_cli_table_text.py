# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tables print device strings as they are: no rich markup, no emoji codes."""

import click
from click.testing import CliRunner

from cxlmi_cli.render import table
from cxlmi_cli.render.views import Pairs, Rows


def test_device_strings_are_printed_literally():
    @click.command()
    def show():
        table.write([Pairs("device", [("fw revision", "FW [bold]1.0[/bold] :smile:")]),
                     Rows("ports", ["name"], [["[red]p0[/red]"]])], title="t")

    out = CliRunner().invoke(show, []).output
    assert "FW [bold]1.0[/bold] :smile:" in out
    assert "[red]p0[/red]" in out
