"""Incidents against loopback fakes of GitHub's REST API, Telegram's Bot API and an apprise JSON receiver.

A failing run opens one issue per root cause that is still failing (labelled
auto-healing, the stage and its severity), a second failing run comments on it
instead of opening another, and a run where the check passes comments and
closes it; the Telegram fake and the JSON receiver get one message per new
incident. No request body holds a secret: not the sandbox's, not the GitHub
token, not the bot token.
"""

from __future__ import annotations

import json

from expected import ENDPOINT_ERROR_FAULT as FAULT
from expected import ENDPOINT_ERROR_LATENCY as LATENCY
from expected import ENDPOINT_ERROR_OPERATION as SYMPTOM
from expected import ENDPOINT_ERROR_ROOT as ROOT
from fake_services import fake_github, fake_receiver
from suite_runner import leaked_secrets, run_suite, sandbox_secrets, suite_env

CHECKS = ["suites/api/test_bff_endpoints.py", "suites/api/test_openapi_operations.py"]
GITHUB_TOKEN = "ghp_FakeTokenNeverInAnyBody0123456789"
BOT_TOKEN = "123456789:AAFakeBotTokenNeverInAnyBody_42"


def incident_env(sandbox, github, telegram, receiver) -> dict[str, str]:
    return {
        **suite_env(sandbox),
        "GITHUB_TOKEN": GITHUB_TOKEN,
        "GITHUB_REPOSITORY": "tsh/erp",
        "GITHUB_API_URL": github.url,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_CHAT_ID": "74541443",
        "TELEGRAM_API_URL": telegram.url,
        "TSH_NOTIFY_URLS": receiver.url.replace("http://", "json://") + "/hook",
    }


def test_an_incident_is_opened_once_commented_on_and_closed_when_the_check_passes(healthy_sandbox, tmp_path):
    with fake_github(GITHUB_TOKEN) as github, fake_receiver() as telegram, fake_receiver() as receiver:
        env = incident_env(healthy_sandbox, github, telegram, receiver)

        def run(name: str, *args: str):
            return run_suite(healthy_sandbox, tmp_path / name, "-m", "staging", *CHECKS, *args, env=env)

        first = run("first", "--sandbox-fault", FAULT)
        assert first.exit_code == 1, first.output
        assert first.outcomes() == {
            ROOT: ("http_status", "H35", None),
            SYMPTOM: ("http_status", "H35", ROOT),
            LATENCY: ("http_status", "H35", ROOT),
        }
        [issue] = github.issues.values()
        assert (issue["number"], issue["state"], issue["labels"]) == (1, "open", ["auto-healing", "staging",
                                                                                  "needs-attention"])
        assert issue["title"].startswith("[staging] H35 ") and "gps-sync-status" in issue["title"]
        assert ROOT in issue["body"] and SYMPTOM in issue["body"] and LATENCY in issue["body"]
        assert first.findings["incidents"]["actions"] == [
            {"action": "opened", "issue": 1, "title": issue["title"], "nodeid": ROOT,
             "fingerprint": first.findings["incidents"]["actions"][0]["fingerprint"], "recipe": "H35"}
        ]  # fmt: skip
        assert f"incident #1 opened: {issue['title']}" in first.output
        assert [r.path for r in telegram.requests] == [f"/bot{BOT_TOKEN}/sendMessage"]
        assert [r.path for r in receiver.requests] == ["/hook"]
        assert b"H35" in telegram.requests[0].body and b"gps-sync-status" in receiver.requests[0].body

        second = run("second", "--sandbox-fault", FAULT)
        assert second.exit_code == 1, second.output
        assert list(github.issues) == [1]
        assert [action["action"] for action in second.findings["incidents"]["actions"]] == ["commented"]
        assert github.comments[1][0].startswith("Failed again in the run of ")
        assert len(telegram.requests) == 1 and len(receiver.requests) == 1  # no new incident, no new message

        third = run("third")
        assert third.exit_code == 0, third.output
        assert github.issues[1]["state"] == "closed"
        assert github.comments[1][1].startswith(f"`{ROOT}` passes in the run of ")
        assert [action["action"] for action in third.findings["incidents"]["actions"]] == ["closed"]
        assert third.findings["incidents"]["errors"] == []

    secrets = {**sandbox_secrets(healthy_sandbox), "GitHub token": GITHUB_TOKEN, "bot token": BOT_TOKEN}
    for service in (github, telegram, receiver):
        assert leaked_secrets(service.bodies(), secrets) == []
    assert {r.headers["Authorization"] for r in github.requests} == {f"Bearer {GITHUB_TOKEN}"}
    for run_ in (first, second, third):
        assert leaked_secrets(run_.output.encode(), {"GitHub token": GITHUB_TOKEN, "bot token": BOT_TOKEN}) == []
        findings = json.dumps(run_.findings).encode()
        assert leaked_secrets(findings, {"GitHub token": GITHUB_TOKEN, "bot token": BOT_TOKEN}) == []


def test_a_refused_token_or_a_bad_repository_is_one_recorded_line_not_a_crash(healthy_sandbox, tmp_path):
    with fake_github("another-token") as github:
        env = {**suite_env(healthy_sandbox), "GITHUB_TOKEN": GITHUB_TOKEN, "GITHUB_REPOSITORY": "tsh/erp",
               "GITHUB_API_URL": github.url}  # fmt: skip
        refused = run_suite(healthy_sandbox, tmp_path / "refused", "-m", "staging", *CHECKS,
                            "--sandbox-fault", FAULT, env=env)  # fmt: skip
        env["GITHUB_REPOSITORY"] = "not a repository"
        malformed = run_suite(healthy_sandbox, tmp_path / "malformed", "-m", "staging", *CHECKS,
                              "--sandbox-fault", FAULT, env=env)  # fmt: skip
    assert refused.exit_code == malformed.exit_code == 1
    assert github.issues == {}
    [error] = refused.findings["incidents"]["errors"]
    assert error.startswith("GET /repos/tsh/erp/issues: GitHub answered 401")
    assert f"incidents: {error}" in refused.output
    assert malformed.findings["incidents"]["errors"] == ["GITHUB_REPOSITORY must be owner/name, got 'not a repository'"]
    assert GITHUB_TOKEN not in refused.output + malformed.output
