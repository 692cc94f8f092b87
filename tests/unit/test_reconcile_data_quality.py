"""The engine reports problems in the services' answers instead of absorbing them (issue 10 point 9): duplicate
Entra ids, duplicate RingCentral ids, accounts without userName, and orphans while deleted users were unreadable.
Each is decided deterministically (the first record wins), listed in `data_quality`, and noted in the `reason`
of the rows it affects."""

from __future__ import annotations

import copy
import json

from rcaudit.audit.reconcile import AuditOptions, reconcile
from tests.support.snapshots import NOW, audit, entra_user, rc_account, rows, small_tenant, snapshot_from_tenant


def _quality(result) -> dict[str, dict]:
    return {d["what"].split(" (")[0]: d for d in result.to_dict()["data_quality"]}


def test_a_duplicate_entra_id_is_audited_once_from_its_first_record() -> None:
    """Two records for one id gave contradictory findings (the second, disabled, made the account should be
    inactive while the first said it is fine)."""
    user = entra_user("ada.lind", jobTitle="Engineer")
    twin = dict(user, accountEnabled=False, jobTitle="Manager")
    result = audit(small_tenant([user, twin], [rc_account(user, "100")]))
    assert rows(result) == []  # the first record is audited: it matches the account exactly
    assert _quality(result)["duplicate Entra user id"] == {
        "what": "duplicate Entra user id (the first record is audited)", "count": 1, "examples": ["id-ada.lind"]}
    assert result.sizes["entra_users"] == 2  # as served

    flipped = audit(small_tenant([twin, user], [rc_account(user, "100")]))
    kinds = {r[0] for r in rows(flipped)}
    assert kinds == {"should_be_inactive"}  # the first served record decides, nothing contradicts it
    reason = flipped.findings.loc[0, "reason"]
    assert "Graph returned 2 records with this Entra id; the first was audited" in reason


def test_a_duplicate_scim_id_is_audited_once_and_noted_on_its_rows() -> None:
    user = entra_user("bo.berg")
    account = rc_account(user, "200", title="Old title")
    result = audit(small_tenant([user], [account, copy.deepcopy(account)]))
    assert [r[0] for r in rows(result)] == ["attribute_mismatch"]  # not an ambiguous_match with itself
    assert "RingCentral returned 2 accounts with this id; the first was audited" in result.findings.loc[0, "reason"]
    assert _quality(result)["duplicate RingCentral account id"]["examples"] == ["200"]
    assert result.sizes["scim_users"] == 2


def test_an_account_without_username_is_listed_and_its_row_says_so() -> None:
    user = entra_user("cy.diaz")
    stray = rc_account(entra_user("gone.person"), "301", userName=None)
    paired = rc_account(user, "300", userName=None)  # still pairs on externalId
    result = audit(small_tenant([user], [paired, stray]))
    found = {(r[0], r[2]) for r in rows(result)}
    assert ("orphan_in_target", "301") in found and ("missing_in_target", "") not in {(k, a) for k, a in found}
    orphan = result.findings[result.findings["scim_id"] == "301"].iloc[0]
    assert "the RingCentral account has no userName" in orphan["reason"]
    assert _quality(result)["RingCentral account without userName"] == {
        "what": "RingCentral account without userName", "count": 2, "examples": ["300", "301"]}


def test_clean_answers_give_an_empty_list_and_plain_reasons() -> None:
    user = entra_user("di.eng")
    result = audit(small_tenant([user], [rc_account(user, "400", title="Other")]))
    assert result.to_dict()["data_quality"] == [] and result.caveats == ()
    assert result.findings.loc[0, "reason"] == "values differ"
    assert result.data_quality_table().empty
    json.dumps(result.to_dict())


def test_orphans_while_deleted_users_are_unreadable_say_they_may_be_deleted_users() -> None:
    user = entra_user("ed.fox")
    tenant = small_tenant([user], [rc_account(user, "500"), rc_account(entra_user("left.company"), "501")])
    snapshot = snapshot_from_tenant(tenant, NOW)
    snapshot.unreadable.append({"what": "deleted users", "reason": "403 Authorization_RequestDenied"})
    result = reconcile(snapshot, options=AuditOptions())
    orphan = result.findings[result.findings["kind"] == "orphan_in_target"].iloc[0]
    assert "deleted users could not be read, so this account may belong to a deleted user" in orphan["reason"]
    assert len(result.caveats) == 1 and "some of the 1 orphan accounts may belong to deleted users" in result.caveats[0]
    readable = audit(tenant)
    assert readable.caveats == () and "deleted" not in readable.findings.loc[0, "reason"]
