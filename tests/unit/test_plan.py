"""Fix-up plans (rcaudit.fix.plan), offline: which operations, on which paths, with which values and inverses;
what no PATCH fixes; filters; ids; the run's options; the wire form of typed items; rollback plans."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from rcaudit.audit.reconcile import AuditOptions, reconcile
from rcaudit.audit.waivers import Waiver
from rcaudit.fix.audited_run import RunAudit, load_run
from rcaudit.fix.journal import applied_op_ids
from rcaudit.fix.ops import WIRE_ENTRA, WIRE_LEGACY, op_id_of, patch_operations
from rcaudit.fix.plan import Filters, Plan, build_plan, plan_for_run
from rcaudit.fix.rollback import plan_rollback
from rcaudit.model.errors import ConfigError, SnapshotMissing
from rcaudit.model.findings import COLUMNS
from rcaudit.model.vocabulary import PATCH_OP
from rcaudit.report.masking import mask_findings
from tests.support.fixups import PLANTED_ACCOUNTS, PLANTED_OPS, fixup_tenant, write_run
from tests.support.snapshots import NOW, snapshot_from_tenant

MOBILE = 'phoneNumbers[type eq "mobile"].value'
DEPARTMENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"


def addr(part: str) -> str:
    return f'addresses[type eq "work"].{part}'


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run(snapshot_from_tenant(fixup_tenant(), NOW), tmp_path_factory.mktemp("runs") / "run-1")


@pytest.fixture(scope="module")
def plan(run: Path) -> Plan:
    return plan_for_run(run, Filters(include_orphans=True), now=NOW)


def ops_of(plan: Plan) -> dict[tuple[str, str], tuple[str, str, Any]]:
    return {(o.user_name.split("@")[0], o.attribute): (o.op, o.path, o.value) for o in plan.operations}


def test_one_operation_per_fixable_finding_on_designs_paths(plan: Plan) -> None:
    """The forms Entra's provisioning service sends RingCentral (DESIGN.md "Writes to RingCentral")."""
    assert ops_of(plan) == {
        # Entra's strings, not JSON booleans
        ("olga.orphan", "active"): ("replace", "active", "False"),
        ("frank.fox", "active"): ("replace", "active", "False"),
        ("gina.gold", "active"): ("replace", "active", "True"),
        ("alice.adams", "title"): ("replace", "title", "Engineer"),
        # a typed value RingCentral lacks: add on its filtered path with a string (never a whole item), in E.164
        ("bob.berg", MOBILE): ("add", MOBILE, "+46701234567"),
        # cleared in Entra: remove of that attribute's own path (never the whole item)
        ("carol.clark", MOBILE): ("remove", MOBILE, None),
        ("carol.clark", "title"): ("remove", "title", None),
        # the work address exists, its region does not: add on the filtered path
        ("dave.dunn", addr("region")): ("add", addr("region"), "CA"),
        ("dave.dunn", DEPARTMENT): ("replace", DEPARTMENT, "Engineering"),
        # no address at all: every part is an add on its own filtered path
        ("erin.evans", addr("country")): ("add", addr("country"), "US"),
        ("erin.evans", addr("locality")): ("add", addr("locality"), "San Francisco"),
        ("erin.evans", addr("postalCode")): ("add", addr("postalCode"), "94105"),
        ("erin.evans", addr("region")): ("add", addr("region"), "CA"),
        ("erin.evans", addr("streetAddress")): ("add", addr("streetAddress"), "500 Howard St"),
        ("ivan.ives", addr("country")): ("replace", addr("country"), "US"),  # what Entra holds
    }
    assert len(plan.operations) == PLANTED_OPS and plan.deactivations == 2
    assert plan.target_active_accounts == 50
    assert plan.wire == WIRE_ENTRA and plan.settings == {"json_booleans": False}
    for o in plan.operations:  # every value a string on the attribute's own path; never a whole item or array
        assert o.path == o.attribute and (o.value is None) == (o.op == "remove")
        assert o.value is None or isinstance(o.value, str)
    assert any('the strings "True"/"False"' in n for n in plan.notes)
    assert any("E.164" in n for n in plan.notes) and any("countries are written as Entra" in n for n in plan.notes)


