# SPDX-License-Identifier: LGPL-2.1-or-later
"""The cxl_mi modules' shared code, on its own (no ansible-core needed): every registry
command can be named and reached through the CLI, ``changed`` follows the registry, and
``args`` become the command line the CLI parses.  tests/test_ansible.py runs the modules
for real under ansible-playbook."""

import pytest

from ansible_collections.cxlmi.cxl.plugins.module_utils import cxl_mi as cxl
from cxlmi_bindings import registry


def test_every_registry_command_resolves_by_each_of_its_names():
    for entry in registry.COMMANDS:
        assert cxl.resolve(entry.name) is entry
        assert cxl.resolve(entry.name.replace("_", "-")) is entry
        assert cxl.resolve("cxlmi_cmd_" + entry.name) is entry
        assert cxl.resolve("%s %s" % (entry.group, entry.cli_name)) is entry
        assert cxl.resolve("  %s   %s " % (entry.group, entry.cli_name.replace("-", "_"))) \
            is entry
    # a CLI name alone, where one group has it; "identify" is the registry's (generic) one
    assert cxl.resolve("get-health-info") is registry.get("memdev_get_health_info")
    assert cxl.resolve("identify") is registry.get("identify")
    assert cxl.resolve("memdev identify") is registry.get("memdev_identify")


@pytest.mark.parametrize("name, near", [("get-helth-info", "get-health-info"),
                                        ("memdev get-healt-info", "memdev get-health-info"),
                                        ("memdev_set_partition", "memdev_set_partition_info")])
def test_an_unknown_command_is_refused_with_the_nearest_names(name, near):
    with pytest.raises(ValueError) as exc:
        cxl.resolve(name)
    assert repr(name) in str(exc.value) and near in str(exc.value)
    for bad in ("", "fmapi", "generic memdev identify"):
        with pytest.raises(ValueError):
            cxl.resolve(bad)


def test_every_registry_command_is_a_cli_command_with_its_confirmation():
    for entry in registry.COMMANDS:
        command = cxl.cli_command(entry)
        assert command.name == entry.cli_name
        if entry.destructive:
            assert cxl.takes(command, "--yes"), entry.name
        assert cxl.takes(command, "--json"), entry.name


def test_changed_follows_the_registry_effects():
    for entry in registry.COMMANDS:
        expected = bool(entry.effects or entry.destructive or entry.name in cxl.MAY_CHANGE)
        if entry.name in cxl.READS:
            expected = False
        assert cxl.changes(entry) is expected, entry.name
    reads = [e.name for e in registry.COMMANDS if not cxl.changes(e)]
    assert "identify" in reads and "memdev_get_health_info" in reads
    assert "memdev_media_operations_discovery" in reads
    assert cxl.changes(registry.get("set_timestamp"))
    assert cxl.changes(registry.get("memdev_sanitize"))
    assert cxl.changes(registry.get("fmapi_generate_aer_event"))     # destructive, no CEL bits
    assert cxl.changes(registry.get("vendor_specific"))
    events = registry.get("get_event_records")
    assert not cxl.changes(events) and not cxl.changes(events, {"all": True})
    assert cxl.changes(events, {"clear": True})


def test_args_become_options_flags_repeats_and_positionals():
    fw = cxl.cli_command(registry.get("transfer_fw"))
    options, words = cxl.args_argv(fw, {"file": "/srv/fw.bin", "slot": 2, "activate": "reset",
                                        "chunk-size": "4K", "yes_please": None,
                                        "wait": False})
    assert options == ["--activate=reset", "--chunk-size=4K", "--slot=2"]
    assert words == ["/srv/fw.bin"]
    assert cxl.option_argv({"all": True, "ports": [1, 2], "offset": -1}) == \
        ["--all", "--offset=-1", "--ports=1", "--ports=2"]
    for bad in ({"target": "mem0"}, {"yes": True}, {"json": True}, {"--port": 2},
                {"request": {"a": 1}}, {"ports": [[1]]}):
        with pytest.raises(ValueError):
            cxl.option_argv(bad)
    with pytest.raises(ValueError):
        cxl.args_argv(fw, {"file": ["a", "b"]})


