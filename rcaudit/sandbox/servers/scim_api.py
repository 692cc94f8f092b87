"""Emulated RingCentral: SCIM 2.0 under `/scim/v2`, OAuth at `/restapi/oauth/token` (JWT and
refresh-token grants) and `/restapi/oauth/revoke`.

Every request is first counted against RingCentral's rate limits (keyed by the caller: the RC app for
a JWT-grant token, one key for the static token, "anonymous" otherwise), then its bearer token is
checked, then it is routed. Throttling and authentication answer in RingCentral's platform error
shape (`errorCode`, `errors[]`), everything else in the SCIM error shape (`status` a string), as the
reference samples show. The answers reproduce what RingCentral does to the data it is sent: country
codes come back as names, `primary: false` appears on e-mails and addresses, RingCentral adds its own
direct (`work`) and extension (`other`) numbers, and `active` defaults to false. Writes are refused
as RingCentral refuses them (an unknown country or state: `regions.py`); ids are never reused;
answers are `application/scim+json` unless the client's Accept ranks `application/json` higher.
docs/sandbox-fidelity.md says which of these are documented and which are guesses.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as dt
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pycountry

from rcaudit.sandbox.servers.http_server import BadJson, HttpError, Request, Response, Service
from rcaudit.sandbox.servers.ratelimit import Decision
from rcaudit.sandbox.servers.regions import check_addresses, work_address
from rcaudit.sandbox.servers.scim_patch import (
    RC_OWNED_PHONE_TYPES,
    PatchError,
    apply_patch,
    clean_resource,
    missing_required,
    parse_filter,
)
from rcaudit.sandbox.servers.scim_schemas import (
    CORE_USER,
    ENTERPRISE_USER,
    ERROR,
    LOCATION_BASE,
    list_response,
    resource_types,
    schema_documents,
    service_provider_config,
)
from rcaudit.sandbox.servers.state import SandboxState
from rcaudit.sandbox.servers.tokens import RC_AUDIENCE

SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_GRANT = "refresh_token"
TOKEN_PATH = "/restapi/oauth/token"
REVOKE_PATH = "/restapi/oauth/revoke"
_AUTH_PATHS = (TOKEN_PATH, REVOKE_PATH)
SCIM_ROOT = "/scim/v2"
STATIC_TOKEN_KEY = "static-token"
ANONYMOUS = "anonymous"
SCOPE = "ReadAccounts EditAccounts"
REFRESH_TOKEN_LIFETIME = 604800
DEFAULT_OWNER_ID = "1271136020"
_UNLIMITED = (f"{SCIM_ROOT}/ServiceProviderConfig", f"{SCIM_ROOT}/health")
_BODY_TYPES = ("application/json", "application/scim+json")
_AUTH_ERRORS = {
    "missing": ("OAU-213", "Token not found"),
    "invalid": ("OAU-149", "Invalid token"),
    "expired": ("OAU-128", "Access token expired"),
}
_KEY_ORDER = ("schemas", "id", "externalId", "meta", "userName", "name", "displayName", "title", "active",
              "emails", "phoneNumbers", "addresses", "photos", ENTERPRISE_USER)


# --- answers -------------------------------------------------------------------------------------
def scim_json(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response.json(status, payload, headers, content_type=SCIM_CONTENT_TYPE)


def scim_error(status: int, detail: str, scim_type: str | None = None) -> Response:
    """RFC 7644 §3.12 error; `status` is a string, as RingCentral's schema says."""
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status)}
    if scim_type:
        body["scimType"] = scim_type
    body["detail"] = detail
    return scim_json(status, body)


def platform_error(status: int, code: str, message: str) -> Response:
    """RingCentral's gateway error shape, used for throttling (CMN-301) and authentication (OAU-…)."""
    return Response.json(status, {"errorCode": code, "message": message,
                                  "errors": [{"errorCode": code, "message": message}]})


def oauth_error(status: int, error: str, code: str, message: str) -> Response:
    """The token endpoint's error shape; the message never repeats what the caller sent."""
    return Response.json(status, {"error": error, "errors": [{"errorCode": code, "message": message}],
                                  "error_description": message})


def _raise(err: PatchError) -> HttpError:
    return HttpError(scim_error(err.status, err.detail, err.scim_type))


