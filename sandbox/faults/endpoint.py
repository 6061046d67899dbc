"""Flag faults on the ERP app's GET paths (``NAME:<path>``); sandbox/erp/bff.py and sandbox/erp/gate.py act them out.

``endpoint-error``, ``endpoint-slow`` and ``auth-open`` take the BFF paths the
sandbox inventory's ``[api]`` endpoints list; ``endpoint-undeclared-error``
takes the app's other GET operations (as /openapi.json names them, templates
included: ``/api/customers/{customer_id}``); ``route-shadowed`` the GET paths
without path parameters a parameter route could capture; ``public-requires-auth``
the public BFF paths. ``/health`` is left out: the controller polls it to know
the app is up (``backend-down`` stops the app instead).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SandboxError
from ..facts import BFF_PATHS, GET_PATHS, HEALTH_PATHS, PROTECTED_PATHS, READINESS_PATH
from .base import FlagFault

UNDECLARED_PATHS = tuple(path for path in GET_PATHS if path not in BFF_PATHS and path != READINESS_PATH)
# A parameter route ("/api/products/{product_id}") captures a path of as many segments; "/" has none.
SHADOWABLE_PATHS = tuple(path for path in GET_PATHS if "{" not in path and path not in ("/", READINESS_PATH))


@dataclass(frozen=True, kw_only=True)
class EndpointFault(FlagFault):
    """A flag fault on one GET path (``NAME:<path>``, or ``NAME:<path>:<ms>`` when it takes a delay)."""

    with_delay: bool = False
    paths: tuple[str, ...] = BFF_PATHS
    path_label: str = "a BFF path"

    @property
    def usage(self) -> str:
        return f"{self.name}:<path>:<ms>" if self.with_delay else f"{self.name}:<path>"

    def check_argument(self, argument: str | None) -> None:
        path, delay = (argument or "", "")
        if self.with_delay and ":" in path:
            path, _, delay = path.rpartition(":")
        if path not in self.paths:
            raise SandboxError(
                f"fault {self.name} needs {self.path_label}, one of: {', '.join(self.paths)} (got {path!r})"
            )
        if self.with_delay and not (delay.isdigit() and 0 < int(delay) <= 60_000):
            raise SandboxError(f"fault {self.name} needs a delay in ms after the path, 1..60000 (got {delay!r})")


KINDS = (
    EndpointFault(name="endpoint-error", summary="the BFF path answers 500 (after authentication)"),
    EndpointFault(name="endpoint-slow", summary="the BFF path waits <ms> before answering", with_delay=True),
    EndpointFault(
        name="auth-open", summary="the protected BFF path answers anonymous calls with 200", paths=PROTECTED_PATHS
    ),
    EndpointFault(
        name="endpoint-undeclared-error",
        summary="a GET operation the inventory's [api] endpoints do not list answers 500 (after authentication)",
        paths=UNDECLARED_PATHS,
        path_label="a GET path the inventory's [api] endpoints do not list",
    ),
    EndpointFault(
        name="route-shadowed",
        summary="the GET path answers 422, captured by a parameter route declared before it",
        paths=SHADOWABLE_PATHS,
        path_label="a GET path without path parameters",
    ),
    EndpointFault(
        name="public-requires-auth",
        summary="the public BFF path answers 401 without a token",
        paths=HEALTH_PATHS,
        path_label="a public BFF path",
    ),
)
