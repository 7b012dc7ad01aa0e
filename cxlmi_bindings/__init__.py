# SPDX-License-Identifier: LGPL-2.1-or-later
"""cxlmi_bindings: placeholder while the core lands."""
