# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi mctp`: the MCTP control commands (DSP0236) of an MCTP-reached endpoint.

    cxl-mi mctp get-eid TARGET             Get Endpoint ID
    cxl-mi mctp get-uuid TARGET            Get Endpoint UUID
    cxl-mi mctp get-message-types TARGET   Get Message Type Support
    cxl-mi mctp get-version TARGET [--type N]   Get MCTP Version Support

TARGET is ``tcp:HOST[:PORT]`` or ``mctp:NET,EID``; nothing is probed first.
With ``--dry-run`` (or ``cxl-mi --dry-run``) a command shows the MCTP control
request it would send and sends nothing; the target is not opened.
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
    if inv.dry_run:                 # nothing opened: the request is shown instead
        return _DryRunControl()
    inv.endpoint_options["probe"] = False       # the control command is the point
    return inv.endpoint().transport


#: MCTP control command codes (DSP0236) -> names, for the dry run
CONTROL_NAMES = {0x02: "Get Endpoint ID", 0x03: "Get Endpoint UUID",
                 0x04: "Get MCTP Version Support", 0x05: "Get Message Type Support"}


class _ControlSent(BaseException):
    """The control request a dry run would have sent (ends the command)."""

    def __init__(self, command, data):
        super().__init__("dry run")
        self.command, self.data = command, bytes(data)


def _dry_run_transport_class():
    from cxlmi_bindings.transports.mctp_control import MctpControl

    class DryRunControl(MctpControl):
        """The MCTP control calls of a transport; ``control`` stops with the request."""

        def control(self, command, data=b"", timeout=None):
            raise _ControlSent(command, data)
    return DryRunControl


def _DryRunControl():
    return _dry_run_transport_class()()


def _show_dry_run(inv, sent):
    """Print the control request a dry run stopped at; exit 0."""
    from cxlmi_bindings import mctp_framing as mf
    from ..dry_run import NOTHING_SENT
    from ..render import SCHEMA_VERSION
    # a transport numbers its control requests from instance 0: the first one carries 0
    message = bytes((mf.CTRL_RQ | 0, sent.command & 0xFF)) + sent.data
    name = CONTROL_NAMES.get(sent.command, "MCTP control command 0x%02x" % sent.command)
    request = {"name": name, "command_code": sent.command, "instance_id": 0,
               "data": sent.data.hex(), "message": message.hex(),
               "mctp_message_type": mf.TYPE_CONTROL}
    notes = [NOTHING_SENT]

    def doc():
        return {"schema_version": SCHEMA_VERSION, "command": inv.command_name,
                "target": inv.target, "tunnel": None, "dry_run": True,
                "request": request, "notes": notes}

    def sections():
        from ..render.views import Pairs, Hexdump, Note
        pairs = [("command", name), ("command code", "%02Xh" % sent.command),
                 ("instance ID", "0"), ("MCTP message type", "0 (MCTP control)")]
        if sent.data:
            pairs.append(("request data", sent.data.hex()))
        return [Pairs("request (dry run)", pairs),
                Hexdump("MCTP control message (%d bytes, after the message type byte)"
                        % len(message), message)] + [Note(n) for n in notes]

    inv.out.show(doc, sections, lambda: bytes((mf.TYPE_CONTROL,)) + message,
                 title="%s · %s · dry run" % (inv.command_name, inv.where))
    raise click.exceptions.Exit(0)


def _dry_runs(f):
    """Turn the control request a dry run stopped at into its report."""
    import functools

    @functools.wraps(f)
    def wrapper(inv, *args, **kwargs):
        try:
            return f(inv, *args, **kwargs)
        except _ControlSent as sent:
            _show_dry_run(inv, sent)
    return wrapper


def _timeout(inv):
    return inv.timeout


@group.command("get-eid")
@device_command()
@_dry_runs
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
@_dry_runs
def get_uuid(inv):
    """Get Endpoint UUID."""
    import uuid
    raw = _transport(inv).get_endpoint_uuid(_timeout(inv))
    text = str(uuid.UUID(bytes=raw))
    inv.emit_data({"uuid": text}, raw=raw, table=[("UUID", text)])


@group.command("get-message-types")
@device_command()
@_dry_runs
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
@_dry_runs
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
