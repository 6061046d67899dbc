"""zoho.count_parity and zoho.timestamp_lag: the ERP holds what Zoho holds, and is not behind it."""

from __future__ import annotations

from datetime import datetime

import pytest
from psycopg import sql

from fixtures.db import connect
from fixtures.failures import CheckFailed
from fixtures.zoho import difference_ratio, lag_hours

pytestmark = [pytest.mark.staging, pytest.mark.zoho]

# Entities with production = true in the inventory run these in the production stage too.
PRODUCTION_CHECKS = ("test_zoho_count_matches_erp",)
SHOWN_IDS = 20
SYNC_REPORT = "zoho_sync_report.txt"
TIMESTAMP_REPORT = "zoho_timestamp_report.txt"


def test_zoho_count_matches_erp(zoho_entity, inventory, zoho_client, report_line):
    entity = inventory.zoho.entities[zoho_entity]
    erp_ids = _erp_ids(inventory, entity)
    # The ERP's count bounds how many pages Zoho may claim to have.
    zoho_ids = set(zoho_client.list_ids(entity, expected_records=len(erp_ids)))
    ratio = difference_ratio(len(zoho_ids), len(erp_ids))
    limit = inventory.zoho.drift_threshold_percent / 100
    verdict = (
        f"🚨 ALERT {zoho_entity}: {abs(len(zoho_ids) - len(erp_ids))} records difference ({ratio:.1%})"
        if ratio > limit
        else f"✅ {zoho_entity}: Zoho {len(zoho_ids)}, ERP {entity.table} {len(erp_ids)}, "
        f"{abs(len(zoho_ids) - len(erp_ids))} difference ({ratio:.1%})"
    )
    report_line(SYNC_REPORT, verdict)
    if ratio > limit:
        raise CheckFailed(
            "drift",
            f"Zoho {entity.list} and ERP {entity.table} differ by {ratio:.1%} (limit {limit:.0%})",
            zoho_count=len(zoho_ids),
            erp_count=len(erp_ids),
            difference_percent=round(ratio * 100, 2),
            missing_in_erp=sorted(zoho_ids - erp_ids)[:SHOWN_IDS],
            missing_in_zoho=sorted(erp_ids - zoho_ids)[:SHOWN_IDS],
        )


def test_erp_is_fresh_against_zoho(zoho_entity, inventory, zoho_client, report_line):
    entity = inventory.zoho.entities[zoho_entity]
    zoho_newest = zoho_client.newest_modified(entity)
    erp_newest = _erp_newest(inventory, entity)
    lag = lag_hours(zoho_newest, erp_newest)
    limit = inventory.zoho.stale_after_hours
    shown = {"zoho_newest": _shown(zoho_newest), "erp_newest": _shown(erp_newest)}
    report_line(TIMESTAMP_REPORT, f"✅ Zoho Last {zoho_entity} Update: {shown['zoho_newest']}")
    report_line(TIMESTAMP_REPORT, f"✅ ERP Last {entity.table} Update: {shown['erp_newest']}")
    if lag is not None and lag > limit:
        report_line(TIMESTAMP_REPORT, f"🚨 ALERT {zoho_entity}: ERP is {lag:.2f} hours behind Zoho")
        raise CheckFailed(
            "stale",
            f"ERP {entity.table} is {lag:.2f} h behind Zoho {entity.list} (limit {limit:g} h)",
            lag_hours=round(lag, 2),
            limit_hours=limit,
            **shown,
        )
    report_line(TIMESTAMP_REPORT, f"Sync OK {zoho_entity}: {abs(lag or 0):.2f} hours difference")


def _erp_ids(inventory, entity) -> set[str]:
    query = sql.SQL("SELECT {id}::text AS id FROM {table} WHERE {id} IS NOT NULL").format(
        id=sql.Identifier(entity.id_column), table=sql.Identifier(entity.table)
    )
    if entity.active_column:
        query += sql.SQL(" AND {active}").format(active=sql.Identifier(entity.active_column))
    with connect(inventory) as db:
        return {row["id"] for row in db.execute(query).fetchall()}


def _erp_newest(inventory, entity) -> datetime | None:
    query = sql.SQL(
        "SELECT max(greatest(updated_at, created_at)) AS newest FROM {table} WHERE {id} IS NOT NULL"
    ).format(id=sql.Identifier(entity.id_column), table=sql.Identifier(entity.table))
    with connect(inventory) as db:
        return db.execute(query).fetchone()["newest"]


def _shown(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %z") if moment else "none"
