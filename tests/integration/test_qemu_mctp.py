# SPDX-License-Identifier: LGPL-2.1-or-later
"""`mctp:NET,EID` through a real Linux MCTP stack: AF_MCTP sockets, the kernel's routing,
fragmentation and tag allocation, and its serial binding (DSP0253) -- against the emulator.

One guest for the module (tests/integration/mctp_guest.py): the small kernel of
mctp_kernel.py (built once per machine, then cached), two pci-serial lines to two
`cxl-mi emulate --serial-listen` processes on the host: a switch at EID 8 (with a type 3, an
MLD and a DCD behind it) and a type 3 at EID 10; EID 20 is routed but nobody answers it.
Every answer the guest gets over AF_MCTP is compared with what the same emulator process
answers over MCTP over TCP on the host, or with what the guest wrote through it.

On the first run on a machine the kernel is built (several minutes; said on the terminal);
every later run boots the cached one.  Where it cannot be built (no root to install the
source or the compiler) the tests are skipped, or fail under CI.
"""

import base64
import json
import shlex
import sys
import uuid

import pytest

from cxlmi_bindings.emulator import profiles
from cxlmi_bindings.emulator.mctp_endpoint import endpoint_uuid

from .mctp_guest import LINES, Bench, KernelUnavailable, ensure_mctp_tools

pytestmark = pytest.mark.qemu

SWITCH, TYPE3 = LINES
SILENT_EID = SWITCH.silent_eids[0]
CEL_UUID = uuid.UUID("0da9c0b5-bf41-4b78-8f79-96b1623b3f17")


@pytest.fixture(scope="module")
def bench(pytestconfig):
    import system_packages
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(message):       # the first build takes minutes: say so on the terminal
        with capture.global_and_fixture_disabled():
            sys.stderr.write("\nmctp-kernel: %s\n" % message)
            sys.stderr.flush()

    try:
        tools = ensure_mctp_tools(say=say)
    except (system_packages.Unavailable, KernelUnavailable) as exc:
        if system_packages.ci():
            pytest.fail("CI is set and the AF_MCTP guest cannot run: %s" % exc, pytrace=False)
        pytest.skip("no AF_MCTP guest: %s" % exc)
    bench = Bench(tools).start()
    try:
        yield bench
    finally:
        bench.stop()


def guest_cli(bench, *args, timeout=60):
    """`cxl-mi ARGS` in the guest, from this checkout: (exit code, stdout, stderr)."""
    cmd = "python3 -m cxlmi_cli " + " ".join(shlex.quote(str(a)) for a in args)
    return bench.guest.run(cmd, timeout=timeout)


def guest_json(bench, *args, timeout=60):
    rc, out, err = guest_cli(bench, *args, "--json", timeout=timeout)
    assert rc == 0, "cxl-mi %s in the guest: exit %d\n%s\n%s" % (args, rc, out, err)
    return json.loads(out)


# Many commands in one guest process: an interpreter starting under TCG on a busy machine costs
# seconds, so the tests that compare several answers run the CLI in process (click's runner,
# the same `cli` object `python -m cxlmi_cli` runs; transports and kernel as real as ever).
# Tests where the process itself matters (exit codes, concurrency) start real processes.
CLI_BATCH = """
import json, sys, time
from click.testing import CliRunner
from cxlmi_cli.main import cli
try:
    runner = CliRunner(mix_stderr=False)
except TypeError:
    runner = CliRunner()
out = []
for argv in json.loads(sys.argv[1]):
    started = time.monotonic()
    res = runner.invoke(cli, argv)
    out.append([res.exit_code, res.stdout, res.stderr, time.monotonic() - started])
print(json.dumps(out))
"""