def test_one_patchop_request_per_account(plan: Plan) -> None:
    requests = plan.requests()
    assert len(requests) == len(plan.accounts) == PLANTED_ACCOUNTS
    assert len({r["scim_id"] for r in requests}) == len(requests)
    for request in requests:
        assert request["method"] == "PATCH" and request["path"] == f"/Users/{request['scim_id']}"
        assert request["body"]["schemas"] == [PATCH_OP]
        assert all(set(o) <= {"op", "path", "value"} for o in request["body"]["Operations"])
    erin = next(r for r in requests if r["user_name"].startswith("erin."))
    assert [o["op"] for o in erin["body"]["Operations"]] == ["add"] * 5


def test_every_operation_carries_its_inverse_from_the_audited_value(plan: Plan) -> None:
    inverse = {(o.user_name.split("@")[0], o.attribute): o.inverse for o in plan.operations}
    assert inverse[("alice.adams", "title")] == {"op": "replace", "path": "title", "value": "Old Title"}
    assert inverse[("bob.berg", MOBILE)] == {"op": "remove", "path": MOBILE}  # add ↔ remove
    assert inverse[("carol.clark", MOBILE)] == {"op": "add", "path": MOBILE, "value": "+14155550100"}  # remove ↔ add
    assert inverse[("frank.fox", "active")] == {"op": "replace", "path": "active", "value": "True"}
    assert inverse[("ivan.ives", addr("country"))] == {"op": "replace", "path": addr("country"), "value": "Germany"}
    for o in plan.operations:
        assert o.inverse["op"] in ("add", "replace", "remove") and o.inverse["path"] == o.attribute


def test_what_no_patch_fixes_is_listed_with_the_recommended_action(plan: Plan) -> None:
    table = plan.not_fixable_table()
    assert sorted(table["kind"]) == ["ambiguous_match", "ambiguous_match", "missing_in_target"]
    missing = table[table["kind"] == "missing_in_target"].iloc[0]
    assert missing["user_name"] == "hank.hill@contoso.example" and "Provision on demand" in missing["action"]
    assert all("a person decides" in a for a in table.loc[table["kind"] == "ambiguous_match", "action"])


def test_orphans_are_deactivated_only_when_asked(run: Path) -> None:
    plan = plan_for_run(run, now=NOW)
    assert not any(o.kind == "orphan_in_target" for o in plan.operations)
    orphan = plan.not_fixable_table().query("kind == 'orphan_in_target'")
    assert len(orphan) == 1 and "--include-orphans" in orphan.iloc[0]["action"]


def test_waived_rows_are_not_fixable(run: Path) -> None:
    audit = load_run(run)
    alice = next(a for a in audit.snapshot.scim_users if a["userName"].startswith("alice."))
    waiver = Waiver(kind="attribute_mismatch", reason="title managed by HR", expires=dt.date(2099, 1, 1),
                    account=alice["id"])
    options = AuditOptions(waivers=(waiver,))
    waived = RunAudit(audit.folder, audit.snapshot, reconcile(audit.snapshot, None, options), None, options, {}, ())
    plan = build_plan(waived, now=NOW)
    assert ("alice.adams@contoso.example", "title") not in {(o.user_name, o.attribute) for o in plan.operations}
    row = plan.not_fixable_table().query("user_name == 'alice.adams@contoso.example'").iloc[0]
    assert row["action"].startswith("waived") and "title managed by HR" in row["reason"]


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters.parse(kinds="should_be_inactive,should_be_active"), {("frank.fox", "active"), ("gina.gold", "active")}),
    (Filters.parse(attributes=f"title,{DEPARTMENT}"),
     {("alice.adams", "title"), ("carol.clark", "title"), ("dave.dunn", DEPARTMENT)}),
    (Filters.parse(attributes="active"), {("frank.fox", "active"), ("gina.gold", "active")}),
    (Filters.parse(severity="high", include_orphans=True), {("frank.fox", "active"), ("olga.orphan", "active")}),
    (Filters.parse(severity="medium"), {("frank.fox", "active"), ("gina.gold", "active")}),
    (Filters.parse(users="id-alice.adams, IVAN.IVES@contoso.example"),
     {("alice.adams", "title"), ("ivan.ives", addr("country"))}),
])
def test_filters(run: Path, filters: Filters, expected: set[tuple[str, str]]) -> None:
    plan = plan_for_run(run, filters, now=NOW)
    assert set(ops_of(plan)) == expected
    assert plan.excluded > 0 and plan.filters == filters.to_dict()


