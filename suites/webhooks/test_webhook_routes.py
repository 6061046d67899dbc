"""webhooks.route_presence and webhooks.health_endpoint."""

from __future__ import annotations

import pytest

from fixtures.failures import CheckFailed
from fixtures.http import send

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.webhooks]


@pytest.fixture(scope="session")
def served_paths(inventory, http_client):
    """The paths of /openapi.json, or the failure that kept them from being read."""
    url = f"{inventory.http.base_url}/openapi.json"
    try:
        exchange = send(http_client, "GET", url)
        body = exchange.json_object() if exchange.status == 200 else None
        if body is None or not isinstance(body.get("paths"), dict):
            raise CheckFailed("http_status", f"GET {url}: no OpenAPI document", **exchange.evidence())
    except CheckFailed as failure:
        return failure
    return body["paths"]


def test_webhook_route_served(entity, inventory, served_paths):
    if isinstance(served_paths, CheckFailed):
        raise served_paths
    path = f"{inventory.webhooks.path_prefix}/{entity}"
    operations = served_paths.get(path, {})
    if "post" not in operations:
        raise CheckFailed(
            "route_missing",
            f"POST {path} is not in /openapi.json",
            served_webhook_routes=sorted(p for p in served_paths if p.startswith(inventory.webhooks.path_prefix)),
        )


def test_webhooks_health_endpoint_reports_healthy(inventory, http_client):
    url = f"{inventory.http.base_url}{inventory.webhooks.health_path}"
    exchange = send(http_client, "GET", url)
    if exchange.status != 200:
        raise CheckFailed("http_status", f"GET {url}: expected 200, got {exchange.status}", **exchange.evidence())
    body = exchange.json_object() or {}
    # The endpoint answers 200 with status "error" when it cannot reach its database.
    if body.get("status") != "healthy":
        raise CheckFailed(
            "contract", f'GET {url}: status is {body.get("status")!r}, not "healthy"', **exchange.evidence()
        )
