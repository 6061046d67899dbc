"""deploy.predeploy_validation: the gates a release passes before production traffic reaches it.

- the staging run of the same commit passed: its findings.json or JUnit file (``--staging-findings``
  or ``[gates] staging_findings``, a path or URL) is of the deployed checkout's commit and left
  no failure unhealed;
- the newest commits carry good signatures where ``[gates] require_signed_commits`` is set.

The debug-statement gate of the release's application paths is the code stage's
(``suites/code/test_code_gates.py::test_no_debug_statement_in_application_code``), marked for
production too, so it runs on the same deployed checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.failures import CheckFailed
from fixtures.inventory import Inventory
from fixtures.release import GOOD_SIGNATURE, SIGNATURE_STATUS, commit_signatures, head_commit, read_staging_run

pytestmark = [pytest.mark.production]

SHOWN = 20


def test_staging_run_of_the_deployed_commit_passed(request, inventory: Inventory, source_dir: Path):
    source = request.config.option.staging_findings or inventory.gates.staging_findings
    if not source:
        pytest.skip("no staging run configured ([gates] staging_findings or --staging-findings; STAGING_FINDINGS)")
    commit = head_commit(source_dir, inventory.gates.timeout_seconds)
    try:
        run = read_staging_run(source, inventory.gates)
    except CheckFailed as failure:
        raise CheckFailed(failure.kind, failure.title, commit=commit, **failure.evidence) from None
    if run.commit != commit:
        raise CheckFailed(
            "gate",
            "no staging run of the deployed commit: the staging findings are of another commit",
            commit=commit,
            staging_commit=run.commit or "not recorded",
            findings_source=source,
        )
    if run.interrupted:
        raise CheckFailed("gate", "the staging run of the deployed commit was interrupted", commit=commit,
                          findings_source=source)  # fmt: skip
    if run.unhealed:
        raise CheckFailed(
            "gate",
            f"the staging run of the deployed commit left {len(run.unhealed)} of its {run.failures} failures unhealed",
            commit=commit,
            findings_source=source,
            unhealed_count=len(run.unhealed),
            failed_nodeids=run.unhealed[:SHOWN],
        )


def test_release_commits_are_signed(inventory: Inventory, source_dir: Path):
    settings = inventory.gates
    if not settings.require_signed_commits:
        pytest.skip("the target does not require signed commits ([gates] require_signed_commits)")
    signatures = commit_signatures(source_dir, settings)
    unsigned = [(commit, letter) for commit, letter in signatures if letter != GOOD_SIGNATURE]
    if unsigned:
        raise CheckFailed(
            "unsigned",
            f"{len(unsigned)} of the newest {len(signatures)} commits have no good signature",
            range=settings.signed_commits_range,
            checked=len(signatures),
            count=len(unsigned),
            commits=[f"{commit} {letter}" for commit, letter in unsigned[:SHOWN]],
            statuses={letter: SIGNATURE_STATUS.get(letter, "unknown") for letter in sorted({x for _, x in unsigned})},
        )
