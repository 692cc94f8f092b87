"""RingCentral SCIM 2.0: discovery, every user, one user, PATCH; both of RingCentral's error shapes.

Paging is 1-based `startIndex` with the largest page the server allows (`filter.maxResults`), in
overlapping pages so a walk is proven complete or walked again (users may appear or vanish mid-walk:
see `_Walk`); never a partial list.
RingCentral's current list schema may leave `phoneNumbers` and `addresses` out of list answers; when
an audited attribute is missing that way, the users are read one by one (paced by the session).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from rcaudit.connect.auth import RingCentralToken
from rcaudit.connect.config import Settings
from rcaudit.connect.http import Retry, echo_excerpt, redirect_target
from rcaudit.model.errors import AuthError, FetchError, PermissionDenied, RateLimited
from rcaudit.model.vocabulary import PATCH_OP

LIGHT, HEAVY = "light", "heavy"  # RingCentral's rate groups for reads and writes
DEFAULT_PAGE = 100
PROBES = 5  # users read one by one to tell "the list omits X" from "nobody has X"
REWALKS = 2  # a user list that cannot be proven complete is walked again at most this often
MAX_OVERLAP = 10
OnCount = Callable[[int], None]


def overlap(count: int) -> int:
    """Users each page repeats from the previous one: min(10, count/10), at least 1 when a page holds 2 or more
    (a page of 1 cannot overlap: such walks are confirmed by a second identical walk instead)."""
    return 0 if count < 2 else max(1, min(MAX_OVERLAP, count // 10))


def _ids(users: list[dict[str, Any]]) -> list[str]:
    return [str(u.get("id")) for u in users]


class _Unproven(Exception):
    """One walk of the user list cannot be proven complete: it is discarded."""


class _Walk:
    """One walk of `/Users` in overlapping pages, proven complete or refused.

    Page n+1 starts `k` positions before the end of page n, and its first `k` ids must be page n's last
    `k`: a user deleted or added before the current position shifts every later position, which breaks
    the overlap even when additions and deletions cancel out in `totalResults`. `totalResults` must be an
    integer on every page and never change; an empty page before the end, a page that runs past the
    total or an id repeated outside the overlap all discard the walk (`_Unproven`). A walk whose pages
    cannot overlap (pages of 1), or that served an id twice, only counts once a second walk served the
    very same list (`needs_confirmation` says why).
    """

    def __init__(self, client: ScimClient, count: int, on_page: OnCount | None = None) -> None:
        self.client, self.count, self.on_page = client, max(1, count), on_page
        self.k = overlap(self.count)
        self.start = 1
        self.expected: int | None = None
        self.users: list[dict[str, Any]] = []
        self.seen: set[str] = set()
        self.needs_confirmation = "" if self.k else "pages of 1 cannot overlap: confirmed by a second walk"
        self.done = False

    @property
    def received(self) -> int:
        return len(self.users)

    def run(self) -> list[dict[str, Any]]:
        while self.next_page() is not None:
            pass
        return self.users

    def _page(self) -> tuple[list[dict[str, Any]], int]:
        """One page's resources and its `totalResults`, checked for shape."""
        page = self.client.get("/Users", {"startIndex": self.start, "count": self.count})
        total, resources = page.get("totalResults"), page.get("Resources", [])
        where = f"page at startIndex {self.start}"
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise _Unproven(f"{where}: totalResults is {'absent' if total is None else repr(total)}, not a count")
        if not isinstance(resources, list) or not all(isinstance(r, dict) for r in resources):
            raise _Unproven(f"{where}: Resources is not a list of user objects")
        if self.expected is not None and total != self.expected:
            raise _Unproven(f"{where}: totalResults changed from {self.expected} to {total} during the walk")
        return resources, total

    def next_page(self) -> list[dict[str, Any]] | None:
        """Read, check and take in the next page (None when the walk is complete)."""
        if self.done:
            return None
        resources, total = self._page()
        where = f"page at startIndex {self.start}"
        first = self.expected is None
        self.expected = total
        repeat = 0 if first else self.k
        if [str(r.get("id")) for r in resources[:repeat]] != _ids(self.users[len(self.users) - repeat:]):
            raise _Unproven(f"{where}: its first {repeat} ids are not the previous page's last {repeat} (users were "
                            "added or deleted during the walk)")
        fresh = resources[repeat:]
        if not fresh and len(self.users) < total:
            raise _Unproven(f"{where}: no users although totalResults says {total} and {len(self.users)} were read")
        if len(self.users) + len(fresh) > total:
            raise _Unproven(f"{where}: more users than totalResults ({total})")
        for user in fresh:
            user_id = str(user.get("id"))
            if user_id in self.seen and not self.needs_confirmation:
                self.needs_confirmation = f"id {user_id} was served twice: confirmed by a second walk"
            self.seen.add(user_id)
        self.users.extend(fresh)
        if first and len(resources) < self.count and len(resources) < total:
            self.count, self.k = len(resources), overlap(len(resources))  # the server's real page size
            if not self.k and not self.needs_confirmation:
                self.needs_confirmation = "pages of 1 cannot overlap: confirmed by a second walk"
        set_total = getattr(self.on_page, "set_total", None)
        if first and set_total is not None:  # a progress bar learns the total from the first page
            set_total(total)
        if self.on_page:
            self.on_page(len(fresh))
        if len(self.users) >= total:
            self.done = True
        else:
            self.start = len(self.users) + 1 - self.k
        return fresh


