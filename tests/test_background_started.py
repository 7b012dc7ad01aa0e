# SPDX-License-Identifier: LGPL-2.1-or-later
"""A command the device runs in the background says so, in both APIs.

libcxlmi's cxlmi_cmd_* return 1 (tests/test_compat_return_codes.py); the
Pythonic ``Endpoint.call`` returns a :class:`BackgroundStarted` naming the
command, and the CLI still reports it as started in the background.
"""

import cxlmi_bindings as cxlmi
from cxlmi_bindings import Context
from cli_helpers import invoke


def test_ep_call_of_a_background_command_returns_what_started():
    with Context() as ctx:
        ep = ctx.open("emu:type3")
        started = ep.memdev_secure_erase()
        assert started == cxlmi.BackgroundStarted("memdev_secure_erase", 0x4401)
        assert started.to_dict() == {"background_started": True,
                                     "command": "memdev_secure_erase", "opcode": 0x4401}
        status = ep.bg_op_status()
        assert status.opcode == 0x4401 and status.status & 1        # running
        assert ep.identify() is not None and not isinstance(ep.identify(),
                                                            cxlmi.BackgroundStarted)


def test_the_cli_still_says_started_in_the_background():
    res = invoke(["memdev", "secure-erase", "emu:type3", "--yes", "--json"])
    assert res.exit_code == 0
    import json
    doc = json.loads(res.stdout)
    assert doc["background"] is True and doc["result"] is None
