"""Flag faults on the ERP app's BFF paths (``NAME:<path>``); sandbox/erp/bff.py acts them out."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SandboxError
from ..facts import BFF_PATHS, PROTECTED_PATHS
from .base import FlagFault


@dataclass(frozen=True, kw_only=True)
class EndpointFault(FlagFault):
    """A flag fault on one BFF path (``NAME:<path>``, or ``NAME:<path>:<ms>`` when it takes a delay)."""

    with_delay: bool = False
    paths: tuple[str, ...] = BFF_PATHS

    @property
    def usage(self) -> str:
        return f"{self.name}:<path>:<ms>" if self.with_delay else f"{self.name}:<path>"

    def check_argument(self, argument: str | None) -> None:
        path, delay = (argument or "", "")
        if self.with_delay and ":" in path:
            path, _, delay = path.rpartition(":")
        if path not in self.paths:
            raise SandboxError(f"fault {self.name} needs a BFF path, one of: {', '.join(self.paths)} (got {path!r})")
        if self.with_delay and not (delay.isdigit() and 0 < int(delay) <= 60_000):
            raise SandboxError(f"fault {self.name} needs a delay in ms after the path, 1..60000 (got {delay!r})")


KINDS = (
    EndpointFault(name="endpoint-error", summary="the BFF path answers 500 (after authentication)"),
    EndpointFault(name="endpoint-slow", summary="the BFF path waits <ms> before answering", with_delay=True),
    EndpointFault(
        name="auth-open", summary="the protected BFF path answers anonymous calls with 200", paths=PROTECTED_PATHS
    ),
)
