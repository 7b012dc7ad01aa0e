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


def test_return_code_1_with_a_reply_payload_is_that_reply_decoded():
    # only an empty reply says "started"; a reply that carries data is decoded
    import struct
    with Context() as ctx:
        ep = ctx.open_mock()
        ident = struct.pack("<HHHHQBB", 0x1DE5, 0x0001, 0x1DE5, 0x0002, 0x1111, 11, 3)
        assert cxlmi.cxlmi_mock_set_response(ep, 0x00, 0x01, 1, ident, len(ident)) == 0
        got = ep.identify()
        assert not isinstance(got, cxlmi.BackgroundStarted)
        assert (got.serial_num, got.component_type, ep.last_return_code) == (0x1111, 3, 1)
        assert cxlmi.cxlmi_mock_set_response(ep, 0x00, 0x01, 1) == 0
        assert ep.identify() == cxlmi.BackgroundStarted("identify", 0x0001)
