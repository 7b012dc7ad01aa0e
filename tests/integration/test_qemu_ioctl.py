# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Linux kernel ioctl path, in a QEMU guest running Debian's stock kernel.

The first group proves the guest itself (it needs nothing from the project): the device QEMU was
given is what the guest's kernel and ndctl report, the host's Python runs in the guest, and the
kernel answers a CXL_MEM_QUERY_COMMANDS ioctl made with ctypes.

The second group runs ``python3 -m cxlmi_cli`` from this checkout in the guest against
/dev/cxl/mem0 and compares its JSON with what QEMU was told.
"""

import base64
import json
import os
import shlex
import uuid

import pytest

pytestmark = pytest.mark.qemu

CAPACITY_UNIT = 256 * 1024 * 1024  # identify and partition info count capacity in 256 MiB units
CEL_UUID = uuid.UUID("0da9c0b5-bf41-4b78-8f79-96b1623b3f17")

# The Command Effects Log of QEMU 7.2's cxl-type3 model: the only opcodes it implements.
QEMU_CEL_OPCODES = {0x0100, 0x0101, 0x0102, 0x0103, 0x0200, 0x0300, 0x0301, 0x0400, 0x0401,
                    0x4000, 0x4100, 0x4102, 0x4103}
# QEMU's type-3 model names its firmware so.
QEMU_FW_REVISION_PREFIX = "BWFW VERSION"

# CXL_MEM_QUERY_COMMANDS by hand, with ctypes: struct cxl_mem_query_commands is u32 n_commands,
# u32 rsvd, then 16-byte entries {u32 id, u32 flags, u32 size_in, u32 size_out}.  Called with
# n_commands = 0 the kernel only says how many entries it has.  Prints them as JSON.
QUERY_COMMANDS_SCRIPT = r'''
import ctypes, ctypes.util, json, os

class CommandInfo(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32), ("flags", ctypes.c_uint32),
                ("size_in", ctypes.c_uint32), ("size_out", ctypes.c_uint32)]

class QueryHeader(ctypes.Structure):
    _fields_ = [("n_commands", ctypes.c_uint32), ("rsvd", ctypes.c_uint32)]

def query_struct(n):
    class Query(ctypes.Structure):
        _fields_ = [("n_commands", ctypes.c_uint32), ("rsvd", ctypes.c_uint32),
                    ("commands", CommandInfo * n)]
    return Query

IOC_READ, NRBITS, TYPEBITS, SIZEBITS = 2, 8, 8, 14
def _IOR(type_, nr, size):
    return (IOC_READ << (NRBITS + TYPEBITS + SIZEBITS)) | (size << (NRBITS + TYPEBITS)) \
        | (type_ << NRBITS) | nr

CXL_MEM_QUERY_COMMANDS = _IOR(0xCE, 1, ctypes.sizeof(QueryHeader))
libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]

def ioctl(fd, request, obj):
    if libc.ioctl(fd, request, ctypes.addressof(obj)) < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))

fd = os.open("/dev/cxl/mem0", os.O_RDWR)
head = QueryHeader(0, 0)
ioctl(fd, CXL_MEM_QUERY_COMMANDS, head)
total = head.n_commands
query = query_struct(total)()
query.n_commands = total
ioctl(fd, CXL_MEM_QUERY_COMMANDS, query)
os.close(fd)
print(json.dumps({
    "ioctl": CXL_MEM_QUERY_COMMANDS, "total": total, "returned": query.n_commands,
    "commands": [{"id": c.id, "flags": c.flags, "size_in": c.size_in, "size_out": c.size_out}
                 for c in query.commands[:query.n_commands]]}))
'''


def heredoc(program: str, script: str) -> str:
    return f"{program} - <<'__CXLMI_EOF__'\n{script}\n__CXLMI_EOF__\n"


def kernel_config(tools) -> dict:
    path = tools.vmlinuz.parent / f"config-{tools.kernel_release}"
    config = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("CONFIG_") and "=" in line:
                key, value = line.split("=", 1)
                config[key] = value
    return config


# --------------------------------------------------------------------------------------------------
# The guest itself


def test_guest_runs_the_kernel_it_was_given(qemu_guest, qemu_tools):
    assert qemu_guest.kernel_release == qemu_tools.kernel_release
    assert qemu_guest.check("uname -r").strip() == qemu_tools.kernel_release


def test_run_returns_exit_code_stdout_and_stderr_apart(qemu_guest):
    rc, out, err = qemu_guest.run("printf 'out\\n'; printf 'err\\n' >&2; exit 7")
    assert (rc, out, err) == (7, "out\n", "err\n")
    rc, out, err = qemu_guest.run("head -c 100000 /dev/zero | tr '\\0' x", text=False)
    assert rc == 0 and out == b"x" * 100000 and err == b""


def test_memdev_character_device_exists(qemu_guest):
    rc, out, err = qemu_guest.run("test -c /dev/cxl/mem0 && ls -l /dev/cxl/mem0")
    assert rc == 0, (out, err)


def test_sysfs_serial_is_the_configured_serial(qemu_guest):
    serial = qemu_guest.read_sysfs("/sys/bus/cxl/devices/mem0/serial")
    assert int(serial, 16) == qemu_guest.config.serial


def test_sysfs_sizes_are_the_configured_sizes(qemu_guest):
    cfg = qemu_guest.config
    mem0 = "/sys/bus/cxl/devices/mem0"
    assert int(qemu_guest.read_sysfs(f"{mem0}/pmem/size"), 0) == cfg.persistent_bytes
    assert int(qemu_guest.read_sysfs(f"{mem0}/ram/size"), 0) == 0
    assert int(qemu_guest.read_sysfs(f"{mem0}/label_storage_size"), 0) == cfg.lsa_bytes


def test_cxl_mem_is_bound_and_cxl_pmem_is_not_loaded(qemu_guest):
    driver = qemu_guest.check("readlink /sys/bus/cxl/devices/mem0/driver", mode="initramfs")
    assert driver.strip().endswith("/cxl_mem")
    modules = qemu_guest.check("cut -d' ' -f1 /proc/modules", mode="initramfs").split()
    assert "cxl_pci" in modules and "cxl_acpi" in modules
    assert "cxl_pmem" not in modules  # else the kernel keeps SET_LSA to itself


def test_ndctl_cxl_list_reports_the_configured_device(qemu_guest):
    memdevs = json.loads(qemu_guest.check("cxl list -M"))
    assert [m["memdev"] for m in memdevs] == ["mem0"]
    assert memdevs[0]["serial"] == qemu_guest.config.serial
    assert memdevs[0]["pmem_size"] == qemu_guest.config.persistent_bytes


def test_host_python_runs_in_the_guest_and_imports_from_the_checkout(qemu_guest):
    out = qemu_guest.check(
        f"{shlex.quote(qemu_guest.python)} -c 'import ctypes, importlib.util, json, os, sys; "
        "print(json.dumps([os.path.realpath(sys.executable), "
        "importlib.util.find_spec(\"cxlmi_cli\").origin]))'")
    executable, cli_origin = json.loads(out)
    assert executable == os.path.realpath(qemu_guest.python)
    assert cli_origin.startswith(str(qemu_guest.repo) + "/")


def test_kernel_answers_query_commands_ioctl_from_ctypes(qemu_guest, qemu_tools):
    python = shlex.quote(qemu_guest.python)
    result = json.loads(qemu_guest.check(heredoc(python, QUERY_COMMANDS_SCRIPT)))
    assert result["ioctl"] == 0x8008CE01
    commands = result["commands"]
    assert result["total"] > 0 and result["returned"] == result["total"] == len(commands)
    # The kernel's table is indexed by command id; id 0 marks an empty slot.
    for index, cmd in enumerate(commands):
        assert cmd["id"] in (0, index), cmd
    ids = {c["id"] for c in commands} - {0}
    assert 1 in ids  # CXL_MEM_COMMAND_ID_IDENTIFY
    assert next(c for c in commands if c["id"] == 1)["size_out"] >= 67
    raw_configured = kernel_config(qemu_tools).get("CONFIG_CXL_MEM_RAW_COMMANDS") == "y"
    assert (2 in ids) == raw_configured  # CXL_MEM_COMMAND_ID_RAW only where it is built
    print("QUERY_COMMANDS:", json.dumps(commands))


# --------------------------------------------------------------------------------------------------
# cxl-mi in the guest


class CxlMi:
    """Runs ``python3 -m cxlmi_cli ARGS`` in the guest, from the checkout."""

    def __init__(self, guest):
        self.guest = guest
        self._json = {}

    def __call__(self, args: str, timeout: float = 120, text: bool = True):
        return self.guest.run(f"{shlex.quote(self.guest.python)} -m cxlmi_cli {args}",
                              timeout=timeout, text=text)

    def json(self, args: str):
        """The JSON of a command that must succeed (and reads only: answers are reused)."""
        if args not in self._json:
            self._json[args] = self._run_json(args)
        return self._json[args]

    def _run_json(self, args: str):
        rc, out, err = self(f"{args} --json")
        assert rc == 0, f"cxl-mi {args} --json: exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
        assert "Traceback" not in err, err
        data = json.loads(out)
        assert isinstance(data, dict) and "schema_version" in data, data
        return data


@pytest.fixture(scope="module")
def cxl_mi(qemu_guest):
    return CxlMi(qemu_guest)


_MISSING = object()


def find(data, name, default=_MISSING):
    """The value of the first key called name, depth first, wherever the CLI nests it."""
    stack = [data]
    while stack:
        item = stack.pop(0)
        if isinstance(item, dict):
            if name in item:
                return item[name]
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    if default is not _MISSING:
        return default
    raise AssertionError(f"no field {name!r} in {json.dumps(data)[:2000]}")


def as_int(value) -> int:
    return int(value, 0) if isinstance(value, str) else int(value)


def as_text(value) -> str:
    if isinstance(value, list):
        value = bytes(value).decode("ascii", errors="replace")
    return str(value).rstrip("\0 ")


def as_uuid(value) -> uuid.UUID:
    if isinstance(value, list):
        return uuid.UUID(bytes=bytes(value))
    return uuid.UUID(str(value))


def is_capacity(value, nbytes: int) -> bool:
    """A capacity field is the structure's 256 MiB count, or bytes where the CLI converts it."""
    value = as_int(value)
    return value == nbytes // CAPACITY_UNIT or value == nbytes


