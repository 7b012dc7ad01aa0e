# SPDX-License-Identifier: LGPL-2.1-or-later
"""Write the manual pages in man/ from the click command tree.

    python tools/gen_man.py           rewrite man/
    python tools/gen_man.py --check   exit 1 if a committed page is stale

Pages: ``cxl-mi.1`` (the tool, its targets, tunnels, output, exit status,
the top-level ``identify``), one per group (``cxl-mi-generic.1``,
``cxl-mi-memdev.1``, ``cxl-mi-fmapi.1``, ``cxl-mi-vendor.1``: every command
with its synopsis, help and options) and ``cxl-mi-emulate.1``,
``cxl-mi-list.1``.  Commands, options, help texts, exit codes and emulator
profiles come from the code (click's command and parameter objects,
``cxlmi_cli.errors.EPILOG``, the profile table); the prose around them
(targets, tunnels, output, examples) is below.  The roff is written here:
no click-man, and nothing that changes with the installed click version.
Installed vendor plugins are left out: the pages describe cxl-mi itself.

Read one with ``man -l man/cxl-mi.1``.
"""

import os
import re
import sys

try:
    from tools._generated import sync
except ImportError:     # run as a script: tools/ is sys.path[0]
    from _generated import sync

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import click  # noqa: E402

OUT = os.path.join(ROOT, "man")
GROUPS = ("generic", "memdev", "fmapi", "vendor")
MANUAL = "cxl-mi manual"
#: the options every device command shares: described once per page
COMMON = ("target", "mctp", "tcp", "port", "ld", "mhd", "timeout", "output", "as_json", "help",
          "input_file", "dry_run")

EXAMPLES = {
    "cxl-mi": [
        ("Identify an emulated memory expander, then a kernel device as JSON:",
         ["cxl-mi identify emu:type3", "cxl-mi identify mem0 --json"]),
        ("The LDs of the MLD behind switch port 2, over kernel MCTP:",
         ["cxl-mi fmapi get-ld-info --mctp 1:8 --port 2"]),
        ("Serve an emulated fabric and talk to it from another shell:",
         ["cxl-mi emulate --profile switch --listen 127.0.0.1:2508",
          "cxl-mi fmapi get-phys-port-state tcp:127.0.0.1 --ports 0-7"]),
        ("Health of every memory device, for a script:",
         ["for d in /dev/cxl/mem*; do cxl-mi memdev get-health-info \"$d\" --json; done"]),
    ],
    "generic": [
        ("Update the firmware and activate it at the next reset:",
         ["cxl-mi generic transfer-fw mem0 fw.bin --slot 2 --activate reset --yes"]),
        ("Read and clear every event record of every log:",
         ["cxl-mi generic get-event-records mem0 --all --clear --yes"]),
        ("The Command Effects Log, decoded; the vendor debug log as bytes:",
         ["cxl-mi generic get-log mem0 cel",
          "cxl-mi generic get-log mem0 vendor-debug -o raw | xxd"]),
        ("What the background operation is doing:",
         ["cxl-mi generic bg-op-status mem0"]),
    ],
    "memdev": [
        ("Health and partitions:",
         ["cxl-mi memdev get-health-info mem0",
          "cxl-mi memdev get-partition-info mem0 --json"]),
        ("Sanitize and wait for the end (Ctrl-C asks the device to abort):",
         ["cxl-mi memdev sanitize mem0 --wait --yes"]),
        ("Scan the first 4 GiB for media errors, then list the poison:",
         ["cxl-mi memdev scan-media mem0 --length 4G --wait",
          "cxl-mi memdev get-poison-list mem0"]),
        ("Make 4 GiB volatile at the next reset, on an LD behind a switch:",
         ["cxl-mi memdev set-partition-info tcp:10.0.0.5 --port 2 --ld 1 "
          "--volatile-capacity 4G --yes"]),
    ],
    "fmapi": [
        ("The switch's ports, and the LDs of the MLD on port 2:",
         ["cxl-mi fmapi get-phys-port-state emu:switch --ports 0-7",
          "cxl-mi fmapi get-ld-info emu:switch --port 2 --json"]),
        ("Bind LD 1 of the MLD on port 2 to vPPB 1 of VCS 0:",
         ["cxl-mi fmapi bind-vppb emu:switch --vcs-id 0 --vppb-id 1 --port-id 2 --ld-id 1"]),
        ("A multi-headed device's heads:",
         ["cxl-mi fmapi get-head-info emu:mhd --mhd --num-heads 2"]),
    ],
    "vendor": [
        ("Send vendor opcode C000h with two payload bytes:",
         ["cxl-mi vendor raw mem0 --opcode 0xC000 --payload-hex 0102",
          "cxl-mi vendor raw mem0 --opcode 0xC001 -o raw | xxd"]),
    ],
    "emulate": [
        ("A type 3 device whose state survives restarts:",
         ["cxl-mi emulate --profile type3 --listen 127.0.0.1:0 --state t3.state"]),
        ("Serve a fabric and use it:",
         ["cxl-mi emulate --profile switch &",
          "cxl-mi fmapi get-ld-info tcp:127.0.0.1 --port 2"]),
    ],
    "list": [
        ("Every target, for a script:", ["cxl-mi list --json"]),
    ],
}


