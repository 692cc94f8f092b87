"""The sandbox's SCIM PATCH engine as pure functions: path grammar, each operation form, atomicity."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rcaudit.model.vocabulary import PATCH_OP
from rcaudit.sandbox.servers.scim_patch import (
    Comparison,
    PatchError,
    PatchPath,
    apply_patch,
    clean_resource,
    missing_required,
    parse_filter,
    parse_path,
)
from rcaudit.sandbox.servers.scim_schemas import CORE_USER, ENTERPRISE_USER

ENTERPRISE = ENTERPRISE_USER


def _user() -> dict[str, Any]:
    return {
        "schemas": [CORE_USER, ENTERPRISE],
        "id": "1271136020",
        "externalId": "ada.lind",
        "meta": {"resourceType": "User", "created": "2025-03-02T09:55:12.431Z"},
        "userName": "ada.lind@contoso.example",
        "name": {"givenName": "Ada", "familyName": "Lind"},
        "title": "Support Lead",
        "active": True,
        "emails": [{"type": "work", "primary": False, "value": "ada.lind@contoso.example"}],
        "phoneNumbers": [{"type": "mobile", "value": "+46701234567"}, {"type": "work", "value": "+16509186800"},
                         {"type": "other", "value": "101"}],
        "addresses": [{"type": "work", "primary": False, "streetAddress": "Vasagatan 7", "locality": "Stockholm",
                       "postalCode": "111 52", "country": "Sweden"}],
        ENTERPRISE: {"department": "Support"},
        "x-ringcentral-extra": {"kept": True},
    }


def _patch(user: dict[str, Any], *operations: dict[str, Any], profile: str = "current") -> dict[str, Any]:
    return apply_patch(user, {"schemas": [PATCH_OP], "Operations": list(operations)}, profile)


def _error(user: dict[str, Any], *operations: dict[str, Any], profile: str = "current") -> PatchError:
    with pytest.raises(PatchError) as err:
        _patch(user, *operations, profile=profile)
    return err.value


def _phones(user: dict[str, Any]) -> dict[str, str]:
    return {p["type"]: p["value"] for p in user.get("phoneNumbers", [])}


# --- grammar ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("active", PatchPath("active")),
        ("name.givenName", PatchPath("name", sub_attr="givenName")),
        ('emails[type eq "work"].value', PatchPath("emails", sub_attr="value", filter=(Comparison("type", "work"),))),
        ('phoneNumbers[type eq "mobile"]', PatchPath("phoneNumbers", filter=(Comparison("type", "mobile"),))),
        ('addresses[ type  EQ "work" ].postalCode',
         PatchPath("addresses", sub_attr="postalCode", filter=(Comparison("type", "work"),))),
        (f"{ENTERPRISE}:department", PatchPath("department", uri=ENTERPRISE)),
        (f"{CORE_USER}:name.familyName", PatchPath("name", uri=CORE_USER, sub_attr="familyName")),
        (f'{CORE_USER}:emails[type eq "work"].value',
         PatchPath("emails", uri=CORE_USER, sub_attr="value", filter=(Comparison("type", "work"),))),
        ('emails[value eq "a\\"]b" and primary eq false]',
         PatchPath("emails", filter=(Comparison("value", 'a"]b'), Comparison("primary", False)))),
        ("  title  ", PatchPath("title")),
    ],
)
def test_parse_path_accepts_the_forms_entra_sends(text: str, expected: PatchPath) -> None:
    assert parse_path(text) == expected


@pytest.mark.parametrize(
    ("text", "scim_type"),
    [
        ("", "invalidPath"),
        ("name.givenName.extra", "invalidPath"),
        ("name.givenName[type eq \"x\"]", "invalidPath"),
        ('emails[type eq "work"', "invalidPath"),
        ('emails[type eq "work"]value', "invalidPath"),
        ("urn:ietf:params:scim:schemas:core:2.0:User:", "invalidPath"),
        ("9lives", "invalidPath"),
        ('emails[type ne "work"].value', "invalidFilter"),
        ('emails[type eq "work" or type eq "home"]', "invalidFilter"),
        ("emails[type eq work]", "invalidFilter"),
        ('emails[type eq "w\\q"]', "invalidFilter"),
        ('emails[not (type eq "work")]', "invalidFilter"),
        ("emails[type pr]", "invalidFilter"),
    ],
)
def test_parse_path_refuses_malformed_paths(text: str, scim_type: str) -> None:
    with pytest.raises(PatchError) as err:
        parse_path(text)
    assert err.value.scim_type == scim_type


def test_parse_filter_reads_literals() -> None:
    assert parse_filter('userName eq "a@b.c"') == (Comparison("userName", "a@b.c"),)
    assert parse_filter("primary eq TRUE and x eq null and n eq 3") == (
        Comparison("primary", True), Comparison("x", None), Comparison("n", 3))


# --- operations -----------------------------------------------------------------------------------
def test_entra_style_replace_with_capitalised_op_and_string_boolean() -> None:
    user = _user()
    out = _patch(user, {"op": "Replace", "path": "active", "value": "False"},
                 {"op": "Replace", "path": "title", "value": "Head of Support"},
                 {"op": "Replace", "path": "name.givenName", "value": "Adah"},
                 {"op": "REPLACE", "path": "name.familyName", "value": "Lindqvist"},
                 {"op": "Replace", "path": "externalId", "value": "ada"},
                 {"op": "Replace", "path": "userName", "value": "adah@contoso.example"})
    assert out["active"] is False
    assert out["title"] == "Head of Support"
    assert out["name"] == {"givenName": "Adah", "familyName": "Lindqvist"}
    assert (out["externalId"], out["userName"]) == ("ada", "adah@contoso.example")
    assert user == _user(), "the input is never changed"
    assert out["x-ringcentral-extra"] == {"kept": True}, "properties the engine does not know survive"


def test_filtered_sub_attribute_paths() -> None:
    out = _patch(_user(), {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@contoso.example"},
                 *({"op": "replace", "path": f'addresses[type eq "work"].{sub}', "value": value} for sub, value in
                   (("country", "US"), ("region", "CA"), ("locality", "San Mateo"), ("postalCode", "94404"),
                    ("streetAddress", "1400 Fashion Island Blvd"))))
    assert out["emails"] == [{"type": "work", "primary": False, "value": "ada@contoso.example"}]
    assert out["addresses"] == [{"type": "work", "primary": False, "streetAddress": "1400 Fashion Island Blvd",
                                 "locality": "San Mateo", "postalCode": "94404", "country": "US", "region": "CA"}]


def test_mobile_number_forms() -> None:
    user = _user()
    replaced = _patch(user, {"op": "replace", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46700000000"})
    assert _phones(replaced) == {"mobile": "+46700000000", "work": "+16509186800", "other": "101"}
    removed = _patch(user, {"op": "Remove", "path": 'phoneNumbers[type eq "mobile"]'})
    assert _phones(removed) == {"work": "+16509186800", "other": "101"}
    mobile = {"type": "mobile", "value": "+46711111111"}
    added = _patch(removed, {"op": "add", "path": "phoneNumbers", "value": [mobile]})
    assert _phones(added) == {"work": "+16509186800", "other": "101", "mobile": "+46711111111"}
    again = _patch(added, {"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "+46722222222"}]})
    assert _phones(again)["mobile"] == "+46722222222" and len(again["phoneNumbers"]) == 3, "one value per type"
    created = _patch(removed, {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46733333333"})
    assert {"type": "mobile", "value": "+46733333333"} in created["phoneNumbers"]


def test_replacing_or_removing_the_whole_phone_list_keeps_ringcentral_numbers() -> None:
    out = _patch(_user(), {"op": "replace", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "+1555"}]})
    assert _phones(out) == {"work": "+16509186800", "other": "101", "mobile": "+1555"}
    cleared = _patch(_user(), {"op": "remove", "path": "phoneNumbers"})
    assert _phones(cleared) == {"work": "+16509186800", "other": "101"}


def test_add_to_a_missing_filtered_item_creates_it_and_replace_does_not() -> None:
    user = _user()
    del user["addresses"]
    out = _patch(user, {"op": "add", "path": 'addresses[type eq "work"].locality', "value": "Malmö"})
    assert out["addresses"] == [{"type": "work", "locality": "Malmö"}]
    err = _error(user, {"op": "replace", "path": 'addresses[type eq "work"].locality', "value": "Malmö"})
    assert err.scim_type == "noTarget"


def test_the_forms_a_fix_plan_sends_in_one_request() -> None:
    """rcaudit's fix-ups send what Entra sends: each typed value an add on its own filtered path (the first creates
    the item, the next ones fill it), a cleared value removed on its own path, active as a string."""
    user = _user()
    del user["addresses"]
    user["phoneNumbers"] = [p for p in user["phoneNumbers"] if p["type"] != "mobile"]
    out = _patch(user, *[{"op": "add", "path": f'addresses[type eq "work"].{part}', "value": value}
                         for part, value in (("country", "US"), ("locality", "San Francisco"), ("region", "CA"))],
                 {"op": "add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46701234567"},
                 {"op": "remove", "path": "title"}, {"op": "replace", "path": "active", "value": "False"})
    assert out["addresses"] == [{"type": "work", "country": "US", "locality": "San Francisco", "region": "CA"}]
    assert _phones(out)["mobile"] == "+46701234567" and out["active"] is False and "title" not in out
    back = _patch(out, {"op": "remove", "path": 'phoneNumbers[type eq "mobile"].value'},
                  {"op": "replace", "path": "active", "value": "True"})
    assert "mobile" not in _phones(back) and back["active"] is True


def test_remove_of_something_absent_is_a_no_op() -> None:
    user = _user()
    del user[ENTERPRISE]
    for path in (f"{ENTERPRISE}:department", "title", 'phoneNumbers[type eq "fax"]', "photos",
                 'addresses[type eq "work"].region'):
        user = _patch(user, {"op": "remove", "path": path})
    assert ENTERPRISE not in user and "title" not in user and "region" not in user["addresses"][0]


def test_remove_last_meaningful_sub_attribute_drops_the_item() -> None:
    out = _patch(_user(), {"op": "remove", "path": 'phoneNumbers[type eq "mobile"].value'})
    assert "mobile" not in _phones(out)


def test_pathless_replace_and_add_with_urn_keys() -> None:
    out = _patch(_user(), {"op": "replace", "value": {
        "active": "False", "name.givenName": "A", 'emails[type eq "work"].value': "a@contoso.example",
        ENTERPRISE: {"department": "Sales"}}})
    assert out["active"] is False and out["name"]["givenName"] == "A"
    assert out["emails"][0]["value"] == "a@contoso.example" and out[ENTERPRISE] == {"department": "Sales"}
    user = _user()
    del user[ENTERPRISE]
    user["schemas"] = [CORE_USER]
    added = _patch(user, {"op": "add", "value": {f"{ENTERPRISE}:department": "Finance", "title": "Analyst"}})
    assert added[ENTERPRISE] == {"department": "Finance"} and added["title"] == "Analyst"
    assert added["schemas"] == [CORE_USER, ENTERPRISE], "the extension's URN joins schemas"


def test_replace_of_a_complex_attribute_merges_its_sub_attributes() -> None:
    out = _patch(_user(), {"op": "replace", "path": "name", "value": {"familyName": "L"}})
    assert out["name"] == {"givenName": "Ada", "familyName": "L"}


def test_attribute_names_are_case_insensitive() -> None:
    out = _patch(_user(), {"op": "replace", "path": "NAME.GIVENNAME", "value": "Ad"},
                 {"op": "replace", "path": f"{ENTERPRISE.upper()}:Department", "value": "HR"})
    assert out["name"]["givenName"] == "Ad" and out[ENTERPRISE]["department"] == "HR"


def test_real_booleans_and_null_values() -> None:
    assert _patch(_user(), {"op": "replace", "path": "active", "value": False})["active"] is False
    assert "title" not in _patch(_user(), {"op": "replace", "path": "title", "value": None})
    assert "mobile" not in _phones(_patch(_user(), {"op": "replace", "path": 'phoneNumbers[type eq "mobile"]',
                                                  "value": None}))


def test_profile_decides_what_a_path_may_name() -> None:
    user = _user()
    assert _error(user, {"op": "replace", "path": "displayName", "value": "Ada L"}).scim_type == "invalidPath"
    manager = {"op": "add", "path": f"{ENTERPRISE}:manager", "value": "1271137020"}
    assert _error(user, manager).scim_type == "invalidPath"
    out = _patch(user, {"op": "replace", "path": "displayName", "value": "Ada L"}, manager, profile="classic")
    assert out["displayName"] == "Ada L"
    assert out[ENTERPRISE] == {"department": "Support", "manager": {"value": "1271137020"}}
    gone = _patch(out, {"op": "remove", "path": f"{ENTERPRISE}:manager"}, profile="classic")
    assert gone[ENTERPRISE] == {"department": "Support"}


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "replace", "path": "nickName", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "name.middleName", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'title[type eq "x"]', "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "urn:example:ext:1.0:User:thing", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 'emails[type eq "home"].value', "value": "x"}, "noTarget"),
        ({"op": "replace", "path": 'emails[colour eq "red"].value', "value": "x"}, "invalidFilter"),
        ({"op": "replace", "path": "active", "value": "yes"}, "invalidValue"),
        ({"op": "replace", "path": "title", "value": 42}, "invalidValue"),
        ({"op": "replace", "path": "name", "value": "Ada"}, "invalidValue"),
        ({"op": "add", "path": "phoneNumbers", "value": [{"type": "fax", "value": "+1"}]}, "invalidValue"),
        ({"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile"}]}, "invalidValue"),
        ({"op": "replace", "value": "not an object"}, "invalidValue"),
        ({"op": "replace", "path": "title"}, "invalidValue"),
        ({"op": "move", "path": "title", "value": "x"}, "invalidSyntax"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "path": "id", "value": "1"}, "mutability"),
        ({"op": "remove", "path": "userName"}, "mutability"),
        ({"op": "remove", "path": "name.familyName"}, "mutability"),
        ({"op": "remove", "path": 'emails[type eq "work"]'}, "mutability"),
    ],
)
def test_refused_operations(operation: dict[str, Any], scim_type: str) -> None:
    err = _error(_user(), operation)
    assert err.scim_type == scim_type and err.status == 400


def test_all_operations_or_none() -> None:
    user = _user()
    before = copy.deepcopy(user)
    err = _error(user, {"op": "replace", "path": "title", "value": "Changed"},
                 {"op": "replace", "path": "displayName", "value": "x"})
    assert err.detail.startswith("Operations[1]:")
    assert user == before


@pytest.mark.parametrize(
    "body",
    [None, [], {"Operations": [{"op": "add", "path": "title", "value": "x"}]},
     {"schemas": [PATCH_OP], "Operations": []}, {"schemas": [PATCH_OP], "Operations": ["add"]}],
)
def test_malformed_patch_messages(body: Any) -> None:
    with pytest.raises(PatchError) as err:
        apply_patch(_user(), body, "current")
    assert err.value.scim_type == "invalidSyntax"


# --- whole resources -------------------------------------------------------------------------------
def test_clean_resource_keeps_what_the_profile_declares() -> None:
    body = {"schemas": [CORE_USER], "id": "x", "meta": {"resourceType": "User"}, "userName": "a@b.example",
            "active": "True", "roles": [], "displayName": "A B", "name": {"givenName": "A", "familyName": "B",
                                                                           "formatted": "A B"},
            "emails": [{"type": "Work", "value": "a@b.example", "primary": True}],
            ENTERPRISE: {"department": "X", "employeeNumber": "7"}}
    clean = clean_resource(body, "current")
    assert clean == {"schemas": [CORE_USER], "userName": "a@b.example", "active": True,
                     "name": {"givenName": "A", "familyName": "B"},
                     "emails": [{"type": "work", "value": "a@b.example", "primary": True}],
                     ENTERPRISE: {"department": "X"}}
    assert clean_resource(body, "classic")["displayName"] == "A B"
    assert missing_required(clean, "current") == []
    assert missing_required({"name": {"givenName": "A"}}, "current") == ["userName", "name.familyName", "emails"]
    with pytest.raises(PatchError) as err:
        clean_resource({**body, "active": "sometimes"}, "current")
    assert err.value.scim_type == "invalidValue"
