# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fwctl transport, tested at its one seam: the ioctl call.

``FakeFwctl`` stands in for ``ioctl(2)`` on /dev/fwctl/fwctlN and behaves as
Linux 6.15's fwctl core and CXL driver do (drivers/fwctl/main.c,
drivers/cxl/core/features.c): FWCTL_INFO's size and flags checks and the CXL
device type; FWCTL_RPC's size limit and scopes (the full debug scope needs
CAP_SYS_RAWIO), the CXL RPC header (opcode, flags, op_size, reserved), only
the three Feature commands, op_size checks, the Supported Feature Entries it
cached at probe time with the kernel's own RAS Features shown as not
changeable (set size 0), Set Feature refused at too low a scope (EINVAL) and on
the kernel's own Features (EPERM), the saved-across-reset flag it always sets,
and how it copies at most ``out_len`` bytes out and reports what it had.
Behind the "kernel" is the emulated Type 3 device, reached with CCI messages as
a mailbox would be.  Structures are packed here from the uapi headers' layouts
(``fwctl.h``, ``fwctl/cxl.h``, ``cxl/features.h``), not with the module's own.
"""

import ctypes
import errno
import json
import os
import struct

import pytest

from cxlmi_bindings import Context, cci, discovery, targets, uuids
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.t3_features import Feature
from cxlmi_bindings.errors import (DeviceError, DeviceNotFound, NotSupported,
                                   PermissionDenied, UsageError)
from cxlmi_bindings.transports import fwctl as mod
from cxlmi_bindings.transports import open_transport
from cli_helpers import both, invoke

FWCTL_INFO, FWCTL_RPC = 0x9A00, 0x9A01            # _IO(0x9A, 0), _IO(0x9A, 1) on x86/arm
RAS = [uuids.wire(uuids.FEATURE[n]) for n in (
    "patrol-scrub", "ecs", "sppr", "hppr", "cacheline-sparing", "row-sparing",
    "bank-sparing", "rank-sparing")]
VENDOR_UUID = bytes(range(0xA0, 0xB0))


class VendorFeature(Feature):
    """A Feature the kernel leaves to user space: 2 bytes, written whole."""
    uuid = VENDOR_UUID
    attributes = 1 | 1 << 6                         # changeable, saved selection
    read_size = write_size = 2

    def __init__(self, effects):
        self.set_effects = effects
        super().__init__()

    def initial(self):
        return b"\x00\x00"

    def apply(self, value, data):
        return bytes(data)


class FakeFwctl:
    def __init__(self, device=None, device_type=2, rawio=True, extra_out=0):
        self.device = device or profiles.build("type3")
        self.device_type = device_type
        self.rawio = rawio
        self.extra_out = extra_out
        self.calls = []          # (request, argument bytes as passed)
        self.rpcs = []           # decoded struct fwctl_rpc + CXL header + payload
        self.tag = 0
        # what the CXL driver caches when it probes the device
        rc, body = self.mailbox(0x0500, struct.pack("<IH2x", 4096, 0))
        n = struct.unpack_from("<H", body)[0]
        self.entries = [bytes(body[8 + 48 * i:8 + 48 * (i + 1)]) for i in range(n)]

    def mailbox(self, opcode, payload):
        self.tag = (self.tag + 1) & 0xFF
        rsp = self.device.handle(cci.encode(opcode, payload, tag=self.tag))
        hdr = cci.decode_header(rsp)
        return hdr.return_code, bytes(rsp[cci.HEADER_SIZE:])

    def __call__(self, fd, request, buf):
        self.calls.append((request, bytes(buf)))
        if request == FWCTL_INFO:
            return self._info(buf)
        if request == FWCTL_RPC:
            return self._rpc(buf)
        raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")

    def _info(self, buf):
        size, flags, _, data_len, data_ptr = struct.unpack("=IIIIQ", bytes(buf))
        if size < 24:
            raise OSError(errno.EINVAL, "Invalid argument")
        if flags:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        struct.pack_into("=II", buf, 8, self.device_type, 0)
        return 0

    def _entry(self, uuid):
        for e in self.entries:
            if e[:16] == uuid:
                return e
        return None

    def _rpc(self, buf):
        size, scope, in_len, out_len, in_ptr, out_ptr = struct.unpack("=IIIIQQ", bytes(buf))
        if size < 32:
            raise OSError(errno.EINVAL, "Invalid argument")
        if in_len > 2 << 20 or out_len > 2 << 20:
            raise OSError(errno.EMSGSIZE, "Message too long")
        if scope > 3:
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        if scope == 3 and not self.rawio:
            raise OSError(errno.EPERM, "Operation not permitted")
        data = ctypes.string_at(in_ptr, in_len)
        opcode, flags, op_size, reserved = struct.unpack_from("=IIII", data)
        payload = data[16:16 + op_size]
        self.rpcs.append(dict(scope=scope, in_len=in_len, out_len=out_len, opcode=opcode,
                              flags=flags, op_size=op_size, reserved=reserved,
                              payload=payload))
        if opcode == 0x0500:
            out = self._supported(op_size, payload)
        elif opcode == 0x0501:
            out = self._get(op_size, payload)
        elif opcode == 0x0502:
            out = self._set(op_size, payload, scope)
        else:
            raise OSError(errno.EINVAL, "Invalid argument")
        out += bytes(self.extra_out)
        n = min(out_len, len(out))
        if n:
            ctypes.memmove(out_ptr, out, n)
        struct.pack_into("=I", buf, 12, len(out))
        return 0

    def _supported(self, op_size, payload):
        if op_size != 8:
            raise OSError(errno.EINVAL, "Invalid argument")
        count, start = struct.unpack_from("<IH", payload)
        if start >= len(self.entries):
            raise OSError(errno.EINVAL, "Invalid argument")
        chosen = []
        for e in self.entries[start:start + min(count // 48, len(self.entries) - start)]:
            if e[:16] in RAS:                       # the kernel's own: not changeable
                e = bytearray(e)
                struct.pack_into("<H", e, 20, 0)
                struct.pack_into("<I", e, 22, struct.unpack_from("<I", e, 22)[0] & ~1)
                e = bytes(e)
            chosen.append(e)
        body = struct.pack("<HH4x", len(chosen), len(self.entries)) + b"".join(chosen)
        return struct.pack("=II", len(body), 0) + body

    def _get(self, op_size, payload):
        if op_size != 21:
            raise OSError(errno.EINVAL, "Invalid argument")
        if struct.unpack_from("<H", payload, 18)[0] == 0:
            raise OSError(errno.EINVAL, "Invalid argument")
        rc, body = self.mailbox(0x0501, payload)
        if rc or not body:
            return struct.pack("=II", 0, rc)
        return struct.pack("=II", len(body), 0) + body

    def _set(self, op_size, payload, scope):
        entry = self._entry(payload[:16]) if op_size >= 16 else None
        if entry is None or not struct.unpack_from("<I", entry, 22)[0] & 1:
            raise OSError(errno.EINVAL, "Invalid argument")
        effects = struct.unpack_from("<H", entry, 28)[0]
        immediate, after_reset = effects & 0x1E, effects & 0xC01
        if effects & 0xF000 or effects & 0x40 or not (immediate or after_reset):
            raise OSError(errno.EINVAL, "Invalid argument")     # not comprehended
        if not ((immediate and scope >= 3) or (not immediate and scope >= 2)):
            raise OSError(errno.EINVAL, "Invalid argument")
        if op_size <= 32:
            raise OSError(errno.EINVAL, "Invalid argument")
        if payload[:16] in RAS:
            raise OSError(errno.EPERM, "Operation not permitted")
        flags = (struct.unpack_from("<I", payload, 16)[0] & ~0x7) | 0x8   # full, saved
        rc, _ = self.mailbox(0x0502, payload[:16] + struct.pack("<I", flags) + payload[20:])
        return struct.pack("=II", 0, rc)


@pytest.fixture
def tree(tmp_path):
    """/dev/fwctl with fwctl0 (of mem0, a CXL memdev) and fwctl1 (of a PCI NIC)."""
    dev = tmp_path / "dev" / "fwctl"
    dev.mkdir(parents=True)
    for name in ("fwctl0", "fwctl1", "fwctl10"):
        (dev / name).write_bytes(b"")
    devices = tmp_path / "sys" / "devices"
    mem0 = devices / "platform" / "ACPI0017:00" / "root0" / "port1" / "endpoint2" / "mem0"
    mem0.mkdir(parents=True)
    (mem0 / "payload_max").write_text("1024\n")
    mem3 = devices / "platform" / "ACPI0017:00" / "root0" / "mem3"
    mem3.mkdir(parents=True)
    nic = devices / "pci0000:00" / "0000:00:01.0"
    nic.mkdir(parents=True)
    cls = tmp_path / "sys" / "class" / "fwctl"
    for name, parent in (("fwctl0", mem0), ("fwctl1", nic), ("fwctl10", mem3)):
        (cls / name).mkdir(parents=True)
        os.symlink(str(parent), str(cls / name / "device"))
    return str(dev), str(cls)


def open_node(tree, kernel, devname="fwctl0"):
    dev, sysfs = tree
    return mod.FwctlTransport(devname, dev_root=dev, sysfs_root=sysfs, ioctl=kernel)


def endpoint(ctx, transport):
    return ctx.open_transport(transport, "fwctl:0")


# -- numbers and layouts -------------------------------------------------------------

def test_ioctl_numbers_are_the_uapi_values():
    assert (mod.FWCTL_INFO, mod.FWCTL_RPC) == (FWCTL_INFO, FWCTL_RPC)


def test_on_architectures_with_three_direction_bits_io_sets_the_none_bit(monkeypatch):
    import importlib.util
    import platform
    from cxlmi_bindings.transports import ioctl
    monkeypatch.setattr(platform, "machine", lambda: "ppc64le")
    spec = importlib.util.spec_from_file_location(
        "cxlmi_bindings.transports._ioctl_on_ppc", ioctl.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    assert copy._ioc(copy._IOC_NONE, 0x9A, 1, 0) == 0x20009A01


def test_structure_sizes_are_the_uapi_ones():
    assert (mod.INFO.size, mod.RPC.size, mod.CXL_RPC_IN.size, mod.CXL_RPC_OUT.size) == \
        (24, 32, 16, 8)


# -- opening -------------------------------------------------------------------------

def test_a_kernel_without_fwctl_is_said_to_be_one(tmp_path):
    with pytest.raises(DeviceNotFound) as err:
        mod.FwctlTransport("fwctl0", dev_root=str(tmp_path / "fwctl"), ioctl=FakeFwctl())
    assert "this kernel offers no fwctl: it takes Linux 6.15 or later" in str(err.value)
    assert err.value.exit_code == 3 and "cxl-mi list" in err.value.hint


def test_a_missing_node_on_a_kernel_with_fwctl_says_to_look(tree):
    with pytest.raises(DeviceNotFound) as err:
        open_node(tree, FakeFwctl(), "fwctl7")
    assert "no such fwctl device (`ls %s`" % tree[0] in str(err.value)


def test_open_asks_fwctl_info_with_its_size_and_no_flags(tree):
    kernel = FakeFwctl()
    t = open_node(tree, kernel)
    (request, arg), = kernel.calls
    assert request == FWCTL_INFO and struct.unpack("=IIIIQ", arg) == (24, 0, 0, 0, 0)
    assert (t.memdev, t.max_payload) == ("mem0", 1024)
    assert t.info()["device_type"] == "cxl"
    t.close()


def test_another_drivers_fwctl_device_is_refused_by_name(tree):
    with pytest.raises(NotSupported) as err:
        open_node(tree, FakeFwctl(device_type=1), "fwctl1")
    assert "belongs to the mlx5 fwctl driver, not to CXL" in str(err.value)


def test_a_node_that_is_not_fwctl(tree):
    def not_fwctl(fd, request, buf):
        raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
    with pytest.raises(NotSupported) as err:
        open_node(tree, not_fwctl)
    assert "it is not a fwctl device node" in str(err.value)


def test_open_without_permission_says_run_as_root(tree, monkeypatch):
    def denied(path, flags):
        raise PermissionError(errno.EACCES, "Permission denied", path)
    monkeypatch.setattr(mod.os, "open", denied)
    with pytest.raises(PermissionDenied) as err:
        open_node(tree, FakeFwctl())
    assert err.value.exit_code == 4 and "root" in err.value.hint


def test_the_backend_registry_and_the_target_forms_reach_it(tree):
    for text in ("fwctl:0", "/dev/fwctl/fwctl0", "fwctl:fwctl0", "fwctl0"):
        assert targets.parse(text) == ("fwctl", {"devname": "fwctl0"})
    with pytest.raises(UsageError):
        targets.parse("fwctl:zero")
    assert targets.parse("fwctl:01") == ("fwctl", {"devname": "fwctl1"})   # N is a number
    dev, sysfs = tree
    t = open_transport("fwctl", devname="fwctl0", dev_root=dev, sysfs_root=sysfs,
                       ioctl=FakeFwctl())
    assert t.describe() == "Linux fwctl %s/fwctl0" % dev
    t.close()


# -- the three commands ----------------------------------------------------------------

def test_get_supported_features_goes_as_a_cxl_rpc_at_configuration_scope(tree):
    kernel = FakeFwctl()
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        rsp = ep.get_supported_features(count=1024, starting_feature_index=0)
    rpc = kernel.rpcs[-1]
    assert (rpc["opcode"], rpc["flags"], rpc["op_size"], rpc["reserved"], rpc["scope"]) == \
        (0x0500, 0, 8, 0, 0)
    assert rpc["in_len"] == 16 + 8 and rpc["payload"] == struct.pack("<IH2x", 1024, 0)
    assert rpc["out_len"] >= 8 + 8 + 8 * 48
    assert rsp.num_supported_feature_entries == rsp.device_supported_features == 8
    # the kernel's own Features: not changeable, nothing to set
    assert all(not e.attribute_flags & 1 and e.set_feature_size == 0
               for e in rsp.supported_feature_entries[:8])


def test_get_feature_reads_the_devices_value(tree):
    kernel = FakeFwctl()
    kernel.device.features[0].current = b"\x03\x30\x01\x01"
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        data = ep.get_feature(feature_id=RAS[0], offset=0, count=4, selection=0)
    assert data == b"\x03\x30\x01\x01"
    rpc = kernel.rpcs[-1]
    assert (rpc["opcode"], rpc["op_size"], rpc["out_len"]) == (0x0501, 21, 8 + 4)


def test_a_device_return_code_comes_back_as_the_commands(tree):
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, FakeFwctl()))
        with pytest.raises(DeviceError) as info:
            ep.get_feature(feature_id=RAS[0], offset=0, count=4, selection=3)
    assert info.value.name == "FEATURESELVALUE"


@pytest.mark.parametrize("effects, scope", [(0x0202, 3), (0x0201, 2)])
def test_set_feature_asks_the_lowest_scope_its_effects_allow(tree, effects, scope):
    device = profiles.build("type3")
    device.features.append(VendorFeature(effects))
    kernel = FakeFwctl(device)
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        ep.get_supported_features(count=1024, starting_feature_index=0)
        ep.set_feature(feature_id=VENDOR_UUID, version=1, feature_data=b"\x12\x34")
    rpc = kernel.rpcs[-1]
    assert (rpc["opcode"], rpc["scope"], rpc["op_size"]) == (0x0502, scope, 32 + 2)
    assert kernel.device.features[-1].current == b"\x12\x34"
    assert kernel.device.features[-1].saved == b"\x12\x34"      # the kernel saves it


def test_set_feature_before_the_effects_are_known_asks_the_full_scope(tree):
    device = profiles.build("type3")
    device.features.append(VendorFeature(0x0201))
    kernel = FakeFwctl(device, rawio=False)
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        with pytest.raises(PermissionDenied) as err:
            ep.set_feature(feature_id=VENDOR_UUID, version=1, feature_data=b"\x12\x34")
    assert "needs CAP_SYS_RAWIO" in str(err.value)
    assert kernel.rpcs == [] and kernel.device.features[-1].current == b"\x00\x00"


def test_the_kernels_own_feature_written_at_full_scope_is_eperm_in_words(tree):
    kernel = FakeFwctl()
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        with pytest.raises(PermissionDenied) as err:
            ep.set_feature(feature_id=RAS[0], version=1, feature_data=b"\x0c\x01")
    assert "the RAS Features (patrol scrub, ECS, PPR, memory sparing) are the kernel's own" \
        in str(err.value)
    assert "/sys/bus/edac/devices/cxl_memN/" in err.value.hint


def test_other_opcodes_are_not_sent_and_point_at_the_memdev(tree):
    kernel = FakeFwctl()
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        with pytest.raises(NotSupported) as err:
            ep.memdev_get_health_info()
    assert "fwctl carries only Get Supported Features, Get Feature and Set Feature" \
        in str(err.value)
    assert "(mem0)" in err.value.hint and kernel.rpcs == []


def test_fm_api_cannot_be_enabled_on_fwctl(tree):
    import cxlmi_bindings as cxlmi
    kernel = FakeFwctl()
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        assert not cxlmi.cxlmi_endpoint_has_fmapi(ep)
        assert cxlmi.cxlmi_endpoint_enable_fmapi(ep) is False     # as libcxlmi on ioctl
        assert not cxlmi.cxlmi_endpoint_has_fmapi(ep)
        with pytest.raises(NotSupported) as err:
            ep.fmapi_identify_sw_device()
    assert "FM-API commands are not enabled on this endpoint" in str(err.value)
    assert kernel.rpcs == []


def test_a_reply_longer_than_the_buffer_is_asked_again_in_full(tree):
    kernel = FakeFwctl(extra_out=64)
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        data = ep.get_feature(feature_id=RAS[0], offset=0, count=4, selection=0)
    assert data == kernel.device.features[0].current
    assert [r["out_len"] for r in kernel.rpcs] == [12, 12 + 64]


def test_get_supported_features_is_one_call_when_the_buffer_fits_the_reply(tree):
    kernel = FakeFwctl()
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, kernel))
        rsp = ep.get_supported_features(count=8 * 48, starting_feature_index=0)
    assert rsp.num_supported_feature_entries == 8
    assert [r["out_len"] for r in kernel.rpcs] == [8 + 8 + 8 * 48]


def rpc_answering(out):
    """An ioctl whose FWCTL_INFO is a CXL device's and whose FWCTL_RPC answers ``out``
    (the CXL reply header and payload as the kernel would copy it)."""
    kernel = FakeFwctl()

    def ioctl(fd, request, buf):
        if request != FWCTL_RPC:
            return kernel(fd, request, buf)
        _, _, _, out_len, _, out_ptr = struct.unpack("=IIIIQQ", bytes(buf))
        ctypes.memmove(out_ptr, out, min(out_len, len(out)))
        struct.pack_into("=I", buf, 12, len(out))
        return 0
    return ioctl


def test_a_reply_shorter_than_the_cxl_reply_header_is_an_error(tree):
    from cxlmi_bindings.errors import TransportError
    t = open_node(tree, rpc_answering(b"\x00\x00\x00\x00"))
    with pytest.raises(TransportError) as err:
        t.send(cci.encode(0x0500, struct.pack("<IH2x", 64, 0)))
    assert "the kernel returned 4 bytes, less than the 8-byte CXL reply header" in str(err.value)


def test_a_failed_commands_reply_carries_no_payload(tree):
    t = open_node(tree, rpc_answering(struct.pack("=II", 4, 0x0F) + b"junk"))
    rsp = t.send(cci.encode(0x0501, RAS[0] + struct.pack("<HHB", 0, 4, 0), tag=6))
    hdr = cci.decode_header(rsp)
    assert (hdr.return_code, hdr.tag, hdr.payload_length) == (0x0F, 6, 0)
    assert len(rsp) == cci.HEADER_SIZE


def test_a_mailbox_timeout_from_the_kernel_is_a_timeout(tree):
    from cxlmi_bindings.errors import CommandTimeout

    def slow(fd, request, buf):
        if request == FWCTL_RPC:
            raise OSError(errno.ETIMEDOUT, "Connection timed out")
        return FakeFwctl()(fd, request, buf)
    t = open_node(tree, slow)
    with pytest.raises(CommandTimeout) as err:
        t.send(cci.encode(0x0500, struct.pack("<IH2x", 64, 0)))
    assert err.value.exit_code == 5
    assert "Get Supported Features (0500h): the mailbox timed out" in str(err.value)


def test_a_request_larger_than_fwctl_takes_is_a_usage_error(tree):
    def too_big(fd, request, buf):
        if request == FWCTL_RPC:
            raise OSError(errno.EMSGSIZE, "Message too long")
        return FakeFwctl()(fd, request, buf)
    t = open_node(tree, too_big)
    with pytest.raises(UsageError, match=r"Set Feature \(0502h\): the request is larger than "
                                         r"fwctl takes \(EMSGSIZE\)"):
        t.send(cci.encode(0x0502, VENDOR_UUID + bytes(16) + b"\x12\x34"))


def test_a_zero_payload_max_in_sysfs_falls_back_to_2048(tree):
    dev, sysfs = tree
    with open(os.path.join(sysfs, "fwctl0", "device", "payload_max"), "w") as f:
        f.write("0\n")
    assert open_node(tree, FakeFwctl()).max_payload == 2048


def test_einval_from_the_kernel_is_explained(tree):
    def refusing(fd, request, buf):
        if request == FWCTL_RPC:
            raise OSError(errno.EINVAL, "Invalid argument")
        return FakeFwctl()(fd, request, buf)
    with Context() as ctx:
        ep = endpoint(ctx, open_node(tree, refusing))
        with pytest.raises(NotSupported) as err:
            ep.get_supported_features(count=1024, starting_feature_index=0)
    assert "the kernel refused the call (EINVAL)" in str(err.value)


# -- discovery and the CLI ---------------------------------------------------------------

def test_discovery_lists_the_cxl_fwctl_devices_only_in_natural_order(tree):
    dev, sysfs = tree
    got = discovery.scan_fwctl(dev, sysfs)
    assert [(f["target"], f["memdev"]) for f in got] == [("fwctl:0", "mem0"),
                                                         ("fwctl:10", "mem3")]



def test_discovery_takes_only_fwctl_nodes_named_fwctl_and_a_number(tree):
    dev, sysfs = tree
    mem0 = os.path.realpath(os.path.join(sysfs, "fwctl0", "device"))
    for name in ("fwctl", "fwctlx", "fwctl0.old"):
        with open(os.path.join(dev, name), "wb"):
            pass
        os.makedirs(os.path.join(sysfs, name))
        os.symlink(mem0, os.path.join(sysfs, name, "device"))   # even of a CXL memdev
    got = discovery.scan_fwctl(dev, sysfs)
    assert [f["devname"] for f in got] == ["fwctl0", "fwctl10"]

@pytest.fixture
def cli_on_fwctl(tree, monkeypatch):
    from cxlmi_cli import commands as cli_commands
    kernel = FakeFwctl()
    monkeypatch.setattr(mod.FwctlTransport.__init__, "__defaults__", (tree[0], tree[1], kernel))
    monkeypatch.setattr(discovery.scan_fwctl, "__defaults__", tree)
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    cli_commands.reset()
    yield kernel
    cli_commands.reset()


def test_cxl_mi_list_shows_the_fwctl_target(cli_on_fwctl):
    res = invoke(["list", "--no-mctp", "--json"])
    assert res.exit_code == 0, both(res)
    got = json.loads(res.stdout)["fwctl"]
    assert [f["target"] for f in got] == ["fwctl:0", "fwctl:10"]
    table = invoke(["list", "--no-mctp"])
    assert "fwctl:0" in table.stdout and "mem0" in table.stdout


def test_cxl_mi_list_on_a_kernel_without_fwctl_says_why(cli_on_fwctl, monkeypatch, tmp_path):
    monkeypatch.setattr(discovery.scan_fwctl, "__defaults__",
                        (str(tmp_path / "none"), str(tmp_path / "none")))
    res = invoke(["list", "--no-mctp", "--json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 0 and doc["fwctl"] == []
    assert any("this kernel offers no fwctl" in n for n in doc["notes"])


def test_features_list_and_get_through_fwctl(cli_on_fwctl):
    res = invoke(["memdev", "features", "list", "fwctl:0", "--json"])
    assert res.exit_code == 0, both(res)
    got = json.loads(res.stdout)["result"]["features"]
    assert [f["name"] for f in got][:2] == ["patrol-scrub", "ecs"]
    assert not any(f["attribute_flags_decoded"]["changeable"] for f in got)
    res = invoke(["memdev", "features", "get", "fwctl:0", "ecs", "--json"])
    assert res.exit_code == 0, both(res)
    frus = json.loads(res.stdout)["result"]["attributes"]["fru_attrs"]
    assert len(frus) == 3


def test_features_set_through_fwctl_is_refused_before_set_feature(cli_on_fwctl):
    res = invoke(["memdev", "features", "set", "/dev/fwctl/fwctl0", "patrol-scrub",
                  "--enabled", "yes"])
    assert res.exit_code == 2, both(res)
    assert "reports the patrol-scrub Feature as not changeable" in res.stderr
    assert "/sys/bus/edac/devices/cxl_memN/" in res.stderr
    assert 0x0502 not in [r["opcode"] for r in cli_on_fwctl.rpcs]


def test_a_command_fwctl_does_not_carry_is_exit_3_naming_the_memdev(cli_on_fwctl):
    res = invoke(["memdev", "get-health-info", "fwctl:0"])
    assert res.exit_code == 3, both(res)
    assert "fwctl carries only" in res.stderr and "mem0" in res.stderr


def test_a_response_or_a_closed_node_is_refused_before_the_kernel(tree):
    from cxlmi_bindings.errors import TransportError, UsageError
    kernel = FakeFwctl()
    t = open_node(tree, kernel)
    asked = len(kernel.rpcs)
    with pytest.raises(UsageError, match="fwctl transport: message category 1 is not a request"):
        t.send(cci.encode(0x0500, struct.pack("<IH2x", 64, 0), category=cci.CATEGORY_RESPONSE))
    t.close()
    with pytest.raises(TransportError, match="transport is closed"):
        t.send(cci.encode(0x0500, struct.pack("<IH2x", 64, 0)))
    assert len(kernel.rpcs) == asked
