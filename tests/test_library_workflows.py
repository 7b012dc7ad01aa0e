# SPDX-License-Identifier: LGPL-2.1-or-later
"""The workflows as library methods: ``ep.transfer_firmware``, ``ep.wait``,
``ep.call_and_wait``, ``ep.drain_events``, ``ep.read_log``, ``ep.poison_list``.

Against emulated devices in-process (type 3 directly, a type 3 behind an
emulated switch port) and against a real ``cxl-mi emulate`` server over MCTP
over TCP: the progress steps they report, what a cancel (a threading.Event or
a callable) or a Ctrl-C leaves on the device (a transfer aborted, the slot
unchanged, a background operation asked to abort), and which event records a
drain clears (only those handed to the caller).  Background work runs on a
fake clock that the workflow's ``sleep`` advances.
"""

import os
import re
import selectors
import subprocess
import sys
import threading

import pytest

from cxlmi_bindings import Cancelled, CommandTimeout, Context, DeviceError, Interrupted, \
    Tunnel, UsageError
from cxlmi_bindings import workflows as WF
from cxlmi_bindings.emulator import device as DV
from cxlmi_bindings.emulator import state as emu_state
from cxlmi_bindings.emulator import type3 as T3
from cxlmi_bindings.emulator.profiles import build
from cxlmi_bindings.transports.emulated import EmulatedTransport

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GMER = bytes.fromhex("fbcd0a77c260417f85a9088b1621eba6")


def package(size, revision=b"REV-7.0.1"):
    return revision.ljust(16, b"\0") + bytes((i * 3 + 1) & 0xFF for i in range(size - 16))


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class Recorder:
    """An endpoint's messages by registry name, as they go."""

    def __init__(self, ep):
        self.names = []
        real = ep.call

        def call(command, request=None, tunnel=None, **fields):
            self.names.append(getattr(command, "name", command))
            return real(command, request, tunnel, **fields)
        ep.call = call

    def count(self, name):
        return self.names.count(name)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def type3(clock):
    """(endpoint, device): an emulated type 3 on the fake clock, messages recorded."""
    made = []

    def make(**options):
        dev = build("type3", clock=clock, **options)
        ctx = Context()
        ep = ctx.open_transport(EmulatedTransport("test", device=dev), "emu:type3")
        ep.sent = Recorder(ep)
        made.append(ctx)
        return ep, dev
    yield make
    for ctx in made:
        ctx.close()


# ------------------------------------------------------------------------ firmware

def test_a_package_goes_in_parts_with_a_step_after_each(type3, tmp_path):
    ep, dev = type3()
    steps = []
    done = ep.transfer_firmware(package(10000), progress=steps.append)
    assert (done.slot, done.bytes, done.chunk_size, done.parts) == (2, 10000, 1920, 6)
    assert done.activated is None and bytes(done.fw_info.fw_rev2).rstrip(b"\0") == b"REV-7.0.1"
    assert dev.fw_slots[1] == "REV-7.0.1" and dev._fw_xfer is None
    assert steps[0].stage == "ready" and steps[0].detail["slot"] == 2 and steps[0].done == 0
    moved = [s for s in steps if s.stage == "transfer"]
    assert [s.done for s in moved] == [1920, 3840, 5760, 7680, 9600, 10000]
    assert all(s.total == 10000 for s in moved)
    # a path and an open file go the same way (streamed, the name from the file)
    path = tmp_path / "next.bin"
    path.write_bytes(package(3000, b"REV-FROM-PATH"))
    done = ep.transfer_firmware(str(path), slot=3, chunk_size=1024)
    assert (done.name, done.slot, done.parts) == ("next.bin", 3, 3)
    assert dev.fw_slots[2] == "REV-FROM-PATH"
    with open(path, "rb") as f:
        assert ep.transfer_firmware(f, slot=2, activate="online").activated == "online"
    assert dev.fw_active == 2


