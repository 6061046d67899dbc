"""The salesperson BFF routes of the ERP (what the suite's BFF smoke checks call), behind a bearer token.

Protected routes require ``Authorization: Bearer <token>`` (the token is derived
from the sandbox's secrets, see :func:`sandbox.provision.api_token`); the three
``/health`` routes are public. Flag faults act on one path each:
``endpoint-error:<path>`` (the handler fails: 500 after authentication),
``endpoint-slow:<path>:<ms>`` (a delay before answering) and ``auth-open:<path>``
(the route forgets to authenticate).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse

from ..facts import BFF_PREFIX, HEALTH_PATHS, PROTECTED_PATHS
from ..provision import api_token
from ..state import SandboxState, Secrets

router = APIRouter(tags=["BFF salesperson"])


def _bodies() -> dict[str, dict[str, Any]]:
    now = datetime.now(UTC).isoformat()
    return {
        PROTECTED_PATHS[0]: {"pending_locations": 0, "last_sync_at": now, "status": "synced"},
        PROTECTED_PATHS[1]: {"period": "month", "total_sales_iqd": 0, "commission_iqd": 0, "rate": 0.0225},
        PROTECTED_PATHS[2]: {"pending": 0, "completed": 0, "total_amount_iqd": 0},
    }


async def _answer(request: Request, path: str, protected: bool) -> JSONResponse:
    runtime = request.app.state.runtime
    faults = runtime.faults
    if protected and not faults.is_active("auth-open", path):
        _authenticate(request, runtime)
    delays = [spec.removeprefix(f"{path}:") for spec in faults.arguments_of("endpoint-slow")]
    delay_ms = max((int(ms) for ms in delays if ms.isdigit()), default=0)
    if delay_ms:
        await asyncio.sleep(delay_ms / 1000)
    if faults.is_active("endpoint-error", path):
        # Answered, not raised: a raised error makes uvicorn drop the keep-alive connection.
        return JSONResponse({"detail": "Internal Server Error"}, status_code=500)
    body = _bodies()[path] if protected else {"status": "healthy", "service": path.split("/")[-2]}
    return JSONResponse(body)


def _authenticate(request: Request, runtime) -> None:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    expected = _expected_token(runtime.state_file)
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})


@functools.cache
def _expected_token(state_file: Path) -> str:
    secrets = Secrets.load(SandboxState.load(state_file).layout.secrets_file)
    return api_token(secrets.db_password)


def _register(path: str, protected: bool) -> None:
    async def endpoint(request: Request) -> JSONResponse:
        return await _answer(request, path, protected)

    router.add_api_route(path, endpoint, methods=["GET"], name=path.removeprefix(BFF_PREFIX + "/"))


for _path in PROTECTED_PATHS:
    _register(_path, protected=True)
for _path in HEALTH_PATHS:
    _register(_path, protected=False)
