"""Shared fixtures of the product's tests: a real sandbox and real suite runs against it."""

from __future__ import annotations

import os
import uuid

import pytest
from expected import TDS_ENTITY
from host_stage import with_sandbox_hosts
from production_stage import SETTLED_TRAFFIC_SQL, production_env, run_sql
from suite_runner import DB_PASSWORD, WEBHOOK_KEY, SuiteRun, run_suite

from sandbox import Sandbox, default_home


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Soak tests (minutes of repeated runs) run only when a ``-m`` expression names them."""
    if "soak" in (config.option.markexpr or ""):
        return
    soak = [item for item in items if item.get_closest_marker("soak")]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if not item.get_closest_marker("soak")]


@pytest.fixture(scope="session")
def sandbox():
    """A sandbox for this test process (each xdist worker gets its own)."""
    home = default_home().parent / f"tests-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    box = Sandbox.start(home, db_password=DB_PASSWORD, webhook_key=WEBHOOK_KEY)
    yield box
    box.stop(remove=True)


@pytest.fixture
def healthy_sandbox(sandbox):
    """The sandbox with no fault and every service up."""
    sandbox.reset()
    return sandbox


@pytest.fixture
def suite(healthy_sandbox, tmp_path):
    """``suite(*args)`` runs the checks against the healthy sandbox; reports go to tmp_path."""
    counter = iter(range(1000))

    def run(*args: str) -> SuiteRun:
        return run_suite(healthy_sandbox, tmp_path / f"run{next(counter)}", *args)

    return run


@pytest.fixture
def production(healthy_sandbox, tmp_path):
    """``production(*args, target=...)`` runs the whole production stage against the sandbox as production.

    ``target`` is ``production`` (the shipped inventory) or the path of a variant of it; its hosts block
    is swapped for the sandbox's (``tests/host_stage.py``). The sandbox gets a day's settled traffic
    first, and is reset after.
    """
    run_sql(healthy_sandbox, SETTLED_TRAFFIC_SQL, {"entities": sorted(set(TDS_ENTITY.values()))})
    env = production_env(healthy_sandbox, tmp_path)
    counter = iter(range(100))

    def run(*args: str, target: str = "production") -> SuiteRun:
        reports = tmp_path / f"run{next(counter)}"
        target = with_sandbox_hosts(target, tmp_path)
        return run_suite(healthy_sandbox, reports, "-m", "production", f"--target={target}", *args, env=env)

    yield run
    healthy_sandbox.reset()
