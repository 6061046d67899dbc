"""The code and build gates: what each one runs on the source checkout, and what its result means.

A gate turns one tool run (or an inspection made here) into a :class:`Verdict`:
passed, failed with a failure kind and evidence, or skipped with the reason.
:func:`run_gates` starts every requested gate at once, each tool in its own
process with the inventory's timeout, so a stage lasts as long as its slowest
tool, not the sum of them.

Results are told apart precisely: a tool that is not installed (``missing``),
that crashed or refused its configuration (``config``, with its exit code and
an excerpt of its stderr), or that did not finish (``timeout``) is never
reported as a finding, and a tool that ran is never reported as not having run.
Evidence names files, lines, rule codes and counts, never matched text (a
finding may be a credential).

The gates:

- ``ruff``: ``ruff check`` with the checkout's configuration; every finding.
- ``black``: ``black --check``; the number of files it would reformat and the
  first names, and files it cannot parse.
- ``bandit``: high-severity issues outside tooling folders.
- ``debug``: ``breakpoint()``, ``<x>.set_trace()``, ``import pdb``/``ipdb``/
  ``pudb`` and ``print(...)`` (the application logs through ``logging``) in
  the tracked ``.py`` files of the inventory's ``app_paths`` only; below an
  application path, dot-folders, ``tests/``, ``test/``, ``scripts/``,
  ``migrations/`` and test modules are tooling and are not inspected (list a
  folder in ``app_paths`` to have it inspected).
- ``lockfiles``: every tracked ``package.json`` has a tracked lock file.
- ``credentials``: detect-secrets over the tracked files, honouring the
  checkout's ``.secrets.baseline`` (its findings are known and not counted;
  its plugin and filter settings are used). Findings are ranked: config files
  (``.env``, ``*.ini``, ``*.toml``, ``*.yaml``, settings modules, ...) first,
  URLs with a password first within each group; each is ``file:line`` and the
  detector types, never the value.
- ``mypy``: the application paths with the checkout's own configuration
  (``mypy.ini``, ``.mypy.ini``, ``pyproject.toml`` ``[tool.mypy]`` or
  ``setup.cfg`` ``[mypy]``). The checkout's dependencies are not installed for
  the audit: a missing third-party module is not an error, a missing module of
  the checkout is.
- ``pip-audit``: the inventory's pinned requirement files, without installing
  them (``--no-deps --disable-pip``). When its advisory service cannot be
  reached, or answers for no dependency, the gate is skipped with that
  reason: it never passes on an audit that did not happen.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import pytest

from fixtures import progress
from fixtures.failures import CheckFailed, excerpt

SHOWN = 10  # findings named in the evidence; the count is always the full number
TOOLING_DIRS = frozenset({"tests", "test", "scripts", "migrations"})
VENDORED_DIRS = frozenset({"node_modules", "venv", "__pycache__", "site-packages"})
DEBUG_MODULES = frozenset({"pdb", "ipdb", "pudb"})
LOCK_FILES = ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml")
BANDIT_EXCLUDED = (".git", ".venv", ".tox", ".mypy_cache", ".ruff_cache", "node_modules", "venv", "__pycache__")
SECRETS_BASELINE = ".secrets.baseline"
CONFIG_SUFFIXES = frozenset({".env", ".ini", ".toml", ".yaml", ".yml", ".cfg", ".conf", ".properties"})
URL_WITH_PASSWORD = "Basic Auth Credentials"  # noqa: S105 (a detector name)
NETWORK_ERRORS = re.compile(
    r"ConnectionError|ProxyError|ConnectTimeout|ReadTimeout|NameResolutionError|Max retries exceeded"
    r"|Temporary failure in name resolution|Network is unreachable|Connection refused"
)
NOT_INSTALLED = re.compile(r"No module named '?([\w.]+)'?")

Outcome = Literal["passed", "failed", "skipped"]


# --- verdicts ------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What one gate found; plain data, so every process of the run can share it."""

    outcome: Outcome
    kind: str | None = None
    title: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def passed(cls) -> Verdict:
        return cls("passed")

    @classmethod
    def failed(cls, kind: str, title: str, **evidence: Any) -> Verdict:
        return cls("failed", kind, title, {k: v for k, v in evidence.items() if v is not None})

    @classmethod
    def skipped(cls, reason: str) -> Verdict:
        return cls("skipped", title=reason)

    def enforce(self) -> None:
        """Pass, skip with the reason, or raise the failure as the check's own."""
        __tracebackhide__ = True
        if self.outcome == "skipped":
            pytest.skip(self.title)
        if self.outcome == "failed":
            raise CheckFailed(self.kind or "contract", self.title, **self.evidence)

    def to_data(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "kind": self.kind,
            "title": self.title,
            "evidence": self.evidence,
            "seconds": self.seconds,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Verdict:
        return cls(data["outcome"], data["kind"], data["title"], data["evidence"], data["seconds"])


@dataclass(frozen=True)
class Checkout:
    """The source checkout and what the inventory says about it."""

    root: Path
    app_paths: tuple[str, ...]
    requirements: tuple[str, ...]
    timeout: float
    scratch: Path  # a directory of this run for files the tools write
    tracked: tuple[str, ...] | None = None  # git ls-files; None when git could not list them
    tracked_error: Verdict | None = None

    def require_tracked(self) -> tuple[str, ...]:
        if self.tracked is None:
            raise GateFailed(self.tracked_error or Verdict.failed("config", "git ls-files did not run"))
        return self.tracked


class GateFailed(Exception):
    """Ends a gate early with its verdict."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(verdict.title)
        self.verdict = verdict


@dataclass
class ToolRun:
    """One finished tool process."""

    exit_code: int
    stdout: str
    stderr: str


# --- running tools -------------------------------------------------------------------------


def run_tool(tool: str, argv: list[str], checkout: Checkout) -> ToolRun:
    """Run ``argv`` in the checkout; a tool that cannot start, is not installed or times out ends the gate."""
    try:
        process = subprocess.Popen(
            argv,
            cwd=checkout.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,  # its own process group: a timeout ends the tool's workers too
        )
    except OSError as error:
        raise GateFailed(Verdict.failed("missing", f"{tool} could not start", error=str(error))) from None
    try:
        stdout, stderr = process.communicate(timeout=checkout.timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        raise GateFailed(
            Verdict.failed("timeout", f"{tool} did not finish in {checkout.timeout:g} s", timeout_s=checkout.timeout)
        ) from None
    run = ToolRun(process.returncode, stdout, stderr)
    missing = NOT_INSTALLED.search(stderr)
    if run.exit_code != 0 and missing and argv[1:2] == ["-m"] and argv[2].split(".")[0] == missing[1].split(".")[0]:
        raise GateFailed(
            Verdict.failed("missing", f"{tool} is not installed in the suite's environment", exit_code=run.exit_code)
        )
    return run


def did_not_run(tool: str, run: ToolRun, **evidence: Any) -> GateFailed:
    """The tool ran but gave no result: a crash or a configuration it refused."""
    return GateFailed(
        Verdict.failed(
            "config",
            f"{tool} gave no result (exit {run.exit_code})",
            exit_code=run.exit_code,
            stderr=excerpt(run.stderr) or None,
            stdout=None if run.stderr.strip() else excerpt(run.stdout) or None,
            **evidence,
        )
    )


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def tracked_files(root: Path, timeout: float) -> tuple[tuple[str, ...] | None, Verdict | None]:
    """The checkout's tracked files (``git ls-files``), or the verdict of a git that did not list them."""
    try:
        completed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=root, capture_output=True, timeout=timeout, check=False
        )
    except OSError as error:
        return None, Verdict.failed("missing", "git could not start", error=str(error))
    except subprocess.TimeoutExpired:
        return None, Verdict.failed("timeout", f"git ls-files did not finish in {timeout:g} s", timeout_s=timeout)
    if completed.returncode != 0:
        stderr = completed.stderr.decode("utf-8", errors="replace")
        return None, Verdict.failed(
            "config", f"git ls-files gave no result (exit {completed.returncode})", stderr=excerpt(stderr)
        )
    names = completed.stdout.decode("utf-8", errors="surrogateescape").split("\0")
    return tuple(name for name in names if name), None


