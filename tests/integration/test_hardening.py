"""Breaks a hostile tester found after issue 10 landed, each reproduced through the real path and pinned.

Redirects are never followed (they handed the JWT, the client secret, a PATCH and whole lists to another
server); Entra's discovery may not move the token endpoint elsewhere; a nextLink loop ends; a service that asks
for a wait beyond the retry budget is an error, not a day's sleep; and bad input is exit 2 with its name.
"""

from __future__ import annotations

import http.server
import json
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rcaudit.audit.overrides import load_mapping_overrides
from rcaudit.connect import auth
from rcaudit.connect.check import run_checks
from rcaudit.connect.config import Settings
from rcaudit.connect.graph import GraphClient
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.model.errors import AuthError, FetchError, MappingError, RateLimited, TenantFileError
from rcaudit.sandbox import Sandbox, generate, load_tenant, save_tenant

FAST = RetryPolicy(max_total=5.0, backoff=0.01, max_backoff=0.05)


class _Thief(http.server.BaseHTTPRequestHandler):
    """Another HTTPS server: records whatever reaches it."""

    seen: list[tuple[str, str, bytes]]

    def _take(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        self.seen.append((self.command, self.path, self.rfile.read(size) if size else b""))
        body = json.dumps({"value": [], "Resources": [], "totalResults": 0}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = _take

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate(users=60, seed=1).tenant) as running:
        yield running


@pytest.fixture
def thief(sandbox: Sandbox) -> Iterator[tuple[int, list[tuple[str, str, bytes]]]]:
    seen: list[tuple[str, str, bytes]] = []
    handler = type("Handler", (_Thief,), {"seen": seen})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.socket = sandbox.graph_server._server.context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()


def _redirect(sandbox: Sandbox, service: str, path: str, port: int, status: int = 307) -> None:
    sandbox.faults.add("respond", service=service, path=path, status=status, body="",
                       headers={"Location": f"https://127.0.0.1:{port}/elsewhere"})


def _checks(sandbox: Sandbox, **env: str) -> dict[str, Any]:
    settings = Settings.from_env({**sandbox.env(rc_auth=env.pop("rc_auth", "token")), **env})
    return {c.name: c for c in run_checks(settings, interactive=False)}


@pytest.mark.parametrize(("service", "path", "check", "rc_auth"), [
    ("rc", r"/restapi/oauth/token$", "SCIM token", "jwt"),
    ("graph", r"oauth2/v2\.0/token$", "Graph token", "token"),
    ("rc", r"/scim/v2/Users$", "users page", "token"),
])
def test_a_redirect_is_never_followed(sandbox: Sandbox, thief: tuple[int, list], service: str, path: str,
                                      check: str, rc_auth: str) -> None:
    port, seen = thief
    _redirect(sandbox, service, path, port)
    result = _checks(sandbox, rc_auth=rc_auth)[check]
    assert not result.passed and ("307" in result.detail or "redirect" in result.detail)
    assert seen == [], "nothing (no JWT, no client secret, no request) reached the other server"


def test_a_graph_list_redirected_elsewhere_is_an_error_not_an_empty_list(sandbox: Sandbox,
                                                                         thief: tuple[int, list]) -> None:
    port, seen = thief
    _redirect(sandbox, "graph", r"^/v1\.0/users$", port, status=302)
    settings = Settings.from_env(sandbox.env())
    with pytest.raises(FetchError, match="never follows redirects"):
        GraphClient(settings, make_session(settings.ca_bundle, retry=FAST)).users("id")
    assert seen == []


def test_a_discovered_token_endpoint_on_another_server_gets_no_secret(sandbox: Sandbox,
                                                                      thief: tuple[int, list]) -> None:
    port, seen = thief
    discovery = sandbox.graph_server.url + f"/{sandbox.tenant_id}/v2.0/.well-known/openid-configuration"
    settings = Settings.from_env(sandbox.env())
    session = make_session(settings.ca_bundle, retry=FAST)
    document = session.get(discovery).json()
    document["token_endpoint"] = f"https://127.0.0.1:{port}/steal-token"
    sandbox.faults.add("respond", service="graph", path=r"openid-configuration$", status=200, body=document)
    with pytest.raises(AuthError, match="token_endpoint"):
        auth.GraphAuth(settings, session).token()
    assert seen == []


def test_a_next_link_loop_is_refused(sandbox: Sandbox) -> None:
    settings = Settings.from_env(sandbox.env())
    first = f"{sandbox.graph_url}/users?$select=id&$top=999"
    sandbox.faults.add("next_link", service="graph", path=r"^/v1\.0/users$", body=first)
    with pytest.raises(FetchError, match="repeats a page"):
        GraphClient(settings, make_session(settings.ca_bundle, retry=FAST)).users("id")
    assert sum(1 for _, p in sandbox.graph_server.requests_seen if p == "/v1.0/users") <= 3


def test_a_wait_beyond_the_retry_budget_is_an_error_not_a_sleep(sandbox: Sandbox) -> None:
    sandbox.faults.add("respond", service="rc", path=r"/ServiceProviderConfig$", status=200,
                       body={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]},
                       headers={"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Remaining": "0",
                                "X-Rate-Limit-Window": "86400"})
    settings = Settings.from_env({**sandbox.env(), "RCAUDIT_RETRY_MAX_SECONDS": "5"})
    from rcaudit.connect.scim import ScimClient

    client = ScimClient(settings, make_session(settings.ca_bundle, retry=RetryPolicy(max_total=5.0)))
    client.service_provider_config()
    with pytest.raises(RateLimited, match="86400 s"):
        client.schemas()


def test_binary_tenant_and_mapping_files_are_named(tmp_path: Path) -> None:
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(TenantFileError, match="not a text file"):
        load_tenant(binary)
    with pytest.raises(MappingError, match="not a text file"):
        load_mapping_overrides(binary)


def test_a_job_schema_of_the_wrong_type_is_named_by_its_path(tmp_path: Path) -> None:
    tenant = generate(users=60, seed=1).tenant
    tenant["graph"]["synchronizationJob"]["schema"] = "zz"
    with pytest.raises(TenantFileError, match=r"\$\.graph\.synchronizationJob\.schema"):
        load_tenant(save_tenant(tenant, tmp_path / "t.json"))
