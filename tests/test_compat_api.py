# SPDX-License-Identifier: LGPL-2.1-or-later
"""The libcxlmi-compatible API behaves like libcxlmi.

Context and endpoint lifecycle, iteration, timeouts, FM-API switches, return
codes and constants, ``cxlmi_open`` target strings, the mock transport's API
(FIFO per command, UNSUPPORTED when empty, last command, stats, clear) with
ctypes out-parameters passed every way C-shaped Python passes them, short
passphrases, the ``from_buffer`` pattern for flexible arrays, and output that
never goes past the caller's buffer.
"""

import ctypes
import inspect
import logging
import os
import struct

import pytest

import cxlmi_bindings as cxlmi
from cxlmi_bindings import registry
from cxlmi_bindings.errors import CxlmiError

# The cxlmi_cmd_* parameter lists of libcxlmi's src/libcxlmi.h, by shape.
LIBCXLMI_SIGNATURES = {
    ("ep", "ti"): """
        memdev_freeze_security_state memdev_sanitize memdev_secure_erase request_bg_op_abort
    """.split(),
    ("ep", "ti", "ret"): """
        bg_op_status fmapi_get_dcd_info fmapi_get_domain_validation_sv_state fmapi_get_ld_info
        fmapi_get_qos_control fmapi_get_qos_status fmapi_identify_sw_device
        get_event_interrupt_policy get_mctp_event_interrupt_policy get_response_msg_limit
        get_supported_logs get_timestamp identify memdev_get_alert_config memdev_get_health_info
        memdev_get_partition_info memdev_get_scan_media_results memdev_get_security_state
        memdev_get_shutdown_state memdev_get_sld_qos_control memdev_get_sld_qos_status
        memdev_identify
    """.split(),
    ("ep", "ti", "in"): """
        activate_fw clear_event_records clear_log event_notification fmapi_bind_vppb
        fmapi_dc_add_reference fmapi_dc_remove_reference fmapi_initiate_dc_add
        fmapi_initiate_dc_release fmapi_phys_port_control fmapi_set_dc_region_config
        fmapi_set_domain_validation_sv fmapi_unbind_vppb memdev_add_dc_response
        memdev_clear_poison memdev_disable_passphrase memdev_inject_poison
        memdev_media_operations_sanitize memdev_passphrase_secure_erase memdev_release_dc
        memdev_scan_media memdev_set_alert_config memdev_set_partition_info
        memdev_set_passphrase memdev_set_shutdown_state memdev_set_sld_qos_control memdev_unlock
        populate_log set_event_interrupt_policy set_mctp_event_interrupt_policy set_timestamp
    """.split(),
    ("ep", "ti", "out"): """
        get_fw_info
    """.split(),
    ("ep", "ti", "in", "ret"): """
        fmapi_dc_list_tags fmapi_get_dc_reg_config fmapi_get_dc_region_ext_list
        fmapi_get_domain_validation_sv fmapi_get_head_info fmapi_get_ld_allocations
        fmapi_get_multiheaded_info fmapi_get_phys_port_state fmapi_get_qos_allocated_bw
        fmapi_get_qos_bw_limit fmapi_get_vcs_domain_validation_sv_state fmapi_get_vcs_info
        fmapi_send_ld_cxlio_config_request fmapi_send_ld_cxlio_mem_request
        fmapi_send_ppb_cxlio_config_request fmapi_set_ld_allocations fmapi_set_qos_allocated_bw
        fmapi_set_qos_bw_limit fmapi_set_qos_control get_event_records get_feature get_log
        get_log_capabilities get_log_cel get_poison_list get_supported_features
        get_supported_logs_sublist memdev_get_dc_config memdev_get_dc_extent_list memdev_get_lsa
        memdev_get_scan_media_capabilities memdev_media_operations_discovery
        memdev_security_receive set_response_msg_limit
    """.split(),
    ("ep", "ti", "in", "data_sz"): """
        memdev_security_send memdev_set_lsa transfer_fw
    """.split(),
    ("ep", "ti", "in", "feature_data_sz"): """
        set_feature
    """.split(),
    ("ep", "ti", "opcode", "in", "in_size", "ret", "ret_size"): """
        vendor_specific
    """.split(),
}

# enum cxlmi_cmd_retcode of libcxlmi.h, in order from 0.
RET_NAMES = """
SUCCESS BACKGROUND INPUT UNSUPPORTED INTERNAL RETRY BUSY MEDIADISABLED FWINPROGRESS FWOOO FWAUTH
FWSLOT FWROLLBACK FWRESET HANDLE PADDR POISONLMT MEDIAFAILURE ABORT SECURITY PASSPHRASE
MBUNSUPPORTED PAYLOADLEN LOG INTERRUPTED FEATUREVERSION FEATURESELVALUE FEATURETRANSFERIP
FEATURETRANSFEROOO RESOURCEEXHAUSTED EXTLIST TRANSFEROOO NO_BGABORT
""".split()

IDENT_A = struct.pack("<HHHHQBB", 0x1DE5, 0x0001, 0x1DE5, 0x0002, 0x1111, 11, 3)
IDENT_B = struct.pack("<HHHHQBB", 0x8086, 0x0D93, 0x8086, 0x0003, 0x2222, 12, 0)


@pytest.fixture
def ctx():
    c = cxlmi.cxlmi_new_ctx(None, 6)
    yield c
    cxlmi.cxlmi_free_ctx(c)


@pytest.fixture
def ep(ctx):
    return cxlmi.cxlmi_open_mock(ctx)


def queue(ep, opcode, payload=b"", rc=0):
    assert cxlmi.cxlmi_mock_set_response(ep, opcode >> 8, opcode & 0xFF, rc, payload,
                                         len(payload)) == 0


def last_payload(ep, room=4096):
    cs, c = ctypes.c_uint8(), ctypes.c_uint8()
    buf = ctypes.create_string_buffer(room)
    size = ctypes.c_size_t(room)
    assert cxlmi.cxlmi_mock_get_last_command(ep, ctypes.byref(cs), ctypes.byref(c), buf,
                                             ctypes.byref(size)) == 0
    return (cs.value << 8) | c.value, buf.raw[:size.value]


# ------------------------------------------------------------ signatures, constants

def test_every_command_takes_libcxlmis_arguments_in_order():
    seen = set()
    for shape, names in LIBCXLMI_SIGNATURES.items():
        for name in names:
            f = getattr(cxlmi, "cxlmi_cmd_" + name)
            params = list(inspect.signature(f).parameters)
            assert len(params) == len(shape), name
            assert params[:2] == ["ep", "ti"], name
            seen.add(name)
    assert len(seen) == 97 == len(registry.LIBCXLMI_COMMANDS)
    assert seen == {e.name for e in registry.LIBCXLMI_COMMANDS}


