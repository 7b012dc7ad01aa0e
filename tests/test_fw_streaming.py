# SPDX-License-Identifier: LGPL-2.1-or-later
"""transfer-fw streams the package: memory holds two parts, not the image.

The package is read one part ahead (to know which part is the last), from a
file or a pipe, and an empty pipe is refused before anything is sent; the
emulated device counts the package instead of keeping it.
"""

import io
import os
import subprocess
import sys

import pytest

from cxlmi_bindings.emulator.profiles import build
from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.transports.emulated import EmulatedTransport

import cxlmi_cli.options as cli_options
import cxlmi_cli.target as cli_target
from cxlmi_cli.commands import workflows as W
from cli_helpers import both, clean_cli, invoke, jdoc  # noqa: F401  (clean_cli: a fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20


def package(size, revision=b"REV-3.1.4"):
    return revision.ljust(16, b"\0") + bytes((i * 5 + 1) & 0xFF for i in range(size - 16))


@pytest.fixture
def device(monkeypatch, clean_cli):
    """The emulated Type 3 device every command goes to, and what was sent."""
    dev = build("type3")
    monkeypatch.setattr(cli_target, "open_endpoint", lambda target, timeout=None:
                        Context().open_transport(EmulatedTransport("test", device=dev), target))
    sent = []
    real_call = cli_options.Invocation.call

    def call(inv, entry, request=None):
        sent.append(entry.name)
        return real_call(inv, entry, request)
    monkeypatch.setattr(cli_options.Invocation, "call", call)
    dev.sent = sent
    return dev


class Recording(io.BytesIO):
    """A file that remembers how much each read asked for."""

    def __init__(self, data):
        super().__init__(data)
        self.asked = []

    def read(self, size=-1):
        self.asked.append(size)
        return super().read(size)


def test_parts_are_read_one_ahead_and_never_the_whole_package():
    f = Recording(package(10 * 1024))
    parts = W._package_parts(f, 1024, "fw.bin")
    off, data, first, last = next(parts)
    assert (off, len(data), first, last) == (0, 1024, True, False)
    assert f.asked == [1024, 1024]             # this part and the one after it, no more
    rest = list(parts)
    assert [p[0] for p in rest] == [1024 * i for i in range(1, 10)]
    assert [p[3] for p in rest] == [False] * 8 + [True]
    assert all(size == 1024 for size in f.asked)
    assert b"".join([data] + [p[1] for p in rest]) == package(10 * 1024)


def test_a_package_from_a_pipe_goes_in_parts_without_knowing_its_size(device):
    data = package(5000)
    res = invoke(["generic", "transfer-fw", "emu:type3", "-", "--chunk-size", "1K", "--json"],
                 input=data)
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)["result"]
    assert doc["file"] == "standard input" and doc["bytes"] == 5000 and doc["parts"] == 5
    assert device.fw_slots[1] == "REV-3.1.4"


def test_an_empty_pipe_is_refused_before_any_transfer_fw_is_sent(device):
    res = invoke(["generic", "transfer-fw", "emu:type3", "-"], input=b"")
    assert res.exit_code == 2 and "is empty" in res.stderr
    assert "transfer_fw" not in device.sent and device.fw_slots[1] is None


def test_the_emulated_device_counts_a_package_without_keeping_it(device):
    dev = device
    res = invoke(["generic", "transfer-fw", "emu:type3", "-", "--json"], input=package(MiB))
    assert res.exit_code == 0, both(res)
    assert dev._fw_xfer is None and dev.fw_slots[1] == "REV-3.1.4"
    # mid-transfer the model holds the revision and a count, never the bytes
    with Context() as ctx:
        ep = ctx.open_transport(EmulatedTransport("test", device=dev), "emu:type3")
        # parts of 1920 bytes: a request is at most the 2 KiB mailbox (the header is 128)
        ep.transfer_fw({"action": 1, "slot": 0, "offset": 0, "data": package(1920)})
        ep.transfer_fw({"action": 2, "slot": 0, "offset": 15, "data": bytes(1920)})
        assert dev._fw_xfer["size"] == 3840 and len(dev._fw_xfer["head"]) == 16


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux rusage")
def test_a_64_mib_package_costs_the_cli_little_memory(tmp_path):
    path = tmp_path / "big.bin"
    with open(path, "wb") as f:
        f.write(package(4096))
        f.truncate(64 * MiB)                   # sparse: no disk, same bytes to read
    # VmHWM, the peak of this process image: getrusage's ru_maxrss would carry over the
    # peak of the (large) pytest process the child was forked from
    code = ("import re, sys\nfrom cxlmi_cli.main import main\n"
            "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    rc = e.code\n"
            "peak = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
            "print('RSS', peak, rc)\n")
    out = subprocess.run([sys.executable, "-c", code, "generic", "transfer-fw", "emu:type3",
                          str(path), "--json"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=300)
    rss_kib, rc = out.stdout.split("RSS")[-1].split()
    assert rc in ("0", "None"), out.stderr
    assert int(rss_kib) < 80 * 1024, "peak RSS %s KiB" % rss_kib


def test_activate_without_yes_or_a_terminal_is_refused_before_anything_is_sent(device,
                                                                               tmp_path):
    path = tmp_path / "fw.bin"
    path.write_bytes(package(4096))
    res = invoke(["generic", "transfer-fw", "emu:type3", str(path), "--activate", "online"])
    assert res.exit_code == 2 and "refusing without --yes" in res.stderr
    assert "nothing was sent" in res.stderr and device.sent == []


def test_transfer_fw_keeps_freed_memory_for_its_parts(device, monkeypatch):
    # the parts are MiB-sized, one after another: the program (not the library)
    # asks glibc to keep freed blocks instead of faulting them back in per part
    from cxlmi_bindings import _memory
    asked = []
    monkeypatch.setattr(_memory, "keep_freed_memory", lambda: asked.append(True))
    res = invoke(["generic", "transfer-fw", "emu:type3", "-", "--json"], input=package(3000))
    assert res.exit_code == 0, both(res)
    assert asked == [True]


class ShortReads(io.BytesIO):
    """A stream that hands out less than asked (a raw pipe between writes)."""

    def read(self, size=-1):
        return super().read(min(size, 700) if size and size > 0 else size)


def test_part_offsets_are_where_each_parts_bytes_start_even_after_a_short_read():
    data = package(3000)
    parts = list(W._package_parts(ShortReads(data), 1024, "fw.bin"))
    # whole parts however the stream hands its bytes out: offsets go on the
    # wire in 128-byte units, so a short middle part would move all that follow
    assert [len(p[1]) for p in parts] == [1024, 1024, 3000 - 2048]
    offsets, total = [], 0
    for off, chunk, _, _ in parts:
        offsets.append(total)
        total += len(chunk)
        assert off == offsets[-1]
    assert b"".join(p[1] for p in parts) == data
    assert [p[2] for p in parts] == [True] + [False] * (len(parts) - 1)
    assert [p[3] for p in parts] == [False] * (len(parts) - 1) + [True]


def test_a_package_from_a_stream_of_short_reads_transfers_whole():
    from cxlmi_bindings import workflows
    data = package(5000)
    dev = build("type3")
    with Context() as ctx:
        ep = ctx.open_transport(EmulatedTransport("test", device=dev), "emu:type3")
        done = workflows.transfer_firmware(ep, ShortReads(data), slot=2, chunk_size=1024)
    assert (done.bytes, done.parts) == (len(data), 5)
