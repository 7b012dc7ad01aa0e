# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run the transport fuzz properties for as long as asked (the suite runs a few hundred).

    python bench/fuzz.py [--cases 100000] [--seed N] [--server-cases 2000]

Properties (tests/fuzz_properties.py): tunnels up to 8 deep, MCTP reassembly of
damaged streams, and a TCP server fed hostile clients.  Prints cases per
second; exits 1 on the first failure, printing the seed and case to replay.
"""

import argparse
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import fuzz_properties as fp  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=100000, help="cases per property")
    ap.add_argument("--server-cases", type=int, default=2000, help="hostile server clients")
    ap.add_argument("--seed", type=int, default=None, help="default: time-based, printed")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time())
    print("seed %d" % seed)
    for name, check in fp.PROPERTIES.items():
        rng = random.Random(seed)
        t0 = time.perf_counter()
        for case in range(args.cases):
            state = rng.getstate()
            try:
                check(rng)
            except Exception:
                print("FAIL %s case %d (seed %d): replay with random.Random().setstate(%r)"
                      % (name, case, seed, state[1][:3]))
                raise
        took = time.perf_counter() - t0
        print("%-12s %8d cases  %8.0f/s" % (name, args.cases, args.cases / took))
    import logging
    from cxlmi_bindings.emulator import profiles
    from cxlmi_bindings.emulator.server import Server
    quiet = logging.getLogger("cxlmi.emulator")      # every hostile client is logged
    quiet.addHandler(logging.NullHandler())
    quiet.propagate = False
    rng = random.Random(seed)
    with Server(profiles.build("type3"), port=0, partial_timeout=0.05) as srv:
        t0 = time.perf_counter()
        for _ in range(args.server_cases):
            fp.check_server(rng, srv.address)
        took = time.perf_counter() - t0
    print("%-12s %8d cases  %8.0f/s" % ("server", args.server_cases, args.server_cases / took))
    return 0


if __name__ == "__main__":
    sys.exit(main())
