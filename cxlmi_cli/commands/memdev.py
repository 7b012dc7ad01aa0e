# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi memdev`: every registry command whose group is memdev, generated on demand."""

from . import RegistryGroup

group = RegistryGroup("memdev")
