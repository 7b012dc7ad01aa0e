# SPDX-License-Identifier: LGPL-2.1-or-later
"""`cxl-mi` behaviour: targets, tunnels, values, output, errors, safety, vendor, emulate.

Device state that must outlive one command is reached through a ``tcp:``
target served by an in-test :class:`Server` (the real path) or through one
in-process device shared by every command of a test (the ``shared`` fixture).
"""

import errno
import json
import os
import re
import signal
import subprocess
import sys

import click
import pytest

from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.errors import (CommandTimeout, NotSupported, PermissionDenied,
                                    TransportError, UsageError)
from cxlmi_bindings.transports.emulated import EmulatedTransport

import cxlmi_cli.options as cli_options
import cxlmi_cli.target as cli_target
from cxlmi_cli import commands as cli_commands
from cxlmi_cli import params as P
from cxlmi_cli.options import device_command

from cli_helpers import both, clean_cli, invoke, jdoc, record_opcodes  # noqa: F401  (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RC_NAMED = re.compile(r"CXL return code \d+ \([A-Z_]+\)")


def no_traceback(res):
    return "Traceback" not in both(res) and not (
        res.exception and not isinstance(res.exception, SystemExit))


@pytest.fixture(autouse=True)
def _clean(clean_cli):
    yield


@pytest.fixture
def shared(monkeypatch):
    """Make every command of the test talk to one in-process device."""
    def use(device):
        def opener(target, timeout=None):
            return Context().open_transport(EmulatedTransport("test", device=device), target)
        monkeypatch.setattr(cli_target, "open_endpoint", opener)
        return device
    return use


def build(profile):
    from cxlmi_bindings.emulator import profiles
    return profiles.build(profile)


@pytest.fixture
def served():
    """A type3 device behind a real MCTP-over-TCP server on loopback."""
    from cxlmi_bindings.emulator.server import Server
    device = build("type3")
    server = Server(device, host="127.0.0.1", port=0)
    host, port = server.start()
    try:
        yield "tcp:127.0.0.1:%d" % port, server, device
    finally:
        server.stop()


# ------------------------------------------------------------------------ the tree

def test_root_help_lists_the_groups_and_documents_the_exit_codes():
    res = invoke(["--help"])
    assert res.exit_code == 0
    for word in ("identify", "list", "emulate", "generic", "memdev", "fmapi", "vendor"):
        assert re.search(r"^\s+%s\s" % word, both(res), re.M), word
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "5 ", "130"):
        assert code in both(res)
    assert "interrupted" in both(res) and "timeout" in both(res)


def test_version_prints_the_library_version():
    from cxlmi_bindings import __version__
    res = invoke(["--version"])
    assert res.exit_code == 0 and both(res).strip() == "cxl-mi %s" % __version__


def _run_python(code, *args, env=None, **kw):
    e = dict(os.environ, PYTHONPATH=ROOT)
    e.update(env or {})
    return subprocess.run([sys.executable, "-c", code] + list(args), cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=60, **kw)


_MODULES_AFTER = """
import sys
from cxlmi_cli.main import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'ctypes')
                or m.startswith(('cxlmi_bindings.types', 'cxlmi_bindings.emulator',
                                 'cxlmi_bindings.transports', 'cxlmi_cli.render',
                                 'cxlmi_cli.build')))
sys.stderr.write('LOADED ' + ' '.join(loaded) + '\\n')
"""


def _loaded(*args):
    proc = _run_python(_MODULES_AFTER, *args)
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("LOADED")][-1]
    return set(line.split()[1:])


def test_help_loads_no_rich_no_structures_no_emulator():
    assert _loaded("--help") == set()
    assert _loaded("memdev", "--help") == set()


def test_json_output_never_loads_rich_and_table_output_does():
    assert not any(m.startswith("rich") for m in _loaded("identify", "emu:type3", "--json"))
    assert "rich" in _loaded("identify", "emu:type3")


