"""The remedies plugin: only wiring. Options, the recipe catalog, and two roles.

- :class:`remedies.classifier.Classifier`, registered in every process, puts
  each failure's kind, evidence and recipe on its test report;
- :class:`remedies.controller.RunController`, registered only on the xdist
  controller (the gate pattern of pytest's ``junitxml``), groups failures by
  root cause, heals, verifies and writes the reports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from fixtures.reporting import reports_dir
from fixtures.target import is_xdist_worker, runs_checks
from remedies.catalog import RecipeError, load_catalog
from remedies.classifier import Classifier
from remedies.controller import RunController
from remedies.verify import select_items

RECIPES_DIR = Path(__file__).parent / "recipes"


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
    group.addoption("--verify-outcomes", metavar="PATH", help=argparse.SUPPRESS)
    group.addoption("--verify-select", metavar="PATH", help=argparse.SUPPRESS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The verification re-run: keep the failed node ids (see :func:`remedies.verify.select_items`)."""
    path = config.getoption("verify_select", None)
    if not path:
        return
    selected = set(json.loads(Path(path).read_text(encoding="utf-8")))
    kept = select_items(selected, [item.nodeid for item in items])
    deselected = [item for item in items if item.nodeid not in kept]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item.nodeid in kept]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not runs_checks(config):
        return
    try:
        catalog = load_catalog(RECIPES_DIR)
    except RecipeError as error:
        raise pytest.UsageError(f"recipe catalog: {error}") from None
    known = catalog.ids()
    unknown = sorted(set(config.option.heal_approve) - set(known))
    if unknown:
        raise pytest.UsageError(f"--heal-approve: unknown recipe {', '.join(unknown)} (known: {', '.join(known)})")
    _default_report_paths(config, reports_dir(config))
    config.pluginmanager.register(Classifier(config, catalog), "tsh-remedies-classifier")
    if not is_xdist_worker(config):
        controller = RunController(config, catalog)
        config.pluginmanager.register(controller, "tsh-remedies-controller")
        config.pluginmanager.register(controller.html, "tsh-remedies-html-report")


def _default_report_paths(config: pytest.Config, directory: Path) -> None:
    """pytest-html, JUnit and Allure write under the reports folder unless told otherwise."""
    option = config.option
    if not getattr(option, "htmlpath", None):
        option.htmlpath = str(directory / "report.html")
        option.self_contained_html = True
    if not getattr(option, "xmlpath", None):
        option.xmlpath = str(directory / "junit.xml")
    if not getattr(option, "allure_report_dir", None):
        option.allure_report_dir = str(directory / "allure-results")
        option.clean_alluredir = True  # results of this run only
