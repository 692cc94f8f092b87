"""Run history: what changed between audits, and how findings evolve over time.

Reads only each run's `summary.json` and the key columns of its `findings.csv`, so dozens of runs stay fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rcaudit.model.findings import SEVERITIES, finding_key
from rcaudit.model.runs import Run

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
