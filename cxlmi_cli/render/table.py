# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tables for people, drawn with rich (imported here, and only here)."""

import os

from .. import streams


def _console():
    from rich.console import Console
    out = streams.text("stdout")
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    # Device strings (firmware revisions, vendor text) are data: never read
    # them as rich markup or emoji codes.
    plain = dict(highlight=False, markup=False, emoji=False)
    if tty:
        return Console(file=out, **plain)
    width = int(os.environ.get("COLUMNS", "0") or 0) or 120
    return Console(file=out, width=width, color_system=None, force_terminal=False, **plain)


def hexdump_lines(data, base=0):
    lines = []
    for off in range(0, len(data), 16):
        chunk = data[off:off + 16]
        hexpart = " ".join("%02x" % b for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append("%08x  %-47s  %s" % (base + off, hexpart, text))
    return lines


def write(sections, inv=None, title=None):
    from rich import box
    from rich.table import Table
    from rich.text import Text
    from .views import KV, Rows, Hexdump, Note
    console = _console()
    heading = title
    if heading is None and inv is not None:
        heading = "%s · %s" % (inv.command_name, inv.where)
    if heading:
        console.print(Text(heading, style="bold"), soft_wrap=True)
    for sec in sections:
        caption = getattr(sec, "title", None)
        if caption:
            caption = caption.replace("_", " ")
        if isinstance(sec, Note):
            console.print(Text(sec.text))
        elif isinstance(sec, Hexdump):
            if caption:
                console.print(Text(caption, style="bold"))
            for line in hexdump_lines(sec.data, sec.base) or ["(no data)"]:
                console.print(Text(line), soft_wrap=True)
        elif isinstance(sec, KV):
            t = Table(title=caption, box=box.SIMPLE, show_header=False, title_justify="left")
            t.add_column("field", style="bold")
            t.add_column("value", overflow="fold")
            for k, v in sec.pairs:
                t.add_row(Text(k.replace("_", " ")), Text(v))
            console.print(t)
        elif isinstance(sec, Rows):
            t = Table(title=caption, box=box.SIMPLE_HEAD, title_justify="left")
            for c in sec.columns:
                t.add_column(c.replace("_", " "), overflow="fold")
            for row in sec.rows:
                t.add_row(*[Text(c) for c in row])
            if not sec.rows:
                console.print(Text("%s: none" % (caption or "entries")))
            else:
                console.print(t)
