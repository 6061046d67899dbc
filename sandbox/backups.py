"""The sandbox's pre-deploy dumps: ``home/backups`` holds ``pre_deploy_<UTC stamp>.dump`` files, as deploys leave them.

Once its database is built, a sandbox dumps it with ``pg_dump -Fc`` into
``home/pristine.dump``; every start and reset lays out the backups directory
as one copy of it named and dated now, the dump of the database reset
restores. ``python -m sandbox backup`` dumps the database as it is now, as the
deploy's backup step does. The password reaches pg_dump through
``PGPASSWORD`` only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .errors import SandboxError
from .postgres import SERVER_BINARIES
from .state import HomeLayout

STAMP_FORMAT = "%Y%m%d_%H%M%S"
DUMP_PREFIX = "pre_deploy_"
DUMP_SUFFIX = ".dump"
CUSTOM_FORMAT_MAGIC = b"PGDMP"  # how every pg_dump -Fc archive begins
DUMP_TIMEOUT_SECONDS = 60


def utc_now() -> datetime:
    return datetime.now(UTC)


def dump_name(moment: datetime) -> str:
    """``pre_deploy_YYYYmmdd_HHMMSS.dump`` for ``moment`` (UTC)."""
    return f"{DUMP_PREFIX}{moment.astimezone(UTC).strftime(STAMP_FORMAT)}{DUMP_SUFFIX}"


def check_stamp(stamp: str) -> datetime:
    """A ``YYYYmmdd_HHMMSS`` stamp as a UTC time; anything else raises SandboxError."""
    try:
        return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise SandboxError(f"a dump stamp is YYYYmmdd_HHMMSS (UTC), got {stamp!r}") from None


def dump_database(db_url: str, path: Path) -> None:
    """``pg_dump -Fc`` of the database at ``db_url`` into ``path``."""
    parts = conninfo_to_dict(db_url)
    password = str(parts.pop("password", ""))
    argv = [str(SERVER_BINARIES / "pg_dump"), "-Fc", f"--file={path}", f"--dbname={make_conninfo(**parts)}"]
    try:
        completed = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=DUMP_TIMEOUT_SECONDS,
            env={**os.environ, "PGPASSWORD": password}, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SandboxError(f"pg_dump did not run: {error}") from None
    if completed.returncode != 0:
        raise SandboxError(f"pg_dump failed (exit {completed.returncode}): {completed.stderr.strip()[-300:]}")


def dumps_newest_first(layout: HomeLayout) -> list[Path]:
    """The dumps in the backups directory, the newest (by modification time) first."""
    found = layout.backups_dir.glob(f"{DUMP_PREFIX}*")
    return sorted(found, key=lambda path: (path.stat().st_mtime, path.name), reverse=True)


def place_copy(source: Path, layout: HomeLayout, moment: datetime) -> Path:
    """Copy ``source`` into the backups directory, named and dated ``moment``."""
    target = layout.backups_dir / dump_name(moment)
    shutil.copyfile(source, target)
    os.utime(target, (moment.timestamp(), moment.timestamp()))
    return target


def lay_out_backups(layout: HomeLayout, db_url: str) -> None:
    """Leave one dump in the backups directory: the pristine dump (made now if missing), dated now."""
    if not layout.pristine_dump.is_file():
        dump_database(db_url, layout.pristine_dump)
    layout.backups_dir.mkdir(exist_ok=True)
    for path in layout.backups_dir.iterdir():
        if path.is_file():
            path.unlink()
    place_copy(layout.pristine_dump, layout, utc_now())


def back_up(layout: HomeLayout, db_url: str, stamp: str | None = None) -> Path:
    """Dump the database as it is now into the backups directory (named by ``stamp``, default now)."""
    moment = check_stamp(stamp) if stamp else utc_now()
    layout.backups_dir.mkdir(exist_ok=True)
    path = layout.backups_dir / dump_name(moment)
    dump_database(db_url, path)
    return path
