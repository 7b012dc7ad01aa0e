# SPDX-License-Identifier: LGPL-2.1-or-later
"""A QEMU guest with one emulated CXL Type-3 memory device, for the kernel ioctl path.

What it does, in order:

* ``ensure_tools()``: finds (or installs from Debian's registry) ``qemu-system-x86_64``, a static
  busybox, ndctl's ``cxl`` (to compare with) and a Debian kernel with the CXL drivers as modules.
  A kernel already installed on the host is used as it is; otherwise the package
  ``linux-image-amd64`` points at is fetched with ``apt-get download`` and unpacked under
  ``~/.cache/cxl-mi-tests/qemu/`` (``CXLMI_TEST_CACHE``), outside the checkout: the host's /boot
  is left alone, and the package's postinst, which would spend most of a minute building an
  initrd nobody uses, does not run.
* ``build_initramfs()``: a cpio archive with busybox, a small ``/init`` and the kernel modules the
  guest needs (dependencies resolved from ``modules.dep``, or from the modules' own ``.modinfo``
  when the kernel was only unpacked), cached there by content.
* ``Guest``: boots QEMU (TCG, q35 with CXL), waits for the guest's ``READY`` line and runs shell
  commands in it through a virtio-serial port: ``guest.run("cmd") -> (exit_code, stdout, stderr)``.

The guest mounts the host's root file system read-only over 9p, puts a RAM layer over it (overlayfs)
at ``/host`` and runs commands in a chroot of that, with the guest's own /dev, /proc and /sys: the
host's Python and the repository checkout are what run inside the guest, they may write where they
like, and nothing they write reaches the host.  ``mode="initramfs"`` runs a command in the busybox
environment instead, e.g. to load or unload a kernel module.

Wire protocol on the control port (one line each way, both directions ASCII):

    host  -> guest   RUN <id> <timeout-seconds> <host|initramfs> <base64 of the shell script>
    guest -> host    READY <kernel release>                         (once, after boot)
                     BEGIN <id> <exit code>
                     <base64 of stdout, wrapped>  --  <base64 of stderr, wrapped>
                     END <id>
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import dataclasses
import fcntl
import glob
import hashlib
import lzma
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent

def _cache_dir() -> Path:
    """Outside the checkout, so a fresh clone (CI's) reuses what an earlier run fetched and built;
    entries are keyed by package version and content.  ``CXLMI_TEST_CACHE`` moves it."""
    base = os.environ.get("CXLMI_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cxl-mi-tests")
    return Path(base) / "qemu"


CACHE_DIR = _cache_dir()

QEMU_BINARY = "qemu-system-x86_64"

# Modules loaded at boot, in this order (each after its dependencies).  cxl_pmem is deliberately not
# among them: while it is bound, the kernel keeps SET_LSA (and other label commands) for itself.
BOOT_MODULES = (
    "virtio_pci", "virtio_console", "9pnet_virtio", "9p",
    "overlay", "cxl_acpi", "cxl_pci", "cxl_mem",
)
# Shipped in the initramfs but not loaded: a test may load them (``load_module``).
EXTRA_MODULES = ("cxl_pmem",)

CONTROL_PORT_NAME = "org.cxlmi.ctl"


class GuestError(RuntimeError):
    """The guest could not be booted or stopped answering."""


class ToolsUnavailable(RuntimeError):
    """QEMU, busybox or the kernel is missing and could not be installed."""


@dataclasses.dataclass(frozen=True)
class DeviceConfig:
    """What QEMU is told about the CXL Type-3 device; tests compare the guest's answers to it."""

    serial: int = 0x1122334455667788
    persistent_bytes: int = 256 * 1024 * 1024  # QEMU wants a multiple of 256 MiB
    lsa_bytes: int = 1024 * 1024
    guest_ram: str = "1G"


@dataclasses.dataclass(frozen=True)
class Tools:
    qemu: str
    busybox: str
    kernel_release: str
    vmlinuz: Path
    modules_root: Path  # .../lib/modules/<release>


# --------------------------------------------------------------------------------------------------
# Finding or installing the tools


def _is_static_elf(path: str) -> bool:
    """True when the ELF file at path has no program interpreter (PT_INTERP), i.e. runs anywhere."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            phoff, = struct.unpack_from("<Q", head, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for i in range(phnum):
        p_type, = struct.unpack_from("<I", table, i * phentsize)
        if p_type == 3:  # PT_INTERP
            return False
    return True


def _find_static_busybox() -> str | None:
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        if _is_static_elf(candidate):
            return candidate
    return None


def _kernel_with_cxl(root: Path) -> tuple[str, Path, Path] | None:
    """Newest kernel under root (/ or an unpacked package) whose CXL drivers are modules."""
    found = []
    for vmlinuz in glob.glob(str(root / "boot" / "vmlinuz-*")):
        release = os.path.basename(vmlinuz)[len("vmlinuz-"):]
        for base in (root / "lib/modules" / release, root / "usr/lib/modules" / release):
            if any((base / "kernel" / "drivers" / "cxl").glob("cxl_pci.ko*")):
                found.append((release, Path(vmlinuz), base))
                break
    if not found:
        return None

    def version_key(item):
        return [int(x) if x.isdigit() else x for x in re.split(r"[.-]", item[0])]

    return sorted(found, key=version_key)[-1]


def _apt(args: list[str], log: list[str], timeout: float = 600) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "-q", "-y", "-o", "Dpkg::Use-Pty=0", "-o", "DPkg::Lock::Timeout=300"] + args
    log.append("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    log.append((proc.stdout + proc.stderr)[-3000:])
    if proc.returncode != 0:
        raise ToolsUnavailable(f"{' '.join(cmd)} failed with exit code {proc.returncode}")


def _unpack_kernel_package(log: list[str]) -> Path:
    """apt-get download the kernel image package linux-image-amd64 points at, and unpack it."""
    proc = subprocess.run(["apt-cache", "depends", "linux-image-amd64"], capture_output=True,
                          text=True, timeout=60)
    names = re.findall(r"Depends:\s*(linux-image-\S+)", proc.stdout)
    if not names:
        raise ToolsUnavailable("apt-cache knows no linux-image-amd64 package "
                               f"(did apt-get update work?): {proc.stdout}{proc.stderr}")
    package = names[0]
    target = CACHE_DIR / "kernel" / package
    if _kernel_with_cxl(target):
        return target
    download_dir = Path(tempfile.mkdtemp(prefix="kernel-deb-", dir=CACHE_DIR))
    try:
        os.chmod(download_dir, 0o755)  # so apt's unprivileged _apt user may write there
        log.append(f"$ (cd {download_dir} && apt-get download {package})")
        proc = subprocess.run(["apt-get", "download", package], cwd=download_dir,
                              capture_output=True, text=True, timeout=600)
        log.append((proc.stdout + proc.stderr)[-2000:])
        debs = list(download_dir.glob("*.deb"))
        if proc.returncode != 0 or not debs:
            raise ToolsUnavailable(f"apt-get download {package} failed")
        staging = Path(str(target) + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(staging)], check=True, timeout=600)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(download_dir, ignore_errors=True)
    return target


_tools_lock = threading.Lock()
_tools: Tools | None = None


def _probe_tools() -> dict:
    kernel = _kernel_with_cxl(Path("/"))
    if kernel is None:
        for unpacked in sorted((CACHE_DIR / "kernel").glob("*")):
            kernel = _kernel_with_cxl(unpacked) or kernel
    return {"qemu-system-x86": shutil.which(QEMU_BINARY), "busybox-static": _find_static_busybox(),
            "ndctl": shutil.which("cxl"), "linux-image-amd64": kernel}


def ensure_tools(install: bool = True) -> Tools:
    """Find QEMU, a static busybox, ndctl and a CXL-capable kernel; install what is missing (as
    root, when install is true) from Debian's registry.

    Raises ToolsUnavailable, with the commands tried and their output, when something is missing.
    """
    global _tools
    with _tools_lock:
        if _tools is not None:
            return _tools
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        log: list[str] = []
        with open(CACHE_DIR / ".install.lock", "w") as lock:
            # One installer at a time among test runs sharing this checkout.
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = _probe_tools()
            missing = [name for name, have in found.items() if not have]
            if missing and install:
                try:
                    if os.geteuid() != 0:
                        raise ToolsUnavailable("installing packages needs root")
                    _apt(["update"], log)
                    debs = [p for p in missing if p != "linux-image-amd64"]
                    if debs:
                        _apt(["install", "--no-install-recommends"] + debs, log)
                    if "linux-image-amd64" in missing:
                        _unpack_kernel_package(log)
                except (ToolsUnavailable, OSError, subprocess.SubprocessError) as exc:
                    log.append(f"error: {exc}")
                found = _probe_tools()
                missing = [name for name, have in found.items() if not have]
        if missing:
            raise ToolsUnavailable(
                "the QEMU integration tests need the Debian packages " + ", ".join(missing)
                + (" and could not install them:\n" + "\n".join(log) if log else
                   " (not installed; installation was not attempted)"))
        release, vmlinuz, modules_root = found["linux-image-amd64"]
        _tools = Tools(qemu=found["qemu-system-x86"], busybox=found["busybox-static"],
                       kernel_release=release, vmlinuz=vmlinuz, modules_root=modules_root)
        return _tools


# --------------------------------------------------------------------------------------------------
# Kernel modules


def _module_name(path: str) -> str:
    base = os.path.basename(path)
    base = base[: base.index(".ko")]
    return base.replace("-", "_")


def _read_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if not path.name.endswith(".ko"):
        raise GuestError(f"cannot unpack kernel module {path} (only .ko and .ko.xz are handled)")
    return data


def _module_index(modules_root: Path) -> tuple[dict[str, Path], dict[str, list[str]]]:
    """name -> file, and name -> names it depends on (transitively, as modules.dep lists them)."""
    files: dict[str, Path] = {}
    deps: dict[str, list[str]] = {}
    dep_file = modules_root / "modules.dep"
    if dep_file.exists():
        for line in dep_file.read_text().splitlines():
            if ":" not in line:
                continue
            mod, rest = line.split(":", 1)
            name = _module_name(mod)
            files[name] = modules_root / mod
            deps[name] = [_module_name(d) for d in rest.split()]
        return files, deps
    # An unpacked package has no modules.dep (depmod runs in its postinst): ask the modules.
    for path in (modules_root / "kernel").rglob("*.ko*"):
        files[_module_name(str(path))] = path
    return files, {}


def _direct_deps(name: str, files: dict[str, Path]) -> list[str]:
    data = _read_module(files[name])
    m = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
    if not m or not m.group(1):
        return []
    return [d.decode().replace("-", "_") for d in m.group(1).split(b",")]


def resolve_modules(modules_root: Path, wanted: tuple[str, ...]) -> list[tuple[str, Path]]:
    """The modules to insmod for wanted, dependencies first, without duplicates or built-ins."""
    files, deps = _module_index(modules_root)
    builtin = set()
    builtin_file = modules_root / "modules.builtin"
    if builtin_file.exists():
        builtin = {_module_name(line) for line in builtin_file.read_text().split() if ".ko" in line}
    order: list[str] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in order or name in builtin:
            return
        if name not in files:
            needed_by = " <- ".join(stack) or "the guest"
            raise GuestError(f"kernel module {name} (needed by {needed_by}) "
                             f"is not in {modules_root}")
        if name in stack:
            raise GuestError(f"module dependency loop: {' -> '.join(stack + (name,))}")
        below = deps[name] if deps else _direct_deps(name, files)
        for dep in below:
            visit(dep, stack + (name,))
        order.append(name)

    for name in wanted:
        visit(name, ())
    return [(name, files[name]) for name in order]


# --------------------------------------------------------------------------------------------------
# The initramfs


INIT_SCRIPT = r"""#!/bin/busybox sh
# /init of the cxl-mi test guest.  Console output goes to the serial log for diagnosis.
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin /proc /sys /dev /tmp /host
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# No module auto-loading: the test decides what is bound (cxl_pmem above all).
echo /bin/false > /proc/sys/kernel/modprobe

fail() { echo "cxlmi-guest: FATAL: $*"; poweroff -f; }

for m in $(cat /etc/boot-modules); do
    insmod /lib/modules/boot/$m.ko || echo "cxlmi-guest: insmod $m failed"
done

# The host's root, read-only over 9p, under a RAM layer: the guest sees the host's files (its
# Python, this repository, wherever they are) and may write anywhere; writes stay in the guest.
mkdir -p /lower /rw
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower \
    || fail "cannot mount the host's root over 9p"
mount -t tmpfs -o mode=755 tmpfs /rw && mkdir -p /rw/upper /rw/work || fail "no tmpfs for /rw"
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /host \
    || fail "cannot mount the overlay on /host"
mount --bind /dev /host/dev && mount --bind /proc /host/proc && mount --bind /sys /host/sys \
    || fail "cannot bind /dev /proc /sys into /host"
mkdir -p /dev/shm && mount -t tmpfs -o mode=1777 tmpfs /dev/shm

# The memory device's driver binds asynchronously; give it a few seconds (a kernel without CXL,
# such as the MCTP test kernel, has no CXL bus to wait for).
if [ -d /sys/bus/cxl ]; then
    i=0
    while [ $i -lt 100 ] && ! [ -e /sys/bus/cxl/devices/mem0/driver ]; do
        sleep 0.1; i=$((i+1))
    done
    [ -e /dev/cxl/mem0 ] || echo "cxlmi-guest: no /dev/cxl/mem0"
fi

port=
for d in /sys/class/virtio-ports/*; do
    [ "$(cat $d/name 2>/dev/null)" = "@PORT@" ] && port=/dev/${d##*/}
