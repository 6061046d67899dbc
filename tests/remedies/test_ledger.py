"""The healing ledger: redacted JSON lines, appended only, read back for the cooldown."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from remedies.ledger import Ledger, LedgerEntry

WHEN = datetime(2026, 1, 1, 11, 30, tzinfo=UTC)


def entry(**changes):
    fields = {
        "time": WHEN,
        "target": "unit",
        "recipe": "H11",
        "params": {"entity": "invoices"},
        "action": "service",
        "description": "service restart worker (command binding)",
        "risk": "safe",
        "decision": "run",
        "approver": None,
        "diagnostic": False,
        "result": "ok",
        "rows": None,
        "detail": "exited 0: restarted",
    }
    return LedgerEntry(**{**fields, **changes})


def test_entry_is_one_redacted_json_line(tmp_path, redact, secret):
    ledger = Ledger(tmp_path / "healing", redact)
    ledger.append(entry(params={"dsn": f"postgresql://tsh:{secret}@db/tsh"}, detail=f"token={secret}"))
    [line] = ledger.path.read_text(encoding="utf-8").splitlines()
    assert json.loads(line) == {
        "time": "2026-01-01T11:30:00+00:00",
        "target": "unit",
        "recipe": "H11",
        "params": {"dsn": "postgresql://tsh:***@db/tsh"},
        "action": "service",
        "description": "service restart worker (command binding)",
        "risk": "safe",
        "decision": "run",
        "approver": None,
        "diagnostic": False,
        "result": "ok",
        "rows": None,
        "detail": "token=***",
    }


def test_last_applied_is_the_newest_successful_fix(tmp_path, redact):
    ledger = Ledger(tmp_path, redact)
    assert ledger.last_applied("unit", "H11", {"entity": "invoices"}) is None
    ledger.append(entry(time=datetime(2026, 1, 1, 9, 0, tzinfo=UTC)))
    ledger.append(entry())
    ledger.append(entry(time=datetime(2026, 1, 1, 11, 50, tzinfo=UTC), result="failed"))
    ledger.append(entry(time=datetime(2026, 1, 1, 11, 55, tzinfo=UTC), diagnostic=True))
    assert ledger.last_applied("unit", "H11", {"entity": "invoices"}) == WHEN


def test_params_are_compared_as_they_were_written(tmp_path, redact, secret):
    ledger = Ledger(tmp_path, redact)
    ledger.append(entry(params={"token": secret}))
    assert ledger.last_applied("unit", "H11", {"token": secret}) == WHEN


def test_a_torn_line_does_not_hide_the_others(tmp_path, redact):
    ledger = Ledger(tmp_path, redact)
    ledger.append(entry())
    with ledger.path.open("a", encoding="utf-8") as handle:
        handle.write('{"time": "2026-01-01T11:59:00+00:00", "targ')
    assert ledger.last_applied("unit", "H11", {"entity": "invoices"}) == WHEN
