"""The code gates on generated checkouts: the exact outcome of each gate, without the sandbox.

Each checkout is the sandbox's sample source (on which every gate passes) plus
the files a test adds, committed to a new git repository; the code stage runs
in its own pytest process against a minimal inventory that points at it. The
last part tests the gates' runner and interpretation in this process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from suite_runner import run_suite, suite_env

from fixtures.inventory import InventoryError, load_inventory
from remedies.catalog import load_catalog
from sandbox.provision import SAMPLE_SOURCE
from suites.code import gates
from suites.code.gates import Checkout, Gate, GateFailed, ToolRun, Verdict

CHECKS = "suites/code/test_code_gates.py"
GATE_CHECKS = {
    "ruff": "test_ruff_reports_no_findings",
    "black": "test_black_reports_no_diff",
    "bandit": "test_bandit_reports_no_high_severity_issue",
    "mypy": "test_mypy_reports_no_type_error",
    "debug": "test_no_debug_statement_in_application_code",
    "lockfiles": "test_every_package_manifest_has_a_tracked_lock_file",
    "credentials": "test_no_credentials_committed",
    "pip-audit": "test_no_dependency_has_a_known_vulnerability",
}
UNFORMATTED = "VALUE = {'a':1}\n"
INVENTORY = """\
[target]
name = "code-gates"
kind = "staging"

[http]
base_url = "http://127.0.0.1:9"

[database]
url = "postgresql://tests@127.0.0.1:9/tests"

[[webhooks.routes]]
name = "products"
tds_entity = "product"
id_field = "item_id"

