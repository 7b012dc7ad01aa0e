# SPDX-License-Identifier: LGPL-2.1-or-later
"""The DCD and MHD emulator models, driven through the library.

DCD: the FM offers capacity (Initiate DC Add), the host sees it in its
dynamic capacity event log and accepts it (Add DC Response), both extent
lists show it; the FM asks for it back (Initiate DC Release), the host
releases it (Release DC), both lists lose it.  Tags, references, selection
and removal policies, and the return codes misuse gets.

MHD: the LD pool CCI behind ``Tunnel.mhd()`` reports heads and the LD map;
the head itself is a Type 3 device.
"""

import struct

import pytest

from cxlmi_bindings.endpoint import Context
from cxlmi_bindings.errors import DeviceError
from cxlmi_bindings.tunnel import Tunnel
from cxlmi_bindings.transports.emulated import EmulatedTransport
from cxlmi_bindings.emulator import dcd as dcd_model
from cxlmi_bindings.emulator.dcd import DCD
from cxlmi_bindings.emulator.mhd import MHD
from cxlmi_bindings.emulator import device as dev

MiB = 1 << 20
GiB = 1 << 30
BLOCK = 2 * MiB
REGION0 = 2 * GiB          # the Type 3 defaults: 1 GiB volatile + 1 GiB persistent before it
REGION1 = 3 * GiB
TAG_A = b"tag-A".ljust(16, b"\0")
TAG_B = b"tag-B".ljust(16, b"\0")

INPUT, UNSUPPORTED, PADDR = dev.INPUT, dev.UNSUPPORTED, dev.PADDR
RESOURCEEXHAUSTED, EXTLIST, HANDLE = dev.RESOURCEEXHAUSTED, dev.EXTLIST, dev.HANDLE


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def ctx():
    with Context() as c:
        yield c


@pytest.fixture
def ep(ctx):
    return ctx.open("emu:dcd")


def open_dcd(ctx, **options):
    device = DCD(**options)
    return ctx.open_transport(EmulatedTransport("dcd", device=device)), device


def code_of(call, *args, **kwargs):
    with pytest.raises(DeviceError) as info:
        call(*args, **kwargs)
    return info.value.return_code


def ext(start, length, tag=b""):
    return {"start_dpa": start, "len": length, "tag": tag}


def host_extents(ep, start=0, count=64):
    rsp = ep.memdev_get_dc_extent_list(extent_cnt=count, start_extent_idx=start)
    return [(e.start_dpa, e.len) for e in rsp.extents], rsp


def fm_extents(ep, start=0, count=64):
    rsp = ep.fmapi_get_dc_region_ext_list(host_id=0, extent_count=count, start_ext_index=start)
    return [(e.start_dpa, e.len) for e in rsp.extents], rsp


def dc_events(ep):
    """(handle, type, flags, start, length, tag, region) of every DC event record."""
    rsp = ep.get_event_records(event_log=4)
    out = []
    for rec in rsp.records:
        assert bytes(rec.uuid) == dcd_model.DC_EVENT_UUID
        data = bytes(rec.data)
        start, length, tag = struct.unpack_from("<QQ16s", data, 8)
        out.append((rec.handle, data[0], data[5], start, length, tag, data[4]))
    return out


def clear_events(ep):
    handles = [e[0] for e in dc_events(ep)]
    if handles:
        ep.clear_event_records(event_log=4, clear_flags=0, handles=handles)


def add(ep, extents=(), policy=dcd_model.POLICY_PRESCRIPTIVE, region=0, length=0, tag=b""):
    ep.fmapi_initiate_dc_add(host_id=0, selection_policy=policy, region_num=region,
                             length=length, tag=tag, extents=list(extents))


def update(ranges):
    return [{"start_dpa": s, "len": n} for s, n in ranges]


def accept(ep, ranges, flags=0):
    ep.memdev_add_dc_response(flags=flags, extents=update(ranges))


def release(ep, ranges):
    ep.memdev_release_dc(flags=0, extents=update(ranges))


# ---------------------------------------------------------------- configuration

def test_dc_config_pages_regions_and_puts_the_trailer_after_the_returned_ones(ep):
    cfg = ep.memdev_get_dc_config(region_cnt=8, start_region_id=0)
    assert (cfg.num_regions, cfg.regions_returned) == (2, 2)
    r0, r1 = cfg.region_configs[0], cfg.region_configs[1]
    assert (r0.base, r0.region_len, r0.block_size, r0.decode_len) == (REGION0, GiB, BLOCK, 4)
    assert (r1.base, r1.dsmadhandle) == (REGION1, 1)
    assert (cfg.num_extents_supported, cfg.num_extents_available) == (512, 512)
    assert (cfg.num_tags_supported, cfg.num_tags_available) == (16, 16)

    page = ep.memdev_get_dc_config(region_cnt=1, start_region_id=1)
    assert (page.num_regions, page.regions_returned) == (2, 1)
    assert page.region_configs[0].base == REGION1
    assert page.num_extents_supported == 512         # trailer read right after region 1
    raw = ep.vendor_specific(0x4800, bytes([1, 1]))
    assert len(raw) == 8 + 40 + 16

    assert code_of(ep.memdev_get_dc_config, region_cnt=1, start_region_id=2) == INPUT


