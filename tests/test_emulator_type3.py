# SPDX-License-Identifier: LGPL-2.1-or-later
"""The emulated Type 3 device, driven through the library.

Every command goes Context -> Endpoint -> EmulatedTransport -> Device.handle
and back through the full encode / decode path; each state change is shown
through the matching get.  Background operations run on an injectable clock.
"""

import json
import struct
import uuid

import pytest

from cxlmi_bindings import Context, DeviceError, registry
from cxlmi_bindings.emulator import type3 as t3
from cxlmi_bindings.emulator.type3 import Type3
from cxlmi_bindings.transports.emulated import EmulatedTransport

GiB = 1 << 30
UNIT = 256 << 20

# CXL return codes
INPUT, UNSUPPORTED, BUSY, MEDIADISABLED = 2, 3, 6, 7
FWINPROGRESS, FWOOO, FWAUTH, FWSLOT, HANDLE, PADDR, POISONLMT = 8, 9, 10, 11, 14, 15, 16
ABORT, SECURITY, PASSPHRASE, PAYLOADLEN, LOG = 18, 19, 20, 22, 23
FEATUREVERSION, FEATURESELVALUE, FEATURETRANSFERIP, FEATURETRANSFEROOO = 25, 26, 27, 28
NO_BGABORT = 32

CEL = t3.CEL_UUID
VDL = t3.VENDOR_DEBUG_LOG_UUID
CSDL = t3.COMPONENT_STATE_DUMP_UUID
SCRUB = t3.PATROL_SCRUB_UUID


class FakeClock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def advance(self, seconds):
        self.t += seconds


@pytest.fixture
def clock():
    return FakeClock()


def open_device(dev):
    ctx = Context()
    return ctx, ctx.open_transport(EmulatedTransport("type3", device=dev))


@pytest.fixture
def dev(clock):
    return Type3(clock=clock)


@pytest.fixture
def ep(dev):
    ctx, endpoint = open_device(dev)
    yield endpoint
    ctx.close()


def rc(call, *args, **kwargs):
    """The CXL return code a command fails with."""
    with pytest.raises(DeviceError) as info:
        call(*args, **kwargs)
    return info.value.return_code


def started(ep, call, *args, **kwargs):
    """Run a command that must start a background operation."""
    from cxlmi_bindings import BackgroundStarted
    assert isinstance(call(*args, **kwargs), BackgroundStarted)
    assert ep.last_return_code == 1


def bg(ep):
    st = ep.bg_op_status()
    return {"running": st.status & 1, "percent": st.status >> 1, "opcode": st.opcode,
            "rc": st.returncode}


# ---------------------------------------------------------------- identify, profile

def test_profile_opens_through_the_library_and_identifies_a_type3():
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        assert ep.identify().component_type == 0x03
        ident = ep.memdev_identify()
        assert ident.total_capacity == 2 * GiB // UNIT
        assert ident.partition_align == 1
        assert (ident.volatile_capacity, ident.persistent_capacity) == (0, 0)
        assert ident.lsa_size == 64 * 1024
        assert ident.inject_poison_limit == 128
        assert int.from_bytes(bytes(ident.poison_list_max_mer), "little") == 256
        assert (ident.info_event_log_size, ident.warning_event_log_size,
                ident.failure_event_log_size, ident.fatal_event_log_size,
                ident.dc_event_log_size) == (32, 16, 16, 8, 8)
        assert ident.fw_revision == b"EMU FW 1.0.0"
        assert ident.poison_caps == 0x3 and ident.qos_telemetry_caps == 0x3


def test_capacities_must_be_256_mib_multiples():
    with pytest.raises(ValueError):
        Type3(volatile_bytes=100 << 20)


# ---------------------------------------------------------------- partitions

def test_set_partition_becomes_next_then_active_after_reset(ep, dev):
    info = ep.memdev_get_partition_info()
    assert (info.active_vmem, info.active_pmem, info.next_vmem, info.next_pmem) == (4, 4, 0, 0)
    ep.memdev_set_partition_info(volatile_capacity=2, flags=0)
    info = ep.memdev_get_partition_info()
    assert (info.active_vmem, info.active_pmem, info.next_vmem, info.next_pmem) == (4, 4, 2, 6)
    dev.reset()
    info = ep.memdev_get_partition_info()
    assert (info.active_vmem, info.active_pmem, info.next_vmem, info.next_pmem) == (2, 6, 0, 0)


def test_set_partition_immediate_flag_applies_now(ep):
    ep.memdev_set_partition_info(volatile_capacity=6, flags=1)
    info = ep.memdev_get_partition_info()
    assert (info.active_vmem, info.active_pmem, info.next_vmem, info.next_pmem) == (6, 2, 0, 0)


def test_set_partition_alignment_and_bounds(clock):
    ctx, ep = open_device(Type3(clock=clock, partition_align_bytes=2 * UNIT,
                                volatile_only_bytes=UNIT))
    with ctx:
        ident = ep.memdev_identify()
        assert (ident.volatile_capacity, ident.partition_align) == (1, 2)
        assert rc(ep.memdev_set_partition_info, volatile_capacity=1, flags=0) == INPUT
        assert rc(ep.memdev_set_partition_info, volatile_capacity=8, flags=0) == INPUT
        ep.memdev_set_partition_info(volatile_capacity=4, flags=1)
        assert ep.memdev_get_partition_info().active_vmem == 5   # 1 volatile-only + 4


def test_set_partition_unsupported_without_partitionable_capacity(clock):
    ctx, ep = open_device(Type3(clock=clock, partition_align_bytes=0))
    with ctx:
        assert ep.memdev_identify().volatile_capacity == 4
        assert rc(ep.memdev_set_partition_info, volatile_capacity=0, flags=0) == UNSUPPORTED


def test_set_partition_immediately_needs_the_device_unlocked_next_does_not(ep, dev):
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"pw")
    dev.reset()
    assert rc(ep.memdev_set_partition_info, volatile_capacity=2, flags=1) == SECURITY
    ep.memdev_set_partition_info(volatile_capacity=2, flags=0)
    assert ep.memdev_get_partition_info().next_vmem == 2


# ---------------------------------------------------------------- LSA

def test_lsa_set_then_get(ep):
    ep.memdev_set_lsa(offset=100, data=b"namespace label")
    assert ep.memdev_get_lsa(offset=100, length=15) == b"namespace label"
    assert ep.memdev_get_lsa(offset=96, length=8) == b"\0\0\0\0name"


def test_lsa_offset_and_length_checks(ep):
    size = ep.memdev_identify().lsa_size
    assert ep.memdev_get_lsa(offset=size - 16, length=16) == bytes(16)
    assert rc(ep.memdev_get_lsa, offset=size - 16, length=17) == INPUT
    assert rc(ep.memdev_set_lsa, offset=size - 2, data=b"abc") == INPUT
    assert rc(ep.memdev_get_lsa, offset=0, length=4096) == INPUT     # beyond the 2 KiB reply


