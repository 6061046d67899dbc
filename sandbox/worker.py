"""The sandbox's TDS sync worker: ``python -m sandbox.worker --state FILE``.

It polls ``tds_sync_queue`` (every ``$TSH_SANDBOX_POLL_SECONDS``, default 0.3 s),
claims due rows with ``FOR UPDATE SKIP LOCKED`` and moves each through the
real life cycle: pending → processing → completed, or retry (backoff 2^n
seconds, the real system's minutes scaled down) → dead_letter. Customer and
product records carrying a name are upserted into the ERP tables; probe ids
(``tshprobe...``) only travel through the queue.

Under ``worker-failing:<route>`` (read from the sandbox's fault store on every
poll) every event of that route's entity, probes included, fails on each
attempt as Zoho refusing the write would fail it: error code
``ZOHO_VALIDATION_ERROR``, an error message quoting the request (the access
token in its Authorization header too), retried with the backoff until it is
dead-lettered, about 6 s after its first attempt.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from .facts import LOOPBACK, WEBHOOK_ROUTES, ZOHO_API_PREFIXES
from .faults import FaultStore
from .provision import zoho_access_token
from .state import SandboxState, Secrets, database_url, read_json

BATCH_SIZE = 100
LOCK_SECONDS = 300
PROBE_PREFIX = "tshprobe"
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)

log = logging.getLogger("sandbox.worker")

CLAIM_SQL = """
UPDATE tds_sync_queue
   SET status = 'processing', locked_by = %(worker)s,
       lock_expires_at = now() + make_interval(secs => %(lock_seconds)s), started_at = now()
 WHERE id IN (SELECT id FROM tds_sync_queue
               WHERE status = 'pending' OR (status = 'retry' AND next_retry_at <= now())
               ORDER BY priority, created_at
               LIMIT %(batch)s
               FOR UPDATE SKIP LOCKED)
RETURNING id, inbox_event_id, entity_type::text, source_entity_id, operation_type::text,
          validated_payload, attempt_count, max_retry_attempts, priority
"""

COMPLETE_SQL = """
UPDATE tds_sync_queue
   SET status = 'completed', completed_at = now(), target_entity_id = %(target)s,
       processing_result = %(result)s, locked_by = NULL, lock_expires_at = NULL
 WHERE id = %(id)s
"""

MARK_INBOX_PROCESSED_SQL = "UPDATE tds_inbox_events SET processed_at = now() WHERE id = %(inbox_event_id)s"

FAIL_SQL = """
UPDATE tds_sync_queue
   SET status = %(status)s::tds_event_status, attempt_count = %(attempts)s,
       error_message = %(message)s, error_code = %(code)s,
       next_retry_at = now() + make_interval(secs => %(delay)s),  -- NULL delay: no retry
       locked_by = NULL, lock_expires_at = NULL
 WHERE id = %(id)s
"""

DEAD_LETTER_SQL = """
INSERT INTO tds_dead_letter_queue
       (sync_queue_id, entity_type, source_entity_id, failure_reason, error_code,
        total_attempts, last_error_message, last_payload, priority)
VALUES (%(id)s, %(entity_type)s::tds_entity_type, %(source_entity_id)s, %(reason)s, %(code)s,
        %(attempts)s, %(message)s, %(payload)s, %(priority)s)
