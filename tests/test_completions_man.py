# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shell completion and man pages: current with the tree, and working.

* the committed completions/ and man/ files are what tools/gen_completions.py
  and tools/gen_man.py write now (stale files fail, naming the tool to run);
* completion itself, through click's protocol in a subprocess (groups,
  commands, options, option values, ``emu:`` targets) and in-process for the
  ``/dev/cxl`` nodes; the bash script end to end in bash (``emu:ty`` across
  bash's ``:`` word break), zsh and fish where those shells are installed;
* the man pages: every command of every group, the sections the tool
  promises, examples that name real commands, and ``man -l`` rendering them
  without a warning.
"""

import os
import re
import shutil
import subprocess
import sys

import click
import pytest

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

@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    """A bin directory whose `cxl-mi` runs this tree."""
    d = tmp_path_factory.mktemp("bin")
    path = d / "cxl-mi"
    path.write_text('#!/bin/sh\nPYTHONPATH=%s exec %s -m cxlmi_cli "$@"\n'
                    % (ROOT, sys.executable))
    path.chmod(0o755)
    return dict(ENV, PATH="%s:%s" % (d, os.environ.get("PATH", "")))


BASH_DRIVER = r"""
source "%s"
t() {
    COMP_LINE=$1; COMP_POINT=${#COMP_LINE}; shift
    COMP_CWORD=$1; shift
    COMP_WORDS=("$@")
    _cxl_mi_completion cxl-mi 2>/dev/null
    local IFS=' '
    echo "${COMPREPLY[*]}"
}
t "cxl-mi ge" 1 cxl-mi ge
t "cxl-mi generic get-l" 2 cxl-mi generic get-l
t "cxl-mi identify emu:ty" 4 cxl-mi identify emu : ty
t "cxl-mi identify emu:" 3 cxl-mi identify emu :
t "cxl-mi memdev get-lsa emu:type3 --le" 6 cxl-mi memdev get-lsa emu : type3 --le
"""


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_the_bash_script_completes_across_bash_colon_word_breaks(shim):
    script = os.path.join(ROOT, "completions", "cxl-mi.bash")
    out = subprocess.run(["bash", "--norc", "-c", BASH_DRIVER % script], env=shim,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "generic",
        "get-log get-log-cel get-log-capabilities",
        "type3",                                  # bash replaces only what follows the ':'
        "type3 mld switch mhd dcd",
        "--length",
    ]


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_the_fish_script_completes(shim):
    script = os.path.join(ROOT, "completions", "cxl-mi.fish")
    assert subprocess.run(["fish", "-n", script]).returncode == 0
    out = subprocess.run(["fish", "--no-config", "-c",
                          "source %s; complete -C 'cxl-mi ge'; complete -C 'cxl-mi identify "
                          "emu:t'" % script], env=shim, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("generic\t") and lines[1] == "emu:type3"


ZSH_DRIVER = r"""
compdef() { :; }
_describe() { local arr=$3; print -l -- "${(@P)arr}"; }
compadd() {
    local a arr
    for a in "$@"; do [[ $a != -* ]] && arr=$a; done
    print -l -- "${(@P)arr}"
}
_path_files() { print -- "(files)"; }
source %s
words=(cxl-mi ge); CURRENT=2; _cxl_mi_completion
words=(cxl-mi identify emu:t); CURRENT=3; _cxl_mi_completion
"""


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_the_zsh_script_completes(shim):
    script = os.path.join(ROOT, "completions", "_cxl-mi")
    assert subprocess.run(["zsh", "-n", script]).returncode == 0
    out = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER % script], env=shim,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("generic:Generic") and lines[1] == "emu:type3"


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
        len({(e.group, e.cli_name) for e in registry.COMMANDS}) + 1      # + vendor raw


@pytest.mark.parametrize("name", sorted(gen_man.render()))
def test_every_page_has_the_promised_sections(name):
    text = page(name)
    heads = re.findall(r"^\.SH (.*)$", text, re.M)
    for needed in ("NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert needed in heads, (name, needed)
    status = text.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    assert re.findall(r"\\fB(\d+)\\fR", status) == ["0", "1", "2", "3", "4", "5", "130"]
    if name != "cxl-mi-emulate.1" and name != "cxl-mi-list.1":
        for needed in ("TARGETS", "TUNNELS", "OUTPUT", "ENVIRONMENT"):
            assert needed in heads, (name, needed)
        assert "CXLMI_TARGET" in text and "json\\-schema.md" in text


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
