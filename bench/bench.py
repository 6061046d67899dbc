"""Benchmark of the suite against the embedded sandbox (not a test).

Measures wall time and peak memory of whole suite runs, each in its own pytest
process, against one shared sandbox unless a scenario starts its own:

  .venv/bin/python bench/bench.py [--repeat N] [--json PATH] [--only NAME ...]
  .venv/bin/python bench/bench.py --soak 20         # repeated healthy runs: failures and spread

Every figure is the median of ``--repeat`` runs (worst and peak RSS beside it);
ratios are computed from scenarios measured in the same invocation. The table
is printed and written to ``reports/bench.json`` (or ``--json``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the project's packages
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "tests"))  # the loopback fakes of the tests

from expected import TDS_ENTITY
from host_stage import with_sandbox_hosts
from hostile_servers import black_hole, target_with_app_at, trickle
from production_stage import SETTLED_TRAFFIC_SQL, production_env, run_sql

from fixtures.inventory import PROJECT_ROOT
from sandbox import Sandbox, default_home

ROUTES = ["products", "customers", "invoices", "orders", "stock", "prices", "payments", "vendors", "users"]
STAGING = ["-m", "staging"]


@dataclass(frozen=True)
class Scenario:
    """One measured pytest invocation; ``own_sandbox``: the run starts (and stops) a sandbox of its own."""

    name: str
    args: list[str]
    own_sandbox: bool = False
    goal: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    hostile_app: Callable | None = None  # a fake app (tests/hostile_servers.py) the target's app URL points at
    production: bool = False  # the shipped production inventory, pointed at the sandbox as the tests do


def _hung(routes: list[str]) -> list[str]:
    return [arg for route in routes for arg in ("--sandbox-fault", f"webhook-timeout:{route}")]


SCENARIOS = [
    Scenario("staging, healthy, 1 process, sandbox start included", STAGING, own_sandbox=True, goal="< 20 s"),
    Scenario("staging, healthy, 1 process", STAGING),
    Scenario("staging, healthy, -n auto, sandbox start included", [*STAGING, "-n", "auto"], own_sandbox=True),
    Scenario("staging, healthy, -n auto", [*STAGING, "-n", "auto"]),
    Scenario("staging, 1 webhook hung", [*STAGING, *_hung(ROUTES[:1])]),
    Scenario("staging, 9 webhooks hung", [*STAGING, *_hung(ROUTES)], goal="<= 1.3 x one hung"),
    Scenario("heal worker-down (detect, restart, verify)", [*STAGING, "--sandbox-fault", "worker-down", "--heal"],
             goal="< 15 s"),
    Scenario("heal stuck-processing:3", [*STAGING, "--sandbox-fault", "stuck-processing:3", "--heal"]),
    Scenario("heal zoho-drift:contacts:20", [*STAGING, "--sandbox-fault", "zoho-drift:contacts:20", "--heal"]),
    Scenario("production stage, healthy, 1 process", ["-m", "production"], production=True),
    Scenario("production stage, healthy, -n 2", ["-m", "production", "-n", "2"], production=True),
    Scenario("production stage with the post-deploy window (3 x 1 s)", ["-m", "production or slow"],
             production=True),
    Scenario("staging, black-holed app", STAGING, hostile_app=black_hole, goal="< 60 s"),
    Scenario("staging, app trickling 1 byte/s", STAGING, hostile_app=trickle, goal="< 60 s"),
]

# Runs a command and prints the peak RSS (KiB) of its process tree: a fresh
# parent, so RUSAGE_CHILDREN covers this one run (xdist workers included).
_MEASURE = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def suite_env(sandbox: Sandbox | None) -> dict[str, str]:
    """This process's environment without test or target variables, plus the shared sandbox's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TSH_"))}
    if sandbox is not None:
        env.update(sandbox.env())
    else:
        # A home of its own, so the run starts a sandbox rather than attaching to the shared one.
        env["TSH_SANDBOX_HOME"] = str(default_home().parent / f"bench-own-{uuid.uuid4().hex[:6]}")
    return env


