"""deploy.blue_green: the active slot, as nginx's site file and the env file record it, is healthy and serves the
public URL; the idle slot's state is recorded (a metric and a report line), never judged.

The site file is what nginx serves, so it names the active slot; the env file's record
(``ACTIVE_DEPLOYMENT_SLOT``) must agree with it.
"""

from __future__ import annotations

import pytest

from fixtures.deploy import Deployment, read_deployment
from fixtures.failures import CheckFailed
from fixtures.http import send

pytestmark = [pytest.mark.production, pytest.mark.deploy]

REPORT = "blue_green_report.txt"


@pytest.fixture(scope="module")
def deploy_settings(inventory):
    if inventory.deploy is None:
        pytest.skip("no blue/green deployment configured ([deploy])")
    return inventory.deploy


@pytest.fixture(scope="module")
def deployment(deploy_settings) -> Deployment:
    return read_deployment(deploy_settings)


def _active(deploy_settings, deployment: Deployment) -> str:
    """The slot nginx serves (the site file's upstream); a site file naming none fails as ``config``."""
    __tracebackhide__ = True
    if deployment.site_slot is None:
        raise CheckFailed(
            "config",
            "the nginx site file names no declared slot as its upstream",
            site_file=deploy_settings.site_file,
            upstream_servers=list(deployment.upstream_servers),
            slots={name: slot.url for name, slot in deploy_settings.slots.items()},
            problems=list(deployment.problems),
        )
    return deployment.site_slot


def test_active_slot_records_agree(deploy_settings, deployment, report_line):
    active = _active(deploy_settings, deployment)
    report_line(REPORT, f"site file {deploy_settings.site_file}: upstream {active}")
    report_line(REPORT, f"env file {deploy_settings.env_file}: {deploy_settings.env_variable}={deployment.env_slot}")
    if deployment.env_slot != active:
        raise CheckFailed(
            "drift",
            f"nginx serves {active} but the env file records {deploy_settings.env_variable}={deployment.env_slot}",
            site_slot=active,
            env_slot=deployment.env_slot,
            site_file=deploy_settings.site_file,
            env_file=deploy_settings.env_file,
            problems=list(deployment.problems),
        )


def _slot_health(deploy_settings, http_client, slot: str):
    """GET the slot's health URL directly (its own port); the failure is typed by the client."""
    url = f"{deploy_settings.slots[slot].url.rstrip('/')}{deploy_settings.health_path}"
    return url, send(http_client, "GET", url)


def test_active_slot_is_healthy(deploy_settings, deployment, http_client, report_line):
    active = _active(deploy_settings, deployment)
    other = deployment.other_slot(deploy_settings, active)
    slots = {"active_slot": active, "other_slot": other}
    try:
        url, exchange = _slot_health(deploy_settings, http_client, active)
    except CheckFailed as failure:
        report_line(REPORT, f"active slot {active}: {failure.kind}")
        raise CheckFailed(
            failure.kind, f"the active slot {active}: {failure.title}", **slots, **failure.evidence
        ) from None
    body = exchange.json_object()
    if exchange.status != 200:
        report_line(REPORT, f"active slot {active}: HTTP {exchange.status}")
        raise CheckFailed("http_status", f"the active slot {active}: GET {url} answered {exchange.status}",
                          **slots, **exchange.evidence())  # fmt: skip
    if body is None or body.get("status") != "healthy":
        report_line(REPORT, f"active slot {active}: not healthy")
        raise CheckFailed("contract", f'the active slot {active}: GET {url} did not say "healthy"',
                          **slots, **exchange.evidence())  # fmt: skip
    report_line(REPORT, f"active slot {active}: healthy ({exchange.latency_ms:.0f} ms)")


def test_public_url_is_served_by_the_active_slot(deploy_settings, deployment, http_client, report_line):
    active = _active(deploy_settings, deployment)
    url = f"{deploy_settings.public_url.rstrip('/')}{deploy_settings.health_path}"
    exchange = send(http_client, "GET", url)
    served_by = exchange.headers.get(deploy_settings.slot_header)
    evidence = {"active_slot": active, "served_by": served_by, **exchange.evidence()}
    if exchange.status != 200:
        raise CheckFailed("http_status", f"GET {url} through the front answered {exchange.status}", **evidence)
    if served_by != active:
        raise CheckFailed(
            "drift", f"GET {url} was served by slot {served_by!r}, not the active slot {active}", **evidence
        )
    report_line(REPORT, f"public {deploy_settings.public_url}: served by {served_by}")


def test_idle_slot_state_is_recorded(deploy_settings, deployment, http_client, record_metric, report_line):
    """Recorded, never judged: the idle slot may be stopped (the failed release left for inspection) or warm."""
    active = _active(deploy_settings, deployment)
    for slot in (name for name in deploy_settings.slots if name != active):
        try:
            _, exchange = _slot_health(deploy_settings, http_client, slot)
            body = exchange.json_object() or {}
            healthy = exchange.status == 200 and body.get("status") == "healthy"
            state = "healthy" if healthy else f"HTTP {exchange.status}"
        except CheckFailed as failure:
            healthy, state = False, failure.kind
        record_metric("idle_slot_healthy", {slot: 1.0 if healthy else 0.0})
        report_line(REPORT, f"idle slot {slot}: {state}")
