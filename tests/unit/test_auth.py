"""Credential settings without a token request: when a run counts as interactive (a device code may be
offered), and a RingCentral credential missing is named by its settings. The token requests themselves, over
HTTPS to the sandbox, are in tests/integration/test_auth.py."""

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
