"""Minimal HTTPS server plumbing shared by the two emulators.

Each emulator is a `Router` of (method, path regex) -> handler. The plumbing parses the request,
applies the fault knobs (`faults.py`), dispatches, and writes the answer with HTTP/1.1 keep-alive so
clients reuse connections as they do against the real services. It binds 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import parse_qsl, urlsplit

from rcaudit.sandbox.servers.faults import FaultSet


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str  # URL path without the query string, percent-decoding left to the route
    query: dict[str, str]
    raw_query: str
    headers: Message
    body: bytes
    base_url: str  # scheme://host:port of this server

    def header(self, name: str, default: str | None = None) -> str | None:
        value = self.headers.get(name)
        return default if value is None else value

    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def json(self) -> Any:
        """The JSON body; an unparsable body is the caller's error (raised as `BadJson`)."""
        try:
            return json.loads(self.body.decode("utf-8") or "null")
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadJson(str(exc)) from exc

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


class BadJson(ValueError):
    """A request body that is not JSON."""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: dict[str, str] | None = None,
        content_type: str = "application/json; charset=utf-8",
    ) -> Response:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return cls(status, body, {"Content-Type": content_type, **(headers or {})})

    @classmethod
    def empty(cls, status: int = 204, headers: dict[str, str] | None = None) -> Response:
        return cls(status, b"", dict(headers or {}))


class HttpError(Exception):
    """Raised by a handler to answer with `response` (an error in the service's own shape)."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[..., Response]
H = TypeVar("H", bound=Callable[..., Any])


class Router(Generic[H]):
    """Routes (method, path) to handlers; path patterns are regexes with named groups. Generic in the
    handler type: the services route to `Handler`s, Graph's inner router to handlers returning a JSON body."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], H]] = []

    def add(self, method: str, pattern: str, handler: H) -> None:
        self._routes.append((method.upper(), re.compile(pattern + r"\Z"), handler))

    def match(self, method: str, path: str) -> tuple[H, dict[str, str]] | Literal[False] | None:
        """The handler and its path groups; False when the path exists for another method only."""
        path_known = False
        for route_method, pattern, handler in self._routes:
            found = pattern.match(path)
            if found:
                if route_method == method:
                    return handler, found.groupdict()
                path_known = True
        return False if path_known else None


class Service:
    """One emulated service: a router plus the answers for unknown routes and uncaught errors."""

    name = "service"

    def __init__(self, faults: FaultSet) -> None:
        self.router: Router[Handler] = Router()
        self.faults = faults

    def not_found(self, request: Request) -> Response:
        return Response.json(404, {"error": "not found", "path": request.path})

    def method_not_allowed(self, request: Request) -> Response:
        return Response.json(405, {"error": "method not allowed"})

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        return Response.json(500, {"error": "internal error", "detail": type(exc).__name__})

    def before(self, request: Request) -> Response | None:
        """A hook run before routing (auth, rate limits); an answer short-circuits the route."""
        return None

    def after(self, request: Request, response: Response) -> Response:
        """A hook run on every answer (rate-limit headers)."""
        return response

    def dispatch(self, request: Request) -> Response:
        try:
            early = self.before(request)
            if early is not None:
                return self.after(request, early)
            found = self.router.match(request.method, request.path)
            if found is None:
                response = self.not_found(request)
            elif found is False:
                response = self.method_not_allowed(request)
            else:
                handler, groups = found
                response = handler(request, **groups)
        except HttpError as err:
            response = err.response
        except Exception as exc:  # an emulator bug must surface as a 500, not a hung client
            response = self.internal_error(request, exc)
        return self.after(request, response)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle + delayed ACKs that costs ~40 ms a request.
    disable_nagle_algorithm = True
    server: _TLSServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state, not logs
        pass

    def _handle(self) -> None:
        service = self.server.service
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command.upper(),
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            raw_query=split.query,
            headers=self.headers,
            body=body,
            base_url=self.server.base_url,
        )
        self.server.record(request)
        fault = service.faults.take(service.name, request.method, request.path)
        if fault is not None:
            if fault.action == "drop":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.action == "delay":
                time.sleep(fault.seconds)
            elif fault.action == "expire_tokens":
                service.faults.expire_tokens()
            elif fault.action == "respond":
                self._send(fault.response())
                return
        response = service.dispatch(request)
        if fault is not None and fault.action == "malformed":
            response = Response(response.status, response.body[: max(1, len(response.body) // 2)],
                                response.headers)
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD" and response.body:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, port: int, service: Service, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", port), _RequestHandler)
        self.service = service
        self.context = context
        self.base_url = f"https://127.0.0.1:{self.server_address[1]}"
        self.requests_seen: list[tuple[str, str]] = []
        self._log_lock = threading.Lock()

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        # Handshake in the handler thread, not in accept(): one slow client must not stall the rest.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:  # client hang-ups are normal
        pass

    def record(self, request: Request) -> None:
        with self._log_lock:
            self.requests_seen.append((request.method, request.path))


class RunningServer:
    """A `Service` served over HTTPS on 127.0.0.1 in a daemon thread."""

    def __init__(self, service: Service, context: ssl.SSLContext, port: int = 0) -> None:
        self._server = _TLSServer(port, service, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
            name=f"rcaudit-sandbox-{service.name}", daemon=True,
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return self._server.base_url

    @property
    def requests_seen(self) -> list[tuple[str, str]]:
        """(method, path) of every request received, in order: tests count calls with it."""
        return self._server.requests_seen

    def start(self) -> RunningServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever: never call it on an unstarted server
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
