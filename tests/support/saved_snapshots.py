"""A snapshot read over HTTPS from the sandbox and saved as a run saves it, and copies of it with one part
edited: the tests that a saved snapshot of the wrong shape is refused naming the part."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rcaudit.connect.config import Settings
from rcaudit.connect.fetch import fetch_snapshot
from rcaudit.sandbox import Sandbox, generate


def fetch_and_save(folder: Path) -> Path:
    """The snapshot of a generated 80-user tenant, fetched from a sandbox and saved under `folder`."""
    with Sandbox(generate(users=80, seed=5).tenant) as sandbox:
        snapshot = fetch_snapshot(Settings.from_env(sandbox.env()), source="sandbox", progress=False,
                                  interactive=False)
    return snapshot.save(folder / "snapshot")


def edited_copy(saved: Path, tmp_path: Path, part: str, edit: Callable[[Any], Any]) -> Path:
    """A copy of the saved snapshot under `tmp_path` whose `part` (e.g. scim_users) is `edit(part)`."""
    copy = tmp_path / "snapshot"
    copy.mkdir()
    for path in saved.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    file = copy / f"{part}.json.gz"
    with gzip.open(file, "rt", encoding="utf-8") as handle:
        value = json.load(handle)
    with gzip.open(file, "wt", encoding="utf-8") as handle:
        json.dump(edit(value), handle)
    return copy
