"""Open an HTML file in Debian's Chromium through Playwright and report what a reader's browser would do."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NEEDS_CHROMIUM = "needs Chromium: apt-get install -y chromium (as root; .ci/run does it)"


@dataclass(frozen=True)
class PageVisit:
    errors: list[str]  # uncaught page errors
    remote: list[str]  # requests to anything but file: and data:
    charts_drawn: list[bool]  # per plotly chart: did it draw its .main-svg


def visit(page_file: Path) -> PageVisit:
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
        page.goto(page_file.resolve().as_uri(), wait_until="load")
        page.wait_for_selector(".plotly-graph-div .main-svg", timeout=15_000)
        drawn = page.locator(".plotly-graph-div").evaluate_all(
            "divs => divs.map(d => d.querySelectorAll('.main-svg').length > 0)")
        browser.close()
    return PageVisit(errors, [u for u in requests if not u.startswith(("file:", "data:"))], drawn)
