"""The HTML report works offline: no CDN script, no request but file:/data:, every chart drawn.

The browser part runs Debian's Chromium through Playwright (never `playwright install`); without
Chromium only that test is skipped, with the command that installs it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import papermill
import pytest

from rcaudit.report import export_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install -y chromium (as root; .ci/run does it)")
def test_report_renders_every_chart_with_zero_network_requests(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.resolve().as_uri(), wait_until="load")
        page.wait_for_selector(".plotly-graph-div .main-svg", timeout=10_000)
        drawn = page.locator(".plotly-graph-div").evaluate_all(
            "divs => divs.map(d => d.querySelectorAll('.main-svg').length > 0)")
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert drawn == [True, True]
