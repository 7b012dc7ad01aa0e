# SPDX-License-Identifier: LGPL-2.1-or-later
"""The library's logger ("cxlmi"), imported only when something is logged."""


class _LazyLogger:
    _logger = None

    def __getattr__(self, name):
        logger = _LazyLogger._logger
        if logger is None:
            import logging
            logger = _LazyLogger._logger = logging.getLogger("cxlmi")
        return getattr(logger, name)


log = _LazyLogger()
