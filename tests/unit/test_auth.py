"""Tokens against the sandbox over HTTPS: MSAL with a secret, a PEM certificate, a PFX and a device code
(interactive, persisted, refused when nobody can sign in); RingCentral's JWT grant renewed before expiry.

MSAL caches error answers per app object, so every test starts with no app (`reset_apps`).
"""

from __future__ import annotations

import os

import pytest

from rcaudit.connect import auth
from rcaudit.connect.auth import RingCentralToken, detect_interactive
from rcaudit.connect.config import Settings
from rcaudit.connect.http import make_session
from rcaudit.model.errors import AuthError


def test_interactive_detection_is_conservative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    assert detect_interactive() is False
    monkeypatch.delenv("CI")
    monkeypatch.setattr(auth, "_in_kernel", lambda: True)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert detect_interactive() is False, "a kernel papermill or nbval started"
    monkeypatch.setenv("JPY_SESSION_NAME", "audit.ipynb")
    monkeypatch.setenv("JPY_PARENT_PID", str(os.getpid()))
    assert detect_interactive() is False, "a kernel whose launcher is a batch runner (here: pytest)"
    monkeypatch.setenv("JPY_PARENT_PID", "999999999")
    assert detect_interactive() is True, "a kernel JupyterLab started"


def test_no_ringcentral_credential_names_the_settings() -> None:
    with pytest.raises(AuthError, match="RCAUDIT_SCIM_TOKEN"):
        RingCentralToken(Settings(), make_session())
