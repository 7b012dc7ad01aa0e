# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi exporter` and cxlmi_bindings.metrics, fast: values against the emulator's state,
units, identity labels, caching within --interval, a dead target bounded by --timeout while the
others are served, the text file written atomically, docs/metrics.md against what can be
emitted, and the CLI around it.  The real Prometheus server is in test_exporter_prometheus.py.
"""

import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from cxlmi_bindings import Context, Tunnel, cci  # noqa: E402
from cxlmi_bindings.errors import TransportError  # noqa: E402
from cxlmi_bindings.metrics import METRICS, Collector, IDENTITY  # noqa: E402
from cxlmi_cli.commands import exporter  # noqa: E402

from cli_helpers import both, invoke, record_opcodes  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GiB = 1 << 30


class Devices:
    """An opener handing out in-process emulated endpoints the test can reach into."""

    def __init__(self):
        self.ctx = Context()
        self.eps = {}
        self.opened = []

    def __call__(self, target, timeout):
        self.opened.append(target)
        ep = self.ctx.open(target)
        ep.timeout_ms = int(timeout * 1000)
        self.eps[target] = ep
        return ep

    def device(self, target):
        return self.eps[target].transport.device

    def close(self):
        self.ctx.close()


@pytest.fixture
def devices():
    d = Devices()
    yield d
    d.close()


def by_name(samples):
    out = {}
    for name, labels, value in samples:
        out.setdefault(name, []).append((labels, value))
    return out


def value(samples, name, **want):
    found = [v for n, labels, v in samples if n == name
             and all(labels.get(k) == w for k, w in want.items())]
    assert len(found) == 1, (name, want, found)
    return found[0]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# ------------------------------------------------------------------ values and units

def test_type3_values_are_the_emulators_in_base_units(devices):
    c = Collector(["emu:type3"], opener=devices, timeout=5)
    c.samples()
    dev = devices.device("emu:type3")
    dev.set_health(temperature=-7, life_used=42, corrected_volatile_errors=5,
                   corrected_persistent_errors=9)
    ep = devices.eps["emu:type3"]
    for dpa in (0x1000, 0x2000, 0x40000):
        ep.memdev_inject_poison(inject_poison_phy_addr=dpa)
    c.refresh()
    s = c.samples()
    t = dict(target="emu:type3")
    assert value(s, "cxl_up", **t) == 1
    assert value(s, "cxl_temperature_celsius", **t) == -7             # signed, °C
    assert value(s, "cxl_life_used_ratio", **t) == pytest.approx(0.42)   # percent -> 0..1
    assert value(s, "cxl_corrected_errors_total", memory="volatile", **t) == 5
    assert value(s, "cxl_corrected_errors_total", memory="persistent", **t) == 9
    assert value(s, "cxl_poison_list_records", **t) == 3
    assert value(s, "cxl_poison_list_bytes", **t) == 3 * 64            # 64-byte units -> bytes
    assert value(s, "cxl_capacity_bytes", **t) == dev.media_size()      # 256 MiB units -> bytes
    ident = ep.memdev_identify()
    part = ep.memdev_get_partition_info()
    assert value(s, "cxl_capacity_bytes", **t) == ident.total_capacity * 256 * 1024 * 1024
    assert value(s, "cxl_partition_active_bytes", partition="volatile", **t) == \
        part.active_vmem * 256 * 1024 * 1024
    assert value(s, "cxl_partition_active_bytes", partition="persistent", **t) == \
        part.active_pmem * 256 * 1024 * 1024
    assert value(s, "cxl_label_storage_area_bytes", **t) == ident.lsa_size
    # each injection posted an informational event record
    assert value(s, "cxl_event_log_records", log="info", **t) == 3
    assert value(s, "cxl_event_log_records", log="fatal", **t) == 0
    assert value(s, "cxl_event_log_capacity_records", log="info", **t) == \
        ident.info_event_log_size
    assert value(s, "cxl_media_status", status="normal", **t) == 1
    assert value(s, "cxl_health_status", status="maintenance_needed", **t) == 0
    info = [labels for n, labels, v in s if n == "cxl_device_info"]
    ident0 = ep.identify()
    assert info == [dict(target="emu:type3", serial="0x%016x" % ident0.serial_num,
                         type="type3", model="%04x:%04x" % (ident0.vendor_id, ident0.device_id),
                         subsystem="%04x:%04x" % (ident0.subsys_vendor_id, ident0.subsys_id),
                         firmware=ep.memdev_identify().fw_revision.decode())]
    assert value(s, "cxl_firmware_slot_info", slot="1", active="true", **t) == 1


def test_health_bits_media_status_and_alert_levels_decode(devices):
    c = Collector(["emu:type3"], opener=devices)
    c.samples()
    devices.device("emu:type3").set_health(health_status=0b101, media_status=3, life_used=95,
                                           temperature=100)
    c.refresh()
    s = c.samples()
    assert value(s, "cxl_health_status", status="maintenance_needed") == 1
    assert value(s, "cxl_health_status", status="performance_degraded") == 0
    assert value(s, "cxl_health_status", status="hardware_replacement_needed") == 1
    assert [labels["status"] for n, labels, v in s if n == "cxl_media_status" and v == 1] == \
        ["all_data_lost"]
    assert value(s, "cxl_alert_level", indicator="life_used") == 2        # over 90 %: critical
    assert value(s, "cxl_alert_level", indicator="temperature") == 2      # over 85 °C: critical
    assert value(s, "cxl_alert_level", indicator="corrected_volatile_errors") == 0


def test_switch_ports_links_and_lds_are_the_emulators(devices):
    c = Collector(["emu:switch"], opener=devices)
    s = c.samples()
    ep = devices.eps["emu:switch"]
    sw = ep.fmapi_identify_sw_device()
    t = dict(target="emu:switch")
    assert value(s, "cxl_switch_physical_ports", **t) == sw.num_physical_ports
    assert value(s, "cxl_switch_vppbs", state="total", **t) == sw.num_total_vppb
    speeds = {1: 2.5e9, 2: 5e9, 3: 8e9, 4: 16e9, 5: 32e9, 6: 64e9}
    ports = ep.fmapi_get_phys_port_state(ports=list(range(sw.num_physical_ports))).ports
    for p in ports:
        port = str(p.port_id)
        assert value(s, "cxl_port_current_link_width", port=port) == p.negotiated_link_width
        assert value(s, "cxl_port_max_link_width", port=port) == p.max_link_width
        assert value(s, "cxl_port_current_link_transfers_per_second", port=port) == \
            speeds.get(p.current_link_speed, 0)
        assert value(s, "cxl_port_max_link_transfers_per_second", port=port) == \
            speeds[p.max_link_speed]
        assert value(s, "cxl_port_link_up", port=port) == (p.ltssm_state == 4)
    # the MLD on port 2: its LD count through the port's tunnel
    assert value(s, "cxl_port_logical_devices", port="2") == \
        ep.fmapi_get_ld_info(tunnel=Tunnel.switch(2)).ld_count == 4
    assert [labels["port"] for n, labels, v in s if n == "cxl_port_logical_devices"] == ["2"]
    assert value(s, "cxl_port_current_link_transfers_per_second", port="1") == 32e9
    assert value(s, "cxl_port_current_link_width", port="4") == 0          # nothing attached
    info = [labels for n, labels, v in s if n == "cxl_port_info" and labels["port"] == "2"]
    assert info[0]["connected_device"] == "cxl_type3_mld" and info[0]["ltssm_state"] == "l0"
    # a switch has no health: nothing is made up, and nothing counts as an error
    assert "cxl_temperature_celsius" not in by_name(s)
    assert value(s, "cxl_scrape_errors_total", **t) == 0


def test_mld_mhd_and_dcd_report_their_lds_heads_and_dynamic_capacity(devices):
    c = Collector(["emu:mld", "emu:mhd", "emu:dcd"], opener=devices)
    s = c.samples()
    assert value(s, "cxl_logical_devices", target="emu:mld") == 4
    assert value(s, "cxl_ld_memory_bytes", target="emu:mld") == 4 * GiB
    assert value(s, "cxl_logical_devices", target="emu:mhd") == 2
    assert value(s, "cxl_heads", target="emu:mhd") == 2
    dcd = devices.eps["emu:dcd"].fmapi_get_dcd_info()
    assert value(s, "cxl_dynamic_capacity_bytes", target="emu:dcd") == \
        dcd.total_dynamic_capacity * 256 * 1024 * 1024
    for target in ("emu:mld", "emu:mhd", "emu:dcd"):
        assert value(s, "cxl_scrape_errors_total", target=target) == 0


def test_every_sample_carries_exactly_its_catalogued_labels(devices):
    c = Collector(["emu:type3", "emu:switch", "emu:mld", "emu:mhd", "emu:dcd"],
                  opener=devices)
    s = c.samples()
    for name, labels, v in s:
        assert sorted(labels) == sorted(METRICS[name].labels), name
        if "serial" in labels:
            assert re.fullmatch(r"0x[0-9a-f]{16}", labels["serial"]), labels
            assert labels["type"] in ("type3", "switch")
    # one series per label set: no two samples collide in Prometheus
    keys = [(name, tuple(sorted(labels.items()))) for name, labels, v in s]
    assert len(keys) == len(set(keys))


def test_the_exposition_is_valid_prometheus_text_with_types_and_units(devices):
    c = Collector(["emu:type3", "emu:switch"], opener=devices)
    text = exporter.exposition(exporter.build_registry(c)).decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["cxl_scrape_errors"].type == "counter"          # cxl_scrape_errors_total
    assert families["cxl_dirty_shutdowns"].type == "counter"
    assert families["cxl_temperature_celsius"].type == "gauge"
    assert "cxl_device_info" in families
    for name in families:
        assert name.startswith("cxl_")
    temp = families["cxl_temperature_celsius"].samples[0]
    assert temp.labels == {"target": "emu:type3", "serial": "0x1122334455667788",
                           "type": "type3"}
    assert temp.value == 35


# ------------------------------------------------------------------ caching

def test_devices_are_asked_at_most_once_per_interval(devices):
    clock = Clock()
    c = Collector(["emu:type3"], interval=15, opener=devices, clock=clock)
    s1 = c.samples()
    dev = devices.device("emu:type3")
    sent = []
    handle = dev.handle

    def counting(message, msg_type):
        sent.append(message)
        return handle(message, msg_type)
    dev.handle = counting
    dev.set_health(temperature=60)
    for _ in range(5):
        clock.now += 2.9                     # 14.5 s in all: still within the interval
        s2 = c.samples()
    assert sent == [] and c.collections == 1
    assert value(s2, "cxl_temperature_celsius") == 35          # the cached value
    assert value(s2, "cxl_last_scrape_timestamp_seconds") == \
        value(s1, "cxl_last_scrape_timestamp_seconds")
    clock.now += 0.6                          # past the interval
    s3 = c.samples()
    assert sent and c.collections == 2
    assert value(s3, "cxl_temperature_celsius") == 60


def test_concurrent_scrapes_share_one_collection(devices):
    c = Collector(["emu:type3"], interval=60, opener=devices)
    out = []
    threads = [threading.Thread(target=lambda: out.append(c.samples())) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)
    assert len(out) == 6 and c.collections == 1


def test_unsupported_commands_are_not_sent_again(devices):
    clock = Clock()
    c = Collector(["emu:switch"], interval=1, opener=devices, clock=clock)
    c.samples()
    opcodes = record_opcodes(devices.device("emu:switch"))
    clock.now += 2
    c.samples()
    assert opcodes and 0x4200 not in opcodes and 0x0200 not in opcodes   # health, FW info
    assert 0x5101 in opcodes                                             # port state


# ------------------------------------------------------------------ dead targets

@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield "tcp:127.0.0.1:%d" % sock.getsockname()[1]
    sock.close()


def test_a_silent_target_is_down_within_the_timeout_and_the_others_are_served(silent_server):
    c = Collector([silent_server, "emu:type3", "tcp:127.0.0.1:1"], timeout=0.5)
    try:
        start = time.monotonic()
        s = c.samples()
        took = time.monotonic() - start
    finally:
        c.close()
    assert took < 0.5 + 0.4, took
    assert value(s, "cxl_up", target=silent_server) == 0
    assert value(s, "cxl_up", target="tcp:127.0.0.1:1") == 0           # refused
    assert value(s, "cxl_scrape_errors_total", target=silent_server) == 1
    assert value(s, "cxl_up", target="emu:type3") == 1
    assert value(s, "cxl_temperature_celsius", target="emu:type3") == 35
    # nothing but the exporter's own metrics for the dead ones
    assert {n for n, labels, v in s if labels["target"] == silent_server} == \
        {"cxl_up", "cxl_scrape_duration_seconds", "cxl_scrape_errors_total",
         "cxl_last_scrape_timestamp_seconds"}


def test_a_target_that_hangs_past_every_timeout_does_not_stall_the_scrape(devices):
    release = threading.Event()
    calls = []

    def opener(target, timeout):
        calls.append(target)
        if target == "tcp:127.0.0.1:9":
            release.wait(30)                 # a transport that ignores its timeout
            raise OSError("gone")
        return devices(target, timeout)

    clock = Clock()
    c = Collector(["tcp:127.0.0.1:9", "emu:type3"], timeout=0.3, interval=1, opener=opener,
                  clock=clock)
    try:
        start = time.monotonic()
        s = c.samples()
        assert time.monotonic() - start < 0.3 + 0.4
        assert value(s, "cxl_up", target="tcp:127.0.0.1:9") == 0
        assert value(s, "cxl_up", target="emu:type3") == 1
        clock.now += 2
        s = c.samples()                      # still stuck: not asked again, down again
        assert calls.count("tcp:127.0.0.1:9") == 1
        assert value(s, "cxl_scrape_errors_total", target="tcp:127.0.0.1:9") == 2
        assert "no answer within 0.3s" in c.errors()["tcp:127.0.0.1:9"]
    finally:
        release.set()


def test_a_target_that_comes_back_is_collected_again(devices):
    state = {"up": False}

    def opener(target, timeout):
        if not state["up"]:
            raise OSError("connection refused")
        return devices("emu:type3", timeout)

    clock = Clock()
    c = Collector(["tcp:127.0.0.1:7"], interval=1, opener=opener, clock=clock)
    assert value(c.samples(), "cxl_up") == 0
    state["up"] = True
    clock.now += 2
    s = c.samples()
    assert value(s, "cxl_up") == 1 and value(s, "cxl_temperature_celsius") == 35
    assert value(s, "cxl_scrape_errors_total") == 1


def test_a_device_error_is_counted_but_the_target_stays_up(devices):
    from cxlmi_bindings.errors import DeviceError
    c = Collector(["emu:type3"], opener=devices)
    c.samples()
    ep = devices.eps["emu:type3"]
    real = ep.call

    def failing(command, *a, **kw):
        if getattr(command, "name", command) == "memdev_get_health_info":
            raise DeviceError(0x0004, "memdev_get_health_info")     # INTERNAL
        return real(command, *a, **kw)
    ep.call = failing
    c.refresh()
    s = c.samples()
    assert value(s, "cxl_up") == 1
    assert value(s, "cxl_scrape_errors_total") == 1
    assert "cxl_temperature_celsius" not in by_name(s)
    assert "cxl_capacity_bytes" in by_name(s)


# ------------------------------------------------------------------ text file

def test_the_textfile_is_written_atomically(devices, tmp_path, monkeypatch):
    c = Collector(["emu:type3"], opener=devices)
    registry = exporter.build_registry(c)
    target = tmp_path / exporter.TEXTFILE_NAME
    target.write_text("old\n")
    old_inode = os.stat(target).st_ino
    renames = []
    real_replace = os.replace

    def replace(src, dst):
        renames.append((str(src), str(dst), open(src).read()))
        return real_replace(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    path = exporter.write_textfile(str(tmp_path), registry)
    assert path == str(target)
    # a complete temporary file in the same directory, not named *.prom, renamed over
    src, dst, content = renames[0]
    assert os.path.dirname(src) == str(tmp_path) and dst == str(target)
    assert not src.endswith(".prom") and os.path.basename(src).startswith(".")
    assert content == target.read_text() and "cxl_temperature_celsius" in content
    assert os.stat(target).st_ino != old_inode
    assert os.listdir(tmp_path) == [exporter.TEXTFILE_NAME]
    assert oct(os.stat(target).st_mode & 0o777) == oct(0o644)


def test_a_failed_textfile_write_keeps_the_old_file_and_leaves_no_temporary(devices, tmp_path,
                                                                             monkeypatch):
    c = Collector(["emu:type3"], opener=devices)
    registry = exporter.build_registry(c)
    target = tmp_path / exporter.TEXTFILE_NAME
    target.write_text("cxl_up 1\n")

    def broken(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", broken)
    with pytest.raises(OSError):
        exporter.write_textfile(str(tmp_path), registry)
    assert target.read_text() == "cxl_up 1\n"
    assert os.listdir(tmp_path) == [exporter.TEXTFILE_NAME]


def test_once_with_textfile_writes_the_file(tmp_path):
    res = invoke(["exporter", "--once", "--textfile", str(tmp_path), "emu:type3"])
    assert res.exit_code == 0, both(res)
    text = (tmp_path / exporter.TEXTFILE_NAME).read_text()
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"cxl_up", "cxl_temperature_celsius", "cxl_device_info"} <= names



def test_the_global_dry_run_is_refused_and_no_file_is_written(tmp_path):
    res = invoke(["--dry-run", "exporter", "--once", "--textfile", str(tmp_path), "emu:type3"])
    assert res.exit_code == 2, both(res)
    assert res.stderr.startswith("cxl-mi: error: exporter has no dry run")
    assert res.stdout == "" and os.listdir(tmp_path) == []


def test_a_textfile_directory_that_does_not_exist_is_refused_at_start(tmp_path):
    missing = str(tmp_path / "no-such-dir")
    res = invoke(["exporter", "--once", "--textfile", missing, "emu:type3"])
    assert res.exit_code == 2 and "--textfile" in res.stderr
    assert "%s is not a directory" % missing in res.stderr


def test_a_textfile_directory_that_cannot_be_written_is_refused_at_start(tmp_path,
                                                                        monkeypatch):
    # it started, said "writing ... every 1s", then warned each interval for ever
    import errno
    import tempfile

    def refused(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")
    monkeypatch.setattr(tempfile, "mkstemp", refused)
    served = []
    monkeypatch.setattr(exporter, "_serve", lambda *a: served.append(a))
    res = invoke(["exporter", "--textfile", str(tmp_path), "emu:type3"])
    assert res.exit_code == 4 and served == [], both(res)
    assert res.stderr == "cxl-mi: error: --textfile %s: cannot write there: Permission " \
        "denied\n" % tmp_path


def test_once_exits_0_when_every_target_is_up_though_a_command_was_refused(monkeypatch):
    # a sanitize running made every command answer MEDIADISABLED: cxl_up 1, scrape
    # errors counted, and --once exited 3 as for a target that could not be read
    from cxlmi_bindings import metrics
    real = metrics.collect_endpoint

    def refusing(ep, target, unsupported):
        samples, _ = real(ep, target, unsupported)
        return samples, ["get_event_records: CXL return code 7 (MEDIADISABLED)"]
    monkeypatch.setattr(metrics, "collect_endpoint", refusing)
    res = invoke(["exporter", "--once", "emu:type3"])
    assert res.exit_code == 0, both(res)
    assert 'cxl_up{target="emu:type3"} 1.0' in res.stdout
    assert "MEDIADISABLED" in res.stderr


def test_once_with_a_textfile_that_cannot_be_written_exits_3_and_says_why(tmp_path,
                                                                          monkeypatch):
    def full(fd):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    res = invoke(["exporter", "--once", "--textfile", str(tmp_path), "emu:type3"])
    assert res.exit_code == 3 and res.stdout == ""
    assert res.stderr == ("cxl-mi: warning: cannot write to %s: No space left on device\n"
                          % tmp_path)
    assert os.listdir(tmp_path) == []

# ------------------------------------------------------------------ the doc

def _documented():
    """{metric: labels column} of docs/metrics.md's tables."""
    with open(os.path.join(ROOT, "docs", "metrics.md"), encoding="utf-8") as f:
        rows = re.findall(r"^\| `(cxl_\w+)` \| [^|]+ \| ([^|]+) \|", f.read(), re.M)
    out = {}
    for name, labels in rows:
        assert name not in out, "%s documented twice" % name
        words = [w.strip() for w in labels.split(",")]
        expanded = []
        for w in words:
            expanded += list(IDENTITY) if w == "identity" else [w]
        out[name] = expanded
    return out


