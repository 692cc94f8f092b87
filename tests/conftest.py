"""Shared fixtures: a running sandbox per test and an HTTPS session that trusts its CA."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from rcaudit.connect.auth import reset_apps
from rcaudit.sandbox import Sandbox, builtin_tenant

# Fixture notebooks are run by the tests that pin their behaviour (one fails on purpose), never by nbval.
collect_ignore_glob = ["support/notebooks/*.ipynb"]


@pytest.fixture(autouse=True)
def private_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test its own user config directory: the deactivation ledger of one test (keyed by a sandbox's
    SCIM URL, whose port may come again) never counts in another's 24 h window."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))


@pytest.fixture(autouse=True)
def fresh_msal() -> Iterator[None]:
    """Each test starts and ends with no MSAL app cached: an app (and its token cache) of one test's sandbox
    never answers for another's."""
    reset_apps()
    yield
    reset_apps()


@pytest.fixture
def tenant() -> dict:
    """The tenant a test's sandbox serves; override in a module to serve another."""
    return builtin_tenant()


@pytest.fixture
def sandbox(tenant: dict) -> Iterator[Sandbox]:
    with Sandbox(tenant) as running:
        yield running


@pytest.fixture
def http(sandbox: Sandbox) -> Iterator[requests.Session]:
    """A session that trusts only the sandbox CA; `trust_env=False` because this machine sets
    REQUESTS_CA_BUNDLE, which would otherwise override `verify`."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(sandbox.ca_file)
    yield session
    session.close()


@pytest.fixture
def graph_token(sandbox: Sandbox, http: requests.Session) -> str:
    """A Graph access token obtained with the client secret, straight from the token endpoint."""
    client = sandbox.client
    answer = http.post(
        f"{sandbox.authority}/{sandbox.tenant_id}/oauth2/v2.0/token",
        data={"client_id": client["clientId"], "client_secret": client["secret"],
              "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"},
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@pytest.fixture
def scim_headers(sandbox: Sandbox) -> dict[str, str]:
    return {"Authorization": f"Bearer {sandbox.state.settings['scimToken']}"}
