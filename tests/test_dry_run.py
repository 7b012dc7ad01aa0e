# SPDX-License-Identifier: LGPL-2.1-or-later
"""``--dry-run``: the request a command would send, built the real way, and nothing sent.

Proved here: a dry run of a destructive command leaves the device as it was
(read back, in process and across `cxl-mi emulate` processes); it needs no
target that answers (a closed TCP port) and opens none; the bytes it shows are
the bytes a real run hands its transport (captured at the transport's
``send``, the documented seam), tunnel levels included; bad input still
exits 2; passphrases are never read.
"""

import json
import socket
import struct

import pytest

from cli_helpers import clean_cli, invoke, jdoc  # noqa: F401  (fixture)
from test_emulate_processes import cxl_mi, servers, stop  # noqa: F401  (fixture)

from cxlmi_bindings import Context


def _dry(args):
    res = invoke(args + ["--dry-run", "--json"])
    assert res.exit_code == 0, res.stdout + res.stderr
    doc = jdoc(res)
    assert doc["dry_run"] is True
    return doc["request"]


@pytest.fixture
def no_open(monkeypatch):
    """Opening a target fails the test: a dry run must not open (or probe) one."""
    import cxlmi_cli.target as target

    def refuse(*a, **k):
        raise AssertionError("a dry run opened the target")
    monkeypatch.setattr(target, "open_endpoint", refuse)


@pytest.fixture
def capture(monkeypatch):
    """What real runs hand a transport class's ``send``: [(message, msg_type)]."""
    seen = []

    def install(cls):
        real = cls.send

        def send(self, message, msg_type=8, timeout=None):
            seen.append((bytes(message), msg_type))
            return real(self, message, msg_type, timeout)
        monkeypatch.setattr(cls, "send", send)
        return seen
    return install


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ----------------------------------------------------- nothing is sent or opened

def test_a_destructive_dry_run_leaves_the_device_unchanged(clean_cli, monkeypatch):
    """In process: the target the CLI would open is one shared emulated device."""
    import cxlmi_cli.target as target
    ctx = Context()
    ep = ctx.open("emu:type3")
    ep.memdev_set_lsa(offset=0x40, data=b"KEEP")
    opened = []

    def shared(*a, **k):
        opened.append(a)
        return ep
    monkeypatch.setattr(target, "open_endpoint", shared)
    monkeypatch.setattr(type(ep), "close", lambda self: None)     # the CLI closes its endpoint
    res = invoke(["memdev", "set-lsa", "emu:type3", "--offset", "0x40", "--data-hex",
                  "deadbeef", "--dry-run"])                      # no --yes: nothing to confirm
    assert res.exit_code == 0, res.stderr
    assert "memdev_set_lsa" in res.stdout and "Nothing was sent." in res.stdout
    assert opened == []
    assert bytes(ep.memdev_get_lsa(offset=0x40, length=4)) == b"KEEP"
    # the same command for real does change it (so the read-back above can see a change)
    res = invoke(["memdev", "set-lsa", "emu:type3", "--offset", "0x40", "--data-hex",
                  "deadbeef", "--yes"])
    assert res.exit_code == 0, res.stderr
    assert bytes(ep.memdev_get_lsa(offset=0x40, length=4)) == b"\xde\xad\xbe\xef"
    ctx.close()


def test_dry_runs_against_a_server_change_nothing(servers):
    proc, target = servers("--profile", "switch")
    out = cxl_mi("memdev", "set-lsa", target, "--port", "1", "--offset", "0x40",
                 "--data-hex", "c0ffee01", "--dry-run")
    assert out.returncode == 0, out.stderr.decode()
    out = cxl_mi("fmapi", "bind-vppb", target, "--vcs-id", "0", "--vppb-id", "4",
                 "--port-id", "2", "--ld-id", "0", "--wait", "--dry-run")
    assert out.returncode == 0, out.stderr.decode()
    assert b"fmapi_bind_vppb" in out.stdout
    lsa = cxl_mi("memdev", "get-lsa", target, "--port", "1", "--offset", "0x40", "--length",
                 "4", "--json")
    assert json.loads(lsa.stdout)["result"]["data"] == "00000000"
    topo = json.loads(cxl_mi("fmapi", "topology", target, "--json").stdout)["result"]
    assert topo["vcss"][0]["vppbs"][4]["binding_status_decoded"] == "unbound"
    assert stop(proc)[0] == 0


