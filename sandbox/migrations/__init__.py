"""The sandbox's migrations: this directory is a real alembic script directory.

``env.py``, ``script.py.mako`` and ``versions/`` (one revision per file, as
alembic writes them) are what alembic reads; this module is the sandbox's
handle on them. A sandbox copies the directory into its home at start
(:func:`install`) and runs that copy with alembic's command API, on its own
database (the psycopg 3 dialect, ``postgresql+psycopg://``): faults that change
the migrations (``migration-heads``, ``destructive-migration``) change only the copy.

alembic and SQLAlchemy are imported inside the functions, so the app and the
worker, which import the fault registry, do not pay for them.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from ..errors import SandboxError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

SCRIPT_DIR = Path(__file__).resolve().parent
_NOT_COPIED = ("__init__.py", "__pycache__")


def install(directory: Path) -> Path:
    """Copy the script directory to ``directory`` (which must not exist); return it."""
    shutil.copytree(SCRIPT_DIR, directory, ignore=shutil.ignore_patterns(*_NOT_COPIED))
    return directory


def sqlalchemy_url(db_url: str) -> str:
    """The libpq URL as SQLAlchemy's psycopg 3 URL."""
    scheme, separator, rest = db_url.partition("://")
    if not separator or scheme not in ("postgresql", "postgres"):
        raise SandboxError("the sandbox database URL must be a postgresql:// URL")
    return f"postgresql+psycopg://{rest}"


def config(directory: Path, db_url: str | None = None) -> Config:
    """An alembic Config for the script directory ``directory`` (and the database ``db_url``)."""
    from alembic.config import Config

    settings = Config()
    settings.set_main_option("script_location", str(directory))
    if db_url is not None:
        settings.set_main_option("sqlalchemy.url", sqlalchemy_url(db_url).replace("%", "%%"))
    return settings


def script_directory(directory: Path = SCRIPT_DIR) -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(directory))


def heads(directory: Path = SCRIPT_DIR) -> list[str]:
    """The head revisions of ``directory``, sorted (one, unless branches diverge)."""
    return sorted(_alembic(lambda: script_directory(directory).get_heads()))


def head(directory: Path = SCRIPT_DIR) -> str:
    """The single head of ``directory``; SandboxError when it has several."""
    found = heads(directory)
    if len(found) != 1:
        raise SandboxError(f"the migrations in {directory} have {len(found)} heads: {', '.join(found)}")
    return found[0]


def previous_revision(directory: Path = SCRIPT_DIR) -> str:
    """The revision before the head (where ``migration-behind`` takes the database)."""
    down = _alembic(lambda: script_directory(directory).get_revision(head(directory)).down_revision)
    if not isinstance(down, str):
        raise SandboxError(f"the head of {directory} has no single previous revision")
    return down


def revisions_below_head(directory: Path = SCRIPT_DIR) -> set[str]:
    """Every revision the single head of ``directory`` descends from (not the head itself)."""
    top = head(directory)
    walked = _alembic(lambda: list(script_directory(directory).walk_revisions(head=top)))
    return {revision.revision for revision in walked} - {top}


def database_revisions(db_url: str) -> list[str]:
    """The revisions alembic_version records (empty without the table or a row)."""
    try:
        with psycopg.connect(db_url, connect_timeout=5) as connection:
            if connection.execute("SELECT to_regclass('alembic_version')").fetchone()[0] is None:
                return []
            return sorted(row[0] for row in connection.execute("SELECT version_num FROM alembic_version"))
    except psycopg.Error as error:
        raise SandboxError(f"cannot read the database's revision: {_first_line(error)}") from None


def upgrade(db_url: str, directory: Path) -> tuple[str | None, str | None]:
    """``alembic upgrade head`` with the script directory ``directory``; returns (from, to)."""
    from alembic import command

    return _move(db_url, lambda: command.upgrade(config(directory, db_url), "head"))


def downgrade(db_url: str, directory: Path, target: str = "-1") -> tuple[str | None, str | None]:
    """``alembic downgrade <target>`` (default one revision) with ``directory``; returns (from, to)."""
    from alembic import command

    return _move(db_url, lambda: command.downgrade(config(directory, db_url), target))


def add_revision(
    directory: Path, *, rev_id: str, parent: str, message: str, upgrades: str = "pass", downgrades: str = "pass"
) -> Path:
    """A new revision file on ``parent``, what ``alembic revision --head <parent> --splice`` writes.

    Spliced onto a ``parent`` that already has a child, it starts a second
    branch, as two developers' revisions from the same parent do. ``upgrades``
    and ``downgrades`` are the bodies of its functions (Python, as
    script.py.mako takes them).
    """
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(directory), messaging_opts={"quiet": True})
    written = _alembic(
        lambda: script.generate_revision(
            rev_id, message, head=parent, splice=True, upgrades=upgrades, downgrades=downgrades
        )
    )
    return Path(written.path)


def _move(db_url: str, run) -> tuple[str | None, str | None]:
    before = database_revisions(db_url)
    _alembic(run)
    after = database_revisions(db_url)
    return ", ".join(before) or None, ", ".join(after) or None


def _alembic(run):
    """Run an alembic call; its failures (bad targets, several heads, SQL errors) become one-line SandboxErrors."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return run()
    except (CommandError, SQLAlchemyError, psycopg.Error) as error:
        raise SandboxError(f"migration failed: {_first_line(error)}") from None


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
