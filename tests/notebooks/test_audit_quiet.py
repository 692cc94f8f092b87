"""A successful `rcaudit audit` is quiet (issue 14, point 6): exactly one summary line on stdout, nothing on
stderr; papermill's cell log is in the run folder's run.log (with the fetch's one line per phase), and `-v` shows
it on stderr too. A real `python -m rcaudit audit` process against the sandbox over HTTPS."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rcaudit.sandbox import Sandbox, generate

pytestmark = pytest.mark.slow
CHECKOUT = Path(__file__).resolve().parents[2]


def _audit(sandbox: Sandbox, outputs: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCAUDIT_")}
    env.update(sandbox.env(), RCAUDIT_OUTPUTS=str(outputs), PYTHONPATH=str(CHECKOUT))
    return subprocess.run([sys.executable, "-m", "rcaudit", "audit", "--fail-on", "none", *args], env=env,
                          capture_output=True, text=True, timeout=600, check=False, cwd=str(CHECKOUT))


def test_a_successful_audit_prints_one_line_and_logs_the_cells_to_run_log(tmp_path: Path) -> None:
    with Sandbox(generate(users=150, seed=5).tenant) as sandbox:
        quiet = _audit(sandbox, tmp_path / "outputs", "--out", str(tmp_path / "quiet"))
        verbose = _audit(sandbox, tmp_path / "outputs", "--out", str(tmp_path / "verbose"), "-v")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert quiet.stderr == ""
    lines = quiet.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("rcaudit: ") and str(tmp_path / "quiet" / "report.html") in lines[0]
    log = (tmp_path / "quiet" / "run.log").read_text(encoding="utf-8")
    assert "Executing Cell 1" in log and "Ending Cell" in log  # papermill's own log
    assert "read RingCentral users: " in log and "read Entra users: " in log  # the fetch, one line per phase
    assert "<IPython.core.display" not in quiet.stdout + quiet.stderr
    assert verbose.returncode == 0 and "Executing Cell 1" in verbose.stderr and len(verbose.stdout.splitlines()) == 1
