"""webhooks.end_to_end: queued probe events reach ``completed`` (the worker is alive)."""

from __future__ import annotations

import pytest

from suites.webhooks.probe_contract import completion_failure

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.sync, pytest.mark.mutating]


def test_probe_event_reaches_completed(entity, inventory, webhook_completions):
    failure = completion_failure(webhook_completions[entity], inventory)
    if failure is not None:
        raise failure
