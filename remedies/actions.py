"""Executors for recipe steps: one small function per action type.

Every executor returns a :class:`StepResult`; none takes a shell string. Service
and command steps build an argv list and run it locally with ``subprocess`` or,
for a remote host, through testinfra, which quotes each argument. Every detail
passes through the caller's redactor before it leaves this module.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import psycopg
import testinfra

from fixtures.failures import CheckFailed
from fixtures.http import TargetClient, send
from fixtures.inventory import PROJECT_ROOT, CommandTemplate, Inventory, ServiceBinding
from remedies.catalog import (
    CommandStep,
    HttpStep,
    ManualStep,
    ServiceStep,
    SqlStatement,
    SqlStep,
    Step,
    render,
    unfilled_placeholders,
)
from remedies.child_process import run_child

SERVICE_TIMEOUT_SECONDS = 60.0
LOCAL_HOST = "local://"
_SAFE_ARGUMENT = re.compile(r"[A-Za-z0-9_.:/-]+")
_EXCERPT_CHARS = 400
_SHOWN_ROWS = 20


class ActionError(Exception):
    """A step that cannot be run as written; the message says why."""


@dataclass(frozen=True)
class StepResult:
    """The outcome of one step, with one line of plain-text evidence.

    ``interrupted``: a signal (SIGTERM, SIGINT) stopped the run while the step ran;
    what it changed on the target is unknown.
    """

    status: Literal["ok", "failed", "skipped", "interrupted"]
    detail: str
    rows: int | None = None
    duration_seconds: float = 0.0


def run_step(step: Step, inventory: Inventory, redact: Callable[[str], str]) -> StepResult:
    """Run one rendered step against the target; never raises for a failure of the step.

    Whatever goes wrong while the step runs (an exit status, ssh's exit 255 that
    testinfra raises as ``RuntimeError``, an unreachable host, a timeout, a database
    error mid-statement) is a ``failed`` result with one redacted line of detail.
    Only an interrupt (``KeyboardInterrupt``, which the signal handler raises) passes.
    """
    started = time.monotonic()
    try:
        result = _dispatch(step, inventory)
    except ActionError as error:
        result = StepResult("failed", str(error))
    except Exception as error:  # every step runner's failure is the step's result
        result = StepResult("failed", describe_error(error))
    return replace(result, detail=one_line(redact(result.detail)), duration_seconds=time.monotonic() - started)


def describe_error(error: BaseException) -> str:
    """``Type: message`` of an exception, on one line."""
    message = one_line(str(error))
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def one_line(text: str) -> str:
    """``text`` with its line breaks (and the blanks around them) folded into `` | ``."""
    return " | ".join(line.strip() for line in text.strip().splitlines() if line.strip())


def why_not_runnable(step: Step, inventory: Inventory) -> str | None:
    """Why this target cannot run the step at all (None when it can)."""
    if isinstance(step, ServiceStep) and step.service not in inventory.services:
        return _undeclared("service", step.service, inventory.services, inventory)
    if isinstance(step, CommandStep) and step.command not in inventory.commands:
        return _undeclared("command", step.command, inventory.commands, inventory)
    if isinstance(step, SqlStep) and not step.sql.read_only and inventory.database.read_only:
        return f"the database of target {inventory.name} is read-only (database.read_only = true)"
    return None


def _undeclared(what: str, name: str, declared: Mapping[str, object], inventory: Inventory) -> str:
    return f"target {inventory.name} declares no {what} {name!r} (declared: {', '.join(sorted(declared)) or 'none'})"


def _dispatch(step: Step, inventory: Inventory) -> StepResult:
    if isinstance(step, ManualStep):
        return StepResult("skipped", f"manual: {step.text}")
    reason = why_not_runnable(step, inventory)
    if reason:
        raise ActionError(reason)
    unfilled = unfilled_placeholders(step.model_dump())
    if unfilled:
        names = ", ".join(f"{{{name}}}" for name in sorted(unfilled))
        raise ActionError(f"no value for {names} in the failed test's parameters")
    match step:
        case SqlStep():
            return run_sql(step, inventory)
        case HttpStep():
            return run_http(step, inventory)
        case ServiceStep():
            return run_service(step, inventory)
        case CommandStep():
            return run_command(step, inventory)


# --- sql --------------------------------------------------------------------------------


class _Cursor(Protocol):
    rowcount: int
    description: Sequence[Any] | None

    def execute(self, query: Any, params: Mapping[str, Any]) -> Any: ...
    def fetchmany(self, size: int) -> list[tuple[Any, ...]]: ...
    def __enter__(self) -> _Cursor: ...
    def __exit__(self, *exc: object) -> None: ...


class Connection(Protocol):
    """The part of a psycopg connection a statement needs."""

    read_only: bool | None

    def cursor(self) -> _Cursor: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


def row_limit(statement: SqlStatement, inventory: Inventory) -> int:
    """The most rows a statement may change (mutating) or return (read-only) on this target."""
    if statement.max_rows is None:
        return inventory.healing.max_rows
    return min(statement.max_rows, inventory.healing.max_rows)


def run_sql(step: SqlStep, inventory: Inventory) -> StepResult:
    """Run a library statement with the target's connect and statement timeouts."""
    database = inventory.database
    with psycopg.connect(
        database.url.get_secret_value(),
        connect_timeout=database.connect_timeout_seconds,
        options=f"-c statement_timeout={database.statement_timeout_ms}",
    ) as connection:
        return run_statement(connection, step.sql, step.params, row_limit(step.sql, inventory))


