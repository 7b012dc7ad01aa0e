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