def test_raising_at_the_ready_step_stops_before_anything_is_sent(type3):
    ep, dev = type3()

    def refuse(step):
        if step.stage == "ready":
            raise UsageError("not confirmed")
    with pytest.raises(UsageError):
        ep.transfer_firmware(package(5000), progress=refuse)
    assert ep.sent.count("transfer_fw") == 0 and dev._fw_xfer is None


@pytest.mark.parametrize("kind", ["event", "callable"])
def test_cancel_mid_transfer_aborts_it_and_leaves_the_slot_unchanged(type3, kind):
    ep, dev = type3()
    flag = threading.Event()
    cancel = flag if kind == "event" else flag.is_set

    def progress(step):
        if step.stage == "transfer" and step.done >= 3 * 1920:
            flag.set()
    with pytest.raises(Cancelled) as caught:
        ep.transfer_firmware(package(64 * 1024), progress=progress, cancel=cancel)
    stop = caught.value
    assert stop.outcome == "transfer-aborted" and stop.slot == 2 and stop.exit_code == 130
    assert "slot 2 was not changed" in str(stop)
    assert ep.sent.names[-1] == "transfer_fw" and ep.sent.count("transfer_fw") == 4
    assert dev._fw_xfer is None and dev.fw_slots[1] is None          # no partial image
    assert ep.transfer_firmware(package(4096)).slot == 2               # takes a new one


def test_a_cancel_set_before_the_first_part_sends_nothing(type3):
    ep, dev = type3()
    flag = threading.Event()
    flag.set()
    with pytest.raises(Cancelled) as caught:
        ep.transfer_firmware(package(5000), cancel=flag)
    assert caught.value.outcome == "nothing-sent"
    assert ep.sent.count("transfer_fw") == 0


def test_ctrl_c_mid_transfer_is_a_keyboard_interrupt_after_the_abort(type3):
    ep, dev = type3()

    def progress(step):
        if step.stage == "transfer" and step.done > 5000:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt) as caught:
        ep.transfer_firmware(package(20000), progress=progress)
    assert isinstance(caught.value, Interrupted) and not isinstance(caught.value, Exception)
    assert caught.value.outcome == "transfer-aborted"
    assert dev._fw_xfer is None and dev.fw_slots[1] is None


def test_cancel_while_the_component_checks_the_package_aborts_that(type3, clock):
    ep, dev = type3(fw_transfer_seconds=3.0)
    flag = threading.Event()
    seen = []

    def progress(step):
        seen.append(step.stage)
        if step.stage == "verify" and step.done >= 30:
            flag.set()
    with pytest.raises(Cancelled) as caught:
        WF.transfer_firmware(ep, package(1000), progress=progress, cancel=flag,
                             sleep=clock.sleep)
    stop = caught.value
    assert stop.stage == "verify" and stop.outcome == "abort-requested" and stop.error is None
    assert stop.status["return_code_name"] == "ABORT" and not stop.status["running"]
    assert ep.sent.count("request_bg_op_abort") == 1
    assert dev.fw_slots[1] is None and "slot 2 was not changed" in str(stop)
    assert seen.count("verify") >= 2


def test_firmware_refusals_are_library_errors(type3):
    ep, dev = type3()
    with pytest.raises(UsageError, match="active slot"):
        ep.transfer_firmware(package(5000), slot=1)
    with pytest.raises(UsageError, match="multiple of 128"):
        ep.transfer_firmware(package(5000), chunk_size=100)
    with pytest.raises(UsageError, match="at most 1920"):
        ep.transfer_firmware(package(5000), chunk_size=4096)
    with pytest.raises(UsageError, match="is empty"):
        ep.transfer_firmware(b"")
    with pytest.raises(DeviceError) as caught:                    # not a package: FWAUTH
        ep.transfer_firmware(b"\x01\x02".ljust(4096, b"\0"))
    assert caught.value.name == "FWAUTH" and dev._fw_xfer is None
    assert ep.sent.count("transfer_fw") == 4                      # initiate 3 parts, abort
    assert ep.sent.names[-2:] == ["transfer_fw", "transfer_fw"]


