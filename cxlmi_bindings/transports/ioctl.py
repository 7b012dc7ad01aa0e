# SPDX-License-Identifier: LGPL-2.1-or-later
"""Linux CXL mailbox ioctls: ``/dev/cxl/memN`` (and switch mailbox CCI nodes).

The kernel offers two ioctls on a CXL memory device node
(``include/uapi/linux/cxl_mem.h``):

``CXL_MEM_QUERY_COMMANDS``
    the kernel's table of *named* commands: ``u32 n_commands, u32 rsvd``
    followed by ``{u32 id, u32 flags, u32 size_in, u32 size_out}`` entries.
    Called with ``n_commands = 0`` it only reports the table size.  Slots with
    id 0 are empty (e.g. RAW on a kernel built without it).  The table lists
    what the *kernel* knows; whether the device enables an entry is only seen
    when it is sent (ENOTTY).

``CXL_MEM_SEND_COMMAND``
    one mailbox command, 48 bytes: ``u32 id, u32 flags, {u16 opcode, u16
    rsvd} raw | u32 rsvd, u32 retval, {u32 size, u32 rsvd, u64 ptr} in,
    {u32 size, u32 rsvd, u64 ptr} out``.

Distribution kernels are built without ``CONFIG_CXL_MEM_RAW_COMMANDS``, so
every command the kernel has a name for is sent by that name; RAW (id 2) is
used only for opcodes the kernel has no name for, and for tunnels (5300h).
The one exception is generic Identify (0001h): the kernel has no name for it,
so it is answered from the facts the kernel read from the device (sysfs),
never sent RAW.

What the kernel checks before it sends a named command (drivers/cxl/core/
mbox.c): reserved fields zero (the ``raw`` union too), the command enabled
by the device's Command Effects Log (else ENOTTY), not claimed by a kernel
driver (else EBUSY), ``in.size`` equal to a fixed input size (else ENOMEM),
``out.size`` at least a fixed output size (else ENOMEM).  For RAW:
``out.size`` no larger than the mailbox payload (else EINVAL), the opcode
allowed (else EPERM).  After the device answered, ``retval`` holds its CXL
return code and ``out.size`` the bytes it returned -- except when the return
code is not SUCCESS, where ``out.size`` is left as we passed it and the buffer
holds nothing the device sent.

The single seam for tests is :attr:`IoctlTransport._ioctl` (``fd, request,
bytearray -> int``), by default :func:`_sys_ioctl`.
"""

import ctypes
import errno
import os
import platform
import struct

from .. import cci
from ..errors import CommandTimeout, NotSupported, PermissionDenied, TransportError, UsageError
from .base import Transport, node_error, node_request, open_node

DEV_ROOT = "/dev/cxl"
SYSFS_ROOT = "/sys/bus/cxl/devices"
DEFAULT_PAYLOAD_MAX = 2048

# --------------------------------------------------------------------------
# ioctl numbers, computed the way <asm-generic/ioctl.h> lays them out.  A few
# architectures use 3 direction bits and a 13-bit size.

_ARCH = platform.machine().lower()
if _ARCH.startswith(("ppc", "powerpc", "mips", "sparc", "alpha")):
    _IOC_SIZEBITS, _IOC_NONE, _IOC_WRITE, _IOC_READ = 13, 1, 4, 2
else:
    _IOC_SIZEBITS, _IOC_NONE, _IOC_WRITE, _IOC_READ = 14, 0, 1, 2
_IOC_NRSHIFT = 0
_IOC_TYPESHIFT = 8
_IOC_SIZESHIFT = 16
_IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS


def _ioc(direction, type_, nr, size):
    if size >= 1 << _IOC_SIZEBITS:
        raise ValueError("ioctl argument of %d bytes is too large" % size)
    return ((direction << _IOC_DIRSHIFT) | (size << _IOC_SIZESHIFT)
            | (type_ << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT))


def _ior(type_, nr, size):
    return _ioc(_IOC_READ, type_, nr, size)


def _iowr(type_, nr, size):
    return _ioc(_IOC_READ | _IOC_WRITE, type_, nr, size)


# struct cxl_mem_query_commands header and struct cxl_command_info
QUERY_HEADER = struct.Struct("=II")
COMMAND_INFO = struct.Struct("=IIII")
# struct cxl_send_command
SEND_COMMAND = struct.Struct("=IIHHIIIQIIQ")
assert SEND_COMMAND.size == 48

