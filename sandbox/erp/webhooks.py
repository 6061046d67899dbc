"""``/api/tds/webhooks``: the nine Zoho webhook routes and the TDS monitoring endpoints.

A webhook is answered 202 with ``success``, ``message``, ``event_id``,
``idempotency_key`` and ``queued``, as the real TDS webhooks answer. A new event writes one
``tds_inbox_events`` row and one ``tds_sync_queue`` row in one transaction; a
repeat of the same idempotency key within 10 minutes writes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import uuid4

import psycopg
from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from ..facts import WEBHOOK_PREFIX, WEBHOOK_ROUTES, WebhookRoute
from .runtime import AppRuntime

log = logging.getLogger("sandbox.webhooks")

TIMEOUT_FAULT_SECONDS = 120
# Never stored with the event: they carry credentials.
SECRET_HEADERS = frozenset({"x-webhook-key", "authorization", "cookie"})

# A repeat of the same idempotency key within this window is a duplicate.
FIND_DUPLICATE_SQL = """
SELECT id FROM tds_inbox_events
 WHERE idempotency_key = %s AND received_at > now() - interval '10 minutes'
 ORDER BY received_at DESC
 LIMIT 1
"""

INSERT_INBOX_SQL = """
INSERT INTO tds_inbox_events
       (source_type, entity_type, source_entity_id, raw_payload, idempotency_key, content_hash,
        webhook_headers, signature_verified, ip_address, is_valid, moved_to_queue)
VALUES ('zoho', %(entity)s::tds_entity_type, %(source_id)s, %(payload)s, %(key)s, %(hash)s,
        %(headers)s, false, %(ip)s, true, true)
RETURNING id
"""

INSERT_QUEUE_SQL = """
INSERT INTO tds_sync_queue
       (inbox_event_id, entity_type, source_entity_id, operation_type, validated_payload, status)
VALUES (%(inbox_id)s, %(entity)s::tds_entity_type, %(source_id)s, %(operation)s::tds_operation_type,
        %(record)s, 'pending')
"""

HEALTH_SQL = """
SELECT (SELECT count(*) FROM tds_inbox_events WHERE received_at > now() - interval '24 hours'),
       (SELECT count(*) FROM tds_sync_queue)
"""

STATS_SQL = """
SELECT (SELECT count(*) FROM tds_inbox_events WHERE received_at > now() - interval '24 hours'),
       (SELECT count(*) FROM tds_sync_queue
         WHERE status = 'completed' AND created_at > now() - interval '24 hours'),
       (SELECT count(*) FROM tds_sync_queue
         WHERE status IN ('failed', 'retry', 'dead_letter') AND created_at > now() - interval '24 hours')
"""

router = APIRouter(prefix=WEBHOOK_PREFIX, tags=["TDS Webhooks"])


class ZohoWebhook(BaseModel):
    """A Zoho webhook body: every field optional, unknown fields kept."""

    model_config = ConfigDict(extra="allow")

    event_type: str | None = None
    entity_id: str | int | None = None
    entity_type: str | None = None
    organization_id: str | int | None = None
    data: dict[str, Any] | None = None
    item: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    invoice: dict[str, Any] | None = None
    salesorder: dict[str, Any] | None = None

    def record(self, route: WebhookRoute) -> dict[str, Any]:
        """The entity's record: ``data``, else the Zoho module object, else empty."""
        module_object = getattr(self, route.module_key) if route.module_key else None
        return self.data or module_object or {}

    def source_id(self, route: WebhookRoute) -> str | None:
        """Top-level ``entity_id``, else the id field of ``data``, else of the module object."""
        module_object = getattr(self, route.module_key) if route.module_key else None
        candidates = (self.entity_id, (self.data or {}).get(route.id_field), (module_object or {}).get(route.id_field))
        return next((str(candidate) for candidate in candidates if candidate not in (None, "")), None)

    def operation(self) -> str:
        """create, delete or update, from the last word of ``event_type`` (``contact.created``)."""
        verb = re.split(r"[._\s]+", (self.event_type or "").strip().lower())[-1]
        return {"create": "create", "created": "create", "delete": "delete", "deleted": "delete"}.get(verb, "update")


class WebhookReply(BaseModel):
    """The 202 body of every webhook route."""

    success: bool
    message: str
    event_id: str | None = None
    idempotency_key: str | None = None
    queued: bool = False


def _reply(**fields: Any) -> JSONResponse:
    return JSONResponse(WebhookReply(**fields).model_dump(), status_code=202)


def _runtime(request: Request) -> AppRuntime:
    return request.app.state.runtime


