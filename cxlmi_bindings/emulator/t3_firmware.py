# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 firmware update (02xxh): Get FW Info, Transfer FW, Activate FW.

Firmware slots hold revision strings: a package's first 16 bytes are its
revision (printable ASCII); the rest is counted but not kept, so a transfer
costs the model no memory whatever the package's size.

Uses from the class it is mixed into: ``fw_slots``, ``fw_active``,
``fw_staged``, ``_fw_xfer``, ``fw_transfer_seconds`` (set up by
``Type3.__init__``; ``Type3.reset`` activates the staged slot) and ``debug()``.
"""

from .device import Background, Reply, INPUT, FWINPROGRESS, FWOOO, FWAUTH, FWSLOT
from .t3_constants import MiB
from .. import types
from ..types.generic import FW_ACTIVATE_ACTION, FW_CAPS, FW_TRANSFER_ACTION, FW_TRANSFER_UNIT

FW_XFER_UNIT = FW_TRANSFER_UNIT      # Transfer FW offsets count 128-byte units

# Firmware transfer actions and activation.
FW_FULL, FW_INITIATE, FW_CONTINUE, FW_END, FW_ABORT = (
    FW_TRANSFER_ACTION[name] for name in ("full", "initiate", "continue", "end", "abort"))
FW_ACTIVATE_ONLINE, FW_ACTIVATE_ON_RESET = (
    FW_ACTIVATE_ACTION[name] for name in ("online", "reset"))
FW_CAP_ONLINE_ACTIVATION = 1 << FW_CAPS["online-activation"]
#: the largest package accepted (nothing of it is kept but its revision)
FW_MAX_PACKAGE = 1024 * MiB


class FirmwareMixin:
    """The Firmware Update command set (02xxh)."""

    def cmd_get_fw_info(self):
        rsp = types.get("cmd_get_fw_info_rsp")()
        rsp.slots_supported = len(self.fw_slots)
        rsp.slot_info = (self.fw_active & 0x7) | ((self.fw_staged & 0x7) << 3)
        rsp.caps = FW_CAP_ONLINE_ACTIVATION
        for i, rev in enumerate(self.fw_slots[:4]):
            if rev:
                setattr(rsp, "fw_rev%d" % (i + 1), rev.encode()[:16])
        return rsp

    def _fw_slot_ok(self, slot):
        if not 1 <= slot <= len(self.fw_slots) or slot == self.fw_active:
            raise Reply(FWSLOT, "slot %d cannot take a package (active slot %d, %d slots)"
                        % (slot, self.fw_active, len(self.fw_slots)))

    @staticmethod
    def _fw_verify(package):
        """The package's first 16 bytes are its revision string: printable ASCII."""
        rev = bytes(package[:16]).rstrip(b"\0")
        if not rev or any(c < 0x20 or c > 0x7E for c in rev):
            raise Reply(FWAUTH, "package does not start with a printable revision")
        return rev.decode()

    def _fw_store(self, slot, package):
        rev = self._fw_verify(package)
        self.fw_slots[slot - 1] = rev
        if self.fw_staged == slot:
            self.fw_staged = 0
        self.debug("firmware %r written to slot %d" % (rev, slot))

    def cmd_transfer_fw(self, req):
        data = bytes(req.data)
        action = req.action
        if action == FW_ABORT:
            self._fw_xfer = None
            return None
        if action not in (FW_FULL, FW_INITIATE, FW_CONTINUE, FW_END):
            raise Reply(INPUT, "transfer action %d" % action)
        offset = req.offset * FW_XFER_UNIT
        if offset + len(data) > FW_MAX_PACKAGE:
            raise Reply(INPUT, "package larger than %d bytes" % FW_MAX_PACKAGE)
        xfer = self._fw_xfer
        if action in (FW_FULL, FW_INITIATE) and xfer is not None:
            raise Reply(FWINPROGRESS, "a partial transfer is open")
        if action in (FW_CONTINUE, FW_END):
            if xfer is None:
                raise Reply(FWOOO, "no transfer was initiated")
            retransmit = (offset, len(data)) == xfer["last"]
            if not retransmit and offset != xfer["size"]:
                raise Reply(FWOOO, "part at offset %d, expected %d" % (offset, xfer["size"]))
        if action in (FW_INITIATE, FW_CONTINUE) and (not data or len(data) % FW_XFER_UNIT):
            raise Reply(INPUT, "a part must be a non-empty multiple of 128 bytes")
        if action == FW_FULL:
            self._fw_slot_ok(req.slot)
            return self._fw_finish(req.slot, data)
        if action == FW_INITIATE:
            if offset:
                raise Reply(INPUT, "an initiate part starts at offset 0")
            self._fw_xfer = {"head": data[:16], "size": len(data), "last": (0, len(data))}
            return None
        if offset == xfer["size"]:
            xfer["size"] += len(data)
        xfer["last"] = (offset, len(data))
        if action == FW_CONTINUE:
            return None
        self._fw_slot_ok(req.slot)
        self._fw_xfer = None
        return self._fw_finish(req.slot, xfer["head"])

    def _fw_finish(self, slot, package):
        """``package``: at least the package's first 16 bytes (its revision)."""
        if not package:
            raise Reply(INPUT, "empty firmware package")
        if self.fw_transfer_seconds > 0:
            self._fw_verify(package)
            return Background(self.fw_transfer_seconds,
                              finish=lambda: self._fw_store(slot, package))
        self._fw_store(slot, package)
        return None

    def cmd_activate_fw(self, req):
        if req.action not in (FW_ACTIVATE_ONLINE, FW_ACTIVATE_ON_RESET):
            raise Reply(INPUT, "activation action %d" % req.action)
        self._fw_slot_ok(req.slot)
        if not self.fw_slots[req.slot - 1]:
            raise Reply(FWSLOT, "slot %d holds no firmware" % req.slot)
        if req.action == FW_ACTIVATE_ONLINE:
            self.fw_active = req.slot
            self.fw_staged = 0
            self.debug("firmware slot %d activated online" % req.slot)
        else:
            self.fw_staged = req.slot
            self.debug("firmware slot %d staged for the next reset" % req.slot)
