"""Fault specs and the fault store, without processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from sandbox import FAULT_NAMES, SandboxError
from sandbox.controller import SERVICES
from sandbox.faults import FAULTS, FaultStore, ServiceDownFault, parse_fault

ROUTES = "products, customers, invoices, orders, stock, prices, payments, vendors, users"


def test_fault_names_are_the_documented_set() -> None:
    assert FAULT_NAMES == (
        "webhook-timeout",
        "webhook-error",
        "webhook-reject",
        "webhook-unrecorded",
        "webhook-missing",
        "worker-down",
        "backend-down",
        "database-down",
        "worker-failing",
        "secret-placeholder",
        "secret-missing",
        "endpoint-error",
        "endpoint-slow",
        "auth-open",
        "endpoint-undeclared-error",
        "route-shadowed",
        "public-requires-auth",
        "zoho-drift",
        "zoho-stale",
        "zoho-auth-invalid",
        "zoho-rate-limit",
        "zoho-down",
        "dead-letters",
        "stuck-processing",
        "backlog",
        "migration-behind",
        "migration-heads",
        "destructive-migration",
        "missing-table",
        "missing-column",
        "duplicate-emails",
        "duplicate-skus",
        "orphan-invoices",
        "backup-missing",
        "backup-stale",
        "backup-corrupt",
        "backup-too-many",
        "unsigned-commit",
        "staging-failed",
        "slot-down",
        "slot-mismatch",
        "cert-expiring",
        "port-closed",
        "disk-low",
        "error-spike",
    )


@pytest.mark.parametrize("spec", ["webhook-error:invoices", " worker-down ", "webhook-missing:users"])
def test_valid_spec_round_trips(spec: str) -> None:
    assert parse_fault(spec).spec == spec.strip()


def test_unknown_fault_lists_allowed_faults_and_suggests_closest() -> None:
    with pytest.raises(SandboxError) as caught:
        parse_fault("worker-dwn")
    message = str(caught.value)
    assert "did you mean worker-down?" in message
    assert all(name in message for name in FAULT_NAMES)
    assert ROUTES in message


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("webhook-error:bills", f"fault webhook-error needs an entity, one of: {ROUTES} (got 'bills')"),
        ("webhook-error", f"fault webhook-error needs an entity, one of: {ROUTES} (got None)"),
        ("worker-down:now", "fault worker-down takes no argument (got 'now')"),
    ],
    ids=["unknown-entity", "missing-entity", "unexpected-argument"],
)
def test_bad_argument_is_refused_with_allowed_values(spec: str, expected: str) -> None:
    with pytest.raises(SandboxError) as caught:
        parse_fault(spec)
    assert str(caught.value) == expected


def test_store_adds_once_clears_and_sees_changes_by_other_writers(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    reader, writer = FaultStore(path), FaultStore(path)
    assert reader.specs() == ()
    writer.add(parse_fault("webhook-error:invoices"))
    writer.add(parse_fault("webhook-error:invoices"))
    writer.add(parse_fault("webhook-missing:orders"))
    assert reader.specs() == ("webhook-error:invoices", "webhook-missing:orders")
    assert reader.is_active("webhook-error", "invoices")
    assert not reader.is_active("webhook-error", "orders")
    assert reader.arguments_of("webhook-missing") == {"orders"}
    writer.clear()
    assert reader.specs() == ()
    assert json.loads(path.read_text()) == {"faults": []}
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"


def test_malformed_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "faults.json"
    path.write_text('{"faults": "webhook-error:invoices"}')
    with pytest.raises(SandboxError, match="is malformed: 'faults' must be a list of specs"):
        FaultStore(path).specs()


def test_every_service_fault_stops_a_service_of_the_table() -> None:
    stopped = {kind.name: kind.service for kind in FAULTS.values() if isinstance(kind, ServiceDownFault)}
    assert stopped == {"worker-down": "worker", "backend-down": "app", "database-down": "postgres", "zoho-down": "zoho"}
    assert set(stopped.values()) <= set(SERVICES)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("duplicate-emails:26", "fault duplicate-emails needs a row count, 1..25 (got '26')"),
        ("duplicate-skus", "fault duplicate-skus needs a row count, 1..40 (got None)"),
        ("orphan-invoices:0", "fault orphan-invoices needs a row count, 1..30 (got '0')"),
    ],
)
def test_integrity_fault_counts_stay_within_the_seeded_rows(spec: str, expected: str) -> None:
    with pytest.raises(SandboxError) as caught:
        parse_fault(spec)
    assert str(caught.value) == expected
