"""Re-running failed checks after healing, in a fresh pytest process.

The re-run uses the same target (and, on the sandbox, the same running sandbox
through ``$TSH_SANDBOX_STATE``), injects no faults and heals nothing; it only
reports each node id's outcome.

The checks are selected by node id inside the re-run (:class:`VerifySelection`),
not on its command line: a parametrized id may no longer exist once the target is
repaired (``test_get_operation_answers[openapi.json]`` stands for the whole
OpenAPI document while it is unreadable; once it reads, the check is
parametrized per operation). Such an id is judged by every check its function
now has: passed when none of them failed and at least one passed (skipped ones,
such as operations without example parameters, judge nothing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from fixtures.inventory import PROJECT_ROOT
from remedies.child_process import run_child

VERIFY_TIMEOUT_SECONDS = 900


class VerificationError(Exception):
    """The re-run could not report outcomes; the message is one line."""


def rerun_checks(nodeids: list[str], *, target: Path, reports_dir: Path, post_probes: bool) -> dict[str, str]:
    """Run ``nodeids`` again; map each to ``passed``, ``failed`` or ``skipped``.

    ``post_probes``: the run being verified selected mutating checks, so the re-run may post
    webhook probes for the queue checks it re-runs.
    """
    workdir = reports_dir / "healing" / "verify"
    workdir.mkdir(parents=True, exist_ok=True)
    run_id = uuid.uuid4().hex[:8]
    outcomes_file = workdir / f"outcomes-{run_id}.json"
    selection_file = workdir / f"select-{run_id}.json"
    selection_file.write_text(json.dumps(sorted(set(nodeids))), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "pytest",
        *dict.fromkeys(nodeid.split("::", 1)[0] for nodeid in nodeids),
        # One token each: pytest picks its rootdir before it knows these options,
        # and would take a separate path value for a test path.
        f"--target={target}",
        f"--reports-dir={workdir}",
        # The final state of the re-run checks, beside the run's own junit.xml.
        f"--junitxml={reports_dir / 'junit-final.xml'}",
        f"--verify-outcomes={outcomes_file}",
        f"--verify-select={selection_file}",
        "-p",
        "no:cacheprovider",
        "-q",
        *(["--post-probes"] if post_probes else []),
    ]
    try:
        completed = run_child(command, cwd=PROJECT_ROOT, env=os.environ, timeout=VERIFY_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        raise VerificationError(f"the re-run did not finish within {VERIFY_TIMEOUT_SECONDS} s") from None
    if not outcomes_file.is_file():
        tail = (completed.stdout + completed.stderr).strip().splitlines()[-1:] or ["no output"]
        raise VerificationError(f"the re-run exited {completed.returncode} without outcomes: {tail[0]}")
    outcomes = json.loads(outcomes_file.read_text(encoding="utf-8"))
    return {nodeid: outcome_of(nodeid, outcomes) for nodeid in nodeids}


def function_of(nodeid: str) -> str:
    """The node id without its parameters: the test function's."""
    return nodeid.split("[", 1)[0]


def outcome_of(nodeid: str, outcomes: dict[str, str]) -> str:
    """The re-run's outcome for ``nodeid``; an id that no longer exists takes its function's checks' outcome."""
    if nodeid in outcomes:
        return outcomes[nodeid]
    now = {outcome for other, outcome in outcomes.items() if function_of(other) == function_of(nodeid) != nodeid}
    if not now:
        return "not run"
    if now - {"passed", "skipped"}:
        return "failed"
    return "passed" if "passed" in now else "skipped"


class VerifySelection:
    """Keeps the re-run's items to the selected node ids, or their functions' where an id no longer exists."""

    def __init__(self, selection_file: Path) -> None:
        self.wanted = set(json.loads(selection_file.read_text(encoding="utf-8")))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep = self.kept({item.nodeid for item in items})
        selected = [item for item in items if item.nodeid in keep]
        deselected = [item for item in items if item.nodeid not in keep]
        if deselected:
            config.hook.pytest_deselected(items=deselected)
        items[:] = selected

    def kept(self, collected: Iterable[str]) -> set[str]:
        collected = set(collected)
        gone = {function_of(nodeid) for nodeid in self.wanted - collected}
        return {nodeid for nodeid in collected if nodeid in self.wanted or function_of(nodeid) in gone}
