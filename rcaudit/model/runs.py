"""Run folders (DESIGN.md "Run folder"): `$RCAUDIT_OUTPUTS/<run_id>/`, or `--out DIR` when given, and the
completed runs found under an outputs folder."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# --- which tenant a run read, and the previous run of the same one ---------------------------------------------
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{4}$")  # what new_run_id makes: only such folders are ever pruned


def origin_key(summary: dict[str, Any], folder: Path | None = None) -> tuple[str, str, str]:
    """(source, tenant id, SCIM URL) of a run: what "the previous run of the same source" compares on.

    From summary.json `origin` (added in this edition); for older runs from the snapshot's manifest. A sandbox's
    SCIM URL is a random local port, so sandbox runs compare on source and tenant only."""
    origin = summary.get("origin")
    if not isinstance(origin, dict) and folder is not None:
        origin = _manifest_origin(folder)
    origin = origin if isinstance(origin, dict) else {}
    source = str(summary.get("source") or "")
    scim_url = str(origin.get("scim_url") or "") if source != "sandbox" else ""
    return source, str(origin.get("tenant_id") or ""), scim_url


def _manifest_origin(folder: Path) -> dict[str, str] | None:
    try:
        manifest = json.loads((folder / "snapshot" / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    identity = manifest.get("rc_identity")
    identity = identity if isinstance(identity, dict) else {}
    return {"tenant_id": str(manifest.get("tenant_id") or ""), "scim_url": str(identity.get("scim_url") or "")}


def folder_key(folder: Path) -> tuple[str, str, str]:
    """`origin_key` of a run folder still being written, from its snapshot's manifest (saved at read time)."""
    try:
        manifest = json.loads((folder / "snapshot" / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    source = str(manifest.get("source") or "") if isinstance(manifest, dict) else ""
    return origin_key({"source": source}, folder)


def earlier_runs(roots: Iterable[Path], folder: Path, key: tuple[str, str, str]) -> list[Run]:
    """The completed runs, other than `folder`, of the same source, tenant and SCIM URL under any of `roots`
    (the outputs folder, and the parent of an `--out` folder), oldest first."""
    here = folder.resolve()
    seen: dict[Path, Run] = {}
    for root in roots:
        for run in list_runs(root):
            where = run.folder.resolve()
            if where != here and where not in seen and origin_key(run.summary, run.folder) == key:
                seen[where] = run
    return sorted(seen.values(), key=lambda r: (r.started_at, r.run_id))


def runs_of_latest_origin(runs: list[Run]) -> list[Run]:
    """Of `runs` (oldest first), those of the newest run's source, tenant and SCIM URL: a history never mixes a
    demo run or another tenant into the drift it charts."""
    if not runs:
        return []
    key = origin_key(runs[-1].summary, runs[-1].folder)
    return [run for run in runs if origin_key(run.summary, run.folder) == key]


def previous_run(roots: Iterable[Path], folder: Path, key: tuple[str, str, str]) -> Run | None:
    """The latest of `earlier_runs`; None when there is none."""
    earlier = earlier_runs(roots, folder, key)
    return earlier[-1] if earlier else None


FAIL_LEVELS = ("none", "low", "medium", "high")


def verdict(by_severity: dict[str, Any], fail_on: str = "high") -> str:
    """`fail` (an unwaived finding at or above `fail_on`), `drift` (findings, none that high) or `clean`.

    `by_severity` counts unwaived findings (summary.json `findings.by_severity`)."""
    counts = {level: int(by_severity.get(level, 0) or 0) for level in ("high", "medium", "low")}
    if fail_on != "none" and fail_on in FAIL_LEVELS:
        gate = ("high", "medium", "low")[: ("high", "medium", "low").index(fail_on) + 1]
        if any(counts[level] for level in gate):
            return "fail"
    return "drift" if any(counts.values()) else "clean"


RUN_LOG = "run.log"


def log_to_run(folder: Path, message: str) -> None:
    """Append one time-stamped line to the run folder's run.log (what happened after the notebook: notifications,
    pruning). Never a secret: callers pass only labels and origins."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    with (folder / RUN_LOG).open("a", encoding="utf-8") as handle:
        handle.write(f"{stamp} {' '.join(message.split())}\n")
