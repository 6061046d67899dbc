"""The healing engine: planner decisions, cooldown, dry run, lock and the ledger it writes."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from types import SimpleNamespace

import filelock
import pytest
import respx

from remedies import actions, healing
from remedies.analysis import Failure
from remedies.catalog import load_catalog
from remedies.healing import Healer, heal_failures

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
INVOICES = {"entity": "invoices"}

DEMO_STEPS = """
[[steps]]
action = "command"
command = "say"
args = { entity = "{entity}" }
risk = "safe"

[[steps]]
action = "service"
service = "app"
operation = "restart"
risk = "guarded"

[[steps]]
action = "manual"
text = "Tell the {entity} owner"
risk = "safe"

[[steps]]
action = "command"
command = "fail"
risk = "destructive"
"""

CHAIN_STEPS = """
[[steps]]
action = "http"
method = "GET"
path = "/health"
risk = "safe"

[[steps]]
action = "command"
command = "leak"
risk = "safe"

[[steps]]
action = "command"
command = "fail"
risk = "safe"

[[steps]]
action = "command"
command = "say"
args = { entity = "{entity}" }
risk = "safe"
"""

UNSUPPORTED_STEPS = """
[[steps]]
action = "sql"
statement = "release_stuck_processing"
params = { stale_minutes = 60 }
risk = "safe"

