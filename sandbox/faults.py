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
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from filelock import FileLock

from .erp.entities import WEBHOOK_ROUTES
from .errors import SandboxError
from .state import read_json, write_json_atomic

LOCK_TIMEOUT_SECONDS = 10


class FaultTarget(Protocol):
    """What a fault acts on: the sandbox controller."""

    @property
    def fault_store(self) -> FaultStore: ...

    def service(self, name: str, action: str) -> None: ...

    def status(self) -> dict[str, str]: ...


@dataclass(frozen=True, kw_only=True)
class FaultKind:
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

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        raise NotImplementedError

    def active_specs(self, target: FaultTarget) -> list[str]:
        raise NotImplementedError


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
