"""The sandbox's release: a signed source checkout, the staging run of its commit, and the two release faults."""

from __future__ import annotations

import json
import subprocess

from sandbox import Sandbox
from sandbox.release import RELEASE_TAG


def git(sandbox: Sandbox, *args: str) -> str:
    source = sandbox.home / "source"
    return subprocess.run(["git", *args], cwd=source, check=True, capture_output=True, text=True, timeout=30).stdout


def staging_run(sandbox: Sandbox) -> dict:
    return json.loads((sandbox.home / "staging" / "findings.json").read_text(encoding="utf-8"))


def test_release_faults_change_the_checkout_and_the_staging_run_and_reset_takes_them_back(sandbox: Sandbox) -> None:
    head = git(sandbox, "rev-parse", "HEAD").strip()
    assert git(sandbox, "log", "--format=%H %G?").split() == [head, "G"]  # signed, and verified by the checkout
    assert git(sandbox, "rev-parse", RELEASE_TAG).strip() == head
    assert (staging_run(sandbox)["commit"], staging_run(sandbox)["failures"]) == (head, [])

    sandbox.apply_fault("unsigned-commit")
    sandbox.apply_fault("staging-failed")
    assert sorted(sandbox.faults()) == ["staging-failed", "unsigned-commit"]
    new_head = git(sandbox, "rev-parse", "HEAD").strip()
    assert git(sandbox, "log", "--format=%H %G?").split() == [new_head, "N", head, "G"]
    run = staging_run(sandbox)
    assert run["commit"] == new_head
    assert [f["healed"] for f in run["failures"]] == [False, False, True]

    sandbox.reset()
    assert sandbox.faults() == []
    assert git(sandbox, "rev-parse", "HEAD").strip() == head
    assert (staging_run(sandbox)["commit"], staging_run(sandbox)["failures"]) == (head, [])
