# SPDX-License-Identifier: LGPL-2.1-or-later
"""How a reply becomes JSON and table sections.

Most replies need nothing here: :func:`generic` makes a key/value section of
a structure's scalar fields and a row section for each list in it.  The few
replies people read as something else -- firmware slots, the Command Effects
Log, VCS bindings, poison ranges, per-LD lists -- have a view in ``VIEWS``
(registry name -> function) or a row layout in ``ROWS`` (element structure ->
function).
"""

import ctypes

from cxlmi_bindings import types
from cxlmi_bindings.types import fmapi as fmapi_types
from cxlmi_bindings.types.meaning import human_size

from . import decode
from ..spec import cel_uuid


class Section:
    """Something a table output draws."""
    title = None


class Pairs(Section):
    """A key/value section."""

    def __init__(self, title, pairs):
        self.title, self.pairs = title, pairs


class Rows(Section):
    """A table section: column names and rows of cell strings."""

    def __init__(self, title, columns, rows):
        self.title, self.columns, self.rows = title, columns, rows


class Hexdump(Section):
    def __init__(self, title, data, base=0):
        self.title, self.data, self.base = title, bytes(data), base


class Note(Section):
    def __init__(self, text):
        self.text = text


# ----------------------------------------------------------------------- JSON

def _is_cel_log(request):
    if not request:
        return False
    uuid = request.get("uuid")
    return uuid is not None and bytes(uuid) == cel_uuid()


def _meaning(struct, field):
    """What a field of one of the reply structures means (declared with its layout)."""
    return types.get(struct).meaning(field)


def cel_array(data):
    """Raw CEL bytes -> the Get Log (CEL) reply structures, whole 4-byte entries."""
    entry = types.get("cmd_get_log_cel_rsp")
    n = len(data) // ctypes.sizeof(entry)
    return (entry * n).from_buffer_copy(data[:n * ctypes.sizeof(entry)])


def result_json(entry, result, request=None):
    """The ``result`` member of the JSON document."""
    if result is None:
        return None
    if isinstance(result, (bytes, bytearray, memoryview)):
        data = bytes(result)
        out = {"length": len(data), "data": data.hex()}
        if entry.name == "get_log" and _is_cel_log(request):
            out["entries"] = decode.to_json(cel_array(data))
        return out
    if entry.name == "get_log_cel":
        return {"entries": decode.to_json(result)}
    return decode.to_json(result)


# ----------------------------------------------------------------------- tables

def sections(entry, result, request=None, inv=None):
    if result is None:
        where = inv.where if inv is not None else ""
        if inv is not None and inv.background:
            return [Note("%s: started in the background on %s; follow it with `cxl-mi generic "
                         "bg-op-status %s`" % (entry.cli_name, where, inv.target))]
        done = "%s: done on %s" % (entry.cli_name, where)
        target = inv.target if inv is not None else ""
        if target.startswith("emu:"):
            # a fresh device per command: say so where a change seems to have stuck
            done += ("; an %s device lasts one command, so the change is gone now (`cxl-mi "
                     "emulate --profile %s` serves one that keeps it)" % (target, target[4:]))
        return [Note(done)]
    view = VIEWS.get(entry.name)
    if view is not None:
        return view(result, request)
    if isinstance(result, (bytes, bytearray, memoryview)):
        base = (request or {}).get("offset", 0) if isinstance(request, dict) else 0
        return [Hexdump("%d bytes" % len(result), result, base if isinstance(base, int) else 0)]
    return generic(result)


def generic(obj, title=None):
    """A structure: scalars as key/value, each list of structures as rows."""
    if isinstance(obj, ctypes.Array):
        return [rows_of(list(obj), title)]
    sname = decode.short_name(type(obj))
    pairs, lists = [], []
    for name, value in decode.fields(obj):
        if isinstance(value, list) or (isinstance(value, ctypes.Array) and
                                       issubclass(value._type_, ctypes.Structure)):
            lists.append((name, list(value)))
        elif isinstance(value, ctypes.Structure):
            for sub, subval in decode.fields(value):
                pairs.append(("%s.%s" % (name, sub), decode.text(type(value), sub, subval)))
        elif _is_tail(obj, name) and isinstance(value, ctypes.Array) \
                and value._type_ is not ctypes.c_uint8:
            lists.append((name, list(value)))
        elif _is_tail(obj, name) and isinstance(value, ctypes.Array) and \
                TAIL_ROWS.get((sname, name)):
            lists.append((name, list(value)))
        else:
            pairs.append((name, decode.text(type(obj), name, value)))
    out = [Pairs(title, pairs)] if pairs else []
    for name, items in lists:
        layout = TAIL_ROWS.get((sname, name))
        if layout is not None:
            out.append(layout(obj, items))
        else:
            out.append(rows_of(items, name))
    return out


