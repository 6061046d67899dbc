"""Reset restores the database from its template and reloads the Zoho simulator: runs do not depend on history."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta

import httpx
import pytest
from suite_runner import sandbox_cli

from sandbox import Sandbox
from sandbox.zoho.data import parse_zoho_time

RESET_BOUND_SECONDS = 5.0


def cli(sandbox: Sandbox, *arguments: str) -> subprocess.CompletedProcess[str]:
    return sandbox_cli(*arguments, "--state", str(sandbox.state_file))


def zoho_newest_contact(sandbox: Sandbox) -> datetime:
    """The newest last_modified_time of a customer contact, as the Zoho simulator serves it now."""
    zoho = json.loads((sandbox.home / "zoho.json").read_text())
    with httpx.Client(base_url=sandbox.zoho_url, timeout=5.0) as client:
        token = client.post(
            "/oauth/v2/token",
            data={"refresh_token": zoho["refresh_token"], "client_id": zoho["client_id"],
                  "client_secret": zoho["client_secret"], "grant_type": "refresh_token"},
        ).json()["access_token"]  # fmt: skip
        body = client.get(
            "/books/v3/contacts",
            params={"organization_id": zoho["organization_id"], "contact_type": "customer", "per_page": 1,
                    "sort_column": "last_modified_time", "sort_order": "D"},
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
        ).json()  # fmt: skip
    return parse_zoho_time(body["contacts"][0]["last_modified_time"])


def erp_newest_customer(query) -> datetime:
    return query("SELECT max(updated_at) AS newest FROM customers")[0]["newest"]


@pytest.mark.timeout(120)
def test_a_resync_heal_is_gone_after_reset_so_zoho_stale_shows_staleness_again(sandbox: Sandbox, query) -> None:
    sandbox.apply_fault("zoho-stale:contacts:48")
    lag = zoho_newest_contact(sandbox) - erp_newest_customer(query)
    assert lag == timedelta(hours=48)

    healed = cli(sandbox, "zoho-resync", "--entity", "contacts")  # what the heal runs
    assert (healed.returncode, healed.stdout) == (0, "zoho resync contacts: 0 inserted, 3 updated\n"), healed.stderr
    assert zoho_newest_contact(sandbox) == erp_newest_customer(query)

    sandbox.reset()
    assert zoho_newest_contact(sandbox) == erp_newest_customer(query)  # healthy: Zoho mirrors the ERP
    sandbox.apply_fault("zoho-stale:contacts:48")
    assert zoho_newest_contact(sandbox) - erp_newest_customer(query) == timedelta(hours=48)


@pytest.mark.timeout(120)
def test_a_drift_heal_is_gone_after_reset_so_zoho_drift_shows_drift_again(sandbox: Sandbox, query) -> None:
    sandbox.apply_fault("zoho-drift:items:10")
    assert cli(sandbox, "zoho-resync", "--entity", "items").stdout == "zoho resync items: 8 inserted, 0 updated\n"
    assert query("SELECT count(*) AS n FROM products") == [{"n": 88}]
    sandbox.reset()
    assert query("SELECT count(*) AS n FROM products") == [{"n": 80}]


@pytest.mark.timeout(60)
def test_reset_takes_back_rows_changed_requeued_or_renamed_and_the_worker_carries_on(
    sandbox: Sandbox, query, send_probe, queue_row
) -> None:
    before = query("SELECT count(*) AS n FROM tds_sync_queue")[0]["n"]
    completed = send_probe("customers").json()["event_id"]
    queue_row(completed, "completed")
    query("UPDATE customers SET name = 'Changed by a heal' WHERE id = 1")
    query("ALTER TABLE invoice_payments RENAME TO invoice_payments_gone")
    sandbox.apply_fault("dead-letters:3")

    started = time.monotonic()
    sandbox.reset()
    seconds = time.monotonic() - started
    print(f"reset took {seconds:.2f} s")
    assert seconds < RESET_BOUND_SECONDS

    assert query("SELECT count(*) AS n FROM tds_sync_queue")[0]["n"] == before
    assert query("SELECT count(*) AS n FROM tds_dead_letter_queue") == [{"n": 0}]
    assert query("SELECT name FROM customers WHERE id = 1") == [{"name": "Customer 001"}]
    assert query("SELECT to_regclass('invoice_payments') IS NOT NULL AS present") == [{"present": True}]
    assert sandbox.faults() == []
    # The worker lost its session to the restore and reconnects; the app connects per request.
    queue_row(send_probe("invoices").json()["event_id"], "completed", timeout=10)


@pytest.mark.timeout(60)
def test_reset_restarts_stopped_services_and_restores_with_the_database_down(sandbox: Sandbox, query) -> None:
    sandbox.apply_fault("database-down")
    sandbox.apply_fault("worker-down")
    sandbox.reset()
    assert sandbox.is_running()
    assert query("SELECT version_num FROM alembic_version") == [{"version_num": "a1b2c3d4e5f6"}]


@pytest.mark.timeout(60)
def test_reset_command(sandbox: Sandbox, query) -> None:
    sandbox.apply_fault("backlog:5")
    done = cli(sandbox, "reset")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sandbox reset in ")
    assert done.stdout.endswith(" s: faults cleared, services running, database restored\n")
    assert sandbox.faults() == []
    assert sandbox.is_running()


@pytest.mark.timeout(60)
def test_integrity_faults_report_their_broken_rows_and_reset_restores_the_rows(sandbox: Sandbox, query) -> None:
    for spec in ("duplicate-emails:2", "duplicate-skus:3", "orphan-invoices:1"):
        sandbox.apply_fault(spec)
    assert sandbox.faults() == ["duplicate-emails:2", "duplicate-skus:3", "orphan-invoices:1"]
    assert query("SELECT id, email FROM customers WHERE id IN (1, 49) ORDER BY id") == [
        {"id": 1, "email": "customer001@example.com"},
        {"id": 49, "email": "CUSTOMER001@EXAMPLE.COM"},
    ]
    assert query("SELECT id, customer_id FROM invoices WHERE id = 30") == [{"id": 30, "customer_id": 80}]
    # Existing rows changed, none added, no timestamp moved: Zoho parity and freshness are untouched.
    assert query("SELECT count(*) AS n, max(updated_at) AS newest FROM customers") == [
        {"n": 50, "newest": datetime.fromisoformat("2026-01-01T00:50:00+00:00")}
    ]
    sandbox.reset()
    assert sandbox.faults() == []
    assert query("SELECT email FROM customers WHERE id = 49") == [{"email": "customer049@example.com"}]
