# SPDX-License-Identifier: LGPL-2.1-or-later
"""The emulated switch and MLD, driven through the library (emu:switch, emu:mld)."""

import pytest

from cxlmi_bindings import registry
from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.errors import DeviceError
from cxlmi_bindings.tunnel import Tunnel
from cxlmi_bindings.emulator import mld as mld_model, switch as switch_model
from cxlmi_bindings.emulator.device import (
    SUCCESS, INPUT, INTERNAL, UNSUPPORTED, BUSY, RETRY, ABORT, RESOURCEEXHAUSTED, PAYLOADLEN)

SLD_SERIAL = 0x534C440000000001
MLD_SERIAL = 0x4D4C440000000000


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def sw(clock):
    ctx = Context()
    ep = ctx.open("emu:switch", clock=clock, bind_seconds=1.0, train_seconds=0.3)
    yield ep
    ctx.close()


@pytest.fixture
def mld(clock):
    ctx = Context()
    ep = ctx.open("emu:mld", clock=clock)
    yield ep
    ctx.close()


def rc_of(call, *args, **kwargs):
    with pytest.raises(DeviceError) as exc:
        call(*args, **kwargs)
    return exc.value.return_code


def vppbs(ep, start=0, limit=8):
    info = ep.fmapi_get_vcs_info(start_vppb=start, vppb_list_limit=limit, vcs_id_list=[0])
    assert info.num_vcs == 1
    return [(v.binding_status, v.bound_port_id, v.bound_ld_id)
            for v in info.vcs_info_list[0].vppbs]


def port_state(ep, port):
    return ep.fmapi_get_phys_port_state(ports=[port]).ports[0]


# ------------------------------------------------------------------ the fabric

def test_switch_identifies_as_a_switch_with_eight_ports_one_vcs(sw):
    assert sw.identify().component_type == 0x00
    ident = sw.fmapi_identify_sw_device()
    assert ident.num_physical_ports == 8
    assert ident.num_vcs == 1
    assert ident.active_port_bitmask[0] == 0xFF
    assert ident.active_vcs_bitmask[0] == 0x01
    assert ident.num_total_vppb == 8
    assert ident.num_active_vppb == 1          # vPPB 0 -> port 1 by default
    assert ident.num_hdm_decoder_per_usp == 4


def test_port_state_reports_usp_sld_mld_dcd_and_empty_ports(sw):
    rsp = sw.fmapi_get_phys_port_state(ports=[0, 1, 2, 3, 4])
    assert rsp.num_ports == 5
    usp, sld, mld, dcd, empty = rsp.ports
    assert (usp.config_state, usp.ltssm_state, usp.max_link_width) == (4, 4, 16)
    assert (sld.config_state, sld.conn_dev_type, sld.ltssm_state) == (3, 4, 4)
    assert (mld.conn_dev_type, mld.negotiated_link_width, mld.current_link_speed) == (5, 8, 5)
    assert mld.link_state & 0x4                # presence detected
    assert dcd.conn_dev_type == 4
    assert (empty.conn_dev_type, empty.ltssm_state, empty.negotiated_link_width) == (0, 0, 0)
    assert not empty.link_state & 0x4


def test_port_state_of_unknown_port_is_invalid_input(sw):
    assert rc_of(sw.fmapi_get_phys_port_state, ports=[1, 9]) == INPUT


def test_usp_is_present_and_each_port_reports_its_devices_cxl_mode(sw):
    usp, sld, dcd = sw.fmapi_get_phys_port_state(ports=[0, 1, 3]).ports
    assert usp.link_state & 0x4                                 # PRSNT: the USP too
    assert sld.conn_dev_cxl_ver == switch_model.MODE_68B_VH
    assert dcd.conn_dev_cxl_ver == switch_model.MODE_256B       # the DCD runs 256B flits


def test_port_state_answers_within_the_response_message_limit(sw):
    assert sw.set_response_msg_limit(limit=12).limit == 11      # never above the 2 KiB maximum
    assert sw.set_response_msg_limit(limit=8).limit == 8        # 256 bytes
    assert len(sw.fmapi_get_phys_port_state(ports=[1] * 15).ports) == 15   # 4 + 15 * 16 bytes
    assert rc_of(sw.fmapi_get_phys_port_state, ports=[1] * 16) == INPUT     # 260 > 256


