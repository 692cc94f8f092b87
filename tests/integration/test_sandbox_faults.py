"""Every fault knob, through real HTTPS: status on the Nth request, drop, delay, malformed JSON, expired tokens."""

from __future__ import annotations

import time

import pytest
import requests

from rcaudit.sandbox import Sandbox


def _users(sandbox: Sandbox, http: requests.Session, token: str, **params: str) -> requests.Response:
    return http.get(f"{sandbox.graph_url}/users", params=params, headers={"Authorization": f"Bearer {token}"})


def test_status_and_body_on_the_nth_matching_request_only(sandbox: Sandbox, http: requests.Session,
                                                           graph_token: str) -> None:
    body = {"error": {"code": "serviceNotAvailable", "message": "try later"}}
    sandbox.faults.add("respond", method="GET", path=r"^/v1\.0/users$", nth=2, status=503, body=body,
                       headers={"Retry-After": "1"})
    answers = [_users(sandbox, http, graph_token, **{"$top": "2"}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 503, 200]
    assert answers[1].json() == body and answers[1].headers["Retry-After"] == "1"


def test_times_limits_how_often_a_rule_fires(sandbox: Sandbox, http: requests.Session, graph_token: str) -> None:
    sandbox.faults.add("respond", path=r"/users$", status=500, body={"error": {"code": "generalException"}},
                       times=2)
    assert [_users(sandbox, http, graph_token).status_code for _ in range(3)] == [500, 500, 200]


def test_rules_are_scoped_to_a_service(sandbox: Sandbox, http: requests.Session, graph_token: str,
                                       scim_headers: dict[str, str]) -> None:
    sandbox.faults.add("respond", service="rc", path=r"/Users", status=500, body={"status": "500"})
    assert _users(sandbox, http, graph_token).status_code == 200
    assert http.get(f"{sandbox.scim_url}/Users", headers=scim_headers).status_code == 500


def test_drop_closes_the_connection_without_an_answer(sandbox: Sandbox, http: requests.Session,
                                                       graph_token: str) -> None:
    sandbox.faults.add("drop", path=r"/users$", nth=1)
    with pytest.raises(requests.ConnectionError):
        _users(sandbox, http, graph_token)
    assert _users(sandbox, http, graph_token).status_code == 200  # a new connection works again


def test_delay_holds_the_answer(sandbox: Sandbox, http: requests.Session, graph_token: str) -> None:
    sandbox.faults.add("delay", path=r"/users$", seconds=0.4, nth=1)
    started = time.monotonic()
    assert _users(sandbox, http, graph_token).status_code == 200
    assert time.monotonic() - started >= 0.4
    with pytest.raises(requests.Timeout):
        sandbox.faults.add("delay", path=r"/users$", seconds=0.5, nth=1)
        http.get(f"{sandbox.graph_url}/users", headers={"Authorization": f"Bearer {graph_token}"}, timeout=0.2)


def test_malformed_sends_the_real_answer_cut_short(sandbox: Sandbox, http: requests.Session,
                                                   graph_token: str) -> None:
    sandbox.faults.add("malformed", path=r"/users$", nth=1)
    answer = _users(sandbox, http, graph_token)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()
    assert answer.text.startswith('{"@odata.context"')


def test_expire_tokens_invalidates_every_token_issued_so_far(sandbox: Sandbox, http: requests.Session,
                                                             graph_token: str) -> None:
    sandbox.faults.add("expire_tokens", path=r"/users$", nth=2)
    assert _users(sandbox, http, graph_token).status_code == 200
    expired = _users(sandbox, http, graph_token)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "InvalidAuthenticationToken"
    client = sandbox.client
    fresh = http.post(f"{sandbox.authority}/{sandbox.tenant_id}/oauth2/v2.0/token", data={
        "client_id": client["clientId"], "client_secret": client["secret"], "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default"}).json()["access_token"]
    assert _users(sandbox, http, fresh).status_code == 200


# --- list knobs the service carries out ---------------------------------------------------------------
def test_mutate_changes_the_user_set_while_the_page_is_in_flight(sandbox: Sandbox, http: requests.Session,
                                                                 scim_headers: dict[str, str]) -> None:
    before = [u["id"] for u in sandbox.state.scim_users]
    sandbox.faults.add("mutate", service="rc", path=r"^/scim/v2/Users$", nth=2, delete=2, add=3, at=1)
    first = http.get(f"{sandbox.scim_url}/Users", headers=scim_headers).json()
    second = http.get(f"{sandbox.scim_url}/Users", headers=scim_headers).json()
    assert [u["id"] for u in first["Resources"]] == before and first["totalResults"] == len(before)
    now = [u["id"] for u in sandbox.state.scim_users]
    assert now[:1] + now[1:len(before) - 2] == before[:1] + before[3:] and len(now) == len(before) + 1
    assert [u["id"] for u in second["Resources"]] == now and second["totalResults"] == len(now)
    assert all(sandbox.state.scim_user(i) for i in now[-3:]), "the new users are readable one by one too"


def test_empty_page_and_omit_total(sandbox: Sandbox, http: requests.Session, scim_headers: dict[str, str]) -> None:
    sandbox.faults.add("empty_page", service="rc", path=r"^/scim/v2/Users$", nth=1)
    sandbox.faults.add("omit_total", service="rc", path=r"^/scim/v2/Users$", nth=1)  # counts what rule 1 let by
    empty = http.get(f"{sandbox.scim_url}/Users", headers=scim_headers).json()
    assert empty["Resources"] == [] and empty["totalResults"] == len(sandbox.state.scim_users)
    untotalled = http.get(f"{sandbox.scim_url}/Users", headers=scim_headers).json()
    assert "totalResults" not in untotalled and len(untotalled["Resources"]) == len(sandbox.state.scim_users)
    assert "totalResults" in http.get(f"{sandbox.scim_url}/Users", headers=scim_headers).json()


def test_next_link_points_a_graph_page_elsewhere(sandbox: Sandbox, http: requests.Session, graph_token: str) -> None:
    sandbox.faults.add("next_link", service="graph", path=r"^/v1\.0/users$", body="http://127.0.0.1:9/steal")
    assert _users(sandbox, http, graph_token).json()["@odata.nextLink"] == "http://127.0.0.1:9/steal"
