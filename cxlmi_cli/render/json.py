# SPDX-License-Identifier: LGPL-2.1-or-later
"""JSON output: one object per result, stable keys (docs/json-schema.md)."""

import json

from .. import streams


def dumps(doc):
    return json.dumps(doc, indent=2, ensure_ascii=False)


def write(doc):
    out = streams.text("stdout")
    out.write(dumps(doc) + "\n")
    out.flush()