# The extensions' parameter lists: libcxlmi's shape for their kind of command.
EXTENSION_SIGNATURES = {
    "fmapi_generate_aer_event": ("ep", "ti", "in"),
    "perform_maintenance": ("ep", "ti", "in"),
    "perform_maintenance_sparing": ("ep", "ti", "in"),
}


def test_extensions_take_the_arguments_libcxlmi_would_give_them_and_are_marked():
    assert sorted(EXTENSION_SIGNATURES) == sorted(e.name for e in registry.EXTENSIONS)
    for name, shape in EXTENSION_SIGNATURES.items():
        f = getattr(cxlmi, "cxlmi_cmd_" + name)
        params = list(inspect.signature(f).parameters)
        assert len(params) == len(shape) and params[:2] == ["ep", "ti"], name
        assert f.extension is True
        assert "not a libcxlmi function" in f.__doc__
    assert cxlmi.cxlmi_cmd_identify.extension is False


def test_an_extension_follows_libcxlmis_conventions_on_the_mock(ep):
    req = cxlmi.struct_cxlmi_cmd_fmapi_generate_aer_event_req()
    req.vcs_id, req.vppb_instance, req.aer_error = 1, 2, 0x80000005
    req.aer_header = bytes(range(32))
    queue(ep, 0x5203)
    assert cxlmi.cxlmi_cmd_fmapi_generate_aer_event(ep, None, ctypes.byref(req)) == 0
    assert last_payload(ep) == (0x5203, bytes([1, 2, 0, 0, 5, 0, 0, 0x80]) + bytes(range(32)))
    queue(ep, 0x5203, rc=2)
    assert cxlmi.cxlmi_cmd_fmapi_generate_aer_event(ep, None, req) == 2     # INPUT, as an int


def test_return_code_constants_are_the_enum_values_0_to_32():
    for value, name in enumerate(RET_NAMES):
        assert getattr(cxlmi, "CXLMI_RET_" + name) == value
    assert len(RET_NAMES) == 33


def test_retcode_tostr_names_every_defined_code_and_none_past_them():
    texts = [cxlmi.cxlmi_cmd_retcode_tostr(i) for i in range(33)]
    assert all(isinstance(t, str) and t for t in texts)
    assert len(set(texts)) == 33
    assert cxlmi.cxlmi_cmd_retcode_tostr(33) is None
    assert cxlmi.cxlmi_cmd_retcode_tostr(0xFFFF) is None
    assert cxlmi.cxlmi_cmd_retcode_tostr(cxlmi.CXLMI_RET_BUSY) == texts[6]


def test_the_public_defines_exist_as_in_c():
    assert cxlmi.CXLMI_MAX_SUPPORTED_EVENT_RECORDS == 20
    assert cxlmi.CXLMI_MAX_SUPPORTED_LOGS == 7
    assert cxlmi.CXL_MAILBOX_MAX_PAYLOAD_SIZE == 1 << 11
    assert cxlmi.CXL_CAPACITY_MULTIPLIER == 256 * 1024 * 1024
    assert cxlmi.CXLMI_NO_TUNNEL is None
    # Get Event Records event log ids (CXL r3.1 table 8-50)
    assert (cxlmi.CXLMI_EVENT_LOG_INFO, cxlmi.CXLMI_EVENT_LOG_WARN, cxlmi.CXLMI_EVENT_LOG_FAIL,
            cxlmi.CXLMI_EVENT_LOG_FATAL, cxlmi.CXLMI_EVENT_LOG_DCD) == (0, 1, 2, 3, 4)
    assert len(cxlmi.CXLMI_LOG_UUID_CEL) == 16


def test_star_import_brings_the_whole_api():
    ns = {}
    exec("from cxlmi_bindings import *", ns)
    for name in ("struct_cxlmi_cmd_identify_rsp", "struct_cxlmi_tunnel_info",
                 "cxlmi_cmd_identify", "cxlmi_cmd_vendor_specific", "cxlmi_new_ctx",
                 "cxlmi_open", "cxlmi_open_mock", "cxlmi_first_endpoint", "cxlmi_next_endpoint",
                 "endpoints", "cxlmi_tunnel_switch_mld", "cxlmi_mock_set_response",
                 "CXLMI_RET_SUCCESS", "CXLMI_RET_NO_BGABORT", "CXLMI_MAX_SUPPORTED_LOGS",
                 "CXL_MAILBOX_MAX_PAYLOAD_SIZE", "CXLMI_NO_TUNNEL"):
        assert name in ns, name


def test_tunnel_helpers_fill_tunnel_info_as_libcxlmis_macros():
    def fields(ti):
        return ti.port, ti.ld, ti.level, bool(ti.mhd)
    assert fields(cxlmi.cxlmi_tunnel_mld(5)) == (-1, 5, 1, False)
    assert fields(cxlmi.cxlmi_tunnel_switch(3)) == (3, -1, 1, False)
    assert fields(cxlmi.cxlmi_tunnel_switch_mld(2, 4)) == (2, 4, 2, False)
    assert fields(cxlmi.cxlmi_tunnel_mhd()) == (-1, -1, 1, True)
    assert isinstance(cxlmi.cxlmi_tunnel_mhd(), cxlmi.struct_cxlmi_tunnel_info)
    cxlmi.cxlmi_tunnel_free(cxlmi.cxlmi_tunnel_mhd())


# ------------------------------------------------------------ lifecycle, iteration

def test_context_and_endpoint_lifecycle(ctx):
    assert cxlmi.cxlmi_first_endpoint(ctx) is None
    a = cxlmi.cxlmi_open_mock(ctx)
    b = cxlmi.cxlmi_open_mock(ctx)
    e = cxlmi.cxlmi_open(ctx, "emu:type3")
    assert a and b and e
    order = []
    it = cxlmi.cxlmi_first_endpoint(ctx)
    while it:
        order.append(it)
        it = cxlmi.cxlmi_next_endpoint(ctx, it)
    assert order == [a, b, e]
    cxlmi.cxlmi_close(b)
    assert list(cxlmi.endpoints(ctx)) == [a, e]
    assert cxlmi.cxlmi_next_endpoint(ctx, b) is None
    assert cxlmi.cxlmi_next_endpoint(ctx, e) is None
    # a closed endpoint refuses commands
    assert cxlmi.cxlmi_cmd_identify(b, None, cxlmi.struct_cxlmi_cmd_identify_rsp()) == -1
    cxlmi.cxlmi_free_ctx(ctx)
    assert cxlmi.cxlmi_first_endpoint(ctx) is None


def test_none_arguments_are_tolerated_as_in_c():
    assert cxlmi.cxlmi_open_mock(None) is None
    assert cxlmi.cxlmi_first_endpoint(None) is None
    assert cxlmi.cxlmi_next_endpoint(None, None) is None
    cxlmi.cxlmi_free_ctx(None)
    cxlmi.cxlmi_close(None)


