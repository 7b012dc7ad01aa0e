# SPDX-License-Identifier: LGPL-2.1-or-later
"""``--dry-run``: build the request a command would send, show it, send nothing.

The request is built by the real code path -- the command's options, the
codec, :meth:`Endpoint.exchange` with its tags and :func:`tunnel.wrap` -- up to
the transport, which here is :class:`RecordingTransport`: its ``send`` keeps
the message and stops the command (:class:`Sent`).  No transport is opened, so
nothing is probed and a dead target does not matter.

The first request a command would send is shown and the command ends there
(exit 0): what a workflow sends next depends on the replies it would get.
"""

import click

from cxlmi_bindings import cci
from cxlmi_bindings import tunnel as _tunnel
from cxlmi_bindings.endpoint import Context, Endpoint
from cxlmi_bindings.transports.base import Transport

from .options import DryRunStop


class Sent(BaseException):
    """The one message the transport got.  A BaseException: a workflow's
    ``except Exception`` (clean-up on failure) must not catch it."""

    def __init__(self, message, msg_type):
        super().__init__("dry run")
        self.message, self.msg_type = bytes(message), msg_type


class RecordingTransport(Transport):
    """Carries nothing: keeps the message and stops the command."""

    def __init__(self, backend):
        from cxlmi_bindings.transports import backend_class
        real = backend_class(backend)
        self.name = backend
        # what the command may ask of its transport, as the real one would answer
        self.max_payload = getattr(real, "max_payload", Transport.max_payload)
        self.fmapi_capable = getattr(real, "fmapi_capable", True)
        self.tunnels = getattr(real, "tunnels", True)

    def send(self, message, msg_type, timeout):
        raise Sent(message, msg_type)

    def describe(self):
        return "%s (dry run: nothing is sent)" % self.name


class DryRunEndpoint(Endpoint):
    """An Endpoint whose first message ends the command with a :class:`DryRunStop`."""

    def __init__(self, target, probe=None, peer=None, mctp_type=None):
        from cxlmi_bindings import targets
        backend = targets.parse(target)[0]
        ctx = Context(probe=probe)
        # --peer and --mctp-type shape the message as in a real run
        super().__init__(ctx, RecordingTransport(backend), target, peer=peer,
                         mctp_type=mctp_type)
        # a real run first sends the Identify probe (tag 1) to the endpoints it probes:
        # the command's message then carries tag 2
        if backend in self.PROBED and ctx.probe_enabled:
            self._tag = 1

    def probe(self):
        return None

    def exchange(self, opcode, payload=b"", tunnel=None, fmapi=False, command=None):
        # every way to send (call, vendor_specific, a plugin's exchange) ends here
        try:
            return super().exchange(opcode, payload, tunnel, fmapi, command)
        except Sent as sent:
            from cxlmi_bindings import registry
            entry = registry.BY_NAME.get(command) or registry.BY_OPCODE.get(opcode)
            raise DryRunStop(report(entry, opcode, sent, tunnel, self.peer.tunnel_type_byte))


def decode_request(entry, payload):
    """The request fields as ``--json`` names them, decoded from the payload bytes."""
    from cxlmi_bindings import codec
    from cxlmi_bindings.types import to_dict
    cls = entry.req_cls if entry is not None else None
    if cls is None:
        return None
    data = codec.request_from_wire(entry, payload)
    fixed = cls.fixed_size()
    if cls._flex_ is None:
        obj = cls.from_buffer_copy(data[:fixed].ljust(fixed, b"\0"))
    else:
        obj = codec.size_tail(cls, data.ljust(fixed, b"\0"), None)
    return to_dict(obj, True, bytes.hex)


def levels(message, tunnel, type_byte=None):
    """Each wrapping level of ``message``, outermost first: (hop, header, message).
    ``type_byte``: a peer profile's MCTP type byte in front of each inner message."""
    out = []
    for index in range(tunnel.depth if tunnel else 0):
        header = cci.decode_header(message)
        out.append((tunnel.hop_name(index), header, message))
        _, _, message = _tunnel.split_request(message[cci.HEADER_SIZE:])
        if type_byte is not None:
            message = message[1:]
    out.append((None, cci.decode_header(message), message))
    return out


