"""The one general fault knob of the sandbox.

A rule matches requests by service, method and a path regex, optionally only the Nth matching request
(and the `times` after it), and then answers a given status and body, drops the connection, delays,
sends malformed JSON (the real answer cut in half) or expires every token issued so far. Tests use it
to show that clients survive a 500 in the middle of paging, a dropped connection, a 409 and so on.

Some actions are carried out by the service that answers (the server only dispatches them; the service
reads `FaultSet.current()`, the rule that fired for the request its thread is handling):
- `mutate` (RingCentral): before answering, delete `delete` users from position `at` (0-based) and append
  `add` new ones, so a list walk sees the user set change while a page is in flight;
- `empty_page` (RingCentral lists): a 200 with `Resources: []` and the true `totalResults`;
- `omit_total` (RingCentral lists): the page without `totalResults`;
- `next_link` (Graph lists): the page's `@odata.nextLink` replaced by `body` (a URL).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["respond", "drop", "delay", "malformed", "expire_tokens", "mutate", "empty_page", "omit_total",
                 "next_link"]
ACTIONS: tuple[str, ...] = ("respond", "drop", "delay", "malformed", "expire_tokens", "mutate", "empty_page",
                            "omit_total", "next_link")
SERVICE_ACTIONS = frozenset({"mutate", "empty_page", "omit_total", "next_link"})  # carried out by the service


@dataclass
class Fault:
    """One rule. `nth` counts matching requests from 1; without it every match fires."""

    action: Action
    path: str = ".*"
    method: str = "*"
    service: str | None = None  # "graph" (login + Graph), "rc" (RingCentral), None: both
    nth: int | None = None
    times: int | None = None  # how many firings at most (default: 1 with `nth`, unlimited without)
    status: int = 500
    body: Any = None  # dict/list -> JSON; str/bytes -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    delete: int = 0  # mutate: users removed, from position `at`
    add: int = 0  # mutate: users appended
    at: int = 0
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown fault action {self.action!r}; expected one of {ACTIONS}")
        self._pattern = re.compile(self.path)
        if self.times is None and self.nth is not None:
            self.times = 1

    def matches(self, service: str, method: str, path: str) -> bool:
        return (
            (self.service is None or self.service == service)
            and (self.method == "*" or self.method.upper() == method)
            and self._pattern.search(path) is not None
        )

    def response(self) -> Any:
        from rcaudit.sandbox.servers.http_server import Response

        if isinstance(self.body, (dict, list)):
            return Response.json(self.status, self.body, self.headers)
        raw = self.body.encode() if isinstance(self.body, str) else (self.body or b"")
        return Response(self.status, raw, {"Content-Type": "application/json", **self.headers})

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        return json.loads(json.dumps(data, default=str))


class FaultSet:
    """The active rules; the first rule that matches and is due fires."""

    def __init__(self, expire_tokens: Callable[[], None] | None = None) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()
        self._local = threading.local()  # the rule that fired for the request this thread handles
        self._expire_tokens = expire_tokens or (lambda: None)

    def add(self, action: Action = "respond", **kwargs: Any) -> Fault:
        fault = Fault(action=action, **kwargs)
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[Fault]:
        with self._lock:
            return list(self._rules)

    def expire_tokens(self) -> None:
        self._expire_tokens()

    def current(self, action: str) -> Fault | None:
        """The rule of kind `action` that fired for the request this thread is answering, if any."""
        fault: Fault | None = getattr(self._local, "fault", None)
        return fault if fault is not None and fault.action == action else None

    def take(self, service: str, method: str, path: str) -> Fault | None:
        """The rule that fires for this request, if any (and count it); remembered for `current()`."""
        fault = self._take(service, method, path)
        self._local.fault = fault
        return fault

    def _take(self, service: str, method: str, path: str) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if not rule.matches(service, method, path):
                    continue
                rule.seen += 1
                if rule.nth is not None and rule.seen < rule.nth:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                rule.fired += 1
                return rule
        return None
