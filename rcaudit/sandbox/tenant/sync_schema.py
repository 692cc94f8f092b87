"""The RingCentral provisioning job and its default attribute mapping, in Graph's synchronization shapes.

Pure builders: the Graph emulator serves them when a tenant has no `synchronizationJob`, and the tenant
generator writes them into the tenants it makes. The mapping follows DESIGN.md's attribute table, with
the provisioning engine's source names (`mobile`, `IsSoftDeleted`), not Graph's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from rcaudit.model.vocabulary import ACTIVE_EXPRESSION, ENTERPRISE

TEMPLATE_ID = "ringCentral"
# As Entra writes a SCIM app's schema today: the source directory was renamed from "Azure Active Directory"
# to "Microsoft Entra ID", and the user object mapping targets the enterprise user schema URN, not `User`.
SOURCE_DIRECTORY = "Microsoft Entra ID"
USER_TARGET_OBJECT = ENTERPRISE
TARGET_DIRECTORY = "RingCentral"
RULE_NAME = "USER_OUTBOUND_USER"

# Source attributes the Azure AD side of the schema declares: (provisioning name, type)
_SOURCE_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("objectId", "String"), ("userPrincipalName", "String"), ("mailNickname", "String"),
    ("IsSoftDeleted", "Boolean"), ("accountEnabled", "Boolean"), ("displayName", "String"),
    ("jobTitle", "String"), ("mail", "String"), ("country", "String"), ("state", "String"),
    ("city", "String"), ("postalCode", "String"), ("streetAddress", "String"), ("givenName", "String"),
    ("surname", "String"), ("mobile", "String"), ("telephoneNumber", "String"), ("department", "String"),
    ("employeeId", "String"), ("manager", "Reference"), ("usageLocation", "String"), ("userType", "String"),
)


def _stable_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"rcaudit-sandbox:sync:{name}"))


# The RingCentral gallery app's user mapping as the emulated job declares it: (target, source), the source an
# attribute name or an expression. The sandbox states it itself, never from the audit engine, so a wrong
# engine cannot agree with a wrong emulator. `classic` is the mapping before 2020-09-10, when RingCentral
# stopped storing displayName and manager.
_GALLERY_MAPPING: tuple[tuple[str, str], ...] = (
    ("userName", "userPrincipalName"),
    ("externalId", "mailNickname"),
    ("active", ACTIVE_EXPRESSION),
    ("displayName", "displayName"),
    ("title", "jobTitle"),
    ('emails[type eq "work"].value', "mail"),
    ('addresses[type eq "work"].country', "country"),
    ('addresses[type eq "work"].region', "state"),
    ('addresses[type eq "work"].locality', "city"),
    ('addresses[type eq "work"].postalCode', "postalCode"),
    ('addresses[type eq "work"].streetAddress', "streetAddress"),
    ("name.givenName", "givenName"),
    ("name.familyName", "surname"),
    ('phoneNumbers[type eq "mobile"].value', "mobile"),
    (f"{ENTERPRISE}:department", "department"),
    (f"{ENTERPRISE}:manager", "manager"),
)
_REMOVED_FROM_CURRENT = frozenset({"displayName", f"{ENTERPRISE}:manager"})


def mapping_pairs(profile: str = "current") -> list[tuple[str, str]]:
    """(target, source) pairs of the gallery mapping for a schema profile: an attribute name, or the expression."""
    if profile == "classic":
        return list(_GALLERY_MAPPING)
    if profile == "current":
        return [pair for pair in _GALLERY_MAPPING if pair[0] not in _REMOVED_FROM_CURRENT]
    raise ValueError(f"unknown schema profile {profile!r}: expected 'current' or 'classic'")


def _attribute_source(name: str) -> dict[str, Any]:
    return {"expression": f"[{name}]", "name": name, "parameters": [], "type": "Attribute"}


def _constant(value: str) -> dict[str, Any]:
    return {"expression": f'"{value}"', "name": value, "parameters": [], "type": "Constant"}


def _active_source() -> dict[str, Any]:
    """`Switch([IsSoftDeleted], , "False", "True", "True", "False")` as Graph's nested expression tree."""
    parameters: list[dict[str, Any]] = [
        {"key": "source", "value": _attribute_source("IsSoftDeleted")},
        {"key": "defaultValue", "value": _constant("")},
    ]
    for key, value in (("False", "True"), ("True", "False")):
        parameters.append({"key": "key", "value": _constant(key)})
        parameters.append({"key": "value", "value": _constant(value)})
    return {"expression": ACTIVE_EXPRESSION, "name": "Switch", "parameters": parameters, "type": "Function"}


def attribute_mapping(target: str, source: str) -> dict[str, Any]:
    """One attributeMapping: userName is the matching attribute (priority 1), like the gallery app."""
    return {
        "defaultValue": None,
        "exportMissingReferences": False,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": 1 if target == "userName" else 0,
        "source": _active_source() if source == ACTIVE_EXPRESSION else _attribute_source(source),
        "targetAttributeName": target,
    }