def guest_batch(bench, *commands, timeout=120):
    """Run each command (a list of arguments) through the CLI in one guest process:
    [(exit code, stdout, stderr, seconds)]."""
    script = base64.b64encode(CLI_BATCH.encode()).decode()
    argv = shlex.quote(json.dumps([[str(a) for a in c] for c in commands]))
    out = bench.guest.check("echo %s | base64 -d > /tmp/batch.py && python3 /tmp/batch.py %s"
                            % (script, argv), timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


def batch_json(bench, *commands):
    """The JSON documents of the commands (each given --json), all of which must succeed."""
    docs = []
    for command, (rc, out, err, _) in zip(commands, guest_batch(
            bench, *[list(c) + ["--json"] for c in commands])):
        assert rc == 0, "cxl-mi %s in the guest: exit %d\n%s\n%s" % (command, rc, out, err)
        docs.append(json.loads(out))
    return docs


def host_json(*args):
    """The same command on the host, over MCTP over TCP to the same emulator process (the CLI
    run in this process: the host is not what is under test here, and it is quicker)."""
    from cli_helpers import both, invoke
    res = invoke([str(a) for a in args] + ["--json"])
    assert res.exit_code == 0, both(res)
    return json.loads(res.stdout)


def same_result(guest_doc, host_doc):
    """The result part of two documents, which differ only in their target."""
    assert guest_doc["result"] == host_doc["result"]
    assert guest_doc["target"].startswith("mctp:") and host_doc["target"].startswith("tcp:")


def guest_python(bench, script, timeout=60):
    encoded = base64.b64encode(script.encode()).decode()
    return bench.guest.check("echo %s | base64 -d > /tmp/t.py && python3 /tmp/t.py" % encoded,
                             timeout=timeout)


# --- the kernel side, set up by mctp_guest_setup.py over rtnetlink -------------------------------


def test_serial_lines_became_mctp_links_with_addresses_and_routes(bench):
    state = json.loads(guest_python(bench, """
import json
from cxlmi_bindings import mctp_netlink as nl
with nl.Netlink() as n:
    print(json.dumps({"links": n.links(), "addresses": n.addresses(), "routes": n.routes()}))
"""))
    links = {link["index"]: link for link in state["links"]}
    for line in LINES:
        info = bench.links[line.pci_address]
        link = links[info["index"]]
        assert link["name"].startswith("mctpserial") and link["up"] and link["net"] == 1
        assert info["tty"].startswith("/dev/ttyS")
        assert {"index": info["index"], "eid": line.local_eid} in state["addresses"]
        routed = {r["first"] for r in state["routes"]
                  if r["index"] == info["index"] and r["type"] == "unicast"}
        assert routed == {line.eid, *line.silent_eids}


def test_mctp_control_over_af_mctp_reaches_the_emulator(bench):
    # Get Endpoint ID and Get Message Type Support as MCTP control messages (type 0)
    out = guest_python(bench, """
from cxlmi_bindings.transports import mctp as m
s = m.Syscalls(); fd = s.socket(m.AF_MCTP, m.SOCK_DGRAM, 0)
for eid in (%d, %d):
    for req in (b"\\x80\\x02", b"\\x80\\x05"):
        s.sendto(fd, req, m.pack_sockaddr(1, eid, 0, m.MCTP_TAG_OWNER))
        assert s.poll(fd, 10), "no answer"
        data, addr = s.recvfrom(fd)
        print(eid, data.hex(), m.unpack_sockaddr(addr)[2])
""" % (SWITCH.eid, TYPE3.eid))
    assert out.split("\n")[:4] == [
        "8 000200080000 8", "8 000500020708 8", "10 0002000a0000 10", "10 000500020708 10"]


# --- type 8 (CCI) to a type 3 --------------------------------------------------------------------


def test_identify_over_af_mctp_is_the_emulated_type3(bench):
    same_result(guest_json(bench, "identify", TYPE3.target),
                host_json("identify", TYPE3.tcp_target))


def test_memdev_command_and_a_request_larger_than_a_packet(bench):
    # 200 bytes of label data: a Set LSA request of 12 + 8 + 200 bytes, four packets; read back
    # through the kernel's reassembly (a 200-byte response), and from the host over TCP
    data = bytes((i * 7 + 3) & 0xFF for i in range(200)).hex()
    (wrote, out, err, _), (rc, got, _, _), (rc2, health, _, _) = guest_batch(
        bench,
        ["memdev", "set-lsa", TYPE3.target, "--offset", "256", "--data-hex", data, "--yes"],
        ["memdev", "get-lsa", TYPE3.target, "--offset", "256", "--length", "200", "--json"],
        ["memdev", "get-health-info", TYPE3.target, "--json"])
    assert wrote == 0, out + err
    assert rc == 0 and json.loads(got)["result"]["data"] == data
    host = host_json("memdev", "get-lsa", TYPE3.tcp_target, "--offset", "256", "--length", "200")
    assert host["result"]["data"] == data
    assert rc2 == 0
    same_result(json.loads(health), host_json("memdev", "get-health-info", TYPE3.tcp_target))


def test_logs_larger_than_a_packet_come_back_whole(bench):
    logs, cel = batch_json(bench, ["generic", "get-supported-logs", TYPE3.target],
                           ["generic", "get-log-cel", TYPE3.target])
    same_result(logs, host_json("generic", "get-supported-logs", TYPE3.tcp_target))
    same_result(cel, host_json("generic", "get-log-cel", TYPE3.tcp_target))
    assert len(json.dumps(cel["result"])) > 1000          # many packets' worth


def test_a_firmware_package_in_parts_through_the_kernel(bench):
    package = b"MCTP FW 2.0.0".ljust(16, b"\0") + bytes(range(256)) * 12      # 3 KiB
    encoded = base64.b64encode(package).decode()
    rc, out, err = bench.guest.run(
        "echo %s | base64 -d > /tmp/fw.bin && python3 -m cxlmi_cli generic transfer-fw %s "
        "/tmp/fw.bin --slot 2 --json" % (encoded, TYPE3.target), timeout=120)
    assert rc == 0, out + err
    info = host_json("generic", "get-fw-info", TYPE3.tcp_target)["result"]
    assert info["fw_rev2"] == "MCTP FW 2.0.0"


# --- type 7 (FM-API) to a switch, and tunnels through it -----------------------------------------


def test_fmapi_over_af_mctp_is_the_emulated_switch(bench):
    ident, ports = batch_json(bench, ["fmapi", "identify-sw-device", SWITCH.target],
                              ["fmapi", "get-phys-port-state", SWITCH.target, "--ports", "0-3"])
    same_result(ident, host_json("fmapi", "identify-sw-device", SWITCH.tcp_target))
    same_result(ports, host_json("fmapi", "get-phys-port-state", SWITCH.tcp_target,
                                 "--ports", "0-3"))


def test_tunnels_to_the_mld_behind_the_switch(bench):
    # switch -> MLD (one tunnel level), and switch -> MLD -> LD 1 (two, a type 3 command)
    ld_info, ld_identify = batch_json(
        bench, ["fmapi", "get-ld-info", SWITCH.target, "--port", "2"],
        ["memdev", "identify", SWITCH.target, "--port", "2", "--ld", "1"])
    assert ld_info["result"]["ld_count"] == 4
    same_result(ld_info, host_json("fmapi", "get-ld-info", SWITCH.tcp_target, "--port", "2"))
    same_result(ld_identify, host_json("memdev", "identify", SWITCH.tcp_target, "--port", "2",
                                       "--ld", "1"))


# --- timeouts, concurrency, discovery ------------------------------------------------------------


def test_timeout_against_an_eid_that_does_not_answer(bench):
    # in process, so the clock starts when the command does, not when the interpreter does
    (rc, out, err, seconds), (rc_none, _, err_none, _) = guest_batch(
        bench, ["identify", "mctp:1,%d" % SILENT_EID, "--timeout", "1.5"],
        ["identify", "mctp:1,30", "--timeout", "1.5"])
    assert rc == 5, out + err
    # the bound holds (1.5 s, and not the 5 s default), with room for a slow emulated CPU
    assert 1.5 <= seconds < 4.5, seconds
    assert "time" in err.lower()
    # an EID the kernel has no route to is refused at once: a transport error, not a timeout
    assert rc_none == 3 and "route" in err_none.lower(), err_none


def test_two_processes_on_one_eid_get_their_own_answers(bench):
    # Each process opens its own AF_MCTP socket; the kernel gives their requests different tags
    # and routes each response to its socket.  Both loop at once over large requests (Set LSA,
    # 300 bytes: five packets), large responses (Get LSA, the CEL) and small commands.  (This
    # kernel sends each message's packets back to back, even with two CPUs: packets of two
    # messages interleaved on a line, which the emulator also handles, are unit-tested in
    # tests/test_mctp_serial.py.)
    out = guest_python(bench, """
import json, multiprocessing, uuid
from cxlmi_bindings.endpoint import Context
CEL = uuid.UUID("%s").bytes
le32 = lambda v: v.to_bytes(4, "little")

def worker(me, n, queue):
    with Context() as ctx:
        ep = ctx.open("mctp:1,%d")
        logs = bytes(ep.exchange(0x0400)[1])
        size = [int.from_bytes(logs[24 + 20 * i:28 + 20 * i], "little")
                for i in range(logs[0]) if logs[8 + 20 * i:24 + 20 * i] == CEL][0]
        seen, lsa_ok = set(), 0
        for i in range(n):
            data = bytes((me * 64 + i + k) & 0xFF for k in range(300))
            ep.exchange(0x4103, le32(4096 * (me + 1)) + le32(0) + data)        # Set LSA
            back = bytes(ep.exchange(0x4102, le32(4096 * (me + 1)) + le32(300))[1])
            lsa_ok += back == data
            cel = bytes(ep.exchange(0x0401, CEL + le32(0) + le32(size))[1])
            ident = bytes(ep.exchange(0x0001)[1])
            seen.add((cel, ident))
        queue.put((me, len(seen), len(cel), [x[1].hex() for x in seen][:1], lsa_ok))

q = multiprocessing.Queue()
procs = [multiprocessing.Process(target=worker, args=(me, 6, q)) for me in range(2)]
for p in procs: p.start()
results = [q.get(timeout=120) for _ in procs]
for p in procs: p.join()
print(json.dumps({"results": results, "codes": [p.exitcode for p in procs]}))
""" % (CEL_UUID, TYPE3.eid), timeout=180)
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["codes"] == [0, 0]
    (_, a_distinct, a_len, a_ident, a_lsa), (_, b_distinct, b_len, b_ident, b_lsa) = sorted(
        doc["results"])
    assert a_distinct == b_distinct == 1             # every answer the same, in both processes
    assert a_len == b_len > 64 and a_ident == b_ident
    assert a_lsa == b_lsa == 6                       # each read back what it wrote
    # and two cxl-mi processes at once, as a user would start them
    rc, out, err = bench.guest.run(
        "python3 -m cxlmi_cli generic get-log-cel %s --json > /tmp/a & "
        "python3 -m cxlmi_cli generic get-log-cel %s --json > /tmp/b & wait; "
        "cmp /tmp/a /tmp/b && cat /tmp/a" % (TYPE3.target, TYPE3.target), timeout=120)
    assert rc == 0, err
    same_result(json.loads(out), host_json("generic", "get-log-cel", TYPE3.tcp_target))


def test_list_finds_the_endpoints_the_kernel_routes_to(bench):
    doc = guest_json(bench, "list")
    found = {m["target"]: m for m in doc["mctp"]}
    assert set(found) == {SWITCH.target, TYPE3.target}      # not the silent EID 20
    assert found[SWITCH.target]["fmapi"] and found[TYPE3.target]["cci"]
    assert found[SWITCH.target]["uuid"] == str(endpoint_uuid(profiles.build("switch")))
    assert found[TYPE3.target]["uuid"] == str(endpoint_uuid(profiles.build("type3")))
    assert found[TYPE3.target]["link"] == bench.links[TYPE3.pci_address]["link"]
    assert any("kernel's routes" in n for n in doc["notes"])


def test_zz_no_frame_was_damaged_either_way(bench):
    # last in the module, after everything above went over these lines; one more exchange on
    # each line, so that the counters are alive even when only this test runs
    bench.guest.check("python3 -m cxlmi_cli identify %s --json >/dev/null && "
                      "python3 -m cxlmi_cli fmapi identify-sw-device %s --json >/dev/null"
                      % (TYPE3.target, SWITCH.target), timeout=120)
    for line in LINES:
        link = bench.links[line.pci_address]["link"]
        stats = bench.guest.check(
            "cd /sys/class/net/%s/statistics && echo $(cat rx_packets tx_packets rx_crc_errors "
            "rx_errors rx_dropped)" % link).split()
        rx, tx, crc, errors, dropped = map(int, stats)
        assert rx > 0 and tx > 0, (link, stats)
        assert crc == errors == dropped == 0, (link, stats)
        log = bench.emulator_log(line)
        assert "dropped" not in log, log