def test_python_m_cxlmi_cli_runs():
    proc = subprocess.run([sys.executable, "-m", "cxlmi_cli", "identify", "emu:type3",
                           "--json"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"]["component_type_decoded"] == "type3"


def test_top_level_identify_is_generic_identify_plus_the_memory_device_part():
    a = invoke(["identify", "emu:type3", "--json"])
    b = invoke(["generic", "identify", "emu:type3", "--json"])
    assert a.exit_code == b.exit_code == 0
    top, generic = jdoc(a), jdoc(b)
    assert top.pop("memdev_identify")["total_capacity_bytes"] > 0
    assert top == generic
    switch = jdoc(invoke(["identify", "emu:switch", "--json"]))
    assert switch["memdev_identify"] is None
    raw = invoke(["identify", "emu:type3", "-o", "raw"]).stdout_bytes
    assert raw == invoke(["generic", "identify", "emu:type3", "-o", "raw"]).stdout_bytes
    table = invoke(["identify", "emu:type3"]).stdout
    assert "serial num" in table and "total capacity" in table


def test_identify_of_a_type3_refusing_memory_device_identify_shows_the_rest(shared):
    from cxlmi_bindings.emulator.device import UNSUPPORTED, Reply
    dev = shared(build("type3"))

    def refuse():
        raise Reply(UNSUPPORTED, "no Memory Device Identify here")
    dev.cmd_memdev_identify = refuse
    res = invoke(["identify", "emu:type3", "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)
    assert doc["memdev_identify"] is None and doc["result"]["component_type"] == 3
    table = invoke(["identify", "emu:type3"])
    assert table.exit_code == 0, both(table)
    assert "serial num" in table.stdout and "total capacity" not in table.stdout


def test_identify_asks_no_other_component_than_a_type3_for_its_memory_device_part(shared):
    from cli_helpers import record_opcodes
    opcodes = record_opcodes(shared(build("switch")))
    res = invoke(["identify", "emu:switch", "--json"])
    assert res.exit_code == 0 and jdoc(res)["memdev_identify"] is None
    assert 0x0001 in opcodes and 0x4000 not in opcodes


def test_group_help_lists_commands_without_building_them():
    from cxlmi_cli.commands import memdev
    res = invoke(["memdev", "--help"])
    assert res.exit_code == 0
    assert "get-health-info" in both(res) and "set-partition-info" in both(res)
    assert memdev.group._built == {}


# ------------------------------------------------------------------------ targets

@pytest.mark.parametrize("target", ["nonsense!", "mctp:1", "mctp:1,999", "tcp:",
                                    "emu:nothing", "usb:3"])
def test_unknown_target_forms_are_usage_errors(target):
    res = invoke(["identify", target])
    assert res.exit_code == 2, both(res)
    assert "cxl-mi: error:" in res.stderr and target.split(":")[0] in res.stderr
    assert no_traceback(res)


def test_two_targets_at_once_is_a_usage_error():
    res = invoke(["identify", "emu:type3", "--mctp", "1:8"])
    assert res.exit_code == 2
    assert "more than one target" in res.stderr


def test_no_target_is_a_usage_error_that_mentions_cxlmi_target():
    res = invoke(["identify"])
    assert res.exit_code == 2
    assert "CXLMI_TARGET" in res.stderr


def test_cxlmi_target_is_the_default_target(monkeypatch):
    monkeypatch.setenv("CXLMI_TARGET", "emu:switch")
    res = invoke(["identify", "--json"])
    assert res.exit_code == 0
    assert jdoc(res)["target"] == "emu:switch"
    assert jdoc(res)["result"]["component_type_decoded"] == "switch"


def test_tcp_option_reaches_a_served_device(served):
    target, server, _ = served
    res = invoke(["identify", "--tcp", target[len("tcp:"):], "--json"])
    assert res.exit_code == 0, both(res)
    assert jdoc(res)["target"] == target
    assert server.stats["messages"] >= 1


def test_identify_mem0_without_the_device_says_so_and_what_to_check():
    if os.path.exists("/dev/cxl/mem0"):
        pytest.skip("this machine has /dev/cxl/mem0")
    res = invoke(["identify", "mem0"])
    assert res.exit_code == 3
    assert "mem0" in res.stderr and "hint:" in res.stderr
    assert "/dev/cxl" in res.stderr
    assert no_traceback(res)


def test_mctp_without_af_mctp_is_a_json_error_with_exit_3(monkeypatch):
    from cxlmi_bindings.transports import mctp

    def no_af_mctp(self, family, type_, proto=0):
        raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
    monkeypatch.setattr(mctp.Syscalls, "socket", no_af_mctp)
    res = invoke(["fmapi", "get-ld-info", "--mctp", "0:8", "--json"])
    assert res.exit_code == 3
    doc = jdoc(res)
    assert doc["schema_version"] == 1 and doc["target"] == "mctp:0,8"
    assert doc["error"]["exit_code"] == 3 and "AF_MCTP" in doc["error"]["message"]
    assert doc["error"]["type"] == "NotSupported"


def test_a_backend_missing_from_the_installation_is_a_clean_exit_3(monkeypatch):
    from cxlmi_bindings import transports
    monkeypatch.setitem(transports.BACKENDS, "tcp", "cxlmi_bindings.transports.gone:Gone")
    res = invoke(["identify", "tcp:127.0.0.1:9"])
    assert res.exit_code == 3
    assert "not part of this installation" in res.stderr
    assert no_traceback(res)


def test_nothing_listening_on_a_tcp_target_is_exit_3():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    res = invoke(["identify", "tcp:127.0.0.1:%d" % port])
    assert res.exit_code == 3
    assert "refused" in res.stderr


class RefusingPlugin:
    """A transport plugin that does not take the text after its name."""

    @classmethod
    def from_target(cls, spec, **options):
        raise ValueError("no device %r here" % spec)


def test_a_transport_plugin_refusing_its_target_text_is_a_usage_error(monkeypatch):
    from cxlmi_bindings import transports
    monkeypatch.setattr(transports, "plugins",
                        lambda: {"acme": "%s:RefusingPlugin" % __name__})
    res = invoke(["identify", "acme:nine"])
    assert res.exit_code == 2, both(res)
    assert "cxl-mi: error: acme:nine: no device 'nine' here" in res.stderr
    assert no_traceback(res)


@pytest.mark.parametrize("args,target", [
    (["--tcp", "127.0.0.1"], "tcp:127.0.0.1:2508"),         # the default port
    (["--tcp", "[::1]:2600"], "tcp:[::1]:2600"),
    (["tcp:[::1]:2600"], "tcp:[::1]:2600"),
    (["tcp:127.0.0.1:65535"], "tcp:127.0.0.1:65535"),
    (["--mctp", "0x1:0x8"], "mctp:1,8"),                    # hex, as every number takes
    (["mctp:1,255"], "mctp:1,255"),
    (["mctp:1,08"], "mctp:1,08"),                           # a leading zero is still decimal
    (["--mctp", "01:010"], "mctp:1,10"),                    # (and 010 is ten, not eight)
    # an option's value written as the target it stands for (as the emulator prints it)
    (["--tcp", "tcp:127.0.0.1:2600"], "tcp:127.0.0.1:2600"),
    (["--mctp", "mctp:1,8"], "mctp:1,8"),
])
def test_target_forms_up_to_their_limits_are_accepted(args, target):
    res = invoke(["identify"] + args + ["--dry-run", "--json"])
    assert res.exit_code == 0, both(res)
    assert jdoc(res)["target"] == target


@pytest.mark.parametrize("target,message", [
    ("mctp:1,256", "EID 256 is out of range (0..255)"),
    ("tcp:127.0.0.1:0", "port 0 is out of range (1..65535)"),
    ("tcp:127.0.0.1:65536", "port 65536 is out of range (1..65535)"),
    ("mctp:,8", "expected NET,EID"),
    ("mem", "is not a form cxl-mi knows"),                  # a device name has a number
])
def test_target_values_past_their_limits_are_refused_naming_the_range(target, message):
    res = invoke(["identify", target, "--dry-run"])
    assert res.exit_code == 2, both(res)
    assert message in res.stderr and no_traceback(res)


@pytest.mark.parametrize("args,message", [
    (["--tcp", "a:b:c"], "cxl-mi: error: --tcp 'a:b:c': expected HOST[:PORT]"),
    (["--tcp", "tcp:127.0.0.1:0"], "cxl-mi: error: --tcp 'tcp:127.0.0.1:0': port 0 is out of "
     "range (1..65535)"),
    (["--mctp", "1:999"], "cxl-mi: error: --mctp '1:999': EID 999 is out of range (0..255)"),
])
def test_a_refused_tcp_or_mctp_option_is_named_as_the_option_not_as_a_target(args, message):
    res = invoke(["identify"] + args + ["--dry-run"])
    assert res.exit_code == 2, both(res)
    assert res.stderr.startswith(message) and no_traceback(res), res.stderr


def test_a_bad_target_from_the_environment_says_it_came_from_there(monkeypatch):
    monkeypatch.setenv("CXLMI_TARGET", "bogus")
    res = invoke(["memdev", "get-health-info"])
    assert res.exit_code == 2
    assert "target 'bogus' is not a form cxl-mi knows" in res.stderr
    assert res.stderr.rstrip().endswith("(from CXLMI_TARGET)"), res.stderr
    res = invoke(["memdev", "get-health-info", "bogus"])        # given: no such note
    assert res.exit_code == 2 and "CXLMI_TARGET" not in res.stderr


def test_a_target_string_is_checked_when_it_is_resolved_before_anything_else():
    with pytest.raises(UsageError) as err:
        cli_target.resolve("usb:3")
    assert "is not a form cxl-mi knows" in str(err.value)
    assert cli_target.resolve(None, environ={"CXLMI_TARGET": " emu:mld "}) == "emu:mld"



# ------------------------------------------------------------------------ tunnels

def test_get_ld_info_through_switch_port_2_reports_the_mlds_4_lds():
    res = invoke(["fmapi", "get-ld-info", "emu:switch", "--port", "2", "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)
    assert doc["result"]["ld_count"] == 4
    assert doc["tunnel"] == {"port": 2, "ld": None, "mhd": False}


@pytest.mark.parametrize("target,tunnel", [
    ("emu:mld", ["--ld", "1"]),                       # level 1: an LD of an MLD
    ("emu:switch", ["--port", "1"]),                  # level 1: a switch port
    ("emu:switch", ["--port", "2", "--ld", "3"]),     # level 2: switch -> MLD -> LD
])
def test_memdev_commands_reach_lds_at_both_tunnel_levels(target, tunnel):
    res = invoke(["memdev", "identify", target] + tunnel + ["--json"])
    assert res.exit_code == 0, both(res)
    assert "total_capacity_bytes" in jdoc(res)["result"]
    health = invoke(["memdev", "get-health-info", target] + tunnel)
    assert health.exit_code == 0 and "°C" in health.stdout


def test_mhd_flag_reaches_the_ld_pool_cci():
    res = invoke(["fmapi", "get-multiheaded-info", "emu:mhd", "--mhd", "--json"])
    assert res.exit_code == 0, both(res)
    assert jdoc(res)["tunnel"] == {"port": None, "ld": None, "mhd": True}
    assert "num_heads" in jdoc(res)["result"]


@pytest.mark.parametrize("flags", [["--mhd", "--port", "1"], ["--mhd", "--ld", "0"],
                                   ["--mhd", "--port", "1", "--ld", "0"]])
def test_conflicting_tunnel_flags_are_usage_errors(flags):
    res = invoke(["memdev", "get-health-info", "emu:switch"] + flags)
    assert res.exit_code == 2
    assert "--mhd" in res.stderr and "cannot be combined" in res.stderr


def test_tunnel_ids_out_of_range_are_usage_errors():
    res = invoke(["memdev", "get-health-info", "emu:switch", "--port", "256"])
    assert res.exit_code == 2
    assert "256 is out of range" in both(res)


@pytest.mark.parametrize("args,where,advice", [
    (["emu:switch", "--port", "4"], "tunnel level 1 (switch port 4)",
     "the command did not get through to switch port 4: is the target a switch, and is a "
     "component attached to that port? (`cxl-mi fmapi topology TARGET` shows its ports)"),
    (["emu:switch", "--port", "2", "--ld", "9"], "tunnel level 2 (LD 9)",
     "the command did not get through to LD 9: is the component before it an MLD with "
     "that LD?"),
    (["emu:switch", "--mhd"], "tunnel level 1 (LD pool CCI)",
     "only a multi-headed device has one"),
])
def test_a_hop_that_will_not_carry_the_command_is_named_with_what_to_check(args, where, advice):
    # it said "port/LD 4" and "check the request fields", which were fine
    res = invoke(["memdev", "get-health-info"] + args)
    assert res.exit_code == 1, both(res)
    assert res.stderr.startswith("cxl-mi: error: %s: tunnel: CXL return code 2 (INPUT)" % where)
    assert advice in res.stderr and "check the request fields" not in res.stderr


@pytest.mark.parametrize("target,tunnel,hop", [("emu:switch", ["--port", "0"], "switch port 0"),
                                               ("emu:mld", ["--ld", "0"], "LD 0")])
def test_port_0_and_ld_0_are_tunnels_too(target, tunnel, hop):
    res = invoke(["memdev", "get-health-info", target] + tunnel + ["--dry-run", "--json"])
    assert res.exit_code == 0, both(res)
    assert [level["hop"] for level in jdoc(res)["request"]["levels"]] == [hop]


# ------------------------------------------------------------------------ values

def test_out_of_range_integers_are_refused_with_the_range():
    res = invoke(["generic", "activate-fw", "emu:type3", "--slot", "256", "--yes"])
    assert res.exit_code == 2
    assert "256 is out of range" in both(res) and "0..255" in both(res)
    assert no_traceback(res)


def test_bad_hex_is_refused():
    res = invoke(["memdev", "set-lsa", "emu:type3", "--data-hex", "zz", "--yes"])
    assert res.exit_code == 2
    assert "not hex" in both(res)


def test_a_blob_from_a_file_and_as_hex_at_once_is_refused(tmp_path):
    data = tmp_path / "lsa.bin"
    data.write_bytes(b"\x01\x02")
    res = invoke(["memdev", "set-lsa", "emu:type3", "--data", str(data), "--data-hex", "0304",
                  "--yes"])
    assert res.exit_code == 2 and "give --data or --data-hex, not both" in both(res)


def test_hex_longer_than_its_field_is_refused_by_option_before_the_confirmation():
    res = invoke(["memdev", "clear-poison", "emu:type3", "--address", "0",
                  "--write-data", "ab" * 65, "--yes"])
    assert res.exit_code == 2
    assert "--write-data holds at most 64 bytes, got 65" in both(res)
    assert "clear-poison on emu:type3" not in both(res)     # nothing confirmed


def test_sizes_must_fit_the_fields_unit():
    res = invoke(["memdev", "set-partition-info", "emu:type3", "--volatile-capacity", "100M",
                  "--yes"])
    assert res.exit_code == 2
    assert "multiple of 256 MiB" in both(res)


def test_enum_names_are_accepted_and_unknown_names_listed():
    assert invoke(["generic", "get-event-records", "emu:type3", "--event-log",
                   "warn"]).exit_code == 0
    res = invoke(["generic", "get-event-records", "emu:type3", "--event-log", "bogus"])
    assert res.exit_code == 2
    assert "info" in both(res) and "fatal" in both(res) and "dcd" in both(res)


def test_usage_errors_in_json_mode_are_json_objects_too():
    res = invoke(["generic", "activate-fw", "emu:type3", "--slot", "999", "--yes", "--json"])
    assert res.exit_code == 2
    err = jdoc(res)["error"]
    assert err["type"] == "UsageError" and err["exit_code"] == 2
    assert "999" in err["message"]


def test_missing_required_fields_name_the_option():
    res = invoke(["memdev", "get-lsa", "emu:type3"])
    assert res.exit_code == 2
    assert "--length" in res.stderr


@pytest.mark.parametrize("text,value", [("4096", 4096), ("0x1000", 4096), ("4K", 4096),
                                        ("256M", 256 << 20), ("4G", 4 << 30),
                                        ("1.5K", 1536), ("2GiB", 2 << 30)])
def test_sizes_parse_with_binary_units_and_hex(text, value):
    assert P.parse_size(text) == value


def test_value_parsers_cover_lists_uuids_flags_and_powers_of_two():
    assert P.parse_int_list("0-3,7") == [0, 1, 2, 3, 7]
    assert P.parse_hex("de:ad be-ef") == b"\xde\xad\xbe\xef"
    from cxlmi_cli import spec
    cel = spec.uuid_bytes(spec.log_uuids())["cel"]
    assert P.parse_uuid("CEL", spec.uuid_bytes(spec.log_uuids())) == cel
    assert P.parse_uuid("0da9c0b5-bf41-4b78-8f79-96b1623b3f17") == cel
    from cxlmi_bindings.types.generic import EVENT_LOG_BITS
    assert P.parse_flags("fail,fatal", EVENT_LOG_BITS) == 0b1100
    assert P.Log2Size(8, 20).parse("2K", None) == 11
    with pytest.raises(P.ValueProblem):
        P.parse_int("70000", 16)


def _dry_fields(args, **kw):
    res = invoke(args + ["--dry-run", "--json"], **kw)
    assert res.exit_code == 0, both(res)
    return jdoc(res)["request"]["fields"]


def test_a_value_that_would_not_fit_its_field_is_refused_not_wrapped():
    res = invoke(["memdev", "get-lsa", "emu:type3", "--offset", "4G", "--length", "4"])
    assert res.exit_code == 2
    assert "--offset 4 GiB is too large for a 32-bit field" in both(res)
    assert _dry_fields(["memdev", "get-lsa", "emu:type3", "--offset", "0xffffffff",
                        "--length", "4"])["offset"] == 0xFFFFFFFF
    res = invoke(["generic", "get-event-records", "emu:type3", "--input", "-"],
                 input=json.dumps({"event_log": 256}))
    assert res.exit_code == 2 and "256 is out of range for event_log (0..255)" in both(res)


def test_sizes_refuse_fractions_of_a_byte_and_addresses_off_their_alignment():
    res = invoke(["memdev", "get-lsa", "emu:type3", "--length", "1.3K"])
    assert res.exit_code == 2 and "'1.3K' is not a whole number of bytes" in both(res)
    res = invoke(["memdev", "inject-poison", "emu:type3", "--address", "0x41", "--yes"])
    assert res.exit_code == 2 and "--address 65 B is not a multiple of 64 B" in both(res)
    # past 1 KiB a rounded size would hide the cause: "4.00 KiB is not a multiple of 64 B"
    res = invoke(["memdev", "inject-poison", "emu:type3", "--address", "0x1001", "--yes"])
    assert res.exit_code == 2
    assert "--address 4097 bytes (0x1001) is not a multiple of 64 B" in both(res)
    res = invoke(["memdev", "inject-poison", "emu:type3", "--address", "4K", "--dry-run"])
    assert res.exit_code == 0, both(res)


def test_range_messages_name_the_option():
    res = invoke(["generic", "activate-fw", "emu:type3", "--slot", "256", "--yes"])
    assert "256 is out of range for --slot (0..255)" in res.stderr


@pytest.mark.parametrize("text,n", [("20", 20), ("1M", 20), ("256", 8), ("8", 8)])
def test_a_log2_size_takes_n_or_a_power_of_two_up_to_its_limit(text, n):
    assert _dry_fields(["generic", "set-response-msg-limit", "emu:type3",
                        "--limit", text])["limit"] == n


@pytest.mark.parametrize("text,message", [("3K", "3 KiB is not a power of two"),
                                          ("21", "2^21 is out of range for --limit (2^8..2^20)"),
                                          ("2M", "2^21 is out of range")])
def test_a_log2_size_refuses_other_sizes(text, message):
    res = invoke(["generic", "set-response-msg-limit", "emu:type3", "--limit", text])
    assert res.exit_code == 2 and message in both(res)


def test_flags_take_none_and_lists_take_a_one_element_range():
    fields = _dry_fields(["generic", "set-mctp-event-interrupt-policy", "emu:type3",
                          "--logs", "none"])
    assert fields["event_interrupt_settings"] == 0
    res = invoke(["fmapi", "get-phys-port-state", "emu:switch", "--ports", "3-3", "--json"])
    assert res.exit_code == 0, both(res)
    assert [p["port_id"] for p in jdoc(res)["result"]["ports"]] == [3]


def test_structure_items_refuse_extra_parts_and_name_the_missing_ones():
    fields = _dry_fields(["memdev", "add-dc-response", "emu:dcd", "--extent", "256M:256M"])
    assert fields["extents"] == [{"start_dpa": 256 << 20, "len": 256 << 20}]
    res = invoke(["memdev", "add-dc-response", "emu:dcd", "--extent", "0:256M:5"])
    assert res.exit_code == 2
    assert "'0:256M:5' has 3 parts, --extent takes at most 2 (START:LEN)" in both(res)
    res = invoke(["memdev", "add-dc-response", "emu:dcd", "--extent", "0"])
    assert res.exit_code == 2 and "'0' lacks len (expected START:LEN)" in both(res)


@pytest.mark.parametrize("when", ["1960-01-01", "1969-12-31T23:59:59.5Z", "2554-07-22",
                                  "9999-12-31"])
def test_a_date_the_64_bit_timestamp_cannot_hold_is_refused_not_wrapped(when):
    res = invoke(["generic", "set-timestamp", "emu:type3", "--timestamp", when, "--dry-run"])
    assert res.exit_code == 2, both(res)
    assert "%r cannot be sent: the timestamp holds 1970-01-01 to 2554-07-21" % when in both(res)


def test_the_last_and_first_dates_the_timestamp_holds_are_taken():
    last = _dry_fields(["generic", "set-timestamp", "emu:type3",
                        "--timestamp", "2554-07-21T23:34:33Z"])["timestamp"]
    assert last == 18446744073 * 10 ** 9
    assert _dry_fields(["generic", "set-timestamp", "emu:type3",
                        "--timestamp", "1970-01-01T00:00:00Z"])["timestamp"] == 0


@pytest.mark.parametrize("when,ns", [
    ("2024-05-01T12:00:00.5Z", 1714564800500000000),
    ("2024-05-01T12:00:00,25+00:00", 1714564800250000000),              # ISO's comma
    ("2024-05-01T12:00:00.123456789Z", 1714564800123456789),            # to the nanosecond
    ("2024-05-01 12:00:00.0000000019", 1714564800000000001),            # past it: cut
])
def test_a_fraction_of_a_second_of_any_length_is_taken_on_every_python(when, ns):
    # fromisoformat before Python 3.11 takes only 3 or 6 digits
    assert _dry_fields(["generic", "set-timestamp", "emu:type3", "--timestamp", when])[
        "timestamp"] == ns


def test_a_timestamp_without_a_zone_is_utc():
    fields = _dry_fields(["generic", "set-timestamp", "emu:type3",
                          "--timestamp", "2024-05-01T12:00:00"])
    assert fields["timestamp"] == 1714564800 * 10 ** 9


# ------------------------------------------------------------------------ output

def test_raw_output_is_the_reply_payload_for_xxd():
    raw = invoke(["identify", "emu:type3", "-o", "raw"])
    js = jdoc(invoke(["identify", "emu:type3", "--json"]))["result"]
    data = raw.stdout_bytes
    assert len(data) == 18
    assert int.from_bytes(data[0:2], "little") == js["vendor_id"]
    assert int.from_bytes(data[8:16], "little") == js["serial_num"]


def test_json_and_a_different_output_mode_conflict():
    res = invoke(["identify", "emu:type3", "--json", "-o", "raw"])
    assert res.exit_code == 2
    assert "different outputs" in res.stderr


def test_tables_speak_words_degrees_and_gib():
    health = invoke(["memdev", "get-health-info", "emu:type3"])
    assert health.exit_code == 0
    assert "°C" in health.stdout and "media status" in health.stdout
    assert "normal" in health.stdout
    part = invoke(["memdev", "get-partition-info", "emu:type3"])
    assert part.exit_code == 0 and "GiB" in part.stdout
    fw = invoke(["generic", "get-fw-info", "emu:type3"])
    assert fw.exit_code == 0 and "active" in fw.stdout
    cel = invoke(["generic", "get-log-cel", "emu:type3", "--length", "64"])
    assert cel.exit_code == 0 and "identify" in cel.stdout and "0001h" in cel.stdout
    ports = invoke(["fmapi", "get-phys-port-state", "emu:switch", "--ports", "0-7"])
    assert ports.exit_code == 0 and "usp" in ports.stdout and "dsp" in ports.stdout


def test_tables_show_consecutive_port_ids_as_a_range():
    res = invoke(["fmapi", "identify-sw-device", "emu:switch"])
    assert res.exit_code == 0, res.output
    rows = {" ".join(line.split()[:-1]): line.split()[-1]
            for line in res.stdout.splitlines() if "bitmask" in line}
    assert rows == {"active port bitmask": "0-7", "active vcs bitmask": "0"}


def test_the_partition_table_shows_every_capacity_in_gib_even_zero():
    res = invoke(["memdev", "get-partition-info", "emu:type3"])
    assert res.exit_code == 0, res.output
    rows = [" ".join(line.split()) for line in res.stdout.splitlines()]
    for row in ("active vmem 1.00 GiB", "active pmem 1.00 GiB", "next vmem 0.00 GiB",
                "next pmem 0.00 GiB"):
        assert row in rows


def test_json_decodes_enums_and_bitmasks_beside_the_raw_values():
    res = invoke(["memdev", "get-health-info", "emu:type3", "--json"])
    r = jdoc(res)["result"]
    assert isinstance(r["health_status"], int)
    assert isinstance(r["health_status_decoded"], list)
    assert r["media_status_decoded"] == "normal"
    assert isinstance(r["device_temperature_decoded"], int)
    part = jdoc(invoke(["memdev", "get-partition-info", "emu:type3", "--json"]))["result"]
    assert part["active_vmem_bytes"] == part["active_vmem"] * (256 << 20)


def _mock_device(monkeypatch, replies):
    """The CLI's target answers from a mock: opcode -> reply payload."""
    def opener(target, timeout=None):
        ep = Context().open_mock()
        for opcode, payload in replies.items():
            ep.transport.set_response(opcode, 0, payload)
        return ep
    monkeypatch.setattr(cli_target, "open_endpoint", opener)


def test_json_names_each_health_status_field_as_the_spec_does(monkeypatch):
    import struct
    # health: maintenance needed; media: all data lost (3); additional status: life
    # used warning (bits 1:0 = 1), temperature critical (bits 3:2 = 2); life used
    # not implemented (FFh); -10 degrees
    _mock_device(monkeypatch, {0x4200: struct.pack("<BBBBHIII", 0x01, 3, 0x09, 0xFF, 0xFFF6,
                                                   0, 0, 0)})
    r = jdoc(invoke(["memdev", "get-health-info", "emu:type3", "--json"]))["result"]
    assert r["health_status_decoded"] == ["maintenance-needed"]
    assert r["media_status_decoded"] == "all-data-lost"
    assert r["additional_status_decoded"] == {
        "life_used": "warning", "device_temperature": "critical",
        "corrected_volatile_errors": "normal", "corrected_persistent_errors": "normal"}
    assert r["life_used_decoded"] is None and r["device_temperature_decoded"] == -10


def test_json_gives_a_timestamp_in_utc_to_the_microsecond(monkeypatch):
    import struct
    _mock_device(monkeypatch, {0x0300: struct.pack("<Q", 1_700_000_000_123_456_789)})
    r = jdoc(invoke(["generic", "get-timestamp", "emu:type3", "--json"]))["result"]
    assert r["timestamp_decoded"] == "2023-11-14T22:13:20.123456Z"


def test_json_and_table_name_the_staged_firmware_slot(monkeypatch):
    import struct
    # 3 slots, active slot 1 (bits 2:0), slot 2 staged for the next reset (bits 5:3)
    info = struct.pack("<BBB13x", 3, 1 | 2 << 3, 0) + b"".join(
        rev.ljust(16, b"\0") for rev in (b"FW 1", b"FW 2", b"", b""))
    _mock_device(monkeypatch, {0x0200: info})
    r = jdoc(invoke(["generic", "get-fw-info", "emu:type3", "--json"]))["result"]
    assert r["slot_info_decoded"] == {"active_slot": 1, "staged_slot": 2}
    res = invoke(["generic", "get-fw-info", "emu:type3"])
    assert "staged slot 2" in [" ".join(line.split()) for line in res.stdout.splitlines()]


def test_a_cxl_error_is_exit_1_naming_the_return_code(monkeypatch):
    def opener(target, timeout=None):
        ep = Context().open_mock()          # nothing queued: UNSUPPORTED
        return ep
    monkeypatch.setattr(cli_target, "open_endpoint", opener)
    res = invoke(["memdev", "get-health-info", "emu:type3"])
    assert res.exit_code == 1
    assert "CXL return code 3 (UNSUPPORTED)" in res.stderr and no_traceback(res)
    res = invoke(["memdev", "get-health-info", "emu:type3", "--json"])
    err = jdoc(res)["error"]
    assert err == dict(err, type="DeviceError", return_code=3, return_code_name="UNSUPPORTED",
                       exit_code=1)


@pytest.mark.parametrize("exc,code", [(CommandTimeout("no answer"), 5),
                                      (PermissionDenied("need root"), 4),
                                      (TransportError("wire cut"), 3)])
def test_transport_failures_map_to_their_exit_codes(monkeypatch, exc, code):
    def opener(target, timeout=None):
        raise exc
    monkeypatch.setattr(cli_target, "open_endpoint", opener)
    res = invoke(["identify", "emu:type3"])
    assert res.exit_code == code
    assert str(exc) in res.stderr and no_traceback(res)


def test_a_cxl_error_says_what_to_do_next_and_names_the_registry_command(monkeypatch):
    monkeypatch.setattr(cli_target, "open_endpoint",
                        lambda target, timeout=None: Context().open_mock())    # UNSUPPORTED
    res = invoke(["memdev", "get-health-info", "emu:type3"])
    assert res.exit_code == 1
    assert "(hint: the component does not implement this command; `cxl-mi generic " \
           "get-log-cel TARGET` lists the ones it does; on a switch, MLD or MHD try it " \
           "through a tunnel (--port N, --ld N, --mhd))" in res.stderr
    doc = jdoc(invoke(["memdev", "get-health-info", "emu:type3", "--json"]))
    assert doc["command"] == "memdev_get_health_info" and doc["target"] == "emu:type3"
    assert "get-log-cel" in doc["error"]["hint"]


def test_a_component_without_logs_is_not_sent_to_read_its_command_effects_log():
    # get-log-cel's own failure hinted "`cxl-mi generic get-log-cel TARGET` lists the ones
    # it does": the command that had just failed
    res = invoke(["generic", "get-log-cel", "emu:switch"])
    assert res.exit_code == 1, both(res)
    assert "UNSUPPORTED" in res.stderr and "get-log-cel" not in res.stderr
    assert "(hint: the component does not implement this command; on a switch" in res.stderr


@pytest.mark.parametrize("exc,code,text", [
    (OSError(errno.ECONNRESET, "Connection reset by peer"), 3,
     "cxl-mi: error: Connection reset by peer\n"),
    (PermissionError(errno.EACCES, "Permission denied"), 4, "Permission denied"),
    (TimeoutError(), 5, "cxl-mi: error: timed out\n"),
])
def test_plain_os_errors_map_to_their_exit_codes_in_words(monkeypatch, exc, code, text):
    def opener(target, timeout=None):
        raise exc
    monkeypatch.setattr(cli_target, "open_endpoint", opener)
    res = invoke(["identify", "emu:type3"])
    assert res.exit_code == code
    assert text in res.stderr and no_traceback(res)


@pytest.mark.parametrize("spelling", [["-o", "json"], ["--output", "json"], ["-ojson"],
                                      ["--output=json"], ["--json"]])
def test_a_parse_error_is_a_json_object_in_each_spelling_of_json_output(spelling):
    res = invoke(["identify", "emu:type3", "--bogus"] + spelling)
    assert res.exit_code == 2
    err = jdoc(res)["error"]
    assert err["type"] == "UsageError" and "--bogus" in err["message"]


@pytest.mark.parametrize("args,command,target", [
    (["identify", "emu:type3", "--bogus"], "identify", "emu:type3"),
    (["memdev", "get-health-info", "emu:type3", "--bogus"], "memdev_get_health_info",
     "emu:type3"),
    (["-o", "json", "memdev", "get-lsa", "--bogus"], "memdev_get_lsa", None),  # not "json"
    (["memdev", "get-lsa", "--length", "abc", "emu:mld"], "memdev_get_lsa", "emu:mld"),
    (["memdev", "get-lsa", "--mctp", "1:8", "--length", "abc"], "memdev_get_lsa", None),
    (["fmapi", "topology", "emu:switch", "--bogus"], "fmapi topology", "emu:switch"),
    (["list", "--bogus"], "list", None),
    (["memdev", "no-such-command"], "memdev", None),
])
def test_a_parse_error_names_the_command_as_its_documents_do_and_the_target(args, command,
                                                                           target):
    # it gave the words ("memdev get-lsa") where every other document of the command gives
    # its registry name, and no target though one was given
    res = invoke(args + ["--json"])
    assert res.exit_code == 2, both(res)
    doc = jdoc(res)
    assert (doc["command"], doc["target"]) == (command, target)


def test_a_parse_error_is_text_when_json_is_only_an_argument_or_o_has_no_value():
    res = invoke(["identify", "emu:type3", "--bogus", "--", "--json"])
    assert res.exit_code == 2 and res.stdout == "" and "--bogus" in res.stderr
    res = invoke(["identify", "emu:type3", "-o"])
    assert res.exit_code == 2 and res.stdout == ""
    assert "'-o' requires an argument" in res.stderr


def test_a_json_error_whose_reader_is_gone_keeps_its_exit_code():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r, w = os.pipe()
    os.close(r)                     # `cxl-mi ... --json | true`: nobody reads stdout
    try:
        proc = subprocess.run([sys.executable, "-m", "cxlmi_cli", "identify",
                               "tcp:127.0.0.1:%d" % port, "--json"], stdout=w,
                              stderr=subprocess.PIPE, cwd=ROOT, text=True, timeout=60,
                              env=dict(os.environ, PYTHONPATH=ROOT))
    finally:
        os.close(w)
    assert proc.returncode == 3, proc.stderr
    assert "refused" in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_is_exit_130(monkeypatch):
    def interrupted(self, entry, request=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli_options.Invocation, "call", interrupted)
    res = invoke(["identify", "emu:type3"])
    assert res.exit_code == 130
    assert "interrupted" in res.stderr


# ------------------------------------------------------------------------ round trips

def test_set_lsa_then_get_lsa_over_tcp(served):
    target, _, _ = served
    res = invoke(["memdev", "set-lsa", target, "--offset", "0x40", "--data-hex", "c0ffee11",
                  "--yes"])
    assert res.exit_code == 0, both(res)
    res = invoke(["memdev", "get-lsa", target, "--offset", "0x40", "--length", "4", "-o", "raw"])
    assert res.stdout_bytes == bytes.fromhex("c0ffee11")


def test_lsa_bytes_are_dumped_at_their_offset_and_a_reply_without_data_says_done(shared):
    dev = shared(build("type3"))
    dev.lsa[:64] = bytes(range(64))
    res = invoke(["memdev", "get-lsa", "emu:type3", "--offset", "16", "--length", "32"])
    assert res.exit_code == 0, both(res)
    lines = res.stdout.splitlines()
    assert lines[1] == "32 bytes"
    assert lines[2].startswith("00000010  10 11 12") and lines[3].startswith("00000020  20 21")
    res = invoke(["generic", "set-timestamp", "emu:type3", "--timestamp", "5"])
    assert res.exit_code == 0, both(res)
    assert res.stdout.splitlines()[1].startswith("set-timestamp: done on emu:type3")


def test_a_change_to_an_emu_device_says_it_lasts_one_command():
    # "done" on emu:type3, then a read shows the old value: each command has its own device
    res = invoke(["memdev", "set-lsa", "emu:type3", "--offset", "0", "--data-hex", "aa",
                  "--yes"])
    assert res.exit_code == 0, both(res)
    assert "set-lsa: done on emu:type3; an emu:type3 device lasts one command, so the change " \
        "is gone now (`cxl-mi emulate --profile type3` serves one that keeps it)" \
        in " ".join(res.stdout.split())


def test_tables_show_ranges_handles_sizes_and_slots_in_their_units(shared):
    from cxlmi_bindings.emulator import type3 as T3
    dev = shared(build("type3"))

    def rows(args):
        res = invoke(args)
        assert res.exit_code == 0, both(res)
        return [" ".join(line.split()) for line in res.stdout.splitlines()]
    dev.add_media_error(0x1000, event=False)
    assert "0x1000 0x103f 64 B internal" in rows(["memdev", "get-poison-list", "emu:type3"])
    dev.add_event(T3.EVENT_LOG_INFO, bytes.fromhex("fbcd0a77c260417f85a9088b1621eba6"),
                  related_handle=7)
    assert "info 1 general-media informational - not set 7 0 0" in rows(
        ["generic", "get-event-records", "emu:type3", "--all", "--log", "info"])
    dev.debug_log[:] = b"x" * 1536
    assert "vendor-debug (5e1819d9-11a9-400c-811f-d60719403d86) 1.50 KiB" in rows(
        ["generic", "get-supported-logs", "emu:type3"])
    shown = rows(["generic", "get-fw-info", "emu:type3"])
    assert "staged slot none" in shown and "* 1 EMU FW 1.0.0 active" in shown
    assert "3 (empty)" in shown


def test_input_json_gives_the_request_and_options_override_it(served, tmp_path):
    target, _, _ = served
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"offset": 128, "data": "cafebabe"}))
    res = invoke(["memdev", "set-lsa", target, "--input", str(req), "--yes"])
    assert res.exit_code == 0, both(res)
    res = invoke(["memdev", "get-lsa", target, "--input", "-", "-o", "raw"],
                 input=json.dumps({"offset": 128, "length": 4}))
    assert res.stdout_bytes == bytes.fromhex("cafebabe")
    res = invoke(["memdev", "get-lsa", target, "--input", "-", "--offset", "130", "-o", "raw"],
                 input=json.dumps({"offset": 128, "length": 2}))
    assert res.stdout_bytes == bytes.fromhex("babe")


def test_an_option_changes_only_its_own_bits_of_a_packed_field_given_in_input():
    # field_1 0x2003: register 3, byte enables 2; --register 4 replaces bits 7:0 alone,
    # and the byte-enable default (0xF) does not override what --input says
    fields = _dry_fields(["fmapi", "send-ld-cxlio-config-request", "emu:switch", "--ppb-id",
                          "1", "--input", "-", "--register", "4"],
                         input=json.dumps({"field_1": 0x2003}))
    assert fields["field_1"] == "042000"


def test_a_packed_field_given_whole_in_input_needs_none_of_its_part_options():
    fields = _dry_fields(["fmapi", "generate-aer-event", "emu:switch", "--input", "-"],
                         input=json.dumps({"aer_error": 0x80000005, "vppb_instance": 1}))
    assert fields["aer_error_decoded"] == {"status_bit": 5, "severity": "uncorrectable"}


def test_a_packed_field_given_whole_as_text_is_a_number_over_all_its_bits():
    # not parsed by its first part's option (--severity): "uncorrectable" went out as
    # status bit 1 of a correctable error, and 0x80000005 was refused
    fields = _dry_fields(["fmapi", "generate-aer-event", "emu:switch", "--input", "-"],
                         input=json.dumps({"aer_error": "0x80000005", "vppb_instance": 1}))
    assert fields["aer_error_decoded"] == {"status_bit": 5, "severity": "uncorrectable"}
    res = invoke(["fmapi", "generate-aer-event", "emu:switch", "--input", "-", "--dry-run"],
                 input=json.dumps({"aer_error": "uncorrectable", "vppb_instance": 1}))
    assert res.exit_code == 2 and no_traceback(res), both(res)
    assert "--input: aer_error: 'uncorrectable' is not an integer" in res.stderr


def test_input_json_values_are_not_replaced_by_the_options_defaults():
    fields = _dry_fields(["generic", "activate-fw", "emu:type3", "--input", "-"],
                         input=json.dumps({"action": "reset", "slot": 2}))
    assert fields["action_decoded"] == "reset"          # not --action's default, online
    fields = _dry_fields(["fmapi", "get-vcs-info", "emu:switch", "--input", "-"],
                         input=json.dumps({"vcs_id_list": [1], "vppb_list_limit": 3}))
    assert fields["vcs_id_list"] == "01" and fields["vppb_list_limit"] == 3


def test_input_json_takes_uuid_names_and_the_fields_a_dry_run_printed():
    fields = _dry_fields(["generic", "get-feature", "emu:type3", "--input", "-"],
                         input=json.dumps({"feature_id": "patrol-scrub", "offset": 0,
                                           "count": 4}))
    assert fields["feature_id_decoded"]["name"] == "patrol-scrub"
    # what a dry run shows, its *_bytes and *_decoded keys included, goes back in as it is
    shown = _dry_fields(["memdev", "set-partition-info", "emu:type3", "--volatile-capacity",
                         "256M"])
    assert shown["volatile_capacity_bytes"] == 256 << 20
    assert _dry_fields(["memdev", "set-partition-info", "emu:type3", "--input", "-"],
                       input=json.dumps(shown)) == shown


def test_input_json_must_be_an_object_of_fields(tmp_path):
    req = tmp_path / "req.json"
    req.write_text(json.dumps([0, 4]))
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", str(req)])
    assert res.exit_code == 2 and "must hold a JSON object of request fields" in both(res)


@pytest.mark.parametrize("args,request_,message", [
    (["memdev", "media-operations-discovery", "emu:type3"], {"discovery_osa": 5},
     "--input: discovery_osa: expected an object of media_ops_discovery_osa fields, "
     "got a number"),
    (["memdev", "media-operations-discovery", "emu:type3"],
     {"discovery_osa": {"num_ops": 70000}},
     "--input: discovery_osa.num_ops: 70000 is out of range"),
    (["memdev", "add-dc-response", "emu:dcd"], {"extents": 5},
     "--input: extents: expected a list of dc_extent_update entries, got a number"),
    (["memdev", "add-dc-response", "emu:dcd"], {"extents": [{"start_dpa": 0, "len": 0}, 5]},
     "--input: extents[1]: expected an object of dc_extent_update fields, got a number"),
    (["memdev", "add-dc-response", "emu:dcd"], {"extents": [{"start_dpa": "zz", "len": 0}]},
     "--input: extents[0].start_dpa: 'zz' is not a size"),
    (["memdev", "set-lsa", "emu:type3"], {"offset": 0, "data": 5},
     "--input: data: expected hex or a list of byte values, got a number"),
    (["memdev", "set-lsa", "emu:type3"], {"offset": 0, "data": [1, 300]},
     "--input: data: 300 is out of range"),
    (["fmapi", "send-ld-cxlio-config-request", "emu:switch", "--ppb-id", "1"],
     {"field_1": 1 << 24}, "--input: field_1: 16777216 is out of range"),
    # a packed byte-array field or a UUID given as an object (was a TypeError traceback)
    (["fmapi", "send-ld-cxlio-config-request", "emu:switch", "--ppb-id", "1"],
     {"field_1": {}}, "--input: field_1: {} is not an integer"),
    (["generic", "get-log", "emu:type3"], {"uuid": {"a": 1}},
     "--input: uuid: expected hex or a list of byte values, got an object"),
    (["generic", "get-log", "emu:type3"], {"uuid": 16},
     "--input: uuid: expected hex or a list of byte values, got a number"),
    # a UUID's byte values are all 16 of them: fewer were padded into another UUID
    (["generic", "get-log", "emu:type3"], {"uuid": list(range(15))},
     "--input: uuid: a UUID is 16 bytes, got 15; give it as text"),
    (["generic", "get-feature", "emu:type3"], {"feature_id": [1]},
     "--input: feature_id: a UUID is 16 bytes, got 1; give it as text"),
])
def test_input_json_of_the_wrong_shape_is_a_usage_error_naming_the_fields_path(
        args, request_, message):
    res = invoke(args + ["--input", "-", "--dry-run"], input=json.dumps(request_))
    assert res.exit_code == 2 and no_traceback(res), both(res)
    assert message in res.stderr and res.stderr.count("--input") == 1, res.stderr


@pytest.mark.parametrize("args,request_", [
    (["memdev", "add-dc-response", "emu:dcd", "--extent", "256M:1M"],
     {"extents": [{"start_dpa": "256M", "len": "0x100000"}]}),
    (["fmapi", "initiate-dc-add", "emu:dcd", "--length", "128M",
      "--extent", "0:128M:0da9c0b5-bf41-4b78-8f79-96b1623b3f17:2"],
     {"length": "128M", "extents": [{"start_dpa": 0, "len": "128M", "shared_seq": "0x2",
                                     "tag": "0da9c0b5-bf41-4b78-8f79-96b1623b3f17"}]}),
])
def test_a_tail_entry_in_input_json_takes_the_values_its_option_takes(args, request_):
    # an extent's start and length are sizes on the command line; in --input they
    # were integers only ("256M" refused), and a tag's text form read as bare hex
    by_option = invoke(args + ["--dry-run", "--json"])
    assert by_option.exit_code == 0, both(by_option)
    by_input = invoke(args[:3] + ["--input", "-", "--dry-run", "--json"],
                      input=json.dumps(request_))
    assert by_input.exit_code == 0, both(by_input)
    assert jdoc(by_input)["request"]["message"] == jdoc(by_option)["request"]["message"]


def test_a_number_in_a_byte_array_field_reads_as_its_option_reads_it():
    # --row 5 is the 24-bit row 5; in --input a number was refused ("expected hex"),
    # while the hex text cxl-mi's own JSON shows is the wire's bytes
    args = ["generic", "perform-maintenance-sparing", "emu:type3", "--granularity", "row"]
    by_option = invoke(args + ["--row", "0x10203", "--nibble-mask", "3", "--dry-run", "--json"])
    assert by_option.exit_code == 0, both(by_option)
    fields = jdoc(by_option)["request"]["fields"]
    assert fields["row"] == "030201" and fields["row_decoded"] == 0x10203
    for request_ in ({"row": 0x10203, "nibble_mask": 3}, {"row": "030201", "nibble_mask": 3}):
        by_input = invoke(args + ["--input", "-", "--dry-run", "--json"],
                          input=json.dumps(request_))
        assert by_input.exit_code == 0, both(by_input)
        assert jdoc(by_input)["request"]["message"] == jdoc(by_option)["request"]["message"]
    res = invoke(args + ["--input", "-", "--dry-run"], input=json.dumps({"row": 1 << 24}))
    assert res.exit_code == 2 and "--input: row: 16777216 is out of range" in res.stderr


@pytest.mark.parametrize("request_,message", [
    ({"length": "128M", "extents": [{"start_dpa": 0, "len": "12Q"}]},
     "--input: extents[0].len: '12Q' is not a size"),
    ({"length": "128M", "extents": [{"start_dpa": 0, "len": 0, "tag": [1, 2, 3]}]},
     "--input: extents[0].tag: a UUID is 16 bytes, got 3"),
    ({"length": "128M", "extents": [{"start_dpa": 0, "len": 0, "tag": "cel-ish"}]},
     "--input: extents[0].tag: 'cel-ish' is not a UUID"),
])
def test_a_tail_entry_value_its_option_would_refuse_is_refused_naming_the_entry(
        request_, message):
    res = invoke(["fmapi", "initiate-dc-add", "emu:dcd", "--input", "-", "--dry-run"],
                 input=json.dumps(request_))
    assert res.exit_code == 2 and no_traceback(res), both(res)
    assert message in res.stderr, res.stderr


def test_a_get_reply_as_cxl_mi_prints_it_is_taken_as_input_for_the_set(tmp_path, shared):
    # docs/cli.md: "a reply can be edited and sent back"; the reply's envelope
    # (schema_version, command, target, result) was refused as unknown fields
    device = shared(build("type3"))
    res = invoke(["generic", "get-event-interrupt-policy", "emu:type3", "--json"])
    doc = jdoc(res)
    doc["result"]["warning_settings"] = 1                   # MSI, vector 0
    plan = tmp_path / "policy.json"
    plan.write_text(json.dumps(doc))
    res = invoke(["generic", "set-event-interrupt-policy", "emu:type3", "--input", str(plan)])
    assert res.exit_code == 0, both(res)
    res = invoke(["generic", "get-event-interrupt-policy", "emu:type3", "--json"])
    assert jdoc(res)["result"]["warning_settings"] == 1
    del doc["result"]
    doc["error"] = {"message": "x"}
    plan.write_text(json.dumps(doc))
    res = invoke(["generic", "set-event-interrupt-policy", "emu:type3", "--input", str(plan)])
    assert res.exit_code == 2
    assert "--input holds the error report of %s, not request fields" % doc["command"] \
        in res.stderr, res.stderr


@pytest.mark.parametrize("request_,message", [
    ({"offset": True, "length": 4}, "--input: offset: expected a number, got true or false"),
    ({"offset": 0, "length": None},
     "--input: length: null is not a value (leave the field out to use its default)"),
])
def test_input_json_true_or_null_for_a_number_is_refused_in_json_terms(request_, message):
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", "-", "--dry-run"],
                 input=json.dumps(request_))
    assert res.exit_code == 2 and message in res.stderr, both(res)


def test_input_json_true_for_a_flag_field_is_the_flag():
    res = invoke(["generic", "clear-event-records", "emu:type3", "--input", "-", "--dry-run",
                  "--json"], input=json.dumps({"event_log": "info", "clear_flags": True}))
    assert res.exit_code == 0, both(res)
    assert jdoc(res)["request"]["fields"]["clear_flags"] == 1


def test_input_that_is_not_text_is_a_usage_error_not_a_traceback(tmp_path):
    req = tmp_path / "req.json"
    req.write_bytes(b"\x7fELF\x02\x01\x01\x00\xd0\xff")
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", str(req)])
    assert res.exit_code == 2 and "is not JSON" in both(res)
    assert no_traceback(res)
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", "-"], input=b"\xd0\xff{}")
    assert res.exit_code == 2 and "is not JSON" in both(res)


def test_input_nested_too_deeply_for_the_json_decoder_is_a_usage_error():
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", "-"],
                 input="[" * 100000 + "]" * 100000)
    assert res.exit_code == 2 and no_traceback(res), both(res)
    assert "nested too deeply" in res.stderr


@pytest.mark.parametrize("args,message", [
    (["memdev", "get-lsa", "emu:type3", "--offset", "0", "--length", "0x" + "f" * 4000],
     "has too many digits for a size"),
    (["memdev", "get-lsa", "emu:type3", "--offset", "0", "--length", "9" * 5000],
     "has too many digits for a size"),
    (["memdev", "get-lsa", "emu:type3", "--offset", "0", "--length", "1" * 400 + ".5K"],
     "has too many digits for a size"),
    (["generic", "set-response-msg-limit", "emu:type3", "--limit", "9" * 5000],
     "has too many digits for a size"),
    (["generic", "activate-fw", "emu:type3", "--yes", "--slot", "0x" + "f" * 4000],
     "a 16000-bit number is out of range for --slot"),
])
def test_numbers_too_long_for_any_field_are_usage_errors(args, message):
    # Python will not convert or print an int of over 4300 digits, nor make a float of
    # one past 1e308: each was a traceback (ValueError, OverflowError)
    res = invoke(args + ["--dry-run"])
    assert res.exit_code == 2 and no_traceback(res), both(res)
    assert message in res.stderr


def test_a_size_with_too_many_digits_in_input_json_is_a_usage_error():
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", "-", "--dry-run"],
                 input=json.dumps({"offset": 0, "length": "0x" + "f" * 4000}))
    assert res.exit_code == 2 and no_traceback(res), both(res)
    assert res.stderr.startswith("cxl-mi: error: --input: length: ")
    assert "0xffffffffffffffffff... has too many digits for a size" in res.stderr


