"""Supervising one sandbox: its PostgreSQL cluster, the ERP app, the sync worker and the Zoho simulator.

A sandbox lives in a home directory::

    state.json     ports, pids (what `Sandbox.attach` reads)
    secrets.json   database password and webhook key (mode 0600)
    zoho.json      the Zoho simulator's OAuth client, refresh token and organization (mode 0600)
    faults.json    flag faults in effect (read by the app)
    app.env        application settings the configuration checks read (mode 0600; reset restores it)
    source/        git checkout of sandbox/sample_source, for the code and build gates
    logs/          postgres.log, app.log, worker.log
    pgdata/        the cluster (elsewhere when the postgres user cannot reach home)
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import httpx
import psycopg
from filelock import FileLock

from .errors import SandboxError
from .facts import LOOPBACK, PROJECT_ROOT
from .faults import FaultStore, active_faults, parse_fault, undo_data_faults
from .postgres import Cluster, accepts_connections, create_erp_database, make_data_dir, remove_data_dir
from .processes import ProcessRecord, free_port, spawn, terminate_group, wait_until
from .provision import api_token, create_source_checkout, env_values, write_env_file
from .state import HomeLayout, SandboxState, Secrets, database_url
from .zoho.app import load_credentials, new_credentials, save_credentials
from .zoho.data import purge_extras

SERVICES = ("postgres", "app", "worker", "zoho")  # start order; stop in reverse
ACTIONS = ("start", "stop", "restart")
READY_TIMEOUT_SECONDS = 20.0
STOP_GRACE_SECONDS = 5.0
LOCK_TIMEOUT_SECONDS = 60.0


def runtime_root() -> Path:
    """``/tmp/tsh-sandbox-<uid>``: this user's sandboxes, reachable by the postgres user."""
    return Path(f"/tmp/tsh-sandbox-{os.geteuid()}")  # noqa: S108 -- fixed path; owner checked on creation


def default_home() -> Path:
    """``$TSH_SANDBOX_HOME``, else ``/tmp/tsh-sandbox-<uid>/default``."""
    configured = os.environ.get("TSH_SANDBOX_HOME")
    return Path(configured) if configured else runtime_root() / "default"