def _is_tail(obj, name):
    flex = getattr(type(obj), "_flex_", None)
    return flex is not None and flex[0] == name


def rows_of(items, title=None):
    if not items:
        return Rows(title, ["(none)"], [])
    first = items[0]
    if not isinstance(first, ctypes.Structure):
        return Rows(title, ["index", "value"], [[str(i), str(v)] for i, v in enumerate(items)])
    sname = decode.short_name(type(first))
    layout = ROWS.get(sname)
    if layout is not None:
        columns = None
        rows = []
        for item in items:
            row = layout(item)
            columns = list(row)
            rows.append([row[c] for c in columns])
        return Rows(title, columns, rows)
    columns = [n for n, v in decode.fields(first)]
    rows = [[decode.text(type(item), n, v) for n, v in decode.fields(item)] for item in items]
    return Rows(title, columns, rows)


# ----------------------------------------------------------------------- row layouts

def _media_row(addr, length):
    info = _meaning("media_error_record", "media_error_address").decode(addr)
    start = info["address"]                 # bytes: the DPA
    nbytes = _meaning("media_error_record", "media_error_length").decode(length)
    return {"start": "0x%x" % start, "end": "0x%x" % (start + nbytes - 1 if nbytes else start),
            "length": human_size(nbytes), "source": info["source"] or "0x%x" % (addr & 7)}


def _event_row(r):
    flags = _meaning("event_record", "flags").decode(bytes(r.flags))
    kind = _meaning("event_record", "uuid").decode(bytes(r.uuid))
    return {"handle": str(r.handle), "type": kind["name"] or kind["uuid"],
            "severity": flags["severity"] or "-", "flags": ", ".join(flags["flags"]) or "-",
            "timestamp": _meaning("event_record", "timestamp").text(r.timestamp), "related": str(r.related_handle),
            "ld": str(r.ld_id), "head": str(r.head_id)}


def _cel_row(opcode, effects):
    return {"opcode": "%04Xh" % opcode,
            "command": _meaning("cmd_get_log_cel_rsp", "opcode").decode(opcode),
            "effects": _meaning("cmd_get_log_cel_rsp", "command_effect").text(effects)}


def _port_row(p):
    t = lambda f: decode.text(type(p), f, getattr(p, f))  # noqa: E731
    return {"port": str(p.port_id), "state": t("config_state"), "device": t("conn_dev_type"),
            "cxl": t("conn_dev_cxl_ver"),
            "width": "x%d/x%d" % (p.negotiated_link_width, p.max_link_width),
            # no current speed while the link is down (0 is no speed the spec names)
            "speed": "%s/%s" % (t("current_link_speed") if p.current_link_speed else "down",
                                t("max_link_speed")),
            "ltssm": t("ltssm_state"), "lds": str(p.supported_ld_count),
            "link": t("link_state")}


ROWS = {
    "memdev_media_err_record": lambda r: _media_row(r.media_err_addr, r.media_err_len),
    "media_error_record": lambda r: _media_row(r.media_error_address, r.media_error_length),
    "event_record": _event_row,
    "cmd_get_log_cel_rsp": lambda e: _cel_row(e.opcode, e.command_effect),
    "cmd_fmapi_port_state_info_block": _port_row,
    "supported_log_entry": lambda e: {
        "log": decode.text(type(e), "uuid", e.uuid),
        "size": human_size(e.log_size)},
    "dc_extent": lambda e: {"start": "0x%x" % e.start_dpa, "length": human_size(e.len),
                            "tag": decode.text(type(e), "tag", e.tag) if any(bytes(e.tag)) else "-",
                            "shared_seq": str(e.shared_seq)},
    "dc_extent_update": lambda e: {"start": "0x%x" % e.start_dpa, "length": human_size(e.len)},
}


def _fraction_rows(title):
    def layout(obj, items):
        return Rows(title, ["ld", "fraction", "percent"],
                    [[str(obj.start_ld_id + i), "%d/256" % v, "%.1f %%" % (v * 100.0 / 256)]
                     for i, v in enumerate(items)])
    return layout


