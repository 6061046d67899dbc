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


def rerun_checks(nodeids: list[str], *, target: Path, reports_dir: Path, post_probes: bool) -> dict[str, str]:
    """Run ``nodeids`` again; map each to ``passed``, ``failed`` or ``skipped``.

    ``post_probes``: the run being verified selected mutating checks, so the re-run may post
    webhook probes for the queue checks it re-runs.
    """
    workdir = reports_dir / "healing" / "verify"
    outcomes_file = workdir / f"outcomes-{uuid.uuid4().hex[:8]}.json"
    command = [
        sys.executable,
        "-m",
        "pytest",
        *nodeids,
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
    return {nodeid: outcomes.get(nodeid, "not run") for nodeid in nodeids}
