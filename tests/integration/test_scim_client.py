"""The SCIM client against the sandbox's RingCentral (HTTPS) and against an independent implementation,
scim2-server, in-process: paging, one user, PATCH (200 with a body, 204 without) and both error shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from rcaudit.connect.config import Settings
from rcaudit.connect.http import RetryPolicy, make_session, stats_of
from rcaudit.connect.scim import ScimClient
from rcaudit.model.errors import AuthError, FetchError
from rcaudit.model.scim_path import declared_by
from rcaudit.sandbox import Sandbox
from tests.support.tls_wsgi import https_wsgi

FAST = RetryPolicy(max_total=1.0, backoff=0.01, max_backoff=0.05)
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def client(settings: Settings) -> ScimClient:
    return ScimClient(settings, make_session(settings.ca_bundle, retry=FAST))


def user_gets(sandbox: Sandbox) -> list[str]:
    return [p for m, p in sandbox.rc_server.requests_seen if m == "GET" and p.startswith("/scim/v2/Users")]


@pytest.fixture
def rc(sandbox: Sandbox) -> ScimClient:
    sandbox.state.settings["maxCount"] = 3
    return client(Settings.from_env(sandbox.env()))


# --- the sandbox's RingCentral ---------------------------------------------------------------------
def test_pages_advance_by_what_came_back(sandbox: Sandbox, rc: ScimClient) -> None:
    users = rc.users(count=5)  # more than the server's maximum (3): pages of 3 come back
    assert sorted(u["id"] for u in users) == sorted(u["id"] for u in sandbox.state.scim_users)
    assert user_gets(sandbox) == ["/scim/v2/Users"] * 3, "3 + 2 + 2: each page repeats one user of the last"


def test_page_size_is_the_servers_maximum(sandbox: Sandbox, rc: ScimClient) -> None:
    assert len(rc.users()) == len(sandbox.state.scim_users)
    assert user_gets(sandbox) == ["/scim/v2/Users"] * 3


def test_a_user_appearing_mid_walk_breaks_the_overlap_and_the_list_is_walked_again(
        sandbox: Sandbox, rc: ScimClient) -> None:
    """A user created before the offset shifts everyone down a place: page 2's first id is no longer page 1's
    last, so that walk is discarded and the list read again (pages of 3 overlap by 1)."""
    extra = json.loads(json.dumps(sandbox.state.scim_users[0]))
    extra.update(id="99999", userName="late.arrival@contoso.example")
    page_sizes: list[int] = []

    def page_done(count: int) -> None:
        page_sizes.append(count)
        if len(page_sizes) == 1:
            sandbox.state.scim_users.insert(0, extra)
            sandbox.state.reindex()

    users = rc.users(on_page=page_done)
    assert page_sizes == [3, 3, 2, 2, 1], "walk 1 stops at its second page; walk 2: 3 new, then 2 + 1 overlap each"
    assert [u["id"] for u in users] == [u["id"] for u in sandbox.state.scim_users], "each id once, as served now"
    assert user_gets(sandbox) == ["/scim/v2/Users"] * 6


def test_list_answers_without_audited_attributes_are_completed_one_by_one(sandbox: Sandbox, rc: ScimClient) -> None:
    sandbox.state.settings["listOmits"] = ["phoneNumbers", "addresses"]
    fetched = rc.fetch_users(["userName", "phoneNumbers", "addresses", "emails"])
    total = len(sandbox.state.scim_users)
    assert fetched.list_omits == ["phoneNumbers", "addresses"]
    assert fetched.detail_reads == total
    assert all("phoneNumbers" in u for u in fetched.users)
    assert fetched.users == [sandbox.state.scim_user(u["id"]) for u in fetched.users]
    assert "omit phoneNumbers, addresses" in fetched.notes[0]
    assert len([p for p in user_gets(sandbox) if p != "/scim/v2/Users"]) == total


def test_complete_list_answers_need_no_detail_reads(sandbox: Sandbox, rc: ScimClient) -> None:
    fetched = rc.fetch_users(["userName", "phoneNumbers", "addresses"])
    assert fetched.detail_reads == 0 and not fetched.notes and fetched.list_omits == []


def test_an_attribute_nobody_holds_is_probed_not_read_for_everyone(sandbox: Sandbox, rc: ScimClient) -> None:
    fetched = rc.fetch_users(["userName", "photos"])
    assert fetched.list_omits == [] and fetched.detail_reads == 5
    assert fetched.notes == ["no SCIM user holds photos (checked 5 one by one)"]


def test_get_and_patch_with_a_200_body(sandbox: Sandbox, rc: ScimClient) -> None:
    user_id = sandbox.state.scim_users[0]["id"]
    assert rc.get_user(user_id)["id"] == user_id
    patched = rc.patch_user(user_id, [{"op": "replace", "path": "title", "value": "Chief Auditor"}])
    assert patched is not None and patched["title"] == "Chief Auditor"
    assert sandbox.state.scim_user(user_id)["title"] == "Chief Auditor"


def test_scim_errors_are_parsed(sandbox: Sandbox, rc: ScimClient) -> None:
    with pytest.raises(FetchError) as missing:
        rc.get_user("no-such-user")
    assert missing.value.status == 404 and missing.value.endpoint == "GET /Users/no-such-user"
    assert "User no-such-user not found" in str(missing.value)
    taken = sandbox.state.scim_users[1]["userName"]
    with pytest.raises(FetchError) as conflict:
        rc.patch_user(sandbox.state.scim_users[0]["id"], [{"op": "replace", "path": "userName", "value": taken}])
    assert conflict.value.status == 409 and conflict.value.code == "uniqueness"


def test_a_refused_static_token_is_an_auth_error_with_the_platform_code(sandbox: Sandbox) -> None:
    s = Settings.from_env({**sandbox.env(), "RCAUDIT_SCIM_TOKEN": "stale-token-value"})
    with pytest.raises(AuthError) as caught:
        client(s).users()
    text = str(caught.value)
    assert "OAU-149" in text and "RCAUDIT_SCIM_TOKEN" in text and "stale-token-value" not in text
    assert len(user_gets(sandbox)) == 1, "a static token cannot be renewed: no retry"


# --- an independent SCIM implementation: scim2-server ---------------------------------------------
@pytest.fixture(scope="module")
def scim2() -> Iterator[tuple[Settings, list[dict[str, Any]]]]:
    """scim2-server with 23 users (tests may change their department and active, nothing else)."""
    from scim2_server.memory import InMemoryStorage
    from scim2_server.service import ScimService
    from scim2_server.testserver.application import BearerTokenApplication
    from scim2_server.utils import load_default_provider

    provider = load_default_provider()
    app = BearerTokenApplication(InMemoryStorage(), provider, service=ScimService(provider, secret="x" * 32),
                                 bearer_tokens=["tok"])
    with https_wsgi(app) as (root, ca_file):
        base = f"{root}/v2"
        created = []
        with requests.Session() as http:
            http.trust_env = False
            http.verify = str(ca_file)
            for i in range(23):
                answer = http.post(f"{base}/Users", headers={"Authorization": "Bearer tok"}, json={
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                    "userName": f"user{i:02}@contoso.example", "externalId": f"u{i:02}", "active": True,
                    "name": {"givenName": "User", "familyName": f"{i:02}"},
                    "emails": [{"value": f"user{i:02}@contoso.example", "type": "work", "primary": True}],
                    ENTERPRISE: {"department": "R&D"}})
                assert answer.status_code == 201, answer.text
                created.append(answer.json())
        yield Settings(scim_url=base, scim_token="tok", ca_bundle=str(ca_file)), created


def test_scim2_server_paging_matches_what_was_created(scim2: tuple[Settings, list[dict[str, Any]]]) -> None:
    settings, created = scim2
    scim = client(settings)
    assert scim.page_size(scim.service_provider_config()) == 1000
    users = scim.users(count=5)
    assert {u["id"] for u in users} == {u["id"] for u in created}  # pages are in random-id order: compare sets
    assert {u["userName"] for u in users} == {u["userName"] for u in created}
    assert stats_of(scim.session).requests["scim"] == 1 + 6, "SPC, then 23 in 6 pages of 5 (overlap 1)"


def test_scim2_server_schemas_declare_what_rcaudit_audits(scim2: tuple[Settings, list[dict[str, Any]]]) -> None:
    schemas = client(scim2[0]).schemas()
    assert {s["id"] for s in schemas} >= {"urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE}
    for target in ('emails[type eq "work"].value', "name.givenName", f"{ENTERPRISE}:department"):
        assert declared_by(schemas, target) is None


def test_scim2_server_get_and_patch_answered_with_204(scim2: tuple[Settings, list[dict[str, Any]]]) -> None:
    settings, created = scim2
    scim = client(settings)
    user_id = created[3]["id"]
    assert scim.get_user(user_id)["userName"] == "user03@contoso.example"
    assert scim.patch_user(user_id, [
        {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Sales"},
        {"op": "replace", "path": "active", "value": False}]) is None
    after = scim.get_user(user_id)
    assert after[ENTERPRISE]["department"] == "Sales" and after["active"] is False


def test_scim2_server_errors(scim2: tuple[Settings, list[dict[str, Any]]]) -> None:
    settings, created = scim2
    scim = client(settings)
    with pytest.raises(FetchError) as missing:
        scim.get_user("0" * 32)
    assert missing.value.status == 404
    with pytest.raises(FetchError) as bad_path:
        scim.patch_user(created[0]["id"], [{"op": "replace", "path": "noSuchAttribute", "value": "x"}])
    assert bad_path.value.status == 400 and bad_path.value.code in ("invalidPath", "invalidValue", "noTarget")
    with pytest.raises(AuthError, match="HTTP 401"):
        client(Settings(scim_url=settings.scim_url, scim_token="wrong", ca_bundle=settings.ca_bundle)).users()
