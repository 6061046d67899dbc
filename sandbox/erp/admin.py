"""``/__sandbox/faults``: switch faults on and off over HTTP (hidden from the schema).

The app never imports its supervisor. A flag fault goes straight into the fault
store; every other fault (a stopped service, an edited env file, changed rows)
is applied by the supervisor's own CLI, ``python -m sandbox fault add SPEC
--state FILE``, run in a session of its own once the answer is sent: a service
fault may stop this very app.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ..errors import SandboxError
from ..facts import PACKAGE_NAME, PROJECT_ROOT
from ..faults import FAULT_NAMES, FaultStore, FlagFault, active_faults, parse_fault
from ..state import SandboxState
from .runtime import AppRuntime

router = APIRouter(prefix="/__sandbox", include_in_schema=False)


class FaultRequest(BaseModel):
    spec: str


@dataclass(frozen=True)
class SandboxView:
    """The sandbox as its app sees it: enough to tell which faults are in effect."""

    runtime: AppRuntime

    @property
    def fault_store(self) -> FaultStore:
        return self.runtime.faults

    @property
    def db_url(self) -> str:
        return self.runtime.db_url

    @property
    def home(self) -> Path:
        return self._state().home

    def status(self) -> dict[str, str]:
        return self._state().status()

    def _state(self) -> SandboxState:
        return SandboxState.load(self.runtime.state_file)


def _view(request: Request) -> SandboxView:
    return SandboxView(request.app.state.runtime)


def apply_through_supervisor(spec: str, state_file: Path) -> None:
    """Start ``python -m sandbox fault add SPEC --state FILE`` without waiting for it.

    It runs in its own session, so stopping the app's process group does not
    stop it too; a thread reaps it without holding up the app's shutdown. Its
    output goes to the app's log.
    """
    command = [sys.executable, "-m", PACKAGE_NAME, "fault", "add", spec, "--state", str(state_file)]
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL, cwd=PROJECT_ROOT, start_new_session=True)
    threading.Thread(target=child.wait, name=f"fault add {spec}", daemon=True).start()


@router.get("/faults")
def list_faults(request: Request) -> dict[str, Any]:
    return {"faults": active_faults(_view(request)), "available": list(FAULT_NAMES)}


@router.post("/faults")
def add_fault(body: FaultRequest, request: Request, background: BackgroundTasks) -> JSONResponse:
    """Flag faults apply at once (200); the others after the answer is sent (202)."""
    try:
        fault = parse_fault(body.spec)
    except SandboxError as error:
        raise HTTPException(400, str(error)) from None
    view = _view(request)
    if isinstance(fault.kind, FlagFault):
        view.fault_store.add(fault)
        return JSONResponse({"faults": active_faults(view)})
    background.add_task(apply_through_supervisor, fault.spec, view.runtime.state_file)
    return JSONResponse({"faults": active_faults(view), "scheduled": fault.spec}, status_code=202)


@router.delete("/faults")
def clear_faults(request: Request) -> dict[str, Any]:
    view = _view(request)
    view.fault_store.clear()
    return {"faults": active_faults(view)}