[[steps]]
action = "service"
service = "cache"
operation = "restart"
risk = "safe"
"""


@pytest.fixture
def demo_catalog(write_recipe, recipes_dir, recipe_text):
    write_recipe("H90_demo", recipe_text("H90", "demo", steps=DEMO_STEPS))
    write_recipe("H91_chain", recipe_text("H91", "chain", steps=CHAIN_STEPS))
    write_recipe("H92_unsupported", recipe_text("H92", "unsupported", steps=UNSUPPORTED_STEPS))
    return load_catalog(recipes_dir)


@pytest.fixture
def reports_dir(tmp_path):
    return tmp_path / "reports"


@pytest.fixture
def make_healer(inventory, reports_dir, redact):
    def make(target=inventory, *, approvals=(), dry_run=False):
        return Healer(
            target, approvals=set(approvals), dry_run=dry_run, reports_dir=reports_dir, redact=redact, now=lambda: NOW
        )

    return make


def decisions(plan):
    return [(p.recipe_id, p.step_index, p.description, p.decision, p.reason) for p in plan]


def ledger_lines(reports_dir):
    return (reports_dir / "healing" / "ledger.jsonl").read_text(encoding="utf-8").splitlines()


# --- planning ---------------------------------------------------------------------------


def test_plan_of_shipped_recipes_on_a_staging_target(make_healer, shipped_catalog):
    get = shipped_catalog.get
    plan = make_healer().plan([(get("H11"), INVOICES), (get("H13"), {"base": "app"}), (get("H07"), INVOICES)])
    assert decisions(plan) == [
        ("H11", 0, "sql queue_counts_by_status (read-only)", "run", "safe step"),
        ("H11", 1, "service restart worker (command binding)", "run", "safe step"),
        ("H13", 0, "http GET /health", "run", "safe step"),
        (
            "H13",
            1,
            "service restart app (command binding)",
            "needs_approval",
            "guarded step; approve with --heal-approve H13",
        ),
        (
            "H07",
            0,
            "sql recent_inbox_events_for_entity (entity_type=invoice, window_minutes=60, read-only)",
            "run",
            "safe step",
        ),
        ("H07", 1, "manual: Run pg_isready in tsh_postgres; if the database is down, follow H13", "manual",
         "instructions for a human"),
        ("H07", 2, "manual: Read the app log for 'webhook processing failed' (redacted) and open a defect with the "
         "route (invoices) and the error", "manual", "instructions for a human"),
    ]  # fmt: skip
    assert [p.diagnostic for p in plan] == [True, False, True, False, True, False, False]


def test_planner_decides_by_risk(make_healer, demo_catalog):
    plan = make_healer().plan([(demo_catalog.get("H90"), INVOICES)])
    assert decisions(plan) == [
        ("H90", 0, "command say (entity=invoices)", "run", "safe step"),
        ("H90", 1, "service restart app (command binding)", "needs_approval",
         "guarded step; approve with --heal-approve H90"),
        ("H90", 2, "manual: Tell the invoices owner", "manual", "instructions for a human"),
        ("H90", 3, "command fail", "never", "destructive steps are never run, only printed"),
    ]  # fmt: skip


def test_flag_approval_runs_guarded_steps_but_never_destructive_ones(make_healer, demo_catalog):
    plan = make_healer(approvals={"H90"}).plan([(demo_catalog.get("H90"), INVOICES)])
    assert [(p.decision, p.approver) for p in plan] == [
        ("run", "--heal-approve"),
        ("run", "--heal-approve"),
        ("manual", None),
        ("never", None),
    ]
    assert plan[1].reason == "guarded step approved by --heal-approve"


def test_inventory_policy_approves_guarded_steps(make_healer, demo_catalog, inventory_factory):
    target = inventory_factory(healing={"approve": ["H90"]})
    plan = make_healer(target).plan([(demo_catalog.get("H90"), INVOICES)])
    assert (plan[1].decision, plan[1].approver, plan[1].reason) == (
        "run",
        "inventory policy",
        "guarded step approved by inventory policy",
    )


@pytest.mark.parametrize(
    "policy", [{"auto_run": "none", "max_risk_without_approval": None}, {"max_risk_without_approval": "none"}]
)
def test_max_risk_none_holds_even_safe_steps_until_approved(make_healer, demo_catalog, inventory_factory, policy):
    production = inventory_factory(target={"name": "production", "kind": "production"}, healing=policy)
    held = make_healer(production).plan([(demo_catalog.get("H90"), INVOICES)])[0]
    assert (held.decision, held.reason) == (
        "needs_approval",
        'target production runs no step without approval (healing.max_risk_without_approval = "none"); '
        "approve with --heal-approve H90",
    )
    approved = make_healer(production, approvals={"H90"}).plan([(demo_catalog.get("H90"), INVOICES)])[0]
    # Approved, it still waits for a backup step of the same heal (the backup-first rule of production).
    assert (approved.decision, approved.reason) == ("no_verified_backup", healing.NO_BACKUP_PLANNED)


def test_steps_the_target_cannot_run_are_disabled(make_healer, demo_catalog, inventory_factory):
    read_only = inventory_factory(database={"read_only": True})
    plan = make_healer(read_only).plan([(demo_catalog.get("H92"), {})])
    assert decisions(plan) == [
        ("H92", 0, "sql release_stuck_processing (stale_minutes=60, max 500 rows)", "healing_disabled",
         "the database of target unit is read-only (database.read_only = true)"),
        ("H92", 1, "service restart cache", "healing_disabled",
         "target unit declares no service 'cache' (declared: app, worker)"),
    ]  # fmt: skip


def test_identical_rendered_steps_are_planned_once(make_healer, shipped_catalog):
    get = shipped_catalog.get
    plan = make_healer().plan([(get("H13"), {"base": "app"}), (get("H03"), INVOICES), (get("H11"), INVOICES)])
    restarts = [(p.recipe_id, p.description) for p in plan if p.action == "service"]
    assert restarts == [
        ("H13", "service restart app (command binding)"),
        ("H11", "service restart worker (command binding)"),
    ]
    assert [p.step_index for p in plan if p.recipe_id == "H03"] == [0, 1, 3]


def test_restart_is_not_planned_when_the_evidence_shows_the_worker_at_work(make_healer, shipped_catalog):
    h11 = shipped_catalog.get("H11")
    idle = {"status": "pending", "attempts": 0, "worker_completed_meanwhile": 0}
    busy = {"status": "pending", "attempts": 0, "worker_completed_meanwhile": 37}
    plan = make_healer().plan([(h11, INVOICES, {}, idle)])
    assert [(p.description, p.decision) for p in plan if p.action == "service"] == [
        ("service restart worker (command binding)", "run")
    ]
    # One failure whose evidence shows the worker completing other events is enough:
    # the same restart planned for another failure is not indicated either.
    plan = make_healer().plan([(h11, INVOICES, {}, idle), (h11, {"entity": "orders"}, {}, busy)])
    assert [(p.decision, p.reason) for p in plan if p.action == "service"] == [
        (
            "not_indicated",
            "worker demonstrably runs (worker_completed_meanwhile=37 in the evidence): a restart cannot help",
        )
    ]
    assert healing.repaired_recipes(make_healer().execute(plan)) == set()


def test_same_recipe_for_two_entities_keeps_both_rendered_steps(make_healer, demo_catalog):
    plan = make_healer().plan([(demo_catalog.get("H90"), INVOICES), (demo_catalog.get("H90"), {"entity": "orders"})])
    assert [p.description for p in plan if p.step_index == 0] == [
        "command say (entity=invoices)",
        "command say (entity=orders)",
    ]


# --- cooldown ---------------------------------------------------------------------------


@pytest.fixture
def target_ledger(make_healer):
    """The ``unit`` target's own ledger, in its state directory, which the cooldown reads."""
    return make_healer().target_ledger_path