# ----------------------------------------------------------------------- roff

def esc(text):
    """Plain text -> roff: backslashes, minus signs, non-ASCII as \\[uXXXX]."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\e")
        elif ch == "-":
            out.append("\\-")
        elif ord(ch) > 126:
            out.append("\\[u%04X]" % ord(ch))
        else:
            out.append(ch)
    return "".join(out)


def line(text):
    """One text line: a leading dot or quote must not read as a request."""
    text = text.rstrip()
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def prose(text):
    """Escaped text with `code` in bold."""
    parts = re.split(r"`([^`]+)`", text)
    out = []
    for i, part in enumerate(parts):
        out.append(("\\fB%s\\fR" % esc(part)) if i % 2 else esc(part))
    return "".join(out)


def paragraphs(text):
    """click help text -> roff: paragraphs; ``\\b`` blocks kept line by line."""
    out = []
    for block in re.split(r"\n\s*\n", (text or "").strip()):
        lines = block.split("\n")
        if lines[0].strip() == "\b":
            out.append(".PP")
            out.append(".nf")
            out.extend(line(prose(l)) for l in lines[1:])
            out.append(".fi")
        else:
            out.append(".PP")
            out.append(line(prose(" ".join(l.strip() for l in lines))))
    return out


def bold(text):
    return "\\fB%s\\fR" % esc(text)


def italic(text):
    return "\\fI%s\\fR" % esc(text)


# ----------------------------------------------------------------------- the tree

def context(cmd, path):
    parent = None
    for i, name in enumerate(path[:-1]):
        parent = click.Context(click.Command(name), info_name=name, parent=parent)
    return click.Context(cmd, info_name=path[-1], parent=parent, **cmd.context_settings)


def metavar(param, ctx):
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    if param.metavar:
        return param.metavar
    t = param.type
    if isinstance(t, click.Choice):
        return "[%s]" % "|".join(str(c) for c in t.choices)
    if isinstance(t, click.IntRange):
        return "N"
    if isinstance(t, click.FloatRange):
        return "NUMBER"
    from cxlmi_cli import params as P
    if isinstance(t, P._Type) or type(t).get_metavar is not click.ParamType.get_metavar:
        for args in ((param, ctx), (param,)):
            try:
                mv = t.get_metavar(*args)
                break
            except TypeError:
                mv = None
        if mv:
            return mv
    return (t.name or "value").upper()


def option_head(param, ctx):
    names = sorted(param.opts, key=lambda o: (o.startswith("--"), o)) + list(
        param.secondary_opts)
    head = ", ".join(bold(n) for n in names)
    mv = metavar(param, ctx)
    if mv:
        head += " " + italic(mv)
    return head


def option_help(param):
    text = param.help or ""
    extra = []
    if isinstance(param.type, (click.IntRange, click.FloatRange)):
        lo, hi = param.type.min, param.type.max
        if lo is not None and hi is not None:
            extra.append("%s to %s" % (lo, hi))
    if getattr(param, "show_default", False) and param.default not in (None, False, ()):
        extra.append("default: %s" % (param.default,))
    if getattr(param, "multiple", False):
        extra.append("repeatable")
    if extra:
        text = (text + " " if text else "") + "(%s)" % "; ".join(extra)
    return text


def synopsis(path, cmd, ctx):
    words = [bold(" ".join(path))]
    opts = [p for p in cmd.params if isinstance(p, click.Option) and not p.hidden]
    if opts:
        words.append("[" + italic("OPTIONS") + "]")
    for p in cmd.params:
        if isinstance(p, click.Argument):
            mv = p.metavar or p.name.upper()
            if not p.required and not mv.startswith("["):
                mv = "[%s]" % mv
            words.append(italic(mv))
    if isinstance(cmd, click.Group):
        words.append(italic("COMMAND") + " [" + italic("ARGS") + "]...")
    return " ".join(words)


#: what the help option says, written here so the pages do not follow click's wording
HELP_TEXT = "Show this message and exit."


def is_help_option(param, ctx):
    """Click's own help flag, known by what it is: its internal name changed in
    click 8.5 (it was ``help``), its option strings are the context's."""
    names = set(ctx.help_option_names)
    return (isinstance(param, click.Option) and not param.expose_value and
            bool(param.opts) and set(param.opts) <= names)