def test_with_no_empty_slot_the_library_refuses_to_pick_one(type3):
    ep, dev = type3()
    dev.fw_slots[:] = ["EMU FW 1.0.0", "REV-1.0", "REV-2.0"]
    dev.fw_active, dev.fw_staged = 2, 3
    with pytest.raises(UsageError, match=r"no empty firmware slot: slot 1 holds "
                                         r"'EMU FW 1.0.0', slot 3 'REV-2.0' \(staged\)"):
        ep.transfer_firmware(package(5000))
    assert ep.sent.count("transfer_fw") == 0
    assert dev.fw_slots == ["EMU FW 1.0.0", "REV-1.0", "REV-2.0"] and dev.fw_staged == 3
    assert ep.transfer_firmware(package(5000), slot=1).slot == 1      # named: overwritten
    assert dev.fw_slots[0] == "REV-7.0.1"


def test_the_lsa_is_read_and_written_in_what_one_message_carries(type3):
    ep, dev = type3()
    data = bytes((i * 11 + 1) & 0xFF for i in range(5000))
    done = ep.write_lsa(1000, data)
    assert (done.bytes, done.requests, done.part_size) == (5000, 3, 2040)
    assert bytes(dev.lsa[1000:6000]) == data and ep.sent.count("memdev_set_lsa") == 3
    steps = []
    assert ep.read_lsa(1000, 5000, progress=steps.append) == data
    assert ep.sent.count("memdev_get_lsa") == 3 and [s.done for s in steps] == [2048, 4096,
                                                                                 5000]
    with pytest.raises(UsageError, match="runs past the end of the 65536-byte"):
        ep.write_lsa(65000, data)
    with pytest.raises(UsageError, match="the data is empty: nothing to write"):
        ep.write_lsa(0, b"")
    assert ep.sent.count("memdev_set_lsa") == 3                   # nothing sent
    # through a switch port: 16 bytes less per level
    with Context() as ctx:
        sw = ctx.open("emu:switch")
        done = sw.write_lsa(0, data, tunnel=Tunnel.switch(1))
        assert done.part_size == 2048 - 16 - 8
        assert sw.read_lsa(0, 5000, tunnel=Tunnel.switch(1)) == data


def test_a_type3_behind_a_switch_port_takes_a_package_through_the_tunnel():
    with Context() as ctx:
        ep = ctx.open("emu:switch")
        steps = []
        done = ep.transfer_firmware(package(8192, b"REV-BEHIND"), tunnel=Tunnel.switch(1),
                                    progress=steps.append)
        assert done.chunk_size == 1792 and done.parts == 5       # one tunnel level less
        info = ep.get_fw_info(tunnel=Tunnel.switch(1))
        assert bytes(info.fw_rev2).rstrip(b"\0") == b"REV-BEHIND"
        assert steps[-1].done == 8192
        with pytest.raises(DeviceError):                          # the switch has no slots
            ep.transfer_firmware(package(4096), slot=2)


def test_a_package_the_component_rejects_while_checking_it_is_a_device_error(type3, clock,
                                                                             monkeypatch):
    ep, dev = type3(fw_transfer_seconds=2.0)

    def reject(slot, package):
        raise DV.Reply(DV.FWAUTH, "signature does not match")
    monkeypatch.setattr(dev, "_fw_store", reject)
    with pytest.raises(DeviceError) as caught:
        WF.transfer_firmware(ep, package(1000), sleep=clock.sleep)
    assert caught.value.name == "FWAUTH" and caught.value.command == "transfer_fw"
    assert dev.fw_slots[1] is None


