"""Issue 14 points 1-5, the pure parts: verdict band, compact grid cells, drill-down records, run-over-run
lists, chart labels and axes, and the grid bundle shipped under the report's CSP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from rcaudit.model.findings import COLUMNS
from rcaudit.report import charts
from rcaudit.report.export import export_html
from rcaudit.report.grid import findings_grid, findings_rows, grid_js
from rcaudit.report.trends import Changes, change_list
from rcaudit.report.verdict import actions, tiles, verdict_band
from tests.support.browser import page_text, static_problems

LOCALITY = 'addresses[type eq "work"].locality'
DELETED_ID = "48a9ee8d-0000-4000-8000-00000000006a"
DELETED_UPN = DELETED_ID.replace("-", "") + "james.martinez2@contoso.example"


def _row(kind: str, severity: str, entra_id: str, scim_id: str, user: str, attribute: str = "",
         expected: str = "", actual: str = "", reason: str = "") -> dict:
    return {c: "" for c in COLUMNS} | {
        "kind": kind, "severity": severity, "entra_id": entra_id, "scim_id": scim_id, "user_name": user,
        "attribute": attribute, "expected": expected, "actual": actual, "reason": reason, "waived": False}


@pytest.fixture
def findings() -> pd.DataFrame:
    return pd.DataFrame([
        _row("should_be_inactive", "high", DELETED_ID, "101", DELETED_UPN, reason="soft-deleted"),
        _row("should_be_inactive", "high", "u2", "102", "ann@x.example"),
        _row("missing_in_target", "medium", "u5", "", "new@x.example"),
        _row("attribute_mismatch", "low", "u3", "103", "bo@x.example", LOCALITY, "Oslo", "Bergen"),
        _row("attribute_mismatch", "low", "u3", "103", "bo@x.example", "title", "A", "<b>B</b>" * 20),
    ], columns=list(COLUMNS))


def test_short_attribute_labels() -> None:
    assert charts.short_attribute(LOCALITY) == "address.locality"
    assert charts.short_attribute('phoneNumbers[type eq "mobile"].value') == "phone.mobile"
    assert charts.short_attribute("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department") \
        == "department"
    assert charts.short_attribute("name.givenName") == "name.givenName"


def test_verdict_tiles_actions_and_job_banner(findings: pd.DataFrame) -> None:
    by_severity = {t["severity"]: (t["findings"], t["affected"]) for t in tiles(findings, 200)}
    assert by_severity == {"high": (2, 2), "medium": (1, 1), "low": (2, 1)}
    assert actions(findings)[0] == ("should_be_inactive",
                                    "deactivate 2 accounts of people who left or are out of scope")
    assert ("attribute_mismatch", "correct 2 attribute values on 1 account") in actions(findings)
    job = {"status": {"code": "Quarantine", "quarantine": {"reason": "<img src=x>", "error": {"message": "m"}}}}
    band = verdict_band(findings, 200, "high", True, job).markup
    assert "FAIL" in band and 'class="rc-banner job"' in band and "<img" not in band
    assert 'href="#findings" data-kind="should_be_inactive"' in band
    assert "rc-banner" not in verdict_band(findings, 200, "none", False, {"status": {"code": "Active"}}).markup


def test_grid_cells_are_compact_and_keep_every_column(findings: pd.DataFrame) -> None:
    columns, rows = findings_rows(findings, pd.Series({"u3": "Sales"}), {DELETED_ID: "james.martinez2@contoso.example"})
    names = [c.name for c in columns]
    assert [n for n in names if n != "department"] == list(COLUMNS)
    assert {c.name for c in columns if c.filter} == {"kind", "severity", "attribute", "department"}
    user, attribute, department = names.index("user_name"), names.index("attribute"), names.index("department")
    assert rows[0][user] == {"v": "james.martinez2@contoso.example", "b": "deleted", "x": DELETED_UPN, "u": DELETED_ID,
                             "t": f"soft-deleted in Entra; Graph's userPrincipalName: {DELETED_UPN}"}
    assert rows[3][attribute] == {"v": "address.locality", "t": LOCALITY, "x": LOCALITY}
    assert rows[3][department] == "Sales"
    markup = findings_grid(findings).markup
    assert "<b>B</b>" not in markup  # the static preview rows are escaped, the JSON block has \\u003c
    body = markup.split('class="rcaudit-grid"', 1)[1].split(">", 1)[1].rsplit("</script>", 1)[0]
    assert len(json.loads(body)["rows"]) == len(findings)


def test_change_list_has_first_seen_dates_and_ages() -> None:
    frame = pd.DataFrame([_row("attribute_mismatch", "low", f"u{i}", f"{i}", f"u{i}@x", "title") for i in range(3)])
    frame["key"] = ["a", "b", "c"]
    change = Changes(new=frame.iloc[[0]], fixed=frame.iloc[[1]], persisting=frame.iloc[[2]])
    now = pd.Timestamp("2026-11-30T08:00:00Z")
    seen = {"b": pd.Timestamp("2026-11-20T08:00:00Z"), "c": pd.Timestamp("2026-11-10T08:00:00Z")}
    listing = change_list(change, seen, now).set_index("change")
    assert listing.loc["new", ["first_seen", "age_days"]].tolist() == ["2026-11-30", 0.0]
    assert listing.loc["fixed", ["first_seen", "age_days"]].tolist() == ["2026-11-20", 10.0]
    assert listing.loc["persisting", ["first_seen", "age_days"]].tolist() == ["2026-11-10", 20.0]


def test_worst_users_count_every_kind_in_the_severity_palette(findings: pd.DataFrame) -> None:
    fig = charts.worst_users(findings, names=pd.Series({DELETED_UPN: "james.martinez2@contoso.example (deleted)"}))
    users = {y for trace in fig.data for y in trace.y}
    assert {"james.martinez2@contoso.example (deleted)", "ann@x.example", "new@x.example", "bo@x.example"} == users
    assert {trace.name: trace.marker.color for trace in fig.data} == {
        s: charts.SEVERITY_COLORS[s] for s in ("high", "medium", "low")}
    # plotly lists a horizontal chart's categories bottom up: the worst users (high severity) are on top
    assert list(fig.layout.yaxis.categoryarray)[::-1][:3] == [
        "ann@x.example", "james.martinez2@contoso.example (deleted)", "new@x.example"]


def test_attribute_chart_short_ticks_full_paths_and_palette(findings: pd.DataFrame) -> None:
    fig = charts.mismatches_by_attribute(findings)
    assert set(fig.layout.yaxis.ticktext) == {"address.locality", "title"}
    assert set(fig.data[0].y) == {LOCALITY, "title"} and fig.data[0].marker.color == charts.SEVERITY_COLORS["low"]
    assert all("%{x" in trace.hovertemplate for trace in fig.data)


def test_trend_axes_are_days_at_one_run_and_ages_start_at_zero() -> None:
    one = pd.DataFrame({"run_id": ["r1"] * 3, "started_at": [pd.Timestamp("2026-11-30T08:00:00Z")] * 3,
                        "severity": ["high", "medium", "low"], "findings": [1, 2, 3]})
    fig = charts.trend(one)
    low, high = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert (high - low) == pd.Timedelta(days=2) and fig.layout.xaxis.tickformat == "%d %b %Y"
    assert list(charts.drift_age(pd.Series([0.0, 0.0])).layout.xaxis.range) == [0, 1.0]
    steps = pd.DataFrame({"run_id": ["r2"], "started_at": [pd.Timestamp("2026-11-30T08:00:00Z")], "new": [1],
                          "fixed": [2], "persisting": [3]})
    assert charts.changes(steps).layout.xaxis.type == "category"


def test_the_grid_bundle_is_one_hashed_script_and_markup_stays_text(findings: pd.DataFrame, tmp_path: Path) -> None:
    script = grid_js()
    assert "</script" not in script.lower() and "<!--" not in script and "export{" not in script.replace(" ", "")
    nb = nbformat.v4.new_notebook()
    grid = findings_grid(findings, boot=True)  # with the JupyterLab copy of the bundle, which the export removes
    nb.cells = [nbformat.v4.new_markdown_cell("how to run", metadata={"tags": ["notebook-only"]}),
                nbformat.v4.new_code_cell("grid", outputs=[nbformat.v4.new_output(
                    "display_data", data={"text/html": grid.markup, "text/plain": "grid"})])]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    page = export_html(tmp_path / "nb.ipynb", tmp_path / "report.html").read_text(encoding="utf-8")
    assert static_problems(page) == []
    assert len(re.findall(r'<script type="module">', page)) == 1 and "how to run" not in page_text(page)
    assert "<b>B</b>" not in page


def test_a_too_many_deletes_quarantine_says_what_an_admin_does() -> None:
    """synchronizationQuarantine.reason TooManyDeletes: the banner names the review and Allow deletes."""
    from rcaudit.report.verdict import job_state

    held = {"status": {"code": "Quarantine", "quarantine": {"reason": "TooManyDeletes", "error": {"message": ""}}}}
    other = {"status": {"code": "Quarantine", "quarantine": {"reason": "EncounteredQuarantineException"}}}
    assert "Allow deletes" in str(job_state(held)) and "StagedDelete" in str(job_state(held))
    assert "Allow deletes" not in str(job_state(other))
