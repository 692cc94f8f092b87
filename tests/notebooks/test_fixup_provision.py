"""`notebooks/fixup.ipynb`'s provision-on-demand section, run by papermill against the sandbox through the
environment: the plan and no request by default; with `provision = True` the missing user's account created by
Graph's provisionOnDemand, journaled and proven by the re-audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import papermill
import pytest

from rcaudit.connect.config import PROJECT_ROOT, Settings
from rcaudit.fix.journal import read_journal
from rcaudit.sandbox import Sandbox
from tests.support.fixups import fetch, fixup_tenant, write_run

pytestmark = pytest.mark.slow

NOTEBOOK = PROJECT_ROOT / "notebooks" / "fixup.ipynb"


@pytest.fixture
def shop(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[Sandbox, Path]]:
    with Sandbox(fixup_tenant()) as sandbox:  # hank.hill is live, assigned, without an account
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RCAUDIT_OUTPUTS", str(tmp_path / "outputs"))
        yield sandbox, write_run(fetch(Settings.from_env(sandbox.env())), tmp_path / "outputs" / "run")


def run_notebook(tmp_path: Path, **parameters: Any) -> str:
    output = tmp_path / "fixup-out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(output), parameters=parameters, kernel_name="python3",
                               progress_bar=False, cwd=str(NOTEBOOK.parent))
    return "\n".join(json.dumps(c.get("outputs", [])) for c in json.loads(output.read_text())["cells"])


def posts(sandbox: Sandbox) -> int:
    return sum(1 for m, p in sandbox.graph_server.requests_seen if m == "POST" and p.endswith("/provisionOnDemand"))


def test_the_notebook_provisions_the_missing_user_only_when_asked(shop: tuple[Sandbox, Path], tmp_path: Path) -> None:
    sandbox, folder = shop
    text = run_notebook(tmp_path, run=str(folder))
    assert "provision on demand for run" in text and "hank.hill@contoso.example" in text
    assert "no request was sent" in text
    assert posts(sandbox) == 0
    text = run_notebook(tmp_path, run=str(folder), provision=True, provision_users="hank.hill@contoso.example")
    account = next(a for a in sandbox.state.scim_users if a["userName"] == "hank.hill@contoso.example")
    assert posts(sandbox) == 1 and account["active"] is True
    assert "applied 1" in text and "provisioned" in text and "--allow-deactivate" in text
    journal = next(p for p in (folder / "fixes").glob("*/journal.jsonl")
                   if any(line.get("op") == "provision" for line in read_journal(p)))
    [line] = [line for line in read_journal(journal) if line["status"] == "applied"]
    assert line["after"] == account["id"] and line["steps"]