def refusal(rc, out, err):
    text = out + err
    assert rc != 0, f"expected a refusal, got exit 0:\n{text}"
    assert "Traceback" not in text, text
    return text


def test_identify_reports_the_configured_serial_and_pci_ids(cxl_mi, qemu_guest):
    # Generic Identify (0001h) has no named kernel command: cxl-mi answers it
    # from what the kernel read from the device, so it works without RAW.
    cfg = qemu_guest.config
    data = cxl_mi.json("identify mem0")
    assert as_int(find(data, "serial_num")) == cfg.serial
    assert as_int(find(data, "component_type")) == 3
    pci = "$(readlink -f /sys/bus/cxl/devices/mem0)/.."
    for field, attr in (("vendor_id", "vendor"), ("device_id", "device"),
                        ("subsys_vendor_id", "subsystem_vendor"),
                        ("subsys_id", "subsystem_device")):
        expected = int(qemu_guest.check("cat %s/%s" % (pci, attr)).strip(), 16)
        assert as_int(find(data, field)) == expected, field
    payload_max = int(qemu_guest.read_sysfs("/sys/bus/cxl/devices/mem0/payload_max"), 0)
    assert 1 << as_int(find(data, "max_msg_size")) == payload_max


def test_identify_and_memdev_identify_agree_with_ndctl_cxl_list(cxl_mi, qemu_guest):
    (ndctl,) = json.loads(qemu_guest.check("cxl list -M"))
    assert as_int(find(cxl_mi.json("identify mem0"), "serial_num")) == ndctl["serial"]
    memdev = cxl_mi.json("memdev identify mem0")
    assert is_capacity(find(memdev, "persistent_capacity"), ndctl["pmem_size"])
    assert is_capacity(find(memdev, "total_capacity"), ndctl["pmem_size"])


