"""The remedies plugin: failed checks to recipes, root causes, reports and ``--heal``.

Workers classify each failure (kind, evidence, recipe) onto the test report as
plain values; only the xdist controller groups failures, heals, verifies and
writes the report files.
"""

from __future__ import annotations

import argparse
import html
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import allure
import pytest
from pytest_html import extras as html_extras

from fixtures import kinds
from fixtures.failures import CheckFailed
from fixtures.target import TARGET_RUN, runs_checks
from remedies import reports
from remedies.analysis import Failure, assign_root_causes, roots
from remedies.catalog import RecipeError, load_catalog
from remedies.healing import Healer, HealingLocked
from remedies.verify import VerificationError, rerun_checks

RECIPES_DIR = Path(__file__).parent / "recipes"
FAILURE_PROPERTY = "tsh_failure"
# Checks carry run-wide figures and report-file lines on their reports; the controller sums and writes them.
METRICS_PROPERTY = "tsh_metrics"  # json {"name": {"key": number}}: summed per name and key
REPORT_LINE_PROPERTY = "tsh_report_line"  # json {"file", "line", "tally"?: "passed"|"failed"}
REMEDIES = pytest.StashKey["RemediesPlugin"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tsh-remedies", "TSH ERP remedies and healing")
    group.addoption(
        "--heal", action="store_true", help="Run the safe steps of each failure's recipe, then re-run the failed checks"
    )
    group.addoption(
        "--heal-approve",
        action="append",
        default=[],
        metavar="RECIPE_ID",
        help="Approve the guarded steps of a recipe for this run (repeatable)",
    )
    group.addoption("--heal-dry-run", action="store_true", help="Print the exact healing plan and change nothing")
    group.addoption("--reports-dir", default="reports", metavar="DIR", help="Where report files go (default: reports)")
    group.addoption("--verify-outcomes", metavar="PATH", help=argparse.SUPPRESS)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not runs_checks(config):
        return
    try:
        catalog = load_catalog(RECIPES_DIR)
    except RecipeError as error:
        raise pytest.UsageError(f"recipe catalog: {error}") from None
    known = sorted(recipe.id for recipe in catalog)
    unknown = sorted(set(config.option.heal_approve) - set(known))
    if unknown:
        raise pytest.UsageError(f"--heal-approve: unknown recipe {', '.join(unknown)} (known: {', '.join(known)})")
    reports_dir = Path(config.option.reports_dir)
    if not reports_dir.is_absolute():
        reports_dir = Path(config.invocation_params.dir) / reports_dir
    _default_report_paths(config, reports_dir)
    plugin = RemediesPlugin(config, catalog, reports_dir)
    config.stash[REMEDIES] = plugin
    config.pluginmanager.register(plugin, "tsh-remedies")


def _default_report_paths(config: pytest.Config, reports_dir: Path) -> None:
    """pytest-html, JUnit and Allure write under the reports folder unless told otherwise."""
    option = config.option
    if not getattr(option, "htmlpath", None):
        option.htmlpath = str(reports_dir / "report.html")
        option.self_contained_html = True
    if not getattr(option, "xmlpath", None):
        option.xmlpath = str(reports_dir / "junit.xml")
    if not getattr(option, "allure_report_dir", None):
        option.allure_report_dir = str(reports_dir / "allure-results")
        option.clean_alluredir = True  # results of this run only


class RemediesPlugin:
    def __init__(self, config: pytest.Config, catalog, reports_dir: Path) -> None:
        self.config = config
        self.catalog = catalog
        self.reports_dir = reports_dir
        self.is_controller = not hasattr(config, "workerinput")
        self.outcomes: dict[str, str] = {}
        self.failures: dict[str, Failure] = {}
        self.result: reports.RunResult | None = None
        self.write_errors: list[str] = []
        self.started_at = datetime.now(UTC)
        self.metrics: dict[str, dict[str, float]] = {}
        self.report_lines: dict[str, set[str]] = {}
        self.tallies: dict[str, dict[str, str]] = {}

    @property
    def target_run(self):
        return self.config.stash[TARGET_RUN]

    # --- every process: classify failures onto the report --------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if report.failed:
            failure = self._classify(item, call, report)
            report.user_properties.append((FAILURE_PROPERTY, json.dumps(failure)))
            self._redact_report(report)
            self._attach_remedy(report, failure)
        return report

    def _classify(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> dict:
        redactor = self.target_run.redactor
        error = call.excinfo.value if call.excinfo else None
        if isinstance(error, CheckFailed):
            kind, title, evidence = error.kind, error.title, error.evidence
        else:
            text = str(error).strip().splitlines()[0] if error is not None and str(error).strip() else ""
            kind = "timeout" if text.startswith("Timeout") else "error"
            title = f"{type(error).__name__}: {text}" if error is not None else f"failed in {report.when}"
            evidence = {"phase": report.when}
        params = (
            {key: _plain(value) for key, value in getattr(item, "callspec", None).params.items()}
            if hasattr(item, "callspec")
            else {}
        )
        recipe = self.catalog.match(report.nodeid, kind)
        return {
            "kind": kind,
            "message": redactor.redact(title),
            "evidence": redactor.redact_data(evidence),
            "params": params,
            "recipe": recipe.id if recipe else None,
        }

    def _redact_report(self, report: pytest.TestReport) -> None:
        redactor = self.target_run.redactor
        text = str(report.longrepr)
        if redactor.redact(text) != text:
            report.longrepr = redactor.redact(text)
        report.sections = [(title, redactor.redact(content)) for title, content in report.sections]

    def _attach_remedy(self, report: pytest.TestReport, failure: dict) -> None:
        text = self._remedy_text(failure)
        extras = getattr(report, "extras", [])
        extras.append(html_extras.html(f'<div class="remedy"><pre>{html.escape(text)}</pre></div>'))
        report.extras = extras
        allure.dynamic.label("recipe", failure["recipe"] or "none")
        allure.dynamic.label("failure_kind", failure["kind"])
        allure.attach(text, name="Remedy", attachment_type=allure.attachment_type.TEXT)

    def _remedy_text(self, failure: dict) -> str:
        if failure["recipe"] is None:
            return f"No recipe matches this failure (kind {failure['kind']}). It needs a human and a new recipe."
        recipe = self.catalog.get(failure["recipe"])
        params = failure["params"]
        steps = [
            f"  {n}. {reports.describe_step(recipe, step, params)} ({step.risk})"
            for n, step in enumerate(recipe.steps, 1)
        ]
        return "\n".join(
            [
                f"{recipe.id} {recipe.title} ({recipe.severity})",
                f"Diagnosis: {recipe.render(recipe.diagnosis, params)}",
                "Likely causes: " + "; ".join(recipe.likely_causes),
                "Steps:",
                *steps,
                f"Verification: {recipe.render(recipe.verification, params)}",
            ]
        )

    @pytest.fixture(autouse=True)
    def _allure_labels(self, request: pytest.FixtureRequest) -> None:
        marks = {mark.name for mark in request.node.iter_markers()}
        allure.dynamic.label("target", self.target_run.inventory.name)
        for stage in sorted(marks & {"staging", "production"}):
            allure.dynamic.label("stage", stage)
        area = request.node.path.parent.name
        allure.dynamic.feature(area)
        allure.dynamic.story(request.node.originalname)

    # --- controller: collect, analyse, heal, write ---------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.is_controller:
            return
        if report.failed:
            self.outcomes[report.nodeid] = "failed"
            properties = dict(report.user_properties)
            if FAILURE_PROPERTY in properties and report.nodeid not in self.failures:
                data = json.loads(properties[FAILURE_PROPERTY])
                self.failures[report.nodeid] = Failure(report.nodeid, **data)
        elif report.when == "call" or report.skipped:
            self.outcomes.setdefault(report.nodeid, "passed" if report.passed else "skipped")
        if report.when == "teardown":  # holds every property the check added
            self._collect_properties(report)

    def _collect_properties(self, report: pytest.TestReport) -> None:
        for name, value in report.user_properties:
            if name == METRICS_PROPERTY:
                for metric, counts in json.loads(value).items():
                    totals = self.metrics.setdefault(metric, {})
                    for key, number in counts.items():
                        totals[key] = totals.get(key, 0) + number
            elif name == REPORT_LINE_PROPERTY:
                entry = json.loads(value)
                self.report_lines.setdefault(entry["file"], set()).add(entry["line"])
                if entry.get("tally"):
                    self.tallies.setdefault(entry["file"], {})[entry["line"]] = entry["tally"]

    def pytest_html_results_table_header(self, cells: list) -> None:
        cells.insert(2, '<th class="sortable" data-column-type="remedy">Remedy</th>')

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list) -> None:
        failure = self.failures.get(report.nodeid)
        if failure is None or not report.failed:
            label = ""
        elif failure.recipe:
            label = f"{failure.recipe} {self.catalog.get(failure.recipe).title}"
        else:
            label = "no recipe"
        cells.insert(2, f'<td class="col-remedy">{html.escape(label)}</td>')

    def pytest_html_results_summary(self, prefix: list, summary: list, postfix: list) -> None:
        if self.result is not None and self.result.heal is not None:
            lines = reports.heal_lines(self.result.heal) or ["nothing to do"]
            items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
            prefix.append(f"<h2>Healing</h2><ul>{items}</ul>")

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.is_controller:
            return
        failures = sorted(self.failures.values(), key=lambda failure: failure.nodeid)
        assign_root_causes(failures, self.catalog)
        if self.config.option.verify_outcomes:
            self._write(Path(self.config.option.verify_outcomes), json.dumps(self.outcomes, indent=2))
            return
        heal = self._heal(failures) if (self.config.option.heal or self.config.option.heal_dry_run) else None
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
        self._write_reports(self.result)
        if heal is not None and not heal.dry_run and failures:
            session.exitstatus = (
                pytest.ExitCode.OK if self.result.healed == len(failures) else pytest.ExitCode.TESTS_FAILED
            )

    def _heal(self, failures: list[Failure]) -> reports.HealOutcome:
        option = self.config.option
        run = self.target_run
        outcome = reports.HealOutcome(dry_run=bool(option.heal_dry_run))
        healer = Healer(
            run.inventory,
            approvals=set(option.heal_approve),
            dry_run=outcome.dry_run,
            reports_dir=self.reports_dir,
            redact=run.redactor.redact,
        )
        selected = [(self.catalog.get(root.recipe), root.params) for root in roots(failures) if root.recipe]
        try:
            outcome.steps = healer.execute(healer.plan(selected))
        except HealingLocked as error:
            outcome.refused = str(error)
        if outcome.dry_run:
            return outcome
        repaired = {
            planned.recipe_id
            for planned, result in outcome.steps
            # A heal "ran" only when a step that changes the target succeeded.
            if planned.decision == "run" and result.status == "ok" and not planned.diagnostic
        }
        self._verify(failures, repaired)
        return outcome

    def _verify(self, failures: list[Failure], repaired: set[str]) -> None:
        by_id = {failure.nodeid: failure for failure in failures}
        to_rerun = []
        for failure in failures:
            root = by_id[failure.root_cause] if failure.root_cause else failure
            if root.recipe in repaired:
                to_rerun.append(failure)
            else:
                failure.healed = False
                failure.heal_note = "no repairing step ran for its recipe" if root.recipe else "no recipe"
        if not to_rerun:
            return
        try:
            outcomes = rerun_checks(
                [failure.nodeid for failure in to_rerun],
                target=self.target_run.inventory.source,
                reports_dir=self.reports_dir,
            )
        except VerificationError as error:
            outcomes = {}
            note = f"verification failed: {error}"
        else:
            note = ""
        for failure in to_rerun:
            result = outcomes.get(failure.nodeid, "not run")
            failure.healed = result == "passed"
            failure.heal_note = note or f"re-run {result}"

    def _write_reports(self, result: reports.RunResult) -> None:
        catalog = self.catalog
        findings = json.loads(reports.findings_json(result, catalog))
        findings.update({name: dict(sorted(counts.items())) for name, counts in sorted(self.metrics.items())})
        files = {
            "findings.json": json.dumps(findings, indent=2, default=str) + "\n",
            "auto_healing_suggestions.txt": reports.suggestions_text(result, catalog),
            "summary.md": reports.markdown_summary(result, catalog) + self._metrics_markdown(),
        }
        for name, lines in self.report_lines.items():
            files[name] = "\n".join([*sorted(lines), *self._tally_lines(name)]) + "\n"
        if result.heal is not None:
            stamp = result.finished_at.strftime("%Y%m%d_%H%M%S")
            files[f"healing/healing_report_{stamp}.txt"] = reports.healing_report_text(result)
        allure_dir = Path(self.config.option.allure_report_dir)
        for name, text in files.items():
            self._write(self.reports_dir / name, text)
        self._write(allure_dir / "environment.properties", reports.allure_environment(result))
        self._write(allure_dir / "categories.json", json.dumps(kinds.allure_categories(), indent=2))
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if step_summary:
            self._append(Path(step_summary), files["summary.md"])

    def _metrics_lines(self) -> list[str]:
        """``zoho_calls: books 8, inventory 0, oauth 1``: one line per summed metric."""
        return [
            f"{name}: " + ", ".join(f"{key} {number:g}" for key, number in sorted(counts.items()))
            for name, counts in sorted(self.metrics.items())
        ]

    def _metrics_markdown(self) -> str:
        return "".join(f"\n{line}\n" for line in self._metrics_lines())

    def _tally_lines(self, name: str) -> list[str]:
        tally = list(self.tallies.get(name, {}).values())
        return [f"SUMMARY: Passed: {tally.count('passed')}/{len(tally)}"] if tally else []

    def _write(self, path: Path, text: str) -> None:
        try:
            reports.write_text(path, text, self.target_run.redactor.redact)
        except OSError as error:
            self.write_errors.append(f"{path}: {error.strerror or error}")

    def _append(self, path: Path, text: str) -> None:
        try:
            with path.open("a", encoding="utf-8") as handle:
                handle.write(self.target_run.redactor.redact(text))
        except OSError as error:
            self.write_errors.append(f"{path}: {error.strerror or error}")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.is_controller or self.result is None:
            return
        result = self.result
        write = terminalreporter.write_line
        terminalreporter.section("TSH ERP remedies")
        write(f"target {result.target}: {result.passed} passed, {result.failed} failed, {result.healed} healed")
        for line in self._metrics_lines():
            write(line)
        for failure in result.failures:
            recipe = failure.recipe or "NO RECIPE"
            cause = f" (root cause: {failure.root_cause})" if failure.root_cause else ""
            healed = {None: "", True: " [healed]", False: " [not healed]"}[failure.healed]
            write(f"{failure.nodeid}: {failure.kind} -> {recipe}{cause}{healed}")
        if result.heal is not None:
            write("healing plan" + (" (dry run, nothing changed):" if result.heal.dry_run else ":"))
            for line in reports.heal_lines(result.heal) or ["nothing to do"]:
                write(f"  {line}")
        write(f"reports: {self.reports_dir}")
        for error in self.write_errors:
            write(f"could not write {error}", red=True)


def _plain(value):
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
