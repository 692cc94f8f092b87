"""Attribute mapping: which Entra value each SCIM attribute of a RingCentral account should hold.

The default is DESIGN.md's attribute table, written with the provisioning engine's source names
(`mobile`, `IsSoftDeleted`); the live mapping read from the job's synchronization schema overrides it.
This module knows the table, reads a schema's mappings, and says which Graph v1.0 properties a mapping
needs (`mobile` → `mobilePhone`). Evaluating expressions is the audit engine's job.
"""


from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rcaudit.model.errors import ConfigError, MappingError
from rcaudit.model.vocabulary import ACTIVE_EXPRESSION, CORE_USER, ENTERPRISE

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
# The properties of a Graph v1.0 user, the only names a `$select` on /users may carry besides directory
# extensions: the Properties table of microsoftgraph/microsoft-graph-docs-contrib
# `api-reference/v1.0/resources/user.md` (commit 0061138f), 72 names. Graph answers 400 to any other.
GRAPH_USER_PROPERTIES: frozenset[str] = frozenset((
    "aboutMe", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "birthday", "businessPhones",
    "city", "companyName", "consentProvidedForMinor", "country", "createdDateTime", "creationType",
    "deletedDateTime", "department", "displayName", "employeeHireDate", "employeeId", "employeeOrgData",
    "employeeType", "externalUserState", "externalUserStateChangeDateTime", "faxNumber", "givenName", "hireDate",
    "id", "identities", "imAddresses", "interests", "isResourceAccount", "jobTitle", "lastPasswordChangeDateTime",
    "legalAgeGroupClassification", "licenseAssignmentStates", "mail", "mailboxSettings", "mailNickname",
    "mobilePhone", "mySite", "officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName",
    "onPremisesExtensionAttributes", "onPremisesImmutableId", "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails", "passwordPolicies", "passwordProfile",
    "pastProjects", "postalCode", "preferredDataLocation", "preferredLanguage", "preferredName", "provisionedPlans",
    "proxyAddresses", "refreshTokensValidFromDateTime", "responsibilities", "schools", "showInAddressList", "skills",
    "signInSessionsValidFromDateTime", "state", "streetAddress", "surname", "usageLocation", "userPrincipalName",
    "userType"
))
# Entra's provisioning names for the 15 on-premises extension attributes; Graph serves them nested in the
# user's `onPremisesExtensionAttributes` object, so that is what is selected and read; a directory extension
# (`extension_{appId-without-hyphens}_{name}`) is selected by its own name. Both: microsoft-graph-docs-contrib
# `concepts/extensibility-overview.md`, sections "Extension attributes" and "Directory (Microsoft Entra ID)
# extensions".
ON_PREMISES_EXTENSIONS = "onPremisesExtensionAttributes"
EXTENSION_ATTRIBUTE = re.compile(r"extensionAttribute(?:[1-9]|1[0-5])")
DIRECTORY_EXTENSION = re.compile(r"extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+")
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
    raise ConfigError(f"unknown mapping profile {profile!r}: expected 'current' or 'classic'")


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
    """The Graph v1.0 user property behind a provisioning source name (None when computed):
    `mobile` → mobilePhone, `extensionAttribute3` → onPremisesExtensionAttributes (read nested)."""
    if source in COMPUTED_SOURCES:
        return None
    if EXTENSION_ATTRIBUTE.fullmatch(source):
        return ON_PREMISES_EXTENSIONS
    return PROVISIONING_TO_GRAPH.get(source, source)


def servable(source: str) -> bool:
    """Whether Graph v1.0 can serve a source name: a computed source, a user property (after translation),
    the manager reference, an on-premises extension attribute or a directory extension."""
    prop = graph_property(source)
    return (prop is None or prop in GRAPH_USER_PROPERTIES or prop == "manager"
            or DIRECTORY_EXTENSION.fullmatch(source) is not None)


def source_value(user: Mapping[str, Any], source: str) -> Any:
    """A user's value for a provisioning source name, flat or nested (`extensionAttribute1` is
    `onPremisesExtensionAttributes.extensionAttribute1`; `telephoneNumber` the first businessPhones)."""
    prop = graph_property(source)
    if prop is None:
        raise MappingError(f"{source} is computed by the provisioning service, not read from a user")
    value = user.get(prop)
    if prop == ON_PREMISES_EXTENSIONS:
        return value.get(source) if isinstance(value, dict) else None
    if prop == "businessPhones":
        return value[0] if isinstance(value, list) and value else None
    return value


