# SPDX-License-Identifier: LGPL-2.1-or-later
"""Find CXL components: ``/dev/cxl`` nodes with their sysfs facts, the fwctl
devices of CXL memory devices (``/dev/fwctl``), and MCTP endpoints that mctpd
has enumerated (over D-Bus).

mctpd has published its endpoints in two ways (CodeConstruct/mctp,
``src/mctpd.c`` and ``docs/mctpd.md``):

========  ==============================  ===================================================
mctpd     bus name                        objects (ObjectManager at the root shown)
========  ==============================  ===================================================
1.x       ``xyz.openbmc_project.MCTP``    ``/xyz/openbmc_project/mctp`` →
                                          ``…/mctp/<net>/<eid>``
2.x       ``au.com.codeconstruct.MCTP1``  ``/au/com/codeconstruct/mctp1`` →
                                          ``…/mctp1/networks/<net>/endpoints/<eid>``
========  ==============================  ===================================================

In both, an endpoint object carries ``xyz.openbmc_project.MCTP.Endpoint``
(``NetworkId`` -- ``i`` in 1.0/1.1, ``u`` later --, ``EID`` ``y``,
``SupportedMessageTypes`` ``ay``) and ``xyz.openbmc_project.Common.UUID``
(``UUID`` ``s``, when the endpoint reported one); 2.x adds
``au.com.codeconstruct.MCTP.Endpoint1`` (``Connectivity``, ``SetMTU``,
``Remove``, ``Recover``) and network objects with
``au.com.codeconstruct.MCTP.Network1`` (``LocalEIDs``, from 2.2).  Endpoints whose
message types include CXL FM-API (7) or CXL CCI (8) are kept.
"""

import os
import re

from .errors import DeviceNotFound

DEV_ROOT = "/dev/cxl"
SYSFS_ROOT = "/sys/bus/cxl/devices"

MCTP_TYPE_FMAPI = 7
MCTP_TYPE_CCI = 8

IFACE_ENDPOINT = "xyz.openbmc_project.MCTP.Endpoint"
IFACE_UUID = "xyz.openbmc_project.Common.UUID"
IFACE_CC_ENDPOINT = "au.com.codeconstruct.MCTP.Endpoint1"
IFACE_CC_NETWORK = "au.com.codeconstruct.MCTP.Network1"

#: (bus name, ObjectManager path, label), newest first
MCTPD_APIS = (
    ("au.com.codeconstruct.MCTP1", "/au/com/codeconstruct/mctp1", "mctpd-2"),
    ("xyz.openbmc_project.MCTP", "/xyz/openbmc_project/mctp", "mctpd-1"),
)


# -- /dev/cxl and sysfs --------------------------------------------------------

def _natural_key(name):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _read(path):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return None


def _read_int(path):
    text = _read(path)
    if text is None or text == "":
        return None
    try:
        return int(text, 0)
    except ValueError:
        try:
            return int(text, 16)
        except ValueError:
            return None


def device_kind(devname):
    if devname.startswith("mem"):
        return "memdev"
    if devname.startswith("switch"):
        return "switch"
    return None


def sysfs_facts(devname, sysfs=SYSFS_ROOT):
    """What sysfs says about ``devname``; unreadable facts are None.

    ``numa_node`` appears only where the kernel has the attribute.
    """
    base = os.path.join(sysfs, devname)
    facts = {
        "serial": _read_int(os.path.join(base, "serial")),
        "firmware_version": _read(os.path.join(base, "firmware_version")),
        "payload_max": _read_int(os.path.join(base, "payload_max")),
        "label_storage_size": _read_int(os.path.join(base, "label_storage_size")),
        "ram_size": _read_int(os.path.join(base, "ram", "size")),
        "pmem_size": _read_int(os.path.join(base, "pmem", "size")),
    }
    numa = _read_int(os.path.join(base, "numa_node"))
    if numa is not None:
        facts["numa_node"] = numa
    return facts


def scan_devices(root=DEV_ROOT, sysfs=SYSFS_ROOT):
    """The CXL mailbox nodes under ``root``, each with its sysfs facts.

    Returns a list of dicts: ``devname``, ``path``, ``kind`` (``memdev`` or
    ``switch``), ``target`` (the target string that opens it), ``sysfs`` (the
    device's sysfs directory, or None) and the facts of :func:`sysfs_facts`.
    A missing ``root`` is an empty list, not an error.
    """
    try:
        names = os.listdir(root)
    except OSError:
        return []
    found = []
    for name in sorted(names, key=_natural_key):
        path = os.path.join(root, name)
        kind = device_kind(name)
        if kind is None or os.path.isdir(path):
            continue
        sysdir = os.path.join(sysfs, name)
        entry = {"devname": name, "path": path, "kind": kind, "target": name,
                 "sysfs": sysdir if os.path.isdir(sysdir) else None}
        entry.update(sysfs_facts(name, sysfs))
        found.append(entry)
    return found


