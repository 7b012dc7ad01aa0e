# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi list`: the targets this machine offers.

Kernel CXL devices (``/dev/cxl``), the fwctl devices of CXL memory devices
(``/dev/fwctl``, Linux 6.15+), MCTP endpoints mctpd knows (D-Bus) -- or, without
mctpd, those the kernel has MCTP routes to and that answer a probe -- and the
emulated profiles.  Discovery is defensive: a section that cannot be read
(no /dev/cxl, no D-Bus, no mctpd, a backend missing from this installation)
is empty with a note saying why, never an error.
"""

import click

from ..options import Invocation, guard


def _detect(what, backend):
    """(items, note) from the ``backend`` transport's ``detect()``, never raising."""
    try:
        from cxlmi_bindings.transports import backend_class
        found = backend_class(backend).detect()
    except ImportError as exc:
        return [], "%s: discovery is not available in this installation (%s)" % (what, exc)
    except Exception as exc:        # any failure to look is a note, not a crash
        hint = getattr(exc, "hint", None)
        note = "%s: %s" % (what, exc)
        if hint:
            note += " (%s)" % hint
        return [], note
    note = getattr(found, "note", None)
    return list(found), ("%s: %s" % (what, note) if note else None)


def _jsonable(d):
    out = {}
    for k, v in d.items():
        if isinstance(v, (bytes, bytearray)):
            v = bytes(v).hex()
        elif isinstance(v, (set, tuple)):
            v = list(v)
        out[k] = v
    return out


@click.command("list", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-o", "--output", type=click.Choice(("table", "json")), default=None,
              help="table (default) or json (list reads no reply: it has no raw output)")
@click.option("--json", "as_json", is_flag=True, help="the same as -o json")
@click.option("--no-mctp", is_flag=True, help="do not look for MCTP endpoints (mctpd over "
                                              "D-Bus, else the kernel's MCTP routes)")
@click.option("--no-devices", is_flag=True, help="do not scan /dev/cxl and /dev/fwctl")
@click.pass_context
def command(ctx, output, as_json, no_mctp, no_devices):
    """List CXL targets: kernel devices, fwctl devices, MCTP endpoints and emulated profiles.

    Each row's target is what the other commands take as TARGET.
    """
    from ..main import refuse_dry_run
    refuse_dry_run("list", "it sends no CXL command, it looks for targets",
                   "drop --dry-run")
    inv = Invocation(ctx, "list", output=output, as_json=as_json)
    with guard(inv):
        notes = []

        def detect(what, backend, skip=False):
            items, note = ([], None) if skip else _detect(what, backend)
            if note:
                notes.append(note)
            return [_jsonable(item) for item in items]

        devices = detect("/dev/cxl", "ioctl", no_devices)
        fwctl = detect("fwctl", "fwctl", no_devices)
        mctp = detect("MCTP", "mctp", no_mctp)
        emulated = detect("emulated", "emu")
        data = {"devices": devices, "fwctl": fwctl, "mctp": mctp, "emulated": emulated}
        from cxlmi_bindings.transports import plugins
        others = {name: detect(name, name) for name in sorted(plugins())}
        if others:
            data["plugins"] = others        # transports other packages installed
        data["notes"] = notes

        def doc():
            out = {"schema_version": 1, "command": "list"}
            out.update(data)
            return out

        def sections():
            from ..render.views import Rows, Note
            # what was not looked for (--no-devices, --no-mctp) is not shown as "none"
            shown = [
                None if no_devices else
                Rows("kernel devices (/dev/cxl)", ["target", "kind", "serial", "numa"],
                     [[d.get("target", d.get("devname", "?")), str(d.get("kind", "")),
                       _hex(d.get("serial")), str(d.get("numa_node", "-"))] for d in devices]),
                None if no_devices else
                Rows("kernel fwctl devices (/dev/fwctl: Features only)", ["target", "memdev"],
                     [[f["target"], f.get("memdev") or "-"] for f in fwctl]),
                None if no_mctp else
                Rows("MCTP endpoints", ["target", "fm-api", "cci", "uuid"],
                     [[m["target"], _yes(m.get("fmapi")), _yes(m.get("cci")),
                       str(m.get("uuid") or "-")] for m in mctp]),
                Rows("emulated profiles", ["target", "description"],
                     [[e["target"], e["description"] + ("" if e["available"] else
                                                        " (not in this build)")]
                      for e in emulated]),
            ]
            shown = [rows for rows in shown if rows is not None]
            for name, items in sorted(others.items()):
                shown.append(Rows("%s targets (a transport plugin)" % name, ["target"],
                                  [[str(item.get("target", "?"))] for item in items]))
            return shown + [Note("note: " + n) for n in notes]

        inv.out.show(doc, sections, raw=None, title="")


def _yes(v):
    return "yes" if v else "no"


def _hex(v):
    if isinstance(v, int):
        return "0x%x" % v
    return str(v) if v is not None else "-"