def run_once(sandbox: Sandbox, scenario: Scenario) -> tuple[float, float, int]:
    """Wall seconds, peak RSS (MiB) of the pytest process tree, exit code."""
    env = {**suite_env(None if scenario.own_sandbox else sandbox), **scenario.extra_env}
    with tempfile.TemporaryDirectory() as reports, contextlib.ExitStack() as stack:
        target = []
        if scenario.production:
            # The production stage reads a day's settled traffic; the sandbox gets it as the tests give it.
            run_sql(sandbox, SETTLED_TRAFFIC_SQL, {"entities": sorted(set(TDS_ENTITY.values()))})
            env = {**production_env(sandbox, Path(reports)), **scenario.extra_env}
            target = [f"--target={with_sandbox_hosts('production', Path(reports))}"]
        if scenario.hostile_app is not None:
            app = stack.enter_context(scenario.hostile_app())
            target = [f"--target={target_with_app_at(app.url, Path(reports))}"]
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--reports-dir={reports}",
                   *target, *scenario.args]  # fmt: skip
        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-c", _MEASURE, *command],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900, check=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
    sandbox.reset()
    peak_kib, code = completed.stdout.split()
    return seconds, int(peak_kib) / 1024, int(code)


def measure(sandbox: Sandbox, scenario: Scenario, repeat: int) -> dict:
    runs = [run_once(sandbox, scenario) for _ in range(repeat)]
    return {
        "median_s": round(statistics.median(r[0] for r in runs), 2),
        "max_s": round(max(r[0] for r in runs), 2),
        "peak_rss_mib": round(max(r[1] for r in runs), 1),
        "exit_codes": sorted({r[2] for r in runs}),
        "goal": scenario.goal,
    }


def soak(sandbox: Sandbox, runs: int) -> dict:
    """``runs`` healthy staging runs, the first half serial, the rest with -n 2: exit codes and spread."""
    results = []
    for number in range(runs):
        workers = ["-n", "2"] if number >= runs // 2 else []
        results.append(run_once(sandbox, Scenario("soak", [*STAGING, *workers])))
    return {
        "runs": runs,
        "failed_runs": sum(1 for r in results if r[2] != 0),
        "median_s": round(statistics.median(r[0] for r in results), 2),
        "max_s": round(max(r[0] for r in results), 2),
        "peak_rss_mib": round(max(r[1] for r in results), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per scenario (median reported)")
    parser.add_argument("--only", nargs="+", default=[], metavar="TEXT", help="Scenarios whose name contains TEXT")
    parser.add_argument("--soak", type=int, default=0, metavar="N", help="Instead: N healthy runs (half -n 2)")
    parser.add_argument("--json", type=Path, default=PROJECT_ROOT / "reports" / "bench.json")
    options = parser.parse_args()

    started = time.perf_counter()
    home = default_home().parent / f"bench-{uuid.uuid4().hex[:6]}"
    sandbox = Sandbox.start(home, db_password=secrets.token_urlsafe(16))
    figures: dict = {"sandbox_start_s": round(time.perf_counter() - started, 2), "scenarios": {}}
    try:
        if options.soak:
            figures["soak"] = soak(sandbox, options.soak)
        for scenario in SCENARIOS:
            if options.soak or (options.only and not any(text in scenario.name for text in options.only)):
                continue
            figures["scenarios"][scenario.name] = measure(sandbox, scenario, options.repeat)
    finally:
        sandbox.stop(remove=True)
    rows = figures["scenarios"]
    one, nine = rows.get("staging, 1 webhook hung"), rows.get("staging, 9 webhooks hung")
    if one and nine:
        figures["ratio_9_hung_to_1_hung"] = round(nine["median_s"] / one["median_s"], 2)
    print_table(figures)
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def print_table(figures: dict) -> None:
    print(f"sandbox start: {figures['sandbox_start_s']} s")
    print(f"{'scenario':52} {'median s':>9} {'max s':>7} {'peak RSS MiB':>13}  exit  goal")
    for name, row in figures["scenarios"].items():
        print(f"{name:52} {row['median_s']:>9} {row['max_s']:>7} {row['peak_rss_mib']:>13}  "
              f"{row['exit_codes']}  {row['goal']}")  # fmt: skip
    if "ratio_9_hung_to_1_hung" in figures:
        print(f"9 hung / 1 hung: {figures['ratio_9_hung_to_1_hung']} (goal <= 1.3)")
    if "soak" in figures:
        soaked = figures["soak"]
        print(f"soak: {soaked['runs']} healthy runs, {soaked['failed_runs']} failed; median {soaked['median_s']} s, "
              f"max {soaked['max_s']} s, peak RSS {soaked['peak_rss_mib']} MiB")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
