"""Spawning, recognising and stopping the sandbox's background processes.

A process is identified by its pid and its start time in clock ticks, so a
recycled pid is never mistaken for a sandbox process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import SandboxError
from .facts import LOOPBACK

# Popen objects of the children this process spawned, kept so that a child that
# exits is reaped (not left a zombie) and Popen never warns about it.
_children: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class ProcessRecord:
    """A running process as recorded in state.json."""

    pid: int
    start_ticks: int

    @classmethod
    def of(cls, pid: int) -> ProcessRecord:
        ticks = _start_ticks(pid)
        if ticks is None:
            raise SandboxError(f"process {pid} is not running")
        return cls(pid, ticks)

    def is_alive(self) -> bool:
        child = _children.get(self.pid)
        if child is not None and child.poll() is not None:
            del _children[self.pid]
        return _start_ticks(self.pid) == self.start_ticks

    def to_json(self) -> dict[str, int]:
        return {"pid": self.pid, "start_ticks": self.start_ticks}

    @classmethod
    def from_json(cls, data: dict) -> ProcessRecord:
        return cls(int(data["pid"]), int(data["start_ticks"]))


def _start_ticks(pid: int) -> int | None:
    """Start time of a live (non-zombie) process, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: split after it.
    fields = stat[stat.rindex(")") + 2 :].split()
    state, ticks = fields[0], fields[19]
    return None if state in ("Z", "X") else int(ticks)


def spawn(argv: list[str], *, log_file: Path, env: dict[str, str], cwd: Path) -> ProcessRecord:
    """Start ``argv`` in its own session, output appended to ``log_file``."""
    with open(log_file, "ab") as log:
        child = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    _children[child.pid] = child
    ticks = _start_ticks(child.pid)
    if ticks is None:
        raise SandboxError(f"{Path(argv[0]).name} exited at once; see {log_file}")
    return ProcessRecord(child.pid, ticks)


def terminate_group(record: ProcessRecord, *, grace_seconds: float = 5.0) -> None:
    """SIGTERM the process group led by ``record``; SIGKILL it after the grace period."""
    if not record.is_alive():
        return
    _signal_group(record.pid, signal.SIGTERM)
    if wait_until(lambda: not record.is_alive(), timeout=grace_seconds):
        return
    _signal_group(record.pid, signal.SIGKILL)
    if not wait_until(lambda: not record.is_alive(), timeout=grace_seconds):
        raise SandboxError(f"process {record.pid} survived SIGKILL")


def _signal_group(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(pid, signum)


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; return whether it held."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]
