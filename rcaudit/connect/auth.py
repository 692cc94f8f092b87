"""Tokens for both services: Graph through MSAL, RingCentral by static bearer or JWT grant.

Graph: a confidential client (secret, PEM certificate + key, or PFX) or, for an analyst, a public client
signing in with a device code. One MSAL app object per process and settings, so its token cache serves
every notebook cell. MSAL also caches 429/5xx/400 answers per app instance (for seconds to a minute):
tests that provoke them use fresh settings, and `reset_apps()` drops every app.

Device code needs a person. It runs only when `interactive` is true; otherwise (papermill, a scheduler,
no terminal) MSAL's persisted cache must already hold an account, else the sign-in is refused with an
`AuthError`. The cache lives in the user's config directory, file mode 600.

Errors name the setting that is missing or the service that refused, with its error code, and never
contain a secret or a token.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msal
import requests
from cryptography.exceptions import UnsupportedAlgorithm

from rcaudit.connect.config import Settings, describe_origin, origin, user_config_dir
from rcaudit.connect.http import make_session
from rcaudit.model.errors import AuthError, scrub

GRAPH_SCOPES = ["https://graph.microsoft.com/.default"]
MICROSOFT_LOGIN_HOSTS = frozenset({
    "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
})
TOKEN_CACHE_FILE = "msal_token_cache.json"
# Entra codes whose fix is a setting: say which one.
_ENTRA_HINTS = {
    7000215: "check RCAUDIT_CLIENT_SECRET (the secret's value, not its id; it may have expired)",
    7000222: "RCAUDIT_CLIENT_SECRET has expired: create a new one",
    700027: "the certificate is not registered on the app registration (RCAUDIT_CLIENT_CERT / RCAUDIT_CLIENT_PFX)",
    700016: "check RCAUDIT_CLIENT_ID and RCAUDIT_TENANT_ID",
    90002: "check RCAUDIT_TENANT_ID",
    7000218: "set RCAUDIT_CLIENT_SECRET, or RCAUDIT_CLIENT_CERT + RCAUDIT_CLIENT_KEY, or RCAUDIT_CLIENT_PFX",
}
# The same codes mean something else when a person signs in (device code, a public client).
_DEVICE_CODE_HINTS = {
    7000218: "the app registration RCAUDIT_CLIENT_ID is not a public client: in Entra, App registrations → "
             "Authentication → Advanced settings, set \"Allow public client flows\" to Yes (or use an app credential "
             "instead of RCAUDIT_GRAPH_AUTH=device_code)",
}


# --- where we run ----------------------------------------------------------------------------------
def _in_kernel() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _parent_is_batch_runner() -> bool:
    """Whether the kernel's launcher is papermill/nbclient/nbconvert (Linux: its command line)."""
    parent = os.environ.get("JPY_PARENT_PID")
    try:
        cmdline = Path(f"/proc/{int(parent or 0)}/cmdline").read_bytes().decode("utf-8", "replace")
    except (OSError, ValueError):
        return False
    return bool(launcher_names(cmdline) & BATCH_RUNNERS)


BATCH_RUNNERS = frozenset({"papermill", "nbclient", "nbconvert", "nbval", "pytest", "jupyter-nbconvert"})


def launcher_names(cmdline: str) -> set[str]:
    """The program a NUL-separated command line runs, by name: its executable, and for an interpreter the
    module after `-m` or the script. Only names, never paths: a Lab whose root folder is called
    `pytest-of-root` or `papermill-notes` is still a person's Lab."""
    args = [a for a in cmdline.split("\0") if a]
    if not args:
        return set()
    names = {Path(args[0]).name.lower()}
    if Path(args[0]).name.lower().startswith("python"):
        rest = [a for a in args[1:] if not a.startswith("-") or a == "-m"]
        if rest[:1] == ["-m"] and len(rest) > 1:
            names.add(rest[1].split(".")[0].lower())
        elif rest:
            names.add(Path(rest[0]).name.lower().removesuffix(".py"))
    return names


def detect_interactive() -> bool:
    """Conservatively, whether a person can act on a prompt right now.

    In a Jupyter kernel: only when Jupyter's server started it (it sets `JPY_SESSION_NAME`; papermill,
    nbclient and nbval do not) and its launcher is not a batch runner. Elsewhere: stdin and stderr are
    both terminals, and `CI` is not set.
    """
    if os.environ.get("CI"):
        return False
    if _in_kernel():
        return bool(os.environ.get("JPY_SESSION_NAME")) and not _parent_is_batch_runner()
    try:
        return sys.stdin is not None and sys.stdin.isatty() and sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False




