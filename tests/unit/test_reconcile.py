"""The engine, one rule at a time: each test writes its case out on a small hand-built tenant.

DESIGN.md "Audit rules": the two-pass join, every kind of finding and when none is due, the grace window,
the manager, not-audited attributes, strict modes, and the findings table contract.
"""

from __future__ import annotations

import json

import pytest

from rcaudit.audit.mapping import AttributeMapping, default_mapping
from rcaudit.audit.reconcile import AuditOptions, entra_sends, reconcile
from rcaudit.model.errors import ConfigError, MappingError
from rcaudit.model.findings import COLUMNS
from rcaudit.model.vocabulary import ENTERPRISE
from rcaudit.sandbox.tenant.sync_schema import attribute_mapping, default_sync_schema
from tests.support.snapshots import (
    ADMIN_ROLE,
    DEFAULT_ACCESS,
    NOW,
    assign,
    audit,
    entra_user,
    minutes_ago,
    rc_account,
    rows,
    small_tenant,
)

MANAGER = f"{ENTERPRISE}:manager"
DEPARTMENT = f"{ENTERPRISE}:department"
MOBILE = 'phoneNumbers[type eq "mobile"].value'


def soft_deleted(user: dict) -> dict:
    """Entra's recycle bin: the UPN rewritten as `<id without dashes><UPN>`."""
    return {**user, "userPrincipalName": user["id"].replace("-", "") + user["userPrincipalName"],
            "deletedDateTime": minutes_ago(60 * 24)}


# --- a clean tenant --------------------------------------------------------------------------------------------

def test_a_tenant_provisioned_exactly_has_no_findings() -> None:
    alice, bob = entra_user("alice.smith"), entra_user("bob.jones")
    result = audit(small_tenant([alice, bob], [rc_account(alice, "100"), rc_account(bob, "101")]))
    assert rows(result) == []
    assert result.scope["in_scope"] == 2 and result.scope["live"] == 2
    assert result.expected.set_index("entra_id").loc["id-alice.smith", "scim_id"] == "100"


# --- kinds -----------------------------------------------------------------------------------------------------

def test_missing_in_target_is_a_live_user_without_any_account() -> None:
    alice = entra_user("alice.smith")
    result = audit(small_tenant([alice], []))
    assert rows(result) == [("missing_in_target", "id-alice.smith", "", "")]
    assert result.findings.loc[0, "severity"] == "medium"


def test_a_pending_user_is_not_missing_whether_created_or_assigned_inside_the_grace_window() -> None:
    new = entra_user("new.hire", createdDateTime=minutes_ago(10))
    moved = entra_user("just.assigned")
    tenant = small_tenant([new, moved], [], assignments=[assign(new["id"]),
                                                         assign(moved["id"], created=minutes_ago(39))])
    result = audit(tenant)
    assert rows(result) == []
    assert set(result.pending) == {"id-new.hire", "id-just.assigned"} and result.scope["pending"] == 2


def test_the_grace_window_is_measured_from_the_graph_fetch_not_the_wall_clock() -> None:
    late = entra_user("late.hire", createdDateTime=minutes_ago(41))
    assert rows(audit(small_tenant([late], []))) == [("missing_in_target", "id-late.hire", "", "")]
    assert rows(audit(small_tenant([late], []), grace_minutes=60)) == []  # a longer window: still pending


def test_disabled_and_out_of_scope_users_without_accounts_are_not_findings() -> None:
    disabled, outsider = entra_user("dis.abled", accountEnabled=False), entra_user("out.sider")
    result = audit(small_tenant([disabled, outsider], [], assignments=[assign(disabled["id"])]))
    assert rows(result) == []
    assert result.scope == {"in_scope": 1, "live": 0, "disabled": 1, "nested_only": 0, "default_access": 0,
                            "unassigned": 1, "pending": 0, "filtered_out": 0}


def test_orphan_in_target_is_an_active_account_matching_nobody_and_an_inactive_one_is_fine() -> None:
    ghost = entra_user("gone.person")
    accounts = [rc_account(ghost, "200"), rc_account(entra_user("long.gone"), "201", active=False)]
    result = audit(small_tenant([], accounts))
    assert rows(result) == [("orphan_in_target", "", "200", "")]
    finding = result.findings.iloc[0]
    assert finding["severity"] == "high" and finding["user_name"] == "gone.person@contoso.example"


