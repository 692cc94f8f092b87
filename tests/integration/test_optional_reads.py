"""Optional reads never sink an audit, and refusals give the hint that fits who is signed in.

Over HTTPS to the sandbox: a 400 (or any 4xx but 401) on an optional read lands in `unreadable` with the
service's code and message; the provisioning-log filter uses the operators Graph documents (`gt`, `lt`:
the emulator refuses `ge` as Graph does); `rcaudit check` reads the job the audit reads; a signed-in
analyst's 403 names the directory role, and AADSTS7000218 under device code names "Allow public client flows".
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

import pytest

from rcaudit.connect.auth import GraphAuth
from rcaudit.connect.check import run_checks
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.graph import GraphClient
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.model.errors import AuthError, FetchError, PermissionDenied
from rcaudit.sandbox import Sandbox, generate

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
FAST = RetryPolicy(max_total=1.0, max_attempts=4, backoff=0.01, max_backoff=0.05)
BAD_REQUEST = {"error": {"code": "BadRequest", "message": "Invalid filter clause", "innerError": {}}}


@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    return generate(users=150, seed=8, now=NOW).tenant


def fetch(sandbox: Sandbox):
    return fetch_snapshot(Settings.from_env(sandbox.env()), source="sandbox", progress=False, interactive=False,
                          retry=FAST)


def test_the_product_asks_for_provisioning_logs_with_gt_which_graph_documents(company: dict[str, Any]) -> None:
    with Sandbox(company) as sandbox:
        snapshot = fetch(sandbox)
    assert snapshot.unreadable == [] and snapshot.provisioning_events, "the emulator refuses ge: the read used gt"


@pytest.mark.parametrize(("path", "what"), [
    (r"/auditLogs/provisioning$", "provisioning events"),
    (r"/synchronization/jobs/[^/]+/schema$", "synchronization schema"),
    (r"/synchronization/jobs$", "synchronization job"),
    (r"/directory/deletedItems/", "deleted users"),
])
def test_a_4xx_on_an_optional_read_is_unreadable_with_the_services_words(company: dict[str, Any], path: str,
                                                                          what: str) -> None:
    with Sandbox(company) as sandbox:
        sandbox.faults.add("respond", service="graph", path=path, status=400, body=BAD_REQUEST)
        snapshot = fetch(sandbox)
    entry = next(u for u in snapshot.unreadable if u["what"] == what)
    assert entry["reason"] == "HTTP 400 BadRequest: Invalid filter clause"
    assert snapshot.users and snapshot.scim_users  # the audit went on


def test_a_401_or_a_5xx_on_an_optional_read_still_stops_the_fetch(company: dict[str, Any]) -> None:
    with Sandbox(company) as sandbox:
        sandbox.faults.add("respond", service="graph", path=r"/auditLogs/provisioning$", status=503,
                           body={"error": {"code": "ServiceUnavailable", "message": "try later"}})
        with pytest.raises(FetchError) as failure:
            fetch(sandbox)
    assert failure.value.status == 503


def test_rcaudit_check_reads_the_job_the_audit_reads(company: dict[str, Any]) -> None:
    """A service principal with two jobs, another app's first: both read the RingCentral one."""
    with Sandbox(company) as sandbox:
        ours = sandbox.state.graph["synchronizationJob"]
        other = {"id": "serviceNow.0000", "templateId": "serviceNow", "status": {"code": "Paused"}}
        mine = {k: v for k, v in ours.items() if k != "schema"}
        sandbox.faults.add("respond", service="graph", path=r"/synchronization/jobs$", status=200,
                           body={"value": [other, mine]})
        snapshot = fetch(sandbox)
        lines = {c.name: c for c in run_checks(Settings.from_env(sandbox.env()), interactive=False)}
    assert snapshot.job is not None and snapshot.job["id"] == ours["id"]
    assert lines["synchronization job"].detail.startswith(f"{ours['id']}: ")
    assert "2 provisioning jobs" in lines["synchronization job"].detail


def test_a_signed_in_analysts_403_names_the_directory_role(company: dict[str, Any]) -> None:
    with Sandbox(company) as sandbox:
        settings = Settings.from_env({**sandbox.env(), "RCAUDIT_GRAPH_AUTH": "device_code",
                                      "RCAUDIT_CLIENT_SECRET": ""})
        session = make_session(settings.ca_bundle, retry=FAST)
        app_settings = Settings.from_env(sandbox.env())
        token = GraphAuth(app_settings, session).token()

        class _Fixed:  # the analyst's token itself is not the point here: what the 403 says is
            kind = "device code"

            def token(self) -> str:
                return token

            def forget(self) -> None:
                pass

        client = GraphClient(settings, session, _Fixed())  # type: ignore[arg-type]
        sandbox.faults.add("respond", service="graph", path=r"/auditLogs/provisioning$", status=403,
                           body={"error": {"code": "Authorization_RequestDenied",
                                           "message": "Insufficient privileges to complete the operation."}})
        sandbox.faults.add("respond", service="graph", path=r"/synchronization/jobs$", status=403,
                           body={"error": {"code": "Authorization_RequestDenied",
                                           "message": "Insufficient privileges"}})
        with pytest.raises(PermissionDenied) as logs:
            client.provisioning_events("job", NOW)
        with pytest.raises(PermissionDenied) as jobs:
            client.synchronization_jobs(str(company["graph"]["servicePrincipal"]["id"]))
    assert "Reports Reader or Security Reader" in logs.value.message and "grant the application" not in \
        logs.value.message
    assert "Application Administrator or Cloud Application Administrator" in jobs.value.message


def test_device_code_without_public_client_flows_says_to_turn_them_on(company: dict[str, Any], tmp_path) -> None:
    tenant = copy.deepcopy(company)
    with Sandbox(tenant) as sandbox:
        for client in sandbox.state.settings.get("clients") or []:
            client["publicClient"] = False
        settings = Settings.from_env({**sandbox.env(), "RCAUDIT_GRAPH_AUTH": "device_code",
                                      "RCAUDIT_CLIENT_SECRET": ""})
        shown: list[str] = []
        graph_auth = GraphAuth(settings, make_session(settings.ca_bundle, retry=FAST), interactive=True,
                               cache_path=tmp_path / "cache.json", prompt=shown.append)
        with pytest.raises(AuthError) as refused:
            graph_auth.token()
    assert "AADSTS7000218" in refused.value.message
    assert re.search(r"Allow public client flows", refused.value.message)
