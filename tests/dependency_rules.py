"""The README's dependency rules, as data, and a checker that reads imports with ``ast``.

The folders are not all packages (``suites/`` is a tree of pytest modules), so
the rules are checked on the source itself rather than on an import graph.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# layer (top folder) -> top-level packages it must never import
FORBIDDEN = {
    "suites": {"remedies", "sandbox"},
    "remedies": {"suites", "sandbox"},
    "fixtures": {"remedies", "suites", "sandbox"},
    "sandbox": {"fixtures", "remedies", "suites"},
}
# (file, package): the one place outside tests/ that may import the sandbox
ALLOWED = {("fixtures/sandbox_target.py", "sandbox")}


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    imported: str

    def __str__(self) -> str:
        layer = self.file.split("/", 1)[0]
        return f"{self.file}:{self.line}: {layer}/ must not import {self.imported}"


def imported_packages(source: str) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``source``, those inside functions included."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(root: Path) -> list[Violation]:
    """Every import under ``root`` that breaks a rule, in file and line order."""
    found = []
    for layer, forbidden in FORBIDDEN.items():
        for path in sorted((root / layer).rglob("*.py")):
            file = path.relative_to(root).as_posix()
            for line, package in imported_packages(path.read_text(encoding="utf-8")):
                if package in forbidden and (file, package) not in ALLOWED:
                    found.append(Violation(file, line, package))
    return found