@pytest.mark.parametrize("case", ["disabled", "unassigned", "nested_only"])
def test_should_be_inactive_when_the_paired_user_is_not_live(case: str) -> None:
    user = entra_user("leaver.one", accountEnabled=case != "disabled")
    assignments = {"disabled": [assign(user["id"])], "unassigned": [],
                   "nested_only": [assign("group-outer", kind="Group")]}[case]
    groups = [{"id": "group-outer", "displayName": "Outer", "members": ["group-inner"]},
              {"id": "group-inner", "displayName": "Inner", "members": [user["id"]]}]
    result = audit(small_tenant([user], [rc_account(user, "300")], assignments=assignments, groups=groups))
    assert rows(result) == [("should_be_inactive", "id-leaver.one", "300", "")]
    expected_bucket = "in_scope" if case == "disabled" else case
    assert result.expected.loc[0, "bucket"] == expected_bucket


@pytest.mark.parametrize("role", [DEFAULT_ACCESS, "role-msiam"])
def test_a_default_access_user_keeps_an_active_account(role: str) -> None:
    """Default Access is in scope (Entra since July 2020): its active account is right, not a leftover."""
    user = entra_user("default.one")
    result = audit(small_tenant([user], [rc_account(user, "300")], assignments=[assign(user["id"], role)]))
    assert rows(result) == []
    assert result.expected.loc[0, "bucket"] == "in_scope" and result.scope["default_access"] == 1


def test_a_soft_deleted_user_pairs_on_user_name_despite_the_rewritten_upn() -> None:
    """Entra prefixes a deleted user's UPN with its object id (no dashes): the join removes that prefix."""
    leaver = entra_user("sam.deleted")
    gone = soft_deleted(leaver)
    result = audit(small_tenant([], [rc_account(leaver, "400"), rc_account(leaver, "401", active=False,
                                                                          userName="old@contoso.example",
                                                                          externalId="other")],
                                deleted=[gone]))
    assert rows(result, "should_be_inactive") == [("should_be_inactive", "id-sam.deleted", "400", "")]
    assert result.findings.loc[result.findings["scim_id"] == "400", "match_key"].item() == "userName"
    assert result.sizes == {"entra_users": 0, "entra_deleted_users": 1, "scim_users": 2}


def test_a_deleted_users_account_without_external_id_is_not_an_orphan() -> None:
    leaver = entra_user("kim.deleted")
    account = rc_account(leaver, "402")
    account.pop("externalId")
    result = audit(small_tenant([], [account], deleted=[soft_deleted(leaver)]))
    assert rows(result) == [("should_be_inactive", "id-kim.deleted", "402", "")]
    assert "soft-deleted" in result.findings.loc[0, "reason"]


def test_an_inactive_account_of_a_non_live_user_is_correctly_deactivated() -> None:
    user = entra_user("dis.abled", accountEnabled=False)
    assert rows(audit(small_tenant([user], [rc_account(user, "500", active=False)]))) == []


def test_should_be_active_unless_the_account_is_pending_activation() -> None:
    old, fresh = entra_user("old.timer"), entra_user("fresh.start")
    accounts = [rc_account(old, "600", active=False),
                rc_account(fresh, "601", active=False, created=minutes_ago(15).replace("Z", ".000Z"))]
    assert rows(audit(small_tenant([old, fresh], accounts))) == [("should_be_active", "id-old.timer", "600", "")]


def test_active_is_never_an_attribute_mismatch() -> None:
    user = entra_user("dis.abled", accountEnabled=False)
    result = audit(small_tenant([user], [rc_account(user, "700", active=True)]))
    assert [r[0] for r in rows(result)] == ["should_be_inactive"]
    assert "active" not in set(result.findings["attribute"])


# --- attribute comparison ----------------------------------------------------------------------------------------

def test_a_value_cleared_in_entra_but_kept_in_ringcentral_is_a_mismatch() -> None:
    user = entra_user("no.title", jobTitle=None)
    result = audit(small_tenant([user], [rc_account(user, "800", title="Engineer")]))
    assert rows(result) == [("attribute_mismatch", "id-no.title", "800", "title")]
    finding = result.findings.iloc[0]
    assert (finding["expected"], finding["actual"], finding["severity"]) == ("", "Engineer", "low")
    assert "Entra never sends nulls" in finding["reason"]


