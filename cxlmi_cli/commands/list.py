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

from ..options import OUTPUTS, Invocation, guard


def _scan(what, func_name, **kwargs):
    """(items, note) from cxlmi_bindings.discovery.<func_name>, never raising."""
    try:
        from cxlmi_bindings import discovery
        func = getattr(discovery, func_name)
    except (ImportError, AttributeError) as exc:
        return [], "%s: discovery is not available in this installation (%s)" % (what, exc)
    try:
        return list(func(**kwargs)), None
    except Exception as exc:        # any failure to look is a note, not a crash
        hint = getattr(exc, "hint", None)
        note = "%s: %s" % (what, exc)
        if hint:
            note += " (%s)" % hint
        return [], note


def _emulated():
    try:
        from cxlmi_bindings.emulator.profiles import PROFILES
    except ImportError as exc:
        return [], "emulated: profiles are not available (%s)" % exc
    import importlib.util
    out = []
    for name, (path, description) in PROFILES.items():
        module = path.partition(":")[0]
        try:
            available = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            available = False
        out.append({"target": "emu:%s" % name, "profile": name, "description": description,
                    "available": available})
    return out, None


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
@click.option("-o", "--output", type=click.Choice(OUTPUTS), default=None,
              help="table (default) or json")
@click.option("--json", "as_json", is_flag=True, help="the same as -o json")
@click.option("--no-mctp", is_flag=True, help="do not look for MCTP endpoints (mctpd over "
                                              "D-Bus, else the kernel's MCTP routes)")
@click.option("--no-devices", is_flag=True, help="do not scan /dev/cxl and /dev/fwctl")
@click.pass_context
def command(ctx, output, as_json, no_mctp, no_devices):
    """List CXL targets: kernel devices, fwctl devices, MCTP endpoints and emulated profiles.

    Each row's target is what the other commands take as TARGET.
    """
    inv = Invocation(ctx, "list", output=output, as_json=as_json)
    with guard(inv):
        inv.out.needs_no_raw("list has no raw output: use -o table or -o json")
        notes = []
        devices, note = ([], None) if no_devices else _scan("/dev/cxl", "scan_devices")
        if note:
            notes.append(note)
        fwctl, note = ([], None) if no_devices else _scan("fwctl", "scan_fwctl")
        if note:
            notes.append(note)
        mctp, note = ([], None) if no_mctp else _scan("MCTP", "scan_mctp")
        if note:
            # no mctpd: the kernel's own MCTP routes, each endpoint asked what it speaks
            kernel, _ = _scan("MCTP", "scan_mctp_kernel")
            if kernel:
                mctp = kernel
                note += "; the MCTP endpoints listed are the kernel's routes that answered"
            notes.append(note)
        emulated, note = _emulated()
        if note:
            notes.append(note)
        data = {"devices": [_jsonable(d) for d in devices],
                "fwctl": [_jsonable(f) for f in fwctl],
                "mctp": [_jsonable(m) for m in mctp],
                "emulated": emulated, "notes": notes}
        def doc():
            out = {"schema_version": 1, "command": "list"}
            out.update(data)
            return out

        def sections():
            from ..render.views import Rows, Note
            shown = [
                Rows("kernel devices (/dev/cxl)", ["target", "kind", "serial", "numa"],
                     [[d.get("target", d.get("devname", "?")), str(d.get("kind", "")),
                       _hex(d.get("serial")), str(d.get("numa_node", "-"))] for d in devices]),
                Rows("kernel fwctl devices (/dev/fwctl: Features only)", ["target", "memdev"],
                     [[f["target"], f.get("memdev") or "-"] for f in fwctl]),
                Rows("MCTP endpoints", ["target", "fm-api", "cci", "uuid"],
                     [[m["target"], _yes(m.get("fmapi")), _yes(m.get("cci")),
                       str(m.get("uuid") or "-")] for m in mctp]),
                Rows("emulated profiles", ["target", "description"],
                     [[e["target"], e["description"] + ("" if e["available"] else
                                                        " (not in this build)")]
                      for e in emulated]),
            ]
            return shown + [Note("note: " + n) for n in notes]

        inv.out.show(doc, sections, raw=None, title="")


def _yes(v):
    return "yes" if v else "no"


def _hex(v):
    if isinstance(v, int):
        return "0x%x" % v
    return str(v) if v is not None else "-"