def options(cmd, ctx, skip=()):
    out = []
    for p in cmd.get_params(ctx):
        if not isinstance(p, click.Option) or p.hidden:
            continue
        helpflag = is_help_option(p, ctx)
        if ("help" if helpflag else p.name) in skip:
            continue
        out.append(".TP")
        out.append(option_head(p, ctx))
        out.append(line(prose(HELP_TEXT if helpflag else option_help(p))))
    return out


def header(name, section_title):
    from cxlmi_bindings import __version__
    return [
        '.\\" SPDX-License-Identifier: LGPL-2.1-or-later',
        '.\\" Generated by tools/gen_man.py from the cxl-mi command tree: edit that (or the',
        '.\\" help texts), then run it; tests/test_completions_man.py fails when stale.',
        '.TH %s 1 "" "cxl\\-mi %s" "%s"' % (esc(name.upper()), esc(__version__),
                                           esc(section_title)),
    ]


# ----------------------------------------------------------------------- shared sections

def targets_section():
    from cxlmi_bindings.emulator.profiles import PROFILES
    out = [".SH TARGETS",
           ".PP",
           "Every device command takes one target: the positional " + italic("TARGET") +
           " or an option.  Naming two, or none with " + bold("CXLMI_TARGET") +
           " unset, is a usage error (exit status 2).",
           ".TP", bold("mem0") + ", " + bold("/dev/cxl/mem0") + ", " + bold("switch0"),
           "the Linux CXL driver (ioctl on the " + bold("/dev/cxl") + " node)",
           ".TP", bold("fwctl:") + italic("N") + ", " + bold("/dev/fwctl/fwctl") + italic("N"),
           "the Linux CXL driver's fwctl device (Linux 6.15 or later): Get Supported "
           "Features, Get Feature and Set Feature only",
           ".TP", bold("mctp:") + italic("NET,EID") + " (also " + italic("NET:EID") + "), " +
           bold("--mctp") + " " + italic("NET:EID"),
           "an MCTP endpoint through the kernel's AF_MCTP sockets",
           ".TP", bold("tcp:") + italic("HOST") + "[" + bold(":") + italic("PORT") + "], " +
           bold("--tcp") + " " + italic("HOST") + "[" + bold(":") + italic("PORT") + "]",
           "MCTP over TCP, port 2508 by default; " + bold("cxl-mi emulate") +
           " serves one",
           ".TP", bold("emu:") + italic("PROFILE"),
           "the in-process emulator, a fresh device for each command:"]
    out.append(".RS")
    for name, (_, description) in PROFILES.items():
        out += [".TP", bold(name), line(prose(description))]
    out.append(".RE")
    out += [".TP", "(none)", "the target in " + bold("CXLMI_TARGET")]
    return out


def tunnels_section():
    return [
        ".SH TUNNELS",
        ".PP",
        "A command can travel through a switch or an MLD to the component behind it, in "
        "Tunnel Management Command (5300h) messages, one per level:",
        ".TP", bold("--port") + " " + italic("N"),
        "through the switch's physical port " + italic("N") + " to the device on it",
        ".TP", bold("--ld") + " " + italic("N"),
        "to LD " + italic("N") + " of the MLD the target is",
        ".TP", bold("--port") + " " + italic("N") + " " + bold("--ld") + " " +
        italic("M"),
        "through switch port " + italic("N") + " to LD " + italic("M") +
        " of the MLD there",
        ".TP", bold("--mhd"),
        "to the LD pool CCI of the multi-headed device the target is; not with " +
        bold("--port") + " or " + bold("--ld") + " (exit status 2)",
    ]