# -- /dev/fwctl ---------------------------------------------------------------------

FWCTL_ROOT = "/dev/fwctl"
FWCTL_SYSFS = "/sys/class/fwctl"


def scan_fwctl(root=FWCTL_ROOT, sysfs=FWCTL_SYSFS):
    """The fwctl devices of CXL memory devices (Linux 6.15+), as dicts: ``devname``
    (``fwctl0``), ``path``, ``kind`` (``fwctl``), ``target`` (``fwctl:0``) and
    ``memdev`` (the ``memN`` it belongs to, from sysfs).  fwctl devices of other
    drivers (their sysfs parent is no CXL memory device) are left out.  Raises
    :class:`DeviceNotFound` saying so when this kernel has no ``/dev/fwctl``.
    """
    from .transports.fwctl import UNAVAILABLE, memdev_of
    try:
        names = os.listdir(root)
    except OSError:
        raise DeviceNotFound("no %s: %s" % (root, UNAVAILABLE),
                             hint="/dev/cxl/memN reaches the same devices on any kernel")
    found = []
    for name in sorted(names, key=_natural_key):
        if not (name.startswith("fwctl") and name[5:].isdigit()):
            continue
        memdev = memdev_of(name, sysfs)
        if memdev is None:
            continue
        found.append({"devname": name, "path": os.path.join(root, name), "kind": "fwctl",
                      "target": "fwctl:%s" % name[5:], "memdev": memdev})
    return found


# -- mctpd over D-Bus ------------------------------------------------------------

def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _endpoints(objects, service, api):
    local = {}
    for opath, ifaces in objects.items():
        net_iface = ifaces.get(IFACE_CC_NETWORK)
        if net_iface is None:
            continue
        m = re.search(r"/networks/(\d+)$", opath)
        if m:
            local[int(m.group(1))] = set(bytes(net_iface.get("LocalEIDs") or b""))
    result = []
    for opath, ifaces in objects.items():
        ep = ifaces.get(IFACE_ENDPOINT)
        if ep is None:
            continue
        net, eid = _as_int(ep.get("NetworkId")), _as_int(ep.get("EID"))
        if net is None or eid is None:
            continue
        types = sorted(set(bytes(ep.get("SupportedMessageTypes") or b"")))
        uuid = (ifaces.get(IFACE_UUID) or {}).get("UUID") or None
        cc = ifaces.get(IFACE_CC_ENDPOINT) or {}
        result.append({
            "net": net,
            "eid": eid,
            "uuid": uuid,
            "message_types": types,
            "fmapi": MCTP_TYPE_FMAPI in types,
            "cci": MCTP_TYPE_CCI in types,
            "object_path": opath,
            "service": service,
            "api": api,
            "connectivity": cc.get("Connectivity"),
            "local": eid in local.get(net, ()),
            "target": "mctp:%d,%d" % (net, eid),
        })
    return result


def scan_mctp(bus=None, timeout=2.0, cxl_only=True):
    """MCTP endpoints mctpd knows, as dicts sorted by (net, EID).

    Each has ``net``, ``eid``, ``uuid`` (or None), ``message_types``,
    ``object_path``, plus ``fmapi`` / ``cci`` (which CXL types it speaks),
    ``service`` and ``api`` (which mctpd interface answered), ``connectivity``
    (mctpd 2.x), ``local`` (one of our own EIDs) and ``target``.  With
    ``cxl_only`` (the default) only remote endpoints speaking type 7 or 8 are
    returned.

    ``bus`` is None for the system bus, ``"SESSION"``, or a D-Bus address.
    Raises :class:`NotSupported` without jeepney, :class:`TransportError` when
    no bus is reachable and :class:`DeviceNotFound` when mctpd is not on it.
    """
    from ._dbus import Bus

    found = {}
    with Bus(bus, timeout=timeout) as conn:
        running = False
        for service, root, api in MCTPD_APIS:
            if not conn.name_has_owner(service):
                continue
            running = True
            objects = conn.get_managed_objects(service, root)
            for ep in _endpoints(objects, service, api):
                found.setdefault((ep["net"], ep["eid"]), ep)
        if not running:
            raise DeviceNotFound(
                "mctpd is not on the D-Bus bus: neither %s (mctpd 2.x) nor %s (mctpd 1.x) has "
                "an owner" % (MCTPD_APIS[0][0], MCTPD_APIS[1][0]),
                hint="start mctpd (`systemctl start mctpd`) and let it enumerate the "
                     "endpoints, or name an endpoint directly as mctp:NET,EID")
    endpoints = [found[k] for k in sorted(found)]
    if cxl_only:
        endpoints = [e for e in endpoints if (e["fmapi"] or e["cci"]) and not e["local"]]
    return endpoints


