# SPDX-License-Identifier: LGPL-2.1-or-later
"""Payload encoding and decoding, driven by the registry.

Requests come in as ``None``, bytes, a structure, or a dict of field values
(the flexible tail as a list, its count field filled in when left out).
Responses go out as a structure whose flexible tail is sized from the bytes
actually received — a count field is never trusted beyond them — or as bytes
for raw commands, or a small composite for the one nested-variable reply
(Get VCS Info).
"""

import ctypes

from . import types
from .errors import ProtocolError, UsageError


# ---------------------------------------------------------------- requests

def _field_names(obj):
    return [f[0] for klass in type(obj).__mro__ for f in klass.__dict__.get("_fields_", ())
            if not type(obj).is_reserved(f[0])]


def _set_field(obj, name, value):
    try:
        current = getattr(obj, name)
    except AttributeError:
        raise UsageError("%s has no field %r (fields: %s)"
                         % (type(obj).__name__, name, ", ".join(_field_names(obj))))
    if isinstance(current, ctypes.Structure) and isinstance(value, dict):
        for key, val in value.items():
            _set_field(current, key, val)
        return
    if isinstance(current, ctypes.Array) and not isinstance(value, (bytes, bytearray, str)):
        if isinstance(value, ctypes.Array):
            setattr(obj, name, value)
            return
        try:
            values = list(value)
        except TypeError:
            raise UsageError("%s: expected a list of at most %d values, got %s"
                             % (name, len(current), type(value).__name__))
        if len(values) > len(current):
            raise UsageError("%s: at most %d values, got %d" % (name, len(current), len(values)))
        for i, val in enumerate(values):
            if isinstance(val, dict):
                item = current[i]
                if not isinstance(item, ctypes.Structure):
                    raise UsageError("%s[%d]: expected a number, got a dict" % (name, i))
                for key, sub in val.items():
                    _set_field(item, key, sub)
            else:
                try:
                    current[i] = val
                except (TypeError, ValueError) as exc:
                    raise UsageError("%s[%d]: %s" % (name, i, exc))
                if type(val) is int and current[i] != val:
                    raise UsageError("%s[%d]: %s" % (name, i, _out_of_range(val, current._type_)))
        return
    if isinstance(current, ctypes.Array) and current._type_ is ctypes.c_uint8:
        data = value.encode() if isinstance(value, str) else bytes(value)
        if len(data) > len(current):
            raise UsageError("%s holds %d bytes, got %d" % (name, len(current), len(data)))
        ctypes.memmove(ctypes.addressof(current), data, len(data))
        return
    try:
        setattr(obj, name, value)
    except (TypeError, ValueError) as exc:
        raise UsageError("%s: %s" % (name, exc))
    if type(value) is int and getattr(obj, name) != value:
        # ctypes keeps the low bits of what does not fit: -1 would go out as all ones
        raise UsageError("%s: %s" % (name, _out_of_range(value, *_field_type(obj, name))))


def _field_type(obj, name):
    """(ctypes type, bit width or None) of field ``name`` of ``obj``."""
    for klass in type(obj).__mro__:
        for field in klass.__dict__.get("_fields_", ()):
            if field[0] == name:
                return field[1], (field[2] if len(field) > 2 else None)
    return None, None


def _out_of_range(value, ctype, bits=None):
    """The message for an integer that does not fit a field of ``ctype`` (a ctypes
    integer type; ``bits``: a bit field's width)."""
    text = types.meaning.int_text(value)
    if ctype is None:
        return "%s does not fit the field" % text
    lo, hi = types.meaning.int_range(bits or 8 * ctypes.sizeof(ctype), ctype(-1).value == -1)
    return "%s is out of range (%d..%d)" % (text, lo, hi)


def _count_tail(fields, count_field, fname, n):
    """Fill in the count field from a tail of ``n`` entries, or check the one given:
    the count goes on the wire as given, so it must describe the tail."""
    if not count_field:
        return
    if count_field not in fields:
        fields[count_field] = n
    elif n and fields[count_field] != n:
        raise UsageError("%s=%r but %s has %d entries" % (
            count_field, fields[count_field], fname, n))