def relative(filename: str, root: Path) -> str:
    """A tool's file name relative to the checkout."""
    path = Path(filename)
    for base in (root, root.resolve()):
        if path.is_absolute() and path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.as_posix().removeprefix("./")


def plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1]}ies" if noun.endswith("y") else f"{count} {noun}s"


def python_module(*args: str) -> list[str]:
    """``python -m ...`` with this suite's interpreter: the tools are the suite's dependencies."""
    return [sys.executable, "-m", *args]


# --- the gates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Gate:
    """A named gate: ``evaluate(checkout)`` returns its verdict or raises :class:`GateFailed`."""

    name: str
    tool: str
    evaluate: Callable[[Checkout], Verdict]

    def verdict(self, checkout: Checkout) -> Verdict:
        started = time.monotonic()
        try:
            verdict = self.evaluate(checkout)
        except GateFailed as ended:
            verdict = ended.verdict
        except (ValueError, KeyError, TypeError) as error:
            verdict = Verdict.failed(
                "contract", f"{self.tool} output is not in the expected form", error=f"{type(error).__name__}: {error}"
            )
        verdict.seconds = round(time.monotonic() - started, 2)
        return verdict


def ruff(checkout: Checkout) -> Verdict:
    run = run_tool("ruff", python_module("ruff", "check", "--no-cache", "--output-format=json", "."), checkout)
    if run.exit_code not in (0, 1):
        raise did_not_run("ruff", run)
    try:
        findings = json.loads(run.stdout or "[]")
    except ValueError:
        raise did_not_run("ruff", run) from None
    if not findings:
        return Verdict.passed()
    shown = sorted(f"{relative(f['filename'], checkout.root)}:{f['location']['row']} {f['code']}" for f in findings)
    return Verdict.failed(
        "lint", f"ruff reports {plural(len(findings), 'finding')}", count=len(findings), findings=shown[:SHOWN]
    )


