# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Ansible collection (ansible_collections/cxlmi/cxl) run by real ``ansible-playbook``.

One playbook, against localhost (connection local, ``ansible_python_interpreter`` this
Python, ``ANSIBLE_COLLECTIONS_PATH`` the checkout), talks to a ``cxl-mi emulate --profile
type3`` server the test starts on 127.0.0.1 (an ``emu:`` target would be a new device in
every task, so a change would not outlive its task).  It reads, changes (``changed: true``,
the change seen by a later read and by the facts), runs destructive commands in check mode
(nothing sent: the device is unchanged, and a target that refuses connections is never
dialled), gets a component error (a failed task naming ``UNSUPPORTED``), sets and checks a
passphrase (never shown, even with -vvv) and gathers facts.  Every result is written to a
JSON file the test then checks.  A second test runs the module with a Python that lacks
cxl-mi.

ansible-core comes from the ``test`` extra (``pip install '.[test]'``); without it the
test fails under CI=true and is skipped elsewhere.
"""

import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEADLINE = 20.0
SECRET = "s3cret-Pa55"


def _have_ansible():
    if importlib.util.find_spec("ansible") is not None:
        return
    why = ("ansible-core is not installed for %s: pip install '.[test]' brings it"
           % sys.executable)
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(why)
    pytest.skip(why)


def _env(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + ([env["PYTHONPATH"]]
                                                  if env.get("PYTHONPATH") else []))
    config = tmp_path / "ansible.cfg"
    config.write_text("[defaults]\n")
    env.update({
        "ANSIBLE_CONFIG": str(config),              # no /etc/ansible or ~/.ansible.cfg
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-local"),
        "ANSIBLE_REMOTE_TMP": str(tmp_path / "ansible-remote"),
        "ANSIBLE_COLLECTIONS_PATH": ROOT,           # ROOT/ansible_collections/cxlmi/cxl
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    env.pop("CXLMI_TARGET", None)
    return env


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]          # nothing listens once the socket is closed


@pytest.fixture
def emulator(tmp_path):
    """``cxl-mi emulate --profile type3`` on a free loopback port: its tcp: target."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "cxlmi_cli", "emulate", "--profile", "type3",
         "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, env=_env(tmp_path), cwd=str(tmp_path), text=True)
    found = []

    def read():
        for line in proc.stdout:
            m = re.search(r"listening on (tcp:[\d.]+:\d+)", line)
            if m and not found:
                found.append(m.group(1))
    threading.Thread(target=read, daemon=True).start()
    end = time.monotonic() + DEADLINE
    while not found and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.05)
    try:
        assert found, "cxl-mi emulate did not start: %s" % proc.stderr.read()
        yield found[0]
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _playbook(tcp, dead, out):
    """The playbook: each task registers its result; the last writes them all to ``out``."""
    task = "    - cxlmi.cxl.cxl_mi: %s\n      register: %s\n"
    tasks = [
        # a read
        task % ('{target: "%s", command: identify}' % tcp, "read"),
        # a change, then a read that sees it
        task % ('{target: "%s", command: set-timestamp, args: {timestamp: 123}}' % tcp,
                "set_ts"),
        task % ('{target: "%s", command: get_timestamp}' % tcp, "get_ts"),
        # check mode: a destructive command sends nothing, to the device or to a dead port
        task % ('{target: "%s", command: memdev set-partition-info, '
                'args: {volatile_capacity: 256M}}' % tcp, "check_partition")
        + "      check_mode: true\n",
        task % ('{target: "%s", command: get-partition-info}' % tcp, "after_check")
        + "      check_mode: true\n",
        task % ('{target: "%s", command: set_timestamp, args: {timestamp: 7}}' % dead,
                "check_dead") + "      check_mode: true\n",
        # check mode still checks the options: a bad value fails, nothing sent
        task % ('{target: "%s", command: memdev_set_partition_info, '
                'args: {volatile_capacity: 100M}}' % tcp, "check_bad")
        + "      check_mode: true\n      ignore_errors: true\n",
        # the destructive change for real (the module confirms it), seen by the facts
        task % ('{target: "%s", command: memdev_set_partition_info, '
                'args: {volatile_capacity: 256M}}' % tcp, "set_partition"),
        # a component error: a failed task that names the return code
        task % ('{target: "%s", command: fmapi get-ld-info}' % tcp, "device_error")
        + "      ignore_errors: true\n",
        # passphrases: given to cxl-mi in private files, kept out of every log
        task % ('{target: "%s", command: memdev set-passphrase, args: {type: user}, '
                'passphrase: "", new_passphrase: "%s"}' % (tcp, SECRET), "set_passphrase"),
        task % ('{target: "%s", command: get-security-state}' % tcp, "security"),
        task % ('{target: "%s", command: memdev_disable_passphrase, args: {type: user}, '
                'passphrase: wrong}' % tcp, "wrong_passphrase") + "      ignore_errors: true\n",
        task % ('{target: "%s", command: identify, passphrase: "x"}' % tcp, "no_passphrase")
        + "      ignore_errors: true\n",
        # a command name the registry does not know
        task % ('{target: "%s", command: get-helth-info}' % tcp, "unknown")
        + "      ignore_errors: true\n",
        # facts: the emulated profiles, and the server's device by its target
        "    - cxlmi.cxl.cxl_mi_facts: {include_emulated: true, mctp: false}\n"
        "    - set_fact: {emulated_facts: \"{{ cxl_mi_devices }}\"}\n",
        "    - cxlmi.cxl.cxl_mi_facts: {targets: [\"%s\", \"%s\"]}\n" % (tcp, dead),
    ]
    names = re.findall(r"register: (\w+)", "".join(tasks))
    dump = ", ".join("'%s': %s" % (n, n) for n in names)
    return ("- hosts: localhost\n  gather_facts: false\n  tasks:\n" + "".join(tasks) +
            "    - copy:\n        dest: %s\n        content: \"{{ {%s, 'emulated_facts': "
            "emulated_facts, 'tcp_facts': cxl_mi_devices} | to_json }}\"\n" % (out, dump))


