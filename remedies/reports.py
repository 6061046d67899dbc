"""The run's report files, written once by the xdist controller.

Every text passes through the run's redactor before it reaches a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from remedies.analysis import Failure, explained_by, roots
from remedies.healing import DECISIONS, HealOutcome
from remedies.render import RISK_NOTE, Renderer, evidence_summary


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


def findings_json(result: RunResult, renderer: Renderer) -> str:
    document = {
        "target": result.target,
        "summary": result.summary(),
        "failures": [failure.as_finding() for failure in result.failures],
        "started_at": result.started_at.isoformat(timespec="seconds"),
        "finished_at": result.finished_at.isoformat(timespec="seconds"),
        "recipes": {
            recipe_id: renderer.catalog.get(recipe_id).title
            for recipe_id in sorted({f.recipe for f in result.failures if f.recipe})
        },
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def suggestions_text(result: RunResult, renderer: Renderer) -> str:
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
        lines += _issue_block(group, dependents, renderer)
    return "\n".join(lines) + "\n"


def _group_by_recipe(root_failures: list[Failure]) -> list[list[Failure]]:
    """Roots that share a recipe form one issue; a root without a recipe stands alone."""
    groups: dict[str, list[Failure]] = {}
    for root in root_failures:
        groups.setdefault(root.recipe or f"no recipe: {root.nodeid}", []).append(root)
    return list(groups.values())


def _issue_block(group: list[Failure], dependents: list[Failure], renderer: Renderer) -> list[str]:
    root = group[0]
    evidence = evidence_summary(root.evidence)
    rendered = renderer.for_failure(root, root.recipe)
    if rendered is None:
        return [
            f"ISSUE DETECTED: no recipe for {root.nodeid} (kind {root.kind})",
            f"   Diagnosis: {root.message}",
            *([f"   Evidence: {evidence}"] if evidence else []),
            "   Suggested Fix: none known; this failure needs a human and a new recipe.",
            *_dependents(dependents),
            "",
        ]
    lines = [
        f"ISSUE DETECTED: {rendered.title} [{rendered.id} {rendered.key}, {rendered.severity}]",
        *[f"   Check: {failure.nodeid} ({failure.kind})" for failure in group],
        f"   Diagnosis: {rendered.diagnosis}",
        f"   Finding: {root.message}",
        *([f"   Evidence: {evidence}"] if evidence else []),
        "   Possible Cause: " + "; ".join(rendered.likely_causes),
        "   Suggested Fix:",
        *[f"      {n}. {text} ({RISK_NOTE[risk]})" for n, (text, risk) in enumerate(rendered.steps, 1)],
        f"   Verification: {rendered.verification}",
    ]
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


def markdown_summary(result: RunResult, renderer: Renderer) -> str:
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
        lines += [*root_cause_table(result), "", "### Every failed check", ""]
        lines += ["| Check | Kind | Recipe | Root cause | Healed |", "|---|---|---|---|---|"]
        for failure in result.failures:
            recipe = renderer.title(failure.recipe)
            healed = {None: "-", True: "yes", False: "no"}[failure.healed]
            lines.append(
                f"| `{failure.nodeid}` | {failure.kind} | {recipe} | "
                f"{'`' + failure.root_cause + '`' if failure.root_cause else 'itself'} | {healed} |"
            )
    root_lines = root_cause_lines(result, renderer)
    if root_lines:
        lines += ["", "### Root causes", "", "```", *root_lines, "```"]
    if result.heal is not None:
        lines += ["", "### Healing" + (" (dry run)" if result.heal.dry_run else ""), ""]
        lines += [f"- {line}" for line in heal_lines(result.heal)] or ["- nothing to do"]
    return "\n".join(lines) + "\n"


SHORT_CELL = 48  # characters; the root-cause table fits GitHub's step-summary width


def _short(text: str) -> str:
    return text if len(text) <= SHORT_CELL else text[: SHORT_CELL - 1] + "…"


def root_cause_table(result: RunResult) -> list[str]:
    """The compact table summary.md leads with: one row per root cause, five short columns."""
    lines = ["| Root cause | Kind | Recipe | Symptoms | Final state |", "|---|---|---|---|---|"]
    for root in roots(result.failures):
        group = [root, *explained_by(root, result.failures)]
        if root.healed is None:
            state = "failed"
        else:
            healed = sum(1 for failure in group if failure.healed)
            state = "healed" if healed == len(group) else f"{healed}/{len(group)} healed"
        name = root.nodeid.rsplit("::", 1)[-1]
        lines.append(f"| `{_short(name)}` | {root.kind} | {root.recipe or 'none'} | {len(group) - 1} | {state} |")
    return lines


def heal_lines(heal: HealOutcome) -> list[str]:
    """One line per planned step: what, why, and what happened."""
    if heal.refused:
        return [f"healing did not run: {heal.refused}"]
    lines = list(heal.notes)
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
    decisions = sorted({planned.decision for planned, _ in heal.steps})
    if decisions:
        lines += ["", "Decisions:", *[f"  {name}: {DECISIONS.get(name, name)}" for name in decisions]]
    lines += ["", f"Result: {result.healed}/{len(result.failures)} failures healed"]
    return "\n".join(lines) + "\n"


def allure_environment(result: RunResult) -> str:
    return f"target={result.target}\ntarget.kind={result.target_kind}\nchecks.failed={result.failed}\n"


def root_cause_lines(result: RunResult, renderer: Renderer) -> list[str]:
    """Per root cause: its recipe's diagnosis for this failure and the decisive evidence."""
    lines = []
    for root in roots(result.failures):
        rendered = renderer.for_failure(root, root.recipe)
        explained = len(explained_by(root, result.failures))
        also = f" (+{explained} explained)" if explained else ""
        lines.append(f"root cause {root.nodeid}{also}: {rendered.heading if rendered else 'no recipe'}")
        lines.append(f"  {rendered.diagnosis if rendered else root.message}")
        evidence = evidence_summary(root.evidence)
        if evidence:
            lines.append(f"  evidence: {evidence}")
    return lines


