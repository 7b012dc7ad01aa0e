# SPDX-License-Identifier: LGPL-2.1-or-later
"""Emulator state files are data, written durably, and refused whole when wrong.

What ``cxl-mi emulate --state FILE`` keeps: every profile's device tree
round-trips through the JSON format with shared objects still shared; files
that are not JSON, cut short, of another format, version or model, that fail
their checksum, or that name anything outside the emulator are refused with a
message naming the file, and nothing in them runs; the file is written 0600
through an O_EXCL temporary file, fsync'ed; and ``kill -9`` at any moment
loses no change the server acknowledged.
"""

import base64
import hashlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time

import pytest

from cxlmi_bindings import Context
from cxlmi_bindings.emulator import profiles, state

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_objects(root):
    """Groups of paths that reach one and the same emulator object."""
    found = {}

    def walk(o, path):
        if isinstance(o, (list, tuple)):
            for i, x in enumerate(o):
                walk(x, "%s[%d]" % (path, i))
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, "%s[%r]" % (path, k))
        elif type(o).__module__.startswith("cxlmi_bindings.emulator."):
            first = id(o) not in found
            found.setdefault(id(o), []).append(path)
            if first:
                for k, v in sorted(state._attributes(o).items()):
                    walk(v, path + "." + k)
    walk(root, "device")
    return sorted(sorted(paths) for paths in found.values() if len(paths) > 1)


@pytest.mark.parametrize("profile", ["type3", "mld", "switch", "mhd", "dcd"])
def test_every_profile_round_trips_and_shared_objects_stay_shared(profile):
    dev = profiles.build(profile)
    blob = state.dumps(dev)
    back = state.loads(blob, profiles.build(profile))
    assert type(back) is type(dev) and back is not dev
    assert state.dumps(back) == blob
    assert shared_objects(back) == shared_objects(dev)
    if profile in ("switch", "mhd"):
        assert shared_objects(dev)              # these trees do share objects


def test_a_changed_device_answers_the_same_after_a_round_trip():
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    dev = profiles.build("type3")
    with Context() as ctx:
        ep = ctx.open_transport(EmulatedTransport("t", device=dev), "emu:type3")
        ep.memdev_set_lsa(offset=100, data=b"namespace label")
        ep.memdev_inject_poison(inject_poison_phy_addr=0x1000)
        before = (ep.memdev_get_lsa(offset=100, length=15),
                  ep.memdev_get_health_info().to_dict())
    back = state.loads(state.dumps(dev), profiles.build("type3"))
    with Context() as ctx:
        ep = ctx.open_transport(EmulatedTransport("t", device=back), "emu:type3")
        after = (ep.memdev_get_lsa(offset=100, length=15),
                 ep.memdev_get_health_info().to_dict())
    assert after == before and after[0] == b"namespace label"
    assert back.poison == dev.poison and back.poison


def doc_of(profile="type3"):
    return json.loads(state.dumps(profiles.build(profile)))


def resealed(doc):
    """The document with its checksum made right again (as an attacker could)."""
    doc["sha256"] = hashlib.sha256(json.dumps(doc["state"], sort_keys=True,
                                              separators=(",", ":")).encode()).hexdigest()
    return json.dumps(doc).encode()


def refused(blob, profile="type3"):
    with pytest.raises(state.StateError) as info:
        state.loads(blob, profiles.build(profile), "/srv/t3.state")
    return str(info.value)


