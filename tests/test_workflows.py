# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi` workflows end to end against emulated devices.

transfer-fw (parts, progress, background, abort on Ctrl-C, --activate),
--wait on background commands (sanitize, secure erase, scan media),
get-event-records --all [--clear], get-log / get-log-cel of whole logs,
get-poison-list across pages.  Each test drives one in-process device that
every command of the test shares; background work runs on a fake clock that
the workflows' poll sleep advances, so nothing waits for real.
"""

import json
import struct

import pytest

from cxlmi_bindings import registry
from cxlmi_bindings.emulator import device as DV
from cxlmi_bindings.emulator import type3 as T3
from cxlmi_bindings.emulator.profiles import build
from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.transports.emulated import EmulatedTransport

import cxlmi_cli.options as cli_options
import cxlmi_cli.target as cli_target
from cxlmi_cli.commands import workflows as W
from cli_helpers import both, clean_cli, invoke, jdoc  # noqa: F401  (clean_cli: a fixture)

MiB = 1 << 20


class Clock:
    """A device clock that moves only when a workflow sleeps between polls."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture(autouse=True)
def _clean(clean_cli):
    yield


@pytest.fixture
def clock(monkeypatch):
    c = Clock()

    def sleep(seconds):
        c.now += seconds
    monkeypatch.setattr(W, "_sleep", sleep)
    return c


@pytest.fixture
def device(monkeypatch, clock):
    """Every command of the test reaches one Type 3 device on the fake clock;
    ``device.sent`` records (registry name, request) of each command."""
    made = {}

    def make(profile="type3", **options):
        dev = build(profile, clock=clock, **options)
        made["device"] = dev

        def opener(target, timeout=None):
            return Context().open_transport(EmulatedTransport("test", device=dev), target)
        monkeypatch.setattr(cli_target, "open_endpoint", opener)
        return dev

    sent = []
    real_call = cli_options.Invocation.call

    def call(inv, entry, request=None):
        sent.append((entry.name, dict(request) if isinstance(request, dict) else request))
        return real_call(inv, entry, request)
    monkeypatch.setattr(cli_options.Invocation, "call", call)
    make.sent = sent
    return make


def names(sent, name):
    return [req for n, req in sent if n == name]


def package(size, revision=b"REV-2.0.0"):
    body = bytes((i * 7 + 3) & 0xFF for i in range(size - 16))
    return revision.ljust(16, b"\0") + body


@pytest.fixture
def fw(tmp_path):
    def write(size, revision=b"REV-2.0.0"):
        p = tmp_path / ("fw-%d.bin" % size)
        p.write_bytes(package(size, revision))
        return str(p)
    return write


def interrupt_at(monkeypatch, step):
    """Ctrl-C at the ``step``-th progress update of the workflow."""
    calls = {"n": 0}
    real = W.Progress.update

    def update(self, completed, description=None):
        calls["n"] += 1
        if calls["n"] == step:
            raise KeyboardInterrupt
        return real(self, completed, description)
    monkeypatch.setattr(W.Progress, "update", update)
    return calls


# ------------------------------------------------------------------------ transfer-fw

def test_a_multi_megabyte_package_goes_in_initiate_continue_end_parts(device, fw):
    dev = device()
    path = fw(3 * MiB)
    res = invoke(["generic", "transfer-fw", "emu:type3", path, "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)["result"]
    parts = names(device.sent, "transfer_fw")
    chunk = 2048 - 128                      # Identify: 2^11 bytes, less the 128-byte header
    assert doc["chunk_size"] == chunk and doc["slot"] == 2 and doc["bytes"] == 3 * MiB
    assert doc["parts"] == len(parts) == -(-3 * MiB // chunk)
    assert [p["action"] for p in parts] == [1] + [2] * (len(parts) - 2) + [3]
    assert [p["offset"] for p in parts] == [i * chunk // 128 for i in range(len(parts))]
    assert all(len(p["data"]) == chunk for p in parts[:-1])
    assert b"".join(p["data"] for p in parts) == package(3 * MiB)
    assert parts[-1]["slot"] == 2
    assert dev.fw_slots[1] == "REV-2.0.0" and dev.fw_active == 1
    assert doc["fw_info"]["fw_rev2"] == "REV-2.0.0"


def test_a_package_that_fits_one_part_goes_with_the_full_action(device, fw):
    dev = device()
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(1000)])
    assert res.exit_code == 0, both(res)
    assert [p["action"] for p in names(device.sent, "transfer_fw")] == [0]
    assert dev.fw_slots[1] == "REV-2.0.0"
    assert "REV-2.0.0" in res.stdout and "slot" in res.stdout      # the table


def test_transfer_raw_output_is_empty_and_table_marks_the_slots(device, fw):
    device()
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "-o", "raw"])
    assert res.exit_code == 0 and res.stdout_bytes == b""
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--slot", "3"])
    assert res.exit_code == 0, both(res)
    assert "3 of up to 1920 bytes" in res.stdout and "*" in res.stdout