def test_a_request_larger_than_the_mailbox_is_refused_whatever_the_command(ep, dev):
    mailbox = 1 << ep.identify().max_msg_size                       # 2 KiB
    ep.memdev_set_lsa(offset=0, data=b"\x5a" * (mailbox - 8))       # exactly the mailbox
    assert bytes(dev.lsa[:mailbox - 8]) == b"\x5a" * (mailbox - 8)
    for size in (mailbox - 7, 20000):                                # a byte more, or far more
        assert rc(ep.memdev_set_lsa, offset=0, data=b"\xa5" * size) == PAYLOADLEN
    assert bytes(dev.lsa[:mailbox]) == b"\x5a" * (mailbox - 8) + bytes(8)   # nothing written
    # any opcode, checked before the handler: a Transfer FW part too big for the mailbox
    assert rc(ep.transfer_fw, {"action": 0, "slot": 2, "offset": 0,
                               "data": b"REV-BIG".ljust(mailbox, b"\0")}) == PAYLOADLEN
    assert dev.fw_slots[1] is None
    ep.transfer_fw({"action": 0, "slot": 2, "offset": 0,            # 128-byte header + 1920
                    "data": b"REV-FITS".ljust(mailbox - 128, b"\0")})
    assert dev.fw_slots[1] == "REV-FITS"


def test_over_tcp_the_mailbox_limit_holds_too():
    from cxlmi_bindings.emulator.server import Server
    dev = Type3()
    server = Server(dev, host="127.0.0.1", port=0)
    host, port = server.start()
    try:
        with Context() as ctx:
            ep = ctx.open("tcp:127.0.0.1:%d" % port)
            assert rc(ep.memdev_set_lsa, offset=0, data=b"\x11" * 4096) == PAYLOADLEN
            assert not any(dev.lsa)
            ep.memdev_set_lsa(offset=0, data=b"\x11" * 2040)
            assert bytes(dev.lsa[:2041]) == b"\x11" * 2040 + b"\0"
    finally:
        server.stop()


def test_response_message_limit_bounds_replies(ep):
    assert ep.get_response_msg_limit().limit == 11
    assert ep.set_response_msg_limit(limit=8).limit == 8
    assert ep.get_response_msg_limit().limit == 8
    assert rc(ep.memdev_get_lsa, offset=0, length=512) == INPUT
    assert len(ep.memdev_get_lsa(offset=0, length=256)) == 256
    assert rc(ep.set_response_msg_limit, limit=7) == INPUT


# ---------------------------------------------------------------- health, alerts, shutdown

def test_health_info_reports_the_model(ep, dev):
    dev.set_health(temperature=41, life_used=12, corrected_volatile_errors=5)
    h = ep.memdev_get_health_info()
    assert (h.device_temperature, h.life_used, h.corrected_volatile_error_count) == (41, 12, 5)
    assert h.additional_status == 0 and h.health_status == 0


def test_alert_threshold_crossing_posts_a_warning_event(ep, dev):
    cfg = ep.memdev_get_alert_config()
    assert cfg.programmable_alerts == 0x1F and cfg.valid_alerts == 0
    ep.memdev_set_alert_config(valid_alert_actions=0x2, enable_alert_actions=0x2,
                               device_over_temperature_programmable_warning_threshold=40)
    cfg = ep.memdev_get_alert_config()
    assert cfg.valid_alerts == 0x2
    assert cfg.device_over_temperature_programmable_warning_threshold == 40
    assert ep.get_event_records(event_log=1).record_count == 0
    dev.set_health(temperature=45)
    events = ep.get_event_records(event_log=1)
    assert events.record_count == 1
    rec = events.records[0]
    assert bytes(rec.uuid) == t3.MEMORY_MODULE_EVENT_UUID
    assert rec.flags[0] & 0x3 == 1                    # warning severity
    assert rec.data[0] == t3.MMER_TEMP_CHANGE
    assert struct.unpack_from("<h", bytes(rec.data), 5)[0] == 45
    assert ep.memdev_get_health_info().additional_status >> 2 & 3 == 1
    dev.set_health(temperature=46)                    # still above: no second event
    assert ep.get_event_records(event_log=1).record_count == 1


def test_alert_already_met_when_programmed_alerts_at_once(ep):
    ep.memdev_set_alert_config(valid_alert_actions=0x1, enable_alert_actions=0x1,
                               life_used_programmable_warning_threshold=2)   # life used is 3
    rec = ep.get_event_records(event_log=1).records[0]
    assert rec.data[0] == t3.MMER_LIFE_USED_CHANGE


def test_alert_thresholds_must_stay_inside_critical(ep):
    crit = ep.memdev_get_alert_config().life_used_critical_alert_threshold
    assert rc(ep.memdev_set_alert_config, valid_alert_actions=1, enable_alert_actions=1,
              life_used_programmable_warning_threshold=crit) == INPUT
    assert rc(ep.memdev_set_alert_config, valid_alert_actions=4, enable_alert_actions=4,
              device_under_temperature_programmable_warning_threshold=(-20) & 0xFFFF) == INPUT


def test_shutdown_state_and_dirty_shutdown_count(ep, dev):
    assert ep.memdev_get_shutdown_state().state == 0
    ep.memdev_set_shutdown_state(state=1)
    assert ep.memdev_get_shutdown_state().state == 1
    dev.reset()
    assert ep.memdev_get_shutdown_state().state == 0
    assert ep.memdev_get_health_info().dirty_shutdown_count == 1


def test_alert_thresholds_alert_when_reached_not_only_when_passed(ep, dev):
    ep.memdev_set_alert_config(valid_alert_actions=0x5, enable_alert_actions=0x5,
                               life_used_programmable_warning_threshold=10,
                               device_under_temperature_programmable_warning_threshold=20)
    assert ep.get_event_records(event_log=1).record_count == 0
    dev.set_health(life_used=10)
    dev.set_health(temperature=20)
    assert [r.data[0] for r in ep.get_event_records(event_log=1).records] == \
        [t3.MMER_LIFE_USED_CHANGE, t3.MMER_TEMP_CHANGE]


def test_setting_one_alert_keeps_the_others_and_a_met_threshold_alerts_again(ep):
    ep.memdev_set_alert_config(valid_alert_actions=0x1, enable_alert_actions=0x1,
                               life_used_programmable_warning_threshold=2)    # life used is 3
    ep.memdev_set_alert_config(valid_alert_actions=0x2, enable_alert_actions=0x2,
                               device_over_temperature_programmable_warning_threshold=60)
    assert ep.memdev_get_alert_config().valid_alerts == 0x3
    ep.memdev_set_alert_config(valid_alert_actions=0x1, enable_alert_actions=0x1,
                               life_used_programmable_warning_threshold=2)
    assert [r.data[0] for r in ep.get_event_records(event_log=1).records] == \
        [t3.MMER_LIFE_USED_CHANGE] * 2


