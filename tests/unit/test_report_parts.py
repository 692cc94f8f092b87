"""Charts, masking and run history over findings tables in DESIGN.md's format."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rcaudit.model.findings import COLUMNS, read_findings
from rcaudit.model.runs import list_runs
from rcaudit.report import charts
from rcaudit.report.masking import mask, mask_findings, pii_key
from rcaudit.report.trends import changes_over_time, compare, history, open_findings

EMAIL = 'emails[type eq "work"].value'


def _row(kind: str, severity: str, entra_id: str, scim_id: str, user: str, attribute: str = "",
         expected: str = "", actual: str = "", waived: bool = False) -> dict:
    return {"kind": kind, "severity": severity, "entra_id": entra_id, "scim_id": scim_id, "user_name": user,
            "attribute": attribute, "expected": expected, "actual": actual, "expected_normalized": expected.lower(),
            "actual_normalized": actual.lower(), "match_key": "userName", "reason": "", "waived": waived}


@pytest.fixture
def findings() -> pd.DataFrame:
    return pd.DataFrame([
        _row("should_be_inactive", "high", "u1", "101", "ann@x.example"),
        _row("orphan_in_target", "high", "", "102", "old@x.example"),
        _row("attribute_mismatch", "low", "u3", "103", "bo@x.example", "title", "Engineer", "Lead"),
        _row("attribute_mismatch", "low", "u3", "103", "bo@x.example", EMAIL, "Bo@x.example", "bo@y.example"),
        _row("attribute_mismatch", "low", "u4", "104", "cy@x.example", "title", "A", "B", waived=True),
    ], columns=list(COLUMNS))


def test_headline_counts_unwaived_findings_by_kind_and_severity(findings: pd.DataFrame) -> None:
    fig = charts.by_kind_and_severity(findings)
    totals = {trace.name: int(sum(trace.x)) for trace in fig.data}
    assert totals == {"high": 2, "low": 2}


def test_attribute_and_group_charts(findings: pd.DataFrame) -> None:
    by_attribute = charts.mismatches_by_attribute(findings)
    assert dict(zip(by_attribute.data[0].y, by_attribute.data[0].x, strict=True)) == {EMAIL: 1, "title": 1}
    by_department = charts.by_group(findings, pd.Series({"u1": "Sales", "u3": "Support"}))
    labels = {label for trace in by_department.data for label in trace.y}
    assert labels == {"Sales", "Support", "(no Entra user)"}
    heat = charts.worst_users_heatmap(findings)
    assert list(heat.data[0].y) == ["bo@x.example"] and heat.data[0].z.sum() == 2


def test_empty_findings_draw_a_figure_that_says_so() -> None:
    empty = pd.DataFrame(columns=list(COLUMNS)).astype({"waived": bool})
    for fig in (charts.by_kind_and_severity(empty), charts.mismatches_by_attribute(empty),
                charts.worst_users_heatmap(empty), charts.drift_age(pd.Series(dtype=float))):
        assert fig.layout.annotations and not fig.data


def test_masking_hides_names_mails_and_phones_but_keeps_ids_and_other_values(findings: pd.DataFrame) -> None:
    masked = mask_findings(findings, b"k")
    assert not masked["user_name"].str.contains("@").any()
    assert masked.loc[3, "expected"] == mask("Bo@x.example", b"k") and masked.loc[3, "actual"].startswith("pii:")
    assert masked.loc[2, "expected"] == "Engineer"  # a title is not personal
    assert masked["entra_id"].tolist() == findings["entra_id"].tolist()
    assert masked["scim_id"].tolist() == findings["scim_id"].tolist()
    assert mask("", b"k") == "" and mask("a", b"k") == mask("a", b"k") != mask("a", b"other")


def test_pii_key_is_created_once_with_private_permissions(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    first = pii_key(None)
    assert pii_key(None) == first and len(first) == 64
    assert (tmp_path / "rcaudit" / "pii.key").stat().st_mode & 0o777 == 0o600
    assert pii_key("configured") == b"configured"


def _write_run(root: Path, run_id: str, started: str, frame: pd.DataFrame) -> None:
    folder = root / run_id
    folder.mkdir()
    frame.to_csv(folder / "findings.csv", index=False)
    open_rows = frame[~frame["waived"]]
    (folder / "summary.json").write_text(json.dumps({"run_id": run_id, "started_at": started, "findings": {
        "by_severity": open_rows["severity"].value_counts().to_dict()}}))


def test_run_history_new_fixed_persisting_and_time_to_fix(tmp_path: Path, findings: pd.DataFrame) -> None:
    _write_run(tmp_path, "r1", "2026-11-20T08:00:00+00:00", findings)
    later = pd.concat([findings.iloc[[0, 2]], pd.DataFrame([_row("missing_in_target", "medium", "u9", "", "z@x")])])
    _write_run(tmp_path, "r2", "2026-11-22T08:00:00+00:00", later)
    (tmp_path / "broken").mkdir()  # a run that died early is ignored
    runs = list_runs(tmp_path)
    assert [r.run_id for r in runs] == ["r1", "r2"]
    change = compare(open_findings(runs[0]), open_findings(runs[1]))
    assert change.counts() == {"new": 1, "fixed": 2, "persisting": 2}
    steps, fixes = changes_over_time(runs)
    assert steps[["new", "fixed", "persisting"]].iloc[0].tolist() == [1, 2, 2]
    assert fixes["days_open"].tolist() == [2.0, 2.0]
    assert history(runs).query("run_id == 'r2' and severity == 'medium'")["findings"].item() == 1
    assert read_findings(tmp_path / "r1" / "findings.csv")["waived"].tolist() == [False] * 4 + [True]


def test_chart_labels_from_the_services_are_text_to_plotly(findings: pd.DataFrame) -> None:
    """plotly draws `<b>`/`<a href>`/`<br>` in ticks and hover text as markup: values reach it escaped."""
    hostile = "<b>R&D</b><a href='http://127.0.0.1:9/x'>"
    findings.loc[2, "user_name"] = findings.loc[3, "user_name"] = hostile
    by_department = charts.by_group(findings, pd.Series({"u1": hostile}), "<i>group</i>")
    labels = {label for trace in by_department.data for label in trace.y}
    assert "&lt;b&gt;R&amp;D&lt;/b&gt;&lt;a href='http://127.0.0.1:9/x'&gt;" in labels
    assert "<" not in by_department.layout.title.text
    assert [u for u in charts.worst_users_heatmap(findings).data[0].y if "<" in u] == []


def test_a_figure_block_cannot_be_closed_by_a_value() -> None:
    from rcaudit.report.export import figure_html

    block = figure_html({"data": [{"type": "bar", "y": ["</script><script>alert(1)</script>"]}], "layout": {}})
    assert block.count("</script>") == 1 and "<script>" not in block
    body = block.split('type="application/json"', 1)[1].split(">", 1)[1].rsplit("</script>", 1)[0]
    assert json.loads(body)["data"][0]["y"] == [
        "</script><script>alert(1)</script>"]
