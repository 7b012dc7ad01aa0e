# SPDX-License-Identifier: LGPL-2.1-or-later
"""The suite's warning policy is in force: a DeprecationWarning raised from the
project's own modules is an error (pyproject.toml ``filterwarnings``)."""

import warnings

import pytest


def _warn_from(module_name):
    """Call ``warnings.warn`` from code that belongs to ``module_name``."""
    scope = {"__name__": module_name, "warnings": warnings}
    exec("def use_old_api():\n    warnings.warn('old api', DeprecationWarning)\n", scope)
    scope["use_old_api"]()


@pytest.mark.parametrize("module", ["cxlmi_cli.render.table", "cxlmi_bindings.endpoint"])
def test_a_deprecation_met_by_the_project_fails_the_test(module):
    with pytest.raises(DeprecationWarning):
        _warn_from(module)


def test_a_deprecation_met_elsewhere_stays_a_warning():
    with pytest.warns(DeprecationWarning):
        _warn_from("some_dependency.module")
