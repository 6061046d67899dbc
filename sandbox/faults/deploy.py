"""Faults of the public front and its blue/green slots: a slot stopped, the slot records disagreeing, a certificate
about to expire.

- ``slot-down:<blue|green>`` stops that slot's app process (blue is the ``app`` service, green the ``green`` one);
- ``slot-mismatch``: the env file's ``ACTIVE_DEPLOYMENT_SLOT`` names the other slot than the site file's upstream
  (a deploy that switched nginx and died before it wrote the env file, or the other way round);
- ``cert-expiring:<days>`` (1-60): the server certificate is re-issued to expire in that many days, nginx reloaded.

Reset restores the env file, starts both slots, writes blue into the site file and issues a fresh certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SandboxError
from ..front import SLOTS, Front
from ..provision import edit_env_file, env_file_names
from ..state import HomeLayout, SandboxState
from .base import Fault, FaultKind, FaultTarget, FaultView

SLOT_SERVICES = {"blue": "app", "green": "green"}
MAX_EXPIRING_DAYS = 60


def _front(target: FaultView) -> Front:
    state = SandboxState.load(HomeLayout(target.home).state_file)
    return Front(
        target.home,
        https_port=state.https_port,
        http_port=state.http_port,
        slot_ports={"blue": state.app_port, "green": state.green_port},
    )


@dataclass(frozen=True, kw_only=True)
class SlotDownFault(FaultKind):
    """Stops one slot's app process; in effect while it is stopped.

    Also recorded in the fault store, so a stopped ``app`` reads as ``backend-down`` alone unless this fault
    stopped it (blue is the backend: then both are in effect).
    """

    arguments: tuple[str, ...] = SLOTS
    argument_usage: str = "<blue|green>"

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        target.fault_store.add(fault)
        target.service(SLOT_SERVICES[str(fault.argument)], "stop")

    def active_specs(self, target: FaultView) -> list[str]:
        status, recorded = target.status(), target.fault_store.arguments_of(self.name)
        return [
            f"{self.name}:{slot}"
            for slot, service in SLOT_SERVICES.items()
            if slot in recorded and status.get(service) == "stopped"
        ]


@dataclass(frozen=True, kw_only=True)
class SlotMismatchFault(FaultKind):
    """The env file names the other slot than the site file."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        front = _front(target)
        site = front.site_slot()
        other = next(slot for slot in SLOTS if slot != site)
        edit_env_file(HomeLayout(target.home).env_file, "ACTIVE_DEPLOYMENT_SLOT", other)

    def active_specs(self, target: FaultView) -> list[str]:
        front = _front(target)
        if not front.site_file.exists():
            return []
        recorded = env_file_names(HomeLayout(target.home).env_file).get("ACTIVE_DEPLOYMENT_SLOT")
        return [self.name] if recorded != front.site_slot() else []


@dataclass(frozen=True, kw_only=True)
class CertExpiringFault(FaultKind):
    """The server certificate re-issued to expire in <days> days (1-60)."""

    argument_usage: str = "<days>"

    def check_argument(self, argument: str | None) -> None:
        if argument is None or not argument.isdigit() or not 1 <= int(argument) <= MAX_EXPIRING_DAYS:
            raise SandboxError(
                f"fault {self.name} needs a number of days from 1 to {MAX_EXPIRING_DAYS} (got {argument!r})"
            )

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        target.renew_certificate(int(str(fault.argument)))

    def active_specs(self, target: FaultView) -> list[str]:
        front = _front(target)
        if not front.cert_file.exists():
            return []
        days = round(front.certificate_days_left())
        return [f"{self.name}:{days}"] if days <= MAX_EXPIRING_DAYS else []


KINDS = (
    SlotDownFault(name="slot-down", summary="that blue/green slot's app process is stopped"),
    SlotMismatchFault(name="slot-mismatch", summary="ACTIVE_DEPLOYMENT_SLOT names the other slot than nginx"),
    CertExpiringFault(name="cert-expiring", summary="the front's TLS certificate expires in <days> days (1-60)"),
)