def test_endpoints_iterates_safely_while_closing(ctx):
    eps = [cxlmi.cxlmi_open_mock(ctx) for _ in range(4)]
    visited = []
    for ep in cxlmi.endpoints(ctx):
        visited.append(ep)
        cxlmi.cxlmi_close(ep)
    assert visited == eps
    assert cxlmi.cxlmi_first_endpoint(ctx) is None


def test_libcxlmi_style_safe_iteration_with_first_next(ctx):
    eps = [cxlmi.cxlmi_open_mock(ctx) for _ in range(3)]

    def for_each_endpoint_safe(c):
        e = cxlmi.cxlmi_first_endpoint(c)
        if not e:
            return
        n = cxlmi.cxlmi_next_endpoint(c, e)
        while e:
            yield e
            e, n = n, (cxlmi.cxlmi_next_endpoint(c, n) if n else None)
    visited = []
    for e in for_each_endpoint_safe(ctx):
        visited.append(e)
        cxlmi.cxlmi_close(e)
    assert visited == eps


@pytest.fixture
def served_switch():
    """An emulated switch behind MCTP over TCP on 127.0.0.1 (a probed kind of
    endpoint), with the opcodes it has been sent."""
    from cxlmi_bindings.emulator import profiles
    from cxlmi_bindings.emulator.server import Server
    device = profiles.build("switch")
    sent = []
    real = device.handle

    def handle(message, msg_type=None):
        sent.append(struct.unpack_from("<H", message, 3)[0])     # CCI header: opcode at 3
        return real(message, msg_type)
    device.handle = handle
    with Server(device, host="127.0.0.1", port=0) as server:
        yield "tcp:127.0.0.1:%d" % server.address[1], sent


@pytest.mark.parametrize("enabled", [True, False])
def test_probe_on_identifies_a_tcp_endpoint_at_open_and_probe_off_sends_nothing(
        ctx, served_switch, enabled):
    target, sent = served_switch
    cxlmi.cxlmi_set_probe_enabled(ctx, enabled)
    ep = cxlmi.cxlmi_open(ctx, target)
    assert ep is not None
    if enabled:
        assert sent == [0x0001]                        # Identify, once
        assert ep.component_type == 0x00               # a switch: FM-API offered
        assert cxlmi.cxlmi_endpoint_has_fmapi(ep)
    else:
        assert sent == [] and ep.component_type is None
    ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
    assert cxlmi.cxlmi_cmd_identify(ep, None, ident) == 0 and ident.component_type == 0
    assert sent[-1] == 0x0001 and len(sent) == (2 if enabled else 1)


def test_probe_setting_is_per_context(served_switch):
    target, sent = served_switch
    quiet, probing = cxlmi.cxlmi_new_ctx(None, 6), cxlmi.cxlmi_new_ctx(None, 6)
    try:
        cxlmi.cxlmi_set_probe_enabled(quiet, False)
        assert cxlmi.cxlmi_open(quiet, target) is not None
        assert sent == []
        assert cxlmi.cxlmi_open(probing, target) is not None
        assert sent == [0x0001]
    finally:
        cxlmi.cxlmi_free_ctx(quiet)
        cxlmi.cxlmi_free_ctx(probing)


def test_timeouts_get_and_set(ep):
    assert cxlmi.cxlmi_endpoint_get_timeout(ep) == 5000
    assert cxlmi.cxlmi_endpoint_set_timeout(ep, 1234) == 0
    assert cxlmi.cxlmi_endpoint_get_timeout(ep) == 1234
    assert cxlmi.cxlmi_endpoint_set_timeout(ep, -1) == -1
    assert cxlmi.cxlmi_endpoint_get_timeout(ep) == 1234
    from cxlmi_bindings.endpoint import MAX_TIMEOUT_MS as top
    assert cxlmi.cxlmi_endpoint_set_timeout(ep, top) == 0
    assert cxlmi.cxlmi_endpoint_get_timeout(ep) == top
    assert cxlmi.cxlmi_endpoint_set_timeout(ep, top + 1) == -1
    assert cxlmi.cxlmi_endpoint_get_timeout(ep) == top


def test_fmapi_can_be_disabled_and_enabled(ep):
    out = cxlmi.struct_cxlmi_cmd_fmapi_get_ld_info_rsp()
    ld_info = struct.pack("<QHB", 1 << 30, 4, 0)
    assert cxlmi.cxlmi_endpoint_has_fmapi(ep)          # the mock supports everything
    assert cxlmi.cxlmi_endpoint_disable_fmapi(ep)
    assert not cxlmi.cxlmi_endpoint_has_fmapi(ep)
    queue(ep, 0x5400, ld_info)
    sent = ctypes.c_uint()
    cxlmi.cxlmi_mock_get_stats(ep, ctypes.byref(sent), None)
    before = sent.value
    assert cxlmi.cxlmi_cmd_fmapi_get_ld_info(ep, None, out) == -1
    cxlmi.cxlmi_mock_get_stats(ep, ctypes.byref(sent), None)
    assert sent.value == before                         # nothing went out
    with pytest.raises(CxlmiError):
        ep.fmapi_get_ld_info()
    # CCI commands still work
    queue(ep, 0x0001, IDENT_A)
    assert cxlmi.cxlmi_cmd_identify(ep, None, cxlmi.struct_cxlmi_cmd_identify_rsp()) == 0
    assert cxlmi.cxlmi_endpoint_enable_fmapi(ep)
    assert cxlmi.cxlmi_endpoint_has_fmapi(ep)
    assert cxlmi.cxlmi_cmd_fmapi_get_ld_info(ep, None, out) == 0
    assert (out.memory_size, out.ld_count) == (1 << 30, 4)


# ------------------------------------------------------------ cxlmi_open targets

@pytest.mark.parametrize("target", ["emu:type3", "emu:mld", "emu:switch", "emu:mhd", "emu:dcd",
                                    b"emu:type3", b"emu:switch", "mock", b"mock"])
def test_open_accepts_str_and_bytes_targets_that_work_here(ctx, target):
    ep = cxlmi.cxlmi_open(ctx, target)
    assert ep is not None
    assert cxlmi.cxlmi_first_endpoint(ctx) is ep
    if b"emu" in (target if isinstance(target, bytes) else target.encode()):
        ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
        assert cxlmi.cxlmi_cmd_identify(ep, None, ident) == 0
        assert ident.vendor_id != 0


@pytest.mark.parametrize("target", ["mem0", b"mem0", "/dev/cxl/mem0", "switch0",
                                    "mctp:1,8", "mctp:1:8", "tcp:127.0.0.1:1",
                                    "emu:nonsense", "bogus:1", "", "mctp:x,y"])