class Sandbox:
    """A running (or stopped) sandbox; obtain one with :meth:`start` or :meth:`attach`."""

    def __init__(self, state_file: Path, state: SandboxState, secrets: Secrets) -> None:
        self.state_file = state_file
        self.home = state.home
        self.webhook_key = secrets.webhook_key
        self.fault_store = FaultStore(state.layout.faults_file)
        self._state = state
        self._secrets = secrets
        self._layout = state.layout
        self._cluster = Cluster(state.pg_data, state.postgres_port, self._layout.log_file("postgres"))
        self._lock = FileLock(self._layout.lock_file, timeout=LOCK_TIMEOUT_SECONDS)

    def __repr__(self) -> str:
        return f"Sandbox(home={str(self.home)!r}, base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self._state.app_port}"

    @property
    def db_url(self) -> str:
        return database_url(self._state.postgres_port, self._secrets.db_password)

    # -- life cycle ---------------------------------------------------------

    @classmethod
    def start(cls, home: Path, *, db_password: str, webhook_key: str | None = None) -> Sandbox:
        """Create a fresh sandbox in ``home`` and start every service.

        Raises SandboxError if ``home`` holds a running sandbox or is a foreign,
        non-empty directory, and when any step fails (after stopping what had
        started; the logs stay in ``home/logs``).
        """
        if not db_password:
            raise SandboxError("a database password is required")
        home = Path(home).absolute()
        try:
            sandbox = cls._create(home, Secrets(db_password, webhook_key or None))
        except OSError as error:
            raise SandboxError(f"cannot prepare the sandbox home {home}: {error}") from None
        try:
            sandbox._boot()
        except (SandboxError, OSError, psycopg.Error) as error:
            reason = str(error).strip().splitlines()[0]
            cleanup_note = sandbox._abandon()
            raise SandboxError(
                f"sandbox did not start: {reason}{cleanup_note} (logs in {sandbox._layout.logs_dir})"
            ) from None
        except BaseException:
            sandbox._abandon()
            raise
        return sandbox

    @classmethod
    def attach(cls, state_file: Path, *, require_running: bool = True) -> Sandbox:
        """The sandbox described by ``state_file``.

        Raises SandboxError when the file is missing or malformed and, unless
        ``require_running`` is false, when none of the sandbox's services runs.
        """
        state_file = Path(state_file).absolute()
        state = SandboxState.load(state_file)
        sandbox = cls(state_file, state, Secrets.load(state.layout.secrets_file))
        if require_running and "running" not in sandbox.status().values():
            raise SandboxError(f"the sandbox in {state.home} is not running")
        return sandbox

    def stop(self, *, remove: bool = True) -> None:
        """Stop the worker, the app and PostgreSQL; then delete the home if ``remove``."""
        problems = []
        with self._lock:
            self._refresh()
            for name in reversed(SERVICES):
                try:
                    self._stop_service(name)
                except SandboxError as error:
                    problems.append(str(error))
        if problems:
            raise SandboxError("; ".join(problems))
        if remove:
            remove_data_dir(self._state.pg_data, self.home)
            shutil.rmtree(self.home, ignore_errors=True)

    # -- inspection ---------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The TSH_SANDBOX_* variables that let other processes find this sandbox."""
        return {
            "TSH_SANDBOX_STATE": str(self.state_file),
            "TSH_SANDBOX_BASE_URL": self.base_url,
            "TSH_SANDBOX_DB_URL": self.db_url,
            "TSH_SANDBOX_WEBHOOK_KEY": self.webhook_key or "",
            "TSH_SANDBOX_ENV_FILE": str(self._layout.env_file),
            "TSH_SANDBOX_SOURCE_DIR": str(self._layout.source_dir),
            "TSH_SANDBOX_API_TOKEN": api_token(self._secrets.db_password),
            **self._zoho_env(),
        }

    @property
    def zoho_url(self) -> str:
        return f"http://{LOOPBACK}:{self._state.zoho_port}"

    def _zoho_env(self) -> dict[str, str]:
        """Where the Zoho simulator answers and the OAuth client it accepts."""
        credentials = load_credentials(self._layout.zoho_file)
        return {
            "TSH_SANDBOX_PYTHON": sys.executable,
            "TSH_SANDBOX_ZOHO_URL": self.zoho_url,
            "TSH_SANDBOX_ZOHO_CLIENT_ID": credentials.client_id,
            "TSH_SANDBOX_ZOHO_CLIENT_SECRET": credentials.client_secret,
            "TSH_SANDBOX_ZOHO_REFRESH_TOKEN": credentials.refresh_token,
            "TSH_SANDBOX_ZOHO_ORGANIZATION_ID": credentials.organization_id,
        }

    def status(self) -> dict[str, str]:
        """``{"postgres"|"app"|"worker"|"zoho": "running"|"stopped"}``, read fresh from state.json."""
        self._refresh()
        return self._state.status(SERVICES)

    def is_running(self) -> bool:
        """Whether every service runs."""
        return all(value == "running" for value in self.status().values())

    # -- control ------------------------------------------------------------

    def service(self, name: str, action: str) -> None:
        """Start, stop or restart one service; idempotent.

        ``start`` returns once the service is ready (postgres accepts logins, the
        app answers /health, the worker has polled once) or raises SandboxError
        after 20 s.
        """
        if name not in SERVICES:
            raise SandboxError(f"unknown service {name!r}; services: {', '.join(SERVICES)}")
        if action not in ACTIONS:
            raise SandboxError(f"unknown action {action!r}; actions: {', '.join(ACTIONS)}")
        with self._lock:
            self._refresh()
            if action in ("stop", "restart"):
                self._stop_service(name)
            if action in ("start", "restart"):
                self._start_service(name)

    def apply_fault(self, spec: str) -> None:
        """Switch on the fault ``spec`` (see :mod:`sandbox.faults`); SandboxError if invalid."""
        fault = parse_fault(spec)
        fault.kind.apply(self, fault)

    def clear_faults(self) -> None:
        """Switch off every flag fault (stopped services stay stopped: see :meth:`reset`)."""
        self.fault_store.clear()

    def restore_env_file(self) -> None:
        """Write the env file with every setting as the sandbox was started with it."""
        write_env_file(self._layout.env_file, env_values(self._secrets.db_password, self.db_url))

    def faults(self) -> list[str]:
        """Faults in effect: recorded flag faults, and service-down faults whose service is stopped."""
        return active_faults(self)

    def reset(self) -> None:
        """Clear all faults, restore the env file and start every stopped service."""
        self.clear_faults()
        self.restore_env_file()
        with self._lock:
            self._refresh()
            for name in SERVICES:
                self._start_service(name)
        undo_data_faults(self)  # queue rows, alembic_version and renamed tables/columns the data faults changed
        purge_extras(self.db_url)  # rows a zoho-drift heal copied in

    # -- internals ----------------------------------------------------------

    @staticmethod
    def _claim_home(home: Path) -> None:
        """Make ``home`` an empty directory, replacing a stopped sandbox found there."""
        state_file = HomeLayout(home).state_file
        if state_file.exists():
            previous = Sandbox.attach(state_file, require_running=False)
            if "running" in previous.status().values():
                raise SandboxError(
                    f"a sandbox is already running in {home}; stop it with: python -m sandbox down --home {home}"
                )
            previous.stop(remove=True)
        elif home.exists() and (not home.is_dir() or any(home.iterdir())):
            raise SandboxError(f"{home} exists and holds no sandbox; choose a new or empty directory")
        home.mkdir(parents=True, exist_ok=True)
        home.chmod(0o755)

    @classmethod
    def _create(cls, home: Path, secrets: Secrets) -> Sandbox:
        """Lay out a new home: secrets, an empty cluster directory, ports and state.json."""
        spare_root = _make_runtime_root()
        cls._claim_home(home)
        layout = HomeLayout(home)
        layout.logs_dir.mkdir()
        secrets.save(layout.secrets_file)
        state = SandboxState(
            home=home,
            pg_data=make_data_dir(home, spare_root),
            postgres_port=free_port(),
            app_port=free_port(),
            processes=dict.fromkeys(SERVICES),
            zoho_port=free_port(),
        )
        save_credentials(layout.zoho_file, new_credentials())
        state.save(layout.state_file)
        sandbox = cls(layout.state_file, state, secrets)
        sandbox.restore_env_file()
        create_source_checkout(layout.source_dir)
        return sandbox

    def _boot(self) -> None:
        self._cluster.initialize(self._secrets.db_password)
        self._start_postgres()
        create_erp_database(self._state.postgres_port, self._secrets.db_password)
        for name in ("app", "worker", "zoho"):
            self._spawn(name)
        for name in ("app", "worker", "zoho"):
            self._await_ready(name)

    def _abandon(self) -> str:
        """Stop what a failed start left running; keep the logs. Returns a note on cleanup trouble."""
        try:
            self.stop(remove=False)
        except SandboxError as error:
            return f"; cleanup failed too: {error}"
        remove_data_dir(self._state.pg_data, self.home)
        return ""

    def _refresh(self) -> None:
        self._state = SandboxState.load(self.state_file)

    def _record(self, name: str, record: ProcessRecord | None) -> None:
        self._state.processes[name] = record
        self._state.save(self.state_file)

    def _start_service(self, name: str) -> None:
        if self._state.is_running(name):
            return
        if name == "postgres":
            self._start_postgres()
        else:
            self._spawn(name)
            self._await_ready(name)

    def _stop_service(self, name: str) -> None:
        if self._state.is_running(name):
            if name == "postgres":
                self._cluster.stop()
            else:
                terminate_group(self._state.processes[name], grace_seconds=STOP_GRACE_SECONDS)
        self._record(name, None)

    def _start_postgres(self) -> None:
        self._record("postgres", self._cluster.start())
        login_url = database_url(self._state.postgres_port, self._secrets.db_password, "postgres")
        if not wait_until(lambda: accepts_connections(login_url), timeout=READY_TIMEOUT_SECONDS, interval=0.1):
            raise SandboxError(
                f"postgres did not accept connections within {READY_TIMEOUT_SECONDS:g} s; "
                f"see {self._layout.log_file('postgres')}"
            )

    def _spawn(self, name: str) -> None:
        environment = {**os.environ, "TSH_SANDBOX_STATE": str(self.state_file), "PYTHONUNBUFFERED": "1"}
        environment.pop("WEBHOOK_API_KEY", None)
        if name == "app":
            command = [
                sys.executable, "-m", "uvicorn", f"{__package__}.erp.app:create_app", "--factory",
                "--host", LOOPBACK, "--port", str(self._state.app_port), "--log-level", "warning",
            ]  # fmt: skip
            # A request held by webhook-timeout must not delay shutdown past 1 s.
            environment["UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN"] = "1"
            if self.webhook_key:
                environment["WEBHOOK_API_KEY"] = self.webhook_key
        elif name == "zoho":
            command = [
                sys.executable, "-m", "uvicorn", f"{__package__}.zoho.app:create_app_from_state", "--factory",
                "--host", LOOPBACK, "--port", str(self._state.zoho_port), "--log-level", "warning",
            ]  # fmt: skip
        else:
            command = [sys.executable, "-m", f"{__package__}.worker", "--state", str(self.state_file)]
            self._layout.worker_ready_file.unlink(missing_ok=True)
        record = spawn(command, log_file=self._layout.log_file(name), env=environment, cwd=PROJECT_ROOT)
        self._record(name, record)

    def _await_ready(self, name: str) -> None:
        record = self._state.processes[name]
        log_file = self._layout.log_file(name)
        is_ready = {"app": self._app_answers, "zoho": self._zoho_answers}.get(name, self._worker_polled)
        if wait_until(lambda: not record.is_alive() or is_ready(record), timeout=READY_TIMEOUT_SECONDS, interval=0.1):
            if record.is_alive():
                return
            problem = f"{name} exited during start-up"
        else:
            problem = f"{name} was not ready within {READY_TIMEOUT_SECONDS:g} s"
        terminate_group(record, grace_seconds=STOP_GRACE_SECONDS)
        self._record(name, None)
        raise SandboxError(f"{problem}; see {log_file}")

    def _app_answers(self, record: ProcessRecord) -> bool:
        try:
            return httpx.get(f"{self.base_url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _zoho_answers(self, record: ProcessRecord) -> bool:
        try:
            return httpx.get(f"{self.zoho_url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def _worker_polled(self, record: ProcessRecord) -> bool:
        try:
            return self._layout.worker_ready_file.read_text().strip() == str(record.pid)
        except FileNotFoundError:
            return False


def _make_runtime_root() -> Path:
    root = runtime_root()
    root.mkdir(mode=0o755, exist_ok=True)
    if root.stat().st_uid != os.geteuid():
        raise SandboxError(f"{root} belongs to another user; remove it or set TSH_SANDBOX_HOME")
    root.chmod(0o755)
    return root
