"""The migration preview in the production stage, run against the sandbox as production.

At the head nothing would run and the check passes; one revision behind, the
preview is the claim index's SQL and only the revision check fails; a pending
revision that drops a column fails the preview as the root of the drift (H44,
manual steps only: approving H19 migrates nothing), unless the inventory
acknowledges that revision; with two heads there is no upgrade to preview.
"""

from __future__ import annotations

import pytest
from expected import REVISION
from production_stage import passed, run_sql
from suite_runner import assert_no_secret_in

from fixtures.inventory import PROJECT_ROOT
from sandbox import migrations
from sandbox.faults.data import BRANCH_REVISION, DESTRUCTIVE_REVISION

PREVIEW = "suites/database/test_migration_preview.py::test_pending_migrations_are_not_destructive"
INITIAL, HEAD = "f0e1d2c3b4a5", "a1b2c3d4e5f6"
DESTRUCTIVE_FILE = f"{DESTRUCTIVE_REVISION}_drop_customer_phone.py"
TITLE = "-- TSH ERP migration preview of production"


def preview(run) -> str:
    return (run.reports_dir / "migration_preview.sql").read_text(encoding="utf-8")


def customer_columns(sandbox) -> set[str]:
    query = "SELECT column_name FROM information_schema.columns WHERE table_name = 'customers'"
    return {name for (name,) in run_sql(sandbox, query)}


def test_at_the_head_nothing_would_run_and_the_whole_stage_passes(production):
    run = production("-rA")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert PREVIEW in passed(run)
    assert preview(run) == f"{TITLE}\n-- The database is at the head {HEAD}: nothing would run.\n"


def test_one_revision_behind_the_preview_is_the_claim_index_and_only_the_revision_check_fails(
    production, healthy_sandbox
):
    healthy_sandbox.apply_fault("migration-behind")
    run = production("-rA")
    assert run.exit_code == 1, run.output
    assert run.outcomes() == {REVISION: ("drift", "H19", None)}
    assert PREVIEW in passed(run)
    assert preview(run) == "\n".join([
        TITLE,
        f"-- alembic upgrade {INITIAL}:head --sql: rendered offline from the deployed revisions; nothing was run.",
        "-- pending revisions: 1, their statements: 2",
        f"--   {HEAD} ({HEAD}_queue_claim_index.py)",
        "",
        "BEGIN;",
        "",
        f"-- Running upgrade {INITIAL} -> {HEAD}",
        "",
        "CREATE INDEX ix_tds_sync_queue_claim ON tds_sync_queue (status, next_retry_at, priority, created_at);",
        "",
        "UPDATE alembic_version SET version_num='a1b2c3d4e5f6' WHERE alembic_version.version_num = 'f0e1d2c3b4a5';",
        "",
        "COMMIT;",
        "",
    ])  # fmt: skip


def test_a_pending_dropped_column_is_the_root_of_the_drift_and_approving_the_migrate_step_runs_nothing(
    production, healthy_sandbox
):
    healthy_sandbox.apply_fault("destructive-migration")
    assert healthy_sandbox.faults() == ["destructive-migration"]
    run = production("--heal", "--heal-approve", "H19")
    assert run.exit_code == 1, run.output
    assert run.outcomes() == {
        PREVIEW: ("destructive", "H44", None),
        REVISION: ("drift", "H44", PREVIEW),
    }
    assert run.evidence(PREVIEW) == {
        "database_revision": HEAD,
        "head": DESTRUCTIVE_REVISION,
        "pending_revisions": [DESTRUCTIVE_REVISION],
        "statements": 2,
        "destructive": [
            {
                "statement": "ALTER TABLE DROP COLUMN",
                "object": "customers.phone",
                "revision": DESTRUCTIVE_REVISION,
                "file": DESTRUCTIVE_FILE,
            }
        ],
        "preview": "migration_preview.sql",
    }
    text = preview(run)
    verdict = f"-- destructive: ALTER TABLE DROP COLUMN customers.phone (revision {DESTRUCTIVE_REVISION}), "
    verdict += "NOT acknowledged"
    assert f"\n{verdict}\n" in text
    assert "ALTER TABLE customers DROP COLUMN phone;" in text
    # The drift carries H44's manual steps: H19's migrate step is not planned even though H19 is approved.
    assert [entry for entry in run.ledger() if entry["action"] == "command"] == []
    assert "migrate_database" not in (run.reports_dir / "auto_healing_suggestions.txt").read_text(encoding="utf-8")
    assert migrations.database_revisions(healthy_sandbox.db_url) == [HEAD]
    assert "phone" in customer_columns(healthy_sandbox)
    assert_no_secret_in(run, healthy_sandbox)


@pytest.fixture
def acknowledging_target(tmp_path):
    """targets/production.toml with the destructive revision acknowledged, as a reviewed release would."""
    text = (PROJECT_ROOT / "targets" / "production.toml").read_text(encoding="utf-8")
    path = tmp_path / "production-acknowledged.toml"
    acknowledgement = f'{DESTRUCTIVE_REVISION} = "phone numbers moved to contacts in 2.4; backup OPS-311"'
    path.write_text(f"{text}\n[database.migrations.acknowledged_destructive]\n{acknowledgement}\n", encoding="utf-8")
    return path


def test_an_acknowledged_destructive_revision_passes_the_preview_and_leaves_the_drift_to_h19(
    production, healthy_sandbox, acknowledging_target
):
    healthy_sandbox.apply_fault("destructive-migration")
    run = production("suites/database", "-rA", target=str(acknowledging_target))
    assert run.exit_code == 1, run.output
    assert run.outcomes() == {REVISION: ("drift", "H19", None)}
    assert PREVIEW in passed(run)
    assert (
        f"-- destructive: ALTER TABLE DROP COLUMN customers.phone (revision {DESTRUCTIVE_REVISION}), "
        "acknowledged: phone numbers moved to contacts in 2.4; backup OPS-311\n"
    ) in preview(run)


def test_with_two_heads_there_is_no_upgrade_to_preview_and_the_revision_check_names_them(production, healthy_sandbox):
    healthy_sandbox.apply_fault("migration-heads")
    run = production("suites/database", "-rs")
    assert run.exit_code == 1, run.output
    assert run.outcomes() == {REVISION: ("multiple_heads", "H42", None)}
    reason = "the migrations have 2 heads, so there is no single upgrade to preview"
    assert f"{reason} (test_database_revision_is_head reports why)" in run.output
    assert preview(run) == f"{TITLE}\n-- Not previewed: {reason} (test_database_revision_is_head reports why).\n"
    assert run.evidence(REVISION)["heads"] == sorted([HEAD, BRANCH_REVISION])