_WOULD_REFORMAT = re.compile(r"^would reformat (.+)$", re.M)
_CANNOT_PARSE = re.compile(r"^error: cannot (?:format|parse)[^:]*: (.+?):(\d+):\d+", re.M)
_REFORMAT_COUNT = re.compile(r"(\d+) files? would be reformatted")


def black(checkout: Checkout) -> Verdict:
    run = run_tool("black", python_module("black", "--check", "--no-color", "."), checkout)
    if run.exit_code == 0:
        return Verdict.passed()
    files = sorted({relative(name, checkout.root) for name in _WOULD_REFORMAT.findall(run.stderr)})
    unparsable = sorted({f"{relative(name, checkout.root)}:{line}" for name, line in _CANNOT_PARSE.findall(run.stderr)})
    if run.exit_code not in (1, 123) or not (files or unparsable):
        raise did_not_run("black", run)
    summary = _REFORMAT_COUNT.search(run.stderr)
    count = int(summary[1]) if summary else len(files)
    parts = [f"would reformat {plural(count, 'file')}"] if count else []
    if unparsable:
        parts.append(f"cannot parse {plural(len(unparsable), 'file')}")
    return Verdict.failed(
        "lint",
        "black " + " and ".join(parts),
        count=count,
        files=files[:SHOWN],
        cannot_parse=unparsable[:SHOWN] or None,
        exit_code=run.exit_code,
    )


def bandit(checkout: Checkout) -> Verdict:
    excluded = ",".join(f"./{name}" for name in sorted({*BANDIT_EXCLUDED, *TOOLING_DIRS}))
    argv = python_module("bandit", "--quiet", "--recursive", ".", "--format", "json", "--exclude", excluded)
    run = run_tool("bandit", argv, checkout)
    try:
        results = json.loads(run.stdout)["results"]
    except (ValueError, KeyError, TypeError):
        raise did_not_run("bandit", run) from None
    high = [r for r in results if r["issue_severity"] == "HIGH"]
    if not high:
        return Verdict.passed()
    shown = sorted(
        f"{relative(r['filename'], checkout.root)}:{r['line_number']} {r['test_id']} {r['issue_text']}" for r in high
    )
    return Verdict.failed(
        "security", f"bandit reports {plural(len(high), 'high-severity issue')}", count=len(high), issues=shown[:SHOWN]
    )


