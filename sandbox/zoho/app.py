"""The Zoho simulator: a FastAPI app answering like Zoho's accounts, Books and Inventory APIs.

Run by the sandbox controller as the service ``zoho`` (``create_app_from_state``
reads the sandbox's state file); tests build it directly with :func:`create_app`.
Flag faults are read from the sandbox's fault store on every request:
``zoho-auth-invalid`` rejects the refresh token and every access token,
``zoho-rate-limit`` answers 429 to the next :data:`RATE_LIMIT_FAULT_REQUESTS`
API requests, ``zoho-drift``/``zoho-stale`` change the lists (see :mod:`.data`).

``POST /__sandbox/reload`` (not part of Zoho's API) starts the simulator over,
as a restart would: the lists are read again (from the sandbox database, for
the service) and issued tokens, rate windows and throttling are forgotten.
"""

from __future__ import annotations

import math
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..facts import ZOHO_API_PREFIXES, ZOHO_LISTS
from .data import apply_faults, load_snapshot

TOKEN_SECONDS = 3600
MAX_PER_PAGE = 200
RATE_LIMIT_FAULT_REQUESTS = 3
RATE_LIMIT_FAULT_RETRY_AFTER = 1
WINDOW_SECONDS = 60.0
NOT_AUTHORIZED = {"code": 57, "message": "You are not authorized to perform this operation"}
RELOAD_PATH = "/__sandbox/reload"


@dataclass(frozen=True)
class Credentials:
    """What the simulator accepts: one OAuth client, one refresh token, one organization."""

    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    organization_id: str


