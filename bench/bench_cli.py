# SPDX-License-Identifier: LGPL-2.1-or-later
"""How long `cxl-mi` takes to start, answer and exit, against `import click`.

In one run, with the interpreter running this script (``sys.executable``),
the median wall time over N runs (default 15, ``--quick`` 5) of

* the baseline ``python -c "import click"``,
* ``python -m cxlmi_cli identify emu:type3 --json``        (budget <= 1.6x),
* ``python -m cxlmi_cli identify emu:type3`` (table output to a pipe,
  ``COLUMNS=100``)                                          (budget <= 2.4x),
* a completion round trip, what bash does on TAB after ``cxl-mi memdev get-``:
  run cxl-mi with ``_CXL_MI_COMPLETE=bash_complete``, ``COMP_WORDS`` the words
  joined by newlines and ``COMP_CWORD=2``, exactly as completions/cxl-mi.bash
  does; the answer must list memdev ``get-*`` commands    (budget <= 1.6x),

and the same three through the installed ``cxl-mi`` console script when it is
on PATH, reported separately (a pyenv shim is resolved to the script it runs;
the shim itself is timed too, for information, without a budget).

Every command runs from the repository root with ``PYTHONPATH`` set to it, so
the checkout is measured (the console script then imports the checkout too).
Byte code: the project is compiled first (``python -m compileall``) and every
measured command runs with ``PYTHONDONTWRITEBYTECODE`` unset, so no run pays
for compiling; each command runs once as a warm-up (its output checked) before
measuring.  The runs are interleaved (one of each per round) so a change in
machine load hits them all alike.

Start-up hooks: ``.pth`` files in site-packages run code at every interpreter
start (a sandbox's CA injector importing certifi, say).  That cost lands in the
baseline and in every command alike and makes the ratios look better than on
a clean machine.  ``python -c pass`` and ``python -S -c pass`` are timed first;
when site start-up costs more than 5 ms (or with ``--bare``) the baseline and
the ``python -m`` lines are measured again with ``-S`` (site-packages put on
``PYTHONPATH`` instead), for information: RESULT stays the plain measurement.

When a budget is missed (or with ``--profile``), ``python -X importtime`` shows
which imports the slow command pays for.

    python bench/bench_cli.py            # full run, 15 rounds
    python bench/bench_cli.py --quick    # 5 rounds
    python bench/bench_cli.py --strict   # exit 1 when a budget is missed
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable

BUDGET_JSON = 1.6
BUDGET_TABLE = 2.4
BUDGET_COMPLETE = 1.6
SITE_HOOK_MS = 5.0      # above this, site start-up is reported and measured around

IDENTIFY = ["identify", "emu:type3"]
# the command line bash sees on TAB, cut into words (completions/cxl-mi.bash)
COMP_LINE_WORDS = ["cxl-mi", "memdev", "get-"]
# memdev commands the completion answer must contain
EXPECTED_COMPLETIONS = {"get-health-info", "get-partition-info", "get-poison-list"}
# variables of a completion run or of the caller's shell that would change what we measure
DROP_VARS = ("PYTHONDONTWRITEBYTECODE", "_CXL_MI_COMPLETE", "COMP_WORDS", "COMP_CWORD",
             "COMP_LINE", "COMP_POINT", "CXLMI_TARGET", "PYTHONPROFILEIMPORTTIME")


def base_env(extra_path=()):
    env = dict(os.environ)
    for name in DROP_VARS:
        env.pop(name, None)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + list(extra_path) + ([old] if old else []))
    return env


def bare_env():
    """For `python -S`: no site start-up, site-packages on PYTHONPATH instead."""
    paths = sysconfig.get_paths()
    extra = []
    for key in ("purelib", "platlib"):
        if paths.get(key) and paths[key] not in extra:
            extra.append(paths[key])
    return base_env(extra)


class Case:
    """One command line to time, how to check its answer, and its budget."""

    def __init__(self, label, argv, env, check, budget=None, note=None):
        self.label, self.argv, self.env = label, argv, env
        self.check, self.budget, self.note = check, budget, note
        self.times = []

    def run(self):
        t0 = time.perf_counter()
        p = subprocess.run(self.argv, env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        dt = time.perf_counter() - t0
        return dt, p

    def warm_up(self):
        _, p = self.run()
        if p.returncode != 0:
            raise SystemExit("bench_cli: %s: exit %d\n%s" % (
                self.label, p.returncode, p.stderr.decode(errors="replace")))
        problem = self.check(p.stdout.decode(errors="replace")) if self.check else None
        if problem:
            raise SystemExit("bench_cli: %s: unexpected answer: %s" % (self.label, problem))

    def measure(self):
        dt, p = self.run()
        if p.returncode != 0:
            raise SystemExit("bench_cli: %s: exit %d during measurement\n%s" % (
                self.label, p.returncode, p.stderr.decode(errors="replace")))
        self.times.append(dt)

    @property
    def median_ms(self):
        return statistics.median(self.times) * 1000.0


def check_json(out):
    try:
        doc = json.loads(out)
    except ValueError as exc:
        return "not JSON (%s)" % exc
    if not isinstance(doc, dict) or "result" not in doc or "vendor_id" not in doc["result"]:
        return "JSON without result.vendor_id"
    return None


def check_table(out):
    if "vendor id" not in out or "component type" not in out:
        return "no identify table in %r" % out[:200]
    return None


def check_completion(out):
    items = [line.split(",", 1) for line in out.splitlines() if line]
    if not items:
        return "no completions"
    values = {value for kind, value in items if kind == "plain"}
    bad = [v for v in values if not v.startswith("get-")]
    missing = EXPECTED_COMPLETIONS - values
    if bad or missing:
        return "expected memdev get-* commands; extra %s, missing %s" % (
            sorted(bad), sorted(missing))
    return None


def completion_env(env):
    env = dict(env)
    env["_CXL_MI_COMPLETE"] = "bash_complete"
    # cxl-mi.bash: IFS=$'\n', COMP_WORDS="${words[*]}" -> the words joined by newlines
    env["COMP_WORDS"] = "\n".join(COMP_LINE_WORDS)
    env["COMP_CWORD"] = str(len(COMP_LINE_WORDS) - 1)
    return env


def find_console_script():
    """(script to run, pyenv shim or None, note) for `cxl-mi` on PATH, or None."""
    found = shutil.which("cxl-mi")
    if not found:
        return None
    shim = None
    try:
        with open(found, "rb") as f:
            head = f.read(4096)
    except OSError:
        head = b""
    if b"pyenv" in head and head.startswith(b"#!") and b"python" not in head.split(b"\n")[0]:
        shim = found
        # the shim runs `pyenv exec`, which runs the script installed beside the interpreter
        real = os.path.join(os.path.dirname(PY), "cxl-mi")
        if not os.access(real, os.X_OK):
            try:
                real = subprocess.run(["pyenv", "which", "cxl-mi"], capture_output=True,
                                      text=True, check=True).stdout.strip()
            except (OSError, subprocess.CalledProcessError):
                return None
        found = real
    note = None
    try:
        with open(found, "rb") as f:
            first = f.readline().decode(errors="replace").strip()
        interp = first[2:].split()[0] if first.startswith("#!") else ""
        if interp and os.path.realpath(interp) != os.path.realpath(PY):
            note = "its interpreter %s is not %s" % (interp, PY)
    except OSError:
        pass
    return found, shim, note


def compile_project(env):
    p = subprocess.run([PY, "-m", "compileall", "-q", "cxlmi_cli", "cxlmi_bindings"],
                       env=env, cwd=ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit("bench_cli: compileall failed:\n" + p.stdout + p.stderr)


def three(prefix, argv0, env, budgeted=True, note=None):
    table_env = dict(env, COLUMNS="100")
    comp_env = completion_env(env)
    b = (lambda x: x) if budgeted else (lambda x: None)
    return [
        Case("%s identify emu:type3 --json" % prefix, argv0 + IDENTIFY + ["--json"], env,
             check_json, b(BUDGET_JSON), note),
        Case("%s identify emu:type3 (table)" % prefix, argv0 + IDENTIFY, table_env,
             check_table, b(BUDGET_TABLE), note),
        Case("%s completion 'memdev get-<TAB>'" % prefix, argv0, comp_env,
             check_completion, b(BUDGET_COMPLETE), note),
    ]


def build_cases(env, console):
    baseline = Case('python -c "import click"', [PY, "-c", "import click"], env, None)
    groups = [("python -m cxlmi_cli",
               three("python -m cxlmi_cli", [PY, "-m", "cxlmi_cli"], env))]
    if console:
        script, shim, note = console
        groups.append(("console script %s" % script,
                       three("cxl-mi", [script], env, note=note)))
        if shim:
            groups.append(("pyenv shim %s (for information: the shim's own `pyenv exec` "
                           "is not cxl-mi's cost, no budget)" % shim,
                           three("cxl-mi (shim)", [shim], env, budgeted=False)))
    return baseline, groups


def site_cost(env, benv, runs):
    """Median ms of `python -c pass` and `python -S -c pass` (a quick first look)."""
    with_site = Case("python -c pass", [PY, "-c", "pass"], env, None)
    no_site = Case("python -S -c pass", [PY, "-S", "-c", "pass"], benv, None)
    for c in (with_site, no_site):
        c.warm_up()
    for _ in range(runs):
        with_site.measure()
        no_site.measure()
    return with_site, no_site


# ---- profile --------------------------------------------------------------------------------

def importtime(argv, env, repeats, flags=()):
    """Median self / cumulative µs per module over `repeats` runs of `-X importtime`."""
    runs = []
    for _ in range(repeats):
        p = subprocess.run([PY, "-X", "importtime"] + list(flags) + argv, env=env, cwd=ROOT,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        rows = {}
        for line in p.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            try:
                _, rest = line.split(":", 1)
                self_us, cum_us, name = rest.split("|", 2)
                depth = (len(name) - len(name.lstrip())) // 2
                rows[name.strip()] = (int(self_us), int(cum_us), depth)
            except ValueError:
                continue
        runs.append(rows)
    names = set().union(*runs)
    out = {}
    for name in names:
        got = [r[name] for r in runs if name in r]
        out[name] = (statistics.median(g[0] for g in got), statistics.median(g[1] for g in got),
                     min(g[2] for g in got))
    return out


def root_of(name):
    return name.split(".", 1)[0]


def print_profile(label, argv, env, repeats, flags=()):
    base = importtime(["-c", "import click"], env, repeats, flags)
    rows = importtime(argv, env, repeats, flags)
    total = sum(s for s, _, _ in rows.values()) / 1000.0
    base_total = sum(s for s, _, _ in base.values()) / 1000.0
    print()
    print("profile: %s  (python -X importtime, median of %d; importtime inflates absolute "
          "times, read the shares)" % (label, repeats))
    print("  all imports: %.1f ms (baseline `import click`: %.1f ms); extra: %.1f ms in %d "
          "modules" % (total, base_total, total - base_total, len(set(rows) - set(base))))
    by_root = {}
    for name, (s, _, _) in rows.items():
        by_root.setdefault(root_of(name), [0, 0])
        by_root[root_of(name)][0] += s
        by_root[root_of(name)][1] += 1
    print("  self time by top-level package (modules the baseline also imports included):")
    for root, (s, n) in sorted(by_root.items(), key=lambda kv: -kv[1][0])[:14]:
        mark = "" if root in {root_of(b) for b in base} else "   (not in baseline)"
        print("    %-28s %7.1f ms  %3d modules%s" % (root, s / 1000.0, n, mark))
    print("  imports made at top level (cumulative, i.e. with what they import), biggest first:")
    top = [(c, n) for n, (_, c, d) in rows.items() if d == 0]
    for c, n in sorted(top, reverse=True)[:14]:
        print("    %-40s %7.1f ms%s" % (n, c / 1000.0,
                                         "" if n in base else "   (not in baseline)"))
    print("  slowest single modules (self time) the baseline does not import:")
    extra = [(s, n) for n, (s, _, _) in rows.items() if n not in base]
    for s, n in sorted(extra, reverse=True)[:14]:
        print("    %-40s %7.1f ms" % (n, s / 1000.0))


# ---- main -----------------------------------------------------------------------------------

def report(title, base_case, groups):
    """Print one table of medians and ratios; return the cases over budget."""
    base = base_case.median_ms
    failed = []
    print()
    print(title)
    print("%-52s %9s %8s %8s" % ("", "median", "ratio", "budget"))
    print("%-52s %7.1f ms %7.2fx" % ("baseline: " + base_case.label, base, 1.0))
    for name, group in groups:
        print(name + ":")
        if group[0].note:
            print("  (note: %s)" % group[0].note)
        for c in group:
            ratio = c.median_ms / base
            if c.budget is None:
                verdict, budget = "", "-"
            else:
                ok = ratio <= c.budget
                verdict = "PASS" if ok else "FAIL"
                budget = "<= %.1fx" % c.budget
                if not ok:
                    failed.append(c)
            print("  %-50s %7.1f ms %7.2fx %8s  %s" % (c.label, c.median_ms, ratio, budget,
                                                       verdict))
    return failed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=None, help="rounds (default 15)")
    ap.add_argument("--quick", action="store_true", help="5 rounds")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    ap.add_argument("--profile", action="store_true",
                    help="always show the import profile of the budgeted commands")
    ap.add_argument("--bare", action="store_true",
                    help="always measure again without site start-up (python -S)")
    args = ap.parse_args()
    runs = args.runs or (5 if args.quick else 15)
    repeats = 5 if args.quick else 9

    env = base_env()
    benv = bare_env()
    compile_project(env)
    console = find_console_script()

    print("cxl-mi start-up: median wall time of %d runs, interpreter %s (Python %s)" % (
        runs, PY, sys.version.split()[0]))
    print("checkout %s measured: cwd and PYTHONPATH are the repository root" % ROOT)
    print("byte code: compiled first (python -m compileall -q cxlmi_cli cxlmi_bindings); "
          "PYTHONDONTWRITEBYTECODE unset for every run (it was %s here); one warm-up run each"
          % ("set" if os.environ.get("PYTHONDONTWRITEBYTECODE") else "not set"))
    print("completion: _CXL_MI_COMPLETE=bash_complete COMP_WORDS=%r COMP_CWORD=%s, as "
          "completions/cxl-mi.bash sends it; table: stdout a pipe, COLUMNS=100"
          % ("\n".join(COMP_LINE_WORDS), len(COMP_LINE_WORDS) - 1))
    if console is None:
        print("console script: no `cxl-mi` on PATH, not measured")

    with_site, no_site = site_cost(env, benv, 5)
    hook_ms = with_site.median_ms - no_site.median_ms
    print("interpreter start-up: python -c pass %.1f ms, python -S -c pass %.1f ms: site "
          "start-up (incl. .pth hooks) costs %.1f ms of every run"
          % (with_site.median_ms, no_site.median_ms, hook_ms))
    bare = args.bare or hook_ms > SITE_HOOK_MS

    baseline, groups = build_cases(env, console)
    cases = [baseline] + [c for _, g in groups for c in g]
    bare_groups = []
    if bare:
        bare_base = Case('python -S -c "import click"', [PY, "-S", "-c", "import click"],
                         benv, None)
        bare_groups = [("python -S -m cxlmi_cli",
                        three("python -S -m cxlmi_cli", [PY, "-S", "-m", "cxlmi_cli"], benv))]
        if console:
            # a console script is a Python file: `python -S SCRIPT` runs it without site
            script = console[0]
            bare_groups.append(("python -S %s (the console script)" % script,
                                three("python -S cxl-mi", [PY, "-S", script], benv)))
        cases += [bare_base] + [c for _, g in bare_groups for c in g]

    for c in cases:
        c.warm_up()
    for _ in range(runs):
        for c in cases:
            c.measure()

    failed = report("as run here (RESULT):", baseline, groups)
    bare_failed = []
    if bare:
        bare_failed = report("for information, without site start-up (python -S, site-packages "
                             "on PYTHONPATH), closer to a machine without .pth hooks:",
                             bare_base, bare_groups)
    spread = max(statistics.pstdev(c.times) * 1000.0 for c in cases)
    print("(largest standard deviation of any line: %.1f ms)" % spread)

    if args.profile:
        to_profile = [c for c in cases if c.budget is not None]
    else:
        to_profile = failed + bare_failed
    seen = set()
    for c in to_profile:
        # the same command line under -X importtime (a console script is a Python file)
        rest = c.argv[1:] if c.argv[0] == PY else c.argv
        flags = ()
        if rest[:1] == ["-S"]:
            flags, rest = ("-S",), rest[1:]
        key = (tuple(rest), c.env.get("_CXL_MI_COMPLETE"), flags)
        if key in seen:
            continue
        seen.add(key)
        print_profile(c.label, rest, c.env, repeats, flags)

    print()
    if bare_failed:
        print("NOTE: without site start-up over budget: %s"
              % "; ".join(c.label for c in bare_failed))
    print("RESULT: %s" % ("PASS" if not failed else
                          "FAIL (%s)" % "; ".join(c.label for c in failed)))
    return 1 if (failed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