# -- the kernel's MCTP routes, without mctpd -------------------------------------

#: MCTP control (message type 0): Get Endpoint UUID and Get Message Type Support requests
_CTRL_GET_UUID = b"\x80\x03"
_CTRL_GET_TYPES = b"\x80\x05"


def scan_mctp_kernel(timeout=1.0, cxl_only=True, syscalls=None):
    """MCTP endpoints the kernel routes to, asked over AF_MCTP what they are: where mctpd is
    not running (a guest, a small BMC image) but routes were set up by hand (``mctp route``,
    or :mod:`cxlmi_bindings.mctp_netlink`).

    Every remote EID of every unicast route gets Get Message Type Support and Get Endpoint
    UUID (MCTP control), all sent at once; what answers within ``timeout`` seconds is listed,
    with the same keys as :func:`scan_mctp` (``service`` "kernel", ``api`` "rtnetlink",
    ``link`` the interface).  With ``cxl_only`` only endpoints speaking type 7 or 8 are kept.
    Raises :class:`NotSupported` on a kernel without AF_MCTP; a kernel without MCTP routes
    gives an empty list.
    """
    import time

    from . import mctp_netlink
    from .errors import NotSupported
    from .transports import mctp as af_mctp

    routed = mctp_netlink.remote_endpoints()
    if not routed:
        return []
    sys_ = syscalls if syscalls is not None else af_mctp.Syscalls()
    try:
        fd = sys_.socket(af_mctp.AF_MCTP, af_mctp.SOCK_DGRAM, 0)
    except OSError as exc:
        raise NotSupported("this kernel has MCTP routes but no AF_MCTP socket: %s" % exc,
                           exc.errno)
    answers = {}                      # (net, eid) -> {command: reply}
    wanted = got = 0
    try:
        for net, eid, _ in routed:
            for request in (_CTRL_GET_TYPES, _CTRL_GET_UUID):
                try:
                    sys_.sendto(fd, request, af_mctp.pack_sockaddr(
                        net, eid, 0, af_mctp.MCTP_TAG_OWNER))
                except OSError:
                    break               # no route after all, or no tag free: not listed
                wanted += 1
        deadline = time.monotonic() + timeout
        while got < wanted:
            left = deadline - time.monotonic()
            if left <= 0 or not sys_.poll(fd, left):
                break
            data, addr = sys_.recvfrom(fd)
            _, net, eid, msg_type, tag = af_mctp.unpack_sockaddr(addr)
            if msg_type != 0 or tag & af_mctp.MCTP_TAG_OWNER or len(data) < 3:
                continue
            replies = answers.setdefault((net, eid), {})
            if data[1] not in replies:
                replies[data[1]] = data
                got += 1
    finally:
        sys_.close(fd)
    found = []
    for net, eid, link in routed:
        replies = answers.get((net, eid))
        if not replies:
            continue
        types = []
        reply = replies.get(_CTRL_GET_TYPES[1])
        if reply is not None and reply[2] == 0 and len(reply) >= 4:
            types = sorted(set(reply[4:4 + reply[3]]))
        uuid = None
        reply = replies.get(_CTRL_GET_UUID[1])
        if reply is not None and reply[2] == 0 and len(reply) >= 19:
            import uuid as _uuid
            uuid = str(_uuid.UUID(bytes=bytes(reply[3:19])))
        found.append({
            "net": net, "eid": eid, "uuid": uuid, "message_types": types,
            "fmapi": MCTP_TYPE_FMAPI in types, "cci": MCTP_TYPE_CCI in types,
            "object_path": None, "service": "kernel", "api": "rtnetlink",
            "connectivity": "Available", "local": False, "link": link,
            "target": "mctp:%d,%d" % (net, eid),
        })
    if cxl_only:
        found = [e for e in found if e["fmapi"] or e["cci"]]
    return found


__all__ = ["scan_devices", "scan_fwctl", "scan_mctp", "scan_mctp_kernel", "sysfs_facts",
           "device_kind", "MCTPD_APIS"]