def test_activation_at_reset_is_said_and_a_failed_background_activation_raises(type3, clock,
                                                                              monkeypatch):
    ep, dev = type3()
    done = WF.transfer_firmware(ep, package(3000), slot=3, activate="reset", sleep=clock.sleep)
    assert done.activated == "reset" and dev.fw_staged == 3 and dev.fw_active == 1

    def activate_later(req):
        def fail():
            raise DV.Reply(DV.FWAUTH, "activation failed")
        return DV.Background(1.0, finish=fail)
    monkeypatch.setattr(dev, "cmd_activate_fw", activate_later)
    with pytest.raises(DeviceError) as caught:
        WF.transfer_firmware(ep, package(3000), slot=2, activate="online", sleep=clock.sleep)
    assert caught.value.name == "FWAUTH" and caught.value.command == "activate_fw"


# ------------------------------------------------------------------------ background

def test_wait_follows_a_background_operation_with_progress(type3, clock):
    ep, dev = type3(sanitize_seconds=10)
    assert ep.memdev_sanitize().opcode == 0x4400
    steps = []
    status = WF.wait(ep, opcode=0x4400, progress=steps.append, sleep=clock.sleep)
    assert status["return_code_name"] == "SUCCESS" and status["percent_complete"] == 100
    done = [s.done for s in steps]
    assert len(done) >= 10 and done == sorted(done) and done[-1] == 100
    assert all(s.stage == "background" and s.total == 100 for s in steps)


def test_wait_names_the_wrong_operation_and_times_out(type3, clock):
    ep, dev = type3(secure_erase_seconds=1000)
    ep.memdev_secure_erase()
    with pytest.raises(UsageError, match="4401h"):
        WF.wait(ep, opcode=0x4400, sleep=clock.sleep)
    with pytest.raises(CommandTimeout, match="goes on"):
        WF.wait(ep, timeout=0.05, interval=0.01)                  # real time
    assert not dev.bg.done


def test_cancelling_a_wait_asks_the_device_to_abort(type3, clock):
    ep, dev = type3(sanitize_seconds=10)
    flag = threading.Event()

    def progress(step):
        if step.done >= 20:
            flag.set()
    with pytest.raises(Cancelled) as caught:
        WF.call_and_wait(ep, "memdev_sanitize", progress=progress, cancel=flag,
                         sleep=clock.sleep)
    assert caught.value.outcome == "abort-requested"
    assert dev.bg.done and dev.bg.return_code == DV.ABORT
    assert "asked the device to abort" in str(caught.value)
    # an operation that cannot be aborted goes on, and the stop says so
    ep, dev = type3(secure_erase_seconds=10)
    flag.clear()
    with pytest.raises(Cancelled) as caught:
        WF.call_and_wait(ep, "memdev_secure_erase", progress=progress, cancel=flag,
                         sleep=clock.sleep)
    assert caught.value.error.name == "NO_BGABORT" and not dev.bg.done
    assert "goes on" in str(caught.value)
    # a cancel set before the command sends nothing
    with pytest.raises(Cancelled) as caught:
        ep.call_and_wait("memdev_sanitize", cancel=lambda: True)
    assert caught.value.outcome == "nothing-sent" and ep.sent.count("memdev_sanitize") == 0


def test_an_abort_whose_status_cannot_be_read_back_does_not_claim_it_stopped(type3, clock):
    ep, dev = type3(sanitize_seconds=10)
    real = ep.call

    def call(command, request=None, tunnel=None, **fields):
        name = getattr(command, "name", command)
        if name == "bg_op_status" and "request_bg_op_abort" in ep.sent.names:
            raise DeviceError(0x15, command)            # the status cannot be read
        return real(command, request, tunnel, **fields)
    ep.call = call
    with pytest.raises(Cancelled) as caught:
        WF.call_and_wait(ep, "memdev_sanitize", cancel=lambda: ep.sent.names.count(
            "bg_op_status") >= 2, sleep=clock.sleep)
    text = str(caught.value)
    assert caught.value.outcome == "abort-requested" and caught.value.status is None
    assert "could not be read back" in text and "Background Operation Status (0002h)" in text
    assert "it stopped" not in text
    assert dev.bg.done and dev.bg.return_code == DV.ABORT      # the abort itself went


