# SPDX-License-Identifier: LGPL-2.1-or-later
"""The ``qemu_guest`` fixture: one QEMU guest with a CXL Type-3 device for the whole session.

Tools missing and not installable (no root, no registry): the tests fail when CI is set, since CI
must prove the kernel path, and are skipped otherwise.  ``CXLMI_QEMU_INSTALL=0`` forbids installing;
``CXLMI_QEMU_KEEP=1`` keeps the guest's scratch directory (console log, QEMU command line).
"""

import os

import pytest

from .qemu_guest import Guest, ToolsUnavailable, ensure_tools


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config):
    config.addinivalue_line("markers", "qemu: boots a QEMU guest (the kernel ioctl path)")


@pytest.fixture(scope="session")
def qemu_tools():
    try:
        return ensure_tools(install=os.environ.get("CXLMI_QEMU_INSTALL", "1") != "0")
    except ToolsUnavailable as exc:
        if _ci():
            pytest.fail(f"CI=true and the QEMU guest cannot be built: {exc}", pytrace=False)
        pytest.skip(f"no QEMU guest: {exc}")


@pytest.fixture(scope="session")
def qemu_guest(qemu_tools):
    """A booted guest: ``run(cmd, timeout=60) -> (exit_code, stdout, stderr)``, ``check(cmd)``,
    ``config`` (serial, persistent_bytes, lsa_bytes: what QEMU was told), ``kernel_release``,
    ``python`` (the interpreter that runs in the guest) and ``repo`` (the checkout it imports)."""
    guest = Guest(tools=qemu_tools)
    guest.start()
    try:
        yield guest
    finally:
        guest.stop()
