"""Microsoft Graph v1.0 reads: only what the audit needs, following `@odata.nextLink` verbatim.

The Graph token goes only to RCAUDIT_GRAPH_URL's server, and a nextLink is followed only to the scheme,
host and port of the request that returned it (a link elsewhere is a `FetchError`, never a partial list).

Every read names the application permission it needs, so a 403 becomes a `PermissionDenied` that says
what to grant; the snapshot decides which reads are optional. A 401 drops the cached token, acquires a
new one and retries once; a second 401 is an `AuthError`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from rcaudit.connect.auth import GraphAuth
from rcaudit.connect.config import Settings, describe_origin, origin
from rcaudit.connect.http import echo_excerpt, redirect_target
from rcaudit.model.errors import AuthError, FetchError, PermissionDenied, RateLimited
from rcaudit.model.vocabulary import SYNC_SETTING_KEYS

# Application permissions per read (the least privileged that works; Directory.Read.All also covers most).
USERS = "User.Read.All"
APPS = "Application.Read.All"
MEMBERS = "GroupMember.Read.All"
SYNC = "Synchronization.Read.All"
LOGS = "AuditLog.Read.All and Directory.Read.All"
SECRETS = "Application.ReadWrite.OwnedBy or Synchronization.ReadWrite.All"  # as for the PUT; the GET's: undocumented
# provisionOnDemand: microsoft-graph-docs-contrib `api-reference/v1.0/api/synchronization-synchronizationjob-
# provisionondemand.md` lists Application.ReadWrite.OwnedBy (only for a service principal the app owns) and
# Synchronization.ReadWrite.All; the latter is the one to grant an audit app that does not own RingCentral's.
PROVISION = "Synchronization.ReadWrite.All"
# A signed-in analyst (device code) needs a directory role besides the delegated permission. Provisioning
# logs: the least privileged roles listed in microsoft-graph-docs-contrib
# `api-reference/v1.0/api/provisioningobjectsummary-list.md`; the provisioning configuration (job, schema):
# `api-reference/v1.0/includes/rbac-for-apis/rbac-synchronization-apis.md`.
DIRECTORY_ROLES = {
    LOGS: "the Reports Reader or Security Reader directory role",
    SYNC: "the Application Administrator or Cloud Application Administrator directory role",
    PROVISION: "the Application Administrator or Cloud Application Administrator directory role",
}
MAX_PAGE = 999  # Graph's largest $top
EXPAND_PAGE = 100  # pages with $expand hold at most 100 objects
EVENTS_PAGE = 500

USER_SELECT = (
    "id,userPrincipalName,mailNickname,accountEnabled,displayName,givenName,surname,jobTitle,mail,mobilePhone,"
    "businessPhones,department,streetAddress,city,state,postalCode,country,usageLocation,userType,createdDateTime"
)
OnPage = Callable[[int], None]

# The Graph v1.0 paths rcaudit reads (check.py probes the same ones).
USERS_PATH = "/users"
DELETED_USERS_PATH = "/directory/deletedItems/microsoft.graph.user"
PROVISIONING_LOGS_PATH = "/auditLogs/provisioning"


def _segment(value: str) -> str:
    """An id Graph gave us, as one URL path segment: ids are service data, so `/`, `?` or `#` in one can never
    change which resource (or which server's query) is read."""
    return quote(str(value), safe="")


def assignments_path(sp_id: str) -> str:
    return f"/servicePrincipals/{_segment(sp_id)}/appRoleAssignedTo"


def members_path(group_id: str, transitive: bool = False) -> str:
    return f"/groups/{_segment(group_id)}/{'transitiveMembers' if transitive else 'members'}"


def graph_error(answer: requests.Response) -> tuple[str, str]:
    """Graph's error `code` and `message` ({"error": {"code", "message"}}), or a short excerpt of the body."""
    try:
        error = answer.json().get("error", {})
        return str(error.get("code", "")), str(error.get("message", "")).splitlines()[0] if error.get("message") else ""
    except (ValueError, AttributeError):
        return "", echo_excerpt(answer)


def _quote(value: str) -> str:
    """An OData string literal's content: single quotes doubled."""
    return value.replace("'", "''")


def beta_url(graph_url: str) -> str:
    """Graph's /beta root beside the configured v1.0 one (`https://graph.microsoft.com/v1.0` → `…/beta`)."""
    base = graph_url.rstrip("/")
    return (base[: -len("/v1.0")] if base.endswith("/v1.0") else base) + "/beta"


def provisioning_filter(job_id: str, since: dt.datetime) -> str:
    """The provisioning-log `$filter` for one job since a moment. Graph documents `eq`, `contains`, `gt` and `lt`
    for this list (microsoft-graph-docs-contrib `api-reference/v1.0/api/provisioningobjectsummary-list.md`),
    so `gt`, never `ge`."""
    stamp = since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"activityDateTime gt {stamp} and jobId eq '{_quote(job_id)}'"


def pick_job(jobs: Sequence[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """The RingCentral provisioning job among a service principal's jobs (its templateId names RingCentral,
    else the first), and a note when there was a choice to make; (None, note) when there is none."""
    if not jobs:
        return None, "the service principal has no provisioning job"
    ours = [j for j in jobs if "ringcentral" in str(j.get("templateId", "")).lower()] or list(jobs)
    note = f"{len(jobs)} provisioning jobs: read {ours[0].get('id')}" if len(jobs) > 1 else None
    return {k: v for k, v in ours[0].items() if k not in ("schema", "@odata.context")}, note


class GraphClient:
    def __init__(self, settings: Settings, session: requests.Session, auth: GraphAuth | None = None) -> None:
        self.settings = settings
        self.session = session
        self.auth = auth or GraphAuth(settings, session)

    def _endpoint(self, url: str, method: str = "GET") -> str:
        path = urlsplit(url).path
        base = urlsplit(self.settings.graph_url).path.rstrip("/")
        return f"{method} " + (path[len(base):] if base and path.startswith(base) else path)

    def get(self, path_or_url: str, params: dict[str, str] | None = None, *, permission: str = "") -> dict[str, Any]:
        """One GET (retries, pacing and counting are the session's); errors say what failed and how to fix it."""
        return self._request("GET", path_or_url, params=params, permission=permission)

    def post(self, path: str, body: dict[str, Any], *, permission: str = "") -> dict[str, Any]:
        """One POST of a Graph action. Only a 429 is retried (Graph did not act on it): a 5xx or a lost answer may
        have acted, so it is the caller's to decide, never sent again blindly."""
        return self._request("POST", path, json_body=body, permission=permission, retry="throttled")

    def _request(self, method: str, path_or_url: str, *, params: dict[str, str] | None = None,
                 json_body: dict[str, Any] | None = None, permission: str = "", retry: str = "all") -> dict[str, Any]:
        absolute = "://" in path_or_url.split("?")[0]
        url = path_or_url if absolute else f"{self.settings.graph_url}{path_or_url}"
        endpoint = self._endpoint(url, method)
        if origin(url) != origin(self.settings.graph_url):  # the Graph token is for RCAUDIT_GRAPH_URL's host only
            raise FetchError(f"Graph {endpoint}: refusing to send the Graph token to {describe_origin(url)}, which is "
                             f"not RCAUDIT_GRAPH_URL's server ({describe_origin(self.settings.graph_url)})",
                             endpoint=endpoint)
        for attempt in (1, 2):
            token = self.auth.token()
            try:
                answer = self.session.request(method, url, params=params, json=json_body,
                                              headers={"Authorization": f"Bearer {token}"},
                                              service="graph", retry=retry)  # type: ignore[call-arg]
            except requests.RequestException as exc:
                tries = getattr(exc, "rcaudit_attempts", 1)
                raise FetchError(f"Graph {endpoint}: no answer ({type(exc).__name__}) after {tries} attempt(s)",
                                 endpoint=endpoint) from None
            if answer.status_code == 401 and attempt == 1:
                self.auth.forget()
                continue
            if answer.status_code != 200:
                raise self._failure(answer, endpoint, permission)
            try:
                body = answer.json()
            except ValueError:
                raise FetchError(f"Graph {endpoint}: the answer is not JSON (HTTP 200, {len(answer.content)} bytes)",
                                 response=answer, endpoint=endpoint) from None
            if not isinstance(body, dict):
                raise FetchError(f"Graph {endpoint}: the answer is not a JSON object", response=answer,
                                 endpoint=endpoint)
            return body
        raise AssertionError("unreachable")

    def _failure(self, answer: requests.Response, endpoint: str, permission: str) -> Exception:
        code, message = graph_error(answer)
        status = answer.status_code
        detail = f"HTTP {status} {code}: {message}".rstrip(": ")
        tries = getattr(answer, "rcaudit_attempts", 1)
        if status == 401:
            return AuthError(f"Graph {endpoint}: {detail} even with a fresh token — check RCAUDIT_TENANT_ID (the token "
                             "must come from the tenant that holds the RingCentral app) and RCAUDIT_GRAPH_URL",
                             response=answer)
        if status == 403:
            grant = permission or "the permission this read needs"
            if self.settings.graph_auth == "device_code":  # a person: the role they hold decides, not the app's grant
                role = DIRECTORY_ROLES.get(permission, "a directory role that can read it (e.g. Global Reader)")
                return PermissionDenied(f"Graph {endpoint}: {detail} — the signed-in user needs {role}, and the "
                                        f"delegated permission {grant} consented for the app registration",
                                        permission=role, response=answer, endpoint=endpoint, code=code,
                                        detail=detail)
            return PermissionDenied(f"Graph {endpoint}: {detail} — grant the application permission {grant} to the "
                                    "app registration (admin consent)", permission=grant, response=answer,
                                    endpoint=endpoint, code=code, detail=detail)
        if status == 429:
            return RateLimited(f"Graph {endpoint}: still throttled (HTTP 429) after {tries} attempt(s)",
                               response=answer, endpoint=endpoint, code=code, detail=detail)
        suffix = f" after {tries} attempt(s)" if tries > 1 else ""
        if 300 <= status < 400:
            return FetchError(f"Graph {endpoint}: HTTP {status}, a redirect{redirect_target(answer)}: rcaudit never "
                              "follows redirects", response=answer, endpoint=endpoint, code=code, detail=detail)
        return FetchError(f"Graph {endpoint}: {detail}{suffix}", response=answer, endpoint=endpoint, code=code,
                          detail=detail)

    # --- collections --------------------------------------------------------------------------------
    def pages(self, path: str, params: dict[str, str] | None = None, *,
              permission: str = "") -> Iterator[list[dict[str, Any]]]:
        """Each page's `value`; `@odata.nextLink` is followed exactly as Graph wrote it."""
        url = path if "://" in path.split("?")[0] else f"{self.settings.graph_url}{path}"
        page = self.get(url, params, permission=permission)
        followed: set[str] = set()
        while True:
            yield list(page.get("value", []))
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            next_link = str(next_link)
            if next_link in followed:  # a loop would read the same pages forever and count them twice
                endpoint = self._endpoint(url)
                raise FetchError(f"Graph {endpoint}: @odata.nextLink repeats a page already read: the list cannot be "
                                 "read to its end", endpoint=endpoint)
            followed.add(next_link)
            if origin(next_link) != origin(url):
                endpoint = self._endpoint(url)
                raise FetchError(f"Graph {endpoint}: @odata.nextLink points at {describe_origin(next_link)}, "
                                 f"not at the server that answered ({describe_origin(url)}): refused, the Graph token "
                                 "is not sent there and the list is not read further", endpoint=endpoint)
            url = next_link
            page = self.get(url, permission=permission)

    def collect(self, path: str, params: dict[str, str] | None = None, *, permission: str = "",
                on_page: OnPage | None = None) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.pages(path, params, permission=permission):
            items.extend(page)
            if on_page:
                on_page(len(page))
        return items

    # --- the reads the audit makes ------------------------------------------------------------------
    def users(self, select: str | Sequence[str] = USER_SELECT, *, expand_manager: bool = False,
              on_page: OnPage | None = None) -> list[dict[str, Any]]:
        """Every user with `select`; with the manager's id only when it is audited (pages then hold ≤100)."""
        params = {"$select": select if isinstance(select, str) else ",".join(select),
                  "$top": str(EXPAND_PAGE if expand_manager else MAX_PAGE)}
        if expand_manager:
            params["$expand"] = "manager($select=id)"
        return self.collect(USERS_PATH, params, permission=USERS, on_page=on_page)

    def deleted_users(self, select: str | Sequence[str] = USER_SELECT, *,
                      on_page: OnPage | None = None) -> list[dict[str, Any]]:
        """Soft-deleted users (the recycle bin) with the same properties plus `deletedDateTime`."""
        fields = select.split(",") if isinstance(select, str) else list(select)
        if "deletedDateTime" not in fields:
            fields.append("deletedDateTime")
        return self.collect(DELETED_USERS_PATH,
                            {"$select": ",".join(fields), "$top": str(MAX_PAGE)}, permission=USERS, on_page=on_page)

    def service_principal(self, app_id: str) -> dict[str, Any]:
        found = self.collect("/servicePrincipals", {"$filter": f"appId eq '{_quote(app_id)}'"}, permission=APPS)
        if not found:
            raise FetchError(f"no service principal with appId {app_id} in this tenant: check RCAUDIT_APP_ID (the "
                             "Application ID of the RingCentral enterprise app)", endpoint="GET /servicePrincipals")
        return found[0]

    def app_role_assignments(self, sp_id: str) -> list[dict[str, Any]]:
        return self.collect(assignments_path(sp_id), {"$top": str(MAX_PAGE)}, permission=APPS)

    def group_members(self, group_id: str) -> list[dict[str, Any]]:
        """Direct members: what provisioning scopes on."""
        return self.collect(members_path(group_id), {"$select": "id", "$top": str(MAX_PAGE)},
                            permission=MEMBERS)

    def group_transitive_members(self, group_id: str) -> list[dict[str, Any]]:
        """Everyone reachable through nesting: to count users who are only nested (and so not provisioned)."""
        return self.collect(members_path(group_id, transitive=True), {"$select": "id", "$top": str(MAX_PAGE)},
                            permission=MEMBERS)

    def synchronization_jobs(self, sp_id: str) -> list[dict[str, Any]]:
        return self.collect(f"/servicePrincipals/{_segment(sp_id)}/synchronization/jobs", permission=SYNC)

    def job_schema(self, sp_id: str, job_id: str) -> dict[str, Any]:
        """The job's synchronizationSchema: the tenant's live attribute mapping."""
        schema = self.get(f"/servicePrincipals/{_segment(sp_id)}/synchronization/jobs/{_segment(job_id)}/schema",
                          permission=SYNC)
        return {k: v for k, v in schema.items() if k != "@odata.context"}

    def sync_settings(self, sp_id: str) -> dict[str, str]:
        """SyncAll and SkipOutOfScopeDeletions from the service principal's synchronization secrets, nothing else.

        The secrets hold the connector's credentials (RingCentral's token, its base address) besides the two
        settings, and their GET is documented only on /beta (the PUT: microsoft-graph-docs-contrib
        `api-reference/beta/api/synchronization-serviceprincipal-put-synchronization.md`, which shows `SyncAll`;
        SkipOutOfScopeDeletions: MicrosoftDocs/entra-docs `docs/identity/app-provisioning/skip-out-of-scope-
        deletions.md`). So: only the two keys leave this method, and no error carries the request or the answer
        (an error is rebuilt from its status and code alone)."""
        url = f"{beta_url(self.settings.graph_url)}/servicePrincipals/{_segment(sp_id)}/synchronization/secrets"
        endpoint = "GET /beta/servicePrincipals/{id}/synchronization/secrets"
        try:
            body = self.get(url, permission=SECRETS)
        except PermissionDenied as exc:
            raise PermissionDenied(f"Graph {endpoint}: HTTP 403 {exc.code or ''}: the token may not read the job's "
                                   f"synchronization secrets ({SECRETS}; the GET's permission is undocumented)",
                                   permission=SECRETS, endpoint=endpoint, status=403, code=exc.code,
                                   detail=f"HTTP 403 {exc.code or ''}: not permitted ({SECRETS})") from None
        except (FetchError, AuthError) as exc:
            status = getattr(exc, "status", None)
            code = getattr(exc, "code", None)
            said = f"HTTP {status} {code or ''}".rstrip() if status else "no answer"
            if isinstance(exc, AuthError):
                raise AuthError(f"Graph {endpoint}: {said}") from None
            raise type(exc)(f"Graph {endpoint}: {said}", endpoint=endpoint, status=status, code=code,
                            detail=said) from None
        items = body.get("value", body) if isinstance(body, dict) else body
        kept: dict[str, str] = {}
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("key") in SYNC_SETTING_KEYS and item.get("value") is not None:
                kept[str(item["key"])] = str(item["value"])
        del body, items
        return kept

    def provision_on_demand(self, sp_id: str, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /servicePrincipals/{id}/synchronization/jobs/{jobId}/provisionOnDemand` with `body` (its
        `parameters`: ruleId + subjects, `rcaudit.fix.provision.request_body`); the answer is Graph's
        stringKeyStringValuePair as sent (microsoft-graph-docs-contrib `api-reference/v1.0/api/
        synchronization-synchronizationjob-provisionondemand.md`). A 403 is a `PermissionDenied` naming
        Synchronization.ReadWrite.All."""
        path = f"/servicePrincipals/{_segment(sp_id)}/synchronization/jobs/{_segment(job_id)}/provisionOnDemand"
        return self.post(path, body, permission=PROVISION)

    def provisioning_events(self, job_id: str, since: dt.datetime, *,
                            on_page: OnPage | None = None) -> list[dict[str, Any]]:
        """The job's provisioning log entries since `since` (newest first, as Graph lists them)."""
        params = {"$filter": provisioning_filter(job_id, since), "$top": str(EVENTS_PAGE)}
        return self.collect(PROVISIONING_LOGS_PATH, params, permission=LOGS, on_page=on_page)
