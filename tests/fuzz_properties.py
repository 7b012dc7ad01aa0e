# SPDX-License-Identifier: LGPL-2.1-or-later
"""Properties of the code that meets untrusted bytes, shared by the suite and
``bench/fuzz.py``: the suite runs each a bounded number of times with a fixed
seed; the script runs them for as long as asked.

* tunnels up to 8 deep: wrap/unwrap round-trips, a device's answer built hop
  by hop is read back, and any damage to it is a ProtocolError or DeviceError,
  never anything else;
* MCTP reassembly: any stream (start/end flags, sequence numbers and tags
  broken, packets repeated, dropped or reordered, cut anywhere) yields only
  Messages and FramingErrors, every packet counted;
* the TCP server: garbage, half packets and huge announced lengths from one
  client never stop it answering another.
"""

import random
import socket

from cxlmi_bindings import cci, tunnel as tn
from cxlmi_bindings import mctp_framing as mf
from cxlmi_bindings.errors import DeviceError, ProtocolError


def tunnel_case(rng):
    depth = rng.randint(1, 8)
    hops = [(rng.choice((0, 0, 1)), rng.randint(0, 255)) for _ in range(depth)]
    inner = cci.encode(rng.randint(0, 0xFFFF), rng.randbytes(rng.randint(0, 300)),
                       rng.randint(0, 255))
    return tn.Tunnel(hops), inner


def check_tunnel(rng):
    tunnel, inner = tunnel_case(rng)
    counter = iter(range(1, 1000))
    outer, tags = tn.wrap(inner, tunnel, lambda: next(counter) & 0xFF)
    # the device's side: peel each level, then answer back out, level by level
    message, levels = outer, []
    for target_type, ident in tunnel.hops:
        hdr = cci.decode_header(message)
        assert hdr.opcode == tn.OPCODE
        got_type, got_id, message = tn.split_request(message[cci.HEADER_SIZE:])
        assert (got_type, got_id) == (target_type, ident)
        levels.append(hdr.tag)
    assert message == inner
    answer = cci.encode(cci.decode_header(inner).opcode, rng.randbytes(rng.randint(0, 64)),
                        cci.decode_header(inner).tag, category=cci.CATEGORY_RESPONSE)
    reply = answer
    for tag in reversed(levels):
        reply = cci.encode(tn.OPCODE, tn.build_response(reply), tag,
                           category=cci.CATEGORY_RESPONSE)
    assert tn.unwrap(reply, tunnel, tags) == answer
    damaged = bytearray(reply)
    for _ in range(rng.randint(1, 4)):
        if damaged and rng.random() < 0.7:
            damaged[rng.randrange(len(damaged))] ^= rng.randint(1, 255)
        else:
            del damaged[rng.randrange(len(damaged) + 1):]
    try:
        tn.unwrap(bytes(damaged), tunnel, tags)
    except (ProtocolError, DeviceError):
        pass


def damaged_stream(rng):
    seq = rng.randint(0, 3)
    packets = []
    for _ in range(rng.randint(1, 5)):
        kind = rng.random()
        if kind < 0.6:
            body, msg_type = cci.encode(rng.randint(0, 0xFFFF), rng.randbytes(
                rng.randint(0, 2000)), rng.randint(0, 255)), rng.choice((7, 8))
        elif kind < 0.8:
            body, msg_type = bytes((rng.choice((0x80, 0x00)), rng.randint(0, 8))) + \
                rng.randbytes(rng.randint(0, 40)), 0
        else:
            body, msg_type = rng.randbytes(rng.randint(0, 300)), rng.randint(0, 255)
        data, seq = mf.frame(msg_type, body, 8, rng.choice((9, 10)), rng.randint(0, 7),
                             rng.random() < 0.5, seq)
        packets += [bytearray(data[i:i + mf.PACKET_SIZE])
                    for i in range(0, len(data), mf.PACKET_SIZE)]
    for _ in range(rng.randint(0, 4)):
        if not packets:
            break
        i = rng.randrange(len(packets))
        fault = rng.choice(("som", "eom", "seq", "tag", "repeat", "drop", "swap", "byte",
                            "version", "length"))
        p = packets[i]
        if fault == "som":
            p[3] ^= mf.SOM
        elif fault == "eom":
            p[3] ^= mf.EOM
        elif fault == "seq":
            p[3] ^= rng.randint(1, 3) << mf.SEQ_SHIFT
        elif fault == "tag":
            p[3] ^= rng.randint(1, 7) | (mf.TAG_OWNER if rng.random() < 0.3 else 0)
        elif fault == "repeat":
            packets.insert(i, bytearray(p))
        elif fault == "drop":
            del packets[i]
        elif fault == "swap" and len(packets) > 1:
            j = rng.randrange(len(packets))
            packets[i], packets[j] = packets[j], packets[i]
        elif fault == "byte":
            p[rng.randrange(len(p))] ^= rng.randint(1, 255)
        elif fault == "version":
            p[0] = rng.randint(0, 255)
        else:                                   # a huge or odd CCI length
            p[4 + 1 + 9:4 + 1 + 12] = rng.randbytes(3)
    stream = b"".join(bytes(p) for p in packets)
    if rng.random() < 0.3:
        stream += rng.randbytes(rng.randint(1, 67))     # a cut-off packet at the end
    return stream


def check_reassembly(rng):
    stream = damaged_stream(rng)
    rx = mf.Reassembler(rng.choice((mf.DEFAULT_MAX_MESSAGE, 3000, 200)))
    cuts = sorted(rng.randint(0, len(stream)) for _ in range(rng.randint(0, 5)))
    events, at = [], 0
    for cut in cuts + [len(stream)]:
        events += rx.feed(stream[at:cut])
        at = max(at, cut)
    assert all(isinstance(e, (mf.Message, mf.FramingError)) or e is None for e in events)
    assert rx.packets == len(stream) // mf.PACKET_SIZE
    assert rx.buffered == len(stream) % mf.PACKET_SIZE
    assert rx.messages == sum(isinstance(e, mf.Message) for e in events)
    assert rx.errors == sum(isinstance(e, mf.FramingError) for e in events)


def hostile_bytes(rng):
    kind = rng.random()
    if kind < 0.3:
        return rng.randbytes(rng.randint(1, 500))
    if kind < 0.6:
        return damaged_stream(rng)[:rng.randint(1, 400)]
    # a CXL message announcing a huge length, then silence
    head = bytearray(mf.frame(8, cci.encode(1, b""), 8, 9, 1, 1, 0)[0])
    head[4 + 1 + 9:4 + 1 + 12] = (0x1FFFFF).to_bytes(3, "little")
    return bytes(head)


def check_server(rng, address):
    """One hostile client, then one well-behaved request that must be answered."""
    with socket.create_connection(address, timeout=2) as bad:
        try:
            bad.sendall(hostile_bytes(rng))
        except OSError:
            pass
        with socket.create_connection(address, timeout=2) as good:
            good.sendall(mf.frame(8, cci.encode(0x0001, b"", 5), 8, 0x20, 3, 1)[0])
            rx, events = mf.Reassembler(), []
            while not events:
                data = good.recv(65536)
                assert data, "the server closed a well-behaved client"
                events = [e for e in rx.feed(data) if isinstance(e, mf.Message)]
            assert events[0].tag == 3
            cci.check_response(events[0].body, 5, 0x0001)


PROPERTIES = {"tunnel": check_tunnel, "reassembly": check_reassembly}


def run(name, cases, seed=0):
    rng = random.Random(seed)
    check = PROPERTIES[name]
    for _ in range(cases):
        check(rng)
