"""--heal when things go wrong around it: a step that fails over SSH, two heals at once, a SIGTERM mid-heal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from expected import DELIVERY_CHECK_FILES, ROUTES, completes
from suite_runner import SUITE_RUN_TIMEOUT, SuiteRun, run_suite, suite_env

from fixtures.inventory import PROJECT_ROOT, load_inventory
from remedies.target_state import STATE_DIR_VARIABLE, HealingLocked, HealLock, TargetIdentity, state_dir

SANDBOX_TARGET = PROJECT_ROOT / "targets" / "sandbox.toml"
WORKER_DOWN_HEAL = [*DELIVERY_CHECK_FILES, "-m", "staging", "--sandbox-fault", "worker-down", "--heal"]


def sandbox_variant(tmp_path: Path, name: str, replacements: dict[str, str]) -> Path:
    """The sandbox inventory with some of its text replaced (the same target: name, URL and database)."""
    text = SANDBOX_TARGET.read_text(encoding="utf-8")
    for old, new in replacements.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def heal_lock(sandbox) -> HealLock:
    """The sandbox target's heal lock, as the suite's runs (see ``suite_env``) find it."""
    env = suite_env(sandbox)
    inventory = load_inventory(SANDBOX_TARGET, environ=env)
    return HealLock(inventory, state_dir(TargetIdentity.of(inventory), environ=env))


def ledger_records(path: Path) -> list[dict]:
    """Every line of a ledger, each of which must be one complete JSON object."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- a step that fails --------------------------------------------------------------------


def test_a_restart_over_ssh_that_exits_255_is_a_failed_step_with_reports(healthy_sandbox, tmp_path):
    # Nothing listens on port 9: ssh itself fails and exits 255.
    target = sandbox_variant(tmp_path, "ssh-worker", {
        'name = "worker"\nargv = ["${TSH_SANDBOX_PYTHON}", "-m", "sandbox", "service", "{operation}", "worker", '
        '"--state", "${TSH_SANDBOX_STATE}"]': 'name = "tsh-worker"\nhost = "ssh://tsh@127.0.0.1:9"',
        '[services.worker]\nbinding = "command"': '[services.worker]\nbinding = "systemd"',
    })  # fmt: skip
    run = run_suite(healthy_sandbox, tmp_path / "reports", *WORKER_DOWN_HEAL, f"--target={target}")
    assert run.exit_code == 1, run.output
    assert "Traceback" not in run.output and "INTERNALERROR" not in run.output
    entries = [(e["recipe"], e["action"], e["decision"], e["result"], e["detail"]) for e in run.ledger()]
    assert entries[0][:4] == ("H11", "sql", "run", "ok")
    assert entries[1:] == [
        ("H11", "service", "run", "failed", "systemctl restart tsh-worker on ssh://tsh@127.0.0.1:9 exited 255: "
         "ssh: connect to host 127.0.0.1 port 9: Connection refused"),
    ]  # fmt: skip
    assert {f["nodeid"]: (f["healed"], f["heal_note"]) for f in run.findings["failures"]} == {
        completes(route): (False, "no repairing step ran for its recipe") for route in ROUTES
    }
    assert run.findings["interrupted"] is False
    report = next((run.reports_dir / "healing").glob("healing_report_*.txt")).read_text(encoding="utf-8")
    assert "[H11] service restart worker (systemd binding on ssh://tsh@127.0.0.1:9) [safe] run (safe step) -> " \
        "failed: systemctl restart tsh-worker on ssh://tsh@127.0.0.1:9 exited 255" in report  # fmt: skip
    for name in ("report.html", "junit.xml", "summary.md", "auto_healing_suggestions.txt"):
        assert (run.reports_dir / name).is_file(), name


# --- the lock belongs to the target -------------------------------------------------------


def test_a_held_advisory_lock_refuses_the_heal(sandbox):
    lock = heal_lock(sandbox)
    key = TargetIdentity.of(lock._inventory).advisory_key
    with psycopg.connect(sandbox.db_url, autocommit=True) as other_runner:
        assert other_runner.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        with pytest.raises(HealingLocked) as error, lock.held():
            pass
        assert str(error.value) == (
            f"another heal of target sandbox is running (PostgreSQL advisory lock {key} on its database is held); "
            "try again when it ends"
        )
    with lock.held():  # free again once the other runner's session is gone
        pass


