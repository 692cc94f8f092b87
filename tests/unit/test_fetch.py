"""`fetch_snapshot` with nothing configured: an error naming the settings, before any request. The fetch
against the sandbox over HTTPS is in tests/integration/test_fetch.py."""

from __future__ import annotations

import pytest

from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.model.errors import ConfigError


def test_nothing_configured_is_an_error_naming_the_settings() -> None:
    with pytest.raises(ConfigError, match=r"RCAUDIT_TENANT_ID.*RCAUDIT_SCIM_TOKEN"):
        fetch_snapshot(Settings(), progress=False)
