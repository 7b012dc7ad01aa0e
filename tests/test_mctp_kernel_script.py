# SPDX-License-Identifier: LGPL-2.1-or-later
"""The MCTP test kernel's build script (tests/integration/mctp_kernel.py), the parts that decide
without building: the fragment's options, the check of the final .config, the cache key, and
a refusal that says why.  The build itself runs on the first integration run of a machine."""

import pytest

from integration import mctp_kernel as mk


def test_the_fragment_asks_for_mctp_over_serial_and_a_pvh_boot():
    options = mk.fragment_options()
    for name in ("CONFIG_MCTP", "CONFIG_MCTP_SERIAL", "CONFIG_PVH", "CONFIG_SERIAL_8250_PCI",
                 "CONFIG_9P_FS", "CONFIG_OVERLAY_FS", "CONFIG_FUTEX", "CONFIG_UNIX"):
        assert options[name] == "y", name
    assert int(options["CONFIG_SERIAL_8250_RUNTIME_UARTS"]) >= 6    # two pci-serial lines too


def test_fragment_comments_and_blanks_are_not_options():
    assert mk.fragment_options("# CONFIG_X=y\n\nCONFIG_A=y\n  CONFIG_B=8  \n") == {
        "CONFIG_A": "y", "CONFIG_B": "8"}


def test_config_problems_name_what_is_missing_or_different():
    config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=4\n"
    assert mk.config_problems(config, {"CONFIG_A": "y"}) == []
    assert mk.config_problems(config, {"CONFIG_B": "y", "CONFIG_C": "8"}) == [
        "CONFIG_B=y (the .config has it unset)", "CONFIG_C=8 (the .config has 4)"]


def test_the_cache_key_follows_the_source_version_and_the_fragment():
    a = mk.cache_key("6.12.118-1~deb12u1", "CONFIG_MCTP=y\n")
    assert a.startswith("6.12.118-1_deb12u1-")             # a file name: no '~'
    assert mk.cache_key("6.12.119-1", "CONFIG_MCTP=y\n") != a
    assert mk.cache_key("6.12.118-1~deb12u1", "CONFIG_MCTP=y\nCONFIG_X=y\n") != a
    assert mk.cache_key("6.12.118-1~deb12u1", "CONFIG_MCTP=y\n") == a


def test_the_cache_lives_outside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("CXLMI_TEST_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert mk.cache_root() == tmp_path / "cxl-mi-tests" / "mctp-kernel"
    monkeypatch.setenv("CXLMI_TEST_CACHE", str(tmp_path / "elsewhere"))
    assert mk.cache_root() == tmp_path / "elsewhere" / "mctp-kernel"


def test_without_a_source_and_without_installing_the_refusal_says_why(monkeypatch):
    monkeypatch.setattr(mk, "_installed_source", lambda: None)
    monkeypatch.setattr(mk.system_packages, "ensure", lambda packages, install=None, **kw: {})
    with pytest.raises(mk.KernelUnavailable, match="linux-source-X.Y.*not allowed"):
        mk.ensure_source(install=False)
