"""The one HTTP session factory every client uses: TLS, timeouts, retries, rate-limit pacing, counts, logs.

`trust_env=False` is not optional: machines (this one included) set REQUESTS_CA_BUNDLE, which would
silently override `verify`. TLS verification always stays on; an extra CA (the sandbox's) is added to
the public roots, never substituted for verification. HTTPS only: `http://` is mounted on an adapter
that refuses, and every request's URL is checked first (a `ConfigError`), redirects included.

Retries: 429/500/502/503/504 and connection errors, with exponential backoff and jitter, `Retry-After`
read as a float (RingCentral: at least 30 s when a 429 has none), for as long as the time budget
allows (`RetryPolicy.max_total`, RCAUDIT_RETRY_MAX_SECONDS): a wait that would pass it is not started.
When the budget is spent the last answer is returned (or the last connection error raised) and the
client turns it into a typed error (a 429: `RateLimited`).

Pacing: RingCentral tells its limits in `X-Rate-Limit-Limit/-Remaining/-Window`; a request inside a
penalty restarts the penalty, so reacting to 429s is not enough. The `Pacer` keeps, per host and rate
group, what the last answer said and holds a request back until it cannot exceed the limit. Until the
first answer of a group arrives nothing is known, so a group's requests go one at a time.

Logs (`logging.getLogger("rcaudit.http")`) carry method, redacted URL, status, time and attempt: never
headers, bodies, or credential-like query values.
"""

from __future__ import annotations

import atexit
import contextlib
import email.utils
import hashlib
import logging
import math
import os
import random
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import certifi
import requests
from requests.adapters import HTTPAdapter

from rcaudit import __version__
from rcaudit.connect.config import describe_origin, require_https
from rcaudit.model.errors import REDACTED, SENSITIVE_FIELD, ConfigError, RateLimited, scrub, sent_credentials

DEFAULT_TIMEOUT = (10.0, 60.0)  # connect, read (seconds)
USER_AGENT = f"rcaudit/{__version__}"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
Retry = Literal["all", "throttled", "none"]  # what a request may be retried on
NOTICEABLE_WAIT = 5.0  # pacing waits at least this long are logged as warnings: a person may wonder why
log = logging.getLogger("rcaudit.http")


_bundles: dict[bytes, str] = {}  # content digest -> merged bundle this process wrote
_bundles_lock = threading.Lock()
_bundle_dir: Path | None = None


def _private_dir() -> Path:
    """A directory only this user can write (mkdtemp: mode 700, a fresh name), removed at exit."""
    global _bundle_dir
    if _bundle_dir is None or not _bundle_dir.is_dir():
        _bundle_dir = Path(tempfile.mkdtemp(prefix="rcaudit-ca-"))
        atexit.register(shutil.rmtree, _bundle_dir, True)
    return _bundle_dir


def _read_ca(extra_ca: str | Path, setting: str) -> bytes:
    """The extra CA's PEM bytes; a missing, unreadable or non-PEM file is a ConfigError naming `setting`."""
    path = Path(extra_ca).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read the CA bundle {path}: {exc.strerror or exc}") from None
    try:
        from cryptography import x509

        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        certificates = []
    if not certificates:
        raise ConfigError(f"{setting}: {path} holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)")
    return data


