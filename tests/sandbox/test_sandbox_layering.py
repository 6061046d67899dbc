"""The sandbox's layers, read from the source: its services never import their supervisor; facts.py is a leaf."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from sandbox.facts import PACKAGE_NAME, PACKAGE_ROOT

CONTROLLER = f"{PACKAGE_NAME}.controller"
SUPERVISED = sorted([*(PACKAGE_ROOT / "erp").rglob("*.py"), *(PACKAGE_ROOT / "zoho").rglob("*.py")])


def imported_modules(source: str, package: str) -> set[str]:
    """Every module an ``import`` or ``from ... import`` of ``source`` names, relative ones resolved from ``package``.

    ``from X import Y`` yields both ``X`` and ``X.Y``, since ``Y`` may be a module.
    """
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = str(node.module)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def imports_of(path: Path) -> set[str]:
    package = ".".join((PACKAGE_NAME, *path.relative_to(PACKAGE_ROOT).parent.parts))
    return imported_modules(path.read_text(encoding="utf-8"), package)


def names_controller(module: str) -> bool:
    return module == CONTROLLER or module.startswith(f"{CONTROLLER}.")


@pytest.mark.parametrize(
    "line",
    [
        "from ..controller import Sandbox",
        "from .. import controller",
        "import sandbox.controller",
        "from sandbox import controller as supervisor",
        "from sandbox.controller import Sandbox",
    ],
)
def test_every_way_of_importing_the_controller_is_seen(line: str) -> None:
    assert any(names_controller(module) for module in imported_modules(line, f"{PACKAGE_NAME}.erp"))


def test_the_supervised_modules_are_found() -> None:
    found = {str(path.relative_to(PACKAGE_ROOT)) for path in SUPERVISED}
    assert {"erp/admin.py", "erp/app.py", "zoho/app.py", "zoho/resync.py"} <= found
    assert f"{PACKAGE_NAME}.faults" in imports_of(PACKAGE_ROOT / "erp" / "admin.py")


@pytest.mark.parametrize("path", SUPERVISED, ids=lambda path: str(path.relative_to(PACKAGE_ROOT)))
def test_the_app_and_the_zoho_simulator_never_import_the_controller(path: Path) -> None:
    assert sorted(module for module in imports_of(path) if names_controller(module)) == []


def test_facts_is_a_leaf() -> None:
    own = sorted(
        module
        for module in imports_of(PACKAGE_ROOT / "facts.py")
        if module == PACKAGE_NAME or module.startswith(f"{PACKAGE_NAME}.")
    )
    assert own == []
