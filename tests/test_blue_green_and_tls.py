"""Blue/green behind the sandbox's real nginx, TLS and the public URLs, in the whole production stage.

The production stage runs the shipped ``targets/production.toml`` with its base URL on the
sandbox's nginx (HTTPS, the sandbox CA passed as ``PRODUCTION_CA_FILE``): the healthy sandbox
passes and writes nothing; each front fault fails exactly its checks of the whole stage, with
kind, recipe and root cause; a stopped active slot is rolled back by H17 only when approved:
a backup first, then the switch to the other slot, verified through nginx.
"""

from __future__ import annotations

import json
import re
import ssl
from pathlib import Path

import httpx
import pytest
from production_stage import passed, production_with_sandbox_commands, table_fingerprints

DEPLOY = "suites/deploy/test_blue_green.py"
EXTERNAL = "suites/external/test_public_urls.py"
AGREE = f"{DEPLOY}::test_active_slot_records_agree"
HEALTHY = f"{DEPLOY}::test_active_slot_is_healthy"
SERVED = f"{DEPLOY}::test_public_url_is_served_by_the_active_slot"
IDLE = f"{DEPLOY}::test_idle_slot_state_is_recorded"
ANSWERS = f"{EXTERNAL}::test_public_url_answers[erp]"
DAYS_LEFT = f"{EXTERNAL}::test_certificate_has_enough_days_left[erp]"
TRUSTED = f"{EXTERNAL}::test_certificate_chain_is_trusted[erp]"
HSTS = f"{EXTERNAL}::test_hsts_is_sent[erp]"
REDIRECT = f"{EXTERNAL}::test_http_redirects_to_https"
ROUTES = ("products", "customers", "invoices", "orders", "stock", "prices", "payments", "vendors", "users")

# Everything the public base URL (nginx -> blue) serves fails with blue: rooted under the active slot's check.
BEHIND_BLUE = {
    SERVED: "http_status",
    ANSWERS: "http_status",
    "suites/api/test_health.py::test_health_reports_healthy[public]": "http_status",
    "suites/api/test_health.py::test_health_latency_within_limit[public]": "http_status",
    "suites/api/test_openapi_operations.py::test_get_operation_answers[openapi.json]": "contract",
    "suites/webhooks/test_webhook_routes.py::test_webhooks_health_endpoint_reports_healthy": "http_status",
    **{f"suites/webhooks/test_webhook_routes.py::test_webhook_route_served[{name}]": "http_status" for name in ROUTES},
    # Blue is the host's app service: its process and port checks say the same, under the rollback recipe.
    "suites/hosts/test_hosts.py::test_host_service_running[sandbox-app]": "not_running",
    "suites/hosts/test_hosts.py::test_host_port_listening[sandbox-app]": "not_running",
}
FRONT_FAULTS = {
    "slot-down:blue": {
        HEALTHY: ("unreachable", "H17", None),
        **{nodeid: (kind, "H17", HEALTHY) for nodeid, kind in BEHIND_BLUE.items()},
    },
    # Two independent roots in one run (each its own root, nothing explained): the records disagree; 3 days left.
    "slot-mismatch cert-expiring:3": {AGREE: ("drift", "H45", None), DAYS_LEFT: ("expiring", "H16", None)},
    # The idle slot stopped is recorded, not judged; 30 days left is above the 14-day limit.
    "slot-down:green cert-expiring:30": {},
}


def served_by(sandbox) -> tuple[int, str | None]:
    """Status and X-TSH-Slot of GET /health through nginx's HTTPS port, verified against the sandbox CA."""
    env = sandbox.env()
    context = ssl.create_default_context(cafile=env["TSH_SANDBOX_CA_FILE"])
    answer = httpx.get(f"{env['TSH_SANDBOX_PUBLIC_URL']}/health", verify=context, timeout=5.0)
    return answer.status_code, answer.headers.get("X-TSH-Slot")


def active_slot_records(sandbox) -> tuple[str | None, str | None]:
    """(site file's slot, env file's ACTIVE_DEPLOYMENT_SLOT)."""
    text = Path(sandbox.env()["TSH_SANDBOX_ENV_FILE"]).read_text(encoding="utf-8")
    recorded = re.search(r'^ACTIVE_DEPLOYMENT_SLOT="?(\w+)"?$', text, re.MULTILINE)
    return sandbox.front.site_slot(), recorded.group(1) if recorded else None