def test_fm_side_reports_dcd_info_and_host_region_config_in_spec_units(ep):
    info = ep.fmapi_get_dcd_info()
    assert info.num_hosts == 1 and info.num_supported_dc_regions == 2
    assert info.total_dynamic_capacity == 8          # 2 GiB in 256 MiB units
    assert info.capacity_selection_policies == 0b1111
    assert info.capacity_removal_policies == 0b11
    assert info.region_0_supported_blk_sz_mask & BLOCK
    assert info.region_2_supported_blk_sz_mask == 0

    cfg = ep.fmapi_get_dc_reg_config(host_id=0, region_cnt=8, start_region_id=0)
    assert (cfg.num_regions, cfg.regions_returned) == (2, 2)
    assert cfg.region_configs[1].base == REGION1 and cfg.region_configs[1].decode_len == 4
    assert cfg.num_extents_available == 512 and cfg.num_tags_available == 16
    assert code_of(ep.fmapi_get_dc_reg_config, host_id=1, region_cnt=1,
                   start_region_id=0) == INPUT


def test_set_region_config_changes_block_size_and_posts_a_region_event(ep):
    ep.fmapi_set_dc_region_config(region_id=1, block_sz=64 * MiB, sanitize_on_release=1)
    cfg = ep.memdev_get_dc_config(region_cnt=1, start_region_id=1)
    assert cfg.region_configs[0].block_size == 64 * MiB
    assert cfg.region_configs[0].flags & 1             # sanitize on release
    fm = ep.fmapi_get_dc_reg_config(host_id=0, region_cnt=1, start_region_id=1)
    assert fm.region_configs[0].sanitize_on_release == 1
    [event] = dc_events(ep)
    assert event[1] == dcd_model.EVENT_REGION_CONFIG_UPDATED and event[6] == 1

    for bad in (0, 3 * MiB, 4 * MiB):                 # not a power of two / not in the mask
        assert code_of(ep.fmapi_set_dc_region_config, region_id=0, block_sz=bad,
                       sanitize_on_release=0) == INPUT
    assert code_of(ep.fmapi_set_dc_region_config, region_id=2, block_sz=BLOCK,
                   sanitize_on_release=0) == INPUT
    add(ep, [ext(REGION0, BLOCK)])
    assert code_of(ep.fmapi_set_dc_region_config, region_id=0, block_sz=64 * MiB,
                   sanitize_on_release=0) == UNSUPPORTED


# ---------------------------------------------------------------- add, accept, release

def test_dc_add_is_offered_by_event_then_accepted_into_both_extent_lists(ep):
    gen0 = host_extents(ep)[1].generation_num
    add(ep, [ext(REGION0, 4 * MiB), ext(REGION0 + 16 * MiB, BLOCK)])

    events = dc_events(ep)
    assert [(e[1], e[2], e[3], e[4]) for e in events] == [
        (dcd_model.EVENT_ADD_CAPACITY, 1, REGION0, 4 * MiB),       # "more" set
        (dcd_model.EVENT_ADD_CAPACITY, 0, REGION0 + 16 * MiB, BLOCK)]
    assert host_extents(ep)[0] == [] and fm_extents(ep)[0] == []   # offered, not yet held
    cfg = ep.memdev_get_dc_config(region_cnt=1, start_region_id=0)
    assert cfg.num_extents_available == 510                        # pending ones count

    accept(ep, [(REGION0, 4 * MiB), (REGION0 + 16 * MiB, BLOCK)])
    held, rsp = host_extents(ep)
    assert held == [(REGION0, 4 * MiB), (REGION0 + 16 * MiB, BLOCK)]
    assert rsp.total_num_extents == 2 and rsp.generation_num == gen0 + 1
    fm, frsp = fm_extents(ep)
    assert fm == held and frsp.total_extents == 2 and frsp.list_generation_num == gen0 + 1

    clear_events(ep)
    assert dc_events(ep) == []


