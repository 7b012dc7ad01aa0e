# SPDX-License-Identifier: LGPL-2.1-or-later
"""CXL switch model: physical ports, virtual CXL switches (VCSs) with vPPBs.

The switch answers at its upstream port's CCI:

* Physical Switch command set (51xxh): Identify Switch Device, Get Physical
  Port State, Physical Port Control (assert / deassert PERST#, reset PPB),
  Send PPB CXL.io Configuration Request against an emulated PPB
  configuration space, and the domain validation secret values;
* Virtual Switch command set (52xxh): Get Virtual CXL Switch Info, Bind vPPB
  and Unbind vPPB as background operations, and Generate AER Event (a
  registry extension: libcxlmi has no function for it) into the AER
  registers of the vPPB it names (:mod:`.aer`);
* MLD Port command set (53xxh): the Tunnel Management Command to the device
  on a downstream port (an MLD there tunnels on to its LDs: switch -> MLD ->
  LD), and Send LD CXL.io Configuration / Memory Request to an LD of an MLD
  on a port.

The ``emu:switch`` profile (:func:`build`) is a small fabric; see
docs/emulator-fabric.md for it, for every constant and where it comes from,
and for the commands answered UNSUPPORTED on purpose.
"""

import time

from . import aer
from .device import Device, Reply, reply, Background, INPUT, INTERNAL, RETRY
from .mld import MLD, ConfigSpace, config_access
from ..types import fmapi as _fmapi


def _values(table, *names):
    """The values the layouts' table gives these names (the numbers live there)."""
    return tuple(table[name] for name in names)


def _bits(table, *names):
    return tuple(1 << table[name] for name in names)


# Current Port Configuration State (CXL r3.1 table 7-19; QEMU include/hw/cxl/cxl_port.h)
PORT_DISABLED, PORT_BIND_IN_PROGRESS, PORT_UNBIND_IN_PROGRESS = _values(
    _fmapi.PORT_CONFIG_STATE, "disabled", "bind-in-progress", "unbind-in-progress")
PORT_DSP, PORT_USP, PORT_FABRIC, PORT_INVALID = _values(
    _fmapi.PORT_CONFIG_STATE, "dsp", "usp", "fabric-port", "invalid-port-id")

# Connected Device Mode (formerly Connected Device CXL Version)
MODE_NOT_CXL, MODE_RCD, MODE_68B_VH, MODE_256B = _values(
    _fmapi.CONN_DEV_CXL_VERSION, "not-cxl", "rcd", "cxl-68b-flit-vh", "cxl-256b-flit")

# Connected Device Type
DEV_NONE, DEV_PCIE, DEV_TYPE1, DEV_TYPE2, DEV_TYPE3_SLD, DEV_TYPE3_MLD = _values(
    _fmapi.CONN_DEV_TYPE, "none", "pcie", "cxl-type1", "cxl-type2", "cxl-type3-sld",
    "cxl-type3-mld")

# Supported CXL Modes bitmask
SUPPORTS_RCD, SUPPORTS_68B_VH, SUPPORTS_256B = _bits(
    _fmapi.PORT_CXL_VERSIONS, "rcd", "cxl-68b-flit-vh", "cxl-256b-flit")

# LTSSM major states
LTSSM_DETECT, LTSSM_POLLING, LTSSM_CONFIGURATION, LTSSM_RECOVERY, LTSSM_L0 = _values(
    _fmapi.LTSSM_STATE, "detect", "polling", "configuration", "recovery", "l0")
LTSSM_L0S, LTSSM_L1, LTSSM_L2, LTSSM_DISABLED, LTSSM_LOOPBACK, LTSSM_HOT_RESET = _values(
    _fmapi.LTSSM_STATE, "l0s", "l1", "l2", "disabled", "loopback", "hot-reset")

# Link State Flags
LINK_LANE_REVERSED, LINK_PERST_ASSERTED, LINK_PRSNT, LINK_POWER_OFF = _bits(
    _fmapi.LINK_STATE_FLAGS, "lane-reversal", "perst-asserted", "prsnt", "power-off")