CXL_IOCTL_MAGIC = 0xCE
CXL_MEM_QUERY_COMMANDS = _ior(CXL_IOCTL_MAGIC, 1, QUERY_HEADER.size)
CXL_MEM_SEND_COMMAND = _iowr(CXL_IOCTL_MAGIC, 2, SEND_COMMAND.size)

CXL_MEM_COMMAND_ID_RAW = 2
VARIABLE_SIZE = 0xFFFFFFFF
TUNNEL_OPCODE = 0x5300

# The kernel's names for its command ids (uapi cxl_mem.h), for messages and
# `cxl-mi list` only; which opcode each id carries comes from the registry.
LINUX_COMMAND_NAMES = {
    1: "IDENTIFY", 2: "RAW", 3: "GET_SUPPORTED_LOGS", 4: "GET_FW_INFO",
    5: "GET_PARTITION_INFO", 6: "GET_LSA", 7: "GET_HEALTH_INFO", 8: "GET_LOG",
    9: "SET_PARTITION_INFO", 10: "SET_LSA", 11: "GET_ALERT_CONFIG",
    12: "SET_ALERT_CONFIG", 13: "GET_SHUTDOWN_STATE", 14: "SET_SHUTDOWN_STATE",
    15: "GET_POISON", 16: "INJECT_POISON", 17: "CLEAR_POISON",
    18: "GET_SCAN_MEDIA_CAPS", 19: "SCAN_MEDIA", 20: "GET_SCAN_MEDIA",
}

# Opcodes every kernel refuses on the RAW path, whatever its configuration
# (poison since v6.5), and the command sets it refuses as a whole.
RAW_DENIED_OPCODES = {
    0x0202: "activate firmware",
    0x4101: "set partition info",
    0x4103: "set LSA",
    0x4204: "set shutdown state",
    0x4300: "get poison list",
    0x4301: "inject poison",
    0x4302: "clear poison",
    0x4304: "scan media",
    0x4305: "get scan media results",
}
RAW_DENIED_SETS = {0x44: "sanitize", 0x45: "persistent memory security",
                   0x46: "security passthrough"}

RAW_DENY_TEXT = ("the kernel never passes these on RAW: sanitize and secure erase (44xxh), "
                 "persistent memory security (45xxh), security passthrough (46xxh), "
                 "activate firmware (0202h), set partition info (4101h), set LSA (4103h), "
                 "set shutdown state (4204h), scan media (4304h/4305h) and, since Linux "
                 "6.5, the poison commands (4300h-4302h)")


IDENTIFY_OPCODE = 0x0001
IDENTIFY_REPLY = struct.Struct("<HHHHQBB")   # Identify (0001h) reply, 18 bytes
COMPONENT_TYPE3 = 0x03


def _read_number(path):
    try:
        with open(path) as f:
            return int(f.read().strip(), 0)
    except (OSError, ValueError):
        return None


def _sys_ioctl(fd, request, buf):
    """The one place that enters the kernel: ``ioctl(fd, request, buf)``."""
    import fcntl
    return fcntl.ioctl(fd, request, buf, True)


def _registry_entry(opcode):
    """The registry's entry for ``opcode``, or None."""
    try:
        from .. import registry
    except ModuleNotFoundError as exc:  # the registry not installed yet
        if exc.name and exc.name.endswith("registry"):
            return None
        raise
    try:
        return registry.by_opcode(opcode)
    except KeyError:
        return None


#: where a kernel's build configuration is found, by release (the first readable wins)
KERNEL_CONFIGS = ("/boot/config-%s", "/lib/modules/%s/config")


