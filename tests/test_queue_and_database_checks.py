"""Sync-queue and database checks: each data fault fails exactly its checks, and the heals repair or refuse.

The heal runs select only these checks (``QUEUE_DB_CHECKS``) to stay short;
which checks each fault fails in the whole stage is the fault matrix's
(``tests/test_fault_matrix.py``).
"""

from __future__ import annotations

import psycopg
import pytest
from expected import ROUTES, completes

from remedies.actions import run_statement
from remedies.catalog import load_sql_library
from sandbox import migrations

# The completion checks are mutating: with them selected, the queue measures rest on the suite's own probes.
QUEUE_DB_CHECKS = ["suites/sync/test_queue_health.py", "suites/sync/test_queue_processing.py", "suites/database"]
QUEUE = "suites/sync/test_queue_health.py"
DEAD_LETTERS = f"{QUEUE}::test_dead_letters_within_limit"
STUCK = f"{QUEUE}::test_no_item_stuck_in_processing"
BACKLOG = f"{QUEUE}::test_pending_backlog_within_limits"
WEBHOOK_SUCCESS = f"{QUEUE}::test_webhook_events_reach_completed"
DEAD_LETTER_RATE = f"{QUEUE}::test_dead_letter_rate_within_limit"
REVISION = "suites/database/test_migrations.py::test_database_revision_is_head"
TDS_ENTITIES = [
    "product",
    "customer",
    "invoice",
    "order",
    "stock_adjustment",
    "price_list",
    "PAYMENT",
    "VENDOR",
    "USER",
]
SCHEMA_TABLES = 20  # tables in targets/sandbox.toml [database.schema_contract]
# select 1, read-only (skipped on the sandbox), revision, schema per table; queue: 5 checks + delay per entity;
# completion per route
CHECK_COUNT = 2 + 1 + SCHEMA_TABLES + 5 + len(TDS_ENTITIES) + len(ROUTES)
POISON_ID = "tshprobe-poison-validation-1"


def delay(entity: str) -> str:
    return f"{QUEUE}::test_sync_delay_within_limit[{entity}]"


def schema(table: str) -> str:
    return f"suites/database/test_schema_contract.py::test_schema_matches_contract[{table}]"


def evidence(run, nodeid: str) -> dict:
    return next(f["evidence"] for f in run.findings["failures"] if f["nodeid"] == nodeid)


def ledger_runs(run) -> list[tuple]:
    """(recipe, action, decision, result, rows) of every ledger entry that is not a read-only diagnostic."""
    return [
        (e["recipe"], e["action"], e["decision"], e["result"], e["rows"]) for e in run.ledger() if not e["diagnostic"]
    ]


def test_healthy_sandbox_passes_queue_and_database_checks(suite):
    run = suite(*QUEUE_DB_CHECKS, "-m", "staging")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert run.findings["summary"]["passed"] == CHECK_COUNT - 1
    assert "does not require read-only sessions" in run.output


# The worker is stopped: the backlog grows and the suite's own probes never complete.
BACKLOG_FAILURES = {
    BACKLOG: ("backlog", "H11"),
    WEBHOOK_SUCCESS: ("not_processed", "H11"),
    # Nothing settles in the window while the worker is stopped: the rate cannot be shown.
    DEAD_LETTER_RATE: ("not_processed", "H11"),
    **{delay(entity): ("not_processed", "H11") for entity in TDS_ENTITIES},
    **{completes(route): ("not_processed", "H11") for route in ROUTES},
}
MISSING_SCHEMA_OBJECTS = {
    "missing-table:invoice_payments": [schema("invoice_payments")],
    "missing-column:customers.zoho_contact_id": [schema("customers")],
}


def test_fault_evidence_names_the_cause(suite):
    faults = ["dead-letters:20", "stuck-processing:3", "migration-behind", "missing-column:customers.zoho_contact_id"]
    run = suite(*QUEUE_DB_CHECKS, "-m", "staging", *(f"--sandbox-fault={spec}" for spec in faults))
    assert run.exit_code == 1, run.output
    assert evidence(run, DEAD_LETTERS) == {
        "dead_letters": 20,
        "limit": 10,
        "by_entity_and_error_code": [{"entity_type": "customer", "error_code": "connection_error", "rows": 20}],
    }
    stuck = evidence(run, STUCK)
    assert (stuck["stuck"], stuck["limit_minutes"], len(stuck["ids"])) == (3, 60, 3)
    assert evidence(run, REVISION) == {"expected": migrations.head(), "actual": migrations.previous_revision()}
    assert evidence(run, schema("customers")) == {"missing_columns": ["zoho_contact_id"]}


