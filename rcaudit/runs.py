"""Run folders (DESIGN.md "Run folder"): `$RCAUDIT_OUTPUTS/<run_id>/`, or `--out DIR` when given."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

from .errors import ConfigError


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
