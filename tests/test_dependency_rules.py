"""The layers import only what the README's "Layout and dependency rules" allow."""

from __future__ import annotations

import shutil

from dependency_rules import FORBIDDEN, violations

from fixtures.inventory import PROJECT_ROOT


def test_the_tree_keeps_every_dependency_rule():
    assert [str(v) for v in violations(PROJECT_ROOT)] == []


def test_a_wrong_import_is_reported_with_file_line_and_rule(tmp_path):
    for layer in FORBIDDEN:
        shutil.copytree(PROJECT_ROOT / layer, tmp_path / layer, ignore=shutil.ignore_patterns("__pycache__"))
    check = tmp_path / "suites" / "api" / "test_health.py"
    check.write_text(check.read_text(encoding="utf-8") + "\n\ndef _late():\n    from remedies import plugin\n")
    sandbox_module = tmp_path / "sandbox" / "worker.py"
    sandbox_module.write_text("import fixtures.inventory\n" + sandbox_module.read_text(encoding="utf-8"))
    lines = len(check.read_text(encoding="utf-8").splitlines())
    assert [str(v) for v in violations(tmp_path)] == [
        f"suites/api/test_health.py:{lines}: suites/ must not import remedies",
        "sandbox/worker.py:1: sandbox/ must not import fixtures",
    ]


def test_only_the_sandbox_target_fixture_may_import_the_sandbox(tmp_path):
    for layer in FORBIDDEN:
        shutil.copytree(PROJECT_ROOT / layer, tmp_path / layer, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "fixtures" / "http.py").write_text("from sandbox import Sandbox\n")
    assert [str(v) for v in violations(tmp_path)] == ["fixtures/http.py:1: fixtures/ must not import sandbox"]