# Why a step did not run, as the verdict line says it of its recipe.
_NOT_RUN_BECAUSE = {
    "needs_approval": "needs approval",
    "manual": "needs a human",
    "never": "needs a human",
    "cooldown": "in cooldown",
    "locked": "not run: target locked by another heal",
    "healing_disabled": "not run: healing disabled",
}


def verdict_line(result: RunResult, interrupted: str = "", exit_code: int | None = None) -> str:
    """The run's closing line: ``19 failed → 19 healed and verified (exit 0)``,
    ``19 failed → 16 healed and verified, 3 not healed: H09 needs approval (exit 1)``, ``3 failed (no heal, exit 1)``.
    """
    code = f"exit {exit_code}" if exit_code is not None else ""
    head = "interrupted: " if interrupted else ""
    failures = result.failures
    if not failures:
        return f"{head}{result.passed} passed, none failed" + (f" ({code})" if code else "")
    failed = f"{head}{len(failures)} failed"
    heal = result.heal
    if heal is None:
        return f"{failed} (no heal" + (f", {code})" if code else ")")
    if heal.dry_run:
        return f"{failed} (dry run: nothing changed" + (f", {code})" if code else ")")
    tail = f" ({code})" if code else ""
    if heal.refused:
        return f"{failed} → none healed: {heal.refused}{tail}"
    healed = sum(1 for failure in failures if failure.healed)
    parts = [f"{healed} healed and verified"] if healed else []
    reasons = _not_healed_reasons(result)
    if reasons:
        count = sum(reasons.values())
        shown = ", ".join(reason if len(reasons) == 1 else f"{reason} ({n})" for reason, n in reasons.items())
        parts.append(f"{count} not healed: {shown}")
    return f"{failed} → {', '.join(parts)}{tail}"


def _not_healed_reasons(result: RunResult) -> dict[str, int]:
    """reason -> number of failures not healed for it, in the order first met."""
    by_id = {failure.nodeid: failure for failure in result.failures}
    decisions: dict[str, list[str]] = {}
    for planned, _ in result.heal.steps if result.heal else []:
        decisions.setdefault(planned.recipe_id, []).append(planned.decision)
    reasons: dict[str, int] = {}
    for failure in result.failures:
        if failure.healed:
            continue
        root = by_id.get(failure.root_cause or "", failure)
        recipe = root.recipe
        if recipe is None:
            reason = "no recipe"
        else:
            blocked = next((d for d in decisions.get(recipe, []) if d in _NOT_RUN_BECAUSE), None)
            if blocked is not None:
                reason = f"{recipe} {_NOT_RUN_BECAUSE[blocked]}"
            else:
                reason = f"{recipe}: {failure.heal_note or 'not verified'}"
        reasons[reason] = reasons.get(reason, 0) + 1
    return reasons
