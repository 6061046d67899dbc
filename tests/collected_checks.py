"""A pytest plugin for the product's tests: writes every collected check's node id and parameters.

Loaded with ``-p collected_checks`` (``tests/`` on ``PYTHONPATH``); the output
path comes from ``$TSH_COLLECTED_CHECKS``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def pytest_collection_finish(session) -> None:
    checks = {}
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        params = {key: str(value) for key, value in callspec.params.items()} if callspec else {}
        checks[item.nodeid] = params
    Path(os.environ["TSH_COLLECTED_CHECKS"]).write_text(json.dumps(checks), encoding="utf-8")
