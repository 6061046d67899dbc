"""The ERP app's own log file: ``<UTC ISO time> LEVEL logger: message`` lines, as the host log checks read them.

The app writes an INFO line when it starts and, while the ``error-spike`` fault is in effect, an ERROR line
for every request it serves (the sandbox's stand-in for a release that fails in the background while
``/health`` still answers).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from ..faults import FaultStore

LOGGER_NAME = "sandbox.erp"
ERROR_SPIKE = "error-spike"
LINE_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s"


def open_app_log(path: Path) -> logging.Logger:
    """The app's logger, appending to ``path`` (a truncated file is written from its new end)."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not any(isinstance(handler, logging.FileHandler) for handler in logger.handlers):
        handler = logging.FileHandler(path, encoding="utf-8")
        formatter = logging.Formatter(LINE_FORMAT, datefmt="%Y-%m-%dT%H:%M:%S")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    return logger


class ErrorSpikeLog:
    """ASGI middleware: while ``error-spike`` is recorded, every HTTP request logs one ERROR line."""

    def __init__(self, app, *, faults: FaultStore, logger: logging.Logger) -> None:
        self.app = app
        self.faults = faults
        self.logger = logger

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and ERROR_SPIKE in self.faults.specs():
            self.logger.error(
                "unhandled error serving %s %s: upstream call failed (error-spike)", scope["method"], scope["path"]
            )
        await self.app(scope, receive, send)
