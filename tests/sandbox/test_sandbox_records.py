"""The app's GET operations: /openapi.json lists exactly the ones facts.py names, and the read routes answer JSON."""

from __future__ import annotations

import httpx
import pytest

from sandbox import Sandbox
from sandbox.facts import BEARER_PATHS, GET_PATHS, RECORD_PATHS

# Valid example values for every operation with parameters (seed ids: customers 1-50, products 1-80, invoices 1-30).
EXAMPLES = {
    "/api/customers": ("/api/customers", {"limit": 5}),
    "/api/customers/{customer_id}": ("/api/customers/1", {}),
    "/api/products": ("/api/products", {"limit": 5}),
    "/api/products/summary": ("/api/products/summary", {}),
    "/api/products/{product_id}": ("/api/products/7", {}),
    "/api/invoices": ("/api/invoices", {"status": "paid"}),
    "/api/invoices/{invoice_id}": ("/api/invoices/3", {}),
}


@pytest.fixture
def token_headers(sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.env()['TSH_SANDBOX_API_TOKEN']}"}


def test_openapi_lists_every_get_operation_facts_names_and_which_need_the_token(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    operations = {path: spec["get"] for path, spec in paths.items() if "get" in spec}
    assert sorted(operations) == sorted(GET_PATHS)
    secured = sorted(path for path, operation in operations.items() if operation.get("security"))
    assert secured == sorted(BEARER_PATHS)
    parameters = {path: [p["name"] for p in operation.get("parameters", [])] for path, operation in operations.items()}
    assert {path: parameters[path] for path in RECORD_PATHS} == {
        "/api/customers": ["limit"],
        "/api/customers/{customer_id}": ["customer_id"],
        "/api/products": ["limit"],
        "/api/products/summary": [],
        "/api/products/{product_id}": ["product_id"],
        "/api/invoices": ["status"],
        "/api/invoices/{invoice_id}": ["invoice_id"],
    }


@pytest.mark.parametrize("operation", RECORD_PATHS)
def test_each_read_route_answers_a_json_object_with_the_token_and_401_without(
    client: httpx.Client, token_headers: dict[str, str], operation: str
) -> None:
    url, params = EXAMPLES[operation]
    answer = client.get(url, params=params, headers=token_headers)
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json(), dict)
    anonymous = client.get(url, params=params)
    assert (anonymous.status_code, anonymous.json()) == (401, {"detail": "Not authenticated"})
    assert anonymous.headers["www-authenticate"] == "Bearer"


def test_read_routes_answer_from_the_database(client: httpx.Client, token_headers: dict[str, str], query) -> None:
    customers = client.get("/api/customers", params={"limit": 3}, headers=token_headers).json()
    assert (customers["count"], customers["limit"]) == (3, 3)
    assert [c["zoho_contact_id"] for c in customers["customers"]] == ["4600000000001", "4600000000002", "4600000000003"]
    product = client.get("/api/products/7", headers=token_headers).json()
    assert (product["id"], product["zoho_item_id"], product["name"], product["price"]) == (
        7,
        "4700000000007",
        "Product 007",
        50.75,
    )
    summary = client.get("/api/products/summary", headers=token_headers).json()
    expected = query("SELECT count(*) AS total, sum(stock_on_hand) AS stock FROM products")[0]
    assert (summary["total"], summary["stock_on_hand"]) == (expected["total"], expected["stock"])
    paid = client.get("/api/invoices", params={"status": "paid"}, headers=token_headers).json()
    assert paid["count"] == query("SELECT count(*) AS n FROM invoices WHERE status = 'paid'")[0]["n"] == 10
    assert {invoice["status"] for invoice in paid["invoices"]} == {"paid"}
    assert client.get("/api/invoices", headers=token_headers).json()["count"] == 30


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        ("/api/customers/999", {}, 404),
        ("/api/products/0", {}, 404),
        ("/api/invoices/31", {}, 404),
        ("/api/products/abc", {}, 422),
        ("/api/customers", {"limit": 0}, 422),
        ("/api/invoices", {"status": "lost"}, 422),
    ],
)
def test_unknown_ids_are_404_and_bad_parameters_422(
    client: httpx.Client, token_headers: dict[str, str], url: str, params: dict, status: int
) -> None:
    assert client.get(url, params=params, headers=token_headers).status_code == status