def test_input_json_with_unknown_fields_or_bad_values_is_a_usage_error(tmp_path):
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"offset": 0, "lenght": 4}))
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", str(req)])
    assert res.exit_code == 2 and "lenght" in res.stderr
    req.write_text("{not json")
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", str(req)])
    assert res.exit_code == 2 and "not JSON" in both(res)
    req.write_text(json.dumps({"feature_id": 5, "offset": 0, "count": 4}))
    res = invoke(["generic", "get-feature", "emu:type3", "--input", str(req)])
    assert res.exit_code == 2, both(res)
    assert "--input: feature_id: expected hex or a list of byte values, got a number" \
        in res.stderr
    assert "Traceback" not in both(res)


@pytest.mark.parametrize("given", [["--under-temperature", "-5"],
                                   ["--input", "-"]])
def test_a_temperature_threshold_below_zero_is_set_and_read_back(shared, given):
    # the thresholds are signed °C: -5 was refused as out of range (0..65535)
    device = shared(build("type3"))
    stdin = json.dumps({"device_under_temperature_programmable_warning_threshold": -5})
    res = invoke(["memdev", "set-alert-config", "emu:type3", "--valid", "under-temperature"]
                 + given, input=stdin)
    assert res.exit_code == 0, both(res)
    assert device.under_temp_warning == -5
    res = invoke(["memdev", "get-alert-config", "emu:type3", "--json"])
    result = jdoc(res)["result"]
    assert result["device_under_temperature_programmable_warning_threshold"] == 0xFFFB
    assert result["device_under_temperature_programmable_warning_threshold_decoded"] == -5


