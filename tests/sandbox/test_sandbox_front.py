"""The sandbox's nginx front: TLS from the sandbox CA, HTTP -> HTTPS, HSTS, the two slots, switch-slot and the
front faults, all on the session sandbox (reset after each test)."""

from __future__ import annotations

import ssl
import subprocess
import sys

import httpx
import pytest

from sandbox import Sandbox, SandboxError
from sandbox.facts import PROJECT_ROOT
from sandbox.provision import env_file_names


def through_front(sandbox: Sandbox, path: str = "/health") -> httpx.Response:
    context = ssl.create_default_context(cafile=str(sandbox.front.ca_file))
    return httpx.get(f"{sandbox.front.public_url}{path}", verify=context, timeout=5.0)


def recorded_slot(sandbox: Sandbox) -> str | None:
    return env_file_names(sandbox.home / "app.env").get("ACTIVE_DEPLOYMENT_SLOT")


def test_front_serves_blue_over_tls_with_hsts_and_redirects_http(sandbox: Sandbox) -> None:
    answer = through_front(sandbox)
    assert (answer.status_code, answer.headers["X-TSH-Slot"]) == (200, "blue")
    assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = httpx.get(f"{sandbox.front.http_url}/health?x=1", timeout=5.0)
    assert (plain.status_code, plain.headers["Location"]) == (301, f"{sandbox.front.public_url}/health?x=1")
    green = httpx.get(f"{sandbox.front.slot_url('green')}/health", timeout=5.0)
    assert (green.status_code, green.headers["X-TSH-Slot"]) == (200, "green")
    assert (sandbox.front.site_slot(), recorded_slot(sandbox)) == ("blue", "blue")
    assert 89.9 < sandbox.front.certificate_days_left() <= 90
    # Every server binds the loopback address only.
    assert (
        "listen 127.0.0.1:" in sandbox.front.site_file.read_text()
        and "listen 80" not in sandbox.front.site_file.read_text()
    )
    with pytest.raises(httpx.ConnectError):  # the CA is not the system's: without it the chain is refused
        httpx.get(f"{sandbox.front.public_url}/health", timeout=5.0)


def test_switch_slot_through_the_cli_rewrites_the_upstream_reloads_and_records_it(sandbox: Sandbox) -> None:
    command = [sys.executable, "-m", "sandbox", "switch-slot", "--state", str(sandbox.state_file), "green"]
    done = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "active slot: green" in done.stdout
    assert (sandbox.front.site_slot(), recorded_slot(sandbox)) == ("green", "green")
    assert through_front(sandbox).headers["X-TSH-Slot"] == "green"
    with pytest.raises(SandboxError, match="unknown slot 'purple'"):
        sandbox.switch_slot("purple")
    sandbox.reset()
    assert (sandbox.front.site_slot(), recorded_slot(sandbox)) == ("blue", "blue")
    assert through_front(sandbox).headers["X-TSH-Slot"] == "blue"


def test_a_configuration_nginx_refuses_is_put_back(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    before = sandbox.front.site_file.read_text()
    monkeypatch.setattr("sandbox.front.Front._site_conf", lambda self, slot: "upstream broken {\n")
    with pytest.raises(SandboxError, match=r"nginx -t failed"):
        sandbox.switch_slot("green")
    assert sandbox.front.site_file.read_text() == before
    assert recorded_slot(sandbox) == "blue"
    assert through_front(sandbox).status_code == 200


def test_front_faults_and_reset(sandbox: Sandbox) -> None:
    sandbox.apply_fault("slot-down:green")
    assert sandbox.faults() == ["slot-down:green"] and sandbox.status()["green"] == "stopped"
    sandbox.apply_fault("slot-mismatch")
    assert (sandbox.front.site_slot(), recorded_slot(sandbox)) == ("blue", "green")
    sandbox.apply_fault("cert-expiring:3")
    assert sorted(sandbox.faults()) == ["cert-expiring:3", "slot-down:green", "slot-mismatch"]
    served = ssl.get_server_certificate(("127.0.0.1", sandbox.front.https_port))
    assert served.strip() == sandbox.front.cert_file.read_text().strip()
    for bad in ("cert-expiring:0", "cert-expiring:61", "cert-expiring", "slot-down:purple"):
        with pytest.raises(SandboxError):
            sandbox.apply_fault(bad)
    sandbox.reset()
    assert sandbox.faults() == [] and sandbox.is_running()
    assert 89.9 < sandbox.front.certificate_days_left() <= 90
    assert recorded_slot(sandbox) == "blue"