def test_not_drift_case_whitespace_empty_phone_format_country_name_and_ringcentral_phones() -> None:
    user = entra_user("max.muster", jobTitle="  Staff   Engineer ", mobilePhone="(415) 555-0100", country="USA",
                      state=None, streetAddress="")
    account = rc_account(user, "900", userName="Max.Muster@CONTOSO.EXAMPLE", title="Staff Engineer",
                         mobile="+14155550100", **{"address.country": "United States", "address.region": "",
                                                   "address.streetAddress": None})
    account["emails"][0]["value"] = "MAX.muster@contoso.example"
    assert rows(audit(small_tenant([user], [account]))) == []


def test_title_and_department_compare_case_sensitively_and_external_id_is_a_medium_mismatch() -> None:
    user = entra_user("case.sensitive")
    account = rc_account(user, "901", title="engineer", externalId="Case.Sensitive", department="engineering")
    result = audit(small_tenant([user], [account]))
    assert {r[3] for r in rows(result)} == {"title", DEPARTMENT, "externalId"}
    severity = dict(zip(result.findings["attribute"], result.findings["severity"], strict=True))
    assert severity == {"externalId": "medium", "title": "low", DEPARTMENT: "low"}


def test_phone_region_comes_from_usage_location_else_country() -> None:
    by_usage = entra_user("uk.user", usageLocation="GB", country="United Kingdom", mobilePhone="07700 900123")
    by_country = entra_user("de.user", usageLocation=None, country="Germany", mobilePhone="0151 23456789")
    accounts = [rc_account(by_usage, "910", mobile="+447700900123"), rc_account(by_country, "911",
                                                                                mobile="+4915123456789")]
    assert rows(audit(small_tenant([by_usage, by_country], accounts))) == []


def test_a_different_phone_number_shows_both_normalised_forms() -> None:
    user = entra_user("call.me", mobilePhone="(415) 555-0100")
    result = audit(small_tenant([user], [rc_account(user, "920", mobile="+14155550199")]))
    finding = result.findings.iloc[0]
    assert (finding["attribute"], finding["expected"], finding["actual"]) == (MOBILE, "(415) 555-0100",
                                                                              "+14155550199")
    assert (finding["expected_normalized"], finding["actual_normalized"]) == ("+14155550100", "+14155550199")


def test_strict_normalise_turns_the_normalisers_off() -> None:
    user = entra_user("max.muster", jobTitle="Staff  Engineer", mobilePhone="(415) 555-0100", country="US")
    account = rc_account(user, "930", title="Staff Engineer", mobile="+14155550100",
                         **{"address.country": "United States"})
    result = audit(small_tenant([user], [account]), strict_normalise=True)
    assert {r[3] for r in rows(result)} == {"title", MOBILE, 'addresses[type eq "work"].country'}
    assert {n["normaliser"] for n in result.normalisers} == {"strict"}


# --- the join ----------------------------------------------------------------------------------------------------

def test_a_rename_pairs_through_external_id_and_shows_as_name_mismatches() -> None:
    renamed = entra_user("jane.doe", surname="Doe", userPrincipalName="jane.roe@contoso.example",
                         mail="jane.roe@contoso.example")
    account = rc_account({**renamed, "userPrincipalName": "jane.doe@contoso.example",
                          "mail": "jane.doe@contoso.example"}, "1000", **{"name.familyName": "Doe"})
    result = audit(small_tenant([renamed], [account]))
    assert {r[3] for r in rows(result)} == {"userName", 'emails[type eq "work"].value'}
    assert set(result.findings["match_key"]) == {"externalId"}
    assert result.findings.loc[result.findings["attribute"] == "userName", "severity"].item() == "medium"


def test_an_old_account_left_by_a_rename_makes_both_ambiguous_and_nothing_else() -> None:
    user = entra_user("jane.roe")
    old = rc_account(user, "1100", userName="jane.doe@contoso.example", title="Old title")
    new = rc_account(user, "1101")
    result = audit(small_tenant([user], [old, new]))
    assert sorted(rows(result)) == [("ambiguous_match", "id-jane.roe", "1100", ""),
                                    ("ambiguous_match", "id-jane.roe", "1101", "")]
    assert dict(zip(result.findings["scim_id"], result.findings["match_key"], strict=True)) == {
        "1100": "externalId", "1101": "userName"}


