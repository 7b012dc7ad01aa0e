# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi vendor`: raw vendor-specific commands, and plugins.

``vendor raw --opcode 0xC000 [--payload-hex HEX | --payload FILE] [--rsp-size N]``
sends any opcode with a raw payload (the registry's ``vendor-specific`` is
the same command under its registry name).  Other packages add
``cxl-mi vendor <name>`` commands or groups through the entry-point group
``cxl_mi.plugins`` (docs/cli.md): each entry point names a click command, or
a callable returning one.
"""

import click

from . import BUILDERS, RegistryGroup
from .. import params as P

PLUGIN_GROUP = "cxl_mi.plugins"


def _raw_callback(name):
    @click.pass_context
    def run(ctx, opcode, payload_hex, payload_file, rsp_size, **values):
        from ..options import Invocation, guard
        from cxlmi_bindings import registry
        inv = Invocation.from_values(ctx, values, None)
        with guard(inv):
            inv.resolve()
            if payload_hex is not None and payload_file is not None:
                raise P.ValueProblem("give --payload-hex or --payload, not both")
            payload = payload_hex if payload_hex is not None else (payload_file or b"")
            known = registry.BY_OPCODE.get(opcode)
            if known is not None and known.destructive:
                inv.confirm(known, None, "%s on %s: raw opcode %04Xh is %s: %s" % (
                    inv.command_name, inv.where, opcode, known.name, known.summary))
            data = inv.endpoint().vendor_specific(opcode, payload, inv.tunnel)
            inv.background = getattr(inv.endpoint(), "last_return_code", 0) == 1
            if rsp_size is not None and len(data) > rsp_size:
                from cxlmi_bindings.errors import ProtocolError
                raise ProtocolError("opcode %04Xh: the reply carries %d payload bytes, more "
                                    "than --rsp-size %d" % (opcode, len(data), rsp_size))
            from ..render.views import Hexdump, Note
            result = {"opcode": opcode, "opcode_decoded": registry.opcode_name(opcode),
                      "length": len(data), "data": data.hex(),
                      "background": bool(inv.background)}
            shown = [Hexdump("opcode %04Xh (%s): %d reply bytes"
                             % (opcode, registry.opcode_name(opcode), len(data)), data)]
            if inv.background:              # return code 1: it goes on after the reply
                shown.append(Note("opcode %04Xh: started in the background on %s; follow it "
                                  "with `cxl-mi generic bg-op-status %s`"
                                  % (opcode, inv.where, inv.target)))
            inv.emit_data(result, raw=data, table=shown, command="vendor_specific")
    return run


def raw_command(name="raw", entry=None):
    from ..options import common_params
    own = [
        click.Option(["--opcode"], type=P.Int(16), required=True, metavar="OPCODE",
                     help="command opcode: command set << 8 | command (vendor range "
                          "C000h-FFFFh; any opcode is accepted)"),
        click.Option(["--payload-hex", "payload_hex"], type=P.Hex(), default=None,
                     metavar="HEX", help="request payload as hex"),
        click.Option(["--payload", "payload_file"], type=P.FileBytes(), default=None,
                     metavar="FILE", help="request payload from FILE ('-' for stdin)"),
        click.Option(["--rsp-size", "rsp_size"], type=P.Size(32), default=None,
                     metavar="N", help="largest reply payload accepted (bytes); a longer "
                                       "reply is an error"),
    ]
    common = common_params(destructive=True)
    return click.Command(
        name, callback=_raw_callback(name), params=common[:1] + own + common[1:],
        short_help="Send any opcode with a raw payload; print the raw reply",
        help=((entry.summary + ".\n\n") if entry is not None else "") +
        "Send a command by opcode with a raw payload and show the reply payload "
        "(hexdump; -o raw for the bytes, --json for hex in JSON).\n\nOpcodes the "
        "registry marks destructive need --yes (or a confirmation on a terminal) here too.",
        context_settings={"help_option_names": ["-h", "--help"]})


BUILDERS["vendor_specific"] = lambda entry: raw_command(entry.cli_name, entry)


def plugin_entry_points():
    """name -> entry point of every installed ``cxl_mi.plugins`` plugin."""
    from cxlmi_bindings._plugins import entry_points
    return entry_points(PLUGIN_GROUP)


def load_plugin(ep):
    """The click command a plugin entry point names; None (with a warning) if broken."""
    try:
        obj = ep.load()
        if not isinstance(obj, click.Command) and callable(obj):
            obj = obj()
        if not isinstance(obj, click.Command):
            raise TypeError("%r is not a click command or group" % (obj,))
    except Exception as exc:         # a broken plugin must not break cxl-mi
        click.echo("cxl-mi: warning: vendor plugin %r (%s) did not load: %s"
                   % (ep.name, getattr(ep, "value", "?"), exc), err=True)
        return None
    if obj.name != ep.name:
        import copy
        obj = copy.copy(obj)
        obj.name = ep.name
    return obj


class VendorGroup(RegistryGroup):
    def __init__(self):
        super().__init__("vendor", extra={"raw": raw_command})
        self._plugins = None

    def reset(self):
        super().reset()
        self._plugins = None

    def plugins(self):
        if self._plugins is None:
            try:
                self._plugins = plugin_entry_points()
            except Exception as exc:
                click.echo("cxl-mi: warning: cannot list vendor plugins: %s" % exc, err=True)
                self._plugins = {}
        return self._plugins

    def list_commands(self, ctx):
        names = super().list_commands(ctx)
        for name in sorted(self.plugins()):
            if name not in names:
                names.append(name)
        return names

    def get_command(self, ctx, name):
        cmd = super().get_command(ctx, name)
        if cmd is not None:
            return cmd
        ep = self.plugins().get(name)
        if ep is None:
            return None
        cmd = load_plugin(ep)
        if cmd is not None:
            self._built[name] = cmd
        return cmd

    def short_help_for(self, ctx, name):
        if name in self.plugins() and name not in RegistryGroup.list_commands(self, ctx):
            cmd = self.get_command(ctx, name)
            return ("[plugin] " + cmd.get_short_help_str(limit=200)) if cmd else "[plugin]"
        return super().short_help_for(ctx, name)


group = VendorGroup()
