# SPDX-License-Identifier: LGPL-2.1-or-later
"""Files written whole or not at all."""

import os
import tempfile


def check_writable(path):
    """Raise the OSError that :func:`atomic_write` to ``path`` would meet creating its
    temporary file (a directory refusing this process, a missing one); nothing is
    left behind.  Checked before a server starts, not at its first write."""
    directory = os.path.dirname(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp",
                               dir=directory)
    os.close(fd)
    os.unlink(tmp)


def atomic_write(path, data, mode=0o600, sync_directory=True, fsync=True):
    """Write ``data`` to ``path`` so that a reader (or a crash) sees the old file or
    the new one, never part of one: a new file created with ``O_EXCL`` in the same
    directory (a hidden ``.NAME.*.tmp`` name, never followed if someone planted a
    link), fsync'ed, given ``mode``, renamed over ``path``, and with
    ``sync_directory`` the directory fsync'ed so the rename itself is on disk.
    ``fsync=False`` skips both fsyncs: still whole-or-nothing for readers, not
    for a crash (for files that only live as long as the processes sharing them).
    A symbolic link is written through: its target gets the new file (a state
    file linked onto another volume stays there).
    Raises OSError with nothing at ``path`` changed."""
    path = os.path.realpath(path)
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp",
                               dir=directory)       # O_CREAT | O_EXCL, mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
        if mode != 0o600:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    if sync_directory and fsync:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path