def test_call_and_wait_returns_the_end_or_raises_the_failure(type3, clock, monkeypatch):
    ep, dev = type3(sanitize_seconds=2)
    done = WF.call_and_wait(ep, "memdev_sanitize", sleep=clock.sleep)
    assert done.started and done.status["return_code"] == 0 and done.result is None
    quick = ep.call_and_wait("identify")                          # no background: at once
    assert not quick.started and quick.result.component_type == 3
    ep, dev = type3(sanitize_seconds=1)

    def fail():
        raise DV.Reply(DV.MEDIAFAILURE, "boom")
    monkeypatch.setattr(dev, "_sanitize_done", fail)
    with pytest.raises(DeviceError) as caught:
        WF.call_and_wait(ep, "memdev_sanitize", sleep=clock.sleep)
    assert caught.value.name == "MEDIAFAILURE" and caught.value.command == "memdev_sanitize"


def test_wait_and_call_and_wait_raise_a_failure_and_honour_a_zero_timeout(type3, clock,
                                                                           monkeypatch):
    ep, dev = type3(sanitize_seconds=1)

    def fail():
        raise DV.Reply(DV.MEDIAFAILURE, "boom")
    monkeypatch.setattr(dev, "_sanitize_done", fail)
    ep.memdev_sanitize()
    with pytest.raises(DeviceError) as caught:                 # wait() too, not only call_and_wait
        WF.wait(ep, sleep=clock.sleep)
    assert caught.value.name == "MEDIAFAILURE"
    ep, dev = type3(secure_erase_seconds=10)
    ep.memdev_secure_erase()
    with pytest.raises(CommandTimeout):                         # 0 s: the first poll decides
        WF.wait(ep, timeout=0, sleep=clock.sleep)
    ep, dev = type3(secure_erase_seconds=10)
    with pytest.raises(CommandTimeout, match="goes on"):
        WF.call_and_wait(ep, "memdev_secure_erase", timeout=0, sleep=clock.sleep)
    assert ep.sent.count("bg_op_status") == 1 and dev.bg_busy()


def test_ctrl_c_once_the_operation_ended_says_it_had_finished(type3, clock):
    ep, dev = type3(sanitize_seconds=2)

    def progress(step):
        if step.done == 100:
            raise KeyboardInterrupt
    with pytest.raises(Interrupted) as caught:
        WF.call_and_wait(ep, "memdev_sanitize", progress=progress, sleep=clock.sleep)
    assert "already finished (SUCCESS, 100 %)" in str(caught.value)
    assert dev.bg.return_code == 0


# ------------------------------------------------------------------------ event records

def _events(dev, info=20, fail=1):
    for _ in range(info):
        dev.add_event(T3.EVENT_LOG_INFO, GMER)
    for _ in range(fail):
        dev.add_event(T3.EVENT_LOG_FAILURE, GMER)


def test_drain_clears_every_batch_the_caller_took(type3):
    ep, dev = type3()
    _events(dev)
    got = {}
    for batch in ep.drain_events(clear=True):
        assert batch.error is None
        got.setdefault(batch.name, []).extend(r.handle for r in batch.records)
    assert got["info"] == list(range(1, 21)) and len(got["fail"]) == 1
    assert all(not log.records for log in dev.event_logs)


def test_drain_clears_nothing_the_caller_did_not_take(type3):
    ep, dev = type3()
    _events(dev)
    drain = ep.drain_events("info", clear=True)
    first = next(drain)
    assert len(first.records) == 15 and first.more and not first.cleared
    drain.close()                               # stopped after the first batch
    assert len(dev.event_logs[0].records) == 20 and ep.sent.count("clear_event_records") == 0
    # taking the first and asking for the next clears the first only
    drain = ep.drain_events("info", clear=True)
    first = next(drain)
    second = next(drain)
    assert first.cleared and not second.cleared and len(second.records) == 5
    drain.close()
    assert [handle for handle, _ in dev.event_logs[0].records] == list(range(16, 21))


