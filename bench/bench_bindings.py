#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""How much the library itself costs: per command, and at import.

Per command: encode the request, carry it through the mock transport (which
decodes the header and frames a reply), check and decode the reply.  Median
microseconds per call over many batches, for

* Identify through the libcxlmi-compatible API  (budget: <= 5 us on the
  reference machine),
* Identify through ``ep.identify()``,
* Get Event Records (a flexible reply, 3 records) through both APIs,
* Get Health Info through ``ep.call``.

At import: ``python -X importtime -c "import cxlmi_bindings"`` in a fresh
interpreter, the cumulative time of the top-level ``cxlmi_bindings`` line
(budget: <= 15 ms), and, in-process in a fresh interpreter, the cost of the
first structure access and the first command after import.

Every number is also shown as a ratio to a baseline measured in the same run
(a bare ``struct.pack`` + ``struct.unpack`` round trip of an identify-sized
message; ``python -c pass`` start-up), so runs on different machines compare.

When Identify is over budget (or with ``--profile``), the compat Identify path
is profiled and the time per call is split by function.

    python bench/bench_bindings.py            # full run, a few seconds
    python bench/bench_bindings.py --quick    # fewer repetitions
    python bench/bench_bindings.py --strict   # exit 1 when a budget is missed
"""

import argparse
import cProfile
import os
import pstats
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

IDENTIFY_BUDGET_US = 5.0
IMPORT_BUDGET_MS = 15.0

IDENT = struct.pack("<HHHHQBB", 0x1DE5, 0x0D93, 0x1DE5, 0x0001, 0x1122334455667788, 11, 3)
HEALTH = struct.pack("<BBBBHIII", 0, 0, 0, 3, 37, 1, 0, 0)


def event_records(n):
    head = struct.pack("<BBHQQH10s", 0, 0, 0, 0, 0, n, b"")
    return head + b"".join(bytes(16) + struct.pack("<B3sHHQ", 128, b"", i, 0, i) + bytes(96)
                           for i in range(n))


def median_us(fn, prepare, batch, repeats):
    """Median over ``repeats`` batches of the mean time of one call in a batch."""
    samples = []
    for _ in range(repeats):
        prepare(batch)
        t0 = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - t0) / batch / 1000.0)
    return statistics.median(samples)


# ------------------------------------------------------------ per command

def bench_commands(batch, repeats):
    import ctypes
    import cxlmi_bindings as cxlmi

    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    mock = ep.transport

    def queue(opcode, payload):
        def prepare(n):
            mock.clear()
            for _ in range(n):
                mock.set_response(opcode, 0, payload)
        return prepare

    # baseline: what any Python code pays to frame and parse one such message
    hdr = struct.Struct("<BBBHHBHH")
    ident_fmt = struct.Struct("<HHHHQBB")

    def baseline():
        msg = hdr.pack(0, 1, 0, 1, 0, 0, 0, 0)
        rsp = hdr.pack(1, 1, 0, 1, 18, 0, 0, 0) + IDENT
        hdr.unpack_from(msg)
        hdr.unpack_from(rsp)
        return ident_fmt.unpack_from(rsp, 12)

    ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
    rsp_t = cxlmi.struct_cxlmi_cmd_get_event_records_rsp
    rec_t = cxlmi.struct_cxlmi_event_record
    buf = ctypes.create_string_buffer(ctypes.sizeof(rsp_t) + 3 * ctypes.sizeof(rec_t))
    rsp = rsp_t.from_buffer(buf)
    ev_req = cxlmi.struct_cxlmi_cmd_get_event_records_req(event_log=0)
    ev3 = event_records(3)

    def check(rc):
        if rc != 0:
            raise SystemExit("benchmark command failed: rc %d (%s)" % (rc, ep.last_error))

    # one warm-up call of each, and a sanity check of what comes back
    queue(0x0001, IDENT)(1)
    check(cxlmi.cxlmi_cmd_identify(ep, None, ident))
    assert bytes(ident) == IDENT
    queue(0x0100, ev3)(1)
    check(cxlmi.cxlmi_cmd_get_event_records(ep, None, ev_req, rsp))
    queue(0x0001, IDENT)(1)
    ep.identify()
    queue(0x0100, ev3)(1)
    assert len(ep.get_event_records({"event_log": 0}).records) == 3
    queue(0x4200, HEALTH)(1)
    ep.call("memdev_get_health_info")

    results = [("baseline: struct pack+unpack round trip", None,
                median_us(baseline, lambda n: None, batch, repeats))]
    results.append(("identify, compat cxlmi_cmd_identify()", "identify_compat",
                    median_us(lambda: cxlmi.cxlmi_cmd_identify(ep, None, ident),
                              queue(0x0001, IDENT), batch, repeats)))
    request = cxlmi.cci.encode(0x0001, b"", 1)
    results.append(("  of which the mock transport's own send()", None,
                    median_us(lambda: mock.send(request, 8, None), queue(0x0001, IDENT),
                              batch, repeats)))
    results.append(("identify, Pythonic ep.identify()", None,
                    median_us(lambda: ep.identify(), queue(0x0001, IDENT), batch, repeats)))
    results.append(("get_event_records (3 records), compat + from_buffer", None,
                    median_us(lambda: cxlmi.cxlmi_cmd_get_event_records(ep, None, ev_req, rsp),
                              queue(0x0100, ev3), batch, repeats)))
    results.append(("get_event_records (3 records), ep.get_event_records()", None,
                    median_us(lambda: ep.get_event_records({"event_log": 0}),
                              queue(0x0100, ev3), batch, repeats)))
    results.append(("memdev_get_health_info, ep.call()", None,
                    median_us(lambda: ep.call("memdev_get_health_info"),
                              queue(0x4200, HEALTH), batch, repeats)))
    cxlmi.cxlmi_free_ctx(ctx)
    return results


def profile_identify(calls=20000, top=14):
    """Where the time of one compat Identify goes, by function."""
    import cxlmi_bindings as cxlmi

    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
    for _ in range(calls):
        ep.transport.set_response(0x0001, 0, IDENT)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        cxlmi.cxlmi_cmd_identify(ep, None, ident)
    prof.disable()
    stats = pstats.Stats(prof)
    total = sum(v[2] for v in stats.stats.values())
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    print()
    print("Profile of the compat identify path (%d calls; cProfile inflates every number,"
          " read the shares):" % calls)
    print("  %6s  %8s  %7s  %s" % ("share", "us/call", "calls/op", "function"))
    for (filename, line, func), (cc, nc, tt, ct, _) in rows:
        where = os.path.relpath(filename, ROOT) if filename.startswith(ROOT) else filename
        print("  %5.1f%%  %8.3f  %7.1f  %s:%d %s" % (100.0 * tt / total, tt / calls * 1e6,
                                                     nc / calls, where, line, func))
    cxlmi.cxlmi_free_ctx(ctx)


# ------------------------------------------------------------ import cost

def _python(args, env=None):
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = ROOT + (os.pathsep + full_env["PYTHONPATH"]
                                     if full_env.get("PYTHONPATH") else "")
    full_env.pop("PYTHONPROFILEIMPORTTIME", None)
    return subprocess.run([sys.executable] + args, capture_output=True, text=True,
                          env=full_env, cwd=ROOT)


def import_time_ms():
    """Cumulative import time of the top-level ``cxlmi_bindings`` (importtime)."""
    proc = _python(["-X", "importtime", "-c", "import cxlmi_bindings"])
    total = None
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if name.rstrip() == " cxlmi_bindings":            # the top level, not nested
            total = (total or 0) + int(cumulative.strip())
    if total is None:
        raise SystemExit("could not find cxlmi_bindings in -X importtime output:\n"
                         + proc.stderr[-2000:])
    return total / 1000.0


FIRST_USE = r"""
import time, struct
t0 = time.perf_counter()
import cxlmi_bindings as cxlmi
t1 = time.perf_counter()
cxlmi.struct_cxlmi_cmd_identify_rsp
t2 = time.perf_counter()
ctx = cxlmi.cxlmi_new_ctx(None, 6)
ep = cxlmi.cxlmi_open_mock(ctx)
ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
cxlmi.cxlmi_mock_set_response(ep, 0, 1, 0, bytes(18), 18)
rc = cxlmi.cxlmi_cmd_identify(ep, None, ident)
t3 = time.perf_counter()
assert rc == 0
print(t1 - t0, t2 - t1, t3 - t2)
"""


def first_use_ms():
    proc = _python(["-c", FIRST_USE])
    if proc.returncode:
        raise SystemExit(proc.stderr)
    return [float(x) * 1000.0 for x in proc.stdout.split()]


def startup_ms():
    t0 = time.perf_counter()
    _python(["-c", "pass"])
    return (time.perf_counter() - t0) * 1000.0


# ------------------------------------------------------------ report

def verdict(value, budget):
    return "PASS" if value <= budget else "FAIL"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--profile", action="store_true", help="always profile the identify path")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    args = ap.parse_args(argv)
    batch, repeats, runs = (500, 7, 3) if args.quick else (2000, 25, 7)

    import platform
    print("cxlmi_bindings overhead  —  Python %s on %s (%s)" % (
        platform.python_version(), platform.machine(), platform.processor() or "cpu ?"))
    print()
    print("Per command (encode + mock transport + decode), median of %d batches of %d calls:"
          % (repeats, batch))
    results = bench_commands(batch, repeats)
    base = results[0][2]
    failed = False
    identify = None
    for label, key, us in results:
        mark = ""
        if key == "identify_compat":
            identify = us
            mark = "  budget %.1f us: %s" % (IDENTIFY_BUDGET_US, verdict(us, IDENTIFY_BUDGET_US))
            failed |= us > IDENTIFY_BUDGET_US
        print("  %-56s %7.2f us  %6.1fx baseline%s" % (label, us, us / base, mark))

    print()
    print("Import (fresh interpreter, median of %d):" % runs)
    imports = [import_time_ms() for _ in range(runs)]
    firsts = [first_use_ms() for _ in range(runs)]
    starts = [startup_ms() for _ in range(runs)]
    imp = statistics.median(imports)
    start = statistics.median(starts)
    struct_ms = statistics.median(f[1] for f in firsts)
    cmd_ms = statistics.median(f[2] for f in firsts)
    failed |= imp > IMPORT_BUDGET_MS
    print("  %-56s %7.2f ms" % ("baseline: python -c pass (wall clock)", start))
    print("  %-56s %7.2f ms  %6.2fx baseline  budget %.0f ms: %s" % (
        "import cxlmi_bindings (-X importtime, cumulative)", imp, imp / start,
        IMPORT_BUDGET_MS, verdict(imp, IMPORT_BUDGET_MS)))
    print("  %-56s %7.2f ms  %6.2fx baseline" % (
        "first structure access (struct_cxlmi_cmd_identify_rsp)", struct_ms, struct_ms / start))
    both = statistics.median(f[0] + f[1] for f in firsts)
    print("  %-56s %7.2f ms  %6.2fx baseline  (against the import budget: %s)" % (
        "import + first structure access (perf_counter)", both, both / start,
        verdict(both, IMPORT_BUDGET_MS)))
    print("  %-56s %7.2f ms  %6.2fx baseline" % (
        "first command after that (mock open + identify)", cmd_ms, cmd_ms / start))

    if args.profile or (identify is not None and identify > IDENTIFY_BUDGET_US):
        profile_identify(5000 if args.quick else 20000)

    print()
    print("RESULT: %s" % ("FAIL (a budget was missed)" if failed else "PASS"))
    return 1 if (failed and args.strict) else 0


if __name__ == "__main__":
    sys.exit(main())