class SlidingWindow:
    """At most ``limit`` requests per minute; answers how long until the next one may go."""

    def __init__(self, limit: int, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.clock = clock
        self.seen: deque[float] = deque()

    def admit(self) -> int | None:
        """None when admitted, else the Retry-After seconds."""
        now = self.clock()
        while self.seen and now - self.seen[0] >= WINDOW_SECONDS:
            self.seen.popleft()
        if len(self.seen) >= self.limit:
            return max(1, math.ceil(self.seen[0] + WINDOW_SECONDS - now))
        self.seen.append(now)
        return None


class ZohoState:
    """Tokens, rate windows and the fault-adjusted lists (recomputed when the faults change)."""

    def __init__(self, base: dict[str, list[dict]], credentials: Credentials, limits: dict[str, int],
                 faults: Callable[[], tuple[str, ...]], clock: Callable[[], float]) -> None:  # fmt: skip
        self.credentials = credentials
        self.faults = faults
        self.clock = clock
        self.limits = limits
        self.lock = threading.Lock()
        self.start_over(base)

    def start_over(self, base: dict[str, list[dict]]) -> None:
        """Serve ``base`` from now on, with no token issued, empty rate windows and no throttling."""
        with self.lock:
            self.base = base
            self.windows = {api: SlidingWindow(limit, self.clock) for api, limit in self.limits.items()}
            self.tokens: dict[str, float] = {}
            self._views: tuple[tuple[str, ...], dict[str, tuple[list[dict], list[dict]]]] | None = None
            self._throttled = 0

    def lists(self) -> dict[str, tuple[list[dict], list[dict]]]:
        """list name -> (records in id order, records newest-modified first)."""
        specs = tuple(spec for spec in self.faults() if spec.startswith(("zoho-drift:", "zoho-stale:")))
        with self.lock:
            if self._views is None or self._views[0] != specs:
                lists = apply_faults(self.base, specs)
                views = {
                    name: (records, sorted(records, key=lambda r: r["last_modified_time"], reverse=True))
                    for name, records in lists.items()
                }
                self._views = (specs, views)
            return self._views[1]

    def fault_active(self, name: str) -> bool:
        return name in self.faults()

    def take_throttle(self) -> bool:
        """Whether the zoho-rate-limit fault throttles this request (the next few after it is switched on)."""
        with self.lock:
            if not self.fault_active("zoho-rate-limit"):
                self._throttled = 0
                return False
            self._throttled += 1
            return self._throttled <= RATE_LIMIT_FAULT_REQUESTS


def create_app(base: dict[str, list[dict]], credentials: Credentials, *, books_per_minute: int = 100,
               inventory_per_minute: int = 25, faults: Callable[[], tuple[str, ...]] = tuple,
               clock: Callable[[], float] = time.monotonic,
               reload: Callable[[], dict[str, list[dict]]] | None = None) -> FastAPI:  # fmt: skip
    """The simulator serving ``base``; ``reload`` gives the lists anew when it starts over (default: ``base``)."""
    state = ZohoState(base, credentials, {"books": books_per_minute, "inventory": inventory_per_minute}, faults, clock)
    app = FastAPI(title="Zoho simulator", docs_url=None, redoc_url=None)
    app.state.zoho = state

    @app.get("/health")
    def health() -> dict:
        return {"status": "healthy"}

    @app.post(RELOAD_PATH, include_in_schema=False)
    def start_over() -> dict:
        state.start_over(reload() if reload is not None else base)
        return {"reloaded": True, "records": {name: len(records) for name, records in state.base.items()}}

    @app.post("/oauth/v2/token")
    async def token(request: Request) -> JSONResponse:
        form = {key: values[0] for key, values in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
        refresh_token, client_id, client_secret, grant_type = (
            form.get(key, "") for key in ("refresh_token", "client_id", "client_secret", "grant_type")
        )
        expected = state.credentials
        valid = (
            grant_type == "refresh_token"
            and secrets.compare_digest(refresh_token, expected.refresh_token)
            and secrets.compare_digest(client_id, expected.client_id)
            and secrets.compare_digest(client_secret, expected.client_secret)
            and not state.fault_active("zoho-auth-invalid")
        )
        if not valid:
            return JSONResponse({"error": "invalid_code"}, status_code=400)
        access = secrets.token_hex(20)
        with state.lock:
            state.tokens[access] = state.clock() + TOKEN_SECONDS
        return JSONResponse({"access_token": access, "expires_in": TOKEN_SECONDS, "token_type": "Bearer"})

    def listing(api: str, list_name: str, request: Request) -> JSONResponse:
        if list_name not in ZOHO_LISTS or api not in ZOHO_LISTS[list_name].apis:
            return JSONResponse({"code": 5, "message": "Invalid URL Passed"}, status_code=404)
        scheme, _, access = request.headers.get("authorization", "").partition(" ")
        with state.lock:
            expires = state.tokens.get(access) if scheme == "Zoho-oauthtoken" else None
        if expires is None or expires <= state.clock() or state.fault_active("zoho-auth-invalid"):
            return JSONResponse(NOT_AUTHORIZED, status_code=401)
        if state.take_throttle():
            return _too_many(RATE_LIMIT_FAULT_RETRY_AFTER)
        with state.lock:
            wait = state.windows[api].admit()
        if wait is not None:
            return _too_many(wait)
        query = request.query_params
        if query.get("organization_id") != state.credentials.organization_id:
            return JSONResponse({"code": 6041, "message": "Invalid value passed for organization_id"}, 400)
        try:
            page = max(1, int(query.get("page", "1")))
            per_page = min(MAX_PER_PAGE, max(1, int(query.get("per_page", str(MAX_PER_PAGE)))))
        except ValueError:
            return JSONResponse({"code": 2, "message": "Invalid value passed for page or per_page"}, 400)
        by_id, newest_first = state.lists()[list_name]
        sort_column = query.get("sort_column", "")
        sort_order = query.get("sort_order", "A")
        if sort_column == "last_modified_time":
            records = newest_first if sort_order == "D" else newest_first[::-1]
        else:
            records = by_id
        contact_type = query.get("contact_type")
        if contact_type:
            records = [r for r in records if r.get("contact_type") == contact_type]
        if query.get("filter_by") == "Status.Active":
            records = [r for r in records if r.get("status", "active") == "active"]
        start = (page - 1) * per_page
        chunk = records[start : start + per_page]
        return JSONResponse(
            {
                "code": 0,
                "message": "success",
                list_name: chunk,
                "page_context": {
                    "page": page,
                    "per_page": per_page,
                    "has_more_page": start + per_page < len(records),
                    "sort_column": sort_column or "created_time",
                    "sort_order": sort_order,
                },
            }
        )

    @app.get(ZOHO_API_PREFIXES["books"] + "/{list_name}")
    def books(list_name: str, request: Request) -> JSONResponse:
        return listing("books", list_name, request)

    @app.get(ZOHO_API_PREFIXES["inventory"] + "/{list_name}")
    def inventory(list_name: str, request: Request) -> JSONResponse:
        return listing("inventory", list_name, request)

    return app


def _too_many(seconds: int) -> JSONResponse:
    return JSONResponse(
        {"code": 44, "message": "API calls limit exceeded; try again later"},
        status_code=429,
        headers={"Retry-After": str(seconds)},
    )


def create_app_from_state() -> FastAPI:
    """The simulator of the sandbox named by ``$TSH_SANDBOX_STATE`` (uvicorn ``--factory``)."""
    from ..faults import FaultStore
    from ..state import SandboxState, Secrets, database_url

    state_file = Path(os.environ["TSH_SANDBOX_STATE"])
    state = SandboxState.load(state_file)
    stored = Secrets.load(state.layout.secrets_file)
    credentials = load_credentials(state.layout.zoho_file)
    store = FaultStore(state.layout.faults_file)
    db_url = database_url(state.postgres_port, stored.db_password)
    return create_app(
        load_snapshot(db_url),
        credentials,
        books_per_minute=int(os.environ.get("TSH_ZOHO_BOOKS_PER_MINUTE", "100")),
        inventory_per_minute=int(os.environ.get("TSH_ZOHO_INVENTORY_PER_MINUTE", "25")),
        faults=store.specs,
        reload=lambda: load_snapshot(db_url),
    )


def new_credentials() -> Credentials:
    return Credentials(
        client_id=f"1000.{secrets.token_hex(12).upper()}",
        client_secret=secrets.token_hex(20),
        refresh_token=f"1000.{secrets.token_hex(16)}.{secrets.token_hex(16)}",
        organization_id=str(700000000 + secrets.randbelow(99999999)),
    )


def save_credentials(path: Path, credentials: Credentials) -> None:
    from ..state import write_json_atomic

    write_json_atomic(
        path,
        {"client_id": credentials.client_id, "client_secret": credentials.client_secret,
         "refresh_token": credentials.refresh_token, "organization_id": credentials.organization_id},
        mode=0o600,
    )  # fmt: skip


def load_credentials(path: Path) -> Credentials:
    from ..state import read_json

    data = read_json(path, what="Zoho simulator credentials file")
    return Credentials(**{key: str(data[key]) for key in ("client_id", "client_secret", "refresh_token",
                                                            "organization_id")})  # fmt: skip
