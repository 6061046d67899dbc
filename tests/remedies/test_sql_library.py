"""The SQL library: its file is validated, and its statements are valid SQL on the TDS tables."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from remedies.actions import run_statement
from remedies.catalog import RecipeError, load_sql_library

SAMPLE_PARAMS = {
    "queue_counts_by_status": {},
    "recent_inbox_events_for_entity": {"entity_type": "invoice", "window_minutes": 60},
    "release_stuck_processing": {"stale_minutes": 60},
    "dead_letters_by_class": {},
    "requeue_dead_letters": {
        "error_codes": "connection_error,timeout",
        "row_limit": 10,
        "resolved_by": "test",
        "resolution_notes": "test",
    },
    "integrity_rule_rows": {"rule": "orphan_invoices"},
}


@pytest.fixture
def db_url(healthy_sandbox) -> str:
    """The sandbox database: the real TDS tables."""
    return healthy_sandbox.db_url


def test_shipped_library_has_the_statements_the_recipes_use():
    library = load_sql_library()
    assert {name: (s.read_only, s.params, s.max_rows) for name, s in library.items()} == {
        "queue_counts_by_status": (True, (), None),
        "recent_inbox_events_for_entity": (True, ("entity_type", "window_minutes"), None),
        "release_stuck_processing": (False, ("stale_minutes",), 500),
        "dead_letters_by_class": (True, (), None),
        "requeue_dead_letters": (False, ("error_codes", "row_limit", "resolved_by", "resolution_notes"), 500),
        "integrity_rule_rows": (True, ("rule",), None),
    }
    assert set(SAMPLE_PARAMS) == set(library)


BAD_LIBRARIES = {
    "bare placeholder": (
        'name = "a"\nread_only = true\nsql = "SELECT %s"',
        "statements[0].sql: only %(name)s placeholders are allowed (write a literal % as %%)",
    ),
    "undeclared placeholder": (
        'name = "a"\nread_only = true\nparams = ["x"]\nsql = "SELECT %(y)s"',
        "statements[0].sql: placeholders must match params (sql uses: y; params: x)",
    ),
    "unbounded mutation": (
        'name = "a"\nread_only = false\nsql = "DELETE FROM t"',
        "statements[0].max_rows: required for a mutating statement (allowed: an integer >= 1)",
    ),
    "bound on a read": (
        'name = "a"\nread_only = true\nmax_rows = 5\nsql = "SELECT 1"',
        "statements[0].max_rows: not allowed for a read-only statement (only mutating statements change rows)",
    ),
    "unknown key": (
        'name = "a"\nread_only = true\nsql = "SELECT 1"\nshell = "ls"',
        "statements[0].shell: unknown key (allowed: max_rows, name, params, read_only, sql)",
    ),
}


@pytest.mark.parametrize(("body", "message"), BAD_LIBRARIES.values(), ids=BAD_LIBRARIES.keys())
def test_bad_statement_is_one_line(tmp_path, monkeypatch, body, message):
    monkeypatch.chdir(tmp_path)
    Path("sql.toml").write_text(f"[[statements]]\n{body}\n", encoding="utf-8")
    with pytest.raises(RecipeError) as error:
        load_sql_library(Path("sql.toml"))
    assert str(error.value) == f"sql.toml: {message}"


def test_statement_names_are_unique(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    statement = '[[statements]]\nname = "a"\nread_only = true\nsql = "SELECT 1"\n'
    Path("sql.toml").write_text(statement * 2, encoding="utf-8")
    with pytest.raises(RecipeError) as error:
        load_sql_library(Path("sql.toml"))
    assert str(error.value) == "sql.toml: statements: statement names must be unique; repeated: a"


@pytest.mark.parametrize("name", sorted(SAMPLE_PARAMS))
def test_statement_runs_on_the_tds_tables(name, db_url):
    """Each statement executes on a real database; the transaction is rolled back."""
    statement = load_sql_library()[name]
    with psycopg.connect(db_url, connect_timeout=5) as connection:
        connection.read_only = statement.read_only
        connection.execute(statement.sql, SAMPLE_PARAMS[name])
        connection.rollback()


def test_release_over_the_bound_is_rolled_back_on_a_real_database(db_url):
    statement = load_sql_library()["release_stuck_processing"]
    probe = "remedies-bound-test"
    with psycopg.connect(db_url, connect_timeout=5, autocommit=True) as setup:
        setup.execute(
            "INSERT INTO tds_sync_queue (entity_type, source_entity_id, operation_type, validated_payload, status,"
            " started_at, locked_by) VALUES ('invoice', %s, 'create', '{}', 'processing', now() - interval '2 hours',"
            " 'remedies-test')",
            (probe,),
        )
        try:
            with psycopg.connect(db_url, connect_timeout=5) as connection:
                result = run_statement(connection, statement, {"stale_minutes": 60}, max_rows=0)
            row = setup.execute(
                "SELECT status::text, attempt_count, locked_by FROM tds_sync_queue WHERE source_entity_id = %s",
                (probe,),
            ).fetchone()
        finally:
            setup.execute("DELETE FROM tds_sync_queue WHERE source_entity_id = %s", (probe,))
    assert result.status == "failed"
    assert result.detail == (
        f"release_stuck_processing would change {result.rows} rows, more than the limit of 0; rolled back"
    )
    assert row == ("processing", 0, "remedies-test")
