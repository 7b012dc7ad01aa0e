# SPDX-License-Identifier: LGPL-2.1-or-later
"""Debian packages the tests need (shells, man, QEMU …): find them, install them when allowed.

One policy for every test that needs a program the Python packages do not bring:

* a program already on ``PATH`` (or found by the caller's probe) is used as it is;
* a missing one is installed from Debian's registry when installing is allowed: the process is
  root, ``apt-get`` exists and ``CXLMI_TEST_INSTALL`` is not ``0``.  ``apt-get update`` runs once
  per process (the first time something is missing), then
  ``apt-get install -y --no-install-recommends PACKAGE …``; one installer at a time among test
  runs on this machine (a lock file), and apt's own lock is waited for;
* what is still missing raises :class:`Unavailable`, whose message says why (not root, installing
  forbidden, no apt-get, or the apt-get commands and the tail of their output).

``require()`` is the pytest side: with ``CI`` set (``CI=true``) a program that cannot be had fails
the test, since CI must prove what it needs; elsewhere the test is skipped with the reason.

    from system_packages import require
    paths = require({"zsh": "zsh", "fish": "fish"}, why="the zsh and fish completion tests")
    paths["zsh"]    # '/usr/bin/zsh'

A package's probe is the name of a command it installs, or a callable returning a true value (a
path, say) when the package is usable; ``ensure()`` returns {package: that value}.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import threading
from typing import Callable, Mapping, Union

Probe = Union[str, Callable[[], object]]

INSTALL_ENV = "CXLMI_TEST_INSTALL"
LOCK_FILE = os.path.join(tempfile.gettempdir(), "cxlmi-test-apt.lock")

_lock = threading.Lock()
_updated = False


class Unavailable(RuntimeError):
    """A package is missing and could not be installed; the message says why."""


def ci() -> bool:
    """True when running under CI (``CI`` set to anything but empty, 0, false or no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def install_refusal() -> str | None:
    """Why this process may not install packages, or None when it may."""
    if os.environ.get(INSTALL_ENV, "1").strip() == "0":
        return "%s=0 forbids installing" % INSTALL_ENV
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "installing packages needs root"
    if shutil.which("apt-get") is None:
        return "there is no apt-get to install with"
    return None


def _probe(probe: Probe):
    return shutil.which(probe) if isinstance(probe, str) else probe()


def _apt(args: list[str], log: list[str], timeout: float) -> bool:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "-q", "-y", "-o", "Dpkg::Use-Pty=0", "-o", "DPkg::Lock::Timeout=300"] + args
    log.append("$ " + " ".join(cmd))
    try:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError) as exc:
        log.append("error: %s" % exc)
        return False
    log.append((proc.stdout + proc.stderr)[-3000:].rstrip())
    if proc.returncode != 0:
        log.append("exit code %d" % proc.returncode)
    return proc.returncode == 0


def ensure(packages: Mapping[str, Probe], install: bool | None = None,
           timeout: float = 600) -> dict:
    """{package: probe result} for every package, installing the missing ones when allowed.

    install: None follows the policy (root, apt-get, ``CXLMI_TEST_INSTALL``); False never installs.
    Raises Unavailable naming what is missing and why.
    """
    global _updated
    found = {name: _probe(probe) for name, probe in packages.items()}
    missing = [name for name, have in found.items() if not have]
    if not missing:
        return found
    refusal = "installing was not attempted" if install is False else install_refusal()
    log: list[str] = []
    if refusal is None:
        with _lock, open(LOCK_FILE, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)          # one installer at a time on this machine
            found = {name: _probe(probe) for name, probe in packages.items()}
            missing = [name for name, have in found.items() if not have]
            if missing:
                if not _updated:
                    _updated = _apt(["update"], log, timeout)
                _apt(["install", "--no-install-recommends"] + missing, log, timeout)
                found = {name: _probe(probe) for name, probe in packages.items()}
                missing = [name for name, have in found.items() if not have]
    if missing:
        why = refusal or "apt-get did not install them:\n" + "\n".join(log)
        raise Unavailable("the Debian package%s %s %s missing (%s)"
                          % ("s" if len(missing) > 1 else "", ", ".join(missing),
                             "are" if len(missing) > 1 else "is", why))
    return found


def require(packages: Mapping[str, Probe], why: str = "this test") -> dict:
    """ensure(), for pytest: under CI a missing package fails the test, elsewhere skips it."""
    import pytest

    try:
        return ensure(packages)
    except Unavailable as exc:
        if ci():
            pytest.fail("CI is set and %s cannot run: %s" % (why, exc), pytrace=False)
        pytest.skip("%s cannot run: %s" % (why, exc))
