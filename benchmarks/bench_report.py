"""The report at 20,000 findings: seconds to open it in Chromium and to filter its grid to one kind, as ratios
against the 2,000-user demo report measured in the same run.

Both reports are made the way a scheduler makes them: a generated snapshot saved as a run's `snapshot/`, then
`rcaudit audit --snapshot` (papermill runs the audit notebook, the export writes report.html). The baseline is
the generated 2,000-user company as the sandbox serves it (about 130 findings); the large one is a 3,000-user
company whose RingCentral accounts were hand-edited until the audit finds 20,000 (tests/support/big_report.py).
"Open" is from navigation until the findings grid and the charts are drawn; "filter" is a click on a kind in the
kind filter pane until the grid shows only that kind. Each is the median of `--repeat` fresh page loads.

    .venv/bin/python benchmarks/bench_report.py [--findings 20000] [--repeat 3] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rcaudit.cli import main  # noqa: E402
from tests.support.big_report import (  # noqa: E402
    LAUNCH_ARGS,
    NOW,
    clear_kind,
    drifted_snapshot,
    filter_kind,
    open_report,
    save,
)
from tests.support.browser import CHROMIUM  # noqa: E402
from tests.support.snapshots import snapshot_from_tenant  # noqa: E402


def make_report(snapshot: object, folder: Path) -> tuple[Path, float]:
    """Re-audit a saved snapshot with `rcaudit audit --snapshot`; (report, seconds)."""
    source = save(snapshot, folder / "source")  # type: ignore[arg-type]
    os.environ["RCAUDIT_OUTPUTS"] = str(folder / "outputs")
    started = time.perf_counter()
    code = main(["audit", "--snapshot", str(source), "--out", str(folder / "run"), "--fail-on", "none"])
    if code != 0:
        raise SystemExit(f"rcaudit audit --snapshot failed with exit code {code}")
    return folder / "run" / "report.html", time.perf_counter() - started


def measure(browser: object, report: Path, repeat: int) -> dict[str, float]:
    """Median seconds to open the report and to filter its grid to `should_be_inactive`, fresh page each time."""
    opened, filtered = [], []
    for _ in range(repeat):
        page = browser.new_page(viewport={"width": 1366, "height": 768})  # type: ignore[attr-defined]
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        started = time.perf_counter()
        open_report(page, report)
        opened.append(time.perf_counter() - started)
        started = time.perf_counter()
        filter_kind(page, "should_be_inactive")
        filtered.append(time.perf_counter() - started)
        clear_kind(page, "should_be_inactive")
        if errors:
            raise SystemExit(f"page errors in {report}: {errors[:3]}")
        page.close()
    return {"open": statistics.median(opened), "filter": statistics.median(filtered)}


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the run folders (their paths are printed)")
    args = parser.parse_args()
    if CHROMIUM is None:
        raise SystemExit("needs Chromium: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    from rcaudit.sandbox import generate

    work = Path(tempfile.mkdtemp(prefix="bench_report-"))
    try:
        baseline = snapshot_from_tenant(generate(users=2_000, seed=1, now=NOW).tenant, NOW)
        large, count = drifted_snapshot(args.findings)
        base_report, base_audit = make_report(baseline, work / "baseline")
        big_report, big_audit = make_report(large, work / "large")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            base = measure(browser, base_report, args.repeat)
            big = measure(browser, big_report, args.repeat)
            browser.close()
        mb = big_report.stat().st_size / 1e6, base_report.stat().st_size / 1e6
        print(f"baseline: 2,000-user demo company, report {mb[1]:.1f} MB, audit {base_audit:.1f} s")
        print(f"large:    {count:,} findings, report {mb[0]:.1f} MB, audit {big_audit:.1f} s")
        for what in ("open", "filter"):
            print(f"{what:>6}: {big[what]:6.2f} s at {count:,} findings vs {base[what]:5.2f} s baseline "
                  f"= {big[what] / base[what]:.1f}x")
        if args.keep:
            print(f"run folders kept: {work}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main_bench()
