"""A saved snapshot holding about N findings, for the report's browser test and benchmarks/bench_report.py.

A generated tenant is read as a complete fetch would (`snapshot_from_tenant`), then RingCentral accounts are
edited the way admins drift them by hand (title, names, work address, department): each edited account of a
live user gives up to 8 attribute mismatches. Accounts are edited until the audit finds at least `findings`.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

from rcaudit.audit.reconcile import reconcile
from rcaudit.model.snapshot import Snapshot
from rcaudit.model.vocabulary import ENTERPRISE
from rcaudit.sandbox import generate
from tests.support.snapshots import snapshot_from_tenant

NOW = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
PER_ACCOUNT = 8


def _drift(account: dict[str, Any], n: int) -> None:
    """Change 8 audited values of one account (strings RingCentral would accept)."""
    account["title"] = f"Hand-edited title {n}"
    name = account.setdefault("name", {})
    name["givenName"], name["familyName"] = f"Given{n}", f"Family{n}"
    address = next((a for a in account.get("addresses", []) if a.get("type") == "work"), None)
    if address is None:
        address = {"type": "work"}
        account.setdefault("addresses", []).append(address)
    address.update(locality=f"Town {n}", postalCode=f"{90000 + n % 9999}", streetAddress=f"{n} Drift Road",
                   region=f"R{n % 97}")
    account.setdefault(ENTERPRISE, {})["department"] = f"Department {n % 50}"


def drifted_snapshot(findings: int = 20_000, users: int = 3_000, seed: int = 3) -> tuple[Snapshot, int]:
    """(snapshot, findings the audit gives it): at least `findings` when the tenant is large enough."""
    snapshot = snapshot_from_tenant(generate(users=users, seed=seed, now=NOW).tenant, NOW)
    count = len(reconcile(snapshot).findings)
    edited = 0
    while count < findings and edited < len(snapshot.scim_users):
        step = max(1, math.ceil((findings - count) / PER_ACCOUNT))
        for account in snapshot.scim_users[edited:edited + step]:
            if account.get("active", True):
                _drift(account, edited)
            edited += 1
        count = len(reconcile(snapshot).findings)
    return snapshot, count


def save(snapshot: Snapshot, folder: Path) -> Path:
    """The snapshot as a run folder's `snapshot/`, which `rcaudit audit --snapshot` re-audits."""
    return snapshot.save(folder / "snapshot")


# --- driving a report in Chromium (Playwright page objects; the test and the benchmark share these) ----------

LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--no-first-run", "--disable-sync"]


def open_report(page: Any, report: Path, timeout_ms: int = 120_000) -> None:
    """Load a report and wait until its findings grid and its charts are drawn."""
    page.goto(report.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
    page.wait_for_selector("#findings-grid[data-ready]", state="attached", timeout=timeout_ms)
    page.wait_for_selector(".plotly-graph-div .main-svg", state="attached", timeout=timeout_ms)


def grid_counts(page: Any) -> dict[str, Any]:
    """What the findings grid holds and shows: all rows, rows left by the filters, their kinds."""
    return page.evaluate("""() => {
        const dt = window.rcauditGrids["findings-grid"];
        const kinds = dt.column("kind:name", {search: "applied"}).data().toArray().map(c => c.v ?? c);
        return {total: dt.rows().count(), shown: dt.rows({search: "applied"}).count(), kinds: [...new Set(kinds)],
                info: document.querySelector("#findings-grid_wrapper .dt-info").textContent};
    }""")


def kind_pane_row(page: Any, kind: str) -> Any:
    """The kind filter pane's row for `kind` (the first pane above the grid)."""
    pane = page.locator("#findings-grid_wrapper .dtsp-searchPane").first
    return pane.locator("tbody tr", has_text=kind).first


def filter_kind(page: Any, kind: str) -> dict[str, Any]:
    """Click `kind` in the kind filter pane (as a reader does) and return the grid's counts once it has redrawn."""
    kind_pane_row(page, kind).click()
    page.wait_for_function("""kind => {
        const dt = window.rcauditGrids["findings-grid"];
        const kinds = new Set(dt.column("kind:name", {search: "applied"}).data().toArray().map(c => c.v ?? c));
        return kinds.size === 1 && kinds.has(kind);
    }""", arg=kind, timeout=120_000)
    return grid_counts(page)


def clear_kind(page: Any, kind: str) -> None:
    """Click the same pane row again: the filter is off and every row is back."""
    kind_pane_row(page, kind).click()
    page.wait_for_function("""() => { const dt = window.rcauditGrids["findings-grid"];
        return dt.rows({search: "applied"}).count() === dt.rows().count(); }""", timeout=120_000)