def test_filter_by_account_id(run: Path, plan: Plan) -> None:
    bob = next(o.scim_id for o in plan.operations if o.user_name.startswith("bob."))
    assert set(ops_of(plan_for_run(run, Filters.parse(users=bob), now=NOW))) == {("bob.berg", MOBILE)}


def test_bad_filters_are_refused_naming_what_is_allowed() -> None:
    with pytest.raises(ConfigError, match="should_be_inactive"):
        Filters.parse(kinds="shoud_be_inactive")
    with pytest.raises(ConfigError, match=r"high, medium, low"):
        Filters.parse(severity="urgent")


def test_active_is_entras_string_unless_json_booleans_are_asked(run: Path) -> None:
    only = Filters.parse(kinds="should_be_inactive")
    default = plan_for_run(run, only, now=NOW)
    assert [(o.op, o.value, o.expected) for o in default.operations] == [("replace", "False", False)]
    assert default.operations[0].inverse["value"] == "True" and default.booleans_as_strings
    json_plan = plan_for_run(run, only, json_booleans=True, now=NOW)
    assert [(o.op, o.value) for o in json_plan.operations] == [("replace", False)]
    assert json_plan.operations[0].inverse["value"] is True and not json_plan.booleans_as_strings
    assert json_plan.settings == {"json_booleans": True} and any("--json-booleans" in n for n in json_plan.notes)
    old_switch = plan_for_run(run, only, boolean_strings=True, now=NOW)  # the old switch: accepted, changes nothing
    assert old_switch.to_dict() == default.to_dict()


def test_ids_are_hashes_and_stable(run: Path, plan: Plan) -> None:
    for o in plan.operations:
        assert o.op_id == op_id_of(o.scim_id, o.path, o.op, o.value)
    assert len({o.op_id for o in plan.operations}) == len(plan.operations)
    again = plan_for_run(run, Filters(include_orphans=True), now=NOW + dt.timedelta(hours=1))
    assert again.plan_id == plan.plan_id and [o.op_id for o in again.operations] == [o.op_id for o in plan.operations]
    assert plan_for_run(run, Filters.parse(kinds="attribute_mismatch"), now=NOW).plan_id != plan.plan_id


def test_values_come_from_the_snapshot_never_from_a_masked_file(run: Path, tmp_path: Path, plan: Plan) -> None:
    masked = tmp_path / "masked-run"
    masked.mkdir()
    (masked / "snapshot").symlink_to(run / "snapshot")
    findings = mask_findings(reconcile(load_run(run).snapshot).findings, b"key")[list(COLUMNS)]
    findings.to_csv(masked / "findings.csv", index=False)
    (masked / "summary.json").write_text(json.dumps({"masked": True}))
    again = plan_for_run(masked, Filters(include_orphans=True), now=NOW)
    assert [(o.path, o.value, o.audited) for o in again.operations] == \
        [(o.path, o.value, o.audited) for o in plan.operations]
    assert "pii:" not in json.dumps(again.to_dict())


def test_a_folder_without_snapshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotMissing, match="snapshot"):
        plan_for_run(tmp_path)


def test_the_runs_options_come_from_its_executed_notebook(run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "nb-run"
    folder.mkdir()
    (folder / "snapshot").symlink_to(run / "snapshot")
    cells = [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": 'scope_mode = "assigned"\n'
              'grace_minutes = 40  # one cycle\nwaiver_file = ""\n'},
             {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]},
              "source": ['scope_mode = "all"\n', "grace_minutes = 5\n"]}]
    (folder / "audit.ipynb").write_text(json.dumps({"cells": cells}))
    audit = load_run(folder)
    assert (audit.options.scope_mode, audit.options.grace_minutes) == ("all", 5.0)
    assert "audit.ipynb" in audit.notes[0]
    cells[1]["source"] = ['waiver_file = "gone.yaml"\n']
    (folder / "audit.ipynb").write_text(json.dumps({"cells": cells}))
    with pytest.raises(ConfigError, match=r"gone\.yaml"):
        load_run(folder)


