#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Mutation score of the core modules, one module at a time (not run in CI).

Needs mutmut 3 in the environment that runs the tests (it is not a test
dependency of the package):

    pip install 'mutmut==3.8.1'
    python tools/mutation.py                     # all five modules
    python tools/mutation.py cci tunnel          # some of them
    python tools/mutation.py --show-survivors errors

For each module the script copies the work tree (tracked and untracked, not
ignored files; with ``--committed``, the last commit instead) into a scratch
directory, so mutmut's ``mutants/`` never appears in the repository and
nobody's edits are disturbed; writes there a ``[tool.mutmut]`` section made of
the repository's one plus the module to mutate and the test files that
exercise it (``MODULES`` below: the narrowest selection that kills its
mutants); runs ``mutmut run``; and reads the verdicts back with
``mutmut results``.  In a work tree shared with others, ``--committed`` keeps
their unfinished edits out of the measurement.

The score counts only mutants that change behaviour: a survivor listed in
``tools/mutation-survivors.md`` (by mutant name, with the reason it is
equivalent) leaves the denominator.  Any other survivor, "no tests" or
"suspicious" mutant counts against the module.  Mutant names are numbered per
function, so editing a function renumbers its mutants: re-check its listed
survivors with ``--show-survivors`` afterwards.

Exit status: 0 when every module run reaches the target (90% by default),
1 otherwise, 2 when mutmut is missing or a run could not finish.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:
    import tomllib
except ImportError:     # Python < 3.11
    tomllib = None

ROOT = Path(__file__).resolve().parent.parent
SURVIVORS = ROOT / "tools" / "mutation-survivors.md"
TARGET = 90.0

_CCI_TESTS = ["tests/test_cci_tunnel.py", "tests/test_boundaries_cci_tunnel.py"]

#: module (under cxlmi_bindings/) -> the test files that exercise it
MODULES = {
    "cci": _CCI_TESTS,
    "tunnel": _CCI_TESTS,
    "codec": ["tests/test_boundaries_codec.py", "tests/test_registry_wire.py",
              "tests/test_fuzz_decoders.py"],
    "mctp_framing": ["tests/test_boundaries_framing.py", "tests/test_mctp_tcp.py"],
    "errors": ["tests/test_errors_mapping.py", "tests/test_cci_tunnel.py"],
}

# A mutant that makes the tests crash (a memmove past a buffer: "segfault") or
# run past their time limit was told apart from the original: it counts as killed.
KILLED = ("killed", "timeout", "segfault", "caught by type check")

# A pytest plugin written into the scratch copy: hypothesis still generates
# every example, but a failing one is not shrunk (shrinking is what makes a
# killed mutant slow; it does not change whether it is killed).
_PLUGIN = "cxlmi_mutation_plugin"
_PLUGIN_SOURCE = """\
from hypothesis import Phase, settings

settings.register_profile("cxlmi-mutation", database=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("cxlmi-mutation")
"""
_NAME = re.compile(r"`(cxlmi_bindings\.[^`\s]+__mutmut_\d+)`")


def listed_equivalent():
    """Mutant names listed as equivalent in tools/mutation-survivors.md."""
    if not SURVIVORS.exists():
        return set()
    return set(_NAME.findall(SURVIVORS.read_text("utf-8")))


def base_config():
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    if tomllib is None:
        sys.exit("tools/mutation.py needs Python 3.11 or later (tomllib)")
    return text, tomllib.loads(text).get("tool", {}).get("mutmut", {})


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)        # strings and lists of strings are valid TOML


def scratch_pyproject(text, config):
    """``text`` with its [tool.mutmut] table replaced by ``config``."""
    kept, skipping = [], False
    for line in text.splitlines():
        if line.strip().startswith("["):
            skipping = line.strip() == "[tool.mutmut]"
        if not skipping:
            kept.append(line)
    kept.append("")
    kept.append("[tool.mutmut]")
    kept.extend("%s = %s" % (key, _toml_value(val)) for key, val in config.items())
    return "\n".join(kept) + "\n"


