"""Emulated Microsoft identity platform (login.microsoftonline.com): what MSAL talks to.

OIDC discovery, the v2.0 token endpoint (client credentials with a secret or a certificate assertion,
device code, refresh token) and the device-code endpoint. Answers and errors follow Entra's shapes and
AADSTS codes, so clients meet realistic failures offline. Access tokens come from `state.tokens`, which
the Graph emulator checks: `tid`, `appid`, `idtyp` (`app`/`user`), `roles` for apps, `scp` and `oid`
for users. Device codes are approved automatically after the first poll, as the signed-in user:
`sandbox.deviceCodeUser` (an id or UPN) if set, else the first enabled user.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from rcaudit.sandbox.servers.http_server import Handler, HttpError, Request, Response, Router
from rcaudit.sandbox.servers.state import SandboxState
from rcaudit.sandbox.servers.tokens import GRAPH_AUDIENCE

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_DEFAULT_SCOPES = (f"{GRAPH_AUDIENCE}/.default", f"{GRAPH_APP_ID}/.default")
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
# Application permissions an app token carries (DESIGN: what the audit reads); a client's `roles` overrides.
DEFAULT_APP_ROLES = ("User.Read.All", "Application.Read.All", "GroupMember.Read.All", "AuditLog.Read.All",
                     "Directory.Read.All", "Synchronization.Read.All",
                     "Application.ReadWrite.OwnedBy",  # for the opt-in read of the job's synchronization secrets
                     "Synchronization.ReadWrite.All")  # for rcaudit provision (Graph provisionOnDemand)
# Delegated permissions `.default` stands for in the sandbox; a client's `delegatedScopes` overrides.
DEFAULT_DELEGATED_SCOPES = ("User.Read", *DEFAULT_APP_ROLES)
DEVICE_CODE_LIFETIME = 900
DEVICE_CODE_INTERVAL = 1  # Entra says 5; 1 keeps MSAL's polling loop (and the tests) fast
ID_TOKEN_LIFETIME = 3600
ASSERTION_ALGORITHMS = ["RS256", "PS256"]
CLOCK_SKEW = 300
_NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}  # as Entra sends on token answers


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def entra_error(request: Request, status: int, error: str, code: int, text: str) -> Response:
    """An error in Entra's shape; the correlation id echoes MSAL's `client-request-id`, as Entra does."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id = str(uuid.uuid4())
    correlation_id = request.header("client-request-id") or str(uuid.uuid4())
    body = {
        "error": error,
        "error_description": (f"AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\n"
                              f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"),
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{request.base_url}/error?code={code}",
    }
    return Response.json(status, body, _NO_STORE | {"x-ms-request-id": trace_id})



def _refuse(request: Request, status: int, error: str, code: int, text: str) -> HttpError:
    return HttpError(entra_error(request, status, error, code, text))


def _missing(request: Request, name: str) -> HttpError:
    return _refuse(request, 400, "invalid_request", 900144,
                   f"The request body must contain the following parameter: '{name}'.")


@dataclass(frozen=True)
class _Grant:
    """The delegated permissions granted for a requested `scope`, and the `scope` Entra answers."""

    graph: tuple[str, ...]
    oidc: frozenset[str]
    answer: str


class _Login:
    """The login routes over one sandbox's state; refresh tokens and the id-token key live only here."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._refresh_tokens: dict[str, dict[str, Any]] = {}  # opaque, like Entra's
        self._signing_key: rsa.RSAPrivateKey | None = None
        self._key_lock = threading.Lock()

    # --- lookups ----------------------------------------------------------------------------------
    @property
    def tenant_id(self) -> str:
        return str(self.state.graph["tenantId"])

    def _tenant(self, request: Request, tenant: str, error: str = "invalid_request") -> str:
        if tenant.lower() != self.tenant_id.lower():
            raise _refuse(request, 400, error, 90002,
                          f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
                          "signing into the correct cloud. Check with your subscription administrator, this may "
                          "happen if there are no active subscriptions for the tenant.")
        return self.tenant_id

    def _client(self, request: Request, client_id: str | None) -> dict[str, Any]:
        if not client_id:
            raise _missing(request, "client_id")
        for client in self.state.settings["clients"]:
            if str(client.get("clientId", "")).lower() == client_id.lower():
                return client
        directory = self.state.graph.get("displayName") or self.tenant_id
        raise _refuse(request, 400, "unauthorized_client", 700016,
                      f"Application with identifier '{client_id}' was not found in the directory '{directory}'. "
                      "This can happen if the application has not been installed by the administrator of the "
                      "tenant or consented to by any user in the tenant. You may have sent your authentication "
                      "request to the wrong tenant.")

    def _signed_in_user(self, request: Request) -> dict[str, Any]:
        """Who "approves" a device code: `sandbox.deviceCodeUser` (id or UPN), else the first enabled user."""
        wanted = str(self.state.settings.get("deviceCodeUser") or "").lower()
        for user in self.state.graph["users"]:
            if wanted and wanted not in (str(user.get("id", "")).lower(),
                                         str(user.get("userPrincipalName", "")).lower()):
                continue
            if user.get("accountEnabled", True) is not False:
                return user
            if wanted:
                raise _refuse(request, 400, "invalid_grant", 50057, "The user account is disabled.")
        raise _refuse(request, 400, "invalid_grant", 50034,
                      f"The user account {wanted or '(any enabled user)'} does not exist in the "
                      f"{self.tenant_id} directory. To sign into this application, the account must be added to "
                      "the directory.")

    # --- client authentication ----------------------------------------------------------------
    def _authenticate(self, request: Request, form: dict[str, str], client: dict[str, Any], token_url: str,
                      *, required: bool) -> None:
        """Check the secret or assertion presented; a public client may present none."""
        if form.get("client_assertion") or form.get("client_assertion_type"):
            self._check_assertion(request, form, client, token_url)
            return
        secret = form.get("client_secret") or _basic_credentials(request)[1]
        if secret:
            registered = client.get("secret")
            if not registered or not secrets.compare_digest(str(registered).encode(), secret.encode()):
                raise _refuse(request, 401, "invalid_client", 7000215,
                              "Invalid client secret provided. Ensure the secret being sent in the request is the "
                              f"client secret value, not the client secret ID, for a secret added to app "
                              f"'{client['clientId']}'.")
            return
        if required:
            raise _refuse(request, 401, "invalid_client", 7000218,
                          "The request body must contain the following parameter: 'client_assertion' or "
                          "'client_secret'.")

    def _check_assertion(self, request: Request, form: dict[str, str], client: dict[str, Any],
                         token_url: str) -> None:
        """Verify a certificate assertion as Entra does: registered thumbprint, signature, iss/sub, aud, time."""
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise _refuse(request, 400, "invalid_request", 9002313, "Invalid request. Request is malformed or invalid.")
        assertion = form.get("client_assertion")
        if not assertion:
            raise _missing(request, "client_assertion")
        client_id = str(client["clientId"])

        def invalid(code: int, text: str) -> HttpError:
            return _refuse(request, 401, "invalid_client", code, text)

        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise invalid(50027, "JWT token is invalid or malformed.") from None
        presented = [(name, str(header[name])) for name in ("x5t#S256", "x5t") if header.get(name)]
        if not presented:
            raise invalid(5002723, "Invalid JWT token. No certificate thumbprint specified in token header.")
        cert = _certificate(client.get("certificatePem"))
        if cert is None or not any(_thumbprint(cert, name) == value.rstrip("=") for name, value in presented):
            try:
                used = _unb64url(presented[0][1]).hex().upper()
            except (ValueError, binascii.Error):
                used = "(unreadable)"
            raise invalid(700027,
                          "The certificate with identifier used to sign the client assertion is not registered on "
                          f"application. [Reason - The key was not found., Thumbprint of key used by client: "
                          f"'{used}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
                          f"configured keys for app Id '{client_id}'.]")
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):  # RS256/PS256 only verify with RSA: anything else fails signature
            raise invalid(700027, "Client assertion failed signature validation.")
        try:
            claims = jwt.decode(assertion, key, algorithms=ASSERTION_ALGORITHMS,
                                options={"verify_aud": False, "verify_exp": False, "verify_iat": False,
                                         "verify_nbf": False})
        except jwt.PyJWTError:
            raise invalid(700027, "Client assertion failed signature validation.") from None
        if str(claims.get("iss", "")).lower() != client_id.lower() or \
                str(claims.get("sub", "")).lower() != client_id.lower():
            raise invalid(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        accepted = {token_url.lower(), f"{request.base_url}/{self.tenant_id}/oauth2/v2.0/token".lower(),
                    self._issuer(request).lower()}
        if not any(str(aud).lower() in accepted for aud in audiences):
            raise invalid(700023, "Client assertion audience claim does not match Realm issuer.")
        now = time.time()
        expires, not_before = claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, (int, float)) or expires < now - CLOCK_SKEW or \
                not isinstance(not_before, (int, float)) or not_before > now + CLOCK_SKEW:
            raise invalid(700024, f"Client assertion is not within its valid time range. Current time: "
                                  f"{_iso(now)}, expiry time of assertion {_iso(expires)}.")

    # --- scopes -------------------------------------------------------------------------------
    def _grant(self, request: Request, client: dict[str, Any], scope: str) -> _Grant:
        """Delegated scopes for Graph (the only resource the sandbox knows); consent is implicit."""
        words = scope.split()
        if not words:
            raise _missing(request, "scope")
        oidc = frozenset(w.lower() for w in words if w.lower() in OIDC_SCOPES)
        named: list[str] = []
        for word in words:
            if word.lower() in OIDC_SCOPES:
                continue
            resource, _, name = word.rpartition("/")
            if resource and resource.lower() not in (GRAPH_AUDIENCE, GRAPH_APP_ID):
                raise _refuse(request, 400, "invalid_resource", 500011,
                              f"The resource principal named {resource} was not found in the tenant named "
                              f"{self.tenant_id}. This can happen if the application has not been installed by the "
                              "administrator of the tenant or consented to by any user in the tenant. You might "
                              "have sent your authentication request to the wrong tenant.")
            named.append(name)
        default = [n for n in named if n == ".default"]
        if default and len(named) > 1:
            raise _refuse(request, 400, "invalid_scope", 70011,
                          f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is "
                          "not valid. .default scope can't be combined with resource-specific scopes.")
        if default:
            graph = tuple(client.get("delegatedScopes") or DEFAULT_DELEGATED_SCOPES)
            granted = [f"{GRAPH_AUDIENCE}/{n}" for n in graph] + [f"{GRAPH_AUDIENCE}/.default"]
        else:
            graph = tuple(dict.fromkeys(named or ["User.Read"]))
            granted = list(graph)
        if "openid" in oidc:
            granted += ["profile", "openid", "email"]
        return _Grant(graph, oidc, " ".join(granted))

    def _check_app_scope(self, request: Request, scope: str | None) -> None:
        if not scope:
            raise _missing(request, "scope")
        words = scope.split()
        if len(words) == 1 and words[0].lower() in GRAPH_DEFAULT_SCOPES:
            return
        if not any(w.endswith("/.default") for w in words):
            raise _refuse(request, 400, "invalid_scope", 1002012,
                          f"The provided value for scope {scope} is not valid. Client credential flows must have a "
                          "scope value with /.default suffixed to the resource identifier (application ID URI).")
        raise _refuse(request, 400, "invalid_scope", 70011,
                      f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not "
                      "valid.")

    # --- tokens -------------------------------------------------------------------------------
    def _issuer(self, request: Request) -> str:
        return f"{request.base_url}/{self.tenant_id}/v2.0"

    def _key(self) -> rsa.RSAPrivateKey:
        """The id-token signing key, made on first use so sandboxes that never sign anyone in start fast."""
        with self._key_lock:
            if self._signing_key is None:
                self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._signing_key

    def _kid(self) -> str:
        der = self._key().public_key().public_numbers().n.to_bytes(256, "big")
        return _b64url(hashlib.sha1(der).digest())  # an x5t-style key id, as Entra's

    def _user_answer(self, request: Request, form: dict[str, str], client: dict[str, Any],
                     user: dict[str, Any], grant: _Grant) -> Response:
        """Access, id and refresh tokens plus `client_info`, which MSAL needs to record an account."""
        client_id, oid, tid = str(client["clientId"]), str(user["id"]), self.tenant_id
        tokens = self.state.tokens
        upn = user.get("userPrincipalName")
        access = tokens.issue(GRAPH_AUDIENCE, oid, iss=f"https://sts.windows.net/{tid}/", tid=tid, appid=client_id,
                              idtyp="user", scp=" ".join(n for n in grant.graph if n != ".default"), oid=oid,
                              upn=upn, name=user.get("displayName"))
        expires_in = tokens.expires_in()
        body: dict[str, Any] = {"token_type": "Bearer", "scope": grant.answer, "expires_in": expires_in,
                                "ext_expires_in": expires_in, "access_token": access}
        if "offline_access" in grant.oidc:
            refresh = "1.AR" + secrets.token_urlsafe(64)
            with self.state.lock:
                self._refresh_tokens[refresh] = {"client_id": client_id, "oid": oid, "scope": grant}
            body["refresh_token"] = refresh
        if "openid" in grant.oidc:
            now = int(time.time())
            claims = {"aud": client_id, "iss": self._issuer(request), "iat": now, "nbf": now,
                      "exp": now + ID_TOKEN_LIFETIME, "name": user.get("displayName"), "oid": oid,
                      "preferred_username": upn, "sub": _b64url(hashlib.sha256(f"{oid}:{client_id}".encode()).digest()),
                      "tid": tid, "ver": "2.0"}
            body["id_token"] = jwt.encode(claims, self._key(), algorithm="RS256", headers={"kid": self._kid()})
        if form.get("client_info") == "1":
            body["client_info"] = _b64url(json.dumps({"uid": oid, "utid": tid}).encode())
        return Response.json(200, body, _NO_STORE)

    # --- routes -------------------------------------------------------------------------------
    def discovery(self, request: Request, tenant: str) -> Response:
        tid = self._tenant(request, tenant, error="invalid_tenant")
        base = f"{request.base_url}/{tid}"
        doc = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": list(OIDC_SCOPES),
            "issuer": f"{base}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": f"{request.base_url}/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name",
                                 "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr",
                                 "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "WW",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": urlsplit(request.base_url).netloc,
            "rbac_url": request.base_url,
        }
        return Response.json(200, doc, {"Cache-Control": "max-age=86400, private",
                                        "Access-Control-Allow-Origin": "*"})

    def instance_discovery(self, request: Request) -> Response:
        """`/common/discovery/instance`, for clients pointed at it instead of login.microsoftonline.com."""
        host = urlsplit(request.base_url).netloc
        segments = urlsplit(request.query.get("authorization_endpoint", "")).path.strip("/").split("/")
        tenant = segments[0] or "common"
        return Response.json(200, {
            "tenant_discovery_endpoint": f"{request.base_url}/{tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        })

    def keys(self, request: Request, tenant: str) -> Response:
        self._tenant(request, tenant, error="invalid_tenant")
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._key().public_key(), as_dict=True)
        jwk.update(kid=self._kid(), x5t=self._kid(), use="sig", issuer=self._issuer(request))
        return Response.json(200, {"keys": [jwk]})

    def post_only(self, request: Request, tenant: str) -> Response:
        raise _refuse(request, 400, "invalid_request", 900561,
                      f"The endpoint only accepts POST, OPTIONS requests. Received a {request.method} request.")

    def device_login_page(self, request: Request) -> Response:
        text = ("<!doctype html><title>rcaudit sandbox sign-in</title><p>This is the rcaudit sandbox: device codes "
                "are approved automatically after the first poll. Nothing to enter here.</p>")
        return Response(200, text.encode(), {"Content-Type": "text/html; charset=utf-8"})

    def devicecode(self, request: Request, tenant: str) -> Response:
        self._tenant(request, tenant)
        form = request.form()
        client = self._client(request, form.get("client_id"))
        grant = self._grant(request, client, form.get("scope", ""))
        device_code = "DAQABAAEAAAA" + secrets.token_urlsafe(96)
        user_code = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
        verification_uri = f"{request.base_url}/devicelogin"
        with self.state.lock:
            self.state.device_codes[device_code] = {
                "client_id": str(client["clientId"]), "user_code": user_code, "scope": grant,
                "expires_at": time.time() + DEVICE_CODE_LIFETIME, "polls": 0,
            }
        return Response.json(200, {
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": verification_uri,
            "expires_in": DEVICE_CODE_LIFETIME,
            "interval": DEVICE_CODE_INTERVAL,
            "message": f"To sign in, use a web browser to open the page {verification_uri} and enter the code "
                       f"{user_code} to authenticate.",
        }, _NO_STORE)

    def token(self, request: Request, tenant: str) -> Response:
        self._tenant(request, tenant)
        form = request.form()
        grant_type = form.get("grant_type")
        if not grant_type:
            raise _missing(request, "grant_type")
        handler = {"client_credentials": self._client_credentials, DEVICE_CODE_GRANT: self._device_code,
                   "refresh_token": self._refresh}.get(grant_type)
        if handler is None:
            raise _refuse(request, 400, "unsupported_grant_type", 70003,
                          f"The app requested an unsupported grant type '{grant_type}'.")
        client = self._client(request, form.get("client_id") or _basic_credentials(request)[0])
        token_url = f"{request.base_url}/{tenant}/oauth2/v2.0/token"
        return handler(request, form, client, token_url)

    def _client_credentials(self, request: Request, form: dict[str, str], client: dict[str, Any],
                            token_url: str) -> Response:
        self._authenticate(request, form, client, token_url, required=True)
        self._check_app_scope(request, form.get("scope"))
        client_id, tid = str(client["clientId"]), self.tenant_id
        access = self.state.tokens.issue(GRAPH_AUDIENCE, client_id, iss=f"https://sts.windows.net/{tid}/", tid=tid,
                                         appid=client_id, idtyp="app",
                                         roles=list(client.get("roles") or DEFAULT_APP_ROLES))
        expires_in = self.state.tokens.expires_in()
        return Response.json(200, {"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in,
                                   "access_token": access}, _NO_STORE)

    def _device_code(self, request: Request, form: dict[str, str], client: dict[str, Any],
                     token_url: str) -> Response:
        self._authenticate(request, form, client, token_url, required=not client.get("publicClient"))
        code = form.get("device_code")
        if not code:
            raise _missing(request, "device_code")
        with self.state.lock:
            flow = self.state.device_codes.get(code)
            if flow is None or flow["client_id"] != client["clientId"]:
                raise _refuse(request, 400, "bad_verification_code", 70000,
                              "The provided value for the input parameter 'device_code' is not valid.")
            if flow["expires_at"] <= time.time():
                del self.state.device_codes[code]
                raise _refuse(request, 400, "expired_token", 70020,
                              "The provided value for the input parameter 'device_code' is not valid. This device "
                              "code has expired.")
            flow["polls"] += 1
            if flow["polls"] == 1:  # the "user" signs in between the first and the second poll
                raise _refuse(request, 400, "authorization_pending", 70016,
                              "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
            del self.state.device_codes[code]
            user = self._signed_in_user(request)
        return self._user_answer(request, form, client, user, flow["scope"])

    def _refresh(self, request: Request, form: dict[str, str], client: dict[str, Any], token_url: str) -> Response:
        self._authenticate(request, form, client, token_url, required=not client.get("publicClient"))
        token = form.get("refresh_token")
        if not token:
            raise _missing(request, "refresh_token")
        with self.state.lock:
            held = self._refresh_tokens.get(token)
        if held is None or held["client_id"] != client["clientId"]:
            raise _refuse(request, 400, "invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        grant = self._grant(request, client, form["scope"]) if form.get("scope") else held["scope"]
        for user in self.state.graph["users"]:
            if user.get("id") == held["oid"]:
                if user.get("accountEnabled", True) is False:
                    raise _refuse(request, 400, "invalid_grant", 50057, "The user account is disabled.")
                return self._user_answer(request, form, client, user, grant)
        raise _refuse(request, 400, "invalid_grant", 50034, "The user account does not exist in the directory.")


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    """client_id and secret from HTTP Basic (form-urlencoded before base64, per RFC 6749 §2.3.1)."""
    scheme, _, value = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None, None
    return (unquote_plus(user), unquote_plus(password)) if sep else (None, None)


def _certificate(pem: Any) -> x509.Certificate | None:
    if not isinstance(pem, str) or not pem.strip():
        return None
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None


def _thumbprint(cert: x509.Certificate, header: str) -> str:
    """The `x5t` (SHA-1) or `x5t#S256` (SHA-256) header value for `cert`."""
    digest = hashes.SHA256() if header == "x5t#S256" else hashes.SHA1()  # x5t is SHA-1 by definition (RFC 7515)
    return _b64url(cert.fingerprint(digest))


def _iso(epoch: Any) -> str:
    if not isinstance(epoch, (int, float)):
        return "(none)"
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def register_login(router: Router[Handler], state: SandboxState) -> None:
    """Add the OIDC discovery, token and device-code routes."""
    login = _Login(state)
    tenant = r"/(?P<tenant>[^/]+)"
    router.add("GET", tenant + r"/v2\.0/\.well-known/openid-configuration", login.discovery)
    router.add("GET", r"/common/discovery/instance", login.instance_discovery)
    router.add("GET", tenant + r"/discovery/v2\.0/keys", login.keys)
    router.add("POST", tenant + r"/oauth2/v2\.0/token", login.token)
    router.add("POST", tenant + r"/oauth2/v2\.0/devicecode", login.devicecode)
    router.add("GET", tenant + r"/oauth2/v2\.0/(?:token|devicecode)", login.post_only)
    router.add("GET", r"/devicelogin", login.device_login_page)
