# SPDX-License-Identifier: LGPL-2.1-or-later
"""docs/emulator.md's command coverage is current, complete and true.

The table is generated from the models by tools/gen_emulator_doc.py; these
tests regenerate it, check every UNSUPPORTED cell has its reason, and drive
every device of every profile through the library -- tunnels included -- to
show that what the table calls UNSUPPORTED answers return code 3 and a
sample of what it calls implemented does not.
"""

import importlib.util
import os

import pytest

from cxlmi_bindings import registry
from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.errors import DeviceError
from cxlmi_bindings.tunnel import Tunnel

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNSUPPORTED = 3


def _generator():
    path = os.path.join(ROOT, "tools", "gen_emulator_doc.py")
    spec = importlib.util.spec_from_file_location("gen_emulator_doc", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()
DEVICES = gen.devices()


def _device_id(device):
    profile, hops, cls = device
    path = "-".join("%s%d" % ("pool" if t == 1 else "hop", i) for t, i in hops)
    return "%s%s-%s" % (profile, "-" + path if path else "", cls.__name__)


# ---------------------------------------------------------------- the document

def test_docs_emulator_md_is_current():
    with open(gen.DOC, encoding="utf-8") as f:
        _, body, _ = gen.split(f.read())
    if body != gen.render():
        pytest.fail("docs/emulator.md is stale: run `python tools/gen_emulator_doc.py`")


def test_every_unsupported_command_has_a_reason():
    missing = gen.missing_reasons()
    assert not missing, ("UNSUPPORTED without a reason (add one to REASONS in "
                         "tools/gen_emulator_doc.py, or an UNSUPPORTED dict to the model): %s"
                         % missing)


def test_the_table_covers_every_registry_command_and_every_profile():
    rows = gen.coverage()
    assert [entry for entry, _ in rows] == list(registry.COMMANDS)
    assert len([entry for entry, _ in rows if not entry.extension]) == 97
    assert {profile for profile, _, _ in DEVICES} == set(gen.profiles.PROFILES)
    with open(gen.DOC, encoding="utf-8") as f:
        _, body, _ = gen.split(f.read())
    for entry in registry.COMMANDS:
        assert "| `%s` |" % entry.name in body
    for entry in registry.EXTENSIONS:                      # said to be extensions
        assert "`%s` (%04Xh)" % (entry.name, entry.opcode) in body


def test_tunnels_reach_every_device_the_issue_names():
    found = {(profile, hops): cls.__name__ for profile, hops, cls in DEVICES}
    assert found[("switch", ((0, 1),))] == "Type3"             # the SLD
    assert found[("switch", ((0, 2),))] == "MLD"               # FM-owned LD
    assert found[("switch", ((0, 2), (0, 3)))] == "Type3"      # an LD behind it
    assert found[("switch", ((0, 3),))] == "DCD"
    assert found[("mld", ((0, 0),))] == "Type3"
    assert found[("mhd", ((1, 0),))] == "MHD"                  # the LD pool CCI
    assert found[("dcd", ())] == "DCD"


# ---------------------------------------------------------------- the devices

def _open(profile):
    ctx = Context()
    return ctx, ctx.open("emu:" + profile)


def _return_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except DeviceError as exc:
        return exc.return_code
    return 0


@pytest.mark.parametrize("device", DEVICES, ids=[_device_id(d) for d in DEVICES])
def test_what_a_device_leaves_out_answers_unsupported(device):
    profile, hops, cls = device
    tunnel = Tunnel(hops) if hops else None
    ctx, ep = _open(profile)
    wrong = []
    try:
        for entry in registry.COMMANDS:
            if gen.answers(cls, entry):
                continue
            if entry.call == "vendor":
                rc = _return_code(ep.vendor_specific, 0xC000, b"", tunnel=tunnel)
            else:
                rc = _return_code(ep.call, entry, {}, tunnel=tunnel)
            if rc != UNSUPPORTED:
                wrong.append((entry.name, rc))
    finally:
        ctx.close()
    assert not wrong, "claimed UNSUPPORTED but answered otherwise: %s" % wrong


# Implemented commands that answer UNSUPPORTED in some states on purpose.
CONDITIONAL = {"memdev_get_scan_media_results"}     # UNSUPPORTED until a scan has run


@pytest.mark.parametrize("device", DEVICES, ids=[_device_id(d) for d in DEVICES])
def test_what_a_device_implements_does_not_answer_unsupported(device):
    """The sample: every implemented command that takes no request (the gets)."""
    profile, hops, cls = device
    tunnel = Tunnel(hops) if hops else None
    sample = [e for e in registry.COMMANDS
              if gen.answers(cls, e) and e.call == "rsp" and e.name not in CONDITIONAL]
    assert len(sample) >= 4
    ctx, ep = _open(profile)
    try:
        codes = {e.name: _return_code(ep.call, e, None, tunnel=tunnel) for e in sample}
    finally:
        ctx.close()
    assert all(rc == 0 for rc in codes.values()), codes
