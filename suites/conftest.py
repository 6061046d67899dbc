"""Parametrization of every check from the target inventory.

Test ids are the inventory's names (``[invoices]``, ``[app]``), so recipes and
``-k`` selections stay stable across targets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.failures import CheckFailed
from fixtures.hosts import host_items
from fixtures.http import new_client
from fixtures.openapi import DOCUMENT_ID, run_operations
from fixtures.target import target_inventory

# Host check fixtures and what of a [[hosts]] entry each one is parametrized over.
HOST_PARAMETERS = {
    "host_service": "services", "host_port": "ports", "host_disk": "disks", "host_memory": "memory",
    "host_log": "logs",
}  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Checks marked ``slow`` (the post-deploy monitoring window) run only when a ``-m`` expression names ``slow``
    or their node id is given (the verification re-run of a heal names the failed checks)."""
    if "slow" in (config.option.markexpr or ""):
        return
    named = {arg for arg in config.args if "::" in arg}
    slow = [item for item in items if item.get_closest_marker("slow") and item.nodeid not in named]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if item not in slow]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    inventory = target_inventory(metafunc.config)
    if inventory is None:
        return
    for fixture, what in HOST_PARAMETERS.items():
        if fixture in metafunc.fixturenames:
            # No xdist_group mark: under pytest 9.2 + xdist 3.8 --dist loadgroup does not group (even in a bare
            # project), and where it does it suffixes node ids with @group, which recipes and roots match on.
            names = [name for name, _, _ in host_items(inventory, what)]
            metafunc.parametrize(fixture, names, ids=names)
    if "entity" in metafunc.fixturenames:
        names = [route.name for route in inventory.webhooks.routes]
        metafunc.parametrize("entity", names, ids=names, scope="function")
    if "base" in metafunc.fixturenames:
        bases = inventory.http.health_bases()
        metafunc.parametrize("base", list(bases), ids=list(bases))
    if "tds_entity" in metafunc.fixturenames:
        names = list(dict.fromkeys(route.tds_entity for route in inventory.webhooks.routes))
        metafunc.parametrize("tds_entity", names, ids=names)
    if "schema_table" in metafunc.fixturenames:
        names = list(inventory.database.schema_contract)
        metafunc.parametrize("schema_table", names, ids=names)
    if "variable" in metafunc.fixturenames:
        names = inventory.config.required
        metafunc.parametrize("variable", names, ids=names)
    if "endpoint" in metafunc.fixturenames:
        names = [endpoint.name for endpoint in inventory.api.endpoints]
        metafunc.parametrize("endpoint", names, ids=names)
    if "zoho_entity" in metafunc.fixturenames and inventory.zoho is not None:
        # Entities marked production = true run in the production stage too, for the checks that allow it.
        production_checks = getattr(metafunc.module, "PRODUCTION_CHECKS", ())
        params = [
            pytest.param(name, id=name, marks=[pytest.mark.production] if entity.production else [])
            if metafunc.function.__name__ in production_checks
            else pytest.param(name, id=name)
            for name, entity in inventory.zoho.entities.items()
        ]
        metafunc.parametrize("zoho_entity", params)
    if "get_operation" in metafunc.fixturenames:
        found = run_operations(inventory, lambda: new_client(inventory)) if inventory.api.openapi.enabled else []
        if isinstance(found, CheckFailed):  # one check that carries why no operation could be listed
            metafunc.parametrize("get_operation", [found], ids=[DOCUMENT_ID])
        else:
            metafunc.parametrize("get_operation", found, ids=[operation.id for operation in found])
    if "protected_endpoint" in metafunc.fixturenames:
        names = [endpoint.name for endpoint in inventory.api.endpoints if endpoint.protected]
        metafunc.parametrize("protected_endpoint", names, ids=names)


@pytest.fixture(scope="session")
def source_dir(inventory) -> Path:
    """The deployed code's checkout (``[code] source_dir``), read by the code gates and the pre-deploy gates;
    their checks are skipped when none is configured."""
    configured = inventory.code.source_dir
    if configured is None:
        pytest.skip("no source checkout configured ([code] source_dir; set TSH_SOURCE_DIR on staging/production)")
    path = Path(configured)
    if not (path / ".git").exists():
        raise CheckFailed("missing", "the configured source directory is not a git checkout", source_dir=configured)
    return path
