# SPDX-License-Identifier: LGPL-2.1-or-later
"""The jrl peer profile, from wire transcripts of that peer family.

Jackrabbit Labs' switch emulator (``cse``) and fabric-manager CLI (``jack``)
frame MCTP over TCP as we do (68-byte packets) but deviate from the specs in
ways docs/mctp-over-tcp.md lists.  Every transcript below is the exact bytes
of one exchange, packet by packet (4-byte transport header, then the 64-byte
payload: MCTP type byte and message), written from what those programs put on
the wire.  Where their sender pads a last packet with whatever its buffer held,
the transcript pads with 0xAA, so a test also proves padding is never read.

Client side: a :class:`Replay` peer checks each request byte for byte and
answers with the recorded reply.  Server side: jack's requests go to a real
``Server(..., peer="jrl")`` and the replies are checked.
"""

import socket
import struct
import threading

import pytest

from cxlmi_bindings import Context, Tunnel, codec, peers
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.server import Server
from cxlmi_bindings.errors import CommandTimeout, ProtocolError


def pkt(hexstr, fill=0x00):
    """One 68-byte packet from its meaningful bytes, padded with ``fill``."""
    data = bytes.fromhex(hexstr)
    assert len(data) <= 68, len(data)
    return data + bytes((fill,)) * (68 - len(data))


