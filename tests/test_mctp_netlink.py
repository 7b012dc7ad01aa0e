# SPDX-License-Identifier: LGPL-2.1-or-later
"""rtnetlink for MCTP (cxlmi_bindings.mctp_netlink) and the kernel-route discovery built on it.

This host's kernel has no MCTP: here the netlink code reads the real links (``lo`` is always
there, and no link is an MCTP one), and the probe of ``scan_mctp_kernel`` runs against the
documented seam of the AF_MCTP transport (its ``Syscalls``).  Everything else -- links made
from a serial line, addresses, routes, the probe answered by an emulator -- runs against a real
kernel in tests/integration/test_qemu_mctp.py.
"""

import struct
import uuid

import pytest

from cxlmi_bindings import discovery
from cxlmi_bindings import mctp_netlink as nl
from cxlmi_bindings.transports import mctp as af_mctp


def test_attributes_are_padded_and_read_back():
    raw = nl._attr(nl.RTA_DST, b"\x08") + nl._attr(nl.RTA_OIF, struct.pack("=I", 3))
    assert raw == bytes.fromhex("0500 0100 08 000000") + bytes.fromhex("0800 0400 03000000")
    assert nl._attrs(raw) == {nl.RTA_DST: b"\x08", nl.RTA_OIF: b"\x03\x00\x00\x00"}


def test_real_rtnetlink_lists_the_loopback_link_and_no_mctp():
    with nl.Netlink() as link:
        links = link.links()
        assert any(x["name"] == "lo" and x["up"] for x in links)
        assert all(x["net"] is None for x in links)       # this kernel has no MCTP
        assert link.index("lo") == [x["index"] for x in links if x["name"] == "lo"][0]
        assert link.addresses() == [] and link.routes() == []
    assert nl.remote_endpoints() == []


class FakeSyscalls:
    """AF_MCTP as the kernel would show two endpoints: 8 speaks FM-API and CCI, 9 speaks
    only PLDM (type 1), 10 stays silent."""

    UUID8 = uuid.UUID("11111111-2222-3333-4444-555555555555")

    def __init__(self):
        self.sent = []
        self.queue = []

    def socket(self, family, type_, proto=0):
        assert family == af_mctp.AF_MCTP
        return 7

    def sendto(self, fd, data, addr):
        _, net, eid, msg_type, tag = af_mctp.unpack_sockaddr(addr)
        assert msg_type == 0 and tag == af_mctp.MCTP_TAG_OWNER
        self.sent.append((eid, bytes(data)))
        reply_to = af_mctp.pack_sockaddr(net, eid, 0, 1)
        if eid == 8 and data == b"\x80\x05":
            self.queue.append((b"\x00\x05\x00\x02\x07\x08", reply_to))
        elif eid == 8 and data == b"\x80\x03":
            self.queue.append((b"\x00\x03\x00" + self.UUID8.bytes, reply_to))
        elif eid == 9 and data == b"\x80\x05":
            self.queue.append((b"\x00\x05\x00\x01\x01", reply_to))
        elif eid == 9:
            self.queue.append((b"\x00\x03\x05", reply_to))      # UUID unsupported
        return len(data)

    def poll(self, fd, timeout):
        return bool(self.queue)

    def recvfrom(self, fd):
        return self.queue.pop(0)

    def close(self, fd):
        pass


def test_scan_mctp_kernel_asks_every_routed_eid_and_keeps_the_cxl_ones(monkeypatch):
    monkeypatch.setattr(nl, "remote_endpoints",
                        lambda: [(1, 8, "mctpserial0"), (1, 9, "mctpserial0"),
                                 (1, 10, "mctpserial1")])
    fake = FakeSyscalls()
    found = discovery.scan_mctp_kernel(timeout=0.2, syscalls=fake)
    assert [e["target"] for e in found] == ["mctp:1,8"]
    (ep,) = found
    assert ep["message_types"] == [7, 8] and ep["fmapi"] and ep["cci"]
    assert ep["uuid"] == str(FakeSyscalls.UUID8) and ep["link"] == "mctpserial0"
    assert sorted(fake.sent) == [(8, b"\x80\x03"), (8, b"\x80\x05"), (9, b"\x80\x03"),
                                 (9, b"\x80\x05"), (10, b"\x80\x03"), (10, b"\x80\x05")]
    every = discovery.scan_mctp_kernel(timeout=0.2, cxl_only=False, syscalls=FakeSyscalls())
    assert [(e["eid"], e["message_types"], e["uuid"]) for e in every] == [
        (8, [7, 8], str(FakeSyscalls.UUID8)), (9, [1], None)]


