# SPDX-License-Identifier: LGPL-2.1-or-later
"""How the long-running commands (emulate, exporter) are told to stop."""

import contextlib
import signal
import threading


@contextlib.contextmanager
def until_stopped():
    """Inside, SIGTERM stops the command as Ctrl-C does (KeyboardInterrupt), and
    either ends the block quietly; the SIGTERM handler found is put back on the
    way out.  Enter it before saying "listening": whoever waits for that line
    may send SIGTERM at once.  (Off the main thread signals are left alone.)"""
    previous = None
    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):
            raise KeyboardInterrupt
        previous = signal.signal(signal.SIGTERM, _term)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
