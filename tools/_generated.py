# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write generated files, or (``--check``) say which committed ones are stale."""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sync(files, out_dir, tool, argv=None):
    """``files``: name -> text to keep in ``out_dir``.  Returns an exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in argv
    stale = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        try:
            with open(path, encoding="utf-8") as f:
                current = f.read()
        except OSError:
            current = None
        if current == text:
            continue
        if check:
            stale.append(os.path.relpath(path, ROOT))
            continue
        os.makedirs(out_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("wrote %s" % os.path.relpath(path, ROOT))
    if stale:
        print("stale: %s -- run python tools/%s" % (", ".join(stale), tool), file=sys.stderr)
        return 1
    return 0
