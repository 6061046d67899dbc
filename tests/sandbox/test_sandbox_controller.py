"""Sandbox life cycle, services and the effect of every fault, on real processes."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

import sandbox.postgres
from sandbox import FAULT_NAMES, Sandbox, SandboxError
from sandbox.controller import runtime_root
from sandbox.facts import WEBHOOK_ROUTES
from sandbox.postgres import SERVER_BINARIES
from sandbox.provision import api_token


def test_start_publishes_addresses_and_keeps_secrets_private(sandbox: Sandbox, db_password: str) -> None:
    assert sandbox.status() == {
        "postgres": "running", "app": "running", "green": "running", "worker": "running", "zoho": "running",
        "front": "running",
    }  # fmt: skip
    assert sandbox.is_running()
    ports = json.loads(sandbox.state_file.read_text())["ports"]
    port = ports["postgres"]
    assert sandbox.db_url == f"postgresql://tsh_app:{db_password}@127.0.0.1:{port}/tsh_erp"
    zoho = json.loads((sandbox.home / "zoho.json").read_text())
    assert sandbox.env() == {
        "TSH_SANDBOX_STATE": str(sandbox.state_file),
        "TSH_SANDBOX_BASE_URL": sandbox.base_url,
        "TSH_SANDBOX_DB_URL": sandbox.db_url,
        "TSH_SANDBOX_WEBHOOK_KEY": "",
        "TSH_SANDBOX_ENV_FILE": str(sandbox.home / "app.env"),
        "TSH_SANDBOX_SOURCE_DIR": str(sandbox.home / "source"),
        "TSH_SANDBOX_STAGING_FINDINGS": str(sandbox.home / "staging" / "findings.json"),
        "TSH_SANDBOX_MIGRATIONS_DIR": str(sandbox.home / "alembic"),
        "TSH_SANDBOX_API_TOKEN": api_token(db_password),
        "TSH_SANDBOX_BACKUP_DIR": str(sandbox.home / "backups"),
        "TSH_SANDBOX_SCRATCH_DB_URL": f"postgresql://tsh_app:{db_password}@127.0.0.1:{port}/postgres",
        "TSH_SANDBOX_PG_BIN": str(SERVER_BINARIES),
        "TSH_SANDBOX_PUBLIC_URL": f"https://127.0.0.1:{ports['https']}",
        "TSH_SANDBOX_PUBLIC_HTTP_URL": f"http://127.0.0.1:{ports['http']}",
        "TSH_SANDBOX_CA_FILE": str(sandbox.home / "front" / "ca.pem"),
        "TSH_SANDBOX_NGINX_SITE": str(sandbox.home / "front" / "site.conf"),
        "TSH_SANDBOX_BLUE_URL": sandbox.base_url,
        "TSH_SANDBOX_GREEN_URL": f"http://127.0.0.1:{ports['green']}",
        "TSH_SANDBOX_APP_PORT": str(json.loads(sandbox.state_file.read_text())["ports"]["app"]),
        "TSH_SANDBOX_GREEN_PORT": str(ports["green"]),
        "TSH_SANDBOX_PG_PORT": str(port),
        "TSH_SANDBOX_ZOHO_PORT": sandbox.zoho_url.rpartition(":")[2],
        "TSH_SANDBOX_PGDATA": json.loads(sandbox.state_file.read_text())["pg_data"],
        "TSH_SANDBOX_DISK_DIR": str(sandbox.home / "disk"),
        "TSH_SANDBOX_APP_LOG": str(sandbox.home / "logs" / "erp.log"),
        "TSH_SANDBOX_PYTHON": sys.executable,
        "TSH_SANDBOX_ZOHO_URL": sandbox.zoho_url,
        "TSH_SANDBOX_ZOHO_CLIENT_ID": zoho["client_id"],
        "TSH_SANDBOX_ZOHO_CLIENT_SECRET": zoho["client_secret"],
        "TSH_SANDBOX_ZOHO_REFRESH_TOKEN": zoho["refresh_token"],
        "TSH_SANDBOX_ZOHO_ORGANIZATION_ID": zoho["organization_id"],
    }
    assert stat.S_IMODE((sandbox.home / "zoho.json").stat().st_mode) == 0o600
    assert db_password not in sandbox.state_file.read_text()
    assert stat.S_IMODE((sandbox.home / "app.env").stat().st_mode) == 0o600
    assert db_password not in repr(sandbox)
    secrets_file = sandbox.home / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert json.loads(secrets_file.read_text())["db_password"] == db_password


def test_attach_rebuilds_the_same_sandbox(sandbox: Sandbox) -> None:
    attached = Sandbox.attach(sandbox.state_file)
    assert (attached.home, attached.base_url, attached.db_url, attached.webhook_key) == (
        sandbox.home,
        sandbox.base_url,
        sandbox.db_url,
        None,
    )


def test_attach_without_state_file_fails(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match=f"^{re.escape(f'no sandbox state file at {tmp_path}/state.json')}$"):
        Sandbox.attach(tmp_path / "state.json")


def test_start_refuses_a_home_with_a_running_sandbox(sandbox: Sandbox, db_password: str) -> None:
    with pytest.raises(SandboxError) as caught:
        Sandbox.start(sandbox.home, db_password=db_password)
    assert str(caught.value) == (
        f"a sandbox is already running in {sandbox.home}; stop it with: python -m sandbox down --home {sandbox.home}"
    )
    assert sandbox.is_running()


def test_start_refuses_a_foreign_directory(spare_home: Path) -> None:
    spare_home.mkdir()
    (spare_home / "notes.txt").write_text("not a sandbox")
    with pytest.raises(SandboxError, match="exists and holds no sandbox"):
        Sandbox.start(spare_home, db_password="pw")
    assert (spare_home / "notes.txt").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the cluster to the postgres user")
@pytest.mark.timeout(60)
def test_home_the_postgres_user_cannot_enter_gets_a_spare_cluster_dir(tmp_path: Path) -> None:
    home = tmp_path / "home"  # pytest's tmp_path sits in a 0700 directory
    started = Sandbox.start(home, db_password="pw")
    try:
        pg_data = Path(json.loads(started.state_file.read_text())["pg_data"])
        assert pg_data.parent.parent == runtime_root()
        assert started.is_running()
    finally:
        started.stop(remove=True)
    assert not home.exists() and not pg_data.parent.exists()


def test_failed_start_stops_everything_and_names_the_logs(
    spare_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox.postgres, "SERVER_BINARIES", tmp_path)
    with pytest.raises(SandboxError) as caught:
        Sandbox.start(spare_home, db_password="pw")
    assert str(caught.value) == (
        f"sandbox did not start: {tmp_path}/initdb not found; "
        f"install PostgreSQL server binaries or set TSH_SANDBOX_PG_BIN (logs in {spare_home}/logs)"
    )
    assert not (spare_home / "pgdata").exists()
    assert Sandbox.attach(spare_home / "state.json", require_running=False).status() == dict.fromkeys(
        ("postgres", "app", "green", "worker", "zoho", "front"), "stopped"
    )


def test_bad_fault_spec_names_the_allowed_faults(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError) as caught:
        sandbox.apply_fault("disk-full")
    assert all(name in str(caught.value) for name in FAULT_NAMES)
    assert sandbox.faults() == []


def test_unknown_service_is_refused(sandbox: Sandbox) -> None:
    services = "postgres, app, green, worker, zoho, front"
    with pytest.raises(SandboxError, match=rf"^unknown service 'redis'; services: {services}$"):
        sandbox.service("redis", "start")


def test_webhook_error_fails_only_its_route(sandbox: Sandbox, send_probe) -> None:
    sandbox.apply_fault("webhook-error:invoices")
    assert sandbox.faults() == ["webhook-error:invoices"]
    failed = send_probe("invoices")
    assert (failed.status_code, failed.json()) == (500, {"detail": "Internal Server Error"})
    assert send_probe("customers").status_code == 202


def test_webhook_reject_answers_success_false_and_stores_nothing(sandbox: Sandbox, send_probe, query, new_id) -> None:
    sandbox.apply_fault("webhook-reject:products")
    source_id = new_id()
    response = send_probe("products", source_id)
    assert response.status_code == 202
    assert response.json() == {
        "success": False,
        "message": "Event rejected: validation failed",
        "event_id": None,
        "idempotency_key": f"zoho:product:{source_id}:update",
        "queued": False,
    }
    assert query("SELECT id FROM tds_inbox_events WHERE source_entity_id = %s", source_id) == []


def test_webhook_unrecorded_claims_success_but_stores_nothing(sandbox: Sandbox, send_probe, query, new_id) -> None:
    sandbox.apply_fault("webhook-unrecorded:orders")
    source_id = new_id()
    body = send_probe("orders", source_id).json()
    assert (body["success"], body["queued"], body["message"]) == (True, True, "Event queued for processing")
    assert uuid.UUID(body["event_id"])
    assert (
        query("SELECT id FROM tds_inbox_events WHERE id = %s OR source_entity_id = %s", body["event_id"], source_id)
        == []
    )
    assert query("SELECT id FROM tds_sync_queue WHERE source_entity_id = %s", source_id) == []


def test_webhook_missing_removes_the_route_and_its_schema(sandbox: Sandbox, client: httpx.Client, send_probe) -> None:
    missing = WEBHOOK_ROUTES["vendors"].path
    sandbox.apply_fault("webhook-missing:vendors")
    response = send_probe("vendors")
    assert (response.status_code, response.json()) == (404, {"detail": "Not Found"})
    paths = client.get("/openapi.json").json()["paths"]
    assert missing not in paths
    assert WEBHOOK_ROUTES["users"].path in paths
    sandbox.clear_faults()
    assert missing in client.get("/openapi.json").json()["paths"]
    assert send_probe("vendors").status_code == 202


@pytest.mark.timeout(30)
def test_webhook_timeout_holds_only_its_route(sandbox: Sandbox, client: httpx.Client, send_probe) -> None:
    sandbox.apply_fault("webhook-timeout:stock")
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        client.post(WEBHOOK_ROUTES["stock"].path, json={"entity_id": "1"}, timeout=1.0)
    assert time.monotonic() - started >= 1.0
    # The held request is still sleeping in the app; everything else answers at once.
    assert client.get("/health", timeout=1.0).status_code == 200
    assert send_probe("payments").status_code == 202


@pytest.mark.timeout(60)
def test_worker_down_leaves_events_pending_until_restarted(sandbox: Sandbox, send_probe, query, queue_row) -> None:
    sandbox.apply_fault("worker-down")
    assert sandbox.status()["worker"] == "stopped"
    assert sandbox.faults() == ["worker-down"]
    event_id = send_probe("customers").json()["event_id"]
    time.sleep(1.0)
    assert query("SELECT status FROM tds_sync_queue WHERE inbox_event_id = %s", event_id) == [{"status": "pending"}]
    sandbox.service("worker", "start")
    assert queue_row(event_id, "completed")["locked_by"] is None
    assert sandbox.faults() == []


@pytest.mark.timeout(60)
def test_backend_down_stops_the_app_and_reset_brings_it_back(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.apply_fault("backend-down")
    assert sandbox.status() == {
        "postgres": "running", "app": "stopped", "green": "running", "worker": "running", "zoho": "running",
        "front": "running",
    }  # fmt: skip
    assert sandbox.faults() == ["backend-down"]
    with pytest.raises(httpx.ConnectError):
        client.get("/health", timeout=1.0)
    sandbox.reset()
    assert sandbox.is_running()
    assert client.get("/health").status_code == 200


@pytest.mark.timeout(60)
def test_backend_down_through_the_admin_endpoint(sandbox: Sandbox, client: httpx.Client) -> None:
    response = client.post("/__sandbox/faults", json={"spec": "backend-down"})
    assert (response.status_code, response.json()) == (202, {"faults": [], "scheduled": "backend-down"})
    deadline = time.monotonic() + 5
    while sandbox.status()["app"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sandbox.faults() == ["backend-down"]


@pytest.mark.timeout(60)
def test_service_restart_replaces_the_process_and_records_it(sandbox: Sandbox, client: httpx.Client) -> None:
    before = json.loads(sandbox.state_file.read_text())["processes"]["app"]["pid"]
    sandbox.service("app", "restart")
    after = json.loads(sandbox.state_file.read_text())["processes"]["app"]["pid"]
    assert after != before
    assert client.get("/health").status_code == 200
    sandbox.service("app", "start")  # idempotent: already running
    assert json.loads(sandbox.state_file.read_text())["processes"]["app"]["pid"] == after
