"""Benchmark of the Zoho checks at scale against the embedded sandbox (not a test).

  .venv/bin/python bench/bench_zoho_scale.py [--items 2218 20000 100000] [--repeat 3] [--json PATH]
                                            [--books-per-minute 100]

For each item count, the sandbox's ERP gets that many products (each with its
Zoho item id) and the Zoho simulator reloads them, so parity holds; then the
item checks of the Zoho stage run (``suites/zoho -m staging -k items``: count
parity pages through every item, freshness reads the newest one). Reported per
count: wall time and peak RSS of the pytest process, the Books API calls the
run made against the pagination minimum (ceil(items / per_page) + 1), and
calls per minute against the limiter.

Zoho Books allows 100 requests a minute per organization; at that limit
100,000 items (500 pages) cannot be read in under five minutes by anyone.
``--books-per-minute`` raises the simulator's window and the suite's limiter
together (written into a copy of the sandbox inventory), so the suite's own
cost is measured apart from the rate limit.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: the project's packages

from fixtures.inventory import PROJECT_ROOT
from sandbox import Sandbox, default_home
from sandbox.zoho.app import RELOAD_PATH

PER_PAGE = 200
SANDBOX_TARGET = PROJECT_ROOT / "targets" / "sandbox.toml"
# Products the bench adds: ids far from the seed's, one second apart, so the newest is unique.
_ADD_PRODUCTS = """
INSERT INTO products (zoho_item_id, name, sku, price, stock_on_hand, created_at, updated_at)
SELECT (5800000000000 + n)::text, 'Bench item ' || n, 'BENCH-' || n, 1.00, 1,
       timestamptz '2026-01-01 00:00:00+00', timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => n)
FROM generate_series(%(first)s::int, %(last)s::int) AS n
"""
# Runs a command and prints the peak RSS (KiB) of its process tree and its exit code.
_MEASURE = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)"
)


def target_file(directory: Path, books_per_minute: int) -> Path:
    """The sandbox inventory with the Books limiter at ``books_per_minute``, as a staging target.

    A staging target reaches the sandbox through the TSH_SANDBOX_* variables the
    bench exports, but does not reset it after each run (a sandbox target
    would restore its database, and the bench's items with it).
    """
    text = SANDBOX_TARGET.read_text(encoding="utf-8")
    text, limits = re.subn(r"(?m)^books_per_minute = \d+$", f"books_per_minute = {books_per_minute}", text)
    text, kinds = re.subn(r'(?m)^kind = "sandbox"$', 'kind = "staging"', text)
    if (limits, kinds) != (1, 1):
        raise SystemExit("targets/sandbox.toml has no single books_per_minute and kind line to change")
    path = directory / "sandbox-bench.toml"
    path.write_text(text, encoding="utf-8")
    return path


def seed_items(sandbox: Sandbox, total: int) -> int:
    """Bring the ERP to ``total`` products (adding bench items) and reload the simulator; return the count."""
    with psycopg.connect(sandbox.db_url, autocommit=True) as db:
        present = db.execute("SELECT count(*) FROM products").fetchone()[0]
        if total > present:
            # Numbered on from the bench items already added, so a larger count only adds the difference.
            added = db.execute("SELECT count(*) FROM products WHERE sku LIKE 'BENCH-%%'").fetchone()[0]
            db.execute(_ADD_PRODUCTS, {"first": added + 1, "last": added + total - present})
        count = db.execute("SELECT count(*) FROM products WHERE is_active").fetchone()[0]
    httpx.post(f"{sandbox.zoho_url}{RELOAD_PATH}", timeout=120.0).raise_for_status()
    return count


def run_once(sandbox: Sandbox, target: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "TSH_"))}
    env.update(sandbox.env())
    with tempfile.TemporaryDirectory() as reports:
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--reports-dir={reports}",
            f"--target={target}", "suites/zoho", "-m", "staging", "-k", "items",
        ]  # fmt: skip
        started = time.perf_counter()
        measured = subprocess.run(
            [sys.executable, "-c", _MEASURE, *command],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1800, check=True,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        findings = json.loads((Path(reports) / "findings.json").read_text(encoding="utf-8"))
    peak_kib, code = measured.stdout.split()
    return {
        "seconds": seconds,
        "peak_rss_mib": int(peak_kib) / 1024,
        "exit": int(code),
        "books_calls": findings["zoho_calls"].get("books", 0),
        "failed": findings["summary"]["failed"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[2218, 20_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3, help="Runs per item count (median reported)")
    parser.add_argument("--books-per-minute", type=int, default=100, help="Simulator window and suite limiter")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file")
    options = parser.parse_args()

    os.environ["TSH_ZOHO_BOOKS_PER_MINUTE"] = str(options.books_per_minute)  # the simulator's window
    home = default_home().parent / f"bench-zoho-{uuid.uuid4().hex[:6]}"
    sandbox = Sandbox.start(home, db_password=secrets.token_urlsafe(16))
    rows = []
    try:
        with tempfile.TemporaryDirectory() as directory:
            target = target_file(Path(directory), options.books_per_minute)
            for total in sorted(options.items):
                items = seed_items(sandbox, total)
                runs = [run_once(sandbox, target) for _ in range(options.repeat)]
                minimum = math.ceil(items / PER_PAGE) + 1
                median_s = statistics.median(run["seconds"] for run in runs)
                calls = statistics.median(run["books_calls"] for run in runs)
                rows.append({
                    "items": items,
                    "median_s": round(median_s, 2),
                    "max_s": round(max(run["seconds"] for run in runs), 2),
                    "peak_rss_mib": round(max(run["peak_rss_mib"] for run in runs), 1),
                    "books_calls": calls,
                    "pagination_minimum": minimum,
                    "calls_ratio": round(calls / minimum, 2),
                    "calls_per_minute": round(calls / median_s * 60, 1),
                    "limiter_per_minute": options.books_per_minute,
                    "exit_codes": sorted({run["exit"] for run in runs}),
                    "failed": sorted({run["failed"] for run in runs}),
                })  # fmt: skip
    finally:
        sandbox.stop(remove=True)
    print(f"{'items':>7} {'median s':>9} {'max s':>7} {'RSS MiB':>8} {'calls':>6} {'minimum':>8} {'ratio':>6} "
          f"{'calls/min':>10} {'limit/min':>10}  exit")  # fmt: skip
    for row in rows:
        print(f"{row['items']:>7} {row['median_s']:>9} {row['max_s']:>7} {row['peak_rss_mib']:>8} "
              f"{row['books_calls']:>6} {row['pagination_minimum']:>8} {row['calls_ratio']:>6} "
              f"{row['calls_per_minute']:>10} {row['limiter_per_minute']:>10}  {row['exit_codes']}")  # fmt: skip
    if options.json:
        options.json.write_text(json.dumps({"zoho_scale": rows}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
