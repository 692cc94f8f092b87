"""Test support for fix-ups: a small tenant with one planted case per kind of fix, and audit run folders.

| user | drift | fix |
|---|---|---|
| alice.adams | RingCentral title `Old Title` | replace title |
| bob.berg | no mobile item in RingCentral; Entra `070-123 45 67` (usageLocation SE) | add phoneNumbers item, E.164 |
| carol.clark | title and mobile cleared in Entra | remove title, remove the mobile item |
| dave.dunn | no region in RingCentral's work address; department `Sales` | add region, replace department |
| erin.evans | no address at all in RingCentral | add the work address, then its other parts |
| ivan.ives | country `Germany` in RingCentral, `US` in Entra (no state) | replace country (answered `United States`) |
| frank.fox | disabled in Entra, active account | replace active false (a deactivation) |
| gina.gold | live, inactive account created long ago | replace active true |
| olga (account only) | an active account nobody in Entra matches | deactivate, only with include_orphans |
| hank.hill | live, no account | not fixable: provision on demand |
| kim.kerr | two accounts (userName, and externalId) | not fixable: ambiguous |
| 40 others | none | none |
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

from rcaudit.audit.reconcile import reconcile
from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.connect.http import RetryPolicy
from rcaudit.fix import apply as applying
from rcaudit.fix.apply import apply_plan, scim_client
from rcaudit.fix.guards import Guards
from rcaudit.fix.plan import Filters, Plan, plan_for_run
from rcaudit.model.snapshot import Snapshot
from rcaudit.sandbox import Sandbox
from tests.support.snapshots import entra_user, rc_account, small_tenant

FAST = RetryPolicy(max_total=1.0, max_attempts=6, backoff=0.01, max_backoff=0.05)
FILLERS = 40
PLANTED_OPS = 15  # with include_orphans
PLANTED_ACCOUNTS = 9


def fixup_tenant() -> dict[str, Any]:
    users, accounts = [], []
    ids = iter(range(1001, 2000))

    def person(name: str, account: bool = True, **props: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
        user = entra_user(name, **props)
        users.append(user)
        acct = rc_account(user, str(next(ids))) if account else None
        if acct is not None:
            accounts.append(acct)
        return user, acct

    _, alice = person("alice.adams")
    assert alice is not None
    alice["title"] = "Old Title"
    _, bob = person("bob.berg", mobilePhone="070-123 45 67", usageLocation="SE")
    assert bob is not None
    bob["phoneNumbers"] = [p for p in bob["phoneNumbers"] if p["type"] != "mobile"]
    carol, carol_acct = person("carol.clark")
    assert carol_acct is not None
    carol["jobTitle"], carol["mobilePhone"] = None, None  # cleared in Entra after provisioning
    _, dave = person("dave.dunn")
    assert dave is not None
    del dave["addresses"][0]["region"]
    dave["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["department"] = "Sales"
    _, erin = person("erin.evans")
    assert erin is not None
    del erin["addresses"]
    # No state: RingCentral checks a state against the country, so `CA` could never sit beside `Germany`.
    _, ivan = person("ivan.ives", state=None)
    assert ivan is not None
    ivan["addresses"][0]["country"] = "Germany"
    person("frank.fox", accountEnabled=False)
    _, gina = person("gina.gold")
    assert gina is not None
    gina["active"] = False
    person("hank.hill", account=False)
    kim, _ = person("kim.kerr")
    accounts.append(rc_account(kim, str(next(ids)), userName="kim.k2@contoso.example"))
    olga = entra_user("olga.orphan")
    accounts.append(rc_account(olga, str(next(ids)), externalId="olga-old"))
    for i in range(FILLERS):
        person(f"filler.person{i:02}")
    for account in accounts:  # RingCentral holds country names (it answers `US` with `United States`)
        for address in account.get("addresses") or []:
            if address.get("country") == "US":
                address["country"] = "United States"
    tenant = small_tenant(users, accounts)
    tenant["sandbox"]["limits"] = {"light": 10_000, "heavy": 10_000, "auth": 10_000, "window": 1}
    return tenant


def by_name(snapshot_or_accounts: Any, local_part: str) -> dict[str, Any]:
    """The account whose userName starts with `local_part`."""
    accounts = getattr(snapshot_or_accounts, "scim_users", snapshot_or_accounts)
    return next(a for a in accounts if str(a.get("userName", "")).startswith(local_part + "@"))


def fetch(settings: Settings) -> Snapshot:
    return fetch_snapshot(settings, source="sandbox", progress=False, interactive=False, retry=FAST)


def write_run(snapshot: Snapshot, folder: Path, **options: Any) -> Path:
    """A run folder as the audit writes it (snapshot/, findings.csv, summary.json), without papermill."""
    from rcaudit.audit.reconcile import AuditOptions

    folder.mkdir(parents=True, exist_ok=True)
    snapshot.save(folder / "snapshot")
    result = reconcile(snapshot, None, AuditOptions(**options))
    result.findings.to_csv(folder / "findings.csv", index=False)
    summary = {"schema_version": 1, "run_id": folder.name, "started_at": dt.datetime.now(dt.UTC).isoformat(),
               "source": snapshot.source, "masked": False, **result.to_dict()}
    (folder / "summary.json").write_text(json.dumps(summary, default=str), encoding="utf-8")
    return folder


def comparable(accounts: list[dict[str, Any]]) -> dict[str, Any]:
    """Accounts by id without meta, multi-valued lists sorted by type, for before/after comparisons."""
    out = {}
    for account in accounts:
        a = copy.deepcopy(account)
        a.pop("meta", None)
        for key in ("phoneNumbers", "addresses", "emails"):
            if isinstance(a.get(key), list):
                a[key] = sorted(a[key], key=lambda item: json.dumps(item, sort_keys=True))
        out[str(a["id"])] = a
    return out


PROJECT = Path(__file__).resolve().parents[2]


def cli_env(sandbox: Any, outputs: Path, **extra: str) -> dict[str, str]:
    """The environment of an `rcaudit` subprocess pointed at `sandbox`, with this checkout first on the path."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("RCAUDIT_")}
    env.update(sandbox.env(), RCAUDIT_OUTPUTS=str(outputs), PYTHONPATH=str(PROJECT), **extra)
    return env


