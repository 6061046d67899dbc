"""The verification re-run selects node ids inside pytest: an id that no longer exists is judged by its function."""

from __future__ import annotations

import json

from remedies.verify import VerifySelection, outcome_of

UNREADABLE = "suites/api/test_openapi_operations.py::test_get_operation_answers[openapi.json]"
OPERATION = "suites/api/test_openapi_operations.py::test_get_operation_answers[{}]"
HEALTH = "suites/api/test_health.py::test_health_reports_healthy[app]"


def test_an_id_that_no_longer_exists_selects_and_is_judged_by_its_functions_checks(tmp_path):
    selection = tmp_path / "select.json"
    selection.write_text(json.dumps([UNREADABLE, HEALTH]), encoding="utf-8")
    collected = [HEALTH, OPERATION.format("/api/products"), OPERATION.format("/api/invoices"), "x.py::test_other"]
    assert VerifySelection(selection).kept(collected) == set(collected[:3])
    passed = dict.fromkeys(collected[:3], "passed")
    assert outcome_of(UNREADABLE, passed) == "passed"
    assert outcome_of(UNREADABLE, {**passed, OPERATION.format("/api/invoices"): "failed"}) == "failed"
    assert outcome_of(UNREADABLE, {**passed, OPERATION.format("/api/invoices"): "skipped"}) == "passed"
    assert outcome_of(UNREADABLE, dict.fromkeys(passed, "skipped")) == "skipped"
    assert outcome_of(HEALTH, passed) == "passed"
    assert outcome_of("x.py::test_gone[a]", passed) == "not run"
    assert outcome_of("x.py::test_gone", {"x.py::test_gone[b]": "passed"}) == "not run"
