"""Attribute mapping: which Entra value each SCIM attribute of a RingCentral account should hold.

The default is DESIGN.md's attribute table, written with the provisioning engine's source names
(`mobile`, `IsSoftDeleted`); the live mapping read from the job's synchronization schema overrides it.
This module knows the table, reads a schema's mappings, and says which Graph v1.0 properties a mapping
needs (`mobile` → `mobilePhone`). Evaluating expressions is the audit engine's job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import MappingError

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ACTIVE_EXPRESSION = 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'

# Provisioning-engine source names that Graph v1.0 spells differently.
PROVISIONING_TO_GRAPH: dict[str, str] = {
    "mobile": "mobilePhone",
    "telephoneNumber": "businessPhones",
    "objectId": "id",
    "facsimileTelephoneNumber": "faxNumber",
    "physicalDeliveryOfficeName": "officeLocation",
    "userType": "userType",
}
# Sources the provisioning service computes rather than reads from one Graph property.
COMPUTED_SOURCES: frozenset[str] = frozenset({"IsSoftDeleted", "appRoleAssignments", "AppRoleAssignments"})
# Graph properties every audit reads whatever the mapping: keys, state, grace window, phone region.
BASE_USER_PROPERTIES: tuple[str, ...] = (
    "id", "userPrincipalName", "mailNickname", "accountEnabled", "createdDateTime", "usageLocation",
)


@dataclass(frozen=True)
class AttributeMapping:
    """One target attribute and the expression that gives its value (`[mail]` for a plain attribute)."""

    target: str
    expression: str
    matching_priority: int = 0
    flow_type: str = "Always"
    default_value: str | None = None

    @property
    def references(self) -> tuple[str, ...]:
        """The source attributes (`[name]`) the expression reads, in order, without duplicates."""
        return tuple(dict.fromkeys(references(self.expression)))

    @property
    def direct_source(self) -> str | None:
        """The attribute name when the expression is just `[name]`, else None."""
        match = re.fullmatch(r"\s*\[([^\[\]]+)\]\s*", self.expression)
        return match.group(1) if match else None


def _plain(target: str, source: str) -> AttributeMapping:
    return AttributeMapping(target, f"[{source}]", matching_priority=1 if target == "userName" else 0)


# DESIGN.md "Attribute paths": the classic gallery mapping (RingCentral's /Schemas decides what is audited).
DEFAULT_MAPPING: tuple[AttributeMapping, ...] = (
    _plain("userName", "userPrincipalName"),
    _plain("externalId", "mailNickname"),
    AttributeMapping("active", ACTIVE_EXPRESSION),
    _plain("displayName", "displayName"),
    _plain("title", "jobTitle"),
    _plain('emails[type eq "work"].value', "mail"),
    _plain('addresses[type eq "work"].country', "country"),
    _plain('addresses[type eq "work"].region', "state"),
    _plain('addresses[type eq "work"].locality', "city"),
    _plain('addresses[type eq "work"].postalCode', "postalCode"),
    _plain('addresses[type eq "work"].streetAddress', "streetAddress"),
    _plain("name.givenName", "givenName"),
    _plain("name.familyName", "surname"),
    _plain('phoneNumbers[type eq "mobile"].value', "mobile"),
    _plain(f"{ENTERPRISE}:department", "department"),
    _plain(f"{ENTERPRISE}:manager", "manager"),
)
# What RingCentral's gallery app maps today (displayName and manager were removed on 2020-09-10).
CURRENT_TARGETS: frozenset[str] = frozenset(
    m.target for m in DEFAULT_MAPPING if m.target not in ("displayName", f"{ENTERPRISE}:manager")
)


def default_mapping(profile: str = "classic") -> tuple[AttributeMapping, ...]:
    """The default table; `current` leaves out displayName and manager as the gallery app does today."""
    if profile == "classic":
        return DEFAULT_MAPPING
    if profile == "current":
        return tuple(m for m in DEFAULT_MAPPING if m.target in CURRENT_TARGETS)
    raise ValueError(f"unknown mapping profile {profile!r}: expected 'current' or 'classic'")


def references(expression: str) -> list[str]:
    """Every `[name]` in an expression, skipping double-quoted string literals (`"a[b]"` is not one)."""
    found: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        ch = expression[i]
        if ch == '"':
            i += 1
            while i < n and expression[i] != '"':
                i += 2 if expression[i] == "\\" else 1
            i += 1
        elif ch == "[":
            end = expression.find("]", i)
            if end < 0:
                raise MappingError(f"unclosed '[' in expression {expression!r}")
            found.append(expression[i + 1: end].strip())
            i = end + 1
        else:
            i += 1
    return found


def graph_property(source: str) -> str | None:
    """The Graph v1.0 user property behind a provisioning source name (None when computed)."""
    if source in COMPUTED_SOURCES:
        return None
    return PROVISIONING_TO_GRAPH.get(source, source)


def graph_user_properties(mappings: Iterable[AttributeMapping], extra: Iterable[str] = ()) -> list[str]:
    """The `$select` for /users: the base properties, every mapped source (manager excepted: it is expanded)
    and `extra` (e.g. attributes a scoping filter reads), in a stable order."""
    wanted = list(BASE_USER_PROPERTIES)
    for name in [ref for m in mappings for ref in m.references] + list(extra):
        prop = graph_property(name)
        if prop and prop != "manager" and prop not in wanted:
            wanted.append(prop)
    return wanted


def _source_expression(source: dict[str, Any], where: str) -> str:
    """The expression text of a synchronization schema `source` node (built from its tree if absent)."""
    if source.get("expression"):
        return str(source["expression"])
    kind, name = source.get("type"), source.get("name")
    if kind == "Attribute" and name:
        return f"[{name}]"
    if kind == "Constant":
        return '"' + str(name or "").replace('"', '\\"') + '"'
    if kind == "Function" and name:
        args = [_source_expression(p.get("value") or {}, where) for p in source.get("parameters", [])]
        return f"{name}({', '.join(args)})"
    raise MappingError(f"{where}: cannot read the source {source!r}")


def mapping_from_schema(schema: dict[str, Any]) -> tuple[AttributeMapping, ...]:
    """The User → User attribute mappings of a job's synchronizationSchema (the tenant's live mapping)."""
    for rule in schema.get("synchronizationRules") or []:
        for object_mapping in rule.get("objectMappings") or []:
            if object_mapping.get("sourceObjectName") != "User" or object_mapping.get("targetObjectName") != "User":
                continue
            if object_mapping.get("enabled") is False:
                continue
            result = []
            for i, item in enumerate(object_mapping.get("attributeMappings") or []):
                target = item.get("targetAttributeName")
                where = f"synchronizationRules[{rule.get('name')}].attributeMappings[{i}]"
                if not target or not isinstance(item.get("source"), dict):
                    raise MappingError(f"{where}: a mapping needs targetAttributeName and source")
                result.append(AttributeMapping(
                    target=str(target), expression=_source_expression(item["source"], f"{where} ({target})"),
                    matching_priority=int(item.get("matchingPriority") or 0),
                    flow_type=str(item.get("flowType") or "Always"), default_value=item.get("defaultValue"),
                ))
            return tuple(result)
    raise MappingError("the synchronization schema has no enabled User → User object mapping")
