"""The run controller: registered only on the xdist controller (or a run without xdist).

It gathers every failure's finding from the test reports, assigns root
causes, heals and verifies with ``--heal``, writes the report files and the
terminal section. Workers never write report files.
"""

from __future__ import annotations

import functools
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from _pytest import junitxml

from fixtures import kinds, progress
from fixtures.release import COMMIT_PROPERTY, head_commit_or_none
from fixtures.reporting import redact_files, reports_dir, run_records, write_text
from fixtures.target import TARGET_RUN
from remedies import reports
from remedies.analysis import Failure, assign_root_causes
from remedies.catalog import Catalog
from remedies.classifier import FAILURE_PROPERTY, RunPart
from remedies.final_state import annotate_allure, annotate_junit, annotate_junit_run
from remedies.healing import Healer, heal_failures
from remedies.html_report import HtmlReport
from remedies.incidents import (
    GitHubSettings,
    IncidentOutcome,
    IncidentSettingsError,
    IncidentTracker,
    remaining_root_causes,
)
from remedies.notify import Channels, send_notifications
from remedies.verify import rerun_checks

INTERRUPTED_NOTE = "the run was interrupted (SIGTERM or SIGINT): the reports say what it did until then"
STOPPED_NOTE = "the run was interrupted ({reason}): checks after the stop did not run"


