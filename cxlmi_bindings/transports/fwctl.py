# SPDX-License-Identifier: LGPL-2.1-or-later
"""Linux fwctl: ``/dev/fwctl/fwctlN`` of a CXL memory device (Linux 6.15+).

fwctl is the kernel's supported way for user space to reach a device's
Features on a host.  Its CXL driver (``drivers/cxl/core/features.c``) carries
three commands, Get Supported Features, Get Feature and Set Feature
(0500h-0502h), as remote procedure calls; every other opcode stays with
``/dev/cxl/memN`` (:mod:`.ioctl`).  Two ioctls (``include/uapi/fwctl/fwctl.h``):

``FWCTL_INFO`` (``_IO(0x9A, 0)``)
    ``struct fwctl_info``: ``u32 size, u32 flags, u32 out_device_type, u32
    device_data_len, u64 out_device_data`` (24 bytes).  The CXL driver's device
    type is 2 and it has no device data.

``FWCTL_RPC`` (``_IO(0x9A, 1)``)
    ``struct fwctl_rpc``: ``u32 size, u32 scope, u32 in_len, u32 out_len, u64 in,
    u64 out`` (32 bytes).  The kernel copies at most ``out_len`` bytes out and
    sets ``out_len`` to what it had.  The CXL input (``include/uapi/fwctl/cxl.h``)
    is ``u32 opcode, u32 flags, u32 op_size, u32 reserved`` and the command's
    payload (``include/uapi/cxl/features.h``); the output ``u32 size, u32 retval``
    and the reply payload -- ``retval`` is the CXL return code.

The scope says how much the caller may change: Get Supported Features and Get
Feature need the configuration scope; the kernel lets Set Feature through only at
a debug-write scope (both taint the kernel), the full one (CAP_SYS_RAWIO) when the
Feature's Set Feature effects are immediate.  This transport asks for the lowest
scope that can work, from the effects the Get Supported Features replies it
carried reported (the full scope for a Feature it has not seen).

The kernel keeps the RAS Features (patrol scrub, ECS, PPR, memory sparing) for its
EDAC driver: it reports them as not changeable and refuses Set Feature on them
(EPERM).

The single seam for tests is :attr:`FwctlTransport._ioctl` (``fd, request,
bytearray -> int``), the ioctl transport's :func:`~.ioctl._sys_ioctl` by default.
"""

import ctypes
import errno
import os
import struct

from .. import cci
from ..errors import NotSupported, PermissionDenied, TransportError, UsageError
from .base import Transport, node_error, node_request, open_node
from .ioctl import _IOC_NONE, _ioc, _sys_ioctl

DEV_ROOT = "/dev/fwctl"
SYSFS_ROOT = "/sys/class/fwctl"
DEFAULT_PAYLOAD_MAX = 2048

FWCTL_TYPE = 0x9A
FWCTL_INFO = _ioc(_IOC_NONE, FWCTL_TYPE, 0, 0)
FWCTL_RPC = _ioc(_IOC_NONE, FWCTL_TYPE, 1, 0)

INFO = struct.Struct("=IIIIQ")              # struct fwctl_info
RPC = struct.Struct("=IIIIQQ")              # struct fwctl_rpc
CXL_RPC_IN = struct.Struct("=IIII")         # struct fwctl_rpc_cxl's header
CXL_RPC_OUT = struct.Struct("=II")          # struct fwctl_rpc_cxl_out's header
assert (INFO.size, RPC.size, CXL_RPC_IN.size, CXL_RPC_OUT.size) == (24, 32, 16, 8)

#: enum fwctl_device_type
DEVICE_TYPES = {0: "error", 1: "mlx5", 2: "cxl", 3: "bnxt", 4: "pds"}
DEVICE_TYPE_CXL = 2
#: enum fwctl_rpc_scope
SCOPE_CONFIGURATION, SCOPE_DEBUG_READ_ONLY, SCOPE_DEBUG_WRITE, SCOPE_DEBUG_WRITE_FULL = 0, 1, 2, 3

GET_SUPPORTED_FEATURES, GET_FEATURE, SET_FEATURE = 0x0500, 0x0501, 0x0502
CARRIED = {GET_SUPPORTED_FEATURES: "Get Supported Features", GET_FEATURE: "Get Feature",
           SET_FEATURE: "Set Feature"}
#: Set Feature effects that change something at once (CXL_CMD_*_IMMEDIATE): the full scope
IMMEDIATE_EFFECTS = 0x1E
FEATURE_ENTRY = 48                          # one Supported Feature Entry
UNAVAILABLE = ("this kernel offers no fwctl: it takes Linux 6.15 or later built with "
               "CONFIG_FWCTL and CONFIG_CXL_FEATURES (and the CXL driver registers one only "
               "for a memory device with Features user space may use)")


