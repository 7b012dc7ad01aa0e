# SPDX-License-Identifier: LGPL-2.1-or-later
"""Confirmation where data or access can be lost, before anything is sent or asked.

Setting, removing or using a passphrase and binding a vPPB are destructive in
the registry, so the CLI confirms them; every option is checked and the
confirmation given before a passphrase is asked for; without --yes and with no
terminal to ask on, nothing is read, asked or sent.
"""

import pytest

import cxlmi_cli.options as cli_options
from cxlmi_bindings import registry
from cli_helpers import both, clean_cli, invoke  # noqa: F401  (clean_cli: a fixture)

GUARDED = ["memdev_set_passphrase", "memdev_disable_passphrase", "memdev_unlock",
           "memdev_freeze_security_state", "memdev_passphrase_secure_erase",
           "fmapi_bind_vppb", "fmapi_unbind_vppb"]


@pytest.mark.parametrize("name", GUARDED)
def test_access_and_binding_commands_are_destructive_in_the_registry(name):
    assert registry.get(name).destructive


@pytest.mark.parametrize("args", [
    ["memdev", "set-passphrase", "emu:type3", "--type", "user"],
    ["memdev", "disable-passphrase", "emu:type3", "--type", "user"],
    ["memdev", "unlock", "emu:type3"],
    ["fmapi", "bind-vppb", "emu:switch", "--vcs-id", "0", "--vppb-id", "3", "--port-id", "4"],
], ids=lambda a: a[1])
def test_without_yes_and_a_terminal_nothing_is_asked_or_sent(args, monkeypatch, clean_cli):
    asked = []
    monkeypatch.setattr(cli_options.Invocation, "passphrase",
                        lambda self, role: asked.append(role) or b"x")
    sent = []
    monkeypatch.setattr(cli_options.Invocation, "call",
                        lambda self, entry, request=None: sent.append(entry.name))
    res = invoke(args)
    assert res.exit_code == 2 and "refusing without --yes" in res.stderr, both(res)
    assert asked == [] and sent == []


def test_a_missing_option_is_named_before_any_passphrase_prompt(monkeypatch, clean_cli):
    monkeypatch.setattr(cli_options, "_stdin_is_tty", lambda: True)
    res = invoke(["memdev", "set-passphrase", "emu:type3"], input="")
    assert res.exit_code == 2
    assert "needs --type" in res.stderr and "Passphrase" not in both(res)


def test_on_a_terminal_the_confirmation_comes_before_the_passphrase(monkeypatch, clean_cli):
    monkeypatch.setattr(cli_options, "_stdin_is_tty", lambda: True)
    res = invoke(["memdev", "set-passphrase", "emu:type3", "--type", "user"], input="n\n")
    assert res.exit_code == 2 and "not confirmed; nothing was sent" in res.stderr
    assert "Passphrase:" not in both(res)


def test_the_confirmation_text_never_shows_a_passphrase():
    entry = registry.get("memdev_set_passphrase")
    text = cli_options.describe_action("memdev set-passphrase", entry,
                                       {"current_passphrase": b"old", "new_passphrase": b"sesame"},
                                       "emu:type3")
    assert text.startswith("memdev set-passphrase on emu:type3: ")
    assert b"sesame".hex() not in text and b"old".hex() not in text


@pytest.mark.parametrize("kind,code", [("user", 1), ("master", 0)])
def test_the_confirmation_names_which_passphrase_it_changes(monkeypatch, clean_cli, kind, code):
    # the one passphrase field that is no secret: a master passphrase changed by
    # mistake for the user one is what the question is there to catch
    entry = registry.get("memdev_disable_passphrase")
    text = cli_options.describe_action("memdev disable-passphrase", entry,
                                       {"passphrase_type": code, "passphrase": b"sesame"},
                                       "emu:type3")
    assert text.endswith("(passphrase_type=%s)" % kind) and b"sesame".hex() not in text
    monkeypatch.setattr(cli_options, "_stdin_is_tty", lambda: True)
    res = invoke(["memdev", "disable-passphrase", "emu:type3", "--type", kind], input="n\n")
    assert res.exit_code == 2 and "(passphrase_type=%s)" % kind in res.stderr, res.stderr
