"""Benchmark of the suite against the embedded sandbox (not a test).

Measures wall time and peak memory of whole suite runs, each in its own pytest
process against one shared sandbox:

  .venv/bin/python bench/bench.py [--repeat N] [--json PATH]

Scenarios: the healthy staging suite (one process, and -n 2), the suite with
every webhook hung (probes run concurrently, so this stays near one HTTP
timeout), and a heal of a stopped worker including its verification re-run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the project's packages

from fixtures.inventory import PROJECT_ROOT
from sandbox import Sandbox, default_home

ROUTES = ["products", "customers", "invoices", "orders", "stock", "prices", "payments", "vendors", "users"]
SCENARIOS = {
    "staging, healthy, 1 process": ["-m", "staging"],
    "staging, healthy, -n 2": ["-m", "staging", "-n", "2"],
    "staging, 9 hung webhooks": [
        "-m",
        "staging",
        *[a for r in ROUTES for a in ("--sandbox-fault", f"webhook-timeout:{r}")],
    ],
    "staging, worker down, --heal": ["-m", "staging", "--sandbox-fault", "worker-down", "--heal"],
}


# Runs a command and prints the peak RSS (KiB) of its process tree: a fresh
# parent, so RUSAGE_CHILDREN covers this one run (xdist workers included).
_MEASURE = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def run_once(sandbox: Sandbox, args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) of the pytest process tree, exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TSH_"))}
    env.update(sandbox.env())
    with tempfile.TemporaryDirectory() as reports:
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--reports-dir={reports}", *args]
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-c", _MEASURE, *command],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        seconds = time.perf_counter() - started
    sandbox.reset()
    peak_kib, code = completed.stdout.split()
    return seconds, int(peak_kib) / 1024, int(code)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per scenario (median reported)")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file")
    options = parser.parse_args()

    started = time.perf_counter()
    home = default_home().parent / f"bench-{uuid.uuid4().hex[:6]}"
    sandbox = Sandbox.start(home, db_password=secrets.token_urlsafe(16))
    startup = time.perf_counter() - started
    figures = {"sandbox_start_s": round(startup, 2), "scenarios": {}}
    try:
        for name, args in SCENARIOS.items():
            runs = [run_once(sandbox, args) for _ in range(options.repeat)]
            figures["scenarios"][name] = {
                "median_s": round(statistics.median(r[0] for r in runs), 2),
                "max_s": round(max(r[0] for r in runs), 2),
                "peak_rss_mib": round(max(r[1] for r in runs), 1),
                "exit_codes": sorted({r[2] for r in runs}),
            }
    finally:
        sandbox.stop(remove=True)
    print(f"sandbox start: {figures['sandbox_start_s']} s")
    print(f"{'scenario':36} {'median s':>9} {'max s':>7} {'peak RSS MiB':>13}  exit")
    for name, row in figures["scenarios"].items():
        print(f"{name:36} {row['median_s']:>9} {row['max_s']:>7} {row['peak_rss_mib']:>13}  {row['exit_codes']}")
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
