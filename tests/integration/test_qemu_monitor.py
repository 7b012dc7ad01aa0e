# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi monitor` through the Linux driver, in the QEMU guest (see README.md here).

QEMU 7.2's type 3 model has neither health info nor event injection, so what a
kernel target shows is its identity from sysfs, no spurious errors, a clean
SIGTERM stop, and a device that does not exist reported gone.
"""

import json
import shlex

import pytest

pytestmark = pytest.mark.usefixtures("qemu_guest")


def monitor(guest, args, timeout=120):
    return guest.run("%s -m cxlmi_cli monitor %s" % (shlex.quote(guest.python), args),
                     timeout=timeout)


def parse(out):
    return [json.loads(s) for s in out.splitlines() if s.strip()]


def test_once_says_mem0_is_up_with_its_sysfs_identity(qemu_guest):
    rc, out, err = monitor(qemu_guest, "mem0 --once --json")
    assert rc == 0, out + err
    assert "Traceback" not in err
    lines = parse(out)
    assert lines[0]["kind"] == "up" and lines[0]["target"] == "mem0"
    assert lines[0]["transport"] == "ioctl" and lines[0]["component_type"] == "type3"
    assert int(lines[0]["serial"], 16) == qemu_guest.config.serial
    assert [line for line in lines if line["kind"] in ("error", "gone")] == []


def test_sigterm_stops_a_running_monitor_with_exit_0(qemu_guest):
    # the signal goes once the monitor has written its first line (a TCG guest starts
    # Python slowly), and a second later, with rounds going on
    script = ("out=$(mktemp); %s -m cxlmi_cli monitor mem0 --interval 0.3 --json > $out & "
              "pid=$!; i=0; while ! grep -q '\"up\"' $out && [ $i -lt 600 ]; do sleep 0.1; "
              "i=$((i+1)); done; sleep 1; kill -TERM $pid; wait $pid; echo rc=$?; cat $out"
              % shlex.quote(qemu_guest.python))
    rc, out, err = qemu_guest.run(script, timeout=120)
    assert out.startswith("rc=0\n"), out + err
    assert "monitor stopped" in err and "Traceback" not in err
    kinds = [line["kind"] for line in parse(out.split("\n", 1)[1])]
    assert kinds == ["up"]              # round after round, nothing changed


def test_a_device_that_is_not_there_is_gone_and_once_exits_3(qemu_guest):
    rc, out, err = monitor(qemu_guest, "mem0 mem7 --once --json")
    assert rc == 3, out + err
    lines = parse(out)
    gone = [line for line in lines if line["kind"] == "gone"]
    assert [line["target"] for line in gone] == ["mem7"]
    assert [line["target"] for line in lines if line["kind"] == "up"] == ["mem0"]
