"""code.static, code.types, security.sast_deps, security.dependencies, build.lockfiles_tracked,
security.repo_secret_scan on a source checkout.

Each check enforces one gate (``suites/code/gates.py`` says what each runs and
what its output means) against ``[code] source_dir``, a git checkout. Every
selected gate runs once per run, all at once, and each check reads its
verdict: it passes, fails with the gate's kind and evidence, or is skipped
with the reason (a gate that could not do its work never passes).
"""

from __future__ import annotations

import pytest

from suites.code.gates import gate

pytestmark = [pytest.mark.staging, pytest.mark.code]


@gate("ruff")
def test_ruff_reports_no_findings(gate_verdict):
    gate_verdict.enforce()


@gate("black")
def test_black_reports_no_diff(gate_verdict):
    gate_verdict.enforce()


@gate("bandit")
def test_bandit_reports_no_high_severity_issue(gate_verdict):
    gate_verdict.enforce()


@gate("mypy")
def test_mypy_reports_no_type_error(gate_verdict):
    gate_verdict.enforce()


@pytest.mark.production  # a pre-deploy gate too: the release's application paths, on the deployed checkout
@gate("debug")
def test_no_debug_statement_in_application_code(gate_verdict):
    gate_verdict.enforce()


@gate("lockfiles")
def test_every_package_manifest_has_a_tracked_lock_file(gate_verdict):
    gate_verdict.enforce()


@gate("credentials")
def test_no_credentials_committed(gate_verdict):
    gate_verdict.enforce()


@gate("pip-audit")
def test_no_dependency_has_a_known_vulnerability(gate_verdict):
    gate_verdict.enforce()
