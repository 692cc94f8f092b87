"""The RingCentral emulator over real HTTPS: SCIM users, discovery, rate limits, auth and the JWT grant."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from rcaudit.model.vocabulary import PATCH_OP
from rcaudit.sandbox import Sandbox, builtin_tenant
from rcaudit.sandbox.servers.scim_schemas import CORE_USER, ENTERPRISE_USER

ENTERPRISE = ENTERPRISE_USER
SYNTHETIC = 293  # plus the built-in tenant's 7 accounts: 300 users
TOTAL = SYNTHETIC + 7
MAX_COUNT = 50
ADA = "1271136020"  # built-in: mobile, work and other numbers, a Swedish work address
SCIM_JSON = "application/scim+json"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
QUOTED_NAME = 'o"quinn@contoso.example'


@pytest.fixture
def tenant() -> dict[str, Any]:
    """The built-in tenant plus a few hundred synthetic accounts, with limits high enough to page."""
    data = builtin_tenant()
    for n in range(SYNTHETIC):
        user_id = str(2000000020 + n * 1000)
        name = QUOTED_NAME if n == 17 else f"user{n:03d}@contoso.example"
        data["scim"]["Users"].append({
            "schemas": [CORE_USER], "id": user_id, "externalId": f"user{n:03d}",
            "meta": {"resourceType": "User", "created": "2025-03-02T09:55:12.431Z",
                     "lastModified": "2025-03-02T09:55:12.431Z",
                     "location": f"http://scim.ringcentral.com/scim/v2/Users/{user_id}"},
            "userName": name, "name": {"givenName": f"User{n}", "familyName": "Synthetic"}, "active": n % 5 != 0,
            "emails": [{"type": "work", "primary": False, "value": name.upper() if n == 17 else name}],
            "phoneNumbers": [{"type": "work", "value": f"+1650555{n:04d}"}, {"type": "other", "value": str(1000 + n)}],
            "addresses": [],
        })
    data["sandbox"] = {"maxCount": MAX_COUNT, "limits": {"light": 100_000, "heavy": 100_000, "auth": 100_000}}
    return data


@dataclass
class Scim:
    """Calls to the sandbox's SCIM root with a bearer token."""

    http: requests.Session
    url: str
    token: str | None

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.http.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def patch(self, user_id: str, *operations: dict[str, Any]) -> requests.Response:
        return self.call("PATCH", f"/Users/{user_id}", json={"schemas": [PATCH_OP], "Operations": list(operations)})

    def user(self, user_id: str) -> dict[str, Any]:
        answer = self.get(f"/Users/{user_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def scim(sandbox: Sandbox, http: requests.Session) -> Scim:
    return Scim(http, sandbox.scim_url, sandbox.state.settings["scimToken"])


def _token_request(sandbox: Sandbox, http: requests.Session, client_id: str, secret: str, assertion: str,
                   grant_type: str = JWT_GRANT) -> requests.Response:
    return http.post(f"{sandbox.rc_url}/restapi/oauth/token", auth=(client_id, secret),
                     data={"grant_type": grant_type, "assertion": assertion}, timeout=10)


def _jwt_token(sandbox: Sandbox, http: requests.Session) -> str:
    app = sandbox.rc_app
    answer = _token_request(sandbox, http, app["clientId"], app["clientSecret"], app["jwt"])
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _assert_scim_error(answer: requests.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["Content-Type"].startswith(SCIM_JSON)
    body = answer.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    return body


def _assert_platform_error(answer: requests.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["errorCode"] == code and body["errors"][0]["errorCode"] == code and body["message"]


def _entra_create(user_name: str, country: str = "US", region: str = "CA") -> dict[str, Any]:
    """A create as Entra's provisioning service sends it (primary true, name.formatted, roles, meta)."""
    return {
        "schemas": [CORE_USER, ENTERPRISE], "externalId": user_name.split("@")[0], "userName": user_name,
        "active": True, "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"}, "name": {"formatted": "New Person", "familyName": "Person",
                                                   "givenName": "New"},
        "roles": [], "title": "Engineer",
        "phoneNumbers": [{"type": "mobile", "value": "+46701112233"}],
        "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
                       "region": region, "postalCode": "91608", "country": country}],
        ENTERPRISE: {"department": "Sales"},
    }


