# SPDX-License-Identifier: LGPL-2.1-or-later
"""The AF_MCTP transport, tested at its syscall seam (socket / sendto /
recvfrom / poll / close), plus one test of the real libc path on this kernel."""

import collections
import os
import errno
import socket
import struct
import sys

import pytest

from cxlmi_bindings import cci
from cxlmi_bindings.errors import (CommandTimeout, NotSupported, PermissionDenied,
                                   TransportError, UsageError)
from cxlmi_bindings.transports import mctp as mod
from cxlmi_bindings.transports import open_transport

NET, EID = 1, 8


def addr_bytes(net, eid, msg_type, tag):
    """struct sockaddr_mctp built field by field, in host byte order."""
    order = sys.byteorder
    return ((45).to_bytes(2, order) + bytes(2) + net.to_bytes(4, order)
            + bytes([eid, msg_type, tag, 0]))


def response_to(message, rc=0, payload=b"", tag=None, opcode=None):
    hdr = cci.decode_header(message)
    return cci.encode(hdr.opcode if opcode is None else opcode, payload,
                      tag=hdr.tag if tag is None else tag, category=1, return_code=rc)


class FakeSys:
    """The syscall seam.  ``peer(data, addr)`` returns the datagrams that the
    network delivers in answer: a list of ``(data, sockaddr bytes)``."""

    def __init__(self, peer=None, socket_errno=None):
        self.peer = peer
        self.socket_errno = socket_errno
        self.sockets = []
        self.sent = []
        self.polls = []
        self.closed = []
        self.inbox = collections.deque()
        self.sendto_errno = None

    def socket(self, family, type_, proto=0):
        self.sockets.append((family, type_, proto))
        if self.socket_errno:
            raise OSError(self.socket_errno, "socket")
        return 40 + len(self.sockets)

    def sendto(self, fd, data, addr):
        if self.sendto_errno:
            raise OSError(self.sendto_errno, "sendto")
        self.sent.append((fd, bytes(data), bytes(addr)))
        if self.peer:
            self.inbox.extend(self.peer(bytes(data), bytes(addr)))
        return len(data)

    def poll(self, fd, timeout):
        self.polls.append(timeout)
        return bool(self.inbox)

    def recvfrom(self, fd):
        return self.inbox.popleft()

    def close(self, fd):
        self.closed.append(fd)


def answering(rc=0, payload=b"", net=NET, eid=EID, **kw):
    """A peer that answers every request correctly (tag owner bit cleared)."""
    def peer(data, addr):
        _, _, _, msg_type, tag = mod.unpack_sockaddr(addr)
        return [(response_to(data, rc, payload, **kw),
                 addr_bytes(net, eid, msg_type, tag & ~mod.MCTP_TAG_OWNER & 0xFF | 3))]
    return peer


def transport(sys_, **kw):
    return mod.MctpTransport(NET, EID, syscalls=sys_, **kw)


# -- structures ---------------------------------------------------------------------

def test_sockaddr_mctp_layout():
    assert mod.SOCKADDR_MCTP.size == 12
    assert mod.pack_sockaddr(1, 8, 8, 0x08) == addr_bytes(1, 8, 8, 0x08)
    assert mod.pack_sockaddr(0x01020304, 0x1D, 7, 0x08) == addr_bytes(0x01020304, 0x1D, 7, 8)
    assert mod.unpack_sockaddr(addr_bytes(3, 9, 7, 2)) == (45, 3, 9, 7, 2)
    with pytest.raises(ValueError):
        mod.unpack_sockaddr(b"\x2d\x00")


def test_socket_is_af_mctp_datagram():
    s = FakeSys()
    t = transport(s)
    assert s.sockets == [(45, 2, 0)]
    assert t.describe() == "AF_MCTP net 1 EID 8"
    assert t.info() == {"transport": "mctp", "net": 1, "eid": 8}


def test_backend_registry_builds_it():
    t = open_transport("mctp", net=2, eid=9, syscalls=FakeSys())
    assert (t.net, t.eid) == (2, 9)


# -- sending --------------------------------------------------------------------------