def test_the_part_size_follows_identify_and_the_tunnel(device, fw):
    dev = device()
    dev.max_msg_size = 9                    # 512-byte messages
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(4096), "--json"])
    assert res.exit_code == 0, both(res)
    assert jdoc(res)["result"]["chunk_size"] == 384
    device("switch")
    res = invoke(["generic", "transfer-fw", "emu:switch", "--port", "1", fw(8192), "--json"])
    assert res.exit_code == 0, both(res)
    # 2048 less one tunnel level (16 bytes), less the 128-byte header, in 128-byte steps
    assert jdoc(res)["result"]["chunk_size"] == 1792


def test_chunk_size_option_is_checked_against_the_limit(device, fw):
    device()
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(4096), "--chunk-size", "1K",
                  "--json"])
    assert res.exit_code == 0 and jdoc(res)["result"]["parts"] == 4
    for bad in ("100", "4K"):
        res = invoke(["generic", "transfer-fw", "emu:type3", fw(4096), "--chunk-size", bad])
        assert res.exit_code == 2, both(res)


def test_ctrl_c_during_a_transfer_sends_the_abort_action_and_exits_130(device, fw,
                                                                        monkeypatch):
    dev = device()
    interrupt_at(monkeypatch, 3)
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(1 * MiB)])
    assert res.exit_code == 130
    actions = [p["action"] for p in names(device.sent, "transfer_fw")]
    assert actions == [1, 2, 2, 4]          # three parts, then abort
    assert "slot 2 was not changed" in res.stderr and "Traceback" not in both(res)
    assert dev._fw_xfer is None and dev.fw_slots[1] is None
    # the device takes a new transfer at once
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(1 * MiB)])
    assert res.exit_code == 0 and dev.fw_slots[1] == "REV-2.0.0"


def test_ctrl_c_in_json_mode_is_a_json_error_object(device, fw, monkeypatch):
    device()
    interrupt_at(monkeypatch, 2)
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(64 * 1024), "--json"])
    assert res.exit_code == 130
    err = jdoc(res)["error"]
    assert err["type"] == "Interrupted" and err["exit_code"] == 130
    assert "not changed" in err["message"]


def test_a_background_finish_is_polled_to_its_end(device, fw):
    dev = device(fw_transfer_seconds=3.0)
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(10000), "--json"])
    assert res.exit_code == 0, both(res)
    assert len(names(device.sent, "bg_op_status")) >= 3
    assert dev.fw_slots[1] == "REV-2.0.0"


def test_ctrl_c_while_the_package_is_checked_in_the_background_aborts_it(device, fw,
                                                                         monkeypatch):
    dev = device(fw_transfer_seconds=3.0)
    interrupt_at(monkeypatch, 2)            # the second poll of the background wait
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(1000)])
    assert res.exit_code == 130, both(res)
    assert names(device.sent, "request_bg_op_abort")
    assert "slot 2 was not changed" in res.stderr
    assert dev.fw_slots[1] is None


def test_activate_is_destructive_and_confirmed_first(device, fw):
    dev = device()
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--activate", "online"])
    assert res.exit_code == 2 and "--yes" in both(res)
    assert names(device.sent, "transfer_fw") == []        # nothing was sent
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--activate", "online",
                  "--yes", "--json"])
    assert res.exit_code == 0, both(res)
    assert "activate it online" in res.stderr
    assert dev.fw_active == 2 and jdoc(res)["result"]["activated"] == "online"
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--slot", "3",
                  "--activate", "reset", "--yes"])
    assert res.exit_code == 0 and dev.fw_staged == 3 and dev.fw_active == 2


def test_slot_choice_and_refusals(device, fw, tmp_path):
    dev = device()
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--slot", "1"])
    assert res.exit_code == 2 and "active slot" in both(res)
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--slot", "9"])
    assert res.exit_code == 2
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert invoke(["generic", "transfer-fw", "emu:type3", str(empty)]).exit_code == 2
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--action", "full"])
    assert res.exit_code == 2 and "leave out --action" in both(res)
    assert invoke(["generic", "transfer-fw", "emu:type3"]).exit_code == 2
    # a device-side refusal (not a package) is exit 1 naming the return code
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000, revision=b"\x01\x02")])
    assert res.exit_code == 1 and "FWAUTH" in both(res)
    assert dev._fw_xfer is None


def test_without_an_empty_slot_nothing_is_overwritten_unless_named(device, fw):
    dev = device()
    dev.fw_slots[:] = ["EMU FW 1.0.0", "REV-1.0", "REV-2.0"]
    dev.fw_active, dev.fw_staged = 2, 3
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000)])
    assert res.exit_code == 2 and "Traceback" not in both(res)
    assert ("no empty firmware slot: slot 1 holds 'EMU FW 1.0.0', slot 3 'REV-2.0' "
            "(staged): name the slot to overwrite with --slot N") in res.stderr
    assert names(device.sent, "transfer_fw") == []                   # nothing sent
    assert dev.fw_slots == ["EMU FW 1.0.0", "REV-1.0", "REV-2.0"] and dev.fw_staged == 3
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--activate", "reset",
                  "--yes"])
    assert res.exit_code == 2 and dev.fw_slots[0] == "EMU FW 1.0.0" and dev.fw_staged == 3
    # the staged slot is never the default, even when it is the only other one
    dev.fw_slots[:] = ["EMU FW 1.0.0", None, "REV-2.0"]
    dev.fw_active, dev.fw_staged = 1, 3
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000)])
    assert res.exit_code == 0 and dev.fw_slots == ["EMU FW 1.0.0", "REV-2.0.0", "REV-2.0"]
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000)])
    assert res.exit_code == 2 and dev.fw_slots[2] == "REV-2.0"
    # named, a slot holding a package is overwritten
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000, b"REV-3.0"), "--slot", "3"])
    assert res.exit_code == 0, both(res)
    assert dev.fw_slots[2] == "REV-3.0"


