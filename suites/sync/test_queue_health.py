"""tds.*: the sync queue drains, nothing is stuck or dead-lettered beyond the limits, webhook events complete.

Every query is read-only, through ``fixtures.db.connect``; the limits are the
inventory's ``[tds]`` section (defaults: the real system's alert levels, see the README).

Probe rows: the counts of dead letters, stuck rows and pending rows include
every row (a stuck probe is a stuck queue). The delay and webhook-success
measures leave out rows whose ``source_entity_id`` starts with the probe prefix,
except the probes this module posts itself: earlier runs' probes (and the
sandbox's fault rows, which carry the prefix) are test traffic whose timing and
fate depend on which runs came before, and would make those measures flaky.

No vacuous pass: on a target that allows mutating checks, in a run that selects
some (a probe is a write), this module first posts one probe per webhook route
and requires each to complete, so the delay of every entity and the webhook
success rate always rest on the suite's own evidence; where nothing can be
measured (no settled event, no completed row in the window) the check fails
with kind ``not_processed``. A run that selects no mutating check
(``-m "not mutating"``) posts nothing: these checks measure the real traffic,
and are skipped with the reason where the window has none.
"""

from __future__ import annotations

import pytest

from fixtures.db import connect
from fixtures.failures import CheckFailed
from fixtures.inventory import Inventory
from fixtures.webhooks import WebhookProbe, probes_withheld
from suites.webhooks.probe_contract import completion_failure

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.sync]

SHOWN_IDS = 20


@pytest.fixture(scope="session")
def probes_not_selected(inventory: Inventory, request: pytest.FixtureRequest) -> str | None:
    """Why a target that allows probes gets none in this run (no mutating check selected), else None."""
    return probes_withheld(request.session) if inventory.checks.allow_mutating else None


@pytest.fixture(scope="session")
def queue_probes(
    inventory: Inventory, probes_not_selected: str | None, request: pytest.FixtureRequest
) -> dict[str, WebhookProbe]:
    """One probe per webhook route, followed until it completes; none where the target or the selection allows none."""
    if not inventory.checks.allow_mutating or probes_not_selected:
        return {}
    return request.getfixturevalue("probe_store").completed(list(inventory.webhooks.routes))


def _measured(inventory: Inventory, probes: dict[str, WebhookProbe]) -> dict:
    """Query parameters that leave out probe rows other than this run's own (see the module docstring)."""
    return {
        "probe_pattern": f"{inventory.webhooks.probe_prefix}%",
        "own_probes": [probe.probe_id for probe in probes.values()],
        "hours": inventory.tds.window_hours,
    }


def test_dead_letters_within_limit(inventory):
    limit = inventory.tds.dead_letters_max
    with connect(inventory) as db:
        groups = db.execute(
            """
            SELECT entity_type::text AS entity_type, coalesce(error_code, 'none') AS error_code, count(*) AS rows
            FROM (
                SELECT entity_type, error_code FROM tds_sync_queue WHERE status = 'dead_letter'
                UNION ALL
                SELECT d.entity_type, d.error_code FROM tds_dead_letter_queue AS d
                WHERE NOT d.resolved
                  AND NOT EXISTS (SELECT 1 FROM tds_sync_queue AS q
                                  WHERE q.id = d.sync_queue_id AND q.status = 'dead_letter')
            ) AS dead
            GROUP BY 1, 2
            ORDER BY 3 DESC, 1, 2
            """
        ).fetchall()
    total = sum(group["rows"] for group in groups)
    if total > limit:
        raise CheckFailed(
            "dead_letters",
            f"{total} dead-lettered sync events, above the limit of {limit}",
            dead_letters=total,
            limit=limit,
            by_entity_and_error_code=groups,
        )


def test_dead_letter_rate_within_limit(inventory, queue_probes, probes_not_selected):
    """The share of the window's settled events that ended dead-lettered, by entity and error code."""
    limit = inventory.tds.dead_letter_rate_max
    with connect(inventory) as db:
        groups = db.execute(
            """
            SELECT entity_type::text AS entity_type, coalesce(error_code, 'none') AS error_code,
                   count(*) FILTER (WHERE status = 'dead_letter') AS dead, count(*) AS settled
            FROM tds_sync_queue
            WHERE status IN ('completed', 'dead_letter', 'failed')
              AND created_at > now() - make_interval(hours => %(hours)s)
              AND (source_entity_id NOT LIKE %(probe_pattern)s OR source_entity_id = ANY(%(own_probes)s))
            GROUP BY 1, 2
            ORDER BY 3 DESC, 1, 2
            """,
            _measured(inventory, queue_probes),
        ).fetchall()
    hours = inventory.tds.window_hours
    settled = _settled(groups, hours, "sync event", "rate", probes_not_selected)
    dead = sum(group["dead"] for group in groups)
    rate = dead / settled
    if rate > limit:
        raise CheckFailed(
            "dead_letters",
            f"{rate:.1%} of the settled sync events of the last {hours} h ended dead-lettered, above {limit:.1%}",
            dead_letters=dead,
            settled=settled,
            rate=round(rate, 4),
            limit=limit,
            by_entity_and_error_code=[group for group in groups if group["dead"]],
        )


