"""The Zoho client against respx: pagination, Books first, retries, token refresh, timeouts, pacing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from fixtures import redaction
from fixtures.failures import CheckFailed
from fixtures.http import TargetClient
from fixtures.inventory import ZohoEntity, ZohoSettings
from fixtures.zoho import MinuteWindow, ZohoClient, retry_after_seconds

ACCOUNTS = "https://accounts.example.test"
BOOKS = "https://zoho.example.test/books/v3"
INVENTORY = "https://zoho.example.test/inventory/v1"
REFRESH_TOKEN = "1000.refresh-never-shown"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
# What the ERP table holds, as the count check passes it: with per_page 2 and the default 100 % allowance,
# a list may take ceil(5 * 2 / 2) + 2 = 7 pages.
ERP_RECORDS = 5

ITEMS = ZohoEntity(list="items", table="products", id_column="zoho_item_id", id_field="item_id")
CONTACTS = ZohoEntity(
    list="contacts", table="customers", id_column="zoho_contact_id", id_field="contact_id", contact_type="customer"
)


class FakeTime:
    """An injected clock: sleeping advances it, nothing really waits."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def settings(**overrides) -> ZohoSettings:
    values = dict(
        accounts_url=ACCOUNTS, books_url=BOOKS, inventory_url=INVENTORY, client_id="client-id",
        client_secret="client-secret", refresh_token=REFRESH_TOKEN, organization_id="777", timeout_seconds=2.0,
        per_page=2, entities={"items": ITEMS},
    )  # fmt: skip
    return ZohoSettings(**{**values, **overrides})


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(fake_time):
    with TargetClient(settings()) as http:
        yield ZohoClient(settings(), http=http, clock=fake_time.clock, sleep=fake_time.sleep, now=lambda: NOW)


@pytest.fixture
def zoho():
    with respx.mock(assert_all_called=False) as router:
        router.post(f"{ACCOUNTS}/oauth/v2/token").mock(
            return_value=httpx.Response(200, json={"access_token": "tok-1", "expires_in": 3600})
        )
        yield router


def page(list_name: str, ids: list[str], number: int, more: bool, **extra) -> httpx.Response:
    records = [{f"{list_name[:-1]}_id": i, "last_modified_time": "2026-01-01T10:00:00+0000", **extra} for i in ids]
    context = {"page": number, "per_page": 2, "has_more_page": more}
    return httpx.Response(200, json={"code": 0, "message": "success", list_name: records, "page_context": context})


def test_pagination_reads_every_page_until_has_more_page_is_false(client, zoho):
    route = zoho.get(f"{BOOKS}/items").mock(
        side_effect=[
            page("items", ["1", "2"], 1, True),
            page("items", ["3", "4"], 2, True),
            page("items", ["5"], 3, False),
        ]
    )
    assert client.list_ids(ITEMS, expected_records=ERP_RECORDS) == ["1", "2", "3", "4", "5"]
    assert [call.request.url.params["page"] for call in route.calls] == ["1", "2", "3"]
    assert {call.request.url.params["per_page"] for call in route.calls} == {"2"}
    assert {call.request.url.params["organization_id"] for call in route.calls} == {"777"}
    assert {call.request.headers["Authorization"] for call in route.calls} == {"Zoho-oauthtoken tok-1"}
    assert client.calls == {"books": 3, "inventory": 0, "oauth": 1}


def test_books_is_asked_first_and_inventory_only_after_a_404(client, zoho):
    zoho.get(f"{BOOKS}/items").mock(return_value=httpx.Response(404, json={"code": 5, "message": "Invalid URL"}))
    zoho.get(f"{INVENTORY}/items").mock(return_value=page("items", ["9"], 1, False))
    assert client.list_ids(ITEMS, expected_records=ERP_RECORDS) == ["9"]
    assert client.calls == {"books": 1, "inventory": 1, "oauth": 1}


def test_inventory_entities_go_straight_to_inventory(client, zoho):
    books = zoho.get(f"{BOOKS}/items").mock(return_value=page("items", ["1"], 1, False))
    zoho.get(f"{INVENTORY}/items").mock(return_value=page("items", ["7"], 1, False))
    assert client.list_ids(ITEMS.model_copy(update={"api": "inventory"}), expected_records=ERP_RECORDS) == ["7"]
    assert not books.called


