# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Linux CXL ioctl transport, tested at its one seam: the ioctl call.

``FakeKernel`` stands in for ``ioctl(2)`` on /dev/cxl/memN and behaves as the
Linux 6.1 CXL core does (drivers/cxl/core/mbox.c): the QUERY table with empty
slots, SEND's checks on ids, reserved fields, enabled and exclusive commands,
fixed input/output sizes, the RAW path, and the way ``retval`` / ``out.size``
come back.  It reads our input payload and writes its output through the
pointers in the 48-byte structure, as the kernel does.
"""

import ctypes
import errno
import os
import struct
import types

import pytest

from cxlmi_bindings import cci
from cxlmi_bindings.errors import (DeviceNotFound, NotSupported, PermissionDenied,
                                   TransportError, UsageError)
from cxlmi_bindings.transports import ioctl as mod
from cxlmi_bindings.transports import open_transport

VAR = 0xFFFFFFFF
# Linux 6.1's table: id -> (opcode, size_in, size_out).  Id 2 (RAW) only
# with CONFIG_CXL_MEM_RAW_COMMANDS.
LINUX_61 = {
    1: (0x4000, 0, 0x43), 3: (0x0400, 0, VAR), 4: (0x0200, 0, 0x50),
    5: (0x4100, 0, 0x20), 6: (0x4102, 8, VAR), 7: (0x4200, 0, 0x12),
    8: (0x0401, 0x18, VAR), 9: (0x4101, 0x0A, 0), 10: (0x4103, VAR, 0),
    11: (0x4201, 0, 0x10), 12: (0x4202, 0x0C, 0), 13: (0x4203, 0, 1),
    14: (0x4204, 1, 0), 15: (0x4300, 0x10, VAR), 16: (0x4301, 8, 0),
    17: (0x4302, 0x48, 0), 18: (0x4303, 0x10, 4), 19: (0x4304, 0x11, 0),
    20: (0x4305, 0, VAR),
}
ID_MAX = 21
# What QEMU 7.2's type 3 device enables (its CEL), plus the kernel's force-enabled
FORCED = {1, 3, 8}
QEMU_ENABLED = FORCED | {4, 5, 6, 10}

# A stand-in registry: opcode -> (name, linux id)
REGISTRY = {
    0x4000: ("memdev_identify", 1), 0x0400: ("get_supported_logs", 3),
    0x0200: ("get_fw_info", 4), 0x4100: ("memdev_get_partition_info", 5),
    0x4102: ("memdev_get_lsa", 6), 0x4200: ("memdev_get_health_info", 7),
    0x0401: ("get_log", 8), 0x4101: ("memdev_set_partition_info", 9),
    0x4103: ("memdev_set_lsa", 10), 0x4204: ("memdev_set_shutdown_state", 14),
    0x0300: ("get_timestamp", None), 0x4400: ("memdev_sanitize", None),
    0x5300: ("fmapi_tunnel", None), 0x5100: ("fmapi_identify_sw_device", None),
    0x0301: ("set_timestamp", 21),  # an id this kernel's table does not have
}


REAL_REGISTRY_ENTRY = mod._registry_entry
REAL_RAW_CONFIGURED = mod._raw_commands_configured


def fake_entry(opcode):
    if opcode not in REGISTRY:
        return None
    name, linux_id = REGISTRY[opcode]
    return types.SimpleNamespace(name=name, opcode=opcode, linux_id=linux_id)


@pytest.fixture(autouse=True)
def fake_registry(monkeypatch):
    monkeypatch.setattr(mod, "_registry_entry", fake_entry)
    monkeypatch.setattr(mod, "_raw_commands_configured", lambda: None)


class FakeKernel:
    def __init__(self, raw=False, enabled=QEMU_ENABLED, exclusive=(), payload_size=2048,
                 device=None):
        self.raw = raw
        self.enabled = set(enabled)
        self.exclusive = set(exclusive)
        self.payload_size = payload_size
        self.device = device or (lambda opcode, payload: (0, b""))
        self.calls = []      # (request, argument bytes as passed)
        self.sent = []       # decoded SEND structures
        self.inputs = []     # input payload bytes the "kernel" read

    def table(self):
        rows = []
        for cid in range(ID_MAX):
            if cid == 2 and self.raw:
                rows.append((2, 0, VAR, VAR))
            elif cid in LINUX_61:
                _, sin, sout = LINUX_61[cid]
                rows.append((cid, 0, sin, sout))
            else:
                rows.append((0, 0, 0, 0))  # empty slot, as for RAW when not built in
        return rows

    def __call__(self, fd, request, buf):
        self.calls.append((request, bytes(buf)))
        if request == mod.CXL_MEM_QUERY_COMMANDS:
            return self._query(buf)
        if request == mod.CXL_MEM_SEND_COMMAND:
            return self._send(buf)
        raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")

    def _query(self, buf):
        n = struct.unpack_from("=I", buf)[0]
        rows = self.table()
        if n == 0:
            struct.pack_into("=I", buf, 0, len(rows))
            return 0
        for i, row in enumerate(rows[:n]):
            struct.pack_into("=IIII", buf, 8 + 16 * i, *row)
        return 0

    def _send(self, buf):
        (cid, flags, raw_op, raw_rsvd, retval, in_size, in_rsvd, in_ptr,
         out_size, out_rsvd, out_ptr) = struct.unpack("=IIHHIIIQIIQ", bytes(buf))
        self.sent.append(dict(id=cid, flags=flags, raw_opcode=raw_op, raw_rsvd=raw_rsvd,
                              in_size=in_size, in_ptr=in_ptr, out_size=out_size,
                              out_ptr=out_ptr, in_rsvd=in_rsvd, out_rsvd=out_rsvd))
        if cid == 0 or cid >= ID_MAX:
            raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
        if in_size > self.payload_size:
            raise OSError(errno.EINVAL, "Invalid argument")
        if cid == 2:
            if raw_rsvd or out_size > self.payload_size:
                raise OSError(errno.EINVAL, "Invalid argument")
            denied = (raw_op >> 8) in (0x44, 0x45, 0x46) or raw_op in (
                0x0202, 0x4101, 0x4103, 0x4204, 0x4304, 0x4305)
            if not self.raw or denied:
                raise OSError(errno.EPERM, "Operation not permitted")
            opcode = raw_op
        else:
            if flags & ~3 or raw_op or raw_rsvd or in_rsvd or out_rsvd:
                raise OSError(errno.EINVAL, "Invalid argument")
            if cid not in self.enabled:
                raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
            if cid in self.exclusive:
                raise OSError(errno.EBUSY, "Device or resource busy")
            opcode, sin, sout = LINUX_61[cid]
            if sin != VAR and sin != in_size:
                raise OSError(errno.ENOMEM, "Cannot allocate memory")
            if sout != VAR and out_size < sout:
                raise OSError(errno.ENOMEM, "Cannot allocate memory")
        payload = ctypes.string_at(in_ptr, in_size) if in_size else b""
        self.inputs.append(payload)
        rc, out = self.device(opcode, payload)
        if rc == 0:
            n = min(out_size, self.payload_size, len(out))
            if n:
                ctypes.memmove(out_ptr, out, n)
            out_size = n
        elif out_size:
            ctypes.memset(out_ptr, 0, out_size)  # size left as passed, buffer zeroed
        struct.pack_into("=I", buf, 12, rc)
        struct.pack_into("=I", buf, 32, out_size)
        return 0


@pytest.fixture
def node(tmp_path):
    """A stand-in /dev/cxl/mem0 (a plain file: the fake kernel answers its ioctls)."""
    dev = tmp_path / "dev"
    dev.mkdir()
    (dev / "mem0").write_bytes(b"")
    sysfs = tmp_path / "sys"
    (sysfs / "mem0" / "ram").mkdir(parents=True)
    (sysfs / "mem0" / "pmem").mkdir()
    (sysfs / "mem0" / "payload_max").write_text("2048\n")
    (sysfs / "mem0" / "serial").write_text("0x1234\n")
    (sysfs / "mem0" / "firmware_version").write_text("BWFW VERSION 00\n")
    (sysfs / "mem0" / "label_storage_size").write_text("131072\n")
    (sysfs / "mem0" / "ram" / "size").write_text("0x0\n")
    (sysfs / "mem0" / "pmem" / "size").write_text("0x10000000\n")
    return str(dev), str(sysfs)


def open_node(node, kernel, devname="mem0"):
    dev, sysfs = node
    return mod.IoctlTransport(devname, dev_root=dev, sysfs_root=sysfs, ioctl=kernel)


def request(opcode, payload=b"", tag=0x5A):
    return cci.encode(opcode, payload, tag=tag)


# -- numbers and layouts -------------------------------------------------------------

# What <linux/cxl_mem.h> gives CXL_MEM_QUERY_COMMANDS (_IOR(0xCE, 1, 8 bytes)) and
# CXL_MEM_SEND_COMMAND (_IOWR(0xCE, 2, 48 bytes)) on each family of architectures:
# asm-generic/ioctl.h, and the 3-direction-bit, 13-bit-size layout of powerpc, mips,
# sparc and alpha.
UAPI_NUMBERS = {
    "x86_64": (0x8008CE01, 0xC030CE02),
    "aarch64": (0x8008CE01, 0xC030CE02),
    "riscv64": (0x8008CE01, 0xC030CE02),
    "ppc64le": (0x4008CE01, 0xC030CE02),
    "mips64": (0x4008CE01, 0xC030CE02),
    "sparc64": (0x4008CE01, 0xC030CE02),
}


def ioctl_module_on(machine, monkeypatch):
    """A fresh copy of the ioctl module, imported as on ``machine``."""
    import importlib.util
    import platform
    monkeypatch.setattr(platform, "machine", lambda: machine)
    spec = importlib.util.spec_from_file_location(
        "cxlmi_bindings.transports._ioctl_on_%s" % machine, mod.__file__)
    copy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copy)
    return copy


@pytest.mark.parametrize("machine", sorted(UAPI_NUMBERS))
def test_ioctl_numbers_are_the_uapi_values_of_each_architecture(machine, monkeypatch):
    copy = ioctl_module_on(machine, monkeypatch)
    assert (copy.CXL_MEM_QUERY_COMMANDS, copy.CXL_MEM_SEND_COMMAND) == UAPI_NUMBERS[machine]


def test_structure_sizes():
    assert mod.SEND_COMMAND.size == 48
    assert mod.QUERY_HEADER.size == 8
    assert mod.COMMAND_INFO.size == 16


# -- opening -------------------------------------------------------------------------

def test_missing_node_says_how_to_find_devices(tmp_path):
    with pytest.raises(DeviceNotFound) as err:
        mod.IoctlTransport("mem0", dev_root=str(tmp_path), ioctl=FakeKernel())
    assert "cxl_mem module loaded" in str(err.value)
    assert "ls %s" % tmp_path in err.value.hint and "cxl list" in err.value.hint


def test_open_without_permission_says_run_as_root(node, monkeypatch):
    def denied(path, flags):
        raise PermissionError(errno.EACCES, "Permission denied", path)
    monkeypatch.setattr(mod.os, "open", denied)
    with pytest.raises(PermissionDenied) as err:
        open_node(node, FakeKernel())
    assert "root" in err.value.hint
    assert err.value.exit_code == 4


def test_open_refused_with_eperm_says_run_as_root(node, monkeypatch):
    def not_permitted(path, flags):
        raise PermissionError(errno.EPERM, "Operation not permitted", path)
    monkeypatch.setattr(mod.os, "open", not_permitted)
    with pytest.raises(PermissionDenied) as err:
        open_node(node, FakeKernel())
    assert "run as root (the CXL device nodes are root-only)" == err.value.hint
    assert err.value.exit_code == 4


def test_open_queries_the_command_table_twice(node):
    kernel = FakeKernel()
    t = open_node(node, kernel)
    (req1, arg1), (req2, arg2) = kernel.calls
    assert req1 == req2 == mod.CXL_MEM_QUERY_COMMANDS
    assert arg1 == bytes(8)                          # n_commands = 0: learn the count
    assert struct.unpack_from("=II", arg2) == (ID_MAX, 0)
    assert len(arg2) == 8 + 16 * ID_MAX
    # empty slots (id 0, RAW not built in) are not commands
    assert sorted(t.commands) == sorted(LINUX_61)
    assert not t.raw_available
    assert t.commands[6].size_in == 8 and t.commands[6].size_out == VAR
    t.close()


def test_a_node_opened_but_unusable_is_said_to_be_going_away(node, monkeypatch):
    for code in (errno.ENXIO, errno.ENODEV):
        def gone(path, flags, code=code):
            raise OSError(code, os.strerror(code), path)
        monkeypatch.setattr(mod.os, "open", gone)
        with pytest.raises(DeviceNotFound) as err:
            open_node(node, FakeKernel())
        assert "(the device is going away or unbound)" in str(err.value)
        assert err.value.errno == code


@pytest.mark.parametrize("code", [errno.ENOTTY, errno.EINVAL])
def test_a_node_refusing_the_query_ioctl_is_not_a_cxl_mailbox(node, code):
    def not_cxl(fd, request, buf):
        raise OSError(code, os.strerror(code))
    with pytest.raises(NotSupported) as err:
        open_node(node, not_cxl)
    assert "does not answer CXL_MEM_QUERY_COMMANDS: it is not a CXL mailbox" in str(err.value)
    assert err.value.errno == code


def test_a_query_refused_for_permission_is_permission_denied(node):
    def denied(fd, request, buf):
        raise OSError(errno.EACCES, os.strerror(errno.EACCES))
    with pytest.raises(PermissionDenied) as err:
        open_node(node, denied)
    assert "CXL_MEM_QUERY_COMMANDS" in str(err.value) and err.value.exit_code == 4


def test_a_node_that_is_not_a_cxl_mailbox(node):
    def not_cxl(fd, request, buf):
        raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")
    with pytest.raises(NotSupported) as err:
        open_node(node, not_cxl)
    assert "not a CXL mailbox" in str(err.value)


def test_backend_registry_opens_it_by_absolute_path(node):
    dev, sysfs = node
    t = open_transport("ioctl", devname=os.path.join(dev, "mem0"), sysfs_root=sysfs,
                       ioctl=FakeKernel())
    assert t.devname == "mem0" and t.path == os.path.join(dev, "mem0")
    assert t.max_payload == 2048
    assert t.describe() == "Linux CXL ioctl %s" % t.path
    t.close()


# -- named commands --------------------------------------------------------------------

def test_identify_goes_as_the_named_command(node):
    ident = bytes(range(0x43))
    kernel = FakeKernel(device=lambda op, p: (0, ident) if op == 0x4000 else (3, b""))
    t = open_node(node, kernel)
    rsp = t.send(request(0x4000, tag=0x77), 8, 2.0)
    sent = kernel.sent[-1]
    assert sent["id"] == 1 and sent["raw_opcode"] == 0 and sent["flags"] == 0
    assert sent["in_size"] == 0 and sent["in_ptr"] == 0
    assert sent["out_size"] >= 0x43 and sent["out_ptr"] != 0
    rc, _, payload = cci.check_response(rsp, 0x77, 0x4000)
    hdr = cci.decode_header(rsp)
    assert hdr.category == 1 and hdr.return_code == rc == 0
    assert bytes(payload) == ident


def test_send_structure_bytes_for_a_fixed_input_command(node):
    kernel = FakeKernel(device=lambda op, p: (0, b"L" * 8))
    t = open_node(node, kernel)
    get_lsa = struct.pack("<II", 0x10, 8)
    rsp = t.send(request(0x4102, get_lsa), 8, None)
    request_code, arg = kernel.calls[-1]
    assert request_code == mod.CXL_MEM_SEND_COMMAND and len(arg) == 48
    cid, flags, op, rsvd, retval, in_size, in_rsvd, in_ptr, out_size, out_rsvd, out_ptr = \
        struct.unpack("=IIHHIIIQIIQ", arg)
    assert (cid, flags, op, rsvd, retval) == (6, 0, 0, 0, 0)
    assert (in_size, in_rsvd, out_rsvd) == (8, 0, 0)
    assert out_size == 2048            # variable output: the whole mailbox payload
    assert kernel.inputs[-1] == get_lsa
    assert cci.check_response(rsp, 0x5A, 0x4102)[-1].tobytes() == b"L" * 8


def test_a_newer_devices_longer_reply_to_a_fixed_size_command_is_kept_whole(node):
    ident = bytes(range(0x50))                   # the kernel's table says 0x43 bytes
    kernel = FakeKernel(device=lambda op, p: (0, ident) if op == 0x4000 else (3, b""))
    t = open_node(node, kernel)
    rsp = t.send(request(0x4000), 8, None)
    assert rsp[cci.HEADER_SIZE:] == ident


def test_a_request_of_exactly_the_mailbox_payload_size_is_sent(node):
    kernel = FakeKernel()
    t = open_node(node, kernel)
    set_lsa = struct.pack("<II", 0, 0) + bytes(2048 - 8)
    rsp = t.send(request(0x4103, set_lsa), 8, None)
    assert cci.decode_header(rsp).return_code == 0
    assert kernel.inputs[-1] == set_lsa


def test_a_kernel_reporting_more_output_than_the_buffer_is_an_error(node):
    kernel = FakeKernel(device=lambda op, p: (0, b"\x01\x02"))

    def overreporting(fd, request_code, buf):
        kernel(fd, request_code, buf)
        if request_code == mod.CXL_MEM_SEND_COMMAND:
            struct.pack_into("=I", buf, 32, kernel.sent[-1]["out_size"] + 1)
        return 0
    t = open_node(node, overreporting)
    with pytest.raises(TransportError) as err:
        t.send(request(0x0400), 8, None)
    assert "kernel reports 2049 output bytes for a 2048-byte buffer" in str(err.value)


def test_variable_output_uses_sysfs_payload_max(node):
    dev, sysfs = node
    with open(os.path.join(sysfs, "mem0", "payload_max"), "w") as f:
        f.write("1024\n")
    kernel = FakeKernel(payload_size=1024)
    t = open_node(node, kernel)
    assert t.max_payload == 1024
    t.send(request(0x0400), 8, None)
    assert kernel.sent[-1]["out_size"] == 1024


def test_a_zero_payload_max_in_sysfs_falls_back_to_2048(node):
    dev, sysfs = node
    with open(os.path.join(sysfs, "mem0", "payload_max"), "w") as f:
        f.write("0\n")
    kernel = FakeKernel()
    t = open_node(node, kernel)
    assert t.max_payload == 2048
    t.send(request(0x4102, struct.pack("<II", 0, 8)), 8, None)
    assert kernel.sent[-1]["out_size"] == 2048


def test_payload_max_defaults_to_2048_without_sysfs(node):
    dev, _ = node
    t = mod.IoctlTransport("mem0", dev_root=dev, sysfs_root="/nonexistent", ioctl=FakeKernel())
    assert t.max_payload == 2048


def test_device_return_code_becomes_the_response_return_code(node):
    kernel = FakeKernel(device=lambda op, p: (0x16, b"ignored"))   # PAYLOADLEN
    t = open_node(node, kernel)
    rsp = t.send(request(0x4100, tag=3), 8, None)
    hdr = cci.decode_header(rsp)
    assert hdr.return_code == 0x16 and hdr.tag == 3 and hdr.opcode == 0x4100
    assert hdr.payload_length == 0 and len(rsp) == cci.HEADER_SIZE


def test_response_carries_only_the_bytes_the_device_returned(node):
    kernel = FakeKernel(device=lambda op, p: (0, b"\x01\x02\x03"))
    t = open_node(node, kernel)
    rsp = t.send(request(0x0400), 8, None)
    assert rsp[cci.HEADER_SIZE:] == b"\x01\x02\x03"
    assert cci.decode_header(rsp).payload_length == 3


# -- the RAW path -----------------------------------------------------------------------

def test_opcode_without_a_named_command_goes_raw(node):
    kernel = FakeKernel(raw=True, device=lambda op, p: (0, struct.pack("<Q", 42)))
    t = open_node(node, kernel)
    assert t.raw_available
    rsp = t.send(request(0x0300), 8, None)
    sent = kernel.sent[-1]
    assert sent["id"] == 2 and sent["raw_opcode"] == 0x0300 and sent["raw_rsvd"] == 0
    assert sent["out_size"] == 2048
    assert rsp[cci.HEADER_SIZE:] == struct.pack("<Q", 42)


def test_tunnels_always_go_raw(node, monkeypatch):
    monkeypatch.setitem(REGISTRY, 0x5300, ("fmapi_tunnel", 1))  # even if mis-declared
    kernel = FakeKernel(raw=True)
    t = open_node(node, kernel)
    t.send(request(0x5300, bytes(8)), 7, None)
    assert kernel.sent[-1]["id"] == 2 and kernel.sent[-1]["raw_opcode"] == 0x5300


def test_named_id_unknown_to_this_kernel_goes_raw(node):
    kernel = FakeKernel(raw=True)
    t = open_node(node, kernel)
    t.send(request(0x0301, bytes(8)), 8, None)   # registry says id 21; QUERY has no 21
    assert kernel.sent[-1]["id"] == 2


def test_raw_refused_names_the_kernel_option(node):
    t = open_node(node, FakeKernel(raw=False))
    with pytest.raises(NotSupported) as err:
        t.send(request(0x0300), 8, None)
    msg = str(err.value)
    assert "get_timestamp" in msg and "0300h" in msg and "EPERM" in msg
    assert "CONFIG_CXL_MEM_RAW_COMMANDS" in msg
    assert "sanitize" in err.value.hint and "mctp:" in err.value.hint
    assert err.value.errno == errno.EPERM


def test_raw_refused_without_a_raw_slot_says_the_kernel_was_built_without_it(node):
    t = open_node(node, FakeKernel(raw=False))   # the kernel's config is not readable
    with pytest.raises(NotSupported) as err:
        t.send(request(0x0300), 8, None)
    assert "this kernel was built without CONFIG_CXL_MEM_RAW_COMMANDS" in str(err.value)
    assert "not locked down" not in str(err.value)


def test_raw_refused_for_a_denied_command_set(node):
    t = open_node(node, FakeKernel(raw=True))
    with pytest.raises(NotSupported) as err:
        t.send(request(0x4400), 8, None)
    assert "sanitize command set" in str(err.value)
    assert "deny list" in str(err.value)
    assert "built without" not in str(err.value)


def test_raw_refusal_uses_the_kernel_config_when_readable(node, monkeypatch):
    monkeypatch.setattr(mod, "_raw_commands_configured", lambda: False)
    kernel = FakeKernel(raw=False)
    kernel.table = lambda: [(2, 0, VAR, VAR)]   # a table that still shows a RAW slot
    t = open_node(node, kernel)
    assert t.raw_available
    with pytest.raises(NotSupported) as err:
        t.send(request(0x0300), 8, None)
    assert "built without CONFIG_CXL_MEM_RAW_COMMANDS" in str(err.value)


# -- errno mapping ------------------------------------------------------------------------

def test_enotty_names_the_command_and_cxl_mi_list(node):
    t = open_node(node, FakeKernel())            # health info is not in QEMU's CEL
    with pytest.raises(NotSupported) as err:
        t.send(request(0x4200), 8, None)
    msg = str(err.value)
    assert "memdev_get_health_info" in msg and "4200h" in msg
    assert "does not enable the command" in msg and "GET_HEALTH_INFO" in msg
    assert "cxl-mi list" in err.value.hint
    assert err.value.errno == errno.ENOTTY


def test_ebusy_on_set_lsa_points_at_cxl_pmem(node):
    t = open_node(node, FakeKernel(exclusive={10}))
    with pytest.raises(TransportError) as err:
        t.send(request(0x4103, bytes(8) + b"label"), 8, None)
    assert "cxl_pmem" in str(err.value) and "SET_LSA" in str(err.value)
    assert "modprobe -r cxl_pmem" in err.value.hint
    assert err.value.errno == errno.EBUSY


def test_enomem_is_reported_as_our_bug(node):
    t = open_node(node, FakeKernel())
    with pytest.raises(TransportError) as err:
        t.send(request(0x0401, bytes(4)), 8, None)     # GET_LOG wants exactly 0x18 bytes
    msg = str(err.value)
    assert "bug in cxl-mi" in msg and "ENOMEM" in msg and "24 in" in msg
    assert "report" in err.value.hint


def test_eacces_from_send_is_permission_denied(node):
    kernel = FakeKernel()

    def deny(fd, request, buf):
        if request == mod.CXL_MEM_SEND_COMMAND:
            raise OSError(errno.EACCES, "Permission denied")
        return kernel(fd, request, buf)
    t = open_node(node, deny)
    with pytest.raises(PermissionDenied):
        t.send(request(0x4000), 8, None)


def test_etimedout_is_a_timeout(node):
    kernel = FakeKernel()

    def slow(fd, request, buf):
        if request == mod.CXL_MEM_SEND_COMMAND:
            raise OSError(errno.ETIMEDOUT, "Connection timed out")
        return kernel(fd, request, buf)
    t = open_node(node, slow)
    with pytest.raises(TransportError) as err:
        t.send(request(0x4000), 8, None)
    assert err.value.exit_code == 5


# -- requests we refuse to send -----------------------------------------------------------

def test_malformed_requests_are_refused_before_the_kernel(node):
    kernel = FakeKernel()
    t = open_node(node, kernel)
    calls = len(kernel.calls)
    with pytest.raises(UsageError):
        t.send(request(0x4000) + b"extra", 8, None)
    with pytest.raises(UsageError):
        t.send(cci.encode(0x4000, b"", category=1), 8, None)
    with pytest.raises(UsageError):
        t.send(request(0x4103, bytes(4096)), 8, None)
    assert len(kernel.calls) == calls


def test_send_after_close(node):
    t = open_node(node, FakeKernel())
    t.close()
    t.close()
    with pytest.raises(TransportError):
        t.send(request(0x4000), 8, None)


# -- facts --------------------------------------------------------------------------------

def test_info_has_sysfs_facts_and_the_kernel_command_list(node):
    t = open_node(node, FakeKernel())
    info = t.info()
    assert info["transport"] == "ioctl" and info["devname"] == "mem0"
    assert info["serial"] == 0x1234 and info["firmware_version"] == "BWFW VERSION 00"
    assert info["payload_max"] == 2048 and info["label_storage_size"] == 131072
    assert info["ram_size"] == 0 and info["pmem_size"] == 256 << 20
    assert info["raw_commands"] is False
    cmds = {c["name"]: c for c in info["kernel_commands"]}
    assert cmds["IDENTIFY"] == {"id": 1, "name": "IDENTIFY", "flags": 0, "size_in": 0,
                                "size_out": 0x43}
    assert cmds["GET_LSA"]["size_out"] is None
    assert "RAW" not in cmds


def test_variable_sizes_in_the_command_list_show_as_none(node):
    t = open_node(node, FakeKernel())
    cmds = {c["name"]: c for c in t.info()["kernel_commands"]}
    assert (cmds["SET_LSA"]["size_in"], cmds["SET_LSA"]["size_out"]) == (None, 0)
    assert (cmds["GET_LSA"]["size_in"], cmds["GET_LSA"]["size_out"]) == (8, None)


def test_the_real_registry_maps_named_commands(node, monkeypatch):
    monkeypatch.undo()
    monkeypatch.setattr(mod, "_raw_commands_configured", lambda: None)
    kernel = FakeKernel(raw=True)
    t = open_node(node, kernel)
    expected = {0x4000: 1, 0x0400: 3, 0x0200: 4, 0x4100: 5}
    for opcode, linux_id in expected.items():
        t.send(request(opcode), 8, None)
        assert kernel.sent[-1]["id"] == linux_id, hex(opcode)
    t.send(request(0x4102, bytes(8)), 8, None)
    assert kernel.sent[-1]["id"] == 6
    t.send(request(0x0401, bytes(0x18)), 8, None)
    assert kernel.sent[-1]["id"] == 8


def test_endpoint_decodes_memdev_identify_through_the_ioctl_path(node, monkeypatch):
    from cxlmi_bindings import endpoint
    monkeypatch.setattr(mod, "_registry_entry", REAL_REGISTRY_ENTRY)
    ident = bytearray(0x43)
    ident[0:15] = b"BWFW VERSION 00"
    struct.pack_into("<QQQ", ident, 0x10, 4, 0, 4)   # total, volatile, persistent (256 MiB)
    kernel = FakeKernel(device=lambda op, p: (0, bytes(ident)) if op == 0x4000 else (3, b""))
    with endpoint.Context() as ctx:
        ep = ctx.open_transport(open_node(node, kernel), probe=False)
        rsp = ep.call("memdev_identify")
        assert bytes(rsp.fw_revision).rstrip(b"\0") == b"BWFW VERSION 00"
        assert rsp.total_capacity == 4 and rsp.persistent_capacity == 4
    assert kernel.sent[-1]["id"] == 1


# -- the kernel's configuration: may RAW commands pass? -------------------------------------

@pytest.fixture
def kernel_configs(tmp_path, monkeypatch):
    """Where the configuration of kernel release ``6.1.0-test`` is looked for."""
    boot, modules = tmp_path / "boot", tmp_path / "modules"
    boot.mkdir()
    modules.mkdir()
    monkeypatch.setattr(mod, "KERNEL_CONFIGS", (str(boot / "config-%s"),
                                                str(modules / "%s.config")))
    return boot / "config-6.1.0-test", modules / "6.1.0-test.config"


def test_a_kernel_built_with_raw_commands_is_seen_as_such(kernel_configs):
    boot, _ = kernel_configs
    boot.write_text("CONFIG_CXL_MEM=m\nCONFIG_CXL_MEM_RAW_COMMANDS=y\nCONFIG_CXL_PMEM=m\n")
    assert REAL_RAW_CONFIGURED("6.1.0-test") is True


def test_a_kernel_built_without_raw_commands_is_seen_as_such(kernel_configs):
    boot, _ = kernel_configs
    boot.write_text("CONFIG_CXL_MEM=m\n# CONFIG_CXL_MEM_RAW_COMMANDS is not set\n")
    assert REAL_RAW_CONFIGURED("6.1.0-test") is False


def test_without_a_readable_kernel_config_raw_commands_are_unknown(kernel_configs):
    assert REAL_RAW_CONFIGURED("6.1.0-test") is None


def test_the_modules_directory_config_counts_when_boot_has_none(kernel_configs):
    _, modules = kernel_configs
    modules.write_text("CONFIG_CXL_MEM_RAW_COMMANDS=y\n")
    assert REAL_RAW_CONFIGURED("6.1.0-test") is True


def test_the_running_kernels_release_is_the_one_looked_up(kernel_configs, monkeypatch):
    boot, _ = kernel_configs
    boot.write_text("CONFIG_CXL_MEM_RAW_COMMANDS=y\n")
    monkeypatch.setattr(mod.platform, "release", lambda: "6.1.0-test")
    assert REAL_RAW_CONFIGURED() is True
    monkeypatch.setattr(mod.platform, "release", lambda: "5.10.0-other")
    assert REAL_RAW_CONFIGURED() is None


def test_a_raw_refusal_on_a_kernel_built_with_raw_blames_lockdown_not_the_build(
        node, kernel_configs, monkeypatch):
    boot, _ = kernel_configs
    boot.write_text("CONFIG_CXL_MEM_RAW_COMMANDS=y\n")
    monkeypatch.setattr(mod.platform, "release", lambda: "6.1.0-test")
    monkeypatch.setattr(mod, "_raw_commands_configured", REAL_RAW_CONFIGURED)
    kernel = FakeKernel(raw=True)
    t = open_node(node, kernel)
    assert t.raw_available
    kernel.raw = False              # the slot is there, yet RAW is refused (lockdown)
    with pytest.raises(NotSupported) as err:
        t.send(request(0x0300), 8, None)
    assert "built without" not in str(err.value)
    assert "not locked down" in str(err.value)


def test_a_raw_refusal_on_a_kernel_built_without_raw_says_so(node, kernel_configs,
                                                            monkeypatch):
    boot, _ = kernel_configs
    boot.write_text("# CONFIG_CXL_MEM_RAW_COMMANDS is not set\n")
    monkeypatch.setattr(mod.platform, "release", lambda: "6.1.0-test")
    monkeypatch.setattr(mod, "_raw_commands_configured", REAL_RAW_CONFIGURED)
    kernel = FakeKernel(raw=True)
    t = open_node(node, kernel)
    kernel.raw = False
    with pytest.raises(NotSupported) as err:
        t.send(request(0x0300), 8, None)
    assert "this kernel was built without CONFIG_CXL_MEM_RAW_COMMANDS" in str(err.value)


# -- errno from CXL_MEM_SEND_COMMAND: what the library raises, what the user sees ----------

def failing_send(code, kernel=None):
    """An ioctl whose QUERY works and whose SEND fails with ``code``."""
    kernel = kernel or FakeKernel(raw=True, enabled=set(LINUX_61))

    def ioctl(fd, request_code, buf):
        if request_code == mod.CXL_MEM_SEND_COMMAND:
            kernel.calls.append((request_code, bytes(buf)))
            raise OSError(code, os.strerror(code))
        return kernel(fd, request_code, buf)
    ioctl.kernel = kernel
    return ioctl


# opcode, request payload, errno -> exception class, exit code, words in the message
SEND_ERRORS = {
    "EBUSY on SET_PARTITION_INFO": (
        0x4101, bytes(10), errno.EBUSY, TransportError, 3,
        ["memdev_set_partition_info (opcode 4101h)", "EBUSY on named command "
         "SET_PARTITION_INFO (id 9)", "refuses an immediate partition change"]),
    "EBUSY on SET_SHUTDOWN_STATE": (
        0x4204, bytes(1), errno.EBUSY, TransportError, 3,
        ["memdev_set_shutdown_state (opcode 4204h)", "SET_SHUTDOWN_STATE is reserved for "
         "the kernel while the cxl_pmem driver has this memdev's nvdimm bound"]),
    "EFAULT": (
        0x4000, b"", errno.EFAULT, TransportError, 3,
        ["the kernel rejected the request's sizes or fields (EFAULT on named command "
         "IDENTIFY (id 1)", "This is a bug in cxl-mi"]),
    "EPERM on a named command": (
        0x4200, b"", errno.EPERM, PermissionDenied, 4,
        ["memdev_get_health_info (opcode 4200h)", "operation not permitted (EPERM on named "
         "command GET_HEALTH_INFO (id 7))"]),
    "EINTR": (
        0x4000, b"", errno.EINTR, TransportError, 3,
        ["memdev_identify (opcode 4000h)", "interrupted while waiting for the mailbox"]),
    "ENXIO": (
        0x4000, b"", errno.ENXIO, DeviceNotFound, 3,
        ["memdev_identify (opcode 4000h)", os.strerror(errno.ENXIO),
         "the device is going away or unbound"]),
    "ENODEV": (
        0x4000, b"", errno.ENODEV, DeviceNotFound, 3,
        ["memdev_identify (opcode 4000h)", os.strerror(errno.ENODEV),
         "the device is going away or unbound"]),
}


@pytest.mark.parametrize("case", sorted(SEND_ERRORS))
def test_send_errno_becomes_the_documented_error(node, case):
    opcode, payload, code, cls, exit_code, words = SEND_ERRORS[case]
    ioctl = failing_send(code)
    t = open_node(node, ioctl)
    with pytest.raises(cls) as err:
        t.send(request(opcode, payload), 8, None)
    assert err.value.errno == code and err.value.exit_code == exit_code
    for w in words:
        assert w in str(err.value)
    assert len(ioctl.kernel.calls) == 3                     # 2 QUERY, 1 SEND: no retry


def test_ebusy_on_set_partition_info_hints_at_a_partition_change_on_the_next_reset(node):
    t = open_node(node, failing_send(errno.EBUSY))
    with pytest.raises(TransportError) as err:
        t.send(request(0x4101, bytes(10)), 8, None)
    assert "without the immediate flag" in err.value.hint
    assert "next reset" in err.value.hint


# -- the same through `cxl-mi` ------------------------------------------------------------

@pytest.fixture
def cli_on_node(node, monkeypatch):
    """`cxl-mi ... mem0` with /dev/cxl and the sysfs root at ``node`` and ``ioctl(2)``
    replaced by ``kernel``; returns run(kernel, *args) -> (exit code, stderr)."""
    from cxlmi_cli import commands as cli_commands
    from cxlmi_cli.main import cli
    from cli_helpers import runner
    dev, sysfs = node
    monkeypatch.setattr(mod, "_registry_entry", REAL_REGISTRY_ENTRY)
    monkeypatch.setattr(mod.IoctlTransport.__init__, "__defaults__", (dev, sysfs, None))
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    cli_commands.reset()

    def run(kernel, *args):
        monkeypatch.setattr(mod, "_sys_ioctl", kernel)
        res = runner().invoke(cli, list(args), catch_exceptions=False)
        return res.exit_code, res.stderr
    yield run
    cli_commands.reset()


CLI_SEND_ERRORS = {
    "EBUSY on SET_PARTITION_INFO": (
        ["memdev", "set-partition-info", "mem0", "--volatile-capacity", "0", "--immediate",
         "--yes"], errno.EBUSY, 3,
        "the kernel refused the command (EBUSY on named command SET_PARTITION_INFO (id 9))"),
    "EPERM on a named command": (
        ["memdev", "get-health-info", "mem0"], errno.EPERM, 4,
        "operation not permitted (EPERM on named command GET_HEALTH_INFO (id 7))"),
    "EPERM on a RAW command": (
        ["generic", "get-timestamp", "mem0"], errno.EPERM, 3,
        "refused it as a RAW command (EPERM)"),
    "EINTR": (
        ["memdev", "identify", "mem0"], errno.EINTR, 3,
        "interrupted while waiting for the mailbox"),
    "ENXIO": (
        ["memdev", "identify", "mem0"], errno.ENXIO, 3,
        "%s (the device is going away or unbound)" % os.strerror(errno.ENXIO)),
    "ENODEV": (
        ["memdev", "identify", "mem0"], errno.ENODEV, 3,
        "%s (the device is going away or unbound)" % os.strerror(errno.ENODEV)),
}


@pytest.mark.parametrize("case", sorted(CLI_SEND_ERRORS))
def test_cli_send_errno_exit_code_and_message(cli_on_node, node, case):
    args, code, exit_code, words = CLI_SEND_ERRORS[case]
    ioctl = failing_send(code)
    status, err = cli_on_node(ioctl, *args)
    assert status == exit_code
    lines = err.splitlines()
    assert lines[-1].startswith("cxl-mi: error: %s/mem0: " % node[0]), err
    assert words in lines[-1]
    sent = [c for c in ioctl.kernel.calls if c[0] == mod.CXL_MEM_SEND_COMMAND]
    assert len(sent) == 1


def test_cli_ctrl_c_during_the_ioctl_exits_130(cli_on_node):
    # CPython turns an ioctl interrupted by SIGINT into KeyboardInterrupt
    kernel = FakeKernel(enabled=set(LINUX_61))

    def interrupted(fd, request_code, buf):
        if request_code == mod.CXL_MEM_SEND_COMMAND:
            raise KeyboardInterrupt
        return kernel(fd, request_code, buf)
    status, err = cli_on_node(interrupted, "memdev", "identify", "mem0")
    assert status == 130 and err.strip() == "cxl-mi: interrupted"


def _read_only_node():
    """A file whose O_RDWR open this process is refused for real, even as root (a
    read-only sysfs attribute), named like a CXL node; or None."""
    for path in ("/sys/devices/system/cpu/vulnerabilities/spectre_v1",
                 "/sys/devices/system/cpu/vulnerabilities/spectre_v2"):
        try:
            fd = os.open(path, os.O_RDWR)
        except PermissionError:
            return path
        except OSError:
            continue
        os.close(fd)
    return None


@pytest.mark.parametrize("how", ["read-only node", "EACCES from open(2)"])
def test_cli_a_node_opened_without_permission_is_exit_4_run_as_root(cli_on_node, node,
                                                                    monkeypatch, how):
    if how == "read-only node":
        path = _read_only_node()
        if path is None:
            pytest.skip("no read-only sysfs attribute here to open")
        dev, devname = os.path.split(path)
        monkeypatch.setattr(mod.IoctlTransport.__init__, "__defaults__",
                            (dev, node[1], None))
    else:
        dev, devname = node[0], "mem0"
        real_open = os.open

        def denied(p, flags, *a, **kw):
            if p == os.path.join(dev, devname):
                raise PermissionError(errno.EACCES, "Permission denied", p)
            return real_open(p, flags, *a, **kw)
        monkeypatch.setattr(mod.os, "open", denied)
    kernel = FakeKernel()
    status, err = cli_on_node(kernel, "memdev", "identify", devname)
    assert status == 4
    assert err == ("cxl-mi: error: %s/%s: permission denied (hint: run as root (the CXL "
                   "device nodes are root-only))\n" % (dev, devname))
    assert kernel.calls == []
