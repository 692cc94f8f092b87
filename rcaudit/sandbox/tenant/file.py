"""The tenant file (DESIGN.md "Tenant file"): load, check, fill the sandbox defaults, save.

A malformed file is refused with a `TenantFileError` naming the file and the JSON path of the first
problem, so nobody has to guess why the sandbox would not start: structure, ids, references and the types
of the properties the services define (a list where Graph has a string would otherwise surface much later
as `unhashable type: 'list'`). What the real services do serve, however odd, is accepted and served as
given: the same user id twice, a RingCentral account without `userName` (the audit reports these as data
quality problems).
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from pathlib import Path
from typing import Any

from rcaudit.model.errors import TenantFileError
from rcaudit.sandbox.servers.tls import client_certificate

DEFAULT_LIMITS: dict[str, float] = {"light": 50, "heavy": 10, "auth": 5, "window": 60}
DEFAULT_MAX_COUNT = 100
DEFAULT_TOKEN_LIFETIME = 3599
SCHEMA_PROFILES = ("current", "classic")

_LIST_SECTIONS = ("users", "deletedUsers", "groups", "appRoleAssignments", "provisioningEvents")
_OPTIONAL_STR = (str, type(None))
# Graph v1.0 user properties by type (a property not named here may hold anything).
GRAPH_USER_STRINGS = (
    "userPrincipalName", "displayName", "givenName", "surname", "mail", "mailNickname", "jobTitle", "department",
    "companyName", "city", "state", "country", "postalCode", "streetAddress", "usageLocation", "mobilePhone",
    "officeLocation", "preferredLanguage", "userType", "employeeId", "employeeType", "faxNumber",
    "createdDateTime", "deletedDateTime", "onPremisesSamAccountName", "onPremisesImmutableId",
)
GRAPH_USER_STRING_LISTS = ("businessPhones", "otherMails", "proxyAddresses", "imAddresses")
# RingCentral SCIM user attributes by type.
SCIM_STRINGS = ("userName", "externalId", "displayName", "title", "nickName", "userType", "preferredLanguage",
                "locale", "timezone")
SCIM_MULTI = ("emails", "phoneNumbers", "addresses", "photos")
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _fail(source: str, where: str, problem: str) -> TenantFileError:
    return TenantFileError(f"{source}: {where}: {problem}")


def _expect(value: Any, kind: type | tuple[type, ...], source: str, where: str) -> None:
    if not isinstance(value, kind):
        plain = {"str": "string", "NoneType": "null", "dict": "object", "list": "array", "bool": "boolean"}
        names = " or ".join(plain.get(k.__name__, k.__name__) for k in (kind if isinstance(kind, tuple) else (kind,)))
        got = "null" if value is None else plain.get(type(value).__name__, type(value).__name__)
        raise _fail(source, where, f"expected {names}, got {got}")


def _typed_fields(item: dict[str, Any], names: tuple[str, ...], kind: type | tuple[type, ...], source: str,
                  where: str) -> None:
    """Each named property, when present, has the type the service gives it."""
    for name in names:
        if name in item:
            _expect(item[name], kind, source, f"{where}.{name}")


def _string_lists(item: dict[str, Any], names: tuple[str, ...], source: str, where: str) -> None:
    for name in names:
        if name in item and item[name] is not None:
            _expect(item[name], list, source, f"{where}.{name}")
            for j, value in enumerate(item[name]):
                _expect(value, str, source, f"{where}.{name}[{j}]")


def _check_graph_user(user: dict[str, Any], source: str, where: str) -> None:
    """The types of a Graph user's properties, and its manager reference."""
    _typed_fields(user, GRAPH_USER_STRINGS, _OPTIONAL_STR, source, where)
    _typed_fields(user, ("accountEnabled",), (bool, type(None)), source, where)
    _string_lists(user, GRAPH_USER_STRING_LISTS, source, where)
    if user.get("manager") is not None:
        _expect(user["manager"], dict, source, f"{where}.manager")
        _expect(user["manager"].get("id"), str, source, f"{where}.manager.id")


