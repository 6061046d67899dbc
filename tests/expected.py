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

# --- the rest of the stage, for the whole-stage fault matrix ---------------------------------
DB_CONNECT = "suites/database/test_connection.py::test_database_answers_select_1"
REVISION = "suites/database/test_migrations.py::test_database_revision_is_head"
DEAD_LETTERS = "suites/sync/test_queue_health.py::test_dead_letters_within_limit"
STUCK = "suites/sync/test_queue_health.py::test_no_item_stuck_in_processing"
BACKLOG = "suites/sync/test_queue_health.py::test_pending_backlog_within_limits"
SCHEMA_TABLES = [
    "tds_inbox_events", "tds_sync_queue", "tds_dead_letter_queue", "tds_sync_cursors", "tds_alerts", "tds_sync_runs",
    "tds_sync_logs", "tds_audit_trail", "tds_metrics", "tds_configuration", "products", "customers", "vendors",
    "invoices", "sales_orders", "invoice_payments", "zoho_users", "pricelists", "product_prices", "branches",
]  # fmt: skip
ZOHO_LISTS = ["contacts", "items", "invoices", "salesorders"]
BFF = "/api/bff/salesperson"
# The GET operations of the sandbox's /openapi.json that read the database.
DATABASE_OPERATIONS = [
    "/api/customers", "/api/customers/<customer_id>", "/api/invoices", "/api/invoices/<invoice_id>",
    "/api/products", "/api/products/<product_id>", "/api/products/summary", "/api/tds/webhooks/stats",
]  # fmt: skip


def schema(table: str) -> str:
    return f"suites/database/test_schema_contract.py::test_schema_matches_contract[{table}]"


def real_traffic(tds_entity: str) -> str:
    return f"suites/sync/test_queue_health.py::test_real_traffic_of_entity_completes[{tds_entity}]"


def zoho_count(zoho_list: str) -> str:
    return f"suites/zoho/test_zoho_consistency.py::test_zoho_count_matches_erp[{zoho_list}]"


def zoho_fresh(zoho_list: str) -> str:
    return f"suites/zoho/test_zoho_consistency.py::test_erp_is_fresh_against_zoho[{zoho_list}]"


def env_variable(name: str) -> str:
    return f"suites/config/test_env_file.py::test_required_variable_is_set_and_valid[{name}]"


def operation(path: str) -> str:
    return f"suites/api/test_openapi_operations.py::test_get_operation_answers[{path}]"


def bff(check: str, endpoint: str) -> str:
    return f"suites/api/test_bff_endpoints.py::test_bff_endpoint_{check}[{endpoint}]"


# One BFF endpoint answering 500 (endpoint-error): its root, and the symptoms rooted under it.
ENDPOINT_ERROR_FAULT = f"endpoint-error:{BFF}/gps/sync-status"
ENDPOINT_ERROR_ROOT = "suites/api/test_bff_endpoints.py::test_bff_endpoint_answers_with_data[gps-sync-status]"
ENDPOINT_ERROR_OPERATION = f"suites/api/test_openapi_operations.py::test_get_operation_answers[{BFF}/gps/sync-status]"
# An error answer has no latency to judge: the latency check fails for the reason the root names.
ENDPOINT_ERROR_LATENCY = "suites/api/test_bff_endpoints.py::test_bff_endpoint_latency_within_limit[gps-sync-status]"
