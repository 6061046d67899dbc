"""The sandbox's fixed facts: where it lives, its address, its routes and paths, the Zoho lists it mirrors.

A leaf module: it imports nothing from the sandbox package, so every part of the
sandbox (the controller, the app, the worker, the Zoho simulator, the faults and
the CLI) takes these facts from one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# -- where the sandbox lives ------------------------------------------------

PACKAGE_NAME = __name__.rpartition(".")[0]
PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent  # the working directory of every sandbox process, so ``-m sandbox`` finds this copy
SAMPLE_SOURCE = PACKAGE_ROOT / "sample_source"
SEED_FILE = PACKAGE_ROOT / "seed.sql"  # the deterministic data set, loaded once the migrations built the schema

# -- its address and its database -------------------------------------------

LOOPBACK = "127.0.0.1"
DATABASE_NAME = "tsh_erp"
# The database as an owned start leaves it (schema, seed, head revision); reset restores DATABASE_NAME from it.
TEMPLATE_DATABASE_NAME = f"{DATABASE_NAME}_template"
DATABASE_ROLE = "tsh_app"
# How many pre-deploy dumps the sandbox keeps (targets/sandbox.toml [backup] max_kept, the pipeline's "newest 10").
BACKUPS_KEPT = 10

# -- the ERP app's webhook routes and the TDS entities they feed ---------------

WEBHOOK_PREFIX = "/api/tds/webhooks"


@dataclass(frozen=True)
class WebhookRoute:
    """One ``POST /api/tds/webhooks/<name>`` route and where its record's id lives."""

    name: str
    tds_entity: str
    id_field: str
    module_key: str | None = None

    @property
    def path(self) -> str:
        return f"{WEBHOOK_PREFIX}/{self.name}"


WEBHOOK_ROUTES: dict[str, WebhookRoute] = {
    route.name: route
    for route in (
        WebhookRoute("products", "product", "item_id", "item"),
        WebhookRoute("customers", "customer", "contact_id", "contact"),
        WebhookRoute("invoices", "invoice", "invoice_id", "invoice"),
        WebhookRoute("orders", "order", "salesorder_id", "salesorder"),
        WebhookRoute("stock", "stock_adjustment", "entity_id"),
        WebhookRoute("prices", "price_list", "pricelist_id"),
        WebhookRoute("payments", "PAYMENT", "payment_id"),
        WebhookRoute("vendors", "VENDOR", "contact_id", "contact"),
        WebhookRoute("users", "USER", "user_id"),
    )
}

# -- the ERP app's salesperson BFF paths ---------------------------------------

BFF_PREFIX = "/api/bff/salesperson"
PROTECTED_PATHS: tuple[str, ...] = (
    f"{BFF_PREFIX}/gps/sync-status",
    f"{BFF_PREFIX}/commissions/summary",
    f"{BFF_PREFIX}/transfers/statistics",
)
HEALTH_PATHS: tuple[str, ...] = (
    f"{BFF_PREFIX}/gps/health",
    f"{BFF_PREFIX}/commissions/health",
    f"{BFF_PREFIX}/transfers/health",
)
BFF_PATHS: tuple[str, ...] = PROTECTED_PATHS + HEALTH_PATHS

# -- the ERP app's read routes on its records (behind the BFF's bearer token) --------

RECORD_PATHS: tuple[str, ...] = (
    "/api/customers",
    "/api/customers/{customer_id}",
    "/api/products",
    "/api/products/summary",  # declared before /api/products/{product_id}, or the int id would capture it
    "/api/products/{product_id}",
    "/api/invoices",
    "/api/invoices/{invoice_id}",
)

# -- every GET operation of the app's /openapi.json -----------------------------------

READINESS_PATH = "/health"  # what the controller polls to know the app is up
SYSTEM_PATHS: tuple[str, ...] = ("/", READINESS_PATH)
TDS_MONITORING_PATHS: tuple[str, ...] = (f"{WEBHOOK_PREFIX}/health", f"{WEBHOOK_PREFIX}/stats")
GET_PATHS: tuple[str, ...] = SYSTEM_PATHS + TDS_MONITORING_PATHS + BFF_PATHS + RECORD_PATHS
BEARER_PATHS: tuple[str, ...] = PROTECTED_PATHS + RECORD_PATHS  # the GET operations that require the token

# -- the Zoho lists the simulator serves and the ERP tables they mirror -----------

ZOHO_API_PREFIXES = {"books": "/books/v3", "inventory": "/inventory/v1"}
# Records Zoho holds and the ERP lacks (the zoho-drift fault) take ids from
# EXTRA_OFFSET above a list's base id, within EXTRA_SPAN.
EXTRA_OFFSET = 500_000
EXTRA_SPAN = 100_000


@dataclass(frozen=True)
class ZohoList:
    """A Zoho list and the ERP table it mirrors."""

    name: str
    id_field: str
    table: str
    id_column: str
    base_id: int
    apis: tuple[str, ...]

    def extra_id(self, number: int) -> str:
        return str(self.base_id + EXTRA_OFFSET + number)

    def extra_range(self) -> tuple[str, str]:
        return self.extra_id(0), self.extra_id(EXTRA_SPAN - 1)


ZOHO_LISTS: dict[str, ZohoList] = {
    entry.name: entry
    for entry in (
        ZohoList("contacts", "contact_id", "customers", "zoho_contact_id", 4600000000000, ("books",)),
        ZohoList("items", "item_id", "products", "zoho_item_id", 4700000000000, ("books", "inventory")),
        ZohoList("invoices", "invoice_id", "invoices", "zoho_invoice_id", 4800000000000, ("books",)),
        ZohoList("salesorders", "salesorder_id", "sales_orders", "zoho_salesorder_id", 4900000000000,
                 ("books", "inventory")),
    )
}  # fmt: skip
