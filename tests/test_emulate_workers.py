# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi emulate --workers N`: several server processes, one device.

Real processes and sockets throughout: the emulator runs as `python -m
cxlmi_cli emulate`, clients are the library over `tcp:` in threads here (each
its own connection, so each lands on a worker).  What must hold: no update is
lost when clients on different workers change the device at once, connections
are spread over the workers, a worker that dies is replaced without losing the
device, SIGTERM leaves no process behind, and --state still makes changes
durable.
"""

import mmap
import os
import selectors
import signal
import socket
import struct
import threading
import time

import pytest

from cxlmi_bindings import Context
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.shared_state import SharedDevice
from cxlmi_bindings.emulator import workers as workers_module
from cxlmi_bindings.emulator.workers import WorkerPool, _Worker

from test_emulate_processes import servers  # noqa: F401  (a fixture)

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs fork()")


@pytest.fixture
def pool(servers):
    """`cxl-mi emulate --profile type3 ARGS...` (the servers fixture kills it at teardown)."""
    def start(*args, **options):
        return servers("--profile", "type3", *args, **options)
    return start


def workers_of(proc):
    with open("/proc/%d/task/%d/children" % (proc.pid, proc.pid)) as f:
        return [int(p) for p in f.read().split()]


def sockets_of(pid):
    """How many TCP connections process ``pid`` holds (its listening socket aside)."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    established = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            cols = line.split()
            if cols[3] == "01" and cols[9] in inodes:         # 01: ESTABLISHED
                established += 1
    return established


def poison_count(target):
    with Context() as ctx:
        ep = ctx.open(target)
        rsp = ep.get_poison_list(get_poison_list_phy_addr=0,
                                 get_poison_list_phy_addr_len=1 << 24)
        return rsp.more_err_media_record_cnt


def inject(target, first, count):
    with Context() as ctx:
        ep = ctx.open(target)
        for i in range(count):
            ep.memdev_inject_poison(inject_poison_phy_addr=(first + i) * 64)


