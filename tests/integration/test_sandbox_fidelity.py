"""Issue 12: the emulators answer as the real services do where real clients found them wrong.

Each test goes over HTTPS to a sandbox it starts and pins one gap the third-party clients hit:
empty path segments and typed casts on Graph; RingCentral's refresh grant, revoke, content
negotiation, never-reused ids, its country/state check; and the PATCH forms rcaudit's fix-ups send.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
import requests

from rcaudit.model.vocabulary import PATCH_OP
from rcaudit.sandbox import Sandbox, generate
from rcaudit.sandbox.servers.regions import check_addresses
from rcaudit.sandbox.servers.scim_schemas import CORE_USER
from tests.support.tenants import nested_group_and_gone_user

ADA = "1271136020"  # built-in: a Swedish work address (Stockholm, no state)
STATE_REFUSED = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                 "scimType": "invalidValue",
                 "detail": "Parameter [extension.contact.businessAddress.state] value is invalid."}
COUNTRY_REFUSED = {**STATE_REFUSED, "detail": "Parameter [extension.contact.businessAddress.country] value is invalid."}
NESTED = str(uuid.uuid5(uuid.NAMESPACE_URL, "rcaudit:test:group:nested"))
GONE = str(uuid.uuid5(uuid.NAMESPACE_URL, "rcaudit:test:user:gone"))


@pytest.fixture
def tenant() -> dict[str, Any]:
    """The built-in tenant with a nested group inside Sales (holding Ada) and one soft-deleted user."""
    data, _ = nested_group_and_gone_user(NESTED, {"id": GONE, "userPrincipalName":
                                                  f"{GONE.replace('-', '')}gone@contoso.example", "mail": None})
    data["sandbox"] = {"limits": {"light": 100_000, "heavy": 100_000, "auth": 100_000}}
    return data


def _graph(http: requests.Session, sandbox: Sandbox, token: str, path: str) -> requests.Response:
    return http.get(sandbox.graph_url + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def _scim(http: requests.Session, sandbox: Sandbox, method: str, path: str, token: str | None = None,
          **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token or sandbox.state.settings['scimToken']}", **kwargs.pop("headers", {})}
    return http.request(method, sandbox.scim_url + path, headers=headers, timeout=10, **kwargs)


def _patch(http: requests.Session, sandbox: Sandbox, user_id: str, *operations: dict[str, Any]) -> requests.Response:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return _scim(http, sandbox, "PATCH", f"/Users/{user_id}", json=body)


# --- Graph -------------------------------------------------------------------------------------------
def test_empty_path_segments_are_ignored_as_graph_does(sandbox: Sandbox, http: requests.Session,
                                                        graph_token: str) -> None:
    """msgraph-sdk with a base URL ending in `/` sends `/v1.0//users`; Graph answers it as `/v1.0/users`."""
    plain = _graph(http, sandbox, graph_token, "/users?$select=id")
    doubled = _graph(http, sandbox, graph_token, "//users?$select=id")
    assert doubled.status_code == 200, doubled.text
    assert [u["id"] for u in doubled.json()["value"]] == [u["id"] for u in plain.json()["value"]]
    group = sandbox.state.graph["groups"][0]["id"]
    nested = _graph(http, sandbox, graph_token, f"//groups//{group}/members")
    assert nested.status_code == 200, nested.text


@pytest.mark.parametrize("prefix", ["graph.", "microsoft.graph."])
@pytest.mark.parametrize(("relation", "expected"), [("members", {"carla.diaz", "dev.patel"}),
                                                    ("transitiveMembers", {"carla.diaz", "dev.patel", "ada.lind"})])
def test_member_casts_to_users(sandbox: Sandbox, http: requests.Session, graph_token: str, prefix: str,
                               relation: str, expected: set[str]) -> None:
    """`…/members/graph.user` (the SDK's cast) and `…/microsoft.graph.user` keep only the users."""
    group = sandbox.state.graph["groups"][0]["id"]
    answer = _graph(http, sandbox, graph_token, f"/groups/{group}/{relation}/{prefix}user?$select=id,mailNickname")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {u["mailNickname"] for u in body["value"]} == expected
    assert body["@odata.context"].endswith("#users(id,mailNickname)")


@pytest.mark.parametrize("prefix", ["graph.", "microsoft.graph."])
def test_member_casts_to_groups(sandbox: Sandbox, http: requests.Session, graph_token: str, prefix: str) -> None:
    group = sandbox.state.graph["groups"][0]["id"]
    answer = _graph(http, sandbox, graph_token, f"/groups/{group}/members/{prefix}group")
    assert answer.status_code == 200, answer.text
    assert [g["id"] for g in answer.json()["value"]] == [NESTED]


@pytest.mark.parametrize("prefix", ["graph.", "microsoft.graph."])
def test_deleted_items_cast(sandbox: Sandbox, http: requests.Session, graph_token: str, prefix: str) -> None:
    answer = _graph(http, sandbox, graph_token, f"/directory/deletedItems/{prefix}user")
    assert answer.status_code == 200, answer.text
    assert [(u["id"], u["deletedDateTime"]) for u in answer.json()["value"]] == [(GONE, "2026-01-02T03:04:05Z")]


# --- RingCentral OAuth ---------------------------------------------------------------------------------
def _oauth(http: requests.Session, sandbox: Sandbox, path: str, data: dict[str, str]) -> requests.Response:
    app = sandbox.rc_app
    return http.post(f"{sandbox.rc_url}/restapi/oauth/{path}", auth=(app["clientId"], app["clientSecret"]),
                     data=data, timeout=10)


def _login(http: requests.Session, sandbox: Sandbox) -> dict[str, Any]:
    answer = _oauth(http, sandbox, "token", {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                             "assertion": sandbox.rc_app["jwt"]})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_refresh_token_grant_issues_a_new_pair_once(sandbox: Sandbox, http: requests.Session) -> None:
    """The `ringcentral` SDK refreshes with `grant_type=refresh_token`; a refresh token is single-use."""
    first = _login(http, sandbox)
    answer = _oauth(http, sandbox, "token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                             "access_token_ttl": "3600", "refresh_token_ttl": "604800"})
    assert answer.status_code == 200, answer.text
    second = answer.json()
    assert second["token_type"] == "bearer" and second["expires_in"] > 0 and second["refresh_token_expires_in"] > 0
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert _scim(http, sandbox, "GET", "/Users?count=1", token=second["access_token"]).status_code == 200
    again = _oauth(http, sandbox, "token", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]})
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert first["refresh_token"] not in again.text


