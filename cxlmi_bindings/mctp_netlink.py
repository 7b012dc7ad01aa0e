# SPDX-License-Identifier: LGPL-2.1-or-later
"""The kernel's MCTP configuration over rtnetlink, with the standard library only.

What the ``mctp`` tool of CodeConstruct/mctp (``mctp link``, ``mctp addr``, ``mctp route``)
does, for the few operations cxl-mi needs: read the MCTP links (interface index, name, flags,
MCTP network), local addresses (EIDs) and routes, and -- as root -- bring a link up, give it a
local EID and add a route to a peer EID.  Linux's MCTP netlink interface (net/mctp/device.c,
net/mctp/route.c):

* addresses: ``RTM_NEWADDR`` / ``RTM_GETADDR`` with ``struct ifaddrmsg`` (family ``AF_MCTP``,
  the interface index) and an ``IFA_LOCAL`` attribute of one byte, the EID;
* routes: ``RTM_NEWROUTE`` / ``RTM_GETROUTE`` with ``struct rtmsg`` (family ``AF_MCTP``,
  ``rtm_dst_len`` = the size of the EID range minus one, type ``RTN_UNICAST``; local EIDs
  show as ``RTN_LOCAL`` routes), ``RTA_DST`` (u8, the first EID) and ``RTA_OIF`` (u32);
* a link's MCTP network: ``IFLA_MCTP_NET`` (u32) nested in ``IFLA_AF_SPEC`` / ``AF_MCTP``.

A serial line becomes an MCTP link when the N_MCTP line discipline (28) is set on its tty with
``TIOCSETD``; the link (``mctpserialN``) lives while the tty stays open.

Errors are ``OSError`` with the kernel's errno (``EPERM`` without ``CAP_NET_ADMIN``,
``EAFNOSUPPORT``-like failures on a kernel without MCTP show as empty results or errors of the
request that needed it).
"""

import os
import socket
import struct

AF_MCTP = 45
NETLINK_ROUTE = 0

RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR, RTM_GETADDR = 20, 22
RTM_NEWROUTE, RTM_GETROUTE = 24, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3

NLM_F_REQUEST = 0x001
NLM_F_MULTI = 0x002
NLM_F_ACK = 0x004
NLM_F_DUMP = 0x300
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

IFLA_IFNAME = 3
IFLA_AF_SPEC = 26
IFLA_MCTP_NET = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_METRICS = 1, 4, 8
RTAX_MTU = 2

RT_TABLE_DEFAULT = 253
RTPROT_STATIC = 4
RT_SCOPE_LINK = 253
RTN_UNICAST, RTN_LOCAL = 1, 2
IFF_UP = 0x1

#: the tty line discipline of the MCTP serial binding, and the ioctl that sets one
N_MCTP = 28
TIOCSETD = 0x5423

_NLMSG = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")


def _attr(kind, data):
    data = bytes(data)
    raw = _RTATTR.pack(_RTATTR.size + len(data), kind) + data
    return raw + bytes(-len(raw) % 4)


def _attrs(data):
    """{type: payload} of the attributes in data (the last one of a type wins)."""
    out = {}
    at = 0
    while at + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, at)
        if length < _RTATTR.size:
            break
        out[kind & 0x3FFF] = data[at + _RTATTR.size:at + length]
        at += (length + 3) & ~3
    return out


