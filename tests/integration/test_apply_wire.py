"""The forms fix-ups write (DESIGN.md "Writes to RingCentral"), checked on the PatchOp bodies the sandbox's
RingCentral received over HTTPS: Entra's strings for `active`, typed values on their own filtered paths (never a
whole item or array), `--json-booleans`, rollbacks in the same forms, and plans written before these forms
(plan.json schema_version 1) applied and rolled back as they were written. Also scim2-server, which refuses one
of the forms RingCentral accepts (an `add` on a filter that matches nothing): see tests/integration/test_apply.py."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rcaudit.audit.reconcile import reconcile
from rcaudit.cli import main
from rcaudit.fix.apply import reaudit_touched
from rcaudit.fix.audited_run import load_run
from rcaudit.fix.journal import read_journal
from rcaudit.fix.ops import WIRE_ENTRA, WIRE_LEGACY
from rcaudit.fix.plan import Filters, Plan
from rcaudit.fix.rollback import plan_rollback
from rcaudit.sandbox import Sandbox
from tests.support.fixups import (
    PLANTED_ACCOUNTS,
    PLANTED_OPS,
    PatchBodies,
    Shop,
    by_name,
    fetch,
    fixup_tenant,
    legacy_plan_json,
    record_patch_bodies,
)

MOBILE = 'phoneNumbers[type eq "mobile"].value'
EMAIL = 'emails[type eq "work"].value'
WHOLE_ITEMS = ("phoneNumbers", "addresses", "emails")


def addr(part: str) -> str:
    return f'addresses[type eq "work"].{part}'


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with Sandbox(fixup_tenant()) as sandbox:
        yield Shop(sandbox, tmp_path / "run")


@pytest.fixture
def bodies(monkeypatch: pytest.MonkeyPatch) -> PatchBodies:
    return record_patch_bodies(monkeypatch)


def assert_entra_forms(operations: list[dict[str, Any]]) -> None:
    """Every value a string on the attribute's own path: never a whole item, an array or a JSON boolean."""
    for op in operations:
        path = op["path"]
        assert path not in WHOLE_ITEMS and not path.endswith("]"), op
        assert (op["op"] == "remove" and "value" not in op) or isinstance(op.get("value"), str), op


def test_a_fix_plans_patch_bodies_carry_strings_on_filtered_paths(shop: Shop, bodies: PatchBodies) -> None:
    before = shop.accounts()
    result = shop.apply(shop.plan())
    assert result.counts["applied"] == PLANTED_OPS and len(bodies.seen) == PLANTED_ACCOUNTS
    assert bodies.of("frank.fox") == [[{"op": "replace", "path": "active", "value": "False"}]]
    assert bodies.of("olga.orphan") == [[{"op": "replace", "path": "active", "value": "False"}]]
    assert bodies.of("gina.gold") == [[{"op": "replace", "path": "active", "value": "True"}]]
    assert bodies.of("bob.berg") == [[{"op": "add", "path": MOBILE, "value": "+46701234567"}]]
    assert {"op": "remove", "path": MOBILE} in bodies.of("carol.clark")[0]
    assert bodies.of("erin.evans") == [[{"op": "add", "path": addr(part), "value": value} for part, value in
                                        (("country", "US"), ("locality", "San Francisco"), ("postalCode", "94105"),
                                         ("region", "CA"), ("streetAddress", "500 Howard St"))]]
    assert_entra_forms(bodies.operations())

    lines = [line for line in read_journal(result.journal) if line["status"] == "applied"]
    sent = [op for ops in (b for _, b in bodies.seen) for op in ops]
    assert sorted(json.dumps(line["sent"], sort_keys=True) for line in lines) == \
        sorted(json.dumps(op, sort_keys=True) for op in sent), "the journal's `sent` is what went over the wire"
    assert {line["wire"] for line in lines} == {WIRE_ENTRA}
    frank = next(line for line in lines if line["user_name"].startswith("frank."))
    assert (frank["value"], frank["expected"], frank["after"]) == ("False", False, False)
    assert frank["inverse"] == {"op": "replace", "path": "active", "value": "True"}
    bob = next(line for line in lines if line["user_name"].startswith("bob."))
    assert bob["inverse"] == {"op": "remove", "path": MOBILE}
    assert_entra_forms([line["inverse"] for line in lines])

    carol = shop.account("carol.clark")
    assert [p["type"] for p in carol["phoneNumbers"]] == ["work", "other"], "RingCentral drops the emptied item"
    assert {"type": "mobile", "value": "+46701234567"} in shop.account("bob.berg")["phoneNumbers"]
    assert shop.account("frank.fox")["active"] is False and shop.account("gina.gold")["active"] is True
    proof = reaudit_touched(load_run(shop.folder), result, shop.client)
    assert Counter(proof["status"]) == {"fixed": PLANTED_OPS}

    bodies.clear()
    rollback = plan_rollback(result.journal)
    assert rollback.wire == WIRE_ENTRA
    assert shop.apply(rollback).counts["applied"] == PLANTED_OPS
    assert shop.accounts() == before
    assert_entra_forms(bodies.operations())
    assert bodies.of("frank.fox") == [[{"op": "replace", "path": "active", "value": "True"}]]
    assert bodies.of("gina.gold") == [[{"op": "replace", "path": "active", "value": "False"}]]
    assert bodies.of("bob.berg") == [[{"op": "remove", "path": MOBILE}]]
    assert {"op": "add", "path": MOBILE, "value": "+14155550100"} in bodies.of("carol.clark")[0]