def graph_user_properties(mappings: Iterable[AttributeMapping], extra: Iterable[str] = ()) -> list[str]:
    """The `$select` for /users: the base properties, every mapped source (manager excepted: it is expanded)
    and `extra` (e.g. attributes a scoping filter reads), in a stable order.

    A source Graph cannot serve is a MappingError naming it and its target, raised here, before /users is
    requested (Graph would answer the whole `$select` with 400)."""
    check_graph_sources(mappings, extra)
    wanted = list(BASE_USER_PROPERTIES)
    for name in [ref for m in mappings for ref in m.references] + list(extra):
        prop = graph_property(name)
        if prop and prop != "manager" and prop not in wanted:
            wanted.append(prop)
    return wanted


def check_manager_reference(m: AttributeMapping) -> None:
    """The manager is a reference (DESIGN.md "Manager"): only `[manager]` on the manager target is audited."""
    is_manager = m.target.lower() == f"{ENTERPRISE}:manager".lower()
    reads_manager = "manager" in m.references
    if is_manager and m.direct_source != "manager":
        raise MappingError(f"attribute {m.target}: only [manager] can be audited, not {m.expression!r}")
    if reads_manager and not is_manager:
        raise MappingError(f"attribute {m.target}: [manager] is a reference; only the manager target reads it")


def check_graph_sources(mappings: Iterable[AttributeMapping], extra: Iterable[str] = (),
                        extra_where: str = "a scoping filter") -> None:
    """Refuse any source name Graph v1.0 cannot serve, naming it and the attribute (or filter) that reads it."""
    for m in mappings:
        for name in m.references:
            if not servable(name):
                raise MappingError(
                    f"attribute {m.target} reads [{name}], which is not a Graph v1.0 user property, an "
                    "extensionAttribute1…15 or a directory extension (extension_<app id>_<name>): fix the mapping")
    for name in extra:
        if not servable(name):
            raise MappingError(f"{extra_where} reads {name}, which is not a Graph v1.0 user property, an "
                               "extensionAttribute1…15 or a directory extension (extension_<app id>_<name>)")


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


# The target object names Entra gives the user object mapping (DESIGN.md "Live mapping"): `User` in the
# classic gallery schemas (Graph's synchronizationSchema example in microsoftgraph/microsoft-graph-docs-contrib
# `api-reference/v1.0/api/synchronization-synchronizationschema-get.md`), a SCIM user schema URN for SCIM apps
# such as RingCentral (the enterprise URN, as Entra writes it, or the core one). Compared case-insensitively.
USER_TARGET_OBJECTS: frozenset[str] = frozenset(name.casefold() for name in ("User", ENTERPRISE, CORE_USER))


def user_object_mappings(schema: dict[str, Any] | None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(rule, objectMapping) of every enabled user object mapping: source `User`, target `User` or a SCIM
    user schema URN. The source directory's name is not checked: Entra renamed it from "Azure Active
    Directory" to "Microsoft Entra ID", and either may appear."""
    found = []
    for rule in (schema or {}).get("synchronizationRules") or []:
        if not isinstance(rule, dict):
            continue
        for object_mapping in rule.get("objectMappings") or []:
            if not isinstance(object_mapping, dict) or object_mapping.get("enabled") is False:
                continue
            source = str(object_mapping.get("sourceObjectName") or "")
            target = str(object_mapping.get("targetObjectName") or "")
            if source.casefold() == "user" and target.casefold() in USER_TARGET_OBJECTS:
                found.append((rule, object_mapping))
    return found


def mapping_from_schema(schema: dict[str, Any]) -> tuple[AttributeMapping, ...]:
    """The user object mapping's attribute mappings of a job's synchronizationSchema (the live mapping)."""
    found = user_object_mappings(schema)
    if not found:
        raise MappingError("the synchronization schema has no enabled user object mapping (source User, target "
                           f"User or {ENTERPRISE})")
    rule, object_mapping = found[0]
    result = []
    for i, item in enumerate(object_mapping.get("attributeMappings") or []):
        target = item.get("targetAttributeName") if isinstance(item, dict) else None
        where = f"synchronizationRules[{rule.get('name')}].attributeMappings[{i}]"
        if not target or not isinstance(item.get("source"), dict):
            raise MappingError(f"{where}: a mapping needs targetAttributeName and source")
        result.append(AttributeMapping(
            target=str(target), expression=_source_expression(item["source"], f"{where} ({target})"),
            matching_priority=int(item.get("matchingPriority") or 0),
            flow_type=str(item.get("flowType") or "Always"), default_value=item.get("defaultValue"),
        ))
    return tuple(result)
