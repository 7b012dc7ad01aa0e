# SPDX-License-Identifier: LGPL-2.1-or-later
"""Table-driven over the registry: every command (libcxlmi's 97 and the
extensions beside them), both APIs.

For each command, hypothesis draws a valid request from the request
structure's fields (flexible tails of random length, the count field
consistent), and a valid reply from the response structure's.  The reference
bytes come from ``test_layouts.pack`` — a ``struct``-module packing driven by
the independent layout table, not by the library.  Then:

* the whole CCI message the mock transport received is the spec's: category 0,
  the tag, opcode low/high, the 21-bit payload length, return code 0, and the
  payload equal to the reference packing; MCTP message type 7 for FM-API
  commands and anything tunnelled, 8 otherwise;
* the reply, queued as reference bytes, decodes to the drawn values through the
  libcxlmi-compatible ``cxlmi_cmd_*`` API (filled into the caller's object) and
  through ``ep.call`` (the returned structure);
* error return codes come back as ints (compat) and as ``DeviceError`` with
  ``.return_code`` (Pythonic);
* a flexible tail holds what the bytes allow: a count larger than the bytes
  received is not trusted, a smaller one is honoured.
"""

import ctypes
import functools
import struct

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import cxlmi_bindings as cxlmi
from cxlmi_bindings import codec, registry
from cxlmi_bindings.errors import DeviceError, ProtocolError, UsageError
from cxlmi_bindings.tunnel import Tunnel

from test_layouts import LAYOUTS, SCALAR_SIZE, char_view, elem_size, extract, flex_of, pack, unpack