def test_cci_request_goes_as_type_8_with_tag_owner():
    s = FakeSys(answering(payload=b"\xAA\xBB"))
    t = transport(s)
    req = cci.encode(0x0001, b"", tag=0x21)
    rsp = t.send(req, 8, 1.0)
    (fd, data, addr), = s.sent
    assert fd == 41
    assert data == req                       # the CCI message as is, no type byte
    assert addr == addr_bytes(NET, EID, 8, 0x08)
    payload = cci.check_response(rsp, 0x21, 0x0001)[-1]
    assert bytes(payload) == b"\xAA\xBB"


def test_fmapi_and_tunnels_go_as_type_7_on_the_same_socket():
    s = FakeSys(answering())
    t = transport(s)
    t.send(cci.encode(0x5100, b"", tag=1), 7, 1.0)
    t.send(cci.encode(0x5300, bytes(4), tag=2), 7, 1.0)
    t.send(cci.encode(0x0001, b"", tag=3), 8, 1.0)
    assert [mod.unpack_sockaddr(a)[3] for _, _, a in s.sent] == [7, 7, 8]
    assert {fd for fd, _, _ in s.sent} == {41}
    assert len(s.sockets) == 1


def test_other_message_types_are_refused():
    t = transport(FakeSys(answering()))
    with pytest.raises(UsageError):
        t.send(cci.encode(0x0001), 0, 1.0)


def test_eid_out_of_range():
    with pytest.raises(UsageError):
        mod.MctpTransport(1, 256, syscalls=FakeSys())


# -- what gets discarded ------------------------------------------------------------------

def test_stale_and_foreign_datagrams_are_discarded():
    req = cci.encode(0x4000, b"", tag=0x42)
    good = response_to(req, payload=b"ok")
    a = addr_bytes(NET, EID, 8, 1)

    def peer(data, addr):
        return [
            (response_to(req, tag=0x41), a),                      # stale: earlier tag
            (response_to(req, opcode=0x4100), a),                 # wrong opcode
            (good, addr_bytes(NET, 9, 8, 1)),                     # wrong EID
            (good, addr_bytes(2, EID, 8, 1)),                     # wrong network
            (good, addr_bytes(NET, EID, 7, 1)),                   # wrong message type
            (good, addr_bytes(NET, EID, 8, 1 | 0x08)),            # tag owner: a request
            (cci.encode(0x4000, b"", tag=0x42, category=0), a),   # a request echoing ours
            (b"\x01\x42", a),                                      # too short for a header
            (good, b"\x2d\x00"),                                   # mangled address
            (good, a),
        ]
    s = FakeSys(peer)
    t = transport(s)
    rsp = t.send(req, 8, 1.0)
    assert rsp == good
    assert t.stats["discarded"] == 9 and t.stats["received"] == 10


def test_network_any_accepts_any_network():
    req = cci.encode(0x0001, b"", tag=5)
    s = FakeSys(lambda d, a: [(response_to(req), addr_bytes(7, EID, 8, 0))])
    t = mod.MctpTransport(mod.MCTP_NET_ANY, EID, syscalls=s)
    assert cci.decode_header(t.send(req, 8, 1.0)).tag == 5


# -- timeouts -------------------------------------------------------------------------------

def test_no_answer_times_out():
    s = FakeSys()
    t = transport(s)
    with pytest.raises(CommandTimeout) as err:
        t.send(cci.encode(0x4000, b"", tag=9), 8, 0.05)
    assert "4000h" in str(err.value) and "tag 9" in str(err.value)
    assert err.value.exit_code == 5
    assert 0 < s.polls[0] <= 0.05


def test_only_stale_answers_time_out_at_the_deadline():
    req = cci.encode(0x4000, b"", tag=1)

    class Chatty(FakeSys):
        def poll(self, fd, timeout):
            self.polls.append(timeout)
            self.inbox.append((response_to(req, tag=0), addr_bytes(NET, EID, 8, 0)))
            return True
    s = Chatty()
    t = transport(s)
    with pytest.raises(CommandTimeout):
        t.send(req, 8, 0.05)
    assert t.stats["discarded"] >= 1
    # the wait shrinks toward the deadline instead of starting over
    assert s.polls[-1] < s.polls[0] <= 0.05


