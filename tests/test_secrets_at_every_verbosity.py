"""No secret reaches the terminal or any artifact, at the loudest settings pytest offers.

Every output channel is switched on: ``-v`` or ``-vv``, DEBUG logs captured, shown live and
written to a log file, locals in tracebacks (``-l``), long tracebacks, every
outcome's summary line (``-rA``), captured output in the JUnit XML, and Allure
results in the reports folder. The target demands longer secrets than the
sandbox's env file holds, so failing configuration checks hold real env-file
values in their locals.
"""

from __future__ import annotations

import pytest
from suite_runner import assert_no_secret_in, run_suite

from fixtures.inventory import PROJECT_ROOT

LOUDEST = (
    "--log-level=DEBUG",
    "-l",
    "--tb=long",
    "-rA",
    "-o",
    "junit_logging=all",
)
CONFIG_CHECK = "suites/config/test_env_file.py::test_required_variable_is_set_and_valid"


def loud(reports, verbosity="-vv"):
    """LOUDEST at ``verbosity``, with the Allure results and a DEBUG log file inside ``reports``."""
    return (
        verbosity,
        *LOUDEST,
        f"--alluredir={reports / 'allure-results'}",
        f"--log-file={reports / 'debug.log'}",
        "--log-file-level=DEBUG",
    )


def demanding_target(tmp_path):
    """The sandbox target, with minimum lengths its env file's secrets do not reach."""
    text = (PROJECT_ROOT / "targets" / "sandbox.toml").read_text(encoding="utf-8")
    lengths = "{ SECRET_KEY = 32, JWT_SECRET_KEY = 32 }"
    assert lengths in text
    text = text.replace(
        lengths, "{ SECRET_KEY = 32, JWT_SECRET_KEY = 200, POSTGRES_PASSWORD = 200, ZOHO_CLIENT_SECRET = 200 }"
    )
    path = tmp_path / "demanding.toml"
    path.write_text(text, encoding="utf-8")
    return path


# -v shortens long reprs of locals and arguments (a secret may be cut off); -vv shows them whole.
@pytest.mark.parametrize("verbosity", ["-v", "-vv"])
def test_a_failing_run_at_full_verbosity_shows_no_secret(healthy_sandbox, tmp_path, verbosity):
    reports = tmp_path / "reports"
    run = run_suite(
        healthy_sandbox,
        reports,
        "-m",
        "staging",
        f"--target={demanding_target(tmp_path)}",
        "--sandbox-fault",
        "secret-placeholder:SECRET_KEY",
        "--sandbox-fault",
        "webhook-error:invoices",
        "-o",
        "log_cli=true",
        "--log-cli-level=DEBUG",
        *loud(reports, verbosity),
    )
    assert run.exit_code == 1, run.output
    failed = run.failed()
    for variable in ("SECRET_KEY", "JWT_SECRET_KEY", "POSTGRES_PASSWORD", "ZOHO_CLIENT_SECRET"):
        assert f"{CONFIG_CHECK}[{variable}]" in failed
    assert any("[invoices]" in nodeid for nodeid in failed)
    # The loud settings took effect: debug records, locals and Allure attachments were written.
    assert "DEBUG" in run.output and "Captured log" in run.output
    assert "variable   = 'JWT_SECRET_KEY'" in run.output  # -l shows the check's locals
    assert list((reports / "allure-results").glob("*-attachment.txt"))
    assert (reports / "debug.log").stat().st_size > 0
    assert_no_secret_in(run, healthy_sandbox)


def test_a_healing_run_at_full_verbosity_shows_no_secret(healthy_sandbox, tmp_path):
    reports = tmp_path / "reports"
    run = run_suite(
        healthy_sandbox,
        reports,
        "-m",
        "staging",
        "-n",
        "2",
        "--sandbox-fault",
        "worker-down",
        "--heal",
        *loud(reports),
    )
    assert run.exit_code == 0, run.output
    assert run.findings["summary"]["healed"] > 0
    assert [e for e in run.ledger() if e["decision"] == "run"]
    assert list((reports / "healing").glob("healing_report_*.txt"))
    assert_no_secret_in(run, healthy_sandbox)
