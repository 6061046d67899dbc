"""integrity.sql_checks: the ERP tables hold no duplicates, orphans or impossible values.

Each rule is one query for the rows that break it, on the ERP tables the Zoho
sync writes (customers, products, invoices, sales orders, payments, prices).
The real system enforces few of these rules with constraints, so double
imports, replays and restores with triggers off leave such rows behind. A
duplicate is every row that repeats the key of a row with a smaller id (the
rows to merge or delete); an orphan is a row whose reference names no row
(``NOT EXISTS``: ``NOT IN`` would pass every row once the subquery holds a NULL).

Every query only reads, through ``fixtures.db.connect`` (read-only sessions on
production). The size of the database and of its largest tables is recorded on
every run as the metrics ``database_size_bytes`` and ``table_size_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from psycopg import sql

from fixtures.db import connect
from fixtures.failures import CheckFailed

pytestmark = [pytest.mark.production, pytest.mark.integrity]

SHOWN_IDS = 20
LARGEST_TABLES = 10


@dataclass(frozen=True)
class IntegrityRule:
    """A data rule of ``table``: ``broken_rows`` selects the ``id`` of every row that breaks it."""

    table: str
    broken: str  # what the broken rows are, after their count: "customers repeat the email ..."
    broken_rows: sql.Composed


def repeated_key(table: str, key: str, broken: str, *, ignore_case: bool = False) -> IntegrityRule:
    """Rows whose ``key`` repeats the key of a row with a smaller id; a NULL or blank key is no key."""
    column = sql.SQL("lower({})" if ignore_case else "{}")
    rows = sql.SQL(
        "SELECT checked.id FROM {table} AS checked WHERE coalesce(trim(checked.{key}), '') <> '' AND EXISTS"
        " (SELECT 1 FROM {table} AS earlier WHERE earlier.id < checked.id AND {earlier_key} = {checked_key})"
    ).format(
        table=sql.Identifier(table),
        key=sql.Identifier(key),
        earlier_key=column.format(sql.Identifier("earlier", key)),
        checked_key=column.format(sql.Identifier("checked", key)),
    )
    return IntegrityRule(table, broken, rows)


def dangling_reference(table: str, reference: str, parent: str, broken: str) -> IntegrityRule:
    """Rows whose non-null ``reference`` names no row of ``parent``."""
    rows = sql.SQL(
        "SELECT checked.id FROM {table} AS checked WHERE checked.{reference} IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM {parent} AS parent WHERE parent.id = checked.{reference})"
    ).format(table=sql.Identifier(table), reference=sql.Identifier(reference), parent=sql.Identifier(parent))
    return IntegrityRule(table, broken, rows)


def matching(table: str, condition: str, broken: str) -> IntegrityRule:
    """Rows of ``table`` (aliased ``checked``) for which the fixed SQL ``condition`` holds."""
    rows = sql.SQL("SELECT checked.id FROM {table} AS checked WHERE {condition}").format(
        table=sql.Identifier(table), condition=sql.SQL(condition)
    )
    return IntegrityRule(table, broken, rows)


# The rules, by the name the check's id, the H25 recipe and its diagnostic statement use.
RULES: dict[str, IntegrityRule] = {
    "duplicate_customer_emails": repeated_key(
        "customers", "email", "customers repeat the email of an earlier customer (ignoring case)", ignore_case=True
    ),
    "duplicate_product_skus": repeated_key("products", "sku", "products repeat the SKU of an earlier product"),
    "orphan_invoices": dangling_reference(
        "invoices", "customer_id", "customers", "invoices name a customer that does not exist"
    ),
    "orphan_sales_orders": dangling_reference(
        "sales_orders", "customer_id", "customers", "sales orders name a customer that does not exist"
    ),
    "orphan_invoice_payments": dangling_reference(
        "invoice_payments", "invoice_id", "invoices", "invoice payments name an invoice that does not exist"
    ),
    "products_without_zoho_id": matching(
        "products", "coalesce(trim(checked.zoho_item_id), '') = ''", "products have no Zoho item id"
    ),
    "negative_product_prices": matching("products", "checked.price < 0", "products have a negative price"),
    "negative_price_list_prices": matching("product_prices", "checked.price < 0", "price-list prices are negative"),
    "negative_stock": matching("products", "checked.stock_on_hand < 0", "products have a negative stock on hand"),
}


@pytest.mark.parametrize("integrity_rule", list(RULES))
def test_data_integrity_rule_holds(integrity_rule, inventory):
    rule = RULES[integrity_rule]
    query = sql.SQL("SELECT id, count(*) OVER () AS broken FROM ({}) AS rule_rows ORDER BY id LIMIT {}").format(
        rule.broken_rows, sql.Literal(SHOWN_IDS)
    )
    with connect(inventory) as db:
        rows = db.execute(query).fetchall()
    if rows:
        count = rows[0]["broken"]
        raise CheckFailed(
            "integrity",
            f"{count} {rule.broken}",
            count=count,
            table=rule.table,
            ids=[row["id"] for row in rows],
        )


def test_database_and_largest_table_sizes_are_recorded(inventory, record_metric):
    """The database's size and its largest tables' sizes (with indexes and TOAST), as run metrics."""
    with connect(inventory) as db:
        database = db.execute("SELECT pg_database_size(current_database()) AS bytes").fetchone()
        tables = db.execute(
            """
            SELECT c.relname AS table_name, pg_total_relation_size(c.oid) AS bytes
            FROM pg_class AS c
            WHERE c.relkind IN ('r', 'p') AND c.relnamespace = current_schema()::regnamespace
            ORDER BY 2 DESC, 1
            LIMIT %(largest)s
            """,
            {"largest": LARGEST_TABLES},
        ).fetchall()
    if not tables:
        raise CheckFailed("missing", "the target database has no table to measure", database_bytes=database["bytes"])
    record_metric("database_size_bytes", {"total": database["bytes"]})
    record_metric("table_size_bytes", {row["table_name"]: row["bytes"] for row in tables})