def test_no_timeout_waits_without_limit():
    s = FakeSys(answering())
    t = transport(s)
    t.send(cci.encode(0x0001, b"", tag=1), 8, None)
    assert s.polls == [None]


# -- retries ---------------------------------------------------------------------------------

def test_busy_and_retry_are_retried_as_configured():
    codes = [6, 5, 0]

    def peer(data, addr):
        return [(response_to(data, rc=codes.pop(0), payload=b"done" if not codes else b""),
                 addr_bytes(NET, EID, 8, 0))]
    s = FakeSys(peer)
    t = transport(s, retries=2, retry_delay=0)
    rsp = t.send(cci.encode(0x4400, b"", tag=4), 8, 1.0)
    hdr = cci.decode_header(rsp)
    assert hdr.return_code == 0 and rsp[cci.HEADER_SIZE:] == b"done"
    assert len(s.sent) == 3 and t.stats["retried"] == 2
    assert len({data for _, data, _ in s.sent}) == 1   # the same message each time


def test_without_retries_busy_comes_back_to_the_caller():
    s = FakeSys(answering(rc=6))
    t = transport(s)
    rsp = t.send(cci.encode(0x4400, b"", tag=4), 8, 1.0)
    assert cci.decode_header(rsp).return_code == 6
    assert len(s.sent) == 1


def test_retries_stop_when_exhausted(monkeypatch):
    slept = []
    monkeypatch.setattr(mod.time, "sleep", slept.append)
    s = FakeSys(answering(rc=5))
    t = transport(s, retries=2, retry_delay=0.25)
    rsp = t.send(cci.encode(0x4400, b"", tag=4), 8, 1.0)
    assert cci.decode_header(rsp).return_code == 5
    assert len(s.sent) == 3 and slept == [0.25, 0.25]


def test_other_error_codes_are_not_retried():
    s = FakeSys(answering(rc=3))
    t = transport(s, retries=3, retry_delay=0)
    assert cci.decode_header(t.send(cci.encode(0x4000, b"", tag=1), 8, 1.0)).return_code == 3
    assert len(s.sent) == 1


# -- errors ---------------------------------------------------------------------------------

def test_kernel_without_af_mctp_is_not_supported():
    with pytest.raises(NotSupported) as err:
        transport(FakeSys(socket_errno=errno.EAFNOSUPPORT))
    assert "AF_MCTP" in str(err.value) and "CONFIG_MCTP" in str(err.value)
    assert "tcp:HOST[:PORT]" in err.value.hint
    assert err.value.errno == errno.EAFNOSUPPORT


def test_socket_permission_error():
    with pytest.raises(PermissionDenied):
        transport(FakeSys(socket_errno=errno.EACCES))


def test_unreachable_eid_points_at_routes():
    s = FakeSys()
    s.sendto_errno = errno.EHOSTUNREACH
    t = transport(s)
    with pytest.raises(TransportError) as err:
        t.send(cci.encode(0x0001, b"", tag=1), 8, 1.0)
    assert "no route to EID 8" in str(err.value) and "mctp route" in err.value.hint


@pytest.mark.parametrize("code", [errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EADDRNOTAVAIL])
def test_every_no_route_errno_points_at_routes(code):
    s = FakeSys()
    s.sendto_errno = code
    t = transport(s)
    with pytest.raises(TransportError) as err:
        t.send(cci.encode(0x0001, b"", tag=1), 8, 1.0)
    assert "no route to EID 8 on network 1" in str(err.value) and err.value.errno == code


def test_socket_eperm_is_permission_denied():
    with pytest.raises(PermissionDenied) as err:
        transport(FakeSys(socket_errno=errno.EPERM))
    assert err.value.exit_code == 4 and "root" in err.value.hint