def test_request_payloads_of_the_wrong_length_are_payloadlen(sw):
    assert rc_of(sw.call, "fmapi_get_phys_port_state", bytes([1, 1, 2])) == PAYLOADLEN
    assert rc_of(sw.call, "fmapi_phys_port_control", bytes([4, 2, 0])) == PAYLOADLEN
    assert port_state(sw, 4).ltssm_state == 0                   # nothing was reset


# ------------------------------------------------------------------ bind / unbind

def test_bind_vppb_runs_in_background_then_shows_in_vcs_info(sw, clock):
    from cxlmi_bindings import BackgroundStarted
    assert sw.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=3) == BackgroundStarted(
        "fmapi_bind_vppb", 0x5201)
    assert sw.last_return_code == 1            # background operation started
    assert vppbs(sw)[1] == (1, 0xFF, 0xFF)      # bind in progress
    assert port_state(sw, 2).config_state == 1
    status = sw.bg_op_status()
    assert status.status & 1 and status.opcode == 0x5201
    clock.advance(1.0)
    status = sw.bg_op_status()
    assert (status.status & 1, status.status >> 1, status.returncode) == (0, 100, 0)
    assert vppbs(sw)[1] == (3, 2, 3)            # bound LD 3 of the MLD on port 2
    assert port_state(sw, 2).config_state == 3
    assert sw.fmapi_identify_sw_device().num_active_vppb == 2


def test_bind_empty_port_binds_the_whole_port(sw, clock):
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=2, port_id=5, ld_id=0xFFFF)
    clock.advance(1.0)
    assert vppbs(sw)[2] == (2, 5, 0xFF)


def test_unbind_vppb_leaves_it_unbound(sw, clock):
    sw.fmapi_unbind_vppb(vcs_id=0, vppb_id=0, option=0)
    assert sw.last_return_code == 1
    assert vppbs(sw)[0][0] == 1
    assert port_state(sw, 1).config_state == 2  # unbind in progress
    clock.advance(1.0)
    assert vppbs(sw)[0] == (0, 0xFF, 0xFF)
    assert sw.fmapi_identify_sw_device().num_active_vppb == 0
    # the port is free again
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=4, port_id=1, ld_id=0xFFFF)
    clock.advance(1.0)
    assert vppbs(sw)[4] == (2, 1, 0xFF)


def test_second_background_operation_while_one_runs_is_busy(sw, clock):
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=0)
    assert rc_of(sw.fmapi_bind_vppb, vcs_id=0, vppb_id=2, port_id=2, ld_id=1) == BUSY
    assert rc_of(sw.fmapi_unbind_vppb, vcs_id=0, vppb_id=0, option=0) == BUSY
    clock.advance(1.0)
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=2, port_id=2, ld_id=1)
    clock.advance(1.0)
    assert vppbs(sw)[1:3] == [(3, 2, 0), (3, 2, 1)]


def test_aborted_bind_leaves_the_vppb_unbound(sw, clock):
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=0)
    clock.advance(0.5)
    sw.request_bg_op_abort()
    assert sw.bg_op_status().returncode == ABORT
    assert vppbs(sw)[1] == (0, 0xFF, 0xFF)
    assert port_state(sw, 2).config_state == 3


@pytest.mark.parametrize("request_fields", [
    dict(vcs_id=0, vppb_id=0, port_id=4, ld_id=0xFFFF),   # vPPB 0 is already bound
    dict(vcs_id=0, vppb_id=1, port_id=1, ld_id=0xFFFF),   # port 1 is already bound
    dict(vcs_id=0, vppb_id=1, port_id=9, ld_id=0xFFFF),   # no port 9
    dict(vcs_id=0, vppb_id=1, port_id=0, ld_id=0xFFFF),   # port 0 is the USP
    dict(vcs_id=0, vppb_id=1, port_id=2, ld_id=4),        # the MLD has LDs 0-3
    dict(vcs_id=0, vppb_id=8, port_id=4, ld_id=0xFFFF),   # VCS 0 has vPPBs 0-7
    dict(vcs_id=1, vppb_id=0, port_id=4, ld_id=0xFFFF),   # one VCS only
])
def test_bind_misuse_is_invalid_input(sw, request_fields):
    assert rc_of(sw.fmapi_bind_vppb, **request_fields) == INPUT
    assert sw.bg_op_status().opcode == 0       # nothing started


def test_aborted_unbind_leaves_the_vppb_bound(sw, clock):
    sw.fmapi_unbind_vppb(vcs_id=0, vppb_id=0, option=0)
    clock.advance(0.5)
    sw.request_bg_op_abort()
    status = sw.bg_op_status()
    assert (status.status & 1, status.status >> 1, status.returncode) == (0, 50, ABORT)
    assert vppbs(sw)[0] == (2, 1, 0xFF)
    assert port_state(sw, 1).config_state == 3


