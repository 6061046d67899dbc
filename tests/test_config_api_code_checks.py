"""Configuration, BFF and code-gate checks on the sandbox: heals of config faults, code defects, reset.

Runs select only these checks to stay short; which checks each sandbox fault
fails in the whole stage is the fault matrix's (``tests/test_fault_matrix.py``).
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from suite_runner import DB_PASSWORD, assert_no_secret_in

from fixtures.inventory import PROJECT_ROOT
from sandbox import SandboxError
from sandbox.faults import parse_fault
from sandbox.provision import ENV_VARIABLES, PLACEHOLDER, SAMPLE_SOURCE, derived_secret, env_file_names
from suites.config.conftest import parse_env

CONFIG_FILES = ["suites/config"]
API_FILES = ["suites/api/test_bff_endpoints.py"]
CODE_FILES = ["suites/code"]
PROTECTED = ["gps-sync-status", "commissions-summary", "transfers-statistics"]
ENDPOINTS = [*PROTECTED, "gps-health", "commissions-health", "transfers-health"]
CODE_GATES = [
    "test_ruff_reports_no_findings",
    "test_black_reports_no_diff",
    "test_bandit_reports_no_high_severity_issue",
    "test_mypy_reports_no_type_error",
    "test_no_debug_statement_in_application_code",
    "test_every_package_manifest_has_a_tracked_lock_file",
    "test_no_credentials_committed",
    "test_no_dependency_has_a_known_vulnerability",
]
PIP_AUDIT = "test_no_dependency_has_a_known_vulnerability"
# pip-audit's advisory service may not answer from this machine: the gate is then skipped, never passed.
AUDIT_SKIPPED = re.compile(r"SKIPPED \[1\] suites/code/test_code_gates\.py:\d+: pip-audit: the advisory service")
BFF = "/api/bff/salesperson"


def variable_check(name: str) -> str:
    return f"suites/config/test_env_file.py::test_required_variable_is_set_and_valid[{name}]"


def bff_check(check: str, endpoint: str) -> str:
    return f"suites/api/test_bff_endpoints.py::test_bff_endpoint_{check}[{endpoint}]"


def code_gate(name: str) -> str:
    return f"suites/code/test_code_gates.py::{name}"


ALL_CHECKS = (
    [variable_check(name) for name in ENV_VARIABLES]
    + [bff_check("answers_with_data", e) for e in ENDPOINTS]
    + [bff_check("refuses_anonymous_calls", e) for e in PROTECTED]
    + [bff_check("latency_within_limit", e) for e in ENDPOINTS]
    + [code_gate(name) for name in CODE_GATES]
)


# --- healthy ----------------------------------------------------------------------------


def test_healthy_sandbox_passes_every_config_api_and_code_check(suite):
    run = suite(*CONFIG_FILES, *API_FILES, *CODE_FILES, "-m", "staging", "-rs")
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    skipped = 1 if AUDIT_SKIPPED.search(run.output) else 0
    assert ("1 skipped" in run.output) if skipped else ("skipped" not in run.output)
    assert run.findings["summary"] == {"passed": len(ALL_CHECKS) - skipped, "failed": 0, "healed": 0}


# --- configuration ----------------------------------------------------------------------


def test_secret_placeholder_fails_its_variable_as_manual_config_and_leaks_nothing(suite, healthy_sandbox):
    run = suite(*CONFIG_FILES, "-m", "staging", "--sandbox-fault", "secret-placeholder:SECRET_KEY", "--heal")
    assert run.exit_code == 1, run.output
    assert run.failed() == {variable_check("SECRET_KEY"): ("config", "H21")}
    finding = run.findings["failures"][0]
    assert finding["healed"] is False
    assert finding["evidence"] == {
        "variable": "SECRET_KEY",
        "env_file": f"{healthy_sandbox.env()['TSH_SANDBOX_ENV_FILE']} on local://",
        "rule": "not_placeholder",
    }
    # Manual steps are shown, never run, so the ledger records nothing.
    assert run.ledger() == []
    assert "The agent never creates credentials" in run.output
    assert_no_secret_in(run)
    # The run's reset restored the env file.
    assert env_file_names(healthy_sandbox.home / "app.env")["SECRET_KEY"] == derived_secret(DB_PASSWORD, "SECRET_KEY")


def test_secret_missing_fails_its_variable_as_manual_missing(suite, healthy_sandbox):
    run = suite(*CONFIG_FILES, "-m", "staging", "--sandbox-fault", "secret-missing:ZOHO_REFRESH_TOKEN", "--heal")
    assert run.exit_code == 1, run.output
    assert run.failed() == {variable_check("ZOHO_REFRESH_TOKEN"): ("missing", "H20")}
    assert [f["healed"] for f in run.findings["failures"]] == [False]
    assert run.ledger() == []
    assert "Add ZOHO_REFRESH_TOKEN to the env file" in run.output
    assert_no_secret_in(run)
    assert set(env_file_names(healthy_sandbox.home / "app.env")) == {*ENV_VARIABLES, "ACTIVE_DEPLOYMENT_SLOT"}


def test_reset_restores_the_env_file(healthy_sandbox):
    healthy_sandbox.apply_fault("secret-missing:LOG_LEVEL")
    healthy_sandbox.apply_fault("secret-placeholder:JWT_SECRET_KEY")
    assert sorted(healthy_sandbox.faults()) == ["secret-missing:LOG_LEVEL", "secret-placeholder:JWT_SECRET_KEY"]
    assert env_file_names(healthy_sandbox.home / "app.env")["JWT_SECRET_KEY"] == PLACEHOLDER
    healthy_sandbox.reset()
    assert healthy_sandbox.faults() == []
    assert set(env_file_names(healthy_sandbox.home / "app.env")) == {*ENV_VARIABLES, "ACTIVE_DEPLOYMENT_SLOT"}


def test_env_file_parser_handles_quotes_comments_and_export():
    text = "# comment\n\nexport A=1\nB = 'two # not a comment'\nC=\"x\" # trailing\nD=plain # note\nE=\nF=a=b\n"
    assert parse_env(text) == {"A": "1", "B": "two # not a comment", "C": "x", "D": "plain", "E": "", "F": "a=b"}


# --- API (BFF) ----------------------------------------------------------------------------


# --- code and build gates -----------------------------------------------------------------


def git(directory, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@tsh.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=directory, check=True, capture_output=True, timeout=30)


def add_file(name: str, text: str):
    def apply(checkout):
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text(text, encoding="utf-8")

    return apply


WEAK_HASH = '''"""Extra."""

import hashlib


def digest(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
'''
DEFECTS = {
    "lint": (add_file("app/extra.py", '"""Extra."""\n\nimport os\n'), "test_ruff_reports_no_findings", "lint", "H33"),
    "black": (add_file("app/extra.py", "VALUE = {'a':1}\n"), "test_black_reports_no_diff", "lint", "H33"),
    "mypy": (
        add_file("app/extra.py", '"""Extra."""\n\n\ndef double(value: int) -> str:\n    return value * 2\n'),
        "test_mypy_reports_no_type_error",
        "lint",
        "H37",
    ),
    "bandit": (
        add_file("app/extra.py", WEAK_HASH),
        "test_bandit_reports_no_high_severity_issue",
        "security",
        "H27",
    ),
    "debug": (
        add_file("app/extra.py", '"""Extra."""\n\n\ndef debug() -> None:\n    print("here")\n'),
        "test_no_debug_statement_in_application_code",
        "lint",
        "H33",
    ),
    "lockfile": (
        add_file(".gitignore", "package-lock.json\n"),
        "test_every_package_manifest_has_a_tracked_lock_file",
        "missing",
        "H23",
    ),
    "credentials": (
        add_file("deploy/database.ini", "[db]\nurl = postgresql://erp:Sup3rSecretPw@db:5432/erp\n"),
        "test_no_credentials_committed",
        "security",
        "H34",
    ),
}


def defective_checkout(tmp_path, defect) -> str:
    """A committed copy of the sample source with one defect; returns a target file pointing at it."""
    checkout = tmp_path / "source"
    shutil.copytree(SAMPLE_SOURCE, checkout, ignore=shutil.ignore_patterns("__pycache__"))
    git(checkout, "init", "--quiet")
    defect(checkout)
    git(checkout, "add", "--all")
    git(checkout, "commit", "--quiet", "--message", "sample with one defect")
    text = (PROJECT_ROOT / "targets" / "sandbox.toml").read_text(encoding="utf-8")
    target = tmp_path / "defective.toml"
    target.write_text(text.replace("${TSH_SANDBOX_SOURCE_DIR}", str(checkout)), encoding="utf-8")
    return str(target)


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_code_defect_fails_exactly_its_gate(suite, tmp_path, defect):
    introduce, gate, kind, recipe = DEFECTS[defect]
    target = defective_checkout(tmp_path, introduce)
    run = suite(*CODE_FILES, "-m", "staging", f"--target={target}")
    assert run.exit_code == 1, run.output
    assert run.failed() == {code_gate(gate): (kind, recipe)}
    assert "gave no result" not in run.output  # the tool ran and found the defect
    assert "Sup3rSecretPw" not in (run.reports_dir / "findings.json").read_text(encoding="utf-8")


def test_code_gates_are_skipped_without_a_source_checkout(suite, tmp_path):
    text = (PROJECT_ROOT / "targets" / "sandbox.toml").read_text(encoding="utf-8")
    target = tmp_path / "no-source.toml"
    target.write_text(text.replace('source_dir = "${TSH_SANDBOX_SOURCE_DIR}"', ""), encoding="utf-8")
    run = suite(*CODE_FILES, "-m", "staging", f"--target={target}", "-rs")
    assert run.exit_code == 0, run.output
    assert f"{len(CODE_GATES)} skipped" in run.output
    assert "no source checkout configured" in run.output


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("secret-missing:NOT_A_VARIABLE", "needs a variable, one of: SECRET_KEY"),
        ("endpoint-error:/api/unknown", "needs a BFF path"),
        (f"endpoint-slow:{BFF}/gps/health", "needs a delay in ms"),
        (f"auth-open:{BFF}/gps/health", "needs a BFF path, one of: /api/bff/salesperson/gps/sync-status"),
    ],
)
def test_bad_fault_argument_names_the_allowed_values(spec, message):
    with pytest.raises(SandboxError) as caught:
        parse_fault(spec)
    assert message in str(caught.value)
