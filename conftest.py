"""Project-wide pytest set-up, loaded for tests/ and for the notebooks nbval runs."""

from __future__ import annotations

import os
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Tests never reach a real tenant and never write into the project's outputs/.

    RCAUDIT_* settings a developer has exported are dropped (the notebooks' `source="auto"` would use
    them), and run folders and the user's config directory go to temporary ones, notebooks run by nbval
    included.
    """
    for name in [n for n in os.environ if n.startswith("RCAUDIT_")]:
        del os.environ[name]
    os.environ["RCAUDIT_OUTPUTS"] = tempfile.mkdtemp(prefix="rcaudit-test-outputs-")
    # the user's config directory (deactivation ledger, token cache, masking key) is never the real one
    os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="rcaudit-test-config-")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The notebooks nbval runs execute the whole workbook against a sandbox: `slow`, like the end-to-end tests."""
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(pytest.mark.slow)
