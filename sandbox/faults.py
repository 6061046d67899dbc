"""Faults the sandbox switches on at runtime, each breaking one thing for a real reason.

A fault spec is ``NAME`` or ``NAME:ARG``. Every fault kind is an entry of
:data:`FAULTS` that validates its argument, applies itself to a sandbox and
reports whether it is in effect. Two kinds exist:

- flag faults are recorded in ``home/faults.json``; the ERP app re-reads that
  file when it changes and misbehaves on the named webhook route;
- service-down faults stop one of the sandbox's processes.

Adding a fault means adding an entry to :data:`FAULTS` (and, for a new flag
fault, teaching the app what it does).
"""

from __future__ import annotations

import difflib
import os
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import psycopg
from filelock import FileLock
from psycopg import sql

from .errors import SandboxError
from .facts import BFF_PATHS, PROTECTED_PATHS, WEBHOOK_ROUTES, ZOHO_LISTS
from .migrations import head as migration_head
from .migrations import previous_revision, upgrade
from .provision import ENV_VARIABLES, PLACEHOLDER, edit_env_file, env_file_names
from .state import HomeLayout, read_json, write_json_atomic

LOCK_TIMEOUT_SECONDS = 10


class FaultTarget(Protocol):
    """What a fault acts on: the sandbox controller."""

    @property
    def fault_store(self) -> FaultStore: ...

    def service(self, name: str, action: str) -> None: ...

    def status(self) -> dict[str, str]: ...

    @property
    def home(self) -> Path: ...

    @property
    def db_url(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class FaultKind(ABC):
    """A named fault; ``arguments`` lists the values its argument may take (empty: none)."""

    name: str
    summary: str
    arguments: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        return f"{self.name}:<entity>" if self.arguments else self.name

    def check_argument(self, argument: str | None) -> None:
        if self.arguments and argument not in self.arguments:
            raise SandboxError(
                f"fault {self.name} needs an entity, one of: {', '.join(self.arguments)} (got {argument!r})"
            )
        if not self.arguments and argument is not None:
            raise SandboxError(f"fault {self.name} takes no argument (got {argument!r})")

    @abstractmethod
    def apply(self, target: FaultTarget, fault: Fault) -> None:
        """Make the fault happen."""

    @abstractmethod
    def active_specs(self, target: FaultTarget) -> list[str]:
        """The specs of this kind that are in force now."""


@dataclass(frozen=True, kw_only=True)
class FlagFault(FaultKind):
    """Recorded in faults.json and acted out by the ERP app."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        target.fault_store.add(fault)

    def active_specs(self, target: FaultTarget) -> list[str]:
        return [spec for spec in target.fault_store.specs() if spec.startswith(f"{self.name}:")]


@dataclass(frozen=True, kw_only=True)
class ServiceDownFault(FaultKind):
    """Stops one sandbox service; in effect while that service is stopped."""

    service: str

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        target.service(self.service, "stop")

    def active_specs(self, target: FaultTarget) -> list[str]:
        return [] if target.status()[self.service] == "running" else [self.name]


@dataclass(frozen=True, kw_only=True)
class EndpointFault(FlagFault):
    """A flag fault on one BFF path (``NAME:<path>``, or ``NAME:<path>:<ms>`` when it takes a delay)."""

    with_delay: bool = False
    paths: tuple[str, ...] = BFF_PATHS

    @property
    def usage(self) -> str:
        return f"{self.name}:<path>:<ms>" if self.with_delay else f"{self.name}:<path>"

    def check_argument(self, argument: str | None) -> None:
        path, delay = (argument or "", "")
        if self.with_delay and ":" in path:
            path, _, delay = path.rpartition(":")
        if path not in self.paths:
            raise SandboxError(f"fault {self.name} needs a BFF path, one of: {', '.join(self.paths)} (got {path!r})")
        if self.with_delay and not (delay.isdigit() and 0 < int(delay) <= 60_000):
            raise SandboxError(f"fault {self.name} needs a delay in ms after the path, 1..60000 (got {delay!r})")


@dataclass(frozen=True, kw_only=True)
class EnvFileFault(FaultKind):
    """Edits one variable of the sandbox's env file; :meth:`Sandbox.reset` restores the file."""

    remove: bool
    arguments: tuple[str, ...] = ENV_VARIABLES

    @property
    def usage(self) -> str:
        return f"{self.name}:<VAR>"

    def check_argument(self, argument: str | None) -> None:
        if argument not in self.arguments:
            allowed = ", ".join(self.arguments)
            raise SandboxError(f"fault {self.name} needs a variable, one of: {allowed} (got {argument!r})")

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        edit_env_file(HomeLayout(target.home).env_file, str(fault.argument), None if self.remove else PLACEHOLDER)

    def active_specs(self, target: FaultTarget) -> list[str]:
        values = env_file_names(HomeLayout(target.home).env_file)
        if self.remove:
            return [f"{self.name}:{name}" for name in self.arguments if name not in values]
        return [f"{self.name}:{name}" for name in self.arguments if values.get(name) == PLACEHOLDER]


@dataclass(frozen=True, kw_only=True)
class ZohoFault(FlagFault):
    """A flag fault acted out by the Zoho simulator: ``NAME``, or ``NAME:<list>:<amount>`` when it has a unit."""

    unit: str | None = None

    @property
    def usage(self) -> str:
        return f"{self.name}:<list>:<{self.unit}>" if self.unit else self.name

    def check_argument(self, argument: str | None) -> None:
        if self.unit is None:
            super().check_argument(argument)
            return
        list_name, _, amount = (argument or "").partition(":")
        if list_name not in ZOHO_LISTS:
            allowed = ", ".join(ZOHO_LISTS)
            raise SandboxError(f"fault {self.name} needs a Zoho list, one of: {allowed} (got {argument!r})")
        try:
            valid = 0 < float(amount) <= 10_000
        except ValueError:
            valid = False
        if not valid:
            raise SandboxError(f"fault {self.name} needs {self.unit} after the list, above 0 (got {amount!r})")

    def active_specs(self, target: FaultTarget) -> list[str]:
        return [spec for spec in target.fault_store.specs() if spec.partition(":")[0] == self.name]


# Rows a data fault inserts carry the probe prefix, so the worker never writes
# them to ERP tables and the checks that measure real traffic leave them out.
FAULT_ROW_PREFIX = "tshprobe-fault"
HIDDEN_SUFFIX = "__fault_hidden"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _run_sql(target: FaultTarget, statement: str | sql.Composed, params: dict | None = None) -> list[tuple]:
    try:
        with psycopg.connect(target.db_url, connect_timeout=5) as connection:
            cursor = connection.execute(statement, params or {})
            return cursor.fetchall() if cursor.description else []
    except psycopg.Error as error:
        raise SandboxError(f"data fault failed: {str(error).strip().splitlines()[0]}") from None


@dataclass(frozen=True, kw_only=True)
class DataFault(FaultKind):
    """Changes the sandbox database; :meth:`undo` takes every change of its kind back (run by reset)."""

    argument_usage: str = ""

    @property
    def usage(self) -> str:
        return f"{self.name}:{self.argument_usage}" if self.argument_usage else self.name

    @abstractmethod
    def undo(self, target: FaultTarget) -> None:
        """Take back every change this kind of fault made."""


@dataclass(frozen=True, kw_only=True)
class QueueRowsFault(DataFault):
    """Inserts ``<count>`` tds_sync_queue rows (``insert_sql``), optionally stopping the worker first."""

    insert_sql: str
    stop_worker: bool = False
    argument_usage: str = "<count>"

    @property
    def row_prefix(self) -> str:
        return f"{FAULT_ROW_PREFIX}-{self.name}-"

    def check_argument(self, argument: str | None) -> None:
        if not (argument or "").isdigit() or not 1 <= int(argument) <= 10_000:
            raise SandboxError(f"fault {self.name} needs a row count, 1..10000 (got {argument!r})")

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        if self.stop_worker:
            target.service("worker", "stop")
        _run_sql(target, self.insert_sql, {"count": int(str(fault.argument)), "prefix": self.row_prefix})

    def active_specs(self, target: FaultTarget) -> list[str]:
        rows = _run_sql(
            target,
            "SELECT count(*) FROM tds_sync_queue WHERE source_entity_id LIKE %(pattern)s AND status <> 'completed'",
            {"pattern": f"{self.row_prefix}%"},
        )
        return [f"{self.name}:{rows[0][0]}"] if rows[0][0] else []

    def undo(self, target: FaultTarget) -> None:
        pattern = {"pattern": f"{self.row_prefix}%"}
        _run_sql(target, "DELETE FROM tds_dead_letter_queue WHERE source_entity_id LIKE %(pattern)s", pattern)
        _run_sql(target, "DELETE FROM tds_sync_queue WHERE source_entity_id LIKE %(pattern)s", pattern)


@dataclass(frozen=True, kw_only=True)
class MigrationBehindFault(DataFault):
    """Sets alembic_version to the revision before the head; ``sandbox migrate`` (or reset) upgrades it."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        _run_sql(target, "UPDATE alembic_version SET version_num = %(revision)s", {"revision": previous_revision()})

    def active_specs(self, target: FaultTarget) -> list[str]:
        rows = _run_sql(target, "SELECT version_num FROM alembic_version")
        return [] if [row[0] for row in rows] == [migration_head()] else [self.name]

    def undo(self, target: FaultTarget) -> None:
        upgrade(target.db_url)


@dataclass(frozen=True, kw_only=True)
class HiddenObjectFault(DataFault):
    """Renames a table (``<table>``) or a column (``<table>.<column>``) away, as a lost migration would."""

    column: bool

    def check_argument(self, argument: str | None) -> None:
        parts = (argument or "").split(".")
        if len(parts) != (2 if self.column else 1) or not all(_IDENTIFIER.match(part) for part in parts):
            raise SandboxError(f"fault {self.name} needs {self.argument_usage} (got {argument!r})")

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        table, _, column = str(fault.argument).partition(".")
        if self.column:
            statement = sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                sql.Identifier(table), sql.Identifier(column), sql.Identifier(column + HIDDEN_SUFFIX)
            )
        else:
            statement = sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                sql.Identifier(table), sql.Identifier(table + HIDDEN_SUFFIX)
            )
        _run_sql(target, statement)

    def _hidden(self, target: FaultTarget) -> list[tuple[str, str]]:
        if self.column:
            query = "SELECT table_name, column_name FROM information_schema.columns"
            name = "column_name"
        else:
            query = "SELECT table_name, '' FROM information_schema.tables"
            name = "table_name"
        where = f"WHERE table_schema = 'public' AND {name} LIKE %(pattern)s"
        return _run_sql(target, f"{query} {where}", {"pattern": f"%{HIDDEN_SUFFIX}"})

    def active_specs(self, target: FaultTarget) -> list[str]:
        return [
            f"{self.name}:{table}.{column.removesuffix(HIDDEN_SUFFIX)}" if self.column
            else f"{self.name}:{table.removesuffix(HIDDEN_SUFFIX)}"
            for table, column in self._hidden(target)
        ]  # fmt: skip

    def undo(self, target: FaultTarget) -> None:
        for table, column in self._hidden(target):
            if self.column:
                statement = sql.SQL("ALTER TABLE {} RENAME COLUMN {} TO {}").format(
                    sql.Identifier(table), sql.Identifier(column), sql.Identifier(column.removesuffix(HIDDEN_SUFFIX))
                )
            else:
                statement = sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                    sql.Identifier(table), sql.Identifier(table.removesuffix(HIDDEN_SUFFIX))
                )
            _run_sql(target, statement)


_DEAD_LETTERS_SQL = """
WITH dead AS (
    INSERT INTO tds_sync_queue
           (entity_type, source_entity_id, operation_type, validated_payload, status, attempt_count,
            error_message, error_code, created_at, started_at)
    SELECT 'customer', %(prefix)s || i, 'update', '{}'::jsonb, 'dead_letter', 3,
           'connection to Zoho refused (simulated)', 'connection_error',
           now() - interval '3 hours', now() - interval '3 hours'
    FROM generate_series(1, %(count)s) AS i
    RETURNING id, entity_type, source_entity_id, attempt_count, error_code, error_message, validated_payload, priority
)
INSERT INTO tds_dead_letter_queue
       (sync_queue_id, entity_type, source_entity_id, failure_reason, error_code, total_attempts,
        last_error_message, last_payload, priority)
SELECT id, entity_type, source_entity_id, 'max retry attempts reached', error_code, attempt_count,
       error_message, validated_payload, priority
FROM dead
"""
_STUCK_PROCESSING_SQL = """
INSERT INTO tds_sync_queue
       (entity_type, source_entity_id, operation_type, validated_payload, status, locked_by, lock_expires_at,
        created_at, started_at)
SELECT 'invoice', %(prefix)s || i, 'update', '{}'::jsonb, 'processing', 'sandbox-worker-lost',
       now() - interval '115 minutes', now() - interval '2 hours', now() - interval '2 hours'
FROM generate_series(1, %(count)s) AS i
"""
_BACKLOG_SQL = """
INSERT INTO tds_sync_queue (entity_type, source_entity_id, operation_type, validated_payload, status, created_at)
SELECT 'product', %(prefix)s || i, 'update', '{}'::jsonb, 'pending', now() - interval '20 minutes'
FROM generate_series(1, %(count)s) AS i
"""


@dataclass(frozen=True)
class Fault:
    """A parsed, valid fault spec."""

    kind: FaultKind
    argument: str | None = None

    @property
    def spec(self) -> str:
        return self.kind.name if self.argument is None else f"{self.kind.name}:{self.argument}"


_ROUTE_NAMES = tuple(WEBHOOK_ROUTES)

FAULTS: dict[str, FaultKind] = {
    kind.name: kind
    for kind in (
        FlagFault(
            name="webhook-timeout",
            summary="the entity's webhook route waits 120 s before answering",
            arguments=_ROUTE_NAMES,
        ),
        FlagFault(
            name="webhook-error",
            summary="the entity's webhook route answers 500",
            arguments=_ROUTE_NAMES,
        ),
        FlagFault(
            name="webhook-reject",
            summary="the entity's webhook route answers 202 with success false and stores nothing",
            arguments=_ROUTE_NAMES,
        ),
        FlagFault(
            name="webhook-unrecorded",
            summary="the entity's webhook route answers 202 queued true but stores nothing",
            arguments=_ROUTE_NAMES,
        ),
        FlagFault(
            name="webhook-missing",
            summary="the entity's webhook route answers 404 and leaves /openapi.json",
            arguments=_ROUTE_NAMES,
        ),
        ServiceDownFault(name="worker-down", summary="the sync worker is stopped", service="worker"),
        ServiceDownFault(name="backend-down", summary="the ERP app is stopped", service="app"),
        ServiceDownFault(name="database-down", summary="the PostgreSQL server is stopped", service="postgres"),
        EnvFileFault(name="secret-placeholder", summary="the env file's VAR becomes <CHANGE_ME>", remove=False),
        EnvFileFault(name="secret-missing", summary="the env file loses the line of VAR", remove=True),
        EndpointFault(name="endpoint-error", summary="the BFF path answers 500 (after authentication)"),
        EndpointFault(name="endpoint-slow", summary="the BFF path waits <ms> before answering", with_delay=True),
        EndpointFault(
            name="auth-open", summary="the protected BFF path answers anonymous calls with 200", paths=PROTECTED_PATHS
        ),
        ZohoFault(name="zoho-drift", summary="Zoho gains <percent> % more records of the list than the ERP holds",
                  unit="percent"),
        ZohoFault(name="zoho-stale", summary="Zoho holds modifications of the list <hours> newer than the ERP's",
                  unit="hours"),
        ZohoFault(name="zoho-auth-invalid", summary="the Zoho simulator rejects the refresh token and access tokens"),
        ZohoFault(name="zoho-rate-limit", summary="the Zoho simulator answers the next 3 API requests with 429"),
        ServiceDownFault(name="zoho-down", summary="the Zoho simulator is stopped", service="zoho"),
        QueueRowsFault(
            name="dead-letters",
            summary="<count> queue rows dead-lettered with a transient error class, plus their dead-letter rows",
            insert_sql=_DEAD_LETTERS_SQL,
        ),
        QueueRowsFault(
            name="stuck-processing",
            summary="<count> queue rows in processing since 2 h ago, their locks expired",
            insert_sql=_STUCK_PROCESSING_SQL,
        ),
        QueueRowsFault(
            name="backlog",
            summary="the worker stops and <count> pending rows (20 min old) pile up",
            insert_sql=_BACKLOG_SQL,
            stop_worker=True,
        ),
        MigrationBehindFault(name="migration-behind", summary="alembic_version is one revision behind the head"),
        HiddenObjectFault(
            name="missing-table", summary="the table is renamed away", column=False, argument_usage="<table>"
        ),
        HiddenObjectFault(
            name="missing-column",
            summary="the column is renamed away",
            column=True,
            argument_usage="<table>.<column>",
        ),
    )
}

FAULT_NAMES: tuple[str, ...] = tuple(FAULTS)


def describe_faults() -> str:
    """One line per fault: usage and effect (for help texts)."""
    return "\n".join(f"  {kind.usage:<28} {kind.summary}" for kind in FAULTS.values())


def parse_fault(spec: str) -> Fault:
    """Validate ``NAME`` or ``NAME:ARG``; a bad spec raises SandboxError naming the allowed ones."""
    name, separator, argument = spec.strip().partition(":")
    kind = FAULTS.get(name)
    if kind is None:
        close = difflib.get_close_matches(name, FAULT_NAMES, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        allowed = ", ".join(kind.usage for kind in FAULTS.values())
        raise SandboxError(
            f"unknown fault {spec!r}{hint}; allowed faults: {allowed}; <entity> is one of: {', '.join(_ROUTE_NAMES)}"
        )
    fault_argument = argument if separator else None
    kind.check_argument(fault_argument)
    return Fault(kind, fault_argument)


class FaultStore:
    """The flag faults in effect, persisted in a JSON file that is replaced atomically.

    :meth:`specs` costs one ``stat`` while the file is unchanged, so the app can
    consult it on every request.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_SECONDS)
        self._seen: tuple[int, int, int] | None = None
        self._specs: tuple[str, ...] = ()

    def specs(self) -> tuple[str, ...]:
        """The recorded fault specs, in the order they were added."""
        try:
            status = os.stat(self.path)
        except FileNotFoundError:
            return ()
        seen = (status.st_ino, status.st_mtime_ns, status.st_size)
        if seen != self._seen:
            self._specs = tuple(self._read())
            self._seen = seen
        return self._specs

    def is_active(self, name: str, argument: str) -> bool:
        return f"{name}:{argument}" in self.specs()

    def arguments_of(self, name: str) -> set[str]:
        """Arguments of the recorded faults called ``name``."""
        prefix = f"{name}:"
        return {spec.removeprefix(prefix) for spec in self.specs() if spec.startswith(prefix)}

    def add(self, fault: Fault) -> None:
        with self._lock:
            specs = self._read()
            if fault.spec not in specs:
                write_json_atomic(self.path, {"faults": [*specs, fault.spec]})

    def clear(self) -> None:
        with self._lock:
            write_json_atomic(self.path, {"faults": []})

    def _read(self) -> list[str]:
        if not self.path.exists():
            return []
        faults = read_json(self.path, what="fault store").get("faults")
        if not isinstance(faults, list) or not all(isinstance(spec, str) for spec in faults):
            raise SandboxError(f"fault store {self.path} is malformed: 'faults' must be a list of specs")
        return faults


def undo_data_faults(target: FaultTarget) -> None:
    """Take back every data fault's change to the database (the sandbox's reset runs this)."""
    for kind in FAULTS.values():
        if isinstance(kind, DataFault):
            kind.undo(target)
