"""The job's sync settings (DESIGN.md "Sync settings"): opt-in read of SyncAll and SkipOutOfScopeDeletions from
the synchronization secrets, nothing else of that answer kept anywhere, and the precedence parameter > job >
Entra's default, applied and reported.

The secrets hold the connector's credentials, so the end-to-end test plants a recognisable secret token among
them and greps the whole run folder (snapshot, executed notebook, report, summary, findings) for it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from rcaudit.audit.reconcile import AuditOptions, reconcile
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import RetryPolicy
from rcaudit.model.snapshot import Snapshot
from rcaudit.sandbox import Sandbox
from tests.support.tenants import SECRET_TOKEN, company_with_sync_secrets

FAST = RetryPolicy(max_total=1.0, max_attempts=4, backoff=0.01, max_backoff=0.05)
# --- the read, over HTTPS -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    return company_with_sync_secrets()


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
