"""Emulated RingCentral SCIM 2.0 API and JWT grant. Filled in by the SCIM work."""

from __future__ import annotations

from .http_server import Service
from .state import SandboxState


class RingCentralService(Service):
    name = "rc"

    def __init__(self, state: SandboxState) -> None:
        super().__init__(state.faults)
        self.state = state
