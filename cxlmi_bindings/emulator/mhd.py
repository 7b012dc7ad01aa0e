# SPDX-License-Identifier: LGPL-2.1-or-later
"""Multi-headed device (MHD) model: several heads, an LD pool, one pool CCI.

The device has N heads (default 2), each a CXL link to its own host, and a
pool of logical devices (default one per head) assigned to heads by the LD
map.  Every LD is a full Type 3 state (:class:`HeadLD`).

What a host sees on a head is the Type 3 mailbox of that head's LD: the
``emu:mhd`` endpoint is head 0's LD, answering every Type 3 command.  The
fabric manager reaches the **LD pool CCI** (:class:`MHD`) with a Tunnel
Management command of target type 1 (``Tunnel.mhd()``); the pool CCI
answers Identify, Get Multi-Headed Info (5500h), Get Head Info (5501h),
Get LD Info (5400h), Get LD Allocations (5401h) and the timestamp commands,
and tunnels on (target type 0, id = LD) to any LD of the pool.

Paging follows the QEMU MHD work (hw/cxl/mhsld): a start LD or start head
past the end is INPUT; the LD map is cut at the list limit and the end of the
pool.  Get Head Info also refuses a window that runs past the last head
(INPUT), as the spec requires and QEMU's review asked for.
"""

from .device import Device, Reply, reply, INPUT
from .type3 import Type3
from .. import tunnel as _tunnel, types

MiB = 1 << 20
GiB = 1 << 30
ALLOC_UNIT = 256 * MiB           # Get LD Allocations granularity code 0

# LTSSM state encoding of the FM-API port / head state blocks
LTSSM_DETECT, LTSSM_L0, LTSSM_DISABLED = 0x0, 0x4, 0x8
# Link speeds: PCIe encoding 1 = 2.5 GT/s ... 6 = 64 GT/s; vector bit n-1 per speed
SPEED_32GT, SPEED_64GT = 5, 6


class Head:
    """One head's link, as Get Head Info reports it."""

    def __init__(self, port_num, max_link_width=16, negotiated_link_width=16,
                 supported_link_speeds=0x3F, max_link_speed=SPEED_64GT,
                 current_link_speed=SPEED_32GT, ltssm_state=LTSSM_L0, first_lane=0,
                 link_state_flags=0):
        self.port_num = port_num
        self.max_link_width = max_link_width
        self.negotiated_link_width = negotiated_link_width
        self.supported_link_speeds = supported_link_speeds
        self.max_link_speed = max_link_speed
        self.current_link_speed = current_link_speed
        self.ltssm_state = ltssm_state
        self.first_lane = first_lane
        self.link_state_flags = link_state_flags


class HeadLD(Type3):
    """An LD of the pool: a Type 3 device; its tunnel type 1 reaches the pool CCI."""

    def __init__(self, mhd, ld_id, **kwargs):
        super().__init__(**kwargs)
        self.mhd = mhd
        self.ld_id = ld_id

    def tunnel_target(self, target_type, ident):
        if target_type == _tunnel.TARGET_LD_POOL_CCI:
            return self.mhd
        return super().tunnel_target(target_type, ident)