# --- errors ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScimErrorInfo:
    """An error answer in either shape: SCIM (`status`, `scimType`, `detail`) or platform (`errorCode`,
    `message`, `errors[]`)."""

    status: int
    scim_type: str | None = None
    detail: str | None = None
    error_code: str | None = None
    message: str | None = None
    codes: tuple[str, ...] = ()

    @property
    def code(self) -> str | None:
        return self.scim_type or self.error_code

    def __str__(self) -> str:
        if self.error_code or self.codes:
            codes = self.error_code or ",".join(self.codes)
            return f"{codes}: {self.message or ''}".rstrip(": ")
        return " ".join(p for p in (self.scim_type, self.detail) if p) or f"HTTP {self.status}"


def parse_error(answer: requests.Response) -> ScimErrorInfo:
    try:
        body = answer.json()
    except ValueError:
        return ScimErrorInfo(answer.status_code, detail=echo_excerpt(answer) or None)
    if not isinstance(body, dict):
        return ScimErrorInfo(answer.status_code)
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    codes = tuple(str(e["errorCode"]) for e in errors if e.get("errorCode"))
    message = body.get("message") or next((e.get("message") for e in errors if e.get("message")), None)
    status = body.get("status")
    try:
        status_code = int(status) if status is not None else answer.status_code
    except (TypeError, ValueError):
        status_code = answer.status_code
    return ScimErrorInfo(
        status=status_code, scim_type=body.get("scimType"), detail=body.get("detail"),
        error_code=body.get("errorCode") or (codes[0] if codes else None), message=message, codes=codes,
    )


# --- discovery documents -------------------------------------------------------------------------
def schema_resources(document: Any) -> list[dict[str, Any]]:
    """The schema objects of a `/Schemas` answer (a ListResponse, or a bare list from some servers)."""
    items = document.get("Resources", []) if isinstance(document, dict) else document
    return [s for s in items or [] if isinstance(s, dict)]


# --- the client -----------------------------------------------------------------------------------
@dataclass
class ScimUsers:
    """Every user, and how they had to be read."""

    users: list[dict[str, Any]]
    list_omits: list[str] = field(default_factory=list)  # audited keys the list answers leave out
    detail_reads: int = 0  # GET /Users/{id} made to fill them in
    notes: list[str] = field(default_factory=list)


