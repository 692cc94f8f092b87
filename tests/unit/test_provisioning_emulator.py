"""The sandbox's provisionOnDemand emulator, in process (no sockets): its own small evaluator of the job schema's
mapping and scoping filter, and the Failure step it answers for an expression it does not evaluate."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from rcaudit.model.vocabulary import ACTIVE_EXPRESSION
from rcaudit.sandbox.servers.provisioning import (
    UNSUPPORTED_CODE,
    ProvisioningEmulator,
    Unsupported,
    answer,
    clause_holds,
    evaluate,
    scope_passes,
)
from rcaudit.sandbox.servers.state import SandboxState
from rcaudit.sandbox.tenant.sync_schema import attribute_mapping, default_sync_schema
from tests.support.snapshots import entra_user, small_tenant

USER = entra_user("bo.berg", department="Sales", mobilePhone=None)


def attribute(name: str) -> dict[str, Any]:
    return {"expression": f"[{name}]", "name": name, "parameters": [], "type": "Attribute"}


def clause(attribute_name: str, operator: str, *values: str) -> dict[str, Any]:
    return {"sourceOperandName": attribute_name, "operatorName": operator,
            "targetOperand": {"values": list(values)}}


JOIN = {"expression": 'Join(" ", [givenName], [surname])', "name": "Join", "type": "Function",
        "parameters": [{"key": "separator", "value": {"type": "Constant", "name": " "}}]}


def test_direct_attributes_use_the_provisioning_names() -> None:
    assert evaluate(attribute("userPrincipalName"), USER) == "bo.berg@contoso.example"
    assert evaluate(attribute("objectId"), USER) == "id-bo.berg"
    assert evaluate(attribute("accountEnabled"), USER) == "True"
    assert evaluate(attribute("mobile"), USER) is None


def test_switch_over_is_soft_deleted_gives_active() -> None:
    active = attribute_mapping("active", ACTIVE_EXPRESSION)["source"]
    assert evaluate(active, USER) == "True"
    assert evaluate(active, {**USER, "deletedDateTime": "2026-11-01T00:00:00Z"}) == "False"


def test_anything_else_is_not_evaluated() -> None:
    with pytest.raises(Unsupported, match="Join"):
        evaluate(JOIN, USER)
    switch_on_other = copy.deepcopy(attribute_mapping("active", ACTIVE_EXPRESSION)["source"])
    switch_on_other["parameters"][0]["value"] = attribute("department")
    with pytest.raises(Unsupported):
        evaluate(switch_on_other, USER)


def test_scoping_clauses_equals_not_equals_is_null() -> None:
    assert clause_holds(clause("department", "EQUALS", "Sales"), USER)
    assert not clause_holds(clause("department", "EQUALS", "sales"), USER)  # case-sensitive
    assert clause_holds(clause("department", "NOT EQUALS", "Engineering"), USER)
    assert not clause_holds(clause("mobile", "NOT EQUALS", "x"), USER)  # false on an empty value
    assert clause_holds(clause("mobile", "IS NULL"), USER) and not clause_holds(clause("department", "IS NULL"), USER)
    with pytest.raises(Unsupported, match="REGEX MATCH"):
        clause_holds(clause("department", "REGEX MATCH", "^S"), USER)
    scope = {"groups": [{"name": "a", "clauses": [clause("department", "EQUALS", "Ops")]},
                        {"name": "b", "clauses": [clause("department", "EQUALS", "Sales"),
                                                  clause("mobile", "IS NULL")]}]}
    assert scope_passes(scope, USER) and not scope_passes(scope, {**USER, "department": "Ops2"})


def _emulator(mapping_change: Any = None, scope: Any = None) -> tuple[ProvisioningEmulator, dict[str, Any]]:
    schema = default_sync_schema()
    object_mapping = schema["synchronizationRules"][0]["objectMappings"][0]
    if mapping_change is not None:
        mapping_change(object_mapping["attributeMappings"])
    object_mapping["scope"] = scope
    state = SandboxState(small_tenant([USER], [], schema=schema))
    return ProvisioningEmulator(state), schema["synchronizationRules"][0]


def test_an_unsupported_mapping_expression_answers_a_failure_step_and_writes_nothing() -> None:
    def join_title(mappings: list[dict[str, Any]]) -> None:
        next(m for m in mappings if m["targetAttributeName"] == "title")["source"] = JOIN

    emulator, rule = _emulator(join_title)
    run = emulator.provision(rule, USER)
    assert run.result == "Failure" and run.steps[-1]["status"] == "Failure"
    assert run.steps[-1]["details"]["errorCode"] == UNSUPPORTED_CODE and "Join" in run.steps[-1]["description"]
    assert emulator.state.scim_users == []
    key = json.loads(answer(run, USER)["key"])
    assert key == {"result": "Failure", "details": {"errorCode": UNSUPPORTED_CODE, "errorMessage": run.message}}


def test_a_scoping_filter_that_leaves_the_user_out_skips_and_one_that_lets_in_creates() -> None:
    emulator, rule = _emulator(scope={"groups": [{"name": "ops", "clauses": [clause("department", "EQUALS", "Ops")]}]})
    run = emulator.provision(rule, USER)
    assert (run.result, run.steps[-1]["name"]) == ("Skipped", "EntrySynchronizationSkip")
    assert emulator.state.scim_users == []
    emulator, rule = _emulator(scope={"groups": [{"name": "s", "clauses": [clause("department", "EQUALS", "Sales")]}]})
    run = emulator.provision(rule, USER)
    assert (run.result, run.action, run.steps[-1]["name"]) == ("Success", "Create", "EntryExportAdd")
    account = emulator.state.scim_users[0]
    assert account["id"] == run.target_id and account["userName"] == "bo.berg@contoso.example"
    assert account["active"] is True and account["externalId"] == "bo.berg"
    again = emulator.provision(rule, USER)  # the account is matched on userName now
    assert again.result in ("Skipped", "Success") and again.action != "Create" and len(emulator.state.scim_users) == 1


def test_the_permission_is_synchronization_readwrite_all_or_owned_by_for_an_owner_only() -> None:
    emulator, _ = _emulator()
    owned_by = {"roles": ["Application.ReadWrite.OwnedBy"], "appid": "app-x"}
    assert not emulator.may_provision(owned_by)
    assert not emulator.may_provision({"roles": ["Synchronization.Read.All"], "appid": "app-x"})
    assert emulator.may_provision({"roles": ["Synchronization.ReadWrite.All"], "appid": "app-x"})
    emulator.state.graph["servicePrincipal"]["owners"] = ["app-x"]
    assert emulator.may_provision(owned_by)
