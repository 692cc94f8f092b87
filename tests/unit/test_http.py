"""The session factory's retries, pacing, counts and redaction, on a fake clock: nothing really waits.

A stub transport answers in place of a server; for pacing it is the sandbox's own `RateLimiter` on the
same fake clock, so "never a 429, and no slower than the floor" is checked exactly.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from rcaudit.connect.http import Pacer, RetryPolicy, make_session, parse_retry_after, redact_url, stats_of
from rcaudit.model.errors import FetchError
from rcaudit.sandbox.servers.ratelimit import RateLimiter

Answer = tuple[int, dict[str, str], bytes] | Exception
BASE = "https://stub.example"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += max(0.0, seconds)


class Stub(BaseAdapter):
    """Answers every request with `handler(request)`; records what was sent and when."""

    def __init__(self, handler: Callable[[requests.PreparedRequest], Answer], clock: FakeClock) -> None:
        super().__init__()
        self.handler = handler
        self.clock = clock
        self.sent: list[tuple[float, str]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.sent.append((self.clock.now(), str(request.url)))
        outcome = self.handler(request)
        if isinstance(outcome, Exception):
            raise outcome
        status, headers, body = outcome
        response = requests.Response()
        response.status_code, response._content = status, body
        response.headers = CaseInsensitiveDict(headers)
        response.request, response.url = request, str(request.url)
        return response

    def close(self) -> None:
        pass


def stubbed(handler: Callable[[requests.PreparedRequest], Answer], retry: RetryPolicy | None = None,
            clock: FakeClock | None = None) -> tuple[requests.Session, Stub, FakeClock]:
    clock = clock or FakeClock()
    session = make_session(retry=retry or RetryPolicy(max_total=100, backoff=1, max_backoff=8), clock=clock)
    stub = Stub(handler, clock)
    session.mount(BASE, stub)
    return session, stub, clock


def sequence(*answers: Answer) -> Callable[[requests.PreparedRequest], Answer]:
    """Answer with each in turn, then repeat the last."""
    queue = list(answers)
    return lambda request: queue.pop(0) if len(queue) > 1 else queue[0]


OK: Answer = (200, {"Content-Type": "application/json"}, b"{}")


# --- pacing --------------------------------------------------------------------------------------
def rate_limited_server(limit: int, window: float, clock: FakeClock) -> Callable[[requests.PreparedRequest], Answer]:
    limiter = RateLimiter({"light": limit}, window, clock=clock.now)

    def answer(request: requests.PreparedRequest) -> Answer:
        decision = limiter.check("app", "light")
        return (200 if decision.allowed else 429), decision.headers(), b"{}"

    return answer


@pytest.mark.parametrize(("requests_made", "limit", "window"), [(160, 50, 60.0), (35, 10, 2.5), (10, 10, 60.0)])
def test_pacing_meets_the_floor_without_a_single_429(requests_made: int, limit: int, window: float) -> None:
    clock = FakeClock()
    session, stub, _ = stubbed(rate_limited_server(limit, window, clock), clock=clock)
    start = clock.now()
    for _ in range(requests_made):
        assert session.get(f"{BASE}/Users", rate_group="light", service="scim").status_code == 200
    floor = (math.ceil(requests_made / limit) - 1) * window
    assert clock.now() - start == pytest.approx(floor)
    assert stats_of(session).summary() == {"graph": 0, "scim": requests_made, "throttled": 0}
    times = [t for t, _ in stub.sent]
    for i in range(limit, len(times)):  # any `limit` consecutive requests span a whole window
        assert times[i] - times[i - limit] >= window


def test_a_window_opened_by_someone_else_is_respected() -> None:
    """Our first answer says 3 of 5 are left: the window began before us, so its end is not later than
    our first answer + W, and after 3 more requests we wait for it."""
    clock = FakeClock()
    server = rate_limited_server(5, 10.0, clock)
    for _ in range(2):
        server(None)  # type: ignore[arg-type]  # another client of the same app
    session, _, _ = stubbed(server, clock=clock)
    for _ in range(6):
        assert session.get(f"{BASE}/Users", rate_group="light").status_code == 200
    assert clock.sleeps == [pytest.approx(10.0)]


def test_a_429_starts_a_penalty_nothing_is_sent_inside() -> None:
    limiter_answers = sequence((429, {"Retry-After": "12.5", "X-Rate-Limit-Limit": "50",
                                      "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Window": "60"}, b"{}"), OK)
    session, stub, _ = stubbed(limiter_answers)
    assert session.get(f"{BASE}/Users", rate_group="light").status_code == 200
    (first, _), (second, _) = stub.sent
    assert second - first == pytest.approx(12.5), "Retry-After is a float, and honoured exactly"
    assert stats_of(session).throttled["other"] == 1


def test_a_ringcentral_429_without_retry_after_waits_30_seconds() -> None:
    session, stub, _ = stubbed(sequence((429, {}, b"{}"), OK))
    assert session.get(f"{BASE}/scim/v2/Users", rate_group="light").status_code == 200
    (first, _), (second, _) = stub.sent
    assert second - first == pytest.approx(30.0)


def test_a_group_with_no_answer_yet_sends_one_request_at_a_time() -> None:
    pacer = Pacer()
    inside, release, second_in = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with pacer.slot("rc", "light"):
            inside.set()
            release.wait(5)

    def second() -> None:
        with pacer.slot("rc", "light"):
            second_in.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    inside.wait(5)
    threads[1].start()
    assert not second_in.wait(0.1), "the second request waited for the first answer"
    with pacer.slot("rc", "heavy"):  # another group is not held up
        pass
    release.set()
    for thread in threads:
        thread.join(5)
    assert second_in.is_set()


# --- retries -------------------------------------------------------------------------------------
def test_5xx_and_dropped_connections_are_retried_with_growing_jittered_backoff() -> None:
    session, stub, clock = stubbed(sequence((500, {}, b""), requests.ConnectionError("reset"), (503, {}, b""), OK))
    assert session.get(f"{BASE}/users").status_code == 200
    assert len(stub.sent) == 4
    assert len(clock.sleeps) == 3
    for attempt, slept in enumerate(clock.sleeps, start=1):
        ceiling = min(8, 1 * 2 ** (attempt - 1))
        assert ceiling / 2 <= slept <= ceiling


def test_a_paced_group_still_backs_off_on_errors() -> None:
    session, stub, clock = stubbed(sequence((503, {}, b""), requests.ConnectionError("reset"), OK))
    assert session.get(f"{BASE}/scim/v2/Users", rate_group="light").status_code == 200
    assert len(stub.sent) == 3 and len(clock.sleeps) == 2 and all(s > 0 for s in clock.sleeps)


def test_retry_after_on_a_503_is_used_instead_of_backoff() -> None:
    session, _, clock = stubbed(sequence((503, {"Retry-After": "0.25"}, b""), OK))
    assert session.get(f"{BASE}/users").status_code == 200
    assert clock.sleeps == [0.25]


def test_the_retry_budget_caps_the_time_spent_and_returns_the_last_answer() -> None:
    session, stub, clock = stubbed(lambda r: (500, {}, b"down"), RetryPolicy(max_total=10, backoff=1, max_backoff=4))
    answer = session.get(f"{BASE}/users")
    assert answer.status_code == 500
    assert sum(clock.sleeps) <= 10
    assert answer.rcaudit_attempts == len(stub.sent) == len(clock.sleeps) + 1  # type: ignore[attr-defined]


def test_a_429_storm_gives_up_at_the_cap_and_never_loops_tightly() -> None:
    session, stub, _ = stubbed(lambda r: (429, {"Retry-After": "2"}, b""), RetryPolicy(max_total=9))
    assert session.get(f"{BASE}/users").status_code == 429
    assert len(stub.sent) == 5  # at 0, 2, 4, 6, 8 s: the next wait would pass 9 s
    gaps = [b[0] - a[0] for a, b in zip(stub.sent, stub.sent[1:], strict=False)]
    assert gaps == [2.0] * 4
    assert stats_of(session).throttled["other"] == 5


def test_a_429_storm_is_waited_out_for_the_whole_time_budget_not_a_number_of_tries() -> None:
    """Issue 10: a storm with a short Retry-After gave up after 10 tries in 0.9 s; the budget is time."""
    session, stub, clock = stubbed(lambda r: (429, {"Retry-After": "0.1"}, b""), RetryPolicy(max_total=30))
    started = clock.now()
    assert session.get(f"{BASE}/users").status_code == 429
    assert len(stub.sent) > 250 and 29.8 <= stub.sent[-1][0] - started <= 30.0
    assert all(b[0] - a[0] == pytest.approx(0.1) for a, b in zip(stub.sent, stub.sent[1:], strict=False))


def test_the_default_budget_is_the_readmes_five_minutes_of_retry_after() -> None:
    assert RetryPolicy().max_total == 300.0 and RetryPolicy().max_attempts is None
    session, stub, _ = stubbed(lambda r: (429, {}, b""), RetryPolicy())  # RingCentral: 30 s without a header
    answer = session.get(f"{BASE}/scim/v2/Users", rate_group="light")
    assert answer.status_code == 429 and answer.rcaudit_attempts == 11  # type: ignore[attr-defined]
    assert stub.sent[-1][0] - stub.sent[0][0] == pytest.approx(300.0), "tries at 0, 30, ... 300 s, then it gives up"


def test_a_retry_after_of_zero_backs_off_instead_of_looping_tightly() -> None:
    session, stub, clock = stubbed(lambda r: (429, {"Retry-After": "0"}, b""), RetryPolicy(max_total=5, backoff=1))
    assert session.get(f"{BASE}/users").status_code == 429
    assert clock.sleeps and all(s >= 0.5 for s in clock.sleeps) and len(stub.sent) < 10


def test_connection_errors_are_raised_when_the_budget_is_spent() -> None:
    session, stub, _ = stubbed(lambda r: requests.ConnectionError("refused"), RetryPolicy(max_attempts=3))
    with pytest.raises(requests.ConnectionError) as caught:
        session.get(f"{BASE}/users")
    assert caught.value.rcaudit_attempts == 3 == len(stub.sent)  # type: ignore[attr-defined]


def test_writes_marked_throttled_only_retry_a_429() -> None:
    session, stub, _ = stubbed(lambda r: (500, {}, b""))
    assert session.patch(f"{BASE}/Users/1", retry="throttled").status_code == 500
    assert len(stub.sent) == 1
    session, stub, _ = stubbed(sequence((429, {"Retry-After": "1"}, b""), OK))
    assert session.patch(f"{BASE}/Users/1", retry="throttled").status_code == 200
    assert len(stub.sent) == 2


def test_non_retryable_answers_come_back_at_once() -> None:
    for status in (400, 401, 403, 404, 409):
        session, stub, clock = stubbed(lambda r, status=status: (status, {}, b""))
        assert session.get(f"{BASE}/x").status_code == status
        assert len(stub.sent) == 1 and not clock.sleeps


def test_retry_after_parsing() -> None:
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(" 30 ") == 30.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)


# --- redaction -----------------------------------------------------------------------------------
SECRET, TOKEN, ASSERTION = "s3cr3t-value", "eyJhbGciOi.token.value", "jwt-assertion-value"


def test_logs_never_carry_credentials(caplog: pytest.LogCaptureFixture) -> None:
    session, _, _ = stubbed(sequence((500, {}, b""), OK))
    with caplog.at_level(logging.DEBUG, logger="rcaudit.http"):
        session.post(f"{BASE}/token?client_secret={SECRET}&code=abc&$top=5",
                     headers={"Authorization": f"Bearer {TOKEN}"},
                     data={"assertion": ASSERTION, "client_secret": SECRET})
    text = caplog.text
    assert "POST https://stub.example/token" in text and "$top=5" in text
    for secret in (SECRET, TOKEN, ASSERTION, "code=abc"):
        assert secret not in text


def test_redact_url_keeps_paging_and_filters() -> None:
    url = "https://g/v1.0/users?$select=id&$filter=appId eq 'x'&access_token=abc&sig=zzz"
    redacted = redact_url(url)
    assert "abc" not in redacted and "zzz" not in redacted
    assert "$select=id" in redacted and "appId eq 'x'" in redacted


def test_errors_carry_a_request_without_credentials() -> None:
    session, _, _ = stubbed(lambda r: (500, {}, b"{}"))
    answer = session.post(f"{BASE}/token", headers={"Authorization": f"Basic {TOKEN}"},
                          data={"assertion": ASSERTION})
    error = FetchError("token endpoint failed", response=answer)
    texts = (str(error), repr(error.request.headers), str(error.request.body), repr(error.response.request.headers))
    for text in texts:
        assert TOKEN not in text and ASSERTION not in text
    assert error.request.headers["Authorization"] == "REDACTED"
    assert error.status == 500
