# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi fmapi`: every registry command whose group is fmapi, generated on demand."""

from . import RegistryGroup

group = RegistryGroup("fmapi")
