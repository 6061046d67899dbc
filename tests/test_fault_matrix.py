"""For every sandbox fault, exactly the expected checks of the whole staging stage fail.

Every faulted run is the whole ``-m staging`` stage: the assertions name the
exact set of failing node ids, each with its kind, recipe and root cause, and
no secret value of the sandbox is in any output or report of the run.
"""

from __future__ import annotations

import psycopg
import pytest
from expected import (
    ALL_CHECKS,
    APP_CHECKS,
    BACKLOG,
    BFF,
    DATABASE_OPERATIONS,
    DB_CONNECT,
    DEAD_LETTER_RATE,
    DEAD_LETTERS,
    EVENTS_COMPLETE,
    HEALTH,
    REVISION,
    ROUTES,
    SCHEMA_TABLES,
    STUCK,
    TDS_ENTITY,
    WEBHOOKS_HEALTH,
    ZOHO_LISTS,
    accepts,
    bff,
    completes,
    delay,
    env_variable,
    operation,
    real_traffic,
    route_served,
    schema,
    zoho_count,
    zoho_fresh,
)
from suite_runner import assert_no_secret_in


def outcomes(run) -> dict[str, tuple[str, str | None, str | None]]:
    """node id -> (kind, recipe, root cause) of every failure of the run."""
    return {f["nodeid"]: (f["kind"], f["recipe"], f["root_cause"]) for f in run.findings["failures"]}


def test_healthy_sandbox_passes_every_staging_check(suite):
    run = suite("-m", "staging")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert run.findings["summary"]["failed"] == 0
    assert run.findings["summary"]["passed"] >= len(ALL_CHECKS)


def test_healthy_sandbox_passes_with_two_workers_which_share_one_probe_per_route(suite, healthy_sandbox):
    def probe_events() -> int:
        with psycopg.connect(healthy_sandbox.db_url, connect_timeout=5) as db:
            query = "SELECT count(*) FROM tds_inbox_events WHERE source_entity_id LIKE 'tshprobe-%%'"
            return db.execute(query).fetchone()[0]

    before = probe_events()
    run = suite("-m", "staging", "-n", "2")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert run.findings["summary"]["passed"] >= len(ALL_CHECKS)
    # Delivery, completion and queue-health checks on both workers share one probe set.
    assert probe_events() - before == len(ROUTES)


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


# --- every other fault: the exact outcome of the whole stage -----------------------------

ZOHO_CHECKS = [check(name) for name in ZOHO_LISTS for check in (zoho_count, zoho_fresh)]
SCHEMA_CUSTOMERS = schema("customers")

