"""Integrity faults on the sandbox's ERP tables: seeded rows broken against a rule the schema does not enforce.

Double imports leave customers with another customer's email (in another case)
and products with another product's SKU; a replay or restore run with the
foreign-key triggers off (``session_replication_role = replica``, as
``pg_restore --disable-triggers`` does) leaves invoices naming customers that
do not exist. Each fault changes existing rows only (no count, id or
``updated_at`` changes), so the Zoho parity and freshness checks are not
touched. The sandbox's reset restores the database from its template, which
takes every change back; the faults report themselves by counting the rows
that break their rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from .base import Fault, FaultTarget, FaultView
from .data import DataFault, _run_sql, check_row_count

# A session whose writes fire no foreign-key trigger (superusers only; the sandbox's role is one).
WITHOUT_FOREIGN_KEYS = "-c session_replication_role=replica"


@dataclass(frozen=True, kw_only=True)
class IntegrityFault(DataFault):
    """``break_sql`` breaks ``<count>`` rows (at most ``max_count``); ``broken_sql`` counts the broken rows now."""

    break_sql: sql.Composed
    broken_sql: sql.Composed
    max_count: int
    without_foreign_keys: bool = False
    argument_usage: str = "<count>"

    def check_argument(self, argument: str | None) -> None:
        check_row_count(self.name, argument, self.max_count)

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        options = WITHOUT_FOREIGN_KEYS if self.without_foreign_keys else ""
        _run_sql(target, self.break_sql, {"count": int(str(fault.argument))}, options=options)

    def active_specs(self, target: FaultView) -> list[str]:
        broken = _run_sql(target, self.broken_sql)[0][0]
        return [f"{self.name}:{broken}"] if broken else []


def copied_key(
    name: str, summary: str, table: str, column: str, *, upper_case: bool = False, max_count: int
) -> IntegrityFault:
    """The last ``<count>`` rows by id take the ``column`` value of the first ``<count>`` rows.

    ``max_count`` is half the seeded rows, so no copied value is itself overwritten.
    """
    identifiers = {"table": sql.Identifier(table), "column": sql.Identifier(column)}
    copied = sql.SQL("upper(original.value)" if upper_case else "original.value")
    compared = sql.SQL("lower({})" if upper_case else "{}")
    break_sql = sql.SQL(
        """
        WITH ranked AS (
            SELECT id, {column} AS value, row_number() OVER (ORDER BY id) AS ordinal, count(*) OVER () AS total
            FROM {table}
        )
        UPDATE {table} AS changed SET {column} = {copied}
        FROM ranked AS duplicate
        JOIN ranked AS original ON original.ordinal = duplicate.ordinal - (duplicate.total - %(count)s)
        WHERE changed.id = duplicate.id AND duplicate.ordinal > duplicate.total - %(count)s
        """
    ).format(copied=copied, **identifiers)
    broken_sql = sql.SQL(
        "SELECT count(*) FROM {table} AS later WHERE EXISTS (SELECT 1 FROM {table} AS earlier"
        " WHERE earlier.id < later.id AND {earlier_value} = {later_value})"
    ).format(
        earlier_value=compared.format(sql.Identifier("earlier", column)),
        later_value=compared.format(sql.Identifier("later", column)),
        **identifiers,
    )
    return IntegrityFault(name=name, summary=summary, break_sql=break_sql, broken_sql=broken_sql, max_count=max_count)


_ORPHANS_SQL = sql.SQL(
    """
    UPDATE invoices SET customer_id = customer_id + (SELECT max(id) FROM customers)
    WHERE id IN (SELECT id FROM invoices ORDER BY id DESC LIMIT %(count)s)
    """
)
_ORPHANED_SQL = sql.SQL(
    "SELECT count(*) FROM invoices AS invoice WHERE invoice.customer_id IS NOT NULL"
    " AND NOT EXISTS (SELECT 1 FROM customers AS customer WHERE customer.id = invoice.customer_id)"
)

KINDS = (
    copied_key(
        "duplicate-emails",
        "<count> customers take an earlier customer's email, in upper case (at most 25)",
        "customers",
        "email",
        upper_case=True,
        max_count=25,
    ),
    copied_key(
        "duplicate-skus", "<count> products take an earlier product's SKU (at most 40)", "products", "sku", max_count=40
    ),
    IntegrityFault(
        name="orphan-invoices",
        summary="<count> invoices name customers that do not exist, written without foreign-key checks (at most 30)",
        break_sql=_ORPHANS_SQL,
        broken_sql=_ORPHANED_SQL,
        max_count=30,
        without_foreign_keys=True,
    ),
)
