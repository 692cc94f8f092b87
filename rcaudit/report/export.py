"""Self-contained, script-safe HTML reports: values escaped where they are shown, a strict CSP at export.

Every value in a report comes from Entra or RingCentral, and any of them can hold markup. So:

- notebooks show tables through `table()` (pandas' Styler does not escape by itself) and text built from
  values through `note()` (IPython's `Markdown` passes raw HTML through, and Markdown itself can load an
  image); charts escape their labels in `charts.py` (plotly reads `<b>`, `<a>`, `<br>` in any text);
- a figure is stored as a `<div>` plus its JSON in a non-executing `<script type="application/json">`
  block, never as script; `export_html` adds plotly.js and one loader that draws those blocks, and a
  Content-Security-Policy whose `script-src` holds exactly the sha256 of those two scripts, computed from
  the text rcaudit itself wrote, never from what the notebook's outputs contain. An injected `<script>` or
  `onerror=` that slipped past escaping still cannot run;
- widget state is stripped (the lab template would otherwise add a CDN widget script);
- interactive grids (`grid.py`) are, like figures, a placeholder plus a JSON block; the export adds the grid
  bundle (itables' DataTables build plus rcaudit's loader) as one more hashed script, and removes the copy a
  notebook output carries for JupyterLab (`NOTEBOOK_GRID_BOOT`), matched as the exact text rcaudit wrote;
- cells tagged `notebook-only` (how to run the notebook) are left out of the report, and so is the progress
  (stderr) of cells tagged `progress-only`, so the report opens on its verdict.

Inside a papermill kernel plotly's default renderer stores only a JSON mimetype that nbconvert does not
draw, and the stock `notebook` renderer and `lab` template both pull scripts from CDNs. The package ships
a renderer and an nbconvert template that do neither, so `report.html` makes zero network requests.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

TEMPLATES = Path(__file__).resolve().parent / "templates"
OFFLINE_RENDERER = "rcaudit_offline"
FIGURE_CLASS = "rcaudit-figure"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
WIDGET_MIMES = ("application/vnd.jupyter.widget-view+json", "application/vnd.jupyter.widget-state+json")

# The one script besides plotly.js that a report runs: draw each figure from its JSON block. No eval.
LOADER_JS = """(function () {
  "use strict";
  var blocks = document.querySelectorAll('script[type="application/json"].rcaudit-figure');
  Array.prototype.forEach.call(blocks, function (block) {
    var div = document.getElementById(block.getAttribute("data-for"));
    if (!div || !window.Plotly) { return; }
    var figure = JSON.parse(block.textContent);
    window.Plotly.newPlot(div, figure.data || [], figure.layout || {}, figure.config || {});
  });
}());"""  # the class is FIGURE_CLASS


# The report's own look: the verdict band, banners and the drill-down (grid.py styles the grid).
REPORT_CSS = (TEMPLATES / "offline" / "rcaudit_report.css").read_text(encoding="utf-8")


@dataclass(frozen=True, repr=False)
class Html:
    """Markup rcaudit wrote, with every value in it already escaped; IPython shows it as HTML.

    Its text form is a short placeholder: a notebook keeps every output's text/plain beside its HTML, and a
    grid's markup runs to megabytes."""

    markup: str

    def __repr__(self) -> str:
        return f"<rcaudit HTML, {len(self.markup):,} characters>"

    def _repr_html_(self) -> str:
        return self.markup

    def __str__(self) -> str:
        return self.markup

    def __add__(self, other: Html) -> Html:
        return Html(self.markup + other.markup)


def escape(value: Any) -> str:
    """A value as HTML text: `&`, `<`, `>` and both quotes escaped; `Html` (already escaped) as it is."""
    if isinstance(value, Html):
        return value.markup
    return html.escape("" if value is None else str(value), quote=True)


