"""Runs against targets other than the default: production rules, and selection errors."""

from __future__ import annotations

import json

import psycopg
from expected import DELIVERY_CHECK_FILES, HEALTH, LATENCY, ROUTES, WEBHOOKS_HEALTH, route_served
from suite_runner import WEBHOOK_KEY, run_suite, suite_env

from fixtures.inventory import PROJECT_ROOT


def production_like_target(tmp_path):
    """The shipped production rules, pointed at the sandbox's addresses."""
    text = (PROJECT_ROOT / "targets" / "production.toml").read_text(encoding="utf-8")
    text = text.replace("${PRODUCTION_BASE_URL:-https://erp.tsh.sale}", "${TSH_SANDBOX_BASE_URL}")
    text = text.replace("${PRODUCTION_DB_URL}", "${TSH_SANDBOX_DB_URL}")
    text = text.replace("completion_timeout_seconds = 300", "completion_timeout_seconds = 5")
    path = tmp_path / "production-like.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_production_skips_mutating_checks_and_runs_the_rest(healthy_sandbox, tmp_path):
    run = run_suite(
        healthy_sandbox,
        tmp_path / "reports",
        *DELIVERY_CHECK_FILES,
        "-m",
        "production",
        f"--target={production_like_target(tmp_path)}",
        "-rs",
    )
    assert run.exit_code == 0, run.output
    assert run.findings["target"] == "production"
    expected_passed = [HEALTH, LATENCY, WEBHOOKS_HEALTH] + [route_served(e) for e in ROUTES]
    assert run.findings["summary"] == {"passed": len(expected_passed), "failed": 0, "healed": 0}
    assert "does not allow mutating checks (checks.allow_mutating = false)" in run.output
    assert f"{2 * len(ROUTES)} skipped" in run.output


def test_production_heal_needs_approval_even_for_safe_steps(healthy_sandbox, tmp_path):
    target = production_like_target(tmp_path)
    # Production heals nothing on its own: max_risk_without_approval = "none".
    text = target.read_text(encoding="utf-8").replace("allow_mutating = false", "allow_mutating = true")
    state = "${TSH_SANDBOX_STATE}"
    sandbox_cli = json.dumps(
        ["${TSH_SANDBOX_PYTHON}", "-m", "sandbox", "service", "{operation}", "worker", "--state", state]
    )
    text = text.replace('binding = "docker"', f'binding = "command"\nargv = {sandbox_cli}')
    target.write_text(text.replace('name = "${ACTIVE_APP_CONTAINER:-tsh_erp_app_blue}"', 'name = "worker"'))
    healthy_sandbox.service("worker", "stop")
    heal = ["-m", "production", "-k", "reaches_completed", f"--target={target}", "--heal"]
    env = {**suite_env(healthy_sandbox), "WEBHOOK_API_KEY": WEBHOOK_KEY}
    try:
        run = run_suite(healthy_sandbox, tmp_path / "reports", *heal, env=env)
        # Approved, the restart still changes production only after a backup step of the same heal:
        # H11 has none, so its read-only diagnostic runs and the restart is refused.
        approved = run_suite(healthy_sandbox, tmp_path / "approved", *heal, "--heal-approve", "H11", env=env)
    finally:
        status = healthy_sandbox.status()["worker"]
        healthy_sandbox.reset()
    assert run.exit_code == 1, run.output
    assert status == "stopped"
    decisions = {(entry["action"], entry["decision"]) for entry in run.ledger()}
    assert decisions == {("sql", "needs_approval"), ("service", "needs_approval")}, run.output
    assert approved.exit_code == 1, approved.output
    assert [(e["action"], e["decision"], e["result"]) for e in approved.ledger()] == [
        ("sql", "run", "ok"), ("service", "no_verified_backup", "skipped"),
    ], approved.output  # fmt: skip
    assert "no_verified_backup (production changes only after a verified backup: no backup_database step runs " \
        "before this step in this heal)" in approved.output  # fmt: skip


def _tds_rows(sandbox) -> tuple[int, int]:
    with psycopg.connect(sandbox.db_url, connect_timeout=5) as db:
        inbox = db.execute("SELECT count(*) FROM tds_inbox_events").fetchone()[0]
        queue = db.execute("SELECT count(*) FROM tds_sync_queue").fetchone()[0]
    return inbox, queue


WITHHELD = "and no mutating check is selected, so no webhook probe is posted: nothing to measure"


def test_a_run_without_mutating_checks_posts_nothing(healthy_sandbox, tmp_path):
    before = _tds_rows(healthy_sandbox)
    run = run_suite(healthy_sandbox, tmp_path / "reports", "-m", "staging and not mutating", "-rs")
    assert run.exit_code == 0, run.output
    assert _tds_rows(healthy_sandbox) == before
    # The queue measures that would rest on the suite's own probes measure real traffic; the
    # sandbox has none, so they say why they are skipped.
    assert f"no settled webhook event in the last 24 h {WITHHELD}" in run.output
    assert f"no settled sync event in the last 24 h {WITHHELD}" in run.output
    assert f"no product queue row completed in the last 24 h {WITHHELD}" in run.output
    assert not any("test_webhook_delivery" in f["nodeid"] for f in run.findings["failures"])