def test_a_datagram_gone_before_recvfrom_goes_on_waiting():
    class Vanishing(FakeSys):
        first = True

        def recvfrom(self, fd):
            if self.first:
                self.first = False
                raise BlockingIOError(errno.EAGAIN, "recvfrom")
            return super().recvfrom(fd)
    s = Vanishing(answering(payload=b"ok"))
    t = transport(s)
    reply = t.send(cci.encode(0x0001, b"", tag=1), 8, 1.0)
    assert not s.first
    assert cci.check_response(reply, 1, 0x0001)[-1].tobytes() == b"ok"


def test_interrupted_poll_goes_on_waiting():
    class Interrupted(FakeSys):
        first = True

        def poll(self, fd, timeout):
            if self.first:
                self.first = False
                raise InterruptedError(errno.EINTR, "poll")
            return super().poll(fd, timeout)
    s = Interrupted(answering())
    t = transport(s)
    reply = t.send(cci.encode(0x0001, b"", tag=1), 8, 1.0)
    assert not s.first                                   # the EINTR did happen
    assert cci.check_response(reply, 1, 0x0001)[0] == 0  # and the answer still came


def test_close_closes_the_socket_once():
    s = FakeSys()
    t = transport(s)
    t.close()
    t.close()
    assert s.closed == [41]
    with pytest.raises(TransportError):
        t.send(cci.encode(0x0001), 8, 1.0)


# -- the real libc path --------------------------------------------------------------------

def _kernel_has_af_mctp():
    try:
        socket.socket(45, socket.SOCK_DGRAM).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(_kernel_has_af_mctp(), reason="this kernel has AF_MCTP")
def test_real_syscalls_on_a_kernel_without_af_mctp():
    with pytest.raises(NotSupported) as err:
        mod.MctpTransport(1, 8)
    assert "no AF_MCTP socket support" in str(err.value)
    assert "tcp:HOST[:PORT]" in err.value.hint


@pytest.mark.skipif(not _kernel_has_af_mctp(), reason="this kernel has no AF_MCTP")
def test_real_syscalls_on_a_kernel_with_af_mctp():
    # No endpoint answers on a fresh network: sendto fails or the wait times out.
    t = mod.MctpTransport(1, 8)
    try:
        with pytest.raises(TransportError):
            t.send(cci.encode(0x0001, b"", tag=1), 8, 0.1)
    finally:
        t.close()


