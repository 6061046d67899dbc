"""The sandbox as a shared resource: an attached run undoes only its own faults and says it attached; the
default home belongs to the checkout; a sandbox inventory that fails validation starts nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from expected import HEALTH
from suite_runner import run_suite

from fixtures.inventory import PROJECT_ROOT
from sandbox import default_home
from sandbox.controller import runtime_root


def test_a_run_attached_to_a_running_sandbox_undoes_only_the_faults_it_added(healthy_sandbox, tmp_path):
    healthy_sandbox.apply_fault("webhook-error:invoices")  # switched on by hand, before the run
    try:
        run = run_suite(
            healthy_sandbox, tmp_path / "reports", "-m", "production", "-k", "test_health_reports",
            "--sandbox-fault", "backend-down",
        )  # fmt: skip
        assert run.exit_code == 1, run.output
        assert set(run.outcomes()) == {HEALTH}
        assert (
            f"sandbox: attached to the sandbox already running in {healthy_sandbox.home} "
            "(faults already on: webhook-error:invoices)"
        ) in run.output
        assert "sandbox faults for this run: backend-down" in run.output
        # The run's own fault is undone; the one that was on before it stays on.
        assert healthy_sandbox.faults() == ["webhook-error:invoices"]
        assert healthy_sandbox.status()["app"] == "running"
    finally:
        healthy_sandbox.reset()


def test_the_default_sandbox_home_belongs_to_the_checkout(monkeypatch):
    monkeypatch.delenv("TSH_SANDBOX_HOME", raising=False)
    checkout = hashlib.sha256(str(PROJECT_ROOT.resolve()).encode()).hexdigest()[:12]
    assert default_home() == runtime_root() / f"checkout-{checkout}"
    monkeypatch.setenv("TSH_SANDBOX_HOME", "/somewhere/else")
    assert str(default_home()) == "/somewhere/else"


def test_a_sandbox_inventory_that_fails_validation_starts_nothing(tmp_path):
    text = (PROJECT_ROOT / "targets" / "sandbox.toml").read_text(encoding="utf-8")
    assert "timeout_seconds = " in text
    broken = tmp_path / "broken-sandbox.toml"
    broken.write_text(text.replace("timeout_seconds = ", "timeout_seconds = -", 1), encoding="utf-8")
    home = tmp_path / "sandboxes" / "default"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("TSH_", "PYTEST_"))}
    env["TSH_SANDBOX_HOME"] = str(home)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--target={broken}",
         f"--reports-dir={tmp_path / 'reports'}", "-m", "staging"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 4, completed.stdout + completed.stderr
    assert "broken-sandbox.toml: " in completed.stderr and "timeout_seconds" in completed.stderr, completed.stderr
    assert "placeholder" not in completed.stderr
    # No sandbox was started for the run: its home (beside the default one) was never made.
    assert not home.parent.exists(), sorted(home.parent.rglob("*"))