# Physical Port Control port opcodes (table 7-20)
ASSERT_PERST, DEASSERT_PERST, RESET_PPB = _values(
    _fmapi.PORT_OPCODE, "assert-perst", "deassert-perst", "reset-ppb")

# vPPB Binding Status (table 7-32)
VPPB_UNBOUND, VPPB_IN_PROGRESS, VPPB_BOUND_PORT, VPPB_BOUND_LD = _values(
    _fmapi.BINDING_STATUS, "unbound", "bind-or-unbind-in-progress", "bound-port", "bound-ld")

# VCS State
VCS_DISABLED, VCS_ENABLED, VCS_INVALID = _values(
    _fmapi.VCS_STATE, "disabled", "enabled", "invalid-vcs-id")

# Unbind options (table 7-34)
UNBIND_WAIT_LINK_DOWN, UNBIND_MANAGED_HOT_REMOVE, UNBIND_SURPRISE_HOT_REMOVE = _values(
    _fmapi.UNBIND_OPTION, "wait", "managed-hot-remove", "surprise-hot-remove")

# Supported Link Speeds Vector bits: 2.5, 5, 8, 16, 32 GT/s; Max/Current Link Speed 5 = 32 GT/s
SPEEDS_GEN5 = 0x1F
SPEED_32GT = 5

NO_LD = 0xFFFF


def _types(name):
    from .. import types
    return types.get(name)


class BridgeConfigSpace(ConfigSpace):
    """Type 1 header of a PPB with a PCIe capability kept in step with its port."""

    PCIE_CAP = 0x40

    def __init__(self, port, vendor_id, device_id):
        super().__init__(refresh=self._refresh)
        self.port = port
        self.put(0x00, 2, vendor_id)
        self.put(0x02, 2, device_id)
        self.put(0x04, 2, 0, wmask=0x0547)          # command
        self.put(0x06, 2, 0x0010)                   # status: capabilities list
        self.put(0x09, 3, 0x060400)                 # class: PCI-to-PCI bridge
        self.put(0x0E, 1, 0x01)                     # header type 1
        self.put(0x18, 3, 0, wmask=0xFFFFFF)        # primary / secondary / subordinate bus
        self.put(0x20, 8, 0, wmask=0xFFF0FFF0FFF0FFF0)  # memory and prefetchable base / limit
        self.put(0x34, 1, self.PCIE_CAP)
        self.put(0x3C, 1, 0, wmask=0xFF)            # interrupt line
        self.put(0x3E, 2, 0, wmask=0x0043)          # bridge control (incl. secondary bus reset)
        cap = self.PCIE_CAP
        port_type = 0x5 if port.is_usp else 0x6     # upstream / downstream switch port
        self.put(cap, 2, 0x0010)
        self.put(cap + 0x02, 2, 0x0002 | port_type << 4 | (0x100 if not port.is_usp else 0))
        self.put(cap + 0x08, 2, 0x2810, wmask=0xFFFF)       # device control
        self.put(cap + 0x10, 2, 0, wmask=0x0FFB)            # link control
        self.put(cap + 0x18, 2, 0, wmask=0x1FFF)            # slot control
        aer.install(self)                                   # AER at 100h, the last one

    def _refresh(self, _space):
        port, cap = self.port, self.PCIE_CAP
        # Link Capabilities: max speed 3:0, max width 9:4, port number 31:24
        self.put(cap + 0x0C, 4, port.max_speed | port.max_width << 4 | port.port_id << 24)
        width, speed = port.negotiated()
        training = 1 << 11 if port.ltssm() in (LTSSM_POLLING, LTSSM_CONFIGURATION,
                                               LTSSM_RECOVERY, LTSSM_HOT_RESET) else 0
        active = 1 << 13 if port.ltssm() == LTSSM_L0 else 0
        self.put(cap + 0x12, 2, speed | width << 4 | training | active)
        # Slot Status: presence detect state
        self.put(cap + 0x1A, 2, (1 << 6) if port.device is not None else 0)
        # Link Capabilities 2: supported link speeds vector, bits 7:1
        self.put(cap + 0x2C, 4, port.speeds << 1)