def test_drain_without_clear_reads_one_batch_a_log_and_changes_nothing(type3):
    ep, dev = type3()
    _events(dev, info=3, fail=0)
    batches = list(ep.drain_events())
    assert [b.name for b in batches] == ["info", "warn", "fail", "fatal", "dcd"]
    assert len(batches[0].records) == 3 and not batches[0].more
    assert len(dev.event_logs[0].records) == 3 and ep.sent.count("clear_event_records") == 0


def test_a_cancel_ends_the_drain_after_clearing_what_was_taken(type3):
    ep, dev = type3()
    _events(dev)
    flag = threading.Event()
    taken = []
    for batch in ep.drain_events(clear=True, cancel=flag):
        taken.append(batch)
        flag.set()
    assert len(taken) == 1 and taken[0].cleared
    assert len(dev.event_logs[0].records) == 5 and len(dev.event_logs[2].records) == 1


def test_a_log_that_fails_is_a_batch_with_the_error_and_the_drain_goes_on(type3, monkeypatch):
    ep, dev = type3()
    _events(dev, info=0, fail=2)
    real = dev.cmd_get_event_records

    def picky(req):
        if req.event_log == 0:
            raise DV.Reply(DV.INTERNAL, "info log broken")
        return real(req)
    monkeypatch.setattr(dev, "cmd_get_event_records", picky)
    batches = list(ep.drain_events(["info", "failure"], clear=True))
    assert batches[0].error.name == "INTERNAL" and batches[0].records == []
    assert [len(b.records) for b in batches[1:]] == [2]
    with pytest.raises(UsageError):
        list(ep.drain_events("nonsense"))


def test_a_device_that_does_not_clear_gets_the_batch_once_more_then_the_drain_stops(
        type3, monkeypatch):
    import itertools
    ep, dev = type3()
    _events(dev, info=20, fail=0)               # 15 a batch: more wait
    monkeypatch.setattr(dev, "cmd_clear_event_records", lambda req: None)   # takes no effect
    batches = list(itertools.islice(ep.drain_events("info", clear=True), 5))
    assert len(batches) == 2
    assert batches[0].cleared and not batches[0].repeated
    assert batches[1].repeated and [r.handle for r in batches[1].records] == list(
        range(1, 16))


# ------------------------------------------------------------------------ logs