def test_critical_temperature_reports_critical_and_warnings_may_not_equal_it(ep, dev):
    cfg = ep.memdev_get_alert_config()
    crit = cfg.device_over_temperature_critical_alert_threshold
    assert rc(ep.memdev_set_alert_config, valid_alert_actions=2, enable_alert_actions=2,
              device_over_temperature_programmable_warning_threshold=crit) == INPUT
    dev.set_health(temperature=crit)
    assert ep.memdev_get_health_info().additional_status == 2 << 2


# ---------------------------------------------------------------- poison

def poison(ep, start=0, length=2 * GiB, restart=False):
    return ep.get_poison_list(get_poison_list_phy_addr=start | int(restart),
                              get_poison_list_phy_addr_len=length // 64)


def test_inject_then_list_then_clear(ep, dev):
    ep.memdev_inject_poison(inject_poison_phy_addr=0x1000)
    ep.memdev_inject_poison(inject_poison_phy_addr=0x1000)      # twice is not an error
    pl = poison(ep)
    assert pl.more_err_media_record_cnt == 1
    assert pl.records[0].media_err_addr == 0x1000 | t3.SOURCE_INJECTED
    assert pl.records[0].media_err_len == 1
    info = ep.get_event_records(event_log=0)
    assert info.record_count == 1
    assert bytes(info.records[0].uuid) == t3.GENERAL_MEDIA_EVENT_UUID
    ep.memdev_clear_poison(clear_poison_phy_addr=0x1000, clear_poison_write_data=b"\xab" * 64)
    assert poison(ep).more_err_media_record_cnt == 0
    assert dev.read_media(0x1000, 64) == b"\xab" * 64


def test_poison_address_checks(ep):
    assert rc(ep.memdev_inject_poison, inject_poison_phy_addr=0x1008) == PADDR
    assert rc(ep.memdev_inject_poison, inject_poison_phy_addr=2 * GiB) == PADDR
    assert rc(ep.memdev_clear_poison, clear_poison_phy_addr=0x1010) == INPUT
    assert rc(ep.memdev_clear_poison, clear_poison_phy_addr=2 * GiB) == PADDR
    assert rc(ep.get_poison_list, get_poison_list_phy_addr=0x1002,
              get_poison_list_phy_addr_len=1) == INPUT
    assert rc(ep.get_poison_list, get_poison_list_phy_addr=2 * GiB - 64,
              get_poison_list_phy_addr_len=2) == PADDR


def test_inject_poison_limit(clock):
    ctx, ep = open_device(Type3(clock=clock, inject_poison_limit=4))
    with ctx:
        for i in range(4):
            ep.memdev_inject_poison(inject_poison_phy_addr=i * 64)
        assert rc(ep.memdev_inject_poison, inject_poison_phy_addr=0x10000) == POISONLMT
        ep.memdev_clear_poison(clear_poison_phy_addr=0, clear_poison_write_data=bytes(64))
        ep.memdev_inject_poison(inject_poison_phy_addr=0x10000)


def test_poison_list_pages_with_the_more_flag(clock):
    ctx, ep = open_device(Type3(clock=clock, poison_list_max=200, inject_poison_limit=0,
                                event_log_sizes=(8, 8, 8, 8, 8)))
    with ctx:
        for i in range(150):
            ep.memdev_inject_poison(inject_poison_phy_addr=i * 128)
        first = poison(ep)
        assert first.poison_list_flags & 1
        assert first.more_err_media_record_cnt == (2048 - 32) // 16
        rest = poison(ep)
        assert not rest.poison_list_flags & 1
        assert first.more_err_media_record_cnt + rest.more_err_media_record_cnt == 150
        addrs = [r.media_err_addr & ~7 for r in list(first.records) + list(rest.records)]
        assert addrs == [i * 128 for i in range(150)]
        again = poison(ep, restart=True)                 # restart request
        assert again.poison_list_flags & t3.POISON_RESTART_ACK
        assert again.records[0].media_err_addr & ~7 == 0
        window = poison(ep, start=128 * 10, length=128 * 5)   # or page by address range
        assert window.more_err_media_record_cnt == 5


def test_poison_list_overflow_and_scan_media_recovers_it(clock):
    small = Type3(clock=clock, poison_list_max=4, inject_poison_limit=0)
    ctx, ep = open_device(small)
    with ctx:
        ep.set_timestamp(timestamp=5_000_000_000)
        for i in range(4):
            ep.memdev_inject_poison(inject_poison_phy_addr=i * 64)
        assert rc(ep.memdev_inject_poison, inject_poison_phy_addr=0x8000) == POISONLMT
        small.add_media_error(0x9000)                  # the device finds one more
        pl = poison(ep)
        assert pl.poison_list_flags & t3.POISON_OVERFLOW
        assert pl.overflow_timestamp == 5_000_000_000
        assert pl.more_err_media_record_cnt == 4
        ep.memdev_clear_poison(clear_poison_phy_addr=0, clear_poison_write_data=bytes(64))
        est = ep.memdev_get_scan_media_capabilities(
            get_scan_media_capabilities_start_physaddr=0,
            get_scan_media_capabilities_physaddr_length=GiB // 64)
        assert est.estimated_scan_media_time == 8388
        started(ep, ep.memdev_scan_media, scan_media_physaddr=0,
                scan_media_physaddr_length=GiB // 64, scan_media_flags=1)
        assert poison(ep).poison_list_flags & t3.POISON_SCAN_RUNNING
        assert rc(ep.memdev_get_scan_media_results) == BUSY
        clock.advance(9)
        assert bg(ep) == {"running": 0, "percent": 100, "opcode": 0x4304, "rc": 0}
        res = ep.memdev_get_scan_media_results()
        assert res.media_error_count == 4
        assert [r.media_error_address for r in res.record] == [64, 128, 192, 0x9000]
        pl = poison(ep)
        assert not pl.poison_list_flags & t3.POISON_OVERFLOW
        assert pl.more_err_media_record_cnt == 4


def test_scan_media_results_need_a_scan_and_abort_reports_restart(ep, clock):
    assert rc(ep.memdev_get_scan_media_results) == UNSUPPORTED
    ep.memdev_inject_poison(inject_poison_phy_addr=0x100)
    ep.memdev_inject_poison(inject_poison_phy_addr=GiB + 0x100)
    started(ep, ep.memdev_scan_media, scan_media_physaddr=0,
            scan_media_physaddr_length=2 * GiB // 64, scan_media_flags=0)
    clock.advance(5)
    assert 0 < bg(ep)["percent"] < 50
    ep.request_bg_op_abort()
    assert bg(ep)["rc"] == ABORT
    res = ep.memdev_get_scan_media_results()
    assert res.scan_media_flags & t3.SCAN_RESULTS_STOPPED
    assert 0 < res.scan_media_restart_physaddr < GiB
    assert res.scan_media_restart_physaddr + res.scan_media_restart_physaddr_length * 64 \
        == 2 * GiB
    assert [r.media_error_address for r in res.record] == [0x100]
    fail = ep.get_event_records(event_log=2)               # scan found it: a failure event
    assert fail.record_count == 1 and bytes(fail.records[0].uuid) == t3.GENERAL_MEDIA_EVENT_UUID


def test_scan_media_with_no_event_log_posts_no_failure_records(ep, clock):
    ep.memdev_inject_poison(inject_poison_phy_addr=0x100)
    started(ep, ep.memdev_scan_media, scan_media_physaddr=0, scan_media_physaddr_length=64,
            scan_media_flags=t3.SCAN_NO_EVENT_LOG)
    clock.advance(1)
    assert [r.media_error_address for r in ep.memdev_get_scan_media_results().record] == [0x100]
    assert ep.get_event_records(event_log=2).record_count == 0


def test_scan_media_range_checks(ep):
    assert rc(ep.memdev_scan_media, scan_media_physaddr=0x20, scan_media_physaddr_length=1,
              scan_media_flags=0) == INPUT
    assert rc(ep.memdev_scan_media, scan_media_physaddr=0,
              scan_media_physaddr_length=2 * GiB // 64 + 1, scan_media_flags=0) == PADDR


def test_scan_media_of_an_empty_range_is_invalid_input(ep):
    assert rc(ep.memdev_scan_media, scan_media_physaddr=0, scan_media_physaddr_length=0,
              scan_media_flags=0) == INPUT
    assert rc(ep.memdev_get_scan_media_results) == UNSUPPORTED     # no scan was started


# ---------------------------------------------------------------- sanitize, secure erase

def test_sanitize_runs_to_completion_with_media_disabled(ep, dev, clock):
    ep.memdev_set_lsa(offset=0, data=b"label")
    ep.memdev_inject_poison(inject_poison_phy_addr=0x40)
    dev.write_media(GiB, b"user data")
    started(ep, ep.memdev_sanitize)
    assert bg(ep)["running"] == 1 and bg(ep)["opcode"] == 0x4400
    clock.advance(7.5)                                     # 2 GiB sanitize: 15 s
    assert bg(ep)["percent"] == 50
    assert rc(ep.memdev_get_lsa, offset=0, length=5) == MEDIADISABLED
    assert rc(ep.memdev_set_lsa, offset=0, data=b"x") == MEDIADISABLED
    assert rc(poison, ep) == MEDIADISABLED
    assert rc(ep.memdev_inject_poison, inject_poison_phy_addr=0) == MEDIADISABLED
    assert rc(ep.memdev_secure_erase) == BUSY             # one background op at a time
    assert rc(ep.memdev_scan_media, scan_media_physaddr=0, scan_media_physaddr_length=1,
              scan_media_flags=0) == BUSY
    assert ep.memdev_get_health_info() is not None         # non-media commands still work
    clock.advance(7.5)
    assert bg(ep) == {"running": 0, "percent": 100, "opcode": 0x4400, "rc": 0}
    assert ep.memdev_get_lsa(offset=0, length=5) == bytes(5)
    assert poison(ep).more_err_media_record_cnt == 0
    assert ep.get_event_records(event_log=0).record_count == 0
    assert dev.read_media(GiB, 9) == bytes(9)


def test_aborted_sanitize_leaves_media_disabled_until_a_sanitize_completes(ep, clock):
    started(ep, ep.memdev_sanitize)
    clock.advance(1)
    ep.request_bg_op_abort()
    assert bg(ep)["rc"] == ABORT
    clock.advance(100)
    assert rc(ep.memdev_get_lsa, offset=0, length=1) == MEDIADISABLED
    started(ep, ep.memdev_sanitize)
    clock.advance(15)
    assert ep.memdev_get_lsa(offset=0, length=1) == b"\0"


def test_secure_erase_cannot_be_aborted(ep, dev, clock):
    dev.write_media(0, b"secret")
    started(ep, ep.memdev_secure_erase)
    assert rc(ep.request_bg_op_abort) == NO_BGABORT
    clock.advance(1)
    assert bg(ep)["rc"] == 0 and dev.read_media(0, 6) == bytes(6)


def test_secure_erase_gives_the_media_back_when_done(ep, clock):
    started(ep, ep.memdev_secure_erase)
    assert rc(ep.memdev_get_lsa, offset=0, length=1) == MEDIADISABLED
    clock.advance(1)
    assert ep.memdev_get_lsa(offset=0, length=1) == b"\0"


def test_sanitize_refused_while_a_user_passphrase_is_set(ep):
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"user pass")
    assert rc(ep.memdev_sanitize) == SECURITY
    assert rc(ep.memdev_secure_erase) == SECURITY


def test_reset_interrupts_a_background_operation(ep, dev, clock):
    started(ep, ep.memdev_sanitize)
    dev.reset()
    assert bg(ep)["opcode"] == 0
    assert rc(ep.memdev_get_lsa, offset=0, length=1) == MEDIADISABLED


def test_reset_loses_volatile_contents_and_poison_up_to_the_persistent_boundary(ep, dev):
    dev.write_media(GiB - 64, b"volatile")
    dev.write_media(GiB, b"persistent")
    ep.memdev_inject_poison(inject_poison_phy_addr=GiB - 64)
    ep.memdev_inject_poison(inject_poison_phy_addr=GiB)
    dev.reset()
    assert dev.read_media(GiB - 64, 8) == bytes(8)
    assert dev.read_media(GiB, 10) == b"persistent"
    assert [r.media_err_addr & ~7 for r in poison(ep).records] == [GiB]


# ---------------------------------------------------------------- media operations

def test_media_operations_discovery_lists_sanitize_and_zero(ep):
    d = ep.memdev_media_operations_discovery(media_operation_class=0,
                                             media_operation_subclass=0,
                                             discovery_osa={"start_index": 0, "num_ops": 8})
    assert d.dpa_range_granularity == 64 and d.total_supported_ops == 2
    assert [(e.media_op_class, e.media_op_subclass) for e in d.entry] == [(1, 0), (1, 1)]
    d = ep.memdev_media_operations_discovery(media_operation_class=0,
                                             media_operation_subclass=0,
                                             discovery_osa={"start_index": 1, "num_ops": 8})
    assert d.num_supported_ops == 1
    assert rc(ep.memdev_media_operations_discovery, media_operation_class=0,
              media_operation_subclass=0, dpa_range_count=1) == INPUT
    assert rc(ep.memdev_media_operations_discovery, media_operation_class=0,
              media_operation_subclass=0, discovery_osa={"start_index": 2}) == INPUT


def test_media_operation_zero_wipes_ranges_in_the_background(ep, dev, clock):
    dev.write_media(0x1000, b"\x11" * 128)
    dev.write_media(0x4000, b"\x22" * 64)
    ep.memdev_inject_poison(inject_poison_phy_addr=0x1040)
    started(ep, ep.memdev_media_operations_sanitize, media_operation_class=1,
            media_operation_subclass=1,
            dpa_range_list=[{"starting_dpa": 0x1000, "length": 0x100}])
    assert bg(ep)["opcode"] == 0x4402 and bg(ep)["running"]
    assert rc(ep.memdev_sanitize) == BUSY
    clock.advance(4)
    assert bg(ep)["rc"] == 0 and not bg(ep)["running"]
    assert dev.read_media(0x1000, 128) == bytes(128)
    assert dev.read_media(0x4000, 64) == b"\x22" * 64
    assert poison(ep).more_err_media_record_cnt == 0
    assert rc(ep.memdev_media_operations_sanitize, media_operation_class=1,
              media_operation_subclass=0,
              dpa_range_list=[{"starting_dpa": 0x1010, "length": 64}]) == INPUT
    assert rc(ep.memdev_media_operations_sanitize, media_operation_class=1,
              media_operation_subclass=7,
              dpa_range_list=[{"starting_dpa": 0, "length": 64}]) == UNSUPPORTED


# ---------------------------------------------------------------- security

def sec(ep):
    return ep.memdev_get_security_state().security_state


def test_passphrase_lock_unlock(ep, dev):
    assert sec(ep) == 0
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"open sesame")
    assert sec(ep) == t3.SEC_USER_PASS_SET
    dev.reset()                                            # a reset locks the device
    assert sec(ep) == t3.SEC_USER_PASS_SET | t3.SEC_LOCKED
    assert rc(ep.memdev_get_lsa, offset=0, length=1) == MEDIADISABLED
    assert rc(ep.memdev_set_lsa, offset=0, data=b"x") == SECURITY
    assert rc(ep.memdev_inject_poison, inject_poison_phy_addr=GiB) == SECURITY
    ep.memdev_inject_poison(inject_poison_phy_addr=0)      # volatile memory is not locked
    assert rc(ep.memdev_unlock, current_passphrase=b"wrong") == PASSPHRASE
    ep.memdev_unlock(current_passphrase=b"open sesame")
    assert sec(ep) == t3.SEC_USER_PASS_SET
    ep.memdev_set_lsa(offset=0, data=b"x")
    assert rc(ep.memdev_unlock, current_passphrase=b"open sesame") == SECURITY   # not locked
    assert dev.lock() and sec(ep) & t3.SEC_LOCKED


def test_passphrase_retry_limit(ep, dev):
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"right")
    dev.reset()
    for _ in range(3):
        assert rc(ep.memdev_unlock, current_passphrase=b"wrong") == PASSPHRASE
    assert sec(ep) & t3.SEC_USER_PLIMIT
    assert rc(ep.memdev_unlock, current_passphrase=b"right") == SECURITY
    dev.reset()                                            # a reset clears the count
    assert not sec(ep) & t3.SEC_USER_PLIMIT
    ep.memdev_unlock(current_passphrase=b"right")
    assert not sec(ep) & t3.SEC_LOCKED


def test_change_and_disable_passphrase(ep):
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"one")
    assert rc(ep.memdev_set_passphrase, passphrase_type=1, current_passphrase=b"bad",
              new_passphrase=b"two") == PASSPHRASE
    ep.memdev_set_passphrase(passphrase_type=1, current_passphrase=b"one", new_passphrase=b"two")
    assert rc(ep.memdev_disable_passphrase, passphrase_type=1, passphrase=b"one") == PASSPHRASE
    ep.memdev_disable_passphrase(passphrase_type=1, passphrase=b"two")
    assert sec(ep) == 0
    assert rc(ep.memdev_disable_passphrase, passphrase_type=1, passphrase=b"two") == SECURITY
    assert rc(ep.memdev_set_passphrase, passphrase_type=2, new_passphrase=b"x") == INPUT


def test_master_passphrase_rules_and_secure_erase(ep, dev):
    ep.memdev_set_passphrase(passphrase_type=0, new_passphrase=b"master")
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"user")
    assert sec(ep) == t3.SEC_USER_PASS_SET | t3.SEC_MASTER_PASS_SET
    assert rc(ep.memdev_set_passphrase, passphrase_type=0, current_passphrase=b"master",
              new_passphrase=b"other") == SECURITY     # the user passphrase is set
    dev.write_media(GiB, b"data")
    dev.reset()
    assert rc(ep.memdev_passphrase_secure_erase, passphrase_type=0,
              passphrase=b"nope") == PASSPHRASE
    ep.memdev_passphrase_secure_erase(passphrase_type=0, passphrase=b"master")
    assert sec(ep) == t3.SEC_MASTER_PASS_SET              # user passphrase gone, unlocked
    assert dev.read_media(GiB, 4) == bytes(4)