def show_message(message: str) -> None:
    """Show MSAL's device-code message: rendered in a notebook, printed in a terminal."""
    if _in_kernel():
        from IPython.display import display

        from rcaudit.report.export import note

        display(note("<p>{}</p>", message))  # the authority's text, escaped: Markdown would pass HTML through
    else:
        print(message, file=sys.stderr, flush=True)


# --- Graph credential ------------------------------------------------------------------------------
def _read(path: str, setting: str) -> str:
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AuthError(f"{setting}: {path} is not a PEM text file") from None


def _private_key_pem(path: str) -> str:
    """RCAUDIT_CLIENT_KEY's text, checked to be an unencrypted PEM private key (MSAL's own error names nothing)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = _read(path, "RCAUDIT_CLIENT_KEY")
    try:
        load_pem_private_key(text.encode(), password=None)
    except TypeError:
        raise AuthError(f"RCAUDIT_CLIENT_KEY: {path} is an encrypted private key: give an unencrypted PEM key, or a "
                        "PFX with its password (RCAUDIT_CLIENT_PFX, RCAUDIT_CLIENT_PFX_PASSWORD)") from None
    except (ValueError, UnsupportedAlgorithm):
        what = "a certificate, not a private key" if "CERTIFICATE-----" in text else "no PEM private key"
        raise AuthError(f"RCAUDIT_CLIENT_KEY: {path} holds {what} (expected -----BEGIN PRIVATE KEY-----)") from None
    return text


def _certificate_pem(path: str) -> str:
    """RCAUDIT_CLIENT_CERT's text, checked to hold a PEM certificate."""
    from cryptography import x509

    text = _read(path, "RCAUDIT_CLIENT_CERT")
    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise AuthError(f"RCAUDIT_CLIENT_CERT: {path} holds no PEM certificate "
                        "(expected -----BEGIN CERTIFICATE-----)") from None
    return text


def credential_kind(settings: Settings) -> str:
    """Which Graph credential the settings select, in words (for `rcaudit check`)."""
    if settings.graph_auth == "device_code":
        return "device code (public client)"
    if settings.client_secret:
        return "client secret"
    if settings.client_cert and settings.client_key:
        return "certificate (PEM)"
    if settings.client_pfx:
        return "certificate (PFX)"
    return "no credential"


def graph_credential(settings: Settings) -> str | dict[str, Any]:
    """The MSAL client credential: a secret, a PEM certificate + key, or a PFX."""
    if settings.client_secret:
        return settings.client_secret
    if settings.client_cert and settings.client_key:
        return {
            "private_key": _private_key_pem(settings.client_key),
            "public_certificate": _certificate_pem(settings.client_cert),
        }
    if settings.client_pfx:
        from cryptography.hazmat.primitives.serialization import pkcs12

        path = Path(settings.client_pfx).expanduser()
        if not path.is_file():
            raise AuthError(f"RCAUDIT_CLIENT_PFX: no such file: {settings.client_pfx}")
        password = settings.client_pfx_password.encode() if settings.client_pfx_password else None
        try:
            key, cert, _ = pkcs12.load_key_and_certificates(path.read_bytes(), password)
        except (ValueError, TypeError):
            raise AuthError(f"RCAUDIT_CLIENT_PFX: cannot open {settings.client_pfx} (wrong or missing "
                            "RCAUDIT_CLIENT_PFX_PASSWORD, or not a PKCS#12 file)") from None
        if key is None or cert is None:
            raise AuthError(f"RCAUDIT_CLIENT_PFX: {settings.client_pfx} must hold the private key and its certificate")
        credential: dict[str, Any] = {"private_key_pfx_path": str(path), "public_certificate": True}
        if settings.client_pfx_password:
            credential["passphrase"] = settings.client_pfx_password
        return credential
    raise AuthError("no Graph credential: set RCAUDIT_CLIENT_SECRET, or RCAUDIT_CLIENT_CERT and RCAUDIT_CLIENT_KEY, "
                    "or RCAUDIT_CLIENT_PFX (or RCAUDIT_GRAPH_AUTH=device_code to sign in as a person)")


def _authority(settings: Settings) -> tuple[str, bool]:
    """The authority URL and whether MSAL may run instance discovery (only for Microsoft's own hosts)."""
    if not settings.tenant_id:
        raise AuthError("RCAUDIT_TENANT_ID is not set")
    if not settings.client_id:
        raise AuthError("RCAUDIT_CLIENT_ID is not set")
    host = urlsplit(settings.authority).hostname or ""
    return f"{settings.authority}/{settings.tenant_id}", host in MICROSOFT_LOGIN_HOSTS


