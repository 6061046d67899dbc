"""Benchmark of the code stage on a repository of realistic size (not a test).

Generates a git checkout of 600 files (typed Python modules in an ``app``
package, ``requirements.txt``, the owners' tool configuration), then runs the
code stage against a minimal inventory pointing at it, several times, each in
its own pytest process:

  .venv/bin/python bench/bench_code.py [--repeat N] [--files N] [--warm] [--keep DIR] [--json PATH] [-- PYTEST_ARGS]

It prints each run's wall time, the median and the worst, and each gate's own
time. Every run starts with empty tool caches (black's, mypy's, pip-audit's),
as on a fresh CI machine, unless ``--warm`` keeps them between runs. The
checkout is clean, so every gate passes (pip-audit is skipped with its reason
where its advisory service cannot be reached).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DOMAINS = [
    "inventory", "sales", "purchasing", "accounting", "payroll", "crm",
    "zoho", "tds", "reports", "gps", "commissions", "transfers",
]  # fmt: skip
LAYERS = ["models", "schemas", "services", "routers", "repositories", "tasks", "validators"]
REQUIREMENTS = """\
fastapi==0.115.6
pydantic==2.10.4
sqlalchemy==2.0.36
httpx==0.28.1
uvicorn==0.34.0
alembic==1.14.0
"""
PYPROJECT = """\
[project]
name = "tsh-erp-bench"
version = "1.0.0"
requires-python = ">=3.11"

[tool.black]
line-length = 100

[tool.ruff]
line-length = 100

[tool.mypy]
python_version = "3.11"
warn_unused_ignores = true
"""

MODULE = '''\
"""{domain_title} {layer} ({index}): records, their rules and the service that keeps them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from app.{domain}.{base} import {base_class}

logger = logging.getLogger(__name__)

STATUSES = ("draft", "open", "settled", "void")


@dataclass
class {cls}:
    """One {domain} {layer} record as the ERP stores it."""

    record_id: str
    amount: Decimal
    status: str = "draft"
    tags: list[str] = field(default_factory=list)
    updated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def is_open(self) -> bool:
        return self.status == "open"

    def settle(self) -> None:
        if self.status not in ("draft", "open"):
            raise ValueError(f"{{self.record_id}}: cannot settle a {{self.status}} record")
        self.status = "settled"
        self.updated_at = datetime.now(UTC)


class {cls}Service:
    """Keeps {cls} records in memory for one request."""

    def __init__(self, base: {base_class} | None = None) -> None:
        self.base = base
        self.records: dict[str, {cls}] = {{}}

    def add(self, record: {cls}) -> {cls}:
        if record.status not in STATUSES:
            raise ValueError(f"unknown status {{record.status!r}}")
        self.records[record.record_id] = record
        logger.debug("added %s", record.record_id)
        return record

    def total(self, status: str | None = None) -> Decimal:
        amounts = [r.amount for r in self.records.values() if status is None or r.status == status]
        return sum(amounts, Decimal(0))

    def open_ids(self) -> list[str]:
        return sorted(r.record_id for r in self.records.values() if r.is_open())

    def settle_all(self) -> int:
        settled = 0
        for record in self.records.values():
            if record.is_open():
                record.settle()
                settled += 1
        return settled


def summarize_{function}(records: list[{cls}]) -> dict[str, int]:
    """Counts per status, every status present."""
    counts = dict.fromkeys(STATUSES, 0)
    for record in records:
        counts[record.status] += 1
    return counts


def parse_{function}(payload: dict[str, object]) -> {cls}:
    """A record from a webhook payload; amounts are strings in Zoho's JSON."""
    record_id = str(payload["id"])
    amount = Decimal(str(payload.get("amount", "0")))
    status = str(payload.get("status", "draft"))
    tags = [str(tag) for tag in payload.get("tags", []) or []]  # type: ignore[attr-defined]
    return {cls}(record_id=record_id, amount=amount, status=status, tags=tags)
