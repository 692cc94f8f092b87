"""Provision-on-demand plans: a run's `missing_in_target` users, one Graph `provisionOnDemand` request each.

Pure (files only). The request is Graph's (microsoft-graph-docs-contrib `api-reference/v1.0/api/
synchronization-synchronizationjob-provisionondemand.md`): `POST /servicePrincipals/{id}/synchronization/jobs/
{jobId}/provisionOnDemand` with `{"parameters": [{"ruleId": …, "subjects": [{"objectId": <user id>,
"objectTypeName": "User"}]}]}` (resources `synchronization-synchronizationjobapplicationparameters.md`: `ruleId`
is a synchronizationRule of the job's schema; `synchronization-synchronizationjobsubject.md`: `objectId` is the
user's id, `objectTypeName` `User` from Entra to a third-party app). One user per request: the admin center
provisions one user at a time, the API a single group of up to five (MicrosoftDocs/entra-docs
`docs/identity/app-provisioning/provision-on-demand.md`, "Known limitations"). The answer is a
stringKeyStringValuePair whose `key` (`{"result", "details"}`) and `value` (the run: action, provisioningSteps,
targetIdentity…) are JSON text (the same Graph file's examples); `parse_answer` reads them. The documented rate
limit is 5 requests per 10 seconds (the same file): `Pacing` keeps to it.

A plan is a `Plan` (so plan.json, the guards, the journals and rollbacks work as for PATCH fix-ups) whose
operations have `op` `provision`, `path` `provisionOnDemand`, `value` the rule and the user, an empty `scim_id`
(the account does not exist yet: the journal's `after` is the new SCIM id) and, as inverse, the deactivation of
the new account (`active` "False": Entra has no undo of a create, and RingCentral accounts are deactivated).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from rcaudit.audit.mapping import user_object_mappings
from rcaudit.audit.normalize import scim_true
from rcaudit.fix.audited_run import RunAudit, load_run
from rcaudit.fix.ops import ACTIVE, WIRE_ENTRA, op_id_of, wire_settings, wire_value
from rcaudit.fix.plan import Operation, Plan, plan_id_for, plan_stamp
from rcaudit.model.errors import ConfigError

PROVISION_OP = "provision"
PROVISION_PATH = "provisionOnDemand"
PROVISION_KIND = "provision"
MISSING = "missing_in_target"
RATE_REQUESTS, RATE_WINDOW = 5, 10.0  # "The rate limit for this API is 5 requests per 10 seconds."
PERMISSION = "Synchronization.ReadWrite.All"


# --- the request --------------------------------------------------------------------------------------------
def request_body(rule_id: str, user_id: str) -> dict[str, Any]:
    """The provisionOnDemand body for one user."""
    return {"parameters": [{"ruleId": rule_id, "subjects": [{"objectId": user_id, "objectTypeName": "User"}]}]}


def user_rule_id(schema: dict[str, Any] | None) -> str:
    """The id of the synchronizationRule that holds the job's user object mapping (the one the audit's live
    mapping comes from); a `ConfigError` when the run's snapshot has no schema or no such rule."""
    if not schema:
        raise ConfigError("the run's snapshot holds no provisioning job schema (it was unreadable when audited): "
                          "provisionOnDemand needs its synchronization rule id; grant Synchronization.Read.All and "
                          "audit again")
    for rule, _ in user_object_mappings(schema):
        if rule.get("id"):
            return str(rule["id"])
    raise ConfigError("the run's job schema has no synchronization rule with a user object mapping: nothing to "
                      "provision on demand with")


# --- the answer ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProvisionOutcome:
    """What one provisionOnDemand answer says: Success / Skipped / Failure, the action, the steps, the account."""

    result: str
    action: str = ""
    scim_id: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)
    error_code: str = ""
    message: str = ""

    @property
    def created(self) -> bool:
        return self.result == "Success" and self.action.lower() == "create" and bool(self.scim_id)

    @property
    def summary(self) -> str:
        text = f"{self.result} ({self.action or 'no action'})"
        return f"{text}: {self.error_code} {self.message}".rstrip() if self.error_code or self.message else text