def test_no_item_stuck_in_processing(inventory):
    minutes = inventory.tds.stuck_processing_minutes
    with connect(inventory) as db:
        stuck = db.execute(
            """
            SELECT id::text AS id, entity_type::text AS entity_type, started_at, lock_expires_at
            FROM tds_sync_queue
            WHERE status = 'processing'
              AND (started_at < now() - make_interval(mins => %(minutes)s)
                   OR lock_expires_at < now() - interval '2 hours')
            ORDER BY started_at
            """,
            {"minutes": minutes},
        ).fetchall()
    if stuck:
        raise CheckFailed(
            "stuck",
            f"{len(stuck)} queue items in processing for more than {minutes} min",
            stuck=len(stuck),
            limit_minutes=minutes,
            oldest_started_at=stuck[0]["started_at"].isoformat(),
            ids=[row["id"] for row in stuck[:SHOWN_IDS]],
        )


def test_pending_backlog_within_limits(inventory):
    limits = inventory.tds
    with connect(inventory) as db:
        backlog = db.execute(
            """
            SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
                   extract(epoch FROM now() - min(coalesce(next_retry_at, created_at)))::float AS oldest_age_s
            FROM tds_sync_queue
            WHERE status = 'pending' OR (status = 'retry' AND next_retry_at <= now())
            """
        ).fetchone()
    oldest_limit_s = limits.oldest_pending_minutes * 60
    oldest = backlog["oldest_age_s"] or 0.0
    if backlog["pending"] > limits.pending_max or oldest > oldest_limit_s:
        raise CheckFailed(
            "backlog",
            "the sync queue is not draining: pending rows or the oldest pending age above the limits",
            pending=backlog["pending"],
            pending_max=limits.pending_max,
            oldest_pending_age_s=round(oldest, 1),
            oldest_pending_limit_s=oldest_limit_s,
        )


def test_sync_delay_within_limit(tds_entity, inventory, queue_probes, probes_not_selected):
    limit_s = inventory.tds.sync_delay_seconds
    hours = inventory.tds.window_hours
    with connect(inventory) as db:
        delay = db.execute(
            """
            SELECT count(*) AS completed,
                   avg(extract(epoch FROM completed_at - created_at))::float AS average_s,
                   max(extract(epoch FROM completed_at - created_at))::float AS max_s
            FROM tds_sync_queue
            WHERE entity_type::text = %(entity)s
              AND status = 'completed'
              AND completed_at > now() - make_interval(hours => %(hours)s)
              AND (source_entity_id NOT LIKE %(probe_pattern)s OR source_entity_id = ANY(%(own_probes)s))
            """,
            {"entity": tds_entity, **_measured(inventory, queue_probes)},
        ).fetchone()
    if not delay["completed"]:
        _skip_without_probes(f"no {tds_entity} queue row completed in the last {hours} h", probes_not_selected)
        raise CheckFailed(
            "not_processed",
            f"no {tds_entity} queue row completed in the last {hours} h: no delay to measure",
            own_probes=[probe.probe_id for probe in queue_probes.values() if probe.route.tds_entity == tds_entity],
        )
    if delay["average_s"] > limit_s:
        raise CheckFailed(
            "slow",
            f"{tds_entity}: average enqueue-to-completion delay above the limit",
            average_s=round(delay["average_s"], 2),
            max_s=round(delay["max_s"], 2),
            limit_s=limit_s,
            completed=delay["completed"],
        )