def test_read_log_reads_a_whole_log_in_windows(type3):
    ep, dev = type3()
    dev.response_msg_limit = 8                  # 256-byte replies
    for i in range(40):
        dev.debug("line %d of the vendor debug log" % i)
    steps = []
    got = ep.read_log("vendor-debug", progress=steps.append)
    assert got.data == bytes(dev.debug_log) and got.name == "vendor-debug"
    assert ep.sent.count("get_log") == len(steps) == -(-len(dev.debug_log) // 256)
    assert steps[-1].done == steps[-1].total == len(dev.debug_log)
    part = ep.read_log(got.uuid, offset=100, length=300)
    assert part.data == bytes(dev.debug_log)[100:400] and part.offset == 100
    cel = ep.read_log("cel", command="get_log_cel")
    assert len(cel.entries) == len(dev.command_effects()) and cel.data == dev.cel_bytes()
    assert ep.read_log("0da9c0b5-bf41-4b78-8f79-96b1623b3f17").data == dev.cel_bytes()
    with pytest.raises(UsageError, match="does not keep"):
        ep.read_log("0123456789abcdef0123456789abcdef")
    with pytest.raises(Cancelled):
        ep.read_log("vendor-debug", cancel=lambda: True)


def test_the_cel_is_read_from_a_whole_entry_only(type3):
    ep, dev = type3()
    for command in (None, "get_log_cel"):
        with pytest.raises(UsageError, match="offset 6: .* whole 4-byte entries"):
            ep.read_log("cel", offset=6, command=command)
    assert ep.sent.count("get_log") == ep.sent.count("get_log_cel") == 0
    got = ep.read_log("cel", offset=8, command="get_log_cel")
    assert got.data == dev.cel_bytes()[8:] and len(got.entries) == len(dev.command_effects()) - 2


def test_identify_bounds_the_log_windows_and_an_empty_reply_ends_the_read(type3, monkeypatch):
    ep, dev = type3()
    dev.max_msg_size = 9                        # 512-byte messages (the limit is still 2^11)
    for i in range(40):
        dev.debug("line %d of the vendor debug log" % i)
    assert ep.payload_limits() == (512, 512)
    got = ep.read_log("vendor-debug")
    assert got.data == bytes(dev.debug_log)
    assert ep.sent.count("get_log") == -(-len(dev.debug_log) // 512)
    # a component that answers a window with no bytes: the read stops there
    monkeypatch.setattr(dev, "cmd_get_log", lambda req: b"")
    steps = []

    def progress(step):
        steps.append(step)
        if len(steps) > 3:
            raise RuntimeError("the read goes on and on")
    assert ep.read_log("vendor-debug", progress=progress).data == b"" and steps == []


# ------------------------------------------------------------------------ poison list

def test_the_poison_list_comes_whole_across_pages(type3):
    ep, dev = type3()
    dev.response_msg_limit = 8                  # 14 records a page
    for i in range(40):
        dev.add_media_error(i * 0x1000, event=False)
    steps = []
    got = ep.poison_list(progress=steps.append)
    assert got.pages == 3 and [s.done for s in steps] == [1, 2, 3]
    assert [r.media_err_addr & ~0x3F for r in got.records] == [i * 0x1000 for i in range(40)]
    assert got.address == 0 and got.length == dev.total_bytes
    narrow = ep.poison_list(0x2000, 0x2000)
    assert [r.media_err_addr & ~0x3F for r in narrow.records] == [0x2000, 0x3000]
    with pytest.raises(UsageError, match="past the end"):
        ep.poison_list(dev.total_bytes)
    with pytest.raises(Cancelled):
        ep.poison_list(cancel=lambda: True)     # looked at between pages


def test_a_page_with_no_records_ends_the_list_even_with_the_more_flag(type3, monkeypatch):
    ep, dev = type3()
    real = dev.cmd_get_poison_list

    def stuck(req):
        rsp = real(req)
        rsp.poison_list_flags |= WF.POISON_MORE          # more, yet nothing in the page
        return rsp
    monkeypatch.setattr(dev, "cmd_get_poison_list", stuck)
    steps = []

    def progress(step):
        steps.append(step)
        if len(steps) > 3:
            raise RuntimeError("the list goes on and on")
    got = ep.poison_list(progress=progress)
    assert got.pages == 1 and got.records == []
    assert not got.reply.poison_list_flags & WF.POISON_MORE


# ------------------------------------------------------------------------ over TCP

@pytest.fixture
def server(tmp_path):
    """A `cxl-mi emulate` type 3 whose state is seeded from a device built here
    (20 info events), and read back from its state file."""
    seed = build("type3")
    _events(seed, info=20, fail=0)
    path = str(tmp_path / "state.json")
    emu_state.save(path, seed)
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("CXLMI_TARGET", None)
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate", "--profile", "type3",
                             "--listen", "127.0.0.1:0", "--state", path], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    line = proc.stdout.readline() if sel.select(20) else ""
    sel.close()
    m = re.search(r"listening on tcp:127\.0\.0\.1:(\d+)", line)
    assert m, line

    def device():
        return emu_state.load(path, build("type3"))
    yield "tcp:127.0.0.1:%s" % m.group(1), device
    proc.kill()
    proc.wait(10)
    proc.stdout.close()
    proc.stderr.close()


def test_over_tcp_a_cancelled_transfer_and_a_partial_drain_leave_the_device_right(server):
    target, device = server
    with Context() as ctx:
        ep = ctx.open(target)
        flag = threading.Event()
        with pytest.raises(Cancelled) as caught:
            ep.transfer_firmware(package(32 * 1024), cancel=flag,
                                 progress=lambda s: s.done >= 4000 and flag.set())
        assert caught.value.outcome == "transfer-aborted"
        dev = device()
        assert dev._fw_xfer is None and dev.fw_slots[1] is None
        assert bytes(ep.get_fw_info().fw_rev2).rstrip(b"\0") == b""
        assert ep.transfer_firmware(package(4096)).slot == 2      # nothing left open

        drain = ep.drain_events("info", clear=True)
        first = next(drain)
        assert len(first.records) == 15
        drain.close()
        assert len(device().event_logs[0].records) == 20          # not taken: kept
        taken = [b for b in ep.drain_events("info", clear=True)]
        assert sum(len(b.records) for b in taken) == 20
        assert not device().event_logs[0].records


def test_the_pythonic_layer_names_what_is_wrong_with_a_command_or_a_tunnel():
    # KeyError, AttributeError ('... has no attribute hops') and TypeError escaped
    from cxlmi_bindings import cxlmi_tunnel_mld
    from cxlmi_bindings.errors import UsageError
    from cxlmi_bindings.tunnel import Tunnel
    with Context() as ctx:
        ep = ctx.open("emu:mld")
        # libcxlmi's own tunnel structure, as cxlmi_tunnel_mld() makes it, is taken
        assert ep.identify(tunnel=cxlmi_tunnel_mld(1)).component_type == 0x03
        cases = [
            (lambda: ep.call("memdev_get_helth_info"),
             "no command named 'memdev_get_helth_info' (did you mean memdev_get_health_info"),
            (lambda: ep.call(None), "a command is named by a string"),
            (lambda: ep.identify(tunnel=(2, 1)), "tunnel: expected a Tunnel"),
            (lambda: Tunnel.switch("a"), "tunnel id 'a' is not a number"),
            (lambda: Tunnel([(0,)]), "a tunnel hop is (target type, id), not (0,)"),
        ]
        for call, message in cases:
            with pytest.raises(UsageError) as info:
                call()
            assert message in str(info.value)
        with pytest.raises(KeyError):                   # as before, for callers catching it
            ep.call("nonexistent")
        assert ep.call("IDENTIFY").component_type == ep.call("identify").component_type


def test_a_request_structure_carries_the_tail_its_count_says_as_in_the_compat_api():
    # ep.call sent only sizeof(req) of a from_buffer request (b'\x03': PAYLOADLEN) where
    # cxlmi_cmd_fmapi_get_phys_port_state sent its three port ids
    import ctypes
    import cxlmi_bindings as cxlmi
    from cxlmi_bindings.errors import UsageError
    req_t = cxlmi.struct_cxlmi_cmd_fmapi_get_phys_port_state_req
    with Context() as ctx:
        ep = ctx.open("emu:switch")
        buf = ctypes.create_string_buffer(ctypes.sizeof(req_t) + 3)
        req = req_t.from_buffer(buf)
        req.num_ports = 3
        buf[ctypes.sizeof(req_t):] = bytes([0, 1, 3])
        assert [p.port_id for p in ep.call("fmapi_get_phys_port_state", req).ports] == [0, 1, 3]
        short = req_t(num_ports=3)                      # no room for the ids it counts
        with pytest.raises(UsageError) as info:
            ep.call("fmapi_get_phys_port_state", short)
        assert "num_ports says 3 entries, more than the structure's buffer holds" \
            in str(info.value)