def rcaudit_command(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "rcaudit", *args]


def run_rcaudit(env: dict[str, str], *args: str) -> Any:
    """`python -m rcaudit ARGS` to completion (stdout and stderr captured as text)."""
    import subprocess

    return subprocess.run(rcaudit_command(*args), env=env, capture_output=True, text=True, timeout=300,
                          check=False, cwd=str(PROJECT))


def legacy_plan_json(plan: Any, folder: Path) -> dict[str, Any]:
    """`plan` as rcaudit wrote plan.json before the Entra forms (schema_version 1, no `wire`, settings
    `boolean_strings: false`): `active` as JSON booleans, a missing typed item added whole, the last value of an
    item removed with the item; op_ids, inverses, requests and plan_id as that version computed them."""
    import dataclasses

    from rcaudit.fix.audited_run import load_run
    from rcaudit.fix.ops import WIRE_LEGACY, inverse_of, op_id_of, patch_operations, wire_value
    from rcaudit.fix.plan import plan_id_for

    accounts = {str(a["id"]): a for a in load_run(folder).snapshot.scim_users}
    operations = []
    for scim_id, group in plan.by_account().items():
        shaped = patch_operations([(o.attribute, wire_value(o.attribute, o.expected, False)) for o in group],
                                  accounts[scim_id], WIRE_LEGACY)
        for o, wire in zip(group, shaped, strict=True):
            value = wire.get("value")
            operations.append(dataclasses.replace(
                o, op=wire["op"], path=wire["path"], value=value,
                op_id=op_id_of(scim_id, wire["path"], wire["op"], value),
                inverse=inverse_of(o.attribute, wire["op"], o.audited, False)))
    settings = {"boolean_strings": False}
    old = dataclasses.replace(plan, operations=operations, settings=settings, wire=WIRE_LEGACY,
                              plan_id=plan_id_for("fix", Path(plan.run_folder).name, operations, settings),
                              notes=[n for n in plan.notes if not n.startswith("active is sent")])
    data = old.to_dict()
    data.pop("wire")
    data["schema_version"] = 1
    return data


