"""--heal end to end on the sandbox: safe repairs run, guarded ones wait for approval, and the re-run decides."""

from __future__ import annotations

from expected import ALL_CHECKS, DELIVERY_CHECK_FILES, ROUTES, completes


def test_heal_restarts_the_worker_and_verifies(suite, healthy_sandbox):
    run = suite(*DELIVERY_CHECK_FILES, "-m", "staging", "--sandbox-fault", "worker-down", "--heal")
    assert run.exit_code == 0, run.output
    findings = run.findings
    assert findings["summary"] == {
        "passed": len(ALL_CHECKS) - len(ROUTES),
        "failed": len(ROUTES),
        "healed": len(ROUTES),
    }
    assert {f["nodeid"]: f["healed"] for f in findings["failures"]} == {completes(e): True for e in ROUTES}
    restarts = [e for e in run.ledger() if e["action"] == "service" and e["decision"] == "run"]
    assert [(e["recipe"], e["result"]) for e in restarts] == [("H11", "ok")]
    assert healthy_sandbox.status()["worker"] == "running"
    assert list((run.reports_dir / "healing").glob("healing_report_*.txt"))


def test_backend_down_is_not_restarted_without_approval(suite, healthy_sandbox):
    run = suite(*DELIVERY_CHECK_FILES, "-m", "staging", "--sandbox-fault", "backend-down", "--heal")
    assert run.exit_code == 1, run.output
    assert {f["healed"] for f in run.findings["failures"]} == {False}
    guarded = [e for e in run.ledger() if e["risk"] == "guarded"]
    assert [(e["recipe"], e["decision"]) for e in guarded] == [("H13", "needs_approval")]
    assert not [e for e in run.ledger() if e["risk"] == "guarded" and e["decision"] == "run"]


def test_backend_down_heals_with_approval(suite, healthy_sandbox):
    run = suite(
        *DELIVERY_CHECK_FILES, "-m", "staging", "--sandbox-fault", "backend-down", "--heal", "--heal-approve", "H13"
    )
    assert run.exit_code == 0, run.output
    assert {f["healed"] for f in run.findings["failures"]} == {True}
    assert run.findings["summary"]["healed"] == len(ALL_CHECKS)
    restarts = [e for e in run.ledger() if e["action"] == "service" and e["decision"] == "run"]
    assert [(e["recipe"], e["approver"], e["result"]) for e in restarts] == [("H13", "--heal-approve", "ok")]


def test_dry_run_prints_the_plan_and_changes_nothing(suite, healthy_sandbox):
    run = suite(
        *DELIVERY_CHECK_FILES,
        "-m",
        "staging",
        "-k",
        "reaches_completed",
        "--sandbox-fault",
        "worker-down",
        "--heal-dry-run",
    )
    assert run.exit_code == 1, run.output
    assert "restart" in run.output and "worker" in run.output
    assert {f["healed"] for f in run.findings["failures"]} == {None}
    assert not [e for e in run.ledger() if e["decision"] == "run" and e["result"] == "ok"]


DB_CONNECT = "suites/database/test_connection.py::test_database_answers_select_1"


def test_database_down_is_the_root_of_every_dependent_failure(suite):
    run = suite("-m", "staging", "--sandbox-fault", "database-down")
    assert run.exit_code == 1, run.output
    failures = {f["nodeid"]: f for f in run.findings["failures"]}
    assert (failures[DB_CONNECT]["kind"], failures[DB_CONNECT]["recipe"]) == ("unreachable", "H36")
    assert failures[DB_CONNECT]["root_cause"] is None
    assert {f["root_cause"] for nodeid, f in failures.items() if nodeid != DB_CONNECT} == {DB_CONNECT}
    # The app itself does not need the database to answer /health.
    assert "suites/api/test_health.py::test_health_reports_healthy[app]" not in failures


def test_database_down_heals_only_with_approval(suite, healthy_sandbox):
    refused = suite(
        "-m", "staging", "-k", "select_1 or reaches_completed", "--sandbox-fault", "database-down", "--heal"
    )
    assert refused.exit_code == 1, refused.output
    assert [(e["recipe"], e["decision"]) for e in refused.ledger() if e["action"] == "service"] == [
        ("H36", "needs_approval")
    ]
    healed = suite(
        "-m", "staging", "-k", "select_1 or reaches_completed", "--sandbox-fault", "database-down",
        "--heal", "--heal-approve", "H36",
    )  # fmt: skip
    assert healed.exit_code == 0, healed.output
    assert {f["healed"] for f in healed.findings["failures"]} == {True}
    assert len(healed.findings["failures"]) == 1 + len(ROUTES)
    assert healthy_sandbox.status()["postgres"] == "running"