def test_dc_release_is_requested_by_event_and_gone_from_both_lists_after_release(ep):
    add(ep, [ext(REGION0, 8 * MiB)])
    accept(ep, [(REGION0, 8 * MiB)])
    clear_events(ep)

    ep.fmapi_initiate_dc_release(host_id=0, flags=dcd_model.REMOVAL_PRESCRIPTIVE,
                                 extents=[ext(REGION0 + 2 * MiB, 4 * MiB)])
    [event] = dc_events(ep)
    assert event[1:5] == (dcd_model.EVENT_RELEASE_CAPACITY, 0, REGION0 + 2 * MiB, 4 * MiB)
    assert host_extents(ep)[0] == [(REGION0, 8 * MiB)]             # still held until released

    gen = host_extents(ep)[1].generation_num
    release(ep, [(REGION0 + 2 * MiB, 4 * MiB)])
    held, rsp = host_extents(ep)
    assert sorted(held) == [(REGION0, BLOCK), (REGION0 + 6 * MiB, BLOCK)]   # split around it
    assert rsp.generation_num == gen + 1
    assert sorted(fm_extents(ep)[0]) == sorted(held)

    release(ep, held)
    assert host_extents(ep)[0] == [] and fm_extents(ep)[0] == []
    cfg = ep.memdev_get_dc_config(region_cnt=1, start_region_id=0)
    assert cfg.num_extents_available == 512


def test_forced_release_drops_capacity_at_once(ep):
    add(ep, [ext(REGION1, 4 * MiB)])
    accept(ep, [(REGION1, 4 * MiB)])
    clear_events(ep)
    ep.fmapi_initiate_dc_release(host_id=0, flags=dcd_model.REMOVAL_PRESCRIPTIVE
                                 | dcd_model.FORCED_REMOVAL, extents=[ext(REGION1, 4 * MiB)])
    assert host_extents(ep)[0] == [] and fm_extents(ep)[0] == []
    [event] = dc_events(ep)
    assert event[1] == dcd_model.EVENT_FORCED_RELEASE
    add(ep, [ext(REGION1, 4 * MiB)])                                # the range is free again


def test_host_may_decline_an_offer_and_accept_part_of_one(ep):
    add(ep, [ext(REGION0, 4 * MiB)])
    ep.memdev_add_dc_response(flags=0, extents=[])                  # declines everything
    assert host_extents(ep)[0] == []
    assert code_of(accept, ep, [(REGION0, 4 * MiB)]) == INPUT      # nothing pending any more

    add(ep, [ext(REGION0, 8 * MiB)])
    accept(ep, [(REGION0, BLOCK)], flags=1)                         # "more" responses follow
    accept(ep, [(REGION0 + 4 * MiB, BLOCK)])                        # last one closes the offer
    assert host_extents(ep)[0] == [(REGION0, BLOCK), (REGION0 + 4 * MiB, BLOCK)]
    add(ep, [ext(REGION0 + 2 * MiB, BLOCK)])                        # the rest went back: free


def test_free_and_contiguous_policies_choose_capacity_in_the_region(ctx):
    ep, device = open_dcd(ctx, regions=1, region_size=256 * MiB, block_size=BLOCK)
    base = device.regions[0].base
    add(ep, [ext(base + 2 * MiB, 2 * MiB)])                         # a hole at the start
    add(ep, policy=dcd_model.POLICY_FREE, region=0, length=6 * MiB)
    offered = [(e[3], e[4]) for e in dc_events(ep)][1:]
    assert offered == [(base, 2 * MiB), (base + 4 * MiB, 4 * MiB)]  # around the taken block

    add(ep, policy=dcd_model.POLICY_CONTIGUOUS, region=0, length=16 * MiB)
    last = dc_events(ep)[-1]
    assert (last[3], last[4]) == (base + 8 * MiB, 16 * MiB)

    assert code_of(add, ep, policy=dcd_model.POLICY_CONTIGUOUS, region=0,
                   length=256 * MiB) == RESOURCEEXHAUSTED
    assert code_of(add, ep, policy=dcd_model.POLICY_FREE, region=0,
                   length=512 * MiB) == RESOURCEEXHAUSTED
    assert code_of(add, ep, policy=dcd_model.POLICY_FREE, region=0, length=3 * MiB) == INPUT
    assert code_of(add, ep, policy=dcd_model.POLICY_FREE, region=0, length=0) == INPUT
    assert code_of(add, ep, policy=dcd_model.POLICY_FREE, region=1, length=BLOCK) == INPUT
    assert code_of(add, ep, policy=7, region=0, length=BLOCK) == INPUT


# ---------------------------------------------------------------- misuse

