"""Run history: what changed between audits, and how findings evolve over time.

Reads only each run's `summary.json` and the key columns of its `findings.csv`, so dozens of runs stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rcaudit.model.findings import SEVERITIES, finding_key
from rcaudit.model.runs import Run
from rcaudit.report.export import Html

_KEY_COLUMNS = ["kind", "severity", "entra_id", "scim_id", "user_name", "attribute", "waived"]


def open_findings(run: Run) -> pd.DataFrame:
    """The unwaived findings of a run, key columns only, with a `key` per finding."""
    frame = pd.read_csv(run.folder / "findings.csv", dtype=str, keep_default_na=False, usecols=_KEY_COLUMNS)
    frame = frame[~frame["waived"].str.lower().isin(("true", "1"))].copy()
    frame["key"] = finding_key(frame)
    return frame


@dataclass(frozen=True)
class Changes:
    """Findings new in the later run, fixed since the earlier one, and persisting in both."""

    new: pd.DataFrame
    fixed: pd.DataFrame
    persisting: pd.DataFrame

    def counts(self) -> dict[str, int]:
        return {"new": len(self.new), "fixed": len(self.fixed), "persisting": len(self.persisting)}


def compare(earlier: pd.DataFrame, later: pd.DataFrame) -> Changes:
    before, after = set(earlier["key"]), set(later["key"])
    return Changes(new=later[~later["key"].isin(before)], fixed=earlier[~earlier["key"].isin(after)],
                   persisting=later[later["key"].isin(before)])


def history(runs: list[Run]) -> pd.DataFrame:
    """Open findings per run and severity, from each run's summary (no findings file read)."""
    rows = []
    for run in runs:
        by_severity = run.summary.get("findings", {}).get("by_severity", {})
        for severity in SEVERITIES:
            rows.append({"run_id": run.run_id, "started_at": run.started_at, "severity": severity,
                         "findings": int(by_severity.get(severity, 0))})
    return pd.DataFrame(rows, columns=["run_id", "started_at", "severity", "findings"])


def changes_over_time(runs: list[Run]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New/fixed/persisting between consecutive runs, and the time each fixed finding stayed open."""
    steps, fixes = [], []
    first_seen: dict[str, pd.Timestamp] = {}
    previous: pd.DataFrame | None = None
    for run in runs:
        current = open_findings(run)
        for key in current["key"]:
            first_seen.setdefault(key, run.started_at)
        if previous is not None:
            change = compare(previous, current)
            steps.append({"run_id": run.run_id, "started_at": run.started_at, **change.counts()})
            for key in change.fixed["key"]:
                fixes.append({"key": key, "fixed_in": run.run_id,
                              "days_open": (run.started_at - first_seen.pop(key, run.started_at)).total_seconds()
                              / 86400})
        previous = current
    return (pd.DataFrame(steps, columns=["run_id", "started_at", "new", "fixed", "persisting"]),
            pd.DataFrame(fixes, columns=["key", "fixed_in", "days_open"]))


def first_seen(runs: list[Run]) -> dict[str, pd.Timestamp]:
    """Finding key -> start of the earliest run that had it open (runs oldest first)."""
    seen: dict[str, pd.Timestamp] = {}
    for run in runs:
        for key in open_findings(run)["key"]:
            seen.setdefault(key, run.started_at)
    return seen


def change_list(change: Changes, seen: dict[str, pd.Timestamp], now: pd.Timestamp) -> pd.DataFrame:
    """One row per new, fixed or persisting finding: change, the key columns, first seen (date) and age in days.

    A new finding was first seen now; a fixed one's age is how long it stayed open."""
    now = now.tz_convert("UTC") if now.tzinfo else now.tz_localize("UTC")
    parts = []
    for name, rows in (("new", change.new), ("persisting", change.persisting), ("fixed", change.fixed)):
        frame = rows[[c for c in _KEY_COLUMNS if c != "waived"] + ["key"]].copy()
        stamps = frame["key"].map(seen) if name != "new" else pd.Series(now, index=frame.index)
        stamps = pd.to_datetime(stamps.fillna(now), utc=True)
        frame.insert(0, "change", name)
        frame["first_seen"] = stamps.dt.strftime("%Y-%m-%d")
        frame["age_days"] = ((now - stamps).dt.total_seconds() / 86400).round(1)
        parts.append(frame.drop(columns="key"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def changes_grid(listing: pd.DataFrame, previous: str, boot: bool = False) -> Html:
    """The run-over-run list as a grid: filter by change, kind, severity; sort by age."""
    from rcaudit.report.charts import short_attribute
    from rcaudit.report.grid import Column, grid_html

    names = list(listing.columns)
    filters = {"change", "kind", "severity", "attribute"}
    columns = [Column(n, n.replace("_", " "), n not in ("entra_id", "scim_id"), n in filters) for n in names]
    rows = []
    for record in listing.itertuples(index=False, name=None):
        row: list[object] = ["" if v is None else (v if isinstance(v, float) else str(v)) for v in record]
        values = dict(zip(names, row, strict=True))
        row[names.index("change")] = {"v": values["change"], "c": f"chg-{values['change']}"}
        row[names.index("severity")] = {"v": values["severity"], "c": f"sev-{values['severity']}"}
        if values["attribute"]:
            row[names.index("attribute")] = {"v": short_attribute(str(values["attribute"])), "t": values["attribute"],
                                             "x": values["attribute"]}
        rows.append(row)
    counts = listing["change"].value_counts().to_dict() if not listing.empty else {}
    caption = (f"Against run {previous}: {counts.get('new', 0):,} new, {counts.get('fixed', 0):,} fixed, "
               f"{counts.get('persisting', 0):,} persisting (first seen, and age in days since).")
    return grid_html(columns, rows, grid_id="changes-grid", csv="changes", caption=caption, boot=boot,
                     order=[(names.index("age_days"), "desc")])
