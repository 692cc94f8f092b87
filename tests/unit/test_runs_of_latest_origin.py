"""The trends notebook charts one history: the runs of the newest run's source, tenant and SCIM URL, never a
demo run or another tenant mixed in (a demo between two real runs would show false new and fixed findings)."""

from __future__ import annotations

import json
from pathlib import Path

from rcaudit.model.runs import list_runs, runs_of_latest_origin


def _run(root: Path, name: str, started: str, source: str, tenant: str, scim_url: str = "") -> None:
    folder = root / name
    folder.mkdir()
    (folder / "findings.csv").write_text("kind\n", encoding="utf-8")
    summary = {"run_id": name, "started_at": started, "source": source,
               "origin": {"tenant_id": tenant, "scim_url": scim_url}}
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")


def test_only_the_newest_runs_origin_is_kept(tmp_path: Path) -> None:
    _run(tmp_path, "a", "2026-11-28T06:00:00Z", "environment", "t1", "https://platform.ringcentral.com/scim/v2")
    _run(tmp_path, "b", "2026-11-29T06:00:00Z", "sandbox", "sandbox-tenant", "https://127.0.0.1:5001/scim/v2")
    _run(tmp_path, "c", "2026-11-30T06:00:00Z", "environment", "t2", "https://platform.ringcentral.com/scim/v2")
    _run(tmp_path, "d", "2026-12-01T06:00:00Z", "environment", "t1", "https://platform.ringcentral.com/scim/v2")
    kept = runs_of_latest_origin(list_runs(tmp_path))
    assert [r.run_id for r in kept] == ["a", "d"]


def test_sandbox_runs_compare_on_source_and_tenant_whatever_their_port(tmp_path: Path) -> None:
    _run(tmp_path, "a", "2026-11-30T06:00:00Z", "sandbox", "sandbox-tenant", "https://127.0.0.1:5001/scim/v2")
    _run(tmp_path, "b", "2026-12-01T06:00:00Z", "sandbox", "sandbox-tenant", "https://127.0.0.1:6001/scim/v2")
    assert [r.run_id for r in runs_of_latest_origin(list_runs(tmp_path))] == ["a", "b"]
    assert runs_of_latest_origin([]) == []
