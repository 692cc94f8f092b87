"""Attribute mapping: which Entra value each SCIM attribute of a RingCentral account should hold.

The default is DESIGN.md's attribute table, written with the provisioning engine's source names
(`mobile`, `IsSoftDeleted`); the live mapping read from the job's synchronization schema overrides it.
This module knows the table, reads a schema's mappings, and says which Graph v1.0 properties a mapping
needs (`mobile` → `mobilePhone`). Evaluating expressions is the audit engine's job.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, MappingError
from .vocabulary import ACTIVE_EXPRESSION, CORE_USER, ENTERPRISE

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


# --- target attribute paths (`emails[type eq "work"].value`, `urn:…:User:department`) ---------------------------

_TARGET = re.compile(r"""^(?P<attribute>[A-Za-z_$][\w$-]*)
                         (?:\[\s*(?P<filter_attribute>[\w$]+)\s+eq\s+(?P<quote>"?)(?P<filter_value>[^"\]]*)(?P=quote)\s*\])?
                         (?:\.(?P<sub>[\w$]+))?$""", re.VERBOSE)


@dataclass(frozen=True)
class TargetPath:
    """A SCIM target attribute as Entra spells it, split into schema, attribute, value filter and sub-attribute."""

    path: str
    schema: str
    attribute: str
    filter_attribute: str | None = None
    filter_value: str | None = None
    sub_attribute: str | None = None


def parse_target(path: str) -> TargetPath:
    """`addresses[type eq "work"].locality` or `urn:…:enterprise:2.0:User:manager` (never split the URN on '.')."""
    schema, rest = CORE_USER, path.strip()
    if rest.lower().startswith("urn:"):
        head = rest.split("[", 1)[0]
        cut = head.rfind(":")
        schema, rest = rest[:cut], rest[cut + 1:]
    match = _TARGET.match(rest)
    if not match:
        raise MappingError(f"cannot read the target attribute path {path!r}")
    return TargetPath(path, schema, match["attribute"], match["filter_attribute"], match["filter_value"],
                      match["sub"])


def _named(items: Iterable[dict[str, Any]], name: str, key: str = "name") -> dict[str, Any] | None:
    wanted = name.lower()
    return next((item for item in items if str(item.get(key, "")).lower() == wanted), None)


def declared_by(schemas: list[dict[str, Any]], path: str) -> str | None:
    """None when RingCentral's /Schemas declare `path`, else the reason it does not."""
    target = parse_target(path)
    document = _named(schemas, target.schema, "id")
    if document is None:
        return f"/Schemas has no {target.schema}"
    attribute = _named(document.get("attributes") or [], target.attribute)
    if attribute is None:
        return f"RingCentral's /Schemas does not declare {target.attribute}"
    subs = attribute.get("subAttributes") or []
    if target.filter_attribute:
        selector = _named(subs, target.filter_attribute)
        if selector is None:
            return f"{target.attribute} has no {target.filter_attribute} to filter on"
        canonical = [str(v).lower() for v in selector.get("canonicalValues") or []]
        if canonical and str(target.filter_value).lower() not in canonical:
            return f"{target.attribute}.{target.filter_attribute} does not allow {target.filter_value!r}"
    if target.sub_attribute and subs and _named(subs, target.sub_attribute) is None:
        return f"RingCentral's /Schemas does not declare {target.attribute}.{target.sub_attribute}"
    return None


def target_reader(path: str) -> Any:
    """A function reading the value of `path` from a SCIM user resource (None when absent).

    A filtered multi-valued attribute yields its first matching element; a complex value without a
    sub-attribute (the enterprise manager) yields its `value`.
    """
    target = parse_target(path)
    container_key = None if target.schema.lower() == CORE_USER.lower() else target.schema
    name, selector, sub = target.attribute, target.filter_attribute, target.sub_attribute
    wanted = (target.filter_value or "").lower()

    def read(resource: dict[str, Any]) -> Any:
        container = resource.get(container_key) if container_key else resource
        if not isinstance(container, dict):
            return None
        value = container.get(name)
        if selector is not None:
            if not isinstance(value, list):
                return None
            value = next((e for e in value if isinstance(e, dict) and str(e.get(selector)).lower() == wanted), None)
        elif isinstance(value, list) and sub is not None:
            value = value[0] if value else None
        if sub is not None:
            return value.get(sub) if isinstance(value, dict) else None
        if isinstance(value, dict):
            return value.get("value")
        return value

    return read


def _first_match(items: Any, selector: str, wanted: str) -> Any:
    if not isinstance(items, list):
        return None
    for item in items:
        if isinstance(item, dict):
            found = item.get(selector)
            if found == wanted or str(found).lower() == wanted:
                return item
    return None


def read_targets(resources: list[dict[str, Any]], paths: Iterable[str]) -> dict[str, list[Any]]:
    """Column-wise `target_reader`: for each path, its value in every resource (in order).

    One pass over the resources with every path read while a resource's dict is at hand, and a shared
    container or filter (the five `addresses[type eq "work"]` parts) looked up once: passes over 250,000
    scattered dicts cost more in cache misses than the reads themselves.
    """
    paths = tuple(dict.fromkeys(paths))
    rows = _row_reader(paths)(resources)
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in paths]
    return {path: list(column) for path, column in zip(paths, columns, strict=True)}


_EMPTY: dict[str, Any] = {}


