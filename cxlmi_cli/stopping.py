# SPDX-License-Identifier: LGPL-2.1-or-later
"""How the long-running commands (emulate, exporter) are told to stop."""

import contextlib
import signal
import threading


#: what stops a long-running command as Ctrl-C does: SIGTERM (systemd, kill) and
#: SIGHUP (the terminal closed, a unit's ExecReload=kill -HUP), which would otherwise
#: end the process with no clean-up (an emulator's last state unsaved)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                     if hasattr(signal, name))


@contextlib.contextmanager
def until_stopped():
    """Inside, SIGTERM or SIGHUP stops the command as Ctrl-C does (KeyboardInterrupt),
    and either ends the block quietly; the handlers found are put back on the way
    out.  Enter it before saying "listening": whoever waits for that line may send
    SIGTERM at once.  (Off the main thread signals are left alone.)"""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        def _term(signum, frame):
            raise KeyboardInterrupt
        for sig in STOP_SIGNALS:
            previous[sig] = signal.signal(sig, _term)
    try:
        yield
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
