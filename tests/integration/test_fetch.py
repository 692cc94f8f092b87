"""`fetch_snapshot` against the sandbox over HTTPS: a generated tenant read exactly, what is requested,
optional reads that degrade, required ones that fail, and every fault the sandbox can inject.

Retries are bounded by a one-second budget with millisecond backoffs, so faults cost no real time.
"""

from __future__ import annotations

import collections
import datetime as dt
import math
import re
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import RetryPolicy, make_session, stats_of
from rcaudit.connect.scim import ScimClient, overlap
from rcaudit.model.errors import AuthError, FetchError, PermissionDenied, RateLimited
from rcaudit.model.snapshot import Snapshot
from rcaudit.sandbox import Sandbox, generate

FAST = RetryPolicy(max_total=1.0, max_attempts=4, backoff=0.01, max_backoff=0.05)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    """A generated company of ~1,100 users: Graph needs two pages of 999 for it."""
    return generate(users=1100, seed=3, now=NOW).tenant


def fetch(sandbox: Sandbox, rc_auth: str = "token", **kwargs: Any) -> Snapshot:
    settings = Settings.from_env(sandbox.env(rc_auth=rc_auth))
    options = {"progress": False, "interactive": False, "retry": FAST, **kwargs}
    return fetch_snapshot(settings, source="sandbox", **options)


def seen(server: Any, pattern: str, method: str = "GET") -> int:
    return sum(1 for m, p in server.requests_seen if m == method and re.search(pattern, p))


def list_pages(users: int, size: int) -> int:
    """Pages one walk of `users` takes in pages of `size`, each repeating `overlap(size)` of the last."""
    step = size - overlap(size)
    return 1 + math.ceil(max(0, users - size) / step)


def _by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in items}


# --- a generated tenant, read exactly ----------------------------------------------------------------
def test_a_generated_tenant_is_read_exactly_and_round_trips(company: dict[str, Any], tmp_path: Path) -> None:
    with Sandbox(company) as sandbox:
        graph, accounts = sandbox.state.graph, sandbox.state.scim_users
        snap = fetch(sandbox, event_days=3)
        graph_requests, rc_requests = seen(sandbox.graph_server, r"^/v1\.0/"), seen(sandbox.rc_server, r"^/scim/v2/")
    assert snap.source == "sandbox" and snap.tenant_id == graph["tenantId"]
    users = _by_id(snap.users)
    assert users.keys() == _by_id(graph["users"]).keys()
    for user in graph["users"]:
        for name in ("userPrincipalName", "mailNickname", "accountEnabled", "mail", "department", "mobilePhone",
                     "country", "createdDateTime"):
            assert users[user["id"]].get(name) == user.get(name), (user["id"], name)
        assert "manager" not in users[user["id"]], "RingCentral's current schema has no manager: not expanded"
        assert "displayName" not in users[user["id"]], "nor displayName: not selected"
    assert _by_id(snap.deleted_users).keys() == _by_id(graph["deletedUsers"]).keys()
    assert all(u.get("deletedDateTime") for u in snap.deleted_users)
    assert snap.scim_users == accounts
    assert snap.service_principal["appId"] == graph["servicePrincipal"]["appId"]
    assert collections.Counter((a["principalId"], a["appRoleId"]) for a in snap.app_role_assignments) == \
        collections.Counter((a["principalId"], a["appRoleId"]) for a in graph["appRoleAssignments"])

    groups = _by_id(graph["groups"])
    live = {u["id"] for u in graph["users"]} | set(groups)
    assigned = {a["principalId"] for a in graph["appRoleAssignments"] if a.get("principalType") == "Group"}
    assert snap.group_members.keys() == assigned == snap.group_transitive_members.keys()
    for gid in assigned:
        assert [m["id"] for m in snap.group_members[gid]] == [m for m in groups[gid]["members"] if m in live]
        reachable, queue = set(), list(groups[gid]["members"])
        while queue:
            member = queue.pop()
            if member in live and member not in reachable and member != gid:
                reachable.add(member)
                queue.extend(groups.get(member, {}).get("members", []))
        assert {m["id"] for m in snap.group_transitive_members[gid]} == reachable

    assert snap.job is not None and snap.job["id"] == graph["synchronizationJob"]["id"] and "schema" not in snap.job
    assert snap.schema is not None and snap.schema["synchronizationRules"]
    since = snap.graph_fetched_at - dt.timedelta(days=3)
    expected = {e["id"] for e in graph["provisioningEvents"]
                if dt.datetime.fromisoformat(e["activityDateTime"]) >= since and e["jobId"] == snap.job["id"]}
    assert {e["id"] for e in snap.provisioning_events} == expected and 0 < len(expected) < len(
        graph["provisioningEvents"])
    assert snap.graph_fetched_at <= snap.scim_fetched_at
    assert snap.requests == {"graph": graph_requests, "scim": rc_requests, "throttled": 0}
    assert set(snap.timings) == {"scim_discovery", "graph", "scim_users", "fetch"}
    assert snap.unreadable == [] and snap.notes == ["mapping: schema"]

    assert Snapshot.load(snap.save(tmp_path / "snapshot")) == snap
    assert Snapshot.load(tmp_path) == snap, "the run folder that holds snapshot/ loads too"


