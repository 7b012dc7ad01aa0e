# SPDX-License-Identifier: LGPL-2.1-or-later
"""Raw output: the reply payload bytes, nothing else (``| xxd``)."""

from .. import streams


def write(payload):
    out = streams.binary("stdout")
    out.write(bytes(payload))
    out.flush()
