# SPDX-License-Identifier: LGPL-2.1-or-later
"""The process's standard streams, looked up when written to.

Looked up at call time (not import time) so click's CliRunner, which swaps
``sys.stdout`` for the length of one invocation, sees what we print.  Click's
own ``get_text_stream``/``get_binary_stream`` did this too but are deprecated
from click 8.5 on.
"""

import sys


def text(name="stdout"):
    return getattr(sys, name)


def binary(name="stdout"):
    stream = getattr(sys, name)
    # A text stream wraps a byte stream in ``buffer``; something that is
    # already binary (or a replacement without one) is written to as it is.
    return getattr(stream, "buffer", stream)
