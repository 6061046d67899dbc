"""The run's report files, written once by the xdist controller.

Every text passes through the run's redactor before it reaches a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from remedies.analysis import Failure, explained_by, roots

RISK_MARK = {"safe": "safe", "guarded": "guarded: needs --heal-approve", "destructive": "destructive: never run"}


@dataclass
class HealOutcome:
    """What ``--heal`` planned, ran and verified."""

    dry_run: bool
    steps: list = field(default_factory=list)  # (PlannedStep, StepResult | None)
    refused: str = ""  # why nothing ran at all (lock held, healing disabled)


@dataclass
class RunResult:
    target: str
    target_kind: str
    started_at: datetime
    finished_at: datetime
    passed: int
    failed: int
    skipped: int
    failures: list[Failure]
    heal: HealOutcome | None = None

    @property
    def healed(self) -> int:
        return sum(1 for failure in self.failures if failure.healed)

    def summary(self) -> dict[str, int]:
        return {"passed": self.passed, "failed": self.failed, "healed": self.healed}


def findings_json(result: RunResult, catalog) -> str:
    document = {
        "target": result.target,
        "summary": result.summary(),
        "failures": [failure.as_finding() for failure in result.failures],
        "started_at": result.started_at.isoformat(timespec="seconds"),
        "finished_at": result.finished_at.isoformat(timespec="seconds"),
        "recipes": {
            recipe_id: catalog.get(recipe_id).title
            for recipe_id in sorted({f.recipe for f in result.failures if f.recipe})
        },
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def suggestions_text(result: RunResult, catalog) -> str:
    """auto_healing_suggestions.txt: one block per root cause, as the seed pipeline wrote it."""
    lines = [
        "AUTO-HEALING SUGGESTIONS",
        "========================",
        f"Target: {result.target} ({result.target_kind})",
        f"Generated: {result.finished_at.isoformat(timespec='seconds')}",
        f"Checks: {result.passed} passed, {result.failed} failed",
        "",
    ]
    if not result.failures:
        lines.append("No issue detected: every selected check passed.")
    for group in _group_by_recipe(roots(result.failures)):
        dependents = [dependent for root in group for dependent in explained_by(root, result.failures)]
        lines += _issue_block(group, dependents, catalog)
    return "\n".join(lines) + "\n"


def _group_by_recipe(root_failures: list[Failure]) -> list[list[Failure]]:
    """Roots that share a recipe form one issue; a root without a recipe stands alone."""
    groups: dict[str, list[Failure]] = {}
    for root in root_failures:
        groups.setdefault(root.recipe or f"no recipe: {root.nodeid}", []).append(root)
    return list(groups.values())


def _issue_block(group: list[Failure], dependents: list[Failure], catalog) -> list[str]:
    root = group[0]
    if root.recipe is None:
        return [
            f"ISSUE DETECTED: no recipe for {root.nodeid} (kind {root.kind})",
            f"   Diagnosis: {root.message}",
            "   Suggested Fix: none known; this failure needs a human and a new recipe.",
            *_dependents(dependents),
            "",
        ]
    recipe = catalog.get(root.recipe)
    params = _render_params(root)
    lines = [
        f"ISSUE DETECTED: {recipe.title} [{recipe.id} {recipe.key}, {recipe.severity}]",
        *[f"   Check: {failure.nodeid} ({failure.kind})" for failure in group],
        f"   Diagnosis: {recipe.render(recipe.diagnosis, params)}",
        f"   Evidence: {root.message}",
        "   Possible Cause: " + "; ".join(recipe.render(cause, params) for cause in recipe.likely_causes),
        "   Suggested Fix:",
    ]
    for number, step in enumerate(recipe.steps, 1):
        lines.append(f"      {number}. {describe_step(recipe, step, params)} ({RISK_MARK[step.risk]})")
    lines.append(f"   Verification: {recipe.render(recipe.verification, params)}")
    if root.healed is not None:
        healed = sum(1 for failure in group if failure.healed)
        lines.append(f"   Healed: {healed}/{len(group)} checks")
    return [*lines, *_dependents(dependents), ""]


def _dependents(dependents: list[Failure]) -> list[str]:
    if not dependents:
        return []
    return [f"   Explains {len(dependents)} dependent failure(s):"] + [
        f"      - {failure.nodeid} ({failure.kind})" for failure in dependents
    ]


def describe_step(recipe, step, params: dict) -> str:
    """A recipe step in words, with the failure's parameters filled in."""
    if step.action == "manual":
        return recipe.render(step.text, params)
    if step.action == "service":
        return f"{step.operation} service {step.service}"
    if step.action == "sql":
        return f"run SQL statement {step.statement}"
    if step.action == "http":
        return f"{step.method} {recipe.render(step.path, params)}"
    return f"run command {step.command}"


