"""The host checks and the post-deploy window in the whole production stage, run against the sandbox as production.

The production inventory's hosts block is swapped for the sandbox's processes (``tests/host_stage.py``):
on the healthy sandbox every host check and the window (3 polls 1 s apart) pass and no row changes; each
host fault fails exactly its checks, with kind, recipe and root cause: a stopped service's process check
is the root of its port, and of everything that needs it (host -> service -> SELECT 1 or /health -> the rest).
"""

from __future__ import annotations

import re

import pytest
from expected import DB_CONNECT, REVISION, SCHEMA_TABLES, TDS_ENTITY, operation, real_traffic, schema, zoho_count
from production_stage import passed, table_fingerprints
from test_blue_green_and_tls import FRONT_FAULTS
from test_blue_green_and_tls import HEALTHY as ACTIVE_SLOT_HEALTHY

HOSTS = "suites/hosts/test_hosts.py"
WINDOW = "suites/monitoring/test_post_deploy_window.py::test_post_deploy_window_stays_healthy"
WITH_WINDOW = ("-m", "production or slow")  # the window is slow: deselected unless -m names slow


def running(service: str) -> str:
    return f"{HOSTS}::test_host_service_running[sandbox-{service}]"


def listening(port: str) -> str:
    return f"{HOSTS}::test_host_port_listening[sandbox-{port}]"


DISK = f"{HOSTS}::test_host_disk_has_free_space[sandbox-data]"
MEMORY = f"{HOSTS}::test_host_memory_available[sandbox]"
LOG = f"{HOSTS}::test_host_log_errors_within_limit[sandbox-app]"
HOST_CHECKS = {
    *map(running, ("postgres", "app", "worker", "zoho")), *map(listening, ("postgres", "app", "zoho")),
    DISK, MEMORY, LOG,
}  # fmt: skip

TDS = sorted(set(TDS_ENTITY.values()))
INTEGRITY_RULES = [
    "duplicate_customer_emails", "duplicate_product_skus", "negative_price_list_prices", "negative_product_prices",
    "negative_stock", "orphan_invoice_payments", "orphan_invoices", "orphan_sales_orders", "products_without_zoho_id",
]  # fmt: skip
QUEUE = "suites/sync/test_queue_health.py"
# Every check of the production stage that needs the database, and how each fails without it.
NEEDS_DATABASE = {
    DB_CONNECT: "unreachable",
    "suites/database/test_connection.py::test_database_sessions_are_read_only": "unreachable",
    "suites/database/test_migration_preview.py::test_pending_migrations_are_not_destructive": "unreachable",
    REVISION: "unreachable",
    "suites/backup/test_backups.py::test_newest_pre_deploy_dump_restores": "unreachable",
    **{schema(table): "unreachable" for table in SCHEMA_TABLES},
    **{f"suites/integrity/test_data_integrity.py::test_data_integrity_rule_holds[{rule}]": "unreachable"
       for rule in INTEGRITY_RULES},
    "suites/integrity/test_data_integrity.py::test_database_and_largest_table_sizes_are_recorded": "unreachable",
    **{f"{QUEUE}::{check}": "unreachable" for check in (
        "test_dead_letter_rate_within_limit", "test_dead_letters_within_limit", "test_no_item_stuck_in_processing",
        "test_pending_backlog_within_limits", "test_webhook_events_reach_completed")},
    **{real_traffic(entity): "unreachable" for entity in TDS},
    **{f"{QUEUE}::test_sync_delay_within_limit[{entity}]": "unreachable" for entity in TDS},
    **{operation(path): "http_status" for path in (
        "/api/customers", "/api/invoices", "/api/products", "/api/products/summary", "/api/tds/webhooks/stats")},
    "suites/webhooks/test_webhook_routes.py::test_webhooks_health_endpoint_reports_healthy": "contract",
    zoho_count("items"): "unreachable",
}  # fmt: skip
def rooted(root: str, kinds: dict[str, str], recipe: str = "H46") -> dict[str, tuple[str, str, str]]:
    return {nodeid: (kind, recipe, root) for nodeid, kind in kinds.items()}


