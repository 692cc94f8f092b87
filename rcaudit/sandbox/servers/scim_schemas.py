"""The SCIM discovery documents RingCentral serves: /Schemas, /ResourceTypes, /ServiceProviderConfig.

The attribute definitions here are also the sandbox's single source of truth for what a user may
hold: the PATCH engine resolves paths against them and POST/PUT keep only what they declare. Two
profiles exist (DESIGN.md "Tenant file"): `current` declares only what RingCentral stores today;
`classic` adds `displayName` and the enterprise `manager`, which the gallery connector used to send.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from rcaudit.model.vocabulary import CORE_USER, ENTERPRISE

ENTERPRISE_USER = ENTERPRISE
USER_SCHEMAS = (CORE_USER, ENTERPRISE_USER)
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SERVICE_PROVIDER_CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"

# RingCentral's meta.location host: not the API host, so nobody should build URLs from it.
LOCATION_BASE = "http://scim.ringcentral.com/scim/v2"

Attribute = dict[str, Any]


def _attr(
    name: str, type_: str = "string", *, multi: bool = False, required: bool = False,
    case_exact: bool = False, mutability: str = "readWrite", uniqueness: str = "none",
    canonical: list[str] | None = None, sub: list[Attribute] | None = None, description: str = "",
) -> Attribute:
    """One attribute definition in RFC 7643 §7 form."""
    out: Attribute = {
        "name": name, "type": type_, "multiValued": multi, "description": description or name,
        "required": required, "caseExact": case_exact, "mutability": mutability, "returned": "default",
        "uniqueness": uniqueness,
    }
    if canonical is not None:
        out["canonicalValues"] = canonical
    if sub is not None:
        out["subAttributes"] = sub
    if type_ == "reference":
        out["referenceTypes"] = ["external"] if name != "$ref" else ["User"]
    return out


def _core_attributes(profile: str) -> list[Attribute]:
    attrs = [
        _attr("userName", required=True, uniqueness="server",
              description="Unique identifier for the User; MUST be the same as the work email address."),
        _attr("name", "complex", required=True, description="The components of the user's name.", sub=[
            _attr("givenName", required=True, description="The given name of the User."),
            _attr("familyName", required=True, description="The family name of the User."),
        ]),
    ]
    if profile == "classic":
        attrs.append(_attr("displayName", description="The name of the User, suitable for display."))
    attrs += [
        _attr("title", description="The user's title."),
        _attr("active", "boolean", description="A Boolean value indicating the User's administrative status."),
        _attr("emails", "complex", multi=True, required=True, description="Email addresses for the user.", sub=[
            _attr("value", required=True, description="Email address."),
            _attr("type", required=True, canonical=["work"], description="A label indicating the email's function."),
        ]),
        _attr("phoneNumbers", "complex", multi=True, description="Phone numbers for the User.", sub=[
            _attr("value", required=True, description="Phone number."),
            _attr("type", required=True, canonical=["work", "mobile", "other"],
                  description="A label indicating the phone number's function."),
        ]),
        _attr("addresses", "complex", multi=True, description="A physical mailing address for this User.", sub=[
            _attr("type", required=True, canonical=["work"], description="A label indicating the address' function."),
            _attr("streetAddress", description="The full street address component."),
            _attr("locality", description="The city or locality component."),
            _attr("region", description="The state or region component."),
            _attr("postalCode", description="The zip code or postal code component."),
            _attr("country", description="The country name component."),
        ]),
        _attr("photos", "complex", multi=True, description="URLs of photos of the User.", sub=[
            _attr("value", "reference", required=True, description="URL of a photo of the User."),
            _attr("type", required=True, canonical=["photo"], description="A label indicating the photo's function."),
        ]),
        _attr("externalId", case_exact=True,
              description="External unique resource id defined by the provisioning client."),
    ]
    return attrs


def _enterprise_attributes(profile: str) -> list[Attribute]:
    attrs = [_attr("department", description="Identifies the name of a department.")]
    if profile == "classic":
        attrs.append(_attr("manager", "complex", description="The User's manager.", sub=[
            _attr("value", description="The id of the SCIM resource representing the User's manager."),
            _attr("$ref", "reference", description="The URI of the SCIM resource representing the manager."),
            _attr("displayName", mutability="readOnly", description="The displayName of the User's manager."),
        ]))
    return attrs


@lru_cache(maxsize=4)
def _attributes(profile: str) -> dict[str, tuple[Attribute, ...]]:
    if profile not in ("current", "classic"):
        raise ValueError(f"unknown schema profile {profile!r}")
    return {CORE_USER: tuple(_core_attributes(profile)), ENTERPRISE_USER: tuple(_enterprise_attributes(profile))}


def user_attributes(profile: str, schema: str) -> tuple[Attribute, ...]:
    """The attributes `schema` declares under `profile` (shared: do not modify)."""
    return _attributes(profile).get(schema, ())


def find_attribute(profile: str, schema: str, name: str) -> Attribute | None:
    """The definition of attribute `name` of `schema` (names are case-insensitive, RFC 7643 §2.1)."""
    wanted = name.lower()
    return next((a for a in user_attributes(profile, schema) if a["name"].lower() == wanted), None)


def find_sub_attribute(attribute: Attribute, name: str) -> Attribute | None:
    wanted = name.lower()
    return next((s for s in attribute.get("subAttributes", ()) if s["name"].lower() == wanted), None)


def canonical_schema(uri: str) -> str | None:
    """The known user schema URN that `uri` spells (URNs compare case-insensitively), else None."""
    return next((s for s in USER_SCHEMAS if s.lower() == uri.lower()), None)


# --- documents ----------------------------------------------------------------------------------
def schema_documents(profile: str) -> list[dict[str, Any]]:
    """The /Schemas resources: core User and the enterprise extension, as the profile declares them."""
    names = {CORE_USER: ("User", "User Account"), ENTERPRISE_USER: ("EnterpriseUser", "Enterprise User")}
    return [
        {
            "schemas": [SCHEMA],
            "id": uri,
            "name": names[uri][0],
            "description": names[uri][1],
            "attributes": copy.deepcopy(list(user_attributes(profile, uri))),
            "meta": {"resourceType": "Schema", "location": f"{LOCATION_BASE}/Schemas/{uri}"},
        }
        for uri in USER_SCHEMAS
    ]


def resource_types() -> list[dict[str, Any]]:
    """The /ResourceTypes resources: RingCentral serves Users only, with the enterprise extension."""
    return [
        {
            "schemas": [RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "User Account",
            "schema": CORE_USER,
            "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{LOCATION_BASE}/ResourceTypes/User"},
        }
    ]


def service_provider_config(max_results: int) -> dict[str, Any]:
    """/ServiceProviderConfig; `filter.maxResults` is the largest page the sandbox serves."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG],
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": int(max_results)},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "xmlDataFormat": {"supported": False},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication scheme using the OAuth Bearer Token Standard",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "documentationUri": "https://developers.ringcentral.com/guide/authentication",
                "primary": True,
            }
        ],
    }


def list_response(resources: list[dict[str, Any]], total: int | None = None, start_index: int = 1) -> dict[str, Any]:
    """A ListResponse message around `resources`."""
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(resources) if total is None else total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