def _check_scim_user(user: dict[str, Any], source: str, where: str) -> None:
    """The types of a RingCentral SCIM user's attributes (userName may be absent: RingCentral has served that)."""
    _typed_fields(user, SCIM_STRINGS, _OPTIONAL_STR, source, where)
    _typed_fields(user, ("active",), (bool, str, type(None)), source, where)
    for name in ("name", "meta", ENTERPRISE):
        if user.get(name) is not None:
            _expect(user[name], dict, source, f"{where}.{name}")
            for key, value in user[name].items():
                if key != "manager":
                    _expect(value, _OPTIONAL_STR, source, f"{where}.{name}.{key}")
    manager = (user.get(ENTERPRISE) or {}).get("manager")
    if manager is not None:
        _expect(manager, dict, source, f"{where}.{ENTERPRISE}.manager")
    for name in SCIM_MULTI:
        if user.get(name) is None:
            continue
        _expect(user[name], list, source, f"{where}.{name}")
        for j, entry in enumerate(user[name]):
            _expect(entry, dict, source, f"{where}.{name}[{j}]")
            for key, value in entry.items():
                _expect(value, (bool,) if key == "primary" else _OPTIONAL_STR, source, f"{where}.{name}[{j}].{key}")


def _check_service_principal(sp: Any, source: str) -> None:
    _expect(sp, dict, source, "$.graph.servicePrincipal")
    for key in ("id", "appId"):
        if not isinstance(sp.get(key), str) or not sp.get(key):
            raise _fail(source, f"$.graph.servicePrincipal.{key}", "missing or not a string")
    _expect(sp.get("appRoles", []), list, source, "$.graph.servicePrincipal.appRoles")
    for i, role in enumerate(sp.get("appRoles", [])):
        where = f"$.graph.servicePrincipal.appRoles[{i}]"
        _expect(role, dict, source, where)
        _expect(role.get("id"), str, source, f"{where}.id")
        _typed_fields(role, ("value", "displayName"), _OPTIONAL_STR, source, where)


def _check_graph_item(section: str, item: dict[str, Any], source: str, where: str, seen: dict[str, str]) -> None:
    """One object of a Graph list section (ids of users may repeat, as Graph has served them; groups may not)."""
    if section == "appRoleAssignments":
        for key in ("principalId", "appRoleId"):
            if not isinstance(item.get(key), str):
                raise _fail(source, f"{where}.{key}", "missing or not a string")
        if item.get("principalType", "User") not in ("User", "Group", "ServicePrincipal"):
            raise _fail(source, f"{where}.principalType", "must be User, Group or ServicePrincipal")
        _typed_fields(item, ("createdDateTime", "id"), _OPTIONAL_STR, source, where)
        return
    if not isinstance(item.get("id"), str) or not item["id"]:
        raise _fail(source, f"{where}.id", "missing or not a string")
    if section == "groups":
        if item["id"] in seen:
            raise _fail(source, f"{where}.id", f"duplicate id {item['id']!r} (also {seen[item['id']]})")
        _typed_fields(item, ("displayName",), _OPTIONAL_STR, source, where)
        _expect(item.get("members", []), list, source, f"{where}.members")
        for j, member in enumerate(item.get("members", [])):
            _expect(member, str, source, f"{where}.members[{j}]")
    elif section in ("users", "deletedUsers"):
        if seen.get(item["id"], "").startswith("$.graph.groups"):
            raise _fail(source, f"{where}.id", f"duplicate id {item['id']!r} (also {seen[item['id']]})")
        _check_graph_user(item, source, where)
    if section in ("users", "deletedUsers", "groups"):
        seen.setdefault(item["id"], where)