def test_memdev_identify_reports_the_configured_sizes(cxl_mi, qemu_guest):
    cfg = qemu_guest.config
    data = cxl_mi.json("memdev identify mem0")
    assert is_capacity(find(data, "total_capacity"), cfg.persistent_bytes)
    assert is_capacity(find(data, "persistent_capacity"), cfg.persistent_bytes)
    assert as_int(find(data, "volatile_capacity")) == 0
    assert as_int(find(data, "lsa_size")) == cfg.lsa_bytes
    sysfs_fw = qemu_guest.read_sysfs("/sys/bus/cxl/devices/mem0/firmware_version")
    assert as_text(find(data, "fw_revision")) == sysfs_fw


def test_memdev_get_partition_info_is_all_persistent(cxl_mi, qemu_guest):
    cfg = qemu_guest.config
    data = cxl_mi.json("memdev get-partition-info mem0")
    assert is_capacity(find(data, "active_pmem"), cfg.persistent_bytes)
    assert as_int(find(data, "active_vmem")) == 0


def test_generic_get_fw_info_names_the_active_slot(cxl_mi):
    data = cxl_mi.json("generic get-fw-info mem0")
    slots = as_int(find(data, "slots_supported"))
    active = as_int(find(data, "slot_info")) & 0x7
    assert 1 <= active <= slots <= 4
    assert as_text(find(data, f"fw_rev{active}")).startswith(QEMU_FW_REVISION_PREFIX)


