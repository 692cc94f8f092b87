"""`rcaudit runs` and `rcaudit runs --prune` on a temporary outputs root (files only, no audit is run).

What a scheduler's owner relies on before letting a cron job delete folders of personal data: a dry run deletes
nothing, `--keep N` keeps the N newest and the latest successful run, a run whose fix-up lock is held or whose
journal applied something in the last 30 days stays (it is the only source for a rollback), a symlink is never
followed, and only folders named like a run id that hold a summary.json are ever touched.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rcaudit.cli import main
from rcaudit.model.runs import new_run_id

NOW = dt.datetime.now(dt.UTC)


def make_run(root: Path, days_ago: float, *, source: str = "sandbox", finished: bool = True,
             high: int = 1, tenant: str = "t-1") -> Path:
    """A run folder as an audit writes it: summary.json (+ findings.csv when it finished), a little data."""
    started = NOW - dt.timedelta(days=days_ago)
    folder = root / new_run_id(started)
    folder.mkdir(parents=True)
    summary = {"schema_version": 2, "run_id": folder.name, "started_at": started.isoformat(), "source": source,
               "findings": {"total": high, "by_severity": {"high": high, "medium": 0, "low": 0}, "waived": 0},
               "origin": {"tenant_id": tenant, "scim_url": "https://platform.ringcentral.com/scim/v2"}}
    (folder / "summary.json").write_text(json.dumps(summary))
    if finished:
        (folder / "findings.csv").write_text("kind,severity\n")
    (folder / "snapshot").mkdir()
    (folder / "snapshot" / "users.json.gz").write_bytes(b"x" * 2048)
    return folder


def journal_line(status: str, when: dt.datetime) -> str:
    return json.dumps({"time": when.isoformat(), "fix_id": "f1", "plan_id": "p1", "op_id": "op1", "scim_id": "s1",
                       "entra_id": "e1", "path": "active", "op": "replace", "value": "False", "status": status}) + "\n"


@pytest.fixture
def outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "outputs"
    root.mkdir()
    monkeypatch.setenv("RCAUDIT_OUTPUTS", str(root))
    return root


def remaining(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


def test_runs_lists_newest_first_with_demo_and_real_told_apart(outputs: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    old = make_run(outputs, 3, source="environment")
    new = make_run(outputs, 1, source="sandbox")
    assert main(["runs"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "Z-" in line]
    assert [line.split()[2] for line in lines] == [new.name, old.name]
    assert lines[0].split()[3] == "demo" and lines[1].split()[3] == "real"
    assert "fail" in lines[0] and "KB" in lines[0]  # verdict and size on disk


def test_a_dry_run_deletes_nothing(outputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for days in (5, 4, 3, 2, 1):
        make_run(outputs, days)
    before = remaining(outputs)
    assert main(["runs", "--prune", "--keep", "2"]) == 0
    out = capsys.readouterr().out
    assert remaining(outputs) == before
    assert sum(line.startswith("would delete") for line in out.splitlines()) == 3
    assert "dry run: 3 run folder(s)" in out and "add --apply" in out


def test_keep_2_keeps_the_two_newest_and_the_latest_successful_run(outputs: Path) -> None:
    oldest, older = make_run(outputs, 5), make_run(outputs, 4)
    successful = make_run(outputs, 3)
    newest = [make_run(outputs, 2, finished=False), make_run(outputs, 1, finished=False)]  # no findings.csv
    assert main(["runs", "--prune", "--keep", "2", "--apply"]) == 0
    assert remaining(outputs) == {successful.name, *(n.name for n in newest)}
    assert not oldest.exists() and not older.exists()


def test_the_latest_real_run_is_kept_behind_newer_demo_runs(outputs: Path) -> None:
    real = make_run(outputs, 10, source="environment")
    demos = [make_run(outputs, days) for days in (4, 3, 2, 1)]
    assert main(["runs", "--prune", "--keep", "1", "--apply"]) == 0
    assert remaining(outputs) == {real.name, demos[-1].name}


def test_a_locked_run_is_kept(outputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = make_run(outputs, 9)
    (locked / "fixes").mkdir()
    (locked / "fixes" / ".apply.lock").write_text('{"fix_id": "f1", "pid": 1}\n')
    plain = make_run(outputs, 8)
    make_run(outputs, 1)
    assert main(["runs", "--prune", "--keep", "1", "--apply"]) == 0
    assert locked.exists() and not plain.exists()
    assert "fix-up holds its lock" in capsys.readouterr().out


def test_a_run_with_operations_applied_in_the_last_30_days_is_kept(outputs: Path) -> None:
    recent, old = make_run(outputs, 40), make_run(outputs, 41)
    for folder, days in ((recent, 5), (old, 35)):
        (folder / "fixes" / "f1").mkdir(parents=True)
        when = NOW - dt.timedelta(days=days)
        (folder / "fixes" / "f1" / "journal.jsonl").write_text(journal_line("intent", when)
                                                              + journal_line("applied", when))
    make_run(outputs, 1)
    assert main(["runs", "--prune", "--older-than", "30", "--apply"]) == 0
    assert recent.exists()
    assert not old.exists()  # applied 35 days ago: outside the window, pruned like any other


def test_an_intent_without_outcome_counts_as_applied(outputs: Path) -> None:
    crashed = make_run(outputs, 40)
    (crashed / "fixes" / "f1").mkdir(parents=True)
    (crashed / "fixes" / "f1" / "journal.jsonl").write_text(journal_line("intent", NOW - dt.timedelta(days=2)))
    make_run(outputs, 1)
    assert main(["runs", "--prune", "--keep", "1", "--apply"]) == 0
    assert crashed.exists()


def test_symlinks_are_never_followed(outputs: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    target_run = make_run(elsewhere, 30)  # a run-like folder outside, reached through a link under outputs
    link = outputs / new_run_id(NOW - dt.timedelta(days=20))
    link.symlink_to(target_run, target_is_directory=True)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("not a run")
    doomed = make_run(outputs, 10)
    (doomed / "link-out").symlink_to(precious, target_is_directory=True)
    make_run(outputs, 1)
    assert main(["runs", "--prune", "--keep", "1", "--apply"]) == 0
    assert not doomed.exists()
    assert (precious / "keep.txt").read_text() == "not a run"  # the link inside went, not what it pointed to
    assert link.is_symlink() and (target_run / "summary.json").is_file()


def test_only_folders_named_like_a_run_id_with_a_summary_are_touched(outputs: Path) -> None:
    (outputs / "notes").mkdir()
    (outputs / "notes" / "summary.json").write_text("{}")
    unfinished = outputs / new_run_id(NOW - dt.timedelta(days=50))
    unfinished.mkdir()
    (unfinished / "audit.ipynb").write_text("{}")
    make_run(outputs, 1)
    assert main(["runs", "--prune", "--older-than", "0", "--apply"]) == 0
    assert {"notes", unfinished.name} <= remaining(outputs)


def test_audit_keep_and_prune_refuse_nonsense(outputs: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--prune"]) == 2
    assert "exactly one of --keep N or --older-than DAYS" in capsys.readouterr().err
    assert main(["runs", "--prune", "--keep", "0"]) == 2
    assert main(["runs", "--keep", "3"]) == 2
    with pytest.raises(SystemExit):
        main(["runs", "--prune", "--keep", "2", "--older-than", "3"])
