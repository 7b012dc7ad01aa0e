# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/system_packages.py: what is there is used, what is missing is installed only when allowed,
and a package that cannot be had fails the test under CI and skips it elsewhere, saying why.

No apt-get runs here: installing is forbidden or apt-get is replaced.
"""

import subprocess

import pytest
import system_packages as sp

NEVER = "cxlmi-no-such-package"


@pytest.fixture
def clean(monkeypatch, tmp_path):
    for name in ("CI", sp.INSTALL_ENV):
        monkeypatch.delenv(name, raising=False)
    calls = []

    def fake_run(cmd, **kw):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(sp.subprocess, "run", fake_run)
    monkeypatch.setattr(sp, "_updated", False)
    monkeypatch.setattr(sp, "LOCK_FILE", str(tmp_path / "apt.lock"))
    return calls


def test_a_package_that_is_there_is_used_without_installing(clean):
    assert sp.ensure({"sh": "sh", "python": lambda: "/yes"}) == {
        "sh": sp.shutil.which("sh"), "python": "/yes"}
    assert clean == []


def test_installing_is_refused_by_the_env_var_and_without_root(clean, monkeypatch):
    monkeypatch.setenv(sp.INSTALL_ENV, "0")
    with pytest.raises(sp.Unavailable, match=r"%s is missing \(CXLMI_TEST_INSTALL=0 forbids"
                       % NEVER):
        sp.ensure({NEVER: NEVER})
    monkeypatch.setenv(sp.INSTALL_ENV, "1")
    monkeypatch.setattr(sp.os, "geteuid", lambda: 1000)
    with pytest.raises(sp.Unavailable, match="needs root"):
        sp.ensure({NEVER: NEVER, "sh": "sh"})
    assert clean == []


def test_apt_get_updates_once_then_installs_only_what_is_missing(clean, monkeypatch):
    monkeypatch.setattr(sp.os, "geteuid", lambda: 0)
    monkeypatch.setattr(sp.shutil, "which", lambda name: "/usr/bin/" + name
                        if name in ("apt-get", "sh") else None)
    for _ in range(2):
        with pytest.raises(sp.Unavailable, match="apt-get did not install them"):
            sp.ensure({NEVER: NEVER, "sh": "sh"})
    assert all(cmd[0] == "apt-get" and "-y" in cmd for cmd in clean)
    tails = [cmd[cmd.index("DPkg::Lock::Timeout=300") + 1:] for cmd in clean]
    assert tails == [["update"], ["install", "--no-install-recommends", NEVER],
                     ["install", "--no-install-recommends", NEVER]]


def test_require_fails_under_ci_and_skips_elsewhere_with_the_reason(clean, monkeypatch):
    monkeypatch.setenv(sp.INSTALL_ENV, "0")
    with pytest.raises(pytest.skip.Exception, match="the x test cannot run: .*forbids"):
        sp.require({NEVER: NEVER}, why="the x test")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set and the x test cannot run"):
        sp.require({NEVER: NEVER}, why="the x test")
