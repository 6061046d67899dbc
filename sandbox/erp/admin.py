"""``/__sandbox/faults``: switch faults on and off over HTTP (hidden from the schema)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..controller import Sandbox
from ..errors import SandboxError
from ..faults import FAULT_NAMES, FlagFault, parse_fault

router = APIRouter(prefix="/__sandbox", include_in_schema=False)


class FaultRequest(BaseModel):
    spec: str


def _sandbox(request: Request) -> Sandbox:
    return Sandbox.attach(request.app.state.runtime.state_file, require_running=False)


@router.get("/faults")
def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": _sandbox(request).faults(), "available": list(FAULT_NAMES)}


@router.post("/faults")
def add_fault(body: FaultRequest, request: Request, background: BackgroundTasks) -> JSONResponse:
    """Flag faults apply at once (200); service faults after the answer is sent (202)."""
    try:
        fault = parse_fault(body.spec)
    except SandboxError as error:
        raise HTTPException(400, str(error)) from None
    sandbox = _sandbox(request)
    if isinstance(fault.kind, FlagFault):
        sandbox.apply_fault(fault.spec)
        return JSONResponse({"faults": sandbox.faults()})
    # A service fault may stop this very process: answer first, act afterwards.
    background.add_task(sandbox.apply_fault, fault.spec)
    return JSONResponse({"faults": sandbox.faults(), "scheduled": fault.spec}, status_code=202)


@router.delete("/faults")
def clear_faults(request: Request) -> dict[str, Any]:
    sandbox = _sandbox(request)
    sandbox.clear_faults()
    return {"faults": sandbox.faults()}
