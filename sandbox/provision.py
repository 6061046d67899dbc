"""What a sandbox provisions in its home besides its services: an env file and a source checkout.

- ``app.env`` (mode 0600) holds the application settings the configuration
  checks read. Its secret values are derived from the database password, so
  :func:`write_env_file` can restore the file at any time without storing a
  second copy of any secret.
- ``source/`` is a git repository with ``sandbox/sample_source`` committed, the
  checkout the code and build gates inspect.
- The BFF bearer token is derived the same way, so the app and the controller
  agree on it without another secrets file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import subprocess
from pathlib import Path

from . import release
from .errors import SandboxError
from .facts import SAMPLE_SOURCE

GIT_TIMEOUT_SECONDS = 30
PLACEHOLDER = "<CHANGE_ME>"

# Variables the sandbox's env file sets; values marked None are derived secrets.
ENV_SETTINGS: dict[str, str | None] = {
    "SECRET_KEY": None,
    "JWT_SECRET_KEY": None,
    "DATABASE_URL": None,
    "POSTGRES_PASSWORD": None,
    "ENVIRONMENT": "development",
    "LOG_LEVEL": "INFO",
    "ZOHO_CLIENT_ID": None,
    "ZOHO_CLIENT_SECRET": None,
    "ZOHO_REFRESH_TOKEN": None,
    "ZOHO_ORGANIZATION_ID": None,
}
ENV_VARIABLES: tuple[str, ...] = tuple(ENV_SETTINGS)


def derived_secret(db_password: str, purpose: str) -> str:
    """A stable secret for ``purpose``, derived from the sandbox's database password."""
    return hmac.new(db_password.encode(), f"tsh-sandbox:{purpose}".encode(), hashlib.sha256).hexdigest()


def api_token(db_password: str) -> str:
    """The bearer token the sandbox's BFF routes require."""
    return derived_secret(db_password, "bff-bearer-token")


def zoho_access_token(db_password: str) -> str:
    """The Zoho OAuth access token the sync worker presents upstream (Zoho's ``1000.<hex>.<hex>`` shape).

    It appears in the upstream errors ``worker-failing`` records, as a real
    worker's request headers would leak it into an error message.
    """
    digest = derived_secret(db_password, "zoho-access-token")
    return f"1000.{digest[:32]}.{digest[32:]}"


def env_values(db_password: str, db_url: str) -> dict[str, str]:
    """The env file's variables and values for a sandbox."""
    values = {name: fixed or derived_secret(db_password, name) for name, fixed in ENV_SETTINGS.items()}
    values["DATABASE_URL"] = db_url
    values["POSTGRES_PASSWORD"] = db_password
    # The live blue/green slot, as the deploy script records it in .env.production (the front keeps it current).
    values["ACTIVE_DEPLOYMENT_SLOT"] = "blue"
    return values


def write_env_file(path: Path, values: dict[str, str]) -> None:
    """Write (or restore) the env file, readable by its owner only."""
    text = "# TSH ERP sandbox settings (written by the sandbox; restored by reset)\n"
    text += "".join(f'{name}="{value}"\n' for name, value in values.items())
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)


def edit_env_file(path: Path, name: str, value: str | None) -> None:
    """Set ``name`` to ``value`` in the env file, or remove its line when ``value`` is None."""
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.split("=", 1)[0].strip() != name:
            kept.append(line)
        elif value is not None:
            kept.append(f'{name}="{value}"')
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")


def env_file_names(path: Path) -> dict[str, str]:
    """``name -> raw value`` of the env file's assignments (for fault bookkeeping only)."""
    if not path.is_file():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {name.strip(): value.strip().strip('"') for name, value in pairs}


def create_source_checkout(directory: Path) -> None:
    """Copy the sample source to ``directory`` and commit it, signed, to a new git repository (see ``release``)."""
    shutil.copytree(SAMPLE_SOURCE, directory, ignore=shutil.ignore_patterns("__pycache__"))
    identity = ["-c", "user.name=TSH sandbox", "-c", "user.email=sandbox@tsh.invalid"]
    try:
        subprocess.run(
            ["git", "init", "--quiet", "--initial-branch=develop"],
            cwd=directory, check=True, capture_output=True, timeout=GIT_TIMEOUT_SECONDS,
        )  # fmt: skip
        release.configure_signing(directory)
        for command in (
            ["git", "add", "--all"],
            ["git", *identity, "commit", "--quiet", "--message", "Sample application source"],
        ):
            subprocess.run(command, cwd=directory, check=True, capture_output=True, timeout=GIT_TIMEOUT_SECONDS)
        release.tag_release(directory)
    except (OSError, subprocess.SubprocessError, SandboxError) as error:
        raise SandboxError(f"cannot create the sample source checkout in {directory}: {error}") from None