def application_files(checkout: Checkout) -> list[str]:
    """The tracked ``.py`` files of the application paths, tooling and dot-folders left out."""
    missing = [path for path in checkout.app_paths if not (checkout.root / path).exists()]
    if missing:
        raise GateFailed(
            Verdict.failed(
                "config",
                "application paths named by the inventory are not in the checkout",
                app_paths=list(checkout.app_paths),
                missing=missing,
            )
        )
    files = set()
    for name in checkout.require_tracked():
        path = PurePosixPath(name)
        if path.suffix != ".py":
            continue
        for app_path in checkout.app_paths:
            base = PurePosixPath(app_path)
            if base.as_posix() not in (".", "") and path != base and base not in path.parents:
                continue
            inner = path.relative_to(base) if base.as_posix() not in (".", "") else path
            if _is_application_module(inner):
                files.add(name)
    return sorted(files)


def _is_application_module(inner: PurePosixPath) -> bool:
    folders = inner.parts[:-1]
    if any(part.startswith(".") or part in VENDORED_DIRS or part in TOOLING_DIRS for part in folders):
        return False
    name = inner.name
    return not (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py")


def debug_statements(checkout: Checkout) -> Verdict:
    findings = [
        f"{name}:{line} {what}"
        for name in application_files(checkout)
        for line, what in _debug_statements(checkout.root / name)
    ]
    if not findings:
        return Verdict.passed()
    return Verdict.failed(
        "lint",
        f"{plural(len(findings), 'debug statement')} in application code",
        count=len(findings),
        findings=findings[:SHOWN],
        app_paths=list(checkout.app_paths),
    )


def _debug_statements(path: Path) -> list[tuple[int, str]]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError) as error:
        return [(getattr(error, "lineno", None) or 0, "syntax error (cannot inspect)")]
    except OSError:
        return []  # tracked but absent from the working tree
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


def lock_files(checkout: Checkout) -> Verdict:
    tracked = set(checkout.require_tracked())
    manifests = sorted(name for name in tracked if PurePosixPath(name).name == "package.json")
    missing = [
        name
        for name in manifests
        if not any(str(PurePosixPath(name).with_name(lock)) in tracked for lock in LOCK_FILES)
    ]
    if not missing:
        return Verdict.passed()
    return Verdict.failed(
        "missing", "package manifests without a lock file tracked in git", manifests=missing, accepted=list(LOCK_FILES)
    )


def credentials(checkout: Checkout) -> Verdict:
    baseline_path = checkout.root / SECRETS_BASELINE
    argv = python_module("detect_secrets", "scan")
    known: set[tuple[str, str, str]] = set()
    output = None
    if baseline_path.is_file():
        # The scan takes the baseline's plugins and filters and writes its results over the file it is
        # given: it is given a copy, so the checkout is never changed.
        try:
            baseline = json.loads(baseline_path.read_text(encoding="utf-8"))
            known = {(s["filename"], s["hashed_secret"], s["type"]) for s in _secrets(baseline)}
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise GateFailed(
                Verdict.failed("config", f"{SECRETS_BASELINE} is not a detect-secrets baseline", error=str(error))
            ) from None
        output = checkout.scratch / "detect-secrets" / SECRETS_BASELINE
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(baseline_path, output)
        argv += ["--baseline", str(output), "--exclude-files", rf"^{re.escape(SECRETS_BASELINE)}$"]
    run = run_tool("detect-secrets", argv, checkout)
    if run.exit_code != 0:
        raise did_not_run("detect-secrets", run)
    try:
        results = json.loads(output.read_text(encoding="utf-8") if output else run.stdout)
        found = [s for s in _secrets(results) if (s["filename"], s["hashed_secret"], s["type"]) not in known]
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        raise did_not_run("detect-secrets", run) from None
    if not found:
        return Verdict.passed()
    locations: dict[tuple[str, int], set[str]] = {}
    for secret in found:
        locations.setdefault((secret["filename"], int(secret["line_number"])), set()).add(secret["type"])
    ranked = sorted(locations.items(), key=lambda item: credential_rank(item[0][0], item[1], item[0][1]))
    shown = [f"{name}:{line} {', '.join(sorted(types))}" for (name, line), types in ranked]
    in_config = sum(1 for (name, _), _ in ranked if is_config_file(name))
    return Verdict.failed(
        "security",
        f"{plural(len(shown), 'committed credential')} (detect-secrets)",
        count=len(shown),
        in_config_files=in_config,
        findings=shown[:SHOWN],
        baseline=f"{SECRETS_BASELINE}: {len(known)} known findings not counted" if output else None,
    )


