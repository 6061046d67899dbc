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