def output_section():
    return [
        ".SH OUTPUT",
        ".TP", bold("-o table") + " (the default)",
        "tables for people: words for enumerations and flags, \\[u00B0]C, sizes in GiB, "
        "records, ports, extents and log entries as rows, firmware slots with the active "
        "(*) and staged (+) one marked, raw replies as a hex dump",
        ".TP", bold("-o json") + ", " + bold("--json"),
        "one JSON object for scripts, with a top-level " + bold("schema_version") +
        ", the command, target and tunnel, and the " + bold("result") + ": field names as "
        "in the payload structures, numbers as numbers, enumerations and bitmasks also "
        "decoded (" + bold("*_decoded") + ").  Errors are JSON objects on standard output "
        "too, with " + bold("error.type") + ", " + bold("message") + ", " +
        bold("return_code_name") + " and " + bold("exit_code") + ".  The schema is "
        "documented in " + bold("docs/json-schema.md") + " of the cxl\\-mi sources; "
        "workflow keys in " + bold("docs/cli.md") + ".",
        ".TP", bold("-o raw"),
        "the reply's payload bytes and nothing else, for " + bold("xxd") + "(1)",
    ]


def safety_section():
    return [
        ".SH SAFETY",
        ".PP",
        "Destructive commands (sanitize, secure erase, set partition, set LSA, firmware "
        "activation, passphrase secure erase, inject or clear poison, unbind, port control, "
        "LD allocations, DC release \\&...) say what they will do to which target, ask on a "
        "terminal and need " + bold("--yes") + " otherwise; without it they stop with "
        "exit status 2 before anything is sent.  Passphrases come from a prompt that does "
        "not echo or from " + bold("--passphrase-file") + " " + italic("FILE") +
        "; on the command line they are refused.  Long work (firmware transfer, sanitize, "
        "scan media with " + bold("--wait") + ") shows progress on a terminal, and "
        "Ctrl-C aborts it the way the specification allows (exit status 130).",
    ]


def exit_section():
    from cxlmi_cli.errors import EPILOG
    out = [".SH EXIT STATUS"]
    for text in EPILOG.splitlines():
        m = re.match(r"^\s+(\d+)\s+(.*)$", text)
        if m:
            out += [".TP", bold(m.group(1)), line(prose(m.group(2)))]
    return out


def environment_section():
    return [
        ".SH ENVIRONMENT",
        ".TP", bold("CXLMI_TARGET"),
        "the target of device commands that name none (any " + italic("TARGET") +
        " form: " + bold("mem0") + ", " + bold("mctp:1,8") + ", " + bold("tcp:host") +
        ", " + bold("emu:switch") + ")",
        ".TP", bold("_CXL_MI_COMPLETE"),
        "set by the shell completion scripts when they ask cxl\\-mi for completions "
        "(click's protocol); not for people",
        ".TP", bold("COLUMNS"),
        "the table width when standard output is not a terminal (120 otherwise)",
    ]


def examples_section(key):
    out = [".SH EXAMPLES"]
    for caption, commands in EXAMPLES[key]:
        out += [".PP", line(prose(caption)), ".PP", ".RS", ".nf"]
        out += [line(esc(c)) for c in commands]
        out += [".fi", ".RE"]
    return out


def see_also(this):
    pages = ["cxl-mi"] + ["cxl-mi-%s" % g for g in GROUPS] + ["cxl-mi-emulate", "cxl-mi-list"]
    refs = [bold(p) + "(1)" for p in pages if p != this]
    refs += [bold("cxl") + "(1)", bold("mctp") + "(8)", bold("xxd") + "(1)"]
    return [".SH SEE ALSO", ".PP", ",\n".join(refs)]


def common_options_section():
    from cxlmi_cli.options import common_params
    out = [".SH COMMON OPTIONS",
           ".PP",
           "Every device command below takes these (listed once here); " +
           bold("--input") + " those that send a request, " + bold("--yes") +
           " the destructive ones and the workflows that need it, the passphrase files "
           "those that carry a passphrase.",
           ".TP", italic("TARGET"),
           "the component to talk to (see " + bold("TARGETS") + "); " +
           bold("CXLMI_TARGET") + " when left out"]
    ctx = click.Context(click.Command("cxl-mi"))
    for p in common_params(request=True, destructive=True):
        if isinstance(p, click.Option) and not p.hidden:
            out += [".TP", option_head(p, ctx), line(prose(option_help(p)))]
    out += [".TP", bold("-h") + ", " + bold("--help"), "show the command's help"]
    return out


