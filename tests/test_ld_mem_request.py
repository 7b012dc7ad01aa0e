# SPDX-License-Identifier: LGPL-2.1-or-later
"""Send LD CXL.io Memory Request (5302h) goes out in the spec's layout.

libcxlmi's request structure has a 2-byte ``field_1`` where the spec has a
24-bit field, so its LD ID sits one byte early.  cxl-mi keeps the structure
and sends the spec's bytes: port ID at 00h, the 24-bit field at 01h (bits 7:0
reserved, first dword byte enable 15:12, last dword byte enable 19:16,
transaction type 23), LD ID at 04h, length at 06h, address at 08h, data at
10h.  ``field_1`` is the field's bits 23:8.
"""

import ctypes
import struct

import pytest

import cxlmi_bindings as cxlmi
from cxlmi_bindings import codec, registry
from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.errors import DeviceError

OPCODE = 0x5302
ENTRY = registry.get("fmapi_send_ld_cxlio_mem_request")
INPUT, PAYLOADLEN = 2, 22


def spec_bytes(port, ld, addr, data, first_be=0xF, last_be=0xF, write=False, length=None):
    """The request as the spec lays it out, packed field by field."""
    field = first_be << 12 | last_be << 16 | int(write) << 23
    length = len(data) if length is None else length
    return (struct.pack("<B", port) + field.to_bytes(3, "little")
            + struct.pack("<HHQ", ld, length, addr) + bytes(data))


def field_1(first_be=0xF, last_be=0xF, write=False):
    """libcxlmi's field_1: the spec field's bits 23:8."""
    return [first_be << 4, last_be | (0x80 if write else 0)]


@pytest.fixture
def mock():
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    yield ep
    cxlmi.cxlmi_free_ctx(ctx)


def sent_payload(ep):
    command_set, command, payload = ep.transport.last_command
    assert (command_set, command) == (0x53, 0x02)
    msg = ep.transport.last_message
    assert int.from_bytes(msg[5:8], "little") == len(payload)
    return payload


def test_the_spec_layout_is_sixteen_bytes_before_the_data():
    wire = spec_bytes(2, 0x0102, 0x1122334455667788, b"ab", first_be=0xC, last_be=0x3,
                      write=True)
    assert wire.hex() == "02" "00" "c0" "83" "0201" "0200" "8877665544332211" "6162"
    assert ctypes.sizeof(cxlmi.struct_cxlmi_cmd_fmapi_send_ld_cxlio_mem_request_req) == 15


@pytest.mark.parametrize("write", [False, True])
def test_pythonic_call_sends_the_spec_layout(mock, write):
    data = bytes(range(1, 9))
    rsp = struct.pack("<H2x", 8) + (b"" if write else data)
    mock.transport.set_response(OPCODE, 0, rsp)
    mock.fmapi_send_ld_cxlio_mem_request(
        port_id=2, ld_id=3, field_1=field_1(0xF, 0x7, write), transaction_addr=0xABCDEF40,
        transaction_data=data)
    # Only a write carries data on the wire; a read names the length alone.
    assert sent_payload(mock) == spec_bytes(2, 3, 0xABCDEF40, data if write else b"",
                                            0xF, 0x7, write, length=len(data))


def test_pythonic_structure_and_bytes_requests_send_the_spec_layout(mock):
    data = b"\xAA" * 4
    cls = cxlmi.struct_cxlmi_cmd_fmapi_send_ld_cxlio_mem_request_req
    req = cls.sized(4)(port_id=1, ld_id=0x0203, transaction_len=4, transaction_addr=0x80)
    req.field_1[:] = field_1(0x3, 0xC, True)
    req.transaction_data[:] = data
    expected = spec_bytes(1, 0x0203, 0x80, data, 0x3, 0xC, True)
    for request in (req, bytes(req)):
        mock.transport.set_response(OPCODE, 0, struct.pack("<H2x", 4))
        mock.call(ENTRY, request)
        assert sent_payload(mock) == expected


def test_compat_call_sends_the_spec_layout(mock):
    data = b"LD memory!"
    cls = cxlmi.struct_cxlmi_cmd_fmapi_send_ld_cxlio_mem_request_req
    buf = ctypes.create_string_buffer(ctypes.sizeof(cls) + len(data))
    req = cls.from_buffer(buf)
    req.port_id, req.ld_id = 4, 1
    req.field_1[0], req.field_1[1] = field_1(0xF, 0xF, True)
    req.transaction_len, req.transaction_addr = len(data), 0x1000
    ctypes.memmove(ctypes.addressof(req) + ctypes.sizeof(cls), data, len(data))
    out_buf = ctypes.create_string_buffer(64)
    out = cxlmi.struct_cxlmi_cmd_fmapi_send_ld_cxlio_mem_request_rsp.from_buffer(out_buf)
    mock.transport.set_response(OPCODE, 0, struct.pack("<H2x", len(data)))
    assert cxlmi.cxlmi_cmd_fmapi_send_ld_cxlio_mem_request(mock, None, req, out) == 0
    assert sent_payload(mock) == spec_bytes(4, 1, 0x1000, data, write=True)
    assert out.return_size == len(data)


