"""Self-contained HTML reports: plotly.js inline once, no CDN, no MathJax, no require.js.

Inside a papermill kernel plotly's default renderer stores only a JSON mimetype that nbconvert does not
draw, and the stock `notebook` renderer and `lab` template both pull scripts from CDNs. The package ships
a renderer and an nbconvert template that do neither, so `report.html` makes zero network requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "report_templates"
OFFLINE_RENDERER = "rcaudit_offline"


def register_offline_renderer(name: str = OFFLINE_RENDERER) -> None:
    """Make `name` plotly's default renderer: figures as HTML divs, plotly.js embedded once per kernel."""
    import plotly.io as pio
    from plotly.io.base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):  # type: ignore[misc]
        def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, str]:
            html = pio.to_html(fig_dict, config=self.config, include_plotlyjs=False, include_mathjax=False,
                               full_html=False, default_width="100%", default_height=480, validate=False)
            return {"text/html": html}

    pio.renderers[name] = OfflineNotebookRenderer(connected=False)
    pio.renderers.default = name


def export_html(notebook: str | Path, target: str | Path, title: str | None = None) -> Path:
    """Write an executed notebook as HTML without its code cells, using the offline template."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES)],
                            exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    nb = nbformat.read(str(notebook), as_version=4)
    resources = {"metadata": {"name": title or Path(notebook).stem}}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    target = Path(target)
    target.write_text(body, encoding="utf-8")
    return target
