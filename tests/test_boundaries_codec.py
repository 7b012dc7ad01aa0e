# SPDX-License-Identifier: LGPL-2.1-or-later
"""Edges of the registry-driven codec: what a request becomes when none is
given, how a reply's flexible parts are sized from the bytes received, the
dynamic capacity configuration's region count clamp (the trailer follows the
regions actually returned, never more than the 8 the structure holds), and
the texts of the errors a caller reads.

Reply bytes are written here by hand from the CXL r3.1 layouts (Get Dynamic
Capacity Configuration 4800h, Get Host DC Region Configuration 5601h), not
built through the library.
"""

import ctypes
import struct

import pytest

from cxlmi_bindings import codec, registry, types
from cxlmi_bindings.errors import ProtocolError, UsageError


def entry(name):
    return registry.get(name)


# ------------------------------------------------------------ requests

def test_no_request_for_a_command_without_one_is_an_empty_payload():
    assert codec.encode_request(entry("identify"), None) == b""
    assert codec.encode_request(entry("identify"), {}) == b""
    assert codec.encode_request(entry("memdev_sanitize"), None) == b""


@pytest.mark.parametrize("name,size", [("memdev_get_lsa", 8), ("get_log", 24),
                                       ("memdev_set_partition_info", 9),
                                       ("fmapi_get_dc_reg_config", 4)])
def test_no_request_for_a_command_that_takes_one_is_a_zeroed_request(name, size):
    assert codec.encode_request(entry(name), None) == bytes(size)
    assert codec.encode_request(entry(name), {}) == bytes(size)


def test_request_fields_for_a_command_without_a_request_are_refused():
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry("identify"), {"offset": 1})
    assert str(info.value) == "identify takes no request fields"


def test_request_bytes_go_on_the_wire_as_given():
    lsa = entry("memdev_get_lsa")
    raw = struct.pack("<II", 0x10, 0x20)
    assert codec.encode_request(lsa, raw) == raw
    assert codec.encode_request(lsa, bytearray(raw)) == raw
    assert codec.encode_request(lsa, memoryview(raw)) == raw
    assert codec.encode_request(lsa, {"offset": 0x10, "length": 0x20}) == raw
    req = types.get("cmd_memdev_get_lsa_req")(offset=0x10, length=0x20)
    assert codec.encode_request(lsa, req) == raw


def test_a_request_of_another_type_is_refused_naming_it():
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry("memdev_get_lsa"), 12)
    assert str(info.value) == "memdev_get_lsa: cannot send a request of type int"


def test_a_flexible_request_fills_its_count_from_the_tail():
    clear = entry("clear_event_records")
    got = codec.encode_request(clear, {"event_log": 2, "handles": [0x0102, 0x0304]})
    assert got == bytes((2, 0, 2, 0, 0, 0)) + b"\x02\x01\x04\x03"
    got = codec.encode_request(clear, {"event_log": 1, "nr_recs": 2, "handles": [7, 8]})
    assert got == bytes((1, 0, 2, 0, 0, 0)) + b"\x07\x00\x08\x00"
    assert codec.encode_request(clear, {"event_log": 1, "clear_flags": 1}) == \
        bytes((1, 1, 0, 0, 0, 0))
    # a count given with no tail goes on the wire as given
    assert codec.encode_request(clear, {"nr_recs": 3}) == bytes((0, 0, 3, 0, 0, 0))


def test_a_count_that_does_not_describe_the_tail_is_refused():
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry("clear_event_records"), {"nr_recs": 3, "handles": [1, 2]})
    assert str(info.value) == "nr_recs=3 but handles has 2 entries"


