"""`rcaudit check`: the portal's "Test Connection", for both sides, one line per check.

Every read the audit makes is tried once, smallest page possible, so an admin sees which permission is
missing before the first scheduled run does. Required checks decide the exit code; optional ones say
what the audit loses without them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
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


def run_checks(settings: Settings, *, interactive: bool | None = None, session: requests.Session | None = None,
               report: Callable[[Check], None] | None = None) -> list[Check]:
    """Each check in order, each also given to `report` as soon as it is done; a missing setting is a
    `ConfigError` naming it (never a fallback to the sandbox)."""
    missing = settings.missing()
    if missing:
        raise ConfigError("not configured: set " + "; ".join(missing))
    assert settings.app_id is not None
    session = session or make_session(settings.ca_bundle, retry=CHECK_RETRY)
    checks: list[Check] = []

    def add(result: Check) -> None:
        checks.append(result)
        if report:
            report(result)

    def check(name: str, call: Callable[[], str], required: bool = True) -> bool:
        add(_outcome(name, call, required))
        return checks[-1].status == "ok"

    auth = GraphAuth(settings, session, interactive=interactive)
    graph = GraphClient(settings, session, auth)
    state: dict[str, Any] = {}

    def one(path: str, permission: str, params: dict[str, str] | None = None) -> list[dict[str, Any]]:
        return list(graph.get(path, {"$top": "1", **(params or {})}, permission=permission).get("value", []))

    def service_principal() -> str:
        sp = state["sp"] = graph.service_principal(settings.app_id or "")
        return f"{sp.get('displayName')} (id {sp['id']})"

    def assignments() -> str:
        page = graph.get(assignments_path(state["sp"]["id"]), {"$top": "999"},
                         permission=APPS)
        found = page.get("value") or []
        groups = state["groups"] = sorted({a["principalId"] for a in found if a.get("principalType") == "Group"})
        more = " (first page)" if page.get("@odata.nextLink") else ""
        return f"{len(found)} assignments{more}, {len(groups)} to groups"

    def job() -> str:
        found, note = pick_job(graph.synchronization_jobs(state["sp"]["id"]))  # the job the audit reads
        if found is None:
            return "no provisioning job configured"
        state["job"] = found
        status = found.get("status") or {}
        return f"{found.get('id')}: {status.get('code')}" + (f" ({note})" if note else "")

    def graph_token() -> str:
        auth.token()
        return f"{auth.kind} for client {settings.client_id}"

    if check("Graph token", graph_token):
        check("users", lambda: _readable(one(USERS_PATH, USERS, {"$select": "id"})))
        if check("service principal", service_principal) and check("app role assignments", assignments):
            groups = state["groups"]
            first = groups[0] if groups else None
            if first:
                check("group members", lambda: _readable(one(members_path(first), MEMBERS)))
                check("transitive group members",
                      lambda: _readable(one(members_path(first, transitive=True), MEMBERS)), False)
            else:
                add(Check("group members", "skipped", "no group is assigned"))
            check("synchronization job", job, False)
            if "job" in state:
                job_id = state["job"]["id"]
                sp_id = state["sp"]["id"]
                check("synchronization schema",
                      lambda: f"{len(graph.job_schema(sp_id, job_id).get('synchronizationRules') or [])} rule(s)",
                      False)
                events = {"$filter": provisioning_filter(job_id, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))}
                check("provisioning events",
                      lambda: _readable(one(PROVISIONING_LOGS_PATH, LOGS, events)), False)
        deleted = DELETED_USERS_PATH
        check("deleted users", lambda: _readable(one(deleted, USERS)), False)
    else:
        add(Check("Graph reads", "skipped", "no Graph token"))

    token_holder: dict[str, RingCentralToken] = {}

    def scim_token() -> str:
        token = token_holder["token"] = RingCentralToken(settings, session)
        token.get()
        return "static token (checked by the next calls)" if token.static else "JWT grant accepted"

    if check("SCIM token", scim_token):
        scim = ScimClient(settings, session, token_holder["token"])
        check("ServiceProviderConfig", lambda: f"page size {scim.page_size(scim.service_provider_config())}")
        if checks[-1].status == "unreachable":
            add(Check("SCIM reads", "skipped", "RingCentral is unreachable"))
        else:
            check("Schemas", lambda: f"{len(scim.schemas())} schema(s)")
            check("users page", lambda: _users_page(scim))
    return checks
