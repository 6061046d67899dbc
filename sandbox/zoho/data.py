"""The simulator's records: a snapshot of the ERP tables, reshaped as Zoho lists, and the faults' changes.

Healthy, every Zoho record mirrors one ERP row (same Zoho id; ``last_modified_time``
equals the row's ``updated_at``). The ``zoho-drift`` fault adds records the ERP
lacks (ids from :data:`sandbox.facts.EXTRA_OFFSET` on; a resync copies them into the ERP, and
the sandbox's reset takes them out again with the rest of the database); ``zoho-stale`` moves
the newest modification of a list hours past the ERP's newest change.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg.rows import dict_row

from ..facts import EXTRA_SPAN, ZOHO_LISTS, ZohoList

ZOHO_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
VENDOR_COUNT = 5
STALE_RECORDS = 3


_SNAPSHOT_SQL = {
    "contacts": "SELECT zoho_contact_id AS id, name, email, is_active, created_at, updated_at FROM customers",
    "items": "SELECT zoho_item_id AS id, name, sku, price, stock_on_hand, is_active, created_at, updated_at"
    " FROM products",
    "invoices": "SELECT zoho_invoice_id AS id, invoice_number, total, status, created_at, updated_at FROM invoices",
    "salesorders": "SELECT zoho_salesorder_id AS id, order_number, total, status, created_at, updated_at"
    " FROM sales_orders",
}


def zoho_time(moment: datetime) -> str:
    """Zoho's timestamp format: ``2026-01-01T10:00:00+0000``."""
    return moment.astimezone(UTC).strftime(ZOHO_TIME_FORMAT)


def parse_zoho_time(text: str) -> datetime:
    return datetime.strptime(text, ZOHO_TIME_FORMAT)


def _record(list_name: str, row: dict) -> dict:
    """One ERP row as the Zoho record it came from."""
    times = {"created_time": zoho_time(row["created_at"]), "last_modified_time": zoho_time(row["updated_at"])}
    status = "active" if row.get("is_active", True) else "inactive"
    match list_name:
        case "contacts":
            return {"contact_id": row["id"], "contact_name": row["name"], "email": row["email"],
                    "contact_type": "customer", "status": status, **times}  # fmt: skip
        case "items":
            return {"item_id": row["id"], "name": row["name"], "sku": row["sku"], "rate": float(row["price"] or 0),
                    "stock_on_hand": row["stock_on_hand"], "status": status, **times}  # fmt: skip
        case "invoices":
            return {"invoice_id": row["id"], "invoice_number": row["invoice_number"], "total": float(row["total"]),
                    "status": row["status"], **times}  # fmt: skip
        case _:
            return {"salesorder_id": row["id"], "salesorder_number": row["order_number"],
                    "total": float(row["total"]), "status": row["status"], **times}  # fmt: skip


def load_snapshot(db_url: str) -> dict[str, list[dict]]:
    """The Zoho lists mirroring the ERP tables right now (plus a few vendor contacts the ERP keeps elsewhere)."""
    lists: dict[str, list[dict]] = {}
    with psycopg.connect(db_url, connect_timeout=5, row_factory=dict_row) as conn:
        for name, query in _SNAPSHOT_SQL.items():
            rows = conn.execute(query).fetchall()
            lists[name] = [_record(name, row) for row in rows if row["id"] is not None]
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    lists["contacts"] += [
        {"contact_id": str(4650000000000 + n), "contact_name": f"Vendor {n:03d}", "email": None,
         "contact_type": "vendor", "status": "active", "created_time": zoho_time(epoch),
         "last_modified_time": zoho_time(epoch)}
        for n in range(1, VENDOR_COUNT + 1)
    ]  # fmt: skip
    return lists


def generated_items(count: int) -> dict[str, list[dict]]:
    """``count`` synthetic items (for volume tests), newest last."""
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    items = [
        {"item_id": str(4700000000000 + n), "name": f"Item {n}", "sku": f"SKU-{n}", "rate": 1.0,
         "stock_on_hand": 1, "status": "active", "created_time": zoho_time(epoch),
         "last_modified_time": zoho_time(epoch + timedelta(seconds=n))}
        for n in range(1, count + 1)
    ]  # fmt: skip
    return {"contacts": [], "items": items, "invoices": [], "salesorders": []}


def apply_faults(base: dict[str, list[dict]], specs: tuple[str, ...]) -> dict[str, list[dict]]:
    """The lists as Zoho holds them under the drift and stale faults in ``specs``."""
    lists = {name: list(records) for name, records in base.items()}
    for spec in specs:
        name, _, argument = spec.partition(":")
        if name not in ("zoho-drift", "zoho-stale"):
            continue
        list_name, _, amount = argument.partition(":")
        if list_name not in lists:
            continue
        records = lists[list_name]
        zoho_list = ZOHO_LISTS[list_name]
        if name == "zoho-drift":
            lists[list_name] = records + _extras(zoho_list, records, float(amount))
        else:
            lists[list_name] = _stale(zoho_list, records, float(amount))
    return lists


def _extras(zoho_list: ZohoList, records: list[dict], percent: float) -> list[dict]:
    """Records created in Zoho whose webhooks were lost: ``percent`` of the list, at least one."""
    count = min(EXTRA_SPAN - 1, max(1, math.ceil(len(records) * percent / 100)))
    newest = max((r["last_modified_time"] for r in records), default=zoho_time(datetime(2026, 1, 1, tzinfo=UTC)))
    template = next((r for r in records if r.get("contact_type", "customer") == "customer"), None) or {}
    extras = []
    for number in range(1, count + 1):
        record = {**template, zoho_list.id_field: zoho_list.extra_id(number)}
        record.update(created_time=newest, last_modified_time=newest)
        for field in ("contact_name", "name"):
            if field in record:
                record[field] = f"Lost {zoho_list.name} {number}"
        for field in ("invoice_number", "salesorder_number", "sku"):
            if field in record:
                record[field] = f"LOST-{zoho_list.name[:3].upper()}-{number:05d}"
        extras.append(record)
    return extras


def _stale(zoho_list: ZohoList, records: list[dict], hours: float) -> list[dict]:
    """The first records modified in Zoho ``hours`` after the newest change the ERP holds."""
    if not records:
        return records
    newest = max(parse_zoho_time(r["last_modified_time"]) for r in records)
    modified = zoho_time(newest + timedelta(hours=hours))
    return [{**r, "last_modified_time": modified} if n < STALE_RECORDS else r for n, r in enumerate(records)]
