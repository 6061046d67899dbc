"""``python -m sandbox`` as a user runs it: a sandbox with a webhook key, from up to down."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from suite_runner import sandbox_cli

SECRET_PASSWORD = "cli-db-secret-value"
SECRET_KEY = "cli-webhook-secret-value"


def cli(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    completed = sandbox_cli(*arguments, env=env, timeout=60)
    for stream in (completed.stdout, completed.stderr):
        assert SECRET_PASSWORD not in stream and SECRET_KEY not in stream
        assert "Traceback" not in stream
    return completed


@pytest.mark.timeout(90)
def test_cli_runs_a_keyed_sandbox_from_up_to_down(spare_home: Path) -> None:
    home = ["--home", str(spare_home)]
    up = cli("up", *home, env={"TSH_SANDBOX_DB_PASSWORD": SECRET_PASSWORD, "TSH_SANDBOX_WEBHOOK_KEY": SECRET_KEY})
    assert up.returncode == 0, up.stderr
    lines = up.stdout.splitlines()
    base_url = lines[0].removeprefix("sandbox running at ")
    assert lines[1:] == [f"state file: {spare_home}/state.json", f"export TSH_SANDBOX_STATE={spare_home}/state.json"]

    with httpx.Client(base_url=base_url, timeout=5.0) as client:
        body = {"entity_id": "4600000000001", "data": {"contact_id": "4600000000001"}}
        refused = client.post("/api/tds/webhooks/customers", json=body)
        assert (refused.status_code, refused.json()) == (401, {"detail": "Invalid or missing webhook API key"})
        wrong = client.post("/api/tds/webhooks/customers", json=body, headers={"X-Webhook-Key": "wrong"})
        assert wrong.status_code == 401
        accepted = client.post("/api/tds/webhooks/customers", json=body, headers={"X-Webhook-Key": SECRET_KEY})
        assert (accepted.status_code, accepted.json()["queued"]) == (202, True)

    status = cli("status", *home)
    assert (status.returncode, status.stdout) == (
        0,
        "postgres: running\napp: running\ngreen: running\nworker: running\nzoho: running\nfront: running\n",
    )

    by_state = {"TSH_SANDBOX_STATE": f"{spare_home}/state.json"}
    assert cli("fault", "add", "worker-down", "webhook-error:users", env=by_state).returncode == 0
    assert cli("fault", "list", env=by_state).stdout == "webhook-error:users\nworker-down\n"
    stopped = cli("status", "--state", f"{spare_home}/state.json")
    assert (stopped.returncode, stopped.stdout) == (
        3,
        "postgres: running\napp: running\ngreen: running\nworker: stopped\nzoho: running\nfront: running\n",
    )

    bad = cli("fault", "add", "webhook-error:users", "webhook-error:bills", *home)
    assert bad.returncode == 2
    assert bad.stderr.startswith("sandbox: fault webhook-error needs an entity, one of: products,")
    assert len(bad.stderr.splitlines()) == 1

    assert cli("fault", "clear", *home).returncode == 0
    assert cli("service", "start", "worker", *home).returncode == 0
    assert cli("fault", "list", *home).stdout == ""
    assert cli("status", *home).returncode == 0

    down = cli("down", *home)
    assert (down.returncode, down.stdout) == (0, f"sandbox in {spare_home} stopped and removed\n")
    assert not spare_home.exists()
    gone = cli("status", *home)
    assert (gone.returncode, gone.stderr) == (3, f"sandbox: no sandbox state file at {spare_home}/state.json\n")
    assert cli("down", *home).returncode == 2
