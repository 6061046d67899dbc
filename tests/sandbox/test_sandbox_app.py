"""The ERP app's routes, against the session sandbox (no webhook key)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from sandbox import Sandbox
from sandbox.facts import WEBHOOK_ROUTES

ROUTES = list(WEBHOOK_ROUTES.values())


def test_health_is_compact_cached_json_in_the_real_shape(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=5"
    assert '"status":"healthy"' in response.text
    body = response.json()
    assert set(body) == {"status", "message", "timestamp", "version"}
    assert body["version"] == "1.0.0"
    assert any("\u0600" <= char <= "\u06ff" for char in body["message"])
    assert abs(datetime.fromisoformat(body["timestamp"]) - datetime.now(UTC)) < timedelta(seconds=30)


def test_root_points_to_docs(client: httpx.Client) -> None:
    body = client.get("/").json()
    assert (body["version"], body["docs"]) == ("1.0.0", "/docs")
    assert client.get("/docs").status_code == 200


def test_openapi_lists_every_webhook_route_and_hides_admin(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for route in ROUTES:
        assert "post" in paths[route.path], route.path
    assert "/api/tds/webhooks/health" in paths
    assert "/api/tds/webhooks/stats" in paths
    assert not [path for path in paths if path.startswith("/__sandbox")]


@pytest.mark.parametrize("route", ROUTES, ids=[route.name for route in ROUTES])
def test_webhook_accepts_and_records_event(send_probe, query, queue_row, new_id, route) -> None:
    source_id = new_id()
    response = send_probe(route.name, source_id)
    assert response.status_code == 202
    body = response.json()
    key = f"zoho:{route.tds_entity}:{source_id}:update"
    assert body == {
        "success": True,
        "message": "Event queued for processing",
        "event_id": body["event_id"],
        "idempotency_key": key,
        "queued": True,
    }
    inbox = query("SELECT * FROM tds_inbox_events WHERE id = %s", body["event_id"])
    assert len(inbox) == 1
    assert (inbox[0]["entity_type"], inbox[0]["source_entity_id"], inbox[0]["idempotency_key"]) == (
        route.tds_entity,
        source_id,
        key,
    )
    assert inbox[0]["moved_to_queue"] is True
    row = queue_row(body["event_id"], "completed")
    assert (row["entity_type"], row["operation_type"], row["attempt_count"]) == (route.tds_entity, "update", 0)
    assert row["completed_at"] is not None and row["locked_by"] is None


def test_zoho_module_shape_and_event_type_give_id_and_operation(client, query, queue_row, new_id) -> None:
    source_id = new_id()
    body = {"event_type": "contact.created", "contact": {"contact_id": source_id, "contact_name": "Module Shape"}}
    reply = client.post("/api/tds/webhooks/customers", json=body).json()
    assert reply["idempotency_key"] == f"zoho:customer:{source_id}:create"
    row = queue_row(reply["event_id"], "completed")
    assert row["validated_payload"] == body["contact"]
    customer = query("SELECT id, name FROM customers WHERE zoho_contact_id = %s", source_id)
    assert customer == [{"id": int(row["target_entity_id"]), "name": "Module Shape"}]


def test_worker_upserts_products_by_zoho_item_id(client, query, queue_row) -> None:
    seeded = "4700000000007"
    reply = client.post(
        "/api/tds/webhooks/products",
        json={"entity_id": seeded, "data": {"item_id": seeded, "name": f"Renamed {uuid.uuid4().hex[:6]}", "rate": 9.5}},
    ).json()
    queue_row(reply["event_id"], "completed")
    product = query("SELECT id, name, price FROM products WHERE zoho_item_id = %s", seeded)[0]
    assert product["id"] == 7 and product["name"].startswith("Renamed ") and float(product["price"]) == 9.5


def test_probe_ids_never_reach_erp_tables(send_probe, query, queue_row, new_id) -> None:
    probe_id = new_id("tshprobe-")
    reply = send_probe("customers", probe_id, name="Probe").json()
    assert queue_row(reply["event_id"], "completed")["target_entity_id"] == probe_id
    assert query("SELECT id FROM customers WHERE zoho_contact_id = %s", probe_id) == []


def test_repeat_within_window_is_a_duplicate_and_queues_nothing(send_probe, query, new_id) -> None:
    source_id = new_id()
    first = send_probe("invoices", source_id).json()
    second = send_probe("invoices", source_id)
    assert second.status_code == 202
    assert second.json() == {
        "success": True,
        "message": "Duplicate event already processed: invoice",
        "event_id": first["event_id"],
        "idempotency_key": first["idempotency_key"],
        "queued": False,
    }
    assert query("SELECT count(*) AS n FROM tds_sync_queue WHERE source_entity_id = %s", source_id) == [{"n": 1}]


def test_event_without_source_id_is_refused(client) -> None:
    response = client.post("/api/tds/webhooks/orders", json={"event_type": "update", "data": {}})
    assert response.status_code == 202
    assert response.json() == {
        "success": False,
        "message": "Missing entity id",
        "event_id": None,
        "idempotency_key": None,
        "queued": False,
    }


def test_key_is_not_required_when_none_is_configured(send_probe) -> None:
    response = send_probe("users", headers={"X-Webhook-Key": "anything"})
    assert response.json()["queued"] is True


def test_webhook_health_and_stats_count_recent_traffic(client, query) -> None:
    health = client.get("/api/tds/webhooks/health").json()
    assert (health["status"], health["system"]) == ("healthy", "tds")
    assert health["queue_size"] == query("SELECT count(*) AS n FROM tds_sync_queue")[0]["n"]
    stats = client.get("/api/tds/webhooks/stats").json()
    assert set(stats) == {"received", "processed", "failed", "success_rate"}
    assert stats["received"] == health["webhooks_received_24h"]
    assert 0.0 <= stats["success_rate"] <= 100.0


def test_seed_data_is_deterministic(query) -> None:
    counts = query(
        "SELECT (SELECT count(*) FROM customers WHERE zoho_contact_id LIKE '46000000000__') AS customers,"
        " (SELECT count(*) FROM products WHERE zoho_item_id LIKE '47000000000__') AS products,"
        " (SELECT count(*) FROM invoices) AS invoices, (SELECT count(*) FROM sales_orders) AS orders,"
        " (SELECT version_num FROM alembic_version) AS revision"
    )
    assert counts == [{"customers": 50, "products": 80, "invoices": 30, "orders": 20, "revision": "a1b2c3d4e5f6"}]
    first = query("SELECT zoho_contact_id, name, created_at FROM customers ORDER BY id LIMIT 1")[0]
    assert first == {
        "zoho_contact_id": "4600000000001",
        "name": "Customer 001",
        "created_at": datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
    }


def test_admin_endpoint_switches_flag_faults(client, sandbox: Sandbox) -> None:
    added = client.post("/__sandbox/faults", json={"spec": "webhook-error:prices"})
    assert (added.status_code, added.json()) == (200, {"faults": ["webhook-error:prices"]})
    assert client.get("/__sandbox/faults").json()["faults"] == ["webhook-error:prices"]
    assert sandbox.faults() == ["webhook-error:prices"]
    refused = client.post("/__sandbox/faults", json={"spec": "webhook-error:bills"})
    assert refused.status_code == 400 and "one of: products" in refused.json()["detail"]
    assert client.delete("/__sandbox/faults").json() == {"faults": []}


def test_delete_event_deactivates_the_customer(client, query, queue_row, new_id) -> None:
    source_id = new_id()
    for event_type in ("created", "deleted"):
        body = {"event_type": event_type, "entity_id": source_id, "data": {"contact_id": source_id, "name": "Gone Co"}}
        queue_row(client.post("/api/tds/webhooks/customers", json=body).json()["event_id"], "completed")
    assert query("SELECT is_active FROM customers WHERE zoho_contact_id = %s", source_id) == [{"is_active": False}]
