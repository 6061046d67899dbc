"""The verification re-run's selection: failed ids, and a parametrized id whose parameters changed since."""

from __future__ import annotations

from remedies.verify import outcome_of, select_items

OPS = "suites/api/test_openapi_operations.py::test_get_operation_answers"
HEALTH = "suites/api/test_health.py::test_health_reports_healthy[public]"


def test_a_parametrized_id_collected_no_more_is_judged_by_its_functions_ids():
    collected = [
        HEALTH,
        f"{OPS}[/health]",
        f"{OPS}[/api/x]",
        "suites/api/test_health.py::test_health_latency_within_limit[public]",
    ]
    selected = {HEALTH, f"{OPS}[openapi.json]"}
    assert select_items(selected, collected) == {HEALTH, f"{OPS}[/health]", f"{OPS}[/api/x]"}
    outcomes = {HEALTH: "passed", f"{OPS}[/health]": "passed", f"{OPS}[/api/x]": "passed"}
    assert outcome_of(f"{OPS}[openapi.json]", outcomes) == "passed"
    assert outcome_of(f"{OPS}[openapi.json]", {**outcomes, f"{OPS}[/api/x]": "failed"}) == "failed"
    assert outcome_of("suites/x.py::test_gone", outcomes) == "not run"
    assert select_items({HEALTH}, collected) == {HEALTH}