def build(cls, fields=None, count_field=None):
    """Instantiate ``cls`` from a dict, sizing the flexible tail from its value."""
    fields = dict(fields or {})
    known = set()
    for klass in cls.__mro__:
        for field in klass.__dict__.get("_fields_", ()):
            known.add(field[0])
    unknown = set(fields) - known
    if unknown:
        raise UsageError("%s has no field %s (fields: %s)" % (
            cls.__name__, ", ".join(sorted(unknown)), ", ".join(
                f[0] for f in cls._fields_ if not cls.is_reserved(f[0]))))
    if cls._flex_ is not None:
        fname, elem = cls._flex_
        tail = fields.pop(fname, None)
        if tail is None:
            tail = []
        if isinstance(tail, str):
            tail = tail.encode()
        try:
            n = len(tail)
        except TypeError:
            raise UsageError("%s: expected a list of entries, got %s"
                             % (fname, type(tail).__name__))
        _count_tail(fields, count_field, fname, n)
        obj = cls.sized(n)()
        if n:
            if isinstance(tail, (bytes, bytearray, memoryview)):
                if elem is not ctypes.c_uint8:
                    raise UsageError("%s: expected a list of entries, got bytes" % fname)
                ctypes.memmove(ctypes.addressof(getattr(obj, fname)), bytes(tail), n)
            else:
                _set_field(obj, fname, tail)
    else:
        obj = cls()
    for name, value in fields.items():
        _set_field(obj, name, value)
    return obj


#: a byte tail at least this long is not copied through a sized structure
_BIG_TAIL = 4096


def encode_request(entry, request):
    """Request payload bytes for ``entry``, laid out as the spec puts them on the wire."""
    if request is None:
        if entry.req is None:
            return b""
        request = {}
    if isinstance(request, (bytes, bytearray, memoryview)):
        return request_to_wire(entry, bytes(request))
    if isinstance(request, dict):
        if entry.req_cls is None:
            if request:
                raise UsageError("%s takes no request fields" % entry.name)
            return b""
        flex = entry.req_cls._flex_
        tail = request.get(flex[0]) if flex is not None else None
        if (flex is not None and flex[1] is ctypes.c_uint8
                and isinstance(tail, (bytes, bytearray, memoryview)) and len(tail) >= _BIG_TAIL):
            # a large byte tail (a firmware part, LSA data) is appended to the fixed
            # part once, not copied into a structure and then out of it
            fields = dict(request)
            fields[flex[0]] = b""
            _count_tail(fields, entry.req_count, flex[0], len(tail))
            head = build(entry.req_cls, fields, entry.req_count)
            return request_to_wire(entry, bytes(head) + tail)
        # as given, a count with no tail included (a test of a device's checks)
        return request_to_wire(entry, bytes(build(entry.req_cls, request, entry.req_count)))
    if isinstance(request, ctypes.Structure):
        return request_to_wire(entry, _with_tail(entry, request))
    raise UsageError("%s: cannot send a request of type %s" % (entry.name, type(request).__name__))


def _with_tail(entry, request):
    """A request structure's bytes with the tail its count field says it carries: a
    libcxlmi-style ``from_buffer`` view (or a ``ctypes.resize``-d one) holds it past
    its sizeof, as the ``cxlmi_cmd_*`` functions read it."""
    data = bytes(request)
    flex = getattr(type(request), "_flex_", None)
    if flex is None or not entry.req_count:
        return data
    # from the command's own layout: a structure build() sized holds its tail within
    # its own sizeof
    need = ctypes.sizeof(entry.req_cls) + \
        getattr(request, entry.req_count, 0) * ctypes.sizeof(flex[1])
    if len(data) >= need:
        return data
    from .compat import capacity            # what a view's buffer reaches
    if capacity(request) < need:
        raise UsageError("%s: %s says %d entries, more than the structure's buffer holds"
                         % (entry.name, entry.req_count, getattr(request, entry.req_count)))
    return ctypes.string_at(ctypes.addressof(request), need)