def test_an_account_whose_external_id_hits_two_users_is_ambiguous_with_both_ids() -> None:
    twin_a = entra_user("twin.a", mailNickname="twin")
    twin_b = entra_user("twin.b", mailNickname="TWIN")  # keys are case-folded
    stray = rc_account(twin_a, "1200", userName="someone.else@contoso.example", externalId="twin")
    mine = rc_account(twin_a, "1201")
    result = audit(small_tenant([twin_a, twin_b], [stray, mine]))
    # 1200 hits both twins; twin.a therefore has two accounts, so 1201 is ambiguous too; twin.b is not missing
    assert sorted(rows(result)) == [("ambiguous_match", "id-twin.a", "1201", ""),
                                    ("ambiguous_match", "id-twin.a;id-twin.b", "1200", "")]
    by_id = result.findings.set_index("scim_id")
    assert by_id.loc["1200", "user_name"] == "someone.else@contoso.example"  # several users: the account's name
    assert by_id.loc["1201", "user_name"] == "twin.a@contoso.example"


def test_pass_two_pairs_even_when_the_user_already_has_an_account_from_pass_one() -> None:
    user = entra_user("dup.user")
    duplicate = rc_account(user, "1301", userName="dup.user.2@contoso.example", active=False)
    result = audit(small_tenant([user], [rc_account(user, "1300"), duplicate]))
    assert sorted(r[2] for r in rows(result, "ambiguous_match")) == ["1300", "1301"]


def test_keys_are_trimmed_and_case_folded_on_both_sides() -> None:
    user = entra_user("trim.me", userPrincipalName=" Trim.Me@Contoso.Example ")
    account = rc_account(user, "1400", userName="trim.me@contoso.example", externalId="not-trim.me")
    result = audit(small_tenant([user], [account]))
    assert rows(result) == [("attribute_mismatch", "id-trim.me", "1400", "externalId")]  # paired on userName
    assert result.actual.loc[0, "match_key"] == "userName"


def test_guests_join_on_the_upn_entra_sends_without_ext() -> None:
    guest = entra_user("guest", userPrincipalName="ann.lee_fabrikam.com#EXT#@contoso.onmicrosoft.com",
                       mail="ann.lee@fabrikam.com", mailNickname="ann.lee_fabrikam.com#EXT#", userType="Guest")
    account = rc_account({**guest, "userPrincipalName": "ann.lee@fabrikam.com"}, "1500")
    assert entra_sends(guest["userPrincipalName"]) == "ann.lee@fabrikam.com"
    result = audit(small_tenant([guest], [account]))
    assert rows(result) == [] and result.actual.loc[0, "match_key"] == "userName"


def test_a_tenant_whose_user_name_comes_from_mail_joins_on_mail() -> None:
    schema = default_sync_schema("current")
    mappings = schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"]
    mappings[0] = attribute_mapping("userName", "mail")
    user = entra_user("mail.user", userPrincipalName="m.user@corp.contoso.example")
    account = rc_account(user, "1600", userName="mail.user@contoso.example")
    result = audit(small_tenant([user], [account], schema=schema))
    assert rows(result) == [] and result.mapping_source == "schema"


# --- manager -------------------------------------------------------------------------------------------------

def _team() -> tuple[dict, dict, dict, dict]:
    boss = entra_user("the.boss")
    worker = entra_user("the.worker", manager={"id": boss["id"]})
    orphaned = entra_user("no.boss.account", manager={"id": "id-not-provisioned"})
    loner = entra_user("no.manager")
    return boss, worker, orphaned, loner


def test_the_expected_manager_is_the_ringcentral_id_of_the_managers_account() -> None:
    boss, worker, orphaned, loner = _team()
    accounts = [rc_account(boss, "1"), rc_account(worker, "2", manager="1"),
                rc_account(orphaned, "3", manager="999"),  # the manager has no account: not compared
                rc_account(loner, "4")]
    assert rows(audit(small_tenant([boss, worker, orphaned, loner], accounts, profile="classic"))) == []