@pytest.mark.parametrize("value,message", [
    ("-32769", "-32769 °C is out of range for --under-temperature (-32768..32767)"),
    ("65536", "65536 °C is out of range"),
    ("cold", "'cold' is not a temperature in °C"),
])
def test_a_temperature_threshold_out_of_range_is_refused(value, message):
    res = invoke(["memdev", "set-alert-config", "emu:type3", "--valid", "under-temperature",
                  "--under-temperature", value, "--dry-run"])
    assert res.exit_code == 2 and message in res.stderr, both(res)


def test_inject_poison_then_the_poison_list_shows_the_range(shared):
    shared(build("type3"))
    res = invoke(["memdev", "inject-poison", "emu:type3", "--address", "0x2000", "--yes"])
    assert res.exit_code == 0, both(res)
    res = invoke(["memdev", "get-poison-list", "emu:type3", "--length", "1G", "--json"])
    records = jdoc(res)["result"]["records"]
    assert any(r["media_err_addr_decoded"]["address"] == 0x2000 and
               r["media_err_addr_decoded"]["source"] == "injected" for r in records)
    table = invoke(["memdev", "get-poison-list", "emu:type3", "--length", "1G"])
    assert "0x2000" in table.stdout and "0x203f" in table.stdout


def test_set_partition_shows_in_the_next_partition(shared):
    shared(build("type3"))
    res = invoke(["memdev", "set-partition-info", "emu:type3", "--volatile-capacity", "512M",
                  "--yes"])
    assert res.exit_code == 0, both(res)
    part = jdoc(invoke(["memdev", "get-partition-info", "emu:type3", "--json"]))["result"]
    assert part["next_vmem_bytes"] == 512 << 20


