"""RingCentral's own Python SDK (`ringcentral`) against the RingCentral emulator: JWT login, a SCIM
list, a refresh (asked for, and the automatic one before a call), a logout.

TLS: the SDK has no CA option. Its `Client.load_response` sends each request through a new
`requests.Session()` with `session.send()`, which neither takes `verify` nor reads
REQUESTS_CA_BUNDLE, so it would check against certifi's bundle only. The test gives it the sandbox CA
the one way the SDK allows: a `Client` subclass (the SDK's own class, passed where the SDK keeps it)
whose sessions verify against the sandbox CA. Verification stays on.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from ringcentral import SDK
from ringcentral.http import Client
from ringcentral.http.api_exception import ApiException
from ringcentral.http.api_response import ApiResponse

from rcaudit.sandbox import Sandbox, builtin_tenant


@pytest.fixture
def tenant() -> dict[str, Any]:
    data = builtin_tenant()
    data["sandbox"] = {"limits": {"light": 100_000, "heavy": 100_000, "auth": 100_000}}
    return data


class _SandboxTrust(Client):
    """The SDK's HTTP client, verifying TLS against one CA bundle instead of certifi's."""

    def __init__(self, ca_file: str) -> None:
        super().__init__()
        self._ca_file = ca_file

    def load_response(self, request: requests.PreparedRequest) -> ApiResponse:
        with requests.Session() as session:
            return ApiResponse(request, session.send(request, verify=self._ca_file))


def _sdk(sandbox: Sandbox) -> SDK:
    app = sandbox.rc_app
    sdk = SDK(app["clientId"], app["clientSecret"], sandbox.rc_url, "rcaudit-tests", "1.0")
    trusting = _SandboxTrust(str(sandbox.ca_file))
    sdk._client = trusting  # the SDK keeps its client here and in the platform
    sdk.platform()._client = trusting
    return sdk


def _users(platform: Any, sandbox: Sandbox) -> dict[str, Any]:
    """A SCIM list as an SDK user writes it; `json_dict()` insists on `application/json`."""
    answer = platform.get("/scim/v2/Users", {"startIndex": 1, "count": 5}, headers={"Accept": "application/json"})
    assert answer.response().headers["Content-Type"].startswith("application/json")
    return dict(answer.json_dict())


def test_login_list_refresh_logout(sandbox: Sandbox) -> None:
    platform = _sdk(sandbox).platform()
    platform.login(jwt=sandbox.rc_app["jwt"])
    assert platform.logged_in()
    first = dict(platform.auth().data())

    page = _users(platform, sandbox)
    assert page["totalResults"] == len(sandbox.state.scim_users)
    assert [u["id"] for u in page["Resources"]] == [u["id"] for u in sandbox.state.scim_users[:5]]

    platform.refresh()
    second = dict(platform.auth().data())
    assert second["access_token"] != first["access_token"] and second["refresh_token"] != first["refresh_token"]
    assert _users(platform, sandbox)["totalResults"] == page["totalResults"]

    # The SDK refreshes by itself when its access token has run out, before sending the call.
    platform.auth().set_data({"expire_time": time.time() - 1})
    assert _users(platform, sandbox)["totalResults"] == page["totalResults"]
    third = dict(platform.auth().data())
    assert third["access_token"] != second["access_token"]
    assert ("POST", "/restapi/oauth/token") in sandbox.rc_server.requests_seen

    revoked = third["access_token"]
    platform.logout()
    assert ("POST", "/restapi/oauth/revoke") in sandbox.rc_server.requests_seen
    assert not platform.logged_in()
    after = requests.get(f"{sandbox.scim_url}/Users", headers={"Authorization": f"Bearer {revoked}"},
                         verify=str(sandbox.ca_file), timeout=10)
    assert after.status_code == 401


def test_a_refused_call_raises_the_sdk_s_exception(sandbox: Sandbox) -> None:
    platform = _sdk(sandbox).platform()
    platform.login(jwt=sandbox.rc_app["jwt"])
    with pytest.raises(ApiException) as raised:
        platform.get("/scim/v2/Users/999", headers={"Accept": "application/json"})
    answer = raised.value.api_response()
    assert answer.response().status_code == 404
    assert answer.json_dict()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
