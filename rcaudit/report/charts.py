"""The figures analysts ask for, built from a findings table (DESIGN.md columns).

Pure functions: a DataFrame in, a plotly Figure out; the notebook decides what to show. Waived rows are
left out of every chart (they count toward nothing). Every label that comes from a service goes through
`label()`: plotly reads a subset of HTML (`<b>`, `<br>`, `<a href>`) in titles, ticks, legends and hover
text, so a department of `<b>x</b>` would otherwise be drawn bold, and a link would be a link.
"""

from __future__ import annotations

import re

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
    """A compact label for a SCIM path: `addresses[type eq "work"].locality` → `address.locality`,
    `phoneNumbers[type eq "mobile"].value` → `phone.mobile`, the enterprise URN's `…:User:department` →
    `department`. The full path stays in every tooltip."""
    if path.startswith(ENTERPRISE):
        return path[len(ENTERPRISE):].lstrip(":.")
    match = _FILTERED.fullmatch(path)
    if not match:
        return path
    plural, kind, sub = match.group(1), match.group(2), match.group(3)
    singular = {"addresses": "address", "emails": "email", "phoneNumbers": "phone"}.get(plural, plural)
    if sub in (None, "value"):
        return f"{singular}.{kind}"
    return f"{singular}.{sub}" if kind == "work" else f"{singular}.{kind}.{sub}"


_FILTERED = re.compile(r'(\w+)\[type eq "([^"]+)"\](?:\.(\w+))?')
_HOVER = "%{y}: %{x:,} findings<extra>%{fullData.name}</extra>"


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
    fig.update_traces(hovertemplate=_HOVER)
    fig.update_layout(yaxis_title=None, legend_title=None, height=120 + 45 * counts["kind"].nunique())
    return fig


def mismatches_by_attribute(findings: pd.DataFrame) -> go.Figure:
    """Which attributes drift: attribute mismatches per target attribute, most first, in the severity palette.

    The bars are keyed by the full path (escaped); the axis shows the short label and the hover the full path."""
    title = "Attribute mismatches by attribute"
    rows = _open(findings)
    rows = rows[rows["kind"] == "attribute_mismatch"]
    if rows.empty:
        return _empty(title, "no attribute mismatches")
    counts = rows.groupby(["attribute", "severity"]).size().reset_index(name="mismatches")
    totals = counts.groupby("attribute")["mismatches"].sum().sort_values(ascending=False)  # most on top
    counts["attribute"] = counts["attribute"].map(label)
    order = [label(a) for a in totals.index]
    fig = px.bar(counts, x="mismatches", y="attribute", color="severity", orientation="h", title=title,
                 text="mismatches", color_discrete_map=SEVERITY_COLORS,
                 category_orders={"attribute": order, "severity": list(SEVERITIES)})
    fig.update_traces(hovertemplate="%{y}: %{x:,} mismatches<extra>%{fullData.name}</extra>")
    fig.update_yaxes(tickmode="array", tickvals=order, ticktext=[label(short_attribute(a)) for a in totals.index])
    fig.update_layout(yaxis_title=None, legend_title=None, height=120 + 32 * len(order))
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
    fig.update_traces(hovertemplate=_HOVER)
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