class Port:
    """One physical port: what is plugged in and the state of its link."""

    def __init__(self, switch, port_id, is_usp=False, device=None, max_width=16,
                 max_speed=SPEED_32GT, speeds=SPEEDS_GEN5, device_mode=None,
                 supported_ld_count=16):
        self.switch = switch
        self.port_id = port_id
        self.is_usp = is_usp
        self.device = device
        self.max_width = max_width
        self.max_speed = max_speed
        self.speeds = speeds
        self.supported_modes = SUPPORTS_68B_VH | SUPPORTS_256B
        if device_mode is None:
            device_mode = MODE_68B_VH if device is not None else MODE_NOT_CXL
        self.device_mode = device_mode
        self.supported_ld_count = 0 if is_usp else supported_ld_count
        self.perst = False
        self.training = None        # (clock at start, first LTSSM state) while training
        self.transition = None      # PORT_BIND_IN_PROGRESS / PORT_UNBIND_IN_PROGRESS
        self.config = BridgeConfigSpace(self, switch.vendor_id, switch.device_id)

    @property
    def is_mld(self):
        return isinstance(self.device, MLD)

    @property
    def device_type(self):
        if self.is_usp or self.device is None:
            return DEV_NONE
        return DEV_TYPE3_MLD if self.is_mld else DEV_TYPE3_SLD

    def ltssm(self):
        if self.perst:
            return LTSSM_DETECT
        if self.device is None and not self.is_usp:
            return LTSSM_DETECT
        if self.training is not None:
            started, first = self.training
            elapsed = self.switch.clock() - started
            steps = (first, LTSSM_POLLING, LTSSM_CONFIGURATION)
            duration = self.switch.train_seconds
            if elapsed < duration - 1e-9:
                return steps[min(2, int(3 * elapsed / duration))] if duration else LTSSM_L0
            self.training = None
        return LTSSM_L0

    def link_up(self):
        return self.ltssm() == LTSSM_L0

    def negotiated(self):
        """(negotiated width, current speed), zero while the link is down."""
        if self.link_up():
            return self.max_width, self.max_speed
        return 0, 0

    def train(self, first):
        self.training = (self.switch.clock(), first)

    def info_block(self, block):
        block.port_id = self.port_id
        if self.is_usp:
            block.config_state = PORT_USP
        else:
            block.config_state = self.transition or PORT_DSP
            block.conn_dev_cxl_ver = self.device_mode if self.device is not None else 0
            block.conn_dev_type = self.device_type
            block.supported_ld_count = self.supported_ld_count
        block.port_cxl_ver_bitmask = self.supported_modes
        block.max_link_width = self.max_width
        width, speed = self.negotiated()
        block.negotiated_link_width = width
        block.supported_link_speeds_vector = self.speeds
        block.max_link_speed = self.max_speed
        block.current_link_speed = speed
        block.ltssm_state = self.ltssm()
        block.first_lane_num = 0
        flags = LINK_PERST_ASSERTED if self.perst else 0
        if self.is_usp or self.device is not None:
            flags |= LINK_PRSNT
        block.link_state = flags


class VPPB:
    __slots__ = ("status", "port", "ld", "pending", "aer")

    def __init__(self):
        self.status = VPPB_UNBOUND
        self.port = None
        self.ld = None
        self.pending = None
        self.aer = None             # its own AER registers, made on first use

    def own_registers(self):
        """The vPPB's own AER registers: used while it is not bound to a
        whole physical port (unbound, or bound to an LD of an MLD)."""
        if getattr(self, "aer", None) is None:
            self.aer = ConfigSpace()
            aer.install(self.aer)
        return self.aer