# ------------------------------------------------------------------------ safety

def test_destructive_command_without_yes_and_tty_refuses_and_sends_nothing(served):
    target, server, _ = served
    before = invoke(["memdev", "get-partition-info", target, "--json"])
    sent = server.stats["messages"]
    for args in (["memdev", "sanitize", target],
                 ["memdev", "set-partition-info", target, "--volatile-capacity", "512M"]):
        res = invoke(args)
        assert res.exit_code == 2, both(res)
        assert "--yes" in res.stderr and target in res.stderr
        assert args[1] in res.stderr and "nothing was sent" in res.stderr
        assert no_traceback(res)
    assert server.stats["messages"] == sent          # not even an identify went out
    after = invoke(["memdev", "get-partition-info", target, "--json"])
    assert jdoc(after)["result"] == jdoc(before)["result"]
    status = jdoc(invoke(["generic", "bg-op-status", target, "--json"]))["result"]
    assert status["status_decoded"]["in_progress"] is False


def test_destructive_command_with_yes_says_what_it_does_to_which_target(served):
    target, _, _ = served
    res = invoke(["memdev", "set-shutdown-state", target, "--state", "dirty"])
    assert res.exit_code == 0        # not destructive: no question asked
    res = invoke(["memdev", "set-partition-info", target, "--volatile-capacity", "512M",
                  "--yes"])
    assert res.exit_code == 0, both(res)
    assert "set-partition-info on %s" % target in res.stderr


