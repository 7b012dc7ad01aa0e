# SPDX-License-Identifier: LGPL-2.1-or-later
"""Ctrl-C is clean at every moment of a waited background operation.

A real SIGINT goes to a real ``cxl-mi memdev secure-erase --wait`` (a 1 s
background operation on the emulated device) at many points of its life:
right after the command is sent, all through the wait, as it ends and while
the result is written.  Every time the exit status is 130 -- never death by
the signal, never a traceback -- and the one line on stderr says what
happened: the abort was sent and what the device did, or the operation had
already finished and how.  The one exception is a signal that arrives once the
whole result is written and the process is on its way out: it is ignored
(exit 0).
"""

import concurrent.futures
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SENT = "memdev_secure_erase (4401h) ->"        # the -v line logged as the command goes out
OUTCOMES = ("interrupted before the device started it",
            "the device did not abort its background operation",
            "asked the device to abort its background operation",
            "it had already finished",
            "interrupted after the command had finished")
#: seconds after the command went out: every 10 ms across the operation's whole life
#: (1 s) and past its end, as the result is written (tools/sigint_stress.py runs the
#: end at length)
OFFSETS = [i * 0.01 for i in range(116)]


def interrupt_at(offset):
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "-v", "memdev", "secure-erase",
                             "emu:type3", "--wait", "--yes"], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if SENT in line:
            break
    time.sleep(offset)
    sent = proc.poll() is None
    if sent:
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return offset, sent, proc.returncode, "".join(seen) + err, out


def test_sigint_at_any_moment_exits_130_and_says_what_happened():
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(interrupt_at, OFFSETS))
    interrupted = 0
    for offset, sent, code, err, out in results:
        assert "Traceback" not in err, (offset, err)
        if code == 0:                   # it had finished before the signal counted
            assert "secure-erase on emu:type3: done (SUCCESS, 100 %" in out, (offset, out)
            assert "interrupted" not in err, (offset, err)
            continue
        interrupted += 1
        assert code == 130, (offset, code, err[-700:], out[-300:])
        said = [ln for ln in err.splitlines() if ln.startswith("cxl-mi: interrupted")]
        assert len(said) == 1 and any(o in said[0] for o in OUTCOMES), (offset, err)
    assert interrupted >= len(OFFSETS) // 2     # most went in before the end


def test_a_command_run_in_process_leaves_the_callers_sigint_handler_alone():
    # an ignored SIGINT would be inherited by every process the caller starts later
    from cli_helpers import invoke
    before = signal.getsignal(signal.SIGINT)
    assert invoke(["identify", "emu:type3", "--json"]).exit_code == 0
    assert signal.getsignal(signal.SIGINT) is before


def test_an_interrupt_inside_the_import_machinery_is_raised_just_after_it():
    # Raised inside importlib's bootstrap (a module lock's weakref callback), a
    # KeyboardInterrupt is "ignored" with a traceback printed; the guard asks again
    # a moment later instead, where it can propagate.
    import signal
    import time
    import types as pytypes

    import pytest
    from cxlmi_cli.main import _SigintGuard

    guard = _SigintGuard()
    previous = signal.getsignal(signal.SIGALRM)
    frozen = pytypes.SimpleNamespace(f_code=pytypes.SimpleNamespace(
        co_filename="<frozen importlib._bootstrap>"))
    try:
        try:
            guard._handle(signal.SIGINT, frozen)      # no raise here
        except KeyboardInterrupt:
            pytest.fail("raised inside the import machinery")
        with pytest.raises(KeyboardInterrupt):
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:         # ... but within 10 ms or so
                time.sleep(0.001)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        guard.finish(exiting=False)


def test_an_interrupt_during_an_import_waits_for_the_import_to_finish():
    # a class body of a module being imported (rich.table's dataclass, say): the
    # interrupted frame is not importlib's own, but one that called it is
    import types as pytypes
    from cxlmi_cli.main import _importing

    def frame(name, back=None):
        return pytypes.SimpleNamespace(f_code=pytypes.SimpleNamespace(co_filename=name),
                                       f_back=back)
    importing = frame("/usr/lib/python3/dataclasses.py",
                      frame("rich/table.py", frame("<frozen importlib._bootstrap>",
                                                   frame("cxlmi_cli/render/table.py"))))
    assert _importing(importing)
    assert not _importing(frame("/usr/lib/python3/dataclasses.py", frame("cxlmi_cli/x.py")))
    assert not _importing(None)


def test_a_ctrl_c_once_the_command_is_over_is_noted_not_raised(monkeypatch):
    # between the command's end (its result written) and the exit click still has
    # frames to unwind: a SIGINT there must say the command had finished
    import cxlmi_cli.main as cli_main
    from cli_helpers import invoke
    real = cli_main.command_over

    def over_then_sigint():
        real()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)                 # the handler runs here, in this frame
    monkeypatch.setattr(cli_main, "command_over", over_then_sigint)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)   # as in a shell
    try:
        res = invoke(["identify", "emu:type3", "--json"])
    finally:
        signal.signal(signal.SIGINT, before)
    assert res.exit_code == 130, res.stderr
    assert '"component_type"' in res.stdout or '"result"' in res.stdout
    assert "interrupted after the command had finished; its result is above" in res.stderr


def test_a_second_ctrl_c_after_an_interrupted_command_is_said_once(monkeypatch):
    # the command itself was interrupted (exit 130): a Ctrl-C noted after it is the
    # same request to stop, not news of a result above
    import cxlmi_cli.main as cli_main
    import cxlmi_cli.target as cli_target
    from cli_helpers import invoke
    real = cli_main.command_over

    def over_then_sigint():
        real()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli_main, "command_over", over_then_sigint)
    monkeypatch.setattr(cli_target, "open_endpoint", interrupted)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        res = invoke(["identify", "emu:type3", "--json"])
    finally:
        signal.signal(signal.SIGINT, before)
    assert res.exit_code == 130, res.stderr
    assert [ln for ln in res.stderr.splitlines() if "interrupted" in ln] == [
        "cxl-mi: interrupted"], res.stderr