def test_a_dry_run_to_a_closed_port_still_shows_the_request(clean_cli):
    target = "tcp:127.0.0.1:%d" % _closed_port()
    res = invoke(["memdev", "get-lsa", target, "--offset", "0x40", "--length", "4"])
    assert res.exit_code == 3                       # nobody listens there
    req = _dry(["memdev", "get-lsa", target, "--offset", "0x40", "--length", "4"])
    assert req["name"] == "memdev_get_lsa" and req["opcode"] == 0x4102
    assert req["fields"] == {"offset": 0x40, "length": 4}
    assert req["mctp_message_type"] == 8
    # the same bytes a real run's second message carries: the Identify probe takes tag 1
    assert req["message"] == "000200024108000000000000" "40000000" "04000000"


def test_no_target_is_opened_for_any_kind_of_command(clean_cli, no_open, tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(b"\x5a" * 300)
    for args in (["generic", "identify", "emu:type3"],
                 ["fmapi", "topology", "emu:switch"],
                 ["generic", "transfer-fw", "emu:type3", str(fw)],
                 ["vendor", "raw", "emu:type3", "--opcode", "0xc001", "--payload-hex", "0102"],
                 ["identify", "mem0"]):
        res = invoke(args + ["--dry-run"])
        assert res.exit_code == 0, (args, res.stdout, res.stderr)
        assert "Nothing was sent." in res.stdout


def test_a_long_lsa_range_is_shown_whole_and_its_plan_goes_in_parts(clean_cli, no_open,
                                                                   tmp_path, monkeypatch):
    data = bytes(range(256)) * 20                                    # 5120 bytes
    blob = tmp_path / "lsa.bin"
    blob.write_bytes(data)
    res = invoke(["memdev", "set-lsa", "emu:type3", "--offset", "0x100", "--data", str(blob),
                  "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = jdoc(res)
    assert doc["request"]["name"] == "memdev_set_lsa"
    assert doc["request"]["fields"] == {"offset": 0x100, "data": data.hex()}
    assert any("several Set LSA requests" in n for n in doc["notes"])
    req = _dry(["memdev", "get-lsa", "emu:type3", "--length", "64K"])
    assert req["fields"] == {"offset": 0, "length": 65536}
    # the plan, taken back with --input, is written in parts
    plan = tmp_path / "plan.json"
    plan.write_text(res.stdout)
    import cxlmi_cli.target as target
    ctx = Context()
    ep = ctx.open("emu:type3")
    monkeypatch.setattr(target, "open_endpoint", lambda *a, **k: ep)
    monkeypatch.setattr(type(ep), "close", lambda self: None)
    res = invoke(["memdev", "set-lsa", "emu:type3", "--input", str(plan), "--yes"])
    assert res.exit_code == 0, res.stderr
    assert "in 3 Set LSA requests" in res.stdout
    assert bytes(ep.memdev_get_lsa(offset=0x100, length=256)) == data[:256]
    ctx.close()


def test_the_root_option_works_like_the_commands_own(clean_cli, no_open):
    res = invoke(["--dry-run", "memdev", "get-lsa", "emu:type3", "--offset", "0", "--length",
                  "8", "--json"])
    assert res.exit_code == 0, res.stderr
    assert jdoc(res)["request"]["fields"] == {"offset": 0, "length": 8}


# ------------------------------------------------ the bytes are the real ones

def test_the_hex_is_what_a_real_run_hands_the_transport(clean_cli, capture):
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    seen = capture(EmulatedTransport)
    args = ["memdev", "set-lsa", "emu:type3", "--offset", "0x80", "--data-hex", "0badf00d"]
    req = _dry(args)
    assert seen == []                               # the dry run sent nothing
    res = invoke(args + ["--yes"])
    assert res.exit_code == 0, res.stderr
    ((message, msg_type),) = seen
    assert req["wire"] == req["message"] == message.hex()
    assert req["mctp_message_type"] == msg_type == 8
    assert req["payload"] == message[12:].hex()
    assert req["fields"] == {"offset": 0x80, "data": "0badf00d"}


def test_tunnelled_levels_are_the_real_wrapping(clean_cli, capture):
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    seen = capture(EmulatedTransport)
    args = ["memdev", "get-lsa", "emu:switch", "--port", "2", "--ld", "1", "--offset", "0x40",
            "--length", "4"]
    req = _dry(args)
    res = invoke(args + ["--json"])
    assert res.exit_code == 0, res.stderr
    ((message, msg_type),) = seen
    assert req["wire"] == message.hex() and msg_type == req["mctp_message_type"] == 7
    outer, middle = req["levels"]
    assert outer["message"] == req["wire"]
    assert (outer["level"], outer["hop"], outer["opcode"]) == (1, "switch port 2", 0x5300)
    assert (middle["level"], middle["hop"], middle["opcode"]) == (2, "LD 1", 0x5300)
    # each level, read by hand: the 5300h payload is port/LD id, target type, size, inner
    for level, inner_hex, ident in ((outer, middle["message"], 2),
                                    (middle, req["message"], 1)):
        m = bytes.fromhex(level["message"])
        assert struct.unpack_from("<H", m, 3)[0] == 0x5300
        pid, ttype, size = struct.unpack_from("<BBH", m, 12)
        assert (pid, ttype) == (ident, 0)
        assert m[16:].hex() == inner_hex and size == len(m) - 16
    inner = bytes.fromhex(req["message"])
    assert struct.unpack_from("<H", inner, 3)[0] == 0x4102
    # tags as the real run gave them: the command's message first, then each wrap
    assert (req["tag"], middle["tag"], outer["tag"]) == (1, 2, 3)


def test_a_peers_type_byte_shows_in_its_level_and_not_in_the_message(clean_cli):
    args = ["memdev", "get-health-info", "tcp:127.0.0.1:%d" % _closed_port(), "--port", "1"]
    spec, jrl = _dry(args), _dry(args + ["--peer", "jrl"])
    assert (jrl["message"], jrl["tag"]) == (spec["message"], spec["tag"])
    (level,) = jrl["levels"]
    assert level["message"].endswith("08" + jrl["message"])     # MCTP type 8, then the CCI


def test_the_mhd_hop_is_the_ld_pool_cci(clean_cli):
    req = _dry(["memdev", "get-lsa", "emu:mhd", "--mhd", "--offset", "0", "--length", "4"])
    (level,) = req["levels"]
    assert level["hop"] == "LD pool CCI"
    m = bytes.fromhex(level["message"])
    assert m[13] == 1                               # target type 1: LD pool CCI
    assert m[16:].hex() == req["message"]


def test_over_tcp_the_dry_run_matches_the_real_message_after_the_probe(servers, capture,
                                                                       clean_cli):
    from cxlmi_bindings.transports.mctp_tcp import MctpTcpTransport
    proc, target = servers("--profile", "switch")
    seen = capture(MctpTcpTransport)
    args = ["fmapi", "get-ld-allocations", target, "--port", "2", "--start-ld-id", "1",
            "--limit", "2"]
    req = _dry(args)
    assert seen == []
    res = invoke(args + ["--json"])
    assert res.exit_code == 0, res.stderr
    (probe, _), (message, msg_type) = seen
    assert struct.unpack_from("<H", probe, 3)[0] == 0x0001          # the Identify probe
    assert req["wire"] == message.hex() and msg_type == 7
    assert req["fields"] == {"start_ld_id": 1, "ld_allocation_list_limit": 2}


@pytest.mark.parametrize("flag,byte,decoded", [
    ("--forced", 0x10, {"policy": "tag-based", "forced": True, "sanitize_on_release": False}),
    ("--sanitize-on-release", 0x20,
     {"policy": "tag-based", "forced": False, "sanitize_on_release": True}),
])
def test_the_release_flags_shown_are_the_bits_sent(clean_cli, no_open, flag, byte, decoded):
    req = _dry(["fmapi", "initiate-dc-release", "emu:dcd", "--length", "256M", flag,
                "--tag", "00112233445566778899aabbccddeeff"])
    assert bytes.fromhex(req["payload"])[2] == byte
    assert req["fields"]["flags_decoded"] == decoded


def test_raw_output_is_the_wire_bytes(clean_cli):
    req = _dry(["fmapi", "get-ld-info", "emu:switch", "--port", "2"])
    res = invoke(["fmapi", "get-ld-info", "emu:switch", "--port", "2", "--dry-run", "-o",
                  "raw"])
    assert res.exit_code == 0
    assert res.stdout_bytes == bytes.fromhex(req["wire"])


# ----------------------------------------------------------- same checks as ever

def test_bad_input_still_exits_2_and_shows_no_request(clean_cli, no_open):
    for args in (["memdev", "get-lsa", "emu:type3", "--offset", "0"],            # no --length
                 ["memdev", "get-lsa", "emu:type3", "--offset", "0x1ffffffff", "--length",
                  "4"],                                                           # 32 bits
                 ["memdev", "get-lsa", "nowhere:1", "--offset", "0", "--length", "4"],
                 ["memdev", "get-lsa", "emu:type3", "--port", "1", "--mhd", "--offset", "0",
                  "--length", "4"]):
        res = invoke(args + ["--dry-run"])
        assert res.exit_code == 2, (args, res.stdout, res.stderr)
        assert "dry run" not in res.stdout and "Traceback" not in res.stderr


def test_a_dry_run_reads_no_passphrase(clean_cli, no_open, tmp_path):
    secret = tmp_path / "pass"
    secret.write_bytes(b"s3cret-phrase\n")
    res = invoke(["memdev", "unlock", "emu:type3", "--passphrase-file", str(secret),
                  "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    assert b"s3cret".hex() not in res.stdout and "s3cret" not in res.stdout
    doc = jdoc(res)
    assert any("reads no passphrase" in n for n in doc["notes"])


def test_a_workflow_says_only_its_first_request_is_shown(clean_cli, no_open, tmp_path):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(b"\x5a" * 300)
    res = invoke(["generic", "transfer-fw", "emu:type3", str(fw), "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    doc = jdoc(res)
    assert doc["request"]["name"] == "get_fw_info"
    assert any("sends this one first" in n for n in doc["notes"])
    # a plain registry command has one request: no such note
    doc = _dry_doc(["memdev", "get-lsa", "emu:type3", "--offset", "0", "--length", "4"])
    assert doc["notes"] == ["Nothing was sent."]


def _dry_doc(args):
    res = invoke(args + ["--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    return jdoc(res)


def test_the_table_names_the_command_and_dumps_each_level(clean_cli):
    res = invoke(["memdev", "get-lsa", "emu:switch", "--port", "2", "--ld", "1", "--offset",
                  "0x40", "--length", "4", "--dry-run"])
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "memdev get-lsa · emu:switch (switch port 2, LD 1) · dry run" in out
    assert "memdev_get_lsa" in out and "4102h" in out and "MCTP message type   7 (FM-API)" \
        in out
    assert "CCI message (20 bytes)" in out
    assert "tunnel level 1 (switch port 2): 5300h, tag 3, 52 bytes" in out
    assert "tunnel level 2 (LD 1): 5300h, tag 2, 36 bytes" in out
    assert "00000000  00 01 00 02 41 08 00 00 00 00 00 00 40 00 00 00" in out


def test_a_dry_runs_json_given_back_as_input_sends_what_it_showed(clean_cli, tmp_path,
                                                                    monkeypatch):
    from cxlmi_cli import target as cli_target
    from cxlmi_bindings.emulator import profiles
    from cxlmi_bindings.transports.emulated import EmulatedTransport
    device = profiles.build("type3")
    monkeypatch.setattr(cli_target, "open_endpoint", lambda target, timeout=None: Context(
        ).open_transport(EmulatedTransport("test", device=device), target))
    preview = tmp_path / "preview.json"
    res = invoke(["memdev", "set-lsa", "emu:type3", "--offset", "0x40", "--data-hex",
                  "c0ffee01", "--dry-run", "--json"])
    assert res.exit_code == 0, res.stderr
    preview.write_text(res.stdout)
    shown = jdoc(res)["request"]
    again = _dry(["memdev", "set-lsa", "emu:type3", "--input", str(preview)])
    assert again["wire"] == shown["wire"]                       # the same request
    res = invoke(["memdev", "set-lsa", "emu:type3", "--input", str(preview), "--yes"])
    assert res.exit_code == 0, res.stderr
    assert bytes(device.lsa[0x40:0x44]) == bytes.fromhex("c0ffee01")
    # lists of structures and decoded companions come back as they went
    alloc = tmp_path / "alloc.json"
    res = invoke(["fmapi", "set-ld-allocations", "emu:mld", "--start-ld-id", "0",
                  "--allocation", "1:0", "--allocation", "2:0", "--dry-run", "--json"])
    alloc.write_text(res.stdout)
    assert _dry(["fmapi", "set-ld-allocations", "emu:mld", "--input", str(alloc)])["wire"] \
        == jdoc(res)["request"]["wire"]


def test_a_dry_run_of_another_command_or_through_a_tunnel_is_refused_as_input(clean_cli,
                                                                              no_open,
                                                                              tmp_path):
    preview = tmp_path / "preview.json"
    preview.write_text(invoke(["memdev", "set-lsa", "emu:type3", "--offset", "0x40",
                               "--data-hex", "c0ffee01", "--dry-run", "--json"]).stdout)
    res = invoke(["memdev", "get-lsa", "emu:type3", "--input", str(preview)])
    assert res.exit_code == 2
    assert "--input holds a dry run of memdev_set_lsa, not of memdev_get_lsa" in res.stderr
    tunnelled = tmp_path / "tunnelled.json"
    tunnelled.write_text(invoke(["memdev", "get-lsa", "emu:switch", "--port", "2", "--ld", "1",
                                 "--offset", "0", "--length", "4", "--dry-run",
                                 "--json"]).stdout)
    res = invoke(["memdev", "get-lsa", "emu:switch", "--input", str(tunnelled)])
    assert res.exit_code == 2 and "a dry run of a tunnelled request" in res.stderr


@pytest.mark.parametrize("args, code, data", [
    (["mctp", "get-eid"], 0x02, ""),
    (["mctp", "get-uuid"], 0x03, ""),
    (["mctp", "get-message-types"], 0x05, ""),
    (["mctp", "get-version", "--type", "7"], 0x04, "07"),
])
def test_an_mctp_control_dry_run_shows_the_control_request(clean_cli, no_open, args, code,
                                                           data):
    """MCTP control commands go around the CCI endpoint: their dry run shows the control
    request (command code, message bytes) and opens nothing -- a closed port will do."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        target = "tcp:127.0.0.1:%d" % s.getsockname()[1]
    req = _dry(args[:2] + [target] + args[2:])
    assert (req["command_code"], req["data"]) == (code, data)
    assert req["message"] == "80%02x%s" % (code, data)      # Rq, instance 0, command, data
    assert req["mctp_message_type"] == 0
    res = invoke(["--dry-run"] + args[:2] + [target] + args[2:])   # the global form, table
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "dry run" in res.stdout and "Nothing was sent." in res.stdout
    assert "Traceback" not in res.stderr
