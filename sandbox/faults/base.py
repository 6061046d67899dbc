"""What every fault is, and where the flag faults are recorded.

A :class:`FaultKind` is a named fault that validates its argument, applies itself
to a sandbox and reports whether it is in effect; a :class:`Fault` is a parsed,
valid spec of one kind; :class:`FlagFault` is the kind that is only recorded in
the :class:`FaultStore` (``home/faults.json``) and acted out by the process that
reads the store (the ERP app or the Zoho simulator).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from filelock import FileLock

from ..errors import SandboxError
from ..state import read_json, write_json_atomic

LOCK_TIMEOUT_SECONDS = 10


class FaultView(Protocol):
    """What tells whether a fault is in effect: the fault store, the home, the database and the services."""

    @property
    def fault_store(self) -> FaultStore: ...

    def status(self) -> dict[str, str]: ...

    @property
    def home(self) -> Path: ...

    @property
    def db_url(self) -> str: ...


class FaultTarget(FaultView, Protocol):
    """What a fault acts on: the sandbox controller, which can also stop and start services."""

    def service(self, name: str, action: str) -> None: ...

    def renew_certificate(self, days: int) -> float: ...


@dataclass(frozen=True, kw_only=True)
class FaultKind(ABC):
    """A named fault; ``arguments`` lists the values its argument may take (empty: none, or free-form)."""

    name: str
    summary: str
    arguments: tuple[str, ...] = ()
    argument_usage: str = ""  # how a free-form argument reads in the usage (``<count>``, ``<table>``)

    @property
    def usage(self) -> str:
        if self.argument_usage:
            return f"{self.name}:{self.argument_usage}"
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
    def active_specs(self, target: FaultView) -> list[str]:
        """The specs of this kind that are in force now."""

    def undo(self, target: FaultView) -> None:  # noqa: B027 -- most kinds have nothing to undo
        """Take back what reset's other steps leave in place (reset runs this for every kind).

        Reset clears the fault store, restores the env file and the database
        and starts every service; a kind whose change lives anywhere else
        undoes it here.
        """


@dataclass(frozen=True, kw_only=True)
class FlagFault(FaultKind):
    """Recorded in faults.json and acted out by the ERP app."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        target.fault_store.add(fault)

    def active_specs(self, target: FaultView) -> list[str]:
        return [spec for spec in target.fault_store.specs() if spec.startswith(f"{self.name}:")]


@dataclass(frozen=True)
class Fault:
    """A parsed, valid fault spec."""

    kind: FaultKind
    argument: str | None = None

    @property
    def spec(self) -> str:
        return self.kind.name if self.argument is None else f"{self.kind.name}:{self.argument}"


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