def _render_params(failure: Failure) -> dict:
    return {**failure.params, "nodeid": failure.nodeid, "kind": failure.kind, "check": failure.nodeid.split("::")[-1]}


def markdown_summary(result: RunResult, catalog) -> str:
    """A Markdown summary fit for $GITHUB_STEP_SUMMARY."""
    verdict = "passed" if not result.failures else ("healed" if result.healed == len(result.failures) else "failed")
    lines = [
        f"## TSH ERP verification: {result.target} - {verdict}",
        "",
        f"**{result.passed}** passed, **{result.failed}** failed, **{result.healed}** healed, "
        f"{result.skipped} skipped.",
        "",
    ]
    if result.failures:
        lines += ["| Check | Kind | Recipe | Root cause | Healed |", "|---|---|---|---|---|"]
        for failure in result.failures:
            recipe = f"{failure.recipe} {catalog.get(failure.recipe).title}" if failure.recipe else "no recipe"
            healed = {None: "-", True: "yes", False: "no"}[failure.healed]
            lines.append(
                f"| `{failure.nodeid}` | {failure.kind} | {recipe} | "
                f"{'`' + failure.root_cause + '`' if failure.root_cause else 'itself'} | {healed} |"
            )
    if result.heal is not None:
        lines += ["", "### Healing" + (" (dry run)" if result.heal.dry_run else ""), ""]
        lines += [f"- {line}" for line in heal_lines(result.heal)] or ["- nothing to do"]
    return "\n".join(lines) + "\n"


def heal_lines(heal: HealOutcome) -> list[str]:
    """One line per planned step: what, why, and what happened."""
    if heal.refused:
        return [f"healing did not run: {heal.refused}"]
    lines = []
    for planned, outcome in heal.steps:
        result = f" -> {outcome.status}: {outcome.detail}" if outcome is not None else ""
        reason = f" ({planned.reason})" if planned.reason else ""
        lines.append(f"[{planned.recipe_id}] {planned.description} [{planned.risk}] {planned.decision}{reason}{result}")
    return lines


def healing_report_text(result: RunResult) -> str:
    """healing_report_<timestamp>.txt: the plan, each action's result, and the verdict per failure."""
    heal = result.heal
    lines = [
        "HEALING REPORT",
        "==============",
        f"Target: {result.target} ({result.target_kind})",
        f"Time: {result.finished_at.isoformat(timespec='seconds')}",
        f"Mode: {'dry run (nothing changed)' if heal.dry_run else 'heal'}",
        "",
        "Actions:",
        *[f"  {line}" for line in heal_lines(heal)],
        "",
        "Verification (failed checks re-run after the actions):",
    ]
    for failure in result.failures:
        verdict = {None: "not verified", True: "HEALED", False: "NOT HEALED"}[failure.healed]
        note = f" - {failure.heal_note}" if failure.heal_note else ""
        lines.append(f"  {verdict}: {failure.nodeid}{note}")
    lines += ["", f"Result: {result.healed}/{len(result.failures)} failures healed"]
    return "\n".join(lines) + "\n"


def allure_environment(result: RunResult) -> str:
    return f"target={result.target}\ntarget.kind={result.target_kind}\nchecks.failed={result.failed}\n"



def write_text(path: Path, text: str, redact: Callable[[str], str]) -> None:
    """Write ``text`` redacted, atomically (a reader never sees half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(redact(text), encoding="utf-8")
    os.replace(partial, path)