def test_file_alone_uses_the_default_target(device, fw, monkeypatch):
    dev = device()
    monkeypatch.setenv("CXLMI_TARGET", "emu:type3")
    res = invoke(["generic", "transfer-fw", fw(3000)])
    assert res.exit_code == 0, both(res)
    assert dev.fw_slots[1] == "REV-2.0.0"


def test_one_part_by_hand_still_works(device, tmp_path):
    dev = device()
    p = tmp_path / "part.bin"
    p.write_bytes(package(256))
    res = invoke(["generic", "transfer-fw", "emu:type3", "--action", "full", "--slot", "2",
                  "--data", str(p)])
    assert res.exit_code == 0, both(res)
    assert dev.fw_slots[1] == "REV-2.0.0"


def test_the_transfer_table_says_bytes_parts_and_whether_it_was_activated(device, fw):
    device()
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000)])
    assert res.exit_code == 0, both(res)
    lines = [" ".join(line.split()) for line in res.stdout.splitlines()]
    assert "bytes 5000" in lines and "parts 3 of up to 1920 bytes" in lines
    assert "activated no" in lines
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--slot", "3",
                  "--activate", "reset", "--yes"])
    assert res.exit_code == 0, both(res)
    assert "activated at the next reset" in [" ".join(l.split()) for l in res.stdout.splitlines()]
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--slot", "9"])
    assert res.exit_code == 2 and "--slot 9: the component has slots 1-3" in res.stderr


# ------------------------------------------------------------------------ --wait

