"""The two HTTPS services the sandbox runs: Entra (login + Graph) and RingCentral."""

from __future__ import annotations

from rcaudit.sandbox.servers.graph_api import graph_error, register_graph
from rcaudit.sandbox.servers.http_server import Request, Response, Service
from rcaudit.sandbox.servers.login import register_login
from rcaudit.sandbox.servers.scim_api import RingCentralService
from rcaudit.sandbox.servers.state import SandboxState


class EntraService(Service):
    """login.microsoftonline.com and graph.microsoft.com on one port: `/{tenant}/…` and `/v1.0/…`."""

    name = "graph"

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state.faults)
        self.state = state
        register_login(self.router, state)
        register_graph(self.router, state)

    def not_found(self, request: Request) -> Response:
        return graph_error(400, "BadRequest", f"Resource not found for the segment '{request.path}'.")

    def method_not_allowed(self, request: Request) -> Response:
        return graph_error(405, "Request_BadRequest", f"Method {request.method} is not allowed here.")

    def internal_error(self, request: Request, exc: BaseException) -> Response:
        return graph_error(500, "generalException", f"sandbox error: {type(exc).__name__}")


__all__ = ["EntraService", "RingCentralService"]
