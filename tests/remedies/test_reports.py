"""Report texts: findings.json shape, suggestions per root cause, Markdown, healing report."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from fixtures.reporting import write_text
from remedies import reports
from remedies.analysis import Failure
from remedies.catalog import load_catalog
from remedies.healing import HealOutcome
from remedies.plugin import RECIPES_DIR
from remedies.render import Renderer

ACCEPT = "suites/webhooks/test_webhook_delivery.py::test_webhook_accepts_and_records_event[invoices]"
COMPLETE = "suites/sync/test_queue_processing.py::test_probe_event_reaches_completed[invoices]"
ORPHAN = "suites/api/test_other.py::test_unknown"
WHEN = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def renderer():
    return Renderer(load_catalog(RECIPES_DIR))


def result(failures, heal=None) -> reports.RunResult:
    return reports.RunResult("sandbox", "sandbox", WHEN, WHEN, 28, len(failures), 0, failures, heal)


def sample_failures() -> list[Failure]:
    return [
        Failure(ACCEPT, "http_status", {"entity": "invoices"}, message="expected 202, got 500", recipe="H07"),
        Failure(COMPLETE, "http_status", {"entity": "invoices"}, recipe="H07", root_cause=ACCEPT),
        Failure(ORPHAN, "error", message="ValueError: odd"),
    ]


def test_findings_json_has_the_contract_keys(renderer):
    document = json.loads(reports.findings_json(result(sample_failures()), renderer))
    assert document["target"] == "sandbox"
    assert document["summary"] == {"passed": 28, "failed": 3, "healed": 0}
    assert [
        {key: f[key] for key in ("nodeid", "kind", "recipe", "root_cause", "healed")} for f in document["failures"]
    ] == [
        {"nodeid": ACCEPT, "kind": "http_status", "recipe": "H07", "root_cause": None, "healed": None},
        {"nodeid": COMPLETE, "kind": "http_status", "recipe": "H07", "root_cause": ACCEPT, "healed": None},
        {"nodeid": ORPHAN, "kind": "error", "recipe": None, "root_cause": None, "healed": None},
    ]


def test_suggestions_have_one_block_per_root_and_report_failures_without_recipe(renderer):
    text = reports.suggestions_text(result(sample_failures()), renderer)
    assert text.count("ISSUE DETECTED:") == 2
    assert "ISSUE DETECTED: Webhook processing raised an error [H07 webhook_server_error, error]" in text
    assert f"   Explains 1 dependent failure(s):\n      - {COMPLETE} (http_status)" in text
    assert f"ISSUE DETECTED: no recipe for {ORPHAN} (kind error)" in text


def test_roots_sharing_a_recipe_form_one_issue(renderer):
    stalled = [
        Failure(
            f"suites/sync/test_queue_processing.py::test_probe_event_reaches_completed[{e}]",
            "not_processed",
            {"entity": e},
            recipe="H11",
            healed=True,
        )
        for e in ("orders", "stock")
    ]
    text = reports.suggestions_text(result(stalled), renderer)
    assert text.count("ISSUE DETECTED:") == 1
    assert "[orders] (not_processed)" in text and "[stock] (not_processed)" in text
    assert "   Healed: 2/2 checks" in text


def test_all_passing_run_says_so(renderer):
    assert "No issue detected: every selected check passed." in reports.suggestions_text(result([]), renderer)


def test_markdown_summary_rows(renderer):
    failures = sample_failures()
    failures[0].healed = True
    text = reports.markdown_summary(result(failures), renderer)
    assert text.startswith("## TSH ERP verification: sandbox - failed\n")
    assert f"| `{ACCEPT}` | http_status | H07 Webhook processing raised an error | itself | yes |" in text
    assert f"| `{ORPHAN}` | error | no recipe | itself | - |" in text


def test_healing_report_states_each_verdict(renderer):
    failures = sample_failures()
    failures[0].healed, failures[0].heal_note = True, "re-run passed"
    failures[1].healed = False
    text = reports.healing_report_text(result(failures, HealOutcome(dry_run=False)))
    assert f"  HEALED: {ACCEPT} - re-run passed" in text
    assert f"  NOT HEALED: {COMPLETE}" in text
    assert "Result: 1/3 failures healed" in text


def test_write_text_redacts_and_replaces_atomically(tmp_path):
    target = tmp_path / "deep" / "report.txt"
    write_text(target, "token=abc-secret-1", lambda text: text.replace("abc-secret-1", "***"))
    assert target.read_text() == "token=***"
    assert [p.name for p in target.parent.iterdir()] == ["report.txt"]
