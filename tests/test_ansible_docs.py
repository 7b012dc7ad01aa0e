# SPDX-License-Identifier: LGPL-2.1-or-later
"""docs/ansible.md and the modules' own documentation agree, and what they show runs.

* the options (name, type, required, default) and return values docs/ansible.md lists are
  those ``ansible-doc --json`` reads from the modules' DOCUMENTATION / RETURN;
* ``ansible-doc`` renders both modules (a YAML slip in DOCUMENTATION breaks it);
* the modules' EXAMPLES on emulated targets run under ``ansible-playbook``, and the tasks
  that use ``cxl_mi_devices`` (theirs and docs/ansible.md's) run on the emulated profiles'
  facts too, a switch and an MLD (no health) among them;
* the README's five fleet lines: the cxlmi.cxl ones run as ad-hoc ``ansible`` commands
  against localhost (``mem0`` swapped for ``emu:type3``), the exporter's cron job runs.

ansible-core comes from the ``test`` extra, as in tests/test_ansible.py.
"""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from test_ansible import ROOT, _env, _have_ansible

MODULES = ("cxlmi.cxl.cxl_mi", "cxlmi.cxl.cxl_mi_facts")
EMULATED = ("emu:type3", "emu:mld", "emu:switch", "emu:mhd", "emu:dcd")


