"""The tenant file (DESIGN.md "Tenant file"): load, check, fill the sandbox defaults, save.

A malformed file is refused with a `TenantFileError` naming the file and the JSON path of the first
problem, so nobody has to guess why the sandbox would not start.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from pathlib import Path
from typing import Any

from ..errors import TenantFileError
from .tls import client_certificate

DEFAULT_LIMITS: dict[str, float] = {"light": 50, "heavy": 10, "auth": 5, "window": 60}
DEFAULT_MAX_COUNT = 100
DEFAULT_TOKEN_LIFETIME = 3599
SCHEMA_PROFILES = ("current", "classic")

_LIST_SECTIONS = ("users", "deletedUsers", "groups", "appRoleAssignments", "provisioningEvents")


def _fail(source: str, where: str, problem: str) -> TenantFileError:
    return TenantFileError(f"{source}: {where}: {problem}")


def _expect(value: Any, kind: type | tuple[type, ...], source: str, where: str) -> None:
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        got = "null" if value is None else type(value).__name__
        raise _fail(source, where, f"expected {names}, got {got}")


def validate_tenant(data: Any, source: str = "tenant") -> None:
    """Raise `TenantFileError` for the first structural problem; accept any extra properties."""
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
    sp = graph["servicePrincipal"]
    _expect(sp, dict, source, "$.graph.servicePrincipal")
    for key in ("id", "appId"):
        if not isinstance(sp.get(key), str) or not sp.get(key):
            raise _fail(source, f"$.graph.servicePrincipal.{key}", "missing or not a string")
    _expect(sp.get("appRoles", []), list, source, "$.graph.servicePrincipal.appRoles")
    seen: dict[str, str] = {}
    for section in _LIST_SECTIONS:
        items = graph.get(section, [])
        _expect(items, list, source, f"$.graph.{section}")
        for i, item in enumerate(items):
            where = f"$.graph.{section}[{i}]"
            _expect(item, dict, source, where)
            if section == "appRoleAssignments":
                for key in ("principalId", "appRoleId"):
                    if not isinstance(item.get(key), str):
                        raise _fail(source, f"{where}.{key}", "missing or not a string")
                if item.get("principalType", "User") not in ("User", "Group", "ServicePrincipal"):
                    raise _fail(source, f"{where}.principalType", "must be User, Group or ServicePrincipal")
                continue
            if not isinstance(item.get("id"), str) or not item["id"]:
                raise _fail(source, f"{where}.id", "missing or not a string")
            if section in ("users", "deletedUsers", "groups"):
                if item["id"] in seen:
                    raise _fail(source, f"{where}.id", f"duplicate id {item['id']!r} (also {seen[item['id']]})")
                seen[item["id"]] = where
            if section == "groups":
                _expect(item.get("members", []), list, source, f"{where}.members")
                for j, member in enumerate(item.get("members", [])):
                    _expect(member, str, source, f"{where}.members[{j}]")
            if section in ("users", "deletedUsers") and "manager" in item and item["manager"] is not None:
                _expect(item["manager"], dict, source, f"{where}.manager")
    for i, item in enumerate(graph.get("groups", [])):
        for j, member in enumerate(item.get("members", [])):
            if member not in seen:
                raise _fail(source, f"$.graph.groups[{i}].members[{j}]", f"unknown object id {member!r}")
    job = graph.get("synchronizationJob")
    if job is not None:
        _expect(job, dict, source, "$.graph.synchronizationJob")
    users = data["scim"].get("Users", [])
    _expect(users, list, source, "$.scim.Users")
    scim_ids: set[str] = set()
    for i, user in enumerate(users):
        where = f"$.scim.Users[{i}]"
        _expect(user, dict, source, where)
        if not isinstance(user.get("id"), str) or not user["id"]:
            raise _fail(source, f"{where}.id", "missing or not a string")
        if user["id"] in scim_ids:
            raise _fail(source, f"{where}.id", f"duplicate id {user['id']!r}")
        scim_ids.add(user["id"])
        if not isinstance(user.get("userName"), str):
            raise _fail(source, f"{where}.userName", "missing or not a string")
    settings = data.get("sandbox", {})
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
