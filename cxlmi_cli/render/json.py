# SPDX-License-Identifier: LGPL-2.1-or-later
"""JSON output: one object per result, stable keys (docs/json-schema.md)."""

import json

import click


def dumps(doc):
    return json.dumps(doc, indent=2, ensure_ascii=False)


def write(doc):
    out = click.get_text_stream("stdout")
    out.write(dumps(doc) + "\n")
    out.flush()