def test_an_entra_number_that_is_not_a_phone_number_is_not_fixable(tmp_path: Path) -> None:
    tenant = fixup_tenant()
    bob = next(u for u in tenant["graph"]["users"] if u["id"] == "id-bob.berg")
    bob["mobilePhone"] = "ask reception"
    plan = plan_for_run(write_run(snapshot_from_tenant(tenant, NOW), tmp_path / "r"), now=NOW)
    assert ("bob.berg", MOBILE) not in ops_of(plan)
    row = plan.not_fixable_table().query("user_name == 'bob.berg@contoso.example'").iloc[0]
    assert "E.164" in row["action"]


def test_review_table_and_before_after(plan: Plan) -> None:
    review = plan.review()
    assert list(review.columns[:3]) == ["user", "attribute", "change"]
    alice = review[review["user"] == "alice.adams@contoso.example"].iloc[0]
    assert alice["change"] == "Old Title → Engineer"
    bob = review[review["user"] == "bob.berg@contoso.example"].iloc[0]
    assert bob["change"] == "(empty) → +46701234567"
    view = plan.before_after()
    assert view.loc[("carol.clark@contoso.example", slice(None), "title")].iloc[0].tolist() == ["Engineer", "(empty)"]


def test_plan_json_round_trips(plan: Plan, tmp_path: Path) -> None:
    path = plan.save(tmp_path / "plan.json")
    data = json.loads(path.read_text())
    assert data["plan_id"] == plan.plan_id and data["requests"] == plan.requests()
    assert (data["schema_version"], data["wire"]) == (2, "entra")
    assert {"op_id", "scim_id", "path", "op", "value", "audited", "inverse"} <= set(data["operations"][0])
    assert Plan.load(path) == plan


def test_a_plan_json_from_before_the_entra_forms_loads_as_legacy(plan: Plan, tmp_path: Path) -> None:
    """schema_version 1 and no `wire`: it meant JSON booleans (unless boolean_strings) and whole typed items."""
    data = plan.to_dict()
    data.pop("wire")
    data.update(schema_version=1, settings={"boolean_strings": False})
    (tmp_path / "old.json").write_text(json.dumps(data))
    old = Plan.load(tmp_path / "old.json")
    assert old.wire == WIRE_LEGACY and not old.booleans_as_strings
    data["settings"] = {"boolean_strings": True}
    (tmp_path / "old.json").write_text(json.dumps(data))
    assert Plan.load(tmp_path / "old.json").booleans_as_strings
    again = Plan.load(old.save(tmp_path / "again.json"))  # re-saved (each apply does): still legacy
    assert again.wire == WIRE_LEGACY and json.loads((tmp_path / "again.json").read_text())["wire"] == "legacy"
    for version, wire in ((3, "entra"), (2, "whole-items")):
        (tmp_path / "bad.json").write_text(json.dumps({**data, "schema_version": version, "wire": wire}))
        with pytest.raises(ConfigError, match=r"bad\.json"):
            Plan.load(tmp_path / "bad.json")


# --- the wire form ------------------------------------------------------------------------------------
PHONE_ITEM = {"type": "mobile", "value": "+14155550100", "primary": False}


EMAIL = 'emails[type eq "work"].value'


