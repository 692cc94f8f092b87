"""Scope: DESIGN.md's buckets, live, pending, and Entra's attribute scoping filters, each case written out."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from rcaudit.audit.scope import (
    FilterClause,
    ScopingFilters,
    compute_scope,
    filter_graph_properties,
    parse_scoping_filters,
    scoping_filters_from_schema,
)
from rcaudit.model.errors import MappingError
from rcaudit.sandbox.tenant.sync_schema import default_sync_schema
from tests.support.snapshots import (
    DEFAULT_ACCESS,
    MSIAM_ROLE,
    NOW,
    USER_ROLE,
    assign,
    audit,
    entra_user,
    minutes_ago,
    rc_account,
    rows,
    small_tenant,
    snapshot_from_tenant,
)


def scope_of(tenant: dict, mode: str = "assigned", filters=None, grace: float = 40):
    snapshot = snapshot_from_tenant(tenant, NOW)
    users = snapshot.users + snapshot.deleted_users
    deleted = np.array([False] * len(snapshot.users) + [True] * len(snapshot.deleted_users))
    return compute_scope(users, deleted, service_principal=snapshot.service_principal,
                         assignments=snapshot.app_role_assignments, group_members=snapshot.group_members,
                         group_transitive_members=snapshot.group_transitive_members,
                         cutoff=NOW - dt.timedelta(minutes=grace), mode=mode,
                         filters=parse_scoping_filters(filters) if filters is not None else None, with_roles=True)


def buckets(result) -> dict[str, str]:
    return dict(zip(result.ids, result.bucket.tolist(), strict=True))


def test_every_user_lands_in_exactly_one_bucket() -> None:
    names = ["direct", "via.group", "nested", "default", "msiam", "default.group", "nobody", "both"]
    users = {n: entra_user(n) for n in names}
    groups = [
        {"id": "g-assigned", "displayName": "Assigned", "members": ["id-via.group", "g-child"]},
        {"id": "g-child", "displayName": "Nested", "members": ["id-nested"]},
        {"id": "g-default", "displayName": "Default", "members": ["id-default.group"]},
    ]
    assignments = [
        assign("id-direct"), assign("g-assigned", kind="Group"), assign("id-default", DEFAULT_ACCESS),
        assign("id-msiam", MSIAM_ROLE), assign("g-default", DEFAULT_ACCESS, kind="Group"),
        assign("id-both", DEFAULT_ACCESS), assign("id-both", USER_ROLE),  # a real role wins
    ]
    result = scope_of(small_tenant(list(users.values()), [], assignments=assignments, groups=groups))
    assert buckets(result) == {
        "id-direct": "in_scope", "id-via.group": "in_scope", "id-nested": "nested_only",
        "id-default": "in_scope", "id-msiam": "in_scope", "id-default.group": "in_scope",
        "id-nobody": "unassigned", "id-both": "in_scope",
    }
    counts = result.counts()
    assert sum(counts[b] for b in ("in_scope", "filtered_out", "nested_only", "unassigned")) == len(users)


def test_default_access_is_in_scope_and_counted_apart() -> None:
    """Entra provisions Default Access like any role since July 2020 (the 2019 RingCentral tutorial predates
    that): such users are in scope, live, and `default_access` counts those in scope only through it."""
    users = [entra_user(n) for n in ("zero.role", "msiam", "via.group", "both", "direct")]
    groups = [{"id": "g-default", "displayName": "Default", "members": ["id-via.group"]}]
    assignments = [assign("id-zero.role", DEFAULT_ACCESS), assign("id-msiam", MSIAM_ROLE),
                   assign("g-default", DEFAULT_ACCESS, kind="Group"), assign("id-both", DEFAULT_ACCESS),
                   assign("id-both", USER_ROLE), assign("id-direct")]
    result = scope_of(small_tenant(users, [], assignments=assignments, groups=groups))
    assert set(result.bucket.tolist()) == {"in_scope"} and result.live.all()
    assert dict(zip(result.ids, result.default_access.tolist(), strict=True)) == {
        "id-zero.role": True, "id-msiam": True, "id-via.group": True, "id-both": False, "id-direct": False}
    assert result.counts()["default_access"] == 3 and result.counts()["in_scope"] == 5
    assert "msiam_access" not in sum(result.roles.values(), ())  # Default Access carries no role value


def test_a_default_access_user_without_an_account_is_missing() -> None:
    user = entra_user("default.only")
    tenant = small_tenant([user], [], assignments=[assign("id-default.only", DEFAULT_ACCESS)])
    assert rows(audit(tenant)) == [("missing_in_target", "id-default.only", "", "")]


def test_live_needs_scope_an_enabled_account_and_no_soft_delete() -> None:
    enabled, disabled, deleted = entra_user("on"), entra_user("off", accountEnabled=False), entra_user("gone")
    tenant = small_tenant([enabled, disabled], [], assignments=[assign("id-on"), assign("id-off"),
                                                                 assign("id-gone")], deleted=[deleted])
    result = scope_of(tenant)
    assert dict(zip(result.ids, result.live.tolist(), strict=True)) == {"id-on": True, "id-off": False,
                                                                        "id-gone": False}
    assert result.counts()["disabled"] == 2  # disabled and soft-deleted, both in scope
    assert result.counts()["live"] == 1


def test_scope_mode_all_takes_every_user_then_the_filters() -> None:
    users = [entra_user("a.one", department="Sales"), entra_user("b.two", department="Legal")]
    result = scope_of(small_tenant(users, [], assignments=[]), mode="all",
                      filters=[{"clauses": [{"attribute": "department", "operator": "EQUALS", "value": "Sales"}]}])
    assert buckets(result) == {"id-a.one": "in_scope", "id-b.two": "filtered_out"}
    assert result.filtered_out.tolist() == [False, True] and result.counts()["filtered_out"] == 1


def test_pending_is_a_live_user_created_or_first_put_in_scope_inside_the_window() -> None:
    users = [entra_user("new.user", createdDateTime=minutes_ago(5)), entra_user("new.assignment"),
             entra_user("new.group"), entra_user("old.user"), entra_user("re.assigned")]
    groups = [{"id": "g-new", "displayName": "New group", "members": ["id-new.group"]}]
    assignments = [assign("id-new.user"), assign("id-new.assignment", created=minutes_ago(30)),
                   assign("g-new", kind="Group", created=minutes_ago(1)), assign("id-old.user"),
                   assign("id-re.assigned", created=minutes_ago(2)),
                   assign("id-re.assigned", "role-admin")]  # the earliest assignment putting them in scope counts
    result = scope_of(small_tenant(users, [], assignments=assignments, groups=groups))
    assert dict(zip(result.ids, result.pending.tolist(), strict=True)) == {
        "id-new.user": True, "id-new.assignment": True, "id-new.group": True, "id-old.user": False,
        "id-re.assigned": False}
    assert scope_of(small_tenant(users, [], assignments=assignments, groups=groups), grace=0).pending.sum() == 0


def test_roles_are_the_values_of_the_roles_that_put_the_user_in_scope() -> None:
    users = [entra_user("admin.user"), entra_user("group.user")]
    groups = [{"id": "g", "displayName": "G", "members": ["id-group.user"]}]
    assignments = [assign("id-admin.user", "role-admin"), assign("g", kind="Group"),
                   assign("id-group.user", DEFAULT_ACCESS)]
    assert scope_of(small_tenant(users, [], assignments=assignments, groups=groups)).roles == {
        "id-admin.user": ("Admin",), "id-group.user": ("User",)}


# --- scoping filters ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("operator", "values", "value", "passes"), [
    ("EQUALS", ["Sales"], "Sales", True),
    ("EQUALS", ["Sales"], "sales", False),  # case-sensitive
    ("NOT EQUALS", ["Sales"], "Legal", True),
    ("NOT EQUALS", ["Sales"], None, False),  # every comparison is false on null
    ("NOT EQUALS", ["Sales"], "", False),  # … and on empty
    ("IS NULL", [], None, True),
    ("IS NULL", [], "", True),
    ("IS NULL", [], "x", False),
    ("IS NOT NULL", [], None, False),
    ("IS NOT NULL", [], "x", True),
    ("REGEX MATCH", [r".*\@contoso.example"], "a@contoso.example", True),
    ("REGEX MATCH", ["^A"], "abc", False),
    ("NOT REGEX MATCH", ["^A"], "abc", True),
    ("NOT REGEX MATCH", ["^A"], None, False),
    ("Greater_Than", ["1000000"], "1500000", True),
    ("Greater_Than", ["1000000"], "1000000", False),
    ("Greater_Than_OR_EQUALS", ["1000000"], "1000000", True),
    ("Less_Than", ["10"], "9", True),
    ("Less_Than_OR_EQUALS", ["10"], "11", False),
    ("Greater_Than", ["10"], "ten", False),  # not an integer
    ("Includes", ["ale"], "Sales", True),
    ("Includes", ["ALE"], "Sales", False),
    ("ENDS_WITH", ["@contoso.example"], "a@contoso.example", True),
    ("IS TRUE", [], True, True),
    ("IS FALSE", [], True, False),
    ("&", ["Sales,Legal"], "Legal", True),
    ("!&", ["Sales", "Legal"], "Legal", False),
])
def test_each_operator_with_entras_null_semantics(operator, values, value, passes) -> None:
    assert FilterClause("department", operator, tuple(values)).test(value) is passes


def test_operator_names_are_read_in_graph_and_portal_spellings() -> None:
    assert FilterClause("x", "GREATER_THAN_OR_EQUALS", ("1",)).operator == "Greater_Than_OR_EQUALS"
    assert FilterClause("x", "isNotNull").operator == "IS NOT NULL"
    with pytest.raises(MappingError, match="unknown operator 'LIKE'"):
        FilterClause("x", "LIKE", ("a",))
    with pytest.raises(MappingError, match="EQUALS needs a value"):
        FilterClause("department", "EQUALS")


def test_clauses_are_anded_within_a_filter_and_filters_ored() -> None:
    filters = parse_scoping_filters([
        {"name": "US sales", "clauses": [{"attribute": "department", "operator": "EQUALS", "value": "Sales"},
                                         {"attribute": "country", "operator": "EQUALS", "value": "US"}]},
        {"name": "Any engineer", "clauses": [{"attribute": "jobTitle", "operator": "Includes",
                                              "values": ["Engineer"]}]},
    ])
    assert filters.test({"department": "Sales", "country": "US", "jobTitle": "Rep"})
    assert not filters.test({"department": "Sales", "country": "SE", "jobTitle": "Rep"})
    assert filters.test({"department": "Legal", "country": "SE", "jobTitle": "Staff Engineer"})
    assert filters.attributes == ("department", "country", "jobTitle")


def test_filters_read_provisioning_names() -> None:
    clause = parse_scoping_filters([{"clauses": [{"attribute": "mobile", "operator": "IS NOT NULL"}]}])
    assert clause.test({"mobilePhone": "+1"}) and not clause.test({"mobilePhone": None})
    assert filter_graph_properties(parse_scoping_filters([{"clauses": [
        {"attribute": "telephoneNumber", "operator": "IS NULL"}, {"attribute": "department", "operator": "IS NULL"}]}
    ])) == ["businessPhones", "department"]


def _schema_with_scope(scope: dict) -> dict:
    schema = default_sync_schema("current")
    schema["synchronizationRules"][0]["objectMappings"][0]["scope"] = scope
    return schema


GRAPH_SCOPE = {
    "categoryFilterGroups": [],
    "inputFilterGroups": [],
    "groups": [{"name": "Sales only", "clauses": [
        {"sourceOperandName": "department", "operatorName": "EQUALS", "targetOperand": {"values": ["Sales"]}}]}],
}


def test_the_live_schemas_filters_apply_and_out_of_scope_accounts_should_be_inactive() -> None:
    seller, lawyer = entra_user("s.one", department="Sales"), entra_user("l.one", department="Legal")
    tenant = small_tenant([seller, lawyer], [rc_account(seller, "1", department="Sales"), rc_account(lawyer, "2")],
                          schema=_schema_with_scope(GRAPH_SCOPE))
    result = audit(tenant)
    assert rows(result) == [("should_be_inactive", "id-l.one", "2", "")]
    assert "fails the scoping filters" in result.findings.loc[0, "reason"]
    assert result.scope["in_scope"] == 1 and result.scope["filtered_out"] == 1 and result.scope["unassigned"] == 0
    assert result.scoping_filters.source == "schema"


def test_configured_filters_override_the_schemas() -> None:
    seller, lawyer = entra_user("s.one", department="Sales"), entra_user("l.one", department="Legal")
    tenant = small_tenant([seller, lawyer], [], schema=_schema_with_scope(GRAPH_SCOPE))
    result = audit(tenant, scoping_filters=[{"clauses": [{"attribute": "department", "operator": "EQUALS",
                                                          "value": "Legal"}]}])
    assert rows(result) == [("missing_in_target", "id-l.one", "", "")]


def test_graph_filter_sets_must_all_pass() -> None:
    filters = scoping_filters_from_schema(_schema_with_scope({
        **GRAPH_SCOPE, "inputFilterGroups": [{"name": "Members", "clauses": [
            {"sourceOperandName": "userType", "operatorName": "EQUALS", "targetOperand": {"values": ["Member"]}}]}]}))
    assert len(filters.sets) == 2
    assert filters.test({"department": "Sales", "userType": "Member"})
    assert not filters.test({"department": "Sales", "userType": "Guest"})
    assert not ScopingFilters() and scoping_filters_from_schema(default_sync_schema("current")).sets == ()


def test_a_filter_on_an_attribute_the_snapshot_lacks_is_false_not_an_error() -> None:
    filters = parse_scoping_filters([{"clauses": [{"attribute": "extensionAttribute1", "operator": "EQUALS",
                                                   "value": "x"}]}])
    assert not filters.test({"department": "Sales"})


def test_malformed_filters_are_refused() -> None:
    with pytest.raises(MappingError, match="needs sourceOperandName"):
        parse_scoping_filters([{"clauses": [{"operator": "EQUALS"}]}])
    with pytest.raises(MappingError, match="list of filters"):
        parse_scoping_filters("department eq Sales")
    with pytest.raises(MappingError, match="computed attribute IsSoftDeleted"):
        parse_scoping_filters([{"clauses": [{"attribute": "IsSoftDeleted", "operator": "IS TRUE"}]}]).test({})
