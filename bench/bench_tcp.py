# SPDX-License-Identifier: LGPL-2.1-or-later
"""MCTP over TCP against a plain TCP echo of the same bytes, measured side by side.

    python bench/bench_tcp.py [--seconds 1] [--strict] [--skip-clients]

Every budget is a ratio to a baseline measured in the same run, in the same
interpreter, so the figures hold on any machine:

  identify over tcp:                 <= 1.4 x a plain echo of its wire bytes
  0 B / 4 KiB / 64 KiB / 1 MiB:      <= 1.5 x a plain echo of the same wire bytes
  N clients (1, 2, 4, 8, 32):        2 clients >= 1.6 x one client, no fall-off up to 32
                                     (each row >= 0.9 x the best row before it), against
                                     one server worker process per core
  64 MiB firmware through tcp:       <= 3 x reading and hashing the file (both in a new
                                     interpreter); through emu: for comparison
  1 GiB firmware through tcp:        peak RSS of cxl-mi < 80 MB (--skip-big leaves it out)

The message rows run as cxl-mi ends talk (sized packets, agreed with Set
Transmission Unit), then, without budget, in the 68-byte packets every other
peer gets.  Each comparison takes turns, three rounds a side, and compares the
medians; each client row is the median of three runs.

The plain echo is two processes on loopback with TCP_NODELAY: the client
sends the bytes in one write and reads them back; the server reads them all
and writes them back in one write.  The MCTP side runs the emulator's server
in a child process (as ``cxl-mi emulate`` does) and the library's ``tcp:``
transport here.  ``--strict`` exits 1 when a budget is missed.
"""

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)

from cxlmi_bindings import cci  # noqa: E402
from cxlmi_bindings import mctp_framing as mf  # noqa: E402

CTX = multiprocessing.get_context("fork" if hasattr(os, "fork") else "spawn")


# --------------------------------------------------------------------- servers

def echo_handler(msg_type, message):
    hdr = cci.decode_header(message)
    return cci.encode(hdr.opcode, memoryview(message)[cci.HEADER_SIZE:], tag=hdr.tag,
                      category=cci.CATEGORY_RESPONSE)


def _mctp_server(kind, conn):
    from cxlmi_bindings import _memory
    from cxlmi_bindings.emulator.server import Server
    _memory.keep_freed_memory()              # as `cxl-mi emulate` does
    if kind == "type3-workers":              # as `cxl-mi emulate --workers CPUS`
        from cxlmi_bindings.emulator import profiles
        from cxlmi_bindings.emulator.workers import WorkerPool
        pool = WorkerPool(profiles.build("type3"), os.cpu_count() or 1)
        conn.send(pool.start())
        conn.recv()
        pool.stop()
        return
    if kind == "echo":
        handler = echo_handler
    else:
        from cxlmi_bindings.emulator import profiles
        handler = profiles.build(kind.split("-")[0])
    if kind == "type3-1m":
        handler.max_msg_size = 20            # a 1 MiB mailbox: firmware in 1 MiB parts
    srv = Server(handler, port=0)
    conn.send(srv.start())
    conn.recv()
    srv.stop()


def _plain_echo_server(conn):
    """Each connection first says how many bytes a message has, then echoes."""
    listener = socket.create_server(("127.0.0.1", 0))
    conn.send(listener.getsockname())
    listener.settimeout(0.2)
    while not conn.poll():
        try:
            sock, _ = listener.accept()
        except socket.timeout:
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        size = int.from_bytes(_read(sock, 4), "little")
        buf = bytearray(size)
        view = memoryview(buf)
        while True:
            got = 0
            while got < size:
                n = sock.recv_into(view[got:])
                if not n:
                    break
                got += n
            if got < size:
                break
            sock.sendall(buf)
        sock.close()
    listener.close()


def _read(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


class Child:
    """A server in a child process: ``address``, ``close()``."""

    def __init__(self, target, *args):
        self.conn, child = CTX.Pipe()
        self.proc = CTX.Process(target=target, args=args + (child,), daemon=True)
        self.proc.start()
        self.address = self.conn.recv()

    def close(self):
        self.conn.send("stop")
        self.proc.join(5)


class PlainEcho:
    def __init__(self, address, size):
        self.sock = socket.create_connection(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(size.to_bytes(4, "little"))
        self.data = os.urandom(size)
        self.buf = bytearray(size)
        self.view = memoryview(self.buf)
        self.size = size

    def round_trip(self):
        self.sock.sendall(self.data)
        got = 0
        while got < self.size:
            got += self.sock.recv_into(self.view[got:])

    def close(self):
        self.sock.close()


# --------------------------------------------------------------------- timing

#: turns each side of a comparison gets
ROUNDS = 3


def wire_size(transport, payload):
    """The bytes a CCI message with ``payload`` bytes is on ``transport``'s wire."""
    msg = cci.encode(0x0001, bytes(payload))
    if transport.sized:
        from cxlmi_bindings import mctp_sized as ms
        return sum(len(p) for p in ms.frame(8, msg, 8, 16, 0, 1, 0, transport.unit)[0])
    return len(mf.frame(8, msg, 8, 16, 0, 1)[0])


def per_call(fn, seconds):
    """Median seconds per call of ``fn`` over batches filling about ``seconds``."""
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-6)
    batch = max(1, min(200, int(0.02 / one)))
    samples = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(samples) < 5:
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter() - t0) / batch)
    return statistics.median(samples)