def test_healthy_front_passes_every_deploy_and_external_check_and_writes_nothing(production, healthy_sandbox):
    before = table_fingerprints(healthy_sandbox)
    run = production("-rA")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert {AGREE, HEALTHY, SERVED, IDLE, ANSWERS, DAYS_LEFT, TRUSTED, HSTS, REDIRECT} <= passed(run)
    assert "suites/api/test_health.py::test_health_reports_healthy[public]" in passed(run)
    report = (run.reports_dir / "blue_green_report.txt").read_text(encoding="utf-8")
    assert "active slot blue: healthy" in report and "idle slot green: healthy" in report
    assert served_by(healthy_sandbox) == (200, "blue")
    assert table_fingerprints(healthy_sandbox) == before


@pytest.mark.parametrize("faults", list(FRONT_FAULTS))
def test_front_fault_fails_exactly_its_checks_in_the_whole_production_stage(production, healthy_sandbox, faults):
    for fault in faults.split():
        healthy_sandbox.apply_fault(fault)
    assert sorted(healthy_sandbox.faults()) == sorted(
        [*faults.split(), *(["backend-down"] if faults == "slot-down:blue" else [])]
    )
    before = table_fingerprints(healthy_sandbox)
    run = production()
    assert run.outcomes() == FRONT_FAULTS[faults], json.dumps(run.outcomes(), indent=1)
    assert run.exit_code == (1 if FRONT_FAULTS[faults] else 0), run.output
    if "slot-mismatch" in faults.split():
        assert {key: run.evidence(AGREE)[key] for key in ("site_slot", "env_slot")} == {
            "site_slot": "blue", "env_slot": "green",
        }  # fmt: skip
    if "cert-expiring:3" in faults.split():
        evidence = run.evidence(DAYS_LEFT)
        assert round(evidence["days_left"]) == 3 and evidence["min_days_left"] == 14.0
    if faults == "slot-down:blue":
        assert {key: run.evidence(HEALTHY)[key] for key in ("active_slot", "other_slot")} == {
            "active_slot": "blue", "other_slot": "green",
        }  # fmt: skip
    if faults == "slot-down:green cert-expiring:30":
        report = (run.reports_dir / "blue_green_report.txt").read_text(encoding="utf-8")
        assert "idle slot green: unreachable" in report
    assert table_fingerprints(healthy_sandbox) == before


def test_rollback_of_a_stopped_active_slot_runs_only_when_approved_backs_up_then_switches_and_verifies(
    production, healthy_sandbox, tmp_path
):
    target = str(production_with_sandbox_commands(tmp_path))
    healthy_sandbox.apply_fault("slot-down:blue")
    [dump] = sorted(path.name for path in healthy_sandbox.backups_dir.iterdir())

    # Production runs no step without approval: nothing is switched, nothing is dumped (the deploy checks suffice).
    run = production(DEPLOY, "--heal", target=target)
    assert run.exit_code == 1, run.output
    assert {(e["action"], e["decision"]) for e in run.ledger()} <= {("command", "needs_approval"), ("manual", "manual")}
    assert ("command", "needs_approval") in {(e["action"], e["decision"]) for e in run.ledger()}
    assert active_slot_records(healthy_sandbox) == ("blue", "blue")
    assert sorted(path.name for path in healthy_sandbox.backups_dir.iterdir()) == [dump]

    run = production("--heal", "--heal-approve", "H17", target=target)
    assert run.exit_code == 0, run.output
    assert run.outcomes() == FRONT_FAULTS["slot-down:blue"]
    assert all(f["healed"] for f in run.findings["failures"]), run.findings["failures"]
    ledger = run.ledger()
    commands = [(e["description"].split()[1], e["decision"], e["result"]) for e in ledger if e["action"] == "command"]
    assert commands == [("backup_database", "run", "ok"), ("switch_slot", "run", "ok")]
    [switch] = [e for e in run.ledger() if e["description"].startswith("command switch_slot")]
    assert switch["description"] == "command switch_slot (slot=green)"
    assert active_slot_records(healthy_sandbox) == ("green", "green")
    assert served_by(healthy_sandbox) == (200, "green")
    assert healthy_sandbox.status()["app"] == "stopped"  # the failed slot is left for inspection
    assert len(list(healthy_sandbox.backups_dir.iterdir())) == 2
