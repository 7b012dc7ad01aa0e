# SPDX-License-Identifier: LGPL-2.1-or-later
"""Emulated CXL components: device models, profiles, and the MCTP-over-TCP server.

A model is a :class:`~cxlmi_bindings.emulator.device.Device`; a profile builds
the device (or small fabric of devices) that answers at the endpoint.
"""
