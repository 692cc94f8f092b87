"""Run history on disk: list the run folders under an outputs root, and prune old ones safely.

Run folders hold personal data (every snapshot carries names, e-mails and phone numbers) and grow by one a
day, so a scheduler's owner prunes them; but a run folder is also the only record of the fix-ups applied from
it (its journals are what a rollback reads). So pruning is a dry run unless asked, touches only folders named
like a run id that hold a `summary.json`, never follows a symlink, and keeps: the latest successful run (and
the latest successful real one, behind newer demo runs: the next scheduled run compares with it), a run whose fix-up
lock is held, and a run with operations applied in the last 30 days. Files only, no network.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcaudit.fix.journal import LOCK_NAME, fixes_folder, load_journal, open_intents
from rcaudit.model.errors import ConfigError
from rcaudit.model.runs import RUN_ID, verdict

APPLY_WINDOW_DAYS = 30  # a run with operations applied this recently is never pruned: rollback reads its journal


@dataclass(frozen=True)
class RunFolder:
    """One folder named like a run id: its summary (None when the run did not finish) and its size on disk."""

    folder: Path
    run_id: str
    started_at: dt.datetime
    summary: dict[str, Any] | None
    size: int

    @property
    def successful(self) -> bool:
        """A finished audit: a readable summary.json and a findings.csv (what `list_runs` compares)."""
        return self.summary is not None and (self.folder / "findings.csv").is_file()

    @property
    def source(self) -> str:
        return str((self.summary or {}).get("source") or "?")

    @property
    def kind(self) -> str:
        """`demo` for a sandbox run, `real` for one read from the environment (a tenant's personal data)."""
        return {"sandbox": "demo", "environment": "real"}.get(self.source, "?")

    @property
    def verdict(self) -> str:
        if self.summary is None:
            return "unfinished"
        stated = self.summary.get("verdict")
        if isinstance(stated, str) and stated:
            return stated
        return verdict(self.findings.get("by_severity") or {})

    @property
    def findings(self) -> dict[str, Any]:
        found = (self.summary or {}).get("findings")
        return found if isinstance(found, dict) else {}


def run_id_time(run_id: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def disk_usage(folder: Path) -> int:
    """Bytes of the files under `folder`, never following a symlink (a link counts as itself)."""
    total = 0
    for top, dirs, files in os.walk(folder, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(top, name)).st_size
    return total


def _summary(folder: Path) -> dict[str, Any] | None:
    path = folder / "summary.json"
    if path.is_symlink() or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _started(summary: dict[str, Any] | None, run_id: str, folder: Path) -> dt.datetime:
    text = (summary or {}).get("started_at")
    if isinstance(text, str):
        try:
            moment = dt.datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    return run_id_time(run_id) or dt.datetime.fromtimestamp(folder.lstat().st_mtime, dt.UTC)


def scan_runs(outputs: Path) -> list[RunFolder]:
    """Every real folder directly under `outputs` named like a run id, newest first (symlinks are skipped)."""
    root = Path(outputs)
    if not root.is_dir():
        return []
    runs = []
    for entry in root.iterdir():
        if not RUN_ID.match(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        summary = _summary(entry)
        runs.append(RunFolder(entry, entry.name, _started(summary, entry.name, entry), summary, disk_usage(entry)))
    return sorted(runs, key=lambda r: (r.started_at, r.run_id), reverse=True)


# --- what must stay ---------------------------------------------------------------------------------------
def _time(value: Any) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def recent_operations(folder: Path, now: dt.datetime, days: int = APPLY_WINDOW_DAYS) -> str:
    """Why the run's journals forbid pruning it ('' when they do not): an operation applied within `days`, a
    request whose outcome never came (it may have been applied), or a journal that cannot be read."""
    fixes = fixes_folder(folder)
    if fixes.is_symlink() or not fixes.is_dir():
        return ""
    since = now - dt.timedelta(days=days)
    for path in sorted(fixes.glob("*/journal.jsonl")):
        try:
            journal = load_journal(path, strict=False)
        except ConfigError:
            return f"{path.relative_to(folder)} cannot be read (it may record applied operations)"
        if journal.damaged:
            return f"{path.relative_to(folder)} has damaged lines (they may record applied operations)"
        undecided = open_intents(journal.lines)
        for line in [*(x for x in journal.lines if x.get("status") == "applied"), *undecided.values()]:
            when = _time(line.get("time"))
            if when is None or when >= since:
                shown = f"on {when:%Y-%m-%d}" if when else "at an unreadable time"
                return (f"operations applied {shown}, within {days} days (fixes/{path.parent.name}: its journal is "
                        "the only source for a rollback)")
    return ""


def _protected(runs: list[RunFolder]) -> dict[Path, str]:
    """The latest successful run, and the latest successful real run (so newer demo runs never leave a tenant's
    schedule without the run its next "new since last run" compares with). Only these two: protecting the
    latest run of every tenant ever audited would keep an abandoned tenant's personal data for good."""
    kept: dict[Path, str] = {}
    successful = [r for r in runs if r.successful]  # newest first
    if successful:
        kept[successful[0].folder] = "the latest successful run"
    real = next((r for r in successful if r.kind == "real"), None)
    if real is not None:
        kept.setdefault(real.folder, "the latest successful real run (the next scheduled run compares with it)")
    return kept


@dataclass(frozen=True)
class Decision:
    run: RunFolder
    delete: bool
    reason: str


def plan_prune(runs: list[RunFolder], *, keep: int | None = None, older_than: float | None = None,
               now: dt.datetime | None = None) -> list[Decision]:
    """What `runs --prune` would do with each run folder (newest first), and why.

    Exactly one of `keep` (keep the N newest) and `older_than` (delete runs started more than DAYS ago) is
    given; a folder without a summary.json, the protected runs, a locked run and one with recent operations
    stay whatever the rule says."""
    if (keep is None) == (older_than is None):
        raise ConfigError("--prune: give exactly one of --keep N or --older-than DAYS")
    if keep is not None and keep < 1:
        raise ConfigError(f"--keep {keep}: must be at least 1")
    if older_than is not None and older_than < 0:
        raise ConfigError(f"--older-than {older_than:g}: must not be negative")
    moment = now or dt.datetime.now(dt.UTC)
    ordered = sorted(runs, key=lambda r: (r.started_at, r.run_id), reverse=True)
    protected = _protected(ordered)
    decisions = []
    for index, run in enumerate(ordered):
        decisions.append(_decide(run, index, protected, keep, older_than, moment))
    return decisions


def _decide(run: RunFolder, index: int, protected: dict[Path, str], keep: int | None, older_than: float | None,
            now: dt.datetime) -> Decision:
    if keep is not None and index < keep:
        return Decision(run, False, f"among the {keep} newest")
    if older_than is not None and run.started_at > now - dt.timedelta(days=older_than):
        return Decision(run, False, f"newer than {older_than:g} days")
    if run.summary is None:
        return Decision(run, False, "no readable summary.json (not a finished run): never pruned")
    if run.folder in protected:
        return Decision(run, False, protected[run.folder])
    if (fixes_folder(run.folder) / LOCK_NAME).exists():
        return Decision(run, False, f"a fix-up holds its lock (fixes/{LOCK_NAME})")
    recent = recent_operations(run.folder, now)
    if recent:
        return Decision(run, False, recent)
    rule = f"beyond the {keep} newest" if keep is not None else f"older than {older_than:g} days"
    return Decision(run, True, rule)


def prune(decisions: Iterable[Decision], apply: bool = False) -> tuple[list[Path], list[str]]:
    """Delete the folders the decisions mark (only with `apply`); returns (deleted, problems). Each folder is
    checked again just before: still a real directory (not a symlink) with its summary.json."""
    deleted: list[Path] = []
    problems: list[str] = []
    if not apply:
        return deleted, problems
    for decision in decisions:
        folder = decision.run.folder
        if not decision.delete:
            continue
        if folder.is_symlink() or not folder.is_dir() or not (folder / "summary.json").is_file():
            problems.append(f"{folder}: changed since it was listed; left alone")
            continue
        if (fixes_folder(folder) / LOCK_NAME).exists():
            problems.append(f"{folder}: a fix-up took its lock meanwhile; left alone")
            continue
        try:
            shutil.rmtree(folder)  # removes symlinks inside as links: never what they point to
        except OSError as exc:
            problems.append(f"{folder}: could not delete: {exc.strerror or exc}")
            continue
        deleted.append(folder)
    return deleted, problems
