"""Parametrization of every check from the target inventory.

Test ids are the inventory's names (``[invoices]``, ``[app]``), so recipes and
``-k`` selections stay stable across targets.
"""

from __future__ import annotations

import pytest

from fixtures.target import target_inventory


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    inventory = target_inventory(metafunc.config)
    if inventory is None:
        return
    if "entity" in metafunc.fixturenames:
        names = [route.name for route in inventory.webhooks.routes]
        metafunc.parametrize("entity", names, ids=names, scope="function")
    if "base" in metafunc.fixturenames:
        bases = inventory.http.health_bases()
        metafunc.parametrize("base", list(bases), ids=list(bases))
