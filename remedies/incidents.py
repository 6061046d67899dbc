"""Incidents: one GitHub issue per root cause that is still failing, opened once, commented on, closed when verified.

Configured by the environment, as in GitHub Actions: ``GITHUB_TOKEN`` and
``GITHUB_REPOSITORY`` (``owner/name``) turn it on; ``GITHUB_API_URL`` is the API
(default ``https://api.github.com``). Each incident is fingerprinted by recipe +
target + the root failure's parameters; the fingerprint, the target and the
root check's node id are kept in a marker comment of the issue's body, so a
later run finds it among the open ``auto-healing`` issues:

- a root cause still failing after the run (and its heal) with no open issue
  of its fingerprint: an issue is opened, labelled ``auto-healing``, the stage,
  and ``critical`` (critical recipes) or ``needs-attention``;
- with an open issue: a comment says it failed again (never a second issue);
- an open issue of this target whose check ran in this run and passed (or was
  healed and verified): a comment says so and the issue is closed.

Every request has the suite's bounds (deadline and body cap); every text sent
is redacted first; a refused or failed request is recorded, never raised.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fixtures.failures import CheckFailed
from fixtures.http import TargetClient, send
from fixtures.inventory import ExchangeBounds
from remedies.analysis import Failure

DEFAULT_API_URL = "https://api.github.com"
REPOSITORY = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
LABEL = "auto-healing"
MAX_PAGES = 10
PER_PAGE = 100
EVIDENCE_LIMIT = 1500
MARKER = re.compile(r"<!-- tsh-incident (\{.*?\}) -->")
BOUNDS = ExchangeBounds(timeout_seconds=10.0, deadline_seconds=20.0, max_body_bytes=8 * 1024 * 1024)


class IncidentSettingsError(ValueError):
    """The incident variables are set but wrong (one line, naming the variable)."""


@dataclass(frozen=True)
class GitHubSettings:
    token: str
    repository: str
    api_url: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GitHubSettings | None:
        """None unless both GITHUB_TOKEN and GITHUB_REPOSITORY are set (non-empty)."""
        token, repository = environ.get("GITHUB_TOKEN", ""), environ.get("GITHUB_REPOSITORY", "")
        if not token or not repository:
            return None
        if not REPOSITORY.fullmatch(repository):
            raise IncidentSettingsError(f"GITHUB_REPOSITORY must be owner/name, got {repository!r}")
        api_url = (environ.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/")
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", api_url):
            raise IncidentSettingsError(f"GITHUB_API_URL must be an http:// or https:// URL, got {api_url!r}")
        return cls(token=token, repository=repository, api_url=api_url)


@dataclass(frozen=True)
class RootCause:
    """A failure no other failure explains, still failing after the run, with the symptoms it explains."""

    failure: Failure
    symptoms: tuple[str, ...]
    title: str
    severity: str

    @property
    def recipe(self) -> str:
        return self.failure.recipe or "NO RECIPE"


@dataclass
class IncidentOutcome:
    """What the run did about incidents: ``actions`` (opened / commented / closed) and ``errors``."""

    configured: bool
    actions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def opened(self) -> list[dict[str, Any]]:
        return [action for action in self.actions if action["action"] == "opened"]

    def as_json(self) -> dict[str, Any]:
        return {"configured": self.configured, "actions": self.actions, "errors": self.errors}

    def lines(self) -> list[str]:
        text = [f"incident #{a['issue']} {a['action']}: {a['title']}" for a in self.actions]
        return text + [f"incidents: {error}" for error in self.errors]


def fingerprint(recipe: str, target: str, params: Mapping[str, Any]) -> str:
    """recipe + target + parameters, the identity of an incident across runs."""
    identity = json.dumps([recipe, target, dict(params)], sort_keys=True, default=str)
    return hashlib.sha256(identity.encode()).hexdigest()[:16]


def remaining_root_causes(
    failures: Iterable[Failure], title: Callable[[str | None], str], severity: Callable[[str | None], str]
) -> list[RootCause]:
    """The roots that are not healed, each with the node ids of the failures it explains."""
    failures = list(failures)
    roots = []
    for failure in failures:
        if failure.root_cause is not None or failure.healed:
            continue
        symptoms = tuple(other.nodeid for other in failures if other.root_cause == failure.nodeid)
        roots.append(RootCause(failure, symptoms, title(failure.recipe), severity(failure.recipe)))
    return roots


class IncidentTracker:
    """Opens, comments on and closes the incident issues of one target in one repository."""

    def __init__(
        self, settings: GitHubSettings, *, target: str, stage: str, redact: Callable[[str], str], run_label: str
    ) -> None:
        self.settings = settings
        self.target = target
        self.stage = stage
        self.redact = redact
        self.run_label = run_label
        self.outcome = IncidentOutcome(configured=True)

    def track(self, roots: list[RootCause], outcomes: Mapping[str, str], healed: set[str]) -> IncidentOutcome:
        headers = {
            "Authorization": f"Bearer {self.settings.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "tsh-erp-verification-suite",
        }
        with TargetClient(BOUNDS, headers=headers) as client:
            self.client = client
            try:
                open_issues = self._open_incidents()
            except IncidentRequestFailed as error:
                self.outcome.errors.append(str(error))
                return self.outcome
            still_failing = set()
            for root in roots:
                key = fingerprint(root.recipe, self.target, root.failure.params)
                still_failing.add(key)
                self._guard(self._report, root, key, open_issues.get(key))
            for key, issue in sorted(open_issues.items(), key=lambda item: item[1]["number"]):
                nodeid = issue["marker"].get("nodeid")
                if key in still_failing or issue["marker"].get("target") != self.target:
                    continue
                if nodeid in healed or outcomes.get(nodeid) == "passed":
                    self._guard(self._close, issue, healed=nodeid in healed)
        return self.outcome

    # --- the three actions ---------------------------------------------------------------

    def _report(self, root: RootCause, key: str, issue: dict | None) -> None:
        if issue is None:
            marker = {"fingerprint": key, "target": self.target, "nodeid": root.failure.nodeid}
            labels = [LABEL, self.stage, "critical" if root.severity == "critical" else "needs-attention"]
            title = f"[{self.stage}] {root.title}: {root.failure.nodeid.rsplit('::', 1)[-1]}"
            body = self._body(root) + f"\n\n<!-- tsh-incident {json.dumps(marker, sort_keys=True)} -->\n"
            created = self._request("POST", "/issues", {"title": title, "body": body, "labels": labels})
            self.outcome.actions.append(self._action("opened", created["number"], title, key, root))
        else:
            body = f"Failed again in {self.run_label}.\n\n" + self._body(root)
            self._request("POST", f"/issues/{issue['number']}/comments", {"body": body})
            self.outcome.actions.append(self._action("commented", issue["number"], issue["title"], key, root))

    def _close(self, issue: dict, *, healed: bool) -> None:
        how = "healed and verified" if healed else "passes"
        nodeid = issue["marker"]["nodeid"]
        self._request("POST", f"/issues/{issue['number']}/comments", {"body": f"`{nodeid}` {how} in {self.run_label}."})
        self._request("PATCH", f"/issues/{issue['number']}", {"state": "closed", "state_reason": "completed"})
        self.outcome.actions.append(
            {"action": "closed", "issue": issue["number"], "title": issue["title"], "nodeid": nodeid,
             "fingerprint": issue["marker"]["fingerprint"]}
        )  # fmt: skip

    def _action(self, action: str, number: int, title: str, key: str, root: RootCause) -> dict[str, Any]:
        return {"action": action, "issue": number, "title": title, "nodeid": root.failure.nodeid,
                "fingerprint": key, "recipe": root.recipe}  # fmt: skip

    def _body(self, root: RootCause) -> str:
        failure = root.failure
        evidence = json.dumps(failure.evidence, indent=2, sort_keys=True, default=str)
        if len(evidence) > EVIDENCE_LIMIT:
            evidence = evidence[:EVIDENCE_LIMIT] + "\n... (cut; the run's findings.json has all of it)"
        symptoms = "".join(f"\n- `{nodeid}`" for nodeid in root.symptoms) or "\n- none"
        text = (
            f"**{root.title}** on target `{self.target}` ({self.stage}), {self.run_label}\n\n"
            f"Root check: `{failure.nodeid}` failed as `{failure.kind}`: {failure.message}\n\n"
            f"Heal: {failure.heal_note or 'not healed'}\n\n"
            f"Symptoms it explains:{symptoms}\n\n"
            f"Evidence:\n```json\n{evidence}\n```"
        )
        return self.redact(text)

    # --- the API ---------------------------------------------------------------------------

    def _open_incidents(self) -> dict[str, dict]:
        """fingerprint -> open issue (number, title, marker) of the ``auto-healing`` label."""
        found: dict[str, dict] = {}
        for page in range(1, MAX_PAGES + 1):
            issues = self._request(
                "GET", f"/issues?state=open&labels={LABEL}&per_page={PER_PAGE}&page={page}", None
            )
            if not isinstance(issues, list):
                raise IncidentRequestFailed("GET issues: the answer is not a list")
            for issue in issues:
                match = MARKER.search(issue.get("body") or "")
                if match is None or "pull_request" in issue:
                    continue
                try:
                    marker = json.loads(match.group(1))
                except ValueError:
                    continue
                if isinstance(marker, dict) and "fingerprint" in marker:
                    found.setdefault(marker["fingerprint"], {**issue, "marker": marker})
            if len(issues) < PER_PAGE:
                break
        return found

    def _request(self, method: str, path: str, payload: dict | None) -> Any:
        url = f"{self.settings.api_url}/repos/{self.settings.repository}{path}"
        what = f"{method} /repos/{self.settings.repository}{path.split('?')[0]}"
        try:
            exchange = send(self.client, method, url, what=what, json=payload)
        except CheckFailed as failure:
            raise IncidentRequestFailed(f"{what}: {failure.title}") from None
        if exchange.status >= 300:
            raise IncidentRequestFailed(f"{what}: GitHub answered {exchange.status}: {exchange.excerpt()}")
        try:
            return json.loads(exchange.body)
        except ValueError:
            raise IncidentRequestFailed(f"{what}: the answer is not JSON") from None

    def _guard(self, action: Callable[..., None], *args, **kwargs) -> None:
        try:
            action(*args, **kwargs)
        except IncidentRequestFailed as error:
            self.outcome.errors.append(self.redact(str(error)))


class IncidentRequestFailed(Exception):
    """A GitHub request that could not be made or was refused."""
