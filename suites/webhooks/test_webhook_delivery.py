"""webhooks.contract: a probe event is accepted AND recorded in the inbox and the queue."""

from __future__ import annotations

import pytest

from suites.webhooks.probe_contract import delivery_failure, webhook_report_line

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.webhooks, pytest.mark.mutating]


def test_webhook_accepts_and_records_event(entity, inventory, webhook_probes, report_line):
    probe = webhook_probes[entity]
    line, outcome = webhook_report_line(probe, inventory)
    report_line("zoho_webhook_report.txt", line, tally=outcome)
    failure = delivery_failure(probe)
    if failure is not None:
        raise failure
