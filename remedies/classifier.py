"""The classifier: registered in every process, it puts each failure's finding on its test report.

A failed check's kind, title, evidence, parameters and recipe travel as one
plain-JSON user property, so they cross from an xdist worker to the
controller; every report's text is redacted before any reporter reads it, and
the rendered remedy is attached for Allure (the HTML report renders its own).
"""

from __future__ import annotations

import functools
import json

import allure
import pytest

from fixtures.failures import CheckFailed
from fixtures.redaction import redact_report_parts
from fixtures.target import TARGET_RUN, TargetRun
from remedies.analysis import Failure
from remedies.catalog import Catalog
from remedies.final_state import NODEID_LABEL
from remedies.render import Renderer

FAILURE_PROPERTY = "tsh_failure"


class RunPart:
    """A remedies role bound to the run: its target is read when first needed (the target plugin loads it)."""

    def __init__(self, config: pytest.Config, catalog: Catalog) -> None:
        self.config = config
        self.catalog = catalog

    @property
    def target_run(self) -> TargetRun:
        return self.config.stash[TARGET_RUN]

    @functools.cached_property
    def renderer(self) -> Renderer:
        return Renderer(self.catalog, self.target_run.inventory)


class Classifier(RunPart):
    # The innermost wrapper: the other plugins' wrappers (Allure's among them) read the report after it is masked.
    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        if report.failed:
            finding = self.classify(item, call, report)
            _title_the_crash(report, finding)
            report.user_properties.append((FAILURE_PROPERTY, json.dumps(finding)))
            self._attach_remedy(report, item.nodeid, finding)
            # On the item too: JUnit writes the properties of the item's last (teardown) report.
            item.user_properties.append((FAILURE_PROPERTY, json.dumps(finding)))
        redact_report_parts(report, self.target_run.redactor.redact)
        return report

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_make_collect_report(self, collector: pytest.Collector):
        report = yield
        redact_report_parts(report, self.target_run.redactor.redact)  # a collection error's traceback
        return report

    def classify(self, item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> dict:
        """The finding of a failed test: kind, message, evidence, parameters and recipe (all redacted)."""
        redactor = self.target_run.redactor
        error = call.excinfo.value if call.excinfo else None
        endpoint = None
        if isinstance(error, CheckFailed):
            kind, title, evidence, endpoint = error.kind, error.title, error.evidence, error.endpoint
        else:
            text = str(error).strip().splitlines()[0] if error is not None and str(error).strip() else ""
            kind = "timeout" if text.startswith("Timeout") else "error"
            title = f"{type(error).__name__}: {text}" if error is not None else f"failed in {report.when}"
            evidence = {"phase": report.when}
        callspec = getattr(item, "callspec", None)
        params = {key: _plain(value) for key, value in callspec.params.items()} if callspec else {}
        recipe = self.renderer.catalog.match(report.nodeid, kind)
        return {
            "kind": kind,
            "message": redactor.redact(title),
            "evidence": redactor.redact_data(evidence),
            "params": params,
            "recipe": recipe.id if recipe else None,
            "endpoint": redactor.redact(endpoint) if endpoint else None,
        }

    def _attach_remedy(self, report: pytest.TestReport, nodeid: str, finding: dict) -> None:
        failure = Failure(nodeid, finding["kind"], finding["params"], finding["evidence"])
        text = self.target_run.redactor.redact(self.renderer.remedy_text(failure, finding["recipe"]))
        allure.dynamic.label("recipe", finding["recipe"] or "none")
        allure.dynamic.label("failure_kind", finding["kind"])
        allure.attach(text, name="Remedy", attachment_type=allure.attachment_type.TEXT)

    @pytest.fixture(autouse=True)
    def _allure_labels(self, request: pytest.FixtureRequest) -> None:
        marks = {mark.name for mark in request.node.iter_markers()}
        allure.dynamic.label("target", self.target_run.inventory.name)
        allure.dynamic.label(NODEID_LABEL, request.node.nodeid)  # what the final state is written against
        for stage in sorted(marks & {"staging", "production"}):
            allure.dynamic.label("stage", stage)
        allure.dynamic.feature(request.node.path.parent.name)
        allure.dynamic.story(request.node.originalname)


def _title_the_crash(report: pytest.TestReport, finding: dict) -> None:
    """The short test summary's ``FAILED <nodeid> - …`` (and JUnit's failure message) reads the crash message:
    it becomes the finding's ``[kind] title``, not the exception's class path. Set on the report, so it
    crosses from an xdist worker as it is."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        crash.message = f"[{finding['kind']}] {finding['message']}"


def _plain(value):
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)
