# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi mctp`: the MCTP control commands (DSP0236) of an MCTP-reached endpoint.

    cxl-mi mctp get-eid TARGET             Get Endpoint ID
    cxl-mi mctp get-uuid TARGET            Get Endpoint UUID
    cxl-mi mctp get-message-types TARGET   Get Message Type Support
    cxl-mi mctp get-version TARGET [--type N]   Get MCTP Version Support

TARGET is ``tcp:HOST[:PORT]`` or ``mctp:NET,EID``; nothing is probed first.
"""

import click

from ..options import device_command

group = click.Group("mctp", help="MCTP control commands: endpoint ID, UUID, message types, "
                                 "versions (tcp: and mctp: targets)")

#: names of the MCTP message types (DSP0239)
TYPE_NAMES = {0x00: "MCTP control", 0x01: "PLDM", 0x02: "NC-SI", 0x03: "Ethernet",
              0x04: "NVMe-MI", 0x05: "SPDM", 0x06: "secured messages", 0x07: "CXL FM-API",
              0x08: "CXL CCI", 0x7E: "vendor defined (PCI)", 0x7F: "vendor defined (IANA)"}
ENDPOINT_TYPES = {0: "simple endpoint", 1: "bus owner / bridge"}
EID_TYPES = {0: "dynamic", 1: "static", 2: "static (current)", 3: "static (different)"}


def _transport(inv):
    from cxlmi_bindings.errors import UsageError
    if inv.tunnel is not None:
        raise UsageError("MCTP control commands go to the endpoint itself: drop "
                         "--port/--ld/--mhd")
    if not inv.target.startswith(("tcp:", "mctp:")):
        raise UsageError("%s is not reached over MCTP: MCTP control commands need a tcp: "
                         "or mctp: target" % inv.target)
    inv.endpoint_options["probe"] = False       # the control command is the point
    return inv.endpoint().transport


def _timeout(inv):
    return inv.timeout


@group.command("get-eid")
@device_command()
def get_eid(inv):
    """Get Endpoint ID: the EID, endpoint type and EID type."""
    eid, kind, medium = _transport(inv).get_endpoint_id(_timeout(inv))
    data = {"eid": eid, "endpoint_type": (kind >> 4) & 0x3,
            "endpoint_type_decoded": ENDPOINT_TYPES.get((kind >> 4) & 0x3, "reserved"),
            "eid_type": kind & 0x3, "eid_type_decoded": EID_TYPES[kind & 0x3],
            "medium_specific": medium}
    inv.emit_data(data, raw=bytes((eid, kind, medium)), table=[
        ("EID", eid), ("endpoint type", data["endpoint_type_decoded"]),
        ("EID type", data["eid_type_decoded"]), ("medium specific", "0x%02x" % medium)])


@group.command("get-uuid")
@device_command()
def get_uuid(inv):
    """Get Endpoint UUID."""
    import uuid
    raw = _transport(inv).get_endpoint_uuid(_timeout(inv))
    text = str(uuid.UUID(bytes=raw))
    inv.emit_data({"uuid": text}, raw=raw, table=[("UUID", text)])


@group.command("get-message-types")
@device_command()
def get_message_types(inv):
    """Get Message Type Support: the MCTP message types the endpoint takes."""
    types = _transport(inv).get_message_types(_timeout(inv))
    listed = [{"type": t, "type_decoded": TYPE_NAMES.get(t, "unknown")} for t in types]
    inv.emit_data({"message_types": listed}, raw=bytes(types),
                  table=[("0x%02x" % t, TYPE_NAMES.get(t, "unknown")) for t in types])


@group.command("get-version")
@click.option("--type", "msg_type", type=click.IntRange(0, 0xFF), default=0xFF,
              show_default=True, metavar="N",
              help="the message type whose versions to ask for (255: the MCTP base "
                   "specification)")
@device_command()
def get_version(inv, msg_type):
    """Get MCTP Version Support for a message type."""
    from cxlmi_bindings.transports.mctp_control import version_text
    entries = _transport(inv).get_version_support(msg_type, _timeout(inv))
    versions = [{"version": version_text(e), "bcd": e.hex()} for e in entries]
    inv.emit_data({"message_type": msg_type, "supported": bool(entries), "versions": versions},
                  raw=b"".join(entries),
                  table=[("message type", "0x%02x" % msg_type)]
                  + [("version", "%s (%s)" % (v["version"], v["bcd"])) for v in versions]
                  + ([] if entries else [("version", "type not supported")]))
