"""The sandbox's TSH ERP app: ``uvicorn sandbox.erp.app:create_app --factory``.

It serves the real TSH ERP's route shapes (``/health``, the TDS webhooks and
their monitoring endpoints, the salesperson BFF, read routes on customers,
products and invoices) and finds its sandbox through ``$TSH_SANDBOX_STATE``;
``$WEBHOOK_API_KEY``, when set, is required on every webhook. Every GET
operation passes :func:`.gate.gate` before its handler.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from ..facts import WEBHOOK_ROUTES
from . import admin, bff, records, webhooks
from .app_log import ErrorSpikeLog, open_app_log
from .gate import gate
from .runtime import AppRuntime

VERSION = "1.0.0"
HEALTH_MESSAGE = "نظام TSH ERP يعمل بشكل طبيعي"  # "TSH ERP is running normally"


def create_app() -> FastAPI:
    """Build the app for the sandbox named by ``$TSH_SANDBOX_STATE``."""
    runtime = AppRuntime.from_environment()
    app = FastAPI(
        title="TSH ERP Ecosystem", version=VERSION, description="TSH ERP (sandbox)", dependencies=[Depends(gate)]
    )
    app.state.runtime = runtime
    slot = os.environ.get("TSH_DEPLOYMENT_SLOT", "")

    @app.middleware("http")
    async def name_the_slot(request: Request, call_next):
        """Each blue/green slot names itself on every answer, as the real slots' containers are told apart."""
        response = await call_next(request)
        if slot:
            response.headers["X-TSH-Slot"] = slot
        return response

    @app.get("/", tags=["System"])
    async def root() -> dict[str, str]:
        return {"message": "TSH ERP Ecosystem API", "version": VERSION, "docs": "/docs"}

    @app.get("/health", tags=["System"])
    async def health() -> JSONResponse:
        """Liveness only: never touches the database."""
        body = {
            "status": "healthy",
            "message": HEALTH_MESSAGE,
            "timestamp": datetime.now(UTC).isoformat(),
            "version": VERSION,
        }
        return JSONResponse(body, headers={"Cache-Control": "max-age=5"})

    app.include_router(webhooks.router)
    app.include_router(admin.router)
    app.include_router(bff.router)
    app.include_router(records.router)
    app.add_exception_handler(Exception, _internal_error)
    logger = open_app_log(runtime.app_log_file)
    app.add_middleware(ErrorSpikeLog, faults=runtime.faults, logger=logger)
    logger.info("TSH ERP app %s started", VERSION)
    # Regenerated on every request, so webhook-missing takes its route out at once.
    app.openapi = lambda: _openapi_without_missing_routes(app, runtime)
    return app


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


def _openapi_without_missing_routes(app: FastAPI, runtime: AppRuntime) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for name in runtime.faults.arguments_of("webhook-missing"):
        if name in WEBHOOK_ROUTES:
            schema["paths"].pop(WEBHOOK_ROUTES[name].path, None)
    return schema