def test_a_byte_tail_may_be_bytes_or_text():
    lsa = entry("memdev_set_lsa")
    assert codec.encode_request(lsa, {"offset": 4, "data": b"\x01\x02"}) == \
        struct.pack("<II", 4, 0) + b"\x01\x02"
    assert codec.encode_request(lsa, {"offset": 4, "data": "hi"}) == \
        struct.pack("<II", 4, 0) + b"hi"
    assert codec.encode_request(lsa, {"offset": 4, "data": bytearray(b"z")}) == \
        struct.pack("<II", 4, 0) + b"z"
    # text is UTF-8 and the tail is its bytes, not its characters
    assert codec.encode_request(lsa, {"offset": 4, "data": "\u00e9t\u00e9"}) == \
        struct.pack("<II", 4, 0) + b"\xc3\xa9t\xc3\xa9"


def test_a_structured_tail_given_as_bytes_is_refused():
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry("clear_event_records"), {"handles": b"\x01\x00"})
    assert str(info.value) == "handles: expected a list of entries, got bytes"


def test_an_unknown_field_is_refused_listing_the_real_ones():
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry("memdev_get_lsa"), {"offset": 1, "lenght": 2, "bogus": 3})
    assert str(info.value) == ("struct_cxlmi_cmd_memdev_get_lsa_req has no field bogus, lenght "
                               "(fields: offset, length)")


def test_fixed_arrays_take_lists_up_to_their_length():
    obj = codec.build(types.get("cmd_memdev_clear_poison_req"),
                      {"clear_poison_phy_addr": 0x40, "clear_poison_write_data": [1, 2, 3]})
    raw = bytes(obj)
    assert raw[:8] == struct.pack("<Q", 0x40) and raw[8:11] == b"\x01\x02\x03"
    assert raw[11:] == bytes(61)
    with pytest.raises(UsageError) as info:
        codec.build(types.get("cmd_memdev_clear_poison_req"),
                    {"clear_poison_write_data": list(range(65))})
    assert str(info.value) == "clear_poison_write_data: at most 64 values, got 65"


def test_fixed_arrays_and_nested_structures_take_ctypes_values_too():
    cls = types.get("cmd_memdev_clear_poison_req")
    data = (ctypes.c_uint8 * 64)(*range(64))
    assert bytes(codec.build(cls, {"clear_poison_write_data": data}))[8:] == bytes(range(64))
    disc = types.get("cmd_memdev_media_operations_discovery_req")
    osa = types.get("media_ops_discovery_osa")(start_index=5, num_ops=6)
    assert bytes(codec.build(disc, {"discovery_osa": osa}))[8:12] == b"\x05\x00\x06\x00"


def test_a_dict_for_a_scalar_field_is_a_usage_error_naming_the_field():
    with pytest.raises(UsageError) as info:
        codec.build(types.get("cmd_memdev_get_lsa_req"), {"offset": {"low": 1}})
    assert str(info.value).startswith("offset: ")


def test_byte_arrays_take_bytes_up_to_their_length():
    cls = types.get("cmd_memdev_unlock_req")
    assert bytes(codec.build(cls, {"current_passphrase": b"abc"})) == b"abc" + bytes(29)
    assert bytes(codec.build(cls, {"current_passphrase": "abc"})) == b"abc" + bytes(29)
    with pytest.raises(UsageError) as info:
        codec.build(cls, {"current_passphrase": b"x" * 33})
    assert str(info.value) == "current_passphrase holds 32 bytes, got 33"


def test_a_value_of_the_wrong_type_is_a_usage_error_naming_the_field():
    with pytest.raises(UsageError) as info:
        codec.build(types.get("cmd_memdev_get_lsa_req"), {"offset": "ten"})
    assert str(info.value).startswith("offset: ")


@pytest.mark.parametrize("name,fields,text", [
    ("get_feature", {"feature_id": 5}, "feature_id: expected a list of at most 16 values, got int"),
    ("get_feature", {"feature_id": None},
     "feature_id: expected a list of at most 16 values, got NoneType"),
    ("get_feature", {"feature_id": [1, "x"]}, "feature_id[1]: "),
    ("clear_event_records", {"handles": ["x"]}, "handles[0]: "),
    ("clear_event_records", {"handles": [1, {"x": 2}]},
     "handles[1]: expected a number, got a dict"),
    ("clear_event_records", {"handles": 5}, "handles: expected a list of entries, got int"),
    ("memdev_set_lsa", {"data": 5}, "data: expected a list of entries, got int"),
], ids=["int-for-an-array", "none-for-an-array", "str-in-an-array", "str-in-a-tail",
        "dict-in-a-tail-of-numbers", "int-for-a-tail", "int-for-a-byte-tail"])
