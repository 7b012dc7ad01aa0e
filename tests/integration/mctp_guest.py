# SPDX-License-Identifier: LGPL-2.1-or-later
"""A QEMU guest whose kernel speaks MCTP, wired by serial lines to `cxl-mi emulate` processes.

    host                                          guest (the small kernel of mctp_kernel.py)
    cxl-mi emulate --profile switch --eid 8  <-- pci-serial 00:10.0 -- ttyS? -- mctpserial0
       --serial-listen LINE0                                            local EID 9, routes 8, 20
    cxl-mi emulate --profile type3 --eid 10  <-- pci-serial 00:11.0 -- ttyS? -- mctpserial1
       --serial-listen LINE1                                            local EID 11, route 10

Each emulator also serves MCTP over TCP on a free loopback port, so a test can ask the same
device from the host and compare.  EID 20 is routed over line 0 but nobody answers it (the
switch emulator ignores what is not addressed to it): the timeout target.

The guest is :class:`qemu_guest.Guest` (the same init, 9p root, command channel) with this
kernel, no modules, no CXL device, and the two ``pci-serial`` cards on fixed PCI slots, so the
guest finds each line's tty by its PCI address.  ``mctp_guest_setup.py`` runs in the guest (the
stdlib, and this checkout's ``cxlmi_bindings.mctp_netlink``): N_MCTP line discipline, links up,
local EIDs, routes; a child process keeps the ttys open, since an MCTP serial link lives only
while its tty is open.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import system_packages  # noqa: E402

from .mctp_kernel import KernelUnavailable, ensure_kernel  # noqa: E402
from .qemu_guest import (QEMU_BINARY, REPO_ROOT, DeviceConfig, Guest, GuestError,  # noqa: E402
                         Tools, _find_static_busybox)

NET = 1


class Line:
    """One serial line: its PCI slot in the guest, the emulator on the host end, the EIDs."""

    def __init__(self, slot, profile, eid, local_eid, silent_eids=()):
        self.slot = slot                    # PCI device number on bus 0 of q35
        self.profile = profile
        self.eid = eid
        self.local_eid = local_eid
        self.silent_eids = tuple(silent_eids)
        self.socket = None
        self.proc = None
        self.tcp_port = None
        self.stderr_path = None

    @property
    def pci_address(self):
        return "0000:00:%02x.0" % self.slot

    @property
    def target(self):
        return "mctp:%d,%d" % (NET, self.eid)

    @property
    def tcp_target(self):
        return "tcp:127.0.0.1:%d" % self.tcp_port


LINES = (Line(0x10, "switch", 8, 9, silent_eids=(20,)), Line(0x11, "type3", 10, 11))


def ensure_mctp_tools(install: bool | None = None, say=None) -> Tools:
    """QEMU, a static busybox and the MCTP kernel (built on first use, ``say`` telling);
    raises system_packages.Unavailable or KernelUnavailable saying why not."""
    found = system_packages.ensure({"qemu-system-x86": QEMU_BINARY,
                                    "busybox-static": _find_static_busybox}, install=install)
    vmlinux = ensure_kernel(install=install, say=say)
    return Tools(qemu=found["qemu-system-x86"], busybox=found["busybox-static"],
                 kernel_release="mctp-" + vmlinux.parent.name, vmlinuz=vmlinux,
                 modules_root=Path("/nonexistent"))


class MctpGuest(Guest):
    BOOT_MODULES = ()
    EXTRA_MODULES = ()

    def __init__(self, lines, tools, boot_timeout=90.0):
        super().__init__(DeviceConfig(guest_ram="512M"), tools, boot_timeout)
        self.lines = lines

    def qemu_command(self, initramfs, control_socket):
        def q(path):        # a QEMU option value: commas doubled
            return str(path).replace(",", ",,")

        cmd = [
            self.tools.qemu, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-machine", "q35,accel=tcg", "-cpu", "max", "-smp", "1", "-m", self.config.guest_ram,
            "-kernel", str(self.tools.vmlinuz), "-initrd", str(initramfs),
            "-append", "console=ttyS0 loglevel=4 panic=-1 rdinit=/init",
            "-chardev", "file,id=console,path=%s" % q(self.workdir / "console.log"),
            "-serial", "chardev:console",
            "-fsdev", "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap",
            "-device", "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot",
            "-chardev", "socket,id=ctl,path=%s" % q(control_socket),
            "-device", "virtio-serial-pci,id=vser",
            "-device", "virtserialport,bus=vser.0,chardev=ctl,name=org.cxlmi.ctl",
        ]
        for i, line in enumerate(self.lines):
            cmd += ["-chardev", "socket,id=mctp%d,path=%s" % (i, q(line.socket)),
                    "-device", "pci-serial,chardev=mctp%d,addr=%#x" % (i, line.slot)]
        return cmd


def start_emulator(line: Line, scratch: Path) -> None:
    """`cxl-mi emulate` for the line, listening on a Unix socket QEMU connects to."""
    line.socket = scratch / ("line-%02x.sock" % line.slot)
    line.stderr_path = scratch / ("emulate-%s.log" % line.profile)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    with open(line.stderr_path, "w") as err:
        line.proc = subprocess.Popen(
            [sys.executable, "-m", "cxlmi_cli", "emulate", "--profile", line.profile,
             "--eid", str(line.eid), "--listen", "127.0.0.1:0",
             "--serial-listen", str(line.socket)],
            cwd=str(REPO_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=err, text=True)
    first = line.proc.stdout.readline()
    second = line.proc.stdout.readline()
    m = re.search(r"listening on tcp:127\.0\.0\.1:(\d+)", second)
    if not first.startswith("serving MCTP over serial") or not m:
        line.proc.kill()
        raise GuestError("cxl-mi emulate did not start: %r %r %s"
                         % (first, second, line.stderr_path.read_text()))
    line.tcp_port = int(m.group(1))


def stop_emulator(line: Line) -> str:
    """Stop it; returns what it wrote on stderr."""
    if line.proc is not None and line.proc.poll() is None:
        line.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            line.proc.wait(10)
        if line.proc.poll() is None:
            line.proc.kill()
            line.proc.wait(5)
    with contextlib.suppress(OSError, TypeError):
        return line.stderr_path.read_text()
    return ""


class Bench:
    """The emulators, the guest and its MCTP set-up, started together; stop() ends all."""

    def __init__(self, tools, lines=LINES):
        self.tools = tools
        self.lines = lines
        self.scratch = Path(tempfile.mkdtemp(prefix="cxlmi-mctp-"))
        self.guest = None
        self.links = {}
        self.setup_seconds = None

    def start(self):
        started = time.monotonic()
        try:
            for line in self.lines:
                start_emulator(line, self.scratch)
            self.guest = MctpGuest(self.lines, self.tools).start()
            spec = " ".join(
                "--line %s=%d:%s" % (line.pci_address, line.local_eid,
                                     ",".join(str(e) for e in (line.eid,) + line.silent_eids))
                for line in self.lines)
            out = self.guest.check("python3 tests/integration/mctp_guest_setup.py %s" % spec,
                                   timeout=60)
            self.links = json.loads(out.strip().splitlines()[-1])
            self.setup_seconds = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        logs = {}
        if self.guest is not None:
            self.guest.stop()
            self.guest = None
        for line in self.lines:
            logs[line.profile] = stop_emulator(line)
        shutil.rmtree(self.scratch, ignore_errors=True)
        return logs

    def emulator_log(self, line):
        with contextlib.suppress(OSError):
            return line.stderr_path.read_text()
        return ""


__all__ = ["Bench", "LINES", "Line", "MctpGuest", "ensure_mctp_tools", "KernelUnavailable"]
