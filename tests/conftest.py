# SPDX-License-Identifier: LGPL-2.1-or-later
"""What every test shares: an environment that does not depend on the caller's shell.

Rendered output depends on the terminal width (``COLUMNS``, which many shells
export), on colour switches (``NO_COLOR``, ``FORCE_COLOR``, ``TERM``…) and on the
locale.  A test that checks text must see the same text on every machine, so
the whole session runs with these pinned; the child processes the tests start
inherit them.  Tests about width set ``COLUMNS`` themselves
(``tests/test_table_width.py``).
"""

import os

import pytest

#: the values rendered text is checked against
PINNED = {
    "COLUMNS": "120",
    "LINES": "40",
    "NO_COLOR": "1",
    "TERM": "dumb",
    "LC_ALL": "C.UTF-8",
    "LANG": "C.UTF-8",
}
#: switches that would override the pinned values, or pick a target, if set
UNSET = ("FORCE_COLOR", "CLICOLOR_FORCE", "CLICOLOR", "COLORTERM", "TTY_COMPATIBLE",
         "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES", "CXLMI_TARGET")


def pin_environment(environ):
    """Set :data:`PINNED` and drop :data:`UNSET` in ``environ``; returns what to restore."""
    saved = {k: environ.get(k) for k in list(PINNED) + list(UNSET)}
    environ.update(PINNED)
    for k in UNSET:
        environ.pop(k, None)
    return saved


@pytest.fixture(scope="session", autouse=True)
def pinned_environment():
    saved = pin_environment(os.environ)
    yield dict(PINNED)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