def test_the_doc_lists_every_metric_with_its_labels():
    documented = _documented()
    assert sorted(documented) == sorted(METRICS)
    for name, labels in documented.items():
        assert labels == list(METRICS[name].labels), name


def test_every_catalogued_metric_is_emitted_by_some_component(devices, silent_server):
    c = Collector(["emu:type3", "emu:switch", "emu:mld", "emu:mhd", "emu:dcd"],
                  opener=devices)
    emitted = {n for n, labels, v in c.samples()}
    assert emitted == set(METRICS)


def test_metric_names_follow_prometheus_conventions():
    units = ("_celsius", "_bytes", "_seconds", "_ratio", "_total", "_info", "_records",
             "_transfers_per_second")
    for name, m in METRICS.items():
        assert re.fullmatch(r"cxl_[a-z0-9_]+", name), name
        assert (m.kind == "counter") == name.endswith("_total"), name
        assert (m.kind == "info") == name.endswith("_info"), name
        if m.kind == "info":
            assert set(IDENTITY) <= set(m.labels) or name == "cxl_device_info"
        assert not re.search(r"_(percent|kb|mb|gb|mib|gib|milliseconds|kelvin)", name), name
        if "_ratio" in name or "_celsius" in name or "_bytes" in name:
            assert name.endswith(units), name


