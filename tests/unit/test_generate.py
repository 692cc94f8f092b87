"""The tenant generator: realism, determinism, and a truth that honours DESIGN.md's audit rules.

The truth is checked against a small, independent reading of each rule written here (not the audit
engine): scope buckets, the two-pass join, the classification table, the grace window, and attribute
comparison with the "not drift" normalisers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

import phonenumbers
import pycountry
import pytest

from rcaudit.sandbox.tenant.generate import ENTERPRISE, TruthRow, generate, read_truth_csv

NOW = dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)
GRACE = dt.timedelta(minutes=40)
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
KINDS = ("ambiguous_match", "missing_in_target", "orphan_in_target", "should_be_inactive", "should_be_active",
         "attribute_mismatch")
TRAPS = ("case", "whitespace", "phone_format", "country_code_vs_name", "rc_owned_phones", "empty_vs_absent",
         "disabled_never_provisioned", "correctly_deactivated", "inactive_orphan", "pending", "pending_activation",
         "default_access_provisioned")


@pytest.fixture(scope="module")
def company():
    return generate(2000, seed=3, now=NOW)


@pytest.fixture(scope="module")
def classic():
    return generate(800, seed=5, now=NOW, schema_profile="classic")


# --- an independent reading of the rules ---------------------------------------------------------

def _when(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _scope(graph: dict[str, Any]) -> tuple[set[str], dict[str, dt.datetime]]:
    """In-scope user ids and, for each, the earliest assignment putting them in scope (any role: Default Access
    has been provisioned like every other role since July 2020)."""
    members = {g["id"]: g["members"] for g in graph["groups"]}
    user_ids = {u["id"] for u in graph["users"]}
    earliest: dict[str, dt.datetime] = {}
    for a in graph["appRoleAssignments"]:
        targets = [a["principalId"]] if a["principalType"] == "User" else members.get(a["principalId"], [])
        for target in targets:
            if target in user_ids:  # direct members only: a nested group's members are not in scope
                at = _when(a["createdDateTime"])
                earliest[target] = min(at, earliest.get(target, at))
    return set(earliest), earliest


def _key(value: Any) -> str:
    return str(value or "").strip().casefold()


def _join(tenant: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """DESIGN.md's two passes: accounts per Entra user, Entra users per account (a soft-deleted user's UPN
    without the `<object id without dashes>` prefix Entra puts in front of it)."""
    graph = tenant["graph"]
    everyone = graph["users"] + graph["deletedUsers"]
    by_name = {_key(u["userPrincipalName"]): u["id"] for u in graph["users"]}
    by_name.update({_key(u["userPrincipalName"]).removeprefix(u["id"].replace("-", "")): u["id"]
                    for u in graph["deletedUsers"]})
    by_nick: dict[str, list[str]] = {}
    for u in everyone:
        by_nick.setdefault(_key(u["mailNickname"]), []).append(u["id"])
    accounts_of: dict[str, list[str]] = {}
    users_of: dict[str, list[str]] = {}
    for acct in tenant["scim"]["Users"]:
        hits = [by_name[_key(acct["userName"])]] if _key(acct["userName"]) in by_name else \
            by_nick.get(_key(acct.get("externalId")), []) if acct.get("externalId") else []
        users_of[acct["id"]] = hits
        for uid in hits:
            accounts_of.setdefault(uid, []).append(acct["id"])
    return accounts_of, users_of


def _norm_text(value: Any) -> str | None:
    text = " ".join(str(value).split()) if value not in (None, "", []) else ""
    return text or None


def _country(value: Any) -> str | None:
    text = _norm_text(value)
    return pycountry.countries.lookup(text).alpha_2 if text else None


def _phone(value: Any, region: str | None) -> str | None:
    text = _norm_text(value)
    if not text:
        return None
    return phonenumbers.format_number(phonenumbers.parse(text, region), phonenumbers.PhoneNumberFormat.E164)


def _audited_pairs(profile: str) -> list[tuple[str, str]]:
    pairs = [("userName", "userPrincipalName"), ("externalId", "mailNickname"), ("title", "jobTitle"),
             ('emails[type eq "work"].value', "mail"), ("name.givenName", "givenName"),
             ("name.familyName", "surname"), ('phoneNumbers[type eq "mobile"].value', "mobilePhone"),
             (f"{ENTERPRISE}:department", "department")]
    pairs += [(f'addresses[type eq "work"].{part}', source) for part, source in
              (("country", "country"), ("region", "state"), ("locality", "city"), ("postalCode", "postalCode"),
               ("streetAddress", "streetAddress"))]
    if profile == "classic":
        pairs.append(("displayName", "displayName"))
    return pairs


def _actual(acct: dict[str, Any], path: str) -> Any:
    if path.startswith("emails"):
        return next((e.get("value") for e in acct.get("emails", []) if e.get("type") == "work"), None)
    if path.startswith("phoneNumbers"):
        return next((p.get("value") for p in acct.get("phoneNumbers", []) if p.get("type") == "mobile"), None)
    if path.startswith("addresses"):
        address = next((a for a in acct.get("addresses", []) if a.get("type") == "work"), {})
        return address.get(path.rsplit(".", 1)[1])
    if path.startswith(ENTERPRISE):
        return acct.get(ENTERPRISE, {}).get(path.rsplit(":", 1)[1])
    if path.startswith("name."):
        return acct.get("name", {}).get(path.split(".")[1])
    return acct.get(path)


def _differs(path: str, expected: Any, actual: Any, user: dict[str, Any]) -> bool:
    if path.endswith(".country"):
        return _country(expected) != _country(actual)
    if path.startswith("phoneNumbers"):
        region = user.get("usageLocation") or _country(user.get("country"))
        return _phone(expected, region) != _phone(actual, region)
    left, right = _norm_text(expected), _norm_text(actual)
    if path in ("userName", 'emails[type eq "work"].value'):
        return (left or "").casefold() != (right or "").casefold()
    return left != right


def expected_truth(tenant: dict[str, Any], now: dt.datetime) -> set[TruthRow]:
    graph = tenant["graph"]
    profile = tenant["sandbox"]["schemaProfile"]
    in_scope, earliest = _scope(graph)
    users = {u["id"]: u for u in graph["users"] + graph["deletedUsers"]}
    deleted = {u["id"] for u in graph["deletedUsers"]}
    live = {uid for uid in in_scope if users[uid]["accountEnabled"] and uid not in deleted}
    accounts = {a["id"]: a for a in tenant["scim"]["Users"]}
    accounts_of, users_of = _join(tenant)
    rows: set[TruthRow] = set()
    ambiguous = {aid for uid, aids in accounts_of.items() if len(aids) > 1 for aid in aids}
    ambiguous |= {aid for aid, uids in users_of.items() if len(uids) > 1}
    for aid in ambiguous:
        involved = set(users_of[aid]) | {u for u, aids in accounts_of.items() if aid in aids}
        rows.add(TruthRow("ambiguous_match", ";".join(sorted(involved)), aid))
    cutoff = now - GRACE
    for uid in live:
        pending = _when(users[uid]["createdDateTime"]) > cutoff or earliest[uid] > cutoff
        if not accounts_of.get(uid) and not pending:
            rows.add(TruthRow("missing_in_target", uid, ""))
    paired_live: dict[str, str] = {}
    for aid, acct in accounts.items():
        if aid in ambiguous:
            continue
        uids = users_of[aid]
        if not uids:
            if acct.get("active"):
                rows.add(TruthRow("orphan_in_target", "", aid))
            continue
        uid = uids[0]
        if uid not in live:
            if acct.get("active"):
                rows.add(TruthRow("should_be_inactive", uid, aid))
            continue
        paired_live[aid] = uid
        created = _when(acct["meta"]["created"])
        if not acct.get("active") and created <= cutoff:
            rows.add(TruthRow("should_be_active", uid, aid))
    for aid, uid in paired_live.items():
        user, acct = users[uid], accounts[aid]
        for path, source in _audited_pairs(profile):
            if _differs(path, user.get(source), _actual(acct, path), user):
                rows.add(TruthRow("attribute_mismatch", uid, aid, path))
        if profile == "classic":
            manager = (user.get("manager") or {}).get("id")
            boss_accounts = [a for a in accounts_of.get(manager, []) if a not in ambiguous] if manager else []
            expected = boss_accounts[0] if len(boss_accounts) == 1 and len(accounts_of[manager]) == 1 else None
            actual = (accounts[aid].get(ENTERPRISE, {}).get("manager") or {}).get("value")
            if (manager is None and actual) or (expected is not None and actual != expected):
                rows.add(TruthRow("attribute_mismatch", uid, aid, f"{ENTERPRISE}:manager"))
    return rows


# --- tests ---------------------------------------------------------------------------------------

def test_truth_follows_the_audit_rules(company) -> None:
    assert set(company.truth) == expected_truth(company.tenant, NOW)


def test_truth_follows_the_rules_under_the_classic_profile(classic) -> None:
    truth = set(classic.truth)
    assert truth == expected_truth(classic.tenant, NOW)
    attributes = {r.attribute for r in truth}
    assert f"{ENTERPRISE}:manager" in attributes and "displayName" in attributes


def test_every_kind_and_every_trap_is_present_several_times_at_2000_users(company) -> None:
    kinds = Counter(r.kind for r in company.truth)
    assert all(kinds[k] >= 3 for k in KINDS), kinds
    assert all(len(company.traps.get(t, ())) >= 3 for t in TRAPS), {t: len(company.traps.get(t, ())) for t in TRAPS}
    attributes = Counter(r.attribute for r in company.truth if r.kind == "attribute_mismatch")
    for path in ("title", "name.familyName", 'phoneNumbers[type eq "mobile"].value', "userName",
                 f"{ENTERPRISE}:department", 'addresses[type eq "work"].locality'):
        assert attributes[path] >= 3, (path, attributes)


def test_traps_carry_no_finding(company) -> None:
    flagged = {r.entra_id for r in company.truth} | {r.scim_id for r in company.truth}
    for trap in ("case", "whitespace", "empty_vs_absent", "disabled_never_provisioned", "correctly_deactivated",
                 "inactive_orphan", "pending", "pending_activation"):
        assert not flagged & set(company.traps[trap]), trap


def test_same_seed_and_now_give_the_same_tenant() -> None:
    first, again = generate(300, seed=9, now=NOW), generate(300, seed=9, now=NOW)
    assert json.dumps(first.tenant) == json.dumps(again.tenant) and first.truth == again.truth
    assert json.dumps(generate(300, seed=10, now=NOW).tenant) != json.dumps(first.tenant)


def test_it_looks_like_a_company(company) -> None:
    graph, accounts = company.tenant["graph"], company.tenant["scim"]["Users"]
    users = graph["users"]
    assert {u["usageLocation"] for u in users} >= {"US", "GB", "DE", "SE"}
    assert any(not u["displayName"].isascii() for u in users)
    countries = {u["country"] for u in users}
    assert {"US", "United States", "SE", "Sweden"} <= countries
    assert {a["addresses"][0]["country"] for a in accounts if a.get("addresses")} == {
        "United States", "United Kingdom", "Germany", "Sweden"}
    typed = [u["mobilePhone"] for u in users if u.get("mobilePhone")]
    assert sum(not m.startswith("+") for m in typed) > len(typed) / 3  # national formats, as people type them
    assert any("(" in m for m in typed) and any("-" in m for m in typed)
    for acct in accounts:
        types = [p["type"] for p in acct["phoneNumbers"]]
        assert "work" in types and "other" in types  # RingCentral's own numbers
        assert all(p["value"].startswith("+") for p in acct["phoneNumbers"] if p["type"] in ("work", "mobile"))
        assert all(e.get("primary") is False for e in acct["emails"])
        assert acct["meta"]["location"].endswith(acct["id"])
    assert sum(1 for u in users if u.get("manager")) > len(users) * 0.9
    for user in graph["deletedUsers"]:
        assert user["userPrincipalName"].startswith(user["id"].replace("-", ""))
        assert user["deletedDateTime"]
    groups = {g["id"]: g for g in graph["groups"]}
    assigned = {a["principalId"] for a in graph["appRoleAssignments"] if a["principalType"] == "Group"}
    assert any(m in groups for g in assigned for m in groups[g]["members"])  # a nested group inside
    assert any(a["appRoleId"] == DEFAULT_ACCESS for a in graph["appRoleAssignments"])
    assert all(a["createdDateTime"] for a in graph["appRoleAssignments"])
    job = graph["synchronizationJob"]
    assert job["status"]["code"] == "Active" and job["schema"]["synchronizationRules"]
    failures = [e for e in graph["provisioningEvents"] if e["provisioningStatusInfo"]["status"] == "failure"]
    flagged = {r.entra_id for r in company.truth}
    assert failures and all(e["sourceIdentity"]["id"] in flagged for e in failures)


@pytest.mark.parametrize("status", ["Paused", "Quarantine"])
def test_job_status_can_be_paused_or_quarantined(status: str) -> None:
    job = generate(100, seed=1, now=NOW, job_status=status).tenant["graph"]["synchronizationJob"]
    assert job["status"]["code"] == status
    assert (job["status"]["quarantine"] is not None) == (status == "Quarantine")


def test_too_many_deletes_is_a_quarantine_whose_held_disables_are_staged_deletes() -> None:
    generated = generate(300, seed=1, now=NOW, job_status="TooManyDeletes")
    status = generated.tenant["graph"]["synchronizationJob"]["status"]
    assert status["code"] == "Quarantine" and status["quarantine"]["reason"] == "TooManyDeletes"
    staged = {e["sourceIdentity"]["id"] for e in generated.tenant["graph"]["provisioningEvents"]
              if e["provisioningAction"] == "StagedDelete"}
    held = {t.entra_id for t in generated.truth if t.cause == "deletion_threshold"}
    assert held and held == staged
    assert {t.kind for t in generated.truth if t.cause == "deletion_threshold"} == {"should_be_inactive"}


def test_cli_save_writes_the_tenant_and_its_truth(tmp_path) -> None:
    from rcaudit.cli import main

    target = tmp_path / "tenant.json"
    assert main(["sandbox", "--users", "200", "--seed", "2", "--save", str(target)]) == 0
    saved = json.loads(target.read_text())
    assert len(saved["graph"]["users"]) + len(saved["graph"]["deletedUsers"]) == 200
    assert saved["sandbox"]["clients"]  # credentials included, so the file can be served again
    rows = read_truth_csv(tmp_path / "truth.csv")
    assert sorted(rows) == sorted(generate(200, seed=2).truth)


# --- each rule, one planted case written out ------------------------------------------------------

def _by_id(company) -> tuple[dict, dict]:
    graph = company.tenant["graph"]
    users = {u["id"]: u for u in graph["users"] + graph["deletedUsers"]}
    return users, {a["id"]: a for a in company.tenant["scim"]["Users"]}


def _rows(company, kind: str) -> list[TruthRow]:
    return [r for r in company.truth if r.kind == kind]


def test_a_soft_deleted_user_still_active_pairs_through_external_id(company) -> None:
    users, accounts = _by_id(company)
    deleted = {u["id"] for u in company.tenant["graph"]["deletedUsers"]}
    row = next(r for r in _rows(company, "should_be_inactive")
               if r.entra_id in deleted and "externalId" in accounts[r.scim_id])
    user, account = users[row.entra_id], accounts[row.scim_id]
    assert user["userPrincipalName"] == user["id"].replace("-", "") + account["userName"]  # Entra's rewrite
    assert account["externalId"] == user["mailNickname"] and account["active"] is True


def test_a_rename_is_a_mismatch_on_the_names_not_a_new_user(company) -> None:
    users, accounts = _by_id(company)
    by_account: dict[str, set[str]] = {}
    for r in _rows(company, "attribute_mismatch"):
        by_account.setdefault(r.scim_id, set()).add(r.attribute)
    renamed = [a for a, attrs in by_account.items() if "userName" in attrs]
    assert len(renamed) >= 3
    for scim_id in renamed:
        assert by_account[scim_id] == {"userName", 'emails[type eq "work"].value', "name.familyName"}
        account = accounts[scim_id]
        user = next(users[r.entra_id] for r in company.truth if r.scim_id == scim_id)
        assert account["userName"].casefold() != user["userPrincipalName"].casefold()
        assert account["externalId"] == user["mailNickname"]


def test_an_old_account_left_by_a_rename_makes_both_accounts_ambiguous(company) -> None:
    _, accounts = _by_id(company)
    rows = _rows(company, "ambiguous_match")
    per_user: dict[str, list[str]] = {}
    for r in rows:
        per_user.setdefault(r.entra_id, []).append(r.scim_id)
    assert len(per_user) >= 3 and all(len(ids) == 2 for ids in per_user.values())
    for ids in per_user.values():
        old, new = (accounts[i] for i in ids)
        assert old["externalId"] == new["externalId"] and old["userName"] != new["userName"]
    flagged = {r.scim_id for r in company.truth if r.kind != "ambiguous_match"}
    assert not flagged & {r.scim_id for r in rows}  # no other row for accounts involved


def test_pending_users_and_pending_activations_are_inside_the_grace_window(company) -> None:
    users, accounts = _by_id(company)
    assigned = {}
    for a in company.tenant["graph"]["appRoleAssignments"]:
        assigned.setdefault(a["principalId"], []).append(_when(a["createdDateTime"]))
    for uid in company.traps["pending"]:
        recent = [_when(users[uid]["createdDateTime"]), *assigned.get(uid, [])]
        assert max(recent) > NOW - GRACE
    for scim_id in company.traps["pending_activation"]:
        account = accounts[scim_id]
        assert account["active"] is False and _when(account["meta"]["created"]) > NOW - GRACE


def test_out_of_scope_users_with_active_accounts_should_be_inactive(company) -> None:
    graph = company.tenant["graph"]
    in_scope, _ = _scope(graph)
    default_access = {a["principalId"] for a in graph["appRoleAssignments"]
                      if a["appRoleId"] == DEFAULT_ACCESS or a["appRoleId"] in
                      {r["id"] for r in graph["servicePrincipal"]["appRoles"] if r["displayName"] == "msiam_access"}}
    nested = {m for g in graph["groups"] if "nested" in g["displayName"] for m in g["members"]}
    rows = {r.entra_id for r in _rows(company, "should_be_inactive")}
    live_ids = {u["id"] for u in graph["users"]}
    assert rows & (nested - in_scope)
    assert rows & (live_ids - in_scope - nested)  # unassigned
    assert default_access <= in_scope and not rows & default_access  # Default Access is in scope: not leavers
    missing = {r.entra_id for r in _rows(company, "missing_in_target")}
    assert missing & default_access  # and a Default Access user without an account is missing
    disabled = {u["id"] for u in graph["users"] if not u["accountEnabled"]}
    assert rows & (disabled & in_scope)


def test_deleted_users_accounts_without_external_id_are_still_should_be_inactive(company) -> None:
    """Accounts made before externalId was mapped pair on userName only, through the restored UPN."""
    deleted = {u["id"] for u in company.tenant["graph"]["deletedUsers"]}
    accounts = {a["id"]: a for a in company.tenant["scim"]["Users"]}
    rows = [r for r in _rows(company, "should_be_inactive") if r.entra_id in deleted]
    assert any("externalId" not in accounts[r.scim_id] for r in rows)
    assert not {r.scim_id for r in _rows(company, "orphan_in_target")} & {r.scim_id for r in rows}