@pytest.mark.parametrize(("resource", "changes", "expected"), [
    # no mobile item: add on the filtered path with a string (Entra's form), never the whole item
    ({"phoneNumbers": [{"type": "work", "value": "+1650"}]}, [(MOBILE, "+46701234567")],
     [{"op": "add", "path": MOBILE, "value": "+46701234567"}]),
    ({"phoneNumbers": [PHONE_ITEM]}, [(MOBILE, "+46701234567")],
     [{"op": "replace", "path": MOBILE, "value": "+46701234567"}]),
    ({"phoneNumbers": [{"type": "mobile"}]}, [(MOBILE, "+4670")],  # an empty item left by some servers
     [{"op": "add", "path": MOBILE, "value": "+4670"}]),
    # cleared: remove of the attribute's own path, even when it is the last value of its item
    ({"phoneNumbers": [PHONE_ITEM]}, [(MOBILE, None)], [{"op": "remove", "path": MOBILE}]),
    ({"addresses": [{"type": "work", "region": "CA", "locality": "SF"}]}, [(addr("region"), "")],
     [{"op": "remove", "path": addr("region")}]),
    ({"addresses": [{"type": "work", "region": "CA", "locality": "SF"}]}, [(addr("region"), ""),
                                                                         (addr("locality"), None)],
     [{"op": "remove", "path": addr("region")}, {"op": "remove", "path": addr("locality")}]),
    # no address at all: each part an add on its own path; later ones see the item the first created
    ({}, [(addr("locality"), "Oslo"), (addr("country"), "NO")],
     [{"op": "add", "path": addr("locality"), "value": "Oslo"}, {"op": "add", "path": addr("country"), "value": "NO"}]),
    ({"addresses": [{"type": "work", "locality": "SF"}]}, [(addr("locality"), None), (addr("locality"), "Oslo")],
     [{"op": "remove", "path": addr("locality")}, {"op": "add", "path": addr("locality"), "value": "Oslo"}]),
    ({"emails": [{"type": "work", "value": "a@x", "primary": True}]}, [(EMAIL, "b@x")],
     [{"op": "replace", "path": EMAIL, "value": "b@x"}]),
    ({}, [(EMAIL, "b@x")], [{"op": "add", "path": EMAIL, "value": "b@x"}]),
    ({"emails": [{"type": "work", "value": "a@x"}]}, [(EMAIL, None)], [{"op": "remove", "path": EMAIL}]),
    ({"title": "x"}, [("title", "y"), ("name.givenName", "Ann")],
     [{"op": "replace", "path": "title", "value": "y"}, {"op": "add", "path": "name.givenName", "value": "Ann"}]),
    ({DEPARTMENT.rsplit(":", 1)[0]: {"department": "R&D"}}, [(DEPARTMENT, None)],
     [{"op": "remove", "path": DEPARTMENT}]),
])
def test_patch_operations_follow_the_account_as_it_stands(resource: dict[str, Any], changes: list[tuple[str, Any]],
                                                          expected: list[dict[str, Any]]) -> None:
    before = json.dumps(resource, sort_keys=True)
    assert patch_operations(changes, resource) == expected
    assert json.dumps(resource, sort_keys=True) == before, "the resource itself is never changed"


