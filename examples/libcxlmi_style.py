#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A script written the way libcxlmi's generated-bindings examples are written.

It uses only the libcxlmi names (struct_cxlmi_*, cxlmi_*, CXLMI_*): build a
response structure and pass it in, check the int return code, iterate the
context's endpoints with first/next, view flexible arrays with ctypes
``from_buffer``, and hand passphrases over as short Python bytes.  The only
line that differs from a script written for libcxlmi's bindings is the import.

    python examples/libcxlmi_style.py             # two mock endpoints, canned replies
    python examples/libcxlmi_style.py emu:type3   # any target string: mem0, mctp:1,8 ...
"""

import ctypes
import struct
import sys

from cxlmi_bindings import *      # with libcxlmi's bindings: from cxlmi import *


def queue_mock_replies(ep, serial):
    """Canned replies for a mock endpoint, queued the libcxlmi mock way."""
    ident = struct_cxlmi_cmd_identify_rsp()
    ident.vendor_id = 0x1DE5
    ident.device_id = 0x0D93
    ident.subsys_vendor_id = 0x1DE5
    ident.subsys_id = 0x0001
    ident.serial_num = serial
    ident.max_msg_size = 11
    ident.component_type = 0x03
    cxlmi_mock_set_response(ep, 0x00, 0x01, CXLMI_RET_SUCCESS, ident, ctypes.sizeof(ident))

    # Get Event Records: two records in one buffer, head then tail
    rsp_sz = ctypes.sizeof(struct_cxlmi_cmd_get_event_records_rsp)
    rec_sz = ctypes.sizeof(struct_cxlmi_event_record)
    buf = ctypes.create_string_buffer(rsp_sz + 2 * rec_sz)
    rsp = struct_cxlmi_cmd_get_event_records_rsp.from_buffer(buf)
    rsp.record_count = 2
    records = (struct_cxlmi_event_record * 2).from_buffer(buf, rsp_sz)
    for i, rec in enumerate(records):
        rec.length = rec_sz
        rec.handle = 0x10 + i
        rec.timestamp = 1700000000000000000 + i
    cxlmi_mock_set_response(ep, 0x01, 0x00, CXLMI_RET_SUCCESS, buf, len(buf))

    # Get Supported Logs: the Command Effects Log
    rsp_sz = ctypes.sizeof(struct_cxlmi_cmd_get_supported_logs_rsp)
    ent_sz = ctypes.sizeof(struct_cxlmi_supported_log_entry)
    buf = ctypes.create_string_buffer(rsp_sz + ent_sz)
    logs = struct_cxlmi_cmd_get_supported_logs_rsp.from_buffer(buf)
    logs.num_supported_log_entries = 1
    entry = struct_cxlmi_supported_log_entry.from_buffer(buf, rsp_sz)
    entry.uuid = CXLMI_LOG_UUID_CEL
    entry.log_size = 0x40
    cxlmi_mock_set_response(ep, 0x04, 0x00, CXLMI_RET_SUCCESS, buf, len(buf))

    # Set Passphrase: success, no payload
    cxlmi_mock_set_response(ep, 0x45, 0x01, CXLMI_RET_SUCCESS, None, 0)


def show_identify(ep):
    ident = struct_cxlmi_cmd_identify_rsp()
    rc = cxlmi_cmd_identify(ep, None, ident)
    if rc != 0:
        print("identify: rc = %d (%s)" % (rc, cxlmi_cmd_retcode_tostr(rc)))
        return rc
    print("  Vendor ID:        0x%04x" % ident.vendor_id)
    print("  Device ID:        0x%04x" % ident.device_id)
    print("  Serial Number:    0x%016x" % ident.serial_num)
    print("  Max Message Size: %d" % ident.max_msg_size)
    print("  Component Type:   0x%02x" % ident.component_type)
    return 0


def show_event_records(ep):
    # Room for the most records libcxlmi ever returns, in one buffer.
    rsp_sz = ctypes.sizeof(struct_cxlmi_cmd_get_event_records_rsp)
    rec_sz = ctypes.sizeof(struct_cxlmi_event_record)
    buf = ctypes.create_string_buffer(rsp_sz + CXLMI_MAX_SUPPORTED_EVENT_RECORDS * rec_sz)
    rsp = struct_cxlmi_cmd_get_event_records_rsp.from_buffer(buf)

    req = struct_cxlmi_cmd_get_event_records_req()
    req.event_log = CXLMI_EVENT_LOG_INFO
    rc = cxlmi_cmd_get_event_records(ep, None, req, rsp)
    if rc != 0:
        print("  event records: rc = %d (%s)" % (rc, cxlmi_cmd_retcode_tostr(rc)))
        return
    count = min(rsp.record_count, CXLMI_MAX_SUPPORTED_EVENT_RECORDS)
    records = (struct_cxlmi_event_record * count).from_buffer(buf, rsp_sz)
    print("  Event records:    %d" % rsp.record_count)
    for rec in records:
        print("    handle 0x%04x  timestamp %d" % (rec.handle, rec.timestamp))


def show_supported_logs(ep):
    rsp_sz = ctypes.sizeof(struct_cxlmi_cmd_get_supported_logs_rsp)
    ent_sz = ctypes.sizeof(struct_cxlmi_supported_log_entry)
    buf = ctypes.create_string_buffer(rsp_sz + CXLMI_MAX_SUPPORTED_LOGS * ent_sz)
    rsp = struct_cxlmi_cmd_get_supported_logs_rsp.from_buffer(buf)
    rc = cxlmi_cmd_get_supported_logs(ep, None, rsp)
    if rc != 0:
        print("  supported logs: rc = %d (%s)" % (rc, cxlmi_cmd_retcode_tostr(rc)))
        return
    count = min(rsp.num_supported_log_entries, CXLMI_MAX_SUPPORTED_LOGS)
    entries = (struct_cxlmi_supported_log_entry * count).from_buffer(buf, rsp_sz)
    print("  Supported logs:   %d" % rsp.num_supported_log_entries)
    for e in entries:
        print("    %s  %d bytes" % (bytes(e.uuid).hex(), e.log_size))


def set_passphrase(ep, mock):
    req = struct_cxlmi_cmd_memdev_set_passphrase_req()
    req.passphrase_type = 0                       # user passphrase
    req.current_passphrase = b""                  # none set yet
    req.new_passphrase = b"example-secret"        # zero padded to 32 bytes
    rc = cxlmi_cmd_memdev_set_passphrase(ep, None, req)
    print("  Set passphrase:   rc = %d (%s)" % (rc, cxlmi_cmd_retcode_tostr(rc)))
    if mock:
        cmd_set, cmd = ctypes.c_uint8(), ctypes.c_uint8()
        payload = ctypes.create_string_buffer(128)
        size = ctypes.c_size_t(len(payload))
        cxlmi_mock_get_last_command(ep, ctypes.byref(cmd_set), ctypes.byref(cmd), payload,
                                    ctypes.byref(size))
        sent = payload.raw[:size.value]
        print("    sent %02x%02xh, %d bytes, new passphrase field %r" % (
            cmd_set.value, cmd.value, size.value, sent[64:96].rstrip(b"\0")))
        print("    padding: %d zero bytes" % (32 - len(sent[64:96].rstrip(b"\0"))))


def main():
    ctx = cxlmi_new_ctx(None, 6)
    if not ctx:
        print("Failed to create context")
        return 1
    mock = len(sys.argv) == 1
    try:
        if mock:
            for serial in (0x1111, 0x2222):
                ep = cxlmi_open_mock(ctx)
                queue_mock_replies(ep, serial)
        else:
            ep = cxlmi_open(ctx, sys.argv[1])
            if not ep:
                print("Failed to open %s" % sys.argv[1])
                return 1

        rc = 0
        n = 0
        ep = cxlmi_first_endpoint(ctx)
        while ep:
            print("Endpoint %d:" % n)
            rc |= show_identify(ep)
            show_event_records(ep)
            show_supported_logs(ep)
            set_passphrase(ep, mock)
            n += 1
            ep = cxlmi_next_endpoint(ctx, ep)
        print("%d endpoint(s)" % n)
        return 1 if rc else 0
    finally:
        cxlmi_free_ctx(ctx)


if __name__ == "__main__":
    sys.exit(main())