def test_frozen_security_refuses_changes_until_reset(ep, dev):
    ep.memdev_freeze_security_state()
    assert sec(ep) == t3.SEC_FROZEN
    assert rc(ep.memdev_set_passphrase, passphrase_type=1, new_passphrase=b"x") == SECURITY
    dev.reset()
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"x")


def test_a_reset_clears_the_master_passphrase_attempt_count(ep, dev):
    ep.memdev_set_passphrase(passphrase_type=0, new_passphrase=b"master")
    for _ in range(3):
        assert rc(ep.memdev_disable_passphrase, passphrase_type=0, passphrase=b"bad") \
            == PASSPHRASE
    assert sec(ep) & t3.SEC_MASTER_PLIMIT
    assert rc(ep.memdev_disable_passphrase, passphrase_type=0, passphrase=b"master") == SECURITY
    dev.reset()
    assert not sec(ep) & t3.SEC_MASTER_PLIMIT
    ep.memdev_disable_passphrase(passphrase_type=0, passphrase=b"master")
    assert sec(ep) == 0


def test_a_matching_passphrase_starts_the_attempt_count_again(ep, dev):
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"right")
    dev.reset()
    for _ in range(2):
        assert rc(ep.memdev_unlock, current_passphrase=b"wrong") == PASSPHRASE
    ep.memdev_unlock(current_passphrase=b"right")
    dev.lock()
    for _ in range(2):
        assert rc(ep.memdev_unlock, current_passphrase=b"wrong") == PASSPHRASE
    assert not sec(ep) & t3.SEC_USER_PLIMIT
    ep.memdev_unlock(current_passphrase=b"right")
    assert sec(ep) == t3.SEC_USER_PASS_SET


