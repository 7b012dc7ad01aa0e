# SPDX-License-Identifier: LGPL-2.1-or-later
"""Emulator state files: the device tree as data (JSON), never as code.

``cxl-mi emulate --state FILE`` keeps an emulated component's state across
restarts.  The file is a JSON document::

    {"format": "cxl-mi-emulator-state", "version": 1,
     "model": "cxlmi_bindings.emulator.type3:Type3",
     "sha256": "<hex digest of the canonical JSON of 'state'>",
     "state": <the device tree>}

The tree is encoded from the objects' attributes: JSON scalars and lists as
they are, and tagged objects for what JSON lacks -- ``{"$bytes": base64}``,
``{"$bytearray": …}``, ``{"$tuple": […]}``, ``{"$set": […]}``, ``{"$dict":
[[key, value], …]}``, ``{"$obj": "module:Class", "id": n, "attrs": {…}}`` for
an object of an emulator class (``{"$ref": n}`` for the same object met again,
so shared objects stay shared), ``{"$method": {"$ref": n}, "name": …}`` for a
method of such an object, ``{"$clock": "monotonic"}`` for the clocks.

Loading builds objects only of classes defined in ``cxlmi_bindings.emulator``
and sets their attributes: nothing in the file is executed.  A file that is
not JSON, is cut short, has another format or version, fails its checksum,
holds another model or a value of the wrong shape is refused with
:class:`StateError`, naming the file and what is wrong.  An attribute of the
device a file lacks (written before the model gained it) takes the value a
fresh device has.

Writing (:func:`save`) goes through a temporary file created with ``O_EXCL``
and mode 0600 in the same directory (the state holds the emulated
passphrases), fsync'ed, renamed over the file, and the directory fsync'ed.
"""

import base64
import hashlib
import importlib
import json
import time

FORMAT = "cxl-mi-emulator-state"
VERSION = 1
#: where classes a state file may name are defined
MODULE_PREFIX = "cxlmi_bindings.emulator."
#: the clocks a model may hold, by name
CLOCKS = {"monotonic": time.monotonic, "time": time.time}
_CLOCK_NAMES = {id(fn): name for name, fn in CLOCKS.items()}


class StateError(ValueError):
    """A state file that is not loaded, and why."""


# ----------------------------------------------------------------------- encoding

class _Encoder:
    def __init__(self):
        self.ids = {}           # id(obj) -> number
        self.keep = []          # the objects numbered (so their ids stay theirs)

    def value(self, v):
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, int):
            return int(v)       # IntEnum members are saved as their numbers
        if isinstance(v, float):
            if v != v or v in (float("inf"), float("-inf")):
                return {"$float": repr(v)}
            return v
        if isinstance(v, bytes):
            return {"$bytes": base64.b64encode(v).decode()}
        if isinstance(v, bytearray):
            return {"$bytearray": base64.b64encode(bytes(v)).decode()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, tuple):
            return {"$tuple": [self.value(x) for x in v]}
        if isinstance(v, (set, frozenset)):
            return {"$set": [self.value(x) for x in sorted(v, key=repr)]}
        if isinstance(v, dict):
            return {"$dict": [[self.value(k), self.value(x)] for k, x in v.items()]}
        if id(v) in _CLOCK_NAMES and CLOCKS[_CLOCK_NAMES[id(v)]] is v:
            return {"$clock": _CLOCK_NAMES[id(v)]}
        owner = getattr(v, "__self__", None)
        if owner is not None and _emulator_class(type(owner)) and callable(v):
            return {"$method": self.value(owner), "name": v.__name__}
        if _emulator_class(type(v)):
            return self.obj(v)
        raise TypeError("cannot save a %s.%s" % (type(v).__module__, type(v).__qualname__))

    def obj(self, v):
        key = id(v)
        if key in self.ids:
            return {"$ref": self.ids[key]}
        number = self.ids[key] = len(self.ids)
        self.keep.append(v)
        from .device import Background
        if isinstance(v, Background) and not (_saveable(v.finish) and _saveable(v.on_abort)):
            # Its completion is a closure, which a file cannot hold: saved as aborted
            # while it runs, and once it is over without the callbacks it no longer needs.
            v = _finished_copy(v) if v.done else _aborted_copy(v)
        return {"$obj": _class_name(type(v)), "id": number,
                "attrs": {k: self.value(x) for k, x in sorted(_attributes(v).items())}}


def _saveable(func):
    if func is None:
        return True
    owner = getattr(func, "__self__", None)
    return owner is not None and _emulator_class(type(owner))


def _finished_copy(op):
    from .device import Background
    copy = Background(op.duration, abortable=op.abortable)
    copy.opcode, copy.started, copy.done = op.opcode, op.started, True
    copy.return_code, copy.percent_at_end = op.return_code, op.percent_at_end
    return copy


