"""The job's sync settings (DESIGN.md "Sync settings"): opt-in read of SyncAll and SkipOutOfScopeDeletions from
the synchronization secrets, nothing else of that answer kept anywhere, and the precedence parameter > job >
Entra's default, applied and reported.

The secrets hold the connector's credentials, so the end-to-end test plants a recognisable secret token among
them and greps the whole run folder (snapshot, executed notebook, report, summary, findings) for it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from rcaudit.audit.reconcile import AuditOptions, flag_parameter, reconcile, resolve_sync_settings
from rcaudit.cli import main
from rcaudit.connect import auth
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import RetryPolicy
from rcaudit.model.errors import ConfigError
from rcaudit.model.snapshot import Snapshot
from rcaudit.sandbox import Sandbox, generate, save_tenant
from tests.support.snapshots import NOW, assign, audit, entra_user, rc_account, small_tenant

FAST = RetryPolicy(max_total=1.0, max_attempts=4, backoff=0.01, max_backoff=0.05)
SECRET_TOKEN = "rc-connector-token-7f3a9c1e5b2d"  # what Entra's connector holds for RingCentral: never copied


def _secrets(sync_all: str, skip: str) -> list[dict[str, str]]:
    return [{"key": "BaseAddress", "value": "https://platform.ringcentral.com/scim/v2"},
            {"key": "SecretToken", "value": SECRET_TOKEN},
            {"key": "SyncNotificationSettings", "value": '{"Enabled":false,"DeleteThresholdEnabled":false}'},
            {"key": "SyncAll", "value": sync_all}, {"key": "SkipOutOfScopeDeletions", "value": skip}]


@pytest.fixture(autouse=True)
def fresh_msal() -> None:
    auth.reset_apps()


# --- precedence and rules (pure) ------------------------------------------------------------------------------

@pytest.mark.parametrize(("job", "options", "expected"), [
    (None, AuditOptions(), ("assigned", False, "default", "default")),
    ({"SyncAll": "true", "SkipOutOfScopeDeletions": "True"}, AuditOptions(), ("all", True, "job", "job")),
    ({"SyncAll": "false"}, AuditOptions(), ("assigned", False, "job", "default")),
    ({"SyncAll": "true", "SkipOutOfScopeDeletions": "True"},
     AuditOptions(scope_mode="assigned", skip_out_of_scope_deletions=False),
     ("assigned", False, "parameter", "parameter")),
    ({"SyncAll": "garbage"}, AuditOptions(skip_out_of_scope_deletions=True), ("assigned", True, "default",
                                                                             "parameter")),
])
def test_a_parameter_overrides_the_job_which_overrides_entras_default(job, options, expected) -> None:
    settings = resolve_sync_settings(job, options)
    sources = dict(settings.sources)
    assert (settings.scope_mode, settings.skip_out_of_scope_deletions, sources["scope_mode"],
            sources["skip_out_of_scope_deletions"]) == expected


def test_flag_parameters_are_true_false_or_empty() -> None:
    assert [flag_parameter(v) for v in ("", "true", "False", None, True)] == [None, True, False, None, True]
    with pytest.raises(ConfigError, match="skip_out_of_scope_deletions"):
        flag_parameter("maybe")


def test_skip_out_of_scope_deletions_keeps_the_finding_and_names_the_setting() -> None:
    leaver, gone = entra_user("left.scope"), entra_user("disabled.one", accountEnabled=False)
    tenant = small_tenant([leaver, gone], [rc_account(leaver, "1"), rc_account(gone, "2")],
                          assignments=[assign(gone["id"])])
    plain = audit(tenant)
    skipping = audit(tenant, skip_out_of_scope_deletions=True)
    assert list(plain.findings["kind"]) == list(skipping.findings["kind"]) == ["should_be_inactive"] * 2
    reasons = dict(zip(skipping.findings["scim_id"], skipping.findings["reason"], strict=True))
    assert "SkipOutOfScopeDeletions" in reasons["1"]  # left scope: Entra will not deactivate it
    assert "SkipOutOfScopeDeletions" not in reasons["2"]  # disabled: Entra deactivates it whatever the setting
    assert skipping.to_dict()["settings"] == {"scope_mode": "assigned", "skip_out_of_scope_deletions": True,
                                              "sources": {"scope_mode": "default",
                                                          "skip_out_of_scope_deletions": "parameter"}}


# --- the read, over HTTPS -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    tenant = generate(users=150, seed=12, now=NOW).tenant
    tenant["graph"]["synchronizationSecrets"] = _secrets("true", "True")
    return tenant


def _fetch(sandbox: Sandbox, **env: str) -> Snapshot:
    settings = Settings.from_env({**sandbox.env(), **env})
    return fetch_snapshot(settings, source="sandbox", progress=False, interactive=False, retry=FAST)


def test_without_the_opt_in_the_secrets_are_never_requested(company: dict[str, Any]) -> None:
    with Sandbox(company) as sandbox:
        snapshot = _fetch(sandbox)
        asked = [p for _, p in sandbox.graph_server.requests_seen]
    assert snapshot.sync_settings is None and not [p for p in asked if "secrets" in p]
    assert reconcile(snapshot, None, AuditOptions()).settings.scope_mode == "assigned"


def test_the_opt_in_read_keeps_only_the_two_keys(company: dict[str, Any]) -> None:
    with Sandbox(company) as sandbox:
        snapshot = _fetch(sandbox, RCAUDIT_READ_SYNC_SECRETS="1")
    assert snapshot.sync_settings == {"SyncAll": "true", "SkipOutOfScopeDeletions": "True"}
    result = reconcile(snapshot, None, AuditOptions())
    assert result.settings.scope_mode == "all" and dict(result.settings.sources)["scope_mode"] == "job"
    assert SECRET_TOKEN not in json.dumps(snapshot.notes + snapshot.unreadable)


def test_a_token_that_may_not_read_the_secrets_leaves_them_unreadable_and_says_nothing_of_them(
        company: dict[str, Any]) -> None:
    with Sandbox(company) as sandbox:
        for client in sandbox.state.settings.get("clients") or []:
            client["roles"] = ["User.Read.All", "Application.Read.All", "GroupMember.Read.All", "AuditLog.Read.All",
                               "Directory.Read.All", "Synchronization.Read.All"]
        snapshot = _fetch(sandbox, RCAUDIT_READ_SYNC_SECRETS="1")
    entry = next(u for u in snapshot.unreadable if u["what"] == "synchronization settings")
    assert entry["reason"].startswith("HTTP 403") and snapshot.sync_settings is None


def test_demo_reads_the_settings_and_no_secret_reaches_the_run_folder(company: dict[str, Any], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("RCAUDIT_READ_SYNC_SECRETS", "1")
    path = save_tenant(company, tmp_path / "tenant.json")
    folder = tmp_path / "run"
    with caplog.at_level("DEBUG"):
        assert main(["demo", "--tenant", str(path), "--out", str(folder)]) == 0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["schema_version"] == 2
    assert summary["settings"] == {"scope_mode": "all", "skip_out_of_scope_deletions": True,
                                   "sources": {"scope_mode": "job", "skip_out_of_scope_deletions": "job"}}
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "read from the job" in report and "SkipOutOfScopeDeletions" in report
    leaked = [str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file()
              and (SECRET_TOKEN.encode() in f.read_bytes() or SECRET_TOKEN.encode() in _gunzipped(f))]
    assert leaked == [] and SECRET_TOKEN not in caplog.text
    assert dt.datetime.fromisoformat(summary["finished_at"])  # a complete run


def _gunzipped(path: Path) -> bytes:
    import gzip

    if path.suffix != ".gz":
        return b""
    with gzip.open(path, "rb") as handle:
        return handle.read()
