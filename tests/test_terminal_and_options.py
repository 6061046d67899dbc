"""What the terminal says (progress on long waits, titled FAILED lines, a closing verdict), an interrupted
run in every report, and every option of the plugins in its space-separated form, with and without ``-n 2``."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from _pytest.config.argparsing import Parser
from expected import DELIVERY_CHECK_FILES, HEALTH
from suite_runner import SUITE_RUN_TIMEOUT, SuiteRun, suite_env

from fixtures import reporting, target
from fixtures.inventory import PROJECT_ROOT
from remedies import plugin, reports
from remedies.analysis import Failure
from remedies.healing import HealOutcome
from remedies.reports import RunResult, verdict_line


def start_pytest(sandbox, *args: str, columns: int = 250) -> subprocess.Popen[str]:
    """A child pytest with exactly ``args`` (no option spelled for it), output wide enough to read whole lines."""
    env = {**suite_env(sandbox), "COLUMNS": str(columns)}
    env.pop("CI", None)  # the terminal's own width decides what the short summary keeps, as on a desk
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def finish(process: subprocess.Popen[str], reports_dir: Path, started: float) -> SuiteRun:
    output, _ = process.communicate(timeout=SUITE_RUN_TIMEOUT)
    return SuiteRun(process.returncode, output, reports_dir, time.monotonic() - started)


def last_line(output: str) -> str:
    return output.rstrip("\n").splitlines()[-1]


# --- options in their space-separated form -----------------------------------------------------


def plugin_value_options() -> set[str]:
    """Every option of the suite's plugins that takes a value."""
    parser = Parser(_ispytest=True)
    for module in (target, reporting, plugin):
        module.pytest_addoption(parser)
    return {
        name
        for action in parser.optparser._actions
        if action.option_strings and action.nargs != 0 and action.dest != "help"
        for name in action.option_strings
        if action.help != "==SUPPRESS=="
    }


def test_the_space_separated_test_below_covers_every_value_option_of_the_plugins():
    assert plugin_value_options() == {
        "--reports-dir", "--target", "--sandbox-fault", "--heal-approve", "--staging-findings"
    }  # fmt: skip


@pytest.mark.parametrize("workers", [["--maxfail", "1"], ["-n", "2"]], ids=["one-process-maxfail", "xdist"])
def test_every_value_option_works_space_separated(healthy_sandbox, tmp_path, workers):
    # Before the fix, with -n 2 the workers re-parsed `--reports-dir DIR` after the controller had
    # created DIR, took it for the test path and rootdir, and ran nothing (exit 5).
    # The one-process run also stops at its first failure (--maxfail 1): its reports say it was interrupted.
    stopped = "--maxfail" in workers
    reports_dir = tmp_path / "reports outside the checkout"
    started = time.monotonic()
    process = start_pytest(
        healthy_sandbox, *workers, "--reports-dir", str(reports_dir), "--target", "sandbox",
        "--sandbox-fault", "backend-down", "--heal-approve", "H09", "--staging-findings", str(tmp_path / "staging run"),
        "-m", "production", "-k", "test_health_reports",
    )  # fmt: skip
    run = finish(process, reports_dir, started)

    assert run.exit_code == 1, run.output
    assert "sandbox faults for this run: backend-down" in run.output
    assert set(run.outcomes()) == {HEALTH}
    # The short summary's FAILED line carries the finding's kind and title, not the exception's class path.
    (failed_line,) = [line for line in run.output.splitlines() if line.startswith("FAILED ")]
    message = run.findings["failures"][0]["message"]
    assert failed_line == f"FAILED {HEALTH} - [{run.findings['failures'][0]['kind']}] {message}"
    assert "CheckFailed" not in failed_line
    # The verdict is the run's last line, after pytest's own "1 failed in Xs".
    verdict = ("interrupted: " if stopped else "") + "1 failed (no heal, exit 1)"
    assert last_line(run.output).strip("= ") == verdict, run.output[-2000:]
    assert run.findings["interrupted"] is stopped
    if stopped:
        assert run.findings["interrupted_reason"] == (
            "the run was interrupted (stopping after 1 failures): checks after the stop did not run"
        )
    assert healthy_sandbox.faults() == []


# --- an interrupted run says so everywhere -----------------------------------------------------


