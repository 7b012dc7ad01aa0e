# SPDX-License-Identifier: LGPL-2.1-or-later
"""The library's loggers, importing ``logging`` only when something is logged.

``logging`` costs a few milliseconds to import; a CLI call that logs nothing
should not pay for it.
"""


import sys


def _nothing(*args, **kwargs):
    return None


class LazyLogger:
    # Until something imports logging (the CLI's -v does, so does any
    # application that configures it), no handler can exist and debug/info
    # records would go nowhere: skip them without importing logging.
    # Warnings and errors still import it (logging's last-resort handler
    # prints them).
    _QUIET = ("debug", "info")

    def __init__(self, name):
        self._name = name
        self._logger = None

    def isEnabledFor(self, level):
        """Would a record of ``level`` go anywhere (False until logging is imported)?"""
        if self._logger is None and "logging" not in sys.modules:
            return False
        return self.__getattr__("isEnabledFor")(level)

    def __getattr__(self, attr):
        logger = self._logger
        if logger is None:
            if attr in self._QUIET and "logging" not in sys.modules:
                return _nothing
            import logging
            logger = self._logger = logging.getLogger(self._name)
        value = getattr(logger, attr)
        if callable(value):
            # the logger's own method from now on, without this lookup (a
            # logger's level is looked at inside its methods, so this stays right)
            self.__dict__[attr] = value
        return value


def get(name):
    """A logger named ``name`` that comes to life on first use."""
    return LazyLogger(name)


log = get("cxlmi")