def test_a_value_of_the_wrong_type_for_an_array_is_a_usage_error_naming_the_field(
        name, fields, text):
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry(name), fields)
    assert str(info.value).startswith(text)


@pytest.mark.parametrize("name,fields,text", [
    ("memdev_get_lsa", {"offset": -1, "length": 4}, "offset: -1 is out of range (0..4294967295)"),
    ("memdev_get_lsa", {"offset": 1 << 32, "length": 4},
     "offset: 4294967296 is out of range (0..4294967295)"),
    ("get_feature", {"feature_id": [1, 256]}, "feature_id[1]: 256 is out of range (0..255)"),
    ("clear_event_records", {"handles": [1, 70000]}, "handles[1]: 70000 is out of range (0..65535)"),
    ("memdev_media_operations_discovery", {"discovery_osa": {"num_ops": -2}},
     "num_ops: -2 is out of range (0..65535)"),
    # past 4300 digits Python will not print it: its width is said instead
    ("memdev_get_lsa", {"offset": 10 ** 5000, "length": 4},
     "offset: a 16610-bit number is out of range (0..4294967295)"),
], ids=["negative", "too-big", "array-element", "tail-entry", "nested-field", "huge"])
def test_an_integer_that_does_not_fit_its_field_is_a_usage_error_not_its_low_bits(
        name, fields, text):
    # ctypes would keep the low bits: -1 going out as ffffffff, 70000 as 0x1170
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry(name), fields)
    assert str(info.value) == text


def test_the_largest_and_smallest_values_that_fit_go_out_as_given():
    wire = codec.encode_request(entry("memdev_get_lsa"), {"offset": (1 << 32) - 1, "length": 0})
    assert wire == struct.pack("<II", (1 << 32) - 1, 0)
    wire = codec.encode_request(entry("clear_event_records"), {"handles": [0xFFFF, 0]})
    assert wire[-4:] == struct.pack("<HH", 0xFFFF, 0)


def test_nested_structures_and_arrays_of_structures_take_dicts():
    disc = types.get("cmd_memdev_media_operations_discovery_req")
    raw = bytes(codec.build(disc, {"dpa_range_count": 2,
                                   "discovery_osa": {"start_index": 0x0102, "num_ops": 3}}))
    assert raw[4:8] == struct.pack("<I", 2) and raw[8:12] == b"\x02\x01\x03\x00"
    alloc = types.get("cmd_fmapi_set_ld_allocations_req")
    obj = codec.build(alloc, {"start_ld_id": 1,
                              "ld_allocation_list": [{"range_1_allocation_mult": 5},
                                                     {"range_2_allocation_mult": 6}]},
                      "number_ld")
    assert obj.number_ld == 2
    assert obj.ld_allocation_list[0].range_1_allocation_mult == 5
    assert obj.ld_allocation_list[1].range_2_allocation_mult == 6
    with pytest.raises(UsageError) as info:
        codec.build(disc, {"discovery_osa": {"start": 1}})
    assert str(info.value) == ("struct_cxlmi_media_ops_discovery_osa has no field 'start' "
                               "(fields: start_index, num_ops)")


def test_an_unknown_field_inside_an_entry_lists_the_entrys_fields_without_reserved_ones():
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry("memdev_add_dc_response"), {"extents": [{"start": 0}]})
    assert str(info.value) == ("struct_cxlmi_dc_extent_update has no field 'start' "
                               "(fields: start_dpa, len)")
    with pytest.raises(UsageError) as info:
        codec.encode_request(entry("memdev_media_operations_sanitize"),
                             {"dpa_range_list": [{"start": 0}]})
    assert str(info.value) == ("struct_cxlmi_cmd_memdev_media_ops_dpa_range_list_entry has no "
                               "field 'start' (fields: starting_dpa, length)")
    with pytest.raises(UsageError) as info:
        codec.build(types.get("cmd_memdev_set_lsa_req"), {"rsvd": 1, "x": 2})
    assert str(info.value) == ("struct_cxlmi_cmd_memdev_set_lsa_req has no field x "
                               "(fields: offset, data)")


