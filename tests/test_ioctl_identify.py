# SPDX-License-Identifier: LGPL-2.1-or-later
"""Generic Identify (0001h) on the ioctl path comes from sysfs, never RAW."""

import os

from cxlmi_bindings import cci, types
from cxlmi_bindings.transports import ioctl as mod

from test_transport_ioctl import FakeKernel, open_node, request, node  # noqa: F401


def _pci_tree(node):
    """Put mem0 under a PCI function directory, as the kernel's sysfs does."""
    _, sysfs = node
    pci = os.path.join(sysfs, "..", "devices", "0000:0d:00.0")
    os.makedirs(pci)
    for name, value in (("vendor", "0x8086"), ("device", "0x0d93"),
                        ("subsystem_vendor", "0x1af4"), ("subsystem_device", "0x1100")):
        with open(os.path.join(pci, name), "w") as f:
            f.write(value + "\n")
    os.rename(os.path.join(sysfs, "mem0"), os.path.join(pci, "mem0"))
    os.symlink(os.path.join(pci, "mem0"), os.path.join(sysfs, "mem0"))


def test_identify_is_answered_from_sysfs_without_an_ioctl(node):
    _pci_tree(node)
    kernel = FakeKernel(raw=False)
    t = open_node(node, kernel)
    sends_before = len(kernel.sent)
    reply = t.send(request(0x0001, tag=7), 8, None)
    assert len(kernel.sent) == sends_before          # nothing went to the kernel
    rc, _, body = cci.check_response(reply, 7, 0x0001)
    assert rc == 0
    ident = types.get("cmd_identify_rsp").from_buffer_copy(body)
    assert (ident.vendor_id, ident.device_id) == (0x8086, 0x0D93)
    assert (ident.subsys_vendor_id, ident.subsys_id) == (0x1AF4, 0x1100)
    assert ident.serial_num == 0x1234
    assert ident.max_msg_size == 11                  # payload_max 2048 = 2^11
    assert ident.component_type == mod.COMPONENT_TYPE3


def test_identify_without_pci_ids_still_answers_with_the_serial(node):
    kernel = FakeKernel(raw=True)
    t = open_node(node, kernel)
    reply = t.send(request(0x0001, tag=9), 8, None)
    _, _, body = cci.check_response(reply, 9, 0x0001)
    ident = types.get("cmd_identify_rsp").from_buffer_copy(body)
    assert ident.serial_num == 0x1234 and ident.vendor_id == 0
    assert not [s for s in kernel.sent if s["id"] == 2]  # not sent RAW even when RAW exists
