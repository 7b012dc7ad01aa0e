# SPDX-License-Identifier: LGPL-2.1-or-later
"""The binding-independent MCTP endpoint: whole messages in, reply bodies out.

Every binding (TCP, serial) hands it the same Message objects, so these tests
drive it directly, byte for byte, and once over a real TCP connection."""

import uuid

from cxlmi_bindings import cci
from cxlmi_bindings.errors import ReturnCode
from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.mctp_endpoint import MctpEndpoint, endpoint_uuid
from cxlmi_bindings.emulator.server import Server
from cxlmi_bindings.transports.mctp_tcp import MctpTcpTransport


def request(msg_type, body, tag_owner=1, src=0x10):
    return mf.Message(msg_type, body, src, 8, 3, tag_owner)


def test_get_endpoint_uuid_answers_the_16_bytes_in_network_order():
    fixed = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    ep = MctpEndpoint(lambda t, m: None, uuid=fixed)
    reply = ep.dispatch("t", request(mf.TYPE_CONTROL, b"\x85\x03"))
    assert reply == b"\x05\x03\x00" + bytes.fromhex("00112233445566778899aabbccddeeff")


def test_an_emulated_component_keeps_its_uuid_across_runs_and_differs_from_the_others():
    first = {p: endpoint_uuid(profiles.build(p)) for p in ("type3", "switch", "mld", "dcd")}
    again = {p: MctpEndpoint(profiles.build(p)).uuid for p in first}
    assert first == again
    assert len(set(first.values())) == len(first)


def test_control_replies_carry_the_instance_and_drop_the_request_bit():
    ep = MctpEndpoint(lambda t, m: None, eid=0x21)
    assert ep.dispatch("t", request(mf.TYPE_CONTROL, b"\x9f\x02")) == b"\x1f\x02\x00\x21\x00\x00"
    assert ep.dispatch("t", request(mf.TYPE_CONTROL, b"\x81\x05")) == b"\x01\x05\x00\x02\x07\x08"


def test_responses_and_datagrams_get_nothing_and_requests_reach_the_handler():
    seen = []

    def handler(msg_type, message):
        seen.append((msg_type, message))
        hdr = cci.decode_header(message)
        return cci.encode(hdr.opcode, b"ok", tag=hdr.tag, category=cci.CATEGORY_RESPONSE)

    ep = MctpEndpoint(handler)
    cci_req = cci.encode(0x0001, b"", tag=4)
    assert ep.dispatch("t", request(mf.TYPE_CCI, cci_req, tag_owner=0)) is None
    assert ep.dispatch("t", request(mf.TYPE_CONTROL, b"\x02\x02")) is None      # a response
    assert ep.dispatch("t", request(mf.TYPE_CONTROL, b"\xc2\x02")) is None      # a datagram
    assert ep.dispatch("t", request(0x05, cci_req)) is None                     # not served
    assert ep.stats["unserved"] == 1 and seen == []
    reply = ep.dispatch("t", request(mf.TYPE_CCI, cci_req))
    assert seen == [(mf.TYPE_CCI, cci_req)] and cci.decode_header(reply).tag == 4


def test_a_change_that_cannot_be_saved_is_answered_internal():
    def fail():
        raise OSError("disk full")

    ep = MctpEndpoint(profiles.build("type3"), on_change=fail)
    reply = ep.dispatch("t", request(mf.TYPE_CCI, cci.encode(0x0301, bytes(8), tag=1)))
    assert cci.decode_header(reply).return_code == ReturnCode.INTERNAL
    ok = ep.dispatch("t", request(mf.TYPE_CCI, cci.encode(0x0001, b"", tag=2)))
    assert cci.decode_header(ok).return_code == ReturnCode.SUCCESS      # reads need no save


def test_get_endpoint_uuid_over_tcp_is_the_servers_component_uuid():
    device = profiles.build("switch")
    with Server(device, port=0) as server:
        with MctpTcpTransport(*server.address) as client:
            cc, data = client.control(mf.CTRL_GET_ENDPOINT_UUID)
    assert cc == mf.CC_SUCCESS and uuid.UUID(bytes=data) == endpoint_uuid(device) == server.uuid


def test_a_cci_request_of_a_cxl_type_not_served_is_answered_unsupported():
    seen = []

    def handler(msg_type, message):
        seen.append(msg_type)
    ep = MctpEndpoint(handler, message_types=(mf.TYPE_FMAPI,))      # an FM-API-only endpoint
    reply = ep.dispatch("t", request(mf.TYPE_CCI, cci.encode(0x0001, b"", tag=9)))
    hdr = cci.decode_header(reply)
    assert hdr.return_code == ReturnCode.UNSUPPORTED and hdr.tag == 9 and hdr.opcode == 0x0001
    assert hdr.category == cci.CATEGORY_RESPONSE and seen == [] and ep.stats["unserved"] == 1
    # a response of that type, or a type without a CCI format, still gets nothing
    assert ep.dispatch("t", request(mf.TYPE_CCI, cci.encode(1, b"", category=1))) is None
    assert ep.dispatch("t", request(0x7E, cci.encode(0x0001, b"", tag=1))) is None


def test_a_reply_shorter_than_a_cci_header_is_answered_internal():
    ep = MctpEndpoint(lambda t, m: b"\x01\x02\x03\x04\x05")
    reply = ep.dispatch("t", request(mf.TYPE_CCI, cci.encode(0x0001, b"", tag=6)))
    hdr = cci.decode_header(reply)
    assert hdr.return_code == ReturnCode.INTERNAL and hdr.tag == 6 and hdr.opcode == 0x0001
    header_only = cci.encode(0x0001, b"", tag=6, category=cci.CATEGORY_RESPONSE)
    ep = MctpEndpoint(lambda t, m: header_only)                 # 12 bytes are enough
    assert ep.dispatch("t", request(mf.TYPE_CCI, cci.encode(0x0001, b"", tag=6))) == header_only


def test_a_control_message_too_short_for_its_command_is_ignored():
    ep = MctpEndpoint(lambda t, m: None)
    assert ep.dispatch("t", request(mf.TYPE_CONTROL, b"\x81")) is None
    assert ep.dispatch("t", request(mf.TYPE_CONTROL, b"")) is None
    assert ep.stats["control"] == 2
    assert ep.dispatch("t", request(mf.TYPE_CONTROL, b"\x81\x02")) == b"\x01\x02\x00\x08\x00\x00"
