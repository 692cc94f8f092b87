"""Parameters `rcaudit audit` refuses before anything runs (issue 10 point 8): check_parameters reads the
notebook's parameters cell (the audit notebook's, or a fixture notebook's from tests/support/notebooks) without
starting a kernel, so unknown names, wrong types, out-of-range values and anything that looks like a credential
are exit 2 with no run folder and no secret in the message."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcaudit.cli import main
from tests.support.audit_runs import BAD_PARAMETER, PASSES, SETTINGS, audit_with

SCIM_TOKEN = "Tok3n-Param-Distinctive-4d9e1a"
SECRET = "S3cret-Param-Distinctive-77c2b0"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Configured settings whose secrets are distinctive values (refused as parameter values, never echoed)."""
    for name, value in {**SETTINGS, "RCAUDIT_CLIENT_SECRET": SECRET, "RCAUDIT_SCIM_TOKEN": SCIM_TOKEN}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("RCAUDIT_OUTPUTS", str(tmp_path / "outputs"))


@pytest.mark.parametrize(("args", "said"), [
    (["-p", "top_rows", "many"], "notebook parameter top_rows: 'many' is not an integer"),
    (["-p", "top_rows", "0"], "notebook parameter top_rows: 0 is below the minimum 1"),
    (["-p", "no_such", "1"], "notebook parameter no_such: unknown; valid parameters: severities (str)"),
    (["-p", "api_token", "x"], "looks like a credential"),
])
def test_a_parameter_refused_before_the_run_exits_2_and_writes_nothing(args: list[str], said: str,
                                                                        tmp_path: Path) -> None:
    """check_parameters reads the fixture's parameters cell (no kernel): nothing is run, no folder written."""
    run = audit_with(PASSES, tmp_path / "never", *args)
    assert run.code == 2 and said in run.err
    assert not run.folder.exists()


def test_an_empty_group_by_is_refused_by_the_runner_before_the_kernel(tmp_path: Path) -> None:
    run = audit_with(BAD_PARAMETER, tmp_path / "never", "-p", "group_by", "")
    assert run.code == 2 and "notebook parameter group_by: must name an Entra user property" in run.err
    assert not run.folder.exists()


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
def test_bad_parameters_exit_2_before_anything_is_written(environment: None, tmp_path: Path, args: list[str],
                                                         said: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never"
    assert main(["audit", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert said in err
    assert SCIM_TOKEN not in err and SECRET not in err
    assert not out.exists() and not (tmp_path / "outputs").exists()  # papermill never ran, no run folder
    if "valid parameters" in said:
        assert "grace_minutes (int)" in err and "waiver_file (str)" in err and "client_secret" not in err