def write_ledger(path, *entries):
    path.parent.mkdir(parents=True, exist_ok=True)
    base = {"target": "unit", "recipe": "H90", "params": INVOICES, "result": "ok", "diagnostic": False}
    path.write_text("".join(json.dumps({**base, **entry}) + "\n" for entry in entries), encoding="utf-8")


def test_recipe_applied_within_the_cooldown_is_not_repeated(make_healer, demo_catalog, target_ledger):
    write_ledger(target_ledger, {"time": "2026-01-01T10:00:00+00:00"}, {"time": "2026-01-01T11:30:00+00:00"})
    plan = make_healer(approvals={"H90"}).plan([(demo_catalog.get("H90"), INVOICES)])
    reason = (
        "H90 was applied to unit at 2026-01-01T11:30:00+00:00; cooldown of 60 min lasts until 2026-01-01T12:30:00+00:00"
    )
    assert [(p.decision, p.reason) for p in plan] == [
        ("cooldown", reason),
        ("cooldown", reason),
        ("manual", "instructions for a human"),
        ("never", "destructive steps are never run, only printed"),
    ]


@pytest.mark.parametrize(
    "entry",
    [
        {"time": "2026-01-01T11:00:00+00:00"},
        {"time": "2026-01-01T11:30:00+00:00", "result": "failed"},
        {"time": "2026-01-01T11:30:00+00:00", "diagnostic": True},
        {"time": "2026-01-01T11:30:00+00:00", "params": {"entity": "orders"}},
        {"time": "2026-01-01T11:30:00+00:00", "target": "production"},
        {"time": "2026-01-01T11:30:00+00:00", "recipe": "H91"},
    ],
    ids=["expired", "failed", "diagnostic only", "other params", "other target", "other recipe"],
)
def test_cooldown_counts_only_successful_fixes_of_the_same_recipe_target_and_params(
    make_healer, demo_catalog, target_ledger, entry
):
    write_ledger(target_ledger, entry)
    assert make_healer().plan([(demo_catalog.get("H90"), INVOICES)])[0].decision == "run"


def test_zero_cooldown_never_holds_a_recipe(make_healer, demo_catalog, target_ledger, inventory_factory):
    write_ledger(target_ledger, {"time": "2026-01-01T11:59:00+00:00"})
    target = inventory_factory(healing={"cooldown_minutes": 0})
    assert make_healer(target).plan([(demo_catalog.get("H90"), INVOICES)])[0].decision == "run"


# --- execution --------------------------------------------------------------------------


def test_dry_run_runs_nothing_and_writes_nothing(make_healer, demo_catalog, reports_dir, monkeypatch):
    monkeypatch.setattr(healing, "run_step", lambda *args: pytest.fail("a dry run ran a step"))
    healer = make_healer(approvals={"H90"}, dry_run=True)
    plan = healer.plan([(demo_catalog.get("H90"), INVOICES)])
    results = healer.execute(plan)
    assert [(p.decision, r.status, r.detail) for p, r in results] == [
        ("run", "skipped", "dry run"),
        ("run", "skipped", "dry run"),
        ("manual", "skipped", "dry run"),
        ("never", "skipped", "dry run"),
    ]
    assert not reports_dir.exists()


