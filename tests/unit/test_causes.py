"""Probable causes (README "Causes"): each cause's predicate on a small snapshot, their precedence and "also",
and `unknown` where the snapshot holds no evidence."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rcaudit.audit.causes import count_by_cause
from rcaudit.model.findings import CAUSES, COLUMNS, Cause, read_findings
from rcaudit.model.vocabulary import ENTERPRISE
from tests.support.snapshots import (
    MSIAM_ROLE,
    NOW,
    assign,
    audit,
    entra_user,
    minutes_ago,
    rc_account,
    small_tenant,
    snapshot_from_tenant,
)

DAY = 24 * 60
MANAGER = f"{ENTERPRISE}:manager"


def job(tenant: dict[str, Any], code: str = "Active", last: float = 10, quarantine_since: float | None = None,
        ) -> dict[str, Any]:
    """The tenant's job with a status: its last successful cycle ended `last` minutes ago."""
    status: dict[str, Any] = {"code": code, "lastSuccessfulExecution": {"timeEnded": minutes_ago(last)},
                              "quarantine": None}
    if quarantine_since is not None:
        status["quarantine"] = {"seriesBegan": minutes_ago(quarantine_since),
                                "reason": "EncounteredQuarantineException", "error": {"code": "CredentialsInvalid"}}
    tenant["graph"]["synchronizationJob"]["status"] = status
    return tenant


def event(user: dict[str, Any], status: str, minutes: float, *, attributes: tuple[str, ...] = (),
          code: str = "", reason: str = "", new: str | None = None, action: str = "update") -> dict[str, Any]:
    """A provisioningObjectSummary for `user`, `minutes` ago; a skip's reason in its skipped step."""
    error = {"errorCode": code, "reason": reason} if status == "failure" else None
    steps = [{"name": "EntryImport", "status": "success", "description": "Retrieved"}]
    if status == "skipped":
        steps.append({"name": "EntrySynchronizationSkipped", "status": "skipped", "description": reason})
    return {"id": f"ev-{user['id']}-{minutes}", "activityDateTime": minutes_ago(minutes),
            "provisioningAction": action, "sourceIdentity": {"id": user["id"]},
            "provisioningStatusInfo": {"status": status, "errorInformation": error}, "provisioningSteps": steps,
            "modifiedProperties": [{"displayName": a, "oldValue": None, "newValue": new} for a in attributes]}


def with_events(tenant: dict[str, Any], *events: dict[str, Any]) -> dict[str, Any]:
    tenant["graph"]["provisioningEvents"] = list(events)
    return tenant


def causes(result: Any, kind: str | None = None, attribute: str | None = None) -> list[tuple[str, str, str]]:
    """(cause, cause_also, remedy) of the findings of one kind (and attribute)."""
    frame = result.findings
    keep = frame["kind"].eq(kind) if kind else frame["kind"].ne("")
    if attribute is not None:
        keep &= frame["attribute"].eq(attribute)
    return list(zip(frame.loc[keep, "cause"], frame.loc[keep, "cause_also"], frame.loc[keep, "remedy"], strict=True))