# fault -> {node id: (kind, recipe, root cause)} of every failure of the whole staging stage.
FAULT_MATRIX = {
    "secret-placeholder:SECRET_KEY": {env_variable("SECRET_KEY"): ("config", "H21", None)},
    "secret-missing:JWT_SECRET_KEY": {env_variable("JWT_SECRET_KEY"): ("missing", "H20", None)},
    f"endpoint-error:{BFF}/gps/sync-status": {
        bff("answers_with_data", "gps-sync-status"): ("http_status", "H35", None),
        # The named endpoint is an OpenAPI operation too: its own check is the root cause.
        operation(f"{BFF}/gps/sync-status"): ("http_status", "H35", bff("answers_with_data", "gps-sync-status")),
        # An error answer has no latency to judge: it fails for the reason the endpoint's own check gives.
        bff("latency_within_limit", "gps-sync-status"): (
            "http_status", "H35", bff("answers_with_data", "gps-sync-status")
        ),
    },
    f"endpoint-slow:{BFF}/commissions/summary:900": {
        bff("latency_within_limit", "commissions-summary"): ("slow", "H28", None),
    },
    f"auth-open:{BFF}/transfers/statistics": {
        bff("refuses_anonymous_calls", "transfers-statistics"): ("security", "H32", None),
    },
    f"public-requires-auth:{BFF}/gps/health": {
        bff("answers_with_data", "gps-health"): ("contract", "H40", None),
        bff("latency_within_limit", "gps-health"): ("http_status", "H40", bff("answers_with_data", "gps-health")),
    },
    # Operations the inventory does not name: only the OpenAPI coverage sees them.
    "endpoint-undeclared-error:/api/products/summary": {
        operation("/api/products/summary"): ("http_status", "H35", None),
    },
    "route-shadowed:/api/products/summary": {operation("/api/products/summary"): ("contract", "H40", None)},
    "zoho-drift:contacts:20": {zoho_count("contacts"): ("drift", "H01", None)},
    "zoho-stale:items:48": {zoho_fresh("items"): ("stale", "H02", None)},
    "zoho-auth-invalid": dict.fromkeys(ZOHO_CHECKS, ("zoho_auth", "H12", None)),
    # Backed off and retried within the budget: nothing fails.
    "zoho-rate-limit": {},
    "zoho-down": dict.fromkeys(ZOHO_CHECKS, ("unreachable", "H43", None)),
    "dead-letters:20": {
        DEAD_LETTERS: ("dead_letters", "H09", None),
        DEAD_LETTER_RATE: ("dead_letters", "H09", DEAD_LETTERS),
    },
    # Under the absolute limit (10), but 5 of the window's few settled events: the rate fails alone.
    "dead-letters:5": {DEAD_LETTER_RATE: ("dead_letters", "H09", None)},
    "stuck-processing:3": {STUCK: ("stuck", "H10", None)},
    "migration-behind": {REVISION: ("drift", "H19", None)},
    "migration-heads": {REVISION: ("multiple_heads", "H42", None)},
    "missing-table:invoice_payments": {schema("invoice_payments"): ("missing", "H19", None)},
    "missing-column:customers.zoho_contact_id": {
        SCHEMA_CUSTOMERS: ("missing", "H19", None),
        zoho_count("contacts"): ("missing", "H19", SCHEMA_CUSTOMERS),
        zoho_fresh("contacts"): ("missing", "H19", SCHEMA_CUSTOMERS),
        # The app's customer reads fail too; nothing declares which tables an operation reads.
        operation("/api/customers"): ("http_status", "H35", None),
        operation("/api/customers/<customer_id>"): ("http_status", "H35", None),
    },
}


# Faults that break different things by different means share one run of the whole stage: the run's
# failures must be exactly the union of their outcomes (disjoint by construction, checked below), so a
# fault that failed anything more than its own checks, or anything under another root, shows.
FAULT_GROUPS = [
    ("secret-placeholder:SECRET_KEY", f"endpoint-error:{BFF}/gps/sync-status", "zoho-drift:contacts:20",
     "stuck-processing:3", "migration-behind"),
    ("secret-missing:JWT_SECRET_KEY", f"endpoint-slow:{BFF}/commissions/summary:900", "zoho-stale:items:48",
     "dead-letters:20", "migration-heads"),
    (f"auth-open:{BFF}/transfers/statistics", "endpoint-undeclared-error:/api/products/summary",
     "missing-table:invoice_payments", "dead-letters:5", "zoho-down"),
    (f"public-requires-auth:{BFF}/gps/health", "route-shadowed:/api/products/summary", "zoho-rate-limit"),
    ("missing-column:customers.zoho_contact_id",),
    ("zoho-auth-invalid",),
]  # fmt: skip


def test_every_fault_of_the_matrix_is_in_exactly_one_group_of_disjoint_outcomes():
    grouped = [fault for group in FAULT_GROUPS for fault in group]
    assert sorted(grouped) == sorted(FAULT_MATRIX)
    for group in FAULT_GROUPS:
        checks = [nodeid for fault in group for nodeid in FAULT_MATRIX[fault]]
        assert len(checks) == len(set(checks)), group