def test_open_returns_none_for_targets_that_are_absent_or_malformed(ctx, target, caplog):
    if (target in ("mem0", b"mem0", "/dev/cxl/mem0") and os.path.exists("/dev/cxl/mem0")) \
            or (target == "switch0" and os.path.exists("/dev/cxl/switch0")):
        pytest.skip("this machine has that device")
    with caplog.at_level(logging.CRITICAL, logger="cxlmi"):
        assert cxlmi.cxlmi_open(ctx, target) is None
    assert cxlmi.cxlmi_first_endpoint(ctx) is None


@pytest.fixture
def dev_cxl(tmp_path, monkeypatch):
    """A /dev/cxl of regular files: mem0, mem1, switch0, plus what a scan must
    pass over (a directory, a name that is no CXL node).  The ioctl transport's
    seam answers CXL_MEM_QUERY_COMMANDS for mem0 and switch0 and ENOTTY for mem1,
    as a node that is no mailbox does; the names it was opened with are kept."""
    import errno
    from cxlmi_bindings import discovery
    from cxlmi_bindings.transports import ioctl
    dev, sysfs = tmp_path / "dev" / "cxl", tmp_path / "sys"
    dev.mkdir(parents=True)
    sysfs.mkdir()
    for name in ("mem0", "mem1", "switch0", "unknown0"):
        (dev / name).write_bytes(b"")
    (dev / "mem3").mkdir()
    queried = []

    def fake_ioctl(fd, request, buf):
        name = os.path.basename(os.readlink("/proc/self/fd/%d" % fd))
        queried.append(name)
        if name == "mem1":
            raise OSError(errno.ENOTTY, os.strerror(errno.ENOTTY))
        struct.pack_into("<II", buf, 0, 0, 0)           # a kernel with no commands to list
        return 0
    real_scan = discovery.scan_devices
    monkeypatch.setattr(discovery, "scan_devices", lambda: real_scan(str(dev), str(sysfs)))
    monkeypatch.setattr(ioctl, "device_path", lambda name, root=None: str(dev / name))
    monkeypatch.setattr(ioctl, "_sys_ioctl", fake_ioctl)
    return dev, queried


def test_cxlmi_scan_opens_each_cxl_node_once_and_returns_how_many_are_open(
        ctx, dev_cxl, caplog):
    dev, queried = dev_cxl
    with caplog.at_level(logging.CRITICAL, logger="cxlmi"):
        assert cxlmi.cxlmi_scan(ctx) == 2                 # mem1 is no mailbox: left out
    assert sorted(set(queried)) == ["mem0", "mem1", "switch0"]
    targets = []
    ep = cxlmi.cxlmi_first_endpoint(ctx)
    while ep:
        targets.append(ep.target)
        ep = cxlmi.cxlmi_next_endpoint(ctx, ep)
    assert targets == ["mem0", "switch0"]
    with caplog.at_level(logging.CRITICAL, logger="cxlmi"):
        assert cxlmi.cxlmi_scan(ctx) == 2                 # nothing opened twice
    (dev / "mem7").write_bytes(b"")
    with caplog.at_level(logging.CRITICAL, logger="cxlmi"):
        assert cxlmi.cxlmi_scan(ctx) == 3                 # a node that appeared is added


def test_cxlmi_scan_of_an_empty_dev_cxl_is_zero_and_a_failing_one_minus_one(
        ctx, dev_cxl, monkeypatch):
    from cxlmi_bindings import discovery
    from cxlmi_bindings.errors import PermissionDenied
    monkeypatch.setattr(discovery, "scan_devices", lambda: [])
    assert cxlmi.cxlmi_scan(ctx) == 0

    def refused():
        raise PermissionDenied("/dev/cxl: permission denied")
    monkeypatch.setattr(discovery, "scan_devices", refused)
    assert cxlmi.cxlmi_scan(ctx) == -1
    assert cxlmi.cxlmi_first_endpoint(ctx) is None


