"""The backup checks in the whole production stage, run against the sandbox as production.

The sandbox's backups directory holds one fresh ``pg_dump -Fc`` dump: the
healthy stage passes, its restore goes into a scratch database of the sandbox's
cluster that is gone after the run, and no row of the database changes. Each
backup fault fails exactly its check(s) with kind, H29 and root cause; with
``backup-missing``, the approved heal makes a new dump through the target's
``backup_database`` command and the re-run restores it.
"""

from __future__ import annotations

import re

import pytest
from production_stage import passed, production_with_sandbox_commands, run_sql, table_fingerprints

from fixtures.inventory import TARGETS_DIR

BACKUPS = "suites/backup/test_backups.py"
FRESH = f"{BACKUPS}::test_newest_pre_deploy_dump_exists_and_is_fresh"
RESTORES = f"{BACKUPS}::test_newest_pre_deploy_dump_restores"
RETENTION = f"{BACKUPS}::test_pre_deploy_dumps_are_kept_within_retention"
DUMP_NAME = re.compile(r"pre_deploy_\d{8}_\d{6}\.dump")


def scratch_databases(sandbox) -> list[str]:
    """Databases of the sandbox's cluster a restore check created (and must have dropped)."""
    return [name for (name,) in run_sql(sandbox, "SELECT datname FROM pg_database WHERE datname LIKE 'tsh_restore%'")]


def dump_names(sandbox) -> list[str]:
    return sorted(path.name for path in sandbox.backups_dir.iterdir())


def test_healthy_sandbox_passes_the_backup_checks_restores_into_a_scratch_database_and_writes_nothing(
    production, healthy_sandbox
):
    before = table_fingerprints(healthy_sandbox)
    [dump] = dump_names(healthy_sandbox)
    run = production("-rA")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert {FRESH, RESTORES, RETENTION} <= passed(run)
    assert scratch_databases(healthy_sandbox) == []
    assert dump_names(healthy_sandbox) == [dump] and DUMP_NAME.fullmatch(dump)
    assert table_fingerprints(healthy_sandbox) == before


# fault -> {node id: (kind, recipe, root cause)} of the whole production stage, and evidence that must hold
BACKUP_FAULTS = {
    "backup-missing": {FRESH: ("missing", "H29", None), RESTORES: ("missing", "H29", FRESH)},
    "backup-stale:30": {FRESH: ("stale", "H29", None)},
    "backup-corrupt": {RESTORES: ("contract", "H29", None)},
    "backup-too-many:3": {RETENTION: ("config", "H29", None)},
}


@pytest.mark.parametrize("fault", list(BACKUP_FAULTS))
def test_backup_fault_fails_exactly_its_checks_in_the_whole_production_stage(production, healthy_sandbox, fault):
    healthy_sandbox.apply_fault(fault)
    assert healthy_sandbox.faults() == [fault]
    before = table_fingerprints(healthy_sandbox)
    run = production()
    assert run.exit_code == 1, run.output
    assert run.outcomes() == BACKUP_FAULTS[fault]
    assert scratch_databases(healthy_sandbox) == []
    assert table_fingerprints(healthy_sandbox) == before


def test_each_backup_fault_names_its_dumps_in_the_evidence(production, healthy_sandbox):
    for fault in ("backup-stale:30", "backup-too-many:3"):
        healthy_sandbox.apply_fault(fault)
    [newest, *older] = sorted(dump_names(healthy_sandbox), reverse=True)
    run = production(BACKUPS)
    assert run.outcomes() == {FRESH: ("stale", "H29", None), RETENTION: ("config", "H29", None)}
    assert run.evidence(FRESH) == {"dump": newest, "age_hours": 30.0, "limit_hours": 24.0}
    assert run.evidence(RETENTION) == {"count": 13, "limit": 10, "beyond_limit": older[-3:], "limit_days": 30.0}
    healthy_sandbox.reset()
    healthy_sandbox.apply_fault("backup-corrupt")
    run = production(BACKUPS)
    [dump] = dump_names(healthy_sandbox)
    assert run.evidence(RESTORES) == {
        "dump": dump,
        "exit_status": 1,
        "error": "pg_restore: error: input file does not appear to be a valid archive",
    }


def test_production_heals_a_missing_backup_only_when_approved_and_the_new_dump_restores(
    production, healthy_sandbox, tmp_path
):
    target = str(production_with_sandbox_commands(tmp_path))
    healthy_sandbox.apply_fault("backup-missing")
    before = table_fingerprints(healthy_sandbox)

    # Production runs no step without approval, safe ones included.
    run = production(BACKUPS, "--heal", target=target)
    assert run.exit_code == 1, run.output
    assert [(e["action"], e["decision"]) for e in run.ledger()] == [("command", "needs_approval")]
    assert dump_names(healthy_sandbox) == []

    run = production("--heal", "--heal-approve", "H29", target=target)
    assert run.exit_code == 0, run.output
    assert run.outcomes() == BACKUP_FAULTS["backup-missing"]
    assert {f["nodeid"]: (f["healed"], f["heal_note"]) for f in run.findings["failures"]} == {
        FRESH: (True, "re-run passed"),
        RESTORES: (True, "re-run passed"),
    }
    [backup_step] = [e for e in run.ledger() if e["action"] == "command"]
    [dump] = dump_names(healthy_sandbox)
    assert (backup_step["decision"], backup_step["result"]) == ("run", "ok")
    assert backup_step["description"] == f"command backup_database (stamp={dump.removeprefix('pre_deploy_')[:-5]})"
    assert scratch_databases(healthy_sandbox) == []
    assert table_fingerprints(healthy_sandbox) == before


def test_without_a_scratch_database_the_restore_is_skipped_and_a_plain_dump_needs_its_completion_marker(
    production, healthy_sandbox, tmp_path
):
    text = (TARGETS_DIR / "production.toml").read_text(encoding="utf-8")
    scratch = 'scratch_url = "${PRODUCTION_BACKUP_SCRATCH_DB_URL:-}"'
    assert text.count(scratch) == 1
    target = tmp_path / "production-no-scratch.toml"
    target.write_text(text.replace(scratch, 'scratch_url = ""'), encoding="utf-8")
    [dump] = dump_names(healthy_sandbox)
    run = production(BACKUPS, "-rs", target=str(target))
    assert run.exit_code == 0, run.output
    assert re.search(
        rf"SKIPPED \[1\] {BACKUPS}:\d+: pg_restore --list reads \d+ entries of {dump}; "
        r"not restored: no scratch database configured \(\[backup\] scratch_url\)",
        run.output,
    ), run.output

    plain = healthy_sandbox.backups_dir / dump.replace(".dump", ".sql")
    plain.write_text("-- PostgreSQL database dump\n\nCREATE TABLE cut_off (id integer);\n", encoding="utf-8")
    run = production(BACKUPS)
    assert run.outcomes() == {RESTORES: ("contract", "H29", None)}
    assert run.evidence(RESTORES) == {"dump": plain.name, "size_bytes": plain.stat().st_size}
    with plain.open("a", encoding="utf-8") as stream:
        stream.write("\n--\n-- PostgreSQL database dump complete\n--\n\n")
    assert production(BACKUPS).exit_code == 0
