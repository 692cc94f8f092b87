"""RingCentral's rate limiting, as DESIGN.md "Rate limits" defines it.

Per key (user + app) and group, a window opens with the first request after the previous window
closed and lasts W seconds; `X-Rate-Limit-Remaining` is L minus the requests so far in it. Request
L+1 inside a window gets 429 and starts a penalty of W seconds that every request inside it restarts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    window_start: float | None = None
    count: int = 0
    penalty_until: float = 0.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    group: str
    limit: int
    remaining: int
    window: float
    retry_after: float | None = None

    def headers(self) -> dict[str, str]:
        """The X-Rate-Limit-* headers (group in lower case, as in RingCentral's docs)."""
        out = {
            "X-Rate-Limit-Group": self.group,
            "X-Rate-Limit-Limit": str(self.limit),
            "X-Rate-Limit-Remaining": str(self.remaining),
            "X-Rate-Limit-Window": _seconds(self.window),
        }
        if self.retry_after is not None:
            out["Retry-After"] = _seconds(self.retry_after)
        return out


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class RateLimiter:
    """Counts requests per (key, group); thread-safe; the clock is injectable for unit tests."""

    def __init__(
        self, limits: dict[str, int], window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = dict(limits)
        self.window = float(window)
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def configure(self, limits: dict[str, int], window: float) -> None:
        with self._lock:
            self.limits = dict(limits)
            self.window = float(window)
            self._buckets.clear()

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()

    def check(self, key: str, group: str) -> Decision:
        limit = int(self.limits[group])
        window = self.window
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault((key, group), _Bucket())
            if bucket.penalty_until > now:
                bucket.penalty_until = now + window  # a request inside the penalty restarts it
                return Decision(False, group, limit, 0, window, window)
            if bucket.window_start is None or now >= bucket.window_start + window:
                bucket.window_start, bucket.count = now, 0
            bucket.count += 1
            if bucket.count > limit:
                bucket.penalty_until = now + window
                bucket.window_start, bucket.count = None, 0
                return Decision(False, group, limit, 0, window, window)
            return Decision(True, group, limit, limit - bucket.count, window)
