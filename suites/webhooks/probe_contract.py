"""The webhook contract, judged on what the probe store observed.

Delivery: the route answers 202 with a JSON object whose ``success`` and
``queued`` are true and that names an ``event_id``, and that event has its
``tds_inbox_events`` and ``tds_sync_queue`` rows. Completion: the queue row
reaches ``completed`` within the inventory's bound. A completion whose probe
was never delivered fails with the delivery's kind, so it carries the recipe
of its real cause.
"""

from __future__ import annotations

from fixtures.failures import CheckFailed, excerpt
from fixtures.inventory import Inventory
from fixtures.webhooks import WebhookProbe


def delivery_failure(probe: WebhookProbe) -> CheckFailed | None:
    """Why the probe was not accepted and recorded, or None when it was."""
    if probe.no_answer is not None:
        return probe.no_answer
    answer = probe.answer or {}
    status, body, evidence = answer.get("status"), answer.get("body"), answer.get("evidence", {})
    what = f"POST {probe.route.name} webhook"
    if status == 404:
        return CheckFailed("route_missing", f"{what}: route not served", **evidence)
    if status != 202:
        return CheckFailed("http_status", f"{what}: expected 202, got {status}", **evidence)
    if body is None:
        return CheckFailed("contract", f"{what}: the 202 body is not a JSON object", **evidence)
    if body.get("success") is not True:
        return CheckFailed("rejected", f"{what}: success is not true: {body.get('message')!r}", **evidence)
    if body.get("queued") is not True:
        return CheckFailed("rejected", f"{what}: a new event was not queued: {body.get('message')!r}", **evidence)
    if not probe.event_id:
        return CheckFailed("contract", f"{what}: the response has no event_id", **evidence)
    if probe.lookup_failure is not None:
        return probe.lookup_failure
    recorded = {**evidence, "event_id": probe.event_id}
    if not probe.inbox_recorded:
        return CheckFailed(
            "not_recorded", f"{probe.route.name}: accepted event has no tds_inbox_events row", **recorded
        )
    if probe.queue_id is None:
        return CheckFailed("not_recorded", f"{probe.route.name}: accepted event has no tds_sync_queue row", **recorded)
    return None


def completion_failure(probe: WebhookProbe, inventory: Inventory) -> CheckFailed | None:
    """Why the probe's queue row did not reach ``completed``, or None when it did."""
    delivered = delivery_failure(probe)
    if delivered is not None:
        return CheckFailed(
            delivered.kind,
            f"probe event for {probe.route.name} never reached the queue: {delivered.title}",
            **delivered.evidence,
        )
    if probe.follow_failure is not None:
        return probe.follow_failure
    row = probe.queue_row or {}
    status = row.get("status", "unknown")
    if status == "completed":
        return None
    evidence = {
        "probe_id": probe.probe_id,
        "queue_id": probe.queue_id,
        "status": status,
        "attempts": row.get("attempt_count"),
        "waited_s": probe.waited_s,
    }
    if probe.completed_meanwhile is not None:
        evidence["worker_completed_meanwhile"] = probe.completed_meanwhile
    if row.get("attempt_count") and (row.get("error_code") or row.get("error_message")):
        # Attempted and failed: the worker runs; restarting it cannot help.
        return CheckFailed(
            "processing_error",
            f"{probe.route.name}: the worker attempted the probe event and failed it ({row.get('error_code')})",
            **evidence,
            error_codes=[row.get("error_code") or "none"],
            error=excerpt(row.get("error_message") or ""),
        )
    if status in ("dead_letter", "failed"):
        title = f"{probe.route.name}: probe event ended in {status}"
    else:
        limit = inventory.webhooks.completion_timeout_seconds
        title = f"{probe.route.name}: probe event not completed within {limit:g} s and never attempted"
    return CheckFailed("not_processed", title, **evidence)


def webhook_report_line(probe: WebhookProbe, inventory: Inventory) -> tuple[str, str]:
    """The probe's ``zoho_webhook_report.txt`` line, and "passed" or "failed" for its summary."""
    url = f"{inventory.http.base_url}{inventory.webhooks.path_prefix}/{probe.route.name}"
    name = probe.route.name.capitalize()
    failure = delivery_failure(probe)
    if failure is None:
        return f"✅ {name}: {url} (HTTP {probe.answer['status']}, queued)", "passed"
    status = failure.evidence.get("status")
    detail = "TIMEOUT" if failure.kind == "timeout" else f"HTTP {status}, {failure.kind}"
    return f"❌ {name}: {url} ({detail})", "failed"
