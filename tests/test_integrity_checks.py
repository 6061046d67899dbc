"""The data-integrity checks in the whole production stage, run against the sandbox as production.

The ``production`` fixture runs the shipped ``targets/production.toml`` with its
variables pointed at the sandbox (``tests/production_stage.py``). Each
integrity fault fails exactly its rule's check in the whole stage, with kind
``integrity``, recipe H25 and the broken rows' ids, and nothing the run does
changes a row of the database.
"""

from __future__ import annotations

import pytest
from expected import schema
from production_stage import passed, run_sql, table_fingerprints
from suite_runner import assert_no_secret_in

from remedies.catalog import load_sql_library

INTEGRITY = "suites/integrity/test_data_integrity.py"
RULES = [
    "duplicate_customer_emails", "duplicate_product_skus", "orphan_invoices", "orphan_sales_orders",
    "orphan_invoice_payments", "products_without_zoho_id", "negative_product_prices", "negative_price_list_prices",
    "negative_stock",
]  # fmt: skip
SIZES = f"{INTEGRITY}::test_database_and_largest_table_sizes_are_recorded"
SHOWN_IDS = 20


def rule_check(rule: str) -> str:
    return f"{INTEGRITY}::test_data_integrity_rule_holds[{rule}]"


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "two-workers"])
def test_healthy_sandbox_passes_the_whole_production_stage_and_nothing_is_written(
    production, healthy_sandbox, workers
):
    before = table_fingerprints(healthy_sandbox)
    run = production("-rA", *workers)
    assert run.exit_code == 0, run.output
    # The production sessions are read-only: checked by the stage itself, on the target's own connection.
    assert "suites/database/test_connection.py::test_database_sessions_are_read_only" in passed(run)
    assert run.findings["target"] == "production"
    assert run.findings["failures"] == []
    assert {*map(rule_check, RULES), SIZES} <= passed(run)
    assert run.findings["database_size_bytes"]["total"] > 0
    sizes = run.findings["table_size_bytes"]
    assert len(sizes) == 10 and {"customers", "products", "invoices"} <= set(sizes), sizes
    assert f"database_size_bytes: total {run.findings['database_size_bytes']['total']}" in run.output
    # Read-only sessions on production: not one row of any table changed.
    assert table_fingerprints(healthy_sandbox) == before


# fault -> (rule, table, the ids of the rows it breaks)
INTEGRITY_FAULTS = {
    "duplicate-emails:3": ("duplicate_customer_emails", "customers", [48, 49, 50]),
    "duplicate-skus:2": ("duplicate_product_skus", "products", [79, 80]),
    "orphan-invoices:4": ("orphan_invoices", "invoices", [27, 28, 29, 30]),
}


@pytest.mark.parametrize("fault", list(INTEGRITY_FAULTS))
def test_integrity_fault_fails_exactly_its_rule_in_the_whole_production_stage(production, healthy_sandbox, fault):
    rule, table, ids = INTEGRITY_FAULTS[fault]
    healthy_sandbox.apply_fault(fault)
    assert healthy_sandbox.faults() == [fault]
    before = table_fingerprints(healthy_sandbox)
    run = production("--heal", "--heal-approve", "H25")
    assert run.exit_code == 1, run.output
    assert run.outcomes() == {rule_check(rule): ("integrity", "H25", None)}
    assert run.evidence(rule_check(rule)) == {"count": len(ids), "table": table, "ids": ids}
    # Approved on production, the diagnostic lists the same rows, read-only; listing them heals nothing.
    diagnostic = [entry for entry in run.ledger() if entry["action"] == "sql"]
    assert [(entry["description"], entry["result"], entry["rows"]) for entry in diagnostic] == [
        (f"sql integrity_rule_rows (rule={rule}, read-only)", "ok", len(ids))
    ]
    assert all(f"row_id={row_id}," in diagnostic[0]["detail"] for row_id in ids)
    assert not any(f["healed"] for f in run.findings["failures"])
    assert table_fingerprints(healthy_sandbox) == before
    assert_no_secret_in(run)


# What breaks every other rule by hand, in one session without foreign-key checks; the NULL and blank
# emails, the blank Zoho id and the invoice without a customer are the cases a careless query gets wrong.
BREAK_EVERY_OTHER_RULE = [
    "UPDATE sales_orders SET customer_id = 1000 + id WHERE id IN (19, 20)",
    "INSERT INTO invoice_payments (payment_number, invoice_id, amount) VALUES ('PAY-1', 1, 10), ('PAY-2', 999, 5)",
    "UPDATE products SET zoho_item_id = NULL WHERE id = 5",
    "UPDATE products SET zoho_item_id = ' ' WHERE id = 6",
    "UPDATE products SET price = -1 WHERE id = 7",
    "UPDATE products SET stock_on_hand = -4 WHERE id = 8",
    "INSERT INTO pricelists (code, name) VALUES ('consumer_iqd', 'Consumer')",
    "INSERT INTO product_prices (product_id, pricelist_id, price) VALUES (1, 1, 5), (2, 1, -3)",
    "UPDATE customers SET email = NULL WHERE id IN (21, 22)",
    "UPDATE customers SET email = '' WHERE id IN (23, 24)",
    "UPDATE invoices SET customer_id = NULL WHERE id = 1",
]
# rule -> (count, the first ids)
EVERY_RULE_BROKEN = {
    "duplicate_customer_emails": (20, list(range(31, 51))),
    "duplicate_product_skus": (40, list(range(41, 41 + SHOWN_IDS))),
    "orphan_invoices": (4, [27, 28, 29, 30]),
    "orphan_sales_orders": (2, [19, 20]),
    "orphan_invoice_payments": (1, [2]),
    "products_without_zoho_id": (2, [5, 6]),
    "negative_product_prices": (1, [7]),
    "negative_price_list_prices": (1, [2]),
    "negative_stock": (1, [8]),
}


def test_every_rule_fails_with_its_rows_and_the_diagnostic_lists_the_same_rows(production, healthy_sandbox):
    for fault in ("duplicate-emails:20", "duplicate-skus:40", "orphan-invoices:4"):
        healthy_sandbox.apply_fault(fault)
    for statement in BREAK_EVERY_OTHER_RULE:
        run_sql(healthy_sandbox, statement, options="-c session_replication_role=replica")
    # Only the integrity checks: a product without its Zoho id also fails the Zoho parity of items.
    run = production(INTEGRITY)
    assert run.exit_code == 1, run.output
    assert run.outcomes() == {rule_check(rule): ("integrity", "H25", None) for rule in RULES}
    assert {rule: (e["count"], e["ids"]) for rule in RULES for e in [run.evidence(rule_check(rule))]} == (
        EVERY_RULE_BROKEN
    )
    listed = load_sql_library()["integrity_rule_rows"].sql
    for rule, (count, ids) in EVERY_RULE_BROKEN.items():
        rows = run_sql(healthy_sandbox, listed, {"rule": rule}, options="-c default_transaction_read_only=on")
        assert (len(rows), [row[2] for row in rows][:SHOWN_IDS]) == (count, ids), rule


def test_a_missing_table_is_the_root_of_the_rule_that_reads_it(production, healthy_sandbox):
    healthy_sandbox.apply_fault("missing-table:invoice_payments")
    run = production()
    assert run.exit_code == 1, run.output
    root = schema("invoice_payments")
    assert run.outcomes() == {
        root: ("missing", "H19", None),
        rule_check("orphan_invoice_payments"): ("missing", "H19", root),
    }
