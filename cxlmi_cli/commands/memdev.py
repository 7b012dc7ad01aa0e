# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi memdev`: every registry command whose group is memdev, generated on demand,
and the `features` subgroup (RAS Features by name, decoded)."""

from . import RegistryGroup


def _features():
    from .features import group as features_group
    return features_group()


_features.short_help = "RAS Features: list, get, set (decoded)"     # listed unbuilt


group = RegistryGroup("memdev", extra={"features": _features})