# ------------------------------------------------------------------ the command

def test_once_prints_the_metrics(devices):
    res = invoke(["exporter", "--once", "emu:type3", "emu:switch"])
    assert res.exit_code == 0, both(res)
    families = {f.name: f for f in text_string_to_metric_families(res.stdout)}
    ups = {s.labels["target"]: s.value for s in families["cxl_up"].samples}
    assert ups == {"emu:type3": 1, "emu:switch": 1}



def test_once_warns_once_about_a_target_that_is_down_and_exits_3():
    """As monitor --once: the metrics of every target are written (the one down as
    cxl_up 0), then exit 3; the warning names the address once."""
    res = invoke(["exporter", "--once", "emu:type3", "tcp:127.0.0.1:1"])
    assert res.exit_code == 3, both(res)
    assert 'cxl_up{target="tcp:127.0.0.1:1"} 0.0' in res.stdout
    assert 'cxl_up{target="emu:type3"} 1.0' in res.stdout
    assert res.stderr == "cxl-mi: warning: tcp:127.0.0.1:1: connection refused\n"


def test_once_with_textfile_and_a_target_down_writes_the_file_and_exits_3(tmp_path):
    res = invoke(["exporter", "--textfile", str(tmp_path), "emu:type3", "tcp:127.0.0.1:1",
                  "--once"])
    assert res.exit_code == 3, both(res)
    text = (tmp_path / exporter.TEXTFILE_NAME).read_text()
    assert 'cxl_up{target="tcp:127.0.0.1:1"} 0.0' in text
    assert 'cxl_up{target="emu:type3"} 1.0' in text


