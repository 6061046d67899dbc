"""The sandbox's migrations are a real alembic environment: upgrade, downgrade, two heads, and the faults on them."""

from __future__ import annotations

import re
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory
from suite_runner import sandbox_cli

from sandbox import Sandbox, migrations
from sandbox.faults.data import BRANCH_REVISION, DESTRUCTIVE_REVISION

INITIAL, HEAD = "f0e1d2c3b4a5", "a1b2c3d4e5f6"
CLAIM_INDEX = "ix_tds_sync_queue_claim"


def cli(sandbox: Sandbox, *arguments: str) -> subprocess.CompletedProcess[str]:
    return sandbox_cli(*arguments, "--state", str(sandbox.state_file))


def has_claim_index(query) -> bool:
    return bool(query("SELECT 1 FROM pg_indexes WHERE indexname = %s", CLAIM_INDEX))


def test_the_packaged_directory_is_one_alembic_chain_written_as_alembic_writes_it() -> None:
    script = ScriptDirectory(str(migrations.SCRIPT_DIR))
    assert script.get_heads() == [HEAD]
    assert [revision.revision for revision in script.walk_revisions()] == [HEAD, INITIAL]
    assert (migrations.head(), migrations.previous_revision()) == (HEAD, INITIAL)
    for path in (migrations.SCRIPT_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert re.search(r'^revision: str = "[0-9a-f]{12}"$', text, re.MULTILINE), path
        assert re.search(r"^down_revision: str \| Sequence\[str\] \| None = ", text, re.MULTILINE), path


def test_the_sandbox_migrates_its_own_copy_and_publishes_it(sandbox: Sandbox, query) -> None:
    directory = Path(sandbox.env()["TSH_SANDBOX_MIGRATIONS_DIR"])
    assert directory.is_absolute() and directory == sandbox.home / "alembic"
    assert {path.name for path in directory.iterdir()} >= {"env.py", "script.py.mako", "versions"}
    assert not (directory / "__init__.py").exists()
    assert ScriptDirectory(str(directory)).get_heads() == [HEAD]
    assert query("SELECT version_num FROM alembic_version") == [{"version_num": HEAD}]
    assert has_claim_index(query)
    # The layout alembic writes: revisions only in versions/ (the suite reads them through ScriptDirectory).
    assert {path.name for path in directory.glob("*.py")} == {"env.py"}


def test_upgrade_builds_the_schema_and_downgrade_to_base_takes_it_away(sandbox: Sandbox) -> None:
    """On a scratch database of the sandbox's cluster, through the same env.py and revisions."""
    name = f"scratch_{uuid.uuid4().hex[:8]}"
    admin_url = sandbox.db_url.rsplit("/", 1)[0] + "/postgres"
    scratch_url = sandbox.db_url.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        assert migrations.upgrade(scratch_url, sandbox.migrations_dir) == (None, HEAD)
        with psycopg.connect(scratch_url) as conn:
            tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"tds_sync_queue", "tds_dead_letter_queue", "customers", "branches", "alembic_version"} <= tables
        assert len(tables) == 21
        assert migrations.downgrade(scratch_url, sandbox.migrations_dir, "base") == (HEAD, None)
        with psycopg.connect(scratch_url) as conn:
            left = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
            types = conn.execute("SELECT count(*) FROM pg_type WHERE typname LIKE 'tds_%'").fetchone()[0]
        assert (left, types) == ({"alembic_version"}, 0)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_migration_behind_is_a_real_downgrade_and_migrate_a_real_upgrade(sandbox: Sandbox, query) -> None:
    sandbox.apply_fault("migration-behind")
    assert query("SELECT version_num FROM alembic_version") == [{"version_num": INITIAL}]
    assert not has_claim_index(query)
    assert sandbox.faults() == ["migration-behind"]
    migrated = cli(sandbox, "migrate")
    assert (migrated.returncode, migrated.stdout) == (0, f"database migrated from {INITIAL} to {HEAD}\n")
    assert has_claim_index(query)
    assert sandbox.faults() == []
    again = cli(sandbox, "migrate")
    assert (again.returncode, again.stdout) == (0, f"database already at head {HEAD}\n")


def test_migration_heads_gives_the_home_copy_two_heads_and_reset_removes_it(sandbox: Sandbox, query) -> None:
    sandbox.apply_fault("migration-heads")
    sandbox.apply_fault("migration-heads")  # idempotent
    directory = sandbox.migrations_dir
    script = ScriptDirectory(str(directory))
    assert sorted(script.get_heads()) == sorted([HEAD, BRANCH_REVISION])
    assert script.get_revision(BRANCH_REVISION).down_revision == INITIAL
    assert ScriptDirectory(str(migrations.SCRIPT_DIR)).get_heads() == [HEAD]  # the packaged directory is untouched
    assert query("SELECT version_num FROM alembic_version") == [{"version_num": HEAD}]
    assert sandbox.faults() == ["migration-heads"]
    refused = cli(sandbox, "migrate")
    assert refused.returncode == 2
    assert refused.stderr.startswith("sandbox: migration failed: Multiple head revisions are present")
    assert len(refused.stderr.splitlines()) == 1
    sandbox.reset()
    assert ScriptDirectory(str(directory)).get_heads() == [HEAD]
    assert not list(directory.glob(f"{BRANCH_REVISION}*")) and not list(directory.glob(f"versions/{BRANCH_REVISION}*"))
    assert sandbox.faults() == []


def test_destructive_migration_adds_a_head_that_drops_a_column_and_reset_removes_it(sandbox: Sandbox, query) -> None:
    sandbox.apply_fault("destructive-migration")
    sandbox.apply_fault("destructive-migration")  # idempotent
    directory = sandbox.migrations_dir
    script = ScriptDirectory(str(directory))
    assert script.get_heads() == [DESTRUCTIVE_REVISION]
    added = script.get_revision(DESTRUCTIVE_REVISION)
    assert (added.down_revision, Path(added.path).name) == (HEAD, f"{DESTRUCTIVE_REVISION}_drop_customer_phone.py")
    assert 'op.drop_column("customers", "phone")' in Path(added.path).read_text(encoding="utf-8")
    assert ScriptDirectory(str(migrations.SCRIPT_DIR)).get_heads() == [HEAD]  # the packaged directory is untouched
    # The database stays at the old head: the drop is pending, not done; the fault is not migration-behind.
    assert query("SELECT version_num FROM alembic_version") == [{"version_num": HEAD}]
    assert query("SELECT 1 AS present FROM information_schema.columns WHERE column_name = 'phone'")
    assert sandbox.faults() == ["destructive-migration"]
    sandbox.reset()
    assert ScriptDirectory(str(directory)).get_heads() == [HEAD]
    assert not list(directory.glob(f"versions/{DESTRUCTIVE_REVISION}*"))
    assert not list(directory.glob(f"versions/__pycache__/{DESTRUCTIVE_REVISION}*"))
    assert sandbox.faults() == []


@pytest.mark.parametrize("spec", ["migration-behind", "migration-heads", "destructive-migration"])
def test_fault_clear_and_reset_undo_the_migration_faults(sandbox: Sandbox, spec: str) -> None:
    sandbox.apply_fault(spec)
    sandbox.clear_faults()
    sandbox.reset()
    assert sandbox.faults() == []
    assert migrations.heads(sandbox.migrations_dir) == [HEAD]
    assert migrations.database_revisions(sandbox.db_url) == [HEAD]
