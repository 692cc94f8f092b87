"""Emulated Microsoft Graph v1.0: the read-only slice an Entra → RingCentral provisioning audit uses.

Users (with `$select`, `$expand=manager`, paging), the RingCentral service principal and its app-role
assignments, group members (direct and transitive), soft-deleted users, the provisioning job with its
schema, and provisioning logs. Answers follow the shapes of Graph's documented payloads; every route
checks the bearer token first (401), then the tenant's `graphDenied` patterns and the permissions the
token carries (`roles` / `scp`, as the login emulator issues them) (403).

One router entry takes every `GET /v1.0/…`, percent-decodes the path (clients differ in what they
encode, e.g. `servicePrincipals(appId='…')`) and dispatches it on an internal router.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import functools
import hashlib
import re
import secrets
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from rcaudit.sandbox.servers.http_server import Handler, Request, Response, Router
from rcaudit.sandbox.servers.odata import (
    MAX_EXPAND_PAGE,
    ODataError,
    bad_skiptoken,
    compare,
    context_selection,
    decode_skiptoken,
    encode_skiptoken,
    next_link,
    parse_datetime,
    parse_expand,
    parse_filter,
    parse_select,
    parse_top,
    route_tag,
    take_page,
)
from rcaudit.sandbox.servers.state import SandboxState
from rcaudit.sandbox.servers.tokens import GRAPH_AUDIENCE
from rcaudit.sandbox.tenant.sync_schema import default_sync_job, default_sync_schema

GRAPH_CONTENT_TYPE = ("application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
                      "charset=utf-8")
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph's own appId, named in WWW-Authenticate

# A directory extension property: `extension_{appId-without-hyphens}_{name}` (Graph's extensibility overview).
DIRECTORY_EXTENSION = re.compile(r"extension_[0-9a-fA-F]{32}_\w+")
# The properties `GET /users` returns without $select, in the order Graph writes them.
USER_DEFAULT: tuple[str, ...] = (
    "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
    "preferredLanguage", "surname", "userPrincipalName", "id",
)
USER_PROPERTIES: frozenset[str] = frozenset((
    "aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "authorizationInfo", "birthday",
    "businessPhones", "city", "companyName", "consentProvidedForMinor", "country", "createdDateTime", "creationType",
    "customSecurityAttributes", "deletedDateTime", "department", "displayName", "employeeHireDate", "employeeId",
    "employeeLeaveDateTime", "employeeOrgData", "employeeType", "externalUserState",
    "externalUserStateChangeDateTime", "faxNumber", "givenName", "hireDate", "id", "identities", "imAddresses",
    "interests", "isManagementRestricted", "isResourceAccount", "jobTitle", "lastPasswordChangeDateTime",
    "legalAgeGroupClassification", "licenseAssignmentStates", "mail", "mailboxSettings", "mailNickname",
    "mobilePhone", "mySite", "officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName",
    "onPremisesExtensionAttributes", "onPremisesImmutableId", "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails", "passwordPolicies", "passwordProfile",
    "pastProjects", "postalCode", "preferredDataLocation", "preferredLanguage", "preferredName",
    "provisionedPlans", "proxyAddresses", "responsibilities", "schools", "securityIdentifier",
    "serviceProvisioningErrors", "showInAddressList", "signInActivity", "signInSessionsValidFromDateTime",
    "skills", "state", "streetAddress", "surname", "usageLocation", "userPrincipalName", "userType",
))
# Collection-valued properties: Graph writes [] for them, never null.
COLLECTIONS: frozenset[str] = frozenset((
    "businessPhones", "assignedLicenses", "assignedPlans", "identities", "imAddresses", "otherMails",
    "proxyAddresses", "provisionedPlans", "interests", "pastProjects", "responsibilities", "schools", "skills",
    "onPremisesProvisioningErrors", "serviceProvisioningErrors", "licenseAssignmentStates", "groupTypes",
))
USER_NAVIGATIONS = ("manager",)  # what `$expand` accepts on users

GROUP_DEFAULT: tuple[str, ...] = (
    "id", "deletedDateTime", "description", "displayName", "groupTypes", "mail", "mailEnabled", "mailNickname",
    "securityEnabled",
)
GROUP_FALLBACKS: dict[str, Any] = {"mailEnabled": False, "securityEnabled": True}
GROUP_PROPERTIES: frozenset[str] = frozenset((
    "allowExternalSenders", "assignedLabels", "assignedLicenses", "autoSubscribeNewMembers", "classification",
    "createdDateTime", "deletedDateTime", "description", "displayName", "expirationDateTime", "groupTypes",
    "hasMembersWithLicenseErrors", "hideFromAddressLists", "hideFromOutlookClients", "id", "isAssignableToRole",
    "isSubscribedByMail", "licenseProcessingState", "mail", "mailEnabled", "mailNickname", "membershipRule",
    "membershipRuleProcessingState", "onPremisesDomainName", "onPremisesLastSyncDateTime", "onPremisesNetBiosName",
    "onPremisesProvisioningErrors", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled", "preferredDataLocation", "preferredLanguage", "proxyAddresses", "renewedDateTime",
    "securityEnabled", "securityIdentifier", "serviceProvisioningErrors", "theme", "unseenCount", "visibility",
))
SP_PROPERTIES: frozenset[str] = frozenset((
    "accountEnabled", "addIns", "alternativeNames", "appDescription", "appDisplayName", "appId",
    "applicationTemplateId", "appOwnerOrganizationId", "appRoleAssignmentRequired", "appRoles",
    "customSecurityAttributes", "deletedDateTime", "description", "disabledByMicrosoftStatus", "displayName",
    "homepage", "id", "info", "keyCredentials", "loginUrl", "logoutUrl", "notes", "notificationEmailAddresses",
    "oauth2PermissionScopes", "passwordCredentials", "preferredSingleSignOnMode", "preferredTokenSigningKeyThumbprint",
    "replyUrls", "resourceSpecificApplicationPermissions", "samlSingleSignOnSettings", "servicePrincipalNames",
    "servicePrincipalType", "signInAudience", "tags", "tokenEncryptionKeyId", "verifiedPublisher",
))
ASSIGNMENT_PROPERTIES: tuple[str, ...] = (
    "id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId", "principalType",
    "resourceDisplayName", "resourceId",
)
PROVISIONING_PROPERTIES: frozenset[str] = frozenset((
    "id", "activityDateTime", "tenantId", "jobId", "cycleId", "changeId", "provisioningAction",
    "durationInMilliseconds", "provisioningStatusInfo", "provisioningSteps", "modifiedProperties",
    "servicePrincipal", "sourceSystem", "targetSystem", "initiatedBy", "sourceIdentity", "targetIdentity",
))
PROVISIONING_TEXT_FILTERS = ("jobId", "cycleId", "changeId", "id")

# Permissions each route accepts: any one alternative, each alternative needing all its names (§3.7).
Permissions = tuple[tuple[str, ...], ...]
READ_USERS: Permissions = (("User.Read.All",), ("User.ReadWrite.All",), ("User.ReadBasic.All",),
                           ("Directory.Read.All",), ("Directory.ReadWrite.All",))
READ_APPS: Permissions = (("Application.Read.All",), ("Application.ReadWrite.All",), ("Directory.Read.All",),
                          ("Directory.ReadWrite.All",))
READ_MEMBERS: Permissions = (("GroupMember.Read.All",), ("GroupMember.ReadWrite.All",), ("Group.Read.All",),
                             ("Group.ReadWrite.All",), ("Directory.Read.All",), ("Directory.ReadWrite.All",))
READ_SYNC: Permissions = (("Synchronization.Read.All",), ("Synchronization.ReadWrite.All",),
                          ("Application.ReadWrite.OwnedBy",), ("Application.ReadWrite.All",))
READ_LOGS: Permissions = (("AuditLog.Read.All", "Directory.Read.All"),)
# The secrets' GET has no documented permission; the sandbox asks for what Graph documents for their PUT
# (beta synchronization-serviceprincipal-put-synchronization.md: Application.ReadWrite.OwnedBy,
# Synchronization.ReadWrite.All) or Directory.ReadWrite.All. Unverified against Graph.
READ_SECRETS: Permissions = (("Application.ReadWrite.OwnedBy",), ("Synchronization.ReadWrite.All",),
                             ("Directory.ReadWrite.All",))

_INTERNAL = frozenset(("manager", "members"))  # tenant-file links, never served as properties
_AUTH_MESSAGES = {
    "missing": "Access token is empty.",
    "expired": "Lifetime validation failed, the token is expired.",
    "invalid": "Access token validation failure.",
    "tenant": "Access token validation failure. Invalid audience.",
}


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None, *,
                request_id: str | None = None, client_request_id: str | None = None) -> Response:
    """An error in Graph's shape: {"error": {"code", "message", "innerError": {…}}}."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    request_id = request_id or str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": now, "request-id": request_id,
                           "client-request-id": client_request_id or request_id},
        }
    }
    return Response.json(status, body, headers, content_type="application/json")