def test_unbinding_an_ld_or_a_port_with_any_option_frees_it(sw, clock):
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=3)
    clock.advance(1.0)
    sw.fmapi_unbind_vppb(vcs_id=0, vppb_id=1, option=2)        # surprise hot remove
    clock.advance(1.0)
    assert vppbs(sw)[1] == (0, 0xFF, 0xFF)
    assert port_state(sw, 2).config_state == 3                  # DSP again
    sw.fmapi_unbind_vppb(vcs_id=0, vppb_id=0, option=0x11)     # bits 7:4 reserved: ignored
    clock.advance(1.0)
    assert vppbs(sw)[0] == (0, 0xFF, 0xFF)
    assert port_state(sw, 1).config_state == 3


def test_a_vppb_bound_to_an_ld_cannot_be_bound_again(sw, clock):
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=0)
    clock.advance(1.0)
    assert rc_of(sw.fmapi_bind_vppb, vcs_id=0, vppb_id=1, port_id=2, ld_id=2) == INPUT
    assert vppbs(sw)[1] == (3, 2, 0)


def test_an_ld_being_bound_is_already_off_limits_to_ld_requests(sw, clock):
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=1)
    assert rc_of(sw.fmapi_send_ld_cxlio_config_request, ppb_id=2, ld_id=1,
                 field_1=config_field(0), transaction_data=0) == INPUT
    got = sw.fmapi_send_ld_cxlio_config_request(ppb_id=2, ld_id=0, field_1=config_field(0),
                                                transaction_data=0).return_data
    assert got & 0xFFFF == 0x1DE5                               # the other LDs are not


def test_binding_an_ld_twice_is_invalid_input(sw, clock):
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=2)
    clock.advance(1.0)
    assert rc_of(sw.fmapi_bind_vppb, vcs_id=0, vppb_id=2, port_id=2, ld_id=2) == INPUT


@pytest.mark.parametrize("request_fields", [
    dict(vcs_id=0, vppb_id=3, option=0),       # not bound
    dict(vcs_id=0, vppb_id=0, option=3),       # reserved unbind option
    dict(vcs_id=0, vppb_id=9, option=0),
])
def test_unbind_misuse_is_invalid_input(sw, request_fields):
    assert rc_of(sw.fmapi_unbind_vppb, **request_fields) == INPUT


def test_vcs_info_pages_by_start_vppb_and_limit(sw):
    info = sw.fmapi_get_vcs_info(start_vppb=6, vppb_list_limit=4, vcs_id_list=[0])
    block = info.vcs_info_list[0]
    assert (block.vcs_id, block.vcs_state, block.usp_id, block.num_vppbs) == (0, 1, 0, 8)
    assert len(block.vppbs) == 2
    assert vppbs(sw, start=0, limit=1) == [(2, 1, 0xFF)]


def test_vcs_info_for_no_vcs_is_invalid_input(sw):
    assert rc_of(sw.fmapi_get_vcs_info, start_vppb=0, vppb_list_limit=8,
                 vcs_id_list=[]) == INPUT


def test_vcs_info_of_unknown_vcs_is_marked_invalid(sw):
    info = sw.fmapi_get_vcs_info(start_vppb=0, vppb_list_limit=8, vcs_id_list=[7])
    assert info.vcs_info_list[0].vcs_state == 0xFF
    assert rc_of(sw.fmapi_get_vcs_info, start_vppb=0, vppb_list_limit=0,
                 vcs_id_list=[0]) == INPUT


# ------------------------------------------------------------------ port control

