"""Fixtures of the Zoho checks: one paced client per process, and its calls counted per check."""

from __future__ import annotations

import pytest

from fixtures.zoho import ZohoClient


@pytest.fixture(scope="session")
def zoho_client(inventory):
    if inventory.zoho is None:
        pytest.skip(f"target {inventory.name} has no [zoho] section")
    client = ZohoClient(inventory.zoho)
    yield client
    client.http.close()


@pytest.fixture(autouse=True)
def _count_zoho_calls(record_metric, zoho_client: ZohoClient):
    """Carry this check's Zoho calls to the controller, which sums them over all workers."""
    before = dict(zoho_client.calls)
    yield
    record_metric("zoho_calls", {api: zoho_client.calls[api] - before.get(api, 0) for api in zoho_client.calls})