def test_held_lock_refuses_the_heal(make_healer, demo_catalog, reports_dir, monkeypatch):
    monkeypatch.setattr(healing, "run_step", lambda *args: pytest.fail("a locked heal ran a step"))
    healer = make_healer()
    failures = [Failure("suites/api/test_demo.py::test_demo[invoices]", kind="http_status", recipe="H91")]
    lock_path = healer.state_dir / "heal.lock"
    lock_path.parent.mkdir(parents=True)
    with filelock.FileLock(lock_path, timeout=0):
        outcome = heal_failures(failures, demo_catalog, healer, rerun=lambda ids: pytest.fail("re-ran"))
    assert outcome.refused == (
        f"another heal of target unit is running (lock file {lock_path} is held); try again when it ends"
    )
    assert (outcome.steps, failures[0].healed, failures[0].heal_note) == (
        [], False, "no repairing step ran for its recipe",
    )  # fmt: skip
    entries = [json.loads(line) for line in ledger_lines(reports_dir)]
    assert [(e["description"], e["decision"], e["result"], e["detail"]) for e in entries] == [
        ("http GET /health", "locked", "skipped", outcome.refused),
        ("command leak", "locked", "skipped", outcome.refused),
        ("command fail", "locked", "skipped", outcome.refused),
        ("command say (entity={entity})", "locked", "skipped", outcome.refused),
    ]


@respx.mock
def test_failed_diagnostic_goes_on_and_failed_fix_stops_the_recipe(make_healer, demo_catalog, reports_dir, secret):
    respx.get("http://erp.test/health").respond(500, text="database unavailable")
    healer = make_healer()
    results = healer.execute(healer.plan([(demo_catalog.get("H91"), INVOICES)]))
    assert [(p.description, r.status) for p, r in results] == [
        ("http GET /health", "failed"),
        ("command leak", "ok"),
        ("command fail", "failed"),
        ("command say (entity=invoices)", "skipped"),
    ]
    assert results[3][1].detail == "not run: an earlier step of H91 failed"
    assert secret not in results[1][1].detail


def test_ledger_records_run_and_refused_steps_redacted(make_healer, demo_catalog, reports_dir, secret):
    healer = make_healer()
    healer.execute(healer.plan([(demo_catalog.get("H90"), INVOICES), (demo_catalog.get("H91"), {"token": secret})]))
    entries = [json.loads(line) for line in ledger_lines(reports_dir)]
    assert [(e["recipe"], e["description"], e["decision"], e["result"]) for e in entries] == [
        ("H90", "command say (entity=invoices)", "run", "ok"),
        ("H90", "service restart app (command binding)", "needs_approval", "skipped"),
        ("H90", "command fail", "never", "skipped"),
        ("H91", "http GET /health", "run", "failed"),
        ("H91", "command leak", "run", "ok"),
        ("H91", "command fail", "run", "failed"),
        ("H91", "command say (entity={entity})", "run", "skipped"),
    ]
    first = entries[0]
    assert set(first) == {
        "time", "target", "recipe", "params", "action", "description", "risk", "decision", "approver",
        "diagnostic", "result", "rows", "detail",
    }  # fmt: skip
    assert (first["time"], first["target"], first["params"], first["risk"], first["approver"]) == (
        "2026-01-01T12:00:00+00:00",
        "unit",
        INVOICES,
        "safe",
        None,
    )
    assert entries[4]["params"] == {"token": "***"}
    assert entries[4]["detail"].endswith("exited 0: token=***")
    assert secret not in "\n".join(ledger_lines(reports_dir))


def test_ledger_is_only_appended_to(make_healer, demo_catalog, reports_dir):
    write_ledger(reports_dir / "healing" / "ledger.jsonl", {"time": "2025-12-01T00:00:00+00:00"})
    before = (reports_dir / "healing" / "ledger.jsonl").read_text(encoding="utf-8")
    for _ in range(2):
        healer = make_healer()
        healer.execute(healer.plan([(demo_catalog.get("H90"), INVOICES)]))
    after = (reports_dir / "healing" / "ledger.jsonl").read_text(encoding="utf-8")
    assert after.startswith(before)
    assert [json.loads(line)["decision"] for line in after.splitlines()[1:]] == [
        "run", "needs_approval", "never", "cooldown", "cooldown", "never",
    ]  # fmt: skip


# --- steps that fail, raise or are interrupted --------------------------------------------

REMOTE_STEPS = """
[[steps]]
action = "service"
service = "SERVICE"
operation = "restart"
risk = "safe"

[[steps]]
action = "command"
command = "say"
args = { entity = "{entity}" }
risk = "safe"
"""
SSH_HOST = "ssh://tsh@10.0.0.1"
SSH_REFUSED = "ssh: connect to host 10.0.0.1 port 22: Connection refused\r\n"


