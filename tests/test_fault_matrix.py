"""For every sandbox fault, exactly the expected checks fail, with the expected kind and recipe."""

from __future__ import annotations

import psycopg
import pytest
from expected import (
    ALL_CHECKS,
    APP_CHECKS,
    DEAD_LETTER_RATE,
    EVENTS_COMPLETE,
    HEALTH,
    ROUTES,
    accepts,
    completes,
    delay,
    route_served,
)


def outcomes(run) -> dict[str, tuple[str, str | None, str | None]]:
    """node id -> (kind, recipe, root cause) of every failure of the run."""
    return {f["nodeid"]: (f["kind"], f["recipe"], f["root_cause"]) for f in run.findings["failures"]}


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
def test_webhook_fault_fails_its_route_and_what_depends_on_it_in_the_whole_stage(suite, fault):
    kind, recipe = WEBHOOK_FAULTS[fault]
    run = suite("-m", "staging", "--sandbox-fault", f"{fault}:invoices")
    assert run.exit_code == 1, run.output
    root = accepts("invoices")
    assert outcomes(run) == {
        root: (kind, recipe, None),
        completes("invoices"): (kind, recipe, root),
        delay("invoices"): ("not_processed", recipe, root),
        EVENTS_COMPLETE: ("not_processed", recipe, root),
    }
    assert "H11" not in (run.reports_dir / "auto_healing_suggestions.txt").read_text(encoding="utf-8")


def test_missing_webhook_route_is_the_root_of_its_delivery_failures(suite):
    run = suite("-m", "staging", "--sandbox-fault", "webhook-missing:orders")
    assert run.exit_code == 1, run.output
    root = route_served("orders")
    assert outcomes(run) == {
        root: ("route_missing", "H04", None),
        accepts("orders"): ("route_missing", "H04", root),
        completes("orders"): ("route_missing", "H04", root),
        delay("orders"): ("not_processed", "H04", root),
        EVENTS_COMPLETE: ("not_processed", "H04", root),
    }


def test_worker_down_fails_every_completion_check_and_the_queue_measures_they_explain(suite):
    run = suite("-m", "staging", "--sandbox-fault", "worker-down")
    assert run.exit_code == 1, run.output
    found = outcomes(run)
    assert {nodeid: found[nodeid] for nodeid in map(completes, ROUTES)} == {
        completes(route): ("not_processed", "H11", None) for route in ROUTES
    }
    dependents = {delay(route): completes(route) for route in ROUTES}
    assert set(found) == {*map(completes, ROUTES), *dependents, EVENTS_COMPLETE, DEAD_LETTER_RATE}
    assert {nodeid: found[nodeid] for nodeid in dependents} == {
        nodeid: ("not_processed", "H11", root) for nodeid, root in dependents.items()
    }
    assert found[EVENTS_COMPLETE][:2] == found[DEAD_LETTER_RATE][:2] == ("not_processed", "H11")
    assert found[EVENTS_COMPLETE][2] in set(map(completes, ROUTES))


def test_backend_down_names_health_as_root_cause_of_every_failure(suite):
    run = suite("-m", "staging", "--sandbox-fault", "backend-down")
    assert run.exit_code == 1, run.output
    failures = {f["nodeid"]: f for f in run.findings["failures"]}
    assert set(failures) == set(APP_CHECKS)
    assert (failures[HEALTH]["kind"], failures[HEALTH]["recipe"], failures[HEALTH]["root_cause"]) == (
        "unreachable",
        "H13",
        None,
    )
    assert {nodeid: (f["root_cause"], f["recipe"]) for nodeid, f in failures.items() if nodeid != HEALTH} == {
        nodeid: (HEALTH, "H13") for nodeid in APP_CHECKS if nodeid != HEALTH
    }
    queue_measures = {EVENTS_COMPLETE, DEAD_LETTER_RATE, *map(delay, ROUTES)}
    assert {f["kind"] for nodeid, f in failures.items() if nodeid not in queue_measures} == {"unreachable"}


def test_every_hung_webhook_fails_as_timeout_within_one_timeout_not_nine(suite):
    faults = [arg for entity in ROUTES for arg in ("--sandbox-fault", f"webhook-timeout:{entity}")]
    run = suite("-m", "staging", "-k", "accepts_and_records or reaches_completed", *faults)
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
