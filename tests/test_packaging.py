"""The project installs its dependencies only: no generic top-level name (fixtures, remedies, sandbox…) in
site-packages; the code runs from the checkout. ``./run`` refuses an unsupported Python in one line."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from fixtures.inventory import PROJECT_ROOT

DISTRIBUTION = "tsh-erp-verification"
CHECKOUT_PACKAGES = ("fixtures", "remedies", "sandbox", "suites", "targets", "tests", "bench")


def test_pyproject_installs_no_module_of_the_checkout():
    document = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    setuptools = document["tool"]["setuptools"]
    assert setuptools["packages"] == [] and setuptools["py-modules"] == []
    assert "package-data" not in setuptools and "packages.find" not in json.dumps(setuptools)


def _editable_install_from_an_older_pyproject(distribution: importlib.metadata.Distribution) -> bool:
    """The venv still holds the editable install an older pyproject.toml made (``./run`` replaces it)."""
    direct_url = json.loads(distribution.read_text("direct_url.json") or "{}")
    stamp = Path(sys.prefix) / ".installed-from"
    current = hashlib.sha256((PROJECT_ROOT / "pyproject.toml").read_bytes()).hexdigest()
    installed_from = stamp.read_text(encoding="utf-8").strip() if stamp.is_file() else None
    return bool(direct_url.get("dir_info", {}).get("editable")) and installed_from != current


def test_site_packages_holds_no_generic_top_level_name():
    distribution = installed_distribution()
    if _editable_older():
        pytest.skip("this venv was installed from an older pyproject.toml (editable); ./run reinstalls it")
    if distribution is not None:
        top_level = (distribution.read_text("top_level.txt") or "").split()
        assert top_level == []
        files = [str(path) for path in distribution.files or []]
        assert [name for name in files if not name.startswith(f"{DISTRIBUTION.replace('-', '_')}-")] == []
    for directory in map(Path, site.getsitepackages()):
        assert [name for name in CHECKOUT_PACKAGES if (directory / name).exists()] == [], directory
        for pth in directory.glob("*.pth"):
            text = pth.read_text(encoding="utf-8", errors="replace")
            assert str(PROJECT_ROOT) not in text and "tsh_erp" not in text, pth


def test_the_code_runs_from_the_checkout_not_from_site_packages():
    import fixtures
    import remedies
    import sandbox

    # `python -m sandbox` from the checkout (the sandbox's processes start there too).
    completed = subprocess.run(
        [sys.executable, "-m", "sandbox", "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    if _editable_older():
        pytest.skip("this venv was installed from an older pyproject.toml (editable); ./run reinstalls it")
    for module in (fixtures, remedies, sandbox):  # remedies is a namespace package: its __path__ says where
        assert [path for path in module.__path__ if not Path(path).resolve().is_relative_to(PROJECT_ROOT)] == []
    # Anywhere else the checkout's packages are not importable: nothing of them is installed.
    elsewhere = subprocess.run(
        [sys.executable, "-I", "-c", "import importlib.util, sys; "
         "sys.exit(any(importlib.util.find_spec(n) for n in ('fixtures', 'remedies', 'sandbox')))"],
        cwd="/", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert elsewhere.returncode == 0, elsewhere.stderr


def installed_distribution() -> importlib.metadata.Distribution | None:
    """The distribution installed in site-packages (not build metadata a checkout on sys.path may hold)."""
    return next(iter(importlib.metadata.distributions(name=DISTRIBUTION, path=site.getsitepackages())), None)


def _editable_older() -> bool:
    distribution = installed_distribution()
    return distribution is not None and _editable_install_from_an_older_pyproject(distribution)


def test_run_refuses_an_old_python_in_one_line(tmp_path):
    # A copy of ./run with no venv beside it, and a python3 on PATH that is 3.9.
    shutil.copy(PROJECT_ROOT / "run", tmp_path / "run")
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text("#!/bin/sh\necho 3.9.2\nexit 1\n", encoding="utf-8")
    fake.chmod(0o755)
    completed = subprocess.run(
        ["bash", str(tmp_path / "run"), "test"], capture_output=True, text=True, timeout=60,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert completed.stderr == f"./run: Python 3.11 or newer is required (found 3.9.2 at {fake})\n"
