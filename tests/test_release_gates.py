"""The pre-deploy gates in the whole production stage, run against the sandbox as production.

The sandbox's source checkout is the deployed code: its commits are signed with the
sandbox's throwaway SSH key, and the sandbox publishes the passed staging run of its
commit. The healthy stage passes both gates and the debug-statement gate, and records
the commit in findings.json and JUnit; each release fault fails exactly its gate.
"""

from __future__ import annotations

import functools
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from production_stage import passed, table_fingerprints

from fixtures.failures import CheckFailed
from fixtures.inventory import GatesSettings
from fixtures.release import StagingRun, read_staging_run

GATES = "suites/gates/test_release_gates.py"
STAGING = f"{GATES}::test_staging_run_of_the_deployed_commit_passed"
SIGNED = f"{GATES}::test_release_commits_are_signed"
DEBUG = "suites/code/test_code_gates.py::test_no_debug_statement_in_application_code"


def head(sandbox) -> str:
    source = sandbox.home / "source"
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=source, capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()  # fmt: skip


@contextmanager
def serving(directory: Path) -> Iterator[str]:
    """The files of ``directory`` over HTTP on loopback; the base URL."""
    handler = functools.partial(QuietFiles, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_healthy_release_passes_every_gate_and_its_commit_is_recorded_and_matched_from_a_junit_url(
    production, healthy_sandbox
):
    before = table_fingerprints(healthy_sandbox)
    commit = head(healthy_sandbox)
    run = production("-rA")
    assert run.exit_code == 0, run.output
    assert {STAGING, SIGNED, DEBUG} <= passed(run)
    assert run.findings["commit"] == commit
    junit = ET.parse(run.reports_dir / "junit.xml").getroot()  # noqa: S314 -- the suite's own file
    assert [p.get("value") for p in junit.iter("property") if p.get("name") == "tsh_commit"] == [commit]

    # --staging-findings replaces the inventory's file: its staging run now fails, the passed JUnit run
    # of the same commit (fetched from a URL with the bounded client) is the one that counts.
    healthy_sandbox.apply_fault("staging-failed")
    with serving(run.reports_dir) as url:
        rerun = production(f"--staging-findings={url}/junit.xml", "-rA")
    assert rerun.exit_code == 0, rerun.output
    assert STAGING in passed(rerun)
    assert table_fingerprints(healthy_sandbox) == before


# fault -> {node id: (kind, recipe, root cause)} of the whole production stage
RELEASE_FAULTS = {
    "unsigned-commit": {SIGNED: ("unsigned", "H48", None)},
    "staging-failed": {STAGING: ("gate", "H47", None)},
}


@pytest.mark.parametrize("fault", list(RELEASE_FAULTS))
def test_release_fault_fails_exactly_its_gate_in_the_whole_production_stage(production, healthy_sandbox, fault):
    signed = head(healthy_sandbox)
    healthy_sandbox.apply_fault(fault)
    assert healthy_sandbox.faults() == [fault]
    run = production()
    assert run.exit_code == 1, run.output
    assert run.outcomes() == RELEASE_FAULTS[fault]
    if fault == "unsigned-commit":
        assert run.evidence(SIGNED) == {
            "range": "HEAD", "checked": 2, "count": 1, "commits": [f"{head(healthy_sandbox)} N"],
            "statuses": {"N": "no signature"},
        }  # fmt: skip
        assert run.findings["commit"] == head(healthy_sandbox) != signed
    else:
        assert run.evidence(STAGING) == {
            "commit": signed,
            "findings_source": str(healthy_sandbox.home / "staging" / "findings.json"),
            "unhealed_count": 2,
            "failed_nodeids": [
                "suites/webhooks/test_webhook_delivery.py::test_webhook_accepts_and_records_event[invoices]",
                "suites/sync/test_queue_processing.py::test_probe_event_reaches_completed[invoices]",
            ],
        }
    assert "H47" in run.output or "H48" in run.output


# --- reading a staging run ------------------------------------------------------------------

SETTINGS = GatesSettings(timeout_seconds=5, max_body_bytes=4096)
JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
<properties><property name="tsh_commit" value="abc123"/></properties>
<testcase classname="suites.api.test_health" name="test_health_answers[app]"/>
<testcase classname="suites.sync.test_queue_health" name="test_no_item_stuck_in_processing">
  <properties><property name="tsh_final_state" value="failed, healed and verified"/></properties>
  <failure message="[stuck]"/></testcase>
<testcase classname="suites.webhooks.test_webhook_delivery" name="test_webhook_accepts_and_records_event[invoices]">
  <properties><property name="tsh_final_state" value="failed, not healed: no recipe"/></properties>
  <failure message="[timeout]"/></testcase>
</testsuite></testsuites>
"""


def test_a_junit_staging_run_gives_its_commit_and_the_failures_not_healed(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(JUNIT, encoding="utf-8")
    assert read_staging_run(str(path), SETTINGS) == StagingRun(
        source=str(path),
        format="junit",
        commit="abc123",
        unhealed=["suites/webhooks/test_webhook_delivery.py::test_webhook_accepts_and_records_event[invoices]"],
        failures=2,
    )


@pytest.mark.parametrize(
    ("content", "kind", "title"),
    [
        (None, "gate", "no staging run found: the staging findings file does not exist"),
        ("not json", "contract", "the staging findings are neither JSON nor JUnit XML"),
        ('{"commit": "abc"}', "contract", "the staging findings hold no list of failures with node ids"),
        ("x" * 5000, "contract", "the staging findings file is larger than the cap"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><x/>', "contract", "the staging JUnit file declares a DTD or entities"),
    ],
    ids=["absent", "not json", "no failures list", "over the cap", "entities"],
)
def test_an_absent_or_unreadable_staging_run_is_a_typed_failure(tmp_path, content, kind, title):
    path = tmp_path / "findings.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CheckFailed) as failure:
        read_staging_run(str(path), SETTINGS)
    assert (failure.value.kind, failure.value.title) == (kind, title)


def test_a_staging_url_that_answers_404_is_a_missing_staging_run(tmp_path):
    with serving(tmp_path) as url, pytest.raises(CheckFailed) as failure:
        read_staging_run(f"{url}/findings.json", SETTINGS)
    assert (failure.value.kind, failure.value.title) == (
        "gate", "no staging run found: the staging findings URL answers 404",
    )  # fmt: skip
