"""Issue 14 in a real browser (Playwright driving Debian's Chromium): the report as an analyst opens it.

- A demo report (`rcaudit demo`): the verdict band is on the first screen at 1366×768, nothing is requested
  from the network, no page error, and the top actions lead to the grid filtered to their kind.
- A report re-audited (`rcaudit audit --snapshot`) from a generated snapshot holding 20,000 findings: the grid
  holds every row of findings.csv, and each kind's filter pane leaves exactly that kind's rows.
Screenshots at 1366 and 1920 wide are saved under pytest's tmp folder, or under $SCREENSHOTS_DIR when set
(pytest prunes old tmp folders); their paths are printed (`-s`).
Counts are asserted, never times (benchmarks/bench_report.py times the same steps).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from rcaudit.cli import main
from tests.support.big_report import (
    LAUNCH_ARGS,
    clear_kind,
    drifted_snapshot,
    filter_kind,
    grid_counts,
    open_report,
    save,
)
from tests.support.browser import CHROMIUM, NEEDS_CHROMIUM

pytestmark = [pytest.mark.slow, pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)]
WIDTHS = {1366: 768, 1920: 1080}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo") / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RCAUDIT_OUTPUTS", str(folder.parent / "outputs"))
        assert main(["demo", "--users", "600", "--out", str(folder)]) == 0
    return folder


@pytest.fixture(scope="module")
def big_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("big")
    snapshot, findings = drifted_snapshot(20_000)
    assert findings >= 20_000
    source = save(snapshot, base / "source")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RCAUDIT_OUTPUTS", str(base / "outputs"))
        assert main(["audit", "--snapshot", str(source), "--out", str(base / "run"), "--fail-on", "none"]) == 0
    return base / "run"


class Visit:
    """One browser page on a report, recording every request and page error."""

    def __init__(self, browser: Any, width: int) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": width, "height": WIDTHS[width]})
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    @property
    def remote(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(("file:", "data:"))]

    def shoot(self, folder: Path, name: str) -> Path:
        if os.environ.get("SCREENSHOTS_DIR"):
            folder = Path(os.environ["SCREENSHOTS_DIR"])
            folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.png"
        self.page.screenshot(path=str(path))
        print(f"screenshot: {path}")
        return path


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        yield launched
        launched.close()


def _kinds(run: Path) -> dict[str, int]:
    findings = pd.read_csv(run / "findings.csv", dtype=str, keep_default_na=False)
    return findings["kind"].value_counts().to_dict()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_demo_report_opens_on_its_verdict_offline(demo_run: Path, browser: Any, width: int,
                                                  tmp_path: Path) -> None:
    visit = Visit(browser, width)
    open_report(visit.page, demo_run / "report.html")
    band = visit.page.locator("#verdict .rc-band").bounding_box()
    assert band is not None and band["y"] >= 0 and band["y"] + band["height"] <= WIDTHS[width]
    text = visit.page.locator("#verdict").inner_text()
    assert ("PASS" in text or "FAIL" in text) and "high" in text and "accounts affected" in text
    visit.shoot(tmp_path, f"demo-{width}-top")
    # the first action filters the grid to its kind
    action = visit.page.locator("#verdict a[data-kind]").first
    kind = action.get_attribute("data-kind")
    action.click()
    visit.page.wait_for_function("k => { const dt = window.rcauditGrids['findings-grid'];"
                                 " return dt.rows({search: 'applied'}).count() < dt.rows().count(); }", arg=kind)
    counts = grid_counts(visit.page)
    assert counts["kinds"] == [kind] and counts["shown"] == _kinds(demo_run)[kind]
    visit.shoot(tmp_path, f"demo-{width}-grid")
    # "Download CSV" saves the rows shown, every column, with raw values (Graph's UPN for a deleted user)
    with visit.page.expect_download() as download:
        visit.page.locator("#findings-grid_wrapper button", has_text="Download CSV").click()
    saved = pd.read_csv(download.value.path(), dtype=str, keep_default_na=False)
    assert len(saved) == counts["shown"] and set(saved["kind"]) == {kind}
    findings = pd.read_csv(demo_run / "findings.csv", dtype=str, keep_default_na=False)
    assert set(saved["user name"]) == set(findings.loc[findings["kind"] == kind, "user_name"])
    visit.page.locator("#drilldown").scroll_into_view_if_needed()
    assert visit.page.locator("#drilldown table").count() >= 2  # attributes side by side, findings
    visit.shoot(tmp_path, f"demo-{width}-drilldown")
    assert visit.remote == [] and visit.errors == []
    visit.page.close()


@pytest.mark.timeout(900)
def test_twenty_thousand_findings_all_in_the_grid_and_each_kind_filter_shows_only_that_kind(
        big_run: Path, browser: Any, tmp_path: Path) -> None:
    kinds = _kinds(big_run)
    total = sum(kinds.values())
    assert total >= 20_000
    visit = Visit(browser, 1366)
    open_report(visit.page, big_run / "report.html")
    counts = grid_counts(visit.page)
    assert counts["total"] == total and counts["shown"] == total
    assert f"of {total:,} entries" in counts["info"]
    visit.shoot(tmp_path, "big-1366-top")
    for kind, expected in sorted(kinds.items()):
        filtered = filter_kind(visit.page, kind)
        assert (filtered["kinds"], filtered["shown"], filtered["total"]) == ([kind], expected, total)
        if kind == "attribute_mismatch":
            visit.page.locator("#findings-grid_wrapper").scroll_into_view_if_needed()
            visit.shoot(tmp_path, "big-1366-grid-attribute_mismatch")
        clear_kind(visit.page, kind)
    assert visit.remote == [] and visit.errors == []
    visit.page.close()
    wide = Visit(browser, 1920)
    open_report(wide.page, big_run / "report.html")
    wide.shoot(tmp_path, "big-1920-top")
    assert wide.remote == [] and wide.errors == []
    wide.page.close()
