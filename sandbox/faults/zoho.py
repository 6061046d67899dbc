"""Zoho faults: flag faults the Zoho simulator acts out (sandbox/zoho/app.py), and the simulator stopped."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SandboxError
from ..facts import ZOHO_LISTS
from .base import FaultView, FlagFault
from .service import ServiceDownFault


@dataclass(frozen=True, kw_only=True)
class ZohoFault(FlagFault):
    """A flag fault acted out by the Zoho simulator: ``NAME``, or ``NAME:<list>:<amount>`` when it has a unit."""

    unit: str | None = None

    @property
    def usage(self) -> str:
        return f"{self.name}:<list>:<{self.unit}>" if self.unit else self.name

    def check_argument(self, argument: str | None) -> None:
        if self.unit is None:
            super().check_argument(argument)
            return
        list_name, _, amount = (argument or "").partition(":")
        if list_name not in ZOHO_LISTS:
            allowed = ", ".join(ZOHO_LISTS)
            raise SandboxError(f"fault {self.name} needs a Zoho list, one of: {allowed} (got {argument!r})")
        try:
            valid = 0 < float(amount) <= 10_000
        except ValueError:
            valid = False
        if not valid:
            raise SandboxError(f"fault {self.name} needs {self.unit} after the list, above 0 (got {amount!r})")

    def active_specs(self, target: FaultView) -> list[str]:
        return [spec for spec in target.fault_store.specs() if spec.partition(":")[0] == self.name]


KINDS = (
    ZohoFault(
        name="zoho-drift", summary="Zoho gains <percent> % more records of the list than the ERP holds", unit="percent"
    ),
    ZohoFault(
        name="zoho-stale", summary="Zoho holds modifications of the list <hours> newer than the ERP's", unit="hours"
    ),
    ZohoFault(name="zoho-auth-invalid", summary="the Zoho simulator rejects the refresh token and access tokens"),
    ZohoFault(name="zoho-rate-limit", summary="the Zoho simulator answers the next 3 API requests with 429"),
    ServiceDownFault(name="zoho-down", summary="the Zoho simulator is stopped", service="zoho"),
)
