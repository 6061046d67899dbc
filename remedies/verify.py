"""Re-running failed checks after healing, in a fresh pytest process.

The re-run uses the same target (and, on the sandbox, the same running sandbox
through ``$TSH_SANDBOX_STATE``), injects no faults and heals nothing; it only
reports each node id's outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from fixtures.inventory import PROJECT_ROOT
from remedies.child_process import run_child

VERIFY_TIMEOUT_SECONDS = 900


class VerificationError(Exception):
    """The re-run could not report outcomes; the message is one line."""


def _function_of(nodeid: str) -> str:
    return nodeid.split("[", 1)[0]


def select_items(selected: set[str], collected: list[str]) -> set[str]:
    """The collected node ids the re-run keeps: each selected one, and for a selected parametrized id that is
    not collected any more, every id of its function.

    A check parametrized from what the target answered names its parameters anew: the OpenAPI document that
    could not be read was one check (``[openapi.json]``); read after the heal, it is one check per operation.
    """
    present = set(collected)
    gone = {_function_of(nodeid) for nodeid in selected - present if "[" in nodeid}
    return {nodeid for nodeid in collected if nodeid in selected or ("[" in nodeid and _function_of(nodeid) in gone)}


def outcome_of(nodeid: str, outcomes: dict[str, str]) -> str:
    """``nodeid``'s re-run outcome; a parametrized id collected no more takes its function's ids together."""
    if nodeid in outcomes:
        return outcomes[nodeid]
    instead = [
        result for other, result in outcomes.items() if "[" in other and _function_of(other) == _function_of(nodeid)
    ]
    if "[" not in nodeid or not instead:
        return "not run"
    if "failed" in instead:
        return "failed"
    return "passed" if "passed" in instead else "skipped"


def rerun_checks(nodeids: list[str], *, target: Path, reports_dir: Path, post_probes: bool) -> dict[str, str]:
    """Run ``nodeids`` again; map each to ``passed``, ``failed`` or ``skipped``.

    ``post_probes``: the run being verified selected mutating checks, so the re-run may post
    webhook probes for the queue checks it re-runs.
    """
    workdir = reports_dir / "healing" / "verify"
    outcomes_file = workdir / f"outcomes-{uuid.uuid4().hex[:8]}.json"
    select_file = workdir / f"select-{outcomes_file.stem.removeprefix('outcomes-')}.json"
    workdir.mkdir(parents=True, exist_ok=True)
    select_file.write_text(json.dumps(nodeids), encoding="utf-8")
    command = [
        sys.executable,
        "-m",
        "pytest",
        # The modules of the failed checks, narrowed to their node ids by --verify-select (an id whose
        # parameters changed since would be "not found" on the command line and stop the whole re-run).
        *dict.fromkeys(nodeid.split("::", 1)[0] for nodeid in nodeids),
        f"--verify-select={select_file}",
        # One token each: pytest picks its rootdir before it knows these options,
        # and would take a separate path value for a test path.
        f"--target={target}",
        f"--reports-dir={workdir}",
        # The final state of the re-run checks, beside the run's own junit.xml.
        f"--junitxml={reports_dir / 'junit-final.xml'}",
        f"--verify-outcomes={outcomes_file}",
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