@pytest.fixture
def remote_target(inventory_factory, monkeypatch):
    """The worker lives on an SSH host that refuses the login (ssh exits 255); the app's host is unroutable."""
    target = inventory_factory(
        services={
            "worker": {"binding": "systemd", "name": "tsh-worker", "host": SSH_HOST, "argv": None},
            "app": {"binding": "docker", "name": "tsh_erp_app_blue", "host": "ssh://root@10.0.0.2", "argv": None},
        }
    )

    class RefusingHost:
        def run(self, command, *args):
            # What testinfra's ssh backend does when ssh itself exits 255.
            raise RuntimeError(SimpleNamespace(rc=255, stdout="", stderr=SSH_REFUSED))

    class UnroutableHost:
        def run(self, command, *args):
            raise OSError(113, "No route to host")

    hosts = {SSH_HOST: RefusingHost(), "ssh://root@10.0.0.2": UnroutableHost()}
    monkeypatch.setattr(actions.testinfra, "get_host", hosts.__getitem__)
    return target


def test_failing_and_raising_steps_are_recorded_and_stop_only_their_recipe(
    make_healer, write_recipe, recipes_dir, recipe_text, remote_target, reports_dir
):
    write_recipe("H93_worker", recipe_text("H93", "worker", steps=REMOTE_STEPS.replace("SERVICE", "worker")))
    write_recipe("H94_app", recipe_text("H94", "app", steps=REMOTE_STEPS.replace("SERVICE", "app")))
    catalog = load_catalog(recipes_dir)
    healer = make_healer(remote_target)
    plan = healer.plan([(catalog.get("H93"), INVOICES), (catalog.get("H94"), {"entity": "orders"})])
    with healer.locked():
        results = healer.execute(plan)
    expected = [
        (f"service restart worker (systemd binding on {SSH_HOST})", "run", "failed",
         f"systemctl restart tsh-worker on {SSH_HOST} exited 255: ssh: connect to host 10.0.0.1 port 22: "
         "Connection refused"),
        ("command say (entity=invoices)", "run", "skipped", "not run: an earlier step of H93 failed"),
        ("service restart app (docker binding on ssh://root@10.0.0.2)", "run", "failed",
         "OSError: [Errno 113] No route to host"),
        ("command say (entity=orders)", "run", "skipped", "not run: an earlier step of H94 failed"),
    ]  # fmt: skip
    assert [(p.description, p.decision, r.status, r.detail) for p, r in results] == expected
    for path in (healer.ledger_path, healer.target_ledger_path):
        entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert [(e["description"], e["decision"], e["result"], e["detail"]) for e in entries] == expected


def test_a_runner_defect_is_the_step_failure_not_the_heal(make_healer, demo_catalog, monkeypatch):
    def broken_runner(*args):
        raise ValueError("unexpected shape\nof the answer")

    monkeypatch.setattr(healing, "run_step", broken_runner)
    healer = make_healer()
    results = healer.execute(healer.plan([(demo_catalog.get("H91"), INVOICES)]))
    assert [(r.status, r.detail) for _, r in results] == [
        ("failed", "ValueError: unexpected shape | of the answer"),  # a diagnostic: the recipe goes on
        ("failed", "ValueError: unexpected shape | of the answer"),
        ("skipped", "not run: an earlier step of H91 failed"),
        ("skipped", "not run: an earlier step of H91 failed"),
    ]


