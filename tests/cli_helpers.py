# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the CLI test modules share: a runner keeping stdout and stderr apart,
``invoke``, output helpers, and a fixture giving each test a clean CLI."""

import json

import pytest
from click.testing import CliRunner

from cxlmi_cli import commands as cli_commands
from cxlmi_cli.main import cli


def runner():
    """stdout and stderr apart, on every click >= 8.0 (8.2 always keeps them apart)."""
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def invoke(args, **kw):
    kw.setdefault("catch_exceptions", False)
    return runner().invoke(cli, args, **kw)


def both(res):
    """Everything the command printed, stdout and stderr."""
    return res.stdout + res.stderr


def jdoc(res):
    return json.loads(res.stdout)


@pytest.fixture
def clean_cli(monkeypatch):
    """No CXLMI_TARGET from the environment, and commands built afresh (hooks
    and monkeypatched pieces take effect)."""
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    cli_commands.reset()
    yield
    cli_commands.reset()


def record_opcodes(dev):
    """Record the opcode of every request ``dev`` (an emulated device) is sent, in the
    list returned."""
    from cxlmi_bindings import cci
    opcodes = []
    handle = dev.handle

    def record(message, msg_type):
        opcodes.append(cci.decode_header(message).opcode)
        return handle(message, msg_type)
    dev.handle = record
    return opcodes