"""


class SyncError(Exception):
    """Processing one queue row failed; ``transient`` errors are retried."""

    def __init__(self, message: str, code: str, *, transient: bool) -> None:
        super().__init__(message)
        self.code = code
        self.transient = transient


# The errors the real system retries: connection, timeout, deadlock, too many connections.
TRANSIENT_DATABASE_ERRORS = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.QueryCanceled,
    psycopg.errors.TooManyConnections,
)

# payload["simulate_error"] -> (message, error code, transient), for tests of the life cycle
SIMULATED_ERRORS = {
    "transient": ("simulated transient error: connection timeout", "SIMULATED_TRANSIENT", True),
    "fatal": ("simulated fatal error: payload failed validation", "SIMULATED_FATAL", False),
}


UPSTREAM_FAILURE_CODE = "ZOHO_VALIDATION_ERROR"
UPSTREAM_FAILURE_BODY = '{"code": 2, "message": "Invalid value passed for JSONString"}'
# TDS entity -> (Zoho API, resource) the worker writes a record of that entity to
ZOHO_RESOURCES = {
    "product": ("inventory", "items"),
    "stock_adjustment": ("inventory", "inventoryadjustments"),
    "customer": ("books", "contacts"),
    "VENDOR": ("books", "contacts"),
    "invoice": ("books", "invoices"),
    "order": ("books", "salesorders"),
    "PAYMENT": ("books", "customerpayments"),
    "price_list": ("books", "pricebooks"),
    "USER": ("books", "users"),
}


@dataclass(frozen=True)
class Upstream:
    """The Zoho the worker talks to, as far as its error messages tell: address, organization, access token."""

    base_url: str
    organization_id: str
    access_token: str = field(repr=False)

    def refusal(self, entity_type: str, source_entity_id: str) -> SyncError:
        """Zoho refusing the write of one record, as the worker records it."""
        api, resource = ZOHO_RESOURCES.get(entity_type, ("books", "contacts"))
        url = f"{self.base_url}{ZOHO_API_PREFIXES[api]}/{resource}/{source_entity_id}"
        message = (
            f"Zoho {api.capitalize()} API answered HTTP 400 to PUT {url}?organization_id={self.organization_id}: "
            f"{UPSTREAM_FAILURE_BODY} (request headers: Authorization: Zoho-oauthtoken {self.access_token}; "
            "Content-Type: application/json)"
        )
        return SyncError(message, UPSTREAM_FAILURE_CODE, transient=True)


@dataclass(frozen=True)
class ErpTable:
    """An ERP table the worker upserts into, keyed by the Zoho id."""

    name: str
    key_column: str
    # column -> payload fields that may carry its value, first present wins
    columns: dict[str, tuple[str, ...]]

    def values_from(self, payload: dict[str, Any]) -> dict[str, Any]:
        values = {}
        for column, fields in self.columns.items():
            present = [payload[field] for field in fields if payload.get(field) not in (None, "")]
            if present:
                values[column] = present[0]
        return values


ERP_TABLES = {
    "customer": ErpTable(
        "customers",
        "zoho_contact_id",
        {"name": ("name", "contact_name"), "email": ("email",), "phone": ("phone", "mobile")},
    ),
    "product": ErpTable(
        "products",
        "zoho_item_id",
        {"name": ("name",), "sku": ("sku",), "price": ("rate", "price"), "stock_on_hand": ("stock_on_hand",)},
    ),
}


@dataclass(frozen=True)
class QueueItem:
    """A claimed tds_sync_queue row."""

    id: Any
    inbox_event_id: Any
    entity_type: str
    source_entity_id: str
    operation_type: str
    validated_payload: dict[str, Any]
    attempt_count: int
    max_retry_attempts: int
    priority: int


def apply_to_erp(cursor: psycopg.Cursor, item: QueueItem) -> str:
    """Write the item's record to its ERP table; return the target entity id."""
    simulated = item.validated_payload.get("simulate_error")
    if simulated in SIMULATED_ERRORS:
        message, code, transient = SIMULATED_ERRORS[simulated]
        raise SyncError(message, code, transient=transient)
    table = ERP_TABLES.get(item.entity_type)
    if table is None or item.source_entity_id.startswith(PROBE_PREFIX):
        return item.source_entity_id
    if item.operation_type == "delete":
        query = sql.SQL("UPDATE {table} SET is_active = false, updated_at = now() WHERE {key} = %s RETURNING id")
        cursor.execute(
            query.format(table=sql.Identifier(table.name), key=sql.Identifier(table.key_column)),
            [item.source_entity_id],
        )
    else:
        values = table.values_from(item.validated_payload)
        if "name" not in values:
            return item.source_entity_id
        columns = [table.key_column, *values]
        query = sql.SQL(
            "INSERT INTO {table} ({columns}, is_active, created_at, updated_at)"
            " VALUES ({placeholders}, true, now(), now())"
            " ON CONFLICT ({key}) DO UPDATE SET {updates}, is_active = true, updated_at = now()"
            " RETURNING id"
        ).format(
            table=sql.Identifier(table.name),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            placeholders=sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            key=sql.Identifier(table.key_column),
            updates=sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(column)) for column in values
            ),
        )
        cursor.execute(query, [item.source_entity_id, *values.values()])
    row = cursor.fetchone()
    return str(row["id"]) if row else item.source_entity_id


