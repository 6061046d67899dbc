"""The webhook routes and the TDS entities they feed (CATALOG 3.4)."""

from __future__ import annotations

from dataclasses import dataclass

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
