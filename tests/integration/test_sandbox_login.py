"""The emulated Microsoft identity platform, through real HTTPS: MSAL first, then the raw endpoints' errors.

MSAL caches 400/429/5xx answers per app instance, so every test builds its own app objects.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

import jwt
import msal
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from rcaudit.sandbox import Sandbox, builtin_tenant
from rcaudit.sandbox.servers.tls import client_certificate
from rcaudit.sandbox.servers.tokens import GRAPH_AUDIENCE

GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
ENTRA_ERROR_KEYS = {"error", "error_description", "error_codes", "timestamp", "trace_id", "correlation_id",
                    "error_uri"}


@pytest.fixture(scope="module")
def stranger() -> tuple[str, str]:
    """A certificate and key that no app registration in the sandbox knows."""
    return client_certificate("not registered")


def _authority(sandbox: Sandbox) -> str:
    return f"{sandbox.authority}/{sandbox.tenant_id}"


def _confidential(sandbox: Sandbox, http: requests.Session, credential: Any,
                  client_id: str | None = None) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id or sandbox.client["clientId"], client_credential=credential, authority=_authority(sandbox),
        instance_discovery=False, http_client=http)


def _token_url(sandbox: Sandbox, tenant: str | None = None) -> str:
    return f"{sandbox.authority}/{tenant or sandbox.tenant_id}/oauth2/v2.0/token"


def _sha1_hex(cert_pem: str) -> str:
    return x509.load_pem_x509_certificate(cert_pem.encode()).fingerprint(hashes.SHA1()).hex()


def _x5t(cert_pem: str) -> str:
    digest = x509.load_pem_x509_certificate(cert_pem.encode()).fingerprint(hashes.SHA1())
    return base64.urlsafe_b64encode(digest).decode()


def _assert_entra_error(answer: requests.Response, status: int, error: str, code: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) >= ENTRA_ERROR_KEYS
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    assert f"\r\nTrace ID: {body['trace_id']}\r\nCorrelation ID: {body['correlation_id']}\r\n" \
           f"Timestamp: {body['timestamp']}" in body["error_description"]
    assert body["error_uri"].endswith(f"/error?code={code}")
    return body


# --- discovery ----------------------------------------------------------------------------------------

def test_discovery_puts_every_endpoint_under_the_sandbox(sandbox: Sandbox, http: requests.Session) -> None:
    answer = http.get(f"{_authority(sandbox)}/v2.0/.well-known/openid-configuration")
    assert answer.status_code == 200
    doc = answer.json()
    base = _authority(sandbox)
    assert doc["issuer"] == f"{base}/v2.0"
    assert doc["token_endpoint"] == f"{base}/oauth2/v2.0/token"
    assert doc["authorization_endpoint"] == f"{base}/oauth2/v2.0/authorize"
    assert doc["device_authorization_endpoint"] == f"{base}/oauth2/v2.0/devicecode"
    assert doc["jwks_uri"] == f"{base}/discovery/v2.0/keys"
    assert {"client_secret_post", "private_key_jwt"} <= set(doc["token_endpoint_auth_methods_supported"])
    urls = [v for v in doc.values() if isinstance(v, str) and v.startswith("http")]
    assert urls and all(u.startswith(sandbox.authority) for u in urls)
    keys = http.get(doc["jwks_uri"]).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"]


def test_discovery_of_an_unknown_tenant_is_entras_invalid_tenant(sandbox: Sandbox, http: requests.Session) -> None:
    answer = http.get(f"{sandbox.authority}/contoso.invalid/v2.0/.well-known/openid-configuration")
    body = _assert_entra_error(answer, 400, "invalid_tenant", 90002)
    assert "Tenant 'contoso.invalid' not found" in body["error_description"]


def test_instance_discovery_points_back_at_the_tenant(sandbox: Sandbox, http: requests.Session) -> None:
    answer = http.get(f"{sandbox.authority}/common/discovery/instance",
                      params={"api-version": "1.1", "authorization_endpoint":
                              f"{_authority(sandbox)}/oauth2/v2.0/authorize"})
    doc = answer.json()
    assert doc["tenant_discovery_endpoint"] == f"{_authority(sandbox)}/v2.0/.well-known/openid-configuration"
    assert doc["metadata"][0]["aliases"] == [sandbox.authority.removeprefix("https://")]


# --- MSAL confidential client -------------------------------------------------------------------------

def test_msal_secret_gets_an_app_token_then_serves_it_from_cache(sandbox: Sandbox, http: requests.Session) -> None:
    app = _confidential(sandbox, http, sandbox.client["secret"])
    first = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert first["token_source"] == "identity_provider", first
    assert first["token_type"] == "Bearer" and first["expires_in"] > 3000
    second = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert second["token_source"] == "cache"
    assert second["access_token"] == first["access_token"]
    claims = sandbox.state.tokens.check(first["access_token"], GRAPH_AUDIENCE).claims
    assert claims is not None
    assert claims["tid"] == sandbox.tenant_id
    assert claims["appid"] == sandbox.client["clientId"]
    assert claims["idtyp"] == "app"
    assert "User.Read.All" in claims["roles"] and "scp" not in claims


@pytest.mark.parametrize("form", ["public_certificate", "thumbprint"])
def test_msal_certificate_gets_an_app_token(sandbox: Sandbox, http: requests.Session, form: str) -> None:
    client = sandbox.client
    credential = {"private_key": client["privateKeyPem"]}
    credential[form] = client["certificatePem"] if form == "public_certificate" else _sha1_hex(client["certificatePem"])
    result = _confidential(sandbox, http, credential).acquire_token_for_client(GRAPH_DEFAULT)
    assert result.get("token_source") == "identity_provider", result
    assert sandbox.state.tokens.check(result["access_token"], GRAPH_AUDIENCE).ok


def test_msal_wrong_secret_is_invalid_client_without_echoing_it(sandbox: Sandbox, http: requests.Session) -> None:
    wrong = "not-the-secret-" + sandbox.client["secret"][:6]
    result = _confidential(sandbox, http, wrong).acquire_token_for_client(GRAPH_DEFAULT)
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]
    assert wrong not in json.dumps(result)
    assert sandbox.client["secret"] not in json.dumps(result)


@pytest.mark.parametrize("form", ["public_certificate", "thumbprint"])
def test_msal_unregistered_certificate_is_refused(sandbox: Sandbox, http: requests.Session,
                                                  stranger: tuple[str, str], form: str) -> None:
    cert, key = stranger
    credential = {"private_key": key, form: cert if form == "public_certificate" else _sha1_hex(cert)}
    result = _confidential(sandbox, http, credential).acquire_token_for_client(GRAPH_DEFAULT)
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [700027]
    assert "not registered on application" in result["error_description"]


def test_msal_certificate_key_that_does_not_match_its_thumbprint_fails_signature(
        sandbox: Sandbox, http: requests.Session, stranger: tuple[str, str]) -> None:
    credential = {"private_key": stranger[1], "thumbprint": _sha1_hex(sandbox.client["certificatePem"])}
    result = _confidential(sandbox, http, credential).acquire_token_for_client(GRAPH_DEFAULT)
    assert result["error"] == "invalid_client" and result["error_codes"] == [700027]
    assert "signature validation" in result["error_description"]


def test_msal_unknown_tenant_fails_at_construction(sandbox: Sandbox, http: requests.Session) -> None:
    with pytest.raises(ValueError, match="Unable to get authority configuration") as err:
        msal.ConfidentialClientApplication(
            sandbox.client["clientId"], client_credential=sandbox.client["secret"],
            authority=f"{sandbox.authority}/00000000-1111-2222-3333-444444444444",
            instance_discovery=False, http_client=http)
    assert "AADSTS90002" in str(err.value.__context__)


def test_configured_token_lifetime_shows_in_expires_in() -> None:
    tenant = builtin_tenant()
    tenant["sandbox"] = {"tokenLifetime": 120}
    with Sandbox(tenant) as sandbox:
        http = requests.Session()
        http.trust_env = False
        http.verify = str(sandbox.ca_file)
        app = _confidential(sandbox, http, sandbox.client["secret"])
        first = app.acquire_token_for_client(GRAPH_DEFAULT)
        assert first["expires_in"] == 120
        claims = sandbox.state.tokens.check(first["access_token"], GRAPH_AUDIENCE).claims
        assert claims is not None and 115 <= claims["exp"] - time.time() <= 121
        # under MSAL's 5-minute margin the cached token counts as expired: the next call goes out again
        assert app.acquire_token_for_client(GRAPH_DEFAULT)["token_source"] == "identity_provider"


# --- MSAL device code ---------------------------------------------------------------------------------

def test_msal_device_flow_records_an_account_for_silent_calls(sandbox: Sandbox, http: requests.Session) -> None:
    app = msal.PublicClientApplication(sandbox.client["clientId"], authority=_authority(sandbox),
                                       instance_discovery=False, http_client=http)
    flow = app.initiate_device_flow(scopes=GRAPH_DEFAULT)
    assert flow["interval"] == 1 and flow["expires_in"] == 900
    assert flow["message"] == (f"To sign in, use a web browser to open the page {flow['verification_uri']} and "
                               f"enter the code {flow['user_code']} to authenticate.")
    posts_before = sandbox.graph_server.requests_seen.count(("POST", f"/{sandbox.tenant_id}/oauth2/v2.0/token"))
    result = app.acquire_token_by_device_flow(flow)
    assert result.get("token_source") == "identity_provider", result
    posts = sandbox.graph_server.requests_seen.count(("POST", f"/{sandbox.tenant_id}/oauth2/v2.0/token"))
    assert posts - posts_before == 2  # authorization_pending, then the tokens
    user = next(u for u in sandbox.state.graph["users"] if u["accountEnabled"])
    assert result["id_token_claims"]["oid"] == user["id"]
    assert result["id_token_claims"]["preferred_username"] == user["userPrincipalName"]
    claims = sandbox.state.tokens.check(result["access_token"], GRAPH_AUDIENCE).claims
    assert claims is not None
    assert (claims["idtyp"], claims["oid"], claims["tid"]) == ("user", user["id"], sandbox.tenant_id)
    assert "User.Read.All" in claims["scp"].split() and "roles" not in claims

    accounts = app.get_accounts()
    assert [a["username"] for a in accounts] == [user["userPrincipalName"]]
    cached = app.acquire_token_silent(GRAPH_DEFAULT, account=accounts[0])
    assert cached is not None and cached["token_source"] == "cache"
    refreshed = app.acquire_token_silent(GRAPH_DEFAULT, account=accounts[0], force_refresh=True)
    assert refreshed is not None and refreshed["token_source"] == "identity_provider", refreshed
    assert refreshed["access_token"] != result["access_token"]


# --- raw token endpoint errors ------------------------------------------------------------------------

def _form(sandbox: Sandbox, **fields: str) -> dict[str, str]:
    client = sandbox.client
    base = {"client_id": client["clientId"], "client_secret": client["secret"], "grant_type": "client_credentials",
            "scope": GRAPH_DEFAULT[0]}
    base.update(fields)
    return {k: v for k, v in base.items() if v != ""}


@pytest.mark.parametrize(
    ("fields", "status", "error", "code"),
    [
        ({"client_id": "11111111-2222-3333-4444-555555555555"}, 400, "unauthorized_client", 700016),
        ({"client_secret": "wrong"}, 401, "invalid_client", 7000215),
        ({"client_secret": ""}, 401, "invalid_client", 7000218),
        ({"client_id": ""}, 400, "invalid_request", 900144),
        ({"grant_type": "password"}, 400, "unsupported_grant_type", 70003),
        ({"scope": "User.Read.All"}, 400, "invalid_scope", 1002012),
        ({"scope": "https://foo.microsoft.com/.default"}, 400, "invalid_scope", 70011),
        ({"scope": ""}, 400, "invalid_request", 900144),
    ],
)
def test_token_errors_have_entras_shape(sandbox: Sandbox, http: requests.Session, fields: dict[str, str],
                                        status: int, error: str, code: int) -> None:
    answer = http.post(_token_url(sandbox), data=_form(sandbox, **fields),
                       headers={"client-request-id": "6fdba6a8-5833-4078-a5e0-e076882d3513"})
    body = _assert_entra_error(answer, status, error, code)
    assert body["correlation_id"] == "6fdba6a8-5833-4078-a5e0-e076882d3513"
    assert sandbox.client["secret"] not in answer.text
    assert answer.headers["Cache-Control"] == "no-store, no-cache"


def test_token_for_an_unknown_tenant(sandbox: Sandbox, http: requests.Session) -> None:
    answer = http.post(_token_url(sandbox, "contoso.invalid"), data=_form(sandbox))
    _assert_entra_error(answer, 400, "invalid_request", 90002)


def test_token_endpoint_answers_get_with_entras_error(sandbox: Sandbox, http: requests.Session) -> None:
    _assert_entra_error(http.get(_token_url(sandbox)), 400, "invalid_request", 900561)


def test_http_basic_client_authentication(sandbox: Sandbox, http: requests.Session) -> None:
    client = sandbox.client
    data = {"grant_type": "client_credentials", "scope": GRAPH_DEFAULT[0]}
    good = http.post(_token_url(sandbox), data=data, auth=(client["clientId"], client["secret"]))
    assert good.status_code == 200
    assert set(good.json()) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    bad = http.post(_token_url(sandbox), data=data, auth=(client["clientId"], "wrong"))
    _assert_entra_error(bad, 401, "invalid_client", 7000215)


def _assertion(sandbox: Sandbox, key: str | None = None, headers: dict[str, Any] | None = None,
               algorithm: str = "RS256", **claims: Any) -> str:
    client = sandbox.client
    now = time.time()
    payload = {"aud": _token_url(sandbox), "iss": client["clientId"], "sub": client["clientId"],
               "exp": now + 600, "iat": now, "jti": "x"}
    payload.update(claims)
    header = {"x5t": _x5t(client["certificatePem"])} if headers is None else headers
    return jwt.encode(payload, key or client["privateKeyPem"], algorithm=algorithm, headers=header)


def _unsigned(sandbox: Sandbox) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    client = sandbox.client
    claims = {"aud": _token_url(sandbox), "iss": client["clientId"], "sub": client["clientId"],
              "exp": time.time() + 600}
    return f"{part({'alg': 'none', 'x5t': _x5t(client['certificatePem'])})}.{part(claims)}."


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda sb, other: _assertion(sb), None, None),
        (lambda sb, other: "not-a-jwt", 50027, "malformed"),
        (lambda sb, other: _unsigned(sb), 700027, "signature validation"),
        (lambda sb, other: _assertion(sb, key=other[1]), 700027, "signature validation"),
        (lambda sb, other: _assertion(sb, key=other[1], headers={"x5t": _x5t(other[0])}), 700027, "not registered"),
        (lambda sb, other: _assertion(sb, headers={}), 5002723, "No certificate thumbprint"),
        (lambda sb, other: _assertion(sb, aud="https://login.microsoftonline.com/x/oauth2/v2.0/token"), 700023,
         "audience"),
        (lambda sb, other: _assertion(sb, iss="someone-else"), 700021, "doesn't match"),
        (lambda sb, other: _assertion(sb, exp=time.time() - 3600), 700024, "valid time range"),
    ],
    ids=["valid", "malformed", "unsigned", "wrong-key", "unregistered-cert", "no-thumbprint", "audience", "issuer",
         "expired"],
)
def test_client_assertions_are_verified(sandbox: Sandbox, http: requests.Session, stranger: tuple[str, str],
                                        make: Any, code: int | None, words: str | None) -> None:
    assertion = make(sandbox, stranger)
    answer = http.post(_token_url(sandbox), data={
        "client_id": sandbox.client["clientId"], "grant_type": "client_credentials", "scope": GRAPH_DEFAULT[0],
        "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})
    if code is None:
        assert answer.status_code == 200, answer.text
        return
    body = _assert_entra_error(answer, 401, "invalid_client", code)
    assert words in body["error_description"]
    assert assertion not in answer.text


def _ec_certificate() -> str:
    """A self-signed certificate with an EC key: a registration whose key cannot check RS256/PS256."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ec client")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_assertion_against_a_non_rsa_certificate_fails_signature_not_500(stranger: tuple[str, str]) -> None:
    """An RS256 assertion checked against a registered EC certificate is Entra's 700027, not a sandbox 500."""
    tenant = builtin_tenant()
    ec_pem = _ec_certificate()
    tenant["sandbox"] = {"clients": [{"clientId": "ec-client", "secret": "s", "certificatePem": ec_pem,
                                      "privateKeyPem": stranger[1]}]}
    with Sandbox(tenant) as sandbox:
        http = requests.Session()
        http.trust_env = False
        http.verify = str(sandbox.ca_file)
        assertion = _assertion(sandbox, key=stranger[1], headers={"x5t": _x5t(ec_pem)})
        answer = http.post(_token_url(sandbox), data={
            "client_id": "ec-client", "grant_type": "client_credentials", "scope": GRAPH_DEFAULT[0],
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})
        body = _assert_entra_error(answer, 401, "invalid_client", 700027)
        assert "signature validation" in body["error_description"]


