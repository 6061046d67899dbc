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
from remedies.target_state import STATE_DIR_VARIABLE
from sandbox import Sandbox
from sandbox.provision import ENV_SETTINGS, api_token, derived_secret, zoho_access_token

# Distinctive secrets the sandbox is started with; no artifact may contain them.
DB_PASSWORD = "pw-Zx81q-never-in-reports"
WEBHOOK_KEY = "whk-Qp77v-never-in-reports"
# A secret counts as leaked when even this many of its first characters are written (a truncated excerpt).
SECRET_PREFIX_LENGTH = 8
ZOHO_SECRET_NAMES = ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN")
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

    def outcomes(self) -> dict[str, tuple[str, str | None, str | None]]:
        """node id -> (kind, recipe, root cause) of every failure in findings.json."""
        return {f["nodeid"]: (f["kind"], f["recipe"], f["root_cause"]) for f in self.findings["failures"]}

    def evidence(self, nodeid: str) -> dict:
        """The evidence of the failure of ``nodeid``."""
        return next(f["evidence"] for f in self.findings["failures"] if f["nodeid"] == nodeid)

    def ledger(self) -> list[dict]:
        path = self.reports_dir / "healing" / "ledger.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# Variables that configure a run (incidents and notifications included): a suite run gets only the ones a test sets.
RUN_CONFIGURATION_PREFIXES = ("PYTEST_", "TSH_", "GITHUB_TOKEN", "GITHUB_REPOSITORY", "GITHUB_API_URL", "TELEGRAM_")


def suite_env(sandbox: Sandbox | None = None) -> dict[str, str]:
    """The environment of a suite run: none of this process's run configuration; the sandbox's own.

    The runs keep their targets' state (heal lock, target ledger) in the sandbox's home, never in
    the machine's ``~/.local/state``.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(RUN_CONFIGURATION_PREFIXES)}
    if sandbox is not None:
        env.update(sandbox.env())
        env[STATE_DIR_VARIABLE] = str(sandbox.home / "heal-state")
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


def sandbox_secrets(sandbox: Sandbox | None = None) -> dict[str, str]:
    """``name -> value`` of every secret the sandbox's env file, BFF and worker use (and, given the sandbox,
    the OAuth client of its Zoho simulator, which is generated at its start)."""
    secrets = {
        "DB_PASSWORD": DB_PASSWORD,
        "WEBHOOK_KEY": WEBHOOK_KEY,
        "api token": api_token(DB_PASSWORD),
        "Zoho access token": zoho_access_token(DB_PASSWORD),
    }
    derived = (name for name, fixed in ENV_SETTINGS.items() if fixed is None)
    secrets.update({f"env file {name}": derived_secret(DB_PASSWORD, name) for name in derived})
    if sandbox is not None:
        env = sandbox.env()
        secrets.update({name: env[f"TSH_SANDBOX_ZOHO_{name}"] for name in ZOHO_SECRET_NAMES})
    return secrets


def leaked_secrets(text: bytes, secrets: dict[str, str]) -> list[str]:
    """Names of the secrets whose value, or its first characters, occur in ``text``."""
    return [
        name
        for name, value in secrets.items()
        if value.encode() in text or value[:SECRET_PREFIX_LENGTH].encode() in text
    ]


def assert_no_secret_in(run: SuiteRun, sandbox: Sandbox | None = None) -> None:
    """No secret of the sandbox, nor its first characters, in any file under the run's reports or in its output."""
    secrets = sandbox_secrets(sandbox)
    leaks = {
        str(path.relative_to(run.reports_dir)): found
        for path in sorted(run.reports_dir.rglob("*"))
        if path.is_file() and (found := leaked_secrets(path.read_bytes(), secrets))
    }
    if found := leaked_secrets(run.output.encode(), secrets):
        leaks["terminal output"] = found
    assert not leaks, f"secret values (named, not shown) found in: {leaks}"


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