def test_webhook_events_reach_completed(inventory, queue_probes, probes_not_selected):
    own_failures = _own_probe_failures(inventory, queue_probes)
    if own_failures:
        raise CheckFailed(
            "not_processed",
            f"{len(own_failures)} of the suite's own webhook probes did not reach completed",
            probes=own_failures,
        )
    threshold = inventory.tds.webhook_success_rate
    with connect(inventory) as db:
        # Events still in flight (pending, processing, retry) are not settled: the backlog
        # and stuck checks judge those. An event that never reached the queue has failed.
        groups = db.execute(
            """
            SELECT e.entity_type::text AS entity_type,
                   count(*) AS settled,
                   count(*) FILTER (WHERE q.status = 'completed') AS completed
            FROM tds_inbox_events AS e
            LEFT JOIN tds_sync_queue AS q ON q.inbox_event_id = e.id
            WHERE e.received_at > now() - make_interval(hours => %(hours)s)
              AND (e.source_entity_id NOT LIKE %(probe_pattern)s OR e.source_entity_id = ANY(%(own_probes)s))
              AND (q.status IS NULL OR q.status NOT IN ('pending', 'processing', 'retry'))
            GROUP BY 1
            ORDER BY 1
            """,
            _measured(inventory, queue_probes),
        ).fetchall()
    hours = inventory.tds.window_hours
    settled = _settled(groups, hours, "webhook event", "success rate", probes_not_selected)
    completed = sum(group["completed"] for group in groups)
    rate = completed / settled
    if rate < threshold:
        raise CheckFailed(
            "not_processed",
            f"{rate:.1%} of the webhook events of the last {hours} h reached completed, below {threshold:.1%}",
            settled=settled,
            completed=completed,
            rate=round(rate, 4),
            threshold=threshold,
            by_entity=groups,
        )


def _settled(groups: list[dict], hours: int, what: str, measure: str, probes_not_selected: str | None) -> int:
    """How many events of the window settled; none is a failure (no vacuous pass: the measure cannot be shown).

    In a run that posted no probe because it selects no mutating check, none is a skip with the reason.
    """
    __tracebackhide__ = True
    settled = sum(group["settled"] for group in groups)
    if not settled:
        _skip_without_probes(f"no settled {what} in the last {hours} h", probes_not_selected)
        title = f"no settled {what} in the last {hours} h: the {measure} cannot be shown"
        raise CheckFailed("not_processed", title, window_hours=hours)
    return settled


def _skip_without_probes(nothing_to_measure: str, probes_not_selected: str | None) -> None:
    """Skip a measure with nothing to measure when the run chose to post no probe of its own."""
    if probes_not_selected:
        pytest.skip(f"{nothing_to_measure} and {probes_not_selected}: nothing to measure")


def _own_probe_failures(inventory: Inventory, probes: dict[str, WebhookProbe]) -> list[dict]:
    failures = []
    for name, probe in probes.items():
        failure = completion_failure(probe, inventory)
        if failure is not None:
            failures.append({"route": name, "probe_id": probe.probe_id, "kind": failure.kind, "why": failure.title})
    return failures


def test_real_traffic_of_entity_completes(tds_entity, inventory):
    """The window's real inbox events of the entity (probes left out) reached completed.

    On a target where no probe may be posted (production) this is the evidence that the
    sync works; it is skipped with the reason only when the entity had no settled event.
    """
    hours = inventory.tds.window_hours
    with connect(inventory) as db:
        row = db.execute(
            """
            SELECT count(*) AS received,
                   count(*) FILTER (WHERE q.status = 'completed') AS completed,
                   count(*) FILTER (WHERE q.id IS NULL) AS never_queued,
                   count(*) FILTER (WHERE q.status IN ('dead_letter', 'failed')) AS failed
            FROM tds_inbox_events AS e
            LEFT JOIN tds_sync_queue AS q ON q.inbox_event_id = e.id
            WHERE e.entity_type::text = %(entity)s
              AND e.received_at > now() - make_interval(hours => %(hours)s)
              AND e.source_entity_id NOT LIKE %(probe_pattern)s
              AND (q.status IS NULL OR q.status NOT IN ('pending', 'processing', 'retry'))
            """,
            {"entity": tds_entity, "hours": hours, "probe_pattern": f"{inventory.webhooks.probe_prefix}%"},
        ).fetchone()
    if not row["received"]:
        pytest.skip(f"no settled {tds_entity} event in the last {hours} h: nothing to judge")
    rate = row["completed"] / row["received"]
    if rate < inventory.tds.webhook_success_rate:
        # Attempted and failed, never queued, or left unprocessed: three different causes.
        kind = "processing_error" if row["failed"] else "not_recorded" if row["never_queued"] else "not_processed"
        raise CheckFailed(
            kind,
            f"{rate:.1%} of the {tds_entity} events of the last {hours} h reached completed",
            **row,
            rate=round(rate, 4),
            threshold=inventory.tds.webhook_success_rate,
        )
