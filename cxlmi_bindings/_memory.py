# SPDX-License-Identifier: LGPL-2.1-or-later
"""Keep freed heap memory for reuse, in processes that move MiB-sized messages.

glibc serves a block above its mmap threshold with a mapping of its own and
gives the top of the heap back to the kernel once enough of it is free.  A
process that allocates and frees 1 MiB messages over and over (a firmware
transfer, the emulator's server) then takes a page fault for every 4 KiB of
every message: on a virtual machine that was half the time of a 64 MiB
transfer over ``tcp:``.  Raising both thresholds keeps that memory for the next
message; the peak is the same, it is only given back later.

Only the programs call this (``cxl-mi emulate``, ``cxl-mi generic
transfer-fw``): a library must not change its host process's allocator.
"""

#: mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: glibc's largest mmap threshold on 64-bit hosts
MMAP_LIMIT = 32 << 20


def keep_freed_memory():
    """Tune glibc's malloc as above; False (and nothing changed) on other C
    libraries."""
    try:
        import ctypes
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_LIMIT)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, 4 * MMAP_LIMIT))
