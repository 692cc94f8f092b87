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

from rcaudit.connect.config import Settings
from rcaudit.model.errors import NotebookError
from rcaudit.report.export import export_html
from rcaudit.runner import audit
from tests.support.browser import CHROMIUM, NEEDS_CHROMIUM, static_problems, visit

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it

WIDGET_CELL = """\
from comm import create_comm
from IPython.display import display
state = {"_model_name": "IntSliderModel", "_model_module": "@jupyter-widgets/controls",
         "_model_module_version": "2.0.0", "_view_name": "IntSliderView", "value": 3}
widget = create_comm(target_name="jupyter.widget", data={"state": state, "buffer_paths": []},
                     metadata={"version": "2.1.0"})
display({"application/vnd.jupyter.widget-view+json": {"model_id": widget.comm_id, "version_major": 2,
                                                      "version_minor": 0}, "text/plain": "IntSlider(value=3)"},
        raw=True)
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-chart notebook executed by papermill and exported with the package's template."""
    folder = tmp_path_factory.mktemp("report")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Offline report fixture"),
        nbformat.v4.new_code_cell("from rcaudit.report.export import register_offline_renderer\n"
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
    assert static_problems(html) == []  # CSP with only plotly.js and the loader by hash; nothing off the page
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


def test_widget_state_is_stripped_from_the_saved_notebook_and_the_report(tmp_path: Path) -> None:
    """A widget's state (nbclient records it from the kernel's comm) would make the lab template add a CDN
    widget-manager script; `rcaudit audit` keeps none of it, in audit.ipynb or report.html."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    parameters = nbformat.v4.new_code_cell('source = "auto"\nrun_folder = ""\nsnapshot = ""\nmask_pii = False\n'
                                           'fail_on = "high"')
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [parameters, nbformat.v4.new_code_cell(WIDGET_CELL)]
    source = tmp_path / "widget.ipynb"
    nbformat.write(nb, str(source))
    folder = tmp_path / "run"
    with pytest.raises(NotebookError, match=r"no summary\.json"):  # this notebook writes none: an unfinished run
        audit(settings=Settings.from_env(), source="sandbox", out=str(folder), notebook=source, fail_on="none")
    saved = nbformat.read(str(folder / "audit.ipynb"), as_version=4)
    assert "widgets" not in saved.metadata
    assert not [m for c in saved.cells for o in c.get("outputs", []) for m in o.get("data", {}) if "widget" in m]
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert static_problems(html) == [] and "jupyter-widgets" not in html and "widget-state" not in html