# ----------------------------------------------------------------------- pages

def command_section(path, cmd):
    ctx = context(cmd, path)
    out = [".SS %s" % esc(path[-1]), ".PP", synopsis(path, cmd, ctx)]
    out += paragraphs(cmd.help)
    out += options(cmd, ctx, skip=COMMON)
    if isinstance(cmd, click.Group):        # a subgroup (memdev features): its commands here
        for sub in cmd.list_commands(ctx):
            scmd = cmd.get_command(ctx, sub)
            spath = path + [sub]
            sctx = context(scmd, spath)
            out += [".PP", synopsis(spath, scmd, sctx)]
            out += paragraphs(scmd.help)
            out += options(scmd, sctx, skip=COMMON)
    return out


def root_page():
    from cxlmi_cli.main import LAZY, cli
    ctx = context(cli, ["cxl-mi"])
    out = header("cxl-mi", MANUAL)
    out += [".SH NAME",
            "cxl\\-mi \\- manage CXL components through the Component Command Interface",
            ".SH SYNOPSIS",
            ".PP", synopsis(["cxl-mi"], cli, ctx),
            ".br",
            bold("cxl-mi") + " " + italic("GROUP") + " " + italic("COMMAND") + " [" +
            italic("TARGET") + "] [" + italic("OPTIONS") + "]",
            ".SH DESCRIPTION"]
    out += paragraphs(cli.help.split("\n\n")[0])
    out += [".PP",
            "cxl\\-mi sends CXL Component Command Interface commands to memory devices "
            "(type 3), switches, multi-logical devices, multi-headed devices and dynamic "
            "capacity devices: through the Linux kernel, MCTP sockets, MCTP over TCP or a "
            "built-in emulator, directly or tunnelled through switches and MLDs.  Every "
            "command of the specification's generic, memory device and FM-API command sets "
            "is a subcommand of its group, named after it; request fields are options.  "
            "Commands that take more than one message (firmware transfer, sanitize and "
            "scan media with " + bold("--wait") + ", draining event logs, reading whole "
            "logs and poison lists) are workflows of the same commands.",
            ".SH OPTIONS"]
    out += options(cli, ctx)
    out += [".SH COMMANDS"]
    for name in LAZY:
        if name in GROUPS or name in ("emulate", "list"):
            page = "cxl-mi-%s" % name
            out += [".TP", bold(name) + " \\(em " + bold(page) + "(1)",
                    line(prose(LAZY[name][2]))]
        else:
            out += [".TP", bold(name), line(prose(LAZY[name][2]))]
    out += [".SS identify"]
    ident = cli.get_command(ctx, "identify")
    ictx = context(ident, ["cxl-mi", "identify"])
    out += [".PP", synopsis(["cxl-mi", "identify"], ident, ictx)]
    out += paragraphs(ident.help)
    out += [".PP", "It takes the " + bold("COMMON OPTIONS") + " of " +
            bold("cxl-mi-generic") + "(1)."]
    out += targets_section() + tunnels_section() + output_section() + safety_section()
    out += exit_section() + environment_section()
    out += [".SH FILES",
            ".TP", bold("completions/cxl-mi.bash") + ", " + bold("completions/_cxl-mi") +
            ", " + bold("completions/cxl-mi.fish"),
            "shell completion for bash, zsh and fish (see the README for where they go)"]
    out += examples_section("cxl-mi") + see_also("cxl-mi")
    return "\n".join(out) + "\n"


