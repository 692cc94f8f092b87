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


def test_unknown_action_is_refused_by_name() -> None:
    from rcaudit.sandbox.faults import FaultSet

    with pytest.raises(ValueError, match="unknown fault action 'explode'"):
        FaultSet().add("explode")  # type: ignore[arg-type]