@pytest.mark.parametrize("which", ["access_token", "refresh_token"])
def test_revoke_ends_the_whole_session(sandbox: Sandbox, http: requests.Session, which: str) -> None:
    """`/restapi/oauth/revoke` with either token invalidates the access and the refresh token."""
    session = _login(http, sandbox)
    other = _login(http, sandbox)
    answer = _oauth(http, sandbox, "revoke", {"token": session[which]})
    assert answer.status_code == 200, answer.text
    refused = _scim(http, sandbox, "GET", "/Users?count=1", token=session["access_token"])
    assert refused.status_code == 401 and refused.json()["errorCode"] == "OAU-149"
    refresh = _oauth(http, sandbox, "token", {"grant_type": "refresh_token", "refresh_token": session["refresh_token"]})
    assert refresh.status_code == 400
    assert _scim(http, sandbox, "GET", "/Users?count=1", token=other["access_token"]).status_code == 200


def test_revoke_needs_the_app_credentials(sandbox: Sandbox, http: requests.Session) -> None:
    session = _login(http, sandbox)
    answer = http.post(f"{sandbox.rc_url}/restapi/oauth/revoke", data={"token": session["access_token"]}, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert _scim(http, sandbox, "GET", "/Users?count=1", token=session["access_token"]).status_code == 200


# --- content negotiation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("accept", "media"), [
    ("application/json", "application/json"),
    ("application/json, application/scim+json;q=0.5", "application/json"),
    ("application/scim+json", "application/scim+json"),
    ("application/scim+json, application/json", "application/scim+json"),
    ("*/*", "application/scim+json"),
    (None, "application/scim+json"),
])
@pytest.mark.parametrize("path", [f"/Users/{ADA}", "/Users?count=2", "/Users/999", "/ServiceProviderConfig"])
def test_content_type_follows_accept(sandbox: Sandbox, http: requests.Session, accept: str | None, media: str,
                                     path: str) -> None:
    headers = {} if accept is None else {"Accept": accept}
    answer = _scim(http, sandbox, "GET", path, headers=headers)
    assert answer.headers["Content-Type"].split(";")[0] == media
    assert answer.json()


