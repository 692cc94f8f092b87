"""Notebook parameters of `rcaudit audit` / `demo`: checked against the notebook's parameters cell before
papermill writes anything (issue 10 point 8): unknown names, wrong types, out-of-range values and anything
that looks like a credential are exit 2; file parameters resolve from the caller's directory."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from rcaudit.cli import main
from rcaudit.sandbox import Sandbox, generate

pytestmark = pytest.mark.slow  # runs the audit notebook (papermill) or a browser: make test-fast skips it

SCIM_TOKEN = "Tok3n-Param-Distinctive-4d9e1a"
SECRET = "S3cret-Param-Distinctive-77c2b0"


@pytest.fixture(scope="module")
def served() -> dict:
    tenant = generate(users=150, seed=21).tenant
    tenant["sandbox"]["clients"] = [{"clientId": "0b9c1f6e-3a51-4d7e-9b0a-5e2f7c8d1a34", "secret": SECRET,
                                     "publicClient": True}]
    tenant["sandbox"]["scimToken"] = SCIM_TOKEN
    return tenant


@pytest.fixture
def environment(served: dict, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    with Sandbox(served) as sandbox:
        for name, value in sandbox.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RCAUDIT_OUTPUTS", str(tmp_path / "outputs"))
        yield sandbox


@pytest.mark.parametrize(("args", "said"), [
    (["-p", "no_such_param", "1"], "no_such_param: unknown; valid parameters: "),
    (["-p", "grace_minutes", "abc"], "grace_minutes: 'abc' is not an integer"),
    (["-p", "grace_minutes", "-100"], "grace_minutes: -100 is below the minimum 0"),
    (["-p", "top_rows", "0"], "top_rows: 0 is below the minimum 1"),
    (["-r", "scope_mode", "everyone"], "scope_mode: 'everyone' is not one of"),
    (["-r", "client_secret", "whatever"], "client_secret: looks like a credential"),
    (["-r", "RCAUDIT_SCIM_TOKEN", "whatever"], "RCAUDIT_SCIM_TOKEN: looks like a credential"),
    (["-r", "group_by", SCIM_TOKEN], "group_by: its value is a configured secret"),
    (["-p", "sandbox_tenant", SECRET], "sandbox_tenant: its value is a configured secret"),
    (["-r", "waiver_file", "no-such-waivers.yaml"], "waiver_file: no-such-waivers.yaml is not a file"),
    (["-r", "source", "sandbox"], "-p/-r source: set it with its own option"),
])
def test_bad_parameters_exit_2_before_anything_is_written(environment: Sandbox, tmp_path: Path, args: list[str],
                                                         said: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    assert main(["audit", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert said in err
    assert SCIM_TOKEN not in err and SECRET not in err
    assert not out.exists() and not (tmp_path / "outputs").exists()  # papermill never ran, no run folder
    if "valid parameters" in said:
        assert "grace_minutes (int)" in err and "waiver_file (str)" in err and "client_secret" not in err


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
