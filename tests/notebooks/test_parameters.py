"""Notebook parameters of `rcaudit audit` / `demo` (issue 10 point 8): file parameters resolve from the
caller's directory and reach the executed notebook without a secret. The refusals before papermill writes
anything (unknown names, wrong types, out-of-range values, credentials) are in
tests/unit/test_audit_parameters_refused.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rcaudit.cli import main
from rcaudit.sandbox import Sandbox
from tests.support.audit_runs import use_sandbox_env
from tests.support.tenants import with_credentials

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it

SCIM_TOKEN = "Tok3n-Param-Distinctive-4d9e1a"
SECRET = "S3cret-Param-Distinctive-77c2b0"


@pytest.fixture(scope="module")
def served() -> dict:
    return with_credentials(150, 21, "0b9c1f6e-3a51-4d7e-9b0a-5e2f7c8d1a34", SECRET, SCIM_TOKEN)


@pytest.fixture
def environment(served: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with Sandbox(served) as sandbox:
        use_sandbox_env(monkeypatch, sandbox, tmp_path / "outputs")
        yield sandbox


def test_relative_waiver_and_mapping_files_resolve_from_the_callers_directory(
        environment: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's own `-r waiver_file waivers.yaml`: the kernel runs in the run folder, the file is here."""
    first = tmp_path / "first"
    assert main(["audit", "--out", str(first), "--fail-on", "none"]) == 0
    findings = pd.read_csv(first / "findings.csv", dtype=str, keep_default_na=False)
    target = findings[findings["scim_id"] != ""].iloc[0]
    here = tmp_path / "caller"
    here.mkdir()
    (here / "waivers.yaml").write_text(
        f"waivers:\n  - account: \"{target['scim_id']}\"\n    kind: \"*\"\n    reason: known\n"
        "    expires: 2099-12-31\n")
    (here / "mapping.yaml").write_text("attributes:\n  title: null\n")
    monkeypatch.chdir(here)
    again = tmp_path / "again"
    code = main(["audit", "--snapshot", str(first), "--out", str(again), "--fail-on", "none",
                 "-r", "waiver_file", "waivers.yaml", "-r", "mapping_file", "mapping.yaml",
                 "-p", "grace_minutes", "30"])
    assert code == 0
    after = pd.read_csv(again / "findings.csv", dtype=str, keep_default_na=False)
    assert (after.loc[after["scim_id"] == target["scim_id"], "waived"] == "True").all()
    assert not (after["attribute"] == "title").any()
    executed = json.loads((again / "audit.ipynb").read_text())
    injected = "".join(next(c["source"] for c in executed["cells"] if "injected-parameters" in c["metadata"].get(
        "tags", [])))
    assert str(here / "waivers.yaml") in injected and "grace_minutes = 30" in injected
    assert SCIM_TOKEN not in injected and SECRET not in injected
