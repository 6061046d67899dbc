"""No secret value reaches any artifact, even when a secret sits in a URL the checks report."""

from __future__ import annotations

from suite_runner import DB_PASSWORD, assert_no_secret_in, run_suite, suite_env

from fixtures.inventory import PROJECT_ROOT

EXPECTED_ARTIFACTS = {
    "report.html",
    "junit.xml",
    "findings.json",
    "auto_healing_suggestions.txt",
    "summary.md",
    "healing/ledger.jsonl",
}


def leaky_target(tmp_path):
    """The sandbox target, with the DB password inside the health URL's userinfo."""
    text = (PROJECT_ROOT / "targets" / "sandbox.toml").read_text(encoding="utf-8")
    text = text.replace(
        'app = "${TSH_SANDBOX_BASE_URL}"',
        'app = "http://probe:${TSH_SANDBOX_DB_PASSWORD}@${TSH_SANDBOX_HOSTPORT}"',
    )
    path = tmp_path / "leaky.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_no_artifact_contains_a_secret(healthy_sandbox, tmp_path):
    env = suite_env(healthy_sandbox)
    env["TSH_SANDBOX_DB_PASSWORD"] = DB_PASSWORD
    env["TSH_SANDBOX_HOSTPORT"] = healthy_sandbox.base_url.removeprefix("http://")
    reports = tmp_path / "reports"
    run = run_suite(
        healthy_sandbox,
        reports,
        "-m",
        "staging",
        f"--target={leaky_target(tmp_path)}",
        "--sandbox-fault",
        "backend-down",
        "--sandbox-fault",
        "webhook-error:invoices",
        "--sandbox-fault",
        "zoho-auth-invalid",
        "--heal",
        "--heal-approve",
        "H13",
        env=env,
    )
    failures = run.findings["failures"]
    assert failures, run.output  # the run failed, so evidence was written
    # The zoho-auth-invalid failures must not show the Zoho simulator's OAuth client and refresh token.
    assert any(f["kind"] == "zoho_auth" for f in failures)
    files = [path for path in reports.rglob("*") if path.is_file()]
    written = {str(path.relative_to(reports)) for path in files}
    assert written >= EXPECTED_ARTIFACTS
    assert any(name.startswith("healing/healing_report_") for name in written)
    assert any(name.startswith("allure-results/") for name in written)
    # The health URL carried the password, so the redactor had something to mask.
    assert "http://probe:***@" in (reports / "findings.json").read_text(encoding="utf-8")
    assert_no_secret_in(run, healthy_sandbox)
