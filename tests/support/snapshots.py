"""Test support: a tenant file (DESIGN.md format) turned into the Snapshot a complete fetch would produce.

Until the fetch layer's end-to-end tests land, the engine is tested on these. What it mirrors:
- users and soft-deleted users carry exactly the `$select`ed properties (the mapping's sources and what
  the schema's scoping filters read; absent ones as null, as Graph writes them), plus `"manager": {"id"}`
  when RingCentral's /Schemas declare the manager and it is mapped;
- group members: the direct members of every group with an app-role assignment, typed
  (`#microsoft.graph.user` / `#microsoft.graph.group`); transitive members flattened the same way;
  soft-deleted users drop out of memberships;
- /Schemas as the sandbox serves them for the tenant's `sandbox.schemaProfile`;
- the job without its schema, and the schema on its own.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import deque
from collections.abc import Sequence
from typing import Any

from rcaudit.audit.mapping import DEFAULT_MAPPING, graph_user_properties, mapping_from_schema
from rcaudit.audit.scope import filter_graph_properties, scoping_filters_from_schema
from rcaudit.model.snapshot import Snapshot
from rcaudit.model.vocabulary import ENTERPRISE
from rcaudit.sandbox.servers.scim_schemas import schema_documents, service_provider_config

USER = "#microsoft.graph.user"
GROUP = "#microsoft.graph.group"


def _selected(user: dict[str, Any], select: list[str], with_manager: bool) -> dict[str, Any]:
    out = {name: copy.copy(user.get(name)) for name in select}
    out["id"] = user["id"]
    if with_manager and isinstance(user.get("manager"), dict):
        out["manager"] = {"id": user["manager"]["id"]}
    return out


def _member(kind_of: dict[str, str], member_id: str) -> dict[str, Any] | None:
    kind = kind_of.get(member_id)
    return None if kind is None else {"@odata.type": kind, "id": member_id}


def snapshot_from_tenant(tenant: dict[str, Any], fetched_at: dt.datetime, *, select_extra: list[str] | None = None,
                         source: str = "sandbox") -> Snapshot:
    """The Snapshot a complete fetch of `tenant` at `fetched_at` would give."""
    graph = tenant["graph"]
    profile = (tenant.get("sandbox") or {}).get("schemaProfile", "current")
    job = copy.deepcopy(graph.get("synchronizationJob")) if graph.get("synchronizationJob") else None
    schema = job.pop("schema", None) if job else None
    mapping = mapping_from_schema(schema) if schema else DEFAULT_MAPPING
    schemas = schema_documents(profile)
    manager_declared = any(a["name"] == "manager" for d in schemas if d["id"] == ENTERPRISE for a in d["attributes"])
    with_manager = manager_declared and any(m.target == f"{ENTERPRISE}:manager" for m in mapping)
    filtered = filter_graph_properties(scoping_filters_from_schema(schema))  # the real fetch reads these too
    select = graph_user_properties(mapping, extra=[*filtered, *(select_extra or ())])
    users = [_selected(u, select, with_manager) for u in graph["users"]]
    deleted = [_selected(u, [*select, "deletedDateTime"], False) for u in graph.get("deletedUsers", [])]

    kind_of = {u["id"]: USER for u in graph["users"]}
    kind_of.update({g["id"]: GROUP for g in graph.get("groups", [])})
    groups = {g["id"]: g for g in graph.get("groups", [])}
    assigned = [a["principalId"] for a in graph.get("appRoleAssignments", []) if a.get("principalType") == "Group"]
    direct: dict[str, list[dict[str, Any]]] = {}
    transitive: dict[str, list[dict[str, Any]]] = {}
    for group_id in dict.fromkeys(assigned):
        group = groups.get(group_id)
        if group is None:
            continue
        direct[group_id] = [m for m in (_member(kind_of, i) for i in group.get("members", [])) if m]
        seen, flat, queue = {group_id}, [], deque(group.get("members", []))
        while queue:
            member_id = queue.popleft()
            if member_id in seen:
                continue
            seen.add(member_id)
            member = _member(kind_of, member_id)
            if member is None:
                continue
            flat.append(member)
            if member["@odata.type"] == GROUP:
                queue.extend(groups[member_id].get("members", []))
        transitive[group_id] = flat

    limits = (tenant.get("sandbox") or {}).get("maxCount", 100)
    return Snapshot(
        tenant_id=graph.get("tenantId", ""),
        graph_fetched_at=fetched_at, scim_fetched_at=fetched_at,
        service_principal=copy.deepcopy(graph["servicePrincipal"]),
        users=users, deleted_users=deleted,
        app_role_assignments=copy.deepcopy(graph.get("appRoleAssignments", [])),
        group_members=direct, group_transitive_members=transitive,
        scim_service_provider_config=service_provider_config(limits),
        scim_schemas=schemas,
        scim_users=copy.deepcopy(tenant["scim"]["Users"]),
        job=job, schema=schema,
        provisioning_events=copy.deepcopy(graph.get("provisioningEvents", [])),
        source=source,
    )


# --- small hand-written tenants, one rule at a time -------------------------------------------------------------

NOW = dt.datetime(2026, 11, 26, 20, 0, tzinfo=dt.UTC)
LONG_AGO = "2024-01-01T00:00:00Z"
SP_ID = "sp-ringcentral"
USER_ROLE, ADMIN_ROLE, MSIAM_ROLE = "role-user", "role-admin", "role-msiam"
DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
DOMAIN = "contoso.example"


def minutes_ago(minutes: float) -> str:
    return (NOW - dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def entra_user(name: str, **props: Any) -> dict[str, Any]:
    """A Graph user `name@contoso.example` with every mapped property set; `props` override (None clears)."""
    given, _, family = name.partition(".")
    user = {
        "id": f"id-{name}", "userPrincipalName": f"{name}@{DOMAIN}", "mailNickname": name, "mail": f"{name}@{DOMAIN}",
        "accountEnabled": True, "createdDateTime": LONG_AGO, "displayName": f"{given.title()} {family.title()}",
        "givenName": given.title(), "surname": family.title() or "Person", "jobTitle": "Engineer",
        "department": "Engineering", "streetAddress": "500 Howard St", "city": "San Francisco", "state": "CA",
        "postalCode": "94105", "country": "US", "usageLocation": "US", "mobilePhone": "+14155550100",
        "businessPhones": [], "userType": "Member",
    }
    user.update(props)
    return user


def rc_account(user: dict[str, Any], scim_id: str, *, active: bool = True, created: str = "2024-01-02T00:00:00.000Z",
               manager: str | None = None, **changes: Any) -> dict[str, Any]:
    """The account Entra would have provisioned for `user`, as RingCentral returns it; `changes` set top-level
    keys (`title`) or, with a dotted name, nested ones (`name.familyName`, `address.country`, `mobile`)."""
    address = {"type": "work", "primary": False, "streetAddress": user.get("streetAddress"),
               "locality": user.get("city"), "region": user.get("state"), "postalCode": user.get("postalCode"),
               "country": user.get("country")}
    account: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE], "id": scim_id,
        "externalId": user["mailNickname"], "userName": user["userPrincipalName"], "active": active,
        "name": {"givenName": user.get("givenName"), "familyName": user.get("surname")},
        "title": user.get("jobTitle"), "displayName": user.get("displayName"),
        "emails": [{"type": "work", "value": user.get("mail"), "primary": False}],
        "phoneNumbers": [{"type": "mobile", "value": user.get("mobilePhone")},
                         {"type": "work", "value": "+16505550199"}, {"type": "other", "value": "101"}],
        "addresses": [address], ENTERPRISE: {"department": user.get("department")},
        "meta": {"resourceType": "User", "created": created, "lastModified": created},
    }
    if manager:
        account[ENTERPRISE]["manager"] = {"value": manager}
    for key, value in changes.items():
        if key == "mobile":
            account["phoneNumbers"][0]["value"] = value
        elif key.startswith("address."):
            address[key.split(".", 1)[1]] = value
        elif key.startswith("name."):
            account["name"][key.split(".", 1)[1]] = value
        elif key == "department":
            account[ENTERPRISE]["department"] = value
        elif value is None:
            account.pop(key, None)
        else:
            account[key] = value
    return account


def assign(principal: str, role: str = USER_ROLE, *, kind: str = "User", created: str = LONG_AGO) -> dict[str, Any]:
    return {"id": f"as-{principal}-{role}", "principalId": principal, "principalType": kind, "appRoleId": role,
            "createdDateTime": created, "resourceId": SP_ID}


def small_tenant(users: list[dict[str, Any]], accounts: list[dict[str, Any]], *,
                 assignments: list[dict[str, Any]] | None = None, deleted: Sequence[dict[str, Any]] = (),
                 groups: Sequence[dict[str, Any]] = (), profile: str = "current",
                 schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A tenant file: every live user directly assigned the User role unless `assignments` is given."""
    from rcaudit.sandbox.tenant.sync_schema import default_sync_schema

    return {
        "graph": {
            "tenantId": "tenant-1",
            "servicePrincipal": {"id": SP_ID, "appId": "app-1", "displayName": "RingCentral", "appRoles": [
                {"id": USER_ROLE, "displayName": "User", "value": "User"},
                {"id": ADMIN_ROLE, "displayName": "Admin", "value": "Admin"},
                {"id": MSIAM_ROLE, "displayName": "msiam_access", "value": None}]},
            "users": users, "deletedUsers": list(deleted), "groups": list(groups),
            "appRoleAssignments": [assign(u["id"]) for u in users] if assignments is None else assignments,
            "synchronizationJob": {"id": "job-1", "templateId": "ringCentral", "status": {"code": "Active"},
                                   "schema": schema if schema is not None else default_sync_schema(profile)},
        },
        "scim": {"Users": accounts},
        "sandbox": {"schemaProfile": profile},
    }


def audit(tenant: dict[str, Any], mapping: Any = None, **options: Any) -> Any:
    """Reconcile a tenant as fetched at NOW."""
    from rcaudit.audit.reconcile import AuditOptions, reconcile

    return reconcile(snapshot_from_tenant(tenant, NOW), mapping, AuditOptions(**options))


def rows(result: Any, kind: str | None = None) -> list[tuple[str, str, str, str]]:
    """(kind, entra_id, scim_id, attribute) of every finding, optionally of one kind."""
    frame = result.findings
    out = list(zip(frame["kind"], frame["entra_id"], frame["scim_id"], frame["attribute"], strict=True))
    return [r for r in out if kind is None or r[0] == kind]
