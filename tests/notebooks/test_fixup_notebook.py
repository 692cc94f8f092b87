"""`notebooks/fixup.ipynb` run by papermill against the sandbox through the environment: a fresh audit
planned and dry-run only; then that run planned, dry-run, applied and proven by a re-audit of the touched
accounts. (With no run and no environment, nbval runs it with its defaults: it says there is nothing to fix.)"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import papermill
import pytest

from rcaudit.connect.config import PROJECT_ROOT
from rcaudit.fix.journal import read_journal
from rcaudit.sandbox import Sandbox
from tests.support.fixups import PLANTED_OPS, comparable, fixup_tenant

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it

NOTEBOOK = PROJECT_ROOT / "notebooks" / "fixup.ipynb"


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Sandbox]:
    with Sandbox(fixup_tenant()) as sandbox:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RCAUDIT_OUTPUTS", str(tmp_path / "outputs"))
        yield sandbox


def run_notebook(tmp_path: Path, **parameters: Any) -> str:
    output = tmp_path / "fixup-out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(output), parameters=parameters, kernel_name="python3",
                               progress_bar=False, cwd=str(NOTEBOOK.parent))
    cells = json.loads(output.read_text())["cells"]
    return "\n".join(json.dumps(c.get("outputs", [])) for c in cells)


def test_the_notebook_audits_plans_dry_runs_then_applies_and_proves_the_fix(shop: Sandbox, tmp_path: Path) -> None:
    text = run_notebook(tmp_path, fresh_audit=True, source="environment", include_orphans=True)
    assert f"dry_run {PLANTED_OPS}" in text and "Dry run only" in text and "Nothing was written" in text
    assert "would be refused: 2 deactivation(s) need --allow-deactivate" in text
    assert not any(method == "PATCH" for method, _ in shop.rc_server.requests_seen)
    runs = list((tmp_path / "outputs").glob("*/snapshot/manifest.json"))
    assert len(runs) == 1 and (runs[0].parent.parent / "findings.csv").is_file()
    folder = runs[0].parent.parent

    before = comparable(json.loads(json.dumps(shop.state.scim_users)))
    text = run_notebook(tmp_path, run=str(folder), include_orphans=True, apply=True, allow_deactivate=True)
    assert "Old Title \\u2192 Engineer" in text or "Old Title → Engineer" in text
    assert f"applied {PLANTED_OPS}" in text and "rcaudit rollback --journal" in text
    assert f"{PLANTED_OPS} finding(s) fixed, 0 still there, 0 new" in text
    journals = sorted((folder / "fixes").glob("*/journal.jsonl"))
    assert sorted(Counter(line["status"] for line in read_journal(j) if line["status"] != "intent").most_common(1)[0]
                  for j in journals) == \
        [("applied", PLANTED_OPS), ("dry_run", PLANTED_OPS), ("dry_run", PLANTED_OPS)]
    assert comparable(shop.state.scim_users) != before