def test_an_interrupted_heal_records_the_step_in_flight_and_releases_the_lock(make_healer, demo_catalog, monkeypatch):
    calls = []

    def interrupted_second_step(step, *args):
        calls.append(step.action)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return actions.StepResult("ok", "done")

    monkeypatch.setattr(healing, "run_step", interrupted_second_step)
    healer = make_healer()
    failures = [Failure("suites/api/test_demo.py::test_demo[invoices]", kind="http_status", recipe="H91",
                        params=INVOICES)]  # fmt: skip
    outcome = heal_failures(failures, demo_catalog, healer, rerun=lambda ids: pytest.fail("re-ran"))
    assert outcome.interrupted is True
    assert [(p.description, r.status, r.detail) for p, r in outcome.steps] == [
        ("http GET /health", "ok", "done"),
        ("command leak", "interrupted", healing.INTERRUPTED_STEP),
        ("command fail", "skipped", "not run: the heal was interrupted"),
        ("command say (entity=invoices)", "skipped", "not run: the heal was interrupted"),
    ]
    entries = [json.loads(line) for line in healer.ledger_path.read_text(encoding="utf-8").splitlines()]
    # The ledger accounts for the whole plan.
    assert [(e["description"], e["result"]) for e in entries] == [
        ("http GET /health", "ok"),
        ("command leak", "interrupted"),
        ("command fail", "skipped"),
        ("command say (entity=invoices)", "skipped"),
    ]
    assert (failures[0].healed, failures[0].heal_note) == (False, "not verified: the run was interrupted")
    with make_healer().locked():  # the lock was released
        pass


def test_a_signal_between_two_steps_leaves_no_step_unrecorded(make_healer, demo_catalog, monkeypatch):
    monkeypatch.setattr(healing, "run_step", lambda step, *args: actions.StepResult("ok", "done"))
    healer = make_healer()
    record = healer._record

    def signal_after_the_first_record(planned, result, results):
        record(planned, result, results)
        if len(results) == 1:
            raise KeyboardInterrupt  # the signal lands after step 1 was recorded, before step 2 starts

    monkeypatch.setattr(healer, "_record", signal_after_the_first_record)
    failures = [Failure("suites/api/test_demo.py::test_demo[invoices]", kind="http_status", recipe="H91",
                        params=INVOICES)]  # fmt: skip
    outcome = heal_failures(failures, demo_catalog, healer, rerun=lambda ids: pytest.fail("re-ran"))
    assert outcome.interrupted is True
    entries = [json.loads(line) for line in healer.ledger_path.read_text(encoding="utf-8").splitlines()]
    assert [(e["description"], e["result"], e["detail"]) for e in entries] == [
        ("http GET /health", "ok", "done"),
        ("command leak", "skipped", "not run: the heal was interrupted"),
        ("command fail", "skipped", "not run: the heal was interrupted"),
        ("command say (entity=invoices)", "skipped", "not run: the heal was interrupted"),
    ]


def test_an_interrupted_verification_ends_the_heal_unverified(make_healer, demo_catalog, monkeypatch):
    monkeypatch.setattr(healing, "run_step", lambda *args: actions.StepResult("ok", "done"))

    def interrupted_rerun(nodeids):
        raise KeyboardInterrupt

    failures = [Failure("suites/api/test_demo.py::test_demo[invoices]", kind="http_status", recipe="H91",
                        params=INVOICES)]  # fmt: skip
    outcome = heal_failures(failures, demo_catalog, make_healer(), rerun=interrupted_rerun)
    assert outcome.interrupted is True
    assert [r.status for _, r in outcome.steps] == ["ok", "ok", "ok", "ok"]
    assert (failures[0].healed, failures[0].heal_note) == (False, "not verified: the run was interrupted")


# --- the cooldown belongs to the target ---------------------------------------------------


def test_cooldown_is_shared_by_runs_with_different_reports_dirs(inventory, redact, demo_catalog, tmp_path):
    def healer(reports):
        return Healer(inventory, approvals=set(), dry_run=False, reports_dir=tmp_path / reports, redact=redact,
                      now=lambda: NOW)  # fmt: skip

    first = healer("reports-a")
    with first.locked():
        first.execute(first.plan([(demo_catalog.get("H90"), INVOICES)]))
    second = healer("reports-b").plan([(demo_catalog.get("H90"), INVOICES)])
    assert second[0].decision == "cooldown"
    # Each run keeps its own copy of what it did.
    assert [json.loads(line)["decision"] for line in first.ledger_path.read_text().splitlines()] == [
        "run", "needs_approval", "never",
    ]  # fmt: skip
    assert not (tmp_path / "reports-b" / "healing" / "ledger.jsonl").exists()