def _refusal(result: dict[str, Any], service: str, flow: str = "client_credentials",
             secrets: Iterable[str] = ()) -> AuthError:
    """Entra's refusal in one line: its error, AADSTS codes and first line of description, a hint for known
    codes; the configured secrets blanked (MSAL's result carries no request to scrub by)."""
    codes = list(result.get("error_codes") or [])
    code_text = ",".join(f"AADSTS{c}" for c in codes) or "no code"
    description = str(result.get("error_description") or "")
    first_line = description.splitlines()[0] if description else ""
    hints = {**_ENTRA_HINTS, **_DEVICE_CODE_HINTS} if flow == "device_code" else _ENTRA_HINTS
    hint = next((hints[c] for c in codes if c in hints), "")
    text = f"{service} refused the token request: {result.get('error')} ({code_text}) {first_line}".rstrip()
    return AuthError(scrub(f"{text} — {hint}" if hint else text, secrets))


# --- the process-wide MSAL apps --------------------------------------------------------------------
@dataclass
class _App:
    app: msal.ClientApplication
    cache_path: Path | None = None  # public client: where its token cache is persisted


_apps: dict[tuple[Any, ...], _App] = {}
_apps_lock = threading.Lock()


def reset_apps() -> None:
    """Forget every MSAL app (tests; a notebook that changed credentials)."""
    with _apps_lock:
        _apps.clear()


def _build(factory: Callable[[], msal.ClientApplication], authority: str) -> msal.ClientApplication:
    """Construct an app: MSAL runs OIDC discovery right here, so network and authority errors surface now.

    The discovery document names the endpoints MSAL will post the client's credentials to: any of them on
    another server than the authority (RCAUDIT_AUTHORITY) is refused before a credential is sent."""
    try:
        app = factory()
    except ValueError as exc:
        raise AuthError(f"cannot use the Entra authority {authority}: {str(exc).splitlines()[0]}") from None
    except requests.RequestException as exc:
        raise AuthError(f"cannot reach the Entra authority {authority}: {type(exc).__name__}") from None
    discovered = getattr(app, "authority", None)
    for name in ("token_endpoint", "device_authorization_endpoint", "authorization_endpoint"):
        endpoint = getattr(discovered, name, None)
        if endpoint and origin(str(endpoint)) != origin(authority):
            raise AuthError(f"the Entra authority {describe_origin(authority)} names its {name} on "
                            f"{describe_origin(str(endpoint))}: refused, no credential is sent to another server "
                            "(check RCAUDIT_AUTHORITY)")
    return app


def confidential_app(settings: Settings, session: requests.Session | None = None) -> msal.ConfidentialClientApplication:
    """The process-wide MSAL confidential client for these settings."""
    authority, discovery = _authority(settings)
    material = "\0".join(str(v) for v in (settings.client_secret, settings.client_cert, settings.client_key,
                                            settings.client_pfx, settings.client_pfx_password))
    key = ("confidential", authority, settings.client_id, hashlib.sha256(material.encode()).hexdigest())
    with _apps_lock:
        held = _apps.get(key)
        if held is None:
            credential = graph_credential(settings)
            http = session or make_session(settings.ca_bundle, service="login")
            app = _build(lambda: msal.ConfidentialClientApplication(
                settings.client_id, client_credential=credential, authority=authority,
                instance_discovery=discovery, http_client=http), authority)
            held = _apps[key] = _App(app)
    assert isinstance(held.app, msal.ConfidentialClientApplication)
    return held.app


def _public_app(settings: Settings, session: requests.Session | None, cache_path: Path) -> _App:
    authority, discovery = _authority(settings)
    key = ("public", authority, settings.client_id, str(cache_path))
    with _apps_lock:
        held = _apps.get(key)
        if held is None:
            cache = msal.SerializableTokenCache()
            if cache_path.is_file():
                with contextlib.suppress(OSError, ValueError):  # an unreadable cache only costs a new sign-in
                    cache.deserialize(cache_path.read_text(encoding="utf-8"))
            http = session or make_session(settings.ca_bundle, service="login")
            app = _build(lambda: msal.PublicClientApplication(
                settings.client_id, authority=authority, instance_discovery=discovery, http_client=http,
                token_cache=cache), authority)
            held = _apps[key] = _App(app, cache_path)
    return held


