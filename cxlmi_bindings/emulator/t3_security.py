# SPDX-License-Identifier: LGPL-2.1-or-later
"""Type 3 persistent memory security (45xxh): passphrases, lock, freeze and
passphrase secure erase.

A set user passphrase locks the persistent memory at every reset
(``Type3.reset``) until Unlock; each passphrase type has an attempt limit.

Uses from the class it is mixed into: the passphrase attributes (set up by
``Type3.__init__``), ``bg_busy()`` (the framework), ``debug()`` and
``_wipe_media()`` (:mod:`.t3_media`).
"""

from .device import Reply, INPUT, BUSY, SECURITY, PASSPHRASE
from .. import types
from ..types.memdev import PASSPHRASE_TYPE, SECURITY_STATE

# Security state bits (Get Security State) and passphrase types.
(SEC_USER_PASS_SET, SEC_MASTER_PASS_SET, SEC_LOCKED, SEC_FROZEN, SEC_USER_PLIMIT,
 SEC_MASTER_PLIMIT) = (1 << SECURITY_STATE[name] for name in (
     "user-passphrase-set", "master-passphrase-set", "locked", "frozen",
     "user-passphrase-attempts-reached", "master-passphrase-attempts-reached"))
PASS_MASTER, PASS_USER = PASSPHRASE_TYPE["master"], PASSPHRASE_TYPE["user"]


class SecurityMixin:
    """The Persistent Memory Data-at-rest Security command set (45xxh)."""

    def _security_state(self):
        state = 0
        if self.user_passphrase is not None:
            state |= SEC_USER_PASS_SET
        if self.master_passphrase is not None:
            state |= SEC_MASTER_PASS_SET
        if self.locked:
            state |= SEC_LOCKED
        if self.frozen:
            state |= SEC_FROZEN
        if self.user_attempts >= self.passphrase_limit:
            state |= SEC_USER_PLIMIT
        if self.master_attempts >= self.passphrase_limit:
            state |= SEC_MASTER_PLIMIT
        return state

    def _check_pass_type(self, kind):
        if kind not in (PASS_MASTER, PASS_USER):
            raise Reply(INPUT, "passphrase type %d" % kind)
        if kind == PASS_USER and self.user_attempts >= self.passphrase_limit:
            raise Reply(SECURITY, "user passphrase attempt limit reached")
        if kind == PASS_MASTER and self.master_attempts >= self.passphrase_limit:
            raise Reply(SECURITY, "master passphrase attempt limit reached")

    def _match(self, kind, given):
        stored = self.user_passphrase if kind == PASS_USER else self.master_passphrase
        if bytes(given) == stored:
            if kind == PASS_USER:
                self.user_attempts = 0
            else:
                self.master_attempts = 0
            return
        if kind == PASS_USER:
            self.user_attempts = min(self.user_attempts + 1, self.passphrase_limit)
        else:
            self.master_attempts = min(self.master_attempts + 1, self.passphrase_limit)
        raise Reply(PASSPHRASE, "the %s passphrase does not match"
                    % ("user" if kind == PASS_USER else "master"))

    def _passphrase_change(self, kind):
        """Checks every passphrase-changing command starts with; returns
        ``"user"`` or ``"master"`` for messages."""
        if self.frozen:
            raise Reply(SECURITY, "the security state is frozen")
        self._check_pass_type(kind)
        return "user" if kind == PASS_USER else "master"

    def cmd_memdev_get_security_state(self):
        return types.get("cmd_memdev_get_security_state_rsp")(
            security_state=self._security_state())

    def cmd_memdev_set_passphrase(self, req):
        kind = req.passphrase_type
        who = self._passphrase_change(kind)
        if kind == PASS_MASTER:
            # the master passphrase is set only while no user passphrase is
            if self.user_passphrase is not None:
                raise Reply(SECURITY, "set the master passphrase before the user passphrase")
            if self.master_passphrase is not None:
                self._match(PASS_MASTER, req.current_passphrase)
            self.master_passphrase = bytes(req.new_passphrase)
        else:
            if self.locked:
                raise Reply(SECURITY, "unlock the device first")
            if self.user_passphrase is not None:
                self._match(PASS_USER, req.current_passphrase)
            self.user_passphrase = bytes(req.new_passphrase)
        self.debug("%s passphrase set" % who)

    def cmd_memdev_disable_passphrase(self, req):
        kind = req.passphrase_type
        who = self._passphrase_change(kind)
        if kind == PASS_MASTER:
            if self.master_passphrase is None:
                raise Reply(SECURITY, "no master passphrase is set")
            self._match(PASS_MASTER, req.passphrase)
            self.master_passphrase = None
        else:
            if self.user_passphrase is None:
                raise Reply(SECURITY, "no user passphrase is set")
            self._match(PASS_USER, req.passphrase)
            self.user_passphrase = None
            self.locked = False
        self.debug("%s passphrase disabled" % who)

    def cmd_memdev_unlock(self, req):
        if self.frozen:
            raise Reply(SECURITY, "the security state is frozen")
        if self.user_passphrase is None:
            raise Reply(SECURITY, "no user passphrase is set")
        self._check_pass_type(PASS_USER)
        if not self.locked:
            raise Reply(SECURITY, "the device is not locked")
        self._match(PASS_USER, req.current_passphrase)
        self.locked = False
        self.debug("unlocked")

    def cmd_memdev_freeze_security_state(self):
        self.frozen = True

    def cmd_memdev_passphrase_secure_erase(self, req):
        kind = req.passphrase_type
        who = self._passphrase_change(kind)
        if kind == PASS_MASTER:
            if self.master_passphrase is None:
                raise Reply(INPUT, "no master passphrase is set")
            self._match(PASS_MASTER, req.passphrase)
        elif self.user_passphrase is not None:
            self._match(PASS_USER, req.passphrase)
        if self.bg_busy():
            raise Reply(BUSY, "a background operation is running")
        self.user_passphrase = None
        self.user_attempts = 0
        self.locked = False
        self._wipe_media()
        self.debug("passphrase secure erase (%s passphrase)" % who)