def test_options_are_checked_the_way_the_command_checks_them():
    entry = registry.get("memdev_set_partition_info")
    command = cxl.cli_command(entry)
    cxl.check_argv(entry, command, ["tcp:127.0.0.1:9", "--volatile-capacity=256M", "--yes"])
    for argv, says in ((["mem0", "--volatile-capacity=100M"], "256"),
                       (["mem0", "--no-such-option=1"], "no-such-option"),
                       (["mem0", "--volatile-capacity=lots"], "lots")):
        with pytest.raises(ValueError) as exc:
            cxl.check_argv(entry, command, argv)
        assert says in str(exc.value) and "memdev set-partition-info" in str(exc.value)
    log = registry.get("get_log")
    cxl.check_argv(log, cxl.cli_command(log), ["emu:type3", "--length=64", "--", "cel"])


def test_the_command_runs_with_the_modules_own_python():
    import sys
    assert cxl.cli() == [sys.executable, "-m", "cxlmi_cli"]
    assert cxl.target_argv("mem0", port=2, ld=1, mhd=False, timeout=2.5) == \
        ["mem0", "--port", "2", "--ld", "1", "--timeout", "2.5"]
    assert cxl.target_argv("emu:mhd", mhd=True) == ["emu:mhd", "--mhd"]


def test_only_a_true_changing_option_makes_a_read_a_change():
    events = registry.get("get_event_records")
    assert not cxl.changes(events, {"clear": False})
    assert not cxl.changes(events, {"clear": None})


def test_option_values_zero_underscores_and_bad_positionals():
    assert cxl.option_argv({"offset": 0, "chunk_size": "4K", "count": 0.5}) == \
        ["--chunk-size=4K", "--count=0.5", "--offset=0"]
    fw = cxl.cli_command(registry.get("transfer_fw"))
    for bad in (True, False, {"path": "x"}):
        with pytest.raises(ValueError) as exc:
            cxl.args_argv(fw, {"file": bad})
        assert "args.file" in str(exc.value) and "FILE" in str(exc.value)


def test_port_and_ld_zero_are_tunnels_too():
    assert cxl.target_argv("emu:switch", port=0, ld=0) == \
        ["emu:switch", "--port", "0", "--ld", "0"]


def test_a_cli_json_error_becomes_the_message_and_the_details():
    doc = {"error": {"type": "DeviceError", "message": "memdev_sanitize: BUSY",
                     "hint": "wait for the background operation", "return_code": 8,
                     "return_code_name": "BUSY", "exit_code": 1}}
    message, details = cxl.error_details(doc, 1)
    assert message == "memdev_sanitize: BUSY (hint: wait for the background operation)"
    assert details == {"error": doc["error"], "rc": 1, "exit_code": 1, "return_code": 8,
                       "return_code_name": "BUSY"}
    # the exit code the CLI names wins over the process's; without a JSON error, the process's
    _, details = cxl.error_details({"error": {"message": "x", "exit_code": 5}}, 1)
    assert (details["exit_code"], details["rc"]) == (5, 1)
    message, details = cxl.error_details({"result": None}, 3)
    assert message == "cxl-mi failed with exit code 3"
    assert details["exit_code"] == 3 and details["return_code"] is None
    # failed after the result was written (a refused --clear): stderr's error line says
    # why, and the records read stay in the details
    logs = {"logs": [{"log": "info", "records": [{"handle": 1}], "cleared": 0}]}
    message, details = cxl.error_details(
        {"result": logs}, 1, "cxl-mi: get-event-records on mem0: read and clear ...\n"
        "cxl-mi: error: the records were read but not cleared (info event log): "
        "clear_event_records: CXL return code 4 (INTERNAL)\n")
    assert message == ("the records were read but not cleared (info event log): "
                       "clear_event_records: CXL return code 4 (INTERNAL)")
    assert details["result"] == logs and details["rc"] == details["exit_code"] == 1
