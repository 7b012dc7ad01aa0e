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


#: what a two-column SIMPLE table adds to its cells: a space of padding each side
#: of each cell, the rule between them, and an edge column each side
PAIRS_CHROME = 7


def kv_fits(console, pairs):
    """Do the keys, unwrapped, leave room for the longest word of any value?"""
    from rich.cells import cell_len
    keys = max((cell_len(k) for k, _ in pairs), default=0)
    word = max((cell_len(w) for _, v in pairs for w in v.split()), default=0)
    return keys + word + PAIRS_CHROME <= console.width


def rows_fit(console, table):
    """Does the table fit without wrapping any cell?  (If not, rich would
    squeeze its columns and fold words.)"""
    # Measured as if the console were unbounded: rich clamps a measurement to
    # the width it is given, which would make every table "fit".
    unbounded = console.options.update_width(1 << 16)
    return console.measure(table, options=unbounded).maximum <= console.width


def print_record(console, caption, pairs):
    """One ``field: value`` line per pair, wrapped as text: for narrow terminals,
    where every value stays whole and in one piece."""
    from rich.text import Text
    if caption:
        console.print(Text(caption, style="bold"))
    for k, v in pairs:
        line = Text("  ")
        line.append(k, style="bold")
        line.append(": " + v)
        console.print(line, overflow="fold")


def write(sections, inv=None, title=None):
    from rich import box
    from rich.table import Table
    from rich.text import Text
    from .views import Pairs, Rows, Hexdump, Note
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
        elif isinstance(sec, Pairs):
            t = Table(title=caption, box=box.SIMPLE, show_header=False, title_justify="left")
            # Keys never wrap, so only values do, and at word boundaries.
            t.add_column("field", style="bold", no_wrap=True)
            t.add_column("value", overflow="fold")
            pairs = [(k.replace("_", " "), v) for k, v in sec.pairs]
            for k, v in pairs:
                t.add_row(Text(k), Text(v))
            if kv_fits(console, pairs):
                console.print(t)
            else:
                print_record(console, caption, pairs)
        elif isinstance(sec, Rows):
            t = Table(title=caption, box=box.SIMPLE_HEAD, title_justify="left")
            names = [c.replace("_", " ") for c in sec.columns]
            for name in names:
                t.add_column(name, overflow="fold")
            for row in sec.rows:
                t.add_row(*[Text(c) for c in row])
            if not sec.rows:
                console.print(Text("%s: none" % (caption or "entries")))
            elif rows_fit(console, t):
                console.print(t)
            else:
                for i, row in enumerate(sec.rows):
                    print_record(console, "%s [%d]" % (caption or "entry", i),
                                 list(zip(names, row)))
