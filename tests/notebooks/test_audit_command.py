"""`rcaudit audit` end to end: papermill runs the notebook against the sandbox through the environment.

One real audit per exit code (drifted: 1, the demo: 0, a failing fetch: 2; the exit-code logic itself is pinned
on fixture notebooks in test_audit_exit_codes.py); no secret in any file of a run folder;
re-auditing a saved snapshot gives the identical findings.csv; masking hides what it must and nothing else.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from rcaudit.cli import main
from rcaudit.model.snapshot import Snapshot
from rcaudit.sandbox import Sandbox, generate
from tests.support.audit_runs import use_sandbox_env
from tests.support.browser import CHROMIUM, NEEDS_CHROMIUM, visit
from tests.support.tenants import with_credentials

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it

SECRET = "S3cret-Distinctive-Value-7f3a9c"
SCIM_TOKEN = "Tok3n-Distinctive-Value-b81e2d"


@pytest.fixture(scope="module")
def drifted_tenant() -> dict:
    return with_credentials(300, 11, "5c1d7b8e-0f7e-4a44-9d3c-2a1f0e9b7c61", SECRET, SCIM_TOKEN)


@pytest.fixture(scope="module")
def drifted_run(drifted_tenant: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path]:
    folder = tmp_path_factory.mktemp("runs") / "drifted"
    with pytest.MonkeyPatch.context() as mp, Sandbox(drifted_tenant) as sandbox:
        use_sandbox_env(mp, sandbox)
        code = main(["audit", "--out", str(folder)])
    return code, folder


def test_a_drifted_tenant_exits_1_and_writes_the_run_folder(drifted_run: tuple[int, Path]) -> None:
    code, folder = drifted_run
    assert code == 1
    for name in ("audit.ipynb", "report.html", "findings.csv", "findings.parquet", "summary.json",
                 "snapshot/manifest.json"):
        assert (folder / name).is_file(), name
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["source"] == "environment" and summary["findings"]["by_severity"]["high"] > 0
    assert pd.read_parquet(folder / "findings.parquet").shape == pd.read_csv(folder / "findings.csv").shape


@pytest.mark.skipif(CHROMIUM is None, reason=NEEDS_CHROMIUM)
def test_the_audit_report_opens_offline_with_every_chart_drawn(drifted_run: tuple[int, Path]) -> None:
    seen = visit(drifted_run[1] / "report.html")
    assert seen.errors == [] and seen.remote == []
    assert len(seen.charts_drawn) >= 5 and all(seen.charts_drawn)


def test_no_file_of_the_run_folder_contains_a_secret(drifted_run: tuple[int, Path]) -> None:
    _, folder = drifted_run
    for path in folder.rglob("*"):
        if path.is_file():
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            assert SECRET.encode() not in data and SCIM_TOKEN.encode() not in data, path


def test_re_auditing_the_saved_snapshot_gives_the_identical_findings(drifted_run: tuple[int, Path],
                                                                    tmp_path: Path) -> None:
    _, folder = drifted_run
    again = tmp_path / "again"
    assert main(["audit", "--snapshot", str(folder), "--out", str(again)]) == 1
    assert (again / "findings.csv").read_bytes() == (folder / "findings.csv").read_bytes()


def test_a_mapping_file_changes_what_is_audited(drifted_run: tuple[int, Path], tmp_path: Path) -> None:
    _, folder = drifted_run
    overrides = tmp_path / "mapping.yaml"
    overrides.write_text("attributes:\n  title: null\n")
    before = pd.read_csv(folder / "findings.csv", dtype=str, keep_default_na=False)
    assert (before["attribute"] == "title").any()
    out = tmp_path / "no-title"
    assert main(["audit", "--snapshot", str(folder), "--out", str(out), "-r", "mapping_file", str(overrides)]) == 1
    after = pd.read_csv(out / "findings.csv", dtype=str, keep_default_na=False)
    assert not (after["attribute"] == "title").any()
    assert len(after) == len(before) - (before["attribute"] == "title").sum()


def test_masking_hides_names_mails_and_phones_and_keeps_ids(drifted_run: tuple[int, Path], tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _, folder = drifted_run
    monkeypatch.setenv("RCAUDIT_PII_KEY", "test-key")
    masked = tmp_path / "masked"
    assert main(["audit", "--snapshot", str(folder), "--out", str(masked), "--mask-pii", "--fail-on", "none"]) == 0
    raw = pd.read_csv(folder / "findings.csv", dtype=str, keep_default_na=False)
    hidden = pd.read_csv(masked / "findings.csv", dtype=str, keep_default_na=False)
    assert hidden["user_name"].str.startswith("pii:").all()
    assert hidden["entra_id"].tolist() == raw["entra_id"].tolist()
    assert hidden["scim_id"].tolist() == raw["scim_id"].tolist()
    titles = raw["attribute"] == "title"
    assert hidden.loc[titles, "expected"].tolist() == raw.loc[titles, "expected"].tolist()  # not personal
    report = (masked / "report.html").read_text()
    for name in raw["user_name"].head(20):
        assert name not in report and name not in (masked / "summary.json").read_text()
    snapshot = Snapshot.load(folder)
    flagged = set(raw["entra_id"])
    names = {e["sourceIdentity"]["displayName"] for e in snapshot.provisioning_events
             if e["sourceIdentity"]["id"] in flagged}
    assert names and not [n for n in names if n in report]  # display names (provisioning log table) too
    assert "Provisioning failures" in report


def test_a_failing_run_exits_2_and_still_writes_the_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    with Sandbox(generate(users=120, seed=3).tenant) as sandbox:
        sandbox.faults.add("respond", service="rc", path=r"/Users$", status=500, body={"status": "500"})
        use_sandbox_env(monkeypatch, sandbox)
        monkeypatch.setenv("RCAUDIT_RETRY_MAX_SECONDS", "1")  # give up after a second of retries, not five minutes
        assert main(["audit", "--out", str(tmp_path / "failed")]) == 2
    executed = (tmp_path / "failed" / "audit.ipynb").read_text()
    assert "An Exception was encountered" in executed and "FetchError" in executed  # papermill's banner
    assert (tmp_path / "failed" / "report.html").is_file()
    assert "FetchError" in capsys.readouterr().err


def test_demo_audits_the_sandbox_and_finds_exactly_what_was_planted(tmp_path: Path) -> None:
    """The whole product end to end: generated tenant → sandbox → fetch over HTTPS → audit → findings.csv."""
    assert main(["demo", "--users", "300", "--seed", "4", "--out", str(tmp_path / "demo")]) == 0
    findings = pd.read_csv(tmp_path / "demo" / "findings.csv", dtype=str, keep_default_na=False)
    found = set(zip(findings["kind"], findings["entra_id"], findings["scim_id"], findings["attribute"], strict=True))
    planted = {(r.kind, r.entra_id, r.scim_id, r.attribute) for r in generate(users=300, seed=4).truth}
    assert found == planted
    assert json.loads((tmp_path / "demo" / "summary.json").read_text())["source"] == "sandbox"