def test_the_manager_is_expanded_only_when_audited_and_pages_shrink_to_100() -> None:
    tenant = generate(users=250, seed=5, now=NOW, schema_profile="classic").tenant
    with Sandbox(tenant) as sandbox:
        snap = fetch(sandbox)
        pages = seen(sandbox.graph_server, r"^/v1\.0/users$")
    managed = {u["id"]: u["manager"]["id"] for u in tenant["graph"]["users"] if u.get("manager")}
    assert managed and {u["id"]: u["manager"]["id"] for u in snap.users if u.get("manager")} == managed
    assert pages == math.ceil(len(tenant["graph"]["users"]) / 100)
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager" in snap.audited_attributes
    assert all("displayName" in u for u in snap.users), "classic declares displayName: selected"


def test_scim_list_omissions_are_filled_in_and_noted(sandbox: Sandbox) -> None:
    sandbox.state.settings["listOmits"] = ["phoneNumbers", "addresses"]
    snap = fetch(sandbox)
    assert snap.scim_users == sandbox.state.scim_users
    assert any("omit addresses, phoneNumbers" in note for note in snap.notes)
    assert seen(sandbox.rc_server, r"^/scim/v2/Users/.") == len(sandbox.state.scim_users)


def test_progress_bars_only_when_asked(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    fetch(sandbox, progress=True)
    shown = capsys.readouterr().err
    assert "Entra users" in shown and "RingCentral users" in shown
    fetch(sandbox)
    assert capsys.readouterr().err == ""


# --- permissions -----------------------------------------------------------------------------------
def test_optional_reads_refused_are_recorded_and_the_fetch_goes_on(sandbox: Sandbox) -> None:
    for pattern in (r"/synchronization/jobs", r"/auditLogs/provisioning", r"/deletedItems", r"/transitiveMembers"):
        sandbox.state.deny_graph(pattern)
    snap = fetch(sandbox)
    reasons = {item["what"]: item["reason"] for item in snap.unreadable}
    assert reasons.keys() == {"synchronization job", "synchronization schema", "provisioning events",
                              "deleted users", "transitive group members"}
    assert "Synchronization.Read.All" in reasons["synchronization job"]
    assert "User.Read.All" in reasons["deleted users"]
    assert "GroupMember.Read.All" in reasons["transitive group members"]
    assert snap.job is None and snap.schema is None and snap.deleted_users == [] and snap.group_transitive_members == {}
    assert snap.notes[0].startswith("mapping: default")
    assert len(snap.users) == len(sandbox.state.graph["users"]) and snap.scim_users


def test_provisioning_events_alone_refused(sandbox: Sandbox) -> None:
    sandbox.state.deny_graph(r"/auditLogs/provisioning")
    snap = fetch(sandbox)
    assert snap.unreadable == [{"what": "provisioning events",
                                "reason": "HTTP 403 Authorization_RequestDenied: grant AuditLog.Read.All and "
                                          "Directory.Read.All"}]
    assert snap.job is not None and snap.schema is not None


@pytest.mark.parametrize(("pattern", "permission"), [
    (r"^/v1\.0/users$", "User.Read.All"),
    (r"/appRoleAssignedTo$", "Application.Read.All"),
    (r"/groups/[^/]+/members$", "GroupMember.Read.All"),
])
def test_required_reads_refused_name_the_permission_to_grant(sandbox: Sandbox, pattern: str, permission: str) -> None:
    sandbox.state.deny_graph(pattern)
    with pytest.raises(PermissionDenied) as caught:
        fetch(sandbox)
    assert caught.value.permission == permission and f"grant the application permission {permission}" in str(
        caught.value)


# --- faults ----------------------------------------------------------------------------------------
def test_a_500_in_the_middle_of_graph_paging_is_retried(company: dict[str, Any]) -> None:
    with Sandbox(company) as sandbox:
        sandbox.faults.add("respond", service="graph", path=r"^/v1\.0/users$", nth=2, status=500)
        snap = fetch(sandbox)
        assert len(snap.users) == len(sandbox.state.graph["users"]) > 999
        assert seen(sandbox.graph_server, r"^/v1\.0/users$") == 3


def test_a_dropped_connection_in_the_middle_of_scim_paging_is_retried(sandbox: Sandbox) -> None:
    sandbox.state.settings["maxCount"] = 2
    sandbox.faults.add("drop", service="rc", path=r"^/scim/v2/Users$", nth=3)
    snap = fetch(sandbox)
    assert snap.scim_users == sandbox.state.scim_users
    assert seen(sandbox.rc_server, r"^/scim/v2/Users$") == list_pages(len(sandbox.state.scim_users), 2) + 1


def test_a_persistent_failure_names_endpoint_and_status_and_yields_no_snapshot(sandbox: Sandbox) -> None:
    sandbox.faults.add("respond", service="rc", path=r"^/scim/v2/Users$", status=503,
                       body={"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "503",
                             "detail": "maintenance"})
    with pytest.raises(FetchError) as caught:
        fetch(sandbox)
    assert caught.value.endpoint == "GET /Users" and caught.value.status == 503
    assert "SCIM GET /Users: HTTP 503 maintenance after" in str(caught.value)
    assert 2 <= seen(sandbox.rc_server, r"^/scim/v2/Users$") <= FAST.max_attempts


def test_malformed_json_names_the_endpoint(sandbox: Sandbox) -> None:
    sandbox.faults.add("malformed", service="graph", path=r"^/v1\.0/users$")
    with pytest.raises(FetchError, match=r"Graph GET /users: the answer is not JSON"):
        fetch(sandbox)


def test_an_expired_graph_token_is_renewed_once(sandbox: Sandbox) -> None:
    sandbox.faults.add("expire_tokens", service="graph", path=r"^/v1\.0/users$", nth=1)
    snap = fetch(sandbox)
    assert len(snap.users) == len(sandbox.state.graph["users"])
    assert seen(sandbox.graph_server, r"/oauth2/v2\.0/token$", "POST") == 2
    assert seen(sandbox.graph_server, r"^/v1\.0/users$") == 2


def test_a_graph_401_that_persists_is_an_auth_error_after_one_re_auth(sandbox: Sandbox) -> None:
    sandbox.faults.add("respond", service="graph", path=r"^/v1\.0/users$", status=401,
                       body={"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation "
                                                                                       "failure."}})
    with pytest.raises(AuthError) as caught:
        fetch(sandbox)
    assert "InvalidAuthenticationToken" in str(caught.value) and "RCAUDIT_TENANT_ID" in str(caught.value)
    assert seen(sandbox.graph_server, r"/oauth2/v2\.0/token$", "POST") == 2
    assert seen(sandbox.graph_server, r"^/v1\.0/users$") == 2