def note(template: str, *values: Any, **named: Any) -> Html:
    """HTML from a trusted `template` (`str.format` fields) and untrusted values, each escaped.

    Used instead of IPython's `Markdown` for anything holding a value: Markdown passes raw HTML through,
    and `![](http://…)` in a value would be fetched."""
    return Html(template.format(*(escape(v) for v in values), **{k: escape(v) for k, v in named.items()}))


def warning(text: Html | str, strong: bool = False) -> Html:
    """A banner at the top of a section: `text` escaped unless it is `Html` already."""
    template = "<blockquote><p>&#9888; <strong>{}</strong></p></blockquote>" if strong else \
        "<blockquote><p>&#9888; {}</p></blockquote>"
    return note(template, text)


def table(data: pd.DataFrame | Styler) -> pd.DataFrame | Styler:
    """A table whose cells and labels are shown as text, never markup.

    A Styler gets HTML escaping on its cells, index and column labels (pandas' Styler does not escape by
    default). A plain DataFrame's own HTML already escapes all of those, so it is returned as it is (and
    keeps pandas' row truncation)."""
    if isinstance(data, pd.DataFrame):
        return data
    return data.format(escape="html").format_index(escape="html", axis=0).format_index(escape="html", axis=1)


def figure_json(fig_dict: dict[str, Any], config: dict[str, Any] | None = None) -> str:
    """A figure as JSON safe inside `<script type="application/json">`: `<`, `>`, `&` as \\u escapes, so a
    value holding `</script>` cannot close the block."""
    import plotly.io as pio

    figure = json.loads(pio.to_json(fig_dict, validate=False))
    text = json.dumps({"data": figure.get("data", []), "layout": figure.get("layout", {}),
                       "config": config or {}}, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def figure_html(fig_dict: dict[str, Any], config: dict[str, Any] | None = None, height: int = 480) -> str:
    """A chart's place and data, no script: the exported report's loader draws it."""
    div_id = f"fig-{uuid.uuid4().hex}"
    return (f'<div id="{div_id}" class="plotly-graph-div" style="height:{height}px; width:100%;"></div>\n'
            f'<script type="application/json" class="{FIGURE_CLASS}" data-for="{div_id}">'
            f"{figure_json(fig_dict, config)}</script>")


def register_offline_renderer(name: str = OFFLINE_RENDERER) -> None:
    """Make `name` plotly's default renderer: a figure's JSON (for JupyterLab) plus a script-free HTML
    block (for the report); plotly.js is added once at export, never into the notebook."""
    import plotly.io as pio
    from plotly.io.base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):  # type: ignore[misc]
        def activate(self) -> None:
            """No plotly.js into the notebook: the export ships it, with its hash in the CSP."""

        def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, Any]:
            config = {"responsive": True, **(self.config or {})}
            height = (fig_dict.get("layout") or {}).get("height") or 480
            return {PLOTLY_MIME: json.loads(pio.to_json(fig_dict, validate=False)),
                    "text/html": figure_html(fig_dict, config, int(height))}

    pio.renderers[name] = OfflineNotebookRenderer(connected=False)
    pio.renderers.default = name


def strip_widget_state(nb: Any) -> bool:
    """Drop `metadata.widgets` and widget-view outputs (the lab template turns either into a CDN script);
    True when anything was removed."""
    changed = nb.metadata.pop("widgets", None) is not None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            for mime in WIDGET_MIMES:
                if data.pop(mime, None) is not None:
                    changed = True
    return changed


def strip_saved_notebook(path: str | Path) -> None:
    """Remove widget state from an executed notebook on disk (the run folder's `audit.ipynb`)."""
    import nbformat

    path = Path(path)
    if not path.is_file():
        return
    nb = nbformat.read(str(path), as_version=4)
    if strip_widget_state(nb):
        nbformat.write(nb, str(path))


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii") + "'"


NOTEBOOK_ONLY_TAG = "notebook-only"


def _html_outputs(nb: Any) -> list[str]:
    return [str((o.get("data") or {}).get("text/html", "")) for c in nb.cells for o in c.get("outputs", [])]


