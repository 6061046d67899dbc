"""The sync worker's life cycle: retry, dead letter, and surviving a database restart."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from sandbox import Sandbox


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
    assert sandbox.status() == {"postgres": "stopped", "app": "running", "worker": "running", "zoho": "running"}
    health = client.get("/api/tds/webhooks/health").json()
    assert (health["status"], health["queue_size"]) == ("error", None)
    sandbox.service("postgres", "start")
    event_id = send_probe("customers").json()["event_id"]
    queue_row(event_id, "completed", timeout=10)