def test_contacts_are_filtered_by_contact_type(client, zoho):
    route = zoho.get(f"{BOOKS}/contacts").mock(return_value=page("contacts", ["c1"], 1, False))
    assert client.list_ids(CONTACTS, expected_records=ERP_RECORDS) == ["c1"]
    assert route.calls[0].request.url.params["contact_type"] == "customer"


def test_freshness_asks_one_record_sorted_by_last_modified_time_descending(client, zoho):
    route = zoho.get(f"{BOOKS}/items").mock(return_value=page("items", ["1"], 1, False))
    assert client.newest_modified(ITEMS) == datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    params = route.calls[0].request.url.params
    assert (params["sort_column"], params["sort_order"], params["per_page"]) == ("last_modified_time", "D", "1")


def test_429_with_delta_seconds_waits_that_long_and_retries(client, zoho, fake_time):
    zoho.get(f"{BOOKS}/items").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), page("items", ["1"], 1, False)]
    )
    assert client.list_ids(ITEMS, expected_records=ERP_RECORDS) == ["1"]
    assert 7 in fake_time.sleeps
    assert client.calls["books"] == 2


def test_429_with_an_http_date_waits_until_that_date(client, zoho, fake_time):
    later = format_datetime(NOW + timedelta(seconds=12), usegmt=True)
    zoho.get(f"{BOOKS}/items").mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": later}), page("items", ["1"], 1, False)]
    )
    assert client.list_ids(ITEMS, expected_records=ERP_RECORDS) == ["1"]
    assert 12 in fake_time.sleeps


def test_retry_after_forms():
    assert retry_after_seconds("30", NOW) == 30
    assert retry_after_seconds(format_datetime(NOW + timedelta(minutes=1), usegmt=True), NOW) == 60
    assert retry_after_seconds(format_datetime(NOW - timedelta(minutes=1), usegmt=True), NOW) == 0
    assert retry_after_seconds("soon", NOW) is None
    assert retry_after_seconds(None, NOW) is None


def test_429_beyond_the_retry_budget_fails_as_rate_limited(client, zoho):
    route = zoho.get(f"{BOOKS}/items").mock(return_value=httpx.Response(429, headers={"Retry-After": "1"}))
    with pytest.raises(CheckFailed) as caught:
        client.list_ids(ITEMS, expected_records=ERP_RECORDS)
    assert caught.value.kind == "rate_limited"
    assert route.call_count == 1 + client.settings.max_retries


def test_401_refreshes_the_token_once_and_retries(client, zoho):
    zoho.post(f"{ACCOUNTS}/oauth/v2/token").mock(
        side_effect=[
            httpx.Response(200, json={"access_token": "tok-old", "expires_in": 3600}),
            httpx.Response(200, json={"access_token": "tok-new", "expires_in": 3600}),
        ]
    )
    route = zoho.get(f"{BOOKS}/items").mock(
        side_effect=[httpx.Response(401, json={"code": 57}), page("items", ["1"], 1, False)]
    )
    assert client.list_ids(ITEMS, expected_records=ERP_RECORDS) == ["1"]
    assert [call.request.headers["Authorization"] for call in route.calls] == [
        "Zoho-oauthtoken tok-old",
        "Zoho-oauthtoken tok-new",
    ]
    assert client.calls == {"books": 2, "inventory": 0, "oauth": 2}


def test_401_after_the_refresh_fails_as_zoho_auth_without_the_token(client, zoho):
    zoho.get(f"{BOOKS}/items").mock(return_value=httpx.Response(401, json={"code": 57}))
    with pytest.raises(CheckFailed) as caught:
        client.list_ids(ITEMS, expected_records=ERP_RECORDS)
    assert caught.value.kind == "zoho_auth"
    assert client.calls == {"books": 2, "inventory": 0, "oauth": 2}
    assert "tok-1" not in str(caught.value) and REFRESH_TOKEN not in str(caught.value)


def test_a_refused_refresh_token_fails_as_zoho_auth(client, zoho):
    zoho.post(f"{ACCOUNTS}/oauth/v2/token").mock(return_value=httpx.Response(400, json={"error": "invalid_code"}))
    with pytest.raises(CheckFailed) as caught:
        client.list_ids(ITEMS, expected_records=ERP_RECORDS)
    assert caught.value.kind == "zoho_auth"
    assert caught.value.evidence["error"] == "invalid_code"
    assert REFRESH_TOKEN not in str(caught.value)


def test_every_call_has_an_explicit_timeout(client, zoho):
    zoho.get(f"{BOOKS}/items").mock(return_value=page("items", ["1"], 1, False))
    client.list_ids(ITEMS, expected_records=ERP_RECORDS)
    assert len(zoho.calls) == 2
    for call in zoho.calls:
        assert call.request.extensions["timeout"] == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