def copy_tree(dest, committed=False):
    if committed:
        archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
        return
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.split(b"\0")
    for name in files:
        if not name:
            continue
        rel = name.decode()
        src = ROOT / rel
        if rel.startswith("mutants/") or not src.is_file():
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def run_module(module, mutmut, args):
    """Run mutmut on one module; returns {mutant name: status} or None."""
    tests = [t for t in MODULES[module] if (ROOT / t).exists()]
    text, base = base_config()
    config = dict(base)
    config["only_mutate"] = ["cxlmi_bindings/%s.py" % module]
    config["pytest_add_cli_args_test_selection"] = tests
    config["pytest_add_cli_args"] = list(config.get("pytest_add_cli_args", [])) + ["-p", _PLUGIN]
    config["also_copy"] = list(config.get("also_copy", [])) + [_PLUGIN + ".py"]
    config.setdefault("timeout_multiplier", args.timeout_multiplier)
    work = Path(tempfile.mkdtemp(prefix="cxlmi-mutation-%s-" % module, dir=args.workdir))
    try:
        copy_tree(work, args.committed)
        (work / "pyproject.toml").write_text(scratch_pyproject(text, config), "utf-8")
        (work / (_PLUGIN + ".py")).write_text(_PLUGIN_SOURCE, "utf-8")
        log = work / "mutmut-run.log"
        print("%s: mutating cxlmi_bindings/%s.py against %s (log %s)"
              % (module, module, " ".join(tests), log), flush=True)
        started = time.monotonic()
        with open(log, "wb") as out:
            proc = subprocess.Popen([mutmut, "run", "--max-children", str(args.max_children)],
                                    cwd=work, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                proc.wait(timeout=args.timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                print("%s: stopped after %ds (--timeout); mutants not reached count as "
                      "\"not checked\"" % (module, args.timeout), flush=True)
        elapsed = time.monotonic() - started
        res = subprocess.run([mutmut, "results", "--all", "true"], cwd=work,
                             capture_output=True, text=True)
        statuses = {}
        for line in res.stdout.splitlines():
            name, sep, status = line.strip().rpartition(": ")
            if sep and name.startswith("cxlmi_bindings."):
                statuses[name] = status
        if not statuses:
            sys.stdout.write(log.read_text("utf-8", "replace")[-3000:])
            print("%s: mutmut reported no mutants (see the log above)" % module)
            return None, elapsed
        if args.show_survivors:
            equivalent = listed_equivalent()
            for name, status in sorted(statuses.items()):
                if status not in KILLED and name not in equivalent:
                    shown = subprocess.run([mutmut, "show", name], cwd=work,
                                           capture_output=True, text=True)
                    print((shown.stdout.rstrip() or shown.stderr.rstrip()[-2000:]) + "\n")
        return statuses, elapsed
    finally:
        if args.keep:
            print("%s: kept %s" % (module, work))
        else:
            shutil.rmtree(work, ignore_errors=True)


def score(statuses, equivalent):
    total = len(statuses)
    killed = sum(1 for s in statuses.values() if s in KILLED)
    listed = sum(1 for n, s in statuses.items() if s not in KILLED and n in equivalent)
    counted = total - listed
    return total, killed, listed, counted, (100.0 * killed / counted if counted else 100.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help="some of: %s (default: all)" % ", ".join(MODULES))
    parser.add_argument("--max-children", type=int, default=1,
                        help="parallel mutmut workers (default 1: other work shares the machine)")
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds one module's run may take (default 1800)")
    parser.add_argument("--timeout-multiplier", type=float, default=3.0,
                        help="a mutant may take this many times its tests' clean run time "
                             "(x2, in CPU seconds) before it counts as a timeout (default 3)")
    parser.add_argument("--target", type=float, default=TARGET, help="score to reach, percent")
    parser.add_argument("--workdir", help="where the scratch copies go (default: the temp dir)")
    parser.add_argument("--committed", action="store_true",
                        help="mutate the last commit (git archive HEAD) instead of the work tree")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies")
    parser.add_argument("--show-survivors", action="store_true",
                        help="print the diff of every survivor not listed as equivalent")
    args = parser.parse_args(argv)
    for module in args.modules:
        if module not in MODULES:
            parser.error("unknown module %r (choose from %s)" % (module, ", ".join(MODULES)))
    mutmut = shutil.which("mutmut")
    if mutmut is None:
        print("mutmut is not installed: pip install 'mutmut==3.8.1'", file=sys.stderr)
        return 2

    equivalent = listed_equivalent()
    rows, failed = [], False
    for module in args.modules or list(MODULES):
        statuses, elapsed = run_module(module, mutmut, args)
        if statuses is None:
            failed = True
            continue
        total, killed, listed, counted, pct = score(statuses, equivalent)
        open_ = sorted(n for n, s in statuses.items() if s not in KILLED and n not in equivalent)
        rows.append((module, total, killed, listed, counted, pct, elapsed))
        print("%s: %d mutants, %d killed, %d listed equivalent -> %.1f%% of %d (%ds)"
              % (module, total, killed, listed, pct, counted, elapsed), flush=True)
        for name in open_:
            print("    %s: %s" % (name, statuses[name]))

    print()
    print("%-14s %8s %7s %11s %7s" % ("module", "mutants", "killed", "equivalent", "score"))
    for module, total, killed, listed, counted, pct, _ in rows:
        print("%-14s %8d %7d %11d %6.1f%%" % (module, total, killed, listed, pct))
    if failed:
        return 2
    return 0 if all(row[5] >= args.target for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
