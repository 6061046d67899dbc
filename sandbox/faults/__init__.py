"""Faults the sandbox switches on at runtime, each breaking one thing for a real reason.

A fault spec is ``NAME`` or ``NAME:ARG``. Every fault kind validates its
argument, applies itself to a sandbox and reports whether it is in effect
(:mod:`.base`). The kinds come in families, one module each:

- :mod:`.webhook` -- flag faults on the ERP app's webhook routes;
- :mod:`.service` -- service-down faults, which stop one of the sandbox's processes;
- :mod:`.sync` -- flag faults the sync worker acts out;
- :mod:`.env_file` -- edits of the sandbox's env file;
- :mod:`.endpoint` -- flag faults on the ERP app's BFF paths;
- :mod:`.zoho` -- flag faults the Zoho simulator acts out, and the simulator stopped;
- :mod:`.data` -- changes to the sandbox database (queue rows, migration, tables and columns) and its migrations;
- :mod:`.integrity` -- ERP rows broken against a data rule (duplicate emails and SKUs, orphaned invoices);
- :mod:`.backup` -- the pre-deploy dumps in the sandbox's backups directory (none, stale, corrupt, too many);
- :mod:`.release` -- the deployed checkout's signatures and the staging run of its commit.
- :mod:`.deploy` -- the public front: a blue/green slot stopped, slot records disagreeing, a certificate expiring.
- :mod:`.host` -- what the host checks see: a service's port closed, a nearly full disk, an error spike.

Flag faults are recorded in ``home/faults.json``; the process that acts one out
re-reads that file when it changes. Adding a fault means adding an entry to the
``KINDS`` of its family (and, for a new flag fault, teaching the app, the worker
or the simulator what it does); :data:`FAULTS` lists the families in the order
``python -m sandbox --help`` shows them.
"""

from __future__ import annotations

import difflib

from ..errors import SandboxError
from . import backup, data, deploy, endpoint, env_file, host, integrity, release, service, sync, webhook, zoho
from .base import LOCK_TIMEOUT_SECONDS, Fault, FaultKind, FaultStore, FaultTarget, FaultView, FlagFault
from .data import (
    FAULT_ROW_PREFIX,
    HIDDEN_SUFFIX,
    AddedRevisionFault,
    DataFault,
    HiddenObjectFault,
    MigrationBehindFault,
    QueueRowsFault,
)
from .endpoint import EndpointFault
from .env_file import EnvFileFault
from .service import ServiceDownFault
from .zoho import ZohoFault

__all__ = [
    "FAULTS",
    "FAULT_NAMES",
    "FAULT_ROW_PREFIX",
    "HIDDEN_SUFFIX",
    "LOCK_TIMEOUT_SECONDS",
    "AddedRevisionFault",
    "DataFault",
    "EndpointFault",
    "EnvFileFault",
    "Fault",
    "FaultKind",
    "FaultStore",
    "FaultTarget",
    "FaultView",
    "FlagFault",
    "HiddenObjectFault",
    "MigrationBehindFault",
    "QueueRowsFault",
    "ServiceDownFault",
    "ZohoFault",
    "active_faults",
    "describe_faults",
    "parse_fault",
    "undo_faults",
]

FAMILIES = (webhook, service, sync, env_file, endpoint, zoho, data, integrity, backup, release, deploy, host)


def _registry() -> dict[str, FaultKind]:
    kinds = [kind for family in FAMILIES for kind in family.KINDS]
    registry = {kind.name: kind for kind in kinds}
    if len(registry) != len(kinds):
        twice = sorted({kind.name for kind in kinds if sum(other.name == kind.name for other in kinds) > 1})
        raise RuntimeError(f"fault names defined twice: {', '.join(twice)}")
    return registry


FAULTS: dict[str, FaultKind] = _registry()
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
        routes = ", ".join(webhook.ROUTE_NAMES)
        raise SandboxError(f"unknown fault {spec!r}{hint}; allowed faults: {allowed}; <entity> is one of: {routes}")
    fault_argument = argument if separator else None
    kind.check_argument(fault_argument)
    return Fault(kind, fault_argument)


def active_faults(target: FaultView) -> list[str]:
    """Faults in effect: recorded flag faults, and the faults whose effect is found in the sandbox."""
    return [spec for kind in FAULTS.values() for spec in kind.active_specs(target)]


def undo_faults(target: FaultView) -> None:
    """Take back what only the fault kinds themselves know how to undo (the sandbox's reset runs this)."""
    for kind in FAULTS.values():
        kind.undo(target)