def test_an_expired_jwt_grant_token_is_renewed_once(sandbox: Sandbox) -> None:
    sandbox.faults.add("expire_tokens", service="rc", path=r"^/scim/v2/Users$", nth=1)
    snap = fetch(sandbox, rc_auth="jwt")
    assert snap.scim_users == sandbox.state.scim_users
    assert seen(sandbox.rc_server, r"^/restapi/oauth/token$", "POST") == 2


def test_a_graph_429_storm_ends_in_a_complete_result(sandbox: Sandbox) -> None:
    sandbox.faults.add("respond", service="graph", path=r"^/v1\.0/users$", status=429, times=3,
                       headers={"Retry-After": "0.02"}, body={"error": {"code": "TooManyRequests", "message": "slow"}})
    snap = fetch(sandbox)
    assert len(snap.users) == len(sandbox.state.graph["users"])
    assert snap.requests["throttled"] == 3 and seen(sandbox.graph_server, r"^/v1\.0/users$") == 4


def test_a_scim_429_storm_is_rate_limited_at_the_cap_never_a_tight_loop(sandbox: Sandbox) -> None:
    sandbox.faults.add("respond", service="rc", path=r"^/scim/v2/Users$", status=429, headers={"Retry-After": "0.05"},
                       body={"errorCode": "CMN-301", "message": "Request rate exceeded"})
    started = time.monotonic()
    with pytest.raises(RateLimited, match="CMN-301"):
        fetch(sandbox, retry=RetryPolicy(max_total=0.25, backoff=0.01))
    sent = seen(sandbox.rc_server, r"^/scim/v2/Users$")
    assert 2 <= sent <= 6, "one request per Retry-After, no more"
    assert time.monotonic() - started >= (sent - 1) * 0.05


