"""backup.pre_deploy, backup.restore_drill, backup.retention: a pre-deploy dump exists, restores, and is kept to policy.

The deploy writes ``pre_deploy_YYYYmmdd_HHMMSS.dump`` (``pg_dump -Fc``) or
``.sql`` (plain) into the inventory's ``[backup] directory`` before it touches
the database. The newest one must be fresh and not empty; it must restore: a
custom-format dump is read by ``pg_restore --list`` and restored into a
throwaway database (``[backup] scratch_url``), whose tables and row counts are
compared with the target database's; a plain dump must end with pg_dump's
completion marker. Retention: at most ``max_kept`` dumps, none older than
``max_kept_days``. The target's database is only read.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row

from fixtures.backups import (
    DUMP_PATTERN,
    PLAIN_DUMP_COMPLETE,
    Dump,
    is_local,
    list_custom_dump,
    list_dumps,
    plain_dump_tail,
    restore_into,
    row_counts,
    scratch_database,
    utc_now,
)
from fixtures.db import connect
from fixtures.failures import CheckFailed
from fixtures.inventory import BackupSettings

pytestmark = [pytest.mark.production, pytest.mark.backup]

SHOWN_NAMES = 20


@pytest.fixture
def backup(inventory) -> BackupSettings:
    if inventory.backup is None:
        pytest.skip("no backup location configured ([backup] directory)")
    return inventory.backup


def newest_dump(settings: BackupSettings) -> Dump:
    """The newest pre-deploy dump; none at all fails as ``missing``."""
    __tracebackhide__ = True
    dumps = list_dumps(settings)
    if not dumps:
        raise CheckFailed(
            "missing", f"no pre-deploy dump in {settings.directory} ({DUMP_PATTERN})",
            directory=settings.directory, host=settings.host,
        )  # fmt: skip
    return dumps[0]


def test_newest_pre_deploy_dump_exists_and_is_fresh(backup):
    dump = newest_dump(backup)
    if dump.size_bytes == 0:
        raise CheckFailed("missing", f"the newest dump {dump.name} is empty", dump=dump.name, size_bytes=0)
    age = dump.age_hours(utc_now())
    if age > backup.max_age_hours:
        raise CheckFailed(
            "stale", f"the newest dump {dump.name} is {age:.1f} h old, older than {backup.max_age_hours:g} h",
            dump=dump.name, age_hours=round(age, 1), limit_hours=backup.max_age_hours,
        )  # fmt: skip


def test_newest_pre_deploy_dump_restores(backup, inventory):
    dump = newest_dump(backup)
    if not dump.custom_format:
        if PLAIN_DUMP_COMPLETE not in plain_dump_tail(backup, dump):
            raise CheckFailed(
                "contract", f"the plain dump {dump.name} was cut off: it does not end with {PLAIN_DUMP_COMPLETE!r}",
                dump=dump.name, size_bytes=dump.size_bytes,
            )  # fmt: skip
        return
    listed = f"pg_restore --list reads {list_custom_dump(backup, dump)} entries of {dump.name}"
    if backup.scratch_url is None:
        pytest.skip(f"{listed}; not restored: no scratch database configured ([backup] scratch_url)")
    if not is_local(backup):
        pytest.skip(f"{listed}; not restored: the restore runs only where the dumps are ([backup] host = local://)")
    with connect(inventory) as source:
        source_counts = row_counts(source, backup.count_tables)
    with scratch_database(backup) as restored_url:
        restore_into(backup, dump, restored_url)
        with psycopg.connect(restored_url, connect_timeout=10, row_factory=dict_row) as restored:
            restored_counts = row_counts(restored, backup.count_tables)
    judge_restored_counts(backup, dump, source_counts, restored_counts)


def judge_restored_counts(
    backup: BackupSettings, dump: Dump, source_counts: dict[str, int], restored_counts: dict[str, int]
) -> None:
    """Each counted table the target has is restored, with its rows within the tolerance of the target's.

    Only ``count_tables`` are compared: a pre-deploy dump predates the deploy's
    migrations, so the target may have tables the dump rightly lacks.
    """
    __tracebackhide__ = True
    absent = sorted(set(source_counts) - set(restored_counts))
    if absent:
        raise CheckFailed(
            "drift", f"the restored dump {dump.name} lacks {len(absent)} tables of the target database",
            dump=dump.name, absent_tables=absent[:SHOWN_NAMES],
        )  # fmt: skip
    differing = {
        table: {"source": rows, "restored": restored_counts[table]}
        for table, rows in source_counts.items()
        if abs(rows - restored_counts[table]) > rows * backup.row_count_tolerance_percent / 100
    }
    if differing:
        raise CheckFailed(
            "drift",
            f"the restored dump {dump.name} differs from the target database by more than "
            f"{backup.row_count_tolerance_percent:g} % of the rows of {len(differing)} tables",
            dump=dump.name, counts=differing, tolerance_percent=backup.row_count_tolerance_percent,
        )  # fmt: skip


def test_pre_deploy_dumps_are_kept_within_retention(backup):
    dumps = list_dumps(backup)
    now = utc_now()
    beyond = [dump.name for dump in dumps[backup.max_kept :]]
    too_old = [dump.name for dump in dumps if dump.age_hours(now) > backup.max_kept_days * 24]
    if beyond or too_old:
        broken = []
        if beyond:
            broken.append(f"{len(dumps)} dumps are kept, more than {backup.max_kept}")
        if too_old:
            broken.append(f"{len(too_old)} are older than {backup.max_kept_days:g} days")
        raise CheckFailed(
            "config", f"the retention of {backup.directory} is broken: {'; '.join(broken)}",
            count=len(dumps), limit=backup.max_kept, beyond_limit=beyond[:SHOWN_NAMES] or None,
            limit_days=backup.max_kept_days, older=too_old[:SHOWN_NAMES] or None,
        )  # fmt: skip
