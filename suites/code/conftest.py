"""The source checkout the code and build gates inspect, and the run's one set of gate results."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.inventory import Inventory
from fixtures.run_store import RunStore
from suites.code.gates import Checkout, Verdict, run_gates, selected_gates


@pytest.fixture(scope="session")
def code_gates(request: pytest.FixtureRequest, inventory: Inventory, source_dir: Path, run_dir: Path) -> dict:
    """Every selected gate's verdict, run once per run and shared by every xdist worker.

    The first process that needs them starts every selected gate at once and
    stores the verdicts in the run directory; the others read them.
    """
    settings = inventory.code
    checkout = Checkout(
        root=source_dir,
        app_paths=tuple(settings.app_paths),
        requirements=tuple(settings.requirements),
        timeout=settings.timeout_seconds,
        scratch=run_dir / "code",
    )
    store = RunStore(run_dir, "code_gates")
    return store.ensure(selected_gates(request.session.items), lambda names: run_gates(names, checkout))


@pytest.fixture
def gate_verdict(request: pytest.FixtureRequest, code_gates: dict) -> Verdict:
    """The verdict of the gate this check enforces (``@gate(name)`` on the check).

    The gate's run time and the process that ran it are properties of the check
    (``gate_seconds`` and ``gate_runner`` in junit.xml).
    """
    data = code_gates[request.function.code_gate]
    verdict = Verdict.from_data(data)
    request.node.user_properties += [("gate_seconds", verdict.seconds), ("gate_runner", data.get("runner_pid"))]
    return verdict