@functools.lru_cache(maxsize=32)
def _row_reader(paths: tuple[str, ...]) -> Any:
    """A function reading `paths` from each resource into a tuple, written out once per set of paths.

    Path parts enter the generated source only as `repr()` literals.
    """
    groups: dict[tuple[str | None, str, str | None, str], list[tuple[int, str | None]]] = {}
    for index, path in enumerate(paths):
        t = parse_target(path)
        container = None if t.schema.lower() == CORE_USER.lower() else t.schema
        key = (container, t.attribute, t.filter_attribute, (t.filter_value or "").lower())
        groups.setdefault(key, []).append((index, t.sub_attribute))
    body = ["def read(resources):", "    out = []", "    append = out.append", "    for r in resources:"]
    cells: list[str] = [""] * len(paths)
    for g, ((container, name, selector, wanted), members) in enumerate(groups.items()):
        holder = "r"
        if container is not None:
            holder = f"c{g}"
            body.append(f"        {holder} = r.get({container!r})")
            body.append(f"        if not isinstance({holder}, dict): {holder} = EMPTY")
        body.append(f"        v{g} = {holder}.get({name!r})")
        if selector is not None:
            body.append(f"        v{g} = first(v{g}, {selector!r}, {wanted!r})")
        if any(sub is not None for _, sub in members):  # the element whose sub-attributes are read
            body.append(f"        e{g} = v{g} if isinstance(v{g}, dict) else v{g}[0] if isinstance(v{g}, list) "
                        f"and v{g} and isinstance(v{g}[0], dict) else EMPTY")
        for index, sub in members:
            cells[index] = (f"e{g}.get({sub!r})" if sub is not None
                            else f"(v{g}.get('value') if isinstance(v{g}, dict) else v{g})")
    body.append(f"        append(({', '.join(cells)},))")
    body.append("    return out")
    namespace: dict[str, Any] = {"first": _first_match, "EMPTY": _EMPTY}
    exec("\n".join(body), namespace)  # the source was built above from repr() literals only
    return namespace["read"]


# --- overrides from a YAML file -----------------------------------------------------------------------------------

def load_mapping_overrides(path: str | Path) -> tuple[bool, dict[str, AttributeMapping | None]]:
    """Read a mapping override file; returns (replace, {target: mapping, or None to stop auditing it}).

    ```yaml
    replace: false                      # true: start from nothing instead of the live/default mapping
    attributes:
      userName: ToLower([mail])         # a plain expression
      title: null                       # do not audit title
      externalId: {expression: "[objectId]", matching_priority: 2}
    ```
    Every expression is compiled here, so a typo is reported before any audit runs.
    """
    import yaml  # PyYAML: pinned in requirements.txt

    from .expressions import compile_expression

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise MappingError(f"{path}: not a text file (expected YAML in UTF-8)") from None
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot read the mapping overrides: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("attributes", {}), dict):
        raise MappingError(f"{path}: expected a mapping with an 'attributes' table (target: expression)")
    unknown = set(document) - {"replace", "attributes"}
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))
        raise MappingError(f"{path}: unknown keys {names} (expected replace, attributes)")
    overrides: dict[str, AttributeMapping | None] = {}
    for target, entry in (document.get("attributes") or {}).items():
        where = f"{path}: attributes.{target}"
        if entry is None:
            overrides[str(target)] = None
            continue
        spec = entry if isinstance(entry, dict) else {"expression": entry}
        extra = set(spec) - {"expression", "matching_priority", "flow_type", "default_value"}
        if extra or not isinstance(spec.get("expression"), str) or not spec["expression"].strip():
            raise MappingError(f"{where}: give an expression string, or {{expression, matching_priority}}")
        priority = spec.get("matching_priority") or 0
        if isinstance(priority, bool) or not isinstance(priority, int) or priority < 0:
            raise MappingError(f"{where}.matching_priority: expected a whole number 0 or more, not {priority!r}")
        mapping = AttributeMapping(str(target), spec["expression"], priority,
                                   str(spec.get("flow_type") or "Always"), spec.get("default_value"))
        try:
            compile_expression(spec["expression"], str(target))
            parse_target(str(target))
            check_graph_sources([mapping])
            check_manager_reference(mapping)
        except MappingError as exc:
            raise MappingError(f"{where}: {exc.message}") from None
        overrides[str(target)] = mapping
    replace = document.get("replace", False)
    if not isinstance(replace, bool):  # YAML's "false" in quotes is a string, and bool("false") is True
        raise MappingError(f"{path}: replace: expected true or false (unquoted), not {replace!r}")
    return replace, overrides


def apply_mapping_overrides(base: Iterable[AttributeMapping], replace: bool,
                            overrides: dict[str, AttributeMapping | None]) -> tuple[AttributeMapping, ...]:
    """`base` with each overridden target replaced (or dropped when None); new targets are appended."""
    merged: dict[str, AttributeMapping] = {} if replace else {m.target: m for m in base}
    for target, mapping in overrides.items():
        if mapping is None:
            merged.pop(target, None)
        else:
            merged[target] = mapping
    return tuple(merged.values())


def effective_mapping(schema: dict[str, Any] | None, overrides_file: str | Path | None = None,
                      ) -> tuple[tuple[AttributeMapping, ...], str]:
    """The mapping to audit with and where it came from: the live schema's when readable, else DESIGN.md's
    default table; then a YAML override file, when given."""
    source = "default"
    mapping = DEFAULT_MAPPING
    if schema:
        try:
            mapping, source = mapping_from_schema(schema), "schema"
        except MappingError as exc:
            source = f"default (the live schema was unreadable: {exc.message})"
    if overrides_file is not None:
        replace, overrides = load_mapping_overrides(overrides_file)
        mapping = apply_mapping_overrides(mapping, replace, overrides)
        source = f"{source} + {Path(overrides_file).name}"
    return mapping, source