def test_perst_holds_the_link_down_until_released_and_retrained(sw, clock):
    sw.fmapi_phys_port_control(ppb_id=3, port_opcode=0)        # assert PERST#
    state = port_state(sw, 3)
    assert state.link_state & 0x2
    assert (state.ltssm_state, state.negotiated_link_width, state.current_link_speed) == (0, 0, 0)
    assert rc_of(sw.identify, tunnel=Tunnel.switch(3)) == INPUT
    assert rc_of(sw.fmapi_phys_port_control, ppb_id=3, port_opcode=0) == INTERNAL
    assert rc_of(sw.fmapi_phys_port_control, ppb_id=3, port_opcode=2) == INTERNAL
    sw.fmapi_phys_port_control(ppb_id=3, port_opcode=1)        # deassert PERST#
    state = port_state(sw, 3)
    assert not state.link_state & 0x2
    assert state.ltssm_state == 0                               # detect
    clock.advance(0.15)
    assert port_state(sw, 3).ltssm_state == 1                   # polling
    assert rc_of(sw.identify, tunnel=Tunnel.switch(3)) == RETRY
    clock.advance(0.1)
    assert port_state(sw, 3).ltssm_state == 2                   # configuration
    clock.advance(0.1)
    state = port_state(sw, 3)
    assert (state.ltssm_state, state.negotiated_link_width) == (4, 8)
    assert sw.identify(tunnel=Tunnel.switch(3)).component_type == 0x03
    assert rc_of(sw.fmapi_phys_port_control, ppb_id=3, port_opcode=1) == INTERNAL


def test_reset_ppb_takes_the_port_through_link_training(sw, clock):
    sw.fmapi_phys_port_control(ppb_id=2, port_opcode=2)
    assert port_state(sw, 2).ltssm_state == 0x0A                # hot reset
    clock.advance(0.3)
    assert port_state(sw, 2).ltssm_state == 4
    assert sw.fmapi_get_ld_info(tunnel=Tunnel.switch(2)).ld_count == 4


def test_reset_ppb_resets_the_device_behind_the_port(sw, clock):
    sld = Tunnel.switch(1)
    sw.memdev_set_partition_info(volatile_capacity=6, flags=0, tunnel=sld)
    info = sw.memdev_get_partition_info(tunnel=sld)
    assert (info.active_vmem, info.next_vmem) == (4, 6)
    sw.fmapi_phys_port_control(ppb_id=1, port_opcode=2)
    clock.advance(0.3)
    info = sw.memdev_get_partition_info(tunnel=sld)
    assert (info.active_vmem, info.active_pmem, info.next_vmem) == (6, 2, 0)


def test_asserting_perst_resets_the_device_behind_the_port(sw, clock):
    sld = Tunnel.switch(1)
    sw.memdev_set_partition_info(volatile_capacity=6, flags=0, tunnel=sld)
    sw.fmapi_phys_port_control(ppb_id=1, port_opcode=0)
    sw.fmapi_phys_port_control(ppb_id=1, port_opcode=1)
    clock.advance(0.3)
    info = sw.memdev_get_partition_info(tunnel=sld)
    assert (info.active_vmem, info.active_pmem, info.next_vmem) == (6, 2, 0)


def test_a_tunnel_of_target_type_1_does_not_reach_a_switch_port(sw):
    assert rc_of(sw.identify, tunnel=Tunnel([(1, 1)])) == INPUT     # LD pool CCI: MHDs only


def test_port_control_misuse(sw):
    assert rc_of(sw.fmapi_phys_port_control, ppb_id=9, port_opcode=2) == INPUT
    assert rc_of(sw.fmapi_phys_port_control, ppb_id=4, port_opcode=3) == INPUT


# ------------------------------------------------------------------ CXL.io requests

def config_field(offset, write=False, byte_enable=0xF):
    value = (offset & 0xFF) | (offset >> 8) << 8 | byte_enable << 12 | int(write) << 23
    return list(value.to_bytes(3, "little"))


def test_ppb_config_space_reads_ids_and_keeps_writes(sw):
    ids = sw.fmapi_send_ppb_cxlio_config_request(ppb_id=4, field_1=config_field(0),
                                                 transaction_data=0).return_data
    assert ids & 0xFFFF == 0x1DE5
    sw.fmapi_send_ppb_cxlio_config_request(ppb_id=4, field_1=config_field(0x18, write=True),
                                           transaction_data=0x00050504)
    got = sw.fmapi_send_ppb_cxlio_config_request(ppb_id=4, field_1=config_field(0x18),
                                                 transaction_data=0).return_data
    assert got & 0xFFFFFF == 0x050504
    # the class code is read only
    sw.fmapi_send_ppb_cxlio_config_request(ppb_id=4, field_1=config_field(0x08, write=True),
                                           transaction_data=0xFFFFFFFF)
    got = sw.fmapi_send_ppb_cxlio_config_request(ppb_id=4, field_1=config_field(0x08),
                                                 transaction_data=0).return_data
    assert got >> 8 == 0x060400
    # link status (PCIe capability + 12h) follows the port
    got = sw.fmapi_send_ppb_cxlio_config_request(ppb_id=2, field_1=config_field(0x50),
                                                 transaction_data=0).return_data
    assert (got >> 16) & 0xF == 5 and (got >> 20) & 0x3F == 8


