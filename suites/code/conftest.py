"""The source checkout the code and build gates inspect, and how they run tools on it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fixtures.failures import CheckFailed
from fixtures.inventory import Inventory


@pytest.fixture(scope="session")
def source_dir(inventory: Inventory) -> Path:
    """The inventory's ``[code] source_dir``; the gates are skipped when none is configured."""
    configured = inventory.code.source_dir
    if configured is None:
        pytest.skip("no source checkout configured ([code] source_dir; set TSH_SOURCE_DIR on staging/production)")
    path = Path(configured)
    if not (path / ".git").exists():
        raise CheckFailed("missing", "the configured source directory is not a git checkout", source_dir=configured)
    return path


@pytest.fixture(scope="session")
def run_tool(inventory: Inventory, source_dir: Path):
    """``run_tool(kind, argv)`` runs one tool in the checkout with the inventory's timeout.

    A tool that times out or cannot run at all fails the check with ``kind``.
    """

    def run(kind: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
        __tracebackhide__ = True
        name = " ".join(argv[1:4]) if argv[1:2] == ["-m"] else argv[0]
        timeout = inventory.code.timeout_seconds
        try:
            return subprocess.run(argv, cwd=source_dir, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise CheckFailed("timeout", f"{name} did not finish in time", timeout_s=timeout) from None
        except OSError as error:
            raise CheckFailed(kind, f"{name} could not run", error=str(error)) from None

    return run
