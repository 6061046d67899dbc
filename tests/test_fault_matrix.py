"""For every sandbox fault, exactly the expected checks fail, with the expected kind and recipe."""

from __future__ import annotations

import psycopg
import pytest
from expected import ALL_CHECKS, DELIVERY_CHECK_FILES, HEALTH, ROUTES, accepts, completes, route_served


def test_healthy_sandbox_passes_every_staging_check(suite):
    run = suite("-m", "staging")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert run.findings["summary"]["failed"] == 0
    assert run.findings["summary"]["passed"] >= len(ALL_CHECKS)


def test_healthy_sandbox_passes_with_two_workers(suite):
    run = suite("-m", "staging", "-n", "2")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert run.findings["summary"]["passed"] >= len(ALL_CHECKS)


WEBHOOK_FAULTS = {
    "webhook-timeout": ("timeout", "H03"),
    "webhook-error": ("http_status", "H07"),
    "webhook-reject": ("rejected", "H06"),
    "webhook-unrecorded": ("not_recorded", "H06"),
}


@pytest.mark.parametrize("fault", list(WEBHOOK_FAULTS))
def test_webhook_fault_fails_its_entity_only(suite, fault):
    kind, recipe = WEBHOOK_FAULTS[fault]
    run = suite(*DELIVERY_CHECK_FILES, "-m", "staging", "--sandbox-fault", f"{fault}:invoices")
    assert run.exit_code == 1, run.output
    assert run.failed() == {accepts("invoices"): (kind, recipe), completes("invoices"): (kind, recipe)}
    roots = {f["nodeid"]: f["root_cause"] for f in run.findings["failures"]}
    assert roots == {accepts("invoices"): None, completes("invoices"): accepts("invoices")}


def test_missing_webhook_route_is_the_root_of_its_delivery_failures(suite):
    run = suite(*DELIVERY_CHECK_FILES, "-m", "staging", "--sandbox-fault", "webhook-missing:orders")
    assert run.exit_code == 1, run.output
    assert run.failed() == {
        route_served("orders"): ("route_missing", "H04"),
        accepts("orders"): ("route_missing", "H04"),
        completes("orders"): ("route_missing", "H04"),
    }
    roots = {f["nodeid"]: f["root_cause"] for f in run.findings["failures"]}
    assert roots == {
        route_served("orders"): None,
        accepts("orders"): route_served("orders"),
        completes("orders"): route_served("orders"),
    }


def test_worker_down_fails_every_completion_check(suite):
    run = suite(*DELIVERY_CHECK_FILES, "-m", "staging", "--sandbox-fault", "worker-down")
    assert run.exit_code == 1, run.output
    assert run.failed() == {completes(entity): ("not_processed", "H11") for entity in ROUTES}


def test_backend_down_names_health_as_root_cause_of_every_failure(suite):
    run = suite(*DELIVERY_CHECK_FILES, "-m", "staging", "--sandbox-fault", "backend-down")
    assert run.exit_code == 1, run.output
    failures = {f["nodeid"]: f for f in run.findings["failures"]}
    assert set(failures) == set(ALL_CHECKS)
    assert failures[HEALTH]["kind"] == "unreachable"
    assert failures[HEALTH]["recipe"] == "H13"
    assert failures[HEALTH]["root_cause"] is None
    assert {nodeid: f["root_cause"] for nodeid, f in failures.items() if nodeid != HEALTH} == {
        nodeid: HEALTH for nodeid in ALL_CHECKS if nodeid != HEALTH
    }
    assert {f["kind"] for f in failures.values()} == {"unreachable"}


def test_every_hung_webhook_fails_as_timeout_within_one_timeout_not_nine(suite):
    faults = [arg for entity in ROUTES for arg in ("--sandbox-fault", f"webhook-timeout:{entity}")]
    run = suite(*DELIVERY_CHECK_FILES, "-m", "staging", "-k", "accepts_and_records or reaches_completed", *faults)
    assert run.exit_code == 1, run.output
    assert run.failed() == {
        **{accepts(entity): ("timeout", "H03") for entity in ROUTES},
        **{completes(entity): ("timeout", "H03") for entity in ROUTES},
    }
    # Probed one after another, nine hung webhooks would take nine HTTP timeouts.
    sandbox_timeout_s = 3.0
    assert run.seconds < len(ROUTES) * sandbox_timeout_s, run.seconds


def test_a_two_worker_run_posts_one_probe_per_route(suite, healthy_sandbox):
    def probe_events() -> int:
        with psycopg.connect(healthy_sandbox.db_url, connect_timeout=5) as db:
            query = "SELECT count(*) FROM tds_inbox_events WHERE source_entity_id LIKE 'tshprobe-%%'"
            return db.execute(query).fetchone()[0]

    before = probe_events()
    run = suite("-m", "staging", "-n", "2")
    assert run.exit_code == 0, run.output
    # Delivery, completion and queue-health checks on both workers share one probe set.
    assert probe_events() - before == len(ROUTES)


def delay(tds_entity: str) -> str:
    return f"suites/sync/test_queue_health.py::test_sync_delay_within_limit[{tds_entity}]"


EVENTS_COMPLETE = "suites/sync/test_queue_health.py::test_webhook_events_reach_completed"


def test_a_failing_delivery_is_the_root_of_every_queue_failure_of_its_route_in_the_whole_stage(suite):
    run = suite("-m", "staging", "--sandbox-fault", "webhook-error:invoices")
    assert run.exit_code == 1, run.output
    root = accepts("invoices")
    assert {f["nodeid"]: (f["kind"], f["recipe"], f["root_cause"]) for f in run.findings["failures"]} == {
        root: ("http_status", "H07", None),
        completes("invoices"): ("http_status", "H07", root),
        delay("invoice"): ("not_processed", "H07", root),
        EVENTS_COMPLETE: ("not_processed", "H07", root),
    }
    assert "H11" not in (run.reports_dir / "auto_healing_suggestions.txt").read_text(encoding="utf-8")
