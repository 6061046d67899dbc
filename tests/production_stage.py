"""The whole production stage against the sandbox as production: its variables, its traffic, and proof of no writes.

The shipped ``targets/production.toml`` runs with its variables pointed at the
sandbox (database, app, Zoho simulator, env file, migrations, backups, the app's
port and log, a 3 x 1 s post-deploy window) and its hosts block swapped for the
sandbox's processes (``tests/host_stage.py``), so every production rule holds:
read-only sessions, no probe, no step without approval. A production database
has a day of real traffic, which the production stage's queue measures read;
the sandbox gets one settled event per TDS entity (:data:`SETTLED_TRAFFIC_SQL`).
The ``production`` fixture of ``tests/conftest.py`` runs it.
"""

from __future__ import annotations

import json
import re

import psycopg
from psycopg import sql
from suite_runner import SuiteRun, suite_env

from fixtures.inventory import TARGETS_DIR


def production_env(sandbox, tmp_path) -> dict[str, str]:
    """The variables of targets/production.toml, pointed at the sandbox."""
    env = suite_env(sandbox)
    deploy_dir = tmp_path / "deploy"
    deploy_dir.mkdir()
    (deploy_dir / ".env.production").symlink_to(env["TSH_SANDBOX_ENV_FILE"])
    zoho = env["TSH_SANDBOX_ZOHO_URL"]
    return {
        **env,
        # The public URL is nginx's HTTPS port, verified against the sandbox's CA, as erp.tsh.sale is on production.
        "PRODUCTION_BASE_URL": env["TSH_SANDBOX_PUBLIC_URL"],
        "PRODUCTION_PUBLIC_URL": env["TSH_SANDBOX_PUBLIC_URL"],
        "PRODUCTION_PUBLIC_HTTP_URL": env["TSH_SANDBOX_PUBLIC_HTTP_URL"],
        "PRODUCTION_CA_FILE": env["TSH_SANDBOX_CA_FILE"],
        "PRODUCTION_NGINX_SITE": env["TSH_SANDBOX_NGINX_SITE"],
        "PRODUCTION_BLUE_URL": env["TSH_SANDBOX_BLUE_URL"],
        "PRODUCTION_GREEN_URL": env["TSH_SANDBOX_GREEN_URL"],
        "PRODUCTION_DB_URL": env["TSH_SANDBOX_DB_URL"],
        "PRODUCTION_SSH_HOST": "local://",
        "PRODUCTION_DEPLOY_DIR": str(deploy_dir),
        "PRODUCTION_API_TOKEN": env["TSH_SANDBOX_API_TOKEN"],
        "PRODUCTION_BACKUP_DIR": env["TSH_SANDBOX_BACKUP_DIR"],
        "PRODUCTION_BACKUP_SCRATCH_DB_URL": env["TSH_SANDBOX_SCRATCH_DB_URL"],
        # The hosts block (tests/host_stage.py) and the post-deploy window, 3 polls 1 s apart.
        "PRODUCTION_APP_LOG": env["TSH_SANDBOX_APP_LOG"],
        "POST_DEPLOY_POLLS": "3",
        "POST_DEPLOY_INTERVAL_SECONDS": "1",
        "WEBHOOK_API_KEY": env["TSH_SANDBOX_WEBHOOK_KEY"],
        "TSH_ERP_ALEMBIC_VERSIONS": env["TSH_SANDBOX_MIGRATIONS_DIR"],
        # The deployed checkout (its commits signed by the sandbox's key) and the staging run of its commit.
        "TSH_SOURCE_DIR": env["TSH_SANDBOX_SOURCE_DIR"],
        "STAGING_FINDINGS": env["TSH_SANDBOX_STAGING_FINDINGS"],
        "PRODUCTION_REQUIRE_SIGNED_COMMITS": "true",
        "ZOHO_ACCOUNTS_URL": zoho,
        "ZOHO_BOOKS_API_URL": f"{zoho}/books/v3",
        "ZOHO_INVENTORY_API_URL": f"{zoho}/inventory/v1",
        "ZOHO_CLIENT_ID": env["TSH_SANDBOX_ZOHO_CLIENT_ID"],
        "ZOHO_CLIENT_SECRET": env["TSH_SANDBOX_ZOHO_CLIENT_SECRET"],
        "ZOHO_REFRESH_TOKEN": env["TSH_SANDBOX_ZOHO_REFRESH_TOKEN"],
        "ZOHO_ORGANIZATION_ID": env["TSH_SANDBOX_ZOHO_ORGANIZATION_ID"],
    }


# One settled event per TDS entity an hour ago, completed in 2 s: real traffic, not probes.
SETTLED_TRAFFIC_SQL = """
WITH events AS (
    INSERT INTO tds_inbox_events (source_type, entity_type, source_entity_id, raw_payload, received_at, moved_to_queue)
    SELECT 'zoho', entity::tds_entity_type, 'sandbox-traffic-' || entity, '{}', now() - interval '1 hour', true
    FROM unnest(%(entities)s::text[]) AS entity
    RETURNING id, entity_type, source_entity_id, received_at
)
INSERT INTO tds_sync_queue (inbox_event_id, entity_type, source_entity_id, operation_type, validated_payload,
                            status, attempt_count, created_at, started_at, completed_at)
SELECT id, entity_type, source_entity_id, 'update', '{}', 'completed', 1,
       received_at, received_at, received_at + interval '2 seconds'
FROM events
"""


def run_sql(sandbox, statement: str | sql.Composed, params: dict | None = None, *, options: str = "") -> list[tuple]:
    with psycopg.connect(sandbox.db_url, connect_timeout=5, autocommit=True, options=options) as db:
        cursor = db.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


def table_fingerprints(sandbox) -> dict[str, str]:
    """table -> md5 of all its rows: any insert, update or delete changes it."""
    tables = run_sql(sandbox, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
    fingerprint = sql.SQL("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} AS t")
    return {name: run_sql(sandbox, fingerprint.format(sql.Identifier(name)))[0][0] for (name,) in tables}


def passed(run: SuiteRun) -> set[str]:
    """Node ids the run reports as passed (``-rA``)."""
    return {line.split()[1] for line in run.output.splitlines() if line.startswith("PASSED ")}


def production_with_sandbox_commands(tmp_path):
    """The shipped production inventory whose backup and switch commands are the sandbox's (no docker, no ssh)."""
    text = (TARGETS_DIR / "production.toml").read_text(encoding="utf-8")
    sandbox_cli = ["${TSH_SANDBOX_PYTHON}", "-m", "sandbox"]
    state = ["--state", "${TSH_SANDBOX_STATE}"]
    backup = [*sandbox_cli, "backup", *state, "--stamp", "{stamp}"]
    replacements = {
        r'^argv = \["docker", "exec", "tsh_postgres", "pg_dump".*$': backup,
        r'^argv = \["bash", ".*switch_slot\.sh", "\{slot\}"\]$': [*sandbox_cli, "switch-slot", *state, "{slot}"],
    }
    for pattern, argv in replacements.items():
        compiled = re.compile(pattern, re.MULTILINE)
        assert len(compiled.findall(text)) == 1, pattern
        text = compiled.sub(f"argv = {json.dumps(argv)}", text)
    path = tmp_path / "production-sandbox-commands.toml"
    path.write_text(text, encoding="utf-8")
    return path