def device_path(devname, root=DEV_ROOT):
    """``fwctl0`` -> ``/dev/fwctl/fwctl0``; absolute paths pass through."""
    return devname if devname.startswith("/") else os.path.join(root, devname)


def memdev_of(devname, sysfs_root=SYSFS_ROOT):
    """The CXL memory device (``mem0``) a fwctl device belongs to, from sysfs, or None."""
    parent = os.path.realpath(os.path.join(sysfs_root, devname, "device"))
    name = os.path.basename(parent)
    return name if name.startswith("mem") and name[3:].isdigit() else None


class FwctlTransport(Transport):
    name = "fwctl"
    fmapi_capable = False
    tunnels = False

    def __init__(self, devname, dev_root=DEV_ROOT, sysfs_root=SYSFS_ROOT, ioctl=None):
        self.devname = os.path.basename(devname)
        self.path = device_path(devname, dev_root)
        self.sysfs_root = sysfs_root
        self._ioctl = ioctl or _sys_ioctl
        self.effects = {}                   # Feature UUID -> Set Feature effects seen
        self.fd = None
        self.fd = self._open()
        try:
            self.device_type = self._info()
            self.memdev = memdev_of(self.devname, sysfs_root)
            self.max_payload = self._payload_max()
        except BaseException:
            self.close()
            raise

    # -- opening -----------------------------------------------------------

    def _open(self):
        root = os.path.dirname(self.path)
        why = UNAVAILABLE if not os.path.isdir(root) else \
            "no such fwctl device (`ls %s` lists the ones there are)" % root
        return open_node(self.path, why, "`cxl-mi list` shows the fwctl devices; "
                         "/dev/cxl/memN reaches the device on any kernel",
                         "the fwctl device nodes")

    def _info(self):
        buf = bytearray(INFO.pack(INFO.size, 0, 0, 0, 0))
        try:
            self._ioctl(self.fd, FWCTL_INFO, buf)
        except OSError as exc:
            if exc.errno in (errno.ENOTTY, errno.EINVAL):
                raise NotSupported("%s does not answer FWCTL_INFO: it is not a fwctl device "
                                   "node" % self.path, exc.errno,
                                   hint="name a node from `ls /dev/fwctl` (fwctlN)")
            raise self._oserror(exc, "FWCTL_INFO")
        device_type = INFO.unpack(bytes(buf))[2]
        if device_type != DEVICE_TYPE_CXL:
            raise NotSupported("%s belongs to the %s fwctl driver, not to CXL"
                               % (self.path, DEVICE_TYPES.get(device_type,
                                                              "type %d" % device_type)),
                               hint="`cxl-mi list` shows the CXL fwctl devices")
        return device_type

    def _payload_max(self):
        try:
            with open(os.path.join(self.sysfs_root, self.devname, "device",
                                   "payload_max")) as f:
                value = int(f.read().strip(), 0)
        except (OSError, ValueError):
            return DEFAULT_PAYLOAD_MAX
        return value if value > 0 else DEFAULT_PAYLOAD_MAX

    # -- sending -----------------------------------------------------------

    def scope_for(self, opcode, payload):
        """The lowest scope the kernel lets this command through at."""
        if opcode != SET_FEATURE:
            return SCOPE_CONFIGURATION
        effects = self.effects.get(bytes(payload[:16]))
        if effects is None or effects & IMMEDIATE_EFFECTS:
            return SCOPE_DEBUG_WRITE_FULL
        return SCOPE_DEBUG_WRITE

    @staticmethod
    def out_size(opcode, payload):
        """Bytes of output the kernel may write for this request."""
        if opcode == GET_SUPPORTED_FEATURES and len(payload) >= 4:
            return CXL_RPC_OUT.size + 8 + struct.unpack_from("<I", payload)[0]
        if opcode == GET_FEATURE and len(payload) >= 20:
            return CXL_RPC_OUT.size + struct.unpack_from("<H", payload, 18)[0]
        return CXL_RPC_OUT.size

    def send(self, message, msg_type=None, timeout=None):
        hdr, payload = node_request(self, message)
        if hdr.opcode not in CARRIED:
            raise NotSupported(
                "%s: fwctl carries only Get Supported Features, Get Feature and Set Feature "
                "(0500h-0502h), not opcode %04xh" % (self.path, hdr.opcode),
                hint="send it through the CXL memory device%s instead"
                     % (" (%s)" % self.memdev if self.memdev else " (/dev/cxl/memN)"))
        scope = self.scope_for(hdr.opcode, payload)
        size = self.out_size(hdr.opcode, payload)
        for _ in range(2):                  # once more when the kernel had more to say
            got, out = self._rpc(hdr.opcode, payload, scope, size)
            if got <= size:
                break
            size = got
        else:
            raise TransportError("%s: %s: the kernel's reply grew to %d bytes between two "
                                 "calls" % (self.path, CARRIED[hdr.opcode], got))
        if got < CXL_RPC_OUT.size:
            raise TransportError("%s: %s: the kernel returned %d bytes, less than the %d-byte "
                                 "CXL reply header" % (self.path, CARRIED[hdr.opcode], got,
                                                       CXL_RPC_OUT.size))
        length, retval = CXL_RPC_OUT.unpack_from(out)
        body = out[CXL_RPC_OUT.size:CXL_RPC_OUT.size + length] if retval == 0 else b""
        if hdr.opcode == GET_SUPPORTED_FEATURES and retval == 0:
            self._remember_effects(body)
        return cci.encode(hdr.opcode, body, tag=hdr.tag, category=cci.CATEGORY_RESPONSE,
                          return_code=retval & 0xFFFF)

    def _rpc(self, opcode, payload, scope, out_size):
        rpc_in = CXL_RPC_IN.pack(opcode, 0, len(payload), 0) + payload
        in_buf = ctypes.create_string_buffer(rpc_in, len(rpc_in))
        out_buf = ctypes.create_string_buffer(out_size)
        arg = bytearray(RPC.pack(RPC.size, scope, len(rpc_in), out_size,
                                 ctypes.addressof(in_buf), ctypes.addressof(out_buf)))
        try:
            self._ioctl(self.fd, FWCTL_RPC, arg)
        except OSError as exc:
            raise self._rpc_error(exc, opcode, scope)
        got = RPC.unpack(bytes(arg))[3]
        return got, out_buf.raw[:min(got, out_size)]

    def _remember_effects(self, body):
        if len(body) < 8:
            return
        count = struct.unpack_from("<H", body)[0]
        for i in range(count):
            at = 8 + i * FEATURE_ENTRY
            if at + FEATURE_ENTRY > len(body):
                break
            self.effects[bytes(body[at:at + 16])] = struct.unpack_from("<H", body, at + 28)[0]

    # -- errors ------------------------------------------------------------

    def _oserror(self, exc, what):
        return node_error(self.path, exc, what)

    def _rpc_error(self, exc, opcode, scope):
        what = "%s (%04xh)" % (CARRIED[opcode], opcode)
        where = "%s: %s" % (self.path, what)
        code = exc.errno
        if code == errno.EPERM and opcode == SET_FEATURE and scope == SCOPE_DEBUG_WRITE_FULL:
            return PermissionDenied(
                "%s: the kernel refused the write (EPERM): changing a Feature whose effects "
                "are immediate needs CAP_SYS_RAWIO, and the RAS Features (patrol scrub, ECS, "
                "PPR, memory sparing) are the kernel's own" % where, code,
                hint="run as root; for the RAS Features use /sys/bus/edac/devices/cxl_memN/")
        if code == errno.EPERM and opcode == SET_FEATURE:
            return PermissionDenied(
                "%s: the kernel keeps this Feature for itself (EPERM): the RAS Features "
                "(patrol scrub, ECS, PPR, memory sparing) are its EDAC driver's" % where, code,
                hint="use /sys/bus/edac/devices/cxl_memN/ for those")
        if code == errno.EINVAL:
            return NotSupported(
                "%s: the kernel refused the call (EINVAL): the device's Features are read-only "
                "to it, the Feature is unknown or not changeable, or its effects are ones the "
                "kernel does not pass on" % where, code,
                hint="`cxl-mi memdev features list %s` shows what can be changed"
                     % self.target_string())
        if code == errno.EOPNOTSUPP:
            return NotSupported("%s: the kernel does not support this call (EOPNOTSUPP)"
                                % where, code)
        if code == errno.EMSGSIZE:
            return UsageError("%s: the request is larger than fwctl takes (EMSGSIZE)" % where)
        return self._oserror(exc, what)

    # -- facts -------------------------------------------------------------

    def target_string(self):
        return "fwctl:%s" % self.devname[len("fwctl"):] if self.devname.startswith("fwctl") \
            else self.path

    def info(self):
        return {"transport": "fwctl", "devname": self.devname, "path": self.path,
                "device_type": DEVICE_TYPES.get(self.device_type, self.device_type),
                "memdev": self.memdev, "payload_max": self.max_payload,
                "commands": ["get_supported_features", "get_feature", "set_feature"]}

    def describe(self):
        return "Linux fwctl %s" % self.path

    @classmethod
    def detect(cls, **options):
        """The fwctl devices of CXL memory devices (``/dev/fwctl``, Linux 6.15+)."""
        from .. import discovery
        return list(discovery.scan_fwctl(**options))