def test_writers_on_every_worker_lose_no_update(pool):
    proc, target = pool("--workers", "2")
    threads = [threading.Thread(target=inject, args=(target, 1000 * k, 25)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert poison_count(target) == 100
    assert len(workers_of(proc)) == 2


def test_connections_are_spread_over_the_workers(pool):
    proc, target = pool("--workers", "2")
    ctxs = []
    try:
        for _ in range(4):                         # one after the other: each is accepted
            ctx = Context()                        # by whichever worker wakes first
            ctx.open(target).identify()
            ctxs.append(ctx)
        time.sleep(0.2)
        assert sorted(sockets_of(pid) for pid in workers_of(proc)) == [2, 2]
    finally:
        for ctx in ctxs:
            ctx.close()


def test_a_worker_that_dies_is_replaced_and_the_device_survives(pool):
    proc, target = pool("--workers", "2")
    inject(target, 0, 3)
    first = workers_of(proc)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        now = workers_of(proc)
        if len(now) == 2 and first[0] not in now:
            break
        time.sleep(0.05)
    assert len(now) == 2 and first[0] not in now
    for _ in range(4):                             # whichever worker answers, it knows
        assert poison_count(target) == 3


def test_sigterm_stops_every_worker(pool):
    proc, target = pool("--workers", "3")
    kids = workers_of(proc)
    assert len(kids) == 3
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    for pid in kids:                               # reaped, not left running
        assert not os.path.exists("/proc/%d" % pid)


def test_with_state_the_changes_outlive_the_workers(pool, tmp_path):
    state = str(tmp_path / "t3.json")
    proc, target = pool("--workers", "2", "--state", state)
    inject(target, 0, 5)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    again, target = pool("--workers", "2", "--state", state)
    assert poison_count(target) == 5


def test_the_worker_that_accepts_passes_connections_to_the_least_busy_one():
    # In one process, threads for workers: only worker 0 listens on the port the
    # clients use (worker 1's listener is elsewhere), so every connection is
    # accepted by worker 0 and only the hand-off can give worker 1 any.
    import mmap
    import socket
    import tempfile

    from cxlmi_bindings.emulator import profiles
    from cxlmi_bindings.emulator.shared_state import SharedDevice
    from cxlmi_bindings.emulator.workers import _Worker

    with tempfile.TemporaryDirectory() as tmp:
        shared = SharedDevice(profiles.build("type3"), os.path.join(tmp, "s.json"))
        counts = mmap.mmap(-1, 8)
        channels = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(2)]
        listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
        workers = [_Worker(i, os.getppid(), counts, channels, listener=listeners[i],
                           shared=shared)
                   for i in range(2)]
        ctxs = []
        try:
            for w in workers:
                w.start()
            target = "tcp:127.0.0.1:%d" % listeners[0].getsockname()[1]
            for _ in range(4):
                ctx = Context()
                ctx.open(target).identify()           # answered by whoever holds it
                ctxs.append(ctx)
            assert [w.clients for w in workers] == [2, 2]
        finally:
            for ctx in ctxs:
                ctx.close()
            for w in workers:
                w.stop()
            for sock in listeners + [s for pair in channels for s in pair]:
                sock.close()
            shared.close()


def test_workers_do_not_outlive_a_supervisor_killed_outright(pool, tmp_path):
    proc, target = pool("--workers", "2", env={"TMPDIR": str(tmp_path)})
    assert [p.name[:15] for p in tmp_path.iterdir()] == ["cxl-mi-workers."]
    kids = workers_of(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(os.path.exists("/proc/%d" % p) and
                                              open("/proc/%d/stat" % p).read().split()[2] != "Z"
                                              for p in kids):
        time.sleep(0.05)
    alive = [p for p in kids if os.path.exists("/proc/%d" % p)
             and open("/proc/%d/stat" % p).read().split()[2] != "Z"]
    assert alive == []
    # nor does the private state the supervisor could not remove itself
    assert list(tmp_path.iterdir()) == []


def test_a_read_on_one_worker_sees_a_write_answered_by_another(pool):
    # Readers take no lock while their copy is current; the write's generation
    # bump is what sends the other worker back to the shared state.
    proc, target = pool("--workers", "2")
    with Context() as one, Context() as two:
        a, b = one.open(target), two.open(target)
        time.sleep(0.2)
        assert sorted(sockets_of(pid) for pid in workers_of(proc)) == [1, 1]
        for round_ in range(5):
            data = bytes([round_ + 1]) * 64
            assert bytes(b.memdev_get_lsa(offset=0, length=64)) != data   # b's copy is current
            a.memdev_set_lsa(offset=0, data=data)
            assert bytes(b.memdev_get_lsa(offset=0, length=64)) == data
            a, b = b, a                              # and the other way round


# --- the pieces of a pool, driven directly in this process -------------------------

def _two_workers(tmp, parent=None):
    shared = SharedDevice(profiles.build("type3"), os.path.join(tmp, "s.json"))
    counts = mmap.mmap(-1, 8)
    channels = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM) for _ in range(2)]
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    workers = [_Worker(i, os.getppid() if parent is None else parent, counts, channels,
                       listener=listeners[i], shared=shared)
               for i in range(2)]
    socks = listeners + [s for pair in channels for s in pair]
    return workers, counts, socks, shared


def test_a_worker_keeps_a_connection_when_no_other_serves_fewer_clients(tmp_path):
    # only worker 1 listens on the clients' port: on a tie it keeps the connection,
    # the next one (it then serves more) goes to worker 0
    workers, counts, socks, shared = _two_workers(str(tmp_path))
    ctxs = []
    try:
        for w in workers:
            w.start()
        target = "tcp:127.0.0.1:%d" % socks[1].getsockname()[1]
        for expected in ([0, 1], [1, 1]):
            ctx = Context()
            ctx.open(target).identify()
            ctxs.append(ctx)
            assert [w.clients for w in workers] == expected
    finally:
        for ctx in ctxs:
            ctx.close()
        for w in workers:
            w.stop()
        for sock in socks:
            sock.close()
        shared.close()


