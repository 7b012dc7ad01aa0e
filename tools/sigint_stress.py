# SPDX-License-Identifier: LGPL-2.1-or-later
"""Send SIGINT to `cxl-mi memdev secure-erase emu:type3 --wait` at many moments.

    python tools/sigint_stress.py [--rounds 4] [--from 0.9] [--to 1.15] [--step 0.01]

The moments count from the line `-v` logs as the command goes out; the emulated
secure erase lasts 1 s.  Prints every run that did not end with exit status 130
(or 0 after writing its whole result) -- a death by the signal shows as -2.
The suite sends a few signals in that window (tests/test_sigint_everywhere.py);
this runs it at length.  It found CPython ending the process by SIGINT after a
Ctrl-C that cxl-mi had handled (a few runs in a hundred): the console entry point
now ends with os._exit after flushing (cxlmi_cli.main.console).
"""

import argparse
import concurrent.futures
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(offset):
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "-v", "memdev", "secure-erase",
                             "emu:type3", "--wait", "--yes"], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "(4401h) ->" in line:
            break
    time.sleep(offset)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return offset, proc.returncode, err, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--from", dest="start", type=float, default=0.9)
    ap.add_argument("--to", type=float, default=1.15)
    ap.add_argument("--step", type=float, default=0.01)
    args = ap.parse_args(argv)
    n = int(round((args.to - args.start) / args.step)) + 1
    offsets = [args.start + i * args.step for i in range(n)] * args.rounds
    bad = 0
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for offset, code, err, out in pool.map(run, offsets):
            if code == 130 or (code == 0 and "done (" in out):
                continue
            bad += 1
            print("at %.2f s: exit %s\n%s" % (offset, code, err[-400:]))
    print("%d runs, %d not clean" % (len(offsets), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
