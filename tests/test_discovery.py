# SPDX-License-Identifier: LGPL-2.1-or-later
"""Discovery: /dev/cxl + sysfs against a temporary tree, and mctpd over a
real private dbus-daemon serving a fake mctpd in both of its D-Bus layouts."""

import os
import sys
import threading

import pytest

from cxlmi_bindings import discovery
from cxlmi_bindings.errors import DeviceNotFound, NotSupported, TransportError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "dbus"))
import cxlmi_dbus_fixtures as fx  # noqa: E402


# -- /dev/cxl and sysfs ------------------------------------------------------------

def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")


@pytest.fixture
def cxl_tree(tmp_path):
    dev = tmp_path / "dev" / "cxl"
    sysfs = tmp_path / "sys" / "bus" / "cxl" / "devices"
    dev.mkdir(parents=True)
    for name in ("mem10", "mem2", "mem0", "switch0", "unknown0"):
        (dev / name).write_bytes(b"")
    (dev / "mem3").mkdir()  # not a node
    m0 = sysfs / "mem0"
    _write(m0 / "serial", "0xc0ffee0000000001")
    _write(m0 / "firmware_version", "BWFW VERSION 00")
    _write(m0 / "payload_max", "2048")
    _write(m0 / "label_storage_size", "262144")
    _write(m0 / "ram" / "size", "0x0")
    _write(m0 / "pmem" / "size", "0x10000000")
    _write(m0 / "numa_node", "-1")
    m2 = sysfs / "mem2"
    _write(m2 / "serial", "0x2")
    _write(m2 / "payload_max", "256")
    _write(m2 / "ram" / "size", "0x40000000")
    return str(dev), str(sysfs)


def test_scan_devices_lists_memdevs_and_switches_in_natural_order(cxl_tree):
    dev, sysfs = cxl_tree
    found = discovery.scan_devices(dev, sysfs)
    assert [d["devname"] for d in found] == ["mem0", "mem2", "mem10", "switch0"]
    assert [d["kind"] for d in found] == ["memdev", "memdev", "memdev", "switch"]
    assert found[0]["path"] == os.path.join(dev, "mem0")
    assert found[0]["target"] == "mem0"


def test_scan_devices_reads_sysfs_facts(cxl_tree):
    dev, sysfs = cxl_tree
    mem0, mem2, mem10, _ = discovery.scan_devices(dev, sysfs)
    assert mem0["serial"] == 0xC0FFEE0000000001
    assert mem0["firmware_version"] == "BWFW VERSION 00"
    assert mem0["payload_max"] == 2048
    assert mem0["label_storage_size"] == 262144
    assert mem0["ram_size"] == 0
    assert mem0["pmem_size"] == 256 << 20
    assert mem0["numa_node"] == -1
    assert mem0["sysfs"] == os.path.join(sysfs, "mem0")
    # what sysfs does not say is None; numa_node only where the kernel has it
    assert mem2["ram_size"] == 1 << 30 and mem2["pmem_size"] is None
    assert mem2["firmware_version"] is None and "numa_node" not in mem2
    assert mem10["sysfs"] is None and mem10["serial"] is None


def test_scan_devices_without_dev_cxl_is_empty(tmp_path):
    assert discovery.scan_devices(str(tmp_path / "nothing"), str(tmp_path)) == []


def test_sysfs_facts_of_absent_device_are_none(tmp_path):
    facts = discovery.sysfs_facts("mem7", str(tmp_path))
    assert set(facts) == {"serial", "firmware_version", "payload_max", "label_storage_size",
                          "ram_size", "pmem_size"}
    assert all(v is None for v in facts.values())



def test_a_sysfs_number_in_hex_without_0x_is_read_as_hex(tmp_path):
    _write(tmp_path / "mem4" / "serial", "c0ffee")
    _write(tmp_path / "mem4" / "payload_max", "nonsense")
    facts = discovery.sysfs_facts("mem4", str(tmp_path))
    assert facts["serial"] == 0xC0FFEE
    assert facts["payload_max"] is None

# -- mctpd over D-Bus --------------------------------------------------------------

