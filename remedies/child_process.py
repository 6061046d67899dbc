"""Running a child process so that it never outlives the step or the run that started it."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

STOP_GRACE_SECONDS = 10.0


def run_child(
    argv: list[str], *, cwd: Path, timeout: float, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to its end with its output captured, as ``subprocess.run`` does.

    When the time limit passes or the run is interrupted (SIGTERM, SIGINT), the child
    is asked to stop (SIGTERM: a pytest child then writes its reports and removes its
    run directory), killed if it has not stopped within ``STOP_GRACE_SECONDS``, and
    the timeout or interrupt goes on to the caller.
    """
    with subprocess.Popen(
        argv, cwd=cwd, env=None if env is None else dict(env), text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    ) as process:  # fmt: skip
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            _stop(process)
            raise
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.communicate(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
