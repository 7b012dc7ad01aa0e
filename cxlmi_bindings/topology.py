# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fabric behind a switch CCI as one nested dict.

:func:`topology` asks a switch what it has, with FM-API commands only:

* Identify Switch Device (5100h) -- the ports and VCSs that are active;
* Get Physical Port State (5101h) -- per port its role, link and what is attached;
* Get Virtual CXL Switch Info (5200h) -- per VCS its vPPBs and their bindings;
* for a port with a Type 3 MLD attached, through the Tunnel Management Command
  (5300h) to that port: Get LD Info (5400h) and Get LD Allocations (5401h).

Aimed at an MLD (not a switch) it answers the MLD part alone.  A tunnelled
command that fails leaves an ``error`` in that MLD's entry instead of ending the
walk: one bad device must not hide the rest of the fabric.  The dict is plain
data, ready for ``json.dumps`` (byte strings such as the bitmasks as hex).

    >>> from cxlmi_bindings import Context
    >>> from cxlmi_bindings.topology import topology
    >>> topo = topology(Context().open("emu:switch"))
    >>> [p["port_id"] for p in topo["ports"] if p["mld"]]
    [2]
"""

from .errors import CxlmiError, DeviceError
from .tunnel import Tunnel, TARGET_PORT_OR_LD

#: Connected device type (Get Physical Port State) of a Type 3 MLD
CONN_DEV_MLD = 5
#: Binding status of a vPPB bound to an LD (Get Virtual CXL Switch Info)
BOUND_LD = 3
#: the return code of a command the component does not implement (an MLD's
#: answer to the Physical Switch command set)
UNSUPPORTED = 3
#: Ports per Get Physical Port State request: a reply stays far below a
#: 2 KiB response message limit (16 bytes per port)
PORTS_PER_REQUEST = 64
#: vPPBs per Get Virtual CXL Switch Info request
VPPBS_PER_REQUEST = 64
#: Ranges per Get LD Allocations request
LDS_PER_REQUEST = 32


def _hop(tunnel, port):
    """``tunnel`` (or none) one hop further: to switch port ``port``."""
    hops = tuple(tunnel.hops) if tunnel else ()
    return Tunnel(hops + ((TARGET_PORT_OR_LD, port),))


def _d(result):
    """A reply as plain, JSON-ready data (byte strings as hex)."""
    from .types import to_dict
    return to_dict(result, True, bytes.hex)


def ports(ep, port_ids, tunnel=None):
    """Get Physical Port State for ``port_ids``, a few dozen at a time."""
    out = []
    port_ids = list(port_ids)
    for i in range(0, len(port_ids), PORTS_PER_REQUEST):
        chunk = port_ids[i:i + PORTS_PER_REQUEST]
        reply = ep.call("fmapi_get_phys_port_state", {"ports": chunk}, tunnel)
        out.extend(_d(reply)["ports"])
    return out


def vcss(ep, vcs_ids, tunnel=None):
    """Get Virtual CXL Switch Info for each VCS, every vPPB of it (paged)."""
    out = []
    for vcs_id in vcs_ids:
        start, block, vppbs = 0, None, []
        while True:
            reply = _d(ep.call("fmapi_get_vcs_info", {
                "start_vppb": start, "vppb_list_limit": VPPBS_PER_REQUEST,
                "vcs_id_list": [vcs_id]}, tunnel))
            block = reply["vcs_info_list"][0]
            got = block.pop("vppbs", [])
            for n, vppb in enumerate(got, start):
                vppb["vppb_id"] = n
            vppbs.extend(got)
            start += len(got)
            if not got or start >= block["num_vppbs"]:
                break
        block["vppbs"] = vppbs
        out.append(block)
    return out


def mld(ep, tunnel=None):
    """Get LD Info and every LD's allocation from the MLD ``tunnel`` reaches."""
    info = _d(ep.call("fmapi_get_ld_info", None, tunnel))
    lds, granularity, start = [], None, 0
    while start < info["ld_count"]:
        reply = _d(ep.call("fmapi_get_ld_allocations", {
            "start_ld_id": start, "ld_allocation_list_limit": LDS_PER_REQUEST}, tunnel))
        granularity = reply["memory_granularity"]
        got = reply["ld_allocation_list"]
        if not got:
            break
        for n, ranges in enumerate(got, reply["start_ld_id"]):
            lds.append(dict(ranges, ld_id=n))
        start = reply["start_ld_id"] + len(got)
    from .types.fmapi import LD_GRANULARITY_BYTES
    unit = LD_GRANULARITY_BYTES.get(granularity)
    for ld in lds:
        ld["allocated_bytes"] = None if unit is None else unit * (
            ld["range_1_allocation_mult"] + ld["range_2_allocation_mult"])
    info["memory_granularity"] = granularity
    info["memory_granularity_bytes"] = unit
    info["lds"] = lds
    return info


def topology(ep, tunnel=None):
    """The fabric as a nested dict (see the module's docstring and docs/cli.md).

    ``{"switch": identify-switch fields, "ports": [port state + "bindings" + "mld"],
    "vcss": [VCS info with "vppbs"]}``; for an MLD target ``{"switch": None,
    "ports": [], "vcss": [], "mld": {...}}``.
    """
    try:
        ident = _d(ep.call("fmapi_identify_sw_device", None, tunnel))
    except DeviceError as exc:
        if exc.return_code != UNSUPPORTED:
            raise
        try:
            return {"switch": None, "ports": [], "vcss": [], "mld": mld(ep, tunnel)}
        except DeviceError as exc2:
            if exc2.return_code != UNSUPPORTED:
                raise
            exc2.args = ("no fabric to show: the component answers neither Identify Switch "
                         "Device (5100h) nor Get LD Info (5400h), so it is no switch and no "
                         "MLD",)
            exc2.hint = "aim topology at a switch CCI or an MLD's FM-owned LD"
            raise
    port_list = ports(ep, ident["active_port_bitmask_decoded"], tunnel)
    vcs_list = vcss(ep, ident["active_vcs_bitmask_decoded"], tunnel)
    by_port = {}
    for p in port_list:
        p["bindings"] = []
        p["mld"] = None
        by_port[p["port_id"]] = p
    for vcs in vcs_list:
        for vppb in vcs["vppbs"]:
            port = by_port.get(vppb["bound_port_id"])
            if vppb["binding_status"] in (2, BOUND_LD) and port is not None:
                port["bindings"].append({
                    "vcs_id": vcs["vcs_id"], "vppb_id": vppb["vppb_id"],
                    "ld_id": vppb["bound_ld_id"] if vppb["binding_status"] == BOUND_LD
                    else None})
    for p in port_list:
        if p["conn_dev_type"] != CONN_DEV_MLD:
            continue
        try:
            p["mld"] = mld(ep, _hop(tunnel, p["port_id"]))
        except CxlmiError as exc:
            p["mld"] = {"error": str(exc)}
            continue
        bound = {b["ld_id"]: b for b in p["bindings"] if b["ld_id"] is not None}
        for ld in p["mld"]["lds"]:
            b = bound.get(ld["ld_id"])
            ld["bound"] = None if b is None else {"vcs_id": b["vcs_id"],
                                                  "vppb_id": b["vppb_id"]}
    return {"switch": ident, "ports": port_list, "vcss": vcs_list}
