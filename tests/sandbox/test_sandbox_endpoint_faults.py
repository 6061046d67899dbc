"""Faults on the app's GET operations: route-shadowed, endpoint-undeclared-error, public-requires-auth."""

from __future__ import annotations

import httpx
import pytest

from sandbox import Sandbox, SandboxError
from sandbox.facts import BFF_PATHS, GET_PATHS, HEALTH_PATHS
from sandbox.faults import parse_fault
from sandbox.faults.endpoint import SHADOWABLE_PATHS, UNDECLARED_PATHS

INT_PARSING = "Input should be a valid integer, unable to parse string as an integer"


@pytest.fixture
def token(sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.env()['TSH_SANDBOX_API_TOKEN']}"}


def test_route_shadowed_answers_what_the_parameter_route_declared_before_it_answers(
    sandbox: Sandbox, client: httpx.Client, token: dict[str, str]
) -> None:
    assert client.get("/api/products/summary", headers=token).status_code == 200
    sandbox.apply_fault("route-shadowed:/api/products/summary")
    assert sandbox.faults() == ["route-shadowed:/api/products/summary"]
    shadowed = client.get("/api/products/summary", headers=token)
    assert shadowed.status_code == 422
    assert shadowed.json() == {
        "detail": [{"type": "int_parsing", "loc": ["path", "product_id"], "msg": INT_PARSING, "input": "summary"}]
    }
    real = client.get("/api/products/summarx", headers=token)  # what FastAPI's own int route answers
    assert real.status_code == 422
    assert real.json()["detail"] == [{**shadowed.json()["detail"][0], "input": "summarx"}]
    assert client.get("/api/products/summary").status_code == 401  # the capturing route is protected too
    assert "/api/products/summary" in client.get("/openapi.json").json()["paths"]
    assert client.get("/api/products/7", headers=token).status_code == 200
    assert client.get("/api/products", headers=token).status_code == 200


def test_route_shadowed_on_a_public_path_needs_no_token(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.apply_fault("route-shadowed:/api/tds/webhooks/stats")
    answer = client.get("/api/tds/webhooks/stats")
    assert (answer.status_code, answer.json()["detail"][0]["loc"]) == (422, ["path", "webhook_id"])
    assert client.get("/api/tds/webhooks/health").status_code == 200


def test_endpoint_undeclared_error_fails_one_operation_after_authentication(
    sandbox: Sandbox, client: httpx.Client, token: dict[str, str]
) -> None:
    sandbox.apply_fault("endpoint-undeclared-error:/api/customers/{customer_id}")
    for url in ("/api/customers/1", "/api/customers/2"):
        failed = client.get(url, headers=token)
        assert (failed.status_code, failed.json()) == (500, {"detail": "Internal Server Error"})
    assert client.get("/api/customers/1").status_code == 401
    assert client.get("/api/customers", headers=token).status_code == 200
    assert all(client.get(path, headers=token).status_code == 200 for path in BFF_PATHS)


def test_endpoint_undeclared_error_on_a_public_operation(sandbox: Sandbox, client: httpx.Client) -> None:
    sandbox.apply_fault("endpoint-undeclared-error:/api/tds/webhooks/stats")
    assert client.get("/api/tds/webhooks/stats").status_code == 500
    assert client.get("/health").status_code == 200


def test_public_requires_auth_demands_the_token_of_one_public_path(
    sandbox: Sandbox, client: httpx.Client, token: dict[str, str]
) -> None:
    path = "/api/bff/salesperson/gps/health"
    sandbox.apply_fault(f"public-requires-auth:{path}")
    refused = client.get(path)
    assert (refused.status_code, refused.json()) == (401, {"detail": "Not authenticated"})
    assert refused.headers["www-authenticate"] == "Bearer"
    assert client.get(path, headers=token).json() == {"status": "healthy", "service": "gps"}
    assert [client.get(other).status_code for other in HEALTH_PATHS if other != path] == [200, 200]


def test_reset_clears_the_get_path_faults(sandbox: Sandbox, client: httpx.Client, token: dict[str, str]) -> None:
    for spec in (
        "route-shadowed:/api/customers",
        "endpoint-undeclared-error:/",
        f"public-requires-auth:{HEALTH_PATHS[1]}",
    ):
        sandbox.apply_fault(spec)
    assert client.get("/api/customers", headers=token).status_code == 422
    sandbox.reset()
    assert sandbox.faults() == []
    assert client.get("/api/customers", headers=token).status_code == 200
    assert client.get("/").status_code == 200
    assert client.get(HEALTH_PATHS[1]).status_code == 200


def test_the_fault_paths_follow_the_inventory_and_the_schema() -> None:
    assert set(UNDECLARED_PATHS) == set(GET_PATHS) - set(BFF_PATHS) - {"/health"}
    assert "/api/products/summary" in SHADOWABLE_PATHS and "/api/customers" in SHADOWABLE_PATHS
    assert not [path for path in SHADOWABLE_PATHS if "{" in path]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("route-shadowed:/api/products/{product_id}", "needs a GET path without path parameters, one of: "),
        ("route-shadowed:/health", "needs a GET path without path parameters"),
        (f"endpoint-undeclared-error:{BFF_PATHS[0]}", "needs a GET path the inventory's [api] endpoints do not list"),
        ("endpoint-undeclared-error:/health", "needs a GET path the inventory's [api] endpoints do not list"),
        (f"public-requires-auth:{BFF_PATHS[0]}", "needs a public BFF path, one of: /api/bff/salesperson/gps/health"),
        ("public-requires-auth", "needs a public BFF path"),
    ],
)
def test_bad_paths_are_refused_with_the_allowed_ones(spec: str, message: str) -> None:
    with pytest.raises(SandboxError) as caught:
        parse_fault(spec)
    assert message in str(caught.value)
