# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi fmapi topology` and cxlmi_bindings.topology: the fabric as a picture.

The emulated switch (docs/emulator-fabric.md) is changed with the FM-API
commands themselves -- a vPPB bound to an LD of the MLD, the MLD's LD
allocations set through the switch -- and the topology must show the change:
in the library's dict, in the CLI's JSON and tree, in the Graphviz graph (which
`dot` must accept), in process and against a `cxl-mi emulate` TCP server.
"""

import json
import os
import subprocess
import sys

import pytest

from cli_helpers import clean_cli, invoke, jdoc, record_opcodes  # noqa: F401  (fixture)

from cxlmi_bindings import Context, Tunnel
from cxlmi_bindings.topology import topology

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GiB = 1 << 30


def _bind(ep, vcs, vppb, port, ld):
    """Bind and wait for the background operation to end."""
    import time
    ep.fmapi_bind_vppb(vcs_id=vcs, vppb_id=vppb, port_id=port, ld_id=ld)
    deadline = time.monotonic() + 10
    while ep.bg_op_status().status & 1 and time.monotonic() < deadline:
        time.sleep(0.02)


def _port(topo, n):
    (port,) = [p for p in topo["ports"] if p["port_id"] == n]
    return port


# ----------------------------------------------------------------- the library

def test_the_emulated_switch_fabric_as_a_dict():
    with Context() as ctx:
        topo = topology(ctx.open("emu:switch"))
    assert topo["switch"]["num_physical_ports"] == 8
    assert [p["port_id"] for p in topo["ports"]] == list(range(8))
    assert _port(topo, 0)["config_state_decoded"] == "usp"
    assert _port(topo, 0)["negotiated_link_width"] == 16
    sld = _port(topo, 1)
    assert sld["conn_dev_type_decoded"] == "cxl-type3-sld"
    assert sld["bindings"] == [{"vcs_id": 0, "vppb_id": 0, "ld_id": None}]
    assert sld["mld"] is None
    down = _port(topo, 5)
    assert down["negotiated_link_width"] == 0 and down["ltssm_state_decoded"] == "detect"
    mld = _port(topo, 2)["mld"]
    assert mld["ld_count"] == 4 and mld["memory_size"] == 4 * GiB
    assert [ld["ld_id"] for ld in mld["lds"]] == [0, 1, 2, 3]
    assert all(ld["allocated_bytes"] == GiB and ld["bound"] is None for ld in mld["lds"])
    (vcs,) = topo["vcss"]
    assert vcs["vcs_id"] == 0 and vcs["usp_id"] == 0
    assert [v["vppb_id"] for v in vcs["vppbs"]] == list(range(8))
    assert vcs["vppbs"][0]["binding_status_decoded"] == "bound-port"
    assert vcs["vppbs"][0]["bound_port_id"] == 1


def test_a_bind_and_new_allocations_show_in_the_topology():
    with Context() as ctx:
        ep = ctx.open("emu:switch")
        _bind(ep, 0, 3, 2, 1)               # vPPB 3 -> port 2 (the MLD), LD 1
        ep.fmapi_set_ld_allocations(start_ld_id=0, ld_allocation_list=[
            {"range_1_allocation_mult": 2, "range_2_allocation_mult": 1},
            {"range_1_allocation_mult": 3, "range_2_allocation_mult": 2}],
            tunnel=Tunnel.switch(2))
        topo = topology(ep)
    port = _port(topo, 2)
    assert port["bindings"] == [{"vcs_id": 0, "vppb_id": 3, "ld_id": 1}]
    lds = port["mld"]["lds"]
    assert lds[1]["bound"] == {"vcs_id": 0, "vppb_id": 3}
    assert lds[0]["bound"] is None
    assert lds[0]["allocated_bytes"] == 3 * 256 << 20
    assert lds[1]["allocated_bytes"] == 5 * 256 << 20       # 4 GiB in 256 MiB units: 3+5+4+4
    vppb = topo["vcss"][0]["vppbs"][3]
    assert (vppb["binding_status_decoded"], vppb["bound_port_id"], vppb["bound_ld_id"]) == \
        ("bound-ld", 2, 1)
    assert topo["switch"]["num_active_vppb"] == 2


def test_vppbs_and_ports_are_read_in_pages(monkeypatch):
    """More ports and vPPBs than one request asks for: every one is still there."""
    import cxlmi_bindings.topology as T
    monkeypatch.setattr(T, "PORTS_PER_REQUEST", 3)
    monkeypatch.setattr(T, "VPPBS_PER_REQUEST", 3)
    monkeypatch.setattr(T, "LDS_PER_REQUEST", 3)
    with Context() as ctx:
        topo = topology(ctx.open("emu:switch"))
    assert [p["port_id"] for p in topo["ports"]] == list(range(8))
    assert [v["vppb_id"] for v in topo["vcss"][0]["vppbs"]] == list(range(8))
    assert [ld["ld_id"] for ld in _port(topo, 2)["mld"]["lds"]] == [0, 1, 2, 3]
    assert _port(topo, 1)["bindings"][0]["vppb_id"] == 0


def test_an_mld_target_gives_its_lds_alone():
    with Context() as ctx:
        topo = topology(ctx.open("emu:mld"))
    assert topo["switch"] is None and topo["ports"] == []
    assert topo["mld"]["ld_count"] == 4
    assert [ld["allocated_bytes"] for ld in topo["mld"]["lds"]] == [GiB] * 4


def test_an_mld_that_fails_leaves_an_error_not_a_hole(monkeypatch):
    from cxlmi_bindings.errors import DeviceError
    import cxlmi_bindings.topology as T

    def broken(ep, tunnel=None):
        raise DeviceError(3, "fmapi_get_ld_info")
    monkeypatch.setattr(T, "mld", broken)
    with Context() as ctx:
        topo = topology(ctx.open("emu:switch"))
    assert "UNSUPPORTED" in _port(topo, 2)["mld"]["error"]
    assert len(topo["ports"]) == 8


# --------------------------------------------------------------------- the CLI

def test_cli_json_is_the_nested_dict(clean_cli):
    res = invoke(["fmapi", "topology", "emu:switch", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = jdoc(res)
    assert doc["command"] == "fmapi topology" and doc["target"] == "emu:switch"
    topo = doc["result"]
    assert _port(topo, 2)["mld"]["lds"][3]["allocated_bytes"] == GiB
    assert _port(topo, 1)["bindings"] == [{"vcs_id": 0, "vppb_id": 0, "ld_id": None}]


def test_cli_tree_shows_ports_lds_and_vppbs(clean_cli):
    res = invoke(["fmapi", "topology", "emu:switch"])
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "switch · emu:switch — 8 ports, 1 VCS, 1 of 8 vPPBs bound" in out
    assert "port 0  USP  x16/x16 32GT/s L0" in out
    assert "port 1  DSP  x8/x8 32GT/s L0 — Type 3 SLD ← VCS 0 vPPB 0" in out
    assert "port 5  DSP  link down (detect), max x8 32GT/s — nothing attached" in out
    assert "MLD: 4 LDs, 4 GiB, granularity 256 MiB" in out
    assert "LD 2: 1 GiB (range 1 ×4, range 2 ×0) unbound" in out
    assert "vPPB 0  → port 1" in out and "vPPB 7  unbound" in out
    assert "└── VCS 0  enabled, USP port 0, 8 vPPBs" in out


def test_a_vppb_bound_to_an_ld_counts_and_shows_in_the_tree_and_the_graph(clean_cli,
                                                                          monkeypatch):
    import cxlmi_cli.target as cli_target
    from cxlmi_bindings.emulator import profiles
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    device = profiles.build("switch")

    def opener(target, timeout=None):
        return Context().open_transport(EmulatedTransport("switch", device=device), target)
    monkeypatch.setattr(cli_target, "open_endpoint", opener)
    _bind(opener("emu:switch"), 0, 3, 2, 1)            # vPPB 3 -> port 2 (the MLD), LD 1
    res = invoke(["fmapi", "topology", "emu:switch"])
    assert res.exit_code == 0, res.stderr
    assert "switch · emu:switch — 8 ports, 1 VCS, 2 of 8 vPPBs bound" in res.stdout
    assert "vPPB 3  → port 2 LD 1" in res.stdout
    assert "LD 1: 1 GiB (range 1 ×4, range 2 ×0) ← VCS 0 vPPB 3" in res.stdout
    graph = invoke(["fmapi", "topology", "emu:switch", "--dot"]).stdout
    assert '"vppb 0.3" -> "ld 2.1" [color="blue", label="bound"];' in graph
    assert '"port 2/mld" -> "ld 2.1";' in graph


def test_a_port_without_lanes_is_link_down_whatever_speed_it_reports():
    from cxlmi_cli.topology_view import link_text
    port = {"negotiated_link_width": 0, "current_link_speed_decoded": "32GT/s",
            "ltssm_state": 0, "ltssm_state_decoded": "detect", "max_link_width": 8,
            "max_link_speed_decoded": "32GT/s"}
    assert link_text(port) == "link down (detect), max x8 32GT/s"


def test_cli_refuses_raw_and_dot_with_json_before_sending(clean_cli, monkeypatch):
    import cxlmi_cli.target as target

    def no_open(*a, **k):
        raise AssertionError("opened the target")
    monkeypatch.setattr(target, "open_endpoint", no_open)
    res = invoke(["fmapi", "topology", "emu:switch", "-o", "raw"])
    assert res.exit_code == 2 and "no raw form" in res.stderr
    res = invoke(["fmapi", "topology", "emu:switch", "--dot", "--json"])
    assert res.exit_code == 2 and "--dot and --json" in res.stdout


def test_a_refused_output_choice_is_a_json_error_naming_the_target(clean_cli):
    res = invoke(["fmapi", "topology", "emu:switch", "--dot", "--json"])
    assert res.exit_code == 2
    doc = jdoc(res)
    assert doc["target"] == "emu:switch" and doc["error"]["exit_code"] == 2
    assert doc["error"]["message"] == "--dot and --json ask for different outputs: give one"


def test_cli_on_a_plain_type3_says_there_is_no_fabric(clean_cli):
    res = invoke(["fmapi", "topology", "emu:type3"])
    assert res.exit_code == 1
    assert "no switch and no MLD" in res.stderr and "Traceback" not in res.stderr


# ------------------------------------------------------------------- Graphviz

@pytest.fixture(scope="module")
def dot_program():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import system_packages
    return system_packages.require({"graphviz": "dot"}, why="checking --dot output")["graphviz"]


def test_dot_output_is_a_graph_graphviz_accepts(clean_cli, dot_program):
    res = invoke(["fmapi", "topology", "emu:switch", "--dot"])
    assert res.exit_code == 0, res.stderr
    text = res.stdout
    assert text.startswith("digraph cxl_fabric {") and text.rstrip().endswith("}")
    assert '"vppb 0.0" -> "port 1" [color="blue", label="bound"];' in text
    assert '"port 2/mld" -> "ld 2.3";' in text
    svg = subprocess.run([dot_program, "-Tsvg"], input=text.encode(), capture_output=True,
                         timeout=60)
    assert svg.returncode == 0, svg.stderr.decode()
    assert b"<svg" in svg.stdout and b"vPPB 0" in svg.stdout
    # `dot -Tcanon` reads it back: the same nodes, the bound edge still there
    canon = subprocess.run([dot_program, "-Tcanon"], input=text.encode(), capture_output=True,
                           timeout=60)
    assert canon.returncode == 0 and b"vppb 0.0" in canon.stdout


# ------------------------------------------------ against a `cxl-mi emulate` server

def _cxl_mi(env, *args):
    out = subprocess.run([sys.executable, "-m", "cxlmi_cli"] + list(args), cwd=ROOT, env=env,
                         capture_output=True, timeout=60)
    assert b"Traceback" not in out.stderr, out.stderr.decode()
    return out


def test_over_tcp_a_bind_by_one_process_shows_in_the_next_ones_topology(tmp_path,
                                                                         dot_program):
    import re
    import selectors
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("CXLMI_TARGET", None)
    server = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate", "--listen",
                               "127.0.0.1:0", "--profile", "switch"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        sel = selectors.DefaultSelector()
        sel.register(server.stdout, selectors.EVENT_READ)
        assert sel.select(20), "the server said nothing"
        m = re.search(r"listening on tcp:127\.0\.0\.1:(\d+)", server.stdout.readline())
        sel.close()
        assert m
        target = "tcp:127.0.0.1:%s" % m.group(1)
        before = json.loads(_cxl_mi(env, "fmapi", "topology", target, "--json").stdout)
        assert _port(before["result"], 2)["bindings"] == []
        out = _cxl_mi(env, "fmapi", "bind-vppb", target, "--vcs-id", "0", "--vppb-id", "5",
                      "--port-id", "2", "--ld-id", "2", "--yes", "--wait")
        assert out.returncode == 0, out.stderr.decode()
        out = _cxl_mi(env, "fmapi", "set-ld-allocations", target, "--port", "2",
                      "--start-ld-id", "2", "--allocation", "1:1", "--yes")
        assert out.returncode == 0, out.stderr.decode()
        after = json.loads(_cxl_mi(env, "fmapi", "topology", target, "--json").stdout)
        port = _port(after["result"], 2)
        assert port["bindings"] == [{"vcs_id": 0, "vppb_id": 5, "ld_id": 2}]
        assert port["mld"]["lds"][2]["bound"] == {"vcs_id": 0, "vppb_id": 5}
        assert port["mld"]["lds"][2]["allocated_bytes"] == 512 << 20
        tree = _cxl_mi(env, "fmapi", "topology", target).stdout.decode()
        assert "LD 2: 512 MiB (range 1 ×1, range 2 ×1) ← VCS 0 vPPB 5" in tree
        assert "vPPB 5  → port 2 LD 2" in tree
        graph = _cxl_mi(env, "fmapi", "topology", target, "--dot").stdout
        assert b'"vppb 0.5" -> "ld 2.2"' in graph
        svg = subprocess.run([dot_program, "-Tsvg"], input=graph, capture_output=True,
                             timeout=60)
        assert svg.returncode == 0, svg.stderr.decode()
    finally:
        server.kill()
        server.wait(10)
        server.stdout.close()
        server.stderr.close()


def test_port_tunnels_the_walk_to_the_mld_behind_it(clean_cli, dot_program):
    res = invoke(["fmapi", "topology", "emu:switch", "--port", "2", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = jdoc(res)
    assert doc["tunnel"] == {"port": 2, "ld": None, "mhd": False}
    assert doc["result"]["switch"] is None and doc["result"]["mld"]["ld_count"] == 4
    res = invoke(["fmapi", "topology", "emu:switch", "--port", "2"])
    assert res.stdout.startswith("emu:switch (switch port 2) · MLD: 4 LDs, 4 GiB")
    graph = invoke(["fmapi", "topology", "emu:mld", "--dot"]).stdout
    assert '"mld/mld" -> "ld mld.3";' in graph
    svg = subprocess.run([dot_program, "-Tsvg"], input=graph.encode(), capture_output=True,
                         timeout=60)
    assert svg.returncode == 0, svg.stderr.decode()


def test_pages_stop_at_the_last_vppb_and_the_last_ld(monkeypatch):
    """No request starts past the end: a device may refuse one (Invalid Input)."""
    import cxlmi_bindings.topology as T
    monkeypatch.setattr(T, "VPPBS_PER_REQUEST", 3)
    monkeypatch.setattr(T, "LDS_PER_REQUEST", 2)
    with Context() as ctx:
        sw = ctx.open("emu:switch")
        opcodes = record_opcodes(sw.transport.device)
        T.vcss(sw, [0])
        assert opcodes.count(0x5200) == 3               # vPPBs 0-2, 3-5, 6-7
        mld_ep = ctx.open("emu:mld")
        opcodes = record_opcodes(mld_ep.transport.device)
        info = T.mld(mld_ep)
        assert [ld["ld_id"] for ld in info["lds"]] == [0, 1, 2, 3]
        assert opcodes.count(0x5401) == 2               # LDs 0-1, 2-3


@pytest.mark.parametrize("profile,command", [
    ("switch", "cmd_fmapi_identify_sw_device"),
    ("mld", "cmd_fmapi_get_ld_info"),
])
def test_a_component_that_fails_its_fabric_command_is_that_error_not_no_fabric(profile, command):
    from cxlmi_bindings.emulator.device import INTERNAL, Reply
    from cxlmi_bindings.errors import DeviceError

    def broken(*args):
        raise Reply(INTERNAL, "the firmware is restarting")
    with Context() as ctx:
        ep = ctx.open("emu:" + profile)
        setattr(ep.transport.device, command, broken)
        with pytest.raises(DeviceError) as err:
            topology(ep)
    assert err.value.name == "INTERNAL"
    assert "no switch and no MLD" not in str(err.value)
