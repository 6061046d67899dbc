"""Step executors: argv building, argument validation, SQL bounds, HTTP and redaction."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from types import SimpleNamespace

import httpx
import pytest
import respx

from fixtures.inventory import CommandTemplate, ServiceBinding
from remedies import actions
from remedies.actions import ActionError, command_argv, run_statement, run_step, service_argv
from remedies.catalog import load_sql_library

PYTHON = sys.executable

# --- command templates ------------------------------------------------------------------

TEMPLATE = CommandTemplate(argv=["scripts/sync.py", "--entity", "{entity}", "--since={since}"])


def test_command_template_is_filled_with_validated_arguments():
    argv = command_argv("sync", TEMPLATE, {"entity": "invoices", "since": "2025-11-16T00:00:00"})
    assert argv == ["scripts/sync.py", "--entity", "invoices", "--since=2025-11-16T00:00:00"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"entity": "; rm -rf /", "since": "1"},
            "command 'sync': argument entity='; rm -rf /' is not allowed "
            "(allowed: letters, digits and _ . : / -, not starting with -)",
        ),
        (
            {"entity": "$(reboot)", "since": "1"},
            "command 'sync': argument entity='$(reboot)' is not allowed "
            "(allowed: letters, digits and _ . : / -, not starting with -)",
        ),
        (
            {"entity": "--delete-all", "since": "1"},
            "command 'sync': argument entity='--delete-all' is not allowed "
            "(allowed: letters, digits and _ . : / -, not starting with -)",
        ),
        ({"entity": "invoices"}, "command 'sync': argument 'since' is missing (its placeholders: entity, since)"),
        (
            {"entity": "invoices", "since": "1", "force": "yes"},
            "command 'sync': argument 'force' is not used (its placeholders: entity, since)",
        ),
    ],
    ids=["shell metacharacters", "command substitution", "option injection", "missing", "unused"],
)
def test_bad_command_arguments_are_refused(args, message):
    with pytest.raises(ActionError) as error:
        command_argv("sync", TEMPLATE, args)
    assert str(error.value) == message


def test_command_step_runs_the_template_locally(inventory, make_step, redact):
    result = run_step(make_step(action="command", command="say", args={"entity": "invoices"}), inventory, redact)
    argv = [PYTHON, "-c", "print('fixed invoices')"]
    assert (result.status, result.detail) == ("ok", f"{shlex.join(argv)} exited 0: fixed invoices")
    assert result.duration_seconds > 0


def test_failing_command_reports_exit_status_and_output(inventory, make_step, redact):
    result = run_step(make_step(action="command", command="fail"), inventory, redact)
    assert result.status == "failed"
    assert result.detail.endswith(" exited 3: broken")


def test_command_output_is_redacted(inventory, make_step, redact, secret):
    result = run_step(make_step(action="command", command="leak"), inventory, redact)
    assert result.status == "ok"
    assert secret not in result.detail
    assert result.detail.endswith("exited 0: token=***")


def test_step_with_an_unfilled_placeholder_is_not_run(inventory, make_step, redact):
    result = run_step(make_step(action="command", command="say", args={"entity": "{entity}"}), inventory, redact)
    assert (result.status, result.detail) == ("failed", "no value for {entity} in the failed test's parameters")


def test_undeclared_command_fails_the_step(inventory, make_step, redact):
    result = run_step(make_step(action="command", command="purge"), inventory, redact)
    assert (result.status, result.detail) == (
        "failed",
        "target unit declares no command 'purge' (declared: fail, leak, say)",
    )


# --- services ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("binding", "argv"),
    [
        (ServiceBinding(binding="systemd", name="tsh-erp"), ["systemctl", "restart", "tsh-erp"]),
        (ServiceBinding(binding="docker", name="tsh_erp_app_blue"), ["docker", "restart", "tsh_erp_app_blue"]),
        (
            ServiceBinding(binding="compose", name="app", project="tsh_erp_staging"),
            ["docker", "compose", "-p", "tsh_erp_staging", "restart", "app"],
        ),
    ],
    ids=["systemd", "docker", "compose"],
)
def test_service_argv_follows_the_binding(binding, argv):
    assert service_argv("restart", binding) == argv


def test_command_binding_fills_the_operation_into_its_own_argv():
    binding = ServiceBinding(
        binding="command", name="worker", argv=[PYTHON, "-m", "sandbox", "service", "{operation}", "worker"]
    )
    assert service_argv("restart", binding) == [PYTHON, "-m", "sandbox", "service", "restart", "worker"]


def test_command_binding_runs_its_argv_on_its_host(inventory, make_step, redact):
    result = run_step(make_step(action="service", service="worker", operation="restart"), inventory, redact)
    assert result.status == "ok"
    assert result.detail.endswith("exited 0: worker restart")


@pytest.mark.parametrize(
    ("binding", "message"),
    [
        ({"binding": "command", "name": "worker", "argv": ["restart-it"]}, "needs argv with an {operation}"),
        ({"binding": "command", "name": "worker"}, "needs argv with an {operation}"),
        ({"binding": "docker", "name": "app", "argv": ["x"]}, 'argv is only allowed with binding = "command"'),
    ],
)
def test_a_service_binding_argv_is_checked_when_the_inventory_loads(binding, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        ServiceBinding(**binding)


def test_compose_binding_needs_a_project():
    with pytest.raises(ActionError) as error:
        service_argv("restart", ServiceBinding(binding="compose", name="app"))
    assert str(error.value) == "service 'app' uses the compose binding but names no project"


def test_local_service_runs_from_the_project_root_with_the_service_timeout(inventory, make_step, redact, monkeypatch):
    calls = []

    def fake_run(argv, **options):
        calls.append((argv, options["cwd"], options["timeout"]))
        return subprocess.CompletedProcess(argv, 0, stdout="worker restarted\n", stderr="")

    monkeypatch.setattr(actions, "run_child", fake_run)
    result = run_step(make_step(action="service", service="worker", operation="restart"), inventory, redact)
    argv = [PYTHON, "-c", "print('worker restart')"]
    assert calls == [(argv, actions.PROJECT_ROOT, 60.0)]
    assert (result.status, result.detail) == ("ok", f"{shlex.join(argv)} exited 0: worker restarted")


def test_remote_service_runs_through_testinfra_with_quoted_bounded_argv(
    inventory_factory, make_step, redact, monkeypatch
):
    host = "ssh://root@167.71.39.50"
    inventory = inventory_factory(
        services={"app": {"binding": "docker", "name": "tsh_erp_app_blue", "host": host, "argv": None}}
    )
    calls = []

    class FakeHost:
        def run(self, command, *args):
            calls.append((command, args))
            return SimpleNamespace(rc=0, stdout="tsh_erp_app_blue\n", stderr="")

    monkeypatch.setattr(actions.testinfra, "get_host", lambda spec: calls.append(spec) or FakeHost())
    result = run_step(make_step(action="service", service="app", operation="restart"), inventory, redact)
    assert calls == [host, ("%s %s %s %s %s", ("timeout", "60", "docker", "restart", "tsh_erp_app_blue"))]
    assert (result.status, result.detail) == (
        "ok",
        f"docker restart tsh_erp_app_blue on {host} exited 0: tsh_erp_app_blue",
    )


# --- http -------------------------------------------------------------------------------


@respx.mock
def test_http_step_reports_status_and_body(inventory, make_step, redact):
    respx.get("http://erp.test/health").respond(200, json={"status": "healthy"})
    result = run_step(make_step(action="http", method="GET", path="/health"), inventory, redact)
    assert (result.status, result.detail) == ("ok", 'GET /health answered 200: {"status":"healthy"}')


@respx.mock
def test_http_error_status_fails_the_step(inventory, make_step, redact):
    respx.post("http://erp.test/api/bff/tds/sync/stock", json={"batch_size": 100}).respond(503, text="busy")
    step = make_step(action="http", method="POST", path="/api/bff/tds/sync/stock", json={"batch_size": 100})
    result = run_step(step, inventory, redact)
    assert (result.status, result.detail) == ("failed", "POST /api/bff/tds/sync/stock answered 503: busy")


@respx.mock
def test_unreachable_target_fails_the_step(inventory, make_step, redact):
    respx.get("http://erp.test/health").mock(side_effect=httpx.ConnectError("connection refused"))
    result = run_step(make_step(action="http", method="GET", path="/health"), inventory, redact)
    assert (result.status, result.detail) == (
        "failed",
        "GET /health could not be reached (ConnectError: connection refused)",
    )


# --- sql --------------------------------------------------------------------------------


class FakeCursor:
    def __init__(self, rowcount, rows=(), columns=()):
        self.rowcount = rowcount
        self.rows = list(rows)
        self.description = [(name,) for name in columns]
        self.executed = []

    def execute(self, query, params):
        self.executed.append((query, params))

    def fetchmany(self, size):
        return self.rows[:size]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class FakeConnection:
    def __init__(self, cursor):
        self.read_only = None
        self._cursor = cursor
        self.ended = []

    def cursor(self):
        return self._cursor

    def commit(self):
        self.ended.append("commit")

    def rollback(self):
        self.ended.append("rollback")


def test_mutation_over_the_bound_is_rolled_back():
    statement = load_sql_library()["release_stuck_processing"]
    connection = FakeConnection(FakeCursor(rowcount=501))
    result = run_statement(connection, statement, {"stale_minutes": 60}, max_rows=500)
    assert (result.status, result.rows, connection.ended, connection.read_only) == ("failed", 501, ["rollback"], False)
    assert result.detail == "release_stuck_processing would change 501 rows, more than the limit of 500; rolled back"


def test_mutation_within_the_bound_is_committed():
    statement = load_sql_library()["release_stuck_processing"]
    connection = FakeConnection(FakeCursor(rowcount=500))
    result = run_statement(connection, statement, {"stale_minutes": 60}, max_rows=500)
    assert (result.status, result.rows, connection.ended) == ("ok", 500, ["commit"])
    assert result.detail == "release_stuck_processing changed 500 rows (limit 500)"
    assert connection.cursor().executed == [(statement.sql, {"stale_minutes": 60})]


def test_read_only_statement_runs_read_only_and_reports_rows():
    statement = load_sql_library()["queue_counts_by_status"]
    cursor = FakeCursor(-1, rows=[("pending", 4, None), ("retry", 1, None)], columns=["status", "rows", "oldest"])
    connection = FakeConnection(cursor)
    result = run_statement(connection, statement, {}, max_rows=500)
    assert (connection.read_only, connection.ended, result.rows) == (True, ["rollback"], 2)
    assert result.detail == (
        "queue_counts_by_status: 2 rows: status=pending, rows=4, oldest=None; status=retry, rows=1, oldest=None"
    )


def test_row_limit_is_the_lower_of_statement_and_target(inventory_factory):
    release = load_sql_library()["release_stuck_processing"]
    assert actions.row_limit(release, inventory_factory(healing={"max_rows": 200})) == 200
    assert actions.row_limit(release, inventory_factory(healing={"max_rows": 5000})) == 500


def test_database_failure_fails_the_step_without_the_password(inventory_factory, make_step, redact, secret):
    inventory = inventory_factory(database={"connect_timeout_seconds": 1})
    result = run_step(make_step(action="sql", statement="queue_counts_by_status"), inventory, redact)
    assert result.status == "failed"
    assert result.detail.startswith("OperationalError: ")
    assert secret not in result.detail
