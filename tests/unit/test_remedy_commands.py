"""The commands a finding's remedy names are ones rcaudit accepts for that finding: `rcaudit provision` only
provisions a run's missing_in_target users (build_provision_plan), so a remedy for any other kind must not send
the analyst there (it would answer "not a missing_in_target finding of this run: not provisioned")."""

from __future__ import annotations

import re
from pathlib import Path

from rcaudit.fix.audited_run import load_run
from rcaudit.fix.provision import build_provision_plan
from rcaudit.model.vocabulary import ENTERPRISE
from rcaudit.sandbox import generate
from tests.support.snapshots import NOW, audit, small_tenant, snapshot_from_tenant
from tests.unit.test_causes import edited, event, job, with_events  # the causes tests' event builders

PROVISION = re.compile(r"`rcaudit provision --run DIR --users (\S+) --apply`")


def test_a_failed_update_of_an_existing_account_points_at_entras_provision_on_demand_not_rcaudit_provision() -> None:
    ann, account = edited(5 * 24 * 60, department="Sales")
    tenant = with_events(job(small_tenant([ann], [account])), event(
        ann, "failure", 20, attributes=(f"{ENTERPRISE}:department",),
        code="SystemForCrossDomainIdentityManagementBadRequest"))
    [remedy] = audit(tenant).findings.query("kind == 'attribute_mismatch'")["remedy"].tolist()
    assert "rcaudit provision" not in remedy
    assert "Provisioning > Provision on demand" in remedy and ann["id"] in remedy


def test_every_rcaudit_provision_a_remedy_names_is_one_the_provision_plan_takes(tmp_path: Path) -> None:
    generated = generate(users=200, seed=1)
    folder = tmp_path / "20261201T000000Z-abcd"
    snapshot_from_tenant(generated.tenant, NOW).save(folder / "snapshot")
    run = load_run(folder)
    named = {(row["kind"], m.group(1)) for row in run.result.findings.to_dict("records")
             for m in PROVISION.finditer(row["remedy"])}
    assert named, "the generated tenant plants causes whose remedy is provision on demand"
    for kind, user in sorted(named):
        plan = build_provision_plan(run, [user])
        assert len(plan.operations) == 1, f"a {kind} remedy names `rcaudit provision --users {user}`: {plan.notes}"


def test_the_fix_review_sends_a_missing_user_to_rcaudit_provision_which_takes_them(tmp_path: Path) -> None:
    from rcaudit.fix.plan import Filters, plan_for_run

    folder = tmp_path / "20261201T000000Z-abcd"
    snapshot_from_tenant(generate(users=200, seed=1).tenant, NOW).save(folder / "snapshot")
    missing = [n for n in plan_for_run(folder, Filters.parse("", "", "", "", False)).not_fixable
               if n.kind == "missing_in_target"]
    assert missing
    for item in missing:
        [user] = re.findall(r"`rcaudit provision --run DIR --users (\S+)`", item.action)
        assert len(build_provision_plan(load_run(folder), [user]).operations) == 1
