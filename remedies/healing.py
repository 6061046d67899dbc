"""The healing engine: plan the steps of the chosen recipes, then run what is allowed.

Decisions, in order: a destructive step is ``never`` run (only printed); a
manual step is ``manual``; a service step whose service the evidence shows at
work (its ``unless_active`` count above 0 in any failure it would fix) is
``not_indicated``: a restart cannot help a process that demonstrably runs; a
recipe applied successfully to the same target with the same parameters within ``healing.cooldown_minutes`` is in
``cooldown``; a step the target cannot run (undeclared service or command, a
mutating statement on a read-only database) is ``healing_disabled``; a guarded
step needs approval (``--heal-approve RECIPE`` or ``healing.approve``); a safe
step runs unless ``healing.auto_run = "none"`` and the recipe is not approved.

Only one heal per target runs at a time (a file lock), and every step run or
refused is appended to the ledger. A dry run runs nothing and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import filelock

from fixtures.inventory import Inventory
from remedies.actions import StepResult, run_step, why_not_runnable
from remedies.analysis import Failure, roots
from remedies.catalog import Catalog, ManualStep, Recipe, ServiceStep, Step, is_diagnostic
from remedies.ledger import Ledger, LedgerEntry
from remedies.render import context_for, describe_step, failure_fields
from remedies.verify import VerificationError

Decision = Literal["run", "needs_approval", "never", "manual", "not_indicated", "cooldown", "healing_disabled"]
APPROVED_BY_FLAG = "--heal-approve"
APPROVED_BY_POLICY = "inventory policy"


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class HealingLocked(Exception):
    """Another heal of the same target holds the lock; the message is one line."""


@dataclass(frozen=True, kw_only=True)
class PlannedStep:
    """One step of the plan, rendered with the failure's parameters, and what will happen to it."""

    recipe_id: str
    step_index: int
    action: str
    risk: str
    description: str
    decision: Decision
    reason: str
    params: Mapping[str, Any]
    approver: str | None
    diagnostic: bool
    step: Step


@dataclass
class HealOutcome:
    """What ``--heal`` planned, ran and verified."""

    dry_run: bool
    steps: list[tuple[PlannedStep, StepResult]] = field(default_factory=list)
    refused: str = ""  # why nothing ran at all (lock held, healing disabled)


Rerun = Callable[[list[str]], dict[str, str]]  # node ids -> "passed" | "failed" | "skipped" | "not run"


def heal_failures(failures: list[Failure], catalog: Catalog, healer: Healer, rerun: Rerun) -> HealOutcome:
    """Run the recipes of the root failures, then judge every failure by re-running it."""
    selected = [
        (catalog.get(root.recipe), root.params, failure_fields(root), root.evidence)
        for root in roots(failures)
        if root.recipe
    ]
    outcome = HealOutcome(dry_run=healer.dry_run)
    try:
        outcome.steps = healer.execute(healer.plan(selected))
    except HealingLocked as error:
        outcome.refused = str(error)
    if not outcome.dry_run:
        judge(failures, repaired_recipes(outcome.steps), rerun)
    return outcome


def repaired_recipes(steps: list[tuple[PlannedStep, StepResult]]) -> set[str]:
    """Recipes that changed the target: a step that is no diagnostic ran and succeeded."""
    return {
        planned.recipe_id
        for planned, result in steps
        if planned.decision == "run" and result.status == "ok" and not planned.diagnostic
    }


def judge(failures: list[Failure], repaired: set[str], rerun: Rerun) -> None:
    """Set each failure's verdict: healed only when its root's recipe repaired something and its re-run passed."""
    by_id = {failure.nodeid: failure for failure in failures}
    to_rerun = []
    for failure in failures:
        root = by_id[failure.root_cause] if failure.root_cause else failure
        if root.recipe in repaired:
            to_rerun.append(failure)
        else:
            failure.healed = False
            failure.heal_note = "no repairing step ran for its recipe" if root.recipe else "no recipe"
    if not to_rerun:
        return
    try:
        outcomes, note = rerun([failure.nodeid for failure in to_rerun]), ""
    except VerificationError as error:
        outcomes, note = {}, f"verification failed: {error}"
    for failure in to_rerun:
        result = outcomes.get(failure.nodeid, "not run")
        failure.healed = result == "passed"
        failure.heal_note = note or f"re-run {result}"


