# SPDX-License-Identifier: LGPL-2.1-or-later
"""Serve one emulated device from several processes (``cxl-mi emulate --workers N``).

Python runs one thread of Python code at a time, so one server process is
bound to one core.  A :class:`WorkerPool` binds the listening socket once and
forks ``N`` worker processes that all accept on it, each a whole
:class:`~.server.Server` (a selector, the connection limits) whose device copy
is kept in step with the others by a :class:`~.shared_state.SharedDevice`.
A client talks to one worker for the life of its connection; what it changes
the next request anywhere sees.

Connections are spread evenly: whichever worker wins the ``accept`` passes the
connection (its descriptor, over a Unix datagram socket) to the worker serving
the fewest clients when that is not itself; the counts live in memory shared
by the workers.  So two clients on two workers use both cores, whatever the
order the kernel woke the workers in.

Per worker, as for one server: ``max_clients`` and the timeouts.  What stays
per worker: an MCTP Set Endpoint ID (each worker answers for itself).
Linux and other systems with ``fork`` only.
"""

import json
import mmap
import os
import shutil
import signal
import socket
import struct
import tempfile
import time

from .. import _log
from .server import Server, listen
from .shared_state import SharedDevice

log = _log.get("cxlmi.emulator")


class WorkerPool:
    def __init__(self, device, workers, host="127.0.0.1", port=0, state_file=None,
                 **server_options):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.device = device
        self.workers = workers
        self.host = host
        self.port = port
        self.state_file = state_file
        self.server_options = server_options
        self.address = None
        self.pids = []
        self.restarts = 0
        self._listener = None
        self._tmpdir = None
        self.shared = None

    def start(self):
        """Bind, fork the workers; returns the bound ``(host, port)``."""
        sock = listen(self.host, self.port)
        self._listener = sock
        self.address = sock.getsockname()[:2]
        if self.state_file:
            path = self.state_file
        else:
            self._tmpdir = tempfile.mkdtemp(prefix="cxl-mi-workers.")
            path = os.path.join(self._tmpdir, "state.json")
        self.shared = SharedDevice(self.device, path, durable=bool(self.state_file))
        self._counts = mmap.mmap(-1, 4 * self.workers)      # clients per worker, shared
        self._channels = [socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
                          for _ in range(self.workers)]
        for index in range(self.workers):
            self.pids.append(self._fork(index))
        return self.address

    def _fork(self, index):
        parent = os.getpid()
        pid = os.fork()
        if pid:
            return pid
        status = 1
        try:
            status = self._work(index, parent)
        except _Stopped:
            status = 0                   # stopped while starting
        except BaseException:            # never return into the parent's code
            log.exception("worker %d failed", os.getpid())
        finally:
            if self._tmpdir and os.getppid() != parent:
                # the supervisor died without stop() (SIGKILL, the OOM killer), maybe
                # before this worker even began: its private state would stay for good
                shutil.rmtree(self._tmpdir, ignore_errors=True)
            os._exit(status)

    def _work(self, index, parent):
        server = None

        def stop(signum, frame):
            if server is None:
                raise _Stopped()         # still starting: the default action would
            server.stop()                # end the process without _fork's clean-up
        # first of all: SIGTERM comes as soon as _die_with asks for it, if the
        # supervisor is already gone
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)       # Ctrl-C reaches the whole process group
        if not _die_with(parent):
            return 0                     # the supervisor died before this worker began
        self.shared.attach()
        server = _Worker(index, parent, self._counts, self._channels,
                         listener=self._listener, shared=self.shared, **self.server_options)
        server.serve_forever()           # at once over when stop() came before it
        return 0

    def check(self):
        """Replace workers that died (call now and then from the parent);
        returns how many were replaced."""
        replaced = 0
        for i, pid in enumerate(self.pids):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                log.warning("worker %d ended (status %d); starting another", pid,
                            os.waitstatus_to_exitcode(status) if status else 0)
                _COUNT.pack_into(self._counts, 4 * i, 0)
                self.pids[i] = self._fork(i)
                replaced += 1
        self.restarts += replaced
        return replaced

    def stop(self, timeout=5.0):
        """Stop every worker (SIGTERM, then SIGKILL after ``timeout``), close the
        socket, remove the private state."""
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for pid in self.pids:
            while True:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        self.pids = []
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            for pair in self._channels:
                for sock in pair:
                    sock.close()
        if self.shared is not None:
            self.shared.close()
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


_COUNT = struct.Struct("<I")


class _Stopped(Exception):
    """SIGTERM or SIGINT reached a worker before its server existed."""


def _die_with(parent):
    """Ask Linux to send this process SIGTERM when ``parent`` dies (prctl
    PR_SET_PDEATHSIG; elsewhere the worker notices within 0.1 s, by getppid);
    False when it is already gone (then no signal would ever come)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)       # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    return os.getppid() == parent


class _Worker(Server):
    """One of the pool's servers: passes a new connection on to the least busy worker."""

    def __init__(self, index, parent, counts, channels, **options):
        super().__init__(None, **options)
        self.index = index
        self._parent = parent
        self._counts = counts
        self._inbox = channels[index][0]
        self._outboxes = [pair[1] for pair in channels]
        self._inbox.setblocking(False)

    def _count(self, index):
        return _COUNT.unpack_from(self._counts, 4 * index)[0]

    def _publish(self):
        _COUNT.pack_into(self._counts, 4 * self.index, len(self._clients))

    def _readers(self):
        return ((self._inbox, self._take),)

    def _housekeeping(self, selector, now):
        # a worker whose supervisor is gone (killed, even with SIGKILL) stops too,
        # rather than serve on as an orphan nobody will stop
        if os.getppid() != self._parent:
            log.warning("worker %d: the supervising process is gone; stopping", os.getpid())
            self._stopping.set()
            return
        super()._housekeeping(selector, now)

    def _hand_off(self, conn, peer):
        mine = self._count(self.index)
        least = min(range(len(self._outboxes)), key=self._count)
        if self._count(least) >= mine:
            return False
        # counted before it is sent: the other worker publishes its own count once
        # it has the connection, and that must not be overtaken by this bump
        _COUNT.pack_into(self._counts, 4 * least, self._count(least) + 1)
        try:
            socket.send_fds(self._outboxes[least], [json.dumps(list(peer[:2])).encode()],
                            [conn.fileno()])
        except OSError:
            _COUNT.pack_into(self._counts, 4 * least, max(0, self._count(least) - 1))
            return False                 # serve it here after all
        conn.close()
        return True

    def _take(self, selector):
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(self._inbox, 512, 1)
            except (BlockingIOError, InterruptedError):
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                try:
                    peer = tuple(json.loads(data.decode()))
                except ValueError:
                    peer = ("?", 0)
                self._admit(selector, conn, peer)

    def _admit(self, selector, conn, peer):
        super()._admit(selector, conn, peer)
        self._publish()

    def _close(self, selector, client, why, level="info"):
        super()._close(selector, client, why, level)
        self._publish()
