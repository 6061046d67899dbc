"""webhooks.end_to_end: queued probe events reach ``completed`` (the worker is alive)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.sync, pytest.mark.mutating]


def test_probe_event_reaches_completed(entity, webhook_completions):
    webhook_completions[entity].require_completed()
