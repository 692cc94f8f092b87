"""Breaks a hostile tester found after issue 10 landed, the ones refused before any request: a retry budget
that is not a finite number, a URL carrying a user and password, a malformed mapping file (checked whole), an
out folder under a file and sandbox-only parameters given to `rcaudit audit` (exit 2), and Graph ids kept one
path segment. The ones reproduced over HTTPS are in tests/integration/test_hardening.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcaudit.audit.overrides import load_mapping_overrides
from rcaudit.cli import main
from rcaudit.connect.config import Settings
from rcaudit.model.errors import ConfigError, MappingError


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_retry_budget_that_is_not_a_finite_number_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="RCAUDIT_RETRY_MAX_SECONDS"):
        Settings.from_env({"RCAUDIT_RETRY_MAX_SECONDS": value})


def test_a_url_with_a_user_and_password_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"RCAUDIT_SCIM_URL.*user name or password"):
        Settings.from_env({"RCAUDIT_SCIM_URL": "https://user:pw@platform.ringcentral.com/scim/v2"})


# --- bad input: named, exit 2 ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ('replace: "false"\nattributes:\n  title: "[jobTitle]"\n', "replace: expected true or false"),
    ("attributes:\n  title: {expression: \"[jobTitle]\", matching_priority: abc}\n", "matching_priority"),
    ('attributes:\n  title: "[manager]"\n', "only the manager target reads it"),
])
def test_a_mapping_file_is_checked_whole_before_any_request(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError, match=message):
        load_mapping_overrides(path)


def test_an_out_folder_under_a_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    assert main(["demo", "--users", "60", "--out", str(tmp_path / "afile" / "sub")]) == 2
    assert "cannot create the run folder" in capsys.readouterr().err


def test_sandbox_only_parameters_are_refused_by_rcaudit_audit(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "-r", "sandbox_tenant", str(tmp_path / "t.json"), "--out", str(tmp_path / "r")]) == 2
    assert "only `rcaudit demo` serves a sandbox" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_ids_from_graph_stay_one_path_segment() -> None:
    """A group or service-principal id is service data: it can never add a path, a query or a fragment."""
    from rcaudit.connect.graph import assignments_path, members_path

    assert members_path("g/../users?$select=x#y") == "/groups/g%2F..%2Fusers%3F%24select%3Dx%23y/members"
    assert assignments_path("sp/x") == "/servicePrincipals/sp%2Fx/appRoleAssignedTo"
