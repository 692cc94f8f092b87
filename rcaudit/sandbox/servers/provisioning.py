"""Emulated `provisionOnDemand`: what Entra's provisioning service does for one user, now, to RingCentral.

`POST /v1.0/servicePrincipals/{id}/synchronization/jobs/{jobId}/provisionOnDemand` with
`{"parameters": [{"ruleId": …, "subjects": [{"objectId": <user id>, "objectTypeName": "User"}]}]}`
(microsoft-graph-docs-contrib `api-reference/v1.0/api/synchronization-synchronizationjob-provisionondemand.md`,
resources `synchronization-synchronizationjobapplicationparameters.md`, `-synchronizationjobsubject.md`). It
answers a `stringKeyStringValuePair` whose `key` is `{"result": Success|Skipped|Failure, "details": {…}}` and
whose `value` is the run (action, provisioningSteps, statusInfo, sourceIdentity, targetIdentity…), both JSON
text, as the documentation's examples show. Permissions: Synchronization.ReadWrite.All, or
Application.ReadWrite.OwnedBy (the same file) for an app that owns the service principal (the tenant file's
optional `servicePrincipal.owners`: client ids); anything else is Graph's 403. Rate limit: "5 requests per 10
seconds" (the same file), answered 429 with Retry-After beyond it. One user per request: the admin center
provisions one user at a time, the API a single group of up to five members (MicrosoftDocs/entra-docs
`docs/identity/app-provisioning/provision-on-demand.md`, "Known limitations"); the sandbox takes one User.

The run uses the tenant's own job schema (the rule named by `ruleId`): its scoping filter and its attribute
mapping, evaluated here by the emulator's own small code, never the audit engine's: direct `[attribute]`
sources, `Switch([IsSoftDeleted], …)`, constants, and EQUALS / NOT EQUALS / IS NULL scoping clauses. Anything
else is a Failure step naming the expression (no Microsoft error code is documented for it: the code here,
`SandboxExpressionNotEvaluated`, is the sandbox's own). The account is created or updated through the
RingCentral emulator's own POST / PATCH handling (so its refusals, a bad region or a taken userName, fail the
export as they would), and the run is added to the provisioning log as a provisioningObjectSummary.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import unquote

from rcaudit.model.vocabulary import CORE_USER, ENTERPRISE
from rcaudit.sandbox.servers.graph_api import GRAPH_CONTENT_TYPE, granted, graph_error
from rcaudit.sandbox.servers.http_server import HttpError, Request, Response
from rcaudit.sandbox.servers.scim_api import RingCentralService
from rcaudit.sandbox.servers.state import SandboxState
from rcaudit.sandbox.servers.tokens import GRAPH_AUDIENCE
from rcaudit.sandbox.tenant.sync_schema import SOURCE_DIRECTORY, TARGET_DIRECTORY, default_job_id, default_sync_schema

WRITE_ALL, OWNED_BY = "Synchronization.ReadWrite.All", "Application.ReadWrite.OwnedBy"
RATE_REQUESTS, RATE_WINDOW = 5, 10.0  # "5 requests per 10 seconds"
LIMIT_SETTING = "provisionOnDemandLimit"  # sandbox settings: {"requests": N, "window": seconds} (tests shrink it)
UNSUPPORTED_CODE = "SandboxExpressionNotEvaluated"
_SCIM_HEADERS = {"Content-Type": "application/scim+json"}


class Unsupported(Exception):
    """An expression or scoping clause the emulator does not evaluate (its text is the message)."""


# --- the evaluator ------------------------------------------------------------------------------------------
def _text(value: Any) -> Any:
    """A source value as the provisioning service flows it: booleans as "True"/"False", the rest as is."""
    if isinstance(value, bool):
        return "True" if value else "False"
    return value


def source_value(user: dict[str, Any], name: str) -> Any:
    """A user's value for a provisioning source name (the engine's legacy names: `objectId`, `mobile`,
    `telephoneNumber`, `IsSoftDeleted`, `extensionAttributeN`), as the provisioning service reads it."""
    if name == "objectId":
        return user.get("id")
    if name == "IsSoftDeleted":
        return "True" if user.get("deletedDateTime") else "False"
    if name == "mobile":
        return user.get("mobilePhone")
    if name == "telephoneNumber":
        phones = user.get("businessPhones") or []
        return phones[0] if phones else None
    if name.startswith("extensionAttribute"):
        return (user.get("onPremisesExtensionAttributes") or {}).get(name)
    return _text(user.get(name))


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _constant(node: dict[str, Any]) -> str:
    if node.get("type") != "Constant":
        raise Unsupported(str(node.get("expression") or node.get("name")))
    return str(node.get("name") if node.get("name") is not None else node.get("expression", "")).strip('"')


def _switch(node: dict[str, Any], user: dict[str, Any]) -> Any:
    """`Switch([IsSoftDeleted], default, key, value, …)`: the value of the first key equal to the source."""
    parameters = node.get("parameters") or []
    source = next((p["value"] for p in parameters if p.get("key") == "source"), None)
    if not isinstance(source, dict) or source.get("type") != "Attribute" or source.get("name") != "IsSoftDeleted":
        raise Unsupported(str(node.get("expression") or "Switch"))
    found = source_value(user, "IsSoftDeleted")
    default = next((_constant(p["value"]) for p in parameters if p.get("key") == "defaultValue"), "")
    keys = [_constant(p["value"]) for p in parameters if p.get("key") == "key"]
    values = [_constant(p["value"]) for p in parameters if p.get("key") == "value"]
    for key, value in zip(keys, values, strict=False):
        if key == found:
            return value
    return default or None


def evaluate(source: dict[str, Any], user: dict[str, Any]) -> Any:
    """An attributeMappingSource's value for `user`: a direct attribute, a constant, or Switch over
    IsSoftDeleted; anything else raises `Unsupported` with the expression."""
    kind = source.get("type")
    if kind == "Attribute" and not source.get("parameters"):
        return source_value(user, str(source.get("name")))
    if kind == "Constant":
        return _constant(source)
    if kind == "Function" and source.get("name") == "Switch":
        return _switch(source, user)
    raise Unsupported(str(source.get("expression") or source.get("name") or kind))


_OPERATORS = {"EQUALS": "EQUALS", "NOTEQUALS": "NOT EQUALS", "ISNULL": "IS NULL"}


def clause_holds(clause: dict[str, Any], user: dict[str, Any]) -> bool:
    """One scoping clause (Graph's filterClause): EQUALS / NOT EQUALS case-sensitive on a value that is set
    (false when the attribute is empty), IS NULL on emptiness; any other operator raises `Unsupported`."""
    raw = str(clause.get("operatorName") or "")
    operator = _OPERATORS.get(raw.replace(" ", "").replace("_", "").upper())
    name = str(clause.get("sourceOperandName") or "")
    if operator is None:
        raise Unsupported(f"{name} {raw}")
    value = source_value(user, name)
    if operator == "IS NULL":
        return _empty(value)
    targets = [str(v) for v in ((clause.get("targetOperand") or {}).get("values") or [])]
    if _empty(value):
        return False
    return (str(value) in targets) == (operator == "EQUALS")


def scope_passes(scope: dict[str, Any] | None, user: dict[str, Any]) -> bool:
    """The user mapping's scoping filter: within a group clauses are ANDed, groups are ORed; every kind of
    group list the filter holds must let the user through. No filter: everyone passes."""
    if not scope:
        return True
    for key in ("categoryFilterGroups", "inputFilterGroups", "groups"):
        groups = [g for g in scope.get(key) or [] if g.get("clauses")]
        if groups and not any(all(clause_holds(c, user) for c in g["clauses"]) for g in groups):
            return False
    return True


# --- the target resource ------------------------------------------------------------------------------------
def _parse(target: str) -> tuple[str, str, str]:
    """A target path as (shape, attribute, part): `enterprise` (URN, name), `typed` (`x`, `t.sub`),
    `nested` (`a`, `b`) or `top` (`a`, "")."""
    if target.startswith(ENTERPRISE + ":"):
        return "enterprise", target[len(ENTERPRISE) + 1:], ""
    if "[type eq " in target:
        attribute, _, rest = target.partition("[type eq ")
        kind, _, sub = rest.partition("]")
        return "typed", attribute, f"{kind.strip(chr(34))}.{sub.lstrip('.') or 'value'}"
    if "." in target:
        parent, _, sub = target.partition(".")
        return "nested", parent, sub
    return "top", target, ""


def place(body: dict[str, Any], target: str, value: Any) -> None:
    """Write one mapped value at its target path in a SCIM user (`a`, `a.b`, `x[type eq "t"].sub`, `URN:attr`)."""
    shape, attribute, part = _parse(target)
    if shape == "enterprise":
        body.setdefault(ENTERPRISE, {})[attribute] = {"value": value} if attribute == "manager" else value
    elif shape == "typed":
        kind, _, sub = part.partition(".")
        items = body.setdefault(attribute, [])
        item = next((i for i in items if i.get("type") == kind), None)
        if item is None:
            item = {"type": kind, **({"primary": True} if attribute == "emails" else {})}
            items.append(item)
        item[sub] = value
    elif shape == "nested":
        body.setdefault(attribute, {})[part] = value
    elif target == "active":
        body[target] = str(value).lower() == "true"  # a Boolean attribute: JSON true/false in the POST
    else:
        body[target] = value


def read(account: dict[str, Any], target: str) -> Any:
    """The value an account holds at a target path (None when absent)."""
    shape, attribute, part = _parse(target)
    if shape == "enterprise":
        value = (account.get(ENTERPRISE) or {}).get(attribute)
        return value.get("value") if isinstance(value, dict) else value
    if shape == "typed":
        kind, _, sub = part.partition(".")
        items = account.get(attribute) or []
        item = next((i for i in items if isinstance(i, dict) and i.get("type") == kind), None)
        return item.get(sub) if item else None
    if shape == "nested":
        return (account.get(attribute) or {}).get(part)
    return account.get(attribute)


def _same(target: str, wanted: Any, held: Any) -> bool:
    if target == "active" or isinstance(held, bool):
        return str(wanted).lower() == str(held).lower()
    if isinstance(held, dict):
        held = held.get("value")
    return str(wanted).strip().casefold() == str(held or "").strip().casefold()


@dataclass
class Run:
    """One on-demand run: its result, steps (as the response names them), action and the account's id."""

    result: str = "Success"
    action: str = "Other"
    steps: list[dict[str, Any]] = field(default_factory=list)
    target_id: str = ""
    error_code: str = ""
    message: str = ""
    modified: list[dict[str, Any]] = field(default_factory=list)

    def step(self, name: str, kind: str, status: str, description: str, **details: Any) -> None:
        self.steps.append({"name": name, "type": kind, "status": status, "description": description,
                           "timestamp": _now(), "details": {k: _text(v) for k, v in details.items()}})

    def fail(self, name: str, kind: str, code: str, message: str, status: str = "Failure") -> Run:
        self.result, self.error_code, self.message = status, code, message
        self.step(name, kind, status, message, **({"SkipReason": code} if status == "Skipped" else
                                                  {"errorCode": code}))
        return self


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- the service ---------------------------------------------------------------------------------------------
class ProvisioningEmulator:
    """The provisionOnDemand route over one `SandboxState` (every request under the state's lock)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.ringcentral = RingCentralService(state)  # the target's own create/patch rules, called in process
        self.sent: collections.deque[float] = collections.deque()

    def handle(self, request: Request, sp: str, job: str) -> Response:
        request_id = str(uuid.uuid4())
        check = self.state.tokens.check(request.bearer, GRAPH_AUDIENCE)
        claims = check.claims or {}
        if not check.ok or str(claims.get("tid", "")).lower() != str(self.state.graph["tenantId"]).lower():
            return graph_error(401, "InvalidAuthenticationToken", "Access token validation failure.",
                               request_id=request_id)
        with self.state.lock:
            if not self.may_provision(claims):
                return graph_error(403, "Authorization_RequestDenied",
                                   "Insufficient privileges to complete the operation.", request_id=request_id)
            problem = self._target_problem(unquote(sp), unquote(job)) or self._throttled()
            if problem is not None:
                return problem
            try:
                rule, user = self._subject(request)
            except HttpError as err:
                return err.response
            run = self.provision(rule, user)
            self._log(run, user, unquote(job), claims)
        context = f"{request.base_url}/v1.0/$metadata#microsoft.graph.stringKeyStringValuePair"
        return Response.json(200, {"@odata.context": context, **answer(run, user)}, {"request-id": request_id},
                             content_type=GRAPH_CONTENT_TYPE)

    # --- checks ----------------------------------------------------------------------------------------
    def may_provision(self, claims: dict[str, Any]) -> bool:
        """Synchronization.ReadWrite.All; or Application.ReadWrite.OwnedBy when the calling app owns the service
        principal. A token minted without a permission claim (tests) is not checked."""
        have = granted(claims)
        if have is None or WRITE_ALL.lower() in have:
            return True
        owners = {str(o) for o in self.state.graph["servicePrincipal"].get("owners") or []}
        return OWNED_BY.lower() in have and str(claims.get("appid", "")) in owners

    def _job_id(self) -> str:
        given = self.state.graph.get("synchronizationJob") or {}
        return str(given.get("id") or default_job_id(self.state.graph["tenantId"]))

    def _schema(self) -> dict[str, Any]:
        given = self.state.graph.get("synchronizationJob") or {}
        return given.get("schema") or default_sync_schema(self.state.settings["schemaProfile"])  # type: ignore[no-any-return]

    def _target_problem(self, sp: str, job: str) -> Response | None:
        if sp != self.state.graph["servicePrincipal"]["id"] or job != self._job_id():
            return graph_error(404, "Request_ResourceNotFound", f"Resource '{job if sp else sp}' does not exist or "
                               "one of its queried reference-property objects are not present.")
        return None

    def _throttled(self) -> Response | None:
        """At most N requests in any window of W seconds (the documented 5 per 10 s unless a test shrinks it)."""
        limit = self.state.settings.get(LIMIT_SETTING) or {}
        requests, window = int(limit.get("requests", RATE_REQUESTS)), float(limit.get("window", RATE_WINDOW))
        now = time.monotonic()
        while self.sent and now - self.sent[0] >= window:
            self.sent.popleft()
        if len(self.sent) >= requests:
            wait = max(1, int(window - (now - self.sent[0]) + 0.999))
            return graph_error(429, "TooManyRequests", f"Too many requests: provisionOnDemand allows {requests} "
                               f"per {window:g} seconds.", {"Retry-After": str(wait)})
        self.sent.append(now)
        return None

    def _subject(self, request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
        """The rule and the one user of the request body; Graph's 400 for anything else."""
        def bad(message: str) -> HttpError:
            return HttpError(graph_error(400, "BadRequest", message))
        try:
            body = request.json()
        except ValueError:
            raise bad("The request body is not valid JSON.") from None
        parameters = body.get("parameters") if isinstance(body, dict) else None
        if not isinstance(parameters, list) or len(parameters) != 1 or not isinstance(parameters[0], dict):
            raise bad("'parameters' must hold exactly one synchronizationJobApplicationParameters.")
        subjects = parameters[0].get("subjects")
        if not isinstance(subjects, list) or len(subjects) != 1 or not isinstance(subjects[0], dict) \
                or subjects[0].get("objectTypeName") != "User":
            raise bad("The sandbox provisions one subject of objectTypeName 'User' per request.")
        rules = [r for r in self._schema().get("synchronizationRules") or []
                 if r.get("id") == parameters[0].get("ruleId")]
        if not rules:
            raise bad(f"No synchronization rule with id '{parameters[0].get('ruleId')}' in the job's schema.")
        found = self.state.graph_object(str(subjects[0].get("objectId")))
        if found is None or found[0] != "user":
            raise HttpError(graph_error(404, "Request_ResourceNotFound", f"Resource '{subjects[0].get('objectId')}' "
                                        "does not exist or one of its queried reference-property objects are not "
                                        "present."))
        return rules[0], found[1]

    # --- the run ---------------------------------------------------------------------------------------
    def entitled(self, user: dict[str, Any]) -> bool:
        """Assigned directly, or a direct member of an assigned group; everyone when the job syncs all users."""
        secrets = {s.get("key"): str(s.get("value")) for s in self.state.graph.get("synchronizationSecrets") or []}
        if secrets.get("SyncAll", "").lower() == "true":
            return True
        principals = {a["principalId"] for a in self.state.graph["appRoleAssignments"]}
        if user["id"] in principals:
            return True
        return any(g["id"] in principals and user["id"] in g.get("members", []) for g in self.state.graph["groups"])

    def provision(self, rule: dict[str, Any], user: dict[str, Any]) -> Run:
        """Import, match, scope, export: the steps Entra's on-demand run shows (provision-on-demand.md)."""
        run = Run()
        upn = str(user.get("userPrincipalName"))
        mapping = next((m for m in rule.get("objectMappings") or [] if m.get("sourceObjectName") == "User"), None)
        if mapping is None:
            return run.fail("EntryImport", "Import", UNSUPPORTED_CODE, "The rule holds no User object mapping.")
        run.step("EntryImport", "Import", "Success", f"Retrieved User '{upn}' from {SOURCE_DIRECTORY}",
                 objectId=user["id"], userPrincipalName=upn, accountEnabled=user.get("accountEnabled"))
        try:
            values = {m["targetAttributeName"]: evaluate(m.get("source") or {}, user)
                      for m in mapping.get("attributeMappings") or []}
        except Unsupported as exc:
            return run.fail("EntryExportAdd", "Export", UNSUPPORTED_CODE,
                            f"The expression '{exc}' could not be evaluated by the sandbox's provisioning service.")
        account = self._match(mapping, values)
        run.step("EntryImport", "Matching", "Success", f"Retrieved '{upn}' from {TARGET_DIRECTORY}",
                 **({"id": account["id"], "userName": account.get("userName")} if account else {}))
        try:
            in_scope = scope_passes(mapping.get("scope"), user)
        except Unsupported as exc:
            return run.fail("EntrySynchronizationScoping", "Scoping", UNSUPPORTED_CODE,
                            f"The scoping clause '{exc}' could not be evaluated by the sandbox's provisioning service.")
        assigned = self.entitled(user)
        run.step("EntrySynchronizationScoping", "Scoping", "Success" if in_scope and assigned else "Skipped",
                 "Determine if User in scope by evaluating against each scoping filter", IsActive=True,
                 Assigned=assigned, IsEffectivelyEntitledForProvisioning=assigned,
                 ScopeEvaluationResult=json.dumps({"passed": in_scope}))
        if not assigned:
            return run.fail("EntrySynchronizationSkip", "Export", "NotEffectivelyEntitled",
                            f"User '{upn}' is not assigned to the application.", status="Skipped")
        if not in_scope:
            return run.fail("EntrySynchronizationSkip", "Export", "NotInScope",
                            f"User '{upn}' does not pass the scoping filter.", status="Skipped")
        present = {k: v for k, v in values.items() if not _empty(v)}  # Entra never sends nulls
        return self._update(run, account, present, upn) if account else self._create(run, present, upn)

    def _match(self, mapping: dict[str, Any], values: dict[str, Any]) -> dict[str, Any] | None:
        """The account whose matching attribute (the lowest positive matchingPriority) holds the user's value."""
        matching = sorted((m for m in mapping.get("attributeMappings") or [] if (m.get("matchingPriority") or 0) > 0),
                          key=lambda m: m["matchingPriority"])
        for m in matching:
            wanted = values.get(m["targetAttributeName"])
            if _empty(wanted):
                continue
            for account in self.state.scim_users:
                if _same(m["targetAttributeName"], wanted, read(account, m["targetAttributeName"])):
                    return account
        return None

    def _target_call(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """RingCentral's own handling of Entra's request (status, body), in process."""
        headers = Message()
        for key, value in _SCIM_HEADERS.items():
            headers[key] = value
        request = Request(method, path, {}, "", headers, json.dumps(body).encode("utf-8"), "https://sandbox")
        try:
            if method == "POST":
                response = self.ringcentral.create_user(request)
            else:
                response = self.ringcentral.patch_user(request, path.rsplit("/", 1)[-1])
        except HttpError as err:
            response = err.response
        return response.status, json.loads(response.body or b"{}")

    def _create(self, run: Run, values: dict[str, Any], upn: str) -> Run:
        body: dict[str, Any] = {"schemas": [CORE_USER, ENTERPRISE]}
        for target, value in values.items():
            place(body, target, value)
        status, answer_body = self._target_call("POST", "/scim/v2/Users", body)
        run.action = "Create"
        run.modified = [{"displayName": k, "oldValue": None, "newValue": str(v)} for k, v in values.items()]
        if status != 201:
            return run.fail("EntryExportAdd", "Export", "SystemForCrossDomainIdentityManagementBadRequest",
                            f"Failed to create User '{upn}' in {TARGET_DIRECTORY}: HTTP {status} "
                            f"{answer_body.get('detail', '')}".rstrip())
        run.target_id = str(answer_body["id"])
        run.step("EntryExportAdd", "Export", "Success", f"User '{upn}' was created in {TARGET_DIRECTORY}",
                 id=run.target_id)
        return run

    def _update(self, run: Run, account: dict[str, Any], values: dict[str, Any], upn: str) -> Run:
        run.target_id = str(account["id"])
        changed = {k: v for k, v in values.items() if not _same(k, v, read(account, k))}
        if not changed:
            return run.fail("EntrySynchronizationSkip", "Export", "RedundantExport",
                            f"The state of the user in both the source and target systems already match. No change "
                            f"to the User '{upn}' currently needs to be made.", status="Skipped")
        operations = [{"op": "replace", "path": k, "value": v} for k, v in changed.items()]
        status, answer_body = self._target_call("PATCH", f"/scim/v2/Users/{run.target_id}",
                                                {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                                 "Operations": operations})
        run.action = "Update"
        run.modified = [{"displayName": k, "oldValue": str(read(account, k)), "newValue": str(v)}
                        for k, v in changed.items()]
        if status not in (200, 204):
            return run.fail("EntryExportUpdate", "Export", "SystemForCrossDomainIdentityManagementBadRequest",
                            f"Failed to update User '{upn}' in {TARGET_DIRECTORY}: HTTP {status} "
                            f"{answer_body.get('detail', '')}".rstrip())
        run.step("EntryExportUpdate", "Export", "Success", f"User '{upn}' was updated in {TARGET_DIRECTORY}")
        return run

    def _log(self, run: Run, user: dict[str, Any], job_id: str, claims: dict[str, Any]) -> None:
        """The run as the provisioning log lists it (a provisioningObjectSummary, lower-case enums)."""
        principal = self.state.graph["servicePrincipal"]
        status = run.result.lower()
        self.state.graph.setdefault("provisioningEvents", []).append({
            "id": str(uuid.uuid4()), "activityDateTime": _now(), "tenantId": self.state.graph["tenantId"],
            "jobId": job_id, "cycleId": str(uuid.uuid4()), "changeId": str(uuid.uuid4()),
            "provisioningAction": run.action.lower() if run.action != "Other" else "other",
            "durationInMilliseconds": 40,
            "initiatedBy": {"id": str(claims.get("appid", "")), "displayName": "provisionOnDemand",
                            "initiatorType": "application"},
            "servicePrincipal": {"id": principal["id"], "displayName": principal.get("displayName")},
            "sourceSystem": {"id": "", "displayName": SOURCE_DIRECTORY, "details": {}},
            "targetSystem": {"id": "", "displayName": TARGET_DIRECTORY, "details": {"ServicePrincipalId":
                                                                                      principal["id"]}},
            "sourceIdentity": {"id": user["id"], "displayName": user.get("displayName"), "identityType": "User",
                               "details": {}},
            "targetIdentity": {"id": run.target_id, "displayName": user.get("userPrincipalName"),
                               "identityType": "User", "details": {}},
            "provisioningStatusInfo": {"status": status, "errorInformation": None if not run.error_code else {
                "errorCode": run.error_code, "reason": run.message, "errorCategory": "nonServiceFailure",
                "additionalDetails": None, "recommendedAction": None}},
            "provisioningSteps": [{"name": s["name"], "provisioningStepType": s["type"].lower(),
                                   "status": s["status"].lower(), "description": s["description"],
                                   "details": s["details"]} for s in run.steps],
            "modifiedProperties": run.modified,
        })


def answer(run: Run, user: dict[str, Any]) -> dict[str, str]:
    """The stringKeyStringValuePair: `key` the result and its details, `value` the run, both JSON text."""
    details = {"errorCode": run.error_code, "errorMessage": run.message} if run.error_code else {}
    value = {
        "action": run.action, "changeId": str(uuid.uuid4()), "startTime": run.steps[0]["timestamp"] if run.steps
        else _now(), "endTime": _now(), "modifiedProperties": run.modified, "provisioningSteps": run.steps,
        "reportableIdentifier": user.get("userPrincipalName"),
        "statusInfo": {"status": run.result, "errorCode": run.error_code or None, "reason": run.message or None},
        "sourceIdentity": {"id": user["id"], "type": "User"}, "sourceSystem": {"name": SOURCE_DIRECTORY},
        "targetIdentity": {"id": run.target_id or None, "type": ENTERPRISE}, "targetSystem": {"name": TARGET_DIRECTORY},
    }
    return {"key": json.dumps({"result": run.result, "details": details}), "value": json.dumps(value)}