class MHD(Device):
    """The multi-headed device as its LD pool CCI sees it."""

    component_type = 0x03
    device_id = 0x0D4D

    def __init__(self, heads=2, lds=None, ld_map=None, ld_size=1 * GiB,
                 serial=0x4D48440000000001, head_info=None, clock=None, **ld_options):
        kwargs = {} if clock is None else {"clock": clock}
        super().__init__(**kwargs)
        if not 1 <= heads <= 32:
            raise ValueError("an MHD has 1 to 32 heads, not %d" % heads)
        lds = heads if lds is None else lds
        if not 1 <= lds <= 255:
            raise ValueError("an MHD has 1 to 255 LDs, not %d" % lds)
        if ld_map is None:
            ld_map = [i % heads for i in range(lds)]
        ld_map = list(ld_map)
        if len(ld_map) != lds or any(not 0 <= h < heads for h in ld_map):
            raise ValueError("the LD map needs one head number (0..%d) per LD" % (heads - 1))
        if ld_size % ALLOC_UNIT:
            raise ValueError("LD size must be a multiple of 256 MiB")
        self.serial = serial
        self.heads = []
        for i in range(heads):
            info = dict((head_info or {}).get(i, {}))
            info.setdefault("port_num", i)
            info.setdefault("first_lane", 0)
            self.heads.append(Head(**info))
        self.ld_map = ld_map
        self.ld_size = ld_size
        ld_options.setdefault("persistent_bytes", 0)
        ld_options.update(kwargs)
        # each LD a Type 3 of its own, serials numbered after the device's (as the MLD does)
        self.lds = [HeadLD(self, i, serial=serial + 1 + i, volatile_bytes=ld_size, **ld_options)
                    for i in range(lds)]

    # ---------------------------------------------------------------- topology
    def head_ld(self, head):
        """The LD a host on ``head`` talks to: the lowest LD mapped to it."""
        for ld_id, owner in enumerate(self.ld_map):
            if owner == head:
                return self.lds[ld_id]
        return None

    @property
    def endpoint(self):
        return self.head_ld(0)

    def tunnel_target(self, target_type, ident):
        if target_type == _tunnel.TARGET_PORT_OR_LD and ident < len(self.lds):
            return self.lds[ident]
        return None

    # ---------------------------------------------------------------- 55xxh
    def cmd_fmapi_get_multiheaded_info(self, req):
        total = len(self.lds)
        if req.start_ld_id >= total:
            raise Reply(INPUT, "start LD %d of %d" % (req.start_ld_id, total))
        chosen = self.ld_map[req.start_ld_id:req.start_ld_id + req.ld_map_list_limit]
        return reply("fmapi_get_multiheaded_info", num_lds=total, num_heads=len(self.heads),
                     start_ld_id=req.start_ld_id, ld_map=chosen)

    def cmd_fmapi_get_head_info(self, req):
        total = len(self.heads)
        if req.start_head >= total or req.start_head + req.num_heads > total:
            raise Reply(INPUT, "heads %d..%d asked, the device has %d"
                        % (req.start_head, req.start_head + req.num_heads - 1, total))
        chosen = self.heads[req.start_head:req.start_head + req.num_heads]
        return reply("fmapi_get_head_info", head_info_list=[{
            "port_num": head.port_num,
            "field_1": head.max_link_width,
            "field_2": head.negotiated_link_width,
            "field_3": head.supported_link_speeds,
            "field_4": head.max_link_speed,
            "field_5": head.current_link_speed,
            "ltssm_state": head.ltssm_state,
            "first_negotiated_lane_num": head.first_lane,
            "link_state_flags": head.link_state_flags,
        } for head in chosen])

    # ---------------------------------------------------------------- 54xxh (read side)
    def cmd_fmapi_get_ld_info(self):
        return types.get("cmd_fmapi_get_ld_info_rsp")(
            memory_size=self.ld_size * len(self.lds), ld_count=len(self.lds),
            qos_telemetry_capability=0)

    def cmd_fmapi_get_ld_allocations(self, req):
        total = len(self.lds)
        if req.start_ld_id >= total:
            raise Reply(INPUT, "start LD %d of %d" % (req.start_ld_id, total))
        chosen = self.lds[req.start_ld_id:req.start_ld_id + req.ld_allocation_list_limit]
        return reply("fmapi_get_ld_allocations", number_ld=total,
                     memory_granularity=0,            # 256 MiB
                     start_ld_id=req.start_ld_id,
                     ld_allocation_list=[{"range_1_allocation_mult": self.ld_size // ALLOC_UNIT,
                                          "range_2_allocation_mult": 0} for _ in chosen])


def build(**options):
    """The ``emu:mhd`` profile: head 0's LD of a 2-head, 2-LD device."""
    return MHD(**options).endpoint
