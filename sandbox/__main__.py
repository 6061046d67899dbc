"""``python -m sandbox``: start, inspect, break and stop the embedded sandbox.

Location: ``--home DIR`` or ``--state FILE``; else ``$TSH_SANDBOX_STATE``; else
the default home. Errors are one line on stderr with exit code 2; ``status``
exits 0 when every service runs and 3 otherwise. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
import time
from pathlib import Path

from .controller import ACTIONS, SERVICES, Sandbox, default_home
from .errors import SandboxError
from .facts import ZOHO_LISTS
from .faults import describe_faults, parse_fault
from .front import CERT_DAYS, SLOTS

EXIT_ERROR = 2
EXIT_NOT_RUNNING = 3


def _state_file(arguments: argparse.Namespace) -> Path:
    if arguments.state:
        return arguments.state
    if arguments.home:
        return arguments.home / "state.json"
    configured = os.environ.get("TSH_SANDBOX_STATE")
    return Path(configured) if configured else default_home() / "state.json"


def _attach(arguments: argparse.Namespace) -> Sandbox:
    return Sandbox.attach(_state_file(arguments), require_running=False)


def up(arguments: argparse.Namespace) -> int:
    sandbox = Sandbox.start(
        _state_file(arguments).parent,
        db_password=os.environ.get("TSH_SANDBOX_DB_PASSWORD") or secrets.token_urlsafe(18),
        webhook_key=os.environ.get("TSH_SANDBOX_WEBHOOK_KEY") or None,
    )
    print(f"sandbox running at {sandbox.base_url}")
    print(f"state file: {sandbox.state_file}")
    print(f"export TSH_SANDBOX_STATE={shlex.quote(str(sandbox.state_file))}")
    return 0


def down(arguments: argparse.Namespace) -> int:
    sandbox = _attach(arguments)
    sandbox.stop(remove=True)
    print(f"sandbox in {sandbox.home} stopped and removed")
    return 0


def status(arguments: argparse.Namespace) -> int:
    try:
        services = _attach(arguments).status()
    except SandboxError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return EXIT_NOT_RUNNING
    for name, state in services.items():
        print(f"{name}: {state}")
    return 0 if all(state == "running" for state in services.values()) else EXIT_NOT_RUNNING


def fault_add(arguments: argparse.Namespace) -> int:
    faults = [parse_fault(spec) for spec in arguments.specs]  # all valid before any applies
    sandbox = _attach(arguments)
    for fault in faults:
        sandbox.apply_fault(fault.spec)
        print(f"fault on: {fault.spec}")
    return 0


def fault_clear(arguments: argparse.Namespace) -> int:
    _attach(arguments).clear_faults()
    print("flag faults cleared")
    return 0


def fault_list(arguments: argparse.Namespace) -> int:
    for spec in _attach(arguments).faults():
        print(spec)
    return 0


def service(arguments: argparse.Namespace) -> int:
    _attach(arguments).service(arguments.name, arguments.action)
    print(f"{arguments.name}: {arguments.action} done")
    return 0


def migrate(arguments: argparse.Namespace) -> int:
    from .migrations import upgrade

    sandbox = _attach(arguments)
    before, after = upgrade(sandbox.db_url, sandbox.migrations_dir)
    print(f"database already at head {after}" if before == after else f"database migrated from {before} to {after}")
    return 0


def reset(arguments: argparse.Namespace) -> int:
    started = time.monotonic()
    _attach(arguments).reset()
    print(f"sandbox reset in {time.monotonic() - started:.2f} s: faults cleared, services running, database restored")
    return 0


def backup(arguments: argparse.Namespace) -> int:
    path = _attach(arguments).back_up(arguments.stamp)
    print(f"database dumped to {path} ({path.stat().st_size} bytes, pg_dump -Fc)")
    return 0


def switch_slot(arguments: argparse.Namespace) -> int:
    _attach(arguments).switch_slot(arguments.slot)
    print(f"active slot: {arguments.slot} (upstream rewritten, nginx -t passed, reloaded, ACTIVE_DEPLOYMENT_SLOT set)")
    return 0


def renew_certificate(arguments: argparse.Namespace) -> int:
    days_left = _attach(arguments).renew_certificate(arguments.days)
    print(f"certificate renewed: {days_left:.1f} days left; nginx reloaded")
    return 0


def zoho_resync(arguments: argparse.Namespace) -> int:
    from .state import HomeLayout
    from .zoho.app import load_credentials
    from .zoho.resync import resync

    sandbox = _attach(arguments)
    credentials = load_credentials(HomeLayout(sandbox.home).zoho_file)
    inserted, updated = resync(sandbox.db_url, sandbox.zoho_url, credentials, arguments.entity)
    print(f"zoho resync {arguments.entity}: {inserted} inserted, {updated} updated")
    return 0


def _parser() -> argparse.ArgumentParser:
    location = argparse.ArgumentParser(add_help=False)
    where = location.add_argument_group("location").add_mutually_exclusive_group()
    where.add_argument("--home", type=Path, help="The sandbox's home directory")
    where.add_argument("--state", type=Path, help="The sandbox's state.json")

    parser = argparse.ArgumentParser(
        prog="python -m sandbox",
        description="Run the embedded TSH ERP sandbox",
        epilog=f"faults (python -m sandbox fault add SPEC ...):\n{describe_faults()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", parents=[location], help="Start a fresh sandbox").set_defaults(run=up)
    commands.add_parser("down", parents=[location], help="Stop the sandbox and delete its home").set_defaults(run=down)
    commands.add_parser("status", parents=[location], help="Show each service; exit 3 unless all run").set_defaults(
        run=status
    )

    fault = commands.add_parser("fault", help="Switch faults on and off")
    fault_commands = fault.add_subparsers(dest="fault_command", required=True, metavar="ACTION")
    add = fault_commands.add_parser(
        "add",
        parents=[location],
        help="Switch faults on",
        epilog=f"faults:\n{describe_faults()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("specs", nargs="+", metavar="SPEC", help="NAME or NAME:ENTITY")
    add.set_defaults(run=fault_add)
    fault_commands.add_parser("clear", parents=[location], help="Switch every flag fault off").set_defaults(
        run=fault_clear
    )
    fault_commands.add_parser("list", parents=[location], help="Print the faults in effect").set_defaults(
        run=fault_list
    )

    control = commands.add_parser("service", parents=[location], help="Start, stop or restart one service")
    control.add_argument("action", choices=ACTIONS)
    control.add_argument("name", choices=SERVICES)
    control.set_defaults(run=service)

    commands.add_parser(
        "migrate", parents=[location], help="Apply the pending migrations (alembic upgrade head)"
    ).set_defaults(run=migrate)
    commands.add_parser(
        "reset",
        parents=[location],
        help="Clear every fault, start every service and restore the database from its template",
    ).set_defaults(run=reset)

    backup_command = commands.add_parser(
        "backup", parents=[location], help="Dump the database (pg_dump -Fc) into the backups directory"
    )
    backup_command.add_argument(
        "--stamp", metavar="YYYYmmdd_HHMMSS", help="UTC time in the name pre_deploy_<stamp>.dump (default: now)"
    )
    backup_command.set_defaults(run=backup)

    switch_command = commands.add_parser(
        "switch-slot", parents=[location], help="Make a blue/green slot active: upstream, nginx -t, reload, env file"
    )
    switch_command.add_argument("slot", choices=SLOTS)
    switch_command.set_defaults(run=switch_slot)
    renew_command = commands.add_parser(
        "renew-certificate", parents=[location], help="Issue a new TLS certificate for the front and reload nginx"
    )
    renew_command.add_argument("--days", type=int, default=CERT_DAYS, help=f"validity in days (default {CERT_DAYS})")
    renew_command.set_defaults(run=renew_certificate)

    resync_command = commands.add_parser(
        "zoho-resync", parents=[location], help="Copy the records Zoho holds and the ERP lacks into the ERP"
    )
    resync_command.add_argument("--entity", required=True, choices=sorted(ZOHO_LISTS), help="The Zoho list")
    resync_command.set_defaults(run=zoho_resync)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        return arguments.run(arguments)
    except SandboxError as error:
        print(f"sandbox: {error}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    raise SystemExit(main())
