"""api.openapi_coverage: every GET operation of the target's own /openapi.json answers, with the bearer token.

Beside the inventory's named endpoints, each GET operation is called once (the
calls of a run are made concurrently and shared by every process). It fails on a
server error, and on a fixed path answering 404/405/422 — a parameter route
declared earlier can capture a fixed path. Only GET is ever sent, on every target.
"""

from __future__ import annotations

import pytest

from fixtures.failures import CheckFailed
from fixtures.openapi import Operation, call_operations

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.api]

CAPTURED = (404, 405, 422)
REFUSED = (401, 403)


@pytest.fixture(scope="session")
def operation_answers(request, inventory, http_client, run_dir) -> dict[str, dict]:
    callable_operations = [
        item.callspec.params["get_operation"]
        for item in request.session.items
        if "get_operation" in getattr(item, "fixturenames", ())
        and isinstance(item.callspec.params["get_operation"], Operation)
        and _why_not_called(item.callspec.params["get_operation"], inventory, request.session) is None
    ]
    return call_operations(inventory, http_client, callable_operations, run_dir)


def test_get_operation_answers(get_operation, inventory, request, operation_answers):
    if isinstance(get_operation, CheckFailed):
        raise get_operation
    reason = _why_not_called(get_operation, inventory, request.session)
    if reason:
        pytest.skip(reason)
    answer = operation_answers[get_operation.id]
    if "no_answer" in answer:
        failure = answer["no_answer"]
        raise CheckFailed(failure["kind"], failure["title"], **failure["evidence"])
    status, evidence = answer["status"], answer["evidence"]
    what = f"GET {get_operation.path}"
    if status >= 500:
        raise CheckFailed("http_status", f"{what}: server error {status} with the bearer token", **evidence)
    if status in REFUSED:
        pytest.skip(f"{what}: the bearer token does not open it ({status}); not verified")
    if get_operation.is_fixed and status in CAPTURED:
        raise CheckFailed(
            "contract", f"{what}: a fixed path answered {status} (captured by a parameter route?)", **evidence
        )
    if not 200 <= status < 300:
        raise CheckFailed("contract", f"{what}: answered {status} with the inventory's example values", **evidence)


def _why_not_called(operation: Operation, inventory, session) -> str | None:
    settings = inventory.api.openapi
    excluded = settings.exclusion(operation.path)
    if excluded:
        return f"excluded in the inventory: {excluded}"
    missing = operation.missing_examples(settings.examples)
    if missing:
        return f"not callable: no example value for {', '.join(missing)} (api.openapi.examples)"
    if inventory.api.bearer_token is None:
        return "no bearer token configured ([api] bearer_token)"
    operations = [
        item.callspec.params["get_operation"]
        for item in session.items
        if "get_operation" in getattr(item, "fixturenames", ())
    ]
    position = next((n for n, o in enumerate(operations) if o == operation), 0)
    if position >= settings.max_operations:
        return f"beyond the cap of {settings.max_operations} operations (api.openapi.max_operations)"
    return None
