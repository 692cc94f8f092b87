"""Emulated Microsoft identity platform (what MSAL talks to). Filled in by the login work."""

from __future__ import annotations

from .http_server import Router
from .state import SandboxState


def register_login(router: Router, state: SandboxState) -> None:
    """Add the OIDC discovery, token and device-code routes."""
