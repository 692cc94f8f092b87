"""`rcaudit provision` end to end over HTTPS to the sandbox: Graph's provisionOnDemand creates the missing users'
RingCentral accounts from the tenant's own job schema; dry run, cap, pacing, journal, re-audit, permission,
rollback (a deactivation, only with --allow-deactivate)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rcaudit.audit.reconcile import reconcile
from rcaudit.cli import main
from rcaudit.connect.config import Settings
from rcaudit.fix.audited_run import load_run
from rcaudit.fix.journal import read_journal
from rcaudit.fix.provision import Pacing, build_provision_plan
from rcaudit.fix.provision_apply import graph_client, provision_plan_apply
from rcaudit.sandbox import Sandbox
from rcaudit.sandbox.servers.login import DEFAULT_APP_ROLES
from tests.support.fixups import FAST, fetch, fixup_tenant, write_run
from tests.support.snapshots import assign, entra_user

NEW = ("hank.hill", "ivy.ingram", "jon.jones")  # live, assigned, no account


def provision_tenant() -> dict[str, Any]:
    tenant = fixup_tenant()  # hank.hill has no account
    for name in NEW[1:]:
        user = entra_user(name)
        tenant["graph"]["users"].append(user)
        tenant["graph"]["appRoleAssignments"].append(assign(user["id"]))
    return tenant


class Desk:
    """A sandbox, an audit run folder of it, and the environment pointing at it."""

    def __init__(self, sandbox: Sandbox, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sandbox = sandbox
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        self.settings = Settings.from_env(sandbox.env())
        self.folder = write_run(fetch(self.settings), folder)

    def posts(self) -> int:
        return sum(1 for method, path in self.sandbox.graph_server.requests_seen
                   if method == "POST" and path.endswith("/provisionOnDemand"))

    def account(self, name: str) -> dict[str, Any] | None:
        return next((a for a in self.sandbox.state.scim_users if a["userName"] == f"{name}@contoso.example"), None)

    def journal(self) -> Path:
        return next(p for p in sorted((self.folder / "fixes").glob("*/journal.jsonl"))
                    if any(line["status"] == "applied" for line in read_journal(p)))


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    with Sandbox(provision_tenant()) as sandbox:
        yield Desk(sandbox, tmp_path / "run", monkeypatch)


def test_a_dry_run_sends_no_post_and_says_what_it_would_send(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provision", "--run", str(desk.folder)]) == 0
    out = capsys.readouterr().out
    assert desk.posts() == 0 and all(desk.account(n) is None for n in NEW)
    assert "3 user(s)" in out and "dry run" in out and "hank.hill@contoso.example" in out
    folder = next((desk.folder / "fixes").iterdir())
    lines = read_journal(folder / "journal.jsonl")
    assert [(line["op"], line["status"]) for line in lines] == [("provision", "dry_run")] * 3
    plan = json.loads((folder / "plan.json").read_text())
    rule = desk.sandbox.state.graph["synchronizationJob"]["schema"]["synchronizationRules"][0]["id"]
    assert plan["requests"][0]["method"] == "POST" and plan["requests"][0]["path"].endswith("/provisionOnDemand")
    assert {r["body"]["parameters"][0]["subjects"][0]["objectId"] for r in plan["requests"]} == {f"id-{n}" for n in NEW}
    assert {r["body"]["parameters"][0]["ruleId"] for r in plan["requests"]} == {rule}


def test_apply_creates_the_accounts_journals_each_user_and_the_reaudit_proves_it(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provision", "--run", str(desk.folder), "--apply"]) == 0
    out = capsys.readouterr().out
    assert desk.posts() == 3
    created = {n: desk.account(n) for n in NEW}
    assert all(a is not None and a["active"] is True for a in created.values())
    lines = read_journal(desk.journal())
    outcomes = [line for line in lines if line["status"] != "intent"]
    assert len(outcomes) == 3 and {line["status"] for line in outcomes} == {"applied"}
    assert len([line for line in lines if line["status"] == "intent"]) == 3  # each announced before it was sent
    for line in outcomes:
        name = line["user_name"].split("@")[0]
        assert line["op"] == "provision" and line["after"] == created[name]["id"]  # type: ignore[index]
        assert [(s["name"], s["status"]) for s in line["steps"]][-1] == ("EntryExportAdd", "Success")
    assert "re-audit of the provisioned users" in out and out.count(" provisioned ") >= 3
    after = reconcile(fetch(desk.settings)).findings
    assert not set(after.loc[after["kind"] == "missing_in_target", "entra_id"]) & {f"id-{n}" for n in NEW}
    events = desk.sandbox.state.graph["provisioningEvents"]
    assert {e["targetIdentity"]["id"] for e in events if e["provisioningAction"] == "create"} == \
        {a["id"] for a in created.values() if a}


def test_a_second_apply_of_the_same_plan_sends_nothing(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provision", "--run", str(desk.folder), "--apply"]) == 0
    assert main(["provision", "--run", str(desk.folder), "--apply"]) == 0
    assert desk.posts() == 3 and "3 user(s) already provisioned" in capsys.readouterr().out


def test_the_cap_refuses_before_any_request(desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provision", "--run", str(desk.folder), "--apply", "--max-changes", "2"]) == 2
    assert "--max-changes 2" in capsys.readouterr().err and desk.posts() == 0
    assert main(["provision", "--run", str(desk.folder), "--apply", "--users", "ivy.ingram@contoso.example",
                 "--max-changes", "2"]) == 0
    assert desk.posts() == 1 and desk.account("ivy.ingram") and not desk.account("hank.hill")


def test_a_refused_permission_is_a_clear_error_naming_the_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with Sandbox(provision_tenant()) as sandbox:  # OwnedBy alone does not do: the app does not own RingCentral's SP
        sandbox.state.settings["clients"][0]["roles"] = [r for r in DEFAULT_APP_ROLES
                                                         if r != "Synchronization.ReadWrite.All"]
        desk = Desk(sandbox, tmp_path / "run", monkeypatch)
        assert main(["provision", "--run", str(desk.folder), "--apply"]) == 2
        err = capsys.readouterr().err
        assert "403" in err and "Synchronization.ReadWrite.All" in err
        assert desk.posts() == 1 and all(desk.account(n) is None for n in NEW)


def test_rollback_deactivates_the_created_accounts_only_with_allow_deactivate(
        desk: Desk, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["provision", "--run", str(desk.folder), "--apply", "--users", "hank.hill@contoso.example"]) == 0
    journal = desk.journal()
    assert main(["rollback", "--journal", str(journal), "--apply"]) == 2
    assert "need --allow-deactivate" in capsys.readouterr().err
    assert desk.account("hank.hill")["active"] is True  # type: ignore[index]
    assert main(["rollback", "--journal", str(journal), "--apply", "--allow-deactivate"]) == 0
    assert desk.account("hank.hill")["active"] is False  # type: ignore[index]


def test_requests_are_paced_to_the_limit_the_service_enforces(desk: Desk) -> None:
    desk.sandbox.state.settings["provisionOnDemandLimit"] = {"requests": 2, "window": 0.6}
    client = graph_client(desk.settings, FAST)
    run = load_run(desk.folder)
    paced = provision_plan_apply(build_provision_plan(run, ["hank.hill@contoso.example", "ivy.ingram@contoso.example",
                                                            "jon.jones@contoso.example"]),
                                 client, apply=True, settings=desk.settings, pacing=Pacing(2, 0.6))
    assert paced.counts["applied"] == 3 and desk.posts() == 3, "no request was refused with a 429"
    for name in NEW:  # start again: without pacing the emulator refuses the third request in the window
        desk.sandbox.state.remove_scim_user(desk.account(name)["id"])  # type: ignore[index]
    shutil.rmtree(desk.folder / "fixes")
    unpaced = provision_plan_apply(build_provision_plan(run, list(f"{n}@contoso.example" for n in NEW)),
                                   client, apply=True, settings=desk.settings, pacing=Pacing(100, 0.6),
                                   fix_id="unpaced")
    assert desk.posts() - 3 > 3 or unpaced.counts["failed"], "the service enforces the limit the pacing keeps to"


def test_an_expression_the_emulator_does_not_evaluate_fails_that_user_with_entras_failure_step(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tenant = provision_tenant()
    mappings = tenant["graph"]["synchronizationJob"]["schema"]["synchronizationRules"][0]["objectMappings"][0]
    title = next(m for m in mappings["attributeMappings"] if m["targetAttributeName"] == "title")
    title["source"] = {"expression": "ToUpper([jobTitle])", "name": "ToUpper", "type": "Function", "parameters": [
        {"key": "source", "value": {"expression": "[jobTitle]", "name": "jobTitle", "parameters": [],
                                    "type": "Attribute"}}]}
    with Sandbox(tenant) as sandbox:
        desk = Desk(sandbox, tmp_path / "run", monkeypatch)
        assert main(["provision", "--run", str(desk.folder), "--apply", "--users", "hank.hill@contoso.example"]) == 1
        assert "failed 1" in capsys.readouterr().out and desk.account("hank.hill") is None
        [line] = [line for line in read_journal(next((desk.folder / "fixes").glob("*/journal.jsonl")))
                  if line["status"] != "intent"]
        assert line["status"] == "failed" and line["result"] == "Failure"
        assert line["steps"][-1]["status"] == "Failure" and "ToUpper([jobTitle])" in line["steps"][-1]["description"]
        [event] = [e for e in sandbox.state.graph["provisioningEvents"] if e["sourceIdentity"]["id"] == "id-hank.hill"]
        assert event["provisioningStatusInfo"]["status"] == "failure"
