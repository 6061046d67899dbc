"""monitoring.post_deploy_window: right after a deploy, /health stays healthy through the window and the app's
log shows no error spike.

``[monitoring]``: ``polls`` GETs of ``/health`` ``interval_seconds`` apart (the seed's 4 x 30 s); the error
lines of the named host log stamped inside the window, per minute of the window's own length (at least a
second), must stay at or under ``max_errors_per_minute``. Each poll prints a progress line (the terminal when
the run has one; else captured output). Marked ``slow``: it runs only when the ``-m`` expression names ``slow``.
"""

from __future__ import annotations

import time

import pytest

from fixtures.failures import CheckFailed
from fixtures.hosts import SHOWN_LINES, Host, error_lines, utc_now
from fixtures.http import send

pytestmark = [pytest.mark.production, pytest.mark.monitoring, pytest.mark.slow]


@pytest.fixture
def monitoring(inventory):
    if inventory.monitoring is None:
        pytest.skip("no post-deploy window configured ([monitoring])")
    return inventory.monitoring


def progress(request: pytest.FixtureRequest):
    terminal = request.config.pluginmanager.get_plugin("terminalreporter")
    if terminal is not None:
        return lambda line: terminal.write_line(line)
    return lambda line: print(line, flush=True)


def test_post_deploy_window_stays_healthy(inventory, monitoring, http_client, request):
    bases = inventory.http.health_bases()
    url = f"{bases.get(monitoring.base or '', next(iter(bases.values())))}/health"
    host_settings = inventory.host(monitoring.host)
    log = next(log for log in host_settings.logs if log.name == monitoring.log)
    show = progress(request)
    # Floored to the millisecond, as the log's own stamps are: the first poll's line is inside the window.
    now = utc_now()
    started = now.replace(microsecond=now.microsecond // 1000 * 1000)
    unhealthy = []
    for poll in range(1, monitoring.polls + 1):
        # An app that does not answer fails the window at once (unreachable, timeout), as /health's check does.
        exchange = send(http_client, "GET", url)
        body = exchange.json_object() if exchange.status == 200 else None
        healthy = body is not None and body.get("status") == "healthy"
        show(f"post-deploy window: poll {poll}/{monitoring.polls} GET {url}: {exchange.status} "
             f"{'healthy' if healthy else 'UNHEALTHY'}")  # fmt: skip
        if not healthy:
            unhealthy.append({"poll": poll, **exchange.evidence()})
        if poll < monitoring.polls:
            time.sleep(monitoring.interval_seconds)
    finished = utc_now()
    if unhealthy:
        first = unhealthy[0]
        kind = "http_status" if first["status"] != 200 else "contract"
        raise CheckFailed(
            kind, f"{len(unhealthy)} of {monitoring.polls} polls of {url} were not healthy",
            polls=monitoring.polls, unhealthy=unhealthy,
        )  # fmt: skip
    errors = error_lines(Host(host_settings).log_tail(log.path, log.max_bytes), since=started, until=finished)
    minutes = max((finished - started).total_seconds(), 1.0) / 60
    rate = round(len(errors) / minutes, 2)
    show(f"post-deploy window: {len(errors)} error lines in {log.path} over the window ({rate}/min)")
    if rate > monitoring.max_errors_per_minute:
        raise CheckFailed(
            "error_spike", f"{rate} error lines a minute in {log.path} during the post-deploy window",
            host=host_settings.name, log=log.path, count=len(errors), per_minute=rate,
            limit_per_minute=monitoring.max_errors_per_minute,
            last_lines=[line[:200] for line in errors[-SHOWN_LINES:]],
        )  # fmt: skip
