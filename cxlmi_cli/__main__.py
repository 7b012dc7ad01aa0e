# SPDX-License-Identifier: LGPL-2.1-or-later
"""``python -m cxlmi_cli`` runs ``cxl-mi``."""

from .main import console

if __name__ == "__main__":
    console()
