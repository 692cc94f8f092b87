"""Under --mask-pii the report's "Since the previous run" grid names nobody: the audit notebook gave it the
unmasked findings, so every new and persisting row showed the user's real userPrincipalName in report.html."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from rcaudit import workbook
from rcaudit.fix.audited_run import load_run
from rcaudit.sandbox import generate
from tests.support.snapshots import NOW, snapshot_from_tenant

KEY = b"k" * 32


def _run(outputs: Path, run_id: str, started: dt.datetime) -> Path:
    folder = outputs / run_id
    snapshot = snapshot_from_tenant(generate(users=120, seed=3).tenant, NOW)
    snapshot.save(folder / "snapshot")
    (folder / "summary.json").write_text(json.dumps({
        "run_id": run_id, "source": snapshot.source, "started_at": started.isoformat(),
        "origin": {"tenant_id": snapshot.tenant_id, "scim_url": ""}}), encoding="utf-8")
    return folder


def test_the_changes_grid_of_a_masked_run_shows_no_user_name(tmp_path: Path) -> None:
    earlier = _run(tmp_path, "20261130T000000Z-aaaa", NOW - dt.timedelta(days=1))
    findings = load_run(earlier).result.findings
    findings.iloc[1:].to_csv(earlier / "findings.csv", index=False)  # an unmasked earlier run: one fixed since
    later = _run(tmp_path, "20261201T000000Z-bbbb", NOW)
    names = {n for n in findings["user_name"] if n}
    assert names
    html = workbook.changes_grid(tmp_path, later, findings.iloc[:-1], NOW, mask_key=KEY)
    assert html is not None and "pii:" in html.markup
    assert not [n for n in names if n in html.markup]
