# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 media contents (44xxh): reading and writing them, and erasing them
with Sanitize, Secure Erase and Media Operations.

The media is sparse: a dict of 64-byte cachelines, absent where all zero.
Also holds the two checks every command that touches memory makes
(``_check_media``: not disabled by a sanitize; ``_check_unlocked``: persistent
memory not locked), used by the events, health, poison, media, partition and
LSA commands: they live here, beside the media they guard.

Uses from the class it is mixed into: ``media``, ``media_disabled``, ``lsa``,
``locked``, ``user_passphrase``, ``event_logs``, the background durations
(set up by ``Type3.__init__``), ``media_size()``, ``is_persistent()``,
``debug()``, ``_poison_all_clear()`` and ``_poison_clear_range()``
(:mod:`.t3_poison`).
"""

from .device import Background, Reply, reply, INPUT, UNSUPPORTED, MEDIADISABLED, SECURITY
from .t3_constants import CACHELINE
from ..types.memdev import MEDIA_OP_CLASS, MEDIA_OP_SANITIZE as _SANITIZE_SUBCLASS

# Media operations: (class, subclass) pairs the device supports besides discovery.
MEDIA_OP_GENERAL, MEDIA_OP_SANITIZE = MEDIA_OP_CLASS["general"], MEDIA_OP_CLASS["sanitize"]
MEDIA_OP_DISCOVERY = 0            # the general class's subclass 0
MEDIA_OP_SUB_SANITIZE, MEDIA_OP_SUB_ZERO = (
    _SANITIZE_SUBCLASS[name] for name in ("sanitize", "zero"))
MEDIA_OPS = ((MEDIA_OP_SANITIZE, MEDIA_OP_SUB_SANITIZE), (MEDIA_OP_SANITIZE, MEDIA_OP_SUB_ZERO))


def sanitize_seconds_for(nbytes):
    """Duration of an overwrite of ``nbytes``: QEMU's size table (4 s for 512 MiB
    up to 4 h for more than 1 TiB)."""
    mib = nbytes >> 20
    for limit, secs in ((512, 4), (1024, 8), (2048, 15), (4096, 30), (8192, 60),
                        (16384, 120), (32768, 240), (65536, 480), (131072, 900),
                        (262144, 1800), (524288, 3600), (1048576, 7200)):
        if mib <= limit:
            return secs
    return 14400


class MediaMixin:
    """Media contents, the media checks, and the commands that erase (44xxh)."""

    def read_media(self, dpa, length):
        """Bytes of media content (zero where nothing was written)."""
        out = bytearray()
        pos = dpa
        while pos < dpa + length:
            line = pos & ~(CACHELINE - 1)
            chunk = self.media.get(line, bytes(CACHELINE))
            take = min(CACHELINE - (pos - line), dpa + length - pos)
            out += chunk[pos - line:pos - line + take]
            pos += take
        return bytes(out)

    def write_media(self, dpa, data):
        """Store bytes into the media (no poison or security checks)."""
        data = bytes(data)
        pos = 0
        while pos < len(data):
            addr = dpa + pos
            line = addr & ~(CACHELINE - 1)
            chunk = bytearray(self.media.get(line, bytes(CACHELINE)))
            take = min(CACHELINE - (addr - line), len(data) - pos)
            chunk[addr - line:addr - line + take] = data[pos:pos + take]
            if any(chunk):
                self.media[line] = bytes(chunk)
            else:
                self.media.pop(line, None)
            pos += take

    # ---------------------------------------------------------------- shared checks
    # Shared by every command that touches memory: the events, health, poison
    # and media commands and the partition / LSA commands in type3.py.
    def _check_media(self, what="media"):
        """Refuse with MEDIADISABLED while a sanitize or secure erase has the media."""
        if self.media_disabled:
            raise Reply(MEDIADISABLED, "%s: the media is disabled (sanitize)" % what)

    def _check_unlocked(self, dpa=None, length=1, what="media"):
        """Refuse with SECURITY while the persistent memory is locked and the
        command touches it (``dpa`` None: the command touches the whole device)."""
        if self.locked and (dpa is None or self.is_persistent(dpa, length)):
            raise Reply(SECURITY, "%s: the persistent memory is locked" % what)

    def _wipe_media(self, start=0, length=None):
        end = self.media_size() if length is None else start + length
        for line in [d for d in self.media if start <= d < end]:
            del self.media[line]

    # ---------------------------------------------------------------- erase (44xxh)
    def _check_erase_allowed(self, what):
        if self.locked or self.user_passphrase is not None:
            raise Reply(SECURITY, "%s: not allowed while a user passphrase is set or locked"
                        % what)

    def cmd_memdev_sanitize(self):
        self._check_erase_allowed("sanitize")
        seconds = self.sanitize_seconds
        if seconds is None:
            seconds = sanitize_seconds_for(self.total_bytes)
        self.media_disabled = True
        self.debug("sanitize started (%g s)" % seconds)
        return Background(seconds, finish=self._sanitize_done, on_abort=self._erase_aborted)

    def _sanitize_done(self):
        self._wipe_media()
        self.lsa[:] = bytes(len(self.lsa))
        self._poison_all_clear()
        for elog in self.event_logs:
            elog.discard()
        self.media_disabled = False
        self.debug("sanitize complete")

    def _erase_aborted(self):
        # media stays disabled until a sanitize completes (CXL r3.1 8.2.9.9.5.1)
        self.debug("erase aborted: media remains disabled until a sanitize completes")

    def cmd_memdev_secure_erase(self):
        self._check_erase_allowed("secure erase")
        self.media_disabled = True
        self.debug("secure erase started")
        return Background(self.secure_erase_seconds, finish=self._secure_erase_done,
                          abortable=False)

    def _secure_erase_done(self):
        self._wipe_media()
        self.media_disabled = False
        self.debug("secure erase complete: media encryption keys changed")

    def cmd_memdev_media_operations_discovery(self, req):
        if req.media_operation_class != MEDIA_OP_GENERAL or \
                req.media_operation_subclass != MEDIA_OP_DISCOVERY:
            raise Reply(UNSUPPORTED, "media operation %d.%d" % (req.media_operation_class,
                                                                req.media_operation_subclass))
        start = req.discovery_osa.start_index
        if req.dpa_range_count or start >= len(MEDIA_OPS):
            raise Reply(INPUT, "discovery takes no ranges and a start index below %d"
                        % len(MEDIA_OPS))
        chosen = MEDIA_OPS[start:start + req.discovery_osa.num_ops]
        return reply("memdev_media_operations_discovery",
                     dpa_range_granularity=CACHELINE, total_supported_ops=len(MEDIA_OPS),
                     entry=[{"media_op_class": cls, "media_op_subclass": sub}
                            for cls, sub in chosen])

    def cmd_memdev_media_operations_sanitize(self, req):
        op = (req.media_operation_class, req.media_operation_subclass)
        if op not in MEDIA_OPS:
            raise Reply(UNSUPPORTED, "media operation %d.%d" % op)
        ranges = [(r.starting_dpa, r.length) for r in req.dpa_range_list]
        if not ranges:
            return None
        for start, length in ranges:
            if start % CACHELINE or length % CACHELINE or not length \
                    or start + length > self.media_size():
                raise Reply(INPUT, "range %#x+%#x is not 64-byte granular inside the device"
                            % (start, length))
        self._check_media("media operations")
        for start, length in ranges:
            self._check_unlocked(start, length, "media operations")
        seconds = sanitize_seconds_for(sum(n for _, n in ranges))

        def finish():
            for start, length in ranges:
                self._wipe_media(start, length)
                self._poison_clear_range(start, length)
            self.debug("media operation %d.%d on %d ranges complete" % (op + (len(ranges),)))
        return Background(seconds, finish=finish, abortable=False)
