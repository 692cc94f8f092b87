"""JupyterLab driven in Debian's Chromium (issue 14, point 7): open audit.ipynb, Run All, see the fetch's progress
bars as widgets with their totals, and the run finish with report.html and parameters.json in its run folder.
It also sees the findings grid drawn by DataTables in Lab, holding every finding of the run.

Lab serves a copy of the notebook in a temporary root, so its autosave can never write outputs into the
tracked notebooks/audit.ipynb. The kernel starts its own sandbox (no RCAUDIT_* settings): HTTPS on 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests.support.browser import CHROMIUM, NEEDS_CHROMIUM

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900), pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)]
CHECKOUT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "project"
    (root / "notebooks").mkdir(parents=True)
    nb = nbformat.read(str(CHECKOUT / "notebooks" / "audit.ipynb"), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    folder = root / "outputs" / "lab-run"
    cell.source = re.sub(r'^run_folder = ""', f"run_folder = {str(folder)!r}", cell.source, flags=re.MULTILINE)
    cell.source = re.sub(r"^sandbox_users = 2000", "sandbox_users = 300", cell.source, flags=re.MULTILINE)
    nbformat.write(nb, str(root / "notebooks" / "audit.ipynb"))
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)  # every cell stays in the page (Lab 4 drops cells scrolled out of view)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}', encoding="utf-8")
    port, token = _free_port(), secrets.token_urlsafe(12)
    # A person's Lab: no `CI` either (CI services set it, and rcaudit then takes no one to be watching)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RCAUDIT_", "JPY_")) and k != "CI"}
    env.update(PYTHONPATH=str(CHECKOUT), RCAUDIT_OUTPUTS=str(root / "outputs"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
               JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "lab-settings"))
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
               f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}", "--LabApp.news_url=",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield f"{base}/lab/tree/notebooks/audit.ipynb?token={token}", folder
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_run_all_in_lab_shows_progress_bars_and_finishes_the_run(lab: tuple[str, Path], tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    url, folder = lab
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
        page.wait_for_timeout(3000)  # the kernel's session settles (not a timing assertion)
        page.locator(".jp-CodeCell").first.click()
        page.keyboard.press("Escape")  # command mode
        page.keyboard.press("Control+a")  # every cell
        page.keyboard.press("Shift+Enter")  # run them: Run All, as typed
        try:
            page.get_by_text(re.compile(r"\d[\d,]* findings, \d+ waived")).wait_for(timeout=300_000)
            page.locator(".jp-OutputArea-output .widget-hprogress").first.scroll_into_view_if_needed(timeout=30_000)
        finally:
            page.screenshot(path=str(tmp_path / "lab-run-all.png"), full_page=False)
        labels = page.locator(".jp-OutputArea-output .widget-hbox").all_inner_texts()  # tqdm: text, bar, count
        grid = page.locator(".jp-OutputArea-output", has_text="Every finding:").first
        grid_text, drawn = grid.inner_text(), grid.locator(".dt-container").count()
        browser.close()
    text = " ".join(labels).replace("\u2007", " ")  # tqdm pads with figure spaces
    assert re.search(r"Entra users", text) and re.search(r"RingCentral users", text)
    assert re.search(r"RingCentral users.*\b(\d+)/\1\b", text.replace("\n", " ")), text  # the total, reached
    assert (folder / "report.html").is_file() and (folder / "summary.json").is_file()
    assert json.loads((folder / "parameters.json").read_text(encoding="utf-8"))["sandbox_users"] == 300
    assert errors == []
    total = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["findings"]["total"]
    assert drawn >= 1 and f"Showing 1 to {min(total, 25)} of {total} entries" in grid_text, (drawn, grid_text[-300:])