class PortOperation:
    """A Bind or Unbind vPPB under way: the vPPB and port states it leaves behind.

    Its :meth:`finish` and :meth:`abort` are the background operation's
    ``finish`` and ``on_abort``.  Being methods of an emulator object, not
    closures, they are data a state file (``--state``, the workers' shared
    state) can hold: the operation is saved whole and completes or aborts
    after a load, and a finished one does not stop the switch being saved.
    """

    def __init__(self, vppb, port, done, undone, transition):
        self.vppb = vppb
        self.port = port
        self.done = done                # (status, port id, LD) once it completes
        self.undone = undone            # (status, port id, LD) if it is aborted
        self.transition = transition   # the port's configuration state after either

    def _leave(self, binding):
        v = self.vppb
        v.status, v.port, v.ld = binding
        v.pending = None
        self.port.transition = self.transition

    def finish(self):
        self._leave(self.done)

    def abort(self):
        self._leave(self.undone)


class VCS:
    def __init__(self, vcs_id, usp, vppbs):
        self.vcs_id = vcs_id
        self.usp = usp
        self.state = VCS_ENABLED
        self.vppbs = [VPPB() for _ in range(vppbs)]
        self.secret = None          # domain validation secret value (16 bytes) once set


class Switch(Device):
    """A CXL switch with FM-API support; its CCI sits on the upstream port.

    ``ports`` maps port id -> device (``None`` for an empty downstream port);
    ``usp`` is the upstream port's id.  ``vcss`` is a list of
    ``(usp_port, number_of_vppbs)``.  Bind and unbind take
    ``bind_seconds``; a reset or PERST# release retrains the link for
    ``train_seconds``; both on the injectable ``clock``.
    """

    component_type = 0x00       # switch
    device_id = 0x05C0
    subsys_vendor_id = 0        # QEMU: subsystem IDs are not defined for a USP
    subsys_id = 0
    serial = 0x5357000000000000

    def __init__(self, ports, usp=0, vcss=((0, 8),), serial=None, clock=time.monotonic,
                 bind_seconds=0.05, train_seconds=0.02, hdm_decoders=4, usp_width=16,
                 dsp_width=8, device_modes=None):
        super().__init__(clock=clock)
        if serial is not None:
            self.serial = serial
        self.bind_seconds = bind_seconds
        self.train_seconds = train_seconds
        self.hdm_decoders = hdm_decoders
        device_modes = dict(device_modes or {})
        self.ports = {}
        for port_id in sorted(set(ports) | {usp}):
            if port_id == usp:
                self.ports[port_id] = Port(self, port_id, is_usp=True, max_width=usp_width)
            else:
                self.ports[port_id] = Port(self, port_id, device=ports[port_id],
                                           max_width=dsp_width,
                                           device_mode=device_modes.get(port_id))
        self.usp = usp
        self.vcss = [VCS(i, vcs_usp, n) for i, (vcs_usp, n) in enumerate(vcss)]
        self.aer_events = 0         # Generate AER Event commands carried out
        self.last_aer_event = None  # what the last one did (a dict)

    # ---------------------------------------------------------------- lookups
    def port(self, port_id, what="port"):
        port = self.ports.get(port_id)
        if port is None:
            raise Reply(INPUT, "%s %d does not exist" % (what, port_id))
        return port

    def vcs(self, vcs_id):
        if not 0 <= vcs_id < len(self.vcss):
            raise Reply(INPUT, "VCS %d does not exist" % vcs_id)
        return self.vcss[vcs_id]

    def vppb(self, vcs_id, vppb_id):
        vcs = self.vcs(vcs_id)
        if not 0 <= vppb_id < len(vcs.vppbs):
            raise Reply(INPUT, "VCS %d has no vPPB %d" % (vcs_id, vppb_id))
        return vcs.vppbs[vppb_id]

    def bindings(self, port_id):
        """vPPBs bound to (or binding) ``port_id``: [(vppb, ld or None)]."""
        out = []
        for vcs in self.vcss:
            for v in vcs.vppbs:
                target = v.pending if v.status == VPPB_IN_PROGRESS else (v.port, v.ld)
                if target is not None and target[0] == port_id and v.status != VPPB_UNBOUND:
                    out.append((v, target[1]))
        return out

    def bind_initial(self, vcs_id, vppb_id, port_id, ld_id=None):
        """Set up a binding at build time (no background operation)."""
        v = self.vppb(vcs_id, vppb_id)
        v.status = VPPB_BOUND_LD if ld_id is not None else VPPB_BOUND_PORT
        v.port, v.ld = port_id, ld_id

    def _settle(self):
        """Let a finished background operation land before reporting state."""
        self.bg_busy()

    # ---------------------------------------------------------------- tunnels
    def tunnel_target(self, target_type, ident):
        port = self.ports.get(ident)
        if target_type != 0 or port is None or port.is_usp or port.device is None:
            return None
        if port.perst:
            raise Reply(INPUT, "port %d is held in reset (PERST#)" % ident)
        if not port.link_up():
            raise Reply(RETRY, "port %d is training its link" % ident)
        return port.device

    # ---------------------------------------------------------------- 51xxh: physical switch
    def cmd_fmapi_identify_sw_device(self):
        self._settle()
        rsp = _types("cmd_fmapi_identify_sw_device_rsp")()
        rsp.ingress_port_id = self.usp
        rsp.num_physical_ports = len(self.ports)
        rsp.num_vcs = len(self.vcss)
        for port_id in self.ports:
            rsp.active_port_bitmask[port_id // 8] |= 1 << (port_id % 8)
        for vcs in self.vcss:
            if vcs.state == VCS_ENABLED:
                rsp.active_vcs_bitmask[vcs.vcs_id // 8] |= 1 << (vcs.vcs_id % 8)
        rsp.num_total_vppb = sum(len(v.vppbs) for v in self.vcss)
        rsp.num_active_vppb = sum(1 for vcs in self.vcss for v in vcs.vppbs
                                  if v.status in (VPPB_BOUND_PORT, VPPB_BOUND_LD))
        rsp.num_hdm_decoder_per_usp = self.hdm_decoders
        return rsp

    def cmd_fmapi_get_phys_port_state(self, req):
        self._settle()
        cls = _types("cmd_fmapi_get_phys_port_state_rsp")
        count = req.num_ports
        block_size = 16
        if cls.fixed_size() + count * block_size > 1 << self.response_msg_limit:
            raise Reply(INPUT, "%d port blocks do not fit the response message limit" % count)
        # Built by hand, not by reply(): each port model writes its own info block in place.
        rsp = cls.sized(count)()
        rsp.num_ports = count
        for i in range(count):
            self.port(req.ports[i]).info_block(rsp.ports[i])
        return rsp

    def cmd_fmapi_phys_port_control(self, req):
        port = self.port(req.ppb_id, "PPB")
        op = req.port_opcode
        if op == ASSERT_PERST:
            if port.perst:
                raise Reply(INTERNAL, "PERST# is already asserted on port %d" % port.port_id)
            port.perst = True
            port.training = None
            self._reset_device(port)
        elif op == DEASSERT_PERST:
            if not port.perst:
                raise Reply(INTERNAL, "PERST# is not asserted on port %d" % port.port_id)
            port.perst = False
            port.train(LTSSM_DETECT)
        elif op == RESET_PPB:
            if port.perst:
                raise Reply(INTERNAL, "port %d is held in PERST#" % port.port_id)
            self._reset_device(port)
            port.train(LTSSM_HOT_RESET)
        else:
            raise Reply(INPUT, "port opcode %d is reserved" % op)

    @staticmethod
    def _reset_device(port):
        reset = getattr(port.device, "reset", None)
        if callable(reset):
            reset()

    def _ppb_unbound_or_mld(self, port, what):
        if port.is_usp:
            return
        if self.bindings(port.port_id) and not port.is_mld:
            raise Reply(INPUT, "%s: port %d is bound; only unbound and MLD ports take it"
                        % (what, port.port_id))

    def cmd_fmapi_send_ppb_cxlio_config_request(self, req):
        port = self.port(req.ppb_id, "PPB")
        self._ppb_unbound_or_mld(port, "PPB config request")
        data = config_access(port.config, req.field_1, req.transaction_data)
        return _types("cmd_fmapi_send_ppb_cxlio_config_request_rsp")(return_data=data)

    def _ingress_vcs(self):
        for vcs in self.vcss:
            if vcs.usp == self.usp:
                return vcs
        return self.vcss[0]

    def cmd_fmapi_get_domain_validation_sv_state(self):
        vcs = self._ingress_vcs()
        return _types("cmd_fmapi_get_domain_validation_sv_state_rsp")(
            secret_value_state=int(vcs.secret is not None))

    def cmd_fmapi_set_domain_validation_sv(self, req):
        vcs = self._ingress_vcs()
        if vcs.secret is not None:
            raise Reply(INPUT, "the secret value of VCS %d is already set" % vcs.vcs_id)
        vcs.secret = bytes(req.secret_value_uuid)

    def cmd_fmapi_get_vcs_domain_validation_sv_state(self, req):
        vcs = self.vcs(req.vcs_id)
        return _types("cmd_fmapi_get_vcs_domain_validation_sv_state_rsp")(
            secret_value_state=int(vcs.secret is not None))

    def cmd_fmapi_get_domain_validation_sv(self, req):
        vcs = self.vcs(req.vcs_id)
        rsp = _types("cmd_fmapi_get_domain_validation_sv_rsp")()
        rsp.secret_value_uuid = vcs.secret or bytes(16)
        return rsp

    # ---------------------------------------------------------------- 52xxh: virtual switch
    def cmd_fmapi_get_vcs_info(self, req):
        self._settle()
        if req.vppb_list_limit < 1 or req.num_vcs < 1:
            raise Reply(INPUT, "vPPB list limit and number of VCSs must be at least 1")
        # Each block's num_vppbs is the VCS's total; it carries only the requested page.
        block_cls, vppb_cls = _types("cmd_fmapi_vcs_info_block"), _types("cmd_fmapi_vppb_info")
        out = [bytes(_types("cmd_fmapi_get_vcs_info_rsp")(num_vcs=req.num_vcs))]
        for i in range(req.num_vcs):
            vcs_id = req.vcs_id_list[i]
            if not 0 <= vcs_id < len(self.vcss):
                out.append(bytes(block_cls(vcs_id=vcs_id, vcs_state=VCS_INVALID, usp_id=0xFF)))
                continue
            vcs = self.vcss[vcs_id]
            page = vcs.vppbs[req.start_vppb:req.start_vppb + max(0, req.vppb_list_limit)]
            block = block_cls.sized(len(page))(vcs_id=vcs.vcs_id, vcs_state=vcs.state,
                                               usp_id=vcs.usp, num_vppbs=len(vcs.vppbs))
            for n, v in enumerate(page):
                port = v.port if v.status in (VPPB_BOUND_PORT, VPPB_BOUND_LD) else 0xFF
                ld = v.ld if v.status == VPPB_BOUND_LD else 0xFF
                block.vppbs[n] = vppb_cls(binding_status=v.status, bound_port_id=port,
                                          bound_ld_id=ld)
            out.append(bytes(block))
        payload = b"".join(out)
        if len(payload) > 1 << self.response_msg_limit:
            raise Reply(INPUT, "the VCS information does not fit the response message limit")
        return payload

    def cmd_fmapi_bind_vppb(self, req):
        v = self.vppb(req.vcs_id, req.vppb_id)
        if v.status != VPPB_UNBOUND:
            raise Reply(INPUT, "vPPB %d of VCS %d is not unbound" % (req.vppb_id, req.vcs_id))
        port = self.port(req.port_id)
        if port.is_usp:
            raise Reply(INPUT, "port %d is an upstream port" % port.port_id)
        existing = self.bindings(port.port_id)
        if port.is_mld:
            ld = req.ld_id
            if ld >= port.device.ld_count:
                raise Reply(INPUT, "the MLD on port %d has no LD %d" % (port.port_id, ld))
            if any(bound_ld == ld for _, bound_ld in existing):
                raise Reply(INPUT, "LD %d on port %d is already bound" % (ld, port.port_id))
        else:
            # LD ID "must be FFFFh for other EP types"; any value is taken as that.
            ld = None
            if existing:
                raise Reply(INPUT, "port %d is already bound" % port.port_id)
        return self._start_binding(v, port, ld)

    def _start_binding(self, v, port, ld):
        op = PortOperation(v, port, (VPPB_BOUND_LD if ld is not None else VPPB_BOUND_PORT,
                                     port.port_id, ld),
                           (VPPB_UNBOUND, v.port, v.ld), port.transition)
        v.status, v.pending = VPPB_IN_PROGRESS, (port.port_id, ld)
        port.transition = PORT_BIND_IN_PROGRESS
        return Background(self.bind_seconds, finish=op.finish, on_abort=op.abort)

    def cmd_fmapi_unbind_vppb(self, req):
        v = self.vppb(req.vcs_id, req.vppb_id)
        option = req.option & 0x0F
        if option > UNBIND_SURPRISE_HOT_REMOVE:
            raise Reply(INPUT, "unbind option %d is reserved" % option)
        if v.status not in (VPPB_BOUND_PORT, VPPB_BOUND_LD):
            raise Reply(INPUT, "vPPB %d of VCS %d is not bound" % (req.vppb_id, req.vcs_id))
        port = self.ports[v.port]
        op = PortOperation(v, port, (VPPB_UNBOUND, None, None), (v.status, v.port, v.ld), None)
        v.status, v.pending = VPPB_IN_PROGRESS, (v.port, v.ld)
        port.transition = PORT_UNBIND_IN_PROGRESS
        return Background(self.bind_seconds, finish=op.finish, on_abort=op.abort)

    def _aer_registers(self, vcs_id, instance):
        """(config space, description) holding vPPB ``instance``'s AER registers.

        Instance 0 is the VCS's upstream vPPB: the PPB of its upstream port.
        Instance n is downstream vPPB n - 1 (as Bind vPPB and Get Virtual CXL
        Switch Info number them): bound to a physical port, the vPPB is that
        port's PPB (r3.1 7.2.1.2: the PPB's functionality maps directly to
        the vPPB); unbound, or bound to an LD of an MLD (AER status is kept
        per vPPB there, 7.2.7), it has registers of its own.
        """
        vcs = self.vcs(vcs_id)
        if vcs.state != VCS_ENABLED:
            raise Reply(INPUT, "VCS %d is not enabled" % vcs_id)
        if instance == 0:
            return self.ports[vcs.usp].config, "PPB of upstream port %d" % vcs.usp
        if not 1 <= instance <= len(vcs.vppbs):
            raise Reply(INPUT, "VCS %d has no vPPB instance %d (0 is the upstream vPPB, "
                        "1-%d the downstream ones)" % (vcs_id, instance, len(vcs.vppbs)))
        v = vcs.vppbs[instance - 1]
        if v.status == VPPB_IN_PROGRESS:
            raise Reply(RETRY, "a bind or unbind of vPPB instance %d is in progress" % instance)
        if v.status == VPPB_BOUND_PORT:
            return self.ports[v.port].config, "PPB of port %d" % v.port
        where = "bound to LD %d on port %d" % (v.ld, v.port) if v.status == VPPB_BOUND_LD \
            else "unbound"
        return v.own_registers(), "own registers of downstream vPPB %d (%s)" % (
            instance - 1, where)

    def cmd_fmapi_generate_aer_event(self, req):
        """Generate AER Event (5203h), r3.1 7.6.7.2.4 / table 7-35."""
        self._settle()
        space, where = self._aer_registers(req.vcs_id, req.vppb_instance)
        uncorrectable = bool(req.aer_error >> 31)
        bit = req.aer_error & 0x1F          # bits 30:5 are reserved: ignored
        if not aer.supported(uncorrectable, bit):
            raise Reply(INPUT, "bit %d of the AER %s Error Status register is not an error "
                        "the model implements" % (bit, "Uncorrectable" if uncorrectable
                                                   else "Correctable"))
        header = bytes(req.aer_header)
        outcome = aer.record(space, uncorrectable, bit, header)
        self.aer_events = getattr(self, "aer_events", 0) + 1
        self.last_aer_event = dict(outcome, vcs_id=req.vcs_id, vppb_instance=req.vppb_instance,
                                   severity="uncorrectable" if uncorrectable else "correctable",
                                   status_bit=bit, header=header, registers=where)

    # ---------------------------------------------------------------- 53xxh: MLD port
    def _mld_ld(self, port_id, ld_id, what):
        port = self.port(port_id)
        if not port.is_mld:
            raise Reply(INPUT, "%s: port %d has no MLD" % (what, port_id))
        if not port.link_up():
            raise Reply(INPUT, "%s: the link of port %d is down" % (what, port_id))
        port.device.ld(ld_id)
        if any(bound_ld == ld_id for _, bound_ld in self.bindings(port_id)):
            raise Reply(INPUT, "%s: LD %d on port %d is bound" % (what, ld_id, port_id))
        return port.device

    def cmd_fmapi_send_ld_cxlio_config_request(self, req):
        mld = self._mld_ld(req.ppb_id, req.ld_id, "LD config request")
        data = mld.ld_config(req.ld_id, req.field_1, req.transaction_data)
        return _types("cmd_fmapi_send_ld_cxlio_config_request_rsp")(return_data=data)

    def cmd_fmapi_send_ld_cxlio_mem_request(self, req):
        # On the wire the spec's layout (LD ID at 04h, data at 10h); the
        # framework hands it over in libcxlmi's structure (codec's wire
        # translation), whose 2-byte field_1 holds the spec's bits 23:8:
        # first dword byte enable in field_1[0] bits 7:4, last in field_1[1]
        # bits 3:0, transaction type (1 = write) in field_1[1] bit 7.
        mld = self._mld_ld(req.port_id, req.ld_id, "LD memory request")
        is_write = bool(req.field_1[1] & 0x80)
        length = req.transaction_len
        data = bytes(req.transaction_data) if is_write else None
        result = mld.ld_memory(req.ld_id, req.transaction_addr, length, data)
        # Return Size is the length asked for, also on a write, which returns no data.
        return reply("fmapi_send_ld_cxlio_mem_request", return_size=length, return_data=result)


# ------------------------------------------------------------------ the profile

def _dcd(clock, serial):
    try:
        from . import dcd
    except ImportError:         # the DCD model is optional: port 3 stays empty without it
        return None
    return dcd.build(clock=clock, serial=serial)


def build(clock=time.monotonic, bind_seconds=0.05, train_seconds=0.02, mld_lds=4, **options):
    """The ``emu:switch`` profile.

    Port 0 upstream (x16); downstream x8 ports: 1 a Type 3 SLD, 2 a 4-LD MLD,
    3 a DCD, 4-7 empty.  One VCS (0) on port 0 with 8 vPPBs; vPPB 0 is bound
    to port 1, the others are unbound.  Options go to :class:`Switch`.
    """
    from .type3 import Type3
    sld = Type3(serial=0x534C440000000001, clock=clock)
    mld = MLD(lds=mld_lds, serial=0x4D4C440000000000, clock=clock)
    dcd = _dcd(clock, 0x4443440000000001)
    ports = {1: sld, 2: mld, 3: dcd, 4: None, 5: None, 6: None, 7: None}
    switch = Switch(ports, usp=0, vcss=((0, 8),), clock=clock, bind_seconds=bind_seconds,
                    train_seconds=train_seconds, device_modes={3: MODE_256B}, **options)
    switch.bind_initial(0, 0, 1)
    return switch