def _ld_alloc_rows(obj, items):
    gran = fmapi_types.LD_GRANULARITY_BYTES.get(getattr(obj, "memory_granularity", 0),
                                                fmapi_types.CAPACITY_UNIT)
    return Rows("allocations", ["ld", "range 1", "range 2"],
                [[str(obj.start_ld_id + i),
                  "%d (%s)" % (a.range_1_allocation_mult,
                               human_size(a.range_1_allocation_mult * gran)),
                  "%d (%s)" % (a.range_2_allocation_mult,
                               human_size(a.range_2_allocation_mult * gran))]
                 for i, a in enumerate(items)])


def _ld_map_rows(obj, items):
    return Rows("LD map", ["ld", "head"],
                [[str(obj.start_ld_id + i), str(h)] for i, h in enumerate(items)])


# (struct, tail field) -> layout(obj, items)
TAIL_ROWS = {
    ("cmd_fmapi_get_qos_allocated_bw_rsp", "qos_allocation_fraction"):
        _fraction_rows("allocated bandwidth"),
    ("cmd_fmapi_set_qos_allocated_bw_rsp", "qos_allocation_fraction"):
        _fraction_rows("allocated bandwidth"),
    ("cmd_fmapi_get_qos_bw_limit_rsp", "qos_limit_fraction"): _fraction_rows("bandwidth limit"),
    ("cmd_fmapi_set_qos_bw_limit_rsp", "qos_limit_fraction"): _fraction_rows("bandwidth limit"),
    ("cmd_fmapi_get_ld_allocations_rsp", "ld_allocation_list"): _ld_alloc_rows,
    ("cmd_fmapi_set_ld_allocations_rsp", "ld_allocation_list"): _ld_alloc_rows,
    ("cmd_fmapi_get_multiheaded_info_rsp", "ld_map"): _ld_map_rows,
}


# ----------------------------------------------------------------------- whole views

def _fw_info(rsp, request):
    slot = type(rsp).meaning("slot_info").decode(rsp.slot_info)
    active, staged = slot["active_slot"], slot["staged_slot"]
    kv = Pairs(None, [("slots supported", str(rsp.slots_supported)),
                   ("active slot", str(active)),
                   ("staged slot", str(staged) if staged else "none"),
                   ("capabilities", decode.text(type(rsp), "caps", rsp.caps))])
    rows = []
    for n in range(1, min(rsp.slots_supported, 4) + 1):
        rev = getattr(rsp, "fw_rev%d" % n)
        rev = rev.decode("ascii", "replace") if isinstance(rev, bytes) else rev.value.decode(
            "ascii", "replace")
        mark = []
        if n == active:
            mark.append("active")
        if n == staged:
            mark.append("staged (next reset)")
        rows.append(["*" if n == active else ("+" if n == staged else ""), str(n),
                     rev or "(empty)", ", ".join(mark)])
    return [kv, Rows("firmware slots (* active, + staged)", ["", "slot", "revision", "state"],
                     rows)]


def _cel(result, request):
    return [rows_of(list(result), "command effects log")]


def _log(result, request):
    data = bytes(result)
    if _is_cel_log(request):
        return _cel(cel_array(data), request)
    base = request.get("offset", 0) if request else 0
    return [Hexdump("%d bytes" % len(data), data, base)]


def _vcs_info(result, request):
    rows = []
    for block in getattr(result, "vcs_info_list", []):
        state = decode.text(type(block), "vcs_state", block.vcs_state)
        for i, v in enumerate(block.vppbs):
            rows.append([str(block.vcs_id), state, str(block.usp_id), str(i),
                         decode.text(type(v), "binding_status", v.binding_status),
                         str(v.bound_port_id) if v.binding_status in (2, 3) else "-",
                         str(v.bound_ld_id) if v.binding_status == 3 else "-"])
        if not block.num_vppbs:
            rows.append([str(block.vcs_id), state, str(block.usp_id), "-", "-", "-", "-"])
    return [Rows("virtual CXL switches", ["vcs", "state", "usp", "vppb", "binding", "port",
                                          "ld"], rows)]


VIEWS = {
    "get_fw_info": _fw_info,
    "get_log_cel": _cel,
    "get_log": _log,
    "fmapi_get_vcs_info": _vcs_info,
}
