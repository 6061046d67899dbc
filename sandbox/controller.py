"""Supervising one sandbox: its PostgreSQL cluster, the ERP app (blue slot) and its green slot, the sync worker,
the Zoho simulator and the public front (nginx, :mod:`.front`).

A sandbox lives in a home directory::

    state.json     ports, pids (what `Sandbox.attach` reads)
    secrets.json   database password and webhook key (mode 0600)
    zoho.json      the Zoho simulator's OAuth client, refresh token and organization (mode 0600)
    faults.json    flag faults in effect (read by the app)
    app.env        application settings the configuration checks read (mode 0600; reset restores it)
    alembic/       the sandbox's copy of the alembic script directory the database is migrated with
    backups/       pre-deploy dumps (pre_deploy_<UTC stamp>.dump); start and reset leave one fresh dump there
    pristine.dump  pg_dump -Fc of the database as built, the dump start and reset lay out
    source/        git checkout of sandbox/sample_source, for the code and build gates
    front/         nginx's configuration, site file (the active slot's upstream), sandbox CA and server certificate
    logs/          one log per service: postgres.log, app.log, green.log, worker.log, zoho.log, front.log
    pgdata/        the cluster (elsewhere when the postgres user cannot reach home)

The cluster holds the ERP database tsh_erp and, saved once it was created,
migrated and seeded, its template tsh_erp_template: reset restores tsh_erp
from the template, so every run starts from the same data whatever the runs
before it (and their heals) changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import httpx
import psycopg
from filelock import FileLock

from . import migrations, release
from .backups import back_up, lay_out_backups
from .errors import SandboxError
from .facts import LOOPBACK, PACKAGE_NAME, PROJECT_ROOT
from .faults import FaultStore, active_faults, parse_fault, undo_faults
from .faults.host import unmount_disk
from .front import CERT_DAYS, DEFAULT_SLOT, Front, check_slot
from .postgres import (
    SERVER_BINARIES,
    Cluster,
    accepts_connections,
    create_erp_database,
    load_seed,
    make_data_dir,
    remove_data_dir,
    restore_from_template,
    save_template,
)
from .processes import ProcessRecord, free_port, spawn, terminate_group, wait_until
from .provision import api_token, create_source_checkout, edit_env_file, env_values, write_env_file
from .state import HomeLayout, SandboxState, Secrets, database_url
from .zoho.app import RELOAD_PATH, load_credentials, new_credentials, save_credentials

ACTIONS = ("start", "stop", "restart")
READY_TIMEOUT_SECONDS = 20.0
STOP_GRACE_SECONDS = 5.0
LOCK_TIMEOUT_SECONDS = 60.0


def runtime_root() -> Path:
    """``/tmp/tsh-sandbox-<uid>``: this user's sandboxes, reachable by the postgres user."""
    return Path(f"/tmp/tsh-sandbox-{os.geteuid()}")  # noqa: S108 -- fixed path; owner checked on creation


def default_home() -> Path:
    """``$TSH_SANDBOX_HOME``, else ``/tmp/tsh-sandbox-<uid>/checkout-<hash of this checkout's path>``.

    The default sandbox belongs to the checkout, not the machine: two checkouts (two
    branches, two CI jobs) never attach to, fault or stop each other's sandbox.
    """
    configured = os.environ.get("TSH_SANDBOX_HOME")
    if configured:
        return Path(configured)
    checkout = hashlib.sha256(str(PROJECT_ROOT.resolve()).encode()).hexdigest()[:12]
    return runtime_root() / f"checkout-{checkout}"


ProcessProbe = Callable[["Sandbox", ProcessRecord], bool]
SandboxStep = Callable[["Sandbox"], None]


def _terminate(sandbox: Sandbox, record: ProcessRecord) -> None:
    terminate_group(record, grace_seconds=STOP_GRACE_SECONDS)


def _no_environment(sandbox: Sandbox) -> dict[str, str]:
    return {}