# --- ids -------------------------------------------------------------------------------------------------------------
def _new_user(name: str) -> dict[str, Any]:
    return {"schemas": [CORE_USER], "userName": f"{name}@contoso.example",
            "name": {"givenName": "N", "familyName": name},
            "emails": [{"type": "work", "value": f"{name}@contoso.example"}]}


def test_a_deleted_users_id_is_never_handed_out_again(sandbox: Sandbox, http: requests.Session) -> None:
    first = _scim(http, sandbox, "POST", "/Users", json=_new_user("first")).json()
    assert _scim(http, sandbox, "DELETE", f"/Users/{first['id']}").status_code == 204
    second = _scim(http, sandbox, "POST", "/Users", json=_new_user("second")).json()
    assert int(second["id"]) > int(first["id"])
    highest = max(int(u["id"]) for u in sandbox.state.scim_users if u["id"].isdigit())
    assert _scim(http, sandbox, "DELETE", f"/Users/{highest}").status_code == 204
    third = _scim(http, sandbox, "POST", "/Users", json=_new_user("third")).json()
    assert int(third["id"]) > highest


# --- country and state ----------------------------------------------------------------------------------------------
def _with_address(name: str, **address: str) -> dict[str, Any]:
    return {**_new_user(name), "addresses": [{"type": "work", "locality": "Somewhere", **address}]}


@pytest.mark.parametrize(("address", "refusal"), [
    ({"region": "Not-A-State", "country": "US"}, STATE_REFUSED),
    ({"region": "Bayern", "country": "US"}, STATE_REFUSED),
    ({"region": "Not-A-State"}, STATE_REFUSED),  # no country: the account's (US)
    ({"region": "CA", "country": "Atlantis"}, COUNTRY_REFUSED),
    ({"country": "Not a country"}, COUNTRY_REFUSED),
])
def test_create_and_replace_refuse_unknown_states_and_countries(sandbox: Sandbox, http: requests.Session,
                                                                address: dict[str, str],
                                                                refusal: dict[str, Any]) -> None:
    before = len(sandbox.state.scim_users)
    created = _scim(http, sandbox, "POST", "/Users", json=_with_address("refused", **address))
    assert (created.status_code, created.json()) == (400, refusal)
    assert len(sandbox.state.scim_users) == before
    stored = copy.deepcopy(sandbox.state.scim_user(ADA))
    ada = {k: v for k, v in stored.items() if k not in ("id", "meta")}
    ada["addresses"] = [{"type": "work", "locality": "Somewhere", **address}]
    replaced = _scim(http, sandbox, "PUT", f"/Users/{ADA}", json=ada)
    assert (replaced.status_code, replaced.json()) == (400, refusal)
    assert sandbox.state.scim_user(ADA) == stored


@pytest.mark.parametrize("address", [
    {"region": "WA", "country": "US"}, {"region": "Washington", "country": "United States"},
    {"region": "US-WA", "country": "USA"}, {"region": "wa"}, {"region": "Bayern", "country": "DE"},
    {"region": "Stockholms län", "country": "Sweden"}, {"country": "GB"}, {"region": "", "country": "SE"},
])
def test_states_of_the_country_are_accepted(sandbox: Sandbox, http: requests.Session, address: dict[str, str]) -> None:
    created = _scim(http, sandbox, "POST", "/Users", json=_with_address("accepted", **address))
    assert created.status_code == 201, created.text


@pytest.mark.parametrize(("operation", "refusal"), [
    ({"op": "replace", "path": 'addresses[type eq "work"].region', "value": "Not-A-State"}, STATE_REFUSED),
    ({"op": "Replace", "path": 'addresses[type eq "work"].region', "value": "CA"}, STATE_REFUSED),  # Ada is Swedish
    ({"op": "replace", "path": 'addresses[type eq "work"].country', "value": "Atlantis"}, COUNTRY_REFUSED),
    ({"op": "add", "path": "addresses", "value": [{"type": "work", "region": "Nowhere", "country": "SE"}]},
     STATE_REFUSED),
    ({"op": "replace", "value": {"addresses": [{"type": "work", "region": "Nowhere"}]}}, STATE_REFUSED),
])
def test_patch_refuses_unknown_states_and_countries(sandbox: Sandbox, http: requests.Session,
                                                    operation: dict[str, Any], refusal: dict[str, Any]) -> None:
    stored = copy.deepcopy(sandbox.state.scim_user(ADA))
    answer = _patch(http, sandbox, ADA, operation)
    assert (answer.status_code, answer.json()) == (400, refusal)
    assert sandbox.state.scim_user(ADA) == stored


