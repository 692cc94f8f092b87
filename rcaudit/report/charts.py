"""The figures analysts ask for, built from a findings table (DESIGN.md columns).

Pure functions: a DataFrame in, a plotly Figure out; the notebook decides what to show. Waived rows are
left out of every chart (they count toward nothing). Every label that comes from a service goes through
`label()`: plotly reads a subset of HTML (`<b>`, `<br>`, `<a href>`) in titles, ticks, legends and hover
text, so a department of `<b>x</b>` would otherwise be drawn bold, and a link would be a link.
"""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from rcaudit.model.findings import KINDS, SEVERITIES
from rcaudit.model.vocabulary import ENTERPRISE

SEVERITY_COLORS = {"high": "#c0392b", "medium": "#e67e22", "low": "#f1c40f"}


def label(value: object) -> str:
    """Text plotly shows as it is: `&`, `<`, `>` as entities, which plotly turns back into plain characters."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def short_attribute(path: str) -> str:
    """A chart label: the enterprise extension's URN shortened (`…:User:department` → `enterprise:department`)."""
    return "enterprise:" + path.rsplit(":", 1)[-1] if path.startswith(ENTERPRISE) else path


def _open(findings: pd.DataFrame) -> pd.DataFrame:
    return findings[~findings["waived"].astype(bool)]


def _empty(title: str, note: str = "no findings") -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False},
                      annotations=[{"text": note, "showarrow": False, "font": {"size": 16}}], height=260)
    return fig


def by_kind_and_severity(findings: pd.DataFrame) -> go.Figure:
    """How many findings of each kind, coloured by severity: the headline."""
    title = "Findings by kind and severity"
    rows = _open(findings)
    if rows.empty:
        return _empty(title)
    counts = rows.groupby(["kind", "severity"]).size().reset_index(name="findings")
    fig = px.bar(counts, x="findings", y="kind", color="severity", orientation="h", title=title,
                 category_orders={"kind": [k for k in KINDS if k in set(counts["kind"])],
                                  "severity": list(SEVERITIES)},
                 color_discrete_map=SEVERITY_COLORS, text="findings")
    fig.update_layout(yaxis_title=None, legend_title=None, height=120 + 45 * counts["kind"].nunique())
    return fig


def mismatches_by_attribute(findings: pd.DataFrame) -> go.Figure:
    """Which attributes drift: attribute mismatches per target attribute, most first."""
    title = "Attribute mismatches by attribute"
    rows = _open(findings)
    rows = rows[rows["kind"] == "attribute_mismatch"]
    if rows.empty:
        return _empty(title, "no attribute mismatches")
    counts = rows["attribute"].map(short_attribute).map(label).value_counts().sort_values().reset_index()
    counts.columns = ["attribute", "mismatches"]
    fig = px.bar(counts, x="mismatches", y="attribute", orientation="h", title=title, text="mismatches")
    fig.update_layout(yaxis_title=None, height=120 + 32 * len(counts))
    return fig


def by_group(findings: pd.DataFrame, groups: pd.Series, group_name: str = "department", top: int = 15) -> go.Figure:
    """Findings per group (department by default); `groups` maps Entra user id -> group value."""
    title = f"Findings by {label(group_name)}"
    rows = _open(findings)
    if rows.empty:
        return _empty(title)
    first_id = rows["entra_id"].str.split(";").str[0]
    labels = first_id.map(groups).fillna("(no Entra user)").replace("", "(empty)").map(label)
    counts = pd.DataFrame({group_name: labels, "severity": rows["severity"]}).groupby(
        [group_name, "severity"]).size().reset_index(name="findings")
    order = counts.groupby(group_name)["findings"].sum().sort_values(ascending=False).head(top).index.tolist()
    counts = counts[counts[group_name].isin(order)]
    fig = px.bar(counts, x="findings", y=group_name, color="severity", orientation="h", title=title,
                 category_orders={group_name: order, "severity": list(SEVERITIES)},
                 color_discrete_map=SEVERITY_COLORS)
    fig.update_layout(yaxis_title=None, legend_title=None, height=140 + 30 * len(order))
    return fig


def worst_users_heatmap(findings: pd.DataFrame, top: int = 30) -> go.Figure:
    """User × attribute grid of the users with the most mismatched attributes."""
    title = f"Worst {top} users: mismatched attributes"
    rows = _open(findings)
    rows = rows[rows["kind"] == "attribute_mismatch"]
    if rows.empty:
        return _empty(title, "no attribute mismatches")
    worst = rows["user_name"].value_counts().head(top).index.tolist()
    grid = pd.crosstab(rows["user_name"], rows["attribute"]).reindex(worst)
    grid = grid[grid.sum().sort_values(ascending=False).index]
    fig = go.Figure(go.Heatmap(z=grid.to_numpy(), x=[label(short_attribute(a)) for a in grid.columns],
                               y=[label(u) for u in grid.index], colorscale=[[0, "#f4f6f7"], [1, "#c0392b"]],
                               showscale=False,
                               hovertemplate="%{y}<br>%{x}<extra></extra>", xgap=1, ygap=1))
    fig.update_layout(title=title, height=160 + 22 * len(worst), yaxis={"autorange": "reversed"})
    return fig


def drift_age(ages_days: pd.Series, title: str = "Drift age (days since the account last changed)") -> go.Figure:
    """Histogram of how long findings have existed, where an age is known."""
    known = ages_days.dropna()
    if known.empty:
        return _empty(title, "no age known")
    fig = px.histogram(known, nbins=30, title=title)
    fig.update_layout(showlegend=False, xaxis_title="days", yaxis_title="findings", height=320)
    return fig


def trend(history: pd.DataFrame) -> go.Figure:
    """Open findings per run over time, by severity (`history`: run started_at, severity, findings)."""
    title = "Open findings over time"
    if history.empty:
        return _empty(title, "no runs yet")
    fig = px.line(history, x="started_at", y="findings", color="severity", markers=True, title=title,
                  category_orders={"severity": list(SEVERITIES)}, color_discrete_map=SEVERITY_COLORS)
    fig.update_layout(legend_title=None, height=360)
    return fig


def changes(steps: pd.DataFrame) -> go.Figure:
    """New, fixed and persisting findings between consecutive runs (`steps` from trends.changes_over_time)."""
    title = "Between consecutive runs"
    if steps.empty:
        return _empty(title, "fewer than two runs")
    long = steps.melt(id_vars=["run_id", "started_at"], value_vars=["new", "fixed", "persisting"],
                      var_name="change", value_name="findings")
    fig = px.bar(long, x="started_at", y="findings", color="change", barmode="group", title=title,
                 color_discrete_map={"new": "#c0392b", "fixed": "#27ae60", "persisting": "#95a5a6"})
    fig.update_layout(legend_title=None, height=360)
    return fig