def _json_text(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(str(value)) if value else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def parse_answer(body: dict[str, Any]) -> ProvisionOutcome:
    """The stringKeyStringValuePair, read defensively (service data: anything unreadable is `Unknown`)."""
    key, value = _json_text(body.get("key")), _json_text(body.get("value"))
    details = _json_text(key.get("details"))
    steps = [s for s in value.get("provisioningSteps") or [] if isinstance(s, dict)]
    target = _json_text(value.get("targetIdentity"))
    return ProvisionOutcome(result=str(key.get("result") or "Unknown"), action=str(value.get("action") or ""),
                            scim_id=str(target.get("id") or ""), steps=steps,
                            error_code=str(details.get("errorCode") or ""),
                            message=str(details.get("errorMessage") or ""))


# --- pacing ---------------------------------------------------------------------------------------------------
class Pacing:
    """At most `requests` requests in any `window` seconds: the seconds to wait before the next may go."""

    def __init__(self, requests: int = RATE_REQUESTS, window: float = RATE_WINDOW) -> None:
        self.requests, self.window = requests, window
        self.sent: list[float] = []

    def wait(self, now: float) -> float:
        recent = [t for t in self.sent if now - t < self.window]
        self.sent = recent
        return 0.0 if len(recent) < self.requests else max(0.0, recent[-self.requests] + self.window - now)

    def record(self, moment: float) -> None:
        self.sent.append(moment)


# --- the plan -------------------------------------------------------------------------------------------------
class ProvisionPlan(Plan):
    """A `Plan` of provisionOnDemand requests (`kind` `provision`); `settings` name the service principal, job
    and rule. Its requests are Graph POSTs, not PatchOps."""

    @property
    def service_principal_id(self) -> str:
        return str(self.settings.get("servicePrincipalId") or "")

    @property
    def job_id(self) -> str:
        return str(self.settings.get("jobId") or "")

    @property
    def rule_id(self) -> str:
        return str(self.settings.get("ruleId") or "")

    def requests(self) -> list[dict[str, Any]]:
        path = (f"/servicePrincipals/{self.service_principal_id}/synchronization/jobs/{self.job_id}/"
                f"{PROVISION_PATH}")
        return [{"entra_id": o.entra_id, "user_name": o.user_name, "method": "POST", "path": path,
                 "body": request_body(self.rule_id, o.entra_id)} for o in self.operations]

    def review(self) -> pd.DataFrame:
        rows = [{"user": o.user_name, "entra_id": o.entra_id, "account userName": o.target_user_name,
                 "op": o.op, "op_id": o.op_id} for o in self.operations]
        return pd.DataFrame(rows, columns=["user", "entra_id", "account userName", "op", "op_id"])

    def headline(self) -> str:
        return (f"plan {self.plan_id} (provision on demand for run {self.run_id}): {len(self.operations)} "
                f"user(s), one provisionOnDemand request each (job {self.job_id}, rule {self.rule_id}); "
                f"{self.excluded} missing user(s) left out by --users")


def _wanted(users: Iterable[str]) -> set[str]:
    return {u.strip().casefold() for u in users if u and u.strip()}


def provision_operation(row: dict[str, Any], rule_id: str, account_user_name: str, strings: bool) -> Operation:
    """One user's request as an Operation; its inverse deactivates the account it creates."""
    value = {"ruleId": rule_id, "objectId": row["entra_id"]}
    return Operation(
        op_id=op_id_of("", PROVISION_PATH, PROVISION_OP, value), scim_id="", entra_id=str(row["entra_id"]),
        user_name=str(row["user_name"]), kind=MISSING, severity=str(row["severity"]), attribute="",
        op=PROVISION_OP, path=PROVISION_PATH, value=value, audited=None, expected=account_user_name,
        inverse={"op": "replace", "path": ACTIVE, "value": wire_value(ACTIVE, False, strings)},
        note="provision on demand: Entra creates (or, if one exists now, updates) the account",
        target_user_name=account_user_name)


def build_provision_plan(run: RunAudit, users: Iterable[str] = (), *, now: dt.datetime | None = None) -> ProvisionPlan:
    """One request per unwaived `missing_in_target` finding of the run (only `users`, by Entra id or UPN, when
    given); a named user who is not such a finding is said in the notes, never provisioned."""
    snapshot, findings = run.snapshot, run.result.findings
    rule_id = user_rule_id(snapshot.schema)
    job_id = str((snapshot.job or {}).get("id") or "")
    if not job_id:
        raise ConfigError("the run's snapshot holds no provisioning job (it was unreadable when audited): "
                          "provisionOnDemand needs its id; grant Synchronization.Read.All and audit again")
    wanted = _wanted(users)
    missing = [r for r in findings.to_dict("records") if r["kind"] == MISSING and not r.get("waived")]
    chosen = [r for r in missing if not wanted or {str(r["entra_id"]).casefold(), str(r["user_name"]).casefold()}
              & wanted]
    expected = run.result.expected.drop_duplicates("entra_id").set_index("entra_id")
    names = expected["userName"].to_dict() if "userName" in expected.columns else {}
    strings = True
    operations = [provision_operation(r, rule_id, str(names.get(r["entra_id"]) or r["user_name"]), strings)
                  for r in chosen]
    known = {k for r in missing for k in (str(r["entra_id"]).casefold(), str(r["user_name"]).casefold())}
    notes = [*run.notes, *(f"--users {u}: not a missing_in_target finding of this run: not provisioned"
                           for u in sorted(wanted - known))]
    settings = {**wire_settings(WIRE_ENTRA, strings), "servicePrincipalId": str(snapshot.service_principal.get("id")),
                "appId": str(snapshot.service_principal.get("appId") or ""), "jobId": job_id, "ruleId": rule_id}
    folder = run.folder
    return ProvisionPlan(
        plan_id=plan_id_for(PROVISION_KIND, folder.name, operations, settings), kind=PROVISION_KIND,
        created_at=plan_stamp(now or dt.datetime.now(dt.UTC)), run_folder=str(folder), run_id=folder.name,
        tenant_id=snapshot.tenant_id, source=snapshot.source,
        audited_at=plan_stamp(min(snapshot.graph_fetched_at, snapshot.scim_fetched_at)),
        target_active_accounts=sum(1 for a in snapshot.scim_users if scim_true(a.get(ACTIVE))),
        operations=operations, filters={"users": sorted(wanted)}, settings=settings, notes=notes,
        excluded=len(missing) - len(chosen), scim_url=str(snapshot.rc_identity.get("scim_url") or ""),
        rc_owner_id=str(snapshot.rc_identity.get("owner_id") or ""), wire=WIRE_ENTRA)


def provision_plan_for_run(folder: str | Path, users: Sequence[str] = (), *,
                           now: dt.datetime | None = None) -> ProvisionPlan:
    """`load_run` + `build_provision_plan`."""
    return build_provision_plan(load_run(folder), users, now=now)