def _has_figures(nb: Any) -> bool:
    return any(FIGURE_CLASS in text for text in _html_outputs(nb))


def _has_grids(nb: Any) -> bool:
    from rcaudit.report.grid import has_grids

    return any(has_grids(text) for text in _html_outputs(nb))


def notebook_grid_boot() -> str:
    """What a grid output carries so JupyterLab draws it too: the bundle as a module script (the report drops it
    and ships the same text once, by hash)."""
    from rcaudit.report.grid import grid_css, grid_js

    return f"<style>{grid_css()}</style><script type=\"module\">{grid_js()}</script>"


PROGRESS_ONLY_TAG = "progress-only"


def drop_notebook_only(nb: Any) -> None:
    """Leave out cells tagged `notebook-only`, the stderr (progress) of cells tagged `progress-only` (their errors
    stay), and the grid bundle copies notebook outputs carry."""
    nb.cells = [c for c in nb.cells if NOTEBOOK_ONLY_TAG not in (c.get("metadata") or {}).get("tags", [])
                and not (c.get("cell_type") == "code" and not c.get("outputs"))]  # an empty box, inputs hidden
    for cell in nb.cells:
        if PROGRESS_ONLY_TAG in (cell.get("metadata") or {}).get("tags", []):
            cell["outputs"] = [o for o in cell.get("outputs", [])
                               if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    boot = None
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            text = data.get("text/html")
            if isinstance(text, list):
                text = "".join(text)
            if isinstance(text, str) and "<script type=\"module\">" in text:
                boot = boot or notebook_grid_boot()
                data["text/html"] = text.replace(boot, "")


def shipped_scripts(with_figures: bool, with_grids: bool = False) -> list[str]:
    """The inline scripts a report runs, as rcaudit writes them: plotly.js and the loader when it has charts,
    the grid bundle (a module script: always the last one) when it has grids."""
    scripts: list[str] = []
    if with_figures:
        from plotly.offline import get_plotlyjs

        scripts += [get_plotlyjs(), LOADER_JS]
    if with_grids:
        from rcaudit.report.grid import grid_js

        scripts.append(grid_js())
    for script in scripts:
        if "</script" in script.lower() or "<!--" in script:
            raise ValueError("a shipped script would end its own <script> element")  # never with plotly's bundle
    return scripts


def content_security_policy(scripts: list[str]) -> str:
    """The report's CSP: nothing from anywhere, only the listed scripts by hash.

    style-src 'unsafe-inline': nbconvert and pandas write `<style>` blocks and `style=` attributes and
    plotly.js adds its own `<style>` at run time; inline CSS cannot run script, and any `url()` it names is
    still refused by img-src/font-src (data: only), so it cannot make a request either."""
    script_src = " ".join(_sha256(s) for s in scripts) or "'none'"
    return ("default-src 'none'; "
            f"script-src {script_src}; "
            "style-src 'unsafe-inline'; img-src data:; font-src data:; "
            "base-uri 'none'; form-action 'none'")


def export_html(notebook: str | Path, target: str | Path, title: str | None = None) -> Path:
    """Write an executed notebook as HTML without its code cells, using the offline template, with the CSP."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    nb = nbformat.read(str(notebook), as_version=4)
    strip_widget_state(nb)
    drop_notebook_only(nb)
    with_grids = _has_grids(nb)
    scripts = shipped_scripts(_has_figures(nb), with_grids)
    from rcaudit.report.grid import grid_css

    resources = {"metadata": {"name": title or Path(notebook).stem},
                 "rcaudit_csp": content_security_policy(scripts), "rcaudit_scripts": scripts,
                 "rcaudit_module": with_grids, "rcaudit_css": grid_css() if with_grids else "",
                 "rcaudit_report_css": REPORT_CSS}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    target = Path(target)
    target.write_text(body, encoding="utf-8")
    return target