def test_real_poll_and_recvfrom_on_a_socketpair():
    """The libc recvfrom/poll wrappers on an ordinary datagram socket pair."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sc = mod.Syscalls()
        assert sc.poll(a.fileno(), 0) is False
        b.send(b"x" * 5000)
        assert sc.poll(a.fileno(), 1.0) is True
        data, _ = sc.recvfrom(a.fileno())
        assert data == b"x" * 5000            # sized by peeking: nothing cut off
    finally:
        a.close()
        b.close()


def test_sockaddr_struct_matches_ctypes_layout():
    import ctypes

    class sockaddr_mctp(ctypes.Structure):
        _fields_ = [("family", ctypes.c_uint16), ("pad0", ctypes.c_uint16),
                    ("network", ctypes.c_uint), ("addr", ctypes.c_uint8),
                    ("type", ctypes.c_uint8), ("tag", ctypes.c_uint8),
                    ("pad1", ctypes.c_uint8)]
    assert ctypes.sizeof(sockaddr_mctp) == 12
    sa = sockaddr_mctp(45, 0, 0xA0B0C0D0, 0x1D, 7, 8, 0)
    assert bytes(sa) == mod.pack_sockaddr(0xA0B0C0D0, 0x1D, 7, 8)
    assert struct.unpack("=H", bytes(sa)[:2])[0] == mod.AF_MCTP


# -- the libc seam: what Syscalls hands sendto(2) and takes from recvfrom(2) -----------------

class LibcStandIn:
    """Stands in for libc's socket, sendto and recvfrom under :class:`mod.Syscalls`
    (as C function pointers, so the ctypes argument conversion is the real one).
    This kernel has no AF_MCTP: the socket is one end of a socket pair, made
    readable whenever an answer is queued, so the real poll(2) sees it."""

    def __init__(self, answer):
        import ctypes
        self.ctypes = ctypes
        self.answer = answer            # (data, sockaddr) -> [(data, source sockaddr)]
        self.pair = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sent = []                  # (fd, data, flags, sockaddr bytes, addrlen)
        self.queue = collections.deque()
        self.sockets = []
        c = ctypes
        self._socket = c.CFUNCTYPE(c.c_int, c.c_int, c.c_int, c.c_int)(self.socket)
        self._sendto = c.CFUNCTYPE(c.c_ssize_t, c.c_int, c.c_void_p, c.c_size_t, c.c_int,
                                   c.c_void_p, c.c_uint32)(self.sendto)
        self._recvfrom = c.CFUNCTYPE(c.c_ssize_t, c.c_int, c.c_void_p, c.c_size_t, c.c_int,
                                     c.c_void_p, c.c_void_p)(self.recvfrom)

    def install(self, syscalls):
        syscalls._socket = self._socket
        syscalls._sendto = self._sendto
        syscalls._recvfrom = self._recvfrom
        return syscalls

    def socket(self, family, type_, proto):
        self.sockets.append((family, type_, proto))
        return self.pair[0].detach()

    def sendto(self, fd, buf, length, flags, addr, addrlen):
        data = self.ctypes.string_at(buf, length) if length else b""
        sa = self.ctypes.string_at(addr, addrlen) if addr else b""
        self.sent.append((fd, data, flags, sa, addrlen))
        for datagram in self.answer(data, sa):
            self.queue.append(datagram)
            self.pair[1].send(b"!")
        return length

    def recvfrom(self, fd, buf, length, flags, addr, addrlen_p):
        data, src = self.queue[0]
        if flags & mod.Syscalls.MSG_PEEK:
            return len(data)
        self.queue.popleft()
        os.read(fd, 1)
        n = min(length, len(data))
        self.ctypes.memmove(buf, data, n)
        salen = self.ctypes.cast(addrlen_p, self.ctypes.POINTER(self.ctypes.c_uint32))
        k = min(salen[0], len(src))
        self.ctypes.memmove(addr, src, k)
        salen[0] = k
        return n

    def close(self):
        self.pair[1].close()


@pytest.fixture
def libc():
    stand_ins = []

    def make(answer):
        s = LibcStandIn(answer)
        stand_ins.append(s)
        return s
    yield make
    for s in stand_ins:
        s.close()


def test_sendto_gives_libc_the_destination_net_eid_and_message_type(libc):
    net, eid = 0x0A0B0C0D, 0x1D

    def answer(data, sa):
        if len(sa) != 12:
            return []                   # no address: nothing is delivered
        _, _, _, msg_type, tag = mod.unpack_sockaddr(sa)
        return [(response_to(data, payload=b"ok"), addr_bytes(net, eid, msg_type, 0))]
    kernel = libc(answer)
    t = mod.MctpTransport(net, eid, syscalls=kernel.install(mod.Syscalls()))
    try:
        cci_req = cci.encode(0x4200, b"", tag=3)
        fm_req = cci.encode(0x5100, b"\x01\x02", tag=4)
        assert cci.check_response(t.send(cci_req, 8, 0.5), 3, 0x4200)[-1].tobytes() == b"ok"
        assert cci.check_response(t.send(fm_req, 7, 0.5), 4, 0x5100)[-1].tobytes() == b"ok"
    finally:
        t.close()
    assert kernel.sockets == [(45, socket.SOCK_DGRAM, 0)]
    (fd1, data1, flags1, sa1, len1), (fd2, data2, flags2, sa2, len2) = kernel.sent
    assert fd1 == fd2 and fd1 >= 0
    assert (data1, flags1, len1) == (cci_req, 0, 12)
    assert (data2, flags2, len2) == (fm_req, 0, 12)
    # family 45, pad, network, EID, message type, tag owner, pad -- in host byte order
    assert sa1 == addr_bytes(net, eid, 8, 0x08)
    assert sa2 == addr_bytes(net, eid, 7, 0x08)


def test_a_reply_from_another_eid_through_libc_is_not_taken_for_ours(libc):
    def answer(data, sa):
        return [(response_to(data, payload=b"stranger"), addr_bytes(NET, EID + 1, 8, 0)),
                (response_to(data, payload=b"ours"), addr_bytes(NET, EID, 8, 0))]
    kernel = libc(answer)
    t = mod.MctpTransport(NET, EID, syscalls=kernel.install(mod.Syscalls()))
    try:
        reply = t.send(cci.encode(0x0001, b"", tag=9), 8, 0.5)
    finally:
        t.close()
    assert cci.check_response(reply, 9, 0x0001)[-1].tobytes() == b"ours"
    assert t.stats["discarded"] == 1


# -- MCTP control over AF_MCTP (message-type negotiation) ----------------------------

def control_peer(types, stale_first=False):
    """Answers MCTP control (type 0) Get Message Type Support with ``types``;
    CCI requests as ``answering`` does.  ``stale_first`` delivers first a control
    reply of another instance, which must be dropped."""
    cci_peer = answering(payload=bytes(18))

    def peer(data, addr):
        _, _, _, msg_type, tag = mod.unpack_sockaddr(addr)
        if msg_type != 0:
            return cci_peer(data, addr)
        assert data[0] & 0x80 and data[1] == 0x05       # Rq, Get Message Type Support
        src = addr_bytes(NET, EID, 0, tag & 0x07)
        reply = bytes((data[0] & 0x1F, 0x05, 0x00, len(types))) + bytes(types)
        out = [(reply, src)]
        if stale_first:
            out.insert(0, (bytes(((data[0] + 1) & 0x1F, 0x05, 0x00, 1, 9)), src))
        return out
    return peer


def test_control_goes_as_message_type_0_and_matches_the_instance():
    fake = FakeSys(control_peer([7, 8], stale_first=True))
    t = mod.MctpTransport(NET, EID, syscalls=fake)
    assert t.get_message_types(1.0) == [7, 8]
    _, data, addr = fake.sent[0]
    assert data == b"\x80\x05"
    assert mod.unpack_sockaddr(addr)[1:] == (NET, EID, 0, mod.MCTP_TAG_OWNER)
    assert t.stats["discarded"] == 1                     # the other instance's reply


def test_a_control_reply_from_the_same_eid_on_another_network_is_not_ours():
    def peer(data, addr):
        reply = bytes((data[0] & 0x1F, data[1], 0))
        return [(reply + b"\x63\x00\x00", addr_bytes(NET + 1, EID, 0, 0)),   # net 2's EID 8
                (reply + b"\x08\x00\x00", addr_bytes(NET, EID, 0, 0))]
    t = mod.MctpTransport(NET, EID, syscalls=FakeSys(peer))
    assert t.get_endpoint_id(1.0) == (8, 0, 0)
    assert t.stats["discarded"] == 1
    anywhere = mod.MctpTransport(mod.MCTP_NET_ANY, EID, syscalls=FakeSys(peer))
    assert anywhere.get_endpoint_id(1.0) == (0x63, 0, 0)     # any network: the first


def test_an_endpoint_over_af_mctp_sends_generic_commands_as_type_7_when_8_is_not_listed():
    from cxlmi_bindings import Context
    fake = FakeSys(control_peer([7]))
    ctx = Context(probe=False)
    ep = ctx.open_transport(mod.MctpTransport(NET, EID, syscalls=fake), "mctp:1,8",
                            probe=False)
    ep.identify()
    ep.identify()
    types = [mod.unpack_sockaddr(addr)[3] for _, _, addr in fake.sent]
    assert types == [0, 7, 7]                            # asked once, then type 7


def test_a_control_request_nobody_answers_times_out():
    fake = FakeSys(None)
    t = mod.MctpTransport(NET, EID, syscalls=fake)
    with pytest.raises(CommandTimeout) as info:
        t.get_endpoint_id(0.01)
    assert "MCTP control command 0x02" in str(info.value)


def test_control_datagrams_that_are_not_our_reply_are_dropped():
    def peer(data, addr):
        inst, cmd = data[0] & 0x1F, data[1]
        here = addr_bytes(NET, EID, 0, 0)
        return [(bytes((0x80 | inst, cmd, 0, 0x63, 0, 0)), here),    # the peer's request
                (bytes((inst, cmd)), here),                            # no completion code
                (bytes((inst, cmd, 0, 0x64, 0, 0)), addr_bytes(NET, EID, 8, 0)),  # type 8
                (bytes((inst, cmd, 0, 0x08, 0, 0)), here)]
    t = mod.MctpTransport(NET, EID, syscalls=FakeSys(peer))
    assert t.get_endpoint_id(1.0) == (8, 0, 0)
    assert t.stats["discarded"] == 3


def test_open_transport_with_probe_off_sends_nothing_in_a_probing_context():
    from cxlmi_bindings import Context
    fake = FakeSys(control_peer([7, 8]))
    with Context(probe=True) as ctx:
        ep = ctx.open_transport(mod.MctpTransport(NET, EID, syscalls=fake), "mctp:1,8",
                                probe=False)
        assert fake.sent == [] and ep.component_type is None
        assert ep.probe() is None                        # asked for, it probes
        types = [mod.unpack_sockaddr(addr)[3] for _, _, addr in fake.sent]
        assert types == [0, 8] and ep.component_type == 0x00


def test_generic_commands_stay_type_8_when_get_message_type_support_goes_unanswered():
    from cxlmi_bindings import Context
    cci_peer = answering(payload=bytes(18))

    def peer(data, addr):
        if mod.unpack_sockaddr(addr)[3] == 0:
            return []                                    # no control answer
        return cci_peer(data, addr)
    fake = FakeSys(peer)
    ctx = Context(probe=False)
    ep = ctx.open_transport(mod.MctpTransport(NET, EID, syscalls=fake), "mctp:1,8",
                            probe=False)
    ep.timeout_ms = 50
    assert ep.identify().component_type == 0x00
    types = [mod.unpack_sockaddr(addr)[3] for _, _, addr in fake.sent]
    assert types == [0, 8] and ep.mctp_type == 8


def test_an_mctp_endpoint_opens_once_per_context():
    from cxlmi_bindings import Context
    with Context(probe=False) as ctx:
        ctx.open("mctp:1,8", syscalls=FakeSys())
        with pytest.raises(UsageError) as info:
            ctx.open("mctp:1,8", syscalls=FakeSys())
        assert str(info.value) == "MCTP endpoint 1:8 is already open in this context"
        ctx.open("mctp:1,9", syscalls=FakeSys())         # another EID is another endpoint
        assert [ep.target_key for ep in ctx.endpoints] == [("mctp", 1, 8), ("mctp", 1, 9)]


def test_the_lowest_and_highest_eids_are_in_range():
    for eid in (0, 0xFF):
        s = FakeSys(answering(eid=eid))
        t = mod.MctpTransport(NET, eid, syscalls=s)
        t.send(cci.encode(0x0001, b"", tag=1), 8, 1.0)
        assert mod.unpack_sockaddr(s.sent[0][2])[2] == eid


def control_answers(*replies):
    """A peer answering successive MCTP control requests with ``replies`` (the bytes
    after the instance byte and command: completion code and data), in turn."""
    queue = list(replies)

    def peer(data, addr):
        _, _, _, _, tag = mod.unpack_sockaddr(addr)
        if not queue:
            return []
        reply = queue.pop(0)
        if reply is None:
            return []                                    # this one goes unanswered
        src = addr_bytes(NET, EID, 0, tag & 0x07)
        return [(bytes((data[0] & 0x1F, data[1])) + reply, src)]
    return peer


def test_a_late_control_reply_to_an_earlier_request_is_not_taken_for_the_next():
    class Late(FakeSys):
        """Delivers the reply to the first (timed out) request after the second is sent."""
        def sendto(self, fd, data, addr):
            n = super().sendto(fd, data, addr)
            if len(self.sent) == 1:
                self.late = (bytes((data[0] & 0x1F, data[1], 0, 0x11, 0, 0)),
                             addr_bytes(NET, EID, 0, 0))
                self.inbox.clear()
            else:
                self.inbox.appendleft(self.late)
            return n
    s = Late(control_answers(b"\x00\x11\x00\x00", b"\x00\x22\x00\x00"))
    t = mod.MctpTransport(NET, EID, syscalls=s)
    with pytest.raises(CommandTimeout):
        t.get_endpoint_id(0.01)
    assert t.get_endpoint_id(1.0) == (0x22, 0, 0)
    assert t.stats["discarded"] == 1
    assert [data[0] for _, data, _ in s.sent] == [0x80, 0x81]   # instances 0 and 1


@pytest.mark.parametrize("call, reply, words", [
    ("get_endpoint_id", b"\x00\x08\x00", "Get Endpoint ID reply is 1 bytes short"),
    ("get_endpoint_uuid", b"\x00" + bytes(15), "Get Endpoint UUID reply is 1 bytes short"),
    ("get_message_types", b"\x00\x02\x07", "2 types announced, 1 arrived"),
    ("get_version_support", b"\x00\x02" + bytes(7), "2 entries announced, 7 bytes arrived"),
    ("get_endpoint_id", b"\x02\x08\x00\x00", "failed with completion code 0x02"),
])
def test_a_short_or_failed_control_reply_is_a_protocol_error(call, reply, words):
    from cxlmi_bindings.errors import ProtocolError
    t = mod.MctpTransport(NET, EID, syscalls=FakeSys(control_answers(reply)))
    with pytest.raises(ProtocolError) as err:
        getattr(t, call)(timeout=1.0)
    assert words in str(err.value)


def test_message_types_are_asked_once_per_transport():
    s = FakeSys(control_answers(b"\x00\x02\x07\x08", b"\x00\x01\x08"))
    t = mod.MctpTransport(NET, EID, syscalls=s)
    assert t.message_types(1.0) == [7, 8]
    assert t.message_types(1.0) == [7, 8]
    assert len(s.sent) == 1


def test_detect_falls_back_to_the_kernels_routes_and_says_why(monkeypatch):
    from cxlmi_bindings import discovery
    from cxlmi_bindings.errors import DeviceNotFound

    def no_mctpd(**options):
        raise DeviceNotFound("mctpd is not on the D-Bus bus", hint="start mctpd")
    monkeypatch.setattr(discovery, "scan_mctp", no_mctpd)
    routed = [{"target": "mctp:1,8", "net": 1, "eid": 8}]
    asked = []

    def kernel(cxl_only=True):
        asked.append(cxl_only)
        return routed
    monkeypatch.setattr(discovery, "scan_mctp_kernel", kernel)
    found = mod.MctpTransport.detect()
    assert list(found) == routed
    assert list(mod.MctpTransport.detect(cxl_only=False)) == routed
    assert asked == [True, False]            # the fallback lists what mctpd was asked for
    assert found.note == ("mctpd is not on the D-Bus bus (start mctpd); the MCTP endpoints "
                          "listed are the kernel's routes that answered")
    monkeypatch.setattr(discovery, "scan_mctp_kernel", lambda cxl_only=True: [])
    with pytest.raises(DeviceNotFound, match="mctpd is not on the D-Bus bus"):
        mod.MctpTransport.detect()


def test_a_shared_deadline_cuts_a_longer_timeout_short():
    import time
    s = FakeSys()
    t = transport(s)
    t.deadline = time.monotonic() + 0.05
    with pytest.raises(CommandTimeout):
        t.send(cci.encode(0x4000, b"", tag=2), 8, 30.0)
    assert 0 < s.polls[0] <= 0.05


@pytest.mark.parametrize("entry, text", [
    (b"\xf1\xf3\xf1\x00", "1.3.1"), (b"\xf1\xf2\xff\x00", "1.2"),
    (b"\xf1\xf0\xf0\x61", "1.0.0a"), (b"\x12\xf3\xff\x00", "12.3"),
    (b"\xff\xff\xff\x00", "15"),                 # the major version is always shown
])
def test_version_entries_read_as_text(entry, text):
    from cxlmi_bindings.transports.mctp_control import version_text
    assert version_text(entry) == text
