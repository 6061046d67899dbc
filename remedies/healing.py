"""The healing engine: plan the steps of the chosen recipes, then run what is allowed.

Decisions, in order: a destructive step is ``never`` run (only printed); a
manual step is ``manual``; a service step whose service the evidence shows at
work (its ``unless_active`` count above 0 in any failure it would fix) is
``not_indicated``: a restart cannot help a process that demonstrably runs; a
recipe applied successfully to the same target with the same parameters within ``healing.cooldown_minutes`` is in
``cooldown`` (unless ``--heal-ignore-cooldown``, which the step's reason then says); a
target whose ``healing.kill_switch`` is set, and a step the target cannot run
(undeclared service or command, a mutating statement on a read-only database), is
``healing_disabled``; a step whose risk is above ``healing.max_risk_without_approval``
(none, safe or guarded) needs approval (``--heal-approve RECIPE`` or ``healing.approve``).

The backup-first rule: on a production target, a step that changes the target (not a
diagnostic) runs only after a backup step (the target's ``backup_database`` command) of
the same heal succeeded. Runnable backup steps are planned first; a changing step with
no runnable backup step ahead of it, or whose backup step failed, is ``no_verified_backup``
(recorded, not run).

Only one heal per target runs at a time (:class:`remedies.target_state.HealLock`,
held through the steps and the verification), and every step run or refused is
appended to the run's ledger (``reports/healing/ledger.jsonl``) and to the
target's own ledger in its state directory, which every runner of the target
shares and the cooldown reads. A step that fails for any reason is a recorded
failed step that stops its recipe (for those parameters); an interrupt
(SIGTERM, SIGINT) records the step in flight as ``interrupted``, releases the
lock and ends the heal. A dry run runs nothing and writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from fixtures import progress
from fixtures.inventory import Inventory
from remedies.actions import StepResult, describe_error, run_step, why_not_runnable
from remedies.analysis import Failure, roots
from remedies.catalog import Catalog, CommandStep, ManualStep, Recipe, ServiceStep, Step, is_diagnostic
from remedies.ledger import Ledger, LedgerEntry
from remedies.render import context_for, describe_step, failure_fields
from remedies.target_state import HealingLocked, HealLock, TargetIdentity, state_dir
from remedies.verify import VerificationError

__all__ = ["HealOutcome", "Healer", "HealingLocked", "PlannedStep", "heal_failures"]

Decision = Literal[
    "run",
    "needs_approval",
    "never",
    "manual",
    "not_indicated",
    "cooldown",
    "healing_disabled",
    "locked",
    "no_verified_backup",
]
# What each decision means, for the reports.
DECISIONS: dict[str, str] = {
    "run": "allowed and run",
    "needs_approval": "not run: its risk is above the target's max_risk_without_approval (--heal-approve RECIPE)",
    "never": "destructive: never run, only printed",
    "manual": "instructions for a human",
    "not_indicated": "not run: the evidence shows it cannot help",
    "cooldown": "not run: the recipe was applied to the target with these parameters within the cooldown",
    "healing_disabled": "not run: the target cannot run it, or its kill switch disables healing",
    "locked": "not run: another heal of the target holds the lock",
    "no_verified_backup": "not run: production changes only after a backup step of the same heal succeeded",
}
APPROVED_BY_FLAG = "--heal-approve"
APPROVED_BY_POLICY = "inventory policy"
IGNORE_COOLDOWN_FLAG = "--heal-ignore-cooldown"
BACKUP_COMMAND = "backup_database"
RISK_ORDER = ("none", "safe", "guarded", "destructive")


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


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
    served_params: tuple[Mapping[str, Any], ...]  # every failure's parameters this (deduplicated) step serves
    approver: str | None
    diagnostic: bool
    step: Step


@dataclass
class HealOutcome:
    """What ``--heal`` planned, ran and verified."""

    dry_run: bool
    steps: list[tuple[PlannedStep, StepResult]] = field(default_factory=list)
    refused: str = ""  # why nothing ran at all (lock held, healing disabled)
    notes: list[str] = field(default_factory=list)  # how the heal ran (e.g. the cooldown ignored)
    interrupted: bool = False  # a signal ended the heal (the step in flight is recorded as interrupted)


SKIPPED_UNDER_HEALED_ROOT = "re-run skipped (nothing to judge); its root cause re-ran and passed"
Rerun = Callable[[list[str]], dict[str, str]]  # node ids -> "passed" | "failed" | "skipped" | "not run"


INTERRUPTED_STEP = "the run was interrupted (SIGTERM or SIGINT) while this step ran; what it changed is unknown"
NOT_REACHED_STEP = "not run: the heal was interrupted"
NOT_VERIFIED = "not verified: the run was interrupted"


def heal_failures(failures: list[Failure], catalog: Catalog, healer: Healer, rerun: Rerun) -> HealOutcome:
    """Run the recipes of the root failures, then judge every failure by re-running it.

    The target's heal lock is held throughout. An interrupt ends the heal with
    what it did so far: the outcome says ``interrupted`` and every failure not yet
    judged is not healed.
    """
    selected = [
        (catalog.get(root.recipe), root.params, failure_fields(root), root.evidence)
        for root in roots(failures)
        if root.recipe
    ]
    outcome = HealOutcome(dry_run=healer.dry_run)
    if healer.ignore_cooldown:
        outcome.notes.append(f"cooldown ignored ({IGNORE_COOLDOWN_FLAG}): recipes in cooldown run again")
    disabled = healer.disabled_reason()
    if disabled and not outcome.dry_run:
        outcome.refused = disabled
        healer.record_refusal(healer.plan(selected), disabled, decision="healing_disabled")
        judge(failures, set(), rerun)
        return outcome
    try:
        with healer.locked():
            healer.execute(healer.plan(selected), into=outcome.steps)
            if not outcome.dry_run:
                judge(failures, repaired_recipes(outcome.steps), rerun)
    except HealingLocked as error:
        outcome.refused = str(error)
        healer.record_refusal(healer.plan(selected), outcome.refused)
        judge(failures, set(), rerun)
    except KeyboardInterrupt:
        outcome.interrupted = True
        for failure in failures:
            if failure.healed is None and not outcome.dry_run:
                failure.healed, failure.heal_note = False, NOT_VERIFIED
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
        # A check explained by its root that now skips (nothing to judge, as on a healthy target) is
        # healed when that root re-ran and passed; a root that skips proves nothing.
        root_passed = failure.root_cause is not None and outcomes.get(failure.root_cause) == "passed"
        failure.healed = result == "passed" or (result == "skipped" and root_passed)
        if note:
            failure.heal_note = note
        elif result == "skipped" and root_passed:
            failure.heal_note = SKIPPED_UNDER_HEALED_ROOT
        else:
            failure.heal_note = f"re-run {result}"


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
        ignore_cooldown: bool = False,
    ) -> None:
        self._inventory = inventory
        self._approvals = approvals
        self.dry_run = dry_run
        self.ignore_cooldown = ignore_cooldown
        self._redact = redact
        self._now = now
        self.state_dir = state_dir(TargetIdentity.of(inventory))
        self._ledger = Ledger(reports_dir / "healing", redact)  # this run's copy
        self._target_ledger = Ledger(self.state_dir, redact)  # every run's, for the cooldown
        self._lock = HealLock(inventory, self.state_dir)
        self.write_errors: list[str] = []

    @property
    def ledger_path(self) -> Path:
        return self._ledger.path

    @property
    def target_ledger_path(self) -> Path:
        return self._target_ledger.path

    @property
    def backup_first(self) -> bool:
        """Whether the backup-first rule holds on this target (production targets)."""
        return self._inventory.target.kind == "production"

    def disabled_reason(self) -> str | None:
        """Why healing is switched off on this target (its kill switch), or None."""
        policy = self._inventory.healing
        if not policy.disabled:
            return None
        return (
            f"healing is disabled on target {self._inventory.name} by its kill switch "
            f"(healing.kill_switch = {policy.kill_switch.strip()!r}); nothing was run"
        )

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the target's heal lock (a dry run takes none); :class:`HealingLocked` when it is held."""
        if self.dry_run:
            yield
            return
        with self._lock.held():
            yield

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
        served: dict[str, list[Mapping[str, Any]]] = {}
        for _, params, _, step, identity, evidence in rendered:
            shown = _shown_at_work(step, evidence)
            if shown and identity not in at_work:
                at_work[identity] = shown
            if params not in served.setdefault(identity, []):
                served[identity].append(params)
        planned: list[PlannedStep] = []
        seen: set[str] = set()
        for recipe, params, index, step, identity, _ in rendered:
            if identity in seen:
                continue
            seen.add(identity)
            if identity in at_work:
                decision, reason, approver = "not_indicated", at_work[identity], None
            else:
                cooldown = self._cooldown_reason(recipe, served[identity])
                decision, reason, approver = self._decide(recipe, step, cooldown)
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
                    served_params=tuple(dict(each) for each in served[identity]),
                    approver=approver,
                    diagnostic=is_diagnostic(step),
                    step=step,
                )
            )
        return self._backup_first(planned) if self.backup_first else planned

    def _backup_first(self, planned: list[PlannedStep]) -> list[PlannedStep]:
        """Runnable backup steps first; a changing step with no runnable backup step ahead is refused."""
        backups = [p for p in planned if _is_backup(p) and p.decision == "run"]
        ordered = backups + [p for p in planned if not (_is_backup(p) and p.decision == "run")]
        if backups:
            return ordered
        return [
            replace(p, decision="no_verified_backup", reason=NO_BACKUP_PLANNED, approver=None)
            if _changes_target(p) and p.decision == "run"
            else p
            for p in ordered
        ]

    def execute(
        self, plan: list[PlannedStep], into: list[tuple[PlannedStep, StepResult]] | None = None
    ) -> list[tuple[PlannedStep, StepResult]]:
        """Run the steps decided ``run``, in order, and record each run or refused step.

        Results are appended to ``into`` as they happen (so an interrupted heal
        keeps what it did). A failing diagnostic step is recorded and the recipe
        goes on; after a failing fix step the rest of that recipe (for those
        parameters) is skipped. An interrupt records the step in flight as
        ``interrupted`` and every step not reached as skipped (so the ledger
        accounts for the whole plan), and is raised again.
        Hold :meth:`locked` around it.
        """
        results = [] if into is None else into
        if self.dry_run:
            results.extend((planned, StepResult("skipped", "dry run")) for planned in plan)
            return results
        failed_fixes: set[tuple[str, str]] = set()
        in_flight: PlannedStep | None = None
        backup: StepResult | None = None  # the last backup step's result in this heal
        recorded: set[int] = set()
        try:
            for original in plan:
                planned = self._backup_checked(original, backup)
                key = (planned.recipe_id, json.dumps(planned.params, sort_keys=True, default=str))
                if planned.decision != "run":
                    result = StepResult("skipped", planned.reason)
                elif key in failed_fixes:
                    result = StepResult("skipped", f"not run: an earlier step of {planned.recipe_id} failed")
                else:
                    in_flight = original
                    progress.line(f"healing [{planned.recipe_id}] {planned.description} ...")
                    result = self._run(planned)
                    in_flight = None
                    if _is_backup(planned):
                        backup = result
                if result.status == "failed" and not planned.diagnostic:
                    failed_fixes.add(key)
                recorded.add(id(original))
                self._record(planned, result, results)
        except KeyboardInterrupt:
            # Wherever the signal landed (in a step, or between two), every step of the plan
            # ends up recorded: the one in flight as interrupted, the rest as not reached.
            for planned in plan:
                if id(planned) in recorded:
                    continue
                if planned is in_flight:
                    self._record(planned, StepResult("interrupted", INTERRUPTED_STEP), results)
                else:
                    self._record(planned, StepResult("skipped", NOT_REACHED_STEP), results)
            raise
        return results

    def _backup_checked(self, planned: PlannedStep, backup: StepResult | None) -> PlannedStep:
        """The step, or (backup-first rule) the step refused because no backup of this heal succeeded before it."""
        if not (self.backup_first and planned.decision == "run" and _changes_target(planned)):
            return planned
        if backup is not None and backup.status == "ok":
            return planned
        why = NO_BACKUP_PLANNED if backup is None else f"{BACKUP_FAILED}: {backup.detail}"
        return replace(planned, decision="no_verified_backup", reason=why, approver=None)

    def record_refusal(self, plan: list[PlannedStep], reason: str, decision: Decision = "locked") -> None:
        """Record the steps of a heal that did not run (lock held, kill switch) as ``decision``."""
        for planned in plan:
            if planned.decision == "run":
                planned = replace(planned, decision=decision, reason=reason, approver=None)
            self._record(planned, StepResult("skipped", planned.reason), [])

    def _run(self, planned: PlannedStep) -> StepResult:
        """One step's result; whatever escapes its runner is the step's failure, not the heal's."""
        try:
            return run_step(planned.step, self._inventory, self._redact)
        except Exception as error:  # a defect in a runner still ends as this step's failure
            return StepResult("failed", self._redact(describe_error(error)))

    def _record(self, planned: PlannedStep, result: StepResult, results: list[tuple[PlannedStep, StepResult]]) -> None:
        results.append((planned, result))
        if planned.decision == "manual":
            return
        entry = self._entry(planned, result)
        for ledger in (self._ledger, self._target_ledger):
            try:
                ledger.append(entry)
            except OSError as error:
                self.write_errors.append(f"{ledger.path}: {error.strerror or error}")

    def _decide(self, recipe: Recipe, step: Step, cooldown: str | None) -> tuple[Decision, str, str | None]:
        if step.risk == "destructive":
            return "never", "destructive steps are never run, only printed", None
        if isinstance(step, ManualStep):
            return "manual", "instructions for a human", None
        ignored = ""
        if cooldown and self.ignore_cooldown:
            ignored = f"; cooldown ignored ({IGNORE_COOLDOWN_FLAG}): {cooldown}"
        elif cooldown:
            return "cooldown", cooldown, None
        disabled = self.disabled_reason()
        if disabled:
            return "healing_disabled", disabled.removesuffix("; nothing was run"), None
        unsupported = why_not_runnable(step, self._inventory)
        if unsupported:
            return "healing_disabled", unsupported, None
        approver = self._approver(recipe.id)
        if approver:
            return "run", f"{step.risk} step approved by {approver}{ignored}", approver
        limit = self._inventory.healing.max_risk
        if RISK_ORDER.index(step.risk) > RISK_ORDER.index(limit):
            if limit == "none":
                why = (
                    f"target {self._inventory.name} runs no step without approval "
                    '(healing.max_risk_without_approval = "none")'
                )
            elif step.risk == "guarded":
                why = "guarded step"
            else:
                why = f'{step.risk} step above healing.max_risk_without_approval = "{limit}"'
            return "needs_approval", f"{why}; approve with {APPROVED_BY_FLAG} {recipe.id}", None
        return "run", f"{step.risk} step{ignored}", None

    def _approver(self, recipe_id: str) -> str | None:
        if recipe_id in self._approvals:
            return APPROVED_BY_FLAG
        if recipe_id in self._inventory.healing.approve:
            return APPROVED_BY_POLICY
        return None

    def _cooldown_reason(self, recipe: Recipe, served: list[Mapping[str, Any]]) -> str | None:
        """Why the recipe is in cooldown for any failure the step serves (whichever came first), or None."""
        minutes = self._inventory.healing.cooldown_minutes
        if minutes <= 0:
            return None
        times = [self._target_ledger.last_applied(self._inventory.name, recipe.id, params) for params in served]
        applied = max(filter(None, times), default=None)
        if applied is None or applied <= self._now() - timedelta(minutes=minutes):
            return None
        until = applied + timedelta(minutes=minutes)
        return (
            f"{recipe.id} was applied to {self._inventory.name} at {applied.isoformat()}; "
            f"cooldown of {minutes} min lasts until {until.isoformat()}"
        )

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


NO_BACKUP_PLANNED = (
    f"production changes only after a verified backup: no {BACKUP_COMMAND} step runs before this step in this heal"
)
BACKUP_FAILED = f"production changes only after a verified backup: the {BACKUP_COMMAND} step of this heal failed"


def _is_backup(planned: PlannedStep) -> bool:
    """A step that makes a fresh backup of the target (its ``backup_database`` command)."""
    return isinstance(planned.step, CommandStep) and planned.step.command == BACKUP_COMMAND


def _changes_target(planned: PlannedStep) -> bool:
    """A step that would change the target: neither a diagnostic, nor the backup, nor text for a human."""
    return not (planned.diagnostic or _is_backup(planned) or isinstance(planned.step, ManualStep))


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