def test_json_booleans_send_booleans_and_boolean_strings_changes_nothing(
        shop: Shop, bodies: PatchBodies, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in shop.sandbox.env().items():
        monkeypatch.setenv(name, value)
    lifecycle = ["fix", "--run", str(shop.folder), "--kinds", "should_be_inactive,should_be_active", "--apply",
                 "--allow-deactivate"]
    assert main([*lifecycle, "--json-booleans"]) == 0
    assert bodies.of("frank.fox") == [[{"op": "replace", "path": "active", "value": False}]]
    assert bodies.of("gina.gold") == [[{"op": "replace", "path": "active", "value": True}]]
    assert "JSON booleans (--json-booleans)" in capsys.readouterr().out
    journal = next(p for p in sorted((shop.folder / "fixes").glob("*/journal.jsonl")) if read_journal(p))
    bodies.clear()
    assert main(["rollback", "--journal", str(journal), "--apply", "--allow-deactivate"]) == 0
    assert bodies.of("frank.fox") == [[{"op": "replace", "path": "active", "value": True}]], \
        "a rollback writes as the plan it undoes did"
    assert shop.account("frank.fox")["active"] is True and shop.account("gina.gold")["active"] is False

    bodies.clear()
    assert main([*lifecycle, "--boolean-strings"]) == 0
    assert bodies.of("frank.fox") == [[{"op": "replace", "path": "active", "value": "False"}]]
    with pytest.raises(SystemExit) as refused:
        main([*lifecycle, "--boolean-strings", "--json-booleans"])
    assert refused.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_a_plan_written_before_the_entra_forms_applies_and_rolls_back_as_written(
        shop: Shop, bodies: PatchBodies) -> None:
    before = shop.accounts()
    old_file = shop.folder / "old-plan.json"
    old_json = legacy_plan_json(shop.plan(), shop.folder)
    old_file.write_text(json.dumps(old_json), encoding="utf-8")
    old = Plan.load(old_file)
    assert old.wire == WIRE_LEGACY and not old.booleans_as_strings
    result = shop.apply(old)
    assert result.counts["applied"] == PLANTED_OPS and result.failed == 0
    assert bodies.of("frank.fox") == [[{"op": "replace", "path": "active", "value": False}]]
    assert bodies.of("bob.berg") == [[{"op": "add", "path": "phoneNumbers",
                                       "value": [{"type": "mobile", "value": "+46701234567"}]}]]
    assert {"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'} in bodies.of("carol.clark")[0]
    assert bodies.of("erin.evans")[0][0] == {"op": "add", "path": "addresses",
                                             "value": [{"type": "work", "country": "US"}]}
    saved = json.loads((result.folder / "plan.json").read_text(encoding="utf-8"))
    assert saved["wire"] == WIRE_LEGACY, "the copy beside the journal keeps saying what the plan meant"
    assert {line["wire"] for line in read_journal(result.journal)} == {WIRE_LEGACY}
    proof = reaudit_touched(load_run(shop.folder), result, shop.client)
    assert Counter(proof["status"]) == {"fixed": PLANTED_OPS}

    # the fix folder exactly as the earlier version left it: its own plan.json (schema_version 1), no `wire` lines
    (result.folder / "plan.json").write_text(json.dumps(old_json), encoding="utf-8")
    result.journal.write_text("".join(json.dumps({k: v for k, v in line.items() if k != "wire"}) + "\n"
                                      for line in read_journal(result.journal)), encoding="utf-8")
    bodies.clear()
    rollback = plan_rollback(result.journal)
    assert rollback.wire == WIRE_LEGACY and not rollback.booleans_as_strings
    assert shop.apply(rollback).counts["applied"] == PLANTED_OPS
    assert shop.accounts() == before
    assert bodies.of("frank.fox") == [[{"op": "replace", "path": "active", "value": True}]]
    assert bodies.of("bob.berg") == [[{"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'}]]
    again = shop.apply(old)  # rolled back: the old plan applies again
    assert again.counts["applied"] == PLANTED_OPS


def test_an_old_journal_without_its_plan_json_is_rolled_back_in_the_old_forms(shop: Shop, bodies: PatchBodies) -> None:
    old_file = shop.folder / "old-plan.json"
    old_file.write_text(json.dumps(legacy_plan_json(shop.plan(Filters.parse(users="frank.fox@contoso.example,"
                                                                                   "bob.berg@contoso.example")),
                                                    shop.folder)), encoding="utf-8")
    result = shop.apply(Plan.load(old_file))
    lines = read_journal(result.journal)
    result.journal.write_text("".join(json.dumps({k: v for k, v in line.items() if k != "wire"}) + "\n"
                                      for line in lines), encoding="utf-8")  # as that version wrote it
    (result.folder / "plan.json").unlink()
    bodies.clear()
    rollback = plan_rollback(result.journal)
    assert rollback.wire == WIRE_LEGACY and not rollback.booleans_as_strings
    assert shop.apply(rollback).counts["applied"] == 2
    assert bodies.of("frank.fox") == [[{"op": "replace", "path": "active", "value": True}]]
    assert bodies.of("bob.berg") == [[{"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'}]]


def _email_tenant() -> dict[str, Any]:
    """The fix-up tenant with two e-mail drifts: an account without any e-mail, one with another work address."""
    tenant = fixup_tenant()
    for local_part, emails in (("filler.person00", None), ("filler.person01", "old.person01@contoso.example")):
        account = by_name(tenant["scim"]["Users"], local_part)
        if emails is None:
            del account["emails"]
        else:
            account["emails"] = [{"type": "work", "value": emails, "primary": False}]
    return tenant


def test_emails_are_written_on_their_filtered_path(tmp_path: Path, bodies: PatchBodies) -> None:
    """A missing work e-mail is an `add` on `emails[type eq "work"].value`, another one a `replace` there."""
    with Sandbox(_email_tenant()) as sandbox:
        shop = Shop(sandbox, tmp_path / "run")
        plan = shop.plan(Filters.parse(attributes=EMAIL))
        assert [(o.user_name.split("@")[0], o.op, o.path) for o in plan.operations] == [
            ("filler.person00", "add", EMAIL), ("filler.person01", "replace", EMAIL)]
        result = shop.apply(plan)
        assert result.counts["applied"] == 2
        assert bodies.of("filler.person00") == [[{"op": "add", "path": EMAIL,
                                                  "value": "filler.person00@contoso.example"}]]
        assert bodies.of("filler.person01") == [[{"op": "replace", "path": EMAIL,
                                                  "value": "filler.person01@contoso.example"}]]
        assert [e["value"] for e in shop.account("filler.person00")["emails"]] == ["filler.person00@contoso.example"]
        after = reconcile(fetch(shop.settings)).findings
        assert not (after["attribute"] == EMAIL).any()
        bodies.clear()
        undone = shop.apply(plan_rollback(result.journal))
        assert bodies.of("filler.person00") == [[{"op": "remove", "path": EMAIL}]]
        assert shop.account("filler.person01")["emails"][0]["value"] == "old.person01@contoso.example"
        # RingCentral's User requires emails: undoing the add (back to no e-mail at all) is refused, and said so
        refused = next(line for line in undone.lines if line["user_name"].startswith("filler.person00"))
        assert (refused["status"], refused["http_status"]) == ("failed", 400) and "mutability" in refused["error"]
        assert [e["value"] for e in shop.account("filler.person00")["emails"]] == ["filler.person00@contoso.example"]
