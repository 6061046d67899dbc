"""The HTML report people read: pytest-html as the engine, shaped through its hooks.

- the title and header name the target and the stage;
- at the top, one row per root cause: its symptoms folded under it, the recipe,
  the decisive evidence and the heal outcome, under a verdict line
  (``19 failed → 19 healed and verified``);
- a Remedy and a Final state column: after ``--heal``, a healed row reads
  "failed, healed and verified" (the original failure stays in the Result column);
- each failed check shows its title and evidence first; where it failed and
  the captured output are folded, and no fixture values are shown (a
  ``CheckFailed`` is a finding, not a crash).

Registered on the controller only, next to :class:`remedies.controller.RunController`,
whose failures and result it renders. The final state is written into
pytest-html's row data at the end of the run, before pytest-html renders the file.
"""

from __future__ import annotations

import html
import json
import re
from typing import TYPE_CHECKING, Any

import pytest
from pytest_html.basereport import BaseReport

from remedies.analysis import Failure, explained_by, roots
from remedies.classifier import RunPart
from remedies.final_state import final_state
from remedies.render import evidence_summary

if TYPE_CHECKING:
    from remedies.controller import RunController
    from remedies.reports import RunResult

STYLE = """<style>
.tsh-verdict{font-size:1.15em;font-weight:bold;margin:.6em 0;color:#111}
.tsh-verdict.ok{color:#0a6b2d}.tsh-verdict.bad{color:#a40e0e}
table.tsh-roots{border-collapse:collapse;margin:.4em 0 1.2em;width:100%}
table.tsh-roots th,table.tsh-roots td{border:1px solid #999;padding:4px 6px;text-align:left;vertical-align:top;
color:#111}
table.tsh-roots th{background:#e8e8e8}
.tsh-state-healed{color:#0a6b2d;font-weight:bold}.tsh-state-failed{color:#a40e0e;font-weight:bold}
.tsh-finding{white-space:normal;font-family:sans-serif;color:#111}
.tsh-finding table{border-collapse:collapse}.tsh-finding td,.tsh-finding th{border:1px solid #bbb;padding:2px 6px;
text-align:left;vertical-align:top;font-family:monospace;white-space:pre-wrap;color:#111}
.tsh-finding pre{white-space:pre-wrap;color:#111;background:#f4f4f4;padding:4px}
.remedy pre{color:#111}
</style>"""
EVIDENCE_VALUE_CHARS = 400
TRACEBACK_SOURCE_LINES = 6
STATE_CLASS = "col-final"
_FINAL_CELL = re.compile(rf'<td class="{STATE_CLASS}[^"]*">.*?</td>', re.S)


def stage_of(config: pytest.Config, target_kind: str) -> str:
    """``staging`` / ``production`` when the run selected that stage, else the target's kind."""
    markexpr = (config.option.markexpr or "").strip()
    return markexpr if markexpr in ("staging", "production") else target_kind


def verdict(result: RunResult) -> str:
    """``19 failed → 19 healed and verified`` / ``3 failed → 1 healed and verified, 2 not healed`` / ``42 passed``."""
    if not result.failures:
        return f"{result.passed} passed, nothing failed"
    failed = len(result.failures)
    if result.heal is None or result.heal.dry_run:
        return f"{failed} failed (not healed: the run did not heal)"
    healed = result.healed
    rest = failed - healed
    return f"{failed} failed → {healed} healed and verified" + (f", {rest} not healed" if rest else "")


