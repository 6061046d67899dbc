"""Files a sandbox keeps in its home: state.json, secrets.json and their layout.

The controller writes them; the app and the worker read them to find the
database and the fault store. Secrets live apart from the state, in a file only
the owner can read, so the state can be shown and shared freely.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from .errors import SandboxError
from .facts import DATABASE_NAME, DATABASE_ROLE, LOOPBACK
from .processes import ProcessRecord


@dataclass(frozen=True)
class HomeLayout:
    """Where everything lives inside a sandbox home."""

    home: Path

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def secrets_file(self) -> Path:
        return self.home / "secrets.json"

    @property
    def faults_file(self) -> Path:
        return self.home / "faults.json"

    @property
    def env_file(self) -> Path:
        """The application settings the configuration checks read (mode 0600)."""
        return self.home / "app.env"

    @property
    def source_dir(self) -> Path:
        """A git checkout of the sample application source, for the code gates."""
        return self.home / "source"

    @property
    def zoho_file(self) -> Path:
        """The Zoho simulator's OAuth client, refresh token and organization (mode 0600)."""
        return self.home / "zoho.json"

    @property
    def migrations_dir(self) -> Path:
        """The sandbox's copy of the alembic script directory (env.py, script.py.mako, versions/)."""
        return self.home / "alembic"

    @property
    def backups_dir(self) -> Path:
        """The pre-deploy dumps (``pre_deploy_<UTC stamp>.dump``), as a deploy's backup step leaves them."""
        return self.home / "backups"

    @property
    def pristine_dump(self) -> Path:
        """``pg_dump -Fc`` of the database as built: what start and reset lay out in ``backups_dir``."""
        return self.home / "pristine.dump"

    @property
    def lock_file(self) -> Path:
        return self.home / "sandbox.lock"

    @property
    def worker_ready_file(self) -> Path:
        """Written by the worker (its pid) once its first poll has completed."""
        return self.home / "worker.ready"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def log_file(self, service: str) -> Path:
        return self.logs_dir / f"{service}.log"

    @property
    def app_log_file(self) -> Path:
        """The ERP app's own log (timestamped lines with a level), what the host log checks read."""
        return self.logs_dir / "erp.log"

    @property
    def disk_dir(self) -> Path:
        """The directory whose free space the host disk check measures (disk-low mounts a small tmpfs here)."""
        return self.home / "disk"


@dataclass
class SandboxState:
    """Ports and processes of one sandbox, as stored in state.json."""

    home: Path
    pg_data: Path
    postgres_port: int
    app_port: int
    processes: dict[str, ProcessRecord | None] = field(default_factory=dict)
    zoho_port: int = 0
    green_port: int = 0
    https_port: int = 0
    http_port: int = 0

    @property
    def layout(self) -> HomeLayout:
        return HomeLayout(self.home)

    def is_running(self, name: str) -> bool:
        """Whether the recorded process of service ``name`` is alive."""
        record = self.processes.get(name)
        return record is not None and record.is_alive()

    def status(self, names: Iterable[str] | None = None) -> dict[str, str]:
        """``{service: "running"|"stopped"}`` for ``names`` (default: every recorded service)."""
        services = self.processes if names is None else names
        return {name: "running" if self.is_running(name) else "stopped" for name in services}

    def save(self, path: Path) -> None:
        write_json_atomic(
            path,
            {
                "home": str(self.home),
                "pg_data": str(self.pg_data),
                "ports": {
                    "postgres": self.postgres_port,
                    "app": self.app_port,
                    "zoho": self.zoho_port,
                    "green": self.green_port,
                    "https": self.https_port,
                    "http": self.http_port,
                },
                "processes": {
                    name: None if record is None else record.to_json() for name, record in self.processes.items()
                },
            },
        )

    @classmethod
    def load(cls, path: Path) -> SandboxState:
        data = read_json(path, what="sandbox state file")
        try:
            return cls(
                home=Path(data["home"]),
                pg_data=Path(data["pg_data"]),
                postgres_port=int(data["ports"]["postgres"]),
                app_port=int(data["ports"]["app"]),
                zoho_port=int(data["ports"].get("zoho", 0)),
                green_port=int(data["ports"].get("green", 0)),
                https_port=int(data["ports"].get("https", 0)),
                http_port=int(data["ports"].get("http", 0)),
                processes={
                    name: None if record is None else ProcessRecord.from_json(record)
                    for name, record in data["processes"].items()
                },
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SandboxError(f"sandbox state file {path} is malformed ({error!r})") from None


@dataclass(frozen=True)
class Secrets:
    """The database password and optional webhook key; never printed."""

    db_password: str = field(repr=False)
    webhook_key: str | None = field(default=None, repr=False)

    def save(self, path: Path) -> None:
        write_json_atomic(path, {"db_password": self.db_password, "webhook_key": self.webhook_key}, mode=0o600)

    @classmethod
    def load(cls, path: Path) -> Secrets:
        data = read_json(path, what="sandbox secrets file")
        try:
            return cls(db_password=str(data["db_password"]), webhook_key=data.get("webhook_key"))
        except (KeyError, AttributeError):
            raise SandboxError(f"sandbox secrets file {path} is malformed") from None


def database_url(port: int, password: str, database: str = DATABASE_NAME) -> str:
    """The libpq URL of the sandbox database for the single role tsh_app."""
    return f"postgresql://{DATABASE_ROLE}:{quote(password, safe='')}@{LOOPBACK}:{port}/{database}"


def read_json(path: Path, *, what: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SandboxError(f"no {what} at {path}") from None
    except (OSError, ValueError) as error:
        raise SandboxError(f"cannot read {what} {path}: {error}") from None
    if not isinstance(data, dict):
        raise SandboxError(f"{what} {path} does not hold a JSON object")
    return data


def write_json_atomic(path: Path, data: object, *, mode: int = 0o644) -> None:
    """Replace ``path`` in one step, so readers see the old or the new content."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(data, stream, indent=2, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
