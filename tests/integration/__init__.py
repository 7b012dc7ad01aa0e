# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tests that need a QEMU guest: the Linux kernel's CXL ioctl path, proven on a stock kernel."""
