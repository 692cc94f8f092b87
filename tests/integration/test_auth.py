"""Tokens against the sandbox over HTTPS: MSAL with a secret, a PEM certificate, a PFX and a device code
(interactive, persisted, refused when nobody can sign in); RingCentral's JWT grant renewed before expiry.

MSAL caches error answers per app object, so every test starts with no app (`reset_apps`).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from rcaudit.cli import main
from rcaudit.connect import auth
from rcaudit.connect.auth import GraphAuth, RingCentralToken, reset_apps
from rcaudit.connect.config import Settings
from rcaudit.connect.graph import GraphClient
from rcaudit.connect.http import RetryPolicy, make_session
from rcaudit.connect.scim import ScimClient
from rcaudit.model.errors import AuthError
from rcaudit.sandbox import Sandbox, builtin_tenant

FAST = RetryPolicy(max_total=1.0, backoff=0.01, max_backoff=0.05)
TOKEN_PATH = "/restapi/oauth/token"


def settings(sandbox: Sandbox, **overrides: str) -> Settings:
    env = sandbox.env(graph_auth=overrides.pop("graph_auth", "secret"), rc_auth=overrides.pop("rc_auth", "token"))
    return Settings.from_env({**env, **overrides})


def token_posts(sandbox: Sandbox, suffix: str = "/oauth2/v2.0/token") -> int:
    return sum(1 for method, path in sandbox.graph_server.requests_seen if method == "POST" and path.endswith(suffix))


def users_read(sandbox: Sandbox, s: Settings, graph_auth: GraphAuth | None = None) -> int:
    session = make_session(s.ca_bundle, retry=FAST)
    return len(GraphClient(s, session, graph_auth or GraphAuth(s, session)).users())


# --- app credentials -----------------------------------------------------------------------------
def test_client_secret_token_is_cached_per_process(sandbox: Sandbox) -> None:
    s = settings(sandbox)
    assert users_read(sandbox, s) == len(sandbox.state.graph["users"])
    assert users_read(sandbox, s) == len(sandbox.state.graph["users"])
    assert token_posts(sandbox) == 1, "the second read used the same MSAL app and its cached token"


def test_pem_certificate(sandbox: Sandbox) -> None:
    s = settings(sandbox, graph_auth="certificate")
    assert s.client_secret is None and s.client_cert
    assert GraphAuth(s).kind == "certificate (PEM)"
    assert users_read(sandbox, s) > 0


def _pfx(sandbox: Sandbox, path: Path, password: bytes | None) -> Path:
    key = serialization.load_pem_private_key((sandbox.workdir / "client-key.pem").read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate((sandbox.workdir / "client-cert.pem").read_bytes())
    encryption = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"rcaudit", key, cert, None, encryption))  # type: ignore[arg-type]
    return path


def test_pfx_with_a_password(sandbox: Sandbox, tmp_path: Path) -> None:
    pfx = _pfx(sandbox, tmp_path / "client.pfx", b"pfx-pass-123")
    s = Settings.from_env({**sandbox.env(), "RCAUDIT_CLIENT_SECRET": "", "RCAUDIT_CLIENT_PFX": str(pfx),
                           "RCAUDIT_CLIENT_PFX_PASSWORD": "pfx-pass-123"})
    assert s.client_secret is None and s.client_cert is None
    assert GraphAuth(s).kind == "certificate (PFX)"
    assert users_read(sandbox, s) > 0


def test_pfx_with_a_wrong_password_names_the_setting_not_the_password(sandbox: Sandbox, tmp_path: Path) -> None:
    pfx = _pfx(sandbox, tmp_path / "client.pfx", b"right-password")
    s = Settings.from_env({**sandbox.env(), "RCAUDIT_CLIENT_SECRET": "", "RCAUDIT_CLIENT_PFX": str(pfx),
                           "RCAUDIT_CLIENT_PFX_PASSWORD": "wrong-password"})
    with pytest.raises(AuthError) as caught:
        GraphAuth(s).token()
    assert "RCAUDIT_CLIENT_PFX_PASSWORD" in str(caught.value)
    assert "wrong-password" not in str(caught.value) and "right-password" not in str(caught.value)


def test_a_refused_secret_names_the_code_and_the_setting_never_the_secret(sandbox: Sandbox) -> None:
    s = settings(sandbox, RCAUDIT_CLIENT_SECRET="not-the-secret-42")
    with pytest.raises(AuthError) as caught:
        GraphAuth(s).token()
    text = str(caught.value)
    assert "AADSTS7000215" in text and "RCAUDIT_CLIENT_SECRET" in text
    assert "not-the-secret-42" not in text


def test_a_corrected_secret_is_used_in_the_same_process(sandbox: Sandbox) -> None:
    with pytest.raises(AuthError):
        GraphAuth(settings(sandbox, RCAUDIT_CLIENT_SECRET="typo-in-the-secret")).token()
    assert GraphAuth(settings(sandbox)).token(), "a new credential gets its own MSAL app, not the refused one"


def test_an_unknown_tenant_is_refused_at_discovery(sandbox: Sandbox) -> None:
    s = settings(sandbox, RCAUDIT_TENANT_ID="00000000-1111-2222-3333-444444444444")
    with pytest.raises(AuthError, match="cannot use the Entra authority"):
        GraphAuth(s).token()


# --- device code -----------------------------------------------------------------------------------
def test_device_code_signs_in_once_then_the_cache_serves_a_later_non_interactive_run(
        sandbox: Sandbox, tmp_path: Path) -> None:
    s = settings(sandbox, RCAUDIT_GRAPH_AUTH="device_code", RCAUDIT_CLIENT_SECRET="")
    cache = tmp_path / "config" / "msal_token_cache.json"
    shown: list[str] = []
    session = make_session(s.ca_bundle, retry=FAST)
    interactive = GraphAuth(s, session, interactive=True, cache_path=cache, prompt=shown.append)
    assert users_read(sandbox, s, interactive) > 0
    assert len(shown) == 1 and "enter the code" in shown[0]
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert token_posts(sandbox, "/devicecode") == 1

    reset_apps()  # as a new process would start
    later = GraphAuth(s, make_session(s.ca_bundle, retry=FAST), interactive=False, cache_path=cache,
                      prompt=shown.append)
    assert users_read(sandbox, s, later) > 0
    before = token_posts(sandbox)
    later.forget()  # a 401 would do this: the account's token is refreshed silently, no new sign-in
    assert later.token()
    assert token_posts(sandbox) == before + 1
    assert len(shown) == 1 and token_posts(sandbox, "/devicecode") == 1


def test_device_code_is_refused_when_nobody_can_sign_in(sandbox: Sandbox, tmp_path: Path) -> None:
    s = settings(sandbox, RCAUDIT_GRAPH_AUTH="device_code", RCAUDIT_CLIENT_SECRET="")
    graph_auth = GraphAuth(s, interactive=False, cache_path=tmp_path / "cache.json", prompt=pytest.fail)
    with pytest.raises(AuthError, match="not interactive"):
        graph_auth.token()
    assert token_posts(sandbox, "/devicecode") == 0


def test_rcaudit_check_refuses_device_code_without_a_person(sandbox: Sandbox, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in {**sandbox.env(), "RCAUDIT_GRAPH_AUTH": "device_code", "RCAUDIT_CLIENT_SECRET": ""}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.setattr(auth, "detect_interactive", lambda: False)
    assert main(["check"]) == 2
    out = capsys.readouterr().out
    assert "refused             Graph token" in out and "needs a person to sign in" in out
    assert token_posts(sandbox, "/devicecode") == 0


# --- RingCentral ----------------------------------------------------------------------------------
class WallClock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def test_jwt_grant_is_renewed_before_it_expires() -> None:
    tenant = builtin_tenant()
    tenant.setdefault("sandbox", {})["tokenLifetime"] = 60
    with Sandbox(tenant) as sandbox:
        s = settings(sandbox, rc_auth="jwt")
        clock = WallClock()
        session = make_session(s.ca_bundle, retry=FAST)
        token = RingCentralToken(s, session, clock=clock)
        scim = ScimClient(s, session, token)
        first = token.get()
        clock.t += 47  # 13 s left: more than a fifth of the lifetime
        assert token.get() == first and token.grants == 1
        clock.t += 2  # 11 s left: renewed now, before the service would refuse it
        second = token.get()
        assert second != first and token.grants == 2
        assert scim.get("/Users")["totalResults"] == len(sandbox.state.scim_users)
        posts = [p for m, p in sandbox.rc_server.requests_seen if m == "POST" and p == TOKEN_PATH]
        assert len(posts) == 2


def test_a_refused_jwt_grant_names_the_code_never_the_credentials(sandbox: Sandbox) -> None:
    s = settings(sandbox, rc_auth="jwt", RCAUDIT_RC_CLIENT_SECRET="bad-rc-secret")
    with pytest.raises(AuthError) as caught:
        RingCentralToken(s, make_session(s.ca_bundle, retry=FAST)).get()
    text = str(caught.value)
    assert "OAU-146" in text and "RCAUDIT_RC_CLIENT_SECRET" in text
    assert "bad-rc-secret" not in text and str(s.rc_jwt) not in text
    assert caught.value.request.headers["Authorization"] == "REDACTED"
