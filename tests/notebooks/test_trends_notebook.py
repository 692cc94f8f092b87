"""notebooks/trends.ipynb over dozens of runs: it executes, compares consecutive runs and draws its charts."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

from rcaudit.connect.config import PROJECT_ROOT
from rcaudit.model.findings import COLUMNS

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it


def _runs(root: Path, count: int, rows: int = 300) -> None:
    for i in range(count):
        folder = root / f"202611{i + 1:02d}T080000Z-{i:04x}"
        folder.mkdir(parents=True)
        keep = range(i * 5, i * 5 + rows)  # every run fixes 5 findings and finds 5 new ones
        frame = pd.DataFrame([{c: "" for c in COLUMNS} | {
            "kind": "attribute_mismatch", "severity": ("high", "medium", "low")[k % 3], "entra_id": f"u{k}",
            "scim_id": f"{k}", "user_name": f"user{k}@x.example", "attribute": "title", "waived": False}
            for k in keep])
        frame.to_csv(folder / "findings.csv", index=False)
        (folder / "summary.json").write_text(json.dumps({
            "run_id": folder.name, "started_at": f"2026-11-{i + 1:02d}T08:00:00+00:00",
            "findings": {"by_severity": frame["severity"].value_counts().to_dict()}}))


def test_trends_over_thirty_runs(tmp_path: Path) -> None:
    _runs(tmp_path / "outputs", 30)
    started = time.perf_counter()
    papermill.execute_notebook(str(PROJECT_ROOT / "notebooks" / "trends.ipynb"), str(tmp_path / "out.ipynb"),
                               parameters={"outputs_root": str(tmp_path / "outputs")}, kernel_name="python3",
                               progress_bar=False, cwd=str(tmp_path))
    elapsed = time.perf_counter() - started
    text = json.dumps(nbformat.read(str(tmp_path / "out.ipynb"), as_version=4).cells)
    assert "<strong>30 audit run(s)</strong>" in text  # an escaped HTML note now, not Markdown
    assert "145 findings fixed" in text  # 29 comparisons x 5
    assert text.count("plotly-graph-div") >= 3
    print(f"trends notebook over 30 runs: {elapsed:.1f} s")
