"""Fixtures of the Zoho checks: one paced client per process, and its calls counted per check."""

from __future__ import annotations

import pytest

from fixtures.zoho import ZohoClient

# The share of a check's timeout that paging may use (the rest: the ERP's query, the last exchanges).
PAGING_SHARE_OF_TIMEOUT = 0.8


@pytest.fixture(scope="session")
def zoho_client(inventory, pytestconfig):
    if inventory.zoho is None:
        pytest.skip(f"target {inventory.name} has no [zoho] section")
    timeout = float(pytestconfig.getoption("timeout", None) or pytestconfig.getini("timeout") or 0)
    client = ZohoClient(inventory.zoho, time_budget_seconds=PAGING_SHARE_OF_TIMEOUT * timeout if timeout else None)
    yield client
    client.http.close()


@pytest.fixture(autouse=True)
def _count_zoho_calls(record_metric, zoho_client: ZohoClient):
    """Carry this check's Zoho calls to the controller, which sums them over all workers."""
    before = dict(zoho_client.calls)
    yield
    record_metric("zoho_calls", {api: zoho_client.calls[api] - before.get(api, 0) for api in zoho_client.calls})