@dataclass(frozen=True, kw_only=True)
class Service:
    """One service of a sandbox: how it starts, when it is ready and how it stops.

    It starts either as ``command``, an argv the controller spawns in a session of
    its own (in the project root, with the sandbox's environment and
    ``environment``), or through ``start``, which starts it and returns the record
    of its process. ``is_ready`` is polled until it holds, the process exits or
    READY_TIMEOUT_SECONDS pass; ``not_ready`` says what a timeout means.
    ``before_start`` runs before every start. A new sandbox also runs
    ``before_first_start`` before its first start and ``after_first_start`` once
    it is first ready; the services after one with that step start only then.
    :meth:`Sandbox.reset` runs ``reset`` once the service runs: it takes back
    what runs changed in the service.
    """

    name: str
    is_ready: ProcessProbe
    command: Callable[[Sandbox], list[str]] | None = None
    environment: Callable[[Sandbox], dict[str, str]] = _no_environment
    start: Callable[[Sandbox], ProcessRecord] | None = None
    stop: Callable[[Sandbox, ProcessRecord], None] = _terminate
    not_ready: str = "was not ready"
    before_start: SandboxStep | None = None
    before_first_start: SandboxStep | None = None
    after_first_start: SandboxStep | None = None
    reset: SandboxStep | None = None

    def __post_init__(self) -> None:
        if (self.command is None) == (self.start is None):
            raise ValueError(f"service {self.name}: give either a command or a start callable")


def _uvicorn(factory: str, port: Callable[[Sandbox], int]) -> Callable[[Sandbox], list[str]]:
    """The argv serving the app ``factory`` (``module:function`` in the package) on the sandbox's ``port``."""

    def command(sandbox: Sandbox) -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", f"{PACKAGE_NAME}.{factory}", "--factory",
            "--host", LOOPBACK, "--port", str(port(sandbox)), "--log-level", "warning",
        ]  # fmt: skip

    return command


