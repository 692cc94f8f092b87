"""Interactive tables (search, per-column filters, sort, column chooser, CSV) that work offline under the CSP.

Why itables' bundle and not itables' own HTML: itables 2.9.1 (`connected=False`) injects its DataTables bundle
through `atob` and a `blob:` URL `import()`, and writes each table's data into its own inline script. The report's
Content-Security-Policy allows only scripts rcaudit wrote, by hash, so both are refused (a blob import needs
`script-src blob:`, and hashing a script that holds service values would let a value become code). So the report
ships itables' DataTables bundle (`itables/html/dt_bundle.js`: DataTables 2 with Buttons, SearchPanes, Select,
Scroller) once, as one hashed inline module, together with a small loader written here; each table is a `<table>`
placeholder plus its rows in a non-executing `<script type="application/json">` block, and the loader renders
every cell as escaped text (`title` holds the full value, so nothing is cut without a tooltip).
"""

from __future__ import annotations

import functools
import json
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rcaudit.report.export import Html, escape

GRID_CLASS = "rcaudit-grid"
# A cell is a string, or {"v": shown text, "t": tooltip, "x": value for CSV and sorting, "b": badge,
# "c": css class from CELL_CLASSES, "u": drill-down key}. The loader escapes every one of them.
CELL_CLASSES = frozenset({"sev-high", "sev-medium", "sev-low", "chg-new", "chg-fixed", "chg-persisting"})

_TEMPLATES = Path(__file__).resolve().parent / "templates" / "offline"





def _itables_html() -> Path:
    import itables

    return Path(itables.__file__).resolve().parent / "html"


@functools.cache
def grid_css() -> str:
    """DataTables' CSS (itables' bundle; its images are data: URLs) and the grid's own rules."""
    return ((_itables_html() / "dt_bundle.css").read_text(encoding="utf-8")
            + (_TEMPLATES / "rcaudit_grid.css").read_text(encoding="utf-8"))


@functools.cache
def grid_js() -> str:
    """itables' DataTables bundle as one inline module script, its exports bound for the loader.

    The bundle is an ES module ending in `export{... as ITable, ... as jQuery, ...}`; an inline module cannot
    export, so that clause becomes local bindings. Its one `<!--` (inside a regular expression literal, where `\\!`
    means `!`) is written `<\\!--` so the HTML parser never sees a comment opener inside the script element."""
    bundle = (_itables_html() / "dt_bundle.js").read_text(encoding="utf-8")
    found = list(re.finditer(r"export\s*\{([^}]*)\}\s*;?", bundle))
    if len(found) != 1:
        raise ValueError("itables' dt_bundle.js has not one export clause: unsupported itables version")
    match = found[0]
    names = {alias.strip(): local.strip() for local, _, alias in
             (part.strip().partition(" as ") for part in match.group(1).split(","))}
    if "ITable" not in names or "jQuery" not in names:
        raise ValueError("itables' dt_bundle.js does not export ITable and jQuery: unsupported itables version")
    body = bundle[:match.start()] + bundle[match.end():]
    if body.count("<!--") != 3 or "(<!--" not in body:
        raise ValueError("itables' dt_bundle.js holds an unexpected '<!--': unsupported itables version")
    body = body.replace("<!--", "<\\!--")
    loader = (_TEMPLATES / "rcaudit_grid.js").read_text(encoding="utf-8")
    loader = (loader.replace("__ITABLE__", names["ITable"]).replace("__JQUERY__", names["jQuery"])
              .replace("__CLASSES__", json.dumps(sorted(CELL_CLASSES))))
    return body + "\n" + loader