def worst_users(findings: pd.DataFrame, top: int = 30, names: pd.Series | None = None) -> go.Figure:
    """The users (or accounts) with the most findings of every kind, stacked by severity, worst first.

    A departed user's one `should_be_inactive` row counts as much as any mismatch, so high-severity users are
    never crowded out: users are ranked by their worst severity, then by how many findings they have.
    `names` maps `user_name` to the label to show (the original UPN of a deleted user)."""
    title = f"Worst {top} users: findings of every kind"
    rows = _open(findings)
    if rows.empty:
        return _empty(title)
    shown = rows["user_name"].map(names).fillna(rows["user_name"]) if names is not None else rows["user_name"]
    rows = rows.assign(who=shown.replace("", "(no name)"), rank=rows["severity"].map({s: i for i, s in
                                                                                      enumerate(SEVERITIES)}))
    stats = rows.groupby("who").agg(rank=("rank", "min"), count=("kind", "size"))
    worst = stats.sort_values(["rank", "count"], ascending=[True, False]).head(top).index.tolist()
    rows = rows[rows["who"].isin(worst)]
    counts = rows.groupby(["who", "severity"]).agg(
        findings=("kind", "size"),
        what=("kind", lambda k: ", ".join(f"{n} {kind}" for kind, n in k.value_counts().items()))).reset_index()
    counts["who"], counts["what"] = counts["who"].map(label), counts["what"].map(label)
    fig = px.bar(counts, x="findings", y="who", color="severity", orientation="h", title=title,
                 custom_data=["what"], color_discrete_map=SEVERITY_COLORS,
                 category_orders={"who": [label(w) for w in worst], "severity": list(SEVERITIES)})
    fig.update_traces(hovertemplate="%{y}<br>%{x} %{fullData.name}: %{customdata[0]}<extra></extra>")
    fig.update_layout(yaxis_title=None, legend_title=None, height=140 + 24 * len(worst), xaxis={"dtick": 1}
                      if int(counts.groupby("who")["findings"].sum().max()) <= 10 else {})
    return fig


def drift_age(ages_days: pd.Series, title: str = "Drift age (days since the account last changed)") -> go.Figure:
    """Histogram of how long findings have existed, where an age is known; the axis starts at 0 days."""
    known = ages_days.dropna()
    if known.empty:
        return _empty(title, "no age known")
    fig = px.histogram(known, nbins=30, title=title)
    fig.update_traces(hovertemplate="%{x} days: %{y:,} findings<extra></extra>")
    fig.update_layout(showlegend=False, xaxis_title="days", yaxis_title="findings", height=320)
    fig.update_xaxes(rangemode="tozero", range=[0, max(1.0, float(known.max()) * 1.05)])
    return fig


def _date_axis(fig: go.Figure, dates: pd.Series) -> None:
    """Dates as days, readable at one run (a window of a day either side) and at thirty."""
    stamps = pd.to_datetime(dates, utc=True)
    first, last = stamps.min(), stamps.max()
    if last - first < pd.Timedelta(days=2):
        fig.update_xaxes(range=[first - pd.Timedelta(days=1), last + pd.Timedelta(days=1)], dtick=86_400_000)
    fig.update_xaxes(tickformat="%d %b %Y", title=None)


def trend(history: pd.DataFrame) -> go.Figure:
    """Open findings per run over time, by severity (`history`: run started_at, severity, findings)."""
    title = "Open findings over time"
    if history.empty:
        return _empty(title, "no runs yet")
    fig = px.line(history, x="started_at", y="findings", color="severity", markers=True, title=title,
                  category_orders={"severity": list(SEVERITIES)}, color_discrete_map=SEVERITY_COLORS)
    fig.update_traces(hovertemplate="%{x|%d %b %Y %H:%M}: %{y:,} %{fullData.name}<extra></extra>")
    _date_axis(fig, history["started_at"])
    fig.update_layout(legend_title=None, height=360, yaxis={"rangemode": "tozero"})
    return fig


def changes(steps: pd.DataFrame) -> go.Figure:
    """New, fixed and persisting findings between consecutive runs (`steps` from trends.changes_over_time).

    One group of bars per run, labelled by its date (a category axis: never slivers on a time axis)."""
    title = "Between consecutive runs"
    if steps.empty:
        return _empty(title, "fewer than two runs")
    labelled = steps.assign(run=pd.to_datetime(steps["started_at"], utc=True).dt.strftime("%d %b %Y %H:%M"))
    long = labelled.melt(id_vars=["run_id", "run"], value_vars=["new", "fixed", "persisting"],
                         var_name="change", value_name="findings")
    fig = px.bar(long, x="run", y="findings", color="change", barmode="group", title=title, custom_data=["run_id"],
                 color_discrete_map={"new": "#c0392b", "fixed": "#27ae60", "persisting": "#95a5a6"})
    fig.update_traces(hovertemplate="%{x} (run %{customdata[0]}): %{y:,} %{fullData.name}<extra></extra>")
    fig.update_layout(legend_title=None, height=360, xaxis={"type": "category", "title": None})
    return fig