def edited(minutes_ago_modified: float, **changes: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ann and her account, with `changes` made in RingCentral `minutes_ago_modified` ago."""
    ann = entra_user("ann.lee")
    account = rc_account(ann, "rc-1", **changes)
    account["meta"]["lastModified"] = minutes_ago(minutes_ago_modified)
    return ann, account


# --- attribute_mismatch ------------------------------------------------------------------------------------------

def test_an_edit_in_ringcentral_after_the_last_cycle_is_changed_in_ringcentral_with_its_fix_filter() -> None:
    ann, account = edited(3, title="Boss")
    [(cause, also, remedy)] = causes(audit(job(small_tenant([ann], [account]), last=10)), "attribute_mismatch")
    assert (cause, also) == (Cause.CHANGED_IN_RINGCENTRAL, "")
    assert "`rcaudit fix --run DIR --kinds attribute_mismatch --attributes 'title' --users rc-1 --apply`" in remedy
    assert "after Entra's last successful cycle" in remedy


def test_entra_writing_the_value_it_still_wants_is_changed_in_ringcentral_by_the_log() -> None:
    ann, account = edited(5 * DAY, title="Boss")  # modified long before the last cycle: the meta says nothing
    tenant = with_events(job(small_tenant([ann], [account])), event(ann, "success", 2 * DAY, attributes=("title",),
                                                                    new="Engineer"))
    [(cause, _, remedy)] = causes(audit(tenant), "attribute_mismatch")
    assert cause == Cause.CHANGED_IN_RINGCENTRAL and "Entra wrote this value" in remedy


def test_a_difference_without_evidence_is_unknown_and_says_where_to_look() -> None:
    ann, account = edited(5 * DAY, title="Boss")
    tenant = with_events(job(small_tenant([ann], [account])), event(ann, "success", 2 * DAY, attributes=("title",),
                                                                    new="Something else"))
    [(cause, also, remedy)] = causes(audit(tenant), "attribute_mismatch")
    assert (cause, also) == (Cause.UNKNOWN, "") and "Provisioning logs" in remedy


def test_without_a_job_the_last_cycle_is_unknown_so_an_edit_cannot_be_dated() -> None:
    ann, account = edited(3, title="Boss")
    tenant = small_tenant([ann], [account])
    del tenant["graph"]["synchronizationJob"]
    assert causes(audit(tenant), "attribute_mismatch")[0][0] == Cause.UNKNOWN


def test_a_value_cleared_in_entra_is_cleared_in_entra() -> None:
    ann = entra_user("ann.lee", jobTitle=None)
    account = rc_account(entra_user("ann.lee"), "rc-1")  # RingCentral keeps "Engineer"
    [(cause, _, remedy)] = causes(audit(job(small_tenant([ann], [account]))), "attribute_mismatch")
    assert cause == Cause.CLEARED_IN_ENTRA and "removes the value" in remedy


def test_a_failed_export_naming_the_attribute_is_export_failed_with_its_error_code() -> None:
    ann, account = edited(5 * DAY, department="Sales")
    tenant = with_events(job(small_tenant([ann], [account])), event(
        ann, "failure", 20, attributes=(f"{ENTERPRISE}:department",),
        code="SystemForCrossDomainIdentityManagementBadRequest", reason="Parameter [department] of Ann Lee is invalid"))
    [(cause, _, remedy)] = causes(audit(tenant), "attribute_mismatch")
    assert cause == Cause.EXPORT_FAILED
    assert "SystemForCrossDomainIdentityManagementBadRequest" in remedy and "fix the value in Entra" in remedy
    assert "Ann Lee" not in remedy  # the event's free text may name the person: never copied


def test_a_failure_about_another_attribute_does_not_explain_this_one() -> None:
    ann, account = edited(5 * DAY, title="Boss")
    tenant = with_events(job(small_tenant([ann], [account])),
                         event(ann, "failure", 20, attributes=("name.familyName",), code="Bad"))
    assert causes(audit(tenant), "attribute_mismatch")[0][0] == Cause.UNKNOWN


def test_a_quarantined_job_comes_first_and_the_failure_and_the_edit_are_also() -> None:
    """A quarantined job, a failed event and an edit in RingCentral all hold: the job wins, the others are "also"."""
    ann, account = edited(60, title="Boss")
    tenant = with_events(job(small_tenant([ann], [account]), code="Quarantine", last=3 * DAY,
                             quarantine_since=3 * DAY), event(ann, "failure", 6 * 60, attributes=("title",),
                                                              code="CredentialsInvalid"))
    [(cause, also, remedy)] = causes(audit(tenant), "attribute_mismatch")
    assert cause == Cause.JOB_NOT_RUNNING
    assert also.split(";") == [Cause.EXPORT_FAILED, Cause.CHANGED_IN_RINGCENTRAL]
    assert "Enterprise apps > RingCentral > Provisioning > Restart provisioning" in remedy
    assert "Quarantine since" in remedy and "CredentialsInvalid" in remedy


def test_a_failure_from_before_the_job_stopped_is_not_the_job() -> None:
    ann, account = edited(5 * DAY, title="Boss")
    tenant = with_events(job(small_tenant([ann], [account]), code="Paused", last=DAY),
                         event(ann, "failure", 2 * DAY, attributes=("title",), code="Bad"))
    [(cause, also, _)] = causes(audit(tenant), "attribute_mismatch")
    assert (cause, also) == (Cause.EXPORT_FAILED, "")


def _classic_with_manager(boss_created: str, mine_created: str) -> dict[str, Any]:
    boss = entra_user("bea.boss")
    ann = entra_user("ann.lee", manager={"id": boss["id"]})
    accounts = [rc_account(boss, "rc-boss", created=boss_created), rc_account(ann, "rc-1", created=mine_created)]
    for account in accounts:
        account.pop("displayName")  # not drift here
    return job(small_tenant([boss, ann], accounts, profile="classic"))


def test_a_manager_whose_account_is_newer_than_the_users_is_manager_scoped_later() -> None:
    tenant = _classic_with_manager("2025-06-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z")
    [(cause, _, remedy)] = causes(audit(tenant), "attribute_mismatch", MANAGER)
    assert cause == Cause.MANAGER_SCOPED_LATER and "Restart provisioning" in remedy and "rc-boss" in remedy


def test_a_manager_older_than_the_user_left_unset_is_not_explained_by_scope() -> None:
    tenant = _classic_with_manager("2023-06-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z")
    assert causes(audit(tenant), "attribute_mismatch", MANAGER)[0][0] == Cause.UNKNOWN


# --- missing_in_target ---------------------------------------------------------------------------------------------

def _missing(*events_for: tuple[str, float, str], code: str = "Active", last: float = 10,
             assigned: str | None = None) -> list[tuple[str, str, str]]:
    ann = entra_user("ann.lee")
    tenant = small_tenant([ann], [], assignments=[assign(ann["id"], created=assigned or minutes_ago(30 * DAY))])
    tenant = with_events(job(tenant, code=code, last=last),
                         *(event(ann, status, minutes, reason=reason, code="E409" if status == "failure" else "",
                                 action="create") for status, minutes, reason in events_for))
    return causes(audit(tenant), "missing_in_target")


def test_missing_after_a_failed_create_is_export_failed_with_provision_on_demand() -> None:
    [(cause, _, remedy)] = _missing(("failure", 20, "duplicate email"))
    assert cause == Cause.EXPORT_FAILED and "`rcaudit provision --run DIR --users id-ann.lee --apply`" in remedy


def test_missing_after_an_out_of_scope_skip_came_back_into_scope_and_was_also_skipped() -> None:
    [(cause, also, remedy)] = _missing(("success", 2 * DAY, ""), ("skipped", 20, "the User is not in scope"))
    assert (cause, also) == (Cause.CAME_BACK_INTO_SCOPE, Cause.SKIPPED_BY_ENTRA) and "Restart provisioning" in remedy


def test_missing_after_another_skip_is_skipped_by_entra_naming_a_documented_reason() -> None:
    [(cause, also, remedy)] = _missing(("skipped", 20, "NotEffectivelyEntitled: bad assignment"))
    assert (cause, also) == (Cause.SKIPPED_BY_ENTRA, "") and "NotEffectivelyEntitled" in remedy


def test_missing_when_assigned_after_the_last_cycle_outside_the_grace_window() -> None:
    [(cause, _, remedy)] = _missing(last=3 * 60, assigned=minutes_ago(60))
    assert cause == Cause.ASSIGNED_AFTER_LAST_CYCLE and "rcaudit provision" in remedy


def test_missing_while_the_job_is_paused_since_before_the_assignment_is_job_not_running() -> None:
    [(cause, also, _)] = _missing(code="Paused", last=3 * 60, assigned=minutes_ago(60))
    assert (cause, also) == (Cause.JOB_NOT_RUNNING, Cause.ASSIGNED_AFTER_LAST_CYCLE)


def test_missing_without_any_evidence_is_unknown() -> None:
    assert _missing()[0][0] == Cause.UNKNOWN


def test_a_failure_older_than_a_later_success_is_not_the_cause() -> None:
    assert _missing(("failure", 2 * DAY, "x"), ("success", DAY, ""))[0][0] == Cause.UNKNOWN


# --- should_be_inactive ---------------------------------------------------------------------------------------------

def test_should_be_inactive_names_the_scope_bucket() -> None:
    disabled = entra_user("dan.off", accountEnabled=False)
    unassigned = entra_user("una.out")
    nested = entra_user("ned.deep")
    users = [disabled, unassigned, nested]
    groups = [{"id": "g-outer", "displayName": "outer", "members": ["g-inner"]},
              {"id": "g-inner", "displayName": "inner", "members": [nested["id"]]}]
    tenant = small_tenant(users, [rc_account(u, f"rc-{i}") for i, u in enumerate(users)], groups=groups,
                          assignments=[assign(disabled["id"]), assign("g-outer", kind="Group")])
    found = {row[0] for row in causes(audit(job(tenant)), "should_be_inactive")}
    assert found == {Cause.DISABLED, Cause.UNASSIGNED, Cause.NESTED_ONLY}


def test_should_be_inactive_soft_deleted_says_when_and_how_to_deactivate() -> None:
    gone = entra_user("gil.gone", deletedDateTime=minutes_ago(2 * DAY))
    gone["userPrincipalName"] = gone["id"].replace("-", "") + gone["userPrincipalName"]
    account = rc_account(entra_user("gil.gone"), "rc-9")
    [(cause, _, remedy)] = causes(audit(job(small_tenant([], [account], deleted=[gone], assignments=[]))),
                                  "should_be_inactive")
    assert cause == Cause.SOFT_DELETED
    assert "soft-deleted on 2026-11-24" in remedy
    assert "`rcaudit fix --run DIR --kinds should_be_inactive --users rc-9 --allow-deactivate --apply`" in remedy


def test_soft_deleted_while_the_job_is_quarantined_is_job_not_running() -> None:
    gone = entra_user("gil.gone", deletedDateTime=minutes_ago(DAY))
    account = rc_account(entra_user("gil.gone"), "rc-9")
    tenant = job(small_tenant([], [account], deleted=[gone], assignments=[]), code="Quarantine", last=3 * DAY)
    [(cause, also, _)] = causes(audit(tenant), "should_be_inactive")
    assert (cause, also) == (Cause.JOB_NOT_RUNNING, Cause.SOFT_DELETED)


def test_skip_out_of_scope_deletions_comes_before_the_bucket() -> None:
    una = entra_user("una.out")
    tenant = job(small_tenant([una], [rc_account(una, "rc-1")], assignments=[]))
    [(cause, also, remedy)] = causes(audit(tenant, skip_out_of_scope_deletions=True), "should_be_inactive")
    assert (cause, also) == (Cause.SKIP_OUT_OF_SCOPE_DELETIONS, Cause.UNASSIGNED) and "--allow-deactivate" in remedy


def test_left_by_the_scoping_filter_is_filtered_out() -> None:
    ann = entra_user("ann.lee", department="Sales")
    tenant = job(small_tenant([ann], [rc_account(ann, "rc-1")]))
    result = audit(tenant, scoping_filters=[{"clauses": [{"attribute": "department", "operator": "EQUALS",
                                                          "value": "Engineering"}]}])
    assert causes(result, "should_be_inactive")[0][0] == Cause.FILTERED_OUT


# --- orphans, should_be_active, ambiguous -------------------------------------------------------------------------

def test_orphans_without_external_id_were_created_in_ringcentral_others_are_leftovers() -> None:
    ghost = rc_account(entra_user("old.timer"), "rc-old")
    hand = rc_account(entra_user("hand.made"), "rc-hand", externalId=None)
    found = dict((c, r) for c, _, r in causes(audit(job(small_tenant([], [ghost, hand]))), "orphan_in_target"))
    assert set(found) == {Cause.CREATED_IN_RINGCENTRAL, Cause.DELETED_USER_LEFTOVER}
    assert "delete the leftover account by hand" in found[Cause.DELETED_USER_LEFTOVER]
    assert "old.timer" not in found[Cause.DELETED_USER_LEFTOVER] and "waive" in found[Cause.CREATED_IN_RINGCENTRAL]


def test_an_orphan_is_unknown_when_deleted_users_could_not_be_read() -> None:
    from dataclasses import replace

    from rcaudit.audit.reconcile import reconcile

    ghost = rc_account(entra_user("old.timer"), "rc-old")
    snapshot = snapshot_from_tenant(job(small_tenant([], [ghost])), NOW)
    snapshot = replace(snapshot, unreadable=[{"what": "deleted users", "reason": "403"}])
    assert causes(reconcile(snapshot), "orphan_in_target")[0][0] == Cause.UNKNOWN


def _inactive(modified: str | None, *events: dict[str, Any]) -> list[tuple[str, str, str]]:
    ann = entra_user("ann.lee")
    account = rc_account(ann, "rc-1", active=False)
    if modified:
        account["meta"]["lastModified"] = modified
    tenant = with_events(job(small_tenant([ann], [account])), *events)
    return causes(audit(tenant), "should_be_active")


def test_should_be_active_deactivated_after_the_cycle_never_modified_or_failed() -> None:
    assert _inactive(minutes_ago(3))[0][0] == Cause.DEACTIVATED_IN_RINGCENTRAL
    assert _inactive(None)[0][0] == Cause.NOT_ACTIVATED_YET  # lastModified == created
    ann = entra_user("ann.lee")
    assert _inactive(minutes_ago(DAY), event(ann, "failure", 20, code="E400"))[0][0] == Cause.EXPORT_FAILED
    assert _inactive(minutes_ago(DAY))[0][0] == Cause.UNKNOWN


def test_a_rename_leftover_names_the_account_to_delete_and_the_one_to_keep() -> None:
    ann = entra_user("ann.lee")
    old = rc_account(ann, "rc-old", userName="ann.old@contoso.example")
    new = rc_account(ann, "rc-new")
    rows = causes(audit(job(small_tenant([ann], [old, new]))), "ambiguous_match")
    assert [c for c, _, _ in rows] == [Cause.RENAME_LEFTOVER] * 2
    assert all("leftover rc-old" in r and "keep rc-new" in r for _, _, r in rows)


def test_default_access_users_have_their_cause_like_anyone() -> None:
    ann = entra_user("ann.lee")
    tenant = small_tenant([ann], [], assignments=[assign(ann["id"], MSIAM_ROLE)])
    tenant = with_events(job(tenant), event(ann, "skipped", 20, reason="NotEffectivelyEntitled"))
    assert causes(audit(tenant), "missing_in_target")[0][0] == Cause.SKIPPED_BY_ENTRA


# --- the table: columns, vocabulary, summary -------------------------------------------------------------------

def test_every_finding_has_a_cause_of_the_vocabulary_and_a_remedy() -> None:
    ann, account = edited(3, title="Boss")
    bob = entra_user("bob.new")
    result = audit(job(small_tenant([ann, bob], [account, rc_account(entra_user("x.y"), "rc-x")])))
    frame = result.findings
    assert tuple(frame.columns) == COLUMNS and COLUMNS[-3:] == ("cause", "remedy", "cause_also")
    assert set(frame["cause"]) <= set(CAUSES) and frame["remedy"].str.len().gt(0).all()
    assert all(set(filter(None, also.split(";"))) <= set(CAUSES) for also in frame["cause_also"])


def test_by_cause_counts_every_cause_of_the_vocabulary_in_order() -> None:
    ann, account = edited(3, title="Boss")
    counts = count_by_cause(audit(job(small_tenant([ann], [account]))).counted)
    assert list(counts) == list(CAUSES) and counts[Cause.CHANGED_IN_RINGCENTRAL] == 1 and sum(counts.values()) == 1


def test_summary_json_counts_findings_by_cause(tmp_path) -> None:
    from rcaudit.workbook import RunClock, write_outputs

    ann, account = edited(3, title="Boss")
    tenant = job(small_tenant([ann], [account]))
    snapshot = snapshot_from_tenant(tenant, NOW)
    from rcaudit.audit.reconcile import reconcile

    summary = write_outputs(tmp_path, reconcile(snapshot), snapshot, RunClock())
    written = json.loads((tmp_path / "summary.json").read_text())
    assert written["findings"]["by_cause"][Cause.CHANGED_IN_RINGCENTRAL] == 1 == summary["findings"]["total"]
    assert list(written["findings"])[-2:] == ["by_cause", "waived"]
    assert read_findings(tmp_path / "findings.csv")["cause"].tolist() == [Cause.CHANGED_IN_RINGCENTRAL]


def test_a_findings_file_from_before_the_causes_reads_back_with_empty_causes(tmp_path) -> None:
    ann, account = edited(3, title="Boss")
    frame = audit(job(small_tenant([ann], [account]))).findings
    frame.drop(columns=["cause", "remedy", "cause_also"]).to_csv(tmp_path / "old.csv", index=False)
    assert read_findings(tmp_path / "old.csv")["cause"].tolist() == [""]


@pytest.mark.parametrize("kind", ["attribute_mismatch", "missing_in_target", "should_be_inactive",
                                  "orphan_in_target", "should_be_active", "ambiguous_match"])
def test_every_kind_has_its_causes_in_the_vocabulary(kind: str) -> None:
    from rcaudit.model.findings import CAUSE_PRECEDENCE

    assert CAUSE_PRECEDENCE[kind] and set(CAUSE_PRECEDENCE[kind]) < set(CAUSES)


def test_a_disable_held_by_the_deletion_threshold_is_deletion_threshold_and_not_for_rcaudit_fix() -> None:
    """Accidental deletions prevention (entra-docs accidental-deletions.md): over the threshold the job goes into
    quarantine and each held disable is logged with the action StagedDelete until an admin allows the deletes."""
    una = entra_user("una.out")
    held = event(una, "skipped", 30, action="StagedDelete", reason="over the deletion threshold")
    tenant = job(with_events(small_tenant([una], [rc_account(una, "rc-1")], assignments=[]), held),
                 code="Quarantine", last=DAY, quarantine_since=60)
    [(cause, also, remedy)] = causes(audit(tenant), "should_be_inactive")
    assert (cause, also) == (Cause.DELETION_THRESHOLD, Cause.UNASSIGNED)
    assert "Allow deletes" in remedy and "StagedDelete" in remedy and "rcaudit fix --run" not in remedy
    assert "staged its disable on 2026-11-26 19:30" in remedy


def test_a_staged_disable_older_than_a_later_event_is_not_the_cause() -> None:
    una = entra_user("una.out")
    tenant = job(with_events(small_tenant([una], [rc_account(una, "rc-1")], assignments=[]),
                             event(una, "skipped", 3 * DAY, action="StagedDelete"), event(una, "success", DAY)))
    [(cause, _, _)] = causes(audit(tenant), "should_be_inactive")
    assert cause == Cause.UNASSIGNED


def test_rcaudit_fix_leaves_a_held_disable_to_the_admin() -> None:
    """The plan never deactivates what Entra's safeguard holds: it lists it as not fixable, saying why."""
    import pandas as pd

    from rcaudit.fix.plan import HELD_BY_THRESHOLD, Filters, _decide

    row = dict.fromkeys(COLUMNS, "")
    row.update(kind="should_be_inactive", severity="high", scim_id="rc-1", entra_id="u-1", waived=False,
               cause=Cause.DELETION_THRESHOLD)
    assert _decide(row, Filters(), {"id": "rc-1", "active": True}, None, pd.DataFrame()) == HELD_BY_THRESHOLD  # type: ignore[arg-type]
    row["cause"] = Cause.UNASSIGNED
    assert not isinstance(_decide(row, Filters(), {"id": "rc-1", "active": True}, None, pd.DataFrame()), str)  # type: ignore[arg-type]


def test_a_soft_delete_after_a_too_many_deletes_quarantine_is_deletion_threshold() -> None:
    """synchronizationQuarantine.reason TooManyDeletes: the threshold stopped the job, so a user deleted since is
    held too, even when the provisioning log read holds no StagedDelete for them."""
    gone = entra_user("gil.gone", deletedDateTime=minutes_ago(DAY))
    account = rc_account(entra_user("gil.gone"), "rc-9")
    tenant = job(small_tenant([], [account], deleted=[gone], assignments=[]), code="Quarantine", last=3 * DAY,
                 quarantine_since=2 * DAY)
    tenant["graph"]["synchronizationJob"]["status"]["quarantine"]["reason"] = "TooManyDeletes"
    [(cause, also, remedy)] = causes(audit(tenant), "should_be_inactive")
    assert (cause, also) == (Cause.DELETION_THRESHOLD, f"{Cause.JOB_NOT_RUNNING};{Cause.SOFT_DELETED}")
    assert "TooManyDeletes" in remedy and "Allow deletes" in remedy
