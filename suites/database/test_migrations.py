"""db.alembic_revision: the database's alembic revision is the single head of the configured migrations.

The migrations are read by alembic itself (``ScriptDirectory``: the revision
graph of ``versions/``), so merges, branch labels and every file layout alembic
accepts are read as alembic reads them. The database's revision is read and
reported on every run, whatever the verdict.
"""

from __future__ import annotations

import pytest

from fixtures import migrations
from fixtures.db import connect
from fixtures.failures import CheckFailed
from fixtures.inventory import MigrationSettings

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.database]

REVISION_REPORT = "database_revision_report.txt"


def test_database_revision_is_head(inventory, report_line, request):
    with connect(inventory) as db:
        actual = migrations.database_revisions(db)
    shown = ", ".join(actual) or "none"
    request.node.user_properties.append(("database_revision", shown))
    heads = _expected_heads(inventory.database.migrations, database_revision=shown)
    heads_shown = f"{'head' if len(heads) == 1 else 'heads'} {', '.join(heads)}"
    report_line(REVISION_REPORT, f"{inventory.target.name}: database revision {shown}; {heads_shown}")
    if len(heads) != 1:
        raise CheckFailed(
            "multiple_heads",
            "the migrations have more than one head (diverged branches nobody merged)",
            heads=heads,
            database_revision=shown,
        )
    if actual != heads:
        raise CheckFailed(
            "drift",
            "the database's alembic revision is not the head of the migrations",
            expected=heads[0],
            actual=actual[0] if len(actual) == 1 else actual or None,
        )


def _expected_heads(settings: MigrationSettings | None, *, database_revision: str) -> list[str]:
    """The heads of the migrations, as alembic reads them (or the inventory's fixed head)."""
    __tracebackhide__ = True
    if settings is None:
        raise CheckFailed("config", "the inventory names no migrations (database.migrations: head or directory)")
    if settings.head is not None:
        return [settings.head]
    directory = migrations.migrations_directory(settings)
    if not (directory / "versions").is_dir():
        raise CheckFailed(
            "config",
            "the migrations directory is not an alembic script directory (no versions/)",
            directory=str(directory),
            database_revision=database_revision,
        )
    try:
        return migrations.heads(directory)
    except migrations.MigrationReadError as error:
        raise CheckFailed(
            "config",
            "alembic cannot read the revision graph of the migrations",
            directory=str(directory),
            error=str(error),
            database_revision=database_revision,
        ) from None