class Healer:
    """Plans and runs the healing steps of one target."""

    def __init__(
        self,
        inventory: Inventory,
        *,
        approvals: set[str],
        dry_run: bool,
        reports_dir: Path,
        redact: Callable[[str], str],
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._inventory = inventory
        self._approvals = approvals
        self.dry_run = dry_run
        self._directory = reports_dir / "healing"
        self._redact = redact
        self._now = now
        self._ledger = Ledger(self._directory, redact)

    @property
    def ledger_path(self) -> Path:
        return self._ledger.path

    def plan(self, selected: list[tuple]) -> list[PlannedStep]:
        """One entry per step of each (recipe, failure parameters[, failure fields[, evidence]]).

        Identical rendered steps are planned once. The steps are filled from the
        renderer's context (:func:`remedies.render.context_for`); a service step
        is ``not_indicated`` when the evidence of any failure it would fix shows
        the service at work.
        """
        rendered = []
        for recipe, params, *rest in selected:
            context = context_for(self._inventory, params, rest[0] if rest else None)
            evidence = rest[1] if len(rest) > 1 else {}
            for index, template in enumerate(recipe.steps):
                step = template.rendered(context)
                rendered.append((recipe, params, index, step, f"{step.action}:{step.model_dump_json()}", evidence))
        at_work: dict[str, str] = {}
        for *_, step, identity, evidence in rendered:
            shown = _shown_at_work(step, evidence)
            if shown and identity not in at_work:
                at_work[identity] = shown
        planned: list[PlannedStep] = []
        seen: set[str] = set()
        for recipe, params, index, step, identity, _ in rendered:
            if identity in seen:
                continue
            seen.add(identity)
            if identity in at_work:
                decision, reason, approver = "not_indicated", at_work[identity], None
            else:
                decision, reason, approver = self._decide(recipe, step, self._cooldown_reason(recipe, params))
            planned.append(
                PlannedStep(
                    recipe_id=recipe.id,
                    step_index=index,
                    action=step.action,
                    risk=step.risk,
                    description=self._redact(describe_step(step, self._inventory)),
                    decision=decision,
                    reason=self._redact(reason),
                    params=dict(params),
                    approver=approver,
                    diagnostic=is_diagnostic(step),
                    step=step,
                )
            )
        return planned

    def execute(self, plan: list[PlannedStep]) -> list[tuple[PlannedStep, StepResult]]:
        """Run the steps decided ``run``, in order, and record each run or refused step.

        A failing diagnostic step is recorded and the recipe goes on; after a
        failing fix step the rest of that recipe (for those parameters) is skipped.
        Raises :class:`HealingLocked` when another heal of the target is running.
        """
        if self.dry_run:
            return [(planned, StepResult("skipped", "dry run")) for planned in plan]
        results: list[tuple[PlannedStep, StepResult]] = []
        failed_fixes: set[tuple[str, str]] = set()
        with self._lock():
            for planned in plan:
                key = (planned.recipe_id, json.dumps(planned.params, sort_keys=True, default=str))
                if planned.decision != "run":
                    result = StepResult("skipped", planned.reason)
                elif key in failed_fixes:
                    result = StepResult("skipped", f"not run: an earlier step of {planned.recipe_id} failed")
                else:
                    result = run_step(planned.step, self._inventory, self._redact)
                if result.status == "failed" and not planned.diagnostic:
                    failed_fixes.add(key)
                if planned.decision != "manual":
                    self._ledger.append(self._entry(planned, result))
                results.append((planned, result))
        return results

    def _decide(self, recipe: Recipe, step: Step, cooldown: str | None) -> tuple[Decision, str, str | None]:
        if step.risk == "destructive":
            return "never", "destructive steps are never run, only printed", None
        if isinstance(step, ManualStep):
            return "manual", "instructions for a human", None
        if cooldown:
            return "cooldown", cooldown, None
        unsupported = why_not_runnable(step, self._inventory)
        if unsupported:
            return "healing_disabled", unsupported, None
        approver = self._approver(recipe.id)
        if approver:
            return "run", f"{step.risk} step approved by {approver}", approver
        if step.risk == "guarded":
            return "needs_approval", f"guarded step; approve with {APPROVED_BY_FLAG} {recipe.id}", None
        if self._inventory.healing.auto_run == "none":
            return (
                "needs_approval",
                f'target {self._inventory.name} runs no step without approval (healing.auto_run = "none"); '
                f"approve with {APPROVED_BY_FLAG} {recipe.id}",
                None,
            )
        return "run", "safe step", None

    def _approver(self, recipe_id: str) -> str | None:
        if recipe_id in self._approvals:
            return APPROVED_BY_FLAG
        if recipe_id in self._inventory.healing.approve:
            return APPROVED_BY_POLICY
        return None

    def _cooldown_reason(self, recipe: Recipe, params: Mapping[str, Any]) -> str | None:
        minutes = self._inventory.healing.cooldown_minutes
        if minutes <= 0:
            return None
        applied = self._ledger.last_applied(self._inventory.name, recipe.id, params)
        if applied is None or applied <= self._now() - timedelta(minutes=minutes):
            return None
        until = applied + timedelta(minutes=minutes)
        return (
            f"{recipe.id} was applied to {self._inventory.name} at {applied.isoformat()}; "
            f"cooldown of {minutes} min lasts until {until.isoformat()}"
        )

    @contextmanager
    def _lock(self) -> Iterator[None]:
        path = self._directory / f"{self._inventory.name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(path, timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise HealingLocked(
                f"another heal of target {self._inventory.name} is running (lock {path}); try again when it ends"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def _entry(self, planned: PlannedStep, result: StepResult) -> LedgerEntry:
        return LedgerEntry(
            time=self._now(),
            target=self._inventory.name,
            recipe=planned.recipe_id,
            params=planned.params,
            action=planned.action,
            description=planned.description,
            risk=planned.risk,
            decision=planned.decision,
            approver=planned.approver,
            diagnostic=planned.diagnostic,
            result=result.status,
            rows=result.rows,
            detail=result.detail,
        )


def _shown_at_work(step: Step, evidence: Mapping[str, Any]) -> str | None:
    """Why the evidence shows a service step's service at work (so the step cannot help), or None."""
    if not isinstance(step, ServiceStep) or step.unless_active is None or step.operation == "stop":
        return None
    count = evidence.get(step.unless_active)
    if not isinstance(count, int | float) or isinstance(count, bool) or count <= 0:
        return None
    return (
        f"{step.service} demonstrably runs ({step.unless_active}={count:g} in the evidence): "
        f"a {step.operation} cannot help"
    )