ENTRIES = registry.COMMANDS
IDS = [e.name for e in ENTRIES]
FAST = settings(max_examples=10, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Every cxlmi_cmd_* of libcxlmi's src/libcxlmi.h (names copied from the header).
LIBCXLMI_COMMANDS = """
activate_fw bg_op_status clear_event_records clear_log event_notification fmapi_bind_vppb
fmapi_dc_add_reference fmapi_dc_list_tags fmapi_dc_remove_reference fmapi_get_dc_reg_config
fmapi_get_dc_region_ext_list fmapi_get_dcd_info fmapi_get_domain_validation_sv
fmapi_get_domain_validation_sv_state fmapi_get_head_info fmapi_get_ld_allocations fmapi_get_ld_info
fmapi_get_multiheaded_info fmapi_get_phys_port_state fmapi_get_qos_allocated_bw
fmapi_get_qos_bw_limit fmapi_get_qos_control fmapi_get_qos_status
fmapi_get_vcs_domain_validation_sv_state fmapi_get_vcs_info fmapi_identify_sw_device
fmapi_initiate_dc_add fmapi_initiate_dc_release fmapi_phys_port_control
fmapi_send_ld_cxlio_config_request fmapi_send_ld_cxlio_mem_request
fmapi_send_ppb_cxlio_config_request fmapi_set_dc_region_config fmapi_set_domain_validation_sv
fmapi_set_ld_allocations fmapi_set_qos_allocated_bw fmapi_set_qos_bw_limit fmapi_set_qos_control
fmapi_unbind_vppb get_event_interrupt_policy get_event_records get_feature get_fw_info get_log
get_log_capabilities get_log_cel get_mctp_event_interrupt_policy get_poison_list
get_response_msg_limit get_supported_features get_supported_logs get_supported_logs_sublist
get_timestamp identify memdev_add_dc_response memdev_clear_poison memdev_disable_passphrase
memdev_freeze_security_state memdev_get_alert_config memdev_get_dc_config memdev_get_dc_extent_list
memdev_get_health_info memdev_get_lsa memdev_get_partition_info memdev_get_scan_media_capabilities
memdev_get_scan_media_results memdev_get_security_state memdev_get_shutdown_state
memdev_get_sld_qos_control memdev_get_sld_qos_status memdev_identify memdev_inject_poison
memdev_media_operations_discovery memdev_media_operations_sanitize memdev_passphrase_secure_erase
memdev_release_dc memdev_sanitize memdev_scan_media memdev_secure_erase memdev_security_receive
memdev_security_send memdev_set_alert_config memdev_set_lsa memdev_set_partition_info
memdev_set_passphrase memdev_set_shutdown_state memdev_set_sld_qos_control memdev_unlock
populate_log request_bg_op_abort set_event_interrupt_policy set_feature
set_mctp_event_interrupt_policy set_response_msg_limit set_timestamp transfer_fw vendor_specific
""".split()

DC_CONFIG = {  # name: (head bytes, region structure)
    "memdev_get_dc_config": (8, "struct_cxlmi_memdev_dc_region_config"),
    "fmapi_get_dc_reg_config": (4, "struct_cxlmi_fmapi_dc_region_config"),
}


def S(short):
    return "struct_cxlmi_" + short


# Where libcxlmi's request structure is not the spec's wire layout, the library
# keeps the structure and sends the spec's bytes.  Send LD CXL.io Memory Request
# (5302h): the spec has a 24-bit field at 01h whose low byte is reserved, so LD
# ID is at 04h, the length at 06h, the address at 08h and the data at 10h;
# libcxlmi's ``field_1`` is only that field's upper two bytes.  Only a write
# (bit 23, libcxlmi's field_1[1] bit 7) carries data.
WIRE_FROM_STRUCT = {
    "fmapi_send_ld_cxlio_mem_request":
        lambda raw: raw[:1] + b"\0" + (raw[1:] if raw[2] & 0x80 else raw[1:15]),
}


def wire(entry, raw):
    fix = WIRE_FROM_STRUCT.get(entry.name)
    return fix(raw) if fix else raw


# ------------------------------------------------------------ strategies

def st_scalar(size):
    return st.integers(0, (1 << (8 * size)) - 1)


def st_field(spec, tail):
    if len(spec) == 2:
        return st_scalar(spec[1])
    if len(spec) == 3:
        return st_struct(spec[2])
    elem, count = spec[2], spec[3]
    n = tail if count == 0 else count
    if elem in ("u8", "char"):
        return st.binary(min_size=n, max_size=n)
    item = st_scalar(SCALAR_SIZE[elem]) if elem in SCALAR_SIZE else st_struct(elem)
    return st.lists(item, min_size=n, max_size=n)


@functools.lru_cache(maxsize=None)
def st_struct(name, tail=0):
    """Field values of ``name`` (dict), its flexible tail ``tail`` elements long."""
    return st.fixed_dictionaries({f: st_field(spec, tail)
                                  for f, spec in LAYOUTS[name][1].items()})


def max_tail(name):
    return 24 if flex_of(name)[1] == "u8" else 4


def draw_struct(data, name, count_field=None, label=None):
    """Draw values with a random-length tail; returns (values, tail length)."""
    n = 0
    if flex_of(name):
        n = data.draw(st.integers(0, max_tail(name)), label="%s tail" % (label or name))
    values = data.draw(st_struct(name, n), label=label or name)
    if count_field:
        values[count_field] = n
    return values, n


def zero(name):
    return unpack(name, bytes(LAYOUTS[name][0]), tail=0)


# ------------------------------------------------------------ requests

def draw_request(data, entry):
    """(values or None, reference payload bytes, tail length)."""
    if entry.req is None:
        return None, b"", 0
    values, n = draw_struct(data, S(entry.req), entry.req_count, "request")
    if entry.call == "req_buf" and "length" in values:
        values["length"] = data.draw(st.integers(0, 64), label="length")
    if entry.name == "get_log_cel":
        values["length"] = 4 * data.draw(st.integers(0, 16), label="cel entries")
    if entry.name == "memdev_security_receive":
        values["security_protocol"] = 0      # the one protocol libcxlmi sends
    if entry.name == "fmapi_get_vcs_info":
        values["start_vppb"] = data.draw(st.integers(0, 3), label="start vPPB")
        values["vppb_list_limit"] = data.draw(st.integers(0, 5), label="vPPB list limit")
    return values, pack(S(entry.req), values), n


def _assign(obj, name, values):
    """Fill a library object field by field, the way C-shaped code does."""
    for fname, spec in LAYOUTS[name][1].items():
        value = values[fname]
        if len(spec) == 2:
            setattr(obj, fname, value)
        elif len(spec) == 3:
            _assign(getattr(obj, fname), spec[2], value)
        elif spec[2] in ("u8", "char"):
            setattr(obj, fname, value)
        else:
            arr = getattr(obj, fname)
            for i, item in enumerate(value):
                if spec[2] in LAYOUTS:
                    _assign(arr[i], spec[2], item)
                else:
                    arr[i] = item


def compat_request(entry, values, raw):
    """The request as libcxlmi-style code builds it: attribute by attribute, or
    (flexible tail) a structure viewed over one buffer holding head and tail."""
    if values is None:
        return None, None
    name = S(entry.req)
    cls = getattr(cxlmi, name)
    if flex_of(name):
        buf = ctypes.create_string_buffer(raw, len(raw))
        return cls.from_buffer(buf), buf
    obj = cls()
    _assign(obj, name, values)
    return obj, None


# ------------------------------------------------------------ replies

def draw_reply(data, entry, req_values):
    """(reply payload bytes, expected Pythonic result, expected compat check)."""
    name = entry.name
    if name in DC_CONFIG:
        head, region = DC_CONFIG[name]
        rsp = S(entry.rsp)
        n = data.draw(st.integers(0, 8), label="regions")
        values = data.draw(st_struct(rsp), label="reply")
        values["regions_returned"] = n
        regions = values["region_configs"][:n]
        trailer = [values[f] for f in ("num_extents_supported", "num_extents_available",
                                       "num_tags_supported", "num_tags_available")]
        raw = (pack(rsp, values)[:head] + b"".join(pack(region, r) for r in regions)
               + struct.pack("<4I", *trailer))
        expected = dict(values, region_configs=regions + [zero(region)] * (8 - n))
        return raw, ("struct", rsp, expected, None)
    if name == "fmapi_get_vcs_info":
        # Each block's num_vppbs is the VCS's total; the block carries the page
        # the request asked for: min(total - start, limit) entries.
        block = S("cmd_fmapi_vcs_info_block")
        start, limit = req_values["start_vppb"], req_values["vppb_list_limit"]
        nvcs = data.draw(st.integers(0, 3), label="vcs")
        blocks = []
        for _ in range(nvcs):
            total = data.draw(st.integers(0, 8), label="vPPBs in the VCS")
            k = min(max(0, total - start), limit)
            b = data.draw(st_struct(block, k), label="vcs block")
            b["num_vppbs"] = total
            blocks.append((b, k))
        head = data.draw(st_struct(S(entry.rsp)), label="reply")
        head["num_vcs"] = nvcs
        raw = pack(S(entry.rsp), dict(head, vcs_info_list=[])) + b"".join(
            pack(block, b) for b, _ in blocks)
        return raw, ("vcs", None, blocks, None)
    if entry.rsp is None and entry.size != "raw":
        raw = data.draw(st.binary(max_size=8), label="unexpected reply payload") \
            if entry.call == "none" else b""
        return raw, ("none", None, None, None)
    if name == "get_log_cel":
        n = req_values["length"] // 4
        cel = S(entry.rsp)
        items = data.draw(st.lists(st_struct(cel), min_size=n, max_size=n), label="cel")
        return b"".join(pack(cel, x) for x in items), ("cel", cel, items, None)
    if entry.size == "raw" or entry.rsp is None:
        if req_values is not None and "length" in req_values:
            size = req_values["length"]
        elif name == "memdev_security_receive":
            size = 6 + 2 + 256                # libcxlmi's reply size for protocol 0
        else:
            size = data.draw(st.integers(0, 64), label="raw size")
        raw = data.draw(st.binary(min_size=size, max_size=size), label="raw reply")
        return raw, ("raw", None, raw, None)
    rsp = S(entry.rsp)
    values, n = draw_struct(data, rsp, entry.rsp_count, "reply")
    return pack(rsp, values), ("struct", rsp, values, n)


def compat_out(entry, raw):
    """An output object for the compat call: (object, its backing buffer)."""
    if entry.call in ("req", "none", "req_data", "vendor"):
        return None, None
    if entry.call == "req_buf":
        buf = ctypes.create_string_buffer(len(raw) + 8)
        return buf, buf
    cls = getattr(cxlmi, S(entry.rsp))
    if flex_of(S(entry.rsp)) or entry.name == "get_log_cel":
        buf = ctypes.create_string_buffer(max(len(raw), ctypes.sizeof(cls)) + 8)
        return cls.from_buffer(buf), buf
    obj = cls()
    return obj, None


def compat_call(entry, ep, req, out, ti=None, data_sz=None):
    f = getattr(cxlmi, "cxlmi_cmd_" + entry.name)
    kind = entry.call
    if kind == "rsp":
        return f(ep, ti, out)
    if kind == "req":
        return f(ep, ti, req)
    if kind in ("req_rsp", "req_buf"):
        return f(ep, ti, req, out)
    if kind == "none":
        return f(ep, ti)
    if kind == "req_data":
        return f(ep, ti, req, data_sz)
    raise AssertionError(kind)


def check_compat_output(entry, expect, raw, out, buf):
    kind, name, values, n = expect
    if kind == "none":
        return
    if kind == "raw":
        if buf is not None:
            assert buf.raw[:len(raw)] == raw
            assert buf.raw[len(raw):] == bytes(len(buf.raw) - len(raw))
        else:
            size = len(raw)
            assert bytes(out)[:size] == raw
            assert bytes(out)[size:] == bytes(ctypes.sizeof(out) - size)
        return
    if kind in ("cel", "vcs"):
        assert buf.raw[:len(raw)] == raw
        assert buf.raw[len(raw):] == bytes(len(buf.raw) - len(raw))
        return
    flex = flex_of(name)
    if flex is None:
        assert extract(out, name) == char_view(values, name)
        return
    assert buf.raw[:len(raw)] == raw
    assert buf.raw[len(raw):] == bytes(len(buf.raw) - len(raw))
    head = extract(out, name)
    assert len(head.pop(flex[0])) == 0
    expected = char_view(values, name)
    tail = expected.pop(flex[0])
    assert head == expected
    assert unpack(name, buf.raw, tail=n)[flex[0]] == tail


def check_pythonic_result(entry, expect, raw, result):
    kind, name, values, n = expect
    if kind == "none":
        assert result is None
    elif kind == "raw":
        assert isinstance(result, bytes) and result == raw
    elif kind == "cel":
        assert [extract(x, name) for x in result] == values
    elif kind == "vcs":
        assert result.num_vcs == len(values)
        got = [extract(b, S("cmd_fmapi_vcs_info_block")) for b in result.vcs_info_list]
        assert got == [b for b, _ in values]
    else:
        got = extract(result, name)
        assert got == char_view(values, name)
        flex = flex_of(name)
        if flex:
            assert len(getattr(result, flex[0])) == n


def check_wire(mock, opcode, payload, msg_type):
    msg = mock.last_message
    assert msg[0] == 0, "category: request"
    assert msg[2] == 0, "reserved byte"
    assert msg[3] == opcode & 0xFF and msg[4] == opcode >> 8
    assert int.from_bytes(msg[5:8], "little") == len(payload)      # 21 bits, BO clear
    assert msg[8:10] == b"\0\0", "return code 0 in a request"
    assert msg[10:12] == b"\0\0"
    assert msg[12:] == payload
    assert len(msg) == 12 + len(payload)
    assert mock.last_msg_type == msg_type
    assert mock.last_command == (opcode >> 8, opcode & 0xFF, payload)
    return msg[1]


def new_ep():
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    ep = cxlmi.cxlmi_open_mock(ctx)
    return ctx, ep


def queue(ep, opcode, rc, payload):
    assert cxlmi.cxlmi_mock_set_response(ep, opcode >> 8, opcode & 0xFF, rc,
                                         payload, len(payload)) == 0


# ------------------------------------------------------------ the tests

def test_the_registry_has_every_libcxlmi_command_once():
    ours = [e for e in ENTRIES if not e.extension]
    assert sorted(e.name for e in ours) == sorted(LIBCXLMI_COMMANDS)
    assert len(ours) == 97
    assert list(registry.LIBCXLMI_COMMANDS) == ours
    for e in ENTRIES:
        f = getattr(cxlmi, "cxlmi_cmd_" + e.name)
        assert callable(f)
        assert f.extension is e.extension


def test_extensions_are_marked_and_are_not_libcxlmi_functions():
    extensions = [e for e in ENTRIES if e.extension]
    assert [e.name for e in extensions] == ["perform_maintenance", "perform_maintenance_sparing",
                                            "fmapi_generate_aer_event"]
    assert list(registry.EXTENSIONS) == extensions
    for e in extensions:
        assert e.name not in LIBCXLMI_COMMANDS
        assert e.opcode not in {x.opcode for x in ENTRIES if not x.extension}
        f = getattr(cxlmi, "cxlmi_cmd_" + e.name)
        assert f.__doc__.startswith("Extension: not a libcxlmi function")


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_registry_declaration_is_consistent_with_its_structures(entry):
    assert 0 <= entry.opcode <= 0xFFFF and entry.opcode != 0x5300
    assert entry.fmapi == (0x51 <= entry.command_set <= 0x56)
    assert entry.msg_type == (7 if entry.fmapi else 8)
    for short, count in ((entry.req, entry.req_count), (entry.rsp, entry.rsp_count)):
        if short is not None:
            assert S(short) in LAYOUTS
        if count is not None:
            assert flex_of(S(short)) is not None or entry.name == "fmapi_get_vcs_info"
            assert count in LAYOUTS[S(short)][1]


NON_VENDOR = [e for e in ENTRIES if e.call != "vendor"]


@pytest.mark.parametrize("entry", NON_VENDOR, ids=[e.name for e in NON_VENDOR])
@FAST
@given(data=st.data())
def test_requests_encode_to_spec_wire_bytes_and_replies_decode_to_the_same_values(entry, data):
    req_values, req_raw, n = draw_request(data, entry)
    rsp_raw, expect = draw_reply(data, entry, req_values)
    ctx, ep = new_ep()
    mock = ep.transport
    msg_type = 7 if entry.fmapi else 8

    # libcxlmi-compatible API
    req, _keep = compat_request(entry, req_values, req_raw)
    out, buf = compat_out(entry, rsp_raw)
    queue(ep, entry.opcode, 0, rsp_raw)
    rc = compat_call(entry, ep, req, out, data_sz=n)
    assert rc == 0, ep.last_error
    tag1 = check_wire(mock, entry.opcode, wire(entry, req_raw), msg_type)
    check_compat_output(entry, expect, rsp_raw, out, buf)

    # Pythonic API, the request given as field values
    queue(ep, entry.opcode, 0, rsp_raw)
    result = ep.call(entry.name, req_values)
    tag2 = check_wire(mock, entry.opcode, wire(entry, req_raw), msg_type)
    assert tag2 != tag1
    check_pythonic_result(entry, expect, rsp_raw, result)

    # ... and as a structure, through the named method
    if req_values is not None:
        queue(ep, entry.opcode, 0, rsp_raw)
        obj = getattr(cxlmi, S(entry.req)).sized(n)() if n else getattr(cxlmi, S(entry.req))()
        ctypes.memmove(ctypes.addressof(obj), req_raw, len(req_raw))
        result = getattr(ep, entry.name)(obj)
        check_wire(mock, entry.opcode, wire(entry, req_raw), msg_type)
        check_pythonic_result(entry, expect, rsp_raw, result)
    cxlmi.cxlmi_free_ctx(ctx)


@FAST
@given(opcode=st.integers(0xC000, 0xFFFF), payload=st.binary(max_size=64),
       reply=st.binary(max_size=64), room=st.integers(0, 80))
def test_vendor_specific_carries_any_opcode_and_raw_bytes(opcode, payload, reply, room):
    ctx, ep = new_ep()
    # libcxlmi's rules: a buffer goes with a non-zero size, and the reply payload must
    # be exactly ret_size bytes (none without a ret buffer)
    inbuf = ctypes.create_string_buffer(payload, len(payload)) if payload else None
    ret = ctypes.create_string_buffer(room + 8) if room else None
    queue(ep, opcode, 0, reply)
    rc = cxlmi.cxlmi_cmd_vendor_specific(ep, None, opcode, inbuf, len(payload), ret, room)
    check_wire(ep.transport, opcode, payload, 8)
    if len(reply) != room:
        assert rc == -1
        assert ret is None or ret.raw == bytes(room + 8)       # nothing written
    else:
        assert rc == 0
        if ret is not None:
            assert ret.raw[:room] == reply and ret.raw[room:] == bytes(8)
    queue(ep, opcode, 0, reply)
    assert ep.vendor_specific(opcode, payload) == reply
    check_wire(ep.transport, opcode, payload, 8)
    cxlmi.cxlmi_free_ctx(ctx)


def test_vendor_specific_sends_an_fm_api_opcode_as_fm_api():
    ctx, ep = new_ep()
    queue(ep, 0x5400, 0, bytes(11))
    assert ep.vendor_specific(0x5400) == bytes(11)
    check_wire(ep.transport, 0x5400, b"", 7)            # Get LD Info: type 7
    queue(ep, 0x4000, 0, b"")
    assert ep.vendor_specific(0x4000) == b""
    check_wire(ep.transport, 0x4000, b"", 8)
    cxlmi.cxlmi_endpoint_disable_fmapi(ep)
    with pytest.raises(cxlmi.NotSupported) as info:     # refused, as a named command is
        ep.vendor_specific(0x5400)
    assert "FM-API commands are not enabled" in str(info.value)
    assert ep.transport.last_command[:2] == (0x40, 0x00)
    cxlmi.cxlmi_free_ctx(ctx)


def test_request_fields_go_as_a_request_or_as_keywords_not_both():
    ctx, ep = new_ep()
    with pytest.raises(UsageError) as info:
        ep.call("memdev_get_lsa", {"offset": 0}, length=4)
    assert str(info.value) == "give request fields either as a request or as keywords"
    assert ep.transport.last_command is None            # nothing went out
    queue(ep, 0x4102, 0, b"\x01\x02\x03\x04")
    assert ep.call("memdev_get_lsa", offset=8, length=4) == b"\x01\x02\x03\x04"
    check_wire(ep.transport, 0x4102, struct.pack("<II", 8, 4), 8)
    cxlmi.cxlmi_free_ctx(ctx)


def test_get_vcs_info_through_ep_call_reads_the_page_its_request_asked_for():
    # start at vPPB 2, at most 3 per block: a VCS of 6 vPPBs carries 3, one of 4
    # carries 2; without the request the first block would claim all 6
    ctx, ep = new_ep()
    blocks = [bytes((vcs, 1, 0x20 + vcs, total)) + b"".join(
        bytes((2, 0x40 + i, i, 0)) for i in range(n)) for vcs, total, n in ((0, 6, 3), (1, 4, 2))]
    queue(ep, 0x5200, 0, bytes((2, 0, 0, 0)) + b"".join(blocks))
    got = ep.fmapi_get_vcs_info(start_vppb=2, vppb_list_limit=3, vcs_id_list=[0, 1])
    check_wire(ep.transport, 0x5200, bytes((2, 3, 2, 0, 1)), 7)
    assert [b.vcs_id for b in got.vcs_info_list] == [0, 1]
    assert [[v.bound_port_id for v in b.vppbs] for b in got.vcs_info_list] == [
        [0x40, 0x41, 0x42], [0x40, 0x41]]
    cxlmi.cxlmi_free_ctx(ctx)


def _default_args(entry):
    """A valid all-zero request for the error and message-type tests."""
    values = None
    if entry.req is not None:
        values = zero(S(entry.req))
        if flex_of(S(entry.req)):
            values[flex_of(S(entry.req))[0]] = b"" if flex_of(S(entry.req))[1] == "u8" else []
    raw = pack(S(entry.req), values) if values is not None else b""
    req, keep = compat_request(entry, values, raw)
    return values, req, keep


@pytest.mark.parametrize("entry", NON_VENDOR, ids=[e.name for e in NON_VENDOR])
@FAST
@given(rc=st.one_of(st.integers(2, 32), st.integers(33, 0xFFFF)))
def test_error_return_codes_are_ints_in_compat_and_device_errors_in_python(entry, rc):
    ctx, ep = new_ep()
    values, req, _keep = _default_args(entry)
    out, _buf = compat_out(entry, b"\0" * 4096)
    queue(ep, entry.opcode, rc, b"")
    assert compat_call(entry, ep, req, out, data_sz=0) == rc
    queue(ep, entry.opcode, rc, b"")
    with pytest.raises(DeviceError) as info:
        ep.call(entry.name, values)
    assert info.value.return_code == rc
    if rc <= 32:
        assert info.value.name == [n for n in dir(cxlmi) if n.startswith("CXLMI_RET_")
                                   and getattr(cxlmi, n) == rc][0][len("CXLMI_RET_"):]
    cxlmi.cxlmi_free_ctx(ctx)


def test_vendor_specific_error_codes():
    ctx, ep = new_ep()
    queue(ep, 0xC123, 0x16, b"")
    assert cxlmi.cxlmi_cmd_vendor_specific(ep, None, 0xC123, None, 0, None, 0) == 0x16
    queue(ep, 0xC123, 0x16, b"")
    with pytest.raises(DeviceError) as info:
        ep.vendor_specific(0xC123)
    assert info.value.return_code == 0x16
    cxlmi.cxlmi_free_ctx(ctx)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_msg_type_is_7_for_fmapi_and_tunnelled_commands_8_otherwise(entry):
    ctx, ep = new_ep()
    mock = ep.transport
    values, req, _keep = _default_args(entry)
    out, _buf = compat_out(entry, b"\0" * 4096)
    for ti, tunnel, expected in ((None, None, 7 if entry.fmapi else 8),
                                 (cxlmi.cxlmi_tunnel_switch(2), Tunnel.switch(2), 7),
                                 (cxlmi.cxlmi_tunnel_mld(1), Tunnel.mld(1), 7),
                                 (cxlmi.cxlmi_tunnel_switch_mld(1, 3), Tunnel.switch_mld(1, 3), 7),
                                 (cxlmi.cxlmi_tunnel_mhd(), Tunnel.mhd(), 7)):
        mock.last_msg_type = None
        if entry.call == "vendor":
            rc = cxlmi.cxlmi_cmd_vendor_specific(ep, ti, 0xC001, None, 0, None, 0)
        else:
            rc = compat_call(entry, ep, req, out, ti=ti, data_sz=0)
        assert rc == 3                                  # nothing queued: UNSUPPORTED
        assert mock.last_msg_type == expected
        mock.last_msg_type = None
        with pytest.raises(DeviceError) as info:
            if entry.call == "vendor":
                ep.vendor_specific(0xC001, tunnel=tunnel)
            else:
                ep.call(entry.name, values, tunnel=tunnel)
        assert info.value.return_code == 3
        assert mock.last_msg_type == expected
        assert mock.last_hops == (tunnel.hops if tunnel else ())
    cxlmi.cxlmi_free_ctx(ctx)


BG_ENTRIES = [e for e in ENTRIES if e.bg]


@pytest.mark.parametrize("entry", BG_ENTRIES, ids=[e.name for e in BG_ENTRIES])
def test_background_started_is_success_1_in_compat_and_no_exception(entry):
    ctx, ep = new_ep()
    values, req, _keep = _default_args(entry)
    queue(ep, entry.opcode, 1, b"")
    assert compat_call(entry, ep, req, None, data_sz=0) == 1
    queue(ep, entry.opcode, 1, b"")
    ep.call(entry.name, values)
    assert ep.last_return_code == 1
    cxlmi.cxlmi_free_ctx(ctx)


COUNTED = [e for e in ENTRIES if e.rsp_count and e.name != "fmapi_get_vcs_info"]


@pytest.mark.parametrize("entry", COUNTED, ids=[e.name for e in COUNTED])
@FAST
@given(data=st.data())
def test_flexible_tails_hold_what_the_bytes_allow_whatever_the_count_says(entry, data):
    rsp = S(entry.rsp)
    fname, elem = flex_of(rsp)
    esize = elem_size(elem)
    values, k = draw_struct(data, rsp, None, "reply")
    count_size = LAYOUTS[rsp][1][entry.rsp_count][1]
    claimed = data.draw(st.integers(0, min(k + 6, (1 << (8 * count_size)) - 1)), label="count")
    values[entry.rsp_count] = claimed
    junk = data.draw(st.binary(max_size=esize - 1), label="partial element")
    raw = pack(rsp, values) + junk
    honoured = min(claimed, k)
    fixed = LAYOUTS[rsp][0]

    ctx, ep = new_ep()
    req_values = zero(S(entry.req)) if entry.req else None
    if req_values is not None and flex_of(S(entry.req)):
        req_values[flex_of(S(entry.req))[0]] = b"" if flex_of(S(entry.req))[1] == "u8" else []
    queue(ep, entry.opcode, 0, raw)
    result = ep.call(entry.name, req_values)
    tail = getattr(result, fname)
    assert len(tail) == honoured
    expected = unpack(rsp, pack(rsp, values), tail=honoured)
    assert extract(result, rsp) == char_view(expected, rsp)

    # compat: the caller's buffer receives the honoured part only, and its
    # count says so (C-style callers loop over the count)
    req, _keep = compat_request(entry, req_values,
                                pack(S(entry.req), req_values) if req_values else b"")
    buf = ctypes.create_string_buffer(b"\xA5" * (fixed + (k + 8) * esize))
    out = getattr(cxlmi, rsp).from_buffer(buf)
    queue(ep, entry.opcode, 0, raw)
    assert compat_call(entry, ep, req, out) == 0
    written = fixed + honoured * esize
    expected = bytearray(raw[:written])
    count_at = LAYOUTS[rsp][1][entry.rsp_count][0]
    if entry.name != "fmapi_send_ld_cxlio_mem_request":     # return_size is a byte
        expected[count_at:count_at + count_size] = honoured.to_bytes(count_size, "little")
    assert buf.raw[:written] == bytes(expected)
    assert buf.raw[written:len(buf.raw) - 1] == b"\xA5" * (len(buf.raw) - 1 - written)
    cxlmi.cxlmi_free_ctx(ctx)


@FAST
@given(data=st.data())
def test_vcs_info_blocks_hold_what_the_bytes_allow(data):
    entry = registry.get("fmapi_get_vcs_info")
    block = S("cmd_fmapi_vcs_info_block")
    blocks = [draw_struct(data, block, "num_vppbs", "block") for _ in range(
        data.draw(st.integers(1, 3), label="blocks"))]
    raw = struct.pack("<B3x", len(blocks) + data.draw(st.integers(0, 3))) + b"".join(
        pack(block, b) for b, _ in blocks)
    cut = data.draw(st.integers(4, len(raw)), label="cut")
    raw = raw[:cut]
    ctx, ep = new_ep()
    queue(ep, entry.opcode, 0, raw)
    result = ep.call(entry.name, {"start_vppb": 0, "vppb_list_limit": 255,
                                  "num_vcs": 0, "vcs_id_list": b""})
    offset = 4
    for got in result.vcs_info_list:
        size = ctypes.sizeof(got)
        assert offset + size <= len(raw)
        assert bytes(got) == raw[offset:offset + size]
        assert len(got.vppbs) <= got.num_vppbs
        offset += size
    assert result.num_vcs == len(result.vcs_info_list)
    cxlmi.cxlmi_free_ctx(ctx)


FIXED = [e for e in ENTRIES if e.rsp and e.size == "fixed"]


@pytest.mark.parametrize("entry", FIXED, ids=[e.name for e in FIXED])
@pytest.mark.parametrize("delta", [-1, 1])
def test_fixed_size_replies_of_another_length_are_rejected(entry, delta):
    """by the libcxlmi-compatible layer, as libcxlmi does; the Pythonic API takes a
    longer reply (its extra bytes kept) and refuses a shorter one, unless the
    structure grew between revisions (Identify: 17 bytes in CXL 2.0)"""
    size = LAYOUTS[S(entry.rsp)][0] + delta
    ctx, ep = new_ep()
    values, req, _keep = _default_args(entry)
    queue(ep, entry.opcode, 0, b"\x11" * size)
    if delta > 0:
        result = ep.call(entry.name, values)
        assert codec.extra_bytes(result) == b"\x11"
    elif entry.min_size is not None and size >= entry.min_size:
        assert bytes(ep.call(entry.name, values)) == b"\x11" * size + b"\0"
    else:
        with pytest.raises(ProtocolError):
            ep.call(entry.name, values)
    out, _buf = compat_out(entry, b"")
    before = bytes(out)
    queue(ep, entry.opcode, 0, b"\x11" * size)
    assert compat_call(entry, ep, req, out) == -1
    assert bytes(out) == before
    cxlmi.cxlmi_free_ctx(ctx)


@pytest.mark.parametrize("name,short,missing", [
    ("get_event_interrupt_policy", 4, "dcd_settings"),       # CXL 2.0 reply
    ("memdev_identify", 67, "dc_event_log_size"),             # CXL 2.0 reply
])
def test_replies_that_grew_between_revisions_accept_the_older_size(name, short, missing):
    entry = registry.get(name)
    ctx, ep = new_ep()
    queue(ep, entry.opcode, 0, b"\x22" * short)
    result = ep.call(name)
    assert getattr(result, missing) == 0
    assert bytes(result)[:short] == b"\x22" * short
    queue(ep, entry.opcode, 0, b"\x22" * (short - 1))
    with pytest.raises(ProtocolError):
        ep.call(name)
    cxlmi.cxlmi_free_ctx(ctx)


MINIMUM = [e for e in ENTRIES if e.rsp and e.size == "min"]


@pytest.mark.parametrize("entry", MINIMUM, ids=[e.name for e in MINIMUM])
def test_replies_shorter_than_the_fixed_part_are_rejected(entry):
    rsp = S(entry.rsp)
    if entry.name in DC_CONFIG:
        minimum = DC_CONFIG[entry.name][0] + 16
    else:
        minimum = entry.min_size or LAYOUTS[rsp][0]
    ctx, ep = new_ep()
    values, req, _keep = _default_args(entry)
    queue(ep, entry.opcode, 0, bytes(minimum - 1))
    with pytest.raises(ProtocolError):
        ep.call(entry.name, values)
    cxlmi.cxlmi_free_ctx(ctx)


REQ_COUNTED = [e for e in ENTRIES if e.req_count]


@pytest.mark.parametrize("entry", REQ_COUNTED, ids=[e.name for e in REQ_COUNTED])
@pytest.mark.parametrize("delta", [-1, 1])
def test_a_request_whose_given_count_disagrees_with_its_tail_is_refused(entry, delta):
    """Field values that would put a count on the wire that the tail does not
    match are a usage error, not a malformed request sent to the device."""
    req = S(entry.req)
    fname, elem = flex_of(req)
    values = zero(req)
    values[fname] = b"\1\2" if elem == "u8" else [zero(elem) if elem in LAYOUTS else 1] * 2
    values[entry.req_count] = 2 + delta
    ctx, ep = new_ep()
    queue(ep, entry.opcode, 0, b"")
    with pytest.raises(UsageError):
        ep.call(entry.name, values)
    assert ep.transport.commands_sent == 0
    cxlmi.cxlmi_free_ctx(ctx)
