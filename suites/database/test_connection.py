"""db.connectivity and read-only sessions: the target database answers, and production sessions cannot write."""

from __future__ import annotations

import time

import pytest

from fixtures.db import connect
from fixtures.failures import CheckFailed

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.database]


def test_database_answers_select_1(inventory):
    limit_s = inventory.database.connect_timeout_seconds
    started = time.monotonic()
    with connect(inventory) as db:
        answer = db.execute("SELECT 1 AS one").fetchone()
    elapsed_s = time.monotonic() - started
    if answer is None or answer["one"] != 1 or elapsed_s > limit_s:
        raise CheckFailed(
            "unreachable",
            "the target database did not answer SELECT 1 within the connect timeout",
            answer=None if answer is None else answer["one"],
            elapsed_s=round(elapsed_s, 3),
            limit_s=limit_s,
        )


def test_database_sessions_are_read_only(inventory):
    if not inventory.database.read_only:
        pytest.skip(f"target {inventory.name} does not require read-only sessions (database.read_only = false)")
    with connect(inventory) as db:
        setting = db.execute("SHOW default_transaction_read_only").fetchone()["default_transaction_read_only"]
    if setting != "on":
        raise CheckFailed(
            "config",
            "the suite's database session can write on a read-only target",
            expected="default_transaction_read_only = on",
            actual=f"default_transaction_read_only = {setting}",
        )
