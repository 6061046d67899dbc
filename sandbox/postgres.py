"""The sandbox's PostgreSQL cluster: initdb, start, stop; creating, seeding, saving and restoring the ERP database.

initdb refuses to run as root, so as root every server command runs as the
``postgres`` user, on a data directory that user owns and can reach.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import psycopg

from .errors import SandboxError
from .facts import DATABASE_NAME, DATABASE_ROLE, LOOPBACK, SEED_FILE, TEMPLATE_DATABASE_NAME
from .processes import ProcessRecord
from .state import database_url


def _server_binaries() -> Path:
    """$TSH_SANDBOX_PG_BIN, else the newest Debian PostgreSQL, else the initdb on PATH."""
    if os.environ.get("TSH_SANDBOX_PG_BIN"):
        return Path(os.environ["TSH_SANDBOX_PG_BIN"])
    installed = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if installed:
        return installed[-1].parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else Path("/usr/lib/postgresql/15/bin")


SERVER_BINARIES = _server_binaries()
SERVER_USER = "postgres"
START_TIMEOUT_SECONDS = 20
COMMAND_TIMEOUT_SECONDS = 60
# Speed over durability: this cluster is thrown away after the run.
SERVER_SETTINGS = {
    "listen_addresses": f"'{LOOPBACK}'",
    "unix_socket_directories": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def _running_as_root() -> bool:
    return os.geteuid() == 0


class Cluster:
    """One PostgreSQL cluster in ``data_dir`` listening on the loopback address, port ``port``."""

    def __init__(self, data_dir: Path, port: int, log_file: Path) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_file = log_file

    def initialize(self, password: str) -> None:
        """initdb with the single superuser role tsh_app, then write the server settings."""
        password_file = self.data_dir.parent / ".pwfile"
        with os.fdopen(os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as stream:
            stream.write(password)
        try:
            _hand_to_server_user(password_file, mode=0o600)
            self._run(
                "initdb",
                "-D",
                str(self.data_dir),
                "-U",
                DATABASE_ROLE,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            )
        finally:
            password_file.unlink(missing_ok=True)
        settings = {**SERVER_SETTINGS, "port": str(self.port)}
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# TSH ERP sandbox\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def start(self) -> ProcessRecord:
        """Start the server and return its postmaster; waits until the server is up."""
        self._run("pg_ctl", "start", "-D", str(self.data_dir), "-w", "-t", str(START_TIMEOUT_SECONDS), "-s")
        pid_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        return ProcessRecord.of(int(pid_line))

    def stop(self) -> None:
        """Fast shutdown: roll back open transactions and disconnect clients."""
        self._run(
            "pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", str(START_TIMEOUT_SECONDS), "-s"
        )

    def _run(self, program: str, *arguments: str) -> None:
        executable = SERVER_BINARIES / program
        if not executable.exists():
            raise SandboxError(f"{executable} not found; install PostgreSQL server binaries or set TSH_SANDBOX_PG_BIN")
        as_server_user = {"user": SERVER_USER, "group": SERVER_USER, "extra_groups": []} if _running_as_root() else {}
        with open(self.log_file, "ab") as log:
            try:
                completed = subprocess.run(
                    [str(executable), *arguments],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd="/",
                    env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
                    timeout=COMMAND_TIMEOUT_SECONDS,
                    check=False,
                    **as_server_user,
                )
            except subprocess.TimeoutExpired:
                raise SandboxError(f"{program} {arguments[0]} timed out; see {self.log_file}") from None
        if completed.returncode != 0:
            raise SandboxError(f"{program} failed (exit {completed.returncode}); see {self.log_file}")


def make_data_dir(home: Path, spare_root: Path) -> Path:
    """Create an empty data directory the server user owns and can reach.

    It is ``home/pgdata`` unless, running as root, ``home`` sits in a directory
    the postgres user cannot enter; then it goes under ``spare_root``.
    """
    parent = home
    if _running_as_root() and not _reachable_by_others(home):
        parent = Path(tempfile.mkdtemp(prefix="cluster-", dir=spare_root))
        parent.chmod(0o755)
    data_dir = parent / "pgdata"
    data_dir.mkdir(mode=0o700)
    _hand_to_server_user(data_dir, mode=0o700)
    return data_dir


def remove_data_dir(data_dir: Path, home: Path) -> None:
    """Delete a data directory made by :func:`make_data_dir` (and its spare parent)."""
    target = data_dir if data_dir.parent == home else data_dir.parent
    shutil.rmtree(target, ignore_errors=True)


def _reachable_by_others(path: Path) -> bool:
    return all(os.stat(directory).st_mode & stat.S_IXOTH for directory in (path, *path.parents))


def _hand_to_server_user(path: Path, *, mode: int) -> None:
    path.chmod(mode)
    if _running_as_root():
        shutil.chown(path, SERVER_USER, SERVER_USER)


def accepts_connections(url: str) -> bool:
    """Whether the server answers a login on ``url`` right now."""
    try:
        with psycopg.connect(url, connect_timeout=1):
            return True
    except psycopg.OperationalError:
        return False


def _admin(port: int, password: str) -> psycopg.Connection:
    """An autocommit session on the maintenance database, for statements on whole databases."""
    return psycopg.connect(database_url(port, password, "postgres"), autocommit=True, connect_timeout=5)


def create_erp_database(port: int, password: str) -> None:
    """Create the empty tsh_erp database (the migrations build its schema)."""
    with _admin(port, password) as admin:
        admin.execute(f"CREATE DATABASE {DATABASE_NAME}")


def load_seed(db_url: str) -> None:
    """Load the deterministic data set into a migrated database."""
    with psycopg.connect(db_url, connect_timeout=5) as erp:
        erp.execute(SEED_FILE.read_text(encoding="utf-8"))


def save_template(port: int, password: str) -> None:
    """Copy tsh_erp, as it is now, to the template database reset restores it from.

    The template takes no connections, so nothing can hold it open when a
    restore copies it.
    """
    with _admin(port, password) as admin:
        admin.execute(f"CREATE DATABASE {TEMPLATE_DATABASE_NAME} TEMPLATE {DATABASE_NAME} STRATEGY FILE_COPY")
        admin.execute(f"ALTER DATABASE {TEMPLATE_DATABASE_NAME} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")


def restore_from_template(port: int, password: str) -> None:
    """Replace tsh_erp with a fresh copy of its template.

    The copy is made under a spare name first, so tsh_erp is missing only
    between the forced drop (which ends every session on it) and the rename:
    clients that reconnect (the app per request, the worker after a short
    delay) find the restored database.
    """
    restoring = f"{DATABASE_NAME}_restoring"
    try:
        with _admin(port, password) as admin:
            known = {row[0] for row in admin.execute("SELECT datname FROM pg_database")}
            if TEMPLATE_DATABASE_NAME not in known:
                missing = f"the sandbox has no template database {TEMPLATE_DATABASE_NAME} to restore from"
                raise SandboxError(f"{missing}; start a new sandbox")
            admin.execute(f"DROP DATABASE IF EXISTS {restoring}")
            admin.execute(f"CREATE DATABASE {restoring} TEMPLATE {TEMPLATE_DATABASE_NAME} STRATEGY FILE_COPY")
            admin.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")
            admin.execute(f"ALTER DATABASE {restoring} RENAME TO {DATABASE_NAME}")
    except psycopg.Error as error:
        reason = str(error).strip().splitlines()[0]
        raise SandboxError(f"cannot restore the database from its template: {reason}") from None
