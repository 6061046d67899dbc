"""Shared fixtures of the product's tests: a real sandbox and real suite runs against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.inventory import PROJECT_ROOT
from sandbox import Sandbox, default_home

# Distinctive secrets the sandbox is started with; no artifact may contain them.
DB_PASSWORD = "pw-Zx81q-never-in-reports"
WEBHOOK_KEY = "whk-Qp77v-never-in-reports"
SUITE_RUN_TIMEOUT = 300


@dataclass
class SuiteRun:
    """One run of the suite in its own pytest process."""

    exit_code: int
    output: str
    reports_dir: Path
    seconds: float

    @property
    def findings(self) -> dict:
        return json.loads((self.reports_dir / "findings.json").read_text(encoding="utf-8"))

    def failed(self) -> dict[str, tuple[str, str | None]]:
        """node id -> (kind, recipe) of every failure in findings.json."""
        return {f["nodeid"]: (f["kind"], f["recipe"]) for f in self.findings["failures"]}

    def ledger(self) -> list[dict]:
        path = self.reports_dir / "healing" / "ledger.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


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


def suite_env(sandbox: Sandbox | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "TSH_"))}
    if sandbox is not None:
        env.update(sandbox.env())
    return env


def run_suite(sandbox: Sandbox | None, reports_dir: Path, *args: str, env: dict | None = None) -> SuiteRun:
    """Run the checks with ``args`` in a new pytest process against ``sandbox``."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--reports-dir={reports_dir}", *args]
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=env or suite_env(sandbox),
        capture_output=True,
        text=True,
        timeout=SUITE_RUN_TIMEOUT,
        check=False,
    )
    return SuiteRun(completed.returncode, completed.stdout + completed.stderr, reports_dir, time.monotonic() - started)


@pytest.fixture
def suite(healthy_sandbox, tmp_path):
    """``suite(*args)`` runs the checks against the healthy sandbox; reports go to tmp_path."""
    counter = iter(range(1000))

    def run(*args: str) -> SuiteRun:
        return run_suite(healthy_sandbox, tmp_path / f"run{next(counter)}", *args)

    return run
