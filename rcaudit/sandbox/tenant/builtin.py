"""A small hand-written tenant built into the package: the sandbox's default when no file is given.

Eight employees of one company, assigned directly or through a group, with a little of every kind of
drift an analyst meets (an edit made in RingCentral, a disabled user still active, an orphan, a user
never provisioned, and one assigned only Default Access and never provisioned: Entra provisions Default
Access like any role since July 2020, so that is missing too). The full generator builds large tenants;
this one is small enough to read.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

from rcaudit.model.vocabulary import DEFAULT_ACCESS_ROLE

_NS = uuid.UUID("6f1d2c0e-8a51-4f43-9a3e-5b7f1c2d9e10")
DOMAIN = "contoso.example"
CREATED = "2025-03-02T09:15:00Z"
SCIM_CREATED = "2025-03-02T09:55:12.431Z"


def _id(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


# nickname, given, surname, title, department, mobile (as typed in Entra), city, state, postal, street,
# country, enabled
_PEOPLE: list[tuple[str, ...]] = [
    ("ada.lind", "Ada", "Lind", "Head of Support", "Support", "+46 70 123 45 67",
     "Stockholm", "", "111 52", "Vasagatan 7", "SE", "yes"),
    ("bjorn.ostberg", "Björn", "Östberg", "Support Engineer", "Support", "070-234 56 78",
     "Göteborg", "", "411 06", "Kungsgatan 12", "Sweden", "yes"),
    ("carla.diaz", "Carla", "Díaz", "Account Executive", "Sales", "(415) 555-0134",
     "San Francisco", "CA", "94105", "500 Howard St", "US", "yes"),
    ("dev.patel", "Dev", "Patel", "Sales Manager", "Sales", "+1 415 555 0199",
     "San Francisco", "CA", "94105", "500 Howard St", "United States", "yes"),
    ("emma.wright", "Emma", "Wright", "Finance Analyst", "Finance", "07700 900123",
     "London", "", "EC2A 4NE", "1 Finsbury Ave", "GB", "yes"),
    ("felix.mueller", "Felix", "Müller", "Engineer", "Engineering", "0151 23456789",
     "Berlin", "BE", "10115", "Invalidenstraße 116", "DE", "no"),
    ("grace.okafor", "Grace", "Okafor", "Engineer", "Engineering", "",
     "London", "", "EC2A 4NE", "1 Finsbury Ave", "GB", "yes"),
    ("hugo.berg", "Hugo", "Berg", "Intern", "Support", "",
     "Stockholm", "", "111 52", "Vasagatan 7", "SE", "yes"),
]

_RC_COUNTRY = {"SE": "Sweden", "Sweden": "Sweden", "US": "United States", "United States": "United States",
               "GB": "United Kingdom", "DE": "Germany"}
_E164 = {"+46 70 123 45 67": "+46701234567", "070-234 56 78": "+46702345678",
         "(415) 555-0134": "+14155550134", "+1 415 555 0199": "+14155550199",
         "07700 900123": "+447700900123", "0151 23456789": "+4915123456789"}


def _graph_user(p: tuple[str, ...], n: int) -> dict[str, Any]:
    nick, given, surname, title, dept, mobile, city, state, postal, street, country, enabled = p
    return {
        "id": _id(nick),
        "userPrincipalName": f"{nick}@{DOMAIN}",
        "mailNickname": nick,
        "displayName": f"{given} {surname}",
        "givenName": given,
        "surname": surname,
        "jobTitle": title,
        "mail": f"{nick}@{DOMAIN}",
        "mobilePhone": mobile or None,
        "businessPhones": [],
        "department": dept,
        "streetAddress": street,
        "city": city,
        "state": state or None,
        "postalCode": postal,
        "country": country,
        "usageLocation": _RC_COUNTRY[country][:2].upper() if len(country) > 2 else country,
        "accountEnabled": enabled == "yes",
        "userType": "Member",
        "createdDateTime": CREATED,
    }


def _scim_user(g: dict[str, Any], n: int) -> dict[str, Any]:
    rc_id = str(1271136020 + n * 1000)
    phones = [{"type": "work", "value": f"+1650918{6800 + n}"}, {"type": "other", "value": str(101 + n)}]
    if g.get("mobilePhone"):
        phones.insert(0, {"type": "mobile", "value": _E164[g["mobilePhone"]]})
    address = {"type": "work", "primary": False, "streetAddress": g["streetAddress"], "locality": g["city"],
               "postalCode": g["postalCode"], "country": _RC_COUNTRY[g["country"]]}
    if g.get("state"):
        address["region"] = g["state"]
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": rc_id,
        "externalId": g["mailNickname"],
        "meta": {"resourceType": "User", "created": SCIM_CREATED, "lastModified": SCIM_CREATED,
                 "location": f"http://scim.ringcentral.com/scim/v2/Users/{rc_id}"},
        "userName": g["userPrincipalName"],
        "name": {"givenName": g["givenName"], "familyName": g["surname"]},
        "title": g["jobTitle"],
        "active": True,
        "emails": [{"type": "work", "primary": False, "value": g["mail"]}],
        "phoneNumbers": phones,
        "addresses": [address],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": g["department"]},
    }


def builtin_tenant() -> dict[str, Any]:
    """A fresh copy of the built-in tenant (no `sandbox` section: the sandbox generates credentials)."""
    users = [_graph_user(p, n) for n, p in enumerate(_PEOPLE)]
    by_nick = {u["mailNickname"]: u for u in users}
    for report, manager in (("bjorn.ostberg", "ada.lind"), ("hugo.berg", "ada.lind"),
                            ("carla.diaz", "dev.patel"), ("grace.okafor", "felix.mueller")):
        by_nick[report]["manager"] = {"id": by_nick[manager]["id"]}
    user_role = _id("role:user")
    sales = {"id": _id("group:sales"), "displayName": "RingCentral Sales", "members":
             [by_nick["carla.diaz"]["id"], by_nick["dev.patel"]["id"]]}
    assignments = [
        {"id": _id(f"assign:{nick}"), "principalId": by_nick[nick]["id"], "principalType": "User",
         "principalDisplayName": by_nick[nick]["displayName"], "appRoleId": user_role,
         "createdDateTime": "2025-03-01T08:00:00Z"}
        for nick in ("ada.lind", "bjorn.ostberg", "emma.wright", "felix.mueller", "grace.okafor")
    ]
    assignments.append({"id": _id("assign:sales"), "principalId": sales["id"], "principalType": "Group",
                        "principalDisplayName": sales["displayName"], "appRoleId": user_role,
                        "createdDateTime": "2025-03-01T08:00:00Z"})
    assignments.append({"id": _id("assign:hugo"), "principalId": by_nick["hugo.berg"]["id"],
                        "principalType": "User", "principalDisplayName": "Hugo Berg",
                        "appRoleId": DEFAULT_ACCESS_ROLE, "createdDateTime": "2025-03-01T08:00:00Z"})
    scim = [_scim_user(u, n) for n, u in enumerate(users) if u["mailNickname"] not in ("grace.okafor", "hugo.berg")]
    scim[0]["title"] = "Support Lead"  # edited in RingCentral, never reverted
    orphan = copy.deepcopy(scim[-1])
    orphan.update(id="1399001020", externalId="old.contractor", userName=f"old.contractor@{DOMAIN}",
                  name={"givenName": "Old", "familyName": "Contractor"},
                  emails=[{"type": "work", "primary": False, "value": f"old.contractor@{DOMAIN}"}])
    orphan["meta"] = {**orphan["meta"], "location": "http://scim.ringcentral.com/scim/v2/Users/1399001020"}
    scim.append(orphan)
    sp_id = _id("sp:ringcentral")
    return {
        "graph": {
            "tenantId": _id("tenant:contoso"),
            "servicePrincipal": {
                "id": sp_id, "appId": _id("app:ringcentral"), "displayName": "RingCentral",
                "servicePrincipalType": "Application", "accountEnabled": True,
                "appRoles": [
                    {"id": user_role, "displayName": "User", "value": "User", "isEnabled": True,
                     "allowedMemberTypes": ["User"], "description": "User", "origin": "Application"},
                    {"id": _id("role:msiam_access"), "displayName": "msiam_access", "value": None,
                     "isEnabled": True, "allowedMemberTypes": ["User"], "description": "msiam_access",
                     "origin": "Application"},
                ],
            },
            "users": users,
            "deletedUsers": [],
            "groups": [sales],
            "appRoleAssignments": assignments,
        },
        "scim": {"Users": scim},
    }