class Replay:
    """A peer on a real socket that plays a transcript: for each step it reads
    exactly the expected request bytes (recording any difference) and writes
    the recorded reply."""

    def __init__(self, steps):
        self.steps = steps
        self.got = []
        self.mismatch = None
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.target = "tcp:127.0.0.1:%d" % self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _recv(self, conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def _run(self):
        self.sock.settimeout(10)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        conn.settimeout(10)
        with conn:
            for want, reply in self.steps:
                try:
                    data = self._recv(conn, len(want))
                except OSError:
                    return
                self.got.append(data)
                if data != want:
                    self.mismatch = (want.hex(), data.hex())
                    return
                if reply:
                    conn.sendall(reply)
            try:
                self._recv(conn, 1)       # until the client closes
            except OSError:
                pass

    def close(self):
        self.sock.close()
        self.thread.join(5)

    def check(self):
        assert self.mismatch is None, "request bytes differ:\nwant %s\ngot  %s" % self.mismatch
        assert len(self.got) == len(self.steps)


@pytest.fixture
def replay():
    made = []

    def start(*steps):
        r = Replay(steps)
        made.append(r)
        return r

    yield start
    for r in made:
        r.close()


def jrl_endpoint(target, peer="jrl", timeout_ms=2000):
    ctx = Context(probe=False)
    # the replayed peer never heard of Set Transmission Unit: a spec client would
    # wait for its answer once and then send these bytes; the transcripts start there
    ep = ctx.open(target, peer=peer, timeout=2.0, transmission_unit=64)
    ep.timeout_ms = timeout_ms
    return ctx, ep


# ------------------------------------------------------------------ transcripts
# cxl-mi's requests: dst EID 8, src EID 0x10, SOM|EOM, TO=1, MCTP tag 0 (C8).
# cse's replies: dst 0x10, src 0 (its EID was never set), TO=0, the request's tag.

# Identify Switch Device (5100h), CCI tag 1, no payload; cse answers 93 bytes
# (the CXL 2.0 structure, 73 bytes, then 20 it does not write), category 1 in
# the high nibble (10h), over two packets.
ISD_REQUEST = pkt("01 08 10 C8 07" "00 01 00 00 51 00 00 00 00 00 00 00")
_ISD_PAYLOAD = (bytes.fromhex("00 00 08 02") + b"\xff" + bytes(31) + b"\x03" + bytes(31)
                + bytes.fromhex("10 00 02 00 04") + bytes(20))
ISD_REPLY = (pkt("01 10 00 80 07" "10 01 00 00 51 5D 00 00 00 00 00 00"
                 + _ISD_PAYLOAD[:51].hex())
             + pkt("01 10 00 50" + _ISD_PAYLOAD[51:].hex(), 0xAA))

# Get Physical Port State (5101h) of ports 0, 1, 2: the reply is 12 + 4 + 3 x 16
# = 64 bytes, which cse sends as ONE packet carrying 63 (the last byte, port 2's
# supported LD count, is lost).
PPS_REQUEST = pkt("01 08 10 C8 07" "00 01 00 01 51 04 00 00 00 00 00 00" "03 00 01 02")
PPS_REPLY = pkt("01 10 00 C0 07" "10 01 00 01 51 34 00 00 00 00 00 00" "03 00 00 00"
                "00 03 00 00 01 06 10 10 3F 05 05 07 00 0A 00 00"       # port 0: USP
                "01 04 07 00 05 06 10 08 3F 05 05 07 00 0A 00 04"       # port 1: MLD, 4 LDs
                "02 04 07 00 04 06 10 08 3F 05 05 07 00 0A 00")         # port 2: 15 of 16

# Get LD Info (5400h) tunnelled to switch port 1: the outer command (tag 2) carries
# port 1, a reserved byte, size 13 (1 + the 12-byte inner message), the type byte
# 08h, then the inner message (tag 1).  The reply carries length 24 (1 + 23),
# two reserved bytes, 08h, then the inner reply (category 10h): 1 GiB, 4 LDs.
TUNNEL_REQUEST = pkt("01 08 10 C8 07" "00 02 00 00 53 11 00 00 00 00 00 00"
                     "01 00 0D 00 08" "00 01 00 00 54 00 00 00 00 00 00 00")
TUNNEL_REPLY = pkt("01 10 00 C0 07" "10 02 00 00 53 1C 00 00 00 00 00 00"
                   "18 00 00 00 08" "10 01 00 00 54 0B 00 00 00 00 00 00"
                   "00 00 00 40 00 00 00 00 04 00 01", 0xAA)

# Identify (0001h) as type 7: cse answers the 17-byte CXL 2.0 reply (no component
# type): vendor 1DC5h, device 5601h, serial 0102030405060708h, max message 2^12.
IDENTIFY_REQUEST = pkt("01 08 10 C8 07" "00 01 00 01 00 00 00 00 00 00 00 00")
IDENTIFY_REPLY = pkt("01 10 00 C0 07" "10 01 00 01 00 11 00 00 00 00 00 00"
                     "C5 1D 01 56 C5 1D 00 00 08 07 06 05 04 03 02 01 0C", 0xAA)

# MCTP control Get Message Type Support to the null EID (instance 0); cse answers
# 7 and 8 with a stale message tag (5) and tag owner bit set (CD).
TYPES_REQUEST = pkt("01 00 10 C8 00" "80 05")
TYPES_REPLY = pkt("01 10 00 CD 00" "00 05 00 02 07 08", 0xAA)


# ------------------------------------------------------------------ client side

def test_identify_switch_device_93_byte_reply_is_decoded_and_its_extra_bytes_kept(replay):
    peer = replay((ISD_REQUEST, ISD_REPLY))
    ctx, ep = jrl_endpoint(peer.target)
    with ctx:
        info = ep.fmapi_identify_sw_device()
    peer.check()
    assert (info.num_physical_ports, info.num_vcs, info.num_total_vppb,
            info.num_active_vppb, info.num_hdm_decoder_per_usp) == (8, 2, 16, 2, 4)
    assert codec.extra_bytes(info) == bytes(20)
    assert bytes(ep.last_payload) == _ISD_PAYLOAD            # raw output: all 93 bytes


def test_a_64_byte_reply_one_byte_short_is_taken_with_the_jrl_profile(replay):
    peer = replay((PPS_REQUEST, PPS_REPLY))
    ctx, ep = jrl_endpoint(peer.target)
    with ctx:
        state = ep.fmapi_get_phys_port_state(num_ports=3, ports=[0, 1, 2])
        assert ep.transport._rx.padded == 1
    peer.check()
    assert state.num_ports == 3
    assert [p.port_id for p in state.ports] == [0, 1, 2]
    assert state.ports[1].supported_ld_count == 4
    assert state.ports[2].supported_ld_count == 0            # the lost byte, taken as 0


def test_the_same_short_reply_is_malformed_to_a_spec_client(replay):
    peer = replay((PPS_REQUEST, PPS_REPLY))
    ctx, ep = jrl_endpoint(peer.target, peer=None)
    ep.mctp_type = 8
    with ctx, pytest.raises(ProtocolError) as info:
        ep.fmapi_get_phys_port_state(num_ports=3, ports=[0, 1, 2])
    assert "ends after 63 bytes but its CCI header announces 64" in str(info.value)


def test_a_tunnelled_command_goes_in_the_type_byte_form(replay):
    peer = replay((TUNNEL_REQUEST, TUNNEL_REPLY))
    ctx, ep = jrl_endpoint(peer.target)
    with ctx:
        info = ep.fmapi_get_ld_info(tunnel=Tunnel.switch(1))
    peer.check()
    assert (info.memory_size, info.ld_count, info.qos_telemetry_capability) == (1 << 30, 4, 1)


def test_a_tunnelled_reply_without_the_peers_type_byte_is_malformed(replay):
    # the inner reply announced by the same length, behind 07h instead of 08h
    bad = TUNNEL_REPLY.replace(bytes.fromhex("18 00 00 00 08 10 01"),
                               bytes.fromhex("18 00 00 00 07 10 01"), 1)
    assert bad != TUNNEL_REPLY
    peer = replay((TUNNEL_REQUEST, bad))
    ctx, ep = jrl_endpoint(peer.target)
    with ctx, pytest.raises(ProtocolError) as info:
        ep.fmapi_get_ld_info(tunnel=Tunnel.switch(1))
    peer.check()
    assert str(info.value) == ("tunnel level 1 (switch port 1): the inner reply does not start "
                               "with MCTP type 0x08")


def test_an_explicit_mctp_type_wins_over_the_peer_profiles(replay):
    # the jrl profile sends generic commands as type 7; mctp_type=8 overrides it
    request = IDENTIFY_REQUEST.replace(bytes.fromhex("01 08 10 C8 07"),
                                       bytes.fromhex("01 08 10 C8 08"), 1)
    reply = IDENTIFY_REPLY.replace(bytes.fromhex("01 10 00 C0 07"),
                                   bytes.fromhex("01 10 00 C0 08"), 1)
    peer = replay((request, reply))
    with Context(probe=False) as ctx:
        ep = ctx.open(peer.target, peer="jrl", mctp_type=8, timeout=2.0,
                      transmission_unit=64)
        ep.timeout_ms = 2000
        assert ep.mctp_type == 8
        assert ep.identify().serial_num == 0x0102030405060708
    peer.check()


def test_a_spec_client_sends_the_spec_tunnel_form(replay):
    # the default wire bytes: no type byte, size 12; the peer's reply is then refused
    spec_request = pkt("01 08 10 C8 07" "00 02 00 00 53 10 00 00 00 00 00 00"
                       "01 00 0C 00" "00 01 00 00 54 00 00 00 00 00 00 00")
    peer = replay((spec_request, TUNNEL_REPLY))
    ctx, ep = jrl_endpoint(peer.target, peer=None)
    ep.mctp_type = 8
    with ctx, pytest.raises(ProtocolError):
        ep.fmapi_get_ld_info(tunnel=Tunnel.switch(1))
    peer.check()


def test_generic_commands_go_as_type_7_and_a_cxl_2_identify_probe_changes_nothing(replay):
    # the probe (MCTP tag 0, CCI tag 1), then the user's Identify (MCTP tag 1,
    # sequence 1: D9; CCI tag 2), both type 7; the peer's second reply is sequence 1
    again = pkt("01 08 10 D9 07" "00 02 00 01 00 00 00 00 00 00 00 00")
    again_reply = pkt("01 10 00 D1 07" "10 02 00 01 00 11 00 00 00 00 00 00"
                      "C5 1D 01 56 C5 1D 00 00 08 07 06 05 04 03 02 01 0C", 0xAA)
    peer = replay((IDENTIFY_REQUEST, IDENTIFY_REPLY), (again, again_reply))
    with Context(probe=True) as ctx:
        ep = ctx.open(peer.target, peer="jrl", timeout=2.0)
        assert ep.mctp_type == 7                     # the profile decides; nothing asked
        assert ep.component_type is None and ep.has_fmapi   # a 17-byte Identify: unknown
        ident = ep.identify()
    peer.check()
    assert (ident.vendor_id, ident.device_id, ident.serial_num, ident.max_msg_size) == (
        0x1DC5, 0x5601, 0x0102030405060708, 12)


def test_control_replies_with_a_stale_tag_are_taken_with_the_jrl_profile(replay):
    peer = replay((TYPES_REQUEST, TYPES_REPLY))
    ctx, ep = jrl_endpoint(peer.target)
    with ctx:
        assert ep.transport.get_message_types(2.0) == [7, 8]
    peer.check()


def test_a_spec_client_ignores_a_control_reply_with_a_stale_tag(replay):
    peer = replay((TYPES_REQUEST, TYPES_REPLY))
    ctx, ep = jrl_endpoint(peer.target, peer=None)
    with ctx, pytest.raises(CommandTimeout):
        ep.transport.get_message_types(0.5)
    peer.check()                     # the request went to the null EID all the same


# ------------------------------------------------------------------ server side
# jack's requests: dst and src EID 0 (it never sets them), TO=1, MCTP tag 0 (the
# first free one), its sequence counting on per connection; CCI tag 0.

def read_message(sock):
    """The packets of one message (up to EOM)."""
    packets = []
    while True:
        packet = b""
        while len(packet) < 68:
            chunk = sock.recv(68 - len(packet))
            assert chunk, "the server closed the connection"
            packet += chunk
        packets.append(packet)
        if packet[3] & 0x40:
            return packets


@pytest.fixture
def jrl_server():
    servers = []

    def start(peer="jrl"):
        server = Server(profiles.build("switch"), host="127.0.0.1", port=0, peer=peer)
        host, port = server.start()
        servers.append(server)
        sock = socket.create_connection((host, port), timeout=5)
        servers.append(sock)
        return server, sock

    yield start
    for s in servers:
        (s.close if isinstance(s, socket.socket) else s.stop)()


def spec_payload(command, tunnel=None, **fields):
    """What a spec client gets from the same emulated switch."""
    with Context() as ctx:
        ep = ctx.open("emu:switch")
        ep.call(command, fields or None, tunnel)
        return bytes(ep.last_payload)


def test_jack_show_identity_gets_the_category_in_the_high_nibble(jrl_server):
    _, sock = jrl_server()
    sock.sendall(pkt("01 00 00 C8 07" "00 00 00 01 00 00 00 00 00 00 00 00"))
    (reply,) = read_message(sock)
    # dst 0 (jack), src 8 (ours), SOM|EOM, tag 0; category 1 in bits 7:4
    assert reply[:17] == bytes.fromhex("01 00 08 C0 07" "10 00 00 01 00 12 00 00 00 00 00 00")
    assert reply[17:35] == spec_payload("identify")


def test_jack_tunnel_to_an_mld_gets_the_type_byte_form(jrl_server):
    _, sock = jrl_server()
    # show ld info on port 2; byte 1 of the tunnel payload (reserved: jack does not
    # write it) holds stale 5Ah
    sock.sendall(pkt("01 00 00 C8 07" "00 00 00 00 53 11 00 00 00 00 00 00"
                     "02 5A 0D 00 08" "00 00 00 00 54 00 00 00 00 00 00 00"))
    (reply,) = read_message(sock)
    assert reply[:34] == bytes.fromhex("01 00 08 C0 07" "10 00 00 00 53 1C 00 00 00 00 00 00"
                                       "18 00 00 00 08" "10 00 00 00 54 0B 00 00 00 00 00 00")
    assert reply[34:45] == spec_payload("fmapi_get_ld_info", Tunnel.switch(2))


def test_jack_vendor_type_70h_gets_an_unsupported_answer_not_silence(jrl_server):
    _, sock = jrl_server()
    sock.sendall(pkt("01 00 00 C8 70" "00 00 00 01 00 00 00 00 00 00 00 00"))   # list devices
    (reply,) = read_message(sock)
    # response (type 1), tag 0, return code 3 (unsupported), opcode 1, no payload
    assert reply[:17] == bytes.fromhex("01 00 08 C0 70" "01 00 03 01 00 00 00 00 00 00 00 00")


def test_a_type_70h_response_or_a_short_message_gets_no_answer():
    request = bytes.fromhex("00 05 00 01 00 00 00 00 00 00 00 00")
    assert peers.unserved_reply(peers.JRL, 0x70, request) == bytes.fromhex(
        "01 05 03 01 00 00 00 00 00 00 00 00")
    assert peers.unserved_reply(peers.JRL, 0x70, b"\x01" + request[1:]) is None   # a response
    assert peers.unserved_reply(peers.JRL, 0x70, request[:11]) is None
    assert peers.unserved_reply(peers.SPEC, 0x70, request) is None


def test_a_spec_server_stays_silent_to_type_70h(jrl_server):
    server, sock = jrl_server(peer=None)
    sock.sendall(pkt("01 00 00 C8 70" "00 00 00 01 00 00 00 00 00 00 00 00"))
    sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        sock.recv(68)
    assert server.stats["unserved"] == 1


def test_jack_mctp_control_is_answered(jrl_server):
    _, sock = jrl_server()
    sock.sendall(pkt("01 00 00 C8 00" "80 02"))          # Get Endpoint ID, instance 0
    (reply,) = read_message(sock)
    assert reply[:11] == bytes.fromhex("01 00 08 C0 00" "00 02 00 08 00 00")
    sock.sendall(pkt("01 00 00 D8 00" "80 03"))          # Get Endpoint UUID (sequence 1)
    (reply,) = read_message(sock)
    assert reply[:8] == bytes.fromhex("01 00 08 D0 00" "00 03 00")
    assert len(set(reply[8:24])) > 1                     # a UUID, not padding


def _ports_request(seq_flags):
    # Get Physical Port State of 51 ports: 12 + 1 + 51 = 64 bytes, which jack sends
    # as ONE packet of 63 (the last port id, 2, is lost)
    ports = bytes(i % 8 for i in range(51))
    return pkt("01 00 00 %s 07" % seq_flags + "00 00 00 01 51 34 00 00 00 00 00 00" + "33"
               + ports[:50].hex())


def test_a_64_byte_request_one_byte_short_is_served_with_the_missing_byte_as_zero(jrl_server):
    server, sock = jrl_server()
    sock.sendall(_ports_request("C8"))
    packets = read_message(sock)
    body = b"".join(p[4:] for p in packets)[1:]
    assert body[0] == 0x10 and body[3:5] == b"\x01\x51" and body[8:10] == b"\0\0"
    payload = body[12:12 + 4 + 51 * 16]
    assert payload[0] == 51
    assert payload[4 + 50 * 16] == 0                       # the lost port id, taken as 0
    assert payload[4 + 49 * 16] == 49 % 8
    assert server.stats["framing_errors"] == 0


def test_a_spec_server_takes_the_short_request_as_malformed(jrl_server):
    server, sock = jrl_server(peer=None)
    sock.sendall(_ports_request("C8"))
    sock.settimeout(0.3)
    with pytest.raises(socket.timeout):
        sock.recv(68)
    assert server.stats["framing_errors"] == 1


# ------------------------------------------------------------------ the conversions

def test_the_background_flag_moves_to_bit_0_of_byte_7_and_back():
    spec = bytes.fromhex("01 07 00 01 02 00 00 80 01 00 00 00")   # BO set, rc 1
    jrl = peers.to_high_nibble(spec)
    assert jrl == bytes.fromhex("10 07 00 01 02 00 00 01 01 00 00 00")
    assert peers.from_high_nibble(jrl) == spec


def test_a_request_that_is_not_in_the_type_byte_form_is_refused():
    with pytest.raises(ProtocolError):
        peers.tunnel_request_to_spec(bytes.fromhex("01 00 0C 00") + bytes(12), 0x08)
    spec = peers.tunnel_request_to_spec(bytes.fromhex("01 00 0D 00 08") + bytes(12), 0x08)
    assert spec == bytes.fromhex("01 00 0C 00") + bytes(12)
    assert struct.unpack_from("<H", peers.tunnel_response_to_peer(
        bytes.fromhex("0C 00 00 00") + bytes(12), 0x08))[0] == 13


def test_a_reply_already_in_the_spec_form_is_left_as_it_is():
    # BO flag in bit 7 and payload length bit 16 in bit 0 of byte 7: a spec reply of
    # 64 KiB, whose bit 0 is a length bit, not the peer's flag
    spec = bytes.fromhex("01 07 00 01 02 00 00 81 00 00 00 00")
    assert peers.from_high_nibble(spec) == spec


def test_a_type_byte_request_whose_size_disagrees_with_its_bytes_is_refused():
    with pytest.raises(ProtocolError) as info:
        peers.tunnel_request_to_spec(bytes.fromhex("01 00 0E 00 08") + bytes(12), 0x08)
    assert "size 14, 13 bytes follow" in str(info.value)


def test_an_unknown_peer_profile_is_a_usage_error():
    from cxlmi_bindings.errors import UsageError
    with pytest.raises(UsageError) as info:
        peers.get("acme")
    assert "unknown peer profile 'acme' (choose from jrl, spec)" in str(info.value)


def test_a_peer_profile_is_named_in_any_case(jrl_server):
    assert peers.get(" JRL ") is peers.get("Jrl") is peers.JRL
    _, sock = jrl_server(peer="JRL")
    sock.sendall(pkt("01 00 00 C8 07" "00 00 00 01 00 00 00 00 00 00 00 00"))
    (reply,) = read_message(sock)
    assert reply[5] == 0x10                     # category 1 in bits 7:4, as jack reads it


def test_cxl_mi_mctp_get_message_types_reads_the_peers_stale_tag_reply(replay, monkeypatch):
    import json
    from cli_helpers import runner
    from cxlmi_cli.main import cli
    monkeypatch.delenv("CXLMI_TARGET", raising=False)
    peer = replay((TYPES_REQUEST, TYPES_REPLY))
    res = runner().invoke(cli, ["mctp", "get-message-types", peer.target, "--peer", "JRL",
                                "--json"])           # any case, as the library takes it
    assert res.exit_code == 0, res.stderr
    peer.check()
    assert [t["type"] for t in json.loads(res.stdout)["result"]["message_types"]] == [7, 8]
