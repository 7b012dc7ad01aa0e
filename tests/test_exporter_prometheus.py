# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi exporter` scraped by a real Prometheus server (Debian's ``prometheus``).

The test starts, all on 127.0.0.1:

* ``cxl-mi emulate --profile type3`` (a memory device over MCTP over TCP),
* ``cxl-mi exporter`` as a process, serving that device (``tcp:``), an in-process
  ``emu:switch``, a TCP port that never answers and one that refuses,
* an exporter in this process serving an ``emu:type3`` whose model the test changes,
* Prometheus, with a generated configuration and a temporary storage directory,
  scraping both exporters every second,

then asks Prometheus' HTTP API (``/api/v1/query``) and checks the values against what
the emulators hold, and that changes -- poison injected with ``cxl-mi memdev
inject-poison`` over TCP, a temperature changed in the model -- show up in Prometheus.
Every wait has a deadline; the servers are stopped on teardown.

Prometheus comes from tests/system_packages.py: installed when missing and allowed (root,
apt-get), a failure under CI=true, a skip with the reason elsewhere.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

pytest.importorskip("prometheus_client")

from system_packages import require  # noqa: E402

from cxlmi_bindings import Context  # noqa: E402
from cxlmi_bindings.metrics import Collector  # noqa: E402
from cxlmi_cli.commands import exporter  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = [sys.executable, "-m", "cxlmi_cli"]
DEADLINE = 25.0         # seconds any single wait may take


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT] + ([env["PYTHONPATH"]]
                                                  if env.get("PYTHONPATH") else []))
    env.pop("CXLMI_TARGET", None)
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(args, pattern, procs):
    """Start a process; return (process, the first match of ``pattern`` in its stdout)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, env=_env(), cwd=ROOT, text=True)
    procs.append(proc)
    found = []

    def read():
        for line in proc.stdout:
            m = re.search(pattern, line)
            if m and not found:
                found.append(m)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    end = time.monotonic() + DEADLINE
    while not found and time.monotonic() < end and proc.poll() is None:
        time.sleep(0.05)
    if not found:
        proc.kill()
        raise AssertionError("%s did not start: %s" % (args, proc.stderr.read()))
    return proc, found[0]


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class Prometheus:
    def __init__(self, binary, jobs, tmp):
        self.port = _free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        config = tmp / "prometheus.yml"
        lines = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s",
                 "  evaluation_interval: 1s", "scrape_configs:"]
        for job, address in jobs.items():
            lines += ["  - job_name: %s" % job, "    static_configs:",
                      "      - targets: ['%s']" % address]
        config.write_text("\n".join(lines) + "\n")
        self.log = open(tmp / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            [binary, "--config.file=%s" % config, "--storage.tsdb.path=%s" % (tmp / "data"),
             "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(tmp))
        self.wait_ready()

    def wait_ready(self):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("prometheus did not become ready: %s" % self.logtext())

    def logtext(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()[-3000:]

    def query(self, expr):
        """{frozenset(labels without __name__, job, instance): value} of an instant query."""
        url = self.base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        out = {}
        for item in doc["data"]["result"]:
            labels = {k: v for k, v in item["metric"].items()
                      if k not in ("__name__", "job", "instance")}
            out[frozenset(labels.items())] = float(item["value"][1])
        return out

    def wait_for(self, expr, check, what):
        """Poll ``expr`` until ``check(result)`` holds; the last result on failure."""
        end = time.monotonic() + DEADLINE
        result = None
        while time.monotonic() < end:
            result = self.query(expr)
            if check(result):
                return result
            time.sleep(0.25)
        raise AssertionError("%s: %s gave %r (prometheus log: %s)"
                             % (what, expr, result, self.logtext()))

    def stop(self):
        _stop(self.proc)
        self.log.close()


def one(result):
    return len(result) == 1 and list(result.values())[0]


@pytest.fixture
def prometheus_binary():
    return require({"prometheus": "prometheus"},
                   why="the exporter's Prometheus test")["prometheus"]


def test_prometheus_scrapes_the_exporter_and_sees_the_emulators_change(prometheus_binary,
                                                                       tmp_path):
    procs = []
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    dead = "tcp:127.0.0.1:%d" % silent.getsockname()[1]        # connects, never answers
    refused = "tcp:127.0.0.1:%d" % _free_port()                  # nothing listens
    ctx = Context()
    server = prom = collector = None
    try:
        # a memory device over MCTP over TCP, and an exporter process serving it
        _, m = _start(CLI + ["emulate", "--profile", "type3", "--listen", "127.0.0.1:0"],
                      r"listening on tcp:127\.0\.0\.1:(\d+)", procs)
        device = "tcp:127.0.0.1:%s" % m.group(1)
        _, m = _start(CLI + ["exporter", "--listen", "127.0.0.1:0", "--interval", "0.5",
                             "--timeout", "1", device, "emu:switch", dead, refused],
                      r"listening on http://127\.0\.0\.1:(\d+)/metrics", procs)
        process_exporter = "127.0.0.1:%s" % m.group(1)

        # an exporter in this process, over a model the test can change; what the model
        # holds is read before the exporter uses it (one endpoint, one thread at a time)
        local = ctx.open("emu:type3")
        health = local.memdev_get_health_info()
        mem_ident = local.memdev_identify()
        serial = local.identify().serial_num
        collector = Collector(["emu:type3"], interval=0.5, timeout=2,
                              opener=lambda target, timeout: local)
        server = exporter.make_server("127.0.0.1", 0, exporter.build_registry(collector))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        local_exporter = "127.0.0.1:%d" % server.server_address[1]

        prom = Prometheus(prometheus_binary, {"cxl_process": process_exporter,
                                              "cxl_local": local_exporter}, tmp_path)
        # both scraped
        prom.wait_for('count(up{job=~"cxl_.*"} == 1)', lambda r: one(r) == 2,
                      "both exporters scraped")
        ups = prom.wait_for('cxl_up{job="cxl_process"}', lambda r: len(r) == 4,
                            "cxl_up of the four targets")
        assert ups == {frozenset({("target", device)}): 1,
                       frozenset({("target", "emu:switch")}): 1,
                       frozenset({("target", dead)}): 0,
                       frozenset({("target", refused)}): 0}
        prom.wait_for('cxl_scrape_errors_total{target="%s"}' % dead,
                      lambda r: one(r) and one(r) >= 1, "the dead target's errors counted")

        # the values are what the emulators hold
        reference = ctx.open("emu:switch")
        ports = reference.fmapi_get_phys_port_state(ports=list(range(8))).ports
        widths = prom.wait_for('cxl_port_current_link_width{target="emu:switch"}',
                               lambda r: len(r) == 8, "port widths")
        for p in ports:
            key = frozenset({("target", "emu:switch"), ("serial", "0x5357000000000000"),
                             ("type", "switch"), ("port", str(p.port_id))})
            assert widths[key] == p.negotiated_link_width
        assert one(prom.query('cxl_port_logical_devices{port="2"}')) == 4
        assert one(prom.query('cxl_port_current_link_transfers_per_second{port="1"}')) == 32e9
        ident = reference.identify()
        assert ident.component_type == 0

        assert one(prom.wait_for('cxl_temperature_celsius{job="cxl_local"}', one,
                                 "temperature")) == health.device_temperature
        assert one(prom.query('cxl_life_used_ratio{job="cxl_local"}')) == \
            health.life_used / 100
        # the TCP device is the same profile: the same identity and capacity
        total = mem_ident.total_capacity * 256 * 1024 * 1024
        assert one(prom.query('cxl_capacity_bytes{target="%s"}' % device)) == total
        info = prom.query('cxl_device_info{target="%s"}' % device)
        assert len(info) == 1
        labels = dict(list(info)[0])
        assert labels["serial"] == "0x%016x" % serial
        assert labels["firmware"] == mem_ident.fw_revision.decode()
        assert labels["type"] == "type3"

        # a changed temperature shows up
        local.transport.device.set_health(temperature=47)
        prom.wait_for('cxl_temperature_celsius{job="cxl_local"}', lambda r: one(r) == 47,
                      "the new temperature")

        # poison injected over TCP with the CLI shows up, and so does its event record
        prom.wait_for('cxl_poison_list_records{target="%s"}' % device,
                      lambda r: len(r) == 1 and one(r) == 0, "an empty poison list")
        inject = subprocess.run(CLI + ["memdev", "inject-poison", device, "--address",
                                       "0x40000", "--yes"], capture_output=True, text=True,
                                env=_env(), cwd=ROOT, timeout=30)
        assert inject.returncode == 0, inject.stderr
        prom.wait_for('cxl_poison_list_records{target="%s"}' % device, lambda r: one(r) == 1,
                      "the injected poison")
        assert one(prom.query('cxl_poison_list_bytes{target="%s"}' % device)) == 64
        prom.wait_for('cxl_event_log_records{target="%s",log="info"}' % device,
                      lambda r: one(r) == 1, "the injection's event record")
    finally:
        if prom is not None:
            prom.stop()
        for proc in procs:
            _stop(proc)
        if server is not None:
            server.shutdown()
            server.server_close()
        silent.close()
        ctx.close()
    shutil.rmtree(tmp_path / "data", ignore_errors=True)