def test_misuse_gets_the_dc_return_codes(ctx):
    ep, _ = open_dcd(ctx, max_extents=3)
    assert code_of(add, ep, [ext(REGION0 + MiB, BLOCK)]) == EXTLIST          # misaligned
    assert code_of(add, ep, [ext(REGION0, 3 * MiB)]) == EXTLIST              # partial block
    assert code_of(add, ep, [ext(REGION0, 0)]) == EXTLIST                    # empty
    assert code_of(add, ep, [ext(REGION0, 4 * MiB),
                             ext(REGION0 + BLOCK, BLOCK)]) == EXTLIST        # overlapping
    assert code_of(add, ep, [ext(GiB, BLOCK)]) == PADDR                      # static capacity
    assert code_of(add, ep, [ext(REGION1 - BLOCK, 4 * MiB)]) == PADDR        # spans regions
    assert code_of(add, ep, []) == INPUT
    assert code_of(ep.fmapi_initiate_dc_add, host_id=1, selection_policy=2, region_num=0,
                   length=0, tag=b"", extents=[ext(REGION0, BLOCK)]) == INPUT
    assert code_of(add, ep, [ext(REGION0 + i * BLOCK, BLOCK) for i in range(4)]) \
        == RESOURCEEXHAUSTED                                                 # 3 tracked at most

    add(ep, [ext(REGION0, 4 * MiB)])
    assert code_of(add, ep, [ext(REGION0 + BLOCK, BLOCK)]) == EXTLIST        # already offered
    assert code_of(accept, ep, [(REGION0 + 4 * MiB, BLOCK)]) == PADDR        # not offered
    assert code_of(accept, ep, [(REGION0 + MiB, BLOCK)]) == EXTLIST          # misaligned
    accept(ep, [(REGION0, 4 * MiB)])
    assert code_of(add, ep, [ext(REGION0, BLOCK)]) == EXTLIST                # already held

    assert code_of(release, ep, []) == INPUT
    assert code_of(release, ep, [(REGION0 + 4 * MiB, BLOCK)]) == PADDR       # not held
    assert code_of(release, ep, [(REGION0, BLOCK), (REGION0, BLOCK)]) == EXTLIST
    assert code_of(ep.fmapi_initiate_dc_release, host_id=0, flags=1,
                   extents=[ext(REGION1, BLOCK)]) == PADDR                   # host has none
    assert code_of(ep.fmapi_initiate_dc_release, host_id=0, flags=5,
                   extents=[ext(REGION0, BLOCK)]) == INPUT                   # no such policy
    assert code_of(ep.fmapi_get_dc_region_ext_list, host_id=3, extent_count=1,
                   start_ext_index=0) == INPUT
    assert code_of(ep.memdev_get_dc_extent_list, extent_cnt=1, start_extent_idx=2) == INPUT
    assert host_extents(ep)[0] == [(REGION0, 4 * MiB)]                       # nothing changed


def test_release_that_splits_past_the_extent_limit_is_refused(ctx):
    ep, _ = open_dcd(ctx, max_extents=2)
    add(ep, [ext(REGION0, 12 * MiB)])
    accept(ep, [(REGION0, 12 * MiB)])
    release(ep, [(REGION0 + 2 * MiB, BLOCK)])                                # 2 extents now
    assert code_of(release, ep, [(REGION0 + 6 * MiB, BLOCK)]) == RESOURCEEXHAUSTED
    release(ep, [(REGION0 + 10 * MiB, BLOCK)])                               # trims, no split
    assert host_extents(ep)[0] == [(REGION0, BLOCK), (REGION0 + 4 * MiB, 6 * MiB)]


def test_extent_lists_page_by_start_and_count(ep):
    add(ep, [ext(REGION0 + i * 4 * MiB, BLOCK) for i in range(5)])
    accept(ep, [(REGION0 + i * 4 * MiB, BLOCK) for i in range(5)])
    page, rsp = host_extents(ep, start=1, count=2)
    assert page == [(REGION0 + 4 * MiB, BLOCK), (REGION0 + 8 * MiB, BLOCK)]
    assert rsp.num_extents_returned == 2 and rsp.total_num_extents == 5
    page, rsp = fm_extents(ep, start=4, count=10)
    assert page == [(REGION0 + 16 * MiB, BLOCK)] and rsp.start_ext_index == 4
    assert host_extents(ep, start=5)[0] == []


# ---------------------------------------------------------------- tags and references

