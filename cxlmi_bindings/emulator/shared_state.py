# SPDX-License-Identifier: LGPL-2.1-or-later
"""One emulated device shared by several server processes (``emulate --workers``).

Each worker process holds its own copy of the device model.  The copies stay
one device through a state file (the format of :mod:`.state`), an advisory
lock on a file beside it and a generation counter in memory shared by the
workers (an anonymous shared mapping made before they are forked):

- a request that cannot change the device runs on this worker's copy as it is
  when the generation has not moved since the worker last looked (no lock: a
  change whose reply went out has moved it already); otherwise it takes the
  lock shared and loads the state first;
- a request that may change it takes the lock exclusive, loads the state if
  the generation moved, runs, writes the state and bumps the generation before
  the lock is let go.

So readers run in parallel on every core, writers one at a time, and no
update is lost: the next request anywhere sees it.  With ``durable`` (the
user's ``--state FILE``) each write is also fsync'ed before its reply;
without it the file lives in a private temporary directory for the life of
the server.
"""

import fcntl
import mmap
import os
import struct

from . import state

_GEN = struct.Struct("<Q")


class SharedDevice:
    def __init__(self, device, path, durable=False):
        self.device = device
        self.path = path
        self.durable = durable
        self._lock_path = path + ".lock"
        self._gen = mmap.mmap(-1, _GEN.size)        # MAP_SHARED | MAP_ANONYMOUS
        self._seen = 0
        self._lock_fd = None
        self._locked = False
        self.loads = 0                               # how often another worker's change was taken
        self._write()                                # the state every worker starts from

    def attach(self):
        """Open this process's lock descriptor (call in each worker after the fork:
        ``flock`` locks belong to the open file, which a fork would share)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def close(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def generation(self):
        return _GEN.unpack_from(self._gen)[0]

    def acquire(self, may_change):
        """Before one request: lock, and make the device current.  With
        ``may_change`` call :meth:`commit` once the request has run; always
        :meth:`release` after it.  (Two plain calls, not a context manager:
        this runs on every request and a generator-based one costs more than
        the lock itself.)"""
        if not may_change and _GEN.unpack_from(self._gen)[0] == self._seen:
            self._locked = False          # current, and nothing to publish: no lock
            return
        if self._lock_fd is None:
            self.attach()
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX if may_change else fcntl.LOCK_SH)
        self._locked = True
        try:
            if _GEN.unpack_from(self._gen)[0] != self._seen:
                with open(self.path, "rb") as f:
                    self.device = state.loads(f.read(), self.device, self.path)
                self._seen = self.generation
                self.loads += 1
        except BaseException:
            self._locked = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            raise

    def release(self):
        if self._locked:
            self._locked = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def commit(self):
        """Publish this worker's device to the others (under the exclusive lock)."""
        self._write()
        seen = self.generation + 1
        _GEN.pack_into(self._gen, 0, seen)
        self._seen = seen

    def forget(self):
        """Take the shared state again at the next request (this copy may be off)."""
        self._seen = -1

    def handler(self, msg_type, message):
        """A server handler answering from the current copy of the device."""
        return self.device.handle(message, msg_type)

    def _write(self):
        from .._files import atomic_write
        atomic_write(self.path, state.dumps(self.device), mode=0o600, fsync=self.durable)
