"""Root-cause grouping over the shipped recipe catalog."""

from __future__ import annotations

import pytest

from remedies.analysis import Failure, assign_root_causes, explained_by, roots
from remedies.catalog import load_catalog
from remedies.plugin import RECIPES_DIR

HEALTH = "suites/api/test_health.py::test_health_reports_healthy[{}]"
ROUTE = "suites/webhooks/test_webhook_routes.py::test_webhook_route_served[{}]"
ACCEPT = "suites/webhooks/test_webhook_delivery.py::test_webhook_accepts_and_records_event[{}]"
COMPLETE = "suites/sync/test_queue_processing.py::test_probe_event_reaches_completed[{}]"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(RECIPES_DIR)


def failure(catalog, template: str, param: str, kind: str, name: str = "entity") -> Failure:
    nodeid = template.format(param)
    recipe = catalog.match(nodeid, kind)
    return Failure(nodeid, kind, params={name: param}, recipe=recipe.id if recipe else None)


def test_failed_health_explains_every_unreachable_check(catalog):
    failures = [
        failure(catalog, HEALTH, "app", "unreachable", "base"),
        failure(catalog, ACCEPT, "invoices", "unreachable"),
        failure(catalog, COMPLETE, "invoices", "unreachable"),
        failure(catalog, ROUTE, "stock", "unreachable"),
    ]
    assign_root_causes(failures, catalog)
    assert [f.root_cause for f in failures] == [None, HEALTH.format("app"), HEALTH.format("app"), HEALTH.format("app")]
    assert roots(failures) == failures[:1]
    assert explained_by(failures[0], failures) == failures[1:]


def test_chain_resolves_to_its_top(catalog):
    failures = [
        failure(catalog, COMPLETE, "orders", "route_missing"),
        failure(catalog, ACCEPT, "orders", "route_missing"),
        failure(catalog, ROUTE, "orders", "route_missing"),
    ]
    assign_root_causes(failures, catalog)
    assert {f.nodeid: f.root_cause for f in failures} == {
        COMPLETE.format("orders"): ROUTE.format("orders"),
        ACCEPT.format("orders"): ROUTE.format("orders"),
        ROUTE.format("orders"): None,
    }


def test_explanations_stay_within_the_same_entity(catalog):
    failures = [
        failure(catalog, ACCEPT, "invoices", "http_status"),
        failure(catalog, COMPLETE, "orders", "not_processed"),
    ]
    assign_root_causes(failures, catalog)
    assert [f.root_cause for f in failures] == [None, None]


def test_two_failures_that_explain_each_other_pick_one_root(catalog):
    failures = [
        failure(catalog, HEALTH, "public", "unreachable", "base"),
        failure(catalog, HEALTH, "blue", "unreachable", "base"),
    ]
    assign_root_causes(failures, catalog)
    assert [f.root_cause for f in failures] == [HEALTH.format("blue"), None]


def test_failure_without_recipe_is_kept_and_is_its_own_root(catalog):
    orphan = Failure("suites/api/test_other.py::test_x", "error")
    failures = [orphan]
    assign_root_causes(failures, catalog)
    assert orphan.recipe is None and orphan.root_cause is None
    assert roots(failures) == [orphan]


DB_CONNECT = "suites/database/test_connection.py::test_database_answers_select_1"
ZOHO_COUNT = "suites/zoho/test_zoho_consistency.py::test_zoho_count_matches_erp[{}]"
APP, DATABASE, ZOHO = "http://127.0.0.1:8000", "postgresql://127.0.0.1:5432/tsh_erp", "http://127.0.0.1:9000"


def silent(catalog, template: str, param: str, endpoint: str, name: str = "entity") -> Failure:
    found = failure(catalog, template, param, "unreachable", name)
    found.endpoint = endpoint
    return found


def test_silent_endpoints_are_separate_roots_each_with_its_own_symptoms(catalog):
    app_down = silent(catalog, HEALTH, "app", APP, "base")
    database_down = silent(catalog, DB_CONNECT, "", DATABASE)
    zoho_down = silent(catalog, ZOHO_COUNT, "items", ZOHO, "zoho_list")
    via_app = silent(catalog, ACCEPT, "invoices", APP)
    via_database = silent(catalog, COMPLETE, "orders", DATABASE)
    failures = [app_down, database_down, zoho_down, via_app, via_database]
    assign_root_causes(failures, catalog)
    assert {f.nodeid: f.root_cause for f in failures} == {
        app_down.nodeid: None,
        database_down.nodeid: None,
        zoho_down.nodeid: None,
        via_app.nodeid: app_down.nodeid,
        via_database.nodeid: database_down.nodeid,
    }
    # An explained failure carries its root's recipe.
    assert (via_app.recipe, via_database.recipe) == ("H13", "H36")
