"""Helpers for the remedies tests: a small target inventory and recipe files in a temp folder."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from fixtures.inventory import Inventory
from remedies.catalog import Catalog, Step, load_catalog, load_sql_library
from remedies.target_state import STATE_DIR_VARIABLE

SECRET = "s3cret-Hq81-never-logged"
PYTHON = sys.executable


def _redact(text: str) -> str:
    return text.replace(SECRET, "***")


@pytest.fixture(autouse=True)
def heal_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every target's state directory (heal lock, target ledger) lives under this test's tmp_path."""
    home = tmp_path / "heal-state"
    monkeypatch.setenv(STATE_DIR_VARIABLE, str(home))
    return home


@pytest.fixture
def secret() -> str:
    """A secret value the target holds; no output may contain it."""
    return SECRET


@pytest.fixture
def redact() -> Callable[[str], str]:
    """The redactor handed to the code under test: it masks the ``secret``."""
    return _redact


def _merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        both_tables = isinstance(value, dict) and isinstance(base.get(key), dict)
        merged[key] = _merge(base[key], value) if both_tables else value
    return merged


def make_inventory(**overrides: Any) -> Inventory:
    """A staging-like target named ``unit``; keyword tables override (and merge into) the defaults."""
    data = {
        "target": {"name": "unit", "kind": "staging"},
        "http": {"base_url": "http://erp.test", "timeout_seconds": 2.0},
        "webhooks": {"routes": [{"name": "invoices", "tds_entity": "invoice", "id_field": "invoice_id"}]},
        "database": {"url": f"postgresql://tsh:{SECRET}@127.0.0.1:9/tsh", "read_only": False},
        "services": {
            "app": {"binding": "command", "name": "app", "argv": [PYTHON, "-c", "print('app {operation}')"]},
            "worker": {"binding": "command", "name": "worker", "argv": [PYTHON, "-c", "print('worker {operation}')"]},
        },
        "commands": {
            "say": {"argv": [PYTHON, "-c", "print('fixed {entity}')"], "timeout_seconds": 30},
            "leak": {"argv": [PYTHON, "-c", f"print('token={SECRET}')"], "timeout_seconds": 30},
            "fail": {"argv": [PYTHON, "-c", "import sys; print('broken'); sys.exit(3)"], "timeout_seconds": 30},
        },
        "healing": {"approve": [], "max_risk_without_approval": "safe", "cooldown_minutes": 60, "max_rows": 500},
    }
    return Inventory.model_validate({**_merge(data, overrides), "source": Path("targets/unit.toml")})


@pytest.fixture
def inventory_factory() -> Callable[..., Inventory]:
    """``inventory_factory(**tables)``: the ``unit`` target with some tables overridden."""
    return make_inventory


@pytest.fixture
def inventory() -> Inventory:
    return make_inventory()


@pytest.fixture
def make_step() -> Callable[..., Step]:
    """``make_step(action=..., risk=..., ...)``: one validated step (SQL names from the shipped library)."""
    adapter: TypeAdapter[Step] = TypeAdapter(Step)
    library = load_sql_library()

    def make(**fields: Any) -> Step:
        return adapter.validate_python({"risk": "safe", **fields}, context={"sql_library": library})

    return make


@pytest.fixture
def shipped_catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def recipes_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``recipes/`` folder; the working directory is its parent, so messages say ``recipes/...``."""
    monkeypatch.chdir(tmp_path)
    directory = tmp_path / "recipes"
    directory.mkdir()
    return directory


@pytest.fixture
def write_recipe(recipes_dir: Path) -> Callable[..., Path]:
    """``write_recipe(name, body)`` writes ``recipes/<name>.toml`` from dedented TOML."""

    def write(name: str, body: str) -> Path:
        path = recipes_dir / f"{name}.toml"
        path.write_text(textwrap.dedent(body), encoding="utf-8")
        return path

    return write


@pytest.fixture
def recipe_text() -> Callable[..., str]:
    """``recipe_text(...)``: a valid recipe as TOML, see :func:`recipe_toml`."""
    return recipe_toml


def recipe_toml(
    recipe_id: str = "H90",
    key: str = "demo",
    *,
    nodeids: str = '["suites/api/test_demo.py::test_demo[*]"]',
    kinds: str = "[]",
    steps: str = '[[steps]]\naction = "manual"\ntext = "look at {entity}"\nrisk = "safe"\n',
    extra: str = "",
) -> str:
    """A valid recipe as TOML text, with the parts a test varies as arguments."""
    return (
        f'id = "{recipe_id}"\nkey = "{key}"\ntitle = "Demo"\nseverity = "error"\n'
        f'diagnosis = "{{check}} failed: {{kind}}"\nlikely_causes = ["a cause"]\nverification = "it passes"\n'
        f"{extra}\n[match]\nnodeids = {nodeids}\nkinds = {kinds}\n\n{steps}"
    )