def test_locked_or_frozen_devices_refuse_user_passphrase_changes_and_unlock(ep, dev):
    ep.memdev_set_passphrase(passphrase_type=1, new_passphrase=b"pw")
    dev.reset()
    assert rc(ep.memdev_set_passphrase, passphrase_type=1, current_passphrase=b"pw",
              new_passphrase=b"new") == SECURITY                   # locked
    ep.memdev_freeze_security_state()
    assert rc(ep.memdev_unlock, current_passphrase=b"pw") == SECURITY   # frozen
    assert sec(ep) & t3.SEC_LOCKED
    dev.reset()
    ep.memdev_disable_passphrase(passphrase_type=1, passphrase=b"pw")   # disabling unlocks
    assert sec(ep) == 0
    ep.memdev_set_lsa(offset=0, data=b"x")


def test_security_send_receive_are_unsupported(ep):
    assert rc(ep.memdev_security_send, security_protocol=1, data=b"abc") == UNSUPPORTED
    assert rc(ep.memdev_security_receive, security_protocol=1) == UNSUPPORTED


# ---------------------------------------------------------------- events

def test_event_records_get_and_clear_in_order(ep, dev):
    for i in range(3):
        dev.add_event(0, t3.GENERAL_MEDIA_EVENT_UUID, bytes([i]))
    got = ep.get_event_records(event_log=0)
    handles = [r.handle for r in got.records]
    assert got.record_count == 3 and handles == [1, 2, 3]
    assert [r.data[0] for r in got.records] == [0, 1, 2]
    assert rc(ep.clear_event_records, event_log=0, handles=[2]) == HANDLE
    assert rc(ep.clear_event_records, event_log=0, handles=[1, 3]) == HANDLE
    assert rc(ep.clear_event_records, event_log=0, handles=[9]) == HANDLE
    ep.clear_event_records(event_log=0, handles=[1, 2])
    assert [r.handle for r in ep.get_event_records(event_log=0).records] == [3]
    assert rc(ep.clear_event_records, event_log=0, clear_flags=1, handles=[3]) == INPUT
    ep.clear_event_records(event_log=0, clear_flags=1)
    assert ep.get_event_records(event_log=0).record_count == 0
    assert rc(ep.get_event_records, event_log=5) == INPUT


