"""The Graph v1.0 emulator, over real HTTPS: paging, $select/$expand, lookups, sync job and schema, logs, auth."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import math
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests

from rcaudit.model.vocabulary import ACTIVE_EXPRESSION, ENTERPRISE
from rcaudit.sandbox import Sandbox, builtin_tenant
from rcaudit.sandbox.servers.tokens import GRAPH_AUDIENCE, RC_AUDIENCE
from rcaudit.sandbox.tenant.sync_schema import default_sync_schema, mapping_pairs

_NS = uuid.UUID("0b6f3f7e-52c4-4b8e-9d0a-2f6c1e8d4a11")
DOMAIN = "contoso.example"
SYNTHETIC = 320
JOB_A = "ringCentral.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
JOB_B = "ringCentral.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
EVENTS_FROM = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
GUEST_UPN = f"guest_fabrikam.example#EXT#@{DOMAIN}"
DEFAULT_USER_KEYS = {"businessPhones", "displayName", "givenName", "id", "jobTitle", "mail", "mobilePhone",
                     "officeLocation", "preferredLanguage", "surname", "userPrincipalName"}


def _id(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


def _stamp(hours: int) -> str:
    return (EVENTS_FROM + dt.timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def _big_tenant() -> dict[str, Any]:
    """The built-in tenant plus 320 users (every third with a manager), 23 deleted users, three nested groups
    in a cycle (A ⊃ B ⊃ C ⊃ A), ~270 assignments and 140 provisioning events over two jobs."""
    tenant = builtin_tenant()
    graph = tenant["graph"]
    users: list[dict[str, Any]] = graph["users"]
    for n in range(SYNTHETIC):
        nick = f"user{n:03d}"
        user = {
            "id": _id(nick), "userPrincipalName": f"{nick}@{DOMAIN}", "mailNickname": nick,
            "displayName": f"User {n:03d}", "givenName": "User", "surname": f"{n:03d}",
            "jobTitle": None if n % 5 == 0 else "Agent", "mail": f"{nick}@{DOMAIN}", "mobilePhone": None,
            "businessPhones": [], "department": "Operations", "city": "Oslo", "country": "NO",
            "accountEnabled": n % 11 != 0, "userType": "Member", "createdDateTime": "2025-06-01T10:00:00Z",
        }
        if n % 3 == 1:
            user["manager"] = {"id": _id(f"user{n // 3:03d}")}
        users.append(user)
    users.append({"id": _id("guest"), "userPrincipalName": GUEST_UPN, "mailNickname": "guest_fabrikam.example",
                  "displayName": "Guest", "mail": "guest@fabrikam.example", "accountEnabled": True,
                  "userType": "Guest", "businessPhones": []})
    graph["deletedUsers"] = [
        {"id": _id(f"gone{n}"), "userPrincipalName": f"{_id(f'gone{n}').replace('-', '')}gone{n}@{DOMAIN}",
         "mailNickname": f"gone{n}", "displayName": f"Gone {n}", "accountEnabled": False, "businessPhones": [],
         "deletedDateTime": f"2026-02-{1 + n:02d}T08:00:00Z"}
        for n in range(23)
    ]
    group_a, group_b, group_c = _id("group:a"), _id("group:b"), _id("group:c")
    graph["groups"] += [
        {"id": group_a, "displayName": "Tier A", "members": [_id(f"user{n:03d}") for n in range(150)] + [group_b]},
        {"id": group_b, "displayName": "Tier B", "mailNickname": "tierb",
         "members": [_id(f"user{n:03d}") for n in range(100, 220)] + [group_c]},
        {"id": group_c, "displayName": "Tier C",
         "members": [_id(f"user{n:03d}") for n in range(200, 260)] + [group_a, _id("gone3")]},
    ]
    role = graph["servicePrincipal"]["appRoles"][0]["id"]
    graph["appRoleAssignments"] += [
        {"principalId": _id(f"user{n:03d}"), "principalType": "User", "appRoleId": role,
         "createdDateTime": "2025-06-02T10:00:00Z"}  # no id and no display name: the emulator fills both
        for n in range(0, 265)
    ]
    graph["provisioningEvents"] = [
        {"id": _id(f"event{n}"), "activityDateTime": _stamp(n),
         "tenantId": graph["tenantId"], "jobId": JOB_A if n % 4 else JOB_B, "cycleId": _id(f"cycle{n // 10}"),
         "changeId": _id(f"change{n}"), "provisioningAction": "update", "durationInMilliseconds": 1200 + n,
         "provisioningStatusInfo": {"status": "success", "errorInformation": None},
         "sourceIdentity": {"id": _id(f"user{n:03d}"), "displayName": f"User {n:03d}", "identityType": "User",
                            "details": {}},
         "targetIdentity": {"id": str(1300000000 + n), "displayName": "", "identityType": "User", "details": {}},
         "provisioningSteps": [], "modifiedProperties": []}
        for n in range(140)
    ]
    return tenant


@pytest.fixture(scope="module")
def tenant() -> dict[str, Any]:
    return copy.deepcopy(_big_tenant())


@pytest.fixture(scope="module")
def sandbox(tenant: dict[str, Any]) -> Iterator[Sandbox]:
    """One sandbox for the read-only tests of this module (tests that change state use `_open`)."""
    with Sandbox(tenant) as running:
        yield running


def _mint(sandbox: Sandbox, **claims: Any) -> str:
    """A Graph token as the login emulator issues them (client credentials, app-only)."""
    client = sandbox.client
    values = {"tid": sandbox.tenant_id, "appid": client["clientId"], "idtyp": "app", **claims}
    return sandbox.state.tokens.issue(GRAPH_AUDIENCE, client["clientId"], **values)


def _login(sandbox: Sandbox, session: requests.Session, client: dict[str, Any] | None = None) -> str:
    """A Graph token from the login emulator's token endpoint (client credentials with the secret)."""
    client = client or sandbox.client
    answer = session.post(f"{sandbox.authority}/{sandbox.tenant_id}/oauth2/v2.0/token",
                          data={"client_id": client["clientId"], "client_secret": client["secret"],
                                "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@contextlib.contextmanager
def _open(tenant: dict[str, Any]) -> Iterator[tuple[Sandbox, requests.Session]]:
    """A sandbox of its own for a test that changes state, with a session carrying a Graph token."""
    with Sandbox(tenant) as running, requests.Session() as session:
        session.trust_env = False
        session.verify = str(running.ca_file)
        session.headers["Authorization"] = f"Bearer {_login(running, session)}"
        yield running, session


@pytest.fixture
def graph(http: requests.Session, graph_token: str) -> requests.Session:
    """The `http` session carrying a Graph token from the login emulator."""
    http.headers["Authorization"] = f"Bearer {graph_token}"
    return http


def _get(session: requests.Session, sandbox: Sandbox, path: str, **kwargs: Any) -> requests.Response:
    return session.get(sandbox.graph_url + path, **kwargs)


def _walk(session: requests.Session, url: str, size: int) -> tuple[list[dict[str, Any]], int]:
    """Follow @odata.nextLink to the end; every page but the last is full and keeps the query."""
    items: list[dict[str, Any]] = []
    pages = 0
    first_query = dict(parse_qsl(urlsplit(url).query))
    first_query.pop("$skiptoken", None)
    while url:
        answer = session.get(url)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        pages += 1
        url = body.get("@odata.nextLink")
        if url:
            assert len(body["value"]) == size
            query = dict(parse_qsl(urlsplit(url).query))
            token = query.pop("$skiptoken")
            assert not token.isdigit() and len(token) > 16
            assert query == first_query
        else:
            assert 0 < len(body["value"]) <= size or pages == 1
        items += body["value"]
    return items, pages


# --- expectations computed straight from the tenant ---------------------------------------------------------
def _transitive_ids(tenant: dict[str, Any], group_id: str) -> list[str]:
    graph = tenant["graph"]
    groups = {g["id"]: g for g in graph["groups"]}
    live = {u["id"] for u in graph["users"]} | set(groups)
    seen, out, queue = {group_id}, [], list(groups[group_id]["members"])
    while queue:
        member = queue.pop(0)
        if member in seen:
            continue
        seen.add(member)
        if member in live:
            out.append(member)
            queue += groups.get(member, {}).get("members", [])
    return out


def _expected(tenant: dict[str, Any], collection: str) -> tuple[str, list[str]]:
    graph = tenant["graph"]
    sp = graph["servicePrincipal"]["id"]
    group_a = _id("group:a")
    return {
        "users": ("/users", [u["id"] for u in graph["users"]]),
        "assignments": (f"/servicePrincipals/{sp}/appRoleAssignedTo", [None] * len(graph["appRoleAssignments"])),
        "members": (f"/groups/{group_a}/members", list(graph["groups"][1]["members"])),
        "transitive": (f"/groups/{group_a}/transitiveMembers", _transitive_ids(tenant, group_a)),
        "deleted": ("/directory/deletedItems/microsoft.graph.user", [u["id"] for u in graph["deletedUsers"]]),
        "provisioning": ("/auditLogs/provisioning", [e["id"] for e in graph["provisioningEvents"]]),
    }[collection]


# --- paging -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("collection", ["users", "assignments", "members", "transitive", "deleted", "provisioning"])
@pytest.mark.parametrize("size", [1, 7, 100, 999])
def test_paging_returns_every_object_exactly_once(sandbox: Sandbox, graph: requests.Session, tenant: dict[str, Any],
                                                  collection: str, size: int) -> None:
    path, expected = _expected(tenant, collection)
    items, pages = _walk(graph, f"{sandbox.graph_url}{path}?$top={size}", size)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == len(expected)
    if collection == "assignments":  # ids generated by the emulator: pair them back by principal
        assert sorted(i["principalId"] for i in items) == sorted(a["principalId"]
                                                                for a in tenant["graph"]["appRoleAssignments"])
    else:
        assert set(ids) == set(expected)
    assert pages == math.ceil(len(expected) / size)


def test_default_page_is_100_and_walk_survives_a_deletion_mid_walk(tenant: dict[str, Any]) -> None:
    with _open(tenant) as (sandbox, graph):
        _deletion_mid_walk(sandbox, graph)


def _deletion_mid_walk(sandbox: Sandbox, graph: requests.Session) -> None:
    first = _get(graph, sandbox, "/users").json()
    assert len(first["value"]) == 100 and first["@odata.nextLink"]
    # delete a user already served: the next page must neither skip nor repeat anyone
    with sandbox.state.lock:
        users = sandbox.state.graph["users"]
        gone = users.pop(3)
        sandbox.state.reindex()
    rest, _ = _walk(graph, first["@odata.nextLink"], 100)
    seen = [u["id"] for u in first["value"] + rest]
    assert len(seen) == len(set(seen))
    assert set(seen) - {gone["id"]} == {u["id"] for u in sandbox.state.graph["users"]}


@pytest.mark.parametrize("top", ["1000", "0", "-1", "ten"])
def test_top_outside_1_to_999_is_refused(sandbox: Sandbox, graph: requests.Session, top: str) -> None:
    answer = _get(graph, sandbox, f"/users?$top={top}")
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (f"Invalid page size specified: '{top}'. "
                                                 "Must be between 1 and 999 inclusive.")


def test_garbled_or_foreign_skiptoken_is_refused(sandbox: Sandbox, graph: requests.Session) -> None:
    link = _get(graph, sandbox, "/users?$top=5").json()["@odata.nextLink"]
    base, token = link.split("$skiptoken=")
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for bad in (base + "$skiptoken=" + flipped, base + "$skiptoken=5", base + "$skiptoken=%%%"):
        answer = graph.get(bad)
        assert answer.status_code == 400, bad
        assert answer.json()["error"]["code"] == "Directory_ExpiredPageToken"
    sp = sandbox.state.graph["servicePrincipal"]["id"]
    foreign = graph.get(f"{sandbox.graph_url}/servicePrincipals/{sp}/appRoleAssignedTo?$top=5&$skiptoken={token}")
    assert foreign.status_code == 400


def test_count_needs_consistency_level_and_comes_on_the_first_page_only(sandbox: Sandbox,
                                                                        graph: requests.Session) -> None:
    assert _get(graph, sandbox, "/users?$count=true").status_code == 400
    eventual = {"ConsistencyLevel": "eventual"}
    first = _get(graph, sandbox, "/users?$count=true&$top=300", headers=eventual).json()
    assert first["@odata.count"] == len(sandbox.state.graph["users"])
    second = graph.get(first["@odata.nextLink"], headers=eventual).json()
    assert "@odata.count" not in second
    assert _get(graph, sandbox, "/users?$count=true&$expand=manager", headers=eventual).status_code == 400


# --- users: $select, $expand, lookups -----------------------------------------------------------------------
def test_users_default_property_set_with_nulls(sandbox: Sandbox, graph: requests.Session) -> None:
    body = _get(graph, sandbox, "/users?$top=999").json()
    assert body["@odata.context"] == f"{sandbox.graph_url}/$metadata#users"
    assert all(set(u) == DEFAULT_USER_KEYS for u in body["value"])
    synthetic = next(u for u in body["value"] if u["userPrincipalName"] == f"user000@{DOMAIN}")
    assert synthetic["officeLocation"] is None and synthetic["jobTitle"] is None
    assert synthetic["businessPhones"] == []


def test_select_returns_only_those_properties_plus_id(sandbox: Sandbox, graph: requests.Session) -> None:
    body = _get(graph, sandbox, "/users?$select=displayName,AccountEnabled,department,employeeId&$top=999").json()
    assert body["@odata.context"].endswith("$metadata#users(displayName,accountEnabled,department,employeeId)")
    assert all(set(u) == {"id", "displayName", "accountEnabled", "department", "employeeId"} for u in body["value"])
    assert all(u["employeeId"] is None for u in body["value"])  # selected but absent: null
    disabled = sum(1 for u in body["value"] if u["accountEnabled"] is False)
    assert disabled == sum(1 for u in sandbox.state.graph["users"] if u.get("accountEnabled") is False)


def test_unknown_select_property_is_refused_like_graph(sandbox: Sandbox, graph: requests.Session) -> None:
    answer = _get(graph, sandbox, "/users?$select=id,shoeSize")
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["message"] == "Could not find a property named 'shoeSize' on type 'microsoft.graph.user'."
    assert set(error["innerError"]) >= {"date", "request-id", "client-request-id"}


def test_expand_manager_nests_the_manager_and_caps_pages_at_100(sandbox: Sandbox, graph: requests.Session,
                                                                tenant: dict[str, Any]) -> None:
    query = "$select=id,userPrincipalName&$expand=manager($select=id,userPrincipalName)&$top=999"
    url = f"{sandbox.graph_url}/users?{query}"
    users, pages = _walk(graph, url, 100)
    assert pages == math.ceil(len(tenant["graph"]["users"]) / 100)
    upn = {u["id"]: u["userPrincipalName"] for u in tenant["graph"]["users"]}
    by_id = {u["id"]: u for u in users}
    for source in tenant["graph"]["users"]:
        served = by_id[source["id"]]
        if "manager" in source:
            manager = served["manager"]
            assert manager == {"@odata.type": "#microsoft.graph.user", "id": source["manager"]["id"],
                               "userPrincipalName": upn[source["manager"]["id"]]}
        else:
            assert "manager" not in served
    plain = _get(graph, sandbox, f"/users/{_id('user004')}?$expand=manager").json()
    assert plain["manager"]["id"] == _id("user001")
    assert set(plain["manager"]) == DEFAULT_USER_KEYS | {"@odata.type"}
    assert set(plain) == DEFAULT_USER_KEYS | {"@odata.context", "manager"}


def test_user_by_id_or_upn_and_its_manager(sandbox: Sandbox, graph: requests.Session) -> None:
    by_id = _get(graph, sandbox, f"/users/{_id('user010')}?$select=mailNickname,accountEnabled").json()
    assert by_id["@odata.context"].endswith("$metadata#users(mailNickname,accountEnabled)/$entity")
    assert {k: v for k, v in by_id.items() if k != "@odata.context"} == {
        "mailNickname": "user010", "accountEnabled": True, "id": _id("user010")}
    by_upn = _get(graph, sandbox, f"/users/USER010@{DOMAIN}").json()
    assert by_upn["id"] == _id("user010")
    guest = _get(graph, sandbox, "/users/" + quote(GUEST_UPN, safe="@"))
    assert guest.status_code == 200 and guest.json()["userPrincipalName"] == GUEST_UPN
    manager = _get(graph, sandbox, f"/users/{_id('user010')}/manager").json()
    assert manager["id"] == _id("user003") and manager["@odata.type"] == "#microsoft.graph.user"
    assert manager["@odata.context"].endswith("$metadata#directoryObjects/$entity")
    no_manager = _get(graph, sandbox, f"/users/{_id('user011')}/manager")
    assert no_manager.status_code == 404
    assert no_manager.json()["error"]["code"] == "Request_ResourceNotFound"


def test_unknown_or_deleted_user_is_404(sandbox: Sandbox, graph: requests.Session) -> None:
    for key in ("nobody@contoso.example", _id("gone1")):
        answer = _get(graph, sandbox, f"/users/{key}")
        assert answer.status_code == 404
        assert answer.json()["error"] == {**answer.json()["error"], "code": "Request_ResourceNotFound",
                                          "message": f"Resource '{key}' does not exist or one of its queried "
                                                     "reference-property objects are not present."}


# --- service principal and assignments ----------------------------------------------------------------------
def test_service_principal_by_filter_by_appid_and_by_id(sandbox: Sandbox, graph: requests.Session) -> None:
    sp = sandbox.state.graph["servicePrincipal"]
    listed = _get(graph, sandbox, f"/servicePrincipals?$filter=appId eq '{sp['appId']}'").json()
    assert listed["@odata.context"].endswith("$metadata#servicePrincipals")
    assert [p["id"] for p in listed["value"]] == [sp["id"]]
    assert _get(graph, sandbox, f"/servicePrincipals?$filter=appId eq '{uuid.uuid4()}'").json()["value"] == []
    assert _get(graph, sandbox, "/servicePrincipals?$filter=displayName eq 'RingCentral'").status_code == 400
    raw = f"{sandbox.graph_url}/servicePrincipals(appId='{sp['appId']}')"
    encoded = f"{sandbox.graph_url}/servicePrincipals" + quote(f"(appId='{sp['appId']}')")
    for url in (raw, encoded, f"{sandbox.graph_url}/servicePrincipals/{sp['id']}"):
        single = graph.get(url)
        assert single.status_code == 200, url
        assert single.json()["appRoles"] == sp["appRoles"]
        assert single.json()["@odata.context"].endswith("$metadata#servicePrincipals/$entity")
    selected = graph.get(raw + "?$select=appId,displayName").json()
    assert set(selected) == {"@odata.context", "id", "appId", "displayName"}
    for missing in (f"/servicePrincipals/{uuid.uuid4()}", f"/servicePrincipals(appId='{uuid.uuid4()}')"):
        assert _get(graph, sandbox, missing).status_code == 404


def test_app_role_assignments_have_graphs_shape(sandbox: Sandbox, graph: requests.Session) -> None:
    sp = sandbox.state.graph["servicePrincipal"]
    body = _get(graph, sandbox, f"/servicePrincipals/{sp['id']}/appRoleAssignedTo?$top=999").json()
    assert body["@odata.context"].endswith(f"$metadata#servicePrincipals('{sp['id']}')/appRoleAssignedTo")
    keys = {"id", "deletedDateTime", "appRoleId", "createdDateTime", "principalDisplayName", "principalId",
            "principalType", "resourceDisplayName", "resourceId"}
    assert all(set(a) == keys for a in body["value"])
    assert all(a["resourceId"] == sp["id"] and a["resourceDisplayName"] == "RingCentral" for a in body["value"])
    synthetic = next(a for a in body["value"] if a["principalId"] == _id("user007"))
    assert synthetic["principalDisplayName"] == "User 007" and re.fullmatch(r"[\w-]{43}", synthetic["id"])
    group = next(a for a in body["value"] if a["principalType"] == "Group")
    assert group["principalDisplayName"] == "RingCentral Sales"


# --- groups -------------------------------------------------------------------------------------------------
def test_direct_and_transitive_members(sandbox: Sandbox, graph: requests.Session, tenant: dict[str, Any]) -> None:
    group_a, group_b, group_c = _id("group:a"), _id("group:b"), _id("group:c")
    direct = _get(graph, sandbox, f"/groups/{group_a}/members?$top=999").json()
    assert direct["@odata.context"].endswith("$metadata#directoryObjects")
    types = {m["id"]: m["@odata.type"] for m in direct["value"]}
    assert types[group_b] == "#microsoft.graph.group" and group_c not in types
    assert sum(t == "#microsoft.graph.user" for t in types.values()) == 150
    nested = {m["id"]: m for m in _get(graph, sandbox, f"/groups/{group_a}/transitiveMembers?$top=999").json()["value"]}
    assert set(nested) == set(_transitive_ids(tenant, group_a))
    assert group_a not in nested and _id("gone3") not in nested  # itself (through the cycle), soft-deleted
    assert nested[group_c]["@odata.type"] == "#microsoft.graph.group" and nested[group_c]["displayName"] == "Tier C"
    assert nested[_id("user259")]["@odata.type"] == "#microsoft.graph.user"
    assert sum(m["@odata.type"] == "#microsoft.graph.user" for m in nested.values()) == 260
    selected = _get(graph, sandbox, f"/groups/{group_b}/members?$select=displayName,userPrincipalName&$top=999")
    shapes = {m["@odata.type"]: set(m) for m in selected.json()["value"]}
    assert shapes == {"#microsoft.graph.user": {"@odata.type", "id", "displayName", "userPrincipalName"},
                      "#microsoft.graph.group": {"@odata.type", "id", "displayName"}}
    assert _get(graph, sandbox, f"/groups/{uuid.uuid4()}/members").status_code == 404
    assert _get(graph, sandbox, f"/groups/{_id('user001')}/members").status_code == 404


def test_deleted_users_carry_deleted_date_time(sandbox: Sandbox, graph: requests.Session) -> None:
    body = _get(graph, sandbox, "/directory/deletedItems/microsoft.graph.user?$top=999").json()
    assert body["@odata.context"].endswith("$metadata#users")
    assert all(set(u) == DEFAULT_USER_KEYS | {"deletedDateTime"} and u["deletedDateTime"] for u in body["value"])
    picked = _get(graph, sandbox, "/directory/deletedItems/microsoft.graph.user?$select=mailNickname,deletedDateTime")
    first = picked.json()["value"][0]
    assert first == {"mailNickname": "gone0", "deletedDateTime": "2026-02-01T08:00:00Z", "id": _id("gone0")}
    single = _get(graph, sandbox, f"/directory/deletedItems/{_id('gone2')}").json()
    assert single["@odata.type"] == "#microsoft.graph.user" and single["deletedDateTime"] == "2026-02-03T08:00:00Z"
    assert _get(graph, sandbox, f"/directory/deletedItems/{_id('user001')}").status_code == 404


# --- synchronization ----------------------------------------------------------------------------------------
def _mappings(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rule = schema["synchronizationRules"][0]
    return {m["targetAttributeName"]: m for m in rule["objectMappings"][0]["attributeMappings"]}


def test_generated_job_and_current_schema(sandbox: Sandbox, graph: requests.Session) -> None:
    sp = sandbox.state.graph["servicePrincipal"]["id"]
    jobs = _get(graph, sandbox, f"/servicePrincipals/{sp}/synchronization/jobs").json()
    assert jobs["@odata.context"].endswith(f"$metadata#servicePrincipals('{sp}')/synchronization/jobs")
    [job] = jobs["value"]
    assert re.fullmatch(r"ringCentral\.[0-9a-f]{32}", job["id"]) and job["templateId"] == "ringCentral"
    assert job["schedule"]["interval"] == "PT40M" and "schema" not in job
    status = job["status"]
    assert status["code"] == "Active" and status["quarantine"] is None
    assert status["lastSuccessfulExecution"]["state"] == "Succeeded"
    assert dt.datetime.fromisoformat(status["lastSuccessfulExecution"]["timeBegan"]) < dt.datetime.now(dt.UTC)
    single = _get(graph, sandbox, f"/servicePrincipals/{sp}/synchronization/jobs/{job['id']}").json()
    assert {k: v for k, v in single.items() if k != "@odata.context"} == job
    assert _get(graph, sandbox, f"/servicePrincipals/{sp}/synchronization/jobs/nope.123").status_code == 404
    schema = _get(graph, sandbox, f"/servicePrincipals/{sp}/synchronization/jobs/{job['id']}/schema").json()
    mappings = _mappings(schema)
    assert [(t, m["source"]["expression"]) for t, m in mappings.items()][:3] == [
        ("userName", "[userPrincipalName]"), ("externalId", "[mailNickname]"), ("active", ACTIVE_EXPRESSION)]
    assert set(mappings) == {t for t, _ in mapping_pairs("current")}
    assert "displayName" not in mappings and f"{ENTERPRISE}:manager" not in mappings
    assert mappings['phoneNumbers[type eq "mobile"].value']["source"]["name"] == "mobile"
    assert mappings[f"{ENTERPRISE}:department"]["source"] == {
        "expression": "[department]", "name": "department", "parameters": [], "type": "Attribute"}
    assert mappings["active"]["source"]["type"] == "Function"
    assert [m["matchingPriority"] for m in mappings.values()].count(1) == 1 == mappings["userName"]["matchingPriority"]
    assert all(m["flowType"] == "Always" and m["flowBehavior"] == "FlowWhenChanged" for m in mappings.values())
    target = schema["directories"][1]["objects"][0]["attributes"]
    assert all("caseExact" in a for a in target)
    assert {a["name"] for a in target} >= set(mappings)


def test_classic_profile_schema_also_maps_display_name_and_manager() -> None:
    tenant = builtin_tenant()
    tenant["sandbox"] = {"schemaProfile": "classic"}
    with _open(tenant) as (classic, http):
        sp = classic.state.graph["servicePrincipal"]["id"]
        job = _get(http, classic, f"/servicePrincipals/{sp}/synchronization/jobs").json()["value"][0]
        schema = _get(http, classic, f"/servicePrincipals/{sp}/synchronization/jobs/{job['id']}/schema").json()
    mappings = _mappings(schema)
    assert mappings["displayName"]["source"]["name"] == "displayName"
    assert mappings[f"{ENTERPRISE}:manager"]["source"]["name"] == "manager"
    assert len(mappings) == len(mapping_pairs("current")) + 2
    assert {k: v for k, v in schema.items() if k not in ("@odata.context", "id")} == default_sync_schema("classic")


def test_job_and_schema_from_the_tenant() -> None:
    tenant = builtin_tenant()
    schema = default_sync_schema("current")
    schema["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][0]["source"] = {
        "expression": "[mail]", "name": "mail", "parameters": [], "type": "Attribute"}
    quarantine = {"currentBegan": "2026-11-20T10:00:00Z", "nextAttempt": "2026-11-27T10:00:00Z",
                  "reason": "EncounteredQuarantineException", "seriesBegan": "2026-11-20T10:00:00Z", "seriesCount": 4,
                  "error": {"code": "HttpStatus401", "message": "Unauthorized", "tenantActionable": True}}
    tenant["graph"]["synchronizationJob"] = {
        "id": JOB_A, "templateId": "ringCentral", "schema": schema,
        "status": {"code": "Quarantine", "lastSuccessfulExecution": None, "quarantine": quarantine},
    }
    with _open(tenant) as (given, http):
        sp = given.state.graph["servicePrincipal"]["id"]
        [job] = _get(http, given, f"/servicePrincipals/{sp}/synchronization/jobs").json()["value"]
        served = _get(http, given, f"/servicePrincipals/{sp}/synchronization/jobs/{JOB_A}/schema").json()
    assert job["id"] == JOB_A and "schema" not in job
    assert job["status"]["code"] == "Quarantine" and job["status"]["quarantine"] == quarantine
    assert job["status"]["lastSuccessfulExecution"] is None
    assert job["schedule"]["interval"] == "PT40M"  # filled from the generated job
    assert _mappings(served)["userName"]["source"]["name"] == "mail"


# --- provisioning logs --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (f"activityDateTime gt {_stamp(99)}", list(range(100, 140))),
        (f"activityDateTime lt {_stamp(5)}", list(range(5))),
        (f"activityDateTime eq {_stamp(7)}", [7]),
        (f"activityDateTime gt {_stamp(9)} and activityDateTime lt {_stamp(20)}", list(range(10, 20))),
        (f"jobId eq '{JOB_B}'", list(range(0, 140, 4))),
        (f"jobId eq '{JOB_B}' and activityDateTime gt 2026-01-02T00:00:00.0000000Z", list(range(28, 140, 4))),
        ("jobId eq 'nope'", []),
    ],
)
def test_provisioning_filter(sandbox: Sandbox, graph: requests.Session, condition: str, expected: list[int]) -> None:
    items, _ = _walk(graph, f"{sandbox.graph_url}/auditLogs/provisioning?$top=7&$filter={quote(condition)}", 7)
    assert [i["id"] for i in items] == [_id(f"event{n}") for n in sorted(expected, reverse=True)]  # newest first


def test_provisioning_events_keep_their_shape(sandbox: Sandbox, graph: requests.Session, tenant: dict) -> None:
    body = _get(graph, sandbox, "/auditLogs/provisioning?$top=1").json()
    assert body["@odata.context"].endswith("$metadata#auditLogs/provisioning")
    assert body["value"] == [tenant["graph"]["provisioningEvents"][-1]]


@pytest.mark.parametrize("condition", [
    "provisioningAction eq 'create'", "contains(jobId, 'ring')", f"jobId eq '{JOB_A}' or jobId eq '{JOB_B}'",
    "activityDateTime gt '2026-01-01T00:00:00Z'", "activityDateTime gt yesterday", f"jobId gt '{JOB_A}'",
    # Graph documents eq, contains, gt and lt for this list (provisioningobjectsummary-list.md): not ge or le
    f"activityDateTime ge {_stamp(99)}", f"activityDateTime le {_stamp(5)}",
])
def test_unsupported_provisioning_filter_is_refused(sandbox: Sandbox, graph: requests.Session, condition: str) -> None:
    answer = _get(graph, sandbox, "/auditLogs/provisioning", params={"$filter": condition})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] in ("Request_UnsupportedQuery", "Request_BadRequest")
    assert answer.headers["Content-Type"].startswith("application/json")