def test_once_gives_each_target_the_timeout_given(silent_server):
    start = time.monotonic()
    res = invoke(["exporter", "--once", "--timeout", "0.3", silent_server])
    took = time.monotonic() - start
    assert res.exit_code == 3, both(res)
    assert 'cxl_up{target="%s"} 0.0' % silent_server in res.stdout
    assert took < 3, took                    # not the default 5 s


def test_a_targets_error_is_said_once_while_it_lasts_and_its_recovery_once(capsys):
    up = {"value": False}
    ctx = Context()

    def opener(target, timeout):
        if not up["value"]:
            raise OSError("connection refused")
        return ctx.open("emu:type3")
    clock = Clock()
    c = Collector(["tcp:127.0.0.1:7"], interval=1, opener=opener, clock=clock)
    shown = {}
    try:
        for _ in range(3):
            c.samples()
            exporter._report(c, shown)
            clock.now += 2
        up["value"] = True
        for _ in range(2):
            c.samples()
            exporter._report(c, shown)
            clock.now += 2
    finally:
        c.close()
        ctx.close()
    assert capsys.readouterr().err.splitlines() == [
        "cxl-mi: warning: tcp:127.0.0.1:7: connection refused",
        "cxl-mi: tcp:127.0.0.1:7: collected again"]