def test_event_log_overflow_and_more_records(clock):
    dev = Type3(clock=clock, event_log_sizes=(20, 4, 16, 8, 8))
    ctx, ep = open_device(dev)
    with ctx:
        ep.set_timestamp(timestamp=1_000)
        for _ in range(6):
            clock.advance(1)
            dev.add_event(1, t3.MEMORY_MODULE_EVENT_UUID)
        warn = ep.get_event_records(event_log=1)
        assert warn.record_count == 4
        assert warn.flags & t3.EVENTS_OVERFLOW and not warn.flags & t3.EVENTS_MORE
        assert warn.overflow_err_count == 2
        assert warn.first_overflow_timestamp == 1_000 + 5 * 10**9
        assert warn.last_overflow_timestamp == 1_000 + 6 * 10**9
        ep.clear_event_records(event_log=1, handles=[1])       # consuming ends the overflow
        assert not ep.get_event_records(event_log=1).flags & t3.EVENTS_OVERFLOW
        for _ in range(20):
            dev.add_event(0, t3.GENERAL_MEDIA_EVENT_UUID)
        info = ep.get_event_records(event_log=0)
        assert info.record_count == 15 and info.flags & t3.EVENTS_MORE


def test_event_interrupt_policies(ep):
    assert ep.get_event_interrupt_policy().failure_settings == 0
    ep.set_event_interrupt_policy(informational_settings=1, warning_settings=1,
                                  failure_settings=0x21, fatal_settings=2, dcd_settings=1)
    pol = ep.get_event_interrupt_policy()
    assert (pol.informational_settings, pol.failure_settings, pol.fatal_settings,
            pol.dcd_settings) == (1, 0x21, 2, 1)
    assert rc(ep.set_event_interrupt_policy, informational_settings=3) == INPUT
    ep.set_mctp_event_interrupt_policy(event_interrupt_settings=0x0F)
    assert ep.get_mctp_event_interrupt_policy().event_interrupt_settings == 0x0F
    assert rc(ep.set_mctp_event_interrupt_policy, event_interrupt_settings=0x100) == INPUT
    ep.event_notification(event=0x1)


def test_a_cxl_2_set_event_interrupt_policy_without_the_dcd_byte_is_taken(ep):
    """CXL 2.0's request ends before the DCD settings: 4 bytes, the fifth read as 0."""
    ep.set_event_interrupt_policy(dcd_settings=1)
    ep.call("set_event_interrupt_policy", b"\x01\x01\x02\x01")
    pol = ep.get_event_interrupt_policy()
    assert (pol.informational_settings, pol.warning_settings, pol.failure_settings,
            pol.fatal_settings, pol.dcd_settings) == (1, 1, 2, 1, 0)
    assert rc(ep.call, "set_event_interrupt_policy", b"\x01\x01\x02") == PAYLOADLEN


def test_fatal_records_carry_the_fatal_severity(ep, dev):
    dev.add_event(3, t3.GENERAL_MEDIA_EVENT_UUID)
    assert ep.get_event_records(event_log=3).records[0].flags[0] & 3 == 3


def test_handles_must_be_cleared_oldest_first_in_order(ep, dev):
    for _ in range(2):
        dev.add_event(0, t3.GENERAL_MEDIA_EVENT_UUID)
    assert rc(ep.clear_event_records, event_log=0, handles=[2, 1]) == HANDLE
    assert ep.get_event_records(event_log=0).record_count == 2


def test_interrupt_settings_bits_3_2_are_reserved(ep):
    assert rc(ep.set_event_interrupt_policy, informational_settings=0x4) == INPUT
    assert rc(ep.set_event_interrupt_policy, fatal_settings=0x9) == INPUT
    assert ep.get_event_interrupt_policy().fatal_settings == 0


# ---------------------------------------------------------------- firmware

def package(rev, size=256):
    return rev.encode().ljust(16, b"\0") + bytes(size - 16)


def fw(ep):
    info = ep.get_fw_info()
    return {"active": info.slot_info & 7, "staged": info.slot_info >> 3 & 7,
            "revs": [info.fw_rev1, info.fw_rev2, info.fw_rev3, info.fw_rev4]}


def test_full_transfer_and_online_activation(ep):
    assert fw(ep) == {"active": 1, "staged": 0, "revs": [b"EMU FW 1.0.0", b"", b"", b""]}
    assert ep.get_fw_info().slots_supported == 3
    ep.transfer_fw(action=0, slot=2, offset=0, data=package("EMU FW 2.0.0"))
    assert fw(ep)["revs"][1] == b"EMU FW 2.0.0"
    ep.activate_fw(action=0, slot=2)
    assert fw(ep)["active"] == 2
    assert ep.memdev_identify().fw_revision == b"EMU FW 2.0.0"


def test_partial_transfer_then_activation_on_reset(ep, dev):
    pkg = package("EMU FW 3.0.0", 384)
    ep.transfer_fw(action=1, slot=0, offset=0, data=pkg[:128])
    assert rc(ep.transfer_fw, action=1, slot=0, offset=0, data=pkg[:128]) == FWINPROGRESS
    assert rc(ep.transfer_fw, action=2, slot=0, offset=2, data=pkg[256:]) == FWOOO
    ep.transfer_fw(action=2, slot=0, offset=1, data=pkg[128:256])
    ep.transfer_fw(action=2, slot=0, offset=1, data=pkg[128:256])     # retransmission
    assert rc(ep.transfer_fw, action=3, slot=1, offset=2, data=pkg[256:]) == FWSLOT  # active
    ep.transfer_fw(action=3, slot=3, offset=2, data=pkg[256:])
    assert fw(ep)["revs"][2] == b"EMU FW 3.0.0"
    ep.activate_fw(action=1, slot=3)
    assert fw(ep)["active"] == 1 and fw(ep)["staged"] == 3
    dev.reset()
    assert fw(ep)["active"] == 3 and fw(ep)["staged"] == 0


