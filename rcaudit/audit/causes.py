"""Probable causes and remedies: why each finding drifted, decided from the snapshot alone (README "Causes").

Every kind has its causes in precedence order (`rcaudit.model.findings.CAUSE_PRECEDENCE`); each cause is one
predicate over the snapshot: the provisioning job's status, the user's provisioning events, the account's
`meta`, the user's scope bucket, assignment and deletion dates, the job's sync setting. The first that holds
is the finding's `cause`, the others that hold are its `cause_also`; with no evidence the cause is `unknown`,
never a guess. Each cause names its remedy. Pure: no network, no clock.

Entra's behaviour these predicates rest on (MicrosoftDocs/entra-docs):
- a quarantined or paused job does not provision; it leaves quarantine after a restart
  (`docs/identity/app-provisioning/application-provisioning-quarantine-status.md`, which also gives the
  admin-center path to "Restart provisioning");
- a manager who comes into scope after the user is not set until a restart, and a group member who comes back
  into scope is not picked up until a restart (`docs/identity/app-provisioning/known-issues.md`, "Manager
  isn't provisioned", "Member of group not provisioned");
- null attributes are never provisioned (`known-issues.md`, "Null attribute can't be provisioned"), and changes
  made in the target app are never rolled back (`known-issues.md`, "Changes not moving from target app");
- a skipped user's reason is in the event's steps (`application-provisioning-config-problem-no-users-
  provisioned.md`); an event's status is success, warning, failure or skipped, with errorInformation on a
  failure (microsoftgraph/microsoft-graph-docs-contrib `api-reference/v1.0/resources/provisioningstatusinfo.md`);
- SkipOutOfScopeDeletions keeps the accounts of users who left scope active
  (`docs/identity/app-provisioning/skip-out-of-scope-deletions.md`);
- with accidental deletions prevention on, a cycle whose disables and deletes pass the threshold puts the job in
  quarantine and holds them: each held user's event has the action StagedDelete (or StagedAction), until an
  admin selects Allow deletes (`docs/identity/app-provisioning/accidental-deletions.md`; the action values in
  microsoft-graph-docs-contrib `api-reference/v1.0/resources/provisioningobjectsummary.md`, the quarantine
  reason TooManyDeletes in `…/resources/synchronization-synchronizationquarantine.md`).
Unverified: that a RingCentral job's `modifiedProperties` name the target attribute path (the sandbox's do);
where they do not, that evidence simply never matches.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from rcaudit.audit.scope import ScopeResult
from rcaudit.model.findings import CAUSE_PRECEDENCE, CAUSES, Cause
from rcaudit.model.snapshot import Snapshot

STOPPED = ("Paused", "Quarantine", "NotRun")  # synchronizationStatus codes of a job that is not provisioning
STAGED_ACTIONS = ("stageddelete", "stagedaction")  # a disable or delete held by accidental deletions prevention
# synchronizationQuarantine.reason of a job stopped by that threshold (microsoft-graph-docs-contrib
# api-reference/v1.0/resources/synchronization-synchronizationquarantine.md)
TOO_MANY_DELETES = "TooManyDeletes"
# Skip reasons Entra documents by name (no-users-provisioned page; provisionOnDemand's Skipped result). The
# evidence in `remedy` quotes only these, dates, ids and error codes: an event's free text may name the person
# (README "Masking"), so it never leaves the engine.
SKIP_CODES = ("NotEffectivelyEntitled", "RedundantExport")
NEVER = -(2 ** 63)


def _ns(text: Any) -> int | None:
    """An ISO 8601 time (`…Z`, fractions) as nanoseconds since the epoch; None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    return _parsed(text)


@functools.lru_cache(maxsize=1 << 16)
def _parsed(text: str) -> int | None:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1_000_000) * 1000


