"""Emulated Microsoft Graph v1.0. Filled in by the Graph work."""

from __future__ import annotations

import datetime as dt
import uuid

from .http_server import Response, Router
from .state import SandboxState


def graph_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """An error in Graph's shape: {"error": {"code", "message", "innerError": {…}}}."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    request_id = str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": now, "request-id": request_id, "client-request-id": request_id},
        }
    }
    return Response.json(status, body, headers)


def register_graph(router: Router, state: SandboxState) -> None:
    """Add the `/v1.0/…` routes."""
