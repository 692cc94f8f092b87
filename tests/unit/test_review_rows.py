"""The plan under review in fixup.ipynb shows every row (issue 14, point 7: pandas elided rows 5-110 of 116), and
the fetch's progress bars end as one line per phase under `rcaudit audit` (RCAUDIT_PROGRESS=log)."""

from __future__ import annotations

import pandas as pd
import pytest

from rcaudit.connect.fetch import _Progress
from rcaudit.workbook import every_row


def test_every_row_renders_all_116_operations_escaped_without_an_index() -> None:
    frame = pd.DataFrame({"user": [f"user{i:03d}@contoso.com" for i in range(116)], "change": ["<b>x</b> → y"] * 116})
    html = every_row(frame, "every planned operation (116)").to_html()
    assert all(f"user{i:03d}@contoso.com" in html for i in range(116))
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "…" not in html and "rows ×" not in html


def test_progress_under_the_runner_is_one_line_per_phase_with_its_total(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _Progress(enabled=False, log=True)
    bar = progress.bar("RingCentral users")
    bar.set_total(250)  # type: ignore[attr-defined]
    for _ in range(3):
        bar(100 if _ < 2 else 50)
    graph = progress.bar("Entra users")  # the previous phase ends first
    graph(999)
    graph(1)
    progress.close()
    lines = capsys.readouterr().out.splitlines()
    assert [line.rsplit(", ", 1)[0] for line in lines] == ["read RingCentral users: 250 in 3 page(s)",
                                                      "read Entra users: 1,000 in 2 page(s)"]


def test_no_progress_when_nobody_watches(capsys: pytest.CaptureFixture[str]) -> None:
    progress = _Progress(enabled=False)
    progress.bar("Entra users")(5)
    progress.close()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
