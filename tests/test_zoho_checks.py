"""The Zoho checks against the sandbox's simulator: exact outcomes per fault, healing, and the call budget."""

from __future__ import annotations

import math

ZOHO_CHECKS = "suites/zoho"
CHECK_FILE = "suites/zoho/test_zoho_consistency.py"
ENTITIES = ["contacts", "items", "invoices", "salesorders"]
# Healthy sandbox: records per list (contacts filtered to customers), all on Books.
RECORDS = {"contacts": 50, "items": 80, "invoices": 30, "salesorders": 20}
PER_PAGE = 200


def count_check(entity: str) -> str:
    return f"{CHECK_FILE}::test_zoho_count_matches_erp[{entity}]"


def fresh_check(entity: str) -> str:
    return f"{CHECK_FILE}::test_erp_is_fresh_against_zoho[{entity}]"


ALL_ZOHO_CHECKS = [f(e) for e in ENTITIES for f in (count_check, fresh_check)]
# One page per list at per_page 200, plus one freshness call per entity.
HEALTHY_BOOKS_CALLS = sum(math.ceil(n / PER_PAGE) for n in RECORDS.values()) + len(ENTITIES)


def test_healthy_run_passes_within_the_call_budget(suite):
    run = suite(ZOHO_CHECKS, "-m", "staging")
    assert run.exit_code == 0, run.output
    assert run.findings["summary"] == {"passed": len(ALL_ZOHO_CHECKS), "failed": 0, "healed": 0}
    # One token refresh for the one process.
    assert run.findings["zoho_calls"] == {"books": HEALTHY_BOOKS_CALLS, "inventory": 0, "oauth": 1}
    assert f"zoho_calls: books {HEALTHY_BOOKS_CALLS}, inventory 0, oauth 1" in run.output
    sync_report = (run.reports_dir / "zoho_sync_report.txt").read_text(encoding="utf-8")
    assert "✅ contacts: Zoho 50, ERP customers 50, 0 difference (0.0%)" in sync_report.splitlines()
    timestamps = (run.reports_dir / "zoho_timestamp_report.txt").read_text(encoding="utf-8").splitlines()
    assert "Sync OK items: 0.00 hours difference" in timestamps
    assert not [line for line in timestamps if "ALERT" in line]


def test_healthy_run_with_two_workers_sums_their_calls(suite):
    run = suite(ZOHO_CHECKS, "-m", "staging", "-n", "2")
    assert run.exit_code == 0, run.output
    # Each worker refreshes its own token once; the list and freshness calls do not change.
    assert run.findings["zoho_calls"] == {"books": HEALTHY_BOOKS_CALLS, "inventory": 0, "oauth": 2}


def test_drift_fails_count_parity_of_that_entity_only(suite):
    run = suite(ZOHO_CHECKS, "-m", "staging", "--sandbox-fault", "zoho-drift:contacts:20")
    assert run.exit_code == 1, run.output
    assert run.failed() == {count_check("contacts"): ("drift", "H01")}
    evidence = run.findings["failures"][0]["evidence"]
    assert (evidence["zoho_count"], evidence["erp_count"]) == (61, 50)
    assert evidence["missing_in_erp"][:2] == ["4600000500001", "4600000500002"]
    assert len(evidence["missing_in_erp"]) == 11
    assert evidence["missing_in_zoho"] == []
    assert "🚨 ALERT contacts: 11 records difference (18.0%)" in (run.reports_dir / "zoho_sync_report.txt").read_text(
        encoding="utf-8"
    )


def test_small_drift_stays_within_the_threshold(suite):
    run = suite(ZOHO_CHECKS, "-m", "staging", "--sandbox-fault", "zoho-drift:items:5")
    assert run.exit_code == 0, run.output
    assert run.failed() == {}


def test_heal_resyncs_the_drifted_entity_and_the_rerun_passes(suite, healthy_sandbox):
    run = suite(ZOHO_CHECKS, "-m", "staging", "--sandbox-fault", "zoho-drift:invoices:50", "--heal")
    assert run.exit_code == 0, run.output
    assert run.failed() == {count_check("invoices"): ("drift", "H01")}
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == {count_check("invoices"): True}
    ran = [(e["recipe"], e["action"], e["result"]) for e in run.ledger() if e["decision"] == "run"]
    assert ran == [("H01", "sql", "ok"), ("H01", "command", "ok")]
    assert "--entity invoices" in next(e for e in run.ledger() if e["action"] == "command")["detail"]
    # Sandbox.reset() took the copied records out again, so a later healthy run passes.
    assert suite(ZOHO_CHECKS, "-m", "staging").exit_code == 0


