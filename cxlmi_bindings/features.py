# SPDX-License-Identifier: LGPL-2.1-or-later
"""The RAS Features, by name: list them, read them decoded, change their values.

Built on Get Supported Features / Get Feature / Set Feature (0500h-0502h) and
the layouts of :mod:`cxlmi_bindings.types.features`.  Every function takes
``call(command name, request dict) -> decoded reply``, so the same steps run
over an :class:`~cxlmi_bindings.endpoint.Endpoint` (``lambda n, r:
ep.call(n, r, tunnel)``) and in the CLI.

Changing a value is checked in two steps, both before Set Feature is sent:
:func:`check_changes` needs no device (a name the Feature does not have, a
read-only attribute, a value out of its field's range: :class:`UsageError`,
nothing sent); :func:`write` then reads what the device says (the Feature's
entry: changeable? the version cxl-mi's layout is?  its current value: the
floor of a value with a device minimum) and refuses, nothing changed, before
it writes the current values with the changes applied.
"""

from .errors import NotSupported, ProtocolError, UsageError
from .types import features as layouts

#: Get Supported Features: reply header and entry sizes (bytes)
SUPPORTED_HEADER = 8
SUPPORTED_ENTRY = 48
#: the largest window read at once
WINDOW = 1024


def feature_names():
    """The Features cxl-mi decodes, in the order devices list them."""
    return list(layouts.FEATURES)


def layout(name):
    """The layouts of Feature ``name``; UsageError naming the known ones otherwise."""
    key = str(name).strip().lower().replace("_", "-")
    found = layouts.FEATURES.get(key)
    if found is None:
        raise UsageError("no Feature called %r: cxl-mi decodes %s"
                         % (name, ", ".join(layouts.FEATURES)),
                         hint="`cxl-mi memdev features list TARGET` shows what a device has; "
                              "`generic get-feature --feature-id UUID` reads any Feature raw")
    return found


def uuid_of(name):
    from . import uuids
    return uuids.wire(uuids.FEATURE[name])


def supported(call):
    """Every Supported Feature Entry the device reports, read page by page."""
    entries, start = [], 0
    while True:
        rsp = call("get_supported_features", {"count": WINDOW, "starting_feature_index": start})
        got = list(rsp.supported_feature_entries)[:rsp.num_supported_feature_entries]
        entries.extend(got)
        start += len(got)
        if not got or start >= rsp.device_supported_features:
            return entries


def find(call, name):
    """The device's entry for Feature ``name``; NotSupported when it has none."""
    uuid = uuid_of(name)
    for entry in supported(call):
        if bytes(entry.feature_id) == uuid:
            return entry
    raise NotSupported("the device does not support the %s Feature (Get Supported Features "
                       "does not list it)" % name,
                       hint="`cxl-mi memdev features list TARGET` shows what it has")


def read_raw(call, name, size, selection="current"):
    """``size`` bytes of Feature ``name``'s data, read in windows."""
    from .types.generic import FEATURE_SELECTION
    data, uuid = b"", uuid_of(name)
    while len(data) < size:
        part = call("get_feature", {"feature_id": uuid, "offset": len(data),
                                    "count": min(WINDOW, size - len(data)),
                                    "selection": FEATURE_SELECTION[selection]})
        if not part:
            break
        data += bytes(part)
    return data


def read(call, name, selection="current", entry=None):
    """(entry, data bytes, decoded structure) of Feature ``name``."""
    feature = layout(name)
    entry = entry or find(call, feature.name)
    data = read_raw(call, feature.name, entry.get_feature_size, selection)
    try:
        return entry, data, layouts.decode(feature, data)
    except ValueError as exc:       # the device sent less than the layout: its fault, not ours
        raise ProtocolError(str(exc))


def check_changes(name, fields, fru=None):
    """``fields`` (attribute name -> value as given) as the numbers to write, or
    UsageError -- nothing has been sent to anything yet."""
    feature = layout(name)
    settings = layouts.settings(feature)
    readable = layouts.readable_names(feature)
    settable = ", ".join(sorted(settings))
    if not fields:
        raise UsageError("%s: nothing to set; give --FIELD VALUE (it sets: %s)"
                         % (feature.name, settable))
    if fru is not None and not feature.per_fru:
        raise UsageError("%s has no media FRUs: --fru is for ecs; nothing was sent"
                         % feature.name)
    changes = {}
    for given, value in fields.items():
        key = given.strip().lstrip("-").replace("-", "_")
        setting = settings.get(key)
        if setting is None:
            if key in readable:
                raise UsageError("%s: %s is read-only (the device reports it); it sets: %s; "
                                 "nothing was sent" % (feature.name, key, settable))
            raise UsageError("%s has no attribute %s; it sets: %s; nothing was sent"
                             % (feature.name, key, settable))
        try:
            changes[key] = setting.value(value)
        except ValueError as exc:
            raise UsageError("%s: %s; nothing was sent" % (feature.name, exc))
    return changes


def write(call, name, changes, fru=None, save=False, entry=None):
    """Set Feature ``name``: its current value with ``changes`` (from
    :func:`check_changes`) applied, saved across reset with ``save``.  Returns the
    bytes written.  UsageError, with nothing written, when the device's entry
    says the Feature cannot be changed or is a version cxl-mi has no layout
    for, or when a value is below the device's minimum."""
    from .types.generic import SET_FEATURE_FLAGS
    feature = layout(name)
    entry = entry or find(call, feature.name)
    flags = entry.to_dict(decoded=True)["attribute_flags_decoded"]
    if not flags["changeable"]:
        raise UsageError("the device reports the %s Feature as not changeable; nothing was "
                         "changed" % feature.name,
                         hint="through fwctl the kernel reports the RAS Features it drives "
                              "itself (EDAC) as not changeable: use /sys/bus/edac/devices/"
                              "cxl_memN/ for those")
    if entry.set_feature_version != feature.version:
        raise UsageError("the device's %s Feature is Set Feature version %d, cxl-mi writes "
                         "version %d; refusing to write data laid out for another version; "
                         "nothing was changed" % (feature.name, entry.set_feature_version,
                                                  feature.version))
    _, current, decoded = read(call, feature.name, entry=entry)
    if fru is not None:
        count = len(getattr(decoded, "fru_attrs", ()))
        if not 0 <= fru < count:
            raise UsageError("%s: FRU %d, the device has %d (0..%d); nothing was changed"
                             % (feature.name, fru, count, count - 1))
    for field, floor_name in feature.minimum.items():
        if field in changes:
            floor = layouts.current_value(decoded, floor_name)
            if changes[field] < floor:
                raise UsageError("%s: %s %d is below the device's %s of %d; nothing was "
                                 "changed" % (feature.name, field, changes[field], floor_name,
                                              floor))
    data = layouts.write_data(feature, current, changes, fru)
    if entry.set_feature_size and len(data) > entry.set_feature_size:
        raise UsageError("%s: %d bytes to write, the device takes %d; nothing was changed"
                         % (feature.name, len(data), entry.set_feature_size))
    saved_bit = [p for p in SET_FEATURE_FLAGS if p[0] == "saved"][0][1]
    call("set_feature", {"feature_id": uuid_of(feature.name),
                         "set_feature_flags": (1 << saved_bit) if save else 0,
                         "offset": 0, "version": feature.version, "feature_data": data})
    return data
