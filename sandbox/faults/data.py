"""Data faults on the sandbox database and its migrations: queue rows (dead letters, stuck, backlog),
migration drift (the database behind, the migrations with two heads or with a destructive new head), lost
tables and columns.

The sandbox's reset restores the database from its template, which takes back
every change these faults make to it; ``migration-heads`` and
``destructive-migration`` change the sandbox's copy of the migrations instead
and undo that themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from .. import migrations
from ..errors import SandboxError
from ..state import HomeLayout
from .base import Fault, FaultKind, FaultTarget, FaultView

# Rows a data fault inserts are marked by their source id. In-flight rows (stuck,
# backlog) carry the probe prefix, so the measures of the window's settled traffic
# leave them out; dead letters are settled events those measures must count (the
# dead-letter rate), so they carry a prefix of their own. Their payloads name no
# record, so the worker never writes them to ERP tables either way.
FAULT_ROW_PREFIX = "tshprobe-fault"
TRAFFIC_ROW_PREFIX = "sandbox-fault"
HIDDEN_SUFFIX = "__fault_hidden"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _run_sql(
    target: FaultView, statement: str | sql.Composed, params: dict | None = None, *, options: str = ""
) -> list[tuple]:
    try:
        with psycopg.connect(target.db_url, connect_timeout=5, options=options) as connection:
            cursor = connection.execute(statement, params or {})
            return cursor.fetchall() if cursor.description else []
    except psycopg.Error as error:
        raise SandboxError(f"data fault failed: {str(error).strip().splitlines()[0]}") from None


def check_row_count(name: str, argument: str | None, maximum: int) -> None:
    """A data fault's ``<count>`` argument: a whole number of rows from 1 to ``maximum``."""
    if not (argument or "").isdigit() or not 1 <= int(argument) <= maximum:
        raise SandboxError(f"fault {name} needs a row count, 1..{maximum} (got {argument!r})")


@dataclass(frozen=True, kw_only=True)
class DataFault(FaultKind):
    """Changes the sandbox database (or its migrations); reset takes the change back."""


@dataclass(frozen=True, kw_only=True)
class QueueRowsFault(DataFault):
    """Inserts ``<count>`` tds_sync_queue rows (``insert_sql``), optionally stopping the worker first."""

    insert_sql: str
    stop_worker: bool = False
    counts_as_traffic: bool = False  # settled rows the window's traffic measures count (see TRAFFIC_ROW_PREFIX)
    argument_usage: str = "<count>"

    @property
    def row_prefix(self) -> str:
        return f"{TRAFFIC_ROW_PREFIX if self.counts_as_traffic else FAULT_ROW_PREFIX}-{self.name}-"

    def check_argument(self, argument: str | None) -> None:
        check_row_count(self.name, argument, 10_000)

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


@dataclass(frozen=True, kw_only=True)
class MigrationBehindFault(DataFault):
    """``alembic downgrade -1``: the database goes one revision back; ``sandbox migrate`` upgrades it again."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        migrations.downgrade(target.db_url, HomeLayout(target.home).migrations_dir, "-1")

    def active_specs(self, target: FaultView) -> list[str]:
        # Below the packaged head: a revision added to the home copy (destructive-migration) is not this fault.
        current = migrations.database_revisions(target.db_url)
        return [self.name] if not current or set(current) <= migrations.revisions_below_head() else []


# The revision migration-heads adds: a second child of the head's parent, as a parallel branch would be.
BRANCH_REVISION = "b7c8d9e0f1a2"
BRANCH_MESSAGE = "sales order status index"
# The revision destructive-migration adds: a new head that drops a column the deployed database still has.
DESTRUCTIVE_REVISION = "c9d8e7f6a5b4"
DESTRUCTIVE_MESSAGE = "drop customer phone"


@dataclass(frozen=True, kw_only=True)
class AddedRevisionFault(DataFault):
    """A revision file written into the sandbox's copy of the migrations (``home/alembic/versions``).

    The database stays where it is; the file is what changes, as a deploy
    bringing new revisions does. Undone by removing the file (and its
    compiled module).
    """

    revision: str
    message: str
    upgrades: str
    downgrades: str
    on_parent_of_head: bool  # True: beside the head (a second head); False: on top of it (the new head)

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        directory = HomeLayout(target.home).migrations_dir
        if self._files(directory):
            return
        parent = migrations.previous_revision(directory) if self.on_parent_of_head else migrations.head(directory)
        migrations.add_revision(
            directory,
            rev_id=self.revision,
            parent=parent,
            message=self.message,
            upgrades=self.upgrades,
            downgrades=self.downgrades,
        )

    def active_specs(self, target: FaultView) -> list[str]:
        return [self.name] if self._files(HomeLayout(target.home).migrations_dir) else []

    def undo(self, target: FaultView) -> None:
        directory = HomeLayout(target.home).migrations_dir
        for path in self._files(directory):
            path.unlink()
        for cached in (directory / "versions" / "__pycache__").glob(f"{self.revision}_*"):
            cached.unlink()

    def _files(self, directory) -> list:
        return sorted((directory / "versions").glob(f"{self.revision}_*.py"))


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
        counts_as_traffic=True,
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
    MigrationBehindFault(name="migration-behind", summary="alembic downgrade -1: the database is one revision behind"),
    # alembic revision --head <parent> --splice: two heads, and alembic upgrade head refuses to choose.
    AddedRevisionFault(
        name="migration-heads",
        summary="the migrations get a second head (a revision spliced onto the head's parent)",
        revision=BRANCH_REVISION,
        message=BRANCH_MESSAGE,
        upgrades='op.create_index("ix_sales_orders_status", "sales_orders", ["status"])',
        downgrades='op.drop_index("ix_sales_orders_status", table_name="sales_orders")',
        on_parent_of_head=True,
    ),
    # A deploy whose new head drops a column: the database is behind, and the pending upgrade destroys data.
    AddedRevisionFault(
        name="destructive-migration",
        summary="the migrations get a new head that drops customers.phone; the database stays at the old head",
        revision=DESTRUCTIVE_REVISION,
        message=DESTRUCTIVE_MESSAGE,
        upgrades='op.drop_column("customers", "phone")',
        downgrades='op.add_column("customers", sa.Column("phone", sa.Text(), nullable=True))',
        on_parent_of_head=False,
    ),
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
