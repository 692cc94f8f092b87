"""Applying fix-up plans (rcaudit.fix.apply) over HTTPS to the sandbox's RingCentral, and to scim2-server (an
independent SCIM implementation that answers PATCH with 204): apply, re-audit, rollback, dry runs, stale
skips, every guard, resume after a crash, per-operation errors, pacing; and `rcaudit fix` / `rollback`."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests

from rcaudit.audit.reconcile import reconcile
from rcaudit.cli import main
from rcaudit.connect.config import Settings
from rcaudit.connect.http import RetryPolicy, stats_of
from rcaudit.fix import apply as applying
from rcaudit.fix.apply import RunLock, apply_plan, reaudit_touched, scim_client
from rcaudit.fix.audited_run import load_run
from rcaudit.fix.guards import Guards
from rcaudit.fix.journal import read_journal
from rcaudit.fix.plan import Filters, Plan, plan_for_run
from rcaudit.fix.rollback import plan_rollback
from rcaudit.model.errors import ApplyError, FetchError, PlanRejected
from rcaudit.model.findings import finding_key
from rcaudit.sandbox import Sandbox
from rcaudit.sandbox.servers.tls import create_tls
from tests.support.fixups import (
    ALL,
    FAST,
    OPEN,
    PLANTED_ACCOUNTS,
    PLANTED_OPS,
    Shop,
    by_name,
    comparable,
    fetch,
    fixup_tenant,
    legacy_plan_json,
    write_run,
)
from tests.support.snapshots import NOW, snapshot_from_tenant

ERROR_400 = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "scimType": "invalidValue",
             "detail": "Parameter [extension.contact.businessAddress.state] value is invalid."}


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[Shop]:
    with Sandbox(fixup_tenant()) as sandbox:
        yield Shop(sandbox, tmp_path / "run")


def statuses(result: applying.ApplyResult) -> dict[str, str]:
    return {f"{line['user_name'].split('@')[0]} {line['attribute']}": line["status"] for line in result.lines}


# --- apply, prove, roll back -----------------------------------------------------------------------------
def test_a_dry_run_sends_no_write_at_all(shop: Shop) -> None:
    before = shop.accounts()
    result = apply_plan(shop.plan(), shop.client, settings=shop.settings)
    assert shop.seen("PATCH") == 0 and shop.seen("PUT") == 0 and shop.seen("POST") == 0
    assert shop.seen("GET") == PLANTED_ACCOUNTS, "one re-read per account"
    assert result.counts["dry_run"] == PLANTED_OPS and result.exit_code == 0
    assert result.refused == ["2 deactivation(s) need --allow-deactivate"]
    assert shop.accounts() == before
    lines = read_journal(result.journal)
    assert [line["status"] for line in lines] == ["dry_run"] * PLANTED_OPS
    assert list(lines[0])[:15] == list(applying.JOURNAL_FIELDS)
    assert json.loads((result.folder / "plan.json").read_text())["plan_id"] == result.plan.plan_id


def test_apply_fixes_exactly_the_planned_findings_and_changes_nothing_else(shop: Shop) -> None:
    before_accounts = shop.accounts()
    audit_before = load_run(shop.folder).result.findings
    plan = shop.plan()
    result = shop.apply(plan)
    assert result.counts == {"applied": PLANTED_OPS, "skipped_stale": 0, "failed": 0, "dry_run": 0}
    assert shop.seen("PATCH") == PLANTED_ACCOUNTS and shop.seen("GET") == PLANTED_ACCOUNTS
    assert result.exit_code == 0 and not (shop.folder / "fixes" / ".apply.lock").exists()

    after = reconcile(fetch(shop.settings)).findings
    fixed = {(o.scim_id, o.kind, "" if o.attribute == "active" else o.attribute) for o in plan.operations}
    planned = audit_before[[(s, k, a) in fixed for s, k, a in zip(audit_before["scim_id"], audit_before["kind"],
                                                                  audit_before["attribute"], strict=True)]]
    assert len(planned) == PLANTED_OPS
    assert set(finding_key(after)) == set(finding_key(audit_before)) - set(finding_key(planned))

    now_accounts = shop.accounts()
    touched = set(plan.accounts)
    assert {k: v for k, v in now_accounts.items() if k not in touched} == \
        {k: v for k, v in before_accounts.items() if k not in touched}
    erin, bob = shop.account("erin.evans"), shop.account("bob.berg")
    assert erin["addresses"] == [{"type": "work", "country": "United States", "locality": "San Francisco",
                                  "postalCode": "94105", "region": "CA", "streetAddress": "500 Howard St",
                                  "primary": False}]
    assert {"type": "mobile", "value": "+46701234567"} in bob["phoneNumbers"]
    assert len(bob["phoneNumbers"]) == 3, "RingCentral's own work and extension numbers stay"
    assert shop.account("frank.fox")["active"] is False and shop.account("gina.gold")["active"] is True
    carol = shop.account("carol.clark")
    assert "title" not in carol and [p["type"] for p in carol["phoneNumbers"]] == ["work", "other"]

    check = reaudit_touched(load_run(shop.folder), result, shop.client)
    assert Counter(check["status"]) == {"fixed": PLANTED_OPS}


def test_rollback_restores_every_touched_value(shop: Shop) -> None:
    before = shop.accounts()
    result = shop.apply(shop.plan())
    assert shop.accounts() != before
    rollback = plan_rollback(result.journal)
    assert len(rollback.operations) == PLANTED_OPS and rollback.deactivations == 1  # gina goes back to inactive
    undone = shop.apply(rollback)
    assert undone.counts["applied"] == PLANTED_OPS and undone.folder.parent == result.folder.parent
    assert undone.fix_id != result.fix_id and (undone.folder / "plan.json").is_file()
    assert shop.accounts() == before
    assert all(line["reverts"] for line in read_journal(undone.journal))
    again = shop.apply(shop.plan())  # the fixes were rolled back: the same plan applies again
    assert again.counts["applied"] == PLANTED_OPS and not again.already_applied


def test_a_rollback_of_activations_needs_allow_deactivate(shop: Shop) -> None:
    result = shop.apply(shop.plan(Filters.parse(kinds="should_be_active")))
    rollback = plan_rollback(result.journal)
    assert rollback.deactivations == 1
    with pytest.raises(PlanRejected, match="allow-deactivate"):
        shop.apply(rollback, guards=Guards())


def test_stale_operations_are_skipped_and_journaled(shop: Shop) -> None:
    plan = shop.plan()
    shop.account("alice.adams")["title"] = "Changed By Hand"
    shop.account("dave.dunn")["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] = \
        "Engineering"  # someone fixed it already
    result = shop.apply(plan)
    lines = {f"{line['user_name'].split('@')[0]} {line['attribute']}": line for line in result.lines}
    alice = lines["alice.adams title"]
    assert alice["status"] == "skipped_stale" and alice["before"] == "Changed By Hand"
    assert "changed since the audit: audited Old Title, now Changed By Hand" in alice["error"]
    dave = lines["dave.dunn urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]
    assert dave["status"] == "skipped_stale" and "already holds the planned value" in dave["error"]
    assert lines['dave.dunn addresses[type eq "work"].region']["status"] == "applied"
    assert shop.account("alice.adams")["title"] == "Changed By Hand"
    assert shop.seen("PATCH", "alice.adams") == 0 and result.counts["applied"] == PLANTED_OPS - 2


# --- guards ----------------------------------------------------------------------------------------------
def test_max_changes(shop: Shop) -> None:
    with pytest.raises(PlanRejected, match=rf"{PLANTED_OPS} operations exceed --max-changes 10") as refused:
        shop.apply(shop.plan(), guards=Guards(max_changes=10, allow_deactivate=True))
    assert "plan.json" in str(refused.value)
    assert shop.seen("PATCH") == 0 and shop.seen("GET") == 0
    assert shop.apply(shop.plan(), guards=Guards(max_changes=PLANTED_OPS, allow_deactivate=True)).failed == 0


def test_deactivations_need_allow_deactivate(shop: Shop) -> None:
    with pytest.raises(PlanRejected, match="2 deactivation"):
        shop.apply(shop.plan(), guards=Guards())
    assert shop.seen("PATCH") == 0
    assert shop.apply(shop.plan(Filters.parse(kinds="attribute_mismatch")), guards=Guards()).failed == 0


def test_deactivating_more_than_5_percent_of_active_accounts_is_refused_with_the_numbers(shop: Shop) -> None:
    plan = shop.plan()
    plan.target_active_accounts = 30  # as if the target had 30 active accounts: 2 is 6.7 %
    with pytest.raises(PlanRejected, match=r"2 deactivations are 6\.7% of the target's 30 active accounts, above "
                                           r"the 5% limit \(at most 1\)"):
        shop.apply(plan)
    assert shop.seen("PATCH") == 0


def test_an_audit_older_than_24_hours_is_refused(shop: Shop) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    with pytest.raises(PlanRejected, match=r"the audit is 2\d\.\d h old .* older than 24 h"):
        shop.apply(shop.plan(), now=later)
    assert shop.apply(shop.plan(), now=later, guards=Guards(allow_deactivate=True, max_age_hours=48)).failed == 0


def test_a_plan_for_another_tenant_is_refused(shop: Shop) -> None:
    other = Settings.from_env({**shop.sandbox.env(), "RCAUDIT_TENANT_ID": "another-tenant"})
    with pytest.raises(PlanRejected, match="not for this tenant"):
        shop.apply(shop.plan(), settings=other)
    dry = apply_plan(shop.plan(), shop.client, settings=other)
    assert shop.seen("GET") == 0 and all(line["status"] == "dry_run" for line in dry.lines)


def test_a_lock_stops_two_applies_at_once(shop: Shop) -> None:
    with RunLock(shop.folder, "another-fix"), pytest.raises(PlanRejected, match="another apply holds"):
        shop.apply(shop.plan())
    assert shop.seen("PATCH") == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = shop.folder / "fixes" / ".apply.lock"
    lock.write_text(json.dumps({"fix_id": "crashed", "pid": dead.pid, "host": applying.socket.gethostname()}))
    result = shop.apply(shop.plan())  # the lock of a process that no longer runs is taken over
    assert result.failed == 0 and any("took over the lock of fix crashed" in n for n in result.notes)
    assert not lock.exists()


# --- crashes and resumes -----------------------------------------------------------------------------------
def test_resume_after_a_crash_applies_nothing_twice(shop: Shop) -> None:
    plan = shop.plan()
    applied = []

    def crash_after_three(line: dict[str, Any]) -> None:
        applied.append(line)
        if len(applied) == 3:
            raise SystemExit("simulated crash")

    with pytest.raises(SystemExit):
        shop.apply(plan, on_line=crash_after_three)
    assert not (shop.folder / "fixes" / ".apply.lock").exists()
    first = shop.seen("PATCH")
    resumed = shop.apply(plan)
    assert len(resumed.already_applied) == 3
    assert shop.seen("PATCH") == PLANTED_ACCOUNTS, "every account written once, across both runs"
    everything = [line for journal in sorted((shop.folder / "fixes").glob("*/journal.jsonl"))
                  for line in read_journal(journal)]
    assert Counter(line["op_id"] for line in everything if line["status"] == "applied") == \
        Counter({o.op_id: 1 for o in plan.operations})
    assert first == 3 and shop.apply(plan).lines == [], "a third run has nothing left to do"


def test_a_crash_between_the_patch_and_its_journal_line_is_decided_by_re_reading(
        shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    """The intent line is fsynced before the PATCH; the outcome line is lost. The rerun decides it from the
    account (applied, not written again) and journals that, so a rollback undoes it."""
    plan = shop.plan(Filters.parse(users="alice.adams@contoso.example"))
    real_write = applying.Journal.write

    def lose_it(self: applying.Journal, line: dict[str, Any]) -> None:
        if line["status"] == "intent":
            return real_write(self, line)
        raise KeyboardInterrupt  # the PATCH went out, the process died before its outcome line was written

    monkeypatch.setattr(applying.Journal, "write", lose_it)
    with pytest.raises(KeyboardInterrupt):
        shop.apply(plan)
    monkeypatch.setattr(applying.Journal, "write", real_write)
    result = shop.apply(plan)
    assert statuses(result) == {"alice.adams title": "applied"}
    assert "decided after a crash" in result.lines[0]["error"]
    assert shop.seen("PATCH", "alice.adams") == 1
    shop.apply(plan_rollback(result.journal))
    assert shop.account("alice.adams")["title"] == "Old Title"


def test_ctrl_c_finishes_the_account_being_written_then_stops(shop: Shop) -> None:
    import os
    import signal

    def interrupt_once(line: dict[str, Any]) -> None:
        if len(shop_lines) == 0:
            os.kill(os.getpid(), signal.SIGINT)
        shop_lines.append(line)

    shop_lines: list[dict[str, Any]] = []
    result = shop.apply(shop.plan(), on_line=interrupt_once)
    assert result.interrupted and result.exit_code == 2 and "run the same plan again" in str(result.stopped)
    assert len(result.lines) == 1 and shop.seen("PATCH") == 1
    assert shop.apply(shop.plan()).counts["applied"] == PLANTED_OPS - 1


# --- errors per operation -----------------------------------------------------------------------------------
def test_a_refused_value_fails_alone_and_the_run_goes_on(shop: Shop) -> None:
    dave = shop.account("dave.dunn")["id"]
    shop.sandbox.faults.add("respond", service="rc", method="PATCH", path=f"/Users/{dave}$", nth=1, times=2,
                            status=400, body=ERROR_400)
    result = shop.apply(shop.plan())
    lines = statuses(result)
    assert lines['dave.dunn addresses[type eq "work"].region'] == "failed"
    assert lines["dave.dunn urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"] == "applied"
    failed = next(line for line in result.lines if line["status"] == "failed")
    assert failed["http_status"] == 400 and "invalidValue" in failed["error"] and "state] value is invalid" in \
        failed["error"]
    assert result.counts["applied"] == PLANTED_OPS - 1 and result.exit_code == 1
    assert shop.seen("PATCH", "dave.dunn") == 3, "both together, then each alone"


def test_an_account_gone_since_the_audit(shop: Shop) -> None:
    plan = shop.plan()
    shop.sandbox.state.remove_scim_user(shop.account("alice.adams")["id"])
    dry = apply_plan(plan, shop.client, settings=shop.settings)
    alice = next(line for line in dry.lines if line["user_name"].startswith("alice."))
    assert alice["status"] == "dry_run" and "applying would fail" in alice["error"] and dry.exit_code == 0
    result = shop.apply(plan)
    alice = next(line for line in result.lines if line["user_name"].startswith("alice."))
    assert alice["status"] == "failed" and alice["http_status"] == 404 and "the account is gone" in alice["error"]
    assert result.counts["applied"] == PLANTED_OPS - 1


def test_a_uniqueness_conflict(shop: Shop) -> None:
    alice = shop.account("alice.adams")["id"]
    shop.sandbox.faults.add("respond", service="rc", method="PATCH", path=f"/Users/{alice}$", status=409,
                            body={"schemas": ERROR_400["schemas"], "status": "409", "scimType": "uniqueness",
                                  "detail": "duplicate email"})
    result = shop.apply(shop.plan())
    line = next(line for line in result.lines if line["user_name"].startswith("alice."))
    assert (line["status"], line["http_status"]) == ("failed", 409) and "uniqueness" in line["error"]
    assert result.counts["applied"] == PLANTED_OPS - 1


def test_a_5xx_with_nothing_written_is_sent_again(shop: Shop) -> None:
    alice = shop.account("alice.adams")["id"]
    shop.sandbox.faults.add("respond", service="rc", method="PATCH", path=f"/Users/{alice}$", nth=1, status=503,
                            body={"status": "503"})
    result = shop.apply(shop.plan())
    assert statuses(result)["alice.adams title"] == "applied" and result.failed == 0
    assert shop.seen("PATCH", "alice.adams") == 2 and shop.account("alice.adams")["title"] == "Engineer"


def test_a_5xx_after_the_write_went_through_is_not_sent_again(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    real = shop.client.patch_user

    def written_then_500(user_id: str, operations: list[dict[str, Any]]) -> Any:
        real(user_id, operations)
        raise FetchError(f"SCIM PATCH /Users/{user_id}: HTTP 500", status=500)

    monkeypatch.setattr(shop.client, "patch_user", written_then_500)
    result = shop.apply(shop.plan(Filters.parse(users="alice.adams@contoso.example")))
    assert statuses(result) == {"alice.adams title": "applied"}
    assert "the write went through" in result.lines[0]["error"] and shop.seen("PATCH") == 1


def test_a_lasting_5xx_fails_after_the_retries(shop: Shop) -> None:
    alice = shop.account("alice.adams")["id"]
    shop.sandbox.faults.add("respond", service="rc", method="PATCH", path=f"/Users/{alice}$", status=500,
                            body={"status": "500"})
    result = shop.apply(shop.plan())
    line = next(line for line in result.lines if line["user_name"].startswith("alice."))
    assert (line["status"], line["http_status"]) == ("failed", 500) and "3 attempt(s)" in line["error"]
    assert shop.seen("PATCH", "alice.adams") == 1 + Guards().write_retries
    assert result.counts["applied"] == PLANTED_OPS - 1


def test_a_429_beyond_the_retry_budget_fails_that_operation(shop: Shop) -> None:
    alice = shop.account("alice.adams")["id"]
    shop.sandbox.faults.add("respond", service="rc", method="PATCH", path=f"/Users/{alice}$", status=429,
                            headers={"Retry-After": "0.1"},
                            body={"errorCode": "CMN-301", "message": "Request rate exceeded"})
    result = shop.apply(shop.plan())
    line = next(line for line in result.lines if line["user_name"].startswith("alice."))
    assert (line["status"], line["http_status"]) == ("failed", 429) and "CMN-301" in line["error"]
    assert result.counts["applied"] == PLANTED_OPS - 1


def test_consecutive_failures_stop_the_run_and_say_why(shop: Shop) -> None:
    shop.sandbox.faults.add("respond", service="rc", method="PATCH", path=r"/Users/", status=500,
                            body={"status": "500"})
    result = shop.apply(shop.plan(), guards=Guards(allow_deactivate=True, max_consecutive_failures=3,
                                                  write_retries=0))
    assert result.stopped and result.stopped.startswith("3 accounts in a row failed")
    assert f"{PLANTED_ACCOUNTS - 3} account(s) not attempted" in result.stopped and result.exit_code == 1
    assert shop.seen("PATCH") == 3


def test_a_missing_permission_stops_everything(shop: Shop) -> None:
    shop.sandbox.faults.add("respond", service="rc", method="PATCH", path=r"/Users/", status=403,
                            body={"errorCode": "CMN-401", "message": "In order to call this API endpoint, "
                                                                     "application needs to have [EditAccounts]"})
    with pytest.raises(ApplyError, match="EditAccounts"):
        shop.apply(shop.plan())
    assert shop.seen("PATCH") == 1 and not (shop.folder / "fixes" / ".apply.lock").exists()


# --- pacing ------------------------------------------------------------------------------------------------
def test_writes_are_paced_to_the_heavy_limit_without_429s(shop: Shop) -> None:
    shop.sandbox.state.configure_limits(light=50, heavy=3, window=0.4)
    started = time.perf_counter()
    result = shop.apply(shop.plan())
    seconds = time.perf_counter() - started
    assert result.counts["applied"] == PLANTED_OPS
    assert stats_of(shop.client.session).throttled["scim"] == 0
    assert seconds >= (-(-PLANTED_ACCOUNTS // 3) - 1) * 0.4 - 0.05


def test_nothing_is_sent_inside_a_penalty_window(shop: Shop) -> None:
    """Someone else used up the Heavy window: the first PATCH gets 429; the next one waits the penalty out
    (a request inside it would restart it and get a second 429)."""
    plan = shop.plan(Filters.parse(users="alice.adams@contoso.example,bob.berg@contoso.example"))
    client = scim_client(shop.settings, RetryPolicy(max_total=5.0, backoff=0.01, max_backoff=0.05))
    shop.sandbox.state.configure_limits(light=100, heavy=2, window=1.2)
    with requests.Session() as http:
        http.trust_env = False
        http.verify = shop.sandbox.ca_file
        for _ in range(2):
            http.patch(f"{shop.sandbox.scim_url}/Users/{shop.account('filler.person00')['id']}",
                       headers={"Authorization": f"Bearer {shop.settings.scim_token}"},
                       json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                             "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}]})
    result = apply_plan(plan, client, apply=True, guards=OPEN, settings=shop.settings)
    assert result.counts["applied"] == 2
    assert stats_of(client.session).throttled["scim"] == 1


# --- scim2-server: an independent implementation -------------------------------------------------------------
class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture
def scim2(tmp_path: Path) -> Iterator[tuple[Settings, Path, Any]]:
    """scim2-server holding the fix-up tenant's accounts; a run folder audited from them."""
    from scim2_server.memory import InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BearerTokenApplication
    from scim2_server.utils import load_default_provider

    provider = load_default_provider()
    app = BearerTokenApplication(InMemoryStorage(), provider, service=ScimService(provider, secret="x" * 32),
                                 bearer_tokens=["tok"])
    seen: list[tuple[str, str]] = []

    def counted(environ: dict[str, Any], start_response: Any) -> Any:  # requests as the server saw them
        seen.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")))
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, counted, server_class=_ThreadingServer, handler_class=_Quiet)
    tls = create_tls(tmp_path / "scim2-tls")  # rcaudit only talks HTTPS
    server.socket = tls.server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    base = f"https://127.0.0.1:{server.server_port}/v2"
    tenant = fixup_tenant()
    http = requests.Session()
    http.trust_env = False
    http.verify = str(tls.ca_file)
    http.headers["Authorization"] = "Bearer tok"
    created = []
    for account in tenant["scim"]["Users"]:
        answer = http.post(f"{base}/Users", json={k: v for k, v in account.items() if k not in ("id", "meta")})
        assert answer.status_code == 201, answer.text
        created.append((answer.json()["id"], account["meta"]))

    def read_all() -> list[dict[str, Any]]:
        out = []
        for user_id, meta in created:
            answer = http.get(f"{base}/Users/{user_id}")
            if answer.status_code == 200:
                out.append({**answer.json(), "meta": meta})  # the audit's grace window reads meta.created
        return out

    tenant["scim"]["Users"] = read_all()
    folder = write_run(snapshot_from_tenant(tenant, NOW), tmp_path / "scim2-run")

    def audit_now() -> Any:
        tenant["scim"]["Users"] = read_all()
        return reconcile(snapshot_from_tenant(tenant, NOW))

    seen.clear()
    yield (Settings(scim_url=base, scim_token="tok", tenant_id="tenant-1", ca_bundle=str(tls.ca_file)), folder,
           (read_all, audit_now, seen))
    http.close()
    server.shutdown()
    server.server_close()


