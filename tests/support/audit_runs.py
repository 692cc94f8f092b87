"""`rcaudit audit` pointed at a tiny fixture notebook (tests/support/notebooks) instead of the audit notebook:
the exit-code and parameter tests run the real CLI path without the real audit."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rcaudit import runner
from rcaudit.cli import main

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
PASSES, FAILS, BAD_PARAMETER, DIES = (NOTEBOOKS / f"{n}.ipynb" for n in ("passes", "fails", "bad_parameter", "dies"))
# What `rcaudit audit` needs to start without --snapshot; the fixture notebooks never connect.
SETTINGS = {"RCAUDIT_TENANT_ID": "contoso", "RCAUDIT_CLIENT_ID": "client", "RCAUDIT_APP_ID": "app",
            "RCAUDIT_CLIENT_SECRET": "fixture-secret-value", "RCAUDIT_SCIM_TOKEN": "fixture-scim-token"}


@dataclass
class Run:
    """What one `rcaudit audit` left: its exit code, its stderr and its run folder."""

    code: int
    err: str
    folder: Path


def audit_with(notebook: Path, folder: Path, *args: str) -> Run:
    """`rcaudit audit --out folder ARGS` with `notebook` in place of the audit notebook (runner.AUDIT_NOTEBOOK,
    which `audit` and `check_parameters` read when called)."""
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setattr(runner, "AUDIT_NOTEBOOK", notebook)
        for name, value in SETTINGS.items():
            mp.setenv(name, value)
        code = main(["audit", "--out", str(folder), *args])
    return Run(code, err.getvalue(), folder)


def use_sandbox_env(monkeypatch: pytest.MonkeyPatch, sandbox: Any, outputs: Path | None = None) -> None:
    """The RCAUDIT_* settings of `sandbox` in the environment, as `rcaudit audit`/`fix` read them; run folders
    under `outputs` when given."""
    for name, value in sandbox.env().items():
        monkeypatch.setenv(name, value)
    if outputs is not None:
        monkeypatch.setenv("RCAUDIT_OUTPUTS", str(outputs))