def test_cooldown_holds_whichever_failure_comes_first(make_healer, shipped_catalog, target_ledger):
    h11 = shipped_catalog.get("H11")
    entry = {"time": "2026-01-01T11:30:00+00:00", "recipe": "H11", "params": {"entity": "products"}}
    write_ledger(target_ledger, entry)
    # The restart is planned once, for the first failure (orders); the products failure it also serves
    # had the recipe applied within the cooldown.
    plan = make_healer().plan([(h11, {"entity": "orders"}), (h11, {"entity": "products"})])
    restart = next(p for p in plan if p.action == "service")
    assert (restart.params, restart.served_params, restart.decision) == (
        {"entity": "orders"}, ({"entity": "orders"}, {"entity": "products"}), "cooldown",
    )  # fmt: skip


# --- the healing policy: highest risk without approval, kill switch, cooldown override -----


def test_max_risk_guarded_runs_guarded_steps_without_approval_but_never_destructive_ones(
    make_healer, demo_catalog, inventory_factory
):
    target = inventory_factory(healing={"max_risk_without_approval": "guarded"})
    plan = make_healer(target).plan([(demo_catalog.get("H90"), INVOICES)])
    assert [(p.decision, p.reason) for p in plan] == [
        ("run", "safe step"),
        ("run", "guarded step"),
        ("manual", "instructions for a human"),
        ("never", "destructive steps are never run, only printed"),
    ]


def test_the_old_auto_run_spelling_must_agree_with_max_risk(inventory_factory):
    assert inventory_factory(healing={"auto_run": "none", "max_risk_without_approval": None}).healing.max_risk == "none"
    assert inventory_factory(healing={"max_risk_without_approval": None}).healing.max_risk == "safe"
    with pytest.raises(ValueError, match="auto_run = 'none' contradicts max_risk_without_approval = 'safe'"):
        inventory_factory(healing={"auto_run": "none", "max_risk_without_approval": "safe"})


KILL_SWITCH = "healing is disabled on target unit by its kill switch (healing.kill_switch = 'incident 42')"


def test_the_kill_switch_refuses_the_heal_and_records_every_step(
    make_healer, demo_catalog, inventory_factory, reports_dir, monkeypatch
):
    monkeypatch.setattr(healing, "run_step", lambda *args: pytest.fail("a disabled heal ran a step"))
    healer = make_healer(inventory_factory(healing={"kill_switch": "incident 42"}))
    failures = [Failure("suites/api/test_demo.py::test_demo[invoices]", kind="http_status", recipe="H90",
                        params=INVOICES)]  # fmt: skip
    outcome = heal_failures(failures, demo_catalog, healer, rerun=lambda ids: pytest.fail("re-ran"))
    assert outcome.refused == f"{KILL_SWITCH}; nothing was run"
    assert (failures[0].healed, failures[0].heal_note) == (False, "no repairing step ran for its recipe")
    entries = [json.loads(line) for line in ledger_lines(reports_dir)]
    assert [(e["description"], e["decision"], e["result"]) for e in entries] == [
        ("command say (entity=invoices)", "healing_disabled", "skipped"),
        ("service restart app (command binding)", "healing_disabled", "skipped"),
        ("command fail", "never", "skipped"),
    ]
    assert entries[0]["detail"] == KILL_SWITCH
    # A dry run shows the same decisions and writes nothing more.
    dry = make_healer(inventory_factory(healing={"kill_switch": "incident 42"}), dry_run=True)
    assert [p.decision for p in dry.plan([(demo_catalog.get("H90"), INVOICES)])] == [
        "healing_disabled", "healing_disabled", "manual", "never",
    ]  # fmt: skip


def test_ignore_cooldown_runs_the_recipe_again_and_says_so(make_healer, demo_catalog, target_ledger, inventory):
    write_ledger(target_ledger, {"time": "2026-01-01T11:30:00+00:00"})
    healer = Healer(inventory, approvals=set(), dry_run=False, reports_dir=target_ledger.parent / "r",
                    redact=str, now=lambda: NOW, ignore_cooldown=True)  # fmt: skip
    first = healer.plan([(demo_catalog.get("H90"), INVOICES)])[0]
    assert (first.decision, first.reason) == (
        "run",
        "safe step; cooldown ignored (--heal-ignore-cooldown): H90 was applied to unit at 2026-01-01T11:30:00+00:00; "
        "cooldown of 60 min lasts until 2026-01-01T12:30:00+00:00",
    )
    failures = [Failure("suites/api/test_demo.py::test_demo[invoices]", kind="http_status", recipe="H90",
                        params=INVOICES)]  # fmt: skip
    outcome = heal_failures(failures, demo_catalog, healer, rerun=lambda ids: dict.fromkeys(ids, "passed"))
    assert outcome.notes == ["cooldown ignored (--heal-ignore-cooldown): recipes in cooldown run again"]
    assert (outcome.steps[0][0].decision, outcome.steps[0][1].status) == ("run", "ok")


