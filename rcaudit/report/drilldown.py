"""Per user with findings: both raw records side by side, what differs, the user's provisioning events, links.

Pure over a snapshot, an audit result and a findings table; the report's grid loader draws the panel from one
JSON block (text only: every value is set with `textContent`). Links are built here from ids only.

Deep links. Microsoft documents the admin center's navigation, not its URLs: provisioning on demand is "Entra
ID > Enterprise apps > (the app) > Provisioning > Provision on demand", then a search by name or UPN
(MicrosoftDocs/entra-docs docs/identity/app-provisioning/provision-on-demand.md), and the provisioning logs are
filtered by identity in the same place (docs/identity/monitoring-health/howto-analyze-provisioning-logs.md).
So the links open the user's profile (`UserProfileMenuBlade/~/overview/userId/{id}`) and the enterprise app
(`ManagedAppMenuBlade/~/Overview/objectId/{sp id}/appId/{app id}`), and say what to search for there.
RingCentral's admin portal (service.ringcentral.com) is opened at its start page with the account to look up.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import pandas as pd

from rcaudit.model.findings import SEVERITY_RANK
from rcaudit.model.snapshot import Snapshot
from rcaudit.report.export import Html, escape
from rcaudit.report.masking import is_personal, mask

DRILL_CLASS = "rcaudit-drilldown"
ENTRA = "https://entra.microsoft.com/"
RINGCENTRAL = "https://service.ringcentral.com/"
# Raw-record keys shown as they are under --mask-pii (ids, states, the non-personal allowlist, timestamps).
_PLAIN_KEYS = frozenset({"id", "active", "accountEnabled", "department", "jobTitle", "title", "country",
                         "usageLocation", "type", "primary", "resourceType", "created", "lastModified",
                         "createdDateTime", "deletedDateTime", "version", "schemas"})


def original_upn(user: dict[str, Any]) -> str:
    """A soft-deleted user's UPN as it was: Entra prefixes it with the object id without dashes."""
    upn = str(user.get("userPrincipalName") or "")
    prefix = str(user.get("id") or "").replace("-", "")
    return upn[len(prefix):] if prefix and upn.lower().startswith(prefix.lower()) else upn


def deleted_names(snapshot: Snapshot, key: bytes | None = None) -> dict[str, str]:
    """Entra id -> the original UPN of each soft-deleted user (masked under --mask-pii)."""
    names = {str(u.get("id")): original_upn(u) for u in snapshot.deleted_users}
    return {k: mask(v, key) for k, v in names.items()} if key is not None else names


def _masked(value: Any, key: bytes | None, name: str = "") -> Any:
    if key is None:
        return value
    if isinstance(value, dict):
        return {k: _masked(v, key, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, key, name) for v in value]
    if isinstance(value, str) and name not in _PLAIN_KEYS:
        return mask(value, key)
    return value


def _text(value: Any) -> str:
    """The findings table's raw form (true/false, lists as JSON, "" for absent), numpy scalars included."""
    from rcaudit.audit.normalize import raw

    if hasattr(value, "item") and not isinstance(value, str | bytes | list | dict | tuple):
        value = value.item()
    return raw(value)


def _links(entra_id: str, upn: str, scim_id: str, snapshot: Snapshot) -> list[list[str]]:
    links = []
    sp = snapshot.service_principal or {}
    if entra_id:
        links.append(["Entra: user", f"{ENTRA}#view/Microsoft_AAD_UsersAndTenants/UserProfileMenuBlade/~/overview/"
                      f"userId/{quote(entra_id, safe='')}", ""])
    if sp.get("id") and sp.get("appId"):
        app = (f"{ENTRA}#view/Microsoft_AAD_IAM/ManagedAppMenuBlade/~/Overview/objectId/{quote(str(sp['id']), safe='')}"
               f"/appId/{quote(str(sp['appId']), safe='')}")
        who = upn or entra_id
        links.append(["Entra: provisioning logs", app, f"Provisioning > Provisioning logs, filter Identity: {who}"])
        if entra_id:
            links.append(["Entra: provision on demand", app, f"Provisioning > Provision on demand, search: {who}"])
    if scim_id:
        links.append(["RingCentral admin portal", RINGCENTRAL, f"Users, search: {upn or scim_id} (id {scim_id})"])
    return links


def _event_index(snapshot: Snapshot) -> dict[str, list[dict[str, Any]]]:
    """Provisioning events by the Entra id and by the RingCentral id they name."""
    index: dict[str, list[dict[str, Any]]] = {}
    for event in snapshot.provisioning_events:
        ids = {str((event.get(side) or {}).get("id") or "") for side in ("sourceIdentity", "targetIdentity")}
        for found in ids - {""}:
            index.setdefault(found, []).append(event)
    return index


def _events(index: dict[str, list[dict[str, Any]]], entra_id: str, scim_ids: list[str]) -> list[list[str]]:
    rows, seen = [], set()
    for found in [entra_id, *scim_ids]:
        for event in index.get(found, []) if found else []:
            if id(event) in seen:
                continue
            seen.add(id(event))
            status = event.get("provisioningStatusInfo") or {}
            error = status.get("errorInformation") or {}
            rows.append([_text(event.get("activityDateTime")), _text(event.get("provisioningAction")),
                         _text(status.get("status")), _text(error.get("errorCode")), _text(error.get("reason"))])
    return sorted(rows, reverse=True)