def test_a_wrong_manager_and_a_manager_where_none_is_expected_are_mismatches() -> None:
    boss, worker, _, loner = _team()
    accounts = [rc_account(boss, "1"), rc_account(worker, "2", manager="77"), rc_account(loner, "4", manager="1")]
    result = audit(small_tenant([boss, worker, loner], accounts, profile="classic"))
    assert sorted(rows(result)) == [("attribute_mismatch", "id-no.manager", "4", MANAGER),
                                    ("attribute_mismatch", "id-the.worker", "2", MANAGER)]
    by_id = result.findings.set_index("scim_id")
    assert (by_id.loc["2", "expected"], by_id.loc["2", "actual"]) == ("1", "77")
    assert (by_id.loc["4", "expected"], by_id.loc["4", "actual"]) == ("", "1")


def test_a_manager_with_two_accounts_is_not_compared() -> None:
    boss, worker, _, _ = _team()
    accounts = [rc_account(boss, "1"), rc_account(boss, "5", userName="boss.old@contoso.example"),
                rc_account(worker, "2", manager="5")]
    result = audit(small_tenant([boss, worker], accounts, profile="classic"))
    assert {r[0] for r in rows(result)} == {"ambiguous_match"}


def test_a_snapshot_without_expanded_managers_leaves_the_manager_unaudited() -> None:
    boss, worker, _, _ = _team()
    tenant = small_tenant([boss, {k: v for k, v in worker.items() if k != "manager"}],
                          [rc_account(boss, "1"), rc_account(worker, "2", manager="1")], profile="classic")
    result = audit(tenant)
    assert rows(result) == [] and [n.attribute for n in result.not_audited] == [MANAGER]


# --- what is audited ---------------------------------------------------------------------------------------------

def test_attributes_ringcentral_does_not_declare_are_not_audited() -> None:
    user = entra_user("old.mapping")
    account = rc_account(user, "1700", displayName="Someone Else")
    result = audit(small_tenant([user], [account], profile="current"), mapping=default_mapping("classic"))
    assert rows(result) == []
    assert {n.attribute: n.reason for n in result.not_audited} == {
        "displayName": "RingCentral's /Schemas does not declare displayName",
        MANAGER: "RingCentral's /Schemas does not declare manager"}
    assert result.to_dict()["not_audited"][0] == {"attribute": "displayName",
                                                  "reason": "RingCentral's /Schemas does not declare displayName"}


def test_an_expression_rcaudit_cannot_evaluate_fails_or_is_left_unaudited() -> None:
    user = entra_user("expr.user")
    mapping = (*default_mapping("current"), AttributeMapping("title", "PCase([jobTitle])"))
    mapping = tuple(m for m in mapping if m.target != "title" or m.expression.startswith("PCase"))
    tenant = small_tenant([user], [rc_account(user, "1800", title="whatever")])
    with pytest.raises(MappingError, match=r"attribute title: cannot evaluate 'PCase\(\[jobTitle\]\)'"):
        audit(tenant, mapping=mapping)
    result = audit(tenant, mapping=mapping, strict_mapping=False)
    assert rows(result) == []
    assert [(n.attribute, "PCase is not supported" in n.reason) for n in result.not_audited] == [("title", True)]


def test_an_expression_mapping_is_evaluated_per_user() -> None:
    mapping = tuple(m if m.target != "title" else AttributeMapping("title", 'Switch([department], "Staff", '
                                                                            '"Engineering", "Engineer", '
                                                                            '"Sales", "Seller")')
                    for m in default_mapping("current"))
    engineer, seller = entra_user("e.one"), entra_user("s.one", department="Sales")
    other = entra_user("o.one", department="Legal")
    accounts = [rc_account(engineer, "1", title="Engineer"), rc_account(seller, "2", title="Seller",
                                                                         department="Sales"),
                rc_account(other, "3", title="Lawyer", department="Legal")]
    result = audit(small_tenant([engineer, seller, other], accounts), mapping=mapping)
    assert rows(result) == [("attribute_mismatch", "id-o.one", "3", "title")]
    assert result.findings.loc[0, "expected"] == "Staff"


def test_a_source_the_snapshot_does_not_carry_is_left_unaudited_and_named() -> None:
    mapping = (*default_mapping("current"), AttributeMapping('phoneNumbers[type eq "work"].value',
                                                             "[telephoneNumber]"))
    user = {k: v for k, v in entra_user("no.phones").items() if k != "businessPhones"}
    result = audit(small_tenant([user], []), mapping=mapping)  # strict mapping: still not an error
    assert [(n.attribute, n.reason) for n in result.not_audited] == [
        ('phoneNumbers[type eq "work"].value', "[telephoneNumber] reads telephoneNumber (Graph businessPhones), "
                                               "which the snapshot's users do not carry (not fetched)")]