def test_firmware_misuse(ep):
    assert rc(ep.transfer_fw, action=2, slot=0, offset=0, data=bytes(128)) == FWOOO
    assert rc(ep.transfer_fw, action=0, slot=0, offset=0, data=package("X")) == FWSLOT
    assert rc(ep.transfer_fw, action=0, slot=4, offset=0, data=package("X")) == FWSLOT
    assert rc(ep.transfer_fw, action=0, slot=2, offset=0, data=bytes(256)) == FWAUTH
    assert rc(ep.activate_fw, action=0, slot=3) == FWSLOT      # empty slot
    assert rc(ep.activate_fw, action=0, slot=1) == FWSLOT      # already active
    assert rc(ep.activate_fw, action=2, slot=2) == INPUT
    ep.transfer_fw(action=1, slot=0, offset=0, data=bytes(128))
    ep.transfer_fw(action=4, slot=0, offset=0)                 # abort the transfer
    assert rc(ep.transfer_fw, action=3, slot=2, offset=1, data=bytes(128)) == FWOOO


def test_transfer_as_background_operation(clock):
    ctx, ep = open_device(Type3(clock=clock, fw_transfer_seconds=2))
    with ctx:
        started(ep, ep.transfer_fw, action=0, slot=2, offset=0, data=package("BG FW"))
        assert fw(ep)["revs"][1] == b""
        clock.advance(2)
        assert fw(ep)["revs"][1] == b"BG FW"


def test_transfer_parts_must_be_128_byte_units_and_initiate_starts_at_0(ep):
    assert rc(ep.transfer_fw, action=1, slot=0, offset=1, data=bytes(128)) == INPUT
    assert rc(ep.transfer_fw, action=1, slot=0, offset=0, data=package("A", 200)) == INPUT
    ep.transfer_fw(action=1, slot=0, offset=0, data=package("A", 128))
    assert rc(ep.transfer_fw, action=2, slot=0, offset=1, data=bytes(100)) == INPUT
    assert rc(ep.transfer_fw, action=0, slot=2, offset=0, data=package("B")) == FWINPROGRESS
    assert fw(ep)["revs"][1] == b""


def test_rewriting_the_staged_slot_unstages_it(ep, dev):
    ep.transfer_fw(action=0, slot=2, offset=0, data=package("TWO"))
    ep.activate_fw(action=1, slot=2)
    assert fw(ep)["staged"] == 2
    ep.transfer_fw(action=0, slot=2, offset=0, data=package("TWO B"))
    assert fw(ep)["staged"] == 0
    dev.reset()
    assert fw(ep)["active"] == 1


# ---------------------------------------------------------------- timestamp

def test_timestamp_advances_with_the_clock(ep, clock):
    ep.set_timestamp(timestamp=10**18)
    clock.advance(2.5)
    assert ep.get_timestamp().timestamp == 10**18 + 2_500_000_000


# ---------------------------------------------------------------- logs

def test_supported_logs_and_the_cel(ep, dev):
    logs = ep.get_supported_logs()
    sizes = {bytes(e.uuid): e.log_size for e in logs.entries}
    assert set(sizes) == {CEL, VDL, CSDL}
    cel = ep.get_log_cel(uuid=CEL, offset=0, length=sizes[CEL])
    effects = {e.opcode: e.command_effect for e in cel}
    assert set(effects) == {e.opcode for e in Type3.implemented()}
    assert effects[0x4400] & (1 << 6)                 # sanitize: background
    assert effects[0x4101] & 1                         # set partition: after cold reset
    assert ep.get_log(uuid=CEL, offset=4, length=4) == dev.cel_bytes()[4:8]
    assert rc(ep.get_log, uuid=CEL, offset=sizes[CEL] - 4, length=8) == INPUT
    assert rc(ep.get_log, uuid=uuid.uuid4().bytes, offset=0, length=4) == LOG
    sub = ep.get_supported_logs_sublist(max_supported_log_entries=1, start_log_entry_index=1)
    assert sub.num_supported_log_entries == 1 and sub.total_num_supported_log_entries == 3
    assert bytes(sub.entries[0].uuid) == VDL


def test_log_capabilities_clear_and_populate(ep, clock):
    assert ep.get_log_capabilities(uuid=CEL).parameter_flags == 0
    assert ep.get_log_capabilities(uuid=VDL).parameter_flags == 1
    assert ep.get_log_capabilities(uuid=CSDL).parameter_flags == 3
    assert rc(ep.get_log_capabilities, uuid=bytes(16)) == LOG
    assert rc(ep.clear_log, uuid=CEL) == INPUT
    assert rc(ep.populate_log, uuid=VDL) == INPUT
    ep.clear_log(uuid=VDL)
    ep.memdev_set_partition_info(volatile_capacity=2, flags=1)     # writes a debug line
    size = {bytes(e.uuid): e.log_size for e in ep.get_supported_logs().entries}[VDL]
    assert b"partition now 512 MiB volatile" in ep.get_log(uuid=VDL, offset=0, length=size)
    started(ep, ep.populate_log, uuid=CSDL)
    clock.advance(1)
    size = {bytes(e.uuid): e.log_size for e in ep.get_supported_logs().entries}[CSDL]
    dump = json.loads(ep.get_log(uuid=CSDL, offset=0, length=size))
    assert dump["partition"]["volatile"] == 512 << 20
    ep.clear_log(uuid=CSDL)
    assert {bytes(e.uuid): e.log_size for e in ep.get_supported_logs().entries}[CSDL] == 0


# ---------------------------------------------------------------- features

def scrub(ep, selection=0):
    raw = ep.get_feature(feature_id=SCRUB, offset=0, count=4, selection=selection)
    caps, cycle, flags = struct.unpack("<BHB", raw)
    return {"cycle": cycle & 0xFF, "min": cycle >> 8, "enabled": flags & 1}


def test_supported_features_paged(ep):
    # patrol scrub, ECS, sPPR, hPPR and memory sparing at four granularities
    empty = ep.get_supported_features(count=8, starting_feature_index=0)
    assert empty.num_supported_feature_entries == 0 and empty.device_supported_features == 8
    one = ep.get_supported_features(count=8 + 48, starting_feature_index=0)
    assert one.num_supported_feature_entries == 1
    entry = one.supported_feature_entries[0]
    assert bytes(entry.feature_id) == SCRUB
    assert (entry.get_feature_size, entry.set_feature_size) == (4, 2)
    assert entry.attribute_flags & 0x61 == 0x61
    rest = ep.get_supported_features(count=1024, starting_feature_index=7)
    assert rest.num_supported_feature_entries == 1
    assert rest.supported_feature_entries[0].feature_index == 7
    assert rc(ep.get_supported_features, count=1024, starting_feature_index=8) == INPUT


