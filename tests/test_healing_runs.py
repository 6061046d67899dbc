"""--heal end to end on the sandbox: safe repairs run, guarded ones wait for approval, and the re-run decides."""

from __future__ import annotations

from expected import (
    ALL_CHECKS,
    APP_CHECKS,
    BACKLOG,
    DATABASE_OPERATIONS,
    DB_CONNECT,
    DEAD_LETTER_RATE,
    DEAD_LETTERS,
    DELIVERY_CHECK_FILES,
    EVENTS_COMPLETE,
    HEALTH,
    REVISION,
    ROUTES,
    SCHEMA_TABLES,
    STUCK,
    TDS_ENTITY,
    ZOHO_LISTS,
    completes,
    delay,
    operation,
    real_traffic,
    schema,
    zoho_count,
    zoho_fresh,
)

from remedies.healing import SKIPPED_UNDER_HEALED_ROOT


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


def test_backend_down_and_database_down_are_two_roots_each_healed_once(suite, healthy_sandbox):
    """Two independent causes stay two roots, each with its own symptoms, and each recipe acts once."""
    run = suite(
        "-m", "staging", "--sandbox-fault", "backend-down", "--sandbox-fault", "database-down",
        "--heal", "--heal-approve", "H13", "--heal-approve", "H36",
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    found = run.outcomes()
    # What could not reach the database (its own reads, the queue and schema checks, the Zoho comparisons' ERP side).
    under_database = {
        REVISION, DEAD_LETTERS, DEAD_LETTER_RATE, STUCK, BACKLOG, EVENTS_COMPLETE,
        *map(schema, SCHEMA_TABLES), *map(real_traffic, TDS_ENTITY.values()), *map(delay, ROUTES),
        *map(zoho_count, ZOHO_LISTS), *map(zoho_fresh, ZOHO_LISTS),
    }  # fmt: skip
    # What could not reach the app; with the app silent, /openapi.json stands for all its operations.
    under_app = set(APP_CHECKS) - under_database - {HEALTH, *map(operation, DATABASE_OPERATIONS)}
    assert found == {
        HEALTH: ("unreachable", "H13", None),
        DB_CONNECT: ("unreachable", "H36", None),
        **{nodeid: ("unreachable", "H13", HEALTH) for nodeid in under_app},
        **{nodeid: (found[nodeid][0], "H36", DB_CONNECT) for nodeid in under_database},
    }
    assert "root cause suites/api/test_health.py::test_health_reports_healthy[app] (+45 explained)" in run.output
    assert f"root cause {DB_CONNECT} (+{len(under_database)} explained)" in run.output
    # The step summary's root-cause table: the two roots, each with its symptoms, healed.
    summary = (run.reports_dir / "summary.md").read_text(encoding="utf-8")
    assert "| `test_health_reports_healthy[app]` | unreachable | H13 | 45 | healed |" in summary
    assert f"| `test_database_answers_select_1` | unreachable | H36 | {len(under_database)} | healed |" in summary
    suggestions = (run.reports_dir / "auto_healing_suggestions.txt").read_text(encoding="utf-8")
    assert HEALTH in suggestions and DB_CONNECT in suggestions
    repairs = [
        (e["recipe"], e["description"], e["approver"], e["result"]) for e in run.ledger() if e["action"] == "service"
    ]
    assert repairs == [
        ("H13", "service restart app (command binding)", "--heal-approve", "ok"),
        ("H36", "service start postgres (command binding)", "--heal-approve", "ok"),
    ]
    assert run.findings["summary"]["healed"] == len(found)
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == dict.fromkeys(found, True)
    traffic = set(map(real_traffic, TDS_ENTITY.values()))
    assert {f["heal_note"] for f in run.findings["failures"] if f["nodeid"] in traffic} == {SKIPPED_UNDER_HEALED_ROOT}


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
