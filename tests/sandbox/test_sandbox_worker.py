"""The sync worker's life cycle: retry, dead letter, surviving a database restart, and failing upstream."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest

from sandbox import Sandbox, SandboxError
from sandbox.faults import parse_fault
from sandbox.provision import zoho_access_token


def test_fatal_error_goes_straight_to_dead_letter(send_probe, queue_row, query) -> None:
    event_id = send_probe("invoices", simulate_error="fatal").json()["event_id"]
    row = queue_row(event_id, "dead_letter")
    assert (row["attempt_count"], row["error_code"], row["next_retry_at"]) == (1, "SIMULATED_FATAL", None)
    dead = query("SELECT * FROM tds_dead_letter_queue WHERE sync_queue_id = %s", row["id"])
    assert len(dead) == 1
    assert (dead[0]["failure_reason"], dead[0]["total_attempts"], dead[0]["resolved"]) == (
        "non_transient_error",
        1,
        False,
    )
    assert dead[0]["last_payload"]["simulate_error"] == "fatal"


@pytest.mark.timeout(60)
def test_transient_error_retries_with_backoff_then_dead_letters(send_probe, queue_row, query) -> None:
    event_id = send_probe("products", simulate_error="transient").json()["event_id"]
    first = queue_row(event_id, "retry")
    assert (first["attempt_count"], first["error_code"]) == (1, "SIMULATED_TRANSIENT")
    assert timedelta(seconds=1.5) < first["next_retry_at"] - first["started_at"] < timedelta(seconds=3)
    final = queue_row(event_id, "dead_letter", timeout=15)
    assert final["attempt_count"] == 3
    dead = query(
        "SELECT failure_reason, total_attempts FROM tds_dead_letter_queue WHERE sync_queue_id = %s", final["id"]
    )
    assert dead == [{"failure_reason": "max_retries_exceeded", "total_attempts": 3}]


@pytest.mark.timeout(60)
def test_worker_reconnects_after_postgres_restart(
    sandbox: Sandbox, client: httpx.Client, send_probe, queue_row
) -> None:
    sandbox.service("postgres", "stop")
    assert sandbox.status() == {
        "postgres": "stopped", "app": "running", "green": "running", "worker": "running", "zoho": "running",
        "front": "running",
    }  # fmt: skip
    health = client.get("/api/tds/webhooks/health").json()
    assert (health["status"], health["queue_size"]) == ("error", None)
    sandbox.service("postgres", "start")
    event_id = send_probe("customers").json()["event_id"]
    queue_row(event_id, "completed", timeout=10)


@pytest.mark.timeout(60)
def test_worker_failing_dead_letters_its_entity_with_an_upstream_error_and_processes_the_others(
    sandbox: Sandbox, send_probe, queue_row, query, db_password: str
) -> None:
    sandbox.apply_fault("worker-failing:invoices")
    assert sandbox.faults() == ["worker-failing:invoices"]
    started = time.monotonic()
    failing = send_probe("invoices", "tshprobe-failing-1").json()["event_id"]
    other = send_probe("customers").json()["event_id"]
    assert queue_row(other, "completed")["error_code"] is None

    first = queue_row(failing, "retry")
    assert (first["attempt_count"], first["error_code"]) == (1, "ZOHO_VALIDATION_ERROR")
    token = zoho_access_token(db_password)
    assert f"Authorization: Zoho-oauthtoken {token}" in first["error_message"]
    assert re.fullmatch(
        r"Zoho Books API answered HTTP 400 to PUT http://127\.0\.0\.1:\d+/books/v3/invoices/tshprobe-failing-1"
        r"\?organization_id=\d+: \{\"code\": 2, \"message\": \"Invalid value passed for JSONString\"\} "
        r"\(request headers: Authorization: Zoho-oauthtoken 1000\.[0-9a-f]{32}\.[0-9a-f]{32}; "
        r"Content-Type: application/json\)",
        first["error_message"],
    ), first["error_message"]

    final = queue_row(failing, "dead_letter", timeout=10)
    seconds = time.monotonic() - started
    assert seconds < 10, f"dead-lettered after {seconds:.1f} s"
    assert (final["attempt_count"], final["error_code"], final["next_retry_at"]) == (3, "ZOHO_VALIDATION_ERROR", None)
    assert final["error_message"] == first["error_message"]
    dead = query(
        "SELECT entity_type::text, failure_reason, error_code, total_attempts, last_error_message"
        " FROM tds_dead_letter_queue WHERE sync_queue_id = %s",
        final["id"],
    )
    assert dead == [
        {
            "entity_type": "invoice",
            "failure_reason": "max_retries_exceeded",
            "error_code": "ZOHO_VALIDATION_ERROR",
            "total_attempts": 3,
            "last_error_message": first["error_message"],
        }
    ]
    assert sandbox.status()["worker"] == "running"

    sandbox.clear_faults()
    queue_row(send_probe("invoices").json()["event_id"], "completed")


def test_worker_failing_takes_a_route_name() -> None:
    with pytest.raises(SandboxError, match=r"^fault worker-failing needs an entity, one of: products, customers,"):
        parse_fault("worker-failing:invoice")
    assert parse_fault("worker-failing:vendors").spec == "worker-failing:vendors"
