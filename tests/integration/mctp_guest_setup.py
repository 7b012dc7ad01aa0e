# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run in the MCTP test guest: turn serial lines into MCTP links, as root, with no MCTP tools.

    python3 tests/integration/mctp_guest_setup.py --line 0000:00:10.0=9:8,20 [--line ...]

For each ``--line PCI=LOCAL:PEER[,PEER...]``: the tty of the ``pci-serial`` card at that PCI
address is opened and set to the N_MCTP line discipline (``TIOCSETD``), which makes a network
interface ``mctpserialN``; the interface is brought up, gets the local EID, and a route to each
peer EID (all over rtnetlink, :mod:`cxlmi_bindings.mctp_netlink`).  What ``mctp link set
mctpserial0 up; mctp addr add 9 dev mctpserial0; mctp route add 8 via mctpserial0`` would do
with CodeConstruct's tools, or mctpd with its configuration.

An MCTP serial link lives while its tty is open, so a child process (its own session, its
output to /dev/null) keeps the ttys open after this command returns.  The last line printed is
JSON: {PCI address: {"tty": ..., "link": ..., "index": ...}}.  Errors go to stderr, exit 1.
"""

import fcntl
import json
import os
import struct
import sys
import termios
import time


def tty_of(pci_address):
    """/dev/ttySn of the serial port whose device is the PCI function at pci_address."""
    for name in sorted(os.listdir("/sys/class/tty")):
        device = os.path.join("/sys/class/tty", name, "device")
        if not os.path.islink(device):
            continue
        # the PCI function itself, or (Linux 6.x's serial core) a port device under it,
        # named "<PCI address>:<controller>.<port>"
        parts = os.path.realpath(device).split("/")
        if pci_address in parts or parts[-1].startswith(pci_address + ":"):
            return "/dev/" + name
    raise SystemExit("no tty belongs to the PCI device %s (is it a pci-serial card, and "
                     "does the kernel have CONFIG_SERIAL_8250_PCI?)" % pci_address)


def open_mctp_line(path, nl):
    """Open the tty, set N_MCTP; returns (fd, the new link's name and index)."""
    from cxlmi_bindings import mctp_netlink
    before = {link["index"] for link in nl.links()}
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    attrs = termios.tcgetattr(fd)        # raw, no flow control: the line carries binary
    attrs[0] = attrs[1] = attrs[3] = 0
    attrs[2] = termios.CS8 | termios.CREAD | termios.CLOCAL
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    fcntl.ioctl(fd, mctp_netlink.TIOCSETD, struct.pack("i", mctp_netlink.N_MCTP))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        new = [link for link in nl.links() if link["index"] not in before
               and link["net"] is not None]
        if new:
            return fd, new[0]["name"], new[0]["index"]
        time.sleep(0.05)
    raise SystemExit("%s: the N_MCTP line discipline made no MCTP link (CONFIG_MCTP_SERIAL?)"
                     % path)


def main(argv):
    from cxlmi_bindings import mctp_netlink
    specs = []
    args = list(argv)
    while args:
        opt = args.pop(0)
        if opt != "--line" or not args:
            raise SystemExit("usage: mctp_guest_setup.py --line PCI=LOCAL:PEER[,PEER...] ...")
        pci, _, rest = args.pop(0).partition("=")
        local, _, peers = rest.partition(":")
        specs.append((pci, int(local), [int(p) for p in peers.split(",") if p]))
    fds, result = [], {}
    with mctp_netlink.Netlink() as nl:
        for pci, local, peers in specs:
            tty = tty_of(pci)
            fd, link, index = open_mctp_line(tty, nl)
            fds.append(fd)
            nl.set_up(index)
            nl.add_address(index, local)
            for peer in peers:
                nl.add_route(index, peer)
            result[pci] = {"tty": tty, "link": link, "index": index, "local_eid": local,
                           "peers": peers}
    if os.fork() == 0:
        # the keeper: holds the ttys (and so the links) open until the guest goes
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for std in (0, 1, 2):
            os.dup2(null, std)
        while True:
            time.sleep(3600)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
