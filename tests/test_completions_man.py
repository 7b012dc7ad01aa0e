# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shell completion and man pages: current with the tree, and working.

* the committed completions/ and man/ files are what tools/gen_completions.py
  and tools/gen_man.py write now (stale files fail, naming the tool to run);
* completion itself, through click's protocol in a subprocess (groups,
  commands, options, option values, ``emu:`` targets) and in-process for the
  ``/dev/cxl`` nodes;
* the shipped scripts in their own shells, loaded as a user loads them and
  completing groups, commands, options, option values and targets: bash's
  readline and zsh's zle (``compinit``, the script on ``$fpath`` or sourced)
  interactively on a pseudo-terminal, typing TAB and reading back the line
  and the listed candidates (``emu:ty`` across bash's ``:`` word break), fish
  through ``complete -C``.  zsh, fish and bash-completion are installed when
  missing (tests/system_packages.py: root, apt-get, ``CXLMI_TEST_INSTALL``
  not 0); one that cannot be fails the test under ``CI=true`` and skips it
  elsewhere, with the reason;
* the man pages: every command of every group, the sections the tool
  promises, examples that name real commands, and ``man -l`` rendering them
  without a warning.
"""

import fcntl
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import termios
import time

import click
import pytest
import system_packages

from cxlmi_bindings import registry
from cxlmi_cli import commands as cli_commands
from cxlmi_cli.main import cli

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import gen_completions  # noqa: E402
import gen_man  # noqa: E402

ENV = dict(os.environ, PYTHONPATH=ROOT)
ENV.pop("CXLMI_TARGET", None)


@pytest.fixture(autouse=True)
def _fresh():
    cli_commands.reset()
    yield
    cli_commands.reset()


def _committed(directory, name):
    try:
        with open(os.path.join(ROOT, directory, name), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


# ------------------------------------------------------------------------ staleness

def test_committed_completion_scripts_are_current():
    stale = [name for name, text in gen_completions.render().items()
             if _committed("completions", name) != text]
    assert not stale, ("completions/%s stale or missing: run python tools/gen_completions.py "
                       "and commit the result" % ", completions/".join(stale))


def test_committed_man_pages_are_current():
    stale = [name for name, text in gen_man.render().items()
             if _committed("man", name) != text]
    assert not stale, ("man/%s stale or missing: run python tools/gen_man.py and commit the "
                       "result" % ", man/".join(stale))


def test_the_generators_check_mode_agrees(capsys):
    assert gen_completions.main(["--check"]) == 0
    assert gen_man.main(["--check"]) == 0


def test_every_file_carries_the_licence_and_zsh_autoloads():
    for name in gen_completions.render():
        assert "SPDX-License-Identifier: LGPL-2.1-or-later" in _committed("completions", name)
    assert _committed("completions", "_cxl-mi").startswith("#compdef cxl-mi\n")
    for name in gen_man.render():
        assert _committed("man", name).startswith(
            '.\\" SPDX-License-Identifier: LGPL-2.1-or-later\n')


# ------------------------------------------------------------------------ the protocol

def complete(shell, words, cword=None):
    """What `cxl-mi` answers a shell asking with click's protocol (a subprocess)."""
    env = dict(ENV, _CXL_MI_COMPLETE="%s_complete" % shell, COMP_WORDS=" ".join(words),
               COMP_CWORD=str(len(words) - 1 if cword is None else cword))
    out = subprocess.run([sys.executable, "-m", "cxlmi_cli"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    if shell == "bash":
        return [tuple(l.split(",", 1)) for l in out.stdout.splitlines() if l]
    lines = out.stdout.split("\n")
    return [tuple(lines[i:i + 3]) for i in range(0, len(lines) - 2, 3)]


def values(items):
    return [i[1] for i in items if i[0] == "plain"]


def test_bash_protocol_completes_groups_commands_options_and_targets():
    top = values(complete("bash", ["cxl-mi", ""]))
    assert {"identify", "list", "emulate", "generic", "memdev", "fmapi", "vendor"} <= set(top)
    assert values(complete("bash", ["cxl-mi", "mem"])) == ["memdev"]
    cmds = values(complete("bash", ["cxl-mi", "generic", "get-ev"]))
    assert cmds == ["get-event-records", "get-event-interrupt-policy"]
    opts = values(complete("bash", ["cxl-mi", "memdev", "get-lsa", "emu:type3", "--le"]))
    assert opts == ["--length"]
    targets = values(complete("bash", ["cxl-mi", "memdev", "get-health-info", "emu:"]))
    assert targets == ["emu:%s" % p for p in ("type3", "mld", "switch", "mhd", "dcd")]
    prefixes = values(complete("bash", ["cxl-mi", "identify", ""]))
    assert "mctp:" in prefixes and "tcp:" in prefixes and "emu:switch" in prefixes


def test_option_values_complete_by_name():
    assert values(complete("bash", ["cxl-mi", "generic", "get-event-records", "emu:type3",
                                    "--log", "f"])) == ["fail", "fatal"]
    assert values(complete("bash", ["cxl-mi", "generic", "get-log", "emu:type3", "v"])) == [
        "vendor-debug"]
    assert values(complete("bash", ["cxl-mi", "emulate", "--profile", "s"])) == ["switch"]


def test_a_file_argument_completes_as_files():
    items = complete("bash", ["cxl-mi", "generic", "transfer-fw", "emu:type3", "fw"])
    assert ("file", "fw") in items


@pytest.mark.parametrize("words", [
    ["cxl-mi", "memdev", "get-lsa", "emu:type3", "--input", "pl"],
    ["cxl-mi", "memdev", "set-lsa", "emu:type3", "--data", "pl"],
    ["cxl-mi", "vendor", "raw", "emu:type3", "--payload", "pl"],
])
def test_options_that_read_a_file_complete_as_files(words):
    # --input, a blob field's FILE and vendor raw's --payload offered nothing
    assert complete("bash", words) == [("file", "pl")]


def test_zsh_protocol_carries_help_and_escapes_colons():
    items = complete("zsh", ["cxl-mi", "gen"])
    assert items[0][:2] == ("plain", "generic") and "Generic" in items[0][2]
    targets = complete("zsh", ["cxl-mi", "identify", "emu:t"])
    assert ("plain", "emu:type3", "_") in targets


def test_dev_cxl_nodes_complete_as_targets(monkeypatch):
    from click.shell_completion import ShellComplete
    import cxlmi_cli.target as cli_target
    real = os.listdir
    monkeypatch.setattr(cli_target.os, "listdir", lambda p: ["mem0", "mem1", "switch0"]
                        if p == "/dev/cxl" else real(p))
    comp = ShellComplete(cli, {}, "cxl-mi", "_CXL_MI_COMPLETE")
    got = [c.value for c in comp.get_completions(["memdev", "get-health-info"], "")]
    assert got[:3] == ["mem0", "mem1", "switch0"]
    got = [c.value for c in comp.get_completions(["identify"], "/dev/cxl/m")]
    assert got == ["/dev/cxl/mem0", "/dev/cxl/mem1"]
    got = [c.value for c in comp.get_completions(["fmapi", "get-ld-info"], "sw")]
    assert got == ["switch0"]


def test_listing_a_group_for_completion_builds_no_command():
    from click.shell_completion import ShellComplete
    cli_commands.reset()
    comp = ShellComplete(cli, {}, "cxl-mi", "_CXL_MI_COMPLETE")
    items = comp.get_completions(["generic"], "")
    assert "transfer-fw" in [i.value for i in items]
    group = cli.get_command(click.Context(cli), "generic")
    assert group._built == {}


# ------------------------------------------------------------------------ the scripts
#
# Each shell loads the shipped script the way a user's would and completes with its own
# machinery: bash and zsh interactively on a pseudo-terminal (readline; zle with compinit),
# fish with `complete -C`.  `cxl-mi` on their PATH runs this tree (the shim).  A shell that is
# missing is installed (tests/system_packages.py); under CI one that cannot be is a failure.

@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    """A bin directory whose `cxl-mi` runs this tree."""
    d = tmp_path_factory.mktemp("bin")
    path = d / "cxl-mi"
    path.write_text('#!/bin/sh\nPYTHONPATH=%s exec %s -m cxlmi_cli "$@"\n'
                    % (ROOT, sys.executable))
    path.chmod(0o755)
    return dict(ENV, PATH="%s:%s" % (d, os.environ.get("PATH", "")))


def _shell(package, why):
    return system_packages.require({package: package}, why=why)[package]


_COLS, _ROWS = 160, 48          # the pseudo-terminal's size, told to the shells both ways


@pytest.fixture(scope="module")
def shell_env(shim, tmp_path_factory):
    """The shims' environment with a scratch HOME, a fixed terminal and no user settings."""
    home = tmp_path_factory.mktemp("home")
    env = dict(shim, HOME=str(home), ZDOTDIR=str(home), XDG_CONFIG_HOME=str(home / "config"),
               XDG_DATA_HOME=str(home / "data"), XDG_CACHE_HOME=str(home / "cache"),
               LC_ALL="C.UTF-8", INPUTRC=os.devnull, HISTFILE="", COLUMNS=str(_COLS),
               LINES=str(_ROWS))
    for name in ("LANG", "LANGUAGE", "PROMPT_COMMAND", "BASH_ENV", "ENV", "CDPATH",
                 "BASH_COMPLETION_USER_DIR", "fish_complete_path"):
        env.pop(name, None)
    return env


_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]"          # CSI: cursor, colour, erase, modes
                      r"|\][^\x07\x1b]*(\x07|\x1b\\)"        # OSC: titles
                      r"|[()][0-9A-Za-z]|[@-Z\\-_=>78])")      # charsets, keypad, save/restore


def _plain(text):
    """Terminal output as text: escape sequences, bells and backspaced characters removed."""
    text = _ESCAPES.sub("", text).replace("\x07", "")
    while "\x08" in text:
        text = re.sub(r"[^\x08\n]?\x08", "", text, count=1)
    return text


class Terminal:
    """A shell on a pseudo-terminal of _COLS x _ROWS; every read is bounded in time."""

    def __init__(self, argv, env, timeout=5.0):
        self.timeout = timeout
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", _ROWS, _COLS, 0, 0))
        try:
            self.proc = subprocess.Popen(
                argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=str(env["HOME"]),
                start_new_session=True,         # its own session, with the pty as its terminal
                preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        finally:
            os.close(slave)
        self.fd = master
        self.seen = ""                          # everything read so far, for failure messages
        self._pending = b""

    def send(self, text):
        os.write(self.fd, text.encode())

    def expect(self, pattern):
        """Read until the regular expression matches the output; (text before it + match, match)."""
        rx = re.compile(pattern.encode(), re.S)
        deadline = time.monotonic() + self.timeout
        while True:
            m = rx.search(self._pending)
            if m:
                text = self._pending[:m.end()].decode(errors="replace")
                self._pending = self._pending[m.end():]
                return text, m
            left = deadline - time.monotonic()
            ready = select.select([self.fd], [], [], max(left, 0))[0] if left > 0 else []
            data = b""
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:                 # EIO: the shell has gone
                    pass
            if not data:
                raise AssertionError("no %r from %s within %.0f s; it wrote:\n%s"
                                     % (pattern, self.proc.args[0], self.timeout,
                                        _plain((self.seen + self._pending.decode(
                                            errors="replace"))[-3000:])))
            self._pending += data
            self.seen += data.decode(errors="replace")

    def close(self):
        try:
            self.send("\x15exit\n")               # ^U: an empty line, whatever was typed
            self.proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=2)
        finally:
            os.close(self.fd)


def _typed(term, keys):
    """Type keys (TAB is "\\t") then ^T, bound to print the line and clear it.

    Returns (the line after completion, the candidates the shell listed, in order)."""
    term.send(keys + "\x14")
    text, m = term.expect(r"<LINE>(.*?)</LINE>")
    listed = []
    shown = re.sub(r"\x1b\[\d*A", "\r", text[:text.rindex("<LINE>")])     # cursor up: "\r"
    for line in _plain(shown).split("\n"):
        # what a line shows is what was written before the cursor left it (a carriage return,
        # or moving up to redraw the command line above); the command line is not the list
        piece = line.split("\r")[0].strip()
        if not piece or "cxl-mi" in piece or "@@" in piece:
            continue
        listed += piece.split(" -- ")[0].split()                # zsh: "name  -- help"
    return _plain(m.group(1).decode(errors="replace")), listed


# What the shell does with keys typed on its command line: (keys, the line after, the listed
# candidates).  bash lists on a TAB that changes nothing (so a TAB that inserted a common
# prefix needs two more), zsh (AUTO_LIST) on the first ambiguous one.
TOP = ["identify", "list", "emulate", "exporter", "monitor", "generic", "memdev", "fmapi", "vendor",
       "mctp"]
PROFILES = ["type3", "mld", "switch", "mhd", "dcd"]
GET_LOG = ["get-log", "get-log-cel", "get-log-capabilities"]

BASH_CASES = [
    ("cxl-mi ge\t", "cxl-mi generic ", []),                                     # group
    ("cxl-mi \t\t", "cxl-mi ", TOP),
    ("cxl-mi generic get-ev\t", "cxl-mi generic get-event-", []),              # command
    ("cxl-mi generic get-log\t\t", "cxl-mi generic get-log", GET_LOG),
    ("cxl-mi memdev get-lsa emu:type3 --le\t", "cxl-mi memdev get-lsa emu:type3 --length ",
     []),                                                                      # option
    ("cxl-mi emulate --profile s\t", "cxl-mi emulate --profile switch ", []),  # its value
    ("cxl-mi identify emu:ty\t", "cxl-mi identify emu:type3 ", []),            # targets, ':'
    ("cxl-mi identify emu:\t\t", "cxl-mi identify emu:", PROFILES),   # bash lists after ':'
    ("cxl-mi memdev get-health-info emu:m\t\t", "cxl-mi memdev get-health-info emu:m",
     ["mld", "mhd"]),
    ("cxl-mi identify tc\t", "cxl-mi identify tcp:", []),                 # no space after ':'
    ("cxl-mi memdev get-lsa tcp:localhost:2508 --off\t",
     "cxl-mi memdev get-lsa tcp:localhost:2508 --offset ", []),
]

ZSH_CASES = [
    ("cxl-mi ge\t", "cxl-mi generic ", []),
    ("cxl-mi \t", "cxl-mi ", TOP),
    ("cxl-mi generic get-ev\t", "cxl-mi generic get-event-", []),
    ("cxl-mi generic get-log\t", "cxl-mi generic get-log", GET_LOG),
    ("cxl-mi memdev get-lsa emu:type3 --le\t", "cxl-mi memdev get-lsa emu:type3 --length ",
     []),
    ("cxl-mi emulate --profile s\t", "cxl-mi emulate --profile switch ", []),
    ("cxl-mi identify emu:ty\t", "cxl-mi identify emu:type3 ", []),
    ("cxl-mi identify emu:\t", "cxl-mi identify emu:", ["emu:" + p for p in PROFILES]),
    ("cxl-mi identify tc\t", "cxl-mi identify tcp:", []),
    ("cxl-mi ge\t", "cxl-mi generic ", []),                 # the same again: every run completes
]


def _some(cases):
    """A group, a command, an option and targets: enough to show another way of loading the
    same script works, at a third of the time."""
    return [c for c in cases if c[0] in ("cxl-mi ge\t", "cxl-mi generic get-log\t\t",
                                         "cxl-mi generic get-log\t", "cxl-mi identify emu:ty\t",
                                         "cxl-mi memdev get-lsa emu:type3 --le\t")]


def _run_cases(term, cases):
    got = [(keys,) + _typed(term, keys) for keys, _, _ in cases]
    assert got == [(keys, line, listed) for keys, line, listed in cases]


BASH_SETUP = (
    "PS1='@@ '; bind 'set completion-query-items -1'; bind 'set page-completions off'; "
    "bind 'set bell-style none'; "
    "bind -x '\"\\C-t\": printf \"\\n<LINE>%s</LINE>\\n\" \"$READLINE_LINE\"; "
    "READLINE_LINE=; READLINE_POINT=0'; "
    "{load}; echo READ''Y\n")


@pytest.mark.parametrize("load", ["source", "bash-completion"])
def test_bash_completes_groups_commands_options_and_targets_on_its_command_line(
        shell_env, tmp_path, load):
    """readline in an interactive bash, TAB as a user types it; emu:ty across bash's ':'
    word break, tcp: without a space, tcp:HOST:PORT kept one word."""
    bash = _shell("bash", "the bash completion test")
    script = os.path.join(ROOT, "completions", "cxl-mi.bash")
    env = dict(shell_env, TERM="dumb")        # readline: plain text, no cursor addressing
    if load == "source":
        how = "source %s" % script
    else:            # where a distribution puts it: bash-completion loads it on first use
        system_packages.require({"bash-completion": _bash_completion_main},
                                why="completion through bash-completion's loader")
        (tmp_path / "completions").mkdir()
        os.symlink(script, str(tmp_path / "completions" / "cxl-mi"))
        env["BASH_COMPLETION_USER_DIR"] = str(tmp_path)
        how = ("source %s; complete -p cxl-mi >/dev/null 2>&1 || echo NOT''LOADED"
               % _bash_completion_main())
    term = Terminal([bash, "--norc", "--noprofile", "-i"], env)
    try:
        term.send(BASH_SETUP.format(load=how))
        text = term.expect(r"\nREADY")[0]
        assert (load == "source") != ("\nNOTLOADED" in text), text     # loaded by the 1st TAB
        _run_cases(term, BASH_CASES if load == "source" else _some(BASH_CASES))
    finally:
        term.close()


def _bash_completion_main():
    path = "/usr/share/bash-completion/bash_completion"
    return path if os.path.exists(path) else None


ZSH_SETUP = (
    "PS1='@@ '; RPS1=; PS2=; LISTMAX=1000; unsetopt automenu promptsp; "
    "zstyle ':completion:*' menu no; {load}; "
    "show() {{ print -rn -- $'\\n<LINE>'\"$BUFFER\"$'</LINE>\\n'; BUFFER=; }}; zle -N show; "
    "bindkey '^T' show; [[ $_comps[cxl-mi] == {func} ]] && echo READ''Y\n")


@pytest.mark.parametrize("load", ["fpath", "source"])
def test_zsh_completes_groups_commands_options_and_targets_on_its_command_line(
        shell_env, load):
    """zle with compinit in an interactive zsh: _cxl-mi autoloaded from $fpath (as installed)
    or sourced; help texts from _describe, targets through compadd, the same TAB twice."""
    zsh = _shell("zsh", "the zsh completion test")
    directory = os.path.join(ROOT, "completions")
    assert subprocess.run([zsh, "-n", os.path.join(directory, "_cxl-mi")],
                          timeout=10).returncode == 0
    if load == "fpath":
        how, func = "fpath=(%s $fpath); autoload -Uz compinit; compinit -u -D" % directory, \
            "_cxl-mi"
    else:
        how, func = "autoload -Uz compinit; compinit -u -D; source %s/_cxl-mi" % directory, \
            "_cxl_mi_completion"
    # compinit -u: no question about directories it finds insecure; -D: no dump file.
    # TERM=xterm: zle lists and redraws with cursor movements, as most users see it.
    term = Terminal([zsh, "-f", "-i"], dict(shell_env, TERM="xterm"))
    try:
        term.send(ZSH_SETUP.format(load=how, func=func))
        term.expect(r"\nREADY")
        _run_cases(term, ZSH_CASES if load == "fpath" else _some(ZSH_CASES))
        term.send("cxl-mi \t\x14")                      # the groups come with their help
        text = _plain(term.expect(r"</LINE>")[0])
        assert re.search(r"^generic +-- Generic commands", text, re.M), text
        term.send("cxl-mi generic \t\x14")
        text = _plain(term.expect(r"</LINE>")[0])
        assert re.search(r"^transfer-fw +-- \S", text, re.M), text
    finally:
        term.close()


def test_fish_completes_groups_commands_options_and_targets(shell_env):
    """fish's own completion (complete -C) with the script where fish looks for it."""
    fish = _shell("fish", "the fish completion test")
    directory = os.path.join(ROOT, "completions")
    assert subprocess.run([fish, "--no-config", "-n", os.path.join(directory, "cxl-mi.fish")],
                          env=shell_env, timeout=10).returncode == 0
    lines = ["cxl-mi ", "cxl-mi ge", "cxl-mi generic get-log", "cxl-mi memdev get-lsa "
             "emu:type3 --le", "cxl-mi emulate --profile s", "cxl-mi identify emu:",
             "cxl-mi identify emu:ty", "cxl-mi identify tc",
             "cxl-mi memdev get-lsa tcp:localhost:2508 --off"]
    program = "set -p fish_complete_path %s\n" % directory + "".join(
        "echo '== %s'; complete -C '%s'\n" % (l, l) for l in lines)
    out = subprocess.run([fish, "--no-config", "-c", program], env=shell_env,
                         capture_output=True, text=True, timeout=15)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    got = {}
    for line in out.stdout.splitlines():
        if line.startswith("== "):
            key = got.setdefault(line[3:], [])
        else:
            key.append(tuple(line.split("\t", 1)))
    names = {l: [c[0] for c in got[l]] for l in lines}
    assert names == {
        "cxl-mi ": TOP,
        "cxl-mi ge": ["generic"],
        "cxl-mi generic get-log": GET_LOG,
        "cxl-mi memdev get-lsa emu:type3 --le": ["--length"],
        "cxl-mi emulate --profile s": ["switch"],
        "cxl-mi identify emu:": ["emu:" + p for p in PROFILES],
        "cxl-mi identify emu:ty": ["emu:type3"],
        "cxl-mi identify tc": ["tcp:"],
        "cxl-mi memdev get-lsa tcp:localhost:2508 --off": ["--offset"],
    }
    assert got["cxl-mi ge"][0][1].startswith("Generic commands")       # help, colon-free
    assert got["cxl-mi memdev get-lsa emu:type3 --le"][0][1].startswith("bytes to read")


# ------------------------------------------------------------------------ man pages

def page(name):
    return _committed("man", name)


def test_each_group_page_documents_every_command_and_its_options():
    ctx = click.Context(cli)
    for group_name in gen_man.GROUPS:
        text = page("cxl-mi-%s.1" % group_name)
        group = cli.get_command(ctx, group_name)
        gctx = click.Context(group, parent=ctx)
        sections = re.findall(r"^\.SS (.*)$", text, re.M)
        names = [n for n in group.list_commands(gctx)]
        assert [s.replace("\\-", "-") for s in sections] == names
    memdev = page("cxl-mi-memdev.1")
    assert "\\fB\\-\\-wait\\fR" in memdev and "\\fB\\-\\-volatile\\-capacity\\fR" in memdev
    generic = page("cxl-mi-generic.1")
    assert "\\fB\\-\\-activate\\fR" in generic and "\\fB\\-\\-clear\\fR" in generic
    assert len(re.findall(r"^\.SS ", "".join(page("cxl-mi-%s.1" % g)
                                           for g in gen_man.GROUPS), re.M)) == \
        len({(e.group, e.cli_name) for e in registry.COMMANDS}) + 3 + 4  # + vendor raw,
    # fmapi topology, memdev features (its list / get / set are described inside its
    # section), the 4 mctp commands
    assert "\\fBcxl\\-mi memdev features set\\fR" in memdev


@pytest.mark.parametrize("name", sorted(gen_man.render()))
def test_every_page_has_the_promised_sections(name):
    text = page(name)
    heads = re.findall(r"^\.SH (.*)$", text, re.M)
    for needed in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert needed in heads, (name, needed)
    status = text.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    assert re.findall(r"\\fB(\d+)\\fR", status) == ["0", "1", "2", "3", "4", "5", "130"]
    if name not in ["cxl-mi-%s.1" % tool for tool in gen_man.tools()]:
        for needed in ("TARGETS", "TUNNELS", "OUTPUT", "ENVIRONMENT"):
            assert needed in heads, (name, needed)
        assert "CXLMI_TARGET" in text and "json\\-schema.md" in text


def test_every_top_level_command_has_a_page_or_a_section_of_the_root_page():
    from cxlmi_cli.main import LAZY
    pages = gen_man.render()
    root = pages["cxl-mi.1"]
    for name in LAZY:
        if name in gen_man.ON_ROOT_PAGE:
            assert "\n.SS %s\n" % name in root, name
        else:
            assert "cxl-mi-%s.1" % name in pages, name
            assert "\\fB%s\\fR \\(em \\fBcxl\\-mi\\-%s\\fR(1)" % (name, name) in root, name
    exporter = pages["cxl-mi-exporter.1"]
    assert "\\fB\\-\\-textfile\\fR" in exporter and "metrics.md" in exporter


def test_examples_name_real_commands():
    ctx = click.Context(cli)
    for key, examples in gen_man.EXAMPLES.items():
        for _, lines in examples:
            for text in lines:
                words = text.replace('"', " ").replace(";", " ").split()
                words = words[words.index("cxl-mi") + 1:]
                cmd, cctx = cli, ctx
                while isinstance(cmd, click.Group):
                    sub = cmd.get_command(cctx, words[0])
                    assert sub is not None, (key, text)
                    cctx = click.Context(sub, parent=cctx, info_name=words[0])
                    cmd, words = sub, words[1:]
                opts = {o for p in cmd.params for o in getattr(p, "opts", [])}
                for w in words:
                    if w.startswith("--"):
                        assert w in opts, (key, text, w)


def _man_tools():
    if shutil.which("man") and shutil.which("groff"):
        return True
    if os.environ.get("CI") == "true" and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "man-db", "groff-base"],
                       capture_output=True, timeout=600)
        return bool(shutil.which("man") and shutil.which("groff"))
    return False


@pytest.mark.parametrize("name", sorted(gen_man.render()))
def test_man_renders_each_page_without_warnings(name):
    if not _man_tools():
        pytest.skip("man and groff are not installed (CI=true installs man-db and groff-base)")
    path = os.path.join(ROOT, "man", name)
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_KEEP_FORMATTING="")
    lint = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path],
                          capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0 and lint.stderr == "", lint.stderr
    out = subprocess.run(["man", "--warnings", "-l", path], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert "EXIT STATUS" in out.stdout and "130" in out.stdout
    assert "\\-" not in out.stdout and "\\f" not in out.stdout     # no escapes leak through
