"""Data faults on the sandbox database: queue rows (dead letters, stuck, backlog), migration drift, lost tables.

Each kind can take back every change of its kind (:meth:`DataFault.undo`), which
the sandbox's reset runs.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from dataclasses import dataclass

import psycopg
from psycopg import sql

from ..errors import SandboxError
from ..migrations import head as migration_head
from ..migrations import previous_revision, upgrade
from .base import Fault, FaultKind, FaultTarget, FaultView

# Rows a data fault inserts carry the probe prefix, so the worker never writes
# them to ERP tables and the checks that measure real traffic leave them out.
FAULT_ROW_PREFIX = "tshprobe-fault"
HIDDEN_SUFFIX = "__fault_hidden"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _run_sql(target: FaultView, statement: str | sql.Composed, params: dict | None = None) -> list[tuple]:
    try:
        with psycopg.connect(target.db_url, connect_timeout=5) as connection:
            cursor = connection.execute(statement, params or {})
            return cursor.fetchall() if cursor.description else []
    except psycopg.Error as error:
        raise SandboxError(f"data fault failed: {str(error).strip().splitlines()[0]}") from None


@dataclass(frozen=True, kw_only=True)
class DataFault(FaultKind):
    """Changes the sandbox database; :meth:`undo` takes every change of its kind back (run by reset)."""

    argument_usage: str = ""

    @property
    def usage(self) -> str:
        return f"{self.name}:{self.argument_usage}" if self.argument_usage else self.name

    @abstractmethod
    def undo(self, target: FaultView) -> None:
        """Take back every change this kind of fault made."""


@dataclass(frozen=True, kw_only=True)
class QueueRowsFault(DataFault):
    """Inserts ``<count>`` tds_sync_queue rows (``insert_sql``), optionally stopping the worker first."""

    insert_sql: str
    stop_worker: bool = False
    argument_usage: str = "<count>"

    @property
    def row_prefix(self) -> str:
        return f"{FAULT_ROW_PREFIX}-{self.name}-"

    def check_argument(self, argument: str | None) -> None:
        if not (argument or "").isdigit() or not 1 <= int(argument) <= 10_000:
            raise SandboxError(f"fault {self.name} needs a row count, 1..10000 (got {argument!r})")

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        if self.stop_worker:
            target.service("worker", "stop")
        _run_sql(target, self.insert_sql, {"count": int(str(fault.argument)), "prefix": self.row_prefix})

    def active_specs(self, target: FaultView) -> list[str]:
        rows = _run_sql(
            target,
            "SELECT count(*) FROM tds_sync_queue WHERE source_entity_id LIKE %(pattern)s AND status <> 'completed'",
            {"pattern": f"{self.row_prefix}%"},
        )
        return [f"{self.name}:{rows[0][0]}"] if rows[0][0] else []

    def undo(self, target: FaultView) -> None:
        pattern = {"pattern": f"{self.row_prefix}%"}
        _run_sql(target, "DELETE FROM tds_dead_letter_queue WHERE source_entity_id LIKE %(pattern)s", pattern)
        _run_sql(target, "DELETE FROM tds_sync_queue WHERE source_entity_id LIKE %(pattern)s", pattern)


@dataclass(frozen=True, kw_only=True)
class MigrationBehindFault(DataFault):
    """Sets alembic_version to the revision before the head; ``sandbox migrate`` (or reset) upgrades it."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        _run_sql(target, "UPDATE alembic_version SET version_num = %(revision)s", {"revision": previous_revision()})

    def active_specs(self, target: FaultView) -> list[str]:
        rows = _run_sql(target, "SELECT version_num FROM alembic_version")
        return [] if [row[0] for row in rows] == [migration_head()] else [self.name]

    def undo(self, target: FaultView) -> None:
        upgrade(target.db_url)