def test_sanitize_wait_follows_the_operation_to_its_end(device):
    dev = device(sanitize_seconds=10)
    dev.lsa[:4] = b"data"
    res = invoke(["memdev", "sanitize", "emu:type3", "--yes", "--wait", "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)
    op = doc["background_operation"]
    assert doc["background"] is True
    assert op["return_code"] == 0 and op["return_code_name"] == "SUCCESS"
    assert op["percent_complete"] == 100 and op["opcode"] == 0x4400
    assert len(names(device.sent, "bg_op_status")) >= 10
    assert bytes(dev.lsa[:4]) == b"\0\0\0\0" and not dev.media_disabled


def test_sanitize_wait_table_and_raw(device):
    device(sanitize_seconds=2)
    res = invoke(["memdev", "sanitize", "emu:type3", "--yes", "--wait"])
    assert res.exit_code == 0, both(res)
    assert "done (SUCCESS, 100 %" in res.stdout
    res = invoke(["memdev", "sanitize", "emu:type3", "--yes", "--wait", "-o", "raw"])
    assert res.exit_code == 0 and res.stdout_bytes == b""


@pytest.mark.parametrize("where", ["closing the progress bar", "checking the final status"])
def test_ctrl_c_as_the_waited_operation_ends_says_it_had_finished(device, monkeypatch, where):
    # a signal in the last steps after the final status read (the wait's own, or the
    # CLI's before it writes the result) is still told as "it had already finished"
    from cxlmi_bindings import workflows
    device(sanitize_seconds=2)
    target = (W._Bar, "close") if where.startswith("closing") else (workflows, "_check_status")
    real, fired = getattr(*target), []

    def interrupted_once(*args):
        if not fired:
            fired.append(True)
            raise KeyboardInterrupt
        return real(*args)
    monkeypatch.setattr(*target, interrupted_once)
    res = invoke(["memdev", "sanitize", "emu:type3", "--yes", "--wait"])
    assert fired and res.exit_code == 130, both(res)
    assert "sanitize: it had already finished (SUCCESS, 100 %): nothing to abort" in res.stderr


def test_without_wait_the_command_only_starts_the_operation(device):
    dev = device(sanitize_seconds=10)
    res = invoke(["memdev", "sanitize", "emu:type3", "--yes", "--json"])
    assert res.exit_code == 0 and jdoc(res)["background"] is True
    assert names(device.sent, "bg_op_status") == [] and dev.bg_busy()


def test_sanitize_still_needs_yes(device):
    dev = device(sanitize_seconds=1)
    res = invoke(["memdev", "sanitize", "emu:type3", "--wait"])
    assert res.exit_code == 2 and dev.bg is None


def test_ctrl_c_while_waiting_sends_request_abort_and_exits_130(device, monkeypatch):
    dev = device(sanitize_seconds=10)
    interrupt_at(monkeypatch, 4)
    res = invoke(["memdev", "sanitize", "emu:type3", "--yes", "--wait"])
    assert res.exit_code == 130
    assert names(device.sent, "request_bg_op_abort")
    assert dev.bg.done and dev.bg.return_code == DV.ABORT
    assert "abort" in res.stderr and "Traceback" not in both(res)


def test_an_operation_that_cannot_be_aborted_is_reported_as_going_on(device, monkeypatch):
    dev = device(secure_erase_seconds=10)
    interrupt_at(monkeypatch, 2)
    res = invoke(["memdev", "secure-erase", "emu:type3", "--yes", "--wait"])
    assert res.exit_code == 130
    assert names(device.sent, "request_bg_op_abort")
    assert "goes on" in res.stderr and "bg-op-status" in res.stderr
    assert not dev.bg.done


def test_scan_media_wait_shows_the_errors_found(device):
    dev = device()
    for i in range(3):
        dev.add_media_error(0x10000 + i * 0x1000, event=False)
    res = invoke(["memdev", "scan-media", "emu:type3", "--length", "256M", "--wait",
                  "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)
    found = doc["scan_media_results"]["record"]
    assert [r["media_error_address"] for r in found] == [0x10000, 0x11000, 0x12000]
    assert doc["background_operation"]["return_code_name"] == "SUCCESS"
    res = invoke(["memdev", "scan-media", "emu:type3", "--length", "256M", "--wait"])
    assert res.exit_code == 0 and "0x11000" in res.stdout


def test_a_failed_background_operation_is_exit_1(device, monkeypatch):
    dev = device(sanitize_seconds=1)

    def fail():
        raise DV.Reply(DV.MEDIAFAILURE, "boom")
    monkeypatch.setattr(dev, "_sanitize_done", fail)
    res = invoke(["memdev", "sanitize", "emu:type3", "--yes", "--wait", "--json"])
    assert res.exit_code == 1
    assert jdoc(res)["error"]["return_code_name"] == "MEDIAFAILURE"


# ------------------------------------------------------------------------ event records

GMER = bytes.fromhex("fbcd0a77c260417f85a9088b1621eba6")


def test_all_reads_every_log_and_says_more_wait_without_clear(device):
    dev = device()
    for _ in range(20):
        dev.add_event(T3.EVENT_LOG_INFO, GMER)
    dev.add_event(T3.EVENT_LOG_WARNING, GMER)
    res = invoke(["generic", "get-event-records", "emu:type3", "--all", "--json"])
    assert res.exit_code == 0, both(res)
    logs = jdoc(res)["result"]["logs"]
    assert [l["log"] for l in logs] == ["info", "warn", "fail", "fatal", "dcd"]
    assert len(logs[0]["records"]) == 15 and logs[0]["more_records"] is True
    assert len(logs[1]["records"]) == 1 and logs[1]["more_records"] is False
    assert logs[0]["records"][0]["handle"] == 1 and logs[0]["cleared"] == 0
    assert len(dev.event_logs[0].records) == 20                 # nothing cleared


def test_clear_drains_the_logs_by_handle(device):
    dev = device()
    for _ in range(20):
        dev.add_event(T3.EVENT_LOG_INFO, GMER)
    dev.add_event(T3.EVENT_LOG_FAILURE, GMER)
    res = invoke(["generic", "get-event-records", "emu:type3", "--clear", "--yes", "--json"])
    assert res.exit_code == 0, both(res)
    logs = {l["log"]: l for l in jdoc(res)["result"]["logs"]}
    assert [r["handle"] for r in logs["info"]["records"]] == list(range(1, 21))
    assert logs["info"]["cleared"] == 20 and logs["info"]["more_records"] is False
    assert logs["fail"]["cleared"] == 1
    assert all(not e.records for e in dev.event_logs)
    clears = names(device.sent, "clear_event_records")
    assert [c["handles"] for c in clears if c["event_log"] == 0] == [
        list(range(1, 16)), list(range(16, 21))]


def test_one_log_by_name_table_and_raw(device):
    dev = device()
    for _ in range(3):
        dev.add_event(T3.EVENT_LOG_WARNING, GMER)
    dev.add_event(T3.EVENT_LOG_INFO, GMER)
    res = invoke(["generic", "get-event-records", "emu:type3", "--all", "--log", "warn"])
    assert res.exit_code == 0, both(res)
    assert "general-media" in res.stdout and "warn  3 records" in res.stdout
    assert "info  " not in res.stdout                         # the one log named, only
    res = invoke(["generic", "get-event-records", "emu:type3", "--all", "--log", "warn",
                  "-o", "raw"])
    assert res.exit_code == 0
    head = res.stdout_bytes[:32]
    assert struct.unpack_from("<H", head, 20)[0] == 3 and len(res.stdout_bytes) == 32 + 3 * 128


def test_clear_needs_confirmation(device):
    dev = device()
    dev.add_event(T3.EVENT_LOG_INFO, GMER)
    res = invoke(["generic", "get-event-records", "emu:type3", "--clear"])
    assert res.exit_code == 2 and "--yes" in both(res)
    assert names(device.sent, "get_event_records") == []
    assert len(dev.event_logs[0].records) == 1


def test_without_all_the_command_reads_one_batch(device):
    dev = device()
    dev.add_event(T3.EVENT_LOG_FAILURE, GMER)
    res = invoke(["generic", "get-event-records", "emu:type3", "--event-log", "fail", "--json"])
    assert res.exit_code == 0
    assert jdoc(res)["result"]["record_count"] == 1


def test_all_raw_is_every_reply_of_every_log_in_order(device):
    dev = device()
    for _ in range(3):
        dev.add_event(T3.EVENT_LOG_INFO, GMER)
    dev.add_event(T3.EVENT_LOG_WARNING, GMER)
    res = invoke(["generic", "get-event-records", "emu:type3", "--all", "-o", "raw"])
    assert res.exit_code == 0, both(res)
    out = res.stdout_bytes
    assert len(out) == 5 * 32 + 4 * 128                         # five logs, four records
    assert struct.unpack_from("<H", out, 20)[0] == 3            # info first
    assert struct.unpack_from("<H", out, 32 + 3 * 128 + 20)[0] == 1


def test_an_overflowed_log_says_how_many_were_lost_and_when(device, clock):
    dev = device()
    dev.timestamp_base = (10 ** 18, clock.now)
    for _ in range(34):                         # the info log holds 32: two are lost
        clock.now += 1
        dev.add_event(T3.EVENT_LOG_INFO, GMER)
    res = invoke(["generic", "get-event-records", "emu:type3", "--all", "--log", "info",
                  "--json"])
    assert res.exit_code == 0, both(res)
    info = jdoc(res)["result"]["logs"][0]
    assert info["overflow_err_count"] == 2
    assert info["first_overflow_timestamp"] == 10 ** 18 + 33 * 10 ** 9
    assert info["last_overflow_timestamp"] == 10 ** 18 + 34 * 10 ** 9
    res = invoke(["generic", "get-event-records", "emu:type3", "--all", "--log", "info"])
    assert "info  15 records, more wait (--clear reads on), overflowed: 2 records lost" \
        in res.stdout


def test_clear_table_counts_what_was_cleared(device):
    dev = device()
    for _ in range(20):
        dev.add_event(T3.EVENT_LOG_INFO, GMER)
    res = invoke(["generic", "get-event-records", "emu:type3", "--clear", "--yes", "--log",
                  "info"])
    assert res.exit_code == 0, both(res)
    assert "info  20 records, 20 cleared" in res.stdout


def _info_log_broken(dev, monkeypatch):
    """Get Event Records of the info log answers INTERNAL; the other logs as ever."""
    real = dev.cmd_get_event_records

    def picky(req):
        if req.event_log == 0:
            raise DV.Reply(DV.INTERNAL, "info log broken")
        return real(req)
    monkeypatch.setattr(dev, "cmd_get_event_records", picky)


def test_a_log_that_cannot_be_read_is_said_and_the_others_are_shown(device, monkeypatch):
    dev = device()
    dev.add_event(T3.EVENT_LOG_FAILURE, GMER)
    _info_log_broken(dev, monkeypatch)
    res = invoke(["generic", "get-event-records", "emu:type3", "--all", "--json"])
    assert res.exit_code == 0, both(res)
    logs = {l["log"]: l for l in jdoc(res)["result"]["logs"]}
    assert logs["info"]["error"]["return_code_name"] == "INTERNAL"
    assert len(logs["fail"]["records"]) == 1 and logs["fail"]["error"] is None
    res = invoke(["generic", "get-event-records", "emu:type3", "--all"])
    assert res.exit_code == 0, both(res)
    assert "info  not read: get_event_records: CXL return code 4 (INTERNAL)" in res.stdout
    assert "fail  1 record" in res.stdout


def test_one_log_that_cannot_be_read_among_empty_ones_is_not_a_failed_command(device,
                                                                               monkeypatch):
    dev = device()
    _info_log_broken(dev, monkeypatch)
    res = invoke(["generic", "get-event-records", "emu:type3", "--all", "--json"])
    assert res.exit_code == 0, both(res)
    logs = jdoc(res)["result"]["logs"]
    assert logs[0]["error"]["return_code_name"] == "INTERNAL"
    assert [l["error"] for l in logs[1:]] == [None] * 4


def _three_records_the_device_will_not_clear(device, monkeypatch):
    dev = device()
    for _ in range(3):
        dev.add_event(T3.EVENT_LOG_INFO, GMER)

    def refuse(req):
        raise DV.Reply(DV.INTERNAL, "cannot clear")
    monkeypatch.setattr(dev, "cmd_clear_event_records", refuse)
    return dev


def test_records_read_but_not_cleared_are_still_the_answer(device, monkeypatch):
    dev = _three_records_the_device_will_not_clear(device, monkeypatch)
    res = invoke(["generic", "get-event-records", "emu:type3", "--clear", "--yes", "--log",
                  "info", "--json"])
    assert res.exit_code == 1, both(res)          # the clear asked for did not happen
    info = jdoc(res)["result"]["logs"][0]         # the one JSON document: the records read
    assert [r["handle"] for r in info["records"]] == [1, 2, 3] and info["cleared"] == 0
    assert info["error"]["message"].startswith("clear_event_records:")
    assert len(dev.event_logs[0].records) == 3


def test_a_clear_the_device_refuses_is_said_as_not_cleared_beside_the_records_read(
        device, monkeypatch):
    dev = _three_records_the_device_will_not_clear(device, monkeypatch)
    res = invoke(["generic", "get-event-records", "emu:type3", "--clear", "--yes", "--log",
                  "info"])
    assert res.exit_code == 1, both(res)
    assert "info  3 records, not cleared: clear_event_records: CXL return code 4 (INTERNAL)" \
        in res.stdout
    assert "not read" not in res.stdout
    assert res.stderr.splitlines()[-1] == (
        "cxl-mi: error: the records were read but not cleared (info event log): "
        "clear_event_records: CXL return code 4 (INTERNAL): internal device error")
    # the first batch read and cleared, the second refused: its records stay said
    dev = device()
    for _ in range(20):
        dev.add_event(T3.EVENT_LOG_INFO, GMER)
    real, calls = dev.cmd_get_event_records, []

    def second_refused(req):
        calls.append(req.event_log)
        if len(calls) > 1:
            raise DV.Reply(DV.INTERNAL, "log broken")
        return real(req)
    monkeypatch.setattr(dev, "cmd_get_event_records", second_refused)
    res = invoke(["generic", "get-event-records", "emu:type3", "--clear", "--yes", "--log",
                  "info"])
    assert res.exit_code == 0, both(res)
    assert "info  15 records, 15 cleared, the rest not read: get_event_records: CXL return " \
        "code 4 (INTERNAL)" in res.stdout


# ------------------------------------------------------------------------ logs

def test_get_log_cel_reads_the_whole_log_and_names_opcodes(device):
    dev = device()
    res = invoke(["generic", "get-log", "emu:type3", "cel", "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)
    entries = doc["result"]["entries"]
    assert len(entries) == len(dev.command_effects()) > 40
    by_op = {e["opcode"]: e for e in entries}
    assert by_op[0x4200]["opcode_decoded"] == registry.opcode_name(0x4200)
    assert "background-operation" in by_op[0x4400]["command_effect_decoded"]
    assert doc["log"]["name"] == "cel" and doc["log"]["bytes_read"] == 4 * len(entries)
    table = invoke(["generic", "get-log", "emu:type3", "cel"])
    assert "memdev_sanitize" in table.stdout and "4400h" in table.stdout
    raw = invoke(["generic", "get-log", "emu:type3", "--uuid", "cel", "-o", "raw"])
    assert raw.stdout_bytes == dev.cel_bytes()


def test_a_log_larger_than_a_reply_is_read_in_windows(device):
    dev = device()
    dev.response_msg_limit = 8                  # 256-byte replies
    for i in range(40):
        dev.debug("line %d of the vendor debug log" % i)
    res = invoke(["generic", "get-log", "emu:type3", "vendor-debug", "-o", "raw"])
    assert res.exit_code == 0, both(res)
    assert res.stdout_bytes == bytes(dev.debug_log)
    windows = names(device.sent, "get_log")
    assert len(windows) == -(-len(dev.debug_log) // 256) and windows[0]["length"] == 256
    res = invoke(["generic", "get-log", "emu:type3", "vendor-debug", "--offset", "100",
                  "--json"])
    assert bytes.fromhex(jdoc(res)["result"]["data"]) == bytes(dev.debug_log)[100:]


def test_the_log_object_says_its_size_and_what_was_read_from_the_offset(device):
    dev = device()
    for i in range(10):
        dev.debug("line %d of the vendor debug log" % i)
    size = len(dev.debug_log)
    res = invoke(["generic", "get-log", "emu:type3", "vendor-debug", "--offset", "100",
                  "--json"])
    assert res.exit_code == 0, both(res)
    log = jdoc(res)["log"]
    assert (log["name"], log["size"], log["offset"], log["bytes_read"]) == (
        "vendor-debug", size, 100, size - 100)
    assert jdoc(res)["result"]["length"] == size - 100


def test_a_log_read_from_an_offset_is_dumped_at_its_offsets(device):
    dev = device()
    for i in range(3):
        dev.debug("line %d" % i)
    size = len(dev.debug_log)
    res = invoke(["generic", "get-log", "emu:type3", "vendor-debug", "--offset", "20"])
    assert res.exit_code == 0, both(res)
    lines = res.stdout.splitlines()
    assert lines[1] == "%d bytes" % (size - 20)
    assert lines[2].startswith("00000014  ") and lines[3].startswith("00000024  ")
    res = invoke(["generic", "get-log", "emu:type3", "vendor-debug", "--offset", str(size)])
    assert res.exit_code == 0, both(res)
    assert res.stdout.splitlines()[1:3] == ["0 bytes", "(no data)"]


def test_the_cel_from_an_offset_inside_an_entry_is_refused_not_misdecoded(device):
    dev = device()
    for args in (["generic", "get-log", "emu:type3", "cel"], ["generic", "get-log-cel",
                                                              "emu:type3"]):
        res = invoke(args + ["--offset", "2"])
        assert res.exit_code == 2, both(res)
        assert "--offset 2: the Command Effects Log is read in whole 4-byte entries" \
            in res.stderr
        res = invoke(args + ["--offset", "2", "--length", "8"])     # one window by hand too
        assert res.exit_code == 2, both(res)
        assert "--offset 2: the Command Effects Log is read in whole 4-byte entries" \
            in res.stderr
        assert names(device.sent, args[1].replace("-", "_")) == []
    res = invoke(["generic", "get-log", "emu:type3", "cel", "--offset", "8", "--json"])
    assert res.exit_code == 0, both(res)
    assert jdoc(res)["result"]["data"] == dev.cel_bytes()[8:].hex()
    assert jdoc(res)["result"]["entries"][0]["opcode"] == struct.unpack_from(
        "<H", dev.cel_bytes(), 8)[0]


def test_get_log_cel_command_reads_it_all_too(device):
    dev = device()
    dev.response_msg_limit = 8
    res = invoke(["generic", "get-log-cel", "emu:type3", "--json"])
    assert res.exit_code == 0, both(res)
    assert len(jdoc(res)["result"]["entries"]) == len(dev.command_effects())
    one = invoke(["generic", "get-log-cel", "emu:type3", "--length", "8", "--json"])
    assert len(jdoc(one)["result"]["entries"]) == 2


def test_log_name_alone_uses_the_default_target(device, monkeypatch):
    device()
    monkeypatch.setenv("CXLMI_TARGET", "emu:type3")
    res = invoke(["generic", "get-log", "cel", "--json"])
    assert res.exit_code == 0, both(res)
    assert jdoc(res)["log"]["name"] == "cel"


def test_unknown_or_conflicting_logs_are_usage_errors(device):
    device()
    res = invoke(["generic", "get-log", "emu:type3", "0123456789abcdef0123456789abcdef"])
    assert res.exit_code == 2 and "does not keep" in both(res)
    res = invoke(["generic", "get-log", "emu:type3", "cel", "--uuid", "vendor-debug"])
    assert res.exit_code == 2
    res = invoke(["generic", "get-log", "emu:type3"])
    assert res.exit_code == 2 and "LOG" in both(res)


# ------------------------------------------------------------------------ label storage area

def _pattern(size, seed=13):
    return bytes((i * seed + 5) & 0xFF for i in range(size))


def test_an_lsa_read_longer_than_a_reply_goes_in_windows(device):
    dev = device()
    dev.lsa[:] = _pattern(len(dev.lsa))
    res = invoke(["memdev", "get-lsa", "emu:type3", "--length", "64K", "-o", "raw"])
    assert res.exit_code == 0, both(res)
    assert res.stdout_bytes == bytes(dev.lsa)                  # Identify: 2 KiB a reply
    assert [r["length"] for r in names(device.sent, "memdev_get_lsa")] == [2048] * 32
    res = invoke(["memdev", "get-lsa", "emu:type3", "--offset", "100", "--length", "4096",
                  "--json"])
    assert res.exit_code == 0, both(res)
    assert bytes.fromhex(jdoc(res)["result"]["data"]) == bytes(dev.lsa[100:4196])
    res = invoke(["memdev", "get-lsa", "emu:type3", "--offset", "100", "--length", "4096"])
    assert "read in 2 Get LSA requests of at most 2048 bytes" in " ".join(res.stdout.split())
    # past the end: said before any Get LSA goes
    del device.sent[:]
    res = invoke(["memdev", "get-lsa", "emu:type3", "--offset", "63K", "--length", "4K"])
    assert res.exit_code == 2 and "runs past the end of the 65536-byte label storage " \
        "area" in res.stderr and names(device.sent, "memdev_get_lsa") == []


def test_a_short_lsa_read_or_write_is_still_one_request(device):
    device()
    res = invoke(["memdev", "get-lsa", "emu:type3", "--length", "64"])
    assert res.exit_code == 0, both(res)
    assert [n for n, _ in device.sent] == ["memdev_get_lsa"]
    res = invoke(["memdev", "set-lsa", "emu:type3", "--data-hex", "c0ffee", "--yes"])
    assert res.exit_code == 0 and "set-lsa: done on emu:type3" in res.stdout
    assert [n for n, _ in device.sent][1:] == ["memdev_set_lsa"]


def test_an_lsa_write_longer_than_a_request_goes_in_parts(device, tmp_path):
    dev = device()
    data = _pattern(20000, 7)
    p = tmp_path / "lsa.bin"
    p.write_bytes(data)
    res = invoke(["memdev", "set-lsa", "emu:type3", "--offset", "100", "--data", str(p),
                  "--yes"])
    assert res.exit_code == 0, both(res)
    assert bytes(dev.lsa[100:20100]) == data
    parts = names(device.sent, "memdev_set_lsa")
    assert [len(r["data"]) for r in parts] == [2040] * 9 + [1640]   # 2 KiB less 8
    assert [r["offset"] for r in parts] == [100 + 2040 * n for n in range(10)]
    assert ("set-lsa: 20000 bytes written from offset 100 in 10 Set LSA requests of at most "
            "2040 bytes") in " ".join(res.stdout.split())
    # past the end of the LSA: refused before anything is written
    before = bytes(dev.lsa)
    res = invoke(["memdev", "set-lsa", "emu:type3", "--offset", "60000", "--data", str(p),
                  "--yes"])
    assert res.exit_code == 2 and "Traceback" not in both(res)
    assert ("--offset 60000 + 20000 bytes runs past the end of the 65536-byte label storage "
            "area: nothing was written") in res.stderr
    assert bytes(dev.lsa) == before


def test_a_later_lsa_part_that_fails_says_what_was_written(device, tmp_path, monkeypatch):
    dev = device()
    real, calls = dev.cmd_memdev_set_lsa, []

    def set_lsa(req):
        calls.append(req.offset)
        if len(calls) == 3:
            raise DV.Reply(DV.INTERNAL, "media hiccup")
        return real(req)
    monkeypatch.setattr(dev, "cmd_memdev_set_lsa", set_lsa)
    p = tmp_path / "lsa.bin"
    p.write_bytes(_pattern(10000, 3))
    res = invoke(["memdev", "set-lsa", "emu:type3", "--data", str(p), "--yes"])
    assert res.exit_code == 1 and "Traceback" not in both(res)
    assert "4080 of 10000 bytes were written (offset 0 to 4079) before this request, the " \
        "rest not" in res.stderr
    assert bytes(dev.lsa[:4080]) == _pattern(10000, 3)[:4080] and not any(dev.lsa[4080:])


def test_an_empty_lsa_write_is_refused_with_nothing_sent(device, tmp_path):
    dev = device()
    dev.lsa[:4] = b"KEEP"
    res = invoke(["memdev", "set-lsa", "emu:type3", "--data", "-", "--yes"], input=b"")
    assert res.exit_code == 2 and "Traceback" not in both(res)
    assert "cxl-mi: error: --data is empty: nothing to write; nothing was sent" in res.stderr
    assert device.sent == [] and bytes(dev.lsa[:4]) == b"KEEP"
    req = tmp_path / "req.json"
    req.write_text('{"offset": 0, "data": ""}')
    res = invoke(["memdev", "set-lsa", "emu:type3", "--input", str(req), "--yes", "--json"])
    assert res.exit_code == 2 and jdoc(res)["error"]["exit_code"] == 2
    assert device.sent == []


# ------------------------------------------------------------------------ poison list

def test_the_poison_list_is_read_across_pages(device):
    dev = device()
    dev.response_msg_limit = 8                  # 256-byte replies: 14 records a page
    for i in range(40):
        dev.add_media_error(i * 0x1000, event=False)
    res = invoke(["memdev", "get-poison-list", "emu:type3", "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)
    records = doc["result"]["records"]
    assert doc["pages"] == 3 and len(records) == 40
    assert doc["result"]["more_err_media_record_cnt"] == 40
    assert [r["media_err_addr"] & ~0x3F for r in records] == [i * 0x1000 for i in range(40)]
    pages = names(device.sent, "get_poison_list")
    assert pages[0]["get_poison_list_phy_addr"] == 1          # the first asks to start over
    assert pages[0]["get_poison_list_phy_addr_len"] == dev.total_bytes // 64
    table = invoke(["memdev", "get-poison-list", "emu:type3"])
    assert "0x27000" in table.stdout and "3 pages read" in table.stdout
    raw = invoke(["memdev", "get-poison-list", "emu:type3", "-o", "raw"])
    assert len(raw.stdout_bytes) == 3 * 32 + 40 * 16


def test_two_pages_are_said_too(device):
    dev = device()
    dev.response_msg_limit = 8                  # 14 records a page
    for i in range(20):
        dev.add_media_error(i * 0x1000, event=False)
    res = invoke(["memdev", "get-poison-list", "emu:type3"])
    assert res.exit_code == 0, both(res)
    assert "2 pages read" in res.stdout.splitlines()


def test_an_empty_poison_list_says_none(device):
    device()
    res = invoke(["memdev", "get-poison-list", "emu:type3"])
    assert res.exit_code == 0, both(res)
    assert "records: none" in res.stdout.splitlines()


def test_the_poison_list_range_can_be_narrowed(device):
    dev = device()
    for i in range(4):
        dev.add_media_error(i * 0x1000, event=False)
    res = invoke(["memdev", "get-poison-list", "emu:type3", "--address", "0x2000",
                  "--length", "8K", "--json"])
    assert res.exit_code == 0, both(res)
    assert [r["media_err_addr"] & ~0x3F for r in jdoc(res)["result"]["records"]] == [
        0x2000, 0x3000]


def test_a_device_without_the_restart_bit_is_asked_without_it(device, monkeypatch):
    dev = device()
    dev.add_media_error(0x1000, event=False)
    real = dev.cmd_get_poison_list

    def strict(req):
        if req.get_poison_list_phy_addr & 1:
            raise DV.Reply(DV.INPUT, "reserved bit")
        return real(req)
    monkeypatch.setattr(dev, "cmd_get_poison_list", strict)
    res = invoke(["memdev", "get-poison-list", "emu:type3", "--json"])
    assert res.exit_code == 0, both(res)
    assert len(jdoc(res)["result"]["records"]) == 1


# ------------------------------------------------------------------------ progress

def test_progress_is_drawn_on_a_terminal_only(device, fw, monkeypatch):
    device(sanitize_seconds=2)
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(64 * 1024), "--json"])
    assert res.exit_code == 0 and res.stderr == ""                 # not a terminal: quiet
    monkeypatch.setattr(W, "_stderr_tty", lambda: True)
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(64 * 1024), "--json"])
    assert res.exit_code == 0, both(res)
    assert "firmware → slot 3" in res.stderr          # slot 2 is taken now: the empty one
    json.loads(res.stdout)                                         # stdout stays JSON
    res = invoke(["memdev", "sanitize", "emu:type3", "--yes", "--wait"])
    assert res.exit_code == 0 and "sanitize" in res.stderr and "100" in res.stderr


def test_only_the_full_and_end_parts_name_the_slot(device, fw):
    device()
    res = invoke(["generic", "transfer-fw", "emu:type3", fw(5000), "--slot", "3"])
    assert res.exit_code == 0, both(res)
    parts = names(device.sent, "transfer_fw")
    assert [(p["action"], p["slot"]) for p in parts] == [(1, 0), (2, 0), (3, 3)]
