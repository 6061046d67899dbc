"""Routes of the sample app, shaped like the ERP's FastAPI routers."""

from __future__ import annotations

import logging
import os

from app.settings import Settings

logger = logging.getLogger(__name__)


def load_settings() -> Settings:
    """Settings from the environment; no credential has a default."""
    return Settings(
        environment=os.environ.get("ENVIRONMENT", "development"),
        log_level=os.environ.get("LOG_LEVEL", "INFO"),
    )


def health() -> dict[str, str]:
    """The liveness answer."""
    logger.debug("health requested")
    return {"status": "healthy"}