def _secrets(document: dict) -> list[dict]:
    return [secret for secrets in document["results"].values() for secret in secrets]


def is_config_file(name: str) -> bool:
    """A file that configures a deployment: env files, ini/toml/yaml/cfg, settings modules."""
    path = PurePosixPath(name)
    lowered = path.name.lower()
    return (
        path.suffix.lower() in CONFIG_SUFFIXES
        or lowered == ".env"
        or lowered.startswith(".env.")
        or "settings" in lowered
        or "settings" in (part.lower() for part in path.parts[:-1])
    )


def credential_rank(name: str, types: set[str], line: int) -> tuple:
    """Config files first, then URLs with a password; then by file and line."""
    return (not is_config_file(name), URL_WITH_PASSWORD not in types, name, line)


MYPY_CONFIGS = (("mypy.ini", None), (".mypy.ini", None), ("pyproject.toml", "[tool.mypy"), ("setup.cfg", "[mypy"))
_MYPY_ERROR = re.compile(
    r"^(?P<file>[^:\n]+\.pyi?):(?P<line>\d+):(?:\d+:)? error: (?P<message>.*?)(?:  \[(?P<code>[\w-]+)\])?$", re.M
)
_MISSING_MODULE = re.compile(r'(?:module named|for|analyzing) "(?P<module>[\w.]+)"')
_MISSING_CODES = frozenset({"import-not-found", "import-untyped", "import"})


def mypy_config(root: Path) -> str | None:
    """The checkout's own mypy configuration file, in mypy's order of precedence."""
    for name, section in MYPY_CONFIGS:
        path = root / name
        if path.is_file() and (section is None or section in path.read_text(encoding="utf-8", errors="replace")):
            return name
    return None


def mypy(checkout: Checkout) -> Verdict:
    application_files(checkout)  # the application paths exist
    config = mypy_config(checkout.root)
    argv = python_module(
        "mypy",
        "--no-color-output",
        "--no-error-summary",
        "--no-pretty",
        "--show-error-codes",
        "--hide-error-context",
        "--no-site-packages",  # the checkout's dependencies are not installed; see missing modules below
        "--cache-dir",
        str(mypy_cache_dir(checkout.root)),
        "--config-file",
        config or "",
        *checkout.app_paths,
    )
    run = run_tool("mypy", argv, checkout)
    errors = [m.groupdict() for m in _MYPY_ERROR.finditer(run.stdout)]
    # exit 1: type errors; exit 2: blocking errors (a syntax error is one) or a crash
    if run.exit_code not in (0, 1, 2) or (run.exit_code != 0 and not errors):
        raise did_not_run("mypy", run, config=config or "mypy defaults")
    first_party = _first_party(checkout)
    errors = [e for e in errors if not _third_party_missing(e, first_party)]
    if not errors:
        return Verdict.passed()
    shown = [f"{e['file']}:{e['line']} [{e['code'] or 'error'}] {_short(e['message'])}" for e in errors]
    return Verdict.failed(
        "lint",
        f"mypy reports {plural(len(errors), 'type error')} in the application code",
        count=len(errors),
        findings=shown[:SHOWN],
        config=config or "mypy defaults",
        app_paths=list(checkout.app_paths),
    )


