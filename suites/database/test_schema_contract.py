"""db.tds_schema and db.entity_tables: every table and column of the inventory's schema contract exists as typed.

The expected type of a column is its ``information_schema`` ``data_type`` or
``udt_name`` (``text``, ``timestamp with time zone``, ``tds_event_status``);
``any`` only requires the column.
"""

from __future__ import annotations

import pytest

from fixtures.db import connect
from fixtures.failures import CheckFailed

pytestmark = [pytest.mark.staging, pytest.mark.production, pytest.mark.database]

ANY_TYPE = "any"


def test_schema_matches_contract(schema_table, inventory):
    expected = inventory.database.schema_contract[schema_table]
    with connect(inventory) as db:
        present = db.execute(
            "SELECT count(*) AS n FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = %s",
            (schema_table,),
        ).fetchone()["n"]
        columns = {
            row["column_name"]: {row["data_type"], row["udt_name"]}
            for row in db.execute(
                "SELECT column_name, data_type, udt_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s",
                (schema_table,),
            ).fetchall()
        }
    if not present:
        raise CheckFailed("missing", f"table {schema_table} does not exist", missing_table=schema_table)
    missing = [column for column in expected if column not in columns]
    mismatched = [
        {"column": column, "expected": wanted, "actual": sorted(columns[column])}
        for column, wanted in expected.items()
        if column in columns and wanted != ANY_TYPE and wanted not in columns[column]
    ]
    if missing or mismatched:
        raise CheckFailed(
            "missing",
            f"table {schema_table} does not match the schema contract",
            missing_columns=missing or None,
            type_mismatches=mismatched or None,
        )