@pytest.fixture(scope="module")
def private_bus():
    pytest.importorskip("jeepney")
    daemon = fx.ensure_dbus_daemon()
    if daemon is None:
        pytest.skip("dbus-daemon is not installed (Debian package `dbus`; CI installs it)")
    bus = fx.PrivateBus(daemon)
    yield bus
    bus.stop()


@pytest.fixture
def mctpd(private_bus):
    started = []

    def start(layout, **kw):
        fake = fx.FakeMctpd(private_bus.address, layout, **kw)
        started.append(fake)
        return fake

    yield start
    for fake in started:
        fake.stop()


def _keys(endpoints):
    return [(e["net"], e["eid"]) for e in endpoints]


def test_scan_mctp_mctpd2_layout(private_bus, mctpd):
    fake = mctpd(fx.layout_v2())
    found = discovery.scan_mctp(bus=private_bus.address)
    # local EID 1:8, PLDM/SPDM-only endpoints are left out
    assert _keys(found) == [(1, 10), (1, 11), (2, 20)]
    ep = found[1]
    assert ep["object_path"] == "/au/com/codeconstruct/mctp1/networks/1/endpoints/11"
    assert ep["message_types"] == [0, 7, 8]
    assert ep["fmapi"] and ep["cci"]
    assert ep["uuid"] == fx.UUID_A
    assert ep["service"] == "au.com.codeconstruct.MCTP1" and ep["api"] == "mctpd-2"
    assert ep["connectivity"] == "Available"
    assert ep["target"] == "mctp:1,11"
    assert found[0]["cci"] and not found[0]["fmapi"]
    assert found[2]["uuid"] is None and found[2]["fmapi"] and not found[2]["cci"]
    # on the wire: one GetManagedObjects to the versioned root, nothing else
    assert fake.received == [{
        "path": "/au/com/codeconstruct/mctp1",
        "interface": "org.freedesktop.DBus.ObjectManager",
        "member": "GetManagedObjects",
        "destination": "au.com.codeconstruct.MCTP1",
        "signature": "",
    }]


def test_scan_mctp_mctpd1_layout(private_bus, mctpd):
    fake = mctpd(fx.layout_v1())
    found = discovery.scan_mctp(bus=private_bus.address)
    assert _keys(found) == [(1, 8), (1, 10), (2, 30)]
    assert found[0]["object_path"] == "/xyz/openbmc_project/mctp/1/8"
    assert found[0]["uuid"] == fx.UUID_A
    assert found[0]["api"] == "mctpd-1"
    assert found[0]["connectivity"] is None
    assert [m["path"] for m in fake.received] == ["/xyz/openbmc_project/mctp"]
    assert fake.received[0]["destination"] == "xyz.openbmc_project.MCTP"
    assert fake.received[0]["member"] == "GetManagedObjects"


def test_scan_mctp_accepts_unsigned_network_id_of_later_1x(private_bus, mctpd):
    mctpd(fx.layout_v1(net_sig="u"))
    assert _keys(discovery.scan_mctp(bus=private_bus.address)) == [(1, 8), (1, 10), (2, 30)]


def test_scan_mctp_all_types_keeps_every_endpoint(private_bus, mctpd):
    mctpd(fx.layout_v2())
    found = discovery.scan_mctp(bus=private_bus.address, cxl_only=False)
    assert _keys(found) == [(1, 8), (1, 10), (1, 11), (1, 12), (2, 20)]
    assert found[0]["local"] is True and not any(e["local"] for e in found[1:])


def test_scan_mctp_uses_the_system_bus_by_default(private_bus, mctpd, monkeypatch):
    mctpd(fx.layout_v2())
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", private_bus.address)
    assert _keys(discovery.scan_mctp()) == [(1, 10), (1, 11), (2, 20)]


def test_scan_mctp_without_mctpd_says_so(private_bus):
    with pytest.raises(DeviceNotFound) as err:
        discovery.scan_mctp(bus=private_bus.address)
    assert "au.com.codeconstruct.MCTP1" in str(err.value)
    assert "xyz.openbmc_project.MCTP" in str(err.value)
    assert "mctpd" in err.value.hint


