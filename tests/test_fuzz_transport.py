# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fuzz properties of tests/fuzz_properties.py, a bounded number of cases
with a fixed seed (``bench/fuzz.py`` runs them for longer)."""

import random

import pytest

import fuzz_properties as fp
from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.server import Server


@pytest.mark.parametrize("name,cases", [("tunnel", 3000), ("reassembly", 3000)])
def test_property_holds_for_seeded_cases(name, cases):
    fp.run(name, cases, seed=20261206)


def test_a_hostile_client_never_stops_the_server_answering_others():
    rng = random.Random(7)
    with Server(profiles.build("type3"), port=0, partial_timeout=0.05) as srv:
        for _ in range(300):
            fp.check_server(rng, srv.address)
        assert srv.stats["handler_errors"] == 0
        assert srv.stats["framing_errors"] > 0          # the garbage was seen as such