def _definition(name: str, kind: str, *, anchor: bool = False, required: bool = False,
                case_exact: bool = False, multivalued: bool = False) -> dict[str, Any]:
    return {
        "anchor": anchor,
        "caseExact": case_exact,
        "defaultValue": None,
        "flowNullValues": False,
        "metadata": [],
        "multivalued": multivalued,
        "mutability": "ReadWrite",
        "name": name,
        "required": required,
        "referencedObjects": [{"referencedObjectName": "User", "referencedProperty": None}] if kind == "Reference"
        else [],
        "type": kind,
    }


def _target_definitions(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    definitions = [_definition("id", "String", anchor=True, case_exact=True)]
    for target, _ in pairs:
        if target == "active":
            kind = "Boolean"
        elif target.endswith(":manager"):
            kind = "Reference"
        else:
            kind = "String"
        definitions.append(_definition(target, kind, required=target == "userName",
                                       case_exact=target == "externalId"))
    return definitions


def default_sync_schema(profile: str = "current") -> dict[str, Any]:
    """The synchronizationSchema of a RingCentral job with the default mapping of `profile`.

    Deterministic (fixed ids), so a generated tenant and the emulator's fallback agree.
    """
    pairs = mapping_pairs(profile)
    source_objects = [{
        "name": "User",
        "attributes": [_definition(name, kind, anchor=name == "objectId") for name, kind in _SOURCE_ATTRIBUTES],
        "metadata": [],
        "supportedApis": [],
    }]
    target_objects = [{"name": USER_TARGET_OBJECT, "attributes": _target_definitions(pairs), "metadata": [],
                       "supportedApis": []}]
    return {
        "version": "Date:2021-10-28T00:00:00Z~###~ProfileType:" + profile,
        "directories": [
            {"id": _stable_id("directory:aad"), "name": SOURCE_DIRECTORY, "discoverabilities": "None",
             "discoveryDateTime": None, "readOnly": True, "version": None, "objects": source_objects},
            {"id": _stable_id("directory:ringcentral"), "name": TARGET_DIRECTORY, "discoverabilities": "None",
             "discoveryDateTime": None, "readOnly": False, "version": None, "objects": target_objects},
        ],
        "synchronizationRules": [{
            "containerFilter": {"includedContainers": []},
            "editable": True,
            "groupFilter": {"includedGroups": []},
            "id": _stable_id("rule:user"),
            "metadata": [],
            "name": RULE_NAME,
            "priority": 1,
            "sourceDirectoryName": SOURCE_DIRECTORY,
            "targetDirectoryName": TARGET_DIRECTORY,
            "objectMappings": [{
                "attributeMappings": [attribute_mapping(target, source) for target, source in pairs],
                "enabled": True,
                "flowTypes": "Add, Update, Delete",
                "metadata": [],
                "name": f"Provision {SOURCE_DIRECTORY} Users",
                "scope": None,
                "sourceObjectName": "User",
                "targetObjectName": USER_TARGET_OBJECT,
            }],
        }],
    }


def default_job_id(tenant_id: str) -> str:
    """`ringCentral.<32 hex>`: the tenant id without dashes when it is a GUID, like real job ids."""
    try:
        suffix = uuid.UUID(tenant_id).hex
    except ValueError:
        suffix = hashlib.md5(tenant_id.encode("utf-8"), usedforsecurity=False).hexdigest()
    return f"{TEMPLATE_ID}.{suffix}"


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _execution(began: dt.datetime, seconds: int, entitled: int) -> dict[str, Any]:
    return {
        "activityIdentifier": _stable_id(f"run:{began.isoformat()}"),
        "countEntitled": entitled,
        "countEntitledForProvisioning": entitled,
        "countEscrowed": 0,
        "countEscrowedRaw": 0,
        "countExported": 0,
        "countExports": 0,
        "countImported": entitled,
        "countImportedDeltas": 0,
        "countImportedReferenceDeltas": 0,
        "error": None,
        "state": "Succeeded",
        "timeBegan": _stamp(began),
        "timeEnded": _stamp(began + dt.timedelta(seconds=seconds)),
    }


def default_sync_job(tenant_id: str, last_run: dt.datetime, entitled: int = 0) -> dict[str, Any]:
    """An Active RingCentral job whose last (successful) cycle began at `last_run`, without its schema."""
    first = last_run - dt.timedelta(days=30)
    execution = _execution(last_run, 42, entitled)
    return {
        "id": default_job_id(tenant_id),
        "templateId": TEMPLATE_ID,
        "schedule": {"expiration": None, "interval": "PT40M", "state": "Active"},
        "status": {
            "countSuccessiveCompleteFailures": 0,
            "escrowsPruned": False,
            "synchronizedEntryCountByType": [{"key": "User", "value": entitled}],
            "code": "Active",
            "lastExecution": execution,
            "lastSuccessfulExecution": execution,
            "progress": [],
            "lastSuccessfulExecutionWithExports": _execution(last_run - dt.timedelta(minutes=40), 57, entitled),
            "steadyStateFirstAchievedTime": _stamp(first + dt.timedelta(minutes=2)),
            "steadyStateLastAchievedTime": _stamp(last_run + dt.timedelta(seconds=42)),
            "quarantine": None,
            "troubleshootingUrl": None,
        },
        "synchronizationJobSettings": [
            {"name": "AzureIngestionAttributeOptimization", "value": "False"},
            {"name": "LookaheadQueryEnabled", "value": "False"},
            {"name": "QuarantineTooManyDeletesThreshold", "value": "500"},
        ],
    }