def test_a_bad_target_or_none_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    res = invoke(["exporter", "--once"])
    assert res.exit_code == 2 and "TARGET" in both(res)
    res = invoke(["exporter", "--once", "emu:nope"])
    assert res.exit_code == 2
    res = invoke(["exporter", "--once", "--listen", "nonsense", "emu:type3"])
    assert res.exit_code == 2 and "--listen" in both(res)


@pytest.mark.parametrize("value", ["emu:mld", " emu:mld\n"])
def test_cxlmi_target_is_the_default_target(monkeypatch, value):
    # taken as every other command takes it: without the spaces around it
    monkeypatch.setenv("CXLMI_TARGET", value)
    res = invoke(["exporter", "--once"])
    assert res.exit_code == 0 and 'cxl_up{target="emu:mld"} 1.0' in res.stdout


def test_without_prometheus_client_the_command_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    res = invoke(["exporter", "--once", "emu:type3"])
    assert res.exit_code == 2
    assert "pip install 'cxl-mi[exporter]'" in both(res)


def test_the_http_server_answers_metrics_and_nothing_else(devices):
    c = Collector(["emu:type3"], opener=devices)
    server = exporter.make_server("127.0.0.1", 0, exporter.build_registry(c))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as r:
            assert r.headers["Content-Type"].startswith("text/plain")
            body = r.read().decode()
        assert 'cxl_up{target="emu:type3"} 1.0' in body
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            assert b"/metrics" in r.read()
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/other", timeout=10)
        assert err.value.code == 404
        # HEAD (uptime checks) gets the GET's headers and no body; it was 501
        head = urllib.request.Request(base + "/metrics", method="HEAD")
        with urllib.request.urlopen(head, timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
            assert int(r.headers["Content-Length"]) > 0 and r.read() == b""
    finally:
        server.shutdown()
        server.server_close()


def test_metrics_with_a_query_string_are_the_metrics(devices):
    # Prometheus may add parameters to the scrape URL (params: in its config)
    c = Collector(["emu:type3"], opener=devices)
    server = exporter.make_server("127.0.0.1", 0, exporter.build_registry(c))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d/metrics?module=cxl" % server.server_address[1]
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200
            assert 'cxl_up{target="emu:type3"} 1.0' in r.read().decode()
    finally:
        server.shutdown()
        server.server_close()


def test_a_collection_that_fails_is_a_500_and_the_server_goes_on():
    class Broken:
        def samples(self):
            raise RuntimeError("no samples today")
    server = exporter.make_server("127.0.0.1", 0, exporter.build_registry(Broken()))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/metrics", timeout=10)
        assert err.value.code == 500 and b"no samples today" in err.value.read()
        with urllib.request.urlopen(base + "/", timeout=10) as r:
            assert r.status == 200
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("text, address", [
    ("127.0.0.1:9850", ("127.0.0.1", 9850)),
    (" 127.0.0.1:65535\n", ("127.0.0.1", 65535)),
    ("[::1]:9850", ("::1", 9850)),
    ("0.0.0.0:0", ("0.0.0.0", 0)),
])
def test_listen_addresses_taken(text, address):
    assert exporter.parse_listen(text) == address


@pytest.mark.parametrize("text", [":9850", "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:x",
                                  "[::1]", "tcp:127.0.0.1:9850", "::1:9850"])
def test_listen_addresses_refused_name_the_option(text):
    # ":9850" would be every interface: the host must be said
    res = invoke(["exporter", "--once", "--listen", text, "emu:type3"])
    assert res.exit_code == 2 and "--listen" in res.stderr and res.stdout == ""
    assert "target" not in res.stderr               # an option's value, not a target


def test_a_refused_listen_address_says_what_is_wrong_with_it():
    res = invoke(["exporter", "--once", "--listen", "tcp:127.0.0.1:9850", "emu:type3"])
    assert "Invalid value for --listen: expected HOST:PORT (e.g. 127.0.0.1:9850, " \
        "[::1]:9850), not 'tcp:127.0.0.1:9850'" in res.stderr
    res = invoke(["exporter", "--once", "--listen", "127.0.0.1:65536", "emu:type3"])
    assert "Invalid value for --listen: port 65536 is out of range (0..65535)" in res.stderr


@pytest.mark.parametrize("args, address", [
    ([], ("127.0.0.1", 9850)),                              # loopback unless told otherwise
    (["--textfile", "{tmp}"], None),                        # the text file alone: no port
    (["--textfile", "{tmp}", "--listen", "127.0.0.1:0"], ("127.0.0.1", 0)),
])
def test_where_the_exporter_listens(monkeypatch, tmp_path, args, address):
    served = []
    monkeypatch.setattr(exporter, "_serve", lambda collector, registry, address, textfile,
                        interval: served.append(address))
    args = [a.format(tmp=tmp_path) for a in args]
    res = invoke(["exporter", "emu:type3"] + args)
    assert res.exit_code == 0, both(res)
    assert served == [address]


def test_the_exporter_serves_on_an_ipv6_address():
    proc = _cli_process(["exporter", "--listen", "[::1]:0", "emu:type3"])
    try:
        line = proc.stdout.readline()
        m = re.match(r"listening on http://\[::1\]:(\d+)/metrics \(1 target\)", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        with urllib.request.urlopen("http://[::1]:%s/metrics" % m.group(1), timeout=20) as r:
            assert 'cxl_up{target="emu:type3"} 1.0' in r.read().decode()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "warning" not in err                # ::1 is loopback

@pytest.mark.parametrize("listen, warned", [
    ("0.0.0.0:0", True),
    ("127.1:0", False),          # not an address ipaddress reads, but what it binds is loopback
])
def test_serving_beyond_loopback_warns_by_the_address_bound(listen, warned):
    proc = _cli_process(["exporter", "--listen", listen, "emu:type3"])
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://"), (
            line, proc.stderr.read() if proc.poll() is not None else "")
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    expected = ["cxl-mi: warning: serving on 0.0.0.0, beyond loopback: anyone who can reach "
                "it reads the metrics"] if warned else []
    assert [l for l in err.splitlines() if "loopback" in l] == expected


def test_other_commands_do_not_import_the_exporter_or_prometheus_client():
    code = ("import sys; from cxlmi_cli.main import main\n"
            "try:\n    main(['identify', 'emu:type3', '--json'])\n"
            "except SystemExit:\n    pass\n"
            "bad = [m for m in ('prometheus_client', 'cxlmi_cli.commands.exporter', "
            "'cxlmi_bindings.metrics') if m in sys.modules]\n"
            "sys.stderr.write('IMPORTED %r' % bad)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=60)
    assert "IMPORTED []" in proc.stderr, proc.stderr


def _cli_process(args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("CXLMI_TARGET", None)
    return subprocess.Popen([sys.executable, "-m", "cxlmi_cli"] + args, cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


#: the value of each cxl_last_scrape_timestamp_seconds sample (not its HELP and TYPE words)
STAMP = re.compile(r"^cxl_last_scrape_timestamp_seconds\{.*\} (\S+)$", re.M)


def test_the_textfile_loop_rewrites_the_file_and_sigterm_stops_it(tmp_path):
    proc = _cli_process(["exporter", "--textfile", str(tmp_path), "--interval", "0.2",
                         "emu:type3"])
    path = tmp_path / exporter.TEXTFILE_NAME
    try:
        stamps = set()
        end = time.monotonic() + 20
        while len(stamps) < 2 and time.monotonic() < end and proc.poll() is None:
            if path.exists():
                text = path.read_text()         # always whole: it is renamed into place
                assert text.endswith("\n") and 'cxl_up{target="emu:type3"} 1.0' in text
                stamps.update(re.findall(STAMP, text))
            time.sleep(0.05)
        assert len(stamps) >= 2, "the file was not rewritten with newer values"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "writing %s" % path in out and "stopped" in err
    assert os.listdir(tmp_path) == [exporter.TEXTFILE_NAME]


def test_the_listening_exporter_prints_its_address_serves_and_stops_on_sigterm():
    proc = _cli_process(["exporter", "--listen", "127.0.0.1:0", "emu:switch"])
    try:
        line = proc.stdout.readline()
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/metrics \(1 target\)", line)
        assert m, line
        with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % m.group(1),
                                    timeout=20) as r:
            body = r.read().decode()
        assert 'cxl_port_logical_devices{port="2",serial="0x5357000000000000",' \
               'target="emu:switch",type="switch"} 4.0' in body
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err



def test_scrapes_further_apart_than_the_interval_get_values_collected_anew():
    proc = _cli_process(["exporter", "--listen", "127.0.0.1:0", "--interval", "0.2",
                         "emu:type3"])
    try:
        m = re.match(r"listening on http://127\.0\.0\.1:(\d+)/", proc.stdout.readline())
        assert m, proc.stderr.read() if proc.poll() is not None else ""
        stamps = []
        for _ in range(2):
            with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % m.group(1),
                                        timeout=20) as r:
                stamps += re.findall(STAMP, r.read().decode())
            time.sleep(0.5)                  # past the 0.2 s interval (not the default 15 s)
        assert len(stamps) == 2 and stamps[0] != stamps[1], stamps
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err

def test_a_port_in_use_is_exit_3():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        res = invoke(["exporter", "--listen", "127.0.0.1:%d" % busy.getsockname()[1],
                      "emu:type3"])
    assert res.exit_code == 3 and "cannot listen on 127.0.0.1:" in res.stderr


def _kernel_samples(monkeypatch, devname, profile, serial):
    """The exporter's samples of ``devname`` reached as through the Linux driver (an
    emulated ``profile`` behind a transport named ioctl, its sysfs serial ``serial``),
    and the opcodes sent to it."""
    from cxlmi_bindings import discovery
    from cxlmi_bindings.transports.emulated import EmulatedTransport

    sent = []

    class KernelLike(EmulatedTransport):
        name = "ioctl"

        def send(self, message, msg_type, timeout):
            sent.append(cci.decode_header(message).opcode)
            return EmulatedTransport.send(self, message, msg_type, timeout)
    KernelLike.devname = devname
    monkeypatch.setattr(discovery, "sysfs_facts",
                        lambda name: {"serial": serial} if name == devname else {})
    ctx = Context()
    try:
        c = Collector([devname], opener=lambda target, timeout: ctx.open_transport(
            KernelLike(profile), target, probe=False))
        return c.samples(), sent
    finally:
        ctx.close()


def test_kernel_devices_get_only_commands_the_driver_names_and_sysfs_identity(monkeypatch):
    """Through the Linux driver, a command without a kernel name would go RAW (refused by
    distribution kernels, tainting the others): the exporter never sends one."""
    from cxlmi_bindings import registry
    s, sent = _kernel_samples(monkeypatch, "mem0", "type3", 0xABCD)
    named = {e.opcode for e in registry.COMMANDS if e.linux_id and e.linux_id != 2}
    assert sent and set(sent) <= named, sorted(hex(o) for o in set(sent) - named)
    assert 0x4200 in sent and 0x0001 not in sent and 0x0100 not in sent
    assert value(s, "cxl_temperature_celsius") == 35
    info = [labels for n, labels, v in s if n == "cxl_device_info"]
    assert info == [dict(target="mem0", serial="0x000000000000abcd", type="type3", model="",
                         subsystem="", firmware="EMU FW 1.0.0")]
    assert "cxl_event_log_records" not in by_name(s)
    assert value(s, "cxl_scrape_errors_total") == 0


def test_only_loopback_addresses_count_as_loopback():
    from cxlmi_bindings.targets import is_loopback
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "::1%lo", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.5", "example"))


# ------------------------------------------------------------------ more values

def test_a_temperature_or_life_the_device_does_not_implement_is_no_sample(devices):
    c = Collector(["emu:type3"], opener=devices)
    c.samples()
    dev = devices.device("emu:type3")
    dev.temperature, dev.life_used = 0xFFFF, 0xFF        # "not implemented" (r3.1 8.2.9.9.3.2)
    c.refresh()
    names = by_name(c.samples())
    assert "cxl_temperature_celsius" not in names and "cxl_life_used_ratio" not in names
    assert "cxl_dirty_shutdowns_total" in names


def test_corrected_error_alert_levels_are_per_memory(devices):
    c = Collector(["emu:type3"], opener=devices)
    c.samples()
    ep = devices.eps["emu:type3"]
    ep.memdev_set_alert_config(
        valid_alert_actions=0x18, enable_alert_actions=0x18,      # corrected volatile, persistent
        corrected_volatile_mem_error_programmable_warning_threshold=10,
        corrected_persistent_mem_error_programmable_warning_threshold=10)
    devices.device("emu:type3").set_health(corrected_volatile_errors=0,
                                           corrected_persistent_errors=12)
    c.refresh()
    s = c.samples()
    assert value(s, "cxl_alert_level", indicator="corrected_persistent_errors") == 1
    assert value(s, "cxl_alert_level", indicator="corrected_volatile_errors") == 0


def test_a_dirty_shutdown_state_is_1(devices):
    c = Collector(["emu:type3"], opener=devices)
    assert value(c.samples(), "cxl_shutdown_state_dirty") == 0
    devices.device("emu:type3").shutdown_dirty = True
    c.refresh()
    assert value(c.samples(), "cxl_shutdown_state_dirty") == 1


def test_the_next_partition_is_the_one_set_for_the_next_reset(devices):
    c = Collector(["emu:type3"], opener=devices)
    c.samples()
    ep = devices.eps["emu:type3"]
    ep.memdev_set_partition_info(volatile_capacity=2, flags=0)      # at the next reset
    part = ep.memdev_get_partition_info()
    assert part.next_vmem and part.next_vmem != part.active_vmem
    c.refresh()
    s = c.samples()
    for name, kind in (("volatile", "vmem"), ("persistent", "pmem")):
        assert value(s, "cxl_partition_next_bytes", partition=name) == \
            getattr(part, "next_" + kind) * 256 * 1024 * 1024
        assert value(s, "cxl_partition_active_bytes", partition=name) == \
            getattr(part, "active_" + kind) * 256 * 1024 * 1024


def test_the_poison_list_covers_the_whole_media_over_several_replies(devices):
    c = Collector(["emu:type3"], opener=devices)
    c.samples()
    ep, dev = devices.eps["emu:type3"], devices.device("emu:type3")
    room = (dev.payload_max() - 32) // 16          # records one Get Poison List reply holds
    addresses = [n * 0x1000 for n in range(room)] + [dev.media_size() - 64]   # the last line
    for dpa in addresses:
        ep.memdev_inject_poison(inject_poison_phy_addr=dpa)
    c.refresh()
    s = c.samples()
    assert value(s, "cxl_poison_list_records") == len(addresses) == room + 1
    assert value(s, "cxl_poison_list_bytes") == 64 * len(addresses)
    assert value(s, "cxl_poison_list_overflow") == 0
    dev.poison_overflow_ts = 1                     # the device lost track of some
    c.refresh()
    assert value(c.samples(), "cxl_poison_list_overflow") == 1


def test_event_log_more_records_and_overflow_are_per_log(devices):
    c = Collector(["emu:type3"], opener=devices)
    c.samples()
    dev = devices.device("emu:type3")
    ident = devices.eps["emu:type3"].memdev_identify()
    for _ in range(dev.event_logs[0].size):        # more than one reply holds, no overflow
        dev.add_event(0, b"\x11" * 16)
    for _ in range(dev.event_logs[3].size + 2):    # two lost
        dev.add_event(3, b"\x44" * 16)
    dev.add_event(4, b"\x55" * 16)
    c.refresh()
    s = c.samples()
    assert value(s, "cxl_event_log_more_records", log="info") == 1
    assert 0 < value(s, "cxl_event_log_records", log="info") < dev.event_logs[0].size
    assert value(s, "cxl_event_log_overflow_records", log="info") == 0
    assert value(s, "cxl_event_log_more_records", log="fatal") == 0
    assert value(s, "cxl_event_log_overflow_records", log="fatal") == 2
    assert value(s, "cxl_event_log_records", log="dynamic_capacity") == 1
    for log, field in (("info", "info"), ("warning", "warning"), ("failure", "failure"),
                       ("fatal", "fatal"), ("dynamic_capacity", "dc")):
        assert value(s, "cxl_event_log_capacity_records", log=log) == \
            getattr(ident, field + "_event_log_size"), log


def test_switch_vcss_active_vppbs_presence_and_supported_lds(devices):
    c = Collector(["emu:switch"], opener=devices)
    s = c.samples()
    ep = devices.eps["emu:switch"]
    sw = ep.fmapi_identify_sw_device()
    assert value(s, "cxl_switch_vcss") == sw.num_vcs == 1
    assert value(s, "cxl_switch_vppbs", state="active") == sw.num_active_vppb
    assert sw.num_active_vppb != sw.num_total_vppb
    ports = ep.fmapi_get_phys_port_state(ports=list(range(sw.num_physical_ports))).ports
    for p in ports:
        port = str(p.port_id)
        assert value(s, "cxl_port_present", port=port) == bool(p.link_state & (1 << 2))
        assert value(s, "cxl_port_supported_logical_devices", port=port) == \
            p.supported_ld_count
    assert value(s, "cxl_port_present", port="1") == 1                 # the SLD
    assert value(s, "cxl_port_present", port="5") == 0                 # nothing attached
    assert value(s, "cxl_port_supported_logical_devices", port="0") == 0   # the USP


def test_firmware_slots_staged_and_the_last_slot(devices):
    c = Collector(["emu:type3"], opener=devices)
    c.samples()
    dev = devices.device("emu:type3")
    dev.fw_slots[1:] = ["EMU FW 2.0.0", "EMU FW 3.0.0"]
    dev.fw_staged = 3
    c.refresh()
    s = c.samples()
    assert value(s, "cxl_firmware_slots") == 3
    assert value(s, "cxl_firmware_active_slot") == 1
    assert value(s, "cxl_firmware_staged_slot") == 3
    slots = sorted((labels["slot"], labels["revision"], labels["active"], labels["staged"])
                   for n, labels, v in s if n == "cxl_firmware_slot_info")
    assert slots == [("1", "EMU FW 1.0.0", "true", "false"),
                     ("2", "EMU FW 2.0.0", "false", "false"),
                     ("3", "EMU FW 3.0.0", "false", "true")]


def test_a_broken_connection_is_down_and_reopened_at_the_next_collection(devices):
    clock = Clock()
    c = Collector(["emu:type3"], interval=1, opener=devices, clock=clock)
    assert value(c.samples(), "cxl_up") == 1

    def broken(*args, **kwargs):
        raise TransportError("connection reset by peer")
    devices.eps["emu:type3"].transport.send = broken
    clock.now += 2
    s = c.samples()
    assert value(s, "cxl_up") == 0 and value(s, "cxl_scrape_errors_total") == 1
    assert "connection reset by peer" in c.errors()["emu:type3"]
    assert {n for n, labels, v in s} == {"cxl_up", "cxl_scrape_duration_seconds",
                                         "cxl_scrape_errors_total",
                                         "cxl_last_scrape_timestamp_seconds"}
    clock.now += 2
    s = c.samples()
    assert devices.opened == ["emu:type3", "emu:type3"]       # a new connection
    assert value(s, "cxl_up") == 1 and value(s, "cxl_temperature_celsius") == 35


def test_a_kernel_switch_is_asked_no_memory_device_commands(monkeypatch):
    s, sent = _kernel_samples(monkeypatch, "switch0", "switch", 0x5357)
    assert not [op for op in sent if 0x4000 <= op < 0x5000], sorted(hex(op) for op in sent)
    assert {labels["type"] for n, labels, v in s if "type" in labels} == {"switch"}
    assert value(s, "cxl_up") == 1


def test_a_switch_with_firmware_info_names_its_firmware_in_device_info(devices):
    from cxlmi_bindings.emulator.device import reply

    def opener(target, timeout):
        ep = devices(target, timeout)
        ep.transport.device.cmd_get_fw_info = lambda: reply(
            "get_fw_info", slots_supported=2, slot_info=0x01, fw_rev1=b"SW FW 4.2")
        return ep
    s = Collector(["emu:switch"], opener=opener).samples()
    (info,) = [labels for n, labels, v in s if n == "cxl_device_info"]
    assert info["firmware"] == "SW FW 4.2" and info["type"] == "switch"
    assert value(s, "cxl_firmware_active_slot") == 1


def test_once_with_listen_is_refused_rather_than_serving_nothing():
    # --once --listen 127.0.0.1:0 printed the metrics and ignored --listen without a word
    res = invoke(["exporter", "--once", "--listen", "127.0.0.1:0", "emu:type3"])
    assert res.exit_code == 2 and res.stdout == ""
    assert "--once collects once and prints (or writes --textfile) the metrics; --listen " \
        "serves them: give one of them" in res.stderr