def test_heal_releases_stuck_processing(suite):
    run = suite(*QUEUE_DB_CHECKS, "-m", "staging", "--sandbox-fault", "stuck-processing:3", "--heal")
    assert run.exit_code == 0, run.output
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == {STUCK: True}
    assert ledger_runs(run) == [("H10", "sql", "run", "ok", 3)]


def test_heal_restarts_the_worker_for_a_backlog(suite, healthy_sandbox):
    run = suite(*QUEUE_DB_CHECKS, "-m", "staging", "--sandbox-fault", "backlog:150", "--heal")
    assert run.exit_code == 0, run.output
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == dict.fromkeys(BACKLOG_FAILURES, True)
    assert ledger_runs(run) == [("H11", "service", "run", "ok", None)]
    assert healthy_sandbox.status()["worker"] == "running"


def test_dead_letters_wait_for_approval(suite):
    run = suite(*QUEUE_DB_CHECKS, "-m", "staging", "--sandbox-fault", "dead-letters:20", "--heal")
    assert run.exit_code == 1, run.output
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == {
        DEAD_LETTERS: False,
        DEAD_LETTER_RATE: False,
    }
    assert ledger_runs(run) == [("H09", "sql", "needs_approval", "skipped", None)]


def test_approved_requeue_replays_transient_dead_letters_only(suite, healthy_sandbox):
    # 20 transient dead letters (the fault) and one poison message: the replay takes exactly the 20.
    # The run's end restores the sandbox database, poison message included.
    with psycopg.connect(healthy_sandbox.db_url, autocommit=True) as db:
        _insert_poison_dead_letter(db)
    run = suite(
        *QUEUE_DB_CHECKS, "-m", "staging", "--sandbox-fault", "dead-letters:20", "--heal", "--heal-approve", "H09"
    )
    assert run.exit_code == 0, run.output
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == {DEAD_LETTERS: True, DEAD_LETTER_RATE: True}
    assert ledger_runs(run) == [("H09", "sql", "run", "ok", 20)]
    assert [e["approver"] for e in run.ledger() if not e["diagnostic"]] == ["--heal-approve"]


def test_requeue_statement_marks_dead_letters_resolved_within_its_limit(healthy_sandbox, sandbox):
    sandbox.apply_fault("dead-letters:5")
    statement = load_sql_library()["requeue_dead_letters"]
    params = {"error_codes": "connection_error,timeout", "row_limit": 3, "resolved_by": "test", "resolution_notes": "n"}
    with psycopg.connect(sandbox.db_url) as db:
        _insert_poison_dead_letter(db)
        db.commit()
        result = run_statement(db, statement, params, max_rows=500)
        requeued = db.execute(
            "SELECT q.status::text, q.attempt_count, q.error_code, d.resolved, d.resolved_by, d.resolution_notes"
            " FROM tds_sync_queue AS q JOIN tds_dead_letter_queue AS d ON d.sync_queue_id = q.id"
            " WHERE q.source_entity_id LIKE 'sandbox-fault-%%' OR q.source_entity_id = %s"
            " ORDER BY q.status, q.source_entity_id",
            (POISON_ID,),
        ).fetchall()
        _delete_poison_dead_letter(db)
        db.commit()
    sandbox.reset()
    assert (result.status, result.rows) == ("ok", 3)
    resolved = [row for row in requeued if row[3]]
    # The worker may already have completed the requeued rows; none stays dead with its error kept.
    assert len(resolved) == 3
    assert {row[0] for row in resolved} <= {"pending", "processing", "completed"}
    assert {(row[1], row[2], row[4], row[5]) for row in resolved} == {(0, None, "test", "n")}
    unresolved = sorted((row[0], row[2]) for row in requeued if not row[3])
    assert unresolved == [("dead_letter", "connection_error")] * 2 + [("dead_letter", "validation_error")]


def test_migration_behind_waits_for_approval(suite):
    run = suite(*QUEUE_DB_CHECKS, "-m", "staging", "--sandbox-fault", "migration-behind", "--heal")
    assert run.exit_code == 1, run.output
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == {REVISION: False}
    assert ledger_runs(run) == [("H19", "command", "needs_approval", "skipped", None)]


def test_approved_migration_brings_the_database_to_head(suite):
    run = suite(
        *QUEUE_DB_CHECKS, "-m", "staging", "--sandbox-fault", "migration-behind", "--heal", "--heal-approve", "H19"
    )
    assert run.exit_code == 0, run.output
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == {REVISION: True}
    assert ledger_runs(run) == [("H19", "command", "run", "ok", None)]
    migrated = next(e["detail"] for e in run.ledger() if e["action"] == "command")
    assert f"migrated from {migrations.previous_revision()} to {migrations.head()}" in migrated