def test_an_unread_schemas_document_audits_what_was_fetched() -> None:
    from tests.support.snapshots import snapshot_from_tenant

    user = entra_user("one.user")
    snapshot = snapshot_from_tenant(small_tenant([user], [rc_account(user, "1", title="Other")]), NOW)
    result = reconcile(snapshot.__class__(**{**snapshot.__dict__, "scim_schemas": []}))
    assert rows(result) == [("attribute_mismatch", "id-one.user", "1", "title")]
    assert "/Schemas was not read" in " ".join(result.notes)


def test_telephone_number_is_business_phones_first_entry() -> None:
    schema = default_sync_schema("current")
    schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"].append(
        attribute_mapping('phoneNumbers[type eq "work"].value', "telephoneNumber"))
    user = entra_user("desk.phone", businessPhones=["+1 650 555 0199", "+1 650 555 0000"])
    result = audit(small_tenant([user], [rc_account(user, "1")], schema=schema))
    assert rows(result) == []  # RingCentral's work number +16505550199 is the same number
    assert result.expected.loc[0, 'phoneNumbers[type eq "work"].value'] == "+1 650 555 0199"


def test_single_app_role_assignment_reads_the_role_that_puts_the_user_in_scope() -> None:
    mapping = (*default_mapping("current"), AttributeMapping("title", "SingleAppRoleAssignment([appRoleAssignments])"))
    mapping = tuple(m for m in mapping if m.target != "title" or "SingleApp" in m.expression)
    admin, member = entra_user("an.admin"), entra_user("a.member")
    tenant = small_tenant([admin, member], [rc_account(admin, "1", title="Admin"), rc_account(member, "2",
                                                                                               title="Admin")],
                          assignments=[assign(admin["id"], ADMIN_ROLE), assign(member["id"])])
    assert rows(audit(tenant, mapping=mapping)) == [("attribute_mismatch", "id-a.member", "2", "title")]


# --- the findings table contract ----------------------------------------------------------------------------

def test_findings_columns_order_sorting_and_raw_values() -> None:
    users = [entra_user("b.user", jobTitle=None), entra_user("a.user"), entra_user("c.user", accountEnabled=False)]
    accounts = [rc_account(users[0], "2", title="Lead", mobile="+14155550111"),
                rc_account(users[2], "3"), rc_account(entra_user("z.orphan"), "9")]
    result = audit(small_tenant(users, accounts, assignments=[assign(u["id"]) for u in users]))
    frame = result.findings
    assert tuple(frame.columns) == COLUMNS
    assert list(zip(frame["severity"], frame["kind"], frame["user_name"], frame["attribute"], strict=True)) == [
        ("high", "orphan_in_target", "z.orphan@contoso.example", ""),
        ("high", "should_be_inactive", "c.user@contoso.example", ""),
        ("medium", "missing_in_target", "a.user@contoso.example", ""),
        ("low", "attribute_mismatch", "b.user@contoso.example", MOBILE),
        ("low", "attribute_mismatch", "b.user@contoso.example", "title"),
    ]
    assert all(str(frame[c].dtype) == "str" for c in COLUMNS if c != "waived") and frame["waived"].dtype == bool
    assert not frame.isna().any().any()


def test_raw_values_render_booleans_lowercase_and_lists_as_json() -> None:
    from rcaudit.audit.normalize import raw

    assert (raw(True), raw(False), raw(None), raw(("a", "b")), raw(["x"]), raw("As Is ")) == (
        "true", "false", "", '["a","b"]', '["x"]', "As Is ")
    mapping = tuple(m if m.target != "title" else AttributeMapping("title", 'Split([jobTitle], ",")')
                    for m in default_mapping("current"))
    user = entra_user("list.user", jobTitle="a,b")
    result = audit(small_tenant([user], [rc_account(user, "1", title="a")]), mapping=mapping)
    assert (result.findings.loc[0, "expected"], result.findings.loc[0, "actual"]) == ('["a","b"]', "a")


