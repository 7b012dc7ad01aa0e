# SPDX-License-Identifier: LGPL-2.1-or-later
"""Installed entry points of a group, on every Python cxl-mi supports."""


def entry_points(group):
    """name -> entry point of every installed entry point of ``group``."""
    from importlib import metadata
    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        selected = eps.select(group=group)
    else:                                    # Python 3.9: a dict of lists
        selected = eps.get(group, [])
    return {ep.name: ep for ep in selected}
