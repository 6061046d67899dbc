"""The production inventory's hosts block, swapped for the sandbox's processes (the real one names containers
over SSH): the lines between ``# >>> hosts`` and ``# <<< hosts`` of ``targets/production.toml`` (or any variant
of it) become :data:`SANDBOX_HOSTS`, so the sandbox-as-production's host checks look at the sandbox."""

from __future__ import annotations

import re
from pathlib import Path

from fixtures.inventory import TARGETS_DIR

HOSTS_BLOCK = re.compile(r"^# >>> hosts\n.*?^# <<< hosts\n", re.MULTILINE | re.DOTALL)

SANDBOX_HOSTS = """# >>> hosts
[[hosts]]
name = "sandbox"
connection = "local://"
min_memory_available_mib = 128

[[hosts.services]]
name = "postgres"
process = "postgres -D ${TSH_SANDBOX_PGDATA}"
binding = "postgres"

[[hosts.services]]
name = "app"
process = "sandbox.erp.app:create_app --factory --host 127.0.0.1 --port ${TSH_SANDBOX_APP_PORT}"
binding = "app"
slot = "blue"

[[hosts.services]]
name = "green"
process = "sandbox.erp.app:create_app --factory --host 127.0.0.1 --port ${TSH_SANDBOX_GREEN_PORT}"
slot = "green"

[[hosts.services]]
name = "worker"
process = "sandbox.worker --state ${TSH_SANDBOX_STATE}"
binding = "worker"

[[hosts.services]]
name = "zoho"
process = "sandbox.zoho.app:create_app_from_state --factory --host 127.0.0.1 --port ${TSH_SANDBOX_ZOHO_PORT}"

[[hosts.ports]]
name = "postgres"
port = "${TSH_SANDBOX_PG_PORT}"

[[hosts.ports]]
name = "app"
port = "${TSH_SANDBOX_APP_PORT}"
slot = "blue"

[[hosts.ports]]
name = "green"
port = "${TSH_SANDBOX_GREEN_PORT}"
slot = "green"

[[hosts.ports]]
name = "zoho"
port = "${TSH_SANDBOX_ZOHO_PORT}"

[[hosts.disks]]
name = "data"
path = "${TSH_SANDBOX_DISK_DIR}"
min_free_percent = 10

[[hosts.logs]]
name = "app"
path = "${PRODUCTION_APP_LOG}"
max_errors = 10
window_minutes = 10

[monitoring]
polls = "${POST_DEPLOY_POLLS:-4}"
interval_seconds = "${POST_DEPLOY_INTERVAL_SECONDS:-30}"
host = "sandbox"
log = "app"
max_errors_per_minute = 5
# <<< hosts
"""


def with_sandbox_hosts(target: str, directory: Path) -> str:
    """The path of a copy of ``target`` (``production`` or an inventory path) whose hosts block is the sandbox's."""
    source = TARGETS_DIR / f"{target}.toml" if "/" not in target and not target.endswith(".toml") else Path(target)
    text = source.read_text(encoding="utf-8")
    if not HOSTS_BLOCK.search(text):
        return target
    path = directory / f"{source.stem}-sandbox-hosts.toml"
    path.write_text(HOSTS_BLOCK.sub(lambda _: SANDBOX_HOSTS, text, count=1), encoding="utf-8")
    return str(path)
