# SPDX-License-Identifier: LGPL-2.1-or-later
"""Acknowledged writes per second of ``cxl-mi emulate``, with and without --state.

    python bench/bench_state.py [--seconds 2]

With ``--state FILE`` a change is written to the file (JSON, fsync'ed, renamed)
before its reply is sent, so every acknowledged write survives ``kill -9``;
this prints what that costs: Set LSA writes acknowledged per second over
``tcp:`` for a Type 3 device and a switch (whose state is the larger), with
and without a state file.  For information; no budget.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)


def serve(profile, state_file):
    args = [sys.executable, "-m", "cxlmi_cli", "emulate", "--listen", "127.0.0.1:0",
            "--profile", profile]
    if state_file:
        args += ["--state", state_file]
    proc = subprocess.Popen(args, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(r"tcp:127\.0\.0\.1:(\d+)", proc.stdout.readline())
    return proc, "tcp:127.0.0.1:%s" % m.group(1)


def writes_per_second(target, seconds, tunnel=None):
    from cxlmi_bindings import Context, Tunnel
    with Context() as ctx:
        ep = ctx.open(target)
        via = Tunnel.switch(1) if tunnel else None
        n = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            ep.call("memdev_set_lsa", {"offset": 0, "data": n.to_bytes(4, "little")},
                    tunnel=via)
            n += 1
    return n / seconds


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args(argv)
    print("acknowledged Set LSA writes/s over tcp:, Python %s" % sys.version.split()[0])
    with tempfile.TemporaryDirectory() as tmp:
        for profile, tunnel in (("type3", False), ("switch", True)):
            rates = []
            for state_file in (None, os.path.join(tmp, profile + ".state")):
                proc, target = serve(profile, state_file)
                try:
                    rates.append(writes_per_second(target, args.seconds, tunnel))
                finally:
                    proc.terminate()
                    proc.wait(10)
            print("%-8s no state %8.0f/s   --state %8.0f/s   (%.1fx)"
                  % (profile, rates[0], rates[1], rates[0] / rates[1]))


if __name__ == "__main__":
    main()