# --- scim2-server ----------------------------------------------------------------------------------------
MOBILE = 'phoneNumbers[type eq "mobile"].value'
NO_TARGET = {"bob.berg " + MOBILE, *(f'erin.evans addresses[type eq "work"].{part}' for part in
                                     ("country", "locality", "postalCode", "region", "streetAddress"))}


def test_scim2_server_refuses_an_add_on_a_filter_that_matches_nothing(scim2: tuple[Settings, Path, Any]) -> None:
    """scim2-server answers `add` on `phoneNumbers[type eq "mobile"].value` of an account without a mobile item
    (and the same on `addresses[type eq "work"].…` without a work address) with 400 noTarget; RingCentral accepts
    that form (Entra's connector sends it), so on scim2-server those operations fail, each alone, and the rest
    apply, re-audit as fixed and roll back. The legacy whole-item form is what scim2-server takes for them."""
    settings, folder, (read_all, audit_now, seen) = scim2
    client = scim_client(settings, FAST)
    before_accounts = comparable(read_all())
    before = load_run(folder).result.findings
    plan = plan_for_run(folder, ALL)
    later = NOW + dt.timedelta(hours=1)
    seen.clear()
    result = apply_plan(plan, client, apply=True, guards=OPEN, settings=settings, now=later)
    outcome = statuses(result)
    assert {k for k, v in outcome.items() if v == "failed"} == NO_TARGET
    assert result.counts["applied"] == PLANTED_OPS - len(NO_TARGET)
    failed = [line for line in result.lines if line["status"] == "failed"]
    assert all(line["http_status"] == 400 and "noTarget" in line["error"] for line in failed)
    assert Counter(method for method, _ in seen)["PATCH"] == PLANTED_ACCOUNTS + 5, "erin's five, each alone"
    assert {line["http_status"] for line in result.lines if line["status"] == "applied"} == {204}
    after = audit_now().findings
    gone = set(finding_key(before)) - set(finding_key(after))
    assert len(gone) == PLANTED_OPS - len(NO_TARGET) and set(finding_key(after)) <= set(finding_key(before))
    assert by_name(read_all(), "frank.fox")["active"] is False  # "False" read as a boolean
    undone = apply_plan(plan_rollback(result.journal), client, apply=True, guards=OPEN, settings=settings, now=later)
    assert undone.counts["applied"] == PLANTED_OPS - len(NO_TARGET)
    restored = comparable(read_all())
    carol = by_name(read_all(), "carol.clark")["id"]
    assert {k: v for k, v in restored.items() if k != carol} == {k: v for k, v in before_accounts.items() if k != carol}
    assert {"type": "mobile", "value": "+14155550100"} in [
        {k: p[k] for k in ("type", "value") if k in p} for p in restored[carol]["phoneNumbers"]]

    old_file = folder / "old-plan.json"
    only = Filters.parse(users="bob.berg@contoso.example,erin.evans@contoso.example")
    old_file.write_text(json.dumps(legacy_plan_json(plan_for_run(folder, only), folder)), encoding="utf-8")
    old = apply_plan(Plan.load(old_file), client, apply=True, guards=OPEN, settings=settings, now=later)
    assert old.counts["applied"] == len(NO_TARGET), "the whole-item form is what scim2-server takes there"


