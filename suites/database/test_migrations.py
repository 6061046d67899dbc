"""db.alembic_revision: the database's alembic revision is the head of the configured migrations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fixtures.db import connect
from fixtures.failures import CheckFailed
from fixtures.inventory import PROJECT_ROOT, MigrationSettings

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.database]

# Alembic writes `revision = "x"` or `revision: str = "x"`; down_revision may be None or a tuple (a merge).
_REVISION = re.compile(r"^revision\s*(?::[^=]+)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*(?::[^=]+)?=\s*(.+)$", re.MULTILINE)


def test_database_revision_is_head(inventory):
    expected = _expected_head(inventory.database.migrations)
    with connect(inventory) as db:
        has_table = db.execute("SELECT to_regclass('alembic_version') IS NOT NULL AS present").fetchone()["present"]
        rows = db.execute("SELECT version_num FROM alembic_version").fetchall() if has_table else []
    actual = [row["version_num"] for row in rows]
    if actual != [expected]:
        raise CheckFailed(
            "drift",
            "the database's alembic revision is not the head of the migrations",
            expected=expected,
            actual=actual[0] if len(actual) == 1 else actual or None,
        )


def _expected_head(settings: MigrationSettings | None) -> str:
    __tracebackhide__ = True
    if settings is None:
        raise CheckFailed("config", "the inventory names no migrations (database.migrations: head or directory)")
    if settings.head is not None:
        return settings.head
    directory = Path(str(settings.directory))
    directory = directory if directory.is_absolute() else PROJECT_ROOT / directory
    if not directory.is_dir():
        raise CheckFailed("config", "the migrations directory does not exist", directory=str(directory))
    revisions, parents = set(), set()
    for path in directory.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = _REVISION.search(text)
        if revision is None:
            continue
        revisions.add(revision[1])
        down = _DOWN_REVISION.search(text)
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down[1]) if down else [])
    heads = sorted(revisions - parents)
    if len(heads) != 1:
        raise CheckFailed(
            "config", "the migrations directory does not have exactly one head", directory=str(directory), heads=heads
        )
    return heads[0]