def test_scan_mctp_reports_a_dbus_error_reply(private_bus, mctpd):
    mctpd(fx.layout_v2(), fail_with="org.freedesktop.DBus.Error.AccessDenied")
    with pytest.raises(TransportError) as err:
        discovery.scan_mctp(bus=private_bus.address)
    assert "AccessDenied" in str(err.value)
    assert "GetManagedObjects" in str(err.value)
    assert str(err.value).endswith("AccessDenied: fake mctpd was told to fail")  # its words


def test_a_peer_that_never_answers_is_given_up_on_after_the_timeout(private_bus):
    from jeepney.bus_messages import message_bus
    from jeepney.io.blocking import open_dbus_connection
    from cxlmi_bindings import _dbus
    silent = open_dbus_connection(bus=private_bus.address)      # owns a name, reads nothing
    try:
        silent.send_and_get_reply(message_bus.RequestName("com.example.Silent"))
        caught = []

        def ask():                    # in a thread: a lost timeout fails here, not hangs
            with _dbus.Bus(private_bus.address, timeout=0.2) as bus:
                try:
                    bus.get_managed_objects("com.example.Silent", "/")
                except TransportError as exc:
                    caught.append(exc)
        asker = threading.Thread(target=ask, daemon=True)
        asker.start()
        asker.join(10)
        assert not asker.is_alive(), "no timeout: still waiting for the silent peer"
        assert len(caught) == 1
        assert "GetManagedObjects: no reply within 0.2 s" in str(caught[0])
    finally:
        silent.close()


def test_scan_mctp_without_a_bus_raises_transport_error(tmp_path):
    pytest.importorskip("jeepney")
    with pytest.raises(TransportError) as err:
        discovery.scan_mctp(bus="unix:path=%s" % (tmp_path / "no-bus"))
    assert "no D-Bus message bus reachable at unix:path=%s (no such file or directory)" % (
        tmp_path / "no-bus") in str(err.value)               # not "(FileNotFoundError: ...)"
    assert not isinstance(err.value, NotSupported)


def test_scan_mctp_without_jeepney_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "jeepney", None)
    monkeypatch.setitem(sys.modules, "jeepney.io", None)
    monkeypatch.setitem(sys.modules, "jeepney.io.blocking", None)
    with pytest.raises(NotSupported) as err:
        discovery.scan_mctp(bus="unix:path=/nonexistent")
    assert "pip install 'cxl-mi[dbus]'" in err.value.hint


def test_importing_these_modules_loads_neither_jeepney_nor_fcntl():
    import subprocess
    code = ("import sys, cxlmi_bindings\n"
            "assert 'jeepney' not in sys.modules\n"
            "before = set(sys.modules)\n"
            "import cxlmi_bindings.discovery, cxlmi_bindings._dbus\n"
            "import cxlmi_bindings.transports.ioctl, cxlmi_bindings.transports.mctp\n"
            "new = set(sys.modules) - before\n"
            "print(sorted(m for m in new if m.split('.')[0] in ('jeepney', 'fcntl')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_scan_mctp_skips_an_endpoint_without_network_or_eid(private_bus, mctpd):
    service, root, objects = fx.layout_v2()
    objects[root + "/networks/1/endpoints/13"] = {
        fx.EP: {"NetworkId": ("u", 1), "SupportedMessageTypes": ("ay", bytes([0, 8]))}}
    objects[root + "/networks/1/endpoints/14"] = {
        fx.EP: {"EID": ("y", 14), "SupportedMessageTypes": ("ay", bytes([0, 8]))}}
    mctpd((service, root, objects))
    assert _keys(discovery.scan_mctp(bus=private_bus.address)) == [(1, 10), (1, 11), (2, 20)]


def test_scan_mctp_prefers_mctpd2_where_both_layouts_list_an_endpoint(private_bus, mctpd):
    mctpd(fx.layout_v1())
    mctpd(fx.layout_v2())
    found = discovery.scan_mctp(bus=private_bus.address)
    # 1:8 is mctpd 2's own EID (left out), 1:10 is in both, the rest in one each
    assert _keys(found) == [(1, 10), (1, 11), (2, 20), (2, 30)]
    by_key = {(e["net"], e["eid"]): e for e in found}
    assert by_key[(1, 10)]["api"] == "mctpd-2"
    assert by_key[(1, 10)]["object_path"].startswith("/au/com/codeconstruct/mctp1/")
    assert by_key[(2, 30)]["api"] == "mctpd-1"
