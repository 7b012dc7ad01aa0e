# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Advanced Error Reporting extended capability of an emulated config space.

PCIe Base r6.0 section 7.8.4; the switch model puts one at :data:`AER_CAP`
(100h) of every PPB configuration space and in each vPPB's own registers.
Offsets within the capability:

====  ==============================================  =======================
00h   extended capability header: ID 0001h, version   read only
      2, next capability 000h (the last)
04h   Uncorrectable Error Status                      write 1 to clear
08h   Uncorrectable Error Mask                        read / write
0Ch   Uncorrectable Error Severity (1 = fatal)        read / write
10h   Correctable Error Status                        write 1 to clear
14h   Correctable Error Mask                          read / write
18h   Advanced Error Capabilities and Control:        read only here
      bits 4:0 First Error Pointer, bit 11 TLP
      Prefix Log Present
1Ch   Header Log, 4 dwords                            read only
38h   TLP Prefix Log, 4 dwords                        read only
====  ==============================================  =======================

The implemented error bits and the defaults are QEMU's
(``include/hw/pci/pcie_regs.h``): uncorrectable bits 4, 5 and 12-25
(``PCI_ERR_UNC_SUPPORTED``), mask default 02400000h (uncorrectable internal
error, TLP prefix blocked), severity default 00462030h; correctable bits 0, 6,
7, 8 and 12-15, mask default E000h.

:func:`record` is what an error does to these registers (PCIe 7.8.4.2-7.8.4.5):
the status bit is set whatever the mask says; an unmasked uncorrectable error
whose First Error Pointer is free also logs its header (Multiple Header
Recording is not implemented, so the log holds until software clears the
status bit the pointer names); a masked error is neither logged nor reported.
The 32-byte header of Generate AER Event (5203h) is taken as QEMU's
``PCIEAERErr`` carries one: a 4-dword TLP header (the Header Log) and a
4-dword TLP prefix (the TLP Prefix Log).  When the space has a PCI Express
capability, its Device Status error bits (correctable, non-fatal, fatal) are
set as well, masks notwithstanding (PCIe 7.5.3.5).
"""

AER_CAP = 0x100

UNCOR_STATUS, UNCOR_MASK, UNCOR_SEVERITY = 0x04, 0x08, 0x0C
COR_STATUS, COR_MASK, CAP_CONTROL = 0x10, 0x14, 0x18
HEADER_LOG, TLP_PREFIX_LOG = 0x1C, 0x38

UNCOR_SUPPORTED = 0x00000030 | 0x03FFF000       # bits 4, 5, 12-25
UNCOR_MASK_DEFAULT = 0x02400000
UNCOR_SEVERITY_DEFAULT = 0x00462030
COR_SUPPORTED = 0x0000F1C1                      # bits 0, 6, 7, 8, 12-15
COR_MASK_DEFAULT = 0x0000E000

TLP_PREFIX_LOG_PRESENT = 1 << 11

# Device Status (PCI Express capability + 0Ah) error bits
DEVSTA_CORRECTABLE, DEVSTA_NONFATAL, DEVSTA_FATAL = 1 << 0, 1 << 1, 1 << 2


def install(space, at=AER_CAP):
    """Put an AER capability at ``at`` of ``space`` (a ConfigSpace)."""
    space.put(at, 4, 0x0001 | 2 << 16)
    space.put(at + UNCOR_STATUS, 4, 0, w1c=UNCOR_SUPPORTED)
    space.put(at + UNCOR_MASK, 4, UNCOR_MASK_DEFAULT, wmask=UNCOR_SUPPORTED)
    space.put(at + UNCOR_SEVERITY, 4, UNCOR_SEVERITY_DEFAULT, wmask=UNCOR_SUPPORTED)
    space.put(at + COR_STATUS, 4, 0, w1c=COR_SUPPORTED)
    space.put(at + COR_MASK, 4, COR_MASK_DEFAULT, wmask=COR_SUPPORTED)
    space.put(at + CAP_CONTROL, 4, 0)
    space.put(at + HEADER_LOG, 16, 0)
    space.put(at + TLP_PREFIX_LOG, 16, 0)
    pcie = getattr(space, "PCIE_CAP", None)
    if pcie is not None:        # Device Status: the error bits are write 1 to clear
        space.put(pcie + 0x0A, 2, space.get(pcie + 0x0A, 2),
                  w1c=DEVSTA_CORRECTABLE | DEVSTA_NONFATAL | DEVSTA_FATAL | 1 << 3)


def installed(space, at=AER_CAP):
    return space.get(at, 2) == 0x0001


def supported(uncorrectable, bit):
    return bool((UNCOR_SUPPORTED if uncorrectable else COR_SUPPORTED) >> bit & 1)


def record(space, uncorrectable, bit, header=bytes(32), at=AER_CAP):
    """An error of status bit ``bit`` detected: update the registers.

    Returns what happened: ``masked`` (not reported to the host), ``fatal``
    (uncorrectable and its severity bit set), ``logged`` (its header went to
    the Header Log and TLP Prefix Log).
    """
    if not installed(space, at):
        install(space, at)
    flag = 1 << bit
    header = bytes(header).ljust(32, b"\0")[:32]
    if uncorrectable:
        masked = bool(space.get(at + UNCOR_MASK, 4) & flag)
        fatal = bool(space.get(at + UNCOR_SEVERITY, 4) & flag)
        status = space.get(at + UNCOR_STATUS, 4)
        control = space.get(at + CAP_CONTROL, 4)
        pointer = control & 0x1F
        logged = False
        if not masked and not (status & (1 << pointer)):
            space.put(at + HEADER_LOG, 16, int.from_bytes(header[:16], "little"))
            space.put(at + TLP_PREFIX_LOG, 16, int.from_bytes(header[16:], "little"))
            prefix = TLP_PREFIX_LOG_PRESENT if any(header[16:]) else 0
            space.put(at + CAP_CONTROL, 4,
                      (control & ~(0x1F | TLP_PREFIX_LOG_PRESENT)) | bit | prefix)
            logged = True
        _set(space, at + UNCOR_STATUS, flag)
        devsta = DEVSTA_FATAL if fatal else DEVSTA_NONFATAL
    else:
        masked = bool(space.get(at + COR_MASK, 4) & flag)
        fatal = logged = False
        _set(space, at + COR_STATUS, flag)
        devsta = DEVSTA_CORRECTABLE
    pcie = getattr(space, "PCIE_CAP", None)
    if pcie is not None:
        _set(space, pcie + 0x0A, devsta, size=2)
    return {"masked": masked, "fatal": fatal, "logged": logged}


def _set(space, offset, bits, size=4):
    """Set status bits, keeping the register's write masks."""
    space.data[offset:offset + size] = (space.get(offset, size) | bits).to_bytes(size, "little")