def start_suite(sandbox, reports_dir: Path, *args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--reports-dir={reports_dir}", *args]
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def finish(process: subprocess.Popen[str], reports_dir: Path, started: float) -> SuiteRun:
    output, _ = process.communicate(timeout=SUITE_RUN_TIMEOUT)
    return SuiteRun(process.returncode, output, reports_dir, time.monotonic() - started)


def test_two_concurrent_heals_with_different_reports_dirs_restart_the_worker_once(healthy_sandbox, tmp_path):
    # The same target (name, URL, database) with a cooldown, so that a heal coming after the
    # other's has ended is held by the cooldown rather than by timing.
    target = sandbox_variant(tmp_path, "sandbox-cooldown", {"cooldown_minutes = 0": "cooldown_minutes = 60"})
    env = suite_env(healthy_sandbox)
    started = time.monotonic()
    processes = {
        name: start_suite(healthy_sandbox, tmp_path / name, *WORKER_DOWN_HEAL, f"--target={target}", env=env)
        for name in ("reports-a", "reports-b")
    }
    runs = [finish(process, tmp_path / name, started) for name, process in processes.items()]
    restarts = [(run, e) for run in runs for e in run.ledger() if e["action"] == "service"]
    acted = [(run, e["result"]) for run, e in restarts if e["decision"] == "run"]
    assert [result for _, result in acted] == ["ok"], "\n".join(run.output for run in runs)
    ((acting, _),) = acted
    (other,) = [run for run in runs if run is not acting]
    assert acting.exit_code == 0, acting.output
    assert [e["decision"] for run, e in restarts if run is other] in (["locked"], ["cooldown"]), other.output
    assert other.exit_code == 1, other.output  # it says why it did not act
    assert "another heal of target sandbox is running" in other.output or "cooldown of 60 min" in other.output
    for run in runs:
        assert run.findings["failures"] and (run.reports_dir / "summary.md").is_file()
    assert healthy_sandbox.status()["worker"] == "running"


STUCK_HEAL = ["suites/sync/test_queue_health.py", "-m", "staging", "--sandbox-fault", "stuck-processing:3", "--heal"]


def release_steps(run: SuiteRun) -> list[tuple[str, str]]:
    """(decision, result) of H10's fix step (the release of the stuck rows) in the run's ledger."""
    return [(e["decision"], e["result"]) for e in run.ledger() if e["description"].startswith("sql release_stuck")]


def test_another_runner_holding_the_advisory_lock_refuses_a_heal_from_another_machine(healthy_sandbox, tmp_path):
    # Another machine's runner: its own state directory (so no lock file is shared), the same database.
    env = {**suite_env(healthy_sandbox), STATE_DIR_VARIABLE: str(tmp_path / "other-machine")}
    key = TargetIdentity.of(heal_lock(healthy_sandbox)._inventory).advisory_key
    with psycopg.connect(healthy_sandbox.db_url, autocommit=True) as other_runner:
        assert other_runner.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
        run = run_suite(healthy_sandbox, tmp_path / "locked", *STUCK_HEAL, env=env)
    assert run.exit_code == 1, run.output
    assert f"healing did not run: another heal of target sandbox is running (PostgreSQL advisory lock {key} " \
        "on its database is held); try again when it ends" in run.output  # fmt: skip
    assert release_steps(run) == [("locked", "skipped")]
    assert {e["result"] for e in run.ledger()} == {"skipped"}  # nothing acted
    run = run_suite(healthy_sandbox, tmp_path / "free", *STUCK_HEAL, env=env)
    assert run.exit_code == 0, run.output
    assert release_steps(run) == [("run", "ok")]


def test_kill_switch_cooldown_and_its_override_in_whole_runs(healthy_sandbox, tmp_path):
    target = sandbox_variant(tmp_path, "sandbox-cooldown", {"cooldown_minutes = 0": "cooldown_minutes = 30"})
    env = {**suite_env(healthy_sandbox), STATE_DIR_VARIABLE: str(tmp_path / "state")}
    heal = [*STUCK_HEAL, f"--target={target}"]

    disabled = run_suite(healthy_sandbox, tmp_path / "disabled", *heal, env={**env, "TSH_HEALING_DISABLED": "freeze"})
    assert disabled.exit_code == 1, disabled.output
    assert "healing did not run: healing is disabled on target sandbox by its kill switch " \
        "(healing.kill_switch = 'freeze'); nothing was run" in disabled.output  # fmt: skip
    assert {(e["decision"], e["result"]) for e in disabled.ledger()} == {("healing_disabled", "skipped")}

    first = run_suite(healthy_sandbox, tmp_path / "first", *heal, env=env)
    assert first.exit_code == 0, first.output
    assert release_steps(first) == [("run", "ok")]

    again = run_suite(healthy_sandbox, tmp_path / "again", *heal, env=env)
    assert again.exit_code == 1, again.output
    assert release_steps(again) == [("cooldown", "skipped")]
    assert re.search(r"\[H10\] sql release_stuck_processing .* cooldown \(H10 was applied to sandbox at \S+; "
                     r"cooldown of 30 min lasts until \S+\)", again.output), again.output  # fmt: skip

    forced = run_suite(healthy_sandbox, tmp_path / "forced", *heal, "--heal-ignore-cooldown", env=env)
    assert forced.exit_code == 0, forced.output
    assert release_steps(forced) == [("run", "ok")]
    assert "cooldown ignored (--heal-ignore-cooldown): recipes in cooldown run again" in forced.output
    assert "safe step; cooldown ignored (--heal-ignore-cooldown): H10 was applied to sandbox" in forced.output


# --- SIGTERM mid-heal ---------------------------------------------------------------------


def own_processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that mention ``text`` (a run's reports directory)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


def test_sigterm_mid_heal_records_it_releases_the_lock_and_leaves_the_sandbox_clean(healthy_sandbox, tmp_path):
    reports_dir = tmp_path / "reports"
    run_tmp = tmp_path / "tmp"
    run_tmp.mkdir()
    env = {**suite_env(healthy_sandbox), "TMPDIR": str(run_tmp)}
    started = time.monotonic()
    process = start_suite(healthy_sandbox, reports_dir, *WORKER_DOWN_HEAL, env=env)
    ledger = reports_dir / "healing" / "ledger.jsonl"
    # The heal has begun once its first step (H11's read-only diagnostic) is in the ledger;
    # the worker restart follows at once.
    while not ledger_records(ledger) and process.poll() is None and time.monotonic() - started < 120:
        time.sleep(0.02)
    assert process.poll() is None, "the run ended before its heal began"
    process.send_signal(signal.SIGTERM)
    run = finish(process, reports_dir, started)

    assert run.exit_code == pytest.ExitCode.INTERRUPTED, run.output
    assert run.findings["interrupted"] is True
    assert "**the run was interrupted (SIGTERM or SIGINT)" in (reports_dir / "summary.md").read_text(encoding="utf-8")
    assert {f["healed"] for f in run.findings["failures"]} == {False}
    entries = ledger_records(ledger)
    # Every planned step is accounted for: the restart was in flight (interrupted), had not
    # started yet (not reached), or had finished (the signal then stopped the verification re-run).
    assert [(e["action"], e["result"]) for e in entries] in (
        [("sql", "ok"), ("service", "interrupted")],
        [("sql", "ok"), ("service", "skipped")],
        [("sql", "ok"), ("service", "ok")],
    )
    if entries[-1]["result"] == "skipped":
        assert entries[-1]["detail"] == "not run: the heal was interrupted"
    assert all(f["heal_note"] in {"not verified: the run was interrupted"} for f in run.findings["failures"])
    with heal_lock(healthy_sandbox).held():  # the lock is free
        pass
    assert own_processes_mentioning(str(reports_dir)) == []  # no re-run or step outlived the run
    assert list(run_tmp.glob("tsh-run-*")) == []  # the run directories are gone
    assert healthy_sandbox.faults() == []
    healthy = run_suite(healthy_sandbox, tmp_path / "after", *DELIVERY_CHECK_FILES, "-m", "staging")
    assert healthy.exit_code == 0, healthy.output
