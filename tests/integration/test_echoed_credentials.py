"""A service (or a gateway in front of it) that echoes the credentials it refused never gets them into an
rcaudit error: the message, a FetchError's `detail`, and the request the error carries are scrubbed of the
bearer token, the Basic header and the JWT grant's form fields. Served over HTTPS on 127.0.0.1 by a WSGI app
that answers every request with 401 and the request's own Authorization header and body as its text."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from rcaudit.connect.auth import RingCentralToken
from rcaudit.connect.config import Settings
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.connect.scim import ScimClient
from rcaudit.model.errors import AuthError, FetchError
from tests.support.tls_wsgi import https_wsgi

TOKEN = "rc-static-token-7f3a9c2e51"
JWT = "eyJhbGciOiJSUzI1NiJ9.echo-me-jwt-0042.c2lnbmF0dXJl"
RC_SECRET = "rc-client-secret-b81d"
FAST = RetryPolicy(max_total=0.5, max_attempts=1)


LONG_TOKEN = "U0pDMTFQ" + "x9Kq/+=a" * 32  # longer than the 200 characters of an answer an error quotes


def _echo(status: str) -> Any:
    """Echoes the Authorization header as sent, decoded (Basic), percent-encoded, and the request body."""
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
        auth = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, value = auth.partition(" ")
        decoded = base64.b64decode(value).decode() if scheme == "Basic" else ""
        said = f"Invalid credentials: {auth} client={decoded} quoted={quote(auth, safe='')} body={body}"
        if environ["PATH_INFO"].endswith("/token"):  # RingCentral's OAuth error shape, echoing the grant
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps({"error": "invalid_grant", "error_description": said}).encode()]
        start_response(status, [("Content-Type", "text/plain")])
        return [said.encode()]
    return app


@pytest.fixture(params=["401 Unauthorized", "400 Bad Request", "500 Internal Server Error"])
def echo(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    with https_wsgi(_echo(request.param)) as (url, ca_file):
        yield url, str(ca_file)


def _texts(exc: BaseException) -> str:
    parts = [str(exc), getattr(exc, "message", ""), str(getattr(exc, "detail", "") or "")]
    sent = getattr(exc, "request", None)
    if sent is not None:
        parts += [str(dict(sent.headers)), str(sent.body)]
    return " ".join(parts)


def test_a_scim_answer_that_echoes_the_bearer_token_leaves_it_out_of_the_error(echo: tuple[str, str]) -> None:
    url, ca_file = echo
    settings = Settings(scim_url=f"{url}/scim/v2", scim_token=TOKEN, ca_bundle=ca_file)
    client = ScimClient(settings, make_session(ca_file, retry=FAST))
    with pytest.raises((AuthError, FetchError)) as caught:
        client.get("/Users")
    text = _texts(caught.value)
    assert "Invalid credentials" in text  # the service's words are kept
    assert TOKEN not in text and "REDACTED" in text


def test_a_token_endpoint_that_echoes_the_jwt_grant_leaves_it_out_of_the_error(echo: tuple[str, str]) -> None:
    url, ca_file = echo
    settings = Settings(scim_url=f"{url}/scim/v2", rc_server=url, rc_client_id="rc-client-id-1234",
                        rc_client_secret=RC_SECRET, rc_jwt=JWT, ca_bundle=ca_file)
    with pytest.raises(AuthError) as caught:
        RingCentralToken(settings, make_session(ca_file, retry=FAST)).get()
    text = _texts(caught.value)
    assert "Invalid credentials" in text
    assert JWT not in text and RC_SECRET not in text and "echo-me-jwt" not in text


def test_a_long_token_echoed_in_a_plain_text_answer_is_blanked_before_the_answer_is_cut(
        echo: tuple[str, str]) -> None:
    url, ca_file = echo
    settings = Settings(scim_url=f"{url}/scim/v2", scim_token=LONG_TOKEN, ca_bundle=ca_file)
    with pytest.raises((AuthError, FetchError)) as caught:
        ScimClient(settings, make_session(ca_file, retry=FAST)).get("/Users")
    text = _texts(caught.value)
    assert LONG_TOKEN[:40] not in text and "x9Kq" not in text


def test_the_cli_blanks_a_configured_secret_that_an_entra_refusal_quotes(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """MSAL's result carries no request to scrub by: Entra's refusal and the terminal blank configured secrets."""
    from rcaudit.connect.auth import _refusal

    secret = "Qk8Q~s3cr3tValue.abcdef"
    refused = _refusal({"error": "invalid_client", "error_codes": [7000215],
                        "error_description": f"AADSTS7000215: Invalid client secret provided: {secret}"}, "Entra",
                       secrets=[secret])
    assert secret not in refused.message and "AADSTS7000215" in refused.message
    from rcaudit import cli

    monkeypatch.setenv("RCAUDIT_SCIM_TOKEN", TOKEN)

    def refuses(args: object) -> int:
        raise FetchError(f"SCIM GET /Users: the gateway said {TOKEN}")

    monkeypatch.setattr(cli, "cmd_summary", refuses)
    assert cli.main(["summary"]) == 2
    assert TOKEN not in capsys.readouterr().err
