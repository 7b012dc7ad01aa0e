# SPDX-License-Identifier: LGPL-2.1-or-later
"""Commands per second: in-process emulator vs. MCTP over TCP loopback.

    python bench/bench_tcp.py [--seconds 2] [--same-process]

Rows:
  emu:type3 identify          the library + the in-process emulated type 3 device
  tcp identify                the same, with the device behind an MCTP-over-TCP server
  tcp transport, 0 B echo     transport + framing + server only (a trivial handler)
  tcp transport, 4 KiB echo   the same with 4 KiB each way (65 packets each way)

By default the server runs in a child process, as `cxl-mi emulate` would;
``--same-process`` keeps it in a thread (then client and server share the GIL).
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from cxlmi_bindings import cci  # noqa: E402


def echo_handler(msg_type, message):
    hdr = cci.decode_header(message)
    return cci.encode(hdr.opcode, message[cci.HEADER_SIZE:], tag=hdr.tag,
                      category=cci.CATEGORY_RESPONSE)


def make_server(kind):
    from cxlmi_bindings.emulator.server import Server
    if kind == "echo":
        return Server(echo_handler, port=0)
    from cxlmi_bindings.emulator import profiles
    return Server(profiles.build(kind), port=0)


class Served:
    def __init__(self, kind, same_process):
        self.proc = self.srv = None
        if same_process:
            self.srv = make_server(kind)
            self.address = self.srv.start()
        else:
            ctx = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")
            self.conn, child = ctx.Pipe()
            self.proc = ctx.Process(target=_serve_in_child, args=(kind, child), daemon=True)
            self.proc.start()
            self.address = self.conn.recv()

    def close(self):
        if self.srv is not None:
            self.srv.stop()
        if self.proc is not None:
            self.conn.send("stop")
            self.proc.join(5)


def _serve_in_child(kind, conn):
    srv = make_server(kind)
    conn.send(srv.start())
    conn.recv()
    srv.stop()


def rate(fn, seconds):
    """Run ``fn`` repeatedly for about ``seconds``; returns (calls/s, median µs)."""
    for _ in range(20):
        fn()
    samples = []
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(50):
            fn()
        samples.append((time.perf_counter() - t0) / 50)
        n += 50
    median = statistics.median(samples)
    return 1 / median, median * 1e6


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="time per row (default 2)")
    ap.add_argument("--same-process", action="store_true",
                    help="serve from a thread of this process instead of a child process")
    args = ap.parse_args(argv)

    from cxlmi_bindings import Context
    from cxlmi_bindings.transports.mctp_tcp import MctpTcpTransport

    rows = []
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        rows.append(("emu:type3 identify", rate(ep.identify, args.seconds)))

    served = Served("type3", args.same_process)
    try:
        with Context() as ctx:
            ep = ctx.open("tcp:%s:%d" % served.address)
            rows.append(("tcp identify", rate(ep.identify, args.seconds)))
    finally:
        served.close()

    served = Served("echo", args.same_process)
    try:
        with MctpTcpTransport(*served.address) as t:
            for label, size in (("tcp transport, 0 B echo", 0), ("tcp transport, 4 KiB echo", 4096)):
                msg = cci.encode(0x0001, bytes(size))
                rows.append((label, rate(lambda: t.send(msg, 8, 5), args.seconds)))
    finally:
        served.close()

    where = "thread" if args.same_process else "child process"
    print("MCTP over TCP loopback (server in a %s), Python %s" % (where, sys.version.split()[0]))
    print("%-28s %12s %12s" % ("", "commands/s", "median µs"))
    for label, (per_s, us) in rows:
        print("%-28s %12.0f %12.1f" % (label, per_s, us))


if __name__ == "__main__":
    main()