class PatchBodies:
    """The PatchOp bodies the sandbox's RingCentral received over HTTPS, as it parsed them, by account userName."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, list[dict[str, Any]]]] = []

    def record(self, user: dict[str, Any], body: Any) -> None:
        self.seen.append((str(user.get("userName", "")), copy.deepcopy(list(body.get("Operations") or []))))

    def of(self, local_part: str) -> list[list[dict[str, Any]]]:
        """Every body sent to that account, oldest first."""
        return [ops for name, ops in self.seen if name.startswith(local_part + "@")]

    def operations(self) -> list[dict[str, Any]]:
        return [op for _, ops in self.seen for op in ops]

    def clear(self) -> None:
        self.seen.clear()


def record_patch_bodies(monkeypatch: Any) -> PatchBodies:
    """Record every PatchOp the sandbox's SCIM service applies (it parses the HTTPS request body, then calls
    `apply_patch`): what RingCentral would have received on the wire."""
    from rcaudit.sandbox.servers import scim_api

    bodies = PatchBodies()
    real = scim_api.apply_patch

    def recording(user: dict[str, Any], body: Any, profile: str) -> dict[str, Any]:
        bodies.record(user, body)
        return real(user, body, profile)

    monkeypatch.setattr(scim_api, "apply_patch", recording)
    return bodies


DISABLED = ("filler.person00", "filler.person01", "filler.person02")


def disabled_tenant() -> dict[str, Any]:
    """The fix-up tenant with three more people disabled in Entra: 4 should_be_inactive of 50 active accounts."""
    tenant = fixup_tenant()
    for user in tenant["graph"]["users"]:
        if user["userPrincipalName"].split("@")[0] in DISABLED:
            user["accountEnabled"] = False
    return tenant


# --- a sandbox with an audit run of it, ready to plan and apply (the apply and wire tests) -----------------
ALL = Filters(include_orphans=True)
OPEN = Guards(allow_deactivate=True)


class Shop:
    """A sandbox serving the fix-up tenant, an audit run folder of it, settings and a client."""

    def __init__(self, sandbox: Sandbox, folder: Path) -> None:
        self.sandbox = sandbox
        self.settings = Settings.from_env(sandbox.env())
        self.folder = write_run(fetch(self.settings), folder)
        self.client = scim_client(self.settings, FAST)
        sandbox.rc_server.requests_seen.clear()

    def plan(self, filters: Filters = ALL, **kwargs: Any) -> Plan:
        return plan_for_run(self.folder, filters, **kwargs)

    def apply(self, plan: Plan, **kwargs: Any) -> applying.ApplyResult:
        options = {"apply": True, "guards": OPEN, "settings": self.settings, "sleep": lambda s: None, **kwargs}
        return apply_plan(plan, self.client, **options)

    def account(self, local_part: str) -> dict[str, Any]:
        return by_name(self.sandbox.state.scim_users, local_part)

    def seen(self, method: str, local_part: str | None = None) -> int:
        path = None if local_part is None else f"/scim/v2/Users/{self.account(local_part)['id']}"
        return sum(1 for m, p in self.sandbox.rc_server.requests_seen
                   if m == method and p.startswith("/scim/v2/Users/") and (path is None or p == path))

    def accounts(self) -> dict[str, Any]:
        return comparable(json.loads(json.dumps(self.sandbox.state.scim_users)))