def group_page(name):
    from cxlmi_cli.main import LAZY, cli
    rctx = click.Context(cli, info_name="cxl-mi")
    group = cli.get_command(rctx, name)
    gctx = click.Context(group, info_name=name, parent=rctx)
    page = "cxl-mi-%s" % name
    out = header(page, MANUAL)
    out += [".SH NAME",
            "%s \\- %s" % (esc(page), prose(LAZY[name][2].rstrip(".…"))),
            ".SH SYNOPSIS", ".PP",
            bold("cxl-mi %s" % name) + " " + italic("COMMAND") + " [" + italic("TARGET") +
            "] [" + italic("OPTIONS") + "]",
            ".SH DESCRIPTION"]
    out += paragraphs(group.help)
    out += [".PP",
            "Each command is named after the registry entry of the CXL command it sends; "
            "its help names the opcode.  Request fields are options: integers in decimal "
            "or 0x hex, sizes with binary units (" + bold("4K") + ", " + bold("256M") +
            ", " + bold("4G") + "), enumerations and flags by name, UUIDs or their names, "
            "byte arrays in hex; " + bold("--input") + " " + italic("FILE") +
            " gives the whole request as JSON."]
    if name == "vendor":
        out += [".PP",
                "Other packages add " + bold("cxl-mi vendor") + " " + italic("NAME") +
                " commands through the entry-point group " + bold("cxl_mi.plugins") +
                ": each entry point names a click command or group.  A plugin that "
                "fails to load is reported and skipped.  Installed plugins are not "
                "described here; " + bold("cxl-mi vendor --help") + " lists them."]
    out += common_options_section()
    out += [".SH COMMANDS"]
    for cname in group.list_commands(gctx):
        cmd = group.get_command(gctx, cname)
        if cmd is None:
            continue
        out += command_section(["cxl-mi", name, cname], cmd)
    out += targets_section() + tunnels_section() + output_section() + safety_section()
    out += exit_section() + environment_section() + examples_section(name) + see_also(page)
    return "\n".join(out) + "\n"


def tool_page(name):
    from cxlmi_cli.main import cli
    rctx = click.Context(cli, info_name="cxl-mi")
    cmd = cli.get_command(rctx, name)
    ctx = context(cmd, ["cxl-mi", name])
    page = "cxl-mi-%s" % name
    out = header(page, MANUAL)
    first = (cmd.help or "").strip().split("\n")[0].rstrip(".")
    out += [".SH NAME", "%s \\- %s" % (esc(page), prose(first[0].lower() + first[1:])),
            ".SH SYNOPSIS", ".PP", synopsis(["cxl-mi", name], cmd, ctx),
            ".SH DESCRIPTION"]
    out += paragraphs(cmd.help)
    if name == "emulate":
        out += emulate_prose()
    out += [".SH OPTIONS"] + options(cmd, ctx)
    if name == "emulate":
        out += targets_section()
    else:
        out += output_section()
    out += exit_section()
    if name == "list":
        out += environment_section()
    out += examples_section(name) + see_also(page)
    return "\n".join(out) + "\n"


def emulate_prose():
    return [
        ".PP",
        "The " + bold("switch") + " profile is a small fabric: the upstream port on port 0, "
        "a type 3 device on 1, a 4-LD MLD on 2, a dynamic capacity device on 3, ports 4-7 "
        "empty; reach the devices with " + bold("--port") + " and " + bold("--ld") +
        ".  Every client sees the same state.  It listens on loopback unless told "
        "otherwise, and warns when not: anyone who can reach the port can manage the "
        "emulated devices.  " + bold("--listen") + " " + italic("HOST") + bold(":0") +
        " picks a free port, printed as " + bold("listening on tcp:HOST:PORT") + ".",
        ".PP",
        "With " + bold("--state") + " " + italic("FILE") + " the devices' state is "
        "loaded at start and written (atomically: a new file renamed over the old one) "
        "while serving and at exit.  The file is a Python pickle of the device tree unless "
        "a model offers its own state format: load only state files you wrote yourself.",
        ".PP",
        "Ctrl-C or SIGTERM stop the server with exit status 0.",
    ]


def render():
    """{file name: roff text} of every page."""
    from cxlmi_cli import commands as cli_commands
    from cxlmi_cli.commands import vendor
    saved = vendor.plugin_entry_points
    vendor.plugin_entry_points = lambda: {}      # the pages describe cxl-mi itself
    cli_commands.reset()
    try:
        pages = {"cxl-mi.1": root_page()}
        for name in GROUPS:
            pages["cxl-mi-%s.1" % name] = group_page(name)
        for name in ("emulate", "list"):
            pages["cxl-mi-%s.1" % name] = tool_page(name)
    finally:
        vendor.plugin_entry_points = saved
        cli_commands.reset()
    return pages


def main(argv=None):
    return sync(render(), OUT, "gen_man.py", argv)


if __name__ == "__main__":
    sys.exit(main())