# --- listing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("count", [1, 3, 7, MAX_COUNT, MAX_COUNT + 30])
def test_paging_returns_every_user_exactly_once(scim: Scim, sandbox: Sandbox, count: int) -> None:
    seen: list[str] = []
    start = 1
    while True:
        page = scim.get("/Users", params={"startIndex": start, "count": count}).json()
        assert page["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
        assert page["totalResults"] == TOTAL and page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"]) <= min(count, MAX_COUNT)
        if not page["Resources"]:
            break
        seen += [u["id"] for u in page["Resources"]]
        start += len(page["Resources"])
    assert seen == [u["id"] for u in sandbox.state.scim_users]
    assert len(set(seen)) == TOTAL


def test_count_defaults_and_caps(scim: Scim) -> None:
    assert scim.get("/Users").json()["itemsPerPage"] == MAX_COUNT, "default 100, capped at maxCount"
    assert scim.get("/Users?count=1000").json()["itemsPerPage"] == MAX_COUNT
    only_total = scim.get("/Users?count=0").json()
    assert only_total["totalResults"] == TOTAL and only_total["Resources"] == [] and only_total["itemsPerPage"] == 0
    assert scim.get("/Users?startIndex=0&count=2").json()["startIndex"] == 1
    past_the_end = scim.get(f"/Users?startIndex={TOTAL + 1}").json()
    assert past_the_end["Resources"] == [] and past_the_end["totalResults"] == TOTAL
    _assert_scim_error(scim.get("/Users?count=many"), 400, "invalidValue")
    assert scim.get("/Users", params={"filter": "", "startIndex": 1, "count": 3}).json()["itemsPerPage"] == 3


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "ada.lind@contoso.example"', [ADA]),
        ('USERNAME EQ "ADA.Lind@Contoso.Example"', [ADA]),
        ('email eq "Ada.Lind@contoso.example"', [ADA]),
        ('Email Eq "user000@CONTOSO.example"', ["2000000020"]),
        ('userName eq "o\\"quinn@contoso.example"', ["2000017020"]),
        ('email eq "O\\"QUINN@contoso.example"', ["2000017020"]),
        ('userName eq "nobody@contoso.example"', []),
    ],
)
def test_filters(scim: Scim, expression: str, expected: list[str]) -> None:
    page = scim.get("/Users", params={"filter": expression}).json()
    assert [u["id"] for u in page["Resources"]] == expected and page["totalResults"] == len(expected)
    search = scim.call("POST", "/Users/.search", json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": expression,
        "startIndex": 1, "count": 10})
    assert [u["id"] for u in search.json()["Resources"]] == expected


@pytest.mark.parametrize(
    "expression",
    ['externalId eq "ada.lind"', 'userName sw "ada"', 'userName eq "a" or email eq "b"',
     'emails.value eq "ada.lind@contoso.example"', 'emails[type eq "work"].value eq "x"', "userName eq ada",
     'userName eq "unterminated', "userName eq true", 'userName eq "a" and email eq "a"', "userName pr"],
)
def test_other_filters_are_invalid(scim: Scim, expression: str) -> None:
    _assert_scim_error(scim.get("/Users", params={"filter": expression}), 400, "invalidFilter")
    search = scim.call("POST", "/Users/.search", json={"filter": expression})
    _assert_scim_error(search, 400, "invalidFilter")


def test_search_pages_like_get(scim: Scim) -> None:
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": 11, "count": 5}
    search = scim.call("POST", "/Users/.search", json=body, headers={"Content-Type": SCIM_JSON}).json()
    listed = scim.get("/Users?startIndex=11&count=5").json()
    assert search == listed and search["itemsPerPage"] == 5
    _assert_scim_error(scim.call("POST", "/Users/.search", json=["not", "an", "object"]), 400, "invalidSyntax")


