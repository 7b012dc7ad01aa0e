# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small blocking D-Bus client on jeepney (pure Python), imported lazily.

jeepney is an optional dependency (the ``dbus`` extra); without it every
entry point here raises :class:`~cxlmi_bindings.errors.NotSupported`.
"""

from .errors import NotSupported, TransportError

DBUS_NAME = "org.freedesktop.DBus"
DBUS_PATH = "/org/freedesktop/DBus"
OBJECT_MANAGER = "org.freedesktop.DBus.ObjectManager"
PROPERTIES = "org.freedesktop.DBus.Properties"


def _jeepney():
    try:
        import jeepney
        from jeepney.io import blocking
    except ImportError:
        raise NotSupported("talking to mctpd over D-Bus needs the jeepney library",
                           hint="pip install 'cxl-mi[dbus]'")
    return jeepney, blocking


class DBusCallError(TransportError):
    """The peer answered a method call with a D-Bus error."""

    def __init__(self, name, text, what):
        super().__init__("%s: %s%s" % (what, name, ": %s" % text if text else ""))
        self.name = name
        self.text = text


def unwrap_variant(value):
    """jeepney hands variants over as ``(signature, value)``; keep the value."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        return value[1]
    return value


class Bus:
    """One connection to a message bus.

    ``address`` is ``None`` or ``"SYSTEM"`` for the system bus (honouring
    ``DBUS_SYSTEM_BUS_ADDRESS``), ``"SESSION"``, or a D-Bus address such as
    ``unix:path=/run/dbus/system_bus_socket``.
    """

    def __init__(self, address=None, timeout=2.0):
        jeepney, blocking = _jeepney()
        self._jeepney = jeepney
        self.address = address or "SYSTEM"
        self.timeout = timeout
        try:
            self.conn = blocking.open_dbus_connection(bus=self.address)
        except Exception as exc:  # OSError, KeyError, AuthenticationError, TimeoutError…
            where = self.address
            if self.address == "SYSTEM":
                import os
                where = "the system bus, %s" % os.environ.get(
                    "DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/var/run/dbus/system_bus_socket")
            if isinstance(exc, OSError) and exc.strerror:
                why = exc.strerror.lower()          # "no such file or directory"
                if exc.filename:
                    why = "%s: %s" % (exc.filename, why)
            else:
                why = str(exc) or exc.__class__.__name__
            raise TransportError(
                "no D-Bus message bus reachable at %s (%s)" % (where, why),
                getattr(exc, "errno", None),
                hint="is dbus-daemon running? DBUS_SYSTEM_BUS_ADDRESS names another bus")

    def call(self, destination, path, interface, member, signature=None, body=()):
        jeepney = self._jeepney
        addr = jeepney.DBusAddress(path, bus_name=destination, interface=interface)
        msg = jeepney.new_method_call(addr, member, signature, tuple(body))
        what = "%s %s %s.%s" % (destination, path, interface, member)
        try:
            reply = self.conn.send_and_get_reply(msg, timeout=self.timeout)
        except TimeoutError:
            raise TransportError("%s: no reply within %.3g s" % (what, self.timeout))
        except OSError as exc:
            raise TransportError("%s: %s" % (what, exc), exc.errno)
        if reply.header.message_type == jeepney.MessageType.error:
            name = reply.header.fields.get(jeepney.HeaderFields.error_name, "error")
            text = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
            raise DBusCallError(name, text, what)
        return reply.body

    def name_has_owner(self, name):
        return bool(self.call(DBUS_NAME, DBUS_PATH, DBUS_NAME, "NameHasOwner", "s",
                              (name,))[0])

    def get_managed_objects(self, destination, path):
        """``{object path: {interface: {property: value}}}`` with variants unwrapped."""
        (objects,) = self.call(destination, path, OBJECT_MANAGER, "GetManagedObjects")
        return {opath: {iface: {prop: unwrap_variant(v) for prop, v in props.items()}
                        for iface, props in ifaces.items()}
                for opath, ifaces in objects.items()}

    def close(self):
        conn, self.conn = getattr(self, "conn", None), None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