# ------------------------------------------------------------ the ld mem request translation

def test_the_ld_mem_request_gains_the_reserved_byte_at_01h_and_reads_carry_no_data():
    e = entry("fmapi_send_ld_cxlio_mem_request")
    head = bytes((0x11, 0x2F, 0x80)) + bytes(12)             # a write (bit 7 of field_1[1])
    assert codec.request_to_wire(e, head + b"DATA") == bytes((0x11, 0)) + head[1:] + b"DATA"
    read = bytes((0x11, 0x2F, 0x00)) + bytes(12)
    assert codec.request_to_wire(e, read + b"junk") == bytes((0x11, 0)) + read[1:]
    assert codec.request_to_wire(e, b"") == b""
    assert codec.request_from_wire(e, bytes((0x11, 0)) + head[1:] + b"DATA") == head + b"DATA"
    assert codec.request_from_wire(e, b"\x11") == b"\x11"
    # every other command's bytes are its structure's bytes
    assert codec.request_to_wire(entry("memdev_get_lsa"), b"12345678") == b"12345678"
    assert codec.request_from_wire(entry("memdev_get_lsa"), b"12345678") == b"12345678"


# ------------------------------------------------------------ dynamic capacity configuration

DC = {
    # name: (head size, head bytes, offset of regions_returned)
    "memdev_get_dc_config": (8, bytes((8, 0)) + bytes(6), 1),
    "fmapi_get_dc_reg_config": (4, struct.pack("<HBB", 0x0102, 8, 0), 3),
}


def region(i):
    """Region configuration ``i``: 40 bytes, base/decode/region length/block size distinct."""
    return struct.pack("<QQQQ", 0x1000 * (i + 1), 0x100 * (i + 1), 0x10 * (i + 1), 64 << i) \
        + bytes((i + 1, 0xA0 + i, 0, 0, 0xB0 + i, 0, 0, 0))


TRAILER = struct.pack("<4I", 11, 22, 33, 44)


def dc_reply(name, claimed, present, trailer=TRAILER, junk=b""):
    head_size, head, at = DC[name]
    head = bytearray(head)
    head[at] = claimed
    return bytes(head) + b"".join(region(i) for i in range(present)) + trailer + junk


def trailer_of(obj):
    return (obj.num_extents_supported, obj.num_extents_available, obj.num_tags_supported,
            obj.num_tags_available)


def regions_of(obj, n):
    return [(r.base, r.decode_len, r.region_len, r.block_size) for r in obj.region_configs[:n]]


def expected_regions(n):
    return [(0x1000 * (i + 1), 0x100 * (i + 1), 0x10 * (i + 1), 64 << i) for i in range(n)]


@pytest.mark.parametrize("name", sorted(DC))
@pytest.mark.parametrize("n", [0, 1, 7, 8])
def test_dc_config_reads_the_regions_returned_then_the_trailer_after_them(name, n):
    obj = codec.decode_response(entry(name), dc_reply(name, n, n))
    assert obj.regions_returned == n
    assert regions_of(obj, 8) == expected_regions(n) + [(0, 0, 0, 0)] * (8 - n)
    assert trailer_of(obj) == (11, 22, 33, 44)


@pytest.mark.parametrize("name", sorted(DC))
def test_dc_config_takes_no_more_regions_than_claimed(name):
    # five regions' bytes arrive but only three are claimed: the trailer is
    # read right after the third
    raw = dc_reply(name, 3, 3, trailer=region(3)[:16])
    obj = codec.decode_response(entry(name), raw + region(4) + TRAILER)
    assert obj.regions_returned == 3
    assert regions_of(obj, 4) == expected_regions(3) + [(0, 0, 0, 0)]
    assert trailer_of(obj) == struct.unpack("<4I", region(3)[:16])