def test_other_commands_go_out_as_their_structures():
    entry = registry.get("fmapi_send_ld_cxlio_config_request")
    raw = bytes(range(12))
    assert codec.encode_request(entry, raw) == raw
    assert codec.request_from_wire(entry, raw) == raw


def test_wire_translation_round_trips():
    head = bytearray(range(15))
    head[2] |= 0x80                                   # a write: its data goes along
    payload = bytes(head) + b"data"
    wire = codec.request_to_wire(ENTRY, payload)
    assert len(wire) == len(payload) + 1 and wire[1] == 0
    assert codec.request_from_wire(ENTRY, wire) == payload


def test_a_read_goes_out_without_data():
    head = bytearray(range(15))
    head[2] &= 0x7F                                   # a read
    wire = codec.request_to_wire(ENTRY, bytes(head) + b"junk")
    assert len(wire) == 16 and wire[1] == 0
    assert codec.request_from_wire(ENTRY, wire) == bytes(head)


# ---------------------------------------------------------------- through the emulated switch

@pytest.fixture
def sw():
    ctx = Context()
    yield ctx.open("emu:switch")
    ctx.close()


def test_write_then_read_of_ld_memory_round_trips_through_emu_switch(sw):
    data = bytes(range(32)) * 4
    rsp = sw.fmapi_send_ld_cxlio_mem_request(port_id=2, ld_id=1, field_1=field_1(write=True),
                                             transaction_addr=0x200, transaction_data=data)
    assert rsp.return_size == len(data) and bytes(rsp.return_data) == b""
    rsp = sw.fmapi_send_ld_cxlio_mem_request(port_id=2, ld_id=1, field_1=field_1(),
                                             transaction_addr=0x200,
                                             transaction_data=bytes(len(data)))
    assert rsp.return_size == len(data) and bytes(rsp.return_data) == data
    other = sw.fmapi_send_ld_cxlio_mem_request(port_id=2, ld_id=0, field_1=field_1(),
                                               transaction_addr=0x200,
                                               transaction_data=bytes(len(data)))
    assert bytes(other.return_data) == bytes(len(data))      # LD 0 is untouched


def test_compat_write_then_read_through_emu_switch():
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open(ctx, "emu:switch")
    cls = cxlmi.struct_cxlmi_cmd_fmapi_send_ld_cxlio_mem_request_req
    rsp_cls = cxlmi.struct_cxlmi_cmd_fmapi_send_ld_cxlio_mem_request_rsp

    def request(data, write):
        req = cls.sized(len(data))(port_id=2, ld_id=2, transaction_len=len(data),
                                   transaction_addr=0x40)
        req.field_1[:] = field_1(write=write)
        req.transaction_data[:] = data
        out = rsp_cls.sized(len(data))()
        assert cxlmi.cxlmi_cmd_fmapi_send_ld_cxlio_mem_request(ep, None, req, out) == 0
        return out

    request(b"compat!!", True)
    out = request(bytes(8), False)
    assert out.return_size == 8 and bytes(out.return_data) == b"compat!!"
    cxlmi.cxlmi_free_ctx(ctx)


def test_emu_switch_decodes_hand_packed_spec_bytes(sw):
    """Bytes packed from the spec, not by the library's encoder."""
    sw.exchange(OPCODE, spec_bytes(2, 3, 0x10, b"spec", write=True), fmapi=True)
    _, body = sw.exchange(OPCODE, spec_bytes(2, 3, 0x10, bytes(4)), fmapi=True)
    assert bytes(body) == struct.pack("<H2x", 4) + b"spec"


def test_emu_switch_refuses_libcxlmis_shorter_layout(sw):
    libcxlmi_layout = struct.pack("<BBBHHQ", 2, 0xF0, 0x8F, 3, 4, 0x10) + b"spec"
    with pytest.raises(DeviceError) as exc:
        sw.exchange(OPCODE, libcxlmi_layout, fmapi=True)
    assert exc.value.return_code == PAYLOADLEN