# --- RingCentral's own touches -------------------------------------------------------------------
def country_name(value: str) -> str:
    """RingCentral answers `US` with `United States`: ISO alpha-2/3 codes become English names."""
    code = value.strip()
    if not code.isalpha() or len(code) not in (2, 3):
        return value
    country = (pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2
               else pycountry.countries.get(alpha_3=code.upper()))
    if country is None:
        return value
    return str(getattr(country, "common_name", None) or country.name)


def rc_normalise(user: dict[str, Any]) -> None:
    """What RingCentral does to every user it stores: country names and `primary: false`."""
    for address in user.get("addresses") or []:
        if isinstance(address, dict):
            address["primary"] = False
            if isinstance(address.get("country"), str):
                address["country"] = country_name(address["country"])
    for email in user.get("emails") or []:
        if isinstance(email, dict):
            email["primary"] = False


def _ordered(user: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order RingCentral's examples show them (extra keys after)."""
    first = {k: user[k] for k in _KEY_ORDER if k in user}
    return {**first, **{k: v for k, v in user.items() if k not in first}}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _phone_type(item: Any) -> str | None:
    kind = item.get("type") if isinstance(item, dict) else None
    return kind.lower() if isinstance(kind, str) else None


def _int_param(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip())
        except ValueError:
            pass
    raise HttpError(scim_error(400, f"'{name}' must be an integer", "invalidValue"))


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = (request.header("Authorization") or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (client_id, secret) if sep else None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


@dataclass
class _Caller:
    key: str  # the rate-limit key
    problem: str | None  # the bearer token's problem, as TokenCheck.problem


class RingCentralService(Service):
    name = "rc"

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state.faults)
        self.state = state
        self._local = threading.local()  # before() and after() of one request run in one thread
        self._refresh_tokens: dict[str, _Session] = {}  # live refresh token -> its OAuth session
        users = f"{SCIM_ROOT}/Users"
        user = f"{users}/(?P<user_id>[^/]+)"
        for method, pattern, handler in (
            ("GET", f"{SCIM_ROOT}/health", self.health),
            ("GET", f"{SCIM_ROOT}/ServiceProviderConfig", self.get_service_provider_config),
            ("GET", f"{SCIM_ROOT}/Schemas/?", self.list_schemas),
            ("GET", f"{SCIM_ROOT}/Schemas/(?P<uri>[^/]+)", self.get_schema),
            ("GET", f"{SCIM_ROOT}/ResourceTypes/?", self.list_resource_types),
            ("GET", f"{SCIM_ROOT}/ResourceTypes/(?P<name>[^/]+)", self.get_resource_type),
            ("GET", f"{users}/?", self.list_users),
            ("POST", rf"{users}/\.search", self.search_users),
            ("POST", f"{users}/?", self.create_user),
            ("GET", user, self.get_user),
            ("PUT", user, self.replace_user),
            ("PATCH", user, self.patch_user),
            ("DELETE", user, self.delete_user),
            ("POST", TOKEN_PATH, self.token),
            ("POST", REVOKE_PATH, self.revoke),
        ):
            self.router.add(method, pattern, handler)

    # --- hooks -----------------------------------------------------------------------------------
    def before(self, request: Request) -> Response | None:
        """Rate limit, then authenticate: a throttled caller learns nothing about its token."""
        self._local.decision = None
        path = request.path.rstrip("/")
        if path in _UNLIMITED:
            return None
        caller = self._identify(request, path)
        decision = self.state.limiter.check(caller.key, self._group(request.method, path))
        self._local.decision = decision
        if not decision.allowed:
            return platform_error(429, "CMN-301", "Request rate exceeded")
        if path not in _AUTH_PATHS and caller.problem is not None:
            code, message = _AUTH_ERRORS[caller.problem]
            return platform_error(401, code, message)
        return None

    def after(self, request: Request, response: Response) -> Response:
        decision: Decision | None = getattr(self._local, "decision", None)
        self._local.decision = None
        if decision is not None:
            response.headers.update(decision.headers())
        if response.headers.get("Content-Type") == SCIM_CONTENT_TYPE and prefers_json(request.header("Accept")):
            response.headers["Content-Type"] = JSON_CONTENT_TYPE
        return response

    def not_found(self, request: Request) -> Response:
        return scim_error(404, f"Resource {request.path} not found")

    def method_not_allowed(self, request: Request) -> Response:
        return scim_error(405, f"Method {request.method} is not allowed on {request.path}")

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        return scim_error(500, f"sandbox error: {type(exc).__name__}")

    @staticmethod
    def _group(method: str, path: str) -> str:
        if path in _AUTH_PATHS:
            return "auth"
        if method in ("GET", "HEAD") or (method == "POST" and path == f"{SCIM_ROOT}/Users/.search"):
            return "light"
        return "heavy"

    def _identify(self, request: Request, path: str) -> _Caller:
        """Who is calling (the rate-limit key) and what, if anything, is wrong with the bearer token."""
        if path in _AUTH_PATHS:
            credentials = _basic_credentials(request)
            return _Caller(credentials[0] if credentials and credentials[0] else ANONYMOUS, None)
        token = request.bearer
        if token is not None and _same(token, str(self.state.settings["scimToken"])):
            return _Caller(STATIC_TOKEN_KEY, None)
        check = self.state.tokens.check(token, RC_AUDIENCE)
        if check.claims is not None:
            return _Caller(str(check.claims["sub"]), None)
        return _Caller(ANONYMOUS, check.problem or "invalid")

    # --- helpers ---------------------------------------------------------------------------------
    @property
    def _profile(self) -> str:
        return str(self.state.settings["schemaProfile"])

    @property
    def _max_count(self) -> int:
        return int(self.state.settings["maxCount"])

    def _body(self, request: Request) -> Any:
        media = (request.header("Content-Type") or "").split(";")[0].strip().lower()
        if media and media not in _BODY_TYPES:
            raise HttpError(scim_error(415, f"Unsupported content type {media!r}: use application/scim+json"))
        try:
            return request.json()
        except BadJson as exc:
            raise HttpError(scim_error(400, "The request body is not valid JSON", "invalidSyntax")) from exc

    def _existing(self, user_id: str) -> dict[str, Any]:
        user = self.state.scim_user(user_id)
        if user is None:
            raise HttpError(scim_error(404, f"User {user_id} not found"))
        return user

    def _check_unique(self, user_name: Any, user_id: str | None) -> None:
        """409 when another user already has this userName (compared case-insensitively)."""
        if not isinstance(user_name, str):
            return
        wanted = user_name.casefold()
        for other in self.state.scim_users:
            name = other.get("userName")
            if other.get("id") != user_id and isinstance(name, str) and name.casefold() == wanted:
                raise HttpError(scim_error(409, "duplicate email", "uniqueness"))

    def _clean(self, body: Any) -> dict[str, Any]:
        try:
            user = clean_resource(body, self._profile)
        except PatchError as err:
            raise _raise(err) from None
        missing = missing_required(user, self._profile)
        if missing:
            raise HttpError(scim_error(400, f"Missing required attribute(s): {', '.join(missing)}", "invalidValue"))
        return user

    def _new_id(self) -> str:
        return self.state.new_scim_id()

    def _check_address(self, user: dict[str, Any], before: dict[str, Any] | None = None) -> None:
        """RingCentral's country/state check (`regions.py`); on PATCH only when the work address's
        country or state changes, so a stored oddity does not block an unrelated fix."""
        if before is not None and _place(work_address(before)) == _place(work_address(user)):
            return
        try:
            check_addresses(user, self.state.settings.get("accountCountry"))
        except PatchError as err:
            raise _raise(err) from None

    def _rc_numbers(self, user_id: str) -> list[dict[str, Any]]:
        """A new user's direct number (E.164) and extension number, both unused so far."""
        taken: set[str] = set()
        extensions = [100]
        for user in self.state.scim_users:
            for phone in user.get("phoneNumbers") or []:
                value = phone.get("value") if isinstance(phone, dict) else None
                if isinstance(value, str):
                    taken.add(value)
                    if _phone_type(phone) == "other" and value.isdigit():
                        extensions.append(int(value))
        number = int(user_id) // 1000 % 10_000_000
        while f"+1650{number:07d}" in taken:
            number = (number + 1) % 10_000_000
        return [{"type": "work", "value": f"+1650{number:07d}"}, {"type": "other", "value": str(max(extensions) + 1)}]

    @staticmethod
    def _finish(user: dict[str, Any], user_id: str, created: str, rc_numbers: list[dict[str, Any]]) -> dict[str, Any]:
        """A clean POST/PUT body made into the resource RingCentral stores and returns."""
        schemas = list(user.get("schemas") or [CORE_USER])
        if CORE_USER not in schemas:
            schemas.insert(0, CORE_USER)
        if ENTERPRISE_USER in user and ENTERPRISE_USER not in schemas:
            schemas.append(ENTERPRISE_USER)
        own = [p for p in user.get("phoneNumbers") or [] if _phone_type(p) not in RC_OWNED_PHONE_TYPES]
        out = {
            **user,
            "schemas": schemas,
            "id": user_id,
            "meta": {"resourceType": "User", "created": created, "lastModified": _now(),
                     "location": f"{LOCATION_BASE}/Users/{user_id}"},
            "active": bool(user.get("active", False)),
            "phoneNumbers": own + rc_numbers,
        }
        rc_normalise(out)
        return _ordered(out)

    # --- discovery -------------------------------------------------------------------------------
    def health(self, request: Request) -> Response:
        return Response.empty(200)

    def get_service_provider_config(self, request: Request) -> Response:
        return scim_json(200, service_provider_config(self._max_count))

    @staticmethod
    def _no_filter(request: Request) -> None:
        if "filter" in request.query:
            raise HttpError(scim_error(403, "Filtering is not allowed"))

    def list_schemas(self, request: Request) -> Response:
        self._no_filter(request)
        return scim_json(200, list_response(schema_documents(self._profile)))

    def get_schema(self, request: Request, uri: str) -> Response:
        wanted = unquote(uri).lower()
        found = next((d for d in schema_documents(self._profile) if d["id"].lower() == wanted), None)
        return scim_json(200, found) if found else scim_error(404, f"Schema {unquote(uri)} not found")

    def list_resource_types(self, request: Request) -> Response:
        self._no_filter(request)
        return scim_json(200, list_response(resource_types()))

    def get_resource_type(self, request: Request, name: str) -> Response:
        found = next((r for r in resource_types() if r["id"].lower() == unquote(name).lower()), None)
        return scim_json(200, found) if found else scim_error(404, f"ResourceType {unquote(name)} not found")

    # --- users: reading --------------------------------------------------------------------------
    def list_users(self, request: Request) -> Response:
        query = request.query
        self._mutate()
        shape = self._shape(query.get("attributes"), query.get("excludedAttributes"))
        return self._list_faults(self._search(query.get("filter"), query.get("startIndex"), query.get("count"), shape))

    def _shape(self, attributes: Any, excluded: Any) -> Selection | None:
        """RFC 7644 §3.9 `attributes`/`excludedAttributes`, honoured only when the sandbox option
        `attributeSelection` is on: RingCentral documents neither, so by default they are ignored."""
        if not self.state.settings.get("attributeSelection"):
            return None
        return Selection.parse(attributes, excluded)

    def _mutate(self) -> None:
        """The `mutate` fault: users deleted and added while a list page is in flight."""
        fault = self.state.faults.current("mutate")
        if fault is None:
            return
        with self.state.lock:
            for user in list(self.state.scim_users[fault.at : fault.at + fault.delete]):
                self.state.remove_scim_user(str(user["id"]))
            template = self.state.scim_users[0] if self.state.scim_users else None
            for _ in range(fault.add):
                user_id = self._new_id()
                user = json.loads(json.dumps(template)) if template else {"schemas": [CORE_USER]}
                user.update(id=user_id, userName=f"new.{user_id}@sandbox.example", externalId=f"new{user_id}")
                self.state.add_scim_user(user)

    def _list_faults(self, response: Response) -> Response:
        """The `empty_page` and `omit_total` faults, applied to a list answer."""
        faults = self.state.faults
        empty, no_total = faults.current("empty_page"), faults.current("omit_total")
        if (empty is None and no_total is None) or response.status != 200:
            return response
        body = json.loads(response.body)
        if empty is not None:
            body["Resources"], body["itemsPerPage"] = [], 0
        if no_total is not None:
            body.pop("totalResults", None)
        return scim_json(200, body)

    def search_users(self, request: Request) -> Response:
        body = self._body(request)
        if not isinstance(body, dict):
            raise HttpError(scim_error(400, "The request body must be a SearchRequest object", "invalidSyntax"))
        text = body.get("filter")
        if text is not None and not isinstance(text, str):
            raise HttpError(scim_error(400, "'filter' must be a string", "invalidFilter"))
        shape = self._shape(body.get("attributes"), body.get("excludedAttributes"))
        return self._search(text, body.get("startIndex"), body.get("count"), shape)

    def _search(self, text: str | None, start_raw: Any, count_raw: Any, shape: Selection | None = None) -> Response:
        """One page of the users the filter selects: 1-based `startIndex`, `count` capped at maxCount."""
        start = max(1, _int_param(start_raw, "startIndex", 1))
        count = min(max(0, _int_param(count_raw, "count", min(100, self._max_count))), self._max_count)
        matches = self._filter(text)
        omit = {str(name).lower() for name in self.state.settings.get("listOmits") or []}
        with self.state.lock:
            selected = [u for u in self.state.scim_users if matches(u)]
            page = [{k: v for k, v in u.items() if k.lower() not in omit}
                    for u in selected[start - 1 : start - 1 + count]]
            if shape is not None:
                page = [shape.apply(u) for u in page]
            return scim_json(200, list_response(page, total=len(selected), start_index=start))

    @staticmethod
    def _filter(text: str | None) -> Any:
        """A predicate for `userName eq "…"` or `email eq "…"` (values compared case-insensitively)."""
        if text is None or not text.strip():
            return lambda user: True
        try:
            comparisons = parse_filter(text)
        except PatchError as err:
            raise HttpError(scim_error(400, err.detail, "invalidFilter")) from None
        attr = comparisons[0].attr.lower()
        value = comparisons[0].value
        if len(comparisons) != 1 or attr not in ("username", "email") or not isinstance(value, str):
            raise HttpError(scim_error(
                400, f"Unsupported filter {text!r}: only 'userName eq \"…\"' or 'email eq \"…\"'", "invalidFilter"))
        wanted = value.casefold()
        if attr == "username":
            return lambda user: isinstance(user.get("userName"), str) and user["userName"].casefold() == wanted
        return lambda user: any(
            isinstance(e, dict) and isinstance(e.get("value"), str) and e["value"].casefold() == wanted
            for e in user.get("emails") or []
        )

    def get_user(self, request: Request, user_id: str) -> Response:
        shape = self._shape(request.query.get("attributes"), request.query.get("excludedAttributes"))
        with self.state.lock:
            user = self._existing(user_id)
            return scim_json(200, shape.apply(user) if shape is not None else user)

    # --- users: writing --------------------------------------------------------------------------
    def create_user(self, request: Request) -> Response:
        clean = self._clean(self._body(request))
        self._check_address(clean)
        with self.state.lock:
            self._check_unique(clean["userName"], None)
            user_id = self._new_id()
            user = self._finish(clean, user_id, _now(), self._rc_numbers(user_id))
            self.state.add_scim_user(user)
            return scim_json(201, user, {"Location": user["meta"]["location"]})

    def replace_user(self, request: Request, user_id: str) -> Response:
        clean = self._clean(self._body(request))
        self._check_address(clean)
        with self.state.lock:
            existing = self._existing(user_id)
            self._check_unique(clean["userName"], user_id)
            meta = existing.get("meta")
            created = (meta.get("created") if isinstance(meta, dict) else None) or _now()
            owned = [p for p in existing.get("phoneNumbers") or [] if _phone_type(p) in RC_OWNED_PHONE_TYPES]
            user = self._finish(clean, user_id, created, owned)
            existing.clear()  # in place: the state's index keeps pointing at this object
            existing.update(user)
            return scim_json(200, existing)

    def patch_user(self, request: Request, user_id: str) -> Response:
        body = self._body(request)
        with self.state.lock:
            existing = self._existing(user_id)
            try:
                patched = apply_patch(existing, body, self._profile)
            except PatchError as err:
                raise _raise(err) from None
            if str(patched.get("userName", "")).casefold() != str(existing.get("userName", "")).casefold():
                self._check_unique(patched.get("userName"), user_id)
            self._check_address(patched, existing)
            rc_normalise(patched)
            meta = patched.get("meta")
            patched["meta"] = {**(meta if isinstance(meta, dict) else {}), "lastModified": _now()}
            existing.clear()
            existing.update(patched)
            return scim_json(200, existing)

    def delete_user(self, request: Request, user_id: str) -> Response:
        if self.state.remove_scim_user(user_id) is None:
            return scim_error(404, f"User {user_id} not found")
        return Response.empty(204)

    # --- OAuth: JWT grant, refresh, revoke --------------------------------------------------------
    def _app(self, request: Request) -> dict[str, Any] | Response:
        """The RC app the Basic credentials name, or the token endpoint's refusal."""
        credentials = _basic_credentials(request)
        if credentials is None:
            return oauth_error(401, "invalid_client", "OAU-123", "Invalid Authorization header value")
        client_id, secret = credentials
        app = next((a for a in self.state.settings["rcApps"]
                    if _same(str(a["clientId"]), client_id) and _same(str(a["clientSecret"]), secret)), None)
        if app is None:
            return oauth_error(401, "invalid_client", "OAU-146", "Invalid client credentials")
        return app

    def token(self, request: Request) -> Response:
        """RingCentral's token endpoint: the JWT grant (the app's JWT as the assertion) and the
        refresh-token grant (single use: RingCentral's "Using access tokens" guide), both with Basic
        client credentials, as the `ringcentral` SDK sends them."""
        app = self._app(request)
        if isinstance(app, Response):
            return app
        form = request.form()
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            if not _same(form.get("assertion", ""), str(app["jwt"])):
                return oauth_error(400, "invalid_grant", "OAU-140", "Invalid resource owner credentials.")
            return self._issue(app, secrets.token_hex(16))
        if grant == REFRESH_GRANT:
            with self.state.lock:
                session = self._refresh_tokens.pop(form.get("refresh_token", ""), None)
            if session is None or session.client_id != str(app["clientId"]) or session.expires <= time.time():
                # The code and text are the sandbox's guess: RingCentral documents no body for this refusal.
                return oauth_error(400, "invalid_grant", "OAU-211", "Token is revoked or expired.")
            return self._issue(app, session.sid)
        return oauth_error(400, "unsupported_grant_type", "OAU-125", "Grant type is not allowed for application.")

    def _issue(self, app: dict[str, Any], sid: str) -> Response:
        """A token answer in the shape of RingCentral's JWT-flow guide; `sid` ties the access token and
        its refresh token to one OAuth session, which a revoke ends as a whole."""
        lifetime = float(self.state.settings["tokenLifetime"])
        client_id = str(app["clientId"])
        access = self.state.tokens.issue(RC_AUDIENCE, client_id, lifetime=lifetime, scope=SCOPE, sid=sid)
        refresh = secrets.token_urlsafe(32)
        with self.state.lock:
            self._refresh_tokens[refresh] = _Session(sid, client_id, time.time() + REFRESH_TOKEN_LIFETIME)
        return Response.json(200, {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": int(lifetime),
            "refresh_token": refresh,
            "refresh_token_expires_in": REFRESH_TOKEN_LIFETIME,
            "scope": SCOPE,
            "owner_id": str(app.get("ownerId", DEFAULT_OWNER_ID)),
            "endpoint_id": secrets.token_urlsafe(16),
        }, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def revoke(self, request: Request) -> Response:
        """`POST /restapi/oauth/revoke`: `token` (access or refresh, in the body or the query) ends its
        whole OAuth session (RingCentral's API reference, revokeToken). An unknown token is answered
        200 too (RFC 7009 §2.2; RingCentral's own answer to it is unverified)."""
        app = self._app(request)
        if isinstance(app, Response):
            return app
        token = request.form().get("token") or request.query.get("token") or ""
        claims = self.state.tokens.claims_of(token, RC_AUDIENCE) if token else None
        with self.state.lock:
            session = self._refresh_tokens.get(token)
            sid = session.sid if session is not None else (claims or {}).get("sid")
            if isinstance(sid, str):
                self.state.tokens.revoke_session(sid)
                for key in [k for k, s in self._refresh_tokens.items() if s.sid == sid]:
                    del self._refresh_tokens[key]
        return Response.empty(200)


@dataclass(frozen=True)
class Selection:
    """An RFC 7644 §3.9 attribute selection: `include` (only these, plus `id` and `schemas`, which are
    always returned) or else `exclude`; each path is (top-level key, sub-attribute or None)."""

    include: tuple[tuple[str, str | None], ...]
    exclude: tuple[tuple[str, str | None], ...]

    @classmethod
    def parse(cls, attributes: Any, excluded: Any) -> Selection | None:
        include, exclude = _paths(attributes), _paths(excluded)
        return cls(include, exclude) if include or exclude else None

    def apply(self, user: dict[str, Any]) -> dict[str, Any]:
        if self.include:
            out: dict[str, Any] = {k: user[k] for k in ("schemas", "id") if k in user}
            for top, sub in self.include:
                key = _user_key(user, top)
                if key is None:
                    continue
                if sub is None:
                    out[key] = copy.deepcopy(user[key])
                else:
                    _merge_sub(out, key, user[key], sub)
            return out
        out = copy.deepcopy(user)
        for top, sub in self.exclude:
            key = _user_key(out, top)
            if key is None or key in ("id", "schemas"):
                continue
            if sub is None:
                del out[key]
            else:
                for part in (out[key] if isinstance(out[key], list) else [out[key]]):
                    if isinstance(part, dict):
                        for name in [n for n in part if n.lower() == sub.lower()]:
                            del part[name]
        return out


def _paths(raw: Any) -> tuple[tuple[str, str | None], ...]:
    """`userName,name.givenName,urn:…:enterprise:2.0:User:department` (a string, or a list in a
    SearchRequest) as (key, sub) pairs; the core schema URN prefix is dropped."""
    items = raw if isinstance(raw, list) else str(raw or "").split(",")
    out: list[tuple[str, str | None]] = []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        if item.lower().startswith(ENTERPRISE_USER.lower()):
            rest = item[len(ENTERPRISE_USER):].lstrip(":")
            out.append((ENTERPRISE_USER, rest or None))
            continue
        if item.lower().startswith(CORE_USER.lower() + ":"):
            item = item[len(CORE_USER) + 1:]
        top, _, sub = item.partition(".")
        out.append((top, sub or None))
    return tuple(out)


def _user_key(user: dict[str, Any], name: str) -> str | None:
    """The key of `user` spelled `name` in any case (attribute names are case-insensitive)."""
    return next((k for k in user if k.lower() == name.lower()), None)


def _merge_sub(out: dict[str, Any], key: str, value: Any, sub: str) -> None:
    """Copy only sub-attribute `sub` of `value` (an object, or each item of a list) into `out[key]`."""
    if isinstance(value, dict):
        name = _user_key(value, sub)
        if name is not None:
            out.setdefault(key, {})[name] = copy.deepcopy(value[name])
    elif isinstance(value, list):
        items = out.setdefault(key, [{} for _ in value])
        for item, kept in zip(value, items, strict=False):
            name = _user_key(item, sub) if isinstance(item, dict) else None
            if name is not None:
                kept[name] = copy.deepcopy(item[name])


@dataclass(frozen=True)
class _Session:
    """One RingCentral OAuth session, as a refresh token knows it."""

    sid: str
    client_id: str
    expires: float


def _place(address: dict[str, Any] | None) -> tuple[Any, Any]:
    """What RingCentral's address check looks at: (country, state)."""
    return (None, None) if address is None else (address.get("country"), address.get("region"))


def prefers_json(accept: str | None) -> bool:
    """Whether an Accept header ranks `application/json` above `application/scim+json`.

    RingCentral's spec lists both media types for every SCIM answer; RFC 7644 §3.1 makes
    `application/scim+json` the default, so only a client that asks for plain JSON (the `ringcentral`
    SDK reads `json_dict()` only from `application/json`) gets it."""
    if not accept:
        return False
    ranks = {"application/json": 0.0, "application/scim+json": 0.0}
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        for wanted in ranks:
            if media in (wanted, "application/*", "*/*"):
                specific = 0.001 if media == wanted else 0.0  # an exact range beats a wildcard of equal q
                ranks[wanted] = max(ranks[wanted], quality + specific if quality else 0.0)
    return ranks["application/json"] > ranks["application/scim+json"]