@pytest.mark.parametrize("name", sorted(DC))
@pytest.mark.parametrize("claimed,present", [(5, 2), (8, 0), (255, 3)])
def test_dc_config_takes_no_more_regions_than_arrived(name, claimed, present):
    obj = codec.decode_response(entry(name), dc_reply(name, claimed, present, junk=b"\x99" * 39))
    assert obj.regions_returned == present
    assert regions_of(obj, 8) == expected_regions(present) + [(0, 0, 0, 0)] * (8 - present)
    assert trailer_of(obj) == (11, 22, 33, 44)


@pytest.mark.parametrize("name", sorted(DC))
@pytest.mark.parametrize("claimed", [9, 10, 255])
def test_dc_config_takes_no_more_than_the_8_regions_the_structure_holds(name, claimed):
    raw = dc_reply(name, claimed, 10)                  # ten regions' bytes arrive
    obj = codec.decode_response(entry(name), raw)
    assert obj.regions_returned == 8
    assert regions_of(obj, 8) == expected_regions(8)
    # the trailer is the 16 bytes after the eighth region
    assert trailer_of(obj) == struct.unpack("<4I", region(8)[:16])
    assert ctypes.sizeof(obj) == DC[name][0] + 8 * 40 + 16


@pytest.mark.parametrize("name", sorted(DC))
def test_a_dc_config_reply_shorter_than_head_and_trailer_is_a_protocol_error(name):
    head_size = DC[name][0]
    raw = dc_reply(name, 0, 0)
    assert len(raw) == head_size + 16
    assert codec.decode_response(entry(name), raw).regions_returned == 0
    with pytest.raises(ProtocolError) as info:
        codec.decode_response(entry(name), raw[:-1])
    assert str(info.value) == "%s: reply of %d bytes is shorter than its %d-byte minimum" % (
        name, head_size + 15, head_size + 16)


def test_the_dc_config_head_fields_are_kept():
    obj = codec.decode_response(entry("fmapi_get_dc_reg_config"),
                                dc_reply("fmapi_get_dc_reg_config", 1, 1))
    assert (obj.host_id, obj.num_regions) == (0x0102, 8)
    assert obj.region_configs[0].flags == 1 and obj.region_configs[0].sanitize_on_release == 0xB0
    obj = codec.decode_response(entry("memdev_get_dc_config"), dc_reply("memdev_get_dc_config",
                                                                        2, 2))
    assert obj.num_regions == 8
    assert obj.region_configs[1].dsmadhandle == 2 | 0xA1 << 8
    assert obj.region_configs[1].flags == 0xB1


# ------------------------------------------------------------ other replies

def test_a_fixed_reply_shorter_than_its_structure_is_a_protocol_error():
    e = entry("bg_op_status")
    assert bytes(codec.decode_response(e, bytes(range(8)))) == bytes(range(8))
    for size in (0, 7):
        with pytest.raises(ProtocolError) as info:
            codec.decode_response(e, bytes(size))
        assert str(info.value) == "bg_op_status: reply is %d bytes, expected at least 8" % size


def test_a_fixed_reply_longer_than_its_structure_is_decoded_and_its_extra_bytes_kept():
    # a newer spec revision appended fields: the structure is filled, the rest kept
    e = entry("fmapi_identify_sw_device")             # 73 bytes; a peer answers 93
    reply = bytes(range(93))
    obj = codec.decode_response(e, reply)
    assert bytes(obj) == reply[:73]
    assert codec.extra_bytes(obj) == reply[73:]
    assert codec.extra_bytes(codec.decode_response(e, reply[:73])) == b""


def test_identify_takes_the_cxl_2_reply_without_the_component_type():
    e = entry("identify")
    obj = codec.decode_response(e, bytes(range(1, 18)))     # 17 bytes, CXL 2.0
    assert bytes(obj) == bytes(range(1, 18)) + b"\0"
    with pytest.raises(ProtocolError) as info:
        codec.decode_response(e, bytes(16))
    assert str(info.value) == "identify: reply of 16 bytes is shorter than its 17-byte minimum"