'''

BASE = '''\
"""Shared base of the {domain} package."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class {base_class}:
    """Where {domain} records come from."""

    organization_id: str
    currency: str = "IQD"

    def label(self) -> str:
        return f"{{self.organization_id}} ({{self.currency}})"
'''


def generate(root: Path, files: int) -> int:
    """Write a checkout of ``files`` files under ``root`` and commit it; returns the number of files."""
    root.mkdir(parents=True, exist_ok=True)
    written = 0

    def write(name: str, text: str) -> None:
        nonlocal written
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written += 1

    write("README.md", "# TSH ERP (benchmark copy)\n\nGenerated modules shaped like the ERP's backend.\n")
    write("pyproject.toml", PYPROJECT)
    write("requirements.txt", REQUIREMENTS)
    write(".gitignore", ".venv/\n__pycache__/\n.mypy_cache/\n")
    write("app/__init__.py", '"""The ERP backend package."""\n')
    per_domain = (files - written - 2 * len(DOMAINS)) // len(DOMAINS)
    extra = (files - written - 2 * len(DOMAINS)) % len(DOMAINS)
    for number, domain in enumerate(DOMAINS):
        base_class = f"{domain.title()}Source"
        write(f"app/{domain}/__init__.py", f'"""The {domain} domain."""\n')
        write(f"app/{domain}/base.py", BASE.format(domain=domain, base_class=base_class))
        for index in range(per_domain + (1 if number < extra else 0)):
            layer = LAYERS[index % len(LAYERS)]
            cls = f"{domain.title()}{layer.title()}{index}"
            text = MODULE.format(
                domain=domain,
                domain_title=domain.title(),
                layer=layer,
                index=index,
                base="base",
                base_class=base_class,
                cls=cls,
                function=f"{layer}_{index}",
            )
            write(f"app/{domain}/{layer}_{index}.py", text)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@tsh.invalid", "-c", "commit.gpgsign=false"]
    for command in (
        ["git", "init", "--quiet", "--initial-branch=develop"],
        ["git", "add", "--all"],
        ["git", *identity, "commit", "--quiet", "--message", "Benchmark checkout"],
    ):
        subprocess.run(command, cwd=root, check=True, capture_output=True, timeout=120)
    return written


INVENTORY = """\
# A minimal inventory for the code stage: only [code] is used; the rest is required by the model.
[target]
name = "bench-code"
kind = "staging"

[http]
base_url = "http://127.0.0.1:9"

[database]
url = "postgresql://bench@127.0.0.1:9/bench"

[[webhooks.routes]]
name = "products"
tds_entity = "product"
id_field = "item_id"

[code]
source_dir = "{source}"
app_paths = ["app"]
requirements = ["requirements.txt"]
timeout_seconds = 300
"""


def run_stage(target: Path, reports: Path, cache: Path, extra: list[str]) -> tuple[float, int, str]:
    """One code stage in its own pytest process; ``cache`` is its XDG cache (black's, mypy's, pip-audit's)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TSH_"))}
    env["XDG_CACHE_HOME"] = str(cache)
    command = [
        sys.executable, "-m", "pytest", "suites/code", "-m", "code", "-p", "no:cacheprovider", "-rs",
        f"--target={target}", f"--reports-dir={reports}", *extra,
    ]  # fmt: skip
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - started, completed.returncode, completed.stdout + completed.stderr


def gate_seconds(junit: Path) -> dict[str, float]:
    """Each check's gate run time, from the ``gate_seconds`` properties of junit.xml."""
    tree = ET.parse(junit)  # noqa: S314 (written by the run just measured)
    return {
        case.get("name", ""): float(prop.get("value", "0"))
        for case in tree.iter("testcase")
        for prop in case.iter("property")
        if prop.get("name") == "gate_seconds"
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="Runs of the code stage (median reported)")
    parser.add_argument("--files", type=int, default=600, help="Files in the generated checkout")
    parser.add_argument(
        "--warm", action="store_true", help="Keep the tools' caches between runs (default: every run starts cold)"
    )
    parser.add_argument("--keep", type=Path, help="Generate the checkout here and keep it")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file")
    parser.add_argument("pytest_args", nargs="*", help="Extra pytest arguments, after -- (e.g. -- -n 2)")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tsh-bench-code-") as scratch:
        work = options.keep or Path(scratch)
        source = work / "source"
        count = generate(source, options.files)
        target = work / "bench-code.toml"
        target.write_text(INVENTORY.format(source=source), encoding="utf-8")
        runs = []
        for number in range(options.repeat):
            cache = work / ("cache" if options.warm else f"cache{number}")
            seconds, code, output = run_stage(target, work / f"reports{number}", cache, options.pytest_args)
            runs.append((seconds, code))
            print(f"run {number + 1}: {seconds:.1f} s, exit {code}", flush=True)
        last = work / f"reports{options.repeat - 1}"
        findings = json.loads((last / "findings.json").read_text(encoding="utf-8"))
        per_gate = gate_seconds(last / "junit.xml")
    for line in output.splitlines():
        if line.startswith(("SKIPPED", "FAILED")):
            print(line)
    print(
        "gate seconds (last run): " + ", ".join(f"{name.removeprefix('test_')} {s:g}" for name, s in per_gate.items())
    )
    figures = {
        "files": count,
        "runs": options.repeat,
        "caches": "warm" if options.warm else "cold",
        "median_s": round(statistics.median(s for s, _ in runs), 2),
        "max_s": round(max(s for s, _ in runs), 2),
        "exit_codes": sorted({c for _, c in runs}),
        "summary": findings["summary"],
        "gate_seconds": per_gate,
    }
    print(
        f"code stage on {count} files ({figures['caches']} caches): median {figures['median_s']} s, "
        f"max {figures['max_s']} s over {options.repeat} runs, exit {figures['exit_codes']}, {figures['summary']}"
    )
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if figures["exit_codes"] == [0] else 1


if __name__ == "__main__":
    raise SystemExit(main())
