"""One renderer of recipes: a recipe as it reads for one failure on one target.

Every output that shows a recipe — the HTML report's Remedy, the Allure
attachment, ``auto_healing_suggestions.txt``, ``summary.md``, the terminal
section and the healing plan — renders it here, from one context:

- the failed test's parameters (``{entity}``, ``{zoho_entity}``, ``{variable}``…),
- the failure itself: ``{nodeid}``, ``{check}`` (the test name with its id),
  ``{kind}`` and ``{evidence}`` (a one-line summary of its evidence),
- target facts: ``{target}``, ``{base_url}`` and ``{tds_entity}`` (the TDS
  entity of the failed webhook route) and ``{endpoint_path}`` (the path of the failed
  named API endpoint), when the target is known;
- ``{utc_stamp}``: the time of rendering, UTC, as ``YYYYmmdd_HHMMSS`` -- the name
  stamp of a file a step makes (``pre_deploy_{utc_stamp}.dump``).

The failure's own values win over target facts. Steps are described by one
describer, :func:`describe_step`, the same text the healing plan and ledger use.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from fixtures.inventory import Inventory
from remedies.actions import is_local_host, row_limit
from remedies.catalog import Catalog, CommandStep, HttpStep, ManualStep, Recipe, ServiceStep, SqlStep, Step, render

EVIDENCE_SUMMARY_CHARS = 240
UTC_STAMP_FORMAT = "%Y%m%d_%H%M%S"
RISK_NOTE = {"safe": "safe", "guarded": "guarded: needs --heal-approve", "destructive": "destructive: never run"}
# Evidence keys that decide a diagnosis, shown first in the summary.
_DECISIVE_KEYS = ("status", "error_codes", "error", "count", "actual", "limit", "missing_in_erp", "missing_in_zoho")


class FailureLike(Protocol):
    nodeid: str
    kind: str
    params: dict[str, Any]
    evidence: dict[str, Any]


@dataclass(frozen=True)
class RenderedRecipe:
    """A recipe's text for one failure, every placeholder filled."""

    id: str
    key: str
    title: str
    severity: str
    diagnosis: str
    likely_causes: list[str]
    steps: list[tuple[str, str]]  # (description, risk)
    verification: str

    @property
    def heading(self) -> str:
        return f"{self.id} {self.title} ({self.severity})"


def target_facts(inventory: Inventory | None, params: Mapping[str, Any]) -> dict[str, Any]:
    """What the target adds to a recipe's context for a failure with ``params``."""
    if inventory is None:
        return {}
    facts: dict[str, Any] = {"target": inventory.name, "base_url": inventory.http.base_url}
    route = next((r for r in inventory.webhooks.routes if r.name == params.get("entity")), None)
    if route is not None:
        facts["tds_entity"] = route.tds_entity
    zoho_entities = inventory.zoho.entities.items() if inventory.zoho else ()
    synced = [name for name, entity in zoho_entities if entity.table == params.get("schema_table")]
    if len(synced) == 1:
        facts["zoho_entity"] = synced[0]
    name = params.get("endpoint") or params.get("protected_endpoint")
    endpoint = next((e for e in inventory.api.endpoints if e.name == name), None)
    if endpoint is not None:
        facts["endpoint_path"] = endpoint.path
    # A host's service (or the port of the service of the same name): the [services.*] entry that starts it.
    item = params.get("host_service") or params.get("host_port")
    services = [
        (f"{host.name}-{service.name}", service.binding) for host in inventory.hosts for service in host.services
    ]
    binding = next((binding for name, binding in services if name == item and binding), None)
    if binding is not None:
        facts["service_binding"] = binding
    return facts


# Evidence values a recipe may use as placeholders, each only when it names a slot the inventory's [deploy] declares.
SLOT_EVIDENCE = ("active_slot", "other_slot")


def failure_fields(failure: FailureLike) -> dict[str, Any]:
    """What the failure itself adds to the context: ``nodeid``, ``check``, ``kind`` and ``evidence``.

    ``active_slot``/``other_slot`` of the evidence come along too; :func:`context_for` keeps them only when they
    name declared slots.
    """
    slots = {key: failure.evidence[key] for key in SLOT_EVIDENCE if isinstance(failure.evidence.get(key), str)}
    return {
        "nodeid": failure.nodeid,
        "check": failure.nodeid.split("::")[-1],
        "kind": failure.kind,
        "evidence": evidence_summary(failure.evidence),
        **slots,
    }