class RunController(RunPart):
    def __init__(self, config: pytest.Config, catalog: Catalog) -> None:
        super().__init__(config, catalog)
        self.reports_dir = reports_dir(config)
        self.outcomes: dict[str, str] = {}
        self.failures: dict[str, Failure] = {}
        self.result: reports.RunResult | None = None
        self.write_errors: list[str] = []
        self.interrupted = False
        self.interrupted_note = ""  # why, when interrupted: a signal, or --maxfail / -x stopping the session
        self.session: pytest.Session | None = None
        self.ran_mutating_checks = False  # the run selected (and so consented to) checks that write
        self.started_at = datetime.now(UTC)
        self.incidents: IncidentOutcome | None = None
        self.html = HtmlReport(config, self)

    @functools.cached_property
    def commit(self) -> str | None:
        """The commit of the checkout the inventory names (``[code] source_dir``), for the reports; None without one."""
        return head_commit_or_none(self.target_run.inventory.code.source_dir)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # JUnit says which commit was checked too (a test-suite property), so a later gate can match a run by it.
        xml = self.config.stash.get(junitxml.xml_key, None)
        if xml is not None and TARGET_RUN in self.config.stash and self.commit:
            xml.add_global_property(COMMIT_PROPERTY, self.commit)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.ran_mutating_checks = self.ran_mutating_checks or "mutating" in report.keywords
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
            properties = dict(report.user_properties)
            if FAILURE_PROPERTY in properties and report.nodeid not in self.failures:
                self.failures[report.nodeid] = Failure(report.nodeid, **json.loads(properties[FAILURE_PROPERTY]))
        elif report.when == "call" or report.skipped:
            self.outcomes.setdefault(report.nodeid, "passed" if report.passed else "skipped")

    # --- the end of the run ------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        failures = sorted(self.failures.values(), key=lambda failure: failure.nodeid)
        assign_root_causes(failures, self.catalog, self.renderer.context)
        option = self.config.option
        if option.verify_outcomes:
            self._write(Path(option.verify_outcomes), json.dumps(self.outcomes, indent=2))
            return
        self.session = session
        # An interrupted run (SIGTERM, SIGINT) heals nothing: its checks did not all run.
        interrupted = exitstatus == pytest.ExitCode.INTERRUPTED
        wants_heal = (option.heal or option.heal_dry_run) and not interrupted
        heal = self._heal(failures) if wants_heal else None
        interrupted = interrupted or (heal is not None and heal.interrupted)
        # A session stopped early (--maxfail, -x, a plugin's session.shouldstop) is interrupted too: its
        # reports must not read as a full run. It keeps its exit status and heals what it found.
        stopped = session.shouldfail or session.shouldstop
        self.interrupted_note = (
            INTERRUPTED_NOTE if interrupted else STOPPED_NOTE.format(reason=stopped) if stopped else ""
        )
        signalled, interrupted = interrupted, interrupted or bool(stopped)
        inventory = self.target_run.inventory
        counts = list(self.outcomes.values())
        self.result = reports.RunResult(
            target=inventory.name,
            target_kind=inventory.target.kind,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            passed=counts.count("passed"),
            failed=counts.count("failed"),
            skipped=counts.count("skipped"),
            failures=failures,
            heal=heal,
        )
        self.interrupted = interrupted
        if not signalled:
            self.incidents = self._incidents_recorded(self.result)
        self.write_errors.extend(self.html.mark_final_states(failures))
        self._write_reports(self.result)
        if signalled:
            session.exitstatus = pytest.ExitCode.INTERRUPTED
        elif heal is not None and not heal.dry_run and failures:
            all_healed = self.result.healed == len(failures)
            session.exitstatus = pytest.ExitCode.OK if all_healed else pytest.ExitCode.TESTS_FAILED

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        # Allure's files are final now. Its failure messages come from the exception itself, not from the
        # masked report, so its results are masked once more, with the secrets every worker learned.
        run = config.stash.get(TARGET_RUN, None)  # None when the target could not be loaded
        if run is None:
            return
        failures = self.result.failures if self.result is not None else []
        if getattr(config.option, "xmlpath", None):
            annotate_junit(Path(config.option.xmlpath), failures)
            annotate_junit_run(Path(config.option.xmlpath), self._junit_run_properties())
        annotate_allure(Path(config.option.allure_report_dir), failures)
        redact_files(Path(config.option.allure_report_dir), run.redactor)
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        if self.result is not None and terminal is not None and not config.option.collectonly:
            # The last line of the run, after pytest's own "N failed in Xs": the verified final state.
            line = run.redactor.redact(self.verdict_line())
            good = self.session is not None and self.session.exitstatus == pytest.ExitCode.OK
            terminal.write_sep("=", line, green=good, red=not good, bold=True)

    def _heal(self, failures: list[Failure]):
        option = self.config.option
        run = self.target_run
        healer = Healer(
            run.inventory,
            approvals=set(option.heal_approve),
            dry_run=bool(option.heal_dry_run),
            reports_dir=self.reports_dir,
            redact=run.redactor.redact,
            ignore_cooldown=bool(option.heal_ignore_cooldown),
        )

        def rerun(nodeids: list[str]) -> dict[str, str]:
            progress.line(f"verifying: re-running {len(nodeids)} failed check(s) in a fresh pytest process ...")
            outcomes = rerun_checks(
                nodeids,
                target=run.inventory.source,
                reports_dir=self.reports_dir,
                post_probes=self.ran_mutating_checks or bool(option.post_probes),
            )
            passed = sum(1 for nodeid in nodeids if outcomes.get(nodeid) == "passed")
            progress.line(f"verified: {passed}/{len(nodeids)} re-run check(s) passed")
            return outcomes

        if failures:
            progress.line(f"healing {len(failures)} failure(s) on target {run.inventory.name} ...")

        outcome = heal_failures(failures, self.renderer.catalog, healer, rerun)
        self.write_errors.extend(healer.write_errors)
        return outcome

    def _incidents_recorded(self, result: reports.RunResult) -> IncidentOutcome | None:
        """Incidents and notifications; a defect in them is one recorded line, never a lost report."""
        try:
            return self._track_incidents(result)
        except Exception as error:  # the reports must be written whatever happened here
            problem = self.target_run.redactor.redact(f"incidents failed: {type(error).__name__}: {error}")
            return IncidentOutcome(configured=False, errors=[problem])

    def _track_incidents(self, result: reports.RunResult) -> IncidentOutcome | None:
        """GitHub issues for the root causes still failing (when configured), then notifications of the new ones."""
        environ = os.environ
        redactor = self.target_run.redactor
        redactor.learn(value for name in ("GITHUB_TOKEN", "TELEGRAM_BOT_TOKEN") if (value := environ.get(name)))
        catalog = self.renderer.catalog
        roots = remaining_root_causes(
            result.failures, self.renderer.title, lambda recipe: catalog.get(recipe).severity if recipe else "error"
        )
        markexpr = (self.config.option.markexpr or "").strip()
        stage = markexpr if markexpr in ("staging", "production") else result.target_kind
        outcome = IncidentOutcome(configured=False)
        try:
            settings = GitHubSettings.from_environ(environ)
        except IncidentSettingsError as error:
            outcome.errors.append(str(error))
            settings = None
        if settings is not None:
            healed = {failure.nodeid for failure in result.failures if failure.healed}
            tracker = IncidentTracker(
                settings, target=result.target, stage=stage, redact=redactor.redact, run_label=_run_label(result)
            )
            outcome = tracker.track(roots, self.outcomes, healed)
        channels = Channels.from_environ(environ)
        if channels is not None:
            announced = {action["nodeid"] for action in outcome.opened}
            news = [root for root in roots if not outcome.configured or root.failure.nodeid in announced]
            messages = [
                (f"TSH ERP {stage} {result.target}: {root.title}",
                 f"{root.failure.nodeid} failed ({root.failure.kind}): {root.failure.message}"
                 + (f"; explains {len(root.symptoms)} more" if root.symptoms else ""))
                for root in news
            ]  # fmt: skip
            if messages:
                outcome.errors.extend(send_notifications(channels, messages, redactor.redact))
        if not outcome.configured and not outcome.errors and channels is None:
            return None
        return outcome

    def _metric_lines(self) -> list[str]:
        records = run_records(self.config)
        return records.metric_lines() if records else []

    def _write_reports(self, result: reports.RunResult) -> None:
        findings = json.loads(reports.findings_json(result, self.renderer))
        findings["interrupted"] = self.interrupted
        findings["commit"] = self.commit
        if self.interrupted:
            findings["interrupted_reason"] = self.interrupted_note
        if self.incidents is not None:
            findings["incidents"] = self.incidents.as_json()
        records = run_records(self.config)
        if records is not None:
            findings.update({name: dict(sorted(counts.items())) for name, counts in sorted(records.metrics.items())})
        files = {
            "findings.json": json.dumps(findings, indent=2, default=str) + "\n",
            "auto_healing_suggestions.txt": self._text_note() + reports.suggestions_text(result, self.renderer),
            "summary.md": reports.markdown_summary(result, self.renderer)
            + "".join(f"\n{line}\n" for line in self._metric_lines())
            + (f"\n**{self.interrupted_note}**\n" if self.interrupted else ""),
        }
        if result.heal is not None:
            stamp = result.finished_at.strftime("%Y%m%d_%H%M%S")
            files[f"healing/healing_report_{stamp}.txt"] = self._text_note() + reports.healing_report_text(result)
        for name, text in files.items():
            self._write(self.reports_dir / name, text)
        allure_dir = Path(self.config.option.allure_report_dir)
        interrupted = (
            f"run.interrupted=true\nrun.interrupted.reason={self.interrupted_note}\n" if self.interrupted else ""
        )
        self._write(allure_dir / "environment.properties", reports.allure_environment(result) + interrupted)
        self._write(allure_dir / "categories.json", json.dumps(kinds.allure_categories(), indent=2))
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            self._append(Path(step_summary), files["summary.md"])

    def _write(self, path: Path, text: str) -> None:
        try:
            write_text(path, text, self.target_run.redactor.redact)
        except OSError as error:
            self.write_errors.append(f"{path}: {error.strerror or error}")

    def _append(self, path: Path, text: str) -> None:
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(self.target_run.redactor.redact(text))
        except OSError as error:
            self.write_errors.append(f"{path}: {error.strerror or error}")

    def _text_note(self) -> str:
        """The head of a text report of an interrupted run: ``INTERRUPTED: <why>``."""
        return f"INTERRUPTED: {self.interrupted_note}\n\n" if self.interrupted else ""

    def _junit_run_properties(self) -> dict[str, str]:
        properties = {"tsh_interrupted": "true" if self.interrupted else "false"}
        if self.interrupted:
            properties["tsh_interrupted_reason"] = self.interrupted_note
        if self.result is not None:
            properties["tsh_verdict"] = self.verdict_line()
        return properties

    def verdict_line(self) -> str:
        """The run's last terminal line: what failed, what was healed and verified, why the rest was not."""
        exit_code = int(self.session.exitstatus) if self.session is not None else None
        return reports.verdict_line(self.result, self.interrupted_note if self.interrupted else "", exit_code)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.result is None:
            return
        result = self.result
        write = terminalreporter.write_line
        terminalreporter.section("TSH ERP remedies")
        write(f"target {result.target}: {result.passed} passed, {result.failed} failed, {result.healed} healed")
        if self.interrupted:
            write(self.interrupted_note, red=True)
        for line in self._metric_lines():
            write(line)
        for line in self.incidents.lines() if self.incidents else []:
            write(line)
        for failure in result.failures:
            recipe = failure.recipe or "NO RECIPE"
            cause = f" (root cause: {failure.root_cause})" if failure.root_cause else ""
            healed = {None: "", True: " [healed]", False: " [not healed]"}[failure.healed]
            write(f"{failure.nodeid}: {failure.kind} -> {recipe}{cause}{healed}")
        for line in reports.root_cause_lines(result, self.renderer):
            write(line)
        if result.heal is not None:
            write("healing plan" + (" (dry run, nothing changed):" if result.heal.dry_run else ":"))
            for line in reports.heal_lines(result.heal) or ["nothing to do"]:
                write(f"  {line}")
        write(f"reports: {self.reports_dir}")
        records = run_records(self.config)
        for error in [*self.write_errors, *(records.write_errors if records else [])]:
            write(f"could not write {error}", red=True)


def _run_label(result: reports.RunResult) -> str:
    """``the run of <UTC time>``, with its GitHub Actions URL when it runs there."""
    label = f"the run of {result.finished_at:%Y-%m-%d %H:%M} UTC"
    names = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    server, repository, run_id = (os.environ.get(name) for name in names)
    if server and repository and run_id and run_id.isdigit():
        label += f" ({server.rstrip('/')}/{repository}/actions/runs/{run_id})"
    return label
