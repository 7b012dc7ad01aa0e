# SPDX-License-Identifier: LGPL-2.1-or-later
"""The transport contract.

A transport carries one complete CCI message (12-byte header + payload, as
built by :mod:`cxlmi_bindings.cci`) to a component and returns the complete
response message as bytes.  It does not interpret the CCI header beyond what
its medium needs (the ioctl path must, because the kernel takes the opcode and
payload separately); framing, tunnels and decoding live above it.

``msg_type`` is the MCTP message type the message belongs to: 7 for FM-API
commands and anything tunnelled, 8 for the rest.  Transports that are not MCTP
ignore it.
"""

MCTP_TYPE_CONTROL = 0x00
MCTP_TYPE_FMAPI = 0x07
MCTP_TYPE_CCI = 0x08


class Transport:
    #: short backend name, as in the registry below (``"mock"``, ``"ioctl"``…)
    name = "base"
    #: largest request/response payload this path can carry, in bytes
    max_payload = 2048
    #: whether FM-API (MCTP type 7) commands can be sent at all
    fmapi_capable = True
    #: whether the device behind it can receive Tunnel Management (5300h)
    tunnels = True
    #: a time (``time.monotonic()``) no wait may outlast, whatever its own timeout:
    #: one deadline shared by several exchanges (the CLI's ``--timeout`` covers the
    #: probe and the command together).  Transports that wait honour it.
    deadline = None

    def wait_until(self, timeout):
        """The monotonic time a wait of ``timeout`` seconds ends: the sooner of
        that and :attr:`deadline` (None: no end)."""
        import time
        end = None if timeout is None else time.monotonic() + timeout
        if self.deadline is not None:
            end = self.deadline if end is None else min(end, self.deadline)
        return end

    def send(self, message, msg_type, timeout):
        """Send ``message`` (bytes) and return the response message (bytes).

        ``timeout`` is in seconds (``None`` waits forever).  Raise
        :class:`~cxlmi_bindings.errors.TransportError` or a subclass on
        failure; never return a partial message without saying so.
        """
        raise NotImplementedError

    def close(self):
        pass

    def describe(self):
        """One line that names what this transport talks to."""
        return self.name

    # Optional facts a backend may know about its device (sysfs, mctpd…).
    def info(self):
        return {}
