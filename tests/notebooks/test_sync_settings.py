"""The job's sync settings (DESIGN.md "Sync settings"): opt-in read of SyncAll and SkipOutOfScopeDeletions from
the synchronization secrets, nothing else of that answer kept anywhere, and the precedence parameter > job >
Entra's default, applied and reported.

The secrets hold the connector's credentials, so the end-to-end test plants a recognisable secret token among
them and greps the whole run folder (snapshot, executed notebook, report, summary, findings) for it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from rcaudit.cli import main
from rcaudit.sandbox import save_tenant
from tests.support.tenants import SECRET_TOKEN, company_with_sync_secrets

pytestmark = pytest.mark.slow  # runs a notebook (papermill) or a browser: make test-fast skips it
# --- the read, over HTTPS -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def company() -> dict[str, Any]:
    return company_with_sync_secrets()


def test_demo_reads_the_settings_and_no_secret_reaches_the_run_folder(company: dict[str, Any], tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("RCAUDIT_READ_SYNC_SECRETS", "1")
    path = save_tenant(company, tmp_path / "tenant.json")
    folder = tmp_path / "run"
    with caplog.at_level("DEBUG"):
        assert main(["demo", "--tenant", str(path), "--out", str(folder)]) == 0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["schema_version"] == 2
    assert summary["settings"] == {"scope_mode": "all", "skip_out_of_scope_deletions": True,
                                   "sources": {"scope_mode": "job", "skip_out_of_scope_deletions": "job"}}
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "read from the job" in report and "SkipOutOfScopeDeletions" in report
    leaked = [str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file()
              and (SECRET_TOKEN.encode() in f.read_bytes() or SECRET_TOKEN.encode() in _gunzipped(f))]
    assert leaked == [] and SECRET_TOKEN not in caplog.text
    assert dt.datetime.fromisoformat(summary["finished_at"])  # a complete run


def _gunzipped(path: Path) -> bytes:
    import gzip

    if path.suffix != ".gz":
        return b""
    with gzip.open(path, "rb") as handle:
        return handle.read()