def test_a_hand_off_counts_the_connection_for_its_receiver_and_closes_the_senders_copy(
        tmp_path):
    workers, counts, socks, shared = _two_workers(str(tmp_path))
    pairs = []
    try:
        struct.pack_into("<II", counts, 0, 1, 0)        # worker 0 serves one, worker 1 none
        pairs.append(socket.socketpair())
        conn = pairs[-1][0]
        assert workers[0]._hand_off(conn, ("127.0.0.1", 4000))
        assert conn.fileno() == -1                      # only worker 1's copy is left
        assert struct.unpack_from("<II", counts) == (1, 1)   # before worker 1 took it
        pairs.append(socket.socketpair())
        assert not workers[0]._hand_off(pairs[-1][0], ("127.0.0.1", 4001))   # a tie now
        data, fds, _, _ = socket.recv_fds(socks[4], 512, 1)       # worker 1's inbox
        assert data == b'["127.0.0.1", 4000]' and len(fds) == 1
        os.close(fds[0])
    finally:
        for pair in pairs:
            for s in pair:
                s.close()
        for sock in socks:
            sock.close()
        shared.close()


def test_a_worker_publishes_its_count_when_a_client_leaves(tmp_path):
    workers, counts, socks, shared = _two_workers(str(tmp_path))
    a, b = socket.socketpair()
    selector = selectors.DefaultSelector()
    try:
        workers[1]._admit(selector, a, ("127.0.0.1", 4000))
        assert struct.unpack_from("<II", counts) == (0, 1)
        (client,) = workers[1]._clients.values()
        workers[1]._close(selector, client, None)
        assert struct.unpack_from("<II", counts) == (0, 0)
    finally:
        selector.close()
        b.close()
        for sock in socks:
            sock.close()
        shared.close()


def test_a_worker_whose_supervisor_is_not_its_parent_stops_by_itself(tmp_path):
    workers, counts, socks, shared = _two_workers(str(tmp_path), parent=os.getppid() + 1)
    try:
        thread = threading.Thread(target=workers[0].serve_forever, daemon=True)
        thread.start()
        thread.join(2)
        assert not thread.is_alive()
    finally:
        workers[0].stop()
        for sock in socks:
            sock.close()
        shared.close()


def test_a_worker_told_to_stop_while_it_starts_ends_cleanly(monkeypatch):
    # SIGTERM can come before the worker has a server (its supervisor stopped or died
    # at once): the worker must still leave through its own clean-up, not be ended
    # by the signal's default action
    def die_with_sigterm(parent):
        os.kill(os.getpid(), signal.SIGTERM)
        return True
    monkeypatch.setattr(workers_module, "_die_with", die_with_sigterm)
    pool = WorkerPool(profiles.build("type3"), 1)
    pool.start()
    try:
        _, status = os.waitpid(pool.pids[0], 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    finally:
        pool.stop()


def test_check_replaces_a_dead_worker_and_forgets_its_clients(tmp_path):
    pool = WorkerPool(profiles.build("type3"), 2)
    pool.start()
    try:
        struct.pack_into("<I", pool._counts, 0, 5)       # worker 0 had five clients
        dead = pool.pids[0]
        os.kill(dead, signal.SIGKILL)
        deadline = time.monotonic() + 5
        replaced = 0
        while not replaced and time.monotonic() < deadline:
            replaced = pool.check()
            time.sleep(0.02)
        assert replaced == 1 and pool.restarts == 1
        assert pool.pids[0] != dead and len(pool.pids) == 2
        assert struct.unpack_from("<I", pool._counts, 0)[0] == 0
        assert pool.check() == 0 and pool.restarts == 1
    finally:
        pool.stop()


def test_a_read_of_a_current_copy_takes_no_lock_and_loads_nothing(tmp_path):
    shared = SharedDevice(profiles.build("type3"), str(tmp_path / "s.json"))
    try:
        shared.forget()                                # as after a failed request
        shared.acquire(False)
        assert shared._locked and shared.loads == 1     # loaded under the shared lock
        shared.release()
        for _ in range(3):
            shared.acquire(False)
            assert not shared._locked
            shared.release()
        assert shared.loads == 1
        shared.acquire(True)
        shared.commit()
        shared.release()
        assert shared.generation == 1
        shared.acquire(False)                          # its own change: nothing to load
        assert not shared._locked and shared.loads == 1
        shared.release()
    finally:
        shared.close()