def _raw_commands_configured(release=None):
    """True/False when the running kernel's config says, None when unknown."""
    release = release or platform.release()
    for pattern in KERNEL_CONFIGS:
        path = pattern % release
        try:
            with open(path, "r", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        return "CONFIG_CXL_MEM_RAW_COMMANDS=y" in text
    return None


def device_path(devname, root=DEV_ROOT):
    """``mem0`` → ``/dev/cxl/mem0``; absolute paths pass through."""
    if devname.startswith("/"):
        return devname
    return os.path.join(root, devname)


class KernelCommand:
    """One entry of the kernel's command table (QUERY)."""

    __slots__ = ("id", "flags", "size_in", "size_out")

    def __init__(self, id, flags, size_in, size_out):
        self.id = id
        self.flags = flags
        self.size_in = size_in
        self.size_out = size_out

    @property
    def name(self):
        return LINUX_COMMAND_NAMES.get(self.id, "ID_%d" % self.id)

    def as_dict(self):
        return {"id": self.id, "name": self.name, "flags": self.flags,
                "size_in": None if self.size_in == VARIABLE_SIZE else self.size_in,
                "size_out": None if self.size_out == VARIABLE_SIZE else self.size_out}

    def __repr__(self):
        return "KernelCommand(%d %s, in=%#x, out=%#x)" % (self.id, self.name,
                                                           self.size_in, self.size_out)


class IoctlTransport(Transport):
    name = "ioctl"
    fmapi_capable = True
    tunnels = True  # as RAW commands, where the kernel allows RAW

    def __init__(self, devname, dev_root=DEV_ROOT, sysfs_root=SYSFS_ROOT, ioctl=None):
        self.devname = os.path.basename(devname) if devname.startswith("/") else devname
        self.path = device_path(devname, dev_root)
        self.sysfs_root = sysfs_root
        self._ioctl = ioctl or _sys_ioctl
        self.fd = None
        self.fd = self._open()
        try:
            self.commands = self._query_commands()
            self.max_payload = self._payload_max()
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------

    def _open(self):
        return open_node(self.path, "is the cxl_mem module loaded?",
                         "`ls %s` and `cxl list` show the CXL devices this kernel has; "
                         "`modprobe cxl_mem` (with cxl_pci, cxl_acpi) loads the driver"
                         % os.path.dirname(self.path), "the CXL device nodes")

    def _query_commands(self):
        buf = bytearray(QUERY_HEADER.pack(0, 0))
        try:
            self._ioctl(self.fd, CXL_MEM_QUERY_COMMANDS, buf)
        except OSError as exc:
            if exc.errno in (errno.ENOTTY, errno.EINVAL):
                raise NotSupported(
                    "%s does not answer CXL_MEM_QUERY_COMMANDS: it is not a CXL mailbox "
                    "device node" % self.path, exc.errno,
                    hint="name a node from `ls /dev/cxl` (memN), or use mctp:NET,EID / "
                         "tcp:HOST for components behind MCTP")
            raise self._oserror(exc, "CXL_MEM_QUERY_COMMANDS")
        count = QUERY_HEADER.unpack_from(buf)[0]
        if count == 0:
            return {}
        buf = bytearray(QUERY_HEADER.pack(count, 0) + bytes(COMMAND_INFO.size * count))
        try:
            self._ioctl(self.fd, CXL_MEM_QUERY_COMMANDS, buf)
        except OSError as exc:
            raise self._oserror(exc, "CXL_MEM_QUERY_COMMANDS")
        got = min(QUERY_HEADER.unpack_from(buf)[0] or count, count)
        table = {}
        for i in range(got):
            cid, flags, size_in, size_out = COMMAND_INFO.unpack_from(
                buf, QUERY_HEADER.size + i * COMMAND_INFO.size)
            if cid == 0:
                continue  # an empty slot
            table[cid] = KernelCommand(cid, flags, size_in, size_out)
        return table

    def _sysfs(self, name):
        try:
            with open(os.path.join(self.sysfs_root, self.devname, name)) as f:
                return f.read().strip()
        except OSError:
            return None

    def _payload_max(self):
        text = self._sysfs("payload_max")
        try:
            value = int(text, 0)
        except (TypeError, ValueError):
            return DEFAULT_PAYLOAD_MAX
        return value if value > 0 else DEFAULT_PAYLOAD_MAX

    # -- sending -----------------------------------------------------------

    @property
    def raw_available(self):
        """Whether the kernel's table has a RAW slot (CONFIG_CXL_MEM_RAW_COMMANDS)."""
        return CXL_MEM_COMMAND_ID_RAW in self.commands

    def route(self, opcode):
        """(kernel command or None for RAW, registry entry or None)."""
        entry = _registry_entry(opcode)
        if opcode != TUNNEL_OPCODE and entry is not None:
            linux_id = getattr(entry, "linux_id", None)
            if linux_id and linux_id != CXL_MEM_COMMAND_ID_RAW and linux_id in self.commands:
                return self.commands[linux_id], entry
        return None, entry

    def send(self, message, msg_type=None, timeout=None):
        hdr, payload = node_request(self, message)
        if hdr.payload_length != len(payload):
            raise UsageError("ioctl transport: header announces %d payload bytes, message "
                             "carries %d" % (hdr.payload_length, len(payload)))
        if len(payload) > self.max_payload:
            raise UsageError("%s: request payload of %d bytes exceeds the mailbox payload "
                             "size %d (sysfs payload_max)"
                             % (self.path, len(payload), self.max_payload))
        kcmd, entry = self.route(hdr.opcode)
        if hdr.opcode == IDENTIFY_OPCODE and kcmd is None:
            return self._identify_from_sysfs(hdr.tag)
        what = "%s (opcode %04xh)" % (entry.name if entry is not None else "command",
                                      hdr.opcode)
        if kcmd is not None:
            cmd_id, raw_opcode = kcmd.id, 0
            out_size = self.max_payload
            if kcmd.size_out != VARIABLE_SIZE:
                # The kernel wants at least its fixed size; more keeps whatever a
                # newer device returns past it.
                out_size = max(out_size, kcmd.size_out)
        else:
            cmd_id, raw_opcode = CXL_MEM_COMMAND_ID_RAW, hdr.opcode
            out_size = self.max_payload  # RAW refuses anything larger (EINVAL)

        in_buf = ctypes.create_string_buffer(payload, len(payload)) if payload else None
        out_buf = ctypes.create_string_buffer(out_size) if out_size else None
        arg = bytearray(SEND_COMMAND.pack(
            cmd_id, 0, raw_opcode, 0, 0,
            len(payload), 0, ctypes.addressof(in_buf) if in_buf is not None else 0,
            out_size, 0, ctypes.addressof(out_buf) if out_buf is not None else 0))
        try:
            self._ioctl(self.fd, CXL_MEM_SEND_COMMAND, arg)
        except OSError as exc:
            raise self._send_error(exc, hdr.opcode, entry, kcmd, what, len(payload))
        fields = SEND_COMMAND.unpack(bytes(arg))
        retval, got = fields[4], fields[8]
        if retval != 0:
            # The kernel leaves out.size untouched when the device failed the
            # command; nothing in the buffer came from the device.
            out = b""
        else:
            if got > out_size:
                raise TransportError("%s: kernel reports %d output bytes for a %d-byte buffer"
                                     % (what, got, out_size))
            out = out_buf.raw[:got] if out_buf is not None else b""
        return cci.encode(hdr.opcode, out, tag=hdr.tag, category=cci.CATEGORY_RESPONSE,
                          return_code=retval & 0xFFFF)

    def _identify_from_sysfs(self, tag):
        """Identify (0001h) answered from what the kernel already read.

        The kernel has no named command for generic Identify, and sending it
        RAW fails on distribution kernels (EPERM) and taints the others.  The
        kernel has read the same facts from the device at probe time: the
        serial number (memN/serial), the PCI ids of the function the memdev
        sits on, and the mailbox size (payload_max).  A /dev/cxl/memN is a
        Type 3 device (component type 03h).
        """
        import math
        serial = _read_number(os.path.join(self.sysfs_root, self.devname, "serial"))
        pci = os.path.dirname(os.path.realpath(os.path.join(self.sysfs_root, self.devname)))
        ids = [_read_number(os.path.join(pci, name)) or 0
               for name in ("vendor", "device", "subsystem_vendor", "subsystem_device")]
        max_msg = int(math.log2(self.max_payload)) if self.max_payload > 0 else 0
        payload = IDENTIFY_REPLY.pack(*(ids + [serial or 0, max_msg, COMPONENT_TYPE3]))
        return cci.encode(IDENTIFY_OPCODE, payload, tag=tag, category=cci.CATEGORY_RESPONSE)

    # -- errors ------------------------------------------------------------

    def _oserror(self, exc, what):
        return node_error(self.path, exc, what)

    def _send_error(self, exc, opcode, entry, kcmd, what, in_size):
        code = exc.errno
        where = "%s: %s" % (self.path, what)
        if kcmd is not None:
            how = "named command %s (id %d)" % (kcmd.name, kcmd.id)
        else:
            how = "RAW command"
        if code == errno.ENOTTY:
            return NotSupported(
                "%s: this kernel or device does not enable the command (ENOTTY on %s); the "
                "kernel passes only commands the device lists in its Command Effects Log"
                % (where, how), code,
                hint="`cxl-mi list` shows the kernel's command list for %s" % self.devname)
        if code == errno.EPERM and kcmd is None:
            return self._raw_refused(where, opcode, code)
        if code == errno.EBUSY:
            kid = kcmd.id if kcmd is not None else None
            if kid in (10, 14):  # SET_LSA, SET_SHUTDOWN_STATE
                reason = ("%s is reserved for the kernel while the cxl_pmem driver has this "
                          "memdev's nvdimm bound" % kcmd.name)
                hint = ("stop what uses the nvdimm (`ndctl disable-region all`, `cxl "
                        "disable-region`), unload the driver with `modprobe -r cxl_pmem`, "
                        "then retry")
            elif kid == 9:  # SET_PARTITION_INFO
                reason = ("the kernel refuses an immediate partition change from user space "
                          "(and kernels before 6.0 reserve SET_PARTITION_INFO for cxl_pmem)")
                hint = ("send it without the immediate flag (it takes effect on the next "
                        "reset), or unload cxl_pmem on an older kernel")
            else:
                reason = ("the command is reserved for a kernel driver, or the mailbox is "
                          "busy with another operation")
                hint = "retry later, or unload the kernel driver that uses the command"
            return TransportError("%s: the kernel refused the command (EBUSY on %s): %s"
                                  % (where, how, reason), code, hint=hint)
        if code == errno.EACCES:
            return PermissionDenied("%s: permission denied (EACCES)" % where, code,
                                    hint="run as root")
        if code == errno.EPERM:
            return PermissionDenied("%s: operation not permitted (EPERM on %s)" % (where, how),
                                    code, hint="run as root; with kernel lockdown enabled "
                                               "some commands stay refused")
        if code in (errno.ENOMEM, errno.EINVAL, errno.EFAULT):
            detail = "request payload %d bytes" % in_size
            if kcmd is not None:
                detail += ", kernel expects %s in / at least %s out" % (
                    "any" if kcmd.size_in == VARIABLE_SIZE else kcmd.size_in,
                    "any" if kcmd.size_out == VARIABLE_SIZE else kcmd.size_out)
            return TransportError(
                "%s: the kernel rejected the request's sizes or fields (%s on %s; %s). This "
                "is a bug in cxl-mi, not in your command" % (where, errno.errorcode.get(code),
                                                             how, detail), code,
                hint="please report it with this message and `uname -r`")
        if code == errno.ETIMEDOUT:
            return CommandTimeout("%s: the mailbox timed out" % where)
        if code == errno.EINTR:
            return TransportError("%s: interrupted while waiting for the mailbox" % where, code)
        return self._oserror(exc, what)

    def _raw_refused(self, where, opcode, code):
        reasons = []
        if opcode in RAW_DENIED_OPCODES:
            reasons.append("%s (%04xh) is on the kernel's deny list for RAW commands"
                           % (RAW_DENIED_OPCODES[opcode], opcode))
        elif (opcode >> 8) in RAW_DENIED_SETS:
            reasons.append("the %s command set (%02xxxh) is on the kernel's deny list for "
                           "RAW commands" % (RAW_DENIED_SETS[opcode >> 8], opcode >> 8))
        configured = _raw_commands_configured()
        if not self.raw_available or configured is False:
            reasons.append("this kernel was built without CONFIG_CXL_MEM_RAW_COMMANDS")
        if not reasons:
            reasons.append("the kernel allows RAW commands only when built with "
                           "CONFIG_CXL_MEM_RAW_COMMANDS and not locked down")
        return NotSupported(
            "%s: the kernel has no named command for this opcode and refused it as a RAW "
            "command (EPERM): %s" % (where, "; ".join(reasons)), code,
            hint="%s. Reach the component over MCTP (mctp:NET,EID or tcp:HOST) instead, or "
                 "use a kernel with CONFIG_CXL_MEM_RAW_COMMANDS=y" % RAW_DENY_TEXT)

    # -- facts -------------------------------------------------------------

    def info(self):
        from ..discovery import sysfs_facts
        facts = {"transport": "ioctl", "devname": self.devname, "path": self.path}
        facts.update(sysfs_facts(self.devname, self.sysfs_root))
        facts["payload_max"] = self.max_payload
        facts["raw_commands"] = self.raw_available
        facts["kernel_commands"] = [c.as_dict() for _, c in sorted(self.commands.items())]
        return facts

    def describe(self):
        return "Linux CXL ioctl %s" % self.path

    @classmethod
    def detect(cls, **options):
        """The kernel's CXL character devices (``/dev/cxl``) with their sysfs facts."""
        from .. import discovery
        return list(discovery.scan_devices(**options))