def test_a_playbook_reads_changes_checks_fails_and_gathers_facts(tmp_path, emulator):
    _have_ansible()
    dead = "tcp:127.0.0.1:%d" % _closed_port()
    out = tmp_path / "results.json"
    (tmp_path / "play.yml").write_text(_playbook(emulator, dead, out))
    (tmp_path / "hosts").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    # -vvv: results show the module arguments (invocation), so a passphrase not kept out of
    # the logs would show
    proc = subprocess.run([sys.executable, "-m", "ansible", "playbook", "-vvv", "-i", "hosts",
                           "play.yml"], cwd=str(tmp_path), env=_env(tmp_path),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    # five tasks failed and were ignored; nothing else failed
    assert re.search(r"localhost\s*:.*failed=0.*ignored=5", log), log
    r = json.loads(out.read_text())

    # a read: the device's identity, changed false
    from cxlmi_bindings import Context
    with Context() as ctx:
        device = ctx.open(emulator)
        serial = device.identify().serial_num
        health = device.memdev_get_health_info()
    assert r["read"]["changed"] is False
    assert r["read"]["command"] == "identify" and r["read"]["opcode"] == 0x0001
    assert r["read"]["result"]["serial_num"] == serial
    assert r["read"]["result"]["component_type_decoded"] == "type3"

    # a change: changed true, and the next task reads the new clock (123 ns + a little)
    assert r["set_ts"]["changed"] is True and r["set_ts"]["command"] == "set_timestamp"
    assert "--timestamp=123" in r["set_ts"]["cmd"]
    assert r["get_ts"]["changed"] is False
    assert 123 <= r["get_ts"]["result"]["timestamp"] < 123 + int(60e9)

    # check mode: what would be sent, and nothing was
    check = r["check_partition"]
    assert check["changed"] is True and "result" not in check
    assert check["would_send"]["command"] == "memdev_set_partition_info"
    assert check["would_send"]["opcode"] == 0x4101 and check["would_send"]["opcode_hex"] == "4101h"
    assert check["would_send"]["args"] == {"volatile_capacity": "256M"}
    assert "nothing was sent" in check["msg"]
    assert r["after_check"]["changed"] is False           # a read runs in check mode
    assert r["after_check"]["result"]["next_vmem"] == 0   # ... and sees no change
    assert r["check_dead"]["changed"] is True and r["check_dead"]["would_send"]["target"] == dead
    assert r["check_bad"]["failed"] is True and "256" in r["check_bad"]["msg"]
    assert "would_send" not in r["check_bad"]

    # the destructive change for real: confirmed by the module, seen by the facts
    assert r["set_partition"]["changed"] is True and "--yes" in r["set_partition"]["cmd"]
    mine = r["tcp_facts"][emulator]
    assert mine["source"] == "targets" and mine["errors"] == []
    assert mine["partition"]["next_vmem"] == 1 and mine["partition"]["next_vmem_bytes"] == 1 << 28
    assert mine["identify"]["serial_num"] == serial
    assert mine["health"]["life_used"] == health.life_used
    assert mine["health"]["device_temperature"] == health.device_temperature

    # a component error: a failed task naming the CXL return code
    err = r["device_error"]
    assert err["failed"] is True and err["changed"] is False
    assert "UNSUPPORTED" in err["msg"]
    assert err["return_code"] == 3 and err["return_code_name"] == "UNSUPPORTED"
    assert err["exit_code"] == 1 and err["error"]["type"] == "DeviceError"
    assert r["unknown"]["failed"] is True
    assert "get-helth-info" in r["unknown"]["msg"] and "get-health-info" in r["unknown"]["msg"]

    # passphrases: set through the module, checked by the device, never shown
    assert r["set_passphrase"]["changed"] is True
    assert any(w.startswith("--new-passphrase-file=") for w in r["set_passphrase"]["cmd"])
    assert "user-passphrase-set" in r["security"]["result"]["security_state_decoded"]
    assert r["wrong_passphrase"]["return_code_name"] == "PASSPHRASE"
    assert "PASSPHRASE" in r["wrong_passphrase"]["msg"]
    assert r["no_passphrase"]["failed"] is True and "takes no passphrase" in \
        r["no_passphrase"]["msg"]
    assert SECRET not in log and SECRET not in json.dumps(r)

    # a dead target is reported in its facts, not as a failed task
    gone = r["tcp_facts"][dead]
    assert gone["identify"] is None and gone["health"] is None
    assert [(e["command"], e["exit_code"]) for e in gone["errors"]] == [("identify", 3)]

    # facts of the emulated profiles: memory devices have health and partitions
    emulated = r["emulated_facts"]
    assert set(emulated) == {"emu:type3", "emu:mld", "emu:switch", "emu:mhd", "emu:dcd"}
    t3 = emulated["emu:type3"]
    with open(os.path.join(ROOT, "docs", "ansible.md"), encoding="utf-8") as f:
        facts_table = f.read().split("### Facts", 1)[1].split("\n#", 1)[0]
    documented = re.findall(r"^\| `(\w+)` \|", facts_table, re.M)
    assert set(t3) == set(documented)          # docs/ansible.md lists every key a device has
    assert t3["source"] == "emulated" and t3["errors"] == []
    assert t3["health"]["media_status_decoded"] == "normal"
    assert t3["partition"]["active_vmem_bytes"] + t3["partition"]["active_pmem_bytes"] == \
        t3["memdev_identify"]["total_capacity_bytes"]
    switch = emulated["emu:switch"]
    assert switch["identify"]["component_type_decoded"] == "switch"
    assert switch["memdev_identify"] is None and switch["health"] is None
    assert switch["errors"] == [] and emulated["emu:mld"]["errors"] == []


def test_a_host_without_cxl_mi_fails_the_task_saying_what_to_install(tmp_path):
    _have_ansible()
    # a Python with nothing installed, and no checkout on its path: what a host that lacks
    # cxl-mi looks like to the module
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True, timeout=120)
    bare = str(tmp_path / "bare" / "bin" / "python")
    env = _env(tmp_path)
    env.pop("PYTHONPATH")
    proc = subprocess.run(
        [sys.executable, "-m", "ansible", "adhoc", "localhost", "-i", "localhost,", "-c",
         "local", "-e", "ansible_python_interpreter=%s" % bare, "-m", "cxlmi.cxl.cxl_mi",
         "-a", "target=emu:type3 command=identify"], cwd=str(tmp_path), env=env,
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "FAILED" in out, out
    assert "cxl-mi" in out and "ansible_python_interpreter" in out and bare in out, out
    assert "cxlmi_bindings" in out, out        # the import that failed


def test_check_mode_fails_where_a_real_run_fails_and_sends_nothing_when_it_would_not(
        tmp_path, emulator):
    """Check mode runs cxl-mi's dry run: a request a real run refuses (a required field
    missing, an --input field the structure has not) fails in check mode with the same
    message and exit code; a good destructive request reports what it would send and
    the device is unchanged."""
    _have_ansible()
    bad = {
        "no_address": '{target: "%s", command: inject-poison}' % emulator,
        "no_capacity": '{target: "%s", command: memdev set-partition-info}' % emulator,
        "no_ids": '{target: "%s", command: fmapi bind-vppb}' % emulator,
        "bogus_field": '{target: "%s", command: memdev_set_partition_info, '
                       'args: {volatile_capacity: 256M}, request: {bogus: 1}}' % emulator,
    }
    task = "    - cxlmi.cxl.cxl_mi: %s\n      register: %s\n"
    tasks = []
    for name, spec in bad.items():
        tasks.append(task % (spec, "check_" + name) +
                     "      check_mode: true\n      ignore_errors: true\n")
        tasks.append(task % (spec, "real_" + name) + "      ignore_errors: true\n")
    tasks.append(task % ('{target: "%s", command: inject-poison, args: {address: "0x1000"}}'
                         % emulator, "check_good") + "      check_mode: true\n")
    tasks.append(task % ('{target: "%s", command: get-poison-list}' % emulator, "after"))
    names = re.findall(r"register: (\w+)", "".join(tasks))
    out = tmp_path / "results.json"
    (tmp_path / "play.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n" + "".join(tasks) +
        "    - copy:\n        dest: %s\n        content: \"{{ {%s} | to_json }}\"\n"
        % (out, ", ".join("'%s': %s" % (n, n) for n in names)))
    (tmp_path / "hosts").write_text(
        "localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    proc = subprocess.run([sys.executable, "-m", "ansible", "playbook", "-i", "hosts",
                           "play.yml"], cwd=str(tmp_path), env=_env(tmp_path),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    assert re.search(r"localhost\s*:.*failed=0.*ignored=8", log), log
    r = json.loads(out.read_text())
    wanted = {"no_address": "needs --address", "no_capacity": "needs --volatile-capacity",
              "no_ids": "needs --vcs-id, --vppb-id, --port-id",
              "bogus_field": "has no field 'bogus'"}
    for name, words in wanted.items():
        check, real = r["check_" + name], r["real_" + name]
        assert real["failed"] is True and words in real["msg"], (name, real)
        assert check["failed"] is True and "would_send" not in check, (name, check)
        assert check["msg"] == real["msg"], name
        assert check["exit_code"] == real["exit_code"] == 2, name
        assert check["error"] == real["error"] and check["changed"] is False, name

    good = r["check_good"]
    assert good["changed"] is True and "nothing was sent" in good["msg"]
    sent = good["would_send"]
    assert sent["command"] == "memdev_inject_poison" and sent["opcode_hex"] == "4301h"
    assert sent["args"] == {"address": "0x1000"}
    assert sent["dry_run"]["fields"] == {"inject_poison_phy_addr": 0x1000}
    assert "--dry-run" not in good["cmd"]          # the command a real run would be
    assert r["after"]["result"]["records"] == []   # nothing was injected