# --- the backup-first rule (production) ------------------------------------------------------

BACKUP_STEPS = """
[[steps]]
action = "command"
command = "backup_database"
args = { stamp = "{utc_stamp}" }
risk = "safe"
"""


@pytest.fixture
def production_target(inventory_factory):
    def make(backup_argv):
        commands = {
            "backup_database": {"argv": [*backup_argv, "{stamp}"], "timeout_seconds": 30},
            "say": {"argv": [sys.executable, "-c", "print('fixed {entity}')"], "timeout_seconds": 30},
        }
        return inventory_factory(target={"name": "production", "kind": "production"}, commands=commands,
                                 healing={"max_risk_without_approval": "none", "approve": ["H90", "H95"]})  # fmt: skip

    return make


@pytest.fixture
def backup_catalog(write_recipe, recipes_dir, recipe_text):
    write_recipe("H90_demo", recipe_text("H90", "demo", steps=DEMO_STEPS))
    write_recipe("H95_backup", recipe_text("H95", "backup", steps=BACKUP_STEPS))
    return load_catalog(recipes_dir)


OK_BACKUP = [sys.executable, "-c", "import sys; print('dumped', sys.argv[1])"]
FAILING_BACKUP = [sys.executable, "-c", "import sys; print('disk full'); sys.exit(1)"]


def test_production_changes_nothing_without_a_backup_step_in_the_heal(make_healer, backup_catalog, production_target):
    healer = make_healer(production_target(OK_BACKUP))
    plan = healer.plan([(backup_catalog.get("H90"), INVOICES)])
    assert [(p.description, p.decision) for p in plan] == [
        ("command say (entity=invoices)", "no_verified_backup"),
        ("service restart app (command binding)", "no_verified_backup"),
        ("manual: Tell the invoices owner", "manual"),
        ("command fail", "never"),
    ]
    assert plan[0].reason == healing.NO_BACKUP_PLANNED
    results = healer.execute(plan)
    assert {r.status for _, r in results} == {"skipped"}
    entries = [json.loads(line) for line in healer.ledger_path.read_text(encoding="utf-8").splitlines()]
    assert [e["decision"] for e in entries] == ["no_verified_backup", "no_verified_backup", "never"]


def test_production_runs_the_backup_first_then_the_changes(make_healer, backup_catalog, production_target):
    healer = make_healer(production_target(OK_BACKUP))
    plan = healer.plan([(backup_catalog.get("H90"), INVOICES), (backup_catalog.get("H95"), {})])
    assert re.fullmatch(r"command backup_database \(stamp=\d{8}_\d{6}\)", plan[0].description)
    assert [p.description for p in plan][1:3] == [
        "command say (entity=invoices)",
        "service restart app (command binding)",
    ]
    results = healer.execute(plan)
    assert [(p.recipe_id, p.action, p.decision, r.status) for p, r in results][:3] == [
        ("H95", "command", "run", "ok"), ("H90", "command", "run", "ok"), ("H90", "service", "run", "ok"),
    ]  # fmt: skip


def test_a_failed_backup_refuses_every_later_change(make_healer, backup_catalog, production_target):
    healer = make_healer(production_target(FAILING_BACKUP))
    results = healer.execute(healer.plan([(backup_catalog.get("H95"), {}), (backup_catalog.get("H90"), INVOICES)]))
    assert [(p.action, p.decision, r.status) for p, r in results][:3] == [
        ("command", "run", "failed"), ("command", "no_verified_backup", "skipped"),
        ("service", "no_verified_backup", "skipped"),
    ]  # fmt: skip
    assert results[1][0].reason.startswith(f"{healing.BACKUP_FAILED}: ")
    assert "exited 1: disk full" in results[1][0].reason
    entries = [json.loads(line) for line in healer.ledger_path.read_text(encoding="utf-8").splitlines()]
    assert [e["decision"] for e in entries][:3] == ["run", "no_verified_backup", "no_verified_backup"]
