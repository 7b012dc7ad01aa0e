# SPDX-License-Identifier: LGPL-2.1-or-later
"""The examples run unchanged, as scripts, and print what they should."""

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "libcxlmi_style.py")


def run(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("CXLMI_TARGET", None)
    return subprocess.run([sys.executable, EXAMPLE] + list(args), capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60)


def test_the_example_uses_only_libcxlmi_names():
    tree = ast.parse(open(EXAMPLE).read())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    from_ours = [n for n in imports if isinstance(n, ast.ImportFrom)
                 and n.module == "cxlmi_bindings"]
    assert len(from_ours) == 1 and [a.name for a in from_ours[0].names] == ["*"]
    assert {a.name for n in imports if isinstance(n, ast.Import) for a in n.names} <= {
        "ctypes", "struct", "sys"}
    import cxlmi_bindings
    exported = set(cxlmi_bindings.__all__)
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id.startswith(("cxlmi_", "struct_cxlmi_",
                                                                "CXLMI_", "CXL_")):
            assert node.id in exported or node.id in defined, node.id


def test_the_example_runs_against_the_mock_endpoints():
    proc = run()
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("Endpoint ") == 2 and "2 endpoint(s)" in out
    assert "Vendor ID:        0x1de5" in out
    assert "Serial Number:    0x0000000000001111" in out
    assert "Serial Number:    0x0000000000002222" in out
    assert out.count("Event records:    2") == 2
    assert "handle 0x0011  timestamp 1700000000000000001" in out
    assert "0da9c0b5bf414b788f7996b1623b3f17  64 bytes" in out
    assert "sent 4501h, 96 bytes, new passphrase field b'example-secret'" in out
    assert "padding: 18 zero bytes" in out
    assert "rc = 0 (success)" in out


def test_the_example_runs_against_an_emulated_type3():
    proc = run("emu:type3")
    assert proc.returncode == 0, proc.stderr
    assert "1 endpoint(s)" in proc.stdout
    assert "Component Type:   0x03" in proc.stdout
    assert "Supported logs:" in proc.stdout


def test_the_example_runs_against_an_emulated_switch():
    proc = run("emu:switch")
    assert proc.returncode == 0, proc.stderr
    assert "Component Type:   0x00" in proc.stdout


@pytest.mark.skipif(os.path.exists("/dev/cxl/mem0"), reason="this machine has a mem0")
def test_the_example_reports_a_target_it_cannot_open():
    proc = run("mem0")
    assert proc.returncode == 1
    assert "Failed to open mem0" in proc.stdout
