"""Posting a run's notice to webhooks: the only network code of notifications.

Webhook URLs are secrets (whoever holds one can post to the channel), so they come from the environment only
(`RCAUDIT_NOTIFY_URLS`: a URL on the command line would show in `ps`, crontabs and CI logs) and never appear in
an output, a log line or an error: a target is shown as `slack #2 (https://hooks.slack.com)`, its origin only.
Requests go through rcaudit's one session factory (`make_session`: HTTPS only, TLS verification on with the
public roots plus `RCAUDIT_CA_BUNDLE`, no redirects), with rcaudit's own bounded retries, and that session's
log lines are scrubbed of the URL while a post is in flight. A failed post never fails the audit: the caller
logs the outcome in run.log and the summary line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from rcaudit.connect.config import describe_origin
from rcaudit.connect.http import RetryPolicy, make_session, parse_retry_after
from rcaudit.model.errors import ConfigError

SETTING = "RCAUDIT_NOTIFY_URLS"
KINDS = ("teams", "slack", "json")
ATTEMPTS = 3  # per target
BACKOFF = 1.0  # seconds before the second attempt; doubles after
MAX_WAIT = 10.0  # the longest Retry-After honoured between attempts
TIMEOUT = (5.0, 15.0)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Target:
    """One webhook; `url` stays out of repr and every message."""

    kind: str
    index: int
    url: str = field(repr=False)

    @property
    def label(self) -> str:
        return f"{self.kind} #{self.index} ({describe_origin(self.url)})"


def parse_targets(env: Mapping[str, str] | None = None) -> list[Target]:
    """RCAUDIT_NOTIFY_URLS: whitespace-separated `teams:`, `slack:` or `json:` + an https URL. A malformed entry
    is a ConfigError naming its position and never its text (it may be a webhook URL)."""
    raw = (os.environ if env is None else env).get(SETTING, "")
    targets = []
    for index, entry in enumerate(raw.split(), start=1):
        kind, sep, url = entry.partition(":")
        if not sep or kind.lower() not in KINDS:
            raise ConfigError(f"{SETTING} entry {index}: expected teams:, slack: or json: followed by an https URL "
                              "(the entry is not shown: it may hold a webhook secret)")
        parts = urlsplit(url)
        if parts.scheme.lower() != "https" or not parts.hostname:
            raise ConfigError(f"{SETTING} entry {index} ({kind.lower()}): not an https URL with a host; webhooks are "
                              "only posted over HTTPS (the URL is not shown: it is a secret)")
        if parts.username is not None or parts.password is not None:
            raise ConfigError(f"{SETTING} entry {index} ({kind.lower()}): a user name or password in the URL "
                              "is refused")
        targets.append(Target(kind.lower(), index, url))
    return targets


@dataclass(frozen=True)
class Outcome:
    target: str  # the label: kind, position, origin
    sent: bool
    attempts: int
    detail: str  # `HTTP 202`, `HTTP 500`, `ConnectionError`: never the URL nor a response body

    @property
    def tries(self) -> str:
        return f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"

    def line(self) -> str:
        return f"notify {self.target}: {'sent' if self.sent else 'FAILED'} ({self.detail}, {self.tries})"


class _Scrub(logging.Filter):
    """Rewrites log records of the HTTP session that would show a webhook's URL, path or query."""

    def __init__(self, secrets_: list[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets_ if len(s) > 1}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if any(s in text for s in self.secrets):
            for secret in self.secrets:
                text = text.replace(secret, "[webhook]")
            record.msg, record.args = text, ()
        return True


@contextlib.contextmanager
def scrubbed_http_logs(targets: list[Target]) -> Iterator[None]:
    secrets_: list[str] = []
    for target in targets:
        parts = urlsplit(target.url)
        secrets_ += [target.url, parts.path + ("?" + parts.query if parts.query else ""), parts.path, parts.query]
    scrub = _Scrub([s for s in secrets_ if s and s != "/"])
    logger = logging.getLogger("rcaudit.http")
    logger.addFilter(scrub)
    try:
        yield
    finally:
        logger.removeFilter(scrub)


def _attempt(session: requests.Session, target: Target, body: dict[str, Any]) -> tuple[int | None, str, float | None]:
    """(status or None, detail, Retry-After) of one POST; exceptions become their type's name only."""
    try:
        answer = session.post(target.url, json=body, retry="none", service="notify")  # type: ignore[call-arg]
    except requests.RequestException as exc:
        return None, type(exc).__name__, None
    with answer:
        return answer.status_code, f"HTTP {answer.status_code}", parse_retry_after(answer.headers.get("Retry-After"))


def post(session: requests.Session, target: Target, body: dict[str, Any], attempts: int = ATTEMPTS,
         backoff: float = BACKOFF, sleep: Callable[[float], None] = time.sleep) -> Outcome:
    """POST `body` to one target, retrying connection errors, timeouts, 408, 429 and 5xx up to `attempts` times
    with exponential backoff (a Retry-After up to MAX_WAIT seconds is honoured)."""
    detail = "not sent"
    for attempt in range(1, attempts + 1):
        status, detail, retry_after = _attempt(session, target, body)
        if status is not None and 200 <= status < 300:
            return Outcome(target.label, True, attempt, detail)
        if (status is not None and status not in RETRY_STATUSES) or attempt == attempts:
            return Outcome(target.label, False, attempt, detail)
        sleep(min(MAX_WAIT, retry_after if retry_after is not None else backoff * 2 ** (attempt - 1)))
    return Outcome(target.label, False, attempts, detail)


def post_all(targets: list[Target], bodies: Mapping[str, dict[str, Any]], ca_bundle: str | None = None,
             attempts: int = ATTEMPTS, backoff: float = BACKOFF) -> list[Outcome]:
    """Post each target its kind's body; never raises for a failed post (the outcomes say what happened)."""
    if not targets:
        return []
    outcomes = []
    with scrubbed_http_logs(targets):
        try:
            session = make_session(ca_bundle, timeout=TIMEOUT, retry=RetryPolicy(max_total=0.0, max_attempts=1),
                                   service="notify")
        except ConfigError as exc:  # an unreadable RCAUDIT_CA_BUNDLE: names the setting, not a webhook
            return [Outcome(t.label, False, 0, exc.message) for t in targets]
        with session:
            for target in targets:
                try:
                    outcomes.append(post(session, target, bodies[target.kind], attempts, backoff))
                except Exception as exc:  # a notification must never fail the audit
                    outcomes.append(Outcome(target.label, False, 0, type(exc).__name__))
    return outcomes