# --- raw device code flow -----------------------------------------------------------------------------

def _device_code(sandbox: Sandbox, http: requests.Session, client_id: str | None = None,
                 scope: str = "User.Read openid profile offline_access") -> requests.Response:
    return http.post(f"{_authority(sandbox)}/oauth2/v2.0/devicecode",
                     data={"client_id": client_id or sandbox.client["clientId"], "scope": scope})


def _poll(sandbox: Sandbox, http: requests.Session, device_code: str, client_id: str | None = None,
          **extra: str) -> requests.Response:
    return http.post(_token_url(sandbox), data={"grant_type": DEVICE_GRANT, "device_code": device_code,
                                                "client_id": client_id or sandbox.client["clientId"], **extra})


def test_device_code_polling_pending_then_tokens(sandbox: Sandbox, http: requests.Session) -> None:
    started = _device_code(sandbox, http)
    assert started.status_code == 200
    flow = started.json()
    assert set(flow) == {"user_code", "device_code", "verification_uri", "expires_in", "interval", "message"}
    assert flow["verification_uri"].startswith(sandbox.authority)
    _assert_entra_error(_poll(sandbox, http, flow["device_code"]), 400, "authorization_pending", 70016)
    answer = _poll(sandbox, http, flow["device_code"], client_info="1")
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["scope"] == "User.Read profile openid email"
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    user = next(u for u in sandbox.state.graph["users"] if u["accountEnabled"])
    assert claims["aud"] == sandbox.client["clientId"]
    assert claims["iss"] == f"{_authority(sandbox)}/v2.0"
    assert (claims["oid"], claims["tid"], claims["ver"]) == (user["id"], sandbox.tenant_id, "2.0")
    assert claims["preferred_username"] == user["userPrincipalName"] and claims["name"] == user["displayName"]
    assert claims["exp"] > claims["iat"] == claims["nbf"]
    keys = http.get(f"{_authority(sandbox)}/discovery/v2.0/keys").json()["keys"]
    signer = jwt.PyJWK(keys[0]).key
    assert jwt.decode(tokens["id_token"], signer, algorithms=["RS256"], audience=sandbox.client["clientId"])
    client_info = json.loads(base64.urlsafe_b64decode(tokens["client_info"] + "=="))
    assert client_info == {"uid": user["id"], "utid": sandbox.tenant_id}
    access = sandbox.state.tokens.check(tokens["access_token"], GRAPH_AUDIENCE).claims
    assert access is not None and access["scp"] == "User.Read"
    # the code is spent
    _assert_entra_error(_poll(sandbox, http, flow["device_code"]), 400, "bad_verification_code", 70000)
    # the refresh token works, and a made-up one does not
    refresh = {"grant_type": "refresh_token", "client_id": sandbox.client["clientId"],
               "refresh_token": tokens["refresh_token"], "scope": "User.Read openid offline_access"}
    again = http.post(_token_url(sandbox), data=refresh)
    assert again.status_code == 200 and again.json()["refresh_token"] != tokens["refresh_token"]
    forged = http.post(_token_url(sandbox), data={**refresh, "refresh_token": "1.ARnothing"})
    _assert_entra_error(forged, 400, "invalid_grant", 9002313)


