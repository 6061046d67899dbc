"""Adding a check with a new failure kind, its recipe and its sandbox fault is a five-file change.

In a copy of the tree, the files of ``tests/adding_a_check/`` are added as a new
engineer would (the README's "Adding a check" lists the same files), the new
test runs against a sandbox of that copy, and the copy's git status shows which
files were touched.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from suite_runner import suite_env

from fixtures.inventory import PROJECT_ROOT

TEMPLATES = PROJECT_ROOT / "tests" / "adding_a_check"
NEW_KIND = '    BLANK_NAMES = "blank_names", "customers without a name"\n'
EXPECTED_FILES = [
    "fixtures/kinds.py",
    "remedies/recipes/H95_blank_customer_names.toml",
    "sandbox/faults/data.py",
    "suites/database/test_customer_names.py",
    "tests/test_customer_names.py",
]


def _git(copy, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=copy, capture_output=True, text=True, check=True).stdout


def _copy_of_the_tree(destination):
    tracked = _git(PROJECT_ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, tracked):
        source = PROJECT_ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    _git(destination, "init", "-q")
    _git(destination, "add", "-A")
    _git(destination, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "tree")


def test_a_new_check_kind_recipe_and_fault_touch_five_files_and_work(tmp_path):
    copy = tmp_path / "tree"
    _copy_of_the_tree(copy)
    kinds = copy / "fixtures" / "kinds.py"
    text = kinds.read_text(encoding="utf-8")
    kinds.write_text(text.replace('    ERROR = "error"', NEW_KIND + '    ERROR = "error"'), encoding="utf-8")
    faults = copy / "sandbox" / "faults" / "data.py"
    faults.write_text(faults.read_text(encoding="utf-8") + (TEMPLATES / "fault.py.txt").read_text(), encoding="utf-8")
    shutil.copy(TEMPLATES / "check.py.txt", copy / "suites" / "database" / "test_customer_names.py")
    shutil.copy(TEMPLATES / "recipe.toml.txt", copy / "remedies" / "recipes" / "H95_blank_customer_names.toml")
    shutil.copy(TEMPLATES / "its_test.py.txt", copy / "tests" / "test_customer_names.py")

    changed = sorted(line[3:] for line in _git(copy, "status", "--porcelain", "-uall").splitlines())
    assert changed == EXPECTED_FILES

    # The new test runs in the copy; its sandbox comes from the copy, so it knows the new fault.
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_customer_names.py", "-p", "no:cacheprovider", "-q"],
        cwd=copy, env=suite_env(), capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "1 passed" in completed.stdout