def test_files_that_are_not_state_files_are_refused_naming_the_fault():
    good = state.dumps(profiles.build("type3"))
    assert "not a whole JSON document" in refused(good[:len(good) // 2])
    assert "not a whole JSON document" in refused(b"{")
    assert "not text" in refused(b"\xff\xfe\x00garbage")
    assert "not a cxl-mi emulator state file" in refused(b'{"format": "other"}')
    assert "older cxl-mi (a Python pickle" in refused(b"\x80\x04\x95junk")
    doc = doc_of()
    doc["version"] = 2
    assert "version 2; this cxl-mi reads version 1" in refused(json.dumps(doc).encode())
    assert b'"user_attempts":0' in good
    assert refused(good.replace(b'"user_attempts":0', b'"user_attempts":7', 1)).endswith(
        "fails its checksum: it was changed or damaged since it was written")
    assert "holds the state of a Type3, not of the Switch" in refused(good, "switch")
    assert all(m.startswith("/srv/t3.state") for m in [refused(b"{")])


def test_a_resealed_file_naming_code_outside_the_emulator_runs_nothing(tmp_path):
    marker = tmp_path / "ran"
    doc = doc_of()
    doc["state"]["attrs"]["serial"] = {"$obj": "os:system", "id": 999, "attrs": {}}
    assert "names a class outside the emulator: 'os:system'" in refused(resealed(doc))
    doc = doc_of()
    doc["state"]["attrs"]["serial"] = {"$obj": "cxlmi_bindings.emulator.state:json.loads",
                                       "id": 999, "attrs": {}}
    assert "is not a class of the emulator" in refused(resealed(doc))
    doc = doc_of()
    doc["state"]["attrs"]["clock"] = {"$method": {"$ref": 0}, "name": "__reduce__"}
    assert "no method '__reduce__'" in refused(resealed(doc))
    doc = doc_of()
    doc["state"]["attrs"]["__class__"] = 1
    assert "attribute name '__class__'" in refused(resealed(doc))
    doc = doc_of()
    doc["state"]["attrs"]["lsa"] = {"$bytes": "not base64!"}
    assert "a $bytes value of the wrong shape" in refused(resealed(doc))
    doc = doc_of()
    doc["state"]["attrs"]["lsa"] = {"$frobnicate": 1}
    assert "unknown value tag '$frobnicate'" in refused(resealed(doc))
    assert not marker.exists()


def test_a_resealed_file_whose_tree_is_not_one_device_of_the_model_is_refused():
    doc = doc_of()
    doc["state"]["attrs"]["serial"] = {"$obj": "cxlmi_bindings.emulator.type3:Type3",
                                       "id": 0, "attrs": {}}
    assert "object id 0 repeated or not a number" in refused(resealed(doc))
    doc = doc_of()
    doc["state"]["$obj"] = "cxlmi_bindings.emulator.mld:MLD"
    assert refused(resealed(doc)).endswith("its state is not a Type3")


def test_a_switchs_bindings_survive_a_round_trip():
    from cxlmi_bindings.transports.emulated import EmulatedTransport

    def bindings(dev):
        with Context() as ctx:
            ep = ctx.open_transport(EmulatedTransport("s", device=dev), "emu:switch")
            info = ep.fmapi_get_vcs_info(start_vppb=0, vppb_list_limit=8, vcs_id_list=[0])
            return [(v.binding_status, v.bound_port_id, v.bound_ld_id)
                    for v in info.vcs_info_list[0].vppbs]
    dev = profiles.build("switch")
    dev.bind_initial(0, 3, 2, 1)                # vPPB 3 -> LD 1 of the MLD on port 2
    before = bindings(dev)
    assert before[0] == (2, 1, 0xFF) and before[3] == (3, 2, 1)
    assert bindings(state.loads(state.dumps(dev), profiles.build("switch"))) == before


def test_a_switch_saved_during_or_after_a_bind_or_unbind_loads_and_carries_on():
    from cxlmi_bindings.emulator.device import ABORT
    from cxlmi_bindings.transports.emulated import EmulatedTransport

    def opened(dev):
        ctx = Context()
        return ctx, ctx.open_transport(EmulatedTransport("s", device=dev), "emu:switch")

    def vppbs(ep):
        info = ep.fmapi_get_vcs_info(start_vppb=0, vppb_list_limit=3, vcs_id_list=[0])
        return [(v.binding_status, v.bound_port_id, v.bound_ld_id)
                for v in info.vcs_info_list[0].vppbs]
    dev = profiles.build("switch", bind_seconds=60)
    ctx, ep = opened(dev)
    ep.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=1)
    ctx.close()
    ctx, ep = opened(state.loads(state.dumps(dev), profiles.build("switch")))   # mid-bind
    status = ep.bg_op_status()
    assert (status.status & 1, status.opcode) == (1, 0x5201)     # still under way
    ep.request_bg_op_abort()
    assert ep.bg_op_status().returncode == ABORT
    assert vppbs(ep)[1] == (0, 0xFF, 0xFF)                       # not stuck in progress
    assert ep.fmapi_get_phys_port_state(ports=[2]).ports[0].config_state == 3
    ctx.close()
    dev = profiles.build("switch", bind_seconds=0)              # operations done at once
    ctx, ep = opened(dev)
    ep.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=1)
    ep.fmapi_unbind_vppb(vcs_id=0, vppb_id=0, option=0)
    ctx.close()
    ctx, ep = opened(state.loads(state.dumps(dev), profiles.build("switch")))   # saveable
    assert vppbs(ep) == [(0, 0xFF, 0xFF), (3, 2, 1), (0, 0xFF, 0xFF)]
    ctx.close()


def test_an_operation_under_way_that_a_file_cannot_hold_is_saved_as_aborted():
    from cxlmi_bindings.emulator.device import ABORT, Background
    dev = profiles.build("type3")
    dev._start(Background(60, finish=lambda: None), 0x4402)    # a closure: not data
    back = state.loads(state.dumps(dev), profiles.build("type3"))
    assert (back.bg.done, back.bg.return_code, back.bg.opcode) == (True, ABORT, 0x4402)
    assert not dev.bg.done                                      # the live device runs on


