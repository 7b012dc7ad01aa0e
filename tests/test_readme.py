# SPDX-License-Identifier: LGPL-2.1-or-later
"""The README's Python examples run as written (the kernel target swapped for an
emulated one, since this machine has no /dev/cxl)."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _python_blocks():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


def test_the_readme_python_examples_run(capsys):
    blocks = _python_blocks()
    assert len(blocks) >= 2
    for code in blocks:
        exec(compile(code.replace('"mem0"', '"emu:switch"'), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "0da9c0b5bf414b788f7996b1623b3f17" in out     # the CEL is among the supported logs
    assert "SECURITY" in out


def test_the_readme_gives_the_two_set_up_commands():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert "pip install . && cxl-mi identify emu:type3" in text
    assert "pip install '.[test]' && python -m pytest" in text
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        ci = f.read()
    # CI runs the same command, upgrading (so no older copy on the machine hides a break),
    # and once more with the oldest supported releases.
    assert "pip install --upgrade --upgrade-strategy eager '.[test]' && python -m pytest" in ci
    assert "-c constraints/oldest.txt '.[test]'" in ci