def mypy_cache_dir(root: Path) -> Path:
    """mypy's incremental cache for this checkout, kept beside black's in the user's cache, never in the checkout."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tsh-verification" / "mypy" / hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]


def _first_party(checkout: Checkout) -> set[str]:
    """Top-level module names the checkout provides."""
    names = {PurePosixPath(path).parts[0] for path in checkout.app_paths if path not in (".", "")}
    names |= {p.stem if p.suffix == ".py" else p.name for p in checkout.root.iterdir() if not p.name.startswith(".")}
    return names


def _third_party_missing(error: dict, first_party: set[str]) -> bool:
    if error["code"] not in _MISSING_CODES:
        return False
    match = _MISSING_MODULE.search(error["message"])
    return match is not None and match["module"].split(".")[0] not in first_party


def _short(message: str, length: int = 160) -> str:
    return message if len(message) <= length else message[:length] + "…"


def pip_audit(checkout: Checkout) -> Verdict:
    files = [name for name in checkout.requirements if (checkout.root / name).is_file()]
    if not files:
        listed = ", ".join(checkout.requirements) or "none listed"
        return Verdict.skipped(f"no requirements file in the checkout (requirements: {listed})")
    requirements = [arg for name in files for arg in ("--requirement", name)]
    argv = python_module(
        "pip_audit", *requirements, "--format", "json", "--no-deps", "--disable-pip", "--progress-spinner", "off"
    )
    run = run_tool("pip-audit", argv, checkout)
    try:
        report = json.loads(run.stdout)
        dependencies = report["dependencies"]
    except (ValueError, KeyError, TypeError):
        network = NETWORK_ERRORS.search(run.stderr)
        if network:
            return Verdict.skipped(f"pip-audit: the advisory service is unreachable ({network[0]})")
        raise did_not_run("pip-audit", run, requirements=files) from None
    vulnerable = [d for d in dependencies if d.get("vulns")]
    not_audited = [d for d in dependencies if d.get("skip_reason")]
    if vulnerable:
        shown = [
            f"{d['name']}=={d['version']} {v['id']}"
            + (f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else " (no fix yet)")
            for d in sorted(vulnerable, key=lambda d: d["name"].lower())
            for v in d["vulns"]
        ]
        return Verdict.failed(
            "security",
            f"{plural(len(vulnerable), 'dependency')} with known vulnerabilities",
            count=len(vulnerable),
            advisories=len(shown),
            vulnerabilities=shown[:SHOWN],
            not_audited=[d["name"] for d in not_audited][:SHOWN] or None,
            requirements=files,
        )
    if not_audited and len(not_audited) == len(dependencies):
        reason = not_audited[0]["skip_reason"]
        return Verdict.skipped(
            f"pip-audit: the advisory service answered for none of the {len(dependencies)} dependencies ({reason})"
        )
    if not_audited:
        names = ", ".join(d["name"] for d in not_audited[:SHOWN])
        return Verdict.skipped(
            f"pip-audit could not audit {len(not_audited)} of {len(dependencies)} dependencies: {names}"
        )
    return Verdict.passed()


GATES = {
    gate.name: gate
    for gate in (
        Gate("ruff", "ruff", ruff),
        Gate("black", "black", black),
        Gate("bandit", "bandit", bandit),
        Gate("debug", "the debug-statement scan", debug_statements),
        Gate("lockfiles", "the lock-file check", lock_files),
        Gate("credentials", "detect-secrets", credentials),
        Gate("mypy", "mypy", mypy),
        Gate("pip-audit", "pip-audit", pip_audit),
    )
}


def gate(name: str):
    """Mark a check as the one that enforces gate ``name`` (see the ``gate_verdict`` fixture)."""
    if name not in GATES:
        raise ValueError(f"unknown code gate {name!r} (known: {', '.join(GATES)})")

    def mark(function):
        function.code_gate = name
        return function

    return mark


def selected_gates(items) -> list[str]:
    """The gates the selected checks enforce, in catalogue order."""
    wanted = {getattr(getattr(item, "function", None), "code_gate", None) for item in items}
    return [name for name in GATES if name in wanted]


def run_gates(names: list[str], checkout: Checkout) -> dict[str, dict[str, Any]]:
    """Run the named gates at once; each one's verdict as plain data."""
    tracked, error = tracked_files(checkout.root, checkout.timeout)
    checkout = dataclasses.replace(checkout, tracked=tracked, tracked_error=error)
    with ThreadPoolExecutor(max_workers=max(1, len(names)), thread_name_prefix="code-gate") as pool:
        futures = {name: pool.submit(GATES[name].verdict, checkout) for name in names}
        with progress.waiting(f"{len(names)} code gate(s) to finish") as wait:
            while not_done := [name for name, future in futures.items() if not future.done()]:
                wait_for_futures([futures[name] for name in not_done], timeout=0.5)
                wait.tick(", ".join(not_done))
        return {name: {**future.result().to_data(), "runner_pid": os.getpid()} for name, future in futures.items()}