def test_ppb_config_request_to_a_bound_sld_port_is_invalid_input(sw):
    assert rc_of(sw.fmapi_send_ppb_cxlio_config_request, ppb_id=1, field_1=config_field(0),
                 transaction_data=0) == INPUT


def test_ld_config_space_reads_class_and_keeps_command_writes(sw, clock):
    def ld_cfg(offset, ld=1, write=False, data=0):
        return sw.fmapi_send_ld_cxlio_config_request(
            ppb_id=2, ld_id=ld, field_1=config_field(offset, write), transaction_data=data
        ).return_data
    assert ld_cfg(0x08) >> 8 == 0x050210                # CXL memory device
    ld_cfg(0x04, write=True, data=0x0006)
    assert ld_cfg(0x04) & 0xFFFF == 0x0006
    assert ld_cfg(0x04, ld=0) & 0xFFFF == 0            # each LD has its own space
    assert ld_cfg(0x100) & 0xFFFF == 0x0023             # DVSEC
    assert rc_of(ld_cfg, 0, ld=4) == INPUT
    sw.fmapi_bind_vppb(vcs_id=0, vppb_id=1, port_id=2, ld_id=1)
    clock.advance(1.0)
    assert rc_of(ld_cfg, 0) == INPUT                    # a bound LD is off limits
    assert rc_of(sw.fmapi_send_ld_cxlio_config_request, ppb_id=1, ld_id=0,
                 field_1=config_field(0), transaction_data=0) == INPUT   # not an MLD port


def test_ld_config_requests_honour_byte_enables_and_dword_alignment(sw):
    def ld_cfg(offset, write=False, data=0, byte_enable=0xF):
        return sw.fmapi_send_ld_cxlio_config_request(
            ppb_id=2, ld_id=0, field_1=config_field(offset, write, byte_enable),
            transaction_data=data).return_data
    ld_cfg(0x04, write=True, data=0x0106, byte_enable=0x1)     # byte 0 only
    assert ld_cfg(0x04) & 0xFFFF == 0x0006
    assert ld_cfg(0x0A) == ld_cfg(0x08)                         # register bits 1:0 ignored
    assert ld_cfg(0x08, byte_enable=0x8) == 0x05 << 24          # disabled bytes read zero


def test_ld_requests_need_the_link_up_and_a_reset_clears_the_ld_command_register(sw, clock):
    def ld_cfg(offset, write=False, data=0):
        return sw.fmapi_send_ld_cxlio_config_request(
            ppb_id=2, ld_id=0, field_1=config_field(offset, write), transaction_data=data
        ).return_data
    ld_cfg(0x04, write=True, data=0x0006)
    sw.fmapi_phys_port_control(ppb_id=2, port_opcode=0)        # PERST#: the link is down
    assert rc_of(ld_cfg, 0x04) == INPUT
    sw.fmapi_phys_port_control(ppb_id=2, port_opcode=1)
    clock.advance(0.3)
    assert ld_cfg(0x04) & 0xFFFF == 0


def test_ld_memory_requests_reach_the_last_bytes_and_follow_bar0(sw):
    write, read = [0xF0, 0x8F], [0xF0, 0x0F]

    def mem(addr, field, data=bytes(8)):
        return sw.fmapi_send_ld_cxlio_mem_request(port_id=2, ld_id=0, field_1=field,
                                                  transaction_addr=addr, transaction_data=data)
    mem(0xFFF8, write, b"lastword")                             # the 64 KiB space's end
    assert bytes(mem(0xFFF8, read).return_data) == b"lastword"
    sw.fmapi_send_ld_cxlio_config_request(ppb_id=2, ld_id=0, field_1=config_field(0x10, True),
                                          transaction_data=0xFE000000)     # program BAR0
    assert bytes(mem(0xFE00FFF8, read).return_data) == b"lastword"


