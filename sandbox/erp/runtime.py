"""What the ERP app process knows about its sandbox, read once at start-up."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from ..errors import SandboxError
from ..faults import FaultStore
from ..state import SandboxState, Secrets, database_url

CONNECT_TIMEOUT_SECONDS = 3
STATEMENT_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class AppRuntime:
    """The database, the webhook key (``$WEBHOOK_API_KEY``) and the fault store of this app."""

    state_file: Path
    db_url: str = field(repr=False)
    webhook_key: str | None = field(repr=False)
    faults: FaultStore
    app_log_file: Path

    @classmethod
    def from_environment(cls) -> AppRuntime:
        state_path = os.environ.get("TSH_SANDBOX_STATE")
        if not state_path:
            raise SandboxError("TSH_SANDBOX_STATE is not set; start the app through python -m sandbox up")
        state = SandboxState.load(Path(state_path))
        secrets = Secrets.load(state.layout.secrets_file)
        return cls(
            state_file=Path(state_path),
            db_url=database_url(state.postgres_port, secrets.db_password),
            webhook_key=os.environ.get("WEBHOOK_API_KEY") or None,
            faults=FaultStore(state.layout.faults_file),
            app_log_file=state.layout.app_log_file,
        )

    async def connect(self) -> psycopg.AsyncConnection:
        """A new autocommit connection (one per request keeps the sandbox simple)."""
        return await psycopg.AsyncConnection.connect(
            self.db_url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        )
