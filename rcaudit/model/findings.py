"""The findings table contract (DESIGN.md "findings.csv"): columns, order, severities, sorting.

Shared by the engine that produces the table and by everything that reads it back (charts, trends,
masking, fix-up plans), so the contract is written once.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict, cast

import pandas as pd

from rcaudit.model.errors import FindingsFileError
from rcaudit.model.vocabulary import Cause

COLUMNS: tuple[str, ...] = (
    "kind", "severity", "entra_id", "scim_id", "user_name", "attribute", "expected", "actual",
    "expected_normalized", "actual_normalized", "match_key", "reason", "waived",
    "cause", "remedy", "cause_also",  # second edition: added at the end (README "Causes")
)
# Columns added after the first edition: a findings.csv written before them reads back with them empty.
ADDED_COLUMNS: tuple[str, ...] = ("cause", "remedy", "cause_also")


class FindingRow(TypedDict):
    """One finding as a plain dict (`finding_rows`), as findings.csv holds it: every column a string (empty
    when there is none), `waived` a bool. Keys in `COLUMNS` order (tests/unit/test_finding_row.py)."""

    kind: str
    severity: str
    entra_id: str  # one id, or several joined by ";" (an ambiguous_match)
    scim_id: str
    user_name: str
    attribute: str  # empty for lifecycle kinds
    expected: str
    actual: str
    expected_normalized: str
    actual_normalized: str
    match_key: str
    reason: str
    waived: bool
    cause: str  # README "Causes": the first that holds, or "unknown"
    remedy: str
    cause_also: str  # the other causes that hold, ";"-joined in precedence order


KINDS: tuple[str, ...] = (
    "should_be_inactive", "orphan_in_target", "missing_in_target", "should_be_active", "ambiguous_match",
    "attribute_mismatch",
)
SEVERITIES: tuple[str, ...] = ("high", "medium", "low")
SEVERITY_RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
# DESIGN.md "Severity": per kind; an attribute_mismatch is medium on the join keys, low elsewhere.
KIND_SEVERITY: dict[str, str] = {
    "should_be_inactive": "high", "orphan_in_target": "high", "missing_in_target": "medium",
    "should_be_active": "medium", "ambiguous_match": "medium", "attribute_mismatch": "low",
}
KEY_ATTRIBUTES = frozenset({"userName", "externalId"})


# Per kind, the causes in precedence order: the first whose predicate holds is the finding's `cause`, the others
# that hold are its `cause_also`; none holds: `unknown`.
CAUSE_PRECEDENCE: dict[str, tuple[str, ...]] = {
    "attribute_mismatch": (Cause.JOB_NOT_RUNNING, Cause.EXPORT_FAILED, Cause.MANAGER_SCOPED_LATER,
                           Cause.CLEARED_IN_ENTRA, Cause.CHANGED_IN_RINGCENTRAL),
    "missing_in_target": (Cause.JOB_NOT_RUNNING, Cause.EXPORT_FAILED, Cause.CAME_BACK_INTO_SCOPE,
                          Cause.SKIPPED_BY_ENTRA, Cause.ASSIGNED_AFTER_LAST_CYCLE),
    "should_be_inactive": (Cause.DELETION_THRESHOLD, Cause.JOB_NOT_RUNNING, Cause.EXPORT_FAILED,
                           Cause.SKIP_OUT_OF_SCOPE_DELETIONS,
                           Cause.SOFT_DELETED, Cause.DISABLED, Cause.FILTERED_OUT, Cause.NESTED_ONLY,
                           Cause.UNASSIGNED),
    "orphan_in_target": (Cause.CREATED_IN_RINGCENTRAL, Cause.DELETED_USER_LEFTOVER),
    "should_be_active": (Cause.JOB_NOT_RUNNING, Cause.EXPORT_FAILED, Cause.DEACTIVATED_IN_RINGCENTRAL,
                         Cause.NOT_ACTIVATED_YET),
    "ambiguous_match": (Cause.RENAME_LEFTOVER,),
}
CAUSES: tuple[str, ...] = (*dict.fromkeys(c for causes in CAUSE_PRECEDENCE.values() for c in causes), Cause.UNKNOWN)


def severity(kind: str, attribute: str = "") -> str:
    if kind == "attribute_mismatch" and attribute in KEY_ATTRIBUTES:
        return "medium"
    return KIND_SEVERITY[kind]


def empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="str") for c in COLUMNS})
    frame["waived"] = frame["waived"].astype(bool)
    return frame


def read_findings(path: str | Path) -> pd.DataFrame:
    """A findings.csv as written by an audit run: every column a string except `waived`."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for column in ADDED_COLUMNS:  # written before the column was added: read back empty
        if column not in frame.columns:
            frame[column] = ""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise FindingsFileError(f"{path}: not a findings table an audit wrote, missing columns {', '.join(missing)}")
    frame["waived"] = frame["waived"].str.lower().isin(("true", "1"))
    return frame


def finding_rows(frame: pd.DataFrame) -> list[FindingRow]:
    """A findings frame (the engine's, or `read_findings`') as typed rows, for code that walks it row by row."""
    return cast(list[FindingRow], frame[list(COLUMNS)].to_dict("records"))


def finding_key(frame: pd.DataFrame) -> pd.Series:
    """One identity per finding across runs: kind, account or user, attribute."""
    subject = frame["scim_id"].where(frame["scim_id"] != "", frame["entra_id"])
    return frame["kind"] + "|" + subject + "|" + frame["attribute"]