def test_a_timeout_fails_as_timeout_and_a_refused_connection_as_unreachable(client, zoho):
    zoho.get(f"{BOOKS}/items").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(CheckFailed) as caught:
        client.list_ids(ITEMS, expected_records=ERP_RECORDS)
    assert caught.value.kind == "timeout"
    zoho.get(f"{BOOKS}/items").mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(CheckFailed) as caught:
        client.list_ids(ITEMS, expected_records=ERP_RECORDS)
    assert caught.value.kind == "unreachable"


def test_minute_window_keeps_every_60_seconds_within_the_limit(fake_time):
    window = MinuteWindow(60, clock=fake_time.clock, sleep=fake_time.sleep)
    waits = [window.acquire() for _ in range(122)]
    margin = MinuteWindow.MARGIN_SECONDS
    # The burst goes at once; the 61st waits until the first has left the window, and so on.
    assert waits[:60] == [0.0] * 60
    assert waits[60] == pytest.approx(60.0 + margin)
    assert waits[61:120] == [0.0] * 59
    assert waits[120] == pytest.approx(60.0 + margin)
    assert fake_time.now == pytest.approx(1000.0 + 2 * (60.0 + margin))


def test_client_paces_books_at_its_configured_rate(fake_time, zoho):
    zoho.get(f"{BOOKS}/items").mock(return_value=page("items", ["1"], 1, False))
    with TargetClient(settings(books_per_minute=2)) as http:
        client = ZohoClient(
            settings(books_per_minute=2), http=http, clock=fake_time.clock, sleep=fake_time.sleep, now=lambda: NOW
        )
        for _ in range(4):
            client.list_ids(ITEMS, expected_records=ERP_RECORDS)
    # Two calls of the burst, then the next two once the first two have left the minute.
    margin = MinuteWindow.MARGIN_SECONDS
    assert fake_time.sleeps == [pytest.approx(60.0 + margin)]
    assert fake_time.now == pytest.approx(1060.0 + margin)


def test_the_access_token_joins_the_runs_secrets(client, zoho):
    run_redactor = redaction.current()
    redaction.install(redaction.Redactor())
    try:
        zoho.get(f"{BOOKS}/items").mock(return_value=page("items", ["1"], 1, False))
        client.list_ids(ITEMS, expected_records=ERP_RECORDS)
        assert redaction.current().redact("Authorization tok-1") == "Authorization ***"
    finally:
        redaction.install(run_redactor)


def test_endless_pagination_stops_at_the_page_cap_from_the_erp_count(client, zoho):
    # Zoho claims more pages forever, each with new records.
    counter = iter(range(1, 10_000))

    def endless(request):
        number = next(counter)
        return page("items", [f"{number}a", f"{number}b"], number, True)

    route = zoho.get(f"{BOOKS}/items").mock(side_effect=endless)
    with pytest.raises(CheckFailed) as caught:
        client.list_ids(ITEMS, expected_records=ERP_RECORDS)
    failure = caught.value
    assert (failure.kind, failure.title) == ("contract", "Zoho books items kept answering has_more_page beyond 7 pages")
    assert route.call_count == 7
    assert failure.evidence["page_cap_from"] == "5 ERP records + 100% at 2 per page + 2"
    assert (failure.evidence["records_read"], failure.evidence["distinct_ids"]) == (14, 14)


def test_the_page_cap_never_asks_more_calls_than_the_rate_allows_in_the_time_budget(fake_time, zoho):
    route = zoho.get(f"{BOOKS}/items").mock(return_value=page("items", ["1", "2"], 1, True))
    with TargetClient(settings()) as http:
        client = ZohoClient(
            settings(books_per_minute=6), http=http, clock=fake_time.clock, sleep=fake_time.sleep, now=lambda: NOW,
            time_budget_seconds=40,
        )  # fmt: skip
        with pytest.raises(CheckFailed) as caught:
            client.list_ids(ITEMS, expected_records=1000)
    # 6 calls a minute within 40 s: 4 pages, though 1000 records would allow 1002.
    assert caught.value.title == "Zoho books items kept answering has_more_page beyond 4 pages"
    assert caught.value.evidence["page_cap_from"] == "6 books calls a minute within the 40 s budget"
    assert (route.call_count, caught.value.evidence["distinct_ids"]) == (4, 2)