def test_a_grown_structure_reads_missing_fields_as_zero_and_ignores_extra_bytes():
    e = entry("memdev_identify")                     # 67 bytes before CXL 3.0, 69 after
    short = bytes(range(1, 68))
    obj = codec.decode_response(e, short)
    assert bytes(obj) == short + b"\0\0"
    longer = codec.decode_response(e, bytes(range(1, 75)))
    assert bytes(longer) == bytes(range(1, 70))
    assert codec.extra_bytes(longer) == bytes(range(70, 75))
    with pytest.raises(ProtocolError) as info:
        codec.decode_response(e, bytes(66))
    assert str(info.value) == "memdev_identify: reply of 66 bytes is shorter than its 67-byte minimum"


def test_a_flexible_reply_shorter_than_its_head_is_a_protocol_error():
    with pytest.raises(ProtocolError) as info:
        codec.decode_response(entry("get_supported_logs"), bytes(7))
    assert str(info.value) == "get_supported_logs: reply of 7 bytes is shorter than its 8-byte minimum"


def test_a_flexible_tail_is_the_smaller_of_its_count_and_the_whole_entries_received():
    e = entry("get_supported_logs")                  # 8-byte head, 20-byte entries
    def reply(count, entries, extra=b""):
        return struct.pack("<H6x", count) + b"".join(
            bytes([i + 1]) * 16 + struct.pack("<I", 100 + i) for i in range(entries)) + extra
    assert len(codec.decode_response(e, reply(3, 3)).entries) == 3
    assert len(codec.decode_response(e, reply(2, 3)).entries) == 2
    got = codec.decode_response(e, reply(5, 2, b"\x01" * 19))
    assert [x.log_size for x in got.entries] == [100, 101]
    assert len(codec.decode_response(e, reply(0, 2)).entries) == 0


def test_a_tail_without_a_count_field_is_every_whole_entry_received():
    cls = types.get("cmd_fmapi_get_qos_allocated_bw_rsp")    # u8 tail counted by number_ld
    got = codec.size_tail(cls, bytes((9, 0)) + b"\x10\x20\x30")
    assert bytes(got.qos_allocation_fraction) == b"\x10\x20\x30"
    got = codec.size_tail(cls, bytes((2, 0)) + b"\x10\x20\x30", "number_ld")
    assert bytes(got.qos_allocation_fraction) == b"\x10\x20"


def test_raw_replies_are_their_bytes_and_replies_without_a_structure_are_none():
    assert codec.decode_response(entry("memdev_get_lsa"), memoryview(b"abc")) == b"abc"
    assert codec.decode_response(entry("memdev_get_lsa"), b"") == b""
    assert codec.decode_response(entry("memdev_sanitize"), b"") is None


def test_the_cel_is_an_array_of_whole_4_byte_entries():
    e = entry("get_log_cel")
    got = codec.decode_response(e, struct.pack("<HHHH", 0x0001, 0x0002, 0x4400, 0x0020) + b"\xff")
    assert [(x.opcode, x.command_effect) for x in got] == [(1, 2), (0x4400, 0x20)]
    assert len(codec.decode_response(e, b"\x01\x02\x03")) == 0


def test_a_composite_reply_gives_the_decoded_view_when_asked():
    raw = vcs_reply(vcs_block(0, 1, 1))
    got = codec.decode_response(entry("fmapi_get_vcs_info"), raw)
    plain = got.to_dict()
    shown = got.to_dict(decoded=True)
    assert "rsv1" in plain["vcs_info_list"][0]["vppbs"][0]
    assert "rsv1" not in shown["vcs_info_list"][0]["vppbs"][0]        # reserved: left out
    assert shown["vcs_info_list"][0]["vppbs"][0]["bound_port_id"] == 0x40