def test_a_finished_operation_whose_completion_was_a_closure_does_not_stop_a_save():
    from cxlmi_bindings.emulator.device import SUCCESS, Background
    dev = profiles.build("type3")
    dev._start(Background(0, finish=lambda: None), 0x4402)     # as a media operation leaves it
    back = state.loads(state.dumps(dev), profiles.build("type3"))
    assert (back.bg.done, back.bg.return_code, back.bg.opcode, back.bg.percent_at_end) == (
        True, SUCCESS, 0x4402, 100)


def test_save_writes_0600_through_a_fresh_temporary_file_and_fsyncs(tmp_path, monkeypatch):
    path = tmp_path / "t3.state"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    # an attacker's symlink at the name the old code used is never followed
    os.symlink(str(victim), "%s.tmp.%d" % (path, os.getpid()))
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    state.save(str(path), profiles.build("type3"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert victim.read_text() == "keep"
    assert len(synced) == 2                  # the file, then its directory
    assert state.load(str(path), profiles.build("type3")) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["t3.state", "victim", "t3.state.tmp.%d" % os.getpid()])


def test_a_missing_or_empty_file_is_a_fresh_device(tmp_path):
    dev = profiles.build("type3")
    assert state.load(str(tmp_path / "none.state"), dev) is dev
    (tmp_path / "empty.state").write_bytes(b"")
    assert state.load(str(tmp_path / "empty.state"), dev) is dev


# ------------------------------------------------------------------- kill -9

def _start(path):
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                             "127.0.0.1:0", "--profile", "type3", "--state", path], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    m = re.search(r"tcp:127\.0\.0\.1:(\d+)", proc.stdout.readline())
    assert m, proc.stderr.read()
    return proc, "tcp:127.0.0.1:%s" % m.group(1)


def test_kill_9_at_any_moment_loses_no_acknowledged_change(tmp_path):
    path = str(tmp_path / "t3.state")
    acked = 0
    rounds = 8
    for round_ in range(rounds):
        proc, target = _start(path)
        try:
            with Context() as ctx:
                ep = ctx.open(target)
                got = int.from_bytes(ep.memdev_get_lsa(offset=0, length=4), "little")
                assert got >= acked, "round %d: acknowledged %d, found %d" % (round_, acked,
                                                                               got)
                acked = got
                deadline = time.monotonic() + 0.15 + 0.05 * round_
                try:
                    while True:
                        value = acked + 1
                        ep.memdev_set_lsa(offset=0, data=value.to_bytes(4, "little"))
                        acked = value            # the reply came: it must survive
                        if time.monotonic() > deadline:
                            os.kill(proc.pid, signal.SIGKILL)   # mid-stream, no goodbye
                            deadline = float("inf")
                except Exception:
                    pass                          # the server is gone
        finally:
            proc.kill()
            proc.wait(10)
            proc.stdout.close()
            proc.stderr.close()
    proc, target = _start(path)
    try:
        with Context() as ctx:
            ep = ctx.open(target)
            assert int.from_bytes(ep.memdev_get_lsa(offset=0, length=4), "little") >= acked
    finally:
        proc.terminate()
        proc.wait(10)
    assert acked > rounds                         # writes were made in every round


def test_values_json_lacks_keep_their_type_through_a_round_trip():
    dev = profiles.build("type3")
    dev.extra = {"ids": {3, 1, 2}, "pair": (1, b"\x00\xff"), "limit": float("inf"),
                 "buf": bytearray(b"ab"), 7: "int key"}
    blob = state.dumps(dev)

    def not_json(name):
        raise AssertionError("%s is not JSON: other readers refuse it" % name)
    json.loads(blob, parse_constant=not_json)        # strict JSON: no Infinity / NaN
    back = state.loads(blob, profiles.build("type3"))
    assert back.extra == dev.extra
    assert [type(back.extra[k]) for k in ("ids", "pair", "limit", "buf")] == [
        set, tuple, float, bytearray]


def test_a_file_from_before_the_model_gained_an_attribute_loads_with_its_fresh_value():
    from cxlmi_bindings.emulator import profiles, state
    old = profiles.build("type3")
    old.poison_list_max = 7                   # a value the file does carry
    del old.sparing_repairs                   # as a cxl-mi before memory sparing wrote it
    loaded = state.loads(state.dumps(old), profiles.build("type3"))
    assert loaded.sparing_repairs == [] and loaded.poison_list_max == 7
    from cxlmi_bindings import Context
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    with Context() as ctx:                    # and memory sparing works on it
        ep = ctx.open_transport(EmulatedTransport("t", device=loaded), "emu:type3")
        ep.perform_maintenance_sparing(op_class=2, op_subclass=3, channel=0, rank=1)
    assert [r["kind"] for r in loaded.sparing_repairs] == ["soft"]
