"""db.migration_preview: the SQL the pending migrations would run, and whether it destroys data.

What ``alembic upgrade head`` would do to the target, read before anyone runs
it: alembic's offline rendering of the deployed revisions, from the database's
revision to the head (``alembic upgrade <revision>:head --sql``, nothing is
run), written to ``migration_preview.sql`` on every run and read statement by
statement by PostgreSQL's own parser. A destructive statement (a dropped table
or column, a truncate, a delete of every row, a narrowed column type) fails the
check unless the inventory acknowledges its revision, with the reason
(``database.migrations.acknowledged_destructive``).

Without one upgrade path (several heads, migrations alembic cannot read, a
database revision the migrations do not know) there is nothing to preview:
the revision check says why, and this check is skipped with that reason.
"""

from __future__ import annotations

import psycopg
import pytest

from fixtures.db import connect
from fixtures.failures import CheckFailed
from fixtures.migrations import (
    MigrationReadError,
    PendingUpgrade,
    database_revisions,
    heads,
    migrations_directory,
    pending_upgrade,
)
from fixtures.sql_reading import DestructiveStatement, TableName, destructive_statements

pytestmark = [pytest.mark.production, pytest.mark.database]

PREVIEW_REPORT = "migration_preview.sql"
REPORTED = " (test_database_revision_is_head reports why)"


def test_pending_migrations_are_not_destructive(inventory, report_file):
    header = [f"-- TSH ERP migration preview of {inventory.target.name}"]
    settings = inventory.database.migrations
    directory = migrations_directory(settings) if settings is not None else None
    if directory is None:
        _not_previewed(report_file, header, "the inventory names no migrations directory (database.migrations)")
    if not (directory / "versions").is_dir():
        _not_previewed(report_file, header, f"{directory} is not an alembic script directory (no versions/)", REPORTED)
    with connect(inventory) as db:
        revisions = database_revisions(db)
        try:
            found_heads = heads(directory)
        except MigrationReadError as error:
            _not_previewed(report_file, header, f"alembic cannot read the migrations: {error}", REPORTED)
        if len(found_heads) != 1:
            reason = f"the migrations have {len(found_heads)} heads, so there is no single upgrade to preview"
            _not_previewed(report_file, header, reason, REPORTED)
        if len(revisions) > 1:
            reason = f"the database records {len(revisions)} revisions; alembic previews from one"
            _not_previewed(report_file, header, reason, REPORTED)
        (head,) = found_heads
        database_revision = revisions[0] if revisions else None
        if database_revision == head:
            report_file(PREVIEW_REPORT, _lines(*header, f"-- The database is at the head {head}: nothing would run."))
            return
        try:
            pending = pending_upgrade(directory, database_revision)
        except MigrationReadError as error:
            reason = f"the pending migrations cannot be previewed: {error}; review them by hand before upgrading"
            _not_previewed(report_file, header, reason)
        found = destructive_statements(pending.statements, lambda table, column: _column_type(db, table, column))
    acknowledged = settings.acknowledged_destructive
    report_file(PREVIEW_REPORT, _preview(header, pending, found, acknowledged))
    unacknowledged = [statement for statement in found if statement.statement.label not in acknowledged]
    if unacknowledged:
        revisions_shown = ", ".join(dict.fromkeys(str(statement.statement.label) for statement in unacknowledged))
        raise CheckFailed(
            "destructive",
            f"the pending migrations would destroy data: revision {revisions_shown} is not acknowledged "
            "(database.migrations.acknowledged_destructive)",
            database_revision=database_revision,
            head=head,
            pending_revisions=pending.revisions,
            statements=len(_changes(pending)),
            destructive=[_described(statement, pending) for statement in unacknowledged],
            preview=PREVIEW_REPORT,
        )


def _not_previewed(report_file, header: list[str], reason: str, reported: str = ""):
    """Skip the check with ``reason``, and say so in the preview file."""
    __tracebackhide__ = True
    report_file(PREVIEW_REPORT, _lines(*header, f"-- Not previewed: {reason}{reported}."))
    pytest.skip(f"{reason}{reported}")


def _column_type(db: psycopg.Connection, table: TableName, column: str) -> str | None:
    """The column's current type as SQL (``character varying(50)``), None when it does not exist."""
    row = db.execute(
        "SELECT format_type(a.atttypid, a.atttypmod) AS type FROM pg_attribute a "
        "WHERE a.attrelid = to_regclass(%(table)s) AND a.attname = %(column)s AND a.attnum > 0 AND NOT a.attisdropped",
        {"table": table.quoted, "column": column},
    ).fetchone()
    return row["type"] if row else None


def _changes(pending: PendingUpgrade) -> list:
    """The statements the revisions run (BEGIN and COMMIT are alembic's framing, not theirs)."""
    return [statement for statement in pending.statements if not statement.controls_the_transaction]


def _described(statement: DestructiveStatement, pending: PendingUpgrade) -> dict[str, str | None]:
    revision = statement.statement.label
    return {
        "statement": statement.action,
        "object": statement.target,
        "revision": revision,
        "file": pending.files.get(revision) if revision else None,
    }


def _preview(
    header: list[str], pending: PendingUpgrade, found: list[DestructiveStatement], acknowledged: dict[str, str]
) -> str:
    """The preview file: what was rendered, the pending revisions, each destructive statement's verdict, the SQL."""
    lines = [
        *header,
        f"-- {pending.command}: rendered offline from the deployed revisions; nothing was run.",
        f"-- pending revisions: {len(pending.revisions)}, their statements: {len(_changes(pending))}",
        *(f"--   {revision} ({pending.files[revision]})" for revision in pending.revisions),
    ]
    for statement in found:
        revision = statement.statement.label
        verdict = f"acknowledged: {acknowledged[revision]}" if revision in acknowledged else "NOT acknowledged"
        lines.append(f"-- destructive: {statement.action} {statement.target} (revision {revision}), {verdict}")
    return _lines(*lines, "", pending.sql.strip())


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"