def test_tagged_allocation_is_listed_with_its_host_references(ep):
    add(ep, [ext(REGION1, 4 * MiB)], tag=TAG_A)
    tags = ep.fmapi_dc_list_tags(start_idx=0, tags_count=8)
    assert tags.total_num_tags == 1 and tags.validity_bitmap == 0x3
    entry = tags.tags_list[0]
    assert bytes(entry.tag) == TAG_A
    assert entry.pending_ref_bitmap[0] == 1 and entry.ref_bitmap[0] == 0
    assert dc_events(ep)[0][5] == TAG_A                                    # tag in the record

    accept(ep, [(REGION1, 4 * MiB)])
    rsp = ep.memdev_get_dc_extent_list(extent_cnt=4, start_extent_idx=0)
    assert bytes(rsp.extents[0].tag) == TAG_A
    entry = ep.fmapi_dc_list_tags(start_idx=0, tags_count=8).tags_list[0]
    assert entry.ref_bitmap[0] == 1 and entry.pending_ref_bitmap[0] == 0
    cfg = ep.memdev_get_dc_config(region_cnt=1, start_region_id=0)
    assert cfg.num_tags_available == 15

    assert code_of(add, ep, [ext(REGION1 + 8 * MiB, BLOCK)], tag=TAG_A) == INPUT  # tag in use
    release(ep, [(REGION1, 4 * MiB)])
    assert ep.fmapi_dc_list_tags(start_idx=0, tags_count=8).total_num_tags == 0


def test_a_reference_keeps_tagged_capacity_until_removed(ep):
    add(ep, [ext(REGION1, 4 * MiB)], tag=TAG_B)
    accept(ep, [(REGION1, 4 * MiB)])
    gen = ep.fmapi_dc_list_tags(start_idx=0, tags_count=8).generation_num
    ep.fmapi_dc_add_reference(tag=TAG_B)
    tags = ep.fmapi_dc_list_tags(start_idx=0, tags_count=8)
    assert tags.tags_list[0].flags == 1 and tags.generation_num > gen

    release(ep, [(REGION1, 4 * MiB)])                      # the host lets go ...
    tags = ep.fmapi_dc_list_tags(start_idx=0, tags_count=8)
    assert tags.total_num_tags == 1 and tags.tags_list[0].ref_bitmap[0] == 0
    assert code_of(add, ep, [ext(REGION1, BLOCK)]) == EXTLIST   # ... but the capacity is kept

    clear_events(ep)
    add(ep, policy=dcd_model.POLICY_SHARED, tag=TAG_B)       # offer it to the host again
    assert [(e[3], e[4], e[5]) for e in dc_events(ep)] == [(REGION1, 4 * MiB, TAG_B)]
    accept(ep, [(REGION1, 4 * MiB)])
    assert host_extents(ep)[0] == [(REGION1, 4 * MiB)]
    assert code_of(add, ep, policy=dcd_model.POLICY_SHARED, tag=TAG_B) == INPUT

    ep.fmapi_dc_remove_reference(tag=TAG_B)
    assert code_of(ep.fmapi_dc_remove_reference, tag=TAG_B) == INPUT     # none left
    clear_events(ep)
    ep.fmapi_initiate_dc_release(host_id=0, flags=dcd_model.REMOVAL_TAG_BASED, tag=TAG_B)
    assert [(e[1], e[3], e[4]) for e in dc_events(ep)] == [
        (dcd_model.EVENT_RELEASE_CAPACITY, REGION1, 4 * MiB)]
    release(ep, [(REGION1, 4 * MiB)])
    assert ep.fmapi_dc_list_tags(start_idx=0, tags_count=8).total_num_tags == 0
    add(ep, [ext(REGION1, BLOCK)])                            # freed for good


def test_references_and_tag_policies_refuse_unknown_tags(ctx):
    ep, _ = open_dcd(ctx, max_tags=1)
    for call in (ep.fmapi_dc_add_reference, ep.fmapi_dc_remove_reference):
        assert code_of(call, tag=TAG_A) == INPUT
        assert code_of(call, tag=b"") == INPUT
    assert code_of(ep.fmapi_initiate_dc_release, host_id=0, flags=0, tag=TAG_A) == INPUT
    assert code_of(add, ep, policy=dcd_model.POLICY_SHARED, tag=TAG_A) == INPUT
    add(ep, [ext(REGION0, BLOCK)], tag=TAG_A)
    assert code_of(add, ep, [ext(REGION0 + BLOCK, BLOCK)], tag=TAG_B) == RESOURCEEXHAUSTED
    assert code_of(ep.fmapi_dc_list_tags, start_idx=2, tags_count=1) == INPUT


def test_forced_tag_based_release_takes_pending_and_held_capacity(ep):
    add(ep, [ext(REGION0, BLOCK)], tag=TAG_A)
    accept(ep, [(REGION0, BLOCK)])
    add(ep, [ext(REGION0 + BLOCK, BLOCK)], tag=TAG_B)
    ep.fmapi_initiate_dc_release(host_id=0, flags=dcd_model.FORCED_REMOVAL, tag=TAG_A)
    assert host_extents(ep)[0] == []
    tags = ep.fmapi_dc_list_tags(start_idx=0, tags_count=8)
    assert [bytes(t.tag) for t in tags.tags_list] == [TAG_B]


