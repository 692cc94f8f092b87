"""Applying provision-on-demand plans: guarded, paced, journaled Graph `provisionOnDemand` POSTs (a writing
edge beside `rcaudit.fix.apply`, whose journal, lock, interrupt handling and guards it reuses).

A dry run is the default and sends nothing at all: no POST, no read. `--apply` must pass the same guards as
a PATCH fix-up (`check_guards`: at most `max_changes` requests, an audit no older than `max_age_hours`, the
environment's tenant the audited one) and the environment's RCAUDIT_APP_ID must be the audited app. Requests go
one at a time, paced to Graph's documented 5 per 10 seconds (`Pacing`), each announced by an fsynced `intent`
line and settled by its outcome line (DESIGN.md "Journal line", `op: provision`): `after` is the new account's
SCIM id and `steps` the answer's provisioningSteps. Entra matches an existing account instead of creating a
second one, so a request in flight when a run died is simply sent again by the next run (op_ids already
`applied` are skipped). A refused permission stops the run at once (`ApplyError` naming
Synchronization.ReadWrite.All); after `max_consecutive_failures` failures in a row it stops too.
`reaudit_provisioned` then re-reads the new accounts and re-audits the run to prove each user is no longer
missing. A rollback (`rcaudit rollback`) deactivates the accounts created, only with --allow-deactivate.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pandas as pd

from rcaudit.audit.reconcile import reconcile
from rcaudit.connect.auth import GraphAuth
from rcaudit.connect.config import Settings
from rcaudit.connect.graph import GraphClient
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.connect.scim import ScimClient
from rcaudit.fix.apply import ApplyResult, Journal, RunLock, deferred_interrupts
from rcaudit.fix.audited_run import RunAudit
from rcaudit.fix.guards import Guards, check_guards
from rcaudit.fix.journal import applied_op_ids, fixes_folder, run_journals
from rcaudit.fix.plan import Operation
from rcaudit.fix.provision import (
    MISSING,
    PERMISSION,
    PROVISION_OP,
    Pacing,
    ProvisionOutcome,
    ProvisionPlan,
    parse_answer,
    request_body,
)
from rcaudit.model.errors import ApplyError, AuthError, ConfigError, FetchError, PermissionDenied, PlanRejected
from rcaudit.model.runs import new_run_id

Clock = Callable[[], float]


@dataclass
class ProvisionResult(ApplyResult):
    """An `ApplyResult` whose requests are provisionOnDemand POSTs."""

    ALREADY_DONE: ClassVar[str] = "user(s) already provisioned by an earlier run of this plan"

    def headline(self, mode: str, counts: str) -> str:
        return (f"provision {self.fix_id} ({mode}, plan {self.plan.plan_id}): {counts}; {self.writes} "
                f"provisionOnDemand request(s); journal {self.journal}")

    def table(self) -> pd.DataFrame:
        columns = ["user", "entra_id", "status", "result", "after", "http_status", "error", "op_id"]
        rows = [{"user": line.get("user_name"), "entra_id": line.get("entra_id"), "status": line["status"],
                 "result": line.get("result") or "", "after": line.get("after") or "",
                 "http_status": line.get("http_status"), "error": line.get("error") or "",
                 "op_id": line.get("op_id")} for line in self.lines]
        return pd.DataFrame(rows, columns=columns)


# --- connecting ----------------------------------------------------------------------------------------------
def graph_client(settings: Settings, retry: RetryPolicy | None = None) -> GraphClient:
    """A Graph client from the environment (only the Graph settings are needed)."""
    missing = [name for name, value in (("RCAUDIT_TENANT_ID", settings.tenant_id),
                                        ("RCAUDIT_CLIENT_ID", settings.client_id)) if not value]
    if missing:
        raise ConfigError(f"provisioning on demand needs Graph: set {', '.join(missing)} and a credential "
                          "(RCAUDIT_CLIENT_SECRET, RCAUDIT_CLIENT_CERT + RCAUDIT_CLIENT_KEY, or RCAUDIT_CLIENT_PFX)")
    session = make_session(settings.ca_bundle, retry=retry or RetryPolicy(max_total=settings.retry_max_seconds),
                           service="graph")
    return GraphClient(settings, session, GraphAuth(settings, session))


def environment_problems(plan: ProvisionPlan, settings: Settings | None) -> list[str]:
    """Why the environment is not the audited Entra app: another RCAUDIT_APP_ID (the tenant is `check_guards`')."""
    wanted = str(plan.settings.get("appId") or "")
    if settings is not None and settings.app_id and wanted and settings.app_id.lower() != wanted.lower():
        return [f"the audit read the enterprise app {wanted}, the environment (RCAUDIT_APP_ID) names "
                f"{settings.app_id}: this plan is not for this app"]
    return []


# --- the journal lines ----------------------------------------------------------------------------------------
def _line(plan: ProvisionPlan, fix_id: str, o: Operation, status: str, *, after: str = "",
          http_status: int | None = None, error: str = "", outcome: ProvisionOutcome | None = None) -> dict[str, Any]:
    """DESIGN.md's fields first (`after` the new SCIM id), then `steps` and what a person and a rollback need."""
    return {
        "time": dt.datetime.now(dt.UTC).isoformat(), "fix_id": fix_id, "plan_id": plan.plan_id, "op_id": o.op_id,
        "scim_id": after, "entra_id": o.entra_id, "path": o.path, "op": o.op, "value": o.value, "audited": o.audited,
        "before": None, "after": after or None, "status": status, "http_status": http_status, "error": error,
        "steps": outcome.steps if outcome else [], "result": outcome.result if outcome else None,
        "action": outcome.action.lower() if outcome and outcome.action else None,
        "attribute": "", "expected": o.expected, "sent": request_body(plan.rule_id, o.entra_id), "kind": o.kind,
        "severity": o.severity, "user_name": o.user_name, "inverse": o.inverse,
        "target_user_name": o.target_user_name or None, "scim_url": plan.scim_url or None, "wire": plan.wire,
    }


class _Provisioner:
    """Sends one request at a time and journals each."""

    def __init__(self, plan: ProvisionPlan, client: GraphClient | None, journal: Journal, result: ProvisionResult,
                 pacing: Pacing, sleep: Callable[[float], None], clock: Clock) -> None:
        self.plan, self.client, self.journal, self.result = plan, client, journal, result
        self.pacing, self.sleep, self.clock = pacing, sleep, clock

    def record(self, line: dict[str, Any]) -> None:
        self.journal.write(line)
        if line["status"] != "intent":
            self.result.lines.append(line)

    def one(self, o: Operation) -> str:
        """Dry run: a `dry_run` line. Apply: pace, announce, POST, journal the outcome; returns the status."""
        fix_id = self.result.fix_id
        if self.client is None:
            self.record(_line(self.plan, fix_id, o, "dry_run", error="not sent: a dry run sends no request"))
            return "dry_run"
        wait = self.pacing.wait(self.clock())
        if wait > 0:
            self.sleep(wait)
        self.record(_line(self.plan, fix_id, o, "intent"))
        self.result.writes += 1
        try:
            body = self.client.provision_on_demand(self.plan.service_principal_id, self.plan.job_id,
                                                   request_body(self.plan.rule_id, o.entra_id))
        except PermissionDenied as exc:
            self.record(_line(self.plan, fix_id, o, "failed", http_status=403, error=exc.message))
            # exc.message names what to grant: the application permission, or for a signed-in analyst the role
            raise ApplyError(f"provisionOnDemand for {o.user_name}: {exc.message}; without {PERMISSION} nothing "
                             "more is sent: grant it, then run the same plan again") from None
        except AuthError as exc:
            self.record(_line(self.plan, fix_id, o, "failed", error=exc.message))
            raise ApplyError(f"provisionOnDemand for {o.user_name}: {exc.message}") from None
        except FetchError as exc:
            self.pacing.record(self.clock())
            why = "" if exc.status and exc.status < 500 else (
                " (the user may have been provisioned: run again, Entra matches the account it finds)")
            self.record(_line(self.plan, fix_id, o, "failed", http_status=exc.status, error=exc.message + why))
            return "failed"
        # counted from the answer, not the send: the service's window then opened no later (a token request or a
        # slow connection before the POST can only make the service's count start later than ours)
        self.pacing.record(self.clock())
        return self.settle(o, parse_answer(body))

    def settle(self, o: Operation, outcome: ProvisionOutcome) -> str:
        """Success (create or update) → applied, with the account's id; Skipped → skipped_stale; else failed."""
        if outcome.result == "Success" and outcome.scim_id:
            status, error = "applied", "" if outcome.created else (
                f"{outcome.summary}: an account already existed and was updated, not created")
        elif outcome.result == "Skipped":
            status, error = "skipped_stale", f"Entra skipped it: {outcome.summary}"
        else:
            status, error = "failed", f"Entra answered {outcome.summary}"
        self.record(_line(self.plan, self.result.fix_id, o, status, after=outcome.scim_id, http_status=200,
                          error=error, outcome=outcome))
        return status


def provision_plan_apply(plan: ProvisionPlan, client: GraphClient | None = None, *, apply: bool = False,
                         guards: Guards | None = None, settings: Settings | None = None,
                         now: dt.datetime | None = None, fix_id: str | None = None, pacing: Pacing | None = None,
                         sleep: Callable[[float], None] = time.sleep, clock: Clock = time.monotonic) -> ProvisionResult:
    """Dry-run (default: no request of any kind) or apply `plan` into `<run>/fixes/<fix_id>/` (plan.json +
    journal.jsonl). With `apply`, a failing guard raises `PlanRejected` (plan.json is still written)."""
    guards = guards or Guards()
    now = now or dt.datetime.now(dt.UTC)
    fix_id = fix_id or new_run_id(now)
    folder = fixes_folder(plan.run_folder) / fix_id
    plan.save(folder / "plan.json")
    files, notes = run_journals(plan.run_folder, plan.plan_id)
    done = applied_op_ids(plan.run_folder, plan.plan_id, files)
    pending = [o for o in plan.operations if o.op_id not in done]
    problems = [*environment_problems(plan, settings), *check_guards(plan, pending, guards, now=now,
                                                                     settings=settings)]
    result = ProvisionResult(fix_id, plan, folder, apply, notes=list(notes))
    result.already_applied = {k: v for k, v in done.items() if any(o.op_id == k for o in plan.operations)}
    if apply and problems:
        raise PlanRejected("refused: " + "; ".join(problems) + f" (the plan is in {folder / 'plan.json'})")
    if apply and client is None:
        raise ConfigError("provisioning on demand needs a connection to Graph (RCAUDIT_TENANT_ID, RCAUDIT_CLIENT_ID "
                          "and a credential)")
    result.refused = [] if apply else problems
    lock = RunLock(plan.run_folder, fix_id) if apply else contextlib.nullcontext()
    journal = Journal(folder / "journal.jsonl")
    try:
        with lock, deferred_interrupts() as interrupted:
            worker = _Provisioner(plan, client if apply else None, journal, result, pacing or Pacing(), sleep, clock)
            journal.open()
            _send_all(worker, pending, guards, interrupted)
    finally:
        journal.close()
    return result


def _send_all(worker: _Provisioner, pending: list[Operation], guards: Guards, interrupted: Any) -> None:
    """One user after another, stopping on Ctrl-C or after too many failures in a row."""
    result, in_a_row = worker.result, 0
    for position, o in enumerate(pending):
        left = len(pending) - position
        if interrupted.is_set():
            result.interrupted = True
            result.stopped = f"interrupted (Ctrl-C) with {left} user(s) not done: run the same plan again to continue"
            return
        if in_a_row >= guards.max_consecutive_failures:
            result.stopped = (f"{in_a_row} requests in a row failed (last: {result.lines[-1].get('error')}); {left} "
                              "user(s) not attempted: fix the cause, then run the same plan again")
            return
        in_a_row = in_a_row + 1 if worker.one(o) == "failed" else 0


# --- proving it ----------------------------------------------------------------------------------------------
def reaudit_provisioned(run: RunAudit, result: ApplyResult, client: ScimClient) -> pd.DataFrame:
    """Re-read every account the run provisioned, re-audit the run with them, and say per user whether the
    account now exists (`provisioned`: no longer missing_in_target) or not (`still missing`)."""
    applied = [line for line in result.lines if line["status"] == "applied" and line.get("op") == PROVISION_OP]
    fresh: dict[str, dict[str, Any]] = {}
    for line in applied:
        try:
            fresh[str(line["after"])] = client.get_user(str(line["after"]))
        except FetchError as exc:
            if exc.status != 404:
                raise
    kept = [a for a in run.snapshot.scim_users if str(a.get("id")) not in fresh]
    snapshot = dataclasses.replace(run.snapshot, scim_users=[*kept, *fresh.values()])
    after = reconcile(snapshot, run.mapping, run.options).findings
    still = set(after.loc[after["kind"] == MISSING, "entra_id"])
    rows = []
    for line in applied:
        on_account = after[after["scim_id"] == str(line["after"])]
        rows.append({"user": line.get("user_name"), "entra_id": line["entra_id"], "scim_id": line["after"],
                     "status": "still missing" if line["entra_id"] in still or str(line["after"]) not in fresh
                     else "provisioned", "findings_now": len(on_account),
                     "kinds_now": ",".join(sorted(set(on_account["kind"])))})
    return pd.DataFrame(rows, columns=["user", "entra_id", "scim_id", "status", "findings_now", "kinds_now"])
