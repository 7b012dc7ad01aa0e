# SPDX-License-Identifier: LGPL-2.1-or-later
"""UUIDs the CXL specification names: logs, event records, features.

One table per kind, name -> UUID text; :func:`wire` gives the 16 bytes a
command carries (RFC 4122 byte order, as the spec, QEMU and Linux send them).
The library's constants, the emulator and the CLI's names all come from here.
"""

LOG = {                       # Get Supported Logs / Get Log (r3.1 8.2.9.5)
    "cel": "0da9c0b5-bf41-4b78-8f79-96b1623b3f17",
    "vendor-debug": "5e1819d9-11a9-400c-811f-d60719403d86",
    "component-state-dump": "b3fab4cf-01b6-4332-943e-5e9962f23567",
}

EVENT_RECORD = {              # event record identifiers (r3.1 8.2.9.2.1)
    "general-media": "fbcd0a77-c260-417f-85a9-088b1621eba6",
    "dram": "601dcbb3-9c06-4eab-b8af-4e9bfb5c9624",
    "memory-module": "fe927475-dd59-4339-a586-79bab113b774",
    "memory-sparing": "e71f3a40-2d29-4092-8a39-4d1c966c7c65",
    "physical-switch": "77cf9271-9c02-470b-9fe4-bc7b75f2da97",
    "virtual-switch": "40d26425-3396-4c4d-a5da-3d47263af425",
    "mld-port": "8dc44363-0c96-4710-b7bf-04bb99534c3f",
    "dynamic-capacity": "ca95afa7-f183-4018-8c2f-95268e101a2a",
}

FEATURE = {                   # Get Supported Features (r3.2 8.2.10.6)
    "patrol-scrub": "96dad7d6-fde8-482b-a733-75774e06db8a",
    "ecs": "e5b13f22-2328-4a14-b8ba-b9691e893386",
    "sppr": "892ba475-fad8-474e-9d3e-692c917568bb",
    "hppr": "80ea4521-786f-4127-afb1-ec7459fb0e24",
    "cacheline-sparing": "96c33386-91dd-44c7-9ecb-fdaf6503bac4",
    "row-sparing": "450ebf67-b135-4f97-a498-c2d57f279bed",
    "bank-sparing": "78b79636-90ac-4b64-a4ef-faac5d18a863",
    "rank-sparing": "34dbaff5-0552-4281-8f76-da0b5e7a76a7",
}


def wire(text):
    """The 16 bytes of a UUID written as text (no ``uuid`` import needed)."""
    data = bytes.fromhex(text.replace("-", ""))
    if len(data) != 16:
        raise ValueError("%r is not a UUID" % (text,))
    return data