class ScimClient:
    def __init__(self, settings: Settings, session: requests.Session, token: RingCentralToken | None = None) -> None:
        self.settings = settings
        self.session = session
        self.token = token or RingCentralToken(settings, session)

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                rate_group: str = LIGHT, retry: Retry = "all", ok: tuple[int, ...] = (200,)) -> requests.Response:
        """One call; a 401 renews a JWT-grant token and retries once; anything not in `ok` raises."""
        url = f"{self.settings.scim_url}{path}"
        endpoint = f"{method} {path}"
        headers = {"Accept": "application/scim+json"}
        if body is not None:
            headers["Content-Type"] = "application/scim+json"
        for attempt in (1, 2):
            headers["Authorization"] = f"Bearer {self.token.for_url(url)}"
            try:
                answer = self.session.request(  # type: ignore[call-arg]
                    method, url, params=params, json=body, headers=headers, service="scim", rate_group=rate_group,
                    rate_key=self.token.rate_key, retry=retry)
            except requests.RequestException as exc:
                tries = getattr(exc, "rcaudit_attempts", 1)
                raise FetchError(f"SCIM {endpoint}: no answer ({type(exc).__name__}) after {tries} attempt(s)",
                                 endpoint=endpoint) from None
            if answer.status_code == 401 and attempt == 1 and not self.token.static:
                self.token.invalidate()
                continue
            if answer.status_code not in ok:
                raise self._failure(answer, endpoint, method)
            return answer
        raise AssertionError("unreachable")

    def _failure(self, answer: requests.Response, endpoint: str, method: str) -> Exception:
        info = parse_error(answer)
        status = answer.status_code
        tries = getattr(answer, "rcaudit_attempts", 1)
        if status == 401:
            fix = ("issue a new token or use the JWT grant (RCAUDIT_RC_CLIENT_ID, RCAUDIT_RC_CLIENT_SECRET, "
                   "RCAUDIT_RC_JWT)" if self.token.static else
                   "a freshly granted token was refused too: check the RingCentral app (RCAUDIT_RC_CLIENT_ID) and "
                   "RCAUDIT_SCIM_URL")
            return AuthError(f"RingCentral refused {self.token.kind} on SCIM {endpoint}: HTTP 401 {info} — {fix}",
                             response=answer)
        if status == 403:
            scope = "ReadAccounts" if method == "GET" else "EditAccounts"
            return PermissionDenied(f"SCIM {endpoint}: HTTP 403 {info} — the RingCentral app needs the {scope} "
                                    "permission (and an admin user behind the JWT)", permission=scope,
                                    response=answer, endpoint=endpoint, code=info.code)
        if status == 429:
            return RateLimited(f"SCIM {endpoint}: still throttled (HTTP 429 {info}) after {tries} attempt(s)",
                               response=answer, endpoint=endpoint, code=info.code)
        suffix = f" after {tries} attempt(s)" if tries > 1 else ""
        if 300 <= status < 400:
            return FetchError(f"SCIM {endpoint}: HTTP {status}, a redirect{redirect_target(answer)}: rcaudit never "
                              "follows redirects (a list or a write must come from RCAUDIT_SCIM_URL's server)",
                              response=answer, endpoint=endpoint, code=info.code)
        return FetchError(f"SCIM {endpoint}: HTTP {status} {info}{suffix}", response=answer, endpoint=endpoint,
                          code=info.code)

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.request("GET", path, params=params)
        try:
            body = answer.json()
        except ValueError:
            raise FetchError(f"SCIM GET {path}: the answer is not JSON (HTTP 200, {len(answer.content)} bytes)",
                             response=answer, endpoint=f"GET {path}") from None
        if not isinstance(body, dict):
            raise FetchError(f"SCIM GET {path}: the answer is not a JSON object", response=answer,
                             endpoint=f"GET {path}")
        return body

    # --- discovery ----------------------------------------------------------------------------------
    def service_provider_config(self) -> dict[str, Any]:
        return self.get("/ServiceProviderConfig")

    def schemas(self) -> list[dict[str, Any]]:
        return schema_resources(self.get("/Schemas"))

    @staticmethod
    def page_size(config: dict[str, Any]) -> int:
        """The largest page the server allows (`filter.maxResults`), else SCIM's usual 100."""
        try:
            size = int((config.get("filter") or {}).get("maxResults") or DEFAULT_PAGE)
        except (TypeError, ValueError):
            size = DEFAULT_PAGE
        return max(1, size)

    # --- users --------------------------------------------------------------------------------------
    def pages(self, count: int) -> Iterator[list[dict[str, Any]]]:
        """The new users of each page of one checked walk of `/Users` (a walk that breaks is a FetchError;
        `users` walks again instead, and confirms what one walk cannot prove)."""
        walk = _Walk(self, count)
        try:
            while (page := walk.next_page()) is not None:
                yield page
        except _Unproven as exc:
            raise FetchError(f"SCIM GET /Users: {exc}", endpoint="GET /Users") from None

    def users(self, count: int | None = None, *, on_page: OnCount | None = None,
              notes: list[str] | None = None) -> list[dict[str, Any]]:
        """Every user, as served, once the list is proven complete (see `_Walk`).

        A walk that cannot be proven is discarded and the list walked again, at most `REWALKS` times; then
        a `FetchError` with the expected and received counts. An id served twice is kept twice (the snapshot
        holds what the service served) but only once two walks served the very same list.
        """
        if count is None:
            count = self.page_size(self.service_provider_config())
        previous: list[dict[str, Any]] | None = None
        problems: list[str] = []
        walk: _Walk | None = None
        for _ in range(1 + REWALKS):
            walk = _Walk(self, count, on_page)
            try:
                users = walk.run()
            except _Unproven as exc:
                problems.append(str(exc))
                previous = None
                continue
            if not walk.needs_confirmation or (previous is not None and _ids(previous) == _ids(users)):
                if problems and notes is not None:
                    notes.append(f"SCIM user list read {len(problems) + 1} times to prove it complete: "
                                 + "; ".join(problems))
                return users
            problems.append(walk.needs_confirmation)
            previous = users
        assert walk is not None
        raise FetchError(f"SCIM GET /Users: the user list could not be proven complete in {1 + REWALKS} walks: "
                         f"expected {walk.expected if walk.expected is not None else 'an unknown number of'} users "
                         f"(totalResults), received {walk.received}; {'; '.join(problems)}", endpoint="GET /Users")

    def get_user(self, user_id: str) -> dict[str, Any]:
        return self.get(f"/Users/{quote(str(user_id), safe='')}")

    def patch_user(self, user_id: str, operations: list[dict[str, Any]]) -> dict[str, Any] | None:
        """PATCH (Heavy group); RingCentral answers 200 with the user, RFC 7644 servers may answer 204 (None).

        Only 429s are retried: a PATCH that may have been applied is not repeated blindly.
        """
        body = {"schemas": [PATCH_OP], "Operations": operations}
        path = f"/Users/{quote(str(user_id), safe='')}"
        answer = self.request("PATCH", path, body=body, rate_group=HEAVY, retry="throttled", ok=(200, 204))
        if answer.status_code == 204 or not answer.content:
            return None
        try:
            return dict(answer.json())
        except (ValueError, TypeError):
            raise FetchError(f"SCIM PATCH {path}: the answer is not JSON", response=answer,
                             endpoint=f"PATCH {path}") from None

    def fetch_users(self, audited_keys: Iterable[str], count: int | None = None, *,
                    on_page: OnCount | None = None,
                    on_details: Callable[[int], OnCount] | None = None) -> ScimUsers:
        """Every user, complete for `audited_keys` (top-level keys such as `addresses`).

        A key no listed user carries is either omitted by the list schema or held by nobody: up to
        `PROBES` users are read one by one to tell; if any of them has it, every user is read that way
        (`on_details(how many)` gives the callback that counts them).
        """
        notes: list[str] = []
        users = self.users(count, on_page=on_page, notes=notes)
        absent = [k for k in dict.fromkeys(audited_keys) if not any(k in u for u in users)]
        result = ScimUsers(users, notes=notes)
        if not absent or not users:
            return result
        details: dict[str, dict[str, Any]] = {}
        for user in users[:PROBES]:
            details[str(user["id"])] = self._detail(user, result)
        omitted = [k for k in absent if any(k in d for d in details.values())]
        if not omitted:
            result.detail_reads = len(details)
            result.notes.append(f"no SCIM user holds {', '.join(absent)} (checked {len(details)} one by one)")
            return result
        rest = [u for u in users if str(u["id"]) not in details]
        tick = on_details(len(rest)) if on_details else None
        for user in rest:
            details[str(user["id"])] = self._detail(user, result)
            if tick:
                tick(1)
        result.users = [details.get(str(u["id"]), u) for u in users]
        result.list_omits, result.detail_reads = omitted, len(details)
        result.notes.append(f"SCIM list answers omit {', '.join(omitted)}: read {len(details)} users one by one "
                            "(GET /Users/{id}, paced)")
        return result

    def _detail(self, user: dict[str, Any], result: ScimUsers) -> dict[str, Any]:
        """The full user; one deleted since the list was read keeps its list record, with a note."""
        try:
            return self.get_user(str(user["id"]))
        except FetchError as exc:
            if exc.status != 404:
                raise
            result.notes.append(f"SCIM user {user['id']} vanished while being read one by one (404): kept as listed")
            return user
