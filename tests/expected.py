"""Node ids of the checks as the sandbox target parametrizes them, for exact assertions."""

from __future__ import annotations

ROUTES = ["products", "customers", "invoices", "orders", "stock", "prices", "payments", "vendors", "users"]
HEALTH = "suites/api/test_health.py::test_health_reports_healthy[app]"
LATENCY = "suites/api/test_health.py::test_health_latency_within_limit[app]"
WEBHOOKS_HEALTH = "suites/webhooks/test_webhook_routes.py::test_webhooks_health_endpoint_reports_healthy"


def route_served(entity: str) -> str:
    return f"suites/webhooks/test_webhook_routes.py::test_webhook_route_served[{entity}]"


def accepts(entity: str) -> str:
    return f"suites/webhooks/test_webhook_delivery.py::test_webhook_accepts_and_records_event[{entity}]"


def completes(entity: str) -> str:
    return f"suites/sync/test_queue_processing.py::test_probe_event_reaches_completed[{entity}]"


ALL_CHECKS = [HEALTH, LATENCY, WEBHOOKS_HEALTH] + [f(e) for e in ROUTES for f in (route_served, accepts, completes)]

# The files of the checks above: faulted runs select them, so later checks in
# the same stage do not change these runs' exact outcomes.
DELIVERY_CHECK_FILES = ["suites/api/test_health.py", "suites/webhooks", "suites/sync/test_queue_processing.py"]
