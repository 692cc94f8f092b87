"""`summary.md`: a run's verdict and findings as short Markdown, to paste into a ticket or a pull request.

Written by every run (the audit notebook's last step, so JupyterLab runs get one too) and printed by
`rcaudit summary`. Every value from a service is hostile: table cells are escaped (HTML's `&<>` as entities,
Markdown's punctuation with a backslash, no line breaks) and cut short, so a crafted display name can neither
break the table nor inject a link or markup. With `--mask-pii` the findings it lists are the masked ones.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

from rcaudit.model.findings import KINDS, SEVERITIES, SEVERITY_RANK

TOP_FINDINGS = 20  # rows of the worst findings
TOP_CHANGES = 10  # rows each of new and fixed findings
CELL_LIMIT = 80  # characters per cell before it is cut (the enterprise department path fits)
# What could make a link, an image, code, emphasis or a new cell; `&<>` become HTML entities first.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*\[\]|!~])")
VERDICT_TEXT = {"fail": "FAIL", "drift": "drift below the gate", "clean": "clean"}


def cell(value: Any, limit: int = CELL_LIMIT) -> str:
    """One value as a safe Markdown table cell: on one line, at most `limit` characters, escaped."""
    text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", html.escape(text, quote=False))


def _when(value: Any) -> str:
    moment = pd.to_datetime(str(value or ""), utc=True, errors="coerce")
    return "at an unknown time" if pd.isna(moment) else f"{moment:%Y-%m-%d %H:%M} UTC"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def verdict_line(summary: dict[str, Any]) -> str:
    """`**Verdict: FAIL**: 24 unwaived findings (high 24, …), gate --fail-on high; 3 waived.`"""
    findings = summary.get("findings") or {}
    by_severity = findings.get("by_severity") or {}
    verdict = str(summary.get("verdict") or "")
    counts = ", ".join(f"{level} {int(by_severity.get(level, 0))}" for level in SEVERITIES)
    return (f"**Verdict: {VERDICT_TEXT.get(verdict, verdict or 'unknown')}**: {int(findings.get('total', 0))} "
            f"unwaived findings ({counts}), gate `--fail-on {cell(summary.get('fail_on', 'high'))}`; "
            f"{int(findings.get('waived', 0))} waived.")


def kind_severity_table(findings: pd.DataFrame) -> list[str]:
    """Unwaived findings per kind (rows) and severity (columns), with totals."""
    counted = findings[~findings["waived"].astype(bool)]
    grid = counted.groupby(["kind", "severity"]).size()
    kinds = [k for k in KINDS if k in set(counted["kind"])] + sorted(set(counted["kind"]) - set(KINDS))
    rows = []
    for kind in kinds:
        per_level = [int(grid.get((kind, level), 0)) for level in SEVERITIES]
        rows.append([kind, *per_level, sum(per_level)])
    rows.append(["total", *(int((counted["severity"] == level).sum()) for level in SEVERITIES), len(counted)])
    return _table(["kind", *SEVERITIES, "total"], rows)


def _worst(findings: pd.DataFrame, top: int) -> pd.DataFrame:
    counted = findings[~findings["waived"].astype(bool)] if "waived" in findings else findings
    order = counted["severity"].map(SEVERITY_RANK).fillna(len(SEVERITIES))
    return counted.assign(_rank=order).sort_values(["_rank", "kind", "user_name", "attribute"],
                                                   kind="stable").head(top)


def findings_rows(findings: pd.DataFrame, top: int, values: bool = True) -> list[str]:
    columns = ["severity", "kind", "user_name", "attribute", *(["expected", "actual"] if values else [])]
    worst = _worst(findings, top)
    return _table(["severity", "kind", "user", "attribute", *(["expected", "actual"] if values else [])],
                  [[row.get(c, "") for c in columns] for row in worst.to_dict("records")])


def changes_section(summary: dict[str, Any], new: pd.DataFrame | None, fixed: pd.DataFrame | None) -> list[str]:
    changes = summary.get("changes")
    if not isinstance(changes, dict):
        return ["## Since the previous run", "",
                "No earlier run of this source, tenant and SCIM URL: everything above is new."]
    lines = ["## Since the previous run", "",
             f"Against run `{cell(changes.get('previous_run'))}`: **{int(changes.get('new', 0))} new**, "
             f"**{int(changes.get('fixed', 0))} fixed**, {int(changes.get('persisting', 0))} persisting."]
    for title, frame in (("New", new), ("Fixed", fixed)):
        if frame is not None and len(frame):
            shown = min(len(frame), TOP_CHANGES)
            lines += ["", f"{title} ({shown} of {len(frame)} shown):", "", *findings_rows(frame, TOP_CHANGES, False)]
    return lines


def render_summary_md(summary: dict[str, Any], findings: pd.DataFrame, new: pd.DataFrame | None = None,
                      fixed: pd.DataFrame | None = None, report: str = "report.html") -> str:
    """The whole `summary.md` for one run (findings as written to findings.csv: masked under --mask-pii)."""
    sizes = summary.get("sizes") or {}
    source = str(summary.get("source") or "")
    origin = summary.get("origin") or {}
    what = "sandbox (demo, not a real tenant)" if source == "sandbox" else f"tenant `{cell(origin.get('tenant_id'))}`"
    lines = [f"# rcaudit audit {cell(summary.get('run_id'))}", "", verdict_line(summary), "",
             f"Read {what}, RingCentral `{cell(origin.get('scim_url'), 80)}`: "
             f"{int(sizes.get('entra_users', 0)):,} Entra users, {int(sizes.get('scim_users', 0)):,} RingCentral "
             f"accounts; started {_when(summary.get('started_at'))}. Report: `{cell(report, 200)}`."
             + (" Personal values are masked." if summary.get("masked") else ""), "",
             "## Findings by kind and severity", "", *kind_severity_table(findings), ""]
    lines += changes_section(summary, new, fixed)
    total = int((~findings["waived"].astype(bool)).sum())
    lines += ["", f"## Top {min(TOP_FINDINGS, total)} of {total} findings", ""]
    lines += findings_rows(findings, TOP_FINDINGS) if total else ["None."]
    lines += ["", "Every finding is in `findings.csv` in the run folder."]
    return "\n".join(lines) + "\n"
