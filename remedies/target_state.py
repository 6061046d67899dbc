"""What every runner of one target shares, whatever ``--reports-dir`` each one writes to.

A target's identity is its name, its base URL (without any credentials) and its
database's host, port and name; never a password. Its hash names the target's
state directory, ``$TSH_HEAL_STATE_DIR/<hash>`` when that variable is set, else
``$XDG_STATE_HOME/tsh-erp-verification/<hash>``, else
``~/.local/state/tsh-erp-verification/<hash>``. It holds the heal lock file and
the target's ledger, from which the cooldown is read.

The heal lock is held for a heal's whole duration (steps and verification): the
lock file excludes every runner on this machine, and a PostgreSQL advisory lock
(``pg_try_advisory_lock`` on the identity's hash, held on a connection of its
own) every runner anywhere that reaches the same database. A database that does
not answer cannot be locked (a heal may be about to start it); the file lock
still holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import filelock
import psycopg

from fixtures.inventory import Inventory

STATE_DIR_VARIABLE = "TSH_HEAL_STATE_DIR"
STATE_APP_DIR = "tsh-erp-verification"
LOCK_NAME = "heal.lock"
_POSTGRES_DEFAULT_PORT = 5432


class HealingLocked(Exception):
    """Another heal of the same target holds the lock; the message is one line."""


@dataclass(frozen=True)
class TargetIdentity:
    """Which system a target is, as every runner of it names it."""

    name: str
    base_url: str
    database: str  # host:port/dbname

    @classmethod
    def of(cls, inventory: Inventory) -> TargetIdentity:
        base = urlsplit(inventory.http.base_url)
        db = urlsplit(inventory.database.url.get_secret_value())
        base_port = f":{base.port}" if base.port else ""
        return cls(
            name=inventory.name,
            base_url=f"{base.scheme}://{base.hostname}{base_port}{base.path}".rstrip("/"),
            database=f"{db.hostname or 'localhost'}:{db.port or _POSTGRES_DEFAULT_PORT}/{db.path.lstrip('/')}",
        )

    @property
    def digest(self) -> str:
        document = json.dumps([self.name, self.base_url, self.database])
        return hashlib.sha256(document.encode()).hexdigest()

    @property
    def advisory_key(self) -> int:
        """The identity's hash as PostgreSQL's signed 64-bit advisory lock key."""
        return int.from_bytes(bytes.fromhex(self.digest[:16]), "big", signed=True)


def state_dir(identity: TargetIdentity, environ: Mapping[str, str] | None = None) -> Path:
    """The target's state directory (see the module docstring); not created here."""
    environ = os.environ if environ is None else environ
    if environ.get(STATE_DIR_VARIABLE):
        root = Path(environ[STATE_DIR_VARIABLE])
    elif environ.get("XDG_STATE_HOME"):
        root = Path(environ["XDG_STATE_HOME"]) / STATE_APP_DIR
    else:
        root = Path.home() / ".local" / "state" / STATE_APP_DIR
    return root / identity.digest[:24]


class HealLock:
    """The one heal of a target at a time: a lock file in its state directory and an advisory lock."""

    def __init__(self, inventory: Inventory, directory: Path) -> None:
        self._inventory = inventory
        self._identity = TargetIdentity.of(inventory)
        self.path = directory / LOCK_NAME

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold both locks for the block; :class:`HealingLocked` when another heal holds either."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(self.path, timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise self._locked(f"lock file {self.path}") from None
        try:
            with self._advisory_lock():
                yield
        finally:
            lock.release()

    @contextmanager
    def _advisory_lock(self) -> Iterator[None]:
        connection = self._connect()
        if connection is None:
            yield
            return
        key = self._identity.advisory_key
        try:
            try:
                acquired = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
            except psycopg.Error:
                acquired = True  # the database went away just now: the lock file still holds
            if not acquired:
                raise self._locked(f"PostgreSQL advisory lock {key} on its database")
            yield
        finally:
            # Closing the connection releases the lock (a database that went away under the
            # heal, restarted by it, released it already).
            with contextlib.suppress(psycopg.Error):
                connection.close()

    def _connect(self) -> psycopg.Connection | None:
        settings = self._inventory.database
        try:
            return psycopg.connect(
                settings.url.get_secret_value(),
                connect_timeout=settings.connect_timeout_seconds,
                autocommit=True,
                application_name="tsh-verification-heal-lock",
            )
        except psycopg.Error:
            return None

    def _locked(self, which: str) -> HealingLocked:
        return HealingLocked(
            f"another heal of target {self._inventory.name} is running ({which} is held); try again when it ends"
        )
