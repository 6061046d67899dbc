"""From failed checks to findings: the recipe of each failure and its root cause.

A failure is explained by another failure of the same run when the other's
recipe says so (``[explains]``): a failed health check explains every webhook
that could not be reached. Chains are followed to the top, so each failure
names the failure that started it.

Independent causes stay apart: a failure to get any answer names the endpoint
that gave none (:attr:`Failure.endpoint`, an HTTP origin or the database), and a
recipe's ``[explains]`` never crosses endpoints -- a silent database is not
explained by a silent app, nor a silent Zoho by either. The declared
dependencies (``remedies/dependencies.toml``) are structural and always apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

SEVERITY_RANK = {"critical": 0, "error": 1, "warning": 2, "info": 3}


@dataclass
class Failure:
    """One failed check as the reports show it."""

    nodeid: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    recipe: str | None = None
    root_cause: str | None = None
    healed: bool | None = None
    heal_note: str = ""
    endpoint: str | None = None  # the endpoint that gave no answer (unreachable, timeout)

    def as_finding(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "kind": self.kind,
            "recipe": self.recipe,
            "root_cause": self.root_cause,
            "healed": self.healed,
            "heal_note": self.heal_note,
            "endpoint": self.endpoint,
            "params": self.params,
            "message": self.message,
            "evidence": self.evidence,
        }


def assign_root_causes(
    failures: list[Failure], catalog, context: Callable[[Failure], Mapping[str, Any]] | None = None
) -> None:
    """Set ``root_cause`` on every failure another failure explains; an explained failure carries its root's recipe.

    A failure explains another when its recipe's ``[explains]`` says so, or when the
    catalog's dependency table puts its check upstream of the other's. ``context``
    gives the values a failure's explain globs may use (its parameters by default).
    """
    context = context or (lambda failure: failure.params)
    by_id = {failure.nodeid: failure for failure in failures}
    explainers: dict[str, list[str]] = {failure.nodeid: [] for failure in failures}
    declared: set[tuple[str, str]] = set()  # (upstream, downstream) pairs of the dependency table
    for candidate in failures:
        recipe = catalog.get(candidate.recipe) if candidate.recipe else None
        values = context(candidate)
        for other in failures:
            by_recipe = (
                recipe is not None
                and not _silent_elsewhere(candidate, other)
                and recipe.explains_failure(candidate.nodeid, values, other.nodeid, other.kind)
            )
            by_table = any(
                dependency.explains(candidate.nodeid, values, other.nodeid, other.kind)
                for dependency in catalog.dependencies
            )
            if by_recipe or by_table:
                explainers[other.nodeid].append(candidate.nodeid)
            if by_table:
                declared.add((candidate.nodeid, other.nodeid))
    # Two failures that explain each other: a declared dependency beats a recipe's broad [explains]
    # (an unhealthy active slot explains the public /health behind it, not the other way round); else
    # the one with the more severe recipe (then the smaller node id) is the explanation.
    def wins(source: str, nodeid: str) -> bool:
        if nodeid not in explainers[source]:
            return True
        if ((source, nodeid) in declared) != ((nodeid, source) in declared):
            return (source, nodeid) in declared
        return _rank(by_id[source], catalog) < _rank(by_id[nodeid], catalog)

    for nodeid, sources in explainers.items():
        explainers[nodeid] = [source for source in sources if wins(source, nodeid)]
    for failure in failures:
        failure.root_cause = _top_of_chain(failure.nodeid, explainers, by_id, catalog)
    for failure in failures:
        root = by_id[failure.root_cause] if failure.root_cause else None
        if root is not None and root.recipe:
            failure.recipe = root.recipe


def _silent_elsewhere(candidate: Failure, other: Failure) -> bool:
    """``other`` got no answer from an endpoint that is not the one ``candidate`` got none from."""
    return other.endpoint is not None and other.endpoint != candidate.endpoint


def roots(failures: list[Failure]) -> list[Failure]:
    return [failure for failure in failures if failure.root_cause is None]


def explained_by(root: Failure, failures: list[Failure]) -> list[Failure]:
    return [failure for failure in failures if failure.root_cause == root.nodeid]


def _top_of_chain(nodeid: str, explainers: dict[str, list[str]], by_id, catalog) -> str | None:
    seen = {nodeid}
    current = nodeid
    while explainers[current]:
        # Prefer an explainer that is itself unexplained, then the most severe.
        options = sorted(explainers[current], key=lambda n: (bool(explainers[n]), _rank(by_id[n], catalog)))
        nxt = next((option for option in options if option not in seen), None)
        if nxt is None:
            break
        seen.add(nxt)
        current = nxt
    return None if current == nodeid else current


def _rank(failure: Failure, catalog) -> tuple[int, str]:
    recipe = catalog.get(failure.recipe) if failure.recipe else None
    severity = SEVERITY_RANK.get(recipe.severity, 9) if recipe else 9
    return severity, failure.nodeid
