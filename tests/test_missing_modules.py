# SPDX-License-Identifier: LGPL-2.1-or-later
"""A missing module is reported for what it is.

An optional dependency (an extra) missing is the user's to install: exit 3 and
the pip command that installs it.  One of cxl-mi's own dependencies (rich,
click) or modules missing is a broken installation, not a transport problem:
it must not be dressed up as "this target is not available".
"""

import pytest

from cxlmi_cli import errors, main



def missing(name):
    return ModuleNotFoundError("No module named %r" % name, name=name)


def test_a_missing_optional_dependency_names_the_extra_to_install():
    problem = errors.classify(missing("jeepney"))
    assert problem.exit_code == errors.EXIT_TRANSPORT
    assert "jeepney" in problem.message and problem.hint == "pip install 'cxl-mi[dbus]'"
    problem = errors.classify(missing("prometheus_client.core"))
    assert problem.hint == "pip install 'cxl-mi[exporter]'"


@pytest.mark.parametrize("name", ["rich", "rich.table", "click", "cxlmi_bindings.types"])
def test_a_missing_required_module_is_not_called_a_missing_backend(name):
    assert errors.classify(missing(name)) is None


def test_opening_a_target_that_needs_an_extra_exits_3_with_the_install_hint(monkeypatch, capsys):
    from cxlmi_bindings import Context

    def fail(self, target, **options):
        raise missing("jeepney")
    monkeypatch.setattr(Context, "open", fail)
    with pytest.raises(SystemExit) as done:
        main.main(["identify", "emu:type3"])
    assert done.value.code == 3
    err = capsys.readouterr().err
    assert "needs jeepney, which is not installed" in err and "cxl-mi[dbus]" in err


def test_opening_a_target_with_a_required_module_missing_shows_the_fault(monkeypatch):
    from cxlmi_bindings import Context

    def fail(self, target, **options):
        raise missing("rich")
    monkeypatch.setattr(Context, "open", fail)
    import signal
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(ModuleNotFoundError):
            main.main(["identify", "emu:type3"])
        # the traceback goes to the caller with its own Ctrl-C handler back, not cxl-mi's
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert main._GUARDS == []
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_backend_module_missing_is_named_but_its_own_imports_are_not_hidden(monkeypatch,
                                                                             tmp_path):
    from cxlmi_bindings import transports
    from cxlmi_bindings.errors import TransportError
    monkeypatch.setitem(transports.BACKENDS, "tcp", "cxlmi_bindings.transports.gone:Gone")
    with pytest.raises(TransportError, match="tcp transport is not part of this installation"):
        transports.backend_class("tcp")
    # a backend that is there but imports something missing: that fault, as it is
    (tmp_path / "halfway_backend.py").write_text("import module_nobody_has\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(transports.BACKENDS, "tcp", "halfway_backend:Gone")
    with pytest.raises(ModuleNotFoundError) as info:
        transports.backend_class("tcp")
    assert info.value.name == "module_nobody_has"


def test_an_emulator_profile_module_missing_is_named(monkeypatch):
    from cxlmi_bindings.emulator import profiles
    from cxlmi_bindings.errors import TransportError
    monkeypatch.setitem(profiles.PROFILES, "type3", ("cxlmi_bindings.emulator.gone:build", ""))
    with pytest.raises(TransportError, match="profile 'type3' is not part of this installation"):
        profiles.build("type3")


def test_an_emulator_profile_whose_own_import_is_missing_shows_that_fault(monkeypatch,
                                                                         tmp_path):
    from cxlmi_bindings.emulator import profiles
    (tmp_path / "halfway_profile.py").write_text("import module_nobody_has\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(profiles.PROFILES, "type3", ("halfway_profile:build", ""))
    with pytest.raises(ModuleNotFoundError) as info:
        profiles.build("type3")
    assert info.value.name == "module_nobody_has"
