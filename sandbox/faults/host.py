"""Host faults: what the host checks see break -- a service's port closed, a disk nearly full, an error spike.

- ``port-closed:<postgres|app|worker|zoho>`` stops that service (as the service-down faults do), so its process
  is gone and its port closes; recorded, so it is listed while the service is stopped.
- ``disk-low`` mounts a 16 MiB tmpfs on ``<home>/disk`` (the sandbox's disk path) and fills it to 94 %; needs
  root (``mount``); reset unmounts it.
- ``error-spike`` makes the ERP app log an ERROR line for every request (``sandbox/erp/app_log.py``), and sends
  it enough requests at once to pass the host log check's limit; reset truncates the app's log, as a log
  rotation would.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

import httpx

from ..errors import SandboxError
from ..state import HomeLayout
from .base import Fault, FaultKind, FaultTarget, FaultView, FlagFault

PORT_SERVICES = ("postgres", "app", "worker", "zoho")
DISK_MIB = 16
DISK_FILL_PERCENT = 94
SPIKE_REQUESTS = 12  # above the sandbox's host log limit (max_errors = 10)
MOUNT_TIMEOUT_SECONDS = 10
MIB = 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class PortClosedFault(FlagFault):
    """Stops one service; in effect while it is recorded and the service is stopped."""

    def check_argument(self, argument: str | None) -> None:
        if argument not in PORT_SERVICES:
            raise SandboxError(
                f"fault {self.name} needs a service, one of: {', '.join(PORT_SERVICES)} (got {argument!r})"
            )

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        target.fault_store.add(fault)
        target.service(fault.argument, "stop")

    def active_specs(self, target: FaultView) -> list[str]:
        status = target.status()
        return [spec for spec in super().active_specs(target) if status.get(spec.partition(":")[2]) != "running"]


def _mount_command(*argv: str) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True, text=True, timeout=MOUNT_TIMEOUT_SECONDS)
    except (OSError, subprocess.SubprocessError) as error:
        detail = getattr(error, "stderr", None) or str(error)
        raise SandboxError(f"{' '.join(argv[:3])} failed (disk-low needs root): {detail.strip()}") from None


@dataclass(frozen=True, kw_only=True)
class DiskLowFault(FaultKind):
    """A small tmpfs on the sandbox's disk path, nearly full; in effect while it is mounted."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        disk = HomeLayout(target.home).disk_dir
        disk.mkdir(exist_ok=True)
        if not os.path.ismount(disk):
            _mount_command("mount", "-t", "tmpfs", "-o", f"size={DISK_MIB}m,mode=0755", "tmpfs", str(disk))
        with open(disk / "filler.bin", "wb") as filler:
            filler.write(b"\0" * (DISK_MIB * MIB * DISK_FILL_PERCENT // 100))

    def active_specs(self, target: FaultView) -> list[str]:
        return [self.name] if os.path.ismount(HomeLayout(target.home).disk_dir) else []

    def undo(self, target: FaultView) -> None:
        unmount_disk(target.home)


def unmount_disk(home) -> None:
    """Take disk-low's tmpfs off ``<home>/disk`` (if mounted) and leave the directory in place."""
    disk = HomeLayout(home).disk_dir
    if os.path.ismount(disk):
        _mount_command("umount", str(disk))
    disk.mkdir(exist_ok=True)


@dataclass(frozen=True, kw_only=True)
class ErrorSpikeFault(FlagFault):
    """Recorded for the app, which logs ERROR on every request; the fault's own requests start the spike."""

    def apply(self, target: FaultTarget, fault: Fault) -> None:
        target.fault_store.add(fault)
        base_url = target.base_url
        try:
            with httpx.Client(timeout=5.0) as client:
                for _ in range(SPIKE_REQUESTS):
                    client.get(f"{base_url}/health")
        except httpx.HTTPError as error:
            raise SandboxError(f"error-spike: the app did not answer: {error}") from None

    def active_specs(self, target: FaultView) -> list[str]:
        return [self.name] if self.name in target.fault_store.specs() else []

    def undo(self, target: FaultView) -> None:
        log = HomeLayout(target.home).app_log_file
        if log.exists():
            log.write_bytes(b"")


KINDS = (
    PortClosedFault(
        name="port-closed",
        summary="the service is stopped: its process is gone and its port closed",
        argument_usage="<postgres|app|worker|zoho>",
    ),
    DiskLowFault(name="disk-low", summary="a 16 MiB tmpfs on <home>/disk, 94 % full (needs root)"),
    ErrorSpikeFault(name="error-spike", summary="the app logs an ERROR line for every request"),
)