def test_ringcentral_limits_are_paced_without_a_429(sandbox: Sandbox) -> None:
    sandbox.state.settings["maxCount"] = 1
    sandbox.state.configure_limits(light=3, window=0.1)
    started = time.monotonic()
    snap = fetch(sandbox)
    elapsed = time.monotonic() - started
    light = seen(sandbox.rc_server, r"^/scim/v2/(Schemas|Users)")
    assert snap.scim_users == sandbox.state.scim_users
    walks = 2  # pages of 1 cannot overlap: a second, identical walk confirms the list
    assert snap.requests["throttled"] == 0 and light == 1 + walks * len(snap.scim_users)
    assert elapsed >= (math.ceil(light / 3) - 1) * 0.1


def test_a_window_someone_else_exhausted_costs_exactly_one_429(sandbox: Sandbox) -> None:
    settings = Settings.from_env(sandbox.env())
    scim = ScimClient(settings, make_session(settings.ca_bundle, retry=FAST))
    sandbox.state.configure_limits(light=3, window=0.3)
    token = sandbox.state.settings["scimToken"]
    with requests.Session() as other:  # another tool of the same app spends the window first
        other.trust_env = False
        other.verify = str(sandbox.ca_file)
        for _ in range(3):
            assert other.get(f"{sandbox.scim_url}/Schemas", headers={"Authorization": f"Bearer {token}"}).ok
    assert len(scim.users()) == len(sandbox.state.scim_users)
    assert stats_of(scim.session).throttled["scim"] == 1, "the retry waited out the penalty instead of restarting it"


@pytest.mark.parametrize("pattern", [r"/deletedItems", r"/auditLogs/provisioning", r"/transitiveMembers",
                                     r"/synchronization/jobs$"])
def test_an_exhausted_429_on_an_optional_read_raises_and_is_never_unreadable(sandbox: Sandbox, pattern: str) -> None:
    sandbox.faults.add("respond", service="graph", path=pattern, status=429, headers={"Retry-After": "0.02"},
                       body={"error": {"code": "TooManyRequests", "message": "slow down"}})
    with pytest.raises(RateLimited, match="still throttled"):
        fetch(sandbox, retry=RetryPolicy(max_total=0.2, backoff=0.01))
    assert seen(sandbox.graph_server, pattern) >= 5, "retried for the whole budget, not a fixed number of tries"