def test_destructive_command_on_a_tty_asks_first(served, monkeypatch):
    target, server, _ = served
    monkeypatch.setattr(cli_options, "_stdin_is_tty", lambda: True)
    sent = server.stats["messages"]
    res = invoke(["memdev", "set-partition-info", target, "--volatile-capacity", "512M"],
                 input="n\n")
    assert res.exit_code == 2 and "not confirmed" in res.stderr
    assert server.stats["messages"] == sent
    res = invoke(["memdev", "set-partition-info", target, "--volatile-capacity", "512M"],
                 input="y\n")
    assert res.exit_code == 0, both(res)


@pytest.mark.parametrize("flag", ["--passphrase", "--new-passphrase", "--current-passphrase"])
def test_a_passphrase_on_argv_is_refused_without_echoing_it(flag):
    for args in ([flag, "hunter2"], [flag + "=hunter2"]):
        res = invoke(["memdev", "set-passphrase", "emu:type3", "--type", "user"] + args)
        assert res.exit_code == 2
        assert "never taken from the command line" in both(res)
        assert "hunter2" not in both(res) and no_traceback(res)
    res = invoke(["memdev", "unlock", "emu:type3", "--json", flag, "hunter2"])
    assert res.exit_code == 2 and jdoc(res)["error"]["exit_code"] == 2
    assert "hunter2" not in both(res)


def test_a_passphrase_command_without_file_or_tty_is_a_usage_error():
    res = invoke(["memdev", "unlock", "emu:type3", "--yes"])
    assert res.exit_code == 2
    assert "--passphrase-file" in res.stderr


def test_setting_a_passphrase_without_the_current_one_says_which_and_how(tmp_path):
    # "needs a passphrase: give --passphrase-file FILE" did not say it wanted the
    # current one, nor what to give while none is set
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    res = invoke(["memdev", "set-passphrase", "emu:type3", "--type", "user",
                  "--new-passphrase-file", str(pw), "--yes"])
    assert res.exit_code == 2, both(res)
    assert "needs the current passphrase as well as the new one: give --passphrase-file " \
        "FILE, an empty file (--passphrase-file /dev/null) while none is set" in res.stderr


def test_passphrases_from_files_set_and_then_disable(shared, tmp_path):
    shared(build("type3"))
    pw = tmp_path / "pw"
    pw.write_text("correct horse\n")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    res = invoke(["memdev", "set-passphrase", "emu:type3", "--type", "user",
                  "--passphrase-file", str(empty), "--new-passphrase-file", str(pw), "--yes"])
    assert res.exit_code == 0, both(res)
    state = jdoc(invoke(["memdev", "get-security-state", "emu:type3", "--json"]))["result"]
    assert "user-passphrase-set" in state["security_state_decoded"]
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    res = invoke(["memdev", "disable-passphrase", "emu:type3", "--type", "user",
                  "--passphrase-file", str(wrong), "--yes"])
    assert res.exit_code == 1 and "PASSPHRASE" in res.stderr
    res = invoke(["memdev", "disable-passphrase", "emu:type3", "--type", "user",
                  "--passphrase-file", str(pw), "--yes"])
    assert res.exit_code == 0, both(res)
    state = jdoc(invoke(["memdev", "get-security-state", "emu:type3", "--json"]))["result"]
    assert "user-passphrase-set" not in state["security_state_decoded"]


def test_passphrases_given_in_input_json_are_used_and_none_is_asked_for(shared):
    shared(build("type3"))
    res = invoke(["memdev", "set-passphrase", "emu:type3", "--input", "-", "--yes"],
                 input=json.dumps({"passphrase_type": "user", "current_passphrase": "",
                                   "new_passphrase": b"correct horse".hex()}))
    assert res.exit_code == 0, both(res)
    state = jdoc(invoke(["memdev", "get-security-state", "emu:type3", "--json"]))["result"]
    assert "user-passphrase-set" in state["security_state_decoded"]


def test_passphrases_are_prompted_for_without_echo_on_a_tty(shared, monkeypatch):
    shared(build("type3"))
    monkeypatch.setattr(cli_options, "_stdin_is_tty", lambda: True)
    res = invoke(["memdev", "set-passphrase", "emu:type3", "--type", "user", "--yes"],
                 input="\nsesame\nsesame\n")
    assert res.exit_code == 0, both(res)
    assert "sesame" not in both(res)
    state = jdoc(invoke(["memdev", "get-security-state", "emu:type3", "--json"]))["result"]
    assert "user-passphrase-set" in state["security_state_decoded"]


def test_a_passphrase_file_of_32_bytes_and_a_crlf_is_the_32_bytes(shared, tmp_path):
    shared(build("type3"))
    pw = tmp_path / "pw"
    pw.write_bytes(b"x" * 32 + b"\r\n")
    res = invoke(["memdev", "set-passphrase", "emu:type3", "--type", "user",
                  "--passphrase-file", os.devnull, "--new-passphrase-file", str(pw), "--yes"])
    assert res.exit_code == 0, both(res)
    pw.write_bytes(b"x" * 32)
    res = invoke(["memdev", "disable-passphrase", "emu:type3", "--type", "user",
                  "--passphrase-file", str(pw), "--yes"])
    assert res.exit_code == 0, both(res)


def test_a_passphrase_file_longer_than_32_bytes_is_refused(tmp_path):
    pw = tmp_path / "pw"
    pw.write_bytes(b"x" * 40)
    res = invoke(["memdev", "unlock", "emu:type3", "--passphrase-file", str(pw), "--yes"])
    assert res.exit_code == 2, both(res)
    assert "--passphrase-file: the file has 40 bytes; a passphrase holds at most 32" \
        in res.stderr


def test_a_typed_passphrase_longer_than_32_bytes_is_refused_naming_no_file(monkeypatch):
    monkeypatch.setattr(cli_options, "_stdin_is_tty", lambda: True)
    res = invoke(["memdev", "unlock", "emu:type3", "--yes"], input="x" * 33 + "\n")
    assert res.exit_code == 2, both(res)
    assert "the passphrase typed has 33 bytes; a passphrase holds at most 32 (nothing was " \
        "sent)" in res.stderr
    assert "file" not in res.stderr


# ------------------------------------------------------------------------ vendor

def echo_device():
    from cxlmi_bindings.emulator.type3 import Type3

    class Echo(Type3):
        def vendor_command(self, opcode, payload):
            if opcode == 0xC001:
                return bytes(reversed(payload))
            return super().vendor_command(opcode, payload)
    return Echo()


def test_vendor_raw_sends_the_payload_and_shows_the_reply(shared, tmp_path):
    shared(echo_device())
    res = invoke(["vendor", "raw", "emu:type3", "--opcode", "0xC001", "--payload-hex",
                  "010203", "-o", "raw"])
    assert res.exit_code == 0, both(res)
    assert res.stdout_bytes == b"\x03\x02\x01"
    f = tmp_path / "payload"
    f.write_bytes(b"abc")
    doc = jdoc(invoke(["vendor", "raw", "emu:type3", "--opcode", "0xC001", "--payload", str(f),
                       "--json"]))
    assert doc["result"] == {"opcode": 0xC001, "opcode_decoded": "vendor_c001", "length": 3,
                             "data": "636261", "background": False}
    table = invoke(["vendor", "raw", "emu:type3", "--opcode", "0xC001", "--payload-hex", "41"])
    assert "00000000  41" in table.stdout
    same = invoke(["vendor", "vendor-specific", "emu:type3", "--opcode", "0xC001",
                   "--payload-hex", "0102", "-o", "raw"])
    assert same.stdout_bytes == b"\x02\x01"


def test_vendor_raw_checks_its_options(shared):
    shared(echo_device())
    res = invoke(["vendor", "raw", "emu:type3", "--opcode", "0xC001", "--payload-hex", "0102",
                  "--rsp-size", "1"])
    assert res.exit_code == 3 and "--rsp-size 1" in res.stderr
    res = invoke(["vendor", "raw", "emu:type3", "--opcode", "0xC001", "--payload-hex", "01",
                  "--payload", "-"], input="x")
    assert res.exit_code == 2
    res = invoke(["vendor", "raw", "emu:type3", "--opcode", "0x10000"])
    assert res.exit_code == 2
    res = invoke(["vendor", "raw", "emu:type3", "--opcode", "0xC002"])
    assert res.exit_code == 1 and RC_NAMED.search(res.stderr)


def test_vendor_raw_of_a_destructive_opcode_needs_yes(served):
    target, server, _ = served
    sent = server.stats["messages"]
    res = invoke(["vendor", "raw", target, "--opcode", "0x4400"])
    assert res.exit_code == 2 and "memdev_sanitize" in res.stderr
    assert server.stats["messages"] == sent


def test_vendor_raw_of_an_opcode_that_goes_to_the_background_says_it_started(served):
    target, _, device = served
    res = invoke(["vendor", "raw", target, "--opcode", "0x4400", "--yes"])   # sanitize
    assert res.exit_code == 0, both(res)
    assert "opcode 4400h: started in the background on %s; follow it with `cxl-mi generic " \
        "bg-op-status %s`" % (target, target) in " ".join(res.stdout.split())
    assert device.bg is not None
    device.bg = None                      # the next one may start
    doc = jdoc(invoke(["vendor", "raw", target, "--opcode", "0x4400", "--yes", "--json"]))
    assert doc["result"]["background"] is True and doc["result"]["length"] == 0
    quick = jdoc(invoke(["vendor", "raw", target, "--opcode", "0x0001", "--json"]))
    assert quick["result"]["background"] is False         # identify: answered at once


@click.group("acme")
def acme_plugin():
    """ACME devices: extra commands."""


@acme_plugin.command("echo")
@click.option("--text", default="hello")
@device_command()
def acme_echo(inv, text):
    """Echo TEXT through the ACME vendor command C001h."""
    data = inv.endpoint().vendor_specific(0xC001, text.encode(), inv.tunnel)
    inv.emit_data({"echo": data.decode()}, raw=data, table=[("echo", data.decode())])


class FakeEntryPoint:
    def __init__(self, name, obj, group="cxl_mi.plugins"):
        self.name, self.obj, self.group = name, obj, group
        self.value = "tests:%s" % name

    def load(self):
        if isinstance(self.obj, Exception):
            raise self.obj
        return self.obj


class FakeEntryPoints(list):
    def select(self, group):
        return [e for e in self if e.group == group]


@pytest.fixture
def plugins(monkeypatch):
    import importlib.metadata

    def install(*eps):
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda: FakeEntryPoints(eps))
        cli_commands.reset()
    return install


