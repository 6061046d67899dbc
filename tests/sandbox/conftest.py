"""Fixtures for the sandbox's own tests: one real sandbox per session."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from sandbox import Sandbox
from sandbox.controller import runtime_root
from sandbox.facts import WEBHOOK_ROUTES
from sandbox.processes import wait_until

DB_PASSWORD = "sandbox-test-pw"


def fresh_home(label: str) -> Path:
    """A not-yet-existing home under /tmp/tsh-sandbox-<uid>, unique to this run."""
    return runtime_root() / f"test-{label}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    """A running sandbox without webhook key, stopped and removed at the end."""
    started = Sandbox.start(fresh_home("session"), db_password=DB_PASSWORD)
    yield started
    started.stop(remove=True)


@pytest.fixture(autouse=True)
def healthy_sandbox(request: pytest.FixtureRequest) -> Iterator[None]:
    """Tests that use the session sandbox leave it as they found it: no faults, all running."""
    yield
    if "sandbox" in request.fixturenames:
        request.getfixturevalue("sandbox").reset()


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=5.0) as http:
        yield http


Query = Callable[..., list[dict[str, Any]]]


@pytest.fixture
def query(sandbox: Sandbox) -> Query:
    """Run one SQL statement on the sandbox database and return its rows as dicts."""

    def run(sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(sandbox.db_url, connect_timeout=3, autocommit=True, row_factory=dict_row) as conn:
            cursor = conn.execute(sql, params or None)
            return cursor.fetchall() if cursor.description else []

    return run


@pytest.fixture
def queue_row(query: Query) -> Callable[..., dict[str, Any]]:
    """The queue row of an inbox event, once it reaches ``status`` (fails after ``timeout`` s)."""

    def wait(event_id: str, status: str, timeout: float = 5.0) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []

        def reached() -> bool:
            rows[:] = query("SELECT * FROM tds_sync_queue WHERE inbox_event_id = %s", event_id)
            return bool(rows) and rows[0]["status"] == status

        assert wait_until(reached, timeout=timeout, interval=0.1), f"expected status {status}, got {rows}"
        return rows[0]

    return wait


@pytest.fixture
def new_id() -> Callable[[str], str]:
    """Fresh Zoho-like source ids, so tests never collide on idempotency keys."""
    return lambda prefix="46": f"{prefix}{uuid.uuid4().int % 10**12:012d}"


@pytest.fixture
def spare_home() -> Iterator[Path]:
    """A home for a test's own sandbox; removed afterwards if the test left it behind."""
    home = fresh_home("own")
    yield home
    if (home / "state.json").exists():
        Sandbox.attach(home / "state.json", require_running=False).stop(remove=True)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def db_password() -> str:
    return DB_PASSWORD


@pytest.fixture
def send_probe(client: httpx.Client, new_id: Callable[..., str]) -> Callable[..., httpx.Response]:
    """POST the synthetic probe shape (top-level entity_id, record under data) to a webhook route."""

    def send(route_name: str, source_id: str | None = None, *, headers=None, **record: Any) -> httpx.Response:
        route = WEBHOOK_ROUTES[route_name]
        source_id = source_id or new_id()
        body = {"event_type": "update", "entity_id": source_id, "data": {route.id_field: source_id, **record}}
        return client.post(route.path, json=body, headers=headers)

    return send