def test_to_dict_owns_sizes_scope_findings_and_not_audited() -> None:
    user = entra_user("one.user", jobTitle="X")
    result = audit(small_tenant([user, entra_user("two.user")], [rc_account(user, "1", title="Y")]))
    summary = result.to_dict()
    assert list(summary) == ["sizes", "scope", "findings", "not_audited", "data_quality", "settings"]
    assert summary["data_quality"] == []  # always present, empty when the answers are clean
    assert summary["findings"]["total"] == 2 and summary["findings"]["by_attribute"] == {"title": 1}
    assert summary["findings"]["by_kind"]["missing_in_target"] == 1
    assert summary["findings"]["by_severity"] == {"high": 0, "medium": 1, "low": 1}
    json.dumps(summary)  # plain data


def test_scope_mode_all_puts_every_user_in_scope() -> None:
    user = entra_user("not.assigned")
    result = audit(small_tenant([user], [], assignments=[]), scope_mode="all")
    assert rows(result) == [("missing_in_target", "id-not.assigned", "", "")]
    with pytest.raises(ConfigError, match="scope_mode"):  # a named setting error, no longer a bare ValueError
        audit(small_tenant([user], []), scope_mode="everyone")


def test_options_now_moves_the_grace_window_for_tests_only() -> None:
    import datetime as dt

    fresh = entra_user("fresh.hire", createdDateTime=minutes_ago(5))
    tenant = small_tenant([fresh], [])
    assert rows(audit(tenant)) == []
    later = audit(tenant, now=NOW + dt.timedelta(hours=1))
    assert rows(later) == [("missing_in_target", "id-fresh.hire", "", "")]


def test_reconcile_reads_the_mapping_from_the_snapshot_when_none_is_given() -> None:
    from tests.support.snapshots import snapshot_from_tenant

    user = entra_user("one.user")
    snapshot = snapshot_from_tenant(small_tenant([user], [rc_account(user, "1")]), NOW)
    result = reconcile(snapshot)
    assert result.mapping_source == "schema" and result.mapping == default_mapping("current")
    no_schema = reconcile(snapshot.__class__(**{**snapshot.__dict__, "schema": None}))
    assert no_schema.mapping_source == "default" and {n.attribute for n in no_schema.not_audited} == {
        "displayName", MANAGER}
    assert isinstance(result.options, AuditOptions)


def test_expressions_read_provisioning_names_and_is_soft_deleted_is_not_live() -> None:
    kept = [m for m in default_mapping("current") if m.target not in ("externalId", MOBILE)]
    mapping = (*kept, AttributeMapping("externalId", "[objectId]"),
               AttributeMapping(MOBILE, "Coalesce([mobile], [mail])"))
    live, disabled = entra_user("on.line"), entra_user("off.line", accountEnabled=False, mobilePhone=None)
    accounts = [rc_account(live, "1", externalId="id-on.line"),
                rc_account(disabled, "2", externalId="id-off.line", active=False, mobile=None)]
    result = audit(small_tenant([live, disabled], accounts), mapping=mapping)
    assert rows(result) == []  # disabled: not compared at all
    frame = result.expected.set_index("entra_id")
    assert frame.loc["id-on.line", "active"] == "True" and frame.loc["id-off.line", "active"] == "False"
    assert frame.loc["id-off.line", MOBILE] == "off.line@contoso.example"


def test_each_distinct_combination_of_inputs_is_evaluated_once() -> None:
    import numpy as np

    from rcaudit.audit.expressions import compile_expression
    from rcaudit.audit.reconcile import _evaluate

    calls: list[tuple] = []
    compiled = compile_expression('Join(" ", [givenName], [surname])')
    counting = compiled.__class__(compiled.text, compiled.references,
                                  lambda env: calls.append(tuple(env)) or compiled.evaluate(env), compiled.tree)
    given = np.array(["Ann", "Ann", "Bo", "Ann", None], dtype=object)
    family = np.array(["Lee", "Lee", "Lee", "Kim", None], dtype=object)
    assert _evaluate(counting, [given, family], 5).tolist() == ["Ann Lee", "Ann Lee", "Bo Lee", "Ann Kim", ""]
    assert sorted(calls, key=str) == sorted([("Ann", "Lee"), ("Bo", "Lee"), ("Ann", "Kim"), (None, None)], key=str)


def test_render_gives_a_short_text_summary() -> None:
    user = entra_user("one.user")
    text = audit(small_tenant([user], [])).render()
    assert "1 Entra users" in text and "missing_in_target 1" in text and "mapping from schema" in text
