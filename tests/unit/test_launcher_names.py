"""Whether a kernel was started by a batch runner is read from its launcher's name, never from a path in its
command line: a JupyterLab started in a folder whose name contains `pytest` or `papermill` is a person's Lab
(its fetch draws progress bars), and papermill, nbclient and pytest are batch runners wherever they run."""

from __future__ import annotations

import pytest

from rcaudit.connect.auth import BATCH_RUNNERS, launcher_names


@pytest.mark.parametrize(("argv", "batch"), [
    (["/usr/bin/python3", "-m", "jupyterlab", "--ServerApp.root_dir=/tmp/pytest-of-root/p0/project"], False),
    (["/opt/venv/bin/jupyter-lab", "--notebook-dir=/home/ana/papermill-notes"], False),
    (["/opt/venv/bin/python", "-m", "papermill", "audit.ipynb", "out.ipynb"], True),
    (["/opt/venv/bin/papermill", "audit.ipynb", "out.ipynb"], True),
    (["/opt/venv/bin/python", "-m", "pytest", "--nbval-lax", "notebooks"], True),
    (["python3.11", "-u", "/opt/venv/bin/pytest", "-q"], True),
    (["/opt/venv/bin/python", "/opt/venv/bin/jupyter-nbconvert", "--execute", "x.ipynb"], True),
    ([], False),
])
def test_batch_runners_are_known_by_name_not_by_path(argv: list[str], batch: bool) -> None:
    assert bool(launcher_names("\0".join(argv) + "\0") & BATCH_RUNNERS) is batch