def test_device_code_configured_user_and_disabled_user(sandbox: Sandbox, http: requests.Session) -> None:
    users = sandbox.state.graph["users"]
    chosen = users[3]
    sandbox.state.settings["deviceCodeUser"] = chosen["userPrincipalName"].upper()
    code = _device_code(sandbox, http).json()["device_code"]
    _poll(sandbox, http, code)
    tokens = _poll(sandbox, http, code).json()
    assert jwt.decode(tokens["id_token"], options={"verify_signature": False})["oid"] == chosen["id"]
    disabled = next(u for u in users if not u["accountEnabled"])
    sandbox.state.settings["deviceCodeUser"] = disabled["id"]
    code = _device_code(sandbox, http).json()["device_code"]
    _poll(sandbox, http, code)
    _assert_entra_error(_poll(sandbox, http, code), 400, "invalid_grant", 50057)


def test_device_code_expired_and_unknown(sandbox: Sandbox, http: requests.Session) -> None:
    code = _device_code(sandbox, http).json()["device_code"]
    sandbox.state.device_codes[code]["expires_at"] = time.time() - 1
    _assert_entra_error(_poll(sandbox, http, code), 400, "expired_token", 70020)
    _assert_entra_error(_poll(sandbox, http, "DAQABAAEAAAAnope"), 400, "bad_verification_code", 70000)


def test_device_code_needs_a_public_client_or_a_credential(sandbox: Sandbox, http: requests.Session) -> None:
    confidential = {**sandbox.client, "clientId": "22222222-3333-4444-5555-666666666666", "publicClient": False}
    sandbox.state.settings["clients"].append(confidential)
    code = _device_code(sandbox, http, client_id=confidential["clientId"]).json()["device_code"]
    _assert_entra_error(_poll(sandbox, http, code, client_id=confidential["clientId"]), 401, "invalid_client",
                        7000218)
    unknown = _device_code(sandbox, http, client_id="33333333-4444-5555-6666-777777777777")
    _assert_entra_error(unknown, 400, "unauthorized_client", 700016)
    other_resource = _device_code(sandbox, http, scope="https://management.azure.com/.default openid")
    _assert_entra_error(other_resource, 400, "invalid_resource", 500011)
