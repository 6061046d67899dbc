"""The sandbox's alembic-style migrations: one module per revision, applied by ``python -m sandbox migrate``.

Each module declares ``revision``, ``down_revision`` (as alembic writes them, so
the suite reads the head from this directory the same way it reads a real
``database/alembic/versions``) and ``UPGRADE_SQL``, which must be idempotent.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

import psycopg

from ..errors import SandboxError


@dataclass(frozen=True)
class Revision:
    revision: str
    down_revision: str | None
    upgrade_sql: str


def revisions() -> list[Revision]:
    """Every revision, oldest first (the chain from the root to the single head)."""
    found = {}
    for module_info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        found[module.revision] = Revision(module.revision, module.down_revision, module.UPGRADE_SQL)
    children = {item.down_revision: item for item in found.values()}
    chain, current = [], children.get(None)
    while current is not None:
        chain.append(current)
        current = children.get(current.revision)
    if len(chain) != len(found):
        raise SandboxError("sandbox migrations do not form one chain")
    return chain


def head() -> str:
    return revisions()[-1].revision


def previous_revision() -> str:
    """The revision before the head (what the migration-behind fault sets)."""
    return revisions()[-2].revision


def upgrade(db_url: str) -> tuple[str | None, str]:
    """Apply every revision after the database's one; return (from, to)."""
    chain = revisions()
    try:
        with psycopg.connect(db_url, connect_timeout=5) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            current = row[0] if row else None
            known = [item.revision for item in chain]
            if current is not None and current not in known:
                raise SandboxError(f"the database is at unknown revision {current!r} (known: {', '.join(known)})")
            start = known.index(current) + 1 if current is not None else 0
            for item in chain[start:]:
                if item.upgrade_sql.strip():
                    connection.execute(item.upgrade_sql)
            connection.execute("DELETE FROM alembic_version")
            connection.execute("INSERT INTO alembic_version (version_num) VALUES (%s)", (chain[-1].revision,))
    except psycopg.Error as error:
        raise SandboxError(f"migration failed: {str(error).strip().splitlines()[0]}") from None
    return current, chain[-1].revision