def _save_cache(held: _App) -> None:
    """Persist a public client's token cache (mode 600, written atomically) when it changed."""
    cache = held.app.token_cache
    if held.cache_path is None or not isinstance(cache, msal.SerializableTokenCache) or not cache.has_state_changed:
        return
    path = held.cache_path
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(cache.serialize())
    os.chmod(partial, 0o600)
    os.replace(partial, path)
    cache.has_state_changed = False


class GraphAuth:
    """Graph access tokens for one set of settings: `token()`, and `forget()` after a 401."""

    def __init__(self, settings: Settings, session: requests.Session | None = None, *,
                 interactive: bool | None = None, cache_path: str | Path | None = None,
                 prompt: Callable[[str], None] | None = None) -> None:
        if settings.graph_auth not in ("client_credentials", "device_code"):
            raise AuthError("RCAUDIT_GRAPH_AUTH must be client_credentials or device_code, "
                            f"not {settings.graph_auth!r}")
        self.settings = settings
        self.session = session
        self.interactive = detect_interactive() if interactive is None else interactive
        self.cache_path = Path(cache_path) if cache_path else user_config_dir() / TOKEN_CACHE_FILE
        self.prompt = prompt or show_message
        self._force_refresh = False

    @property
    def kind(self) -> str:
        return credential_kind(self.settings)

    def token(self) -> str:
        try:
            if self.settings.graph_auth == "device_code":
                result = self._user_token()
            else:
                result = confidential_app(self.settings, self.session).acquire_token_for_client(scopes=GRAPH_SCOPES)
        except requests.RequestException as exc:
            raise AuthError(f"cannot reach the Entra token endpoint: {type(exc).__name__}") from None
        except ValueError:  # MSAL read a body that is not JSON: a redirect (never followed), an error page
            raise AuthError("the Entra token endpoint did not answer with a token response (not JSON: a redirect, "
                            "which rcaudit never follows, or an error page); check RCAUDIT_AUTHORITY") from None
        if "access_token" not in result:
            raise _refusal(result, "Entra", self.settings.graph_auth, self.settings.secret_values())
        return str(result["access_token"])

    def forget(self) -> None:
        """Drop the cached access token so the next `token()` asks Entra again (after a 401 from Graph)."""
        if self.settings.graph_auth == "device_code":
            self._force_refresh = True
        else:
            confidential_app(self.settings, self.session).remove_tokens_for_client()

    def _user_token(self) -> dict[str, Any]:
        held = _public_app(self.settings, self.session, self.cache_path)
        app = held.app
        assert isinstance(app, msal.PublicClientApplication)
        try:
            accounts = app.get_accounts()
            if accounts:
                result = app.acquire_token_silent_with_error(GRAPH_SCOPES, account=accounts[0],
                                                             force_refresh=self._force_refresh)
                if result and "access_token" in result:
                    self._force_refresh = False
                    return result
            if not self.interactive:
                where = "no account in MSAL's cache" if not accounts else "the cached account needs a new sign-in"
                raise AuthError(
                    f"RCAUDIT_GRAPH_AUTH=device_code needs a person to sign in ({where}, {self.cache_path}), and "
                    "this session is not interactive (papermill, a scheduler, no terminal). Sign in once "
                    "interactively (`rcaudit check` in a terminal, or the notebook in JupyterLab), or use an "
                    "app credential: RCAUDIT_CLIENT_SECRET, RCAUDIT_CLIENT_CERT + RCAUDIT_CLIENT_KEY, or "
                    "RCAUDIT_CLIENT_PFX")
            flow = app.initiate_device_flow(scopes=GRAPH_SCOPES)
            if "user_code" not in flow:
                raise _refusal(flow, "Entra", "device_code", self.settings.secret_values())
            self.prompt(str(flow["message"]))
            result = app.acquire_token_by_device_flow(flow)
            self._force_refresh = False
            return result
        finally:
            _save_cache(held)


def graph_token(settings: Settings, session: requests.Session | None = None) -> str:
    """A Graph app token (from MSAL's cache when still valid)."""
    return GraphAuth(settings, session).token()


def forget_graph_token(settings: Settings, session: requests.Session | None = None) -> None:
    """Drop the cached app token so the next call asks Entra again (after a 401 from Graph)."""
    GraphAuth(settings, session).forget()