def test_stale_fails_freshness_of_that_entity_only(suite):
    run = suite(ZOHO_CHECKS, "-m", "staging", "--sandbox-fault", "zoho-stale:items:48")
    assert run.exit_code == 1, run.output
    assert run.failed() == {fresh_check("items"): ("stale", "H02")}
    evidence = run.findings["failures"][0]["evidence"]
    assert evidence["lag_hours"] == 48.0
    assert evidence["zoho_newest"] == "2026-01-03 01:20:00 +0000"


def test_heal_resyncs_the_stale_entity_and_the_same_fault_is_detected_again(suite):
    stale = ("--sandbox-fault", "zoho-stale:salesorders:30")
    run = suite(ZOHO_CHECKS, "-m", "staging", *stale, "--heal")
    assert run.exit_code == 0, run.output
    assert run.failed() == {fresh_check("salesorders"): ("stale", "H02")}
    assert [f["healed"] for f in run.findings["failures"]] == [True]
    ran = [(e["recipe"], e["action"], e["result"]) for e in run.ledger() if e["decision"] == "run"]
    assert ran == [("H02", "sql", "ok"), ("H02", "command", "ok")]
    assert suite(ZOHO_CHECKS, "-m", "staging").exit_code == 0
    # The resync the heal ran is gone with the run: the same fault is stale again, by the same lag.
    again = suite(ZOHO_CHECKS, "-m", "staging", *stale)
    assert again.exit_code == 1, again.output
    assert again.failed() == {fresh_check("salesorders"): ("stale", "H02")}
    assert again.findings["failures"][0]["evidence"]["lag_hours"] == 30.0


def test_invalid_refresh_token_fails_every_check_as_zoho_auth_and_is_not_healed(suite):
    run = suite(ZOHO_CHECKS, "-m", "staging", "--sandbox-fault", "zoho-auth-invalid", "--heal")
    assert run.exit_code == 1, run.output
    assert run.failed() == dict.fromkeys(ALL_ZOHO_CHECKS, ("zoho_auth", "H12"))
    assert {f["healed"] for f in run.findings["failures"]} == {False}
    # Only a human can issue a new refresh token: nothing runs, and the ledger records nothing.
    assert run.ledger() == []
    assert "manual: Generate a new refresh token through the Zoho consent flow" in run.output


def test_rate_limited_zoho_is_backed_off_and_the_checks_pass(suite):
    run = suite(ZOHO_CHECKS, "-m", "staging", "--sandbox-fault", "zoho-rate-limit")
    assert run.exit_code == 0, run.output
    assert run.failed() == {}
    # The three throttled requests were retried after their Retry-After of 1 s each.
    assert run.findings["zoho_calls"] == {"books": HEALTHY_BOOKS_CALLS + 3, "inventory": 0, "oauth": 1}
    assert run.seconds >= 3


def test_zoho_down_fails_every_check_as_unreachable_and_reset_restarts_it(suite, healthy_sandbox):
    run = suite(ZOHO_CHECKS, "-m", "staging", "--sandbox-fault", "zoho-down")
    assert run.exit_code == 1, run.output
    # Nothing the suite may run brings Zoho back: H43 is manual steps only.
    assert run.failed() == dict.fromkeys(ALL_ZOHO_CHECKS, ("unreachable", "H43"))
    assert healthy_sandbox.status()["zoho"] == "running"


def test_webhook_delivery_writes_the_zoho_webhook_report(suite, healthy_sandbox):
    run = suite(
        "suites/webhooks/test_webhook_delivery.py", "-m", "staging", "--sandbox-fault", "webhook-timeout:invoices"
    )
    assert run.exit_code == 1, run.output
    lines = (run.reports_dir / "zoho_webhook_report.txt").read_text(encoding="utf-8").splitlines()
    webhooks = f"{healthy_sandbox.base_url}/api/tds/webhooks"
    assert lines[0] == f"✅ Customers: {webhooks}/customers (HTTP 202, queued)"
    assert [line for line in lines if not line.startswith("✅")] == [
        f"❌ Invoices: {webhooks}/invoices (TIMEOUT)",
        "SUMMARY: Passed: 8/9",
    ]
    assert len(lines) == 10
