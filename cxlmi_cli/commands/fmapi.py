# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi fmapi`: every registry command whose group is fmapi, generated on demand,
and `topology` (the fabric as a picture, several of them together)."""

from . import RegistryGroup


def _topology():
    from ..topology_view import command
    return command()


group = RegistryGroup("fmapi", extra={"topology": _topology})
