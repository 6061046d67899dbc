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

TDS_ENTITY = {
    "products": "product", "customers": "customer", "invoices": "invoice", "orders": "order",
    "stock": "stock_adjustment", "prices": "price_list", "payments": "PAYMENT", "vendors": "VENDOR", "users": "USER",
}  # fmt: skip
EVENTS_COMPLETE = "suites/sync/test_queue_health.py::test_webhook_events_reach_completed"
DEAD_LETTER_RATE = "suites/sync/test_queue_health.py::test_dead_letter_rate_within_limit"


def delay(route: str) -> str:
    """The sync-delay check of a webhook route's TDS entity."""
    return f"suites/sync/test_queue_health.py::test_sync_delay_within_limit[{TDS_ENTITY[route]}]"


# Every check of the staging stage that talks to the app (a backend that is down fails them all).
BFF_ENDPOINTS = ["gps-sync-status", "commissions-summary", "transfers-statistics"]
BFF_PUBLIC = ["gps-health", "commissions-health", "transfers-health"]
APP_CHECKS = [
    *ALL_CHECKS,
    *[delay(route) for route in ROUTES],
    EVENTS_COMPLETE,
    DEAD_LETTER_RATE,
    "suites/api/test_openapi_operations.py::test_get_operation_answers[openapi.json]",
    *[f"suites/api/test_bff_endpoints.py::test_bff_endpoint_{check}[{e}]"
      for check in ("answers_with_data", "latency_within_limit") for e in BFF_ENDPOINTS + BFF_PUBLIC],
    *[f"suites/api/test_bff_endpoints.py::test_bff_endpoint_refuses_anonymous_calls[{e}]" for e in BFF_ENDPOINTS],
]  # fmt: skip

# The delivery path's files: the heal and target-policy runs select them to keep their runs short;
# the fault matrix runs the whole stage.
DELIVERY_CHECK_FILES = ["suites/api/test_health.py", "suites/webhooks", "suites/sync/test_queue_processing.py"]