def trust_bundle(extra_ca: str | Path | None, setting: str = "RCAUDIT_CA_BUNDLE") -> str:
    """A CA bundle path: the public roots plus `extra_ca` when given.

    The merged file is written fresh by this process (O_EXCL, mode 600) in a private mkdtemp directory:
    a predictable shared name could be pre-created by another local user with a CA of their choosing.
    """
    roots = Path(certifi.where())
    if not extra_ca:
        return str(roots)
    extra = _read_ca(extra_ca, setting)
    digest = hashlib.sha256(extra).digest()
    with _bundles_lock:
        known = _bundles.get(digest)
        if known is not None and Path(known).is_file():
            return known
        merged = _private_dir() / f"bundle-{len(_bundles)}-{digest.hex()[:16]}.pem"
        fd = os.open(merged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(roots.read_bytes() + b"\n" + extra)
        _bundles[digest] = str(merged)
        return str(merged)


# --- time -------------------------------------------------------------------------------------------
class Clock(Protocol):
    """Monotonic time and sleep; injectable so the pacer's and the retries' tests never really wait."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How long one request may keep retrying: `max_total` seconds (RCAUDIT_RETRY_MAX_SECONDS, default 300).

    The budget is time, not tries: a 429 storm with a short `Retry-After` is waited out for as long as
    the budget allows. `max_attempts` is an optional extra cap (None: none), for a quick connection test.
    """

    max_total: float = 300.0
    max_attempts: int | None = None
    backoff: float = 0.5  # first backoff; doubles each attempt, with jitter
    max_backoff: float = 30.0
    rc_retry_after: float = 30.0  # RingCentral's advice when a 429 carries no Retry-After

    def backoff_for(self, attempt: int, rng: random.Random) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so retries do not align."""
        ceiling = min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 60))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` in seconds (a float: RingCentral and the sandbox may send fractions), or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --- counts -----------------------------------------------------------------------------------------
@dataclass
class RequestStats:
    """Requests sent and 429 answers received, per service label (`graph`, `scim`, `login`, `rc_auth`)."""

    requests: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, service: str, throttled: bool) -> None:
        with self._lock:
            self.requests[service] += 1
            if throttled:
                self.throttled[service] += 1

    def summary(self) -> dict[str, int]:
        """`summary.json`'s `requests`: Graph and SCIM requests (retries included) and their 429s."""
        with self._lock:
            return {"graph": self.requests["graph"], "scim": self.requests["scim"],
                    "throttled": self.throttled["graph"] + self.throttled["scim"]}


# --- pacing -----------------------------------------------------------------------------------------
@dataclass
class _Group:
    """What the last answers of one (host, rate group) said."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    limit: int | None = None
    window: float | None = None
    remaining: int | None = None
    window_end: float | None = None  # by then the current window has surely closed
    penalty_until: float = 0.0


def _header_number(headers: Any, name: str) -> float | None:
    """A finite, non-negative number from a header (a NaN, an infinity or a negative one teaches nothing)."""
    try:
        value = float(headers[name])
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) and value >= 0 else None


class Pacer:
    """Holds requests back so a (host, group) never exceeds its limit nor sends inside a penalty.

    The window is taken to open no earlier than the answer that showed it open, so its end is never
    under-estimated (the cost is one round trip per window). Requests of one group are serialised: a
    group's state is only known after each answer, and the first answer is what tells the limit.
    """

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self._groups: dict[tuple[str, str, str], _Group] = {}
        self._lock = threading.Lock()

    def group(self, host: str, name: str, key: str = "") -> _Group:
        """The state of one rate group; `key` tells apart callers the service counts separately (RingCentral
        counts per user + app: a token or app id fingerprint)."""
        group_key = (host.lower(), name.lower(), key)
        with self._lock:
            return self._groups.setdefault(group_key, _Group())

    def delay(self, group: _Group) -> float:
        """Seconds before this group may send again."""
        until = group.penalty_until
        if group.remaining is not None and group.remaining <= 0 and group.window_end is not None:
            until = max(until, group.window_end)
        return max(0.0, until - self.clock.now())

    @contextlib.contextmanager
    def slot(self, host: str, name: str | None, key: str = "",
             max_wait: float | None = None) -> Iterator[_Group | None]:
        """Wait until a request of group `name` may go, and hold the group until its answer is observed.

        A wait longer than `max_wait` (what is left of the request's retry budget) is not started: the service
        asked for more patience than RCAUDIT_RETRY_MAX_SECONDS allows, which is a RateLimited error now rather
        than a process that sleeps for a day."""
        if name is None:
            yield None
            return
        group = self.group(host, name, key)
        with group.lock:
            while (wait := self.delay(group)) > 0:
                if max_wait is not None and wait > max_wait:
                    raise RateLimited(f"{host} ({name} group) asks to wait {wait:.0f} s before the next request, "
                                      f"beyond the {max_wait:.0f} s left of the retry budget "
                                      "(RCAUDIT_RETRY_MAX_SECONDS)", endpoint=host)
                level = logging.WARNING if wait >= NOTICEABLE_WAIT else logging.DEBUG
                log.log(level, "pacing %s (%s group: %s requests per %s s): waiting %.1f s", host, name,
                        group.limit if group.limit is not None else "?", f"{group.window:g}" if group.window else "?",
                        wait)
                self.clock.sleep(wait)
            if group.window_end is not None and self.clock.now() >= group.window_end:
                group.remaining, group.window_end = None, None  # that window is over
            yield group

    def observe(self, group: _Group, headers: Any, sent: float, received: float) -> None:
        """Learn from an answer's `X-Rate-Limit-*` headers (absent: nothing to learn)."""
        limit = _header_number(headers, "X-Rate-Limit-Limit")
        remaining = _header_number(headers, "X-Rate-Limit-Remaining")
        window = _header_number(headers, "X-Rate-Limit-Window")
        if limit is None or remaining is None or window is None:
            return
        opened = (group.window_end is None or sent >= group.window_end
                  or (group.remaining is not None and remaining >= group.remaining))
        if opened:
            group.window_end = received + window
        group.limit, group.remaining, group.window = int(limit), int(remaining), window

    def penalise(self, group: _Group, seconds: float, received: float) -> None:
        """A 429: nothing may be sent before `received + seconds` (a request inside would restart it)."""
        group.penalty_until = max(group.penalty_until, received + seconds)
        group.remaining, group.window_end = None, None


_shared_pacer = Pacer()  # rate limits are per user + app, not per session: every session shares it


# --- redaction --------------------------------------------------------------------------------------
def redact_url(url: str) -> str:
    """The URL with credential-like query values (`code`, `*token`, `*secret`, `assertion`…) replaced."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [(k, REDACTED if SENSITIVE_FIELD.search(k.lstrip("$")) else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(query=urlencode(query, safe="$(),'= ", quote_via=quote)))


def echo_excerpt(answer: requests.Response, limit: int = 200) -> str:
    """The start of a non-JSON answer's text for an error, scrubbed of the credentials its request carried
    before it is cut (a cut echo of a long token would no longer match it whole)."""
    return scrub(answer.text, sent_credentials(answer.request))[:limit]


# --- where requests may go -------------------------------------------------------------------------
class _RefusePlainHttp(HTTPAdapter):
    """Mounted on `http://` so nothing can ever be sent in clear text, even by code that skips `request()`."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        require_https(str(request.url))
        raise AssertionError("unreachable")


# --- the session ------------------------------------------------------------------------------------
class _Session(requests.Session):
    """A session with a default timeout, retries, pacing, counts and redacted logs.

    `request()` takes extra keywords: `service` (the label requests are counted under), `rate_group`
    (RingCentral's group: `light`, `heavy`, `auth`; None: not paced), `rate_key` (whose limit it is) and
    `retry` (`all`; `throttled` only retries 429s, for writes that must not be repeated blindly; `none`).
    """

    def __init__(self, timeout: tuple[float, float], retry: RetryPolicy, clock: Clock, pacer: Pacer,
                 service: str) -> None:
        super().__init__()
        self._timeout = timeout
        self.retry_policy = retry
        self.clock = clock
        self.pacer = pacer
        self.stats = RequestStats()
        self.default_service = service
        self._rng = random.Random()

    def request(self, method: str | bytes, url: str | bytes, *args: Any, service: str | None = None,
                rate_group: str | None = None, rate_key: str = "", retry: Retry = "all",
                **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        if kwargs["timeout"] is None:
            kwargs["timeout"] = self._timeout
        # Never follow a redirect: a 3xx could hand credentials, personal data or a PATCH to another server, or
        # answer a list from one. Neither Graph nor RingCentral redirects these APIs, so a 3xx is the final
        # answer, and every client turns a status it did not ask for into an error.
        kwargs["allow_redirects"] = False
        method_s = method.decode() if isinstance(method, bytes) else str(method)
        url_s = url.decode() if isinstance(url, bytes) else str(url)
        label = service or self.default_service
        require_https(url_s)
        host = urlsplit(url_s).netloc
        policy, clock = self.retry_policy, self.clock
        started = clock.now()
        attempt = 0
        while True:
            attempt += 1
            error: requests.RequestException | None = None
            answer: requests.Response | None = None
            budget_left = max(0.0, policy.max_total - (clock.now() - started))
            with self.pacer.slot(host, rate_group, rate_key, max_wait=budget_left) as group:
                sent = clock.now()
                try:
                    answer = super().request(method_s, url_s, *args, **kwargs)
                except (requests.ConnectionError, requests.Timeout) as exc:
                    error = exc
                received = clock.now()
                status = answer.status_code if answer is not None else None
                self.stats.count(label, status == 429)
                if answer is not None and group is not None:
                    self.pacer.observe(group, answer.headers, sent, received)
                wait = self._wait(answer, error, attempt, group, received, rate_group is not None)
            outcome = status if status is not None else type(error).__name__
            log.debug("%s %s -> %s in %.3f s (%s, attempt %d)", method_s,
                      redact_url(answer.url if answer is not None else url_s), outcome, received - sent, label, attempt)
            retryable = wait is not None and (retry == "all" or (retry == "throttled" and status == 429))
            capped = policy.max_attempts is not None and attempt >= policy.max_attempts
            over = capped or clock.now() - started + (wait or 0) > policy.max_total
            if not retryable or over:
                if retryable:
                    log.warning("%s %s: giving up after %d attempts in %.1f s (last: %s)", method_s,
                                redact_url(url_s).split("?")[0], attempt, clock.now() - started, outcome)
                if error is not None:
                    error.rcaudit_attempts = attempt  # type: ignore[attr-defined]
                    raise error
                assert answer is not None
                answer.rcaudit_attempts = attempt  # type: ignore[attr-defined]
                return answer
            log.info("%s %s -> %s: retrying in %.2f s (attempt %d)", method_s, redact_url(url_s).split("?")[0],
                     outcome, wait, attempt)
            if answer is not None:
                answer.close()
            if not (group is not None and status == 429):  # a 429's penalty is waited out in the pacer
                clock.sleep(wait or 0)

    def _wait(self, answer: requests.Response | None, error: Exception | None, attempt: int, group: _Group | None,
              received: float, ringcentral: bool) -> float | None:
        """Seconds to wait before retrying, or None when the outcome is final."""
        policy = self.retry_policy
        if error is not None:
            return policy.backoff_for(attempt, self._rng)
        assert answer is not None
        if answer.status_code not in RETRY_STATUSES:
            return None
        retry_after = parse_retry_after(answer.headers.get("Retry-After"))
        if answer.status_code == 429:
            rc = ringcentral or "X-Rate-Limit-Limit" in answer.headers
            if retry_after is None:
                retry_after = policy.rc_retry_after if rc else policy.backoff_for(attempt, self._rng)
            elif retry_after <= 0:  # "retry now" is no advice: back off, never loop tightly
                retry_after = policy.backoff_for(attempt, self._rng)
            if group is not None:
                self.pacer.penalise(group, retry_after, received)
            return retry_after
        return retry_after if retry_after is not None else policy.backoff_for(attempt, self._rng)


def make_session(ca_bundle: str | Path | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 pool_size: int = 8, *, retry: RetryPolicy | None = None, clock: Clock | None = None,
                 pacer: Pacer | None = None, service: str = "other") -> requests.Session:
    """The session for every client. A `clock` without a `pacer` gets its own pacer on that clock;
    otherwise sessions share one process-wide pacer (RingCentral counts per user + app, not per session)."""
    clock = clock or (pacer.clock if pacer else SystemClock())
    if pacer is None:
        pacer = _shared_pacer if isinstance(clock, SystemClock) else Pacer(clock)
    session = _Session(timeout, retry or RetryPolicy(), clock, pacer, service)
    session.trust_env = False
    session.verify = trust_bundle(ca_bundle)
    session.headers["User-Agent"] = USER_AGENT
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", _RefusePlainHttp())
    return session


def redirect_target(answer: requests.Response) -> str:
    """` to <scheme://host:port>` of a redirect's Location, for messages (never its path: it may carry tokens)."""
    location = answer.headers.get("Location")
    return f" to {describe_origin(location)}" if location and "://" in location else ""


def stats_of(session: requests.Session) -> RequestStats:
    """The request counts of a session made by `make_session` (an empty record for any other session)."""
    stats = getattr(session, "stats", None)
    return stats if isinstance(stats, RequestStats) else RequestStats()
