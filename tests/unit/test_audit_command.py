"""`rcaudit audit` with settings missing: exit 2 naming them, before any run folder (the end-to-end audits are
in tests/notebooks/test_audit_command.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rcaudit.cli import main


def test_missing_settings_exit_2_naming_them(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("RCAUDIT_TENANT_ID", "contoso")
    assert main(["audit", "--out", str(tmp_path / "never")]) == 2
    err = capsys.readouterr().err
    assert "RCAUDIT_CLIENT_ID" in err and "RCAUDIT_SCIM_TOKEN" in err and "sandbox" not in err.lower()
    assert not (tmp_path / "never").exists()
