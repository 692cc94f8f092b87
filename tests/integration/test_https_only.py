"""Credentials never go over plain HTTP or to another host (issue 10, point 3).

A plain-HTTP listener on 127.0.0.1 records whatever reaches it: pointing a service setting at it is exit 2
naming the setting, a Graph nextLink pointing at it (or at any other server) is a FetchError, and in every
case the listener receives nothing.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from rcaudit.cli import main
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.connect.scim import ScimClient
from rcaudit.model.errors import AuthError, ConfigError, FetchError
from rcaudit.sandbox import Sandbox

FAST = RetryPolicy(max_total=1.0, backoff=0.01, max_backoff=0.05)


class Listener(ThreadingHTTPServer):
    """Records every request line and its headers; answers 200 `{}` so a client would carry on."""

    daemon_threads = True

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def _any(handler) -> None:
                length = int(handler.headers.get("Content-Length") or 0)
                self.received.append({"line": handler.requestline, "headers": dict(handler.headers),
                                      "body": handler.rfile.read(length) if length else b""})
                handler.send_response(200)
                handler.send_header("Content-Type", "application/json")
                handler.send_header("Content-Length", "2")
                handler.end_headers()
                handler.wfile.write(b"{}")

            do_GET = do_POST = do_PATCH = _any

            def log_message(handler, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


SETTINGS = [("RCAUDIT_SCIM_URL", "token", "/scim/v2"), ("RCAUDIT_RC_SERVER", "jwt", ""),
            ("RCAUDIT_GRAPH_URL", "token", "/v1.0"), ("RCAUDIT_AUTHORITY", "token", "")]


@pytest.mark.parametrize(("setting", "rc_auth", "path"), SETTINGS)
def test_a_plain_http_setting_is_exit_2_naming_it_and_nothing_is_sent(
        setting: str, rc_auth: str, path: str, sandbox: Sandbox, listener: Listener,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = {**sandbox.env(rc_auth=rc_auth), setting: listener.url + path}
    for name in [n for n in list(os.environ) if n.startswith("RCAUDIT_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["check"]) == 2
    err = capsys.readouterr().err
    assert setting in err and "HTTPS" in err
    assert listener.received == [], "not one request, so no token, secret or JWT, reached the plain-HTTP listener"
    with pytest.raises(ConfigError, match=setting):
        Settings.from_env(env)


def test_the_session_refuses_plain_http_before_sending(listener: Listener) -> None:
    session = make_session()
    with pytest.raises(ConfigError, match="only talks HTTPS"):
        session.get(f"{listener.url}/x", headers={"Authorization": "Bearer secret-token"})
    with pytest.raises(ConfigError, match="only talks HTTPS"):  # even past rcaudit's own request()
        session.send(session.prepare_request(requests.Request("GET", f"{listener.url}/y")))
    assert listener.received == []


def test_a_next_link_to_a_plain_http_listener_is_refused_and_gets_no_token(sandbox: Sandbox,
                                                                            listener: Listener) -> None:
    sandbox.faults.add("next_link", service="graph", path=r"^/v1\.0/users$", body=f"{listener.url}/steal?$top=999")
    with pytest.raises(FetchError) as caught:
        fetch_snapshot(Settings.from_env(sandbox.env()), progress=False, interactive=False, retry=FAST)
    assert "127.0.0.1" in str(caught.value) and "nextLink" in str(caught.value)
    assert listener.received == []


def test_a_next_link_to_another_https_server_is_refused(sandbox: Sandbox) -> None:
    """Same scheme and host, another port (the RingCentral emulator): still not where the token is for."""
    elsewhere = f"{sandbox.rc_url}/v1.0/users?$skiptoken=x"
    sandbox.faults.add("next_link", service="graph", path=r"^/v1\.0/users$", body=elsewhere)
    with pytest.raises(FetchError, match=re.escape(f"points at https://127.0.0.1:{sandbox.rc_server.port}")):
        fetch_snapshot(Settings.from_env(sandbox.env()), progress=False, interactive=False, retry=FAST)
    assert not [p for _, p in sandbox.rc_server.requests_seen if p.startswith("/v1.0")]


def test_a_jwt_grant_token_is_not_sent_to_another_scim_server(sandbox: Sandbox) -> None:
    """The JWT grant's token comes from RCAUDIT_RC_SERVER: a SCIM URL on another server does not get it."""
    env = {**sandbox.env(rc_auth="jwt"), "RCAUDIT_SCIM_URL": f"{sandbox.graph_url.rsplit('/', 1)[0]}/scim/v2"}
    settings = Settings.from_env(env)
    scim = ScimClient(settings, make_session(settings.ca_bundle, retry=FAST))
    with pytest.raises(AuthError, match="refusing to send the RingCentral token"):
        scim.users()
    assert not [p for _, p in sandbox.graph_server.requests_seen if p.startswith("/scim")]
