"""`rcaudit demo`: start the sandbox, read both sides over HTTPS exactly as against the real services,
save what was read in a run folder and print it.

Until the audit engine lands this shows the fetch path end to end: MSAL against the emulated authority,
Graph paging, SCIM paging, with TLS verified against the sandbox's own CA.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .config import Settings
from .graph import GraphClient
from .http import make_session
from .runs import create_run_folder
from .scim import ScimClient

DEFAULT_ACCESS = "00000000-0000-0000-0000-000000000000"
SAMPLE_ROWS = 12


def _write(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def run_demo(tenant: dict[str, Any], out: str | None, settings: Settings) -> int:
    from .sandbox import Sandbox

    started = time.perf_counter()
    with Sandbox(tenant) as sandbox:
        up = time.perf_counter() - started
        print(f"sandbox up in {up:.2f} s: Entra login + Graph at {sandbox.authority}, RingCentral at {sandbox.rc_url}")
        env = Settings.from_env(sandbox.env())
        session = make_session(env.ca_bundle)
        graph, scim = GraphClient(env, session), ScimClient(env, session)
        assert env.app_id is not None
        sp = graph.service_principal(env.app_id)
        assignments = graph.app_role_assignments(sp["id"])
        groups = {a["principalId"]: graph.group_members(a["principalId"])
                  for a in assignments if a["principalType"] == "Group"}
        users = graph.users()
        deleted = graph.deleted_users()
        spc = scim.service_provider_config()
        accounts = scim.users()
        read_in = time.perf_counter() - started - up

    folder = create_run_folder(settings.outputs, out)
    snapshot = folder / "snapshot"
    snapshot.mkdir()
    for name, payload in (("graph-service-principal", sp), ("graph-app-role-assignments", assignments),
                          ("graph-group-members", groups), ("graph-users", users),
                          ("graph-deleted-users", deleted), ("scim-service-provider-config", spc),
                          ("scim-users", accounts)):
        _write(snapshot / f"{name}.json", payload)

    roles = {r["id"]: r.get("displayName") for r in sp.get("appRoles", [])}
    default_access = sum(1 for a in assignments
                         if a["appRoleId"] == DEFAULT_ACCESS or roles.get(a["appRoleId"]) == "msiam_access")
    enabled = sum(1 for u in users if u.get("accountEnabled"))
    active = sum(1 for a in accounts if a.get("active") is True)
    print(f"Entra ID (Graph):   {len(users)} users ({enabled} enabled), {len(deleted)} soft-deleted, "
          f"{len(assignments)} app role assignments ({len(groups)} to groups, {default_access} Default Access)")
    print(f"RingCentral (SCIM): {len(accounts)} accounts ({active} active), "
          f"page size {spc.get('filter', {}).get('maxResults')}")
    by_name = {str(a.get("userName", "")).casefold(): a for a in accounts}
    paired = [(u, by_name.get(u["userPrincipalName"].casefold())) for u in users]
    matched = sum(1 for _, a in paired if a is not None)
    print(f"Joined on userName: {matched} Entra users have an account of the same name; "
          f"{len(users) - matched} have none; {len(accounts) - matched} accounts have no Entra user of that name")
    print(f"\n  {'userName':42} {'Entra':9} RingCentral")
    for user, account in sorted(paired, key=lambda pair: pair[0]["userPrincipalName"].casefold())[:SAMPLE_ROWS]:
        rc = "—" if account is None else f"{'active' if account.get('active') else 'inactive'} (id {account['id']})"
        print(f"  {user['userPrincipalName']:42} {'enabled' if user.get('accountEnabled') else 'disabled':9} {rc}")
    if len(paired) > SAMPLE_ROWS:
        print(f"  … {len(paired) - SAMPLE_ROWS} more in {snapshot / 'graph-users.json'}")
    print(f"\nread both sides over HTTPS in {read_in:.2f} s ({graph.requests_made} Graph requests, "
          f"{scim.requests_made} SCIM requests)")
    print(f"what was read: {snapshot}")
    return 0
