"""Tokens for both services: Graph through MSAL, RingCentral by static bearer or JWT grant.

One MSAL app object per process and settings, so its token cache serves every notebook cell.
Errors name the setting that is missing or the service that refused, with its error code, and never
contain a secret or a token.
"""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import requests

from .config import Settings
from .errors import AuthError

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
MICROSOFT_LOGIN_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
})
_apps: dict[tuple[Any, ...], msal.ClientApplication] = {}
_apps_lock = threading.Lock()


def _read(path: str, setting: str) -> str:
    try:
        return Path(path).expanduser().read_text()
    except OSError as exc:
        raise AuthError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None


def graph_credential(settings: Settings) -> str | dict[str, Any]:
    """The MSAL client credential: a secret, a PEM certificate + key, or a PFX."""
    if settings.client_secret:
        return settings.client_secret
    if settings.client_cert and settings.client_key:
        return {
            "private_key": _read(settings.client_key, "RCAUDIT_CLIENT_KEY"),
            "public_certificate": _read(settings.client_cert, "RCAUDIT_CLIENT_CERT"),
        }
    if settings.client_pfx:
        if not Path(settings.client_pfx).expanduser().is_file():
            raise AuthError(f"RCAUDIT_CLIENT_PFX: no such file: {settings.client_pfx}")
        credential: dict[str, Any] = {"private_key_pfx_path": str(Path(settings.client_pfx).expanduser()),
                                      "public_certificate": True}
        if settings.client_pfx_password:
            credential["passphrase"] = settings.client_pfx_password
        return credential
    raise AuthError("no Graph credential: set RCAUDIT_CLIENT_SECRET, or RCAUDIT_CLIENT_CERT and RCAUDIT_CLIENT_KEY, "
                    "or RCAUDIT_CLIENT_PFX")


def _authority(settings: Settings) -> tuple[str, bool]:
    """The authority URL and whether MSAL may run instance discovery (only for Microsoft's own hosts)."""
    if not settings.tenant_id:
        raise AuthError("RCAUDIT_TENANT_ID is not set")
    host = urlsplit(settings.authority).hostname or ""
    return f"{settings.authority}/{settings.tenant_id}", host in MICROSOFT_LOGIN_HOSTS


def confidential_app(settings: Settings, session: requests.Session) -> msal.ConfidentialClientApplication:
    """The process-wide MSAL confidential client for these settings."""
    if not settings.client_id:
        raise AuthError("RCAUDIT_CLIENT_ID is not set")
    authority, discovery = _authority(settings)
    key = ("confidential", authority, settings.client_id, settings.client_cert, settings.client_pfx,
           bool(settings.client_secret))
    with _apps_lock:
        app = _apps.get(key)
        if app is None:
            try:
                app = msal.ConfidentialClientApplication(
                    settings.client_id, client_credential=graph_credential(settings), authority=authority,
                    instance_discovery=discovery, http_client=session,
                )
            except ValueError as exc:
                raise AuthError(f"cannot use authority {authority}: {exc}") from None
            except requests.RequestException as exc:
                raise AuthError(f"cannot reach the Entra authority {authority}: {type(exc).__name__}") from None
            _apps[key] = app
    assert isinstance(app, msal.ConfidentialClientApplication)
    return app


def _refusal(result: dict[str, Any], service: str) -> AuthError:
    codes = ",".join(f"AADSTS{c}" for c in result.get("error_codes", [])) or "no code"
    first_line = str(result.get("error_description", "")).splitlines()[0] if result.get("error_description") else ""
    return AuthError(f"{service} refused the token request: {result.get('error')} ({codes}) {first_line}".rstrip())


def graph_token(settings: Settings, session: requests.Session) -> str:
    """A Graph app token (from MSAL's cache when still valid)."""
    app = confidential_app(settings, session)
    try:
        result = app.acquire_token_for_client(scopes=GRAPH_SCOPES)
    except requests.RequestException as exc:
        raise AuthError(f"cannot reach the Entra token endpoint: {type(exc).__name__}") from None
    if "access_token" not in result:
        raise _refusal(result, "Entra")
    return str(result["access_token"])


def forget_graph_token(settings: Settings, session: requests.Session) -> None:
    """Drop the cached app token so the next call asks Entra again (after a 401 from Graph)."""
    confidential_app(settings, session).remove_tokens_for_client()


class RingCentralToken:
    """A RingCentral bearer: the static token, or the JWT grant refreshed before it expires."""

    REFRESH_MARGIN = 300.0  # seconds before expiry at which a JWT-grant token is renewed

    def __init__(self, settings: Settings, session: requests.Session) -> None:
        self._settings = settings
        self._session = session
        self._token: str | None = settings.scim_token
        self._expires_at = float("inf") if settings.scim_token else 0.0
        self._lock = threading.Lock()
        if not settings.scim_token and not (settings.rc_client_id and settings.rc_client_secret and settings.rc_jwt):
            raise AuthError("no RingCentral credential: set RCAUDIT_SCIM_TOKEN, or RCAUDIT_RC_CLIENT_ID, "
                            "RCAUDIT_RC_CLIENT_SECRET and RCAUDIT_RC_JWT")

    def get(self) -> str:
        with self._lock:
            if self._token is None or time.time() >= self._expires_at - self.REFRESH_MARGIN:
                self._token, self._expires_at = self._jwt_grant()
            return self._token

    def invalidate(self) -> None:
        """Forget a JWT-grant token the service refused (a static token cannot be renewed)."""
        with self._lock:
            if not self._settings.scim_token:
                self._token, self._expires_at = None, 0.0

    def _jwt_grant(self) -> tuple[str, float]:
        s = self._settings
        basic = base64.b64encode(f"{s.rc_client_id}:{s.rc_client_secret}".encode()).decode()
        url = f"{s.rc_server}/restapi/oauth/token"
        try:
            answer = self._session.post(
                url, headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": s.rc_jwt},
            )
        except requests.RequestException as exc:
            raise AuthError(f"cannot reach RingCentral's token endpoint {url}: {type(exc).__name__}") from None
        try:
            body = answer.json()
        except ValueError:
            body = {}
        if answer.status_code != 200 or "access_token" not in body:
            codes = ",".join(e.get("errorCode", "") for e in body.get("errors", []) if isinstance(e, dict))
            raise AuthError(f"RingCentral refused the JWT grant: HTTP {answer.status_code} "
                            f"{body.get('error', '')} ({codes or 'no code'})".rstrip(), response=None)
        return str(body["access_token"]), time.time() + float(body.get("expires_in", 3600))