@pytest.mark.parametrize("group", FAULT_GROUPS, ids=["+".join(group) for group in FAULT_GROUPS])
def test_fault_fails_exactly_its_checks_in_the_whole_stage(suite, healthy_sandbox, group):
    run = suite("-m", "staging", *(arg for fault in group for arg in ("--sandbox-fault", fault)))
    expected = {nodeid: outcome for fault in group for nodeid, outcome in FAULT_MATRIX[fault].items()}
    assert run.exit_code == (1 if expected else 0), run.output
    assert outcomes(run) == expected
    assert_no_secret_in(run, healthy_sandbox)


def test_database_down_fails_everything_that_reads_it_under_one_root(suite):
    run = suite("-m", "staging", "--sandbox-fault", "database-down")
    assert run.exit_code == 1, run.output
    found = outcomes(run)
    reads_the_database = {
        REVISION, DEAD_LETTERS, DEAD_LETTER_RATE, STUCK, BACKLOG, EVENTS_COMPLETE, WEBHOOKS_HEALTH,
        *map(schema, SCHEMA_TABLES), *map(real_traffic, TDS_ENTITY.values()), *map(delay, ROUTES),
        *map(accepts, ROUTES), *map(completes, ROUTES), *ZOHO_CHECKS, *map(operation, DATABASE_OPERATIONS),
    }  # fmt: skip
    assert set(found) == {DB_CONNECT, *reads_the_database}
    assert found[DB_CONNECT] == ("unreachable", "H36", None)
    assert {nodeid: found[nodeid][1:] for nodeid in reads_the_database} == dict.fromkeys(
        reads_the_database, ("H36", DB_CONNECT)
    )
    # The app answers /health and its webhook routes without the database; their writes answer 500.
    assert {found[nodeid][0] for nodeid in map(accepts, ROUTES)} == {"http_status"}


def test_backlog_fails_the_queue_measures_under_the_worker_recipe(suite):
    run = suite("-m", "staging", "--sandbox-fault", "backlog:150")
    assert run.exit_code == 1, run.output
    found = outcomes(run)
    dependents = {delay(route): completes(route) for route in ROUTES}
    assert set(found) == {BACKLOG, *map(completes, ROUTES), *dependents, EVENTS_COMPLETE, DEAD_LETTER_RATE}
    assert found[BACKLOG] == ("backlog", "H11", None)
    assert {nodeid: found[nodeid] for nodeid in map(completes, ROUTES)} == dict.fromkeys(
        map(completes, ROUTES), ("not_processed", "H11", None)
    )
    assert {nodeid: found[nodeid] for nodeid in dependents} == {
        nodeid: ("not_processed", "H11", root) for nodeid, root in dependents.items()
    }


def test_worker_failing_is_a_processing_error_with_its_codes_and_no_restart(suite, healthy_sandbox):
    run = suite("-m", "staging", "--sandbox-fault", "worker-failing:invoices", "--heal")
    assert run.exit_code == 1, run.output
    root = completes("invoices")
    assert outcomes(run) == {
        root: ("processing_error", "H41", None),
        delay("invoices"): ("not_processed", "H41", root),
        EVENTS_COMPLETE: ("not_processed", "H41", root),
        DEAD_LETTER_RATE: ("dead_letters", "H41", root),
    }
    evidence = next(f["evidence"] for f in run.findings["failures"] if f["nodeid"] == root)
    assert (evidence["status"], evidence["error_codes"]) == ("dead_letter", ["ZOHO_VALIDATION_ERROR"])
    assert "Zoho Books API answered HTTP 400" in evidence["error"]
    # The worker demonstrably runs: nothing restarts it, nothing is called healed.
    assert [entry for entry in run.ledger() if entry["action"] == "service"] == []
    assert "service restart" not in (run.reports_dir / "auto_healing_suggestions.txt").read_text(encoding="utf-8")
    assert not any(f["healed"] for f in run.findings["failures"])
    assert_no_secret_in(run, healthy_sandbox)
