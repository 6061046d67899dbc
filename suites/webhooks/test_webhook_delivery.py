"""webhooks.contract: a probe event is accepted AND recorded in the inbox and the queue."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.webhooks, pytest.mark.mutating]


def test_webhook_accepts_and_records_event(entity, inventory, webhook_probes, report_line):
    line, outcome = webhook_probes[entity].report_line(inventory)
    report_line("zoho_webhook_report.txt", line, tally=outcome)
    webhook_probes[entity].require_recorded()
