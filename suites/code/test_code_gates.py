"""code.static, security.sast_deps, build.lockfiles_tracked, security.repo_secret_scan on a source checkout.

Each gate runs against ``[code] source_dir`` (a git checkout) and fails on any
finding. Tools run from this suite's virtualenv (``python -m ruff`` etc.) with
argv lists and the inventory's timeout. Evidence names files, lines and rule
codes, never the matched text (a finding may be a credential).

Debug statements: application code is every ``.py`` file outside ``tests/``,
``test/``, ``scripts/`` and ``migrations/`` that is not a test module
(``test_*.py``, ``*_test.py``, ``conftest.py``). In it, ``breakpoint()``,
``<anything>.set_trace()``, ``import pdb``/``ipdb`` and ``print(...)`` are
findings: the application logs through ``logging``.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

from fixtures.failures import CheckFailed, excerpt

pytestmark = [pytest.mark.staging, pytest.mark.code]

SKIPPED_DIRS = frozenset({".git", "node_modules", ".venv", "venv", "__pycache__", ".mypy_cache", ".ruff_cache"})
NON_APP_DIRS = frozenset({"tests", "test", "scripts", "migrations"})
DEBUG_MODULES = frozenset({"pdb", "ipdb", "pudb"})
LOCK_FILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml")
SHOWN_FINDINGS = 10

# A value that only refers to a secret: ${VAR}, <placeholder>, {name}, %(name)s, or masked.
_REFERENCE = r"(?!\$\{|<|\{|%\(|\*+[\"'@])"
CREDENTIAL_PATTERNS = {
    "dsn_with_password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@\"']+:" + _REFERENCE + r"[^\s@/\"']+@", re.I),
    "private_key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "password_literal": re.compile(
        r"\b\w*(?:password|passwd|secret|api_key|token)\w*[\"']?\s*[:=]\s*[\"']" + _REFERENCE + r"[^\"'\s]{4,}[\"']",
        re.I,
    ),
}


def test_ruff_reports_no_findings(run_tool, source_dir):
    completed = run_tool("lint", [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format=json", "."])
    if completed.returncode not in (0, 1):
        raise _did_not_run("lint", "ruff", completed)
    findings = json.loads(completed.stdout or "[]")
    if findings:
        shown = [f"{_relative(f['filename'], source_dir)}:{f['location']['row']} {f['code']}" for f in findings]
        raise CheckFailed("lint", "ruff reports findings", count=len(findings), findings=shown[:SHOWN_FINDINGS])


def test_black_reports_no_diff(run_tool, source_dir):
    completed = run_tool("lint", [sys.executable, "-m", "black", "--check", "--quiet", "."])
    if completed.returncode == 0:
        return
    files = re.findall(r"^would reformat (.+)$", completed.stderr, re.M)
    if completed.returncode != 1 or not files:
        raise _did_not_run("lint", "black", completed)
    raise CheckFailed(
        "lint", "black would reformat files", count=len(files), files=[_relative(f, source_dir) for f in files]
    )


def test_bandit_reports_no_high_severity_issue(run_tool, source_dir):
    excluded = ",".join(f"./{name}" for name in sorted(SKIPPED_DIRS | NON_APP_DIRS))
    argv = [sys.executable, "-m", "bandit", "--quiet", "--recursive", ".", "--format", "json", "--exclude", excluded]
    completed = run_tool("security", argv)
    try:
        results = json.loads(completed.stdout)["results"]
    except (ValueError, KeyError):
        raise _did_not_run("security", "bandit", completed) from None
    high = [r for r in results if r["issue_severity"] == "HIGH"]
    if high:
        shown = [
            f"{_relative(r['filename'], source_dir)}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in high
        ]
        raise CheckFailed("security", "bandit reports high-severity issues", count=len(high), issues=shown)


def test_no_debug_statement_in_application_code(source_dir):
    findings = [
        f"{path.relative_to(source_dir).as_posix()}:{line} {what}"
        for path in _python_files(source_dir)
        if _is_application_code(path.relative_to(source_dir))
        for line, what in _debug_statements(path)
    ]
    if findings:
        raise CheckFailed("lint", "debug statements in application code", count=len(findings), findings=findings)


def test_every_package_manifest_has_a_tracked_lock_file(run_tool):
    tracked = set(_tracked_files(run_tool, "missing"))
    manifests = sorted(name for name in tracked if PurePosixPath(name).name == "package.json")
    missing = [
        name
        for name in manifests
        if not any(str(PurePosixPath(name).with_name(lock)) in tracked for lock in LOCK_FILES)
    ]
    if missing:
        raise CheckFailed(
            "missing", "package manifests without a lock file tracked in git", manifests=missing, accepted=LOCK_FILES
        )


def test_no_credentials_committed(run_tool, source_dir):
    findings = []
    for name in _tracked_files(run_tool, "security"):
        path = source_dir / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            findings += [f"{name}:{number} {label}" for label, rule in CREDENTIAL_PATTERNS.items() if rule.search(line)]
    if findings:
        raise CheckFailed("security", "credential-like strings are committed", count=len(findings), findings=findings)


def _did_not_run(kind: str, tool: str, completed: subprocess.CompletedProcess[str]) -> CheckFailed:
    return CheckFailed(kind, f"{tool} did not run", exit_code=completed.returncode, stderr=excerpt(completed.stderr))


def _tracked_files(run_tool, kind: str) -> list[str]:
    completed = run_tool(kind, ["git", "ls-files", "-z"])
    if completed.returncode != 0:
        raise _did_not_run(kind, "git ls-files", completed)
    return [name for name in completed.stdout.split("\0") if name]


def _python_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*.py") if not SKIPPED_DIRS.intersection(path.relative_to(root).parts))


def _is_application_code(relative: Path) -> bool:
    name = relative.name
    is_test_module = name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
    return not is_test_module and not NON_APP_DIRS.intersection(relative.parts[:-1])


def _debug_statements(path: Path) -> list[tuple[int, str]]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        return [(error.lineno or 0, "syntax error (cannot inspect)")]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name) and function.id in {"breakpoint", "print"}:
                found.append((node.lineno, f"{function.id}()"))
            elif isinstance(function, ast.Attribute) and function.attr == "set_trace":
                found.append((node.lineno, "set_trace()"))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [(node.lineno, f"import {m}") for m in modules if m.split(".")[0] in DEBUG_MODULES]
    return sorted(found)


def _relative(filename: str, root: Path) -> str:
    """A tool's file name relative to the checkout."""
    path = Path(filename)
    return (path.relative_to(root) if path.is_relative_to(root) else path).as_posix()