def test_ld_memory_request_writes_then_reads_back(sw):
    write, read = [0xF0, 0x8F], [0xF0, 0x0F]   # field_1: byte enables, bit 15 = write
    rsp = sw.fmapi_send_ld_cxlio_mem_request(port_id=2, ld_id=3, field_1=write,
                                             transaction_addr=0x40, transaction_data=b"cxl-mi!!")
    assert rsp.return_size == 8 and bytes(rsp.return_data) == b""
    rsp = sw.fmapi_send_ld_cxlio_mem_request(port_id=2, ld_id=3, field_1=read,
                                             transaction_addr=0x40, transaction_data=bytes(8))
    assert bytes(rsp.return_data) == b"cxl-mi!!"
    rsp = sw.fmapi_send_ld_cxlio_mem_request(port_id=2, ld_id=2, field_1=read,
                                             transaction_addr=0x40, transaction_data=bytes(8))
    assert bytes(rsp.return_data) == bytes(8)
    assert rc_of(sw.fmapi_send_ld_cxlio_mem_request, port_id=2, ld_id=3, field_1=read,
                 transaction_addr=0x10000, transaction_data=bytes(8)) == INPUT


# ------------------------------------------------------------------ domain validation

def test_domain_validation_secret_value_is_set_once(sw):
    assert sw.fmapi_get_domain_validation_sv_state().secret_value_state == 0
    assert sw.fmapi_get_vcs_domain_validation_sv_state(vcs_id=0).secret_value_state == 0
    secret = bytes(range(16))
    sw.fmapi_set_domain_validation_sv(secret_value_uuid=secret)
    assert sw.fmapi_get_domain_validation_sv_state().secret_value_state == 1
    assert sw.fmapi_get_vcs_domain_validation_sv_state(vcs_id=0).secret_value_state == 1
    assert bytes(sw.fmapi_get_domain_validation_sv(vcs_id=0).secret_value_uuid) == secret
    assert rc_of(sw.fmapi_set_domain_validation_sv, secret_value_uuid=bytes(16)) == INPUT
    assert rc_of(sw.fmapi_get_domain_validation_sv, vcs_id=3) == INPUT


# ------------------------------------------------------------------ MLD components

def test_ld_info_through_the_switch_reports_four_lds(sw):
    info = sw.fmapi_get_ld_info(tunnel=Tunnel.switch(2))
    assert (info.ld_count, info.memory_size) == (4, 4 << 30)
    assert info.qos_telemetry_capability == 0x3


def test_set_ld_allocations_then_get_shows_them(sw):
    t = Tunnel.switch(2)
    got = sw.fmapi_get_ld_allocations(start_ld_id=0, ld_allocation_list_limit=16, tunnel=t)
    assert (got.number_ld, got.memory_granularity, got.ld_allocation_list_len) == (4, 0, 4)
    assert [a.range_1_allocation_mult for a in got.ld_allocation_list] == [4, 4, 4, 4]
    new = [{"range_1_allocation_mult": 2, "range_2_allocation_mult": 1},
           {"range_1_allocation_mult": 3, "range_2_allocation_mult": 0}]
    rsp = sw.fmapi_set_ld_allocations(start_ld_id=1, ld_allocation_list=new, tunnel=t)
    assert (rsp.number_ld, rsp.start_ld_id) == (2, 1)
    assert rsp.ld_allocation_list[0].range_2_allocation_mult == 1
    got = sw.fmapi_get_ld_allocations(start_ld_id=1, ld_allocation_list_limit=2, tunnel=t)
    assert got.start_ld_id == 1 and got.ld_allocation_list_len == 2
    assert [(a.range_1_allocation_mult, a.range_2_allocation_mult)
            for a in got.ld_allocation_list] == [(2, 1), (3, 0)]


def test_set_ld_allocations_misuse(mld):
    one = [{"range_1_allocation_mult": 1, "range_2_allocation_mult": 0}]
    assert rc_of(mld.fmapi_set_ld_allocations, start_ld_id=4, ld_allocation_list=one) == INPUT
    assert rc_of(mld.fmapi_set_ld_allocations, start_ld_id=0, ld_allocation_list=[]) == INPUT
    too_much = [{"range_1_allocation_mult": 13, "range_2_allocation_mult": 0}]
    assert rc_of(mld.fmapi_set_ld_allocations, start_ld_id=0,
                 ld_allocation_list=too_much) == RESOURCEEXHAUSTED
    # nothing changed
    got = mld.fmapi_get_ld_allocations(start_ld_id=0, ld_allocation_list_limit=4)
    assert [a.range_1_allocation_mult for a in got.ld_allocation_list] == [4, 4, 4, 4]