@pytest.fixture
def fake_mctpd(monkeypatch):
    """mctpd 2.x on a private D-Bus bus, as the system bus, and AF_MCTP endpoints
    that answer as emulated Type 3 devices (which net and EID each was opened for
    is kept)."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "dbus"))
    import cxlmi_dbus_fixtures as fx
    pytest.importorskip("jeepney")
    daemon = fx.ensure_dbus_daemon()
    if daemon is None:
        pytest.skip("dbus-daemon is not installed (Debian package `dbus`; CI installs it)")
    from cxlmi_bindings.transports import emulated, mctp
    opened = []

    class AfMctp(emulated.EmulatedTransport):
        name = "mctp"

        def __init__(self, net, eid, **options):
            super().__init__("type3")
            self.net, self.eid = net, eid
            opened.append((net, eid))
    monkeypatch.setattr(mctp, "MctpTransport", AfMctp)
    bus = fx.PrivateBus(daemon)
    fake = fx.FakeMctpd(bus.address, fx.layout_v2())
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", bus.address)
    yield opened
    fake.stop()
    bus.stop()


def test_cxlmi_scan_mctp_opens_the_cxl_endpoints_mctpd_lists_and_returns_how_many(
        ctx, fake_mctpd):
    # layout_v2: (1,8) is our own EID, (1,12) speaks SPDM only; the rest speak CXL
    assert cxlmi.cxlmi_scan_mctp(ctx) == 3
    assert fake_mctpd == [(1, 10), (1, 11), (2, 20)]
    ep = cxlmi.cxlmi_first_endpoint(ctx)
    assert ep.component_type == 0x03                   # probed at open, as MCTP endpoints are
    assert cxlmi.cxlmi_scan_mctp(ctx) == 3             # nothing opened twice
    assert fake_mctpd == [(1, 10), (1, 11), (2, 20)]


def test_cxlmi_scan_mctp_without_mctpd_is_minus_one(ctx, monkeypatch, capsys):
    from cxlmi_bindings import discovery
    from cxlmi_bindings.errors import DeviceNotFound

    def absent(*args, **kwargs):
        raise DeviceNotFound("mctpd is not on the D-Bus bus")
    monkeypatch.setattr(discovery, "scan_mctp", absent)
    assert cxlmi.cxlmi_scan_mctp(ctx) == -1
    # the context's fp is None: standard error, as libcxlmi's default
    assert "libcxlmi: mctpd is not on the D-Bus bus" in capsys.readouterr().err
    assert cxlmi.cxlmi_first_endpoint(ctx) is None


def test_a_failure_is_told_to_the_contexts_file_at_its_log_level():
    # cxlmi_new_ctx(fp, log_level) took both and used neither: a -1 came with no reason
    import io
    told, quiet = io.StringIO(), io.StringIO()
    for fp, level in ((told, 3), (quiet, 2)):
        ctx = cxlmi.cxlmi_new_ctx(fp, level)
        assert cxlmi.cxlmi_open(ctx, "mem99") is None
        ep = cxlmi.cxlmi_open_mock(ctx)
        assert cxlmi.cxlmi_cmd_set_timestamp(ep, None, None) == -1
        cxlmi.cxlmi_free_ctx(ctx)
    lines = told.getvalue().splitlines()
    assert len(lines) == 2 and "mem99" in lines[0]
    assert lines[1] == "libcxlmi: set_timestamp: set_timestamp needs a request structure"
    assert quiet.getvalue() == ""                   # below LOG_ERR: nothing


def test_last_error_is_the_last_calls_only():
    ctx = cxlmi.cxlmi_new_ctx(None, 0)
    ep = cxlmi.cxlmi_open(ctx, "emu:type3")
    assert cxlmi.cxlmi_cmd_set_timestamp(ep, None, None) == -1 and ep.last_error is not None
    assert cxlmi.cxlmi_cmd_identify(ep, None, cxlmi.struct_cxlmi_cmd_identify_rsp()) == 0
    assert ep.last_error is None                    # was the failure before it
    cxlmi.cxlmi_free_ctx(ctx)


def test_a_null_endpoint_or_context_gets_what_libcxlmi_gives_it():
    assert cxlmi.cxlmi_endpoint_get_timeout(None) == 0
    assert cxlmi.cxlmi_endpoint_set_timeout(None, 10) == -1
    assert cxlmi.cxlmi_endpoint_has_fmapi(None) is False
    assert cxlmi.cxlmi_endpoint_enable_fmapi(None) is False
    assert cxlmi.cxlmi_endpoint_disable_fmapi(None) is False
    assert cxlmi.cxlmi_open(None, "emu:type3") is None
    assert cxlmi.cxlmi_scan(None) == -1 and cxlmi.cxlmi_scan_mctp(None) == -1
    assert cxlmi.cxlmi_cmd_identify(None, None, cxlmi.struct_cxlmi_cmd_identify_rsp()) == -1
    ctx = cxlmi.cxlmi_new_ctx(None, 0)
    ep = cxlmi.cxlmi_open(ctx, "emu:type3")
    assert cxlmi.cxlmi_endpoint_set_timeout(ep, "x") == -1
    cxlmi.cxlmi_free_ctx(ctx)


# ------------------------------------------------------------ the mock API

def test_mock_responses_are_fifo_per_command_and_unsupported_when_empty(ep):
    queue(ep, 0x0001, IDENT_A)
    queue(ep, 0x0300, struct.pack("<Q", 77))
    queue(ep, 0x0001, IDENT_B)
    ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
    ts = cxlmi.struct_cxlmi_cmd_get_timestamp_rsp()
    assert cxlmi.cxlmi_cmd_identify(ep, None, ident) == 0 and bytes(ident) == IDENT_A
    assert cxlmi.cxlmi_cmd_get_timestamp(ep, None, ts) == 0 and ts.timestamp == 77
    assert cxlmi.cxlmi_cmd_identify(ep, None, ident) == 0 and bytes(ident) == IDENT_B
    assert cxlmi.cxlmi_cmd_identify(ep, None, ident) == cxlmi.CXLMI_RET_UNSUPPORTED
    assert bytes(ident) == IDENT_B                       # untouched on error
    sent, returned = ctypes.c_uint(), ctypes.c_uint()
    assert cxlmi.cxlmi_mock_get_stats(ep, ctypes.byref(sent), ctypes.byref(returned)) == 0
    assert (sent.value, returned.value) == (4, 3)


def test_mock_return_codes_and_clear(ep):
    queue(ep, 0x0001, b"", cxlmi.CXLMI_RET_BUSY)
    queue(ep, 0x0001, IDENT_A)
    ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
    assert cxlmi.cxlmi_cmd_identify(ep, None, ident) == cxlmi.CXLMI_RET_BUSY
    cxlmi.cxlmi_mock_clear_responses(ep)
    assert cxlmi.cxlmi_cmd_identify(ep, None, ident) == cxlmi.CXLMI_RET_UNSUPPORTED


@pytest.mark.parametrize("how", ["object", "byref", "pointer"])
def test_mock_set_response_takes_a_structure_as_c_takes_a_pointer(ep, how):
    rsp = cxlmi.struct_cxlmi_cmd_identify_rsp.from_buffer_copy(IDENT_B)
    arg = {"object": rsp, "byref": ctypes.byref(rsp), "pointer": ctypes.pointer(rsp)}[how]
    assert cxlmi.cxlmi_mock_set_response(ep, 0x00, 0x01, 0, arg, ctypes.sizeof(rsp)) == 0
    assert cxlmi.cxlmi_mock_set_response(ep, 0x00, 0x03, 0, None, 0) == 0
    ident = cxlmi.struct_cxlmi_cmd_identify_rsp()
    assert cxlmi.cxlmi_cmd_identify(ep, None, ident) == 0
    assert bytes(ident) == IDENT_B
    # an empty payload where one byte is due is a malformed reply: -1
    lim = cxlmi.struct_cxlmi_cmd_get_response_msg_limit_rsp()
    assert cxlmi.cxlmi_cmd_get_response_msg_limit(ep, None, lim) == -1


@pytest.mark.parametrize("how", ["object", "byref", "pointer"])
def test_mock_get_last_command_fills_out_parameters_passed_every_way(ep, how):
    wrap = {"object": lambda x: x, "byref": ctypes.byref, "pointer": ctypes.pointer}[how]
    req = cxlmi.struct_cxlmi_cmd_set_timestamp_req(timestamp=0x0102030405060708)
    queue(ep, 0x0301)
    assert cxlmi.cxlmi_cmd_set_timestamp(ep, None, req) == 0
    cs, c, size = ctypes.c_uint8(0xFF), ctypes.c_uint8(0xFF), ctypes.c_size_t(64)
    buf = ctypes.create_string_buffer(64)
    assert cxlmi.cxlmi_mock_get_last_command(ep, wrap(cs), wrap(c), wrap(buf), wrap(size)) == 0
    assert (cs.value, c.value, size.value) == (0x03, 0x01, 8)
    assert buf.raw[:8] == struct.pack("<Q", 0x0102030405060708)
    # a smaller buffer gets only what it holds; the size says what there was
    arena = ctypes.create_string_buffer(16)
    ctypes.memset(arena, 0xEE, 16)
    size = ctypes.c_size_t(3)
    assert cxlmi.cxlmi_mock_get_last_command(ep, None, None, arena, wrap(size)) == 0
    assert size.value == 8
    assert arena.raw == struct.pack("<Q", 0x0102030405060708)[:3] + b"\xEE" * 13


@pytest.mark.parametrize("how", ["object", "byref", "pointer"])
def test_mock_get_stats_out_parameters(ep, how):
    wrap = {"object": lambda x: x, "byref": ctypes.byref, "pointer": ctypes.pointer}[how]
    queue(ep, 0x0001, IDENT_A)
    cxlmi.cxlmi_cmd_identify(ep, None, cxlmi.struct_cxlmi_cmd_identify_rsp())
    cxlmi.cxlmi_cmd_identify(ep, None, cxlmi.struct_cxlmi_cmd_identify_rsp())
    sent, returned = ctypes.c_uint(), ctypes.c_uint()
    assert cxlmi.cxlmi_mock_get_stats(ep, wrap(sent), wrap(returned)) == 0
    assert (sent.value, returned.value) == (2, 1)


def test_mock_api_on_a_non_mock_endpoint_fails(ctx):
    emu = cxlmi.cxlmi_open(ctx, "emu:type3")
    assert cxlmi.cxlmi_mock_set_response(emu, 0, 1, 0, None, 0) == -1
    assert cxlmi.cxlmi_mock_get_stats(emu, None, None) == -1
    assert cxlmi.cxlmi_mock_get_last_command(emu, None, None, None, None) == -1


# ------------------------------------------------------------ passphrases, flexible arrays

def test_passphrases_as_short_bytes_go_out_zero_padded(ep):
    req = cxlmi.struct_cxlmi_cmd_memdev_set_passphrase_req()
    req.passphrase_type = 0
    req.current_passphrase = b"old"
    req.new_passphrase = b"new-secret"
    queue(ep, 0x4501)
    assert cxlmi.cxlmi_cmd_memdev_set_passphrase(ep, None, req) == 0
    opcode, payload = last_payload(ep)
    assert opcode == 0x4501
    assert payload == bytes(32) + b"old".ljust(32, b"\0") + b"new-secret".ljust(32, b"\0")
    unlock = cxlmi.struct_cxlmi_cmd_memdev_unlock_req(current_passphrase=b"pw")
    queue(ep, 0x4503)
    assert cxlmi.cxlmi_cmd_memdev_unlock(ep, None, unlock) == 0
    assert last_payload(ep) == (0x4503, b"pw".ljust(32, b"\0"))
    with pytest.raises(ValueError):
        unlock.current_passphrase = b"x" * 33


def event_records_reply(n, count=None):
    head = struct.pack("<BBHQQH10s", 0, 0, 0, 0, 0, n if count is None else count, b"")
    recs = b"".join(bytes([i + 1]) * 16 + struct.pack("<B3sHHQ", 128, b"", 0x100 + i, 0, i)
                    + bytes(128 - 32) for i in range(n))
    return head + recs


def test_event_records_through_the_from_buffer_pattern(ep):
    rsp_t, rec_t = cxlmi.struct_cxlmi_cmd_get_event_records_rsp, cxlmi.struct_cxlmi_event_record
    n = cxlmi.CXLMI_MAX_SUPPORTED_EVENT_RECORDS
    buf = ctypes.create_string_buffer(ctypes.sizeof(rsp_t) + n * ctypes.sizeof(rec_t))
    rsp = rsp_t.from_buffer(buf)
    req = cxlmi.struct_cxlmi_cmd_get_event_records_req(event_log=cxlmi.CXLMI_EVENT_LOG_WARN)
    queue(ep, 0x0100, event_records_reply(3))
    assert cxlmi.cxlmi_cmd_get_event_records(ep, None, req, rsp) == 0
    assert last_payload(ep) == (0x0100, b"\x01")
    assert rsp.record_count == 3
    records = (rec_t * rsp.record_count).from_buffer(buf, ctypes.sizeof(rsp_t))
    assert [r.handle for r in records] == [0x100, 0x101, 0x102]
    assert [r.timestamp for r in records] == [0, 1, 2]
    assert bytes(records[2].uuid) == b"\x03" * 16


def test_supported_logs_through_the_from_buffer_pattern(ep):
    rsp_t, ent_t = (cxlmi.struct_cxlmi_cmd_get_supported_logs_rsp,
                    cxlmi.struct_cxlmi_supported_log_entry)
    reply = struct.pack("<H6s", 2, b"") + cxlmi.CXLMI_LOG_UUID_CEL + struct.pack("<I", 0x40) \
        + cxlmi.CXLMI_LOG_UUID_VENDOR_DEBUG + struct.pack("<I", 0x1000)
    buf = ctypes.create_string_buffer(ctypes.sizeof(rsp_t)
                                      + cxlmi.CXLMI_MAX_SUPPORTED_LOGS * ctypes.sizeof(ent_t))
    rsp = rsp_t.from_buffer(buf)
    queue(ep, 0x0400, reply)
    assert cxlmi.cxlmi_cmd_get_supported_logs(ep, None, rsp) == 0
    entries = (ent_t * rsp.num_supported_log_entries).from_buffer(buf, ctypes.sizeof(rsp_t))
    assert [(bytes(e.uuid), e.log_size) for e in entries] == [
        (cxlmi.CXLMI_LOG_UUID_CEL, 0x40), (cxlmi.CXLMI_LOG_UUID_VENDOR_DEBUG, 0x1000)]


def test_a_flexible_request_from_buffer_sends_head_and_tail(ep):
    req_t = cxlmi.struct_cxlmi_cmd_clear_event_records_req
    buf = ctypes.create_string_buffer(ctypes.sizeof(req_t) + 3 * 2)
    req = req_t.from_buffer(buf)
    req.event_log = cxlmi.CXLMI_EVENT_LOG_FAIL
    req.nr_recs = 3
    handles = (ctypes.c_uint16 * 3).from_buffer(buf, ctypes.sizeof(req_t))
    handles[:] = [0x10, 0x20, 0x30]
    queue(ep, 0x0101)
    assert cxlmi.cxlmi_cmd_clear_event_records(ep, None, req) == 0
    assert last_payload(ep) == (0x0101, b"\x02\x00\x03\x00\x00\x00\x10\x00\x20\x00\x30\x00")


def test_a_request_whose_count_exceeds_its_buffer_is_refused_before_sending(ep):
    req = cxlmi.struct_cxlmi_cmd_clear_event_records_req(event_log=0, nr_recs=200)
    sent = ctypes.c_uint()
    cxlmi.cxlmi_mock_get_stats(ep, ctypes.byref(sent), None)
    assert cxlmi.cxlmi_cmd_clear_event_records(ep, None, req) == -1
    after = ctypes.c_uint()
    cxlmi.cxlmi_mock_get_stats(ep, ctypes.byref(after), None)
    assert after.value == sent.value


# ------------------------------------------------------------ bounded output

def arena_view(room, guard=64):
    """``room`` bytes for the caller inside a larger arena whose rest is a canary.

    The caller's object is a ``from_buffer`` view of a ``room``-byte view: the
    library counts a view's whole underlying buffer as the caller's memory (a
    structure viewed over a bigger buffer receives its tail there), so the
    object handed over must sit on a buffer of exactly ``room`` bytes.
    """
    arena = ctypes.create_string_buffer(room + guard)
    ctypes.memset(arena, 0x5A, room + guard)
    window = (ctypes.c_char * room).from_buffer(arena)
    return arena, (ctypes.c_char * room).from_buffer(window)


@pytest.mark.parametrize("sent,claimed,room_records", [
    (20, 20, 3),     # more records than the caller made room for
    (5, 20, 3),      # the count lies and the buffer is small
    (5, 200, 8),     # the count lies, the buffer is large: only 5 arrive
    (2, 1, 8),       # a smaller count is honoured
    (4, 4, 0),       # no room for any record at all
])
def test_output_never_goes_past_the_callers_buffer(ep, sent, claimed, room_records):
    rsp_t, rec_t = cxlmi.struct_cxlmi_cmd_get_event_records_rsp, cxlmi.struct_cxlmi_event_record
    fixed, size = ctypes.sizeof(rsp_t), ctypes.sizeof(rec_t)
    room = fixed + room_records * size
    arena, view = arena_view(room)
    rsp = rsp_t.from_buffer(view)
    reply = event_records_reply(sent, claimed)
    queue(ep, 0x0100, reply)
    req = cxlmi.struct_cxlmi_cmd_get_event_records_req(event_log=0)
    assert cxlmi.cxlmi_cmd_get_event_records(ep, None, req, rsp) == 0
    delivered = min(sent, claimed, room_records)
    written = fixed + delivered * size
    # What arrived, as far as the buffer reaches, with the count saying how
    # many records the caller actually got (never more than the bytes hold).
    expected = reply[:20] + struct.pack("<H", delivered) + reply[22:written]
    assert arena.raw[:written] == expected
    assert rsp.record_count == delivered
    assert arena.raw[written:room + 64] == b"\x5A" * (room + 64 - written)


def test_a_plain_structure_receives_only_its_own_size(ep):
    arena, view = arena_view(ctypes.sizeof(cxlmi.struct_cxlmi_cmd_get_event_records_rsp))
    rsp = cxlmi.struct_cxlmi_cmd_get_event_records_rsp.from_buffer(view)
    queue(ep, 0x0100, event_records_reply(4))
    assert cxlmi.cxlmi_cmd_get_event_records(
        ep, None, cxlmi.struct_cxlmi_cmd_get_event_records_req(), rsp) == 0
    assert rsp.record_count == 0          # no room for any of the 4 records
    assert arena.raw[32:] == b"\x5A" * 64


def test_a_resized_structure_counts_in_full(ep):
    rsp_t, rec_t = cxlmi.struct_cxlmi_cmd_get_event_records_rsp, cxlmi.struct_cxlmi_event_record
    rsp = rsp_t()
    ctypes.resize(rsp, ctypes.sizeof(rsp_t) + 2 * ctypes.sizeof(rec_t))
    queue(ep, 0x0100, event_records_reply(5))
    assert cxlmi.cxlmi_cmd_get_event_records(
        ep, None, cxlmi.struct_cxlmi_cmd_get_event_records_req(), rsp) == 0
    recs = (rec_t * 2).from_address(ctypes.addressof(rsp) + ctypes.sizeof(rsp_t))
    assert [r.handle for r in recs] == [0x100, 0x101]


@pytest.mark.parametrize("length,sent", [(16, 64), (64, 16), (0, 8)])
def test_raw_replies_are_cut_at_the_requested_length_and_the_buffer(ep, length, sent):
    arena, view = arena_view(32)
    req = cxlmi.struct_cxlmi_cmd_get_log_req(uuid=cxlmi.CXLMI_LOG_UUID_CEL, offset=0,
                                             length=length)
    reply = bytes(range(1, sent + 1))
    queue(ep, 0x0401, reply)
    assert cxlmi.cxlmi_cmd_get_log(ep, None, req, view) == 0
    written = min(32, length, sent)
    assert arena.raw[:written] == reply[:written]
    assert arena.raw[written:96] == b"\x5A" * (96 - written)


def test_a_void_pointer_given_as_an_address_is_followed(ep):
    # ctypes.cast(buf, c_void_p) -- the usual way to pass a void * -- made the call write
    # over the pointer object itself and send its 8 bytes as the payload, returning 0
    inb = ctypes.create_string_buffer(b"\x11\x22\x33\x44", 4)
    outb = ctypes.create_string_buffer(4)
    queue(ep, 0xC001, b"\xaa\xbb\xcc\xdd")
    assert cxlmi.cxlmi_cmd_vendor_specific(
        ep, None, 0xC001, ctypes.cast(inb, ctypes.c_void_p), 4,
        ctypes.cast(outb, ctypes.c_void_p), 4) == 0
    assert last_payload(ep) == (0xC001, b"\x11\x22\x33\x44")
    assert outb.raw == b"\xaa\xbb\xcc\xdd"
    # a plain int address too, and 0 (or a NULL c_void_p) for a tunnel is no tunnel
    req = cxlmi.struct_cxlmi_cmd_get_log_req(offset=0, length=8)
    reply = bytes(range(8))
    for tunnel in (0, ctypes.c_void_p()):
        out = ctypes.create_string_buffer(8)
        queue(ep, 0x0401, reply)
        assert cxlmi.cxlmi_cmd_get_log(ep, tunnel, req, ctypes.addressof(out)) == 0
        assert out.raw == reply


def test_vendor_specific_takes_a_reply_of_exactly_ret_size_as_libcxlmi_does(ep):
    arena, view = arena_view(64)
    queue(ep, 0xC0DE, bytes(range(10)))
    assert cxlmi.cxlmi_cmd_vendor_specific(ep, None, 0xC0DE, None, 0, view, 10) == 0
    assert arena.raw[:10] == bytes(range(10))
    assert arena.raw[10:128] == b"\x5A" * 118
    # a reply longer (or shorter) than ret_size is refused, nothing written
    arena, view = arena_view(64)
    queue(ep, 0xC0DE, bytes(range(100)))
    assert cxlmi.cxlmi_cmd_vendor_specific(ep, None, 0xC0DE, None, 0, view, 10) == -1
    assert "reply payload is 100 bytes, ret_size 10" in str(ep.last_error)
    assert arena.raw[:128] == b"\x5A" * 128
    # a ret_size larger than the buffer: refused before anything is sent
    arena, view = arena_view(16)
    sent = ep.transport.commands_sent
    assert cxlmi.cxlmi_cmd_vendor_specific(ep, None, 0xC0DE, None, 0, view, 200) == -1
    assert "ret holds 16 bytes, ret_size says 200" in str(ep.last_error)
    assert ep.transport.commands_sent == sent
    assert arena.raw[:80] == b"\x5A" * 80
    # and the checks libcxlmi makes on the arguments
    assert cxlmi.cxlmi_cmd_vendor_specific(ep, None, 0x4000, None, 0, None, 0) == -1
    sent = ep.transport.commands_sent
    assert cxlmi.cxlmi_cmd_vendor_specific(ep, None, 0xBFFF, None, 0, None, 0) == -1
    assert "opcode 0xbfff is not vendor-specific (C000h-FFFFh)" in str(ep.last_error)
    assert ep.transport.commands_sent == sent
    assert cxlmi.cxlmi_cmd_vendor_specific(ep, None, 0xC0DE, None, 4, None, 0) == -1
    assert cxlmi.cxlmi_cmd_vendor_specific(ep, None, 0xC0DE, None, 0, view, 0) == -1

def test_a_bytes_request_is_sized_by_its_count_field(ep):
    # Clear Event Records as bytes: the head says 3 handles, so 6 + 3 x 2 bytes go
    # out; bytes past them are not sent, too few are refused before sending
    head = bytes((2, 0, 3, 0, 0, 0))
    handles = struct.pack("<3H", 0x10, 0x20, 0x30)
    queue(ep, 0x0101)
    assert cxlmi.cxlmi_cmd_clear_event_records(ep, None, head + handles + b"\xEE" * 4) == 0
    assert last_payload(ep) == (0x0101, head + handles)
    sent = ep.transport.commands_sent
    assert cxlmi.cxlmi_cmd_clear_event_records(ep, None, head + handles[:4]) == -1
    assert isinstance(ep.last_error, cxlmi.UsageError)
    assert str(ep.last_error) == "request holds 10 bytes, 12 needed"
    assert ep.transport.commands_sent == sent


def test_an_array_gets_only_its_own_length_whatever_buffer_it_sits_in(ep):
    arena = ctypes.create_string_buffer(96)
    ctypes.memset(arena, 0x5A, 96)
    out = (ctypes.c_char * 16).from_buffer(arena)
    req = cxlmi.struct_cxlmi_cmd_get_log_req(uuid=cxlmi.CXLMI_LOG_UUID_CEL, offset=0, length=64)
    reply = bytes(range(1, 65))
    queue(ep, 0x0401, reply)
    assert cxlmi.cxlmi_cmd_get_log(ep, None, req, out) == 0
    assert arena.raw[:16] == reply[:16]
    assert arena.raw[16:96] == b"\x5A" * 80


def test_a_bytearray_output_keeps_its_length(ep):
    out = bytearray(16)
    req = cxlmi.struct_cxlmi_cmd_get_log_req(uuid=cxlmi.CXLMI_LOG_UUID_CEL, offset=0, length=64)
    reply = bytes(range(1, 65))
    queue(ep, 0x0401, reply)
    assert cxlmi.cxlmi_cmd_get_log(ep, None, req, out) == 0
    assert out == bytearray(reply[:16])
    queue(ep, 0x0001, IDENT_A)
    out = bytearray(8)
    assert cxlmi.cxlmi_cmd_identify(ep, None, out) == 0
    assert out == bytearray(IDENT_A[:8])


def test_a_structure_inside_the_callers_structure_gets_the_room_after_its_offset(ep):
    # struct { u64 tag; get_event_records_rsp rsp; u8 room[248]; }: the reply header
    # sits at 8, so 280 bytes are its own: the 32-byte head and one 128-byte record
    rsp_t = cxlmi.struct_cxlmi_cmd_get_event_records_rsp

    class Holder(ctypes.Structure):
        _fields_ = [("tag", ctypes.c_uint64), ("rsp", rsp_t), ("room", ctypes.c_uint8 * 248)]
    size = ctypes.sizeof(Holder)
    arena, view = arena_view(size)
    holder = Holder.from_buffer(view)
    reply = event_records_reply(3)
    queue(ep, 0x0100, reply)
    req = cxlmi.struct_cxlmi_cmd_get_event_records_req(event_log=0)
    assert cxlmi.cxlmi_cmd_get_event_records(ep, None, req, holder.rsp) == 0
    assert holder.rsp.record_count == 1
    assert arena.raw[:8] == b"\x5A" * 8                               # the tag is the caller's
    assert arena.raw[40:168] == reply[32:160]                          # record 0, whole
    assert arena.raw[168:size + 64] == b"\x5A" * (size + 64 - 168)    # nothing after it


def test_another_commands_structure_is_refused_as_a_compiler_would():
    # identify's reply landed in a fw_info structure, and 8 bytes of an identify
    # reply structure went out as a timestamp, each returning 0
    ctx = cxlmi.cxlmi_new_ctx(None, 0)
    ep = cxlmi.cxlmi_open(ctx, "emu:type3")
    fw = cxlmi.struct_cxlmi_cmd_get_fw_info_rsp()
    assert cxlmi.cxlmi_cmd_identify(ep, None, fw) == -1
    assert "the reply structure is a struct_cxlmi_cmd_get_fw_info_rsp, not a " \
        "struct_cxlmi_cmd_identify_rsp" in str(ep.last_error)
    assert bytes(fw) == bytes(ctypes.sizeof(fw))                 # nothing written
    assert cxlmi.cxlmi_cmd_set_timestamp(ep, None, cxlmi.struct_cxlmi_cmd_identify_rsp()) == -1
    assert "the request is a struct_cxlmi_cmd_identify_rsp" in str(ep.last_error)
    # byte buffers stay the C caller's business, and a negative data_sz is refused
    buf = ctypes.create_string_buffer(ctypes.sizeof(cxlmi.struct_cxlmi_cmd_identify_rsp))
    assert cxlmi.cxlmi_cmd_identify(ep, None, buf) == 0 and buf.raw != bytes(len(buf))
    assert cxlmi.cxlmi_cmd_transfer_fw(ep, None, cxlmi.struct_cxlmi_cmd_transfer_fw_req(),
                                       -5) == -1
    assert "data_sz -5 is negative" in str(ep.last_error)
    cxlmi.cxlmi_free_ctx(ctx)


def test_all_answers_membership_and_leaves_a_modules_own_names_alone():
    # on a fresh import, 'Context' in __all__ was False and repr(__all__) '[]' (a lazy
    # list that filled itself only when iterated); import * laid __version__ over the
    # importer's own
    import subprocess
    import sys
    code = ("import cxlmi_bindings as c\n"
            "print('Context' in c.__all__, 'cxlmi_cmd_identify' in c.__all__,\n"
            "      repr(c.__all__) != '[]', c.__all__ == list(c.__all__))\n"
            "__version__ = 'mine'\n"
            "from cxlmi_bindings import *\n"
            "print(__version__, cxlmi_new_ctx.__name__)\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60)
    assert out.stdout.split() == ["True", "True", "True", "True", "mine",
                                  "cxlmi_new_ctx"], out.stderr


def test_every_libcxlmi_function_says_what_it_does():
    import inspect
    from cxlmi_bindings import compat
    bare = [n for n, f in inspect.getmembers(compat, inspect.isfunction)
            if n.startswith("cxlmi_") and not (f.__doc__ or "").strip()]
    assert bare == []
