"""The HTML report as people see it: Debian's Chromium, headless, driven by selenium through Debian's chromedriver.

A failing run's report: the title names the target and the stage, the root-cause
section lists the root with its folded symptom and its recipe, the Remedy column
names the recipe, the failed row shows its finding first and its traceback only
on demand. A healed run's report: the verdict and the Final state say "healed and
verified" while the Result column still says Failed. No console errors on either.
No browser is downloaded: without /usr/bin/chromium and /usr/bin/chromedriver
(``./run`` installs both as root) the tests are skipped with that reason.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from expected import ENDPOINT_ERROR_FAULT as FAULT
from expected import ENDPOINT_ERROR_LATENCY as LATENCY
from expected import ENDPOINT_ERROR_OPERATION as SYMPTOM
from expected import ENDPOINT_ERROR_ROOT as ROOT

API_CHECKS = ["suites/api/test_bff_endpoints.py", "suites/api/test_openapi_operations.py"]
QUEUE_CHECKS = ["suites/sync/test_queue_health.py", "suites/sync/test_queue_processing.py", "suites/database"]
STUCK = "suites/sync/test_queue_health.py::test_no_item_stuck_in_processing"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Headless, and none of the background connections a closed network refuses.
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
]  # fmt: skip

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()) or shutil.which("chromium") is None,
    reason="Debian's chromium and chromium-driver are not installed (./run installs them as root)",
)


@pytest.fixture(scope="module")
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def open_report(browser, report: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(report.as_uri())
    first_row = (By.CSS_SELECTOR, "tbody.results-table-row")
    WebDriverWait(browser, 15).until(expected_conditions.presence_of_element_located(first_row))
    return By


def console_errors(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def row_of(browser, by, nodeid: str):
    return next(row for row in browser.find_elements(by.CSS_SELECTOR, "tbody.results-table-row")
                if row.find_element(by.CSS_SELECTOR, ".col-testId").text == nodeid)  # fmt: skip


def test_a_failing_run_shows_its_root_cause_remedy_and_finding_first(suite, browser):
    run = suite("-m", "staging", *API_CHECKS, "--sandbox-fault", FAULT)
    assert run.exit_code == 1, run.output
    by = open_report(browser, run.reports_dir / "report.html")

    assert browser.title == "TSH ERP staging checks: target sandbox (sandbox)"
    assert browser.find_element(by.CSS_SELECTOR, ".tsh-verdict").text == "3 failed (not healed: the run did not heal)"
    [root_row] = browser.find_elements(by.CSS_SELECTOR, "table.tsh-roots tr:not(:first-child)")
    cells = root_row.find_elements(by.TAG_NAME, "td")
    assert cells[0].text.startswith(ROOT + "\n[http_status] ")
    assert cells[2].text == "H35 API endpoint answers with a server error"
    assert cells[4].text == "failed"
    symptoms = cells[1].find_element(by.TAG_NAME, "details")
    assert symptoms.find_element(by.TAG_NAME, "summary").text == "2 symptoms"
    assert not symptoms.find_element(by.TAG_NAME, "li").is_displayed()  # folded until opened
    symptoms.find_element(by.TAG_NAME, "summary").click()
    assert sorted(item.text for item in symptoms.find_elements(by.TAG_NAME, "li")) == sorted([SYMPTOM, LATENCY])

    headers = [th.text for th in browser.find_elements(by.CSS_SELECTOR, "#results-table thead th")]
    assert headers[:4] == ["Result", "Test", "Remedy", "Final state"]
    row = row_of(browser, by, ROOT)
    assert row.find_element(by.CSS_SELECTOR, ".col-remedy").text == "H35 API endpoint answers with a server error"
    assert row.find_element(by.CSS_SELECTOR, ".col-final").text == "failed"
    finding = row.find_element(by.CSS_SELECTOR, ".tsh-finding")
    assert finding.find_element(by.TAG_NAME, "p").text.startswith("[http_status] GET ")
    assert "status" in [th.text for th in finding.find_elements(by.CSS_SELECTOR, "table th")]
    traceback = finding.find_element(by.CSS_SELECTOR, "details pre")
    assert not traceback.is_displayed()  # on demand only
    assert "inventory = Inventory(" not in row.text  # no fixture values
    assert console_errors(browser) == []


def test_a_healed_run_says_healed_and_verified_beside_the_original_failure(suite, browser):
    run = suite("-m", "staging", *QUEUE_CHECKS, "--sandbox-fault", "stuck-processing:3", "--heal")
    assert run.exit_code == 0, run.output
    by = open_report(browser, run.reports_dir / "report.html")

    assert browser.find_element(by.CSS_SELECTOR, ".tsh-verdict").text == "1 failed → 1 healed and verified"
    [root_row] = browser.find_elements(by.CSS_SELECTOR, "table.tsh-roots tr:not(:first-child)")
    assert root_row.find_elements(by.TAG_NAME, "td")[4].text == "failed, healed and verified"
    row = row_of(browser, by, STUCK)
    assert row.find_element(by.CSS_SELECTOR, ".col-result").text == "Failed"
    assert row.find_element(by.CSS_SELECTOR, ".col-final").text == "failed, healed and verified"
    assert console_errors(browser) == []