@dataclass(frozen=True, kw_only=True)
class HiddenObjectFault(DataFault):
    """Renames a table (``<table>``) or a column (``<table>.<column>``) away, as a lost migration would."""

    column: bool

    def check_argument(self, argument: str | None) -> None:
        parts = (argument or "").split(".")
        if len(parts) != (2 if self.column else 1) or not all(_IDENTIFIER.match(part) for part in parts):
            raise SandboxError(f"fault {self.name} needs {self.argument_usage} (got {argument!r})")

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        table, _, column = str(fault.argument).partition(".")
        if self.column:
            statement = sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                sql.Identifier(table), sql.Identifier(column), sql.Identifier(column + HIDDEN_SUFFIX)
            )
        else:
            statement = sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(table), sql.Identifier(table + HIDDEN_SUFFIX)
            )
        _run_sql(target, statement)

    def _hidden(self, target: FaultView) -> list[tuple[str, str]]:
        if self.column:
            query = "SELECT table_name, column_name FROM information_schema.columns"
            name = "column_name"
        else:
            query = "SELECT table_name, '' FROM information_schema.tables"
            name = "table_name"
        where = f"WHERE table_schema = 'public' AND {name} LIKE %(pattern)s"
        return _run_sql(target, f"{query} {where}", {"pattern": f"%{HIDDEN_SUFFIX}"})

    def active_specs(self, target: FaultView) -> list[str]:
        return [
            f"{self.name}:{table}.{column.removesuffix(HIDDEN_SUFFIX)}" if self.column
            else f"{self.name}:{table.removesuffix(HIDDEN_SUFFIX)}"
            for table, column in self._hidden(target)
        ]  # fmt: skip

    def undo(self, target: FaultView) -> None:
        for table, column in self._hidden(target):
            if self.column:
                statement = sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                    sql.Identifier(table), sql.Identifier(column), sql.Identifier(column.removesuffix(HIDDEN_SUFFIX))
                )
            else:
                statement = sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                    sql.Identifier(table), sql.Identifier(table.removesuffix(HIDDEN_SUFFIX))
                )
            _run_sql(target, statement)


_DEAD_LETTERS_SQL = """
WITH dead AS (
    INSERT INTO tds_sync_queue
           (entity_type, source_entity_id, operation_type, validated_payload, status, attempt_count,
            error_message, error_code, created_at, started_at)
    SELECT 'customer', %(prefix)s || i, 'update', '{}'::jsonb, 'dead_letter', 3,
           'connection to Zoho refused (simulated)', 'connection_error',
           now() - interval '3 hours', now() - interval '3 hours'
    FROM generate_series(1, %(count)s) AS i
    RETURNING id, entity_type, source_entity_id, attempt_count, error_code, error_message, validated_payload, priority
)
INSERT INTO tds_dead_letter_queue
       (sync_queue_id, entity_type, source_entity_id, failure_reason, error_code, total_attempts,
        last_error_message, last_payload, priority)
SELECT id, entity_type, source_entity_id, 'max retry attempts reached', error_code, attempt_count,
       error_message, validated_payload, priority
FROM dead
"""
_STUCK_PROCESSING_SQL = """
INSERT INTO tds_sync_queue
       (entity_type, source_entity_id, operation_type, validated_payload, status, locked_by, lock_expires_at,
        created_at, started_at)
SELECT 'invoice', %(prefix)s || i, 'update', '{}'::jsonb, 'processing', 'sandbox-worker-lost',
       now() - interval '115 minutes', now() - interval '2 hours', now() - interval '2 hours'
FROM generate_series(1, %(count)s) AS i
"""
_BACKLOG_SQL = """
INSERT INTO tds_sync_queue (entity_type, source_entity_id, operation_type, validated_payload, status, created_at)
SELECT 'product', %(prefix)s || i, 'update', '{}'::jsonb, 'pending', now() - interval '20 minutes'
FROM generate_series(1, %(count)s) AS i
"""


KINDS = (
    QueueRowsFault(
        name="dead-letters",
        summary="<count> queue rows dead-lettered with a transient error class, plus their dead-letter rows",
        insert_sql=_DEAD_LETTERS_SQL,
    ),
    QueueRowsFault(
        name="stuck-processing",
        summary="<count> queue rows in processing since 2 h ago, their locks expired",
        insert_sql=_STUCK_PROCESSING_SQL,
    ),
    QueueRowsFault(
        name="backlog",
        summary="the worker stops and <count> pending rows (20 min old) pile up",
        insert_sql=_BACKLOG_SQL,
        stop_worker=True,
    ),
    MigrationBehindFault(name="migration-behind", summary="alembic_version is one revision behind the head"),
    HiddenObjectFault(
        name="missing-table", summary="the table is renamed away", column=False, argument_usage="<table>"
    ),
    HiddenObjectFault(
        name="missing-column",
        summary="the column is renamed away",
        column=True,
        argument_usage="<table>.<column>",
    ),
)