# --- auth, permissions, headers -----------------------------------------------------------------------------
def test_missing_bad_foreign_and_expired_tokens_get_401(tenant: dict[str, Any]) -> None:
    with _open(tenant) as (sandbox, http):
        del http.headers["Authorization"]
        _token_refusals(sandbox, http)


def _token_refusals(sandbox: Sandbox, http: requests.Session) -> None:
    def attempt(token: str | None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = _get(http, sandbox, "/users", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
        assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
        return answer.json()["error"]

    assert attempt(None)["message"] == "Access token is empty."
    assert attempt("not-a-jwt")["message"].startswith("Access token validation failure")
    assert attempt(_mint(sandbox, tid=str(uuid.uuid4())))["message"].startswith("Access token validation failure")
    scim_token = sandbox.state.tokens.issue(RC_AUDIENCE, "x", tid=sandbox.tenant_id)
    assert attempt(scim_token)["message"].startswith("Access token validation failure")
    valid = _mint(sandbox)
    assert _get(http, sandbox, "/users", headers={"Authorization": f"Bearer {valid}"}).status_code == 200
    sandbox.state.tokens.expire_all()
    assert attempt(valid)["message"] == "Lifetime validation failed, the token is expired."
    assert attempt(_mint(sandbox, lifetime=-5))["message"] == "Lifetime validation failed, the token is expired."


def test_routes_need_the_permissions_the_token_carries(tenant: dict[str, Any]) -> None:
    limited = copy.deepcopy(tenant)
    client = {"clientId": str(uuid.uuid4()), "secret": "s3cret", "roles": ["User.Read.All", "AuditLog.Read.All"]}
    limited["sandbox"] = {"clients": [client]}
    with _open(limited) as (sandbox, graph):
        sp = sandbox.state.graph["servicePrincipal"]["id"]
        assert _get(graph, sandbox, "/users?$top=1").status_code == 200
        assert _get(graph, sandbox, "/directory/deletedItems/microsoft.graph.user").status_code == 200
        for path in (f"/servicePrincipals/{sp}/appRoleAssignedTo", f"/groups/{_id('group:a')}/members",
                     f"/servicePrincipals/{sp}/synchronization/jobs", "/auditLogs/provisioning"):
            denied = _get(graph, sandbox, path)  # logs need AuditLog.Read.All *and* Directory.Read.All
            assert denied.status_code == 403, path
            assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
        delegated = _mint(sandbox, idtyp="user", scp="User.Read Synchronization.Read.All", oid=_id("user001"))
        as_user = {"Authorization": f"Bearer {delegated}"}
        assert _get(graph, sandbox, "/users", headers=as_user).status_code == 403
        assert _get(graph, sandbox, f"/servicePrincipals/{sp}/synchronization/jobs", headers=as_user).status_code == 200


def test_auth_is_checked_before_routing(sandbox: Sandbox, http: requests.Session) -> None:
    assert _get(http, sandbox, "/no/such/thing").status_code == 401


def test_denied_paths_answer_403(tenant: dict[str, Any]) -> None:
    with _open(tenant) as (sandbox, graph):
        _denials(sandbox, graph)


def _denials(sandbox: Sandbox, graph: requests.Session) -> None:
    sandbox.state.deny_graph(r"/auditLogs/provisioning")
    sandbox.state.deny_graph(r"/synchronization/")
    denied = _get(graph, sandbox, "/auditLogs/provisioning")
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == "Authorization_RequestDenied"
    assert denied.json()["error"]["message"] == "Insufficient privileges to complete the operation."
    sp = sandbox.state.graph["servicePrincipal"]["id"]
    assert _get(graph, sandbox, f"/servicePrincipals/{sp}/synchronization/jobs").status_code == 403
    assert _get(graph, sandbox, "/users?$top=1").status_code == 200


def test_graph_headers_and_unknown_routes(sandbox: Sandbox, graph: requests.Session) -> None:
    answer = _get(graph, sandbox, "/users?$top=1", headers={"client-request-id": "abc-123"})
    assert answer.headers["Content-Type"] == ("application/json;odata.metadata=minimal;odata.streaming=true;"
                                              "IEEE754Compatible=false;charset=utf-8")
    assert answer.headers["client-request-id"] == "abc-123"
    assert uuid.UUID(answer.headers["request-id"])
    missing = _get(graph, sandbox, "/users/nobody", headers={"client-request-id": "xyz"})
    inner = missing.json()["error"]["innerError"]
    assert inner["request-id"] == missing.headers["request-id"] and inner["client-request-id"] == "xyz"
    unknown = _get(graph, sandbox, "/nothingHere")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["message"] == "Resource not found for the segment 'nothingHere'."
    unsupported = _get(graph, sandbox, "/users?$orderby=displayName")
    assert unsupported.status_code == 400 and "$orderby" in unsupported.json()["error"]["message"]
