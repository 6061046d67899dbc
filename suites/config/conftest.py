"""The target's env file, read once per run through pytest-testinfra.

Values never leave :class:`EnvFile`: it has no ``repr`` of its values, and the
checks report variable names and the rule that failed only. The file is read
without testinfra's command log, and its secret values join the run's redactor
(a failing check's ``-l`` locals hold one).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

import pytest
import testinfra

from fixtures import redaction
from fixtures.inventory import Inventory

HOST_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class EnvFile:
    """The assignments of one env file; ``location`` says where it was read (``PATH on HOST``)."""

    location: str
    exists: bool
    values: dict[str, str] = field(default_factory=dict, repr=False)
    error: str | None = None


def parse_env(text: str) -> dict[str, str]:
    """``KEY=VALUE`` lines as a dict: comments, blank lines and ``export`` are skipped, quotes removed.

    A quoted value is taken as written (``#`` inside it stays); an unquoted value
    ends at an inline `` #`` comment. A repeated key keeps its last value, as
    docker compose and python-dotenv do.
    """
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = _unquote(value.strip())
    return values


def _unquote(value: str) -> str:
    if value[:1] in {'"', "'"}:
        try:
            parts = shlex.split(value, comments=True)
        except ValueError:
            return value.strip("\"'")
        return parts[0] if parts else ""
    return value.split(" #", 1)[0].strip()


@pytest.fixture(scope="session")
def env_file(inventory: Inventory) -> EnvFile:
    """The inventory's ``[config] env_file`` as read on ``[config] host``; skips when none is configured."""
    settings = inventory.config
    if not settings.env_file:
        pytest.skip("no env file configured ([config] env_file)")
    location = f"{settings.env_file} on {settings.host}"
    try:
        # testinfra logs each command's whole output: the file's values would be logged before they are known.
        with redaction.unlogged("testinfra"):
            remote = testinfra.get_host(settings.host, timeout=HOST_TIMEOUT_SECONDS).file(settings.env_file)
            if not remote.exists:
                return EnvFile(location, exists=False)
            values = parse_env(remote.content_string)
    except (RuntimeError, OSError) as error:  # testinfra raises RuntimeError when a command cannot run
        return EnvFile(location, exists=False, error=f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
    redaction.current().learn(redaction.env_file_secrets(values))
    return EnvFile(location, exists=True, values=values)