def report(entry, opcode, sent, tunnel, type_byte=None):
    """What would be sent, as plain data (the ``request`` of the JSON document)."""
    from cxlmi_bindings import registry
    wraps = levels(sent.message, tunnel, type_byte)
    _, header, inner = wraps[-1]
    payload = inner[cci.HEADER_SIZE:]
    return {
        "name": entry.name if entry is not None else registry.opcode_name(opcode),
        "opcode": opcode,
        "summary": entry.summary if entry is not None else None,
        "fields": decode_request(entry, payload),
        "tag": header.tag,
        "payload": payload.hex(),
        "message": inner.hex(),
        "levels": [{"level": n, "hop": hop, "opcode": h.opcode, "tag": h.tag,
                    "message": m.hex()}
                   for n, (hop, h, m) in enumerate(wraps[:-1], 1)],
        "wire": sent.message.hex(),
        "mctp_message_type": sent.msg_type,
    }


NOTHING_SENT = "Nothing was sent."
#: for commands that may send more than one request (workflows, hand-written commands)
FIRST_ONLY = ("A command that sends more than one request (a workflow, --wait, --drain) sends "
              "this one first; what it sends next depends on the replies it gets, so a dry run "
              "stops here.")


def show(inv, stop):
    """Print the report: a JSON document or tables; the caller exits 0."""
    data = stop.report
    notes = [NOTHING_SENT]
    if not getattr(inv, "single_request", False):
        notes.append(FIRST_ONLY)
    notes.extend(getattr(inv, "dry_run_notes", ()))     # what the command itself adds
    if getattr(inv, "dry_run_passphrases", False):
        notes.append("Passphrase fields are left empty: a dry run reads no passphrase.")
    from .render import SCHEMA_VERSION

    def doc():
        return {"schema_version": SCHEMA_VERSION, "command": inv.command_name,
                "target": inv.target, "tunnel": inv.tunnel_json(), "dry_run": True,
                "request": data, "notes": notes}

    # -o raw: the bytes that would go to the transport
    inv.out.show(doc, lambda: _sections(data, notes), lambda: bytes.fromhex(data["wire"]),
                 title="%s · %s · dry run" % (inv.command_name, inv.where))


def _sections(data, notes):
    from .render.views import Pairs, Hexdump, Note
    pairs = [("registry name", data["name"]), ("opcode", "%04Xh" % data["opcode"])]
    if data["summary"]:
        pairs.append(("command", data["summary"]))
    pairs.append(("tag", str(data["tag"])))
    pairs.append(("MCTP message type", "%d (%s)" % (
        data["mctp_message_type"], "FM-API" if data["mctp_message_type"] == 7 else "CCI")))
    sections = [Pairs("request (dry run)", pairs)]
    if data["fields"]:
        sections.append(Pairs("request fields", [(k, _text(v))
                                              for k, v in data["fields"].items()]))
    else:
        sections.append(Note("The request has no payload."))
    sections.append(Hexdump("CCI message (%d bytes)" % (len(data["message"]) // 2),
                            bytes.fromhex(data["message"])))
    for level in data["levels"]:
        sections.append(Hexdump("tunnel level %d (%s): %04Xh, tag %d, %d bytes" % (
            level["level"], level["hop"], level["opcode"], level["tag"],
            len(level["message"]) // 2), bytes.fromhex(level["message"])))
    return sections + [Note(n) for n in notes]


def _text(value):
    if isinstance(value, (list, dict)):
        import json
        return json.dumps(value)
    return str(value)


def stopped(inv, stop):
    """guard()'s handling of a finished dry run."""
    show(inv, stop)
    raise click.exceptions.Exit(0)