def test_a_reference_dropped_while_the_host_holds_part_of_a_tag_frees_the_rest(ep):
    add(ep, [ext(REGION1, BLOCK), ext(REGION1 + 4 * MiB, BLOCK)], tag=TAG_A)
    accept(ep, [(REGION1, BLOCK), (REGION1 + 4 * MiB, BLOCK)])
    ep.fmapi_dc_add_reference(tag=TAG_A)
    release(ep, [(REGION1, BLOCK)])                          # retained for the reference
    assert code_of(add, ep, [ext(REGION1, BLOCK)]) == EXTLIST
    ep.fmapi_dc_remove_reference(tag=TAG_A)                  # host still holds the other
    add(ep, [ext(REGION1, BLOCK)])                           # the retained block is free


def test_retained_capacity_the_host_declines_stays_retained(ep):
    add(ep, [ext(REGION1, BLOCK)], tag=TAG_B)
    accept(ep, [(REGION1, BLOCK)])
    ep.fmapi_dc_add_reference(tag=TAG_B)
    release(ep, [(REGION1, BLOCK)])
    add(ep, policy=dcd_model.POLICY_SHARED, tag=TAG_B)
    ep.memdev_add_dc_response(flags=0, extents=[])           # the host declines the re-offer
    assert code_of(add, ep, [ext(REGION1, BLOCK)]) == EXTLIST
    add(ep, policy=dcd_model.POLICY_SHARED, tag=TAG_B)       # still there to offer again


def test_forced_tag_release_withdraws_a_pending_offer(ep):
    add(ep, [ext(REGION0, BLOCK)], tag=TAG_A)
    ep.fmapi_initiate_dc_release(host_id=0, flags=dcd_model.FORCED_REMOVAL, tag=TAG_A)
    assert code_of(accept, ep, [(REGION0, BLOCK)]) == INPUT  # nothing pending any more
    add(ep, [ext(REGION0, BLOCK)])


def test_a_pending_range_cannot_be_released_and_a_used_tag_not_reused(ep):
    add(ep, [ext(REGION0, BLOCK)], tag=TAG_A)
    assert code_of(ep.fmapi_initiate_dc_release, host_id=0,
                   flags=dcd_model.REMOVAL_PRESCRIPTIVE, extents=[ext(REGION0, BLOCK)]) == PADDR
    assert code_of(add, ep, policy=dcd_model.POLICY_FREE, region=1, length=BLOCK,
                   tag=TAG_A) == INPUT
    assert [e[1] for e in dc_events(ep)] == [dcd_model.EVENT_ADD_CAPACITY]


def test_contiguous_add_may_take_a_whole_free_region(ctx):
    ep, device = open_dcd(ctx, regions=1, region_size=256 * MiB, block_size=BLOCK)
    add(ep, policy=dcd_model.POLICY_CONTIGUOUS, region=0, length=256 * MiB)
    assert [(e[3], e[4]) for e in dc_events(ep)] == [(device.regions[0].base, 256 * MiB)]


def test_setting_the_region_config_it_already_has_is_no_change(ep):
    add(ep, [ext(REGION0, BLOCK)])
    ep.fmapi_set_dc_region_config(region_id=0, block_sz=BLOCK, sanitize_on_release=0)
    assert [e[1] for e in dc_events(ep)] == [dcd_model.EVENT_ADD_CAPACITY]


# ---------------------------------------------------------------- the event log

def test_dc_event_records_carry_the_device_timestamp_and_clear_by_handle(ctx):
    clock = FakeClock()
    ep, _ = open_dcd(ctx, clock=clock)
    ep.set_timestamp(timestamp=5_000_000_000)
    clock.now += 2.0
    add(ep, [ext(REGION0, BLOCK)])
    rec = ep.get_event_records(event_log=4).records[0]
    assert rec.timestamp == 7_000_000_000 and rec.length == 128
    assert rec.flags[0] & 0x3 == 0                                          # informational
    assert code_of(ep.clear_event_records, event_log=4, clear_flags=0,
                   handles=[rec.handle + 100]) == HANDLE
    ep.clear_event_records(event_log=4, clear_flags=0, handles=[rec.handle])
    assert ep.get_event_records(event_log=4).record_count == 0


def test_dc_event_log_overflows_and_clears_all(ctx):
    ep, _ = open_dcd(ctx, dc_event_log_size=2)
    add(ep, [ext(REGION0 + i * BLOCK * 2, BLOCK) for i in range(3)])
    rsp = ep.get_event_records(event_log=4)
    assert rsp.record_count == 2 and rsp.flags & 1 and rsp.overflow_err_count == 1
    ep.clear_event_records(event_log=4, clear_flags=1, handles=[])
    rsp = ep.get_event_records(event_log=4)
    assert rsp.record_count == 0 and not rsp.flags & 1