def test_generic_get_supported_logs_lists_the_cel(cxl_mi):
    data = cxl_mi.json("generic get-supported-logs mem0")
    entries = find(data, "entries")
    count = find(data, "num_supported_log_entries", None)
    assert count is None or as_int(count) == len(entries), (count, entries)
    cel = [e for e in entries if as_uuid(e["uuid"]) == CEL_UUID]
    assert len(cel) == 1, entries
    assert as_int(cel[0]["log_size"]) == 4 * len(QEMU_CEL_OPCODES)


def test_generic_get_log_cel_lists_what_qemu_implements(cxl_mi):
    # As a user would: the CEL's size from the supported logs, then the CEL itself.
    entries = find(cxl_mi.json("generic get-supported-logs mem0"), "entries")
    (size,) = [as_int(e["log_size"]) for e in entries if as_uuid(e["uuid"]) == CEL_UUID]
    rc, out, err = cxl_mi(f"generic get-log-cel mem0 --length {size} --json")
    assert rc == 0, f"get-log-cel: exit {rc}\nstdout:\n{out}\nstderr:\n{err}"
    data = json.loads(out)
    assert "schema_version" in data
    opcodes = set()
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "opcode" in item and "command_effect" in item:
                opcodes.add(as_int(item["opcode"]))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    assert opcodes - {0} == QEMU_CEL_OPCODES


def test_generic_get_timestamp_through_the_kernel(cxl_mi, qemu_tools):
    """Linux 6.1 has no named command for Get Timestamp (0300h): it can only go as RAW, which a
    kernel without CONFIG_CXL_MEM_RAW_COMMANDS refuses, and cxl-mi must say that."""
    rc, out, err = cxl_mi("generic get-timestamp mem0")
    if kernel_config(qemu_tools).get("CONFIG_CXL_MEM_RAW_COMMANDS") == "y":
        assert rc == 0, out + err
        return
    text = refusal(rc, out, err)
    assert rc in (1, 3), text
    assert "CONFIG_CXL_MEM_RAW_COMMANDS" in text


def test_memdev_lsa_write_reads_back_and_reaches_the_device(cxl_mi, qemu_guest):
    offset, pattern = 4096, bytes((i * 37 + 11) & 0xFF for i in range(64))
    qemu_guest.check(f"echo {base64.b64encode(pattern).decode()} | base64 -d > /tmp/lsa.bin")
    rc, out, err = cxl_mi(f"memdev set-lsa mem0 --offset {offset} --data /tmp/lsa.bin --yes")
    assert rc == 0, f"set-lsa: exit {rc}\n{out}\n{err}"
    rc, out, err = cxl_mi(f"memdev get-lsa mem0 --offset {offset} --length {len(pattern)} -o raw",
                          text=False)
    assert rc == 0, f"get-lsa: exit {rc}\n{out!r}\n{err!r}"
    assert out == pattern
    # QEMU keeps the label storage area in a shared file: the bytes reached the device model.
    with open(qemu_guest.lsa_image, "rb") as image:
        image.seek(offset)
        assert image.read(len(pattern)) == pattern


