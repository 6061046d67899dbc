"""The healing ledger: an append-only JSON-lines audit log of healing steps.

``reports/healing/ledger.jsonl`` gets one object per step that was run or
refused: time (UTC, ISO 8601), target, recipe, params, action, description,
risk, decision, approver, diagnostic, result, rows and detail. Every string is
redacted before it is written. The file is only ever opened for appending; the
cooldown reads it back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

LEDGER_NAME = "ledger.jsonl"


@dataclass(frozen=True)
class LedgerEntry:
    """One run or refused step, as written to the ledger."""

    time: datetime
    target: str
    recipe: str
    params: Mapping[str, Any]
    action: str
    description: str
    risk: str
    decision: str
    approver: str | None
    diagnostic: bool
    result: str
    rows: int | None
    detail: str


class Ledger:
    """Append-only access to ``<directory>/ledger.jsonl``."""

    def __init__(self, directory: Path, redact: Callable[[str], str]) -> None:
        self.path = directory / LEDGER_NAME
        self._redact = redact

    def append(self, entry: LedgerEntry) -> None:
        """Write one entry as a redacted JSON line at the end of the ledger."""
        record = _redacted({**asdict(entry), "time": entry.time.isoformat()}, self._redact)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
            ledger.flush()
            os.fsync(ledger.fileno())

    def last_applied(self, target: str, recipe: str, params: Mapping[str, Any]) -> datetime | None:
        """When a fix step (not a diagnostic) of ``recipe`` last succeeded on ``target`` with ``params``."""
        wanted = _redacted(dict(params), self._redact)
        times = [
            datetime.fromisoformat(record["time"])
            for record in self._records()
            if record.get("target") == target
            and record.get("recipe") == recipe
            and record.get("params") == wanted
            and record.get("result") == "ok"
            and record.get("diagnostic") is False
        ]
        return max(times, default=None)

    def _records(self) -> Iterator[dict[str, Any]]:
        if not self.path.is_file():
            return
        with self.path.open(encoding="utf-8") as ledger:
            for line in ledger:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    # A line torn by a crash mid-write is unreadable evidence, not a
                    # reason to stop healing; the lines around it still count.
                    continue
                if isinstance(record, dict):
                    yield record


def _redacted(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {redact(str(key)): _redacted(item, redact) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item, redact) for item in value]
    return value
