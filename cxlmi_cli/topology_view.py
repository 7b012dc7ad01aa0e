# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi fmapi topology`: the fabric (cxlmi_bindings.topology) as a tree or a graph.

Three forms of one nested dict: a rich Tree for people, the dict itself as JSON,
and a Graphviz digraph (``--dot``): switch -> ports -> LDs, VCS -> vPPBs, and an
edge from each bound vPPB to the port or LD it is bound to.
"""

import click

from cxlmi_bindings.types.meaning import human_size


def command():
    from .options import device_command

    @click.command("topology", context_settings={"help_option_names": ["-h", "--help"]})
    @click.option("--dot", is_flag=True, default=False,
                  help="print a Graphviz digraph (pipe it to `dot -Tsvg`) instead of a tree")
    @device_command()
    def topology(inv, dot=False):
        """The fabric as a picture: the switch's physical ports (role, link state,
        width, speed, what is attached), its VCSs and vPPBs with their bindings, and
        each MLD's LDs with their allocations.

        \b
        Sent: Identify Switch Device (5100h), Get Physical Port State (5101h),
        Get Virtual CXL Switch Info (5200h), and through each port with an MLD
        (Tunnel Management, 5300h) Get LD Info (5400h) and Get LD Allocations
        (5401h).  Aimed at an MLD, the MLD and its LDs alone.

        A tree on a terminal, nested JSON with --json (the layout is in
        docs/cli.md), a Graphviz digraph with --dot.
        """
        if inv.output == "raw":
            raise _usage("topology has no raw form (it is the answer of several "
                         "commands): use --json or --dot")
        if dot and inv.output == "json":
            raise _usage("--dot and --json ask for different outputs: give one")
        from cxlmi_bindings.topology import topology as build
        data = build(inv.endpoint(), inv.tunnel)
        if dot:
            click.echo(to_dot(data, inv.where), nl=False)
        elif inv.json:
            inv.emit_data(data)
        else:
            draw(data, inv)
    return topology


def _usage(message):
    from cxlmi_bindings.errors import UsageError
    return UsageError(message)


# ------------------------------------------------------------------- words

def _dev(name):
    return {"none": "nothing attached", "cxl-type3-sld": "Type 3 SLD",
            "cxl-type3-mld": "Type 3 MLD", "cxl-type1": "Type 1", "cxl-type2": "Type 2",
            "pcie": "PCIe device", "pbr-component": "PBR component"}.get(name, name or "?")


def link_text(port):
    """``x8/x8 32GT/s L0`` or ``link down (detect), max x8 32GT/s``."""
    speed = port.get("current_link_speed_decoded")
    ltssm = (port.get("ltssm_state_decoded") or "ltssm %s" % port["ltssm_state"]).upper()
    if port["negotiated_link_width"] and speed:
        return "x%d/x%d %s %s" % (port["negotiated_link_width"], port["max_link_width"],
                                  speed, ltssm)
    return "link down (%s), max x%d %s" % (ltssm.lower(), port["max_link_width"],
                                          port.get("max_link_speed_decoded") or "?")


def port_text(port):
    role = (port.get("config_state_decoded") or str(port["config_state"])).upper()
    text = "port %d  %s  %s" % (port["port_id"], role, link_text(port))
    if port["config_state_decoded"] != "usp":
        text += " — %s" % _dev(port.get("conn_dev_type_decoded"))
    whole = [b for b in port["bindings"] if b["ld_id"] is None]
    if whole:
        text += " ← " + ", ".join("VCS %d vPPB %d" % (b["vcs_id"], b["vppb_id"])
                                  for b in whole)
    return text


def mld_text(mld):
    if "error" in mld:
        return "MLD: not read: %s" % mld["error"]
    return "MLD: %d LDs, %s, granularity %s" % (
        mld["ld_count"], human_size(mld["memory_size"]),
        human_size(mld["memory_granularity_bytes"]))


def ld_text(ld):
    text = "LD %d: %s (range 1 ×%d, range 2 ×%d)" % (
        ld["ld_id"], human_size(ld["allocated_bytes"]), ld["range_1_allocation_mult"],
        ld["range_2_allocation_mult"])
    bound = ld.get("bound")
    if bound:
        text += " ← VCS %d vPPB %d" % (bound["vcs_id"], bound["vppb_id"])
    elif "bound" in ld:
        text += " unbound"
    return text


def vppb_text(vppb):
    status = vppb.get("binding_status_decoded") or str(vppb["binding_status"])
    text = "vPPB %d  " % vppb["vppb_id"]
    if status == "bound-port":
        return text + "→ port %d" % vppb["bound_port_id"]
    if status == "bound-ld":
        return text + "→ port %d LD %d" % (vppb["bound_port_id"], vppb["bound_ld_id"])
    return text + status


def vcs_text(vcs):
    return "VCS %d  %s, USP port %d, %d vPPBs" % (
        vcs["vcs_id"], vcs.get("vcs_state_decoded") or vcs["vcs_state"], vcs["usp_id"],
        vcs["num_vppbs"])


# -------------------------------------------------------------------- tree

def draw(data, inv):
    from rich.tree import Tree
    from .render.table import _console
    console = _console()
    sw = data["switch"]
    if sw is None:
        root = Tree("%s · %s" % (inv.where, mld_text(data["mld"])))
        for ld in data["mld"].get("lds", ()):
            root.add(ld_text(ld))
        console.print(root)
        return
    bound = sum(1 for v in data["vcss"] for p in v["vppbs"] if p["binding_status"] in (2, 3))
    root = Tree("switch · %s — %d ports, %d VCS, %d of %d vPPBs bound" % (
        inv.where, sw["num_physical_ports"], sw["num_vcs"], bound, sw["num_total_vppb"]))
    ports = root.add("physical ports")
    for port in data["ports"]:
        node = ports.add(port_text(port))
        if port["mld"] is not None:
            m = node.add(mld_text(port["mld"]))
            for ld in port["mld"].get("lds", ()):
                m.add(ld_text(ld))
    for vcs in data["vcss"]:
        node = root.add(vcs_text(vcs))
        for vppb in vcs["vppbs"]:
            node.add(vppb_text(vppb))
    console.print(root)


# --------------------------------------------------------------------- dot

def _q(text):
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % text.replace("\n", "\\n")


def to_dot(data, where):
    """A Graphviz digraph of the fabric (text ending in a newline)."""
    lines = ["digraph cxl_fabric {", "  rankdir=LR;",
             "  node [shape=box, fontname=\"monospace\"];"]

    def node(name, label, **attrs):
        extra = "".join(", %s=%s" % (k, _q(v)) for k, v in sorted(attrs.items()))
        lines.append("  %s [label=%s%s];" % (_q(name), _q(label), extra))

    def edge(a, b, **attrs):
        extra = " [%s]" % ", ".join("%s=%s" % (k, _q(v)) for k, v in sorted(attrs.items())) \
            if attrs else ""
        lines.append("  %s -> %s%s;" % (_q(a), _q(b), extra))

    def lds(parent, mld, port_id):
        node(parent + "/mld", mld_text(mld), shape="folder")
        edge(parent, parent + "/mld")
        for ld in mld.get("lds", ()):
            name = "ld %s.%d" % (port_id, ld["ld_id"])
            node(name, ld_text(ld).split(" ←")[0].replace(" unbound", ""))
            edge(parent + "/mld", name)

    if data["switch"] is None:
        node("mld", where)
        lds("mld", data["mld"], "mld")
    else:
        node("switch", "switch\n%s" % where, shape="box3d")
        for port in data["ports"]:
            name = "port %d" % port["port_id"]
            label = "port %d %s\n%s" % (port["port_id"],
                                        (port.get("config_state_decoded") or "").upper(),
                                        link_text(port))
            if port["config_state_decoded"] != "usp":
                label += "\n" + _dev(port.get("conn_dev_type_decoded"))
            node(name, label)
            edge("switch", name)
            if port["mld"] is not None:
                lds(name, port["mld"], port["port_id"])
        for vcs in data["vcss"]:
            vname = "vcs %d" % vcs["vcs_id"]
            node(vname, vcs_text(vcs), shape="ellipse")
            edge("port %d" % vcs["usp_id"], vname, style="dashed", label="USP")
            for vppb in vcs["vppbs"]:
                pname = "vppb %d.%d" % (vcs["vcs_id"], vppb["vppb_id"])
                node(pname, "vPPB %d" % vppb["vppb_id"], shape="ellipse")
                edge(vname, pname)
                if vppb["binding_status"] == 2:
                    edge(pname, "port %d" % vppb["bound_port_id"], color="blue",
                         label="bound")
                elif vppb["binding_status"] == 3:
                    edge(pname, "ld %d.%d" % (vppb["bound_port_id"], vppb["bound_ld_id"]),
                         color="blue", label="bound")
    lines.append("}")
    return "\n".join(lines) + "\n"