# ---------------------------------------------------------------- wire translations
#
# Where a libcxlmi request structure departs from the spec's wire layout, the
# structure stays (compatibility) and these hooks move the bytes: to_wire turns
# the structure's bytes into the spec's, from_wire (the device side) back.
# Both APIs send through request_to_wire; the emulator decodes through
# request_from_wire.

def _ld_mem_request_to_wire(payload):
    """Send LD CXL.io Memory Request (5302h).  libcxlmi's ``field_1`` is two
    bytes where the spec has a 24-bit field at 01h; they are its bits 23:8
    (first dword byte enable in ``field_1[0]`` bits 7:4, last dword byte enable
    in ``field_1[1]`` bits 3:0, transaction type 1 = write in ``field_1[1]``
    bit 7).  The spec's bits 7:0 are reserved: a zero byte goes in at 01h,
    which moves LD ID to 04h, length to 06h, address to 08h, data to 10h.
    Only a write carries data: libcxlmi sends ``transaction_len`` bytes of
    whatever the buffer holds on reads too; we send none."""
    if not payload:
        return payload
    if len(payload) >= 3 and not payload[2] & 0x80:
        payload = payload[:15]          # a read carries no data on the wire
    return payload[:1] + b"\0" + payload[1:]


def _ld_mem_request_from_wire(payload):
    if len(payload) < 2:
        return payload
    return payload[:1] + payload[2:]


WIRE_TRANSLATIONS = {
    "fmapi_send_ld_cxlio_mem_request": (_ld_mem_request_to_wire, _ld_mem_request_from_wire),
}


def request_to_wire(entry, payload):
    """The spec's wire bytes for a request given as its structure's bytes."""
    hooks = WIRE_TRANSLATIONS.get(entry.name)
    return payload if hooks is None else hooks[0](payload)


def request_from_wire(entry, payload):
    """The request structure's bytes for a request received off the wire."""
    hooks = WIRE_TRANSLATIONS.get(entry.name)
    return payload if hooks is None else hooks[1](bytes(payload))


# ---------------------------------------------------------------- responses

def size_tail(cls, payload, count_field=None):
    """Decode ``payload`` as ``cls`` with a tail sized from the bytes present."""
    fixed = ctypes.sizeof(cls)
    elem = ctypes.sizeof(cls._flex_[1])
    avail = (len(payload) - fixed) // elem if elem else 0
    n = avail
    if count_field:
        claimed = getattr(cls.from_buffer_copy(payload[:fixed]), count_field)
        n = min(claimed, avail)
    sub = cls.sized(n)
    return sub.from_buffer_copy(payload[:fixed + n * elem])


