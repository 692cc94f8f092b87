"""Tenants several test modules serve: a generated company with Entra's sync secrets, one with credentials a test
can search the run folder for, and the built-in tenant with a nested group and a soft-deleted user."""

from __future__ import annotations

from typing import Any

from rcaudit.sandbox import builtin_tenant, generate
from tests.support.snapshots import NOW

SECRET_TOKEN = "rc-connector-token-7f3a9c1e5b2d"  # what Entra's connector holds for RingCentral: never copied


def sync_secrets(sync_all: str, skip: str) -> list[dict[str, str]]:
    """The job's synchronization secrets as Graph lists them (SyncAll and SkipOutOfScopeDeletions as given)."""
    return [{"key": "BaseAddress", "value": "https://platform.ringcentral.com/scim/v2"},
            {"key": "SecretToken", "value": SECRET_TOKEN},
            {"key": "SyncNotificationSettings", "value": '{"Enabled":false,"DeleteThresholdEnabled":false}'},
            {"key": "SyncAll", "value": sync_all}, {"key": "SkipOutOfScopeDeletions", "value": skip}]


def company_with_sync_secrets() -> dict[str, Any]:
    """150 generated users whose job holds the connector's secrets (SyncAll true, SkipOutOfScopeDeletions True)."""
    tenant = generate(users=150, seed=12, now=NOW).tenant
    tenant["graph"]["synchronizationSecrets"] = sync_secrets("true", "True")
    return tenant


def with_credentials(users: int, seed: int, client_id: str, secret: str, scim_token: str) -> dict[str, Any]:
    """A generated tenant whose only client and SCIM token are the distinctive values a test looks for."""
    tenant = generate(users=users, seed=seed).tenant
    tenant["sandbox"]["clients"] = [{"clientId": client_id, "secret": secret, "publicClient": True}]
    tenant["sandbox"]["scimToken"] = scim_token
    return tenant


def nested_group_and_gone_user(nested: str, gone: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The built-in tenant with group `nested` (holding Ada) inside Sales and `gone` among the soft-deleted
    users (its id, displayName "Gone Person" and deletedDateTime 2026-01-02T03:04:05Z added); and Ada."""
    data = builtin_tenant()
    graph = data["graph"]
    ada = next(u for u in graph["users"] if u["mailNickname"] == "ada.lind")
    graph["groups"].append({"id": nested, "displayName": "RingCentral Sales Nordics", "members": [ada["id"]]})
    graph["groups"][0]["members"].append(nested)
    graph["deletedUsers"].append({"displayName": "Gone Person", **gone, "deletedDateTime": "2026-01-02T03:04:05Z"})
    return data, ada