# --- RingCentral -----------------------------------------------------------------------------------
class RingCentralToken:
    """A RingCentral bearer: the static token, or the JWT grant renewed before it expires.

    The token endpoint is in RingCentral's Auth group (5 requests a minute): one grant per token
    lifetime, renewed `REFRESH_MARGIN` early (a fifth of the lifetime for short-lived tokens).
    """

    REFRESH_MARGIN = 300.0

    def __init__(self, settings: Settings, session: requests.Session,
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._session = session
        self._clock = clock
        self._token: str | None = settings.scim_token
        self._expires_at = float("inf") if settings.scim_token else 0.0
        self._margin = self.REFRESH_MARGIN
        self._lock = threading.Lock()
        self.grants = 0  # JWT grants made (tests, `rcaudit check`)
        self.owner_id: str | None = None  # the JWT grant's owner_id (which RingCentral account); None: static token
        if not settings.scim_token and not (settings.rc_client_id and settings.rc_client_secret and settings.rc_jwt):
            raise AuthError("no RingCentral credential: set RCAUDIT_SCIM_TOKEN, or RCAUDIT_RC_CLIENT_ID, "
                            "RCAUDIT_RC_CLIENT_SECRET and RCAUDIT_RC_JWT")

    @property
    def static(self) -> bool:
        return bool(self._settings.scim_token)

    @property
    def kind(self) -> str:
        return "static token (RCAUDIT_SCIM_TOKEN)" if self.static else "JWT grant"

    @property
    def rate_key(self) -> str:
        """Whose rate limits these calls count against (RingCentral: per user + app), without the secret."""
        if self.static:
            return "token:" + hashlib.sha256(str(self._settings.scim_token).encode()).hexdigest()[:16]
        return f"app:{self._settings.rc_client_id}"

    @property
    def issued_for(self) -> str:
        """The server this bearer may be sent to: RCAUDIT_RC_SERVER's for a JWT grant (it issued the token),
        RCAUDIT_SCIM_URL's for a static token."""
        return self._settings.scim_url if self.static else self._settings.rc_server

    def for_url(self, url: str) -> str:
        """The bearer for a request to `url`, refused (AuthError) for any other server than it was issued for."""
        if origin(url) != origin(self.issued_for):
            setting = "RCAUDIT_SCIM_URL" if self.static else "RCAUDIT_RC_SERVER"
            raise AuthError(f"refusing to send the RingCentral token to {describe_origin(url)}: it is for "
                            f"{describe_origin(self.issued_for)} ({setting}); RCAUDIT_SCIM_URL and "
                            "RCAUDIT_RC_SERVER must name the same server")
        return self.get()

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - self._margin:
                self._token, lifetime = self._jwt_grant()
                self._margin = min(self.REFRESH_MARGIN, lifetime / 5)
                self._expires_at = self._clock() + lifetime
            return self._token

    def invalidate(self) -> None:
        """Forget a JWT-grant token the service refused (a static token cannot be renewed)."""
        with self._lock:
            if not self.static:
                self._token, self._expires_at = None, 0.0

    def _jwt_grant(self) -> tuple[str, float]:
        s = self._settings
        basic = base64.b64encode(f"{s.rc_client_id}:{s.rc_client_secret}".encode()).decode()
        url = f"{s.rc_server}/restapi/oauth/token"
        try:
            answer = self._session.post(
                url, headers={"Authorization": f"Basic {basic}", "Accept": "application/json"},
                data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": s.rc_jwt},
                service="rc_auth", rate_group="auth", rate_key=self.rate_key,  # type: ignore[call-arg]
            )
        except requests.RequestException as exc:
            raise AuthError(f"cannot reach RingCentral's token endpoint {url}: {type(exc).__name__}") from None
        self.grants += 1
        try:
            body = answer.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if answer.status_code != 200 or "access_token" not in body:
            codes = ",".join(str(e.get("errorCode", "")) for e in body.get("errors", []) if isinstance(e, dict))
            detail = str(body.get("error_description") or body.get("message") or "").splitlines()[:1]
            hint = ("the token endpoint kept answering 429 (RingCentral's Auth group allows 5 grants a minute)"
                    if answer.status_code == 429 else
                    "check RCAUDIT_RC_CLIENT_ID, RCAUDIT_RC_CLIENT_SECRET and RCAUDIT_RC_JWT (and RCAUDIT_RC_SERVER)")
            raise AuthError(f"RingCentral refused the JWT grant: HTTP {answer.status_code} {body.get('error', '')} "
                            f"({codes or 'no code'}) {' '.join(detail)} — {hint}", response=answer)
        self.owner_id = str(body["owner_id"]) if body.get("owner_id") not in (None, "") else None
        return str(body["access_token"]), float(body.get("expires_in", 3600))
