"""`rcaudit check`: the portal's "Test Connection", for both sides, one line per check.

Every read the audit makes is tried once, smallest page possible, so an admin sees which permission is
missing before the first scheduled run does. Required checks decide the exit code; optional ones say
what the audit loses without them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from rcaudit.connect.auth import GraphAuth, RingCentralToken
from rcaudit.connect.config import Settings
from rcaudit.connect.graph import (
    APPS,
    DELETED_USERS_PATH,
    LOGS,
    MEMBERS,
    PROVISIONING_LOGS_PATH,
    USERS,
    USERS_PATH,
    GraphClient,
    assignments_path,
    members_path,
    pick_job,
    provisioning_filter,
)
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.connect.scim import ScimClient
from rcaudit.model.errors import AuthError, ConfigError, FetchError, PermissionDenied, RcauditError

CHECK_RETRY = RetryPolicy(max_total=20.0, max_attempts=3)  # a connection test should answer within seconds
LOST = {  # what the audit loses without each optional read
    "transitive group members": "users reachable only through nested groups are not counted",
    "deleted users": "accounts of soft-deleted users cannot be told apart from orphans",
    "synchronization job": "the job's status and quarantine are not reported",
    "synchronization schema": "the live mapping is unknown: the default mapping is audited",
    "provisioning events": "recent provisioning errors are not shown",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | missing permission | unreachable | refused | failed | skipped
    detail: str = ""
    required: bool = True

    @property
    def passed(self) -> bool:
        return self.status in ("ok", "skipped") or not self.required

    def line(self) -> str:
        kind = "" if self.required or self.status == "ok" else f" (optional: {LOST.get(self.name, 'not needed')})"
        return f"{self.status:<19} {self.name}{' — ' + self.detail if self.detail else ''}{kind}"


def _outcome(name: str, call: Callable[[], str], required: bool) -> Check:
    """Run one check; the error's class says which kind of failure it was."""
    try:
        return Check(name, "ok", call(), required)
    except PermissionDenied as exc:
        return Check(name, "missing permission", f"grant {exc.permission}", required)
    except AuthError as exc:
        status = "unreachable" if "cannot reach" in exc.message else "refused"
        return Check(name, status, exc.message, required)
    except FetchError as exc:
        return Check(name, "unreachable" if exc.status is None else "failed", exc.message, required)
    except RcauditError as exc:
        return Check(name, "failed", exc.message, required)


def _readable(first_page: list[dict[str, Any]]) -> str:
    return "readable" if first_page else "readable (empty)"


def _users_page(scim: ScimClient) -> str:
    """The first page of users; without an integer `totalResults` no user list could be proven complete."""
    total = scim.get("/Users", {"startIndex": 1, "count": 1}).get("totalResults")
    if isinstance(total, bool) or not isinstance(total, int):
        raise FetchError(f"SCIM GET /Users: totalResults is {'absent' if total is None else repr(total)}: the audit "
                         "could not prove a user list complete", endpoint="GET /Users", status=200)
    return f"{total} users"


class _Checks:
    """The checks so far, each also given to `report` as soon as it is done: an admin watching a slow tenant
    sees every line when it is known, not all of them at the end."""

    def __init__(self, report: Callable[[Check], None] | None) -> None:
        self.done: list[Check] = []
        self.report = report

    def add(self, result: Check) -> None:
        self.done.append(result)
        if self.report:
            self.report(result)

    def check(self, name: str, call: Callable[[], str], required: bool = True) -> bool:
        """Run one check and record it; whether it passed decides which checks can follow."""
        self.add(_outcome(name, call, required))
        return self.done[-1].status == "ok"


class _GraphReads:
    """The Graph reads the checks try, and what the earlier ones found (service principal, assigned groups,
    the job) that the later ones read from."""

    def __init__(self, settings: Settings, session: requests.Session, interactive: bool | None) -> None:
        self.settings = settings
        self.auth = GraphAuth(settings, session, interactive=interactive)
        self.graph = GraphClient(settings, session, self.auth)
        self.state: dict[str, Any] = {}

    def one(self, path: str, permission: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """The smallest page: proves the permission without reading the tenant."""
        return list(self.graph.get(path, {"$top": "1", **(params or {})}, permission=permission).get("value", []))

    def token(self) -> str:
        self.auth.token()
        return f"{self.auth.kind} for client {self.settings.client_id}"

    def service_principal(self) -> str:
        sp = self.state["sp"] = self.graph.service_principal(self.settings.app_id or "")
        return f"{sp.get('displayName')} (id {sp['id']})"

    def assignments(self) -> str:
        page = self.graph.get(assignments_path(self.state["sp"]["id"]), {"$top": "999"},
                              permission=APPS)
        found = page.get("value") or []
        groups = self.state["groups"] = sorted({a["principalId"] for a in found if a.get("principalType") == "Group"})
        more = " (first page)" if page.get("@odata.nextLink") else ""
        return f"{len(found)} assignments{more}, {len(groups)} to groups"

    def job(self) -> str:
        found, note = pick_job(self.graph.synchronization_jobs(self.state["sp"]["id"]))  # the job the audit reads
        if found is None:
            return "no provisioning job configured"
        self.state["job"] = found
        status = found.get("status") or {}
        return f"{found.get('id')}: {status.get('code')}" + (f" ({note})" if note else "")


def _group_checks(checks: _Checks, reads: _GraphReads) -> None:
    """Members of the first assigned group: without a group assignment there is nothing to read."""
    groups = reads.state["groups"]
    first = groups[0] if groups else None
    if first:
        checks.check("group members", lambda: _readable(reads.one(members_path(first), MEMBERS)))
        checks.check("transitive group members",
                     lambda: _readable(reads.one(members_path(first, transitive=True), MEMBERS)), False)
    else:
        checks.add(Check("group members", "skipped", "no group is assigned"))


def _job_checks(checks: _Checks, reads: _GraphReads) -> None:
    """The provisioning job, then its schema and recent events: both need the job's id."""
    checks.check("synchronization job", reads.job, False)
    if "job" not in reads.state:
        return
    graph = reads.graph
    job_id = reads.state["job"]["id"]
    sp_id = reads.state["sp"]["id"]
    checks.check("synchronization schema",
                 lambda: f"{len(graph.job_schema(sp_id, job_id).get('synchronizationRules') or [])} rule(s)",
                 False)
    events = {"$filter": provisioning_filter(job_id, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))}
    checks.check("provisioning events",
                 lambda: _readable(reads.one(PROVISIONING_LOGS_PATH, LOGS, events)), False)