class OddSyscalls(FakeSyscalls):
    """11 answers Get Message Type Support with an error completion code (and stray bytes),
    12 speaks only FM-API (type 7)."""

    def sendto(self, fd, data, addr):
        _, net, eid, msg_type, tag = af_mctp.unpack_sockaddr(addr)
        reply_to = af_mctp.pack_sockaddr(net, eid, 0, 1)
        if eid == 11 and data == b"\x80\x05":
            self.queue.append((b"\x00\x05\x01\x02\x07\x08", reply_to))
        elif eid == 12 and data == b"\x80\x05":
            self.queue.append((b"\x00\x05\x00\x01\x07", reply_to))
        else:
            self.queue.append((b"\x00\x03\x05", reply_to))      # UUID unsupported
        self.sent.append((eid, bytes(data)))
        return len(data)


def test_scan_mctp_kernel_trusts_only_successful_replies_and_keeps_fmapi_only(monkeypatch):
    monkeypatch.setattr(nl, "remote_endpoints",
                        lambda: [(1, 11, "mctpserial0"), (1, 12, "mctpserial0")])
    every = discovery.scan_mctp_kernel(timeout=0.2, cxl_only=False, syscalls=OddSyscalls())
    assert [(e["eid"], e["message_types"]) for e in every] == [(11, []), (12, [7])]
    found = discovery.scan_mctp_kernel(timeout=0.2, syscalls=OddSyscalls())
    assert [(e["target"], e["fmapi"], e["cci"]) for e in found] == [("mctp:1,12", True, False)]


# -- rtnetlink messages as the kernel sends them, on a real datagram socket pair ----------------
#
# The kernel end is packed here from the uapi layouts (netlink.h, rtnetlink.h, if_addr.h,
# if_link.h), not with the module's own helpers: nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg and
# 4-byte aligned rtattrs.

def _rta(kind, data):
    raw = struct.pack("=HH", 4 + len(data), kind) + data
    return raw + bytes(-len(raw) % 4)


def _nlmsg(kind, flags, seq, body):
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def _link(index, name, up=True, net=None, nested=0):
    """``nested`` 0x8000 (NLA_F_NESTED) marks the nests, as newer kernels do."""
    body = struct.pack("=BxHiII", 0, 0, index, 1 if up else 0, 0) + _rta(3, name.encode() + b"\0")
    if net is not None:                                             # IFLA_AF_SPEC / AF_MCTP
        body += _rta(26 | nested, _rta(45 | nested, _rta(1, struct.pack("=I", net))))
    return body


def _address(index, eid):
    return struct.pack("=BBBBI", 45, 0, 0, 0, index) + _rta(2, bytes((eid,)))   # IFA_LOCAL


def _route(first, count, index, rtype=1):
    return (struct.pack("=BBBBBBBBI", 45, count - 1, 0, 0, 253, 4, 253, rtype, 0)
            + _rta(1, bytes((first,))) + _rta(4, struct.pack("=I", index)))


class KernelEnd:
    """An rtnetlink socket's kernel end: what ``Netlink`` sends reaches it through a real
    socket pair, and it answers with the datagrams ``answer(kind, flags, seq, body)`` gives."""

    def __init__(self, answer):
        import socket
        self.user, self.kernel = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.answer = answer
        self.requests = []                  # (kind, flags, seq, body)

    def send(self, data):
        n = self.user.send(data)
        req = self.kernel.recv(1 << 16)
        length, kind, flags, seq, _ = struct.unpack_from("=IHHII", req)
        self.requests.append((kind, flags, seq, req[16:length]))
        for datagram in self.answer(kind, flags, seq, req[16:length]):
            self.kernel.send(datagram)
        return n

    def recv(self, size):
        return self.user.recv(size)

    def close(self):
        self.user.close()
        self.kernel.close()


def mctp_kernel(links, addresses, routes, error=0):
    """answer() for dumps of ``links``, ``addresses`` and ``routes`` (message bodies); a
    change (NLM_F_ACK) is acknowledged with ``error`` (0 or an errno)."""
    dumps = {18: (16, links), 22: (20, addresses), 26: (24, routes)}

    def answer(kind, flags, seq, body):
        if kind in dumps:
            reply, bodies = dumps[kind]
            done = _nlmsg(3, 2, seq, bytes(4))
            return [b"".join(_nlmsg(reply, 2, seq, b) for b in bodies) + done]
        return [_nlmsg(2, 0, seq, struct.pack("=i", -error) + _nlmsg(kind, flags, seq, body))]
    return answer