def test_every_dc_command_is_implemented_and_mhd_commands_are_not(ep):
    names = {e.name for e in DCD.implemented()}
    dc = {"memdev_get_dc_config", "memdev_get_dc_extent_list", "memdev_add_dc_response",
          "memdev_release_dc", "fmapi_get_dcd_info", "fmapi_get_dc_reg_config",
          "fmapi_set_dc_region_config", "fmapi_get_dc_region_ext_list",
          "fmapi_initiate_dc_add", "fmapi_initiate_dc_release", "fmapi_dc_add_reference",
          "fmapi_dc_remove_reference", "fmapi_dc_list_tags"}
    assert dc <= names
    assert not {"fmapi_get_multiheaded_info", "fmapi_get_head_info"} & names
    assert code_of(ep.fmapi_get_head_info, start_head=0, num_heads=1) == UNSUPPORTED


def test_a_dcd_is_also_a_type3_with_a_roomier_dc_event_log(ep):
    ident = ep.memdev_identify()
    assert ident.dc_event_log_size == 64
    assert ident.total_capacity == 8                     # the 2 GiB of static capacity
    assert ep.get_event_records(event_log=0).record_count == 0
    part = ep.memdev_get_partition_info()
    assert (part.active_vmem, part.active_pmem) == (4, 4)


# ---------------------------------------------------------------- MHD

def test_mhd_pool_cci_reports_heads_and_the_ld_map(ctx):
    ep = ctx.open("emu:mhd")
    info = ep.fmapi_get_multiheaded_info(start_ld_id=0, ld_map_list_limit=8, tunnel=Tunnel.mhd())
    assert (info.num_lds, info.num_heads, info.ld_map_len) == (2, 2, 2)
    assert list(info.ld_map) == [0, 1]
    heads = ep.fmapi_get_head_info(start_head=0, num_heads=2, tunnel=Tunnel.mhd())
    assert heads.num_heads == 2
    assert [h.port_num for h in heads.head_info_list] == [0, 1]
    h0 = heads.head_info_list[0]
    assert (h0.field_1, h0.field_2, h0.ltssm_state) == (16, 16, 4)       # x16, x16, L0
    pool = ep.identify(tunnel=Tunnel.mhd())
    assert pool.component_type == 0x03
    ld_info = ep.fmapi_get_ld_info(tunnel=Tunnel.mhd())
    assert ld_info.ld_count == 2 and ld_info.memory_size == 2 * GiB


def test_mhd_pages_the_ld_map_and_head_list(ctx):
    device = MHD(heads=3, lds=6, ld_map=[0, 1, 2, 0, 1, 2],
                 head_info={2: {"port_num": 9, "negotiated_link_width": 8}})
    ep = ctx.open_transport(EmulatedTransport("mhd", device=device.endpoint))
    info = ep.fmapi_get_multiheaded_info(start_ld_id=2, ld_map_list_limit=3, tunnel=Tunnel.mhd())
    assert (info.num_lds, info.num_heads, info.start_ld_id) == (6, 3, 2)
    assert list(info.ld_map) == [2, 0, 1]
    tail = ep.fmapi_get_multiheaded_info(start_ld_id=5, ld_map_list_limit=9, tunnel=Tunnel.mhd())
    assert list(tail.ld_map) == [2]
    assert code_of(ep.fmapi_get_multiheaded_info, start_ld_id=6, ld_map_list_limit=1,
                   tunnel=Tunnel.mhd()) == INPUT
    heads = ep.fmapi_get_head_info(start_head=2, num_heads=1, tunnel=Tunnel.mhd())
    assert heads.head_info_list[0].port_num == 9 and heads.head_info_list[0].field_2 == 8
    assert code_of(ep.fmapi_get_head_info, start_head=3, num_heads=1,
                   tunnel=Tunnel.mhd()) == INPUT
    assert code_of(ep.fmapi_get_head_info, start_head=1, num_heads=3,
                   tunnel=Tunnel.mhd()) == INPUT
    alloc = ep.fmapi_get_ld_allocations(start_ld_id=4, ld_allocation_list_limit=8,
                                        tunnel=Tunnel.mhd())
    assert (alloc.number_ld, alloc.ld_allocation_list_len) == (6, 2)
    assert alloc.ld_allocation_list[0].range_1_allocation_mult == 4        # 1 GiB / 256 MiB