def run_statement(
    connection: Connection, statement: SqlStatement, params: Mapping[str, Any], max_rows: int
) -> StepResult:
    """Run one statement in its own transaction.

    A read-only statement runs in a read-only transaction and reports up to
    ``max_rows`` of its rows.
    A mutating one is committed only when it changed at most ``max_rows`` rows;
    otherwise it is rolled back and the step fails.
    """
    connection.read_only = statement.read_only
    with connection.cursor() as cursor:
        cursor.execute(statement.sql, params)
        if statement.read_only:
            rows = cursor.fetchmany(max_rows)
            connection.rollback()
            columns = [column[0] for column in cursor.description or ()]
            return StepResult("ok", f"{statement.name}: {_format_rows(columns, rows)}", rows=len(rows))
        changed = cursor.rowcount
        if changed > max_rows:
            connection.rollback()
            return StepResult(
                "failed",
                f"{statement.name} would change {changed} rows, more than the limit of {max_rows}; rolled back",
                rows=changed,
            )
        connection.commit()
        return StepResult("ok", f"{statement.name} changed {changed} rows (limit {max_rows})", rows=changed)


def _format_rows(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    if not rows:
        return "no rows"
    shown = "; ".join(
        ", ".join(f"{name}={value}" for name, value in zip(columns, row, strict=True)) for row in rows[:_SHOWN_ROWS]
    )
    more = f"; ... {len(rows) - _SHOWN_ROWS} more" if len(rows) > _SHOWN_ROWS else ""
    return f"{len(rows)} rows: {shown}{more}"


# --- http -------------------------------------------------------------------------------


def run_http(step: HttpStep, inventory: Inventory) -> StepResult:
    """Send the step's request to ``http.base_url`` within the target's HTTP bounds.

    The step is sent even when the checks found the target silent: an earlier
    step may have restarted it. Only the start of the answer is read.
    """
    settings = inventory.http
    with TargetClient(settings, verify=settings.verify_tls, base_url=settings.base_url) as client:
        try:
            answer = send(client, step.method, step.path, whole_body=False, json=step.body)
        except CheckFailed as failure:
            cause = failure.evidence.get("error")
            return StepResult("failed", f"{failure.title} ({cause})" if cause else failure.title)
    excerpt = answer.text[:_EXCERPT_CHARS].strip()
    status = "ok" if 200 <= answer.status < 300 else "failed"
    return StepResult(status, f"{step.method} {step.path} answered {answer.status}: {excerpt}")


# --- service and command ----------------------------------------------------------------


def service_argv(operation: str, binding: ServiceBinding) -> list[str]:
    """The argv that applies ``operation`` to a service through its binding."""
    match binding.binding:
        case "systemd":
            return ["systemctl", operation, binding.name]
        case "docker":
            return ["docker", operation, binding.name]
        case "compose":
            if not binding.project:
                raise ActionError(f"service {binding.name!r} uses the compose binding but names no project")
            return ["docker", "compose", "-p", binding.project, operation, binding.name]
        case "command":
            return [render(part, {"operation": operation}) for part in binding.argv or ()]


def run_service(step: ServiceStep, inventory: Inventory) -> StepResult:
    """Start, restart or stop a service of the target on the host its binding names."""
    binding = inventory.services[step.service]
    return run_argv(service_argv(step.operation, binding), binding.host, SERVICE_TIMEOUT_SECONDS)


def command_argv(name: str, template: CommandTemplate, args: Mapping[str, str]) -> list[str]:
    """Fill a command template's ``{param}`` placeholders with validated argument values."""
    needed = unfilled_placeholders(template.argv)
    unused = sorted(set(args) - needed)
    missing = sorted(needed - set(args))
    if unused or missing:
        problem = f"argument {unused[0]!r} is not used" if unused else f"argument {missing[0]!r} is missing"
        raise ActionError(f"command {name!r}: {problem} (its placeholders: {', '.join(sorted(needed)) or 'none'})")
    for key, value in args.items():
        if not _SAFE_ARGUMENT.fullmatch(value) or value.startswith("-"):
            raise ActionError(
                f"command {name!r}: argument {key}={value!r} is not allowed "
                "(allowed: letters, digits and _ . : / -, not starting with -)"
            )
    return [render(part, args) for part in template.argv]


def run_command(step: CommandStep, inventory: Inventory) -> StepResult:
    """Run a command template declared in the target inventory."""
    template = inventory.commands[step.command]
    return run_argv(command_argv(step.command, template, step.args), template.host, template.timeout_seconds)


def is_local_host(host: str) -> bool:
    """Whether a testinfra connection string names this machine (``local://``)."""
    return urlsplit(host).scheme == "local"


def run_argv(argv: list[str], host: str, timeout_seconds: float) -> StepResult:
    """Run an argv list on ``host`` (``local://`` or a testinfra connection string)."""
    is_local = is_local_host(host)
    if is_local:
        completed = run_child(argv, cwd=PROJECT_ROOT, timeout=timeout_seconds)
        exit_status, output = completed.returncode, completed.stdout + completed.stderr
    else:
        # testinfra gives no time limit for a remote command, so the remote
        # coreutils `timeout` bounds it; every argument is shell-quoted.
        bounded = ["timeout", str(round(timeout_seconds)), *argv]
        exit_status, output = _run_remote(host, bounded)
    where = "" if is_local else f" on {host}"
    status = "ok" if exit_status == 0 else "failed"
    excerpt = output.strip()[-_EXCERPT_CHARS:]
    return StepResult(status, f"{shlex.join(argv)}{where} exited {exit_status}: {excerpt or '(no output)'}")


def _run_remote(host: str, argv: list[str]) -> tuple[int, str]:
    """Exit status and output of ``argv`` on a testinfra host, each argument shell-quoted.

    testinfra raises ssh's own failure (exit 255: the host cannot be reached, or
    refused the login) as a ``RuntimeError`` holding the command's result; that is
    an exit status like any other here.
    """
    try:
        remote = testinfra.get_host(host).run(" ".join(["%s"] * len(argv)), *argv)
    except RuntimeError as error:
        remote = error.args[0] if error.args else None
        if not hasattr(remote, "rc"):
            raise
    return remote.rc, remote.stdout + remote.stderr