def _client_loop(address, seconds, start, conn):
    """One load-generating client: the identify request framed once, then sent and
    its one-packet reply read back, as fast as the server answers (checking each
    reply is a successful identify).  Lean on purpose: these rows measure the
    server, and a full library client per process would spend the cores the
    server is to scale on (the identify row above measures the whole path)."""
    sock = socket.create_connection(address)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    request, _ = mf.frame(mf.TYPE_CCI, cci.encode(0x0001, b"", tag=1), 8, 16, 1, 1)
    reply = bytearray(mf.PACKET_SIZE)
    view = memoryview(reply)

    def once():
        sock.sendall(request)
        got = 0
        while got < mf.PACKET_SIZE:
            n = sock.recv_into(view[got:])
            if not n:
                raise ConnectionError("the server closed the connection")
            got += n
        # MCTP header (4), type byte, CCI header: return code at bytes 8-9 of it
        if reply[5] != cci.CATEGORY_RESPONSE or reply[13:15] != b"\0\0":
            raise RuntimeError("not a successful identify reply: %s" % bytes(reply).hex())

    once()
    start.wait()
    n = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        once()
        n += 1
    sock.close()
    conn.send(n / seconds)


def clients_rate(address, count, seconds):
    start = CTX.Event()
    pipes, procs = [], []
    for _ in range(count):
        parent, child = CTX.Pipe()
        p = CTX.Process(target=_client_loop, args=(address, seconds, start, child), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    time.sleep(0.3 + 0.02 * count)          # all connected and warmed up
    start.set()
    total = sum(p.recv() for p in pipes)
    for p in procs:
        p.join(10)
    return total


#: runs cxl-mi, then writes the peak RSS of its own process image (VmHWM) to a file:
#: getrusage's ru_maxrss would carry over the peak of the process it was forked from
PEAK = ("import atexit, re, sys\n"
        "def peak():\n"
        "    with open('/proc/self/status') as f:\n"
        "        kib = re.search(r'VmHWM:\\s+(\\d+)', f.read()).group(1)\n"
        "    with open(sys.argv[1], 'w') as out:\n"
        "        out.write(kib)\n"
        "atexit.register(peak)\n"
        "from cxlmi_cli.main import main\n"
        "main(sys.argv[2:])\n")


def run_measured(args):
    """Run ``cxl-mi args``; returns (seconds, peak RSS in bytes, exit status)."""
    with tempfile.NamedTemporaryFile("r") as peak:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", PEAK, peak.name] + args,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=dict(os.environ, PYTHONPATH=ROOT))
        elapsed = time.perf_counter() - t0
        kib = peak.read().strip()
    if proc.returncode:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
    return elapsed, int(kib or 0) * 1024, proc.returncode


def run_timed(argv):
    t0 = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - t0


def firmware_file(directory, size):
    path = os.path.join(directory, "fw-%d.bin" % size)
    with open(path, "wb") as f:
        f.write(b"BENCH-1.0".ljust(16, b"\0"))
        block = os.urandom(1 << 20)
        left = size - 16
        while left > 0:
            f.write(block[:left])
            left -= len(block)
    return path


HASH = ("import hashlib, sys\nh = hashlib.sha256()\nwith open(sys.argv[1], 'rb') as f:\n"
        "    for block in iter(lambda: f.read(1 << 20), b''):\n        h.update(block)\n")


def firmware_rows(rows, skip_big):
    server = Child(_mctp_server, "type3-1m")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = firmware_file(tmp, 64 << 20)
            base = run_timed([sys.executable, "-c", HASH, path])
            cli = ["generic", "transfer-fw"]
            target = "tcp:%s:%d" % server.address
            took, rss, rc = run_measured(cli + [target, path, "--slot", "2", "--json"])
            ratio = took / base
            rows.append(("64 MiB fw, tcp:", "%6.2f s %5.0f MB/s RSS %3.0f MB  hash %.2f s"
                         % (took, 64 / took, rss / 1e6, base), ratio, "<= 3.0x hashing",
                         rc == 0 and ratio <= 3.0))
            took, rss, rc = run_measured(cli + ["emu:type3", path, "--slot", "2", "--json"])
            rows.append(("64 MiB fw, emu:", "%6.2f s %5.0f MB/s RSS %3.0f MB"
                         % (took, 64 / took, rss / 1e6), took / base, "", rc == 0))
            if not skip_big:
                os.unlink(path)
                path = os.path.join(tmp, "fw-1g.bin")
                with open(path, "wb") as f:       # sparse: the bytes cost no disk
                    f.write(b"BENCH-1.1".ljust(16, b"\0"))
                    f.truncate(1 << 30)
                took, rss, rc = run_measured(cli + [target, path, "--slot", "3", "--json"])
                rows.append(("1 GiB fw, tcp:", "%6.2f s %5.0f MB/s RSS %3.0f MB"
                             % (took, 1024 / took, rss / 1e6), None, "RSS < 80 MB",
                             rc == 0 and rss < 80e6))
    finally:
        server.close()


# --------------------------------------------------------------------- rows

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="time per measurement (1)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a budget is missed")
    ap.add_argument("--skip-clients", action="store_true", help="leave out the N-client rows")
    ap.add_argument("--skip-fw", action="store_true", help="leave out the firmware rows")
    ap.add_argument("--skip-big", action="store_true", help="leave out the 1 GiB firmware row")
    args = ap.parse_args(argv)

    from cxlmi_bindings import Context
    from cxlmi_bindings.transports.mctp_tcp import MctpTcpTransport

    rows = []                # (label, value text, ratio or None, budget text, ok)

    def compare(label, mctp_fn, plain_size, budget):
        """Time ``mctp_fn`` against a plain echo of ``plain_size`` bytes, in turns
        (three rounds each, medians), so a change in the machine's state during
        the run weighs on both sides alike."""
        e = PlainEcho(plain.address, plain_size)
        try:
            mctp_s, plain_s = [], []
            for _ in range(ROUNDS):
                mctp_s.append(per_call(mctp_fn, args.seconds / ROUNDS))
                plain_s.append(per_call(e.round_trip, args.seconds / ROUNDS))
        finally:
            e.close()
        mctp_s, plain_s = statistics.median(mctp_s), statistics.median(plain_s)
        ratio = mctp_s / plain_s
        ok = None if budget is None else ratio <= budget
        rows.append((label, "%9.1f µs  plain %7.1f µs" % (mctp_s * 1e6, plain_s * 1e6),
                     ratio, "" if budget is None else "<= %.1fx" % budget, ok))

    plain = Child(_plain_echo_server)
    type3 = Child(_mctp_server, "type3")
    echo = Child(_mctp_server, "echo")
    try:
        with Context() as ctx:
            ep = ctx.open("tcp:%s:%d" % type3.address)
            # identify: its request and reply are a packet each way
            compare("identify over tcp:", ep.identify, wire_size(ep.transport, 0), 1.4)

        # as cxl-mi ends talk (sized packets), then as any peer gets (68-byte packets)
        for unit, budget in ((None, 1.5), (mf.BTU, None)):
            with MctpTcpTransport(*echo.address, timeout=30, transmission_unit=unit) as t:
                tail = "" if unit is None else ", 68 B pkts"
                for label, size in (("0 B echo", 0), ("4 KiB echo", 4096),
                                    ("64 KiB echo", 65536), ("1 MiB echo", 1 << 20)):
                    if unit is not None and size == 0:
                        continue
                    msg = cci.encode(0x0001, bytes(size))
                    compare(label + tail, lambda: t.send(msg, 8), wire_size(t, size), budget)
    finally:
        for child in (plain, type3, echo):
            child.close()

    if not args.skip_clients:
        # one worker per core, as `cxl-mi emulate --workers` serves
        type3 = Child(_mctp_server, "type3-workers")
        try:
            rates = []
            for n in (1, 2, 4, 8, 32):
                # the median of a few runs: with more processes than cores, one run
                # can lose a good part of a second to how the scheduler placed them
                rate = statistics.median(clients_rate(type3.address, n, args.seconds)
                                         for _ in range(ROUNDS))
                if n == 1:
                    ok, budget, ratio = True, "", None
                elif n == 2:
                    ratio = rate / rates[0]
                    ok, budget = ratio >= 1.6, ">= 1.6x 1 client"
                else:
                    ratio = rate / max(rates)
                    ok, budget = ratio >= 0.9, ">= 0.9x best before"
                rates.append(rate)
                rows.append(("%d client%s, identify" % (n, "s" if n > 1 else ""),
                             "%9.0f commands/s" % rate, ratio, budget, ok))
        finally:
            type3.close()

    if not args.skip_fw:
        firmware_rows(rows, args.skip_big)

    print("MCTP over TCP vs a plain TCP echo, loopback, Python %s, %d CPUs"
          % (sys.version.split()[0], os.cpu_count() or 0))
    print("%-22s %-34s %7s  %-20s %s" % ("", "measured", "ratio", "budget", ""))
    for label, value, ratio, budget, ok in rows:
        print("%-22s %-34s %7s  %-20s %s" % (label, value, "" if ratio is None else
                                             "%.2fx" % ratio, budget,
                                             "" if not budget else ("PASS" if ok else "FAIL")))
    failed = [r for r in rows if r[3] and r[4] is False]
    print("RESULT: %s" % ("FAIL (%d)" % len(failed) if failed else "PASS"))
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
