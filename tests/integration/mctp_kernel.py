# SPDX-License-Identifier: LGPL-2.1-or-later
"""The small Linux kernel of the AF_MCTP integration tests: built once per machine, then cached.

No Debian kernel package enables ``CONFIG_MCTP``, so the tests build their own from Debian's
``linux-source-*`` package: ``make tinyconfig``, the fragment ``mctp-kernel.config`` beside this
file merged over it, ``make vmlinux``.  QEMU boots the uncompressed ``vmlinux`` directly (PVH).

* the newest ``linux-source-X.Y`` that apt knows (6.12 on bookworm) and the build tools (gcc,
  make, flex, bison, bc, libelf-dev, xz-utils) are installed when missing, as the other Debian
  packages of the tests are (``tests/system_packages.py``: root, apt-get, ``CXLMI_TEST_INSTALL``);
* the result goes to ``~/.cache/cxl-mi-tests/mctp-kernel/<source version>-<fragment hash>/``
  (``CXLMI_TEST_CACHE`` moves it), outside the checkout, so every later run on the machine, a
  fresh clone included, boots the cached ``vmlinux``;
* the first build says so on stderr, with the time it took (about 6 minutes on 2 idle cores);
  concurrent runs wait for one build (a lock file) instead of building twice;
* every line of the fragment is checked in the final ``.config``: a kernel missing an option
  (renamed, or a dependency missing) is an error naming the options, not a guest that fails later.

By hand: ``python tests/integration/mctp_kernel.py`` builds (or finds) it and prints its path.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FRAGMENT = HERE / "mctp-kernel.config"

if str(HERE.parent) not in sys.path:  # run by hand: tests/ holds system_packages
    sys.path.insert(0, str(HERE.parent))

import system_packages  # noqa: E402

#: Debian package -> a probe (command or callable) that is true once it is usable.
BUILD_TOOLS = {
    "gcc": "gcc", "make": "make", "flex": "flex", "bison": "bison", "bc": "bc",
    "libelf-dev": lambda: os.path.exists("/usr/include/gelf.h"), "xz-utils": "xz",
}

#: MCTP over serial (DSP0253) arrived in Linux 5.16.
OLDEST_SOURCE = (5, 16)


class KernelUnavailable(RuntimeError):
    """The kernel cannot be had here (no package, no compiler, a failed build): the message says
    why."""


def cache_root() -> Path:
    base = os.environ.get("CXLMI_TEST_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "cxl-mi-tests")
    return Path(base) / "mctp-kernel"


def fragment_options(text: str | None = None) -> dict[str, str]:
    """{CONFIG_NAME: value} of the fragment's assignments (comments and blanks skipped)."""
    text = FRAGMENT.read_text() if text is None else text
    options = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            options[name] = value
    return options


def config_problems(config_text: str, wanted: dict[str, str]) -> list[str]:
    """Options of wanted that the final .config does not have as asked."""
    have = {}
    for line in config_text.splitlines():
        m = re.match(r"(CONFIG_\w+)=(.*)$", line)
        if m:
            have[m.group(1)] = m.group(2)
    return ["%s=%s (the .config has %s)" % (name, value, have.get(name, "it unset"))
            for name, value in wanted.items() if have.get(name) != value]


def _version_key(version: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", version))


def _source_package_names() -> list[str]:
    """linux-source-X.Y packages apt knows, newest first, 5.16 or later."""
    try:
        proc = subprocess.run(["apt-cache", "pkgnames", "linux-source-"], capture_output=True,
                              text=True, timeout=120)
    except (OSError, subprocess.SubprocessError):
        return []
    names = [n for n in proc.stdout.split() if re.fullmatch(r"linux-source-\d+\.\d+", n)]
    names = [n for n in names if _version_key(n) >= OLDEST_SOURCE]
    return sorted(names, key=_version_key, reverse=True)


def _installed_source() -> tuple[str, str, Path] | None:
    """(package, its version, tarball) of the newest linux-source-X.Y installed, or None."""
    found = []
    for tarball in glob.glob("/usr/src/linux-source-*.tar.xz"):
        package = os.path.basename(tarball)[: -len(".tar.xz")]
        if not re.fullmatch(r"linux-source-\d+\.\d+", package) \
                or _version_key(package) < OLDEST_SOURCE:
            continue
        proc = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package],
                              capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout.strip():
            found.append((package, proc.stdout.strip(), Path(tarball)))
    if not found:
        return None
    return max(found, key=lambda item: _version_key(item[0]))