@pytest.fixture
def kernel(monkeypatch):
    """Netlink() talks to the ``answer`` given to kernel(answer); returns the KernelEnd."""
    ends = []

    def start(answer):
        end = KernelEnd(answer)
        ends.append(end)

        def init(self):
            self.sock, self._seq = end, 0
        monkeypatch.setattr(nl.Netlink, "__init__", init)
        return end
    yield start
    for end in ends:
        end.close()


LINKS = [_link(1, "lo"), _link(3, "mctpserial0", net=1), _link(4, "mctpserial1", net=2)]


def test_the_kernels_links_addresses_and_routes_are_read(kernel):
    kernel(mctp_kernel(LINKS, [_address(3, 8)], [_route(8, 1, 3, rtype=2), _route(9, 3, 3)]))
    with nl.Netlink() as link:
        assert link.links()[1:] == [
            {"index": 3, "name": "mctpserial0", "flags": 1, "up": True, "net": 1},
            {"index": 4, "name": "mctpserial1", "flags": 1, "up": True, "net": 2}]
        assert link.addresses() == [{"index": 3, "eid": 8}]
        assert link.routes() == [
            {"first": 8, "last": 8, "index": 3, "type": "local", "mtu": 0},
            {"first": 9, "last": 11, "index": 3, "type": "unicast", "mtu": 0}]


def test_a_links_network_is_read_from_nests_marked_as_such(kernel):
    kernel(mctp_kernel([_link(3, "mctpserial0", net=5, nested=0x8000)], [], []))
    with nl.Netlink() as link:
        assert link.links()[0]["net"] == 5


def test_remote_endpoints_are_every_routed_eid_but_the_local_and_broadcast_ones(kernel):
    routes = [_route(8, 1, 3, rtype=2),      # the local EID's own route
              _route(8, 4, 3),               # a range that covers the local EID too
              _route(0xFD, 3, 4),            # up to the broadcast EID
              _route(20, 1, 1)]              # on a link that is not an MCTP one
    kernel(mctp_kernel(LINKS, [_address(3, 8)], routes))
    assert nl.remote_endpoints() == [(1, 9, "mctpserial0"), (1, 10, "mctpserial0"),
                                     (1, 11, "mctpserial0"), (2, 0xFD, "mctpserial1"),
                                     (2, 0xFE, "mctpserial1")]


def test_answers_to_an_earlier_request_are_not_taken_for_this_ones(kernel):
    answer = mctp_kernel(LINKS, [_address(3, 8)], [_route(8, 4, 3)])

    def late(kind, flags, seq, body):
        stale = _nlmsg(3, 2, seq - 1, bytes(4))     # the end of an earlier dump, late
        return [stale] + answer(kind, flags, seq, body)
    kernel(late)
    assert nl.remote_endpoints() == [(1, 9, "mctpserial0"), (1, 10, "mctpserial0"),
                                     (1, 11, "mctpserial0")]


def test_a_route_to_a_range_of_eids_asks_for_that_many(kernel):
    end = kernel(mctp_kernel(LINKS, [], []))
    with nl.Netlink() as link:
        link.add_route(3, 9, count=3, mtu=68)
        link.add_route(3, 20)
    (kind, flags, _, body), (_, _, _, single) = end.requests
    assert kind == 24 and flags == 1 | 4 | 0x400 | 0x200        # REQUEST ACK CREATE EXCL
    assert body[:9] == struct.pack("=BBBBBBBBx", 45, 2, 0, 0, 253, 4, 253, 1)
    assert _rta(1, b"\x09") + _rta(4, struct.pack("=I", 3)) in body
    assert body.endswith(_rta(8, _rta(2, struct.pack("=I", 68))))   # RTA_METRICS / MTU
    assert single[1] == 0                                            # one EID: length 0


def test_a_change_the_kernel_refuses_raises_its_errno(kernel):
    import errno
    kernel(mctp_kernel(LINKS, [], [], error=errno.EPERM))
    with nl.Netlink() as link:
        with pytest.raises(OSError) as err:
            link.add_address(3, 8)
    assert err.value.errno == errno.EPERM
    kernel(mctp_kernel(LINKS, [], [], error=0))
    with nl.Netlink() as link:
        link.set_up(3)
        link.set_net(3, 1)
        link.add_address(3, 8)