def test_patrol_scrub_feature_set_get_saved_and_reset(ep, dev):
    assert scrub(ep) == {"cycle": 12, "min": 1, "enabled": 0}
    assert ep.get_feature(feature_id=SCRUB, offset=1, count=2, selection=0) == \
        struct.pack("<H", 12 | 1 << 8)
    ep.set_feature(feature_id=SCRUB, set_feature_flags=0, version=1, feature_data=b"\x18\x01")
    assert scrub(ep) == {"cycle": 24, "min": 1, "enabled": 1}
    assert scrub(ep, 1)["cycle"] == 12 and scrub(ep, 2)["cycle"] == 12
    dev.reset()
    assert scrub(ep)["cycle"] == 12                       # not saved: back after reset
    ep.set_feature(feature_id=SCRUB, set_feature_flags=1 << 3, version=1,
                   feature_data=b"\x06\x00")
    assert scrub(ep, 2)["cycle"] == 6
    dev.reset()
    assert scrub(ep) == {"cycle": 6, "min": 1, "enabled": 0}


def test_set_feature_in_parts_and_misuse(ep):
    ep.set_feature(feature_id=SCRUB, set_feature_flags=1, offset=0, version=1,
                   feature_data=b"\x30")
    assert rc(ep.set_feature, feature_id=SCRUB, set_feature_flags=0, version=1,
              feature_data=b"\x30\x00") == FEATURETRANSFERIP
    assert rc(ep.set_feature, feature_id=SCRUB, set_feature_flags=2, offset=2, version=1,
              feature_data=b"\x01") == INPUT                 # beyond the 2-byte feature
    assert rc(ep.set_feature, feature_id=SCRUB, set_feature_flags=3, offset=0, version=1,
              feature_data=b"\x01\x01") == FEATURETRANSFEROOO
    ep.set_feature(feature_id=b"\xff" * 16, set_feature_flags=3, offset=1, version=1,
                   feature_data=b"\x01")
    assert scrub(ep) == {"cycle": 48, "min": 1, "enabled": 1}
    assert rc(ep.set_feature, feature_id=SCRUB, set_feature_flags=4, version=1) == INPUT
    assert rc(ep.set_feature, feature_id=SCRUB, set_feature_flags=0, version=2,
              feature_data=b"\x01\x00") == FEATUREVERSION
    assert rc(ep.set_feature, feature_id=SCRUB, set_feature_flags=0, version=1,
              feature_data=b"\x00\x00") == INPUT             # cycle below the minimum
    assert rc(ep.set_feature, feature_id=bytes(16), set_feature_flags=0, version=1,
              feature_data=b"\x01\x00") == UNSUPPORTED
    assert rc(ep.get_feature, feature_id=SCRUB, offset=4, count=1, selection=0) == INPUT
    assert rc(ep.get_feature, feature_id=SCRUB, offset=0, count=4, selection=3) \
        == FEATURESELVALUE


def test_reserved_actions_and_aborting_another_features_transfer_are_refused(ep, dev):
    assert rc(ep.set_feature, feature_id=SCRUB, set_feature_flags=5, version=1,
              feature_data=b"\x01\x00") == INPUT
    ep.set_feature(feature_id=SCRUB, set_feature_flags=1, offset=0, version=1,
                   feature_data=b"\x30")
    ep.set_feature(feature_id=SCRUB, set_feature_flags=2, offset=0, version=1,
                   feature_data=b"\x30")                         # a retransmitted part
    ecs = dev.features[1].uuid
    assert rc(ep.set_feature, feature_id=ecs, set_feature_flags=4, version=1) == INPUT
    ep.set_feature(feature_id=SCRUB, set_feature_flags=3, offset=1, version=1,
                   feature_data=b"\x01")
    assert scrub(ep) == {"cycle": 48, "min": 1, "enabled": 1}


# ---------------------------------------------------------------- SLD QoS

def test_sld_qos_control_and_status(ep, dev):
    ctl = ep.memdev_get_sld_qos_control()
    assert (ctl.qos_telemetry_control, ctl.egress_moderate_percentage,
            ctl.egress_severe_percentage, ctl.backpressure_sample_interval) == (1, 10, 25, 8)
    dev.backpressure = 40
    assert ep.memdev_get_sld_qos_status().backpressure_avg_percentage == 40
    ep.memdev_set_sld_qos_control(qos_telemetry_control=2, egress_moderate_percentage=20,
                                  egress_severe_percentage=60, backpressure_sample_interval=3)
    ctl = ep.memdev_get_sld_qos_control()
    assert (ctl.qos_telemetry_control, ctl.egress_moderate_percentage,
            ctl.egress_severe_percentage, ctl.backpressure_sample_interval) == (2, 20, 60, 3)
    assert ep.memdev_get_sld_qos_status().backpressure_avg_percentage == 0   # disabled
    assert rc(ep.memdev_set_sld_qos_control, qos_telemetry_control=1,
              egress_moderate_percentage=70, egress_severe_percentage=60) == INPUT
    assert rc(ep.memdev_set_sld_qos_control, qos_telemetry_control=4,
              egress_moderate_percentage=10, egress_severe_percentage=60) == INPUT


# ---------------------------------------------------------------- what is not implemented

def test_every_other_registry_command_answers_unsupported(ep):
    implemented = {e.opcode for e in Type3.implemented()}
    missing = [e for e in registry.COMMANDS
               if e.opcode not in implemented and e.call != "vendor"]
    assert missing, "the type3 model should leave DC, FM-API and security passthrough out"
    for entry in missing:
        assert rc(ep.call, entry, {}) == UNSUPPORTED, entry.name
    assert rc(ep.vendor_specific, 0xC000, b"") == UNSUPPORTED
    names = {e.name for e in missing}
    assert {"memdev_security_send", "memdev_get_dc_config", "fmapi_get_ld_info"} <= names


def test_payload_length_is_checked_before_the_model(ep):
    assert rc(ep.call, "memdev_unlock", b"\0" * 31) == PAYLOADLEN


def test_a_found_media_error_posts_a_failure_event(ep, dev):
    dev.add_media_error(0x2000, 128)
    rec = ep.get_event_records(event_log=2).records[0]
    assert bytes(rec.uuid) == t3.GENERAL_MEDIA_EVENT_UUID
    assert rec.flags[0] & 3 == 2 and rec.flags[0] & t3.EVENT_FLAG_PERMANENT
    assert struct.unpack_from("<Q", bytes(rec.data))[0] & ~0x3F == 0x2000
    pl = poison(ep)
    assert (pl.records[0].media_err_addr, pl.records[0].media_err_len) == \
        (0x2000 | t3.SOURCE_INTERNAL, 2)


def test_a_found_error_is_recorded_on_every_cacheline_it_touches(ep, dev):
    dev.add_media_error(0x2030, 64, event=False)              # bytes 0x2030..0x206f
    assert [(r.media_err_addr & ~7, r.media_err_len) for r in poison(ep).records] == \
        [(0x2000, 2)]


def test_a_reset_keeps_the_persistent_part_of_an_error_that_straddles_the_partitions(ep, dev):
    dev.add_media_error(GiB - 64, 128, event=False)           # last volatile + first persistent
    dev.reset()
    assert [(r.media_err_addr & ~7, r.media_err_len) for r in poison(ep).records] == [(GiB, 1)]
