"""What every GET operation of the app passes before its handler: the bearer token, where the route requires it.

:func:`gate` is a dependency of the whole app; it finds the operation by its
route's path template (``/api/customers/{customer_id}``), so it judges the
operation, not the URL. The protected operations are :data:`sandbox.facts.BEARER_PATHS`
(they also declare :data:`BEARER` for /openapi.json); the token is derived from
the sandbox's secrets (:func:`sandbox.provision.api_token`). ``auth-open:<path>``
makes a protected path forget to authenticate.
"""

from __future__ import annotations

import functools
import hmac
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.security import HTTPBearer

from ..facts import BEARER_PATHS
from ..provision import api_token
from ..state import SandboxState, Secrets
from .runtime import AppRuntime

# Declares the bearer token in /openapi.json; the check itself is authenticate()'s.
BEARER = HTTPBearer(auto_error=False, description="The BFF bearer token (Authorization: Bearer <token>)")


def route_path(request: Request) -> str | None:
    """The path template of the operation serving ``request`` (None outside the app's API routes)."""
    return getattr(request.scope.get("route"), "path", None)


def requires_token(path: str, runtime: AppRuntime) -> bool:
    return path in BEARER_PATHS and not runtime.faults.is_active("auth-open", path)


async def gate(request: Request) -> None:
    """Refuse a GET without the bearer token where its operation requires one (401)."""
    path = route_path(request)
    if request.method != "GET" or path is None:
        return
    runtime: AppRuntime = request.app.state.runtime
    if requires_token(path, runtime):
        authenticate(request, runtime)


def authenticate(request: Request, runtime: AppRuntime) -> None:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    expected = _expected_token(runtime.state_file)
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})


@functools.cache
def _expected_token(state_file: Path) -> str:
    secrets = Secrets.load(SandboxState.load(state_file).layout.secrets_file)
    return api_token(secrets.db_password)
