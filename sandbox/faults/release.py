"""Release faults: the deployed checkout gets an unsigned commit, or the staging run of its commit did not pass.

Both change files of the sandbox's home (the ``source/`` checkout, ``staging/findings.json``),
which the faults' own ``undo`` takes back on reset: the checkout goes back to its signed
release tag, and the staging run of its commit is a passed one again.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import release
from ..state import HomeLayout
from .base import Fault, FaultKind, FaultTarget, FaultView

# The staging run's failures that staging-failed records: two left failing, one healed and verified.
STAGING_FAILURES = [
    {
        "nodeid": "suites/webhooks/test_webhook_delivery.py::test_webhook_accepts_and_records_event[invoices]",
        "kind": "timeout",
        "recipe": "H03",
        "root_cause": None,
        "healed": False,
        "heal_note": "no repairing step ran for its recipe",
    },
    {
        "nodeid": "suites/sync/test_queue_processing.py::test_probe_event_reaches_completed[invoices]",
        "kind": "timeout",
        "recipe": "H03",
        "root_cause": "suites/webhooks/test_webhook_delivery.py::test_webhook_accepts_and_records_event[invoices]",
        "healed": False,
        "heal_note": "no repairing step ran for its recipe",
    },
    {
        "nodeid": "suites/sync/test_queue_health.py::test_no_item_stuck_in_processing",
        "kind": "stuck",
        "recipe": "H10",
        "root_cause": None,
        "healed": True,
        "heal_note": "re-run passed",
    },
]


def _source(target: FaultView):
    return HomeLayout(target.home).source_dir


@dataclass(frozen=True, kw_only=True)
class UnsignedCommitFault(FaultKind):
    """A commit without a signature on top of the signed release; staging passed for it (only the signature fails)."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        commit = release.commit_unsigned(_source(target), "hotfix pushed from a machine without a signing key")
        release.write_staging_findings(target.home, commit)

    def active_specs(self, target: FaultView) -> list[str]:
        source = _source(target)
        if not (source / ".git").exists():
            return []
        return [self.name] if any(letter != "G" for letter in release.signature_letters(source)) else []

    def undo(self, target: FaultView) -> None:
        source = _source(target)
        if (source / ".git").exists() and release.head_commit(source) != _tagged(source):
            release.restore_release(source)
            release.restore_staging_findings(target.home, source)


@dataclass(frozen=True, kw_only=True)
class StagingFailedFault(FaultKind):
    """The staging run of the deployed commit ended with failures that were not healed."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        release.write_staging_findings(target.home, release.head_commit(_source(target)), STAGING_FAILURES)

    def active_specs(self, target: FaultView) -> list[str]:
        failures = release.read_staging_findings(target.home).get("failures") or []
        return [self.name] if any(f.get("healed") is not True for f in failures) else []

    def undo(self, target: FaultView) -> None:
        if self.active_specs(target):
            release.restore_staging_findings(target.home, _source(target))


def _tagged(source) -> str:
    return release.run(["git", "rev-parse", f"{release.RELEASE_TAG}^{{commit}}"], cwd=source).strip()


KINDS = (
    UnsignedCommitFault(
        name="unsigned-commit",
        summary="an unsigned commit on top of the deployed checkout's signed release (staging passed for it)",
    ),
    StagingFailedFault(
        name="staging-failed", summary="the staging run of the deployed commit left failures unhealed"
    ),
)
