"""The default mapping table, live mappings read from a synchronization schema, Graph property names."""

from __future__ import annotations

import pytest

from rcaudit.audit.mapping import (
    DEFAULT_MAPPING,
    AttributeMapping,
    default_mapping,
    graph_user_properties,
    mapping_from_schema,
    references,
)
from rcaudit.model.errors import MappingError
from rcaudit.model.vocabulary import ACTIVE_EXPRESSION, ENTERPRISE
from rcaudit.sandbox.tenant.sync_schema import default_sync_schema


def test_default_table_is_designs_and_current_drops_display_name_and_manager() -> None:
    targets = [m.target for m in DEFAULT_MAPPING]
    assert targets[:3] == ["userName", "externalId", "active"]
    assert f"{ENTERPRISE}:department" in targets and f"{ENTERPRISE}:manager" in targets
    current = {m.target for m in default_mapping("current")}
    assert "displayName" not in current and f"{ENTERPRISE}:manager" not in current
    assert next(m for m in DEFAULT_MAPPING if m.target == "userName").matching_priority == 1


@pytest.mark.parametrize(("expression", "expected"), [
    ("[mail]", ["mail"]),
    (ACTIVE_EXPRESSION, ["IsSoftDeleted"]),
    ('Join(" ", [givenName], [surname])', ["givenName", "surname"]),
    ('Replace([mail], , "[at]", , "@", , )', ["mail"]),  # a bracket inside a string literal is not a reference
    ('IIF([country]="US", "+1", Coalesce([mobile], [telephoneNumber]))', ["country", "mobile", "telephoneNumber"]),
])
def test_references_skip_string_literals(expression: str, expected: list[str]) -> None:
    assert references(expression) == expected


def test_unclosed_reference_names_the_expression() -> None:
    with pytest.raises(MappingError, match=r"unclosed '\[' in expression"):
        references("ToLower([mail)")


def test_graph_select_translates_provisioning_names() -> None:
    select = graph_user_properties(default_mapping("classic"), extra=["employeeId"])
    assert select[:6] == ["id", "userPrincipalName", "mailNickname", "accountEnabled", "createdDateTime",
                          "usageLocation"]
    assert "mobilePhone" in select and "mobile" not in select
    assert "IsSoftDeleted" not in select and "manager" not in select  # computed / expanded
    assert select[-1] == "employeeId" and len(select) == len(set(select))


@pytest.mark.parametrize("profile", ["current", "classic"])
def test_a_schema_built_from_the_table_reads_back_as_the_table(profile: str) -> None:
    assert mapping_from_schema(default_sync_schema(profile)) == default_mapping(profile)


def test_function_sources_without_expression_text_are_rebuilt_from_their_tree() -> None:
    schema = {"synchronizationRules": [{"name": "r", "objectMappings": [{
        "sourceObjectName": "User", "targetObjectName": "User", "attributeMappings": [{
            "targetAttributeName": "userName", "matchingPriority": 1, "source": {
                "type": "Function", "name": "ToLower", "parameters": [
                    {"key": "source", "value": {"type": "Attribute", "name": "mail"}}]}}]}]}]}
    assert mapping_from_schema(schema) == (AttributeMapping("userName", "ToLower([mail])", matching_priority=1),)


def test_a_schema_without_a_user_mapping_is_refused() -> None:
    with pytest.raises(MappingError, match="no enabled user object mapping"):
        mapping_from_schema({"synchronizationRules": [{"objectMappings": [
            {"sourceObjectName": "Group", "targetObjectName": "Group", "attributeMappings": []}]}]})


def test_the_sandbox_states_the_gallery_mapping_itself_and_it_agrees_with_design() -> None:
    """Two independent statements of DESIGN.md's table (the engine's default, the emulated job's) agree."""
    from rcaudit.audit.mapping import default_mapping
    from rcaudit.sandbox.tenant.sync_schema import mapping_pairs

    for profile in ("current", "classic"):
        engine = [(m.target, m.direct_source or m.expression) for m in default_mapping(profile)]
        assert engine == mapping_pairs(profile)


@pytest.mark.parametrize("target", ["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                                    "urn:ietf:params:scim:schemas:core:2.0:User", "User"])
def test_the_user_mapping_is_found_as_entra_writes_it_for_scim_apps(target: str) -> None:
    """For SCIM apps Entra names the user object mapping's target by the enterprise user URN, and the source
    directory "Microsoft Entra ID": the live mapping and its scoping filters are both read."""
    from rcaudit.audit.scope import scoping_filters_from_schema

    scope = {"groups": [{"name": "Sales", "clauses": [
        {"sourceOperandName": "department", "operatorName": "EQUALS", "targetOperand": {"values": ["Sales"]}}]}]}
    schema = {"synchronizationRules": [{"name": "USER_OUTBOUND_USER", "sourceDirectoryName": "Microsoft Entra ID",
                                        "objectMappings": [
        {"sourceObjectName": "Group", "targetObjectName": "urn:ietf:params:scim:schemas:core:2.0:Group",
         "attributeMappings": [{"targetAttributeName": "displayName", "source": {"type": "Attribute",
                                                                                 "name": "displayName"}}]},
        {"sourceObjectName": "User", "targetObjectName": target, "enabled": True, "scope": scope,
         "attributeMappings": [{"targetAttributeName": "userName", "source": {"type": "Attribute", "name": "mail"}}]},
    ]}]}
    assert [(m.target, m.expression) for m in mapping_from_schema(schema)] == [("userName", "[mail]")]
    filters = scoping_filters_from_schema(schema)
    assert filters.source == "schema" and filters.test({"department": "Sales"})
    assert not filters.test({"department": "Legal"})
