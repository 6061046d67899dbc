"""api.health: every entry point answers /health with the real contract, quickly."""

from __future__ import annotations

import statistics

import pytest

from fixtures.failures import CheckFailed
from fixtures.http import send

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
    url = f"{inventory.http.health_bases()[base]}/health"
    limits = inventory.thresholds
    latencies = [send(http_client, "GET", url).latency_ms for _ in range(limits.health_latency_samples)]
    p95 = _percentile(latencies, 95)
    if p95 > limits.health_latency_ms:
        raise CheckFailed(
            "slow",
            f"GET {url}: P95 latency above the limit",
            actual_p95_ms=round(p95, 1),
            limit_ms=limits.health_latency_ms,
            samples_ms=[round(v, 1) for v in latencies],
        )


def _percentile(values: list[float], percent: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
