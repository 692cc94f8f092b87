"""The pure side of provision on demand: the plan of provisionOnDemand requests for a run's missing users, reading
Graph's answer, pacing to 5 requests per 10 seconds, and the rollback plan of a provision journal."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from rcaudit.audit.reconcile import AuditOptions, reconcile
from rcaudit.fix.audited_run import RunAudit
from rcaudit.fix.provision import Pacing, ProvisionPlan, build_provision_plan, parse_answer, request_body
from rcaudit.fix.rollback import plan_rollback
from rcaudit.model.errors import ConfigError
from tests.support.snapshots import NOW, entra_user, rc_account, small_tenant, snapshot_from_tenant


def run_of(tenant: dict[str, Any], folder: Path) -> RunAudit:
    snapshot = snapshot_from_tenant(tenant, NOW)
    options = AuditOptions()
    return RunAudit(folder, snapshot, reconcile(snapshot, None, options), None, options, {}, ())


def tenant_with_missing(*names: str) -> dict[str, Any]:
    present = entra_user("amy.ames")
    users = [present, *(entra_user(n) for n in names)]
    return small_tenant(users, [rc_account(present, "1001")])


def test_one_request_per_missing_user_with_the_schemas_rule(tmp_path: Path) -> None:
    tenant = tenant_with_missing("bo.berg", "cy.cole")
    plan = build_provision_plan(run_of(tenant, tmp_path), now=NOW)
    rule = tenant["graph"]["synchronizationJob"]["schema"]["synchronizationRules"][0]["id"]
    assert [r["body"] for r in plan.requests()] == [request_body(rule, "id-bo.berg"), request_body(rule, "id-cy.cole")]
    path = "/servicePrincipals/sp-ringcentral/synchronization/jobs/job-1/provisionOnDemand"
    assert plan.requests()[0]["path"] == path
    assert request_body(rule, "id-bo.berg") == {"parameters": [{"ruleId": rule, "subjects": [
        {"objectId": "id-bo.berg", "objectTypeName": "User"}]}]}
    assert {o.op for o in plan.operations} == {"provision"} and len({o.op_id for o in plan.operations}) == 2
    assert all(o.inverse == {"op": "replace", "path": "active", "value": "False"} for o in plan.operations)
    assert [o.target_user_name for o in plan.operations] == ["bo.berg@contoso.example", "cy.cole@contoso.example"]
    assert not any(o.deactivation for o in plan.operations)


def test_users_narrow_the_plan_and_a_user_who_is_not_missing_is_named_not_provisioned(tmp_path: Path) -> None:
    run = run_of(tenant_with_missing("bo.berg", "cy.cole"), tmp_path)
    plan = build_provision_plan(run, ["CY.COLE@contoso.example", "amy.ames@contoso.example", "id-nobody"], now=NOW)
    assert [o.entra_id for o in plan.operations] == ["id-cy.cole"] and plan.excluded == 1
    assert any("amy.ames@contoso.example: not a missing_in_target finding" in n for n in plan.notes)
    assert any("id-nobody" in n for n in plan.notes)


def test_the_plan_id_is_stable_and_the_plan_file_reads_back(tmp_path: Path) -> None:
    run = run_of(tenant_with_missing("bo.berg"), tmp_path)
    first, again = build_provision_plan(run, now=NOW), build_provision_plan(run)
    assert first.plan_id == again.plan_id
    path = first.save(tmp_path / "plan.json")
    back = ProvisionPlan.load(path)
    assert back.requests() == first.requests() and back.kind == "provision"
    assert json.loads(path.read_text())["requests"][0]["method"] == "POST"


def test_a_snapshot_without_the_job_schema_cannot_be_provisioned(tmp_path: Path) -> None:
    tenant = tenant_with_missing("bo.berg")
    run = run_of(tenant, tmp_path)
    run = dataclasses.replace(run, snapshot=dataclasses.replace(run.snapshot, schema=None))
    with pytest.raises(ConfigError, match=r"Synchronization\.Read\.All"):
        build_provision_plan(run)


def test_graphs_answer_is_read_from_its_json_text() -> None:
    # the shape of microsoft-graph-docs-contrib synchronization-synchronizationjob-provisionondemand.md, example 1
    steps = [{"name": "EntryImport", "type": "Import", "status": "Success"},
             {"name": "EntrySynchronizationSkip", "type": "Export", "status": "Skipped"}]
    body = {"key": json.dumps({"result": "Skipped", "details": {"errorCode": "RedundantExport",
                                                                "errorMessage": "already match."}}),
            "value": json.dumps({"action": "Other", "provisioningSteps": steps,
                                 "targetIdentity": {"id": "52507a19", "type": "urn:…:User"}})}
    outcome = parse_answer(body)
    assert (outcome.result, outcome.scim_id, outcome.error_code, outcome.steps) == ("Skipped", "52507a19",
                                                                                     "RedundantExport", steps)
    assert not outcome.created
    created = parse_answer({"key": '{"result":"Success","details":{}}',
                            "value": '{"action":"Create","targetIdentity":{"id":"7"}}'})
    assert created.created and created.scim_id == "7"
    assert parse_answer({"key": "not json", "value": 3}).result == "Unknown"


def test_pacing_keeps_any_ten_seconds_to_five_requests() -> None:
    pacing = Pacing()
    for moment in (0.0, 0.1, 0.2, 0.3, 0.4):
        assert pacing.wait(moment) == 0
        pacing.record(moment)
    assert pacing.wait(0.5) == pytest.approx(9.5)
    assert pacing.wait(10.0) == 0
    pacing.record(10.0)
    assert pacing.wait(10.05) == pytest.approx(0.05)


def _journal(folder: Path, lines: list[dict[str, Any]]) -> Path:
    path = folder / "fixes" / "f1" / "journal.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _provision_line(op_id: str, status: str, scim_id: str, action: str | None) -> dict[str, Any]:
    return {"time": "2026-11-26T20:00:00+00:00", "fix_id": "f1", "plan_id": "p1", "op_id": op_id, "scim_id": scim_id,
            "entra_id": f"id-{op_id}", "path": "provisionOnDemand", "op": "provision", "value": {}, "audited": None,
            "before": None, "after": scim_id or None, "status": status, "http_status": 200, "error": "",
            "action": action, "user_name": f"{op_id}@contoso.example", "target_user_name": f"{op_id}@contoso.example",
            "steps": [], "wire": "entra"}


def test_rolling_back_a_provision_deactivates_the_account_it_created_and_nothing_else(tmp_path: Path) -> None:
    journal = _journal(tmp_path, [
        _provision_line("new", "intent", "", None), _provision_line("new", "applied", "2051", "create"),
        _provision_line("had", "intent", "", None), _provision_line("had", "applied", "1001", "update"),
        _provision_line("lost", "intent", "", None)])
    plan = plan_rollback(journal, now=NOW)
    assert [(o.scim_id, o.attribute, o.op, o.value, o.deactivation) for o in plan.operations] == [
        ("2051", "active", "replace", "False", True)]
    assert plan.operations[0].target_user_name == "new@contoso.example"
    assert any("already had an account" in n for n in plan.notes)
    assert any("in flight" in n and "rcaudit provision" in n for n in plan.notes)
