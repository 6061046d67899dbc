"""The sandbox's Zoho resync: copy what Zoho holds and the ERP lacks (or holds older) into the ERP tables.

``python -m sandbox zoho-resync --entity contacts`` plays the part of
``scripts/run_complete_zoho_sync.py --entity <entity>`` on a real host.
"""

from __future__ import annotations

import time

import httpx
import psycopg

from ..errors import SandboxError
from ..facts import ZOHO_API_PREFIXES, ZOHO_LISTS, ZohoList
from .app import Credentials
from .data import parse_zoho_time

TIMEOUT_SECONDS = 10.0
MAX_THROTTLED_WAITS = 5

_INSERT_SQL = {
    "contacts": "INSERT INTO customers (zoho_contact_id, name, email, created_at, updated_at)"
    " VALUES (%(contact_id)s, %(contact_name)s, %(email)s, %(created)s, %(modified)s)",
    "items": "INSERT INTO products (zoho_item_id, name, sku, price, stock_on_hand, created_at, updated_at)"
    " VALUES (%(item_id)s, %(name)s, %(sku)s, %(rate)s, %(stock_on_hand)s, %(created)s, %(modified)s)",
    "invoices": "INSERT INTO invoices (zoho_invoice_id, invoice_number, total, status, created_at, updated_at)"
    " VALUES (%(invoice_id)s, %(invoice_number)s, %(total)s, %(status)s, %(created)s, %(modified)s)",
    "salesorders": "INSERT INTO sales_orders (zoho_salesorder_id, order_number, total, status, created_at, updated_at)"
    " VALUES (%(salesorder_id)s, %(salesorder_number)s, %(total)s, %(status)s, %(created)s, %(modified)s)",
}


def fetch_all(base_url: str, credentials: Credentials, zoho_list: ZohoList) -> list[dict]:
    """Every record of the list, from Books, all pages."""
    with httpx.Client(base_url=base_url, timeout=TIMEOUT_SECONDS) as client:
        answer = client.post(
            "/oauth/v2/token",
            data={"refresh_token": credentials.refresh_token, "client_id": credentials.client_id,
                  "client_secret": credentials.client_secret, "grant_type": "refresh_token"},
        )  # fmt: skip
        if answer.status_code != 200:
            raise SandboxError(f"Zoho token refresh answered {answer.status_code}; resync needs a valid refresh token")
        headers = {"Authorization": f"Zoho-oauthtoken {answer.json()['access_token']}"}
        records: list[dict] = []
        page, waits = 1, 0
        params = {"organization_id": credentials.organization_id, "per_page": 200}
        if zoho_list.name == "contacts":
            params["contact_type"] = "customer"
        path = f"{ZOHO_API_PREFIXES['books']}/{zoho_list.name}"
        while True:
            answer = client.get(path, params={**params, "page": page}, headers=headers)
            if answer.status_code == 429 and waits < MAX_THROTTLED_WAITS:
                waits += 1
                time.sleep(min(60, int(answer.headers.get("Retry-After", "1"))))
                continue
            if answer.status_code != 200:
                raise SandboxError(f"Zoho {zoho_list.name} page {page} answered {answer.status_code}")
            body = answer.json()
            records += body[zoho_list.name]
            if not body["page_context"]["has_more_page"]:
                return records
            page += 1


def resync(db_url: str, base_url: str, credentials: Credentials, list_name: str) -> tuple[int, int]:
    """Insert the records the ERP lacks and bring older rows up to Zoho's time; returns (inserted, updated)."""
    zoho_list = ZOHO_LISTS[list_name]
    records = fetch_all(base_url, credentials, zoho_list)
    inserted = updated = 0
    with psycopg.connect(db_url, connect_timeout=5) as conn:
        known = dict(
            conn.execute(
                f"SELECT {zoho_list.id_column}, updated_at FROM {zoho_list.table}"  # noqa: S608 -- fixed names
                f" WHERE {zoho_list.id_column} IS NOT NULL"
            ).fetchall()
        )
        for record in records:
            modified = parse_zoho_time(record["last_modified_time"])
            record_id = record[zoho_list.id_field]
            if record_id not in known:
                values = {**record, "created": parse_zoho_time(record["created_time"]), "modified": modified}
                conn.execute(_INSERT_SQL[list_name], values)
                inserted += 1
            elif known[record_id] < modified:
                conn.execute(
                    f"UPDATE {zoho_list.table} SET updated_at = %s WHERE {zoho_list.id_column} = %s",  # noqa: S608
                    (modified, record_id),
                )
                updated += 1
    return inserted, updated