def test_list_omits_apply_to_lists_only(scim: Scim, sandbox: Sandbox) -> None:
    sandbox.state.settings["listOmits"] = ["phoneNumbers", "addresses"]
    listed = scim.get("/Users", params={"filter": 'userName eq "ada.lind@contoso.example"'}).json()["Resources"][0]
    assert "phoneNumbers" not in listed and "addresses" not in listed and listed["emails"]
    single = scim.user(ADA)
    assert single["phoneNumbers"] and single["addresses"]


def test_get_user_and_unknown_user(scim: Scim) -> None:
    ada = scim.user(ADA)
    assert ada["userName"] == "ada.lind@contoso.example"
    assert ada["meta"]["location"] == f"http://scim.ringcentral.com/scim/v2/Users/{ADA}"
    _assert_scim_error(scim.get("/Users/999"), 404)


# --- writing ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sent", "stored"),
    [("US", "United States"), ("GB", "United Kingdom"), ("DE", "Germany"), ("SE", "Sweden"), ("Sweden", "Sweden")],
)
def test_create_answers_as_ringcentral_does(scim: Scim, sent: str, stored: str) -> None:
    # A state of the country sent: RingCentral checks the state against the country (issue 12).
    region = {"US": "CA", "GB": "ENG", "DE": "BY", "SE": "AB", "Sweden": "Stockholms län"}[sent]
    body = _entra_create("new.person@contoso.example", country=sent, region=region)
    del body["active"]
    answer = scim.call("POST", "/Users", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.headers["Content-Type"].startswith(SCIM_JSON)
    user = answer.json()
    assert re.fullmatch(r"\d+", user["id"])
    assert answer.headers["Location"] == user["meta"]["location"] == \
        f"http://scim.ringcentral.com/scim/v2/Users/{user['id']}"
    assert user["meta"]["resourceType"] == "User" and user["meta"]["created"].endswith("Z")
    assert user["active"] is False, "active false when not sent"
    assert user["addresses"][0]["country"] == stored
    assert all(item["primary"] is False for item in user["emails"] + user["addresses"])
    phones = {p["type"]: p["value"] for p in user["phoneNumbers"]}
    assert phones["mobile"] == "+46701112233"
    assert re.fullmatch(r"\+1\d{10}", phones["work"]) and re.fullmatch(r"\d+", phones["other"])
    assert "roles" not in user and user["name"] == {"familyName": "Person", "givenName": "New"}
    assert user[ENTERPRISE] == {"department": "Sales"} and user["title"] == "Engineer"
    assert scim.user(user["id"]) == user
    assert scim.get("/Users?count=0").json()["totalResults"] == TOTAL + 1


def test_create_keeps_active_when_sent_and_gives_each_user_new_numbers(scim: Scim) -> None:
    first = scim.call("POST", "/Users", json=_entra_create("one@contoso.example")).json()
    second = scim.call("POST", "/Users", json=_entra_create("two@contoso.example")).json()
    assert first["active"] is True and first["id"] != second["id"]
    numbers = [{p["type"]: p["value"] for p in u["phoneNumbers"]} for u in (first, second)]
    assert numbers[0]["work"] != numbers[1]["work"] and numbers[0]["other"] != numbers[1]["other"]


def test_create_conflicts_and_missing_attributes(scim: Scim) -> None:
    duplicate = scim.call("POST", "/Users", json=_entra_create("ADA.LIND@contoso.example"))
    assert _assert_scim_error(duplicate, 409, "uniqueness")["detail"] == "duplicate email"
    body = _entra_create("x@contoso.example")
    del body["emails"]
    _assert_scim_error(scim.call("POST", "/Users", json=body), 400, "invalidValue")
    wrong_type = {**_entra_create("y@contoso.example"), "active": "sometimes"}
    _assert_scim_error(scim.call("POST", "/Users", json=wrong_type), 400, "invalidValue")


def test_request_bodies_and_content_types(scim: Scim) -> None:
    raw = json.dumps(_entra_create("ct@contoso.example"))
    as_scim = scim.call("POST", "/Users", data=raw, headers={"Content-Type": "application/scim+json; charset=utf-8"})
    assert as_scim.status_code == 201
    _assert_scim_error(scim.call("POST", "/Users", data=raw, headers={"Content-Type": "text/plain"}), 415)
    broken = scim.call("POST", "/Users", data="{nope", headers={"Content-Type": "application/json"})
    _assert_scim_error(broken, 400, "invalidSyntax")


def test_put_replaces_keeping_id_created_and_ringcentral_numbers(scim: Scim) -> None:
    before = scim.user(ADA)
    body = {"schemas": [CORE_USER], "userName": "ada.lind@contoso.example",
            "name": {"givenName": "Ada", "familyName": "Lind-Berg"},
            "emails": [{"type": "work", "value": "ada.lind@contoso.example"}],
            "phoneNumbers": [{"type": "work", "value": "+19999999999"}],
            "addresses": [{"type": "work", "locality": "Belmont", "country": "US"}]}
    answer = scim.call("PUT", f"/Users/{ADA}", json=body)
    assert answer.status_code == 200, answer.text
    user = answer.json()
    assert user["id"] == ADA and user["meta"]["created"] == before["meta"]["created"]
    assert user["meta"]["lastModified"] != before["meta"]["lastModified"]
    assert {p["type"]: p["value"] for p in user["phoneNumbers"]} == {"work": "+16509186800", "other": "101"}
    assert user["addresses"] == [{"type": "work", "locality": "Belmont", "country": "United States", "primary": False}]
    assert "externalId" not in user and "title" not in user and ENTERPRISE not in user, "a full replace"
    assert user["active"] is False
    assert scim.user(ADA) == user
    taken = {**body, "userName": "dev.patel@contoso.example"}
    _assert_scim_error(scim.call("PUT", f"/Users/{ADA}", json=taken), 409, "uniqueness")
    _assert_scim_error(scim.call("PUT", "/Users/404404", json=body), 404)


def test_delete_then_404(scim: Scim) -> None:
    answer = scim.call("DELETE", f"/Users/{ADA}")
    assert answer.status_code == 204 and answer.content == b""
    _assert_scim_error(scim.get(f"/Users/{ADA}"), 404)
    _assert_scim_error(scim.call("DELETE", f"/Users/{ADA}"), 404)
    assert scim.get("/Users?count=0").json()["totalResults"] == TOTAL - 1


# --- PATCH -----------------------------------------------------------------------------------------
def test_patch_with_entras_attribute_paths(scim: Scim) -> None:
    before = scim.user(ADA)
    answer = scim.patch(
        ADA,
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Replace", "path": "userName", "value": "ada.lindqvist@contoso.example"},
        {"op": "Replace", "path": "externalId", "value": "ada.lindqvist"},
        {"op": "Replace", "path": "title", "value": "Head of Support"},
        {"op": "Replace", "path": "name.givenName", "value": "Adah"},
        {"op": "Replace", "path": "name.familyName", "value": "Lindqvist"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ada.lindqvist@contoso.example"},
        {"op": "Replace", "path": 'addresses[type eq "work"].country', "value": "DE"},
        {"op": "Add", "path": 'addresses[type eq "work"].region', "value": "BE"},
        {"op": "Replace", "path": 'addresses[type eq "work"].locality', "value": "Berlin"},
        {"op": "Replace", "path": 'addresses[type eq "work"].postalCode', "value": "10115"},
        {"op": "Replace", "path": 'addresses[type eq "work"].streetAddress', "value": "Invalidenstraße 116"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+4915123456789"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Engineering"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith(SCIM_JSON)
    user = answer.json()
    assert user["active"] is False and user["userName"] == "ada.lindqvist@contoso.example"
    assert (user["externalId"], user["title"]) == ("ada.lindqvist", "Head of Support")
    assert user["name"] == {"givenName": "Adah", "familyName": "Lindqvist"}
    assert user["emails"] == [{"type": "work", "primary": False, "value": "ada.lindqvist@contoso.example"}]
    assert user["addresses"] == [{"type": "work", "primary": False, "streetAddress": "Invalidenstraße 116",
                                  "locality": "Berlin", "postalCode": "10115", "country": "Germany", "region": "BE"}]
    assert {p["type"]: p["value"] for p in user["phoneNumbers"]} == {
        "mobile": "+4915123456789", "work": "+16509186800", "other": "101"}
    assert user[ENTERPRISE] == {"department": "Engineering"}
    assert user["meta"]["lastModified"] > before["meta"]["lastModified"]
    assert user["meta"]["created"] == before["meta"]["created"]
    assert scim.user(ADA) == user


def test_patch_mobile_item_forms_and_boolean_values(scim: Scim) -> None:
    removed = scim.patch(ADA, {"op": "Remove", "path": 'phoneNumbers[type eq "mobile"]'}).json()
    assert {p["type"] for p in removed["phoneNumbers"]} == {"work", "other"}
    again = scim.patch(ADA, {"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'})
    assert again.status_code == 200, "removing something absent is a no-op"
    added = scim.patch(ADA, {"op": "add", "path": "phoneNumbers",
                             "value": [{"type": "mobile", "value": "+46709998877"}]}).json()
    assert {"type": "mobile", "value": "+46709998877"} in added["phoneNumbers"] and len(added["phoneNumbers"]) == 3
    assert scim.patch(ADA, {"op": "replace", "path": "active", "value": False}).json()["active"] is False
    assert scim.patch(ADA, {"op": "Replace", "path": "active", "value": "True"}).json()["active"] is True


def test_patch_add_creates_a_missing_item_and_replace_finds_no_target(scim: Scim) -> None:
    created = scim.call("POST", "/Users", json={
        "schemas": [CORE_USER], "userName": "bare@contoso.example", "name": {"givenName": "B", "familyName": "Are"},
        "emails": [{"type": "work", "value": "bare@contoso.example"}]}).json()
    assert "addresses" not in created
    missing = scim.patch(created["id"], {"op": "Replace", "path": 'addresses[type eq "work"].locality',
                                         "value": "Lund"})
    _assert_scim_error(missing, 400, "noTarget")
    user = scim.patch(created["id"], {"op": "Add", "path": 'addresses[type eq "work"].country', "value": "SE"},
                      {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46701231231"}).json()
    assert user["addresses"] == [{"type": "work", "country": "Sweden", "primary": False}]
    assert {"type": "mobile", "value": "+46701231231"} in user["phoneNumbers"]


def test_pathless_replace_with_urn_keys(scim: Scim) -> None:
    user = scim.patch(ADA, {"op": "replace", "value": {
        "active": False, "title": "Lead", "name.familyName": "L",
        ENTERPRISE: {"department": "Sales"}}}).json()
    assert (user["active"], user["title"], user["name"]["familyName"]) == (False, "Lead", "L")
    assert user[ENTERPRISE] == {"department": "Sales"}
    user = scim.patch(ADA, {"op": "add", "value": {f"{ENTERPRISE}:department": "Support"}}).json()
    assert user[ENTERPRISE] == {"department": "Support"}


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "Replace", "path": "displayName", "value": "Ada Lind"}, "invalidPath"),
        ({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "1271137020"}, "invalidPath"),
        ({"op": "replace", "path": "nickName", "value": "A"}, "invalidPath"),
        ({"op": "replace", "path": 'emails[type eq "work"', "value": "A"}, "invalidPath"),
        ({"op": "replace", "path": 'phoneNumbers[type eq "fax"].value', "value": "+1"}, "noTarget"),
        ({"op": "replace", "path": "active", "value": "perhaps"}, "invalidValue"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "remove", "path": "userName"}, "mutability"),
        ({"op": "copy", "path": "title", "value": "x"}, "invalidSyntax"),
    ],
)
def test_patch_errors(scim: Scim, operation: dict[str, Any], scim_type: str) -> None:
    _assert_scim_error(scim.patch(ADA, operation), 400, scim_type)


def test_patch_is_all_or_nothing(scim: Scim) -> None:
    before = scim.user(ADA)
    answer = scim.patch(ADA, {"op": "Replace", "path": "title", "value": "Changed"},
                        {"op": "Replace", "path": "active", "value": "False"},
                        {"op": "Replace", "path": 'addresses[type eq "home"].locality', "value": "Nowhere"})
    _assert_scim_error(answer, 400, "noTarget")
    assert scim.user(ADA) == before


def test_patch_user_name_collision_and_unknown_user(scim: Scim) -> None:
    taken = scim.patch(ADA, {"op": "replace", "path": "userName", "value": "DEV.PATEL@contoso.example"})
    _assert_scim_error(taken, 409, "uniqueness")
    assert scim.user(ADA)["userName"] == "ada.lind@contoso.example"
    same_name = scim.patch(ADA, {"op": "replace", "path": "userName", "value": "ADA.LIND@contoso.example"})
    assert same_name.status_code == 200, "a change of case is not a collision with oneself"
    _assert_scim_error(scim.patch("404404", {"op": "replace", "path": "title", "value": "x"}), 404)
    malformed = scim.call("PATCH", f"/Users/{ADA}", json={"Operations": [{"op": "add", "path": "title", "value": "x"}]})
    _assert_scim_error(malformed, 400, "invalidSyntax")


def test_classic_profile_takes_display_name_and_manager(scim: Scim, sandbox: Sandbox) -> None:
    sandbox.state.settings["schemaProfile"] = "classic"
    user = scim.patch(ADA, {"op": "Add", "path": "displayName", "value": "Ada Lind"},
                      {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "1271137020"}).json()
    assert user["displayName"] == "Ada Lind"
    assert user[ENTERPRISE] == {"department": "Support", "manager": {"value": "1271137020"}}
    user = scim.patch(ADA, {"op": "Remove", "path": f"{ENTERPRISE}:manager"}).json()
    assert user[ENTERPRISE] == {"department": "Support"}


# --- discovery -------------------------------------------------------------------------------------
def _attribute_names(schema: dict[str, Any]) -> set[str]:
    return {a["name"] for a in schema["attributes"]}


def test_schemas_follow_the_profile(scim: Scim, sandbox: Sandbox) -> None:
    listed = scim.get("/Schemas").json()
    assert listed["totalResults"] == 2 and listed["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]
    core, enterprise = listed["Resources"]
    assert core["id"] == CORE_USER and enterprise["id"] == ENTERPRISE
    assert _attribute_names(core) == {"userName", "name", "title", "active", "emails", "phoneNumbers", "addresses",
                                      "photos", "externalId"}
    by_name = {a["name"]: a for a in core["attributes"]}
    assert {s["name"] for s in by_name["addresses"]["subAttributes"]} == {
        "type", "streetAddress", "locality", "region", "postalCode", "country"}
    assert next(s for s in by_name["phoneNumbers"]["subAttributes"] if s["name"] == "type")["canonicalValues"] == [
        "work", "mobile", "other"]
    assert next(s for s in by_name["emails"]["subAttributes"] if s["name"] == "type")["canonicalValues"] == ["work"]
    assert _attribute_names(enterprise) == {"department"}
    assert scim.get(f"/Schemas/{ENTERPRISE}").json() == enterprise
    _assert_scim_error(scim.get("/Schemas/urn:example:nothing"), 404)
    _assert_scim_error(scim.get("/Schemas", params={"filter": 'id eq "x"'}), 403)

    sandbox.state.settings["schemaProfile"] = "classic"
    core, enterprise = scim.get("/Schemas").json()["Resources"]
    assert "displayName" in _attribute_names(core)
    assert _attribute_names(enterprise) == {"department", "manager"}


def test_resource_types_and_service_provider_config(scim: Scim, http: requests.Session, sandbox: Sandbox) -> None:
    types = scim.get("/ResourceTypes").json()
    assert types["totalResults"] == 1
    user_type = types["Resources"][0]
    assert (user_type["name"], user_type["endpoint"], user_type["schema"]) == ("User", "/Users", CORE_USER)
    assert user_type["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert scim.get("/ResourceTypes/User").json() == user_type
    _assert_scim_error(scim.get("/ResourceTypes/Group"), 404)

    config = http.get(f"{sandbox.scim_url}/ServiceProviderConfig")  # no token needed
    assert config.status_code == 200 and config.headers["Content-Type"].startswith(SCIM_JSON)
    body = config.json()
    assert body["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert body["filter"] == {"supported": True, "maxResults": MAX_COUNT}
    assert body["patch"]["supported"] is True
    assert not any(body[k]["supported"] for k in ("bulk", "sort", "etag", "changePassword"))
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    health = http.get(f"{sandbox.scim_url}/health")
    assert health.status_code == 200 and "X-Rate-Limit-Group" not in health.headers


def test_unknown_routes_answer_in_the_scim_shape(scim: Scim) -> None:
    _assert_scim_error(scim.get("/Groups"), 404)
    _assert_scim_error(scim.call("DELETE", "/Users"), 405)


# --- rate limits -----------------------------------------------------------------------------------
def _limit_headers(answer: requests.Response) -> tuple[str, str, str, str]:
    h = answer.headers
    return h["X-Rate-Limit-Group"], h["X-Rate-Limit-Limit"], h["X-Rate-Limit-Remaining"], h["X-Rate-Limit-Window"]


def test_rate_limit_headers_count_down_to_a_429(scim: Scim, sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.state.configure_limits(light=3, heavy=2, window=1)
    answers = [scim.get(f"/Users/{ADA}"), scim.get("/Users/404404"), scim.get("/Schemas")]
    assert [a.status_code for a in answers] == [200, 404, 200]
    assert [_limit_headers(a) for a in answers] == [("light", "3", r, "1") for r in ("2", "1", "0")]
    throttled = scim.get("/ResourceTypes")
    _assert_platform_error(throttled, 429, "CMN-301")
    assert throttled.json()["message"] == "Request rate exceeded"
    assert _limit_headers(throttled) == ("light", "3", "0", "1") and throttled.headers["Retry-After"] == "1"

    heavy = [scim.call("DELETE", "/Users/404404"), scim.patch("404404", {"op": "add", "path": "title", "value": "x"})]
    assert [(a.status_code, _limit_headers(a)[0], _limit_headers(a)[2]) for a in heavy] == [
        (404, "heavy", "1"), (404, "heavy", "0")]
    _assert_platform_error(scim.call("POST", "/Users", json=_entra_create("z@contoso.example")), 429, "CMN-301")
    search = scim.call("POST", "/Users/.search", json={})
    assert search.status_code == 429 and _limit_headers(search)[0] == "light", ".search is a read"

    free = [http.get(f"{sandbox.scim_url}/ServiceProviderConfig"), http.get(f"{sandbox.scim_url}/health")]
    assert [a.status_code for a in free] == [200, 200]
    assert not any("X-Rate-Limit-Group" in a.headers for a in free)
    unauthenticated = Scim(http, sandbox.scim_url, None).get("/Users")
    assert unauthenticated.status_code == 401 and _limit_headers(unauthenticated)[:3] == ("light", "3", "2"), \
        "a 401 is counted too, against its own caller"


def test_requests_inside_the_penalty_restart_it(scim: Scim, sandbox: Sandbox) -> None:
    window = 0.5
    sandbox.state.configure_limits(light=1, window=window)
    assert scim.get("/Users?count=1").status_code == 200
    assert scim.get("/Users?count=1").status_code == 429
    first_penalty_over = time.monotonic() + window  # the server started it before this instant
    time.sleep(window * 0.6)
    restarted = time.monotonic()  # ... and restarts it after this one
    assert scim.get("/Users?count=1").status_code == 429, "inside the penalty"
    time.sleep(max(0.0, first_penalty_over + 0.05 - time.monotonic()))
    assert time.monotonic() < restarted + window, "the machine was too slow for this timing"
    late = scim.get("/Users?count=1")
    assert late.status_code == 429, "the first penalty is over, but the request inside it restarted it"
    assert late.headers["Retry-After"] == "0.5" and late.json()["errorCode"] == "CMN-301"
    time.sleep(window + 0.1)
    recovered = scim.get("/Users?count=1")
    assert recovered.status_code == 200 and _limit_headers(recovered)[2] == "0"


def test_callers_are_limited_separately(scim: Scim, sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.state.configure_limits(light=1, window=60)
    assert scim.get("/Users?count=1").status_code == 200
    assert scim.get("/Users?count=1").status_code == 429
    jwt_caller = Scim(http, sandbox.scim_url, _jwt_token(sandbox, http))
    assert jwt_caller.get("/Users?count=1").status_code == 200, "an RC app has its own budget"
    assert jwt_caller.get("/Users?count=1").status_code == 429


def test_token_endpoint_is_in_the_auth_group(sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.state.configure_limits(auth=2, window=60)
    app = sandbox.rc_app
    answers = [_token_request(sandbox, http, app["clientId"], app["clientSecret"], app["jwt"]) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [_limit_headers(a)[:3] for a in answers] == [("auth", "2", "1"), ("auth", "2", "0"), ("auth", "2", "0")]
    _assert_platform_error(answers[2], 429, "CMN-301")


# --- authentication --------------------------------------------------------------------------------
def test_bearer_token_problems_are_401s(scim: Scim, sandbox: Sandbox, http: requests.Session) -> None:
    _assert_platform_error(Scim(http, sandbox.scim_url, None).get("/Users"), 401, "OAU-213")
    _assert_platform_error(Scim(http, sandbox.scim_url, "not-a-token").get("/Users"), 401, "OAU-149")
    other_scheme = scim.get("/Users", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    _assert_platform_error(other_scheme, 401, "OAU-213")
    jwt_caller = Scim(http, sandbox.scim_url, _jwt_token(sandbox, http))
    assert jwt_caller.get("/Users?count=1").status_code == 200
    sandbox.state.tokens.expire_all()
    expired = jwt_caller.get("/Users?count=1")
    _assert_platform_error(expired, 401, "OAU-128")
    assert expired.json()["message"] == "Access token expired"
    assert scim.get("/Users?count=1").status_code == 200, "the static token does not expire"


def test_jwt_grant(sandbox: Sandbox, http: requests.Session) -> None:
    app = sandbox.rc_app
    answer = _token_request(sandbox, http, app["clientId"], app["clientSecret"], app["jwt"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["scope"] == "ReadAccounts EditAccounts"
    assert body["expires_in"] == int(sandbox.state.settings["tokenLifetime"])
    assert body["refresh_token"] and body["refresh_token_expires_in"] > 0
    assert body["owner_id"] and body["endpoint_id"]
    caller = Scim(http, sandbox.scim_url, body["access_token"])
    assert caller.get(f"/Users/{ADA}").status_code == 200
    created = caller.call("POST", "/Users", json=_entra_create("jwt.made@contoso.example"))
    assert created.status_code == 201


@pytest.mark.parametrize(
    ("change", "status", "error", "code"),
    [
        ({"secret": "wrong-secret"}, 401, "invalid_client", "OAU-146"),
        ({"client_id": "unknown-app"}, 401, "invalid_client", "OAU-146"),
        ({"assertion": "wrong-jwt"}, 400, "invalid_grant", "OAU-140"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", "OAU-125"),
    ],
)
def test_jwt_grant_errors(sandbox: Sandbox, http: requests.Session, change: dict[str, str], status: int,
                          error: str, code: str) -> None:
    app = sandbox.rc_app
    sent = {"client_id": app["clientId"], "secret": app["clientSecret"], "assertion": app["jwt"],
            "grant_type": JWT_GRANT, **change}
    answer = _token_request(sandbox, http, sent["client_id"], sent["secret"], sent["assertion"], sent["grant_type"])
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error and body["errors"][0]["errorCode"] == code and body["error_description"]
    for secret in (app["clientSecret"], app["jwt"], "wrong-secret", "wrong-jwt"):
        assert secret not in answer.text


def test_jwt_grant_without_basic_credentials(sandbox: Sandbox, http: requests.Session) -> None:
    answer = http.post(f"{sandbox.rc_url}/restapi/oauth/token", data={"grant_type": JWT_GRANT, "assertion": "x"})
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