def register_graph(router: Router[Handler], state: SandboxState) -> None:
    """Add the `/v1.0/…` routes."""
    from rcaudit.sandbox.servers.provisioning import ProvisioningEmulator  # it builds on this module

    api = GraphApi(state)
    router.add("POST", r"/v1\.0/servicePrincipals/(?P<sp>[^/]+)/synchronization/jobs/(?P<job>[^/]+)/provisionOnDemand",
               ProvisioningEmulator(state).handle)
    router.add("GET", r"/v1\.0/.*", api.handle)
    router.add("GET", r"/beta/servicePrincipals/(?P<sp>[^/]+)/synchronization/secrets", api.handle_secrets)


@dataclass
class Call:
    """One Graph request as the route handlers see it: decoded path, `$` options, where to link back."""

    request: Request
    claims: dict[str, Any]  # of the (valid) access token
    path: str  # percent-decoded, without the /v1.0 prefix
    options: dict[str, str]  # `$` query options, names lower-cased
    root: str  # https://host:port/v1.0

    def opt(self, name: str) -> str | None:
        return self.options.get(name)

    def only(self, *allowed: str) -> None:
        """Refuse `$` options this route does not implement rather than silently ignoring them."""
        for name in self.options:
            if name not in allowed:
                raise ODataError(f"The query option '{name}' is not supported on this resource by the sandbox.",
                                 code="Request_UnsupportedQuery")

    def context(self, fragment: str) -> str:
        return f"{self.root}/$metadata#{fragment}"


