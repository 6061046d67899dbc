"""No flakes: twenty consecutive healthy staging runs, ten serial and ten with two workers, fail nothing.

Marked ``soak`` (about two minutes): ``./run test`` leaves it out; ``./run test -m soak`` runs it.
"""

from __future__ import annotations

import pytest

SERIAL_RUNS = 10
PARALLEL_RUNS = 10


@pytest.mark.soak
@pytest.mark.timeout(1200)
def test_twenty_consecutive_healthy_runs_fail_nothing(suite):
    outcomes = []
    for number in range(SERIAL_RUNS + PARALLEL_RUNS):
        workers = ("-n", "2") if number >= SERIAL_RUNS else ()
        run = suite("-m", "staging", *workers)
        failed = sorted(f["nodeid"] for f in run.findings["failures"])
        outcomes.append((number, run.exit_code, failed, run.findings["summary"]["passed"]))
    assert [(n, code, failed) for n, code, failed, _ in outcomes if code != 0 or failed] == []
    # Every run passed the same checks: nothing was skipped in one run and passed in another.
    assert len({passed for *_, passed in outcomes}) == 1, outcomes