def _attribute_rows(expected: pd.DataFrame, actual: pd.DataFrame, entra_id: str, scim_id: str,
                    differing: set[str]) -> list[list[Any]]:
    """Per audited attribute: path, expected (Entra), actual (RingCentral), 1 when they differ."""
    targets = [c for c in actual.columns if c not in ("active", "created", "entra_id", "match_key", "ambiguous",
                                                      "entra_users")]
    want_row = expected.loc[entra_id] if entra_id and entra_id in expected.index else None
    have_row = actual.loc[scim_id] if scim_id and scim_id in actual.index else None
    rows = []
    for target in ["active", *targets]:
        want = want_row[target] if want_row is not None and target in want_row.index else None
        have = have_row[target] if have_row is not None and target in have_row.index else None
        rows.append([target, _text(want), _text(have), 1 if target in differing else 0])
    return rows


def _subjects(findings: pd.DataFrame) -> pd.DataFrame:
    rows = findings[~findings["waived"].astype(bool)].copy()
    rows["entra"] = rows["entra_id"].str.split(";").str[0]
    rows["key"] = rows["entra"].where(rows["entra"] != "", "scim:" + rows["scim_id"])
    rows["rank"] = rows["severity"].map(SEVERITY_RANK)
    return rows


def user_records(snapshot: Snapshot, result: Any, findings: pd.DataFrame, key: bytes | None = None,
                 names: pd.Series | None = None) -> list[dict[str, Any]]:
    """One drill-down record per user (or account without user) with unwaived findings, worst first.

    `findings` is what the report shows (masked under --mask-pii); `key` masks the raw records the same way."""
    rows = _subjects(findings)
    if rows.empty:
        return []
    users = {str(u.get("id")): u for u in [*snapshot.users, *snapshot.deleted_users]}
    deleted = {str(u.get("id")) for u in snapshot.deleted_users}
    accounts = {str(a.get("id")): a for a in snapshot.scim_users}
    expected = result.expected.drop_duplicates("entra_id").set_index("entra_id")
    actual = result.actual.drop_duplicates("scim_id").set_index("scim_id")
    events = _event_index(snapshot)
    deleted_upns = deleted_names(snapshot, key)
    order = rows.groupby("key").agg(rank=("rank", "min"), count=("kind", "size")).sort_values(
        ["rank", "count"], ascending=[True, False])
    records = []
    for subject, group in rows.groupby("key", sort=False):
        entra_id = str(group["entra"].iloc[0])
        scim_ids = [s for s in dict.fromkeys(group["scim_id"]) if s]
        scim_id = scim_ids[0] if scim_ids else ""
        user = users.get(entra_id, {})
        shown = str(group["user_name"].iloc[0])
        upn = deleted_upns.get(entra_id, shown) if entra_id in deleted else shown
        differing = set(group.loc[group["kind"] == "attribute_mismatch", "attribute"])
        if group["kind"].isin(("should_be_inactive", "should_be_active")).any():
            differing.add("active")
        attributes = _attribute_rows(expected, actual, entra_id, scim_id, differing)
        if key is not None:
            attributes = [[t, mask(w, key) if w and is_personal(t) else w, mask(h, key) if h and is_personal(t)
                           else h, d] for t, w, h, d in attributes]
        title = upn + (" (deleted in Entra)" if entra_id in deleted else "")
        records.append({
            "key": str(subject), "label": f"{upn} ({len(group)} finding{'s' if len(group) != 1 else ''})",
            "title": title,
            "count": len(group),
            "attributes": attributes,
            "entra": _masked(user, key) if user else None,
            "rc": [_masked(accounts[s], key) for s in scim_ids if s in accounts],
            "events": [[w, a, s, c, mask(r, key) if key is not None and r else r]
                       for w, a, s, c, r in _events(events, entra_id, scim_ids)],
            "links": _links(entra_id, "" if key is not None else upn, scim_id, snapshot),
        })
    position = {key: i for i, key in enumerate(order.index)}
    return sorted(records, key=lambda r: position[r["key"]])


def drilldown_html(records: list[dict[str, Any]], panel_id: str | None = None, boot: bool = False) -> Html:
    """The drill-down panel: a user picker and the chosen user's records, drawn by the grid loader."""
    from rcaudit.report.export import notebook_grid_boot
    from rcaudit.report.grid import json_block

    panel_id = panel_id or f"drill-{uuid.uuid4().hex}"
    from rcaudit.report.charts import short_attribute

    targets = list(dict.fromkeys(a[0] for r in records for a in r["attributes"]))
    index = {t: i for i, t in enumerate(targets)}
    compact = [{**r, "attributes": [[index[a[0]], *a[1:]] for a in r["attributes"]]} for r in records]
    payload = {"attributes": [[short_attribute(t), t] for t in targets], "users": compact}
    markup = (f'<div id="{escape(panel_id)}" class="rc-drill" data-users="{len(records)}"><p>{len(records):,} users '
              f"and accounts with findings: pick one, or click a user in the grid above.</p></div>\n"
              f"{json_block(payload, DRILL_CLASS, panel_id)}")
    return Html(markup + (notebook_grid_boot() if boot else ""))