def _ansible(tmp_path, *args, timeout=120):
    return subprocess.run([sys.executable, "-m", "ansible"] + list(args), cwd=str(tmp_path),
                          env=_env(tmp_path), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def _inventory(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("[cxl_hosts]\nlocalhost ansible_connection=local "
                    "ansible_python_interpreter=%s\n" % sys.executable)
    return str(path)


def _read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as f:
        return f.read()


def _section(text, heading):
    """The text under a markdown heading, up to the next heading of its level or higher."""
    level = len(heading) - len(heading.lstrip("#"))
    start = text.index(heading + "\n") + len(heading) + 1
    m = re.compile(r"^#{1,%d} " % level, re.M).search(text, start)
    return text[start:m.start() if m else len(text)]


def _table(text, heading):
    """{first cell without backticks: [other cells]} of the table under ``heading``."""
    rows = {}
    for line in _section(text, heading).splitlines():
        m = re.match(r"^\| `([^`]+)` \|(.*)\|\s*$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
    return rows


@pytest.fixture(scope="module")
def ansible_doc(tmp_path_factory):
    _have_ansible()
    tmp = tmp_path_factory.mktemp("ansible-doc")
    proc = _ansible(tmp, "doc", "--json", *MODULES)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def _documented_type(option):
    t = option["type"]
    return "list of %s" % option["elements"] if t == "list" else t


def _documented_default(option):
    d = option.get("default")
    return "" if d is None else "`%s`" % json.dumps(d)


@pytest.mark.parametrize("module", MODULES)
def test_the_docs_list_the_options_ansible_doc_shows(ansible_doc, module):
    options = ansible_doc[module]["doc"]["options"]
    rows = _table(_section(_read("docs/ansible.md"), "## `%s`" % module), "### Options")
    assert set(rows) == set(options)
    for name, spec in options.items():
        kind, default = rows[name][0], rows[name][1]
        wanted = _documented_type(spec) + (", required" if spec.get("required") else "")
        assert kind == wanted, (module, name, kind, wanted)
        assert default == _documented_default(spec), (module, name, default)


def test_the_docs_list_the_return_values_ansible_doc_shows(ansible_doc):
    returned = ansible_doc["cxlmi.cxl.cxl_mi"]["return"]
    rows = _table(_section(_read("docs/ansible.md"), "## `cxlmi.cxl.cxl_mi`"),
                  "### Return values")
    assert set(rows) == set(returned)
    facts = ansible_doc["cxlmi.cxl.cxl_mi_facts"]["return"]["ansible_facts"]["contains"]
    assert set(facts) == {"cxl_mi_devices", "cxl_mi_notes"}
    keys = _table(_section(_read("docs/ansible.md"), "## `cxlmi.cxl.cxl_mi_facts`"),
                  "### Facts")
    described = " ".join(facts["cxl_mi_devices"]["description"])
    for key in keys:
        assert "C(%s)" % key in described, key


def test_ansible_doc_renders_both_modules(tmp_path):
    _have_ansible()
    proc = _ansible(tmp_path, "doc", *MODULES)
    assert proc.returncode == 0 and "ERROR" not in proc.stderr, proc.stdout + proc.stderr
    for word in ("target", "command", "would_send", "include_emulated", "cxl_mi_devices"):
        assert word in proc.stdout


def test_the_module_examples_run_on_emulated_targets(tmp_path, ansible_doc):
    """Every example but those needing a real device or a remote host (mem0, tcp:)."""
    import yaml     # ansible-core's dependency
    tasks = []
    for module in MODULES:
        for task in yaml.safe_load(ansible_doc[module]["examples"]):
            spec = task.get(module) or {}
            if "target" in spec and not spec["target"].startswith("emu:") or "targets" in spec:
                continue
            tasks.append(task)
    names = [t["name"] for t in tasks]
    assert len(tasks) == 4 and any("Command Effects Log" in n for n in names), names
    # the tasks that use the facts (the modules' examples and docs/ansible.md's), run again
    # on facts that are not empty and hold a switch and an MLD (no health, no partition):
    # a host here has no CXL device, so the examples' own loop goes over nothing
    docs = re.search(r"```yaml\n(.*?)```", _section(_read("docs/ansible.md"),
                                                    "## `cxlmi.cxl.cxl_mi_facts`"), re.S)
    users = [t for t in tasks + yaml.safe_load(docs.group(1))
             if "cxl_mi_devices" in json.dumps(t)]
    assert len(users) == 2, users
    tasks.append({"name": "emulated facts", "cxlmi.cxl.cxl_mi_facts":
                  {"include_emulated": True, "mctp": False}})
    for i, task in enumerate(users):
        tasks.append(dict(task, register="user%d" % i))
        tasks.append({"ansible.builtin.assert": {"that": [
            "user%d.results | map(attribute='item.key') | sort | list == %s"
            % (i, sorted(EMULATED))]}})
    (tmp_path / "play.yml").write_text(json.dumps(
        [{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    proc = _ansible(tmp_path, "playbook", "-i", _inventory(tmp_path), "play.yml")
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0 and re.search(r"localhost\s*:.*failed=0", log), log
    assert "CXL return code" not in log


def _fleet_lines(name):
    block = re.search(r"## Across a fleet\n.*?```sh\n(.*?)```", _read(name), re.S).group(1)
    return [line.split("  #")[0].strip() for line in block.strip().splitlines()]


def test_the_readme_fleet_example_runs_against_localhost(tmp_path):
    _have_ansible()
    lines = _fleet_lines("README.md")
    assert len(lines) == 5 and _fleet_lines("docs/ansible.md") == lines
    inventory = _inventory(tmp_path)
    ran = 0
    for line in lines:
        words = shlex.split(line.replace("mem0", "emu:type3"))
        assert words[:2] == ["ansible", "cxl_hosts"], line
        module = words[words.index("-m") + 1]
        if module.startswith("ansible.builtin."):
            continue            # installing and cron: checked below, not done to this machine
        proc = _ansible(tmp_path, "adhoc", "-i", inventory, *words[1:])
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, (line, out)
        if "--check" in words:
            assert "nothing was sent" in out and "CHANGED" in out, out
        elif "set-timestamp" in line:
            assert '"command": "set_timestamp"' in out and "CHANGED" in out, out
        else:
            assert "cxl_mi_devices" in out and "SUCCESS" in out, out
        ran += 1
    assert ran == 3
    # the cron job: cxl-mi exporter writing the metrics file node_exporter reads
    cron = shlex.split(lines[1])
    job = re.search(r"job='([^']*)'", cron[cron.index("-a") + 1]).group(1)
    assert job.startswith("cxl-mi exporter ") and "--once" in job
    pytest.importorskip("prometheus_client")
    job = job.replace("/var/lib/prometheus/node-exporter", str(tmp_path)).replace(
        "mem0", "emu:type3")
    proc = subprocess.run([sys.executable, "-m", "cxlmi_cli"] + shlex.split(job)[1:],
                          env=_env(tmp_path), cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    metrics = (tmp_path / "cxl_mi.prom").read_text()
    assert re.search(r'^cxl_up\{[^}]*target="emu:type3"[^}]*\} 1', metrics, re.M), metrics


def test_the_collection_builds_and_installs_the_way_the_docs_say(tmp_path):
    _have_ansible()
    build = _ansible(tmp_path, "galaxy", "collection", "build",
                     os.path.join(ROOT, "ansible_collections", "cxlmi", "cxl"))
    assert build.returncode == 0, build.stdout + build.stderr
    tarball = tmp_path / "cxlmi-cxl-0.1.0.tar.gz"
    assert tarball.exists(), build.stdout
    assert "ansible-galaxy collection build ansible_collections/cxlmi/cxl" in " ".join(
        _read("docs/ansible.md").split())
    install = _ansible(tmp_path, "galaxy", "collection", "install", "--force", "-p",
                       str(tmp_path / "installed"), str(tarball))
    assert install.returncode == 0, install.stdout + install.stderr
    base = tmp_path / "installed" / "ansible_collections" / "cxlmi" / "cxl"
    for name in ("plugins/modules/cxl_mi.py", "plugins/modules/cxl_mi_facts.py",
                 "plugins/module_utils/cxl_mi.py", "meta/runtime.yml"):
        assert (base / name).is_file(), name
    assert not list(base.rglob("__pycache__"))
