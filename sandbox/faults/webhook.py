"""Flag faults on the ERP app's webhook routes (``NAME:<route>``); sandbox/erp/webhooks.py acts them out."""

from __future__ import annotations

from ..facts import WEBHOOK_ROUTES
from .base import FlagFault

ROUTE_NAMES = tuple(WEBHOOK_ROUTES)

KINDS = (
    FlagFault(
        name="webhook-timeout",
        summary="the entity's webhook route waits 120 s before answering",
        arguments=ROUTE_NAMES,
    ),
    FlagFault(
        name="webhook-error",
        summary="the entity's webhook route answers 500",
        arguments=ROUTE_NAMES,
    ),
    FlagFault(
        name="webhook-reject",
        summary="the entity's webhook route answers 202 with success false and stores nothing",
        arguments=ROUTE_NAMES,
    ),
    FlagFault(
        name="webhook-unrecorded",
        summary="the entity's webhook route answers 202 queued true but stores nothing",
        arguments=ROUTE_NAMES,
    ),
    FlagFault(
        name="webhook-missing",
        summary="the entity's webhook route answers 404 and leaves /openapi.json",
        arguments=ROUTE_NAMES,
    ),
)
