"""The Zoho simulator in-process: OAuth, pagination, sorting, filters, 401, 429 and 100,000 items."""

from __future__ import annotations

import time
import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's notice about httpx; the in-process client is all we need
    from fastapi.testclient import TestClient

from sandbox.zoho.app import RATE_LIMIT_FAULT_REQUESTS, Credentials, create_app
from sandbox.zoho.data import apply_faults, generated_items

CREDENTIALS = Credentials(client_id="cid", client_secret="csecret", refresh_token="rtoken", organization_id="42")
FORM = {"refresh_token": "rtoken", "client_id": "cid", "client_secret": "csecret", "grant_type": "refresh_token"}


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def simulator(base=None, *, faults=(), clock=None, **limits) -> tuple[TestClient, dict]:
    app = create_app(
        base if base is not None else generated_items(450), CREDENTIALS,
        faults=lambda: tuple(faults), clock=clock or time.monotonic, **limits,
    )  # fmt: skip
    client = TestClient(app)
    token = client.post("/oauth/v2/token", data=FORM).json()["access_token"]
    return client, {"Authorization": f"Zoho-oauthtoken {token}"}


def get(client, headers, path="/books/v3/items", **params):
    return client.get(path, params={"organization_id": "42", **params}, headers=headers)


def test_refresh_returns_a_bearer_token_for_an_hour_and_refuses_a_wrong_refresh_token():
    client, _ = simulator()
    answer = client.post("/oauth/v2/token", data=FORM).json()
    assert answer["expires_in"] == 3600 and answer["token_type"] == "Bearer" and answer["access_token"]
    wrong = client.post("/oauth/v2/token", data={**FORM, "refresh_token": "other"})
    assert (wrong.status_code, wrong.json()) == (400, {"error": "invalid_code"})


def test_pages_cover_every_record_once_and_per_page_is_capped_at_200():
    client, headers = simulator()
    first = get(client, headers, per_page=500).json()
    assert first["code"] == 0 and first["message"] == "success"
    assert first["page_context"]["per_page"] == 200 and first["page_context"]["has_more_page"] is True
    ids = []
    for number in (1, 2, 3):
        body = get(client, headers, page=number, per_page=200).json()
        ids += [item["item_id"] for item in body["items"]]
    assert body["page_context"]["has_more_page"] is False
    assert len(ids) == len(set(ids)) == 450


def test_sorting_by_last_modified_time_descending_puts_the_newest_first():
    client, headers = simulator()
    body = get(client, headers, per_page=1, sort_column="last_modified_time", sort_order="D").json()
    assert body["items"][0]["item_id"] == "4700000000450"
    assert body["page_context"]["sort_column"] == "last_modified_time" and body["page_context"]["sort_order"] == "D"


def test_contacts_filter_by_contact_type():
    base = {"contacts": [{"contact_id": "1", "contact_type": "customer", "last_modified_time": "x"},
                         {"contact_id": "2", "contact_type": "vendor", "last_modified_time": "x"}]}  # fmt: skip
    client, headers = simulator(base)
    body = get(client, headers, "/books/v3/contacts", contact_type="vendor").json()
    assert [c["contact_id"] for c in body["contacts"]] == ["2"]


def test_a_bad_or_missing_token_gets_401_code_57():
    client, _ = simulator()
    for headers in ({}, {"Authorization": "Zoho-oauthtoken nope"}):
        answer = get(client, headers)
        assert answer.status_code == 401 and answer.json()["code"] == 57


def test_an_expired_token_gets_401():
    clock = Clock()
    client, headers = simulator(clock=clock)
    assert get(client, headers).status_code == 200
    clock.now = 3601
    assert get(client, headers).status_code == 401


def test_the_organization_id_is_required():
    client, headers = simulator()
    assert client.get("/books/v3/items", headers=headers).status_code == 400


def test_inventory_lists_exist_only_where_zoho_has_them():
    client, headers = simulator()
    assert get(client, headers, "/inventory/v1/items").status_code == 200
    assert get(client, headers, "/inventory/v1/contacts").status_code == 404


def test_each_api_has_its_own_per_minute_limit_with_retry_after():
    clock = Clock()
    client, headers = simulator(clock=clock, books_per_minute=3, inventory_per_minute=2)
    assert [get(client, headers).status_code for _ in range(3)] == [200, 200, 200]
    refused = get(client, headers)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert get(client, headers, "/inventory/v1/items").status_code == 200
    clock.now = 60
    assert get(client, headers).status_code == 200


def test_the_rate_limit_fault_throttles_the_next_requests_only():
    client, headers = simulator(faults=("zoho-rate-limit",))
    answers = [get(client, headers) for _ in range(RATE_LIMIT_FAULT_REQUESTS + 1)]
    assert [a.status_code for a in answers] == [429] * RATE_LIMIT_FAULT_REQUESTS + [200]
    assert answers[0].headers["Retry-After"] == "1"


def test_the_auth_fault_refuses_refresh_and_access_tokens():
    faults: list[str] = []
    app = create_app(generated_items(5), CREDENTIALS, faults=lambda: tuple(faults))
    client = TestClient(app)
    headers = {"Authorization": f"Zoho-oauthtoken {client.post('/oauth/v2/token', data=FORM).json()['access_token']}"}
    faults.append("zoho-auth-invalid")
    assert client.post("/oauth/v2/token", data=FORM).status_code == 400
    assert get(client, headers).status_code == 401


def test_drift_adds_records_and_stale_moves_the_newest_modification():
    base = generated_items(100)
    drifted = apply_faults(base, ("zoho-drift:items:10",))["items"]
    assert len(drifted) == 110 and drifted[-1]["item_id"] == "4700000500010"
    stale = apply_faults(base, ("zoho-stale:items:48",))["items"]
    assert max(r["last_modified_time"] for r in stale) == "2026-01-03T00:01:40+0000"


@pytest.mark.timeout(60)
def test_100k_items_page_fast():
    base = generated_items(100_000)
    client, headers = simulator(base, books_per_minute=1000)
    started = time.monotonic()
    last = get(client, headers, page=500, per_page=200).json()
    middle = [get(client, headers, page=n, per_page=200).json() for n in (1, 2, 250)]
    newest = get(client, headers, per_page=1, sort_column="last_modified_time", sort_order="D").json()
    elapsed = time.monotonic() - started
    assert last["page_context"]["has_more_page"] is False and len(last["items"]) == 200
    assert all(len(body["items"]) == 200 and body["page_context"]["has_more_page"] for body in middle)
    assert newest["items"][0]["item_id"] == "4700000100000"
    assert elapsed < 5, f"paging 100k items took {elapsed:.2f} s"
    print(f"100k items: 5 pages in {elapsed:.3f} s")