def test_mhd_pool_refuses_ids_one_past_the_end_and_reports_each_heads_link(ctx):
    device = MHD(heads=2, head_info={1: {"link_state_flags": 0x2}})
    ep = ctx.open_transport(EmulatedTransport("mhd", device=device.endpoint))
    assert code_of(ep.identify, tunnel=Tunnel([(1, 0), (0, 2)])) == INPUT     # LDs 0-1
    assert code_of(ep.fmapi_get_ld_allocations, start_ld_id=2, ld_allocation_list_limit=1,
                   tunnel=Tunnel.mhd()) == INPUT
    alloc = ep.fmapi_get_ld_allocations(start_ld_id=1, ld_allocation_list_limit=4,
                                        tunnel=Tunnel.mhd())
    assert (alloc.start_ld_id, alloc.ld_allocation_list_len) == (1, 1)
    heads = ep.fmapi_get_head_info(start_head=0, num_heads=2, tunnel=Tunnel.mhd())
    assert [(h.field_4, h.field_5) for h in heads.head_info_list] == [(6, 5), (6, 5)]
    assert [h.link_state_flags for h in heads.head_info_list] == [0, 0x2]


def test_mhd_head_answers_as_a_type3_and_the_pool_tunnels_to_each_ld(ctx):
    ep = ctx.open("emu:mhd")
    ident = ep.identify()
    assert ident.component_type == 0x03
    assert code_of(ep.fmapi_get_multiheaded_info, start_ld_id=0,
                   ld_map_list_limit=1) == UNSUPPORTED              # only the pool CCI has it
    ld1 = ep.identify(tunnel=Tunnel([(1, 0), (0, 1)]))
    assert ld1.serial_num == ident.serial_num + 1
    assert code_of(ep.identify, tunnel=Tunnel([(1, 0), (0, 7)])) == INPUT
    mem = ep.memdev_identify()                                       # head 0's LD: 1 GiB
    assert mem.total_capacity * 256 * MiB == GiB
    assert ep.memdev_identify(tunnel=Tunnel([(1, 0), (0, 1)])).total_capacity * 256 * MiB == GiB


def test_libcxlmi_compatible_calls_reach_the_dcd_and_the_mhd_pool():
    import ctypes
    import cxlmi_bindings as cxlmi
    ctx = cxlmi.cxlmi_new_ctx(None, 6)
    try:
        dcd_ep = cxlmi.cxlmi_open(ctx, "emu:dcd")
        cfg = cxlmi.struct_cxlmi_cmd_memdev_get_dc_config_rsp()
        req = cxlmi.struct_cxlmi_cmd_memdev_get_dc_config_req(region_cnt=1, start_region_id=1)
        assert cxlmi.cxlmi_cmd_memdev_get_dc_config(dcd_ep, None, req, cfg) == 0
        assert (cfg.regions_returned, cfg.region_configs[0].base) == (1, REGION1)
        assert cfg.num_extents_supported == 512
        info = cxlmi.struct_cxlmi_cmd_fmapi_get_dcd_info_rsp()
        assert cxlmi.cxlmi_cmd_fmapi_get_dcd_info(dcd_ep, None, info) == 0
        assert info.total_dynamic_capacity == 8

        mhd_ep = cxlmi.cxlmi_open(ctx, "emu:mhd")
        buf = (ctypes.c_uint8 * 64)()
        rsp = cxlmi.struct_cxlmi_cmd_fmapi_get_head_info_rsp.from_buffer(buf)
        req = cxlmi.struct_cxlmi_cmd_fmapi_get_head_info_req(start_head=0, num_heads=2)
        assert cxlmi.cxlmi_cmd_fmapi_get_head_info(mhd_ep, cxlmi.cxlmi_tunnel_mhd(), req, rsp) == 0
        assert rsp.num_heads == 2
        assert cxlmi.cxlmi_cmd_fmapi_get_head_info(mhd_ep, None, req, rsp) == UNSUPPORTED
    finally:
        cxlmi.cxlmi_free_ctx(ctx)


def test_the_switch_fabric_reaches_its_dcd_on_port_3(ctx):
    ep = ctx.open("emu:switch")
    port3 = Tunnel.switch(3)
    assert ep.fmapi_get_dcd_info(tunnel=port3).num_supported_dc_regions == 2
    ep.fmapi_initiate_dc_add(host_id=0, selection_policy=dcd_model.POLICY_CONTIGUOUS,
                             region_num=1, length=8 * MiB, tunnel=port3)
    [record] = ep.get_event_records(event_log=4, tunnel=port3).records
    start, length = struct.unpack_from("<QQ", bytes(record.data), 8)
    ep.memdev_add_dc_response(flags=0, extents=update([(start, length)]), tunnel=port3)
    held = ep.memdev_get_dc_extent_list(extent_cnt=4, start_extent_idx=0, tunnel=port3)
    fm = ep.fmapi_get_dc_region_ext_list(host_id=0, extent_count=4, start_ext_index=0,
                                         tunnel=port3)
    assert [(e.start_dpa, e.len) for e in held.extents] == [(start, length)]
    assert [(e.start_dpa, e.len) for e in fm.extents] == [(start, length)]
