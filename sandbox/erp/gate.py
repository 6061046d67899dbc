"""What every GET operation of the app passes before its handler: the bearer token and the GET-path faults.

:func:`gate` is a dependency of the whole app; it finds the operation by its
route's path template (``/api/customers/{customer_id}``), so it judges the
operation, not the URL. The protected operations are :data:`sandbox.facts.BEARER_PATHS`
(they also declare :data:`BEARER` for /openapi.json); the token is derived from
the sandbox's secrets (:func:`sandbox.provision.api_token`). In order:

- ``auth-open:<path>``: a protected path forgets to authenticate;
  ``public-requires-auth:<path>``: a public path demands the token (401 without);
- ``route-shadowed:<path>``: 422 with FastAPI's validation body, as when a
  parameter route declared before it (``/api/products/{product_id}``, an int)
  captures the path (``/api/products/summary``); it stays in /openapi.json;
- ``endpoint-undeclared-error:<path>``: 500.
"""

from __future__ import annotations

import functools
import hmac
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPBearer
from pydantic import TypeAdapter, ValidationError

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
    if path in BEARER_PATHS:
        return not runtime.faults.is_active("auth-open", path)
    return runtime.faults.is_active("public-requires-auth", path)


async def gate(request: Request) -> None:
    """Refuse a GET without the bearer token where it is required (401), then act out the GET-path faults."""
    path = route_path(request)
    if request.method != "GET" or path is None:
        return
    runtime: AppRuntime = request.app.state.runtime
    if requires_token(path, runtime):
        authenticate(request, runtime)
    if runtime.faults.is_active("route-shadowed", path):
        raise shadowed(path)
    if runtime.faults.is_active("endpoint-undeclared-error", path):
        # Raised as an HTTPException, so uvicorn keeps the keep-alive connection.
        raise HTTPException(500, "Internal Server Error")


def capturing_parameter(path: str) -> str:
    """The int parameter of the route that would capture ``path``: ``/api/products/summary`` -> ``product_id``."""
    segments = path.strip("/").split("/")
    parent = segments[-2] if len(segments) > 1 else ""
    if not parent:
        return "id"
    return f"{parent[:-1]}_id" if parent.endswith("s") and len(parent) > 3 else f"{parent}_id"


def shadowed(path: str) -> RequestValidationError:
    """The validation error FastAPI raises when ``<parent>/{<name>_id}`` (an int) is handed ``path``'s last segment."""
    segment = path.rstrip("/").rsplit("/", 1)[-1]
    try:
        TypeAdapter(int).validate_python(segment)
    except ValidationError as error:
        errors = [{**item, "loc": ("path", capturing_parameter(path))} for item in error.errors(include_url=False)]
    else:  # a segment that parses as an int would reach the parameter route's handler instead
        errors = []
    return RequestValidationError(errors)


def authenticate(request: Request, runtime: AppRuntime) -> None:
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    expected = _expected_token(runtime.state_file)
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})


@functools.cache
def _expected_token(state_file: Path) -> str:
    secrets = Secrets.load(SandboxState.load(state_file).layout.secrets_file)
    return api_token(secrets.db_password)