@pytest.mark.parametrize("fault", ["missing-table:invoice_payments", "missing-column:customers.zoho_contact_id"])
def test_missing_schema_objects_get_manual_steps_only(suite, fault):
    run = suite(*QUEUE_DB_CHECKS, "-m", "staging", "--sandbox-fault", fault, "--heal")
    assert run.exit_code == 1, run.output
    assert {f["nodeid"]: f["healed"] for f in run.findings["failures"]} == dict.fromkeys(
        MISSING_SCHEMA_OBJECTS[fault], False
    )
    assert not [e for e in run.ledger() if e["decision"] == "run"]
    suggestions = (run.reports_dir / "auto_healing_suggestions.txt").read_text(encoding="utf-8")
    assert "A missing table or column is not repaired automatically" in suggestions


def test_reset_undoes_every_data_fault(healthy_sandbox):
    faults = ["dead-letters:2", "stuck-processing:2", "backlog:2", "migration-behind",
              "missing-table:invoice_payments", "missing-column:customers.zoho_contact_id"]  # fmt: skip
    for spec in faults:
        healthy_sandbox.apply_fault(spec)
    assert set(healthy_sandbox.faults()) == {*faults, "worker-down"}
    healthy_sandbox.reset()
    assert healthy_sandbox.faults() == []


def _insert_poison_dead_letter(db: psycopg.Connection) -> None:
    """A dead letter of a non-transient class, outside the fault's rows: the replay must leave it dead."""
    db.execute(
        "WITH q AS (INSERT INTO tds_sync_queue (entity_type, source_entity_id, operation_type, validated_payload,"
        " status, attempt_count, error_message, error_code) VALUES ('customer', %(id)s, 'update', '{}', 'dead_letter',"
        " 1, 'payload failed validation', 'validation_error') RETURNING id)"
        " INSERT INTO tds_dead_letter_queue (sync_queue_id, entity_type, source_entity_id, failure_reason, error_code,"
        " total_attempts) SELECT id, 'customer', %(id)s, 'non-transient', 'validation_error', 1 FROM q",
        {"id": POISON_ID},
    )


def _delete_poison_dead_letter(db: psycopg.Connection) -> None:
    db.execute("DELETE FROM tds_dead_letter_queue WHERE source_entity_id = %s", (POISON_ID,))
    db.execute("DELETE FROM tds_sync_queue WHERE source_entity_id = %s", (POISON_ID,))


REAL_TRAFFIC = f"{QUEUE}::test_real_traffic_of_entity_completes"


def test_real_traffic_that_fails_is_judged_without_any_probe(suite, healthy_sandbox):
    """Two real invoice events in the window, one completed and one dead-lettered: a processing error."""
    insert_event = """
        INSERT INTO tds_inbox_events (source_type, entity_type, source_entity_id, raw_payload)
        VALUES ('zoho', 'invoice', %(id)s, '{}') RETURNING id
    """
    insert_queue = """
        INSERT INTO tds_sync_queue (inbox_event_id, entity_type, source_entity_id, operation_type,
                                    validated_payload, status, attempt_count, error_code)
        VALUES (%(event)s, 'invoice', %(id)s, 'update', '{}', %(status)s::tds_event_status, %(attempts)s, %(code)s)
    """
    ids = ["real-invoice-ok-1", "real-invoice-bad-1"]
    with psycopg.connect(healthy_sandbox.db_url, autocommit=True) as db:
        try:
            for source_id, status, attempts, code in zip(
                ids, ("completed", "dead_letter"), (1, 3), (None, "ZOHO_400"), strict=True
            ):
                event = db.execute(insert_event, {"id": source_id}).fetchone()[0]
                params = {"event": event, "id": source_id, "status": status, "attempts": attempts, "code": code}
                db.execute(insert_queue, params)
            run = suite("suites/sync/test_queue_health.py", "-m", "staging", "-k", "real_traffic", "-rs")
        finally:
            db.execute("DELETE FROM tds_sync_queue WHERE source_entity_id = ANY(%(ids)s)", {"ids": ids})
            db.execute("DELETE FROM tds_inbox_events WHERE source_entity_id = ANY(%(ids)s)", {"ids": ids})
    assert run.exit_code == 1, run.output
    assert run.failed() == {f"{REAL_TRAFFIC}[invoice]": ("processing_error", "H41")}
    assert evidence(run, f"{REAL_TRAFFIC}[invoice]")["received"] == 2
    assert "no settled product event in the last 24 h: nothing to judge" in run.output