def _graph_checks(checks: _Checks, settings: Settings, session: requests.Session, interactive: bool | None) -> None:
    """Entra's side: a token first (without it no read can be tried), then each read the audit makes; the
    service principal and its assignments lead to the group and job reads."""
    reads = _GraphReads(settings, session, interactive)
    if not checks.check("Graph token", reads.token):
        checks.add(Check("Graph reads", "skipped", "no Graph token"))
        return
    checks.check("users", lambda: _readable(reads.one(USERS_PATH, USERS, {"$select": "id"})))
    if checks.check("service principal", reads.service_principal) and \
            checks.check("app role assignments", reads.assignments):
        _group_checks(checks, reads)
        _job_checks(checks, reads)
    checks.check("deleted users", lambda: _readable(reads.one(DELETED_USERS_PATH, USERS)), False)


def _scim_checks(checks: _Checks, settings: Settings, session: requests.Session) -> None:
    """RingCentral's side: a token, then the discovery reads and the first users page; an unreachable
    RingCentral is said once, not once per read."""
    token_holder: dict[str, RingCentralToken] = {}

    def scim_token() -> str:
        token = token_holder["token"] = RingCentralToken(settings, session)
        token.get()
        return "static token (checked by the next calls)" if token.static else "JWT grant accepted"

    if not checks.check("SCIM token", scim_token):
        return
    scim = ScimClient(settings, session, token_holder["token"])
    checks.check("ServiceProviderConfig", lambda: f"page size {scim.page_size(scim.service_provider_config())}")
    if checks.done[-1].status == "unreachable":
        checks.add(Check("SCIM reads", "skipped", "RingCentral is unreachable"))
        return
    checks.check("Schemas", lambda: f"{len(scim.schemas())} schema(s)")
    checks.check("users page", lambda: _users_page(scim))


def run_checks(settings: Settings, *, interactive: bool | None = None, session: requests.Session | None = None,
               report: Callable[[Check], None] | None = None) -> list[Check]:
    """Each check in order, each also given to `report` as soon as it is done; a missing setting is a
    `ConfigError` naming it (never a fallback to the sandbox)."""
    missing = settings.missing()
    if missing:
        raise ConfigError("not configured: set " + "; ".join(missing))
    session = session or make_session(settings.ca_bundle, retry=CHECK_RETRY)
    checks = _Checks(report)
    _graph_checks(checks, settings, session, interactive)
    _scim_checks(checks, settings, session)
    return checks.done


def webhook_checks(settings: Settings, *, test_messages: Mapping[str, dict[str, Any]] | None = None,
                   report: Callable[[Check], None] | None = None) -> list[Check]:
    """The RCAUDIT_NOTIFY_URLS webhooks, one line each (by kind, position and origin; never the URL): listed, or
    sent `test_messages` (a body per kind), so a scheduler's owner knows the channel works before a run needs
    it. A malformed entry is a failed line naming its position."""
    from rcaudit.connect.notify import parse_targets, post_all

    checks = _Checks(report)
    try:
        targets = parse_targets()
    except ConfigError as exc:
        checks.add(Check("RCAUDIT_NOTIFY_URLS", "failed", exc.message))
        return checks.done
    if test_messages is None:
        for target in targets:
            checks.add(Check(f"webhook {target.label}", "skipped", "`rcaudit check --notify` posts a test message"))
        return checks.done
    outcomes = post_all(targets, test_messages, settings.ca_bundle)
    for outcome in outcomes:
        checks.add(Check(f"webhook {outcome.target}", "ok" if outcome.sent else "failed",
                         f"test message: {outcome.detail}, {outcome.tries}"))
    return checks.done