class Netlink:
    """One rtnetlink socket; a context manager."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.settimeout(5)
        self._seq = 0

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def request(self, kind, flags, body):
        """Send one request; return the payloads of the answer's messages as (type, bytes).
        A dump is read to its end; an acknowledged request returns [] or raises OSError."""
        self._seq += 1
        seq = self._seq
        msg = _NLMSG.pack(_NLMSG.size + len(body), kind, NLM_F_REQUEST | flags, seq, 0) + body
        self.sock.send(msg)
        out = []
        while True:
            data = self.sock.recv(1 << 16)
            at = 0
            while at + _NLMSG.size <= len(data):
                length, mtype, mflags, mseq, _ = _NLMSG.unpack_from(data, at)
                payload = data[at + _NLMSG.size:at + length]
                at += (length + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    if code:
                        raise OSError(code, "rtnetlink request %d: %s" % (kind, os.strerror(code)))
                    return out
                if mtype == NLMSG_DONE:
                    return out
                out.append((mtype, payload))
                if not mflags & NLM_F_MULTI and not flags & NLM_F_DUMP:
                    return out

    # -- reading -----------------------------------------------------------------------------
    def links(self):
        """[{index, name, flags, up, net}] of every link; ``net`` is its MCTP network, None
        for a link that is not an MCTP one."""
        out = []
        for _, payload in self.request(RTM_GETLINK, NLM_F_DUMP, _IFINFO.pack(0, 0, 0, 0, 0)):
            _, _, index, flags, _ = _IFINFO.unpack_from(payload)
            attrs = _attrs(payload[_IFINFO.size:])
            name = attrs.get(IFLA_IFNAME, b"").split(b"\0")[0].decode(errors="replace")
            net = None
            spec = _attrs(attrs.get(IFLA_AF_SPEC, b""))
            if AF_MCTP in spec:
                raw = _attrs(spec[AF_MCTP]).get(IFLA_MCTP_NET)
                if raw is not None and len(raw) >= 4:
                    net = struct.unpack_from("=I", raw)[0]
            out.append({"index": index, "name": name, "flags": flags,
                        "up": bool(flags & IFF_UP), "net": net})
        return out

    def addresses(self):
        """[{index, eid}]: the local EIDs, by link."""
        out = []
        for _, payload in self.request(RTM_GETADDR, NLM_F_DUMP, _IFADDR.pack(AF_MCTP, 0, 0, 0, 0)):
            family, _, _, _, index = _IFADDR.unpack_from(payload)
            if family != AF_MCTP:
                continue
            attrs = _attrs(payload[_IFADDR.size:])
            raw = attrs.get(IFA_LOCAL) or attrs.get(IFA_ADDRESS)
            if raw:
                out.append({"index": index, "eid": raw[0]})
        return out

    def routes(self):
        """[{first, last, index, type, mtu}]: the MCTP routes (``type`` "unicast" or "local")."""
        out = []
        body = _RTMSG.pack(AF_MCTP, 0, 0, 0, 0, 0, 0, 0, 0)
        for _, payload in self.request(RTM_GETROUTE, NLM_F_DUMP, body):
            fields = _RTMSG.unpack_from(payload)
            if fields[0] != AF_MCTP:
                continue
            attrs = _attrs(payload[_RTMSG.size:])
            if RTA_DST not in attrs:
                continue
            first = attrs[RTA_DST][0]
            oif = attrs.get(RTA_OIF)
            mtu = _attrs(attrs.get(RTA_METRICS, b"")).get(RTAX_MTU)
            out.append({"first": first, "last": first + fields[1],
                        "index": struct.unpack_from("=I", oif)[0] if oif else None,
                        "type": {RTN_UNICAST: "unicast", RTN_LOCAL: "local"}.get(fields[7],
                                                                                 fields[7]),
                        "mtu": struct.unpack_from("=I", mtu)[0] if mtu else 0})
        return out

    # -- changing (CAP_NET_ADMIN) ---------------------------------------------------------------
    def set_up(self, index):
        self.request(RTM_NEWLINK, NLM_F_ACK, _IFINFO.pack(0, 0, index, IFF_UP, IFF_UP))

    def set_net(self, index, net):
        spec = _attr(IFLA_AF_SPEC, _attr(AF_MCTP, _attr(IFLA_MCTP_NET, struct.pack("=I", net))))
        self.request(RTM_NEWLINK, NLM_F_ACK, _IFINFO.pack(0, 0, index, 0, 0) + spec)

    def add_address(self, index, eid):
        self.request(RTM_NEWADDR, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
                     _IFADDR.pack(AF_MCTP, 0, 0, 0, index) + _attr(IFA_LOCAL, bytes((eid,))))

    def add_route(self, index, eid, count=1, mtu=0):
        """A route to ``count`` EIDs from ``eid`` over the link; ``mtu`` 0 is the link's."""
        body = _RTMSG.pack(AF_MCTP, count - 1, 0, 0, RT_TABLE_DEFAULT, RTPROT_STATIC,
                           RT_SCOPE_LINK, RTN_UNICAST, 0)
        body += _attr(RTA_DST, bytes((eid,))) + _attr(RTA_OIF, struct.pack("=I", index))
        if mtu:
            body += _attr(RTA_METRICS, _attr(RTAX_MTU, struct.pack("=I", mtu)))
        self.request(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, body)

    def index(self, name):
        for link in self.links():
            if link["name"] == name:
                return link["index"]
        raise OSError(19, "no network interface named %s" % name)


def remote_endpoints():
    """[(net, eid, link name)] the kernel routes to: every EID of every unicast route, but
    the local ones.  Empty on a kernel without MCTP."""
    with Netlink() as nl:
        links = {link["index"]: link for link in nl.links()}
        local = {(links.get(a["index"], {}).get("net"), a["eid"]) for a in nl.addresses()}
        found = {}
        for route in nl.routes():
            link = links.get(route["index"])
            if route["type"] != "unicast" or link is None or link["net"] is None:
                continue
            for eid in range(route["first"], min(route["last"], 0xFE) + 1):
                key = (link["net"], eid)
                if key not in local:
                    found.setdefault(key, link["name"])
    return [(net, eid, name) for (net, eid), name in sorted(found.items())]
