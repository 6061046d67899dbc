"""Whole staging runs against an app that trickles, black-holes or floods: each ends within its bound.

The target is the sandbox's inventory with the app's address pointing at a loopback fake
(``tests/hostile_servers.py``); the database, Zoho and the env file are the healthy sandbox's,
so exactly the checks that talk to the app fail, all explained by ``/health``. A silent app costs
one exchange: the fake counts the connections it accepted.
"""

from __future__ import annotations

import pytest
from expected import APP_CHECKS, DEAD_LETTER_RATE, EVENTS_COMPLETE, HEALTH, ROUTES, delay
from hostile_servers import black_hole, huge_body, target_with_app_at, trickle
from suite_runner import run_suite

from fixtures.inventory import MIB

RUN_BOUND_SECONDS = 60
PEAK_RSS_BOUND_MIB = 300
QUEUE_MEASURES = {EVENTS_COMPLETE, DEAD_LETTER_RATE, *map(delay, ROUTES)}


def outcomes(run) -> dict[str, tuple[str, str | None, str | None]]:
    return {f["nodeid"]: (f["kind"], f["recipe"], f["root_cause"]) for f in run.findings["failures"]}


@pytest.mark.parametrize("server", [trickle, black_hole], ids=["trickle", "black-hole"])
def test_a_silent_app_fails_every_app_check_under_health_within_one_exchange(healthy_sandbox, tmp_path, server):
    with server() as app:
        run = run_suite(
            healthy_sandbox, tmp_path / "reports", "-m", "staging", f"--target={target_with_app_at(app.url, tmp_path)}",
            measure_rss=True,
        )  # fmt: skip
        accepted = app.accepted
    assert run.exit_code == 1, run.output
    found = outcomes(run)
    assert set(found) == set(APP_CHECKS), run.output
    assert found[HEALTH] == ("timeout", "H13", None)
    assert {nodeid: outcome[1:] for nodeid, outcome in found.items() if nodeid != HEALTH} == dict.fromkeys(
        set(APP_CHECKS) - {HEALTH}, ("H13", HEALTH)
    )
    assert {outcome[0] for nodeid, outcome in found.items() if nodeid not in QUEUE_MEASURES} == {"timeout"}
    # One real exchange (the OpenAPI document, read while collecting); every later call was not tried.
    assert accepted == 1
    health = next(f for f in run.findings["failures"] if f["nodeid"] == HEALTH)
    assert health["evidence"]["not_tried"].startswith(f"{app.url} did not answer earlier in this run: GET ")
    assert run.seconds < RUN_BOUND_SECONDS, run.seconds
    assert run.peak_rss_mib < PEAK_RSS_BOUND_MIB, run.peak_rss_mib


def test_an_app_answering_200_mib_bodies_fails_its_checks_as_contract_within_the_memory_bound(
    healthy_sandbox, tmp_path
):
    with huge_body(200 * MIB) as app:
        run = run_suite(
            healthy_sandbox, tmp_path / "reports", "-m", "staging", f"--target={target_with_app_at(app.url, tmp_path)}",
            measure_rss=True,
        )  # fmt: skip
    assert run.exit_code == 1, run.output
    found = outcomes(run)
    assert set(found) == set(APP_CHECKS), run.output
    # The app answers, so /health explains none of them (it explains only checks that got no answer).
    assert found[HEALTH] == ("contract", "H13", None)
    assert {outcome[0] for nodeid, outcome in found.items() if nodeid not in QUEUE_MEASURES} == {"contract"}
    health = next(f for f in run.findings["failures"] if f["nodeid"] == HEALTH)
    assert (health["evidence"]["max_body_bytes"], health["evidence"]["body_cut_at_bytes"]) == (5 * MIB, 5 * MIB)
    assert run.seconds < RUN_BOUND_SECONDS, run.seconds
    assert run.peak_rss_mib < PEAK_RSS_BOUND_MIB, run.peak_rss_mib
