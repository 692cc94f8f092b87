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


def _events(snapshot: Snapshot, entra_id: str, scim_ids: set[str]) -> list[list[str]]:
    rows = []
    for event in snapshot.provisioning_events:
        source = str((event.get("sourceIdentity") or {}).get("id") or "")
        target = str((event.get("targetIdentity") or {}).get("id") or "")
        if (entra_id and source == entra_id) or (target and target in scim_ids):
            status = event.get("provisioningStatusInfo") or {}
            error = status.get("errorInformation") or {}
            rows.append([_text(event.get("activityDateTime")), _text(event.get("provisioningAction")),
                         _text(status.get("status")), _text(error.get("errorCode")), _text(error.get("reason"))])
    return sorted(rows, reverse=True)


def _attribute_rows(result: Any, entra_id: str, scim_id: str, differing: set[str]) -> list[list[Any]]:
    from rcaudit.report.charts import short_attribute

    expected = result.expected.set_index("entra_id") if entra_id else None
    actual = result.actual.set_index("scim_id") if scim_id else None
    targets = [c for c in result.actual.columns if c not in ("scim_id", "active", "created", "entra_id", "match_key",
                                                            "ambiguous", "entra_users")]
    rows = []
    for target in ["active", *targets]:
        want = expected.at[entra_id, target] if expected is not None and entra_id in expected.index \
            and target in expected.columns else None
        have = actual.at[scim_id, target] if actual is not None and scim_id in actual.index else None
        rows.append([short_attribute(target), target, _text(want), _text(have), target in differing])
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
    order = rows.groupby("key").agg(rank=("rank", "min"), count=("kind", "size")).sort_values(
        ["rank", "count"], ascending=[True, False])
    records = []
    for subject, group in rows.groupby("key", sort=False):
        entra_id = str(group["entra"].iloc[0])
        scim_ids = [s for s in dict.fromkeys(group["scim_id"]) if s]
        scim_id = scim_ids[0] if scim_ids else ""
        user = users.get(entra_id, {})
        shown = str(group["user_name"].iloc[0])
        upn = deleted_names(snapshot, key).get(entra_id, shown) if entra_id in deleted else shown
        differing = set(group.loc[group["kind"] == "attribute_mismatch", "attribute"])
        attributes = _attribute_rows(result, entra_id, scim_id, differing)
        if key is not None:
            attributes = [[a, t, mask(w, key) if w and is_personal(t) else w, mask(h, key) if h and is_personal(t)
                           else h, d] for a, t, w, h, d in attributes]
        title = upn + (" (deleted in Entra)" if entra_id in deleted else "")
        records.append({
            "key": str(subject), "label": f"{upn} ({len(group)} finding{'s' if len(group) != 1 else ''})",
            "title": title,
            "findings": [[str(r.severity), str(r.kind), str(r.attribute), str(r.reason)]
                         for r in group.sort_values("rank").itertuples()],
            "attributes": attributes,
            "entra": _masked(user, key) if user else None,
            "rc": [_masked(accounts[s], key) for s in scim_ids if s in accounts],
            "events": [[w, a, s, c, mask(r, key) if key is not None and r else r]
                       for w, a, s, c, r in _events(snapshot, entra_id, set(scim_ids))],
            "links": _links(entra_id, "" if key is not None else upn, scim_id, snapshot),
        })
    position = {key: i for i, key in enumerate(order.index)}
    return sorted(records, key=lambda r: position[r["key"]])


def drilldown_html(records: list[dict[str, Any]], panel_id: str | None = None, boot: bool = False) -> Html:
    """The drill-down panel: a user picker and the chosen user's records, drawn by the grid loader."""
    from rcaudit.report.export import notebook_grid_boot
    from rcaudit.report.grid import json_block

    panel_id = panel_id or f"drill-{uuid.uuid4().hex}"
    markup = (f'<div id="{escape(panel_id)}" class="rc-drill" data-users="{len(records)}"><p>{len(records):,} users '
              f"and accounts with findings: pick one, or click a user in the grid above.</p></div>\n"
              f"{json_block(records, DRILL_CLASS, panel_id)}")
    return Html(markup + (notebook_grid_boot() if boot else ""))