def test_sigint_while_probes_settle_shows_progress_and_every_report_says_interrupted(healthy_sandbox, tmp_path):
    reports_dir = tmp_path / "reports"
    started = time.monotonic()
    process = start_pytest(
        healthy_sandbox, "--reports-dir", str(reports_dir), *DELIVERY_CHECK_FILES, "-m", "staging",
        "--sandbox-fault", "worker-down",
    )  # fmt: skip
    seen = []
    # The probes never settle with the worker down: the run says what it waits for, without -s.
    for line in process.stdout:
        seen.append(line)
        if "... waiting for" in line:
            break
    assert process.poll() is None, "".join(seen)
    assert any(line.startswith("... waiting for 9 webhook probe(s) to settle: 2 s of at most") for line in seen)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=SUITE_RUN_TIMEOUT)
    run = SuiteRun(process.returncode, "".join(seen) + rest, reports_dir, time.monotonic() - started)

    assert run.exit_code == pytest.ExitCode.INTERRUPTED, run.output
    assert run.findings["interrupted"] is True
    assert run.findings["interrupted_reason"].startswith("the run was interrupted (SIGTERM or SIGINT)")
    assert "**the run was interrupted (SIGTERM or SIGINT)" in (reports_dir / "summary.md").read_text(encoding="utf-8")
    suggestions = (reports_dir / "auto_healing_suggestions.txt").read_text(encoding="utf-8")
    assert suggestions.startswith("INTERRUPTED: the run was interrupted (SIGTERM or SIGINT)")
    assert "(the run was interrupted)" in (reports_dir / "report.html").read_text(encoding="utf-8")
    suite = ET.parse(reports_dir / "junit.xml").getroot()  # noqa: S314 -- the run's own file
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert properties["tsh_interrupted"] == "true"
    allure_environment = (reports_dir / "allure-results" / "environment.properties").read_text(encoding="utf-8")
    assert "run.interrupted=true\n" in allure_environment
    assert properties["tsh_verdict"].startswith("interrupted: ")
    assert last_line(run.output).strip("= ").startswith("interrupted: ")
    assert "Traceback" not in run.output
    assert healthy_sandbox.faults() == []


# --- the verdict line ------------------------------------------------------------------------


def step(recipe: str, decision: str) -> SimpleNamespace:
    return SimpleNamespace(recipe_id=recipe, decision=decision)


def result_of(failures: list[Failure], heal: HealOutcome | None) -> RunResult:
    now = datetime.now(UTC)
    return RunResult("t", "sandbox", now, now, 3, len(failures), 0, failures, heal)


def test_the_verdict_names_what_was_healed_and_why_the_rest_was_not():
    root = Failure("a", "server-error", recipe="H09", healed=False, heal_note="no repairing step ran for its recipe")
    symptom = Failure("b", "server-error", root_cause="a", healed=False)
    fixed = Failure("c", "queue-stuck", recipe="H11", healed=True)
    lost = Failure("d", "error", healed=False, heal_note="no recipe")
    heal = HealOutcome(dry_run=False, steps=[(step("H09", "needs_approval"), None), (step("H11", "run"), None)])
    assert verdict_line(result_of([fixed], heal), exit_code=0) == "1 failed → 1 healed and verified (exit 0)"
    assert verdict_line(result_of([root, symptom, fixed], heal), exit_code=1) == (
        "3 failed → 1 healed and verified, 2 not healed: H09 needs approval (exit 1)"
    )
    assert verdict_line(result_of([root, fixed, lost], heal), exit_code=1) == (
        "3 failed → 1 healed and verified, 2 not healed: H09 needs approval (1), no recipe (1) (exit 1)"
    )
    assert verdict_line(result_of([root], None), exit_code=1) == "1 failed (no heal, exit 1)"
    assert verdict_line(result_of([], None), exit_code=0) == "3 passed, none failed (exit 0)"
    assert verdict_line(result_of([root], None), "stopped", 2) == "interrupted: 1 failed (no heal, exit 2)"


def test_summary_md_leads_with_a_compact_root_cause_table():
    root = Failure("suites/api/test_health.py::test_health_reports_healthy[app]", "unreachable", recipe="H13")
    root.healed = True
    symptom = Failure("suites/api/test_x.py::test_y", "unreachable", root_cause=root.nodeid, healed=False)
    other = Failure("suites/database/test_connection.py::test_database_answers_select_1", "unreachable")
    result = result_of([root, symptom, other], None)
    table = reports.root_cause_table(result)
    assert table == [
        "| Root cause | Kind | Recipe | Symptoms | Final state |",
        "|---|---|---|---|---|",
        "| `test_health_reports_healthy[app]` | unreachable | H13 | 1 | 1/2 healed |",
        "| `test_database_answers_select_1` | unreachable | none | 0 | failed |",
    ]
    # Five columns of short cells: each row fits GitHub's step-summary width.
    assert all(line.count("|") == 6 and len(line) <= 110 for line in table)
