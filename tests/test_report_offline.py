"""The HTML report works offline: no CDN script, no request but file:/data:, every chart drawn.

The browser part runs Debian's Chromium through Playwright (never `playwright install`); without
Chromium only that test is skipped, with the command that installs it.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import papermill
import pytest
from browser import CHROMIUM, NEEDS_CHROMIUM, visit

from rcaudit.report import export_html


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-chart notebook executed by papermill and exported with the package's template."""
    folder = tmp_path_factory.mktemp("report")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Offline report fixture"),
        nbformat.v4.new_code_cell("from rcaudit.report import register_offline_renderer\n"
                                  "register_offline_renderer()\nimport plotly.express as px"),
        nbformat.v4.new_code_cell("px.bar(x=['orphan', 'missing'], y=[3, 5], title='by kind').show()"),
        nbformat.v4.new_code_cell("px.pie(names=['high', 'low'], values=[2, 7], title='by severity').show()"),
    ]
    source, executed = folder / "fixture.ipynb", folder / "executed.ipynb"
    nbformat.write(nb, str(source))
    papermill.execute_notebook(str(source), str(executed), kernel_name="python3", progress_bar=False,
                               cwd=str(folder))
    return export_html(executed, folder / "report.html")


def test_report_pulls_no_script_from_the_network(report: Path) -> None:
    html = report.read_text(encoding="utf-8")
    sources = re.findall(r"<script[^>]*\bsrc=[\"']([^\"']+)", html)
    assert not [s for s in sources if not s.startswith("data:")], sources
    assert "require.min.js" not in html and "MathJax.js" not in html and "tex-svg" not in html
    assert html.count("plotly.js v") >= 1 and html.count('class="plotly-graph-div"') == 2
    assert "px.bar(" not in html  # code cells are not in the report


@pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)
def test_report_renders_every_chart_with_zero_network_requests(report: Path) -> None:
    seen = visit(report)
    assert seen.errors == [] and seen.remote == []
    assert seen.charts_drawn == [True, True]