class GraphApi:
    """The Graph routes over one `SandboxState`; each request runs under the state's lock."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._key = secrets.token_bytes(32)  # signs $skiptoken values for this sandbox run only
        self._started = dt.datetime.now(dt.UTC)
        self.routes: Router[Callable[..., dict[str, Any]]] = Router()
        sp = r"/servicePrincipals(?:/(?P<sp>[^/()]+)|\(appId='(?P<app>[^']*)'\))"
        jobs = sp + "/synchronization/jobs"
        # A derived-type cast: Graph takes `microsoft.graph.user` and the SDKs' short `graph.user` alike.
        cast = r"/(?:microsoft\.)?graph\.(?P<cast>user|group)"
        for pattern, handler, permissions in (
            (r"/users", self.list_users, READ_USERS),
            (r"/users/(?P<key>[^/]+)", self.get_user, READ_USERS),
            (r"/users/(?P<key>[^/]+)/manager", self.get_manager, READ_USERS),
            (r"/servicePrincipals", self.list_service_principals, READ_APPS),
            (sp, self.get_service_principal, READ_APPS),
            (sp + "/appRoleAssignedTo", self.list_assignments, READ_APPS),
            (jobs, self.list_jobs, READ_SYNC),
            (jobs + r"/(?P<job>[^/]+)", self.get_job, READ_SYNC),
            (jobs + r"/(?P<job>[^/]+)/schema", self.get_schema, READ_SYNC),
            (r"/groups/(?P<group>[^/]+)", self.get_group, READ_MEMBERS),
            (r"/groups/(?P<group>[^/]+)/members", self.list_members, READ_MEMBERS),
            (r"/groups/(?P<group>[^/]+)/members" + cast, self.list_members, READ_MEMBERS),
            (r"/groups/(?P<group>[^/]+)/transitiveMembers", self.list_transitive_members, READ_MEMBERS),
            (r"/groups/(?P<group>[^/]+)/transitiveMembers" + cast, self.list_transitive_members, READ_MEMBERS),
            (r"/directory/deletedItems/(?:microsoft\.)?graph\.user", self.list_deleted_users, READ_USERS),
            (r"/directory/deletedItems/(?P<key>[^/]+)", self.get_deleted_item, READ_USERS),
            (r"/auditLogs/provisioning", self.list_provisioning, READ_LOGS),
        ):
            self.routes.add("GET", pattern, _guarded(handler, permissions))

    def handle_secrets(self, request: Request, sp: str) -> Response:
        """`GET /beta/servicePrincipals/{id}/synchronization/secrets`: the tenant file's
        `graph.synchronizationSecrets` ({key, value} pairs), as Graph's beta serves them."""
        request_id = str(uuid.uuid4())
        claims, problem = self._token(request)
        if problem is not None:
            return graph_error(401, "InvalidAuthenticationToken", _AUTH_MESSAGES[problem], request_id=request_id)
        with self.state.lock:
            principal = self.state.graph["servicePrincipal"]
            if unquote(sp) != principal["id"]:
                return graph_error(404, "Request_ResourceNotFound",
                                   f"Resource '{unquote(sp)}' does not exist or one of its queried reference-property "
                                   "objects are not present.", request_id=request_id)
            if not permitted(claims, READ_SECRETS):
                return graph_error(403, "Authorization_RequestDenied",
                                   "Insufficient privileges to complete the operation.", request_id=request_id)
            pairs = [dict(item) for item in self.state.graph.get("synchronizationSecrets") or []]
        context = f"{request.base_url}/beta/$metadata#servicePrincipals('{principal['id']}')/synchronization/secrets"
        return Response.json(200, {"@odata.context": context, "value": pairs}, content_type=GRAPH_CONTENT_TYPE)

    # --- plumbing --------------------------------------------------------------------------------
    def handle(self, request: Request, **_: str) -> Response:
        """Auth, deny list, dispatch; every answer gets Graph's request-id headers."""
        request_id = str(uuid.uuid4())
        client_request_id = request.header("client-request-id") or request_id
        try:
            with self.state.lock:
                response = self._serve(request, request_id, client_request_id)
        except ODataError as err:
            response = graph_error(err.status, err.code, err.message, request_id=request_id,
                                   client_request_id=client_request_id)
        response.headers.update({"request-id": request_id, "client-request-id": client_request_id,
                                 "OData-Version": "4.0"})
        return response

    def _serve(self, request: Request, request_id: str, client_request_id: str) -> Response:
        claims, problem = self._token(request)
        if problem is not None:
            message = _AUTH_MESSAGES[problem]
            challenge = (f'Bearer realm="", authorization_uri="{request.base_url}/common/oauth2/authorize", '
                         f'client_id="{GRAPH_APP_ID}"')
            if problem != "missing":
                challenge += f', error="invalid_token", error_description="{message}"'
            return graph_error(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": challenge},
                               request_id=request_id, client_request_id=client_request_id)
        path = collapse_segments(unquote(request.path))
        if self.state.graph_denied(path) or self.state.graph_denied(request.path):
            raise ODataError("Insufficient privileges to complete the operation.",
                             code="Authorization_RequestDenied", status=403)
        relative = path[len("/v1.0"):]
        found = self.routes.match("GET", relative)
        if not isinstance(found, tuple):
            segments = [s for s in relative.split("/") if s]
            raise ODataError(f"Resource not found for the segment '{segments[-1] if segments else ''}'.",
                             code="BadRequest")
        handler, groups = found
        options = {k.lower(): v for k, v in request.query.items() if k.startswith("$")}
        call = Call(request, claims, relative, options, f"{request.base_url}/v1.0")
        payload = handler(call, **groups)
        return Response.json(200, payload, content_type=GRAPH_CONTENT_TYPE)

    def _token(self, request: Request) -> tuple[dict[str, Any], str | None]:
        """The bearer token's claims, or why it is refused: missing, expired, invalid, another tenant's."""
        check = self.state.tokens.check(request.bearer, GRAPH_AUDIENCE)
        if not check.ok:
            return {}, check.problem or "invalid"
        claims = check.claims or {}
        if str(claims.get("tid", "")).lower() != str(self.state.graph["tenantId"]).lower():
            return claims, "tenant"
        return claims, None

    def _collection(self, call: Call, items: Sequence[Any], context: str, render: Callable[[Any], dict[str, Any]],
                    key: Callable[[Any], str], cap: int | None = None) -> dict[str, Any]:
        """One page of `items` with Graph's paging: `$top`, an opaque `$skiptoken`, `@odata.nextLink`."""
        size = parse_top(call.opt("$top"))
        if cap is not None:
            size = min(size, cap)
        tag = route_tag(call.path)
        cursor = None
        token = call.opt("$skiptoken")
        if token is not None:
            cursor = decode_skiptoken(token, self._key)
            if cursor.pop("r", None) != tag:
                raise bad_skiptoken()
        page = take_page(items, size, cursor, key)
        body: dict[str, Any] = {"@odata.context": context}
        if page.cursor is not None:
            request = call.request
            body["@odata.nextLink"] = next_link(request.base_url, request.path, request.raw_query,
                                                encode_skiptoken({**page.cursor, "r": tag}, self._key))
        body["value"] = [render(item) for item in page.items]
        moved = self.state.faults.current("next_link")  # the fault knob: a nextLink pointing somewhere else
        if moved is not None:
            body["@odata.nextLink"] = str(moved.body)
        return body

    # --- rendering -----------------------------------------------------------------------------------
    def _known(self, standard: Iterable[str], objects: Iterable[dict[str, Any]], raw: str | None = None,
               extra: Callable[[str], bool] = lambda name: True) -> set[str]:
        """Selectable names: Graph's own plus any extra property the tenant file gives its objects.

        The objects are scanned only when `raw` (the `$select` asked for) names something non-standard:
        scanning 100,000 users on every page would dominate the time of a large read.
        """
        known = set(standard)
        if raw is not None:
            lowered = {k.lower() for k in known} | {"manager"}
            asked = {part.strip().lower() for part in raw.split(",") if part.strip()}
            if asked <= lowered:
                return known
        for obj in objects:
            known.update(k for k in obj if k not in _INTERNAL and extra(k))
        return known

    def _user_select(self, raw: str | None) -> list[str] | None:
        """Graph v1.0's user properties and the tenant's directory extensions: any other name is Graph's 400,
        even when the tenant file gives users such a property (a flat `extensionAttribute1` is not one)."""
        graph = self.state.graph
        known = self._known(USER_PROPERTIES, [*graph["users"], *graph["deletedUsers"]], raw,
                            extra=lambda name: DIRECTORY_EXTENSION.fullmatch(name) is not None)
        return parse_select(raw, known | {"manager"}, "user")

    @staticmethod
    def _value(obj: dict[str, Any], name: str) -> Any:
        if name in obj and name not in _INTERNAL:
            return obj[name]
        return [] if name in COLLECTIONS else None

    def render_user(self, user: dict[str, Any], select: Sequence[str] | None,
                    expand: dict[str, list[str] | None] | None = None, defaults: Sequence[str] = USER_DEFAULT,
                    typed: bool = False) -> dict[str, Any]:
        """A user as Graph writes it: the default set, or the selection plus id; absent ones null."""
        out: dict[str, Any] = {"@odata.type": "#microsoft.graph.user"} if typed else {}
        if select is None:
            out.update((name, self._value(user, name)) for name in defaults)
        else:
            own = USER_PROPERTIES.union(user)
            out.update((name, self._value(user, name)) for name in select if name in own and name not in _INTERNAL)
            out.setdefault("id", user["id"])
        if expand and "manager" in expand:
            manager = self._manager_of(user)
            if manager is not None:
                out["manager"] = self.render_user(manager, expand["manager"], typed=True)
        return out

    def render_group(self, group: dict[str, Any], select: Sequence[str] | None, typed: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.type": "#microsoft.graph.group"} if typed else {}
        if select is None:
            for name in GROUP_DEFAULT:
                out[name] = group.get(name, GROUP_FALLBACKS.get(name, [] if name in COLLECTIONS else None))
            out.update((k, v) for k, v in group.items() if k not in _INTERNAL and k not in out)
        else:
            own = GROUP_PROPERTIES.union(group)
            for name in select:
                if name in own and name not in _INTERNAL:
                    out[name] = group.get(name, GROUP_FALLBACKS.get(name, [] if name in COLLECTIONS else None))
            out.setdefault("id", group["id"])
        return out

    def _render_member(self, found: tuple[str, dict[str, Any]], select: Sequence[str] | None) -> dict[str, Any]:
        kind, obj = found
        if kind == "group":
            return self.render_group(obj, select, typed=True)
        return self.render_user(obj, select, typed=True)

    def _render_cast(self, found: tuple[str, dict[str, Any]], select: Sequence[str] | None) -> dict[str, Any]:
        kind, obj = found
        return self.render_group(obj, select) if kind == "group" else self.render_user(obj, select)

    def _manager_of(self, user: dict[str, Any]) -> dict[str, Any] | None:
        link = user.get("manager")
        manager_id = link.get("id") if isinstance(link, dict) else None
        found = self.state.graph_object(manager_id) if manager_id else None
        return found[1] if found and found[0] == "user" else None

    def _user_expand(self, call: Call) -> dict[str, list[str] | None]:
        expand = parse_expand(call.opt("$expand"), USER_NAVIGATIONS, "user")
        return {name: self._user_select(nested) for name, nested in expand.items()}

    def _find_user(self, key: str) -> dict[str, Any]:
        found = self.state.graph_object(key)
        if found and found[0] == "user":
            return found[1]
        lowered = key.lower()
        for user in self.state.graph["users"]:
            if str(user.get("userPrincipalName", "")).lower() == lowered:
                return user
        raise not_found(key)

    # --- users -------------------------------------------------------------------------------------------
    def list_users(self, call: Call) -> dict[str, Any]:
        call.only("$select", "$top", "$skiptoken", "$expand", "$count")
        select = self._user_select(call.opt("$select"))
        expand = self._user_expand(call)
        users = self.state.graph["users"]
        body = self._collection(
            call, users, call.context("users" + context_selection(select, expand)),
            lambda u: self.render_user(u, select, expand), key=_id_of, cap=MAX_EXPAND_PAGE if expand else None,
        )
        return self._with_count(call, body, len(users), expanded=bool(expand))

    def get_user(self, call: Call, key: str) -> dict[str, Any]:
        call.only("$select", "$expand")
        user = self._find_user(key)
        select = self._user_select(call.opt("$select"))
        expand = self._user_expand(call)
        return {"@odata.context": call.context(f"users{context_selection(select, expand)}/$entity"),
                **self.render_user(user, select, expand)}

    def get_manager(self, call: Call, key: str) -> dict[str, Any]:
        call.only("$select")
        manager = self._manager_of(self._find_user(key))
        if manager is None:
            raise not_found("manager")
        select = self._user_select(call.opt("$select"))
        return {"@odata.context": call.context("directoryObjects/$entity"),
                **self.render_user(manager, select, typed=True)}

    def _with_count(self, call: Call, body: dict[str, Any], total: int, expanded: bool = False) -> dict[str, Any]:
        """`$count=true` is an advanced query: it needs `ConsistencyLevel: eventual` and excludes $expand."""
        raw = call.opt("$count")
        if raw is None or raw.lower() == "false":
            return body
        if raw.lower() != "true":
            raise ODataError(f"Invalid value '{raw}' for the $count query option.")
        if (call.request.header("ConsistencyLevel") or "").lower() != "eventual":
            raise ODataError("$count is not currently supported.")
        if expanded:
            raise ODataError("$expand is not supported with advanced queries (ConsistencyLevel: eventual).",
                             code="Request_UnsupportedQuery")
        if call.opt("$skiptoken") is None:  # Graph gives the count on the first page only
            body = {"@odata.context": body["@odata.context"], "@odata.count": total,
                    **{k: v for k, v in body.items() if k != "@odata.context"}}
        return body

    # --- service principal --------------------------------------------------------------------------------
    def _service_principal(self, sp: str | None = None, app: str | None = None) -> dict[str, Any]:
        principal = self.state.graph["servicePrincipal"]
        if sp is not None and str(principal["id"]).lower() == sp.lower():
            return principal
        if app is not None and str(principal["appId"]).lower() == app.lower():
            return principal
        raise not_found(sp if sp is not None else str(app))

    def _render_sp(self, principal: dict[str, Any], select: Sequence[str] | None) -> dict[str, Any]:
        if select is None:
            return {k: v for k, v in principal.items() if k not in _INTERNAL}
        out = {name: self._value(principal, name) for name in select}
        out.setdefault("id", principal["id"])
        return out

    def _sp_select(self, call: Call) -> list[str] | None:
        known = self._known(SP_PROPERTIES, [self.state.graph["servicePrincipal"]])
        return parse_select(call.opt("$select"), known, "servicePrincipal")

    def list_service_principals(self, call: Call) -> dict[str, Any]:
        call.only("$filter", "$select", "$top", "$skiptoken")
        select = self._sp_select(call)
        principals = [self.state.graph["servicePrincipal"]]
        raw = call.opt("$filter")
        if raw is not None:
            clauses = parse_filter(raw)
            clause = clauses[0]
            if len(clauses) != 1 or clause.prop.lower() != "appid" or clause.op != "eq" or not clause.quoted:
                raise ODataError("Unsupported or invalid query filter clause specified for property of resource "
                                 "'ServicePrincipal' (the sandbox supports appId eq '<appId>').",
                                 code="Request_UnsupportedQuery")
            wanted = clause.value.lower()
            principals = [p for p in principals if str(p["appId"]).lower() == wanted]
        return self._collection(call, principals, call.context("servicePrincipals" + context_selection(select, {})),
                                lambda p: self._render_sp(p, select), key=_id_of)

    def get_service_principal(self, call: Call, sp: str | None, app: str | None) -> dict[str, Any]:
        call.only("$select")
        principal = self._service_principal(sp, app)
        select = self._sp_select(call)
        return {"@odata.context": call.context(f"servicePrincipals{context_selection(select, {})}/$entity"),
                **self._render_sp(principal, select)}

    def _render_assignment(self, item: dict[str, Any], principal: dict[str, Any]) -> dict[str, Any]:
        display = item.get("principalDisplayName")
        if display is None:
            found = self.state.graph_object(item["principalId"])
            display = found[1].get("displayName") if found else None
        return {
            "id": item.get("id") or assignment_id(item),
            "deletedDateTime": item.get("deletedDateTime"),
            "appRoleId": item["appRoleId"],
            "createdDateTime": item.get("createdDateTime"),
            "principalDisplayName": display,
            "principalId": item["principalId"],
            "principalType": item.get("principalType", "User"),
            "resourceDisplayName": item.get("resourceDisplayName", principal.get("displayName")),
            "resourceId": item.get("resourceId", principal["id"]),
        }

    def list_assignments(self, call: Call, sp: str | None, app: str | None) -> dict[str, Any]:
        call.only("$select", "$top", "$skiptoken")
        principal = self._service_principal(sp, app)
        select = parse_select(call.opt("$select"), ASSIGNMENT_PROPERTIES, "appRoleAssignment")
        rows = [self._render_assignment(a, principal) for a in self.state.graph["appRoleAssignments"]]

        def render(row: dict[str, Any]) -> dict[str, Any]:
            if select is None:
                return row
            return {"id": row["id"], **{name: row[name] for name in select}}

        context = call.context(f"servicePrincipals('{principal['id']}')/appRoleAssignedTo"
                               + context_selection(select, {}))
        return self._collection(call, rows, context, render, key=_id_of)

    # --- groups ----------------------------------------------------------------------------------------------
    def _group(self, group_id: str) -> dict[str, Any]:
        found = self.state.graph_object(group_id)
        if not found or found[0] != "group":
            raise not_found(group_id)
        return found[1]

    def _member_select(self, call: Call) -> list[str] | None:
        graph = self.state.graph
        known = self._known(USER_PROPERTIES | GROUP_PROPERTIES, [*graph["users"], *graph["groups"]],
                            call.opt("$select"))
        return parse_select(call.opt("$select"), known, "directoryObject")

    def get_group(self, call: Call, group: str) -> dict[str, Any]:
        call.only("$select")
        found = self._group(group)
        known = self._known(GROUP_PROPERTIES, self.state.graph["groups"], call.opt("$select"))
        select = parse_select(call.opt("$select"), known, "group")
        return {"@odata.context": call.context(f"groups{context_selection(select, {})}/$entity"),
                **self.render_group(found, select)}

    def _members(self, call: Call, members: list[tuple[str, dict[str, Any]]], cast: str | None) -> dict[str, Any]:
        """A page of members; a cast keeps one kind and, as Graph's cast samples show, drops `@odata.type`."""
        call.only("$select", "$top", "$skiptoken", "$count")
        select = self._member_select(call)
        entity = "directoryObjects"
        render = self._render_member
        if cast is not None:
            members = [m for m in members if m[0] == cast]
            entity = f"{cast}s"
            render = self._render_cast
        body = self._collection(call, members, call.context(entity + context_selection(select, {})),
                                lambda found: render(found, select), key=lambda found: found[1]["id"])
        return self._with_count(call, body, len(members))

    def list_members(self, call: Call, group: str, cast: str | None = None) -> dict[str, Any]:
        """Direct members only: what the provisioning service scopes on."""
        found = self._group(group)
        members = [m for m in (self.state.graph_object(i) for i in found.get("members", []))
                   if m is not None and m[0] in ("user", "group")]
        return self._members(call, members, cast)

    def list_transitive_members(self, call: Call, group: str, cast: str | None = None) -> dict[str, Any]:
        """Every user and group reachable through nesting, each once, breadth first; cycles end the walk."""
        root = self._group(group)
        seen = {root["id"]}
        members: list[tuple[str, dict[str, Any]]] = []
        queue = collections.deque(root.get("members", []))
        while queue:
            member_id = queue.popleft()
            if member_id in seen:
                continue
            seen.add(member_id)
            found = self.state.graph_object(member_id)
            if found is None or found[0] not in ("user", "group"):
                continue  # soft-deleted users drop out of memberships
            members.append(found)
            if found[0] == "group":
                queue.extend(found[1].get("members", []))
        return self._members(call, members, cast)

    # --- deleted users ----------------------------------------------------------------------------------------------
    def list_deleted_users(self, call: Call) -> dict[str, Any]:
        call.only("$select", "$top", "$skiptoken", "$count")
        select = self._user_select(call.opt("$select"))
        deleted = self.state.graph["deletedUsers"]
        defaults = (*USER_DEFAULT[:-1], "deletedDateTime", "id")
        body = self._collection(call, deleted, call.context("users" + context_selection(select, {})),
                                lambda u: self.render_user(u, select, defaults=defaults), key=_id_of)
        return self._with_count(call, body, len(deleted))

    def get_deleted_item(self, call: Call, key: str) -> dict[str, Any]:
        call.only("$select")
        found = self.state.graph_object(key)
        if not found or found[0] != "deletedUser":
            raise not_found(key)
        select = self._user_select(call.opt("$select"))
        defaults = (*USER_DEFAULT[:-1], "deletedDateTime", "id")
        return {"@odata.context": call.context("directoryObjects/$entity"),
                **self.render_user(found[1], select, defaults=defaults, typed=True)}

    # --- synchronization ---------------------------------------------------------------------------------------------
    def _job(self) -> dict[str, Any]:
        """The tenant's job (top level and `status`/`schedule` filled from the generated one), without schema."""
        generated = default_sync_job(self.state.graph["tenantId"], self._started - dt.timedelta(minutes=12),
                                     entitled=len(self.state.scim_users))
        given = self.state.graph.get("synchronizationJob")
        if not given:
            return generated
        job = {**generated, **{k: v for k, v in given.items() if k != "schema"}}
        for part in ("status", "schedule"):
            if isinstance(given.get(part), dict):
                job[part] = {**generated[part], **given[part]}
        return job

    def _job_named(self, job_id: str) -> dict[str, Any]:
        job = self._job()
        if job["id"] != job_id:
            raise not_found(job_id)
        return job

    def list_jobs(self, call: Call, sp: str | None, app: str | None) -> dict[str, Any]:
        call.only()
        principal = self._service_principal(sp, app)
        return {"@odata.context": call.context(f"servicePrincipals('{principal['id']}')/synchronization/jobs"),
                "value": [self._job()]}

    def get_job(self, call: Call, sp: str | None, app: str | None, job: str) -> dict[str, Any]:
        call.only()
        principal = self._service_principal(sp, app)
        found = self._job_named(job)
        return {"@odata.context": call.context(f"servicePrincipals('{principal['id']}')/synchronization/jobs/$entity"),
                **found}

    def get_schema(self, call: Call, sp: str | None, app: str | None, job: str) -> dict[str, Any]:
        call.only()
        principal = self._service_principal(sp, app)
        found = self._job_named(job)
        given = self.state.graph.get("synchronizationJob") or {}
        schema = given.get("schema") or default_sync_schema(self.state.settings["schemaProfile"])
        context = call.context(f"servicePrincipals('{principal['id']}')/synchronization/jobs('{found['id']}')"
                               "/schema/$entity")
        return {"@odata.context": context, "id": found["id"], **schema}

    # --- provisioning logs -------------------------------------------------------------------------------------------
    def list_provisioning(self, call: Call) -> dict[str, Any]:
        call.only("$filter", "$select", "$top", "$skiptoken")
        keep = provisioning_filter(call.opt("$filter"))
        events = [e for e in self.state.graph["provisioningEvents"] if keep(e)]
        events.sort(key=_event_time, reverse=True)  # newest first, as the provisioning log lists them
        known = self._known(PROVISIONING_PROPERTIES, self.state.graph["provisioningEvents"])
        select = parse_select(call.opt("$select"), known, "provisioningObjectSummary")

        def render(event: dict[str, Any]) -> dict[str, Any]:
            if select is None:
                return dict(event)
            return {"id": event.get("id"), **{name: event.get(name) for name in select}}

        return self._collection(call, events, call.context("auditLogs/provisioning" + context_selection(select, {})),
                                render, key=lambda e: str(e.get("id")))


# --- pure helpers ---------------------------------------------------------------------------------------------------
def collapse_segments(path: str) -> str:
    """`/v1.0//users` as `/v1.0/users`: Graph ignores empty path segments, and msgraph-sdk sends one
    whenever its base URL ends in `/`."""
    return re.sub(r"/{2,}", "/", path)


def granted(claims: dict[str, Any]) -> set[str] | None:
    """The permissions a token carries (`roles` of an app token, `scp` of a user token), lower-cased;
    None when it carries neither claim (a token minted by hand in a test), which is not checked."""
    if claims.get("idtyp") == "user" or ("scp" in claims and "roles" not in claims):
        scopes = claims.get("scp")
        return None if scopes is None else {s.lower() for s in str(scopes).split()}
    roles = claims.get("roles")
    return None if roles is None else {str(r).lower() for r in roles}


def permitted(claims: dict[str, Any], permissions: Permissions) -> bool:
    have = granted(claims)
    return have is None or any(all(p.lower() in have for p in option) for option in permissions)


def _guarded(handler: Callable[..., dict[str, Any]], permissions: Permissions) -> Callable[..., dict[str, Any]]:
    """`handler` behind a permission check: Graph's 403 when the token lacks every accepted permission."""
    def guarded(call: Call, **groups: Any) -> dict[str, Any]:
        if not permitted(call.claims, permissions):
            raise ODataError("Insufficient privileges to complete the operation.",
                             code="Authorization_RequestDenied", status=403)
        return handler(call, **groups)

    return guarded


def not_found(key: str) -> ODataError:
    return ODataError(f"Resource '{key}' does not exist or one of its queried reference-property objects are not "
                      "present.", code="Request_ResourceNotFound", status=404)


def _id_of(obj: dict[str, Any]) -> str:
    return str(obj["id"])


def assignment_id(item: dict[str, Any]) -> str:
    """A stable id in Graph's style (43 url-safe base64 characters) for an assignment the tenant left without one."""
    seed = f"{item['principalId']}|{item['appRoleId']}|{item.get('createdDateTime')}".encode()
    return base64.urlsafe_b64encode(hashlib.sha256(seed).digest()).decode("ascii").rstrip("=")


_EPOCH = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def _event_time(event: dict[str, Any]) -> dt.datetime:
    try:
        return parse_datetime(str(event["activityDateTime"]))
    except (KeyError, ValueError):
        return _EPOCH


def _time_test(event: dict[str, Any], op: str, moment: dt.datetime) -> bool:
    """One `activityDateTime op moment` clause; an event without a time never matches."""
    return compare(_event_time(event), op, moment) if event.get("activityDateTime") else False


def _text_test(event: dict[str, Any], prop: str, value: str) -> bool:
    """One `prop eq 'value'` clause on a text property."""
    return event.get(prop) == value


def provisioning_filter(raw: str | None) -> Callable[[dict[str, Any]], bool]:
    """A predicate for `/auditLogs/provisioning?$filter=…`: activityDateTime comparisons with bare ISO
    datetimes, and `eq` on jobId, cycleId, changeId or id with quoted strings, joined by `and`."""
    if raw is None:
        return lambda _event: True
    tests: list[Callable[[dict[str, Any]], bool]] = []
    names = {name.lower(): name for name in ("activityDateTime", *PROVISIONING_TEXT_FILTERS)}
    for clause in parse_filter(raw):
        prop = names.get(clause.prop.lower(), clause.prop)
        if prop == "activityDateTime" and not clause.quoted:
            try:
                moment = parse_datetime(clause.value)
            except ValueError:
                raise ODataError(f"Invalid filter clause: '{clause.value}' is not a valid DateTimeOffset.") from None
            op = clause.op.lower()
            if op not in ("eq", "gt", "lt"):  # what Graph documents for this list: eq, contains, gt, lt
                raise ODataError(f"Invalid filter clause: the operator '{clause.op}' is not supported on "
                                 "activityDateTime; use eq, gt or lt.")
            tests.append(functools.partial(_time_test, op=op, moment=moment))
        elif prop in PROVISIONING_TEXT_FILTERS and clause.op == "eq" and clause.quoted:
            value = clause.value
            tests.append(functools.partial(_text_test, prop=prop, value=value))
        else:
            raise ODataError(f"Invalid filter clause: the sandbox supports activityDateTime gt|lt|eq <datetime> "
                             f"and {'|'.join(PROVISIONING_TEXT_FILTERS)} eq '<value>', joined by 'and'; got "
                             f"'{clause.prop} {clause.op} {clause.value}'.", code="Request_UnsupportedQuery")
    return lambda event: all(test(event) for test in tests)
