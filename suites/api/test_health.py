"""api.health: every entry point answers /health with the real contract, quickly."""

from __future__ import annotations

import pytest

from fixtures.failures import CheckFailed
from fixtures.http import require_p95_latency, send

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.api]


def test_health_reports_healthy(base, inventory, http_client):
    url = f"{inventory.http.health_bases()[base]}/health"
    exchange = send(http_client, "GET", url)
    if exchange.status != 200:
        raise CheckFailed("http_status", f"GET {url}: expected 200, got {exchange.status}", **exchange.evidence())
    body = exchange.json_object()
    if body is None or body.get("status") != "healthy":
        raise CheckFailed("contract", f'GET {url}: status is not "healthy"', **exchange.evidence())


def test_health_latency_within_limit(base, inventory, http_client):
    limits = inventory.thresholds
    url = f"{inventory.http.health_bases()[base]}/health"
    require_p95_latency(http_client, url, samples=limits.health_latency_samples, limit_ms=limits.health_latency_ms)