def test_list_shows_mem0_with_its_sysfs_facts(cxl_mi, qemu_guest):
    cfg = qemu_guest.config
    data = cxl_mi.json("list")
    candidates = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if any(v in ("mem0", "/dev/cxl/mem0") for v in item.values()):
                candidates.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    assert len(candidates) == 1, data
    values = json.dumps(candidates[0])
    assert str(cfg.serial) in values or f"{cfg.serial:#x}" in values.lower(), values
    assert str(cfg.persistent_bytes) in values or f"{cfg.persistent_bytes:#x}" in values, values
    assert str(cfg.lsa_bytes) in values or f"{cfg.lsa_bytes:#x}" in values, values


def test_health_info_is_refused_with_enotty_explained(cxl_mi):
    """QEMU 7.2's type-3 model has no 4200h, so the kernel answers ENOTTY before the device."""
    rc, out, err = cxl_mi("memdev get-health-info mem0")
    text = refusal(rc, out, err)
    assert rc in (1, 3), text
    assert "ENOTTY" in text and "does not enable" in text, text


def test_refusals_in_json_mode_are_a_json_object(cxl_mi):
    rc, out, err = cxl_mi("memdev get-alert-config mem0 --json")
    assert rc in (1, 3), out + err
    error = json.loads(out)
    assert isinstance(error, dict) and "ENOTTY" in json.dumps(error), error


def test_set_lsa_while_cxl_pmem_is_bound_says_the_kernel_holds_it(cxl_mi, qemu_guest):
    qemu_guest.check("printf 'x' > /tmp/one.bin")
    rc, out, err = qemu_guest.load_module("cxl_pmem")
    assert rc == 0, (out, err)
    try:
        text = refusal(*cxl_mi("memdev set-lsa mem0 --offset 0 --data /tmp/one.bin --yes"))
        assert "EBUSY" in text and "cxl_pmem" in text, text
    finally:
        rc, out, err = qemu_guest.unload_module("cxl_pmem")
        assert rc == 0, (out, err)


LIBCXLMI_STYLE_SCRIPT = r'''
import ctypes, json
import cxlmi_bindings as cxlmi
ctx = cxlmi.cxlmi_new_ctx(None, 6)
found = cxlmi.cxlmi_scan(ctx)
ep = cxlmi.cxlmi_first_endpoint(ctx)
ident = cxlmi.struct_cxlmi_cmd_memdev_identify_rsp()
rc = cxlmi.cxlmi_cmd_memdev_identify(ep, None, ident)
health = cxlmi.struct_cxlmi_cmd_memdev_get_health_info_rsp()
health_rc = cxlmi.cxlmi_cmd_memdev_get_health_info(ep, None, health)
print(json.dumps({"found": found, "target": ep.target, "rc": rc,
                  "lsa_size": ident.lsa_size, "total_capacity": ident.total_capacity,
                  "health_rc": health_rc, "health_error": str(ep.last_error)}))
cxlmi.cxlmi_free_ctx(ctx)
'''


def test_libcxlmi_style_scan_and_named_commands_through_the_kernel(qemu_guest):
    # cxlmi_scan opens /dev/cxl/mem0; memdev identify goes as the kernel's named
    # command; a command the device does not enable comes back as -1 with the
    # kernel's refusal kept on the endpoint.
    cfg = qemu_guest.config
    out = qemu_guest.check(heredoc(shlex.quote(qemu_guest.python), LIBCXLMI_STYLE_SCRIPT))
    result = json.loads(out.strip().splitlines()[-1])
    assert result["found"] == 1 and result["target"] == "mem0"
    assert result["rc"] == 0
    assert result["lsa_size"] == cfg.lsa_bytes
    assert is_capacity(result["total_capacity"], cfg.persistent_bytes)
    assert result["health_rc"] == -1 and "ENOTTY" in result["health_error"], result