def test_allocations_may_take_the_whole_capacity(mld):
    whole = [{"range_1_allocation_mult": 4, "range_2_allocation_mult": 0}] * 3 + [
        {"range_1_allocation_mult": 3, "range_2_allocation_mult": 1}]      # 16 x 256 MiB
    mld.fmapi_set_ld_allocations(start_ld_id=0, ld_allocation_list=whole)
    got = mld.fmapi_get_ld_allocations(start_ld_id=0, ld_allocation_list_limit=4)
    assert [(a.range_1_allocation_mult, a.range_2_allocation_mult)
            for a in got.ld_allocation_list] == [(4, 0), (4, 0), (4, 0), (3, 1)]


def test_qos_control_set_then_get(mld):
    assert mld.fmapi_get_qos_control().egress_severe_percentage == 25
    fields = dict(qos_telemetry_control=1, egress_moderate_percentage=20,
                  egress_severe_percentage=60, backpressure_sample_interval=4,
                  recmpbasis=1000, completion_collection_interval=32)
    rsp = mld.fmapi_set_qos_control(**fields)
    assert rsp.recmpbasis == 1000
    got = mld.fmapi_get_qos_control()
    assert {k: getattr(got, k) for k in fields} == fields
    assert mld.fmapi_get_qos_status().backpressure_avg_percentage == 0
    bad = dict(fields, egress_moderate_percentage=0)
    assert rc_of(mld.fmapi_set_qos_control, **bad) == INPUT
    bad = dict(fields, backpressure_sample_interval=16)
    assert rc_of(mld.fmapi_set_qos_control, **bad) == INPUT
    assert mld.fmapi_get_qos_control().egress_moderate_percentage == 20


def test_qos_control_takes_its_upper_bounds_and_only_what_the_mld_can_do(clock):
    fields = dict(qos_telemetry_control=1, egress_moderate_percentage=100,
                  egress_severe_percentage=100, backpressure_sample_interval=15,
                  recmpbasis=0, completion_collection_interval=64)
    with Context() as ctx:
        ep = ctx.open("emu:mld", clock=clock, qos_telemetry_capability=1)
        rsp = ep.fmapi_set_qos_control(**fields)
        assert (rsp.egress_moderate_percentage, rsp.egress_severe_percentage,
                rsp.backpressure_sample_interval) == (100, 100, 15)
        assert rc_of(ep.fmapi_set_qos_control, **dict(fields, qos_telemetry_control=2)) == INPUT
        assert ep.fmapi_get_qos_control().qos_telemetry_control == 1


def test_qos_status_reports_backpressure_only_while_congestion_telemetry_is_on(mld):
    mld.transport.device.backpressure_avg_percentage = 40
    assert mld.fmapi_get_qos_status().backpressure_avg_percentage == 0
    mld.fmapi_set_qos_control(qos_telemetry_control=1, egress_moderate_percentage=10,
                              egress_severe_percentage=25, backpressure_sample_interval=8,
                              recmpbasis=0, completion_collection_interval=64)
    assert mld.fmapi_get_qos_status().backpressure_avg_percentage == 40


def test_qos_allocated_bandwidth_reads_are_range_checked(sw):
    t = Tunnel.switch(2)
    assert rc_of(sw.fmapi_get_qos_allocated_bw, start_ld_id=3, number_ld=2, tunnel=t) == INPUT
    assert rc_of(sw.fmapi_get_qos_allocated_bw, start_ld_id=0, number_ld=0, tunnel=t) == INPUT


def test_qos_bandwidth_fractions_set_then_get_through_the_switch(sw):
    t = Tunnel.switch(2)
    rsp = sw.fmapi_set_qos_allocated_bw(start_ld_id=1, qos_allocation_fraction=[64, 128],
                                        tunnel=t)
    assert bytes(rsp.qos_allocation_fraction) == bytes([64, 128])
    got = sw.fmapi_get_qos_allocated_bw(start_ld_id=0, number_ld=4, tunnel=t)
    assert bytes(got.qos_allocation_fraction) == bytes([0, 64, 128, 0])
    sw.fmapi_set_qos_bw_limit(start_ld_id=3, qos_limit_fraction=[200], tunnel=t)
    got = sw.fmapi_get_qos_bw_limit(start_ld_id=2, number_ld=2, tunnel=t)
    assert bytes(got.qos_limit_fraction) == bytes([0, 200])
    assert rc_of(sw.fmapi_get_qos_bw_limit, start_ld_id=3, number_ld=2, tunnel=t) == INPUT
    assert rc_of(sw.fmapi_set_qos_allocated_bw, start_ld_id=4,
                 qos_allocation_fraction=[1], tunnel=t) == INPUT


# ------------------------------------------------------------------ tunnels