def _declared_slots_only(inventory: Inventory | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    declared = set(inventory.deploy.slots) if inventory is not None and inventory.deploy is not None else set()
    return {key: value for key, value in fields.items() if key not in SLOT_EVIDENCE or value in declared}


def context_for(
    inventory: Inventory | None, params: Mapping[str, Any], fields: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The one rendering context: target facts and the time, then the failure's fields, then the test's parameters."""
    stamp = datetime.now(UTC).strftime(UTC_STAMP_FORMAT)
    fields = _declared_slots_only(inventory, fields or {})
    return {**target_facts(inventory, params), "utc_stamp": stamp, **fields, **params}


def evidence_summary(evidence: Mapping[str, Any], limit: int = EVIDENCE_SUMMARY_CHARS) -> str:
    """``status=500; body=…``: the evidence in one line, decisive keys first, cut at ``limit``."""
    keys = [key for key in _DECISIVE_KEYS if key in evidence] + [key for key in evidence if key not in _DECISIVE_KEYS]
    parts = []
    for key in keys:
        value = evidence[key]
        shown = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
        parts.append(f"{key}={' '.join(str(shown).split())}")
    text = "; ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_step(step: Step, inventory: Inventory | None = None) -> str:
    """The exact, one-line description of a rendered step (on this target, when known)."""
    match step:
        case ServiceStep():
            binding = inventory.services.get(step.service) if inventory else None
            if binding is None:
                return f"service {step.operation} {step.service}"
            where = "" if is_local_host(binding.host) else f" on {binding.host}"
            return f"service {step.operation} {step.service} ({binding.binding} binding{where})"
        case SqlStep():
            shown = [f"{name}={value}" for name, value in step.params.items()]
            if step.sql.read_only:
                limit = "read-only"
            elif inventory is not None:
                limit = f"max {row_limit(step.sql, inventory)} rows"
            else:
                limit = f"max {step.sql.max_rows} rows"
            return f"sql {step.sql.name} ({', '.join([*shown, limit])})"
        case HttpStep():
            body = f" json {json.dumps(step.body, sort_keys=True)}" if step.body is not None else ""
            return f"http {step.method} {step.path}{body}"
        case CommandStep():
            shown = ", ".join(f"{name}={value}" for name, value in step.args.items())
            return f"command {step.command}" + (f" ({shown})" if shown else "")
        case ManualStep():
            return f"manual: {step.text}"


class Renderer:
    """Renders the catalog's recipes for failures of one target."""

    def __init__(self, catalog: Catalog, inventory: Inventory | None = None) -> None:
        self.catalog = catalog
        self.inventory = inventory

    def context(self, failure: FailureLike) -> dict[str, Any]:
        return context_for(self.inventory, failure.params, failure_fields(failure))

    def title(self, recipe_id: str | None) -> str:
        """``H07 Webhook processing raised an error``, or ``no recipe``."""
        recipe = self.catalog.get(recipe_id) if recipe_id else None
        return f"{recipe.id} {recipe.title}" if recipe else "no recipe"

    def recipe(self, recipe: Recipe, failure: FailureLike) -> RenderedRecipe:
        context = self.context(failure)
        steps = [template.rendered(context) for template in recipe.steps]
        return RenderedRecipe(
            id=recipe.id,
            key=recipe.key,
            title=render(recipe.title, context),
            severity=recipe.severity,
            diagnosis=render(recipe.diagnosis, context),
            likely_causes=[render(cause, context) for cause in recipe.likely_causes],
            steps=[(describe_step(step, self.inventory), step.risk) for step in steps],
            verification=render(recipe.verification, context),
        )

    def for_failure(self, failure: FailureLike, recipe_id: str | None) -> RenderedRecipe | None:
        recipe = self.catalog.get(recipe_id) if recipe_id else None
        return self.recipe(recipe, failure) if recipe else None

    def remedy_text(self, failure: FailureLike, recipe_id: str | None) -> str:
        """The Remedy block of the HTML report and the Allure attachment."""
        rendered = self.for_failure(failure, recipe_id)
        evidence = evidence_summary(failure.evidence)
        if rendered is None:
            return "\n".join(
                [
                    f"No recipe matches this failure (kind {failure.kind}). It needs a human and a new recipe.",
                    *([f"Evidence: {evidence}"] if evidence else []),
                ]
            )
        return "\n".join(
            [
                rendered.heading,
                f"Diagnosis: {rendered.diagnosis}",
                *([f"Evidence: {evidence}"] if evidence else []),
                "Likely causes: " + "; ".join(rendered.likely_causes),
                "Steps:",
                *[f"  {n}. {text} ({RISK_NOTE[risk]})" for n, (text, risk) in enumerate(rendered.steps, 1)],
                f"Verification: {rendered.verification}",
            ]
        )