def validate_tenant(data: Any, source: str = "tenant") -> None:
    """Raise `TenantFileError` for the first structural or type problem; accept any extra properties."""
    _expect(data, dict, source, "$")
    for section in ("graph", "scim"):
        if section not in data:
            raise _fail(source, f"$.{section}", "missing section")
        _expect(data[section], dict, source, f"$.{section}")
    graph = data["graph"]
    for key in ("tenantId", "servicePrincipal"):
        if key not in graph:
            raise _fail(source, f"$.graph.{key}", "missing")
    _expect(graph["tenantId"], str, source, "$.graph.tenantId")
    _check_service_principal(graph["servicePrincipal"], source)
    seen: dict[str, str] = {}
    for section in ("groups", *(s for s in _LIST_SECTIONS if s != "groups")):
        items = graph.get(section, [])
        _expect(items, list, source, f"$.graph.{section}")
        for i, item in enumerate(items):
            where = f"$.graph.{section}[{i}]"
            _expect(item, dict, source, where)
            _check_graph_item(section, item, source, where, seen)
    for i, item in enumerate(graph.get("groups", [])):
        for j, member in enumerate(item.get("members", [])):
            if member not in seen:
                raise _fail(source, f"$.graph.groups[{i}].members[{j}]", f"unknown object id {member!r}")
    job = graph.get("synchronizationJob")
    if job is not None:
        _expect(job, dict, source, "$.graph.synchronizationJob")
        for part in ("schema", "status", "schedule"):
            if job.get(part) is not None:
                _expect(job[part], dict, source, f"$.graph.synchronizationJob.{part}")
    secrets = graph.get("synchronizationSecrets")
    if secrets is not None:
        _expect(secrets, list, source, "$.graph.synchronizationSecrets")
        for i, item in enumerate(secrets):
            where = f"$.graph.synchronizationSecrets[{i}]"
            _expect(item, dict, source, where)
            _expect(item.get("key"), str, source, f"{where}.key")
            _expect(item.get("value"), str, source, f"{where}.value")
    users = data["scim"].get("Users", [])
    _expect(users, list, source, "$.scim.Users")
    for i, user in enumerate(users):
        where = f"$.scim.Users[{i}]"
        _expect(user, dict, source, where)
        if not isinstance(user.get("id"), str) or not user["id"]:
            raise _fail(source, f"{where}.id", "missing or not a string")
        _check_scim_user(user, source, where)
    _check_sandbox_section(data.get("sandbox", {}), source)


def _check_sandbox_section(settings: Any, source: str) -> None:
    _expect(settings, dict, source, "$.sandbox")
    profile = settings.get("schemaProfile", "current")
    if profile not in SCHEMA_PROFILES:
        raise _fail(source, "$.sandbox.schemaProfile", f"{profile!r} is not one of {SCHEMA_PROFILES}")
    limits = settings.get("limits", {})
    _expect(limits, dict, source, "$.sandbox.limits")
    for key, value in limits.items():
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise _fail(source, f"$.sandbox.limits.{key}", "must be a positive number")
    if "maxCount" in settings and (not isinstance(settings["maxCount"], int) or settings["maxCount"] < 1):
        raise _fail(source, "$.sandbox.maxCount", "must be a positive integer")
    for key in ("clients", "rcApps", "listOmits", "graphDenied"):
        _expect(settings.get(key, []), list, source, f"$.sandbox.{key}")
    for key in ("scimToken",):
        if key in settings:
            _expect(settings[key], str, source, f"$.sandbox.{key}")


def with_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of the tenant whose `sandbox` section has every setting, generating the missing ones.

    Generated credentials are written into the copy, so dumping and reloading it keeps them.
    """
    tenant = copy.deepcopy(data)
    graph = tenant["graph"]
    for section in _LIST_SECTIONS:
        graph.setdefault(section, [])
    tenant["scim"].setdefault("Users", [])
    settings = tenant.setdefault("sandbox", {})
    if not settings.get("clients"):
        cert, key = client_certificate("rcaudit sandbox client")
        settings["clients"] = [
            {
                "clientId": str(uuid.uuid4()),
                "secret": secrets.token_urlsafe(24),
                "certificatePem": cert,
                "privateKeyPem": key,
                "publicClient": True,
            }
        ]
    if not settings.get("rcApps"):
        settings["rcApps"] = [
            {
                "clientId": secrets.token_urlsafe(16),
                "clientSecret": secrets.token_urlsafe(24),
                "jwt": secrets.token_urlsafe(48),
            }
        ]
    settings.setdefault("scimToken", secrets.token_urlsafe(32))
    settings.setdefault("schemaProfile", "current")
    settings["limits"] = {**DEFAULT_LIMITS, **settings.get("limits", {})}
    settings.setdefault("maxCount", DEFAULT_MAX_COUNT)
    settings.setdefault("listOmits", [])
    settings.setdefault("tokenLifetime", DEFAULT_TOKEN_LIFETIME)
    settings.setdefault("graphDenied", [])
    return tenant


def load_tenant(path: str | Path) -> dict[str, Any]:
    """Read and check a tenant file (not yet defaulted)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TenantFileError(f"{path}: not a text file (expected JSON in UTF-8)") from None
    except OSError as exc:
        raise TenantFileError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TenantFileError(f"{path}: line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}") from exc
    validate_tenant(data, str(path))
    return data


def save_tenant(tenant: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tenant, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path