def test_patch_accepts_a_state_of_the_country(sandbox: Sandbox, http: requests.Session) -> None:
    answer = _patch(http, sandbox, ADA, {"op": "add", "path": 'addresses[type eq "work"].region', "value": "AB"},
                    {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Solna"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["addresses"][0]["region"] == "AB"


# --- the PATCH forms rcaudit's fix-ups send (DESIGN "Writes to RingCentral") ------------------------------------
def test_patch_accepts_the_fixup_forms(sandbox: Sandbox, http: requests.Session) -> None:
    """`remove` of a value's own path clears just that value (RingCentral's own numbers stay); a string
    `add` on the filtered path puts it back; `active` goes as the strings "False"/"True"."""
    owned = [p for p in sandbox.state.scim_user(ADA)["phoneNumbers"] if p["type"] in ("work", "other")]
    removed = _patch(http, sandbox, ADA, {"op": "remove", "path": 'phoneNumbers[type eq "mobile"].value'},
                     {"op": "replace", "path": "active", "value": "False"})
    assert removed.status_code == 200, removed.text
    user = removed.json()
    assert user["active"] is False
    assert [p for p in user["phoneNumbers"] if p["type"] == "mobile"] == []
    assert [p for p in user["phoneNumbers"] if p["type"] in ("work", "other")] == owned
    added = _patch(http, sandbox, ADA,
                   {"op": "add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46701234567"},
                   {"op": "replace", "path": "active", "value": "True"})
    assert added.status_code == 200, added.text
    user = added.json()
    assert {"type": "mobile", "value": "+46701234567"} in user["phoneNumbers"] and user["active"] is True
    assert [p for p in user["phoneNumbers"] if p["type"] in ("work", "other")] == owned
    assert sandbox.state.scim_user(ADA) == user


# --- attributes / excludedAttributes (RFC 7644 §3.9): a sandbox option ---------------------------------------------
def test_attribute_selection_is_ignored_by_default(sandbox: Sandbox, http: requests.Session) -> None:
    """RingCentral documents neither parameter, so the sandbox ignores them unless told otherwise."""
    whole = _scim(http, sandbox, "GET", f"/Users/{ADA}").json()
    assert _scim(http, sandbox, "GET", f"/Users/{ADA}?attributes=userName").json() == whole
    assert _scim(http, sandbox, "GET", f"/Users/{ADA}?excludedAttributes=title").json() == whole


def test_attribute_selection_when_switched_on(sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.state.settings["attributeSelection"] = True
    only = _scim(http, sandbox, "GET", f"/Users/{ADA}?attributes=userName,name.givenName,emails.value").json()
    ada = sandbox.state.scim_user(ADA)
    assert only == {"schemas": ada["schemas"], "id": ADA, "userName": ada["userName"],
                    "name": {"givenName": ada["name"]["givenName"]},
                    "emails": [{"value": e["value"]} for e in ada["emails"]]}
    without = _scim(http, sandbox, "GET", "/Users?excludedAttributes=title,id&count=3").json()["Resources"]
    assert without and all("title" not in u and "id" in u for u in without)
    searched = _scim(http, sandbox, "POST", "/Users/.search", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": f'userName eq "{ada["userName"]}"',
        "attributes": ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]}).json()
    assert searched["Resources"] == [{"schemas": ada["schemas"], "id": ADA,
                                      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":
                                          ada["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}]


# --- the generator never plants what RingCentral would refuse -------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 7])
def test_generated_addresses_pass_ringcentral_s_check(seed: int) -> None:
    """Every stored work address, and every Entra (state, country) a fix-up would write, passes the
    country/state check: a tenant RingCentral could not hold would make fixes fail for the wrong reason."""
    tenant = generate(users=400, seed=seed).tenant
    for account in tenant["scim"]["Users"]:
        check_addresses(account, None)
    for user in tenant["graph"]["users"]:
        written = {"addresses": [{"type": "work", "region": user.get("state"), "country": user.get("country")}]}
        check_addresses(written, None)
