"""Running the suite in its own pytest process, as a user would, for exact assertions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from fixtures.inventory import PROJECT_ROOT
from sandbox import Sandbox
from sandbox.provision import ENV_VARIABLES, api_token, derived_secret

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
    peak_rss_mib: float | None = None  # of the pytest process tree, when the run measured it

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


def suite_env(sandbox: Sandbox | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "TSH_"))}
    if sandbox is not None:
        env.update(sandbox.env())
    return env


# Runs argv[3:] and writes the peak RSS (KiB) of its process tree to argv[1]: a fresh parent, so
# RUSAGE_CHILDREN covers this one run (xdist workers included); argv[2] is its timeout.
_MEASURE_PEAK_RSS = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[3:], timeout=float(sys.argv[2])).returncode; "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)


def run_suite(
    sandbox: Sandbox | None, reports_dir: Path, *args: str, env: dict | None = None, measure_rss: bool = False
) -> SuiteRun:
    """Run the checks with ``args`` in a new pytest process against ``sandbox`` (``measure_rss``: and its peak RSS)."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--reports-dir={reports_dir}", *args]
    rss_file = reports_dir.parent / f"{reports_dir.name}.peak-rss-kib"
    if measure_rss:
        command = [sys.executable, "-c", _MEASURE_PEAK_RSS, str(rss_file), str(SUITE_RUN_TIMEOUT), *command]
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=env or suite_env(sandbox),
        capture_output=True,
        text=True,
        timeout=SUITE_RUN_TIMEOUT + (10 if measure_rss else 0),
        check=False,
    )
    seconds = time.monotonic() - started
    peak_rss_mib = int(rss_file.read_text(encoding="utf-8")) / 1024 if measure_rss else None
    return SuiteRun(completed.returncode, completed.stdout + completed.stderr, reports_dir, seconds, peak_rss_mib)


def sandbox_secrets() -> list[str]:
    """Every secret value the sandbox's env file and BFF use."""
    derived = [derived_secret(DB_PASSWORD, name) for name in ENV_VARIABLES]
    return [DB_PASSWORD, WEBHOOK_KEY, api_token(DB_PASSWORD), *derived]


def assert_no_secret_in(run: SuiteRun) -> None:
    """No secret value of the sandbox in any file of the run's reports or in its output."""
    for path in (p for p in run.reports_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for secret in sandbox_secrets():
            assert secret.encode() not in content, f"a secret value is in {path.relative_to(run.reports_dir)}"
    assert not any(secret in run.output for secret in sandbox_secrets())


def sandbox_cli(
    *arguments: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m sandbox ARGUMENTS`` in its own process, without this process's sandbox variables."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TSH_SANDBOX_")}
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *arguments],
        cwd=PROJECT_ROOT,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