@pytest.mark.parametrize(("resource", "changes", "expected"), [
    ({"phoneNumbers": [{"type": "work", "value": "+1650"}]}, [(MOBILE, "+46701234567")],
     [{"op": "add", "path": "phoneNumbers", "value": [{"type": "mobile", "value": "+46701234567"}]}]),
    ({"phoneNumbers": [PHONE_ITEM]}, [(MOBILE, "+46701234567")],
     [{"op": "replace", "path": MOBILE, "value": "+46701234567"}]),
    ({"phoneNumbers": [PHONE_ITEM]}, [(MOBILE, None)], [{"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'}]),
    ({"addresses": [{"type": "work", "region": "CA", "locality": "SF"}]}, [(addr("region"), ""),
                                                                         (addr("locality"), None)],
     [{"op": "remove", "path": addr("region")}, {"op": "remove", "path": 'addresses[type eq "work"]'}]),
    ({}, [(addr("locality"), "Oslo"), (addr("country"), "NO")],
     [{"op": "add", "path": "addresses", "value": [{"type": "work", "locality": "Oslo"}]},
      {"op": "add", "path": addr("country"), "value": "NO"}]),
])
def test_legacy_plans_keep_their_whole_item_forms(resource: dict[str, Any], changes: list[tuple[str, Any]],
                                                  expected: list[dict[str, Any]]) -> None:
    """What a plan.json written before the Entra forms meant: applied as written."""
    assert patch_operations(changes, resource, WIRE_LEGACY) == expected


# --- journals and rollback plans ------------------------------------------------------------------------
def _line(op_id: str, scim_id: str, attribute: str, before: Any, after: Any, status: str = "applied",
          plan_id: str = "p1", fix_id: str = "f1", **extra: Any) -> dict[str, Any]:
    return {"time": "2026-11-26T20:05:00+00:00", "fix_id": fix_id, "plan_id": plan_id, "op_id": op_id,
            "scim_id": scim_id, "entra_id": "e", "path": attribute, "op": "replace", "value": after,
            "audited": before, "before": before, "after": after, "status": status, "http_status": 200, "error": "",
            "attribute": attribute, "user_name": f"{scim_id}@x", "kind": "attribute_mismatch", **extra}


def test_a_rollback_plan_undoes_applied_operations_newest_first(tmp_path: Path) -> None:
    journal = tmp_path / "run" / "fixes" / "f1" / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    lines = [_line("a", "1", "title", "Old", "New"), _line("b", "1", MOBILE, None, "+4670"),
             _line("c", "2", "active", True, False, kind="should_be_inactive"),
             _line("d", "3", "title", "X", "Y", status="failed"), _line("e", "4", "title", "P", "Q", status="dry_run")]
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines) + '{"cut short by a cra')
    plan = plan_rollback(journal, now=NOW)
    assert plan.kind == "rollback" and plan.run_folder == str(tmp_path / "run")
    assert [(o.scim_id, o.attribute, o.op, o.value, o.reverts) for o in plan.operations] == [
        ("2", "active", "replace", True, "c"),
        ("1", MOBILE, "remove", None, "b"),
        ("1", "title", "replace", "Old", "a"),
    ]
    assert [o.audited for o in plan.operations] == [False, "+4670", "New"]
    assert plan.deactivations == 0


def test_applied_op_ids_ignore_other_plans_and_rolled_back_operations(tmp_path: Path) -> None:
    fixes = tmp_path / "fixes"
    (fixes / "f1").mkdir(parents=True)
    (fixes / "f2").mkdir()
    (fixes / "f1" / "journal.jsonl").write_text("".join(json.dumps(x) + "\n" for x in [
        _line("a", "1", "title", "O", "N"), _line("b", "1", "title", "O", "N", status="failed"),
        _line("z", "9", "title", "O", "N", plan_id="other"), _line("c", "2", "title", "O", "N")]))
    (fixes / "f2" / "journal.jsonl").write_text(json.dumps(
        _line("r", "2", "title", "N", "O", plan_id="rb", fix_id="f2", reverts="c")) + "\n")
    assert applied_op_ids(tmp_path, "p1") == {"a": "f1"}
    (fixes / "f3").mkdir()
    (fixes / "f3" / "journal.jsonl").write_text(json.dumps(
        {**_line("c", "2", "title", "O", "N", fix_id="f3"), "time": "2026-11-26T21:00:00+00:00"}) + "\n")
    assert applied_op_ids(tmp_path, "p1") == {"a": "f1", "c": "f3"}, "applied again after the rollback"


def test_the_audit_notebooks_parameters_cell_is_read(tmp_path: Path) -> None:
    """The real audit notebook's parameters cell (as papermill copies it into a run folder) gives the options."""
    from rcaudit.connect.config import PROJECT_ROOT
    from rcaudit.fix.audited_run import run_parameters

    (tmp_path / "audit.ipynb").write_bytes((PROJECT_ROOT / "notebooks" / "audit.ipynb").read_bytes())
    values, origin = run_parameters(tmp_path)
    assert "audit.ipynb" in origin
    assert isinstance(values["scope_mode"], str) and isinstance(values["grace_minutes"], int | float)
    assert {"waiver_file", "mapping_file"} <= set(values)


def test_a_rollback_follows_the_forms_of_the_plan_it_undoes(tmp_path: Path) -> None:
    """Without a plan.json: lines that say `wire: entra` and sent "False" are undone with "True"; lines from before
    the marker came from a legacy plan (JSON booleans), see the test above."""
    journal = tmp_path / "run" / "fixes" / "f1" / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    lines = [{**_line("c", "2", "active", True, False, kind="should_be_inactive"), "value": "False", "wire": "entra"},
             {**_line("b", "1", MOBILE, None, "+4670"), "op": "add", "wire": "entra"}]
    journal.write_text("".join(json.dumps(line) + "\n" for line in lines))
    plan = plan_rollback(journal, now=NOW)
    assert plan.wire == WIRE_ENTRA and plan.booleans_as_strings
    assert [(o.attribute, o.op, o.path, o.value) for o in plan.operations] == [
        (MOBILE, "remove", MOBILE, None), ("active", "replace", "active", "True")]
    assert plan.operations[1].expected is True and plan.deactivations == 0
