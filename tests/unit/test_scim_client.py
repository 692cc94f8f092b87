"""The SCIM client's reading of both SCIM error shapes, without a server (the client against the sandbox and
scim2-server: tests/integration/test_scim_client.py)."""

from __future__ import annotations

import json
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict

from rcaudit.connect.scim import parse_error


def _answer(status: int, body: Any) -> requests.Response:
    response = requests.Response()
    response.status_code, response._content = status, json.dumps(body).encode()
    response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
    return response


def test_both_error_shapes() -> None:
    scim = parse_error(_answer(400, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                                     "scimType": "invalidValue", "detail": "Parameter [state] value is invalid."}))
    assert (scim.status, scim.code, scim.detail) == (400, "invalidValue", "Parameter [state] value is invalid.")
    assert str(scim) == "invalidValue Parameter [state] value is invalid."
    platform = parse_error(_answer(429, {"errorCode": "CMN-301", "message": "Request rate exceeded",
                                         "errors": [{"errorCode": "CMN-301", "message": "Request rate exceeded"}]}))
    assert (platform.status, platform.code, str(platform)) == (429, "CMN-301", "CMN-301: Request rate exceeded")
    nested = parse_error(_answer(401, {"errors": [{"errorCode": "OAU-213", "message": "Token not found"}]}))
    assert nested.code == "OAU-213" and nested.message == "Token not found"