def test_tunnel_level_1_reaches_the_sld_and_an_ld(sw, mld):
    assert sw.identify(tunnel=Tunnel.switch(1)).serial_num == SLD_SERIAL
    assert mld.identify().component_type == 0x03
    assert mld.identify(tunnel=Tunnel.mld(3)).serial_num == MLD_SERIAL + 4
    assert rc_of(mld.identify, tunnel=Tunnel.mld(4)) == INPUT


def test_tunnel_level_2_reaches_each_ld_behind_the_switch(sw):
    for ld in range(4):
        assert sw.identify(tunnel=Tunnel.switch_mld(2, ld)).serial_num == MLD_SERIAL + 1 + ld
    err = pytest.raises(DeviceError, sw.identify, tunnel=Tunnel.switch_mld(2, 7))
    assert err.value.return_code == INPUT and "level 2" in str(err.value)


def test_tunnel_to_empty_or_upstream_port_is_invalid_input(sw):
    for port in (0, 4, 9):
        assert rc_of(sw.identify, tunnel=Tunnel.switch(port)) == INPUT


def test_tunnel_level_2_memdev_identify(sw):
    ident = sw.memdev_identify(tunnel=Tunnel.switch_mld(2, 1))
    assert ident.total_capacity * (256 << 20) == 1 << 30


def test_lsa_set_through_switch_and_mld_lasts(sw):
    path = Tunnel.switch_mld(2, 2)
    sw.memdev_set_lsa(offset=64, data=b"label-of-ld-2", tunnel=path)
    got = sw.memdev_get_lsa(offset=64, length=13, tunnel=path)
    assert bytes(got) == b"label-of-ld-2"
    other = sw.memdev_get_lsa(offset=64, length=13, tunnel=Tunnel.switch_mld(2, 1))
    assert bytes(other) == bytes(13)


def test_the_dispatch_checks_the_header_length_and_refuses_a_tunnelled_reply():
    import struct
    from cxlmi_bindings import cci, tunnel
    dev = mld_model.MLD()

    def answer(opcode, payload=b"", extra=b""):
        rsp = dev.handle(cci.encode(opcode, payload, tag=2) + extra)
        return cci.decode_header(rsp).return_code

    def hop(inner):
        return struct.pack("<BBH", 1, 0, len(inner)) + inner     # LD 1, target type 0
    assert answer(0x0001) == SUCCESS
    assert answer(0x0001, extra=b"\0") == PAYLOADLEN             # a byte the header lacks
    assert answer(tunnel.OPCODE, hop(cci.encode(0x0001, tag=1))) == SUCCESS
    reply = cci.encode(0x0001, tag=1, category=cci.CATEGORY_RESPONSE)
    assert answer(tunnel.OPCODE, hop(reply)) == INPUT             # not a request
    assert answer(tunnel.OPCODE, b"\1\0") == PAYLOADLEN           # no whole tunnel header


# ------------------------------------------------------------------ on purpose

def test_commands_prohibited_on_each_component_are_unsupported(sw, mld):
    assert rc_of(sw.fmapi_get_ld_info) == UNSUPPORTED             # MLD components: not a switch's
    assert rc_of(mld.fmapi_identify_sw_device) == UNSUPPORTED     # physical switch: not an MLD's
    assert rc_of(mld.fmapi_get_vcs_info, start_vppb=0, vppb_list_limit=1,
                 vcs_id_list=[0]) == UNSUPPORTED
    assert rc_of(mld.fmapi_send_ld_cxlio_config_request, ppb_id=0, ld_id=0,
                 field_1=config_field(0), transaction_data=0) == UNSUPPORTED
    # Generate AER Event (5203h, a registry extension): virtual switch, not an MLD's
    assert rc_of(mld.fmapi_generate_aer_event, vcs_id=0, vppb_instance=0,
                 aer_error=0) == UNSUPPORTED


def test_every_fmapi_command_of_sets_51_to_54_is_implemented_or_documented():
    import pathlib
    doc = (pathlib.Path(__file__).parent.parent / "docs" / "emulator-fabric.md").read_text()
    switch_has = {e.name for e in switch_model.Switch.implemented()}
    mld_has = {e.name for e in mld_model.MLD.implemented()}
    for entry in registry.COMMANDS:
        if entry.command_set not in (0x51, 0x52, 0x53, 0x54):
            continue
        assert entry.name in switch_has | mld_has, entry.name
        assert "%04Xh" % entry.opcode in doc, entry.name
    assert not {n for n in switch_has if n.startswith("fmapi_")} & mld_has