def test_vendor_plugins_come_from_the_cxl_mi_plugins_entry_points(plugins, shared):
    plugins(FakeEntryPoint("acme", acme_plugin))
    shared(echo_device())
    res = invoke(["vendor", "--help"])
    assert res.exit_code == 0 and "acme" in both(res) and "[plugin]" in both(res)
    res = invoke(["vendor", "acme", "echo", "emu:type3", "--text", "abc", "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)
    assert doc["result"] == {"echo": "cba"} and doc["target"] == "emu:type3"
    res = invoke(["vendor", "acme", "echo", "--ld", "1", "--mhd"])
    assert res.exit_code == 2


def test_a_broken_plugin_warns_and_everything_else_works(plugins):
    plugins(FakeEntryPoint("broken", ImportError("no module named acme_tools")),
            FakeEntryPoint("acme", acme_plugin))
    res = invoke(["vendor", "--help"])
    assert res.exit_code == 0 and "acme" in both(res)
    assert "broken" in res.stderr and "did not load" in res.stderr
    assert invoke(["identify", "emu:type3"]).exit_code == 0


def test_a_plugin_that_names_no_click_command_warns_and_is_left_out(plugins):
    plugins(FakeEntryPoint("junk", "not a command"), FakeEntryPoint("acme", acme_plugin))
    res = invoke(["vendor", "--help"])
    assert res.exit_code == 0 and "acme" in res.stdout
    assert "vendor plugin 'junk' (tests:junk) did not load: 'not a command' is not a click " \
        "command or group" in res.stderr
    res = invoke(["vendor", "junk"])
    assert res.exit_code == 2 and "No such command 'junk'" in res.stderr


def test_plugins_that_cannot_be_listed_warn_and_the_vendor_commands_still_work(
        monkeypatch, shared):
    import importlib.metadata

    def broken():
        raise RuntimeError("bad entry_points.txt")
    monkeypatch.setattr(importlib.metadata, "entry_points", broken)
    cli_commands.reset()
    res = invoke(["vendor", "--help"])
    assert res.exit_code == 0 and "raw" in res.stdout
    assert "cannot list vendor plugins: bad entry_points.txt" in res.stderr
    shared(echo_device())
    res = invoke(["vendor", "raw", "emu:type3", "--opcode", "0xC001", "--payload-hex", "0102",
                  "-o", "raw"])
    assert res.exit_code == 0 and res.stdout_bytes == b"\x02\x01", both(res)


def test_vendor_raw_takes_a_reply_of_exactly_rsp_size_bytes(shared):
    shared(echo_device())
    res = invoke(["vendor", "raw", "emu:type3", "--opcode", "0xC001", "--payload-hex", "0102",
                  "--rsp-size", "2", "-o", "raw"])
    assert res.exit_code == 0, both(res)
    assert res.stdout_bytes == b"\x02\x01"


# ------------------------------------------------------------------------ hooks

def test_a_workflows_module_failing_to_load_warns_and_generated_commands_still_work(
        monkeypatch):
    import importlib
    real = importlib.import_module

    def import_module(name, *args, **kwargs):
        if name == "cxlmi_cli.commands.workflows":
            raise RuntimeError("half-installed")
        return real(name, *args, **kwargs)
    monkeypatch.setattr(importlib, "import_module", import_module)
    cli_commands.reset()
    res = invoke(["generic", "get-timestamp", "emu:type3", "--json"])
    assert res.exit_code == 0, both(res)
    assert "workflows did not load: half-installed" in res.stderr
    assert "timestamp" in jdoc(res)["result"]


def test_workflow_hooks_can_replace_and_add_commands(monkeypatch):
    import types as pytypes
    from cxlmi_cli.build import make_command

    def timestamp_hook(entry, command):
        def body(inv, entry, request, shout):
            result = inv.call(entry, request)
            click.echo("HOOKED %s %s" % (result.timestamp, "!" if shout else ""))
        return make_command(entry, callback=body,
                            extra_params=[click.Option(["--shout"], is_flag=True)])

    extra = click.Command("hello", callback=lambda: click.echo("extra command"))
    fake = pytypes.SimpleNamespace(HOOKS={"get_timestamp": timestamp_hook},
                                   EXTRA={"generic": {"hello": lambda: extra}})
    monkeypatch.setattr(cli_commands, "_WORKFLOWS", [fake])
    res = invoke(["generic", "get-timestamp", "emu:type3", "--shout"])
    assert res.exit_code == 0 and both(res).startswith("HOOKED 0 !")
    res = invoke(["generic", "hello"])
    assert both(res) == "extra command\n"
    assert "hello" in both(invoke(["generic", "--help"]))


# ------------------------------------------------------------------------ list

def test_list_shows_profiles_and_turns_failed_discovery_into_notes(monkeypatch):
    from cxlmi_bindings import discovery

    def no_devices(**kw):
        raise TransportError("cannot read /dev/cxl")

    def no_mctp(**kw):
        raise NotSupported("no D-Bus here", hint="install jeepney")
    monkeypatch.setattr(discovery, "scan_devices", no_devices)
    monkeypatch.setattr(discovery, "scan_mctp", no_mctp)
    res = invoke(["list", "--json"])
    assert res.exit_code == 0, both(res)
    doc = jdoc(res)
    assert doc["schema_version"] == 1 and doc["devices"] == [] and doc["mctp"] == []
    assert {"emu:type3", "emu:switch"} <= {e["target"] for e in doc["emulated"]}
    assert any("cannot read /dev/cxl" in n for n in doc["notes"])
    assert any("install jeepney" in n for n in doc["notes"])
    table = invoke(["list"])
    assert table.exit_code == 0 and "emu:switch" in table.stdout and "note:" in table.stdout


def test_emulate_refuses_the_global_dry_run_before_serving(monkeypatch):
    from cxlmi_cli.commands import emulate
    served = []
    monkeypatch.setattr(emulate, "_serve", lambda *a: served.append(a))
    res = invoke(["--dry-run", "emulate", "--profile", "type3", "--listen", "127.0.0.1:0"])
    assert res.exit_code == 2 and served == [], both(res)
    assert "emulate has no dry run" in res.stderr


def test_list_refuses_the_global_dry_run(monkeypatch):
    from cxlmi_bindings import discovery

    def scanned(**kw):
        raise AssertionError("list --dry-run looked for targets")
    monkeypatch.setattr(discovery, "scan_devices", scanned)
    monkeypatch.setattr(discovery, "scan_mctp", scanned)
    res = invoke(["--dry-run", "list", "--json"])
    assert res.exit_code == 2, both(res)
    assert res.stderr.startswith("cxl-mi: error: list has no dry run") and res.stdout == ""


def test_list_reports_what_discovery_finds(monkeypatch):
    from cxlmi_bindings import discovery
    monkeypatch.setattr(discovery, "scan_devices", lambda **kw: [
        {"devname": "mem0", "target": "mem0", "kind": "memdev", "serial": 0x42}])
    monkeypatch.setattr(discovery, "scan_mctp", lambda **kw: [
        {"net": 1, "eid": 8, "target": "mctp:1,8", "fmapi": True, "cci": True, "uuid": None}])
    doc = jdoc(invoke(["list", "--json"]))
    assert doc["devices"][0]["target"] == "mem0" and doc["mctp"][0]["target"] == "mctp:1,8"


def test_list_shows_serials_in_hex_and_any_bytes_as_hex_in_json(monkeypatch):
    from cxlmi_bindings import discovery
    monkeypatch.setattr(discovery, "scan_devices", lambda **kw: [
        {"devname": "mem0", "target": "mem0", "kind": "memdev", "serial": 0x42}])
    monkeypatch.setattr(discovery, "scan_mctp", lambda **kw: [
        {"net": 1, "eid": 8, "target": "mctp:1,8", "fmapi": True, "cci": True,
         "uuid": b"\x12\x34"}])
    doc = jdoc(invoke(["list", "--json"]))
    assert doc["mctp"][0]["uuid"] == "1234"
    table = invoke(["list"], terminal_width=200)
    assert table.exit_code == 0, both(table)
    row = [ln for ln in table.stdout.splitlines() if "mem0" in ln]
    assert len(row) == 1 and "0x42" in row[0].split()


def test_list_without_mctpd_shows_the_kernels_mctp_routes_and_says_so(monkeypatch):
    from cxlmi_bindings import discovery

    def no_mctpd(**kw):
        raise NotSupported("mctpd is not running")
    monkeypatch.setattr(discovery, "scan_mctp", no_mctpd)
    monkeypatch.setattr(discovery, "scan_mctp_kernel", lambda **kw: [
        {"net": 1, "eid": 9, "target": "mctp:1,9", "fmapi": False, "cci": True, "uuid": None}])
    doc = jdoc(invoke(["list", "--json", "--no-devices"]))
    assert [m["target"] for m in doc["mctp"]] == ["mctp:1,9"]
    assert doc["notes"] == ["MCTP: mctpd is not running; the MCTP endpoints listed are the "
                            "kernel's routes that answered"]


def test_list_no_devices_and_no_mctp_look_for_none_of_them(monkeypatch):
    from cxlmi_bindings import discovery
    looked = []
    for name in ("scan_devices", "scan_fwctl", "scan_mctp", "scan_mctp_kernel"):
        monkeypatch.setattr(discovery, name, lambda _name=name, **kw: looked.append(_name) or [])
    doc = jdoc(invoke(["list", "--json", "--no-devices", "--no-mctp"]))
    assert looked == [] and doc["devices"] == doc["fwctl"] == doc["mctp"] == []
    assert "emu:type3" in [e["target"] for e in doc["emulated"]]
    # and the table does not say "none" of what it never looked for
    table = invoke(["list", "--no-mctp"], terminal_width=200).stdout
    assert "MCTP endpoints" not in table and "kernel devices (/dev/cxl)" in table
    table = invoke(["list", "--no-devices"], terminal_width=200).stdout
    assert "kernel devices" not in table and "fwctl" not in table


def test_list_marks_an_emulated_profile_this_build_lacks(monkeypatch):
    from cxlmi_bindings.emulator import profiles
    monkeypatch.setitem(profiles.PROFILES, "ghost", ("cxlmi_bindings.emulator.ghost:Ghost",
                                                     "a model left out"))
    doc = jdoc(invoke(["list", "--json", "--no-devices", "--no-mctp"]))
    available = {e["target"]: e["available"] for e in doc["emulated"]}
    assert available["emu:ghost"] is False and available["emu:type3"] is True
    table = invoke(["list", "--no-devices", "--no-mctp"], terminal_width=200).stdout
    assert "a model left out (not in this build)" in table
    assert table.count("(not in this build)") == 1


def test_list_without_a_discovery_module_is_a_note(monkeypatch):
    monkeypatch.setitem(sys.modules, "cxlmi_bindings.discovery", None)
    import cxlmi_bindings
    monkeypatch.delattr(cxlmi_bindings, "discovery", raising=False)
    res = invoke(["list", "--json"])
    assert res.exit_code == 0
    assert any("not available" in n for n in jdoc(res)["notes"])


# ------------------------------------------------------------------------ emulate

def _start_emulator(*args):
    proc = subprocess.Popen([sys.executable, "-m", "cxlmi_cli", "emulate",
                             "--listen", "127.0.0.1:0"] + list(args), cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"tcp:127\.0\.0\.1:(\d+)", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, "tcp:127.0.0.1:%s" % m.group(1)


def _stop(proc):
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_emulate_serves_a_profile_until_ctrl_c_and_exits_0():
    proc, target = _start_emulator("--profile", "switch")
    try:
        res = invoke(["fmapi", "get-ld-info", target, "--port", "2", "--json"])
        assert res.exit_code == 0, both(res)
        assert jdoc(res)["result"]["ld_count"] == 4
    finally:
        code = _stop(proc)
    assert code == 0
    assert "Traceback" not in proc.stderr.read()


def test_emulate_state_file_survives_a_restart(tmp_path):
    state = str(tmp_path / "fabric.state")
    proc, target = _start_emulator("--profile", "type3", "--state", state)
    try:
        res = invoke(["memdev", "set-lsa", target, "--data-hex", "5a5a", "--yes"])
        assert res.exit_code == 0, both(res)
    finally:
        assert _stop(proc) == 0
    proc, target = _start_emulator("--profile", "type3", "--state", state)
    try:
        res = invoke(["memdev", "get-lsa", target, "--length", "2", "-o", "raw"])
        assert res.stdout_bytes == b"\x5a\x5a"
    finally:
        assert _stop(proc) == 0


def test_emulate_listens_on_the_tcp_form_it_prints_and_its_errors_suggest(monkeypatch):
    # "listening on tcp:HOST:PORT", and a bad --listen's "(e.g. tcp:127.0.0.1:2508)": the
    # address written as a target is taken back as one
    from cxlmi_cli.commands import emulate
    served = []
    monkeypatch.setattr(emulate, "_serve", lambda server, *a: served.append(
        (server.host, server.port)))
    res = invoke(["emulate", "--listen", "a:b:c"])
    assert res.exit_code == 2
    assert "Invalid value for --listen: expected HOST[:PORT] (e.g. 127.0.0.1:2508, " \
        "[::1]:2508, tcp:127.0.0.1:2508; port 0 picks a free one), not 'a:b:c'" in res.stderr
    assert "target" not in res.stderr                # an option's value, not a target
    res = invoke(["emulate", "--listen", "127.0.0.1:70000"])
    assert res.exit_code == 2 and "--listen: port 70000 is out of range (0..65535)" in res.stderr
    for listen, address in (("tcp:127.0.0.1:2508", ("127.0.0.1", 2508)),
                            (" tcp:[::1]:0", ("::1", 0))):
        res = invoke(["emulate", "--listen", listen])
        assert res.exit_code == 0, both(res)
        assert served.pop() == address


def test_emulate_refuses_a_bad_listen_address():
    res = invoke(["emulate", "--listen", "127.0.0.1:99999"])
    assert res.exit_code == 2


@pytest.mark.parametrize("eid", ["0", "255"])
def test_emulate_refuses_an_eid_outside_1_to_254(monkeypatch, eid):
    # 0 is the null EID and 255 the broadcast one: neither can be an endpoint's own
    from cxlmi_cli.commands import emulate
    monkeypatch.setattr(emulate, "_serve", lambda *a: None)      # never serve
    res = invoke(["emulate", "--listen", "127.0.0.1:0", "--eid", eid])
    assert res.exit_code == 2 and "--eid" in res.stderr


# ------------------------------------------------------------------------ docs

def test_the_json_schema_doc_lists_every_decoded_field():
    from cxlmi_bindings import types
    text = open(os.path.join(ROOT, "docs", "json-schema.md")).read()
    missing = []
    for name, cls in types.structs().items():
        short = name[len("struct_cxlmi_"):]
        for field, meaning in getattr(cls, "_meanings_", {}).items():
            if short.endswith("_req") or meaning.suffix is None:
                continue                    # requests are not output; no key added
            if "`%s.%s`" % (short, field) not in text and "`*.%s`" % field not in text:
                missing.append("%s.%s" % (short, field))
    assert missing == []


def test_the_cli_doc_names_the_plugin_entry_point_group():
    from cxlmi_cli.commands.vendor import PLUGIN_GROUP
    text = open(os.path.join(ROOT, "docs", "cli.md")).read()
    assert PLUGIN_GROUP in text


def test_get_head_info_decodes_the_link_fields_libcxlmi_calls_field_1_to_5():
    # they were shown as "field 1: 16" ... "field 5: 5"; the names stay (libcxlmi's)
    args = ["fmapi", "get-head-info", "emu:mhd", "--mhd", "--num-heads", "1"]
    head = jdoc(invoke(args + ["--json"]))["result"]["head_info_list"][0]
    assert head["field_1_decoded"] == {"max_link_width": head["field_1"]}
    assert head["field_2_decoded"] == {"negotiated_link_width": head["field_2"]}
    assert head["field_4_decoded"] == {"max_link_speed": "64GT/s"} and head["field_4"] == 6
    assert head["field_5_decoded"] == {"current_link_speed": "32GT/s"} and head["field_5"] == 5
    assert "64GT/s" in head["field_3_decoded"]["supported_link_speeds_vector"]
    table = invoke(args).stdout
    assert "max link speed 64GT/s" in table and "current link speed 32GT/s" in table


def _cli_vv(*args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("CXLMI_TARGET", None)
    return subprocess.run([sys.executable, "-m", "cxlmi_cli", "-vv"] + list(args),
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)


def test_vv_logs_every_message_sent_and_received_in_hex():
    # "-vv: also every message" logged only the command name and the reply's size
    res = _cli_vv("memdev", "set-lsa", "emu:type3", "--offset", "0", "--data-hex",
                  "c0ffee", "--yes")
    assert res.returncode == 0, res.stderr
    assert "request: offset=0, data=c0ffee" in res.stderr          # not b'\xc0\xff\xee'
    assert re.search(r"memdev_set_lsa \(4103h\): sent 00 01 00 03 41 0b 00 00 00 00 00 00 "
                     r"00 00 00 00 00 00 00 00 c0 ff ee", res.stderr), res.stderr
    assert re.search(r"memdev_set_lsa \(4103h\): received 01 01 00 03 41 00", res.stderr)
    # through a tunnel: the wrapped messages, as they crossed the transport
    res = _cli_vv("memdev", "get-health-info", "emu:switch", "--port", "2", "--ld", "0")
    assert res.returncode == 0, res.stderr
    assert "memdev_get_health_info (4200h): sent 00 03 00 00 53" in res.stderr


def test_vv_never_logs_a_passphrase(tmp_path):
    pw = tmp_path / "pw"
    pw.write_bytes(b"hunter2-hunter2")
    res = _cli_vv("memdev", "set-passphrase", "emu:type3", "--type", "user",
                  "--passphrase-file", os.devnull, "--new-passphrase-file", str(pw), "--yes")
    assert res.returncode == 0, res.stderr
    assert "(payload not shown: a passphrase)" in res.stderr
    assert b"hunter2".hex() not in res.stderr.replace(" ", "") and "hunter2" not in res.stderr


def test_the_scan_media_estimate_is_shown_with_its_unit():
    # "estimated scan media time 8388": milliseconds, but the table did not say so
    res = invoke(["memdev", "get-scan-media-capabilities", "emu:type3", "--length", "1G"])
    assert res.exit_code == 0, both(res)
    ms = jdoc(invoke(["memdev", "get-scan-media-capabilities", "emu:type3", "--length", "1G",
                      "--json"]))["result"]["estimated_scan_media_time"]
    assert ms >= 1000 and "%d ms (%.1f s)" % (ms, ms / 1000.0) in res.stdout


def test_a_port_whose_link_is_down_shows_no_current_speed():
    # "0x0 (unknown)/32GT/s" for an empty downstream port
    res = invoke(["fmapi", "get-phys-port-state", "emu:switch", "--ports", "3-4"])
    assert res.exit_code == 0, both(res)
    rows = {line.split()[0]: line.split() for line in res.stdout.splitlines()
            if line.strip()[:1] in "34" and len(line.split()) > 5}
    assert "32GT/s/32GT/s" in rows["3"] and "down/32GT/s" in rows["4"]
    assert "unknown" not in res.stdout

def _refused_before_sending(dev, args, words):
    """``args`` is a usage error of one line naming ``words``, and nothing reached ``dev``."""
    sent = record_opcodes(dev)
    res = invoke(args)
    assert res.exit_code == 2, both(res)
    (line,) = res.stderr.splitlines()
    assert line.startswith("cxl-mi: error: ") and words in line
    assert sent == []

@pytest.mark.parametrize("args, words", [
    (["generic", "clear-event-records", "emu:type3", "--event-log", "info"],
     "needs one of --all, --handles"),
    (["generic", "set-event-interrupt-policy", "emu:type3"],
     "needs one of --informational, --warning, --failure, --fatal, --dcd"),
    (["generic", "set-mctp-event-interrupt-policy", "emu:type3"], "needs --logs"),
    (["memdev", "set-alert-config", "emu:type3"], "needs --valid"),
    (["memdev", "set-sld-qos-control", "emu:type3"],
     "needs one of --qos-telemetry-control, --egress-moderate-percentage"),
])
def test_a_set_command_given_nothing_to_set_is_refused_and_changes_nothing(shared, args,
                                                                           words):
    """With no setting option these sent a request of zeros: clear-event-records cleared
    nothing yet said done, set-event-interrupt-policy turned every log's interrupts off."""
    dev = shared(build("type3"))
    dev.event_logs[0].records.append((1, bytes(128)))
    for log in dev.event_logs:
        log.interrupt = 0x01                        # MSI
    dev.mctp_event_interrupts, dev.qos_control = 0x1F, 0x01
    _refused_before_sending(dev, args, words)
    assert len(dev.event_logs[0].records) == 1
    assert [log.interrupt for log in dev.event_logs] == [0x01] * len(dev.event_logs)
    assert (dev.mctp_event_interrupts, dev.qos_control) == (0x1F, 0x01)


@pytest.mark.parametrize("args, words", [
    (["fmapi", "initiate-dc-release", "emu:dcd", "--length", "64M", "--yes"],
     "needs --tag (for --policy tag-based)"),                   # tag-based: the default
    (["fmapi", "initiate-dc-release", "emu:dcd", "--length", "64M", "--policy",
      "prescriptive", "--yes"], "needs --extent (for --policy prescriptive)"),
    (["fmapi", "initiate-dc-add", "emu:dcd", "--length", "64M", "--policy", "prescriptive"],
     "needs --extent (for --policy prescriptive)"),
    (["fmapi", "initiate-dc-add", "emu:dcd", "--length", "64M", "--policy",
      "enable-shared-access"], "needs --tag (for --policy enable-shared-access)"),
])
def test_a_dc_policy_without_what_it_acts_on_is_refused_before_sending(shared, args, words):
    """A tag-based release names no capacity without --tag (the device could only say
    INPUT); a prescriptive one, or add, none without --extent."""
    dev = shared(build("dcd"))
    _refused_before_sending(dev, args, words)


def test_the_release_policy_shows_its_default():
    res = invoke(["fmapi", "initiate-dc-release", "--help"])
    text = " ".join(res.stdout.split())
    policy = text[text.index("--policy [tag-based|prescriptive]"):text.index("--forced")]
    assert "[default: tag-based]" in policy, policy


def test_the_safety_list_of_destructive_commands_is_the_registrys():
    """docs/cli.md's Safety list names every command the registry marks destructive,
    and no other: it is what a user checks before running one without --yes."""
    from cxlmi_bindings import registry
    text = open(os.path.join(ROOT, "docs", "cli.md")).read()
    listed = text.split("<!-- destructive commands: begin -->")[1].split(
        "<!-- destructive commands: end -->")[0]
    documented = set()
    for item in listed.split("\n* ")[1:] if listed.startswith("\n* ") else []:
        group, names = item.split(":", 1)
        documented |= {(group.strip("`* \n"), n) for n in re.findall(r"`([a-z0-9-]+)`", names)}
    declared = {(e.group, e.cli_name) for e in registry.COMMANDS if e.destructive}
    assert documented == declared


def test_a_dynamic_capacity_length_is_confirmed_as_a_size():
    # "length=67108864" where every other confirmation shows sizes in units
    res = invoke(["fmapi", "initiate-dc-release", "emu:dcd", "--length", "64M", "--tag",
                  "0da9c0b5-bf41-4b78-8f79-96b1623b3f17", "--yes"])
    assert "length=64 MiB" in res.stderr, both(res)


@pytest.mark.parametrize("command", ["bind-vppb", "unbind-vppb"])
def test_which_vppb_a_bind_or_unbind_acts_on_is_never_a_default(command):
    # both went to VCS 0, vPPB 0 when not told: a destructive command on a guess
    extra = ["--port-id", "1"] if command == "bind-vppb" else []
    res = invoke(["fmapi", command, "emu:switch", "--yes"] + extra)
    assert res.exit_code == 2, both(res)
    assert "needs --vcs-id, --vppb-id" in res.stderr
