"""Every shipped recipe, rendered for a real check it matches, leaves no ``{placeholder}`` in any output."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from suite_runner import run_suite, suite_env

from fixtures.inventory import TARGETS_DIR, load_inventory
from fixtures.kinds import Kind
from remedies import reports
from remedies.analysis import Failure
from remedies.catalog import glob_regex, load_catalog
from remedies.healing import Healer, HealOutcome
from remedies.render import Renderer, failure_fields

PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
WHEN = datetime(2026, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def collected_checks(sandbox, tmp_path_factory) -> dict[str, dict]:
    """node id -> parameters of every check of the sandbox target, as pytest collects them."""
    out = tmp_path_factory.mktemp("collect") / "checks.json"
    env = {**suite_env(sandbox), "PYTHONPATH": "tests", "TSH_COLLECTED_CHECKS": str(out)}
    run = run_suite(sandbox, out.parent / "reports", "--collect-only", "-q", "-p", "collected_checks", env=env)
    assert run.exit_code == 0, run.output
    return json.loads(out.read_text(encoding="utf-8"))


def test_every_recipe_renders_without_placeholders_for_every_check_it_matches(
    collected_checks, sandbox, tmp_path, monkeypatch
):
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    inventory = load_inventory(TARGETS_DIR / "sandbox.toml")
    catalog = load_catalog()
    renderer = Renderer(catalog, inventory)
    unmatched = []
    for recipe in catalog:
        matching = [
            nodeid
            for nodeid in collected_checks
            if any(glob_regex(glob).fullmatch(nodeid) for glob in recipe.match.nodeids)
        ]
        if not matching:
            unmatched.append(recipe.id)
        for nodeid in matching:
            kind = (recipe.match.kinds or [Kind.ERROR])[0]
            # The slots are what the active-slot check's evidence names (H17 switches to the other one).
            evidence = {"status": 500, "active_slot": "blue", "other_slot": "green"}
            failure = Failure(nodeid, kind, collected_checks[nodeid], evidence, message="sample", recipe=recipe.id)
            result = reports.RunResult("sandbox", "sandbox", WHEN, WHEN, 1, 1, 0, [failure], HealOutcome(True))
            healer = Healer(inventory, approvals=set(), dry_run=True, reports_dir=tmp_path, redact=str)
            plan = healer.plan([(recipe, failure.params, failure_fields(failure))])
            result.heal.steps = healer.execute(plan)
            outputs = {
                "remedy (HTML, Allure)": renderer.remedy_text(failure, recipe.id),
                "auto_healing_suggestions.txt": reports.suggestions_text(result, renderer),
                "summary.md": reports.markdown_summary(result, renderer),
                "terminal": "\n".join(reports.root_cause_lines(result, renderer)),
                "healing report": reports.healing_report_text(result),
            }
            for name, text in outputs.items():
                assert not PLACEHOLDER.findall(text), (recipe.id, nodeid, name, PLACEHOLDER.findall(text))
    assert unmatched == [], f"recipes that match no check of the sandbox target: {unmatched}"
