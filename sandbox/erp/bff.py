"""The salesperson BFF routes of the ERP (what the suite's BFF smoke checks call), behind a bearer token.

Protected routes require ``Authorization: Bearer <token>`` (checked by
:mod:`.gate`, which also acts out ``auth-open:<path>``); the three ``/health``
routes are public. Flag faults act on one path each: ``endpoint-error:<path>``
(the handler fails: 500 after authentication) and ``endpoint-slow:<path>:<ms>``
(a delay before answering).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse

from ..facts import BFF_PREFIX, HEALTH_PATHS, PROTECTED_PATHS
from .gate import BEARER

router = APIRouter(tags=["BFF salesperson"])


def _bodies() -> dict[str, dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return {
        PROTECTED_PATHS[0]: {"pending_locations": 0, "last_sync_at": now, "status": "synced"},
        PROTECTED_PATHS[1]: {"period": "month", "total_sales_iqd": 0, "commission_iqd": 0, "rate": 0.0225},
        PROTECTED_PATHS[2]: {"pending": 0, "completed": 0, "total_amount_iqd": 0},
    }


async def _answer(request: Request, path: str, protected: bool) -> JSONResponse:
    faults = request.app.state.runtime.faults
    delays = [spec.removeprefix(f"{path}:") for spec in faults.arguments_of("endpoint-slow")]
    delay_ms = max((int(ms) for ms in delays if ms.isdigit()), default=0)
    if delay_ms:
        await asyncio.sleep(delay_ms / 1000)
    if faults.is_active("endpoint-error", path):
        # Answered, not raised: a raised error makes uvicorn drop the keep-alive connection.
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
    body = _bodies()[path] if protected else {"status": "healthy", "service": path.split("/")[-2]}
    return JSONResponse(body)


def _register(path: str, protected: bool) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return await _answer(request, path, protected)

    router.add_api_route(
        path,
        endpoint,
        methods=["GET"],
        name=path.removeprefix(BFF_PREFIX + "/"),
        dependencies=[Security(BEARER)] if protected else [],
    )


for _path in PROTECTED_PATHS:
    _register(_path, protected=True)
for _path in HEALTH_PATHS:
    _register(_path, protected=False)
