# SPDX-License-Identifier: LGPL-2.1-or-later
"""Raw output: the reply payload bytes, nothing else (``| xxd``)."""

import click


def write(payload):
    out = click.get_binary_stream("stdout")
    out.write(bytes(payload))
    out.flush()