def _aborted_copy(op):
    from .device import ABORT, Background
    copy = Background(op.duration, abortable=op.abortable)
    copy.opcode, copy.started, copy.done = op.opcode, op.started, True
    copy.return_code, copy.percent_at_end = ABORT, 0
    return copy


def _attributes(obj):
    attrs = dict(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        for name in getattr(cls, "__slots__", ()):
            if hasattr(obj, name):
                attrs[name] = getattr(obj, name)
    return attrs


def _emulator_class(cls):
    return isinstance(cls, type) and cls.__module__.startswith(MODULE_PREFIX)


def _class_name(cls):
    return "%s:%s" % (cls.__module__, cls.__qualname__)


def _canonical(tree):
    return json.dumps(tree, sort_keys=True, separators=(",", ":")).encode()


def dumps(device):
    """The state file's bytes for ``device``."""
    tree = _Encoder().value(device)
    doc = {"format": FORMAT, "version": VERSION, "model": _class_name(type(device)),
           "sha256": hashlib.sha256(_canonical(tree)).hexdigest(), "state": tree}
    return json.dumps(doc, separators=(",", ":")).encode() + b"\n"


# ----------------------------------------------------------------------- decoding

class _Decoder:
    def __init__(self, where):
        self.where = where
        self.objs = {}
        self.methods = []       # (index in a container, fixed later) — see value()

    def fail(self, what):
        raise StateError("%s: %s" % (self.where, what))

    def value(self, v):
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if not isinstance(v, dict) or len(v) == 0:
            self.fail("a value of the wrong shape: %r" % (v,))
        tag = next(iter(v)) if "$obj" not in v else "$obj"
        try:
            if tag == "$bytes":
                return base64.b64decode(v["$bytes"], validate=True)
            if tag == "$bytearray":
                return bytearray(base64.b64decode(v["$bytearray"], validate=True))
            if tag == "$tuple":
                return tuple(self.value(x) for x in self.listed(v["$tuple"]))
            if tag == "$set":
                return set(self.value(x) for x in self.listed(v["$set"]))
            if tag == "$dict":
                return {self.value(k): self.value(x) for k, x in self.listed(v["$dict"])}
            if tag == "$float":
                return float(v["$float"])
            if tag == "$clock":
                return CLOCKS[v["$clock"]]
            if tag == "$ref":
                return self.objs[v["$ref"]]
            if tag == "$method":
                owner = self.value(v["$method"])
                method = getattr(type(owner), v["name"], None)
                if not callable(method) or v["name"].startswith("__"):
                    self.fail("no method %r on %s" % (v["name"], type(owner).__name__))
                return getattr(owner, v["name"])
            if tag == "$obj":
                return self.obj(v)
        except StateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.fail("a %s value of the wrong shape (%s)" % (tag, exc))
        self.fail("an unknown value tag %r" % tag)

    @staticmethod
    def listed(v):
        if not isinstance(v, list):
            raise TypeError("not a list")
        return v

    def obj(self, v):
        cls = self.cls(v["$obj"])
        number = v["id"]
        if not isinstance(number, int) or number in self.objs:
            self.fail("object id %r repeated or not a number" % (number,))
        obj = cls.__new__(cls)
        self.objs[number] = obj
        attrs = v["attrs"]
        if not isinstance(attrs, dict):
            self.fail("the attributes of a %s are not an object" % cls.__name__)
        for name, x in attrs.items():
            if not isinstance(name, str) or name.startswith("__"):
                self.fail("attribute name %r of a %s" % (name, cls.__name__))
            object.__setattr__(obj, name, self.value(x))
        return obj

    def cls(self, name):
        module, _, qualname = str(name).partition(":")
        if not module.startswith(MODULE_PREFIX) or not qualname:
            self.fail("names a class outside the emulator: %r" % name)
        try:
            found = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            self.fail("names a class this cxl-mi does not have: %r" % name)
        if not _emulator_class(found):
            self.fail("%r is not a class of the emulator" % name)
        return found


def loads(blob, device, where="state file"):
    """The device saved in ``blob``, which must hold the model ``device`` is.
    Raises :class:`StateError` for anything else."""
    if blob[:1] == b"\x80":
        raise StateError("%s is a state file from an older cxl-mi (a Python pickle, which "
                         "could run code when loaded): it is not loaded. Delete it, or name "
                         "another --state FILE, to start from a fresh device" % where)
    try:
        doc = json.loads(blob.decode("utf-8"))
    except UnicodeDecodeError:
        raise StateError("%s is not a cxl-mi state file (not text)" % where)
    except ValueError as exc:
        raise StateError("%s is not a whole JSON document (cut short or damaged: %s)"
                         % (where, exc))
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise StateError("%s is not a cxl-mi emulator state file" % where)
    if doc.get("version") != VERSION:
        raise StateError("%s is a state file of version %r; this cxl-mi reads version %d"
                         % (where, doc.get("version"), VERSION))
    tree = doc.get("state")
    if hashlib.sha256(_canonical(tree)).hexdigest() != doc.get("sha256"):
        raise StateError("%s fails its checksum: it was changed or damaged since it was "
                         "written" % where)
    expected = _class_name(type(device))
    if doc.get("model") != expected:
        raise StateError("%s holds the state of a %s, not of the %s this profile builds"
                         % (where, str(doc.get("model")).rpartition(":")[2],
                            type(device).__name__))
    loaded = _Decoder(where).value(tree)
    if type(loaded) is not type(device):
        raise StateError("%s: its state is not a %s" % (where, type(device).__name__))
    # What a newer cxl-mi added to the model (sparing_repairs, say) is not in a file
    # an older one wrote: it starts as a fresh device has it.
    for name, value in vars(device).items():
        if name not in vars(loaded):
            setattr(loaded, name, value)
    return loaded


# ----------------------------------------------------------------------- files

def load(path, device):
    """The device saved at ``path``, or ``device`` when there is no file (or it is
    empty: a save that never finished creating it)."""
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except FileNotFoundError:
        return device
    if not blob:
        return device
    return loads(blob, device, path)


def save(path, device):
    """Write ``device``'s state to ``path`` durably: a new 0600 file (``O_EXCL``) in
    the same directory, fsync'ed, renamed over ``path``, the directory fsync'ed.
    Raises OSError (nothing at ``path`` changed) or TypeError (not saveable)."""
    from .._files import atomic_write
    atomic_write(path, dumps(device), mode=0o600)


class StateInUse(StateError):
    """Another process serves from the same state file."""


class StateFile:
    """The state file of a served device (``cxl-mi emulate --state FILE``): the device
    it starts from, a check that it can be written before serving, a claim that no
    other server uses it, and the saves -- each change before its reply (a change
    that cannot be saved is undone), time-driven changes now and then, the last at
    exit."""

    def __init__(self, path):
        self.path = path
        self._saved = None          # the bytes last written (or loaded): undo goes there
        self._owner = None          # the open file whose lock says the state is ours

    def load(self, device):
        """The device saved there, or ``device`` when there is none yet (StateError
        for a file that is not a state file of this model; OSError if unreadable)."""
        device = load(self.path, device)
        self._saved = dumps(device)
        return device

    def check_writable(self):
        """Raise the OSError writing the state there would meet (the file is left
        as it is)."""
        from .._files import check_writable
        check_writable(self.path)

    def claim(self):
        """Hold the state for this process (and its workers) until it exits: a second
        server on the same file would keep its own copy, and the last to save would
        drop the other's acknowledged changes.  Raises :class:`StateInUse` naming
        the process that holds it; nothing to hold where there is no ``flock``."""
        import os
        try:
            import fcntl
        except ImportError:
            return
        owner = os.path.realpath(self.path) + ".owner"
        fd = os.open(owner, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StateInUse("%s is in use by another cxl-mi emulate (pid %s): serve it "
                             "from one process (--workers N shares it), or name another "
                             "file" % (self.path, pid)) from None
        os.ftruncate(fd, 0)
        os.write(fd, b"%d\n" % os.getpid())
        self._owner = fd

    def save(self, device, lock=None):
        """Write the state durably (under ``lock``, the one the server serializes the
        device with); raises OSError or TypeError with the file untouched.  The same
        state as the last one written is not written again."""
        if lock is None:
            self._write(device)
            return
        with lock:
            self._write(device)

    def _write(self, device):
        from .._files import atomic_write
        blob = dumps(device)
        if blob != self._saved:
            atomic_write(self.path, blob, mode=0o600)
            self._saved = blob

    def save_or_undo(self, device):
        """:meth:`save` after a request changed ``device``; when it cannot be saved the
        change is undone (the device is put back as last saved) and the error raised,
        so the requester's failure answer is the truth."""
        try:
            self._write(device)
        except (OSError, TypeError):
            if self._saved is not None:
                restored = loads(self._saved, device, self.path)
                state = vars(device)
                state.clear()
                state.update(vars(restored))
            raise

    @property
    def ever_saved(self):
        import os
        return os.path.exists(self.path)

    def try_save(self, device, lock=None):
        """:meth:`save`, or False with a warning logged when it cannot be written now."""
        try:
            self.save(device, lock)
        except (OSError, TypeError) as exc:
            from .. import _log
            _log.get("cxlmi.emulator").warning(
                "cannot save the state to %s: %s", self.path,
                getattr(exc, "strerror", None) or exc)
            return False
        return True
