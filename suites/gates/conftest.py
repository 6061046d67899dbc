"""The deployed checkout the pre-deploy gates inspect."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.failures import CheckFailed
from fixtures.inventory import Inventory


@pytest.fixture(scope="session")
def release_checkout(inventory: Inventory) -> Path:
    """The deployed code's checkout (``[code] source_dir``); the gates are skipped when none is configured."""
    configured = inventory.code.source_dir
    if configured is None:
        pytest.skip("no deployed checkout configured ([code] source_dir; set TSH_SOURCE_DIR on staging/production)")
    path = Path(configured)
    if not (path / ".git").exists():
        raise CheckFailed("missing", "the configured source directory is not a git checkout", source_dir=configured)
    return path
