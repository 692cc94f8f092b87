"""`fetch_snapshot` against the sandbox over HTTPS: a generated tenant read exactly, what is requested,
optional reads that degrade, required ones that fail, and every fault the sandbox can inject.

Retries are bounded by a one-second budget with millisecond backoffs, so faults cost no real time.
"""

from __future__ import annotations

import pytest

from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.model.errors import ConfigError


def test_nothing_configured_is_an_error_naming_the_settings() -> None:
    with pytest.raises(ConfigError, match=r"RCAUDIT_TENANT_ID.*RCAUDIT_SCIM_TOKEN"):
        fetch_snapshot(Settings(), progress=False)