def ensure_source(install: bool | None = None) -> tuple[str, str, Path]:
    """(package, version, tarball) of a kernel source with MCTP serial, installing one (and the
    build tools) when missing and allowed.  Raises KernelUnavailable saying why not."""
    try:
        system_packages.ensure(BUILD_TOOLS, install=install)
    except system_packages.Unavailable as exc:
        raise KernelUnavailable("cannot build the MCTP test kernel: %s" % exc) from None
    source = _installed_source()
    if source is not None:
        return source
    if install is False or system_packages.install_refusal():
        raise KernelUnavailable(
            "no Debian linux-source-X.Y (>= 5.16) package is installed and installing is not "
            "allowed here (%s)" % (system_packages.install_refusal() or "install=False"))
    names = _source_package_names()
    if not names:
        subprocess.run(["apt-get", "-q", "update"], capture_output=True, timeout=600)
        names = _source_package_names()
    if not names:
        raise KernelUnavailable("apt knows no linux-source-X.Y package of Linux 5.16 or later")
    try:
        system_packages.ensure({names[0]: lambda: _installed_source()}, install=install,
                               timeout=1200)
    except system_packages.Unavailable as exc:
        raise KernelUnavailable("cannot install the kernel source: %s" % exc) from None
    return _installed_source()


def cache_key(version: str, fragment_text: str) -> str:
    digest = hashlib.sha256(fragment_text.encode()).hexdigest()[:12]
    return "%s-%s" % (re.sub(r"[^A-Za-z0-9.+-]", "_", version), digest)


def _run(cmd: list[str], cwd: Path, log: Path, timeout: float) -> None:
    with open(log, "ab") as out:
        out.write(("$ %s\n" % " ".join(cmd)).encode())
        out.flush()
        proc = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                              stderr=subprocess.STDOUT, timeout=timeout)
    if proc.returncode != 0:
        tail = log.read_bytes()[-3000:].decode(errors="replace")
        raise KernelUnavailable("%s failed (exit code %d) building the MCTP test kernel; "
                                "the end of %s:\n%s" % (" ".join(cmd), proc.returncode, log, tail))


def _build(tarball: Path, package: str, target: Path, say) -> None:
    """Unpack, configure and build in a scratch directory beside target; keep vmlinux and
    .config."""
    fragment_text = FRAGMENT.read_text()
    scratch = Path(tempfile.mkdtemp(prefix="build-", dir=target.parent))
    log = scratch / "build.log"
    try:
        say("unpacking %s" % tarball)
        _run(["tar", "-xJf", str(tarball)], scratch, log, 1200)
        src = scratch / package
        if not (src / "Makefile").exists():
            candidates = [p.parent for p in scratch.glob("*/Makefile")]
            if not candidates:
                raise KernelUnavailable("%s holds no kernel tree" % tarball)
            src = candidates[0]
        jobs = str(os.cpu_count() or 1)
        _run(["make", "tinyconfig"], src, log, 600)
        (src / "mctp.config").write_text(fragment_text)
        _run(["scripts/kconfig/merge_config.sh", "-m", ".config", "mctp.config"], src, log, 600)
        _run(["make", "olddefconfig"], src, log, 600)
        problems = config_problems((src / ".config").read_text(), fragment_options(fragment_text))
        if problems:
            raise KernelUnavailable("the kernel configuration lacks options of %s (renamed, or a "
                                    "dependency missing?): %s"
                                    % (FRAGMENT.name, "; ".join(problems)))
        say("compiling vmlinux with %s jobs (log: %s)" % (jobs, log))
        _run(["make", "-j", jobs, "vmlinux"], src, log, 7200)
        staging = Path(str(target) + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        shutil.copy2(src / "vmlinux", staging / "vmlinux")
        shutil.copy2(src / ".config", staging / "config")
        shutil.copy2(log, staging / "build.log")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure_kernel(install: bool | None = None, say=None) -> Path:
    """The cached vmlinux for the installed kernel source and the current fragment; built (and its
    source installed) on first use.  Raises KernelUnavailable with the reason."""
    if say is None:
        def say(msg: str) -> None:
            print("mctp-kernel: %s" % msg, file=sys.stderr, flush=True)
    package, version, tarball = ensure_source(install)
    key = cache_key(version, FRAGMENT.read_text())
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / key
    vmlinux = target / "vmlinux"
    if vmlinux.exists():
        return vmlinux
    with open(root / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)     # one build per machine; the others wait for it
        if vmlinux.exists():
            return vmlinux
        started = time.monotonic()
        say("building the MCTP test kernel from %s %s (first run on this machine; about 6 "
            "minutes on 2 idle cores), cached in %s" % (package, version, target))
        _build(tarball, package, target, say)
        say("built %s in %.0f s" % (vmlinux, time.monotonic() - started))
        # Older builds (another source version or fragment) are dead weight now.
        for old in root.iterdir():
            if old.is_dir() and old.name != key and not old.name.startswith("build-"):
                with contextlib.suppress(OSError):
                    shutil.rmtree(old)
    return vmlinux


if __name__ == "__main__":
    try:
        print(ensure_kernel())
    except KernelUnavailable as exc:
        print("mctp-kernel: %s" % exc, file=sys.stderr)
        sys.exit(1)