def _answers_health(base_url: Callable[[Sandbox], str]) -> ProcessProbe:
    """Ready once ``GET <base_url>/health`` answers 200."""

    def probe(sandbox: Sandbox, record: ProcessRecord) -> bool:
        try:
            return httpx.get(f"{base_url(sandbox)}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return probe


def _accepts_logins(sandbox: Sandbox, record: ProcessRecord) -> bool:
    port, password = sandbox._state.postgres_port, sandbox._secrets.db_password
    return accepts_connections(database_url(port, password, "postgres"))


def _app_environment(sandbox: Sandbox, slot: str = "blue") -> dict[str, str]:
    # A request held by webhook-timeout must not delay shutdown past 1 s.
    environment = {"UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN": "1", "TSH_DEPLOYMENT_SLOT": slot}
    if sandbox.webhook_key:
        environment["WEBHOOK_API_KEY"] = sandbox.webhook_key
    return environment


def _slot_url(slot: str) -> Callable[[Sandbox], str]:
    return lambda sandbox: sandbox.front.slot_url(slot)


def _start_front(sandbox: Sandbox) -> ProcessRecord:
    return sandbox.front.start(sandbox._layout.log_file("front"))


def _front_ready(sandbox: Sandbox, record: ProcessRecord) -> bool:
    return sandbox.front.is_ready(record)


def _reset_front(sandbox: Sandbox) -> None:
    """Blue active in the site file and the env file, a fresh certificate, nginx reloaded."""
    front = sandbox.front
    front.issue_certificate(CERT_DAYS)
    front.write_site(DEFAULT_SLOT)
    edit_env_file(sandbox._layout.env_file, "ACTIVE_DEPLOYMENT_SLOT", DEFAULT_SLOT)
    front.reload(sandbox._state.processes.get("front"))


def _reload_zoho(sandbox: Sandbox) -> None:
    """Have the Zoho simulator start over from the database as it is now, as a restart would, in one request."""
    try:
        answer = httpx.post(f"{sandbox.zoho_url}{RELOAD_PATH}", timeout=10.0)
    except httpx.HTTPError as error:
        raise SandboxError(f"the Zoho simulator did not reload: {error}") from None
    if answer.status_code != 200:
        raise SandboxError(f"the Zoho simulator did not reload (HTTP {answer.status_code}); see its log")


def _worker_command(sandbox: Sandbox) -> list[str]:
    return [sys.executable, "-m", f"{PACKAGE_NAME}.worker", "--state", str(sandbox.state_file)]


def _worker_polled(sandbox: Sandbox, record: ProcessRecord) -> bool:
    try:
        return sandbox._layout.worker_ready_file.read_text().strip() == str(record.pid)
    except FileNotFoundError:
        return False


# The sandbox's services, in start order (they stop in reverse). Adding a service is adding an entry.
SERVICE_TABLE: dict[str, Service] = {
    service.name: service
    for service in (
        Service(
            name="postgres",
            before_first_start=lambda sandbox: sandbox._cluster.initialize(sandbox._secrets.db_password),
            start=lambda sandbox: sandbox._cluster.start(),
            is_ready=_accepts_logins,
            not_ready="did not accept connections",
            after_first_start=lambda sandbox: sandbox._build_database(),
            stop=lambda sandbox, record: sandbox._cluster.stop(),
            reset=lambda sandbox: restore_from_template(sandbox._state.postgres_port, sandbox._secrets.db_password),
        ),
        Service(
            name="app",
            command=_uvicorn("erp.app:create_app", lambda sandbox: sandbox._state.app_port),
            environment=_app_environment,
            is_ready=_answers_health(attrgetter("base_url")),
        ),
        Service(
            name="green",
            command=_uvicorn("erp.app:create_app", lambda sandbox: sandbox._state.green_port),
            environment=lambda sandbox: _app_environment(sandbox, "green"),
            is_ready=_answers_health(_slot_url("green")),
        ),
        Service(
            name="worker",
            command=_worker_command,
            before_start=lambda sandbox: sandbox._layout.worker_ready_file.unlink(missing_ok=True),
            is_ready=_worker_polled,
        ),
        Service(
            name="zoho",
            command=_uvicorn("zoho.app:create_app_from_state", lambda sandbox: sandbox._state.zoho_port),
            is_ready=_answers_health(attrgetter("zoho_url")),
            reset=_reload_zoho,
        ),
        Service(
            name="front",
            before_first_start=lambda sandbox: sandbox.front.prepare(),
            start=_start_front,
            is_ready=_front_ready,
            not_ready="(nginx) did not start its workers",
            reset=_reset_front,
        ),
    )
}
SERVICES: tuple[str, ...] = tuple(SERVICE_TABLE)


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

    @property
    def front(self) -> Front:
        """The nginx front: its files, URLs and the two slots' ports."""
        state = self._state
        return Front(
            self.home,
            https_port=state.https_port,
            http_port=state.http_port,
            slot_ports={"blue": state.app_port, "green": state.green_port},
        )

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
            for service in reversed(SERVICE_TABLE.values()):
                try:
                    self._stop_service(service)
                except SandboxError as error:
                    problems.append(str(error))
        if problems:
            raise SandboxError("; ".join(problems))
        if remove:
            unmount_disk(self.home)
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
            "TSH_SANDBOX_STAGING_FINDINGS": str(release.staging_findings_file(self.home)),
            "TSH_SANDBOX_MIGRATIONS_DIR": str(self.migrations_dir),
            "TSH_SANDBOX_API_TOKEN": api_token(self._secrets.db_password),
            "TSH_SANDBOX_BACKUP_DIR": str(self._layout.backups_dir),
            # The cluster's maintenance database: where a backup check may create and drop a scratch database.
            "TSH_SANDBOX_SCRATCH_DB_URL": self._maintenance_url,
            "TSH_SANDBOX_PG_BIN": str(SERVER_BINARIES),
            **self._front_env(),
            # What the host checks look for: the services' ports and command lines, the disk path, the app's log.
            "TSH_SANDBOX_APP_PORT": str(self._state.app_port),
            "TSH_SANDBOX_GREEN_PORT": str(self._state.green_port),
            "TSH_SANDBOX_PG_PORT": str(self._state.postgres_port),
            "TSH_SANDBOX_ZOHO_PORT": str(self._state.zoho_port),
            "TSH_SANDBOX_PGDATA": str(self._state.pg_data),
            "TSH_SANDBOX_DISK_DIR": str(self._layout.disk_dir),
            "TSH_SANDBOX_APP_LOG": str(self._layout.app_log_file),
            **self._zoho_env(),
        }

    @property
    def backups_dir(self) -> Path:
        """Where the sandbox's pre-deploy dumps are (absolute): what the backup checks read, and faults change."""
        return self._layout.backups_dir

    @property
    def _maintenance_url(self) -> str:
        return database_url(self._state.postgres_port, self._secrets.db_password, "postgres")

    @property
    def migrations_dir(self) -> Path:
        """The sandbox's alembic script directory (absolute): what it migrates with, and faults change."""
        return self._layout.migrations_dir

    def _front_env(self) -> dict[str, str]:
        """The public front (nginx) and the two slots, as a deploy's variables name them."""
        front = self.front
        return {
            "TSH_SANDBOX_PUBLIC_URL": front.public_url,
            "TSH_SANDBOX_PUBLIC_HTTP_URL": front.http_url,
            "TSH_SANDBOX_CA_FILE": str(front.ca_file),
            "TSH_SANDBOX_NGINX_SITE": str(front.site_file),
            "TSH_SANDBOX_BLUE_URL": front.slot_url("blue"),
            "TSH_SANDBOX_GREEN_URL": front.slot_url("green"),
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
                self._stop_service(SERVICE_TABLE[name])
            if action in ("start", "restart"):
                self._start_service(SERVICE_TABLE[name])

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

    def restore_backups(self) -> None:
        """Leave one fresh dump of the database as reset restores it in the backups directory, and nothing else."""
        lay_out_backups(self._layout, self.db_url)

    def back_up(self, stamp: str | None = None) -> Path:
        """Dump the database as it is now into the backups directory (``stamp``: YYYYmmdd_HHMMSS, UTC)."""
        return back_up(self._layout, self.db_url, stamp)

    def switch_slot(self, slot: str) -> None:
        """Make ``slot`` the active one as the deploy script does: rewrite the upstream, nginx -t, reload, env file.

        A configuration nginx refuses is put back and nothing else changes (SandboxError).
        """
        check_slot(slot)
        with self._lock:
            self._refresh()
            front = self.front
            previous = front.site_file.read_text(encoding="utf-8")
            front.write_site(slot)
            try:
                front.reload(self._state.processes.get("front"))
            except SandboxError:
                front.site_file.write_text(previous, encoding="utf-8")
                raise
            edit_env_file(self._layout.env_file, "ACTIVE_DEPLOYMENT_SLOT", slot)

    def renew_certificate(self, days: int = CERT_DAYS) -> float:
        """Issue a new server certificate valid for ``days`` days and reload nginx; returns the days left."""
        with self._lock:
            self._refresh()
            front = self.front
            front.issue_certificate(days)
            front.reload(self._state.processes.get("front"))
            return front.certificate_days_left()

    def faults(self) -> list[str]:
        """Faults in effect: recorded flag faults, and service-down faults whose service is stopped."""
        return active_faults(self)

    def reset(self) -> None:
        """Take the sandbox back to how its start left it, whatever runs and heals did since.

        Flag faults are cleared, the env file and the migrations are restored,
        every stopped service is started, the database is restored from its
        template (queue rows, resync timestamps, copied rows, revisions and
        renamed tables go with it), the Zoho simulator reloads from it and the
        backups directory holds one fresh dump of it again.
        """
        self.clear_faults()
        self.restore_env_file()
        undo_faults(self)
        with self._lock:
            self._refresh()
            for service in SERVICE_TABLE.values():
                self._start_service(service)
                if service.reset is not None:
                    service.reset(self)
        self.restore_backups()

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
        layout.disk_dir.mkdir()
        secrets.save(layout.secrets_file)
        state = SandboxState(
            home=home,
            pg_data=make_data_dir(home, spare_root),
            postgres_port=free_port(),
            app_port=free_port(),
            processes=dict.fromkeys(SERVICES),
            zoho_port=free_port(),
            green_port=free_port(),
            https_port=free_port(),
            http_port=free_port(),
        )
        save_credentials(layout.zoho_file, new_credentials())
        state.save(layout.state_file)
        sandbox = cls(layout.state_file, state, secrets)
        sandbox.restore_env_file()
        create_source_checkout(layout.source_dir)
        release.restore_staging_findings(home, layout.source_dir)
        migrations.install(layout.migrations_dir)
        return sandbox

    def _build_database(self) -> None:
        """Create tsh_erp, migrate it to the head with alembic, seed it, save it as the template and dump it."""
        port, password = self._state.postgres_port, self._secrets.db_password
        create_erp_database(port, password)
        migrations.upgrade(self.db_url, self.migrations_dir)
        load_seed(self.db_url)
        save_template(port, password)
        self.restore_backups()

    def _boot(self) -> None:
        """Start every service of the table, together where none waits for another's first-start step."""
        starting: list[Service] = []
        for service in SERVICE_TABLE.values():
            if service.before_first_start is not None:
                service.before_first_start(self)
            self._launch(service)
            starting.append(service)
            if service.after_first_start is not None:
                for started in starting:
                    self._await_ready(started)
                starting.clear()
                service.after_first_start(self)
        for started in starting:
            self._await_ready(started)

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

    def _start_service(self, service: Service) -> None:
        if self._state.is_running(service.name):
            return
        self._launch(service)
        self._await_ready(service)

    def _stop_service(self, service: Service) -> None:
        if self._state.is_running(service.name):
            service.stop(self, self._state.processes[service.name])
        self._record(service.name, None)

    def _launch(self, service: Service) -> None:
        """Start ``service`` and record its process, without waiting for it to be ready."""
        if service.before_start is not None:
            service.before_start(self)
        if service.command is not None:
            environment = {**os.environ, "TSH_SANDBOX_STATE": str(self.state_file), "PYTHONUNBUFFERED": "1"}
            environment.pop("WEBHOOK_API_KEY", None)
            environment.update(service.environment(self))
            log_file = self._layout.log_file(service.name)
            record = spawn(service.command(self), log_file=log_file, env=environment, cwd=PROJECT_ROOT)
        else:
            record = service.start(self)
        self._record(service.name, record)

    def _await_ready(self, service: Service) -> None:
        """Return once ``service`` is ready; else stop it and raise SandboxError naming its log."""
        record = self._state.processes[service.name]
        if wait_until(
            lambda: not record.is_alive() or service.is_ready(self, record),
            timeout=READY_TIMEOUT_SECONDS,
            interval=0.1,
        ):
            if record.is_alive():
                return
            problem = f"{service.name} exited during start-up"
        else:
            problem = f"{service.name} {service.not_ready} within {READY_TIMEOUT_SECONDS:g} s"
        self._stop_service(service)
        raise SandboxError(f"{problem}; see {self._layout.log_file(service.name)}")


def _make_runtime_root() -> Path:
    root = runtime_root()
    root.mkdir(mode=0o755, exist_ok=True)
    if root.stat().st_uid != os.geteuid():
        raise SandboxError(f"{root} belongs to another user; remove it or set TSH_SANDBOX_HOME")
    root.chmod(0o755)
    return root
