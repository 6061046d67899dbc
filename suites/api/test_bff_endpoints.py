"""api.bff_salesperson_smoke: the BFF routes answer with data, refuse anonymous calls, and are quick.

Answering is not enough: a protected endpoint passes only on 2xx with a JSON
object holding the keys the inventory expects (``expect_keys``), called with the
bearer token; a public one (``protected = false``) the same without a token.

The bearer token is a secret: it goes only into the Authorization header and the
redactor masks it wherever it might be echoed.
"""

from __future__ import annotations

import pytest

from fixtures.failures import CheckFailed
from fixtures.http import require_p95_latency, send

pytestmark = [pytest.mark.staging, pytest.mark.api]

REFUSED = (401, 403)


def test_bff_endpoint_answers_with_data(endpoint, inventory, http_client):
    """2xx with a JSON object (holding the inventory's ``expect_keys``); a public endpoint without any token."""
    url, headers = _request(inventory, endpoint)
    exchange = send(http_client, "GET", url, headers=headers)
    who = "with the bearer token" if headers else "without a token (the inventory calls it public)"
    if exchange.status >= 500:
        raise CheckFailed("http_status", f"GET {url}: server error {exchange.status} {who}", **exchange.evidence())
    if not 200 <= exchange.status < 300:
        raise CheckFailed("contract", f"GET {url}: {exchange.status} {who}, expected 2xx", **exchange.evidence())
    body = exchange.json_object()
    if body is None:
        raise CheckFailed(
            "contract", f"GET {url}: the {exchange.status} body is not a JSON object", **exchange.evidence()
        )
    missing = [key for key in inventory.api.endpoint(endpoint).expect_keys if key not in body]
    if missing:
        raise CheckFailed(
            "contract", f"GET {url}: the answer lacks {', '.join(missing)}", missing_keys=missing, **exchange.evidence()
        )


def test_bff_endpoint_refuses_anonymous_calls(protected_endpoint, inventory, http_client):
    url = f"{inventory.http.base_url}{inventory.api.endpoint(protected_endpoint).path}"
    exchange = send(http_client, "GET", url)
    if exchange.status in REFUSED:
        return
    kind = "security" if 200 <= exchange.status < 300 else "http_status"
    raise CheckFailed(
        kind, f"GET {url} without a token: expected 401 or 403, got {exchange.status}", **exchange.evidence()
    )


def test_bff_endpoint_latency_within_limit(endpoint, inventory, http_client):
    url, headers = _request(inventory, endpoint)
    settings = inventory.api
    require_p95_latency(
        http_client, url, samples=settings.latency_samples, limit_ms=settings.latency_ms, headers=headers
    )


def _request(inventory, name: str) -> tuple[str, dict[str, str]]:
    """The endpoint's URL and headers; a protected endpoint without a configured token is skipped."""
    endpoint = inventory.api.endpoint(name)
    token = inventory.api.bearer_token
    if not endpoint.protected:
        return f"{inventory.http.base_url}{endpoint.path}", {}
    if token is None:
        pytest.skip("no bearer token configured ([api] bearer_token)")
    return f"{inventory.http.base_url}{endpoint.path}", {"Authorization": f"Bearer {token.get_secret_value()}"}