class Composite:
    """A reply whose parts have their own variable sizes (Get VCS Info)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def to_dict(self, decoded=False):
        return types.to_dict(self, decoded)

    def __repr__(self):
        return "Composite(%s)" % ", ".join("%s=%r" % kv for kv in self.__dict__.items())


def _dc_config(entry, payload, head, region_type):
    """DC region configuration: the trailer follows the *returned* regions.

    libcxlmi reads the trailer from a fixed offset; the spec puts it right
    after the last returned region, and so do we.  The result is the C
    structure with region_configs[0..n) filled and the trailer fields set.
    """
    cls = entry.rsp_cls
    region_size = ctypes.sizeof(types.get(region_type))
    trailer = 16
    if len(payload) < head + trailer:
        raise ProtocolError("%s: reply of %d bytes is shorter than its %d-byte minimum"
                            % (entry.name, len(payload), head + trailer))
    obj = cls()
    ctypes.memmove(ctypes.addressof(obj), bytes(payload[:head]), head)
    n = min(obj.regions_returned, 8, (len(payload) - head - trailer) // region_size)
    base = ctypes.addressof(obj) + head
    ctypes.memmove(base, bytes(payload[head:head + n * region_size]), n * region_size)
    tail = bytes(payload[head + n * region_size:head + n * region_size + trailer])
    ctypes.memmove(base + 8 * region_size, tail, trailer)
    obj.regions_returned = n
    return obj


def _vcs_info(entry, payload, request=None):
    """Get VCS Info: each block's ``num_vppbs`` is the VCS's total, but a block
    carries only the page the request asked for (``start_vppb`` and
    ``vppb_list_limit``), so the request is needed to find the next block."""
    rsp_cls = entry.rsp_cls
    block_cls = types.get("cmd_fmapi_vcs_info_block")
    vppb_size = ctypes.sizeof(types.get("cmd_fmapi_vppb_info"))
    head = ctypes.sizeof(rsp_cls)
    if len(payload) < head:
        raise ProtocolError("%s: reply of %d bytes is shorter than its %d-byte header"
                            % (entry.name, len(payload), head))
    start, limit = 0, None
    if request is not None and len(request) >= 2:
        start, limit = request[0], request[1]
    top = rsp_cls.from_buffer_copy(payload[:head])
    blocks, offset = [], head
    block_head = ctypes.sizeof(block_cls)
    for _ in range(top.num_vcs):
        if offset + block_head > len(payload):
            break
        claimed = max(0, payload[offset + 3] - start)
        if limit is not None:
            claimed = min(claimed, limit)
        n = min(claimed, (len(payload) - offset - block_head) // vppb_size)
        size = block_head + n * vppb_size
        blocks.append(block_cls.sized(n).from_buffer_copy(payload[offset:offset + size]))
        offset += size
        if n < claimed:
            break
    return Composite(num_vcs=len(blocks), vcs_info_list=blocks)


def _array(entry, payload, request=None):
    """The reply is an array of the response structure (the CEL's entries)."""
    cls = entry.rsp_cls
    n = len(payload) // ctypes.sizeof(cls)
    return (cls * n).from_buffer_copy(payload[:n * ctypes.sizeof(cls)])


# Replies whose shape the generic rules below cannot express, by registry name.
REPLY_DECODERS = {
    "get_log_cel": _array,
    "memdev_get_dc_config":
        lambda entry, payload, request=None: _dc_config(entry, payload, 8,
                                                        "memdev_dc_region_config"),
    "fmapi_get_dc_reg_config":
        lambda entry, payload, request=None: _dc_config(entry, payload, 4,
                                                        "fmapi_dc_region_config"),
    "fmapi_get_vcs_info": _vcs_info,
}


def decode_response(entry, payload, request=None):
    """Response object for ``entry`` from exactly the received payload bytes.

    ``request`` (the request payload bytes) is needed only where the reply's
    shape depends on what was asked (Get VCS Info)."""
    special = REPLY_DECODERS.get(entry.name)
    if special is not None:
        return special(entry, payload, request)
    if entry.size == "raw" or entry.rsp is None:
        return bytes(payload) if entry.size == "raw" else None
    name = entry.name
    cls = entry.rsp_cls
    fixed = ctypes.sizeof(cls)
    got = len(payload)
    if entry.size == "fixed" and got == fixed:
        return cls.from_buffer_copy(payload)            # the common case, kept fast
    minimum = entry.min_size if entry.min_size is not None else fixed
    if got < minimum:
        if entry.size == "fixed" and minimum == fixed:
            raise ProtocolError("%s: reply is %d bytes, expected at least %d"
                                % (name, got, fixed))
        raise ProtocolError("%s: reply of %d bytes is shorter than its %d-byte minimum"
                            % (name, got, minimum))
    if cls._flex_ is None:
        # A structure that grew between spec revisions: missing trailing fields
        # read as zero; bytes a newer revision appended are kept (extra_bytes()).
        obj = cls.from_buffer_copy(bytes(payload[:fixed]).ljust(fixed, b"\0"))
        if got > fixed:
            obj._extra = bytes(payload[fixed:])
        return obj
    return size_tail(cls, bytes(payload), entry.rsp_count)


def extra_bytes(result):
    """The reply bytes past the end of a decoded structure (a newer spec revision
    appended fields cxl-mi does not know yet): ``b""`` when there were none."""
    return getattr(result, "_extra", b"")
