"""The host faults act on the sandbox as the host checks see it, and reset takes each one back."""

from __future__ import annotations

import os
import shutil

import pytest

from sandbox import Sandbox


@pytest.mark.timeout(60)
def test_port_closed_stops_its_service_and_is_listed_while_it_is_stopped(sandbox: Sandbox) -> None:
    sandbox.apply_fault("port-closed:worker")
    assert sandbox.status()["worker"] == "stopped"
    assert sandbox.faults() == ["worker-down", "port-closed:worker"]
    sandbox.reset()
    assert sandbox.faults() == [] and sandbox.is_running()


@pytest.mark.timeout(60)
def test_disk_low_mounts_a_nearly_full_tmpfs_on_the_disk_path_and_reset_unmounts_it(sandbox: Sandbox) -> None:
    disk = sandbox.home / "disk"
    assert disk.is_dir() and not os.path.ismount(disk)
    sandbox.apply_fault("disk-low")
    usage = shutil.disk_usage(disk)
    assert os.path.ismount(disk) and usage.total == 16 * 1024 * 1024
    assert round(100 * usage.free / usage.total) == 6
    assert sandbox.faults() == ["disk-low"]
    sandbox.reset()
    assert disk.is_dir() and not os.path.ismount(disk) and sandbox.faults() == []


@pytest.mark.timeout(60)
def test_error_spike_makes_every_request_log_an_error_and_reset_rotates_the_log(sandbox: Sandbox, client) -> None:
    log = sandbox.home / "logs" / "erp.log"
    assert " ERROR " not in log.read_text(encoding="utf-8")
    sandbox.apply_fault("error-spike")
    errors = [line for line in log.read_text(encoding="utf-8").splitlines() if " ERROR " in line]
    assert len(errors) == 12
    assert errors[0].endswith("sandbox.erp: unhandled error serving GET /health: upstream call failed (error-spike)")
    client.get("/api/tds/webhooks/health")
    assert log.read_text(encoding="utf-8").count(" ERROR ") == 13
    sandbox.reset()
    client.get("/health")
    assert log.read_text(encoding="utf-8") == "" and sandbox.faults() == []