class SyncWorker:
    """Polls the queue until :meth:`stop` is called, reconnecting when the database goes away."""

    def __init__(
        self,
        db_url: str,
        ready_file: Path,
        poll_seconds: float,
        *,
        faults: FaultStore | None = None,
        upstream: Upstream | None = None,
    ) -> None:
        self._db_url = db_url
        self._ready_file = ready_file
        self._poll_seconds = poll_seconds
        self._faults = faults
        self._upstream = upstream or Upstream("http://127.0.0.1", "0", "")
        self._name = f"sandbox-worker-{os.getpid()}"
        self._stopping = threading.Event()
        self._has_polled = False

    def stop(self) -> None:
        self._stopping.set()

    def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._db_url, autocommit=True, connect_timeout=3, row_factory=dict_row) as conn:
                    failures = 0
                    self._poll_until_stopped(conn)
            except psycopg.OperationalError as error:
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                log.warning(
                    "database unavailable (%s); reconnecting in %.1f s", str(error).strip().splitlines()[0], delay
                )
                self._stopping.wait(delay)
        log.info("stopped")

    def _poll_until_stopped(self, conn: psycopg.Connection) -> None:
        while not self._stopping.is_set():
            items = self._claim(conn)
            failing = self._failing_entities()
            for item in items:
                if item.entity_type in failing:
                    self._record_failure(conn, item, self._upstream.refusal(item.entity_type, item.source_entity_id))
                else:
                    self._process(conn, item)
            if not self._has_polled:
                self._ready_file.write_text(str(os.getpid()))
                self._has_polled = True
            if len(items) < BATCH_SIZE:
                self._stopping.wait(self._poll_seconds)

    def _failing_entities(self) -> set[str]:
        """The TDS entities whose events fail upstream (the worker-failing faults in effect)."""
        if self._faults is None:
            return set()
        names = self._faults.arguments_of("worker-failing")
        return {WEBHOOK_ROUTES[name].tds_entity for name in names if name in WEBHOOK_ROUTES}

    def _claim(self, conn: psycopg.Connection) -> list[QueueItem]:
        rows = conn.execute(
            CLAIM_SQL, {"worker": self._name, "lock_seconds": LOCK_SECONDS, "batch": BATCH_SIZE}
        ).fetchall()
        return [QueueItem(**row) for row in rows]

    def _process(self, conn: psycopg.Connection, item: QueueItem) -> None:
        try:
            with conn.transaction(), conn.cursor() as cursor:
                target = apply_to_erp(cursor, item)
                result = {"worker": self._name, "operation": item.operation_type}
                cursor.execute(COMPLETE_SQL, {"id": item.id, "target": target, "result": Jsonb(result)})
                cursor.execute(MARK_INBOX_PROCESSED_SQL, {"inbox_event_id": item.inbox_event_id})
        except SyncError as error:
            self._record_failure(conn, item, error)
        except psycopg.OperationalError:
            raise  # the connection is gone: reconnect; the lock expires and the row is claimable again
        except psycopg.Error as error:
            transient = isinstance(error, TRANSIENT_DATABASE_ERRORS)
            self._record_failure(
                conn, item, SyncError(str(error).strip(), error.sqlstate or "DATABASE_ERROR", transient=transient)
            )
        except Exception as error:  # a bug in a handler must fail the row, not the worker
            log.exception("processing %s failed", item.id)
            self._record_failure(conn, item, SyncError(repr(error), "PROCESSING_ERROR", transient=False))

    def _record_failure(self, conn: psycopg.Connection, item: QueueItem, error: SyncError) -> None:
        attempts = item.attempt_count + 1
        retry = error.transient and attempts < item.max_retry_attempts
        values = {
            "id": item.id,
            "status": "retry" if retry else "dead_letter",
            "attempts": attempts,
            "message": str(error),
            "code": error.code,
            "delay": 2**attempts if retry else None,
            "entity_type": item.entity_type,
            "source_entity_id": item.source_entity_id,
            "reason": "max_retries_exceeded" if error.transient else "non_transient_error",
            "payload": Jsonb(item.validated_payload),
            "priority": item.priority,
        }
        with conn.transaction(), conn.cursor() as cursor:
            cursor.execute(FAIL_SQL, values)
            if not retry:
                cursor.execute(DEAD_LETTER_SQL, values)
        log.info("%s %s after attempt %d: %s", item.id, values["status"], attempts, error)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.worker", description="Run the sandbox's TDS sync worker")
    parser.add_argument("--state", required=True, type=Path, help="The sandbox's state.json")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    state = SandboxState.load(arguments.state)
    secrets = Secrets.load(state.layout.secrets_file)
    zoho = read_json(state.layout.zoho_file, what="Zoho simulator credentials file")
    worker = SyncWorker(
        database_url(state.postgres_port, secrets.db_password),
        state.layout.worker_ready_file,
        float(os.environ.get("TSH_SANDBOX_POLL_SECONDS", "0.3")),
        faults=FaultStore(state.layout.faults_file),
        upstream=Upstream(
            f"http://{LOOPBACK}:{state.zoho_port}", str(zoho["organization_id"]), zoho_access_token(secrets.db_password)
        ),
    )
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop())
    worker.run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