def test_a_composite_reply_converts_its_parts_to_dicts():
    block = types.get("cmd_fmapi_vcs_info_block")
    comp = codec.Composite(num_vcs=1, vcs_info_list=[block.sized(0)()])
    d = comp.to_dict()
    assert d["num_vcs"] == 1 and isinstance(d["vcs_info_list"], list)
    assert d["vcs_info_list"][0] == types.to_dict(block.sized(0)())
    assert repr(comp).startswith("Composite(num_vcs=1, vcs_info_list=[")


def test_a_two_byte_ld_mem_request_off_the_wire_loses_only_the_reserved_byte():
    e = entry("fmapi_send_ld_cxlio_mem_request")
    assert codec.request_from_wire(e, b"\x11\x00") == b"\x11"
    assert codec.request_from_wire(e, b"\x11\x00\x2f") == b"\x11\x2f"


# ------------------------------------------------------------ Get VCS Info

def vcs_block(vcs_id, total, entries):
    """A VCS information block: id, state, USP id, vPPB count (the VCS's total),
    then ``entries`` 4-byte vPPB records."""
    return bytes((vcs_id, 1, 0x20 + vcs_id, total)) + b"".join(
        bytes((2, 0x40 + i, i, 0)) for i in range(entries))


def vcs_reply(*blocks):
    return bytes((len(blocks), 0, 0, 0)) + b"".join(blocks)


def vppbs_of(result):
    return [[(v.bound_port_id, v.bound_ld_id) for v in b.vppbs] for b in result.vcs_info_list]


def test_vcs_info_without_the_request_takes_each_blocks_whole_count():
    e = entry("fmapi_get_vcs_info")
    got = codec.decode_response(e, vcs_reply(vcs_block(0, 2, 2), vcs_block(1, 3, 3)))
    assert got.num_vcs == 2
    assert vppbs_of(got) == [[(0x40, 0), (0x41, 1)], [(0x40, 0), (0x41, 1), (0x42, 2)]]
    assert [b.usp_id for b in got.vcs_info_list] == [0x20, 0x21]


@pytest.mark.parametrize("request_bytes", [bytes((2, 3)), bytes((2, 3, 2)), bytes((2, 3, 2, 0, 1))])
def test_vcs_info_blocks_carry_the_page_the_request_asked_for(request_bytes):
    # start at vPPB 2, at most 3 per block: a VCS of 1 gives none, one of 6
    # gives 3, one of 4 gives 2
    e = entry("fmapi_get_vcs_info")
    raw = vcs_reply(vcs_block(2, 1, 0), vcs_block(0, 6, 3), vcs_block(1, 4, 2))
    got = codec.decode_response(e, raw, request_bytes)
    assert [len(b.vppbs) for b in got.vcs_info_list] == [0, 3, 2]
    assert [b.num_vppbs for b in got.vcs_info_list] == [1, 6, 4]
    assert [b.vcs_id for b in got.vcs_info_list] == [2, 0, 1]


def test_vcs_info_with_a_one_byte_request_reads_no_page():
    e = entry("fmapi_get_vcs_info")
    got = codec.decode_response(e, vcs_reply(vcs_block(0, 2, 2)), b"\x01")
    assert [len(b.vppbs) for b in got.vcs_info_list] == [2]


def test_vcs_info_stops_at_a_block_cut_short():
    e = entry("fmapi_get_vcs_info")
    raw = vcs_reply(vcs_block(0, 3, 3), vcs_block(1, 2, 2))
    got = codec.decode_response(e, raw[:-2])              # the last vPPB is cut
    assert [len(b.vppbs) for b in got.vcs_info_list] == [3, 1]
    got = codec.decode_response(e, raw[:4 + 16 + 2])        # the second block's head is cut
    assert [len(b.vppbs) for b in got.vcs_info_list] == [3]


def test_a_vcs_info_reply_shorter_than_its_header_is_a_protocol_error():
    with pytest.raises(ProtocolError) as info:
        codec.decode_response(entry("fmapi_get_vcs_info"), b"\x01\x00\x00")
    assert str(info.value) == "fmapi_get_vcs_info: reply of 3 bytes is shorter than its 4-byte header"
