"""Service-down faults: each stops one sandbox service, and is in effect while that service is stopped."""

from __future__ import annotations

from dataclasses import dataclass

from .base import Fault, FaultKind, FaultTarget, FaultView


@dataclass(frozen=True, kw_only=True)
class ServiceDownFault(FaultKind):
    """Stops one sandbox service; in effect while that service is stopped."""

    service: str

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        target.service(self.service, "stop")

    def active_specs(self, target: FaultView) -> list[str]:
        return [] if target.status()[self.service] == "running" else [self.name]


KINDS = (
    ServiceDownFault(name="worker-down", summary="the sync worker is stopped", service="worker"),
    ServiceDownFault(name="backend-down", summary="the ERP app is stopped", service="app"),
    ServiceDownFault(name="database-down", summary="the PostgreSQL server is stopped", service="postgres"),
)
