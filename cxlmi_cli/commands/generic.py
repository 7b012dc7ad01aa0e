# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi generic`: every registry command whose group is generic, generated on demand."""

from . import RegistryGroup

group = RegistryGroup("generic")
