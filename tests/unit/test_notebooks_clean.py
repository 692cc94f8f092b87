"""Notebooks are committed without outputs (issue 14, point 7: Lab's autosave once wrote 73 e-mail addresses into
the git-tracked fixup.ipynb): every tracked notebook has no outputs, no execution counts, no widget state and
the python3 kernelspec. `make` also installs nbstripout as a git filter, so a commit strips them anyway."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest

CHECKOUT = Path(__file__).resolve().parents[2]


def _tracked_notebooks() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=CHECKOUT, capture_output=True, text=True,
                                check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist): every notebook there
        return sorted(CHECKOUT.glob("notebooks/*.ipynb"))
    return [CHECKOUT / name for name in listed if not name.startswith("tests/fixtures/")]


def problems(nb: Any) -> list[str]:
    """What makes a notebook unfit to commit."""
    found = []
    spec = nb.metadata.get("kernelspec") or {}
    if spec.get("name") != "python3":
        found.append(f"kernelspec {spec.get('name')!r}, not python3")
    if "widgets" in nb.metadata:
        found.append("widget state in the metadata")
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            found.append(f"cell {index} has {len(cell.outputs)} output(s)")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index} has execution count {cell.execution_count}")
    return found


@pytest.mark.parametrize("notebook", _tracked_notebooks(), ids=lambda p: p.name)
def test_committed_notebooks_hold_no_outputs(notebook: Path) -> None:
    assert problems(nbformat.read(str(notebook), as_version=4)) == []


def test_the_check_catches_outputs_counts_and_a_foreign_kernel() -> None:
    nb = nbformat.read(str(CHECKOUT / "notebooks" / "fixup.ipynb"), as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="alice@contoso.com\n")]
    code.execution_count = 3
    nb.metadata["kernelspec"] = {"name": "python3-custom", "display_name": "x", "language": "python"}
    assert len(problems(nb)) == 3
