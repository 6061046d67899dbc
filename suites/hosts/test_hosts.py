"""services.*: on every inventory host, each service runs, each port listens, disks and memory keep their minimum,
and the logs' recent error lines stay under their limit.

Read through pytest-testinfra (``fixtures/hosts.py``): processes and containers without systemd, ``ss``,
``df``, ``/proc/meminfo`` and ``tail -c``. Ids are ``<host>-<item>`` (``[sandbox-app]``); memory is one
check per host (``[sandbox]``).
"""

from __future__ import annotations

import pytest

from fixtures.deploy import read_deployment
from fixtures.failures import CheckFailed
from fixtures.hosts import KIB, SHOWN_LINES, Host, error_lines, find_item, holds_words, window_start

pytestmark = [pytest.mark.production, pytest.mark.services]


def skip_an_idle_slot(inventory, slot: str | None) -> None:
    """A blue/green slot's process and port are judged while nginx serves it; an idle slot's state is recorded
    by the deploy checks (an idle slot may be stopped: the one a rollback left for inspection)."""
    if slot is None or inventory.deploy is None:
        return
    active = read_deployment(inventory.deploy).site_slot
    if active is not None and active != slot:
        pytest.skip(f"slot {slot} is idle (nginx serves {active}): the deploy checks record its state")


def test_host_service_running(inventory, host_service):
    settings, service = find_item(inventory, "services", host_service)
    skip_an_idle_slot(inventory, service.slot)
    host = Host(settings)
    if service.container is not None:
        running, said = host.container_state(service.container)
        if not running:
            raise CheckFailed(
                "not_running", f"container {service.container} is not running on host {host.name}",
                host=host.name, container=service.container, docker_said=said,
            )  # fmt: skip
        return
    matching = [line for line in host.command_lines() if holds_words(line, service.process)]
    if not matching:
        raise CheckFailed(
            "not_running", f"no process of service {service.name} runs on host {host.name}",
            host=host.name, service=service.name, process=service.process,
        )  # fmt: skip


def test_host_port_listening(inventory, host_port):
    settings, port = find_item(inventory, "ports", host_port)
    skip_an_idle_slot(inventory, port.slot)
    host = Host(settings)
    if port.port not in host.listening_ports():
        raise CheckFailed(
            "not_running", f"nothing listens on TCP port {port.port} ({port.name}) on host {host.name}",
            host=host.name, port=port.port,
        )  # fmt: skip


def test_host_disk_has_free_space(inventory, host_disk):
    settings, disk = find_item(inventory, "disks", host_disk)
    host = Host(settings)
    size_kib, available_kib, mount = host.disk_space(disk.path)
    free_percent = round(100 * available_kib / size_kib, 1) if size_kib else 0.0
    if free_percent < disk.min_free_percent:
        raise CheckFailed(
            "exhausted", f"{disk.path} on host {host.name} has {free_percent} % free, below {disk.min_free_percent} %",
            host=host.name, path=disk.path, mount=mount, free_percent=free_percent,
            available_mib=available_kib // KIB, size_mib=size_kib // KIB, limit_percent=disk.min_free_percent,
        )  # fmt: skip


def test_host_memory_available(inventory, host_memory):
    settings, _ = find_item(inventory, "memory", host_memory)
    host = Host(settings)
    available_mib = host.memory_available_kib() // KIB
    if available_mib < settings.min_memory_available_mib:
        raise CheckFailed(
            "exhausted", f"host {host.name} has {available_mib} MiB of memory available",
            host=host.name, available_mib=available_mib, limit_mib=settings.min_memory_available_mib,
        )  # fmt: skip


def test_host_log_errors_within_limit(inventory, host_log):
    settings, log = find_item(inventory, "logs", host_log)
    host = Host(settings)
    errors = error_lines(host.log_tail(log.path, log.max_bytes), since=window_start(log.window_minutes))
    if len(errors) > log.max_errors:
        raise CheckFailed(
            "error_spike", f"{len(errors)} error lines in the last {log.window_minutes:g} min of {log.path}",
            host=host.name, log=log.path, count=len(errors), limit=log.max_errors,
            window_minutes=log.window_minutes, last_lines=[line[:200] for line in errors[-SHOWN_LINES:]],
        )  # fmt: skip