def _gate(route: WebhookRoute) -> Callable[..., Awaitable[None]]:
    """The checks made before the body is looked at: route faults and the webhook key."""

    async def check_route(request: Request, x_webhook_key: Annotated[str | None, Header()] = None) -> None:
        runtime = _runtime(request)
        if runtime.faults.is_active("webhook-missing", route.name):
            raise HTTPException(404, "Not Found")
        if runtime.webhook_key and not hmac.compare_digest(
            (x_webhook_key or "").encode(), runtime.webhook_key.encode()
        ):
            raise HTTPException(401, "Invalid or missing webhook API key")
        if runtime.faults.is_active("webhook-timeout", route.name):
            await asyncio.sleep(TIMEOUT_FAULT_SECONDS)
        if runtime.faults.is_active("webhook-error", route.name):
            raise HTTPException(500, "Internal Server Error")

    return check_route


async def receive_webhook(route: WebhookRoute, event: ZohoWebhook, request: Request) -> JSONResponse:
    """Record the event in the inbox and the queue, unless it is a recent duplicate."""
    runtime = _runtime(request)
    source_id = event.source_id(route)
    if source_id is None:
        return _reply(success=False, message="Missing entity id")
    operation = event.operation()
    key = f"zoho:{route.tds_entity}:{source_id}:{operation}"
    if runtime.faults.is_active("webhook-reject", route.name):
        return _reply(success=False, message="Event rejected: validation failed", idempotency_key=key)
    if runtime.faults.is_active("webhook-unrecorded", route.name):
        return _reply(
            success=True, message="Event queued for processing", event_id=str(uuid4()), idempotency_key=key, queued=True
        )

    raw_body = await request.body()
    values = {
        "entity": route.tds_entity,
        "source_id": source_id,
        "operation": operation,
        "key": key,
        "payload": Jsonb(await request.json()),
        "record": Jsonb(event.record(route)),
        "hash": hashlib.sha256(raw_body).hexdigest(),
        "headers": Jsonb({name: value for name, value in request.headers.items() if name not in SECRET_HEADERS}),
        "ip": request.client.host if request.client else None,
    }
    try:
        async with await runtime.connect() as conn, conn.transaction():
            # Serialise events with the same key so two concurrent repeats cannot both be queued.
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [key])
            duplicate = await (await conn.execute(FIND_DUPLICATE_SQL, [key])).fetchone()
            if duplicate:
                return _reply(
                    success=True,
                    message=f"Duplicate event already processed: {route.tds_entity}",
                    event_id=str(duplicate[0]),
                    idempotency_key=key,
                )
            (inbox_id,) = await (await conn.execute(INSERT_INBOX_SQL, values)).fetchone()
            await conn.execute(INSERT_QUEUE_SQL, {**values, "inbox_id": inbox_id})
    except psycopg.Error as error:
        # As the real route does: logged, and answered 500 (the connection stays open).
        log.error("webhook processing failed: %s (%s)", type(error).__name__, route.name)
        raise HTTPException(500, "Webhook processing failed") from None
    return _reply(
        success=True, message="Event queued for processing", event_id=str(inbox_id), idempotency_key=key, queued=True
    )


def _add_webhook_route(route: WebhookRoute) -> None:
    async def receive(event: ZohoWebhook, request: Request) -> JSONResponse:
        return await receive_webhook(route, event, request)

    router.add_api_route(
        f"/{route.name}",
        receive,
        methods=["POST"],
        status_code=202,
        response_model=WebhookReply,
        dependencies=[Depends(_gate(route))],
        name=f"{route.name}_webhook",
        summary=f"Receive a Zoho {route.tds_entity} webhook",
    )


for _route in WEBHOOK_ROUTES.values():
    _add_webhook_route(_route)


def _now() -> str:
    return datetime.now(UTC).isoformat()


@router.get("/health")
async def webhooks_health(request: Request) -> dict[str, Any]:
    """TDS webhook health: 200 always; status "error" when the database is unreachable."""
    health: dict[str, Any] = {"status": "healthy"}
    try:
        async with await _runtime(request).connect() as conn:
            received, queue_size = await (await conn.execute(HEALTH_SQL)).fetchone()
    except psycopg.Error:
        health = {"status": "error", "error": "database unavailable"}
        received = queue_size = None
    return {**health, "webhooks_received_24h": received, "queue_size": queue_size, "system": "tds", "timestamp": _now()}


@router.get("/stats")
async def webhooks_stats(request: Request) -> dict[str, Any]:
    """Events received, processed and failed over 24 h; success_rate in percent (100 with no traffic)."""
    async with await _runtime(request).connect() as conn:
        received, processed, failed = await (await conn.execute(STATS_SQL)).fetchone()
    success_rate = round(100.0 * processed / received, 2) if received else 100.0
    return {"received": received, "processed": processed, "failed": failed, "success_rate": success_rate}