def json_block(payload: Any, css_class: str, for_id: str) -> str:
    """JSON safe inside `<script type="application/json">`: `<`, `>`, `&` as \\u escapes."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'<script type="application/json" class="{css_class}" data-for="{escape(for_id)}">{text}</script>'


@dataclass(frozen=True)
class Column:
    """One grid column: its name, heading, whether it shows at first, and whether it gets a filter pane."""

    name: str
    title: str = ""
    visible: bool = True
    filter: bool = False


def grid_html(columns: list[Column], rows: list[list[Any]], *, grid_id: str | None = None, csv: str = "table",
              order: list[tuple[int, str]] | None = None, page_length: int = 25, caption: str = "",
              boot: bool = False) -> Html:
    """A table placeholder and its data: the report's (or the notebook's) grid loader turns it into a grid.

    Before the loader runs (or where scripts never run) the caption says how many rows the grid holds. `boot`:
    carry the bundle for JupyterLab (the report export removes that copy and ships it once, hashed)."""
    from rcaudit.report.export import notebook_grid_boot

    grid_id = grid_id or f"grid-{uuid.uuid4().hex}"
    spec = {"columns": [{"name": c.name, "title": c.title or c.name, "visible": c.visible} for c in columns],
            "filters": [i for i, c in enumerate(columns) if c.filter], "rows": rows, "csv": csv,
            "order": [list(o) for o in (order or [])], "pageLength": page_length}
    head = "".join(f'<th data-name="{escape(c.name)}">{escape(c.title or c.name)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(_shown(cell))}</td>" for cell in row) + "</tr>"
                   for row in rows[:PREVIEW_ROWS])
    note = f'<p class="rc-grid-note">{escape(caption)} {len(rows):,} rows.</p>' if caption else ""
    return Html(f'{note}<table id="{escape(grid_id)}" class="display compact rc-grid" data-rows="{len(rows)}" '
                f'style="width:100%"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>\n'
                f"{json_block(spec, GRID_CLASS, grid_id)}" + (notebook_grid_boot() if boot else ""))


PREVIEW_ROWS = 100  # rows written as plain (escaped) HTML too: readable where scripts never run


def _shown(cell: Any) -> str:
    if isinstance(cell, dict):
        text = str(cell.get("v", ""))
        return f"{text} ({cell['b']})" if cell.get("b") else text
    return "" if cell is None else str(cell)


def has_grids(markup: str) -> bool:
    return f'class="{GRID_CLASS}"' in markup


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


FINDINGS_HIDDEN = frozenset({"entra_id", "scim_id", "expected_normalized", "actual_normalized", "match_key", "waived"})
FINDINGS_FILTERS = ("kind", "severity", "attribute", "department")


def findings_rows(findings: pd.DataFrame, departments: pd.Series | None = None,
                  deleted: dict[str, str] | None = None) -> tuple[list[Column], list[list[Any]]]:
    """Every column of findings.csv (and `department`), as compact cells: short attribute labels with the full
    path as tooltip, a severity chip, deleted users as their original UPN with a "deleted" badge."""
    from rcaudit.report.charts import short_attribute

    names = [c for c in findings.columns]
    at = names.index("attribute") + 1 if "attribute" in names else len(names)
    frame = findings.copy()
    entra = frame["entra_id"].astype(str).str.split(";").str[0]
    frame["department"] = entra.map(departments).fillna("") if departments is not None else ""
    names = [*names[:at], "department", *names[at:]]
    columns = [Column(n, n.replace("_", " "), n not in FINDINGS_HIDDEN, n in FINDINGS_FILTERS) for n in names]
    deleted = deleted or {}
    short = {a: short_attribute(a) for a in frame["attribute"].astype(str).unique()}
    rows = []
    for record, first in zip(frame[names].itertuples(index=False, name=None), entra, strict=True):
        row: list[Any] = [_cell(v) for v in record]
        values = dict(zip(names, row, strict=True))
        subject = first or (("scim:" + values["scim_id"]) if values.get("scim_id") else "")
        for i, name in enumerate(names):
            if name == "severity":
                row[i] = {"v": row[i], "c": f"sev-{row[i]}"}
            elif name == "attribute" and row[i]:
                row[i] = {"v": short[row[i]], "t": row[i], "x": row[i]}
            elif name == "user_name":
                cell: dict[str, Any] = {"v": row[i], "u": subject}
                if first in deleted:
                    cell.update(v=deleted[first], b="deleted", x=row[i],
                                t=f"soft-deleted in Entra; Graph's userPrincipalName: {row[i]}")
                row[i] = cell
        rows.append(row)
    return columns, rows


def findings_grid(findings: pd.DataFrame, departments: pd.Series | None = None, deleted: dict[str, str] | None = None,
                  boot: bool = False) -> Html:
    """The grid of every finding (waived ones too, marked): the report's `#findings` section."""
    columns, rows = findings_rows(findings, departments, deleted)
    return Html('<div id="findings"></div>') + grid_html(
        columns, rows, grid_id="findings-grid", csv="findings", boot=boot,
        caption="Every finding: search, filter by kind, severity, attribute or department, sort, choose columns, "
                "download what is shown as CSV.")


def static_table(frame: pd.DataFrame, empty: str = "None.") -> Html:
    """A plain table whose every cell is escaped text, wrapped rather than cut, with no index column."""
    if frame.empty:
        return Html(f"<p>{escape(empty)}</p>")
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.itertuples(index=False, name=None))
    return Html(f'<table class="rc-static"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')