# faults applied together -> {node id: (kind, recipe, root cause)} of the whole production stage with the window.
# The last set's faults touch disjoint checks: one run shows each one's exact failures.
HOST_FAULTS = {
    ("port-closed:postgres",): {
        running("postgres"): ("not_running", "H46", None),
        listening("postgres"): ("not_running", "H46", running("postgres")),
        **rooted(running("postgres"), NEEDS_DATABASE),
    },
    # The app is the active blue slot behind nginx: a failed deployment, as slot-down:blue is, rolled back by H17.
    ("port-closed:app",): {
        **FRONT_FAULTS["slot-down:blue"],
        WINDOW: ("http_status", "H17", ACTIVE_SLOT_HEALTHY),
    },
    ("port-closed:worker", "port-closed:zoho", "disk-low", "error-spike"): {
        running("worker"): ("not_running", "H46", None),
        running("zoho"): ("not_running", "H46", None),
        listening("zoho"): ("not_running", "H46", running("zoho")),
        zoho_count("items"): ("unreachable", "H46", running("zoho")),
        DISK: ("exhausted", "H14", None),
        LOG: ("error_spike", "H26", None),
        WINDOW: ("error_spike", "H26", LOG),
    },
}


def test_healthy_sandbox_passes_every_host_check_and_the_window_and_writes_nothing(production, healthy_sandbox):
    before = table_fingerprints(healthy_sandbox)
    run = production(*WITH_WINDOW, "-rA")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert {*HOST_CHECKS, WINDOW} <= passed(run)
    # One progress line per poll, on the terminal, and the window's error count.
    assert re.findall(r"post-deploy window: poll (\d)/3 GET \S+/health: 200 healthy", run.output) == ["1", "2", "3"]
    assert "post-deploy window: 0 error lines in" in run.output
    assert table_fingerprints(healthy_sandbox) == before


@pytest.mark.parametrize("faults", list(HOST_FAULTS), ids=["+".join(faults) for faults in HOST_FAULTS])
def test_host_fault_fails_exactly_its_checks_in_the_whole_production_stage(production, healthy_sandbox, faults):
    for fault in faults:
        healthy_sandbox.apply_fault(fault)
    run = production(*WITH_WINDOW)
    assert run.exit_code == 1, run.output
    assert run.outcomes() == HOST_FAULTS[faults]
    if "disk-low" in faults:
        assert run.evidence(DISK) | {"available_mib": None} == {
            "host": "sandbox", "path": str(healthy_sandbox.home / "disk"), "mount": str(healthy_sandbox.home / "disk"),
            "free_percent": 6.0, "available_mib": None, "size_mib": 16, "limit_percent": 10.0,
        }  # fmt: skip
    if "error-spike" in faults:
        assert run.evidence(LOG)["count"] > run.evidence(LOG)["limit"] == 10
        assert run.evidence(WINDOW)["count"] >= 3  # each of the window's polls logged one


def test_the_host_checks_fan_out_with_xdist_and_the_window_waits_for_slow(production):
    run = production(HOSTS, "suites/monitoring", "-n", "2", "-rA", "-v")
    assert run.exit_code == 0, run.output
    assert passed(run) >= HOST_CHECKS
    assert WINDOW not in passed(run)  # deselected by each worker: -m does not name slow
    # The idle green slot's process and port are the deploy checks' to record: skipped, saying why.
    assert "10 passed, 2 skipped in" in run.output
    assert "slot green is idle (nginx serves blue): the deploy checks record its state" in run.output
    workers = {line.split()[0] for line in run.output.splitlines() if line.startswith("[gw") and "PASSED" in line}
    assert workers == {"[gw0]", "[gw1]"}
    # Named by its node id (as a heal's verification re-run names it), the window is selected without slow.
    named = production(WINDOW, "--collect-only", "-q")
    assert named.exit_code == 0, named.output
    assert named.output.splitlines()[0] == WINDOW


def test_an_approved_heal_starts_the_stopped_service_through_the_binding_its_host_service_names(suite, healthy_sandbox):
    run = suite(HOSTS, "--sandbox-fault", "port-closed:zoho", "--heal", "--heal-approve", "H46")
    assert run.exit_code == 0, run.output
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == {
        running("zoho"): True,
        listening("zoho"): True,
    }
    starts = [e for e in run.ledger() if e["action"] == "service" and e["decision"] == "run"]
    assert [(e["recipe"], e["result"]) for e in starts] == [("H46", "ok")]
    assert starts[0]["description"] == "service start zoho (command binding)"
    assert healthy_sandbox.status()["zoho"] == "running"