def _day(ns: int | None) -> str:
    """`2026-11-24 20:00` (UTC, to the minute)."""
    if ns is None or ns == NEVER:
        return ""
    return dt.datetime.fromtimestamp(ns // 1_000_000_000, dt.UTC).isoformat(" ", "minutes")[:16]


def _loose(value: Any) -> str:
    """A value as the log writes it, trimmed and case-folded (enough to recognise what Entra last sent)."""
    return " ".join(str(value).split()).casefold() if value not in (None, "") else ""


@dataclass(frozen=True)
class _Event:
    """One provisioningObjectSummary, as much of it as the causes read."""

    at: int
    status: str  # success, warning, failure, skipped
    action: str
    code: str
    reason: str
    written: dict[str, str]  # modifiedProperties: target attribute (case-folded) -> newValue (loose)

    def names(self, attribute: str) -> bool:
        """Whether the event is about `attribute`: it names it, or names no attribute at all."""
        return not self.written or attribute.casefold() in self.written


def _event(raw: dict[str, Any]) -> _Event | None:
    at = _ns(raw.get("activityDateTime"))
    if at is None:
        return None
    info = raw.get("provisioningStatusInfo") or {}
    error = info.get("errorInformation") or {}
    status = str(info.get("status") or "").lower()
    reason = str(error.get("reason") or "")
    if status == "skipped" and not reason:  # the skip reason is in the steps
        reason = next((str(s.get("description") or "") for s in raw.get("provisioningSteps") or []
                       if str(s.get("status") or "").lower() == "skipped"), "")
    written = {str(p.get("displayName")).casefold(): _loose(p.get("newValue"))
               for p in raw.get("modifiedProperties") or [] if isinstance(p, dict) and p.get("displayName")}
    return _Event(at, status, str(raw.get("provisioningAction") or ""), str(error.get("errorCode") or ""),
                  " ".join(reason.split()), written)


@dataclass(frozen=True)
class _Job:
    """The provisioning job's state: stopped since when, and when its last successful cycle ended."""

    code: str = ""
    stopped_since: int | None = None  # set only for a job that is not provisioning (NEVER: never ran)
    last_cycle: int | None = None
    detail: str = ""
    quarantine_reason: str = ""  # synchronizationQuarantine.reason, e.g. TooManyDeletes

    @classmethod
    def of(cls, job: dict[str, Any] | None) -> _Job:
        if not job:
            return cls()
        status = job.get("status") or {}
        code = str(status.get("code") or "")
        last = _ns((status.get("lastSuccessfulExecution") or {}).get("timeEnded"))
        quarantine = status.get("quarantine") or {}
        if code not in STOPPED:
            return cls(code, None, last)
        since = last or _ns(quarantine.get("seriesBegan")) or NEVER
        error = quarantine.get("error") or {}
        why = ", ".join(filter(None, (str(quarantine.get("reason") or ""), str(error.get("code") or ""))))
        detail = f"the job is {code} since {_day(since) or 'it was set up'}" + (f" ({why})" if why else "")
        return cls(code, since, last, detail, str(quarantine.get("reason") or ""))


@dataclass(frozen=True)
class _Row:
    kind: str
    entra_id: str
    scim_id: str
    attribute: str
    expected: str
    actual_normalized: str
    expected_normalized: str
    match_key: str


@dataclass
class _Context:
    """Everything the predicates read, indexed for the findings at hand only."""

    job: _Job
    events: dict[str, list[_Event]]  # Entra id -> events, oldest first
    users: dict[str, dict[str, Any]]  # Entra id -> the user record (soft-deleted ones included)
    deleted: set[str]
    bucket: dict[str, str]
    in_scope_since: dict[str, int | None]
    accounts: dict[str, dict[str, Any]]  # RingCentral id -> the account
    skip_deletions: bool
    deleted_readable: bool
    app_name: str
    rename_pairs: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # Entra id -> match key -> ids

    def latest(self, row: _Row, status: str | None = None) -> _Event | None:
        """The user's latest event (about the row's attribute, for an attribute_mismatch), of `status` if given."""
        for event in reversed(self.events.get(row.entra_id, ())):
            if row.attribute and not event.names(row.attribute):
                continue
            if status is None or event.status == status:
                return event
        return None

    def came_in(self, entra_id: str) -> int | None:
        """When the user became someone Entra should provision: created, or put in scope, whichever is later."""
        created = _ns((self.users.get(entra_id) or {}).get("createdDateTime"))
        since = self.in_scope_since.get(entra_id)
        known = [t for t in (created, since) if t is not None]
        return max(known) if known else None

    def meta(self, scim_id: str, key: str) -> int | None:
        return _ns(((self.accounts.get(scim_id) or {}).get("meta") or {}).get(key))


# --- the predicates: each returns the evidence it rests on (a short phrase), or None when it does not hold ---

def _job_not_running(ctx: _Context, row: _Row) -> str | None:
    """The job is Paused / in Quarantine since S, and the finding's own change is dated after S: the user came
    into scope, was soft-deleted, or Entra's attempt for them failed after S."""
    since = ctx.job.stopped_since
    if since is None:
        return None
    dates = []
    if row.kind == "missing_in_target":
        dates.append(ctx.came_in(row.entra_id))
    if row.kind == "should_be_inactive" and row.entra_id in ctx.deleted:
        dates.append(_ns(ctx.users[row.entra_id].get("deletedDateTime")))
    failed = ctx.latest(row)
    if failed is not None and failed.status == "failure":
        dates.append(failed.at)
    return ctx.job.detail if any(d is not None and d > since for d in dates) else None


def _deletion_threshold(ctx: _Context, row: _Row) -> str | None:
    """Entra decided to disable the user and holds it, as the cycle's disables and deletes passed the
    accidental-deletions threshold: the user's latest event is a StagedDelete, or the job is in quarantine for
    TooManyDeletes and the user's own change came after it stopped (as for job_not_running)."""
    event = ctx.latest(row)
    if event is not None and event.action.casefold() in STAGED_ACTIONS:
        return f"Entra staged its disable on {_day(event.at)}: over the accidental-deletions threshold, it waits " \
               "for an admin"
    if ctx.job.quarantine_reason.casefold() == TOO_MANY_DELETES.casefold() and _job_not_running(ctx, row):
        return f"{ctx.job.detail}: disables over the accidental-deletions threshold wait for an admin"
    return None


def _export_failed(ctx: _Context, row: _Row) -> str | None:
    """The user's latest provisioning event (about this attribute, for a mismatch) is a failure."""
    event = ctx.latest(row)
    if event is None or event.status != "failure":
        return None
    return f"Entra's {event.action or 'export'} failed on {_day(event.at)} ({event.code or 'no error code'})"


def _manager_scoped_later(ctx: _Context, row: _Row) -> str | None:
    """The manager is unset in RingCentral and the manager's account was created after this one (Entra's known
    issue: a manager who came into scope later is set only by a restart)."""
    if not row.attribute.casefold().endswith(":manager") or row.actual_normalized or not row.expected:
        return None
    boss, mine = ctx.meta(row.expected, "created"), ctx.meta(row.scim_id, "created")
    if boss is None or mine is None or boss <= mine:
        return None
    return f"the manager's account {row.expected} was created on {_day(boss)}, after this one ({_day(mine)})"


def _cleared_in_entra(ctx: _Context, row: _Row) -> str | None:
    """Empty in Entra, set in RingCentral: Entra never sends a null."""
    return "empty in Entra, which never sends a null" if not row.expected_normalized and row.actual_normalized \
        else None


def _changed_in_ringcentral(ctx: _Context, row: _Row) -> str | None:
    """Entra's log shows it last wrote the value it still wants, or the account changed after Entra's last
    successful cycle."""
    wanted = {_loose(row.expected), _loose(row.expected_normalized)} - {""}
    for event in reversed(ctx.events.get(row.entra_id, ())):
        written = event.written.get(row.attribute.casefold())
        if event.status == "success" and written is not None:
            if written in wanted:
                return f"Entra wrote this value on {_day(event.at)}; RingCentral holds another"
            break
    return _modified_after_cycle(ctx, row)


def _modified_after_cycle(ctx: _Context, row: _Row) -> str | None:
    modified, cycle = ctx.meta(row.scim_id, "lastModified"), ctx.job.last_cycle
    if modified is None or cycle is None or modified <= cycle:
        return None
    return f"the account changed on {_day(modified)}, after Entra's last successful cycle ({_day(cycle)})"


def _came_back_into_scope(ctx: _Context, row: _Row) -> str | None:
    """The user's latest event skipped them as out of scope, and they are in scope now (Entra's known issue)."""
    event = ctx.latest(row)
    if event is None or event.status != "skipped" or "scope" not in event.reason.casefold():
        return None
    return f"skipped as out of scope on {_day(event.at)}, in scope now"


def _skipped_by_entra(ctx: _Context, row: _Row) -> str | None:
    event = ctx.latest(row)
    if event is None or event.status != "skipped":
        return None
    code = next((c for c in SKIP_CODES if c.casefold() in event.reason.casefold()), "")
    return f"skipped on {_day(event.at)} ({code or 'its reason is in the log'})"


def _assigned_after_last_cycle(ctx: _Context, row: _Row) -> str | None:
    came, cycle = ctx.came_in(row.entra_id), ctx.job.last_cycle
    if came is None or cycle is None or came <= cycle:
        return None
    return f"in scope since {_day(came)}, after Entra's last successful cycle ({_day(cycle)})"


def _left_scope(ctx: _Context, row: _Row) -> bool:
    user = ctx.users.get(row.entra_id) or {}
    return (ctx.bucket.get(row.entra_id) != "in_scope" and user.get("accountEnabled") is True
            and row.entra_id not in ctx.deleted)


def _skip_out_of_scope_deletions(ctx: _Context, row: _Row) -> str | None:
    return "SkipOutOfScopeDeletions is on, so Entra leaves it active" if ctx.skip_deletions and \
        _left_scope(ctx, row) else None


def _soft_deleted(ctx: _Context, row: _Row) -> str | None:
    if row.entra_id not in ctx.deleted:
        return None
    return f"soft-deleted on {_day(_ns(ctx.users[row.entra_id].get('deletedDateTime'))) or 'an unknown date'}"


def _disabled(ctx: _Context, row: _Row) -> str | None:
    user = ctx.users.get(row.entra_id) or {}
    return "disabled in Entra (accountEnabled false)" if user.get("accountEnabled") is not True else None


def _bucket(name: str, phrase: str) -> Callable[[_Context, _Row], str | None]:
    def holds(ctx: _Context, row: _Row) -> str | None:
        return phrase if ctx.bucket.get(row.entra_id) == name and row.entra_id not in ctx.deleted else None
    return holds


def _created_in_ringcentral(ctx: _Context, row: _Row) -> str | None:
    return "no externalId: not made by Entra" if not (ctx.accounts.get(row.scim_id) or {}).get("externalId") \
        else None


def _deleted_user_leftover(ctx: _Context, row: _Row) -> str | None:
    external_id = (ctx.accounts.get(row.scim_id) or {}).get("externalId")
    if not external_id or not ctx.deleted_readable:
        return None
    return "its externalId is no Entra user's, soft-deleted users included"


def _rename_leftover(ctx: _Context, row: _Row) -> str | None:
    """One Entra user, two accounts: one pairs on the userName, the other only on the externalId."""
    keys = ctx.rename_pairs.get(row.entra_id) or {}
    if not keys.get("userName") or not keys.get("externalId"):
        return None
    return f"leftover {', '.join(keys['externalId'])} (old userName); keep {', '.join(keys['userName'])}"


def _deactivated_in_ringcentral(ctx: _Context, row: _Row) -> str | None:
    return _modified_after_cycle(ctx, row)


def _not_activated_yet(ctx: _Context, row: _Row) -> str | None:
    created, modified = ctx.meta(row.scim_id, "created"), ctx.meta(row.scim_id, "lastModified")
    return "never modified since it was created inactive" if created is not None and created == modified else None


PREDICATES: dict[str, Callable[[_Context, _Row], str | None]] = {
    Cause.JOB_NOT_RUNNING: _job_not_running, Cause.EXPORT_FAILED: _export_failed,
    Cause.DELETION_THRESHOLD: _deletion_threshold,
    Cause.MANAGER_SCOPED_LATER: _manager_scoped_later, Cause.CLEARED_IN_ENTRA: _cleared_in_entra,
    Cause.CHANGED_IN_RINGCENTRAL: _changed_in_ringcentral, Cause.CAME_BACK_INTO_SCOPE: _came_back_into_scope,
    Cause.SKIPPED_BY_ENTRA: _skipped_by_entra, Cause.ASSIGNED_AFTER_LAST_CYCLE: _assigned_after_last_cycle,
    Cause.SKIP_OUT_OF_SCOPE_DELETIONS: _skip_out_of_scope_deletions, Cause.SOFT_DELETED: _soft_deleted,
    Cause.DISABLED: _disabled,
    Cause.FILTERED_OUT: _bucket("filtered_out", "left by the scoping filter"),
    Cause.NESTED_ONLY: _bucket("nested_only", "only in a nested group, which Entra does not provision"),
    Cause.UNASSIGNED: _bucket("unassigned", "not assigned to the app (directly or through a group)"),
    Cause.CREATED_IN_RINGCENTRAL: _created_in_ringcentral, Cause.DELETED_USER_LEFTOVER: _deleted_user_leftover,
    Cause.RENAME_LEFTOVER: _rename_leftover, Cause.DEACTIVATED_IN_RINGCENTRAL: _deactivated_in_ringcentral,
    Cause.NOT_ACTIVATED_YET: _not_activated_yet,
}


# --- remedies ---------------------------------------------------------------------------------------------------

def _fix(row: _Row, *extra: str) -> str:
    """The exact `rcaudit fix` filter for this one finding."""
    parts = ["rcaudit fix --run DIR", f"--kinds {row.kind}"]
    if row.attribute:
        parts.append(f"--attributes '{row.attribute}'")
    parts.append(f"--users {row.scim_id or row.entra_id}")
    return "`" + " ".join([*parts, *extra]) + " --apply`"


def _provision(row: _Row, app: str) -> str:
    """`rcaudit provision` for a missing user (the only kind its plan takes: fix/provision.build_provision_plan);
    for a user who has an account, Entra's own Provision on demand, which re-exports an existing user too."""
    if row.kind == "missing_in_target":
        return f"`rcaudit provision --run DIR --users {row.entra_id} --apply`"
    return f"Entra admin center > Entra ID > Enterprise apps > {app} > Provisioning > Provision on demand, user " \
           f"{row.entra_id}"


_FIX_ORPHAN = "--include-orphans --allow-deactivate"
_RESTART = "restart the provisioning job (Entra admin center > Entra ID > Enterprise apps > {app} > Provisioning > " \
           "Restart provisioning)"
_LOGS = "Entra admin center > Entra ID > Enterprise apps > {app} > Provisioning logs"
# cause -> the remedy's text, with {fix} (the finding's rcaudit fix), {deactivate} (the same, allowed to
# deactivate), {orphan} (the same for an orphan), {provision} and {restart} filled in when used
_REMEDIES: dict[str, str] = {
    Cause.JOB_NOT_RUNNING: "fix the job's error, then {restart}",
    Cause.EXPORT_FAILED: "fix the value in Entra that RingCentral refused; Entra retries on its next cycle, or "
                         "provision on demand: {provision}",
    Cause.MANAGER_SCOPED_LATER: "{restart}: only a restart sets a manager who came into scope later",
    Cause.CLEARED_IN_ENTRA: "{fix} removes the value (Entra never will), or set the value again in Entra",
    Cause.CHANGED_IN_RINGCENTRAL: "{fix} restores Entra's value; waive it if RingCentral's is intended",
    Cause.CAME_BACK_INTO_SCOPE: "provision on demand: {provision}, or {restart}",
    Cause.SKIPPED_BY_ENTRA: "fix what the skip reason says (NotEffectivelyEntitled: unassign and reassign the "
                            "user), then provision on demand: {provision}",
    Cause.ASSIGNED_AFTER_LAST_CYCLE: "wait for the next cycle, or provision on demand: {provision}",
    Cause.SKIP_OUT_OF_SCOPE_DELETIONS: "{deactivate} (Entra will not deactivate it)",
    Cause.DELETION_THRESHOLD: "review the held disables (" + _LOGS + ", Action: StagedDelete); if they are right, "
                              "select Allow deletes on the app's Provisioning page, else assign or restore the "
                              "users, then restart provisioning; not rcaudit fix, which would bypass the safeguard",
    Cause.SOFT_DELETED: "{deactivate}",
    Cause.DISABLED: "{deactivate}",
    Cause.FILTERED_OUT: "{deactivate}, or change the scoping filter if the user should keep RingCentral",
    Cause.NESTED_ONLY: "{deactivate}, or assign the user (or a group they are a direct member of)",
    Cause.UNASSIGNED: "{deactivate}, or assign the user in Entra if they should keep RingCentral",
    Cause.CREATED_IN_RINGCENTRAL: "waive it if the account is meant to live outside Entra, else delete it by hand "
                                  "in RingCentral ({orphan} deactivates it meanwhile)",
    Cause.DELETED_USER_LEFTOVER: "delete the leftover account by hand in RingCentral ({orphan} deactivates it "
                                 "meanwhile)",
    Cause.RENAME_LEFTOVER: "delete the leftover account (the one paired on externalId) by hand in RingCentral",
    Cause.DEACTIVATED_IN_RINGCENTRAL: "{fix} reactivates it; waive it if the deactivation is intended",
    Cause.NOT_ACTIVATED_YET: "activate the extension in RingCentral, or {fix}",
    Cause.UNKNOWN: "no evidence in the snapshot: read the user's provisioning log (" + _LOGS + ")",
}


def remedy(cause: str, row: _Row, evidence: str, app: str) -> str:
    """What to do about it: rcaudit fix with its filter, provision on demand, restart the job (admin-center path),
    fix the value in Entra, waive, or delete the leftover account by hand; then the evidence in brackets."""
    template = _REMEDIES[cause]
    fills = {}
    if "{fix}" in template:
        fills["fix"] = _fix(row)
    if "{deactivate}" in template:
        fills["deactivate"] = _fix(row, "--allow-deactivate")
    if "{orphan}" in template:
        fills["orphan"] = _fix(row, _FIX_ORPHAN)
    if "{provision}" in template:
        fills["provision"] = _provision(row, app)
    if "{restart}" in template:
        fills["restart"] = _RESTART.format(app=app)
    text = template.format(app=app, **fills)
    return f"{text} [{evidence}]" if evidence else text


# --- the table --------------------------------------------------------------------------------------------------

def decide(ctx: _Context, row: _Row) -> tuple[str, str, str]:
    """(cause, remedy, cause_also) for one finding: the first cause that holds wins, the others are `also`."""
    held = [(c, e) for c in CAUSE_PRECEDENCE.get(row.kind, ()) if (e := PREDICATES[c](ctx, row)) is not None]
    if not held:
        return Cause.UNKNOWN, remedy(Cause.UNKNOWN, row, "", ctx.app_name), ""
    (cause, evidence), also = held[0], [c for c, _ in held[1:]]
    return cause, remedy(cause, row, evidence, ctx.app_name), ";".join(also)


def _events(raw: Iterable[dict[str, Any]], wanted: set[str]) -> dict[str, list[_Event]]:
    by_user: dict[str, list[_Event]] = {}
    for item in raw:
        uid = (item.get("sourceIdentity") or {}).get("id") if isinstance(item, dict) else None
        if uid in wanted and (event := _event(item)) is not None:
            by_user.setdefault(uid, []).append(event)
    for events in by_user.values():
        events.sort(key=lambda e: e.at)
    return by_user


def _context(findings: pd.DataFrame, snapshot: Snapshot, scope: ScopeResult, skip_deletions: bool) -> _Context:
    """Index the snapshot for the findings' users and accounts only (one pass over each part)."""
    user_ids = {u for ids in findings["entra_id"].tolist() for u in ids.split(";") if u}
    managers = findings.loc[findings["attribute"].str.casefold().str.endswith(":manager"), "expected"]
    account_ids = set(findings["scim_id"].tolist()) | set(managers.tolist())
    # scope.ids are the snapshot's users in order, then its soft-deleted users that /users does not hold
    positions = {uid: i for i, uid in enumerate(scope.ids) if uid in user_ids}
    live_count = len(snapshot.users)
    users = {uid: snapshot.users[i] for uid, i in positions.items() if i < live_count}
    deleted = {uid for uid, i in positions.items() if i >= live_count}
    users.update((u["id"], u) for u in snapshot.deleted_users if u.get("id") in deleted)
    since = scope.in_scope_since.astype("datetime64[ns]").astype(np.int64)
    ambiguous = findings[findings["kind"] == "ambiguous_match"]
    pairs: dict[str, dict[str, list[str]]] = {}
    for uid, key, aid in zip(ambiguous["entra_id"], ambiguous["match_key"], ambiguous["scim_id"], strict=True):
        if ";" not in uid:
            for k in key.split(";"):
                pairs.setdefault(uid, {}).setdefault(k, []).append(aid)
    return _Context(
        job=_Job.of(snapshot.job),
        events=_events(snapshot.provisioning_events, user_ids),
        users=users, deleted=deleted,
        bucket={uid: str(scope.bucket[i]) for uid, i in positions.items()},
        in_scope_since={uid: None if since[i] == NEVER else int(since[i]) for uid, i in positions.items()},
        accounts={a["id"]: a for a in snapshot.scim_users if a.get("id") in account_ids},
        skip_deletions=skip_deletions,
        deleted_readable=not any("deleted" in str(u.get("what", "")).lower() for u in snapshot.unreadable),
        app_name=str(snapshot.service_principal.get("displayName") or "RingCentral"),
        rename_pairs=pairs,
    )


def assign_causes(findings: pd.DataFrame, snapshot: Snapshot, scope: ScopeResult,
                  skip_out_of_scope_deletions: bool = False) -> pd.DataFrame:
    """The findings with `cause`, `remedy` and `cause_also` filled (README "Causes")."""
    if findings.empty:
        return findings
    ctx = _context(findings, snapshot, scope, skip_out_of_scope_deletions)
    columns = ("kind", "entra_id", "scim_id", "attribute", "expected", "actual_normalized", "expected_normalized",
               "match_key")
    decided = [decide(ctx, _Row(*values)) for values in zip(*(findings[c].tolist() for c in columns), strict=True)]
    cause, text, also = zip(*decided, strict=True)
    return findings.assign(cause=pd.array(cause, dtype="str"), remedy=pd.array(text, dtype="str"),
                           cause_also=pd.array(also, dtype="str"))


def count_by_cause(findings: pd.DataFrame) -> dict[str, int]:
    """summary.json `findings.by_cause`: every cause of the vocabulary, in its order (counted findings only)."""
    counts = Counter(findings["cause"]) if "cause" in findings else Counter()
    return {cause: counts.get(cause, 0) for cause in CAUSES}