[code]
source_dir = "{source}"
timeout_seconds = 120
{extra}
"""


def check(gate: str) -> str:
    return f"{CHECKS}::{GATE_CHECKS[gate]}"


def git(directory: Path, *args: str) -> None:
    identity = ["-c", "user.name=test", "-c", "user.email=test@tsh.invalid", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", *identity, *args], cwd=directory, check=True, capture_output=True, timeout=30)


def make_checkout(tmp_path: Path, files: dict[str, str], *, force: tuple[str, ...] = (), before_commit=None) -> Path:
    """The sample source plus ``files``, committed; ``force`` are added even where .gitignore says no."""
    source = tmp_path / "source"
    shutil.copytree(SAMPLE_SOURCE, source, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    git(source, "init", "--quiet")
    if before_commit is not None:
        before_commit(source)
    git(source, "add", "--all")
    if force:
        git(source, "add", "--force", *force)
    git(source, "commit", "--quiet", "--message", "generated checkout")
    return source


def run_code_stage(tmp_path: Path, source: Path, *args: str, extra: str = "", env: dict | None = None):
    target = tmp_path / "code-gates.toml"
    target.write_text(INVENTORY.format(source=source, extra=extra), encoding="utf-8")
    # Caches of their own (black's, mypy's, pip-audit's): every run starts as on a fresh machine.
    env = {**(env or suite_env()), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    return run_suite(
        None, tmp_path / "reports", "suites/code", "-m", "code", f"--target={target}", "-rs", *args, env=env
    )


def failure(run, gate: str) -> dict:
    return next(f for f in run.findings["failures"] if f["nodeid"] == check(gate))


def audit_skip_only(run) -> None:
    """Every other gate passed; pip-audit passed or was skipped because its service did not answer."""
    skipped = "pip-audit: the advisory service" in run.output
    passed = len(GATE_CHECKS) - len(run.findings["failures"]) - (1 if skipped else 0)
    assert run.findings["summary"]["passed"] == passed, run.output


# --- black -------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 12])
def test_black_counts_the_files_it_would_reformat_and_names_the_first_ten(tmp_path, count):
    names = [f"app/module_{n:02d}.py" for n in range(count)]
    run = run_code_stage(tmp_path, make_checkout(tmp_path, dict.fromkeys(names, UNFORMATTED)))
    assert run.exit_code == 1, run.output
    assert run.failed() == {check("black"): ("lint", "H33")}
    found = failure(run, "black")
    assert found["message"] == f"black would reformat {count} files"
    assert found["evidence"] == {"count": count, "files": names[:10], "exit_code": 1}
    audit_skip_only(run)


def test_black_that_refuses_its_configuration_is_not_reported_as_a_finding(tmp_path):
    pyproject = (SAMPLE_SOURCE / "pyproject.toml").read_text(encoding="utf-8")
    broken = pyproject.replace("[tool.black]\nline-length = 100", '[tool.black]\nline-length = "wide"')
    run = run_code_stage(tmp_path, make_checkout(tmp_path, {"pyproject.toml": broken}))
    assert run.exit_code == 1, run.output
    assert run.failed() == {check("black"): ("config", None)}
    found = failure(run, "black")
    assert found["message"] == "black gave no result (exit 2)"
    assert found["evidence"]["exit_code"] == 2
    assert "'wide' is not a valid integer" in found["evidence"]["stderr"]


# --- committed credentials ---------------------------------------------------------------------

DB_INI_PASSWORD = "Qw7rT9zK2mXp"
ENV_PASSWORD = "Lm4Nq8Rs2Vx6"
PY_URL_PASSWORD = "Hj3Kd9Wp5Zc1"
AWS_KEY = "AKIAZ7QW3ERT5YUI9OPL"
CREDENTIAL_FILES = {
    "app/keys.py": f'"""Keys."""\n\nAWS_ACCESS_KEY_ID = "{AWS_KEY}"\n',
    "app/db.py": f'"""Database access."""\n\nDATABASE_URL = "postgresql://erp:{PY_URL_PASSWORD}@db/erp"\n',
    "deploy/app.env": f"# deployment settings\nDB_PASSWORD={ENV_PASSWORD}\n",
    "deploy/database.ini": f"[database]\nurl = postgresql://erp:{DB_INI_PASSWORD}@db:5432/erp\n",
}


def assert_values_absent(run, values: list[str]) -> None:
    """No report file and no output line holds a value, or its middle part."""
    fragments = [fragment for value in values for fragment in (value, value[3:9])]
    for path in (p for p in run.reports_dir.rglob("*") if p.is_file()):
        content = path.read_bytes()
        for fragment in fragments:
            assert fragment.encode() not in content, f"{fragment!r} is in {path.name}"
    assert not any(fragment in run.output for fragment in fragments)


def test_credentials_are_ranked_config_files_and_urls_first_and_never_shown(tmp_path):
    run = run_code_stage(tmp_path, make_checkout(tmp_path, CREDENTIAL_FILES))
    assert run.exit_code == 1, run.output
    assert run.failed() == {check("credentials"): ("security", "H34")}
    found = failure(run, "credentials")
    assert found["message"] == "4 committed credentials (detect-secrets)"
    assert found["evidence"] == {
        "count": 4,
        "in_config_files": 2,
        "findings": [
            "deploy/database.ini:2 Basic Auth Credentials",
            "deploy/app.env:2 Secret Keyword",
            "app/db.py:3 Basic Auth Credentials",
            "app/keys.py:3 AWS Access Key",
        ],
    }
    assert_values_absent(run, [DB_INI_PASSWORD, ENV_PASSWORD, PY_URL_PASSWORD, AWS_KEY])


def write_baseline(source: Path) -> None:
    """The checkout's .secrets.baseline, made by detect-secrets itself from what is there now."""
    git(source, "add", "--all")
    completed = subprocess.run(
        [sys.executable, "-m", "detect_secrets", "scan"], cwd=source, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    (source / ".secrets.baseline").write_text(completed.stdout, encoding="utf-8")


def test_a_finding_listed_in_the_secrets_baseline_passes(tmp_path):
    files = {"deploy/database.ini": CREDENTIAL_FILES["deploy/database.ini"]}
    source = make_checkout(tmp_path, files, before_commit=write_baseline)
    baseline = (source / ".secrets.baseline").read_bytes()
    assert b"deploy/database.ini" in baseline
    run = run_code_stage(tmp_path, source)
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    audit_skip_only(run)
    assert (source / ".secrets.baseline").read_bytes() == baseline  # the scan wrote to a copy


def test_a_finding_added_after_the_baseline_is_the_only_one_reported(tmp_path):
    def baseline_then_new_key(source: Path) -> None:
        write_baseline(source)
        (source / "app/keys.py").write_text(CREDENTIAL_FILES["app/keys.py"], encoding="utf-8")

    files = {"deploy/database.ini": CREDENTIAL_FILES["deploy/database.ini"]}
    run = run_code_stage(tmp_path, make_checkout(tmp_path, files, before_commit=baseline_then_new_key))
    assert run.exit_code == 1, run.output
    assert run.failed() == {check("credentials"): ("security", "H34")}
    assert failure(run, "credentials")["evidence"] == {
        "count": 1,
        "in_config_files": 0,
        "findings": ["app/keys.py:3 AWS Access Key"],
        "baseline": ".secrets.baseline: 1 known findings not counted",
    }
    assert_values_absent(run, [DB_INI_PASSWORD, AWS_KEY])


# --- debug statements ----------------------------------------------------------------------------

DEBUG_FILES = {
    "app/worker.py": '"""Workers."""\n\n\ndef run() -> None:\n    print("started")\n',
    "tests/test_worker.py": '"""Tests."""\n\n\ndef test_run() -> None:\n    print("debugging a test")\n',
    "app/tests/test_inner.py": '"""Tests inside the package."""\n\n\ndef test_inner() -> None:\n    print("x")\n',
    ".venv/lib/python3.11/site-packages/helper.py": "import pdb\n\npdb.set_trace()\nprint('vendored')\n",
}


@pytest.mark.parametrize(
    ("app_paths", "expected"),
    [
        (None, ["app/worker.py:5 print()"]),
        (["app", "scripts"], ["app/worker.py:5 print()", "scripts/show_settings.py:6 print()"]),
    ],
    ids=["default", "scripts-listed"],
)
def test_debug_statements_are_reported_only_in_the_application_paths(tmp_path, app_paths, expected):
    source = make_checkout(tmp_path, DEBUG_FILES, force=(".venv",))
    extra = f"app_paths = {json.dumps(app_paths)}" if app_paths else ""
    run = run_code_stage(tmp_path, source, extra=extra)
    assert run.exit_code == 1, run.output
    assert run.failed() == {check("debug"): ("lint", "H33")}
    assert failure(run, "debug")["evidence"] == {
        "count": len(expected),
        "findings": expected,
        "app_paths": app_paths or ["app"],
    }


def test_application_paths_missing_from_the_checkout_fail_as_configuration(tmp_path):
    run = run_code_stage(tmp_path, make_checkout(tmp_path, {}), extra='app_paths = ["backend"]')
    assert run.exit_code == 1, run.output
    assert run.failed() == {check("debug"): ("config", None), check("mypy"): ("config", None)}
    assert failure(run, "mypy")["evidence"] == {"app_paths": ["backend"], "missing": ["backend"]}


# --- mypy ----------------------------------------------------------------------------------------

PRICING = '''\
"""Prices."""

import yaml

from app.missing import DEFAULT_PRICE


def load(text: str) -> object:
    return yaml.safe_load(text) or DEFAULT_PRICE


def label(price: int) -> str:
    return price * 2
'''


def test_mypy_reports_type_errors_of_the_application_paths_with_file_and_line(tmp_path):
    files = {
        "app/pricing.py": PRICING,
        # outside the application paths: not checked
        "tests/test_pricing.py": '"""Tests."""\n\n\ndef test_label() -> None:\n    x: int = "text"\n    assert x\n',
    }
    run = run_code_stage(tmp_path, make_checkout(tmp_path, files))
    assert run.exit_code == 1, run.output
    assert run.failed() == {check("mypy"): ("lint", "H37")}
    found = failure(run, "mypy")
    assert found["message"] == "mypy reports 2 type errors in the application code"
    # yaml is a third-party module the audit does not install: no error; app.missing is the checkout's own.
    assert found["evidence"] == {
        "count": 2,
        "findings": [
            "app/pricing.py:5 [import-not-found] Cannot find implementation or library stub"
            ' for module named "app.missing"',
            'app/pricing.py:13 [return-value] Incompatible return value type (got "int", expected "str")',
        ],
        "config": "pyproject.toml",
        "app_paths": ["app"],
    }


# --- pip-audit -----------------------------------------------------------------------------------


def test_pip_audit_without_its_advisory_service_is_skipped_with_the_reason(tmp_path):
    env = {key: value for key, value in suite_env().items() if key.lower() not in {"no_proxy", "https_proxy"}}
    env.update({"HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"})
    run = run_code_stage(tmp_path, make_checkout(tmp_path, {}), env=env)
    assert run.exit_code == 0, run.output
    assert run.findings["failures"] == []
    assert "pip-audit: the advisory service is unreachable (" in run.output
    assert run.findings["summary"]["passed"] == len(GATE_CHECKS) - 1


# --- one run of every gate, shared by xdist workers ------------------------------------------------


def test_two_workers_share_one_run_of_the_gates(tmp_path):
    run = run_code_stage(tmp_path, make_checkout(tmp_path, {}), "-n", "2")
    assert run.exit_code == 0, run.output
    audit_skip_only(run)
    tree = ET.parse(run.reports_dir / "junit.xml")  # noqa: S314 (written by this run)
    runners = {
        case.get("name"): prop.get("value")
        for case in tree.iter("testcase")
        for prop in case.iter("property")
        if prop.get("name") == "gate_runner"
    }
    assert set(runners) == set(GATE_CHECKS.values())
    assert len(set(runners.values())) == 1, runners


# --- the runner and the interpretation, in this process -------------------------------------------


@pytest.fixture
def checkout(tmp_path) -> Checkout:
    root = tmp_path / "checkout"
    root.mkdir()
    (root / "requirements.txt").write_text("jinja2==2.10\nflask==0.5\n", encoding="utf-8")
    return Checkout(root, ("app",), ("requirements.txt",), 30.0, tmp_path / "scratch", tracked=())


def test_gates_start_at_once_so_a_stage_lasts_as_long_as_its_slowest_tool(checkout, monkeypatch):
    def sleeper(c: Checkout) -> Verdict:
        gates.run_tool("sleeper", [sys.executable, "-c", "import time; time.sleep(1.5)"], c)
        return Verdict.passed()

    monkeypatch.setattr(gates, "GATES", {f"slow{n}": Gate(f"slow{n}", "sleeper", sleeper) for n in range(4)})
    started = time.monotonic()
    results = gates.run_gates([f"slow{n}" for n in range(4)], checkout)
    assert time.monotonic() - started < 4 * 1.5 / 2
    assert {name: data["outcome"] for name, data in results.items()} == dict.fromkeys(results, "passed")
    assert all(data["seconds"] >= 1.5 for data in results.values())


def test_a_tool_that_is_not_installed_times_out_or_crashes_is_no_finding(checkout):
    with pytest.raises(GateFailed) as missing:
        gates.run_tool("nonexistent", gates.python_module("tsh_no_such_tool"), checkout)
    assert (missing.value.verdict.kind, missing.value.verdict.title) == (
        "missing",
        "nonexistent is not installed in the suite's environment",
    )
    with pytest.raises(GateFailed) as absent:
        gates.run_tool("absent", ["/nonexistent/tool"], checkout)
    assert (absent.value.verdict.kind, absent.value.verdict.title) == ("missing", "absent could not start")
    slow = dataclasses.replace(checkout, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(GateFailed) as timed_out:
        gates.run_tool("sleeper", [sys.executable, "-c", "import time; time.sleep(30)"], slow)
    assert time.monotonic() - started < 10
    assert timed_out.value.verdict.to_data() | {"seconds": 0} == {
        "outcome": "failed",
        "kind": "timeout",
        "title": "sleeper did not finish in 0.5 s",
        "evidence": {"timeout_s": 0.5},
        "seconds": 0,
    }
    crashed = gates.did_not_run("ruff", ToolRun(2, "", "error: unknown rule selector\n")).verdict
    assert (crashed.kind, crashed.title, crashed.evidence) == (
        "config",
        "ruff gave no result (exit 2)",
        {"exit_code": 2, "stderr": "error: unknown rule selector"},
    )


def audited(monkeypatch, checkout, stdout: str = "", stderr: str = "", exit_code: int = 0) -> Verdict:
    seen = {}

    def fake_run(tool, argv, c):
        seen["argv"] = argv
        return ToolRun(exit_code, stdout, stderr)

    monkeypatch.setattr(gates, "run_tool", fake_run)
    verdict = gates.GATES["pip-audit"].verdict(checkout)
    assert seen["argv"][2:] == [
        "pip_audit", "--requirement", "requirements.txt", "--format", "json",
        "--no-deps", "--disable-pip", "--progress-spinner", "off",
    ]  # fmt: skip
    return verdict


def test_pip_audit_reports_each_vulnerable_pin_with_its_fixed_versions(monkeypatch, checkout):
    report = {
        "dependencies": [
            {"name": "jinja2", "version": "2.10", "vulns": [
                {"id": "PYSEC-2019-217", "fix_versions": ["2.10.1"], "aliases": ["CVE-2019-10906"]},
                {"id": "GHSA-h5c8-rqwp-cp95", "fix_versions": ["3.1.3"], "aliases": []},
            ]},
            {"name": "flask", "version": "0.5", "vulns": [{"id": "PYSEC-2018-66", "fix_versions": []}]},
            {"name": "itsdangerous", "version": "2.2.0", "vulns": []},
        ],
        "fixes": [],
    }  # fmt: skip
    verdict = audited(monkeypatch, checkout, json.dumps(report), exit_code=1)
    assert (verdict.outcome, verdict.kind, verdict.title) == (
        "failed",
        "security",
        "2 dependencies with known vulnerabilities",
    )
    assert verdict.evidence == {
        "count": 2,
        "advisories": 3,
        "vulnerabilities": [
            "flask==0.5 PYSEC-2018-66 (no fix yet)",
            "jinja2==2.10 PYSEC-2019-217 (fixed in 2.10.1)",
            "jinja2==2.10 GHSA-h5c8-rqwp-cp95 (fixed in 3.1.3)",
        ],
        "requirements": ["requirements.txt"],
    }
    assert load_catalog().match(check("pip-audit"), "security").id == "H27"


def test_pip_audit_never_passes_an_audit_that_did_not_happen(monkeypatch, checkout):
    not_found = "Dependency not found on PyPI and could not be audited: jinja2 (2.10)"
    none_answered = {"dependencies": [{"name": "jinja2", "skip_reason": not_found}], "fixes": []}
    verdict = audited(monkeypatch, checkout, json.dumps(none_answered))
    assert (verdict.outcome, verdict.title) == (
        "skipped",
        f"pip-audit: the advisory service answered for none of the 1 dependencies ({not_found})",
    )
    partly = {"dependencies": [{"name": "jinja2", "skip_reason": not_found}, {"name": "flask", "vulns": []}]}
    verdict = audited(monkeypatch, checkout, json.dumps(partly))
    assert (verdict.outcome, verdict.title) == ("skipped", "pip-audit could not audit 1 of 2 dependencies: jinja2")
    traceback = "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='pypi.org', port=443): Max retries"
    verdict = audited(monkeypatch, checkout, stderr=traceback, exit_code=1)
    assert (verdict.outcome, verdict.title) == (
        "skipped",
        "pip-audit: the advisory service is unreachable (ConnectionError)",
    )
    clean = {"dependencies": [{"name": "jinja2", "version": "3.1.6", "vulns": []}], "fixes": []}
    assert audited(monkeypatch, checkout, json.dumps(clean)).outcome == "passed"


def test_pip_audit_refusing_unpinned_requirements_is_a_configuration_failure(monkeypatch, checkout):
    stderr = "ERROR:pip_audit._cli:requirement flask is not pinned to an exact version: flask>=0.5\n"
    verdict = audited(monkeypatch, checkout, stderr=stderr, exit_code=1)
    assert (verdict.outcome, verdict.kind, verdict.title) == ("failed", "config", "pip-audit gave no result (exit 1)")
    assert verdict.evidence == {"exit_code": 1, "stderr": stderr.strip(), "requirements": ["requirements.txt"]}


def test_pip_audit_without_a_requirements_file_is_skipped(checkout):
    (checkout.root / "requirements.txt").unlink()
    verdict = gates.GATES["pip-audit"].verdict(checkout)
    assert (verdict.outcome, verdict.title) == (
        "skipped",
        "no requirements file in the checkout (requirements: requirements.txt)",
    )


def test_credential_ranking_puts_config_files_and_urls_with_passwords_first():
    locations = [
        ("app/keys.py", {"AWS Access Key"}, 3),
        ("app/db.py", {"Basic Auth Credentials"}, 9),
        ("config/settings.py", {"Secret Keyword"}, 4),
        ("deploy/values.yaml", {"Secret Keyword"}, 1),
        (".env.production", {"Secret Keyword"}, 2),
        ("deploy/app.ini", {"Secret Keyword", "Basic Auth Credentials"}, 7),
    ]
    ranked = [name for name, _, _ in sorted(locations, key=lambda item: gates.credential_rank(*item))]
    assert ranked == [
        "deploy/app.ini",
        ".env.production",
        "config/settings.py",
        "deploy/values.yaml",
        "app/db.py",
        "app/keys.py",
    ]


# --- inventory ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('app_paths = ["../elsewhere"]', "code.app_paths[0]: "),
        ('app_paths = ["/srv/app"]', "code.app_paths[0]: "),
        ("app_paths = []", "code.app_paths: "),
        ('requirements = ["requirements.txt", "requirements.txt"]', "paths must be unique; repeated: requirements.txt"),
    ],
)
def test_checkout_paths_in_the_inventory_are_relative_and_unique(tmp_path, line, message):
    target = tmp_path / "bad.toml"
    target.write_text(INVENTORY.format(source=tmp_path, extra=line), encoding="utf-8")
    with pytest.raises(InventoryError) as caught:
        load_inventory(target, environ=os.environ)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_inventory_defaults_name_the_backend_layout(tmp_path):
    target = tmp_path / "default.toml"
    target.write_text(INVENTORY.format(source=tmp_path, extra=""), encoding="utf-8")
    code = load_inventory(target, environ={}).code
    assert (code.app_paths, code.requirements) == (["app"], ["requirements.txt"])