class HtmlReport(RunPart):
    def __init__(self, config: pytest.Config, controller: RunController) -> None:
        super().__init__(config, controller.catalog)
        self.controller = controller

    # --- the page's head and summary ------------------------------------------------------

    def pytest_html_report_title(self, report) -> None:
        inventory = self.target_run.inventory
        stage = stage_of(self.config, inventory.target.kind)
        report.title = f"TSH ERP {stage} checks: target {inventory.name} ({inventory.target.kind})"

    def pytest_html_results_summary(self, prefix: list, summary: list, postfix: list) -> None:
        result = self.controller.result
        if result is None:
            return
        good = all(failure.healed for failure in result.failures)
        css = "ok" if good else "bad"
        interrupted = " (the run was interrupted)" if self.controller.interrupted else ""
        prefix.append(STYLE)
        prefix.append(f'<p class="tsh-verdict {css}">{html.escape(verdict(result) + interrupted)}</p>')
        if result.failures:
            prefix.append(self._root_cause_table(result))

    def _root_cause_table(self, result: RunResult) -> str:
        rows = []
        for root in roots(result.failures):
            symptoms = explained_by(root, result.failures)
            folded = "none"
            if symptoms:
                items = "".join(f"<li>{html.escape(symptom.nodeid)}</li>" for symptom in symptoms)
                count = f"{len(symptoms)} symptom" + ("s" if len(symptoms) > 1 else "")
                folded = f"<details><summary>{count}</summary><ul>{items}</ul></details>"
            text, css = final_state(root)
            rows.append(
                "<tr>"
                f"<td><b>{html.escape(root.nodeid)}</b><br>[{html.escape(root.kind)}] {html.escape(root.message)}</td>"
                f"<td>{folded}</td><td>{html.escape(self.renderer.title(root.recipe))}</td>"
                f"<td>{html.escape(evidence_summary(root.evidence))}</td>"
                f'<td class="{css}">{html.escape(text)}</td>'
                "</tr>"
            )
        head = "<tr><th>Root cause</th><th>Symptoms</th><th>Recipe</th><th>Decisive evidence</th><th>Heal</th></tr>"
        return f'<h2>Root causes</h2><table class="tsh-roots">{head}{"".join(rows)}</table>'

    # --- the results table ------------------------------------------------------------------

    def pytest_html_results_table_header(self, cells: list) -> None:
        cells.insert(2, '<th class="sortable" data-column-type="remedy">Remedy</th>')
        cells.insert(3, "<th>Final state</th>")

    def pytest_html_results_table_row(self, report: pytest.TestReport, cells: list) -> None:
        failure = self.controller.failures.get(report.nodeid) if report.failed else None
        label = self.renderer.title(failure.recipe) if failure is not None else ""
        cells.insert(2, f'<td class="col-remedy">{html.escape(label)}</td>')
        text, css = final_state(failure) if report.failed else ("", "")
        cells.insert(3, f'<td class="{STATE_CLASS} {css}">{html.escape(text)}</td>')

    def pytest_html_results_table_html(self, report: pytest.TestReport, data: list) -> None:
        failure = self.controller.failures.get(report.nodeid) if report.failed else None
        if failure is None:
            return
        data[:] = [self._finding_html(failure, report)]

    def _finding_html(self, failure: Failure, report: pytest.TestReport) -> str:
        evidence = "".join(
            f"<tr><th>{html.escape(str(key))}</th><td>{html.escape(_shown(value))}</td></tr>"
            for key, value in failure.evidence.items()
        )
        parts = [
            '<div class="tsh-finding">',
            f"<p><b>[{html.escape(failure.kind)}] {html.escape(failure.message)}</b></p>",
            f"<table>{evidence}</table>" if evidence else "",
            f'<div class="remedy"><pre>{html.escape(self._remedy(failure))}</pre></div>',
            f"<details><summary>Where it failed</summary><pre>{html.escape(short_traceback(report))}</pre></details>",
        ]
        captured = "\n".join(f"--- {header} ---\n{content}" for header, content in report.sections)
        if captured:
            parts.append(f"<details><summary>Captured output</summary><pre>{html.escape(captured)}</pre></details>")
        parts.append("</div>")
        return "".join(parts)

    def _remedy(self, failure: Failure) -> str:
        return self.target_run.redactor.redact(self.renderer.remedy_text(failure, failure.recipe))

    # --- the end of the run -------------------------------------------------------------------

    def mark_final_states(self, failures: list[Failure]) -> list[str]:
        """Write each failure's final state into pytest-html's rows; returns problems (never raises)."""
        plugins = [plugin for plugin in self.config.pluginmanager.get_plugins() if isinstance(plugin, BaseReport)]
        if not plugins:
            return []
        try:
            tests = plugins[0]._report.data["tests"]  # pytest-html 4's row store: node id -> rows
        except (AttributeError, KeyError, TypeError):
            return ["the HTML report's rows could not be updated with the final state (pytest-html changed)"]
        for failure in failures:
            text, css = final_state(failure)
            cell = f'<td class="{STATE_CLASS} {css}">{html.escape(text)}</td>'
            for row in tests.get(failure.nodeid, []):
                row["resultsTableRow"] = [_FINAL_CELL.sub(cell, value) for value in row.get("resultsTableRow", [])]
        return []


def short_traceback(report: pytest.TestReport) -> str:
    """Where the check failed: the file and line, and the last source lines of that frame (no fixture values)."""
    longrepr = report.longrepr
    chain = getattr(longrepr, "chain", None)
    traceback = chain[-1][0] if chain else getattr(longrepr, "reprtraceback", None)
    entries = getattr(traceback, "reprentries", None)
    if not entries:
        crash = getattr(longrepr, "reprcrash", None)
        return f"{crash.path}:{crash.lineno}" if crash is not None else ""
    entry = entries[-1]
    location = getattr(entry, "reprfileloc", None)
    lines = [line for line in getattr(entry, "lines", []) if not line.startswith("E ")]
    where = f"{location.path}:{location.lineno}" if location is not None else ""
    return "\n".join([where, *lines[-TRACEBACK_SOURCE_LINES:]]).strip()


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= EVIDENCE_VALUE_CHARS else text[: EVIDENCE_VALUE_CHARS - 1] + "…"
