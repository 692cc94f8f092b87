"""Run folders (DESIGN.md "Run folder"): `$RCAUDIT_OUTPUTS/<run_id>/`, or `--out DIR` when given, and the
completed runs found under an outputs folder."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rcaudit.model.errors import ConfigError


def new_run_id(now: dt.datetime | None = None) -> str:
    """A UTC timestamp plus a short random suffix, e.g. `20261126T195400Z-3f2a`."""
    moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def create_run_folder(outputs: Path, out: str | Path | None = None) -> Path:
    """Create the run folder; `out` names it directly and is refused when it exists and is not empty."""
    if out is not None:
        folder = Path(out).expanduser().resolve()
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ConfigError(f"--out {folder}: exists and is not an empty folder; choose a new one")
        _make(folder, f"--out {folder}", exist_ok=True)
        return folder
    folder = outputs / new_run_id()
    _make(folder, f"RCAUDIT_OUTPUTS={outputs}", exist_ok=False)
    return folder


def _make(folder: Path, what: str, exist_ok: bool) -> None:
    """mkdir -p, or a ConfigError naming the setting (a parent that is a file, no permission, a full disk)."""
    try:
        folder.mkdir(parents=True, exist_ok=exist_ok)
    except OSError as exc:
        raise ConfigError(f"{what}: cannot create the run folder {folder}: {exc.strerror or exc}") from None


@dataclass(frozen=True)
class Run:
    folder: Path
    run_id: str
    started_at: pd.Timestamp
    summary: dict


def list_runs(outputs: Path) -> list[Run]:
    """Completed audit runs under `outputs` (a summary.json and a findings.csv), oldest first."""
    runs = []
    for summary_file in Path(outputs).glob("*/summary.json"):
        if not (summary_file.parent / "findings.csv").is_file():
            continue
        try:
            summary = json.loads(summary_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a run that died while writing: not comparable
        started = pd.Timestamp(summary.get("started_at") or summary_file.stat().st_mtime, tz="UTC")
        runs.append(Run(summary_file.parent, str(summary.get("run_id", summary_file.parent.name)), started, summary))
    return sorted(runs, key=lambda r: (r.started_at, r.run_id))