done
[ -n "$port" ] || fail "no virtio-serial port named @PORT@"
exec 3<>"$port" || fail "cannot open $port"
echo "cxlmi-guest: ready on $port"
echo "READY $(uname -r)" >&3

while read -r verb id tmo mode b64 <&3; do
    [ "$verb" = RUN ] || continue
    if [ "$mode" = host ]; then script=/host/tmp/.cxlmi-cmd.sh; else script=/tmp/.cxlmi-cmd.sh; fi
    echo "$b64" | base64 -d > "$script"
    if [ "$mode" = host ]; then
        timeout -s KILL "$tmo" chroot /host /bin/sh /tmp/.cxlmi-cmd.sh \
            </dev/null >/tmp/out 2>/tmp/err
    else
        timeout -s KILL "$tmo" /bin/sh "$script" </dev/null >/tmp/out 2>/tmp/err
    fi
    rc=$?
    { echo "BEGIN $id $rc"; base64 /tmp/out; echo "--"; base64 /tmp/err; echo "END $id"; } >&3
    rm -f "$script" /tmp/out /tmp/err
done
fail "control port closed"
"""


def _cpio_entry(name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0),
                ino: int = 0) -> bytes:
    name_bytes = name.encode() + b"\0"
    header = "070701" + "".join(f"{v:08x}" for v in (
        ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_bytes), 0))
    out = header.encode() + name_bytes
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def build_initramfs(tools: Tools, boot_modules: tuple[str, ...] = BOOT_MODULES,
                    extra_modules: tuple[str, ...] = EXTRA_MODULES) -> Path:
    """The guest's initramfs (uncompressed newc cpio), cached in CACHE_DIR by content.
    A kernel with everything built in (the MCTP test kernel) passes no modules."""
    boot = resolve_modules(tools.modules_root, boot_modules) if boot_modules else []
    extra = [m for m in resolve_modules(tools.modules_root, extra_modules)
             if m[0] not in {n for n, _ in boot}] if extra_modules else []
    init = INIT_SCRIPT.replace("@PORT@", CONTROL_PORT_NAME).encode()

    entries = []
    for d in ("bin", "dev", "etc", "lib", "lib/modules", "lib/modules/boot", "lib/modules/extra",
              "proc", "sys", "tmp", "host"):
        entries.append(_cpio_entry(d, stat.S_IFDIR | 0o755))
    entries.append(_cpio_entry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)))
    busybox = Path(tools.busybox).read_bytes()
    entries.append(_cpio_entry("bin/busybox", stat.S_IFREG | 0o755, busybox))
    entries.append(_cpio_entry("init", stat.S_IFREG | 0o755, init))
    entries.append(_cpio_entry("etc/boot-modules", stat.S_IFREG | 0o644,
                               "".join(f"{n}\n" for n, _ in boot).encode()))
    entries.append(_cpio_entry("etc/extra-modules", stat.S_IFREG | 0o644,
                               "".join(f"{n}\n" for n, _ in extra).encode()))
    for subdir, mods in (("boot", boot), ("extra", extra)):
        for name, path in mods:
            entries.append(_cpio_entry(f"lib/modules/{subdir}/{name}.ko", stat.S_IFREG | 0o644,
                                       _read_module(path)))
    entries = [e[:6] + f"{i + 1:08x}".encode() + e[14:] for i, e in enumerate(entries)]
    entries.append(_cpio_entry("TRAILER!!!", 0))

    image = b"".join(entries)
    # Built every time (it takes milliseconds); written only when its content changed.
    digest = hashlib.sha256(image).hexdigest()[:16]
    out = CACHE_DIR / f"initramfs-{tools.kernel_release}-{digest}.cpio"
    if out.exists():
        return out
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    for old in CACHE_DIR.glob("initramfs-*.cpio"):
        # Stale images go, but not one a concurrent test run may be about to boot.
        with contextlib.suppress(OSError):
            if time.time() - old.stat().st_mtime > 3600:
                old.unlink()
    tmp = out.with_suffix(f".tmp{os.getpid()}")
    tmp.write_bytes(image)
    tmp.rename(out)
    return out


# --------------------------------------------------------------------------------------------------
# The running guest


def _die_with_parent() -> None:
    """In the QEMU child: be killed when the test process goes away, however it goes."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Guest:
    """One booted QEMU guest.  Use as a context manager, or call start() and stop().

    A subclass changes the machine by overriding ``qemu_command`` and the modules loaded at boot
    with ``BOOT_MODULES`` / ``EXTRA_MODULES`` (tests/integration/mctp_guest.py does both)."""

    BOOT_MODULES = BOOT_MODULES
    EXTRA_MODULES = EXTRA_MODULES

    def __init__(self, config: DeviceConfig | None = None, tools: Tools | None = None,
                 boot_timeout: float = 90.0):
        self.config = config or DeviceConfig()
        self.tools = tools or ensure_tools()
        self.boot_timeout = boot_timeout
        self.python = sys.executable
        self.repo = REPO_ROOT
        self.kernel_release: str | None = None
        self.boot_seconds: float | None = None
        self.workdir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._buf = b""
        self._next_id = 1
        self._lock = threading.Lock()
        self._broken: str | None = None

    # -- life cycle --------------------------------------------------------------------------------

    def qemu_command(self, initramfs: Path, control_socket: Path) -> list[str]:
        c = self.config

        def w(name: str) -> str:  # a scratch file, as a QEMU option value (commas doubled)
            return str(self.workdir / name).replace(",", ",,")

        control_socket = str(control_socket).replace(",", ",,")
        return [
            self.tools.qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-machine", "q35,cxl=on,accel=tcg", "-cpu", "max", "-smp", "1", "-m", c.guest_ram,
            "-kernel", str(self.tools.vmlinuz), "-initrd", str(initramfs),
            "-append", "console=ttyS0 loglevel=4 panic=-1 rdinit=/init",
            "-chardev", f"file,id=console,path={w('console.log')}", "-serial", "chardev:console",
            # The host's root, read-only; its own bus, since pxb-cxl takes only bridges.
            "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot,bus=pcie.0",
            # The command channel.
            "-chardev", f"socket,id=ctl,path={control_socket}",
            "-device", "virtio-serial-pci,id=vser,bus=pcie.0",
            "-device", f"virtserialport,bus=vser.0,chardev=ctl,name={CONTROL_PORT_NAME}",
            # The CXL device under test.
            "-object", f"memory-backend-file,id=cxl-mem1,share=on,mem-path={w('pmem.img')},"
                       f"size={c.persistent_bytes}",
            "-object", f"memory-backend-file,id=cxl-lsa1,share=on,mem-path={w('lsa.img')},"
                       f"size={c.lsa_bytes}",
            "-device", "pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1",
            "-device", "cxl-rp,port=0,bus=cxl.1,id=root_port13,chassis=0,slot=2",
            "-device", f"cxl-type3,bus=root_port13,memdev=cxl-mem1,lsa=cxl-lsa1,id=cxl-pmem0,"
                       f"sn={c.serial:#x}",
            "-M", "cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=4G",
        ]

    def start(self) -> "Guest":
        initramfs = build_initramfs(self.tools, self.BOOT_MODULES, self.EXTRA_MODULES)
        # Sockets have a short path limit, and the backing files are scratch: both go to /tmp.
        self.workdir = Path(tempfile.mkdtemp(prefix="cxlmi-qemu-"))
        control_socket = self.workdir / "ctl.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        started = time.monotonic()
        try:
            listener.bind(str(control_socket))
            listener.listen(1)
            cmd = self.qemu_command(initramfs, control_socket)
            (self.workdir / "qemu.cmdline").write_text(" ".join(cmd) + "\n")
            with open(self.workdir / "qemu.log", "wb") as qemu_log:
                self._proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent)
            listener.settimeout(0.2)
            deadline = started + self.boot_timeout
            while self._sock is None:
                self._check_alive()
                if time.monotonic() > deadline:
                    raise GuestError("QEMU did not connect to the control socket")
                try:
                    self._sock, _ = listener.accept()
                except socket.timeout:
                    pass
            line = self._read_line(deadline)
            if not line.startswith("READY"):
                raise GuestError(f"unexpected first line from the guest: {line!r}")
            self.kernel_release = line.split()[1] if len(line.split()) > 1 else ""
            self.boot_seconds = time.monotonic() - started
        except BaseException as exc:
            diagnosis = self.diagnostics()
            self.stop()
            if isinstance(exc, GuestError):
                raise GuestError(f"{exc}\n{diagnosis}") from None
            raise
        finally:
            listener.close()
        return self

    def stop(self) -> None:
        """Power the guest off (kill QEMU) and remove its scratch files.  Safe to call twice."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(5)
            self._proc = None
        if self.workdir is not None and not os.environ.get("CXLMI_QEMU_KEEP"):
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> "Guest":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def lsa_image(self) -> Path:
        """The host file backing the device's label storage area (shared: guest writes show)."""
        return self.workdir / "lsa.img"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def console_log(self, tail: int = 4000) -> str:
        if self.workdir is None:
            return ""
        with contextlib.suppress(OSError):
            return (self.workdir / "console.log").read_bytes()[-tail:].decode(errors="replace")
        return ""

    def diagnostics(self) -> str:
        parts = []
        if self.workdir is not None:
            for name in ("qemu.log", "console.log"):
                with contextlib.suppress(OSError):
                    text = (self.workdir / name).read_bytes()[-4000:].decode(errors="replace")
                    parts.append(f"--- {name} (tail) ---\n{text}")
        return "\n".join(parts)

    # -- commands ----------------------------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise GuestError(f"QEMU exited with status {self._proc.returncode}")

    def _read_line(self, deadline: float) -> str:
        while b"\n" not in self._buf:
            self._check_alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GuestError("timed out waiting for the guest")
            self._sock.settimeout(min(remaining, 0.5))
            try:
                chunk = self._sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise GuestError("the guest closed the control channel")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode("ascii", errors="replace").rstrip("\r")

    def host_preamble(self) -> str:
        """Environment of host-mode commands: this Python first on PATH, the checkout on
        PYTHONPATH (the code under test runs, not an installed copy), cwd the checkout."""
        path = ":".join([os.path.dirname(self.python), "/usr/local/sbin", "/usr/local/bin",
                         "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        env = {"PATH": path, "HOME": "/root", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "TERM": "dumb", "COLUMNS": "160", "PYTHONPATH": str(self.repo),
               "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", "TMPDIR": "/tmp"}
        lines = [f"export {k}={shlex.quote(v)}" for k, v in env.items()]
        lines.append(f"cd {shlex.quote(str(self.repo))} || exit 125")
        return "\n".join(lines) + "\n"

    def run(self, cmd: str, timeout: float = 60.0, mode: str = "host",
            text: bool = True) -> tuple[int, str | bytes, str | bytes]:
        """Run a shell script in the guest; return (exit code, stdout, stderr).

        mode "host": /bin/sh in a chroot of the host's root file system with a RAM layer on top
        (the host's Python and this repository are there; writes stay in the guest), with the
        environment of host_preamble().  mode "initramfs": busybox sh, for modules and such.
        The guest kills the command after timeout seconds; then GuestError is raised.
        """
        if mode not in ("host", "initramfs"):
            raise ValueError(f"mode must be 'host' or 'initramfs', not {mode!r}")
        with self._lock:
            if self._broken:
                raise GuestError(f"the guest is unusable: {self._broken}")
            if self._sock is None:
                raise GuestError("the guest is not running")
            cmd_id = self._next_id
            self._next_id += 1
            seconds = max(1, int(timeout + 0.999))
            script = self.host_preamble() + cmd if mode == "host" else cmd
            payload = base64.b64encode(script.encode()).decode()
            started = time.monotonic()
            try:
                self._sock.sendall(f"RUN {cmd_id} {seconds} {mode} {payload}\n".encode())
                deadline = started + seconds + 15
                while True:
                    line = self._read_line(deadline)
                    fields = line.split()
                    if len(fields) == 3 and fields[0] == "BEGIN" and fields[1] == str(cmd_id):
                        rc = int(fields[2])
                        break
                out_lines: list[str] = []
                err_lines: list[str] = []
                target = out_lines
                while True:
                    line = self._read_line(deadline)
                    if line == "--":
                        target = err_lines
                    elif line == f"END {cmd_id}":
                        break
                    else:
                        target.append(line)
            except GuestError as exc:
                self._broken = str(exc)
                raise GuestError(f"{exc} (command: {cmd!r})\n{self.diagnostics()}") from None
            elapsed = time.monotonic() - started
        stdout = base64.b64decode("".join(out_lines))
        stderr = base64.b64decode("".join(err_lines))
        if rc == 128 + signal.SIGKILL and elapsed >= seconds:
            raise GuestError(f"command timed out after {seconds} s in the guest: {cmd!r}\n"
                             f"stdout: {stdout[-2000:]!r}\nstderr: {stderr[-2000:]!r}")
        if text:
            return rc, stdout.decode(errors="replace"), stderr.decode(errors="replace")
        return rc, stdout, stderr

    def check(self, cmd: str, timeout: float = 60.0, mode: str = "host") -> str:
        """Run cmd and return its stdout; raise AssertionError with everything if it fails."""
        rc, out, err = self.run(cmd, timeout=timeout, mode=mode)
        if rc != 0:
            raise AssertionError(f"guest command failed with exit code {rc}: {cmd}\n"
                                 f"stdout:\n{out}\nstderr:\n{err}")
        return out

    def read_sysfs(self, path: str) -> str:
        return self.check(f"cat {path}", mode="initramfs").strip()

    def load_module(self, name: str) -> tuple[int, str, str]:
        """insmod a module shipped in the initramfs but not loaded at boot (e.g. cxl_pmem), after
        its dependencies; modules already loaded are left as they are."""
        script = ("for m in $(cat /etc/extra-modules); do\n"
                  "  grep -q \"^$m \" /proc/modules || insmod /lib/modules/extra/$m.ko || exit 1\n"
                  f"  [ $m = {name} ] && exit 0\n"
                  "done\n"
                  f"echo 'module {name} is not in the initramfs' >&2; exit 2\n")
        return self.run(script, mode="initramfs")

    def unload_module(self, name: str) -> tuple[int, str, str]:
        return self.run(f"rmmod {name}", mode="initramfs")


# --------------------------------------------------------------------------------------------------
# Running a guest by hand: python tests/integration/qemu_guest.py [command ...]


def main(argv: list[str]) -> int:
    tools = ensure_tools(install=os.geteuid() == 0)
    with Guest(tools=tools) as guest:
        print(f"booted {guest.kernel_release} in {guest.boot_seconds:.1f} s (QEMU pid {guest.pid})",
              file=sys.stderr)
        cmd = " ".join(argv) or "cat /sys/bus/cxl/devices/mem0/serial; ls -l /dev/cxl"
        rc, out, err = guest.run(cmd)
        sys.stdout.write(out)
        sys.stderr.write(err)
        return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