def test_scim2_server_dry_run_and_stale_skip(scim2: tuple[Settings, Path, Any]) -> None:
    settings, folder, (read_all, _, seen) = scim2
    client = scim_client(settings, FAST)
    plan = plan_for_run(folder, Filters.parse(kinds="attribute_mismatch"))
    dry = apply_plan(plan, client, settings=settings, now=NOW)
    assert {line["status"] for line in dry.lines} == {"dry_run"}
    assert {method for method, _ in seen} == {"GET"}, "a dry run sends no write"
    bob = next(line for line in dry.lines if line["user_name"].startswith("bob."))
    assert bob["sent"] == {"op": "add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+46701234567"}
    alice_id = by_name(read_all(), "alice.adams")["id"]
    requests.patch(f"{settings.scim_url}/Users/{alice_id}", headers={"Authorization": "Bearer tok"},
                   verify=settings.ca_bundle,
                   json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                         "Operations": [{"op": "replace", "path": "title", "value": "Edited"}]})
    result = apply_plan(plan, client, apply=True, guards=OPEN, settings=settings, now=NOW)
    assert statuses(result)["alice.adams title"] == "skipped_stale"
    assert by_name(read_all(), "alice.adams")["title"] == "Edited"


# --- the commands ----------------------------------------------------------------------------------------
def test_rcaudit_fix_and_rollback(shop: Shop, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in shop.sandbox.env().items():
        monkeypatch.setenv(name, value)
    before = shop.accounts()
    assert main(["fix", "--run", str(shop.folder), "--include-orphans"]) == 0
    out = capsys.readouterr().out
    assert "Old Title → Engineer" in out and "dry run" in out and "would be refused: 2 deactivation" in out
    assert "missing_in_target" in out and shop.seen("PATCH") == 0
    assert main(["fix", "--run", str(shop.folder), "--include-orphans", "--apply"]) == 2
    assert "need --allow-deactivate" in capsys.readouterr().err
    assert main(["fix", "--run", str(shop.folder), "--kinds", "attribute_mismatch", "--max-changes", "5",
                 "--apply"]) == 2
    assert main(["fix", "--run", str(shop.folder), "--include-orphans", "--apply", "--allow-deactivate"]) == 0
    out = capsys.readouterr().out
    assert f"applied {PLANTED_OPS}" in out
    journal = next(p for p in sorted((shop.folder / "fixes").glob("*/journal.jsonl"))
                   if any(line["status"] == "applied" for line in read_journal(p)))
    assert main(["rollback", "--journal", str(journal)]) == 0
    assert "dry run" in capsys.readouterr().out and shop.accounts() != before
    assert main(["rollback", "--journal", str(journal), "--apply", "--allow-deactivate"]) == 0
    assert shop.accounts() == before


def test_rcaudit_fix_exits_1_when_an_operation_failed(shop: Shop, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in shop.sandbox.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RCAUDIT_RETRY_MAX_SECONDS", "0.5")
    alice = shop.account("alice.adams")["id"]
    shop.sandbox.faults.add("respond", service="rc", method="PATCH", path=f"/Users/{alice}$", status=400,
                            body=ERROR_400)
    assert main(["fix", "--run", str(shop.folder), "--attributes", "title", "--apply"]) == 1
    out = capsys.readouterr().out
    assert "failed 1" in out and "applied 1" in out


def test_rcaudit_fix_without_connection_settings_still_dry_runs(shop: Shop, capsys: pytest.CaptureFixture[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RCAUDIT_OUTPUTS", str(shop.folder.parent))
    assert main(["fix", "--run", "latest"]) == 0
    out = capsys.readouterr().out
    assert "did not re-read" in out and shop.seen("GET") == 0
    assert main(["fix", "--run", str(shop.folder), "--apply"]) == 2
    assert "RCAUDIT_SCIM_TOKEN" in capsys.readouterr().err
